"""Vectorised, seeded row bootstrap and weighted statistics over replicates.

A bootstrap replicate is a vector of row weights (how often each row was drawn when resampling
``n`` rows with replacement). Every statistic here takes a weight matrix ``W`` of shape
``(replicates, n)`` and returns one value per replicate (and per group), so one matrix product
replaces a Python loop over replicates. The point estimate is the same function evaluated with
all weights equal to one, so point and intervals can never disagree about the definition.

Every replicate has its own seed (replicate ``r`` of seed ``s``: ``SeedSequence(s,
spawn_key=(r,))``), so a chunk of replicates is the same whichever chunks come before it and
wherever it is evaluated: :func:`bootstrap` can hand the chunks to an executor
(:mod:`aanwas.common.compute`, e.g. a Dask cluster) and get the same bits as in this process.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from aanwas.common.compute import Executor

#: A statistic over replicates: weight matrix ``(r, n)`` -> named arrays of shape ``(r, ...)``.
Statistic = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate and its bootstrap replicates.

    Attributes
    ----------
    point : numpy.ndarray
        The statistic on the observed data (shape ``shape``).
    reps : numpy.ndarray
        The statistic per replicate (shape ``(n_reps, *shape)``); NaN where undefined.
    """

    point: np.ndarray
    reps: np.ndarray

    def interval(self, quantiles: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval (``quantiles`` in 0-100); NaN where all replicates are NaN."""
        return percentile_interval(self.reps, quantiles)


def percentile_interval(reps: np.ndarray, quantiles: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile over axis 0, ignoring NaN replicates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices -> NaN, on purpose
        lo, hi = np.nanpercentile(reps, quantiles, axis=0)
    return lo, hi


def chunk_bounds(n: int, reps: int, max_cells: int) -> list[tuple[int, int]]:
    """Replicates ``[start, stop)`` of each chunk: at most ``max_cells`` weight cells (at least
    one replicate) per chunk.

    Examples
    --------
    >>> chunk_bounds(5, 7, max_cells=15)
    [(0, 3), (3, 6), (6, 7)]
    """
    chunk = max(1, max_cells // max(n, 1))
    return [(lo, min(lo + chunk, reps)) for lo in range(0, reps, chunk)]


def replicate_weights(n: int, start: int, stop: int, seed: int) -> np.ndarray:
    """Bootstrap weights of replicates ``start..stop-1`` of ``seed`` for ``n`` rows:
    ``(stop - start, n)``, each row the multinomial counts of one classic resample (``n``
    draws with replacement) from the replicate's own generator.

    Examples
    --------
    >>> W = replicate_weights(5, 0, 3, seed=0)
    >>> W.shape, W.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    >>> bool((replicate_weights(5, 1, 3, seed=0) == W[1:]).all())
    True
    """
    c = stop - start
    idx = np.empty((c, n), dtype=np.int64)
    for i, r in enumerate(range(start, stop)):
        idx[i] = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,))).integers(0, n, size=n)
    idx += (np.arange(c, dtype=np.int64) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=c * n).reshape(c, n).astype(np.float64)


def draw_weights(n: int, reps: int, seed: int, max_cells: int) -> Iterator[np.ndarray]:
    """Yield bootstrap weight matrices (chunks of :func:`chunk_bounds`) for ``n`` rows: the
    weights of :func:`replicate_weights`, so the chunking never changes the replicates.

    Examples
    --------
    >>> W = np.vstack(list(draw_weights(5, 3, seed=0, max_cells=1000)))
    >>> W.shape, W.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    for start, stop in chunk_bounds(n, reps, max_cells):
        yield replicate_weights(n, start, stop, seed)


def draw_group_weights(counts: np.ndarray, reps: int, seed: int, max_cells: int) -> Iterator[np.ndarray]:
    """Bootstrap weight matrices for rows compressed into groups of identical rows.

    Each row of a chunk holds how many of the ``sum(counts)`` draws with replacement of one
    classic resample fall into each group (multinomial with probabilities ``counts / n``): the
    distribution of :func:`draw_weights` summed within the groups, at the cost of the number of
    groups instead of the number of rows.

    Examples
    --------
    >>> W = np.vstack(list(draw_group_weights(np.array([3.0, 1.0]), 4, seed=0, max_cells=100)))
    >>> W.shape, W.sum(axis=1).tolist()
    ((4, 2), [4.0, 4.0, 4.0, 4.0])
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = int(round(counts.sum()))
    p = counts / counts.sum()
    rng = np.random.default_rng(seed)
    chunk = max(1, max_cells // max(len(counts), 1))
    done = 0
    while done < reps:
        c = min(chunk, reps - done)
        yield rng.multinomial(n, p, size=c).astype(np.float64)
        done += c


def bootstrap(
    stat: Statistic,
    n: int,
    *,
    reps: int,
    seed: int,
    max_cells: int,
    executor: Executor | None = None,
) -> dict[str, Estimate]:
    """Evaluate ``stat`` on the data (unit weights) and on ``reps`` bootstrap replicates.

    Parameters
    ----------
    stat : callable
        Takes a weight matrix ``(r, n)`` and returns named arrays of shape ``(r, ...)``.
    n : int
        Number of rows.
    reps, seed, max_cells : int
        Replicates, seed, and the chunk memory cap (weight cells per chunk).
    executor : Executor, optional
        Where the chunks of replicates are evaluated (:mod:`aanwas.common.compute`: a Dask
        cluster gets one task per chunk, ``stat`` and its data travelling with it); default:
        one after another in this process. Either way the same bits: each chunk draws its own
        replicates (:func:`replicate_weights`) and runs with one BLAS thread.

    Returns
    -------
    dict of str to Estimate

    Examples
    --------
    >>> x = np.array([0.0, 1.0, 1.0, 0.0])
    >>> est = bootstrap(lambda W: {"mean": W @ x / W.sum(axis=1)}, 4, reps=50, seed=1, max_cells=100)
    >>> float(est["mean"].point)
    0.5
    """
    point = stat(np.ones((1, n)))
    task = functools.partial(_replicate_chunk, stat, n, seed)
    bounds = chunk_bounds(n, reps, max_cells)
    chunks = list(executor.map(task, bounds) if executor is not None else map(task, bounds))
    return {k: Estimate(point=point[k][0], reps=np.concatenate([c[k] for c in chunks], axis=0)) for k in point}


def _replicate_chunk(stat: Statistic, n: int, seed: int, bounds: tuple[int, int]) -> dict[str, np.ndarray]:
    """``stat`` on replicates ``bounds`` (a task for an executor: picklable, no side effects).
    One BLAS thread, so a matrix product sums in the same order on any machine."""
    with _threadpools().limit(limits=1, user_api="blas"):
        return {k: np.asarray(v) for k, v in stat(replicate_weights(n, *bounds, seed)).items()}


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The thread pools of this process, found once (a fresh look costs about 0.6 ms a chunk)."""
    return ThreadpoolController()


def divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is zero (no warnings)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def indicator(codes: np.ndarray, k: int, values: np.ndarray | None = None) -> sp.csr_matrix:
    """Sparse ``(n, k)`` matrix with ``values`` (default 1) at ``(i, codes[i])``; code -1 is dropped."""
    codes = np.asarray(codes)
    n = len(codes)
    keep = codes >= 0
    data = np.ones(n) if values is None else np.asarray(values, dtype=np.float64)
    rows = np.arange(n)
    return sp.csr_matrix((data[keep], (rows[keep], codes[keep])), shape=(n, k))


def group_sums(W: np.ndarray, codes: np.ndarray, k: int, values: np.ndarray | None = None) -> np.ndarray:
    """Weighted sums of ``values`` per group: ``(r, k)``."""
    return np.asarray(W @ indicator(codes, k, values))


def _blocks(codes: np.ndarray, s: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by (group, score) and number the blocks of tied scores within a group.

    Returns the block id of every row (original order), the group of every block, and for every
    block the index of the first block of its group.
    """
    key = -s if descending else s
    order = np.lexsort((key, codes))
    c, ks = codes[order], key[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (ks[1:] != ks[:-1])
    block_sorted = np.cumsum(new) - 1
    block = np.empty_like(block_sorted)
    block[order] = block_sorted
    block_group = c[new]
    first_of_group = np.ones(len(block_group), dtype=bool)
    first_of_group[1:] = block_group[1:] != block_group[:-1]
    group_first_block = np.maximum.accumulate(np.where(first_of_group, np.arange(len(block_group)), 0))
    return block, block_group, group_first_block


def _block_sums(W: np.ndarray, block: np.ndarray, nb: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted positives and negatives per block, block-major ``(nb, r)`` (fast cumsums)."""
    M = sp.hstack([indicator(block, nb, y), indicator(block, nb, 1.0 - y)]).tocsc()
    both = np.asarray(M.T @ W.T)
    return both[:nb], both[nb:]


def _group_starts(block_group: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, block_group[1:] != block_group[:-1]])


def weighted_auc(W: np.ndarray, y: np.ndarray, s: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """ROC AUC per group and replicate (ties count one half), ``(r, k)``.

    Equals :func:`sklearn.metrics.roc_auc_score` with ``sample_weight`` set to a weight row.
    NaN where a group lacks positives or negatives.
    """
    y = np.asarray(y, dtype=np.float64)
    block, block_group, _ = _blocks(np.asarray(codes), np.asarray(s, dtype=np.float64), descending=False)
    nb = len(block_group)
    pos, neg = _block_sums(W, block, nb, y)
    cum = np.cumsum(neg, axis=0)
    to_group = indicator(block_group, k).T.tocsr()
    # negatives strictly below a block within its group = cum - neg - (cum before the group);
    # the group offset factors out of the sum over the group's blocks.
    num = np.asarray(to_group @ (pos * (cum - 0.5 * neg)))
    p = np.asarray(to_group @ pos)
    q = np.asarray(to_group @ neg)
    starts = _group_starts(block_group)
    offset = np.zeros((k, W.shape[0]))
    offset[block_group[starts]] = np.concatenate([np.zeros((1, W.shape[0])), cum])[starts]
    return divide(num - offset * p, p * q).T


def weighted_average_precision(W: np.ndarray, y: np.ndarray, s: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Average precision (area under the precision-recall curve, step-wise) per group, ``(r, k)``.

    Equals :func:`sklearn.metrics.average_precision_score` with ``sample_weight`` set to a
    weight row. NaN where a group has no positives.
    """
    y = np.asarray(y, dtype=np.float64)
    block, block_group, _ = _blocks(np.asarray(codes), np.asarray(s, dtype=np.float64), descending=True)
    nb = len(block_group)
    pos, neg = _block_sums(W, block, nb, y)
    starts = _group_starts(block_group)
    group_of_start = np.repeat(starts, np.diff(np.r_[starts, nb]))
    tp = np.cumsum(pos, axis=0)
    fp = np.cumsum(neg, axis=0)
    if len(starts) > 1:  # restart the running sums at each group
        tp_before = np.concatenate([np.zeros((1, W.shape[0])), tp])[group_of_start]
        fp_before = np.concatenate([np.zeros((1, W.shape[0])), fp])[group_of_start]
        tp, fp = tp - tp_before, fp - fp_before
    precision = divide(tp, tp + fp)
    contrib = np.where(pos > 0, pos * np.nan_to_num(precision), 0.0)
    to_group = indicator(block_group, k).T.tocsr()
    return divide(np.asarray(to_group @ contrib), np.asarray(to_group @ pos)).T


def cell_pair_counts(
    y: np.ndarray, s: np.ndarray, cells: np.ndarray, k: int, *, max_cells: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Weighted counts of (positive, negative) pairs by the cells of the two rows.

    Returns a function of a weight matrix ``W`` ``(r, n)`` giving ``U`` ``(r, k, k)``:
    ``U[:, c, d]`` sums ``w_i w_j ([s_i > s_j] + [s_i = s_j] / 2)`` over positives ``i`` in cell
    ``c`` and negatives ``j`` in cell ``d``. The ROC AUC of any union ``g`` of cells is then
    ``sum(U[g, g]) / (P_g N_g)`` (the Mann-Whitney form), so every group of every grouping
    built from the same cells (attributes and their intersections) comes from one pass over
    the rows instead of one sort and one pass per grouping. The sort and the positions of the
    positives among each cell's negatives are computed once, here.

    Cost per call: ``O(r n)`` for the cumulative sums plus ``O(r P k)`` for the ``P`` positives,
    taken in blocks of positives so that no intermediate exceeds about ``max_cells`` values.
    """
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    cells = np.asarray(cells, dtype=np.int64)
    order = np.lexsort((s, cells))
    sorted_cells, sorted_s = cells[order], s[order]
    neg_sorted = 1.0 - y[order]
    starts = np.searchsorted(sorted_cells, np.arange(k), side="left")
    ends = np.searchsorted(sorted_cells, np.arange(k), side="right")
    pos_rows = np.flatnonzero(y > 0)
    sp_ = s[pos_rows]
    lt = np.empty((len(pos_rows), k), dtype=np.int64)
    le = np.empty((len(pos_rows), k), dtype=np.int64)
    for d in range(k):  # a loop over cells (few), vectorised over positives
        seg = sorted_s[starts[d] : ends[d]]
        lt[:, d] = starts[d] + np.searchsorted(seg, sp_, side="left")
        le[:, d] = starts[d] + np.searchsorted(seg, sp_, side="right")
    pos_cell = indicator(cells[pos_rows], k).toarray()  # (P, k)

    def pairs(W: np.ndarray) -> np.ndarray:
        r = W.shape[0]
        cum = np.zeros((r, len(order) + 1))
        np.cumsum(W[:, order] * neg_sorted, axis=1, out=cum[:, 1:])
        base = cum[:, starts][:, None, :]
        out = np.zeros((r, k, k))
        step = max(1, max_cells // max(r * k, 1))
        for lo in range(0, len(pos_rows), step):
            b = slice(lo, lo + step)
            below = cum[:, lt[b]] - base
            ties = cum[:, le[b]] - cum[:, lt[b]]
            contrib = W[:, pos_rows[b]][:, :, None] * (below + 0.5 * ties)  # (r, positives, k)
            out += np.einsum("rpd,pc->rcd", contrib, pos_cell[b])
        return out

    return pairs


def codes_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and sorted unique labels of ``values`` (no NaN expected).

    Examples
    --------
    >>> codes_of(np.array(["b", "a", "b"], dtype=object))
    (array([1, 0, 1]), array(['a', 'b'], dtype=object))
    """
    codes, labels = pd.factorize(np.asarray(values), sort=True)  # hashing: faster than np.unique on text
    return codes.astype(np.int64), np.asarray(labels)
