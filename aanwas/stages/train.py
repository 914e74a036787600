"""Stage wiring of ``aanwas train`` and ``aanwas retrain``: fit, track, register, gate.

``train`` reads the cached feature table ``WORK/features.parquet`` (from ``aanwas features``);
``retrain --data NEW`` first rebuilds it from a refreshed delivery with the feature stage's
wiring, then trains the same way. Per age band: a temporal split, Optuna-tuned LightGBM and
the two baselines (flag count, logistic regression), all calibrated on the tuning date and
measured on the latest complete reference date. The family rule (``training.family``) picks
the band's model: the logistic regression unless LightGBM is better beyond its paired
interval. Everything is tracked in ONE MLflow run (the only ``mlflow.start_run`` of this
stage, below), the chosen model is registered as a new version of ``<prefix>-<band>`` with
alias ``challenger``, the evaluation gates audit and explain it, and the promotion gate
decides whether it also becomes ``champion`` (compared with the current champion on the
NEWEST test rows). With ``--truth`` the training criteria are measured and reported per band.
Person-level data stay in memory and in WORK; MLflow gets aggregates only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd
from rich.console import Console
from sklearn.metrics import roc_auc_score

from aanwas.common.compute import executor
from aanwas.common.errors import ConfigError, InputError
from aanwas.common.io import atomic_write_bytes
from aanwas.config import AppConfig
from aanwas.stages import evaluate as evaluation_stage
from evaluation.evaluate import attach_pooled_registrations
from evaluation.gates import NEXT_STEP_PASSED, Check, GateChecker, GateVerdict
from evaluation.modelcard import ModelInfo, build_model_card, registered_model_description, version_description
from features import catalogue
from training import registry, tracking
from training.config import TrainingConfig
from training.criteria import CRITERIA
from training.fingerprint import build_data_fingerprint
from training.fit import (
    MAIN_MODEL,
    MODEL_NAMES,
    FittedBand,
    fit_bands,
    resolve_features,
    select_test_part,
    study_name,
    tune_band,
)
from training.splits import BandSplit, build_temporal_splits

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


def last_training_run(work: Path) -> str:
    """Run id of the last ``aanwas train`` or ``retrain`` in ``work`` (its ``train_summary.json``).

    Raises
    ------
    InputError
        No training summary in ``work``.
    """
    path = Path(work) / SUMMARY_FILE
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError):
        problem = "no training summary (run 'aanwas train' first, or give --run-id)"
        raise InputError(str(path), None, None, problem) from None


def catalogue_inputs() -> tuple[Callable[[str], Sequence[str]], tuple[str, ...]]:
    """The feature catalogue's per-band inputs and its flag indicators."""
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


def _check_train_inputs(cfg: AppConfig, frame: pd.DataFrame, override: str | None, override_reason: str | None) -> None:
    """Refuse an unknown override, an override without a reason, lightgbm's Dask engine without
    a scheduler and a feature table without the required columns; quieten the libraries' own
    logging."""
    if override is not None and override not in ("promote", "reject"):
        raise ConfigError("override", f"must be 'promote' or 'reject', got {override!r}")
    if override is not None and not (override_reason or "").strip():
        raise ConfigError("override_reason", "a reviewer override needs a reason")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("feature table", missing[0], None, "column missing")
    if cfg.training.engine.lightgbm == "dask" and not cfg.compute.scheduler:
        raise ConfigError("training.engine.lightgbm", "'dask' needs compute.scheduler = 'tcp://HOST:PORT'")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # cloudpickle is chosen deliberately (LightGBM boosters are not skops-trusted types)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)


def _band_summary(fitted: FittedBand, decision: Mapping[str, Any]) -> dict[str, Any]:
    """One band's part of the training summary: split, test metrics, comparisons, family,
    criteria and the registration and promotion decision (aggregates only)."""
    return {
        "split": fitted.split.describe(),
        "metrics": {m: dict(v) for m, v in fitted.metrics.items()},
        "reference_metrics": dict(fitted.reference_metrics),
        "comparisons": {m: dict(v) for m, v in fitted.comparisons.items()},
        "family": None if fitted.family is None else fitted.family.to_dict(),
        "criteria": {k: c.to_dict() for k, c in fitted.criteria.items()},
        **decision,
    }


