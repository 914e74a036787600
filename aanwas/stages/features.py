"""Stage wiring of ``aanwas features``: read a delivery, build, cache in the work directory.

Writes, inside WORK only (person-level data: never an exports directory or MLflow store):

- ``features.parquet``: the feature table (:func:`features.build.build_feature_table`);
- ``audit.parquet``: the audit frame, same rows (:func:`features.build.build_audit_frame`);
- ``features_summary.json``: row, labelled and positive counts per reference date and band,
  the feature config and the build time.

The table is built one reference date at a time and written in row groups of
``features.build.row_group_rows`` rows of one date each (a date may span several row groups;
:func:`feature_chunks` puts them back together); with ``features.build.engine = "dask"`` the
delivery is also read and built in person partitions (:mod:`features.sources.partition`; the
same bytes). Both Parquet files are written under temporary names and renamed into place only
when everything succeeded; on any error nothing new is left behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from aanwas.common.config import as_plain
from aanwas.common.errors import InputError
from aanwas.common.io import atomic_write_bytes
from aanwas.config import AppConfig
from features.build import (
    BAND_DTYPE,
    REF_DTYPE,
    audit_source,
    build_audit_frame,
    iter_feature_tables,
    row_chunks,
)
from features.catalogue import LABEL_COLUMN
from features.config import AGE_BANDS
from features.contract import ContractConfig, Delivery
from features.geography import Geography, load_geography
from features.sources.partition import delivery_files, iter_partitioned
from features.sources.readers import Coverage, load_mapping, read_coverage, read_delivery, read_observation_end

FEATURES_FILE = "features.parquet"
AUDIT_FILE = "audit.parquet"
SUMMARY_FILE = "features_summary.json"


class _ChunkWriter:
    """Append frames with one fixed schema to a Parquet file (exactly one row group per frame)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, df: pd.DataFrame) -> None:
        # from_pandas turns NaN into null: a not-applicable indicator is stored as null, never
        # as a NaN value (the one rule of docs/features.md; a test reads the file to check it)
        if self.writer is None:
            self.schema = pa.Schema.from_pandas(df, preserve_index=False)
            self.writer = pq.ParquetWriter(self.path, self.schema)
        table = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        self.writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _add_summary(counts: dict[tuple[str, str], dict[str, int]], chunk: pd.DataFrame) -> None:
    """Add the row, labelled and positive counts per (reference date, band) of ``chunk``."""
    for row in _summary_rows(chunk):
        key = (row.pop("ref_date"), row.pop("age_band"))
        into = counts.setdefault(key, dict.fromkeys(row, 0))
        for name, value in row.items():
            into[name] += value


def _summary_rows(chunk: pd.DataFrame) -> list[dict[str, Any]]:
    lab = chunk[LABEL_COLUMN]
    g = (
        pd.DataFrame(
            {
                "ref_date": chunk["ref_date"],  # formatted per group below, not per row
                "age_band": chunk["age_band"],
                "n_rows": 1,
                "n_labelled": lab.notna().astype("int64"),
                "n_positive": lab.fillna(False).astype("int64"),
            }
        )
        .groupby(["ref_date", "age_band"], observed=False, sort=True)[["n_rows", "n_labelled", "n_positive"]]
        .sum()
    )
    return [
        {"ref_date": pd.Timestamp(r).strftime("%Y-%m-%d"), "age_band": str(b), **{k: int(v) for k, v in row.items()}}
        for (r, b), row in g.iterrows()
    ]


def _pandas_chunks(cfg: AppConfig, delivery: Delivery) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    audit = audit_source(delivery)  # prepared once, not per reference date
    for chunk in iter_feature_tables(delivery, cfg.features):
        yield from row_chunks(chunk, build_audit_frame(audit, chunk), cfg.features.build.row_group_rows)


