"""Stage wiring of ``aanwas monitor``: drift between two reference dates, logged to MLflow.

``aanwas monitor --work WORK --out DIR`` reads the cached feature table (person-level, work
directory only), compares the last two reference dates (or the two given with ``--ref-date``)
per feature and score, and the outcome prevalence of the newest reference date with known
outcomes against the training period (:func:`training_prevalence`), logs the aggregates and the
"retrain recommended" verdict to MLflow and writes a small drift report to ``DIR`` (atomically: ``drift_features.csv``,
``drift_scores.csv``, ``drift_prevalence.csv``, ``drift.json``). DIR is a report for the team in
the secure environment, not an export.

Everything that leaves for policy staff (area risk, trends, intervention effects, dashboard)
is written by ``aanwas export`` (:mod:`aanwas.stages.export`), not here.

Scores come from the registered champion of each band, in memory only (none registered yet:
score drift is left out).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from rich.console import Console

from aanwas.common.errors import InputError
from aanwas.common.io import atomic_dir
from aanwas.config import AppConfig
from aanwas.stages.steps import registry_bundle, score_bands
from features.catalogue import feature_columns
from monitoring.effects.drift import DriftReport, audit_drift, audit_prevalence
from monitoring.monitor_config import DriftConfig, MonitorConfig
from training.config import SplitConfig
from training.splits import build_temporal_splits
from training.tracking import configure_tracking, detach_project_run, resolve_tracking_uri


@dataclasses.dataclass
class MonitorResult:
    """What the stage produced (aggregates only)."""

    drift: DriftReport
    reference: pd.Timestamp
    current: pd.Timestamp
    files: list[str] = dataclasses.field(default_factory=list)
    mlflow_uri: str | None = None


def run_drift(features: pd.DataFrame, ref_dates: tuple[pd.Timestamp, pd.Timestamp], mcfg: MonitorConfig) -> DriftReport:
    """Drift of features and scores between two reference dates of an in-memory feature table (pure).

    Score drift is part of the verdict when ``features`` has a ``score`` column (see
    :func:`champion_scores`).
    """
    ref = features[features["ref_date"] == ref_dates[0]]
    cur = features[features["ref_date"] == ref_dates[1]]
    bands = sorted(set(ref["age_band"].astype("str")) & set(cur["age_band"].astype("str")))
    cols = {b: [c for c in feature_columns(b) if c in features.columns] for b in bands}
    # the prevalence is not a change between these two dates (the newest has no known outcome):
    # see training_prevalence
    return audit_drift(ref, cur, features=cols, config=mcfg.drift, label_column=None)


#: ``reason`` of a prevalence row for a band without a training period in the feature table.
REASON_NO_TRAINING_PERIOD = "too few reference dates with known outcomes for a training period: not measured"


def training_prevalence(labels: pd.DataFrame, split: SplitConfig, config: DriftConfig) -> pd.DataFrame:
    """Outcome prevalence per band: the newest reference date with known outcomes against the
    band's training dates (pure; the prevalence table of :class:`DriftReport`).

    The dates are those of the temporal split ``aanwas train`` makes of the same feature table
    (:func:`training.splits.build_temporal_splits`): the training dates are the reference, the
    newest date whose outcomes are all known (the split's test date) is current. The newest
    reference date itself never has a known outcome (its horizon has not passed), so comparing
    the last two dates, like features and scores, would never measure it. ``labels`` has
    ``rinpersoon`` (in memory only: one person at several training dates is one cluster of the
    interval), ``ref_date``, ``age_band`` and ``label``. A band with too few dates with known
    outcomes for a split gets a row without figures and a ``reason``.
    """
    bands = sorted(labels["age_band"].astype("str").unique())
    refs, curs, missing = [], [], []
    for band in bands:
        try:
            s = build_temporal_splits(labels, [band], split)[band]
        except InputError:
            missing.append(band)
            continue
        in_band = labels["age_band"].astype("str") == band
        refs.append(labels[in_band & labels["ref_date"].isin(list(s.train_dates))])
        curs.append(labels[in_band & (labels["ref_date"] == s.test_date)])
    empty = labels.iloc[:0]
    table = audit_prevalence(
        pd.concat(refs or [empty]), pd.concat(curs or [empty]), config=config, cluster_column="rinpersoon"
    )
    nan = float("nan")
    gaps = [
        {"age_band": b, "reference_dates": "", "current_date": "", "n_ref": 0, "n_cur": 0}
        | dict.fromkeys(("prevalence_ref", "prevalence_cur", "diff", "diff_lo", "diff_hi"), nan)
        | {"shifted": False, "reason": REASON_NO_TRAINING_PERIOD}
        for b in missing
    ]
    out = pd.concat([table, pd.DataFrame(gaps, columns=table.columns)], ignore_index=True) if gaps else table
    return out.sort_values("age_band", kind="stable").reset_index(drop=True)


def _read_labels(work: Path) -> pd.DataFrame:
    """Person, reference date, band and outcome of every row of the feature table (in memory)."""
    return pd.read_parquet(Path(work) / "features.parquet", columns=["rinpersoon", "ref_date", "age_band", "label"])


def _read_features(work: Path, dates: Sequence[str] | None) -> tuple[pd.DataFrame, tuple[pd.Timestamp, pd.Timestamp]]:
    path = Path(work) / "features.parquet"
    if not path.exists():
        raise InputError(str(path), None, None, "feature table not found (run 'aanwas features' first)")
    refs = pd.read_parquet(path, columns=["ref_date"])["ref_date"].drop_duplicates().sort_values()
    if dates:
        if len(dates) != 2:
            raise InputError("--ref-date", None, len(dates), "give exactly two reference dates (reference, current)")
        pair = (pd.Timestamp(dates[0]), pd.Timestamp(dates[1]))
        missing = [d for d in pair if d not in set(refs)]
        if missing:
            raise InputError(str(path), "ref_date", len(missing), "reference date not in the feature table")
    else:
        if len(refs) < 2:
            raise InputError(str(path), "ref_date", len(refs), "need two reference dates for drift")
        pair = (pd.Timestamp(refs.iloc[-2]), pd.Timestamp(refs.iloc[-1]))
    frame = pd.read_parquet(path, filters=[("ref_date", "in", [p.to_datetime64() for p in pair])])
    frame = frame.drop(columns=[c for c in ("rinpersoon",) if c in frame.columns])
    return frame, pair


def _log_drift(
    report: DriftReport, pair: tuple[pd.Timestamp, pd.Timestamp], cfg: AppConfig, work: Path, mlflow_uri: str | None
) -> str:
    """Log drift aggregates to MLflow in one run of its own (a child of the project run under
    ``mlflow run``, never that run itself); returns the tracking URI used."""
    uri = resolve_tracking_uri(mlflow_uri, cfg.training.mlflow, work)
    exp_id = configure_tracking(uri, cfg.training.mlflow)
    parent = detach_project_run(uri)
    with mlflow.start_run(experiment_id=exp_id, run_name="monitor-drift", parent_run_id=parent):
        mlflow.set_tags(
            {
                "aanwas.stage": "monitor",
                "drift.reference": pair[0].date().isoformat(),
                "drift.current": pair[1].date().isoformat(),
            }
        )
        mlflow.log_param("drift.retrain_recommended", report.retrain_recommended)
        mlflow.log_metrics(report.metrics())
        mlflow.log_dict({"reasons": list(report.reasons)}, "drift_verdict.json")
    return uri


def champion_scores(
    cfg: AppConfig, frame: pd.DataFrame, *, work: Path, mlflow_uri: str | None
) -> tuple[np.ndarray | None, str | None]:
    """Calibrated scores of the registered champion of every band for ``frame`` (in memory).

    Returns ``(None, None)`` when no champion is registered (monitoring before the first
    training): drift of the features and the prevalence is still measured.
    """
    try:
        bundle = registry_bundle(cfg, work, mlflow_uri=mlflow_uri)
    except InputError:
        return None, None
    scores = np.full(len(frame), np.nan)
    known = frame["age_band"].isin(list(bundle.bands)).to_numpy()
    scores[known] = score_bands(bundle, frame, [])["score"].to_numpy()
    return scores, bundle.version_label


def run_monitor(
    cfg: AppConfig,
    out: Path,
    *,
    work: Path,
    ref_dates: Sequence[str] | None = None,
    mlflow_uri: str | None = None,
    console: Console | None = None,
    log: Console | None = None,
) -> MonitorResult:
    """Drift between two reference dates: report files in ``out`` (atomic) and an MLflow run.

    What was written and the verdict go to ``console`` (the result); a note that score drift is
    left out (no champion yet) to ``log`` (diagnostics; default: ``console``).

    Raises
    ------
    InputError
        Feature table missing, or the reference dates are not in it (nothing is written).
    """
    mcfg = cfg.monitoring.monitor
    frame, pair = _read_features(Path(work), ref_dates)
    scores, version = champion_scores(cfg, frame, work=Path(work), mlflow_uri=mlflow_uri)
    if scores is not None:
        frame = frame.assign(score=scores)
    elif (note := console if log is None else log) is not None:
        note.print("monitor: no champion model registered yet: score drift left out")
    drift = run_drift(frame, pair, mcfg)
    del frame  # person-level: not kept beyond the drift statistics
    labels = _read_labels(Path(work))
    drift = drift.with_prevalence(training_prevalence(labels, cfg.training.split, mcfg.drift))
    del labels
    verdict = {
        "reference": pair[0].date().isoformat(),
        "current": pair[1].date().isoformat(),
        "retrain_recommended": drift.retrain_recommended,
        "reasons": list(drift.reasons),
        "scored_with": version,
    }
    with atomic_dir(Path(out)) as tmp:
        drift.features.to_csv(tmp / "drift_features.csv", index=False)
        drift.scores.to_csv(tmp / "drift_scores.csv", index=False)
        drift.prevalence.to_csv(tmp / "drift_prevalence.csv", index=False)
        (tmp / "drift.json").write_text(json.dumps(verdict, indent=2), encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir())
    uri = _log_drift(drift, pair, cfg, Path(work), mlflow_uri)
    if console is not None:
        console.print(f"monitor: wrote {', '.join(files)} to {out}; drift logged to {uri}")
        word = "RECOMMENDED" if drift.retrain_recommended else "not needed"
        console.print(f"monitor: retraining {word}" + (f" ({'; '.join(drift.reasons)})" if drift.reasons else ""))
    return MonitorResult(drift=drift, reference=pair[0], current=pair[1], files=files, mlflow_uri=uri)
