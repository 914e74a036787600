"""Disclosure control: what may leave the secure environment, and proof that it is safe.

Every table that leaves passes through a ``suppress_*`` function here and comes out as a
:class:`DisclosureChecked` table, the only type the export writer accepts.

Rules (all thresholds in :class:`~monitoring.config.DisclosureConfig`):

* **primary suppression**: a count is published only when it, and its complement (for
  ``n_elevated``: ``n_persons - n_elevated``), reach ``min_cell_size``; zeros are disclosive.
  Shares and means are published only where the counts they rest on are.
* **secondary suppression**: in every additive relation of the table (buurt -> wijk ->
  gemeente -> national, and age bands -> band total) a suppressed cell never stands alone, and
  the sum of the suppressed cells that a reader can derive by subtraction passes the same
  threshold (and complement) rule as a published cell.
* **audit**: for each suppressed count, linear programming (HiGHS via
  :func:`scipy.optimize.linprog`) finds the interval it could take given everything published,
  non-negativity, ``n_elevated <= n_persons`` and additivity. An interval narrower than
  ``protection_level`` triggers extra suppression; if that does not fix it the table is refused
  with :class:`DisclosureError`.
* optional deterministic **rounding** of published counts to base 5 (shares then come from the
  rounded counts). The audit treats published counts as exact, which can only make it stricter.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import time
import types
import zipfile
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from aanwas.common.compute import Executor, LocalExecutor
from aanwas.common.config import as_plain
from aanwas.common.errors import AanwasError, InputError
from monitoring.config import AREA_LEVELS, DisclosureConfig

__all__ = [
    "AREA_EXPORT_COLUMNS",
    "AuditReport",
    "DisclosureChecked",
    "DisclosureError",
    "audit_area_table",
    "suppress_area_table",
    "suppression_by_level",
    "suppress_counts",
    "suppress_observed_counts",
]

#: Columns of the published area table, in order (the export writes exactly these).
AREA_EXPORT_COLUMNS = (
    "period",
    "area_level",
    "area_code",
    "area_name",
    "age_band",
    "n_persons",
    "n_elevated",
    "share_elevated",
    "risk_mean",
    "risk_lo",
    "risk_hi",
    "status",
)
_EXTRA_AREA_COLUMNS = ("elevated",)  # published alongside for the dashboard, not in the CSV
_TOL = 1e-6
_PROPAGATION_ROUNDS = 100  # cap of _outer_bounds; any round's bounds are valid


class DisclosureError(AanwasError):
    """A table cannot be protected: an audit found a suppressed count that can be narrowed.

    The message names how many cells and where (area and band), never their values.
    """


# --------------------------------------------------------------------------------------------
# The checked-table type
# --------------------------------------------------------------------------------------------

_SEAL = object()


def _digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr(list(frame.columns)).encode())
    h.update(repr([str(t) for t in frame.dtypes]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True, eq=False)
class DisclosureChecked:
    """A table that passed disclosure control; only ``suppress_*`` functions can make one.

    Attributes
    ----------
    kind : str
        What the table is (``area_risk``, or the name given to :func:`suppress_counts`).
    rules : Mapping
        The disclosure settings applied (for the manifest).
    report : Mapping
        Counts of primary and secondary suppressions and the audit summary; no cell values.
    """

    kind: str
    _frame: pd.DataFrame = dataclasses.field(repr=False)
    rules: Mapping[str, Any]
    report: Mapping[str, Any]
    _sha: str = dataclasses.field(repr=False)
    _seal: object = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("DisclosureChecked tables are made only by the suppress_* functions of disclosure")

    @property
    def table(self) -> pd.DataFrame:
        """A copy of the published table (suppressed values are missing)."""
        return self._frame.copy()

    def verify(self) -> None:
        """Raise TypeError if the table was altered after it was checked."""
        if self._seal is not _SEAL or _digest(self._frame) != self._sha:
            raise TypeError(f"disclosure-checked table '{self.kind}' was altered after checking")

    def without_columns(self, columns: list[str]) -> DisclosureChecked:
        """The same checked table with ``columns`` left out (publishing less stays safe)."""
        self.verify()
        frame = self._frame.drop(columns=[c for c in columns if c in self._frame.columns])
        return DisclosureChecked(
            kind=self.kind, _frame=frame, rules=self.rules, report=self.report, _sha=_digest(frame), _seal=_SEAL
        )


def _seal(kind: str, frame: pd.DataFrame, cfg: DisclosureConfig, report: Mapping[str, Any]) -> DisclosureChecked:
    frame = frame.reset_index(drop=True).copy()
    return DisclosureChecked(
        kind=kind,
        _frame=frame,
        rules=types.MappingProxyType(as_plain(cfg)),
        report=types.MappingProxyType(dict(report)),
        _sha=_digest(frame),
        _seal=_SEAL,
    )


# --------------------------------------------------------------------------------------------
# Rules on counts
# --------------------------------------------------------------------------------------------


def _fails(x: np.ndarray, cfg: DisclosureConfig) -> np.ndarray:
    """True where a count (or a derivable sum of counts) may not be published."""
    x = np.asarray(x)
    bad = x < cfg.min_cell_size - _TOL
    if not cfg.zeros_disclosive:
        bad &= np.abs(x) > _TOL
    return bad


def _round(x: np.ndarray, cfg: DisclosureConfig) -> np.ndarray:
    """Deterministic rounding to the nearest multiple of ``rounding_base`` (0 = none)."""
    if cfg.rounding_base == 0:
        return x
    b = cfg.rounding_base
    return (np.floor((np.asarray(x, dtype=np.float64) + b / 2.0) / b) * b).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Additive structure ("lines": parent = sum of children)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Lines:
    """Memberships of cells in additive relations; ``parent`` flags the total of each line."""

    line: np.ndarray  # line id per membership (0..n_lines-1)
    cell: np.ndarray  # cell index per membership
    parent: np.ndarray  # bool per membership
    n_lines: int
    n_cells: int

    @property
    def line_parent(self) -> np.ndarray:
        out = np.full(self.n_lines, -1, np.int64)
        out[self.line[self.parent]] = self.cell[self.parent]
        return out


def _area_lines(cells: pd.DataFrame, total_band: str | None) -> _Lines:
    """Lines of one period's area table: hierarchy per band, and bands -> band total."""
    m = len(cells)
    key = cells["area_code"].astype(str) + "\x1f" + cells["age_band"].astype(str)
    index = pd.Index(key)
    if not index.is_unique:
        raise InputError("area_table", "area_code", int(index.duplicated().sum()), "duplicate area x age band rows")
    has_parent = cells["parent_code"].notna().to_numpy()
    child = np.flatnonzero(has_parent)
    pkey = cells["parent_code"].astype(str).to_numpy()[child] + "\x1f" + cells["age_band"].astype(str).to_numpy()[child]
    ppos = index.get_indexer(pkey)
    if (ppos < 0).any():
        raise InputError("area_table", "parent_code", int((ppos < 0).sum()), "parent area row missing")
    lines_line = [ppos, np.unique(ppos)]
    lines_cell = [child, np.unique(ppos)]
    lines_parent = [np.zeros(child.size, bool), np.ones(np.unique(ppos).size, bool)]
    if total_band is not None and (cells["age_band"] == total_band).any():
        band = cells["age_band"].astype(str).to_numpy()
        tot = np.flatnonzero(band == total_band)
        parts = np.flatnonzero(band != total_band)
        tkey = cells["area_code"].astype(str).to_numpy()[parts] + "\x1f" + total_band
        tpos = index.get_indexer(tkey)
        if (tpos < 0).any():
            raise InputError("area_table", "age_band", int((tpos < 0).sum()), f"band total '{total_band}' row missing")
        lines_line += [m + tpos, m + tot]
        lines_cell += [parts, tot]
        lines_parent += [np.zeros(parts.size, bool), np.ones(tot.size, bool)]
    raw_line = np.concatenate(lines_line)
    uniq, line = np.unique(raw_line, return_inverse=True)
    cell = np.concatenate(lines_cell)
    parent = np.concatenate(lines_parent)
    order = np.lexsort((~parent, cell, line))
    return _Lines(line=line[order], cell=cell[order], parent=parent[order], n_lines=uniq.size, n_cells=m)


def _check_additive(lines: _Lines, values: Mapping[str, np.ndarray]) -> None:
    sign = np.where(lines.parent, -1.0, 1.0)
    for name, v in values.items():
        resid = np.bincount(lines.line, weights=sign * v[lines.cell], minlength=lines.n_lines)
        bad = np.abs(resid) > 0.5
        if bad.any():
            raise InputError("area_table", name, int(bad.sum()), "counts do not add up along the hierarchy / age bands")


# --------------------------------------------------------------------------------------------
# Secondary suppression (fixed point over all lines, vectorised)
# --------------------------------------------------------------------------------------------


def _extra_hidden(
    lines: _Lines, x: np.ndarray, hidden: np.ndarray, cfg: DisclosureConfig, sum_rule: bool
) -> np.ndarray:
    """Cells to hide so that no line exposes a hidden value of ``x`` (one pass over all lines).

    A line with a published total needs at least two hidden members and a hidden sum that
    passes the threshold; a line with a hidden total needs at least one hidden member.
    """
    h_m = hidden[lines.cell]
    child_h = h_m & ~lines.parent
    nh = np.bincount(lines.line, weights=child_h, minlength=lines.n_lines)
    hsum = np.bincount(lines.line, weights=np.where(child_h, x[lines.cell], 0.0), minlength=lines.n_lines)
    lp = lines.line_parent
    p_hidden = hidden[lp]
    need = np.zeros(lines.n_lines, bool)
    if sum_rule:
        need |= ~p_hidden & (nh >= 1) & _fails(hsum, cfg)
    else:
        need |= ~p_hidden & (nh == 1)
        need |= p_hidden & (nh == 0)
    if not need.any():
        return np.zeros(0, np.int64)
    cand = need[lines.line] & ~lines.parent & ~h_m
    cl, cc = lines.line[cand], lines.cell[cand]
    # prefer the smallest cell that can give way by the protection level (a hidden zero can
    # only grow, so it protects nothing), then the smallest overall
    thin = x[cc] < cfg.protection_level
    order = np.lexsort((cc, x[cc], thin, cl))
    cl, cc = cl[order], cc[order]
    first = np.unique(cl, return_index=True)[1]
    chosen = cc[first]
    no_cand = np.setdiff1d(np.flatnonzero(need), cl[first])
    return np.unique(np.concatenate([chosen, lp[no_cand]]))


def _secondary(
    lines: _Lines, n: np.ndarray, e: np.ndarray, h_n: np.ndarray, h_e: np.ndarray, cfg: DisclosureConfig
) -> None:
    """Grow the hidden sets in place until every line is safe (monotone, so it terminates)."""
    c = n - e
    while True:
        changed = False
        for x, sum_rule, is_n in (
            (n, False, True),
            (n, True, True),
            (e, False, False),
            (e, True, False),
            (c, True, False),
        ):
            if x is c and not cfg.complement_rule:
                continue
            hidden = h_n if is_n else h_e
            add = _extra_hidden(lines, x, hidden, cfg, sum_rule)
            add = add[~hidden[add]]
            if add.size:
                hidden[add] = True
                changed = True
            h_e |= h_n
        if not changed:
            return


