"""Score a feature table with a :class:`~models.bundle.ModelBundle`, in memory only.

Person-level scores never leave the process: this module returns a Series and writes
nothing. Callers aggregate to areas (monitoring) or audit (evaluation) before anything goes
out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import AUDIT_ONLY_COLUMNS
from features.errors import ConfigError, InputError
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
        X = feature_table.loc[mask, cols]
        out[mask] = bundle.estimators[band].predict_proba(X)[:, 1]
    return pd.Series(out, index=feature_table.index, name=SCORE_NAME, dtype="float64")
