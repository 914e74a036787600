"""Type coercion, value checks and cross-table rules of the input contract, on tiny frames."""

from __future__ import annotations

import datetime as dt

import contract_testdata as td
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aanwas.common.errors import ConfigError, InputError
from features.config import AGE_BANDS
from features.contract import (
    AUDIT_ONLY_COLUMNS,
    DATE_DTYPE,
    INTERVENTION_AGE_BANDS,
    INTERVENTIONS,
    TABLES,
    ContractConfig,
    as_text_categorical,
    contract_schema,
    parse_dates,
    parse_whole_numbers,
    summarise_delivery,
    validate_delivery,
    validate_table,
)
from features.geography import load_geography

GEO = load_geography()
CFG = ContractConfig()


def _valid(tables=None, **kw):
    return validate_delivery(
        td.base_tables() if tables is None else tables, CFG, GEO, observation_end=td.OBSERVATION_END, **kw
    )


# --- dates ----------------------------------------------------------------------------------


def test_dates_iso_compact_numbers_and_datetimes_all_parse_to_the_day():
    s = pd.Series(["2024-01-31", " 20240131 ", "2024-01-31 17:45:00", None, ""], dtype="str")
    out, bad = parse_dates(s)
    assert bad == 0
    assert out.dtype == DATE_DTYPE
    assert out.iloc[:3].tolist() == [pd.Timestamp("2024-01-31")] * 3
    assert out.iloc[3:].isna().all()
    nums, bad = parse_dates(pd.Series([20240131.0, np.nan, 20000229]))
    assert bad == 0 and nums.iloc[0] == pd.Timestamp("2024-01-31") and nums.iloc[2] == pd.Timestamp("2000-02-29")
    stamped, _ = parse_dates(pd.Series(pd.to_datetime(["2024-01-31 23:59:59"])).astype("datetime64[ns]"))
    assert stamped.iloc[0] == pd.Timestamp("2024-01-31")
    objs, bad = parse_dates(pd.Series([dt.date(2020, 2, 29), None], dtype=object))
    assert bad == 0 and objs.iloc[0] == pd.Timestamp("2020-02-29")


def test_day_first_dates_are_never_guessed_but_read_with_a_format():
    s = pd.Series(["01-02-2020", "31-01-2020"], dtype="str")
    _, bad = parse_dates(s)
    assert bad == 2  # 01-02-2020 would be read as 2 January by a guessing parser
    out, bad = parse_dates(s, "%d-%m-%Y")
    assert bad == 0 and out.tolist() == [pd.Timestamp("2020-02-01"), pd.Timestamp("2020-01-31")]


def test_impossible_dates_are_counted():
    _, bad = parse_dates(pd.Series(["2023-02-29", "20231301", "2023-12-31", "morgen"], dtype="str"))
    assert bad == 3


# --- whole numbers --------------------------------------------------------------------------


def test_whole_numbers_exact_from_text_floats_and_categories():
    big = 2**60 + 1  # beyond float precision: must stay exact from text
    out, bad = parse_whole_numbers(pd.Series([" 000123 ", str(big), "1.0", "1e3", "", None], dtype="str"))
    assert not bad.any()
    assert out.tolist()[:4] == [123, big, 1, 1000] and out.iloc[4:].isna().all()
    out, bad = parse_whole_numbers(pd.Series([1.0, 2.5, np.inf, 1e30, np.nan]))
    assert bad.tolist() == [False, True, True, True, False]
    out, bad = parse_whole_numbers(pd.Series(["7", "x", "7"], dtype="category"))
    assert bad.tolist() == [False, True, False] and out.iloc[0] == 7
    _, bad = parse_whole_numbers(pd.Series([True, False]))
    assert bad.all()  # booleans are not pseudonyms


def test_text_categorical_strips_blanks_and_writes_whole_floats_without_decimals():
    out = as_text_categorical(pd.Series([1.0, 2.0, np.nan, 1.5]))
    assert out.astype(object).tolist()[:2] == ["1", "2"] and pd.isna(out.iloc[2]) and out.iloc[3] == "1.5"
    out = as_text_categorical(pd.Series([" M", "M ", "  ", None], dtype=object))
    assert list(out.cat.categories) == ["M"] and out.isna().sum() == 2


# --- typed output ---------------------------------------------------------------------------


