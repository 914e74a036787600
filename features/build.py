"""Build the person x reference-date feature table and the separate audit frame.

:func:`build_feature_table` turns a validated delivery into one row per person and reference
date (peildatum) for residents aged 8-23, with keys, the model inputs of
:mod:`features.catalogue` (missing where an indicator does not apply to the row's band: NaN
in the pandas frame, ``null`` once written to Parquet) and the band's label (NA when censored:
horizon past the data, or the person left the register within it without a registration).
Everything is vectorised over dense person arrays (see ``features._timeline``); reference
dates are processed one at a time (:func:`iter_feature_tables`) to bound memory.

Leakage rule: a feature, the scope and the area keys use only events strictly before the
reference date (an address that starts ON it is not yet known); the label uses only suspect
registrations and departures from the register on or after it. Audit-only attributes are read only by
:func:`build_audit_frame`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from aanwas.common.errors import ConfigError, InputError
from features._timeline import RefDate, Timeline, build_timeline
from features.care import build_care
from features.catalogue import INDICATORS, KEY_COLUMNS, LABEL_COLUMN
from features.config import AGE_BANDS, FeatureConfig
from features.contract import MIGRATION_GROUPS, SEX, Delivery
from features.debt import build_debt
from features.education import build_education
from features.geography import Geography, load_geography
from features.household import build_household
from features.justice import build_justice
from features.labels import build_label, is_censored, left_within_horizon
from features.residence import Residence, age_on, band_codes, build_mobility, build_residence

BAND_DTYPE = pd.CategoricalDtype(list(AGE_BANDS))
REF_DTYPE = "datetime64[s]"


def reference_dates(config: FeatureConfig, observation_end: dt.date) -> list[pd.Timestamp]:
    """Every ``config.ref_step_months`` months from ``config.first_ref_date`` up to ``observation_end``.

    Raises
    ------
    ConfigError
        If the first reference date lies after the observation end.

    Examples
    --------
    >>> [d.year for d in reference_dates(FeatureConfig(), dt.date(2024, 12, 31))]
    [2018, 2019, 2020, 2021, 2022, 2023, 2024]
    """
    first = pd.Timestamp(config.first_ref_date)
    end = pd.Timestamp(observation_end)
    if first > end:
        raise ConfigError(
            "features.first_ref_date", f"after the delivery's observation end {observation_end.isoformat()}"
        )
    out = []
    k = 0
    while (d := first + pd.DateOffset(months=k * config.ref_step_months)) <= end:
        out.append(d)
        k += 1
    return out


_AREA_CACHE: dict[int, tuple[Geography, tuple[dict[str, pd.CategoricalDtype], np.ndarray, np.ndarray]]] = {}


def _area_dtypes(geography: Geography) -> tuple[dict[str, pd.CategoricalDtype], np.ndarray, np.ndarray]:
    """Fixed category dtypes of buurt/wijk/gemeente and each buurt's wijk and gemeente position."""
    hit = _AREA_CACHE.get(id(geography))
    if hit is not None and hit[0] is geography:
        return hit[1]
    h = geography.hierarchy()
    buurt = pd.Index(h["buurt"].to_numpy(), name=None)
    wijk = pd.Index(pd.unique(h["wijk"]), name=None)
    gem = pd.Index(pd.unique(h["gemeente"]), name=None)
    dtypes = {
        "buurt": pd.CategoricalDtype(buurt),
        "wijk": pd.CategoricalDtype(wijk),
        "gemeente": pd.CategoricalDtype(gem),
    }
    out = (dtypes, wijk.get_indexer(h["wijk"]), gem.get_indexer(h["gemeente"]))
    _AREA_CACHE[id(geography)] = (geography, out)
    return out


def _per_person_indicators(
    tl: Timeline, ref: RefDate, config: FeatureConfig, residence: Residence
) -> dict[str, np.ndarray]:
    """Every ``ind_*`` of every person (not only residents) on ``ref``, one family at a time."""
    out: dict[str, np.ndarray] = {}
    out.update(build_justice(tl, ref, config))
    out.update(build_education(tl, ref, config))
    out.update(build_debt(tl, ref, config))
    out.update(build_household(tl, residence))
    out.update(build_care(tl, ref))
    out.update(build_mobility(tl, ref, config))
    return out


