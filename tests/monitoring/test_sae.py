"""Fay-Herriot estimator: against samplics on the milk data, hand-computed cases, invariants."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.publishing.sae import fay_herriot, fay_herriot_synthetic


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


def test_heteroscedastic_fit_matches_samplics_at_its_slope() -> None:
    # samplics' area model takes a known per-area factor b_d (area effect variance sigma2 b_d^2).
    # At our REML slope, b_d = sqrt(exp(slope (c_d - mean c))) must give samplics the same
    # sigma2_v, fixed effects and EBLUPs (the MSE differs: ours counts the slope's uncertainty).
    y, psi, x, area = _milk()
    c = np.log(psi)
    fit = fay_herriot(y, psi, x, variance_covariate=c)
    assert fit.converged and fit.variance_slope != 0.0 and not fit.slope_at_bound
    b = np.sqrt(np.exp(fit.variance_slope * (c - c.mean())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sae = pytest.importorskip("samplics.sae")
        types = pytest.importorskip("samplics.utils.types")
        ref = sae.EblupAreaModel(method=types.FitMethod.reml)
        ref.fit(
            yhat=y, X=x[:, 1:], area=area, error_std=np.sqrt(psi), b_const=b, intercept=True, tol=1e-12, maxiter=500
        )
        ref.predict(X=x[:, 1:], area=area, b_const=b, intercept=True)
    assert fit.sigma2_v == pytest.approx(float(ref.re_std) ** 2, rel=1e-6)
    np.testing.assert_allclose(fit.beta, np.asarray(ref.fixed_effects, float), rtol=1e-6)
    np.testing.assert_allclose(fit.eblup, [ref.area_est[a] for a in area], rtol=1e-6)


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


# --- heteroscedastic model: sigma2_d = sigma2_v exp(slope (c_d - mean c)) -------------------------


def _dense_negative_reml(y: np.ndarray, psi: np.ndarray, x: np.ndarray, c: np.ndarray, s2: float, slope: float):
    """-2 x restricted log-likelihood with every matrix formed (an independent implementation)."""
    v = np.diag(s2 * np.exp(slope * (c - c.mean())) + psi)
    vi = np.linalg.inv(v)
    xvx = x.T @ vi @ x
    p = vi - vi @ x @ np.linalg.solve(xvx, x.T @ vi)
    return np.linalg.slogdet(v)[1] + np.linalg.slogdet(xvx)[1] + y @ p @ y


@st.composite
def hetero_problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    m = draw(st.integers(12, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    c = rng.normal(0.0, 1.0, m) * draw(st.sampled_from([0.3, 1.0]))
    psi = rng.uniform(0.05, 1.0, m)
    slope = draw(st.sampled_from([-1.0, 0.0, 1.0]))
    s2 = draw(st.sampled_from([0.0, 0.3, 2.0]))
    y = x @ np.array([1.0, 0.5]) + rng.normal(0, np.sqrt(s2 * np.exp(slope * c))) + rng.normal(0, np.sqrt(psi))
    return y, psi, x, c


@settings(max_examples=15, deadline=None)
@given(hetero_problems())
def test_heteroscedastic_reml_is_the_maximum_of_the_dense_likelihood(problem) -> None:
    # A generic optimiser (Nelder-Mead from several starts, on the dense likelihood) never finds a
    # higher restricted likelihood inside the searched slope range than the profile REML does.
    from scipy.optimize import minimize

    y, psi, x, c = problem
    fit = fay_herriot(y, psi, x, variance_covariate=c, slope_bound=2.0)
    assert fit.converged and fit.sigma2_v >= 0.0 and abs(fit.variance_slope) <= 2.0
    ours = _dense_negative_reml(y, psi, x, c, fit.sigma2_v, fit.variance_slope)

    def objective(t: np.ndarray) -> float:
        return _dense_negative_reml(y, psi, x, c, np.exp(t[0]), float(np.clip(t[1], -2.0, 2.0)))

    best = min(
        minimize(objective, [np.log(s), g], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9}).fun
        for s in (0.1, 1.0)
        for g in (-1.0, 1.0)
    )
    best = min(best, _dense_negative_reml(y, psi, x, c, 0.0, 0.0))
    assert ours <= best + 1e-6 * (1 + abs(best))


@settings(max_examples=30, deadline=None)
@given(fh_problems(), st.floats(-5.0, 5.0))
def test_constant_variance_covariate_is_the_standard_model(problem, value) -> None:
    y, psi, x = problem
    a, b = fay_herriot(y, psi, x), fay_herriot(y, psi, x, variance_covariate=np.full(y.size, value))
    assert b.variance_slope == 0.0 and b.sigma2_v == a.sigma2_v
    np.testing.assert_allclose(b.mse, a.mse)
    np.testing.assert_allclose(b.area_var, a.sigma2_v)


@settings(max_examples=10, deadline=None)
@given(hetero_problems(), st.floats(-3.0, 3.0), st.sampled_from([0.5, 2.0]))
def test_heteroscedastic_fit_is_equivariant_in_the_covariate(problem, shift, factor) -> None:
    # Shifting the covariate changes nothing; scaling it by k scales the slope by 1 / k.
    y, psi, x, c = problem
    a = fay_herriot(y, psi, x, variance_covariate=c, slope_bound=4.0)
    b = fay_herriot(y, psi, x, variance_covariate=c * factor + shift, slope_bound=4.0 / factor)
    np.testing.assert_allclose(b.area_var, a.area_var, rtol=1e-3, atol=1e-6 * (1 + a.area_var.max()))
    np.testing.assert_allclose(b.eblup, a.eblup, rtol=1e-4, atol=1e-5 * (1 + np.abs(a.eblup).max()))


def test_heteroscedastic_model_holds_coverage_where_one_variance_does_not() -> None:
    # 60 simulated worlds of 150 areas whose effect variance grows with size (slope 1 on the
    # log scale): the heteroscedastic fit covers the small and the large half at the nominal
    # rate; a single variance over-covers the small half (too wide there).
    rng = np.random.default_rng(11)
    inside = {"hetero": np.zeros(2), "single": np.zeros(2)}
    worlds, m = 60, 150
    for _ in range(worlds):
        c = np.sort(rng.uniform(-2.5, 2.5, m))
        psi = 0.5 * np.exp(-0.5 * c)
        theta = 1.0 + rng.normal(0, np.sqrt(0.5 * np.exp(c)))
        y = theta + rng.normal(0, np.sqrt(psi))
        for name, fit in (("hetero", fay_herriot(y, psi, variance_covariate=c)), ("single", fay_herriot(y, psi))):
            ok = (fit.lo <= theta) & (theta <= fit.hi)
            inside[name] += [ok[: m // 2].sum(), ok[m // 2 :].sum()]
    hetero, single = inside["hetero"] / (worlds * m / 2), inside["single"] / (worlds * m / 2)
    assert np.all((hetero >= 0.87) & (hetero <= 0.93)), hetero
    assert single[0] > 0.93, single


def test_area_variance_does_not_extrapolate_and_synthetic_needs_the_covariate() -> None:
    rng = np.random.default_rng(3)
    c = np.linspace(-1.0, 1.0, 200)
    y = rng.normal(0, np.sqrt(0.5 * np.exp(1.5 * c))) + rng.normal(0, 0.3, 200)
    fit = fay_herriot(y, np.full(200, 0.09), variance_covariate=c)
    assert fit.variance_slope > 0.5 and not fit.slope_at_bound
    np.testing.assert_allclose(fit.area_variance(np.array([-5.0, 5.0])), fit.area_variance(np.array([-1.0, 1.0])))
    np.testing.assert_allclose(fit.area_variance(c), fit.area_var)
    with pytest.raises(ValueError, match="variance_covariate"):
        fay_herriot_synthetic(fit, np.ones((2, 1)))
    est, mse = fay_herriot_synthetic(fit, np.ones((2, 1)), np.array([-1.0, 1.0]))
    assert mse[1] > mse[0] > 0.0


@pytest.mark.parametrize("covariate", [np.ones(3), np.array([1.0, np.nan, 2.0, 3.0])])
def test_bad_variance_covariate_is_one_clear_error(covariate) -> None:
    with pytest.raises(ValueError, match="variance_covariate"):
        fay_herriot(np.arange(4.0), np.ones(4), variance_covariate=covariate)


def _rescaled(fit, k: int) -> dict[str, np.ndarray]:
    """The fit's estimates in a unit ``2**k`` times larger (variances ``4**k``)."""
    return {
        "eblup": np.ldexp(fit.eblup, k),
        "mse": np.ldexp(fit.mse, 2 * k),
        "sigma2_v": np.ldexp(fit.sigma2_v, 2 * k),
        "beta": np.ldexp(fit.beta, k),
    }


