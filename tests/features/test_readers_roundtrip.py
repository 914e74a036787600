"""Reader round trips: the same typed tables as Parquet, CSV and SPSS .sav read back equal.

Also CSV dialects (BOM, Windows-1252, ';'), Parquet physical types, SPSS date storage
(DATETIME, DATE, YYYYMMDD numbers) and the CBS example mapping on CBS-shaped files.
"""

from __future__ import annotations

from pathlib import Path

import contract_testdata as td
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.contract import TABLES, ContractConfig, validate_delivery
from features.geography import load_geography
from features.sources.readers import DeliveryMapping, load_mapping, read_delivery, read_table

ROOT = Path(__file__).resolve().parents[2]


GEO = load_geography()
CFG = ContractConfig()


@pytest.fixture(scope="module")
def expected():
    return validate_delivery(
        td.base_tables(), CFG, GEO, interventions=td.base_interventions(), observation_end=td.OBSERVATION_END
    )


def _assert_same(got, want, sort_tables=()):
    assert set(got.tables) == set(want.tables)
    for name in want.tables:
        g, w = got[name], want[name]
        if name in sort_tables:
            key = list(TABLES[name].key)
            g = g.sort_values(key).reset_index(drop=True)
            w = w.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(g, w, obj=name)
    if want.interventions is not None:
        pd.testing.assert_frame_equal(got.interventions, want.interventions, obj="interventions")
    assert got.observation_end == want.observation_end


@pytest.mark.parametrize("fmt", td.FORMATS)
def test_round_trip_per_format(fmt, tmp_path, expected):
    data = td.write_delivery(tmp_path / fmt, td.base_tables(), td.base_interventions(), fmt=fmt)
    _assert_same(read_delivery(data, load_mapping(None), CFG), expected)


def test_mixed_formats_in_one_delivery(tmp_path, expected):
    data = tmp_path / "mixed"
    data.mkdir()
    for i, (name, df) in enumerate(td.base_tables().items()):
        td.write_frame(df, data / f"{name}.{td.FORMATS[i % 3]}")
    td.write_delivery(data, {}, td.base_interventions())
    _assert_same(read_delivery(data, load_mapping(None), CFG), expected)


def test_identity_mapping_file_equals_no_mapping():
    assert load_mapping(ROOT / "conf" / "mapping.toml") == load_mapping(None) == DeliveryMapping()


# --- SPSS dates: how they survive ------------------------------------------------------------


@pytest.mark.parametrize("storage", ["datetime", "date", "yyyymmdd"])
def test_sav_dates_in_every_storage(storage, tmp_path, expected):
    import pyreadstat

    data = td.write_delivery(tmp_path / storage, td.base_tables(), td.base_interventions(), fmt="parquet")
    df = td.base_tables()["suspects"]
    if storage == "datetime":  # SPSS DATETIME (pandas datetime64; milliseconds, see below)
        df["registration_date"] = df["registration_date"].astype("datetime64[ms]")
        formats = None
    elif storage == "date":  # SPSS DATE11 from Python dates
        df["registration_date"] = df["registration_date"].dt.date.astype(object)
        formats = None
    else:  # CBS style: a number 20220202 (F8.0)
        df["registration_date"] = df["registration_date"].dt.strftime("%Y%m%d").astype("float64")
        formats = {"registration_date": "F8.0"}
    (data / "suspects.parquet").unlink()
    pyreadstat.write_sav(df.astype({"offence": "str"}), str(data / "suspects.sav"), variable_format=formats)
    _assert_same(read_delivery(data, load_mapping(None), CFG), expected)


def test_sav_from_second_resolution_needs_conversion(tmp_path):
    """pyreadstat 1.3.7 writes datetime64[s] (the contract's dtype) as 1970-01-01; the test
    writer converts to milliseconds. If this starts failing, pyreadstat fixed it."""
    import pyreadstat

    df = td.base_tables()["vsv"]
    pyreadstat.write_sav(df, str(tmp_path / "vsv.sav"))
    back, _ = pyreadstat.read_sav(str(tmp_path / "vsv.sav"))
    if (back["vsv_date"] == df["vsv_date"]).all():
        pytest.skip("pyreadstat now writes second-resolution dates correctly")
    assert (back["vsv_date"].dt.year == 1970).all()


# --- CSV dialects and Parquet physical types -------------------------------------------------


