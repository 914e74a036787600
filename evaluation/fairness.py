"""Group fairness audit of a scored table: rates per group, disparities and verdicts.

Selection rate, FPR, FNR and PPV come from fairlearn's :class:`~fairlearn.metrics.MetricFrame`
(run on the compressed confusion table, so it scales); AUC and calibration from the weighted
statistics of the bootstrap engine; intervals from a vectorised row bootstrap whose unit-weight
replicate reproduces the same numbers, except calibration (observed / expected events), whose
interval and test are exact (Poisson, Garwood). Each group gets
``n``, selection rate, FPR, FNR, PPV, AUC and calibration (observed / expected events), and a
disparity against a reference (by default the whole band, never a small group) with a verdict
and the p-value of "within the tolerance band" per metric. A group (or a rate whose
denominator is) smaller than the minimum cell size is reported as "too few", never as a number.
The stages are Aequitas-like: group counts -> disparities -> verdicts; only the CLI writes files.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from fairlearn.metrics import MetricFrame
from scipy import stats
from sklearn.metrics import confusion_matrix

from aanwas.common.compute import Executor
from aanwas.common.errors import InputError
from evaluation._cells import enough
from evaluation.bootstrap import Estimate, bootstrap, cell_pair_counts, codes_of, divide, indicator, percentile_interval
from evaluation.config import FAIRNESS_METRICS, EvaluationConfig

TOO_FEW = "too few"
CANNOT_JUDGE = "cannot judge"
#: Reference of the disparities when every group is compared with the whole band.
OVERALL = "overall"
MISSING_GROUP = "(missing)"
INTERSECTION = " \u00d7 "  # " x " joins attribute names and values of an intersection

#: Human-readable names of the metrics.
METRIC_LABELS: Mapping[str, str] = {
    "selection_rate": "selection rate (share elevated)",
    "fpr": "false positive rate",
    "fnr": "false negative rate",
    "ppv": "positive predictive value",
    "auc": "AUC",
    "calibration": "observed / expected",
    "citl": "calibration-in-the-large (mean predicted \u2212 observed)",
}

#: How each metric's disparity is judged.
COMPARISON: Mapping[str, str] = {
    "selection_rate": "ratio to reference",
    "fpr": "ratio to reference",
    "fnr": "ratio to reference",
    "ppv": "ratio to reference",
    "auc": "difference to reference",
    "calibration": "observed / expected within group",
    "citl": "none",
}

#: Why a metric matters (or matters less) when the tool is used for prevention, not enforcement.
PRIORITY_RATIONALE: Mapping[str, str] = {
    "fnr": "Missing young people who will need support is the main harm of a preventive "
    "(assistive) tool: a higher false negative rate in one group means that group's need is "
    "under-counted and its areas get fewer prevention resources.",
    "calibration": "Area figures are averages of calibrated risks; if risk is over- or "
    "under-estimated within a group, areas where that group lives are mis-stated. Calibration "
    "within groups (observed / expected close to 1) is what makes area aggregates fair.",
    "selection_rate": "Selection-rate parity matters for stigmatisation: a group or area "
    "flagged far more often is at risk of being labelled a 'problem' group or neighbourhood, "
    "even when base rates differ. Differences here are reported with their cause, not forced "
    "to zero (that would break calibration).",
    "fpr": "A false positive in prevention means an offer of support that was not needed: a "
    "smaller harm than in enforcement, but it feeds stigmatisation when concentrated in a group.",
    "ppv": "Positive predictive value tells planners how much of the flagged need is real; "
    "unequal PPV means resources are spread less efficiently in some groups.",
    "auc": "Ranking quality within a group; a much lower AUC means the model sees that group's risk less clearly.",
}


@dataclasses.dataclass(frozen=True)
class FairnessAudit:
    """Result of :func:`audit_fairness` (aggregates only; small cells blanked).

    Attributes
    ----------
    threshold : float
        Positive prediction = score >= threshold.
    n_persons : int
        Rows audited.
    overall : pandas.DataFrame
        ``metric, value, ci_lo, ci_hi, status`` for the whole table.
    groups : pandas.DataFrame
        ``attribute, group, n_persons, status, is_reference`` (n blanked when "too few").
    metrics : pandas.DataFrame
        ``attribute, group, metric, value, ci_lo, ci_hi, comparison, disparity, disparity_lo,
        disparity_hi, p_value, verdict, status``; verdict is ``within`` / ``outside`` /
        ``uncertain`` / ``cannot judge`` / ``reference`` / ``too few`` / ``undefined`` / ``none``;
        ``p_value`` tests "the disparity lies within the tolerance band" (unadjusted; the gate
        corrects for multiplicity).
    references : dict
        Reference per attribute: ``"overall"`` (the whole band) or a group.
    notes : list of str
        Remarks (fallback reference groups, metrics left out).
    metric_names : tuple of str
        Metrics computed.
    """

    threshold: float
    n_persons: int
    overall: pd.DataFrame
    groups: pd.DataFrame
    metrics: pd.DataFrame
    references: dict[str, str]
    notes: list[str]
    metric_names: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# input checks for any scored table (the generic audit)
# --------------------------------------------------------------------------------------------


def _group_text(s: pd.Series) -> pd.Series:
    """Group values as text; missing values form their own group."""
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = v[np.isfinite(v)]
        if len(finite) and np.all(finite == np.round(finite)):
            s = s.astype("Int64")
    out = s.astype("string").fillna(MISSING_GROUP)
    return out.str.strip().replace("", MISSING_GROUP).astype(str)


def validate_scored_table(
    frame: pd.DataFrame,
    *,
    source: str,
    label: str,
    score: str,
    threshold: float,
    groups: Sequence[str],
) -> pd.DataFrame:
    """Check and type a scored table; raise :class:`InputError` naming the first problem.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read (any dtypes).
    source : str
        Name of the file, used in error messages.
    label, score : str
        Outcome column (0/1) and score column (numeric).
    threshold : float
        Must lie within the range of the scores.
    groups : sequence of str
        Group columns; missing values become the group "(missing)".

    Returns
    -------
    pandas.DataFrame
        ``label`` as int8, ``score`` as float64, group columns as text; same index.

    Raises
    ------
    InputError
        Missing column, no rows, non-numeric or missing score, label not 0/1, only one outcome,
        threshold outside the score range, a group column that is the label or score column.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [0, 1], "s": [0.2, 0.7], "g": ["a", "b"]})
    >>> validate_scored_table(df, source="t.csv", label="y", score="s", threshold=0.5, groups=["g"]).dtypes.tolist()
    [dtype('int8'), dtype('float64'), <StringDtype(na_value=nan)>]
    """
    for col in (label, score, *groups):
        if col not in frame.columns:
            raise InputError(source, col, None, "column not found")
    if label == score:
        raise InputError(source, label, None, "label and score must be different columns")
    for g in groups:
        if g in (label, score):
            raise InputError(source, g, None, "a group column cannot be the label or score column")
    if len(frame) == 0:
        raise InputError(source, None, 0, "the table has no rows")

    raw = frame[score]
    num = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_bool_dtype(raw.dtype) else None
    if num is None:
        raise InputError(source, score, len(raw), "score is not numeric")
    values = num.to_numpy(dtype=np.float64, na_value=np.nan)
    present = raw.notna().to_numpy()
    not_number = present & np.isnan(values)
    if not_number.any():
        raise InputError(source, score, int(not_number.sum()), "score is not a number")
    if (~present).any():
        raise InputError(source, score, int((~present).sum()), "score is missing")
    if not np.isfinite(values).all():
        raise InputError(source, score, int((~np.isfinite(values)).sum()), "score is not finite")

    lab = frame[label]
    if (lab.isna()).any():
        raise InputError(source, label, int(lab.isna().sum()), "label is missing")
    if pd.api.types.is_bool_dtype(lab.dtype):
        y = lab.to_numpy(dtype=np.float64)
    else:
        y = pd.to_numeric(lab, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise InputError(source, label, int(bad.sum()), "label must be 0 or 1")
    if len(np.unique(y)) < 2:
        raise InputError(source, label, None, "label has only one outcome; need both 0 and 1")

    if not math.isfinite(threshold) or threshold < values.min() or threshold > values.max():
        raise InputError(source, score, None, f"threshold {threshold:g} lies outside the range of the scores")

    out = pd.DataFrame({label: y.astype(np.int8), score: values}, index=frame.index)
    for g in groups:
        out[g] = _group_text(frame[g])
    return out


# --------------------------------------------------------------------------------------------
# groups, references, metric functions
# --------------------------------------------------------------------------------------------


def build_group_columns(frame: pd.DataFrame, attributes: Sequence[str], max_order: int) -> dict[str, pd.Series]:
    """Group columns per attribute and per intersection of up to ``max_order`` attributes.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["M", "V"], "inc": [1, 2]})
    >>> cols = build_group_columns(df, ["sex", "inc"], 2)
    >>> list(cols), cols["sex \u00d7 inc"].tolist()
    (['sex', 'inc', 'sex \u00d7 inc'], ['M \u00d7 1', 'V \u00d7 2'])
    """
    base = {a: _group_text(frame[a]) for a in attributes}
    out = dict(base)
    for order in range(2, max_order + 1):
        for combo in itertools.combinations(attributes, order):
            col = base[combo[0]]
            for a in combo[1:]:
                col = col + INTERSECTION + base[a]
            out[INTERSECTION.join(combo)] = col.astype(str)
    return out


def _configured_reference(attribute: str, references: Mapping[str, str]) -> str | None:
    parts = attribute.split(INTERSECTION)
    if len(parts) == 1:
        return references.get(attribute)
    refs = [references.get(p) for p in parts]
    known = [r for r in refs if r is not None]
    return INTERSECTION.join(known) if len(known) == len(refs) else None


def _confusion_metric_frame(codes: np.ndarray, labels: np.ndarray, y: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """Selection rate, FPR, FNR and PPV per group from fairlearn's MetricFrame.

    MetricFrame disaggregates sklearn's confusion matrix by group; it runs on the compressed
    confusion table (one row per group x outcome x prediction, weighted by its count), which
    gives exactly the per-row results at any scale and keeps the per-group overhead to one
    metric call.
    """
    k = len(labels)
    cell = codes * 4 + y.astype(np.int64) * 2 + pred.astype(np.int64)
    counts = np.bincount(cell, minlength=4 * k)
    present = np.flatnonzero(counts)
    g, yc, pc, w = present // 4, (present // 2) % 2, present % 2, counts[present].astype(np.float64)

    def confusion(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        return confusion_matrix(y_true, y_pred, labels=[0, 1], sample_weight=sample_weight)

    mf = MetricFrame(
        metrics={"confusion": confusion},
        y_true=yc,
        y_pred=pc,
        sensitive_features=pd.Series(labels[g].astype(str), name="group"),
        sample_params={"confusion": {"sample_weight": w}},
    )
    by_group = mf.by_group["confusion"]
    by_group.index = by_group.index.astype(str)
    cm = np.stack(by_group.reindex(labels.astype(str)).to_list()).reshape(k, 4)  # tn, fp, fn, tp
    tn, fp, fn, tp = cm.T.astype(np.float64)
    return pd.DataFrame(
        {
            "selection_rate": divide(fp + tp, tn + fp + fn + tp),
            "fpr": divide(fp, fp + tn),
            "fnr": divide(fn, fn + tp),
            "ppv": divide(tp, tp + fp),
        },
        index=labels.astype(str),
    )


def _verdict(value: np.ndarray, lo: np.ndarray, hi: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """``within`` (estimate in the band), ``outside`` (the whole interval outside the band),
    ``uncertain`` (estimate outside, interval overlapping the band), ``cannot judge`` (a
    degenerate interval: zero width or not finite, e.g. a rate of 0 in every replicate) or
    ``undefined`` (no estimate).

    This is the per-group, descriptive verdict of the tables; the promotion gate judges the
    gating checks with :func:`tolerance_p_values` after a multiplicity correction
    (:mod:`evaluation.gates`).
    """
    within = (value >= band[0]) & (value <= band[1])
    clear = (lo > band[1]) | (hi < band[0])
    v = np.where(within, "within", np.where(clear, "outside", "uncertain"))
    degenerate = ~(np.isfinite(lo) & np.isfinite(hi)) | (hi <= lo)
    v = np.where(degenerate, CANNOT_JUDGE, v)
    return np.where(np.isnan(value), "undefined", v)


def tolerance_p_values(reps: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """p-value of "the metric lies within ``band``" from bootstrap replicates (test inversion).

    The two one-sided tests "above the band" and "below the band" are the inversions of the
    percentile interval: its lower bound exceeds ``band[1]`` at level ``alpha`` exactly when
    fewer than ``alpha / 2`` of the replicates lie at or below ``band[1]``. So
    ``p = min(1, 2 min(P*(rep <= high), P*(rep >= low)))`` rejects at ``alpha`` exactly when the
    ``1 - alpha`` percentile interval lies outside the band (up to the percentile's
    interpolation). NaN where no replicate is defined or all replicates are equal (a degenerate
    interval cannot be judged).

    Examples
    --------
    >>> reps = np.array([[1.5], [1.6], [1.7], [1.4]])
    >>> tolerance_p_values(reps, (0.8, 1.25)).tolist()
    [0.0]
    """
    reps = np.asarray(reps, dtype=np.float64)
    ok = ~np.isnan(reps)
    m = ok.sum(axis=0)
    below_high = divide(((reps <= band[1]) & ok).sum(axis=0), m)
    above_low = divide(((reps >= band[0]) & ok).sum(axis=0), m)
    p = np.minimum(1.0, 2.0 * np.minimum(below_high, above_low))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(reps, axis=0) - np.nanmin(reps, axis=0) if len(reps) else np.zeros(reps.shape[1:])
    return np.where((m == 0) | ~(spread > 0), np.nan, p)


def poisson_ratio(
    observed: np.ndarray, expected: np.ndarray, alpha: float, band: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed / expected events with the exact (Garwood) interval and the exact test of
    "the ratio lies within ``band``".

    Under calibration the observed count is a sum of independent Bernoulli(risk) outcomes with
    mean ``expected``; a Poisson count with the same mean has the larger variance, so the
    Poisson test is conservative for it (Hoeffding 1956; Anderson & Samuels 1967). The test
    is the inversion of the interval: ``p < alpha`` exactly when the ``1 - alpha`` Garwood
    interval lies outside the band.

    Returns
    -------
    ratio, lo, hi, p : numpy.ndarray
        NaN where ``expected`` is 0.

    Examples
    --------
    >>> r, lo, hi, p = poisson_ratio(np.array([20.0]), np.array([10.0]), 0.05, (0.8, 1.25))
    >>> round(float(r[0]), 2), round(float(lo[0]), 2), round(float(hi[0]), 2), round(float(p[0]), 3)
    (2.0, 1.22, 3.09, 0.061)

    The interval's lower bound 1.22 lies inside the band 0.8-1.25, so p > 0.05.
    """
    o = np.asarray(observed, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    ratio = divide(o, e)
    lo_count = np.where(o > 0, stats.chi2.ppf(alpha / 2.0, 2.0 * o) / 2.0, 0.0)
    hi_count = stats.chi2.ppf(1.0 - alpha / 2.0, 2.0 * o + 2.0) / 2.0
    lo, hi = divide(lo_count, e), divide(hi_count, e)
    p_above = stats.poisson.sf(o - 1.0, band[1] * e)  # P(count >= o | ratio = high)
    p_below = stats.poisson.cdf(o, band[0] * e)  # P(count <= o | ratio = low)
    p = np.minimum(1.0, 2.0 * np.minimum(p_above, p_below))
    bad = ~(e > 0)
    return ratio, np.where(bad, np.nan, lo), np.where(bad, np.nan, hi), np.where(bad, np.nan, p)


def _reference(
    attribute: str,
    labels: np.ndarray,
    cnt: np.ndarray,
    ok_group: np.ndarray,
    cfg: EvaluationConfig,
    notes: list[str],
) -> tuple[str, int]:
    """The reference of an attribute's disparities: ``("overall", -1)`` for the whole band, or a
    group and its index (the largest, or the configured one when it is present and not too few)."""
    if cfg.fairness.reference == "overall":
        return OVERALL, -1
    names = [str(v) for v in labels]
    r = int(np.argmax(cnt))
    if cfg.fairness.reference == "configured":
        configured = _configured_reference(attribute, cfg.fairness.reference_groups)
        if configured is not None:
            if configured in names and ok_group[names.index(configured)]:
                r = names.index(configured)
            else:
                notes.append(
                    f"{attribute}: configured reference group {configured!r} absent or too few; using the largest group"
                )
    return names[r], r


# --------------------------------------------------------------------------------------------
# the audit
# --------------------------------------------------------------------------------------------


def _bootstrap_groups(
    y: np.ndarray,
    s: np.ndarray,
    pred: np.ndarray,
    coded: Mapping[str, tuple[np.ndarray, np.ndarray]],
    names: Sequence[str],
    cfg: EvaluationConfig,
    executor: Executor | None = None,
) -> dict[str, Estimate]:
    """Bootstrap replicates of every metric of every group, keyed ``"attribute|metric"``
    (``"__overall__|metric"`` for the whole table).

    Every grouping (attribute or intersection) is a union of the finest cells (one per
    combination of the values of all groupings), so one weighted pass over the rows per
    bootstrap chunk gives the sums of every cell, and each grouping's statistics follow from a
    small (cells x groups) membership matrix; AUC comes from cross-cell pair counts.
    """
    n = len(y)
    fine = np.zeros(n, dtype=np.int64)
    for c, labels in coded.values():  # refine the partition by each grouping; codes stay < n
        fine, _ = codes_of(fine * len(labels) + c)
    kf = int(fine.max()) + 1 if n else 0
    first = np.zeros(kf, dtype=np.int64)
    first[fine[::-1]] = np.arange(n)[::-1]  # a row of each cell
    membership = {"__overall__": np.ones((kf, 1))}
    for a, (codes, labels) in coded.items():
        membership[a] = np.eye(len(labels))[codes[first]]
    vecs = [np.ones(n), y, pred, pred * y, s]
    cell_matrix = sp.hstack([indicator(fine, kf, v) for v in vecs]).tocsr()
    pairs = cell_pair_counts(y, s, fine, kf, max_cells=cfg.bootstrap.max_cells) if "auc" in names else None

    def rates(sums: np.ndarray, U: np.ndarray | None, m: np.ndarray) -> dict[str, np.ndarray]:
        cnt, npos, npred, tp, ssum = (sums[:, i * kf : (i + 1) * kf] @ m for i in range(5))
        out = {
            "n": cnt,
            "selection_rate": divide(npred, cnt),
            "fpr": divide(npred - tp, cnt - npos),
            "fnr": divide(npos - tp, npos),
            "ppv": divide(tp, npred),
            "calibration": divide(npos, ssum),
            "citl": divide(ssum - npos, cnt),
        }
        if U is not None:  # pairs within a group: both cells in it (m is one-hot per cell)
            same = m @ m.T
            num = (U * same[None, :, :]).sum(axis=2) @ m
            out["auc"] = divide(num, npos * (cnt - npos))
        return out

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        sums = np.asarray(W @ cell_matrix)
        U = pairs(W) if pairs is not None else None
        out: dict[str, np.ndarray] = {}
        for a, m in membership.items():
            for key, val in rates(sums, U, m).items():
                out[f"{a}|{key}"] = val
        return out

    return bootstrap(
        stat, n, reps=cfg.bootstrap.reps, seed=cfg.bootstrap.seed, max_cells=cfg.bootstrap.max_cells, executor=executor
    )


def _overall_rows(
    est: Mapping[str, Estimate],
    names: Sequence[str],
    y: np.ndarray,
    s: np.ndarray,
    pred: np.ndarray,
    cfg: EvaluationConfig,
) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """The metrics of the whole table (calibration exact: Poisson, Garwood interval) and which
    of them have enough persons to be shown."""
    band = (cfg.fairness.tolerance_low, cfg.fairness.tolerance_high)
    cal_all = None
    if "calibration" in names:
        cal_all = poisson_ratio(np.array([y.sum()]), np.array([s.sum()]), cfg.alpha, band)
    n_pos_all, n_pred_all = float(y.sum()), float(pred.sum())
    den_all = _denominators(np.array([len(y)]), np.array([n_pos_all]), np.array([n_pred_all]), cfg)
    ok_all = {m: bool(enough(den_all[m], cfg.min_cell_size)[0]) for m in names}
    overall_rows = []
    for m in names:
        e = est[f"__overall__|{m}"]
        lo, hi = e.interval(cfg.quantiles)
        point = e.point
        if m == "calibration" and cal_all is not None:
            point, lo, hi = cal_all[0], cal_all[1], cal_all[2]
        ok = ok_all[m]
        overall_rows.append(
            {
                "metric": m,
                "value": float(point[0]) if ok else np.nan,
                "ci_lo": float(lo[0]) if ok else np.nan,
                "ci_hi": float(hi[0]) if ok else np.nan,
                "status": "ok" if ok else TOO_FEW,
            }
        )
    return overall_rows, ok_all


def _disparities(
    m: str,
    value: np.ndarray,
    reps: np.ndarray,
    ref_point: np.ndarray,
    ref_reps: np.ndarray,
    npos: np.ndarray,
    ssum: np.ndarray,
    cfg: EvaluationConfig,
) -> tuple[np.ndarray, ...]:
    """Disparity of metric ``m`` per group against the reference, its interval, verdict and
    p-value of being inside the tolerance band, as ``COMPARISON[m]`` defines it.

    Returns ``(disparity, lo, hi, verdict, p_value, calibration)``; ``calibration`` is the exact
    observed / expected ``(value, lo, hi)`` for the calibration metric, else ``None``.
    """
    band = (cfg.fairness.tolerance_low, cfg.fairness.tolerance_high)
    k = len(value)
    p_value = np.full(k, np.nan)
    calibration: Any = None
    if COMPARISON[m] == "ratio to reference":
        disp = divide(value, ref_point)
        dreps = divide(reps, ref_reps)
        dlo, dhi = percentile_interval(dreps, cfg.quantiles)
        verdict = _verdict(disp, dlo, dhi, band)
        p_value = tolerance_p_values(dreps, band)
    elif COMPARISON[m] == "difference to reference":
        disp = value - ref_point
        dreps = reps - ref_reps
        dlo, dhi = percentile_interval(dreps, cfg.quantiles)
        gap = (-cfg.fairness.auc_gap_max, cfg.fairness.auc_gap_max)
        verdict = _verdict(disp, dlo, dhi, gap)
        p_value = tolerance_p_values(dreps, gap)
    elif COMPARISON[m] == "observed / expected within group":
        ratio, lo, hi, p_value = poisson_ratio(npos, ssum, cfg.alpha, band)
        calibration = (ratio, lo, hi)
        disp, dlo, dhi = ratio, lo, hi
        verdict = _verdict(disp, dlo, dhi, band)
    else:
        disp = dlo = dhi = np.full(k, np.nan)
        verdict = np.full(k, "none", dtype=object)
    p_value = np.where(np.isin(verdict, (CANNOT_JUDGE, "undefined")), np.nan, p_value)
    return disp, dlo, dhi, verdict, p_value, calibration


def _attribute_rows(
    a: str,
    codes: np.ndarray,
    labels: np.ndarray,
    y: np.ndarray,
    s: np.ndarray,
    pred: np.ndarray,
    est: Mapping[str, Estimate],
    names: Sequence[str],
    ok_all: Mapping[str, bool],
    cfg: EvaluationConfig,
    notes: list[str],
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """One attribute's reference group, its group rows and its metric rows (values, intervals,
    disparities and verdicts; cells below the minimum size suppressed)."""
    mc = cfg.min_cell_size
    k = len(labels)
    by_group = _confusion_metric_frame(codes, labels, y, pred)
    cnt = np.bincount(codes, minlength=k).astype(np.float64)
    npos = np.bincount(codes, weights=y, minlength=k)
    npred = np.bincount(codes, weights=pred, minlength=k)
    ssum = np.bincount(codes, weights=s, minlength=k)
    den = _denominators(cnt, npos, npred, cfg)
    ok_group = enough(cnt, mc)
    ref, r = _reference(a, labels, cnt, ok_group, cfg, notes)
    group_rows = [
        {
            "attribute": a,
            "group": str(labels[g]),
            "n_persons": cnt[g] if ok_group[g] else np.nan,
            "status": "ok" if ok_group[g] else TOO_FEW,
            "is_reference": g == r,
        }
        for g in range(k)
    ]
    metric_rows: list[dict[str, Any]] = []
    for m in names:
        e = est[f"{a}|{m}"]
        # confusion metrics from MetricFrame; AUC from the unit-weight replicate (equal to
        # sklearn's roc_auc_score; tested); calibration exact (Poisson, Garwood interval)
        value = by_group[m].to_numpy(dtype=np.float64) if m in by_group.columns else e.point
        lo, hi = e.interval(cfg.quantiles)
        ok = ok_group & enough(den[m], mc)
        relative = COMPARISON[m] in ("ratio to reference", "difference to reference")
        # the reference: the whole band (r = -1) or one of the attribute's groups
        if r < 0:
            ref_point, ref_reps, ref_ok = est[f"__overall__|{m}"].point, est[f"__overall__|{m}"].reps, ok_all[m]
        else:
            ref_point, ref_reps, ref_ok = value[[r]], e.reps[:, [r]], bool(ok[r])
        disp, dlo, dhi, verdict, p_value, calibration = _disparities(
            m, value, e.reps, ref_point, ref_reps, npos, ssum, cfg
        )
        if calibration is not None:
            value, lo, hi = calibration
        for g in range(k):
            shown = bool(ok[g])
            d_shown = shown and (ref_ok or not relative)
            if not shown or (relative and not ref_ok):
                v = TOO_FEW
            elif relative and g == r:
                v = "reference"
            else:
                v = str(verdict[g])
            metric_rows.append(
                {
                    "attribute": a,
                    "group": str(labels[g]),
                    "metric": m,
                    "value": value[g] if shown else np.nan,
                    "ci_lo": lo[g] if shown else np.nan,
                    "ci_hi": hi[g] if shown else np.nan,
                    "comparison": COMPARISON[m],
                    "disparity": disp[g] if d_shown else np.nan,
                    "disparity_lo": dlo[g] if d_shown else np.nan,
                    "disparity_hi": dhi[g] if d_shown else np.nan,
                    "p_value": p_value[g] if d_shown and v not in ("reference", "none") else np.nan,
                    "verdict": v,
                    "status": "ok" if shown else TOO_FEW,
                }
            )
    return ref, group_rows, metric_rows


def audit_fairness(
    frame: pd.DataFrame,
    *,
    label: str,
    score: str,
    threshold: float,
    groups: Sequence[str],
    cfg: EvaluationConfig,
    metrics: Sequence[str] = FAIRNESS_METRICS,
    max_order: int | None = None,
    executor: Executor | None = None,
) -> FairnessAudit:
    """Fairness metrics per group with bootstrap intervals, disparities and verdicts.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person: ``label`` 0/1 (no missing), ``score`` numeric, group columns.
    label, score : str
        Outcome and score columns.
    threshold : float
        Positive prediction (elevated) = ``score >= threshold``.
    groups : sequence of str
        Attributes to audit by (sensitive attributes are keyword-only by design).
    cfg : EvaluationConfig
        Bootstrap, alpha, minimum cell size, tolerance band, reference groups.
    metrics : sequence of str
        Subset of :data:`evaluation.config.FAIRNESS_METRICS`; ``citl`` accompanies
        ``calibration`` automatically.
    max_order : int, optional
        Largest intersection order (default ``cfg.fairness.max_intersection_order``; 1 = none).
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    FairnessAudit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"y": rng.integers(0, 2, 400), "s": rng.random(400), "g": rng.choice(["a", "b"], 400)})
    >>> from evaluation.config import BootstrapConfig
    >>> cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=50))
    >>> audit = audit_fairness(df, label="y", score="s", threshold=0.5, groups=["g"], cfg=cfg)
    >>> sorted(audit.groups["group"])
    ['a', 'b']
    """
    names = [m for m in FAIRNESS_METRICS if m in metrics]
    if "calibration" in names:
        names.append("citl")
    order = cfg.fairness.max_intersection_order if max_order is None else max_order
    y = frame[label].to_numpy(dtype=np.float64)
    s = frame[score].to_numpy(dtype=np.float64)
    pred = (s >= threshold).astype(np.float64)
    cols = build_group_columns(frame, groups, order)
    coded = {a: codes_of(c.to_numpy(dtype=object)) for a, c in cols.items()}
    est = _bootstrap_groups(y, s, pred, coded, names, cfg, executor)
    overall_rows, ok_all = _overall_rows(est, names, y, s, pred, cfg)
    group_rows: list[dict[str, Any]] = []
    metric_rows: list[dict[str, Any]] = []
    references: dict[str, str] = {}
    notes: list[str] = []
    for a in cols:
        codes, labels = coded[a]
        references[a], g_rows, m_rows = _attribute_rows(a, codes, labels, y, s, pred, est, names, ok_all, cfg, notes)
        group_rows.extend(g_rows)
        metric_rows.extend(m_rows)
    return FairnessAudit(
        threshold=float(threshold),
        n_persons=len(y),
        overall=pd.DataFrame(overall_rows),
        groups=pd.DataFrame(group_rows),
        metrics=pd.DataFrame(metric_rows),
        references=references,
        notes=notes,
        metric_names=tuple(names),
    )


def _denominators(cnt: np.ndarray, npos: np.ndarray, npred: np.ndarray, cfg: EvaluationConfig) -> dict[str, np.ndarray]:
    """Count that must reach the minimum cell size for each metric to be shown."""
    if not cfg.min_cell_denominators:
        return {m: cnt for m in (*FAIRNESS_METRICS, "citl")}
    nneg = cnt - npos
    return {
        "selection_rate": cnt,
        "fpr": nneg,
        "fnr": npos,
        "ppv": npred,
        "auc": np.minimum(npos, nneg),
        "calibration": npos,
        "citl": npos,
    }


# --------------------------------------------------------------------------------------------
# JSON form (the generic audit's fairness.json)
# --------------------------------------------------------------------------------------------


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 6)


def fairness_to_json(audit: FairnessAudit, cfg: EvaluationConfig) -> dict[str, Any]:
    """Nested, JSON-ready form: per attribute and group ``n``, each metric with its interval,
    and disparities with verdicts; a "too few" group carries the text "too few" everywhere.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"y": rng.integers(0, 2, 400), "s": rng.random(400), "g": rng.choice(["a", "b"], 400)})
    >>> from evaluation.config import BootstrapConfig
    >>> cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=50))
    >>> doc = fairness_to_json(audit_fairness(df, label="y", score="s", threshold=0.5, groups=["g"], cfg=cfg), cfg)
    >>> sorted(doc["attributes"]["g"]["groups"]["a"])[:3]
    ['auc', 'auc_ci', 'calibration']
    """
    doc: dict[str, Any] = {
        "threshold": audit.threshold,
        "positive_prediction": "score >= threshold",
        "n": audit.n_persons if audit.n_persons >= cfg.min_cell_size else TOO_FEW,
        "min_cell_size": cfg.min_cell_size,
        "interval": cfg.interval_text,
        "tolerance_band": [cfg.fairness.tolerance_low, cfg.fairness.tolerance_high],
        "auc_gap_max": cfg.fairness.auc_gap_max,
        "metrics": {m: METRIC_LABELS[m] for m in audit.metric_names},
        "priority": [
            {"metric": m, "why": PRIORITY_RATIONALE[m]}
            for m in cfg.fairness.priority_metrics
            if m in audit.metric_names
        ],
        "notes": list(audit.notes),
        "overall": {},
        "attributes": {},
    }
    for row in audit.overall.itertuples(index=False):
        if row.status != "ok":
            doc["overall"][row.metric] = TOO_FEW
        else:
            doc["overall"][row.metric] = _num(row.value)
            doc["overall"][f"{row.metric}_ci"] = [_num(row.ci_lo), _num(row.ci_hi)]
    metrics = audit.metrics.set_index(["attribute", "group", "metric"])
    for a, ref in audit.references.items():
        groups: dict[str, Any] = {}
        for g in audit.groups[audit.groups["attribute"] == a].itertuples(index=False):
            if g.status != "ok":
                groups[g.group] = {"n": TOO_FEW, **{m: TOO_FEW for m in audit.metric_names}, "disparity": TOO_FEW}
                continue
            entry: dict[str, Any] = {"n": int(g.n_persons)}
            disparity: dict[str, Any] = {}
            for m in audit.metric_names:
                r = metrics.loc[(a, g.group, m)]
                if r["status"] != "ok":
                    entry[m] = TOO_FEW
                else:
                    entry[m] = _num(r["value"])
                    entry[f"{m}_ci"] = [_num(r["ci_lo"]), _num(r["ci_hi"])]
                if r["comparison"] == "none":
                    continue
                if r["verdict"] == TOO_FEW:
                    disparity[m] = TOO_FEW
                else:
                    disparity[m] = {
                        "comparison": r["comparison"],
                        "value": _num(r["disparity"]),
                        "ci": [_num(r["disparity_lo"]), _num(r["disparity_hi"])],
                        "p_value": _num(r["p_value"]),
                        "verdict": r["verdict"],
                    }
            entry["disparity"] = disparity
            groups[g.group] = entry
        doc["attributes"][a] = {"reference": ref, "groups": groups}
    return doc