def _built_chunks(
    cfg: AppConfig, data: Path, delivery: Delivery | None, scratch: Path | None
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(features, audit) chunks of the build, ``features.build.row_group_rows`` rows of one
    reference date each (a row group of the files): from the read ``delivery`` (pandas
    engine) or, without one, part by part through ``scratch`` (the dask engine)."""
    if delivery is not None:
        return _pandas_chunks(cfg, delivery)
    if scratch is None:
        raise ValueError("the dask engine builds part by part through a scratch directory")
    return iter_partitioned(
        data, scratch, cfg.features, cfg.contract, cfg.features.build.partitions, scheduler=cfg.compute.scheduler
    )


def run_features(
    cfg: AppConfig,
    data: Path,
    work: Path,
    mapping: Path | None = None,
    *,
    console: Console | None = None,
) -> dict[str, Any]:
    """Read and validate the delivery in ``data``, build features and audit frame, cache in ``work``.

    Returns the summary that is also written to ``work/features_summary.json``.

    Raises
    ------
    InputError
        If the delivery breaks the contract (nothing is written).
    ConfigError
        If the config or mapping is invalid, or no reference date lies within the data.
    """
    work = Path(work)
    t0 = time.perf_counter()
    partitioned = cfg.features.build.engine == "dask"
    digest = None  # the dask engine validates part by part: no whole-delivery digest recorded
    if partitioned:  # read part by part below; only the layout is checked here
        delivery_files(Path(data), mapping)
        delivery = None
        observation_end = read_observation_end(Path(data), cfg.contract) or cfg.contract.observation_end
    else:
        digest = delivery_digest(Path(data), mapping, cfg.contract)  # before reading: what was validated
        delivery = read_delivery(Path(data), load_mapping(mapping), cfg.contract)
        observation_end = delivery.observation_end
    t_read = time.perf_counter() - t0
    created = not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    tmp_paths = []
    for name in (FEATURES_FILE, AUDIT_FILE):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.tmp-", dir=work)
        os.close(fd)
        tmp_paths.append(Path(tmp))
    feat_writer, audit_writer = _ChunkWriter(tmp_paths[0]), _ChunkWriter(tmp_paths[1])
    counts: dict[tuple[str, str], dict[str, int]] = {}
    scratch: Path | None = None
    try:
        t1 = time.perf_counter()
        n_total = 0
        if delivery is None:  # the dask engine's parts: person-level, so inside WORK
            scratch = Path(tempfile.mkdtemp(prefix=".partitions-", dir=work))
        for chunk, audit_chunk in _built_chunks(cfg, Path(data), delivery, scratch):
            feat_writer.write(chunk)
            audit_writer.write(audit_chunk)
            _add_summary(counts, chunk)
            n_total += len(chunk)
        feat_writer.close()
        audit_writer.close()
        if scratch is not None:
            shutil.rmtree(scratch)
        t_build = time.perf_counter() - t1
        rows = [{"ref_date": d, "age_band": b, **c} for (d, b), c in counts.items()]
        coverage = read_coverage(Path(data))
        summary = {
            "observation_end": observation_end.isoformat(),
            # the region the delivery covers (None: the whole country); the export covers it only
            "coverage": dataclasses.asdict(coverage) if coverage is not None else None,
            "n_rows": n_total,
            "per_ref_date_band": rows,
            "seconds_read": round(t_read, 2),
            "seconds_build": round(t_build, 2),
            "features": as_plain(cfg.features),
            VALIDATED_DELIVERY: digest,
        }
        os.replace(tmp_paths[0], work / FEATURES_FILE)
        os.replace(tmp_paths[1], work / AUDIT_FILE)
        atomic_write_bytes(work / SUMMARY_FILE, json.dumps(summary, indent=2).encode("utf-8"))
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        feat_writer.close()
        audit_writer.close()
        for p in tmp_paths:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if created:
            with contextlib.suppress(OSError):
                work.rmdir()  # only if still empty
        raise
    if console is not None:
        console.print(
            f"feature table: {n_total:,} rows (person x reference date), built in {t_build:.1f} s "
            f"(reading and validation {t_read:.1f} s); cached in {work} "
            "(person-level: keep it inside the secure environment)"
        )
        if rows:
            table = pd.DataFrame(rows).pivot(index="ref_date", columns="age_band", values="n_rows")[list(AGE_BANDS)]
            console.print(table.to_string())
    return summary


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    if "ref_date" in df.columns:
        df["ref_date"] = df["ref_date"].astype(REF_DTYPE)
    if "age_band" in df.columns:
        df["age_band"] = df["age_band"].astype(BAND_DTYPE)
    return df


def load_coverage(work: Path) -> Coverage | None:
    """The region the cached feature table covers (from ``features_summary.json``); None: the
    whole country, or a work directory built before coverage was recorded."""
    path = Path(work) / SUMMARY_FILE
    if not path.exists():
        return None
    cov = json.loads(path.read_text(encoding="utf-8")).get("coverage")
    return Coverage(gemeenten=tuple(cov["gemeenten"]), name=str(cov["name"])) if cov else None


#: Key of ``features_summary.json`` holding the :func:`delivery_digest` of the delivery the
#: stage read and validated whole (null for the dask engine, which validates part by part).
VALIDATED_DELIVERY = "validated_delivery"


def validated_delivery(work: Path) -> str | None:
    """The :func:`delivery_digest` of the delivery whose every table passed validation when the
    cached feature table was built from it; None when not recorded."""
    path = Path(work) / SUMMARY_FILE
    if not path.exists():
        return None
    found = json.loads(path.read_text(encoding="utf-8")).get(VALIDATED_DELIVERY)
    return str(found) if found else None


def geography_digest(geography: Geography) -> str:
    """sha256 of the geography's hierarchy and names (a key part of stored results)."""
    hashed = pd.util.hash_pandas_object(geography.hierarchy(), index=False).to_numpy(dtype=np.uint64)
    names = pd.util.hash_pandas_object(pd.Series(geography.names, dtype="object"), index=True).to_numpy(np.uint64)
    return hashlib.sha256(hashed.tobytes() + names.tobytes()).hexdigest()


def delivery_digest(data: Path, mapping: Path | None, contract: ContractConfig) -> str | None:
    """sha256 of what reading and validating a delivery depends on: every file of the delivery
    directory (names and bytes), the mapping file, the contract settings and the shipped
    geography; None when the directory or mapping file is missing (reading it then says what
    is wrong)."""
    if not Path(data).is_dir() or (mapping is not None and not Path(mapping).is_file()):
        return None
    h = hashlib.sha256()
    rules = {"contract": as_plain(contract), "geography": geography_digest(load_geography())}
    h.update(json.dumps(rules, sort_keys=True, default=str).encode())
    files = [p for p in sorted(Path(data).rglob("*")) if p.is_file()]
    if mapping is not None:
        files.append(Path(mapping))
    for path in files:
        name = path.relative_to(data) if path.is_relative_to(data) else "mapping"
        h.update(f"{name}:{path.stat().st_size};".encode())
        with open(path, "rb") as fh:
            while block := fh.read(1 << 24):
                h.update(block)
    return h.hexdigest()


def _features_path(work: Path) -> Path:
    path = Path(work) / FEATURES_FILE
    if not path.exists():
        raise InputError(str(path), None, None, "no cached feature table (run 'aanwas features' first)")
    return path


def load_features(
    work: Path, columns: list[str] | None = None, *, row_groups: Sequence[int] | None = None
) -> pd.DataFrame:
    """Read only ``columns`` (default: all) of the cached feature table, with contract dtypes;
    only the Parquet ``row_groups`` given (default: all; see :func:`feature_chunks`).

    Raises
    ------
    InputError
        If ``work`` holds no cached feature table (run ``aanwas features`` first).
    """
    path = _features_path(work)
    if row_groups is None:
        return _typed(pd.read_parquet(path, columns=columns))
    table = pq.ParquetFile(path).read_row_groups(list(row_groups), columns=columns, use_pandas_metadata=True)
    return _typed(table.to_pandas())


@dataclasses.dataclass(frozen=True)
class FeatureChunk:
    """Parquet row groups of the cached feature table that hold whole reference dates.

    ``digest`` (sha256 over the table's schema and the row groups' stored bytes) is the same
    whenever these rows are: stored results computed from them stay valid while it is.
    """

    row_groups: tuple[int, ...]
    digest: str


#: Bytes read at a time when hashing the feature table.
_HASH_BLOCK = 1 << 24


def feature_chunks(work: Path) -> list[FeatureChunk]:
    """The cached feature table as chunks of whole reference dates, oldest first.

    The features stage writes one reference date after another, each in one or more row
    groups of that date only (``features.build.row_group_rows``), so each date is a chunk;
    a table whose row groups mix dates or lack statistics is one chunk. Reads the file's
    footer and hashes its row groups (no decoding).
    """
    path = _features_path(work)
    md = pq.ParquetFile(path).metadata
    ref = md.schema.to_arrow_schema().get_field_index("ref_date")
    spans: list[tuple[Any, Any]] = []
    for i in range(md.num_row_groups):
        stats = md.row_group(i).column(ref).statistics if ref >= 0 else None
        spans.append((stats.min, stats.max) if stats is not None and stats.has_min_max else (None, None))
    dates = [lo for lo, hi in spans]
    clean = all(lo is not None and lo == hi for lo, hi in spans) and all(
        a <= b for a, b in zip(dates, dates[1:], strict=False)
    )
    if clean:
        groups: dict[Any, list[int]] = {}
        for i, d in enumerate(dates):
            groups.setdefault(d, []).append(i)
        parts = list(groups.values())
    else:
        parts = [list(range(md.num_row_groups))]
    schema = md.schema.to_arrow_schema().to_string(show_schema_metadata=False).encode()
    out = []
    with open(path, "rb") as fh:
        for rgs in parts:
            h = hashlib.sha256(schema)
            for i in rgs:
                rg = md.row_group(i)
                starts, ends = [], []
                for j in range(rg.num_columns):
                    col = rg.column(j)
                    start = col.data_page_offset
                    if col.has_dictionary_page and col.dictionary_page_offset is not None:
                        start = min(start, col.dictionary_page_offset)
                    starts.append(start)
                    ends.append(start + col.total_compressed_size)
                    h.update(f"{col.path_in_schema}:{col.compression}:{col.num_values};".encode())
                fh.seek(min(starts))
                left = max(ends) - min(starts)
                h.update(f"{rg.num_rows}:{left};".encode())
                while left > 0:
                    block = fh.read(min(left, _HASH_BLOCK))
                    if not block:
                        break
                    h.update(block)
                    left -= len(block)
            out.append(FeatureChunk(row_groups=tuple(rgs), digest=h.hexdigest()))
    return out


def load_feature_table(work: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the cached feature table and audit frame from ``work`` with their contract dtypes.

    Raises
    ------
    InputError
        If ``work`` holds no cached feature table (run ``aanwas features`` first).
    """
    work = Path(work)
    out = []
    for name in (FEATURES_FILE, AUDIT_FILE):
        path = work / name
        if not path.exists():
            raise InputError(str(path), None, None, "no cached feature table (run 'aanwas features' first)")
        out.append(_typed(pd.read_parquet(path)))
    return out[0], out[1]
