"""Readers for real deliveries: Parquet, CSV and SPSS .sav, through a column-mapping file.

A delivery is a directory with one file per contract table (``<table>.parquet``, ``.csv`` or
``.sav``; the mapping may name another file stem), an optional ``interventions`` file and an
optional ``delivery.toml`` stating ``observation_end`` and, for a delivery that covers a region
only, ``coverage`` (its gemeente codes). The mapping (TOML, see
``conf/mapping.toml`` and ``conf/mapping_cbs_example.toml``) says per table which file to read,
how delivery columns map onto contract columns, which delivery columns to drop, and how coded
values map onto contract values (e.g. SPSS ``1``/``2`` -> ``M``/``V``), so that a real
delivery maps without code edits. A table may also come from several files: a file pattern
stacks yearly files (with values taken from the file names), ``parts`` combine separate
files each with its own layout, and ``join`` fills columns from a lookup file on declared
keys, optionally by the year or validity period a date falls in (docs/mapping.md).

Every failure is an :class:`~aanwas.common.errors.InputError` (the delivery) or
:class:`~aanwas.common.errors.ConfigError` (the mapping file) whose message names file, table and
column but never a value; nothing is written here.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from aanwas.common.config import build_dataclass, require
from aanwas.common.errors import ConfigError, InputError
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
class JoinMapping:
    """A lookup join: contract columns filled from a lookup file on declared keys.

    Attributes
    ----------
    file : str
        File stem of the lookup in the delivery directory; ``*``, ``?`` and ``[...]`` match
        several files (e.g. ``VSLGWB*TAB``: one per year), which are stacked.
    from_file_name : mapping of str to str
        Lookup column -> regular expression searched in each lookup file's name; the first
        group (or the whole match) becomes that column's value, e.g. ``{ JAAR = '(\\d{4})' }``.
    on : mapping of str to str
        Table column (its contract name once mapped, else its delivered name) -> lookup column.
        Keys compare as text; whole numbers ignore leading zeros and a trailing ``.0``.
    fill : mapping of str to str
        Contract column -> lookup column whose value it takes. The table's ``values`` and
        ``prefix`` apply to it afterwards.
    date : str
        For a time-valid join: the table's date column whose day picks the lookup row.
    year : str
        Lookup column holding the calendar year a row is valid in (with ``date``).
    valid_from, valid_to : str
        Lookup columns holding the first and last day a row is valid (with ``date``; an
        empty ``valid_to`` is open-ended). Where two periods share a boundary day the later
        one applies on that day.
    date_format : str
        ``strftime`` pattern of the lookup's text dates (default: ISO or ``YYYYMMDD``).
    max_unmatched_share : float
        Share of the table's rows that may find no lookup row; they are dropped and counted.
        Above it the delivery is refused.
    """

    file: str = ""
    from_file_name: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    on: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    fill: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    date: str = ""
    year: str = ""
    valid_from: str = ""
    valid_to: str = ""
    date_format: str = ""
    max_unmatched_share: float = 0.0

    def lookup_columns(self) -> list[str]:
        """Lookup columns the join reads (besides those taken from the file name)."""
        cols = [*self.on.values(), *self.fill.values(), self.year, self.valid_from, self.valid_to]
        return list(dict.fromkeys(c for c in cols if c and c not in self.from_file_name))


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
    from_file_name : mapping of str to str
        Column -> regular expression searched in the file's name (without suffix); the first
        group (or the whole match) is that column's value in every row of the file. With a
        ``file`` pattern matching yearly files: ``{ year = '(\\d{4})' }``.
    constants : mapping of str to str
        Contract column -> one contract value for every row (e.g. ``debt_type = "wsnp"`` for
        the WSNP part of a union).
    parts : tuple of TableMapping
        A union: each part is read like a table of its own (its own ``file``, ``columns``,
        ``values``, ``constants``, ...) and the parts are stacked into one table. A part
        inherits the table's keys and overrides them (mappings merged, ``drop`` combined).
    join : tuple of JoinMapping
        Lookup joins, applied in order to the (stacked) table.

    ``file`` may hold ``*``, ``?`` or ``[...]``: every matching file is read with the same
    mapping and the files are stacked (e.g. ``VSV20*`` for one file per year).
    """

    file: str = ""
    columns: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    drop: tuple[str, ...] = ()
    values: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=_empty)
    date_parts: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=_empty)
    prefix: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    stack: tuple[Mapping[str, str], ...] = ()
    date_format: str = ""
    from_file_name: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    constants: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    parts: tuple[TableMapping, ...] = ()
    join: tuple[JoinMapping, ...] = ()

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
            if not tm.parts:
                _check_table_mapping(key, spec, tm)
            for i, part in enumerate(tm.parts):
                pkey = f"{key}.parts[{i}]"
                require(not part.parts and not part.join, pkey, "a part has no parts or join of its own")
                require(bool(part.file), f"{pkey}.file", "every part names its file")
                _check_table_mapping(pkey, spec, merge_part(tm, part))
            _check_joins(key, spec, tm)

    def table(self, name: str) -> TableMapping:
        return self.tables.get(name, TableMapping())


