"""Discrimination and calibration of calibrated risk scores, with bootstrap intervals.

For one age band (one scored frame): ROC AUC, PR AUC (average precision), Brier score, the
calibration curve and its expected calibration error (ECE), and precision and recall at the
"elevated" threshold. Every number carries a percentile bootstrap interval from the same
replicates, so differences to baselines are paired.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from aanwas.common.compute import Executor
from evaluation._cells import enough
from evaluation.bootstrap import (
    Estimate,
    bootstrap,
    cell_pair_counts,
    divide,
    group_sums,
    weighted_average_precision,
)
from evaluation.config import EvaluationConfig

#: Metrics of :func:`audit_performance`; ``*_score`` higher is better, ``*_error`` lower is better.
PERFORMANCE_METRICS = (
    "auc",
    "pr_auc",
    "brier",
    "ece",
    "precision",
    "recall",
    "selection_rate",
    "prevalence",
    "mean_predicted",
)


@dataclasses.dataclass(frozen=True)
class PerformanceResult:
    """Performance of a model (and its baselines) on one scored frame.

    Attributes
    ----------
    metrics : pandas.DataFrame
        ``model, metric, value, ci_lo, ci_hi, status`` (status "ok" or "too few"). The
        ``ece`` row is bias-corrected with a basic bootstrap interval (see ``_debias``).
    comparison : pandas.DataFrame
        ``baseline, metric, difference, ci_lo, ci_hi`` (model minus baseline, paired bootstrap).
    calibration : pandas.DataFrame
        ``bin, score_from, score_to, n_persons, mean_predicted (+ci), observed_rate (+ci), status``.
    n_persons : int
        Rows evaluated.
    """

    metrics: pd.DataFrame
    comparison: pd.DataFrame
    calibration: pd.DataFrame
    n_persons: int


def calibration_edges(s: np.ndarray, bins: int, strategy: str) -> np.ndarray:
    """Bin edges of the calibration curve (unique; quantile bins collapse on ties).

    Examples
    --------
    >>> calibration_edges(np.linspace(0, 1, 101), 4, "uniform").tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if strategy == "quantile":
        edges = np.quantile(s, np.linspace(0.0, 1.0, bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
        edges[0] = min(edges[0], float(np.min(s)))
        edges[-1] = max(edges[-1], float(np.max(s)))
    return np.unique(edges)


def bin_codes(s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each score: bin ``i`` holds ``edges[i] < s <= edges[i+1]`` (first bin closed)."""
    inner = edges[1:-1]
    return np.searchsorted(inner, s, side="left").astype(np.int64)


def _debias(point: float, reps: np.ndarray, lo: float, hi: float) -> tuple[float, float, float]:
    """Bias-corrected value and basic bootstrap interval, clipped at 0.

    The ECE sums absolute gaps, so sampling noise alone makes it positive and the bootstrap
    replicates sit above the estimate; the percentile interval would then exclude the
    estimate. The bootstrap bias estimate corrects the point (``2*point - mean(reps)``) and
    the basic interval (``2*point - hi, 2*point - lo``) keeps it inside.
    """
    if not np.isfinite(reps).any():
        return point, lo, hi
    corrected = 2.0 * point - float(np.nanmean(reps))
    return max(0.0, corrected), max(0.0, 2.0 * point - float(hi)), max(0.0, 2.0 * point - float(lo))


def _check_inputs(y: np.ndarray, s: np.ndarray) -> None:
    if len(y) != len(s):
        raise ValueError("label and score differ in length")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1")


def _metric_table(
    est: Mapping[str, Estimate], y: np.ndarray, preds: Mapping[str, np.ndarray], cfg: EvaluationConfig
) -> pd.DataFrame:
    """Every metric of the model and each baseline with its interval; "too few" below the
    minimum cell size (of persons, and of the metric's denominator when so configured)."""
    n = len(y)
    q = cfg.quantiles
    mc = cfg.min_cell_size
    n_pos = float(y.sum())
    n_neg = n - n_pos
    rows = []
    for m in preds:
        n_pred = float(preds[m].sum())
        denominators = {
            "auc": min(n_pos, n_neg),
            "pr_auc": n_pos,
            "precision": n_pred if cfg.min_cell_denominators else n,
            "recall": n_pos if cfg.min_cell_denominators else n,
        }
        for metric in PERFORMANCE_METRICS:
            e = est[f"{m}|{metric}"]
            lo_a, hi_a = e.interval(q)
            point, lo, hi = float(e.point), float(lo_a), float(hi_a)
            if metric == "ece":
                point, lo, hi = _debias(point, e.reps, lo, hi)
            ok = bool(enough(n, mc)) and bool(enough(denominators.get(metric, n), mc))
            rows.append(
                {
                    "model": m,
                    "metric": metric,
                    "value": point if ok else np.nan,
                    "ci_lo": lo if ok else np.nan,
                    "ci_hi": hi if ok else np.nan,
                    "status": "ok" if ok else "too few",
                }
            )
    metrics = pd.DataFrame(rows)

    return metrics


def _baseline_comparison(
    est: Mapping[str, Estimate], metrics: pd.DataFrame, baselines: Sequence[str], q: tuple[float, float]
) -> pd.DataFrame:
    """Paired bootstrap differences model minus baseline of AUC, PR-AUC and Brier score."""
    comp = []
    for b in baselines:
        for metric in ("auc", "pr_auc", "brier"):
            d = est[f"model|{metric}"].reps - est[f"{b}|{metric}"].reps
            diff = float(est[f"model|{metric}"].point - est[f"{b}|{metric}"].point)
            dlo, dhi = (float(x) for x in np.nanpercentile(d, q)) if np.isfinite(d).any() else (np.nan, np.nan)
            ok = (
                metrics.loc[(metrics["model"].isin(["model", b])) & (metrics["metric"] == metric), "status"]
                .eq("ok")
                .all()
            )
            comp.append(
                {
                    "baseline": b,
                    "metric": metric,
                    "difference": diff if ok else np.nan,
                    "ci_lo": dlo if ok else np.nan,
                    "ci_hi": dhi if ok else np.nan,
                    "status": "ok" if ok else "too few",
                }
            )
    comparison = pd.DataFrame(comp, columns=["baseline", "metric", "difference", "ci_lo", "ci_hi", "status"])

    return comparison


def _calibration_table(
    est: Mapping[str, Estimate], cal_codes: np.ndarray, edges: np.ndarray, s0: np.ndarray, cfg: EvaluationConfig
) -> pd.DataFrame:
    """Mean predicted risk and observed rate per calibration bin, with intervals; bins below
    the minimum cell size suppressed."""
    nbins = len(edges) - 1
    q = cfg.quantiles
    mc = cfg.min_cell_size
    counts = np.bincount(cal_codes, minlength=nbins).astype(np.float64)
    ok_bin = enough(counts, mc)
    plo, phi = est["cal|pred"].interval(q)
    olo, ohi = est["cal|obs"].interval(q)
    # outer bounds are the score scale's limits, not the lowest and highest person's score
    lower, upper = edges[:-1].copy(), edges[1:].copy()
    in_unit = bool(s0.min() >= 0.0 and s0.max() <= 1.0)
    lower[0], upper[-1] = (0.0, 1.0) if in_unit else (-np.inf, np.inf)
    calibration = pd.DataFrame(
        {
            "bin": np.arange(nbins) + 1,
            "score_from": lower,
            "score_to": upper,
            "n_persons": np.where(ok_bin, counts, np.nan),
            "mean_predicted": np.where(ok_bin, est["cal|pred"].point, np.nan),
            "mean_predicted_lo": np.where(ok_bin, plo, np.nan),
            "mean_predicted_hi": np.where(ok_bin, phi, np.nan),
            "observed_rate": np.where(ok_bin, est["cal|obs"].point, np.nan),
            "observed_rate_lo": np.where(ok_bin, olo, np.nan),
            "observed_rate_hi": np.where(ok_bin, ohi, np.nan),
            "status": np.where(ok_bin, "ok", "too few"),
        }
    )
    return calibration


def audit_performance(
    frame: pd.DataFrame,
    *,
    label: str,
    score: str,
    threshold: float,
    cfg: EvaluationConfig,
    baselines: Sequence[str] = (),
    executor: Executor | None = None,
) -> PerformanceResult:
    """Performance metrics with bootstrap intervals for ``score`` and each baseline column.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person (one band); ``label`` 0/1 without missing values, scores in [0, 1].
    label, score : str
        Column names of the observed outcome and the calibrated risk.
    threshold : float
        A person is "elevated" (predicted positive) when ``score >= threshold``.
    cfg : EvaluationConfig
        Bootstrap size, seed, alpha, minimum cell size, calibration bins.
    baselines : sequence of str
        Columns holding baseline scores, compared with paired bootstrap differences.
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    PerformanceResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.random(400)
    >>> df = pd.DataFrame({"y": (rng.random(400) < s).astype(int), "s": s})
    >>> from evaluation.config import BootstrapConfig
    >>> cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=50))
    >>> res = audit_performance(df, label="y", score="s", threshold=0.5, cfg=cfg)
    >>> bool(res.metrics.set_index("metric").loc["auc", "value"] > 0.6)
    True
    """
    y = frame[label].to_numpy(dtype=np.float64)
    models = {"model": frame[score].to_numpy(dtype=np.float64)}
    for b in baselines:
        models[b] = frame[b].to_numpy(dtype=np.float64)
    for s in models.values():
        _check_inputs(y, s)
    n = len(y)
    s0 = models["model"]
    edges = calibration_edges(s0, cfg.calibration.bins, cfg.calibration.strategy)
    cal_codes = bin_codes(s0, edges)
    nbins = len(edges) - 1
    zero = np.zeros(n, dtype=np.int64)
    preds = {m: (s >= threshold).astype(np.float64) for m, s in models.items()}
    ece_bins = {
        m: bin_codes(s, calibration_edges(s, cfg.calibration.bins, cfg.calibration.strategy)) for m, s in models.items()
    }

    # AUC from pair counts whose sort is done once, not once per bootstrap chunk
    pairs = {m: cell_pair_counts(y, s, zero, 1, max_cells=cfg.bootstrap.max_cells) for m, s in models.items()}

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        tot = W.sum(axis=1)
        npos = W @ y
        out: dict[str, np.ndarray] = {}
        for m, s in models.items():
            pred = preds[m]
            npred = W @ pred
            tp = W @ (pred * y)
            out[f"{m}|auc"] = divide(pairs[m](W)[:, 0, 0], npos * (tot - npos))
            out[f"{m}|pr_auc"] = weighted_average_precision(W, y, s, zero, 1)[:, 0]
            out[f"{m}|brier"] = divide(W @ ((s - y) ** 2), tot)
            out[f"{m}|precision"] = divide(tp, npred)
            out[f"{m}|recall"] = divide(tp, npos)
            out[f"{m}|selection_rate"] = divide(npred, tot)
            out[f"{m}|prevalence"] = divide(npos, tot)
            out[f"{m}|mean_predicted"] = divide(W @ s, tot)
            codes = ece_bins[m]
            k = int(codes.max()) + 1
            wn = group_sums(W, codes, k)
            gap = np.abs(divide(group_sums(W, codes, k, y), wn) - divide(group_sums(W, codes, k, s), wn))
            out[f"{m}|ece"] = divide(np.nansum(np.where(wn > 0, wn * gap, 0.0), axis=1), tot)
        wn = group_sums(W, cal_codes, nbins)
        out["cal|pred"] = divide(group_sums(W, cal_codes, nbins, s0), wn)
        out["cal|obs"] = divide(group_sums(W, cal_codes, nbins, y), wn)
        return out

    est = bootstrap(
        stat, n, reps=cfg.bootstrap.reps, seed=cfg.bootstrap.seed, max_cells=cfg.bootstrap.max_cells, executor=executor
    )
    metrics = _metric_table(est, y, preds, cfg)
    comparison = _baseline_comparison(est, metrics, baselines, cfg.quantiles)
    calibration = _calibration_table(est, cal_codes, edges, s0, cfg)
    return PerformanceResult(metrics=metrics, comparison=comparison, calibration=calibration, n_persons=n)
