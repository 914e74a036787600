"""Model family by evidence: the simpler model unless the more complex one is better beyond
its paired interval.

Per band, LightGBM and the logistic regression are both fitted, calibrated on the tuning date
and scored on the test date. :func:`choose_family` reads the paired bootstrap of LightGBM's
test AUC minus the logistic regression's (:func:`training.compare.paired_auc_difference`) and
chooses LightGBM only when the interval's LOWER end is strictly above
``training.family.min_gain``; otherwise (also at the boundary, and when the interval is
undefined) the logistic regression is the band's model. Pure: no files, no MLflow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

from training.config import FamilyConfig

#: The two candidate families: the simpler first.
Family = Literal["logreg", "lightgbm"]
SIMPLE: Family = "logreg"
COMPLEX: Family = "lightgbm"
FAMILY_WORDS: Mapping[str, str] = {SIMPLE: "logistic regression", COMPLEX: "LightGBM"}


def _signed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.3f}"


@dataclasses.dataclass(frozen=True)
class FamilyChoice:
    """Which family became a band's model, and the evidence.

    Attributes
    ----------
    chosen : {"logreg", "lightgbm"}
    auc_lightgbm, auc_logreg : float
        Test AUCs (calibrated models, same rows).
    auc_diff, auc_diff_lo, auc_diff_hi : float
        LightGBM minus logistic regression, paired bootstrap interval.
    confidence : float
        Two-sided level of the interval (e.g. 0.95).
    min_gain : float
        The margin the lower end must exceed (``training.family.min_gain``).
    """

    chosen: Family
    auc_lightgbm: float
    auc_logreg: float
    auc_diff: float
    auc_diff_lo: float
    auc_diff_hi: float
    confidence: float
    min_gain: float

    @property
    def rule(self) -> str:
        """The rule, in words."""
        one_sided = f"{100 * (1 - self.confidence) / 2:.3g}"
        return (
            f"the logistic regression unless the lower end of the {100 * self.confidence:g} % paired interval "
            f"of LightGBM's AUC minus the logistic regression's is above {self.min_gain:g} (a decision: LightGBM "
            f"is chosen when it is not better with at most {one_sided} % chance: "
            "the level of a choice, not the level of the intervals of the figures shown)"
        )

    @property
    def interval_text(self) -> str:
        """``+0.001 [-0.003, +0.006]``."""
        return f"{_signed(self.auc_diff)} [{_signed(self.auc_diff_lo)}, {_signed(self.auc_diff_hi)}]"

    @property
    def reason(self) -> str:
        """Why, in one plain sentence.

        Examples
        --------
        >>> FamilyChoice("logreg", 0.776, 0.775, 0.001, -0.003, 0.006, 0.95, 0.0).reason.split(" because ")[1]
        'LightGBM was not better beyond its 95 % interval: +0.001 [-0.003, +0.006].'
        """
        level = f"{100 * self.confidence:g} %"
        margin = "" if self.min_gain == 0 else f" by more than {self.min_gain:g}"
        if self.chosen == COMPLEX:
            return (
                f"LightGBM was chosen because it was better than the logistic regression{margin} beyond its "
                f"{level} interval: {self.interval_text}."
            )
        return (
            f"The logistic regression was chosen because LightGBM was not better{margin} beyond its "
            f"{level} interval: {self.interval_text}."
        )

    def tags(self) -> dict[str, str]:
        """Tags for the registered model version: ``aanwas.family`` and ``aanwas.family_reason``."""
        return {"aanwas.family": self.chosen, "aanwas.family_reason": self.reason}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN as None), with the rule and the reason in words."""

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "chosen": self.chosen,
            "chosen_words": FAMILY_WORDS[self.chosen],
            "auc_lightgbm": num(self.auc_lightgbm),
            "auc_logreg": num(self.auc_logreg),
            "auc_diff": num(self.auc_diff),
            "auc_diff_lo": num(self.auc_diff_lo),
            "auc_diff_hi": num(self.auc_diff_hi),
            "confidence": self.confidence,
            "min_gain": self.min_gain,
            "rule": self.rule,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FamilyChoice:
        """Inverse of :meth:`to_dict`."""

        def num(key: str) -> float:
            v = d.get(key)
            return float("nan") if v is None else float(v)

        chosen: Family = COMPLEX if d.get("chosen") == COMPLEX else SIMPLE
        return cls(
            chosen,
            num("auc_lightgbm"),
            num("auc_logreg"),
            num("auc_diff"),
            num("auc_diff_lo"),
            num("auc_diff_hi"),
            float(d.get("confidence", 0.95)),
            float(d.get("min_gain", 0.0)),
        )


def choose_family(
    auc_lightgbm: float,
    auc_logreg: float,
    comparison: Mapping[str, float],
    cfg: FamilyConfig,
    *,
    confidence: float,
) -> FamilyChoice:
    """Apply the family rule to one band (pure).

    Parameters
    ----------
    auc_lightgbm, auc_logreg : float
        Test AUCs of the two calibrated models.
    comparison : mapping
        LightGBM minus logistic regression on the same test rows: ``auc_diff``,
        ``auc_diff_lo``, ``auc_diff_hi`` (:func:`training.compare.paired_auc_difference`).
    cfg : FamilyConfig
        ``min_gain``: the lower end must be strictly above it for LightGBM.
    confidence : float
        Level of the interval (``training.comparison.confidence``), for the record.

    Returns
    -------
    FamilyChoice

    Examples
    --------
    >>> c = {"auc_diff": 0.004, "auc_diff_lo": 0.001, "auc_diff_hi": 0.008}
    >>> choose_family(0.78, 0.776, c, FamilyConfig(), confidence=0.95).chosen
    'lightgbm'
    >>> choose_family(0.78, 0.776, c, FamilyConfig(min_gain=0.001), confidence=0.95).chosen
    'logreg'
    """
    lo = float(comparison.get("auc_diff_lo", float("nan")))
    chosen: Family = COMPLEX if math.isfinite(lo) and lo > cfg.min_gain else SIMPLE
    return FamilyChoice(
        chosen=chosen,
        auc_lightgbm=float(auc_lightgbm),
        auc_logreg=float(auc_logreg),
        auc_diff=float(comparison.get("auc_diff", float("nan"))),
        auc_diff_lo=lo,
        auc_diff_hi=float(comparison.get("auc_diff_hi", float("nan"))),
        confidence=float(confidence),
        min_gain=float(cfg.min_gain),
    )
