"""Target checks shared by the estimators."""

from __future__ import annotations

from typing import Any

import numpy as np


def binary_target(y: Any) -> np.ndarray:
    """0/1 int8 array from booleans or 0/1 numbers; missing values are an error."""
    try:
        arr = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError("y must be binary without missing values (drop censored labels first)") from None
    if np.isnan(arr).any():
        raise ValueError("y must be binary without missing values (drop censored labels first)")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError("y must contain only 0/1 (or False/True)")
    return arr.astype(np.int8)
