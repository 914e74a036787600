"""The export's text rendering of numbers (``_fmt``) against the per-value f-string it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.publishing.export import _fmt, _trim


def reference(values: list[float | None], decimals: int, trim: bool) -> list[str]:
    out = []
    for x in values:
        if x is None or np.isnan(x):
            out.append("")
            continue
        text = f"{x:.{decimals}f}"
        out.append(_trim(text) if trim else text)
    return out


@settings(max_examples=100)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), max_size=30),
    decimals=st.integers(0, 6),
    trim=st.booleans(),
)
def test_float_text_matches_the_per_value_format(values: list[float | None], decimals: int, trim: bool) -> None:
    frame = pd.DataFrame({"x": pd.Series([np.nan if v is None else v for v in values], dtype="float64")})
    got = _fmt(frame, decimals, trim=trim)["x"].tolist()
    assert got == reference(values, decimals, trim)


def test_float_text_hand_computed() -> None:
    frame = pd.DataFrame({"x": [1.23456, -0.0001, 2.5, np.nan, np.inf]})
    assert _fmt(frame, 3)["x"].tolist() == ["1.235", "-0.000", "2.500", "", "inf"]
    assert _fmt(frame, 3, trim=True)["x"].tolist() == ["1.235", "0", "2.5", "", "inf"]
