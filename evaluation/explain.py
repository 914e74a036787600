"""SHAP explanations summarised into aggregates that pass the minimum cell size.

TreeExplainer (LightGBM) or LinearExplainer (the logistic regression) computes per-person SHAP
values inside this module only; what leaves it is (a) global importance, the mean absolute SHAP
value per feature with a bootstrap interval, and (b) dependence summaries: the mean SHAP value
per bin of a feature's values, where bins are merged until each holds at least the minimum cell
size. No per-person value is returned.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd

from aanwas.common.compute import Executor
from evaluation._cells import enough
from evaluation.bootstrap import bootstrap, divide, group_sums
from evaluation.config import EvaluationConfig

MISSING_BIN = "missing"


@dataclasses.dataclass(frozen=True)
class ShapSummary:
    """Aggregated SHAP explanation of one model (one band).

    Attributes
    ----------
    importance : pandas.DataFrame
        ``feature, mean_abs_shap, ci_lo, ci_hi, share`` sorted by importance (features, not
        areas: ordering features is not a league table).
    dependence : pandas.DataFrame
        ``feature, bin, value_from, value_to, n_persons, mean_shap, ci_lo, ci_hi, status``;
        a bin holds ``value_from < x <= value_to`` (outer ends infinite, so no single person's
        extreme value is shown); NaN bounds for the missing-value bin.
    n_persons : int
        Rows explained (a seeded sample of at most ``cfg.shap.max_rows``).
    scale : str
        What SHAP values are in (log-odds of the uncalibrated tree model).
    """

    importance: pd.DataFrame
    dependence: pd.DataFrame
    n_persons: int
    scale: str = "log-odds of the uncalibrated tree model"  # TREE_SCALE; LINEAR_SCALE for a logistic regression


def _bins_for(x: np.ndarray, target_bins: int, min_cell: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Bin codes (-1 for NaN) and (from, to] bounds; adjacent bins merged to reach min_cell."""
    finite = ~np.isnan(x)
    values = np.unique(x[finite])
    if len(values) == 0:
        return np.full(len(x), -1, dtype=np.int64), []
    if len(values) <= target_bins:
        cuts = values[:-1]  # one bin per distinct value
    else:
        cuts = np.unique(np.quantile(x[finite], np.linspace(0, 1, target_bins + 1))[1:-1])
    codes = np.full(len(x), -1, dtype=np.int64)
    codes[finite] = np.searchsorted(cuts, x[finite], side="left")
    counts = np.bincount(codes[finite], minlength=len(cuts) + 1)
    # merge the smallest under-filled bin with its smaller neighbour until all pass (loop over
    # bins, at most target_bins iterations)
    cuts_l = list(cuts)
    counts_l = list(counts)
    while len(counts_l) > 1 and min(counts_l) < min_cell:
        i = int(np.argmin(counts_l))
        if i == 0:
            j = 1
        elif i == len(counts_l) - 1:
            j = i - 1
        else:
            j = i - 1 if counts_l[i - 1] <= counts_l[i + 1] else i + 1
        lo, hi = min(i, j), max(i, j)
        counts_l[lo] += counts_l[hi]
        del counts_l[hi]
        del cuts_l[lo]
    cuts = np.asarray(cuts_l, dtype=np.float64)
    codes[finite] = np.searchsorted(cuts, x[finite], side="left")
    # open outer ends: the extreme values of single persons are never shown
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    bounds = [(float(edges[b]), float(edges[b + 1])) for b in range(len(cuts) + 1)]
    return codes, bounds


