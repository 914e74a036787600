"""Stage wiring of ``aanwas monitor``: drift between two reference dates, logged to MLflow.

``aanwas monitor --work WORK --out DIR`` reads the cached feature table (person-level, work
directory only), compares the last two reference dates (or the two given with ``--ref-date``)
per feature, prevalence and score, logs the aggregates and the "retrain recommended" verdict to
MLflow and writes a small drift report to ``DIR`` (atomically: ``drift_features.csv``,
``drift_scores.csv``, ``drift_prevalence.csv``, ``drift.json``). DIR is a report for the team in
the secure environment, not an export.

Everything that leaves for policy staff (area risk, trends, intervention effects, dashboard)
is written by ``aanwas export`` through :func:`monitoring.export.write_export`, the one export
writer; the pure builders it uses for trends and effects live here (:func:`run_trends`,
:func:`run_effects`, :func:`observed_for_trends`) so that both stages share one monitor config.

Scores come from the registered champion of each band, in memory only (none registered yet:
score drift is left out).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from rich.console import Console

from aanwas.config import AppConfig
from common.io import atomic_dir
from common.errors import InputError
from features.geography import load_geography
from monitoring.drift import DriftReport, audit_drift
from monitoring.monitor_config import MonitorConfig


@dataclasses.dataclass
class MonitorResult:
    """What the stage produced (aggregates only)."""

    drift: DriftReport
    reference: pd.Timestamp
    current: pd.Timestamp
    files: list[str] = dataclasses.field(default_factory=list)
    mlflow_uri: str | None = None


def monitor_config(cfg: AppConfig) -> MonitorConfig:
    """The monitor section of the app config (defaults until the lead nests it)."""
    found = getattr(cfg.monitoring, "monitor", None)
    return found if isinstance(found, MonitorConfig) else MonitorConfig()


def run_trends(
    area_table: pd.DataFrame,
    mcfg: MonitorConfig,
    observed: pd.DataFrame | None = None,
    *,
    outcome: pd.DataFrame | None = None,
    total_band: str | None = "all",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trend series and their summary from stacked area tables (pure; no files); see
    :func:`monitoring.trends.build_trend_series` for ``observed`` and ``outcome``."""
    from monitoring.trends import build_trend_series, summarise_trends

    series = build_trend_series(area_table, mcfg.trends, observed=observed, outcome=outcome, total_band=total_band)
    return series, summarise_trends(series, mcfg.trends)


