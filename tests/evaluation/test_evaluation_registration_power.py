"""Power of the registration-intensity audit: which over-registered areas it can see.

The power formula (:func:`evaluation.stigmatisation.intensity_power`) is checked against a
brute-force sum over the decision rule and, by simulation, against what
:func:`audit_registration_intensity` actually flags; :func:`sensitivity_by_power` against a
hand-counted table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from evaluation.config import EvaluationConfig
from evaluation.stigmatisation import (
    _benjamini_hochberg,
    audit_registration_intensity,
    bh_threshold,
    intensity_power,
    power_at_true_intensity,
    sensitivity_by_power,
)


@settings(max_examples=200, deadline=None)
@given(
    mu=st.floats(0.05, 80.0),
    log_t=st.floats(-7.0, -1.0),
    min_count=st.integers(0, 20),
    tolerance=st.floats(1.0, 2.5),
    ratio=st.floats(0.5, 4.0),
)
def test_power_is_the_probability_of_the_flagging_rule(mu, log_t, min_count, tolerance, ratio):
    # the audit flags count x when x >= min_count, P(X >= x | mu) <= t and x / mu >= tolerance
    t = 10.0**log_t
    x = np.arange(0, 2_000)
    flagged = (x >= min_count) & (poisson.sf(x - 1, mu) <= t) & (x / mu >= tolerance)
    brute = poisson.pmf(x, ratio * mu)[flagged].sum()
    got = intensity_power(np.array([mu]), ratio=ratio, p_threshold=t, min_count=min_count, tolerance=tolerance)[0]
    assert got == pytest.approx(brute, abs=1e-9)


def test_power_by_hand():
    # null mean 10, cutoff 0.001: P(X >= 21 | 10) = 0.00159 > 0.001, P(X >= 22 | 10) = 0.00070,
    # so k = 22 and the power at intensity 2 is P(Poisson(20) >= 22)
    assert poisson.sf(20, 10.0) > 0.001 > poisson.sf(21, 10.0)
    p = intensity_power(np.array([10.0, 0.0]), ratio=2.0, p_threshold=0.001, min_count=10, tolerance=1.25)
    assert p[0] == pytest.approx(poisson.sf(21, 20.0))
    assert np.isnan(p[1])
    # a tiny area: the minimum cell size decides (k = 10 > what the test needs at cutoff 0.5)
    p = intensity_power(np.array([2.0]), ratio=2.0, p_threshold=0.5, min_count=10, tolerance=1.25)
    assert p[0] == pytest.approx(poisson.sf(9, 4.0))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60), st.floats(0.001, 0.3))
def test_bh_threshold_separates_the_rejected(p, alpha):
    p = np.array(p)
    rejected = _benjamini_hochberg(p, alpha)
    t = bh_threshold(p, alpha)
    if rejected.any():
        assert np.array_equal(rejected, p <= t)
    else:
        assert t == pytest.approx(alpha / len(p)) and not (p <= t).any()


def _world(seed: int, n_areas: int = 3_000, over_share: float = 0.05, persons: int = 10) -> tuple[pd.DataFrame, set]:
    """Areas with expected registrations spread over 1-80; over-registered ones at intensity 2."""
    rng = np.random.default_rng(seed)
    e = np.exp(rng.uniform(np.log(1.0), np.log(80.0), n_areas))
    over = rng.random(n_areas) < over_share
    o = rng.poisson(np.where(over, 2.0, 1.0) * e)
    codes = np.array([f"A{i:05d}" for i in range(n_areas)])
    obs = np.zeros((n_areas, persons))
    obs[:, 0] = o  # one person carries the area's count; the others make the cell size
    frame = pd.DataFrame(
        {
            "area": np.repeat(codes, persons),
            "o": obs.ravel(),
            "e": np.repeat(e / persons, persons),
        }
    )
    return frame, set(codes[over])


def test_power_predicts_what_the_audit_flags():
    cfg = EvaluationConfig()
    flagged, expected, var, n_over = 0, 0.0, 0.0, 0
    by_stratum = {"low": [0, 0.0], "high": [0, 0.0]}
    for seed in range(5):
        frame, over = _world(seed)
        res = audit_registration_intensity(frame, area="area", observed="o", expected="e", cfg=cfg)
        pw = res.power
        s = res.summary
        # the stored power is the formula at the run's cutoff and reference
        again = intensity_power(
            pw["expected_registrations"].to_numpy(),
            ratio=cfg.stigmatisation.intensity.power_ratio,
            p_threshold=s["p_threshold_over"],
            min_count=cfg.min_cell_size,
            tolerance=cfg.fairness.tolerance_high,
        )
        assert np.allclose(pw["power"], again)
        assert len(pw) == s["n_areas_auditable"] == 3_000  # every area has 10 persons, shown or not
        assert s["n_areas_powered"] == int((pw["power"] >= cfg.stigmatisation.intensity.power_target).sum())
        # true intensity relative to the audit's reference (the reference pools a few undetected
        # over-registered areas, so it sits slightly above 1)
        ref = s["registrations_per_expected_reference"]
        mine = pw[pw["area_code"].isin(over)]
        p_true = intensity_power(
            mine["expected_registrations"].to_numpy(),
            ratio=2.0 / ref,
            p_threshold=s["p_threshold_over"],
            min_count=cfg.min_cell_size,
            tolerance=cfg.fairness.tolerance_high,
        )
        hit = (mine["registration"] == "over").to_numpy()
        flagged += int(hit.sum())
        expected += float(p_true.sum())
        var += float((p_true * (1 - p_true)).sum())
        n_over += len(mine)
        for name, sel in (("low", p_true < 0.5), ("high", p_true >= 0.8)):
            by_stratum[name][0] += int(hit[sel].sum())
            by_stratum[name][1] += float(p_true[sel].sum())
    assert n_over > 500
    # flagged over-registered areas: Poisson-binomial around the summed power
    assert abs(flagged - expected) < 4.0 * np.sqrt(var)
    for hits, exp in by_stratum.values():
        assert abs(hits - exp) < 4.0 * np.sqrt(max(exp, 1.0))


def test_sensitivity_by_power_counts_by_hand():
    power = pd.DataFrame(
        {
            "area_code": ["a", "b", "c", "d", "e", "f", "g"],
            "power": [0.05, 0.3, 0.6, 0.85, 0.9, 0.95, 0.99],
            "registration": ["not shown", "within", "over", "over", "over", "within", "over"],
        }
    )
    truth = pd.DataFrame(
        {"area_code": list("abcdefgz"), "over_policed": [True, False, True, True, True, True, False, True]}
    )
    t = sensitivity_by_power(power, truth, cuts=(0.2, 0.8)).set_index("stratum")
    assert list(t.index) == ["power < 0.2", "power 0.2-0.8", "power >= 0.8", "all"]
    hi = t.loc["power >= 0.8"]
    # d, e, f truly over-policed (d, e flagged), g flagged wrongly
    assert (hi["n_areas"], hi["n_areas_truly_over_policed"], hi["n_areas_flagged"]) == (4, 3, 3)
    assert hi["sensitivity"] == pytest.approx(2 / 3) and hi["false_discovery"] == pytest.approx(1 / 3)
    assert hi["mean_power_truly_over_policed"] == pytest.approx((0.85 + 0.9 + 0.95) / 3)
    low = t.loc["power < 0.2"]  # a is over-policed but not shown: missed
    assert low["sensitivity"] == 0.0 and np.isnan(low["false_discovery"])
    every = t.loc["all"]  # area z has no power row (too few persons): not counted
    assert every["n_areas_truly_over_policed"] == 5 and every["sensitivity"] == pytest.approx(3 / 5)


def test_power_at_true_intensity_uses_each_areas_own_enforcement():
    power = pd.DataFrame(
        {
            "area_code": ["g1", "g2", "g3", "g4"],
            "expected_registrations": [30.0, 30.0, 30.0, 30.0],
            "power": 0.99,  # at a doubling
            "registration": "within",
        }
    )
    truth = pd.DataFrame(
        {
            "area_code": ["g1", "g2", "g3", "g4"],
            "over_policed": [True, True, False, False],
            "enforcement_multiplier": [1.3, 2.0, 0.9, 1.1],  # reference: median of g3, g4 = 1.0
        }
    )
    out = power_at_true_intensity(power, truth, p_threshold=0.001, min_count=10, tolerance=1.25).set_index("area_code")
    for code, ratio in (("g1", 1.3), ("g2", 2.0), ("g3", 0.9)):
        want = intensity_power(np.array([30.0]), ratio=ratio, p_threshold=0.001, min_count=10, tolerance=1.25)[0]
        assert out.loc[code, "power"] == pytest.approx(want)
    assert out.loc["g1", "power"] < 0.2 < 0.8 < out.loc["g2", "power"]
