"""SHAP summaries: binned aggregates that pass the minimum cell size, no per-person values."""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.config import BootstrapConfig, EvaluationConfig, ShapConfig
from evaluation.explain import aggregate_shap, aggregate_shap_values


@settings(max_examples=20)
@given(seed=st.integers(0, 10_000), n=st.integers(30, 300), min_cell=st.integers(5, 25))
def test_every_dependence_bin_passes_min_cell(seed, n, min_cell):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "cont": rng.exponential(1.0, n),
            "rare": (rng.random(n) < 0.03).astype(float),
            "count": rng.poisson(0.3, n).astype(float),
            "gaps": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
        }
    )
    S = rng.normal(0, 1, (n, 4))
    cfg = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=20), min_cell_size=min_cell, shap=ShapConfig(dependence_features=4)
    )
    out = aggregate_shap_values(S, X, cfg=cfg)
    shown = out.dependence[out.dependence["status"] == "ok"]
    assert (shown["n_persons"] >= min_cell).all()
    hidden = out.dependence[out.dependence["status"] != "ok"]
    assert hidden[["n_persons", "mean_shap", "ci_lo", "ci_hi"]].isna().all().all()
    assert len(out.dependence) <= 4 * (cfg.shap.bins + 1)  # aggregates, never one row per person
    finite = shown.dropna(subset=["value_from"])
    for _, d in finite.groupby("feature"):
        assert np.isinf(d["value_from"].iloc[0]) and np.isinf(d["value_to"].iloc[-1])  # open outer ends


def test_importance_and_dependence_reflect_the_signal(fast_cfg):
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame({"strong": rng.integers(0, 2, n).astype(float), "weak": rng.random(n), "none": rng.random(n)})
    S = np.column_stack([2 * X["strong"] - 1, 0.2 * (X["weak"] - 0.5), np.zeros(n)])
    out = aggregate_shap_values(S, X, cfg=fast_cfg)
    assert out.importance["feature"].tolist() == ["strong", "weak", "none"]
    assert out.importance["mean_abs_shap"].iloc[0] == pytest.approx(1.0)
    dep = out.dependence[out.dependence["feature"] == "strong"].set_index("bin")
    assert dep.loc["1", "mean_shap"] == pytest.approx(-1.0) and dep.loc["2", "mean_shap"] == pytest.approx(1.0)
    assert out.n_persons == n


def test_tree_explainer_on_lightgbm_keeps_only_aggregates():
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame(
        {
            "age": rng.integers(13, 20, n),
            "ind_halt": (rng.random(n) < 0.1).astype("float32"),
            "ind_vsv": np.where(rng.random(n) < 0.3, np.nan, (rng.random(n) < 0.2)).astype("float32"),
        }
    )
    y = (rng.random(n) < 0.05 + 0.3 * X["ind_halt"]).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lgb.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1).fit(X, y)
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=20), shap=ShapConfig(max_rows=1000))
    out = aggregate_shap(model, X, cfg=cfg)
    assert out.n_persons == 1000  # seeded sample
    assert out.importance["feature"].iloc[0] == "ind_halt"
    assert "missing" in set(out.dependence.loc[out.dependence["feature"] == "ind_vsv", "bin"])
    assert len(out.dependence) < 40


# --- the two families: SHAP of the calibrated models training registers ------------------------


def _family_data(seed: int = 0, n: int = 1500):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.integers(13, 20, n).astype(float),
            "ind_a": (rng.random(n) < 0.2).astype(float),
            "ind_gap": np.where(rng.random(n) < 0.3, np.nan, rng.poisson(1.0, n).astype(float)),
        }
    )
    logit = -2.0 + 1.5 * X["ind_a"] + 0.4 * X["ind_gap"].fillna(2.0) + 0.1 * (X["age"] - 16)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_logistic_regression_shap_is_exact_and_hand_checked() -> None:
    from evaluation.explain import LINEAR_SCALE, compute_shap_values, shap_scale
    from models import build_logistic_baseline, fit_calibrated

    X, y = _family_data()
    pipe = build_logistic_baseline().fit(X[:1000], y[:1000])
    calibrated = fit_calibrated(pipe, X[1000:], y[1000:])
    S = compute_shap_values(calibrated, X)
    assert S.shape == X.shape and shap_scale(calibrated) == LINEAR_SCALE
    # by hand: coefficient x standardised value, the missingness flag added to its column
    impute, scale, logit = pipe.named_steps["impute"], pipe.named_steps["scale"], pipe.named_steps["logit"]
    Z = (impute.transform(X) - scale.mean_) / scale.scale_
    w = logit.coef_[0]
    hand = Z[:, :3] * w[:3]
    hand[:, 2] += Z[:, 3] * w[3]  # ind_gap is the only column with missing values
    np.testing.assert_allclose(S, hand, atol=1e-10)
    # local accuracy: a row's values sum to its log-odds minus the log-odds at the training mean
    mean_logodds = float(logit.intercept_[0])  # standardised inputs are 0 at the training mean
    np.testing.assert_allclose(S.sum(axis=1), pipe.decision_function(X) - mean_logodds, atol=1e-10)


def test_lightgbm_shap_explains_what_the_model_predicts() -> None:
    from evaluation.explain import TREE_SCALE, compute_shap_values, shap_scale
    from models import LightGBMRiskClassifier, fit_calibrated

    X, y = _family_data(1)
    model = LightGBMRiskClassifier(n_estimators=300, learning_rate=0.2, early_stopping_rounds=5, random_state=0)
    model.fit(X[:1000], y[:1000], eval_set=(X[1000:], y[1000:]))
    assert model.best_iteration_ < 300  # early stopping: SHAP must explain only the trees used
    S = compute_shap_values(fit_calibrated(model, X[1000:], y[1000:]), X)
    assert shap_scale(model) == TREE_SCALE
    offset = model.decision_function(X) - S.sum(axis=1)  # the expected value: one constant
    assert np.ptp(offset) < 1e-6


def test_aggregate_shap_names_the_scale_of_a_logistic_regression() -> None:
    from evaluation.explain import LINEAR_SCALE
    from models import build_logistic_baseline

    X, y = _family_data(2, n=600)
    out = aggregate_shap(
        build_logistic_baseline().fit(X, y), X, cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=20))
    )
    assert out.scale == LINEAR_SCALE and out.importance["feature"].iloc[0] == "ind_a"
