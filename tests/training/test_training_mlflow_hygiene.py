"""MLflow hygiene: one experiment per training with the tuning trials nested under it, one
metric naming scheme, registry descriptions from the model card, named evaluation artifacts,
stages as child runs of an ``mlflow run`` project run, nothing written to the current directory."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table
from typer.testing import CliRunner

from aanwas.cli import app
from training.tracking import METRIC_NAME, RUN_ID_ENV, TRACKING_URI_ENV

#: The scheme, written out independently of the product's constant: <stage>/<band>/.../<metric>.
SCHEME = re.compile(r"^(data|test|family|criteria|tuning|compare|drift)/(8-12|13-19|20-23|all-bands)(/[A-Za-z0-9_]+)+$")

SETTINGS = [
    'training.bands=["13-19"]',
    "training.tuning.n_trials=3",
    "training.tuning.n_startup_trials=2",
    "training.tuning.pruning_warmup_rounds=10",
    "training.mlflow.log_baseline_models=false",
    "training.lightgbm.n_jobs=1",
    "training.lightgbm.n_estimators=200",
    "training.lightgbm.early_stopping_rounds=20",
    "training.lightgbm.learning_rate=0.1",
    "training.promotion.run_evaluation_gates=true",
    "evaluation.bootstrap.reps=20",
    'evaluation.stigmatisation.area_levels=["gemeente"]',
]


def _sets() -> list[str]:
    return [a for item in SETTINGS for a in ("--set", item)]


def _work(work: Path) -> pd.DataFrame:
    """What ``aanwas features`` caches, with a consistent running count of registrations."""
    table = fabricate_feature_table(1200, seed=53)[0].sort_values(["rinpersoon", "ref_date"])
    step = np.random.default_rng(2).poisson(0.3, len(table)).astype("float32")
    table["ind_n_prior_suspect"] = pd.Series(step, index=table.index).groupby(table["rinpersoon"]).cumsum()
    table = table.reset_index(drop=True)
    work.mkdir(parents=True, exist_ok=True)
    table.to_parquet(work / "features.parquet", index=False)
    audit = table[["rinpersoon", "ref_date"]].assign(sex="M", migration_group="nederland", income_group=3)
    audit.to_parquet(work / "audit.parquet", index=False)
    return table


@pytest.fixture
def runner(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    return CliRunner()


def test_training_and_monitoring_keep_mlflow_tidy(tmp_path, runner, monkeypatch, new_store) -> None:  # type: ignore[no-untyped-def]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a store named by URI elsewhere: nothing may land here
    work = tmp_path / "run" / "work"
    _work(work)
    uri = new_store(tmp_path / "store")
    res = runner.invoke(app, ["train", "--work", str(work), "--mlflow-uri", uri, "--json", *_sets()])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["monitor", "--work", str(work), "--out", str(tmp_path / "monitor"), "--mlflow-uri", uri])
    assert res.exit_code == 0, res.output
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["artifacts", "mlflow.db"]

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    runs = client.search_runs(list(experiments))
    by_kind: dict[str, list] = {}  # type: ignore[type-arg]
    for r in runs:
        by_kind.setdefault(r.data.tags.get("aanwas.kind", r.data.tags.get("aanwas.stage", "")), []).append(r)
    (training,) = by_kind["training"]
    trials = by_kind["tuning-trial"]
    (monitor,) = by_kind["monitor"]
    # one experiment for the training and its trials; the trials are its children; no Default runs
    assert len(trials) == 3
    assert {r.info.experiment_id for r in [training, *trials, monitor]} == {training.info.experiment_id}
    assert experiments[training.info.experiment_id] == "aanwas"
    assert all(r.data.tags["mlflow.parentRunId"] == training.info.run_id for r in trials)
    assert "mlflow.parentRunId" not in monitor.data.tags
    # one naming scheme for every metric logged (training, trials, monitoring)
    names = {k for r in runs for k in r.data.metrics}
    bad = sorted(n for n in names if not SCHEME.match(n) or not METRIC_NAME.match(n))
    assert not bad, bad
    for expected in (
        "test/13-19/lightgbm/auc",
        "tuning/13-19/tune_auc",
        "compare/13-19/challenger_auc",
        "drift/13-19/ind_halt_ever/psi",
        "drift/all-bands/retrain_recommended",
    ):
        assert expected in names, expected
    # the registered model and its version are described in plain language from the model card
    model = client.get_registered_model("aanwas-13-19")
    assert model.description.startswith("aanwas model for age band 13-19") and "prevention" in model.description
    text = client.get_model_version("aanwas-13-19", "1").description
    assert text.startswith("Age band 13-19. Intended use: Prevention planning only")
    assert "Outcome: registered as a suspect (offence: opiumwet) within 24 months" in text
    test_date = pd.read_json(work / "train_summary.json", typ="series")["bands"]["13-19"]["split"]["test_date"]
    assert f"tested on {test_date[:10]}" in text
    assert re.search(r"AUC 0\.\d{3} \(0\.\d{3}\u20130\.\d{3}\)", text), text  # with its interval
    assert "Model family:" in text and "not recorded" not in text
    # evaluation tables and figures are named after what they hold
    listed = [e.path for e in client.list_artifacts(training.info.run_id, "evaluation/13-19/tables")]
    assert "evaluation/13-19/tables/fairness_groups_13-19.csv" in listed
    assert not any(re.search(r"/\d{3}\.csv$", p) for p in listed)


def test_stages_under_mlflow_run_are_children_of_the_project_run(tmp_path, runner, monkeypatch, new_store) -> None:  # type: ignore[no-untyped-def]
    """As ``mlflow run`` launches them (``MLFLOW_RUN_ID``, ``MLFLOW_TRACKING_URI`` set): every
    stage a child run of the project run; none renames it or logs into it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    uri = new_store(tmp_path / "store")
    client = mlflow.MlflowClient(tracking_uri=uri)
    project = client.create_run("0", run_name="project-main").info.run_id
    work = tmp_path / "work"
    _work(work)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "area_risk.csv").write_text("area_code,n_young\nGM0001,120\n")
    (tmp_path / "raw").mkdir()
    pd.DataFrame({"rinpersoon": [123456789, 223456789]}).to_parquet(tmp_path / "raw" / "persons.parquet")
    for args in (
        ["monitor", "--work", str(work), "--out", str(tmp_path / "monitor")],
        ["check", "--exports", str(exports), "--data", str(tmp_path / "raw")],
    ):
        monkeypatch.setenv(RUN_ID_ENV, project)
        monkeypatch.setenv(TRACKING_URI_ENV, uri)
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    children = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], f"tags.mlflow.parentRunId = '{project}'"
    )
    assert sorted(r.info.run_name for r in children) == ["check", "monitor-drift"]
    parent = client.get_run(project)
    assert parent.info.run_name == "project-main" and not parent.data.metrics and not parent.data.params
    assert list(cwd.iterdir()) == []
