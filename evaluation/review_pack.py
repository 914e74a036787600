"""The review pack: one offline HTML document per registered model version, for ethics reviewers.

Reviewers and algorithm-register officers read it; they do not code. So the first page gives,
for every audit, in Dutch and English: what was tested, what was found, how sure that is, and
what it means for use and for the promotion gate; then the gate's verdict (per gate, failing
groups with numbers, next step, override with its recorded reason). The evidence follows
(performance and calibration, fairness, proxies, label bias, explanations, area-level checks),
then the model card (:mod:`evaluation.modelcard`) and the definitions.

Everything is rendered from aggregate artifacts only (an :class:`EvaluationResult` of the band
and, if present, the registration-intensity audit pooled over the bands). Numbers are rounded to
what their intervals support (:mod:`evaluation._numbers`); codes are shown as words; the model
name, version, training run and data fingerprint head every section and every printed page.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evaluation._cells import check_aggregate_tables
from evaluation._numbers import NOT_AVAILABLE, fmt_interval, fmt_value, round_interval
from evaluation.labels import ATTRIBUTE_LABELS, GROUP_LABELS
from evaluation.modelcard import family_text
from evaluation.result import EvaluationResult

# --------------------------------------------------------------------------------------------
# words for codes
# --------------------------------------------------------------------------------------------

#: Audit attribute -> Dutch words (the English ones are :data:`evaluation.labels.ATTRIBUTE_LABELS`).
_ATTRIBUTES_NL: Mapping[str, str] = {
    "sex": "geslacht",
    "migration_group": "migratieachtergrond",
    "income_group": "inkomensgroep van het huishouden",
    "single_parent": "eenoudergezin",
}

#: Audit attribute -> (Dutch, English).
ATTRIBUTES: Mapping[str, tuple[str, str]] = {a: (_ATTRIBUTES_NL.get(a, en), en) for a, en in ATTRIBUTE_LABELS.items()}

#: (attribute, group code) -> English words, from the one code book :mod:`evaluation.labels`;
#: groups not listed read as their code in words.
GROUPS: Mapping[tuple[str, str], str] = {
    (a, code): words for a, groups in GROUP_LABELS.items() for code, words in groups.items()
}

#: Metric code -> English words.
METRICS: Mapping[str, str] = {
    "selection_rate": "share marked elevated",
    "fpr": "false alarms (elevated without the outcome)",
    "fnr": "missed (outcome but not elevated)",
    "ppv": "precision (outcome among the elevated)",
    "auc": "ranking quality (AUC)",
    "calibration": "observed / expected (calibration)",
    "pr_auc": "precision-recall area",
    "brier": "Brier score (mean squared error of the risk)",
    "ece": "calibration error (ECE, percentage points)",
    "r2": "share explained (R\u00b2)",
    "precision": "precision (outcome among the elevated)",
    "recall": "recall (elevated among those with the outcome)",
    "prevalence": "observed rate of the outcome",
    "mean_predicted": "mean predicted risk",
}

#: Metrics that are shares (shown as percentages).
SHARE_METRICS = frozenset(
    {"selection_rate", "fpr", "fnr", "ppv", "precision", "recall", "prevalence", "mean_predicted", "ece"}
)

_AREA_LEVELS = {
    "gemeente": ("gemeenten", "municipalities (gemeenten)"),
    "wijk": ("wijken", "districts (wijken)"),
    "buurt": ("buurten", "neighbourhoods (buurten)"),
}

STATUS_TEXT: Mapping[str, tuple[str, str]] = {
    "pass": ("voldoet", "passes"),
    "fail": ("voldoet niet", "fails"),
    "attention": ("let op", "attention"),
    "not_judged": ("niet beoordeeld", "not judged"),
    "too_few": ("niet beoordeeld: te weinig gegevens", "not judged: too few"),
    "info": ("ter informatie", "for information"),
}

#: Gate names of the verdict's ``checks`` -> (Dutch, English).
GATES: Mapping[str, tuple[str, str]] = {
    "performance": ("prestaties", "performance"),
    "fairness": ("eerlijkheid tussen groepen", "fairness between groups"),
    "proxy": ("proxy-toets (herkomst)", "proxy test (origin)"),
    "label_bias": ("labelbias", "label bias"),
    "league": ("ranglijsten", "league tables"),
}

OUTCOMES: Mapping[str, tuple[str, str]] = {
    "pass": ("voldoet", "pass"),
    "fail": ("voldoet niet", "fail"),
    "too_few": ("te weinig gegevens", "too few data"),
    "cannot_judge": ("niet te beoordelen", "cannot judge"),
    "descriptive": ("ter informatie", "for information"),
}


def words(code: object) -> str:
    """A code as words (``buiten_europa`` -> ``buiten europa``)."""
    return str(code).replace("_", " ")


def attribute_text(attribute: str) -> str:
    """English words of an attribute or an intersection (``sex × income_group``)."""
    return " \u00d7 ".join(ATTRIBUTES.get(a.strip(), ("", words(a.strip())))[1] for a in str(attribute).split("\u00d7"))


def group_text(attribute: str, group: object) -> str:
    """English words of a group (intersections joined with ``×``)."""
    attrs = [a.strip() for a in str(attribute).split("\u00d7")]
    vals = [g.strip() for g in str(group).split("\u00d7")]
    if len(attrs) != len(vals):
        return words(group)
    parts = []
    for a, v in zip(attrs, vals, strict=True):
        v = _code(v)
        parts.append(GROUPS.get((a, v), f"{ATTRIBUTES.get(a, ('', words(a)))[1]} {words(v)}"))
    return " \u00d7 ".join(parts)


def _code(v: object) -> str:
    s = str(v)
    return s[:-2] if re.fullmatch(r"-?\d+\.0", s) else s


def metric_text(metric: str) -> str:
    return METRICS.get(metric, words(metric))


# --------------------------------------------------------------------------------------------
# identity of the model version
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PackIdentity:
    """What names the reviewed model version on every page.

    Attributes
    ----------
    name, version : str
        Registered model name and version (MLflow model registry).
    band : str
        Age band the model serves.
    run_id : str
        Training run (MLflow).
    fingerprint : str
        Hash of the training data (``data.table_sha256`` of the run); the first 12 characters
        are shown in headers, the whole hash in the identity table.
    n_rows : int or None
        Rows of the training feature table.
    decision : mapping
        The promotion decision recorded on the run (``decision``, ``reason``,
        ``override_reason``), as far as known.
    """

    name: str
    version: str
    band: str
    run_id: str
    fingerprint: str = ""
    n_rows: int | None = None
    decision: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12] if self.fingerprint else "unknown"

    @property
    def line(self) -> str:
        """One line for headers: ``aanwas-13-19 version 1 · run 73c9de67 · data 9115c13ef0bd``."""
        return (
            f"{self.name} version {self.version} \u00b7 training run {self.run_id[:8] or 'unknown'} "
            f"\u00b7 data {self.short_fingerprint}"
        )


# --------------------------------------------------------------------------------------------
# verdicts of the first page
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One audit on the first page, in Dutch and English."""

    key: str
    title: tuple[str, str]
    status: str
    tested: tuple[str, str]
    found: tuple[str, str]
    sure: tuple[str, str]
    means: tuple[str, str]

    @property
    def status_text(self) -> tuple[str, str]:
        return STATUS_TEXT[self.status]


