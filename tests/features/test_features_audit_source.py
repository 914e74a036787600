"""The audit frame prepared once per delivery equals a naive per-row computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import InputError
from features.build import audit_source, build_audit_frame
from features.contract import MIGRATION_GROUPS, SEX


def _naive_income(hi: pd.DataFrame, rin: int, ref_year: int) -> object:
    rows = hi[(hi["rinpersoon"] == rin) & (hi["year"] < ref_year)]
    return pd.NA if rows.empty else int(rows.sort_values("year")["income_group"].iloc[-1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_audit_frame_matches_naive_lookup(seed):
    rng = np.random.default_rng(seed)
    n = 60
    persons = pd.DataFrame(
        {
            "rinpersoon": rng.permutation(np.arange(1000, 1000 + 3 * n, 3)),  # unsorted pseudonyms
            "sex": rng.choice(list(SEX), n),
            "migration_group": rng.choice(list(MIGRATION_GROUPS), n),
        }
    )
    years = np.arange(2012, 2021)
    pairs = [(r, y) for r in persons["rinpersoon"] for y in years if rng.random() < 0.3]  # gaps in the years
    hi = pd.DataFrame(pairs, columns=["rinpersoon", "year"]).assign(income_group=lambda d: rng.integers(1, 6, len(d)))
    ft = pd.DataFrame(
        {
            "rinpersoon": rng.choice(persons["rinpersoon"], 150),
            "ref_date": pd.to_datetime(rng.choice(["2011-01-01", "2013-01-01", "2018-01-01", "2024-01-01"], 150)),
        },
        index=rng.permutation(150) + 7,
    )
    tables = {"persons": persons, "household_income": hi}
    au = build_audit_frame(audit_source(tables), ft)
    assert au.index.equals(ft.index) and (au["rinpersoon"].to_numpy() == ft["rinpersoon"].to_numpy()).all()
    by_rin = persons.set_index("rinpersoon")
    for idx, row in ft.iterrows():
        got = au.loc[idx]
        assert got["sex"] == by_rin.loc[row["rinpersoon"], "sex"]
        assert got["migration_group"] == by_rin.loc[row["rinpersoon"], "migration_group"]
        want = _naive_income(hi, row["rinpersoon"], row["ref_date"].year)
        assert (pd.isna(want) and pd.isna(got["income_group"])) or got["income_group"] == want
    pd.testing.assert_frame_equal(au, build_audit_frame(tables, ft))  # prepared once or per call: same


def test_unknown_pseudonym_in_income_or_rows_is_an_input_error():
    persons = pd.DataFrame({"rinpersoon": [1, 2], "sex": ["M", "V"], "migration_group": [MIGRATION_GROUPS[0]] * 2})
    hi = pd.DataFrame({"rinpersoon": [3], "year": [2015], "income_group": [2]})
    with pytest.raises(InputError, match=r"household_income.*not in persons.*\(1 row\)"):
        audit_source({"persons": persons, "household_income": hi})
    src = audit_source({"persons": persons})
    ft = pd.DataFrame({"rinpersoon": [1, 9, 9], "ref_date": pd.to_datetime(["2020-01-01"] * 3)})
    with pytest.raises(InputError, match=r"not in persons.*\(2 rows\)"):
        build_audit_frame(src, ft)
    au = build_audit_frame(src, ft.iloc[:1])
    assert pd.isna(au["income_group"].iloc[0])  # no income table: NA
