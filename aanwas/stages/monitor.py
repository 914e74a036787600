"""Stage wiring of ``aanwas monitor``: trends, intervention effects, drift and the dashboard.

Inputs (each optional; the stage does what its inputs allow):

- ``area_tables``: disclosure-checked area tables of one or more refreshes (CSV or Parquet
  files, or directories holding ``area_risk.parquet`` / ``area_risk.csv``) -> trend series, trend
  summary and the dashboard;
- ``data``: a delivery directory -> the intervention registry and the observed registration
  panel -> intervention effects (DiD / synthetic control with placebos) and observed-rate trends;
- ``work``: the work directory with the cached feature table -> drift between two reference
  dates (features, prevalence; scores once the lead connects the model, see TODO below),
  logged to MLflow.

Outputs go to ``out`` (written atomically: a temporary directory renamed into place, nothing on
error): ``effects.csv``, ``effects_skipped.csv``, ``trends.csv``, ``trend_summary.csv``,
``drift_*.csv``, ``drift.json``, ``dashboard.html`` and ``monitor_summary.json``. Only aggregates
are written; person-level frames stay in memory.

TODO(lead): (1) give :class:`monitoring.config.MonitoringConfig` a field
``monitor: MonitorConfig`` (then :func:`monitor_config` picks it up); (2) in ``aanwas demo`` /
``aanwas export``, pass the in-memory disclosure-checked area table instead of files, run the
effects and trend tables through monitoring.disclosure, and hand effects.csv, trends and
dashboard.html to monitoring.export so they land in ``exports/<period>/``; (3) pass in-memory
scores (``models.scoring.score_frame``) to :func:`run_drift` as the ``score`` column.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from aanwas.config import AppConfig
from features._io import atomic_dir
from features.errors import InputError
from features.geography import load_geography
from monitoring.drift import DriftReport, audit_drift
from monitoring.monitor_config import MonitorConfig

EFFECTS_FILE = "effects.csv"
DASHBOARD_FILE = "dashboard.html"
AREA_TABLE_NAMES = ("area_risk.parquet", "area_risk.csv")


@dataclasses.dataclass
class MonitorResult:
    """What the stage produced (aggregates only)."""

    effects: pd.DataFrame | None = None
    effects_skipped: pd.DataFrame | None = None
    trends: pd.DataFrame | None = None
    trend_summary: pd.DataFrame | None = None
    drift: DriftReport | None = None
    dashboard_html: str | None = None
    files: list[str] = dataclasses.field(default_factory=list)


def monitor_config(cfg: AppConfig) -> MonitorConfig:
    """The monitor section of the app config (defaults until the lead nests it)."""
    found = getattr(cfg.monitoring, "monitor", None)
    return found if isinstance(found, MonitorConfig) else MonitorConfig()


def read_area_tables(paths: Sequence[Path]) -> pd.DataFrame:
    """Read and stack disclosure-checked area tables (files, or directories containing one).

    Raises
    ------
    InputError
        A path that does not exist or holds no area table.
    """
    frames = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for name in AREA_TABLE_NAMES for f in p.rglob(name))
            # one file per refresh directory: prefer Parquet
            by_dir: dict[Path, Path] = {}
            for f in found:
                if f.parent not in by_dir or f.suffix == ".parquet":
                    by_dir[f.parent] = f
            files = sorted(by_dir.values())
            if not files:
                raise InputError(str(p), None, 0, "no area_risk.parquet or area_risk.csv in this directory")
        elif p.is_file():
            files = [p]
        else:
            raise InputError(str(p), None, None, "area table not found")
        for f in files:
            if f.suffix == ".parquet":
                frames.append(pd.read_parquet(f))
            else:
                frames.append(
                    pd.read_csv(
                        f,
                        dtype={
                            "period": "str",
                            "area_code": "str",
                            "area_level": "str",
                            "age_band": "str",
                            "status": "str",
                        },
                        keep_default_na=True,
                    )
                )
    return pd.concat(frames, ignore_index=True)


def run_trends(
    area_table: pd.DataFrame, mcfg: MonitorConfig, observed: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trend series and their summary from stacked area tables (pure; no files)."""
    from monitoring.trends import build_trend_series, summarise_trends

    series = build_trend_series(area_table, mcfg.trends, observed=observed)
    return series, summarise_trends(series, mcfg.trends)


