"""Shared fixtures of the training tests: a fabricated feature table and a fast config."""

from __future__ import annotations

import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table

from aanwas.config import AppConfig, load_config

FAST = (
    "training.tuning.n_trials=3",
    "training.tuning.n_startup_trials=2",
    "training.tuning.pruning_warmup_rounds=10",
    "training.lightgbm.n_jobs=1",
    "training.lightgbm.n_estimators=300",
    "training.lightgbm.early_stopping_rounds=20",
    "training.lightgbm.learning_rate=0.1",
)


def fast_config(*overrides: str) -> AppConfig:
    """Config with a tiny tuning budget (3 trials, one thread)."""
    return load_config(None, [*FAST, *overrides])


@pytest.fixture(scope="session")
def small_table() -> tuple[pd.DataFrame, pd.Series]:
    """About 18,000 person x date rows, three bands, censored last dates, true risk."""
    return fabricate_feature_table(4000, seed=11)


@pytest.fixture(scope="session")
def fast_cfg() -> AppConfig:
    return fast_config()


@pytest.fixture(scope="session")
def make_cfg():  # type: ignore[no-untyped-def]
    """Factory: ``make_cfg("training.x=1", ...)`` -> fast AppConfig with overrides."""
    return fast_config


@pytest.fixture(scope="session")
def store_template(tmp_path_factory):  # type: ignore[no-untyped-def]
    """An empty, migrated MLflow SQLite database, made once (creating one takes seconds)."""
    import mlflow

    from training.tracking import sqlite_uri

    db = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=sqlite_uri(db)).search_experiments()
    return db


@pytest.fixture(scope="session")
def new_store(store_template):  # type: ignore[no-untyped-def]
    """Factory: ``new_store(directory)`` -> URI of a fresh empty store ``directory/mlflow.db``."""
    import shutil

    from training.tracking import sqlite_uri

    def make(directory):  # type: ignore[no-untyped-def]
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store_template, directory / "mlflow.db")
        return sqlite_uri(directory / "mlflow.db")

    return make


class FakeGateCheck:
    """A :class:`evaluation.gates.GateChecker` whose verdict is ``decide(band, rows, risk)``;
    ``verdicts`` as given, no evaluation results, no registration audit. Records the model and
    features each call got (``seen``)."""

    def __init__(self, decide, verdicts=None):  # type: ignore[no-untyped-def]
        self.decide = decide
        self.verdicts = dict(verdicts or {})
        self.results: dict = {}  # type: ignore[type-arg]
        self.seen: list = []  # type: ignore[type-arg]

    def add_registrations(self, band, frame, risk) -> None:  # type: ignore[no-untyped-def]
        return None

    def __call__(self, band, test_rows, risk, *, model=None, features=()):  # type: ignore[no-untyped-def]
        self.seen.append((band, model, tuple(features)))
        return self.decide(band, test_rows, risk)

    def pooled_result(self, model_info=None):  # type: ignore[no-untyped-def]
        return None


@pytest.fixture(scope="session")
def fake_gate_check():  # type: ignore[no-untyped-def]
    """The class :class:`FakeGateCheck` (tests build their own)."""
    return FakeGateCheck
