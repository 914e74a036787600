"""The catalogue: model inputs per band, no audit-only column, docs in sync with the code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import ConfigError
from features.build import build_feature_table
from features.catalogue import (
    AUDIT_COLUMNS,
    INDICATOR_COLUMNS,
    INDICATORS,
    KEY_COLUMNS,
    LABEL_COLUMN,
    bands_from_age,
    feature_columns,
    render_markdown,
)
from features.config import AGE_BANDS, FeatureConfig
from features.contract import AUDIT_ONLY_COLUMNS, TABLES, Delivery

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("band", AGE_BANDS)
def test_no_audit_only_key_or_label_column_is_a_model_input(band):
    cols = feature_columns(band)
    forbidden = set(AUDIT_ONLY_COLUMNS) | set(AUDIT_COLUMNS) | set(KEY_COLUMNS) | {LABEL_COLUMN}
    assert not set(cols) & forbidden
    assert not any(a in c for c in cols for a in AUDIT_ONLY_COLUMNS)  # no derived names either
    assert cols[:2] == ["age", "is_male"]
    assert all(c.startswith("ind_") for c in cols[2:])


def test_unknown_band_is_a_config_error():
    with pytest.raises(ConfigError, match="age_band"):
        feature_columns("24-30")


def test_catalogue_names_unique_and_bands_known():
    names = [i.name for i in INDICATORS]
    assert len(names) == len(set(names))
    for i in INDICATORS:
        assert i.bands and set(i.bands) <= set(AGE_BANDS), i.name
        assert set(i.sources) <= set(TABLES), i.name
        assert not set(i.sources) & {"household_income"}, i.name  # audit-only table
    assert bands_from_age(18) == ("13-19", "20-23")
    assert bands_from_age(24) == ()


def test_own_debt_absent_for_8_12_and_shared_indicators_everywhere():
    assert "ind_own_debt_ever" not in feature_columns("8-12")
    for band in AGE_BANDS:
        for c in (
            "ind_halt_ever",
            "ind_n_halt",
            "ind_vsv_ever",
            "ind_parent_debt_recent",
            "ind_parent_suspect_recent",
            "ind_single_parent",
            "ind_youth_care_ever",
            "ind_prior_suspect",
        ):
            assert c in feature_columns(band), (band, c)


def _tables(migration: list[str], income: list[int]) -> Delivery:
    d = lambda *x: pd.to_datetime(list(x)).astype("datetime64[s]")  # noqa: E731
    cat = lambda *x: pd.Series(list(x), dtype="category")  # noqa: E731
    n = len(migration)
    rins = np.arange(1, n + 1, dtype=np.int64)
    empty = {
        name: pd.DataFrame({c: pd.Series([], dtype="object") for c in spec.column_names})
        for name, spec in TABLES.items()
    }
    for name, spec in TABLES.items():
        for c in spec.columns:
            if c.kind == "date":
                empty[name][c.name] = empty[name][c.name].astype("datetime64[s]")
            elif c.kind in ("id", "int"):
                empty[name][c.name] = empty[name][c.name].astype("int64")
    t = dict(empty)
    t["persons"] = pd.DataFrame(
        {
            "rinpersoon": rins,
            "birth_date": d(*["2006-03-01"] * n),
            "sex": cat(*["M", "V"] * (n // 2)),
            "migration_group": cat(*migration),
        }
    )
    t["addresses"] = pd.DataFrame(
        {
            "rinpersoon": rins,
            "address_id": rins,
            "buurt_code": cat(*["BU0363AA01"] * n),
            "date_start": d(*["2006-03-01"] * n),
            "date_end": d(*[None] * n),
        }
    )
    t["halt"] = pd.DataFrame(
        {
            "rinpersoon": rins[:2],
            "referral_date": d("2019-03-01", "2019-04-01"),
            "halt_category": cat("overig", "overig"),
        }
    )
    t["household_income"] = pd.DataFrame(
        {"rinpersoon": rins, "year": np.full(n, 2019, np.int64), "income_group": np.array(income, np.int64)}
    )
    return Delivery(tables=t, observation_end=dt.date(2021, 12, 31))


def test_features_do_not_depend_on_audit_only_attributes():
    a = _tables(["nederland", "europa", "buiten_europa", "nederland"], [1, 2, 3, 4])
    b = _tables(["buiten_europa", "nederland", "nederland", "europa"], [5, 5, 1, 1])
    cfg = FeatureConfig(first_ref_date=dt.date(2020, 1, 1))
    fa, fb = build_feature_table(a, cfg), build_feature_table(b, cfg)
    assert len(fa) == 8
    pd.testing.assert_frame_equal(fa, fb)
    assert not set(fa.columns) & set(AUDIT_ONLY_COLUMNS)
    assert set(fa.columns) == set(KEY_COLUMNS) | {"age", "is_male", LABEL_COLUMN} | set(INDICATOR_COLUMNS)


def test_committed_catalogue_equals_generated_text():
    committed = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == render_markdown(FeatureConfig()), "regenerate: python -m features.catalogue > docs/features.md"
