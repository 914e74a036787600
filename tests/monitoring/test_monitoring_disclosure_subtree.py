"""Subtree certification (docs/dev/disclosure.md) against the exact whole-table LP, and thresholds.

- Every count a subtree system certifies is wide enough in the exact whole-table LP (inner
  bounds), and the final verdict is the exact one, on random hierarchies with single-child
  chains and many small and zero counts.
- What ``suppress_area_table`` publishes passes the exact LP audit and the independent
  attacker of test_monitoring_disclosure_attack.py, on a written export, at every finest level.
- Exactly 9 is hidden and exactly 10 published (min_cell_size 10), for counts and complements,
  in every suppression entry point, with and without rounding.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.config import DisclosureConfig, MonitoringConfig
from monitoring.publishing.disclosure import (
    _area_lines,
    _audit_core,
    _certify,
    _split_and_group,
    _tree,
    _tree_flow,
    audit_area_table,
    suppress_area_table,
    suppress_counts,
    suppress_observed_counts,
)
from monitoring.publishing.export import write_export


def _attack_module():  # noqa: ANN202
    name = "disclosure_attack_helpers"
    if name not in sys.modules:
        path = Path(__file__).with_name("test_monitoring_disclosure_attack.py")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


atk = _attack_module()
BANDS, TOTAL = atk.BANDS, atk.TOTAL
LEVELS = ("land", "gemeente", "wijk", "buurt")
# every level, both counts published at every level: these tests are about the certificates
CFG = DisclosureConfig(min_level_published=0.0, elevated_levels=LEVELS)
# the default publication: n_elevated at land and gemeente only
CFG_DEFAULT_LEVELS = DisclosureConfig(min_level_published=0.0)


@st.composite
def tree_tables(draw: st.DrawFn, max_children: int = 3, finest: str = "buurt") -> pd.DataFrame:
    """A random national -> gemeente -> wijk -> buurt tree x 3 bands + total, counts mostly
    small (zeros included); fan-out 1 (single-child chains) is as likely as any other."""
    small = st.one_of(st.integers(0, 4), st.integers(0, 12), st.integers(0, 60))
    leaves = []
    for g in range(draw(st.integers(1, max_children))):
        for w in range(draw(st.integers(1, max_children))):
            for b in range(draw(st.integers(1, max_children + 1))):
                for band in BANDS:
                    n = draw(small)
                    leaves.append((f"G{g}", f"W{g}{w}", f"B{g}{w}{b}", band, n, draw(st.integers(0, n))))
    frame = pd.DataFrame(leaves, columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"])
    frame["land"] = "NL"
    keep = LEVELS[: LEVELS.index(finest) + 1]
    rows = []
    for depth, level in enumerate(keep):
        parent = LEVELS[depth - 1] if depth else None
        agg = frame.groupby([level, "age_band"], sort=True)[["n_persons", "n_elevated"]].sum().reset_index()
        tot = agg.groupby(level, sort=True)[["n_persons", "n_elevated"]].sum().reset_index().assign(age_band=TOTAL)
        agg = pd.concat([agg, tot], ignore_index=True)
        parents = frame.drop_duplicates(level).set_index(level)[parent] if parent else None
        agg["parent_code"] = agg[level].map(parents) if parent else None
        rows.append(agg.rename(columns={level: "area_code"}).assign(area_level=level))
    out = pd.concat(rows, ignore_index=True)
    return out.assign(period="2024", area_name=out["area_code"], risk_mean=0.1, risk_lo=0.05, risk_hi=0.2)


def _arrays(table: pd.DataFrame, hide_n: np.ndarray, hide_e: np.ndarray):  # noqa: ANN202
    cells = table.reset_index(drop=True)
    n, e = (cells[c].to_numpy(np.int64) for c in ("n_persons", "n_elevated"))
    return cells, n, e, hide_n.copy(), (hide_e | hide_n).copy()


@pytest.mark.parametrize("free_below", [None, 2], ids=["every-count-audited", "elevated-free-below-gemeente"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tree_tables(), seed=st.integers(0, 2**16), share=st.floats(0.1, 0.8))
def test_subtree_certificates_are_inner_bounds_and_the_verdict_is_exact(
    table: pd.DataFrame, seed: int, share: float, free_below: int | None
) -> None:
    # any hidden pattern: a count certified in a subtree system (the rest of the table at its
    # true values) must be wide enough in the exact LP over the whole table; a count reported
    # narrow must be narrow there; and the report is empty exactly when the exact LP finds no
    # narrow count. With ``free_below``, n_elevated from that depth down is not published: a
    # free variable everywhere, pre-marked as needing no certificate.
    rng = np.random.default_rng(seed)
    hide_n = rng.random(len(table)) < share
    hide_e = rng.random(len(table)) < share
    cells, n, e, h_n, h_e = _arrays(table, hide_n, hide_e)
    tree = _tree(cells, TOTAL)
    m = len(cells)
    free = np.zeros(m, bool) if free_below is None else tree.cell_depth >= free_below
    h_e |= free
    lines = _area_lines(cells, TOTAL)
    split, group = _split_and_group(cells)
    certified = np.zeros(2 * m, bool)
    certified[m:] = free
    report, by_system = _certify(lines, n, e, h_n, h_e, CFG, certified, tree, split, group)
    exact = _audit_core(lines, n, e, h_n, h_e, CFG, exact_all=True)
    wide = exact.hi - exact.lo >= CFG.protection_level - 1e-6
    key = np.where(exact.measure == "n_persons", 0, m) + exact.cell
    audited = ~np.concatenate([np.zeros(m, bool), free])[key]
    assert not (certified[key] & ~wide & audited).any(), "a certified count is narrow in the exact LP"
    narrow = set(zip(report.narrow["cell"].tolist(), report.narrow["measure"].tolist(), strict=True))
    truly = set(zip(exact.cell[~wide & audited].tolist(), exact.measure[~wide & audited].tolist(), strict=True))
    assert narrow <= truly, "a count reported narrow is wide in the exact LP"
    assert report.passed == (not truly)
    if report.passed:
        assert certified[key][audited].all()
    assert sum(by_system.values()) == int(certified.sum()) - int(free.sum())


@st.composite
def sparse_tables(draw: st.DrawFn, max_children: int = 2) -> pd.DataFrame:
    """Thin populations: most buurt x band cells hold 0-3 young people, elevated ones are rare
    but a few cells hold many (where a proof must find its compensation)."""
    leaves = []
    for g in range(draw(st.integers(1, max_children))):
        for w in range(draw(st.integers(1, max_children))):
            for b in range(draw(st.integers(1, max_children + 1))):
                for band in BANDS:
                    n = draw(st.one_of(st.integers(0, 3), st.integers(0, 3), st.integers(5, 40)))
                    e = draw(st.one_of(st.just(0), st.just(0), st.integers(0, n)))
                    leaves.append((f"G{g}", f"W{g}{w}", f"B{g}{w}{b}", band, n, e))
    frame = pd.DataFrame(leaves, columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"])
    return tree_tables_from_leaves(frame)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=sparse_tables(), seed=st.integers(0, 2**16), share=st.floats(0.5, 0.95))
def test_tree_flow_is_an_inner_bound_on_sparse_tables(table: pd.DataFrame, seed: int, share: float) -> None:
    # the LP-free certificate alone (incl. n_elevated rising with n_persons in a leaf) against
    # the exact whole-table LP, on thin tables where most counts are hidden and near zero
    rng = np.random.default_rng(seed)
    cells, n, e, h_n, h_e = _arrays(table, rng.random(len(table)) < share, rng.random(len(table)) < share)
    ok = _tree_flow(_tree(cells, TOTAL), n, e, h_n, h_e, CFG)
    exact = _audit_core(_area_lines(cells, TOTAL), n, e, h_n, h_e, CFG, exact_all=True)
    wide = exact.hi - exact.lo >= CFG.protection_level - 1e-6
    key = np.where(exact.measure == "n_persons", 0, len(cells)) + exact.cell
    assert not (ok[key] & ~wide).any(), "a count certified by the tree flow is narrow in the exact LP"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=sparse_tables())
def test_a_level_left_out_is_protected_by_its_published_parents(table: pd.DataFrame) -> None:
    # a thin level is left out (min_level_published): its counts, now known to no one, must
    # still be wide in the exact LP over the whole confidential table given what is published
    cfg = DisclosureConfig(min_level_published=0.5)
    out = suppress_area_table(table, cfg, total_band=TOTAL)
    pub = out.table
    left_out = out.report["levels_not_published"]
    assert ("buurt" in left_out) == (not (pub["area_level"] == "buurt").any())
    if not left_out:
        return
    assert "buurt (" in left_out and "pass the primary rule" in left_out
    # an only child is its parent (the same young people): it shows what the parent shows, and
    # along a chain of only children (buurt -> wijk -> gemeente) what the nearest shown one shows
    full = pub
    for level in LEVELS:
        gone = table[(table["area_level"] == level) & ~table["area_level"].isin(pub["area_level"].unique())]
        if gone.empty:
            continue
        blank = gone[["period", "area_level", "area_code", "parent_code", "age_band"]].assign(
            n_persons=pd.NA, n_elevated=pd.NA
        )
        only = gone.groupby("parent_code")["area_code"].transform("nunique").to_numpy() == 1
        known = full.set_index(["area_code", "age_band"])[["n_persons", "n_elevated"]]
        key = pd.MultiIndex.from_arrays([gone["parent_code"], gone["age_band"]])
        for col in ("n_persons", "n_elevated"):
            blank.loc[only, col] = known[col].reindex(key).to_numpy()[only]
        full = pd.concat([full, blank.drop(columns="parent_code")], ignore_index=True)
    assert audit_area_table(table, full, cfg, total_band=TOTAL, exact=True).passed


def test_tree_flow_by_hand() -> None:
    # one band and its total; land L (published) -> gemeenten G1, G2 -> one wijk each -> buurten.
    # Everything below L hidden. Raising B11's band count by d: B11 rises (unbounded for
    # n_persons), W1 and G1 rise with it (single children), G2 falls: its capacity is what its
    # buurten can give, n - e summed: (6 - 1) + (4 - 0) = 9. Falling: B11 gives 7 - 2 = 5 itself.
    leaves = [("G1", "W1", "B11", 7, 2), ("G2", "W2", "B21", 6, 1), ("G2", "W2", "B22", 4, 0)]
    frame = pd.DataFrame(
        [(g, w, b, "8-12", n, e) for g, w, b, n, e in leaves],
        columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"],
    )
    table = tree_tables_from_leaves(frame).reset_index(drop=True)
    n, e = (table[c].to_numpy(np.int64) for c in ("n_persons", "n_elevated"))
    h = (table["area_level"] != "land").to_numpy()
    tree = _tree(table, TOTAL)
    m = len(table)
    code = table["area_code"] + "|" + table["age_band"]
    pos = dict(zip(code, range(m), strict=True))
    for level, certified in ((4.0, True), (9.0 + 5.0, True), (9.0 + 5.0 + 0.5, False)):
        ok = _tree_flow(tree, n, e, h, h, DisclosureConfig(protection_level=level))
        assert ok[pos["B11|8-12"]] == certified, level
    # n_elevated of B11 (n at its true value): rises to 7 at most (5 up), and falls by the 2 it
    # holds; 5 + 2 = 7 (what G2 can give back: e 1 + 0 = 1 limits the rise to 1, so 1 + 2 = 3)
    ok = _tree_flow(tree, n, e, h, h, DisclosureConfig(protection_level=3.0))
    assert ok[m + pos["B11|8-12"]]
    ok = _tree_flow(tree, n, e, h, h, DisclosureConfig(protection_level=3.5))
    assert not ok[m + pos["B11|8-12"]]


def test_subtree_systems_do_the_work_on_a_deep_table() -> None:
    # the certificates are not vacuous: on a table with enough in every wijk the buurt counts
    # are certified by the tree flow or inside their wijk's subtree, none by the whole table
    rows = []
    for w in range(2):
        for b, n in enumerate((4, 30, 25)):
            for band in BANDS:
                rows.append(("G0", f"W{w}", f"B{w}{b}", band, n, n // 3))
    frame = pd.DataFrame(rows, columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"])
    table = tree_tables_from_leaves(frame)
    out = suppress_area_table(table, CFG, total_band=TOTAL)
    by = dict(item.rsplit(" ", 1) for item in out.report["audit_certified_by"].split(", "))
    assert int(by["tree_flow"]) + int(by.get("subtrees_below_depth_2", 0)) > 0
    assert int(by["whole_table"]) == 0
    assert audit_area_table(table, out, CFG, total_band=TOTAL, exact=True).passed


def tree_tables_from_leaves(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(land="NL")
    rows = []
    for depth, level in enumerate(LEVELS):
        parent = LEVELS[depth - 1] if depth else None
        agg = frame.groupby([level, "age_band"], sort=True)[["n_persons", "n_elevated"]].sum().reset_index()
        tot = agg.groupby(level, sort=True)[["n_persons", "n_elevated"]].sum().reset_index().assign(age_band=TOTAL)
        agg = pd.concat([agg, tot], ignore_index=True)
        parents = frame.drop_duplicates(level).set_index(level)[parent] if parent else None
        agg["parent_code"] = agg[level].map(parents) if parent else None
        rows.append(agg.rename(columns={level: "area_code"}).assign(area_level=level))
    out = pd.concat(rows, ignore_index=True)
    return out.assign(period="2024", area_name=out["area_code"], risk_mean=0.1, risk_lo=0.05, risk_hi=0.2)


def _read_back(area: pd.DataFrame, path: Path) -> pd.DataFrame:
    pub = pd.read_csv(path / "area_risk.csv", dtype={"period": str, "area_code": str, "age_band": str})
    for col in ("n_persons", "n_elevated"):
        pub[col] = pub[col].astype("Float64")
    return pub.merge(area[["area_code", "age_band", "parent_code"]], on=["area_code", "age_band"], validate="1:1")


@pytest.mark.parametrize("cfg", [CFG_DEFAULT_LEVELS, CFG], ids=["elevated-land-gemeente", "elevated-every-level"])
@pytest.mark.parametrize("finest", ["gemeente", "wijk", "buurt"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_written_export_at_every_level_resists_subtraction_and_lp(
    finest: str, cfg: DisclosureConfig, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    area = data.draw(tree_tables(finest=finest))
    checked = suppress_area_table(area, cfg, total_band=TOTAL)
    root = tmp_path_factory.mktemp("export")
    out = write_export(root, "2024", checked, MonitoringConfig(), model_version="m/1", data_fingerprint="f")
    pub = _read_back(area, out)
    assert len(pub) == len(area)
    atk.check_rules(pub, cfg)
    aim = atk.targets(pub, cfg)
    assert atk.subtraction_attack(pub) & aim == set()
    for name, i, lo, hi in atk.lp_attack(pub, aim):
        assert hi - lo >= cfg.protection_level - 1e-6, (name, pub.iloc[i]["area_code"], pub.iloc[i]["age_band"])
    # the module's own exact whole-table audit (the output checkers' option) agrees
    assert audit_area_table(area, checked, cfg, total_band=TOTAL, exact=True).passed


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(table=tree_tables(max_children=5))
def test_larger_random_trees_pass_the_exact_audit(table: pd.DataFrame) -> None:
    checked = suppress_area_table(table, CFG, total_band=TOTAL)
    assert audit_area_table(table, checked, CFG, total_band=TOTAL, exact=True).passed


def test_exact_audit_setting_runs_the_whole_table_check() -> None:
    rows = [("G0", f"W{w}", f"B{w}{b}", band, n, 0) for w in range(2) for b, n in enumerate((3, 40)) for band in BANDS]
    table = tree_tables_from_leaves(
        pd.DataFrame(rows, columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"])
    )
    plain = suppress_area_table(table, CFG, total_band=TOTAL)
    checked = suppress_area_table(table, DisclosureConfig(exact_audit=True), total_band=TOTAL)
    pd.testing.assert_frame_equal(plain.table, checked.table)
    assert checked.report["audit_lp_solved"] > plain.report["audit_lp_solved"]
    assert checked.rules["exact_audit"] is True


# --------------------------------------------------------------------------------------------
# 9 hidden, 10 published: every entry point, counts and complements, with and without rounding
# --------------------------------------------------------------------------------------------

ROUNDING = [0, 5]


def _one_cell(n: int, e: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": "2024",
            "area_level": "gemeente",
            "area_code": ["G"],
            "area_name": ["G"],
            "parent_code": [None],
            "age_band": "8-12",
            "n_persons": [n],
            "n_elevated": [e],
            "risk_mean": 0.1,
            "risk_lo": 0.05,
            "risk_hi": 0.2,
        }
    )


def _area(n: int, e: int, rounding: int) -> tuple[bool, bool]:
    t = suppress_area_table(_one_cell(n, e), DisclosureConfig(rounding_base=rounding), total_band=None).table
    return bool(t["n_persons"].isna().iloc[0]), bool(t["n_elevated"].isna().iloc[0])


def _flat(n: int, e: int, rounding: int) -> tuple[bool, bool]:
    frame = pd.DataFrame({"group": ["a"], "n": [n], "n_pos": [e]})
    t = suppress_counts(frame, DisclosureConfig(rounding_base=rounding), kind="t", total="n", parts=["n_pos"]).table
    return bool(t["n"].isna().iloc[0]), bool(t["n_pos"].isna().iloc[0])


def _observed(n: int, e: int, rounding: int) -> tuple[bool, bool]:
    obs = pd.DataFrame(
        {"period": "2024", "area_level": "gemeente", "area_code": ["G"], "age_band": "8-12"}
        | {"n_persons": [n], "n_registered": [e]}
    )
    t = suppress_observed_counts(obs, {"G": None}, DisclosureConfig(rounding_base=rounding)).table
    return bool(t["n_persons"].isna().iloc[0]), bool(t["n_registered"].isna().iloc[0])


ENTRY_POINTS = {"suppress_area_table": _area, "suppress_counts": _flat, "suppress_observed_counts": _observed}


@pytest.mark.parametrize("rounding", ROUNDING)
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_nine_is_hidden_ten_is_published(entry: str, rounding: int) -> None:
    hide = ENTRY_POINTS[entry]
    # count of persons: 9 hidden (with everything resting on it), 10 published
    assert hide(9, 0, rounding)[0] is True
    assert hide(9, 0, rounding)[1] is True
    assert hide(10, 0, rounding)[0] is False
    # the part (elevated / registered): 9 hidden, 10 published (complement 30 - 10 = 20 fine)
    assert hide(30, 9, rounding) == (False, True)
    assert hide(30, 10, rounding) == (False, False)
    # its complement: 30 - 21 = 9 hidden, 30 - 20 = 10 published
    assert hide(30, 21, rounding) == (False, True)
    assert hide(30, 20, rounding) == (False, False)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_published_values_at_the_threshold_are_the_rounded_true_ones(entry: str) -> None:
    # 12 rounds to 10 and is published; 9 would round to 10 too and must stay hidden
    if entry == "suppress_counts":
        t = suppress_counts(
            pd.DataFrame({"group": ["a", "b"], "n": [12, 9], "n_pos": [0, 0]}),
            DisclosureConfig(rounding_base=5),
            kind="t",
            total="n",
        ).table
        assert t["n"].tolist()[0] == 10 and pd.isna(t["n"].tolist()[1])
    else:
        for n, shown in ((12, 10), (9, None)):
            hidden_n = ENTRY_POINTS[entry](n, 0, 5)[0]
            assert hidden_n is (shown is None)
        t = suppress_area_table(_one_cell(12, 0), DisclosureConfig(rounding_base=5), total_band=None).table
        assert t["n_persons"].iloc[0] == 10
