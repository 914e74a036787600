"""LightGBM gradient boosting as a scikit-learn classifier with a log-odds decision function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from models._target import binary_target

#: Metrics LightGBM evaluates on the ``eval_set``; the first drives early stopping.
EVAL_METRICS = ("binary_logloss", "auc")


class LightGBMRiskClassifier(ClassifierMixin, BaseEstimator):
    """Binary LightGBM classifier that behaves like a scikit-learn estimator.

    ``__init__`` only stores its arguments; learned state ends in ``_``; ``fit`` returns
    ``self``, so :func:`sklearn.base.clone`, pipelines and
    :class:`~sklearn.calibration.CalibratedClassifierCV` work. Missing values (an indicator
    that does not apply to a person) are passed to LightGBM, which learns where they go.
    Training is deterministic for a given ``random_state`` and ``n_jobs``.

    Parameters
    ----------
    n_estimators : int
        Maximum number of boosting rounds (early stopping may use fewer).
    learning_rate, num_leaves, min_child_samples, reg_lambda, colsample_bytree, subsample,
    subsample_freq, max_depth :
        LightGBM's parameters of the same names.
    early_stopping_rounds : int or None
        Stop when the eval-set log loss has not improved for this many rounds (only with an
        ``eval_set`` passed to :meth:`fit`).
    random_state : int or None
        Seed of all of LightGBM's randomness.
    n_jobs : int or None
        Threads; ``None`` uses LightGBM's default.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted model.
    best_iteration_ : int
        Number of rounds used for prediction.
    classes_ : ndarray
        ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    >>> y = (X["a"] + rng.normal(size=400) > 0).astype(int)
    >>> clf = LightGBMRiskClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (400, 2)
    """

    def __init__(
        self,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        colsample_bytree: float = 1.0,
        subsample: float = 1.0,
        subsample_freq: int = 0,
        max_depth: int = -1,
        early_stopping_rounds: int | None = None,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.max_depth = max_depth
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": list(EVAL_METRICS),
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
            "colsample_bytree": self.colsample_bytree,
            "subsample": self.subsample,
            "subsample_freq": self.subsample_freq,
            "max_depth": self.max_depth,
            "seed": 0 if self.random_state is None else self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **({"num_threads": self.n_jobs} if self.n_jobs else {}),
        }

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        eval_set: tuple[Any, Any] | None = None,
        callbacks: Sequence[Callable[[Any], None]] = (),
    ) -> LightGBMRiskClassifier:
        """Fit on ``X`` (rows x features) and binary ``y``.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
        y : array-like of 0/1 (or booleans)
        eval_set : (X_eval, y_eval), optional
            Held-out data evaluated every round (log loss and AUC); enables early stopping.
        callbacks : sequence of callables
            LightGBM callbacks (e.g. an Optuna pruning callback reading the eval-set AUC).

        Returns
        -------
        self
        """
        y = binary_target(y)
        X = validate_data(self, X, dtype=np.float32, ensure_all_finite="allow-nan", reset=True)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
        self.classes_ = np.array([0, 1])
        train = lgb.Dataset(X, label=y, free_raw_data=True)
        valid_sets = []
        cbs = list(callbacks)
        if eval_set is not None:
            X_eval = validate_data(self, eval_set[0], dtype=np.float32, ensure_all_finite="allow-nan", reset=False)
            valid_sets = [lgb.Dataset(X_eval, label=binary_target(eval_set[1]), reference=train)]
            if self.early_stopping_rounds:
                cbs.append(lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False))
        self.booster_ = lgb.train(
            self._lgb_params(),
            train,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            valid_names=["eval"][: len(valid_sets)],
            callbacks=cbs,
        )
        best = self.booster_.best_iteration
        self.best_iteration_ = int(best) if best and best > 0 else int(self.booster_.current_iteration())
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw log-odds of the positive class (what Platt scaling calibrates)."""
        check_is_fitted(self, "booster_")
        X = validate_data(self, X, dtype=np.float32, ensure_all_finite="allow-nan", reset=False)
        return np.asarray(self.booster_.predict(X, raw_score=True, num_iteration=self.best_iteration_), dtype=float)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Uncalibrated probabilities, columns ``[P(y=0), P(y=1)]``."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Class with the higher probability (rarely useful for rare outcomes)."""
        return (self.decision_function(X) > 0).astype(int)


