"""Trends that are trends, one outcome per band, and a dashboard that drills down to buurten.

Built on a small buurt-level export (tests/monitoring/buurt_export.py) that went through the
real aggregation and disclosure control."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.config import MonitoringConfig
from monitoring.effects.trends import PUBLISHED_SERIES_COLUMNS, default_outcomes, outcome_text, round_to_interval
from monitoring.monitor_config import DashboardConfig
from monitoring.publishing.dashboard import _reason_key, build_dashboard
from monitoring.publishing.export import write_export

_spec = importlib.util.spec_from_file_location("buurt_export", Path(__file__).with_name("buurt_export.py"))
fixture = importlib.util.module_from_spec(_spec)
sys.modules["buurt_export"] = fixture
_spec.loader.exec_module(fixture)


@pytest.fixture(scope="module")
def built():  # noqa: ANN201
    return fixture.build()


@pytest.fixture(scope="module")
def exported(built, tmp_path_factory) -> Path:
    area, trends = built
    root = tmp_path_factory.mktemp("exports")
    return write_export(
        root,
        fixture.PERIODS[-1],
        area,
        MonitoringConfig(),
        model_version="m/1",
        data_fingerprint="f",
        history_tables={"trends": trends},
    )


@pytest.fixture(scope="module")
def page(built) -> str:
    area, trends = built
    return build_dashboard(area.table, DashboardConfig(), trends=trends.table, outcomes=default_outcomes())


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def _csv(exported: Path) -> pd.DataFrame:
    return pd.read_csv(exported / "trends.csv", dtype={"period": str, "area_code": str})


def test_trends_csv_holds_every_period_of_every_series(exported):
    t = _csv(exported)
    assert list(t.columns) == list(PUBLISHED_SERIES_COLUMNS)
    want = {
        "risk_mean": set(fixture.PERIODS),
        "share_elevated": set(fixture.PERIODS),
        "rate_outcome": set(fixture.LABELLED),
        "rate_registered_year": {str(y) for y in fixture.YEARS},
    }
    for series, periods in want.items():
        rows = t[t["series"] == series]
        assert set(rows["period"]) == periods, series
        # every area and band of the series has a row for every period (blank when suppressed)
        per_cell = rows.groupby(["area_code", "age_band"])["period"].nunique()
        assert (per_cell == len(periods)).all(), series
    assert set(t["period_type"]) == {"peildatum", "kalenderjaar"}
    # a series of an area is there only if something of it is published
    assert t.groupby(["area_code", "age_band", "series"])["value"].count().min() >= 1
    assert t["status"].eq("suppressed").any()  # ... and then with its blank periods
    blank = t["value"].isna()
    assert (t.loc[blank, "status"] == "suppressed").all() and t.loc[~blank, "status"].eq("published").all()
    assert (t.loc[~blank, "n_persons"] >= 10).all()
    shown = t[~blank]
    assert ((shown["lo"] <= shown["value"]) & (shown["value"] <= shown["hi"])).all()


def test_trends_csv_is_byte_identical_on_repeat(built, exported, tmp_path):
    area, trends = built
    again = write_export(
        tmp_path, fixture.PERIODS[-1], area, MonitoringConfig(), model_version="m/1", data_fingerprint="f",
        history_tables={"trends": trends},
    )  # fmt: skip
    for name in ("trends.csv", "manifest.json"):
        assert (again / name).read_bytes() == (exported / name).read_bytes()
    manifest = json.loads((exported / "manifest.json").read_text())
    assert "every period" in manifest["notes"]["history"]


def test_numbers_are_rounded_to_what_their_interval_supports(exported):
    t = _csv(exported).dropna(subset=["value"])
    text = (exported / "trends.csv").read_text().splitlines()
    assert not any(re.search(r"\.\d*0,", ln) for ln in text[1:])  # no padded zeros
    half = (t["hi"] - t["lo"]) / 2
    decimals = t["value"].map(lambda v: len(repr(float(v)).split(".")[1].rstrip("0")) if "." in repr(float(v)) else 0)
    # at most the decimal where the half-width has two significant digits
    allowed = np.clip(1 - np.floor(np.log10(half.where(half > 0, 1e-9))), 0, 3)
    bad = t[decimals > allowed]
    assert bad.empty, bad[["value", "lo", "hi"]].to_string()


def test_dashboard_and_trends_csv_agree(page, exported):
    data = _data(page)
    t = _csv(exported)
    pub = t[t["status"].eq("published") & t["area_level"].isin(DashboardConfig().trend_levels)]
    embedded = {}
    for code, bands in data["trends"].items():
        for band, series in bands.items():
            for name, pts in series.items():
                for i, v, lo, hi in pts:
                    date = data["dates"][i]
                    embedded[(code, band, name, date)] = (v, lo, hi)
    dates = pd.to_datetime(pub["period"].where(pub["period"].str.len() > 4, pub["period"] + "-01-01"))
    from_csv = {
        (r.area_code, r.age_band, r.series, d.strftime("%Y-%m-%d")): (r.value, r.lo, r.hi)
        for r, d in zip(pub.itertuples(), dates, strict=True)
    }
    assert embedded.keys() == from_csv.keys()
    for key, vals in from_csv.items():
        assert embedded[key] == pytest.approx(vals, abs=1e-12), key


def test_outcome_is_named_per_band_on_page_and_in_csv(page, exported):
    data = _data(page)
    for band, (offences, months) in default_outcomes().items():
        text = outcome_text(offences, months)
        assert data["outcomes"][band] == text
        assert text in data["texts"]["about_what"]
    t = _csv(exported)
    m = t.drop_duplicates(["age_band", "series"]).set_index(["age_band", "series"])["measure"]
    assert "drugsdelict (Opiumwet) binnen 24 maanden" in m[("13-19", "risk_mean")]
    assert "enig delict binnen 48 maanden" in m[("8-12", "risk_mean")]
    assert "zelfde uitkomst" in m[("13-19", "rate_outcome")]
    assert "drugsdelict (Opiumwet) binnen 24 maanden" in m[("13-19", "rate_outcome")]
    assert "andere maat" in m[("13-19", "rate_registered_year")]


def test_no_all_ages_risk(page, exported, built):
    area, _ = built
    assert "all" in set(area.table["age_band"])  # the area table has a band total ...
    data = _data(page)
    assert data["bands"] == ["8-12", "13-19", "20-23"]  # ... the dashboard shows no pooled risk
    assert all("all" not in v for v in data["trends"].values())
    assert "band_all" not in data["texts"]
    assert set(_csv(exported)["age_band"]) == {"8-12", "13-19", "20-23"}


def test_drilldown_data_reaches_buurten(page, built):
    area, _ = built
    data = _data(page)
    latest = area.table[area.table["period"] == fixture.PERIODS[-1]]
    buurten = set(latest.loc[latest["area_level"] == "buurt", "area_code"])
    assert buurten <= set(data["names"])
    shown = set(data["values"]["13-19"]) | set(data["status"]["13-19"])
    assert buurten <= shown  # each buurt has its figures or the reason it is empty
    with_trend = {c for c in data["trends"] if c.startswith("BU")}
    assert with_trend and all(
        "risk_mean" in data["trends"][c]["13-19"] for c in with_trend if "13-19" in data["trends"][c]
    )


def test_suppressed_cells_say_why(page, built):
    area, _ = built
    data = _data(page)
    latest = area.table[(area.table["period"] == fixture.PERIODS[-1]) & (area.table["age_band"] == "13-19")]
    sup = set(latest.loc[latest["status"] != "published", "area_code"])
    assert sup and sup <= set(data["status"]["13-19"])
    for key in set(data["status"]["13-19"].values()):
        assert data["texts"][key]
    assert data["texts"]["reason_small"] == "te weinig jongeren om te tonen (< 10)"
    assert data["texts"]["reason_protect"] == "verborgen om een ander getal te beschermen"


@pytest.mark.parametrize(
    ("status", "key"),
    [
        ("suppressed", "reason_generic"),
        ("suppressed_small", "reason_small"),
        ("suppressed_primary", "reason_small"),
        ("suppressed_secondary", "reason_protect"),
        ("published", "reason_missing"),
    ],
)
def test_reason_from_status(status, key):
    assert _reason_key(status) == key


@given(
    x=st.floats(0.0, 1000.0),
    half=st.floats(1e-4, 100.0),
    digits=st.integers(1, 3),
)
def test_rounding_keeps_the_value_near_and_the_interval_around_it(x, half, digits):
    v, lo, hi = round_to_interval(np.array([x]), np.array([x - half]), np.array([x + half]), digits, 6)
    # the last decimal kept: where the half-width, written with `digits` significant digits,
    # has its last digit (0.97 at one digit reads "1", so whole numbers)
    d0 = digits - 1 - int(np.floor(np.log10(half)))
    shown = np.round(half * 10.0**d0) / 10.0**d0
    d = min(max(digits - 1 - int(np.floor(np.log10(shown))), 0), 6)
    assert abs(v[0] - x) <= 0.5 * 10.0**-d + 1e-9
    assert lo[0] <= v[0] <= hi[0]


def test_round_to_interval_hand_computed():
    v, lo, hi = round_to_interval(np.array([6.109, 15.93, 25.87]), np.array([6.031, 14.5, 21.4]),
                                  np.array([6.187, 17.3, 31.3]), 2, 3)  # fmt: skip
    # half-widths 0.078, 1.4, 4.95: two significant digits -> 3, 1 and 1 decimals
    assert (
        v.tolist() == [6.109, 15.9, 25.9] and lo.tolist() == [6.031, 14.5, 21.4] and hi.tolist() == [6.187, 17.3, 31.3]
    )
    v, lo, hi = round_to_interval(np.array([25.87]), np.array([21.4]), np.array([31.3]), 1, 3)
    assert (v[0], lo[0], hi[0]) == (26.0, 21.0, 31.0)
    # a half-width of 0.996 reads 1.0 at two significant digits: one decimal, not two
    v, lo, hi = round_to_interval(np.array([6.02]), np.array([5.024]), np.array([7.016]), 2, 3)
    assert (v[0], lo[0], hi[0]) == (6.0, 5.0, 7.0)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_buurt_view_renders_with_reason_and_breadcrumbs(page, built, tmp_path):
    area, _ = built
    latest = area.table[(area.table["period"] == fixture.PERIODS[-1]) & (area.table["age_band"] == "13-19")]
    sup = latest[(latest["status"] != "published") & (latest["area_level"] == "buurt")]["area_code"]
    buurt = sup.iloc[0] if len(sup) else latest.loc[latest["area_level"] == "buurt", "area_code"].iloc[0]
    f = tmp_path / "dashboard.html"
    f.write_text(page, encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0"]
    res = subprocess.run(
        [CHROMIUM, *flags, "--virtual-time-budget=5000", "--dump-dom", f.as_uri() + f"#{buurt}&band=13-19"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert [ln for ln in res.stderr.splitlines() if ":CONSOLE" in ln] == []
    dom = res.stdout
    assert 'data-rendered="ok"' in dom
    crumbs = re.search(r'<nav class="crumbs">(.*?)</nav>', dom, re.S).group(1)
    assert crumbs.count("data-code=") == 3  # Nederland > gemeente > wijk > (this buurt)
    assert f'class="area current" data-code="{buurt}"' in dom
    if len(sup):
        assert "verborgen om een ander getal te beschermen" in dom or "te weinig jongeren" in dom


def test_observed_counts_sum_the_effects_panel_up_to_gemeente_and_land():
    from aanwas.stages.export import context_offences, observed_for_trends
    from monitoring.monitor_config import MonitorConfig, TrendConfig

    panel = pd.DataFrame(
        {
            "period": [2020, 2020, 2020, 2021],
            "area_level": "wijk",
            "area_code": ["WK016800", "WK016801", "WK039700", "WK016800"],
            "age_band": "13-19",
            "n_persons": [100, 50, 80, 110],
            "n_registered": [3, 2, 4, 5],
        }
    )
    mcfg = MonitorConfig()
    out = observed_for_trends(None, mcfg, "NL00", panel).set_index(["period", "area_code"])
    assert set(out["area_level"]) == {"gemeente", "land"}
    assert out.loc[(2020, "GM0168"), ["n_persons", "n_registered"]].tolist() == [150, 5]
    assert out.loc[(2020, "NL00"), ["n_persons", "n_registered"]].tolist() == [230, 9]
    assert out.loc[(2021, "NL00"), ["n_persons", "n_registered"]].tolist() == [110, 5]
    wk = MonitorConfig(trends=TrendConfig(observed_levels=("land", "gemeente", "wijk")))
    assert "wijk" in set(observed_for_trends(None, wk, "NL00", panel)["area_level"])
    from features.config import FeatureConfig

    offences = context_offences(mcfg, FeatureConfig().labels)
    assert set(offences) == {"8-12", "13-19", "20-23"} and all(len(o) > 0 for o in offences.values())


def test_a_status_that_names_the_reason_is_shown(built):
    area, trends = built
    t = area.table
    latest = t["period"].eq(fixture.PERIODS[-1]) & t["age_band"].eq("13-19") & t["status"].ne("published")
    codes = t.loc[latest, "area_code"].tolist()
    assert len(codes) >= 2
    t.loc[latest, "status"] = ["suppressed_small"] + ["suppressed_secondary"] * (len(codes) - 1)
    data = _data(build_dashboard(t, DashboardConfig(), trends=trends.table))
    assert data["status"]["13-19"][codes[0]] == "reason_small"
    assert data["status"]["13-19"][codes[1]] == "reason_protect"
