"""Load: exports and reports for every gemeente (with its wijken and buurten), 3 bands and at
least 4 periods, through the command line, then the output check.

``test_load_national_areas`` is the issue's target (scale 0.1, buurt level; slow, run with
``pytest -m slow tests/e2e/test_load.py``). The scale and the finest area level can be set
with AANWAS_LOAD_SCALE and AANWAS_LOAD_LEVEL (e.g. ``wijk`` while the buurt-level LP audit is
too slow). ``test_load_every_area_of_the_region_small`` is the CI version (the demo's own exports);
``test_load_every_wijk_small`` (slow) exports the demo population down to every wijk. The
same run by hand is in docs/dev/performance.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.stages.demo import DEMO_REGION, DemoLayout, output_check
from features.geography import load_geography
from features.sources.region import resolve_region

BANDS = ["8-12", "13-19", "20-23"]
#: Lighter training for the load test. The evaluation gates stay on: the evaluation runs inside
#: training's gate check, and ``aanwas report`` renders the run's evaluation artifacts (a run
#: trained with ``training.promotion.run_evaluation_gates=false`` has none, so no report).
LOAD_TRAIN = [
    "--set", "training.tuning.n_trials=2",
    "--set", "evaluation.bootstrap.reps=50",
    "--set", "evaluation.shap.max_rows=2000",
]  # fmt: skip


def _run(args: list[str]) -> float:
    """Run one command; print its wall time and the load average at its end (seen with -s)."""
    t = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"{args[0]}: {result.output[-3000:]} {result.exception!r}"
    wall = time.perf_counter() - t
    last = [line for line in result.output.splitlines() if line.strip()][-1:]
    load = os.getloadavg()[0]
    print(f"load test: {args[0]} {wall:.0f} s (load average {load:.1f}) | {''.join(last)[:300]}", flush=True)
    return wall


def check_every_area(exports: Path, level: str, gemeenten: tuple[str, ...] | None = None) -> list[Path]:
    """Every period has a row for every area down to ``level`` and every band (+ total); with
    ``gemeenten`` (a region's delivery) for the areas of those gemeenten and no other."""
    geo = load_geography().areas
    if gemeenten is not None:
        geo = geo[geo["gm_code"].isin(gemeenten)]
    levels = ["gemeente", "wijk", "buurt"][: ["gemeente", "wijk", "buurt"].index(level) + 1]
    periods = sorted(p for p in exports.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(periods) >= 4, [p.name for p in periods]
    for p in periods:
        area = pd.read_parquet(p / "area_risk.parquet")
        for lvl in levels:
            want = set(geo.loc[geo["level"] == lvl, "code"])
            got = area[area["area_level"] == lvl]
            assert set(got["area_code"]) == want, (p.name, lvl, len(want - set(got["area_code"])))
            assert set(BANDS) <= set(got["age_band"]), (p.name, lvl)
            per_band = got.groupby("age_band")["area_code"].nunique()
            assert (per_band[BANDS] == len(want)).all(), (p.name, lvl)
        assert (area["status"].isin(["published", "suppressed"])).all()
    return periods


def test_output_check_of_a_run_without_monitor(tmp_path: Path) -> None:
    """The load test runs synth to export but not ``monitor``: the output check scans what the
    run wrote (and still finds a pseudonym there) instead of flagging the missing directory."""
    layout = DemoLayout(tmp_path)
    for d in (layout.raw, layout.work, layout.exports / "2024-01-01", layout.reports):
        d.mkdir(parents=True)
    pd.DataFrame({"rinpersoon": [123456789, 987654321]}).to_parquet(layout.raw / "persons.parquet")
    pd.DataFrame({"ref_date": pd.to_datetime(["2024-01-01"] * 14)}).to_parquet(layout.work / "features.parquet")
    (layout.reports / "report.html").write_text("<p>AUC 0.77</p>")
    assert output_check(layout) == []
    (layout.exports / "2024-01-01" / "notes.txt").write_text("person 987654321")
    assert [Path(f.path).name for f in output_check(layout)] == ["notes.txt"]


def test_load_every_area_of_the_region_small(demo_dir: Path) -> None:
    """CI: the demo's exports (its region at 40 % density, buurt level) hold every gemeente, wijk
    and buurt of the region x band x period, the region's total, and nothing outside it."""
    region = resolve_region(DEMO_REGION)
    periods = check_every_area(DemoLayout(demo_dir).exports, "buurt", region)
    assert len(periods) >= 4
    assert (periods[-1] / "dashboard.html").exists()
    area = pd.read_parquet(periods[-1] / "area_risk.parquet")
    assert len(area.query("area_level == 'gemeente'")) == len(region) * 4
    assert area.loc[area["area_level"] == "land", "area_name"].unique().tolist() == ["Gooi en Vechtstreek"]


@pytest.mark.slow
def test_load_every_wijk_small(demo_dir: Path, tmp_path: Path) -> None:
    """The demo population exported again at wijk level (the demo's region since session 6;
    the figures below are the national demo's of session 4).

    Slow: session 4 measured 1,428 s for the test call (plus 89 s for the demo fixture) on the
    shared machine (load 1.5-2.5, ``nice -n 10``, nearly a full core), 99 % of it in the LP
    disclosure audit: ~200 s per period, because at scale 0.005 nearly every count is hidden
    (89 % of the n_persons counts, all but a handful of the n_elevated counts), far sparser than
    scale 0.1 (~26 s per period). Back into CI only if the audit of such sparse tables
    gets well under ~60 s for all 7 periods; today it would add ~24 min to CI.
    """
    layout = DemoLayout(demo_dir)
    exports = tmp_path / "exports"
    _run(
        [
            "export", "--work", layout.work, "--out", exports, "--mlflow-uri", layout.mlflow_uri,
            "--data", layout.raw, "--set", 'monitoring.aggregate.finest_level="wijk"',
        ]
    )  # fmt: skip
    periods = check_every_area(exports, "wijk", resolve_region(DEMO_REGION))
    assert (periods[-1] / "dashboard.html").exists()


@pytest.mark.slow
def test_load_national_areas(tmp_path_factory: pytest.TempPathFactory) -> None:
    scale = os.environ.get("AANWAS_LOAD_SCALE", "0.1")
    level = os.environ.get("AANWAS_LOAD_LEVEL", "buurt")
    root = Path(os.environ.get("AANWAS_LOAD_DIR") or tmp_path_factory.mktemp("load"))
    layout = DemoLayout(root)
    times = {}
    times["synth"] = _run(["synth", "--scale", scale, "--seed", "1", "--out", root])
    times["features"] = _run(["features", "--data", layout.raw, "--work", layout.work])
    if not (root / "mlflow" / "mlflow.db").exists():
        (root / "mlflow").mkdir(exist_ok=True)
        train = ["train", "--work", layout.work, "--truth", layout.truth, "--mlflow-uri", layout.mlflow_uri]
        times["train"] = _run([*train, *LOAD_TRAIN])
    # one report per band (the run behind the champions)
    from mlflow.tracking import MlflowClient

    run_id = MlflowClient(layout.mlflow_uri).get_model_version_by_alias("aanwas-13-19", "champion").run_id
    times["report"] = _run(["report", "--run-id", run_id, "--out", layout.reports, "--mlflow-uri", layout.mlflow_uri])
    times["export"] = _run(
        [
            "export", "--work", layout.work, "--out", layout.exports, "--mlflow-uri", layout.mlflow_uri,
            "--data", layout.raw, "--set", f'monitoring.aggregate.finest_level="{level}"',
        ]
    )  # fmt: skip
    check_every_area(layout.exports, level)
    assert len(list(layout.reports.rglob("*.html"))) >= len(BANDS)
    times["output check"] = time.perf_counter()
    assert output_check(layout) == []
    times["output check"] = time.perf_counter() - times["output check"]
    print(f"load scale {scale} level {level}: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
