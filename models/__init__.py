"""Estimators that turn a person x reference-date feature table into a calibrated risk.

LightGBM is the main model; two baselines are fitted beside it: the count of risk flags (the
published method) and a logistic regression. Every model is calibrated on a held-out later
reference date, and :func:`score_frame` scores a feature table in memory only.
"""

from models._baselines import FlagCountClassifier, build_logistic_baseline
from models._calibration import CalibrationMethod, fit_calibrated
from models._lightgbm import LightGBMRiskClassifier, fit_on_dask
from models.bundle import ModelBundle
from models.metrics import expected_calibration_error, score_metrics
from models.scoring import score_frame

__all__ = [
    "CalibrationMethod",
    "FlagCountClassifier",
    "LightGBMRiskClassifier",
    "ModelBundle",
    "build_logistic_baseline",
    "expected_calibration_error",
    "fit_calibrated",
    "fit_on_dask",
    "score_frame",
    "score_metrics",
]
