"""Person timelines: contract tables as dense arrays for fast, leakage-free look-ups.

Every person gets a position ``0..n-1`` (persons sorted by ``rinpersoon``); every dated table
becomes arrays of person positions and day numbers (days since 1970-01-01). Indicator families
ask questions "as known strictly before the reference date" with boolean masks and
:func:`numpy.bincount`, so one reference date costs a few vectorised passes over each table and
no per-person Python. The same questions port to group-by/join code (Dask) one to one.

Convention: an event ON the reference date counts as after it (strictly before = known). An
open interval end (``date_end`` empty) is stored as :data:`NO_END`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from aanwas.common.errors import InputError
from features.contract import CARE_TYPES, DEBT_TYPES, OFFENCES, SCHOOL_LEVELS, SEX

#: Day number of an open interval end (still ongoing).
NO_END = np.iinfo(np.int64).max
#: Day number meaning "no such event".
NO_DAY = np.iinfo(np.int64).min

#: Columns the builders read, per contract table (audit-only columns are deliberately absent).
USED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "persons": ("rinpersoon", "birth_date", "sex"),
    "parent_child": ("rinpersoon", "rinpersoon_parent"),
    "addresses": ("rinpersoon", "address_id", "buurt_code", "date_start", "date_end"),
    "enrolments": ("rinpersoon", "school_id", "level", "date_start", "date_end"),
    "vsv": ("rinpersoon", "vsv_date"),
    "halt": ("rinpersoon", "referral_date"),
    "debt": ("rinpersoon", "debt_type", "date_start", "date_end"),
    "suspects": ("rinpersoon", "registration_date", "offence"),
    "youth_care": ("rinpersoon", "care_type", "date_start", "date_end"),
    "deregistrations": ("rinpersoon", "deregistration_date"),
}
#: Tables of :data:`USED_COLUMNS` a delivery may lack (then: no such events).
OPTIONAL_TABLES = ("deregistrations",)


def to_days(values: pd.Series | np.ndarray, *, missing: int = NO_DAY) -> np.ndarray:
    """Dates -> int64 day numbers since 1970-01-01; missing dates become ``missing``."""
    arr = pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]")
    out = arr.astype(np.int64)
    nat = np.isnat(arr)
    if nat.any():
        out[nat] = missing
    return out


def day_of(date: pd.Timestamp) -> int:
    """One date -> its day number since 1970-01-01."""
    return int(pd.Timestamp(date).to_datetime64().astype("datetime64[D]").astype(np.int64))


def codes_of(values: pd.Series, categories: Sequence[object], table: str, column: str) -> np.ndarray:
    """Category values -> int8 positions in ``categories``; unknown values are an InputError."""
    codes = np.asarray(pd.Categorical(values, categories=list(categories)).codes)
    bad = codes < 0
    if bad.any():
        raise InputError(table, column, int(bad.sum()), f"value not one of {list(categories)}")
    return codes.astype(np.int8)


@dataclasses.dataclass(frozen=True)
class RefDate:
    """A reference date (peildatum) with month arithmetic in day numbers."""

    date: pd.Timestamp

    @property
    def day(self) -> int:
        return day_of(self.date)

    def months_before(self, months: int) -> int:
        """Day number of the date ``months`` calendar months before the reference date."""
        return day_of(self.date - pd.DateOffset(months=months))

    def months_after(self, months: int) -> int:
        """Day number of the date ``months`` calendar months after the reference date."""
        return day_of(self.date + pd.DateOffset(months=months))


@dataclasses.dataclass(frozen=True)
class PersonIndex:
    """Sorted unique pseudonyms; a person's position is its index here."""

    ids: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    @functools.cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.ids)

    def locate(self, ids: np.ndarray, table: str, column: str) -> np.ndarray:
        """Positions of ``ids``; pseudonyms missing from ``persons`` are an InputError."""
        pos = self._index.get_indexer(np.asarray(ids, dtype=np.int64))
        bad = pos < 0
        if bad.any():
            raise InputError(table, column, int(bad.sum()), "pseudonym not in persons")
        return pos.astype(np.int64)


