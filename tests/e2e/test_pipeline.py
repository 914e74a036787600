"""End to end: the demo pipeline on a tiny synthetic population, checked against the promises."""

from __future__ import annotations

import json
import re

import pandas as pd

AREA_COLUMNS = [
    "period", "area_level", "area_code", "area_name", "age_band", "n_persons", "n_elevated",
    "share_elevated", "risk_mean", "risk_lo", "risk_hi", "status",
]  # fmt: skip


def test_demo_writes_every_stage(demo_dir):
    for sub in ("raw", "truth", "work", "mlflow", "reports", "exports", "monitor"):
        assert (demo_dir / sub).is_dir(), sub
    verdict = json.loads((demo_dir / "monitor" / "drift.json").read_text())
    assert verdict["scored_with"]  # the champion's scores are part of the drift verdict
    drift_scores = pd.read_csv(demo_dir / "monitor" / "drift_scores.csv")
    assert set(drift_scores["age_band"].astype(str)) == {"8-12", "13-19", "20-23"}
    periods = sorted(p.name for p in (demo_dir / "exports").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(periods) >= 4
    latest = demo_dir / "exports" / periods[-1]
    names = ("area_risk.csv", "area_risk.parquet", "area_risk.geojson", "manifest.json", "dashboard.html")
    for name in (*names, "effects.csv", "trends.csv"):
        assert (latest / name).exists(), name
    # trends.csv: the whole history of every series, one outcome per band (no all-ages rows)
    trends = pd.read_csv(latest / "trends.csv", dtype={"period": str})
    span = trends.groupby("series")["period"].nunique()
    assert span["risk_mean"] == len(periods) and span["rate_registered_year"] > len(periods)
    assert set(trends["age_band"]) == {"8-12", "13-19", "20-23"}
    # effects.csv: no infinite interval end; a blank end of a published estimate says why
    effects = pd.read_csv(latest / "effects.csv", keep_default_na=False, na_values=[""])
    bounds = effects[["ci_low", "ci_high"]].astype(float)
    assert not bounds.isin([float("inf"), float("-inf")]).any().any()
    blank_end = bounds.isna().any(axis=1) & effects["estimate"].notna()
    assert (effects.loc[blank_end, "reason"].fillna("") != "").all()


def test_area_export_has_the_contract_columns_and_passes_the_threshold(demo_dir):
    latest = sorted(p for p in (demo_dir / "exports").iterdir() if p.is_dir())[-1]
    area = pd.read_csv(latest / "area_risk.csv", dtype={"period": str})
    assert list(area.columns) == AREA_COLUMNS
    pub = area[area["status"] == "published"]
    assert (pub["n_persons"] >= 10).all()
    elev = pub.dropna(subset=["n_elevated"])
    assert ((elev["n_elevated"] >= 10) & (elev["n_persons"] - elev["n_elevated"] >= 10)).all()
    sup = area[area["status"] == "suppressed"]
    assert sup[["n_persons", "risk_mean"]].isna().all().all()
    manifest = json.loads((latest / "manifest.json").read_text())
    assert "files" in json.dumps(manifest) or "sha256" in json.dumps(manifest)


def test_the_demo_shows_buurten(demo_dir):
    """The demo's region is dense enough that most buurt x band rows publish a risk with its
    interval, in every band and period (measured at this 40 % density: see docs/dev/performance.md)."""
    from aanwas.stages.demo import published_share

    for period in sorted(p for p in (demo_dir / "exports").iterdir() if p.is_dir()):
        area = pd.read_parquet(period / "area_risk.parquet")
        shares = published_share(area)
        assert set(shares) >= {"8-12", "13-19", "20-23"}
        assert min(shares.values()) > 0.5, (period.name, shares)
        pub = area[(area["area_level"] == "buurt") & area["risk_mean"].notna()]
        assert (pub["risk_lo"] <= pub["risk_mean"]).all() and (pub["risk_mean"] <= pub["risk_hi"]).all()


def test_no_pseudonym_or_person_table_leaves(demo_dir):
    from aanwas.stages.demo import DemoLayout, output_check

    assert output_check(DemoLayout(demo_dir)) == []


def test_no_league_table_in_exports_or_dashboard(demo_dir):
    for f in (demo_dir / "exports").rglob("*"):
        if f.suffix in (".csv", ".html", ".json"):
            text = f.read_text(encoding="utf-8").lower()
            assert not re.search(r"\brank\b|\branking\b|worst|top[ -]?\d+", text), f


def test_reports_are_offline(demo_dir):
    reports = list((demo_dir / "reports").rglob("*.html"))
    assert reports
    for f in [*reports, *(demo_dir / "exports").rglob("dashboard.html")]:
        html = f.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']https?://""", html), f