def aggregate_shap_values(
    shap_values: np.ndarray,
    X: pd.DataFrame,
    *,
    cfg: EvaluationConfig,
    n_dependence: int | None = None,
    executor: Executor | None = None,
) -> ShapSummary:
    """Aggregate a per-person SHAP matrix into importance and binned dependence summaries.

    Parameters
    ----------
    shap_values : numpy.ndarray
        ``(n, p)`` SHAP values aligned with ``X``'s rows and columns (not kept).
    X : pandas.DataFrame
        The explained feature rows.
    cfg : EvaluationConfig
        Bootstrap, minimum cell size, bins.
    n_dependence : int, optional
        Number of most important features to summarise (default from config).
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    ShapSummary

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.integers(0, 2, 200).astype(float), "b": rng.random(200)})
    >>> S = np.column_stack([X["a"] - 0.5, 0.1 * (X["b"] - 0.5)])
    >>> from evaluation.config import BootstrapConfig
    >>> out = aggregate_shap_values(S, X, cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=50)))
    >>> out.importance["feature"].tolist()
    ['a', 'b']
    """
    S = np.asarray(shap_values, dtype=np.float64)
    n, p = S.shape
    names = [str(c) for c in X.columns]
    k_dep = min(p, cfg.shap.dependence_features if n_dependence is None else n_dependence)
    mean_abs = np.abs(S).mean(axis=0)
    top = np.argsort(-mean_abs, kind="stable")[:k_dep]
    binned = {}
    for j in top:
        x = X.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan)
        codes, bounds = _bins_for(x, cfg.shap.bins, cfg.min_cell_size)
        nb = len(bounds)
        codes = np.where(codes < 0, nb, codes)  # NaN -> last code
        binned[j] = (codes, bounds, nb + 1)
    absS = np.abs(S)

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        tot = W.sum(axis=1, keepdims=True)
        out = {"importance": divide(W @ absS, tot)}
        for j, (codes, _, k) in binned.items():
            out[f"dep|{j}"] = divide(group_sums(W, codes, k, S[:, j]), group_sums(W, codes, k))
        return out

    est = bootstrap(
        stat, n, reps=cfg.bootstrap.reps, seed=cfg.bootstrap.seed, max_cells=cfg.bootstrap.max_cells, executor=executor
    )
    lo, hi = est["importance"].interval(cfg.quantiles)
    imp = est["importance"].point
    ok_n = bool(enough(n, cfg.min_cell_size))
    importance = pd.DataFrame(
        {
            "feature": names,
            "mean_abs_shap": imp if ok_n else np.nan,
            "ci_lo": lo if ok_n else np.nan,
            "ci_hi": hi if ok_n else np.nan,
            "share": divide(imp, imp.sum()) if ok_n else np.nan,
        }
    )
    importance = importance.iloc[np.argsort(-imp, kind="stable")].reset_index(drop=True)

    rows: list[dict[str, Any]] = []
    for j, (codes, bounds, k) in binned.items():
        e = est[f"dep|{j}"]
        blo, bhi = e.interval(cfg.quantiles)
        counts = np.bincount(codes, minlength=k).astype(np.float64)
        for b in range(k):
            if counts[b] == 0:
                continue
            ok = bool(enough(counts[b], cfg.min_cell_size))
            is_nan = b == k - 1
            rows.append(
                {
                    "feature": names[j],
                    "bin": MISSING_BIN if is_nan else str(b + 1),
                    "value_from": np.nan if is_nan else bounds[b][0],
                    "value_to": np.nan if is_nan else bounds[b][1],
                    "n_persons": counts[b] if ok else np.nan,
                    "mean_shap": e.point[b] if ok else np.nan,
                    "ci_lo": blo[b] if ok else np.nan,
                    "ci_hi": bhi[b] if ok else np.nan,
                    "status": "ok" if ok else "too few",
                }
            )
    dependence = pd.DataFrame(
        rows, columns=["feature", "bin", "value_from", "value_to", "n_persons", "mean_shap", "ci_lo", "ci_hi", "status"]
    )
    return ShapSummary(importance=importance, dependence=dependence, n_persons=n)


#: What the SHAP values of each model kind are in (:attr:`ShapSummary.scale`).
TREE_SCALE = "log-odds of the uncalibrated tree model"
LINEAR_SCALE = "log-odds of the uncalibrated logistic regression, relative to its training mean"


def _unwrap(model: Any) -> Any:
    """The fitted model inside the calibration wrappers (CalibratedClassifierCV around a
    FrozenEstimator, as :func:`models.fit_calibrated` makes them): SHAP explains the model's
    own log-odds, which the monotone calibration map does not reorder."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    while isinstance(model, CalibratedClassifierCV | FrozenEstimator):
        model = model.estimator
    return model


def _linear_parts(model: Any) -> tuple[Any, Any] | None:
    """``(transform, logistic)`` of a pipeline ending in a logistic regression, else None."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and isinstance(model.steps[-1][1], LogisticRegression):
        return model[:-1], model.steps[-1][1]
    if isinstance(model, LogisticRegression):
        return None, model
    return None