# --------------------------------------------------------------------------------------------
# LP audit
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """Result of the LP audit of one table.

    Attributes
    ----------
    n_suppressed : int
        Suppressed counts audited (n_persons and n_elevated cells).
    n_lp : int
        Linear programs solved.
    seconds : float
        Wall time of the audit.
    narrow : DataFrame
        Suppressed counts whose feasible interval is narrower than the protection level
        (``cell``, ``measure``, ``lo``, ``hi``); empty when the audit passed. CONFIDENTIAL.
    lo, hi : ndarray
        Per audited count, an inner bound of its feasible interval (exact where ``exact``).
    exact : ndarray
        Whether lo/hi are the exact LP minimum and maximum.
    certified_by : Mapping
        Hidden counts certified per system (subtrees below each depth, then the whole table).
    """

    n_suppressed: int
    n_lp: int
    seconds: float
    narrow: pd.DataFrame
    cell: np.ndarray
    measure: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    exact: np.ndarray
    certified_by: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.narrow.empty


def _lp_system(lines: _Lines, n: np.ndarray, e: np.ndarray, h_n: np.ndarray, h_e: np.ndarray):  # noqa: ANN202
    """Variables (hidden counts), equality rows (additivity) and E <= N rows."""
    m = lines.n_cells
    var_of = np.full(2 * m, -1, np.int64)  # [0, m): n_persons, [m, 2m): n_elevated
    hidden = np.concatenate([h_n, h_e])
    var_of[hidden] = np.arange(int(hidden.sum()))
    n_var = int(hidden.sum())
    truth = np.concatenate([n, e]).astype(np.float64)[hidden]
    var_cell = np.concatenate([np.arange(m), np.arange(m)])[hidden]
    var_meas = np.concatenate([np.zeros(m, np.int8), np.ones(m, np.int8)])[hidden]
    sign = np.where(lines.parent, -1.0, 1.0)
    rows, cols, vals, rhs = [], [], [], []
    n_rows = 0
    for k, x in enumerate((n, e)):
        v = var_of[k * m + lines.cell]
        is_var = v >= 0
        touched = np.bincount(lines.line, weights=is_var, minlength=lines.n_lines) > 0
        keep_rows = np.flatnonzero(touched)
        row_id = np.full(lines.n_lines, -1, np.int64)
        row_id[keep_rows] = n_rows + np.arange(keep_rows.size)
        known = np.bincount(lines.line, weights=np.where(is_var, 0.0, sign * x[lines.cell]), minlength=lines.n_lines)
        sel = is_var & touched[lines.line]
        rows.append(row_id[lines.line[sel]])
        cols.append(v[sel])
        vals.append(sign[sel])
        rhs.append(-known[keep_rows])
        n_rows += keep_rows.size
    a_eq = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_var))
    b_eq = np.concatenate(rhs)
    both = np.flatnonzero(h_n & h_e)
    a_ub = sp.csr_matrix(
        (
            np.concatenate([np.ones(both.size), -np.ones(both.size)]),
            (np.tile(np.arange(both.size), 2), np.concatenate([var_of[m + both], var_of[both]])),
        ),
        shape=(both.size, n_var),
    )
    big = 2.0 * float(max(n.max(initial=0), 1)) + 1_000.0
    upper = np.full(n_var, big)
    e_only = np.flatnonzero(h_e & ~h_n)
    upper[var_of[m + e_only]] = n[e_only]
    return a_eq, b_eq, a_ub, upper, truth, var_cell, var_meas


