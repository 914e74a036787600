"""Configuration of the training stage (frozen, typed; defaults mirrored in conf/default.toml).

Sections: ``split`` (temporal validation), ``lightgbm`` (fixed LightGBM settings and the
starting point when tuning is off), ``tuning`` (Optuna budget and search space),
``calibration``, ``comparison`` (paired bootstrap), ``family`` (model family by evidence),
``criteria`` (training criteria on synthetic data), ``mlflow`` (tracking store and registry
names) and ``promotion`` (the champion/challenger gate).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from aanwas.common.config import require
from features.config import AGE_BANDS
from features.contract import AUDIT_ONLY_COLUMNS

#: Columns of the feature table that are keys or the outcome, never model inputs.
NON_FEATURE_COLUMNS = ("rinpersoon", "ref_date", "age_band", "buurt", "wijk", "gemeente", "label")


def _range(lo_hi: tuple[float, ...], key: str, low: float, high: float) -> None:
    # tuple[x, ...] rather than tuple[x, x]: aanwas.common.config converts fixed-length tuples wrongly
    require(len(lo_hi) == 2, key, "must be a list [low, high]")
    lo, hi = lo_hi
    require(low <= lo <= hi <= high, key, f"must be [low, high] with {low} <= low <= high <= {high}")


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Temporal validation: train on earlier reference dates, tune and calibrate on a later
    one, test on the latest whose labels are complete (per band, as horizons differ)."""

    min_train_dates: int = 1
    max_train_dates: int = 0  # 0 = every complete date before the tuning date
    #: a ref date counts as complete if at most this share of its labels is NA. A horizon that
    #: runs past the data makes EVERY label of the date NA (share 1); persons who leave the
    #: register (death, emigration) within the horizon make a few per cent NA on every date
    #: (0.6-1.6 % in the synthetic world); 0.2 separates the two.
    max_censored_share: float = 0.2

    def __post_init__(self) -> None:
        require(self.min_train_dates >= 1, "training.split.min_train_dates", "must be >= 1")
        require(self.max_train_dates >= 0, "training.split.max_train_dates", "must be >= 0 (0 = all)")
        require(
            self.max_train_dates == 0 or self.max_train_dates >= self.min_train_dates,
            "training.split.max_train_dates",
            "must be 0 or >= min_train_dates",
        )
        require(0.0 <= self.max_censored_share < 1.0, "training.split.max_censored_share", "must be in [0, 1)")


