"""The demo pipeline on a tiny synthetic population, shared by the end-to-end test modules.

``demo_dir`` is one demo run; ``demo_dir_again`` is a second run with the same data seed,
config and model seed into another directory (for the reproducibility test). While working on
these tests, AANWAS_E2E_DEMO_DIR (and AANWAS_E2E_DEMO_DIR_AGAIN) can name existing runs made
with the same command (``aanwas demo --scale 0.005 --seed 3`` plus FAST): they are only read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aanwas.cli import app

SCALE, SEED = "0.005", "3"
FAST = [
    "--set", "training.tuning.n_trials=2",
    "--set", "training.lightgbm.n_jobs=1",
    "--set", "evaluation.bootstrap_reps=30",
    "--set", "evaluation.shap_max_rows=2000",
]  # fmt: skip


def run_demo(out: Path) -> Path:
    result = CliRunner().invoke(app, ["demo", "--scale", SCALE, "--seed", SEED, "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("AANWAS_E2E_DEMO_DIR"):
        return Path(os.environ["AANWAS_E2E_DEMO_DIR"])
    return run_demo(tmp_path_factory.mktemp("demo") / "run")


@pytest.fixture(scope="session")
def demo_dir_again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("AANWAS_E2E_DEMO_DIR_AGAIN"):
        return Path(os.environ["AANWAS_E2E_DEMO_DIR_AGAIN"])
    return run_demo(tmp_path_factory.mktemp("demo-again") / "run")