def _persons_where(person: np.ndarray, m: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return person[m if rows is None else m & rows]


@dataclasses.dataclass(frozen=True)
class Events:
    """Dated events of one table: person position and day number per row.

    The counting methods take an optional row mask ``rows`` (e.g. one offence type).
    """

    person: np.ndarray
    day: np.ndarray

    def count_between(self, n: int, start_day: int, end_day: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per person: number of events with ``start_day <= day < end_day`` (int32)."""
        m = (self.day >= start_day) & (self.day < end_day)
        return np.bincount(_persons_where(self.person, m, rows), minlength=n).astype(np.int32)

    def count_before(self, n: int, end_day: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per person: number of events strictly before ``end_day``."""
        m = self.day < end_day
        return np.bincount(_persons_where(self.person, m, rows), minlength=n).astype(np.int32)

    def last_before(self, n: int, end_day: int) -> np.ndarray:
        """Per person: day of the latest event strictly before ``end_day`` (NO_DAY if none)."""
        out = np.full(n, NO_DAY, np.int64)
        m = self.day < end_day
        np.maximum.at(out, self.person[m], self.day[m])
        return out


@dataclasses.dataclass(frozen=True)
class Episodes:
    """Intervals of one table, rows sorted by person and start: person, start, end (NO_END if open).

    ``rank`` is the episode's position among the person's episodes (0 = first) and ``prev``
    the row of the person's previous episode (-1 for the first); both depend only on earlier
    episodes, so they never leak later information. The methods take an optional row mask.
    """

    person: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rank: np.ndarray
    prev: np.ndarray

    @staticmethod
    def order(person: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Row order by person, then start (stable)."""
        if len(start) == 0:
            return np.zeros(0, np.int64)
        lo, span = int(start.min()), int(start.max()) - int(start.min())
        if span < 2**24 and (int(person.max()) if len(person) else 0) < 2**38:
            return np.argsort((person.astype(np.int64) << 24) | (start - lo), kind="stable")  # one int64 key: fast
        return np.lexsort((start, person))

    @classmethod
    def build(cls, person: np.ndarray, start: np.ndarray, end: np.ndarray) -> Episodes:
        """From arrays already sorted by :meth:`order`."""
        k = len(person)
        first = np.ones(k, bool)
        first[1:] = person[1:] != person[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(k), 0)) if k else np.zeros(0, np.int64)
        rank = (np.arange(k) - group_start).astype(np.int32)
        prev = np.where(first, -1, np.arange(k) - 1).astype(np.int64)
        return cls(person, start, end, rank, prev)

    def any_started_before(self, n: int, day: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per person: has an episode that started strictly before ``day``."""
        return np.bincount(_persons_where(self.person, self.start < day, rows), minlength=n) > 0

    def any_active(self, n: int, window_start: int, ref_day: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per person: has an episode known to be active at some time in [window_start, ref_day).

        Started strictly before ``ref_day`` and not ended before ``window_start``.
        """
        m = (self.start < ref_day) & (self.end >= window_start)
        return np.bincount(_persons_where(self.person, m, rows), minlength=n) > 0

    def count_started_between(self, n: int, start_day: int, end_day: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per person: number of episodes starting in [start_day, end_day) (int32)."""
        m = (self.start >= start_day) & (self.start < end_day)
        return np.bincount(_persons_where(self.person, m, rows), minlength=n).astype(np.int32)

    def covering(self, day: int) -> np.ndarray:
        """Row mask: episodes with ``start <= day < end`` (the state during ``day``)."""
        return (self.start <= day) & (day < self.end)

    def known_on(self, ref_day: int) -> np.ndarray:
        """Row mask: episodes ongoing as known on ``ref_day``: ``start < ref_day <= end``.

        The leakage rule applied to a state: a start or an end ON the reference date is an
        event on it and counts as after it, so this is the episode that covered the day before.
        """
        return self.covering(ref_day - 1)


@dataclasses.dataclass(frozen=True)
class Timeline:
    """All contract tables the builders use, as arrays keyed by person position.

    Build it once per delivery with :func:`build_timeline`; it never holds audit-only columns.
    """

    persons: PersonIndex
    birth_year: np.ndarray  # int32 per person
    birth_mmdd: np.ndarray  # int16 per person: 100 * month + day of birth
    is_male: np.ndarray  # int8 per person
    child: np.ndarray  # parent_child: child position per link
    parent: np.ndarray  # parent_child: parent position per link
    addresses: Episodes
    address_id: np.ndarray  # per address row
    buurt: np.ndarray  # per address row: position in the geography's buurt list
    enrolments: Episodes
    school_id: np.ndarray
    level: np.ndarray  # codes into SCHOOL_LEVELS
    vsv: Events
    halt: Events
    debt: Episodes
    debt_type: np.ndarray  # codes into DEBT_TYPES
    suspects: Events
    offence: np.ndarray  # codes into OFFENCES
    youth_care: Episodes
    care_type: np.ndarray  # codes into CARE_TYPES
    deregistrations: Events  # death or emigration (the reason is not needed)

    @property
    def n(self) -> int:
        return self.persons.n

    def any_parent(self, flag: np.ndarray) -> np.ndarray:
        """Per person: at least one linked parent has ``flag`` (a per-person bool array)."""
        hits = flag[self.parent]
        return np.bincount(self.child[hits], minlength=self.n) > 0


def _require(tables: Mapping[str, pd.DataFrame]) -> None:
    for name, cols in USED_COLUMNS.items():
        if name not in tables and name in OPTIONAL_TABLES:
            continue
        if name not in tables:
            raise InputError(name, None, None, "table missing from the delivery")
        missing = [c for c in cols if c not in tables[name].columns]
        if missing:
            raise InputError(name, missing[0], None, "missing column")


def _episodes(df: pd.DataFrame, persons: PersonIndex, table: str) -> tuple[Episodes, np.ndarray]:
    """Episodes of ``df`` sorted by person and start, and that row order of ``df``."""
    person = persons.locate(df["rinpersoon"].to_numpy(), table, "rinpersoon")
    start = to_days(df["date_start"])
    order = Episodes.order(person, start)
    end = to_days(df["date_end"], missing=NO_END)
    return Episodes.build(person[order], start[order], end[order]), order


def _events(df: pd.DataFrame, persons: PersonIndex, table: str, date_col: str) -> Events:
    person = persons.locate(df["rinpersoon"].to_numpy(), table, "rinpersoon")
    return Events(person, to_days(df[date_col]))


def _buurt_positions(codes: pd.Series, known: pd.Index) -> np.ndarray:
    """Buurt codes -> positions in ``known`` (-1 if unknown), via the distinct values only."""
    cat = codes if isinstance(codes.dtype, pd.CategoricalDtype) else codes.astype("category")
    pos = known.get_indexer(cat.cat.categories.astype(str))
    c = cat.cat.codes.to_numpy()
    return np.where(c >= 0, pos[np.maximum(c, 0)] if len(pos) else -1, -1)


def build_timeline(tables: Mapping[str, pd.DataFrame], buurt_codes: pd.Index) -> Timeline:
    """Turn contract-typed tables into a :class:`Timeline`.

    ``buurt_codes`` lists the known buurten; a person's buurt is stored as a position in it.

    Raises
    ------
    InputError
        If a table or column the builders need is missing, a pseudonym is not in ``persons``,
        a category value is unknown, or a buurt code is not in the geography.
    """
    _require(tables)
    p = tables["persons"]
    rin = p["rinpersoon"].to_numpy(np.int64)
    order = np.argsort(rin, kind="stable")
    ids = rin[order]
    dup = ids[1:] == ids[:-1]
    if dup.any():
        raise InputError("persons", "rinpersoon", int(dup.sum()), "duplicate key")
    persons = PersonIndex(ids)
    birth = pd.to_datetime(p["birth_date"]).to_numpy().astype("datetime64[D]")[order]
    if np.isnat(birth).any():
        raise InputError("persons", "birth_date", int(np.isnat(birth).sum()), "empty values")
    birth_year, birth_mmdd = calendar_parts(birth)
    sex = codes_of(p["sex"], SEX, "persons", "sex")[order]
    is_male = (sex == SEX.index("M")).astype(np.int8)

    pc = tables["parent_child"]
    child = persons.locate(pc["rinpersoon"].to_numpy(), "parent_child", "rinpersoon")
    parent = persons.locate(pc["rinpersoon_parent"].to_numpy(), "parent_child", "rinpersoon_parent")

    ad, en, de, yc, su = (tables[t] for t in ("addresses", "enrolments", "debt", "youth_care", "suspects"))
    addresses, ad_order = _episodes(ad, persons, "addresses")
    buurt = _buurt_positions(ad["buurt_code"], buurt_codes)
    if (buurt < 0).any():
        raise InputError("addresses", "buurt_code", int((buurt < 0).sum()), "unknown buurt code")
    enrolments, en_order = _episodes(en, persons, "enrolments")
    debt, de_order = _episodes(de, persons, "debt")
    youth_care, yc_order = _episodes(yc, persons, "youth_care")
    return Timeline(
        persons=persons,
        birth_year=birth_year,
        birth_mmdd=birth_mmdd,
        is_male=is_male,
        child=child,
        parent=parent,
        addresses=addresses,
        address_id=ad["address_id"].to_numpy(np.int64)[ad_order],
        buurt=buurt.astype(np.int32)[ad_order],
        enrolments=enrolments,
        school_id=en["school_id"].to_numpy(np.int64)[en_order],
        level=codes_of(en["level"], SCHOOL_LEVELS, "enrolments", "level")[en_order],
        vsv=_events(tables["vsv"], persons, "vsv", "vsv_date"),
        halt=_events(tables["halt"], persons, "halt", "referral_date"),
        debt=debt,
        debt_type=codes_of(de["debt_type"], DEBT_TYPES, "debt", "debt_type")[de_order],
        suspects=_events(su, persons, "suspects", "registration_date"),
        offence=codes_of(su["offence"], OFFENCES, "suspects", "offence"),
        youth_care=youth_care,
        care_type=codes_of(yc["care_type"], CARE_TYPES, "youth_care", "care_type")[yc_order],
        deregistrations=_events(
            tables.get("deregistrations", pd.DataFrame({"rinpersoon": [], "deregistration_date": []})),
            persons,
            "deregistrations",
            "deregistration_date",
        ),
    )


def calendar_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """datetime64[D] (or day numbers) -> (year int32, 100 * month + day int16)."""
    d = np.asarray(days).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = (months.astype(np.int64) // 12 + 1970).astype(np.int32)
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, (100 * month + day).astype(np.int16)


def months_since(last_day: np.ndarray, ref: RefDate, cap: int) -> np.ndarray:
    """Completed calendar months from ``last_day`` to the reference date, capped at ``cap``.

    ``NO_DAY`` (no event) gives ``cap``. Returned as float32.
    """
    out = np.full(len(last_day), cap, np.float32)
    has = np.flatnonzero(last_day != NO_DAY)
    year, mmdd = calendar_parts(last_day[has])
    r = ref.date
    full = (r.year - year) * 12 + (r.month - mmdd // 100) - ((r.day < mmdd % 100).astype(np.int32))
    out[has] = np.minimum(full, cap)
    return out
