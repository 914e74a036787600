"""The input contract: CBS-style microdata tables as typed schemas.

A delivery is a set of tables keyed by the pseudonym ``rinpersoon`` (CBS's RINPERSOON), read
from Parquet, CSV or SPSS .sav through a column mapping (``features.sources.readers``).
:func:`validate_delivery` coerces every table to the contract's dtypes and checks it; the first
problem found ends with an :class:`~aanwas.common.errors.InputError` naming table, column and the
number of offending rows. Only counts are reported, never values (a value may be a pseudonym).

The declared contract is :data:`TABLES` (one :class:`TableSpec` per table) and, derived from
it, one pandera schema per table (:func:`contract_schema`) with dtypes and value checks.
Checks that span rows or tables (interval order, duplicate keys, pseudonyms missing from
``persons``, events before birth) are vectorised pandas code in :func:`validate_table` and
:func:`validate_delivery`.

Audit-only attributes (migration background, household income group) are part of the contract
so that evaluation can audit by them; :data:`AUDIT_ONLY_COLUMNS` lists them and the feature
builders never read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Mapping
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandera.engines import pandas_engine

from aanwas.common.config import require
from aanwas.common.errors import InputError
from features.geography import Geography

Kind = Literal["id", "date", "category", "area", "int"]
DATE_DTYPE = "datetime64[s]"
ID_DTYPE = "int64"

SEX = ("M", "V")
MIGRATION_GROUPS = ("nederland", "europa", "buiten_europa")
SCHOOL_LEVELS = ("po", "so", "vo", "vso", "mbo", "hbo", "wo")
HALT_CATEGORIES = ("vernieling", "diefstal", "vuurwerk", "overlast", "overig")
DEBT_TYPES = ("wsnp", "minnelijk")
OFFENCES = ("opiumwet", "geweld", "vermogen", "vernieling", "overig")
CARE_TYPES = ("jeugdhulp", "jeugdbescherming", "jeugdreclassering")
#: Why a person left the population register: death (overlijden) or emigration (emigratie).
DEREGISTRATION_REASONS = ("overlijden", "emigratie")
INCOME_GROUPS = (1, 2, 3, 4, 5)
#: Age bands an intervention may target (equal to ``features.config.AGE_BANDS``; a test keeps
#: them equal, the contract cannot import the feature config).
INTERVENTION_AGE_BANDS = ("8-12", "13-19", "20-23")
#: Separator of several area codes or age bands in one cell of the intervention registry.
LIST_SEPARATOR = ";"

#: Attributes that evaluation may audit by and that may never be model inputs.
AUDIT_ONLY_COLUMNS = ("migration_group", "income_group")

# Dates without a mapping date_format: ISO 8601 (2024-01-31, optionally with a time) or CBS's
# compact YYYYMMDD (also when delivered as a number).
_COMPACT_DATE = re.compile(r"^\d{8}$")
_INT64_LIMIT = 2.0**63
# A column name that can be shown in a message: starts with a letter, no long digit runs. A
# headerless file has data (pseudonyms, dates) in its first line; those names are never shown.
_SHOWABLE_NAME = re.compile(r"^[^\W\d][\w .:\-]{0,63}$")
_DIGIT_RUN = re.compile(r"\d{5,}")


@dataclasses.dataclass(frozen=True)
class Column:
    """One contract column: name, kind, whether it may be empty, allowed values.

    ``year`` marks an integer calendar year, checked against the contract's date window.
    """

    name: str
    kind: Kind
    nullable: bool = False
    allowed: tuple[object, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None
    year: bool = False


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """A contract table: its columns, unique key and optional date interval (start <= end)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    interval: tuple[str, str] | None = None
    required: bool = True
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def event_dates(self) -> tuple[str, ...]:
        """Date columns that mark when something happened (all dates but an interval's end)."""
        end = self.interval[1] if self.interval else None
        return tuple(c.name for c in self.columns if c.kind == "date" and c.name != end)


