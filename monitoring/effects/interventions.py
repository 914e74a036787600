"""Effects of prevention interventions on area outcomes, with placebo tests that must stay null.

An intervention registry names areas, age bands and a start date. For every intervention an
area x period panel of an outcome (default: the observed annual rate, per 1,000 young people
of its bands, of suspect registrations for each band's risk-label offences) is compared with
never-treated areas: staggered difference-in-differences in the style of Callaway and Sant'Anna
(2021) when several areas are treated (areas may start at different dates), synthetic control
(Abadie et al.) when a single area is. Placebo tests move the start
earlier (in time) or treat untreated areas as if they were treated (in space).

Implementation choice: the group-time ATT estimator, its aggregation and the cluster bootstrap
are implemented here with numpy (vectorised over bootstrap replicates). The libraries
``differences`` 0.3 and ``csdid`` 0.4 were tried with pandas 3.1: ``csdid`` runs but pulls in
twine/keyring/plotnine, ``differences`` fails in its cluster bootstrap under pandas 3. The point
estimate of this module agrees with both on a common simulated panel (tests). ``pysyncon`` 1.7
works but takes ~30 s per fit (it optimises the predictor weights with Nelder-Mead), too slow
for in-space placebos; synthetic control here is a simplex-constrained, lightly ridge-penalised
least-squares fit on the pre-period outcomes (scipy's NNLS), ~1 ms per fit.

Everything here is pure: panels in, frames out. Panels are aggregates, never person rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import t as student_t

from aanwas.common.errors import InputError
from features.config import AGE_BANDS, BAND_LIMITS, FeatureConfig
from features.contract import OFFENCES, check_registry_rows
from features.geography import Geography
from monitoring.monitor_config import InterventionConfig

__all__ = [
    "EFFECT_COLUMNS",
    "PANEL_COLUMNS",
    "PANEL_TABLES",
    "DidResult",
    "EffectsResult",
    "ScmResult",
    "build_outcome_panel",
    "estimate_did",
    "estimate_intervention_effects",
    "estimate_synthetic_control",
    "expand_treated_areas",
    "finite_intervals",
    "panel_from_area_table",
    "parse_registry",
]

#: Columns of the effects table (one row per intervention x method; placebos marked in method).
#: ``outcome`` names the outcome in plain words (e.g. "suspect registrations per 1,000 young
#: people per year: drug law (Opiumwet)"), for labels.
EFFECT_COLUMNS = ("intervention_id", "estimate", "ci_low", "ci_high", "method", "n_areas", "outcome")
#: Columns of an outcome panel: one row per period x area x age band.
PANEL_COLUMNS = ("period", "area_level", "area_code", "age_band", "n_persons", "value")

METHOD_DID = "did_cs"
METHOD_SCM = "synthetic_control"
PLACEBO_TIME = "placebo_time:"
PLACEBO_SPACE = "placebo_space:"
#: ``reason`` of an effects row whose interval has an unbounded side (written blank).
REASON_UNBOUNDED = "too few comparison areas: interval unbounded"

_REGISTRY = "interventions"
_REGISTRY_COLUMNS = ("intervention_id", "name", "area_codes", "age_bands", "start_date")
_CODE_PATTERN = re.compile(r"^(GM\d{4}|WK\d{6}|BU\d{8})$")
_PREFIX_LEVEL = {"GM": "gemeente", "WK": "wijk", "BU": "buurt"}


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


def parse_registry(registry: pd.DataFrame, geography: Geography | None = None) -> pd.DataFrame:
    """Check the intervention registry and return one row per intervention x area x age band.

    Parameters
    ----------
    registry : DataFrame
        Columns ``intervention_id, name, area_codes, age_bands, start_date``; area codes and
        age bands separated by ``;``. Staggered adoption: several rows with the same
        ``intervention_id`` (and name and age bands), one per start date, each naming the
        areas that start then.
    geography : Geography, optional
        When given, every area code must exist in it.

    Returns
    -------
    DataFrame
        ``intervention_id, name, area_code, age_band, start_date`` (start as datetime64[s]).

    Raises
    ------
    InputError
        Missing columns, an empty registry, empty cells, unparseable dates, rows of one id that
        disagree on name or age bands or repeat an area, malformed or unknown area codes,
        unknown age bands (counts of rows, never values).

    Examples
    --------
    >>> reg = pd.DataFrame({"intervention_id": ["A"], "name": ["x"], "area_codes": ["GM0363;GM0344"],
    ...                     "age_bands": ["13-19"], "start_date": ["2020-01-01"]})
    >>> parse_registry(reg)["area_code"].tolist()
    ['GM0363', 'GM0344']
    """
    missing = [c for c in _REGISTRY_COLUMNS if c not in registry.columns]
    if missing:
        raise InputError(_REGISTRY, missing[0], None, f"missing column (expected {', '.join(_REGISTRY_COLUMNS)})")
    if len(registry) == 0:
        raise InputError(_REGISTRY, None, 0, "registry is empty")
    reg = registry[list(_REGISTRY_COLUMNS)].copy()
    for col in ("intervention_id", "name", "area_codes", "age_bands"):
        text = reg[col].astype("str").str.strip()
        empty = reg[col].isna() | text.eq("")
        if empty.any():
            raise InputError(_REGISTRY, col, int(empty.sum()), "empty values")
        reg[col] = text
    check_registry_rows(reg.reset_index(drop=True), _REGISTRY)
    start = pd.to_datetime(reg["start_date"], errors="coerce", format="mixed")
    if start.isna().any():
        raise InputError(_REGISTRY, "start_date", int(start.isna().sum()), "not a date")
    reg["start_date"] = start.astype("datetime64[s]")
    long = reg.assign(area_code=reg["area_codes"].str.split(";")).explode("area_code")
    long["area_code"] = long["area_code"].str.strip()
    bad = ~long["area_code"].str.match(_CODE_PATTERN)
    if bad.any():
        raise InputError(_REGISTRY, "area_codes", int(bad.sum()), "not an area code (GMgggg, WKggggww, BUggggwwbb)")
    if geography is not None:
        unknown = ~long["area_code"].isin(geography.all_codes)
        if unknown.any():
            raise InputError(_REGISTRY, "area_codes", int(unknown.sum()), "unknown area code")
    long = long.assign(age_band=long["age_bands"].str.split(";")).explode("age_band")
    long["age_band"] = long["age_band"].str.strip()
    badb = ~long["age_band"].isin(AGE_BANDS)
    if badb.any():
        raise InputError(_REGISTRY, "age_bands", int(badb.sum()), f"age band not one of {', '.join(AGE_BANDS)}")
    out = long[["intervention_id", "name", "area_code", "age_band", "start_date"]].drop_duplicates()
    return out.reset_index(drop=True)


def _area_map(geography: Geography, level: str) -> pd.DataFrame:
    """Pairs (code, area_code): any gemeente/wijk/buurt code -> the panel areas it covers."""
    h = geography.hierarchy()
    pairs = [pd.DataFrame({"code": h[col], "area_code": h[level]}) for col in ("buurt", "wijk", "gemeente")]
    return pd.concat(pairs, ignore_index=True).drop_duplicates().reset_index(drop=True)


def expand_treated_areas(registry_long: pd.DataFrame, geography: Geography, level: str) -> pd.DataFrame:
    """Map registry codes to panel areas of ``level``.

    A coarser code (a gemeente for a wijk panel) covers all its areas; a finer code (a buurt
    for a wijk panel) marks the area containing it as treated.

    Returns
    -------
    DataFrame
        ``intervention_id, area_code, age_band, start_date``, unique rows.

    Examples
    --------
    >>> from features.geography import load_geography
    >>> reg = parse_registry(pd.DataFrame({"intervention_id": ["A"], "name": ["x"],
    ...     "area_codes": ["GM0363"], "age_bands": ["13-19"], "start_date": ["2020-01-01"]}))
    >>> wk = expand_treated_areas(reg, load_geography(), "wijk")
    >>> bool(wk["area_code"].str.startswith("WK0363").all()) and len(wk) > 1
    True
    """
    amap = _area_map(geography, level)
    out = registry_long.merge(amap, left_on="area_code", right_on="code", how="inner", suffixes=("_reg", ""))
    cols = ["intervention_id", "area_code", "age_band", "start_date"]
    return out[cols].drop_duplicates().reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# outcome panels
# --------------------------------------------------------------------------------------------


def _days(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)


def _panel_years(addresses: pd.DataFrame, observation_end: dt.date, config: InterventionConfig) -> list[int]:
    obs = pd.Timestamp(observation_end)
    last_complete = obs.year if (obs.month, obs.day) == (12, 31) else obs.year - 1
    last = config.last_year or last_complete
    if last > last_complete:
        raise InputError("addresses", None, None, f"panel year {last} runs past the data cut-off {observation_end}")
    if config.first_year:
        first = config.first_year
    else:
        first_start = pd.Timestamp(addresses["date_start"].min())
        first_full = first_start.year if (first_start.month, first_start.day) == (1, 1) else first_start.year + 1
        first = max(first_full, last - config.max_panel_years + 1)
    if last - first + 1 < config.min_pre_periods + 1:
        raise InputError("addresses", "date_start", None, f"too few panel years ({max(last - first + 1, 0)})")
    return list(range(first, last + 1))


#: The delivery tables :func:`build_outcome_panel` reads, and the columns it needs of each.
PANEL_COLUMNS_NEEDED: dict[str, tuple[str, ...]] = {
    "persons": ("rinpersoon", "birth_date"),
    "addresses": ("rinpersoon", "buurt_code", "date_start", "date_end"),
    "suspects": ("rinpersoon", "registration_date", "offence"),
}
PANEL_TABLES = tuple(PANEL_COLUMNS_NEEDED)


def _check_panel_tables(tables: Mapping[str, pd.DataFrame]) -> None:
    """Refuse a delivery without the tables and columns the outcome panel needs."""
    for name, cols in PANEL_COLUMNS_NEEDED.items():
        if name not in tables:
            raise InputError(name, None, None, "table missing (needed for the outcome panel)")
        miss = [c for c in cols if c not in tables[name].columns]
        if miss:
            raise InputError(name, miss[0], None, "missing column (needed for the outcome panel)")


def _area_of_addresses(addresses: pd.DataFrame, geography: Geography, level: str) -> tuple[pd.Index, np.ndarray]:
    """The areas of ``level`` (sorted codes) and the position of each address's area among
    them; refused for buurten unknown to the geography.

    Each distinct buurt code is looked up once (a validated delivery's codes are categorical:
    their categories; otherwise the distinct values), then spread over the rows by position.
    """
    h = geography.hierarchy()
    area_codes = pd.Index(sorted(set(h[level])))
    area_of_buurt = pd.Series(area_codes.get_indexer(h[level].to_numpy()), index=h["buurt"].to_numpy())
    codes = addresses["buurt_code"]
    if isinstance(codes.dtype, pd.CategoricalDtype):
        row_code = codes.cat.codes.to_numpy().astype(np.int64)
        distinct = codes.cat.categories.astype("str")
    else:
        row_code, uniques = pd.factorize(codes.astype("str").to_numpy())
        distinct = pd.Index(uniques)
    # a missing code (-1) or a buurt the geography lacks: position -1
    known = area_of_buurt.reindex(distinct.to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    a_area = np.append(known, -1)[row_code]
    unknown = int((a_area < 0).sum())
    if unknown:
        raise InputError("addresses", "buurt_code", unknown, "buurt code unknown to the 2024 geography")
    return area_codes, a_area


def _band_of_age() -> np.ndarray:
    """Age (index, 0-199) -> position of its age band in ``AGE_BANDS`` (-1: none)."""
    band_of_age = np.full(200, -1, dtype=np.int64)
    for b, band_label in enumerate(AGE_BANDS):
        lo, hi = BAND_LIMITS[band_label]
        band_of_age[lo : hi + 1] = b
    return band_of_age


@dataclasses.dataclass(frozen=True)
class _AddressesByPerson:
    """The kept address rows (``row``) ordered by person, then start date, ties in row order,
    with their person position, start and end day in that order."""

    row: np.ndarray
    pos: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, keep_a: np.ndarray, a_start: np.ndarray, a_end: np.ndarray, a_pos: np.ndarray) -> _AddressesByPerson:
        """Sort once (stable): every year's selection below keeps this order."""
        kept = np.flatnonzero(keep_a)
        row = kept[np.lexsort((a_start[kept], a_pos[kept]))]
        return cls(row=row, pos=a_pos[row], start=a_start[row], end=a_end[row])


