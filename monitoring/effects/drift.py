"""Drift between two samples (reference dates or refreshes): features, scores and outcome prevalence.

Per age band and feature the population stability index (PSI, reference-quantile bins plus a
bin for missing values) and the Wasserstein distance (in reference standard deviations) are
compared with thresholds that account for sample size: a statistic alarms only when it exceeds
both a practical minimum and the ``1 - alpha/m`` quantile of its permutation null (Bonferroni
over the ``m`` statistics of the band). Small samples therefore do not alarm on noise and
national-size samples do not alarm on trivial shifts. Score distribution and outcome prevalence
shifts get the same treatment; a "retrain recommended" verdict sums it up.

Inputs are person-level frames held in memory; every output is an aggregate per band.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from aanwas.common.errors import InputError
from monitoring.monitor_config import DriftConfig

__all__ = ["DriftReport", "audit_drift", "audit_prevalence", "psi", "wasserstein_std"]

_ALL = "all"


def _bin_counts(ref: np.ndarray, cur: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin of both samples; the last bin holds missing values.

    Features with at most ``n_bins`` distinct reference values (indicators, counts) get one bin
    per value (edges halfway between them); others get reference-quantile bins.
    """
    ok = ref[~np.isnan(ref)]
    uniq = np.unique(ok)
    if len(uniq) == 0:
        inner = np.array([])
    elif len(uniq) <= n_bins:
        inner = (uniq[1:] + uniq[:-1]) / 2.0
    else:
        inner = np.unique(np.quantile(ok, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
    k = len(inner) + 2

    def counts(x: np.ndarray) -> np.ndarray:
        b = np.where(np.isnan(x), k - 1, np.searchsorted(inner, np.nan_to_num(x), side="right"))
        return np.bincount(b, minlength=k).astype(float)

    return counts(ref), counts(cur)


def _psi_from_counts(c1: np.ndarray, c2: np.ndarray, pseudo: float) -> np.ndarray:
    """PSI of count arrays (..., k); ``pseudo`` counts are added to every bin (no log of 0)."""
    p = (c1 + pseudo) / (c1.sum(axis=-1, keepdims=True) + pseudo * c1.shape[-1])
    q = (c2 + pseudo) / (c2.sum(axis=-1, keepdims=True) + pseudo * c2.shape[-1])
    return np.sum((q - p) * np.log(q / p), axis=-1)


def psi(reference: np.ndarray, current: np.ndarray, n_bins: int = 10, pseudo_count: float = 0.5) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are reference quantiles (ties merged) plus one bin for missing values.

    Examples
    --------
    >>> x = np.arange(1000.0)
    >>> psi(x, x)
    0.0
    >>> psi(x, x + 500) > 1
    True
    """
    c1, c2 = _bin_counts(np.asarray(reference, float), np.asarray(current, float), n_bins)
    return float(_psi_from_counts(c1, c2, pseudo_count))


def wasserstein_std(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein-1 distance of the non-missing values, in reference standard deviations.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=20000)
    >>> round(wasserstein_std(x, x + 0.5), 2)
    0.5
    """
    r = np.asarray(reference, float)
    c = np.asarray(current, float)
    r, c = r[~np.isnan(r)], c[~np.isnan(c)]
    if len(r) == 0 or len(c) == 0:
        return float("nan")
    sd = float(np.std(r))
    if sd == 0.0:
        sd = float(np.std(np.r_[r, c])) or 1.0
    return float(stats.wasserstein_distance(r, c) / sd)


def _gamma_quantile(null: np.ndarray, q: float) -> float:
    """Quantile ``q`` of a gamma distribution matched to the null sample's mean and variance."""
    null = null[np.isfinite(null)]
    if len(null) == 0:
        return 0.0
    mean, var = float(np.mean(null)), float(np.var(null, ddof=1))
    if mean <= 0.0 or var <= 0.0:
        return float(np.max(null))
    shape, scale = mean * mean / var, var / mean
    return float(stats.gamma.ppf(q, shape, scale=scale))


def _psi_null(c1: np.ndarray, c2: np.ndarray, config: DriftConfig, rng: np.random.Generator) -> np.ndarray:
    """PSI under the permutation null: bin counts of the reference drawn from the pooled counts."""
    pooled = (c1 + c2).astype(np.int64)
    n1 = int(c1.sum())
    d1 = rng.multivariate_hypergeometric(pooled, n1, size=config.n_permutations).astype(float)
    return _psi_from_counts(d1, pooled[None, :] - d1, config.psi_pseudo_count)


def _wasserstein_null(
    ref: np.ndarray, cur: np.ndarray, config: DriftConfig, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Permutation null of the standardised Wasserstein distance (on subsamples) and its scale.

    Returns the null sample on the subsamples and the factor that rescales it to the full
    sample sizes (the statistic shrinks like ``1/sqrt(n_eff)``, ``n_eff = n1 n2 / (n1 + n2)``).
    """
    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    n1, n2 = len(r), len(c)
    if n1 < 2 or n2 < 2:
        return np.array([np.nan]), 1.0
    sd = float(np.std(r)) or float(np.std(np.r_[r, c])) or 1.0
    m1, m2 = min(n1, config.max_null_sample), min(n2, config.max_null_sample)
    rs = rng.choice(r, m1, replace=False) if m1 < n1 else r
    cs = rng.choice(c, m2, replace=False) if m2 < n2 else c
    z = np.r_[rs, cs]
    order = np.argsort(z, kind="stable")
    dz = np.diff(z[order])
    base = np.r_[np.ones(m1, bool), np.zeros(m2, bool)][order]
    out = []
    chunk = max(1, config.null_chunk_cells // len(z))
    for start in range(0, config.n_permutations, chunk):
        k = min(chunk, config.n_permutations - start)
        lab = rng.permuted(np.tile(base, (k, 1)), axis=1)
        f1 = np.cumsum(lab, axis=1)[:, :-1] / m1
        f2 = np.cumsum(~lab, axis=1)[:, :-1] / m2
        out.append(np.abs(f1 - f2) @ dz / sd)
    n_eff_sub = m1 * m2 / (m1 + m2)
    n_eff = n1 * n2 / (n1 + n2)
    return np.concatenate(out), float(np.sqrt(n_eff_sub / n_eff))


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """Aggregated drift between a reference and a current sample.

    Attributes
    ----------
    features : DataFrame
        ``age_band, feature, n_ref, n_cur, psi, psi_threshold, wasserstein,
        wasserstein_threshold, drifted``.
    scores : DataFrame
        ``age_band, n_ref, n_cur, psi, psi_threshold, wasserstein, wasserstein_threshold,
        mean_ref, mean_cur, mean_diff, mean_diff_lo, mean_diff_hi, drifted`` (empty without
        scores).
    prevalence : DataFrame
        ``age_band, reference_dates, current_date, n_ref, n_cur, prevalence_ref,
        prevalence_cur, diff, diff_lo, diff_hi, shifted, reason``: one row per band; censored
        labels are left out, and a band without a known label at one of the dates has blank
        figures and a ``reason``. ``aanwas monitor`` replaces it with
        :func:`audit_prevalence` of the training period against the newest date with known
        outcomes (:meth:`with_prevalence`).
    retrain_recommended : bool
    reasons : tuple of str
        Plain-language reasons behind the verdict (English, for logs and the run record).
    """

    features: pd.DataFrame
    scores: pd.DataFrame
    prevalence: pd.DataFrame
    retrain_recommended: bool
    reasons: tuple[str, ...]

    def with_prevalence(self, prevalence: pd.DataFrame) -> DriftReport:
        """This report with another prevalence table (e.g. :func:`audit_prevalence`): its shifts
        replace this table's in the verdict and its reasons."""
        old = set(_prevalence_reasons(self.prevalence))
        reasons = [r for r in self.reasons if r not in old] + _prevalence_reasons(prevalence)
        others = any(r not in old for r in self.reasons)
        return dataclasses.replace(
            self,
            prevalence=prevalence[_PREVALENCE_COLUMNS].reset_index(drop=True),
            retrain_recommended=bool(others or prevalence["shifted"].any()),
            reasons=tuple(reasons),
        )

    def metrics(self) -> dict[str, float]:
        """Flat ``name -> value`` mapping of the aggregate statistics (for MLflow metrics), named
        ``drift/<band>/<feature>/<stat>``, ``drift/<band>/score/<stat>``,
        ``drift/<band>/prevalence/diff``, ``drift/<band>/share_features_drifted`` and
        ``drift/all-bands/retrain_recommended``."""
        out: dict[str, float] = {"drift/all-bands/retrain_recommended": float(self.retrain_recommended)}
        for r in self.features.itertuples(index=False):
            for stat in ("psi", "wasserstein"):
                v = getattr(r, stat)
                if np.isfinite(v):
                    out[f"drift/{r.age_band}/{r.feature}/{stat}"] = float(v)
        for r in self.scores.itertuples(index=False):
            for stat in ("psi", "wasserstein", "mean_diff"):
                v = getattr(r, stat)
                if np.isfinite(v):
                    out[f"drift/{r.age_band}/score/{stat}"] = float(v)
        for r in self.prevalence.itertuples(index=False):
            if np.isfinite(r.diff):
                out[f"drift/{r.age_band}/prevalence/diff"] = float(r.diff)
        bands = self.features.groupby("age_band", observed=True)["drifted"].mean()
        for band, share in bands.items():
            out[f"drift/{band}/share_features_drifted"] = float(share)
        return out


def _distribution_stats(
    ref: np.ndarray, cur: np.ndarray, m: int, config: DriftConfig, rng: np.random.Generator
) -> dict[str, float]:
    c1, c2 = _bin_counts(ref, cur, config.n_bins)
    q = 1.0 - config.alpha / max(m, 1)
    p = float(_psi_from_counts(c1, c2, config.psi_pseudo_count))
    p_thr = max(config.psi_min, _gamma_quantile(_psi_null(c1, c2, config, rng), q))
    w = wasserstein_std(ref, cur)
    null, factor = _wasserstein_null(ref, cur, config, rng)
    w_thr = max(config.wasserstein_min, factor * _gamma_quantile(null, q))
    drifted = bool(p > p_thr or (np.isfinite(w) and w > w_thr))
    return {
        "n_ref": int(len(ref)),
        "n_cur": int(len(cur)),
        "psi": p,
        "psi_threshold": p_thr,
        "wasserstein": w,
        "wasserstein_threshold": w_thr,
        "drifted": drifted,
    }


def _diff_ci(m1: float, v1: float, n1: int, m2: float, v2: float, n2: int, level: float) -> tuple[float, float, float]:
    d = m2 - m1
    se = float(np.sqrt(v1 / max(n1, 1) + v2 / max(n2, 1)))
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return d, d - z * se, d + z * se


def _column(frame: pd.DataFrame, name: str, table: str) -> np.ndarray:
    if name not in frame.columns:
        raise InputError(table, name, None, "missing column")
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


#: Columns of the drift report's tables.
_FEATURE_COLUMNS = [
    "age_band",
    "feature",
    "n_ref",
    "n_cur",
    "psi",
    "psi_threshold",
    "wasserstein",
    "wasserstein_threshold",
    "drifted",
]
_SCORE_COLUMNS = [
    "age_band",
    "n_ref",
    "n_cur",
    "psi",
    "psi_threshold",
    "wasserstein",
    "wasserstein_threshold",
    "mean_ref",
    "mean_cur",
    "mean_diff",
    "mean_diff_lo",
    "mean_diff_hi",
    "drifted",
]
_PREVALENCE_COLUMNS = [
    "age_band",
    "reference_dates",
    "current_date",
    "n_ref",
    "n_cur",
    "prevalence_ref",
    "prevalence_cur",
    "diff",
    "diff_lo",
    "diff_hi",
    "shifted",
    "reason",
]
#: ``reason`` of a prevalence row without figures: no known outcome at one of the dates.
REASON_OUTCOME_UNKNOWN = "outcome not known yet at {which} (its horizon has not passed): not measured"


def _prevalence_reasons(table: pd.DataFrame) -> list[str]:
    return [
        f"{r.age_band}: outcome prevalence changed from {r.prevalence_ref:.4f} to {r.prevalence_cur:.4f}"
        for r in table.itertuples(index=False)
        if r.shifted
    ]


def _dates_text(frame: pd.DataFrame) -> str:
    """The reference dates of a sample as ISO text (``a,b,...``; empty without a ref_date column)."""
    if "ref_date" not in frame.columns or frame.empty:
        return ""
    return ",".join(pd.Timestamp(d).date().isoformat() for d in sorted(frame["ref_date"].unique()))


def _mean_var(y: np.ndarray, clusters: np.ndarray | None) -> float:
    """Variance of a mean of 0/1 outcomes: binomial, or with ``clusters`` (a person in several
    reference dates) the cluster-robust ``sum_c (sum_i (y_i - p))^2 / n^2`` times ``c / (c - 1)``,
    returned as a per-row variance (times n) like ``p (1 - p)``."""
    p = float(y.mean())
    if clusters is None:
        return p * (1 - p)
    sums = pd.Series(y - p).groupby(clusters).sum().to_numpy()
    c = len(sums)
    return float((sums**2).sum() / len(y) * (c / (c - 1) if c > 1 else 1.0))


def _band_of_rows(
    reference: pd.DataFrame, current: pd.DataFrame, band_column: str | None
) -> tuple[pd.Series, pd.Series]:
    """The age band of each row of both samples (``"all"`` without a band column)."""
    if band_column is None:
        return pd.Series(_ALL, index=reference.index), pd.Series(_ALL, index=current.index)
    for frame, name in ((reference, "reference"), (current, "current")):
        if band_column not in frame.columns:
            raise InputError(name, band_column, None, "missing column")
    return reference[band_column].astype("str"), current[band_column].astype("str")


def _score_drift(
    ref_b: pd.DataFrame,
    cur_b: pd.DataFrame,
    score_column: str,
    band: str,
    config: DriftConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Drift of one band's scores: distribution (PSI, Wasserstein) or a mean shift whose
    interval excludes 0 and that is at least ``config.score_mean_min_change``."""
    r_s, c_s = _column(ref_b, score_column, "reference"), _column(cur_b, score_column, "current")
    st = _distribution_stats(r_s, c_s, 2, config, rng)
    r_ok, c_ok = r_s[~np.isnan(r_s)], c_s[~np.isnan(c_s)]
    d, lo, hi = _diff_ci(
        r_ok.mean(), r_ok.var(ddof=1), len(r_ok), c_ok.mean(), c_ok.var(ddof=1), len(c_ok), 1.0 - config.alpha
    )
    mean_shift = (lo > 0 or hi < 0) and abs(d) >= config.score_mean_min_change
    st["drifted"] = bool(st["drifted"] or mean_shift)
    return {
        "age_band": band,
        **st,
        "mean_ref": float(r_ok.mean()),
        "mean_cur": float(c_ok.mean()),
        "mean_diff": d,
        "mean_diff_lo": lo,
        "mean_diff_hi": hi,
    }


def _prevalence_shift(
    ref_b: pd.DataFrame,
    cur_b: pd.DataFrame,
    label_column: str,
    band: str,
    config: DriftConfig,
    cluster_column: str | None = None,
) -> dict[str, Any]:
    """Change of one band's outcome prevalence (known labels only): shifted when the
    ``1 - config.alpha`` interval excludes 0 and the relative change is at least
    ``config.prevalence_min_relative_change``. Without a known label in a sample the row has no
    figures and ``reason`` says which date's outcome is not known yet (its horizon has not
    passed). With ``cluster_column`` a sample's variance allows for one person's rows at several
    reference dates."""
    ref_b = ref_b[ref_b[label_column].notna()]
    cur_b = cur_b[cur_b[label_column].notna()]
    yr = ref_b[label_column].astype("boolean").to_numpy(dtype=float)
    yc = cur_b[label_column].astype("boolean").to_numpy(dtype=float)
    dates = {"reference_dates": _dates_text(ref_b), "current_date": _dates_text(cur_b)}
    if not (len(yr) and len(yc)):
        which = "the reference date" if len(yc) else "the current date"
        if not (len(yr) or len(yc)):
            which = "both dates"
        nan = float("nan")
        return {
            "age_band": band,
            **dates,
            "n_ref": len(yr),
            "n_cur": len(yc),
            **dict.fromkeys(("prevalence_ref", "prevalence_cur", "diff", "diff_lo", "diff_hi"), nan),
            "shifted": False,
            "reason": REASON_OUTCOME_UNKNOWN.format(which=which),
        }
    p1, p2 = float(yr.mean()), float(yc.mean())
    cr = ref_b[cluster_column].to_numpy() if cluster_column else None
    cc = cur_b[cluster_column].to_numpy() if cluster_column else None
    d, lo, hi = _diff_ci(p1, _mean_var(yr, cr), len(yr), p2, _mean_var(yc, cc), len(yc), 1.0 - config.alpha)
    rel = abs(d) / p1 if p1 > 0 else (np.inf if d != 0 else 0.0)
    return {
        "age_band": band,
        **dates,
        "n_ref": len(yr),
        "n_cur": len(yc),
        "prevalence_ref": p1,
        "prevalence_cur": p2,
        "diff": d,
        "diff_lo": lo,
        "diff_hi": hi,
        "shifted": bool((lo > 0 or hi < 0) and rel >= config.prevalence_min_relative_change),
        "reason": "",
    }


def audit_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: Sequence[str] | Mapping[str, Sequence[str]],
    config: DriftConfig,
    score_column: str | None = "score",
    label_column: str | None = "label",
    band_column: str | None = "age_band",
) -> DriftReport:
    """Compare a current sample with a reference sample per age band.

    Parameters
    ----------
    reference, current : DataFrame
        Person-level rows (in memory only), e.g. the feature table at two reference dates,
        optionally with in-memory scores and labels.
    features : sequence or mapping band -> sequence
        Feature columns to compare (per band when a mapping, e.g.
        ``features.catalogue.feature_columns``).
    config : DriftConfig
    score_column, label_column : str or None
        Columns of calibrated scores and (nullable boolean) labels; skipped when absent from
        either frame or None.
    band_column : str or None
        Age-band column; None compares the whole samples as band ``"all"``.

    Returns
    -------
    DriftReport

    Raises
    ------
    InputError
        A feature column missing from either frame, or a band empty in one of them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = pd.DataFrame({"x": rng.normal(size=5000)})
    >>> b = pd.DataFrame({"x": rng.normal(size=5000)})
    >>> audit_drift(a, b, features=["x"], config=DriftConfig(), band_column=None).retrain_recommended
    False
    """
    rng = np.random.default_rng(config.seed)
    bands_ref, bands_cur = _band_of_rows(reference, current, band_column)
    bands = sorted(set(bands_ref.unique()) | set(bands_cur.unique()))
    if isinstance(features, Mapping):
        bands = [b for b in bands if b in features]
    with_scores = score_column is not None and score_column in reference.columns and score_column in current.columns
    with_labels = label_column is not None and label_column in reference.columns and label_column in current.columns
    f_rows, s_rows, p_rows, reasons = [], [], [], []
    retrain = False
    for band in bands:
        mr, mc = (bands_ref == band).to_numpy(), (bands_cur == band).to_numpy()
        if not mr.any() or not mc.any():
            raise InputError("reference" if not mr.any() else "current", band_column, 0, f"age band {band} has no rows")
        cols = list(features[band]) if isinstance(features, Mapping) else list(features)
        ref_b, cur_b = reference.loc[mr], current.loc[mc]
        m = 2 * len(cols)
        for col in cols:
            st = _distribution_stats(_column(ref_b, col, "reference"), _column(cur_b, col, "current"), m, config, rng)
            f_rows.append({"age_band": band, "feature": col, **st})
        n_drift = sum(r["drifted"] for r in f_rows if r["age_band"] == band)
        share = n_drift / len(cols) if cols else 0.0
        if cols and share >= config.retrain_min_share_features:
            retrain = True
            reasons.append(f"{band}: {n_drift} of {len(cols)} features drift ({share:.0%})")
        if with_scores and score_column is not None:
            row = _score_drift(ref_b, cur_b, score_column, band, config, rng)
            s_rows.append(row)
            if row["drifted"]:
                retrain = True
                reasons.append(
                    f"{band}: score distribution shifted (mean {row['mean_diff']:+.4f}, psi {row['psi']:.3f})"
                )
        if with_labels and label_column is not None:
            p_row = _prevalence_shift(ref_b, cur_b, label_column, band, config)
            p_rows.append(p_row)
            if p_row["shifted"]:
                retrain = True
                reasons += _prevalence_reasons(pd.DataFrame([p_row]))
    return DriftReport(
        features=pd.DataFrame(f_rows, columns=_FEATURE_COLUMNS),
        scores=pd.DataFrame(s_rows, columns=_SCORE_COLUMNS),
        prevalence=pd.DataFrame(p_rows, columns=_PREVALENCE_COLUMNS),
        retrain_recommended=retrain,
        reasons=tuple(reasons),
    )


def audit_prevalence(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    config: DriftConfig,
    label_column: str = "label",
    band_column: str = "age_band",
    cluster_column: str | None = None,
) -> pd.DataFrame:
    """Outcome prevalence of ``current`` against ``reference`` per age band (the prevalence
    table of :class:`DriftReport`).

    ``aanwas monitor`` passes the training period's reference dates (pooled) and the newest
    reference date whose outcomes are known, per band: a model is calibrated to the outcome
    share of its training period, and the newest reference date itself has no known outcome
    yet. ``cluster_column`` (the person pseudonym, in memory only) makes the interval allow
    for one person's rows at several training dates, whose outcome windows overlap.

    Examples
    --------
    >>> ref = pd.DataFrame({"age_band": "13-19", "label": pd.array([True] + [False] * 99, dtype="boolean")})
    >>> cur = pd.DataFrame({"age_band": "13-19", "label": pd.array([True] * 2 + [False] * 98, dtype="boolean")})
    >>> row = audit_prevalence(ref, cur, config=DriftConfig()).iloc[0]
    >>> float(row["diff"]), bool(row["shifted"])
    (0.01, False)
    """
    bands_ref, bands_cur = _band_of_rows(reference, current, band_column)
    rows = []
    for band in sorted(set(bands_ref.unique()) | set(bands_cur.unique())):
        ref_b = reference.loc[(bands_ref == band).to_numpy()]
        cur_b = current.loc[(bands_cur == band).to_numpy()]
        rows.append(_prevalence_shift(ref_b, cur_b, label_column, band, config, cluster_column))
    return pd.DataFrame(rows, columns=_PREVALENCE_COLUMNS)
