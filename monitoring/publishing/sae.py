"""Fay-Herriot area-level model: REML variance, GLS fixed effects, EBLUP and Prasad-Rao MSE.

The standard small-area estimator (Fay and Herriot 1979; Rao and Molina 2015, ch. 6): each
area ``d`` has a direct estimate ``y_d`` of its target ``theta_d`` with a known sampling
variance ``psi_d``, and the targets follow a linear model with a random area effect::

    y_d = theta_d + e_d,     e_d ~ N(0, psi_d)          (sampling error, classical)
    theta_d = x_d' beta + v_d, v_d ~ N(0, sigma2_v)     (area effect, independent of e_d)

:func:`fay_herriot` estimates ``sigma2_v`` by REML (the root of the REML score, 0 if none),
``beta`` by generalised least squares, and returns per area the EBLUP
``gamma_d y_d + (1 - gamma_d) x_d' beta`` with ``gamma_d = sigma2_v / (sigma2_v + psi_d)``, its
mean squared error by Prasad and Rao (1990) with the REML correction of Datta and Lahiri
(2000), ``g1 + g2 + 2 g3``, and the normal interval ``eblup +- z sqrt(mse)``.
:func:`fay_herriot_synthetic` predicts areas without a direct estimate (``x' beta`` with
MSE ``sigma2_v + x' Var(beta) x``).

Heteroscedastic model (``variance_covariate``): the area effects' variance follows an area-level
covariate, ``sigma2_d = sigma2_v exp(slope (c_d - mean c))``; ``sigma2_v`` and ``slope`` by REML
(the slope maximises the profile restricted likelihood), ``g1``/``g2`` with each area's own
variance, ``g3`` over both parameters. A constant covariate gives the standard model exactly.
The REML optimum is checked against a dense likelihood maximised by a generic optimiser, and at
the fitted slope against samplics with its per-area factor ``b_const = sqrt(sigma2_d / sigma2_v)``
(same ``sigma2_v``, ``beta`` and EBLUP; samplics has no REML of the slope itself).

Vectorised over areas (every trace is a ``p x p`` product), so 100,000 areas take
milliseconds. Checked against samplics 0.6.1 (``samplics.sae.EblupAreaModel``) on the milk
expenditure data of Arora and Lahiri (1997) used by the R package sae (tests/monitoring/test_sae.py).
Pure functions on arrays; nothing here knows about persons or the area table.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import norm

__all__ = ["FayHerriotFit", "fay_herriot", "fay_herriot_synthetic"]

#: Grid points over the slope range before the bounded Brent refinement, and its tolerance.
_SLOPE_GRID = 17
_SLOPE_TOL = 1e-4
#: Smallest sampling variance relative to their median that the fit distinguishes from 0.
_PSI_FLOOR = float(np.finfo(np.float64).eps)
#: Largest estimate, in the fit's unit, whose square (the scale of the area variance the REML
#: search tries, times growth factors) stays far from float64's 1.8e308.
_MAX_UNIT_EXPONENT = 200
#: Largest |log| of an area's variance relative to the variance at the covariate's mean.
_LOG_SHAPE_LIMIT = float(np.log(1.0 / _PSI_FLOOR))


@dataclasses.dataclass(frozen=True)
class FayHerriotFit:
    """Result of :func:`fay_herriot` (arrays in the order of the input areas).

    Attributes
    ----------
    beta : ndarray (p,)
        GLS fixed effects at the REML ``sigma2_v``.
    beta_cov : ndarray (p, p)
        ``(X' V^-1 X)^-1``, their covariance.
    sigma2_v : float
        REML estimate of the variance of the area effects (>= 0); with a variance covariate,
        the variance at its mean.
    sigma2_v_var : float
        Its asymptotic variance (inverse information; without a variance covariate
        ``2 / sum(1 / (sigma2_v + psi)^2)``).
    variance_slope, variance_slope_var : float
        Slope of the log area variance in the variance covariate and its asymptotic variance
        (0 and 0 without one, or when ``sigma2_v`` is 0).
    slope_at_bound : bool
        The slope sits at the edge of the searched range (the variance model is then doubtful).
    variance_centre : float
        Mean of the variance covariate (0 without one).
    variance_range : tuple of float
        Its smallest and largest value; :meth:`area_variance` does not extrapolate beyond them.
    converged : bool
        The REML root was found to the tolerance (an estimate of 0 counts as converged).
    iterations : int
        Evaluations of the REML score.
    direct, sampling_var : ndarray (m,)
        The inputs.
    area_var : ndarray (m,)
        Each area's variance of the area effect, ``sigma2_v exp(slope (c - centre))``.
    synthetic : ndarray (m,)
        ``X beta``, the regression (synthetic) estimate.
    gamma : ndarray (m,)
        Weight of the direct estimate, ``sigma2_v / (sigma2_v + psi)``.
    eblup : ndarray (m,)
        The EBLUP.
    g1, g2, g3 : ndarray (m,)
        Prasad-Rao terms: ``gamma psi`` (area effect), ``(1 - gamma)^2 x' Var(beta) x``
        (estimating beta), ``psi^2 / (sigma2_v + psi)^3 Var(sigma2_v)`` (estimating sigma2_v).
    mse : ndarray (m,)
        ``g1 + g2 + 2 g3`` (second-order unbiased for REML). With a variance covariate ``g1`` and
        ``g2`` use the area's own variance and ``g3`` is
        ``(area_var + psi) grad(gamma)' Var(theta) grad(gamma)`` over ``theta = (sigma2_v, slope)``.
    lo, hi : ndarray (m,)
        ``eblup -+ z sqrt(mse)``.
    level : float
        Coverage of ``lo..hi`` under the model.
    """

    beta: np.ndarray
    beta_cov: np.ndarray
    sigma2_v: float
    sigma2_v_var: float
    variance_slope: float
    variance_slope_var: float
    slope_at_bound: bool
    variance_centre: float
    variance_range: tuple[float, float]
    converged: bool
    iterations: int
    direct: np.ndarray
    sampling_var: np.ndarray
    area_var: np.ndarray
    synthetic: np.ndarray
    gamma: np.ndarray
    eblup: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    mse: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    level: float

    def area_variance(self, variance_covariate: np.ndarray | float) -> np.ndarray:
        """Variance of the area effect at covariate values (clipped to the fitted range).

        Examples
        --------
        >>> fit = fay_herriot(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.0, 1.0]))
        >>> fit.area_variance(np.array([5.0])).tolist()
        [0.0]
        """
        c = np.clip(np.asarray(variance_covariate, dtype=np.float64), *self.variance_range)
        if self.variance_slope == 0.0:
            return np.full(np.shape(c), self.sigma2_v)
        return self.sigma2_v * np.exp(self.variance_slope * (c - self.variance_centre))

    def table(self) -> pd.DataFrame:
        """Per-area results as a frame: direct, sampling_var, area_var, synthetic, gamma, eblup, g1-g3, mse, lo, hi."""
        cols = (
            "direct",
            "sampling_var",
            "area_var",
            "synthetic",
            "gamma",
            "eblup",
            "g1",
            "g2",
            "g3",
            "mse",
            "lo",
            "hi",
        )
        return pd.DataFrame({c: getattr(self, c) for c in cols})


def _check(direct: np.ndarray, psi: np.ndarray, x: np.ndarray) -> None:
    m = direct.shape[0]
    if direct.ndim != 1 or psi.shape != (m,) or x.ndim != 2 or x.shape[0] != m:
        raise ValueError(
            f"fay_herriot: direct ({direct.shape}), sampling_var ({psi.shape}) and design ({x.shape}) "
            "must describe the same areas (1-D, 1-D, 2-D with one row per area)"
        )
    for name, a in (("direct", direct), ("sampling_var", psi), ("design", x)):
        if not np.isfinite(a).all():
            raise ValueError(f"fay_herriot: {name} has {int((~np.isfinite(a)).sum())} missing or infinite values")
    if (psi <= 0).any():
        raise ValueError(f"fay_herriot: sampling_var must be > 0 ({int((psi <= 0).sum())} areas are not)")
    if m <= x.shape[1] or np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(
            f"fay_herriot: the design ({x.shape[1]} columns, rank {np.linalg.matrix_rank(x)}) needs full column rank "
            f"and fewer columns than areas ({m})"
        )


def _gls(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """beta and (X' W X)^-1 for weights w = 1 / (sigma2_v + psi)."""
    xtw = x.T * w
    q = np.linalg.inv(xtw @ x)
    return q @ (xtw @ y), q


def _reml_step(
    y: np.ndarray, x: np.ndarray, psi: np.ndarray, s2: float, shape: np.ndarray | None = None
) -> tuple[float, float]:
    """REML score and Fisher information of sigma2_v, with P = W - W X Q X' W never formed.

    ``shape`` (default 1): area ``d`` has variance ``s2 * shape_d + psi_d`` (the variance model of
    :func:`fay_herriot` with ``variance_covariate``; ``shape`` fixed, ``s2`` free).
    """
    d = np.ones_like(psi) if shape is None else shape
    w = 1.0 / (s2 * d + psi)
    beta, q = _gls(y, x, w)
    py = w * (y - x @ beta)
    c2 = (x.T * (w**2 * d)) @ x
    c3 = (x.T * (w**3 * d * d)) @ x
    tr_p = np.sum(w * d) - np.trace(q @ c2)
    qc2 = q @ c2
    tr_pp = np.sum((w * d) ** 2) - 2.0 * np.trace(q @ c3) + np.trace(qc2 @ qc2)
    return float(-0.5 * tr_p + 0.5 * np.sum(d * py * py)), float(0.5 * tr_pp)


def _reml_loglik(y: np.ndarray, x: np.ndarray, v: np.ndarray) -> float:
    """Restricted log-likelihood (up to a constant) at area variances ``v = sigma2_d + psi_d``."""
    w = 1.0 / v
    beta, q = _gls(y, x, w)
    r = y - x @ beta
    return float(-0.5 * (np.sum(np.log(v)) - np.linalg.slogdet(q)[1] + np.sum(w * r * r)))


def _information(w: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    """Asymptotic information of the variance parameters, ``I_kl = sum(w^2 d_k d_l) / 2`` for
    ``d_k = dV / dtheta_k`` (the REML information without its O(1) fixed-effects terms, as in
    Prasad-Rao / Datta-Lahiri, samplics and the R package sae)."""
    g = np.stack(grads)
    return 0.5 * (g * w**2) @ g.T


def _reml_sigma2(
    y: np.ndarray,
    x: np.ndarray,
    psi: np.ndarray,
    tol: float,
    scale: float,
    max_iter: int,
    shape: np.ndarray | None = None,
) -> tuple[float, bool, int]:
    """REML root of ``sigma2_v``: the zero of the REML score, bracketed and found by Brent's method.

    Plain Fisher scoring (as in the R package sae) can oscillate without converging when the
    root is near 0 (found by the property tests); the score is bracketed (> 0 at ``lo``, < 0 at
    ``hi``, ``hi`` grown from the median sampling variance) and its root found by
    :func:`scipy.optimize.brentq` to ``tol * scale``. If the score is <= 0 at 0 the estimate is 0.
    Returns ``(sigma2_v, converged, iterations)``.
    """
    if _reml_step(y, x, psi, 0.0, shape)[0] <= 0.0:
        return 0.0, True, 1
    lo, hi = 0.0, max(float(np.median(psi)), tol * scale)
    it = 0
    while _reml_step(y, x, psi, hi, shape)[0] > 0.0:
        lo, hi, it = hi, hi * 4.0, it + 1
        if it > max_iter:
            return hi, False, it
    s2, info = brentq(
        lambda v: _reml_step(y, x, psi, v, shape)[0],
        lo,
        hi,
        xtol=tol * scale,
        rtol=1e-12,
        maxiter=max_iter,
        full_output=True,
    )
    return float(s2), bool(info.converged), it + int(info.function_calls)


def _profile_slope(
    y: np.ndarray, x: np.ndarray, psi: np.ndarray, c: np.ndarray, bound: float, tol: float, scale: float, max_iter: int
) -> tuple[float, float, bool, int]:
    """REML of ``(sigma2_v, slope)`` for ``sigma2_d = sigma2_v exp(slope c_d)``: the slope maximises
    the profile restricted likelihood (``sigma2_v`` at its REML root for each slope), over a grid of
    ``[-bound, bound]`` refined by bounded Brent. Returns ``(sigma2_v, slope, converged, iterations)``."""
    calls = 0

    def negative(slope: float) -> float:
        nonlocal calls
        shape = np.exp(slope * c)
        s2, ok, it = _reml_sigma2(y, x, psi, tol, scale, max_iter, shape)
        calls += it
        return -_reml_loglik(y, x, s2 * shape + psi)

    grid = np.linspace(-bound, bound, _SLOPE_GRID)
    values = np.array([negative(g) for g in grid])
    best = int(np.argmin(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    res = minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": _SLOPE_TOL})
    slope = float(res.x) if res.fun <= values[best] else float(grid[best])
    s2, ok, it = _reml_sigma2(y, x, psi, tol, scale, max_iter, np.exp(slope * c))
    if s2 == 0.0:
        slope = 0.0  # no area variance left: the slope is not identified
    return s2, slope, ok and bool(res.success), calls + it


def _prasad_rao_terms(
    x: np.ndarray,
    q: np.ndarray,
    psi: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    gamma: np.ndarray,
    grads: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Covariance of the variance parameters and the Prasad-Rao MSE terms g1 (area), g2
    (regression coefficients) and g3 (variance parameters) per area; ``v`` is the total
    variance, ``w = 1 / v``."""
    h = np.einsum("ij,jk,ik->i", x, q, x)
    theta_cov = np.linalg.pinv(_information(w, grads))
    dgamma = np.stack([psi * w**2 * g for g in grads], axis=1)
    g1, g2, g3 = gamma * psi, (1.0 - gamma) ** 2 * h, v * np.einsum("ij,jk,ik->i", dgamma, theta_cov, dgamma)
    return theta_cov, g1, g2, g3


def _unit_exponent(psi: np.ndarray, direct: np.ndarray) -> int:
    """``k`` such that the sampling variances in units of ``4**k`` have a median near 1, unless
    the estimates would then be so large that their variance overflows.

    The fit runs in the unit ``2**k`` of the estimates: the REML score has weights up to
    ``1 / psi**3``, which overflow for ``psi < 1e-103`` (the Bernoulli variance of scores near
    0 or 1) and underflow for large ones. But when the sampling variances are negligible next
    to the spread of the estimates (scores of 2e-311 beside ordinary ones), that unit makes the
    estimates about ``1e155`` and the area variance the REML search tries overflows (every
    weight 0, a singular GLS); then the unit follows the estimates instead (the sampling
    variances, tiny in it, are floored at ``_PSI_FLOOR``: the limit ``psi -> 0``). Scaling by a
    power of two is exact, so the fit is the same in any unit
    (``test_equivariant_in_the_unit_of_the_estimates``).
    """
    k = int(np.round(np.log2(np.median(psi)) / 2.0))
    top = float(np.max(np.abs(direct))) if direct.size else 0.0
    if top > 0.0 and np.log2(top) - k > _MAX_UNIT_EXPONENT:
        k = int(np.ceil(np.log2(top)))
    return k


def _searched_slope(c: np.ndarray, slope_bound: float) -> float:
    """Bound of the slope search: ``slope_bound``, and at most what keeps every area's variance
    within ``1 / eps`` (4.5e15) of the variance at the covariate's mean (``exp(slope c)``
    overflows for covariates spanning hundreds of units, such as the log of expected counts
    near 0)."""
    reach = float(np.abs(c).max()) if c.size else 0.0
    return min(slope_bound, _LOG_SHAPE_LIMIT / reach) if reach > 0.0 else slope_bound


def _fit_area_variance(
    y: np.ndarray, x: np.ndarray, psi: np.ndarray, c: np.ndarray, slope_bound: float, tol: float, max_iter: int
) -> tuple[float, float, bool, int]:
    """REML area variance (and its log-linear slope in the centred covariate ``c`` when that
    varies): sigma2_v, slope, converged, iterations."""
    scale = max(float(psi.mean()), 1e-300)
    if np.ptp(c) > 0.0:
        return _profile_slope(y, x, psi, c, slope_bound, tol, scale, max_iter)
    s2, converged, it = _reml_sigma2(y, x, psi, tol, scale, max_iter)
    return s2, 0.0, converged, it


def _fh_inputs(
    direct: np.ndarray, sampling_var: np.ndarray, design: np.ndarray | None, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct estimates, sampling variances and the design (intercept only by default) as
    float arrays, checked."""
    y = np.asarray(direct, dtype=np.float64)
    psi = np.asarray(sampling_var, dtype=np.float64)
    x = np.ones((y.shape[0], 1)) if design is None else np.asarray(design, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    _check(y, psi, x)
    if not 0.0 < level < 1.0:
        raise ValueError("fay_herriot: level must be in (0, 1)")
    return y, psi, x


def _centred_covariate(
    variance_covariate: np.ndarray | None, y: np.ndarray, slope_bound: float
) -> tuple[float, tuple[float, float], np.ndarray]:
    """The area-variance covariate centred on its mean: centre, range and centred values
    (zeros without a covariate: constant area variance)."""
    if variance_covariate is None:
        return 0.0, (0.0, 0.0), np.zeros_like(y)
    cov = np.asarray(variance_covariate, dtype=np.float64)
    if cov.shape != y.shape or not np.isfinite(cov).all():
        raise ValueError(
            f"fay_herriot: variance_covariate ({cov.shape}) must be finite with one value per area ({y.shape})"
        )
    if not slope_bound > 0.0:
        raise ValueError("fay_herriot: slope_bound must be > 0")
    centre = float(cov.mean())
    return centre, (float(cov.min()), float(cov.max())), cov - centre


def fay_herriot(
    direct: np.ndarray,
    sampling_var: np.ndarray,
    design: np.ndarray | None = None,
    *,
    variance_covariate: np.ndarray | None = None,
    slope_bound: float = 2.0,
    level: float = 0.90,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> FayHerriotFit:
    """Fit a Fay-Herriot model by REML and return EBLUP, Prasad-Rao MSE and interval per area.

    Parameters
    ----------
    direct : array (m,)
        Direct estimates of the areas' targets.
    sampling_var : array (m,)
        Their sampling variances (taken as known, > 0; any positive float, subnormal ones
        too). One below ``eps`` (2.2e-16) times their median is used as that: such an area
        already carries all the weight of its fixed effects, and the fit is the limit
        ``psi -> 0`` at float precision.
    design : array (m, p), optional
        Area-level covariates (include a column of ones for an intercept); default: intercept only.
    variance_covariate : array (m,), optional
        An area-level covariate ``c`` of the area-effect variance (the heteroscedastic model):
        ``sigma2_d = sigma2_v exp(slope (c_d - mean(c)))``, both parameters by REML (the slope
        by maximising the profile restricted likelihood). With ``c = log(size)`` the area
        variance is proportional to ``size ** slope``. Default (or a constant ``c``): one
        ``sigma2_v`` for every area, the standard model.
    slope_bound : float
        The slope is searched in ``[-slope_bound, slope_bound]`` (``slope_at_bound`` says
        whether the estimate sits there), narrowed where needed so that no area's variance
        differs from the one at the covariate's mean by more than ``1 / eps`` (4.5e15).
    level : float
        Coverage of the normal interval ``eblup +- z sqrt(mse)``.
    tol : float
        The REML root is found to ``tol * mean(sampling_var)``.
    max_iter : int
        Most evaluations of the REML score per root.

    Returns
    -------
    FayHerriotFit

    Raises
    ------
    ValueError
        Shapes that do not match, missing values, sampling variances <= 0, or a design
        without full column rank or with as many columns as areas.

    Examples
    --------
    Three areas, intercept only. With ``sigma2_v = 0`` every EBLUP is the GLS mean; the MSE is
    ``g2 = 1/3`` plus ``2 g3 = 4/3`` (the uncertainty of the estimated ``sigma2_v``):

    >>> fit = fay_herriot(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.0, 1.0]))
    >>> fit.sigma2_v, round(float(fit.eblup[0]), 6), round(float(fit.mse[0]), 6)
    (0.0, 1.0, 1.666667)
    """
    direct_in, psi_in, x = _fh_inputs(direct, sampling_var, design, level)
    centre, c_range, c = _centred_covariate(variance_covariate, direct_in, slope_bound)
    k = _unit_exponent(psi_in, direct_in)
    y, psi = np.ldexp(direct_in, -k), np.maximum(np.ldexp(psi_in, -2 * k), _PSI_FLOOR)
    bound = _searched_slope(c, slope_bound)
    s2, slope, converged, it = _fit_area_variance(y, x, psi, c, bound, tol, max_iter)
    shape = np.exp(slope * c)
    sigma2 = s2 * shape
    v = sigma2 + psi
    w = 1.0 / v
    beta, q = _gls(y, x, w)
    synthetic = x @ beta
    gamma = sigma2 * w
    # d sigma2_d / d theta for theta = (sigma2_v[, slope]); the slope is fixed where sigma2_v = 0
    grads = [shape] + ([sigma2 * c] if np.ptp(c) > 0.0 and s2 > 0.0 else [])
    theta_cov, g1, g2, g3 = _prasad_rao_terms(x, q, psi, v, w, gamma, grads)
    mse = g1 + g2 + 2.0 * g3
    eblup = synthetic + gamma * (y - synthetic)
    half = float(norm.ppf(0.5 + level / 2.0)) * np.sqrt(mse)
    # back from the unit 2**k of the fit (exact)
    return FayHerriotFit(
        beta=np.ldexp(beta, k),
        beta_cov=np.ldexp(q, 2 * k),
        sigma2_v=float(np.ldexp(s2, 2 * k)),
        sigma2_v_var=float(np.ldexp(theta_cov[0, 0], 4 * k)),
        variance_slope=slope,
        variance_slope_var=float(theta_cov[1, 1]) if len(grads) > 1 else 0.0,
        slope_at_bound=bool(abs(slope) >= bound * (1.0 - _SLOPE_TOL)),
        variance_centre=centre,
        variance_range=c_range,
        converged=converged,
        iterations=it,
        direct=direct_in,
        sampling_var=psi_in,
        area_var=np.ldexp(sigma2, 2 * k),
        synthetic=np.ldexp(synthetic, k),
        gamma=gamma,
        eblup=np.ldexp(eblup, k),
        g1=np.ldexp(g1, 2 * k),
        g2=np.ldexp(g2, 2 * k),
        g3=np.ldexp(g3, 2 * k),
        mse=np.ldexp(mse, 2 * k),
        lo=np.ldexp(eblup - half, k),
        hi=np.ldexp(eblup + half, k),
        level=level,
    )


def fay_herriot_synthetic(
    fit: FayHerriotFit, design: np.ndarray, variance_covariate: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Prediction for areas without a direct estimate: ``x' beta`` and MSE ``sigma2_d + x' Var(beta) x``.

    ``sigma2_d`` is :meth:`FayHerriotFit.area_variance` of ``variance_covariate`` (needed when the
    fit has a variance slope).

    Examples
    --------
    >>> fit = fay_herriot(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.0, 1.0]))
    >>> est, mse = fay_herriot_synthetic(fit, np.ones((2, 1)))
    >>> est.round(6).tolist(), mse.round(6).tolist()
    ([1.0, 1.0], [0.333333, 0.333333])
    """
    x = np.asarray(design, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] != fit.beta.shape[0]:
        raise ValueError(f"fay_herriot_synthetic: design has {x.shape[1]} columns, the fit {fit.beta.shape[0]}")
    if variance_covariate is None:
        if fit.variance_slope != 0.0:
            raise ValueError("fay_herriot_synthetic: the fit has a variance slope; pass variance_covariate")
        variance_covariate = np.full(x.shape[0], fit.variance_centre)
    return x @ fit.beta, fit.area_variance(variance_covariate) + np.einsum("ij,jk,ik->i", x, fit.beta_cov, x)
