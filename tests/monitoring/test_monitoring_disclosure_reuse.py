"""Reusing each period's disclosure result (a refresh certifies only what changed).

- A second run with the same store certifies nothing and returns the same table and report.
- A refresh that adds a period certifies only that period; the result equals a fresh run.
- A period whose counts or rules changed is certified again; a stored entry that is damaged or
  whose masks break the primary or secondary rules is ignored (certified again).
- The directory store of the work directory (aanwas.common.io.FileStore) round-trips.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import monitoring.publishing.disclosure as disclosure
from aanwas.common.io import FileStore
from monitoring.config import DisclosureConfig
from monitoring.publishing.disclosure import suppress_area_table


def _subtree_module():  # noqa: ANN202
    name = "disclosure_subtree_helpers"
    if name not in sys.modules:
        path = Path(__file__).with_name("test_monitoring_disclosure_subtree.py")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


sub = _subtree_module()
CFG = DisclosureConfig(audit_jobs=1)  # one process: the counting wrapper below sees every call


def _period(period: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(2):
        for w in range(2):
            for b in range(3):
                for band in sub.BANDS:
                    n = int(rng.choice([3, 8, 15, 40, 90]))
                    rows.append((f"G{g}", f"W{g}{w}", f"B{g}{w}{b}", band, n, int(rng.integers(0, n + 1))))
    leaves = pd.DataFrame(rows, columns=["gemeente", "wijk", "buurt", "age_band", "n_persons", "n_elevated"])
    return sub.tree_tables_from_leaves(leaves).assign(period=period)


def _table(*periods: tuple[str, int]) -> pd.DataFrame:
    return pd.concat([_period(p, s) for p, s in periods], ignore_index=True)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = disclosure._protect_period

    def counting(cells: pd.DataFrame, *args: object, **kwargs: object):  # noqa: ANN202
        seen.append(str(cells["period"].iloc[0]))
        return real(cells, *args, **kwargs)

    monkeypatch.setattr(disclosure, "_protect_period", counting)
    return seen


def _same(a: disclosure.DisclosureChecked, b: disclosure.DisclosureChecked) -> None:
    pd.testing.assert_frame_equal(a.table, b.table)
    strip = {"audit_seconds"}
    assert {k: v for k, v in a.report.items() if k not in strip} == {
        k: v for k, v in b.report.items() if k not in strip
    }


def test_repeat_and_refresh_certify_only_new_periods(calls: list[str]) -> None:
    two = _table(("2023", 1), ("2024", 2))
    three = _table(("2023", 1), ("2024", 2), ("2025", 3))
    store: dict[str, bytes] = {}
    first = suppress_area_table(two, CFG, total_band=sub.TOTAL, store=store)
    assert sorted(calls) == ["2023", "2024"] and len(store) == 2
    calls.clear()
    again = suppress_area_table(two, CFG, total_band=sub.TOTAL, store=store)
    assert calls == []
    _same(first, again)
    refreshed = suppress_area_table(three, CFG, total_band=sub.TOTAL, store=store)
    assert calls == ["2025"]
    calls.clear()
    _same(refreshed, suppress_area_table(three, CFG, total_band=sub.TOTAL))
    assert calls == ["2023", "2024", "2025"]


def test_changed_counts_or_rules_are_certified_again(calls: list[str]) -> None:
    store: dict[str, bytes] = {}
    suppress_area_table(_table(("2023", 1), ("2024", 2)), CFG, total_band=sub.TOTAL, store=store)
    calls.clear()
    suppress_area_table(_table(("2023", 1), ("2024", 7)), CFG, total_band=sub.TOTAL, store=store)
    assert calls == ["2024"]  # 2024's counts changed
    calls.clear()
    other = DisclosureConfig(audit_jobs=1, protection_level=CFG.protection_level + 1)
    suppress_area_table(_table(("2023", 1)), other, total_band=sub.TOTAL, store=store)
    assert calls == ["2023"]  # the rules changed
    calls.clear()
    suppress_area_table(_table(("2023", 1)), DisclosureConfig(audit_jobs=2), total_band=sub.TOTAL, store=store)
    assert calls == []  # the number of worker processes does not change a result


def test_damaged_or_unsafe_stored_results_are_not_used(calls: list[str]) -> None:
    table = _table(("2024", 2))
    store: dict[str, bytes] = {}
    fresh = suppress_area_table(table, CFG, total_band=sub.TOTAL, store=store)
    (key,) = store
    good = store[key]
    with np.load(__import__("io").BytesIO(good)) as z:
        parts = {k: z[k] for k in z.files}
    unsafe = dict(parts, h_n=parts["prim_n"], h_e=parts["prim_e"])  # secondary suppression dropped
    assert (parts["h_n"] != parts["prim_n"]).any() or (parts["h_e"] != parts["prim_e"]).any()
    buf = __import__("io").BytesIO()
    np.savez(buf, **unsafe)
    for bad in (b"not an npz", good[: len(good) // 2], buf.getvalue()):
        store[key] = bad
        calls.clear()
        _same(fresh, suppress_area_table(table, CFG, total_band=sub.TOTAL, store=store))
        assert calls == ["2024"]
        assert store[key] == good  # replaced by the recomputed result


def test_file_store_round_trips(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "results")
    assert len(store) == 0 and "ab" * 16 not in store
    store["ab" * 16] = b"x"
    store["cd" * 16] = b"yz"
    assert sorted(store) == ["ab" * 16, "cd" * 16] and store["cd" * 16] == b"yz"
    del store["ab" * 16]
    assert list(store) == ["cd" * 16]
    with pytest.raises(KeyError):
        store["../escape"] = b"no"
    assert not list(tmp_path.glob(".*"))  # no temporary files left beside the store


def test_suppression_by_level_by_hand() -> None:
    from monitoring.publishing.disclosure import suppression_by_level

    t = pd.DataFrame(
        {
            "period": "2024",
            "area_level": ["wijk", "buurt", "buurt"],
            "area_code": ["W", "B1", "B2"],
            "area_name": ["W", "B1", "B2"],
            "parent_code": [None, "W", "W"],
            "age_band": "8-12",
            "n_persons": [60, 50, 10],
            "n_elevated": [20, 17, 3],
            "risk_mean": 0.1,
            "risk_lo": 0.05,
            "risk_hi": 0.2,
        }
    )
    every = DisclosureConfig(elevated_levels=("land", "wijk", "buurt"))
    loss = suppression_by_level(t, suppress_area_table(t, every, total_band=None))
    got = {(r.area_level, r.measure): (r.cells, r.primary, r.secondary, r.not_published) for r in loss.itertuples()}
    # B2's 3 elevated fail (primary); B1's are hidden so that W - B1 does not reveal them
    assert got == {
        ("wijk", "n_persons"): (1, 0.0, 0.0, 0.0),
        ("wijk", "n_elevated"): (1, 0.0, 0.0, 0.0),
        ("buurt", "n_persons"): (2, 0.0, 0.0, 0.0),
        ("buurt", "n_elevated"): (2, 0.5, 0.5, 0.0),
    }
    # n_elevated not published at buurt level: B2 fails the rule anyway, B1 is not published
    wijk_only = DisclosureConfig(elevated_levels=("land", "wijk"))
    loss = suppression_by_level(t, suppress_area_table(t, wijk_only, total_band=None))
    got = {(r.area_level, r.measure): (r.primary, r.secondary, r.not_published) for r in loss.itertuples()}
    assert got[("buurt", "n_elevated")] == (0.5, 0.0, 0.5)
    assert got[("wijk", "n_elevated")] == (0.0, 0.0, 0.0)
