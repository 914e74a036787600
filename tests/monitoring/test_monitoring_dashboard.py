"""The offline dashboard: self-contained, no ranks, labels only where intervals support them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aanwas.common.errors import InputError
from features.geography import load_geography
from monitoring.monitor_config import DashboardConfig
from monitoring.publishing.dashboard import build_dashboard, label_areas, load_gemeenten_geojson, project_gemeenten

GEMEENTEN = ("GM0202", "GM0363", "GM0014")
SENTINEL = 0.4242421


def fabricate_area_table(periods=("2022-01-01", "2023-01-01", "2024-01-01"), seed=0, min_cell=10) -> pd.DataFrame:
    """A disclosure-checked-looking area table for a few real gemeenten (suppressed cells blank)."""
    geo = load_geography()
    a = geo.areas[geo.areas["gm_code"].isin(GEMEENTEN)].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    eff = rng.normal(0, 0.4, len(a))
    frames = []
    for k, period in enumerate(periods):
        for band, base, frac in (("8-12", 0.01, 0.3), ("13-19", 0.05, 0.45), ("20-23", 0.04, 0.25)):
            n = np.round(a["age_15_25"].to_numpy() * frac).astype(int)
            mean = base * np.exp(eff + 0.05 * k)
            half = 1.645 * np.sqrt(mean * (1 - mean) / np.maximum(n, 1))
            n_el = np.round(n * np.minimum(1.5 * mean, 1)).astype(int)
            ok = (n >= min_cell) & (n_el >= min_cell) & (n - n_el >= min_cell)
            frames.append(
                pd.DataFrame(
                    {
                        "period": period,
                        "area_level": a["level"],
                        "area_code": a["code"],
                        "area_name": a["name"],
                        "age_band": band,
                        "n_persons": np.where(ok, n, np.nan),
                        "n_elevated": np.where(ok, n_el, np.nan),
                        "share_elevated": np.where(ok, n_el / np.maximum(n, 1), np.nan),
                        "risk_mean": np.where(ok, mean, np.nan),
                        "risk_lo": np.where(ok, np.maximum(mean - half, 0), np.nan),
                        "risk_hi": np.where(ok, mean + half, np.nan),
                        "status": np.where(ok, "published", "suppressed"),
                    }
                )
            )
            m = base * np.exp(0.05 * k)
            frames.append(
                pd.DataFrame(
                    {
                        "period": [period],
                        "area_level": ["land"],
                        "area_code": ["NL00"],
                        "area_name": ["Nederland"],
                        "age_band": [band],
                        "n_persons": [100000.0],
                        "n_elevated": [100000 * 1.5 * m],
                        "share_elevated": [1.5 * m],
                        "risk_mean": [m],
                        "risk_lo": [0.99 * m],
                        "risk_hi": [1.01 * m],
                        "status": ["published"],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


REGISTRY = pd.DataFrame(
    {
        "intervention_id": ["IV1"],
        "name": ["Preventie met gezag"],
        "area_codes": ["GM0202"],
        "age_bands": ["13-19"],
        "start_date": ["2023-01-01"],
    }
)
EFFECTS = pd.DataFrame(
    {
        "intervention_id": ["IV1"] * 3,
        "estimate": [-5.1, 0.8, 0.2],
        "ci_low": [-9.0, -3.1, -np.inf],  # an unbounded side (randomization inference never rejects there)
        "ci_high": [-1.2, 4.4, 4.1],
        "method": ["did_cs", "placebo_time:did_cs", "placebo_space:did_cs"],
        "n_areas": [12, 12, 12],
    }
)


@pytest.fixture(scope="module")
def area_table() -> pd.DataFrame:
    return fabricate_area_table()


@pytest.fixture(scope="module")
def page(area_table) -> str:
    return build_dashboard(
        area_table,
        DashboardConfig(),
        registry=REGISTRY,
        effects=EFFECTS,
        horizons={"8-12": 48, "13-19": 24, "20-23": 24},
    )


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def test_no_external_references(page):
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page, re.I)
    assert "@import" not in page and "<link" not in page.lower() and "<iframe" not in page.lower()
    assert "http://" not in page and "https://" not in page  # not even in text or script
    assert "<script src" not in page.lower()


def test_no_rank_column_and_alphabetical_not_by_risk(page):
    lower = page.lower()
    data = _data(page)
    keys = " ".join(data["texts"]).lower()
    code_and_text = re.sub(r'<script type="application/json".*?</script>', "", lower, flags=re.S)  # drop area names
    assert "rank" not in code_and_text and "rank" not in keys  # no rank column, no ranking code
    for word in (">rang<", ">positie<", "top 10", "slechtste", "hoogste risico"):
        assert word not in lower
    headers = re.findall(r"esc\(T\.(col_\w+)\)", page)
    assert set(headers) >= {"col_area", "col_n", "col_risk", "col_label"}
    # every listing is sorted by name; nothing sorts by a value
    assert ".sort(byName)" in page
    assert not re.search(r"sort\(function \(a, b\) \{ return [ab]\.(mean|share|n|lo|hi)", page)
    assert "geen ranglijst" in lower


def test_rank_columns_are_refused(area_table):
    with pytest.raises(InputError, match="rank"):
        build_dashboard(area_table.assign(rank=1), DashboardConfig())


def test_dutch_by_default_with_explanation(page):
    assert '<html lang="nl">' in page
    for text in (
        "Wat deze cijfers wel en niet zijn",
        "preventie",
        "individuele jongeren",
        "waar de politie kijkt",
        "verhoogd",
        "24 maanden",
    ):
        assert text in page
    en = build_dashboard(fabricate_area_table(periods=("2024-01-01",)), DashboardConfig(language="en"))
    assert '<html lang="en">' in en and "where the police look" in en


def test_suppressed_values_never_embedded(area_table):
    t = area_table.copy()
    sup = t.index[(t["status"] == "suppressed") & (t["period"] == "2024-01-01")][0]
    t.loc[sup, "risk_mean"] = SENTINEL  # a leak through a suppressed cell must not reach the page
    page = build_dashboard(t, DashboardConfig())
    assert str(SENTINEL)[:7] not in page
    data = _data(page)
    code, band = t.loc[sup, "area_code"], t.loc[sup, "age_band"]
    assert code not in data["values"].get(band, {})


def test_elevated_only_where_interval_is_above_national(page, area_table):
    data = _data(page)
    latest = area_table[area_table["period"] == "2024-01-01"]
    nat = latest[latest["area_level"] == "land"].set_index("age_band")["risk_mean"]
    for band, vals in data["values"].items():
        for _code, v in vals.items():
            n, n_el, share, mean, lo, hi, label = v
            if label == "elevated":
                assert lo > nat[band]
            elif label == "lower":
                assert hi < nat[band]
            elif label == "no_difference":
                assert lo <= nat[band] * (1 + 1e-3) and hi >= nat[band] * (1 - 1e-3)
    labels = [v[-1] for vals in data["values"].values() for v in vals.values()]
    assert "elevated" in labels and "no_difference" in labels


@given(
    mean=st.floats(0.001, 0.5),
    half_lo=st.floats(0.0, 0.2),
    half_hi=st.floats(0.0, 0.2),
    ref=st.floats(0.001, 0.5),
)
def test_label_rule_property(mean, half_lo, half_hi, ref):
    t = pd.DataFrame(
        {
            "period": "2024",
            "area_level": ["land", "wijk"],
            "area_code": ["NL00", "WK036300"],
            "age_band": "13-19",
            "n_persons": [1000, 50],
            "risk_mean": [ref, mean],
            "risk_lo": [ref, mean - half_lo],
            "risk_hi": [ref, mean + half_hi],
            "status": "published",
        }
    )
    lab = label_areas(t).iloc[1]
    assert (lab == "elevated") == (mean - half_lo > ref)
    assert (lab == "lower") == (mean + half_hi < ref)


def test_label_fallback_without_national_row_and_suppressed():
    t = pd.DataFrame(
        {
            "period": "2024",
            "area_level": ["gemeente", "gemeente", "gemeente"],
            "area_code": ["GM1", "GM2", "GM3"],
            "age_band": "13-19",
            "n_persons": [100, 300, np.nan],
            "risk_mean": [0.10, 0.02, np.nan],
            "risk_lo": [0.07, 0.015, np.nan],
            "risk_hi": [0.13, 0.025, np.nan],
            "status": ["published", "published", "suppressed"],
        }
    )
    # reference = (100*0.10 + 300*0.02) / 400 = 0.04
    assert label_areas(t).tolist() == ["elevated", "lower", "suppressed"]


def test_map_projection_covers_all_gemeenten():
    gj = load_gemeenten_geojson()
    paths, w, h = project_gemeenten(gj, 500, 1)
    assert len(paths) == len(gj["features"]) == 342
    assert w == 500 and 500 < h < 700  # the Netherlands is taller than wide
    nums = np.array([float(x) for _, _, d in paths for x in re.findall(r"-?\d+\.?\d*", d)])
    assert nums.min() >= -0.05 and nums.max() <= h + 0.05
    codes = {c for c, _, _ in paths}
    geo = load_geography()
    assert codes == set(geo.areas.loc[geo.areas["level"] == "gemeente", "code"])


def test_page_embeds_trends_markers_and_effects(page):
    data = _data(page)
    assert data["period"] == "2024-01-01"
    assert data["dates"] == ["2022-01-01", "2023-01-01", "2024-01-01"]
    assert "risk_mean" in data["trends"]["NL00"]["13-19"]
    iv = data["interventions"][0]
    assert iv["start"] == "2023-01-01" and iv["areas"] == ["GM0202"]
    assert [e["method"] for e in iv["effects"]] == ["did_cs", "placebo_time:did_cs", "placebo_space:did_cs"]
    assert [(e["lo"], e["hi"]) for e in iv["effects"]] == [(-9.0, -1.2), (-3.1, 4.4), ("-inf", 4.1)]


# ---------------------------------------------------------------------------------------------
# headless Chromium: renders without console errors
# ---------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_renders_in_headless_chromium_without_console_errors(page, tmp_path: Path):
    html_file = tmp_path / "dashboard.html"
    html_file.write_text(page, encoding="utf-8")
    url = html_file.as_uri() + "#GM0202&band=13-19"
    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", url])
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == [], console
    assert 'data-rendered="ok"' in dom.stdout
    # the drill-down table lists the wijken of Arnhem alphabetically
    names = re.findall(r'<tr class="area[^"]*" data-code="(WK\d+)" data-level="wijk"', dom.stdout)
    geo = load_geography()
    wk = geo.areas[(geo.areas["level"] == "wijk") & (geo.areas["gm_code"] == "GM0202")]
    by_name = [c for _, c in sorted(zip(wk["name"].str.casefold(), wk["code"], strict=False))]
    assert names == by_name
    assert "<svg" in dom.stdout and "start Preventie met gezag" in dom.stdout
    # one level down: the wijk shows its buurten; the old two-level link form still works
    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", html_file.as_uri() + "#GM0202/WK020201&band=13-19"])
    assert [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln] == []
    assert 'data-level="buurt"' in dom.stdout and 'class="crumbs"' in dom.stdout
    shot = tmp_path / "shot.png"
    res = _chromium(["--window-size=1280,1600", f"--screenshot={shot}", url])
    assert [ln for ln in res.stderr.splitlines() if ":CONSOLE" in ln] == []
    assert shot.exists() and shot.stat().st_size > 20_000


# ---------------------------------------------------------------------------------------------
# the page's words: Dutch effects outcome, the top level named, the calendar-year offences
# ---------------------------------------------------------------------------------------------

CONTEXT = {
    "8-12": ("opiumwet", "geweld", "vermogen", "vernieling", "overig"),
    "13-19": ("opiumwet",),
    "20-23": ("opiumwet",),
}


def test_effects_outcome_is_the_calendar_year_measure_in_dutch(area_table):
    english = EFFECTS.assign(outcome="suspect registrations per 1,000 young people per year: drug law (Opiumwet)")
    page = build_dashboard(area_table, DashboardConfig(), registry=REGISTRY, effects=english, context_offences=CONTEXT)
    data = _data(page)
    want = "jongeren geregistreerd als verdachte van een drugsdelict (Opiumwet) in het kalenderjaar, per 1.000 jongeren"
    assert data["interventions"][0]["outcome"] == want
    # the same definition as the calendar-year chart of the intervention's band
    assert data["measures"]["13-19"]["rate_registered_year"].endswith(want)
    assert "suspect registrations" not in page


def test_calendar_year_offences_are_named_where_the_outcome_is_explained(area_table):
    data = _data(build_dashboard(area_table, DashboardConfig(), context_offences=CONTEXT))
    about = data["texts"]["about_what"]
    drugs = "een drugsdelict (Opiumwet)"
    assert f"8-12 jaar: enig delict; 13-19 jaar: {drugs}; 20-23 jaar: {drugs}" in about
    assert "een drugsdelict (Opiumwet) in het kalenderjaar" in data["measures"]["13-19"]["rate_registered_year"]
    # without them (a library caller) every offence is counted, and the page says so
    plain = _data(build_dashboard(area_table, DashboardConfig()))
    assert "13-19 jaar: enig delict" in plain["texts"]["about_what"]


def test_the_top_level_is_named_not_typed_land(area_table):
    assert _data(build_dashboard(area_table, DashboardConfig()))["texts"]["level_land"] == "Nederland"
    region = _data(build_dashboard(area_table, DashboardConfig(), reference_name="Gooi en Vechtstreek"))
    assert region["texts"]["level_land"] == region["texts"]["national"] == "Gooi en Vechtstreek"
    assert "land" not in {v for k, v in region["texts"].items() if k.startswith("level_")}


def test_unbounded_interval_ends_are_blank_with_a_reason(area_table):
    from monitoring.effects.interventions import REASON_UNBOUNDED, finite_intervals

    # as the export passes it: nullable floats after disclosure control (a blank end is pd.NA)
    checked = finite_intervals(EFFECTS).astype({"estimate": "Float64", "ci_low": "Float64", "ci_high": "Float64"})
    assert checked["ci_low"].isna().sum() == 1
    page = build_dashboard(area_table, DashboardConfig(), registry=REGISTRY, effects=checked)
    effs = _data(page)["interventions"][0]["effects"]
    assert [(e["lo"], e["hi"], e.get("reason")) for e in effs] == [
        (-9.0, -1.2, None),
        (-3.1, 4.4, None),
        (None, 4.1, REASON_UNBOUNDED),  # only the infinite end is blank
    ]


# several interventions starting within a year of each other (two on the same day) in GM0202
CROWDED = pd.DataFrame(
    {
        "intervention_id": ["IV1", "IV2", "IV3", "IV4"],
        "name": ["Preventie met gezag", "School aan zet", "Jongerenwerk plus", "Sport in de wijk"],
        "area_codes": ["GM0202"] * 4,
        "age_bands": ["13-19"] * 4,
        "start_date": ["2022-01-01", "2022-07-01", "2023-01-01", "2023-01-01"],
    }
)
# after rendering: the boxes of the first chart's start labels, as JSON in the DOM
BOXES = (
    "<script>setTimeout(function () { var t = document.querySelector('#detail svg') || document.querySelector('svg');"
    " var out = []; document.querySelectorAll('svg')[1].querySelectorAll('text[fill=\"#c0392b\"]').forEach(function (e)"
    " { var b = e.getBBox(); out.push([b.x, b.y, b.width, b.height, e.textContent]); });"
    " var p = document.createElement('pre'); p.id = 'boxes'; p.textContent = JSON.stringify(out);"
    " document.body.appendChild(p); }, 1000);</script>"
)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_intervention_start_labels_do_not_overlap(area_table, tmp_path: Path):
    page = build_dashboard(area_table, DashboardConfig(), registry=CROWDED)
    html_file = tmp_path / "dashboard.html"
    html_file.write_text(page.replace("</body>", BOXES + "</body>"), encoding="utf-8")
    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", html_file.as_uri() + "#GM0202&band=13-19"])
    m = re.search(r'<pre id="boxes">(.*?)</pre>', dom.stdout, re.S)
    assert m, dom.stderr[-2000:]
    boxes = json.loads(m.group(1))
    # one label per start date, the two same-day starts named together
    assert sorted(b[4] for b in boxes) == [
        "start Jongerenwerk plus, Sport in de wijk",
        "start Preventie met gezag",
        "start School aan zet",
    ]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
            assert apart, (a, b)
