"""Probability calibration on held-out data: Platt scaling by default, isotonic as an option.

Why Platt (sigmoid) by default
------------------------------
* The outcome is rare (about 0.5-3 % per band), so a calibration set of one reference date
  holds a few hundred positives per band at municipal scale. Platt fits two parameters
  (slope and intercept on the model's log-odds) and is stable with that few positives;
  isotonic regression fits a free step function and over-fits it.
* Platt is strictly monotone, so it keeps the ranking: the AUC that tuning optimised is the
  AUC that is reported. Isotonic merges scores into ties (plateaus) and loses some AUC.
* The calibration reference date is later than the training dates. The main miscalibration
  to fix is a shift in base rate (and a mild over- or under-confidence), which is exactly what
  an intercept and a slope on the log-odds correct. A smooth map also keeps the "elevated"
  threshold from jumping between plateaus across refreshes.
* Isotonic is the better choice only when the model's log-odds are far from linear in the
  true log-odds *and* the calibration set has many thousands of positives (national scale);
  set ``training.calibration.method = "isotonic"`` then, and compare the logged ECE.

Calibration uses :class:`sklearn.calibration.CalibratedClassifierCV` around a
:class:`sklearn.frozen.FrozenEstimator`: the fitted model is not refitted, only the map from
its ``decision_function`` (log-odds; the flag count for the profile baseline) to a
probability is learned on the held-out reference date.
"""

from __future__ import annotations

from typing import Any, Literal

from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from models._target import binary_target

CalibrationMethod = Literal["sigmoid", "isotonic"]


def fit_calibrated(estimator: Any, X: Any, y: Any, *, method: CalibrationMethod = "sigmoid") -> CalibratedClassifierCV:
    """Calibrate an already fitted classifier on held-out ``X``, ``y``.

    Parameters
    ----------
    estimator : fitted classifier
        Must have ``decision_function`` or ``predict_proba``; it is frozen, not refitted.
    X, y : held-out rows (a later reference date than the training data) and 0/1 labels.
    method : {"sigmoid", "isotonic"}
        Platt scaling (default; see the module docstring for why) or isotonic regression.

    Returns
    -------
    CalibratedClassifierCV
        Fitted; ``predict_proba(X)[:, 1]`` is the calibrated risk. It carries the
        estimator's ``feature_names_in_``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=600)})
    >>> y = (rng.random(600) < 1 / (1 + np.exp(-X["x"]))).astype(int)
    >>> base = LogisticRegression().fit(X[:300], y[:300])
    >>> fit_calibrated(base, X[300:], y[300:]).predict_proba(X).shape
    (600, 2)
    """
    if method not in ("sigmoid", "isotonic"):
        raise ValueError(f"method must be 'sigmoid' or 'isotonic', got {method!r}")
    y_arr = binary_target(y)
    if y_arr.min() == y_arr.max():
        raise ValueError("calibration data must contain both outcomes")
    return CalibratedClassifierCV(FrozenEstimator(estimator), method=method).fit(X, y_arr)
