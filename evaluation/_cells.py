"""Minimum-cell-size rules shared by every audit table.

A count below the minimum cell size is never shown: the row is marked "too few" and its numbers
are blanked (NaN). :func:`check_aggregate_tables` is the last line of defence before anything is
logged or rendered: it refuses person-level columns and counts below the minimum.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Columns that identify persons; no evaluation output may carry them.
PERSON_COLUMNS = frozenset({"rinpersoon", "rinpersoon_parent", "person_id"})


def enough(count: np.ndarray | float, min_cell: int) -> np.ndarray:
    """True where ``count`` reaches the minimum cell size (NaN counts are not enough)."""
    c = np.asarray(count, dtype=np.float64)
    return np.nan_to_num(c, nan=-1.0) >= min_cell


def check_aggregate_tables(tables: Mapping[str, pd.DataFrame], min_cell: int) -> None:
    """Raise ``ValueError`` if a table has a person column or a count below ``min_cell``.

    Counts are the numeric columns named ``n_*`` (NaN = blanked, allowed). Zero counts are
    allowed only in columns named ``n_excluded*`` or ``n_too_few*``, which count areas or
    groups, not persons.
    """
    for name, df in tables.items():
        bad = PERSON_COLUMNS.intersection(map(str, df.columns))
        if bad:
            raise ValueError(f"table {name!r} carries person-level column(s) {sorted(bad)}")
        for col in df.columns:
            col = str(col)
            if not col.startswith("n_") or not pd.api.types.is_numeric_dtype(df[col].dtype):
                continue
            if col.startswith(
                ("n_areas", "n_excluded", "n_too_few", "n_groups", "n_features", "n_bins", "n_predictors")
            ):
                continue
            v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            small = ~np.isnan(v) & (v < min_cell)
            if small.any():
                raise ValueError(
                    f"table {name!r}, column {col!r}: {int(small.sum())} cell(s) below the minimum cell size"
                )