def _outer_bounds(
    a_eq: sp.csr_matrix, b_eq: np.ndarray, a_ub: sp.csr_matrix, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Outer bounds of every variable's LP interval by bound propagation (no LP solved).

    Each equality row ``sum a_j x_j = b`` (``a_j`` = +-1) bounds each member by ``b`` minus the
    extremes of the other members; each ``E <= N`` row caps ``E`` by the upper bound of ``N``
    and lifts ``N`` to the lower bound of ``E``. Every round keeps the bounds valid (they always
    contain the feasible set), so a count whose outer width is already below the protection
    level is narrow for certain and needs no LP. Stopping before the fixed point (after
    ``_PROPAGATION_ROUNDS``; national tables need under 10) only leaves the bounds wider.
    """
    n_var = a_eq.shape[1]
    lo, hi = np.zeros(n_var), np.asarray(upper, dtype=np.float64).copy()
    eq = a_eq.tocoo()
    row, col, a = eq.row, eq.col, eq.data
    ub = a_ub.tocoo()
    pairs = pd.DataFrame({"row": ub.row, "col": ub.col, "pos": ub.data > 0}).sort_values(["row", "pos"])
    n_of, e_of = pairs["col"].to_numpy()[~pairs["pos"].to_numpy()], pairs["col"].to_numpy()[pairs["pos"].to_numpy()]
    b = np.asarray(b_eq, dtype=np.float64)[row]
    for _ in range(_PROPAGATION_ROUNDS):
        a_lo, a_hi = np.where(a > 0, lo[col], -hi[col]), np.where(a > 0, hi[col], -lo[col])  # range of a_j x_j
        s_lo = np.bincount(row, weights=a_lo, minlength=a_eq.shape[0])[row]
        s_hi = np.bincount(row, weights=a_hi, minlength=a_eq.shape[0])[row]
        t_lo, t_hi = b - (s_hi - a_hi), b - (s_lo - a_lo)  # range of a_j x_j given the others
        new_lo, new_hi = lo.copy(), hi.copy()
        np.maximum.at(new_lo, col, np.where(a > 0, t_lo, -t_hi))
        np.minimum.at(new_hi, col, np.where(a > 0, t_hi, -t_lo))
        new_hi[e_of] = np.minimum(new_hi[e_of], new_hi[n_of])
        new_lo[n_of] = np.maximum(new_lo[n_of], new_lo[e_of])
        moved = (new_lo > lo + _TOL).any() or (new_hi < hi - _TOL).any()
        lo, hi = new_lo, new_hi
        if not moved:
            break
    return lo, hi


_DUAL_SIMPLEX, _PRIMAL_SIMPLEX = 1, 4  # HiGHS option simplex_strategy


def _highs_module() -> Any:
    """HiGHS bindings: the ``highspy`` package, else the copy that SciPy ships."""
    try:
        import highspy

        return highspy
    except ImportError:  # pragma: no cover - depends on the environment
        from scipy.optimize._highspy import _core

        return _core


class _Block:
    """One sparse LP over independent components, re-solved with new objectives (warm start).

    Primal simplex from the previous optimal basis needs only a few pivots per new objective,
    which is what makes per-count min/max LPs affordable at national scale. The first solve
    starts from the slack basis, where the truth's equality rows are far from satisfied: dual
    simplex gets there in about half the pivots of primal (a whole 0.02-scale table: 5,500
    against 10,600, 0.24 against 0.95 CPU s; docs/dev/performance.md).
    """

    def __init__(self, a: sp.csc_matrix, row_lo: np.ndarray, row_hi: np.ndarray, upper: np.ndarray):
        hs = _highs_module()
        self._hs = hs
        self.h = hs.Highs() if hasattr(hs, "Highs") else hs._Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("presolve", "off")
        self.h.setOptionValue("solver", "simplex")
        self.h.setOptionValue("simplex_strategy", _PRIMAL_SIMPLEX)  # keeps the basis feasible across objectives
        lp = hs.HighsLp()
        nv = a.shape[1]
        lp.num_col_, lp.num_row_ = nv, a.shape[0]
        lp.col_cost_ = np.zeros(nv)
        lp.col_lower_ = np.zeros(nv)
        lp.col_upper_ = np.asarray(upper, dtype=np.float64)
        lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
        lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(np.float64)
        self.h.passModel(lp)
        self.lower, self.upper = np.zeros(nv), np.asarray(upper, dtype=np.float64)
        self.idx = np.arange(nv, dtype=np.int32)
        self.n_solved = 0

    def solve(self, cost: np.ndarray, lower: np.ndarray | None = None, upper: np.ndarray | None = None) -> np.ndarray:
        """Minimise ``cost @ x`` (optionally within tighter column bounds); return the optimal x."""
        if lower is not None and upper is not None:
            self.h.changeColsBounds(
                self.idx.size, self.idx, np.asarray(lower, np.float64), np.asarray(upper, np.float64)
            )
        self.h.changeColsCost(self.idx.size, self.idx, np.asarray(cost, dtype=np.float64))
        if self.n_solved == 0:  # from the slack basis: dual simplex, then primal from its optimum
            self.h.setOptionValue("simplex_strategy", _DUAL_SIMPLEX)
            self.h.run()
            self.h.setOptionValue("simplex_strategy", _PRIMAL_SIMPLEX)
        else:
            self.h.run()
        self.n_solved += 1
        status = self.h.getModelStatus()
        if status != self._hs.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"disclosure audit: LP solver did not reach an optimum ({self.h.modelStatusToString(status)})"
            )
        return np.asarray(self.h.getSolution().col_value)


def _components(a: sp.csr_matrix, n_var: int) -> np.ndarray:
    """Connected component of each variable (variables sharing a constraint are connected)."""
    if a.shape[0] == 0:
        return np.arange(n_var)
    graph = sp.bmat([[None, a], [a.T, None]], format="csr")
    return connected_components(graph, directed=False)[1][a.shape[0] :]


def _split_system(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    top: np.ndarray,
    gemeente: np.ndarray,
    k: int,
) -> tuple[_Lines, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Independent copies of the table for groups of ``k`` gemeenten (``gemeente // k``).

    Copy ``j`` holds the cells of group ``j``, its own copy of every ``top`` (national) cell, and
    the rest of the table fixed at its true values: each national line ``P = sum of gemeenten``
    becomes ``P_j = sum of the group's gemeenten + K_j`` with the constant ``K_j`` (the other
    gemeenten's true sum), and lines among national cells (bands -> band total) are copied.
    Every feasible solution of one copy, with the rest of the table at its true values, is a
    feasible table of the real system, so the range a count takes in its copy is an inner bound
    of its real interval; and the copies are independent small LPs even where most gemeenten
    are suppressed. Returns ``(lines, n, e, h_n, h_e, origin)`` with ``origin`` the real cell of
    each cell (-1 for the constants ``K_j``), or None when the table has no such structure.
    """
    m = lines.n_cells
    lp = lines.line_parent
    top_m = top[lines.cell]
    g_m = gemeente[lines.cell]
    has_top = np.bincount(lines.line, weights=top_m, minlength=lines.n_lines) > 0
    all_top = np.bincount(lines.line, weights=~top_m, minlength=lines.n_lines) == 0
    cut = (lp >= 0) & top[np.maximum(lp, 0)]
    cut &= np.bincount(lines.line, weights=(~lines.parent & (g_m < 0)), minlength=lines.n_lines) == 0
    if (has_top & ~all_top & ~cut).any() or not cut.any():
        return None  # national cells in other relations: not this table's shape
    grp_of_cell = np.where(gemeente >= 0, gemeente // k, -1)
    groups = np.unique(grp_of_cell[grp_of_cell >= 0])
    n_g = groups.size
    top_cells = np.flatnonzero(top)
    t_pos = np.full(m, -1, np.int64)
    t_pos[top_cells] = np.arange(top_cells.size)
    # copies of national cells: cell m + j * n_top + t_pos
    n_top = top_cells.size
    copy_base = m
    const_base = m + n_g * n_top
    # memberships outside national lines: unchanged
    out_line = [lines.line[~has_top[lines.line]]]
    out_cell = [lines.cell[~has_top[lines.line]]]
    out_par = [lines.parent[~has_top[lines.line]]]
    n_lines = lines.n_lines
    # lines among national cells: one copy per group
    for ln in np.flatnonzero(all_top):
        mem = np.flatnonzero(lines.line == ln)
        out_line.append(np.repeat(n_lines + np.arange(n_g), mem.size))
        out_cell.append((copy_base + np.arange(n_g)[:, None] * n_top + t_pos[lines.cell[mem]][None, :]).ravel())
        out_par.append(np.tile(lines.parent[mem], n_g))
        n_lines += n_g
    # national lines: one line per (line, group) with the copy as parent and a constant
    cut_lines = np.flatnonzero(cut)
    ch = cut[lines.line] & ~lines.parent
    gi = np.searchsorted(groups, grp_of_cell[lines.cell[ch]])
    ci = np.searchsorted(cut_lines, lines.line[ch])
    sub = ci * n_g + gi  # sub-line per (cut line, group)
    n_sub = cut_lines.size * n_g
    k_n, k_e = (
        np.repeat(x[lp[cut_lines]].astype(np.float64), n_g)
        - np.bincount(sub, weights=x[lines.cell[ch]], minlength=n_sub)
        for x in (n, e)
    )
    sub_ids = np.arange(n_sub)
    parent_copy = copy_base + (sub_ids % n_g) * n_top + t_pos[np.repeat(lp[cut_lines], n_g)]
    out_line += [n_lines + sub, n_lines + sub_ids, n_lines + sub_ids]
    out_cell += [lines.cell[ch], parent_copy, const_base + sub_ids]
    out_par += [np.zeros(sub.size, bool), np.ones(n_sub, bool), np.zeros(n_sub, bool)]
    n_lines += n_sub
    new_line, new_cell, new_par = (np.concatenate(x) for x in (out_line, out_cell, out_par))
    order = np.lexsort((~new_par, new_cell, new_line))
    n_cells = const_base + n_sub
    split = _Lines(line=new_line[order], cell=new_cell[order], parent=new_par[order], n_lines=n_lines, n_cells=n_cells)
    origin = np.concatenate([np.arange(m), np.tile(top_cells, n_g), np.full(n_sub, -1)])
    cells = origin[:const_base]  # real cells and copies come first, then the constants
    pad = np.zeros(n_sub, bool)
    hn2, he2 = np.concatenate([h_n[cells], pad]), np.concatenate([h_e[cells], pad])
    hn2[top_cells], he2[top_cells] = False, False  # the originals appear in no line now: constants
    n2 = np.concatenate([n[cells], np.rint(k_n).astype(n.dtype)])
    e2 = np.concatenate([e[cells], np.rint(k_e).astype(e.dtype)])
    return split, n2, e2, hn2, he2, origin


def _certify_in_groups(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    cfg: DisclosureConfig,
    done: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    group: np.ndarray | None,
    k: int,
) -> tuple[int, float] | None:
    """One stage of :func:`_audit_arrays`: mark in ``done`` (in place; ``n_persons`` then
    ``n_elevated`` per cell) the hidden counts that :func:`_split_system` with groups of ``k``
    shows to be wide enough. Returns (LPs solved, seconds), or None when there is nothing to do."""
    m = lines.n_cells
    top, gemeente = split
    hidden = np.concatenate([h_n, h_e])
    if k > gemeente.max(initial=0) or not (hidden & ~done).any():
        return None
    system = _split_system(lines, n, e, h_n, h_e, top, gemeente, k)
    if system is None:
        return None
    s_lines, s_n, s_e, s_hn, s_he, origin = system
    s_m = s_lines.n_cells
    real = origin >= 0
    s_done = np.zeros(2 * s_m, bool)
    s_done[:s_m][real] = done[:m][origin[real]]
    s_done[s_m:][real] = done[m:][origin[real]]
    s_group = None if group is None else np.atleast_2d(group)[:, np.maximum(origin, 0)]
    stage = _audit_core(s_lines, s_n, s_e, s_hn, s_he, cfg, s_done, False, s_group)
    # a national count has one copy per group: its interval contains the hull of the copies'
    key = np.where(stage.measure == "n_persons", 0, m) + origin[stage.cell]
    lo, hi = np.full(2 * m, np.inf), np.full(2 * m, -np.inf)
    np.minimum.at(lo, key, stage.lo)
    np.maximum.at(hi, key, stage.hi)
    done |= hi - lo >= cfg.protection_level - _TOL
    return stage.n_lp, stage.seconds


def _audit_arrays(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    cfg: DisclosureConfig,
    certified: np.ndarray | None = None,
    exact_all: bool = False,
    split: tuple[np.ndarray, np.ndarray] | None = None,
    group: np.ndarray | None = None,
) -> AuditReport:
    """Audit all hidden counts; ``split`` (national cells, gemeente index per cell) speeds it up
    without weakening it.

    With ``split``, stages ``k`` in ``cfg.audit_group_sizes`` first audit independent copies of
    the table, one per group of ``k`` gemeenten, with the rest of the table fixed at its true
    values (:func:`_split_system`). Every solution of a copy is a feasible table, so what is wide
    enough there is wide enough for real; and the copies are small LPs even when most gemeenten
    are suppressed, as with small data. The last pass, on the true publication, audits
    whatever no stage certified (exactly, as before).
    """
    m = lines.n_cells
    done = np.zeros(2 * m, bool) if certified is None else certified.copy()
    n_lp, seconds = 0, 0.0
    if split is not None and not exact_all:
        for k in cfg.audit_group_sizes:
            stage = _certify_in_groups(lines, n, e, h_n, h_e, cfg, done, split, group, k)
            if stage is None:
                break
            n_lp, seconds = n_lp + stage[0], seconds + stage[1]
    final = _audit_core(lines, n, e, h_n, h_e, cfg, done, exact_all, group)
    return dataclasses.replace(final, n_lp=final.n_lp + n_lp, seconds=final.seconds + seconds)


def _audit_core(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    cfg: DisclosureConfig,
    certified: np.ndarray | None = None,
    exact_all: bool = False,
    group: np.ndarray | None = None,
) -> AuditReport:
    """Certify (or refute) that every hidden count can move by at least the protection level.

    Independent blocks (connected components of the constraint graph, e.g. one gemeente) are
    stacked into sparse LPs of at most ``audit_batch_vars`` variables. Every LP solution is a
    feasible table, so the range of values seen per count is an inner bound of its interval:
    a few LPs that push the open counts towards their least explored side certify most counts
    at once; the rest get exact minimum and maximum LPs (one count per component per solve).
    Before any LP, bound propagation (:func:`_outer_bounds`) gives an outer bound of every
    interval: counts already narrower than the protection level there are narrow for certain
    and get no LP (their ``lo``/``hi`` stay the inner bounds seen).

    ``certified`` (length ``2 * n_cells``: n_persons then n_elevated) marks counts already
    shown to be wide enough under a smaller hidden set; hiding more only widens intervals
    (the feasible set grows), so they are skipped. ``exact_all`` computes the exact minimum
    and maximum of every hidden count (slower; for reports and tests).
    """
    t0 = time.perf_counter()
    a_eq, b_eq, a_ub, upper, truth, var_cell, var_meas = _lp_system(lines, n, e, h_n, h_e)
    n_var = truth.size
    lo, hi = truth.copy(), truth.copy()
    exact = np.zeros(n_var, bool)
    done = (
        np.zeros(n_var, bool) if certified is None else certified[var_meas.astype(np.int64) * lines.n_cells + var_cell]
    )
    var_group = None if group is None else np.atleast_2d(np.asarray(group, dtype=np.int64))[:, var_cell]
    p = cfg.protection_level - _TOL
    n_lp = 0
    # narrow for certain (outer bounds already too close): no LP can widen them, so none is spent
    hopeless = np.zeros(n_var, bool)
    if n_var and not exact_all:
        out_lo, out_hi = _outer_bounds(a_eq, b_eq, a_ub, upper)
        hopeless = (out_hi - out_lo < p) & ~done
    if n_var:
        a_all = sp.vstack([a_eq, a_ub]).tocsr()
        row_lo = np.concatenate([b_eq, np.full(a_ub.shape[0], -np.inf)])
        row_hi = np.concatenate([b_eq, np.zeros(a_ub.shape[0])])
        comp = _components(a_all, n_var)
        comp[np.isin(comp, np.unique(comp[~done & ~hopeless]), invert=True)] = -1  # nothing open: skip
        comp_ids, comp_size = np.unique(comp[comp >= 0], return_counts=True)
        batch_of_comp = np.zeros(comp_ids.size, np.int64)
        acc, nb = 0, 0
        for i, s in enumerate(comp_size):
            if acc and acc + s > cfg.audit_batch_vars:
                nb += 1
                acc = 0
            batch_of_comp[i] = nb
            acc += s
        var_batch = np.full(n_var, -1)
        live = comp >= 0
        var_batch[live] = batch_of_comp[np.searchsorted(comp_ids, comp[live])]
        order = np.argsort(var_batch, kind="stable")
        order = order[var_batch[order] >= 0]
        bounds = np.searchsorted(var_batch[order], np.arange(nb + 2))
        a_csc = a_all.tocsc()
        for bi in range(nb + 1 if comp_ids.size else 0):
            vs = order[bounds[bi] : bounds[bi + 1]]
            sub = a_csc[:, vs]
            rows = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
            block = _Block(sub[rows].tocsc(), row_lo[rows], row_hi[rows], upper[vs])
            sub_comp = comp[vs]
            x0 = truth[vs]

            def open_(vs: np.ndarray = vs) -> np.ndarray:
                return ((hi[vs] - lo[vs] < p) | exact_all) & ~exact[vs] & ~done[vs] & ~hopeless[vs]

            def update(x: np.ndarray, vs: np.ndarray = vs) -> None:
                lo[vs] = np.minimum(lo[vs], x)
                hi[vs] = np.maximum(hi[vs], x)

            prev_width = hi[vs] - lo[vs]
            flip = np.zeros(vs.size, bool)
            n_open_before = np.inf
            for r in range(0 if exact_all else 10 * cfg.audit_rounds):
                u = open_()
                n_open = int(u.sum())
                # at least audit_rounds rounds; more while each still certifies >= 5% of the rest
                if n_open == 0 or (r >= cfg.audit_rounds and n_open > 0.95 * n_open_before):
                    break
                n_open_before = n_open
                # Extend each open count's seen range by what it still lacks, capped there so
                # that the LP spreads the slack over many counts instead of moving a few far:
                # maximise the sum of capped extensions (towards the side seen least, flipped
                # for counts that did not move last time).
                need = p + 0.01 - (hi[vs] - lo[vs])
                up = ((hi[vs] - x0) <= (x0 - lo[vs])) ^ flip
                cap_lo = np.where(u & ~up, np.maximum(lo[vs] - need, 0.0), block.lower)
                cap_hi = np.where(u & up, np.minimum(hi[vs] + need, block.upper), block.upper)
                update(block.solve(np.where(u, np.where(up, -1.0, 1.0), 0.0), cap_lo, cap_hi))
                width = hi[vs] - lo[vs]
                flip = u & (width <= prev_width + _TOL) & ~flip
                prev_width = width
            if open_().any():  # restore the bounds for the LPs below (none when nothing is open)
                block.solve(np.zeros(vs.size), block.lower, block.upper)
            # Then one open count per (block, neighbourhood) at a time: counts in different
            # wijken rarely compete for the same slack, so most reach their width together;
            # a count that does not gets its own exact LPs below.
            for level_group in var_group if var_group is not None and not exact_all else ():
                sub_group = level_group[vs]
                tried = np.zeros(vs.size, bool)
                while True:
                    u = open_() & ~tried
                    if not u.any():
                        break
                    cand = np.flatnonzero(u)
                    _, first = np.unique(
                        sub_comp[cand].astype(np.int64) * (sub_group.max() + 1) + sub_group[cand], return_index=True
                    )
                    pick = cand[first]
                    c = np.zeros(vs.size)
                    c[pick] = 1.0
                    update(block.solve(c))
                    update(block.solve(-c))
                    tried[pick] = True
            while True:
                u = open_()
                if not u.any():
                    break
                cand = np.flatnonzero(u)
                _, first = np.unique(sub_comp[cand], return_index=True)
                pick = cand[first]
                c = np.zeros(vs.size)
                c[pick] = 1.0
                xmin = block.solve(c)
                xmax = block.solve(-c)
                update(xmin)
                update(xmax)
                gv = vs[pick]
                lo[gv], hi[gv] = xmin[pick], xmax[pick]
                exact[gv] = True
            n_lp += block.n_solved
    narrow_mask = (hi - lo < p) & ~done
    lo[done], hi[done] = -np.inf, np.inf  # certified earlier; bounds not recomputed
    narrow = pd.DataFrame(
        {
            "cell": var_cell[narrow_mask],
            "measure": np.where(var_meas[narrow_mask] == 0, "n_persons", "n_elevated"),
            "lo": lo[narrow_mask],
            "hi": hi[narrow_mask],
        }
    )
    return AuditReport(
        n_suppressed=n_var,
        n_lp=n_lp,
        seconds=time.perf_counter() - t0,
        narrow=narrow,
        cell=var_cell,
        measure=np.where(var_meas == 0, "n_persons", "n_elevated"),
        lo=lo,
        hi=hi,
        exact=exact,
    )


def _repair(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    narrow: pd.DataFrame,
    cfg: DisclosureConfig,
) -> bool:
    """Hide one more count near each too-narrow one.

    Search outwards from the narrow cell over the additive lines (its own lines first, then
    the lines of the hidden cells they reach) for the nearest published count of the same
    measure, and hide the smallest one that can give way by the protection level. For
    ``n_elevated`` the published ``n_persons`` of the cells reached also qualify (they cap it).
    """
    added = False
    by_cell = np.argsort(lines.cell, kind="stable")  # memberships grouped by cell
    cell_start = np.searchsorted(lines.cell[by_cell], np.arange(lines.n_cells + 1))
    line_start = np.searchsorted(lines.line, np.arange(lines.n_lines + 1))  # lines are sorted
    for measure, x, hidden in (("n_persons", n, h_n), ("n_elevated", e, h_e)):
        for cell in np.unique(narrow.loc[narrow["measure"] == measure, "cell"].to_numpy()):
            seen_cells, seen_lines, frontier = {int(cell)}, set[int](), [int(cell)]
            while frontier:
                mem = np.concatenate([by_cell[cell_start[c] : cell_start[c + 1]] for c in frontier])
                new_lines = set(lines.line[mem].tolist()) - seen_lines
                seen_lines |= new_lines
                if not new_lines:
                    break
                reached = np.unique(
                    np.concatenate([lines.cell[line_start[ln] : line_start[ln + 1]] for ln in new_lines])
                )
                pool = [(hidden, x, reached[~hidden[reached]])]
                if measure == "n_elevated":
                    pool.append((h_n, n, reached[~h_n[reached]]))
                pool = [(h, v, c) for h, v, c in pool if c.size]
                if pool:
                    h, v, cand = pool[0]
                    thin = v[cand] < cfg.protection_level
                    pick = cand[np.lexsort((cand, v[cand], thin))[0]]
                    h[pick] = True
                    added = True
                    break
                frontier = [int(c) for c in reached if c not in seen_cells]
                seen_cells.update(frontier)
    h_e |= h_n
    return added


_BIG = 1e12  # "no upper bound" in the tree-flow capacities (exact in float64 sums)


@dataclasses.dataclass(frozen=True)
class _Tree:
    """The area hierarchy x age-band layout of one period's table (for :func:`_tree_flow`).

    ``area``/``col``: per cell, its area index and column (bands ``0..J-1``, the band total
    ``J``); ``parent``: per area, the parent area (-1 at the top); ``depth``: per area.
    """

    area: np.ndarray
    col: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    n_bands: int
    has_total: bool

    @property
    def cell_depth(self) -> np.ndarray:
        return self.depth[self.area]


def _tree(cells: pd.DataFrame, total_band: str | None) -> _Tree:
    code = cells["area_code"].astype(str).to_numpy()
    area, uniq = pd.factorize(code)
    areas = pd.Index(uniq)
    first = pd.Series(np.arange(len(code))).groupby(area).first().to_numpy()
    pcode = cells["parent_code"].astype(object).to_numpy()[first]
    parent = areas.get_indexer(pd.Index([str(p) if pd.notna(p) else "\x00none" for p in pcode]))
    depth_cell = _depth(cells)
    depth = depth_cell[first]
    band = cells["age_band"].astype(str).to_numpy()
    has_total = total_band is not None and bool((band == total_band).any())
    parts = sorted(set(band) - ({total_band} if has_total else set()))
    col = pd.Index([*parts, total_band] if has_total else parts).get_indexer(band)
    return _Tree(area=area, col=col, parent=parent, depth=depth, n_bands=len(parts), has_total=has_total)


def _moves(up0: np.ndarray, dn0: np.ndarray, c_t: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row changes that keep an area's bands adding up to its total, as (rise, fall) capacities
    per (area, band): the band moves with the band total, or against another band (shift)."""
    out = [(np.minimum(up0[:, :c_t], up0[:, [c_t]]), np.minimum(dn0[:, :c_t], dn0[:, [c_t]]))]
    for r in range(1, c_t):
        other_up, other_dn = np.roll(up0[:, :c_t], -r, axis=1), np.roll(dn0[:, :c_t], -r, axis=1)
        out.append((np.minimum(up0[:, :c_t], other_dn), np.minimum(dn0[:, :c_t], other_up)))
    return out


def _flows(
    tree: _Tree,
    pu: np.ndarray,
    pdn: np.ndarray,
    shifts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For per-(area, band) capacities of one kind of row change to rise (``pu``) and fall
    (``pdn``): what an area's subtree can absorb when it rises / falls (``big_u``, ``big_d``)
    and what the rest of the table can give back (``back_up``: when it rises, ``back_dn``).

    ``shifts`` (for band-with-total changes only): per other band ``j' = j + r``, the shift
    changes' ``(pu, pdn, big_u, big_d, back_up, back_dn)``. Then a rise of band ``j`` with the
    total may also be taken back by siblings falling in band ``j'`` with the total, the parent
    shifting from ``j'`` to ``j`` (its total unchanged) and being compensated as a shift."""
    a_n = pu.shape[0]
    by_depth = [np.flatnonzero(tree.depth == d) for d in range(int(tree.depth.max(initial=0)) + 1)]
    has_kids = np.zeros(a_n, bool)
    has_kids[tree.parent[tree.parent >= 0]] = True
    # bottom-up: an area's change is split over its children (each at most its own capacity)
    big_u, big_d = pu.copy(), pdn.copy()
    sum_u, sum_d = np.zeros_like(pu), np.zeros_like(pdn)
    for level in reversed(by_depth):
        inner = level[has_kids[level]]
        big_u[inner] = np.minimum(pu[inner], sum_u[inner])
        big_d[inner] = np.minimum(pdn[inner], sum_d[inner])
        below = level[tree.parent[level] >= 0]
        np.add.at(sum_u, tree.parent[below], big_u[below])
        np.add.at(sum_d, tree.parent[below], big_d[below])
    # top-down: a rise is taken back from the siblings (falling) or passed on to the parent
    back_up, back_dn = np.full_like(pu, _BIG), np.full_like(pdn, _BIG)
    for level in by_depth:
        below = level[tree.parent[level] >= 0]
        p = tree.parent[below]
        back_up[below] = (sum_d[p] - big_d[below]) + np.minimum(pu[p], back_up[p])
        back_dn[below] = (sum_u[p] - big_u[below]) + np.minimum(pdn[p], back_dn[p])
        for r, (s_pu, s_pdn, _, _, s_bu, s_bd) in enumerate(shifts, start=1):
            sib_d = np.roll(sum_d[p] - big_d[below], -r, axis=1)  # siblings falling in band j'
            sib_u = np.roll(sum_u[p] - big_u[below], -r, axis=1)
            conv_up = np.minimum(sib_d, np.minimum(s_pu[p], s_bu[p]))
            conv_dn = np.minimum(sib_u, np.minimum(s_pdn[p], s_bd[p]))
            back_up[below] = np.maximum(back_up[below], conv_up)
            back_dn[below] = np.maximum(back_dn[below], conv_dn)
    return big_u, big_d, back_up, back_dn


def _tree_flow(
    tree: _Tree, n: np.ndarray, e: np.ndarray, h_n: np.ndarray, h_e: np.ndarray, cfg: DisclosureConfig
) -> np.ndarray:
    """Counts (``2 * n_cells``: n_persons then n_elevated) certified wide enough without an LP.

    The certificate is an explicit feasible change of the table. To raise the count of area
    ``x`` in band ``j`` by ``d``, raise its band-total count by ``d`` too, or lower another band
    ``j'`` by ``d`` (either way the row stays additive: :func:`_moves`); pass the change down to
    its sub-areas (split over any of them whose two counts can move, recursively), and take it
    back, split, from ``x``'s siblings (each changed the opposite way) or from the parent,
    which then changes too and is compensated one level up (:func:`_flows`). With
    ``n_elevated`` at its true values a hidden ``n_persons`` may fall to
    ``n_elevated`` and rise freely; with ``n_persons`` at its true values a hidden ``n_elevated``
    may fall to 0 and rise to ``n_persons``; and ``n_elevated`` may also rise together with
    ``n_persons`` in ``x``'s subtree, each taken back in its own table (the two sets of changes
    meet only on ``x``'s ancestors, where ``n_persons`` never falls). Every such change is a
    feasible table, so the range it moves a count over lies inside the count's LP interval: a
    count whose rise plus fall reaches the protection level is protected. Vectorised over the
    tree; linear in the table. Changes that combine several kinds of row change are not used (the
    certificate is an inner bound; what it misses goes to the LPs).
    """
    m = n.size
    a_n, c_t = int(tree.parent.size), tree.n_bands
    out = np.zeros(2 * m, bool)
    if c_t == 0 or not h_e.any():
        return out

    def grid(values: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        g = np.zeros((a_n, c_t + 1))
        g[tree.area, tree.col] = np.where(hidden, values, 0.0)
        if not tree.has_total:
            g[:, c_t] = _BIG
        return g

    slack = (n - e).astype(np.float64)
    lim = cfg.protection_level - _TOL

    def reach(up0: np.ndarray, dn0: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        (pu, pdn), *rest = _moves(up0, dn0, c_t)
        shifts = [(s_pu, s_pdn, *_flows(tree, s_pu, s_pdn)) for s_pu, s_pdn in rest]
        return [_flows(tree, pu, pdn, shifts), *(f[2:] for f in shifts)]

    n_moves = reach(grid(np.full(m, _BIG), h_n), grid(slack, h_n))
    e_moves = reach(grid(slack, h_e), grid(e.astype(np.float64), h_e))
    # n_elevated rising (with its band total) together with n_persons in x's subtree, n_persons
    # with its band total or against another band; each taken back in its own table
    both_all = grid(np.full(m, _BIG), h_n & h_e)
    both = both_all[:, :c_t]
    e_tot = grid(slack, h_e)[:, [c_t]]
    n_dn = grid(slack, h_n)[:, :c_t]
    with_n = [
        np.minimum(both, both_all[:, [c_t]]),
        *(np.minimum(np.minimum(both, e_tot), np.roll(n_dn, -r, axis=1)) for r in range(1, c_t)),
    ]
    joint = np.zeros_like(both)
    for pu, (_, _, bu_n, _) in zip(with_n, n_moves, strict=True):
        u_j = _flows(tree, pu, np.zeros_like(pu))[0]
        joint = np.maximum(joint, np.minimum(np.minimum(u_j, e_moves[0][2]), bu_n))
    # a leaf's n_elevated rising by d (with its band total) beyond its slack s = n - e: its
    # n_persons rises by only d - s, by any change of n_persons the tree allows (own table)
    leaf = np.ones(a_n, bool)
    leaf[tree.parent[tree.parent >= 0]] = False
    # (with n_persons' band total the total's slack grows as much; against another band of n
    # the total's slack e_tot caps it; s <= the total's slack, so the band's slack binds)
    n_rises = [np.minimum(u, bu) for u, _, bu, _ in n_moves]
    e_hid = grid(np.ones(m), h_e) > 0
    s_band = grid(slack, h_e)[:, :c_t]
    e_back = np.where(e_hid[:, [c_t]], e_moves[0][2], 0.0)  # the e change, the leaf's slack not a cap
    leaf_rise = np.minimum(e_back, n_rises[0] + s_band)
    if len(n_rises) > 1:
        leaf_rise = np.maximum(
            leaf_rise, np.minimum(np.minimum(e_back, e_tot), np.maximum.reduce(n_rises[1:]) + s_band)
        )
    joint = np.maximum(joint, np.where(leaf[:, None] & e_hid[:, :c_t], leaf_rise, 0.0))
    for k, (hidden, moves) in enumerate(((h_n, n_moves), (h_e, e_moves))):
        rises = [np.minimum(u, bu) for u, _, bu, _ in moves]
        falls = [np.minimum(d, bd) for _, d, _, bd in moves]
        if k == 1:
            rises[0] = np.maximum(rises[0], joint)
        # a band count: the best change of each kind; a band total: only with-total changes
        width = np.maximum.reduce(rises) + np.maximum.reduce(falls)
        total = rises[0].max(axis=1) + falls[0].max(axis=1)
        width = np.concatenate([width, total[:, None]], axis=1)
        out[k * m : (k + 1) * m] = hidden & (width[tree.area, tree.col] >= lim)
    return out


def _depth(cells: pd.DataFrame) -> np.ndarray:
    """Depth of each row's area in the hierarchy (0 = no parent, e.g. national; 1 = gemeente...)."""
    code = cells["area_code"].astype(str)
    parent = cells["parent_code"].astype(object).where(cells["parent_code"].notna(), None)
    parent_of = pd.Series(parent.to_numpy(), index=code.to_numpy())
    parent_of = parent_of[~parent_of.index.duplicated()]
    depth = np.zeros(len(cells), np.int64)
    cur = parent.reset_index(drop=True)
    for _ in range(len(parent_of) + 1):
        up = cur.notna().to_numpy()
        if not up.any():
            return depth
        depth[up] += 1
        cur = cur.map(parent_of)
    raise InputError("area_table", "parent_code", None, "the areas' parent codes form a cycle")


def _mark(certified: np.ndarray, report: AuditReport, m: int, cfg: DisclosureConfig) -> None:
    """Flag (in place) the counts that ``report`` shows to be wide enough."""
    ok = report.hi - report.lo >= cfg.protection_level - _TOL
    certified[np.where(report.measure == "n_persons", 0, m) + report.cell] |= ok


def _certify(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    cfg: DisclosureConfig,
    certified: np.ndarray,
    tree: _Tree | None,
    split: tuple[np.ndarray, np.ndarray] | None,
    group: np.ndarray | None,
) -> tuple[AuditReport, dict[str, int]]:
    """Certify every hidden count: by tree flows, subtree by subtree, then on the whole table.

    First the LP-free certificate of :func:`_tree_flow` (explicit feasible changes along the
    hierarchy). Then system ``s`` (from the deepest level up to 2) is the table with every cell above depth
    ``s`` fixed at its true value (treated as published). It falls apart into one small LP per
    subtree below an area of depth ``s - 1`` (a wijk with its buurten, a gemeente with its wijken
    and buurten), and every feasible solution of it, with the rest at its true values, is a
    feasible table: so a count wide enough there is wide enough in the whole table (an inner
    bound). A count is tried first in the smallest system that contains it (its parent's
    subtree), then in the next larger one; what no subtree system certifies (a count that can
    only move against other gemeenten, or one in a single-child chain below a hidden parent) goes
    to the whole-table audit (:func:`_audit_arrays`: groups of gemeenten, then the exact LP),
    whose verdict is exact. Before that, bound propagation over the whole table
    (:func:`_outer_narrow`, no LP) finds counts that are narrow for certain; if there are any,
    they are returned as the narrow ones at once (to be repaired) and the whole-table LP waits
    for a round without them: proving a count narrow with LPs over the whole table costs far
    more than the repair it leads to. ``certified`` (``2 * n_cells``: n_persons then
    n_elevated) is updated in place. Returns the report (its ``narrow`` rows are truly narrow;
    it is empty only when every hidden count is certified) and the number of counts each
    system certified.
    """
    m = lines.n_cells
    hidden = np.concatenate([h_n, h_e])
    by_system: dict[str, int] = {}
    n_lp, seconds = 0, 0.0
    if tree is not None:
        t0 = time.perf_counter()
        before = int(certified.sum())
        certified |= _tree_flow(tree, n, e, h_n, h_e, cfg)
        by_system["tree_flow"] = int(certified.sum()) - before
        seconds += time.perf_counter() - t0
        depth = tree.cell_depth
        depth2 = np.concatenate([depth, depth])
        for s in range(int(depth.max(initial=0)), 1, -1):
            if not (hidden & ~certified & (depth2 >= s)).any():
                continue
            fixed = depth < s
            before = int(certified.sum())
            rep = _audit_core(lines, n, e, h_n & ~fixed, h_e & ~fixed, cfg, certified | (depth2 < s), group=group)
            _mark(certified, rep, m, cfg)
            by_system[f"subtrees_below_depth_{s - 1}"] = int(certified.sum()) - before
            n_lp, seconds = n_lp + rep.n_lp, seconds + rep.seconds
    if (hidden & ~certified).any():
        t0 = time.perf_counter()
        sure = _outer_narrow(lines, n, e, h_n, h_e, cfg, certified, None if split is None else split[0])
        seconds += time.perf_counter() - t0
        if sure is not None:
            return dataclasses.replace(sure, n_lp=n_lp + sure.n_lp, seconds=seconds), by_system
    before = int(certified.sum())
    rep = _audit_arrays(lines, n, e, h_n, h_e, cfg, certified, split=split, group=group)
    _mark(certified, rep, m, cfg)
    by_system["whole_table"] = int(certified.sum()) - before
    return dataclasses.replace(rep, n_lp=rep.n_lp + n_lp, seconds=rep.seconds + seconds), by_system


def _outer_narrow(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    cfg: DisclosureConfig,
    certified: np.ndarray,
    top: np.ndarray | None = None,
) -> AuditReport | None:
    """Hidden counts not yet certified that are narrow for certain, found without an LP over the
    whole table: first by bound propagation over the whole table (:func:`_outer_bounds`), then,
    if that finds none and ``top`` (the cells without a parent) is given, by exact LPs over the
    table with every line through a top cell dropped. Dropping constraints only widens
    intervals (a relaxation), so a count narrow there is narrow for real; and without the
    national lines the table falls apart into one small LP per gemeente. None when neither finds
    a narrow count."""
    a_eq, b_eq, a_ub, upper, truth, var_cell, var_meas = _lp_system(lines, n, e, h_n, h_e)
    lo, hi = _outer_bounds(a_eq, b_eq, a_ub, upper)
    sure = (hi - lo < cfg.protection_level - _TOL) & ~certified[var_meas.astype(np.int64) * lines.n_cells + var_cell]
    if not sure.any():
        if top is None or not top.any():
            return None
        through_top = np.bincount(lines.line, weights=top[lines.cell], minlength=lines.n_lines) > 0
        keep = ~through_top[lines.line]
        relaxed = dataclasses.replace(lines, line=lines.line[keep], cell=lines.cell[keep], parent=lines.parent[keep])
        local = _audit_core(relaxed, n, e, h_n, h_e, cfg, certified)
        return None if local.narrow.empty else local
    measure = np.where(var_meas[sure] == 0, "n_persons", "n_elevated")
    empty = np.zeros(0)
    return AuditReport(
        n_suppressed=truth.size,
        n_lp=0,
        seconds=0.0,
        narrow=pd.DataFrame({"cell": var_cell[sure], "measure": measure, "lo": lo[sure], "hi": hi[sure]}),
        cell=empty.astype(np.int64),
        measure=empty.astype(str),
        lo=empty,
        hi=empty,
        exact=empty.astype(bool),
    )


def _protect(
    lines: _Lines,
    n: np.ndarray,
    e: np.ndarray,
    cfg: DisclosureConfig,
    where: pd.DataFrame,
    split: tuple[np.ndarray, np.ndarray] | None = None,
    group: np.ndarray | None = None,
    tree: _Tree | None = None,
    unpublished_e: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, AuditReport | None]:
    """Primary + secondary suppression + certification/repair for one additive table.

    ``unpublished_e`` marks cells whose second count (``n_elevated``) is not published at all:
    it is left out (hidden) and not certified, but stays a free variable of every certificate
    and audit (so the other counts' intervals account for it)."""
    h_n = _fails(n, cfg)
    h_e = h_n | _fails(e, cfg)
    if cfg.complement_rule:
        h_e |= _fails(n - e, cfg)
    prim_n, prim_e = h_n.copy(), h_e.copy()
    free = np.zeros(n.size, bool) if unpublished_e is None else np.asarray(unpublished_e, bool)
    h_e |= free
    _secondary(lines, n, e, h_n, h_e, cfg)
    report = None
    if cfg.audit:
        m = lines.n_cells
        certified = np.zeros(2 * m, bool)
        certified[m:] = free  # not published: needs no certificate
        reports = []
        by_system: dict[str, int] = {}
        for _ in range(cfg.max_repair_rounds + 1):
            report, stage_counts = _certify(lines, n, e, h_n, h_e, cfg, certified, tree, split, group)
            reports.append(report)
            for k, v in stage_counts.items():
                by_system[k] = by_system.get(k, 0) + v
            if report.passed:
                break
            if not _repair(lines, n, e, h_n, h_e, report.narrow, cfg):
                break
            _secondary(lines, n, e, h_n, h_e, cfg)
        assert report is not None
        report = dataclasses.replace(
            report,
            n_suppressed=int(h_n.sum() + (h_e & ~free).sum()),
            n_lp=sum(r.n_lp for r in reports),
            seconds=sum(r.seconds for r in reports),
            certified_by=types.MappingProxyType(by_system),
        )
        if report.passed and cfg.exact_audit:
            skip = np.concatenate([np.zeros(m, bool), free])
            check = _audit_arrays(lines, n, e, h_n, h_e, cfg, skip, split=split, group=group)
            if not check.passed:  # pragma: no cover - would be a bug in the certificates
                raise DisclosureError(
                    f"disclosure audit failed: the exact whole-table audit finds {len(check.narrow)} suppressed "
                    "count(s) that the subtree certificates passed (a bug; nothing is published)"
                )
            report = dataclasses.replace(report, n_lp=report.n_lp + check.n_lp, seconds=report.seconds + check.seconds)
        if not report.passed:
            first = report.narrow.iloc[0]
            loc = where.iloc[int(first["cell"])]
            raise DisclosureError(
                f"disclosure audit failed: {len(report.narrow)} suppressed count(s) can be narrowed to an interval "
                f"below the protection level {cfg.protection_level:g} (first: {first['measure']} of "
                f"{', '.join(f'{k}={v}' for k, v in loc.items())})"
            )
    return h_n, h_e, prim_n, prim_e, report


# --------------------------------------------------------------------------------------------
# Public: the area table
# --------------------------------------------------------------------------------------------

_AREA_REQUIRED = (
    "period",
    "area_level",
    "area_code",
    "area_name",
    "parent_code",
    "age_band",
    "n_persons",
    "n_elevated",
    "risk_mean",
    "risk_lo",
    "risk_hi",
)


def _split_and_group(cells: pd.DataFrame) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Audit helpers. ``split``: the top cells (no parent, e.g. national) and, for the areas
    directly below them (gemeenten), an index in code order (-1 elsewhere), for
    :func:`_split_system`. ``group``: counts are grouped by wijk, then by gemeente (a buurt by
    its ancestors, others by themselves)."""
    level = cells["area_level"].astype(str).to_numpy()
    code = cells["area_code"].astype(str).to_numpy()
    parent_code = cells["parent_code"].astype(object).to_numpy()
    parent_of = dict(zip(code, parent_code, strict=True))
    top = pd.isna(parent_code)
    top_codes = set(code[top])
    below = np.array([p in top_codes for p in parent_code], dtype=bool) & ~top
    gemeente_index = np.full(len(cells), -1, np.int64)
    gemeente_index[below] = pd.factorize(code[below], sort=True)[0]
    parent = np.array([parent_of.get(c) or c for c in code], dtype=object)
    grand = np.array([parent_of.get(p) or p for p in parent], dtype=object)
    wijk = np.where(level == "buurt", parent, code)
    gemeente = np.where(level == "buurt", grand, np.where(level == "wijk", parent, code))
    group = np.vstack([pd.factorize(wijk)[0], pd.factorize(gemeente)[0]]).astype(np.int64)
    return (top, gemeente_index), group


def _counts(frame: pd.DataFrame, col: str, table: str) -> np.ndarray:
    v = pd.to_numeric(frame[col], errors="coerce")
    bad = v.isna() | (v < 0) | (v != np.floor(v))
    if bad.any():
        raise InputError(table, col, int(bad.sum()), "counts must be whole numbers >= 0")
    return v.to_numpy(dtype=np.int64)


def _unpublished_second(cells: pd.DataFrame, second_levels: Sequence[str] | None) -> np.ndarray:
    """Cells whose second count (``n_elevated``) is not published: their level is not in
    ``second_levels`` (None: published at every level)."""
    if second_levels is None:
        return np.zeros(len(cells), bool)
    return ~cells["area_level"].astype(str).isin(list(second_levels)).to_numpy()


def _protect_period(
    cells: pd.DataFrame,
    n: np.ndarray,
    e: np.ndarray,
    lines: _Lines,
    cfg: DisclosureConfig,
    total_band: str | None,
    second_levels: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, AuditReport | None]:
    """:func:`_protect` for one period's validated area table (a unit of parallel work)."""
    split, group = _split_and_group(cells)
    tree = _tree(cells, total_band)
    where = cells[["period", "area_code", "age_band"]]
    return _protect(lines, n, e, cfg, where, split, group, tree, _unpublished_second(cells, second_levels))


def _protect_task(
    period: tuple[pd.DataFrame, np.ndarray, np.ndarray, _Lines],
    *,
    cfg: DisclosureConfig,
    total_band: str | None,
    second_levels: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, AuditReport | None]:
    """One period as a task for an :class:`~aanwas.common.compute.Executor` (picklable)."""
    return _protect_period(*period, cfg, total_band, second_levels)


#: Bump when the suppression or certification changes what a period's result is: stored
#: results of earlier code are then never reused.
_RESULT_FORMAT = "aanwas-disclosure-period/2"
#: With ``audit_jobs`` 0, tables with fewer cells to certify (all periods) stay in this process.
#: Measured on 2 cores (docs/dev/performance.md): the bench's scale-0.1 buurt table (512,680
#: cells, 7 periods) took 47 CPU s / 57 s wall for the whole export stage with the audit in this
#: process, against 69 CPU s / 139 s wall with two worker processes (their start, the tables
#: sent to them, and slower certificates in them: not explained); at 0.02 (104,608 cells) 21
#: against 28 CPU s. Tables of this size (every buurt, 7 periods, at any scale) stay here.
_CELLS_PER_AUDIT_PROCESS = 1_000_000
_RESULT_KEY_SKIP = ("audit_jobs",)  # settings that do not change a period's result


def _period_key(
    cells: pd.DataFrame,
    n: np.ndarray,
    e: np.ndarray,
    cfg: DisclosureConfig,
    total_band: str | None,
    second_levels: Sequence[str] | None = None,
) -> str:
    """sha256 of everything a period's suppression pattern depends on: the table's structure
    (area, parent, band per row, in order), its two counts, the rules, the band total and the
    levels at which the second count is published."""
    h = hashlib.sha256()
    rules = {k: v for k, v in as_plain(cfg).items() if k not in _RESULT_KEY_SKIP}
    levels = None if second_levels is None else sorted(second_levels)
    h.update(repr((_RESULT_FORMAT, sorted(rules.items()), total_band, levels, len(cells))).encode())
    for col in ("period", "area_code", "parent_code", "age_band"):
        h.update(pd.util.hash_pandas_object(cells[col].astype(str), index=False).to_numpy().tobytes())
    h.update(np.ascontiguousarray(n, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(e, dtype=np.int64).tobytes())
    return h.hexdigest()


def _result_bytes(result: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, AuditReport | None]) -> bytes:
    """A passed period's result as stored: the four hidden masks and the audit's counts (no
    values, no bounds)."""
    h_n, h_e, prim_n, prim_e, report = result
    meta: dict[str, object] = {"report": None}
    if report is not None:
        meta["report"] = {
            "n_suppressed": int(report.n_suppressed),
            "n_lp": int(report.n_lp),
            "certified_by": dict(report.certified_by),
        }
    buf = io.BytesIO()
    np.savez_compressed(
        buf, h_n=h_n, h_e=h_e, prim_n=prim_n, prim_e=prim_e, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8)
    )
    return buf.getvalue()


def _result_from_bytes(
    data: bytes, lines: _Lines, n: np.ndarray, e: np.ndarray, cfg: DisclosureConfig, unpublished_e: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, AuditReport | None] | None:
    """A stored period result, or None when it does not fit this table: the masks are checked
    again against the primary and secondary rules (cheap); the certificates are not redone."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            h_n, h_e, prim_n, prim_e = (z[k].astype(bool) for k in ("h_n", "h_e", "prim_n", "prim_e"))
            meta = json.loads(z["meta"].tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    m = lines.n_cells
    if any(a.shape != (m,) for a in (h_n, h_e, prim_n, prim_e)):
        return None
    want_n = _fails(n, cfg)
    want_e = want_n | _fails(e, cfg) | (_fails(n - e, cfg) if cfg.complement_rule else False)
    if not (np.array_equal(prim_n, want_n) and np.array_equal(prim_e, want_e)):
        return None
    if (prim_n & ~h_n).any() or (prim_e & ~h_e).any() or (h_n & ~h_e).any() or (unpublished_e & ~h_e).any():
        return None
    c_n, c_e = h_n.copy(), h_e.copy()
    _secondary(lines, n, e, c_n, c_e, cfg)
    if not (np.array_equal(c_n, h_n) and np.array_equal(c_e, h_e)):
        return None
    report = None
    if meta.get("report") is not None:
        r = meta["report"]
        empty = np.zeros(0)
        report = AuditReport(
            n_suppressed=int(r["n_suppressed"]),
            n_lp=int(r["n_lp"]),
            seconds=0.0,
            narrow=pd.DataFrame({"cell": [], "measure": [], "lo": [], "hi": []}),
            cell=empty.astype(np.int64),
            measure=empty.astype(str),
            lo=empty,
            hi=empty,
            exact=empty.astype(bool),
            certified_by=types.MappingProxyType(dict(r["certified_by"])),
        )
    return h_n, h_e, prim_n, prim_e, report


def _protect_periods(
    periods: Sequence[tuple[pd.DataFrame, np.ndarray, np.ndarray, _Lines]],
    cfg: DisclosureConfig,
    progress: Callable[[str, float], None] | None = None,
    total_band: str | None = None,
    store: MutableMapping[str, bytes] | None = None,
    executor: Executor | None = None,
    second_levels: Sequence[str] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, AuditReport | None]]:
    """Protect each period's table; periods are independent, so they run as tasks of
    ``executor`` (default: ``audit_jobs`` local worker processes; a Dask cluster when the
    stage passes one). With ``audit_jobs`` 0 (automatic) and local processes, a table of fewer
    than ``_CELLS_PER_AUDIT_PROCESS`` cells to certify is certified in this process: starting
    the workers would cost more CPU than it saves time. The result does not depend on where or
    how many: each period's suppression and audit are deterministic functions of its table.

    ``store`` (key -> bytes, e.g. a directory in the work directory) keeps each passed period's
    result under a hash of its table and rules (:func:`_period_key`); a period whose table and
    rules are unchanged (a refresh that adds a period) reuses it instead of being certified
    again, after its masks pass the primary and secondary rules again. The result is the one
    a fresh run gives, so the export stays byte-identical."""
    keys = [_period_key(c, n, e, cfg, total_band, second_levels) for c, n, e, _ in periods] if store is not None else []
    out: list[Any] = [None] * len(periods)
    todo = []
    for i, (cells, n, e, lines) in enumerate(periods):
        data = store.get(keys[i]) if store is not None else None
        free = _unpublished_second(cells, second_levels)
        out[i] = None if data is None else _result_from_bytes(data, lines, n, e, cfg, free)
        if out[i] is None:
            todo.append(i)
    local = executor is None or isinstance(executor, LocalExecutor)
    small = sum(len(periods[i][0]) for i in todo) < _CELLS_PER_AUDIT_PROCESS
    if not cfg.audit or (local and cfg.audit_jobs == 0 and small):  # cheaper than starting processes
        executor = LocalExecutor(1)
    elif executor is None:
        executor = LocalExecutor(cfg.audit_jobs)
    task = functools.partial(_protect_task, cfg=cfg, total_band=total_band, second_levels=second_levels)
    results = executor.map(task, [periods[i] for i in todo])
    for done, (i, result) in enumerate(zip(todo, results, strict=True), start=1):
        out[i] = result
        if store is not None:
            store[keys[i]] = _result_bytes(result)
        if progress is not None:
            progress(str(periods[i][0]["period"].iloc[0]), (len(periods) - len(todo) + done) / len(periods))
    if progress is not None and not todo and periods:
        progress(str(periods[-1][0]["period"].iloc[0]), 1.0)
    return out


def _thin_levels(area_table: pd.DataFrame, cfg: DisclosureConfig) -> dict[str, float]:
    """Levels to leave out (``cfg.min_level_published``), deepest first, with the share of
    their ``n_persons`` cells (all periods) that pass the primary rule. Only levels below the
    first one under the top (below gemeente) and only from the bottom up, so that every
    remaining row keeps its parent and the table stays additive."""
    out: dict[str, float] = {}
    if cfg.min_level_published <= 0 or area_table.empty:
        return out
    depth = pd.Series(_depth(area_table), index=area_table.index)
    level = area_table["area_level"].astype(str)
    by_depth = depth.groupby(level).max().sort_values(ascending=False)
    passes = pd.Series(~_fails(_counts(area_table, "n_persons", "area_table"), cfg), index=area_table.index)
    for lv, d in by_depth.items():
        if d < 2:
            break
        share = float(passes[level == lv].mean())
        if share >= cfg.min_level_published:
            break
        out[str(lv)] = share
    return out


def suppress_area_table(
    area_table: pd.DataFrame,
    cfg: DisclosureConfig,
    *,
    total_band: str | None = "all",
    progress: Callable[[str, float], None] | None = None,
    store: MutableMapping[str, bytes] | None = None,
    executor: Executor | None = None,
) -> DisclosureChecked:
    """Apply primary and secondary suppression, audit, and round the area risk table.

    Parameters
    ----------
    area_table : DataFrame
        Output of :func:`monitoring.publishing.aggregate.aggregate_areas` (confidential): at least
        ``period, area_level, area_code, area_name, parent_code, age_band, n_persons,
        n_elevated, risk_mean, risk_lo, risk_hi``. Counts must add up along ``parent_code`` and
        (if present) over bands into ``total_band``.
    cfg : DisclosureConfig
        Thresholds, rounding, protection level.
    total_band : str or None
        Age-band label of the band total (``AggregateConfig.band_total_label``); None if the
        table has none.
    progress : callable, optional
        ``progress(stage, fraction_done)``, called as each period's audit finishes.
    store : mutable mapping of str to bytes, optional
        Where each period's passed result is kept and found again (in the work directory:
        the masks are those of the published table, the key a hash of the confidential one).
        A period whose counts, areas and rules are unchanged reuses its result instead of
        being certified again; the output is the same as without ``store``.
    executor : Executor, optional
        Runs the periods' suppression and audit as tasks (:mod:`aanwas.common.compute`, e.g. on
        a Dask cluster); default ``cfg.audit_jobs`` local processes. The output does not
        depend on it.

    Returns
    -------
    DisclosureChecked
        Kind ``area_risk``: columns :data:`AREA_EXPORT_COLUMNS` plus ``elevated``; without the
        rows of a level hidden nearly everywhere (``cfg.min_level_published``; the report's
        ``levels_not_published`` names it and why). Suppressed
        values are missing; ``status`` is ``suppressed`` when the row's ``n_persons`` is (then
        every value of the row is missing) and ``published`` otherwise, in which case
        ``n_elevated``/``share_elevated`` may still be missing on their own; they are missing
        in every row of a level not in ``cfg.elevated_levels`` (not published there). The
        rows of ``total_band`` carry counts only: their risk columns and ``elevated`` are
        missing (the bands' risks are chances of different outcomes).

    Raises
    ------
    InputError
        Missing columns, negative or fractional counts, counts that do not add up.
    DisclosureError
        The LP audit still finds a too-narrow interval after ``max_repair_rounds`` repairs.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"period": "2024", "area_level": ["wijk", "buurt", "buurt"],
    ...     "area_code": ["W", "B1", "B2"], "area_name": ["W", "B1", "B2"], "parent_code": [None, "W", "W"],
    ...     "age_band": "8-12", "n_persons": [60, 50, 10], "n_elevated": [20, 17, 3],
    ...     "risk_mean": 0.1, "risk_lo": 0.05, "risk_hi": 0.2})
    >>> cfg = DisclosureConfig(elevated_levels=("land", "wijk", "buurt"))
    >>> out = suppress_area_table(t, cfg, total_band=None).table
    >>> out["status"].tolist()
    ['published', 'published', 'published']
    >>> out["n_elevated"].isna().tolist()  # B2 fails (3 < 10), B1 goes with it
    [False, True, True]
    >>> cfg = DisclosureConfig(elevated_levels=("land", "wijk"))
    >>> suppress_area_table(t, cfg, total_band=None).table["n_elevated"].isna().tolist()  # buurt: not published
    [False, True, True]
    """
    return _suppress_table(area_table, cfg, total_band, progress, store, executor, cfg.elevated_levels)


def _suppress_table(
    area_table: pd.DataFrame,
    cfg: DisclosureConfig,
    total_band: str | None,
    progress: Callable[[str, float], None] | None,
    store: MutableMapping[str, bytes] | None,
    executor: Executor | None,
    second_levels: Sequence[str] | None,
) -> DisclosureChecked:
    """:func:`suppress_area_table` with the levels at which the second count is published
    (None: every level, as for the observed registrations)."""
    missing = [c for c in _AREA_REQUIRED if c not in area_table.columns]
    if missing:
        raise InputError("area_table", missing[0], None, "required column is missing")
    thin = _thin_levels(area_table, cfg)
    if thin:
        area_table = area_table[~area_table["area_level"].astype(str).isin(list(thin))]
    pieces: list[pd.DataFrame] = []
    stats: dict[str, Any] = {
        "n_cells": 0,
        "n_persons_primary": 0,
        "n_persons_secondary": 0,
        "n_elevated_primary": 0,
        "n_elevated_secondary": 0,
        "audit_lp_solved": 0,
        "audit_seconds": 0.0,
        "audit_counts": 0,
    }
    certified_by: dict[str, int] = {}
    periods = _area_periods(area_table, total_band)
    for (cells, n, e, _), (h_n, h_e, prim_n, prim_e, report) in zip(
        periods, _protect_periods(periods, cfg, progress, total_band, store, executor, second_levels), strict=True
    ):
        pieces.append(_publish_area(cells, n, e, h_n, h_e, cfg, total_band))
        _add_period_stats(stats, certified_by, len(cells), h_n, h_e, prim_n, prim_e, report)
    stats["levels_not_published"] = ", ".join(
        f"{lv} ({share:.1%} of its n_persons cells pass the primary rule)" for lv, share in thin.items()
    )
    if second_levels is not None:
        levels = pd.unique(area_table["area_level"].astype(str))
        stats["elevated_not_published_at"] = ", ".join(lv for lv in levels if lv not in second_levels)
    stats["audit"] = "passed" if cfg.audit else "skipped"
    stats["audit_certified_by"] = ", ".join(f"{k} {v}" for k, v in certified_by.items())
    if not pieces:
        raise InputError("area_table", None, 0, "no rows to publish")
    return _seal("area_risk", pd.concat(pieces, ignore_index=True), cfg, stats)


def _area_periods(
    area_table: pd.DataFrame, total_band: str | None
) -> list[tuple[pd.DataFrame, np.ndarray, np.ndarray, _Lines]]:
    """Per period (sorted): its cells, counts and hierarchy lines, after checking that the
    counts are whole, n_elevated <= n_persons and both add up along the lines."""
    periods = []
    for _, cells in area_table.groupby("period", sort=True):
        cells = cells.reset_index(drop=True)
        n = _counts(cells, "n_persons", "area_table")
        e = _counts(cells, "n_elevated", "area_table")
        if (e > n).any():
            raise InputError("area_table", "n_elevated", int((e > n).sum()), "n_elevated exceeds n_persons")
        lines = _area_lines(cells, total_band)
        _check_additive(lines, {"n_persons": n, "n_elevated": e})
        periods.append((cells, n, e, lines))
    return periods


def _add_period_stats(
    stats: dict[str, Any],
    certified_by: dict[str, int],
    n_cells: int,
    h_n: np.ndarray,
    h_e: np.ndarray,
    prim_n: np.ndarray,
    prim_e: np.ndarray,
    report: AuditReport | None,
) -> None:
    """Add one period's suppression counts (primary, and secondary on top) and audit counts."""
    stats["n_cells"] += n_cells
    stats["n_persons_primary"] += int(prim_n.sum())
    stats["n_persons_secondary"] += int((h_n & ~prim_n).sum())
    stats["n_elevated_primary"] += int(prim_e.sum())
    stats["n_elevated_secondary"] += int((h_e & ~prim_e).sum())
    if report is not None:
        stats["audit_lp_solved"] += report.n_lp
        stats["audit_seconds"] += report.seconds
        stats["audit_counts"] += report.n_suppressed
        for k, v in report.certified_by.items():
            certified_by[k] = certified_by.get(k, 0) + v


