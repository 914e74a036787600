"""Promotion gate: fairness and stigmatisation thresholds that training's gate consumes.

:func:`audit_gates` turns audit results into a :class:`GateVerdict` (passed, reasons). A
missing audit does not fail the gate but is listed in ``notes``, so a reviewer sees what was
not checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from evaluation.config import EvaluationConfig
from evaluation.fairness import FairnessAudit
from evaluation.stigmatisation import LabelBiasResult, ProxyResult

#: How many examples a failing rule lists.
_EXAMPLES = 5


@dataclasses.dataclass(frozen=True)
class GateVerdict:
    """Outcome of the promotion gate.

    Attributes
    ----------
    passed : bool
        True when no rule failed.
    reasons : list of str
        One line per failed rule (empty when passed).
    notes : list of str
        Rules that could not be evaluated (missing audits) and other remarks.
    """

    passed: bool
    reasons: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"passed": self.passed, "reasons": list(self.reasons), "notes": list(self.notes)}


def _as_mapping(obj: object, default_key: str) -> Mapping[str, object]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return obj
    return {default_key: obj}


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

    * fairness - more than ``gate_max_outside`` verdicts "outside" (disparity and its whole
      interval outside the tolerance band) on ``gate_fairness_metrics``;
    * proxy - the lower interval bound of the R^2 of the ``proxy_gate_block`` composition
      (origin groups) above ``gate_proxy_r2_max``, judged only with at least
      ``proxy_min_areas`` areas (with fewer, R^2 is near 1 by construction);
    * label bias - the share of areas the model calls elevated that are not elevated under
      the intensity-free alternative above ``gate_max_bias_elevated_share`` (judged only with
      at least ``gate_bias_min_elevated`` elevated areas);
    * league tables - any finding, unless ``gate_allow_league_tables``.

    Parameters
    ----------
    cfg : EvaluationConfig
    fairness, proxy, label_bias : result or mapping of name to result, optional
        Names (e.g. age band, "13-19/wijk") appear in the reasons.
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

    fair = _as_mapping(fairness, "all")
    if not fair:
        notes.append("fairness audit not evaluated")
    outside_all: list[str] = []
    for name, audit in fair.items():
        assert isinstance(audit, FairnessAudit)
        m = audit.metrics
        bad = m[m["metric"].isin(cfg.gate_fairness_metrics) & (m["verdict"] == "outside")]
        for r in bad.itertuples(index=False):
            outside_all.append(
                f"{name}: {r.metric} of {r.attribute}={r.group} is {r.disparity:.3g} "
                f"({r.disparity_lo:.3g}\u2013{r.disparity_hi:.3g}), {r.comparison}"
            )
    if len(outside_all) > cfg.gate_max_outside:
        shown = "; ".join(outside_all[:_EXAMPLES])
        more = f" (+{len(outside_all) - _EXAMPLES} more)" if len(outside_all) > _EXAMPLES else ""
        reasons.append(
            f"fairness: {len(outside_all)} disparities outside the tolerance band "
            f"{cfg.tolerance_low:g}\u2013{cfg.tolerance_high:g} (allowed {cfg.gate_max_outside}): {shown}{more}"
        )

    prox = _as_mapping(proxy, "all")
    if not prox:
        notes.append("proxy test not evaluated")
    for name, res in prox.items():
        assert isinstance(res, ProxyResult)
        if cfg.proxy_gate_block not in res.blocks:
            notes.append(f"proxy test {name}: no composition block {cfg.proxy_gate_block!r}")
            continue
        if res.n_areas < cfg.proxy_min_areas:
            notes.append(f"proxy test {name}: only {res.n_areas} areas (gate needs {cfg.proxy_min_areas})")
            continue
        r2, lo, hi = res.r2(cfg.proxy_gate_block)
        if lo > cfg.gate_proxy_r2_max:
            reasons.append(
                f"proxy: in {name}, {cfg.proxy_gate_block} explain {r2:.2f} ({lo:.2f}\u2013{hi:.2f}) of the "
                f"between-area variance in predicted risk (limit {cfg.gate_proxy_r2_max:g})"
            )

    bias = _as_mapping(label_bias, "all")
    if not bias:
        notes.append("label-bias sensitivity not evaluated (no alternative label)")
    for name, lb in bias.items():
        assert isinstance(lb, LabelBiasResult)
        s = lb.summary
        key = (
            "share_model_elevated_not_alternative"
            if "share_model_elevated_not_alternative" in s
            else "share_elevated_observed_only"
        )
        n_key = "n_areas_elevated_model" if key.startswith("share_model") else "n_areas_elevated_observed"
        if int(s.get(n_key, 0)) < cfg.gate_bias_min_elevated:
            notes.append(f"label bias {name}: fewer than {cfg.gate_bias_min_elevated} elevated areas; not judged")
            continue
        share = float(s[key])
        if share > cfg.gate_max_bias_elevated_share:
            what = "the model" if key.startswith("share_model") else "the observed label"
            reasons.append(
                f"label bias: in {name}, {share:.0%} of the areas {what} calls elevated are not elevated "
                f"under the intensity-free alternative (limit {cfg.gate_max_bias_elevated_share:.0%})"
            )

    if league_findings is None:
        notes.append("league-table check not evaluated")
    elif league_findings and not cfg.gate_allow_league_tables:
        reasons.append(
            f"league tables: {len(league_findings)} finding(s): " + "; ".join(list(league_findings)[:_EXAMPLES])
        )

    return GateVerdict(passed=not reasons, reasons=reasons, notes=notes)