def _nl(text: str) -> str:
    """Decimal comma for the Dutch text (thousands separator becomes a point)."""
    return re.sub(r"(?<=\d),(?=\d{3})", "\u2009", text).replace(".", ",").replace("\u2009", ".") if text else text


def _nl_numbers(text: str) -> str:
    """Decimal commas in the numbers of a Dutch sentence, leaving full stops alone."""
    return re.sub(r"\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+", lambda m: _nl(m.group(0)), text)


def _level_pct(settings: Mapping[str, Any]) -> int:
    level = settings.get("interval_level")
    if isinstance(level, (int, float)) and 0 < level < 1:
        return round(100 * float(level))
    m = re.match(r"\s*(\d+(?:\.\d+)?)%", str(settings.get("interval", "")))
    return round(float(m.group(1))) if m else 95


def _table(result: EvaluationResult, key: str) -> pd.DataFrame | None:
    t = result.tables.get(key)
    return t if t is not None and len(t) else None


def _row(df: pd.DataFrame | None, **match: Any) -> dict[str, Any] | None:
    if df is None:
        return None
    m = pd.Series(True, index=df.index)
    for k, v in match.items():
        m &= df[k].astype(str) == str(v)
    rows = df[m].to_dict("records")
    return rows[0] if rows else None


def _ok(row: Mapping[str, Any] | None, value: str = "value") -> bool:
    if row is None or row.get("status", "ok") != "ok":
        return False
    v = row.get(value)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _ci(
    row: Mapping[str, Any], value: str = "value", lo: str = "ci_lo", hi: str = "ci_hi", percent: bool = False
) -> str:
    return fmt_interval(row.get(value), row.get(lo), row.get(hi), percent=percent)


def _performance_verdict(
    result: EvaluationResult, band: str, gate_checks: Sequence[Mapping[str, Any]], level: int, ident: PackIdentity
) -> Verdict:
    perf = _table(result, f"performance/{band}")
    auc = _row(perf, model="model", metric="auc")
    prev = _row(perf, model="model", metric="prevalence")
    mean = _row(perf, model="model", metric="mean_predicted")
    tested = (
        "Hoe goed de risicoscore jongeren met en zonder latere registratie van elkaar onderscheidt "
        "(AUC) en of het voorspelde risico gemiddeld klopt met wat werd waargenomen (kalibratie), "
        "op de testperiode die het model niet zag.",
        "How well the risk score separates young people who were later registered from those who "
        "were not (AUC), and whether the predicted risk matches what was observed on average "
        "(calibration), on the test period the model did not see.",
    )
    if not _ok(auc):
        return Verdict(
            "performance",
            ("Prestaties en kalibratie", "Performance and calibration"),
            "not_judged",
            tested,
            ("Niet beschikbaar in deze evaluatie.", "Not available in this evaluation."),
            ("\u2014", "\u2014"),
            ("Zonder deze cijfers geen oordeel.", "Without these figures, no judgement."),
        )
    assert auc is not None  # _ok() is False for None
    a = round_interval(auc["value"], auc["ci_lo"], auc["ci_hi"])
    cal_en = cal_nl = ""
    if prev is not None and mean is not None and _ok(prev) and _ok(mean):
        p_txt = _ci(prev, percent=True)
        m_txt = fmt_interval(mean["value"], mean["ci_lo"], mean["ci_hi"], percent=True)
        cal_en = f" Mean predicted risk {m_txt}; observed rate {p_txt}."
        cal_nl = f" Gemiddeld voorspeld risico {_nl(m_txt)}; waargenomen {_nl(p_txt)}."
    pct = round_interval(auc["value"] * 100, auc["ci_lo"] * 100, auc["ci_hi"] * 100).estimate
    found = (
        f"AUC {_nl(str(a))}: een jongere die later geregistreerd werd, heeft in ongeveer {_nl(pct)} % van de "
        f"vergelijkingen een hogere score dan een die dat niet werd.{cal_nl}",
        f"AUC {a}: a young person who was later registered scores higher than one who was not in about "
        f"{pct}% of comparisons.{cal_en}",
    )
    family = family_text((result.summary.get("gate") or {}).get("model_family"))
    if family is not None:  # which model family is this band's model, and why
        found = (f"{found[0]} {family[0]}", f"{found[1]} {family[1]}")
    checks = [c for c in gate_checks if c.get("gate") == "performance"]
    status = _status_of(checks) if checks else "info"
    dec = ident.decision
    # the registry's decision and its reason ("initial" / "no champion yet": the first version
    # became champion because there was none to compare with)
    decision_words = {
        "initial": "promoted as the first champion",
        "promoted": "promoted",
        "rejected": "not promoted",
        "override-promoted": "promoted by a reviewer override",
    }
    what = decision_words.get(str(dec.get("decision", "")), "")
    why = str(dec.get("reason") or "")
    if what == decision_words["initial"] and why == "no champion yet":
        why = "there was no champion to compare with"
    gate_en = f" Promotion: {'; '.join(x for x in (what, why) if x)}." if (what or why) else ""
    means = (
        "Het model ordent groepen jongeren redelijk, maar voorspelt geen individuen: de meeste jongeren met een "
        "hoge score worden nooit verdachte. Alleen gebruiken voor gebiedscijfers."
        + (
            " Poort: zie de tabel hieronder."
            if checks
            else " Prestaties zijn geen eigen poort; de vergelijking met het huidige model beslist over promotie."
        ),
        "The model orders groups of young people reasonably but does not predict individuals: most young people "
        "with a high score never become a suspect. Use for area figures only."
        + (
            " Gate: see the table below."
            if checks
            else " Performance is not a gate of its own; the comparison with the current model decides promotion."
        )
        + gate_en,
    )
    sure = (
        f"{level}%-intervallen (bootstrap over personen). De breedte van het interval laat zien hoe zeker het cijfer "
        "is.",
        f"{level}% intervals (bootstrap over persons). The width of the interval shows how sure the figure is.",
    )
    return Verdict(
        "performance", ("Prestaties en kalibratie", "Performance and calibration"), status, tested, found, sure, means
    )


