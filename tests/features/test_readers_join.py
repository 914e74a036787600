"""Mapping keys that stack, combine and join: hand-made files, hand-computed results.

The whole CBS-layout delivery is checked in test_cbs_layout_delivery.py and its bad-input
cases in the catalogue (contract_testdata.CASES); here each key on its own, and the mapping
file's rules for them.
"""

from __future__ import annotations

from pathlib import Path

import contract_testdata as td
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aanwas.common.errors import ConfigError, InputError
from features.contract import ContractConfig
from features.sources.readers import JoinMapping, _join, load_mapping, read_delivery, read_table


def _mapping(tmp_path: Path, text: str):
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


def _csv(data: Path, stem: str, df: pd.DataFrame) -> None:
    data.mkdir(exist_ok=True)
    df.to_csv(data / f"{stem}.csv", index=False)


ADDRESSES = """
[tables.addresses]
file = "ADRES"
columns = { rinpersoon = "RIN", address_id = "OBJ", date_start = "BEGIN", date_end = "EINDE" }
[[tables.addresses.join]]
file = "GWB*"
from_file_name = { JAAR = '(\\d{4})' }
on = { address_id = "OBJ" }
fill = { buurt_code = "BC" }
date = "date_start"
year = "JAAR"
"""


def _addresses(data: Path) -> None:
    # object 7 lies in buurt A until 2019 and in buurt B from 2020 (a redrawn boundary);
    # object 8 is in C throughout; each row must get the code of its start date's year
    _csv(
        data,
        "ADRES",
        pd.DataFrame(
            {
                "RIN": [1, 1, 2, 3],
                "OBJ": ["0000000007", "8", "7", "7"],
                "BEGIN": ["20190501", "20210101", "20200101", "20191231"],
                "EINDE": ["20201231", "", "", ""],
            }
        ),
    )
    a, b, c = td.buurten()[:3]
    _csv(data, "GWB2019", pd.DataFrame({"OBJ": [7, 8], "BC": [a, c]}))
    _csv(data, "GWB2020", pd.DataFrame({"OBJ": [7, 8], "BC": [b, c]}))
    _csv(data, "GWB2021", pd.DataFrame({"OBJ": [7.0, 8.0], "BC": [b, c]}))  # keys as SPSS numbers


def test_year_join_takes_the_row_of_the_dates_year(tmp_path):
    data = tmp_path / "d"
    _addresses(data)
    raw = read_table(data, "addresses", _mapping(tmp_path, ADDRESSES))
    a, b, c = td.buurten()[:3]
    assert raw["buurt_code"].astype(str).tolist() == [a, c, b, a]
    assert sorted(raw.columns) == ["address_id", "buurt_code", "date_end", "date_start", "rinpersoon"]
    assert raw.attrs["unmatched_dropped"] == 0


def test_unmatched_rows_refused_or_dropped_within_the_tolerance(tmp_path):
    data = tmp_path / "d"
    _addresses(data)
    (data / "GWB2021.csv").unlink()  # the 2021 move of person 1 finds no lookup row
    with pytest.raises(InputError) as info:
        read_table(data, "addresses", _mapping(tmp_path, ADDRESSES))
    assert (info.value.table, info.value.column, info.value.n_rows) == ("addresses", "address_id", 1)
    assert "for the year of date_start" in info.value.problem
    tolerant = _mapping(tmp_path, ADDRESSES + "max_unmatched_share = 0.25\n")
    raw = read_table(data, "addresses", tolerant)
    assert len(raw) == 3 and raw.attrs["unmatched_dropped"] == 1
    with pytest.raises(InputError, match="at most 20.0% tolerated"):
        read_table(data, "addresses", _mapping(tmp_path, ADDRESSES + "max_unmatched_share = 0.2\n"))


VALIDITY = """
[tables.addresses]
file = "ADRES"
columns = { rinpersoon = "RIN", address_id = "OBJ", date_start = "BEGIN", date_end = "EINDE" }
[[tables.addresses.join]]
file = "GWBTAB"
on = { address_id = "OBJ" }
fill = { buurt_code = "BC" }
date = "date_start"
valid_from = "VAN"
valid_to = "TOT"
"""


