"""Steps several stages share: scoring with the registered models, the scores' fingerprint,
aggregation with disclosure control, and writing the checked area table of every period.

``aanwas export`` (:func:`aanwas.stages.export.run_full_export`), ``aanwas bench``'s export
stage and ``aanwas monitor`` (scores for score drift) compose these; none of them repeats
one. The person-level scored frame exists only in memory: :func:`registry_area_sums` sums each
reference date's scores to areas, :func:`check_sums` applies disclosure control to the area
table of the sums, and only :class:`monitoring.publishing.disclosure.DisclosureChecked` tables
reach :func:`write_periods` (through :func:`monitoring.publishing.export.write_export`, the one
export writer).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import pickle
import zipfile
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from aanwas.common.compute import Executor
from aanwas.common.errors import InputError
from aanwas.common.io import FileStore
from aanwas.config import AppConfig
from aanwas.stages.features import feature_chunks, geography_digest, load_features
from features.geography import Geography, load_geography
from features.sources.readers import Coverage
from models.bundle import ModelBundle
from models.scoring import score_frame
from monitoring.config import AggregateConfig, MonitoringConfig
from monitoring.publishing.aggregate import AreaSums, aggregate_sums, area_table
from monitoring.publishing.disclosure import DisclosureChecked, suppress_area_table
from monitoring.publishing.export import write_export
from training import tracking
from training.registry import load_bundle, registered_model_name

#: Key and score columns of the scored frame that enter the fingerprint (not the features).
FINGERPRINT_COLUMNS = ("ref_date", "period", "age_band", "buurt", "score", "label")
#: Columns of the scored frame the export aggregates (besides ``score``).
SCORED_KEYS = ["ref_date", "age_band", "buurt", "wijk", "gemeente", "label"]
#: Text columns of a delivery's intervention registry (read as categoricals or objects).
REGISTRY_TEXT_COLUMNS = ("intervention_id", "name", "area_codes", "age_bands")
#: Longest gate reason quoted in the one-line "no champion" error.
REASON_CHARS = 400


# --- scores --------------------------------------------------------------------------------


def fingerprint_parts(scores: pd.DataFrame) -> dict[str, tuple[str, int, int]]:
    """Per fingerprinted column: dtype, rows and the sum (mod 2**64) of the rows' hashes;
    the parts of frames of distinct rows add up to those of the frames together."""
    out = {}
    for col in FINGERPRINT_COLUMNS:
        if col in scores.columns:
            hashed = pd.util.hash_pandas_object(scores[col], index=False).to_numpy(dtype=np.uint64)
            out[col] = (str(scores[col].dtype), len(hashed), int(hashed.sum(dtype=np.uint64)))
    return out


def combine_fingerprint(parts: Sequence[Mapping[str, Sequence[Any]]]) -> str:
    """The fingerprint of several frames' :func:`fingerprint_parts` together (sha256)."""
    h = hashlib.sha256()
    for col in FINGERPRINT_COLUMNS:
        found = [p[col] for p in parts if col in p]
        if found:
            dtype = "|".join(sorted({str(f[0]) for f in found}))
            n = sum(int(f[1]) for f in found)
            total = sum(int(f[2]) for f in found) % (1 << 64)
            h.update(f"{col}:{dtype}:{n}:{total}".encode())
    return h.hexdigest()


def _score_rows(rows: pd.DataFrame, *, bundle: ModelBundle) -> np.ndarray:
    """Scores of one period's rows (a task for an executor: picklable, no side effects)."""
    return score_frame(bundle, rows).to_numpy()


def score_bands(
    bundle: ModelBundle, frame: pd.DataFrame, keep: Sequence[str], executor: Executor | None = None
) -> pd.DataFrame:
    """The rows of ``frame`` whose age band has a model in ``bundle``: columns ``keep`` and
    ``score`` (the band model's calibrated probability), in memory only.

    With ``executor`` (a Dask cluster, :mod:`aanwas.common.compute`) each reference date is
    scored as one task; every row's score depends on that row alone, so the result is the same.
    """
    rows = frame[frame["age_band"].isin(list(bundle.bands))]
    if executor is None:
        return rows[list(keep)].assign(score=score_frame(bundle, rows).to_numpy())
    dates = rows["ref_date"].to_numpy()
    where = [np.flatnonzero(dates == d) for d in sorted(set(dates))]
    score = np.zeros(len(rows))
    task = functools.partial(_score_rows, bundle=bundle)
    for at, part in zip(where, executor.map(task, [rows.iloc[w] for w in where]), strict=True):
        score[at] = part
    return rows[list(keep)].assign(score=score)