def _publish_area(
    cells: pd.DataFrame,
    n: np.ndarray,
    e: np.ndarray,
    h_n: np.ndarray,
    h_e: np.ndarray,
    cfg: DisclosureConfig,
    total_band: str | None,
) -> pd.DataFrame:
    """The published rows of one period. The band total's risk columns and ``elevated`` flag
    stay blank: the bands' risks are chances of different outcomes over different horizons,
    so their mean is no risk of anything (its counts are published: the bands add up to them)."""
    n_pub, e_pub = _round(n, cfg), _round(e, cfg)
    no_risk = h_n.copy()
    if total_band is not None:
        no_risk |= cells["age_band"].astype("str").to_numpy() == total_band
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_pub > 0, e_pub / np.maximum(n_pub, 1), np.nan)
    out = pd.DataFrame(
        {c: cells[c].astype("str") for c in ("period", "area_level", "area_code", "area_name", "age_band")}
    )
    out["n_persons"] = pd.array(np.where(h_n, 0, n_pub), dtype="Int64")
    out.loc[h_n, "n_persons"] = pd.NA
    out["n_elevated"] = pd.array(np.where(h_e, 0, e_pub), dtype="Int64")
    out.loc[h_e, "n_elevated"] = pd.NA
    out["share_elevated"] = pd.array(np.where(h_e, np.nan, share), dtype="Float64")
    for col in ("risk_mean", "risk_lo", "risk_hi"):
        v = pd.to_numeric(cells[col]).to_numpy(dtype=np.float64)
        out[col] = pd.array(np.where(no_risk, np.nan, v), dtype="Float64")
    out["status"] = pd.array(np.where(h_n, "suppressed", "published"), dtype="str")
    if "elevated" in cells.columns:
        el = pd.array(cells["elevated"].astype(bool).to_numpy(), dtype="boolean")
        el[no_risk] = pd.NA
        out["elevated"] = el
    else:
        out["elevated"] = pd.array([pd.NA] * len(cells), dtype="boolean")
    return out[[*AREA_EXPORT_COLUMNS, *_EXTRA_AREA_COLUMNS]]


