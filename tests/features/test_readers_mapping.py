"""The mapping file: its own validation, and each mapping feature on small delivered files."""

from __future__ import annotations

from pathlib import Path

import contract_testdata as td
import pandas as pd
import pytest

from aanwas.common.errors import ConfigError, InputError
from features.contract import ContractConfig
from features.sources.readers import load_mapping, read_delivery, read_table


def _mapping(tmp_path: Path, text: str):
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[tables.persoon]\n", "m.toml: mapping.tables.persoon", "not a contract table"),
        ("[tables.persons]\ncolumns = { geslacht = 'X' }\n", "m.toml: mapping.tables.persons.geslacht", "not a column"),
        (
            "[tables.persons]\nvalues.geslacht = { '1' = 'M' }\n",
            "m.toml: mapping.tables.persons.geslacht",
            "not a column",
        ),
        ("[tables.addresses]\nprefix = { buurt = 'BU' }\n", "m.toml: mapping.tables.addresses.buurt", "not a column"),
        (
            "[tables.persons]\ndate_parts.sex = { year = 'J', month = 'M' }\n",
            "m.toml: mapping.tables.persons.date_parts.sex",
            "not a date column",
        ),
        (
            "[tables.persons]\ndate_parts.birth_date = { year = 'J' }\n",
            "m.toml: mapping.tables.persons.date_parts.birth_date",
            "needs year and month",
        ),
        (
            "[tables.persons]\ncolumns = { sex = 'A', migration_group = 'A' }\n",
            "m.toml: mapping.tables.persons",
            "used twice",
        ),
        (
            "[tables.persons]\ncolumns = { sex = 'A' }\ndrop = ['A']\n",
            "m.toml: mapping.tables.persons.drop",
            "drops the mapped column",
        ),
        (
            "[tables.parent_child]\n[[tables.parent_child.stack]]\nrinpersoon_parent = 'pa'\n"
            "[[tables.parent_child.stack]]\nrinpersoon = 'ma'\n",
            "m.toml: mapping.tables.parent_child.stack",
            "same columns",
        ),
        (
            "[tables.persons]\ncolumns = { birth_date = 'G' }\ndate_parts.birth_date = { year = 'J', month = 'M' }\n",
            "m.toml: mapping.tables.persons",
            "mapped more than once",
        ),
        ("delimiter = ';;'\n", "m.toml: mapping.delimiter", "one character"),
        ("encoding = 'klingon'\n", "m.toml: mapping.encoding", "unknown encoding"),
        ("[tables.persons]\nfiles = 'x'\n", "m.toml: mapping.tables.persons.files", "unknown setting"),
        ("[tables.persons]\ndrop = 'RINPERSOONS'\n", "m.toml: mapping.tables.persons.drop", "must be a list"),
    ],
)
def test_mapping_file_errors_name_the_key(tmp_path, text, key, problem):
    with pytest.raises(ConfigError) as info:
        _mapping(tmp_path, text)
    assert info.value.key == key
    assert problem in info.value.problem


