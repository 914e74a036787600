"""The promotion gate, pure: does a challenger replace the champion?

:func:`decide_promotion` applies :class:`~training.config.PromotionConfig`: the challenger
takes over only if its AUC on the NEWEST test data is at most ``auc_margin`` below the
champion's AUC on the same rows, and the evaluation gates (fairness, stigmatisation) pass when
given or required. A reviewer may override either way, with a reason that is recorded.
:mod:`training.registry` applies the decision to the MLflow registry.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

from aanwas.common.errors import ConfigError
from training.config import PromotionConfig

TAG_PREFIX = "aanwas."

Override = Literal["promote", "reject"]
Decision = Literal["initial", "promoted", "rejected", "override-promoted", "override-rejected"]


@dataclasses.dataclass(frozen=True)
class PromotionDecision:
    """Outcome of the gate for one band.

    Attributes
    ----------
    promote : bool
        Whether the challenger becomes champion.
    decision : str
        ``initial`` (no champion yet), ``promoted``, ``rejected``, ``override-promoted`` or
        ``override-rejected``.
    reason : str
        Why, in one line (the gate's own verdict is kept even when overridden).
    challenger_auc, champion_auc : float
        AUCs on the newest test data (``champion_auc`` NaN when there is no champion or it
        could not be scored).
    gate_passed : bool
        The gate's verdict before any override.
    override_reason : str or None
    override_by : str or None
        Who overrode (recorded with the reason).
    """

    promote: bool
    decision: Decision
    reason: str
    challenger_auc: float
    champion_auc: float
    gate_passed: bool
    override_reason: str | None = None
    override_by: str | None = None

    def tags(self) -> dict[str, str]:
        """Tags recording the decision (for the model version and the run)."""
        out = {
            "decision": self.decision,
            "decision_reason": self.reason,
            "gate_passed": str(self.gate_passed).lower(),
            "challenger_auc": f"{self.challenger_auc:.6f}",
            "champion_auc": "nan" if math.isnan(self.champion_auc) else f"{self.champion_auc:.6f}",
        }
        if self.override_reason is not None:
            out["override_reason"] = self.override_reason
        if self.override_by is not None:
            out["override_by"] = self.override_by
        return {TAG_PREFIX + k: v for k, v in out.items()}


def decide_promotion(
    challenger_auc: float,
    champion_auc: float | None,
    cfg: PromotionConfig,
    *,
    gates_passed: bool | None = None,
    override: Override | None = None,
    override_reason: str | None = None,
    override_by: str | None = None,
    gate_reasons: Sequence[str] = (),
) -> PromotionDecision:
    """Apply the promotion gate (pure).

    Parameters
    ----------
    challenger_auc : float
        Challenger's AUC on the newest test data.
    champion_auc : float or None
        Champion's AUC on the same rows; None when there is no champion yet, NaN when the
        champion could not be scored (e.g. its features are gone): then the gate fails.
    cfg : PromotionConfig
        ``auc_margin`` and whether evaluation gates are required.
    gates_passed : bool or None
        Verdict of the evaluation gates (fairness, stigmatisation); None = not run.
    override : {"promote", "reject"} or None
        A reviewer's decision that replaces the gate's.
    override_reason : str
        Required with ``override``.
    override_by : str, optional
        Who overrides (recorded with the reason).
    gate_reasons : sequence of str
        The evaluation gates' reasons, carried into the decision's one-line reason (the first
        one in full) so the registry says why a version was rejected.

    Returns
    -------
    PromotionDecision

    Raises
    ------
    ConfigError
        An override without a reason.

    Examples
    --------
    >>> cfg = PromotionConfig(auc_margin=0.01)
    >>> decide_promotion(0.745, 0.75, cfg).decision
    'promoted'
    >>> decide_promotion(0.735, 0.75, cfg).decision
    'rejected'
    >>> decide_promotion(0.735, 0.75, cfg, override="promote", override_reason="new horizon").decision
    'override-promoted'
    """
    problems = []
    if math.isnan(challenger_auc):
        problems.append("challenger AUC is undefined")
    if champion_auc is not None:
        if math.isnan(champion_auc):
            problems.append("champion could not be scored on the newest data")
        elif not challenger_auc >= champion_auc - cfg.auc_margin:
            problems.append(
                f"challenger AUC {challenger_auc:.4f} is more than {cfg.auc_margin} below champion's {champion_auc:.4f}"
            )
    if gates_passed is False:
        why = list(gate_reasons)
        more = f" (+{len(why) - 1} more)" if len(why) > 1 else ""
        problems.append(f"evaluation gates failed: {why[0]}{more}" if why else "evaluation gates failed")
    elif gates_passed is None and cfg.require_evaluation_gates:
        problems.append("evaluation gates are required but were not run")
    gate_passed = not problems
    if gate_passed:
        reason = "no champion yet" if champion_auc is None else "challenger not worse than champion within margin"
        if gates_passed:
            reason += "; evaluation gates passed"
    else:
        reason = "; ".join(problems)
    champ = float("nan") if champion_auc is None else float(champion_auc)
    if override is not None:
        if not override_reason or not override_reason.strip():
            raise ConfigError("override_reason", "a reviewer override needs a reason")
        if override not in ("promote", "reject"):
            raise ConfigError("override", f"must be 'promote' or 'reject', got {override!r}")
        promote = override == "promote"
        decision: Decision = "override-promoted" if promote else "override-rejected"
        return PromotionDecision(
            promote,
            decision,
            f"reviewer override; gate said: {reason}",
            challenger_auc,
            champ,
            gate_passed,
            override_reason.strip(),
            (override_by or "").strip() or None,
        )
    if not gate_passed:
        return PromotionDecision(False, "rejected", reason, challenger_auc, champ, False)
    return PromotionDecision(
        True, "initial" if champion_auc is None else "promoted", reason, challenger_auc, champ, True
    )