def _id(name: str = "rinpersoon") -> Column:
    return Column(name, "id")


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "persons",
            (
                _id(),
                Column("birth_date", "date"),
                Column("sex", "category", allowed=SEX),
                Column("migration_group", "category", allowed=MIGRATION_GROUPS),
            ),
            key=("rinpersoon",),
            description="Population register (GBA): one row per person. migration_group is "
            "audit-only (CBS herkomstland groups).",
        ),
        TableSpec(
            "parent_child",
            (_id(), _id("rinpersoon_parent")),
            key=("rinpersoon", "rinpersoon_parent"),
            description="Parent-child links (KINDOUDERTAB): child rinpersoon, parent pseudonym.",
        ),
        TableSpec(
            "addresses",
            (
                _id(),
                Column("address_id", "int", min_value=0),
                Column("buurt_code", "area"),
                Column("date_start", "date"),
                Column("date_end", "date", nullable=True),
            ),
            key=("rinpersoon", "date_start"),
            interval=("date_start", "date_end"),
            description="Address history (GBAADRESOBJECT): pseudonymised address object and its "
            "buurt, with from/to dates; an empty date_end means still living there. No address "
            "= not resident. Persons sharing an address_id share a household.",
        ),
        TableSpec(
            "enrolments",
            (
                _id(),
                Column("school_id", "int", min_value=0),
                Column("level", "category", allowed=SCHOOL_LEVELS),
                Column("date_start", "date"),
                Column("date_end", "date", nullable=True),
            ),
            key=("rinpersoon", "date_start"),
            interval=("date_start", "date_end"),
            description="Education enrolments (ONDERWIJSINSCHRTAB), school pseudonymised.",
        ),
        TableSpec(
            "vsv",
            (_id(), Column("vsv_date", "date")),
            key=("rinpersoon", "vsv_date"),
            description="Early-school-leaving registrations (VSV, DUO).",
        ),
        TableSpec(
            "halt",
            (
                _id(),
                Column("referral_date", "date"),
                Column("halt_category", "category", allowed=HALT_CATEGORIES),
            ),
            key=("rinpersoon", "referral_date"),
            description="Halt referrals (ages 12-17).",
        ),
        TableSpec(
            "debt",
            (
                _id(),
                Column("debt_type", "category", allowed=DEBT_TYPES),
                Column("date_start", "date"),
                Column("date_end", "date", nullable=True),
            ),
            key=("rinpersoon", "debt_type", "date_start"),
            interval=("date_start", "date_end"),
            description="Debt restructuring: statutory (WSNP) and amicable debt help (minnelijk).",
        ),
        TableSpec(
            "suspects",
            (
                _id(),
                Column("registration_date", "date"),
                Column("offence", "category", allowed=OFFENCES),
            ),
            key=("rinpersoon", "registration_date", "offence"),
            description="Police suspect registrations (HKS/VERDTAB); opiumwet = drug law.",
        ),
        TableSpec(
            "youth_care",
            (
                _id(),
                Column("care_type", "category", allowed=CARE_TYPES),
                Column("date_start", "date"),
                Column("date_end", "date", nullable=True),
            ),
            key=("rinpersoon", "care_type", "date_start"),
            interval=("date_start", "date_end"),
            description="Youth care trajectories (JGDHULPBUS), incl. youth protection and "
            "youth probation (jeugdreclassering).",
        ),
        TableSpec(
            "deregistrations",
            (
                _id(),
                Column("deregistration_date", "date"),
                Column("reason", "category", allowed=DEREGISTRATION_REASONS),
            ),
            key=("rinpersoon", "deregistration_date"),
            required=False,
            description="Departures from the population register (BRP): death (GBAOVERLIJDENTAB) "
            "and emigration (GBAMIGRATIEBUS, emigratie), one row per departure. A person who leaves "
            "within a label's horizon without a registration gets no label (censored). Optional: "
            "without it nobody is known to leave, and a leaver's label reads False.",
        ),
        TableSpec(
            "household_income",
            (
                _id(),
                Column("year", "int", year=True),
                Column("income_group", "int", allowed=INCOME_GROUPS),
            ),
            key=("rinpersoon", "year"),
            description="Quintile of standardised household income per year (INHATAB); audit-only by default.",
        ),
    )
}

INTERVENTIONS = TableSpec(
    "interventions",
    (
        Column("intervention_id", "category"),
        Column("name", "category"),
        Column("area_codes", "category"),
        Column("age_bands", "category"),
        Column("start_date", "date"),
    ),
    key=("intervention_id", "area_codes"),
    required=False,
    description="Intervention registry kept by the user: area codes (gemeente, wijk or buurt) "
    "and age bands separated by ';'. Staggered start: one row per start date, same "
    "intervention_id, name and age_bands, each row naming the areas that start on its date.",
)


@dataclasses.dataclass(frozen=True)
class ContractConfig:
    """Limits that a delivery must respect.

    ``observation_end`` is the last day the delivery covers (the data cut-off); no event may lie
    after it, and labels whose horizon runs past it are censored. A delivery may state its own
    cut-off in ``delivery.toml``; that value then wins. ``max_orphan_share`` is the share of a
    table's rows whose pseudonym may be missing from ``persons`` (those rows are dropped and
    counted); above it the delivery is refused.
    """

    date_min: dt.date = dt.date(1900, 1, 1)
    observation_end: dt.date = dt.date(2024, 12, 31)
    max_orphan_share: float = 0.0

    def __post_init__(self) -> None:
        require(self.date_min < self.observation_end, "contract.date_min", "must be before observation_end")
        require(self.observation_end <= dt.date.today(), "contract.observation_end", "must not lie in the future")
        require(0.0 <= self.max_orphan_share <= 1.0, "contract.max_orphan_share", "must be in [0, 1]")


