"""The input contract: CBS-style microdata tables as typed schemas.

A delivery is a set of tables keyed by the pseudonym ``rinpersoon`` (CBS's RINPERSOON), read
from Parquet, CSV or SPSS .sav through a column mapping (``features.sources.readers``).
:func:`validate_delivery` coerces every table to the contract's dtypes and checks it; the first
problem found ends with an :class:`~features.errors.InputError` naming table, column and the
number of offending rows. Only counts are reported, never values.

Audit-only attributes (migration background, household income group) are part of the contract
so that evaluation can audit by them; :data:`AUDIT_ONLY_COLUMNS` lists them and the feature
builders never read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features._config import require
from features.errors import InputError
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
INCOME_GROUPS = (1, 2, 3, 4, 5)

#: Attributes that evaluation may audit by and that may never be model inputs.
AUDIT_ONLY_COLUMNS = ("migration_group", "income_group")


@dataclasses.dataclass(frozen=True)
class Column:
    """One contract column: name, kind, whether it may be empty, allowed values."""

    name: str
    kind: Kind
    nullable: bool = False
    allowed: tuple[object, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None


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
            "household_income",
            (
                _id(),
                Column("year", "int", min_value=1900, max_value=2100),
                Column("income_group", "int", allowed=INCOME_GROUPS),
            ),
            key=("rinpersoon", "year"),
            description="Quintile of standardised household income per year (INHATAB); "
            "audit-only by default.",
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
    key=("intervention_id",),
    required=False,
    description="Intervention registry kept by the user: area codes and age bands separated "
    "by ';'.",
)


@dataclasses.dataclass(frozen=True)
class ContractConfig:
    """Limits that a delivery must respect.

    ``observation_end`` is the last day the delivery covers (the data cut-off); no event may lie
    after it, and labels whose horizon runs past it are censored. A delivery may state its own
    cut-off in ``delivery.toml``; that value then wins.
    """

    date_min: dt.date = dt.date(1900, 1, 1)
    observation_end: dt.date = dt.date(2024, 12, 31)
    max_orphan_share: float = 0.0

    def __post_init__(self) -> None:
        require(self.date_min < self.observation_end, "contract.date_min", "must be before observation_end")
        require(0.0 <= self.max_orphan_share <= 1.0, "contract.max_orphan_share", "must be in [0, 1]")


@dataclasses.dataclass
class Delivery:
    """A validated delivery: contract-typed tables plus the date the data run up to."""

    tables: dict[str, pd.DataFrame]
    observation_end: dt.date
    interventions: pd.DataFrame | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def row_counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.tables.items()}


# --------------------------------------------------------------------------------------------
# coercion: raw frame (any dtypes) -> contract dtypes, counting rows that do not convert
# --------------------------------------------------------------------------------------------


def _coerce_column(s: pd.Series, col: Column, table: str) -> pd.Series:
    nonnull = s.notna()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        blank = s.astype("string").str.strip().eq("").fillna(False).to_numpy(bool)
        nonnull = nonnull & ~blank
        s = s.where(~blank)
    if col.kind == "date":
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out = s.astype(DATE_DTYPE)
        else:
            out = pd.to_datetime(s, errors="coerce", format="mixed").astype(DATE_DTYPE)
        bad = nonnull & out.isna()
        if bad.any():
            raise InputError(table, col.name, int(bad.sum()), "not a date")
    elif col.kind in ("id", "int"):
        if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
            out = s.astype("Int64")
        else:
            num = pd.to_numeric(s, errors="coerce")
            integral = num.isna() | (num == np.floor(num))
            bad = nonnull & (num.isna() | ~integral)
            if bad.any():
                raise InputError(table, col.name, int(bad.sum()), "not a whole number")
            out = num.astype("Int64")
    else:  # category / area: text
        out = s.astype("string").str.strip()
    if not col.nullable:
        missing = out.isna()
        if missing.all() and len(out):
            raise InputError(table, col.name, int(missing.sum()), "column is entirely empty")
        if missing.any():
            raise InputError(table, col.name, int(missing.sum()), "empty values")
    if col.kind in ("id", "int") and not col.nullable:
        out = out.astype(ID_DTYPE if col.kind == "id" else "int64")
    if col.kind in ("category", "area"):
        out = out.astype("category")
    return out


def _pandera_schema(spec: TableSpec, contract: ContractConfig, geo: Geography) -> pa.DataFrameSchema:
    lo = pd.Timestamp(contract.date_min)
    hi = pd.Timestamp(contract.observation_end)
    cols = {}
    for c in spec.columns:
        checks = []
        if c.kind == "date":
            checks.append(pa.Check.in_range(lo, hi, name=f"date within {contract.date_min}..{contract.observation_end}"))
        if c.kind == "id":
            checks.append(pa.Check.gt(0, name="positive pseudonym"))
        if c.allowed is not None:
            checks.append(pa.Check.isin(list(c.allowed), name=f"one of {list(c.allowed)}"))
        if c.min_value is not None:
            checks.append(pa.Check.ge(c.min_value, name=f">= {c.min_value}"))
        if c.max_value is not None:
            checks.append(pa.Check.le(c.max_value, name=f"<= {c.max_value}"))
        if c.kind == "area":
            checks.append(pa.Check.isin(geo.buurt_codes, name="known 2024 buurt code"))
        cols[c.name] = pa.Column(nullable=c.nullable, checks=checks)
    return pa.DataFrameSchema(cols, strict=False, name=spec.name)


def contract_schema(name: str, contract: ContractConfig | None = None, geo: Geography | None = None) -> pa.DataFrameSchema:
    """The pandera schema of contract table ``name`` (value checks; dtypes via coercion)."""
    from features.geography import load_geography

    return _pandera_schema(TABLES[name], contract or ContractConfig(), geo or load_geography())


def validate_table(raw: pd.DataFrame, spec: TableSpec, contract: ContractConfig, geo: Geography) -> pd.DataFrame:
    """Coerce ``raw`` to the contract of ``spec`` and check it; return the typed frame.

    Raises
    ------
    InputError
        On the first problem: missing or unknown columns, empty table, values that do not
        convert, empty required values, failed value checks (range, allowed values, area
        codes), interval end before start, duplicate keys.
    """
    table = spec.name
    missing = [c for c in spec.column_names if c not in raw.columns]
    if missing:
        raise InputError(table, missing[0], None, f"missing column (expected {', '.join(spec.column_names)})")
    unknown = [c for c in raw.columns if c not in spec.column_names]
    if unknown:
        raise InputError(table, str(unknown[0]), None, f"unknown column ({len(unknown)} unknown: map or drop it in the mapping file)")
    if len(raw) == 0:
        raise InputError(table, None, 0, "table is empty")
    df = pd.DataFrame({c.name: _coerce_column(raw[c.name], c, table) for c in spec.columns})
    schema = _pandera_schema(spec, contract, geo)
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        first = fc.iloc[0]
        column = first["column"] if isinstance(first["column"], str) else None
        n = int(((fc["column"] == first["column"]) & (fc["check"] == first["check"])).sum())
        raise InputError(table, column, n, f"fails check: {first['check']}") from None
    if spec.interval is not None:
        start, end = spec.interval
        bad = df[end].notna() & (df[end] < df[start])
        if bad.any():
            raise InputError(table, end, int(bad.sum()), f"{end} before {start}")
    dup = df.duplicated(list(spec.key), keep=False)
    if dup.any():
        raise InputError(table, ",".join(spec.key), int(dup.sum()), "duplicate key")
    return df


def validate_delivery(
    raw_tables: Mapping[str, pd.DataFrame],
    contract: ContractConfig,
    geo: Geography,
    *,
    interventions: pd.DataFrame | None = None,
    observation_end: dt.date | None = None,
) -> Delivery:
    """Validate every contract table and their links; return a typed :class:`Delivery`.

    Persons referenced by event tables must exist in ``persons`` (orphan rows are an error
    unless their share is at most ``contract.max_orphan_share``; tolerated orphans are dropped).
    Every person in ``persons`` must be born before the observation end.
    """
    if observation_end is not None:
        contract = dataclasses.replace(contract, observation_end=observation_end)
    for name, spec in TABLES.items():
        if spec.required and name not in raw_tables:
            raise InputError(name, None, None, "table missing from the delivery")
    tables = {name: validate_table(raw_tables[name], spec, contract, geo) for name, spec in TABLES.items()}
    known = tables["persons"]["rinpersoon"].to_numpy()
    for name, df in tables.items():
        if name == "persons":
            continue
        for c in (c for c in TABLES[name].columns if c.kind == "id"):
            orphan = ~np.isin(df[c.name].to_numpy(), known)
            n = int(orphan.sum())
            if n and n > contract.max_orphan_share * len(df):
                raise InputError(name, c.name, n, "pseudonym not in persons")
            if n:
                tables[name] = df = df.loc[~orphan].reset_index(drop=True)
    ivs = None
    if interventions is not None:
        ivs = validate_table(interventions, INTERVENTIONS, contract, geo)
        codes = ivs["area_codes"].astype(str).str.split(";")
        bad = codes.map(lambda cs: any(c.strip() not in geo.all_codes for c in cs))
        if bad.any():
            raise InputError("interventions", "area_codes", int(bad.sum()), "unknown area code")
        bands = ivs["age_bands"].astype(str).str.split(";")
        badb = bands.map(lambda bs: any(b.strip() not in ("8-12", "13-19", "20-23") for b in bs))
        if badb.any():
            raise InputError("interventions", "age_bands", int(badb.sum()), "age band not one of 8-12, 13-19, 20-23")
    return Delivery(tables=tables, observation_end=contract.observation_end, interventions=ivs)


def summarise_delivery(delivery: Delivery) -> pd.DataFrame:
    """Per table: rows, distinct persons, first and last date (no row values)."""
    rows = []
    for name, df in delivery.tables.items():
        dates = [c.name for c in TABLES[name].columns if c.kind == "date"]
        lo = min((df[c].min() for c in dates), default=pd.NaT)
        hi = max((df[c].max() for c in dates), default=pd.NaT)
        rows.append(
            {
                "table": name,
                "rows": len(df),
                "persons": int(df["rinpersoon"].nunique()),
                "first_date": None if pd.isna(lo) else pd.Timestamp(lo).date().isoformat(),
                "last_date": None if pd.isna(hi) else pd.Timestamp(hi).date().isoformat(),
            }
        )
    return pd.DataFrame(rows)