def suppression_by_level(area_table: pd.DataFrame, published: DisclosureChecked) -> pd.DataFrame:
    """Information loss of a checked area table: per period, area level and measure, the
    share of cells suppressed by the primary rule, the share hidden on top of it (secondary
    suppression, audit repairs) and the share not published for another reason on top of the
    primary rule (the whole level left out, or ``n_elevated`` at a level not in
    ``elevated_levels``). Shares only, no cell values. ``area_table`` is the confidential table
    ``published`` came from.
    """
    rules = published.rules
    cfg = DisclosureConfig(
        min_cell_size=rules["min_cell_size"],
        zeros_disclosive=rules["zeros_disclosive"],
        complement_rule=rules["complement_rule"],
    )
    elevated_levels = [str(v) for v in rules.get("elevated_levels", AREA_LEVELS)]
    pub = published.table
    rows = []
    for period, cells in area_table.groupby("period", sort=True):
        cells = cells.reset_index(drop=True)
        p = pub[pub["period"].astype(str) == str(period)]
        pos = pd.Index(p["area_code"].astype(str) + "\x1f" + p["age_band"].astype(str)).get_indexer(
            cells["area_code"].astype(str) + "\x1f" + cells["age_band"].astype(str)
        )
        n = _counts(cells, "n_persons", "area_table")
        e = _counts(cells, "n_elevated", "area_table")
        prim_n = _fails(n, cfg)
        prim_e = prim_n | _fails(e, cfg) | (_fails(n - e, cfg) if cfg.complement_rule else False)
        # a row of a level that is not published at all counts as hidden
        hid_n = (pos < 0) | p["n_persons"].isna().to_numpy()[np.maximum(pos, 0)]
        hid_e = (pos < 0) | p["n_elevated"].isna().to_numpy()[np.maximum(pos, 0)]
        level = cells["area_level"].astype(str).to_numpy()
        gone_n = pos < 0
        gone_e = gone_n | ~np.isin(level, elevated_levels)
        for lv in pd.unique(level):
            at = level == lv
            for measure, prim, hid, gone in (
                ("n_persons", prim_n, hid_n, gone_n),
                ("n_elevated", prim_e, hid_e, gone_e),
            ):
                rows.append(
                    {
                        "period": str(period),
                        "area_level": str(lv),
                        "measure": measure,
                        "cells": int(at.sum()),
                        "primary": float(prim[at].mean()),
                        "secondary": float((hid & ~prim & ~gone)[at].mean()),
                        "not_published": float((gone & ~prim)[at].mean()),
                    }
                )
    return pd.DataFrame(rows)