def _band_inputs(
    frame: pd.DataFrame, tcfg: TrainingConfig
) -> tuple[Mapping[str, BandSplit], dict[str, tuple[str, ...]], tuple[str, ...] | None]:
    """Per band: the temporal split and the model inputs; the flag columns of the profile
    baseline (None: ``training.flag_columns``)."""
    splits = build_temporal_splits(frame, tcfg.bands, tcfg.split)
    columns_of, catalogue_flags = catalogue_inputs()
    features = {band: resolve_features(frame, band, tcfg, columns_of) for band in tcfg.bands}
    return splits, features, None if tcfg.flag_columns else catalogue_flags


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
    override_by: str | None = None,
    gate_check: GateChecker | None = None,
    console: Console | None = None,
    work: Path | None = None,
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
    override, override_reason, override_by :
        Reviewer override of the promotion gate (``promote`` or ``reject``), its reason and who
        gives it (default: the login name).
    gate_check : GateChecker, optional
        Evaluation gates (fairness, stigmatisation) for a band's challenger, which they also
        explain (SHAP); the verdict feeds the promotion gate.
    console : rich Console, optional
        Where to print the summary table (aggregates only) and, per rejected band, which gate,
        which group, the numbers and the next step.
    work : Path, optional
        The work directory, named in the next-step command of a rejected band.

    Returns
    -------
    dict
        ``run_id``, ``tracking_uri`` and per band the test metrics, registered version and
        promotion decision.
    """
    tcfg = cfg.training
    _check_train_inputs(cfg, frame, override, override_reason)
    splits, features, flags = _band_inputs(frame, tcfg)
    fingerprint = build_data_fingerprint(frame)

    experiment_id = tracking.configure_tracking(tracking_uri, tcfg.mlflow)
    parent = tracking.detach_project_run(tracking_uri)
    summary: dict[str, Any] = {"tracking_uri": tracking_uri, "bands": {}}
    with (
        _lightgbm_cluster(cfg) as dask_client,
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=run_name,
            parent_run_id=parent,
            tags={"aanwas.stage": run_name, "aanwas.kind": "training"},
        ) as run,
    ):
        summary["run_id"] = run.info.run_id
        tracking.log_run_context(cfg.to_dict(), fingerprint, features)
        if truth is not None:
            mlflow.set_tag("aanwas.oracle_note", ORACLE_NOTE)
        decisions = {}
        # each band's fit runs where compute.scheduler says; logging, registry and gates stay here
        with executor(cfg.compute) as ex:
            fits = fit_bands(
                frame,
                {band: splits[band] for band in tcfg.bands},
                features,
                tcfg,
                flags=flags,
                truth=truth,
                reference_risks=reference_risks,
                executor=ex if cfg.compute.scheduler else None,
                dask_client=dask_client,
            )
            for fitted in fits:
                tracking.log_fitted_band(fitted)
                decisions[fitted.band] = _register_and_gate(
                    cfg,
                    frame,
                    fitted,
                    override=override,
                    override_reason=override_reason,
                    override_by=override_by,
                    gate_check=gate_check,
                    work=work,
                )
                summary["bands"][fitted.band] = _band_summary(fitted, decisions[fitted.band])
        _log_evaluations(cfg, gate_check, summary)
        mlflow.log_dict({b: d for b, d in decisions.items()}, "promotion.json")
    if console is not None:
        _print_summary(console, summary)
    return summary


@contextlib.contextmanager
def _lightgbm_cluster(cfg: AppConfig) -> Iterator[Any]:
    """A client of ``compute.scheduler`` while ``training.engine.lightgbm = "dask"``, else None."""
    if cfg.training.engine.lightgbm != "dask":
        yield None
        return
    from distributed import Client

    with Client(cfg.compute.scheduler) as client:
        yield client


def _log_evaluations(cfg: AppConfig, gate_check: GateChecker | None, summary: dict[str, Any]) -> None:
    """Log the audits for ethics reviewers to the active run: the registration-intensity audit
    pooled over the bands (``evaluation/all-bands``; aggregates only), then each band's
    evaluation with the pooled audit in its model card."""
    if gate_check is None:
        return
    results = gate_check.results
    info = ModelInfo(name=cfg.training.mlflow.model_prefix, version="all bands", run_id=summary["run_id"])
    pooled = gate_check.pooled_result(info)
    if pooled is not None:
        evaluation_stage.log_evaluation(pooled, cfg.evaluation, band=evaluation_stage.POOLED_DIR)
    for band in summary["bands"]:
        evaluation = results.get(band)
        if evaluation is not None:
            evaluation_stage.log_evaluation(
                evaluation if pooled is None else attach_pooled_registrations(evaluation, pooled),
                cfg.evaluation,
                band=band,
            )


def _log_and_register(tcfg: TrainingConfig, frame: pd.DataFrame, fitted: FittedBand, name: str) -> str:
    """Log the band's chosen model (the family rule's choice) as a new version of ``name``, the
    other models beside it when configured; tag the version with the family decision. Returns
    the version."""
    band, chosen = fitted.band, fitted.chosen
    signature = tracking.model_signature(frame[list(fitted.features)].dtypes)
    info = tracking.log_model(fitted.models[chosen], f"{chosen}-{band}", signature, registered_model_name=name)
    if tcfg.mlflow.log_baseline_models:
        for other in MODEL_NAMES:
            if other != chosen:
                tracking.log_model(fitted.models[other], f"{other}-{band}", signature)
    version = str(info.registered_model_version)
    if fitted.family is not None:
        registry.tag_version(name, version, fitted.family.tags())
    return version


def _register_and_gate(
    cfg: AppConfig,
    frame: pd.DataFrame,
    fitted: FittedBand,
    *,
    override: str | None,
    override_reason: str | None,
    gate_check: GateChecker | None,
    override_by: str | None = None,
    work: Path | None = None,
) -> dict[str, Any]:
    tcfg = cfg.training
    band = fitted.band
    name = registry.registered_model_name(tcfg.mlflow.model_prefix, band)
    champion = registry.champion_version(name)
    chosen = fitted.chosen  # the family rule's choice is the band's model
    model = fitted.models[chosen]
    version = _log_and_register(tcfg, frame, fitted, name)

    test_rows, y = select_test_part(frame, fitted)
    challenger_auc = float(fitted.metrics[chosen]["auc"])
    champion_auc = None if champion is None else _score_champion(name, champion, test_rows, y)
    gates = None
    verdict: GateVerdict | None = None
    if gate_check is not None:
        cols = list(fitted.features)
        rows = frame[frame["age_band"].astype(str) == band]  # registration-intensity audit, every reference date
        gate_check.add_registrations(
            band, frame, pd.Series(model.predict_proba(rows.loc[:, cols])[:, 1], index=rows.index)
        )
        risk = pd.Series(model.predict_proba(test_rows.loc[:, cols])[:, 1], index=test_rows.index)
        gates = bool(gate_check(band, test_rows, risk, model=model, features=fitted.features))
        verdict = gate_check.verdicts.get(band)
        if verdict is not None and verdict.reasons:
            mlflow.set_tag(f"{band}.aanwas.gate_reasons", "; ".join(map(str, verdict.reasons))[:5000])
    by = (override_by or "").strip() or (_login() if override is not None else None)
    decision = registry.decide_promotion(
        challenger_auc,
        champion_auc,
        tcfg.promotion,
        gates_passed=gates,
        override=override,  # type: ignore[arg-type]
        override_reason=override_reason,
        override_by=by,
        gate_reasons=[] if verdict is None else list(verdict.reasons),
    )
    registry.apply_promotion(name, version, decision)
    final = final_verdict(
        verdict,
        decision,
        tcfg.promotion.auc_margin,
        band=band,
        version=version,
        has_champion=champion is not None,
        work=work,
        family=None if fitted.family is None else fitted.family.to_dict(),
    )
    if gate_check is not None and verdict is not None:
        # the review pack's structured verdict, where the band's evaluation is logged (only when
        # the evaluation ran: a folder with the verdict alone is not an evaluation to report)
        mlflow.log_dict(final.to_dict(), f"evaluation/{band}/{GATE_JSON}")
        results = gate_check.results
        if band in results:
            results[band].summary["gate"] = final.to_dict()
            if "gate" in results[band].model_card:
                results[band].model_card["gate"] = final.to_dict()
    registry.describe(
        name,
        registered_model_description(band),
        version,
        _version_text(cfg, fitted, name, version, gate_check),
    )
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
        "override_by": decision.override_by,
        "gate": final.to_dict(),
    }


#: File name of a band's structured gate verdict, logged at ``evaluation/<band>/gate.json``.
GATE_JSON = "gate.json"


def outcome_text(cfg: AppConfig, band: str) -> str:
    """The band's outcome in words, from the label settings.

    Examples
    --------
    >>> outcome_text(AppConfig(), "13-19")
    'registered as a suspect (offence: opiumwet) within 24 months after the reference date'
    """
    label = cfg.features.labels[band]
    return (
        f"registered as a suspect (offence: {', '.join(label.offences)}) within "
        f"{label.horizon_months} months after the reference date"
    )


def _version_text(cfg: AppConfig, fitted: FittedBand, name: str, version: str, gate_check: GateChecker | None) -> str:
    """The registered version's description: its model card's plain-language summary (the
    band's evaluation card when the gates ran, else a card without audits)."""
    result = None if gate_check is None else gate_check.results.get(fitted.band)
    card = (
        result.model_card
        if result is not None and result.model_card
        else build_model_card(ModelInfo(name=name, version=version, bands=(fitted.band,)), cfg.evaluation.model_card)
    )
    split = fitted.split.describe()
    train_dates = split["train_dates"].split(",")
    period = (
        f"fitted on reference dates {train_dates[0]} to {train_dates[-1]}, tuned and calibrated on "
        f"{split['tune_date']}, tested on {split['test_date']}"
    )
    family = None if fitted.family is None else fitted.family.to_dict()
    return version_description(
        card,
        band=fitted.band,
        outcome=outcome_text(cfg, fitted.band),
        training_period=period,
        family=family,
        interval_level=1.0 - cfg.evaluation.alpha,
    )


def _login() -> str:
    """Who runs the command (recorded with an override)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def next_step_command(band: str, version: str, work: Path | None) -> str:
    """The reviewer's next step after a rejection, with the concrete commands.

    Examples
    --------
    >>> "aanwas promote --work w --band 8-12 --version 1" in next_step_command("8-12", "1", Path("w"))
    True
    """
    w = str(work) if work is not None else "WORK"
    return (
        f"Read the gate section of band {band}'s review pack (aanwas report). If the flagged result is "
        f"understood and acceptable for area-level prevention planning, a reviewer promotes this "
        f"version with a recorded reason: aanwas promote --work {w} --band {band} --version {version} "
        f'--reason "..."; otherwise retrain (aanwas retrain) with more data or features that capture '
        f"the group's risk."
    )


def final_verdict(
    verdict: GateVerdict | None,
    decision: registry.PromotionDecision,
    auc_margin: float,
    *,
    band: str,
    version: str,
    has_champion: bool,
    work: Path | None = None,
    family: Mapping[str, Any] | None = None,
) -> GateVerdict:
    """The evaluation gates' verdict completed by the promotion decision: the performance check
    (challenger vs champion AUC), the override (reason, by), the model family decision and the
    concrete next step."""
    import dataclasses
    import math

    base = verdict if verdict is not None else GateVerdict(passed=True, reasons=[], notes=["evaluation gates not run"])
    ch, champ = decision.challenger_auc, decision.champion_auc
    if math.isnan(champ):
        perf_ok = not math.isnan(ch) and not has_champion
        text = (
            f"AUC {ch:.3f} on the newest test data; no champion to compare with"
            if not has_champion
            else f"AUC {ch:.3f}; the champion could not be scored on the newest test data"
        )
    else:
        perf_ok = ch >= champ - auc_margin
        text = (
            f"AUC {ch:.3f} on the newest test data against the champion's {champ:.3f} on the same rows "
            f"({'within' if perf_ok else 'more than'} the margin {auc_margin:g})"
        )
    perf = Check(
        gate="performance",
        metric="AUC on the newest test data (challenger vs champion)",
        estimate=ch,
        threshold=f"at least the champion's AUC minus {auc_margin:g}",
        outcome="pass" if perf_ok else "fail",
        explanation=text,
        scope=band,
    )
    reasons = list(base.reasons) + ([] if perf_ok else [f"performance: {text}"])
    passed = base.passed and perf_ok
    override = None
    if decision.override_reason is not None:
        override = {"reason": decision.override_reason, "by": decision.override_by or "unknown"}
    if passed:
        step = NEXT_STEP_PASSED
    elif decision.promote:
        step = f"none: promoted by a reviewer's override ({decision.override_reason})"
    else:
        step = next_step_command(band, version, work)
    return dataclasses.replace(
        base,
        passed=passed,
        reasons=reasons,
        checks=[*base.checks, perf],
        next_step=step,
        override=override,
        model_family=None if family is None else dict(family),
    )


def gate_count_lines(summary: Mapping[str, Any]) -> list[str]:
    """One line per band: the gate's outcome and how many checks ended how."""
    lines = []
    for band, info in summary.get("bands", {}).items():
        gate = info.get("gate")
        if not gate:
            continue
        counts: dict[str, int] = {}
        for c in gate.get("checks", []):
            key = f"{c['gate']} {c['outcome']}"
            counts[key] = counts.get(key, 0) + 1
        told = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        override = " (overridden by a reviewer)" if gate.get("override") else ""
        lines.append(f"gate {band}: {'passed' if gate.get('passed') else 'REJECTED'}{override}; checks: {told}")
    return lines


def rejection_lines(summary: Mapping[str, Any]) -> list[str]:
    """Per band whose version did not become champion: which gate, which group, the numbers,
    and the next step (plain text, aggregates only)."""
    lines = []
    for band, info in summary.get("bands", {}).items():
        if info.get("promoted", True):
            continue
        gate = info.get("gate") or {}
        lines.append(f"band {band}: version {info.get('version')} was NOT promoted ({info.get('decision')}).")
        failed = [c for c in gate.get("checks", []) if c.get("outcome") == "fail"]
        for c in failed[:5]:
            who = f" {c['group']} ({c['attribute']})" if c.get("group") else ""
            lines.append(f"  {c['gate']}{who}: {c['explanation']}")
        if len(failed) > 5:
            lines.append(f"  ... and {len(failed) - 5} more failing check(s)")
        if not failed:
            lines.append(f"  reason: {info.get('reason')}")
        if gate.get("next_step"):
            lines.append(f"  next step: {gate['next_step']}")
    return lines


def family_lines(summary: Mapping[str, Any]) -> list[str]:
    """One line per band: which model family became the band's model and why."""
    return [
        f"family {band}: {info['family']['chosen_words']}; {info['family']['reason']}"
        for band, info in summary.get("bands", {}).items()
        if info.get("family")
    ]


def criteria_lines(summary: Mapping[str, Any]) -> list[str]:
    """Per band and criterion (``--truth`` only): pass or FAIL, the value and the rule."""
    lines = []
    for band, info in summary.get("bands", {}).items():
        crit = info.get("criteria") or {}
        if not crit:
            continue
        n_pass = sum(1 for c in crit.values() if c["passed"])
        lines.append(f"criteria {band}: {n_pass} of {len(crit)} passed (measured against the synthetic truth)")
        for name in [n for n in CRITERIA if n in crit]:
            c = crit[name]
            value = "n/a" if c["value"] is None else f"{c['value']:+.4f}"
            lines.append(
                f"  {name:<7}{'pass' if c['passed'] else 'FAIL':<5} {value} ({c['detail']}); rule: {c['rule']}"
            )
    return lines


def _print_summary(console: Console, summary: Mapping[str, Any]) -> None:
    """Per band and model: test metrics, oracles (synthetic data) and, per baseline, the paired
    bootstrap interval of LightGBM's AUC minus the baseline's; the band's model is marked
    ``*``; then the family decisions, the training criteria (``--truth``) and the gates."""
    lines = [
        "test metrics (latest reference date with complete labels); oracle = full truth, "
        "obs = observable-state oracle; LGBM-AUC = LightGBM minus baseline, paired bootstrap interval; "
        "* = the band's model (family rule)",
        f"{'band':<6}{'test':<5}{'model':<10}{'AUC':>6}{'oracle':>7}{'obs':>7}{'PR-AUC':>7}{'Brier':>7}{'ECE':>7}"
        f"  {'LGBM-AUC [interval]':<26}gate",
    ]
    for band, info in summary["bands"].items():
        observable = info.get("reference_metrics", {}).get("oracle_observable_auc")
        chosen = (info.get("family") or {}).get("chosen", MAIN_MODEL)
        for model, m in info["metrics"].items():
            first = model == MAIN_MODEL
            oracle = f"{m['oracle_auc']:.3f}" if first and "oracle_auc" in m else ""
            obs = f"{observable:.3f}" if first and observable is not None else ""
            c = info.get("comparisons", {}).get(model)
            diff = f"{c['auc_diff']:+.3f} [{c['auc_diff_lo']:+.3f}, {c['auc_diff_hi']:+.3f}]" if c else ""
            name = model + ("*" if model == chosen else "")
            lines.append(
                f"{band if first else '':<6}{info['split']['test_date'][:4] if first else '':<5}{name:<10}"
                f"{m['auc']:>6.3f}{oracle:>7}{obs:>7}{m['pr_auc']:>7.3f}{m['brier']:>7.4f}{m['ece']:>7.4f}"
                f"  {diff:<26}" + (f"v{info['version']} {info['decision']}" if model == chosen else "")
            )
    lines.append(f"MLflow run {summary['run_id']} in {summary['tracking_uri']}")
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    for extra in (family_lines(summary), criteria_lines(summary), gate_count_lines(summary)):
        if extra:
            console.print("\n".join(extra), markup=False, highlight=False, soft_wrap=True)
    rejected = rejection_lines(summary)
    if rejected:
        console.print("\n".join(["PROMOTION GATE REJECTED:", *rejected]), markup=False, highlight=False, soft_wrap=True)


def _evaluation_gates(cfg: AppConfig, audit: pd.DataFrame, truth_dir: Path | None = None) -> GateChecker:
    """The evaluation stage's gates (fairness, stigmatisation) as a gate check; with the
    synthetic truth's areas (``truth_dir/areas.parquet``), the registration-intensity audits are
    compared with the known over-policed areas."""
    areas = Path(truth_dir) / TRUTH_AREAS_FILE if truth_dir is not None else None
    truth_areas = pd.read_parquet(areas) if areas is not None and areas.exists() else None
    return evaluation_stage.build_gate_check(cfg, audit, truth_areas=truth_areas)


def run_train(
    cfg: AppConfig,
    work: Path,
    *,
    mlflow_uri: str | None = None,
    truth_dir: Path | None = None,
    override: str | None = None,
    override_reason: str | None = None,
    override_by: str | None = None,
    gate_check: GateChecker | None = None,
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
        override_by=override_by,
        gate_check=gate_check,
        console=console,
        work=work,
    )
    atomic_write_bytes(work / SUMMARY_FILE, json.dumps(summary, indent=2, default=str).encode("utf-8"))
    return summary


def run_tune(cfg: AppConfig, work: Path, *, console: Console | None = None) -> dict[str, Any]:
    """``aanwas tune``: one more process on the shared Optuna study of every band
    (``training.tuning.storage``), on the rows ``aanwas train`` tunes on; writes nothing but
    the trials to the study. ``aanwas train`` with the same storage uses each study's best.

    Returns
    -------
    dict
        Per band: trials in the study (all processes), completed, pruned and the best AUC.

    Raises
    ------
    ConfigError
        No shared storage (trials in memory would be lost) or tuning switched off.
    """
    from aanwas.stages.features import load_feature_table

    tcfg = cfg.training
    if not tcfg.tuning.storage:
        raise ConfigError("training.tuning.storage", "aanwas tune needs a shared study: an RDB URL or a journal file")
    if not tcfg.tuning.enabled:
        raise ConfigError("training.tuning.enabled", "is false: nothing to tune")
    frame, _ = load_feature_table(Path(work))
    splits = build_temporal_splits(frame, tcfg.bands, tcfg.split)
    columns_of, _ = catalogue_inputs()
    out: dict[str, Any] = {"storage": tcfg.tuning.storage, "worker": tcfg.tuning.worker, "bands": {}}
    for band in tcfg.bands:
        res = tune_band(frame, splits[band], resolve_features(frame, band, tcfg, columns_of), tcfg)
        out["bands"][band] = {
            "study": study_name(tcfg, band),
            "n_trials": res.n_trials,
            "n_complete": res.n_complete,
            "n_pruned": res.n_pruned,
            "best_tune_auc": round(res.best_value, 4),
        }
        if console is not None:
            console.print(
                f"{band}: study {study_name(tcfg, band)} has {res.n_trials} trials "
                f"({res.n_complete} complete, {res.n_pruned} pruned); best tuning AUC {res.best_value:.4f}",
                markup=False,
                highlight=False,
            )
    return out


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
    override_by: str | None = None,
    gate_check: GateChecker | None = None,
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
        override_by=override_by,
        gate_check=gate_check,
        run_name="retrain",
        console=console,
    )


