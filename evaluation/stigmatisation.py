"""Stigmatisation audits at area level: proxies, label bias, ranking uncertainty, league tables.

Areas are what this tool publishes, so areas are where it can stigmatise. Four checks:

* proxy test - how much of the between-area variation in predicted risk is explained by area
  composition (origin groups, income), next to the model's own features for contrast;
* label-bias sensitivity - how area results shift when registration intensity differs by area
  (observed label versus an alternative: the known truth on synthetic data, an alternative
  label or an intensity-adjusted label on real data);
* ranking uncertainty - bootstrap intervals for area risk and rank; an area is "elevated" only
  when its interval excludes the national level; how many areas a naive list of the N highest
  would mislabel;
* league-table check - no table or report may present ranks, "worst" or "top N" lists.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import beta, binom, chi2, poisson

from aanwas.common.compute import Executor
from aanwas.common.errors import InputError
from evaluation._cells import enough
from evaluation.bootstrap import Estimate, bootstrap, divide, indicator
from evaluation.config import EvaluationConfig

# --------------------------------------------------------------------------------------------
# area keys and composition
# --------------------------------------------------------------------------------------------


def _area_codes(frame: pd.DataFrame, area: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per row and the area labels; rows without area get code -1."""
    values = frame[area].astype("string")
    codes, labels = pd.factorize(values, sort=True, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(labels, dtype=object).astype(str)


def aggregate_area_composition(frame: pd.DataFrame, *, area: str, attributes: Sequence[str]) -> pd.DataFrame:
    """Share of each attribute value per area (the most common value left out as baseline).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person with ``area`` and categorical ``attributes`` (e.g. migration_group,
        income_group). Missing values form no share.
    area : str
        Area column.
    attributes : sequence of str
        Attributes to describe the areas by.

    Returns
    -------
    pandas.DataFrame
        Indexed by area code, columns ``share_<attribute>_<value>``.

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "x", "y", "y"], "g": ["p", "q", "p", "p"]})
    >>> aggregate_area_composition(df, area="a", attributes=["g"]).round(2).to_dict()
    {'share_g_q': {'x': 0.5, 'y': 0.0}}
    """
    parts = []
    for att in attributes:
        values = frame[att].astype("string")
        tab = pd.crosstab(frame[area].astype("string"), values, normalize="index")
        baseline = values.value_counts().idxmax()
        tab = tab.drop(columns=[baseline])
        tab.columns = [f"share_{att}_{c}" for c in tab.columns]
        parts.append(tab)
    out = pd.concat(parts, axis=1)
    out.index = out.index.astype(str)
    out.index.name = "area_code"
    return out.astype(np.float64)


def composition_from_geography(areas: pd.DataFrame, level: str) -> pd.DataFrame:
    """Origin-group shares per area from the shipped CBS 2024 area table.

    Parameters
    ----------
    areas : pandas.DataFrame
        ``features.geography.load_geography().areas``.
    level : str
        "buurt", "wijk" or "gemeente".

    Returns
    -------
    pandas.DataFrame
        Indexed by area code: ``share_origin_europe``, ``share_origin_outside_europe``.
    """
    a = areas[areas["level"] == level]
    total = a["origin_netherlands"] + a["origin_europe_excl_nl"] + a["origin_outside_europe"]
    out = pd.DataFrame(
        {
            "share_origin_europe": divide(a["origin_europe_excl_nl"].to_numpy(), total.to_numpy()),
            "share_origin_outside_europe": divide(a["origin_outside_europe"].to_numpy(), total.to_numpy()),
        },
        index=pd.Index(a["code"].astype(str), name="area_code"),
    )
    return out.dropna()


# --------------------------------------------------------------------------------------------
# proxy test
# --------------------------------------------------------------------------------------------


def _batched_r2(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares R^2 (with intercept) for each weight row of ``w`` ``(r, a)``."""
    a = X.shape[0]
    if X.shape[1] == 0:
        return np.zeros(w.shape[0])
    mu, sd = X.mean(axis=0), X.std(axis=0)  # standardising only conditions the solve
    Z = np.column_stack([np.ones(a), (X - mu) / np.where(sd > 0, sd, 1.0)])
    p = Z.shape[1]
    ZZ = (Z[:, :, None] * Z[:, None, :]).reshape(a, p * p)
    G = (w @ ZZ).reshape(-1, p, p)
    b = np.linalg.pinv(G, hermitian=True) @ (w @ (Z * y[:, None]))[:, :, None]
    wy = w @ y
    sw = w.sum(axis=1)
    yy = w @ (y * y)
    sse = yy - (b[:, :, 0] * (w @ (Z * y[:, None]))).sum(axis=1)
    sst = yy - divide(wy * wy, sw)
    return 1.0 - divide(np.maximum(sse, 0.0), sst)


ALL_COMPOSITION = "area composition (all)"
FEATURES = "model features"
BOTH = "composition and features"
BEYOND = "composition beyond features"


@dataclasses.dataclass(frozen=True)
class ProxyResult:
    """Proxy test result (aggregates only).

    Attributes
    ----------
    table : pandas.DataFrame
        ``predictors, n_predictors, r2, ci_lo, ci_hi, adjusted_r2``: one row per composition
        block (e.g. "origin groups", "income"), then "area composition (all)", "model
        features", "composition and features" and "composition beyond features".
    n_areas : int
        Areas analysed (each with at least the minimum cell size).
    n_areas_too_few : int
        Areas left out because they had too few persons.
    blocks : tuple of str
        Names of the composition blocks.
    """

    table: pd.DataFrame
    n_areas: int
    n_areas_too_few: int
    blocks: tuple[str, ...]

    def r2(self, predictors: str) -> tuple[float, float, float]:
        """R^2 of one row with its interval."""
        r = self.table.set_index("predictors").loc[predictors]
        return float(r["r2"]), float(r["ci_lo"]), float(r["ci_hi"])


def _area_means(
    frame: pd.DataFrame, codes: np.ndarray, k: int, score: str, features: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per area (code -1: none): persons, mean predicted risk and the means of the model's
    features (NaN ignored; one column per feature)."""
    keep_rows = codes >= 0
    kc = codes[keep_rows]
    n_area = np.bincount(kc, minlength=k).astype(np.float64)
    risk = divide(np.bincount(kc, weights=frame[score].to_numpy(dtype=np.float64)[keep_rows], minlength=k), n_area)
    feat_means = []
    for f in features:
        v = frame[f].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = keep_rows & ~np.isnan(v)
        feat_means.append(
            divide(np.bincount(codes[ok], weights=v[ok], minlength=k), np.bincount(codes[ok], minlength=k))
        )
    F = np.column_stack(feat_means) if feat_means else np.zeros((k, 0))
    return n_area, risk, F


def _proxy_rows(
    est: Mapping[str, Estimate],
    designs: Mapping[str, np.ndarray],
    blocks: tuple[str, ...],
    a: int,
    cfg: EvaluationConfig,
) -> list[dict[str, Any]]:
    """One row per set of predictors: R² with its bootstrap interval and the adjusted R² for
    ``a`` areas; "beyond" is the part of composition the features do not explain."""

    def adjusted(r2: float, p: int) -> float:
        return 1.0 - (1.0 - r2) * (a - 1) / (a - p - 1) if a - p - 1 > 0 else float("nan")

    p_of = {name: X.shape[1] for name, X in designs.items()}
    adj = {name: adjusted(float(est[name].point), p_of[name]) for name in designs}
    adj[BEYOND] = adj[BOTH] - adj[FEATURES]
    p_of[BEYOND] = p_of[BOTH] - p_of[FEATURES]
    rows = []
    for name in (*blocks, ALL_COMPOSITION, FEATURES, BOTH, BEYOND):
        e = est[name]
        lo, hi = e.interval(cfg.quantiles)
        rows.append(
            {
                "predictors": name,
                "n_predictors": p_of[name],
                "r2": float(e.point),
                "ci_lo": float(lo),
                "ci_hi": float(hi),
                "adjusted_r2": adj[name],
            }
        )
    return rows


def audit_proxy(
    frame: pd.DataFrame,
    *,
    area: str,
    score: str,
    composition: Mapping[str, pd.DataFrame],
    features: Sequence[str],
    cfg: EvaluationConfig,
    executor: Executor | None = None,
) -> ProxyResult:
    """Share of between-area variance in predicted risk explained by area composition.

    Areas (with at least ``cfg.min_cell_size`` persons) are weighted by their number of
    persons. The weighted R^2 of each composition block (e.g. origin-group shares, income
    shares) and of all blocks together is reported next to the R^2 of the area means of the
    model's own features, of composition and features together, and the part of composition
    beyond the features. Intervals come from resampling areas (seeded bootstrap).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person: ``area``, ``score`` and the ``features`` columns.
    area, score : str
        Area column and predicted-risk column.
    composition : mapping of str to pandas.DataFrame
        Named blocks of area-level composition, each indexed by area code (see
        :func:`aggregate_area_composition`, :func:`composition_from_geography`).
    features : sequence of str
        Model input columns (area means are used; NaN ignored).
    cfg : EvaluationConfig
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    ProxyResult

    Raises
    ------
    InputError
        Fewer than three areas with enough persons and known composition.
    """
    codes, labels = _area_codes(frame, area)
    n_area, risk, F = _area_means(frame, codes, len(labels), score, features)
    blocks = {name: c.reindex(pd.Index(labels)).to_numpy(dtype=np.float64) for name, c in composition.items()}
    big = enough(n_area, cfg.min_cell_size)
    use = big.copy()
    for c in blocks.values():
        use &= ~np.isnan(c).any(axis=1)
    if use.sum() < 3:
        raise InputError(
            area, None, int(use.sum()), "too few areas with enough persons and known composition for the proxy test"
        )

    def clean(X: np.ndarray) -> np.ndarray:
        X = X[use]
        if X.shape[1] == 0:
            return X
        with np.errstate(all="ignore"):
            fill = np.where(np.isnan(np.nanmean(X, axis=0)), 0.0, np.nanmean(X, axis=0))
        X = np.where(np.isnan(X), fill, X)
        return X[:, X.std(axis=0) > 0]

    designs = {name: clean(c) for name, c in blocks.items()}
    comp_all = np.column_stack(list(designs.values())) if designs else np.zeros((int(use.sum()), 0))
    designs[ALL_COMPOSITION] = comp_all
    designs[FEATURES] = clean(F)
    designs[BOTH] = np.column_stack([comp_all, designs[FEATURES]])
    y, wts = risk[use], n_area[use]
    a = len(y)

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        w = W * wts[None, :]
        out = {name: _batched_r2(X, y, w) for name, X in designs.items()}
        out[BEYOND] = out[BOTH] - out[FEATURES]
        return out

    est = bootstrap(
        stat, a, reps=cfg.bootstrap.reps, seed=cfg.bootstrap.seed, max_cells=cfg.bootstrap.max_cells, executor=executor
    )

    rows = _proxy_rows(est, designs, tuple(composition), a, cfg)
    return ProxyResult(
        table=pd.DataFrame(rows),
        n_areas=int(a),
        n_areas_too_few=int((~big & (n_area > 0)).sum()),
        blocks=tuple(composition),
    )


# --------------------------------------------------------------------------------------------
# area estimates shared by label bias and ranking
# --------------------------------------------------------------------------------------------


def _area_bootstrap(
    frame: pd.DataFrame,
    area: str,
    columns: Mapping[str, np.ndarray],
    cfg: EvaluationConfig,
    executor: Executor | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Per-area and national means of ``columns`` with replicates (persons resampled)."""
    codes, labels = _area_codes(frame, area)
    k = len(labels)
    n = len(codes)

    # one sparse matrix (counts and sums per area), built once for all bootstrap chunks
    M = sp.hstack([indicator(codes, k), *(indicator(codes, k, v) for v in columns.values())]).tocsr()

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        sums = np.asarray(W @ M)
        cnt = sums[:, :k]
        tot = W.sum(axis=1)
        out: dict[str, np.ndarray] = {"n": cnt}
        for i, (name, v) in enumerate(columns.items(), start=1):
            out[name] = divide(sums[:, i * k : (i + 1) * k], cnt)
            out[f"{name}|national"] = divide(W @ v, tot)[:, None]
        return out

    est = bootstrap(
        stat, n, reps=cfg.bootstrap.reps, seed=cfg.bootstrap.seed, max_cells=cfg.bootstrap.max_cells, executor=executor
    )
    counts = np.bincount(codes[codes >= 0], minlength=k).astype(np.float64)
    return labels, counts, est


def _status_vs_national(
    est: dict[str, Any], name: str, q: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``elevated`` / ``lower`` / ``not distinguishable``: the area's interval against the
    national level (:func:`elevated_status`, the one rule of the product)."""
    lo, hi = est[name].interval(q)
    return elevated_status(lo, hi, float(np.asarray(est[f"{name}|national"].point).ravel()[0])), lo, hi


# --------------------------------------------------------------------------------------------
# label-bias sensitivity
# --------------------------------------------------------------------------------------------


def build_intensity_adjusted_label(frame: pd.DataFrame, *, area: str, label: str, intensity: pd.Series) -> pd.Series:
    """Expected label under equal registration intensity: ``label / intensity[area]``, rescaled
    so the national rate is unchanged.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person with ``area`` and 0/1 ``label``.
    intensity : pandas.Series
        Relative registration intensity per area code (1 = national average), e.g. registered
        non-drug offences per resident relative to the national rate, or police capacity.

    Returns
    -------
    pandas.Series
        Float, aligned with ``frame``.

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "x", "y", "y"], "y": [1, 0, 1, 0]})
    >>> intensity = pd.Series({"x": 2.0, "y": 1.0})
    >>> build_intensity_adjusted_label(df, area="a", label="y", intensity=intensity).round(3).tolist()
    [0.667, 0.0, 1.333, 0.0]
    """
    inten = frame[area].astype("string").map(intensity.rename(index=str)).astype("Float64")
    missing = inten.isna()
    if missing.any():
        raise InputError(area, None, int(missing.sum()), "no registration intensity for the area of these rows")
    if (inten <= 0).any():
        raise InputError("intensity", None, int((inten <= 0).sum()), "registration intensity must be positive")
    y = frame[label].astype("Float64")
    adjusted = y / inten
    scale = float(y.sum()) / float(adjusted.sum()) if float(adjusted.sum()) > 0 else 1.0
    return (adjusted * scale).astype(np.float64)


@dataclasses.dataclass(frozen=True)
class LabelBiasResult:
    """Label-bias sensitivity per area (areas below the minimum cell size left out).

    Attributes
    ----------
    areas : pandas.DataFrame
        ``area_code, n_persons, rate_observed (+lo/hi), rate_alternative (+lo/hi),
        registration_intensity (+lo/hi), registration (over / under / within), status_observed,
        status_alternative, status_model, model_vs_alternative``; sorted by area code.
    summary : dict
        Counts of areas (``n_areas_*``), the share of model-elevated areas not elevated under
        the alternative label, and a global test of whether registration intensity varies
        between areas beyond chance (``intensity_dispersion_ratio``: Pearson chi-square over
        its degrees of freedom, 1 = no excess; ``p_intensity_heterogeneity``).
    power : pandas.DataFrame, optional
        Registration-intensity audit only, in memory only (never logged: with the intensity
        it would give small counts away): every area with enough persons, shown or not:
        ``area_code, expected_registrations`` (the test's null mean: model-expected
        registrations at the reference intensity), ``power`` (probability that the audit flags
        the area "over" if its true intensity were ``cfg.stigmatisation.intensity.power_ratio``, see
        :func:`intensity_power`), ``shown`` and ``registration`` ("not shown" when its
        registrations were below the minimum cell size).
    """

    areas: pd.DataFrame
    summary: dict[str, Any]
    power: pd.DataFrame | None = None


def _garwood(o: np.ndarray, q: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) Poisson interval for event counts ``o``; ``q`` in percent."""
    lo = np.where(o > 0, chi2.ppf(q[0] / 100.0, 2.0 * np.maximum(o, 1e-300)) / 2.0, 0.0)
    hi = chi2.ppf(q[1] / 100.0, 2.0 * o + 2.0) / 2.0
    return lo, hi


def _clopper_pearson(k: np.ndarray, n: np.ndarray, q: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) binomial interval for ``k`` events out of ``n``; ``q`` in percent."""
    with np.errstate(all="ignore"):
        lo = np.where(k > 0, beta.ppf(q[0] / 100.0, np.maximum(k, 1e-300), n - k + 1.0), 0.0)
        hi = np.where(k < n, beta.ppf(q[1] / 100.0, k + 1.0, np.maximum(n - k, 1e-300)), 1.0)
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def bh_threshold(p: np.ndarray, alpha: float) -> float:
    """The p-value cutoff Benjamini-Hochberg used at false discovery rate ``alpha``.

    With ``R`` of ``m`` p-values rejected, every p-value <= ``alpha * R / m`` was rejected;
    with none rejected, ``alpha / m`` (what a single rejection would have needed). NaN counts
    as untested and is left out of ``m``.

    Examples
    --------
    >>> round(bh_threshold(np.array([0.001, 0.02, 0.03, 0.5]), 0.1), 6)
    0.075
    >>> bh_threshold(np.array([0.5, 0.6]), 0.05)
    0.025
    """
    p = np.asarray(p, dtype=np.float64)
    p = p[~np.isnan(p)]
    m = len(p)
    if m == 0:
        return float("nan")
    rejected = int(_benjamini_hochberg(p, alpha).sum())
    return float(alpha * max(rejected, 1) / m)


def intensity_power(
    null_mean: np.ndarray, *, ratio: float | np.ndarray, p_threshold: float, min_count: int, tolerance: float
) -> np.ndarray:
    """Probability that the registration-intensity audit flags an area "over" whose true
    intensity is ``ratio`` (e.g. 2: registered twice as intensely as the reference areas).

    The audit flags an area when its registrations ``O`` reach the minimum cell size
    (``min_count``, else the area is not shown), the one-sided exact Poisson p-value
    ``P(X >= O | null_mean)`` is at most ``p_threshold`` (the Benjamini-Hochberg cutoff used,
    :func:`bh_threshold`) and ``O / null_mean`` reaches ``tolerance``. All three say
    ``O >= k`` for one smallest count ``k``, so the power is ``P(X >= k)`` for ``X ~
    Poisson(ratio * null_mean)``. The cutoff is taken as fixed (in the audit it depends on
    all areas; with thousands of areas it barely moves).

    Parameters
    ----------
    null_mean : numpy.ndarray
        Registrations expected at the reference intensity: ``ref * E`` of the audit.
    ratio : float or numpy.ndarray
        True relative intensity to detect (> 0), one for all areas or one per area.
    p_threshold : float
        Per-area p-value cutoff.
    min_count : int
        Fewest registrations for an area to be tested (the minimum cell size).
    tolerance : float
        Smallest estimated intensity that is flagged (``cfg.fairness.tolerance_high``).

    Returns
    -------
    numpy.ndarray
        Power per area (NaN where ``null_mean`` is not positive).

    Examples
    --------
    >>> intensity_power(np.array([5.0, 20.0]), ratio=2.0, p_threshold=0.001, min_count=10, tolerance=1.25).round(3)
    array([0.136, 0.758])
    """
    mu = np.asarray(null_mean, dtype=np.float64)
    ok = mu > 0
    m = np.where(ok, mu, 1.0)
    # smallest count whose upper p-value is <= p_threshold: sf(k - 1) <= t  <=>  k = isf(t) + 1
    k_test = poisson.isf(p_threshold, m) + 1.0
    k_tol = np.ceil(tolerance * m - 1e-9)
    k = np.maximum.reduce([k_test, k_tol, np.full_like(m, float(min_count))])
    power = poisson.sf(k - 1.0, ratio * m)
    return np.where(ok, power, np.nan)


def _benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Which of the p-values are rejected at false discovery rate ``alpha`` (NaN never)."""
    p = np.where(np.isnan(p), 1.0, p)
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    passed = p[order] <= alpha * np.arange(1, m + 1) / m
    keep = np.zeros(m, dtype=bool)
    if passed.any():
        keep[order[: int(np.flatnonzero(passed).max()) + 1]] = True
    return keep


def _status(lo: np.ndarray, hi: np.ndarray, level: float) -> np.ndarray:
    return np.where(lo > level, "elevated", np.where(hi < level, "lower", "not distinguishable"))


def _poisson_intensity(
    o: np.ndarray, e: np.ndarray, reference: np.ndarray, q: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Relative intensity ``(o / e) / ref`` per area with its exact (Garwood) interval and the
    one-sided exact Poisson p-values of intensity 1; ``ref`` = pooled ``o / e`` of the
    ``reference`` areas. Model: ``O ~ Poisson(theta * ref * E)``, theta = 1 in a typical area."""
    ref = divide(o[reference].sum(), e[reference].sum())
    point = divide(divide(o, e), ref)
    with np.errstate(all="ignore"):
        glo, ghi = _garwood(o, q)
        lo, hi = divide(glo, e * ref), divide(ghi, e * ref)
        p_up, p_down = poisson.sf(o - 1, e * ref), poisson.cdf(o, e * ref)
    return point, lo, hi, p_up, p_down


def _flag_registration(
    inten: np.ndarray, p_up: np.ndarray, p_down: np.ndarray, tested: np.ndarray, cfg: EvaluationConfig
) -> np.ndarray:
    """``over`` / ``under`` / ``within`` / ``undefined`` per area.

    One-sided exact tests, false discovery rate controlled over the ``tested`` areas at
    ``cfg.alpha / 2`` per side (Benjamini-Hochberg; with thousands of areas, plain 95%
    intervals would flag dozens by chance), and the intensity outside the tolerance band.
    """
    k = len(inten)
    over = np.zeros(k, dtype=bool)
    under = np.zeros(k, dtype=bool)
    over[tested] = _benjamini_hochberg(p_up[tested], cfg.alpha / 2.0)
    under[tested] = _benjamini_hochberg(p_down[tested], cfg.alpha / 2.0)
    f = np.where(
        over & (inten >= cfg.fairness.tolerance_high),
        "over",
        np.where(under & (inten <= cfg.fairness.tolerance_low), "under", "within"),
    )
    return np.where(np.isnan(inten), "undefined", f)


def _label_values(frame: pd.DataFrame, area: str, label: str, alternative: str) -> tuple[np.ndarray, np.ndarray]:
    """The observed and the alternative label as floats; refused with missing values."""
    obs = frame[label].to_numpy(dtype=np.float64, na_value=np.nan)
    alt = frame[alternative].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(obs).any() or np.isnan(alt).any():
        col = label if np.isnan(obs).any() else alternative
        raise InputError(area, col, int(np.isnan(obs).sum() + np.isnan(alt).sum()), "missing label values")
    return obs, alt


def _area_sums(codes: np.ndarray, k: int, obs: np.ndarray, alt: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per area (code -1: none): persons, observed events and alternative events."""
    has = codes >= 0
    n = np.bincount(codes[has], minlength=k).astype(np.float64)
    o = np.bincount(codes[has], weights=obs[has], minlength=k)
    a = np.bincount(codes[has], weights=alt[has], minlength=k)
    return n, o, a


def _intensity(
    o: np.ndarray, a: np.ndarray, reference: np.ndarray, binary_alt: bool, q: tuple[float, float]
) -> tuple[np.ndarray, ...]:
    """Relative registration intensity per area against the pooled ratio of ``reference``:
    point, exact interval and one-sided p-values (up, down) of intensity 1."""
    if not binary_alt:  # O ~ Poisson(theta * ref * A), theta = 1 typical
        return _poisson_intensity(o, a, reference, q)
    ref = divide(o[reference].sum(), a[reference].sum())
    point = divide(divide(o, a), ref)
    with np.errstate(all="ignore"):
        # O | O + A ~ Binomial(O + A, theta / (1 + theta)), theta = 1 typical
        plo, phi = _clopper_pearson(o, o + a, q)
        lo, hi = divide(divide(plo, 1.0 - plo), ref), divide(divide(phi, 1.0 - phi), ref)
        hi = np.where(phi >= 1.0, np.inf, hi)
        p0 = ref / (1.0 + ref)
        p_up, p_down = binom.sf(o - 1, o + a, p0), binom.cdf(o, o + a, p0)
    return point, lo, hi, p_up, p_down


def _two_step_intensity(
    o: np.ndarray, a: np.ndarray, big: np.ndarray, binary_alt: bool, cfg: EvaluationConfig
) -> tuple[np.ndarray, ...]:
    """Intensity against all areas with enough persons (``big``), then against those of them not
    flagged over-registered. Returns point, interval, p-value of "over", registration flag and
    the reference areas."""
    q = cfg.quantiles
    inten, ilo, ihi, p_up, p_down = _intensity(o, a, big, binary_alt, q)
    registration = _flag_registration(inten, p_up, p_down, big, cfg)
    reference = big & (registration != "over")
    if reference.any():
        inten, ilo, ihi, p_up, p_down = _intensity(o, a, reference, binary_alt, q)
        registration = _flag_registration(inten, p_up, p_down, big, cfg)
    return inten, ilo, ihi, p_up, registration, reference


def _heterogeneity(o: np.ndarray, a: np.ndarray, big: np.ndarray, binary_alt: bool) -> tuple[float, int]:
    """Global test: do intensities vary between areas more than chance allows? Chi-square
    statistic and degrees of freedom; it has power even when single small areas cannot be
    identified."""
    ref_all = divide(o[big].sum(), a[big].sum())
    if binary_alt:
        p0 = ref_all / (1.0 + ref_all)
        expected, var = (o + a)[big] * p0, (o + a)[big] * p0 * (1.0 - p0)
    else:
        expected = var = a[big] * ref_all
    used = var > 0
    stat = float(np.sum((o[big][used] - expected[used]) ** 2 / var[used]))
    return stat, max(int(used.sum()) - 1, 1)


def _label_bias_summary(
    areas: pd.DataFrame, n_too_few: int, stat: float, dof: int, *, with_model: bool
) -> dict[str, Any]:
    """Counts of areas by registration flag and elevated status under each label, the
    heterogeneity test and the shares the gate judges."""
    elevated_obs = areas["status_observed"] == "elevated"
    elevated_alt = areas["status_alternative"] == "elevated"
    summary: dict[str, Any] = {
        "n_areas": int(len(areas)),
        "n_areas_too_few": n_too_few,
        "n_areas_over_registered": int((areas["registration"] == "over").sum()),
        "n_areas_under_registered": int((areas["registration"] == "under").sum()),
        "n_areas_elevated_observed": int(elevated_obs.sum()),
        "n_areas_elevated_alternative": int(elevated_alt.sum()),
        "n_areas_elevated_observed_only": int((elevated_obs & ~elevated_alt).sum()),
        "intensity_dispersion_ratio": stat / dof,
        "p_intensity_heterogeneity": float(chi2.sf(stat, dof)),
        "share_elevated_observed_only": float((elevated_obs & ~elevated_alt).sum() / elevated_obs.sum())
        if elevated_obs.any()
        else 0.0,
    }
    if with_model:
        elevated_model = areas["status_model"] == "elevated"
        summary.update(
            {
                "n_areas_elevated_model": int(elevated_model.sum()),
                "n_areas_elevated_model_not_alternative": int((elevated_model & ~elevated_alt).sum()),
                "share_model_elevated_not_alternative": float(
                    (elevated_model & ~elevated_alt).sum() / elevated_model.sum()
                )
                if elevated_model.any()
                else 0.0,
            }
        )
    return summary


def audit_label_bias(
    frame: pd.DataFrame,
    *,
    area: str,
    label: str,
    alternative: str,
    cfg: EvaluationConfig,
    score: str | None = None,
    executor: Executor | None = None,
) -> LabelBiasResult:
    """Compare area results under the observed label and an intensity-free alternative.

    The relative registration intensity of an area is a standardised ratio: observed events
    divided by the events expected from the alternative, scaled by the pooled ratio of the
    reference areas (first all areas with enough persons, then, in a second step, those not
    flagged over-registered), so the typical area is 1. Its interval is exact: a Poisson
    (Garwood) interval on the observed count when the alternative is an expected value (a
    probability), a conditional binomial (Clopper-Pearson) interval when it is a 0/1 label;
    exact intervals stay honest for areas with few or no events, where a bootstrap collapses.
    An area is flagged "over" (over-registered, e.g. over-policed) when the intensity is at
    least ``cfg.fairness.tolerance_high`` and a one-sided exact test rejects intensity 1 with the false
    discovery rate over all areas held at ``cfg.alpha / 2`` (Benjamini-Hochberg); "under"
    symmetrically.
    Elevated status (the rate's interval excludes the national rate) is compared under both
    labels and, if ``score`` is given, for the model's area risk (bootstrap interval of area
    minus national).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person with ``area``, ``label`` (0/1), ``alternative`` (0/1, or an expected
        value such as a true probability; it must not contain area-specific detection) and
        optionally ``score``.
    area, label, alternative : str
    cfg : EvaluationConfig
    score : str, optional
        Predicted risk, to see whether the model inherits the registration bias.
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    LabelBiasResult
    """
    obs, alt = _label_values(frame, area, label, alternative)
    q = cfg.quantiles
    codes, labels = _area_codes(frame, area)
    n, o, a = _area_sums(codes, len(labels), obs, alt)
    binary_alt = bool(np.isin(alt, (0.0, 1.0)).all())
    big = enough(n, cfg.min_cell_size)
    p_obs, p_alt = obs.mean(), alt.mean()

    rate_obs = divide(o, n)
    olo, ohi = _clopper_pearson(o, n, q)
    rate_alt = divide(a, n)
    if binary_alt:
        alo, ahi = _clopper_pearson(a, n, q)
    cols = {"alt": alt} if not binary_alt else {}
    if score is not None:
        cols["model"] = frame[score].to_numpy(dtype=np.float64)
    est: dict[str, Any] = {}
    if cols:
        _, _, est = _area_bootstrap(frame, area, cols, cfg, executor)
    if not binary_alt:
        alo, ahi = est["alt"].interval(q)
        st_alt, _, _ = _status_vs_national(est, "alt", q)
    else:
        st_alt = _status(alo, ahi, p_alt)

    inten, ilo, ihi, _, registration, reference = _two_step_intensity(o, a, big, binary_alt, cfg)
    stat, dof = _heterogeneity(o, a, big, binary_alt)

    data: dict[str, Any] = {
        "area_code": labels,
        "n_persons": n,
        "rate_observed": rate_obs,
        "rate_observed_lo": olo,
        "rate_observed_hi": ohi,
        "rate_alternative": rate_alt,
        "rate_alternative_lo": alo,
        "rate_alternative_hi": ahi,
        "registration_intensity": inten,
        "registration_intensity_lo": ilo,
        "registration_intensity_hi": ihi,
        "registration": registration,
        "status_observed": _status(olo, ohi, p_obs),
        "status_alternative": st_alt,
    }
    if score is not None:
        st_model, _, _ = _status_vs_national(est, "model", q)
        ref_m = divide(est["model"].point[reference] @ n[reference], a[reference].sum())
        mva = divide(divide(est["model"].point, rate_alt), ref_m)
        data.update({"status_model": st_model, "model_vs_alternative": mva})
    areas = pd.DataFrame(data)
    n_too_few = int((~big & (n > 0)).sum())
    areas = areas[big].sort_values("area_code").reset_index(drop=True)

    summary = _label_bias_summary(areas, n_too_few, stat, dof, with_model=score is not None)
    return LabelBiasResult(areas=areas, summary=summary)


def compare_with_truth(result: LabelBiasResult, truth_areas: pd.DataFrame) -> dict[str, Any]:
    """How well the flagged areas match the known over-policed areas (synthetic data only).

    Parameters
    ----------
    result : LabelBiasResult
    truth_areas : pandas.DataFrame
        ``area_code`` and boolean ``over_policed`` (and optionally ``enforcement_multiplier``
        or ``enforcement``), e.g. ``truth/areas.parquet`` of the synthetic generator.

    Returns
    -------
    dict
        ``n_areas_truly_over_policed``, ``n_areas_flagged``, ``n_areas_flagged_correctly``,
        ``recall``, ``precision``, ``false_discovery`` (flagged but not over-policed) and, if the
        enforcement multiplier is present, the Spearman correlation between estimated intensity
        and true enforcement, ``n_areas_flagged_not_elevated`` and ``false_discovery_null``
        (flagged with a true enforcement at or below the median of the areas not over-policed:
        the false discoveries of the audit's own null, which Benjamini-Hochberg controls).
    """
    t = truth_areas.assign(area_code=truth_areas["area_code"].astype(str)).drop_duplicates("area_code")
    m = result.areas.merge(t, on="area_code", how="inner")
    truth = m["over_policed"].astype(bool).to_numpy()
    flagged = (m["registration"] == "over").to_numpy()
    out: dict[str, Any] = {
        "n_areas_compared": int(len(m)),
        "n_areas_truly_over_policed": int(truth.sum()),
        "n_areas_flagged": int(flagged.sum()),
        "n_areas_flagged_correctly": int((truth & flagged).sum()),
        "recall": float((truth & flagged).sum() / truth.sum()) if truth.any() else float("nan"),
        "precision": float((truth & flagged).sum() / flagged.sum()) if flagged.any() else float("nan"),
        "false_discovery": float((~truth & flagged).sum() / flagged.sum()) if flagged.any() else float("nan"),
    }
    enforcement = next((c for c in ("enforcement_multiplier", "enforcement") if c in m.columns), None)
    if enforcement is not None and len(m) > 2:
        out["spearman_intensity_enforcement"] = float(
            m["registration_intensity"].rank().corr(m[enforcement].astype(float).rank())
        )
    if enforcement is not None and (~truth).any():
        # the audit's own null: not registered more than the reference (the median enforcement
        # of the areas not over-policed, as in power_at_true_intensity). A flagged area between
        # the reference and the over-policing cut (an aggregated gemeente) is truly elevated:
        # a false discovery against the cut, not against the null Benjamini-Hochberg controls.
        e = m[enforcement].astype(float).to_numpy()
        base = float(np.nanmedian(e[~truth]))
        null_flags = flagged & (e <= base)
        out["n_areas_flagged_not_elevated"] = int(null_flags.sum())
        out["false_discovery_null"] = float(null_flags.sum() / flagged.sum()) if flagged.any() else float("nan")
    return out


# --------------------------------------------------------------------------------------------
# registration intensity from all registrations (no alternative label needed)
# --------------------------------------------------------------------------------------------


def registrations_next_period(frame: pd.DataFrame, *, person: str, date: str, count: str) -> np.ndarray:
    """Registrations of each person between a reference date and the next one.

    ``count`` is a running count of a person's registrations strictly before the reference date
    (the feature ``ind_n_prior_suspect``); the difference to the person's row at the next
    reference date counts every registration in between, of any offence. NaN where the person
    has no row at the next reference date (aged out, moved abroad, last date).

    Examples
    --------
    >>> df = pd.DataFrame({"p": [1, 1, 1, 2], "d": [2019, 2020, 2021, 2019], "n": [0.0, 2.0, 2.0, 1.0]})
    >>> registrations_next_period(df, person="p", date="d", count="n").tolist()
    [2.0, 0.0, nan, nan]
    """
    dates = np.sort(pd.unique(frame[date]))
    pos = np.searchsorted(dates, frame[date].to_numpy())
    keys = pd.DataFrame({"p": frame[person].to_numpy(), "i": pos, "n": frame[count].to_numpy(dtype=np.float64)})
    nxt = keys.assign(i=keys["i"] - 1).rename(columns={"n": "n_next"})
    merged = keys.merge(nxt, on=["p", "i"], how="left")
    return (merged["n_next"] - merged["n"]).to_numpy(dtype=np.float64)


def model_expected(frame: pd.DataFrame, *, observed: str, score: str, strata: Sequence[str], bins: int) -> np.ndarray:
    """Model-expected value of ``observed`` per row: its mean among rows of the same stratum
    (e.g. age band x reference date) and the same quantile bin of model risk.

    The model's risk ranks persons by their own situation; it has no area input (area-specific
    detection enters it only through a person's earlier registrations). Calibrating it within
    quantile bins to the outcome at hand (e.g. any registration in the next year) gives the
    registrations expected for each person if every area registered at the national intensity.
    Rows with a missing ``observed`` get NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"s": [0.1, 0.1, 0.9, 0.9], "y": [0.0, 1.0, 1.0, 1.0], "b": "x"})
    >>> model_expected(df, observed="y", score="s", strata=["b"], bins=2).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    y = frame[observed].to_numpy(dtype=np.float64, na_value=np.nan)
    s = frame[score].to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(y) & ~np.isnan(s)
    stratum = frame.groupby(list(strata), sort=True, observed=True).ngroup().to_numpy() if strata else np.zeros(len(y))
    # quantile bin of the risk within the stratum (ties share a bin)
    pct = pd.Series(np.where(known, s, np.nan)).groupby(stratum).rank(pct=True, method="max").to_numpy()
    b = np.clip(np.ceil(pct * bins) - 1, 0, bins - 1)
    cell = np.where(known, stratum * bins + np.nan_to_num(b), -1).astype(np.int64)
    k = int(cell.max()) + 1 if known.any() else 0
    tot = np.bincount(cell[known], weights=y[known], minlength=k)
    cnt = np.bincount(cell[known], minlength=k)
    mean = divide(tot, cnt)
    return np.where(known, mean[np.maximum(cell, 0)], np.nan)


def _registration_sums(
    frame: pd.DataFrame, area: str, observed: str, expected: str, person: str | None
) -> tuple[np.ndarray, ...]:
    """Per area: the area codes, observed and expected registrations, and persons (distinct
    ``person`` keys, else rows); rows with a missing value are left out, negative counts refused."""
    obs = frame[observed].to_numpy(dtype=np.float64, na_value=np.nan)
    exp = frame[expected].to_numpy(dtype=np.float64, na_value=np.nan)
    if (obs < 0).any() or (exp < 0).any():
        raise InputError(area, observed, int((obs < 0).sum() + (exp < 0).sum()), "negative registration counts")
    codes, labels = _area_codes(frame, area)
    k = len(labels)
    use = (codes >= 0) & ~np.isnan(obs) & ~np.isnan(exp)
    c = codes[use]
    o = np.bincount(c, weights=obs[use], minlength=k)
    e = np.bincount(c, weights=exp[use], minlength=k)
    if person is not None:
        pairs = pd.DataFrame({"c": c, "p": frame[person].to_numpy()[use]}).drop_duplicates()
        n = np.bincount(pairs["c"].to_numpy(), minlength=k).astype(np.float64)
    else:
        n = np.bincount(c, minlength=k).astype(np.float64)
    return labels, o, e, n


def _power_table(
    labels: np.ndarray,
    e: np.ndarray,
    ref: float | np.ndarray,
    p_up: np.ndarray,
    auditable: np.ndarray,
    big: np.ndarray,
    registration: np.ndarray,
    cfg: EvaluationConfig,
) -> tuple[float, pd.DataFrame]:
    """The Benjamini-Hochberg cutoff this run used and, per auditable area, the power to flag
    an intensity of ``cfg.stigmatisation.intensity.power_ratio`` at it (in memory only)."""
    # power to see a given intensity, at the Benjamini-Hochberg cutoff this run used, for every
    # audited area (shown or not: the registration count itself decides that)
    p_cut = bh_threshold(np.where(auditable, p_up, np.nan), cfg.alpha / 2.0)
    power = (
        intensity_power(
            e * ref,
            ratio=cfg.stigmatisation.intensity.power_ratio,
            p_threshold=p_cut,
            min_count=cfg.min_cell_size,
            tolerance=cfg.fairness.tolerance_high,
        )
        if np.isfinite(p_cut) and np.isfinite(ref)
        else np.full(len(labels), np.nan)
    )
    power_table = (
        pd.DataFrame(
            {
                "area_code": labels,
                "expected_registrations": e * ref,
                "power": power,
                "shown": big,
                "registration": np.where(big, registration, "not shown"),
            }
        )[auditable]
        .sort_values("area_code")
        .reset_index(drop=True)
    )
    return p_cut, power_table


def audit_registration_intensity(
    frame: pd.DataFrame,
    *,
    area: str,
    observed: str,
    expected: str,
    cfg: EvaluationConfig,
    person: str | None = None,
) -> LabelBiasResult:
    """Registration intensity per area: observed registrations against the model-expected ones.

    ``O`` (registrations of the area's residents) is compared with ``E`` (the sum of the
    model-expected values, see :func:`model_expected`): the relative intensity is ``(O / E) /
    ref`` where ``ref`` is the pooled ``O / E`` of the reference areas (first all areas with
    enough persons, then those not flagged "over"), so a typical area is 1. Its interval is exact
    (Garwood) on the Poisson count ``O``; an area is flagged "over" when the intensity is at least
    ``cfg.fairness.tolerance_high`` and a one-sided exact Poisson test rejects intensity 1 with the false
    discovery rate over all tested areas held at ``cfg.alpha / 2`` (Benjamini-Hochberg), "under"
    symmetrically. Pool several reference dates and all age bands for power: registration
    intensity is a property of the area.

    What it can and cannot tell: an area flagged "over" registers more of its residents than
    their own situation (as the model sees it) predicts. That is area-specific detection *or*
    area-specific offending the model cannot see; registrations alone cannot separate the two.
    Detection also reaches the model through earlier registrations, which shrinks the measured
    intensity towards 1 (the audit is conservative).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person (and period) with ``area``, ``observed`` (registrations in the
        period, or 0/1 registered) and ``expected``; rows with a missing value are left out.
    area, observed, expected : str
    cfg : EvaluationConfig
    person : str, optional
        Person key: the minimum cell size applies to distinct persons (else to rows).

    Returns
    -------
    LabelBiasResult
        ``areas``: ``area_code, n_persons, registration_intensity (+_lo/_hi), registration``
        (areas with fewer persons or registrations than the minimum cell size left out: the
        exact interval would give the count away; sorted by code); ``summary``: counts of
        areas, pooled totals, the global heterogeneity test, the Benjamini-Hochberg cutoff
        used (``p_threshold_over``) and how many of the ``n_areas_auditable`` areas (enough
        persons) have at least ``cfg.stigmatisation.intensity.power_target`` power to be flagged if their
        intensity were ``cfg.stigmatisation.intensity.power_ratio`` (``n_areas_powered``); ``power``: the
        per-area power (in memory only, see :class:`LabelBiasResult`).
    """
    labels, o, e, n = _registration_sums(frame, area, observed, expected, person)
    # the exact interval gives away O, so the registrations must pass the minimum cell size too
    # Areas with enough persons are audited: the reference O/E and the false-discovery control
    # run over all of them. Only those whose registrations also reach the minimum cell size are
    # shown (``big``; the exact interval would give a small count away). Restricting the
    # reference or the Benjamini-Hochberg set to the shown areas would select on the outcome:
    # the reference would be inflated by over-registered areas (intensities pushed towards 1),
    # and small areas that reach 10 registrations only by an extreme count would be tested
    # against a cutoff that no longer counts the many that did not.
    auditable = enough(n, cfg.min_cell_size) & (e > 0)
    big = auditable & enough(o, cfg.min_cell_size)
    inten, lo, hi, p_up, registration, reference = _two_step_intensity(o, e, auditable, False, cfg)
    ref = divide(o[reference].sum(), e[reference].sum()) if reference.any() else float("nan")
    p_cut, power_table = _power_table(labels, e, ref, p_up, auditable, big, registration, cfg)
    # global test: Pearson chi-square of O against ref * E over the tested areas
    exp_ref = e[big] * divide(o[big].sum(), e[big].sum())
    stat = float(np.sum(divide((o[big] - exp_ref) ** 2, exp_ref)[exp_ref > 0]))
    dof = max(int((exp_ref > 0).sum()) - 1, 1)
    areas = (
        pd.DataFrame(
            {
                "area_code": labels,
                "n_persons": n,
                "registration_intensity": inten,
                "registration_intensity_lo": lo,
                "registration_intensity_hi": hi,
                "registration": registration,
            }
        )[big]
        .sort_values("area_code")
        .reset_index(drop=True)
    )
    summary: dict[str, Any] = {
        "method": "observed registrations against model-expected ones, exact Poisson, Benjamini-Hochberg",
        "n_areas": int(len(areas)),
        "n_areas_too_few": int((~big & (n > 0)).sum()),
        "n_areas_over_registered": int((areas["registration"] == "over").sum()),
        "n_areas_under_registered": int((areas["registration"] == "under").sum()),
        "registrations_per_expected_reference": float(ref),
        "intensity_dispersion_ratio": stat / dof,
        "p_intensity_heterogeneity": float(chi2.sf(stat, dof)),
        "p_threshold_over": p_cut,
        "power_intensity_ratio": cfg.stigmatisation.intensity.power_ratio,
        "n_areas_auditable": int(auditable.sum()),
        "n_areas_powered": int((power_table["power"] >= cfg.stigmatisation.intensity.power_target).sum()),
        "power_target": cfg.stigmatisation.intensity.power_target,
    }
    return LabelBiasResult(areas=areas, summary=summary, power=power_table)


def truth_at_level(truth_areas: pd.DataFrame, members: pd.DataFrame, *, level: str, threshold: float) -> pd.DataFrame:
    """Known enforcement of wijken aggregated to a coarser level (synthetic data only).

    The enforcement of a coarser area is the mean of its wijken's ``enforcement_multiplier``
    (or ``enforcement``) weighted by the wijk's rows in ``members``; the area counts as
    over-policed when that mean reaches ``threshold`` (e.g. ``cfg.fairness.tolerance_high``: a quarter
    of the residents in wijken policed twice as intensely).

    Parameters
    ----------
    truth_areas : pandas.DataFrame
        ``area_code`` (wijk codes) and the enforcement column; other levels are ignored.
    members : pandas.DataFrame
        Rows with ``wijk`` and ``level`` columns (e.g. the evaluated rows).
    level : str
        Target level column of ``members`` (e.g. "gemeente").
    threshold : float

    Returns
    -------
    pandas.DataFrame
        ``area_code, area_level, enforcement, over_policed``.
    """
    col = next(c for c in ("enforcement_multiplier", "enforcement") if c in truth_areas.columns)
    t = truth_areas.assign(area_code=truth_areas["area_code"].astype(str)).drop_duplicates("area_code")
    mult = t.set_index("area_code")[col].astype(float)
    m = pd.DataFrame({"wijk": members["wijk"].astype(str).to_numpy(), "up": members[level].astype(str).to_numpy()})
    m["enf"] = m["wijk"].map(mult)
    g = m.dropna(subset=["enf"]).groupby("up", sort=True)["enf"].mean()
    return pd.DataFrame(
        {
            "area_code": g.index.astype(str),
            "area_level": level,
            "enforcement": g.to_numpy(),
            "over_policed": g.to_numpy() >= threshold,
        }
    )


def sensitivity_by_power(power: pd.DataFrame, truth_areas: pd.DataFrame, *, cuts: Sequence[float]) -> pd.DataFrame:
    """Sensitivity and false discovery of the registration-intensity audit per power stratum
    (synthetic data only): does it flag the over-policed areas it has the data to see?

    Areas are the audit's power table (every area with enough persons, shown or not; see
    :class:`LabelBiasResult`) joined with the truth; strata are cut by ``power`` at ``cuts``
    (lower bound inclusive). Per stratum: areas, truly over-policed areas, flagged ("over"),
    flagged correctly, sensitivity (flagged correctly / truly over-policed), false discovery
    (flagged wrongly / flagged) and the mean power of the truly over-policed areas, which is
    the sensitivity to expect if their true intensity were the power's ratio. The last row
    ("all") pools the strata: its sensitivity counts over-policed areas not shown as missed.

    Parameters
    ----------
    power : pandas.DataFrame
        ``area_code, power, registration``.
    truth_areas : pandas.DataFrame
        ``area_code, over_policed`` (other columns ignored).
    cuts : sequence of float
        Increasing cut points in (0, 1).

    Returns
    -------
    pandas.DataFrame
        ``stratum, power_from, power_to, n_areas, n_areas_truly_over_policed, n_areas_flagged,
        n_areas_flagged_correctly, sensitivity, false_discovery, mean_power_truly_over_policed``
        (NaN where a ratio has no denominator).

    Examples
    --------
    >>> pw = pd.DataFrame({"area_code": list("abcd"), "power": [0.1, 0.1, 0.9, 0.95],
    ...                    "registration": ["not shown", "within", "over", "within"]})
    >>> tr = pd.DataFrame({"area_code": list("abcd"), "over_policed": [True, False, True, True]})
    >>> t = sensitivity_by_power(pw, tr, cuts=[0.5])
    >>> t["stratum"].tolist(), t["n_areas_flagged_correctly"].tolist(), t["sensitivity"].round(3).tolist()
    (['power < 0.5', 'power >= 0.5', 'all'], [0, 1, 1], [0.0, 0.5, 0.333])
    """
    t = truth_areas.assign(area_code=truth_areas["area_code"].astype(str)).drop_duplicates("area_code")
    m = power.assign(area_code=power["area_code"].astype(str)).merge(
        t[["area_code", "over_policed"]], on="area_code", how="inner"
    )
    edges = [0.0, *map(float, cuts), np.inf]
    pw = m["power"].to_numpy(dtype=np.float64)
    truth = m["over_policed"].astype(bool).to_numpy()
    flagged = (m["registration"] == "over").to_numpy()

    def row(name: str, lo: float, hi: float, sel: np.ndarray) -> dict[str, Any]:
        tr, fl = truth & sel, flagged & sel
        n_true, n_flag, n_ok = int(tr.sum()), int(fl.sum()), int((tr & fl).sum())
        return {
            "stratum": name,
            "power_from": lo,
            "power_to": min(hi, 1.0),
            "n_areas": int(sel.sum()),
            "n_areas_truly_over_policed": n_true,
            "n_areas_flagged": n_flag,
            "n_areas_flagged_correctly": n_ok,
            "sensitivity": n_ok / n_true if n_true else float("nan"),
            "false_discovery": (n_flag - n_ok) / n_flag if n_flag else float("nan"),
            "mean_power_truly_over_policed": float(pw[tr].mean()) if n_true else float("nan"),
        }

    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (pw >= lo) & (pw < hi)
        name = f"power < {hi:g}" if lo == 0.0 else (f"power >= {lo:g}" if np.isinf(hi) else f"power {lo:g}-{hi:g}")
        rows.append(row(name, lo, hi, sel))
    rows.append(row("all", 0.0, 1.0, ~np.isnan(pw)))
    return pd.DataFrame(rows)


def power_at_true_intensity(
    power: pd.DataFrame, truth_areas: pd.DataFrame, *, p_threshold: float, min_count: int, tolerance: float
) -> pd.DataFrame:
    """The power table with ``power`` recomputed at each area's own true intensity (synthetic
    data only): its enforcement divided by the median enforcement of the areas that are not
    over-policed (the audit's reference). At gemeente level the true intensity is the mean of
    the wijken (1.25-1.8 for the over-policed gemeenten), not the wijk multiplier 2, so the
    power to see a doubling overstates what the audit can see there.

    Parameters
    ----------
    power : pandas.DataFrame
        ``area_code, expected_registrations, power, registration`` (:class:`LabelBiasResult`).
    truth_areas : pandas.DataFrame
        ``area_code, over_policed`` and ``enforcement_multiplier`` (or ``enforcement``).
    p_threshold, min_count, tolerance :
        As for :func:`intensity_power` (the audit's ``p_threshold_over``, minimum cell size and
        ``fairness.tolerance_high``).

    Returns
    -------
    pandas.DataFrame
        The rows of ``power`` with a known enforcement.

    Examples
    --------
    >>> pw = pd.DataFrame({"area_code": ["a", "b"], "expected_registrations": [40.0, 40.0], "power": 0.9,
    ...                    "registration": "within"})
    >>> tr = pd.DataFrame({"area_code": ["a", "b"], "over_policed": [True, False], "enforcement": [1.3, 1.0]})
    >>> power_at_true_intensity(pw, tr, p_threshold=0.001, min_count=10, tolerance=1.25)["power"].round(3).tolist()
    [0.096, 0.001]
    """
    col = next(c for c in ("enforcement_multiplier", "enforcement") if c in truth_areas.columns)
    t = truth_areas.assign(area_code=truth_areas["area_code"].astype(str)).drop_duplicates("area_code")
    base = float(t.loc[~t["over_policed"].astype(bool), col].astype(float).median())
    m = power.assign(area_code=power["area_code"].astype(str)).merge(t[["area_code", col]], on="area_code")
    m = m[m[col].notna()].reset_index(drop=True)
    mu = m["expected_registrations"].to_numpy(dtype=np.float64)
    ratio = m[col].to_numpy(dtype=np.float64) / base
    m["power"] = intensity_power(mu, ratio=ratio, p_threshold=p_threshold, min_count=min_count, tolerance=tolerance)
    return m.drop(columns=[col])


# --------------------------------------------------------------------------------------------
# ranking uncertainty
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RankingResult:
    """Uncertainty of area risk and rank.

    Attributes
    ----------
    areas : pandas.DataFrame
        In memory only (it holds rank intervals; never export it): ``area_code, n_persons,
        risk_mean, risk_lo, risk_hi, status, rank_lo, rank_hi, in_naive_list``.
    summary : dict
        Aggregate counts safe to report (no per-area ranks).
    """

    areas: pd.DataFrame
    summary: dict[str, Any]


def elevated_status(lo: np.ndarray, hi: np.ndarray, reference: float) -> np.ndarray:
    """The product's one "elevated" rule: ``elevated`` only when the interval's lower bound lies
    above the reference, ``lower`` when its upper bound lies below, else ``not distinguishable``.

    The same rule marks ``elevated`` in the export (``risk_lo`` above the national
    ``risk_mean`` of the band) and in the dashboard; the level is ``definitions.interval_level``.

    Examples
    --------
    >>> elevated_status(np.array([0.2, 0.05, 0.05]), np.array([0.3, 0.2, 0.08]), 0.1).tolist()
    ['elevated', 'not distinguishable', 'lower']
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    return np.where(lo > reference, "elevated", np.where(hi < reference, "lower", "not distinguishable"))


def audit_ranking(
    frame: pd.DataFrame, *, area: str, value: str, cfg: EvaluationConfig, executor: Executor | None = None
) -> RankingResult:
    """Bootstrap intervals for area risk and rank; "elevated" only if the lower bound of the
    area's interval lies above the national level (:func:`elevated_status`, the rule of the
    export); count what a naive list of the ``cfg.stigmatisation.top_n`` highest gets wrong.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per person with ``area`` and ``value`` (predicted risk or 0/1 label).
    area, value : str
    cfg : EvaluationConfig
    executor : Executor, optional
        Where the bootstrap's chunks of replicates run (:func:`evaluation.bootstrap.bootstrap`);
        default: this process. The same results either way.

    Returns
    -------
    RankingResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": np.repeat(["A", "B", "C"], 200), "r": rng.random(600) * np.repeat([1, 1, 2], 200)})
    >>> from evaluation.config import BootstrapConfig, StigmatisationConfig
    >>> cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=50), stigmatisation=StigmatisationConfig(top_n=1))
    >>> res = audit_ranking(df, area="a", value="r", cfg=cfg)
    >>> res.areas.set_index("area_code")["status"].to_dict()
    {'A': 'lower', 'B': 'lower', 'C': 'elevated'}
    """
    v = frame[value].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(v).any():
        raise InputError(area, value, int(np.isnan(v).sum()), "missing values")
    labels, counts, est = _area_bootstrap(frame, area, {"risk": v}, cfg, executor)
    q = cfg.quantiles
    big = enough(counts, cfg.min_cell_size)
    lo, hi = est["risk"].interval(q)
    # the product's one rule (as the export and the dashboard): elevated only when the lower
    # bound of the area's interval lies above the national level of the band
    status = elevated_status(lo, hi, float(est["risk|national"].point[0]))
    idx = np.flatnonzero(big)
    reps = est["risk"].reps[:, idx]
    # rank 1 = highest risk, among areas with enough persons; NaN replicates (area not drawn)
    # cannot happen for areas of this size in practice; they rank last.
    filled = np.where(np.isnan(reps), -np.inf, reps)
    rank_reps = (-filled).argsort(axis=1).argsort(axis=1) + 1
    rlo, rhi = np.percentile(rank_reps, q, axis=0)
    point = est["risk"].point[idx]
    order = np.argsort(-point, kind="stable")
    naive = np.zeros(len(idx), dtype=bool)
    naive[order[: cfg.stigmatisation.top_n]] = True
    areas = (
        pd.DataFrame(
            {
                "area_code": labels[idx],
                "n_persons": counts[idx],
                "risk_mean": point,
                "risk_lo": lo[idx],
                "risk_hi": hi[idx],
                "status": status[idx],
                "rank_lo": rlo,
                "rank_hi": rhi,
                "in_naive_list": naive,
            }
        )
        .sort_values("area_code")
        .reset_index(drop=True)
    )
    elevated = areas["status"] == "elevated"
    in_list = areas["in_naive_list"]
    width = areas["rank_hi"] - areas["rank_lo"]
    n_list = int(in_list.sum())
    summary = {
        "n_areas": int(len(areas)),
        "n_areas_too_few": int((~big & (counts > 0)).sum()),
        "national_mean": float(est["risk|national"].point[0]),
        "n_areas_elevated": int(elevated.sum()),
        "n_areas_lower": int((areas["status"] == "lower").sum()),
        "n_areas_not_distinguishable": int((areas["status"] == "not distinguishable").sum()),
        "naive_list_length": n_list,
        "n_areas_naive_list_not_elevated": int((in_list & ~elevated).sum()),
        "n_areas_elevated_missing_from_naive_list": int((elevated & ~in_list).sum()),
        "n_areas_naive_list_rank_may_exceed_n": int((in_list & (areas["rank_hi"] > n_list)).sum()),
        "median_rank_interval_width": float(width.median()) if len(width) else float("nan"),
        "share_rank_interval_wider_than_n": float((width > n_list).mean()) if len(width) else float("nan"),
    }
    summary["n_areas_naive_list_mislabels"] = (
        summary["n_areas_naive_list_not_elevated"] + summary["n_areas_elevated_missing_from_naive_list"]
    )
    return RankingResult(areas=areas, summary=summary)


# --------------------------------------------------------------------------------------------
# league-table check
# --------------------------------------------------------------------------------------------

_RANK_COLUMN = re.compile(
    r"(^|[_\s.-])(rank|ranks|ranking|rang|rangorde|positie|position|plaats|place)($|[_\s.-])|^(#|nr|no\.?)$", re.I
)
_LIST_TEXT = re.compile(
    r"\b(worst|slechtste|ergste|ranglijst|probleemwijk\w*|probleembuurt\w*|problem\s+(neighbourhood|area)s?)\b"
    r"|\btop[\s-]*(\d+|n|ten|tien)\b"
    r"|\b(highest|hoogste|lowest|laagste)\s+\d+\b"
    r"|\b\d+\s+(highest|hoogste|worst|slechtste|riskiest)\b",
    re.I,
)
_AREA_CODE = re.compile(r"\b(GM\d{4}|WK\d{6}|BU\d{8})\b")
_AREA_COLUMNS = ("area_code", "area_name", "buurt", "wijk", "gemeente", "area")
_RISK_PREFIXES = ("risk", "share_", "rate_", "score", "n_elevated")


class _Collector(HTMLParser):
    """Collect text per tag of interest (headers, captions, headings, list items, titles)."""

    WATCH = ("th", "caption", "h1", "h2", "h3", "h4", "h5", "h6", "li", "title", "dt", "figcaption")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.items: list[tuple[str, str, bool]] = []  # tag, text, inside an ordered list
        self.buf: list[str] = []
        self.ol_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ol":
            self.ol_depth += 1
        if tag in self.WATCH:
            self.stack.append(tag)
            self.buf = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol":
            self.ol_depth = max(0, self.ol_depth - 1)
        if self.stack and tag == self.stack[-1]:
            self.stack.pop()
            self.items.append((tag, " ".join("".join(self.buf).split()), self.ol_depth > 0))

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.buf.append(data)


def audit_league_tables(
    *, tables: Mapping[str, pd.DataFrame] | None = None, html: Mapping[str, str] | None = None
) -> list[str]:
    """Findings that would make a table or report read as a league table (empty = clean).

    Checks column names for rank-like names, headers/captions/headings/list items for "worst",
    "top N", "highest 10" and the like, ordered lists of area codes, and area tables sorted by
    a risk-like column from high to low. Running prose is not scanned (a report may discuss
    league tables).

    Examples
    --------
    >>> audit_league_tables(tables={"t": pd.DataFrame({"area_code": ["a"], "rank": [1]})})
    ["table 't': rank-like column 'rank'"]
    >>> audit_league_tables(html={"r.html": "<h2>Top 10 buurten</h2><p>fine</p>"})
    ["report 'r.html': h2 'Top 10 buurten' presents a ranked list"]
    """
    findings: list[str] = []
    for name, df in (tables or {}).items():
        for col in map(str, df.columns):
            if _RANK_COLUMN.search(col):
                findings.append(f"table {name!r}: rank-like column {col!r}")
            elif _LIST_TEXT.search(col.replace("_", " ")):
                findings.append(f"table {name!r}: column {col!r} presents a ranked list")
        area_cols = [c for c in df.columns if str(c) in _AREA_COLUMNS]
        if area_cols and len(df) >= 5:
            for col in df.columns:
                c = str(col)
                if not c.startswith(_RISK_PREFIXES) or not pd.api.types.is_numeric_dtype(df[col].dtype):
                    continue
                v = pd.to_numeric(df[col], errors="coerce").dropna().to_numpy()
                if len(v) >= 5 and np.all(np.diff(v) <= 0) and v[0] > v[-1]:
                    findings.append(f"table {name!r}: rows sorted by {c!r} from high to low")
                    break
    for name, text in (html or {}).items():
        parser = _Collector()
        parser.feed(text)
        parser.close()
        for tag, content, in_ol in parser.items:
            if tag == "th" and _RANK_COLUMN.search(content):
                findings.append(f"report {name!r}: rank-like column header {content!r}")
            elif _LIST_TEXT.search(content):
                findings.append(f"report {name!r}: {tag} {content!r} presents a ranked list")
            elif tag == "li" and in_ol and _AREA_CODE.search(content):
                findings.append(f"report {name!r}: ordered list of areas ({content!r})")
    return findings


__all__ = [
    "LabelBiasResult",
    "ProxyResult",
    "RankingResult",
    "aggregate_area_composition",
    "audit_label_bias",
    "audit_league_tables",
    "audit_proxy",
    "audit_ranking",
    "elevated_status",
    "audit_registration_intensity",
    "build_intensity_adjusted_label",
    "compare_with_truth",
    "composition_from_geography",
    "model_expected",
    "bh_threshold",
    "intensity_power",
    "registrations_next_period",
    "sensitivity_by_power",
    "truth_at_level",
]