def audit_area_table(
    area_table: pd.DataFrame,
    published: pd.DataFrame | DisclosureChecked,
    cfg: DisclosureConfig,
    *,
    total_band: str | None = "all",
    exact: bool = False,
) -> AuditReport:
    """Audit a published area table against the confidential one it came from.

    Every missing ``n_persons`` / ``n_elevated`` in ``published`` is a suppressed count
    (``n_elevated`` at a level not in ``cfg.elevated_levels`` is not published at all: a free
    variable, not audited); the LP finds the interval each could take given the published counts, non-negativity,
    ``n_elevated <= n_persons`` and additivity. Published counts are taken at their exact
    (unrounded) values, which can only narrow the intervals. With ``exact`` every interval is
    the exact LP minimum and maximum; otherwise counts shown to be wide enough keep an inner
    bound (``AuditReport.exact`` says which).

    Returns
    -------
    AuditReport
        ``passed`` is False when any interval is narrower than ``cfg.protection_level``.
    """
    pub = published.table if isinstance(published, DisclosureChecked) else published
    reports = []
    for period, cells in area_table.groupby("period", sort=True):
        cells = cells.reset_index(drop=True)
        key = cells["area_code"].astype(str) + "\x1f" + cells["age_band"].astype(str)
        p = pub[pub["period"].astype(str) == str(period)]
        pkey = p["area_code"].astype(str) + "\x1f" + p["age_band"].astype(str)
        pos = pd.Index(pkey).get_indexer(key)
        if (pos < 0).any():
            raise InputError("published", "area_code", int((pos < 0).sum()), "row of the area table missing")
        p = p.iloc[pos]
        h_n = p["n_persons"].isna().to_numpy()
        h_e = p["n_elevated"].isna().to_numpy() | h_n
        n = _counts(cells, "n_persons", "area_table")
        e = _counts(cells, "n_elevated", "area_table")
        lines = _area_lines(cells, total_band)
        split, group = _split_and_group(cells)
        skip = np.concatenate([np.zeros(len(cells), bool), _unpublished_second(cells, cfg.elevated_levels) & h_e])
        reports.append(_audit_arrays(lines, n, e, h_n, h_e, cfg, skip, exact_all=exact, split=split, group=group))
    return reports[0] if len(reports) == 1 else _merge_reports(reports)