def _status_of(checks: Sequence[Mapping[str, Any]]) -> str:
    outcomes = {str(c.get("outcome")) for c in checks}
    if "fail" in outcomes:
        return "fail"
    if outcomes & {"too_few", "cannot_judge"}:
        return "not_judged" if not (outcomes & {"pass"}) else "attention"
    if "pass" in outcomes:
        return "pass"
    return "info"


def _failing_groups(
    gate_checks: Sequence[Mapping[str, Any]], metrics: pd.DataFrame, gate_metrics: list[str]
) -> tuple[list[Any], list[str], int]:
    """The failing fairness checks (from the gate's checks, else the gated metrics outside the
    band), their description and how many groups could not be judged."""
    checks = [c for c in gate_checks if c.get("gate") == "fairness"]
    failing: list[Any]
    if checks:
        failing = [c for c in checks if c.get("outcome") == "fail"]
        fail_txt = [
            f"{group_text(str(c.get('attribute') or ''), c.get('group') or '')}: {metric_text(str(c.get('metric')))} "
            f"{fmt_interval(c.get('estimate'), c.get('lo'), c.get('hi'))}"
            for c in failing
        ]
        n_few = sum(1 for c in checks if c.get("outcome") in ("too_few", "cannot_judge"))
    else:
        bad = metrics[metrics["metric"].isin(gate_metrics) & (metrics["verdict"] == "outside")]
        fail_txt = [
            f"{group_text(r['attribute'], r['group'])}: {metric_text(r['metric'])} "
            f"{fmt_interval(r['disparity'], r['disparity_lo'], r['disparity_hi'])}"
            for r in bad.to_dict("records")
        ]
        failing = fail_txt
        n_few = int((metrics["metric"].isin(gate_metrics) & (metrics["status"] != "ok")).sum())
    return failing, fail_txt, n_few


def _fairness_too_few(
    title: tuple[str, str], tested: tuple[str, str], n_few: int, settings: Mapping[str, Any]
) -> Verdict:
    """The fairness verdict when every gated group is below the minimum cell size: not judged,
    never "passed"."""
    return Verdict(
        "fairness",
        title,
        "too_few",
        tested,
        (
            f"Geen enkele groep had genoeg personen voor een oordeel ({n_few} groepen te weinig).",
            f"No group had enough persons to judge ({n_few} groups too few).",
        ),
        (
            "Een groep wordt pas beoordeeld als haar aantallen de minimale celgrootte "
            f"({fmt_value(settings.get('min_cell_size'))}) halen.",
            "A group is judged only when its counts reach the minimum cell size "
            f"({fmt_value(settings.get('min_cell_size'))}).",
        ),
        (
            "Niets gezegd over groepen: niet in gebruik nemen op grond van deze toets; evalueer op meer gegevens.",
            "Nothing is said about groups: this audit is no ground for use; evaluate on more data.",
        ),
    )


def _fairness_verdict(
    result: EvaluationResult,
    band: str,
    settings: Mapping[str, Any],
    gate_checks: Sequence[Mapping[str, Any]],
    level: int,
) -> Verdict:
    title = ("Eerlijkheid tussen groepen", "Fairness between groups")
    g = settings.get("gate", {})
    gate_metrics = list(g.get("fairness_metrics", ["calibration"]))
    tol = settings.get("tolerance", [0.8, 1.25])
    lo_t, hi_t = fmt_value(tol[0]), fmt_value(tol[1])
    tested = (
        "Of het voorspelde risico voor elke groep even goed klopt (waargenomen gedeeld door verwacht, per groep: "
        "geslacht, migratieachtergrond, inkomen, eenoudergezin en hun combinaties), met tolerantieband "
        f"{_nl(lo_t)}\u2013{_nl(hi_t)}. "
        "Foutpercentages per groep worden ook getoond, maar zijn geen poort.",
        "Whether the predicted risk is equally right for every group (observed divided by expected, per group: sex, "
        "migration background, income, single-parent household and their combinations), with tolerance band "
        f"{lo_t}\u2013{hi_t}. "
        "Error rates per group are shown too but are not a gate.",
    )
    metrics = _table(result, f"fairness_metrics/{band}")
    if metrics is None:
        return Verdict(
            "fairness",
            title,
            "not_judged",
            tested,
            ("Niet uitgevoerd.", "Not run."),
            ("\u2014", "\u2014"),
            ("Zonder deze toets geen oordeel over groepen.", "Without this audit, no judgement about groups."),
        )
    failing, fail_txt, n_few = _failing_groups(gate_checks, metrics, gate_metrics)
    gated = metrics[metrics["metric"].isin(gate_metrics)]
    n_groups = int(gated[gated["status"] == "ok"].shape[0])
    n_uncertain = int((gated["verdict"] == "uncertain").sum())
    other_out = metrics[~metrics["metric"].isin(gate_metrics) & (metrics["verdict"] == "outside")]
    sel_out = other_out[other_out["metric"].isin(["selection_rate", "fnr", "fpr"])]
    allowed = int(g.get("max_outside", 0))
    status = "fail" if len(failing) > allowed else ("attention" if n_uncertain else "pass")
    if status != "fail" and n_groups == 0:  # every gated group too few: nothing judged, nothing passed
        return _fairness_too_few(title, tested, n_few, settings)
    if failing:
        shown = "; ".join(fail_txt[:4]) + (f" (+{len(fail_txt) - 4})" if len(fail_txt) > 4 else "")
        found_en = f"Calibration differs clearly for {len(failing)} of {n_groups} groups: {shown}."
        found_nl = f"De kalibratie wijkt duidelijk af voor {len(failing)} van {n_groups} groepen: {_nl_numbers(shown)}."
    else:
        found_en = f"For all {n_groups} groups with enough data the predicted risk is right within the tolerance band."
        found_nl = (
            f"Voor alle {n_groups} groepen met genoeg gegevens klopt het voorspelde risico binnen de tolerantieband."
        )
    if n_uncertain:
        found_en += f" For {n_uncertain} groups the interval reaches outside the band (too little data to tell)."
        found_nl += (
            f" Bij {n_uncertain} groepen reikt het interval buiten de band (te weinig gegevens om het te zeggen)."
        )
    if len(sel_out):
        found_en += (
            f" As expected when base rates differ, the share marked elevated and the error rates differ between "
            f"groups ({len(sel_out)} clear differences; see the evidence)."
        )
        found_nl += (
            " Zoals te verwachten bij verschillende basiskansen verschillen het aandeel 'verhoogd' en de "
            "foutpercentages "
            f"tussen groepen ({len(sel_out)} duidelijke verschillen; zie het bewijs)."
        )
    sure = (
        f"Een verschil telt pas als het hele {level}%-interval buiten de band ligt. {n_few} groepen hadden te weinig "
        "personen voor een oordeel.",
        f"A difference counts only when the whole {level}% interval lies outside the band. {n_few} groups had too few "
        "persons to judge.",
    )
    if status == "fail":
        means = (
            "Gebiedscijfers zijn vertekend waar deze groepen wonen. Poort: niet gehaald; niet in gebruik nemen "
            "zonder herkalibratie of een vastgelegde afweging.",
            "Area figures are biased where these groups live. Gate: failed; do not use without recalibration or a "
            "recorded override.",
        )
    else:
        means = (
            "Een gebiedscijfer betekent hetzelfde ongeacht wie er woont. Poort: gehaald. Het aandeel 'verhoogd' mag "
            "niet "
            "gebruikt worden om groepen te selecteren.",
            "An area figure means the same whoever lives there. Gate: passed. The share marked elevated must not be "
            "used "
            "to select groups.",
        )
    return Verdict("fairness", title, status, tested, (found_nl, found_en), sure, means)