@settings(max_examples=40, deadline=None)
@given(fh_problems(), st.sampled_from([-520, -500, -250, -60, 60, 250]))
def test_equivariant_in_the_unit_of_the_estimates(problem, k) -> None:
    # Direct estimates in a unit 2**k times larger (sampling variances 4**k) give the same fit in
    # that unit, down to sampling variances below the smallest normal float (k = -520 makes
    # them subnormal, 1e-312 and smaller) and up to 1e150 (the variance of sigma2_v, 1e300).
    # Weights 1 / psi**3 overflow at psi < 1e-103 unless the fit works in a unit of the data's
    # own size.
    y, psi, x = problem
    a, b = fay_herriot(y, psi, x), fay_herriot(np.ldexp(y, k), np.ldexp(psi, 2 * k), x)
    assert b.converged
    # a subnormal keeps fewer significant bits: its relative precision is 5e-324 / psi
    rtol = 1e-12 + 4.0 * np.finfo(float).smallest_subnormal / np.ldexp(psi, 2 * k).min()
    for name, value in _rescaled(a, k).items():
        np.testing.assert_allclose(getattr(b, name), value, rtol=rtol, atol=rtol * np.abs(value).max(), err_msg=name)


@settings(max_examples=30, deadline=None)
@given(fh_problems(), st.sampled_from([1e-200, 1e-310, 5e-324]))
def test_a_vanishing_sampling_variance_of_one_area_is_its_limit(problem, tiny) -> None:
    # One area measured almost exactly among ordinary ones: the fit is the limit psi -> 0
    # (reached, at float precision, long before 1e-30), not an overflow.
    y, psi, x = problem
    psi = psi.copy()
    psi[0] = 1e-30 * psi.mean()
    limit = fay_herriot(y, psi, x)
    psi[0] = tiny
    fit = fay_herriot(y, psi, x)
    assert fit.converged
    np.testing.assert_allclose(fit.eblup, limit.eblup, rtol=1e-9, atol=1e-9 * np.abs(y).max())
    np.testing.assert_allclose(fit.mse, limit.mse, rtol=1e-6, atol=1e-12 * limit.mse.max())


