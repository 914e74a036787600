"""Performance metrics equal sklearn's definitions; calibration bins respect the minimum cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, precision_score, recall_score, roc_auc_score

from evaluation.config import BootstrapConfig, EvaluationConfig
from evaluation.performance import audit_performance


@pytest.fixture
def scored() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    s = rng.beta(1, 12, 4000)
    y = (rng.random(4000) < s).astype(int)
    base = np.clip(s + rng.normal(0, 0.05, 4000), 0, 1)
    return pd.DataFrame({"y": y, "s": s, "b": base})


def test_metrics_equal_sklearn(scored, fast_cfg):
    res = audit_performance(scored, label="y", score="s", threshold=0.1, cfg=fast_cfg, baselines=["b"])
    m = res.metrics.set_index(["model", "metric"])["value"]
    y, s, b = scored["y"], scored["s"], scored["b"]
    assert m[("model", "auc")] == pytest.approx(roc_auc_score(y, s))
    assert m[("model", "pr_auc")] == pytest.approx(average_precision_score(y, s))
    assert m[("model", "brier")] == pytest.approx(brier_score_loss(y, s))
    assert m[("model", "precision")] == pytest.approx(precision_score(y, s >= 0.1))
    assert m[("model", "recall")] == pytest.approx(recall_score(y, s >= 0.1))
    assert m[("b", "auc")] == pytest.approx(roc_auc_score(y, b))
    comp = res.comparison.set_index(["baseline", "metric"])
    assert comp.loc[("b", "auc"), "difference"] == pytest.approx(roc_auc_score(y, s) - roc_auc_score(y, b))
    assert comp.loc[("b", "auc"), "ci_lo"] > 0  # the true-risk score beats its noisy copy


def test_calibration_of_true_risk_is_good_and_bins_add_up(scored):
    res = audit_performance(
        scored, label="y", score="s", threshold=0.1, cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=100))
    )
    cal = res.calibration
    assert cal["n_persons"].sum() == len(scored)
    assert cal["score_from"].iloc[0] == 0.0 and cal["score_to"].iloc[-1] == 1.0  # no person's extreme score
    ece = res.metrics.set_index(["model", "metric"]).loc[("model", "ece")]
    assert ece["value"] < 0.02 and ece["ci_lo"] <= ece["value"] <= ece["ci_hi"]
    inside = (cal["observed_rate_lo"] <= cal["mean_predicted"]) & (cal["mean_predicted"] <= cal["observed_rate_hi"])
    assert inside.mean() >= 0.7


def test_miscalibration_is_detected(scored):
    doubled = scored.assign(s=np.clip(scored["s"] * 2.0, 0, 1))
    res = audit_performance(
        doubled, label="y", score="s", threshold=0.1, cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=60))
    )
    m = res.metrics.set_index(["model", "metric"])
    assert m.loc[("model", "ece"), "ci_lo"] > 0.02
    assert m.loc[("model", "mean_predicted"), "ci_lo"] > m.loc[("model", "prevalence"), "ci_hi"]


def test_small_band_and_sparse_bins_are_too_few(fast_cfg):
    df = pd.DataFrame({"y": [0, 1, 0, 1, 0, 0, 1, 0], "s": [0.1, 0.8, 0.2, 0.7, 0.3, 0.1, 0.9, 0.4]})
    res = audit_performance(df, label="y", score="s", threshold=0.5, cfg=fast_cfg)
    assert (res.metrics["status"] == "too few").all()
    assert res.metrics["value"].isna().all()
    assert res.calibration["n_persons"].isna().all()


def test_bad_scores_are_rejected(fast_cfg):
    with pytest.raises(ValueError):
        audit_performance(
            pd.DataFrame({"y": [0, 1], "s": [0.1, np.nan]}), label="y", score="s", threshold=0.5, cfg=fast_cfg
        )