def test_csv_with_bom_quotes_and_spaces_in_header(tmp_path, expected):
    data = td.write_delivery(tmp_path / "d", td.base_tables(), td.base_interventions())
    (data / "vsv.parquet").unlink()
    text = (
        td.base_tables()["vsv"]
        .to_csv(index=False, date_format="%Y%m%d")
        .replace("rinpersoon,vsv_date", '"rinpersoon", vsv_date ')
    )
    (data / "vsv.csv").write_bytes(text.encode("utf-8-sig"))
    _assert_same(read_delivery(data, load_mapping(None), CFG), expected)


def test_csv_windows_1252_semicolon_and_day_first_dates(tmp_path, expected):
    data = tmp_path / "d"
    data.mkdir()
    for name, df in td.base_tables().items():
        df.to_csv(data / f"{name}.csv", index=False, sep=";", date_format="%d-%m-%Y", encoding="cp1252")
    td.base_interventions().to_csv(
        data / "interventions.csv", index=False, sep=";", date_format="%d-%m-%Y", encoding="cp1252"
    )
    (data / "delivery.toml").write_text("observation_end = 2024-12-31\n", encoding="utf-8")
    (tmp_path / "m.toml").write_text(
        'encoding = "cp1252"\ndelimiter = ";"\ndate_format = "%d-%m-%Y"\n', encoding="utf-8"
    )
    got = read_delivery(data, load_mapping(tmp_path / "m.toml"), CFG)
    _assert_same(got, expected)
    assert got.interventions["name"].iloc[1] == "Jongerenwerk één – plus"


def test_parquet_physical_types_date32_int32_dictionary(tmp_path, expected):
    data = td.write_delivery(tmp_path / "d", td.base_tables(), td.base_interventions())
    df = td.base_tables()["enrolments"]
    table = pa.table(
        {
            "rinpersoon": pa.array(df["rinpersoon"], pa.int32()),
            "school_id": pa.array(df["school_id"].astype("float64")),  # whole floats are fine
            "level": pa.array(df["level"]).dictionary_encode(),
            "date_start": pa.array(df["date_start"].dt.date, pa.date32()),
            "date_end": pa.array(df["date_end"].dt.date, pa.date32()),
        }
    )
    pq.write_table(table, data / "enrolments.parquet")
    _assert_same(read_delivery(data, load_mapping(None), CFG), expected)


# --- the CBS example mapping on CBS-shaped files ---------------------------------------------


def test_cbs_example_mapping_reads_cbs_shaped_files(tmp_path, expected):
    data = td.write_cbs_delivery(tmp_path)
    got = read_delivery(data, load_mapping(ROOT / "conf" / "mapping_cbs_example.toml"), CFG)
    _assert_same(got, expected, sort_tables=tuple(TABLES))  # stacked files and parts: another order


def test_cbs_example_without_birth_day_uses_the_first_of_the_month(tmp_path):
    import pyreadstat

    data = td.write_cbs_delivery(tmp_path)
    persons, _ = pyreadstat.read_sav(str(data / "GBAPERSOON2024TABV1.sav"))
    pyreadstat.write_sav(persons.drop(columns=["GBAGEBOORTEDAG"]), str(data / "GBAPERSOON2024TABV1.sav"))
    text = (ROOT / "conf" / "mapping_cbs_example.toml").read_text(encoding="utf-8")
    text = text.replace(', day = "GBAGEBOORTEDAG"', "")
    (tmp_path / "m.toml").write_text(text, encoding="utf-8")
    raw = read_table(data, "persons", load_mapping(tmp_path / "m.toml"))
    want = td.base_tables()["persons"]["birth_date"].dt.to_period("M").dt.start_time
    assert raw["birth_date"].tolist() == want.tolist()


def test_synthetic_delivery_reads_back(tmp_path):
    from aanwas.stages.synth import write_synth
    from features.config import SynthConfig
    from features.sources.synth import generate

    res = generate(SynthConfig(scale=0.001, seed=3))
    write_synth(res, tmp_path)
    got = read_delivery(tmp_path / "raw", load_mapping(None), CFG)
    assert got.row_counts() == {name: len(df) for name, df in res.raw.items()}
    assert got.observation_end == res.observation_end
    assert got.orphans_dropped == {}
    assert np.array_equal(got["persons"]["rinpersoon"].to_numpy(), res.raw["persons"]["rinpersoon"].to_numpy())
