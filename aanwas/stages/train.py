"""Stage wiring of ``aanwas train`` and ``aanwas retrain``: fit, track, register, gate.

``train`` reads the cached feature table ``WORK/features.parquet`` (from ``aanwas features``);
``retrain --data NEW`` first rebuilds it from a refreshed delivery with the feature stage's
wiring, then trains the same way. Per age band: a temporal split, Optuna-tuned LightGBM and
the two baselines (flag count, logistic regression), all calibrated on the tuning date and
measured on the latest complete reference date. Everything is tracked in ONE MLflow run
(the only ``mlflow.start_run`` of this stage, below), the LightGBM model is registered as a
new version of ``<prefix>-<band>`` with alias ``challenger``, and the promotion gate decides
whether it also becomes ``champion`` (compared with the current champion on the NEWEST test
rows). Person-level data stay in memory and in WORK; MLflow gets aggregates only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd
from rich.console import Console
from sklearn.metrics import roc_auc_score

from aanwas.config import AppConfig
from features._io import atomic_write_bytes
from features.errors import ConfigError, InputError
from training import registry, tracking
from training.fingerprint import build_data_fingerprint
from training.fit import MAIN_MODEL, MODEL_NAMES, FittedBand, fit_band, resolve_features, select_test_part
from training.splits import build_temporal_splits

#: Summary of the last training run, written to WORK (ids and metrics only).
SUMMARY_FILE = "train_summary.json"
REQUIRED_COLUMNS = ("rinpersoon", "ref_date", "age_band", "label")
TRUTH_FILE = "person_year.parquet"
TRUTH_AREAS_FILE = "areas.parquet"
ORACLE_NOTE = (
    "oracle_auc: AUC of the synthetic world's true probability of the observed label given each "
    "person's full true situation on the reference date (indicator states, latent vulnerability, "
    "detection probability of their wijk and intervention effects over the horizon; age advancing "
    "over the horizon): an upper bound that uses information no model has. "
    "oracle_observable_auc: the same true probability given only what a model can observe on the "
    "reference date (age, sex, indicator states): latent vulnerability integrated out over its "
    "distribution given those (normal, mean projected on them; Gauss-Hermite quadrature), detection "
    "and intervention effects replaced by their mean per band and year: the achievable target"
)

#: band, test rows (features and keys), challenger's calibrated risk -> evaluation gates passed?
GateCheck = Callable[[str, pd.DataFrame, pd.Series], bool]


def _catalogue() -> tuple[Callable[[str], Sequence[str]] | None, tuple[str, ...] | None]:
    """The feature catalogue's per-band inputs and its flag indicators (None without one)."""
    try:
        from features import catalogue
    except ImportError:  # pragma: no cover - the catalogue ships with the package
        return None, None
    flags = tuple(i.name for i in catalogue.INDICATORS if i.kind == "flag")
    return catalogue.feature_columns, flags


def load_truth(truth_dir: Path, frame: pd.DataFrame, cfg: AppConfig) -> tuple[pd.Series, dict[str, pd.Series]]:
    """True risks of the synthetic world, aligned to ``frame``'s index (NaN where not known).

    Returns the oracle (probability of the observed label: offending x detection where the
    person lives, given the full true situation on the reference date) and the reference
    variants: ``oracle_offending`` (the same before detection: what the label would be without
    enforcement bias) and ``oracle_observable`` (probability of the observed label given only
    the observable state); see :data:`ORACLE_NOTE`.
    """
    from features.sources.truth import true_label_risk

    path = Path(truth_dir) / TRUTH_FILE
    if not path.exists():
        raise InputError(str(path), None, None, "truth file not found (expected DIR/truth from 'aanwas synth')")
    person_year = pd.read_parquet(path)
    dates = sorted(frame["ref_date"].unique())
    keys = frame[["rinpersoon", "ref_date"]]
    variants = {
        "oracle": {"with_detection": True},
        "oracle_offending": {"with_detection": False},
        "oracle_observable": {"with_detection": True, "basis": "observable"},
    }
    out = {}
    for name, kwargs in variants.items():
        risk = true_label_risk(person_year, dates, cfg.features.labels, **kwargs)  # type: ignore[arg-type]
        merged = keys.merge(risk[["rinpersoon", "ref_date", "true_risk"]], on=["rinpersoon", "ref_date"], how="left")
        out[name] = pd.Series(merged["true_risk"].to_numpy(), index=frame.index, name="true_risk")
    return out.pop("oracle"), out