def _frame_at(
    tl: Timeline,
    ref: RefDate,
    config: FeatureConfig,
    observation_end: dt.date,
    area: tuple[dict[str, pd.CategoricalDtype], np.ndarray, np.ndarray],
) -> pd.DataFrame:
    residence = build_residence(tl, ref)
    age = age_on(tl.birth_year, tl.birth_mmdd, ref)
    band = band_codes(age)
    pos = np.flatnonzero(residence.resident & (band >= 0))
    row_band = band[pos]
    dtypes, wijk_of, gem_of = area
    buurt = residence.buurt[pos]
    cols: dict[str, object] = {
        "rinpersoon": tl.persons.ids[pos],
        "ref_date": np.full(len(pos), ref.date.to_datetime64()).astype(REF_DTYPE),
        "age_band": pd.Categorical.from_codes(row_band, dtype=BAND_DTYPE),
        "buurt": pd.Categorical.from_codes(buurt, dtype=dtypes["buurt"]),
        "wijk": pd.Categorical.from_codes(wijk_of[buurt], dtype=dtypes["wijk"]),
        "gemeente": pd.Categorical.from_codes(gem_of[buurt], dtype=dtypes["gemeente"]),
        "age": age[pos].astype(np.int8),
        "is_male": tl.is_male[pos],
    }
    values = _per_person_indicators(tl, ref, config, residence)
    expected = {i.name for i in INDICATORS if i.kind != "base"}
    if set(values) != expected:  # pragma: no cover - a family/catalogue mismatch is a bug
        raise RuntimeError(f"indicator builders and catalogue disagree: {sorted(set(values) ^ expected)}")
    for ind in INDICATORS:
        if ind.kind == "base":
            continue
        col = values[ind.name][pos].astype(np.float32)
        applies = np.array([b in ind.bands for b in AGE_BANDS])[row_band]
        col[~applies] = np.nan
        cols[ind.name] = col
    label = np.zeros(len(pos), bool)
    censored = np.zeros(len(pos), bool)
    for k, b in enumerate(AGE_BANDS):
        lab = config.labels[b]
        in_band = row_band == k
        hit = build_label(tl, ref, lab)[pos[in_band]]
        label[in_band] = hit
        left = left_within_horizon(tl, ref, lab)[pos[in_band]]
        censored[in_band] = is_censored(ref, lab, observation_end) | (left & ~hit)
    cols[LABEL_COLUMN] = pd.arrays.BooleanArray(label, censored)
    return pd.DataFrame(cols)


def _unpack(
    tables: Delivery | Mapping[str, pd.DataFrame], observation_end: dt.date | None
) -> tuple[Mapping[str, pd.DataFrame], dt.date]:
    if isinstance(tables, Delivery):
        return tables.tables, observation_end or tables.observation_end
    if observation_end is None:
        raise ConfigError("observation_end", "needed when building from bare tables (a Delivery carries it)")
    return tables, observation_end


