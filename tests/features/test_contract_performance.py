"""Validation speed at national size (slow: not in the CI suite; run with -m slow).

Measured on 2 busy cores (pandas 3.1, pandera 0.35): validate_table on 2M address rows
about 1 s typed (Parquet) and 2.5 s as text (CSV); read_delivery of a synthetic delivery at
scale 0.2 (2.1M persons, 21M rows) about 19 s. The bounds below are 5-10x that.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from features.contract import DATE_DTYPE, TABLES, ContractConfig, validate_table
from features.geography import load_geography

pytestmark = pytest.mark.slow
N = 2_000_000


@pytest.fixture(scope="module")
def addresses():
    geo = load_geography()
    rng = np.random.default_rng(0)
    codes = np.array(geo.buurt_codes)
    start = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 5000, N), unit="D")
    return pd.DataFrame(
        {
            "rinpersoon": rng.permutation(np.arange(100_000_001, 100_000_001 + N)),
            "address_id": rng.integers(0, 10**6, N),
            "buurt_code": codes[rng.integers(0, len(codes), N)],
            "date_start": start.astype(DATE_DTYPE),
            "date_end": pd.Series(start + pd.Timedelta(days=100)).astype(DATE_DTYPE).where(rng.random(N) < 0.7),
        }
    )


@pytest.mark.parametrize("variant", ["typed", "text"])
def test_two_million_addresses(addresses, variant):
    geo = load_geography()
    cfg = ContractConfig()
    validate_table(addresses.head(10), TABLES["addresses"], cfg, geo)  # warm-up (pandera imports)
    raw = addresses if variant == "typed" else addresses.astype("str").replace({"NaT": ""})
    t0 = time.perf_counter()
    out = validate_table(raw, TABLES["addresses"], cfg, geo)
    seconds = time.perf_counter() - t0
    assert len(out) == N
    assert seconds < (10 if variant == "typed" else 25), seconds
