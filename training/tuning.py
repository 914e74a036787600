"""Optuna TPE search over LightGBM settings, with median pruning and a seeded, bounded budget.

Each trial fits LightGBM on the training dates (optionally a stratified subsample, so tuning
stays affordable at national scale) and scores the AUC on the tuning date; LightGBM reports
that AUC every few rounds so the median pruner can stop hopeless trials early. The first
trial is the configured default, so tuning never ends worse than the defaults on the tuning
date. Library code: no MLflow here; pass ``callbacks`` (e.g. one that logs each finished trial
as a nested MLflow run) from the stage wiring.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.storages.journal import JournalFileBackend
from sklearn.metrics import roc_auc_score

from aanwas.common.errors import AanwasError
from models import LightGBMRiskClassifier
from training.config import LightGBMConfig, SearchSpace, TuningConfig
from training.splits import stratified_subsample

TUNED = ("learning_rate", "num_leaves", "min_child_samples", "reg_lambda", "colsample_bytree", "subsample")
LOG_SCALE = ("learning_rate", "num_leaves", "min_child_samples", "reg_lambda")

#: Tries to open an RDB storage while other processes may be creating its schema.
_SCHEMA_ATTEMPTS = 5
_SQLITE_LOCK_SECONDS = 60.0

TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]
#: Longest part of a trial's error message repeated in :class:`TuningError`.
ERROR_TEXT_CHARS = 300


class TuningError(AanwasError):
    """No tuning trial completed: one line with the study, the trial counts and the first
    failed trial's error. Exit code 1 (a failure that is not bad input; each failed trial's
    traceback is logged above the line by Optuna)."""

    exit_code = 1

    def __init__(self, study: str, n_trials: int, n_failed: int, n_pruned: int, first_error: str | None):
        first = f"; the first failed with {first_error}" if first_error else ""
        super().__init__(
            f"tuning '{study}': none of {n_trials} trial(s) completed ({n_failed} failed, {n_pruned} pruned){first}"
        )


@dataclasses.dataclass(frozen=True)
class TuningResult:
    """Outcome of a search: best settings, their tuning-date AUC and the trial counts."""

    best_params: Mapping[str, Any]
    best_value: float
    n_trials: int
    n_complete: int
    n_pruned: int
    trials: tuple[optuna.trial.FrozenTrial, ...] = ()


def open_storage(storage: str) -> optuna.storages.BaseStorage | None:
    """The Optuna storage of ``training.tuning.storage``: None (in memory) for "", an RDB for a
    URL (``dialect://...``), else a journal file at that path (one file that several processes
    on a shared file system append to).

    Examples
    --------
    >>> open_storage("") is None
    True
    """
    if not storage:
        return None
    if "://" not in storage:
        return optuna.storages.JournalStorage(JournalFileBackend(storage))
    # SQLite: wait for another process's write lock instead of failing after sqlite's 5 s
    engine = {"connect_args": {"timeout": _SQLITE_LOCK_SECONDS}} if storage.startswith("sqlite") else None
    for attempt in range(1, _SCHEMA_ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(storage, engine_kwargs=engine)
        except sqlalchemy.exc.SQLAlchemyError:
            # processes that start together race to create the schema: the loser finds it made
            if attempt == _SCHEMA_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def build_lightgbm(cfg: LightGBMConfig, seed: int, **overrides: Any) -> LightGBMRiskClassifier:
    """A LightGBM classifier from the config, with tuned settings in ``overrides``.

    Examples
    --------
    >>> build_lightgbm(LightGBMConfig(), seed=3, num_leaves=7).get_params()["num_leaves"]
    7
    """
    params: dict[str, Any] = {
        "n_estimators": cfg.n_estimators,
        "early_stopping_rounds": cfg.early_stopping_rounds or None,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "reg_lambda": cfg.reg_lambda,
        "colsample_bytree": cfg.colsample_bytree,
        "subsample": cfg.subsample,
        "subsample_freq": cfg.subsample_freq,
        "max_depth": cfg.max_depth,
        "random_state": seed,
        "n_jobs": cfg.n_jobs or None,
    }
    unknown = set(overrides) - set(params)
    if unknown:
        raise ValueError(f"unknown LightGBM settings: {sorted(unknown)}")
    params.update(overrides)
    return LightGBMRiskClassifier(**params)


def suggest_params(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Draw one setting of every tuned parameter from ``space``."""
    out: dict[str, Any] = {}
    for name in TUNED:
        low, high = getattr(space, name)
        if isinstance(low, int) and isinstance(high, int):
            out[name] = trial.suggest_int(name, low, high, log=name in LOG_SCALE)
        else:
            out[name] = trial.suggest_float(name, float(low), float(high), log=name in LOG_SCALE)
    return out


def _defaults_in_space(cfg: LightGBMConfig, space: SearchSpace) -> dict[str, Any] | None:
    values = {name: getattr(cfg, name) for name in TUNED}
    inside = all(getattr(space, n)[0] <= v <= getattr(space, n)[1] for n, v in values.items())
    return values if inside else None