@dataclasses.dataclass
class Delivery:
    """A validated delivery: contract-typed tables plus the date the data run up to.

    ``orphans_dropped`` counts, per table, rows dropped because their pseudonym is not in
    ``persons`` (only when ``ContractConfig.max_orphan_share`` tolerates them);
    ``unmatched_dropped``, rows dropped because a mapping's lookup join found no row for them
    (only within the join's ``max_unmatched_share``).
    """

    tables: dict[str, pd.DataFrame]
    observation_end: dt.date
    interventions: pd.DataFrame | None = None
    orphans_dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    unmatched_dropped: dict[str, int] = dataclasses.field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def row_counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.tables.items()}


# --------------------------------------------------------------------------------------------
# coercion: raw frame (any dtypes) -> contract dtypes, counting rows that do not convert.
# Text is normalised on the distinct values only (factorize), so a 2M-row column costs one
# hash pass plus work on its few thousand distinct values.
# --------------------------------------------------------------------------------------------


def _integral_text(values: np.ndarray) -> pd.Index:
    """Float values -> text; whole numbers without '.0' (SPSS stores codes as 1.0, 2.0)."""
    v = np.asarray(values, dtype="float64")
    whole = np.isfinite(v) & (v == np.floor(v)) & (np.abs(v) < _INT64_LIMIT)
    out = np.where(whole, np.char.mod("%d", np.where(whole, v, 0).astype("int64")), v.astype(str))
    return pd.Index(out, dtype=object)


def _one_text(value: object) -> str:
    if isinstance(value, float) and np.isfinite(value) and value == np.floor(value) and abs(value) < _INT64_LIMIT:
        return str(int(value))
    return str(value)


def as_text_categorical(s: pd.Series) -> pd.Series:
    """Any column -> categorical of stripped text; blanks become missing.

    Numbers become their text (whole floats without ``.0``), dates their ISO text. Only the
    distinct values are transformed, so this is cheap on long columns.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    uniq = pd.Index(uniques)
    if pd.api.types.is_float_dtype(uniq.dtype):
        text = _integral_text(uniq.to_numpy())
    else:
        text = pd.Index([_one_text(u) for u in uniq], dtype=object) if uniq.dtype == object else uniq.astype(str)
    stripped = pd.Series(text, dtype="string").str.strip()
    stripped = stripped.where(stripped != "")
    new_codes, cats = pd.factorize(stripped, use_na_sentinel=True)
    lookup = np.append(new_codes, -1).astype("int64")  # index -1 (missing) -> -1
    final = lookup[codes]
    return pd.Series(
        pd.Categorical.from_codes(final, categories=pd.Index(cats, dtype="str")), index=s.index, name=s.name
    )


def _parse_date_values(text: pd.Index, date_format: str = "") -> pd.Index:
    """Distinct date texts -> datetime64[s] (NaT where unparseable)."""
    if len(text) == 0:
        return pd.DatetimeIndex([], dtype=DATE_DTYPE)
    t = pd.Series(text, dtype="str")
    if date_format:
        parsed = pd.to_datetime(t, format=date_format, errors="coerce")
    else:
        compact = t.str.match(_COMPACT_DATE).to_numpy(bool)
        parsed = pd.Series(pd.NaT, index=t.index, dtype="datetime64[us]")
        if compact.any():
            parsed[compact] = pd.to_datetime(t[compact], format="%Y%m%d", errors="coerce").astype("datetime64[us]")
        if (~compact).any():
            parsed[~compact] = pd.to_datetime(t[~compact], format="ISO8601", errors="coerce").astype("datetime64[us]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return pd.Index(parsed.dt.floor("D").astype(DATE_DTYPE))


def parse_dates(s: pd.Series, date_format: str = "") -> tuple[pd.Series, int]:
    """Parse a date column of any dtype; return (datetime64[s] series, rows that did not parse).

    Datetime columns keep their day (times are dropped). Text and numbers are read as ISO 8601
    (``2024-01-31``) or CBS's compact ``YYYYMMDD``, or with ``date_format`` when given (a
    ``strftime`` pattern such as ``%d-%m-%Y``). Day-first texts are never guessed.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.dt.floor("D").astype(DATE_DTYPE), 0
    cat = as_text_categorical(s)
    parsed = _parse_date_values(pd.Index(cat.cat.categories), date_format)
    codes = cat.cat.codes.to_numpy()
    values = np.append(parsed.to_numpy(), np.datetime64("NaT", "s"))[codes]  # code -1 -> NaT
    out = pd.Series(values, index=s.index, name=s.name).astype(DATE_DTYPE)
    bad = int((cat.notna() & out.isna()).sum())
    return out, bad


