"""Self-contained HTML reports for ethics reviewers (work offline, no scripts, plots inline).

Two reports:

* :func:`render_fairness_html` - the generic audit of any scored table (``aanwas audit``);
* :func:`render_report` - the full evaluation of a model version, rendered only from the
  aggregate artifacts of an :class:`~evaluation.result.EvaluationResult` (``aanwas report``).

Every table shown has passed the minimum cell size; a smaller group reads "too few". Areas are
always listed in code order, never by risk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evaluation import _html as H
from evaluation._cells import check_aggregate_tables
from evaluation._plots import plot_disparities
from evaluation.config import EvaluationConfig
from evaluation.fairness import METRIC_LABELS, PRIORITY_RATIONALE, TOO_FEW, FairnessAudit
from evaluation.result import EvaluationResult

_VERDICT_HELP = (
    "<b>within</b>: the disparity lies inside the tolerance band; <b>outside</b>: the disparity "
    "and its whole 95% interval lie outside the band (clear evidence); <b>uncertain</b>: outside "
    "the band but the interval reaches into it (too little data to tell); <b>reference</b>: the "
    "reference group; "
    "<b>too few</b>: the group, or the denominator of the rate, is below the minimum cell size."
)

_METRIC_DEFS = (
    ("selection rate", "share of the group predicted positive (score \u2265 threshold: 'elevated')"),
    ("FPR", "false positive rate: elevated among those without the outcome"),
    ("FNR", "false negative rate: not elevated among those with the outcome (missed need)"),
    ("PPV", "positive predictive value: share with the outcome among the elevated"),
    ("AUC", "probability that a random person with the outcome scores above one without"),
    ("observed / expected", "observed outcomes divided by the sum of predicted risks (1 = calibrated)"),
    ("calibration-in-the-large", "mean predicted risk minus observed rate"),
)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not (isinstance(x, float) and math.isnan(x))


def _ci(row: Mapping[str, Any], value: str = "value", lo: str = "ci_lo", hi: str = "ci_hi", digits: int = 3) -> str:
    v = row.get(value)
    if row.get("status", "ok") != "ok" or not _is_num(v):
        return TOO_FEW if row.get("status", "ok") != "ok" else "n/a"
    return H.fmt_ci(float(v), float(row.get(lo, math.nan)), float(row.get(hi, math.nan)), digits)  # type: ignore[arg-type]


def _priority_block(metrics: Sequence[str]) -> str:
    items = "".join(
        f"<li><b>{H.esc(METRIC_LABELS.get(m, m))}</b>: {H.esc(PRIORITY_RATIONALE[m])}</li>"
        for m in metrics
        if m in PRIORITY_RATIONALE
    )
    others = [m for m in PRIORITY_RATIONALE if m not in metrics]
    rest = "".join(f"<li>{H.esc(METRIC_LABELS.get(m, m))}: {H.esc(PRIORITY_RATIONALE[m])}</li>" for m in others)
    return (
        "<h2>Which metrics matter most for preventive use</h2>"
        "<p>The tool is assistive: it directs prevention resources to areas, it does not decide "
        "about persons. The harms differ from those of an enforcement tool, so the metrics are "
        "not equally important.</p>"
        f"<ul>{items}</ul><p>Also reported:</p><ul>{rest}</ul>"
    )


def _definitions() -> str:
    rows = [[a, b] for a, b in _METRIC_DEFS]
    return "<h2>Definitions</h2>" + H.table(rows, ["metric", "meaning"], text_columns=2) + H.note(_VERDICT_HELP)


def _fairness_attribute_table(
    groups: pd.DataFrame, metrics: pd.DataFrame, attribute: str, metric_names: Sequence[str], reference: str
) -> str:
    g = groups[groups["attribute"] == attribute]
    m = metrics[metrics["attribute"] == attribute].set_index(["group", "metric"])
    header = ["group", "n"] + [METRIC_LABELS.get(x, x).split(" (")[0] for x in metric_names]
    head = "".join(f'<th class="{"txt" if i == 0 else ""}">{H.esc(h)}</th>' for i, h in enumerate(header))
    body = []
    for r in g.to_dict("records"):
        grp = str(r["group"])
        label = grp + (" (reference)" if grp == str(reference) else "")
        if r["status"] != "ok":
            cells = [f'<td class="txt">{H.esc(label)}</td>'] + ['<td class="few">too few</td>'] * (
                1 + len(metric_names)
            )
            body.append(f"<tr>{''.join(cells)}</tr>")
            continue
        cells = [f'<td class="txt">{H.esc(label)}</td>', f"<td>{H.fmt_num(int(r['n_persons']))}</td>"]
        for x in metric_names:
            key = (r["group"], x)
            if key not in m.index:
                cells.append("<td>n/a</td>")
                continue
            row = m.loc[key].to_dict()
            if row["status"] != "ok":
                cells.append('<td class="few">too few</td>')
                continue
            text = H.esc(_ci(row))
            verdict = str(row.get("verdict", ""))
            extra = ""
            if row.get("comparison") in ("ratio to reference", "difference to reference") and verdict not in (
                "reference",
                "none",
            ):
                if verdict == TOO_FEW:
                    extra = "<br><small>vs reference: too few</small>"
                else:
                    d = H.fmt_ci(float(row["disparity"]), float(row["disparity_lo"]), float(row["disparity_hi"]), 2)
                    kind = "ratio" if row["comparison"] == "ratio to reference" else "diff"
                    extra = f"<br><small>{kind} {H.esc(d)}: {H.esc(verdict)}</small>"
            elif row.get("comparison") == "observed / expected within group":
                extra = f"<br><small>{H.esc(verdict)}</small>"
            cls = f"v-{verdict}" if verdict in ("within", "outside", "uncertain") else ""
            cells.append(f'<td class="{cls}">{text}{extra}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# --------------------------------------------------------------------------------------------
# generic audit report
# --------------------------------------------------------------------------------------------


def render_fairness_html(
    audit: FairnessAudit,
    cfg: EvaluationConfig,
    *,
    source: str,
    label: str,
    score: str,
    figures: bool = True,
) -> str:
    """Self-contained HTML of a generic fairness audit (``aanwas audit``).

    Parameters
    ----------
    audit : FairnessAudit
    cfg : EvaluationConfig
    source, label, score : str
        File name and columns, for the header.
    figures : bool
        Include forest plots of disparities (inline PNG).

    Returns
    -------
    str
    """
    check_aggregate_tables({"groups": audit.groups}, cfg.min_cell_size)
    parts = [f"<h1>Fairness audit: {H.esc(source)}</h1>"]
    n_text = H.fmt_num(audit.n_persons) if audit.n_persons >= cfg.min_cell_size else TOO_FEW
    parts.append(
        H.table(
            [
                ["rows audited", n_text],
                ["outcome column", label],
                ["score column", score],
                ["positive prediction", f"{score} \u2265 {audit.threshold:g}"],
                ["minimum cell size", str(cfg.min_cell_size)],
                [
                    "intervals",
                    cfg.interval_text,
                ],
                [
                    "tolerance band",
                    f"{cfg.fairness.tolerance_low:g}\u2013{cfg.fairness.tolerance_high:g} (ratio to reference); "
                    f"AUC difference \u2264 {cfg.fairness.auc_gap_max:g}",
                ],
            ],
            ["setting", "value"],
            caption="Input",
            text_columns=2,
        )
    )
    parts.append(_priority_block(cfg.fairness.priority_metrics))
    overall = [[METRIC_LABELS.get(r["metric"], r["metric"]), _ci(r)] for r in audit.overall.to_dict("records")]
    parts.append("<h2>Whole table</h2>" + H.table(overall, ["metric", "value (95% interval)"], text_columns=1))
    for attribute, ref in audit.references.items():
        parts.append(f"<h2>By {H.esc(attribute)}</h2><p>Reference group: <b>{H.esc(ref)}</b>.</p>")
        parts.append(_fairness_attribute_table(audit.groups, audit.metrics, attribute, audit.metric_names, ref))
        if figures:
            png = plot_disparities(
                audit.metrics[audit.metrics["attribute"] == attribute],
                title=f"Disparities by {attribute}",
                band=(cfg.fairness.tolerance_low, cfg.fairness.tolerance_high),
                dpi=cfg.figure_dpi,
            )
            parts.append(H.img(png, f"Disparity ratios by {attribute} with 95% intervals"))
    if audit.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{H.esc(n)}</li>" for n in audit.notes) + "</ul>")
    parts.append(_definitions())
    parts.append(
        "<footer>Generated by aanwas audit. Self-contained: no external resources, no scripts. "
        "Groups below the minimum cell size are shown as \u201ctoo few\u201d.</footer>"
    )
    return H.page(f"Fairness audit: {source}", "\n".join(parts))


# --------------------------------------------------------------------------------------------
# full model report (from aggregate artifacts only)
# --------------------------------------------------------------------------------------------


def _kv_table(d: Mapping[str, Any], caption: str = "") -> str:
    rows = [
        [str(k).replace("_", " "), H.fmt_num(v, 3) if not isinstance(v, (dict, list)) else str(v)] for k, v in d.items()
    ]
    return H.table(rows, ["item", "value"], caption=caption, text_columns=1)


def _performance_section(result: EvaluationResult, band: str) -> str:
    t = result.tables
    out = ["<h3>Performance</h3>"]
    perf = t.get(f"performance/{band}")
    if perf is not None and len(perf):
        models = list(dict.fromkeys(perf["model"]))
        metrics = list(dict.fromkeys(perf["metric"]))
        idx = perf.set_index(["model", "metric"])
        rows = []
        for metric in metrics:
            row = [metric.replace("_", " ")]
            for mdl in models:
                row.append(_ci(idx.loc[(mdl, metric)].to_dict()) if (mdl, metric) in idx.index else "n/a")
            rows.append(row)
        out.append(
            H.table(
                rows,
                ["metric", *models],
                caption=f"Band {band}: value (95% interval); ECE bias-corrected",
                text_columns=1,
            )
        )
    comp = t.get(f"performance_comparison/{band}")
    if comp is not None and len(comp):
        rows = [[r["baseline"], r["metric"], _ci(r, "difference")] for r in comp.to_dict("records")]
        out.append(
            H.table(
                rows,
                ["baseline", "metric", "model \u2212 baseline (95% interval)"],
                caption="Paired comparison with baselines",
                text_columns=2,
            )
        )
    fig = result.figures.get(f"calibration/{band}")
    if fig:
        out.append(H.img(fig, f"Calibration curve, band {band}"))
    cal = t.get(f"calibration/{band}")
    if cal is not None and len(cal):
        rows = []
        for r in cal.to_dict("records"):
            few = r["status"] != "ok"
            rows.append(
                [
                    str(r["bin"]),
                    f"{H.fmt_num(r['score_from'], 4)}\u2013{H.fmt_num(r['score_to'], 4)}",
                    TOO_FEW if few else H.fmt_num(int(r["n_persons"])),
                    TOO_FEW if few else _ci(r, "mean_predicted", "mean_predicted_lo", "mean_predicted_hi", 4),
                    TOO_FEW if few else _ci(r, "observed_rate", "observed_rate_lo", "observed_rate_hi", 4),
                ]
            )
        out.append(
            H.table(
                rows,
                ["bin", "score range", "n", "mean predicted", "observed rate"],
                caption="Calibration by bin",
                text_columns=2,
            )
        )
    return "\n".join(out)


def _fairness_section(result: EvaluationResult, band: str, cfg_summary: Mapping[str, Any]) -> str:
    t = result.tables
    groups = t.get(f"fairness_groups/{band}")
    metrics = t.get(f"fairness_metrics/{band}")
    if groups is None or metrics is None:
        return "<h3>Fairness</h3><p>Not evaluated.</p>"
    groups = groups.assign(group=groups["group"].astype(str))
    metrics = metrics.assign(group=metrics["group"].astype(str))
    refs = result.summary.get("fairness_references", {}).get(band, {})
    names = [m for m in dict.fromkeys(metrics["metric"])]
    out = ["<h3>Fairness</h3>"]
    overall = t.get(f"fairness_overall/{band}")
    if overall is not None:
        rows = [[METRIC_LABELS.get(r["metric"], r["metric"]), _ci(r)] for r in overall.to_dict("records")]
        out.append(H.table(rows, ["metric", "whole band (95% interval)"], text_columns=1))
    fig = result.figures.get(f"fairness/{band}")
    if fig:
        out.append(H.img(fig, f"Disparities of the priority metrics, band {band}"))
    for attribute in dict.fromkeys(groups["attribute"]):
        ref = str(refs.get(attribute, ""))
        out.append(f"<h4>By {H.esc(attribute)}</h4><p>Reference group: <b>{H.esc(ref)}</b>.</p>")
        out.append(_fairness_attribute_table(groups, metrics, attribute, names, ref))
    notes = result.summary.get("fairness_notes", {}).get(band, [])
    if notes:
        out.append("<ul>" + "".join(f"<li>{H.esc(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(out)


_INTENSITY_CAPTIONS = {
    "label_bias": "Label-bias sensitivity: observed label against the intensity-free alternative (counts of areas)",
    "registration_intensity": (
        "Registration intensity: all registrations of residents in the next year against the "
        "registrations the model expects from their own situation (counts of areas)"
    ),
}


def _intensity_block(result: EvaluationResult, kind: str, key: str, level: str) -> str:
    """Summary, truth comparison, figure and flagged areas of one label-bias or
    registration-intensity audit (empty when the audit did not run for ``key``)."""
    s = result.summary
    out: list[str] = []
    lb = s.get(kind, {}).get(key)
    if lb:
        shown = {k: v for k, v in lb.items() if k != "truth"}
        if isinstance(shown.get("p_threshold_over"), float):  # a small p-value cutoff: 2 significant digits
            shown["p_threshold_over"] = f"{shown['p_threshold_over']:.2g}"
        out.append(_kv_table(shown, caption=_INTENSITY_CAPTIONS[kind]))
        if lb.get("truth"):
            out.append(
                _kv_table(lb["truth"], caption="Flagged areas against the known enforcement truth (synthetic data)")
            )
        strata = result.tables.get(f"{kind}_power/{key}")
        if strata is not None and len(strata):
            ratio = H.fmt_num(lb.get("power_intensity_ratio", "n/a"), 2)
            rows = [
                [
                    str(r["stratum"]),
                    H.fmt_num(int(r["n_areas"])),
                    H.fmt_num(int(r["n_areas_truly_over_policed"])),
                    H.fmt_num(int(r["n_areas_flagged"])),
                    H.fmt_num(r["sensitivity"], 2),
                    H.fmt_num(r["false_discovery"], 2),
                    H.fmt_num(r["mean_power_truly_over_policed"], 2),
                ]
                for r in strata.to_dict("records")
            ]
            out.append(
                H.table(
                    rows,
                    ["power", "areas", "truly over-policed", "flagged", "sensitivity", "false discovery", "mean power"],
                    caption=f"Sensitivity by the audit's power to see an intensity of {ratio} (synthetic truth; "
                    "areas not shown count as missed)",
                    text_columns=1,
                )
            )
        fig = result.figures.get(f"{kind}/{key}")
        if fig:
            out.append(H.img(fig, f"Registration intensity per area, {level}"))
        flagged = result.tables.get(f"{kind}/{key}")
        if flagged is not None and len(flagged):
            f = flagged[flagged["registration"].isin(["over", "under"])].sort_values("area_code")
            if len(f):
                rows = [
                    [
                        r["area_code"],
                        r["registration"],
                        H.fmt_ci(
                            float(r["registration_intensity"]),
                            float(r["registration_intensity_lo"]),
                            float(r["registration_intensity_hi"]),
                            2,
                        ),
                    ]
                    for r in f.to_dict("records")
                ]
                out.append(
                    H.table(
                        rows,
                        ["area code", "registration", "relative intensity (95% interval)"],
                        caption="Areas whose registration intensity differs (in code order)",
                        text_columns=2,
                    )
                )
    return "\n".join(out)


def _stigma_section(result: EvaluationResult, band: str) -> str:
    s = result.summary
    out = ["<h3>Stigmatisation</h3>"]
    for key in s.get("area_keys", {}).get(band, []):
        level = key.split("/")[-1]
        out.append(f"<h4>Level: {H.esc(level)}</h4>")
        proxy = result.tables.get(f"proxy/{key}")
        if proxy is not None:
            rows = [
                [
                    r["predictors"],
                    H.fmt_num(int(r["n_predictors"])),
                    H.fmt_ci(float(r["r2"]), float(r["ci_lo"]), float(r["ci_hi"]), 2),
                    H.fmt_num(r["adjusted_r2"], 2),
                ]
                for r in proxy.to_dict("records")
            ]
            meta = s.get("proxy", {}).get(key, {})
            out.append(
                H.table(
                    rows,
                    ["predictors", "variables", "R\u00b2 (95% interval)", "adjusted R\u00b2"],
                    caption="Proxy test: share of between-area variance in predicted risk explained",
                    text_columns=1,
                )
                + f"<p>{H.esc(meta.get('n_areas', 'n/a'))} areas with at least the minimum cell size; "
                f"{H.esc(meta.get('n_areas_too_few', 'n/a'))} areas with too few persons left out.</p>"
            )
        elif key in s.get("proxy_skipped", {}):
            out.append(f"<p>Proxy test not run: {H.esc(s['proxy_skipped'][key])}</p>")
        out.append(_intensity_block(result, "label_bias", key, level))
        out.append(_intensity_block(result, "registration_intensity", key, level))
        rk = s.get("ranking", {}).get(key)
        if rk:
            out.append(
                _kv_table(rk, caption="Uncertainty of area positions (areas counted; no per-area ranks are shown)")
                + f"<p>An area is called elevated only when the 95% interval of its difference to the national "
                f"level lies above zero. A naive list of the {H.esc(rk.get('naive_list_length', ''))} areas with the "
                f"highest point estimates would contain {H.esc(rk.get('n_areas_naive_list_not_elevated', ''))} areas "
                "that are not elevated and miss "
                f"{H.esc(rk.get('n_areas_elevated_missing_from_naive_list', ''))} that are.</p>"
            )
            fig = result.figures.get(f"ranking/{key}")
            if fig:
                out.append(H.img(fig, f"Widths of rank intervals, {level}"))
    return "\n".join(out)


def _shap_section(result: EvaluationResult, band: str) -> str:
    imp = result.tables.get(f"shap_importance/{band}")
    if imp is None:
        return ""
    meta = result.summary.get("shap", {}).get(band, {})
    out = [
        "<h3>Explanations (SHAP)</h3>",
        f"<p>TreeExplainer on {H.esc(meta.get('n_persons', 'n/a'))} sampled persons; values in "
        f"{H.esc(meta.get('scale', 'log-odds'))}. Only aggregates are kept.</p>",
    ]
    fig = result.figures.get(f"shap/{band}")
    if fig:
        out.append(H.img(fig, f"Global importance, band {band}"))
    rows = [[r["feature"], _ci(r, "mean_abs_shap"), H.fmt_num(r["share"], 3)] for r in imp.to_dict("records")]
    out.append(
        H.table(rows, ["feature", "mean |SHAP| (95% interval)", "share"], caption="Global importance", text_columns=1)
    )
    dep = result.tables.get(f"shap_dependence/{band}")
    if dep is not None and len(dep):
        for feature in dict.fromkeys(dep["feature"]):
            d = dep[dep["feature"] == feature]
            rows = []
            for r in d.to_dict("records"):
                few = r["status"] != "ok"
                rows.append(
                    [
                        _bin_text(r),
                        TOO_FEW if few else H.fmt_num(int(r["n_persons"])),
                        TOO_FEW if few else _ci(r, "mean_shap"),
                    ]
                )
            out.append(
                H.table(
                    rows, ["values", "n", "mean SHAP (95% interval)"], caption=f"Dependence: {feature}", text_columns=1
                )
            )
    return "\n".join(out)


def _bin_text(r: Mapping[str, Any]) -> str:
    if str(r.get("bin")) == "missing":
        return "missing (not applicable)"
    lo, hi = float(r["value_from"]), float(r["value_to"])
    if math.isinf(lo) and math.isinf(hi):
        return "all values"
    if math.isinf(lo):
        return f"\u2264 {hi:g}"
    if math.isinf(hi):
        return f"> {lo:g}"
    return f"> {lo:g} and \u2264 {hi:g}"


def _model_card_section(card: Mapping[str, Any]) -> str:
    if not card:
        return ""
    out = ["<h2>Model card</h2>", f"<p><b>Intended use.</b> {H.esc(card.get('intended_use', ''))}</p>"]
    oos = card.get("out_of_scope", [])
    if oos:
        out.append("<p><b>Out of scope.</b></p><ul>" + "".join(f"<li>{H.esc(x)}</li>" for x in oos) + "</ul>")
    reg = card.get("algorithm_register", {})
    if reg:
        out.append(
            H.table(
                [[k.replace("_", " "), str(v)] for k, v in reg.items()],
                ["field", "content"],
                caption="Algorithm register (Algoritmeregister)",
                text_columns=2,
            )
        )
    for key, title in (
        ("outcome", "Outcome and horizon"),
        ("threshold", "Elevated threshold"),
        ("design_choices", "Design choices and reasons"),
    ):
        v = card.get(key)
        if v:
            out.append(
                H.table([[str(a), str(b)] for a, b in v.items()], ["item", "value"], caption=title, text_columns=2)
            )
    lim = card.get("limitations", [])
    if lim:
        out.append("<p><b>Limitations.</b></p><ul>" + "".join(f"<li>{H.esc(x)}</li>" for x in lim) + "</ul>")
    iama = card.get("iama", {})
    if iama:
        out.append(
            H.table(
                [[p, "; ".join(v)] for p, v in iama.items()],
                ["IAMA part", "where to find the evidence"],
                caption="Pointers for the IAMA",
                text_columns=2,
            )
        )
    return "\n".join(out)


def render_report(result: EvaluationResult, *, min_cell: int | None = None) -> str:
    """Self-contained HTML report of a model evaluation, rendered from aggregates only.

    Parameters
    ----------
    result : EvaluationResult
        As produced by :func:`evaluation.evaluate.evaluate_model` or read back with
        :func:`evaluation.result.from_artifacts`.
    min_cell : int, optional
        Minimum cell size to enforce on the tables (default: the one in the summary).

    Returns
    -------
    str
    """
    s = result.summary
    settings = s.get("settings", {})
    mc = int(min_cell if min_cell is not None else settings.get("min_cell_size", 10))
    check_aggregate_tables(result.tables, mc)
    model = s.get("model", {})
    version = model.get("version")
    if version in (None, "", "unregistered"):  # logged by training before the version exists
        title = f"Evaluation of {model.get('name', 'model')} (training run, before registration)"
        lead = (
            "<p>This is the evaluation as training logged it, before the model version was "
            "registered. Reviewers read the review pack of the registered version instead: "
            "<code>aanwas report --run-id RUN --out DIR</code> writes "
            "<code>DIR/&lt;model&gt;-v&lt;version&gt;/review_pack.html</code>.</p>"
        )
    else:
        title = f"Evaluation of {model.get('name', 'model')} version {version}"
        lead = ""
    parts = [f"<h1>{H.esc(title)}</h1>", lead]
    gate = s.get("gate", {})
    if gate:
        if gate.get("passed"):
            parts.append(H.note("<b>Promotion gate: passed.</b>", "pass"))
        else:
            items = "".join(f"<li>{H.esc(r)}</li>" for r in gate.get("reasons", []))
            parts.append(H.note(f"<b>Promotion gate: failed.</b><ul>{items}</ul>", "fail"))
        if gate.get("notes"):
            parts.append("<p>Not evaluated: " + H.esc("; ".join(gate["notes"])) + "</p>")
    parts.append(
        H.table(
            [
                ["run", str(model.get("run_id", ""))],
                ["bands", ", ".join(s.get("bands", []) or s.get("pooled_bands", []))],
                ["minimum cell size", str(mc)],
                ["intervals", str(settings.get("interval", ""))],
                ["tolerance band", str(settings.get("tolerance_band", ""))],
            ],
            ["setting", "value"],
            caption="About this evaluation",
            text_columns=2,
        )
    )
    if s.get("bands"):  # a pooled registration-intensity evaluation has no fairness part
        parts.append(_priority_block(settings.get("priority_metrics", list(PRIORITY_RATIONALE)[:3])))
    for band in s.get("bands", []):
        n = s.get("n_persons", {}).get(band, "n/a")
        thr = s.get("threshold", {}).get(band, "n/a")
        parts.append(
            f"<h2>Age band {H.esc(band)}</h2><p>{H.esc(H.fmt_num(n))} persons with a known outcome; "
            f"elevated = calibrated risk \u2265 {H.esc(H.fmt_num(thr, 4))}.</p>"
        )
        parts.append(_performance_section(result, band))
        parts.append(_fairness_section(result, band, settings))
        parts.append(_stigma_section(result, band))
        parts.append(_shap_section(result, band))
    pooled = [k for k in s.get("area_keys", {}) if k not in s.get("bands", [])]
    for key in pooled:
        parts.append(
            f"<h2>Label bias, {H.esc(key)} pooled</h2><p>Registration intensity is a property of the area, "
            "so the bands are pooled here for more events.</p>"
        )
        parts.append(_stigma_section(result, key))
    findings = s.get("league_findings", [])
    parts.append("<h2>Check for league tables</h2>")
    parts.append(
        "<p>No findings: no table or figure presents ranks or lists of areas by risk.</p>"
        if not findings
        else "<ul>" + "".join(f"<li>{H.esc(f)}</li>" for f in findings) + "</ul>"
    )
    notes = s.get("notes", [])
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{H.esc(x)}</li>" for x in notes) + "</ul>")
    parts.append(_model_card_section(result.model_card))
    parts.append(_definitions())
    parts.append(
        "<footer>Generated by aanwas from aggregate artifacts only. Self-contained: no external "
        "resources, no scripts. Groups and bins below the minimum cell size read \u201ctoo few\u201d.</footer>"
    )
    return H.page(title, "\n".join(parts))
