"""Training on existing engines, started for real on loopback: the bands on a Dask scheduler with
two workers, tuning processes sharing one Optuna study, and ``aanwas train`` against an
``mlflow server`` with a SQLite backend (registry aliases included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table
from loopback import dask_cluster, free_port, server
from shared_tuning import LGB, STUDY, tune_shared
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.common.compute import ComputeConfig, executor
from aanwas.stages.steps import registry_bundle
from training.fit import fit_band, fit_bands, resolve_features, select_test_part
from training.splits import build_temporal_splits
from training.tracking import TRACKING_URI_ENV
from training.tuning import open_storage

ROOT = Path(__file__).resolve().parents[2]


# --- the bands on a Dask scheduler ------------------------------------------------------------


@pytest.mark.slow  # 67 s at load 13 (three bands tuned twice); tests/test_compute.py has the quick cluster test
def test_bands_fitted_on_two_dask_workers_equal_the_local_fit(small_table, fast_cfg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame, truth = small_table
    tcfg = fast_cfg.training
    splits = build_temporal_splits(frame, tcfg.bands, tcfg.split)
    features = {band: resolve_features(frame, band, tcfg) for band in tcfg.bands}
    with dask_cluster(tmp_path) as address, executor(ComputeConfig(scheduler=address)) as ex:
        remote = list(fit_bands(frame, splits, features, tcfg, truth=truth, executor=ex))
    assert [f.band for f in remote] == list(tcfg.bands)
    for fitted in remote:
        local = fit_band(frame, splits[fitted.band], features[fitted.band], tcfg, truth=truth)
        assert fitted.metrics == local.metrics  # exact: same seeds, same rows, one thread
        assert fitted.comparisons == local.comparisons  # the paired bootstrap replicates too
        assert fitted.tuning is not None and local.tuning is not None
        assert fitted.tuning.best_params == local.tuning.best_params
        assert len(fitted.tuning.trials) == tcfg.tuning.n_trials
        X = select_test_part(frame, local)[0][list(local.features)]
        for name, model in local.models.items():
            np.testing.assert_array_equal(fitted.models[name].predict_proba(X), model.predict_proba(X))


# --- one Optuna study shared by several processes ---------------------------------------------

FAST_SET = [
    'training.bands=["13-19"]',
    "training.tuning.n_trials=2",
    "training.tuning.n_startup_trials=1",
    "training.lightgbm.n_jobs=1",
    "training.lightgbm.n_estimators=200",
    "training.lightgbm.early_stopping_rounds=20",
    "training.lightgbm.learning_rate=0.1",
    "training.promotion.run_evaluation_gates=false",
]


def test_workers_of_one_journal_study_add_up_and_differ(tmp_path: Path) -> None:
    storage = str(tmp_path / "study.log")  # a journal file: no database needed
    tune_shared(storage, 0, 3)
    best = tune_shared(storage, 1, 3)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(storage))
    assert len(study.trials) == 6
    defaults = {k: getattr(LGB, k) for k in study.trials[0].params}
    assert [t.params == defaults for t in study.trials] == [True] + [False] * 5  # enqueued once, by worker 0
    assert best == study.best_value  # the study's best, whichever worker ran it
    # each worker's sampler is seeded: the same worker draws the same, another worker other settings
    first = {}
    for name, worker in (("a", 1), ("b", 1), ("c", 2)):
        path = str(tmp_path / f"{name}.log")
        tune_shared(path, worker, 1)
        first[name] = optuna.load_study(study_name=STUDY, storage=open_storage(path)).trials[0].params
    assert first["a"] == first["b"] != first["c"]


def write_work(work: Path, frame: pd.DataFrame) -> None:
    """What ``aanwas features`` caches: the feature table and the audit frame."""
    work.mkdir(parents=True)
    frame.to_parquet(work / "features.parquet", index=False)
    audit = frame[["rinpersoon", "ref_date"]].assign(sex="M", migration_group="nederland", income_group=3)
    audit.to_parquet(work / "audit.parquet", index=False)


def _sets(*items: str) -> list[str]:
    return [a for item in items for a in ("--set", item)]


SCRIPT = (
    "import json, sys; from shared_tuning import tune_shared; "
    "print(json.dumps(tune_shared(sys.argv[1], int(sys.argv[2]), 4)))"
)


def test_two_tuning_processes_join_one_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"  # nothing made beforehand: both create it at once
    paths = [str(ROOT), str(ROOT / "tests" / "support"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, url, str(w)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        for w in (0, 1)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.decode()[-2000:] for _, e in outs]
    study = optuna.load_study(study_name=STUDY, storage=url)
    assert len(study.trials) == 8  # 4 + 4
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert max(json.loads(o) for o, _ in outs) == study.best_value


@pytest.mark.slow  # 127 s at load 13: two CLI processes and a training
def test_two_aanwas_tune_processes_join_one_sqlite_study_and_train_uses_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    work = tmp_path / "work"
    write_work(work, fabricate_feature_table(2500, seed=51)[0])
    url = f"sqlite:///{tmp_path / 'study.db'}"
    shared = [*FAST_SET, f'training.tuning.storage="{url}"', "training.tuning.n_trials=3"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    procs = [  # two machines' worth: each its own worker number, started together
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aanwas.cli",
                "tune",
                "--work",
                str(work),
                "--json",
                "-q",
                *_sets(*shared, f"training.tuning.worker={worker}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )  # fmt: skip
        for worker in (1, 2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.decode()[-2000:] for _, e in outs]
    study = optuna.load_study(study_name="aanwas-13-19", storage=url)
    assert len(study.trials) == 6  # 3 + 3
    assert max(json.loads(o)["bands"]["13-19"]["best_tune_auc"] for o, _ in outs) == round(study.best_value, 4)
    # training is one more process on the study (worker 0, one trial here) and uses its best
    args = ["train", "--work", str(work), "--json", "--mlflow-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]
    result = CliRunner().invoke(app, [*args, *_sets(*shared, "training.tuning.n_trials=1")])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="aanwas-13-19", storage=url)
    assert len(study.trials) == 7
    run = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(json.loads(result.stdout)["run_id"])
    tuned = {k.split(".")[-1]: v for k, v in run.data.params.items() if k.startswith("13-19.lightgbm.")}
    assert tuned["num_leaves"] == str(study.best_params["num_leaves"])


# --- an MLflow tracking server with a database backend -----------------------------------------


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``mlflow server`` on a free loopback port: SQLite backend store, artifacts served by
    the server from a directory (clients upload and download through HTTP)."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with server(cmd, f"http://127.0.0.1:{port}/health", root / "server.log", timeout=180):
        yield f"http://127.0.0.1:{port}", root


def test_champion_alias_set_and_read_through_the_server(mlflow_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    from training import registry, tracking
    from training.config import MlflowConfig

    uri, root = mlflow_server
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    X = pd.DataFrame({"ind_a": [0.0, 1.0, 0.0, 1.0]})
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    experiment = tracking.configure_tracking(uri, MlflowConfig(experiment="alias-check"))
    name = registry.registered_model_name("alias-check", "8-12")
    with mlflow.start_run(experiment_id=experiment):
        info = tracking.log_model(model, "model", tracking.model_signature(X.dtypes), registered_model_name=name)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias(name, registry.CHAMPION, str(info.registered_model_version))
    assert registry.champion_version(name, uri=uri) == str(info.registered_model_version)
    bundle = registry.load_bundle("alias-check", ["8-12"], uri=uri)  # downloaded through the server
    np.testing.assert_array_equal(bundle.estimators["8-12"].predict_proba(X), model.predict_proba(X))


@pytest.mark.slow  # 83 s at load 13 (a whole training with two tuning trials)
def test_train_against_a_tracking_server_registers_champions(mlflow_server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    uri, root = mlflow_server
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    work = tmp_path / "work"
    write_work(work, fabricate_feature_table(2500, seed=51)[0])
    args = ["train", "--work", str(work), "--mlflow-uri", uri, *_sets(*FAST_SET)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "mlflow").exists()  # nothing went to the default local store
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("aanwas-13-19", "champion")
    summary = json.loads(result.stdout)
    assert str(champion.version) == str(summary["bands"]["13-19"]["version"])
    assert any((root / "artifacts").rglob("MLmodel"))  # the model went to the server's artifact store
    # what export, monitor and report read: the champion through the server
    from aanwas.config import load_config

    bundle = registry_bundle(load_config(None, FAST_SET), work, mlflow_uri=uri, bands=["13-19"])
    assert bundle.bands == ("13-19",)
