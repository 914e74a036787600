"""Readers for real deliveries: Parquet, CSV and SPSS .sav, through a column-mapping file.

A delivery is a directory with one file per contract table (``<table>.parquet``, ``.csv`` or
``.sav``; the mapping may name another file stem), an optional ``interventions`` file and an
optional ``delivery.toml`` stating ``observation_end`` and, for a delivery that covers a region
only, ``coverage`` (its gemeente codes). The mapping (TOML, see
``conf/mapping.toml`` and ``conf/mapping_cbs_example.toml``) says per table which file to read,
how delivery columns map onto contract columns, which delivery columns to drop, and how coded
values map onto contract values (e.g. SPSS ``1``/``2`` -> ``M``/``V``), so that a real
delivery maps without code edits.

Every failure is an :class:`~common.errors.InputError` (the delivery) or
:class:`~common.errors.ConfigError` (the mapping file) whose message names file, table and
column but never a value; nothing is written here.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from common.config import build_dataclass, require
from common.errors import ConfigError, InputError
from features.contract import (
    DATE_DTYPE,
    INTERVENTIONS,
    TABLES,
    ContractConfig,
    Delivery,
    TableSpec,
    as_text_categorical,
    parse_dates,
    parse_whole_numbers,
    recode_categories,
    showable_column,
    validate_delivery,
)
from features.geography import Geography, load_geography

SUFFIXES = (".parquet", ".csv", ".sav")
DELIVERY_META = "delivery.toml"
#: Delimiters recognised when a CSV header splits into one column only.
_OTHER_DELIMITERS = (";", "\t", ",", "|")


def _empty() -> Mapping[str, Any]:
    # a fresh read-only mapping (MappingProxyType is unhashable on 3.11: no plain default)
    return MappingProxyType({})


@dataclasses.dataclass(frozen=True)
class TableMapping:
    """How one delivered file maps onto a contract table.

    Attributes
    ----------
    file : str
        File stem in the delivery directory (default: the table name).
    columns : mapping of str to str
        Contract column -> delivered column (unmapped contract columns keep their name).
    drop : tuple of str
        Delivered columns to ignore.
    values : mapping of str to mapping of str to str
        Contract column -> {delivered code -> contract value}, e.g. ``{"1": "M", "2": "V"}``.
        Codes are compared as text; numbers as whole numbers (``1.0`` matches ``"1"``). A
        code mapped to ``""`` becomes empty (missing).
    date_parts : mapping of str to mapping of str to str
        Contract date column -> ``{year = col, month = col, day = col}`` for dates delivered
        in parts (CBS: GBAGEBOORTEJAAR, GBAGEBOORTEMAAND). Without ``day`` the first of the
        month is used.
    prefix : mapping of str to str
        Contract column -> text put before every value that lacks it, e.g. ``"BU"`` for buurt
        codes delivered as 8 digits (``03630000``); digit-only values are first padded with
        leading zeros to 8 digits (a number loses them).
    stack : tuple of mappings of str to str
        For a wide file holding several links per row (CBS KINDOUDERTAB: father and mother
        columns): each entry maps contract columns to delivered columns, and yields one block
        of rows, together with the columns under ``columns``. Rows whose stacked columns
        are all empty after ``values`` (no such parent) are skipped.
    date_format : str
        ``strftime`` pattern for this file's text dates; overrides the mapping-wide one.
    """

    file: str = ""
    columns: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    drop: tuple[str, ...] = ()
    values: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=_empty)
    date_parts: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=_empty)
    prefix: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    stack: tuple[Mapping[str, str], ...] = ()
    date_format: str = ""

    def sources(self) -> list[tuple[str, str]]:
        """(contract column, delivered column) for every delivered column the mapping names."""
        out = list(self.columns.items())
        out += [(target, src) for target, parts in self.date_parts.items() for src in parts.values()]
        out += [(target, src) for entry in self.stack for target, src in entry.items()]
        return out


def _spec(name: str) -> TableSpec:
    return INTERVENTIONS if name == INTERVENTIONS.name else TABLES[name]


@dataclasses.dataclass(frozen=True)
class DeliveryMapping:
    """A whole mapping file: CSV dialect, date layout and one :class:`TableMapping` per table.

    ``date_format`` (a ``strftime`` pattern such as ``%d-%m-%Y``) applies to date columns
    delivered as text; empty means ISO ``YYYY-MM-DD`` or CBS's ``YYYYMMDD``.
    """

    encoding: str = "utf-8"
    delimiter: str = ","
    date_format: str = ""
    tables: Mapping[str, TableMapping] = dataclasses.field(default_factory=_empty)

    def __post_init__(self) -> None:
        require(len(self.delimiter) == 1, "mapping.delimiter", "must be one character")
        try:
            "".encode(self.encoding)
        except LookupError:
            raise ConfigError("mapping.encoding", f"unknown encoding {self.encoding!r}") from None
        known = [*TABLES, INTERVENTIONS.name]
        for name, tm in self.tables.items():
            key = f"mapping.tables.{name}"
            require(name in known, key, f"not a contract table (known: {', '.join(known)})")
            spec = _spec(name)
            cols = spec.column_names
            targets = [*tm.columns, *tm.values, *tm.date_parts, *tm.prefix, *(t for e in tm.stack for t in e)]
            for target in targets:
                require(target in cols, f"{key}.{target}", f"not a column of {name} (known: {', '.join(cols)})")
            for target, parts in tm.date_parts.items():
                require(spec.column(target).kind == "date", f"{key}.date_parts.{target}", "is not a date column")
                require(
                    {"year", "month"} <= set(parts) <= {"year", "month", "day"},
                    f"{key}.date_parts.{target}",
                    "needs year and month (and optionally day) columns",
                )
            if tm.stack:
                first = set(tm.stack[0])
                require(all(set(e) == first for e in tm.stack), f"{key}.stack", "every entry must map the same columns")
            stacked = set(tm.stack[0]) if tm.stack else set()
            twice = (set(tm.columns) & set(tm.date_parts)) | ((set(tm.columns) | set(tm.date_parts)) & stacked)
            require(not twice, key, f"contract column {sorted(twice)[0] if twice else ''!r} is mapped more than once")
            sources = [src for _, src in tm.sources()]
            doubled = sorted({src for src in sources if sources.count(src) > 1})
            require(not doubled, key, f"delivered column {doubled[0] if doubled else ''!r} is used twice")
            clash = sorted(set(sources) & set(tm.drop))
            require(not clash, f"{key}.drop", f"drops the mapped column {clash[0] if clash else ''!r}")

    def table(self, name: str) -> TableMapping:
        return self.tables.get(name, TableMapping())


def load_mapping(path: Path | None) -> DeliveryMapping:
    """Read a mapping TOML file; ``None`` gives the identity mapping.

    Raises
    ------
    ConfigError
        If the file is missing, not valid TOML, or names unknown tables, columns or settings
        (the key in the message is prefixed by the file name).
    """
    if path is None:
        return DeliveryMapping()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "mapping file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), f"mapping file is not valid TOML ({err})") from None
    try:
        return build_dataclass(DeliveryMapping, data, prefix="mapping")
    except ConfigError as err:
        raise ConfigError(f"{path.name}: {err.key}", err.problem) from None


def _find_file(data_dir: Path, stem: str, table: str) -> Path | None:
    found = [data_dir / f"{stem}{suffix}" for suffix in SUFFIXES if (data_dir / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        raise InputError(table, None, None, f"several files ({', '.join(p.name for p in found)}): keep one")
    return found[0] if found else None


def _csv_encoding(mapping: DeliveryMapping) -> str:
    # a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name
    return "utf-8-sig" if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else mapping.encoding


def _clean_name(name: object) -> str:
    return str(name).strip().strip('"').strip()


def _delivered_columns(path: Path, table: str, mapping: DeliveryMapping) -> list[str]:
    try:
        if path.suffix == ".parquet":
            return list(pq.read_schema(path).names)
        if path.suffix == ".csv":
            with open(path, encoding=_csv_encoding(mapping), newline="") as fh:
                header = fh.readline().rstrip("\r\n")
            if not header.strip():
                raise InputError(table, None, 0, f"{path.name}: file is empty (no header line)")
            cols = [_clean_name(c) for c in next(csv.reader([header], delimiter=mapping.delimiter))]
            if len(cols) == 1:
                for other in _OTHER_DELIMITERS:
                    if other != mapping.delimiter and other in header:
                        raise InputError(
                            table,
                            None,
                            None,
                            f"{path.name}: one column only; the file seems delimited by {other!r}, "
                            f"the mapping says {mapping.delimiter!r} (set 'delimiter' in the mapping)",
                        )
            return cols
        import pyreadstat

        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        return list(meta.column_names)
    except InputError:
        raise
    except UnicodeError:
        raise InputError(
            table, None, None, f"{path.name}: not readable as {mapping.encoding} (set 'encoding' in the mapping)"
        ) from None
    except MemoryError:
        raise
    except Exception as err:  # truncated or corrupt file; the library's text may hold values
        raise InputError(
            table, None, None, f"{path.name}: unreadable or truncated file ({type(err).__name__})"
        ) from None


def _read_file(path: Path, table: str, wanted: list[str], mapping: DeliveryMapping) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path, columns=wanted).to_pandas(date_as_object=False)
        if path.suffix == ".csv":
            # all columns are read: with usecols pandas silently accepts rows with extra fields
            df = pd.read_csv(
                path,
                sep=mapping.delimiter,
                encoding=_csv_encoding(mapping),
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                index_col=False,
                engine="c",
            )
            df.columns = [_clean_name(c) for c in df.columns]
            return df[wanted]
        import pyreadstat

        df, _ = pyreadstat.read_sav(str(path), usecols=wanted, dates_as_pandas_datetime=True)
        return df
    except UnicodeError:
        raise InputError(
            table, None, None, f"{path.name}: not readable as {mapping.encoding} (set 'encoding' in the mapping)"
        ) from None
    except pd.errors.ParserError as err:
        line = re.search(r"line (\d+)", str(err))  # the parser's message: counts only, no values
        where = f", first at line {line.group(1)}" if line else ""
        raise InputError(
            table, None, None, f"{path.name}: malformed CSV (rows with more fields than the header{where})"
        ) from None
    except MemoryError:
        raise
    except Exception as err:  # truncated or corrupt file; the library's text may hold values
        raise InputError(
            table, None, None, f"{path.name}: unreadable or truncated file ({type(err).__name__})"
        ) from None


def _map_values(s: pd.Series, codes: Mapping[str, str]) -> pd.Series:
    """Recode delivered codes to contract values on the distinct values (text comparison)."""
    cat = as_text_categorical(s)
    cats = pd.Series(cat.cat.categories, dtype="str")
    new = cats.map(dict(codes)).fillna(cats)  # a hashed lookup, also for many distinct values
    return recode_categories(cat, pd.Index(new.where(new.str.strip() != "")))


def _stack(df: pd.DataFrame, stack: tuple[Mapping[str, str], ...]) -> pd.DataFrame:
    """Wide -> long: one block of rows per stack entry (stacked columns get contract names)."""
    stacked_src = {src for entry in stack for src in entry.values()}
    common = [c for c in df.columns if c not in stacked_src]
    blocks = [df[common].assign(**{target: df[src].to_numpy() for target, src in entry.items()}) for entry in stack]
    return pd.concat(blocks, ignore_index=True)


def _drop_empty_links(df: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    present = np.zeros(len(df), dtype=bool)
    for t in targets:
        present |= as_text_categorical(df[t]).notna().to_numpy()
    return df.loc[present].reset_index(drop=True)


def _compose_dates(df: pd.DataFrame, table: str, parts_map: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """Build each date column from its year/month(/day) columns; count parts that do not form a date."""
    for target, parts in parts_map.items():
        nums = {}
        missing = np.zeros(len(df), dtype=bool)
        for part in ("year", "month", "day"):
            if part not in parts:
                continue
            values, bad = parse_whole_numbers(df[parts[part]])
            if bad.any():
                raise InputError(table, parts[part], int(bad.sum()), f"{part} of {target} not a whole number")
            missing |= values.isna().to_numpy()
            nums[part] = values.fillna(1).to_numpy(dtype="int64")
        nums.setdefault("day", np.ones(len(df), dtype="int64"))
        valid = (nums["month"] >= 1) & (nums["month"] <= 12) & (nums["day"] >= 1) & (nums["day"] <= 31)
        valid &= (nums["year"] >= 1) & (nums["year"] <= 9999)
        dates = pd.to_datetime(
            pd.DataFrame({k: np.where(valid, v, 1) for k, v in nums.items()}), errors="coerce"
        ).astype(DATE_DTYPE)
        bad = ~missing & (~valid | dates.isna().to_numpy())
        if bad.any():
            raise InputError(table, target, int(bad.sum()), "year/month/day parts do not form a date")
        dates[missing | bad] = pd.NaT
        df = df.drop(columns=list(parts.values())).assign(**{target: dates.to_numpy()})
    return df


def _add_prefix(s: pd.Series, prefix: str) -> pd.Series:
    """Put ``prefix`` before every value lacking it; digit-only values padded to 8 digits first."""
    cat = as_text_categorical(s)
    cats = pd.Series(cat.cat.categories, dtype="str")
    digits = cats.str.fullmatch(r"\d{1,8}")
    cats = cats.where(~digits, cats.str.zfill(8))
    cats = cats.where(cats.str.startswith(prefix), prefix + cats)
    return recode_categories(cat, pd.Index(cats))


def read_table(data_dir: Path, name: str, mapping: DeliveryMapping) -> pd.DataFrame | None:
    """Read contract table ``name`` from ``data_dir``; columns renamed to contract names.

    Parameters
    ----------
    data_dir : Path
        Delivery directory.
    name : str
        Contract table (a key of :data:`~features.contract.TABLES`, or ``"interventions"``).
    mapping : DeliveryMapping
        Column mapping, value codes and CSV dialect.

    Returns
    -------
    DataFrame or None
        Raw (not yet validated) columns under contract names; ``None`` when the file is
        absent. Delivered columns that the mapping neither maps nor drops are kept under
        their own name, so validation reports them as unknown.

    Raises
    ------
    InputError
        For an unreadable file, a wrong encoding or delimiter, a mapped column the file lacks,
        or dates that do not match the mapping's ``date_format`` or ``date_parts``.
    """
    tm = mapping.table(name)
    path = _find_file(Path(data_dir), tm.file or name, name)
    if path is None:
        return None
    spec = _spec(name)
    delivered = _delivered_columns(path, name, mapping)
    for target, src in tm.sources():
        if src not in delivered:
            raise InputError(
                name, src, None, f"{path.name}: the mapping maps '{target}' to a column the file does not have"
            )
    used = {src for _, src in tm.sources()}
    mapped_targets = {target for target, _ in tm.sources()}
    for i, c in enumerate(delivered):
        if c in mapped_targets and c not in used and c not in tm.drop:
            raise InputError(
                name,
                showable_column(c, i),
                None,
                f"{path.name}: delivered besides the column mapped onto it (drop one)",
            )
    wanted = [c for c in delivered if c not in tm.drop]
    if not wanted:
        raise InputError(name, None, None, f"{path.name}: every column is dropped by the mapping")
    df = _read_file(path, name, wanted, mapping)
    if tm.stack:
        df = _stack(df, tm.stack)
    df = df.rename(columns={src: target for target, src in tm.columns.items()})
    if tm.date_parts:
        df = _compose_dates(df, name, tm.date_parts)
    for col, codes in tm.values.items():
        if col in df.columns:
            df[col] = _map_values(df[col], codes)
    for col, pre in tm.prefix.items():
        if col in df.columns:
            df[col] = _add_prefix(df[col], pre)
    if tm.stack:
        df = _drop_empty_links(df, list(tm.stack[0]))
    date_format = tm.date_format or mapping.date_format
    if date_format:
        for c in spec.columns:
            if c.kind == "date" and c.name in df.columns and not pd.api.types.is_datetime64_any_dtype(df[c.name].dtype):
                parsed, n_bad = parse_dates(df[c.name], date_format)
                if n_bad:
                    raise InputError(name, c.name, n_bad, f"not a date in the mapping's date_format {date_format}")
                df[c.name] = parsed
    return df


def read_observation_end(data_dir: Path, contract: ContractConfig | None = None) -> dt.date | None:
    """The delivery's own data cut-off from ``delivery.toml``, if present.

    Raises
    ------
    InputError
        If the file is not valid TOML, lacks ``observation_end``, or the date is not after
        ``contract.date_min`` or lies in the future.
    """
    meta = Path(data_dir) / DELIVERY_META
    if not meta.exists():
        return None
    try:
        data: dict[str, Any] = tomllib.loads(meta.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise InputError(DELIVERY_META, None, None, "not valid TOML") from None
    value = data.get("observation_end")
    try:
        if isinstance(value, dt.datetime):
            value = value.date()
        elif not isinstance(value, dt.date):
            value = dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(DELIVERY_META, "observation_end", None, "missing or not a date (YYYY-MM-DD)") from None
    if value > dt.date.today():
        raise InputError(DELIVERY_META, "observation_end", None, f"{value} lies in the future")
    date_min = (contract or ContractConfig()).date_min
    if value <= date_min:
        raise InputError(DELIVERY_META, "observation_end", None, f"{value} is not after contract.date_min {date_min}")
    return value


@dataclasses.dataclass(frozen=True)
class Coverage:
    """The gemeenten a delivery covers (a region), from ``delivery.toml``; no file or no
    ``coverage`` key: the whole country."""

    gemeenten: tuple[str, ...]
    name: str


def read_coverage(data_dir: Path, geo: Geography | None = None) -> Coverage | None:
    """The region a delivery covers: ``coverage`` (gemeente codes) and ``coverage_name`` in
    ``delivery.toml``; None when the delivery covers the whole country.

    Raises
    ------
    InputError
        If ``coverage`` is not a non-empty list of gemeente codes of the 2024 map.
    """
    meta = Path(data_dir) / DELIVERY_META
    if not meta.exists():
        return None
    try:
        data: dict[str, Any] = tomllib.loads(meta.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise InputError(DELIVERY_META, None, None, "not valid TOML") from None
    codes = data.get("coverage")
    if codes is None:
        return None
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise InputError(DELIVERY_META, "coverage", None, "must be a non-empty list of gemeente codes")
    geo = geo or load_geography()
    known = set(geo.areas.loc[geo.areas["level"] == "gemeente", "code"])
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InputError(DELIVERY_META, "coverage", len(unknown), "not a gemeente code of the 2024 map")
    name = str(data.get("coverage_name") or ", ".join(codes))
    return Coverage(gemeenten=tuple(sorted(set(codes))), name=name)


def read_delivery(
    data_dir: Path,
    mapping: DeliveryMapping,
    contract: ContractConfig,
    geo: Geography | None = None,
) -> Delivery:
    """Read and validate a whole delivery directory.

    Parameters
    ----------
    data_dir : Path
        Directory with one file per contract table, optionally ``interventions`` and
        ``delivery.toml``.
    mapping : DeliveryMapping
        From :func:`load_mapping` (``load_mapping(None)`` for contract names).
    contract : ContractConfig
        Date window and tolerances; ``delivery.toml``'s ``observation_end`` wins.
    geo : Geography, optional
        Known area codes (default: the shipped 2024 geography).

    Returns
    -------
    Delivery

    Raises
    ------
    InputError
        If the directory or a required table is missing, a file is unreadable, or any table
        breaks the contract (see :func:`features.contract.validate_delivery`).

    Examples
    --------
    >>> from features.sources.readers import load_mapping, read_delivery
    >>> read_delivery(Path("no/such/dir"), load_mapping(None), ContractConfig())
    Traceback (most recent call last):
    ...
    common.errors.InputError: invalid input: table 'delivery': directory no/such/dir not found
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError("delivery", None, None, f"directory {data_dir} not found")
    observation_end = read_observation_end(data_dir, contract)
    raw: dict[str, pd.DataFrame] = {}
    for name, spec in TABLES.items():
        df = read_table(data_dir, name, mapping)
        if df is None:
            if spec.required:
                stem = mapping.table(name).file or name
                raise InputError(name, None, None, f"no file {stem}.parquet/.csv/.sav in {data_dir}")
            continue
        raw[name] = df
    interventions = read_table(data_dir, INTERVENTIONS.name, mapping)
    return validate_delivery(
        raw,
        contract,
        geo or load_geography(),
        interventions=interventions,
        observation_end=observation_end,
    )