def recode_categories(cat: pd.Series, new_values: pd.Index) -> pd.Series:
    """Replace the categories of ``cat`` by ``new_values`` (same length), merging equal ones."""
    new_codes, cats = pd.factorize(pd.Series(new_values), use_na_sentinel=True)
    final = np.append(new_codes, -1).astype("int64")[cat.cat.codes.to_numpy()]
    return pd.Series(
        pd.Categorical.from_codes(final, categories=pd.Index(cats, dtype="str")), index=cat.index, name=cat.name
    )


def _parse_whole_number_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Text column -> (Int64 series, bad mask); plain integers exactly, others via float."""
    if s.dtype == object or not pd.api.types.is_string_dtype(s.dtype):
        s = s.astype("str")
    text = pc.utf8_trim_whitespace(pa_arrow.array(s.array))  # Arrow-backed: no copy to Python
    present = pc.fill_null(pc.greater(pc.utf8_length(text), 0), False)
    plain = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?[0-9]{1,18}$"), False)
    # 19 digits fit int64 up to its maximum (same length: text order is number order)
    long = pc.and_(pc.match_substring_regex(text, r"^[0-9]{19}$"), pc.less_equal(text, str(np.iinfo("int64").max)))
    plain = pc.or_(plain, pc.fill_null(long, False))
    ints = pc.cast(pc.if_else(plain, text, pa_arrow.scalar(None, pa_arrow.large_string())), pa_arrow.int64())
    out = pd.Series(ints.to_pandas(types_mapper={pa_arrow.int64(): pd.Int64Dtype()}.get), index=s.index, name=s.name)
    present_np = present.to_numpy(zero_copy_only=False)
    other = present_np & ~plain.to_numpy(zero_copy_only=False)
    bad = np.zeros(len(s), dtype=bool)
    if other.any():  # "1.0", "1e3": whole numbers written otherwise
        others = pc.filter(text, pa_arrow.array(other)).to_pylist()
        v = pd.to_numeric(pd.Series(others, dtype=object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        ok = np.isfinite(v) & (v == np.floor(v)) & (np.abs(v) < _INT64_LIMIT)
        idx = np.flatnonzero(other)
        out.iloc[idx[ok]] = v[ok].astype("int64")
        bad[idx[~ok]] = True
    return out, bad


def parse_whole_numbers(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Any column -> (Int64 series, mask of non-missing values that are not whole numbers)."""
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype("Int64"), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(v)
    elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(s.dtype):
        cat = as_text_categorical(s)  # few distinct values: parse those only
        nums = pd.to_numeric(pd.Series(cat.cat.categories, dtype=object), errors="coerce")
        codes = cat.cat.codes.to_numpy()
        present = codes >= 0
        v = np.append(nums.to_numpy(dtype="float64", na_value=np.nan), np.nan)[codes]
    else:  # text: mostly distinct values (pseudonyms), parsed in Arrow
        return _parse_whole_number_text(s)
    ok = np.isfinite(v) & (v == np.floor(v)) & (np.abs(v) < _INT64_LIMIT)
    out = pd.Series(pd.array(np.where(ok, v, 0).astype("int64"), dtype="Int64"), index=s.index, name=s.name)
    out[~ok] = pd.NA
    return out, present & ~ok


def _coerce_column(s: pd.Series, col: Column, table: str) -> pd.Series:
    if col.kind == "date":
        out, n_bad = parse_dates(s)
        if n_bad:
            problem = "not a date (expected YYYY-MM-DD or YYYYMMDD; set date_format in the mapping for other layouts)"
            raise InputError(table, col.name, n_bad, problem)
    elif col.kind in ("id", "int"):
        out, bad = parse_whole_numbers(s)
        if bad.any():
            raise InputError(table, col.name, int(bad.sum()), "not a whole number")
    else:  # category / area: text
        out = as_text_categorical(s)
        if col.kind == "area":  # CBS codes are upper case (BU03630000)
            out = recode_categories(out, out.cat.categories.str.upper())
    missing = out.isna()
    n_missing = int(missing.sum())
    if n_missing and not col.nullable:
        if n_missing == len(out):
            raise InputError(table, col.name, n_missing, "column is entirely empty")
        raise InputError(table, col.name, n_missing, "empty values")
    if col.kind in ("id", "int") and not col.nullable:
        out = out.astype(ID_DTYPE if col.kind == "id" else "int64")
    if col.kind in ("category", "area"):
        cats = out.cat.categories
        out = out.cat.set_categories(pd.Index(cats, dtype="str").sort_values())
    return out


# --------------------------------------------------------------------------------------------
# the declared contract: pandera schemas (dtypes + per-value checks)
# --------------------------------------------------------------------------------------------