def run_effects(delivery: Any, mcfg: MonitorConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Effects table, skipped interventions and the observed panel of a delivery (pure).

    Returns empty effects when the delivery has no intervention registry.
    """
    from monitoring.interventions import EFFECT_COLUMNS, build_outcome_panel, estimate_intervention_effects

    geo = load_geography()
    panel = build_outcome_panel(delivery.tables, geo, mcfg.interventions, observation_end=delivery.observation_end)
    if delivery.interventions is None or len(delivery.interventions) == 0:
        return pd.DataFrame(columns=list(EFFECT_COLUMNS)), pd.DataFrame(columns=["intervention_id", "reason"]), panel
    reg = delivery.interventions.copy()
    for c in ("intervention_id", "name", "area_codes", "age_bands"):
        reg[c] = reg[c].astype("str")
    res = estimate_intervention_effects(reg, panel, geo, mcfg.interventions)
    return res.effects, res.skipped, panel


def observed_for_trends(delivery: Any, mcfg: MonitorConfig, wijk_panel: pd.DataFrame | None) -> pd.DataFrame:
    """Observed registration counts per wijk, gemeente and national, per band and year (in memory)."""
    from monitoring.interventions import build_outcome_panel

    geo = load_geography()
    parts = []
    for level in ("gemeente", "wijk"):
        if level == mcfg.interventions.panel_level and wijk_panel is not None:
            parts.append(wijk_panel)
        else:
            icfg = dataclasses.replace(mcfg.interventions, panel_level=level)
            parts.append(build_outcome_panel(delivery.tables, geo, icfg, observation_end=delivery.observation_end))
    gm = parts[0]
    land = gm.groupby(["period", "age_band"], as_index=False)[["n_persons", "n_registered"]].sum()
    land["area_level"], land["area_code"] = "land", "NL00"
    cols = ["period", "area_level", "area_code", "age_band", "n_persons", "n_registered"]
    return pd.concat([p[cols] for p in parts] + [land[cols]], ignore_index=True)


def run_drift(features: pd.DataFrame, ref_dates: tuple[pd.Timestamp, pd.Timestamp], mcfg: MonitorConfig) -> DriftReport:
    """Drift between two reference dates of an in-memory feature table (pure).

    TODO(lead): add a ``score`` column from ``models.scoring.score_frame(bundle, features)``
    before calling, so score drift is part of the verdict.
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


def run_monitor(
    cfg: AppConfig,
    out: Path,
    *,
    data: Path | None = None,
    mapping: Path | None = None,
    area_tables: Sequence[Path] = (),
    work: Path | None = None,
    ref_dates: Sequence[str] | None = None,
    mlflow_uri: str | None = None,
    console: Console | None = None,
) -> MonitorResult:
    """Run whatever monitoring the inputs allow and write the results atomically to ``out``.

    Raises
    ------
    InputError
        When no input is given, or an input is missing or malformed (nothing is written).
    """
    if data is None and not area_tables and work is None:
        raise InputError("monitor", None, None, "give at least one of --data, --area-table, --work")
    mcfg = monitor_config(cfg)
    result = MonitorResult()
    delivery = None
    observed = None
    if data is not None:
        from features.sources.readers import load_mapping, read_delivery

        delivery = read_delivery(Path(data), load_mapping(mapping), cfg.contract)
        result.effects, result.effects_skipped, panel = run_effects(delivery, mcfg)
        if area_tables:
            observed = observed_for_trends(delivery, mcfg, panel if mcfg.interventions.panel_level == "wijk" else None)
    area_table = read_area_tables(area_tables) if area_tables else None
    if area_table is not None:
        result.trends, result.trend_summary = run_trends(area_table, mcfg, observed)
        from monitoring.dashboard import build_dashboard

        horizons = {b: lab.horizon_months for b, lab in cfg.features.labels.items()}
        registry = delivery.interventions if delivery is not None else None
        if registry is not None:
            registry = registry.astype({c: "str" for c in ("intervention_id", "name", "area_codes", "age_bands")})
        result.dashboard_html = build_dashboard(
            area_table,
            mcfg.dashboard,
            trends=result.trends,
            registry=registry,
            effects=result.effects,
            horizons=horizons,
        )
    pair = None
    if work is not None:
        frame, pair = _read_features(Path(work), ref_dates)
        result.drift = run_drift(frame, pair, mcfg)
        del frame
    summary: dict[str, Any] = {}
    with atomic_dir(Path(out)) as tmp:
        if result.effects is not None:
            result.effects.to_csv(tmp / EFFECTS_FILE, index=False)
            result.effects_skipped.to_csv(tmp / "effects_skipped.csv", index=False)
            summary["effects"] = {"n_rows": len(result.effects), "n_skipped": len(result.effects_skipped)}
        if result.trends is not None:
            result.trends.to_csv(tmp / "trends.csv", index=False)
            result.trend_summary.to_csv(tmp / "trend_summary.csv", index=False)
            summary["trends"] = {"n_series_rows": len(result.trends)}
        if result.dashboard_html is not None:
            (tmp / DASHBOARD_FILE).write_text(result.dashboard_html, encoding="utf-8")
        if result.drift is not None and pair is not None:
            result.drift.features.to_csv(tmp / "drift_features.csv", index=False)
            result.drift.scores.to_csv(tmp / "drift_scores.csv", index=False)
            result.drift.prevalence.to_csv(tmp / "drift_prevalence.csv", index=False)
            verdict = {
                "reference": pair[0].date().isoformat(),
                "current": pair[1].date().isoformat(),
                "retrain_recommended": result.drift.retrain_recommended,
                "reasons": list(result.drift.reasons),
            }
            (tmp / "drift.json").write_text(json.dumps(verdict, indent=2), encoding="utf-8")
            summary["drift"] = verdict
        (tmp / "monitor_summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        result.files = sorted(p.name for p in tmp.iterdir())
    if result.drift is not None and pair is not None and work is not None:
        uri = _log_drift(result.drift, pair, cfg, Path(work), mlflow_uri)
        summary["mlflow"] = uri
    if console is not None:
        console.print(f"monitor: wrote {', '.join(result.files)} to {out}")
        if result.drift is not None:
            word = "RECOMMENDED" if result.drift.retrain_recommended else "not needed"
            console.print(
                f"monitor: retraining {word}"
                + (f" ({'; '.join(result.drift.reasons)})" if result.drift.reasons else "")
            )
    return result
