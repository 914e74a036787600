"""Fit one age band: LightGBM (tuned) and the two baselines, all calibrated, all scored;
choose the band's model family by evidence (:mod:`training.family`) and, on synthetic data,
measure the training criteria (:mod:`training.criteria`).

Pure library code (no files, no MLflow): the stage wiring passes a feature table and a
:class:`~training.splits.BandSplit` and logs the returned :class:`FittedBand`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from aanwas.common.compute import Executor
from aanwas.common.errors import ConfigError, InputError
from features.contract import AUDIT_ONLY_COLUMNS
from models import (
    FlagCountClassifier,
    build_logistic_baseline,
    expected_calibration_error,
    fit_calibrated,
    fit_on_dask,
    score_metrics,
)
from training.compare import paired_auc_difference
from training.config import NON_FEATURE_COLUMNS, TrainingConfig
from training.criteria import Criterion, evaluate_criteria
from training.family import FamilyChoice, choose_family
from training.splits import BandSplit, stratified_subsample
from training.tuning import TrialCallback, TuningResult, build_lightgbm, tune_lightgbm

#: Model names, main model first.
MODEL_NAMES = ("lightgbm", "flags", "logreg")
#: The model every baseline is compared with (paired AUC differences are LightGBM minus it).
MAIN_MODEL = "lightgbm"
TABLE = "feature table"

Catalogue = Callable[[str], Sequence[str]]


@dataclasses.dataclass(frozen=True)
class FittedBand:
    """Everything fitted and measured for one band (no person-level data inside).

    Attributes
    ----------
    band : str
    split : BandSplit
    features : tuple of str
        Model inputs, in order.
    models : Mapping[str, estimator]
        ``lightgbm``, ``flags``, ``logreg``: calibrated classifiers (``predict_proba``).
    metrics : Mapping[str, Mapping[str, float]]
        Model -> metric -> value on the test date (see :func:`models.score_metrics`).
    counts : Mapping[str, int]
        Rows and positives per part (``n_train``, ``n_pos_train``, ...).
    lightgbm_params : Mapping[str, Any]
        Settings of the final LightGBM model (tuned ones included) and its rounds.
    tuning : TuningResult or None
    reference_metrics : Mapping[str, float]
        AUC, Brier and ECE of extra true-risk variants on the test date (``<name>_auc``).
    comparisons : Mapping[str, Mapping[str, float]]
        Baseline -> paired bootstrap of the main model's test AUC minus the baseline's
        (``auc_diff``, ``auc_diff_lo``, ``auc_diff_hi``, ``auc_diff_p_le0``; see
        :func:`training.compare.paired_auc_difference`).
    family : FamilyChoice or None
        Which family (``logreg`` or ``lightgbm``) is the band's model, and the evidence
        (:func:`training.family.choose_family`); None only for hand-made instances.
    criteria : Mapping[str, Criterion]
        The training criteria (synthetic data, with ``truth`` and the observable oracle only;
        :func:`training.criteria.evaluate_criteria`), else empty.
    """

    band: str
    split: BandSplit
    features: tuple[str, ...]
    models: Mapping[str, Any]
    metrics: Mapping[str, Mapping[str, float]]
    counts: Mapping[str, int]
    lightgbm_params: Mapping[str, Any]
    tuning: TuningResult | None
    reference_metrics: Mapping[str, float] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    comparisons: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    family: FamilyChoice | None = None
    criteria: Mapping[str, Criterion] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    @property
    def chosen(self) -> str:
        """Name of the band's model in :attr:`models` (the family rule's choice)."""
        return MAIN_MODEL if self.family is None else self.family.chosen


def resolve_features(
    frame: pd.DataFrame, band: str, cfg: TrainingConfig, catalogue: Catalogue | None = None
) -> tuple[str, ...]:
    """Model inputs of ``band``: the catalogue's list (or, without one, every numeric non-key
    column with a value in the band), minus ``exclude_features``, plus ``extra_features``.

    Raises
    ------
    ConfigError
        If the list would contain an audit-only attribute, a key or the label.
    InputError
        If a listed column is not in the feature table.

    Examples
    --------
    >>> f = pd.DataFrame({"rinpersoon": [1], "age_band": ["8-12"], "age": [9], "ind_x": [1.0], "label": [True]})
    >>> resolve_features(f, "8-12", TrainingConfig())
    ('age', 'ind_x')
    """
    if catalogue is not None:
        cols = [str(c) for c in catalogue(band)]
    else:
        rows = frame.loc[frame["age_band"].astype("str") == band]
        cols = [
            str(c)
            for c in frame.columns
            if c not in NON_FEATURE_COLUMNS
            and c not in AUDIT_ONLY_COLUMNS
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
            and rows[c].notna().any()
        ]
    cols = [c for c in cols if c not in cfg.exclude_features]
    cols += [c for c in cfg.extra_features if c not in cols]
    forbidden = [c for c in cols if c in AUDIT_ONLY_COLUMNS or c in NON_FEATURE_COLUMNS]
    if forbidden:
        raise ConfigError("features", f"{forbidden[0]!r} is audit-only or a key and can never be a model input")
    if not cols:
        raise ConfigError("features", f"no model inputs for band {band}")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(TABLE, missing[0], None, f"feature of band {band} missing ({len(missing)} missing in all)")
    return tuple(cols)


def _xy(frame: pd.DataFrame, features: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    return frame.loc[:, list(features)], frame["label"].astype("bool").to_numpy(dtype=np.int8)


def _check_both_outcomes(y: np.ndarray, band: str, part: str) -> None:
    if y.size == 0 or y.min() == y.max():
        raise InputError(
            TABLE, "label", int(y.size), f"band {band}, {part} part: needs both outcomes to fit and measure"
        )


def _row_counts(**labels: np.ndarray) -> dict[str, int]:
    """Rows and positive rows per part (``n_train``, ``n_pos_train``, ...)."""
    counts = {}
    for part, y in labels.items():
        counts[f"n_{part}"] = int(y.size)
        counts[f"n_pos_{part}"] = int(y.sum())
    return counts


def _reference_metrics(
    reference_risks: Mapping[str, pd.Series], X_te: pd.DataFrame, y_te: np.ndarray, band: str, cfg: TrainingConfig
) -> dict[str, float]:
    """AUC, Brier score and ECE of each true-risk variant on the test rows (synthetic data)."""
    reference = {}
    for name, series in reference_risks.items():
        ref = _aligned(series, X_te.index, band, name)
        reference[f"{name}_auc"] = float(roc_auc_score(y_te, ref))
        reference[f"{name}_brier"] = float(brier_score_loss(y_te, ref))
        reference[f"{name}_ece"] = expected_calibration_error(
            y_te, ref.to_numpy(), n_bins=cfg.calibration.ece_bins, strategy=cfg.calibration.ece_strategy
        )
    return reference


def _fit_models(
    X_tr: pd.DataFrame,
    y_tr: np.ndarray,
    X_tu: pd.DataFrame,
    y_tu: np.ndarray,
    cfg: TrainingConfig,
    band: str,
    flags: Sequence[str] | None,
    trial_callbacks: Sequence[TrialCallback],
    all_train: tuple[pd.DataFrame, np.ndarray] | None = None,
    dask_client: Any = None,
) -> tuple[TuningResult | None, Any, dict[str, Any]]:
    """Tune (if enabled) and fit LightGBM, fit both baselines, and calibrate all three on the
    tuning rows. Returns the tuning result, the uncalibrated LightGBM and the calibrated models.

    With ``training.engine.lightgbm = "dask"`` LightGBM's trees are grown again on
    ``all_train`` (every training row, not the sample) on the cluster of ``dask_client``, with
    the number of rounds the local early-stopped fit chose."""
    tuned: TuningResult | None = None
    overrides: dict[str, Any] = {}
    if cfg.tuning.enabled:
        tuned = tune_lightgbm(
            X_tr,
            y_tr,
            X_tu,
            y_tu,
            lightgbm=cfg.lightgbm,
            tuning=cfg.tuning,
            seed=cfg.seed,
            study_name=study_name(cfg, band),
            callbacks=trial_callbacks,
        )
        overrides = dict(tuned.best_params)
    lgbm = build_lightgbm(cfg.lightgbm, cfg.seed, **overrides).fit(X_tr, y_tr, eval_set=(X_tu, y_tu))
    if cfg.engine.lightgbm == "dask":
        if dask_client is None:
            raise ValueError("training.engine.lightgbm = 'dask' needs a dask client")
        X_all, y_all = all_train if all_train is not None else (X_tr, y_tr)
        lgbm = fit_on_dask(lgbm, X_all, y_all, dask_client, n_rounds=lgbm.best_iteration_)
    raw = {
        "lightgbm": lgbm,
        "flags": FlagCountClassifier(
            flag_prefix=cfg.flag_prefix,
            flags=tuple(flags) if flags is not None else (cfg.flag_columns or None),
            protective=cfg.protective_flags,
        ).fit(X_tr, y_tr),
        "logreg": build_logistic_baseline(C=cfg.logistic_c).fit(X_tr, y_tr),
    }
    models = {name: fit_calibrated(est, X_tu, y_tu, method=cfg.calibration.method) for name, est in raw.items()}
    return tuned, lgbm, models


def fit_band(
    frame: pd.DataFrame,
    split: BandSplit,
    features: Sequence[str],
    cfg: TrainingConfig,
    *,
    flags: Sequence[str] | None = None,
    truth: pd.Series | None = None,
    reference_risks: Mapping[str, pd.Series] | None = None,
    trial_callbacks: Sequence[TrialCallback] = (),
    dask_client: Any = None,
) -> FittedBand:
    """Tune, fit and calibrate LightGBM and both baselines for one band; score the test date;
    choose the band's family (logistic regression unless LightGBM is better beyond its paired
    interval, ``cfg.family``) and, with ``truth`` and ``oracle_observable`` among
    ``reference_risks``, measure the training criteria (``cfg.criteria``).

    Parameters
    ----------
    frame : DataFrame
        Feature table (all bands and dates; :class:`BandSplit` selects the rows).
    split : BandSplit
    features : sequence of str
        Model inputs (see :func:`resolve_features`).
    cfg : TrainingConfig
    flags : sequence of str, optional
        Flag columns of the profile baseline (default: ``cfg.flag_columns``, else every
        ``cfg.flag_prefix`` column); ``cfg.protective_flags`` count when 0.
    truth : Series, optional
        True probability of the observed label (synthetic data only), indexed like ``frame``;
        must cover every test row. Adds ``oracle_auc`` to every model's metrics.
    reference_risks : mapping name -> Series, optional
        Other true-risk variants (e.g. offending before detection), indexed like ``frame``;
        their AUC, Brier and ECE on the test date go to ``reference_metrics``.
    trial_callbacks : sequence
        Optuna callbacks, e.g. logging each trial as a nested MLflow run.
    dask_client : distributed.Client, optional
        The cluster of ``training.engine.lightgbm = "dask"`` (see :func:`_fit_models`).

    Returns
    -------
    FittedBand
    """
    # BLAS/OpenMP threads fixed (as LightGBM's): the logistic regression and the calibration
    # give the same bits in this process, on a Dask worker or on a machine with more cores
    with threadpool_limits(limits=max(cfg.lightgbm.n_jobs, 1)):
        return _fit_band(
            frame,
            split,
            features,
            cfg,
            flags=flags,
            truth=truth,
            reference_risks=reference_risks,
            trial_callbacks=trial_callbacks,
            dask_client=dask_client,
        )


def _fit_band(
    frame: pd.DataFrame,
    split: BandSplit,
    features: Sequence[str],
    cfg: TrainingConfig,
    *,
    flags: Sequence[str] | None,
    truth: pd.Series | None,
    reference_risks: Mapping[str, pd.Series] | None,
    trial_callbacks: Sequence[TrialCallback],
    dask_client: Any,
) -> FittedBand:
    band = split.band
    (X_tr, y_tr), (X_tu, y_tu), (X_te, y_te), all_train = _band_parts(frame, split, features, cfg)

    truth_test = None if truth is None else _aligned(truth, X_te.index, band, "truth")
    reference = _reference_metrics(reference_risks or {}, X_te, y_te, band, cfg)

    tuned, lgbm, models = _fit_models(
        X_tr, y_tr, X_tu, y_tu, cfg, band, flags, trial_callbacks, all_train=all_train, dask_client=dask_client
    )

    scores = {name: est.predict_proba(X_te)[:, 1] for name, est in models.items()}
    metrics = {
        name: score_metrics(
            y_te,
            scores[name],
            truth=None if truth_test is None else truth_test.to_numpy(),
            n_bins=cfg.calibration.ece_bins,
            strategy=cfg.calibration.ece_strategy,
        )
        for name in models
    }
    comparisons = {
        name: paired_auc_difference(y_te, scores[MAIN_MODEL], scores[name], cfg.comparison, seed=cfg.seed)
        for name in models
        if name != MAIN_MODEL
    }
    family = choose_family(
        metrics[MAIN_MODEL]["auc"],
        metrics["logreg"]["auc"],
        comparisons["logreg"],
        cfg.family,
        confidence=cfg.comparison.confidence,
    )
    criteria = (
        evaluate_criteria(metrics, reference, comparisons, cfg.criteria)
        if truth_test is not None and "oracle_observable_auc" in reference
        else {}
    )
    counts = _row_counts(train=y_tr, tune=y_tu, test=y_te)
    params = {**lgbm.get_params(), "best_iteration": lgbm.best_iteration_}
    return FittedBand(
        band=band,
        split=split,
        features=tuple(features),
        models=MappingProxyType(models),
        metrics=MappingProxyType({k: MappingProxyType(v) for k, v in metrics.items()}),
        counts=MappingProxyType(counts),
        lightgbm_params=MappingProxyType(params),
        tuning=tuned,
        reference_metrics=MappingProxyType(reference),
        comparisons=MappingProxyType({k: MappingProxyType(v) for k, v in comparisons.items()}),
        family=family,
        criteria=MappingProxyType(criteria),
    )


def _band_parts(
    frame: pd.DataFrame, split: BandSplit, features: Sequence[str], cfg: TrainingConfig
) -> tuple[tuple[pd.DataFrame, np.ndarray], ...]:
    """(X, y) of the train, tune and test parts of ``split``, the training rows subsampled
    (stratified) to ``cfg.max_train_rows``, and last (X, y) of every training row (what
    lightgbm's Dask engine grows its trees on). Both outcomes must occur in every part."""
    parts = {part: split.select(frame, part) for part in ("train", "tune", "test")}
    (X_tr, y_tr), (X_tu, y_tu), (X_te, y_te) = (_xy(parts[p], features) for p in ("train", "tune", "test"))
    for name, y in (("train", y_tr), ("tune", y_tu), ("test", y_te)):
        _check_both_outcomes(y, split.band, name)
    all_train = (X_tr, y_tr)
    keep = stratified_subsample(y_tr, cfg.max_train_rows, cfg.seed)
    if keep.size < y_tr.size:  # national scale: a stratified sample of the training rows
        X_tr, y_tr = X_tr.iloc[keep], y_tr[keep]
    return (X_tr, y_tr), (X_tu, y_tu), (X_te, y_te), all_train


def tune_band(frame: pd.DataFrame, split: BandSplit, features: Sequence[str], cfg: TrainingConfig) -> TuningResult:
    """Only the tuning of :func:`fit_band`, on the same rows and in the same study
    (``<study_name>-<band>``): one more process joining a shared study
    (``cfg.tuning.storage``), whose best trial :func:`fit_band` then uses."""
    (X_tr, y_tr), (X_tu, y_tu), _, _ = _band_parts(frame, split, features, cfg)
    return tune_lightgbm(X_tr, y_tr, X_tu, y_tu, lightgbm=cfg.lightgbm, tuning=cfg.tuning, seed=cfg.seed,
                         study_name=study_name(cfg, split.band))  # fmt: skip


def study_name(cfg: TrainingConfig, band: str) -> str:
    """The Optuna study of ``band``: ``<training.tuning.study_name>-<band>``."""
    return f"{cfg.tuning.study_name}-{band}"


def _fit_band_task(
    item: tuple[pd.DataFrame, BandSplit, Sequence[str], pd.Series | None, Mapping[str, pd.Series] | None],
    *,
    cfg: TrainingConfig,
    flags: Sequence[str] | None,
) -> FittedBand:
    """:func:`fit_band` for one band as a task of an executor (picklable, no side effects)."""
    frame, split, features, truth, reference_risks = item
    return fit_band(frame, split, features, cfg, flags=flags, truth=truth, reference_risks=reference_risks)


def fit_bands(
    frame: pd.DataFrame,
    splits: Mapping[str, BandSplit],
    features: Mapping[str, Sequence[str]],
    cfg: TrainingConfig,
    *,
    flags: Sequence[str] | None = None,
    truth: pd.Series | None = None,
    reference_risks: Mapping[str, pd.Series] | None = None,
    executor: Executor | None = None,
    dask_client: Any = None,
) -> Iterator[FittedBand]:
    """:func:`fit_band` for every band of ``splits``, in their order, as they finish.

    Without ``executor`` the bands are fitted one after another in this process, each when the
    next result is asked for. With one (a Dask cluster, :mod:`aanwas.common.compute`) each band
    is a task that gets only its own rows; every band's fit is a deterministic function of its
    rows and ``cfg.seed``, so the results are the same. Tuning trials are in each result's
    ``tuning.trials``, to be logged afterwards. ``dask_client`` (lightgbm's Dask engine,
    ``training.engine.lightgbm = "dask"``) grows the trees on the cluster from this process:
    the bands are then fitted here, one after another, not as tasks.
    """
    if executor is None or dask_client is not None:
        return (
            fit_band(
                frame,
                split,
                features[band],
                cfg,
                flags=flags,
                truth=truth,
                reference_risks=reference_risks,
                dask_client=dask_client,
            )
            for band, split in splits.items()
        )
    items = []
    for band, split in splits.items():
        rows = frame.loc[frame["age_band"] == band]
        items.append(
            (
                rows,
                split,
                tuple(features[band]),
                None if truth is None else truth.reindex(rows.index),
                None if reference_risks is None else {k: v.reindex(rows.index) for k, v in reference_risks.items()},
            )
        )
    return executor.map(functools.partial(_fit_band_task, cfg=cfg, flags=flags), items)


def _aligned(series: pd.Series, index: pd.Index, band: str, name: str) -> pd.Series:
    out = series.reindex(index)
    if out.isna().any():
        raise InputError(name, None, int(out.isna().sum()), f"band {band}: test rows without a true risk")
    return out


def select_test_part(frame: pd.DataFrame, fitted: FittedBand) -> tuple[pd.DataFrame, np.ndarray]:
    """Inputs and 0/1 labels of the band's test date (e.g. to score a champion on it)."""
    part = fitted.split.select(frame, "test")
    return part, part["label"].astype("bool").to_numpy(dtype=np.int8)
