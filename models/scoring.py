"""Score a feature table with a :class:`~models.bundle.ModelBundle`, in memory only.

Person-level scores never leave the process: this module returns a Series and writes
nothing. Callers aggregate to areas (monitoring) or audit (evaluation) before anything goes
out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aanwas.common.errors import ConfigError, InputError
from features.contract import AUDIT_ONLY_COLUMNS
from models.bundle import ModelBundle

BAND_COLUMN = "age_band"
SCORE_NAME = "risk"


def score_frame(bundle: ModelBundle, feature_table: pd.DataFrame) -> pd.Series:
    """Calibrated risk per row, aligned to ``feature_table.index``.

    Each row is scored by the model of its ``age_band``, reading that model's feature
    columns. Vectorised per band (one ``predict_proba`` call per band).

    Parameters
    ----------
    bundle : ModelBundle
    feature_table : DataFrame
        With ``age_band`` and every feature column the bundle's models read.

    Returns
    -------
    Series of float64 named ``risk``
        Calibrated probabilities in [0, 1], same index as ``feature_table``.

    Raises
    ------
    ConfigError
        When a model reads an audit-only column (:data:`features.contract.AUDIT_ONLY_COLUMNS`).
    InputError
        When ``age_band`` or a model's feature column is missing, or rows belong to a band
        without a model (the message gives the number of rows, never their values).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"age": [13.0, 15.0, 17.0, 19.0]})
    >>> est = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> table = X.assign(age_band="13-19")
    >>> score_frame(ModelBundle({"13-19": est}), table).between(0, 1).all()
    np.True_
    """
    if BAND_COLUMN not in feature_table.columns:
        raise InputError("feature table", BAND_COLUMN, None, "column missing")
    bands = feature_table[BAND_COLUMN].astype("str")
    unknown = ~bands.isin(list(bundle.bands))
    if unknown.any():
        raise InputError(
            "feature table",
            BAND_COLUMN,
            int(unknown.sum()),
            f"rows of an age band without a model (models: {list(bundle.bands)})",
        )
    out = np.full(len(feature_table), np.nan)
    for band in bundle.bands:
        mask = (bands == band).to_numpy()
        if not mask.any():
            continue
        cols = bundle.features(band)
        audit_only = [c for c in cols if c in AUDIT_ONLY_COLUMNS]
        if audit_only:  # a model trained elsewhere: never score with an audit-only input
            problem = f"{audit_only[0]!r} is audit-only and can never be a model input"
            raise ConfigError(f"model of band {band}", problem)
        missing = [c for c in cols if c not in feature_table.columns]
        if missing:
            raise InputError(
                "feature table", missing[0], None, f"feature of band {band} missing ({len(missing)} missing in all)"
            )
        distinct, inverse = distinct_rows(feature_table.loc[mask, cols])
        out[mask] = bundle.estimators[band].predict_proba(distinct)[:, 1][inverse]
    return pd.Series(out, index=feature_table.index, name=SCORE_NAME, dtype="float64")


#: Combined row keys are re-numbered densely before they could overflow int64.
_MAX_KEY = 2**62


def distinct_rows(X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct rows of ``X`` and, for every row, the position of its distinct row.

    Exact (values compared as they are; NaN equals NaN), so that a model scores each distinct
    input once: a national table of discrete indicators has ~1-10 % distinct rows per band.
    Each column is factorized and the codes are combined into one integer key per row.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 1.0, np.nan, np.nan], "b": [0, 0, 2, 2]})
    >>> d, inv = distinct_rows(X)
    >>> d.to_dict("list"), inv.tolist()
    ({'a': [1.0, nan], 'b': [0, 2]}, [0, 0, 1, 1])
    """
    key = np.zeros(len(X), np.int64)
    n_keys = 1
    for col in X.columns:
        codes, uniques = pd.factorize(X[col], use_na_sentinel=False)
        if n_keys * max(len(uniques), 1) >= _MAX_KEY:
            key, distinct = pd.factorize(key)
            n_keys = len(distinct)
        key = key * max(len(uniques), 1) + codes
        n_keys *= max(len(uniques), 1)
    inverse = np.asarray(pd.factorize(key)[0], np.int64)  # codes numbered in order of first appearance
    if len(inverse) == 0:
        return X, inverse
    first = np.flatnonzero(np.r_[True, inverse[1:] > np.maximum.accumulate(inverse)[:-1]])
    return X.iloc[first], inverse