def intervention_registry(interventions: pd.DataFrame) -> pd.DataFrame:
    """A delivery's intervention registry with its text columns as plain strings."""
    return interventions.astype({c: "str" for c in REGISTRY_TEXT_COLUMNS})


# --- the model registry --------------------------------------------------------------------


class NoChampionError(InputError):
    """A band has no champion model to score with; the message alone is the one line shown
    (why, and what to do), without the generic "invalid input" prefix."""

    def __init__(self, problem: str):
        super().__init__("model registry", None, None, problem)
        self.args = (problem,)

    def __str__(self) -> str:
        return self.problem


def _why_no_champion(client: Any, name: str, band: str, work: Path) -> str:
    """One line: why registered model ``name`` has no champion, and what to do."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        versions = []
    if not versions:
        return f"no champion of {name}: no version has been trained; run aanwas train (or aanwas demo) first"
    latest = max(versions, key=lambda v: int(v.version))
    tags = dict(latest.tags or {})
    decision = tags.get("aanwas.decision", "unknown")
    reason = " ".join(tags.get("aanwas.decision_reason", "no reason recorded").split())
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 3] + "..."
    run = f"aanwas report --run-id {latest.run_id} --out REPORTS" if latest.run_id else "aanwas report"
    who = {"rejected": "its gate rejected", "override-rejected": "a reviewer rejected"}.get(
        decision, f"no decision promoted ({decision})"
    )
    return (
        f"no champion of {name}: {who} version "
        f"{latest.version} ({reason}); see the review pack ({run}); promote with "
        f'aanwas promote --work {work} --band {band} --version {latest.version} --reason "..." or retrain'
    )


def missing_champions(
    cfg: AppConfig, work: Path, *, mlflow_uri: str | None = None, alias: str = "champion"
) -> dict[str, str]:
    """Bands whose registered model has no ``alias`` version, each with a one-line why and what
    to do (from the registry's decision tags of the band's latest version)."""
    tcfg = cfg.training
    uri = tracking.resolve_tracking_uri(mlflow_uri, tcfg.mlflow, Path(work))
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri) if uri else mlflow.MlflowClient()
    out = {}
    for band in tcfg.bands:
        name = registered_model_name(tcfg.mlflow.model_prefix, band)
        try:
            client.get_model_version_by_alias(name, alias)
        except MlflowException:
            if alias == "champion":
                out[band] = _why_no_champion(client, name, band, Path(work))
            else:
                out[band] = f"no '{alias}' version of {name}; train (and promote) first"
    return out


def registry_bundle(
    cfg: AppConfig,
    work: Path,
    *,
    mlflow_uri: str | None = None,
    alias: str = "champion",
    bands: Sequence[str] | None = None,
) -> ModelBundle:
    """The registry's ``alias`` model of every band (or of ``bands``) as a
    :class:`models.bundle.ModelBundle`.

    Raises
    ------
    InputError
        When a band has no version with that alias: one line naming why (e.g. the gate rejected
        the latest version, with the gate's reason) and what to do (see the review pack, promote
        with a recorded reason, or retrain).
    """
    tcfg = cfg.training
    wanted = list(tcfg.bands if bands is None else bands)
    missing = missing_champions(cfg, work, mlflow_uri=mlflow_uri, alias=alias)
    for band in wanted:
        if band in missing:
            raise NoChampionError(missing[band])
    uri = tracking.resolve_tracking_uri(mlflow_uri, tcfg.mlflow, Path(work))
    return load_bundle(tcfg.mlflow.model_prefix, wanted, alias=alias, uri=uri)


#: Directory in the work directory with the area sums of each reference date (CONFIDENTIAL
#: aggregates, never exported), keyed by the models, the date's stored feature rows and the rules.
AREA_SUMS_STORE = "area_sums"
#: Bump when scoring or :func:`monitoring.publishing.aggregate.aggregate_sums` changes what
#: stored sums mean: older entries then no longer match.
AREA_SUMS_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ScoredSums:
    """Area sums of every period (``sums``) with the scored rows' fingerprint and count;
    ``n_reused`` of the ``n_chunks`` reference-date chunks came from the store."""

    sums: AreaSums
    fingerprint: str
    n_rows: int
    n_reused: int = 0
    n_chunks: int = 0


def area_sums_store(work: Path) -> FileStore:
    """Per-reference-date area sums of earlier exports from ``work``: a refresh scores and sums
    only the dates whose feature rows, models or rules changed."""
    return FileStore(Path(work) / AREA_SUMS_STORE)


def bundle_digest(bundle: ModelBundle) -> str:
    """sha256 of the bundle's fitted estimators (pickled) and version labels."""
    h = hashlib.sha256(bundle.version_label.encode())
    for band in bundle.bands:
        h.update(band.encode())
        h.update(pickle.dumps(bundle.estimators[band], protocol=5))
    return h.hexdigest()