def _date_checks(contract: ContractConfig) -> list[pa.Check]:
    return [
        pa.Check.ge(pd.Timestamp(contract.date_min), name=f"date before {contract.date_min} (out of range)"),
        pa.Check.le(
            pd.Timestamp(contract.observation_end),
            name=f"date after the observation end {contract.observation_end} (in the future)",
        ),
    ]


def _isin(allowed: pd.Index, name: str) -> pa.Check:
    """Membership check, vectorised: on a categorical only its categories are looked up.

    (pandas' isin on Arrow-backed text builds one Python scalar per allowed value, which
    costs a quarter second per call for the 14,574 buurt codes; a hashed Index does not.)
    """

    def check(s: pd.Series) -> pd.Series:
        if isinstance(s.dtype, pd.CategoricalDtype):
            ok_categories = allowed.get_indexer(pd.Index(s.cat.categories, dtype=allowed.dtype)) >= 0
            ok = np.append(ok_categories, True)[s.cat.codes.to_numpy()]  # missing: pandera's business
        else:
            ok = allowed.get_indexer(pd.Index(s, dtype=allowed.dtype)) >= 0
        return pd.Series(ok, index=s.index)

    return pa.Check(check, name=name)


def _column_schema(c: Column, contract: ContractConfig, known_buurten: pd.Index) -> pa.Column:
    checks: list[pa.Check] = []
    dtype: object
    if c.kind == "date":
        dtype = pandas_engine.DateTime(unit="s")  # type: ignore[call-arg]  # a dataclass field pandera's typing hides
        checks += _date_checks(contract)
    elif c.kind == "id":
        dtype = ID_DTYPE
        checks.append(pa.Check.gt(0, name="pseudonym not positive"))
    elif c.kind == "int":
        dtype = "Int64" if c.nullable else "int64"
    else:
        dtype = "category"
    if c.allowed is not None:
        shown = ", ".join(str(a) for a in c.allowed)
        allowed = pd.Index(list(c.allowed), dtype="str" if c.kind == "category" else "int64")
        checks.append(_isin(allowed, f"value not one of {shown}"))
    if c.min_value is not None:
        checks.append(pa.Check.ge(c.min_value, name=f"value below {c.min_value}"))
    if c.max_value is not None:
        checks.append(pa.Check.le(c.max_value, name=f"value above {c.max_value}"))
    if c.year:
        checks.append(pa.Check.ge(contract.date_min.year, name=f"year before {contract.date_min.year} (out of range)"))
        checks.append(
            pa.Check.le(
                contract.observation_end.year, name=f"year after {contract.observation_end.year} (in the future)"
            )
        )
    if c.kind == "area":
        checks.append(_isin(known_buurten, "unknown buurt code (not in the CBS 2024 list)"))
    return pa.Column(dtype, checks=checks, nullable=c.nullable)


# Built schemas and code indexes per (table, contract, geography); a Geography is kept alive
# with its entry so that its id is not reused. Bounded: a process sees one or two geographies.
_SCHEMA_CACHE: dict[tuple[str, ContractConfig, int], tuple[Geography, pa.DataFrameSchema]] = {}
_CODE_CACHE: dict[tuple[str, int], tuple[Geography, pd.Index]] = {}
_CACHE_LIMIT = 256


def _known_codes(geo: Geography, level: Literal["buurt", "all"]) -> pd.Index:
    key = (level, id(geo))
    hit = _CODE_CACHE.get(key)
    if hit is None or hit[0] is not geo:
        codes = geo.buurt_codes if level == "buurt" else sorted(geo.all_codes)
        if len(_CODE_CACHE) >= _CACHE_LIMIT:
            _CODE_CACHE.clear()
        hit = _CODE_CACHE[key] = (geo, pd.Index(codes, dtype="str"))
    return hit[1]


def _pandera_schema(spec: TableSpec, contract: ContractConfig, geo: Geography) -> pa.DataFrameSchema:
    key = (spec.name, contract, id(geo))
    hit = _SCHEMA_CACHE.get(key)
    if hit is None or hit[0] is not geo:
        buurten = _known_codes(geo, "buurt")
        cols = {c.name: _column_schema(c, contract, buurten) for c in spec.columns}
        if len(_SCHEMA_CACHE) >= _CACHE_LIMIT:
            _SCHEMA_CACHE.clear()
        hit = _SCHEMA_CACHE[key] = (geo, pa.DataFrameSchema(cols, strict=True, ordered=True, name=spec.name))
    return hit[1]