def _merge_reports(reports: Sequence[AuditReport]) -> AuditReport:
    return AuditReport(
        n_suppressed=sum(r.n_suppressed for r in reports),
        n_lp=sum(r.n_lp for r in reports),
        seconds=sum(r.seconds for r in reports),
        narrow=pd.concat([r.narrow.assign(part=i) for i, r in enumerate(reports)], ignore_index=True),
        cell=np.concatenate([r.cell for r in reports]),
        measure=np.concatenate([r.measure for r in reports]),
        lo=np.concatenate([r.lo for r in reports]),
        hi=np.concatenate([r.hi for r in reports]),
        exact=np.concatenate([r.exact for r in reports]),
    )


# --------------------------------------------------------------------------------------------
# Public: flat tables (fairness, trends, effects)
# --------------------------------------------------------------------------------------------


def suppress_counts(
    frame: pd.DataFrame,
    cfg: DisclosureConfig,
    *,
    kind: str,
    total: str,
    parts: Sequence[str] = (),
    rates: Mapping[str, Sequence[str]] | None = None,
    magnitudes: Sequence[str] = (),
) -> DisclosureChecked:
    """Primary suppression for a table whose rows do not add up to a published total.

    For tables such as fairness audits per group or effect estimates: each row's ``total``
    count and every ``part`` (and, with the complement rule, ``total - part``) must pass the
    threshold; a failing part hides only that part (and the rates resting on it), a failing
    total hides the whole row. Counts are rounded if configured.

    Use :func:`suppress_area_table` (secondary suppression and LP audit) when rows add up to
    another published row or table: this function does not look for differencing.

    Parameters
    ----------
    frame : DataFrame
        The confidential table (one row per group).
    kind : str
        Name of the table (the export file is ``<kind>.csv``).
    total : str
        Count column of persons behind the row.
    parts : sequence of str
        Count columns that are subsets of ``total`` (e.g. positives).
    rates : mapping, optional
        Rate column -> count columns it rests on; hidden wherever one of those is.
    magnitudes : sequence of str
        Columns (means, estimates, interval ends) published only where ``total`` is.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"group": ["a", "b"], "n": [100, 8], "n_pos": [30, 2], "rate_pos": [0.3, 0.25]})
    >>> out = suppress_counts(t, DisclosureConfig(), kind="fairness", total="n", parts=["n_pos"],
    ...                       rates={"rate_pos": ["n", "n_pos"]}).table
    >>> out["n_pos"].isna().tolist(), out["status"].tolist()
    ([False, True], ['published', 'suppressed'])
    """
    rates = dict(rates or {})
    for col in (total, *parts, *rates, *magnitudes, *(c for cs in rates.values() for c in cs)):
        if col not in frame.columns:
            raise InputError(kind, col, None, "required column is missing")
    n = _counts(frame, total, kind)
    hidden = {total: _fails(n, cfg)}
    for part in parts:
        x = _counts(frame, part, kind)
        if (x > n).any():
            raise InputError(kind, part, int((x > n).sum()), f"exceeds {total}")
        h = hidden[total] | _fails(x, cfg)
        if cfg.complement_rule:
            h |= _fails(n - x, cfg)
        hidden[part] = h
    out = frame.reset_index(drop=True).copy()
    for col, h in hidden.items():
        vals = _round(_counts(frame, col, kind), cfg)
        arr = pd.array(vals, dtype="Int64")
        arr[h] = pd.NA
        out[col] = arr
    for rate, basis in rates.items():
        h = np.zeros(len(out), bool)
        for b in basis:
            h |= hidden.get(b, hidden[total])
        vals = pd.to_numeric(frame[rate]).to_numpy(dtype=np.float64)
        if cfg.rounding_base and len(basis) == 2 and all(b in hidden for b in basis):
            num, den = (out[b].to_numpy(dtype=np.float64, na_value=np.nan) for b in (basis[1], basis[0]))
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = np.where(den > 0, num / den, np.nan)
        out[rate] = pd.array(np.where(h, np.nan, vals), dtype="Float64")
    for col in magnitudes:
        v = pd.to_numeric(frame[col]).to_numpy(dtype=np.float64)
        out[col] = pd.array(np.where(hidden[total], np.nan, v), dtype="Float64")
    out["status"] = pd.array(np.where(hidden[total], "suppressed", "published"), dtype="str")
    report = {"n_rows": len(out), "n_rows_suppressed": int(hidden[total].sum()), "audit": "not applicable (no totals)"}
    return _seal(kind, out, cfg, report)