def test_validated_tables_have_contract_dtypes_and_pass_the_pandera_schema():
    d = _valid(interventions=td.base_interventions())
    for name, df in d.tables.items():
        spec = TABLES[name]
        assert list(df.columns) == list(spec.column_names)
        for c in spec.columns:
            kind = {"id": "int64", "int": "int64", "date": DATE_DTYPE, "category": "category", "area": "category"}[
                c.kind
            ]
            assert str(df[c.name].dtype) == kind, (name, c.name)
        contract_schema(name, td.OBSERVATION_END and CFG, GEO).validate(df)
    contract_schema(INTERVENTIONS.name).validate(d.interventions)
    assert list(d["persons"]["sex"].cat.categories) == ["M", "V"]  # fixed sets, not just the observed ones
    assert list(d["suspects"]["offence"].cat.categories) == list(TABLES["suspects"].column("offence").allowed)


def test_text_delivery_equals_typed_delivery():
    typed = _valid()
    text = {n: df.astype("str").replace({"NaT": ""}) for n, df in td.base_tables().items()}
    for name, df in _valid(text).tables.items():
        pd.testing.assert_frame_equal(df, typed[name])


def test_area_codes_are_upper_cased_and_whitespace_trimmed():
    tables = td.base_tables()
    a = tables["addresses"].astype({"buurt_code": "str"})
    a.loc[0, "buurt_code"] = " " + a.loc[0, "buurt_code"].lower() + " "
    tables["addresses"] = a
    pd.testing.assert_frame_equal(_valid(tables)["addresses"], _valid()["addresses"])


def test_pandera_schema_declares_dtypes_and_refuses_a_raw_frame():
    schema = contract_schema("persons")
    assert list(schema.columns) == ["rinpersoon", "birth_date", "sex", "migration_group"]
    raw = td.base_tables()["persons"].astype({"sex": "str"})
    with pytest.raises(pa.errors.SchemaError):
        schema.validate(raw)


# --- counts: the number in the message is the number of offending rows ---------------------


@settings(max_examples=25)
@given(n=st.integers(1, 60), data=st.data())
def test_reported_count_equals_corrupted_rows(n, data):
    bad = data.draw(st.sets(st.integers(0, n - 1), max_size=n))
    kind = data.draw(st.sampled_from(["future", "code", "text", "duplicate"]))
    raw = pd.DataFrame(
        {
            "rinpersoon": np.arange(100000001, 100000001 + n),
            "registration_date": pd.Series(pd.Timestamp("2020-01-01"), index=range(n)).astype(DATE_DTYPE),
            "offence": "opiumwet",
        }
    )
    rows = sorted(bad)
    if kind == "future":
        raw.loc[rows, "registration_date"] = pd.Timestamp("2030-01-01")
        expect = ("registration_date", len(rows))
    elif kind == "code":
        raw.loc[rows, "offence"] = "moord"
        expect = ("offence", len(rows))
    elif kind == "text":
        raw = raw.astype({"rinpersoon": "str"})
        raw.loc[rows, "rinpersoon"] = "?"
        expect = ("rinpersoon", len(rows))
    else:  # each corrupted row becomes a copy of row 0: a group of len(rows) + 1 (row 0 itself)
        raw.loc[rows, "rinpersoon"] = raw.loc[0, "rinpersoon"]
        group = len(set(rows) | {0})
        expect = ("rinpersoon,registration_date,offence", group if group > 1 else 0)
    if expect[1] == 0:
        validate_table(raw, TABLES["suspects"], CFG, GEO)
        return
    with pytest.raises(InputError) as info:
        validate_table(raw, TABLES["suspects"], CFG, GEO)
    assert (info.value.table, info.value.column, info.value.n_rows) == ("suspects", *expect)


@settings(max_examples=25)
@given(
    keys=st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 3), st.sampled_from(["wsnp", "minnelijk"])), min_size=1, max_size=30
    )
)
def test_duplicate_count_matches_pandas(keys):
    df = pd.DataFrame(keys, columns=["rinpersoon", "day", "debt_type"])
    raw = pd.DataFrame(
        {
            "rinpersoon": 100000000 + df["rinpersoon"],
            "debt_type": df["debt_type"],
            "date_start": (pd.Timestamp("2020-01-01") + pd.to_timedelta(df["day"], unit="D")).astype(DATE_DTYPE),
            "date_end": pd.Series(pd.NaT, index=df.index, dtype=DATE_DTYPE),
        }
    )
    expected = int(raw.duplicated(["rinpersoon", "debt_type", "date_start"], keep=False).sum())
    if expected == 0:
        validate_table(raw, TABLES["debt"], CFG, GEO)
    else:
        with pytest.raises(InputError) as info:
            validate_table(raw, TABLES["debt"], CFG, GEO)
        assert info.value.n_rows == expected


# --- cross-table rules ----------------------------------------------------------------------


