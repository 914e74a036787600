"""Accuracy of the area table against a known truth: correlation, coverage, the true area risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.config import AggregateConfig
from monitoring.publishing.accuracy import ACCURACY_COLUMNS, area_risk_accuracy, true_area_risk, weighted_corr
from tests.monitoring.test_monitoring_aggregate import GEO


def test_weighted_corr_unweighted_is_pearson() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert weighted_corr(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])


@given(st.lists(st.integers(1, 5), min_size=4, max_size=12), st.integers(0, 10_000))
def test_integer_weights_equal_repeated_rows(weights: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=len(weights)), rng.normal(size=len(weights))
    w = np.array(weights)
    expected = np.corrcoef(np.repeat(x, w), np.repeat(y, w))[0, 1]
    assert weighted_corr(x, y, w.astype(float)) == pytest.approx(expected, abs=1e-9)


def test_true_area_risk_is_mean_over_known_persons() -> None:
    persons = pd.DataFrame(
        {
            "ref_date": pd.to_datetime(["2020-01-01"] * 5),
            "age_band": ["8-12"] * 5,
            "buurt": ["BU1", "BU1", "BU2", "BU3", "BU4"],
            "true_risk": [0.1, 0.3, 0.2, np.nan, 0.4],  # NaN: censored / no truth row, left out
        }
    )
    out = true_area_risk(persons, GEO, AggregateConfig(include_band_total=False))
    wk1 = out[(out["area_code"] == "WK1")].iloc[0]
    assert (wk1["n_true"], wk1["true_risk"]) == (3, pytest.approx(0.2))
    gm1 = out[(out["area_code"] == "GM1")].iloc[0]
    assert (gm1["n_true"], gm1["true_risk"]) == (3, pytest.approx(0.2))  # WK2 has only the NaN person
    assert "WK2" not in set(out["area_code"])
    land = out[out["area_level"] == "land"].iloc[0]
    assert land["true_risk"] == pytest.approx(0.25)


def _table(risk: list[float], truth: list[float], status: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    k = len(risk)
    est = pd.DataFrame(
        {
            "period": "2020-01-01",
            "area_level": "wijk",
            "area_code": [f"WK{i}" for i in range(k)],
            "age_band": "13-19",
            "n_persons": [10 * (i + 1) for i in range(k)],
            "risk_mean": risk,
            "risk_mean_raw": risk,
            "risk_lo": [r - 0.01 for r in risk],
            "risk_hi": [r + 0.01 for r in risk],
            "status": status,
        }
    )
    tru = est[["period", "area_level", "area_code", "age_band"]].assign(n_true=est["n_persons"], true_risk=truth)
    return est, tru


def test_accuracy_subsets_coverage_and_columns() -> None:
    est, tru = _table(
        [0.01, 0.02, 0.03, 0.04, 0.05], [0.012, 0.02, 0.05, 0.041, 0.049], ["published"] * 3 + ["suppressed"] * 2
    )
    out = area_risk_accuracy(est, tru)
    assert list(out.columns) == list(ACCURACY_COLUMNS)
    allr = out[out["subset"] == "all"].iloc[0]
    pub = out[out["subset"] == "published"].iloc[0]
    assert (allr["n_areas"], pub["n_areas"]) == (5, 3)
    assert allr["coverage"] == pytest.approx(4 / 5)  # WK2 (0.03 vs 0.05) is outside +-0.01
    assert allr["coverage_weighted"] == pytest.approx((150 - 30) / 150)
    assert pub["coverage"] == pytest.approx(2 / 3)
    assert allr["corr"] == pytest.approx(np.corrcoef(est["risk_mean"], tru["true_risk"])[0, 1])
    assert allr["mean_abs_error"] == pytest.approx(np.mean(np.abs(est["risk_mean"] - tru["true_risk"])))


def test_accuracy_other_levels_and_small_areas_are_left_out() -> None:
    est, tru = _table([0.01, 0.02, 0.03, 0.04], [0.01, 0.02, 0.03, 0.04], ["published"] * 4)
    est.loc[0, "area_level"] = "buurt"
    tru.loc[0, "area_level"] = "buurt"
    out = area_risk_accuracy(est, tru, min_persons=25)  # WK1 (20 persons) is too small
    assert out.loc[out["subset"] == "all", "n_areas"].item() == 2
