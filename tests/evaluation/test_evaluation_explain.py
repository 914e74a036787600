"""SHAP summaries: binned aggregates that pass the minimum cell size, no per-person values."""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.config import EvaluationConfig
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
    cfg = EvaluationConfig(bootstrap_reps=20, min_cell_size=min_cell, shap_dependence_features=4)
    out = aggregate_shap_values(S, X, cfg=cfg)
    shown = out.dependence[out.dependence["status"] == "ok"]
    assert (shown["n_persons"] >= min_cell).all()
    hidden = out.dependence[out.dependence["status"] != "ok"]
    assert hidden[["n_persons", "mean_shap", "ci_lo", "ci_hi"]].isna().all().all()
    assert len(out.dependence) <= 4 * (cfg.shap_bins + 1)  # aggregates, never one row per person
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
    cfg = EvaluationConfig(bootstrap_reps=20, shap_max_rows=1000)
    out = aggregate_shap(model, X, cfg=cfg)
    assert out.n_persons == 1000  # seeded sample
    assert out.importance["feature"].iloc[0] == "ind_halt"
    assert "missing" in set(out.dependence.loc[out.dependence["feature"] == "ind_vsv", "bin"])
    assert len(out.dependence) < 40