# --------------------------------------------------------------------------------------------
# Public: observed registration counts (trend series of observed rates)
# --------------------------------------------------------------------------------------------

_OBSERVED_REQUIRED = ("period", "area_level", "area_code", "age_band", "n_persons", "n_registered")


def suppress_observed_counts(
    observed: pd.DataFrame,
    parent_of: Mapping[str, str | None],
    cfg: DisclosureConfig,
    store: MutableMapping[str, bytes] | None = None,
    executor: Executor | None = None,
) -> DisclosureChecked:
    """Observed counts (persons, registered) per area, band and period, under the area rules.

    The counts add up along the hierarchy (wijk -> gemeente -> national), so a published rate
    and its ``n_persons`` reveal ``n_registered`` and differencing would reveal the suppressed
    ones: they get the same primary and secondary suppression and LP audit as the area table
    (``n_registered`` plays ``n_elevated``; its complement is the not-registered count).

    Parameters
    ----------
    observed : DataFrame
        ``period, area_level, area_code, age_band, n_persons, n_registered`` (confidential).
    parent_of : mapping
        Area code -> code of the area it lies in (None or missing for the national row).
    cfg : DisclosureConfig
        The rules.
    store : mutable mapping of str to bytes, optional
        Per-period results kept for reuse (as in :func:`suppress_area_table`).
    executor : Executor, optional
        Where the periods run (as in :func:`suppress_area_table`).

    Returns
    -------
    DisclosureChecked
        Kind ``observed_counts``: the input columns with suppressed counts missing and
        ``status`` (suppressed when ``n_persons`` is).
    """
    missing = [c for c in _OBSERVED_REQUIRED if c not in observed.columns]
    if missing:
        raise InputError("observed", missing[0], None, "required column is missing")
    codes = observed["area_code"].astype(str)
    table = pd.DataFrame(
        {
            "period": observed["period"].astype(str).to_numpy(),
            "area_level": observed["area_level"].astype(str).to_numpy(),
            "area_code": codes.to_numpy(),
            "area_name": codes.to_numpy(),
            "parent_code": codes.map(lambda c: parent_of.get(c)).astype(object).to_numpy(),
            "age_band": observed["age_band"].astype(str).to_numpy(),
            "n_persons": observed["n_persons"].to_numpy(),
            "n_elevated": observed["n_registered"].to_numpy(),
            "risk_mean": np.nan,
            "risk_lo": np.nan,
            "risk_hi": np.nan,
        }
    )
    area = _suppress_table(table, cfg, None, None, store, executor, None)
    out = area.table[["period", "area_level", "area_code", "age_band", "n_persons", "n_elevated", "status"]]
    out = out.rename(columns={"n_elevated": "n_registered"})
    return _seal("observed_counts", out, cfg, area.report)
