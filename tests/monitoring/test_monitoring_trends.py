"""Trend series across refreshes: published values only, intervals, slopes, observed rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aanwas.common.errors import InputError
from monitoring.effects.trends import (
    SERIES_COLUMNS,
    SUMMARY_COLUMNS,
    build_trend_series,
    period_dates,
    summarise_trends,
    wilson_interval,
)
from monitoring.monitor_config import TrendConfig

CFG = TrendConfig()
Z90 = 1.6448536269514722


def _table(means, *, code="GM0363", name="Amsterdam", half=0.01, status=None, periods=None, n=1000, n_el=100):
    periods = periods or [f"{2020 + i}-01-01" for i in range(len(means))]
    status = status or ["published"] * len(means)
    return pd.DataFrame(
        {
            "period": periods,
            "area_level": "gemeente",
            "area_code": code,
            "area_name": name,
            "age_band": "13-19",
            "n_persons": n,
            "n_elevated": n_el,
            "share_elevated": n_el / n,
            "risk_mean": means,
            "risk_lo": [m - half for m in means],
            "risk_hi": [m + half for m in means],
            "status": status,
        }
    )


def test_series_columns_and_values():
    s = build_trend_series(_table([0.05, 0.06, 0.07]), CFG)
    assert list(s.columns) == list(SERIES_COLUMNS)
    risk = s[s["series"] == "risk_mean"]
    assert risk["value"].tolist() == [0.05, 0.06, 0.07]
    share = s[s["series"] == "share_elevated"]
    assert share["value"].tolist() == [0.1] * 3
    lo, hi = wilson_interval(np.array([100.0]), np.array([1000.0]), CFG.interval_level)
    assert share["lo"].iloc[0] == pytest.approx(lo[0]) and share["hi"].iloc[0] == pytest.approx(hi[0])


def test_wilson_known_value_and_empty():
    lo, hi = wilson_interval(np.array([5.0, 0.0]), np.array([10.0, 0.0]), 0.95)
    assert (round(lo[0], 4), round(hi[0], 4)) == (0.2366, 0.7634)
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_suppressed_cells_stay_blank_and_are_not_used():
    t = _table([0.05, 0.99, 0.07], status=["published", "suppressed", "published"])
    s = build_trend_series(t, CFG)
    sup = s[s["period"] == "2021-01-01"]
    assert (sup["status"] == "suppressed").all()
    assert sup[["value", "lo", "hi", "n_persons"]].isna().all().all()
    summ = summarise_trends(s, CFG).set_index("series").loc["risk_mean"]
    assert summ["n_periods"] == 2
    assert summ["change"] == pytest.approx(0.02)  # 0.99 of the suppressed year is never used


def test_slope_and_change_hand_computed():
    s = build_trend_series(_table([0.05, 0.06, 0.07, 0.08], half=0.002), CFG)
    summ = summarise_trends(s, CFG)
    assert list(summ.columns) == list(SUMMARY_COLUMNS)
    r = summ.set_index("series").loc["risk_mean"]
    se = 0.002 / Z90
    assert r["change"] == pytest.approx(0.03)
    assert r["change_hi"] - r["change"] == pytest.approx(Z90 * np.sqrt(2) * se)
    years = (
        period_dates(pd.Series(["2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01"])) - pd.Timestamp("2000-01-01")
    ).dt.days / 365.25
    slope = np.polyfit(years.to_numpy(), [0.05, 0.06, 0.07, 0.08], 1)[0]
    assert r["slope_per_year"] == pytest.approx(slope, rel=1e-9)
    sxx = ((years - years.mean()) ** 2).sum() / se**2
    assert r["slope_hi"] - r["slope_per_year"] == pytest.approx(Z90 / np.sqrt(sxx), rel=1e-9)
    assert r["direction"] == "up"
    assert summ.set_index("series").loc["share_elevated", "direction"] == "no_clear_change"


def test_direction_needs_enough_periods_and_a_clear_interval():
    few = summarise_trends(build_trend_series(_table([0.05, 0.09]), CFG), CFG).set_index("series").loc["risk_mean"]
    assert few["direction"] == "too_few_periods" and np.isnan(few["slope_per_year"])
    noisy = summarise_trends(build_trend_series(_table([0.05, 0.06, 0.055], half=0.05), CFG), CFG)
    assert noisy.set_index("series").loc["risk_mean", "direction"] == "no_clear_change"


@settings(max_examples=15)
@given(
    slope=st.floats(-0.02, 0.02),
    halves=st.lists(st.floats(0.0005, 0.05), min_size=3, max_size=8),
)
def test_exact_line_gives_its_slope_for_any_interval_widths(slope, halves):
    periods = [f"{2015 + i}-01-01" for i in range(len(halves))]
    years = (period_dates(pd.Series(periods)) - pd.Timestamp("2000-01-01")).dt.days.to_numpy() / 365.25
    means = 0.1 + slope * (years - years[0])
    t = _table(list(means), periods=periods)
    t["risk_lo"] = means - np.array(halves)
    t["risk_hi"] = means + np.array(halves)
    r = summarise_trends(build_trend_series(t, CFG), CFG).set_index("series").loc["risk_mean"]
    assert r["slope_per_year"] == pytest.approx(slope, abs=1e-9)
    assert r["slope_lo"] <= slope <= r["slope_hi"]


def test_observed_rates_suppressed_below_min_count():
    obs = pd.DataFrame(
        {
            "period": [2020, 2021, 2022],
            "area_level": "gemeente",
            "area_code": "GM0363",
            "age_band": "13-19",
            "n_persons": [1000, 1000, 15],
            "n_registered": [20, 5, 10],
        }
    )
    s = build_trend_series(_table([0.05, 0.06, 0.07]), CFG, observed=obs)
    o = s[s["series"] == "rate_registered_year"].set_index("period")
    assert o.loc["2020", "value"] == pytest.approx(20.0)
    assert o.loc["2020", "area_name"] == "Amsterdam"
    assert o.loc["2021", "status"] == "suppressed" and np.isnan(o.loc["2021", "value"])  # 5 registered < 10
    assert o.loc["2022", "status"] == "suppressed"  # only 5 not registered
    lo, hi = wilson_interval(np.array([20.0]), np.array([1000.0]), CFG.interval_level)
    assert o.loc["2020", "lo"] == pytest.approx(1000 * lo[0])


def test_area_table_rate_columns_become_a_series():
    t = _table([0.05, 0.06]).assign(
        rate_outcome=[0.02, 0.03], rate_outcome_lo=[0.01, 0.02], rate_outcome_hi=[0.03, 0.04]
    )
    s = build_trend_series(t, CFG)
    assert s.loc[s["series"] == "rate_outcome", "value"].tolist() == [0.02, 0.03]  # a share, like the risk


def test_several_tables_stack_and_years_parse():
    s = build_trend_series([_table([0.05], periods=["2023"]), _table([0.06], periods=["2024"])], CFG)
    assert s.loc[s["series"] == "risk_mean", "period_date"].dt.year.tolist() == [2023, 2024]


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (_table([0.05]).drop(columns="risk_lo"), "missing column"),
        (_table([0.05]).assign(status="maybe"), "status"),
        (_table([0.05], periods=["Q1"]), "neither a year nor a date"),
        (pd.concat([_table([0.05]), _table([0.05])]), "duplicate"),
    ],
)
def test_bad_area_tables_raise_input_error(frame, match):
    with pytest.raises(InputError, match=match):
        build_trend_series(frame, CFG)


def test_monitor_config_round_trips_through_plain_values_and_checks_ranges():
    from aanwas.common.config import as_plain, build_dataclass
    from aanwas.common.errors import ConfigError
    from monitoring.monitor_config import MonitorConfig

    plain = as_plain(MonitorConfig())
    assert build_dataclass(MonitorConfig, plain) == MonitorConfig()
    assert "None" not in repr(plain)  # every default is writable to TOML
    for section, key, bad in (
        ("trends", "interval_level", 1.0),
        ("interventions", "panel_level", "provincie"),
        ("interventions", "offences", ["diefstal"]),
        ("drift", "alpha", 0.7),
        ("dashboard", "trend_levels", ["straat"]),
    ):
        with pytest.raises(ConfigError, match=key):
            build_dataclass(MonitorConfig, {section: {key: bad}}, prefix="monitoring.monitor")