def _encode_part(sums: AreaSums, parts: Mapping[str, Any], n_rows: int) -> bytes:
    head = json.dumps({"fingerprint_parts": parts, "n_rows": n_rows}, sort_keys=True).encode()
    return head + b"\n" + sums.to_bytes()


def _decode_part(data: bytes | None) -> tuple[AreaSums, dict[str, Any], int] | None:
    """A stored entry, or None when there is none or it cannot be read (then recomputed)."""
    if data is None:
        return None
    try:
        head, _, body = data.partition(b"\n")
        meta = json.loads(head)
        return AreaSums.from_bytes(body), meta["fingerprint_parts"], int(meta["n_rows"])
    except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile):
        return None


def _chunk_sums(
    row_groups: Sequence[int],
    *,
    work: Path,
    bundle: ModelBundle,
    columns: list[str],
    geography: Geography,
    acfg: AggregateConfig,
) -> tuple[AreaSums, dict[str, Any], int]:
    """Area sums, scores' fingerprint parts and row count of one reference date's stored rows
    (a task for an executor: picklable, no side effects; the scores stay inside it)."""
    frame = load_features(work, columns=columns, row_groups=row_groups)
    scores = score_bands(bundle, frame, SCORED_KEYS)
    del frame
    return aggregate_sums(scores, geography, acfg), fingerprint_parts(scores), len(scores)


def registry_area_sums(
    cfg: AppConfig,
    work: Path,
    geography: Geography,
    *,
    mlflow_uri: str | None = None,
    alias: str = "champion",
    bands: Sequence[str] | None = None,
    store: MutableMapping[str, bytes] | None = None,
    executor: Executor | None = None,
) -> tuple[ScoredSums, str]:
    """Area sums of the cached feature table scored with the registry's ``alias`` models, one
    reference date at a time (in memory), and the model version label.

    ``store`` (e.g. :func:`area_sums_store`) keeps each date's sums, keyed by the models'
    digest, the date's stored feature rows (:func:`aanwas.stages.features.feature_chunks`),
    the geography and the aggregation rule that enters the sums; a date whose key is stored
    is not read or scored again. The result is the same with or without ``store``. With
    ``executor`` (a Dask cluster, :mod:`aanwas.common.compute`) each date still to be scored is
    one task (its workers read the work directory at the same path); locally the dates are
    scored here, one after another, so one date's rows are in memory at a time.
    """
    bundle = registry_bundle(cfg, work, mlflow_uri=mlflow_uri, alias=alias, bands=bands)
    acfg = cfg.monitoring.aggregate
    rules = {
        "format": AREA_SUMS_FORMAT,
        "models": bundle_digest(bundle),
        "geography": geography_digest(geography),
        "elevated_threshold": acfg.elevated_threshold,
    }
    inputs = sorted({c for b in bundle.bands for c in bundle.features(b)} - set(SCORED_KEYS))
    chunks = feature_chunks(Path(work))
    keys = [
        hashlib.sha256(json.dumps({**rules, "rows": chunk.digest}, sort_keys=True).encode()).hexdigest()
        for chunk in chunks
    ]
    found: list[tuple[AreaSums, dict[str, Any], int] | None] = [
        _decode_part(store.get(key)) if store is not None else None for key in keys
    ]
    reused = sum(f is not None for f in found)
    todo = [i for i, f in enumerate(found) if f is None]
    task = functools.partial(
        _chunk_sums, work=Path(work), bundle=bundle, columns=SCORED_KEYS + inputs, geography=geography, acfg=acfg
    )
    row_groups = [chunks[i].row_groups for i in todo]
    computed = executor.map(task, row_groups) if executor is not None else map(task, row_groups)
    for i, part in zip(todo, computed, strict=True):
        found[i] = part
        if store is not None:
            store[keys[i]] = _encode_part(*part)
    done = [f for f in found if f is not None]
    sums = [f[0] for f in done]
    parts = [f[1] for f in done]
    n_rows = sum(f[2] for f in done)
    scored = ScoredSums(
        sums=AreaSums.concat(sums),
        fingerprint=combine_fingerprint(parts),
        n_rows=n_rows,
        n_reused=reused,
        n_chunks=len(chunks),
    )
    return scored, bundle.version_label


