"""Discrimination and calibration metrics of risk scores (AUC, PR-AUC, Brier, ECE).

``*_score`` is maximised, ``*_error``/``*_loss`` minimised (scikit-learn's convention).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models._target import binary_target

BinStrategy = Literal["quantile", "uniform"]


def expected_calibration_error(
    y_true: Any, y_prob: Any, *, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> float:
    """Expected calibration error: sum over bins of (bin share) x |mean risk - observed rate|.

    Parameters
    ----------
    y_true : array-like of 0/1
    y_prob : array-like of probabilities
    n_bins : int
        Number of bins.
    strategy : {"quantile", "uniform"}
        ``quantile``: equal-count bins by rank (right for rare outcomes, where nearly all
        probabilities sit in the lowest uniform bin); ``uniform``: equal-width bins on [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> expected_calibration_error([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], n_bins=2)
    0.0
    >>> expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], n_bins=1)
    0.0
    >>> round(expected_calibration_error([0, 0, 0, 1], [0.2, 0.2, 0.6, 0.6], n_bins=2), 3)
    0.15
    """
    y = binary_target(y_true).astype(float)
    p = np.asarray(y_prob, dtype=float).ravel()
    if p.shape != y.shape:
        raise ValueError("y_true and y_prob must have the same length")
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    n = p.size
    if n == 0:
        raise ValueError("no rows")
    if strategy == "quantile":
        ranks = np.empty(n, dtype=np.int64)
        ranks[np.argsort(p, kind="stable")] = np.arange(n)
        bins = ranks * n_bins // n
    elif strategy == "uniform":
        bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=p, minlength=n_bins) - np.bincount(bins, weights=y, minlength=n_bins))
    # sum_b (n_b / n) * |sum_p/n_b - sum_y/n_b| = sum_b |sum_p - sum_y| / n
    return float(gap[count > 0].sum() / n)


def score_metrics(
    y_true: Any,
    y_prob: Any,
    *,
    truth: Any = None,
    n_bins: int = 10,
    strategy: BinStrategy = "quantile",
) -> dict[str, float]:
    """All metrics of one set of risk scores, as a flat dict of floats.

    Parameters
    ----------
    y_true : array-like of 0/1 (observed labels)
    y_prob : array-like of calibrated probabilities
    truth : array-like of true probabilities, optional
        On synthetic data: the true risk of the observed label. Adds ``oracle_auc`` (the
        best achievable AUC), ``oracle_brier`` and ``oracle_ece`` (the true risk's ECE on the
        same rows and bins: what sampling noise alone gives a perfectly calibrated risk).
    n_bins, strategy :
        Passed to :func:`expected_calibration_error`.

    Returns
    -------
    dict
        ``auc``, ``pr_auc``, ``brier``, ``ece``, ``prevalence``, ``mean_risk`` and, with
        ``truth``, ``oracle_auc``, ``oracle_brier`` and ``oracle_ece``. AUC and PR-AUC are NaN when only
        one outcome occurs.

    Examples
    --------
    >>> m = score_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m["auc"], m["prevalence"]
    (0.75, 0.5)
    """
    y = binary_target(y_true)
    p = np.asarray(y_prob, dtype=float).ravel()
    both = 0 < y.sum() < y.size
    out = {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p, n_bins=n_bins, strategy=strategy),
        "prevalence": float(y.mean()),
        "mean_risk": float(p.mean()),
    }
    if truth is not None:
        t = np.asarray(truth, dtype=float).ravel()
        if t.shape != y.shape:
            raise ValueError("truth must align with y_true")
        out["oracle_auc"] = float(roc_auc_score(y, t)) if both else float("nan")
        out["oracle_brier"] = float(brier_score_loss(y, t))
        out["oracle_ece"] = expected_calibration_error(y, t, n_bins=n_bins, strategy=strategy)
    return out
