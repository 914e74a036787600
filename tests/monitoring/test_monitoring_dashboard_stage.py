"""The ``aanwas monitor`` command: writes trends and the dashboard atomically, errors cleanly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from aanwas.cli import app

_spec = importlib.util.spec_from_file_location("_dash_tests", Path(__file__).with_name("test_monitoring_dashboard.py"))
_dash = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dash)


def test_monitor_command_writes_trends_and_dashboard(tmp_path: Path):
    table = _dash.fabricate_area_table()
    refresh = tmp_path / "exports"
    for period, part in table.groupby("period"):
        d = refresh / period[:4]
        d.mkdir(parents=True)
        part.to_csv(d / "area_risk.csv", index=False)
    out = tmp_path / "monitor"
    res = CliRunner().invoke(app, ["monitor", "--out", str(out), "--area-table", str(refresh)])
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["dashboard.html", "monitor_summary.json", "trend_summary.csv", "trends.csv"]
    trends = pd.read_csv(out / "trends.csv")
    assert set(trends["period"]) == {"2022-01-01", "2023-01-01", "2024-01-01"}
    assert "rinpersoon" not in trends.columns
    html = (out / "dashboard.html").read_text(encoding="utf-8")
    assert "https://" not in html and "Peildatum: 2024-01-01" in html
    assert json.loads((out / "monitor_summary.json").read_text())["trends"]["n_series_rows"] == len(trends)


def test_monitor_command_bad_input_exit_2_and_nothing_written(tmp_path: Path):
    out = tmp_path / "monitor"
    runner = CliRunner()
    res = runner.invoke(app, ["monitor", "--out", str(out)])
    assert res.exit_code == 2 and "give at least one of" in res.output
    bad = tmp_path / "bad.csv"
    _dash.fabricate_area_table().drop(columns="risk_hi").to_csv(bad, index=False)
    res = runner.invoke(app, ["monitor", "--out", str(out), "--area-table", str(bad)])
    assert res.exit_code == 2 and "risk_hi" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    res = runner.invoke(app, ["monitor", "--out", str(out), "--area-table", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2 and not out.exists()