def iter_feature_tables(
    tables: Delivery | Mapping[str, pd.DataFrame],
    config: FeatureConfig,
    *,
    observation_end: dt.date | None = None,
    geography: Geography | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the feature table one reference date at a time (same columns and dtypes each).

    See :func:`build_feature_table` for parameters.
    """
    tabs, obs_end = _unpack(tables, observation_end)
    refs = reference_dates(config, obs_end)
    geo = geography or load_geography()
    area = _area_dtypes(geo)
    tl = build_timeline(tabs, area[0]["buurt"].categories)
    for d in refs:
        yield _frame_at(tl, RefDate(d), config, obs_end, area)


def build_feature_table(
    tables: Delivery | Mapping[str, pd.DataFrame],
    config: FeatureConfig,
    *,
    observation_end: dt.date | None = None,
    geography: Geography | None = None,
) -> pd.DataFrame:
    """One row per person and reference date: keys, model inputs and label.

    Parameters
    ----------
    tables : Delivery or mapping of name -> DataFrame
        A validated delivery, or contract-typed tables (then ``observation_end`` is required).
    config : FeatureConfig
        Reference dates, look-back windows and the label of each band.
    observation_end : date, optional
        Last day the data cover; defaults to the delivery's. Labels whose horizon runs past it
        are NA.
    geography : Geography, optional
        Area hierarchy for ``wijk`` and ``gemeente``; defaults to the shipped 2024 map.

    Returns
    -------
    DataFrame
        ``rinpersoon`` int64, ``ref_date`` datetime64[s], ``age_band``/``buurt``/``wijk``/
        ``gemeente`` category, ``age`` int8, ``is_male`` int8, ``ind_*`` float32 (missing where
        the indicator does not apply to the row's band: NaN here, ``null`` in the Parquet file
        the features stage writes), ``label`` boolean (NA = censored: the horizon runs past the
        data, or the person left the register within it without a registration); sorted by
        ref_date, then rinpersoon.

    Raises
    ------
    InputError
        If a needed table or column is missing or a pseudonym, category or buurt is unknown.
    ConfigError
        If no reference date falls within the data.

    Examples
    --------
    >>> from features.sources.synth import generate  # doctest: +SKIP
    >>> ft = build_feature_table(delivery, FeatureConfig())  # doctest: +SKIP
    >>> ft[feature_columns("13-19")]  # doctest: +SKIP
    """
    parts = list(iter_feature_tables(tables, config, observation_end=observation_end, geography=geography))
    return pd.concat(parts, ignore_index=True)


def row_chunks(features: pd.DataFrame, audit: pd.DataFrame, rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(features, audit) of one reference date in consecutive slices of ``rows`` rows, each with
    a fresh RangeIndex: the row groups of the files the features stage writes (the last slice
    holds the rest; a date without rows is one empty slice).

    Examples
    --------
    >>> f = pd.DataFrame({"rinpersoon": [1, 2, 3, 4, 5]})
    >>> [len(c) for c, _ in row_chunks(f, f, 2)]
    [2, 2, 1]
    """
    for start in range(0, max(len(features), 1), rows):
        stop = start + rows
        yield features.iloc[start:stop].reset_index(drop=True), audit.iloc[start:stop].reset_index(drop=True)


@dataclasses.dataclass(frozen=True)
class AuditSource:
    """A delivery's audit attributes per person, prepared once for many feature chunks.

    Persons are looked up in one hash index built once (not once per chunk); ``income``
    holds, per person and calendar year ``first_year + j``, the group of the latest income
    year <= that year (-1 = none), so "latest year before the reference year" is one column
    look-up.
    """

    ids: pd.Index  # int64 pseudonyms (unique: the persons key), in the order of ``persons``
    sex: np.ndarray  # int8 codes into SEX, per person
    migration: np.ndarray  # int8 codes into MIGRATION_GROUPS
    first_year: int
    income: np.ndarray  # int8 (persons, years); -1 = no income year yet

    def positions(self, rin: np.ndarray, table: str = "feature table") -> np.ndarray:
        """Positions of ``rin`` among the persons.

        Raises
        ------
        InputError
            If a pseudonym is not in ``persons`` (count only).
        """
        pos = self.ids.get_indexer(rin)
        bad = pos < 0
        if bad.any():
            raise InputError(table, "rinpersoon", int(bad.sum()), "pseudonym not in persons")
        return pos

    def income_before(self, pos: np.ndarray, year: int) -> pd.arrays.IntegerArray:
        """Income group of the latest year < ``year`` for the persons at ``pos`` (NA if none)."""
        col = min(year - 1 - self.first_year, self.income.shape[1] - 1)
        if col < 0 or self.income.shape[1] == 0:
            return pd.arrays.IntegerArray(np.zeros(len(pos), np.int8), np.ones(len(pos), bool))
        values = self.income[pos, col]
        return pd.arrays.IntegerArray(np.maximum(values, 0).astype(np.int8), values < 0)


def audit_source(tables: Delivery | Mapping[str, pd.DataFrame]) -> AuditSource:
    """Prepare :class:`AuditSource` from ``persons`` and ``household_income`` (once per delivery).

    Raises
    ------
    InputError
        If ``persons`` lacks a needed column or an income row's pseudonym is not in ``persons``.
    """
    tabs = tables.tables if isinstance(tables, Delivery) else tables
    persons = tabs["persons"]
    for c in ("rinpersoon", "sex", "migration_group"):
        if c not in persons.columns:
            raise InputError("persons", c, None, "missing column")
    rin = persons["rinpersoon"].to_numpy(np.int64)
    sex = np.asarray(pd.Categorical(persons["sex"], categories=list(SEX)).codes, np.int8)
    mig = np.asarray(pd.Categorical(persons["migration_group"], categories=list(MIGRATION_GROUPS)).codes, np.int8)
    src = AuditSource(ids=pd.Index(rin), sex=sex, migration=mig, first_year=0, income=np.zeros((len(rin), 0), np.int8))
    hi = tabs.get("household_income")
    if hi is None or len(hi) == 0:
        return src
    year = hi["year"].to_numpy(np.int64)
    first, last = int(year.min()), int(year.max())
    income = np.full((len(rin), last - first + 1), -1, np.int8)
    pos = src.positions(hi["rinpersoon"].to_numpy(np.int64), "household_income")
    income[pos, year - first] = hi["income_group"].to_numpy(np.int64)  # (rinpersoon, year) is the key
    for j in range(1, income.shape[1]):  # carry the latest known year forward (years, not persons)
        missing = income[:, j] < 0
        income[missing, j] = income[missing, j - 1]
    return dataclasses.replace(src, first_year=first, income=income)  # the same index object


def build_audit_frame(
    tables: Delivery | Mapping[str, pd.DataFrame] | AuditSource,
    feature_table: pd.DataFrame,
) -> pd.DataFrame:
    """Sensitive and audit attributes for the rows of ``feature_table`` (same index and order).

    Columns ``rinpersoon, ref_date, sex, migration_group, income_group``; ``income_group`` is
    the household income quintile of the latest calendar year before the reference date's
    year (NA if unknown). For evaluation's audits only: never join it into model inputs.
    ``tables`` may be an :class:`AuditSource` prepared once (for many chunks of one delivery).

    Raises
    ------
    InputError
        If ``persons`` lacks a needed column or a row's pseudonym is not in ``persons``.
    """
    src = tables if isinstance(tables, AuditSource) else audit_source(tables)
    rin = feature_table["rinpersoon"].to_numpy(np.int64)
    pos = src.positions(rin)
    sex_dtype = pd.CategoricalDtype(list(SEX))
    mig_dtype = pd.CategoricalDtype(list(MIGRATION_GROUPS))
    income = pd.array(np.zeros(len(rin), np.int8), dtype="Int8")
    income[:] = pd.NA
    if len(rin):
        ref_years = pd.DatetimeIndex(feature_table["ref_date"]).year.to_numpy()
        for year in np.unique(ref_years):  # one pass per reference year
            at = ref_years == year
            income[at] = src.income_before(pos[at], int(year))
    return pd.DataFrame(
        {
            "rinpersoon": rin,
            "ref_date": feature_table["ref_date"].to_numpy(),
            "sex": pd.Categorical.from_codes(src.sex[pos], dtype=sex_dtype),
            "migration_group": pd.Categorical.from_codes(src.migration[pos], dtype=mig_dtype),
            "income_group": income,
        },
        index=feature_table.index,
    )


__all__ = [
    "BAND_DTYPE",
    "AuditSource",
    "audit_source",
    "KEY_COLUMNS",
    "build_audit_frame",
    "build_feature_table",
    "iter_feature_tables",
    "reference_dates",
    "row_chunks",
]
