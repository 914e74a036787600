"""Evaluate a model version on scored rows: every audit, as aggregates ready to log and render.

:func:`evaluate_model` is pure: it takes person-level scored rows (in memory), runs the
performance, fairness, stigmatisation and SHAP audits per age band, the league-table check and
the promotion gate, and returns an :class:`EvaluationResult` that holds aggregates only. The
training stage logs it (``to_artifacts``) and ``aanwas report`` renders it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from aanwas.common.compute import Executor
from aanwas.common.errors import InputError
from evaluation import _plots as P
from evaluation.config import EvaluationConfig
from evaluation.explain import aggregate_shap
from evaluation.fairness import TOO_FEW, FairnessAudit, audit_fairness
from evaluation.gates import GateVerdict, audit_gates, is_gating
from evaluation.modelcard import ModelInfo, build_model_card
from evaluation.performance import audit_performance
from evaluation.report import render_report
from evaluation.result import EvaluationResult
from evaluation.stigmatisation import (
    LabelBiasResult,
    ProxyResult,
    aggregate_area_composition,
    audit_label_bias,
    audit_league_tables,
    audit_proxy,
    audit_ranking,
    audit_registration_intensity,
    compare_with_truth,
    model_expected,
    power_at_true_intensity,
    sensitivity_by_power,
    truth_at_level,
)
from features.config import AGE_BANDS

#: Key of the label-bias audit that pools all age bands.
POOLED = "all bands"

#: Card and summary keys of the registration-intensity audit that a model card carries.
_CARD_KEYS = ("n_areas", "p_", "truth")

#: Why registration intensity is shown but not gated (see docs/dev/evaluation.md).
REGISTRATIONS_NOT_GATED = (
    "registration intensity describes the registrations (the labels), not the model: it is "
    "reported here and in the model card but does not feed the promotion gate (docs/dev/evaluation.md)"
)

#: Columns of the per-area label-bias table that may be logged (no counts, no raw rates).
_LABEL_BIAS_LOGGED = (
    "area_code",
    "registration_intensity",
    "registration_intensity_lo",
    "registration_intensity_hi",
    "registration",
    "status_observed",
    "status_alternative",
    "status_model",
)


def _bands(values: pd.Series) -> list[str]:
    present = [str(v) for v in pd.unique(values.dropna().astype(str))]
    known = [b for b in AGE_BANDS if b in present]
    return known + sorted(set(present) - set(known))


def _ci_text(row: Mapping[str, Any]) -> str:
    if row.get("status") != "ok":
        return TOO_FEW
    return f"{row['value']:.3f} ({row['ci_lo']:.3f}\u2013{row['ci_hi']:.3f})"


def _fairness_summary(audit: FairnessAudit, cfg: EvaluationConfig) -> dict[str, Any]:
    """Counts of the fairness verdicts for the model card: the gating checks (protected
    attributes, gate metrics; judged by the gate after Holm's correction) apart from the
    descriptive ones, which never reject."""
    m = audit.metrics
    gating = m["metric"].isin(cfg.gate.fairness_metrics) & m["attribute"].map(lambda a: is_gating(str(a), cfg))
    out = {
        "n_gating_outside_per_group": int(((m["verdict"] == "outside") & gating).sum()),
        "n_descriptive_outside_per_group": int(((m["verdict"] == "outside") & ~gating).sum()),
        "verdicts_note": "per-group verdicts at 95 % before any multiplicity correction; descriptive "
        "verdicts never reject; the promotion gate's outcome is in the gate section",
        "n_verdicts_outside": int((m["verdict"] == "outside").sum()),
        "n_verdicts_uncertain": int((m["verdict"] == "uncertain").sum()),
        "n_groups_too_few": int((audit.groups["status"] != "ok").sum()),
        "outside": [
            f"{r.metric} {r.attribute}={r.group}: {r.disparity:.2f} ({r.disparity_lo:.2f}\u2013{r.disparity_hi:.2f})"
            for r in m[m["verdict"] == "outside"].itertuples(index=False)
        ][:10],
    }
    return out


def _truth_for(truth_areas: pd.DataFrame, level: str, members: pd.DataFrame, cfg: EvaluationConfig) -> pd.DataFrame:
    """The synthetic truth at ``level``: as given, or aggregated from wijken (weighted by the
    rows in ``members``) when the truth has no rows at that level."""
    t = truth_areas
    if "area_level" in t.columns:
        t = t[t["area_level"].astype(str) == level]
    if len(t) == 0 and "area_level" in truth_areas.columns and {"wijk", level} <= set(members.columns):
        wijken = truth_areas[truth_areas["area_level"].astype(str) == "wijk"]
        t = truth_at_level(wijken, members, level=level, threshold=cfg.fairness.tolerance_high)
    return t


def _powered_truth(power: pd.DataFrame, truth: pd.DataFrame, cfg: EvaluationConfig) -> dict[str, Any]:
    """Sensitivity and false discovery among the areas with at least the target power, and the
    sensitivity over every area with enough persons (areas not shown count as missed)."""
    t = sensitivity_by_power(power, truth, cuts=[cfg.stigmatisation.intensity.power_target]).set_index("stratum")
    hi, every = t.iloc[1], t.loc["all"]
    return {
        "n_areas_truly_over_policed_powered": int(hi["n_areas_truly_over_policed"]),
        "recall_powered": float(hi["sensitivity"]),
        "false_discovery_powered": float(hi["false_discovery"]),
        "mean_power_truly_over_policed_powered": float(hi["mean_power_truly_over_policed"]),
        "n_areas_truly_over_policed_auditable": int(every["n_areas_truly_over_policed"]),
        "recall_auditable": float(every["sensitivity"]),
        "mean_power_truly_over_policed_auditable": float(every["mean_power_truly_over_policed"]),
    }


def _record_label_bias(
    lb: Any,
    key: str,
    level: str,
    which: str,
    truth_areas: pd.DataFrame | None,
    cfg: EvaluationConfig,
    summary: dict[str, Any],
    tables: dict[str, Any],
    figures: dict[str, Any],
    *,
    kind: str = "label_bias",
    members: pd.DataFrame | None = None,
) -> None:
    """Put one label-bias (or registration-intensity) audit into the result: summary (with the
    truth comparison when the synthetic truth is given), the loggable area table and its figure."""
    lb_summary: dict[str, Any] = dict(lb.summary)
    if truth_areas is not None:
        t = _truth_for(truth_areas, level, members if members is not None else pd.DataFrame(), cfg)
        lb_summary["truth"] = compare_with_truth(lb, t)
        if lb.power is not None:  # does it flag the over-policed areas it has the data to see?
            lb_summary["truth"].update(_powered_truth(lb.power, t, cfg))
            if {"enforcement_multiplier", "enforcement"} & set(t.columns):
                own = power_at_true_intensity(
                    lb.power,
                    t,
                    p_threshold=float(lb.summary["p_threshold_over"]),
                    min_count=cfg.min_cell_size,
                    tolerance=cfg.fairness.tolerance_high,
                )
                lb_summary["truth"].update(
                    {f"{k}_at_true_intensity": v for k, v in _powered_truth(own, t, cfg).items() if "powered" in k}
                )
            tables[f"{kind}_power/{key}"] = sensitivity_by_power(
                lb.power, t, cuts=cfg.stigmatisation.intensity.power_strata
            )
    summary[kind][key] = lb_summary
    tables[f"{kind}/{key}"] = lb.areas[[c for c in _LABEL_BIAS_LOGGED if c in lb.areas.columns]]
    figures[f"{kind}/{key}"] = P.plot_label_bias(
        lb.areas, title=f"Registration intensity, {level}, {which}", dpi=cfg.figure_dpi
    )


def _registration_intensity(
    rows: pd.DataFrame,
    *,
    band: str,
    observed: str,
    score: str,
    cfg: EvaluationConfig,
    truth_areas: pd.DataFrame | None,
    summary: dict[str, Any],
    tables: dict[str, Any],
    figures: dict[str, Any],
    per_band: bool = True,
) -> None:
    """Registration-intensity audit per band (unless ``per_band`` is false) and pooled over the
    bands, at every area level."""
    rows = rows[rows[observed].notna().to_numpy() & rows[score].notna().to_numpy()]
    strata = [c for c in (band, "ref_date") if c in rows.columns]
    rows = rows.assign(
        _expected=model_expected(
            rows, observed=observed, score=score, strata=strata, bins=cfg.stigmatisation.intensity.risk_bins
        )
    )
    person = "rinpersoon" if "rinpersoon" in rows.columns else None
    bands = _bands(rows[band]) if band in rows.columns else []
    groups = [(b, rows[rows[band].astype(str) == b]) for b in bands] if per_band else []
    if len(bands) != 1 or not per_band:
        groups.append((POOLED, rows))
    for which, sub in groups:
        for level in cfg.stigmatisation.area_levels:
            if level not in sub.columns or len(sub) == 0:
                continue
            res = audit_registration_intensity(
                sub, area=level, observed=observed, expected="_expected", cfg=cfg, person=person
            )
            res.summary["n_reference_dates"] = int(sub["ref_date"].nunique()) if "ref_date" in sub.columns else 1
            keys = summary["area_keys"].setdefault(which, [])
            if f"{which}/{level}" not in keys:
                keys.append(f"{which}/{level}")
            _record_label_bias(
                res,
                f"{which}/{level}",
                level,
                "all bands" if which == POOLED else f"band {which}",
                truth_areas,
                cfg,
                summary,
                tables,
                figures,
                kind="registration_intensity",
                members=sub,
            )


@dataclasses.dataclass
class _Collected:
    """What the audits of one evaluation produce, filled in step by step.

    The steps run in a fixed order: the summary, tables and figures keep the order in which
    they were filled (the logged artifacts and the report follow it).
    """

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    figures: dict[str, bytes] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    fairness: dict[str, FairnessAudit] = dataclasses.field(default_factory=dict)
    proxy: dict[str, ProxyResult] = dataclasses.field(default_factory=dict)
    label_bias: dict[str, LabelBiasResult] = dataclasses.field(default_factory=dict)
    perf_card: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    fair_card: dict[str, Any] = dataclasses.field(default_factory=dict)


def _checked_scored(scored: pd.DataFrame, score: str, label: str, band: str, cfg: EvaluationConfig) -> pd.DataFrame:
    """The scored rows, refused without their columns or with a risk outside [0, 1]; audit
    attributes named after their source column are added under the attribute's name."""
    for col in (score, label, band):
        if col not in scored.columns:
            raise InputError("scored rows", col, None, "column not found")
    bad = scored[score].isna() | ~scored[score].between(0.0, 1.0)
    if bad.any():
        raise InputError("scored rows", score, int(bad.sum()), "risk must be a probability in [0, 1]")
    for attribute, source in cfg.fairness.attribute_columns.items():
        if attribute not in scored.columns and source in scored.columns:
            scored = scored.assign(**{attribute: scored[source]})
    return scored


def _summary_head(
    info: ModelInfo, cfg: EvaluationConfig, bands: list[str], thresholds: dict[str, float]
) -> dict[str, Any]:
    """The summary before the audits: the model, the settings it was evaluated with, and empty
    sections the audits fill in."""
    return {
        "model": {"name": info.name, "version": info.version, "run_id": info.run_id},
        "settings": {
            "min_cell_size": cfg.min_cell_size,
            "interval": cfg.interval_text,
            "interval_level": round(1.0 - cfg.alpha, 12),
            "tolerance_band": f"{cfg.fairness.tolerance_low:g}\u2013{cfg.fairness.tolerance_high:g}",
            "tolerance": [cfg.fairness.tolerance_low, cfg.fairness.tolerance_high],
            "priority_metrics": list(cfg.fairness.priority_metrics),
            "gate": {
                "fairness_metrics": list(cfg.gate.fairness_metrics),
                "max_outside": cfg.gate.max_outside,
                "proxy_block": cfg.stigmatisation.proxy.gate_block,
                "proxy_r2_max": cfg.gate.proxy_r2_max,
                "proxy_min_areas": cfg.stigmatisation.proxy.min_areas,
                "max_bias_elevated_share": cfg.gate.max_bias_elevated_share,
                "bias_min_elevated": cfg.gate.bias_min_elevated,
            },
        },
        "bands": bands,
        "threshold": thresholds,
        "n_persons": {},
        "n_censored": {},
        "fairness_references": {},
        "fairness_notes": {},
        "area_keys": {},
        "proxy": {},
        "proxy_skipped": {},
        "label_bias": {},
        "registration_intensity": {},
        "ranking": {},
        "shap": {},
    }


def _known_outcomes(rows: pd.DataFrame, label: str) -> pd.DataFrame:
    """The rows whose outcome is known (not censored), with the label as 0/1 integers."""
    known = rows[rows[label].notna().to_numpy()].copy()
    known[label] = known[label].astype("int64")
    return known


def _audit_band_performance(
    out: _Collected,
    known: pd.DataFrame,
    b: str,
    *,
    label: str,
    score: str,
    thr: float,
    baselines: Sequence[str],
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """Performance of band ``b``: metrics, comparison with the baselines, calibration (table,
    figure) and the model's metrics for the card."""
    perf = audit_performance(
        known, label=label, score=score, threshold=thr, cfg=cfg, baselines=baselines, executor=executor
    )
    out.tables[f"performance/{b}"] = perf.metrics
    if len(perf.comparison):
        out.tables[f"performance_comparison/{b}"] = perf.comparison
    out.tables[f"calibration/{b}"] = perf.calibration
    out.figures[f"calibration/{b}"] = P.plot_calibration(
        perf.calibration, title=f"Calibration, band {b}", dpi=cfg.figure_dpi
    )
    m = perf.metrics[perf.metrics["model"] == "model"]
    out.perf_card[b] = {r["metric"]: _ci_text(r) for r in m.to_dict("records")}


def _audit_band_fairness(
    out: _Collected,
    known: pd.DataFrame,
    b: str,
    attrs: list[str],
    *,
    label: str,
    score: str,
    thr: float,
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """Fairness of band ``b`` over the audit attributes: tables, summary, card and one figure."""
    fa = audit_fairness(known, label=label, score=score, threshold=thr, groups=attrs, cfg=cfg, executor=executor)
    out.fairness[b] = fa
    out.tables[f"fairness_overall/{b}"] = fa.overall
    out.tables[f"fairness_groups/{b}"] = fa.groups
    out.tables[f"fairness_metrics/{b}"] = fa.metrics
    out.summary["fairness_references"][b] = fa.references
    out.summary["fairness_notes"][b] = fa.notes
    out.fair_card[b] = _fairness_summary(fa, cfg)
    # one figure per band: priority ratio metrics for the single attributes (the
    # intersections are in the tables)
    out.figures[f"fairness/{b}"] = P.plot_disparities(
        fa.metrics,
        title=f"Disparities of the priority metrics, band {b}",
        band=(cfg.fairness.tolerance_low, cfg.fairness.tolerance_high),
        dpi=cfg.figure_dpi,
        metric_names=tuple(cfg.fairness.priority_metrics),
        attributes=tuple(attrs),
    )


def _audit_area_proxy(
    out: _Collected,
    sub: pd.DataFrame,
    key: str,
    level: str,
    *,
    score: str,
    features: Sequence[str],
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """Proxy test at one area level: how much of the area mean score the composition explains
    (skipped, with the reason in the summary, without composition attributes or enough areas)."""
    blocks = {
        name: aggregate_area_composition(sub, area=level, attributes=[attr])
        for name, attr in cfg.stigmatisation.proxy.blocks.items()
        if attr in sub.columns
    }
    if not blocks:
        out.summary["proxy_skipped"][key] = "no composition attributes available"
        return
    try:
        pr = audit_proxy(
            sub, area=level, score=score, composition=blocks, features=list(features), cfg=cfg, executor=executor
        )
    except InputError as err:
        out.summary["proxy_skipped"][key] = err.problem
        return
    out.proxy[key] = pr
    out.tables[f"proxy/{key}"] = pr.table
    out.summary["proxy"][key] = {
        "n_areas": pr.n_areas,
        "n_areas_too_few": pr.n_areas_too_few,
        "blocks": list(pr.blocks),
    }


def _audit_band_areas(
    out: _Collected,
    sub: pd.DataFrame,
    known: pd.DataFrame,
    b: str,
    *,
    has_both: bool,
    label: str,
    score: str,
    features: Sequence[str],
    alternative: str | None,
    truth_areas: pd.DataFrame | None,
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """Stigmatisation audits of band ``b`` per area level: proxy test, label bias (with an
    alternative outcome) and rank uncertainty."""
    keys = []
    for level in cfg.stigmatisation.area_levels:
        if level not in sub.columns:
            out.notes.append(f"band {b}: no area column {level!r}; stigmatisation audits skipped there")
            continue
        key = f"{b}/{level}"
        keys.append(key)
        _audit_area_proxy(out, sub, key, level, score=score, features=features, cfg=cfg, executor=executor)
        if alternative is not None and alternative in known.columns and has_both:
            lb = audit_label_bias(
                known, area=level, label=label, alternative=alternative, score=score, cfg=cfg, executor=executor
            )
            out.label_bias[key] = lb
            _record_label_bias(lb, key, level, f"band {b}", truth_areas, cfg, out.summary, out.tables, out.figures)
        rk = audit_ranking(sub, area=level, value=score, cfg=cfg, executor=executor)
        out.summary["ranking"][key] = rk.summary
        out.figures[f"ranking/{key}"] = P.plot_rank_widths(
            (rk.areas["rank_hi"] - rk.areas["rank_lo"]).to_numpy(),
            title=f"Rank-interval widths, {level}, band {b}",
            dpi=cfg.figure_dpi,
        )
    out.summary["area_keys"][b] = keys


def _explain_band(
    out: _Collected,
    sub: pd.DataFrame,
    b: str,
    model: Any,
    cols: list[str],
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """SHAP importance and dependence of band ``b``'s model, aggregated (tables and figure)."""
    sh = aggregate_shap(model, sub[cols], cfg=cfg, executor=executor)
    out.tables[f"shap_importance/{b}"] = sh.importance
    out.tables[f"shap_dependence/{b}"] = sh.dependence
    out.summary["shap"][b] = {"n_persons": sh.n_persons, "scale": sh.scale}
    out.figures[f"shap/{b}"] = P.plot_importance(sh.importance, title=f"SHAP importance, band {b}", dpi=cfg.figure_dpi)


def _audit_band(
    out: _Collected,
    sub: pd.DataFrame,
    b: str,
    *,
    label: str,
    score: str,
    thr: float,
    baselines: Sequence[str],
    features: Mapping[str, Sequence[str]] | None,
    models: Mapping[str, Any] | None,
    alternative: str | None,
    truth_areas: pd.DataFrame | None,
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """Every audit of one age band: performance, fairness, stigmatisation, explanations."""
    known = _known_outcomes(sub, label)
    n_known = len(known)
    out.summary["n_persons"][b] = n_known if n_known >= cfg.min_cell_size else TOO_FEW
    n_cens = len(sub) - n_known
    out.summary["n_censored"][b] = n_cens if n_cens == 0 or n_cens >= cfg.min_cell_size else TOO_FEW
    has_both = n_known >= cfg.min_cell_size and known[label].nunique() == 2
    if has_both:
        _audit_band_performance(
            out, known, b, label=label, score=score, thr=thr, baselines=baselines, cfg=cfg, executor=executor
        )
    else:
        out.notes.append(f"band {b}: performance and fairness not evaluated (too few persons or only one outcome)")
    attrs = [a for a in cfg.fairness.attributes if a in sub.columns]
    missing = [a for a in cfg.fairness.attributes if a not in sub.columns]
    if missing:
        out.notes.append(f"band {b}: audit attributes not available: {', '.join(missing)}")
    if has_both and attrs:
        _audit_band_fairness(out, known, b, attrs, label=label, score=score, thr=thr, cfg=cfg, executor=executor)
    _audit_band_areas(
        out,
        sub,
        known,
        b,
        has_both=has_both,
        label=label,
        score=score,
        features=(features or {}).get(b, ()),
        alternative=alternative,
        truth_areas=truth_areas,
        cfg=cfg,
        executor=executor,
    )
    if models and b in models and features and b in features:
        _explain_band(out, sub, b, models[b], list(features[b]), cfg, executor)


def _pooled_label_bias(
    out: _Collected,
    scored: pd.DataFrame,
    *,
    label: str,
    score: str,
    alternative: str,
    truth_areas: pd.DataFrame | None,
    cfg: EvaluationConfig,
    executor: Executor | None,
) -> None:
    """Label bias pooled over the age bands: registration intensity is a property of the area,
    not of a band, and pooling gives the audit more events (its power is low in small areas)."""
    pooled = _known_outcomes(scored, label)
    keys = []
    for level in cfg.stigmatisation.area_levels:
        if level not in pooled.columns or pooled[label].nunique() < 2:
            continue
        key = f"{POOLED}/{level}"
        keys.append(key)
        lb = audit_label_bias(
            pooled, area=level, label=label, alternative=alternative, score=score, cfg=cfg, executor=executor
        )
        out.label_bias[key] = lb
        _record_label_bias(lb, key, level, "all bands", truth_areas, cfg, out.summary, out.tables, out.figures)
    out.summary["area_keys"][POOLED] = keys


def _stigma_card(out: _Collected, findings: list[str]) -> dict[str, Any]:
    """The stigmatisation section of the model card: proxy R² with intervals, label bias,
    registration intensity and ranking summaries, and the league-table findings."""
    summary = out.summary
    return {
        "proxy": {
            k: {
                r["predictors"]: f"R2 {r['r2']:.2f} ({r['ci_lo']:.2f}\u2013{r['ci_hi']:.2f})"
                for r in v.table.to_dict("records")
            }
            for k, v in out.proxy.items()
        },
        "label_bias": dict(summary["label_bias"]),
        "registration_intensity": {
            k: {kk: vv for kk, vv in v.items() if kk.startswith(_CARD_KEYS)}
            for k, v in summary["registration_intensity"].items()
        },
        "ranking": {
            k: {kk: vv for kk, vv in v.items() if kk.startswith(("n_areas", "naive"))}
            for k, v in summary["ranking"].items()
        },
        "league_findings": findings,
    }


def _checked_result(out: _Collected, info: ModelInfo, cfg: EvaluationConfig) -> EvaluationResult:
    """The result with its model card, after the league-table check (on the tables and on the
    full report as rendered, card included) and the promotion gate."""
    summary, tables = out.summary, out.tables

    def card_with(findings: list[str], gate: dict[str, Any]) -> dict[str, Any]:
        return build_model_card(
            info,
            cfg.model_card,
            performance=out.perf_card,
            fairness=out.fair_card,
            stigmatisation=_stigma_card(out, findings),
            gate=gate,
        )

    draft = EvaluationResult(summary=summary, tables=tables, figures={}, model_card=card_with([], {}))
    findings = audit_league_tables(
        tables=tables, html={"report.html": render_report(draft, min_cell=cfg.min_cell_size)}
    )
    summary["league_findings"] = findings

    gate = audit_gates(
        cfg=cfg, fairness=out.fairness, proxy=out.proxy, label_bias=out.label_bias, league_findings=findings
    )
    summary["gate"] = gate.to_dict()
    return EvaluationResult(
        summary=summary, tables=tables, figures=out.figures, model_card=card_with(findings, gate.to_dict())
    )


def evaluate_model(
    scored: pd.DataFrame,
    *,
    cfg: EvaluationConfig,
    threshold: float | Mapping[str, float],
    score: str = "score",
    label: str = "label",
    band: str = "age_band",
    baselines: Sequence[str] = (),
    features: Mapping[str, Sequence[str]] | None = None,
    models: Mapping[str, Any] | None = None,
    alternative: str | None = None,
    truth_areas: pd.DataFrame | None = None,
    model_info: ModelInfo | None = None,
    registrations: pd.DataFrame | None = None,
    registered: str = "registered",
    executor: Executor | None = None,
) -> EvaluationResult:
    """Run every audit per age band and return aggregate tables, figures, card and gate.

    Parameters
    ----------
    scored : pandas.DataFrame
        Person-level rows (in memory only): ``label`` (0/1 or nullable boolean; NA = censored,
        left out of outcome-based audits), ``score`` (calibrated risk), ``band``, area columns
        named after ``cfg.stigmatisation.area_levels`` (buurt / wijk / gemeente), audit attributes
        (``cfg.fairness.attributes``), the model's feature columns and any ``baselines`` columns.
    cfg : EvaluationConfig
    threshold : float or mapping
        The calibrated-probability threshold for "elevated", one value or one per band.
    score, label, band : str
        Column names.
    baselines : sequence of str
        Baseline score columns to compare with.
    features : mapping, optional
        Band -> model input columns (proxy-test contrast and SHAP).
    models : mapping, optional
        Band -> tree model for SHAP (TreeExplainer).
    alternative : str, optional
        Intensity-free alternative outcome column (synthetic truth, alternative label, or
        :func:`evaluation.stigmatisation.build_intensity_adjusted_label`).
    truth_areas : pandas.DataFrame, optional
        ``area_code, area_level, over_policed[, enforcement]`` (synthetic data only).
    model_info : ModelInfo, optional
        For the model card.
    registrations : pandas.DataFrame, optional
        Rows for the registration-intensity audit (in memory only), ideally every reference date
        with a known next period: area columns, ``band``, ``ref_date``, ``rinpersoon``, the
        observed ``registered`` (registrations in the next period, e.g. from
        :func:`evaluation.stigmatisation.registrations_next_period`) and ``score`` (the risk of
        the row's band model). Audited per band present and pooled over bands.
    registered : str
        Column of ``registrations`` with the observed registrations.
    executor : Executor, optional
        Where the bootstraps' chunks of replicates run (:mod:`aanwas.common.compute`, e.g. a
        Dask cluster); default: this process. The same results either way.

    Returns
    -------
    EvaluationResult
    """
    scored = _checked_scored(scored, score, label, band, cfg)
    info = model_info or ModelInfo()
    bands = _bands(scored[band])
    thresholds = {b: float(threshold[b] if isinstance(threshold, Mapping) else threshold) for b in bands}
    out = _Collected(summary=_summary_head(info, cfg, bands, thresholds))
    band_values = scored[band].astype(str)
    for b in bands:
        _audit_band(
            out,
            scored[band_values == b],
            b,
            label=label,
            score=score,
            thr=thresholds[b],
            baselines=baselines,
            features=features,
            models=models,
            alternative=alternative,
            truth_areas=truth_areas,
            cfg=cfg,
            executor=executor,
        )
    if alternative is not None and alternative in scored.columns and len(bands) > 1:
        _pooled_label_bias(
            out,
            scored,
            label=label,
            score=score,
            alternative=alternative,
            truth_areas=truth_areas,
            cfg=cfg,
            executor=executor,
        )
    summary, tables = out.summary, out.tables
    if registrations is not None and len(registrations):
        _registration_intensity(
            registrations,
            band=band,
            observed=registered,
            score=score,
            cfg=cfg,
            truth_areas=truth_areas,
            summary=summary,
            tables=tables,
            figures=out.figures,
        )
    summary["notes"] = out.notes
    if alternative is None:
        summary["notes"].append("label-bias sensitivity not run: no alternative label given")
    return _checked_result(out, info, cfg)


def evaluate_registrations(
    registrations: pd.DataFrame,
    *,
    cfg: EvaluationConfig,
    registered: str = "registered",
    score: str = "score",
    band: str = "age_band",
    truth_areas: pd.DataFrame | None = None,
    model_info: ModelInfo | None = None,
) -> EvaluationResult:
    """The registration-intensity audit pooled over every age band, on its own.

    Training evaluates band by band (each band model's evaluation holds that band's audit);
    registration intensity is a property of the area, so this pools the bands' rows for more
    events. The result goes through the same suppression as a band's evaluation (loggable
    columns only, no counts per area, the league-table check on its tables and report); it has
    no gate (see :data:`REGISTRATIONS_NOT_GATED`).

    Parameters
    ----------
    registrations : pandas.DataFrame
        As for :func:`evaluate_model`: rows of every band (in memory only).
    cfg : EvaluationConfig
    registered, score, band : str
        Column names.
    truth_areas : pandas.DataFrame, optional
        Synthetic truth (``area_code, area_level, over_policed[, enforcement_multiplier]``).
    model_info : ModelInfo, optional
        Run and version for the report header.

    Returns
    -------
    EvaluationResult
        ``summary["registration_intensity"]`` keyed ``"all bands/<level>"``, its tables and figures.
    """
    for col in (registered, score, band):
        if col not in registrations.columns:
            raise InputError("registration rows", col, None, "column not found")
    info = model_info or ModelInfo()
    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, bytes] = {}
    summary: dict[str, Any] = {
        "model": {"name": info.name, "version": info.version, "run_id": info.run_id},
        "settings": {
            "min_cell_size": cfg.min_cell_size,
            "interval": "exact Poisson (Garwood) intervals; Benjamini-Hochberg false discovery control",
            "tolerance_band": f"{cfg.fairness.tolerance_low:g}–{cfg.fairness.tolerance_high:g}",
        },
        "bands": [],
        "pooled_bands": _bands(registrations[band]),
        "area_keys": {},
        "registration_intensity": {},
    }
    _registration_intensity(
        registrations,
        band=band,
        observed=registered,
        score=score,
        cfg=cfg,
        truth_areas=truth_areas,
        summary=summary,
        tables=tables,
        figures=figures,
        per_band=False,
    )
    summary["notes"] = [REGISTRATIONS_NOT_GATED]
    draft = EvaluationResult(summary=summary, tables=tables, figures={}, model_card={})
    summary["league_findings"] = audit_league_tables(
        tables=tables, html={"report.html": render_report(draft, min_cell=cfg.min_cell_size)}
    )
    return EvaluationResult(summary=summary, tables=tables, figures=figures, model_card={})


def attach_pooled_registrations(result: EvaluationResult, pooled: EvaluationResult) -> EvaluationResult:
    """A band's evaluation with the pooled registration-intensity audit in its model card.

    The card's stigmatisation part gets the pooled audit's area counts, tests and (synthetic
    data) truth comparison under ``registration_intensity`` (keys ``"all bands/<level>"``), and
    the notes point to the pooled evaluation. Nothing else changes (the gate stays as it was).
    """
    ri = pooled.summary.get("registration_intensity", {})
    card = dict(result.model_card)
    stigma = dict(card.get("stigmatisation", {}))
    stigma["registration_intensity"] = {
        **dict(stigma.get("registration_intensity", {})),
        **{k: {kk: vv for kk, vv in v.items() if kk.startswith(_CARD_KEYS)} for k, v in ri.items()},
    }
    stigma["registration_intensity_note"] = REGISTRATIONS_NOT_GATED
    card["stigmatisation"] = stigma
    summary = dict(result.summary)
    summary["notes"] = [
        *summary.get("notes", []),
        "registration intensity pooled over every band: see the model card and the pooled "
        "evaluation of this run (evaluation/all-bands)",
    ]
    return EvaluationResult(summary=summary, tables=result.tables, figures=result.figures, model_card=card)


def gate_of(result: EvaluationResult) -> GateVerdict:
    """The promotion-gate verdict stored in a result (also after ``from_artifacts``)."""
    return GateVerdict.from_dict(result.summary.get("gate", {}))
