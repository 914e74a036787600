"""Training: temporal validation, Optuna tuning, per-band fitting and the promotion gate.

Each age band gets a LightGBM model, tuned on a later reference date than it is trained on and
tested on the latest one with complete labels, beside two baselines (the flag-count profile and
a logistic regression); the logistic regression is the band's model unless LightGBM is better
beyond its paired interval (:mod:`training.family`), and on synthetic data the training
criteria are measured (:mod:`training.criteria`); the MLflow side (tracking
and the champion/challenger registry) lives in :mod:`training.tracking` and
:mod:`training.registry` and is imported only by the stage wiring.
"""

from training.config import TrainingConfig
from training.criteria import Criterion, evaluate_criteria
from training.family import FamilyChoice, choose_family
from training.fingerprint import build_data_fingerprint
from training.fit import MODEL_NAMES, FittedBand, fit_band, fit_bands, resolve_features
from training.promotion import PromotionDecision, decide_promotion
from training.splits import BandSplit, build_temporal_splits
from training.tuning import TuningResult, tune_lightgbm

__all__ = [
    "MODEL_NAMES",
    "BandSplit",
    "Criterion",
    "FamilyChoice",
    "FittedBand",
    "PromotionDecision",
    "TrainingConfig",
    "TuningResult",
    "build_data_fingerprint",
    "build_temporal_splits",
    "choose_family",
    "decide_promotion",
    "evaluate_criteria",
    "fit_band",
    "fit_bands",
    "resolve_features",
    "tune_lightgbm",
]
