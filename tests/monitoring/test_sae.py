"""Fay-Herriot estimator: against samplics on the milk data, hand-computed cases, invariants."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.sae import fay_herriot, fay_herriot_synthetic


def _milk() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samplics announces it is archived
        datasets = pytest.importorskip("samplics.datasets")
        data = datasets.load_expenditure_milk()["data"]
    y = data["direct_est"].to_numpy(float)
    psi = data["std_error"].to_numpy(float) ** 2
    x = np.column_stack([np.ones(len(data))] + [(data["major_area"] == k).to_numpy(float) for k in (2, 3, 4)])
    return y, psi, x, data["small_area"].to_numpy()


def test_matches_samplics_on_milk_data() -> None:
    # The milk expenditure data of Arora and Lahiri (1997), 43 small areas, four major areas as
    # fixed effects (the data of the R package sae; samplics ships it as load_expenditure_milk).
    y, psi, x, area = _milk()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sae = pytest.importorskip("samplics.sae")
        types = pytest.importorskip("samplics.utils.types")
        ref = sae.EblupAreaModel(method=types.FitMethod.reml)
        ref.fit(yhat=y, X=x[:, 1:], area=area, error_std=np.sqrt(psi), intercept=True, tol=1e-12, maxiter=500)
        ref.predict(X=x[:, 1:], area=area, intercept=True)
    fit = fay_herriot(y, psi, x)
    assert fit.converged
    assert fit.sigma2_v == pytest.approx(float(ref.re_std) ** 2, rel=1e-6)
    np.testing.assert_allclose(fit.beta, np.asarray(ref.fixed_effects, float), rtol=1e-6)
    np.testing.assert_allclose(fit.eblup, [ref.area_est[a] for a in area], rtol=1e-6)
    np.testing.assert_allclose(fit.mse, [ref.area_mse[a] for a in area], rtol=1e-6)


def test_hand_computed_balanced_case() -> None:
    # Equal sampling variances and an intercept: REML has the closed form
    # sigma2 = sum((y - mean)^2) / (m - 1) - psi, GLS is the plain mean, and
    # g2 = (1 - gamma)^2 (sigma2 + psi) / m, g3 = psi^2 / (sigma2 + psi)^3 * 2 (sigma2 + psi)^2 / m.
    y, psi = np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 0.5
    fit = fay_herriot(y, np.full(5, psi))
    s2 = 2.5 - psi
    gamma = s2 / (s2 + psi)
    assert fit.sigma2_v == pytest.approx(s2, rel=1e-9)
    assert fit.beta[0] == pytest.approx(2.0)
    np.testing.assert_allclose(fit.eblup, 2.0 + gamma * (y - 2.0))
    g1, g2 = gamma * psi, (1 - gamma) ** 2 * (s2 + psi) / 5
    g3 = psi**2 / (s2 + psi) ** 3 * 2 * (s2 + psi) ** 2 / 5
    np.testing.assert_allclose(fit.mse, g1 + g2 + 2 * g3)
    z = 1.6448536269514722
    np.testing.assert_allclose(fit.hi - fit.lo, 2 * z * np.sqrt(g1 + g2 + 2 * g3))


def test_no_between_variance_gives_zero_and_the_gls_fit() -> None:
    y = np.array([1.0, 1.0, 1.0, 1.0])
    fit = fay_herriot(y, np.array([0.5, 1.0, 2.0, 4.0]))
    assert fit.sigma2_v == 0.0 and fit.converged
    np.testing.assert_allclose(fit.eblup, 1.0)
    est, mse = fay_herriot_synthetic(fit, np.ones((1, 1)))
    assert est[0] == pytest.approx(1.0)
    assert mse[0] == pytest.approx(1.0 / (2 + 1 + 0.5 + 0.25))  # 1 / sum(1 / psi)


@pytest.mark.parametrize(
    ("direct", "psi", "design"),
    [
        (np.ones(3), np.ones(4), None),
        (np.array([1.0, np.nan, 2.0]), np.ones(3), None),
        (np.ones(3), np.array([1.0, 0.0, 1.0]), None),
        (np.arange(3.0), np.ones(3), np.ones((3, 3))),
    ],
)
def test_bad_input_is_one_clear_error(direct, psi, design) -> None:
    with pytest.raises(ValueError, match="fay_herriot"):
        fay_herriot(direct, psi, design)


@st.composite
def fh_problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = draw(st.integers(4, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    psi = rng.uniform(0.05, 2.0, m) * draw(st.sampled_from([1e-3, 1.0, 100.0]))
    s2 = draw(st.sampled_from([0.0, 0.1, 1.0, 10.0]))
    y = x @ np.array([1.0, 0.5]) + rng.normal(0, np.sqrt(s2), m) + rng.normal(0, np.sqrt(psi))
    return y, psi, x


@settings(max_examples=60, deadline=None)
@given(fh_problems())
def test_eblup_between_direct_and_synthetic_and_mse_bounds(problem) -> None:
    y, psi, x = problem
    fit = fay_herriot(y, psi, x)
    assert fit.converged and fit.sigma2_v >= 0
    lo, hi = np.minimum(y, fit.synthetic), np.maximum(y, fit.synthetic)
    tol = 1e-9 * (1 + np.abs(y))
    assert np.all((fit.eblup >= lo - tol) & (fit.eblup <= hi + tol))
    assert np.all(fit.mse > 0)
    # the area-effect term never exceeds the sampling variance nor the between-area variance
    assert np.all(fit.g1 <= np.minimum(psi, fit.sigma2_v) * (1 + 1e-12))
    assert np.all(fit.mse <= psi + fit.g2 + 2 * fit.g3 + 1e-15)
    assert np.all(fit.lo <= fit.eblup) and np.all(fit.eblup <= fit.hi)


@settings(max_examples=40, deadline=None)
@given(fh_problems(), st.integers(0, 2**31 - 1))
def test_invariant_to_permuting_areas(problem, seed) -> None:
    y, psi, x = problem
    perm = np.random.default_rng(seed).permutation(y.size)
    a, b = fay_herriot(y, psi, x), fay_herriot(y[perm], psi[perm], x[perm])
    assert b.sigma2_v == pytest.approx(a.sigma2_v, rel=1e-7, abs=1e-12)
    np.testing.assert_allclose(b.eblup, a.eblup[perm], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(b.mse, a.mse[perm], rtol=1e-6, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(fh_problems())
def test_zero_between_variance_reduces_to_gls(problem) -> None:
    y, psi, x = problem
    flat = x @ np.array([1.0, 0.5])  # exactly on the regression: REML sigma2_v = 0
    fit = fay_herriot(flat, psi, x)
    assert fit.sigma2_v == 0.0
    w = 1.0 / psi
    beta = np.linalg.solve((x.T * w) @ x, (x.T * w) @ flat)
    np.testing.assert_allclose(fit.eblup, x @ beta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.gamma, 0.0)


@settings(max_examples=40, deadline=None)
@given(fh_problems())
def test_vanishing_sampling_variance_gives_the_direct_estimate(problem) -> None:
    y, psi, x = problem
    fit = fay_herriot(y, psi * 1e-10, x)
    np.testing.assert_allclose(fit.eblup, y, rtol=1e-6, atol=1e-6 * np.abs(y).max())
    assert np.all(fit.mse <= psi * 1e-10 * (1 + 1e-6) + fit.g2 + 2 * fit.g3)


def test_coverage_under_the_model() -> None:
    # 400 simulated FH worlds of 60 areas: the 90 % intervals cover the area targets at the
    # nominal rate when the model holds (the Prasad-Rao MSE is second-order correct).
    rng = np.random.default_rng(7)
    inside, total = 0, 0
    for _ in range(400):
        m = 60
        x = np.column_stack([np.ones(m), rng.normal(size=m)])
        psi = rng.uniform(0.2, 2.0, m)
        theta = x @ np.array([0.0, 1.0]) + rng.normal(0, 1.0, m)
        fit = fay_herriot(theta + rng.normal(0, np.sqrt(psi)), psi, x)
        inside += int(np.sum((fit.lo <= theta) & (theta <= fit.hi)))
        total += m
    assert 0.88 <= inside / total <= 0.92, inside / total
