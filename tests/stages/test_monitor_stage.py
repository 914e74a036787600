"""``aanwas monitor --work``: drift between the last two reference dates, logged to MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import InputError
from aanwas.config import AppConfig
from aanwas.stages.monitor import run_monitor
from features.catalogue import feature_columns


def _features(work: Path, shift: float, n: int = 4000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    frames = []
    for k, ref in enumerate(["2022-01-01", "2023-01-01", "2024-01-01"]):
        band = rng.choice(["8-12", "13-19", "20-23"], n)
        f = pd.DataFrame(
            {"rinpersoon": np.arange(n) + 10_000_000 * (k + 1), "ref_date": pd.Timestamp(ref), "age_band": band}
        )
        f["age"] = np.select([band == "8-12", band == "13-19"], [10, 16], 21).astype("int8")
        f["is_male"] = (rng.random(n) < 0.5).astype("int8")
        cols = sorted(set(feature_columns("13-19")) - {"age", "is_male"})
        for c in cols:
            p = 0.05 + (shift if k == 2 else 0.0)
            f[c] = (rng.random(n) < p).astype("float32")
        f["label"] = pd.array(rng.random(n) < 0.02, dtype="boolean")
        frames.append(f)
    work.mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_parquet(work / "features.parquet", index=False)


def test_drift_stage_writes_verdict_and_logs_aggregates_to_mlflow(tmp_path: Path):
    # (no-drift samples are covered in test_monitoring_drift.py; one MLflow store keeps this fast)
    import mlflow

    shift, retrain = 0.15, True
    work = tmp_path / "work"
    _features(work, shift)
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    res = run_monitor(AppConfig(), tmp_path / "monitor", work=work, mlflow_uri=uri)
    verdict = json.loads((tmp_path / "monitor" / "drift.json").read_text())
    assert verdict["reference"] == "2023-01-01" and verdict["current"] == "2024-01-01"
    assert verdict["retrain_recommended"] is retrain == res.drift.retrain_recommended
    assert verdict["scored_with"] is None  # no champion registered in this store: no score drift
    assert pd.read_csv(tmp_path / "monitor" / "drift_scores.csv").empty
    feats = pd.read_csv(tmp_path / "monitor" / "drift_features.csv")
    assert "rinpersoon" not in feats.columns and set(feats["age_band"]) == {"8-12", "13-19", "20-23"}
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["drift.retrain_recommended"] == str(retrain)
    assert all(k.startswith("drift/") for k in run.data.metrics)
    assert "drift/13-19/ind_halt_ever/psi" in run.data.metrics
    assert not any(str(10_000_000) in k for k in run.data.metrics)


def test_drift_stage_needs_two_reference_dates(tmp_path: Path):
    work = tmp_path / "work"
    _features(work, 0.0)
    with pytest.raises(InputError, match="reference date not in"):
        run_monitor(AppConfig(), tmp_path / "out", work=work, ref_dates=["2023-01-01", "2025-01-01"])
    assert not (tmp_path / "out").exists()


def test_monitor_command_writes_the_drift_report_only(tmp_path: Path):
    # trends, effects and the dashboard leave only through 'aanwas export' (the one writer)
    from typer.testing import CliRunner

    from aanwas.cli import app

    work = tmp_path / "work"
    _features(work, 0.0, n=1500)
    out = tmp_path / "monitor"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = CliRunner().invoke(app, ["monitor", "--work", str(work), "--out", str(out), "--mlflow-uri", uri])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        "drift.json",
        "drift_features.csv",
        "drift_prevalence.csv",
        "drift_scores.csv",
    ]


def test_monitor_command_bad_input_exit_2_and_nothing_written(tmp_path: Path):
    from typer.testing import CliRunner

    from aanwas.cli import app

    out = tmp_path / "monitor"
    runner = CliRunner()
    res = runner.invoke(app, ["monitor", "--out", str(out)])  # --work is required
    assert res.exit_code == 2 and not out.exists()
    res = runner.invoke(app, ["monitor", "--work", str(tmp_path / "nope"), "--out", str(out)])
    assert res.exit_code == 2 and "feature table not found" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def _labelled_features(work: Path, n: int = 3000, seed: int = 1) -> None:
    """Six yearly reference dates of the same young people: outcome share 0.02 up to 2021, 0.06
    at 2022 (the newest date with known outcomes) and unknown at 2023 (horizon not passed)."""
    rng = np.random.default_rng(seed)
    band = rng.choice(["8-12", "13-19", "20-23"], n)
    frames = []
    for year in range(2018, 2024):
        f = pd.DataFrame({"rinpersoon": np.arange(n), "ref_date": pd.Timestamp(f"{year}-01-01"), "age_band": band})
        f["age"] = np.select([band == "8-12", band == "13-19"], [10, 16], 21).astype("int8")
        for c in sorted(set(feature_columns("13-19")) - {"age"}):
            f[c] = (rng.random(n) < 0.05).astype("float32")
        p = 0.06 if year == 2022 else 0.02
        f["label"] = pd.array(rng.random(n) < p, dtype="boolean")
        if year == 2023:
            f["label"] = pd.array([pd.NA] * n, dtype="boolean")
        frames.append(f)
    work.mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_parquet(work / "features.parquet", index=False)


def test_prevalence_is_measured_against_the_training_period(tmp_path: Path):
    # The newest reference date never has a known outcome, so comparing the newest two dates
    # never measured the prevalence. It compares the newest date with known outcomes (2022)
    # with the training period of `aanwas train`'s split (2018-2020; 2021 tunes, 2022 tests).
    work = tmp_path / "work"
    _labelled_features(work)
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    res = run_monitor(AppConfig(), tmp_path / "monitor", work=work, mlflow_uri=uri)
    assert (res.reference, res.current) == (pd.Timestamp("2022-01-01"), pd.Timestamp("2023-01-01"))
    prev = pd.read_csv(tmp_path / "monitor" / "drift_prevalence.csv", keep_default_na=False)
    assert list(prev["age_band"]) == ["13-19", "20-23", "8-12"]
    assert set(prev["reference_dates"]) == {"2018-01-01,2019-01-01,2020-01-01"}
    assert set(prev["current_date"]) == {"2022-01-01"} and set(prev["reason"]) == {""}
    assert prev["shifted"].all() and (prev["prevalence_cur"] > prev["prevalence_ref"]).all()
    assert res.drift.retrain_recommended and any("outcome prevalence changed" in r for r in res.drift.reasons)