def _proxy_verdict(
    result: EvaluationResult,
    band: str,
    settings: Mapping[str, Any],
    gate_checks: Sequence[Mapping[str, Any]],
    level: int,
) -> Verdict:
    title = ("Proxy voor herkomst", "Proxy for origin")
    g = settings.get("gate", {})
    limit = fmt_value(g.get("proxy_r2_max", 0.5))
    min_areas = int(g.get("proxy_min_areas", 20))
    block = str(g.get("proxy_block", "origin groups"))
    tested = (
        "Of het gebiedsrisico vooral de herkomst van de bewoners weerspiegelt: welk deel van de verschillen tussen "
        f"gebieden de samenstelling naar herkomst verklaart (R\u00b2, grens {_nl(limit)} op de ondergrens).",
        "Whether area risk mostly mirrors where residents' families come from: the share of the differences between "
        f"areas explained by the composition by origin (R\u00b2, limit {limit} on the lower bound).",
    )
    parts_en, parts_nl, statuses = [], [], []
    for key in result.summary.get("area_keys", {}).get(band, []):
        lvl = key.split("/")[-1]
        row = _row(_table(result, f"proxy/{key}"), predictors=block)
        meta = result.summary.get("proxy", {}).get(key, {})
        n_areas = meta.get("n_areas")
        if row is None:
            continue
        txt = fmt_interval(row["r2"], row["ci_lo"], row["ci_hi"])
        parts_en.append(f"{_AREA_LEVELS.get(lvl, (lvl, lvl))[1]}: R\u00b2 {txt} over {fmt_value(n_areas)} areas")
        parts_nl.append(
            f"{_AREA_LEVELS.get(lvl, (lvl, lvl))[0]}: R\u00b2 {_nl(txt)} over {fmt_value(n_areas)} gebieden"
        )
        if isinstance(n_areas, int) and n_areas < min_areas:
            statuses.append("not_judged")
        elif float(row["ci_lo"]) > float(g.get("proxy_r2_max", 0.5)):
            statuses.append("fail")
        else:
            statuses.append("pass")
    checks = [c for c in gate_checks if c.get("gate") == "proxy"]
    status = (
        _status_of(checks)
        if checks
        else ("fail" if "fail" in statuses else "pass" if "pass" in statuses else "not_judged")
    )
    if not parts_en:
        return Verdict(
            "proxy",
            title,
            "not_judged",
            tested,
            ("Niet uitgevoerd.", "Not run."),
            ("\u2014", "\u2014"),
            ("Geen oordeel over proxies.", "No judgement about proxies."),
        )
    found = ("; ".join(parts_nl) + ".", "; ".join(parts_en) + ".")
    sure = (
        f"{level}%-intervallen; alleen gebieden met genoeg jongeren tellen mee (minstens {min_areas} gebieden nodig "
        "voor een oordeel).",
        f"{level}% intervals; only areas with enough young people count (at least {min_areas} areas needed to judge).",
    )
    means = (
        (
            "Het risico volgt de herkomst te sterk: poort niet gehaald."
            if status == "fail"
            else "Herkomst verklaart een beperkt deel van de verschillen: poort gehaald. Inkomen verklaart meer; "
            "dat is verwacht en wordt ter vergelijking getoond."
        ),
        (
            "Risk follows origin too closely: gate failed."
            if status == "fail"
            else "Origin explains a limited part of the differences: gate passed. Income explains more; that is "
            "expected and shown for contrast."
        ),
    )
    return Verdict("proxy", title, status, tested, found, sure, means)


def _bias_verdict(result: EvaluationResult, pooled: EvaluationResult | None, band: str, level: int) -> Verdict:
    title = ("Labelbias en registratie-intensiteit", "Label bias and registration intensity")
    tested = (
        "Of de uitkomst (een politieregistratie, geen misdrijf) in sommige gebieden vaker wordt vastgelegd dan het "
        "model verwacht op grond van de situatie van de bewoners: teken van extra handhaving, niet van extra risico.",
        "Whether the outcome (a police registration, not a crime) is recorded more often in some areas than the model "
        "expects from the residents' situation: a sign of extra enforcement, not of extra risk.",
    )
    lb = result.summary.get("label_bias", {})
    src = pooled if pooled is not None else result
    ri = src.summary.get("registration_intensity", {})
    parts_en, parts_nl = [], []
    for key, s in ri.items():
        lvl = key.split("/")[-1]
        n_over, n_areas = s.get("n_areas_over_registered"), s.get("n_areas")
        n_pow, n_aud = s.get("n_areas_powered"), s.get("n_areas_auditable")
        ratio = fmt_value(s.get("power_intensity_ratio", 2.0))
        parts_en.append(
            f"{_AREA_LEVELS.get(lvl, (lvl, lvl))[1]}: {fmt_value(n_over)} of {fmt_value(n_areas)} tested areas "
            "registered "
            f"more than expected; only {fmt_value(n_pow)} of {fmt_value(n_aud)} areas have the data to see a "
            f"{ratio}-fold intensity"
        )
        parts_nl.append(
            f"{_AREA_LEVELS.get(lvl, (lvl, lvl))[0]}: {fmt_value(n_over)} van {fmt_value(n_areas)} getoetste "
            "gebieden vaker "
            f"geregistreerd dan verwacht; slechts {fmt_value(n_pow)} van {fmt_value(n_aud)} gebieden hebben genoeg "
            "gegevens om een "
            f"{_nl(ratio)} keer zo hoge intensiteit te zien"
        )
    lb_en = lb_nl = ""
    if not lb:
        lb_en = (
            " The label-bias sensitivity (an alternative, intensity-free label) was not run: no alternative label "
            "was given."
        )
        lb_nl = (
            " De labelbias-gevoeligheidsanalyse (een alternatief label zonder handhavingseffect) is niet uitgevoerd: "
            "er was geen alternatief label."
        )
    if not parts_en:
        return Verdict(
            "label_bias",
            title,
            "not_judged",
            tested,
            ("Niet uitgevoerd." + lb_nl, "Not run." + lb_en),
            ("\u2014", "\u2014"),
            ("Geen oordeel over labelbias.", "No judgement about label bias."),
        )
    found = ("; ".join(parts_nl) + "." + lb_nl, "; ".join(parts_en) + "." + lb_en)
    sure = (
        "Exacte Poisson-toetsen met controle op vals-positieven (Benjamini-Hochberg). Weinig gebieden hebben genoeg "
        "registraties: 'niet gevonden' is dus geen bewijs dat er geen extra handhaving is.",
        "Exact Poisson tests with false-discovery control (Benjamini-Hochberg). Few areas have enough registrations: "
        "'not found' is therefore no evidence that there is no extra enforcement.",
    )
    means = (
        "Geen poort (de toets kan te weinig zien). Lees hoge gebiedscijfers altijd met de kanttekening dat "
        "registraties "
        "ook handhaving weerspiegelen; gebruik ze nooit om handhaving te sturen.",
        "Not a gate (the test can see too little). Always read high area figures with the caveat that registrations "
        "also reflect enforcement; never use them to direct enforcement.",
    )
    return Verdict("label_bias", title, "attention" if lb == {} else "info", tested, found, sure, means)


