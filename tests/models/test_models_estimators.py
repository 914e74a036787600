"""Estimators behave like scikit-learn's; baselines compute what they claim; calibration works."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from models import (
    FlagCountClassifier,
    LightGBMRiskClassifier,
    build_logistic_baseline,
    expected_calibration_error,
    fit_calibrated,
)


def _data(n: int, seed: int, *, nan_share: float = 0.1) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Two informative columns (one with NaN), one noise column; returns X, y, true risk."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = (rng.random(n) < 0.3).astype(float)
    logit = -2.5 + 1.2 * a + 1.0 * b + 0.8 * (a > 1) * b
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    b_obs = np.where(rng.random(n) < nan_share, np.nan, b)
    X = pd.DataFrame({"a": a.astype(np.float32), "ind_b": b_obs.astype(np.float32), "noise": rng.normal(size=n)})
    return X, y, p


def test_lightgbm_is_a_sklearn_estimator() -> None:
    clf = LightGBMRiskClassifier(n_estimators=30, num_leaves=7, random_state=3)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "booster_")
    X, y, _ = _data(2000, 0)
    assert clf.fit(X, y) is clf
    assert list(clf.feature_names_in_) == ["a", "ind_b", "noise"]
    assert clf.n_features_in_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (2000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # decision_function is the log-odds of predict_proba
    np.testing.assert_allclose(1 / (1 + np.exp(-clf.decision_function(X))), proba[:, 1], rtol=1e-9)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict_proba(X[["ind_b", "a", "noise"]])


def test_lightgbm_learns_and_is_deterministic() -> None:
    X, y, p = _data(6000, 1)
    Xt, yt, pt = _data(4000, 2)
    kw = dict(
        n_estimators=400,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        early_stopping_rounds=20,
        random_state=7,
        n_jobs=1,
    )
    one = LightGBMRiskClassifier(**kw).fit(X, y, eval_set=(Xt, yt))
    two = LightGBMRiskClassifier(**kw).fit(X, y, eval_set=(Xt, yt))
    np.testing.assert_array_equal(one.decision_function(Xt), two.decision_function(Xt))
    assert one.best_iteration_ < 400  # early stopping used the eval set
    auc, oracle = roc_auc_score(yt, one.decision_function(Xt)), roc_auc_score(yt, pt)
    assert auc > oracle - 0.03


def test_lightgbm_rejects_censored_labels() -> None:
    X, _, _ = _data(10, 0)
    y = pd.array([True, False] * 4 + [None, True], dtype="boolean")
    with pytest.raises(ValueError, match="missing"):
        LightGBMRiskClassifier(n_estimators=2).fit(X, y)


def test_flag_count_hand_computed() -> None:
    X = pd.DataFrame(
        {
            "age": [14.0, 15.0, 16.0, 17.0],
            "ind_halt": [1.0, 0.0, np.nan, 1.0],
            "ind_vsv": [1.0, 1.0, 0.0, np.nan],
            "ind_enrolled": [0.0, 1.0, np.nan, 1.0],
            "ind_n_moves": [3.0, 0.0, 1.0, 0.0],
        }
    )
    y = [1, 0, 0, 1]
    by_prefix = FlagCountClassifier().fit(X, y)
    assert by_prefix.decision_function(X).tolist() == [3.0, 2.0, 1.0, 2.0]  # every ind_* > 0 counts
    listed = FlagCountClassifier(flags=("ind_halt", "ind_vsv", "ind_enrolled"), protective=("ind_enrolled",)).fit(X, y)
    # halt + vsv + (not enrolled); NaN counts as not set, also for the protective flag
    assert listed.decision_function(X).tolist() == [3.0, 1.0, 0.0, 1.0]
    np.testing.assert_allclose(listed.predict_proba(X)[:, 1], [1.0, 1 / 3, 0.0, 1 / 3])
    assert clone(listed).get_params()["protective"] == ("ind_enrolled",)
    with pytest.raises(ValueError, match="no flag"):
        FlagCountClassifier(flags=("ind_absent",)).fit(X, y)


def test_logistic_baseline_handles_missing_values() -> None:
    X, y, p = _data(4000, 3, nan_share=0.3)
    model = build_logistic_baseline().fit(X, y)
    assert roc_auc_score(y, model.decision_function(X)) > 0.7
    assert list(model.feature_names_in_) == ["a", "ind_b", "noise"]


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_gives_small_ece_on_held_out(method: str) -> None:
    X, y, _ = _data(6000, 4)
    Xc, yc, _ = _data(8000, 5)
    Xh, yh, _ = _data(20000, 6)
    # a deliberately miscalibrated model: trained on a sample where positives are 5x up-weighted
    w_rows = np.concatenate([np.arange(len(y))] + [np.flatnonzero(y == 1)] * 4)
    base = build_logistic_baseline().fit(X.iloc[w_rows], y[w_rows])
    raw_ece = expected_calibration_error(yh, base.predict_proba(Xh)[:, 1])
    cal = fit_calibrated(base, Xc, yc, method=method)
    ece = expected_calibration_error(yh, cal.predict_proba(Xh)[:, 1])
    assert raw_ece > 0.1
    assert ece < 0.02  # the target; sampling noise alone is ~0.005 here
    assert list(cal.feature_names_in_) == ["a", "ind_b", "noise"]


def test_platt_keeps_the_ranking() -> None:
    X, y, _ = _data(3000, 7)
    base = LightGBMRiskClassifier(n_estimators=40, random_state=1, n_jobs=1).fit(X, y)
    cal = fit_calibrated(base, *_data(3000, 8)[:2], method="sigmoid")
    Xh, yh, _ = _data(3000, 9)
    assert roc_auc_score(yh, cal.predict_proba(Xh)[:, 1]) == pytest.approx(
        roc_auc_score(yh, base.decision_function(Xh)), abs=1e-12
    )


def test_calibration_needs_both_outcomes() -> None:
    X, y, _ = _data(200, 0)
    base = build_logistic_baseline().fit(X, y)
    with pytest.raises(ValueError, match="both outcomes"):
        fit_calibrated(base, X, np.zeros(200, dtype=int))
    with pytest.raises(ValueError, match="method"):
        fit_calibrated(base, X, y, method="beta")  # type: ignore[arg-type]


@given(st.integers(0, 2**32 - 1), st.integers(1, 20))
def test_ece_of_a_constant_at_the_base_rate_is_zero_and_bounded(seed: int, n_bins: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.2).astype(int)
    assert expected_calibration_error(y, np.full(300, y.mean()), n_bins=1) == pytest.approx(0.0, abs=1e-12)
    p = rng.random(300)
    for strategy in ("quantile", "uniform"):
        ece = expected_calibration_error(y, p, n_bins=n_bins, strategy=strategy)
        assert 0.0 <= ece <= 1.0
    # one bin: |mean p - mean y|
    assert expected_calibration_error(y, p, n_bins=1) == pytest.approx(abs(p.mean() - y.mean()))
