"""Optuna tuning: seeded, budgeted, pruning, subsampling, defaults tried first."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from training.config import LightGBMConfig, TuningConfig
from training.fit import resolve_features
from training.splits import build_temporal_splits
from training.tuning import build_lightgbm, tune_lightgbm

optuna.logging.set_verbosity(optuna.logging.WARNING)
LGBM = LightGBMConfig(n_estimators=150, early_stopping_rounds=15, learning_rate=0.1, n_jobs=1)


@pytest.fixture(scope="module")
def parts(small_table, fast_cfg):  # type: ignore[no-untyped-def]
    frame, _ = small_table
    split = build_temporal_splits(frame, ["13-19"], fast_cfg.training.split)["13-19"]
    cols = list(resolve_features(frame, "13-19", fast_cfg.training))
    out = []
    for part in ("train", "tune"):
        rows = split.select(frame, part)
        out += [rows[cols], rows["label"].astype(bool).to_numpy(dtype=int)]
    return out


def test_same_seed_same_search(parts) -> None:  # type: ignore[no-untyped-def]
    cfg = TuningConfig(n_trials=4, n_startup_trials=2, pruning=False)
    one = tune_lightgbm(*parts, lightgbm=LGBM, tuning=cfg, seed=5)
    two = tune_lightgbm(*parts, lightgbm=LGBM, tuning=cfg, seed=5)
    assert one.best_params == two.best_params
    assert one.best_value == two.best_value
    assert one.n_trials == 4 and one.n_complete == 4 and one.n_pruned == 0


def test_first_trial_is_the_default_and_callbacks_see_every_trial(parts) -> None:  # type: ignore[no-untyped-def]
    seen: list[optuna.trial.FrozenTrial] = []
    tune_lightgbm(
        *parts,
        lightgbm=LGBM,
        tuning=TuningConfig(n_trials=3, n_startup_trials=2),
        seed=1,
        callbacks=[lambda s, t: seen.append(t)],
    )
    assert [t.number for t in seen] == [0, 1, 2]
    assert seen[0].params["num_leaves"] == LGBM.num_leaves
    assert seen[0].params["learning_rate"] == pytest.approx(LGBM.learning_rate)
    assert all("best_iteration" in t.user_attrs for t in seen if t.state == optuna.trial.TrialState.COMPLETE)


def test_pruning_stops_hopeless_trials(parts) -> None:  # type: ignore[no-untyped-def]
    # learning rates so small that the trials after the first cannot catch up by round 20
    lgbm = LightGBMConfig(n_estimators=100, early_stopping_rounds=0, learning_rate=0.2, n_jobs=1)
    cfg = TuningConfig(
        n_trials=6,
        n_startup_trials=1,
        pruning_warmup_rounds=0,
        report_every_rounds=10,
        search=TuningConfig().search.__class__(learning_rate=(1e-5, 1e-4), num_leaves=(2, 3)),
    )
    result = tune_lightgbm(*parts, lightgbm=lgbm, tuning=cfg, seed=3)
    assert result.n_pruned >= 1
    assert result.n_complete + result.n_pruned == result.n_trials == 6


def test_timeout_budget_stops_the_search(parts) -> None:  # type: ignore[no-untyped-def]
    result = tune_lightgbm(*parts, lightgbm=LGBM, tuning=TuningConfig(n_trials=0, timeout_seconds=0.01), seed=1)
    assert 1 <= result.n_trials < 5


def test_subsampling_trains_on_fewer_rows(parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sizes: list[int] = []
    real_fit = build_lightgbm(LGBM, 0).__class__.fit

    def spy(self, X, y, **kw):  # type: ignore[no-untyped-def]
        sizes.append(len(X))
        return real_fit(self, X, y, **kw)

    monkeypatch.setattr(build_lightgbm(LGBM, 0).__class__, "fit", spy)
    X_tr = parts[0]
    tune_lightgbm(*parts, lightgbm=LGBM, tuning=TuningConfig(n_trials=2, subsample_rows=1000, pruning=False), seed=2)
    assert len(X_tr) > 1000
    assert sizes and all(abs(s - 1000) <= 2 for s in sizes)


def test_shared_storage_continues_a_study(parts, tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    cfg = TuningConfig(n_trials=2, n_startup_trials=1, pruning=False, storage=storage)
    tune_lightgbm(*parts, lightgbm=LGBM, tuning=cfg, seed=1, study_name="s")
    second = tune_lightgbm(*parts, lightgbm=LGBM, tuning=cfg, seed=1, study_name="s")
    assert second.n_trials == 4  # a second worker adds to the same study
    assert np.isfinite(second.best_value)
    assert isinstance(parts[0], pd.DataFrame)


def test_no_completed_trial_is_one_clear_error(parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from training import tuning

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("lightgbm refused the settings")

    monkeypatch.setattr(tuning, "build_lightgbm", broken)
    cfg = TuningConfig(n_trials=3, pruning=False)
    with pytest.raises(tuning.TuningError) as info:
        tune_lightgbm(*parts, lightgbm=LGBM, tuning=cfg, seed=1, study_name="aanwas-13-19")
    assert str(info.value) == (
        "tuning 'aanwas-13-19': none of 3 trial(s) completed (3 failed, 0 pruned); "
        "the first failed with ValueError: lightgbm refused the settings"
    )
    assert info.value.exit_code == 1  # not bad input: the CLI convention's "any other failure"


def test_a_failing_trial_does_not_stop_the_search(parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from training import tuning

    calls = {"n": 0}
    real = tuning.build_lightgbm

    def first_fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("only the first")
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning, "build_lightgbm", first_fails)
    result = tune_lightgbm(*parts, lightgbm=LGBM, tuning=TuningConfig(n_trials=3, pruning=False), seed=1)
    assert (result.n_trials, result.n_complete) == (3, 2)
