"""evaluate_model, artifacts, self-contained HTML (checked in headless Chromium), gates, CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.stages.evaluate import log_evaluation
from evaluation._cells import check_aggregate_tables
from evaluation.config import BootstrapConfig, EvaluationConfig, FairnessConfig, GateConfig, ShapConfig
from evaluation.evaluate import evaluate_model, gate_of
from evaluation.fairness import audit_fairness
from evaluation.gates import audit_gates
from evaluation.modelcard import ModelInfo, render_model_card_markdown
from evaluation.report import render_fairness_html, render_report
from evaluation.result import from_artifacts, to_artifacts
from evaluation.stigmatisation import audit_league_tables
from training.config import MlflowConfig
from training.tracking import configure_tracking, sqlite_uri

runner = CliRunner()
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)
REGISTER_FIELDS = ("purpose", "impact", "proportionality", "legal_basis", "human_oversight", "risk_management")


def assert_self_contained(html: str) -> None:
    assert not EXTERNAL.search(html), "external reference in src/href"
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html


@pytest.fixture(scope="module")
def evaluated(make_world):
    persons, truth = make_world(11, n_gemeenten=4, wijken_per_gemeente=5, persons_per_wijk=500, n_over_policed=4)
    persons = persons.assign(rinpersoon=np.arange(len(persons)), baseline=np.clip(0.05 + 0.1 * persons["ind_x2"], 0, 1))
    feats = ["ind_x1", "ind_x2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lgb.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(persons[feats], persons["label"])
    cfg = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=25),
        shap=ShapConfig(max_rows=2000),
        fairness=FairnessConfig(attributes=("sex", "migration_group", "income_group")),
    )
    info = ModelInfo(
        version="7", run_id="r1", bands=("13-19",), threshold={"13-19": 0.1}, outcome={"13-19": "opiumwet, 24 months"}
    )
    res = evaluate_model(
        persons,
        cfg=cfg,
        threshold={"13-19": 0.1},
        baselines=["baseline"],
        features={"13-19": feats},
        models={"13-19": model},
        alternative="alt",
        truth_areas=truth,
        model_info=info,
        # the registration-intensity audit too, so its section is rendered and checked below
        registrations=persons.assign(registered=persons["label"].astype(float), ref_date=pd.Timestamp("2020-01-01")),
    )
    return res, cfg


def test_evaluate_model_holds_aggregates_only(evaluated):
    res, cfg = evaluated
    check_aggregate_tables(res.tables, cfg.min_cell_size)
    for name, df in res.tables.items():
        assert len(df) < 1000, name  # nothing close to one row per person
        assert "rinpersoon" not in df.columns
    for key in (
        "performance/13-19",
        "calibration/13-19",
        "fairness_metrics/13-19",
        "proxy/13-19/wijk",
        "shap_importance/13-19",
    ):
        assert key in res.tables
    assert res.summary["league_findings"] == []
    lb = res.summary["label_bias"]["13-19/wijk"]
    assert lb["truth"]["n_areas_truly_over_policed"] == 4 and lb["truth"]["recall"] >= 0.75
    assert set(REGISTER_FIELDS) <= set(res.model_card["algorithm_register"])
    assert "Prevention planning only" in res.model_card["intended_use"]
    assert any("individual" in x for x in res.model_card["out_of_scope"])
    assert res.model_card["iama"]
    verdict = gate_of(res)
    assert verdict.passed == (not verdict.reasons)


def test_artifacts_round_trip_and_render(evaluated):
    res, cfg = evaluated
    files = to_artifacts(res, cfg.min_cell_size)
    assert not any("rinpersoon" in v.decode("utf-8", "ignore") for k, v in files.items() if not k.endswith(".png"))
    back = from_artifacts(files)
    assert set(back.tables) == set(res.tables) and set(back.figures) == set(res.figures)
    html = render_report(back)
    assert_self_contained(html)
    assert audit_league_tables(tables=back.tables, html={"report.html": html}) == []
    assert "too few" in html or "Minimum" in html or "minimum cell size" in html
    assert "false negative rate" in html and "Which metrics matter most" in html
    md = render_model_card_markdown(res.model_card)
    assert "Algorithm register" in md and "IAMA" in md


def test_check_aggregate_tables_refuses_person_level_and_small_cells():
    with pytest.raises(ValueError, match="person-level"):
        check_aggregate_tables({"t": pd.DataFrame({"rinpersoon": [1]})}, 10)
    with pytest.raises(ValueError, match="below the minimum"):
        check_aggregate_tables({"t": pd.DataFrame({"n_persons": [12, 3]})}, 10)
    check_aggregate_tables({"t": pd.DataFrame({"n_persons": [12, np.nan], "n_areas_flagged": [0, 1]})}, 10)


def test_gates_fail_on_outside_disparity_and_league_tables():
    rng = np.random.default_rng(0)
    n = 4000
    g = rng.choice(["a", "b"], n)
    s = rng.beta(2, 8, n)
    y = (rng.random(n) < np.where(g == "b", s * 2.5, s)).clip(0, 1).astype(int)  # under-predicts group b
    df = pd.DataFrame({"y": y, "s": s, "g": g})
    cfg = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=40),
        fairness=FairnessConfig(attributes=("g",)),
        gate=GateConfig(attributes=("g",)),
    )
    fa = audit_fairness(df, label="y", score="s", threshold=0.3, groups=["g"], cfg=cfg)
    verdict = audit_gates(cfg=cfg, fairness={"13-19": fa}, league_findings=[])
    assert not verdict.passed
    assert any("observed / expected" in r and "g b" in r for r in verdict.reasons)
    assert [c.group_code for c in verdict.failed_checks()] == ["b"]
    assert "proxy test not evaluated" in verdict.notes
    # the same attribute as a descriptive one is reported, never rejects
    descriptive = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=40),
        fairness=FairnessConfig(attributes=("g", "sex")),
        gate=GateConfig(attributes=("sex",)),
    )
    verdict = audit_gates(cfg=descriptive, fairness={"13-19": fa}, league_findings=[])
    assert verdict.passed and {c.outcome for c in verdict.checks if c.gate == "fairness"} == {"descriptive"}
    relaxed = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=40), gate=GateConfig(fairness_metrics=("ppv",), max_outside=100)
    )
    assert audit_gates(cfg=relaxed, fairness={"13-19": fa}, league_findings=[]).passed
    assert not audit_gates(cfg=relaxed, league_findings=["table 't': rank-like column 'rank'"]).passed


def _scores_csv(path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 600
    s = rng.random(n).round(3)
    df = pd.DataFrame({"y": (rng.random(n) < s).astype(int), "s": s, "sex": rng.choice(["M", "V"], n)})
    df["herkomst"] = rng.choice(["NL", "EU", "NEU"], n)
    df.loc[:4, "herkomst"] = "X"  # 5 persons: "too few"
    df.to_csv(path, index=False)
    return path


def test_cli_audit_writes_json_and_self_contained_html(tmp_path):
    csv = _scores_csv(tmp_path / "scores.csv")
    out = tmp_path / "out"
    args = ["audit", "--scores", str(csv), "--label", "y", "--score", "s", "--threshold", "0.5"]
    result = runner.invoke(
        app,
        [*args, "--group", "sex", "--group", "herkomst", "--out", str(out), "--set", "evaluation.bootstrap.reps=30"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "fairness.json").read_text())
    x = doc["attributes"]["herkomst"]["groups"]["X"]
    assert x["n"] == "too few" and x["fnr"] == "too few"
    nl = doc["attributes"]["herkomst"]["groups"]["NL"]
    for key in ("n", "selection_rate", "fpr", "fnr", "ppv", "disparity"):
        assert key in nl
    assert doc["priority"][0]["metric"] == "fnr"
    html = (out / "fairness.html").read_text()
    assert_self_contained(html)
    assert "too few" in html


def test_cli_audit_reproduces_hand_computed_rates_per_group(tmp_path):
    # group A: TP 3, FN 1, FP 2, TN 6; group B: TP 2, FN 4, FP 3, TN 3; each block repeated 10 times
    # so that every denominator passes the minimum cell size
    def block(group: str, tp: int, fn: int, fp: int, tn: int) -> pd.DataFrame:
        y = [1] * (tp + fn) + [0] * (fp + tn)
        s = [0.9] * tp + [0.1] * fn + [0.7] * fp + [0.2] * tn
        return pd.DataFrame({"y": y, "s": s, "g": group})

    table = pd.concat([block("A", 3, 1, 2, 6), block("B", 2, 4, 3, 3)] * 10, ignore_index=True)
    csv = tmp_path / "small.csv"
    table.to_csv(csv, index=False)
    out = tmp_path / "out"
    args = ["audit", "--scores", str(csv), "--label", "y", "--score", "s", "--threshold", "0.5", "--group", "g"]
    result = runner.invoke(app, [*args, "--out", str(out), "--set", "evaluation.bootstrap.reps=20"])
    assert result.exit_code == 0, result.output
    groups = json.loads((out / "fairness.json").read_text())["attributes"]["g"]["groups"]
    hand = {
        "A": {"n": 120, "selection_rate": 5 / 12, "fpr": 2 / 8, "fnr": 1 / 4, "ppv": 3 / 5},
        "B": {"n": 120, "selection_rate": 5 / 12, "fpr": 3 / 6, "fnr": 4 / 6, "ppv": 2 / 5},
    }
    for g, expected in hand.items():
        for metric, value in expected.items():
            assert groups[g][metric] == pytest.approx(value, abs=5e-7), (g, metric)  # JSON keeps 6 decimals


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label", "nope"], "column 'nope': column not found"),
        (["--label", "sex"], "label must be 0 or 1"),
        (["--score", "sex"], "score is not a number"),
        (["--threshold", "2"], "outside the range of the scores"),
    ],
)
def test_cli_audit_bad_input_exit_2_nothing_written(tmp_path, extra, message):
    csv = _scores_csv(tmp_path / "scores.csv")
    out = tmp_path / "out"
    base = {"--label": "y", "--score": "s", "--threshold": "0.5"}
    for i in range(0, len(extra), 2):
        base[extra[i]] = extra[i + 1]
    args = [
        "audit",
        "--scores",
        str(csv),
        *[v for kv in base.items() for v in kv],
        "--group",
        "herkomst",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_cli_audit_keeps_other_files_in_an_existing_directory(tmp_path):
    csv = _scores_csv(tmp_path / "scores.csv")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["audit", "--scores", str(csv), "--label", "y", "--score", "s", "--threshold", "0.5", "--group", "sex"]
    assert runner.invoke(app, [*args, "--out", str(out), "--set", "evaluation.bootstrap.reps=20"]).exit_code == 0
    assert (out / "keep.txt").read_text() == "mine" and (out / "fairness.json").exists()


def test_cli_report_renders_from_mlflow_run(evaluated, tmp_path):
    res, cfg = evaluated
    uri = sqlite_uri(tmp_path / "mlflow" / "mlflow.db")
    experiment = configure_tracking(uri, MlflowConfig(experiment="eval-test"))
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            log_evaluation(res, cfg)
        run_id = run.info.run_id
    finally:
        mlflow.set_tracking_uri(None)
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--run-id", run_id, "--out", str(out), "--mlflow-uri", uri])
    assert result.exit_code == 0, result.output
    # no registered version in this run: the pack is named after the evaluation's model entry
    html = (out / "aanwas-v7" / "review_pack.html").read_text()
    assert_self_contained(html)
    assert "aanwas version 7" in html
    assert (out / "aanwas-v7" / "model_card.md").exists()
    # unknown run: one line, exit 2, nothing written
    bad = tmp_path / "bad"
    result = runner.invoke(app, ["report", "--run-id", "0" * 32, "--out", str(bad), "--mlflow-uri", uri])
    assert result.exit_code == 2 and "not found" in result.output and not bad.exists()
    # missing store: not created
    missing = tmp_path / "nostore" / "mlflow.db"
    result = runner.invoke(app, ["report", "--run-id", run_id, "--out", str(bad), "--mlflow-uri", sqlite_uri(missing)])
    assert result.exit_code == 2 and not missing.exists() and not bad.exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (see docs: manual check)")
def test_reports_render_in_headless_chromium_without_console_messages(evaluated, tmp_path):
    res, cfg = evaluated
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.integers(0, 2, 300), "s": rng.random(300), "g": rng.choice(["a", "b"], 300)})
    pages = {
        "report.html": render_report(res),
        "fairness.html": render_fairness_html(
            audit_fairness(df, label="y", score="s", threshold=0.5, groups=["g"], cfg=cfg),
            cfg,
            source="t.csv",
            label="y",
            score="s",
        ),
    }
    for name, html in pages.items():
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        shot = tmp_path / f"{name}.png"
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,2000",
                f"--screenshot={shot}",
                path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if name == "report.html":
            assert "Registration intensity: all registrations" in html
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], console  # CSP violations and script errors would show here
        assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_cli_audit_reads_semicolon_csv_with_bom(tmp_path):
    csv = _scores_csv(tmp_path / "scores.csv")
    semi = tmp_path / "puntkomma.csv"
    semi.write_bytes(b"\xef\xbb\xbf" + pd.read_csv(csv).to_csv(index=False, sep=";").encode("utf-8"))
    out = tmp_path / "out"
    args = ["audit", "--scores", str(semi), "--label", "y", "--score", "s", "--threshold", "0.5", "--group", "sex"]
    result = runner.invoke(app, [*args, "--out", str(out), "--set", "evaluation.bootstrap.reps=20"])
    assert result.exit_code == 0, result.output
    assert set(json.loads((out / "fairness.json").read_text())["attributes"]["sex"]["groups"]) == {"M", "V"}


def test_evaluate_model_rejects_scores_that_are_not_probabilities(fast_cfg):
    from aanwas.common.errors import InputError

    df = pd.DataFrame({"score": [0.1, 1.5], "label": [0, 1], "age_band": "13-19"})
    with pytest.raises(InputError, match="probability"):
        evaluate_model(df, cfg=fast_cfg, threshold=0.1)
