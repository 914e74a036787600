"""``mlflow run . -e main``: the demo's whole chain as MLflow project steps, each a child run of
the project run, and nothing written into the repository or the current directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = ["synth", "validate", "features", "train", "report", "export", "monitor-drift", "check"]


def _repo_state() -> tuple[str, list[str]]:
    """Every untracked or changed path of the repository, and the names at its root (an ignored
    mlflow.db, mlruns/ or artifacts/ shows there; tool caches inside dot folders do not matter)."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return status, sorted(p.name for p in ROOT.iterdir() if not p.name.startswith("."))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to see what the run wrote")
def test_main_entry_point_runs_every_step_as_a_child_run(tmp_path: Path) -> None:
    import mlflow

    cwd, out, store = tmp_path / "cwd", tmp_path / "demo", tmp_path / "store" / "mlflow.db"
    cwd.mkdir()
    config = tmp_path / "small.toml"
    config.write_text("[training.tuning]\nn_trials = 2\n[evaluation.bootstrap]\nreps = 30\n")
    uri = f"sqlite:///{store}"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.pop("MLFLOW_RUN_ID", None)
    before = _repo_state()
    params = ["-P", f"out={out}", "-P", "scale=0.25", "-P", "finest_level=gemeente", "-P", f"config={config}"]
    done = subprocess.run(
        [str(Path(bin_dir) / "mlflow"), "run", str(ROOT), "-e", "main", "--env-manager", "local", *params],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nothing found" in done.stdout + done.stderr  # the output check ran and found nothing
    assert _repo_state() == before
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in store.parent.iterdir()) == ["artifacts", "mlflow.db"]

    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (project,) = [r for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "main"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == project.info.run_id]
    assert sorted(r.info.run_name for r in children) == sorted(STEPS)
    assert all(r.info.status == "FINISHED" for r in children)
    assert not project.data.metrics and "aanwas.stage" not in project.data.tags
    (train,) = [r for r in children if r.info.run_name == "train"]
    trials = [r for r in runs if r.data.tags.get("aanwas.kind") == "tuning-trial"]
    assert trials and all(r.data.tags["mlflow.parentRunId"] == train.info.run_id for r in trials)
    assert {r.info.experiment_id for r in trials} == {train.info.experiment_id}
