"""Output check ("outputcontrole"): scan what leaves for person-level facts.

Before anything leaves the secure environment, CBS checks that no person can be recognised.
This module automates the first line of that check for everything ``aanwas`` writes outside
the work directory (exports, reports, the MLflow store): it looks for any pseudonym of the
delivery, in text (as digits), in binary files (as 64-bit integers at every byte offset), in
Parquet/CSV cells and in every table of an SQLite store, and for tables that look person-level
(a pseudonym-like column, or about one row per young person).

It is a safety net, not a proof: a finding means something leaked; no finding means none of
the given pseudonyms appears in any of the encodings scanned.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

PERSON_COLUMNS = ("rinpersoon", "rinpersoon_parent", "pseudonym", "person_id")
# digit runs that are whole numbers (not the fraction part of a decimal like 0.123456789)
_DIGITS = re.compile(rb"(?<![\d.])\d{6,12}(?!\d|\.\d)")
_TEXT_SUFFIXES = {".csv", ".json", ".html", ".htm", ".txt", ".md", ".toml", ".yaml", ".yml", ".geojson", ".svg", ".log"}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem: which file, what was found (never the value itself)."""

    path: str
    problem: str


def _hits_in_ints(values: np.ndarray, pseudonyms: np.ndarray) -> int:
    """How many of ``values`` are pseudonyms; ``pseudonyms`` sorted and unique (scan_outputs).

    A binary search per value: ``np.isin`` would re-sort the pseudonyms on every call (over
    a thousand calls per store), which made the scan of a small demo take two minutes.
    """
    if not len(values) or not len(pseudonyms):
        return 0
    values = values[(values >= pseudonyms[0]) & (values <= pseudonyms[-1])]
    pos = np.searchsorted(pseudonyms, values)
    return int((pseudonyms[np.minimum(pos, len(pseudonyms) - 1)] == values).sum())


def _scan_bytes(data: bytes, pseudonyms: np.ndarray) -> int:
    """Pseudonyms in ``data`` as decimal digits or as little/big-endian int64 words.

    32-bit words are not scanned: in binary model files random 32-bit words would match a
    9-digit pseudonym by chance too often to be useful.
    """
    digits = np.array([int(m) for m in _DIGITS.findall(data)], dtype="int64")
    hits = _hits_in_ints(digits, pseudonyms)
    for dtype, pool in (("<i8", pseudonyms), (">i8", pseudonyms)):
        width = np.dtype(dtype).itemsize
        if len(data) < width or not len(pool):
            continue
        for offset in range(width):
            n = (len(data) - offset) // width
            if n:
                words = np.frombuffer(data, dtype=dtype, count=n, offset=offset).astype("int64")
                hits += _hits_in_ints(words, pool)
    return hits


def _rows_are_groups(df: pd.DataFrame) -> bool:
    """True when every row states how many persons it stands for and that is more than one
    (a column ``n_persons``, blank only where suppressed): such a table cannot be one row per
    person however many rows it has (a trend table of a small population, say).

    >>> _rows_are_groups(pd.DataFrame({"n_persons": [12.0, None, 40.0]}))
    True
    >>> _rows_are_groups(pd.DataFrame({"n_persons": [12, 1]}))
    False
    >>> _rows_are_groups(pd.DataFrame({"x": [1, 2]}))
    False
    """
    if "n_persons" not in df.columns:
        return False
    counts = pd.to_numeric(df["n_persons"], errors="coerce").dropna()
    return bool(len(counts)) and bool((counts >= 2).all())


def _scan_frame(df: pd.DataFrame, pseudonyms: np.ndarray, n_persons: int | None, name: str) -> list[Finding]:
    out = []
    person_cols = [c for c in df.columns if str(c).lower() in PERSON_COLUMNS]
    if person_cols:
        out.append(Finding(name, f"person-level column {person_cols[0]!r}"))
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype):
            vals = pd.to_numeric(s, errors="coerce").dropna()
            vals = vals[(vals == np.floor(vals)) & (vals.abs() < 2**62)].astype("int64").to_numpy()
        else:
            vals = pd.to_numeric(s.astype("string").str.strip(), errors="coerce").dropna()
            vals = vals[(vals == np.floor(vals)) & (vals.abs() < 2**62)].astype("int64").to_numpy()
        hits = _hits_in_ints(vals, pseudonyms)
        if hits:
            out.append(Finding(name, f"{hits} pseudonym value(s) in column {str(c)!r}"))
    if n_persons and len(df) >= 0.5 * n_persons and len(df) > 1000 and not _rows_are_groups(df):
        out.append(Finding(name, f"table has {len(df)} rows: about one per person"))
    return out


def _scan_sqlite(path: Path, pseudonyms: np.ndarray, n_persons: int | None) -> list[Finding]:
    out = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        for t in tables:
            df = pd.read_sql_query(f'select * from "{t}"', con)
            for c in df.columns:
                if not pd.api.types.is_numeric_dtype(df[c].dtype):
                    blob = "\n".join(map(str, df[c].dropna().tolist())).encode()
                    hits = _scan_bytes(blob, pseudonyms)
                    if hits:
                        out.append(Finding(f"{path}:{t}", f"{hits} pseudonym(s) in column {c!r}"))
            out.extend(
                f
                for f in _scan_frame(df.select_dtypes("number"), pseudonyms, n_persons, f"{path}:{t}")
                if "rows" not in f.problem
            )
    finally:
        con.close()
    return out


def scan_outputs(paths: Iterable[Path], pseudonyms: np.ndarray, n_persons: int | None = None) -> list[Finding]:
    """Scan every file under ``paths`` for pseudonyms and person-level tables.

    Parameters
    ----------
    paths : iterable of Path
        Files or directories (exports, reports, MLflow store and artifact root).
    pseudonyms : array of int
        The delivery's pseudonyms (persons.rinpersoon).
    n_persons : int, optional
        Number of young people; a table with at least half as many rows is flagged.

    Returns
    -------
    list of Finding
        Empty when nothing was found.
    """
    pseudonyms = np.unique(np.asarray(pseudonyms, dtype="int64"))
    findings: list[Finding] = []
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    for f in files:
        name = str(f)
        suffix = f.suffix.lower()
        try:
            if suffix in (".db", ".sqlite") or f.read_bytes()[:16] == b"SQLite format 3\x00":
                findings.extend(_scan_sqlite(f, pseudonyms, n_persons))
                continue
            if suffix == ".parquet":
                findings.extend(_scan_frame(pd.read_parquet(f), pseudonyms, n_persons, name))
                continue
            if suffix == ".csv":
                df = pd.read_csv(f, dtype=str, keep_default_na=False)
                findings.extend(_scan_frame(df, pseudonyms, n_persons, name))
                continue
            data = f.read_bytes()
            hits = (
                _scan_bytes(data, pseudonyms)
                if suffix not in _TEXT_SUFFIXES
                else _hits_in_ints(np.array([int(m) for m in _DIGITS.findall(data)], dtype="int64"), pseudonyms)
            )
            if hits:
                findings.append(Finding(name, f"{hits} pseudonym occurrence(s) in the file"))
        except (OSError, ValueError, sqlite3.DatabaseError, pd.errors.ParserError) as err:
            findings.append(Finding(name, f"could not be scanned ({type(err).__name__}); check by hand"))
    return findings