def test_validity_join_later_period_wins_on_a_shared_day_and_open_end(tmp_path):
    data = tmp_path / "d"
    _addresses(data)
    a, b, c = td.buurten()[:3]
    _csv(
        data,
        "GWBTAB",
        pd.DataFrame(
            {
                "OBJ": [7, 7, 8],
                "VAN": ["20000101", "20191231", "19000101"],
                "TOT": ["20191231", "", ""],
                "BC": [a, b, c],
            }
        ),
    )
    raw = read_table(data, "addresses", _mapping(tmp_path, VALIDITY))
    # 2019-05-01 -> a; 2021 (object 8) -> c; 2020 -> b (open end); 2019-12-31 -> b (shared day: later)
    assert raw["buurt_code"].astype(str).tolist() == [a, c, b, b]


def test_overlapping_validity_and_duplicate_keys_are_refused(tmp_path):
    data = tmp_path / "d"
    _addresses(data)
    a, b, c = td.buurten()[:3]
    overlap = pd.DataFrame(
        {"OBJ": [7, 7, 8], "VAN": ["20000101", "20150101", "19000101"], "TOT": ["20191231", "", ""], "BC": [a, b, c]}
    )
    _csv(data, "GWBTAB", overlap)
    with pytest.raises(InputError) as info:
        read_table(data, "addresses", _mapping(tmp_path, VALIDITY))
    assert (info.value.column, info.value.n_rows) == ("OBJ", 2)
    assert "overlapping validity" in info.value.problem
    _csv(data, "GWBTAB", pd.DataFrame({"OBJ": [7, "007", 8], "BC": [a, b, c]}))  # 7 twice (leading zeros)
    exact = VALIDITY.replace('date = "date_start"\nvalid_from = "VAN"\nvalid_to = "TOT"\n', "")
    with pytest.raises(InputError) as info:
        read_table(data, "addresses", _mapping(tmp_path, exact))
    assert (info.value.column, info.value.n_rows) == ("OBJ", 2)
    assert info.value.problem == "GWBTAB.csv: lookup key occurs more than once"


def test_join_key_column_missing_from_the_table(tmp_path):
    data = tmp_path / "d"
    _addresses(data)
    text = ADDRESSES.replace('on = { address_id = "OBJ" }', 'on = { OBJECT = "OBJ" }')
    with pytest.raises(InputError) as info:
        read_table(data, "addresses", _mapping(tmp_path, text))
    assert (info.value.column, info.value.n_rows) == ("OBJECT", None)


def test_stacked_yearly_files_with_the_year_from_the_name_and_a_two_key_join(tmp_path):
    data = tmp_path / "d"
    _csv(data, "INPA2022", pd.DataFrame({"RIN": [1, 2], "HKW": [9, 2]}))
    _csv(data, "INPA2023", pd.DataFrame({"RIN": [1], "HKW": [9]}))
    _csv(data, "INHA2022", pd.DataFrame({"HKW": [9, 2], "Q": [3, 1]}))
    _csv(data, "INHA2023", pd.DataFrame({"HKW": [9], "Q": [5]}))
    m = _mapping(
        tmp_path,
        """
[tables.household_income]
file = "INPA*"
from_file_name = { year = '(\\d{4})' }
columns = { rinpersoon = "RIN" }
[[tables.household_income.join]]
file = "INHA*"
from_file_name = { JAAR = '\\d{4}' }
on = { HKW = "HKW", year = "JAAR" }
fill = { income_group = "Q" }
""",
    )
    raw = read_table(data, "household_income", m)
    got = sorted(
        zip(raw["rinpersoon"].astype(int), raw["year"].astype(int), raw["income_group"].astype(int), strict=True)
    )
    assert got == [(1, 2022, 3), (1, 2023, 5), (2, 2022, 1)]
    assert "HKW" not in raw.columns  # a join key outside the contract is used up by the join