def pruning_callback(trial: optuna.Trial, *, report_every: int, metric: str = "auc") -> Callable[[Any], None]:
    """LightGBM callback: report the eval-set ``metric`` to Optuna and prune when told."""

    def callback(env: Any) -> None:
        step = env.iteration + 1
        if step % report_every:
            return
        for _data, name, value, _higher_better in env.evaluation_result_list:
            if name == metric:
                trial.report(float(value), step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at round {step}")
                return

    return callback


def _open_study(tuning: TuningConfig, seed: int, name: str) -> optuna.Study:
    """A new study, or with a shared ``tuning.storage`` the existing one of ``name`` joined:
    TPE sampler seeded ``seed + tuning.worker``, median pruning when ``tuning.pruning``."""
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=tuning.n_startup_trials,
            n_warmup_steps=tuning.pruning_warmup_rounds,
        )
        if tuning.pruning
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed + tuning.worker, n_startup_trials=tuning.n_startup_trials),
        pruner=pruner,
        storage=open_storage(tuning.storage),
        study_name=name,
        load_if_exists=bool(tuning.storage),
    )


def tune_lightgbm(
    X_train: Any,
    y_train: Any,
    X_tune: Any,
    y_tune: Any,
    *,
    lightgbm: LightGBMConfig,
    tuning: TuningConfig,
    seed: int,
    study_name: str | None = None,
    callbacks: Sequence[TrialCallback] = (),
) -> TuningResult:
    """Search LightGBM settings that maximise the AUC on the tuning date.

    Parameters
    ----------
    X_train, y_train : training rows (earlier reference dates) and 0/1 labels
    X_tune, y_tune : tuning rows (a later reference date) and 0/1 labels
    lightgbm : LightGBMConfig
        Fixed settings (maximum rounds, early stopping, threads) and the first trial.
    tuning : TuningConfig
        Budget (``n_trials`` and/or ``timeout_seconds``), pruning, subsampling, storage.
    seed : int
        Seeds the subsample and LightGBM; the TPE sampler gets ``seed + tuning.worker``, so
        processes sharing one study draw different settings, each reproducibly.
    study_name : str, optional
        Defaults to ``tuning.study_name``; with a shared ``storage`` an existing study of this
        name is joined: each process runs its own ``n_trials`` (the study's total is their
        sum) and the result is the study's best trial, whichever process ran it.
    callbacks : sequence of callables
        Optuna callbacks ``(study, frozen_trial)`` run after each trial.

    Returns
    -------
    TuningResult
    """
    y_train = np.asarray(y_train)
    y_tune = np.asarray(y_tune)
    idx = stratified_subsample(y_train, tuning.subsample_rows, seed)
    X_fit = X_train.iloc[idx] if hasattr(X_train, "iloc") else X_train[idx]
    y_fit = y_train[idx]

    errors: list[str] = []  # each failed trial's error, in order (the first one is reported)

    def objective(trial: optuna.Trial) -> float:
        try:
            params = suggest_params(trial, tuning.search)
            est = build_lightgbm(lightgbm, seed, **params)
            cbs = [pruning_callback(trial, report_every=tuning.report_every_rounds)] if tuning.pruning else []
            est.fit(X_fit, y_fit, eval_set=(X_tune, y_tune), callbacks=cbs)
            trial.set_user_attr("best_iteration", est.best_iteration_)
            auc = float(roc_auc_score(y_tune, est.decision_function(X_tune)))
        except optuna.TrialPruned:
            raise
        except Exception as err:
            errors.append(f"{type(err).__name__}: {str(err)[:ERROR_TEXT_CHARS]}")
            raise
        if not np.isfinite(auc):
            errors.append(f"a tuning-date AUC of {auc}")
        return auc

    study = _open_study(tuning, seed, study_name or tuning.study_name)
    defaults = _defaults_in_space(lightgbm, tuning.search)
    if defaults is not None and tuning.worker == 0 and not study.trials:
        study.enqueue_trial(defaults)
    # a failing trial is recorded and the search goes on; only a search without any completed
    # trial stops the band (TuningError)
    study.optimize(
        objective,
        n_trials=tuning.n_trials or None,
        timeout=tuning.timeout_seconds or None,
        callbacks=list(callbacks),
        catch=(Exception,),
    )
    states = [t.state for t in study.trials]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    if complete == 0:
        raise TuningError(
            study.study_name,
            len(states),
            states.count(optuna.trial.TrialState.FAIL),
            states.count(optuna.trial.TrialState.PRUNED),
            errors[0] if errors else None,
        )
    return TuningResult(
        best_params=dict(study.best_params),
        best_value=float(study.best_value),
        n_trials=len(study.trials),
        n_complete=complete,
        n_pruned=states.count(optuna.trial.TrialState.PRUNED),
        trials=tuple(study.trials),
    )
