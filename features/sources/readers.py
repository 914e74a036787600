"""Readers for real deliveries: Parquet, CSV and SPSS .sav, through a column-mapping file.

A delivery is a directory with one file per contract table. The mapping (TOML, see
``conf/mapping.toml`` and ``conf/mapping_cbs_example.toml``) says per table which file stem to
read, how delivery columns map onto contract columns, which delivery columns to drop, and how
coded values map onto contract values (e.g. SPSS ``1``/``2`` -> ``M``/``V``), so that a real
delivery maps without code edits. Only the mapped columns are read (Arrow-backed for Parquet).

Every failure is an :class:`~features.errors.InputError`; nothing is written here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features._config import build_dataclass, require
from features.contract import INTERVENTIONS, TABLES, ContractConfig, Delivery, validate_delivery
from features.errors import ConfigError, InputError
from features.geography import Geography, load_geography

SUFFIXES = (".parquet", ".csv", ".sav")
DELIVERY_META = "delivery.toml"


@dataclasses.dataclass(frozen=True)
class TableMapping:
    """How one delivered file maps onto a contract table."""

    file: str = ""
    columns: Mapping[str, str] = MappingProxyType({})  # contract column -> delivery column
    drop: tuple[str, ...] = ()  # delivery columns to ignore
    values: Mapping[str, Mapping[str, str]] = MappingProxyType({})  # contract col -> code -> value


@dataclasses.dataclass(frozen=True)
class DeliveryMapping:
    """A whole mapping file: CSV dialect plus one :class:`TableMapping` per table."""

    encoding: str = "utf-8"
    delimiter: str = ","
    date_format: str = ""
    tables: Mapping[str, TableMapping] = MappingProxyType({})

    def __post_init__(self) -> None:
        require(len(self.delimiter) == 1, "mapping.delimiter", "must be one character")
        for name in self.tables:
            require(name in TABLES or name == INTERVENTIONS.name, f"mapping.tables.{name}", "not a contract table")

    def table(self, name: str) -> TableMapping:
        return self.tables.get(name, TableMapping())



def load_mapping(path: Path | None) -> DeliveryMapping:
    """Read a mapping TOML file; ``None`` gives the identity mapping."""
    if path is None:
        return DeliveryMapping()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "mapping file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), f"mapping file is not valid TOML: {err}") from None
    return build_dataclass(DeliveryMapping, data, prefix="mapping")


def _find_file(data_dir: Path, stem: str) -> Path | None:
    for suffix in SUFFIXES:
        p = data_dir / f"{stem}{suffix}"
        if p.exists():
            return p
    return None


def _delivered_columns(path: Path, table: str, mapping: DeliveryMapping) -> list[str]:
    try:
        if path.suffix == ".parquet":
            return list(pq.read_schema(path).names)
        if path.suffix == ".csv":
            with open(path, encoding=mapping.encoding, newline="") as fh:
                header = fh.readline().rstrip("\r\n")
            cols = [c.strip().strip('"') for c in header.split(mapping.delimiter)]
            if len(cols) == 1:
                for other in (";", "\t", ",", "|"):
                    if other != mapping.delimiter and other in header:
                        raise InputError(table, None, None, f"{path.name}: one column only; the file seems delimited by {other!r}, the mapping says {mapping.delimiter!r}")
            return cols
        import pyreadstat

        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        return list(meta.column_names)
    except InputError:
        raise
    except UnicodeDecodeError:
        raise InputError(table, None, None, f"{path.name}: not readable as {mapping.encoding} (set 'encoding' in the mapping)") from None
    except Exception as err:  # truncated or corrupt file
        raise InputError(table, None, None, f"{path.name}: unreadable file ({type(err).__name__})") from None


def read_table(data_dir: Path, name: str, mapping: DeliveryMapping) -> pd.DataFrame | None:
    """Read contract table ``name`` from ``data_dir``; columns renamed to contract names.

    Returns ``None`` when the file is absent. Delivered columns that the mapping neither maps
    nor drops are kept under their own name, so validation reports them as unknown.
    """
    tm = mapping.table(name)
    path = _find_file(data_dir, tm.file or name)
    if path is None:
        return None
    spec = INTERVENTIONS if name == INTERVENTIONS.name else TABLES[name]
    delivered = _delivered_columns(path, name, mapping)
    rename = {tm.columns.get(c, c): c for c in spec.column_names}  # delivery -> contract
    for src in tm.columns.values():
        if src not in delivered:
            raise InputError(name, src, None, f"{path.name}: the mapping names a column the file does not have")
    wanted = [c for c in delivered if c not in tm.drop]
    try:
        if path.suffix == ".parquet":
            df = pq.read_table(path, columns=wanted).to_pandas(types_mapper=None)
        elif path.suffix == ".csv":
            df = pd.read_csv(
                path,
                sep=mapping.delimiter,
                encoding=mapping.encoding,
                usecols=wanted,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
        else:
            import pyreadstat

            df, _ = pyreadstat.read_sav(str(path), usecols=wanted)
    except UnicodeDecodeError:
        raise InputError(name, None, None, f"{path.name}: not readable as {mapping.encoding} (set 'encoding' in the mapping)") from None
    except (pa.ArrowException, OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(name, None, None, f"{path.name}: unreadable file ({type(err).__name__})") from None
    df = df.rename(columns=rename)
    for col, codes in tm.values.items():
        if col in df.columns:
            df[col] = df[col].astype("string").replace(dict(codes))
    if mapping.date_format:
        for c in spec.columns:
            if c.kind == "date" and c.name in df.columns and not pd.api.types.is_datetime64_any_dtype(df[c.name].dtype):
                parsed = pd.to_datetime(df[c.name], format=mapping.date_format, errors="coerce")
                bad = df[c.name].notna() & parsed.isna()
                if bad.any():
                    raise InputError(name, c.name, int(bad.sum()), f"not a date in format {mapping.date_format}")
                df[c.name] = parsed
    return df


def read_observation_end(data_dir: Path) -> dt.date | None:
    """The delivery's own data cut-off from ``delivery.toml``, if present."""
    meta = data_dir / DELIVERY_META
    if not meta.exists():
        return None
    try:
        data: dict[str, Any] = tomllib.loads(meta.read_text(encoding="utf-8"))
        value = data["observation_end"]
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except (KeyError, ValueError, tomllib.TOMLDecodeError):
        raise InputError(DELIVERY_META, "observation_end", None, "missing or not a date") from None


def read_delivery(
    data_dir: Path,
    mapping: DeliveryMapping,
    contract: ContractConfig,
    geo: Geography | None = None,
) -> Delivery:
    """Read and validate a whole delivery directory.

    Raises
    ------
    InputError
        If the directory or a required table is missing, a file is unreadable, or any table
        breaks the contract (see :func:`features.contract.validate_delivery`).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(str(data_dir), None, None, "delivery directory not found")
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
        observation_end=read_observation_end(data_dir),
    )