# --- areas, disclosure control, files -------------------------------------------------------


def covered_scope(cfg: AppConfig, coverage: Coverage | None) -> tuple[AppConfig, Geography]:
    """Config and geography of an export that covers ``coverage`` (None: the whole country).

    A delivery of a region says nothing about the rest of the country, so its export has rows
    for the region's gemeenten, wijken and buurten only, and its total row (area level
    ``land``, code ``monitoring.aggregate.national_code``) is the region's total, named after
    the region: "elevated" then means above the region's mean.
    """
    geo = load_geography()
    if coverage is None:
        return cfg, geo
    areas = geo.areas[geo.areas["gm_code"].isin(coverage.gemeenten)].reset_index(drop=True)
    agg = dataclasses.replace(cfg.monitoring.aggregate, national_name=coverage.name)
    cfg = dataclasses.replace(cfg, monitoring=dataclasses.replace(cfg.monitoring, aggregate=agg))
    return cfg, Geography(areas=areas)


@dataclasses.dataclass(frozen=True)
class CheckedAreas:
    """Aggregates of one scored frame: ``areas`` is CONFIDENTIAL (stays in memory), ``checked``
    passed disclosure control; ``fingerprint`` and ``n_rows`` describe the scored frame."""

    fingerprint: str
    n_rows: int
    areas: pd.DataFrame
    checked: DisclosureChecked

    @property
    def periods(self) -> list[str]:
        """Periods of the checked area table, sorted."""
        return sorted(self.checked.table["period"].astype(str).unique())


def check_sums(
    mon: MonitoringConfig,
    scored: ScoredSums,
    geography: Geography,
    progress: Callable[[str, float], None] | None = None,
    store: MutableMapping[str, bytes] | None = None,
    executor: Executor | None = None,
) -> CheckedAreas:
    """The area table of ``scored`` (every period of it) with disclosure control applied (no
    files); ``progress(stage, fraction_done)`` as the periods' audits finish; ``store`` keeps
    each period's disclosure result for reuse (:func:`disclosure_store`); ``executor`` runs the
    periods' disclosure control (default: local processes)."""
    areas = area_table(scored.sums, geography, mon.aggregate)
    total = mon.aggregate.band_total_label if mon.aggregate.include_band_total else None
    checked = suppress_area_table(
        areas, mon.disclosure, total_band=total, progress=progress, store=store, executor=executor
    )
    return CheckedAreas(fingerprint=scored.fingerprint, n_rows=scored.n_rows, areas=areas, checked=checked)


#: Directory in the work directory with each period's disclosure result (masks and audit
#: counts, keyed by a hash of the period's confidential table and the rules).
DISCLOSURE_STORE = "disclosure_results"


def disclosure_store(work: Path) -> FileStore:
    """Per-period disclosure results of earlier exports from ``work``: a refresh that adds a
    period certifies only the new (or changed) periods (docs/dev/disclosure.md)."""
    return FileStore(Path(work) / DISCLOSURE_STORE)


def write_periods(
    mon: MonitoringConfig,
    exports_root: Path,
    periods: list[str],
    checked: DisclosureChecked,
    model_version: str,
    fingerprint: str,
    *,
    extra_tables: Mapping[str, DisclosureChecked] | None = None,
    history_tables: Mapping[str, DisclosureChecked] | None = None,
    documents: Mapping[str, str] | None = None,
    extras_latest_only: bool = False,
) -> list[Path]:
    """One :func:`monitoring.publishing.export.write_export` per period; extras (and history tables,
    written whole) in every period or only the latest."""
    written = []
    for period in periods:
        with_extras = not extras_latest_only or period == periods[-1]
        written.append(
            write_export(
                exports_root,
                period,
                checked,
                mon,
                model_version=model_version,
                data_fingerprint=fingerprint,
                extra_tables=extra_tables if with_extras else None,
                history_tables=history_tables if with_extras else None,
                documents=documents if with_extras else None,
            )
        )
    return written
