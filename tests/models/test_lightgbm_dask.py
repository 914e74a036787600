"""LightGBM grown by lightgbm.dask on a two-worker LocalCluster is as good as a local fit.

Not bit-identical (each worker bins its own rows; histograms are reduced over the network),
so the test compares AUC on held-out rows with a tolerance, and checks that the tolerance
catches a real mistake: the same fit with the labels shuffled is far off. A rare indicator,
too rare on each worker's share for a leaf of ``min_child_samples`` rows but not on all rows,
must still be used (LightGBM's feature pre-filter judges each worker's rows alone).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models import LightGBMRiskClassifier, fit_on_dask

pytest.importorskip("distributed")

#: AUC difference a distributed fit may have from the local one on the same rows (measured
#: about 0.002 here); a model that learned nothing is ~0.25 below.
AUC_TOLERANCE = 0.02


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)).astype(np.float32), columns=["ind_a", "ind_b", "ind_c", "ind_d"])
    X.loc[rng.random(n) < 0.2, "ind_c"] = np.nan  # not applicable: LightGBM routes missing values
    logit = -2.0 + 1.2 * X["ind_a"] - 0.8 * X["ind_b"] + 0.6 * X["ind_a"] * X["ind_d"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    return X, y


def _est() -> LightGBMRiskClassifier:
    return LightGBMRiskClassifier(n_estimators=60, num_leaves=7, min_child_samples=50, random_state=1, n_jobs=1)


def test_dask_fit_is_as_good_as_local(client):
    X, y = _data(6000, 1)
    X_te, y_te = _data(4000, 2)
    local = _est().fit(X, y)
    remote = fit_on_dask(_est(), X, y, client, n_rounds=local.best_iteration_)
    assert remote.best_iteration_ == local.best_iteration_ == 60
    assert list(remote.feature_names_in_) == list(X.columns)
    auc_local = roc_auc_score(y_te, local.predict_proba(X_te)[:, 1])
    auc_remote = roc_auc_score(y_te, remote.predict_proba(X_te)[:, 1])
    assert auc_local > 0.75
    assert abs(auc_remote - auc_local) < AUC_TOLERANCE
    shuffled = fit_on_dask(_est(), X, np.random.default_rng(0).permutation(y), client, n_rounds=60)
    assert auc_local - roc_auc_score(y_te, shuffled.predict_proba(X_te)[:, 1]) > 10 * AUC_TOLERANCE


def test_a_rare_indicator_too_rare_on_each_worker_is_still_used(client):
    rng = np.random.default_rng(3)
    n = 4000
    rare = (rng.random(n) < 0.075).astype(np.float32)  # set on about 300 rows, about 150 per worker
    X = pd.DataFrame({"ind_rare": rare, "ind_noise": rng.normal(size=n).astype(np.float32)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 2.5 * X["ind_rare"].to_numpy())))).astype(int)
    est = LightGBMRiskClassifier(n_estimators=10, num_leaves=3, min_child_samples=200, random_state=1, n_jobs=1)
    set_rows = int(X["ind_rare"].sum())
    assert est.min_child_samples < set_rows < 2 * est.min_child_samples  # each worker's half alone is too few
    local = est.fit(X, y)
    remote = fit_on_dask(LightGBMRiskClassifier(**est.get_params()), X, y, client, n_rounds=10)
    used = dict(zip(X.columns, remote.booster_.feature_importance(), strict=True))
    assert dict(zip(X.columns, local.booster_.feature_importance(), strict=True))["ind_rare"] > 0
    assert used["ind_rare"] > 0
