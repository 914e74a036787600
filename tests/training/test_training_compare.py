"""Paired bootstrap of an AUC difference: point, replicates and interval checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from evaluation.bootstrap import draw_weights
from training.compare import paired_auc_difference
from training.config import ComparisonConfig


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    a = y + rng.normal(0, 1.0, n)
    b = a + rng.normal(0, 0.8, n)  # a noisier copy of a: worse, and strongly correlated with it
    return y, a, b


def test_hand_case() -> None:
    # main ranks every positive above every negative (AUC 1); other swaps one pair (AUC 3/4)
    cfg = ComparisonConfig(bootstrap_reps=50)
    d = paired_auc_difference([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.3, 0.2, 0.4], cfg, seed=0)
    assert d["auc_diff"] == 0.25
    assert d["auc_diff_lo"] >= 0.0  # main is never worse in any resample
    assert d["auc_diff_p_le0"] < 1.0


def test_replicates_equal_a_loop_of_weighted_sklearn_aucs() -> None:
    """The interval is the percentile of per-replicate differences of sample-weighted AUCs on
    the SAME resample for both models (seed-for-seed the evaluation bootstrap's weights)."""
    y, a, b = _data(300, 1)
    cfg = ComparisonConfig(bootstrap_reps=60, test_level=0.1, bootstrap_max_cells=5_000)
    W = np.vstack(list(draw_weights(len(y), cfg.bootstrap_reps, 7, cfg.bootstrap_max_cells)))
    diffs = []
    for w in W:
        if 0 < (w * y).sum() < w.sum():
            diffs.append(roc_auc_score(y, a, sample_weight=w) - roc_auc_score(y, b, sample_weight=w))
    lo, hi = np.percentile(diffs, [5, 95])
    d = paired_auc_difference(y, a, b, cfg, seed=7)
    assert d["auc_diff"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert (d["auc_diff_lo"], d["auc_diff_hi"]) == pytest.approx((lo, hi))
    assert d["auc_diff_p_le0"] == pytest.approx(np.mean(np.array(diffs) <= 0))


def test_paired_interval_is_narrower_than_unpaired() -> None:
    """Pairing removes the shared sampling error: the paired interval is much narrower than
    one built from resampling the two models independently."""
    y, a, b = _data(2000, 2)
    cfg = ComparisonConfig(bootstrap_reps=200)
    d = paired_auc_difference(y, a, b, cfg, seed=3)
    rng = np.random.default_rng(4)
    unpaired = []
    for _ in range(200):
        i, j = rng.integers(0, len(y), len(y)), rng.integers(0, len(y), len(y))
        unpaired.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[j], b[j]))
    width_unpaired = np.subtract(*np.percentile(unpaired, [97.5, 2.5]))
    assert d["auc_diff_hi"] - d["auc_diff_lo"] < 0.8 * width_unpaired
    assert d["auc_diff_lo"] > 0  # a is better than its noisier copy


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_identical_scores_give_zero_and_swapping_negates(seed: int) -> None:
    y, a, b = _data(120, seed)
    if y.min() == y.max():
        return
    cfg = ComparisonConfig(bootstrap_reps=20)
    same = paired_auc_difference(y, a, a, cfg, seed=seed)
    assert same["auc_diff"] == 0 and same["auc_diff_lo"] == 0 and same["auc_diff_hi"] == 0
    ab = paired_auc_difference(y, a, b, cfg, seed=seed)
    ba = paired_auc_difference(y, b, a, cfg, seed=seed)
    assert ab["auc_diff"] == pytest.approx(-ba["auc_diff"])
    assert ab["auc_diff_lo"] == pytest.approx(-ba["auc_diff_hi"])


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="same length"):
        paired_auc_difference([0, 1], [0.1, 0.2], [0.1], ComparisonConfig(), seed=0)


def test_config_is_checked() -> None:
    from aanwas.common.errors import ConfigError

    with pytest.raises(ConfigError):
        ComparisonConfig(test_level=0.0)
    # the interval's level is exactly what the former `confidence = 0.95` gave (same percentiles)
    assert ComparisonConfig().confidence == 0.95 and ComparisonConfig(test_level=0.1).confidence == 0.9
    with pytest.raises(ConfigError):
        ComparisonConfig(bootstrap_reps=5)


def test_tied_rows_are_bootstrapped_as_groups_exactly() -> None:
    """With repeated (label, main, other) rows (national scale: 0.2-7 % distinct), replicates
    are weighted AUCs over the distinct rows with multinomial group counts: checked against a
    loop of sklearn AUCs on the same group weights, and against the row-level bootstrap."""
    from evaluation.bootstrap import draw_group_weights

    rng = np.random.default_rng(5)
    n = 3000
    y = (rng.random(n) < 0.2).astype(int)
    a = np.round(y * 0.6 + rng.random(n), 1)  # few distinct values: many identical rows
    b = np.round(a + rng.normal(0, 0.3, n), 1)
    cfg = ComparisonConfig(bootstrap_reps=200, test_level=0.1, bootstrap_max_cells=20_000)
    d = paired_auc_difference(y, a, b, cfg, seed=11)
    assert d["auc_diff"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    import pandas as pd

    g = pd.DataFrame({"y": y, "a": a, "b": b}).groupby(["y", "a", "b"], sort=False).size()
    assert len(g) < n / 5  # the grouped path is the one under test
    k = g.index.to_frame(index=False)
    W = np.vstack(list(draw_group_weights(g.to_numpy(float), cfg.bootstrap_reps, 11, cfg.bootstrap_max_cells)))
    diffs = [roc_auc_score(k["y"], k["a"], sample_weight=w) - roc_auc_score(k["y"], k["b"], sample_weight=w) for w in W]
    lo, hi = np.percentile(diffs, [5, 95])
    assert (d["auc_diff_lo"], d["auc_diff_hi"]) == pytest.approx((lo, hi))
    # the same distribution as resampling rows: a row-level bootstrap gives a similar interval
    rows = [roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]) for i in (rng.integers(0, n, n) for _ in range(200))]
    rlo, rhi = np.percentile(rows, [5, 95])
    assert abs((hi - lo) - (rhi - rlo)) < 0.35 * (rhi - rlo)
    assert abs((lo + hi) / 2 - (rlo + rhi) / 2) < 0.35 * (rhi - rlo)
