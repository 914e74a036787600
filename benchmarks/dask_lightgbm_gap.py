"""Test AUC of LightGBM grown by lightgbm.dask against local fits, on a two-worker LocalCluster.

The setting of ``tests/training/test_training_dask_engine.py``: band 13-19 of the fabricated
feature table (``--persons`` persons), tuning off, ``training.max_train_rows = 2000``, 200
rounds at most, the quick-test training settings. Per table seed (``--seeds``) it fits, locally,
the band on the 2,000-row sample (``fit_band``: picks the rounds by early stopping) and
LightGBM on every training row with those rounds for LightGBM seeds 1-5 (seed 1 is the config's);
then, per cluster start (``--starts``), ``models.fit_on_dask`` on every training row with those
rounds, counting the LightGBM machines that trained (workers holding rows).

Runs against whatever ``models`` package is first on the path, so the same script measures
``fit_on_dask`` before and after a change::

    PYTHONPATH=$PWD nice -n 10 python benchmarks/dask_lightgbm_gap.py --seeds 10 --starts 2
    PYTHONPATH=/path/to/old/checkout nice -n 10 python benchmarks/dask_lightgbm_gap.py --seeds 10 --starts 2

(the fabricated table and the quick tests' settings come from this checkout's tests/).

Prints one line per fit and a JSON summary: the Dask fit minus the local fit on the same rows
(``gap_same_rows``), minus the local fit on the sample (``gap_sample``), and LightGBM's own
seed-to-seed spread on the same rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "support"), str(ROOT / "tests" / "training")]

SETTINGS = ("training.tuning.enabled=false", "training.max_train_rows=2000", "training.lightgbm.n_estimators=200")
LIGHTGBM_SEEDS = range(1, 6)


def _count_machines(log: str) -> None:
    """Record in ``log`` the rows of every LightGBM machine of a lightgbm.dask fit."""
    import lightgbm.dask as ldask

    real = ldask._train_part

    def spy(**kw):  # type: ignore[no-untyped-def]
        with open(log, "a") as f:
            f.write(f"{sum(len(p['label']) for p in kw['list_of_parts'])}\n")
        return real(**kw)

    ldask._train_part = spy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=6000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--starts", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    import distributed
    from conftest import fast_config  # the quick tests' training settings
    from fabricated_features import fabricate_feature_table

    from models import fit_on_dask
    from training.fit import fit_band, resolve_features, select_test_part
    from training.splits import build_temporal_splits
    from training.tuning import build_lightgbm

    log = os.path.join(tempfile.mkdtemp(), "machines.log")
    _count_machines(log)
    cfg = fast_config(*SETTINGS).training
    rows = []
    for seed in range(1, args.seeds + 1):
        frame, _ = fabricate_feature_table(args.persons, seed=seed)
        split = build_temporal_splits(frame, ["13-19"], cfg.split)["13-19"]
        features = resolve_features(frame, "13-19", cfg)
        local = fit_band(frame, split, features, cfg)
        train, (test, y_te) = split.select(frame, "train"), select_test_part(frame, local)
        X_all, y_all = train[list(features)], train["label"].astype("bool").to_numpy(dtype=np.int8)
        X_te = test[list(features)]
        rounds = int(local.lightgbm_params["best_iteration"])
        same_rows = {
            s: roc_auc_score(
                y_te,
                build_lightgbm(cfg.lightgbm, s, n_estimators=rounds, early_stopping_rounds=None)
                .fit(X_all, y_all)
                .predict_proba(X_te)[:, 1],
            )
            for s in LIGHTGBM_SEEDS
        }
        for start in range(args.starts):
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
            )
            with cluster, distributed.Client(cluster) as client:
                open(log, "w").close()
                fitted = fit_on_dask(build_lightgbm(cfg.lightgbm, cfg.seed), X_all, y_all, client, n_rounds=rounds)
                auc = roc_auc_score(y_te, fitted.predict_proba(X_te)[:, 1])
            shares = open(log).read().split()
            row = {
                "table_seed": seed, "start": start, "n_train": len(y_all), "positives_train": int(y_all.sum()),
                "rounds": rounds, "machines": len(shares), "rows_per_machine": "/".join(shares),
                "auc_sample": local.metrics["lightgbm"]["auc"], "auc_same_rows": same_rows[cfg.seed], "auc_dask": auc,
                "seed_spread_same_rows": max(same_rows.values()) - min(same_rows.values()),
            }  # fmt: skip
            rows.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    d = pd.DataFrame(rows)
    gap = d["auc_dask"] - d["auc_same_rows"]
    gap_sample = d["auc_dask"] - d["auc_sample"]
    rows_worth = d["auc_same_rows"] - d["auc_sample"]
    summary = {
        "fits": len(d),
        "machines": d["machines"].value_counts().to_dict(),
        "gap_same_rows": {"min": gap.min(), "max": gap.max(), "mean": gap.mean(), "sd": gap.std()},
        "gap_sample": {"min": gap_sample.min(), "max": gap_sample.max()},
        "same_rows_minus_sample": {"min": rows_worth.min(), "max": rows_worth.max()},
        "seed_spread_same_rows_max": d["seed_spread_same_rows"].max(),
        "dask_auc_range_over_starts_max": d.groupby("table_seed")["auc_dask"].agg(np.ptp).max(),
    }
    print(json.dumps({k: _rounded(v) for k, v in summary.items()}))


def _rounded(v: object) -> object:
    return {str(a): round(float(b), 4) for a, b in v.items()} if isinstance(v, dict) else v


if __name__ == "__main__":
    main()
