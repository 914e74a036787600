"""Training: temporal validation, Optuna tuning, per-band fitting and the promotion gate.

Each age band gets a LightGBM model, tuned on a later reference date than it is trained on and
tested on the latest one with complete labels, beside two baselines; the MLflow side (tracking
and the champion/challenger registry) lives in :mod:`training.tracking` and
:mod:`training.registry` and is imported only by the stage wiring.
"""

from training.config import TrainingConfig
from training.fingerprint import build_data_fingerprint
from training.fit import MODEL_NAMES, FittedBand, fit_band, resolve_features
from training.promotion import PromotionDecision, decide_promotion
from training.splits import BandSplit, build_temporal_splits
from training.tuning import TuningResult, tune_lightgbm

__all__ = [
    "MODEL_NAMES",
    "BandSplit",
    "FittedBand",
    "PromotionDecision",
    "TrainingConfig",
    "TuningResult",
    "build_data_fingerprint",
    "build_temporal_splits",
    "decide_promotion",
    "fit_band",
    "resolve_features",
    "tune_lightgbm",
]
