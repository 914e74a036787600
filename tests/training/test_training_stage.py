"""``aanwas train`` / ``aanwas retrain``: CLI wiring, default store location, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.stages import train as train_stage
from training.tracking import TRACKING_URI_ENV

FAST_SET = [
    'training.bands=["13-19"]',
    "training.tuning.enabled=false",
    "training.mlflow.log_baseline_models=false",
    "training.lightgbm.n_jobs=1",
    "training.lightgbm.n_estimators=200",
    "training.lightgbm.early_stopping_rounds=20",
    "training.lightgbm.learning_rate=0.1",
    "training.promotion.run_evaluation_gates=false",
]


def _set_args() -> list[str]:
    return [a for item in FAST_SET for a in ("--set", item)]


def write_work(work: Path, frame: pd.DataFrame) -> None:
    """What ``aanwas features`` caches: the feature table and the audit frame."""
    work.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(work / "features.parquet", index=False)
    audit = frame[["rinpersoon", "ref_date"]].assign(sex="M", migration_group="nederland", income_group=3)
    audit.to_parquet(work / "audit.parquet", index=False)


@pytest.fixture
def runner(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return CliRunner()


def test_train_then_retrain_on_a_later_refresh(tmp_path, runner, monkeypatch, new_store, fake_gate_check) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    write_work(work, fabricate_feature_table(2500, seed=51)[0])
    new_store(tmp_path / "mlflow")  # the default location, pre-made to save the schema migration
    result = runner.invoke(app, ["train", "--work", str(work), *_set_args()])
    assert result.exit_code == 0, result.output
    # default store: beside the work directory, never inside it
    assert (tmp_path / "mlflow" / "artifacts").is_dir()
    assert sorted(p.name for p in work.iterdir()) == ["audit.parquet", "features.parquet", "train_summary.json"]
    first = pd.read_json(work / "train_summary.json", typ="series")
    assert first["bands"]["13-19"]["decision"] == "initial"
    # trained without the evaluation gates: no evaluation in the run, so no report (one clear
    # error naming the setting, nothing written)
    reports = tmp_path / "reports"
    report = runner.invoke(app, ["report", "--run-id", first["run_id"], "--out", str(reports), "--work", str(work)])
    assert report.exit_code == 2 and "run_evaluation_gates" in report.output, report.output
    assert not reports.exists()
    # paired bootstrap of LightGBM minus each baseline: in the summary, the printout and MLflow
    comp = first["bands"]["13-19"]["comparisons"]
    assert set(comp) == {"flags", "logreg"}
    assert "LGBM-AUC [interval]" in result.output
    import mlflow

    logged = mlflow.MlflowClient(tracking_uri=first["tracking_uri"]).get_run(first["run_id"]).data.metrics
    for base in ("flags", "logreg"):
        c = comp[base]
        assert c["auc_diff_lo"] <= c["auc_diff"] <= c["auc_diff_hi"]
        for suffix in ("", "_lo", "_hi", "_p_le0"):
            key = f"test/13-19/lightgbm/auc_diff_vs_{base}{suffix}"
            assert logged[key] == pytest.approx(c[f"auc_diff{suffix}"])

    # a refresh one year later: retrain rebuilds the features (feature-stage wiring), trains a
    # challenger and compares it with the champion on the NEWEST test date
    newer = fabricate_feature_table(2500, seed=52, first_year=2019)[0]

    def fake_run_features(cfg, data, work_dir, mapping=None, *, console=None):  # type: ignore[no-untyped-def]
        assert Path(data) == tmp_path / "refresh"
        write_work(Path(work_dir), newer)
        return {}

    monkeypatch.setattr("aanwas.stages.features.run_features", fake_run_features)
    # with evaluation gates switched on, the evaluation stage's gate check runs on the challenger
    gate_calls = []

    def fake_build_gate_check(cfg, audit, truth_areas=None):  # type: ignore[no-untyped-def]
        def check(band, rows, risk):  # type: ignore[no-untyped-def]
            gate_calls.append((band, len(rows), len(audit)))
            return True

        return fake_gate_check(check)

    monkeypatch.setattr("aanwas.stages.evaluate.build_gate_check", fake_build_gate_check)
    gates_on = ["--set", "training.promotion.run_evaluation_gates=true"]
    result = runner.invoke(
        app, ["retrain", "--data", str(tmp_path / "refresh"), "--work", str(work), *_set_args(), *gates_on]
    )
    assert result.exit_code == 0, result.output
    second = pd.read_json(work / "train_summary.json", typ="series")["bands"]["13-19"]
    assert second["split"]["test_date"] > first["bands"]["13-19"]["split"]["test_date"]
    assert second["previous_champion"] == "1" and second["version"] == "2"
    assert second["champion_auc"] is not None
    assert second["decision"] in ("promoted", "rejected")
    assert second["gates_passed"] is True and gate_calls == [("13-19", second_test_rows(newer, second), len(newer))]
    assert second["promoted"] == (second["challenger_auc"] >= second["champion_auc"] - 0.005)  # default margin


def second_test_rows(frame: pd.DataFrame, band_summary) -> int:  # type: ignore[no-untyped-def]
    date = pd.Timestamp(band_summary["split"]["test_date"])
    return int(((frame["age_band"] == "13-19") & (frame["ref_date"] == date) & frame["label"].notna()).sum())


def test_errors_are_one_line_and_write_nothing(tmp_path, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["train", "--work", str(tmp_path / "nowork")])
    assert result.exit_code == 2
    assert "run 'aanwas features' first" in result.output
    assert not (tmp_path / "mlflow").exists()

    work = tmp_path / "work"
    write_work(work, fabricate_feature_table(300, seed=1)[0])
    result = runner.invoke(app, ["train", "--work", str(work), "--override", "promote", *_set_args()])
    assert result.exit_code == 2 and "a reviewer override needs a reason" in result.output
    result = runner.invoke(app, ["train", "--work", str(work), "--set", "training.tuning.n_trials=-1"])
    assert result.exit_code == 2 and "training.tuning.n_trials" in result.output
    assert not (tmp_path / "mlflow").exists()
    assert not (work / "train_summary.json").exists()


def test_tracking_uri_precedence(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from training.config import MlflowConfig
    from training.tracking import resolve_tracking_uri

    env = {TRACKING_URI_ENV: "http://env:5000"}
    assert resolve_tracking_uri("http://opt", MlflowConfig(tracking_uri="http://cfg"), tmp_path, env) == "http://opt"
    assert resolve_tracking_uri(None, MlflowConfig(tracking_uri="http://cfg"), tmp_path, env) == "http://cfg"
    assert resolve_tracking_uri(None, MlflowConfig(), tmp_path, env) == "http://env:5000"
    assert (
        resolve_tracking_uri(None, MlflowConfig(store_dir=str(tmp_path / "s")), tmp_path, {})
        == f"sqlite:///{tmp_path / 's' / 'mlflow.db'}"
    )


def test_mlflow_run_parent_is_detached(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from training.tracking import detach_project_run

    monkeypatch.setenv("MLFLOW_RUN_ID", "abc")
    monkeypatch.setenv(TRACKING_URI_ENV, "sqlite:////tmp/a/mlflow.db")
    assert detach_project_run("sqlite:////tmp/a/mlflow.db") == "abc"
    assert "MLFLOW_RUN_ID" not in __import__("os").environ
    monkeypatch.setenv("MLFLOW_RUN_ID", "abc")
    assert detach_project_run("sqlite:////tmp/other/mlflow.db") is None  # another store: no parent
    assert train_stage.SUMMARY_FILE == "train_summary.json"


def test_training_logs_the_pooled_registration_audit_and_report_shows_it(tmp_path, runner, new_store) -> None:  # type: ignore[no-untyped-def]
    import json

    import mlflow
    import numpy as np

    table = fabricate_feature_table(1200, seed=53)[0].sort_values(["rinpersoon", "ref_date"])
    # a consistent running count of registrations per person (the fixture's is random per row)
    step = np.random.default_rng(2).poisson(0.3, len(table)).astype("float32")
    table["ind_n_prior_suspect"] = pd.Series(step, index=table.index).groupby(table["rinpersoon"]).cumsum()
    work = tmp_path / "work"
    write_work(work, table.reset_index(drop=True))
    new_store(tmp_path / "mlflow")
    items = [i for i in FAST_SET if not i.startswith(("training.bands", "training.promotion.run_evaluation_gates"))]
    items += [
        'training.bands=["13-19", "20-23"]',
        "training.promotion.run_evaluation_gates=true",
        "evaluation.bootstrap.reps=20",
        'evaluation.stigmatisation.area_levels=["gemeente"]',
    ]
    args = [a for item in items for a in ("--set", item)]
    result = runner.invoke(app, ["train", "--work", str(work), *args])
    assert result.exit_code == 0, result.output
    summary = json.loads((work / "train_summary.json").read_text())
    client = mlflow.MlflowClient(tracking_uri=summary["tracking_uri"])
    folders = {Path(e.path).name for e in client.list_artifacts(summary["run_id"], "evaluation")}
    assert folders == {"13-19", "20-23", "all-bands"}
    # the pooled audit has no gate: no gate tag of its own, the band tags are there
    tags = client.get_run(summary["run_id"]).data.tags
    assert "all-bands.evaluation.gate" not in tags and "13-19.evaluation.gate" in tags
    out = tmp_path / "reports"
    result = runner.invoke(app, ["report", "--run-id", summary["run_id"], "--out", str(out), "--work", str(work)])
    assert result.exit_code == 0, result.output
    # one review pack per registered version; each holds the audit pooled over the bands
    assert {p.name for p in out.iterdir()} == {"aanwas-13-19-v1", "aanwas-20-23-v1"}
    pooled = (out / "aanwas-13-19-v1" / "review_pack.html").read_text()
    assert "all age bands pooled" in pooled and "Not a gate" in pooled
    # the pooled audit's tables went through the same suppression: no counts, no persons
    local = Path(client.download_artifacts(summary["run_id"], "evaluation/all-bands", str(tmp_path / "dl")))
    index = json.loads((local / "index.json").read_text())
    assert set(index["tables"].values()) == {"registration_intensity/all bands/gemeente"}
    logged = pd.read_csv(local / next(iter(index["tables"])))
    assert set(logged.columns) <= {
        "area_code",
        "registration_intensity",
        "registration_intensity_lo",
        "registration_intensity_hi",
        "registration",
    }
    # each version's model card carries the verdict of the pooled audit
    card = (out / "aanwas-13-19-v1" / "model_card.md").read_text()
    assert "Label bias and registration intensity" in card and "municipalities (gemeenten)" in card


def test_train_json_is_the_summary_and_nothing_else_on_stdout(tmp_path, runner, new_store) -> None:  # type: ignore[no-untyped-def]
    """``train --json``: stdout is one JSON document, the summary written to WORK/train_summary.json."""
    import json

    work = tmp_path / "work"
    write_work(work, fabricate_feature_table(1500, seed=53)[0])
    new_store(tmp_path / "mlflow")
    result = runner.invoke(app, ["train", "--work", str(work), "--json", *_set_args()])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"run_id", "tracking_uri", "bands"} <= set(doc)
    band = doc["bands"]["13-19"]
    assert band["decision"] == "initial" and 0.0 < band["metrics"]["lightgbm"]["auc"] < 1.0
    written = json.loads((work / "train_summary.json").read_text(encoding="utf-8"))
    assert doc["run_id"] == written["run_id"] and set(doc["bands"]) == set(written["bands"])
    assert "LGBM-AUC" not in result.stdout  # the human table is not printed under --json


def test_tuning_without_a_completed_trial_ends_with_one_line(tmp_path, runner, monkeypatch, new_store) -> None:  # type: ignore[no-untyped-def]
    from training import tuning

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("lightgbm refused the settings")

    monkeypatch.setattr(tuning, "build_lightgbm", broken)
    work = tmp_path / "work"
    write_work(work, fabricate_feature_table(1500, seed=3)[0])
    new_store(tmp_path / "mlflow")
    settings = [s for s in FAST_SET if s != "training.tuning.enabled=false"] + ["training.tuning.n_trials=2"]
    args = [a for item in settings for a in ("--set", item)]
    result = runner.invoke(app, ["train", "--work", str(work), *args])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == (
        "aanwas: error: tuning 'aanwas-13-19': none of 2 trial(s) completed (2 failed, 0 pruned); "
        "the first failed with ValueError: lightgbm refused the settings"
    )
    assert "Traceback" not in result.output
    assert not (work / "train_summary.json").exists()
