"""Stage wiring of ``aanwas check``: the output check on what is about to leave.

Scans an export directory (and any other output named: reports, the drift report, the MLflow
store) for the delivery's pseudonyms and for tables that look person-level, with
:func:`monitoring.publishing.outputcheck.scan_outputs`. ``aanwas demo`` runs the same check on
everything it wrote. A safety net before CBS output control, not a replacement for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from aanwas.common.errors import InputError
from monitoring.publishing.outputcheck import Finding, scan_outputs
from training.config import MlflowConfig

PERSONS_TABLE = "persons"
PERSON_KEY = "rinpersoon"
FEATURES_FILE = "features.parquet"


def delivery_pseudonyms(data: Path, mapping: Path | None = None) -> np.ndarray:
    """The pseudonyms of a delivery's persons table (through its column mapping), as integers.

    Raises
    ------
    InputError
        No persons table, no pseudonym column, or pseudonyms that are not whole numbers.
    """
    from features.sources.readers import load_mapping, read_table

    persons = read_table(Path(data), PERSONS_TABLE, load_mapping(mapping))
    if persons is None:
        raise InputError(PERSONS_TABLE, None, None, f"no persons table in {data}: the check needs the pseudonyms")
    if PERSON_KEY not in persons.columns:
        raise InputError(PERSONS_TABLE, PERSON_KEY, None, "column missing")
    keys = pd.to_numeric(persons[PERSON_KEY].astype("string"), errors="coerce")
    bad = int(keys.isna().sum())
    if bad:
        raise InputError(PERSONS_TABLE, PERSON_KEY, bad, "pseudonym missing or not a whole number")
    return keys.to_numpy(dtype="int64")


def young_people(work: Path) -> int:
    """Young people on the reference date with the most rows in the cached feature table: a
    table with half as many rows as this looks person-level.

    Raises
    ------
    InputError
        No cached feature table in ``work``.
    """
    path = Path(work) / FEATURES_FILE
    if not path.exists():
        raise InputError(str(path), None, None, "no cached feature table (run 'aanwas features' first)")
    dates = pd.read_parquet(path, columns=["ref_date"])["ref_date"]
    return int(dates.value_counts().max()) if len(dates) else 0


def store_files(uri: str, cfg: MlflowConfig) -> list[Path]:
    """What to scan of an MLflow store: for a local SQLite store the database and, when it
    exists, the artifact folder beside it (see :func:`training.tracking.artifact_location`).

    Raises
    ------
    InputError
        A store that is not a local SQLite file (a server's store cannot be scanned from here),
        or a database file that does not exist.
    """
    from training.tracking import artifact_location, sqlite_path

    db = sqlite_path(uri)
    if db is None:
        raise InputError("--mlflow-uri", None, None, "only a local SQLite store (sqlite:///...) can be checked")
    if not db.exists():
        raise InputError(str(db), None, None, "MLflow store not found")
    location = artifact_location(uri, cfg)
    artifacts = Path(unquote(urlparse(location).path)) if location and location.startswith("file:") else None
    return [db, *([artifacts] if artifacts is not None and artifacts.is_dir() else [])]


def run_check(
    outputs: Sequence[Path], pseudonyms: np.ndarray, *, n_persons: int | None = None
) -> tuple[list[Finding], int]:
    """Scan ``outputs`` (each must exist); returns the findings and the number of files scanned.

    Raises
    ------
    InputError
        An output that does not exist (nothing is scanned).
    """
    missing = [str(p) for p in outputs if not Path(p).exists()]
    if missing:
        raise InputError(missing[0], None, None, "output to check not found")
    n_files = sum(sum(1 for f in Path(p).rglob("*") if f.is_file()) if Path(p).is_dir() else 1 for p in outputs)
    return scan_outputs([Path(p) for p in outputs], pseudonyms, n_persons=n_persons), n_files


def finding_lines(findings: Sequence[Finding], n_files: int, limit: int = 50) -> list[str]:
    """The check's result in plain words, one finding a line (at most ``limit``).

    Examples
    --------
    >>> finding_lines([], 12)
    ['output check: 12 file(s) scanned, nothing found: no pseudonym and no person-level table']
    >>> finding_lines([Finding("x/a.csv", "1 pseudonym occurrence(s) in the file")], 3)[1]
    'FOUND x/a.csv: 1 pseudonym occurrence(s) in the file'
    """
    if not findings:
        return [f"output check: {n_files} file(s) scanned, nothing found: no pseudonym and no person-level table"]
    lines = [f"output check: {len(findings)} problem(s) in {n_files} file(s) scanned; do NOT release these outputs"]
    lines += [f"FOUND {f.path}: {f.problem}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"... and {len(findings) - limit} more")
    return lines
