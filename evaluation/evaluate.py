"""Evaluate a model version on scored rows: every audit, as aggregates ready to log and render.

:func:`evaluate_model` is pure: it takes person-level scored rows (in memory), runs the
performance, fairness, stigmatisation and SHAP audits per age band, the league-table check and
the promotion gate, and returns an :class:`EvaluationResult` that holds aggregates only. The
training stage logs it (``to_artifacts``) and ``aanwas report`` renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

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
    gating = m["metric"].isin(cfg.gate_fairness_metrics) & m["attribute"].map(lambda a: is_gating(str(a), cfg))
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
        t = truth_at_level(wijken, members, level=level, threshold=cfg.tolerance_high)
    return t


def _powered_truth(power: pd.DataFrame, truth: pd.DataFrame, cfg: EvaluationConfig) -> dict[str, Any]:
    """Sensitivity and false discovery among the areas with at least the target power, and the
    sensitivity over every area with enough persons (areas not shown count as missed)."""
    t = sensitivity_by_power(power, truth, cuts=[cfg.intensity_power_target]).set_index("stratum")
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
                    tolerance=cfg.tolerance_high,
                )
                lb_summary["truth"].update(
                    {f"{k}_at_true_intensity": v for k, v in _powered_truth(own, t, cfg).items() if "powered" in k}
                )
            tables[f"{kind}_power/{key}"] = sensitivity_by_power(lb.power, t, cuts=cfg.intensity_power_strata)
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
        _expected=model_expected(rows, observed=observed, score=score, strata=strata, bins=cfg.intensity_risk_bins)
    )
    person = "rinpersoon" if "rinpersoon" in rows.columns else None
    bands = _bands(rows[band]) if band in rows.columns else []
    groups = [(b, rows[rows[band].astype(str) == b]) for b in bands] if per_band else []
    if len(bands) != 1 or not per_band:
        groups.append((POOLED, rows))
    for which, sub in groups:
        for level in cfg.area_levels:
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
) -> EvaluationResult:
    """Run every audit per age band and return aggregate tables, figures, card and gate.

    Parameters
    ----------
    scored : pandas.DataFrame
        Person-level rows (in memory only): ``label`` (0/1 or nullable boolean; NA = censored,
        left out of outcome-based audits), ``score`` (calibrated risk), ``band``, area columns
        named after ``cfg.area_levels`` (buurt / wijk / gemeente), audit attributes
        (``cfg.audit_attributes``), the model's feature columns and any ``baselines`` columns.
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

    Returns
    -------
    EvaluationResult
    """
    for col in (score, label, band):
        if col not in scored.columns:
            raise InputError("scored rows", col, None, "column not found")
    bad = scored[score].isna() | ~scored[score].between(0.0, 1.0)
    if bad.any():
        raise InputError("scored rows", score, int(bad.sum()), "risk must be a probability in [0, 1]")
    for attribute, source in cfg.attribute_columns.items():
        if attribute not in scored.columns and source in scored.columns:
            scored = scored.assign(**{attribute: scored[source]})
    info = model_info or ModelInfo()
    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, bytes] = {}
    notes: list[str] = []
    bands = _bands(scored[band])
    thresholds = {b: float(threshold[b] if isinstance(threshold, Mapping) else threshold) for b in bands}
    fairness_by_band: dict[str, FairnessAudit] = {}
    proxy_by_key: dict[str, ProxyResult] = {}
    bias_by_key: dict[str, LabelBiasResult] = {}
    summary: dict[str, Any] = {
        "model": {"name": info.name, "version": info.version, "run_id": info.run_id},
        "settings": {
            "min_cell_size": cfg.min_cell_size,
            "interval": cfg.interval_text,
            "interval_level": round(1.0 - cfg.alpha, 12),
            "tolerance_band": f"{cfg.tolerance_low:g}\u2013{cfg.tolerance_high:g}",
            "tolerance": [cfg.tolerance_low, cfg.tolerance_high],
            "priority_metrics": list(cfg.priority_metrics),
            "gate": {
                "fairness_metrics": list(cfg.gate_fairness_metrics),
                "max_outside": cfg.gate_max_outside,
                "proxy_block": cfg.proxy_gate_block,
                "proxy_r2_max": cfg.gate_proxy_r2_max,
                "proxy_min_areas": cfg.proxy_min_areas,
                "max_bias_elevated_share": cfg.gate_max_bias_elevated_share,
                "bias_min_elevated": cfg.gate_bias_min_elevated,
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
    perf_card: dict[str, dict[str, str]] = {}
    fair_card: dict[str, Any] = {}
    band_values = scored[band].astype(str)
    for b in bands:
        sub = scored[band_values == b]
        lab = sub[label]
        known = sub[lab.notna().to_numpy()].copy()
        known[label] = known[label].astype("int64")
        n_known = len(known)
        summary["n_persons"][b] = n_known if n_known >= cfg.min_cell_size else TOO_FEW
        n_cens = len(sub) - n_known
        summary["n_censored"][b] = n_cens if n_cens == 0 or n_cens >= cfg.min_cell_size else TOO_FEW
        thr = thresholds[b]
        has_both = n_known >= cfg.min_cell_size and known[label].nunique() == 2

        # performance ---------------------------------------------------------------------
        if has_both:
            perf = audit_performance(known, label=label, score=score, threshold=thr, cfg=cfg, baselines=baselines)
            tables[f"performance/{b}"] = perf.metrics
            if len(perf.comparison):
                tables[f"performance_comparison/{b}"] = perf.comparison
            tables[f"calibration/{b}"] = perf.calibration
            figures[f"calibration/{b}"] = P.plot_calibration(
                perf.calibration, title=f"Calibration, band {b}", dpi=cfg.figure_dpi
            )
            m = perf.metrics[perf.metrics["model"] == "model"]
            perf_card[b] = {r["metric"]: _ci_text(r) for r in m.to_dict("records")}
        else:
            notes.append(f"band {b}: performance and fairness not evaluated (too few persons or only one outcome)")

        # fairness ------------------------------------------------------------------------
        attrs = [a for a in cfg.audit_attributes if a in sub.columns]
        missing = [a for a in cfg.audit_attributes if a not in sub.columns]
        if missing:
            notes.append(f"band {b}: audit attributes not available: {', '.join(missing)}")
        if has_both and attrs:
            fa = audit_fairness(known, label=label, score=score, threshold=thr, groups=attrs, cfg=cfg)
            fairness_by_band[b] = fa
            tables[f"fairness_overall/{b}"] = fa.overall
            tables[f"fairness_groups/{b}"] = fa.groups
            tables[f"fairness_metrics/{b}"] = fa.metrics
            summary["fairness_references"][b] = fa.references
            summary["fairness_notes"][b] = fa.notes
            fair_card[b] = _fairness_summary(fa, cfg)
            # one figure per band: priority ratio metrics for the single attributes (the
            # intersections are in the tables)
            figures[f"fairness/{b}"] = P.plot_disparities(
                fa.metrics,
                title=f"Disparities of the priority metrics, band {b}",
                band=(cfg.tolerance_low, cfg.tolerance_high),
                dpi=cfg.figure_dpi,
                metric_names=tuple(cfg.priority_metrics),
                attributes=tuple(attrs),
            )

        # stigmatisation ------------------------------------------------------------------
        keys = []
        for level in cfg.area_levels:
            if level not in sub.columns:
                notes.append(f"band {b}: no area column {level!r}; stigmatisation audits skipped there")
                continue
            key = f"{b}/{level}"
            keys.append(key)
            blocks = {
                name: aggregate_area_composition(sub, area=level, attributes=[attr])
                for name, attr in cfg.proxy_blocks.items()
                if attr in sub.columns
            }
            if blocks:
                try:
                    pr = audit_proxy(
                        sub,
                        area=level,
                        score=score,
                        composition=blocks,
                        features=list((features or {}).get(b, ())),
                        cfg=cfg,
                    )
                    proxy_by_key[key] = pr
                    tables[f"proxy/{key}"] = pr.table
                    summary["proxy"][key] = {
                        "n_areas": pr.n_areas,
                        "n_areas_too_few": pr.n_areas_too_few,
                        "blocks": list(pr.blocks),
                    }
                except InputError as err:
                    summary["proxy_skipped"][key] = err.problem
            else:
                summary["proxy_skipped"][key] = "no composition attributes available"
            if alternative is not None and alternative in known.columns and has_both:
                lb = audit_label_bias(known, area=level, label=label, alternative=alternative, score=score, cfg=cfg)
                bias_by_key[key] = lb
                _record_label_bias(lb, key, level, f"band {b}", truth_areas, cfg, summary, tables, figures)
            rk = audit_ranking(sub, area=level, value=score, cfg=cfg)
            summary["ranking"][key] = rk.summary
            figures[f"ranking/{key}"] = P.plot_rank_widths(
                (rk.areas["rank_hi"] - rk.areas["rank_lo"]).to_numpy(),
                title=f"Rank-interval widths, {level}, band {b}",
                dpi=cfg.figure_dpi,
            )
        summary["area_keys"][b] = keys

        # explanations --------------------------------------------------------------------
        if models and b in models and features and b in features:
            cols = list(features[b])
            sh = aggregate_shap(models[b], sub[cols], cfg=cfg)
            tables[f"shap_importance/{b}"] = sh.importance
            tables[f"shap_dependence/{b}"] = sh.dependence
            summary["shap"][b] = {"n_persons": sh.n_persons, "scale": sh.scale}
            figures[f"shap/{b}"] = P.plot_importance(
                sh.importance, title=f"SHAP importance, band {b}", dpi=cfg.figure_dpi
            )

    # registration intensity is a property of the area, not of a band: pooling the bands
    # gives the label-bias audit more events (its power is low in small areas)
    if alternative is not None and alternative in scored.columns and len(bands) > 1:
        pooled = scored[scored[label].notna().to_numpy()].copy()
        pooled[label] = pooled[label].astype("int64")
        keys = []
        for level in cfg.area_levels:
            if level not in pooled.columns or pooled[label].nunique() < 2:
                continue
            key = f"{POOLED}/{level}"
            keys.append(key)
            lb = audit_label_bias(pooled, area=level, label=label, alternative=alternative, score=score, cfg=cfg)
            bias_by_key[key] = lb
            _record_label_bias(lb, key, level, "all bands", truth_areas, cfg, summary, tables, figures)
        summary["area_keys"][POOLED] = keys

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
            figures=figures,
        )
    summary["notes"] = notes
    if alternative is None:
        summary["notes"].append("label-bias sensitivity not run: no alternative label given")

    def card_with(findings: list[str], gate: dict[str, Any]) -> dict[str, Any]:
        stigma_card = {
            "proxy": {
                k: {
                    r["predictors"]: f"R2 {r['r2']:.2f} ({r['ci_lo']:.2f}\u2013{r['ci_hi']:.2f})"
                    for r in v.table.to_dict("records")
                }
                for k, v in proxy_by_key.items()
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
        return build_model_card(
            info, cfg.model_card, performance=perf_card, fairness=fair_card, stigmatisation=stigma_card, gate=gate
        )

    # league-table check on the tables and on the full report as rendered (card included)
    draft = EvaluationResult(summary=summary, tables=tables, figures={}, model_card=card_with([], {}))
    findings = audit_league_tables(
        tables=tables, html={"report.html": render_report(draft, min_cell=cfg.min_cell_size)}
    )
    summary["league_findings"] = findings

    gate = audit_gates(
        cfg=cfg, fairness=fairness_by_band, proxy=proxy_by_key, label_bias=bias_by_key, league_findings=findings
    )
    summary["gate"] = gate.to_dict()
    return EvaluationResult(
        summary=summary, tables=tables, figures=figures, model_card=card_with(findings, gate.to_dict())
    )


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
            "tolerance_band": f"{cfg.tolerance_low:g}–{cfg.tolerance_high:g}",
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
