"""Disclosure control: hand-computed suppression patterns, rules, the checked type, the audit."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import InputError
from monitoring.config import DisclosureConfig
from monitoring.publishing import disclosure
from monitoring.publishing.disclosure import (
    AREA_EXPORT_COLUMNS,
    DisclosureChecked,
    DisclosureError,
    audit_area_table,
    suppress_area_table,
    suppress_counts,
)


def table(rows: list[tuple[str, str | None, int, int]], band: str = "8-12") -> pd.DataFrame:
    """(area_code, parent_code, n_persons, n_elevated) -> a one-band confidential area table."""
    levels = {"G": "gemeente", "W": "wijk", "B": "buurt", "N": "land"}
    return pd.DataFrame(
        {
            "period": "2024",
            "area_level": [levels[c[0]] for c, *_ in rows],
            "area_code": [c for c, *_ in rows],
            "area_name": [f"name {c}" for c, *_ in rows],
            "parent_code": [p for _, p, *_ in rows],
            "age_band": band,
            "n_persons": [n for *_, n, _ in rows],
            "n_elevated": [e for *_, e in rows],
            "risk_mean": 0.1,
            "risk_lo": 0.05,
            "risk_hi": 0.2,
            "elevated": False,
        }
    )


def hidden(checked: DisclosureChecked, col: str) -> dict[str, bool]:
    t = checked.table
    return dict(zip(t["area_code"], t[col].isna(), strict=True))


ALL_LEVELS = ("land", "gemeente", "wijk", "buurt")
# these tests are about the rules for both counts: n_elevated published at every level
CFG = DisclosureConfig(elevated_levels=ALL_LEVELS)


def _rules(**kw: object) -> DisclosureConfig:
    return DisclosureConfig(elevated_levels=ALL_LEVELS, **kw)  # type: ignore[arg-type]


def test_sum_of_suppressed_cells_must_pass_threshold() -> None:
    # E: 3 and 4 fail; together 7 would be derivable (40 - 15 - 18), so a third cell goes:
    # the smallest that can give way by the protection level (15), not the published 18.
    t = table(
        [("W1", None, 160, 40), ("B1", "W1", 40, 3), ("B2", "W1", 40, 4), ("B3", "W1", 40, 15), ("B4", "W1", 40, 18)]
    )
    out = suppress_area_table(t, CFG, total_band=None)
    assert hidden(out, "n_elevated") == {"W1": False, "B1": True, "B2": True, "B3": True, "B4": False}
    assert not any(hidden(out, "n_persons").values())
    pub = out.table.set_index("area_code")
    assert pub.loc["B4", "share_elevated"] == pytest.approx(18 / 40)
    assert pub["share_elevated"].isna().to_dict() == hidden(out, "n_elevated")
    assert (pub["status"] == "published").all()
    assert out.report["n_elevated_primary"] == 2 and out.report["n_elevated_secondary"] == 1


def test_complement_rule_hides_count_with_small_complement() -> None:
    # B1: 5 of 12 elevated -> 7 not elevated < 10: hidden although n_persons=12 is published
    t = table([("W1", None, 42, 15), ("B1", "W1", 12, 5), ("B2", "W1", 30, 10)])
    out = suppress_area_table(t, CFG, total_band=None)
    assert hidden(out, "n_elevated") == {"W1": False, "B1": True, "B2": True}
    assert hidden(out, "n_persons") == {"W1": False, "B1": False, "B2": False}
    # without the complement rule B1 still fails (5 < 10): use a case where only C fails
    t = table([("W1", None, 44, 34), ("B1", "W1", 12, 11), ("B2", "W1", 32, 23)])
    assert hidden(suppress_area_table(t, CFG, total_band=None), "n_elevated")["B1"]
    off = _rules(complement_rule=False)
    assert not any(hidden(suppress_area_table(t, off, total_band=None), "n_elevated").values())


def test_single_child_and_hierarchy_propagation() -> None:
    # WK1 has one buurt of 5: hiding BU1 alone would leave it equal to WK1, so WK1 goes; then
    # WK1 would be G - WK2, so WK2 goes; then WK2 would be BU2 + BU3, so one buurt (BU2) goes.
    t = table(
        [
            ("G1", None, 65, 20),
            ("W1", "G1", 5, 0),
            ("B1", "W1", 5, 0),
            ("W2", "G1", 60, 20),
            ("B2", "W2", 30, 10),
            ("B3", "W2", 30, 10),
        ]
    )
    out = suppress_area_table(t, _rules(complement_rule=False), total_band=None)
    assert hidden(out, "n_persons") == {"G1": False, "W1": True, "B1": True, "W2": True, "B2": True, "B3": False}
    pub = out.table.set_index("area_code")
    assert (pub.loc[["W1", "B1", "W2", "B2"], "status"] == "suppressed").all()
    assert (
        pub.loc[["W1", "B1", "W2", "B2"], ["n_elevated", "share_elevated", "risk_mean", "risk_lo", "risk_hi"]]
        .isna()
        .all()
        .all()
    )
    # LP by hand: BU1 = WK1 = t, WK2 = 65 - t, BU2 = 35 - t, t in [0, 35]
    rep = audit_area_table(t, out, _rules(complement_rule=False), total_band=None, exact=True)
    assert rep.passed and rep.exact.all()
    n_vars = rep.measure == "n_persons"
    codes = t["area_code"].to_numpy()[rep.cell[n_vars]]
    got = {c: (round(lo, 6), round(hi, 6)) for c, lo, hi in zip(codes, rep.lo[n_vars], rep.hi[n_vars], strict=True)}
    assert got == {"W1": (0, 35), "B1": (0, 35), "W2": (30, 65), "B2": (0, 35)}


def test_zero_is_disclosive_and_configurable() -> None:
    t = table([("W1", None, 100, 30), ("B1", "W1", 50, 0), ("B2", "W1", 50, 30)])
    assert hidden(suppress_area_table(t, CFG, total_band=None), "n_elevated")["B1"]
    # an empty cell may be published as 0 when zeros are not disclosive
    t = table([("W1", None, 50, 20), ("B1", "W1", 0, 0), ("B2", "W1", 50, 20)])
    out = suppress_area_table(t, _rules(zeros_disclosive=False), total_band=None)
    assert not any(hidden(out, "n_persons").values())
    assert hidden(suppress_area_table(t, CFG, total_band=None), "n_persons")["B1"]


def test_band_total_is_protected_across_bands() -> None:
    # one area, three bands and their total: one failing band must not be total - others
    rows = []
    for band, (n, e) in {"8-12": (40, 12), "13-19": (6, 0), "20-23": (40, 12), "all": (86, 24)}.items():
        rows.append(table([("G1", None, n, e)], band=band))
    t = pd.concat(rows, ignore_index=True)
    out = suppress_area_table(t, CFG, total_band="all").table
    hid = dict(zip(out["age_band"], out["n_persons"].isna(), strict=True))
    assert hid == {"8-12": True, "13-19": True, "20-23": False, "all": False}


def test_rounding_to_base_five() -> None:
    t = table([("W1", None, 103, 41), ("B1", "W1", 51, 22), ("B2", "W1", 52, 19)])
    out = suppress_area_table(t, _rules(rounding_base=5), total_band=None).table.set_index("area_code")
    assert out["n_persons"].tolist() == [105, 50, 50]
    assert out["n_elevated"].tolist() == [40, 20, 20]
    assert out.loc["B1", "share_elevated"] == pytest.approx(20 / 50)  # from the rounded counts


def random_hierarchy(seed: int, period: str = "2024") -> pd.DataFrame:
    """One gemeente, 3 wijken of 4 buurten, random counts that add up."""
    rng = np.random.default_rng(seed)
    rows = [("G1", None, 0, 0)]
    tot_n = tot_e = 0
    for w in range(3):
        wn = we = 0
        brows = []
        for b in range(4):
            n = int(rng.integers(0, 40))
            e = int(rng.integers(0, n + 1))
            brows.append((f"B{w}{b}", f"W{w}", n, e))
            wn, we = wn + n, we + e
        rows += [(f"W{w}", "G1", wn, we), *brows]
        tot_n, tot_e = tot_n + wn, tot_e + we
    rows[0] = ("G1", None, tot_n, tot_e)
    return table(rows).assign(period=period)


def test_determinism_same_input_same_pattern() -> None:
    t = random_hierarchy(7)
    a = suppress_area_table(t, CFG, total_band=None)
    b = suppress_area_table(t.sample(frac=1.0, random_state=1), CFG, total_band=None)
    pd.testing.assert_frame_equal(
        a.table.sort_values("area_code").reset_index(drop=True), b.table.sort_values("area_code").reset_index(drop=True)
    )


def test_parallel_periods_give_the_serial_result() -> None:
    t = pd.concat([random_hierarchy(s, f"202{s}") for s in range(4)], ignore_index=True)
    calls: list[tuple[str, float]] = []
    serial = suppress_area_table(t, _rules(audit_jobs=1), total_band=None)
    parallel = suppress_area_table(
        t,
        _rules(audit_jobs=2),
        total_band=None,
        progress=lambda *a: calls.append(a),
    )
    assert calls == [("2020", 0.25), ("2021", 0.5), ("2022", 0.75), ("2023", 1.0)]
    pd.testing.assert_frame_equal(serial.table, parallel.table)
    drop = {"audit_seconds"}
    assert {k: v for k, v in serial.report.items() if k not in drop} == {
        k: v for k, v in parallel.report.items() if k not in drop
    }
    assert serial.report["audit_counts"] > 0  # something was audited in each


def test_automatic_jobs_start_no_processes_for_a_small_table(monkeypatch: pytest.MonkeyPatch) -> None:
    class Started(Exception):
        pass

    def no_processes(*_a: object, **_k: object) -> None:
        raise Started

    t = pd.concat([random_hierarchy(s, f"202{s}") for s in range(3)], ignore_index=True)
    serial = suppress_area_table(t, _rules(audit_jobs=1), total_band=None)
    monkeypatch.setattr(joblib, "Parallel", no_processes)
    auto = suppress_area_table(t, _rules(audit_jobs=0), total_band=None)  # small: in this process
    pd.testing.assert_frame_equal(serial.table, auto.table)
    monkeypatch.setattr(disclosure, "_CELLS_PER_AUDIT_PROCESS", len(t))  # as large as the limit: processes
    with pytest.raises(Started):
        suppress_area_table(t, _rules(audit_jobs=0), total_band=None)


def test_parallel_audit_failure_is_the_same_clear_error() -> None:
    # period 2023 needs no suppression, period 2024 cannot be protected (test_unprotectable_table_raises)
    good = table([("W1", None, 300, 100), ("B1", "W1", 150, 50), ("B2", "W1", 150, 50)]).assign(period="2023")
    bad = table([("W1", None, 100, 40), ("B1", "W1", 5, 0), ("B2", "W1", 5, 0), ("B3", "W1", 90, 40)])
    t = pd.concat([good, bad], ignore_index=True)
    strict = _rules(protection_level=50.0, max_repair_rounds=0, audit_jobs=2)
    with pytest.raises(DisclosureError, match="period=2024"):
        suppress_area_table(t, strict, total_band=None)


def test_checked_type_cannot_be_forged_or_altered() -> None:
    with pytest.raises(TypeError):
        DisclosureChecked(kind="area_risk", _frame=pd.DataFrame(), rules={}, report={}, _sha="", _seal=object())
    t = table([("W1", None, 60, 20), ("B1", "W1", 30, 10), ("B2", "W1", 30, 10)])
    out = suppress_area_table(t, CFG, total_band=None)
    out.verify()
    copy = out.table
    copy.loc[0, "n_persons"] = 1  # a copy: the checked table itself is unchanged
    out.verify()
    out._frame.loc[0, "n_persons"] = 1  # reaching inside is detected
    with pytest.raises(TypeError, match="altered"):
        out.verify()


def test_columns_and_status() -> None:
    t = table([("W1", None, 60, 20), ("B1", "W1", 50, 17), ("B2", "W1", 10, 3)])
    out = suppress_area_table(t, CFG, total_band=None).table
    assert list(out.columns)[: len(AREA_EXPORT_COLUMNS)] == list(AREA_EXPORT_COLUMNS)
    assert set(out["status"]) <= {"published", "suppressed"}


def test_additivity_violation_is_input_error() -> None:
    t = table([("W1", None, 61, 20), ("B1", "W1", 30, 10), ("B2", "W1", 30, 10)])
    with pytest.raises(InputError, match="add up"):
        suppress_area_table(t, CFG, total_band=None)
    t = table([("W1", None, 60, 20), ("B1", "W1", 30, 31), ("B2", "W1", 30, -11)])
    with pytest.raises(InputError):
        suppress_area_table(t, CFG, total_band=None)


def test_audit_finds_a_derivable_cell() -> None:
    # publish everything but one buurt: it equals W1 minus the other -> interval of width 0
    t = table([("W1", None, 60, 20), ("B1", "W1", 30, 10), ("B2", "W1", 30, 10)])
    pub = t.copy()
    pub["n_persons"] = pub["n_persons"].astype("Int64")
    pub["n_elevated"] = pub["n_elevated"].astype("Int64")
    pub.loc[pub["area_code"] == "B2", ["n_persons", "n_elevated"]] = pd.NA
    rep = audit_area_table(t, pub, CFG, total_band=None)
    assert not rep.passed
    assert set(rep.narrow["measure"]) == {"n_persons", "n_elevated"}
    assert np.allclose(rep.narrow["lo"], rep.narrow["hi"])
    assert sorted(rep.narrow["hi"].tolist()) == [10.0, 30.0]


def test_unprotectable_table_raises() -> None:
    # two hidden buurten of 5 under a published 100: each lies in [0, 10], narrower than 50
    t = table([("W1", None, 100, 40), ("B1", "W1", 5, 0), ("B2", "W1", 5, 0), ("B3", "W1", 90, 40)])
    strict = _rules(protection_level=50.0, max_repair_rounds=0)
    with pytest.raises(DisclosureError, match="protection level") as err:
        suppress_area_table(t, strict, total_band=None)
    assert "[0" not in str(err.value)  # no intervals or counts in the message
    # with repairs, more cells go and it passes
    out = suppress_area_table(t, _rules(protection_level=50.0), total_band=None)
    assert hidden(out, "n_persons")["B3"]


def test_suppress_counts_flat_table() -> None:
    t = pd.DataFrame(
        {
            "group": ["a", "b", "c"],
            "n": [100, 8, 40],
            "n_pos": [30, 2, 35],
            "rate_pos": [0.3, 0.25, 0.875],
            "auc": [0.7, 0.6, 0.8],
        }
    )
    out = suppress_counts(
        t, CFG, kind="fairness", total="n", parts=["n_pos"], rates={"rate_pos": ["n", "n_pos"]}, magnitudes=["auc"]
    ).table
    assert out["n"].isna().tolist() == [False, True, False]
    assert out["n_pos"].isna().tolist() == [False, True, True]  # c: complement 5 < 10
    assert out["rate_pos"].isna().tolist() == [False, True, True]
    assert out["auc"].isna().tolist() == [False, True, False]
    assert out["status"].tolist() == ["published", "suppressed", "published"]
    with pytest.raises(InputError):
        suppress_counts(t, CFG, kind="fairness", total="n", parts=["missing"])


@pytest.mark.slow
def test_national_scale_random_counts_pass_audit_in_time() -> None:
    """Full real geography, random counts of realistic size: the audit passes, and how fast.

    Run with ``pytest -m slow tests/monitoring -s`` to see the timing line.
    """
    import time

    from features.geography import load_geography
    from monitoring.config import AggregateConfig
    from monitoring.publishing.aggregate import aggregate_areas

    geo = load_geography()
    h = geo.hierarchy()
    rng = np.random.default_rng(0)
    n = 3_400_000
    w = geo.buurten["age_15_25"].to_numpy() + 1.0
    b = rng.choice(len(h), size=n, p=w / w.sum())
    score = 1 / (1 + np.exp(-(-3.8 + rng.normal(0, 0.5, len(h))[b] + rng.normal(0, 1, n))))
    frame = pd.DataFrame(
        {
            "period": "2024-01-01",
            "age_band": rng.choice(["8-12", "13-19", "20-23"], n, p=[0.3, 0.45, 0.25]),
            "buurt": h["buurt"].to_numpy()[b],
            "score": score,
        }
    )
    area = aggregate_areas(frame, geo, AggregateConfig())
    t0 = time.perf_counter()
    out = suppress_area_table(area, CFG, total_band="all")
    seconds = time.perf_counter() - t0
    print(f"\nnational scale: {len(area)} cells, suppress+audit {seconds:.1f}s, report {dict(out.report)}")
    assert out.report["audit"] == "passed"
    assert seconds < 300


def test_observed_counts_get_secondary_suppression_so_differencing_recovers_nothing():
    # primary suppression alone would hide only W2's 3 registrations, and G1 - W1 = 15 - 12
    # would give them away; the area rules hide a second count in that line as well
    from monitoring.publishing.disclosure import suppress_observed_counts

    obs = pd.DataFrame(
        {
            "period": "2024",
            "area_level": ["land", "gemeente", "gemeente", "wijk", "wijk", "wijk", "wijk"],
            "area_code": ["NL00", "G1", "G2", "W1", "W2", "W3", "W4"],
            "age_band": "13-19",
            "n_persons": [400, 150, 250, 100, 50, 120, 130],
            "n_registered": [55, 15, 40, 12, 3, 20, 20],
        }
    )
    parents = {"G1": "NL00", "G2": "NL00", "W1": "G1", "W2": "G1", "W3": "G2", "W4": "G2"}
    out = suppress_observed_counts(obs, parents, DisclosureConfig()).table.set_index("area_code")
    hidden = out["n_registered"].isna()
    assert hidden["W2"]  # primary: 3 < 10
    for parent, children in (("NL00", ["G1", "G2"]), ("G1", ["W1", "W2"]), ("G2", ["W3", "W4"])):
        assert hidden[[parent, *children]].sum() != 1, parent
    assert (out["n_registered"].dropna() >= 10).all()
    assert ((out["n_persons"] - out["n_registered"]).dropna() >= 10).all()