def _score_champion(name: str, version: str, test_rows: pd.DataFrame, y: np.ndarray) -> float:
    """AUC of a registered champion on the newest test rows; NaN if it cannot score them."""
    model = registry.load_registered(name, version)
    cols = [str(c) for c in model.feature_names_in_]
    if any(c not in test_rows.columns for c in cols):
        return float("nan")
    return float(roc_auc_score(y, model.predict_proba(test_rows.loc[:, cols])[:, 1]))


def train_and_track(
    cfg: AppConfig,
    frame: pd.DataFrame,
    *,
    tracking_uri: str,
    truth: pd.Series | None = None,
    reference_risks: Mapping[str, pd.Series] | None = None,
    run_name: str = "train",
    override: str | None = None,
    override_reason: str | None = None,
    gate_check: GateCheck | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Fit every band on an in-memory feature table, log one MLflow run, register and gate.

    Parameters
    ----------
    cfg : AppConfig
    frame : DataFrame
        The feature table (person-level; stays in memory).
    tracking_uri : str
        MLflow tracking and registry URI.
    truth, reference_risks :
        Synthetic data only: the oracle risk (logs ``oracle_auc``) and other true-risk
        variants, indexed like ``frame``.
    run_name : str
        ``train`` or ``retrain``.
    override, override_reason :
        Reviewer override of the promotion gate (``promote`` or ``reject``) and its reason.
    gate_check : callable, optional
        Evaluation gates (fairness, stigmatisation) for a band's challenger; its verdict feeds
        the promotion gate.
    console : rich Console, optional
        Where to print the summary table (aggregates only).

    Returns
    -------
    dict
        ``run_id``, ``tracking_uri`` and per band the test metrics, registered version and
        promotion decision.
    """
    tcfg = cfg.training
    if override is not None and override not in ("promote", "reject"):
        raise ConfigError("override", f"must be 'promote' or 'reject', got {override!r}")
    if override is not None and not (override_reason or "").strip():
        raise ConfigError("override_reason", "a reviewer override needs a reason")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("feature table", missing[0], None, "column missing")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # cloudpickle is chosen deliberately (LightGBM boosters are not skops-trusted types)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)

    splits = build_temporal_splits(frame, tcfg.bands, tcfg.split)
    columns_of, catalogue_flags = _catalogue()
    features = {band: resolve_features(frame, band, tcfg, columns_of) for band in tcfg.bands}
    flags = None if tcfg.flag_columns else catalogue_flags
    fingerprint = build_data_fingerprint(frame)

    experiment_id = tracking.configure_tracking(tracking_uri, tcfg.mlflow)
    parent = tracking.detach_project_run(tracking_uri)
    summary: dict[str, Any] = {"tracking_uri": tracking_uri, "bands": {}}
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        parent_run_id=parent,
        tags={"aanwas.stage": run_name, "aanwas.kind": "training"},
    ) as run:
        summary["run_id"] = run.info.run_id
        tracking.log_run_context(cfg.to_dict(), fingerprint, features)
        if truth is not None:
            mlflow.set_tag("aanwas.oracle_note", ORACLE_NOTE)
        decisions = {}
        for band in tcfg.bands:
            fitted = fit_band(
                frame,
                splits[band],
                features[band],
                tcfg,
                flags=flags,
                truth=truth,
                reference_risks=reference_risks,
                trial_callbacks=[tracking.trial_logger(band)],
            )
            tracking.log_fitted_band(fitted)
            decisions[band] = _register_and_gate(
                cfg, frame, fitted, override=override, override_reason=override_reason, gate_check=gate_check
            )
            summary["bands"][band] = {
                "split": fitted.split.describe(),
                "metrics": {m: dict(v) for m, v in fitted.metrics.items()},
                "reference_metrics": dict(fitted.reference_metrics),
                "comparisons": {m: dict(v) for m, v in fitted.comparisons.items()},
                **decisions[band],
            }
        _log_evaluations(cfg, gate_check, summary)
        mlflow.log_dict({b: d for b, d in decisions.items()}, "promotion.json")
    if console is not None:
        _print_summary(console, summary)
    return summary


def _log_evaluations(cfg: AppConfig, gate_check: GateCheck | None, summary: dict[str, Any]) -> None:
    """Log the audits for ethics reviewers to the active run: the registration-intensity audit
    pooled over the bands (``evaluation/all-bands``; aggregates only), then each band's
    evaluation with the pooled audit in its model card."""
    results = getattr(gate_check, "results", {})
    pooled_result = getattr(gate_check, "pooled_result", None)
    if not results and pooled_result is None:
        return
    from aanwas.stages.evaluate import POOLED_DIR, log_evaluation
    from evaluation.evaluate import attach_pooled_registrations
    from evaluation.modelcard import ModelInfo

    info = ModelInfo(name=cfg.training.mlflow.model_prefix, version="all bands", run_id=summary["run_id"])
    pooled = pooled_result(info) if pooled_result is not None else None
    if pooled is not None:
        log_evaluation(pooled, cfg.evaluation, band=POOLED_DIR)
    for band in summary["bands"]:
        evaluation = results.get(band)
        if evaluation is not None:
            log_evaluation(
                evaluation if pooled is None else attach_pooled_registrations(evaluation, pooled),
                cfg.evaluation,
                band=band,
            )


def _register_and_gate(
    cfg: AppConfig,
    frame: pd.DataFrame,
    fitted: FittedBand,
    *,
    override: str | None,
    override_reason: str | None,
    gate_check: GateCheck | None,
) -> dict[str, Any]:
    tcfg = cfg.training
    band = fitted.band
    name = registry.registered_model_name(tcfg.mlflow.model_prefix, band)
    signature = tracking.model_signature(frame[list(fitted.features)].dtypes)
    champion = registry.champion_version(name)
    info = tracking.log_model(fitted.models[MAIN_MODEL], f"{MAIN_MODEL}-{band}", signature, registered_model_name=name)
    if tcfg.mlflow.log_baseline_models:
        for model in MODEL_NAMES:
            if model != MAIN_MODEL:
                tracking.log_model(fitted.models[model], f"{model}-{band}", signature)
    version = str(info.registered_model_version)

    test_rows, y = select_test_part(frame, fitted)
    challenger_auc = float(fitted.metrics[MAIN_MODEL]["auc"])
    champion_auc = None if champion is None else _score_champion(name, champion, test_rows, y)
    gates = None
    if gate_check is not None:
        model = fitted.models[MAIN_MODEL]
        add_registrations = getattr(gate_check, "add_registrations", None)
        if add_registrations is not None:  # registration-intensity audit over every reference date
            rows = frame[frame["age_band"].astype(str) == band]
            add_registrations(
                band, frame, pd.Series(model.predict_proba(rows.loc[:, list(fitted.features)])[:, 1], index=rows.index)
            )
        risk = pd.Series(model.predict_proba(test_rows.loc[:, list(fitted.features)])[:, 1], index=test_rows.index)
        gates = bool(gate_check(band, test_rows, risk))
        verdict = getattr(gate_check, "verdicts", {}).get(band)
        if verdict is not None and getattr(verdict, "reasons", None):
            mlflow.set_tag(f"{band}.aanwas.gate_reasons", "; ".join(map(str, verdict.reasons))[:5000])
    decision = registry.decide_promotion(
        challenger_auc,
        champion_auc,
        tcfg.promotion,
        gates_passed=gates,
        override=override,  # type: ignore[arg-type]
        override_reason=override_reason,
    )
    registry.apply_promotion(name, version, decision)
    mlflow.set_tags({f"{band}.{k}": v for k, v in decision.tags().items()})
    mlflow.set_tags(
        {f"{band}.aanwas.registered_version": version, f"{band}.aanwas.previous_champion": champion or "none"}
    )
    comparison = {f"compare/{band}/challenger_auc": challenger_auc, f"compare/{band}/promoted": float(decision.promote)}
    if champion_auc is not None:
        comparison[f"compare/{band}/champion_auc"] = champion_auc
        comparison[f"compare/{band}/auc_difference"] = challenger_auc - champion_auc
    mlflow.log_metrics(comparison)
    return {
        "registered_model": name,
        "version": version,
        "previous_champion": champion,
        "decision": decision.decision,
        "promoted": decision.promote,
        "reason": decision.reason,
        "challenger_auc": challenger_auc,
        "champion_auc": champion_auc,
        "gates_passed": gates,
        "override_reason": decision.override_reason,
    }


def _print_summary(console: Console, summary: Mapping[str, Any]) -> None:
    """Per band and model: test metrics, oracles (synthetic data) and, per baseline, the paired
    bootstrap interval of the main model's AUC minus the baseline's."""
    lines = [
        "test metrics (latest reference date with complete labels); oracle = full truth, "
        "obs = observable-state oracle; LGBM-AUC = LightGBM minus baseline, paired bootstrap interval",
        f"{'band':<6}{'test':<5}{'model':<9}{'AUC':>6}{'oracle':>7}{'obs':>7}{'PR-AUC':>7}{'Brier':>7}{'ECE':>7}"
        f"  {'LGBM-AUC [interval]':<26}gate",
    ]
    for band, info in summary["bands"].items():
        observable = info.get("reference_metrics", {}).get("oracle_observable_auc")
        for model, m in info["metrics"].items():
            first = model == MAIN_MODEL
            oracle = f"{m['oracle_auc']:.3f}" if first and "oracle_auc" in m else ""
            obs = f"{observable:.3f}" if first and observable is not None else ""
            c = info.get("comparisons", {}).get(model)
            diff = f"{c['auc_diff']:+.3f} [{c['auc_diff_lo']:+.3f}, {c['auc_diff_hi']:+.3f}]" if c else ""
            lines.append(
                f"{band if first else '':<6}{info['split']['test_date'][:4] if first else '':<5}{model:<9}"
                f"{m['auc']:>6.3f}{oracle:>7}{obs:>7}{m['pr_auc']:>7.3f}{m['brier']:>7.4f}{m['ece']:>7.4f}"
                f"  {diff:<26}" + (f"v{info['version']} {info['decision']}" if first else "")
            )
    lines.append(f"MLflow run {summary['run_id']} in {summary['tracking_uri']}")
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def _evaluation_gates(cfg: AppConfig, audit: pd.DataFrame, truth_dir: Path | None = None) -> GateCheck | None:
    """The evaluation stage's gates (fairness, stigmatisation) as a gate check, if available;
    with the synthetic truth's areas (``truth_dir/areas.parquet``), the registration-intensity
    audits are compared with the known over-policed areas."""
    try:
        from aanwas.stages.evaluate import build_gate_check
    except ImportError:  # evaluation not installed: the AUC gate alone (unless gates are required)
        return None
    areas = Path(truth_dir) / TRUTH_AREAS_FILE if truth_dir is not None else None
    truth_areas = pd.read_parquet(areas) if areas is not None and areas.exists() else None
    return build_gate_check(cfg, audit, truth_areas=truth_areas)  # type: ignore[no-any-return]


def run_train(
    cfg: AppConfig,
    work: Path,
    *,
    mlflow_uri: str | None = None,
    truth_dir: Path | None = None,
    override: str | None = None,
    override_reason: str | None = None,
    gate_check: GateCheck | None = None,
    run_name: str = "train",
    console: Console | None = None,
) -> dict[str, Any]:
    """``aanwas train``: train on the cached ``WORK/features.parquet`` and track the run.

    Writes ``WORK/train_summary.json`` (run id, versions, metrics: no person-level data).

    Raises
    ------
    InputError
        No cached feature table, missing columns, too few complete reference dates.
    ConfigError
        Bad settings, or an override without a reason.
    """
    from aanwas.stages.features import load_feature_table

    work = Path(work)
    frame, audit = load_feature_table(work)
    if gate_check is None and cfg.training.promotion.run_evaluation_gates:
        gate_check = _evaluation_gates(cfg, audit, truth_dir)
    truth = reference = None
    if truth_dir is not None:
        truth, reference = load_truth(truth_dir, frame, cfg)
    uri = tracking.resolve_tracking_uri(mlflow_uri, cfg.training.mlflow, work)
    summary = train_and_track(
        cfg,
        frame,
        tracking_uri=uri,
        truth=truth,
        reference_risks=reference,
        run_name=run_name,
        override=override,
        override_reason=override_reason,
        gate_check=gate_check,
        console=console,
    )
    atomic_write_bytes(work / SUMMARY_FILE, json.dumps(summary, indent=2, default=str).encode("utf-8"))
    return summary


def run_retrain(
    cfg: AppConfig,
    data: Path,
    work: Path,
    mapping: Path | None = None,
    *,
    mlflow_uri: str | None = None,
    truth_dir: Path | None = None,
    override: str | None = None,
    override_reason: str | None = None,
    gate_check: GateCheck | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """``aanwas retrain --data NEW``: rebuild the features from a refreshed delivery (feature
    stage wiring), train a challenger, compare it with the champion on the newest test rows
    and apply the promotion gate."""
    from aanwas.stages.features import run_features

    if override is not None and not (override_reason or "").strip():
        raise ConfigError("override_reason", "a reviewer override needs a reason")
    run_features(cfg, data, work, mapping, console=console)
    return run_train(
        cfg,
        work,
        mlflow_uri=mlflow_uri,
        truth_dir=truth_dir,
        override=override,
        override_reason=override_reason,
        gate_check=gate_check,
        run_name="retrain",
        console=console,
    )
