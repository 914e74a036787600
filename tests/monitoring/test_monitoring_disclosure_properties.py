"""Disclosure control under random hierarchies, counts AND rules, checked on what is written.

Extends test_monitoring_disclosure_attack.py (same independent attacker and table strategy,
loaded by path) in two directions it does not cover:

- the files: random tables go through the one export writer and the attacker reads
  ``area_risk.csv`` back, so formatting or the writer can never publish what suppression hid;
- the rules: random thresholds, complement rule on/off and rounding, and the flat tables of
  :func:`monitoring.publishing.disclosure.suppress_counts` (trends, effects, fairness cells).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.config import DisclosureConfig, MonitoringConfig
from monitoring.publishing.disclosure import suppress_area_table, suppress_counts
from monitoring.publishing.export import write_export


def _attack_module():
    name = "disclosure_attack_helpers"
    if name not in sys.modules:
        path = Path(__file__).with_name("test_monitoring_disclosure_attack.py")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


atk = _attack_module()

rules = st.builds(
    DisclosureConfig,
    min_cell_size=st.integers(2, 15),
    complement_rule=st.booleans(),
    zeros_disclosive=st.booleans(),
    elevated_levels=st.sampled_from([("land", "gemeente"), ("land", "gemeente", "wijk", "buurt")]),
)


def _publishable(x: np.ndarray, cfg: DisclosureConfig) -> np.ndarray:
    """At or above the threshold, or a zero where zeros are configured as not disclosive."""
    return (x >= cfg.min_cell_size) | ((x == 0) & (not cfg.zeros_disclosive))


def _read_back(area: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The written CSV plus the public structure (parent codes), as the attacker sees it."""
    pub = pd.read_csv(path / "area_risk.csv", dtype={"period": str, "area_code": str, "age_band": str})
    for col in ("n_persons", "n_elevated"):
        pub[col] = pub[col].astype("Float64")
    return pub.merge(area[["area_code", "age_band", "parent_code"]], on=["area_code", "age_band"], validate="1:1")


@settings(max_examples=8)
@given(area=atk.area_tables(), cfg=rules)
def test_written_export_never_shows_a_small_count_nor_a_derivable_one(
    area: pd.DataFrame,
    cfg: DisclosureConfig,
    tmp_path_factory,  # noqa: ANN001
) -> None:
    checked = suppress_area_table(area, cfg, total_band=atk.TOTAL)
    out = write_export(
        tmp_path_factory.mktemp("export"),
        "2024",
        checked,
        MonitoringConfig(disclosure=cfg),
        model_version="m/1",
        data_fingerprint="f",
    )
    pub = _read_back(area, out)
    assert len(pub) == len(area)
    n = pub["n_persons"].to_numpy(dtype=np.float64, na_value=np.nan)
    e = pub["n_elevated"].to_numpy(dtype=np.float64, na_value=np.nan)
    assert _publishable(n[~np.isnan(n)], cfg).all() and _publishable(e[~np.isnan(e)], cfg).all()
    if cfg.complement_rule:
        both = ~np.isnan(n) & ~np.isnan(e)
        assert _publishable(n[both] - e[both], cfg).all()
    # what is written equals what was checked (no value appears that suppression hid)
    assert np.isnan(n).sum() == checked.table["n_persons"].isna().sum()
    aim = atk.targets(pub, cfg)
    assert atk.subtraction_attack(pub) & aim == set()
    for name, i, lo, hi in atk.lp_attack(pub, aim):
        assert hi - lo >= cfg.protection_level - 1e-6, (name, pub.iloc[i]["area_code"], pub.iloc[i]["age_band"])


@st.composite
def flat_tables(draw: st.DrawFn) -> pd.DataFrame:
    n_rows = draw(st.integers(1, 25))
    n = np.array(draw(st.lists(st.integers(0, 80), min_size=n_rows, max_size=n_rows)))
    pos = np.array([draw(st.integers(0, int(v))) for v in n])
    return pd.DataFrame(
        {
            "group": [f"g{i}" for i in range(n_rows)],
            "n": n,
            "n_pos": pos,
            "rate": np.where(n > 0, pos / np.maximum(n, 1), np.nan),
            "estimate": np.linspace(-1, 1, n_rows),
        }
    )


@settings(max_examples=60)
@given(frame=flat_tables(), cfg=rules, rounding=st.sampled_from([0, 5]))
def test_flat_tables_never_publish_a_count_below_the_threshold(
    frame: pd.DataFrame, cfg: DisclosureConfig, rounding: int
) -> None:
    cfg = DisclosureConfig(
        min_cell_size=cfg.min_cell_size,
        complement_rule=cfg.complement_rule,
        zeros_disclosive=cfg.zeros_disclosive,
        rounding_base=rounding,
    )
    out = suppress_counts(
        frame, cfg, kind="t", total="n", parts=["n_pos"], rates={"rate": ["n", "n_pos"]}, magnitudes=["estimate"]
    ).table
    n_true, pos_true = frame["n"].to_numpy(), frame["n_pos"].to_numpy()
    shown_n, shown_pos = out["n"].notna().to_numpy(), out["n_pos"].notna().to_numpy()
    # every published count rests on a true count at or above the threshold (and its complement)
    assert _publishable(n_true[shown_n], cfg).all()
    assert _publishable(pos_true[shown_pos], cfg).all()
    if cfg.complement_rule:
        assert _publishable(n_true[shown_pos] - pos_true[shown_pos], cfg).all()
    if rounding:
        assert (out["n"].dropna().to_numpy(dtype=np.int64) % rounding == 0).all()
    else:
        assert (out["n"].dropna().to_numpy() == n_true[shown_n]).all()
    # nothing of a suppressed row is published; a rate never outlives the counts it rests on
    assert not (shown_pos & ~shown_n).any()
    assert out.loc[~shown_n, ["estimate", "rate"]].isna().all().all()
    assert out.loc[~shown_pos, "rate"].isna().all()
    assert ((out["status"] == "suppressed").to_numpy() == ~shown_n).all()
