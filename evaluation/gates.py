"""Promotion gate: fairness and stigmatisation thresholds that training's gate consumes.

:func:`audit_gates` turns audit results into a :class:`GateVerdict`: passed or not, one reason
per failed rule, and one structured :class:`Check` per thing judged (each group of the
fairness family, the proxy test, the label-bias rule, the league-table check), so a reviewer
sees which gate, which group, the numbers, and what to do next.

Fairness is a family-wise decision: a model is rejected when ANY gating group is miscalibrated,
so the family's error rate is controlled with Holm's step-down correction at ``gate.alpha`` over
every gating check of a band (protected attributes and their intersections only; see
docs/dev/evaluation.md). A missing audit does not fail the gate but is listed in ``notes``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from evaluation.config import EvaluationConfig
from evaluation.fairness import CANNOT_JUDGE, INTERSECTION, METRIC_LABELS, OVERALL, TOO_FEW, FairnessAudit
from evaluation.labels import attribute_label, group_label
from evaluation.stigmatisation import LabelBiasResult, ProxyResult

if TYPE_CHECKING:
    import pandas as pd

    from evaluation.modelcard import ModelInfo
    from evaluation.result import EvaluationResult

#: How many failing checks the reasons list one by one.
_EXAMPLES = 5

Gate = Literal["fairness", "proxy", "label_bias", "league", "performance"]
Outcome = Literal["pass", "fail", "too_few", "cannot_judge", "descriptive"]
GATES: tuple[str, ...] = ("fairness", "proxy", "label_bias", "league", "performance")
OUTCOMES: tuple[str, ...] = ("pass", "fail", "too_few", "cannot_judge", "descriptive")

#: What a reviewer does when the gate rejects (training fills in band, version and work dir).
NEXT_STEP_REJECTED = (
    "Read the gate section of this band's review pack (aanwas report --run-id RUN --out DIR "
    "writes one per registered version). If the flagged result is "
    "understood and acceptable for area-level prevention planning, a reviewer promotes this "
    "version with a recorded reason (aanwas promote --work WORK --band BAND --version VERSION "
    "--reason '...'); otherwise retrain (aanwas retrain) with more data or features that "
    "capture the group's risk."
)
NEXT_STEP_PASSED = "none: the evaluation gates do not stand in the way of promotion"


def _num(x: Any) -> float | None:
    if x is None:
        return None
    f = float(x)
    return None if math.isnan(f) or math.isinf(f) else f


@dataclasses.dataclass(frozen=True)
class Check:
    """One judged (or reported) item of the promotion gate.

    Attributes
    ----------
    gate : {"fairness", "proxy", "label_bias", "league", "performance"}
    metric : str
        What was measured, in words.
    threshold : str
        The rule, in words (e.g. "within 0.8-1.25; fails when Holm-adjusted p < 0.05").
    outcome : {"pass", "fail", "too_few", "cannot_judge", "descriptive"}
    explanation : str
        One or two plain sentences: the numbers and why this outcome.
    attribute, group : str or None
        Plain words (e.g. "migration background", "non-European migration background").
    estimate, lo, hi : float or None
        The estimate and its interval.
    p_adjusted : float or None
        Holm-adjusted p-value (fairness checks in the gating family only).
    scope : str or None
        The band or band/area level the check belongs to.
    attribute_code, group_code : str or None
        The attribute and group as coded in the data (for machines).
    p_value : float or None
        The unadjusted p-value.
    gating : bool
        False for a descriptive check (an attribute outside ``gate.attributes``): reported, never
        a reason to reject, whatever its outcome (too few, cannot judge, descriptive).
    """

    gate: str
    metric: str
    threshold: str
    outcome: str
    explanation: str
    attribute: str | None = None
    group: str | None = None
    estimate: float | None = None
    lo: float | None = None
    hi: float | None = None
    p_adjusted: float | None = None
    scope: str | None = None
    gating: bool = True
    attribute_code: str | None = None
    group_code: str | None = None
    p_value: float | None = None

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            raise ValueError(f"unknown gate {self.gate!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN as None)."""
        return {
            "gate": self.gate,
            "attribute": self.attribute,
            "group": self.group,
            "metric": self.metric,
            "estimate": _num(self.estimate),
            "lo": _num(self.lo),
            "hi": _num(self.hi),
            "threshold": self.threshold,
            "p_adjusted": _num(self.p_adjusted),
            "outcome": self.outcome,
            "explanation": self.explanation,
            "scope": self.scope,
            "gating": self.gating,
            "attribute_code": self.attribute_code,
            "group_code": self.group_code,
            "p_value": _num(self.p_value),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Check:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass(frozen=True)
class GateVerdict:
    """Outcome of the promotion gate.

    Attributes
    ----------
    passed : bool
        True when no rule failed.
    reasons : list of str
        One line per failing check (empty when passed).
    notes : list of str
        Rules that could not be evaluated (missing audits), the size of the fairness family,
        and other remarks.
    checks : list of Check
        Everything judged or reported, in order: fairness (gating, then descriptive), proxy,
        label bias, league tables, performance (added by training).
    next_step : str
        What to do now, in words.
    override : dict or None
        ``{"reason": ..., "by": ...}`` when a reviewer overrode the decision.
    model_family : dict or None
        Which model family is the band's model and why (training's family rule: both AUCs,
        the paired interval, the rule and the reason in words; see ``training.family``).
    """

    passed: bool
    reasons: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)
    checks: list[Check] = dataclasses.field(default_factory=list)
    next_step: str = ""
    override: dict[str, str] | None = None
    model_family: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``passed, reasons, notes, checks, next_step, override,
        model_family``."""
        return {
            "passed": bool(self.passed),
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "checks": [c.to_dict() for c in self.checks],
            "next_step": self.next_step,
            "override": None if self.override is None else dict(self.override),
            "model_family": None if self.model_family is None else dict(self.model_family),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GateVerdict:
        """Inverse of :meth:`to_dict` (also reads the older form without checks)."""
        return cls(
            passed=bool(d.get("passed", False)),
            reasons=list(d.get("reasons", [])),
            notes=list(d.get("notes", [])),
            checks=[Check.from_dict(c) for c in d.get("checks", [])],
            next_step=str(d.get("next_step", "")),
            override=None if d.get("override") is None else dict(d["override"]),
            model_family=None if d.get("model_family") is None else dict(d["model_family"]),
        )

    def failed_checks(self) -> list[Check]:
        """The checks whose outcome is ``fail``."""
        return [c for c in self.checks if c.outcome == "fail"]

    def counts(self) -> dict[str, int]:
        """Number of checks per outcome (every outcome listed)."""
        out = dict.fromkeys(OUTCOMES, 0)
        for c in self.checks:
            out[c.outcome] += 1
        return out

    def headline(self) -> str:
        """One line: passed, or the first failing check with its numbers."""
        if self.passed:
            return "passed"
        first = self.failed_checks()
        if first:
            c = first[0]
            more = f" (+{len(first) - 1} more)" if len(first) > 1 else ""
            return f"{c.gate}: {c.explanation}{more}"
        return self.reasons[0] if self.reasons else "failed"


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate); NaN stays NaN and is not
    counted in the family.

    The i-th smallest of ``m`` p-values is multiplied by ``m - i + 1``, the running maximum is
    taken so the order is kept, and the result is capped at 1. Rejecting every check with an
    adjusted p-value <= ``alpha`` keeps the chance of any false rejection <= ``alpha`` under
    any dependence between the tests.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).round(6).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def _as_mapping(obj: object, default_key: str) -> Mapping[str, object]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return obj
    return {default_key: obj}


def is_gating(attribute: str, cfg: EvaluationConfig) -> bool:
    """Whether an attribute (or intersection) gates: every part is a protected attribute.

    Examples
    --------
    >>> cfg = EvaluationConfig()
    >>> is_gating("migration_group \u00d7 sex", cfg), is_gating("income_group \u00d7 sex", cfg)
    (True, False)
    """
    return all(part in cfg.gate.attributes for part in attribute.split(INTERSECTION))


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _p_text(p: float | None) -> str:
    """``Holm-adjusted p = 0.012`` / ``Holm-adjusted p < 0.001``."""
    if p is None or not math.isfinite(p):
        return "Holm-adjusted p not defined"
    return "Holm-adjusted p < 0.001" if p < 0.001 else f"Holm-adjusted p = {p:.3f}"


def _fairness_outcome(
    numbers: str,
    direction: str,
    *,
    too_few: bool,
    gating: bool,
    degenerate: bool,
    in_family: bool,
    p_adjusted: float | None,
    outside_ci: bool,
    estimate: float | None,
    n_family: int,
    cfg: EvaluationConfig,
) -> tuple[str, str]:
    """Outcome of one fairness check (too_few, descriptive, cannot_judge, fail, pass) and its
    explanation in words."""
    band = (cfg.fairness.tolerance_low, cfg.fairness.tolerance_high)
    if too_few:
        outcome = "too_few"
        text = f"fewer than {cfg.min_cell_size} persons or events in this group: reported as 'too few', never judged"
    elif not gating:
        outcome = "descriptive"
        if degenerate:
            text = f"{numbers}; the interval is degenerate. Descriptive attribute: reported, never a reason to reject"
        else:
            text = f"{numbers}. Descriptive attribute: reported, never a reason to reject"
    elif not in_family:
        outcome = "cannot_judge"
        text = (
            f"{numbers}: the interval is degenerate (zero width or undefined, e.g. no events "
            f"or a rate of 0 in every resample), so this group cannot be judged"
        )
    elif p_adjusted is not None and p_adjusted <= cfg.gate.alpha:
        outcome = "fail"
        text = (
            f"{numbers}: {direction}, outside the tolerance {band[0]:g}\u2013{band[1]:g} even "
            f"after correcting for the {n_family} groups tested ({_p_text(p_adjusted)})"
        )
    elif outside_ci:
        outcome = "pass"
        text = (
            f"{numbers}: outside the tolerance for this group on its own, but not after "
            f"correcting for the {n_family} groups tested ({_p_text(p_adjusted)}); "
            f"chance is a plausible explanation"
        )
    else:
        outcome = "pass"
        within = estimate is not None and band[0] <= estimate <= band[1]
        text = (
            f"{numbers}: {'within' if within else 'not clearly outside'} the tolerance "
            f"{band[0]:g}\u2013{band[1]:g} ({_p_text(p_adjusted)})"
        )
    return outcome, text


def _fairness_checks(
    name: str, audit: FairnessAudit, cfg: EvaluationConfig, notes: list[str]
) -> tuple[list[Check], list[Check]]:
    """The gating family of one band (Holm-adjusted) and its descriptive checks."""
    band = (cfg.fairness.tolerance_low, cfg.fairness.tolerance_high)
    level = f"{100 * (1 - cfg.alpha):g} %"  # the intervals' level; the gate tests at gate.alpha
    m = audit.metrics
    rows = m[m["metric"].isin(cfg.gate.fairness_metrics)].reset_index(drop=True)
    if "p_value" not in rows.columns:  # an audit from before p-values: nothing can be judged
        rows = rows.assign(p_value=np.nan)
    gating = np.array([is_gating(str(a), cfg) for a in rows["attribute"]], dtype=bool)
    degenerate = rows["verdict"].isin([CANNOT_JUDGE, "undefined", "reference"]).to_numpy()
    too_few = (rows["verdict"] == TOO_FEW).to_numpy() | (rows["status"] != "ok").to_numpy()
    p = rows["p_value"].to_numpy(dtype=np.float64)
    in_family = gating & ~too_few & ~degenerate & ~np.isnan(p)
    p_adj = holm(np.where(in_family, p, np.nan))
    n_family = int(in_family.sum())
    attrs = sorted({str(a) for a, g in zip(rows["attribute"], gating, strict=True) if g})
    notes.append(
        f"fairness {name}: {n_family} gating check(s) on "
        f"{', '.join(attribute_label(a) for a in attrs) or 'no protected attribute'} "
        f"(Holm's correction, family-wise level {cfg.gate.alpha:g}); "
        f"{int((~gating).sum())} descriptive check(s) on the other attributes"
    )
    for a in cfg.gate.attributes:
        if a not in set(rows["attribute"].astype(str)):
            notes.append(f"fairness {name}: protected attribute {attribute_label(a)} was not audited (not in the data)")
    threshold = f"within {band[0]:g}\u2013{band[1]:g} (fails at Holm-adjusted p \u2264 {cfg.gate.alpha:g})"
    gate_rows: list[Check] = []
    desc_rows: list[Check] = []
    for i, r in enumerate(rows.itertuples(index=False)):
        attr, grp, metric = str(r.attribute), str(r.group), str(r.metric)
        words = METRIC_LABELS.get(metric, metric)
        est, lo, hi = _num(r.disparity), _num(r.disparity_lo), _num(r.disparity_hi)
        numbers = f"{words} {_fmt(est)} ({level} interval {_fmt(lo)}\u2013{_fmt(hi)})"
        if metric == "calibration" and est is not None:
            direction = (
                "more events than predicted (the model under-estimates risk here)"
                if est > 1
                else "fewer events than predicted (the model over-estimates risk here)"
            )
        else:
            ref = audit.references.get(attr, OVERALL)
            versus = "the band as a whole" if ref == OVERALL else f"{group_label(attr, ref)} (the reference)"
            direction = f"differs from {versus}"
        pa = _num(p_adj[i])
        outside_ci = lo is not None and hi is not None and (lo > band[1] or hi < band[0])
        outcome, text = _fairness_outcome(
            numbers,
            direction,
            too_few=bool(too_few[i]),
            gating=bool(gating[i]),
            degenerate=bool(degenerate[i]),
            in_family=bool(in_family[i]),
            p_adjusted=pa,
            outside_ci=outside_ci,
            estimate=est,
            n_family=n_family,
            cfg=cfg,
        )
        if too_few[i]:
            est = lo = hi = None
        check = Check(
            gate="fairness",
            attribute=attribute_label(attr),
            group=group_label(attr, grp),
            metric=words,
            estimate=est,
            lo=lo,
            hi=hi,
            threshold=threshold if gating[i] else "descriptive: never rejects",
            p_adjusted=pa if gating[i] else None,
            outcome=outcome,
            explanation=text,
            scope=name,
            gating=bool(gating[i]),
            attribute_code=attr,
            group_code=grp,
            p_value=_num(r.p_value) if not too_few[i] else None,
        )
        (gate_rows if gating[i] else desc_rows).append(check)
    return gate_rows, desc_rows


def _fairness_gate(
    fairness: FairnessAudit | Mapping[str, FairnessAudit] | None,
    cfg: EvaluationConfig,
    reasons: list[str],
    notes: list[str],
    checks: list[Check],
) -> None:
    """The fairness gate: per band, too many groups outside the tolerance band (Holm-adjusted)
    fail it; the descriptive checks follow the gating ones. Appends to ``reasons``, ``notes``
    and ``checks``."""
    fair = _as_mapping(fairness, "all")
    if not fair:
        notes.append("fairness audit not evaluated")
    descriptive: list[Check] = []
    for name, audit in fair.items():
        assert isinstance(audit, FairnessAudit)
        gating, desc = _fairness_checks(name, audit, cfg, notes)
        checks.extend(gating)
        descriptive.extend(desc)
        failed = [c for c in gating if c.outcome == "fail"]
        if len(failed) > cfg.gate.max_outside:
            for c in failed[:_EXAMPLES]:
                reasons.append(f"fairness ({name}): {c.group} ({c.attribute}): {c.explanation}")
            if len(failed) > _EXAMPLES:
                reasons.append(f"fairness ({name}): and {len(failed) - _EXAMPLES} more group(s)")
        elif failed:
            notes.append(
                f"fairness {name}: {len(failed)} failing check(s) tolerated "
                f"(evaluation.gate.max_outside = {cfg.gate.max_outside})"
            )
    checks.extend(descriptive)


def _proxy_gate(
    proxy: ProxyResult | Mapping[str, ProxyResult] | None,
    cfg: EvaluationConfig,
    reasons: list[str],
    notes: list[str],
    checks: list[Check],
) -> None:
    """The proxy gate: the lower bound of the R² of the composition block above the limit
    fails it (judged with enough areas only). Appends to ``reasons``, ``notes`` and ``checks``."""
    prox = _as_mapping(proxy, "all")
    if not prox:
        notes.append("proxy test not evaluated")
    proxy_rule = f"lower interval bound of R\u00b2 at most {cfg.gate.proxy_r2_max:g}"
    for name, res in prox.items():
        assert isinstance(res, ProxyResult)
        block = cfg.stigmatisation.proxy.gate_block
        metric = f"share of between-area variance in predicted risk explained by {block} (R\u00b2)"
        if block not in res.blocks:
            notes.append(f"proxy test {name}: no composition block {block!r}")
            continue
        min_areas = cfg.stigmatisation.proxy.min_areas
        if res.n_areas < min_areas:
            notes.append(f"proxy test {name}: only {res.n_areas} areas (gate needs {min_areas})")
            checks.append(
                Check(
                    gate="proxy",
                    attribute=block,
                    metric=metric,
                    threshold=proxy_rule,
                    outcome="too_few",
                    explanation=f"only {res.n_areas} areas (the test needs {min_areas}): not judged",
                    scope=name,
                )
            )
            continue
        r2, lo, hi = res.r2(block)
        fail = lo > cfg.gate.proxy_r2_max
        text = (
            f"in {name}, {block} explain {r2:.2f} ({lo:.2f}\u2013{hi:.2f}) of the between-area variance "
            f"in predicted risk (limit {cfg.gate.proxy_r2_max:g} on the lower bound)"
        )
        if fail:
            reasons.append(f"proxy: {text}")
        checks.append(
            Check(
                gate="proxy",
                attribute=block,
                metric=metric,
                estimate=r2,
                lo=lo,
                hi=hi,
                threshold=proxy_rule,
                outcome="fail" if fail else "pass",
                explanation=text,
                scope=name,
            )
        )


def _label_bias_gate(
    label_bias: LabelBiasResult | Mapping[str, LabelBiasResult] | None,
    cfg: EvaluationConfig,
    reasons: list[str],
    notes: list[str],
    checks: list[Check],
) -> None:
    """The label-bias gate: too large a share of elevated areas that are not elevated under the
    intensity-free alternative fails it (judged with enough elevated areas only). Appends to
    ``reasons``, ``notes`` and ``checks``."""
    bias = _as_mapping(label_bias, "all")
    if not bias:
        notes.append("label-bias sensitivity not evaluated (no alternative label)")
    bias_rule = f"at most {cfg.gate.max_bias_elevated_share:.0%}"
    for name, lb in bias.items():
        assert isinstance(lb, LabelBiasResult)
        s = lb.summary
        key = (
            "share_model_elevated_not_alternative"
            if "share_model_elevated_not_alternative" in s
            else "share_elevated_observed_only"
        )
        n_key = "n_areas_elevated_model" if key.startswith("share_model") else "n_areas_elevated_observed"
        what = "the model" if key.startswith("share_model") else "the observed label"
        metric = f"share of the areas {what} calls elevated that are not elevated under the intensity-free alternative"
        if int(s.get(n_key, 0)) < cfg.gate.bias_min_elevated:
            notes.append(f"label bias {name}: fewer than {cfg.gate.bias_min_elevated} elevated areas; not judged")
            checks.append(
                Check(
                    gate="label_bias",
                    metric=metric,
                    threshold=bias_rule,
                    outcome="too_few",
                    explanation=f"fewer than {cfg.gate.bias_min_elevated} elevated areas: not judged",
                    scope=name,
                )
            )
            continue
        share = float(s[key])
        fail = share > cfg.gate.max_bias_elevated_share
        text = (
            f"in {name}, {share:.0%} of the areas {what} calls elevated are not elevated under the "
            f"intensity-free alternative (limit {cfg.gate.max_bias_elevated_share:.0%})"
        )
        if fail:
            reasons.append(f"label bias: {text}")
        checks.append(
            Check(
                gate="label_bias",
                metric=metric,
                estimate=share,
                threshold=bias_rule,
                outcome="fail" if fail else "pass",
                explanation=text,
                scope=name,
            )
        )


def _league_gate(
    league_findings: Sequence[str] | None,
    cfg: EvaluationConfig,
    reasons: list[str],
    notes: list[str],
    checks: list[Check],
) -> None:
    """The league-table gate: any finding fails it unless allowed by configuration. Appends to
    ``reasons``, ``notes`` and ``checks``."""
    if league_findings is None:
        notes.append("league-table check not evaluated")
    else:
        found = list(league_findings)
        fail = bool(found) and not cfg.gate.allow_league_tables
        if fail:
            reasons.append(f"league tables: {len(found)} finding(s): " + "; ".join(found[:_EXAMPLES]))
        checks.append(
            Check(
                gate="league",
                metric="rank-like columns or top-N wording in tables and reports",
                estimate=float(len(found)),
                threshold="none" if not cfg.gate.allow_league_tables else "allowed by configuration",
                outcome="fail" if fail else "pass",
                explanation=(
                    f"{len(found)} finding(s): " + "; ".join(found[:_EXAMPLES]) if found else "no league table found"
                ),
            )
        )


def audit_gates(
    *,
    cfg: EvaluationConfig,
    fairness: FairnessAudit | Mapping[str, FairnessAudit] | None = None,
    proxy: ProxyResult | Mapping[str, ProxyResult] | None = None,
    label_bias: LabelBiasResult | Mapping[str, LabelBiasResult] | None = None,
    league_findings: Sequence[str] | None = None,
) -> GateVerdict:
    """Apply the configured fairness and stigmatisation thresholds.

    Rules (all thresholds in :class:`EvaluationConfig`):

    * fairness - per band, the groups of the protected attributes ``gate.attributes`` and of
      their intersections are tested on ``gate.fairness_metrics`` (default calibration:
      observed / expected events, exact Poisson test of "within the tolerance band");
      Holm's correction over that family; more than ``gate.max_outside`` checks with an
      adjusted p-value <= ``gate.alpha`` fail the gate. Groups below the minimum cell size are
      "too few", degenerate intervals "cannot judge", other attributes "descriptive": none of
      these can fail the gate;
    * proxy - the lower interval bound of the R^2 of the ``stigmatisation.proxy.gate_block`` composition
      (origin groups) above ``gate.proxy_r2_max``, judged only with at least
      ``stigmatisation.proxy.min_areas`` areas (with fewer, R^2 is near 1 by construction);
    * label bias - the share of areas the model calls elevated that are not elevated under
      the intensity-free alternative above ``gate.max_bias_elevated_share`` (judged only with
      at least ``gate.bias_min_elevated`` elevated areas);
    * league tables - any finding, unless ``gate.allow_league_tables``.

    Parameters
    ----------
    cfg : EvaluationConfig
    fairness, proxy, label_bias : result or mapping of name to result, optional
        Names (e.g. age band, "13-19/wijk") appear in the reasons; each fairness name is its
        own family (one model version per band).
    league_findings : sequence of str, optional
        Output of :func:`evaluation.stigmatisation.audit_league_tables`.

    Returns
    -------
    GateVerdict

    Examples
    --------
    >>> audit_gates(cfg=EvaluationConfig(), league_findings=["table 't': rank-like column 'rank'"]).passed
    False
    """
    reasons: list[str] = []
    notes: list[str] = []
    checks: list[Check] = []
    _fairness_gate(fairness, cfg, reasons, notes, checks)
    _proxy_gate(proxy, cfg, reasons, notes, checks)
    _label_bias_gate(label_bias, cfg, reasons, notes, checks)
    _league_gate(league_findings, cfg, reasons, notes, checks)
    passed = not reasons
    return GateVerdict(
        passed=passed,
        reasons=reasons,
        notes=notes,
        checks=checks,
        next_step=NEXT_STEP_PASSED if passed else NEXT_STEP_REJECTED,
    )


class GateChecker(Protocol):
    """The evaluation gates as training's promotion gate consumes them (``aanwas train``).

    Training calls, per band, :meth:`add_registrations` (optional: the registration-intensity
    audit over every reference date) and then the checker itself on the band's test rows with
    the chosen model's calibrated risk; it reads the band's :attr:`verdicts` and
    :attr:`results` to record them, and :meth:`pooled_result` once after the last band. The
    evaluation stage's implementation is ``aanwas.stages.evaluate.EvaluationGateCheck``; tests
    may pass any object of this shape.
    """

    @property
    def verdicts(self) -> Mapping[str, GateVerdict]:
        """Band -> the evaluation gates' verdict (after the band was checked)."""
        ...

    @property
    def results(self) -> Mapping[str, EvaluationResult]:
        """Band -> the whole evaluation (tables, figures, model card) for the run's artifacts."""
        ...

    def add_registrations(self, band: str, frame: pd.DataFrame, risk: pd.Series) -> None:
        """Keep the band's rows of every reference date, with the band model's risk."""
        ...

    def __call__(
        self,
        band: str,
        test_rows: pd.DataFrame,
        risk: pd.Series,
        *,
        model: Any = None,
        features: Sequence[str] = (),
    ) -> bool:
        """Evaluate the band's model on its test rows; True when the gates pass. With ``model``
        and ``features`` the evaluation also explains the model (SHAP summaries)."""
        ...

    def pooled_result(self, model_info: ModelInfo | None = None) -> EvaluationResult | None:
        """The registration-intensity audit pooled over the bands added so far (None without
        rows)."""
        ...
