"""A small tuning job that several processes run on one shared Optuna study (the scale-out
tests start it in subprocesses too)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.config import LightGBMConfig, TuningConfig
from training.tuning import tune_lightgbm

STUDY = "shared"
LGB = LightGBMConfig(n_estimators=60, early_stopping_rounds=10, learning_rate=0.2, n_jobs=1)


def data(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = (rng.random(n) < 1 / (1 + np.exp(2.5 - 1.5 * X["a"] - 0.5 * X["b"]))).astype(int)
    return X, y.to_numpy()


def tune_shared(storage: str, worker: int, n_trials: int) -> float:
    """Join study :data:`STUDY` in ``storage`` as ``worker``, run ``n_trials``; the best value."""
    X, y = data()
    tuning = TuningConfig(n_trials=n_trials, n_startup_trials=2, pruning=False, storage=storage, worker=worker)
    res = tune_lightgbm(X[:1000], y[:1000], X[1000:], y[1000:], lightgbm=LGB, tuning=tuning, seed=3, study_name=STUDY)
    return res.best_value