def shap_scale(model: Any) -> str:
    """What :func:`compute_shap_values` of ``model`` is measured in."""
    return LINEAR_SCALE if _linear_parts(_unwrap(model)) is not None else TREE_SCALE


def _linear_shap(transform: Any, logistic: Any, X: pd.DataFrame) -> np.ndarray:
    """Exact SHAP values of a logistic regression on its inputs' own columns.

    ``shap.LinearExplainer`` on the transformed columns with the training mean as background
    (zero after the pipeline's StandardScaler; interventional, features independent) gives
    ``coef_j * z_j``; a missingness-indicator column (SimpleImputer ``add_indicator``) is a
    function of its source column alone, so its value is added to that column's. The values
    of a row sum to its log-odds minus the log-odds at the training mean.
    """
    import shap

    Z = np.asarray(X if transform is None else transform.transform(X), dtype=np.float64)
    background = np.zeros((1, Z.shape[1])) if transform is not None else np.asarray(X, dtype=np.float64).mean(0)[None]
    sv = np.asarray(shap.LinearExplainer(logistic, shap.maskers.Independent(background)).shap_values(Z))
    p = X.shape[1]
    out = sv[:, :p].copy()
    if sv.shape[1] > p:  # the missingness indicators, in the order of their source columns
        impute = next(step for _, step in transform.steps if hasattr(step, "indicator_"))
        sources = np.asarray(impute.indicator_.features_, dtype=np.int64)
        if sources.size != sv.shape[1] - p:
            raise ValueError("cannot map the logistic regression's inputs back to its features")
        for k, j in enumerate(sources):  # one indicator per source column
            out[:, j] += sv[:, p + k]
    return out


def compute_shap_values(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Per-person SHAP values of the positive class, in memory.

    A tree model (LightGBM: :class:`models.LightGBMRiskClassifier` through its booster, a
    LightGBM booster or classifier, scikit-learn trees) goes through ``shap.TreeExplainer``;
    a logistic regression (a pipeline ending in one, e.g. :func:`models.build_logistic_baseline`)
    through ``shap.LinearExplainer`` (:func:`_linear_shap`). Calibration wrappers are removed
    first (:func:`_unwrap`). Handles the output shapes of LightGBM (``(n, p)``, or a list per
    class) and of scikit-learn forests (``(n, p, classes)``).
    """
    model = _unwrap(model)
    with warnings.catch_warnings():
        # shap's import warns about matplotlib deprecations, and TreeExplainer about
        # LightGBM's output shape; neither concerns us
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

        linear = _linear_parts(model)
        if linear is not None:
            return _linear_shap(*linear, X)
        # models.LightGBMRiskClassifier: its booster (lightgbm.train keeps the trees up to the
        # best iteration, the ones it predicts with)
        sv = shap.TreeExplainer(getattr(model, "booster_", model)).shap_values(X)
    if isinstance(sv, list):
        sv = sv[-1]
    sv = np.asarray(sv)
    if sv.ndim == 3:
        sv = sv[:, :, -1]
    return sv


def aggregate_shap(
    model: Any, X: pd.DataFrame, *, cfg: EvaluationConfig, executor: Executor | None = None
) -> ShapSummary:
    """Explain ``model`` on a seeded sample of ``X`` and return only binned aggregates.

    Parameters
    ----------
    model : fitted model
        A tree model or a logistic regression, calibrated or not (see
        :func:`compute_shap_values`).
    X : pandas.DataFrame
        Feature rows of one band, columns in the model's order.
    cfg : EvaluationConfig
        ``shap.max_rows`` (sample size), ``seed``, bins and minimum cell size.
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    ShapSummary
    """
    if len(X) > cfg.shap.max_rows:
        rng = np.random.default_rng(cfg.bootstrap.seed)
        idx = np.sort(rng.choice(len(X), size=cfg.shap.max_rows, replace=False))
        X = X.iloc[idx]
    sv = compute_shap_values(model, X)
    summary = dataclasses.replace(aggregate_shap_values(sv, X, cfg=cfg, executor=executor), scale=shap_scale(model))
    del sv
    return summary
