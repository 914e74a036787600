"""The bad-input catalogue and the no-pseudonym promise of error messages.

The catalogue of cases lives in contract_testdata.py; tests/test_cli_validate.py runs every
case through the library (exact table, column and row count of the error) and through
``aanwas validate`` (exit code 2, one line, nothing written, docs/reliability.md up to date).
"""

from __future__ import annotations

import contract_testdata as td
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from aanwas.common.errors import InputError
from features.contract import TABLES, ContractConfig, validate_delivery
from features.geography import load_geography


def test_catalogue_covers_every_kind_named_in_the_issue():
    kinds = {
        "missing-column",
        "unknown-column",
        "wrong-type-id",
        "wrong-type-date",
        "duplicate-key",
        "unknown-area-code",
        "date-too-early",
        "date-in-future",
        "end-before-start",
        "empty-table",
        "all-null-column",
        "truncated-parquet",
        "csv-cp1252",
        "csv-utf16",
        "csv-delimiter",
        "mapping-absent-column",
        "mapping-unknown-table",
        "config-invalid-toml",
        "config-out-of-range",
        "event-before-birth",
    }
    ids = [c.id for c in td.CASES]
    assert kinds <= set(ids)
    assert len(ids) == len(set(ids)) >= 30


def test_the_base_delivery_is_valid():
    d = validate_delivery(
        td.base_tables(),
        ContractConfig(),
        load_geography(),
        interventions=td.base_interventions(),
        observation_end=td.OBSERVATION_END,
    )
    assert d.row_counts() == {name: len(df) for name, df in td.base_tables().items()}
    assert d.orphans_dropped == {}


# --- no pseudonym in any message, whatever is corrupted -------------------------------------

_CORRUPTIONS = ["text", "negative", "fraction", "huge", "null", "duplicate", "orphan"]


@settings(max_examples=20)
@given(
    table=st.sampled_from(sorted(TABLES)),
    how=st.sampled_from(_CORRUPTIONS),
    data=st.data(),
)
def test_no_pseudonym_in_any_error_message(table, how, data):
    tables = td.base_tables()
    df = tables[table]
    rows = data.draw(st.lists(st.integers(0, len(df) - 1), min_size=1, max_size=len(df), unique=True))
    ids = [c.name for c in TABLES[table].columns if c.kind == "id"]
    col = data.draw(st.sampled_from(ids))
    if how == "text":
        df = df.astype({col: "str"})
        # a value that embeds a pseudonym: must not be echoed back
        df.loc[rows, col] = [f"x{td.PSEUDONYMS[i % len(td.PSEUDONYMS)]}" for i in rows]
    elif how == "negative":
        df.loc[rows, col] = -df.loc[rows, col]
    elif how == "fraction":
        df = df.astype({col: "float64"})
        df.loc[rows, col] = df.loc[rows, col] + 0.5
    elif how == "huge":
        df = df.astype({col: "float64"})
        df.loc[rows, col] = 1e30
    elif how == "null":
        df = df.astype({col: "float64"})
        df.loc[rows, col] = np.nan
    elif how == "duplicate":
        df = pd.concat([df, df.iloc[rows]], ignore_index=True)
    else:
        df.loc[rows, col] = 100000999
    tables[table] = df
    try:
        validate_delivery(tables, ContractConfig(), load_geography(), observation_end=td.OBSERVATION_END)
    except InputError as err:
        assert td.looks_like_pseudonym_free(str(err)), str(err)
        assert "\n" not in str(err)
    else:  # only a duplicate of a table without its own key can pass: none such exists
        raise AssertionError(f"{how} corruption of {table}.{col} was accepted")