def run_promote(
    cfg: AppConfig,
    work: Path,
    *,
    band: str,
    version: str,
    reason: str,
    by: str | None = None,
    mlflow_uri: str | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """``aanwas promote``: a reviewer makes a registered version the champion of its band,
    with a recorded reason (after reading the review pack of a version the gate rejected).

    The override (reason, by) is recorded as tags on the version and in the structured gate
    verdict of its training run (``evaluation/<band>/gate.json``) when that exists; the gate's
    own verdict is kept. Nothing is retrained.

    Raises
    ------
    ConfigError
        No reason, or a band that is not configured.
    InputError
        No such registered version.
    """
    import dataclasses

    from mlflow.exceptions import MlflowException

    if not (reason or "").strip():
        raise ConfigError("reason", "a reviewer override needs a reason")
    tcfg = cfg.training
    if band not in tcfg.bands:
        raise ConfigError("band", f"unknown band {band!r} (configured: {', '.join(tcfg.bands)})")
    uri = tracking.resolve_tracking_uri(mlflow_uri, tcfg.mlflow, Path(work))
    name = registry.registered_model_name(tcfg.mlflow.model_prefix, band)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        raise InputError("model registry", None, None, f"no version {version} of {name}") from None
    tags = dict(mv.tags or {})
    who = (by or "").strip() or _login()

    def auc(key: str) -> float:
        try:
            return float(tags.get(key, "nan"))
        except ValueError:
            return float("nan")

    decision = registry.decide_promotion(
        auc("aanwas.challenger_auc"),
        None,
        tcfg.promotion,
        gates_passed=tags.get("aanwas.gate_passed") == "true",
        override="promote",
        override_reason=reason,
        override_by=who,
    )
    decision = dataclasses.replace(
        decision,
        champion_auc=auc("aanwas.champion_auc"),
        gate_passed=tags.get("aanwas.gate_passed") == "true",
        reason=f"reviewer override after review; gate said: {tags.get('aanwas.decision_reason', 'not recorded')}",
    )
    previous = registry.champion_version(name, uri=uri)
    registry.promote_version(name, str(version), decision, uri=uri)
    gate_path = f"evaluation/{band}/{GATE_JSON}"
    recorded = False
    if mv.run_id:
        # through the client, which knows this store: mlflow.artifacts.load_dict would read
        # the process-wide tracking URI and miss the gate unless MLFLOW_TRACKING_URI is set
        with tempfile.TemporaryDirectory() as tmp:
            try:
                gate = json.loads(Path(client.download_artifacts(mv.run_id, gate_path, tmp)).read_text("utf-8"))
            except (MlflowException, OSError, ValueError):
                gate = None
        if gate is not None:
            gate["override"] = {"reason": decision.override_reason, "by": who}
            gate["next_step"] = f"none: promoted by a reviewer's override ({decision.override_reason})"
            client.log_dict(mv.run_id, gate, gate_path)
            recorded = True
    out = {
        "registered_model": name,
        "version": str(version),
        "previous_champion": previous,
        "decision": decision.decision,
        "override_reason": decision.override_reason,
        "override_by": who,
        "gate_json_updated": recorded,
    }
    if console is not None:
        console.print(
            f"promote: {name} version {version} is now champion (was {previous or 'none'}); reviewer override by "
            f"{who}, reason recorded on the version" + (f" and in {gate_path} of run {mv.run_id}" if recorded else ""),
            markup=False,
            highlight=False,
        )
    return out