def test_missing_mapping_file(tmp_path):
    with pytest.raises(ConfigError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.toml")


def _write(tmp_path: Path, df: pd.DataFrame, stem: str, fmt: str = "csv") -> Path:
    data = tmp_path / "d"
    data.mkdir(exist_ok=True)
    td.write_frame(df, data / f"{stem}.{fmt}")
    return data


def test_file_stem_rename_drop_and_value_codes_from_spss_numbers(tmp_path):
    p = td.base_tables()["persons"]
    df = pd.DataFrame(
        {
            "RINPERSOONS": "R",
            "RIN": p["rinpersoon"].astype("float64"),
            "GEB": p["birth_date"],
            "GESLACHT": p["sex"].map({"M": 1.0, "V": 2.0}),  # SPSS numbers: 1.0 must match code "1"
            "HERKOMST": p["migration_group"],
        }
    )
    data = _write(tmp_path, df, "GBAPERSOONTAB", "sav")
    m = _mapping(
        tmp_path,
        """
[tables.persons]
file = "GBAPERSOONTAB"
columns = { rinpersoon = "RIN", birth_date = "GEB", sex = "GESLACHT", migration_group = "HERKOMST" }
drop = ["RINPERSOONS"]
values.sex = { "1" = "M", "2" = "V" }
""",
    )
    raw = read_table(data, "persons", m)
    assert list(raw.columns) == ["rinpersoon", "birth_date", "sex", "migration_group"]
    assert raw["sex"].astype(str).tolist() == p["sex"].tolist()
    assert read_table(data, "vsv", m) is None  # no file: None, the caller decides


def test_value_mapped_to_empty_is_missing(tmp_path):
    p = td.base_tables()["persons"]
    p["sex"] = p["sex"].map({"M": "1", "V": "9"})  # 9 = onbekend
    data = _write(tmp_path, p, "persons")
    m = _mapping(tmp_path, "[tables.persons]\nvalues.sex = { '1' = 'M', '9' = '' }\n")
    tables = td.base_tables()
    tables["persons"] = read_table(data, "persons", m)
    from features.contract import validate_delivery
    from features.geography import load_geography

    with pytest.raises(InputError) as info:
        validate_delivery(tables, ContractConfig(), load_geography(), observation_end=td.OBSERVATION_END)
    assert (info.value.column, info.value.n_rows, info.value.problem) == ("sex", 4, "empty values")


def test_unmapped_code_is_reported_by_the_contract(tmp_path):
    data = td.write_delivery(tmp_path / "d", td.base_tables(), None)
    h = td.base_tables()["halt"]
    h["halt_category"] = ["1", "7"]
    (data / "halt.parquet").unlink()
    td.write_frame(h, data / "halt.csv")
    m = _mapping(tmp_path, "[tables.halt]\nvalues.halt_category = { '1' = 'vernieling', '2' = 'diefstal' }\n")
    with pytest.raises(InputError) as info:
        read_delivery(data, m, ContractConfig())
    assert (info.value.table, info.value.column, info.value.n_rows) == ("halt", "halt_category", 1)


def test_stack_turns_father_and_mother_columns_into_rows(tmp_path):
    wide = pd.DataFrame(
        {
            "kind": ["100000001", "100000002", "100000003"],
            "pa": ["100000102", "", "000000000"],
            "ma": ["100000101", "100000101", "100000103"],
        }
    )
    data = _write(tmp_path, wide, "KINDOUDERTAB")
    m = _mapping(
        tmp_path,
        """
[tables.parent_child]
file = "KINDOUDERTAB"
columns = { rinpersoon = "kind" }
values.rinpersoon_parent = { "000000000" = "" }
[[tables.parent_child.stack]]
rinpersoon_parent = "pa"
[[tables.parent_child.stack]]
rinpersoon_parent = "ma"
""",
    )
    raw = read_table(data, "parent_child", m)
    got = sorted(zip(raw["rinpersoon"].astype(str), raw["rinpersoon_parent"].astype(str), strict=False))
    assert got == [
        ("100000001", "100000101"),
        ("100000001", "100000102"),
        ("100000002", "100000101"),
        ("100000003", "100000103"),
    ]


def test_date_parts_and_their_errors(tmp_path):
    df = pd.DataFrame(
        {"rinpersoon": [1, 2, 3], "J": [2001, 2002, 2003], "M": [2, 13, 12], "sex": "M", "migration_group": "europa"}
    )
    data = _write(tmp_path, df, "persons")
    m = _mapping(tmp_path, "[tables.persons]\ndate_parts.birth_date = { year = 'J', month = 'M' }\n")
    with pytest.raises(InputError) as info:
        read_table(data, "persons", m)
    assert (info.value.column, info.value.n_rows) == ("birth_date", 1)
    df["M"] = [2, 11, None]
    data = _write(tmp_path, df, "persons")
    raw = read_table(data, "persons", m)
    assert raw["birth_date"].iloc[:2].tolist() == [pd.Timestamp("2001-02-01"), pd.Timestamp("2002-11-01")]
    assert pd.isna(raw["birth_date"].iloc[2])  # a missing part: missing date (the contract refuses it)
    df["M"] = ["2", "x", "3"]
    data = _write(tmp_path, df, "persons")
    with pytest.raises(InputError) as info:
        read_table(data, "persons", m)
    assert (info.value.column, info.value.n_rows) == ("M", 1)


def test_buurt_prefix_pads_numbers_and_keeps_letters(tmp_path):
    a = td.base_tables()["addresses"]
    codes = a["buurt_code"].str[2:]
    numeric = codes.str.fullmatch(r"\d{8}")
    a["buurt_code"] = codes.where(~numeric, codes.str.lstrip("0"))  # "05180170" read as a number loses its 0
    data = _write(tmp_path, a, "addresses")
    m = _mapping(tmp_path, "[tables.addresses]\nprefix = { buurt_code = 'BU' }\n")
    raw = read_table(data, "addresses", m)
    assert raw["buurt_code"].astype(str).tolist() == td.base_tables()["addresses"]["buurt_code"].tolist()


def test_table_date_format_overrides_the_global_one(tmp_path):
    v = td.base_tables()["vsv"]
    data = _write(tmp_path, v.assign(vsv_date=v["vsv_date"].dt.strftime("%d/%m/%Y")), "vsv")
    m = _mapping(tmp_path, "date_format = '%Y%m%d'\n[tables.vsv]\ndate_format = '%d/%m/%Y'\n")
    assert read_table(data, "vsv", m)["vsv_date"].tolist() == v["vsv_date"].tolist()
    m = _mapping(tmp_path, "date_format = '%Y%m%d'\n")
    with pytest.raises(InputError) as info:
        read_table(data, "vsv", m)
    assert (info.value.column, info.value.n_rows) == ("vsv_date", 2)
    assert "%Y%m%d" in info.value.problem


def test_mapped_column_delivered_twice_and_all_dropped(tmp_path):
    v = td.base_tables()["vsv"]
    data = _write(tmp_path, v.assign(DATUM=v["vsv_date"]), "vsv")
    with pytest.raises(InputError, match="delivered besides the column mapped onto it") as info:
        read_table(data, "vsv", _mapping(tmp_path, "[tables.vsv]\ncolumns = { vsv_date = 'DATUM' }\n"))
    assert info.value.column == "vsv_date"
    with pytest.raises(InputError, match="every column is dropped"):
        read_table(data, "vsv", _mapping(tmp_path, "[tables.vsv]\ndrop = ['rinpersoon', 'vsv_date', 'DATUM']\n"))
    got = read_table(data, "vsv", _mapping(tmp_path, "[tables.vsv]\ndrop = ['DATUM']\n"))
    assert list(got.columns) == ["rinpersoon", "vsv_date"]


@pytest.mark.parametrize("where", ["date_parts", "stack"])
def test_mapping_naming_absent_columns_in_parts_and_stacks(tmp_path, where):
    data = td.write_delivery(tmp_path / "d", td.base_tables(), None)
    text = {
        "date_parts": "[tables.persons]\n"
        "date_parts.birth_date = { year = 'GBAGEBOORTEJAAR', month = 'GBAGEBOORTEMAAND' }\n",
        "stack": "[tables.parent_child]\n[[tables.parent_child.stack]]\nrinpersoon_parent = 'RINPERSOONpa'\n",
    }[where]
    with pytest.raises(InputError) as info:
        read_delivery(data, _mapping(tmp_path, text), ContractConfig())
    assert info.value.column in ("GBAGEBOORTEJAAR", "RINPERSOONpa")
    assert "the file does not have" in info.value.problem