def run_effects(
    delivery: Any, mcfg: MonitorConfig, labels: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Effects table, skipped interventions and the observed panel of a delivery (pure).

    ``labels``: the risk labels per age band (``cfg.features.labels``; default: their
    defaults); with ``interventions.outcome = "label"`` each band's effect is measured on its
    label's offences. Returns empty effects when the delivery has no intervention registry.
    """
    from monitoring.interventions import EFFECT_COLUMNS, build_outcome_panel, estimate_intervention_effects

    geo = load_geography()
    band_offences = None if labels is None else {b: lab.offences for b, lab in labels.items()}
    panel = build_outcome_panel(
        delivery.tables, geo, mcfg.interventions, observation_end=delivery.observation_end, band_offences=band_offences
    )
    if delivery.interventions is None or len(delivery.interventions) == 0:
        return pd.DataFrame(columns=list(EFFECT_COLUMNS)), pd.DataFrame(columns=["intervention_id", "reason"]), panel
    reg = delivery.interventions.copy()
    for c in ("intervention_id", "name", "area_codes", "age_bands"):
        reg[c] = reg[c].astype("str")
    res = estimate_intervention_effects(reg, panel, geo, mcfg.interventions)
    return res.effects, res.skipped, panel


def observed_for_trends(
    delivery: Any,
    mcfg: MonitorConfig,
    national_code: str,
    panel: pd.DataFrame | None = None,
    labels: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Registration counts per area, band and calendar year (in memory), at the levels of
    ``mcfg.trends.observed_levels`` and national, every year of the delivery's panel.

    ``panel`` is the outcome panel of the intervention effects (any level at least as fine as
    the finest level wanted): summed up to the levels wanted, so the calendar-year series
    counts exactly what the effects are estimated on (:func:`context_offences` names it);
    without it the panel is built here, with the offences of ``labels`` (the configured
    ``[features.labels]``; default: their defaults).
    Below gemeente level registrations are rare, so nearly every count fails the threshold,
    and the LP audit of a sparse table is slow: wijk level only when asked. The counts still
    go through :func:`monitoring.disclosure.suppress_observed_counts` before any rate is shown.
    """
    from monitoring.interventions import build_outcome_panel

    levels = mcfg.trends.observed_levels
    finest: Literal["gemeente", "wijk"] = "wijk" if "wijk" in levels else "gemeente"
    fine_enough = {"gemeente": ("gemeente", "wijk", "buurt"), "wijk": ("wijk", "buurt")}[finest]
    base = panel if panel is not None and len(panel) and str(panel["area_level"].iloc[0]) in fine_enough else None
    if base is None:
        icfg = dataclasses.replace(mcfg.interventions, panel_level=finest)
        band_offences = None if labels is None else {b: lab.offences for b, lab in labels.items()}
        base = build_outcome_panel(
            delivery.tables,
            load_geography(),
            icfg,
            observation_end=delivery.observation_end,
            band_offences=band_offences,
        )
    cols = ["period", "area_level", "area_code", "age_band", "n_persons", "n_registered"]
    counts = ["n_persons", "n_registered"]
    code = base["area_code"].astype("str")
    parts = []
    if finest == "wijk":
        wk = base.assign(area_code="WK" + code.str[2:8])
        parts.append(
            wk.groupby(["period", "area_code", "age_band"], as_index=False)[counts].sum().assign(area_level="wijk")
        )
    gm = base.assign(area_code="GM" + code.str[2:6])
    gm = gm.groupby(["period", "area_code", "age_band"], as_index=False)[counts].sum().assign(area_level="gemeente")
    parts.append(gm)
    land = gm.groupby(["period", "age_band"], as_index=False)[counts].sum()
    parts.append(land.assign(area_level="land", area_code=national_code))
    out = pd.concat([p[cols] for p in parts], ignore_index=True)
    return out[out["area_level"].isin([*levels, "land"])].reset_index(drop=True)


def context_offences(mcfg: MonitorConfig, labels: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Offences counted per band by the outcome panel of the intervention effects (and so by
    the calendar-year context series of the trends): :func:`monitoring.interventions.outcome_offences`
    of the configured labels."""
    from monitoring.interventions import outcome_offences

    found = outcome_offences(mcfg.interventions, {b: lab.offences for b, lab in labels.items()})
    return {b: tuple(found[b]) for b in labels}


def observed_parents(national_code: str) -> dict[str, str]:
    """Parent of every gemeente (the national code) and wijk (its gemeente) of the 2024 map."""
    h = load_geography().hierarchy()
    gemeenten = dict.fromkeys(h["gemeente"].unique(), national_code)
    return {**dict(zip(h["wijk"], h["gemeente"], strict=True)), **gemeenten}


def run_drift(features: pd.DataFrame, ref_dates: tuple[pd.Timestamp, pd.Timestamp], mcfg: MonitorConfig) -> DriftReport:
    """Drift between two reference dates of an in-memory feature table (pure).

    Score drift is part of the verdict when ``features`` has a ``score`` column (see
    :func:`champion_scores`).
    """
    from features.catalogue import feature_columns

    ref = features[features["ref_date"] == ref_dates[0]]
    cur = features[features["ref_date"] == ref_dates[1]]
    bands = sorted(set(ref["age_band"].astype("str")) & set(cur["age_band"].astype("str")))
    cols = {b: [c for c in feature_columns(b) if c in features.columns] for b in bands}
    return audit_drift(ref, cur, features=cols, config=mcfg.drift)


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
    """Log drift aggregates to MLflow in one run; returns the tracking URI used."""
    import mlflow

    from training.tracking import configure_tracking, resolve_tracking_uri

    uri = resolve_tracking_uri(mlflow_uri, cfg.training.mlflow, work)
    exp_id = configure_tracking(uri, cfg.training.mlflow)
    with mlflow.start_run(experiment_id=exp_id, run_name="monitor-drift"):
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
    from aanwas.stages.export import registry_bundle
    from models.scoring import score_frame

    try:
        bundle = registry_bundle(cfg, work, mlflow_uri=mlflow_uri)
    except InputError:
        return None, None
    scores = np.full(len(frame), np.nan)
    known = frame["age_band"].isin(list(bundle.bands)).to_numpy()
    scores[known] = score_frame(bundle, frame[known]).to_numpy()
    return scores, bundle.version_label


def run_monitor(
    cfg: AppConfig,
    out: Path,
    *,
    work: Path,
    ref_dates: Sequence[str] | None = None,
    mlflow_uri: str | None = None,
    console: Console | None = None,
) -> MonitorResult:
    """Drift between two reference dates: report files in ``out`` (atomic) and an MLflow run.

    Raises
    ------
    InputError
        Feature table missing, or the reference dates are not in it (nothing is written).
    """
    mcfg = monitor_config(cfg)
    frame, pair = _read_features(Path(work), ref_dates)
    scores, version = champion_scores(cfg, frame, work=Path(work), mlflow_uri=mlflow_uri)
    if scores is not None:
        frame = frame.assign(score=scores)
    elif console is not None:
        console.print("monitor: no champion model registered yet: score drift left out")
    drift = run_drift(frame, pair, mcfg)
    del frame  # person-level: not kept beyond the drift statistics
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
