"""Training criteria on synthetic data: measured checks of LightGBM against the known truth.

Computed when the synthetic world's truth is given (``aanwas train --truth DIR``), from the
metrics a band's fit already has (:class:`training.fit.FittedBand`); thresholds are
:class:`training.config.CriteriaConfig`. These are measurements of the method on a world whose
answer is known, reported per band and criterion; they never gate a model version. Pure.

=========  ==========================================================  =======================
criterion  value                                                       passes when
=========  ==========================================================  =======================
oracle     observable oracle's test AUC minus LightGBM's               value <= max_gap
flags      lower end of the paired interval, LightGBM - flag count     value > min_gain
logreg     lower end of the paired interval, LightGBM - logistic       value >= -max_loss
ece        LightGBM's ECE minus the oracle's ECE (same rows, bins)     value <= max_excess
=========  ==========================================================  =======================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from training.config import CriteriaConfig

#: Criterion names, in reporting order.
CRITERIA = ("oracle", "flags", "logreg", "ece")
MODEL = "lightgbm"


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One measured criterion of one band.

    Attributes
    ----------
    name : str
        One of :data:`CRITERIA`.
    value : float
        The measured quantity (see the module table); NaN when it could not be measured.
    threshold : float
        The setting it is compared with.
    passed : bool
        False also when the value is NaN.
    rule : str
        The rule in words.
    detail : str
        The numbers behind the value.
    """

    name: str
    value: float
    threshold: float
    passed: bool
    rule: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value if math.isfinite(self.value) else None,
            "threshold": self.threshold,
            "passed": self.passed,
            "rule": self.rule,
            "detail": self.detail,
        }


def _get(m: Mapping[str, float], key: str) -> float:
    v = m.get(key)
    return float("nan") if v is None else float(v)


def evaluate_criteria(
    metrics: Mapping[str, Mapping[str, float]],
    reference_metrics: Mapping[str, float],
    comparisons: Mapping[str, Mapping[str, float]],
    cfg: CriteriaConfig,
) -> dict[str, Criterion]:
    """The four training criteria of one band.

    Parameters
    ----------
    metrics : mapping
        Model -> test metrics (:func:`models.score_metrics` with ``truth``: ``lightgbm`` needs
        ``auc``, ``ece`` and ``oracle_ece``).
    reference_metrics : mapping
        ``oracle_observable_auc`` (and ``oracle_observable_ece``, logged only).
    comparisons : mapping
        Baseline -> paired bootstrap of LightGBM minus it (``auc_diff_lo``): ``flags``,
        ``logreg``.
    cfg : CriteriaConfig

    Returns
    -------
    dict
        Criterion name -> :class:`Criterion`, in the order of :data:`CRITERIA`.

    Examples
    --------
    >>> m = {"lightgbm": {"auc": 0.775, "ece": 0.004, "oracle_ece": 0.001}}
    >>> ref = {"oracle_observable_auc": 0.781}
    >>> comp = {"flags": {"auc_diff_lo": 0.06}, "logreg": {"auc_diff_lo": -0.004}}
    >>> {k: c.passed for k, c in evaluate_criteria(m, ref, comp, CriteriaConfig()).items()}
    {'oracle': True, 'flags': True, 'logreg': True, 'ece': True}
    """
    main = metrics.get(MODEL, {})
    auc, ece, oracle_ece = _get(main, "auc"), _get(main, "ece"), _get(main, "oracle_ece")
    obs = _get(reference_metrics, "oracle_observable_auc")
    flags_lo = _get(comparisons.get("flags", {}), "auc_diff_lo")
    logreg_lo = _get(comparisons.get("logreg", {}), "auc_diff_lo")

    def ok(x: float, test: bool) -> bool:
        return math.isfinite(x) and test

    gap = obs - auc
    excess = ece - oracle_ece
    out = [
        Criterion(
            "oracle",
            gap,
            cfg.max_gap_to_oracle,
            ok(gap, gap <= cfg.max_gap_to_oracle),
            f"test AUC at most {cfg.max_gap_to_oracle:g} below the observable oracle's",
            f"LightGBM {auc:.4f}, observable oracle {obs:.4f}",
        ),
        Criterion(
            "flags",
            flags_lo,
            cfg.min_gain_over_flags,
            ok(flags_lo, flags_lo > cfg.min_gain_over_flags),
            f"lower end of the paired interval of LightGBM minus the flag count above {cfg.min_gain_over_flags:g}",
            f"lower end {flags_lo:+.4f}",
        ),
        Criterion(
            "logreg",
            logreg_lo,
            -cfg.max_loss_to_logreg,
            ok(logreg_lo, logreg_lo >= -cfg.max_loss_to_logreg),
            f"lower end of the paired interval of LightGBM minus the logistic regression at least "
            f"{-cfg.max_loss_to_logreg:g}",
            f"lower end {logreg_lo:+.4f}",
        ),
        Criterion(
            "ece",
            excess,
            cfg.max_ece_excess,
            ok(excess, excess <= cfg.max_ece_excess),
            f"ECE at most the oracle's ECE on the same test rows plus {cfg.max_ece_excess:g}",
            f"LightGBM {ece:.4f}, oracle {oracle_ece:.4f}",
        ),
    ]
    return {c.name: c for c in out}


def criteria_metrics(band: str, criteria: Mapping[str, Criterion]) -> dict[str, float]:
    """MLflow metrics of a band's criteria: ``criteria/<band>/<name>/value``, ``.../threshold``,
    ``.../passed`` (1 or 0) and ``criteria/<band>/all_passed``.

    Examples
    --------
    >>> c = Criterion("ece", 0.001, 0.005, True, "r", "d")
    >>> criteria_metrics("8-12", {"ece": c})["criteria/8-12/ece/passed"]
    1.0
    """
    out: dict[str, float] = {}
    for name, c in criteria.items():
        out[f"criteria/{band}/{name}/value"] = c.value
        out[f"criteria/{band}/{name}/threshold"] = c.threshold
        out[f"criteria/{band}/{name}/passed"] = float(c.passed)
    out[f"criteria/{band}/all_passed"] = float(all(c.passed for c in criteria.values()))
    return out
