"""Drift: PSI / Wasserstein with sample-size-aware thresholds, prevalence and score shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import InputError
from monitoring.effects.drift import _bin_counts, _psi_from_counts, audit_drift, psi, wasserstein_std
from monitoring.monitor_config import DriftConfig

CFG = DriftConfig(n_permutations=100)


def _sample(
    rng: np.random.Generator,
    n: int,
    *,
    shift: float = 0.0,
    p_flag: float = 0.05,
    p_label: float = 0.02,
    score_mult: float = 1.0,
) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    months = np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 60, n).astype(float))
    band = rng.choice(["13-19", "20-23"], n)
    return pd.DataFrame(
        {
            "age_band": band,
            "ind_x": x,
            "ind_flag": (rng.random(n) < p_flag).astype("float32"),
            "ind_months": months,
            "ind_skew": rng.exponential(1.0, n),
            "score": np.clip(rng.beta(1.2, 30, n) * score_mult, 0, 1),
            "label": pd.array(rng.random(n) < p_label, dtype="boolean"),
        }
    )


FEATURES = ["ind_x", "ind_flag", "ind_months", "ind_skew"]


def test_psi_hand_computed():
    # reference 50/50 over two values, current 80/20: psi = (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5)
    c1 = np.array([500.0, 500.0, 0.0])
    c2 = np.array([800.0, 200.0, 0.0])
    want = 0.3 * np.log(0.8 / 0.5) + (-0.3) * np.log(0.2 / 0.5)
    assert _psi_from_counts(c1, c2, 1e-9) == pytest.approx(want, rel=1e-6)
    assert psi(
        np.r_[np.zeros(500), np.ones(500)], np.r_[np.zeros(800), np.ones(200)], pseudo_count=1e-9
    ) == pytest.approx(want, rel=1e-6)


def test_indicator_values_get_their_own_bins():
    # regression: a 95%-zero indicator once fell into one quantile bin with its ones
    ref = np.r_[np.zeros(950), np.ones(50)]
    cur = np.r_[np.zeros(700), np.ones(300)]
    c1, c2 = _bin_counts(ref, cur, 10)
    assert c1.tolist() == [950, 50, 0] and c2.tolist() == [700, 300, 0]
    assert psi(ref, cur) > 0.3


def test_missing_values_have_a_bin():
    ref = np.r_[np.arange(900.0), np.full(100, np.nan)]
    cur = np.r_[np.arange(500.0), np.full(500, np.nan)]
    c1, c2 = _bin_counts(ref, cur, 10)
    assert c1[-1] == 100 and c2[-1] == 500
    assert psi(ref, cur) > 0.3


def test_wasserstein_in_reference_sd():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 50_000)
    assert wasserstein_std(x, x + 1.0) == pytest.approx(0.5, abs=0.01)
    assert np.isnan(wasserstein_std(np.full(3, np.nan), x))


@pytest.mark.parametrize("seed", [0, 1])
def test_no_alarm_for_same_distribution_at_large_n(seed):
    rng = np.random.default_rng(seed)
    a, b = _sample(rng, 200_000), _sample(rng, 200_000)
    rep = audit_drift(a, b, features=FEATURES, config=CFG)
    assert not rep.features["drifted"].any(), rep.features
    assert not rep.scores["drifted"].any()
    assert not rep.prevalence["shifted"].any()
    assert rep.retrain_recommended is False and rep.reasons == ()
    assert set(rep.features["age_band"]) == {"13-19", "20-23"}


def test_no_alarm_at_small_n_because_threshold_grows():
    rng = np.random.default_rng(5)
    a, b = _sample(rng, 300), _sample(rng, 300)
    rep = audit_drift(a, b, features=FEATURES, config=CFG)
    assert not rep.features["drifted"].any()
    # the null quantile, not the fixed 0.1, sets the PSI bar for a 10-bin feature at n=150 per band
    x = rep.features.set_index(["age_band", "feature"]).loc[("13-19", "ind_x")]
    assert x["psi_threshold"] > CFG.psi_min


def test_alarm_for_real_shifts():
    rng = np.random.default_rng(2)
    a = _sample(rng, 50_000)
    b = _sample(rng, 50_000, shift=0.35, p_flag=0.09, p_label=0.035, score_mult=1.5)
    rep = audit_drift(a, b, features=FEATURES, config=CFG)
    drifted = rep.features.groupby("feature")["drifted"].all()
    assert drifted["ind_x"] and drifted["ind_flag"]
    assert not drifted["ind_skew"] and not drifted["ind_months"]
    assert rep.scores["drifted"].all()
    assert rep.prevalence["shifted"].all()
    assert rep.retrain_recommended
    assert any("features drift" in r for r in rep.reasons)


def test_small_shift_at_huge_n_is_not_material():
    # statistically detectable but below the practical thresholds: no alarm
    rng = np.random.default_rng(3)
    a, b = _sample(rng, 300_000), _sample(rng, 300_000, shift=0.03)
    rep = audit_drift(a, b, features=["ind_x"], config=CFG, score_column=None, label_column=None)
    assert not rep.features["drifted"].any()


def test_censored_labels_are_left_out():
    rng = np.random.default_rng(4)
    a, b = _sample(rng, 2000), _sample(rng, 2000)
    b["label"] = pd.array([pd.NA] * len(b), dtype="boolean")
    rep = audit_drift(a, b, features=["ind_x"], config=CFG)
    # the band's row says why it has no figures (its outcome is not known yet), not a bare header
    p = rep.prevalence
    assert len(p) == a["age_band"].nunique()  # one row per band
    assert (p["n_cur"] == 0).all() and not p["shifted"].any() and p["diff"].isna().all()
    assert set(p["reason"]) == {"outcome not known yet at the current date (its horizon has not passed): not measured"}
    assert not any(k.endswith("prevalence.diff") for k in rep.metrics())
    measured = audit_drift(a, a, features=["ind_x"], config=CFG)
    assert set(measured.prevalence["reason"]) == {""}


def test_metrics_are_aggregates_with_readable_keys():
    rng = np.random.default_rng(6)
    rep = audit_drift(_sample(rng, 3000), _sample(rng, 3000), features=FEATURES, config=CFG)
    m = rep.metrics()
    assert m["drift/all-bands/retrain_recommended"] == 0.0
    assert "drift/13-19/ind_x/psi" in m and "drift/20-23/score/mean_diff" in m
    assert all(np.isfinite(v) for v in m.values())
    assert len(m) < 100  # a handful per feature and band, never per person


def test_band_mapping_and_errors():
    rng = np.random.default_rng(7)
    a, b = _sample(rng, 2000), _sample(rng, 2000)
    rep = audit_drift(a, b, features={"13-19": ["ind_x"], "20-23": ["ind_flag", "ind_skew"]}, config=CFG)
    assert rep.features.groupby("age_band").size().to_dict() == {"13-19": 1, "20-23": 2}
    with pytest.raises(InputError, match="missing column"):
        audit_drift(a, b.drop(columns="ind_x"), features=["ind_x"], config=CFG)
    with pytest.raises(InputError, match="no rows"):
        audit_drift(a, b[b["age_band"] == "13-19"], features=["ind_x"], config=CFG)