def contract_schema(
    name: str, contract: ContractConfig | None = None, geo: Geography | None = None
) -> pa.DataFrameSchema:
    """The pandera schema of contract table ``name``: dtypes and per-value checks.

    A frame returned by :func:`validate_table` (or in a :class:`Delivery`) passes it. Raw
    deliveries need :func:`validate_table`, which also converts types and checks rows against
    each other (interval order, duplicate keys).

    Examples
    --------
    >>> schema = contract_schema("vsv")
    >>> list(schema.columns)
    ['rinpersoon', 'vsv_date']
    """
    from features.geography import load_geography

    spec = INTERVENTIONS if name == INTERVENTIONS.name else TABLES[name]
    return _pandera_schema(spec, contract or ContractConfig(), geo or load_geography())


def showable_column(name: object, position: int) -> str:
    """A delivered column name fit for a message, else its position (never a data value)."""
    text = str(name)
    if _SHOWABLE_NAME.match(text) and not _DIGIT_RUN.search(text):
        return text
    return f"#{position + 1} (name not shown)"


def _check_columns(raw: pd.DataFrame, spec: TableSpec) -> None:
    table = spec.name
    names = [str(c) for c in raw.columns]
    looks_like_data = any(not _SHOWABLE_NAME.match(n) or _DIGIT_RUN.search(n) for n in names)
    hint = "; the first line looks like data: is the header row missing?" if looks_like_data else ""
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        pos = names.index(dup[0])
        raise InputError(table, showable_column(dup[0], pos), None, f"column delivered twice{hint}")
    missing = [c for c in spec.column_names if c not in names]
    if missing:
        raise InputError(table, missing[0], None, f"missing column (expected {', '.join(spec.column_names)}){hint}")
    unknown = [(i, n) for i, n in enumerate(names) if n not in spec.column_names]
    if unknown:
        i, n = unknown[0]
        raise InputError(
            table,
            showable_column(n, i),
            None,
            f"unknown column ({len(unknown)} unknown; map it or list it under 'drop' in the mapping file)",
        )