def _areas_verdict(
    result: EvaluationResult, band: str, gate_checks: Sequence[Mapping[str, Any]], level: int
) -> Verdict:
    title = ("Gebieden en ranglijsten", "Areas and league tables")
    tested = (
        "Welke gebieden 'verhoogd' heten (alleen als de ondergrens van het interval boven het landelijke niveau ligt, "
        "dezelfde regel als in de exports en het dashboard), wat een naïeve top-10 fout zou doen, en of ergens een "
        "ranglijst van gebieden staat.",
        "Which areas are called elevated (only when the lower bound of the interval lies above the national level, the "
        "same rule as in the exports and the dashboard), what a naive top 10 would get wrong, and whether any output "
        "ranks areas.",
    )
    parts_en, parts_nl = [], []
    for key, rk in result.summary.get("ranking", {}).items():
        if not key.startswith(f"{band}/"):
            continue
        lvl = key.split("/")[-1]
        nl_l, en_l = _AREA_LEVELS.get(lvl, (lvl, lvl))
        parts_en.append(
            f"{en_l}: {fmt_value(rk.get('n_areas_elevated'))} of {fmt_value(rk.get('n_areas'))} elevated; a naive top "
            f"{fmt_value(rk.get('naive_list_length'))} would hold "
            f"{fmt_value(rk.get('n_areas_naive_list_not_elevated'))} "
            "areas that are not elevated"
        )
        parts_nl.append(
            f"{nl_l}: {fmt_value(rk.get('n_areas_elevated'))} van {fmt_value(rk.get('n_areas'))} verhoogd; een "
            "naïeve top "
            f"{fmt_value(rk.get('naive_list_length'))} zou {fmt_value(rk.get('n_areas_naive_list_not_elevated'))} "
            "gebieden "
            "bevatten die niet verhoogd zijn"
        )
    findings = result.summary.get("league_findings", [])
    checks = [c for c in gate_checks if c.get("gate") == "league"]
    status = "fail" if findings else "pass"
    if checks:
        status = _status_of(checks)
    league_en = " No output ranks areas." if not findings else f" {len(findings)} outputs rank areas."
    league_nl = (
        " Geen enkele uitvoer rangschikt gebieden."
        if not findings
        else f" {len(findings)} uitvoer rangschikt gebieden."
    )
    found = (
        ("; ".join(parts_nl) + "." if parts_nl else "") + league_nl,
        ("; ".join(parts_en) + "." if parts_en else "") + league_en,
    )
    sure = (
        f"{level}%-intervallen. De plaats van een gebied in een lijst is zeer onzeker; daarom worden geen rangen "
        "getoond.",
        f"{level}% intervals. An area's place in a list is very uncertain; that is why no ranks are shown.",
    )
    means = (
        "Gebruik alleen het label 'verhoogd', nooit een volgorde. Poort (ranglijsten): " + STATUS_TEXT[status][0] + ".",
        "Use only the label 'elevated', never an order. Gate (league tables): " + STATUS_TEXT[status][1] + ".",
    )
    return Verdict("areas", title, status, tested, found, sure, means)


# --------------------------------------------------------------------------------------------
# the gate verdict
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GateView:
    """The promotion gate's verdict, ready to show (tolerates the verdict without ``checks``)."""

    passed: bool | None
    reasons: list[str]
    notes: list[str]
    rows: list[dict[str, str]]
    next_step: tuple[str, str]
    override: tuple[str, str] | None
    decision: str


_GATE_REASON = re.compile(r"(\w+)=([^\s:;,()]+)")


def _readable(text: str) -> str:
    """A reason line of the gate with codes turned into words (``fnr of income_group=1``)."""

    def one(m: re.Match[str]) -> str:
        return group_text(m.group(1), m.group(2))

    out = _GATE_REASON.sub(one, str(text))
    for code, label in METRICS.items():
        out = re.sub(rf"\b{code}\b", label, out)
    return words(out) if "_" in out else out


