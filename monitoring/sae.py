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

Vectorised over areas (every trace is a ``p x p`` product), so 100,000 areas take
milliseconds. Checked against samplics 0.6.1 (``samplics.sae.EblupAreaModel``) on the milk
expenditure data of Arora and Lahiri (1997) used by the R package sae (tests/monitoring/test_sae.py).
Pure functions on arrays; nothing here knows about persons or the area table.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import norm

__all__ = ["FayHerriotFit", "fay_herriot", "fay_herriot_synthetic"]


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
        REML estimate of the variance of the area effects (>= 0).
    sigma2_v_var : float
        Its asymptotic variance ``2 / sum(1 / (sigma2_v + psi)^2)``.
    converged : bool
        The REML root was found to the tolerance (an estimate of 0 counts as converged).
    iterations : int
        Evaluations of the REML score.
    direct, sampling_var : ndarray (m,)
        The inputs.
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
        ``g1 + g2 + 2 g3`` (second-order unbiased for REML).
    lo, hi : ndarray (m,)
        ``eblup -+ z sqrt(mse)``.
    level : float
        Coverage of ``lo..hi`` under the model.
    """

    beta: np.ndarray
    beta_cov: np.ndarray
    sigma2_v: float
    sigma2_v_var: float
    converged: bool
    iterations: int
    direct: np.ndarray
    sampling_var: np.ndarray
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

    def table(self) -> pd.DataFrame:
        """Per-area results as a frame: direct, sampling_var, synthetic, gamma, eblup, g1-g3, mse, lo, hi."""
        cols = ("direct", "sampling_var", "synthetic", "gamma", "eblup", "g1", "g2", "g3", "mse", "lo", "hi")
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


def _reml_step(y: np.ndarray, x: np.ndarray, psi: np.ndarray, s2: float) -> tuple[float, float]:
    """REML score and Fisher information of sigma2_v, with P = W - W X Q X' W never formed."""
    w = 1.0 / (s2 + psi)
    beta, q = _gls(y, x, w)
    py = w * (y - x @ beta)
    c2 = (x.T * w**2) @ x
    c3 = (x.T * w**3) @ x
    tr_p = w.sum() - np.trace(q @ c2)
    qc2 = q @ c2
    tr_pp = np.sum(w**2) - 2.0 * np.trace(q @ c3) + np.trace(qc2 @ qc2)
    return float(-0.5 * tr_p + 0.5 * py @ py), float(0.5 * tr_pp)


def _reml_sigma2(
    y: np.ndarray, x: np.ndarray, psi: np.ndarray, tol: float, scale: float, max_iter: int
) -> tuple[float, bool, int]:
    """REML root of ``sigma2_v``: the zero of the REML score, bracketed and found by Brent's method.

    Plain Fisher scoring (as in the R package sae) can oscillate without converging when the
    root is near 0 (found by the property tests); the score is bracketed (> 0 at ``lo``, < 0 at
    ``hi``, ``hi`` grown from the median sampling variance) and its root found by
    :func:`scipy.optimize.brentq` to ``tol * scale``. If the score is <= 0 at 0 the estimate is 0.
    Returns ``(sigma2_v, converged, iterations)``.
    """
    if _reml_step(y, x, psi, 0.0)[0] <= 0.0:
        return 0.0, True, 1
    lo, hi = 0.0, max(float(np.median(psi)), tol * scale)
    it = 0
    while _reml_step(y, x, psi, hi)[0] > 0.0:
        lo, hi, it = hi, hi * 4.0, it + 1
        if it > max_iter:
            return hi, False, it
    s2, info = brentq(
        lambda v: _reml_step(y, x, psi, v)[0], lo, hi, xtol=tol * scale, rtol=1e-12, maxiter=max_iter, full_output=True
    )
    return float(s2), bool(info.converged), it + int(info.function_calls)


def fay_herriot(
    direct: np.ndarray,
    sampling_var: np.ndarray,
    design: np.ndarray | None = None,
    *,
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
        Their sampling variances (taken as known, > 0).
    design : array (m, p), optional
        Area-level covariates (include a column of ones for an intercept); default: intercept only.
    level : float
        Coverage of the normal interval ``eblup +- z sqrt(mse)``.
    tol : float
        The REML root is found to ``tol * mean(sampling_var)``.
    max_iter : int
        Most evaluations of the REML score.

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
    y = np.asarray(direct, dtype=np.float64)
    psi = np.asarray(sampling_var, dtype=np.float64)
    x = np.ones((y.shape[0], 1)) if design is None else np.asarray(design, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    _check(y, psi, x)
    if not 0.0 < level < 1.0:
        raise ValueError("fay_herriot: level must be in (0, 1)")
    scale = max(float(psi.mean()), 1e-300)
    s2, converged, it = _reml_sigma2(y, x, psi, tol, scale, max_iter)
    w = 1.0 / (s2 + psi)
    beta, q = _gls(y, x, w)
    synthetic = x @ beta
    gamma = s2 * w
    h = np.einsum("ij,jk,ik->i", x, q, x)
    var_s2 = 2.0 / float(np.sum(w**2))
    g1 = gamma * psi
    g2 = (1.0 - gamma) ** 2 * h
    g3 = psi**2 * w**3 * var_s2
    mse = g1 + g2 + 2.0 * g3
    eblup = synthetic + gamma * (y - synthetic)
    half = float(norm.ppf(0.5 + level / 2.0)) * np.sqrt(mse)
    return FayHerriotFit(
        beta=beta,
        beta_cov=q,
        sigma2_v=s2,
        sigma2_v_var=var_s2,
        converged=converged,
        iterations=it,
        direct=y,
        sampling_var=psi,
        synthetic=synthetic,
        gamma=gamma,
        eblup=eblup,
        g1=g1,
        g2=g2,
        g3=g3,
        mse=mse,
        lo=eblup - half,
        hi=eblup + half,
        level=level,
    )


def fay_herriot_synthetic(fit: FayHerriotFit, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prediction for areas without a direct estimate: ``x' beta`` and MSE ``sigma2_v + x' Var(beta) x``.

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
    return x @ fit.beta, fit.sigma2_v + np.einsum("ij,jk,ik->i", x, fit.beta_cov, x)