def test_parts_inherit_the_table_keys_and_set_their_constants(tmp_path):
    data = td.write_delivery(tmp_path / "d", td.base_tables(), None)
    (data / "debt.parquet").unlink()
    d = td.base_tables()["debt"]
    for kind, stem in (("wsnp", "WSNP"), ("minnelijk", "MSNP")):
        rows = d[d["debt_type"] == kind].drop(columns="debt_type")
        _csv(data, stem, rows.rename(columns={"date_start": "BEGIN"}).assign(EXTRA="x"))
    text = """
[tables.debt]
columns = { date_start = "BEGIN" }
drop = ["EXTRA"]
[[tables.debt.parts]]
file = "WSNP"
constants = { debt_type = "wsnp" }
[[tables.debt.parts]]
file = "MSNP"
constants = { debt_type = "minnelijk" }
"""
    got = read_delivery(data, _mapping(tmp_path, text), ContractConfig())["debt"]
    want = read_delivery(
        td.write_delivery(tmp_path / "w", td.base_tables(), None), load_mapping(None), ContractConfig()
    )
    pd.testing.assert_frame_equal(got, want["debt"])
    for f in ("WSNP.csv", "MSNP.csv"):
        (data / f).unlink()
    with pytest.raises(InputError, match=r"no file of its parts \(WSNP, MSNP\)"):
        read_delivery(data, _mapping(tmp_path, text), ContractConfig())


def test_file_name_without_the_pattern(tmp_path):
    data = tmp_path / "d"
    _csv(data, "VSVoud", pd.DataFrame({"rinpersoon": [1], "vsv_date": ["20200101"]}))
    m = _mapping(tmp_path, "[tables.vsv]\nfile = 'VSV*'\nfrom_file_name = { JAAR = '(\\d{4})' }\n")
    with pytest.raises(InputError) as info:
        read_table(data, "vsv", m)
    assert (info.value.column, info.value.problem) == (
        "JAAR",
        "VSVoud.csv: the file name does not match from_file_name '(\\\\d{4})'",
    )


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            "[tables.debt]\n[[tables.debt.parts]]\nconstants = { debt_type = 'wsnp' }\n",
            "m.toml: mapping.tables.debt.parts[0].file",
            "every part names its file",
        ),
        (
            "[tables.debt]\n[[tables.debt.parts]]\nfile = 'A'\nconstants = { soort = 'wsnp' }\n",
            "m.toml: mapping.tables.debt.parts[0].soort",
            "not a column of debt",
        ),
        (
            "[tables.debt]\ncolumns = { debt_type = 'S' }\n[[tables.debt.parts]]\nfile = 'A'\n"
            "constants = { debt_type = 'wsnp' }\n",
            "m.toml: mapping.tables.debt.parts[0]",
            "mapped more than once",
        ),
        (
            "[tables.addresses]\n[[tables.addresses.join]]\nfile = 'G'\nfill = { buurt_code = 'BC' }\n",
            "m.toml: mapping.tables.addresses.join[0].on",
            "at least one key column",
        ),
        (
            "[tables.addresses]\n[[tables.addresses.join]]\nfile = 'G'\non = { a = 'b' }\nfill = { buurt = 'BC' }\n",
            "m.toml: mapping.tables.addresses.join[0].fill.buurt",
            "not a column of addresses",
        ),
        (
            "[tables.addresses]\ncolumns = { buurt_code = 'BC' }\n[[tables.addresses.join]]\nfile = 'G'\n"
            "on = { a = 'b' }\nfill = { buurt_code = 'BC' }\n",
            "m.toml: mapping.tables.addresses.join[0].fill.buurt_code",
            "already mapped",
        ),
        (
            "[tables.addresses]\n[[tables.addresses.join]]\nfile = 'G'\non = { a = 'b' }\n"
            "fill = { buurt_code = 'BC' }\nyear = 'JAAR'\n",
            "m.toml: mapping.tables.addresses.join[0].date",
            "needs date and year or valid_from",
        ),
        (
            "[tables.addresses]\n[[tables.addresses.join]]\nfile = 'G'\non = { a = 'b' }\n"
            "fill = { buurt_code = 'BC' }\ndate = 'date_start'\nyear = 'J'\nvalid_from = 'V'\n",
            "m.toml: mapping.tables.addresses.join[0]",
            "either year or valid_from",
        ),
        (
            "[tables.addresses]\n[[tables.addresses.join]]\nfile = 'G'\non = { a = 'b' }\n"
            "fill = { buurt_code = 'BC' }\nmax_unmatched_share = 2\n",
            "m.toml: mapping.tables.addresses.join[0].max_unmatched_share",
            "must be in [0, 1]",
        ),
        (
            "[tables.vsv]\nfrom_file_name = { jaar = '(' }\n",
            "m.toml: mapping.tables.vsv.from_file_name.jaar",
            "not a regular expression",
        ),
        (
            "[tables.debt]\n[[tables.debt.parts]]\nfile = 'A'\n[[tables.debt.parts.join]]\nfile = 'B'\n",
            "m.toml: mapping.tables.debt.parts[0]",
            "no parts or join of its own",
        ),
    ],
)
def test_mapping_file_errors_for_stacks_parts_and_joins(tmp_path, text, key, problem):
    with pytest.raises(ConfigError) as info:
        _mapping(tmp_path, text)
    assert info.value.key == key
    assert problem in info.value.problem


