"""The vectorised bootstrap engine: weighted statistics equal sklearn's, seeding, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from evaluation.bootstrap import (
    bootstrap,
    cell_pair_counts,
    chunk_bounds,
    draw_weights,
    percentile_interval,
    replicate_weights,
    weighted_auc,
    weighted_average_precision,
)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    k=st.integers(1, 3),
    decimals=st.integers(0, 2),
)
def test_weighted_auc_and_ap_equal_sklearn_with_sample_weights(seed, n, k, decimals):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n) + 0.3 * y, decimals)  # ties on purpose
    g = rng.integers(0, k, n)
    W = np.vstack(list(draw_weights(n, 3, seed, max_cells=2 * n)))
    auc = weighted_auc(W, y, s, g, k)
    ap = weighted_average_precision(W, y, s, g, k)
    for r in range(W.shape[0]):
        for j in range(k):
            m = (g == j) & (W[r] > 0)
            if len(np.unique(y[m])) == 2:
                assert auc[r, j] == pytest.approx(roc_auc_score(y[m], s[m], sample_weight=W[r, m]), abs=1e-12)
            else:
                assert np.isnan(auc[r, j])
            if y[m].sum() > 0:
                assert ap[r, j] == pytest.approx(average_precision_score(y[m], s[m], sample_weight=W[r, m]), abs=1e-12)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    k=st.integers(1, 4),
    decimals=st.integers(0, 2),
    max_cells=st.integers(1, 400),
)
def test_cell_pair_counts_give_sklearn_auc_of_any_union_of_cells(seed, n, k, decimals, max_cells):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n) + 0.3 * y, decimals)  # ties on purpose
    cells = rng.integers(0, k, n)
    W = np.vstack(list(draw_weights(n, 3, seed, max_cells=2 * n)))
    U = cell_pair_counts(y, s, cells, k, max_cells=max_cells)(W)
    union = rng.random(k) < 0.6  # any union of cells: a group of some grouping
    for r in range(W.shape[0]):
        m = union[cells] & (W[r] > 0)
        num = U[r][np.ix_(union, union)].sum()
        p, q = (W[r] * y)[m].sum(), (W[r] * (1 - y))[m].sum()
        if p > 0 and q > 0:
            assert num / (p * q) == pytest.approx(roc_auc_score(y[m], s[m], sample_weight=W[r, m]), abs=1e-12)
        else:
            assert num == 0.0


def test_weights_are_resamples_and_seeded():
    a = np.vstack(list(draw_weights(50, 7, seed=3, max_cells=100)))
    b = np.vstack(list(draw_weights(50, 7, seed=3, max_cells=100)))
    c = np.vstack(list(draw_weights(50, 7, seed=4, max_cells=100)))
    assert a.shape == (7, 50)
    assert np.all(a.sum(axis=1) == 50) and np.all(a >= 0)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_chunking_does_not_change_the_replicates():
    small = np.vstack(list(draw_weights(40, 9, seed=5, max_cells=40)))  # one replicate per chunk
    big = np.vstack(list(draw_weights(40, 9, seed=5, max_cells=10_000)))  # all at once
    assert np.array_equal(small, big)


class _Backwards:
    """An executor that evaluates the items last to first (as a cluster may) and returns the
    results in item order."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def map(self, fn, items):  # type: ignore[no-untyped-def]
        todo = list(items)
        self.items = todo
        return iter([fn(item) for item in reversed(todo)][::-1])


@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), reps=st.integers(1, 30), max_cells=st.integers(1, 200))
def test_chunks_are_the_same_in_any_order_and_any_split(seed, n, reps, max_cells):
    x = np.random.default_rng(seed).normal(size=n)

    def stat(W):  # type: ignore[no-untyped-def]
        return {"mean": W @ x / W.sum(axis=1), "w": W}

    ex = _Backwards()
    here = bootstrap(stat, n, reps=reps, seed=seed, max_cells=max_cells)
    there = bootstrap(stat, n, reps=reps, seed=seed, max_cells=max_cells, executor=ex)
    assert ex.items == chunk_bounds(n, reps, max_cells)
    assert np.array_equal(here["mean"].reps, there["mean"].reps)
    assert np.array_equal(here["w"].reps, replicate_weights(n, 0, reps, seed))  # one replicate per row
    r = int(np.random.default_rng(seed + 1).integers(0, reps))
    assert np.array_equal(replicate_weights(n, r, r + 1, seed)[0], here["w"].reps[r])  # each on its own


def test_point_estimate_is_the_unit_weight_statistic():
    x = np.array([1.0, 2.0, 3.0, 10.0])
    est = bootstrap(lambda W: {"mean": W @ x / W.sum(axis=1)}, 4, reps=30, seed=1, max_cells=1000)
    assert float(est["mean"].point) == pytest.approx(4.0)
    assert est["mean"].reps.shape == (30,)


def test_percentile_interval_ignores_nan_replicates():
    reps = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    lo, hi = percentile_interval(reps, (0.0, 100.0))
    assert lo[0] == 1.0 and hi[0] == 3.0 and np.isnan(lo[1])


def test_intervals_cover_the_truth_at_roughly_the_nominal_rate():
    """Quick simulation: 95% intervals of a rate and of an AUC cover the true value ~95%."""
    rng = np.random.default_rng(2024)
    n, sims, p, d = 300, 150, 0.3, 1.0
    true_auc = norm.cdf(d / np.sqrt(2))  # binormal, equal variances
    hit_rate = hit_auc = 0
    zero = np.zeros(n, dtype=np.int64)
    for i in range(sims):
        y = (rng.random(n) < p).astype(float)
        s = rng.normal(0, 1, n) + d * y

        def stat(W, y=y, s=s):
            return {"rate": W @ y / W.sum(axis=1), "auc": weighted_auc(W, y, s, zero, 1)[:, 0]}

        est = bootstrap(stat, n, reps=300, seed=i, max_cells=200_000)
        lo, hi = est["rate"].interval((2.5, 97.5))
        hit_rate += lo <= p <= hi
        lo, hi = est["auc"].interval((2.5, 97.5))
        hit_auc += lo <= true_auc <= hi
    assert 0.88 <= hit_rate / sims <= 0.99
    assert 0.86 <= hit_auc / sims <= 0.99