#: LightGBM parameters of a distributed fit. LightGBM drops a feature that no split could use
#: (``feature_pre_filter``: fewer than ``min_child_samples`` rows on one side of every bin
#: boundary) while it builds the dataset, and in distributed training each worker judges that
#: on its own rows only: a rare indicator set on 300 rows split over two workers (150 each)
#: was dropped with ``min_child_samples = 200``, though all rows allow the split and the local
#: fit uses it (band 13-19 of the fabricated table lost 0.04-0.09 test AUC; docs/dev/scale.md).
#: Without the pre-filter the split search still applies ``min_child_samples`` to the rows of
#: all workers.
DISTRIBUTED_PARAMS: Mapping[str, Any] = MappingProxyType({"feature_pre_filter": False})


def fit_on_dask(est: LightGBMRiskClassifier, X: Any, y: Any, client: Any, *, n_rounds: int) -> LightGBMRiskClassifier:
    """Grow ``est``'s trees with :mod:`lightgbm.dask` on the cluster of ``client``.

    ``X`` and ``y`` are dask collections (or pandas: then every worker of the cluster gets an
    equal interleaved share, row ``i`` on worker ``i mod k`` of the ``k`` workers in address
    order, scattered straight to it, as LightGBM's distributed-learning guide asks: every
    worker some rows, roughly the same number). The rows stay on the workers; only the trees
    come back, so ``est`` is afterwards an ordinary fitted classifier (local booster:
    calibration, scoring and saving work as usual). lightgbm.dask has no early stopping over a
    distributed eval set, so the number of rounds is given (``n_rounds``: e.g. the
    early-stopped count of a local fit on a sample).

    Not bit-identical to a local fit on the same rows, and not even to another run on the same
    cluster: lightgbm.dask numbers the workers (LightGBM's ranks) in an order that varies from
    run to run, each rank finds the bin boundaries of its own share of the features from its own
    rows, and bagging draws on each worker's rows. The model is equally good
    (:data:`DISTRIBUTED_PARAMS`; measured in docs/dev/scale.md).

    Returns
    -------
    est, fitted
    """
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMClassifier

    scattered: list[Any] = []
    if not isinstance(X, dd.DataFrame):
        X, y, scattered = _spread(client, pd.DataFrame(X), binary_target(y))
    try:
        first = X.head(1)  # feature names and count, as a local fit records them
        validate_data(est, first, dtype=np.float32, ensure_all_finite="allow-nan", reset=True)
        # threads: the workers' own; the metric list only matters for an eval set (none here)
        params = {k: v for k, v in est._lgb_params().items() if k not in ("metric", "num_threads")}
        model = DaskLGBMClassifier(client=client, n_estimators=n_rounds, **params, **DISTRIBUTED_PARAMS)
        model.fit(X.astype(np.float32), y.astype(np.int8))
    finally:
        client.cancel(scattered)
    est.classes_ = np.array([0, 1])
    est.booster_ = model.booster_
    est.best_iteration_ = int(est.booster_.current_iteration())
    return est


def _spread(client: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[Any, Any, list[Any]]:
    """``X`` and ``y`` as dask collections of one partition per worker: row ``i`` on worker
    ``i mod k`` (workers in address order), each share scattered to its worker. Interleaved, so
    every share has the mix of the whole (reference dates, outcomes) whatever the row order.
    The scheduler still decides where lightgbm.dask's part tasks run; with each share on its
    worker it ran them there in every measured fit (docs/dev/scale.md), and a share moved
    elsewhere only means fewer LightGBM machines, not another model quality.
    Returns the collections and the scattered futures (to cancel after the fit)."""
    import dask.dataframe as dd

    workers = sorted(client.scheduler_info()["workers"])[: max(1, len(X))]  # no empty share
    X = X.reset_index(drop=True).astype(np.float32)
    y_series = pd.Series(y.astype(np.int8), index=X.index)
    k = len(workers)
    xs = [client.scatter(X.iloc[i::k], workers=[w], hash=False) for i, w in enumerate(workers)]
    ys = [client.scatter(y_series.iloc[i::k], workers=[w], hash=False) for i, w in enumerate(workers)]
    return dd.from_delayed(xs, meta=X.iloc[:0]), dd.from_delayed(ys, meta=y_series.iloc[:0]), [*xs, *ys]