def _duplicated_rows(df: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """Mask of rows whose key occurs more than once (all members of each duplicate group).

    Key columns become int64 codes (dates as days, categories as codes) packed into a single
    int64 when their ranges allow (always for the contract's keys), then sorted once.
    """
    cols = []
    for k in key:
        s = df[k]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cols.append(s.cat.codes.to_numpy().astype("int64"))
        elif pd.api.types.is_datetime64_dtype(s.dtype):
            cols.append(s.to_numpy().astype("datetime64[D]").view("int64"))
        else:
            cols.append(s.to_numpy(dtype="int64"))
    if len(df) == 0:
        return np.zeros(0, dtype=bool)
    packed = np.zeros(len(df), dtype="int64")
    capacity = 1
    for c in cols:
        lo, hi = int(c.min()), int(c.max())
        span = hi - lo + 1
        if capacity * span >= 2**62:  # cannot pack: hash the columns instead
            return df.duplicated(list(key), keep=False).to_numpy()
        packed = packed * span + (c - lo)
        capacity *= span
    ordered = np.sort(packed)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:  # the usual case: one sort, no hashing
        return np.zeros(len(df), dtype=bool)
    return np.isin(packed, np.unique(repeated))


def validate_table(
    raw: pd.DataFrame, spec: TableSpec, contract: ContractConfig, geo: Geography, *, allow_empty: bool = False
) -> pd.DataFrame:
    """Coerce ``raw`` to the contract of ``spec`` and check it; return the typed frame.

    Parameters
    ----------
    raw : DataFrame
        Columns named as in the contract (any dtypes: text, numbers, dates).
    spec : TableSpec
        The contract table, e.g. ``TABLES["persons"]``.
    contract : ContractConfig
        Date window and tolerances.
    geo : Geography
        Known area codes.

    Returns
    -------
    DataFrame
        Contract columns in contract order with contract dtypes (ids ``int64``, dates
        ``datetime64[s]``, codes ``category``) and a fresh ``RangeIndex``.

    Raises
    ------
    InputError
        On the first problem: missing, unknown or doubled columns, empty table, values that
        do not convert, empty required values, failed value checks (range, allowed values,
        area codes), interval end before start, duplicate keys.

    Examples
    --------
    >>> from features.geography import load_geography
    >>> raw = pd.DataFrame({"rinpersoon": ["100000001"], "vsv_date": ["20200131"]})
    >>> validate_table(raw, TABLES["vsv"], ContractConfig(), load_geography()).dtypes.tolist()
    [dtype('int64'), dtype('<M8[s]')]
    """
    table = spec.name
    _check_columns(raw, spec)
    if len(raw) == 0 and not allow_empty:  # allowed for a part of a delivery (features.sources.partition)
        raise InputError(table, None, 0, "table is empty")
    raw = raw.reset_index(drop=True)
    df = pd.DataFrame({c.name: _coerce_column(raw[c.name], c, table) for c in spec.columns})
    try:
        _pandera_schema(spec, contract, geo).validate(df, lazy=False, inplace=True)
    except pa.errors.SchemaError as err:  # message built from names and counts only
        column = getattr(err.schema, "name", None)
        check = getattr(err.check, "name", None) or str(err.reason_code)
        n = len(err.failure_cases) if err.failure_cases is not None else None
        raise InputError(table, column if isinstance(column, str) else None, n, check) from None
    if spec.interval is not None:
        start, end = spec.interval
        bad = df[end].notna() & (df[end] < df[start])
        if bad.any():
            raise InputError(table, end, int(bad.sum()), f"{end} before {start}")
    dup = _duplicated_rows(df, spec.key)
    if dup.any():
        raise InputError(table, ",".join(spec.key), int(dup.sum()), "duplicate key (rows sharing a key)")
    for c in spec.columns:  # fixed category sets once the values are known to be valid
        if c.kind == "category" and c.allowed is not None:
            df[c.name] = df[c.name].cat.set_categories(pd.Index(list(c.allowed), dtype="str"))
    return df


# --------------------------------------------------------------------------------------------
# whole delivery: links between tables
# --------------------------------------------------------------------------------------------


def _check_links(tables: dict[str, pd.DataFrame], contract: ContractConfig) -> dict[str, int]:
    """Pseudonyms must be in ``persons`` (tolerated orphans are dropped and counted) and no
    event may precede the person's birth; parents are born before their children.

    Each id column is looked up once in a hash index of ``persons`` (the costly step on a
    national delivery); the positions serve both checks.
    """
    persons = tables["persons"]
    index = pd.Index(persons["rinpersoon"])
    birth = persons["birth_date"].to_numpy()
    birth_year = birth.astype("datetime64[Y]").astype("int64") + 1970
    dropped: dict[str, int] = {}
    for name, df in list(tables.items()):
        if name == "persons":
            continue
        spec = TABLES[name]
        positions = {c.name: index.get_indexer(df[c.name]) for c in spec.columns if c.kind == "id"}
        orphan = np.zeros(len(df), dtype=bool)
        for col, pos in positions.items():
            col_orphan = pos < 0
            n = int(col_orphan.sum())
            if n > contract.max_orphan_share * len(df):
                allowed = f"; at most {contract.max_orphan_share:.1%} tolerated" if contract.max_orphan_share else ""
                raise InputError(name, col, n, f"pseudonym not in persons{allowed}")
            orphan |= col_orphan
        if orphan.any():
            keep = ~orphan
            tables[name] = df = df.loc[keep].reset_index(drop=True)
            positions = {col: pos[keep] for col, pos in positions.items()}
            dropped[name] = int(orphan.sum())
        own = positions["rinpersoon"]
        if name == "parent_child":
            bad = birth[positions["rinpersoon_parent"]] >= birth[own]
            if bad.any():
                raise InputError(name, "rinpersoon_parent", int(bad.sum()), "parent not born before the child")
            continue
        for c in spec.columns:
            if c.year:
                bad = df[c.name].to_numpy() < birth_year[own]
                if bad.any():
                    raise InputError(name, c.name, int(bad.sum()), "year before the person's birth year")
        for col in spec.event_dates:
            bad = df[col].to_numpy() < birth[own]
            if bad.any():
                raise InputError(name, col, int(bad.sum()), "date before the person's birth date")
    return dropped


def _validate_interventions(raw: pd.DataFrame, contract: ContractConfig, geo: Geography) -> pd.DataFrame:
    ivs = validate_table(raw, INTERVENTIONS, contract, geo)
    table = INTERVENTIONS.name
    for column, known, problem in (
        ("area_codes", _known_codes(geo, "all"), "unknown area code (not a CBS 2024 gemeente, wijk or buurt)"),
        (
            "age_bands",
            pd.Index(INTERVENTION_AGE_BANDS, dtype="str"),
            f"age band not one of {', '.join(INTERVENTION_AGE_BANDS)}",
        ),
    ):
        items = ivs[column].astype(str).str.split(LIST_SEPARATOR).explode().str.strip()
        bad_items = pd.Series(known.get_indexer(pd.Index(items, dtype="str")) < 0, index=items.index)
        n = int(bad_items.groupby(level=0).any().sum())
        if n:
            raise InputError(table, column, n, problem)
    check_registry_rows(ivs, table)
    return ivs


def check_registry_rows(ivs: pd.DataFrame, table: str = INTERVENTIONS.name) -> None:
    """Rows of one intervention (staggered start: one row per start date) must agree.

    Raises
    ------
    InputError
        Rows of one ``intervention_id`` with different ``name`` or ``age_bands``, or one area
        code on several rows of the same intervention (it can have one start date only).
    """
    ids = ivs["intervention_id"].astype(str)
    for column in ("name", "age_bands"):
        varies = ivs[column].astype(str).str.strip().groupby(ids).nunique() > 1
        if varies.any():
            n = int(ids.isin(varies[varies].index).sum())
            raise InputError(table, column, n, f"rows of one intervention_id must have the same {column}")
    codes = ivs["area_codes"].astype(str).str.split(LIST_SEPARATOR).explode().str.strip()
    pairs = pd.DataFrame({"id": ids.reindex(codes.index).to_numpy(), "code": codes.to_numpy()}, index=codes.index)
    twice = pairs.duplicated(keep=False)
    if twice.any():
        n = int(pd.Series(twice.to_numpy(), index=codes.index).groupby(level=0).any().sum())
        raise InputError(table, "area_codes", n, "an area is listed on several rows of one intervention_id")


def validate_delivery(
    raw_tables: Mapping[str, pd.DataFrame],
    contract: ContractConfig,
    geo: Geography,
    *,
    interventions: pd.DataFrame | None = None,
    observation_end: dt.date | None = None,
    allow_empty: bool = False,
    only: Collection[str] | None = None,
) -> Delivery:
    """Validate every contract table and their links; return a typed :class:`Delivery`.

    Parameters
    ----------
    raw_tables : mapping of str to DataFrame
        One raw frame per contract table (columns named as in the contract).
    contract : ContractConfig
        Date window and tolerances.
    geo : Geography
        Known area codes.
    interventions : DataFrame, optional
        The user's intervention registry (see :data:`INTERVENTIONS`).
    observation_end : date, optional
        The delivery's own data cut-off; replaces ``contract.observation_end``.
    allow_empty : bool
        Accept tables without rows (a person partition of a delivery may have none).
    only : collection of str, optional
        Validate these tables only (with ``persons``, for the links), for a caller that knows
        the rest of the same delivery passed already (see :func:`features.sources.readers.read_delivery`);
        a required table outside ``only`` may then be absent from ``raw_tables``.

    Returns
    -------
    Delivery

    Raises
    ------
    InputError
        For an unknown or missing table, any table breaking :func:`validate_table`,
        pseudonyms absent from ``persons`` beyond ``contract.max_orphan_share`` (tolerated
        orphans are dropped and counted in ``Delivery.orphans_dropped``), events dated before
        the person's birth, parents not older than their child, or an intervention naming an
        unknown area code or age band.
    """
    if observation_end is not None:
        contract = dataclasses.replace(contract, observation_end=observation_end)
    for name in raw_tables:
        if name not in TABLES:
            raise InputError(str(name), None, None, f"not a contract table (known: {', '.join(TABLES)})")
    for name, spec in TABLES.items():
        if spec.required and name not in raw_tables and (only is None or name in only or name == "persons"):
            raise InputError(name, None, None, "table missing from the delivery")
    tables = {
        name: validate_table(raw_tables[name], spec, contract, geo, allow_empty=allow_empty)
        for name, spec in TABLES.items()
        if name in raw_tables  # an optional table may be absent
    }
    dropped = _check_links(tables, contract)
    ivs = None if interventions is None else _validate_interventions(interventions, contract, geo)
    return Delivery(tables=tables, observation_end=contract.observation_end, interventions=ivs, orphans_dropped=dropped)


def summarise_delivery(delivery: Delivery) -> pd.DataFrame:
    """Per table: rows, distinct persons, first and last date, orphan rows dropped.

    Only counts and date bounds, never row values. The intervention registry, when present,
    is the last row (``persons`` is missing there).
    """
    rows = []
    for name, df in delivery.tables.items():
        dates = [c.name for c in TABLES[name].columns if c.kind == "date"]
        years = [c.name for c in TABLES[name].columns if c.year]
        lo = min((df[c].min() for c in dates), default=pd.NaT)
        hi = max((df[c].max() for c in dates), default=pd.NaT)
        if years and len(df):
            lo = pd.Timestamp(int(df[years[0]].min()), 1, 1)
            hi = pd.Timestamp(int(df[years[0]].max()), 12, 31)
        rows.append(
            {
                "table": name,
                "rows": len(df),
                "persons": int(df["rinpersoon"].nunique()),
                "first_date": None if pd.isna(lo) else pd.Timestamp(lo).date().isoformat(),
                "last_date": None if pd.isna(hi) else pd.Timestamp(hi).date().isoformat(),
                "orphans_dropped": int(delivery.orphans_dropped.get(name, 0)),
            }
        )
    if delivery.interventions is not None:
        iv = delivery.interventions
        rows.append(
            {
                "table": INTERVENTIONS.name,
                "rows": len(iv),
                "persons": None,
                "first_date": iv["start_date"].min().date().isoformat(),
                "last_date": iv["start_date"].max().date().isoformat(),
                "orphans_dropped": 0,
            }
        )
    out = pd.DataFrame(rows)
    out["persons"] = out["persons"].astype("Int64")
    return out
