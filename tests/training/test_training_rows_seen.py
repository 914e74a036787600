"""Which rows each step of fit_band sees: the calibrator and early stopping see the tuning date only.

Fitting the calibrator (or stopping LightGBM early) on the TEST date instead of the tuning date
leaks the test labels into the model: every quality figure on the test date is then optimistic,
yet all other training tests still pass (the models are as good, only the measurement lies).
These tests record the rows every LightGBM fit (tuning trials included) and every calibration
receive and compare them with the temporal split, row by row.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table

import training.fit
from models._lightgbm import LightGBMRiskClassifier
from training.fit import MODEL_NAMES, fit_band, resolve_features
from training.splits import build_temporal_splits


@pytest.fixture(scope="module")
def seen(make_cfg) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Run fit_band (with a tiny tuning study) and record the rows each step received."""
    frame, truth = fabricate_feature_table(6000, seed=5)
    cfg = make_cfg("training.tuning.n_trials=2", "training.tuning.n_startup_trials=1").training
    split = build_temporal_splits(frame, ["13-19"], cfg.split)["13-19"]
    feats = resolve_features(frame, "13-19", cfg)
    record: dict[str, list[Any]] = {"lgbm_fit": [], "lgbm_eval": [], "calibrate": []}
    original_fit = LightGBMRiskClassifier.fit
    original_calibrate = training.fit.fit_calibrated

    def spy_fit(self, X, y, *, eval_set=None, **kw):  # type: ignore[no-untyped-def]
        record["lgbm_fit"].append(pd.Index(X.index))
        record["lgbm_eval"].append(None if eval_set is None else pd.Index(eval_set[0].index))
        return original_fit(self, X, y, eval_set=eval_set, **kw)

    def spy_calibrate(estimator, X, y, **kw):  # type: ignore[no-untyped-def]
        record["calibrate"].append(pd.Index(X.index))
        return original_calibrate(estimator, X, y, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LightGBMRiskClassifier, "fit", spy_fit)
        mp.setattr(training.fit, "fit_calibrated", spy_calibrate)
        fit_band(frame, split, feats, cfg, truth=truth)
    parts = {part: pd.Index(split.select(frame, part).index) for part in ("train", "tune", "test")}
    return {"record": record, "parts": parts}


def test_the_split_parts_are_disjoint_and_non_empty(seen) -> None:  # type: ignore[no-untyped-def]
    p = seen["parts"]
    assert all(len(ix) > 0 for ix in p.values())
    assert p["train"].intersection(p["tune"]).empty
    assert p["train"].intersection(p["test"]).empty
    assert p["tune"].intersection(p["test"]).empty


def test_every_calibrator_is_fitted_on_exactly_the_tuning_rows(seen) -> None:  # type: ignore[no-untyped-def]
    p, calls = seen["parts"], seen["record"]["calibrate"]
    assert len(calls) == len(MODEL_NAMES)  # one calibration per model
    for rows in calls:
        assert rows.intersection(p["test"]).empty, "the calibrator saw test rows"
        assert rows.sort_values().equals(p["tune"].sort_values()), "the calibrator did not see the tuning rows"


def test_lightgbm_trains_on_training_rows_and_stops_early_on_the_tuning_rows(seen) -> None:  # type: ignore[no-untyped-def]
    p, rec = seen["parts"], seen["record"]
    assert len(rec["lgbm_fit"]) >= 3  # two tuning trials and the final fit
    for fit_rows, eval_rows in zip(rec["lgbm_fit"], rec["lgbm_eval"], strict=True):
        assert fit_rows.difference(p["train"]).empty, "LightGBM was fitted on rows outside the training dates"
        assert eval_rows is not None
        assert eval_rows.intersection(p["test"]).empty, "early stopping / tuning saw test rows"
        assert eval_rows.sort_values().equals(p["tune"].sort_values())