@dataclasses.dataclass(frozen=True)
class LightGBMConfig:
    """Fixed LightGBM settings; the tuned ones are also the defaults when tuning is off."""

    n_estimators: int = 2000  # upper bound; early stopping on the tuning date picks the number
    early_stopping_rounds: int = 50
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 200
    reg_lambda: float = 1.0
    colsample_bytree: float = 0.8
    subsample: float = 0.8
    subsample_freq: int = 1
    max_depth: int = -1
    # 1: deterministic and robust on shared cores (OpenMP spins 10-40x slower under load); 0 = all cores
    n_jobs: int = 1

    def __post_init__(self) -> None:
        k = "training.lightgbm."
        require(1 <= self.n_estimators <= 100_000, k + "n_estimators", "must be 1..100000")
        require(self.early_stopping_rounds >= 0, k + "early_stopping_rounds", "must be >= 0 (0 = off)")
        require(0 < self.learning_rate <= 1, k + "learning_rate", "must be in (0, 1]")
        require(2 <= self.num_leaves <= 4096, k + "num_leaves", "must be 2..4096")
        require(self.min_child_samples >= 1, k + "min_child_samples", "must be >= 1")
        require(self.reg_lambda >= 0, k + "reg_lambda", "must be >= 0")
        require(0 < self.colsample_bytree <= 1, k + "colsample_bytree", "must be in (0, 1]")
        require(0 < self.subsample <= 1, k + "subsample", "must be in (0, 1]")
        require(self.subsample_freq >= 0, k + "subsample_freq", "must be >= 0")
        require(self.max_depth == -1 or self.max_depth >= 1, k + "max_depth", "must be -1 (no limit) or >= 1")
        require(self.n_jobs >= 0, k + "n_jobs", "must be >= 0 (0 = default)")


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Optuna search ranges ([low, high]); learning rate, leaves, child size, L2 on a log scale."""

    learning_rate: tuple[float, ...] = (0.01, 0.2)
    num_leaves: tuple[int, ...] = (4, 63)
    min_child_samples: tuple[int, ...] = (20, 2000)
    reg_lambda: tuple[float, ...] = (0.001, 30.0)
    colsample_bytree: tuple[float, ...] = (0.5, 1.0)
    subsample: tuple[float, ...] = (0.5, 1.0)

    def __post_init__(self) -> None:
        k = "training.tuning.search."
        _range(self.learning_rate, k + "learning_rate", 1e-5, 1.0)
        _range(self.num_leaves, k + "num_leaves", 2, 4096)
        _range(self.min_child_samples, k + "min_child_samples", 1, 1_000_000)
        _range(self.reg_lambda, k + "reg_lambda", 1e-8, 1e4)
        _range(self.colsample_bytree, k + "colsample_bytree", 0.01, 1.0)
        _range(self.subsample, k + "subsample", 0.01, 1.0)
        require(self.reg_lambda[0] > 0, k + "reg_lambda", "low must be > 0 (log scale)")


@dataclasses.dataclass(frozen=True)
class TuningConfig:
    """Optuna TPE search with median pruning; budget by trials and/or wall time."""

    enabled: bool = True
    n_trials: int = 25  # 0 = no limit on trials (then timeout_seconds must be set)
    timeout_seconds: float = 0.0  # 0 = no time limit
    n_startup_trials: int = 8  # random trials before TPE starts modelling
    pruning: bool = True
    pruning_warmup_rounds: int = 50  # boosting rounds before a trial may be pruned
    report_every_rounds: int = 10
    subsample_rows: int = 0  # >0: each trial trains on at most this many rows (stratified)
    #: "" = in memory; an Optuna RDB URL (sqlite:///study.db, postgresql://...) or a journal file
    #: path (study.log) lets several processes, on several machines, share one study per band
    storage: str = ""
    study_name: str = "aanwas"
    #: this process's number among those sharing ``storage`` (0, 1, ...): its sampler is seeded
    #: with training.seed + worker; worker 0 puts the default settings first
    worker: int = 0
    search: SearchSpace = dataclasses.field(default_factory=SearchSpace)

    def __post_init__(self) -> None:
        k = "training.tuning."
        require(self.n_trials >= 0, k + "n_trials", "must be >= 0 (0 = no limit)")
        require(self.timeout_seconds >= 0, k + "timeout_seconds", "must be >= 0 (0 = no limit)")
        require(
            not self.enabled or self.n_trials > 0 or self.timeout_seconds > 0,
            k + "n_trials",
            "set n_trials or timeout_seconds (or both), else tuning never stops",
        )
        require(self.n_startup_trials >= 1, k + "n_startup_trials", "must be >= 1")
        require(self.pruning_warmup_rounds >= 0, k + "pruning_warmup_rounds", "must be >= 0")
        require(self.report_every_rounds >= 1, k + "report_every_rounds", "must be >= 1")
        require(self.subsample_rows >= 0, k + "subsample_rows", "must be >= 0 (0 = all rows)")
        require(bool(self.study_name), k + "study_name", "must not be empty")
        require(0 <= self.worker <= 100_000, k + "worker", "must be 0..100000")
        require(self.worker == 0 or bool(self.storage), k + "worker", "needs training.tuning.storage")


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
    """How probabilities are calibrated on the tuning date and how ECE is binned.

    ``ece_bins`` and ``ece_strategy`` are copies of ``definitions.calibration_bins`` and
    ``definitions.calibration_strategy`` (set those; :mod:`aanwas.config`): the registered ECE
    and the review pack's ECE use the same bins.
    """

    method: Literal["sigmoid", "isotonic"] = "sigmoid"  # Platt; why: models/_calibration.py
    ece_bins: int = 10
    ece_strategy: Literal["quantile", "uniform"] = "quantile"

    def __post_init__(self) -> None:
        require(2 <= self.ece_bins <= 1000, "training.calibration.ece_bins", "must be 2..1000")


@dataclasses.dataclass(frozen=True)
class ComparisonConfig:
    """Paired bootstrap of the main model's AUC minus each baseline's on the test date (the
    same resampled rows for both models).

    Attributes
    ----------
    bootstrap_reps : int
        Replicates of the paired bootstrap.
    test_level : float
        Error rate of the decisions read from the paired intervals; each interval is two-sided at
        ``1 - test_level`` (:attr:`confidence`). The family rule (``training.family``) chooses
        LightGBM only when the interval's lower end is above ``min_gain``: a one-sided test at
        ``test_level / 2``, the largest chance of choosing the more complex model when it is not
        better. The training criteria read the same intervals. It is a decision level (how often
        a choice may be wrong), not the coverage of the intervals the product shows
        (``definitions.interval_level``), so it is a setting of its own; the model card says so
        (docs/dev/settings.md).
    bootstrap_max_cells : int
        Weight cells per chunk (memory cap: 8 bytes each).
    """

    bootstrap_reps: int = 400
    test_level: float = 0.05
    bootstrap_max_cells: int = 8_000_000

    def __post_init__(self) -> None:
        k = "training.comparison."
        require(20 <= self.bootstrap_reps <= 100_000, k + "bootstrap_reps", "must be 20..100000")
        require(0.0 < self.test_level <= 0.5, k + "test_level", "must be in (0, 0.5]")
        require(self.bootstrap_max_cells >= 1_000, k + "bootstrap_max_cells", "must be >= 1000")

    @property
    def confidence(self) -> float:
        """Two-sided level of the paired intervals, ``1 - test_level`` (0.95 by default)."""
        return round(1.0 - self.test_level, 12)


@dataclasses.dataclass(frozen=True)
class FamilyConfig:
    """Model family by evidence: per band the simpler model (the logistic regression) becomes
    the band's model unless LightGBM is better beyond its paired interval.

    LightGBM is chosen only when the LOWER end of the paired bootstrap interval of its test AUC
    minus the logistic regression's (``training.comparison``: same resampled rows, two-sided
    level ``1 - test_level``) is strictly above ``min_gain``; otherwise the logistic regression is chosen
    (also when the interval is undefined). ``min_gain`` 0.0: any gain that the interval
    supports; larger values ask LightGBM for a gain worth its complexity.
    """

    min_gain: float = 0.0

    def __post_init__(self) -> None:
        require(-0.5 <= self.min_gain <= 0.5, "training.family.min_gain", "must be in [-0.5, 0.5]")


@dataclasses.dataclass(frozen=True)
class CriteriaConfig:
    """Training criteria on synthetic data (``aanwas train --truth``): measured checks of
    LightGBM against the synthetic world's truth, reported per band, never a production gate.

    * ``oracle``: test AUC at most ``max_gap_to_oracle`` below the observable oracle's AUC;
    * ``flags``: lower end of the paired interval of LightGBM minus the flag-count profile
      above ``min_gain_over_flags``;
    * ``logreg``: lower end of the paired interval of LightGBM minus the logistic regression
      at least ``-max_loss_to_logreg``;
    * ``ece``: LightGBM's ECE at most the oracle's ECE on the same test rows (same bins) plus
      ``max_ece_excess``.
    """

    max_gap_to_oracle: float = 0.01
    min_gain_over_flags: float = 0.0
    max_loss_to_logreg: float = 0.01
    max_ece_excess: float = 0.005

    def __post_init__(self) -> None:
        k = "training.criteria."
        require(0.0 <= self.max_gap_to_oracle <= 0.5, k + "max_gap_to_oracle", "must be in [0, 0.5]")
        require(-0.5 <= self.min_gain_over_flags <= 0.5, k + "min_gain_over_flags", "must be in [-0.5, 0.5]")
        require(0.0 <= self.max_loss_to_logreg <= 0.5, k + "max_loss_to_logreg", "must be in [0, 0.5]")
        require(0.0 <= self.max_ece_excess <= 0.5, k + "max_ece_excess", "must be in [0, 0.5]")


@dataclasses.dataclass(frozen=True)
class MlflowConfig:
    """Tracking store and registry naming.

    The tracking URI is, in order: the ``--mlflow-uri`` option, ``tracking_uri`` here, the
    ``MLFLOW_TRACKING_URI`` environment variable (set by ``mlflow run``), and otherwise an
    embedded SQLite store ``sqlite:///<store_dir>/mlflow.db`` (``store_dir`` empty = a
    directory ``mlflow`` beside the work directory, never inside it).
    """

    tracking_uri: str = ""
    store_dir: str = ""
    artifact_location: str = ""  # "" = <db dir>/artifacts for SQLite, the server's default otherwise
    experiment: str = "aanwas"
    model_prefix: str = "aanwas"  # registered model per band: <prefix>-<band>, e.g. aanwas-13-19
    log_baseline_models: bool = True  # also log the models that were not chosen (unregistered)

    def __post_init__(self) -> None:
        require(bool(self.experiment), "training.mlflow.experiment", "must not be empty")
        require(
            bool(self.model_prefix) and all(c.isalnum() or c in "-_." for c in self.model_prefix),
            "training.mlflow.model_prefix",
            "must be non-empty letters, digits, '-', '_' or '.'",
        )


@dataclasses.dataclass(frozen=True)
class PromotionConfig:
    """Champion/challenger gate: the challenger replaces the champion only if its AUC on the
    newest test data is at most ``auc_margin`` below the champion's on the same data, and, when
    ``require_evaluation_gates`` is set, the evaluation gates (fairness, stigmatisation) pass."""

    auc_margin: float = 0.005
    run_evaluation_gates: bool = True  # run the evaluation stage's gates on each challenger (aanwas train/retrain)
    require_evaluation_gates: bool = False  # True: no promotion unless the gates ran and passed

    def __post_init__(self) -> None:
        require(0.0 <= self.auc_margin <= 0.5, "training.promotion.auc_margin", "must be in [0, 0.5]")


#: Where LightGBM's trees are grown (:class:`EngineConfig`).
LIGHTGBM_ENGINES = ("local", "dask")


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """Where the final LightGBM fit of each band runs.

    Attributes
    ----------
    lightgbm : str
        ``"local"`` (default): in this process, on at most ``training.max_train_rows``
        sampled training rows. ``"dask"``: that local fit still picks the number of rounds
        (early stopping on the tuning date; lightgbm.dask has none over a distributed eval
        set), then :mod:`lightgbm.dask` grows the trees again with that many rounds on ALL
        training rows on the cluster of ``compute.scheduler``. Tuning (Optuna), the baselines
        and calibration stay local. Needs ``aanwas[scale]``.
    """

    lightgbm: str = "local"

    def __post_init__(self) -> None:
        ok = self.lightgbm in LIGHTGBM_ENGINES
        require(ok, "training.engine.lightgbm", f"must be one of {list(LIGHTGBM_ENGINES)}")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Settings of the training stage."""

    seed: int = 1
    bands: tuple[str, ...] = AGE_BANDS
    flag_prefix: str = "ind_"  # without a catalogue: ind_* columns are the profile baseline's flags
    flag_columns: tuple[str, ...] = ()  # () = the catalogue's indicators of kind "flag"
    protective_flags: tuple[str, ...] = ("ind_enrolled",)  # flags whose risk value is 0 (not enrolled)
    exclude_features: tuple[str, ...] = ()  # drop these from the feature catalogue's list
    extra_features: tuple[str, ...] = ()  # add these feature-table columns as inputs
    logistic_c: float = 1.0  # inverse L2 strength of the logistic baseline
    max_train_rows: int = 1_000_000  # per band, stratified sample of the training rows (national scale); 0 = all
    split: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    lightgbm: LightGBMConfig = dataclasses.field(default_factory=LightGBMConfig)
    tuning: TuningConfig = dataclasses.field(default_factory=TuningConfig)
    calibration: CalibrationConfig = dataclasses.field(default_factory=CalibrationConfig)
    comparison: ComparisonConfig = dataclasses.field(default_factory=ComparisonConfig)
    family: FamilyConfig = dataclasses.field(default_factory=FamilyConfig)
    criteria: CriteriaConfig = dataclasses.field(default_factory=CriteriaConfig)
    mlflow: MlflowConfig = dataclasses.field(default_factory=MlflowConfig)
    promotion: PromotionConfig = dataclasses.field(default_factory=PromotionConfig)
    engine: EngineConfig = dataclasses.field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        require(self.seed >= 0, "training.seed", "must be >= 0")
        require(len(self.bands) > 0, "training.bands", "must name at least one band")
        for band in self.bands:
            require(band in AGE_BANDS, "training.bands", f"unknown band {band!r} (known: {list(AGE_BANDS)})")
        require(len(set(self.bands)) == len(self.bands), "training.bands", "must not repeat a band")
        require(bool(self.flag_prefix), "training.flag_prefix", "must not be empty")
        require(self.logistic_c > 0, "training.logistic_c", "must be > 0")
        require(self.max_train_rows >= 0, "training.max_train_rows", "must be >= 0 (0 = all rows)")
        # every list that names model inputs (the baseline's flags are inputs too)
        for key, cols in (
            ("extra_features", self.extra_features),
            ("flag_columns", self.flag_columns),
            ("protective_flags", self.protective_flags),
        ):
            for col in cols:
                require(
                    col not in AUDIT_ONLY_COLUMNS,
                    f"training.{key}",
                    f"{col!r} is audit-only and can never be a model input",
                )
                require(
                    col not in NON_FEATURE_COLUMNS, f"training.{key}", f"{col!r} is a key or the label, not a feature"
                )
