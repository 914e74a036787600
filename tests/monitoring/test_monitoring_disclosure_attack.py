"""Attack the published area table: no suppressed count may be recovered.

An independent attacker (written here, sharing no code with monitoring.publishing.disclosure) sees only
the published table and the public structure (which area lies in which, which bands add up to
the total). It tries subtraction along every additive line until nothing new follows, then
linear programming (scipy linprog) for the minimum and maximum of each suppressed count.
Hypothesis draws random hierarchies and counts; every published count must meet the
threshold (and its complement), and no suppressed count may be pinned down. ``n_elevated`` at a
level where it is not published at all (``DisclosureConfig.elevated_levels``) is no suppressed
count: the attacker treats it as unknown and does not target it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from monitoring.config import DisclosureConfig
from monitoring.publishing.disclosure import (
    _area_lines,
    _audit_core,
    _lp_system,
    _outer_bounds,
    _split_and_group,
    _split_system,
    audit_area_table,
    suppress_area_table,
)

BANDS = ("8-12", "13-19", "20-23")
TOTAL = "all"
CFG = DisclosureConfig()
#: n_elevated published (and protected) at every level: the certificates of both counts
CFG_ALL_LEVELS = DisclosureConfig(elevated_levels=("land", "gemeente", "wijk", "buurt"))


def targets(pub: pd.DataFrame, cfg: DisclosureConfig) -> set[tuple[str, int]]:
    """The counts an attacker must not pin down: every n_persons, and n_elevated where that
    level publishes it."""
    level = pub["area_level"].astype(str).to_numpy()
    own = np.flatnonzero(np.isin(level, list(cfg.elevated_levels)))
    return {("n_persons", i) for i in range(len(pub))} | {("n_elevated", int(i)) for i in own}


@st.composite
def area_tables(draw: st.DrawFn, max_gemeenten: int = 2) -> pd.DataFrame:
    """A confidential area table (land, gemeenten, wijken, buurten x 3 bands + total)."""
    rows = []
    n_gm = draw(st.integers(1, max_gemeenten))
    small = st.integers(0, 14)
    any_n = st.one_of(small, st.integers(0, 60))
    buurten = []
    for g in range(n_gm):
        for w in range(draw(st.integers(1, 3))):
            for b in range(draw(st.integers(1, 3))):
                counts = {}
                for band in BANDS:
                    n = draw(any_n)
                    e = draw(st.integers(0, n))
                    counts[band] = (n, e)
                buurten.append((f"GM{g}", f"WK{g}{w}", f"BU{g}{w}{b}", counts))
    frame = pd.DataFrame(
        [(gm, wk, bu, band, n, e) for gm, wk, bu, c in buurten for band, (n, e) in c.items()],
        columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"],
    )
    frame["land"] = "NL00"
    levels = [("buurt", "wijk"), ("wijk", "gemeente"), ("gemeente", "land"), ("land", None)]
    for level, parent in levels:
        agg = frame.groupby([level, "age_band"], sort=True)[["n_persons", "n_elevated"]].sum().reset_index()
        agg = pd.concat(
            [agg, agg.groupby(level, sort=True)[["n_persons", "n_elevated"]].sum().reset_index().assign(age_band=TOTAL)]
        )
        parents = frame.drop_duplicates(level).set_index(level)[parent] if parent else None
        for r in agg.itertuples(index=False):
            code = getattr(r, level)
            rows.append(
                {
                    "period": "2024",
                    "area_level": level,
                    "area_code": code,
                    "area_name": code,
                    "parent_code": parents[code] if parent else None,
                    "age_band": r.age_band,
                    "n_persons": r.n_persons,
                    "n_elevated": r.n_elevated,
                    "risk_mean": 0.1,
                    "risk_lo": 0.05,
                    "risk_hi": 0.2,
                }
            )
    return pd.DataFrame(rows)


def additive_lines(structure: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """(parent row, child rows) for hierarchy per band and bands -> total, from public structure."""
    pos = {(c, b): i for i, (c, b) in enumerate(zip(structure["area_code"], structure["age_band"], strict=True))}
    lines: dict[int, list[int]] = {}
    for i, (parent, band) in enumerate(zip(structure["parent_code"], structure["age_band"], strict=True)):
        if isinstance(parent, str):
            lines.setdefault(pos[(parent, band)], []).append(i)
    out = list(lines.items())
    for code in structure["area_code"].unique():
        out.append((pos[(code, TOTAL)], [pos[(code, b)] for b in BANDS]))
    return out


def published_values(pub: pd.DataFrame) -> dict[str, np.ndarray]:
    return {m: pub[m].to_numpy(dtype=np.float64, na_value=np.nan) for m in ("n_persons", "n_elevated")}


def subtraction_attack(pub: pd.DataFrame) -> set[tuple[str, int]]:
    """Repeatedly solve any additive line with exactly one unknown; return recovered cells."""
    vals = published_values(pub)
    known = {m: ~np.isnan(v) for m, v in vals.items()}
    start = {m: k.copy() for m, k in known.items()}
    lines = additive_lines(pub)
    changed = True
    while changed:
        changed = False
        for m, v in vals.items():
            for parent, children in lines:
                members = [parent, *children]
                unknown = [i for i in members if not known[m][i]]
                if len(unknown) != 1:
                    continue
                i = unknown[0]
                rest = sum(v[c] for c in children if c != i)
                v[i] = v[parent] - rest if i != parent else rest
                known[m][i] = True
                changed = True
        # an n_persons of 0 forces n_elevated = 0
        zero = known["n_persons"] & (vals["n_persons"] == 0) & ~known["n_elevated"]
        if zero.any():
            vals["n_elevated"][zero] = 0
            known["n_elevated"] |= zero
            changed = True
    return {(m, i) for m in vals for i in np.flatnonzero(known[m] & ~start[m])}


def lp_attack(pub: pd.DataFrame, only: set[tuple[str, int]] | None = None) -> list[tuple[str, int, float, float]]:
    """Min and max of every suppressed count (of ``only``, if given) given all published counts (dense LP)."""
    vals = published_values(pub)
    m = len(pub)
    var = {}
    for name in ("n_persons", "n_elevated"):
        for i in np.flatnonzero(np.isnan(vals[name])):
            var[(name, i)] = len(var)
    if not var:
        return []
    a_eq, b_eq = [], []
    for name in ("n_persons", "n_elevated"):
        for parent, children in additive_lines(pub):
            row = np.zeros(len(var))
            rhs = 0.0
            for i, sign in [(parent, -1.0), *[(c, 1.0) for c in children]]:
                if (name, i) in var:
                    row[var[(name, i)]] += sign
                else:
                    rhs -= sign * vals[name][i]
            if row.any():
                a_eq.append(row)
                b_eq.append(rhs)
    a_ub, b_ub = [], []
    bounds = [(0.0, None)] * len(var)
    for i in range(m):  # n_elevated <= n_persons
        e_key, n_key = ("n_elevated", i), ("n_persons", i)
        if e_key in var and n_key in var:
            row = np.zeros(len(var))
            row[var[e_key]], row[var[n_key]] = 1.0, -1.0
            a_ub.append(row)
            b_ub.append(0.0)
        elif e_key in var:
            bounds[var[e_key]] = (0.0, vals["n_persons"][i])
        elif n_key in var:
            bounds[var[n_key]] = (vals["n_elevated"][i], None)
    out = []
    for (name, i), j in var.items():
        if only is not None and (name, i) not in only:
            continue
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(var))
            c[j] = sign
            res = linprog(
                c,
                A_eq=np.array(a_eq) if a_eq else None,
                b_eq=np.array(b_eq) if a_eq else None,
                A_ub=np.array(a_ub) if a_ub else None,
                b_ub=np.array(b_ub) if a_ub else None,
                bounds=bounds,
                method="highs",
            )
            if res.status == 3:  # unbounded: cannot be pinned
                ends.append(np.inf * -sign)
                continue
            assert res.status == 0, res.message
            ends.append(res.x[j])
        out.append((name, i, ends[0], ends[1]))
    return out


def check_rules(pub: pd.DataFrame, cfg: DisclosureConfig) -> None:
    n = pub["n_persons"].to_numpy(dtype=np.float64, na_value=np.nan)
    e = pub["n_elevated"].to_numpy(dtype=np.float64, na_value=np.nan)
    t = cfg.min_cell_size
    assert (n[~np.isnan(n)] >= t).all()
    assert (e[~np.isnan(e)] >= t).all()
    both = ~np.isnan(n) & ~np.isnan(e)
    assert (n[both] - e[both] >= t).all()  # complement
    assert np.isnan(e[np.isnan(n)]).all()
    share = pub["share_elevated"].isna().to_numpy()
    assert (share == np.isnan(e)).all()
    total = (pub["age_band"] == TOTAL).to_numpy()  # the band total: counts only, never a risk
    for col in ("risk_mean", "risk_lo", "risk_hi"):
        assert (pub[col].isna().to_numpy() == (np.isnan(n) | total)).all()
    assert ((pub["status"] == "suppressed").to_numpy() == np.isnan(n)).all()


@pytest.mark.parametrize("cfg", [CFG, CFG_ALL_LEVELS], ids=["elevated-land-gemeente", "elevated-every-level"])
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(area=area_tables())
def test_published_counts_meet_threshold_and_nothing_is_recoverable(area: pd.DataFrame, cfg: DisclosureConfig) -> None:
    checked = suppress_area_table(area, cfg, total_band=TOTAL)
    pub = checked.table
    # the attacker gets the public structure (which area lies in which), not the counts
    pub = pub.merge(area[["area_code", "age_band", "parent_code"]], on=["area_code", "age_band"], validate="1:1")
    check_rules(pub, cfg)
    level = pub["area_level"].astype(str)
    assert pub.loc[~level.isin(list(cfg.elevated_levels)), "n_elevated"].isna().all()  # not published there
    aim = targets(pub, cfg)
    assert subtraction_attack(pub) & aim == set()
    for name, i, lo, hi in lp_attack(pub, aim):
        assert hi - lo >= cfg.protection_level - 1e-6, (name, pub.iloc[i]["area_code"], pub.iloc[i]["age_band"])
        truth = area[name].iloc[i]
        assert lo - 1e-6 <= truth <= hi + 1e-6  # the attacker's interval holds the true value


@settings(max_examples=12)
@given(area_tables(), st.sampled_from([2.0, 10.0]))
def test_other_protection_levels_hold(area: pd.DataFrame, level: float) -> None:
    cfg = DisclosureConfig(protection_level=level, elevated_levels=CFG_ALL_LEVELS.elevated_levels)
    pub = suppress_area_table(area, cfg, total_band=TOTAL).table
    pub = pub.merge(area[["area_code", "age_band", "parent_code"]], on=["area_code", "age_band"], validate="1:1")
    check_rules(pub, cfg)
    widths = [hi - lo for _, _, lo, hi in lp_attack(pub)]
    assert all(w >= level - 1e-6 for w in widths)


@settings(max_examples=10)
@given(area_tables())
def test_rounded_counts_meet_threshold(area: pd.DataFrame) -> None:
    cfg = DisclosureConfig(rounding_base=5)
    pub = suppress_area_table(area, cfg, total_band=TOTAL).table
    for col in ("n_persons", "n_elevated"):
        v = pub[col].dropna().to_numpy(dtype=np.int64)
        assert (v % 5 == 0).all() and (v >= cfg.min_cell_size).all()
    both = pub["n_persons"].notna() & pub["n_elevated"].notna()
    share = pub.loc[both, "n_elevated"].astype(float) / pub.loc[both, "n_persons"].astype(float)
    assert np.allclose(pub.loc[both, "share_elevated"].astype(float), share)


def test_attacker_is_not_blind() -> None:
    """The attack recovers a cell that is hidden alone (so its silence above means something)."""
    rows = pd.DataFrame(
        {
            "area_code": ["NL00"] * 4 + ["GM0"] * 4 + ["GM1"] * 4,
            "parent_code": [None] * 4 + ["NL00"] * 8,
            "age_band": [*BANDS, TOTAL] * 3,
            "n_persons": pd.array([30, 30, 30, 90, 15, 15, 15, 45, 15, 15, 15, 45], dtype="Int64"),
            "n_elevated": pd.array([10, 10, 10, 30, 5, 5, 5, 15, 5, 5, 5, 15], dtype="Int64"),
        }
    )
    rows.loc[5, "n_persons"] = pd.NA  # GM0 13-19 hidden alone
    rows.loc[5, "n_elevated"] = pd.NA
    assert ("n_persons", 5) in subtraction_attack(rows)
    lo_hi = {(n, i): (lo, hi) for n, i, lo, hi in lp_attack(rows)}
    assert lo_hi[("n_persons", 5)] == pytest.approx((15.0, 15.0))


def _random_publication(table: pd.DataFrame, seed: int, share: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pub = table.copy()
    hide_n = rng.random(len(pub)) < share
    hide_e = hide_n | (rng.random(len(pub)) < share)
    pub["n_persons"] = pub["n_persons"].astype("Float64").mask(hide_n)
    pub["n_elevated"] = pub["n_elevated"].astype("Float64").mask(hide_e)
    return pub


def _hidden_arrays(table: pd.DataFrame, pub: pd.DataFrame):  # noqa: ANN202
    """Cells, true counts and hidden masks (n_elevated hidden with n_persons) of a publication."""
    cells = table.reset_index(drop=True)
    h_n = pub["n_persons"].isna().to_numpy()
    h_e = pub["n_elevated"].isna().to_numpy() | h_n
    return cells, cells["n_persons"].to_numpy(np.int64), cells["n_elevated"].to_numpy(np.int64), h_n, h_e


@settings(max_examples=10, deadline=None)
@given(table=area_tables(), seed=st.integers(0, 2**16), share=st.floats(0.1, 0.9))
def test_fast_audit_agrees_with_the_exact_lp(table: pd.DataFrame, seed: int, share: float):
    # the fast path (stages on group copies, random-direction rounds, grouped solves) must give
    # the same verdict as exact min/max LPs for every count, and only inner bounds of the intervals
    pub = _random_publication(table, seed, share)
    fast = audit_area_table(table, pub, CFG_ALL_LEVELS, total_band=TOTAL)
    exact = audit_area_table(table, pub, CFG_ALL_LEVELS, total_band=TOTAL, exact=True)
    assert fast.passed == exact.passed
    assert exact.exact.all()
    key = lambda r: list(zip(r.cell.tolist(), r.measure.tolist(), strict=True))  # noqa: E731
    assert key(fast) == key(exact)
    seen = np.isfinite(fast.lo)  # counts certified in a stage keep no bounds (+-inf)
    assert (fast.hi[~seen] == np.inf).all()
    assert (fast.lo[seen] >= exact.lo[seen] - 1e-6).all() and (fast.hi[seen] <= exact.hi[seen] + 1e-6).all()
    ex = fast.exact
    assert np.allclose(fast.lo[ex], exact.lo[ex]) and np.allclose(fast.hi[ex], exact.hi[ex])


@settings(max_examples=15, deadline=None)
@given(
    table=area_tables(max_gemeenten=5),
    seed=st.integers(0, 2**16),
    share=st.floats(0.1, 0.9),
    k=st.integers(1, 3),
)
def test_group_copies_only_narrow_the_intervals(table: pd.DataFrame, seed: int, share: float, k: int):
    # soundness of the staged audit: in the copy of a group of k gemeenten (the rest of the
    # table fixed at its true values) every count's exact interval lies inside its real one, and
    # contains the truth; so a count wide enough in a copy is wide enough for real
    pub = _random_publication(table, seed, share)
    cells, n, e, h_n, h_e = _hidden_arrays(table, pub)
    real = audit_area_table(table, pub, CFG_ALL_LEVELS, total_band=TOTAL, exact=True)
    real_iv = {(c, m): (lo, hi) for c, m, lo, hi in zip(real.cell, real.measure, real.lo, real.hi, strict=True)}
    split, _group = _split_and_group(cells)
    system = _split_system(_area_lines(cells, TOTAL), n, e, h_n, h_e, *split, k)
    assert system is not None
    s_lines, s_n, s_e, s_hn, s_he, origin = system
    copy = _audit_core(s_lines, s_n, s_e, s_hn, s_he, CFG_ALL_LEVELS, exact_all=True)
    assert copy.exact.all()
    truth = {"n_persons": n, "n_elevated": e}
    for c, m, lo, hi in zip(origin[copy.cell], copy.measure, copy.lo, copy.hi, strict=True):
        r_lo, r_hi = real_iv[(int(c), str(m))]
        assert r_lo - 1e-6 <= lo <= truth[m][c] + 1e-6 and truth[m][c] - 1e-6 <= hi <= r_hi + 1e-6
    # every hidden count is audited somewhere: national ones in the final pass only
    audited = {(int(c), str(m)) for c, m in zip(origin[copy.cell], copy.measure, strict=True)}
    top = split[0]
    assert {key for key in real_iv if not top[key[0]]} <= audited


@settings(max_examples=10, deadline=None)
@given(
    table=area_tables(max_gemeenten=5),
    seed=st.integers(0, 2**16),
    share=st.floats(0.1, 0.9),
)
def test_staged_audit_gives_the_exact_verdict(table: pd.DataFrame, seed: int, share: float):
    pub = _random_publication(table, seed, share)
    staged = audit_area_table(
        table,
        pub,
        DisclosureConfig(audit_group_sizes=(1, 2), elevated_levels=CFG_ALL_LEVELS.elevated_levels),
        total_band=TOTAL,
    )
    exact = audit_area_table(table, pub, CFG_ALL_LEVELS, total_band=TOTAL, exact=True)
    assert staged.passed == exact.passed
    narrow = lambda r: set(zip(r.narrow["cell"].tolist(), r.narrow["measure"].tolist(), strict=True))  # noqa: E731
    assert narrow(staged) == narrow(exact)


def test_outer_bounds_by_hand() -> None:
    # x + y = 4, y + z = 3 (z hidden n), e <= z with e hidden: by hand x in [1, 4], y, z in [0, 3],
    # e in [0, 3]; one round gives y <= 3, the next x >= 1, then nothing moves
    a_eq = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]]))
    a_ub = sp.csr_matrix(np.array([[0.0, 0.0, -1.0, 1.0]]))  # e (col 3) - n (col 2) <= 0
    lo, hi = _outer_bounds(a_eq, np.array([4.0, 3.0]), a_ub, np.full(4, 100.0))
    assert lo.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert hi.tolist() == [4.0, 3.0, 3.0, 3.0]


@settings(max_examples=15, deadline=None)
@given(table=area_tables(max_gemeenten=3), seed=st.integers(0, 2**16), share=st.floats(0.1, 0.9))
def test_outer_bounds_contain_the_exact_intervals(table: pd.DataFrame, seed: int, share: float):
    # bound propagation skips the LPs of counts it shows narrow: it must never cut into the
    # real interval, or the audit would call a safe count narrow (and, worse, the staged audit
    # would skip a count an LP could still certify)
    pub = _random_publication(table, seed, share)
    cells, n, e, h_n, h_e = _hidden_arrays(table, pub)
    lines = _area_lines(cells, TOTAL)
    a_eq, b_eq, a_ub, upper, truth, var_cell, var_meas = _lp_system(lines, n, e, h_n, h_e)
    lo, hi = _outer_bounds(a_eq, b_eq, a_ub, upper)
    exact = _audit_core(lines, n, e, h_n, h_e, CFG_ALL_LEVELS, exact_all=True)
    assert exact.cell.tolist() == var_cell.tolist()
    assert (lo <= exact.lo + 1e-6).all() and (hi >= exact.hi - 1e-6).all()
    assert (lo <= truth).all() and (truth <= hi).all()