def merge_part(table: TableMapping, part: TableMapping) -> TableMapping:
    """The mapping a part of a union is read with: the table's keys, overridden by the part's."""

    def merged(field: str) -> Mapping[str, Any]:
        return MappingProxyType({**getattr(table, field), **getattr(part, field)})

    return TableMapping(
        file=part.file or table.file,
        columns=merged("columns"),
        drop=tuple(dict.fromkeys([*table.drop, *part.drop])),
        values=merged("values"),
        date_parts=merged("date_parts"),
        prefix=merged("prefix"),
        stack=part.stack or table.stack,
        date_format=part.date_format or table.date_format,
        from_file_name=merged("from_file_name"),
        constants=merged("constants"),
    )


def _check_pattern(key: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as err:
        raise ConfigError(key, f"not a regular expression ({err})") from None


def _check_table_mapping(key: str, spec: TableSpec, tm: TableMapping) -> None:
    """Rules for one file's mapping (a table, or one part of a union merged with its table)."""
    name = spec.name
    cols = spec.column_names
    targets = [*tm.columns, *tm.values, *tm.date_parts, *tm.prefix, *(t for e in tm.stack for t in e), *tm.constants]
    for target in targets:
        require(target in cols, f"{key}.{target}", f"not a column of {name} (known: {', '.join(cols)})")
    for target, parts in tm.date_parts.items():
        require(spec.column(target).kind == "date", f"{key}.date_parts.{target}", "is not a date column")
        require(
            {"year", "month"} <= set(parts) <= {"year", "month", "day"},
            f"{key}.date_parts.{target}",
            "needs year and month (and optionally day) columns",
        )
    for target, pattern in tm.from_file_name.items():
        _check_pattern(f"{key}.from_file_name.{target}", pattern)
    if tm.stack:
        first = set(tm.stack[0])
        require(all(set(e) == first for e in tm.stack), f"{key}.stack", "every entry must map the same columns")
    stacked = set(tm.stack[0]) if tm.stack else set()
    groups = [set(tm.columns), set(tm.date_parts), stacked, set(tm.constants), set(tm.from_file_name)]
    seen: set[str] = set()
    twice: set[str] = set()
    for g in groups:
        twice |= seen & g
        seen |= g
    require(not twice, key, f"contract column {sorted(twice)[0] if twice else ''!r} is mapped more than once")
    sources = [src for _, src in tm.sources()]
    doubled = sorted({src for src in sources if sources.count(src) > 1})
    require(not doubled, key, f"delivered column {doubled[0] if doubled else ''!r} is used twice")
    clash = sorted(set(sources) & set(tm.drop))
    require(not clash, f"{key}.drop", f"drops the mapped column {clash[0] if clash else ''!r}")


def _check_joins(key: str, spec: TableSpec, tm: TableMapping) -> None:
    cols = spec.column_names
    mapped: set[str] = set()
    for part in tm.parts or (tm,):
        m = merge_part(tm, part) if tm.parts else tm
        mapped |= {t for t, _ in m.sources()} | set(m.constants) | set(m.from_file_name)
    for i, j in enumerate(tm.join):
        jkey = f"{key}.join[{i}]"
        require(bool(j.file), f"{jkey}.file", "names the lookup file")
        require(bool(j.on), f"{jkey}.on", "needs at least one key column")
        require(bool(j.fill), f"{jkey}.fill", "needs at least one column to fill")
        for target in j.fill:
            require(target in cols, f"{jkey}.fill.{target}", f"not a column of {spec.name} (known: {', '.join(cols)})")
            require(target not in mapped, f"{jkey}.fill.{target}", "is already mapped from the table's own file")
            mapped.add(target)
        for target, pattern in j.from_file_name.items():
            _check_pattern(f"{jkey}.from_file_name.{target}", pattern)
        timed = bool(j.year or j.valid_from or j.valid_to)
        require(not (j.year and (j.valid_from or j.valid_to)), jkey, "use either year or valid_from/valid_to")
        require(not j.valid_to or bool(j.valid_from), f"{jkey}.valid_to", "needs valid_from")
        require(bool(j.date) == timed, f"{jkey}.date", "a time-valid join needs date and year or valid_from")
        require(0.0 <= j.max_unmatched_share <= 1.0, f"{jkey}.max_unmatched_share", "must be in [0, 1]")


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


_GLOB = re.compile(r"[*?\[]")


def _find_files(data_dir: Path, stem: str, table: str) -> list[Path]:
    """The file of ``stem``, or every file matching it when it is a pattern (sorted by name)."""
    if not _GLOB.search(stem):
        path = _find_file(data_dir, stem, table)
        return [] if path is None else [path]
    found: dict[str, list[Path]] = {}
    for suffix in SUFFIXES:
        for path in data_dir.glob(stem + suffix):
            if path.is_file():
                found.setdefault(path.name[: -len(suffix)], []).append(path)
    for paths in found.values():
        if len(paths) > 1:
            raise InputError(table, None, None, f"several files ({', '.join(p.name for p in paths)}): keep one")
    return [found[k][0] for k in sorted(found)]


def _name_values(path: Path, table: str, patterns: Mapping[str, str]) -> dict[str, str]:
    """Column values taken from the file's name by ``from_file_name`` patterns."""
    stem = path.name[: -len(path.suffix)]
    out = {}
    for column, pattern in patterns.items():
        m = re.search(pattern, stem)
        if m is None:
            raise InputError(
                table, column, None, f"{path.name}: the file name does not match from_file_name {pattern!r}"
            )
        out[column] = m.group(1) if m.groups() else m.group(0)
    return out


def _read_one(path: Path, name: str, tm: TableMapping, mapping: DeliveryMapping, filled: set[str]) -> pd.DataFrame:
    """One delivered file through its mapping: renamed, recoded, dates parsed where a format says."""
    spec = _spec(name)
    delivered = _delivered_columns(path, name, mapping)
    for target, src in tm.sources():
        if src not in delivered:
            raise InputError(
                name, src, None, f"{path.name}: the mapping maps '{target}' to a column the file does not have"
            )
    used = {src for _, src in tm.sources()}
    mapped_targets = {target for target, _ in tm.sources()} | set(tm.constants) | set(tm.from_file_name) | filled
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
    if tm.from_file_name:
        df = df.assign(**_name_values(path, name, tm.from_file_name))
    if tm.stack:
        df = _stack(df, tm.stack)
    df = df.rename(columns={src: target for target, src in tm.columns.items()})
    if tm.date_parts:
        df = _compose_dates(df, name, tm.date_parts)
    df = _recode(df, name, spec, tm, mapping, list(df.columns))
    if tm.stack:
        df = _drop_empty_links(df, list(tm.stack[0]))
    if tm.constants:
        df = df.assign(**dict(tm.constants))
    return df


def _recode(
    df: pd.DataFrame, name: str, spec: TableSpec, tm: TableMapping, mapping: DeliveryMapping, columns: list[str]
) -> pd.DataFrame:
    """Apply ``values``, ``prefix`` and the text date format to ``columns`` of ``df``."""
    for col, codes in tm.values.items():
        if col in columns and col in df.columns:
            df[col] = _map_values(df[col], codes)
    for col, pre in tm.prefix.items():
        if col in columns and col in df.columns:
            df[col] = _add_prefix(df[col], pre)
    date_format = tm.date_format or mapping.date_format
    if date_format:
        for c in spec.columns:
            if (
                c.kind == "date"
                and c.name in columns
                and c.name in df.columns
                and not pd.api.types.is_datetime64_any_dtype(df[c.name].dtype)
            ):
                parsed, n_bad = parse_dates(df[c.name], date_format)
                if n_bad:
                    raise InputError(name, c.name, n_bad, f"not a date in the mapping's date_format {date_format}")
                df[c.name] = parsed
    return df


def _key_codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of two key columns on a shared set of values (-1: missing).

    Whole numbers compare as numbers whether stored as numbers or as text (``000123`` =
    ``123`` = ``123.0``); when either side holds other text, both compare as text, digit-only
    values without leading zeros and a trailing ``.0``. Only the distinct values are parsed.
    """
    factors = [pd.factorize(s, use_na_sentinel=True) for s in (left, right)]
    parsed = [parse_whole_numbers(pd.Series(uniques)) for _, uniques in factors]
    if not any(bad.any() for _, bad in parsed):  # int64, exact: 16-digit object numbers too
        missing = [v.isna().to_numpy() for v, _ in parsed]
        keys: list[np.ndarray] = [v.to_numpy(dtype="int64", na_value=0) for v, _ in parsed]
    else:
        keys, missing = [], []
        for _, uniques in factors:
            text = as_text_categorical(pd.Series(uniques)).astype("str")
            whole = text.str.extract(r"^(\d+)(?:\.0*)?$", expand=False)  # "007", "7.0" -> "007", "7"
            stripped = whole.str.lstrip("0").where(lambda t: t != "", "0")
            key = text.where(whole.isna(), stripped)
            missing.append(key.isna().to_numpy())
            keys.append(key.fillna("").to_numpy(dtype=object))
    union = pd.Index(np.concatenate([k[~m] for k, m in zip(keys, missing, strict=True)])).unique()
    out = []
    for (codes, _), key, miss in zip(factors, keys, missing, strict=True):
        positions = union.get_indexer(pd.Index(key))  # on the distinct values only
        positions[miss] = -1
        out.append(np.append(positions, -1).astype("int64")[codes])
    return out[0], out[1]


def _lookup_frame(
    data_dir: Path, name: str, j: JoinMapping, mapping: DeliveryMapping
) -> tuple[pd.DataFrame, str, np.ndarray]:
    """The lookup files of ``j`` stacked; a description for messages; each row's file name."""
    paths = _find_files(data_dir, j.file, name)
    if not paths:
        raise InputError(name, None, None, f"join: no lookup file {j.file}.parquet/.csv/.sav in {data_dir}")
    wanted = j.lookup_columns()
    frames = []
    for path in paths:
        delivered = _delivered_columns(path, name, mapping)
        missing = [c for c in wanted if c not in delivered]
        if missing:
            raise InputError(name, missing[0], None, f"{path.name}: the join's lookup file does not have this column")
        df = _read_file(path, name, wanted, mapping)
        frames.append(df.assign(**_name_values(path, name, j.from_file_name)) if j.from_file_name else df)
    where = paths[0].name if len(paths) == 1 else f"{j.file} ({len(paths)} files)"
    files = np.repeat(np.array([p.name for p in paths], dtype=object), [len(f) for f in frames])
    return pd.concat(frames, ignore_index=True), where, files


def _validity(lookup: pd.DataFrame, name: str, j: JoinMapping, where: str) -> tuple[np.ndarray, np.ndarray]:
    """First and last valid day of each lookup row, as datetime64[s] (NaT last day: open)."""
    if j.year:
        years, bad = parse_whole_numbers(lookup[j.year])
        if bad.any() or years.isna().any():
            n = int(bad.sum() + years.isna().sum())
            raise InputError(name, j.year, n, f"{where}: year of the lookup not a whole number")
        y = years.to_numpy(dtype="int64") - 1970
        first = y.astype("datetime64[Y]").astype("datetime64[D]")
        last = (y + 1).astype("datetime64[Y]").astype("datetime64[D]") - np.timedelta64(1, "D")
        return first.astype(DATE_DTYPE), last.astype(DATE_DTYPE)
    first_s, n_bad = parse_dates(lookup[j.valid_from], j.date_format or "")
    if n_bad or first_s.isna().any():
        raise InputError(name, j.valid_from, int(n_bad + first_s.isna().sum()), f"{where}: not a date")
    if not j.valid_to:
        return first_s.to_numpy(), np.full(len(lookup), np.datetime64("NaT"), dtype=DATE_DTYPE)
    last_s, n_bad = parse_dates(lookup[j.valid_to], j.date_format or "")
    if n_bad:
        raise InputError(name, j.valid_to, n_bad, f"{where}: not a date")
    return first_s.to_numpy(), last_s.to_numpy()


def _join(
    df: pd.DataFrame, name: str, j: JoinMapping, lookup: pd.DataFrame, where: str, files: np.ndarray
) -> tuple[pd.DataFrame, int]:
    """Fill ``j.fill`` columns of ``df`` from ``lookup``; return the frame and rows dropped unmatched."""
    for col in [*j.on, *([j.date] if j.date else [])]:
        if col not in df.columns:
            raise InputError(name, col, None, f"the join on {where} needs this column; the table has none such")
    key_cols = list(j.on)
    left = np.zeros((len(df), len(key_cols)), dtype="int64")
    right = np.zeros((len(lookup), len(key_cols)), dtype="int64")
    for i, (table_col, lookup_col) in enumerate(j.on.items()):
        left[:, i], right[:, i] = _key_codes(df[table_col], lookup[lookup_col])
    shown_keys = ",".join(j.on.values())
    lk = pd.DataFrame(right, columns=key_cols)
    lk["_row"] = np.arange(len(lookup))
    lk = lk[(right >= 0).all(axis=1)]
    lt = pd.DataFrame(left, columns=key_cols)
    lt["_pos"] = np.arange(len(df))
    present = (left >= 0).all(axis=1)
    if j.date:
        day, n_bad = parse_dates(df[j.date], "")
        if n_bad:
            raise InputError(name, j.date, n_bad, "not a date (expected YYYY-MM-DD or YYYYMMDD)")
        first, last = _validity(lookup, name, j, where)
        lk["_from"] = first[lk["_row"].to_numpy()]
        lk["_to"] = last[lk["_row"].to_numpy()]
        lk = lk.sort_values([*key_cols, "_from"], kind="stable")
        same = (lk[key_cols].to_numpy()[1:] == lk[key_cols].to_numpy()[:-1]).all(axis=1)
        prev_to = lk["_to"].to_numpy()[:-1]
        nxt_from = lk["_from"].to_numpy()[1:]
        prev_from = lk["_from"].to_numpy()[:-1]
        clash = same & ((nxt_from == prev_from) | np.isnat(prev_to) | (nxt_from < prev_to))
        if clash.any():
            n = int(np.union1d(np.flatnonzero(clash), np.flatnonzero(clash) + 1).size)
            first = files[int(lk["_row"].to_numpy()[np.flatnonzero(clash)[0] + 1])]
            raise InputError(name, shown_keys, n, f"{first}: lookup rows of one key with overlapping validity")
        lt["_day"] = day.to_numpy()
        present &= lt["_day"].notna().to_numpy()
        q = lt[present].sort_values("_day", kind="stable")
        hit = pd.merge_asof(
            q,
            lk.sort_values("_from", kind="stable"),
            left_on="_day",
            right_on="_from",
            by=key_cols,
            direction="backward",
        )
        ok = hit["_row"].notna() & (hit["_to"].isna() | (hit["_day"] <= hit["_to"]))
        rows = np.full(len(df), -1, dtype="int64")
        rows[hit.loc[ok, "_pos"].to_numpy(dtype="int64")] = hit.loc[ok, "_row"].to_numpy(dtype="int64")
    else:
        dup = lk.duplicated(key_cols, keep=False)
        if dup.any():
            first = files[int(lk.loc[dup, "_row"].iloc[0])]
            raise InputError(name, shown_keys, int(dup.sum()), f"{first}: lookup key occurs more than once")
        hit = lt[present].merge(lk, on=key_cols, how="left")
        rows = np.full(len(df), -1, dtype="int64")
        found = hit["_row"].notna()
        rows[hit.loc[found, "_pos"].to_numpy(dtype="int64")] = hit.loc[found, "_row"].to_numpy(dtype="int64")
    unmatched = rows < 0
    n = int(unmatched.sum())
    if n > j.max_unmatched_share * len(df):
        allowed = f"; at most {j.max_unmatched_share:.1%} tolerated" if j.max_unmatched_share else ""
        when = (f" for the year of {j.date}" if j.year else f" valid on {j.date}") if j.date else ""
        raise InputError(name, ",".join(j.on), n, f"no row in the lookup {where}{when}{allowed}")
    keep = ~unmatched
    out = df.loc[keep].reset_index(drop=True)
    take = rows[keep]
    for target, src in j.fill.items():
        out[target] = lookup[src].iloc[take].reset_index(drop=True)
    return out, n


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
        their own name, so validation reports them as unknown. Rows dropped because a join
        found no lookup row (within its ``max_unmatched_share``) are counted in
        ``attrs["unmatched_dropped"]``.

    Raises
    ------
    InputError
        For an unreadable file, a wrong encoding or delimiter, a mapped column the file lacks,
        dates that do not match the mapping's ``date_format`` or ``date_parts``, a missing
        part or lookup file, duplicate or overlapping lookup keys, or more rows without a
        lookup row than the join tolerates.
    """
    data_dir = Path(data_dir)
    tm = mapping.table(name)
    spec = _spec(name)
    filled = {t for j in tm.join for t in j.fill}
    if tm.parts:
        mappings = [merge_part(tm, part) for part in tm.parts]
    else:
        mappings = [tm if tm.file else dataclasses.replace(tm, file=name)]
    found = [_find_files(data_dir, m.file, name) for m in mappings]
    if not any(found):
        return None
    frames = []
    for i, (m, paths) in enumerate(zip(mappings, found, strict=True)):
        if not paths:
            raise InputError(name, None, None, f"part {i + 1}: no file {m.file}.parquet/.csv/.sav in {data_dir}")
        frames += [_read_one(path, name, m, mapping, filled) for path in paths]
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    dropped = 0
    for j in tm.join:
        lookup, where, files = _lookup_frame(data_dir, name, j, mapping)
        df, n = _join(df, name, j, lookup, where, files)
        df = _recode(df, name, spec, tm, mapping, list(j.fill))
        dropped += n
    consumed = [c for j in tm.join for c in j.on if c not in spec.column_names]
    if consumed:
        df = df.drop(columns=[c for c in dict.fromkeys(consumed) if c in df.columns])
    df.attrs["unmatched_dropped"] = dropped
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
    *,
    allow_empty: bool = False,
    only: Collection[str] | None = None,
) -> Delivery:
    """Read and validate a whole delivery directory (or some of its tables).

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
    allow_empty : bool
        Accept tables without rows (for a person partition of a delivery).
    only : collection of str, optional
        Read and validate these contract tables only (``persons`` always, for the links);
        ONLY for a delivery whose every table is known to have passed this validation with the
        same bytes, mapping and contract (:func:`aanwas.stages.features.validated_delivery`):
        the tables read come out exactly as from a whole read.

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
    aanwas.common.errors.InputError: invalid input: table 'delivery': directory no/such/dir not found
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError("delivery", None, None, f"directory {data_dir} not found")
    observation_end = read_observation_end(data_dir, contract)
    raw: dict[str, pd.DataFrame] = {}
    for name, spec in TABLES.items():
        if only is not None and name not in only and name != "persons":
            continue
        df = read_table(data_dir, name, mapping)
        if df is None:
            if spec.required:
                tm = mapping.table(name)
                if tm.parts:
                    stems = ", ".join(part.file for part in tm.parts)
                    raise InputError(name, None, None, f"no file of its parts ({stems}) in {data_dir}")
                raise InputError(name, None, None, f"no file {tm.file or name}.parquet/.csv/.sav in {data_dir}")
            continue
        raw[name] = df
    interventions = read_table(data_dir, INTERVENTIONS.name, mapping)
    delivery = validate_delivery(
        raw,
        contract,
        geo or load_geography(),
        interventions=interventions,
        observation_end=observation_end,
        allow_empty=allow_empty,
        only=only,
    )
    unmatched = {name: int(df.attrs.get("unmatched_dropped", 0)) for name, df in raw.items()}
    delivery.unmatched_dropped = {name: n for name, n in unmatched.items() if n}
    return delivery
