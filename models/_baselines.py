"""The two baselines every LightGBM model is compared with.

* :class:`FlagCountClassifier`: the published method of the real dashboard, a profile score
  that counts how many risk flags (``ind_*`` indicators) a young person has. It learns nothing
  from the labels; calibration turns the count into a probability.
* :func:`build_logistic_baseline`: a main-effects logistic regression (missing indicator
  values imputed as 0 plus a missingness flag, standardised), the usual statistical baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from models._target import binary_target


class FlagCountClassifier(ClassifierMixin, BaseEstimator):
    """Profile score: the number of risk flags set (flag columns with a value > 0).

    A flag that does not apply to a person (NaN) counts as not set. A *protective* column
    (e.g. "enrolled in school") counts as a risk flag when it is 0. ``fit`` only records the
    feature names and which columns are flags; ``decision_function`` is the count, and
    ``predict_proba`` the share of flags set (a monotone score in [0, 1], NOT a probability:
    wrap the fitted classifier in a calibrator before reading it as risk).

    Parameters
    ----------
    flag_prefix : str
        Without ``flags``: columns whose name starts with this prefix are flags (with a plain
        array, no column names, every column is).
    flags : tuple of str or None
        Names of the flag columns (those absent from ``X`` are skipped); counts and durations
        should not be listed (a count of moves is not a flag).
    protective : tuple of str
        Flag columns whose risk is the value 0 (counted when equal to 0).

    Attributes
    ----------
    flag_index_ : ndarray of int
        Positions of the flag columns in ``feature_names_in_``.
    protective_mask_ : ndarray of bool
        Which of those are protective.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [14, 15, 16], "ind_a": [1.0, 0.0, 1.0], "ind_b": [1.0, float("nan"), 0.0]})
    >>> FlagCountClassifier().fit(X, [1, 0, 0]).decision_function(X).tolist()
    [2.0, 0.0, 1.0]
    >>> FlagCountClassifier(flags=("ind_b",), protective=("ind_b",)).fit(X, [1, 0, 0]).decision_function(X).tolist()
    [0.0, 0.0, 1.0]
    """

    def __init__(
        self, flag_prefix: str = "ind_", flags: tuple[str, ...] | None = None, protective: tuple[str, ...] = ()
    ):
        self.flag_prefix = flag_prefix
        self.flags = flags
        self.protective = protective

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any) -> FlagCountClassifier:
        """Record the flag columns of ``X``; ``y`` is only checked, not learned from."""
        y = binary_target(y)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=True)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            self.flag_index_ = np.arange(X.shape[1])
            self.protective_mask_ = np.zeros(X.shape[1], dtype=bool)
        else:
            names = [str(n) for n in names]
            if self.flags is None:
                is_flag = [n.startswith(self.flag_prefix) for n in names]
            else:
                is_flag = [n in self.flags for n in names]
            self.flag_index_ = np.flatnonzero(is_flag)
            self.protective_mask_ = np.array([names[i] in self.protective for i in self.flag_index_], dtype=bool)
        if self.flag_index_.size == 0:
            raise ValueError("no flag columns among the features")
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Number of flags set per row."""
        check_is_fitted(self, "flag_index_")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        values = X[:, self.flag_index_]
        risk = np.where(self.protective_mask_, values == 0, values > 0)  # NaN: neither
        return risk.sum(axis=1).astype(float)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Share of flags set as column 1 (an uncalibrated score, see the class docstring)."""
        share = self.decision_function(X) / self.flag_index_.size
        return np.column_stack([1.0 - share, share])

    def predict(self, X: Any) -> np.ndarray:
        """1 where at least one flag is set."""
        return (self.decision_function(X) > 0).astype(int)


def build_logistic_baseline(*, C: float = 1.0, max_iter: int = 1000) -> Pipeline:
    """Unfitted logistic-regression baseline: impute 0 + missingness flag, scale, fit.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength.
    max_iter : int
        Solver iterations.

    Returns
    -------
    Pipeline
        ``SimpleImputer(0, add_indicator) -> StandardScaler -> LogisticRegression``; it has
        ``decision_function`` (log-odds), so Platt scaling applies to it as to LightGBM.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"ind_a": [1.0, 0.0, float("nan"), 1.0], "age": [13, 14, 15, 16]})
    >>> build_logistic_baseline().fit(X, [1, 0, 0, 1]).predict_proba(X).shape
    (4, 2)
    """
    return Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=C, max_iter=max_iter)),
        ]
    )