def _band_at(age: np.ndarray, band_of_age: np.ndarray) -> np.ndarray:
    """Position of each age's band (:func:`_band_of_age`; -1: none, also for ages outside it)."""
    inside = (age >= 0) & (age < len(band_of_age))
    return np.where(inside, band_of_age[np.clip(age, 0, len(band_of_age) - 1)], -1)


def _latest_address_on(jan1: int, addresses: _AddressesByPerson) -> np.ndarray:
    """Rows of the addresses that hold on day ``jan1``, one per person: the latest started
    (of equal starts, the last row), in order of person and start."""
    held = np.flatnonzero((addresses.start <= jan1) & (jan1 < addresses.end))
    pos = addresses.pos[held]
    last_of_person = np.ones(len(held), dtype=bool)
    last_of_person[:-1] = pos[1:] != pos[:-1]
    return addresses.row[held[last_of_person]]


def _panel_cells(
    y: int, area: np.ndarray, band: np.ndarray, registered: np.ndarray, area_codes: pd.Index
) -> pd.DataFrame:
    """Residents and registered residents of year ``y`` per area x band (cells with residents)."""
    n_area, n_band = len(area_codes), len(AGE_BANDS)
    cell = area * n_band + band
    n_persons = np.bincount(cell, minlength=n_area * n_band)
    n_reg = np.bincount(cell, weights=registered, minlength=n_area * n_band).astype(np.int64)
    has = np.flatnonzero(n_persons > 0)
    return pd.DataFrame(
        {
            "period": np.full(len(has), y, dtype=np.int64),
            "area_code": area_codes[has // n_band],
            "age_band": np.asarray(AGE_BANDS, dtype=object)[has % n_band],
            "n_persons": n_persons[has].astype(np.int64),
            "n_registered": n_reg[has],
        }
    )


def build_outcome_panel(
    tables: Mapping[str, pd.DataFrame],
    geography: Geography,
    config: InterventionConfig,
    *,
    observation_end: dt.date,
    band_offences: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Annual suspect-registration rate per area x age band x year, from a delivery's tables.

    For year ``y``: the young people are the residents on 1 January ``y`` (address episode with
    ``date_start <= 1 Jan < date_end``) aged 8-23 on that day, in their age band; a person counts
    as registered when at least one suspect registration for one of the band's offences falls
    in calendar year ``y``. This mirrors how the interventions act (on residents of the area and
    band on 1 January).

    The band's offences: with ``config.outcome == "label"`` those of the band's risk label
    (``band_offences``, default the ``[features.labels]`` defaults: drug law (Opiumwet) for
    13-19 and 20-23, any offence for 8-12), so an effect is measured on the outcome whose risk
    the product models; with ``"offences"`` the offences ``config.offences`` for every band.
    The label's horizon (24 or 48 months) is not applied: the panel is the annual rate, i.e.
    the outcome per year of exposure (a 24-month risk is about the chance over two such years).

    Parameters
    ----------
    tables : mapping
        Contract tables ``persons``, ``addresses`` and ``suspects`` (a
        :class:`features.contract.Delivery` works).
    geography : Geography
        Buurt -> wijk -> gemeente map.
    config : InterventionConfig
        Panel level, offences, years, rate scale.
    observation_end : date
        Data cut-off; only complete years up to it are used.

    Returns
    -------
    DataFrame
        :data:`PANEL_COLUMNS` plus ``n_registered``; ``period`` is the year (int),
        ``value`` the rate per ``config.rate_per``, ``outcome`` the band's offences in words.
        Only area x band x year cells with residents.
        CONFIDENTIAL (contains small counts) until disclosure control.

    Raises
    ------
    InputError
        Missing tables or columns, addresses in buurten unknown to the geography, too few years.
    """
    _check_panel_tables(tables)
    persons, addresses, suspects = tables["persons"], tables["addresses"], tables["suspects"]
    years = _panel_years(addresses, observation_end, config)
    level = config.panel_level
    area_codes, a_area = _area_of_addresses(addresses, geography, level)

    pid = pd.Index(persons["rinpersoon"].to_numpy())
    a_pos = pid.get_indexer(addresses["rinpersoon"].to_numpy())
    birth = pd.to_datetime(persons["birth_date"])
    b_year = birth.dt.year.to_numpy()
    b_jan1 = ((birth.dt.month == 1) & (birth.dt.day == 1)).to_numpy()
    a_start = _days(addresses["date_start"])
    end = pd.to_datetime(addresses["date_end"])
    a_end = np.where(end.isna().to_numpy(), np.iinfo(np.int64).max, _days(end.fillna(pd.Timestamp(0))))
    offences = outcome_offences(config, band_offences)
    s_pos = pid.get_indexer(suspects["rinpersoon"].to_numpy())
    s_offence = suspects["offence"].astype("str")
    s_day = _days(suspects["registration_date"])
    # one registration mask per band (bands sharing offences share the mask)
    s_ok = {b: (s_pos >= 0) & s_offence.isin(offences[b]).to_numpy() for b in AGE_BANDS}

    band_of_age = _band_of_age()
    # a person in no age band in any panel year is never counted: their addresses are left
    # out before the sort (about two thirds of a national delivery's address rows)
    in_some_band = np.zeros(len(pid), dtype=bool)
    for y in years:
        in_some_band |= _band_at(y - b_year - 1 + b_jan1, band_of_age) >= 0
    keep_a = (a_pos >= 0) & in_some_band[a_pos]
    by_person = _AddressesByPerson.of(keep_a, a_start, a_end, a_pos)
    frames = []
    for y in years:
        jan1 = int(np.datetime64(f"{y}-01-01", "D").astype(np.int64))
        nxt = int(np.datetime64(f"{y + 1}-01-01", "D").astype(np.int64))
        idx = _latest_address_on(jan1, by_person)
        pos = a_pos[idx]
        band = _band_at(y - b_year[pos] - 1 + b_jan1[pos], band_of_age)
        inb = band >= 0
        pos, band, area = pos[inb], band[inb], a_area[idx][inb]
        in_year = (s_day >= jan1) & (s_day < nxt)
        registered = np.zeros(len(pos), dtype=bool)
        for b, band_name in enumerate(AGE_BANDS):
            mine = band == b
            registered[mine] = np.isin(pos[mine], s_pos[s_ok[band_name] & in_year])
        frames.append(_panel_cells(y, area, band, registered, area_codes))
    out = pd.concat(frames, ignore_index=True)
    out.insert(1, "area_level", level)
    out["value"] = config.rate_per * out["n_registered"] / out["n_persons"]
    out["area_code"] = out["area_code"].astype("str")
    out["age_band"] = out["age_band"].astype("str")
    out["outcome"] = out["age_band"].map({b: offence_words(offences[b]) for b in AGE_BANDS}).astype("str")
    return out[[*PANEL_COLUMNS, "n_registered", "outcome"]]


def outcome_offences(
    config: InterventionConfig, band_offences: Mapping[str, Sequence[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """Offences counted per age band (see :func:`build_outcome_panel`).

    Examples
    --------
    >>> outcome_offences(InterventionConfig())["13-19"]
    ('opiumwet',)
    >>> len(outcome_offences(InterventionConfig(outcome="offences"))["13-19"])
    5
    """
    if config.outcome == "offences":
        return {b: tuple(config.offences) for b in AGE_BANDS}
    if band_offences is None:
        band_offences = {b: lab.offences for b, lab in FeatureConfig().labels.items()}
    missing = [b for b in AGE_BANDS if b not in band_offences]
    if missing:
        raise InputError("labels", None, len(missing), f"no label offences for band(s) {', '.join(missing)}")
    return {b: tuple(band_offences[b]) for b in AGE_BANDS}


def offence_words(offences: Iterable[str]) -> str:
    """Plain words for a set of offences: "any offence", "drug law (Opiumwet)" or a list.

    Examples
    --------
    >>> offence_words(["opiumwet"]), offence_words(OFFENCES), offence_words(["geweld", "vermogen"])
    ('drug law (Opiumwet)', 'any offence', 'offences: geweld, vermogen')
    """
    off = tuple(dict.fromkeys(offences))
    if set(off) == set(OFFENCES):
        return "any offence"
    if off == ("opiumwet",):
        return "drug law (Opiumwet)"
    return "offences: " + ", ".join(off)


def _outcome_text(panel: pd.DataFrame, bands: Sequence[str], rate_per: int) -> str:
    """The effects table's outcome for an intervention's bands, in plain words."""
    if "outcome" not in panel.columns:
        return "value"
    words = panel.loc[panel["age_band"].isin(bands), ["age_band", "outcome"]].drop_duplicates("age_band")
    words = words.sort_values("age_band", key=lambda s: s.map(AGE_BANDS.index))
    if words.empty:
        return "value"
    if words["outcome"].iloc[0].startswith("modelled"):
        return str(words["outcome"].iloc[0])
    head = f"suspect registrations per {rate_per:,} young people per year: "
    if words["outcome"].nunique() == 1:
        return head + str(words["outcome"].iloc[0])
    return head + "; ".join(f"{o} ({b})" for b, o in zip(words["age_band"], words["outcome"], strict=True))


def panel_from_area_table(area_table: pd.DataFrame, level: str, value: str = "risk_mean") -> pd.DataFrame:
    """Outcome panel from disclosure-checked area tables of several periods (e.g. mean risk).

    Only published rows of ``level`` enter; suppressed cells are missing, so such areas drop
    out of a balanced panel.

    Parameters
    ----------
    area_table : DataFrame
        Area table(s) with ``period, area_level, area_code, age_band, n_persons, status`` and
        the ``value`` column.
    level : str
        Area level of the panel.
    value : str
        Column used as the outcome.

    Returns
    -------
    DataFrame
        :data:`PANEL_COLUMNS`; ``period`` as in the area table (a reference date: use
        ``period_kind="point"`` when estimating effects).
    """
    need = ("period", "area_level", "area_code", "age_band", "n_persons", "status", value)
    miss = [c for c in need if c not in area_table.columns]
    if miss:
        raise InputError("area_table", miss[0], None, "missing column")
    t = area_table[(area_table["area_level"] == level) & (area_table["status"] == "published")]
    out = pd.DataFrame(
        {
            "period": t["period"].to_numpy(),
            "area_level": level,
            "area_code": t["area_code"].astype("str").to_numpy(),
            "age_band": t["age_band"].astype("str").to_numpy(),
            "n_persons": pd.to_numeric(t["n_persons"], errors="coerce").to_numpy(float),
            "value": pd.to_numeric(t[value], errors="coerce").to_numpy(float),
        }
    )
    out["outcome"] = "modelled risk (area mean)" if value == "risk_mean" else f"modelled {value}"
    return out.dropna(subset=["n_persons", "value"]).reset_index(drop=True)


def _period_timestamp(values: Iterable[object]) -> pd.DatetimeIndex:
    out = []
    for v in values:
        if isinstance(v, (int, np.integer)):
            out.append(pd.Timestamp(int(v), 1, 1))
        else:
            out.append(pd.Timestamp(str(v)))
    return pd.DatetimeIndex(out)


def _cohort_index(start: pd.Timestamp, stamps: pd.DatetimeIndex, kind: str) -> int:
    """Index of the first treated period; len(stamps) if after the panel, -1 if before it."""
    if kind == "interval":  # the period containing the start
        k = int(np.searchsorted(stamps.to_numpy(), np.datetime64(start), side="right")) - 1
        return k
    return int(np.searchsorted(stamps.to_numpy(), np.datetime64(start), side="left"))  # first at/after


# --------------------------------------------------------------------------------------------
# difference-in-differences (Callaway-Sant'Anna, never-treated controls)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DidResult:
    """Aggregated ATT with its cluster-bootstrap interval, plus group-time and event-time cells.

    Attributes
    ----------
    att, ci_low, ci_high, se : float
        Simple aggregation (all post-treatment group-time cells weighted by cohort size).
    n_treated, n_control : int
        Areas in the estimate (after dropping incomplete ones).
    inference : str
        ``cluster_bootstrap`` or ``randomization`` (size-matched untreated clusters as fake
        treated, t ratios studentized by each cluster's residual noise; used when there are
        few treated clusters, for the main estimate and its in-time placebo alike).
    cells : DataFrame
        ``cohort, period, event_time, att, ci_low, ci_high`` (pre-treatment cells use the
        varying base t-1, as in Callaway-Sant'Anna's pre-trend test).
    event_study : DataFrame
        ``event_time, att, ci_low, ci_high`` (cohorts weighted by size).
    """

    att: float
    ci_low: float
    ci_high: float
    se: float
    n_treated: int
    n_control: int
    cells: pd.DataFrame
    event_study: pd.DataFrame
    inference: str = "cluster_bootstrap"


def _wide(
    panel: pd.DataFrame, areas: Sequence[str], periods: Sequence[object], min_persons: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced matrix (areas x periods) of values, mean-person weights and kept-area mask."""
    sub = panel[panel["area_code"].isin(areas)]
    val = sub.pivot_table(index="area_code", columns="period", values="value", aggfunc="first").reindex(
        index=list(areas), columns=list(periods)
    )
    n = sub.pivot_table(index="area_code", columns="period", values="n_persons", aggfunc="first").reindex(
        index=list(areas), columns=list(periods)
    )
    Y = val.to_numpy(float)
    N = n.to_numpy(float)
    keep = np.isfinite(Y).all(axis=1) & np.isfinite(N).all(axis=1) & (np.nan_to_num(N) >= min_persons).all(axis=1)
    return Y, np.nan_to_num(N).mean(axis=1), keep


def _stratified_multinomial(
    strata: np.ndarray, clusters: np.ndarray, n_rep: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_rep x n) bootstrap multipliers: clusters resampled with replacement within each stratum.

    Every area gets the number of times its cluster was drawn.
    """
    out = np.zeros((n_rep, len(strata)))
    rows = np.arange(n_rep)[:, None]
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        ids, local = np.unique(clusters[idx], return_inverse=True)
        k = len(ids)
        draw = rng.integers(0, k, size=(n_rep, k))
        counts = np.bincount((rows * k + draw).ravel(), minlength=n_rep * k).reshape(n_rep, k)
        out[:, idx] = counts[:, local]
    return out


def _att_core(
    Y: np.ndarray,
    cohorts: Sequence[tuple[int, int]],
    w_treated: Sequence[np.ndarray],
    w_control: np.ndarray,
    base_periods: int,
) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray, np.ndarray]]]:
    """Group-time ATTs and their simple aggregate, for R weightings at once.

    Parameters
    ----------
    Y : (n, T) outcomes.
    cohorts : list of (g, end): first treated column and exclusive last column of each cohort.
    w_treated : list of (R, n) weights of each cohort's treated areas (zero elsewhere).
    w_control : (R, n) weights of the never-treated areas.
    base_periods : periods before g averaged as the base of post-treatment cells (fewer when
        fewer exist).

    Returns
    -------
    simple : (R,) aggregated ATT.
    cells : list of (g, t, att (R,), cohort weight (R,)), post cells first then pre cells.
    """
    csum = w_control.sum(axis=1)
    num, den = 0.0, 0.0
    cells: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    for (g, end), wt in zip(cohorts, w_treated, strict=False):
        tsum = wt.sum(axis=1)
        if end > g:
            k = min(base_periods, g)
            D = Y[:, g:end] - Y[:, g - k : g].mean(axis=1, keepdims=True)
            att = (wt @ D) / tsum[:, None] - (w_control @ D) / csum[:, None]
            num = num + (att * tsum[:, None]).sum(axis=1)
            den = den + tsum * (end - g)
            cells.extend((g, g + j, att[:, j], tsum) for j in range(end - g))
        if g > 1:
            Dp = Y[:, 1:g] - Y[:, : g - 1]
            attp = (wt @ Dp) / tsum[:, None] - (w_control @ Dp) / csum[:, None]
            cells.extend((g, t, attp[:, t - 1], tsum) for t in range(1, g))
    simple = np.asarray(num / den) if np.any(np.asarray(den) > 0) else np.full(len(csum), np.nan)
    return simple, cells


def _ci(est: float, rep: np.ndarray, level: float, n_clusters: int) -> tuple[float, float]:
    """Bootstrap-SE interval with a small-sample correction for ``n_clusters`` treated clusters.

    ``est +- t_{G-1} * sqrt(G / (G - 1)) * sd(replicates)``: the percentile interval of a cluster
    bootstrap is too narrow with a few dozen clusters (measured: 87% coverage at G = 25).
    """
    g = max(int(n_clusters), 2)
    se = float(np.nanstd(rep, ddof=1)) * np.sqrt(g / (g - 1.0))
    half = float(student_t.ppf(0.5 + level / 2.0, g - 1)) * se
    return float(est - half), float(est + half)


def _did_cohorts(Y: np.ndarray, cohort: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The never-treated areas and the treatment cohorts with a base period before their start;
    refused with missing outcomes, no never-treated area or no such cohort."""
    if not np.isfinite(Y).all():
        raise InputError("panel", "value", int((~np.isfinite(Y)).any(axis=1).sum()), "missing outcome values")
    never = cohort < 0
    if not never.any():
        raise InputError("panel", "area_code", 0, "no never-treated area to compare with")
    gs = sorted({int(g) for g in cohort[~never] if g >= 1})
    if not gs:
        raise InputError("panel", "period", int((~never).sum()), "no treated area has a base period before its start")
    return never, gs


def _did_tables(
    cells: Sequence[tuple[int, int, np.ndarray, np.ndarray]], labels: Sequence[Any], n_cl: int, interval_level: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The group-time effects (cohort x period, sorted by cohort and event time) and the event
    study (weighted mean effect per event time), each with its bootstrap interval."""
    rows: list[dict[str, Any]] = []
    es: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for g, t, att, tw in cells:
        clo, chi = _ci(float(att[0]), att[1:], interval_level, n_cl)
        rows.append(
            {
                "cohort": labels[g],
                "period": labels[t],
                "event_time": t - g,
                "att": float(att[0]),
                "ci_low": clo,
                "ci_high": chi,
            }
        )
        es.setdefault(t - g, []).append((att, tw))
    es_rows = []
    for e in sorted(es):
        a = sum(att * tw for att, tw in es[e]) / sum(tw for _, tw in es[e])
        elo, ehi = _ci(float(a[0]), a[1:], interval_level, n_cl)
        es_rows.append({"event_time": e, "att": float(a[0]), "ci_low": elo, "ci_high": ehi})
    cell_cols = ["cohort", "period", "event_time", "att", "ci_low", "ci_high"]
    cells_df = pd.DataFrame(rows, columns=cell_cols)
    cells_df = cells_df.sort_values(["cohort", "event_time"], kind="stable").reset_index(drop=True)
    return cells_df, pd.DataFrame(es_rows, columns=["event_time", "att", "ci_low", "ci_high"])


def estimate_did(
    Y: np.ndarray,
    weights: np.ndarray,
    cohort: np.ndarray,
    config: InterventionConfig,
    *,
    cohort_end: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
    periods: Sequence[object] | None = None,
    rng: np.random.Generator | None = None,
) -> DidResult:
    """Callaway-Sant'Anna group-time ATTs with never-treated controls and a cluster bootstrap.

    ``ATT(g, t) = wmean_{G=g}(Y_t - Ybase_g) - wmean_{never}(Y_t - Ybase_g)`` for ``t >= g``,
    with ``Ybase_g`` the mean of the ``config.base_periods`` periods before ``g`` (1 = the
    paper's base period ``g-1``; more periods average out the noise of a single base year in
    small-count rates; fewer are used when the panel has fewer); aggregated over post cells
    weighted by cohort weight.
    Intervals: cluster bootstrap, clusters (default: areas) resampled with replacement within
    each cohort and within the never-treated (``config.n_bootstrap`` replicates); the interval
    is the estimate +- a t quantile (G-1 degrees of freedom, G treated clusters) times the
    bootstrap standard error inflated by sqrt(G/(G-1)). With few treated clusters this interval is too narrow; then
    :func:`estimate_intervention_effects` uses randomization inference instead.

    Parameters
    ----------
    Y : ndarray (n_areas, n_periods)
        Balanced outcomes (no missing values).
    weights : ndarray (n_areas,)
        Positive area weights (e.g. mean number of young people).
    cohort : ndarray (n_areas,) of int
        Column of the first treated period, ``-1`` for never-treated areas.
    config : InterventionConfig
        ``base_periods``, ``interval_level``, ``n_bootstrap``, ``seed``.
    cohort_end : ndarray (n_areas,), optional
        Exclusive last column used for each area's cohort (in-time placebos stop at the real
        start); default: all periods.
    clusters : ndarray (n_areas,), optional
        Cluster id per area for the bootstrap (e.g. the gemeente that was assigned the
        intervention); a cluster must not span cohorts. Default: every area its own cluster.
    periods : sequence, optional
        Period labels for the cells table (default: column numbers).
    rng : numpy Generator, optional
        Default: seeded from ``config.seed``.

    Returns
    -------
    DidResult

    Raises
    ------
    InputError
        No never-treated area, no treated cohort with a base period, or missing values.

    Examples
    --------
    >>> Y = np.array([[0.0, 0.0, 5.0], [1.0, 1.0, 6.0], [0.0, 1.0, 2.0], [2.0, 3.0, 4.0]])
    >>> res = estimate_did(Y, np.ones(4), np.array([2, 2, -1, -1]), InterventionConfig(base_periods=1, n_bootstrap=99))
    >>> res.att  # treated +5, controls +1 from the base period
    4.0
    """
    Y = np.asarray(Y, float)
    weights = np.asarray(weights, float)
    cohort = np.asarray(cohort, np.int64)
    n, T = Y.shape
    never, gs = _did_cohorts(Y, cohort)
    if cohort_end is None:
        cohort_end = np.full(n, T, dtype=np.int64)
    rng = rng if rng is not None else np.random.default_rng(config.seed)
    strata = np.where(never, -1, cohort)
    clusters = np.arange(n) if clusters is None else np.asarray(clusters)
    M = np.vstack([np.ones((1, n)), _stratified_multinomial(strata, clusters, config.n_bootstrap, rng)])
    Wc = M * (weights * never)[None, :]
    spec, Wt = [], []
    for g in gs:
        members = cohort == g
        end = int(np.min(cohort_end[members]))
        spec.append((g, min(end, T)))
        Wt.append(M * (weights * members)[None, :])
    simple, cells = _att_core(Y, spec, Wt, Wc, config.base_periods)
    n_cl = len(np.unique(clusters[np.isin(cohort, gs)]))
    lo, hi = _ci(float(simple[0]), simple[1:], config.interval_level, n_cl)
    labels = list(periods) if periods is not None else list(range(T))
    cells_df, event_study = _did_tables(cells, labels, n_cl, config.interval_level)
    treated_in = np.isin(cohort, gs)
    return DidResult(
        att=float(simple[0]),
        ci_low=lo,
        ci_high=hi,
        se=float(np.nanstd(simple[1:], ddof=1)),
        n_treated=int(treated_in.sum()),
        n_control=int(never.sum()),
        cells=cells_df,
        event_study=event_study,
    )


def _match_placebo_clusters(
    treated_size: np.ndarray, control_size: np.ndarray, config: InterventionConfig, rng: np.random.Generator
) -> np.ndarray:
    """(draws x n_treated) control-cluster picks without repeats within a draw.

    Treated clusters are matched in random order; each takes a random untaken cluster among the
    ``max(config.ri_pool_size, config.ri_pool_per_treated * n_treated)`` control clusters
    closest in size (so many treated clusters do not all draw from the same few), or the
    closest untaken one when its pool is used up.
    """
    n_t, n_c, P = len(treated_size), len(control_size), config.n_placebo_space
    dist = np.abs(np.log(control_size)[None, :] - np.log(treated_size)[:, None])
    pool = min(max(config.ri_pool_size, config.ri_pool_per_treated * n_t), n_c)
    in_pool = np.zeros((n_t, n_c), dtype=bool)
    in_pool[np.arange(n_t)[:, None], np.argsort(dist, axis=1, kind="stable")[:, :pool]] = True
    taken = np.zeros((P, n_c), dtype=bool)
    picks = np.empty((P, n_t), dtype=np.int64)
    rows = np.arange(P)
    for k in rng.permutation(n_t):
        score = np.where(in_pool[k][None, :], 2.0 + rng.random((P, n_c)), -dist[k][None, :] / (1.0 + dist[k].max()))
        score = np.where(taken, -np.inf, score)
        picks[:, k] = np.argmax(score, axis=1)
        taken[rows, picks[:, k]] = True
    return picks


def _cluster_noise(
    Y: np.ndarray, weights: np.ndarray, clusters: np.ndarray, reference: np.ndarray, g: int, end: int
) -> np.ndarray:
    """Residual variance of each cluster's outcome series: the noise scale of its DiD contrast.

    The cluster series is the weighted mean of its areas over periods ``0..end-1``; the residual
    removes the period means of the ``reference`` clusters (the controls) and the cluster's own
    means before ``g`` and from ``g`` on (so a constant effect from the start is not noise).
    Degrees of freedom: ``end - 2``. A cluster with a constant series gets the smallest positive
    variance seen (no cluster is taken to be quieter than the quietest one measured).

    Parameters
    ----------
    Y : (n, T) outcomes; weights : (n,) area weights.
    clusters : (n,) cluster index per area, ``0..K-1``.
    reference : (K,) bool, clusters whose period means are removed.
    g, end : split and exclusive last column.

    Returns
    -------
    (K,) variances.
    """
    K = int(clusters.max()) + 1
    size = np.bincount(clusters, weights=weights, minlength=K)
    S = np.vstack([np.bincount(clusters, weights=weights * Y[:, t], minlength=K) for t in range(end)]).T / size[:, None]
    ref = size * reference
    R = S - (ref @ S / ref.sum())[None, :]
    pre, post = R[:, :g], R[:, g:end]
    E = np.hstack([pre - pre.mean(axis=1, keepdims=True), post - post.mean(axis=1, keepdims=True)])
    s2 = (E * E).sum(axis=1) / max(end - 2, 1)
    pos = s2[s2 > 0]
    return np.where(s2 > 0, s2, pos.min() if len(pos) else 1.0)


def _studentized_se(wt: np.ndarray, wc: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Standard error (up to a factor common to all designs) of ``treated mean - control mean``.

    ``wt``, ``wc``: (R, n_clusters) cluster weights of the treated and control side; ``s2`` the
    clusters' noise variances (:func:`_cluster_noise`).
    """
    vt = (wt * wt) @ s2 / wt.sum(axis=1) ** 2
    vc = (wc * wc) @ s2 / wc.sum(axis=1) ** 2
    return np.sqrt(vt + vc)


def _assignment_stats(
    Y: np.ndarray,
    weights: np.ndarray,
    clusters: np.ndarray,
    specs: Sequence[tuple[int, int]],
    assign: np.ndarray,
    X: np.ndarray,
    noise: Sequence[np.ndarray],
    config: InterventionConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DiD of each row of cluster assignments: estimate, shift per unit effect, standard error.

    Parameters
    ----------
    Y : (n, T) outcomes; weights : (n,) area weights; clusters : (n,) cluster index ``0..K-1``.
    specs : list of (start, end) per cohort: first treated and exclusive last column.
    assign : (R, K) int, the cohort (index into ``specs``) of each cluster, -1 = control,
        -2 = left out.
    X : (n, T) the real treatment indicator (1 from each really treated area's start on).
    noise : per cohort, (K,) residual variances (:func:`_cluster_noise` split at its start).

    Returns
    -------
    est, shift, se : (R,) the simple-aggregate ATT, the same estimator applied to ``X`` (under
    "effect = theta" a row's ATT is ``est - theta * shift``) and the studentizing standard
    error: per cohort the :func:`_studentized_se` of its contrast, combined with the cohort
    weights of the aggregate (covariance through shared controls ignored: it only scales the
    statistic, the reference distribution makes the test exact).
    """
    K = assign.shape[1]
    size = np.bincount(clusters, weights=weights, minlength=K)
    Wt = [(assign == c)[:, clusters] * weights[None, :] for c in range(len(specs))]
    Wc = (assign == -1)[:, clusters] * weights[None, :]
    est, _ = _att_core(Y, specs, Wt, Wc, config.base_periods)
    shift, _ = _att_core(X, specs, Wt, Wc, config.base_periods)
    var, total = 0.0, 0.0
    for c, (g, end) in enumerate(specs):
        wt = (assign == c) * size[None, :]
        n_c = wt.sum(axis=1) * (end - g)
        var = var + n_c**2 * _studentized_se(wt, (assign == -1) * size[None, :], noise[c]) ** 2
        total = total + n_c
    return est, shift, np.sqrt(var) / total


def _did_randomization(
    Y: np.ndarray,
    weights: np.ndarray,
    clusters: np.ndarray,
    cluster_cohort: np.ndarray,
    specs: Sequence[tuple[int, int]],
    config: InterventionConfig,
    rng: np.random.Generator,
    *,
    untreated_draws: bool = False,
) -> tuple[tuple[float, float], np.ndarray, np.ndarray, np.ndarray]:
    """Placebo assignments for randomization inference, the real treated clusters included.

    Every draw replaces each real treated cluster by a random one among the
    ``config.ri_pool_size`` clusters closest in size, itself and the other treated clusters
    included (so the real assignment belongs to the reference set, as a permutation test
    needs); the replacement keeps the replaced cluster's start (staggered adoption: each
    draw has the real assignment's cohorts); all other clusters are controls. Under the
    hypothesis "effect = theta from each start on" a draw's ATT is ``est - theta * shift``
    (``shift``: the same estimator applied to the real treatment indicator: 1 for the real
    assignment, about 0 for others).

    Parameters
    ----------
    Y, weights : (n, T) outcomes and (n,) weights of all areas of the estimate.
    clusters : (n,) cluster index ``0..K-1``.
    cluster_cohort : (K,) the real cohort (index into ``specs``) of each cluster, -1 = control.
    specs : list of (start, end): first treated column and exclusive last column per cohort.
    untreated_draws : bool
        Draws take their fake treated clusters from the untreated clusters only and leave the
        really treated ones out altogether (the real assignment still counts as one of the
        equally likely ones in :func:`_ri_interval`). For staggered in-time placebos: a really
        treated cluster's data after its real start lie inside a later cohort's window and
        carry the real effect, which the placebo hypothesis does not describe.

    Returns
    -------
    real : (est, se) of the real assignment.
    est, shift, se : (P,) ATT of each draw at theta = 0, its shift per unit of theta, and its
    standard error (:func:`_assignment_stats`; not changed by theta).
    """
    K = len(cluster_cohort)
    size = np.bincount(clusters, weights=weights, minlength=K)
    treated = cluster_cohort >= 0
    T = Y.shape[1]
    area_start = np.full(len(weights), T)
    own = cluster_cohort[clusters]
    area_start[own >= 0] = np.asarray([g for g, _ in specs])[own[own >= 0]]
    X = (np.arange(T)[None, :] >= area_start[:, None]).astype(float)
    noise = [_cluster_noise(Y[:, :end], weights, clusters, ~treated, g, end) for g, end in specs]
    # a really treated cluster's noise is always split at its own start: an effect from its
    # start is then never counted as noise, whatever cohort a draw gives it (keeps the test's
    # inversion exact under staggered starts)
    own_noise = np.zeros(K)
    for c in range(len(specs)):
        own_noise[cluster_cohort == c] = noise[c][cluster_cohort == c]
    noise = [np.where(treated, own_noise, n) for n in noise]
    if untreated_draws:
        pool = np.flatnonzero(~treated)
        picks = pool[_match_placebo_clusters(size[treated], size[pool], config, rng)]
    else:
        picks = _match_placebo_clusters(size[treated], size, config, rng)
    P = len(picks)
    assign = np.full((P + 1, K), -1, dtype=np.int64)
    assign[0] = cluster_cohort
    if untreated_draws:
        assign[1:, treated] = -2
    assign[1 + np.arange(P)[:, None], picks] = cluster_cohort[treated][None, :]
    est, shift, se = _assignment_stats(Y, weights, clusters, specs, assign, X, noise, config)
    return (float(est[0]), float(se[0])), est[1:], shift[1:], se[1:]


def _ri_interval(
    est: float, se: float, null_est: np.ndarray, null_shift: np.ndarray, null_se: np.ndarray, level: float
) -> tuple[float, float]:
    """Interval by inverting a studentized randomization test of "effect = theta".

    Under the hypothesis the real t ratio is ``(est - theta) / se`` and draw ``s``'s is
    ``(null_est[s] - theta * null_shift[s]) / null_se[s]``. theta is rejected when the real
    ratio is above (below) all but fewer than ``(1 - level) / 2 * (P + 1)`` of the ``P`` draws,
    the real assignment counted as one of ``P + 1`` equally likely ones (ties count against
    rejection). Every draw's ratio minus the real one is linear in theta, so the accepted set
    changes only where one of them crosses zero; the interval is the hull of the accepted
    crossing points, infinite on a side that is never rejected. Dividing by each draw's own
    noise keeps the test honest when clusters differ in noise (Ferman and Pinto 2019;
    MacKinnon and Webb 2020). With ``null_shift = 0`` this is ``est - se * q`` for the
    permutation order statistics ``q`` of the placebo t ratios.
    """
    ok = np.isfinite(null_est) & np.isfinite(null_se) & (null_se > 0)
    u = null_est[ok] / null_se[ok] - est / se
    v = null_shift[ok] / null_se[ok] - 1.0 / se
    P = len(u)
    # rejected when at most ``limit - 1`` draws are at least as far out (float-safe floor)
    limit = int(np.floor((1.0 - level) / 2.0 * (P + 1) * (1.0 + 1e-12)))

    def accepted(theta: np.ndarray) -> np.ndarray:
        d = u[None, :] - theta[:, None] * v[None, :]  # draw ratio minus real ratio
        # a draw exactly at a crossing point is a tie whatever the rounding of u and v
        tol = 1e-9 * (np.abs(u)[None, :] + np.abs(theta[:, None] * v[None, :]) + 1.0)
        return ((d >= -tol).sum(axis=1) >= limit) & ((d <= tol).sum(axis=1) >= limit)

    moving = v != 0
    cross = np.unique(u[moving] / v[moving])
    if len(cross) == 0:
        return -np.inf, np.inf
    span = max(float(cross[-1] - cross[0]), abs(est), se)
    outer = accepted(np.array([cross[0] - span, cross[-1] + span]))
    acc = cross[accepted(cross)]
    if len(acc) == 0:  # cannot happen with ties counted as acceptance; keep the point estimate
        return float(est), float(est)
    return (-np.inf if outer[0] else float(acc[0])), (np.inf if outer[1] else float(acc[-1]))


# --------------------------------------------------------------------------------------------
# synthetic control
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScmResult:
    """Synthetic-control estimate with placebo-based interval.

    Attributes
    ----------
    effect : float
        Mean post-period gap (treated minus synthetic).
    ci_low, ci_high : float
        ``effect`` minus the central ``interval_level`` range of the donors' placebo effects.
    gaps : DataFrame
        ``period, treated, synthetic, gap`` over all periods used.
    weights : Series
        Donor weights (index: area code), non-negative and summing to 1.
    placebo_effects : ndarray
        Effect of each donor treated as if it were the treated area.
    pre_rmspe : float
        Root mean squared pre-period gap of the fit.
    """

    effect: float
    ci_low: float
    ci_high: float
    gaps: pd.DataFrame
    weights: pd.Series
    placebo_effects: np.ndarray
    pre_rmspe: float


def _project_simplex(V: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean projection onto the probability simplex of the allowed entries."""
    neg = np.where(allowed, V, -np.inf)
    U = -np.sort(-neg, axis=1)
    valid = np.isfinite(U)
    css = np.cumsum(np.where(valid, U, 0.0), axis=1)
    k = np.arange(1, V.shape[1] + 1)[None, :]
    cond = valid & (U - (css - 1.0) / k > 0)
    rho = cond.shape[1] - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = (css[np.arange(len(V)), rho] - 1.0) / (rho + 1.0)
    return np.where(allowed, np.maximum(V - theta[:, None], 0.0), 0.0)


def _simplex_lsq(A: np.ndarray, B: np.ndarray, allowed: np.ndarray, config: InterventionConfig) -> np.ndarray:
    """argmin ||A w_k - b_k||^2 + mu^2 ||w_k||^2 over w_k >= 0, sum(w_k) = 1, zero where not allowed.

    ``mu^2`` is ``config.scm_ridge`` times the mean squared donor column norm: a small ridge
    makes the weights unique and spreads them over donors (less noise from any one donor).
    One problem per column of ``B`` (T, K); result (K, J). Each is solved exactly for
    non-negativity by Lawson-Hanson NNLS with the sum-to-one condition as an extra row weighted
    ``config.scm_sum_weight`` times the scale of ``A`` (violations of order 1/weight^2), then
    renormalised and polished by projected-gradient steps on the simplex.
    """
    K, J = B.shape[1], A.shape[1]
    lam = config.scm_sum_weight * max(1.0, float(np.linalg.norm(A, 2)))
    mu = np.sqrt(config.scm_ridge * float(np.sum(A * A)) / J)
    W = np.zeros((K, J))
    for k in range(K):
        cols = np.flatnonzero(allowed[k])
        Ak = np.vstack([A[:, cols], mu * np.eye(len(cols)), np.full((1, len(cols)), lam)])
        bk = np.r_[B[:, k], np.zeros(len(cols)), lam]
        w, _ = nnls(Ak, bk, maxiter=config.scm_max_iter)
        W[k, cols] = w / w.sum() if w.sum() > 0 else 1.0 / len(cols)
    G = A.T @ A + mu * mu * np.eye(J)
    L = 2.0 * max(float(np.linalg.eigvalsh(G)[-1]), np.finfo(float).tiny)
    C = (A.T @ B).T
    for _ in range(config.scm_polish_steps):
        W = _project_simplex(W - 2.0 * (W @ G - C) / L, allowed)
    return W


def _scm_fit(
    Y: np.ndarray, X: np.ndarray, allowed: np.ndarray, g: int, end: int, config: InterventionConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Donor weights (K, J) and gaps (end, K) for K target series Y (T, K) and donors X (T, J)."""
    Y, X = Y[:end], X[:end]
    if config.scm_demean:
        Y = Y - Y[:g].mean(axis=0, keepdims=True)
        X = X - X[:g].mean(axis=0, keepdims=True)
    W = _simplex_lsq(X[:g], Y[:g], allowed, config)
    return W, Y - X @ W.T


def estimate_synthetic_control(
    y: np.ndarray,
    donors: np.ndarray,
    g: int,
    config: InterventionConfig,
    *,
    end: int | None = None,
    donor_codes: Sequence[str] | None = None,
    periods: Sequence[object] | None = None,
) -> ScmResult:
    """Synthetic control for one treated series, with in-space placebo inference.

    The synthetic unit is the convex combination of donors closest to the treated series over
    periods ``0..g-1`` (after removing each series' pre-period mean if ``config.scm_demean``).
    The effect is the mean gap over periods ``g..end-1``. Every donor is in turn treated as if
    it were treated (the remaining donors as its pool); the interval is the effect minus the
    central ``config.interval_level`` range of those placebo effects (their spread is the estimator's
    noise under no effect).

    Parameters
    ----------
    y : ndarray (T,)
        Outcome of the treated area (or the weighted mean of a few treated areas).
    donors : ndarray (T, J)
        Outcomes of never-treated donor areas.
    g : int
        First treated period (column).
    config : InterventionConfig
    end : int, optional
        Exclusive last period used (in-time placebos stop at the real start).
    donor_codes, periods : sequence, optional
        Labels for the weights and gaps tables.

    Returns
    -------
    ScmResult

    Examples
    --------
    >>> t = np.arange(6.0)
    >>> donors = np.column_stack([t, 2 * t, 10 + 0 * t])
    >>> y = 1.5 * t + np.r_[0, 0, 0, 0, 1, 1]  # halfway between donors 1 and 2, +1 from period 4
    >>> round(estimate_synthetic_control(y, donors, 4, InterventionConfig(scm_ridge=0.0)).effect, 6)
    1.0
    """
    y = np.asarray(y, float)
    X = np.asarray(donors, float)
    T, J = X.shape
    end = T if end is None else end
    if g < config.min_pre_periods or end <= g:
        raise InputError("panel", "period", None, "too few periods before or after the start for synthetic control")
    if J < 2:
        raise InputError("panel", "area_code", J, "too few donor areas for synthetic control")
    W, gap = _scm_fit(y[:, None], X, np.ones((1, J), bool), g, end, config)
    w, gap = W[0], gap[:, 0]
    effect = float(gap[g:end].mean())
    # in-space placebos: donor j against all other donors (one batched fit)
    _, pgaps = _scm_fit(X, X, ~np.eye(J, dtype=bool), g, end, config)
    plac = pgaps[g:end].mean(axis=0)
    a = (1.0 - config.interval_level) / 2.0
    q_lo, q_hi = np.quantile(plac, [a, 1.0 - a])
    labels = list(periods)[:end] if periods is not None else list(range(end))
    treated = y[:end] - (y[:g].mean() if config.scm_demean else 0.0)
    gaps = pd.DataFrame({"period": labels, "treated": treated, "synthetic": treated - gap, "gap": gap})
    codes = list(donor_codes) if donor_codes is not None else [str(j) for j in range(J)]
    return ScmResult(
        effect=effect,
        ci_low=float(effect - q_hi),
        ci_high=float(effect - q_lo),
        gaps=gaps,
        weights=pd.Series(w, index=codes, name="weight"),
        placebo_effects=plac,
        pre_rmspe=float(np.sqrt(np.mean(gap[:g] ** 2))),
    )


# --------------------------------------------------------------------------------------------
# the registry -> effects table
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EffectsResult:
    """Effects table plus per-intervention details and the interventions that were skipped.

    Attributes
    ----------
    effects : DataFrame
        :data:`EFFECT_COLUMNS`; methods ``did_cs`` / ``synthetic_control`` and their placebos
        ``placebo_time:<method>`` and ``placebo_space:<method>``. For ``placebo_space`` rows the
        estimate is the mean placebo effect and the interval the central range of the placebo
        distribution. Units: those of the panel's ``value`` (default: registrations per 1,000
        young people per year).
    details : dict
        intervention_id -> DidResult or ScmResult of the main estimate.
    skipped : DataFrame
        ``intervention_id, reason`` for interventions (or placebos) that could not be estimated.
    """

    effects: pd.DataFrame
    details: dict[str, DidResult | ScmResult]
    skipped: pd.DataFrame


_LEVEL_RANK = {"buurt": 0, "wijk": 1, "gemeente": 2}


def _clusters_of(areas: Sequence[str], codes: Iterable[str], geography: Geography, panel_level: str) -> np.ndarray:
    """Cluster id per panel area: its area at the level the intervention was assigned at.

    The assignment level is the coarsest level among the registry ``codes``; panel areas finer
    than it are clustered by their ancestor at that level, otherwise each area is its own.
    """
    assign = max((_PREFIX_LEVEL[c[:2]] for c in codes), key=_LEVEL_RANK.__getitem__)
    if _LEVEL_RANK[assign] <= _LEVEL_RANK[panel_level]:
        labels = np.asarray(areas, dtype=object)
    else:
        h = geography.hierarchy()
        anc = h.drop_duplicates(panel_level).set_index(panel_level)[assign]
        labels = anc.reindex(list(areas)).fillna(pd.Series(list(areas), index=list(areas))).to_numpy(dtype=object)
    return pd.factorize(pd.Series(labels, dtype="str"))[0]


def _band_panel(panel: pd.DataFrame, bands: Sequence[str], mix: str = "fixed") -> pd.DataFrame:
    """Combine age bands into one rate per area and period.

    ``mix = "fixed"``: each band's rate weighted by the area's mean number of young people of
    that band over all periods (direct standardisation to the area's own band mix), so a
    change in the band mix over time (e.g. a band that fills up as birth cohorts enter it, or
    young adults moving into cities) is not read as a change in the outcome. ``"yearly"``: the
    pooled rate of the year (weights: that year's persons). ``n_persons`` is the yearly total
    either way.
    """
    p = panel[panel["age_band"].isin(bands)]
    if mix == "fixed":
        mean_n = p.groupby(["area_code", "age_band"])["n_persons"].transform("mean")
        p = p.assign(_w=mean_n)
    else:
        p = p.assign(_w=p["n_persons"])
    p = p.assign(_wv=p["value"] * p["_w"])
    g = p.groupby(["area_code", "period"], as_index=False, sort=True).agg(
        n_persons=("n_persons", "sum"), _wv=("_wv", "sum"), _w=("_w", "sum")
    )
    g["value"] = g["_wv"] / g["_w"]
    return g.drop(columns=["_wv", "_w"])


def _treatment_cohorts(
    treated_long: pd.DataFrame,
    iv_id: str,
    stamps: pd.DatetimeIndex,
    period_kind: str,
    config: InterventionConfig,
    skipped: list[dict[str, str]],
) -> pd.Series | None:
    """Treated area -> index of the period its treatment starts in, for the areas with at least
    ``config.min_pre_periods`` periods before the start inside the panel; the areas left out
    (or the whole intervention, None) are recorded in ``skipped``."""
    first = treated_long[treated_long["intervention_id"] == iv_id].groupby("area_code")["start_date"].min()
    g_area = pd.Series([_cohort_index(pd.Timestamp(v), stamps, period_kind) for v in first], index=first.index)
    usable = (g_area >= config.min_pre_periods) & (g_area < len(stamps))
    if not usable.any():
        skipped.append({"intervention_id": iv_id, "reason": "start outside the panel or too few periods before it"})
        return None
    if not usable.all():
        skipped.append(
            {
                "intervention_id": iv_id,
                "reason": f"{int((~usable).sum())} treated area(s) left out: start outside the panel or "
                "too few periods before it",
            }
        )
    return g_area[usable]


def estimate_intervention_effects(
    registry: pd.DataFrame,
    panel: pd.DataFrame,
    geography: Geography,
    config: InterventionConfig,
    *,
    period_kind: Literal["interval", "point"] = "interval",
) -> EffectsResult:
    """Estimate every registry intervention's effect, with in-time and in-space placebos.

    Per intervention: the panel is restricted to its age bands (pooled per area), treated areas
    are the panel areas its codes cover, controls are areas never treated by any intervention
    with an overlapping band. With at least ``config.min_treated_did`` treated areas:
    Callaway-Sant'Anna DiD; otherwise synthetic control on the (person-weighted) treated
    aggregate. Placebos: the start moved ``config.placebo_shift_periods`` earlier on data before
    the real start, and untreated areas as fake treated.

    Parameters
    ----------
    registry : DataFrame
        The intervention registry (see :func:`parse_registry`).
    panel : DataFrame
        :data:`PANEL_COLUMNS`, areas of ``config.panel_level`` (e.g. from
        :func:`build_outcome_panel` or :func:`panel_from_area_table`).
    geography : Geography
    config : InterventionConfig
    period_kind : {"interval", "point"}
        ``interval``: a period is a span starting at its label (a year); the period containing
        the start date is the first treated one. ``point``: a period is a reference date; the
        first one on or after the start date is the first treated one.

    Returns
    -------
    EffectsResult
    """
    miss = [c for c in ("period", "area_code", "age_band", "n_persons", "value") if c not in panel.columns]
    if miss:
        raise InputError("panel", miss[0], None, "missing column")
    reg = parse_registry(registry, geography)
    treated_long = expand_treated_areas(reg, geography, config.panel_level)
    periods = sorted(panel["period"].unique().tolist())
    stamps = _period_timestamp(periods)
    rng = np.random.default_rng(config.seed)
    rows: list[dict[str, object]] = []
    skipped: list[dict[str, str]] = []
    details: dict[str, DidResult | ScmResult] = {}
    for iv_id in reg["intervention_id"].drop_duplicates().tolist():
        mine = reg[reg["intervention_id"] == iv_id]
        bands = sorted(mine["age_band"].unique().tolist())
        g_area = _treatment_cohorts(treated_long, iv_id, stamps, period_kind, config, skipped)
        if g_area is None:
            continue
        treated = sorted(g_area.index)
        overlapping = treated_long["age_band"].isin(bands)
        ever = set(treated_long.loc[overlapping, "area_code"])
        bp = _band_panel(panel, bands, config.band_mix)
        all_areas = sorted(set(bp["area_code"]))
        controls = [a for a in all_areas if a not in ever]
        areas = [*treated, *controls]
        Y, w, keep = _wide(bp, areas, periods, config.min_persons)
        if config.weight == "equal":
            w = np.ones_like(w)
        is_t = np.r_[np.ones(len(treated), bool), np.zeros(len(controls), bool)]
        kt, kc = keep & is_t, keep & ~is_t
        if kt.sum() == 0:
            skipped.append({"intervention_id": iv_id, "reason": "no treated area with complete data"})
            continue
        if kc.sum() < 2:
            skipped.append({"intervention_id": iv_id, "reason": "too few never-treated areas with complete data"})
            continue
        n_before = len(rows)
        cohort = np.r_[g_area.reindex(treated).to_numpy(np.int64), np.full(len(controls), -1, dtype=np.int64)]
        if kt.sum() >= config.min_treated_did:
            cl = _clusters_of(areas, mine["area_code"].unique().tolist(), geography, config.panel_level)
            rows.extend(
                _did_rows(iv_id, Y[keep], w[keep], cohort[keep], cl[keep], periods, config, rng, details, skipped)
            )
        elif len(set(cohort[kt].tolist())) > 1:
            skipped.append({"intervention_id": iv_id, "reason": "synthetic control needs one start date"})
            continue
        else:
            g = int(cohort[kt][0])
            rows.extend(_scm_rows(iv_id, Y, w, kt, kc, g, np.asarray(areas), periods, config, details, skipped))
        text = _outcome_text(panel, bands, config.rate_per)
        for r in rows[n_before:]:
            r["outcome"] = text
    effects = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))
    effects["n_areas"] = effects["n_areas"].astype("int64")
    return EffectsResult(
        effects=effects, details=details, skipped=pd.DataFrame(skipped, columns=["intervention_id", "reason"])
    )


def finite_intervals(effects: pd.DataFrame) -> pd.DataFrame:
    """The effects table for a file: an infinite interval end blank, and ``reason`` saying why.

    Randomization inference (:func:`_ri_interval`, used with few treated clusters) compares the
    real assignment with placebo assignments of untreated clusters. With fewer than
    ``2 / (1 - interval_level) - 1`` of them (19 at 90 %) no effect size can be rejected, and with
    few more a side can stay unrejected: that side of the interval is honestly infinite. A file
    cannot hold infinity readably, so such an end is written empty and ``reason`` (blank on
    every other row) names the cause.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [1.0, 2.0], "ci_low": [0.5, -np.inf], "ci_high": [1.5, np.inf]})
    >>> finite_intervals(t)[["ci_low", "ci_high", "reason"]].to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'ci_low': [0.5, nan], 'ci_high': [1.5, nan], 'reason': ['', 'too few comparison areas: interval unbounded']}
    """
    lo, hi = effects["ci_low"].astype(float), effects["ci_high"].astype(float)
    unbounded = np.isinf(lo.to_numpy()) | np.isinf(hi.to_numpy())
    return effects.assign(
        ci_low=lo.where(~np.isinf(lo)),
        ci_high=hi.where(~np.isinf(hi)),
        reason=pd.array(np.where(unbounded, REASON_UNBOUNDED, ""), dtype="str"),
    )


def _row(iv_id: str, est: float, lo: float, hi: float, method: str, n: int) -> dict[str, object]:
    return {"intervention_id": iv_id, "estimate": est, "ci_low": lo, "ci_high": hi, "method": method, "n_areas": n}


def _did_rows(
    iv_id: str,
    Y: np.ndarray,
    w: np.ndarray,
    cohort: np.ndarray,
    clusters: np.ndarray,
    periods: Sequence[object],
    config: InterventionConfig,
    rng: np.random.Generator,
    details: dict[str, DidResult | ScmResult],
    skipped: list[dict[str, str]],
) -> list[dict[str, object]]:
    """DiD estimate, in-time and in-space placebo rows for one intervention.

    ``cohort``: per area the column of its first treated period, -1 for controls (several
    values: staggered adoption; controls are never-treated areas only, so no treated area is
    ever a control). Treated areas of one cluster with different starts form separate clusters
    (they were assigned separately). With few treated clusters the main estimate and the
    in-time placebo get the same interval method: studentized randomization inference
    (:func:`_ri_interval`) over size-matched untreated clusters.
    """
    is_treated = cohort >= 0
    labels = np.where(is_treated, clusters.astype(np.int64) * (len(periods) + 1) + cohort, -1 - clusters)
    local = pd.factorize(pd.Series(labels))[0]
    K = int(local.max()) + 1
    cl_cohort_col = np.full(K, -1, dtype=np.int64)
    cl_cohort_col[local[is_treated]] = cohort[is_treated]
    t_cl = cl_cohort_col >= 0
    n_t = int(is_treated.sum())
    n_tc = int(t_cl.sum())
    use_ri = n_tc < config.min_clusters_bootstrap
    n_c_clusters = K - n_tc
    can_ri = n_c_clusters >= 2 * n_tc and n_c_clusters > n_tc
    a = (1.0 - config.interval_level) / 2.0

    def randomization(
        starts: np.ndarray, ends: np.ndarray, placebo: bool = False
    ) -> tuple[float, float, float, np.ndarray]:
        """Estimate and interval, and the in-space placebo effects: every draw with the
        estimated effect taken out of the real treated clusters it contains."""
        pairs = sorted(set(zip(starts[t_cl].tolist(), ends[t_cl].tolist(), strict=True)))
        spec_of = {p: i for i, p in enumerate(pairs)}
        cc = np.array([spec_of[(int(g), int(e))] if t else -1 for g, e, t in zip(starts, ends, t_cl, strict=True)])
        end = max(e for _, e in pairs)
        (est, se), null, shift, null_se = _did_randomization(
            Y[:, :end], w, local, cc, pairs, config, rng, untreated_draws=placebo and len(pairs) > 1
        )
        lo, hi = _ri_interval(est, se, null, shift, null_se, config.interval_level)
        return est, lo, hi, null - est * shift

    T = Y.shape[1]
    res = estimate_did(Y, w, cohort, config, clusters=local, periods=periods, rng=rng)
    null = None
    if can_ri:
        _, lo, hi, null = randomization(cl_cohort_col, np.full(K, T))
        if use_ri:
            res = dataclasses.replace(res, ci_low=lo, ci_high=hi, inference="randomization")
    elif use_ri:
        skipped.append({"intervention_id": iv_id, "reason": "too few untreated clusters for randomization inference"})
        return []
    details[iv_id] = res
    out = [_row(iv_id, res.att, res.ci_low, res.ci_high, METHOD_DID, n_t)]
    fake = np.where(is_treated, cohort - config.placebo_shift_periods, -1)
    if (fake[is_treated] >= 1).all():
        pt = estimate_did(Y, w, fake, config, cohort_end=cohort, clusters=local, periods=periods, rng=rng)
        lo, hi = pt.ci_low, pt.ci_high
        if use_ri:
            fake_cl = np.where(t_cl, cl_cohort_col - config.placebo_shift_periods, -1)
            _, lo, hi, _ = randomization(fake_cl, cl_cohort_col, placebo=True)
        out.append(_row(iv_id, pt.att, lo, hi, PLACEBO_TIME + METHOD_DID, n_t))
    else:
        skipped.append({"intervention_id": iv_id, "reason": "in-time placebo: too few periods before the start"})
    if null is not None and len(null) > 0:
        lo, hi = np.nanquantile(null, [a, 1.0 - a])
        out.append(_row(iv_id, float(np.nanmean(null)), float(lo), float(hi), PLACEBO_SPACE + METHOD_DID, n_t))
    else:
        skipped.append({"intervention_id": iv_id, "reason": "in-space placebo: too few untreated clusters"})
    return out


def _scm_rows(
    iv_id: str,
    Y: np.ndarray,
    w: np.ndarray,
    kt: np.ndarray,
    kc: np.ndarray,
    g: int,
    areas: np.ndarray,
    periods: Sequence[object],
    config: InterventionConfig,
    details: dict[str, DidResult | ScmResult],
    skipped: list[dict[str, str]],
) -> list[dict[str, object]]:
    y = (Y[kt] * w[kt, None]).sum(axis=0) / w[kt].sum()
    size = w[kt].sum()
    cidx = np.flatnonzero(kc)
    closest = cidx[np.argsort(np.abs(np.log(w[cidx]) - np.log(size)), kind="stable")[: config.scm_max_donors]]
    closest = np.sort(closest)
    X = Y[closest].T
    n_t = int(kt.sum())
    res = estimate_synthetic_control(y, X, g, config, donor_codes=areas[closest].tolist(), periods=periods)
    details[iv_id] = res
    out = [_row(iv_id, res.effect, res.ci_low, res.ci_high, METHOD_SCM, n_t)]
    g_fake = g - config.placebo_shift_periods
    if g_fake >= config.min_pre_periods:
        pt = estimate_synthetic_control(y, X, g_fake, config, end=g)
        out.append(_row(iv_id, pt.effect, pt.ci_low, pt.ci_high, PLACEBO_TIME + METHOD_SCM, n_t))
    else:
        skipped.append({"intervention_id": iv_id, "reason": "in-time placebo: too few periods before the start"})
    a = (1.0 - config.interval_level) / 2.0
    lo, hi = np.quantile(res.placebo_effects, [a, 1.0 - a])
    out.append(_row(iv_id, float(np.mean(res.placebo_effects)), float(lo), float(hi), PLACEBO_SPACE + METHOD_SCM, 1))
    return out
