"""The demo pipeline on a tiny synthetic population, shared by the end-to-end test modules.

``demo_dir`` is one demo run; ``demo_dir_again`` is the reproducibility run: the same data seed,
config and model seed into another directory, through the stage commands whose outputs the
reproducibility tests compare (synth, features, train, export; the demo's validate, report,
monitor and output check write nothing they read). While working on these tests,
AANWAS_E2E_DEMO_DIR (and AANWAS_E2E_DEMO_DIR_AGAIN) can name existing runs made with the same
commands (``aanwas demo --scale 0.4 --seed 3`` plus FAST): they are only read.

The demo's region (Gooi en Vechtstreek) at 40 % of its real density: ~18k young people, the
size the national demo at scale 0.005 had here before, down to buurt level.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aanwas.cli import app, region_override
from aanwas.stages.demo import DEMO_REGION, DemoLayout, demo_settings

SCALE, SEED = "0.4", "3"
FAST = [
    "--set", "training.tuning.n_trials=2",
    "--set", "training.lightgbm.n_jobs=1",
    "--set", "evaluation.bootstrap.reps=30",
    "--set", "evaluation.shap.max_rows=2000",
]  # fmt: skip


def _invoke(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{args[0]}: {result.output} {result.exception!r}"


def run_demo(out: Path) -> Path:
    _invoke(["demo", "--scale", SCALE, "--seed", SEED, "--out", str(out), *FAST])
    return out


def run_reproducibility_stages(out: Path) -> Path:
    """``aanwas demo``'s synth, features, train and export with the demo's settings, into ``out``
    (the same layout), one command each."""
    layout = DemoLayout(out)
    (out / "mlflow").mkdir(parents=True)
    settings = _demo_args()
    raw, work, store = str(layout.raw), str(layout.work), ["--mlflow-uri", layout.mlflow_uri]
    _invoke(["synth", "--scale", SCALE, "--seed", SEED, "--out", str(out), *settings])
    _invoke(["features", "--data", raw, "--work", work, *settings])
    _invoke(["train", "--work", work, "--truth", str(layout.truth), *store, *settings])
    _invoke(["export", "--work", work, "--out", str(layout.exports), "--data", raw, *store, *settings])
    return out


def _demo_args() -> list[str]:
    """``--set`` options of the demo's settings (its default region included) plus FAST."""
    demo_config = demo_settings(float(SCALE), int(SEED), region_override(",".join(DEMO_REGION)), [])
    return [*(a for o in demo_config for a in ("--set", o)), *FAST]


@pytest.fixture(scope="session")
def demo_args() -> list[str]:
    """The settings the demo runs of this module use, as command-line options."""
    return _demo_args()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("AANWAS_E2E_DEMO_DIR"):
        return Path(os.environ["AANWAS_E2E_DEMO_DIR"])
    return run_demo(tmp_path_factory.mktemp("demo") / "run")


@pytest.fixture(scope="session")
def demo_dir_again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("AANWAS_E2E_DEMO_DIR_AGAIN"):
        return Path(os.environ["AANWAS_E2E_DEMO_DIR_AGAIN"])
    return run_reproducibility_stages(tmp_path_factory.mktemp("demo-again") / "run")