def test_text_keys_match_with_whole_numbers_written_otherwise(tmp_path):
    # one key is not a number ("G7"): keys compare as text, "0011" = "11.0" = "11"
    data = tmp_path / "d"
    a, b, _ = td.buurten()[:3]
    _csv(
        data,
        "ADRES",
        pd.DataFrame({"RIN": [1, 2], "OBJ": ["0011", "G7"], "BEGIN": ["20190501", "20200101"], "EINDE": ["", ""]}),
    )
    _csv(data, "GWBTAB", pd.DataFrame({"OBJ": ["G7", "11.0"], "BC": [b, a]}))
    exact = VALIDITY.replace('date = "date_start"\nvalid_from = "VAN"\nvalid_to = "TOT"\n', "")
    raw = read_table(data, "addresses", _mapping(tmp_path, exact))
    assert raw["buurt_code"].astype(str).tolist() == [a, b]


# --- the time-valid join against a brute-force reference ------------------------------------
_DAY0 = pd.Timestamp("2015-01-01")


@st.composite
def _periods_and_dates(draw):
    """Per key a chain of periods (gaps allowed, a shared boundary day allowed, last maybe open)
    and table rows with keys (some absent from the lookup) and dates."""
    rows = []
    for key in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, 30))
        for i in range(draw(st.integers(1, 4))):
            length = draw(st.integers(0, 40))  # 0: a period of one day
            open_end = draw(st.booleans())
            rows.append((key, start, None if open_end else start + length, f"k{key}p{i}"))
            if open_end:
                break
            # 0: the next period starts on this one's end day (not after a one-day period: that
            # would give two periods starting on the same day, which the join refuses)
            start += length + draw(st.integers(1 if length == 0 else 0, 5))
    table = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 200)), min_size=1, max_size=30))
    return rows, table


def _reference(periods, key, day):
    """The row valid on ``day``: the latest start <= day whose end (if any) is >= day."""
    hits = [p for p in periods if p[0] == key and p[1] <= day and (p[2] is None or day <= p[2])]
    return max(hits, key=lambda p: p[1])[3] if hits else None


@given(_periods_and_dates())
def test_validity_join_equals_a_brute_force_lookup(case):
    periods, rows = case
    day = lambda n: _DAY0 + pd.Timedelta(days=n)  # noqa: E731
    lookup = pd.DataFrame(
        {
            "K": [p[0] for p in periods],
            "VAN": [day(p[1]).strftime("%Y%m%d") for p in periods],
            "TOT": ["" if p[2] is None else day(p[2]).strftime("%Y%m%d") for p in periods],
            "V": [p[3] for p in periods],
        }
    )
    table = pd.DataFrame({"key": [str(k) for k, _ in rows], "d": [day(n) for _, n in rows]})
    j = JoinMapping(
        file="L", on={"key": "K"}, fill={"v": "V"}, date="d", valid_from="VAN", valid_to="TOT", max_unmatched_share=1.0
    )
    files = pd.Series(["L.csv"] * len(lookup)).to_numpy(dtype=object)
    got, n_dropped = _join(table, "t", j, lookup, "L.csv", files)
    want = [(k, n, _reference(periods, k, n)) for k, n in rows]
    kept = [w for w in want if w[2] is not None]
    assert n_dropped == len(want) - len(kept)
    assert list(zip(got["key"].astype(int), (got["d"] - _DAY0).dt.days, got["v"], strict=True)) == kept