def test_tolerated_orphans_are_dropped_and_counted():
    tables = td.base_tables()
    tables["halt"].loc[1, "rinpersoon"] = 100000999
    with pytest.raises(InputError, match="pseudonym not in persons"):
        _valid(tables)
    d = validate_delivery(tables, ContractConfig(max_orphan_share=0.5), GEO, observation_end=td.OBSERVATION_END)
    assert d.orphans_dropped == {"halt": 1}
    assert d["halt"]["rinpersoon"].tolist() == [td.KIDS[0]]
    with pytest.raises(InputError, match="at most 10.0% tolerated"):
        validate_delivery(tables, ContractConfig(max_orphan_share=0.1), GEO, observation_end=td.OBSERVATION_END)


def test_income_year_before_birth_is_refused():
    tables = td.base_tables()
    tables["household_income"].loc[0, "year"] = 2007  # k1 born 2008
    with pytest.raises(InputError) as info:
        _valid(tables)
    assert (info.value.table, info.value.column, info.value.n_rows) == ("household_income", "year", 1)


def test_unknown_and_missing_tables():
    tables = td.base_tables()
    tables["personen"] = tables.pop("persons")
    with pytest.raises(InputError, match="not a contract table"):
        _valid(tables)
    del tables["personen"]
    with pytest.raises(InputError, match="table missing from the delivery") as info:
        _valid(tables)
    assert info.value.table == "persons"


def test_observation_end_moves_the_future_boundary():
    tables = td.base_tables()  # latest event: debt end 2024-01-01
    with pytest.raises(InputError, match="in the future"):
        validate_delivery(tables, CFG, GEO, observation_end=dt.date(2023, 6, 30))
    assert validate_delivery(tables, CFG, GEO, observation_end=dt.date(2024, 1, 1)).observation_end == dt.date(
        2024, 1, 1
    )


def test_contract_config_ranges():
    with pytest.raises(ConfigError, match="contract.max_orphan_share"):
        ContractConfig(max_orphan_share=-0.1)
    with pytest.raises(ConfigError, match="contract.date_min"):
        ContractConfig(date_min=dt.date(2030, 1, 1))
    with pytest.raises(ConfigError, match="contract.observation_end"):
        ContractConfig(observation_end=dt.date.today() + dt.timedelta(days=1))


def test_summary_counts_and_dates_by_hand():
    d = _valid(interventions=td.base_interventions())
    s = summarise_delivery(d).set_index("table")
    assert s.loc["persons", ["rows", "persons"]].tolist() == [8, 8]
    assert s.loc["suspects", ["rows", "persons"]].tolist() == [3, 2]
    assert (s.loc["suspects", "first_date"], s.loc["suspects", "last_date"]) == ("2020-07-07", "2022-02-02")
    assert (s.loc["debt", "first_date"], s.loc["debt", "last_date"]) == ("2020-05-01", "2024-01-01")
    assert (s.loc["household_income", "first_date"], s.loc["household_income", "last_date"]) == (
        "2022-01-01",
        "2023-12-31",
    )
    assert pd.isna(s.loc["parent_child", "first_date"])
    assert pd.isna(s.loc["interventions", "persons"]) and s.loc["interventions", "rows"] == 2
    assert (s["orphans_dropped"] == 0).all()


def test_contract_constants_agree_with_the_feature_config():
    assert tuple(INTERVENTION_AGE_BANDS) == tuple(AGE_BANDS)
    cols = {c.name for spec in TABLES.values() for c in spec.columns}
    assert set(AUDIT_ONLY_COLUMNS) <= cols


def test_parent_born_on_the_childs_birthday_is_refused():
    tables = td.base_tables()
    tables["persons"].loc[7, "birth_date"] = tables["persons"].loc[4, "birth_date"]  # p3 and k5 same day
    with pytest.raises(InputError) as info:
        _valid(tables)
    assert (info.value.table, info.value.column, info.value.n_rows) == ("parent_child", "rinpersoon_parent", 1)


def test_data_like_column_names_are_never_shown():
    raw = td.base_tables()["vsv"].assign(**{"100000003": 1, "2021-10-01": 2})
    with pytest.raises(InputError) as info:
        validate_table(raw, TABLES["vsv"], CFG, GEO)
    assert info.value.column == "#3 (name not shown)"
    assert "100000003" not in str(info.value) and "2021-10-01" not in str(info.value)
    assert "2 unknown" in str(info.value)
    raw = td.base_tables()["vsv"].assign(Opmerking_2=1)
    with pytest.raises(InputError) as info:
        validate_table(raw, TABLES["vsv"], CFG, GEO)
    assert info.value.column == "Opmerking_2"