def gate_view(gate: Mapping[str, Any] | None, decision: Mapping[str, str]) -> GateView:
    """Rows of the gate table from a verdict dict (``checks`` if present) and the promotion decision."""
    gate = dict(gate or {})
    rows = []
    checks = list(gate.get("checks", []) or [])

    # descriptive comparisons never reject: the first page counts them, the evidence lists them
    def descriptive(c: Mapping[str, Any]) -> bool:
        return c.get("outcome") == "descriptive" or c.get("gating") is False

    n_descriptive = sum(1 for c in checks if descriptive(c))
    n_passed = sum(1 for c in checks if not descriptive(c) and c.get("outcome") == "pass")
    for c in checks:
        if descriptive(c) or c.get("outcome") == "pass":  # the first page lists what did not pass
            continue
        name = str(c.get("gate", ""))
        who = ""
        if c.get("attribute"):
            who = (
                group_text(str(c["attribute"]), c.get("group") or "")
                if c.get("group")
                else attribute_text(str(c["attribute"]))
            )
        rows.append(
            {
                "gate": GATES.get(name, (words(name), words(name)))[1],
                "who": who or "whole band",
                "metric": metric_text(str(c.get("metric", ""))),
                "estimate": fmt_interval(c.get("estimate"), c.get("lo"), c.get("hi")),
                "threshold": _readable(str(c.get("threshold", ""))),
                "p": "" if c.get("p_adjusted") is None else fmt_value(c.get("p_adjusted"), 2),
                "outcome": OUTCOMES.get(str(c.get("outcome")), (words(c.get("outcome")), words(c.get("outcome"))))[1],
                "outcome_class": str(c.get("outcome", "")),
                "explanation": str(c.get("explanation", "")),
            }
        )
    passed = gate.get("passed")
    passed = None if passed is None else bool(passed)
    override = None
    ov = gate.get("override")
    if isinstance(ov, Mapping) and ov.get("reason"):
        override = (str(ov.get("reason")), str(ov.get("by", "")))
    elif decision.get("override_reason"):
        override = (str(decision["override_reason"]), "")
    if gate.get("next_step"):
        step = str(gate["next_step"])
        next_step = (step, step)
    elif passed is None:
        next_step = (
            "De poort is niet uitgevoerd: train opnieuw met de evaluatiepoorten aan (de standaardinstelling).",
            "The gate did not run: train again with the evaluation gates on (the default setting).",
        )
    elif passed:
        next_step = (
            "De poort is gehaald. Een ethisch beoordelaar leest dit pakket en tekent af vóór gebruik; de "
            "vergelijking met "
            "het huidige model beslist over promotie.",
            "The gate passed. An ethics reviewer reads this pack and signs off before use; the comparison with the "
            "current model decides promotion.",
        )
    else:
        next_step = (
            "Niet in gebruik nemen. Los de niet-gehaalde toetsen op en train opnieuw, of leg een afweging vast met "
            "reden "
            '(aanwas train --override promote --override-reason "...").',
            "Do not use. Resolve the failing audits and retrain, or record an override with its reason "
            '(aanwas train --override promote --override-reason "...").',
        )
    return GateView(
        passed=passed,
        reasons=[_readable(r) for r in gate.get("reasons", [])],
        notes=[_readable(n) for n in gate.get("notes", [])]
        + ([f"{n_passed} checks of the gate passed (their figures are in the evidence)"] if n_passed else [])
        + (
            [
                f"{n_descriptive} descriptive comparisons (groups and combinations that do not gate) "
                "are reported in the fairness evidence; they never reject a model"
            ]
            if n_descriptive
            else []
        ),
        rows=rows,
        next_step=next_step,
        override=override,
        decision=str(decision.get("decision", "")),
    )


# --------------------------------------------------------------------------------------------
# evidence
# --------------------------------------------------------------------------------------------


def _img(png: bytes | None) -> str:
    return "" if not png else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _performance_rows(result: EvaluationResult, band: str) -> tuple[list[str], list[list[str]]]:
    perf = _table(result, f"performance/{band}")
    if perf is None:
        return [], []
    models = list(dict.fromkeys(perf["model"].astype(str)))
    idx = {(str(r["model"]), str(r["metric"])): r for r in perf.to_dict("records")}
    rows = []
    for metric in dict.fromkeys(perf["metric"].astype(str)):
        row = [metric_text(metric)]
        for mdl in models:
            r = idx.get((mdl, metric))
            row.append("not available" if r is None or not _ok(r) else _ci(r, percent=metric in SHARE_METRICS))
        rows.append(row)
    names = {"model": "this model", "lgbm": "this model"}
    return ["measure", *[names.get(m, f"baseline: {words(m)}") for m in models]], rows


def _calibration_rows(result: EvaluationResult, band: str) -> list[list[str]]:
    cal = _table(result, f"calibration/{band}")
    if cal is None:
        return []
    rows = []
    for r in cal.to_dict("records"):
        few = r.get("status") != "ok"
        rows.append(
            [
                fmt_value(r["bin"]),
                f"{fmt_value(r['score_from'] * 100, 2)}\u2013{fmt_value(r['score_to'] * 100, 2)} %",
                "too few" if few else fmt_value(r["n_persons"]),
                "too few" if few else _ci(r, "mean_predicted", "mean_predicted_lo", "mean_predicted_hi", percent=True),
                "too few" if few else _ci(r, "observed_rate", "observed_rate_lo", "observed_rate_hi", percent=True),
            ]
        )
    return rows


