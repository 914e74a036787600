"""Data fingerprint of a feature table: hashes and counts, never rows or values.

Two runs on the same data get the same fingerprint; any changed value, column or row changes
it. Every per-column entry is a SHA-256 of a summary (dtype, null count and an
order-independent sum of pandas' per-value hashes), so no value (and certainly no pseudonym)
can be read back from it. Row counts are given per reference date and age band only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

_MASK64 = (1 << 64) - 1


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _column_digest(series: pd.Series) -> str:
    hashed = pd.util.hash_pandas_object(series, index=False).to_numpy(dtype=np.uint64)
    # order-independent: sum of per-value hashes modulo 2**64 (uint64 arithmetic wraps)
    total = int(hashed.sum(dtype=np.uint64)) & _MASK64
    return _sha(json.dumps([str(series.dtype), int(series.isna().sum()), len(series), total]))


def build_data_fingerprint(
    frame: pd.DataFrame, *, count_by: tuple[str, ...] = ("ref_date", "age_band")
) -> dict[str, Any]:
    """Fingerprint of ``frame`` as a JSON-able dict.

    Parameters
    ----------
    frame : DataFrame
    count_by : tuple of str
        Columns to give row counts by (those present in ``frame``); keep them coarse.

    Returns
    -------
    dict
        ``n_rows``, ``n_columns``, ``columns_sha256`` (hash of the sorted column names),
        ``column_sha256`` (column -> hash of its summary), ``table_sha256`` (hash of all of
        these) and ``row_counts`` (e.g. ``"2020-01-01|13-19" -> n``).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    >>> fa = build_data_fingerprint(a)
    >>> fa == build_data_fingerprint(a.iloc[::-1])  # row order does not matter
    True
    >>> fa["table_sha256"] == build_data_fingerprint(a.assign(x=[1, 2, 4]))["table_sha256"]
    False
    """
    cols = sorted(map(str, frame.columns))
    per_col = {c: _column_digest(frame[c]) for c in cols}
    by = [c for c in count_by if c in frame.columns]
    counts: dict[str, int] = {}
    if by:
        grouped = frame.groupby(by, observed=True, sort=True).size()
        for key, n in grouped.items():
            parts = key if isinstance(key, tuple) else (key,)
            label = "|".join(p.date().isoformat() if isinstance(p, pd.Timestamp) else str(p) for p in parts)
            counts[label] = int(n)
    out: dict[str, Any] = {
        "n_rows": len(frame),
        "n_columns": len(cols),
        "columns_sha256": _sha(json.dumps(cols)),
        "column_sha256": per_col,
        "row_counts_by": by,
        "row_counts": counts,
    }
    out["table_sha256"] = _sha(json.dumps([out["columns_sha256"], len(frame), per_col], sort_keys=True))
    return out