@settings(max_examples=10, deadline=None)
@given(hetero_problems(), st.sampled_from([-12, -6, 6]))
def test_heteroscedastic_fit_is_equivariant_in_the_unit(problem, k) -> None:
    # The MSE's g3 inverts the information of (sigma2_v, slope), whose entries differ by
    # psi**-2 in size: computed in the data's unit (psi ~ 1e-7 at k = -12, the size of rates'
    # sampling variances) its pseudo-inverse dropped the slope's variance and the MSE came
    # out up to 5 times too small. In a unit of the data's size it is the same in every unit.
    y, psi, x, c = problem
    a = fay_herriot(y, psi, x, variance_covariate=c)
    b = fay_herriot(np.ldexp(y, k), np.ldexp(psi, 2 * k), x, variance_covariate=c)
    assert b.variance_slope == pytest.approx(a.variance_slope, abs=1e-9)
    assert b.variance_slope_var == pytest.approx(a.variance_slope_var, rel=1e-9)
    for name, value in _rescaled(a, k).items():
        np.testing.assert_allclose(getattr(b, name), value, rtol=1e-9, atol=1e-9 * np.abs(value).max(), err_msg=name)


@settings(max_examples=10, deadline=None)
@given(hetero_problems(), st.sampled_from([50.0, 400.0]))
def test_a_covariate_spanning_hundreds_of_units_keeps_the_variances_finite(problem, spread) -> None:
    # The log of expected counts from 1e-300 to 1e5 spans 700 units: exp(2 * 350) overflows.
    # The slope is searched only where every area's variance stays within 1 / eps of the centre's.
    y, psi, x, c = problem
    c = c.copy()
    c[0] += spread
    fit = fay_herriot(y, psi, x, variance_covariate=c)
    assert fit.converged
    assert np.isfinite(fit.mse).all() and np.isfinite(fit.area_var).all() and (fit.mse > 0).all()
    span = np.abs(c - c.mean()).max() * abs(fit.variance_slope)
    assert span <= np.log(1.0 / np.finfo(float).eps) * (1 + 1e-12)