def _fairness_tables(result: EvaluationResult, band: str, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    groups = _table(result, f"fairness_groups/{band}")
    metrics = _table(result, f"fairness_metrics/{band}")
    if groups is None or metrics is None:
        return []
    shown = [m for m in ("calibration", "selection_rate", "fnr", "fpr") if m in set(metrics["metric"])]
    refs = result.summary.get("fairness_references", {}).get(band, {})
    out = []
    verdict_words = {
        "within": "within band",
        "outside": "outside band",
        "uncertain": "uncertain",
        "reference": "reference",
        "too few": "too few",
    }
    for attribute in dict.fromkeys(groups["attribute"].astype(str)):
        g = groups[groups["attribute"].astype(str) == attribute]
        m = metrics[metrics["attribute"].astype(str) == attribute]
        idx = {(str(_code(r["group"])), str(r["metric"])): r for r in m.to_dict("records")}
        rows = []
        for r in g.to_dict("records"):
            code = _code(r["group"])
            label = group_text(attribute, code) + (
                " (reference)" if str(_code(refs.get(attribute, ""))) == code else ""
            )
            if r.get("status") != "ok":
                rows.append(
                    {"cells": [label, "too few"] + ["too few"] * len(shown), "classes": [""] * (2 + len(shown))}
                )
                continue
            cells, classes = [label, fmt_value(r["n_persons"])], ["", ""]
            for metric in shown:
                x = idx.get((code, metric))
                if x is None or x.get("status") != "ok" or not _ok(x):
                    cells.append("too few")
                    classes.append("few")
                    continue
                text = _ci(x, percent=metric in SHARE_METRICS)
                verdict = str(x.get("verdict", ""))
                if x.get("comparison") in (
                    "ratio to reference",
                    "observed / expected within group",
                ) and verdict not in ("reference", "none", ""):
                    if x.get("comparison") == "ratio to reference":
                        d = fmt_interval(x.get("disparity"), x.get("disparity_lo"), x.get("disparity_hi"))
                        text += f" \u00b7 ratio {d}"
                    text += f" \u00b7 {verdict_words.get(verdict, words(verdict))}"
                cells.append(text)
                classes.append(f"v-{verdict}" if verdict in ("within", "outside", "uncertain") else "")
            rows.append({"cells": cells, "classes": classes})
        out.append(
            {
                "title": attribute_text(attribute),
                "reference": group_text(attribute, _code(refs.get(attribute, "")))
                if attribute in refs
                else "largest group",
                "header": ["group", "persons", *[metric_text(x) for x in shown]],
                "rows": rows,
                "intersection": "\u00d7" in attribute,
            }
        )
    return out


def _intersections(result: EvaluationResult, band: str) -> dict[str, Any]:
    """Calibration of combinations of two groups: counts, and the rows not clearly within the band."""
    groups = _table(result, f"fairness_groups/{band}")
    metrics = _table(result, f"fairness_metrics/{band}")
    empty: dict[str, Any] = {"n_judged": 0, "n_few": 0, "rows": []}
    if groups is None or metrics is None:
        return empty
    m = metrics[metrics["attribute"].astype(str).str.contains("\u00d7") & (metrics["metric"] == "calibration")]
    ok = m[m["status"] == "ok"]
    n = {(str(r["attribute"]), str(r["group"])): r["n_persons"] for r in groups.to_dict("records")}
    rows = []
    for r in ok[ok["verdict"].isin(["outside", "uncertain"])].to_dict("records"):
        verdict = "outside band" if r["verdict"] == "outside" else "uncertain"
        rows.append(
            {
                "cells": [
                    group_text(str(r["attribute"]), r["group"]),
                    fmt_value(n.get((str(r["attribute"]), str(r["group"])))),
                    fmt_interval(r["value"], r["ci_lo"], r["ci_hi"]),
                    verdict,
                ],
                "classes": ["", "", f"v-{r['verdict']}", ""],
            }
        )
    return {"n_judged": int(len(ok)), "n_few": int(len(m) - len(ok)), "rows": rows}


def _fairness_figure(result: EvaluationResult, band: str, settings: Mapping[str, Any], dpi: int) -> bytes | None:
    metrics = _table(result, f"fairness_metrics/{band}")
    if metrics is None:
        return None
    from evaluation._plots import plot_disparities

    single = tuple(a for a in dict.fromkeys(metrics["attribute"].astype(str)) if "\u00d7" not in a)
    tol = settings.get("tolerance", [0.8, 1.25])
    m = metrics.assign(group=metrics["group"].map(_code))
    return plot_disparities(
        m,
        title="Is the risk equally right for every group? (observed / expected)",
        band=(float(tol[0]), float(tol[1])),
        dpi=dpi,
        metric_names=("calibration",),
        attributes=single,
        label_of=lambda metric, attribute, group: group_text(attribute, group),
        xlabel="observed / expected outcomes (1 = the risk is right for the group)",
    )


_PROXY_NAMES = {
    "origin groups": "composition by origin",
    "income": "composition by income",
    "area composition (all)": "origin and income together",
    "composition and features": "composition and the model's own inputs",
    "composition beyond features": "composition beyond the model's own inputs",
}


def _proxy_tables(result: EvaluationResult, band: str) -> list[dict[str, Any]]:
    out = []
    for key in result.summary.get("area_keys", {}).get(band, []):
        t = _table(result, f"proxy/{key}")
        if t is None:
            continue
        lvl = key.split("/")[-1]
        rows, dropped = [], []
        for r in t.to_dict("records"):
            if int(r.get("n_predictors", 0) or 0) == 0 or not (float(r["ci_hi"]) > float(r["ci_lo"])):
                dropped.append(_PROXY_NAMES.get(str(r["predictors"]), words(r["predictors"])))
                continue
            rows.append(
                [
                    _PROXY_NAMES.get(str(r["predictors"]), words(r["predictors"])),
                    fmt_value(r["n_predictors"]),
                    fmt_interval(r["r2"], r["ci_lo"], r["ci_hi"]),
                ]
            )
        meta = result.summary.get("proxy", {}).get(key, {})
        out.append(
            {
                "level": _AREA_LEVELS.get(lvl, (lvl, lvl))[1],
                "rows": rows,
                "n_areas": fmt_value(meta.get("n_areas")),
                "n_too_few": fmt_value(meta.get("n_areas_too_few")),
                "dropped": dropped,
            }
        )
    return out


def _intensity_views(res: EvaluationResult | None) -> list[dict[str, Any]]:
    if res is None:
        return []
    out = []
    for key, s in res.summary.get("registration_intensity", {}).items():
        lvl = key.split("/")[-1]
        flagged = _table(res, f"registration_intensity/{key}")
        rows = []
        if flagged is not None:
            f = flagged[flagged["registration"].isin(["over", "under"])].sort_values("area_code")
            rows = [
                [
                    str(r["area_code"]),
                    "more than expected" if r["registration"] == "over" else "less than expected",
                    fmt_interval(
                        r["registration_intensity"], r["registration_intensity_lo"], r["registration_intensity_hi"]
                    ),
                ]
                for r in f.to_dict("records")
            ]
        facts = [
            ["areas tested (enough registrations expected)", fmt_value(s.get("n_areas"))],
            ["areas registered more than expected", fmt_value(s.get("n_areas_over_registered"))],
            ["areas registered less than expected", fmt_value(s.get("n_areas_under_registered"))],
            [
                f"areas with the data to see a {fmt_value(s.get('power_intensity_ratio', 2.0))}-fold intensity",
                f"{fmt_value(s.get('n_areas_powered'))} of {fmt_value(s.get('n_areas_auditable'))}",
            ],
            [
                "registrations per expected one in the reference areas",
                fmt_value(s.get("registrations_per_expected_reference")),
            ],
        ]
        truth = s.get("truth") or {}
        if truth:
            facts.append(
                [
                    "synthetic check: truly over-policed areas found",
                    f"{fmt_value(truth.get('n_areas_flagged_correctly'))} of "
                    f"{fmt_value(truth.get('n_areas_truly_over_policed'))} among the tested areas",
                ]
            )
        out.append(
            {
                "level": _AREA_LEVELS.get(lvl, (lvl, lvl))[1],
                "facts": facts,
                "rows": rows,
                "figure": _img(res.figures.get(f"registration_intensity/{key}")),
            }
        )
    return out


def _ranking_views(result: EvaluationResult, band: str, level: int) -> list[dict[str, Any]]:
    out = []
    for key, rk in result.summary.get("ranking", {}).items():
        if not key.startswith(f"{band}/"):
            continue
        lvl = key.split("/")[-1]
        facts = [
            ["areas with enough young people", fmt_value(rk.get("n_areas"))],
            ["areas with too few (not shown)", fmt_value(rk.get("n_areas_too_few"))],
            ["national level (mean risk)", fmt_value(rk.get("national_mean"), percent=True)],
            [
                f"elevated (lower bound of the {level}% interval above the national level)",
                fmt_value(rk.get("n_areas_elevated")),
            ],
            ["lower (upper bound below the national level)", fmt_value(rk.get("n_areas_lower"))],
            ["not distinguishable from the national level", fmt_value(rk.get("n_areas_not_distinguishable"))],
            [
                f"a naive top {fmt_value(rk.get('naive_list_length'))}: areas in it that are not elevated",
                fmt_value(rk.get("n_areas_naive_list_not_elevated")),
            ],
            [
                "elevated areas a naive top list would miss",
                fmt_value(rk.get("n_areas_elevated_missing_from_naive_list")),
            ],
            ["median width of an area's rank interval (places)", fmt_value(rk.get("median_rank_interval_width"), 2)],
        ]
        out.append(
            {
                "level": _AREA_LEVELS.get(lvl, (lvl, lvl))[1],
                "facts": facts,
                "figure": _img(result.figures.get(f"ranking/{key}")),
            }
        )
    return out


def _feature_text(name: str) -> str:
    try:
        from features.catalogue import INDICATORS
    except ImportError:  # pragma: no cover - the catalogue ships with the package
        return words(name)
    for ind in INDICATORS:
        if ind.name == name:
            first = re.split(r"\s\(|\.\s|;", ind.definition)[0].rstrip(".")
            return first[:90]
    return words(name.removeprefix("ind_"))


def _shap_view(result: EvaluationResult, band: str) -> dict[str, Any] | None:
    imp = _table(result, f"shap_importance/{band}")
    if imp is None:
        return None
    meta = result.summary.get("shap", {}).get(band, {})
    rows = [
        [_feature_text(str(r["feature"])), _ci(r, "mean_abs_shap"), fmt_value(r.get("share"), percent=True)]
        for r in imp.to_dict("records")
    ]
    return {"n": fmt_value(meta.get("n_persons")), "rows": rows, "figure": _img(result.figures.get(f"shap/{band}"))}


# --------------------------------------------------------------------------------------------
# the pack
# --------------------------------------------------------------------------------------------


def build_verdicts(
    result: EvaluationResult, band: str, ident: PackIdentity, pooled: EvaluationResult | None = None
) -> list[Verdict]:
    """The first page's verdicts, one per audit."""
    s = result.summary
    settings = s.get("settings", {})
    level = _level_pct(settings)
    checks = list((s.get("gate") or {}).get("checks", []) or [])
    return [
        _performance_verdict(result, band, checks, level, ident),
        _fairness_verdict(result, band, settings, checks, level),
        _proxy_verdict(result, band, settings, checks, level),
        _bias_verdict(result, pooled, band, level),
        _areas_verdict(result, band, checks, level),
    ]


def card_of(result: EvaluationResult, band: str) -> dict[str, Any]:
    """The result's model card, with the band's elevated threshold from the evaluation when the
    card lacks it."""
    card = dict(result.model_card)
    thr = (result.summary.get("threshold") or {}).get(band)
    if not card.get("threshold") and isinstance(thr, (int, float)):
        card["threshold"] = {band: float(thr)}
    return card


def pack_context(
    result: EvaluationResult,
    ident: PackIdentity,
    *,
    pooled: EvaluationResult | None = None,
    card: Mapping[str, Any] | None = None,
    dpi: int = 96,
) -> dict[str, Any]:
    """Everything the template shows, already formatted (pure)."""
    from evaluation.modelcard import model_card_document

    band = ident.band
    s = result.summary
    settings = s.get("settings", {})
    level = _level_pct(settings)
    threshold = (s.get("threshold") or {}).get(band)
    perf_header, perf_rows = _performance_rows(result, band)
    comp = _table(result, f"performance_comparison/{band}")
    comp_rows = (
        []
        if comp is None
        else [
            [f"baseline: {words(r['baseline'])}", metric_text(str(r["metric"])), _ci(r, "difference")]
            for r in comp.to_dict("records")
        ]
    )
    verdicts = build_verdicts(result, band, ident, pooled)
    card = card_of(result, band) if card is None else card
    doc = model_card_document(card, ident=ident, verdicts=verdicts, settings=settings)
    return {
        "ident": ident,
        "title": f"Review pack: {ident.name} version {ident.version}",
        "band": band,
        "level": level,
        "min_cell": fmt_value(settings.get("min_cell_size")),
        "threshold": fmt_value(threshold, percent=True) if threshold is not None else NOT_AVAILABLE,
        "n_persons": fmt_value((s.get("n_persons") or {}).get(band)),
        "tolerance": " to ".join(fmt_value(x) for x in settings.get("tolerance", [0.8, 1.25])),
        "interval_how": re.sub(r"^\s*\d+(?:\.\d+)?%\s*", "", str(settings.get("interval", ""))).replace("_", " "),
        "verdicts": verdicts,
        "gate": gate_view(s.get("gate"), ident.decision),
        "perf_header": perf_header,
        "perf_rows": perf_rows,
        "comp_rows": comp_rows,
        "calibration_figure": _img(result.figures.get(f"calibration/{band}")),
        "calibration_rows": _calibration_rows(result, band),
        "fairness_figure": _img(_fairness_figure(result, band, settings, dpi)),
        "fairness_tables": _fairness_tables(result, band, settings),
        "intersections": _intersections(result, band),
        "fairness_notes": [_readable(n) for n in (s.get("fairness_notes") or {}).get(band, [])],
        "proxy_tables": _proxy_tables(result, band),
        "intensity": _intensity_views(pooled if pooled is not None else result),
        "intensity_pooled": pooled is not None,
        "label_bias_run": bool(s.get("label_bias")),
        "ranking": _ranking_views(result, band, level),
        "league_findings": [str(f) for f in s.get("league_findings", [])],
        "shap": _shap_view(result, band),
        "notes": [_readable(n) for n in s.get("notes", []) if "evaluation/all-bands" not in str(n)],
        "card": doc,
    }


def render_review_pack(
    result: EvaluationResult,
    ident: PackIdentity,
    *,
    pooled: EvaluationResult | None = None,
    min_cell: int | None = None,
    dpi: int = 96,
) -> str:
    """The review pack of one registered model version as one self-contained HTML page.

    Parameters
    ----------
    result : EvaluationResult
        The band's evaluation (aggregates only), as logged by training.
    ident : PackIdentity
        Registered name, version, run, data fingerprint and promotion decision.
    pooled : EvaluationResult, optional
        The registration-intensity audit pooled over the bands (``evaluation/all-bands``).
    min_cell : int, optional
        Minimum cell size to enforce on the tables (default: the one in the summary).
    dpi : int
        Resolution of figures drawn here.

    Returns
    -------
    str
    """
    mc = int(min_cell if min_cell is not None else result.summary.get("settings", {}).get("min_cell_size", 10))
    check_aggregate_tables(result.tables, mc)
    if pooled is not None:
        check_aggregate_tables(pooled.tables, mc)
    ctx = pack_context(result, ident, pooled=pooled, dpi=dpi)
    return _env().get_template("review_pack.html.j2").render(**ctx)


def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("evaluation", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def visible_text_problems(text: str) -> list[str]:
    """What a reader must never see in ``text``: Python's None/nan, raw floats with more than
    four decimals, snake_case keys. Returns the offending snippets (empty when clean).

    Examples
    --------
    >>> visible_text_problems("AUC 0.76 (0.72-0.81)")
    []
    >>> visible_text_problems("value None, r2 0.8240629538993264, n_areas_elevated")
    ['None', '0.8240629538993264', 'n_areas_elevated']
    """
    out: list[str] = []
    out += re.findall(r"\b(?:None|nan|NaN|inf)\b", text)
    out += re.findall(r"\d+\.\d{5,}", text)
    out += [w for w in re.findall(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", text) if not re.fullmatch(r"[0-9_]+", w)]
    return out
