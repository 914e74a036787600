"""The output check finds pseudonyms in every encoding it claims, and stays quiet otherwise."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from monitoring.publishing.outputcheck import scan_outputs

PSEUDONYMS = np.array([123456789, 987654321, 555000111], dtype="int64")


def test_clean_aggregates_pass(tmp_path):
    pd.DataFrame({"area_code": ["GM0363"], "n_persons": [120], "risk_mean": [0.123456789]}).to_csv(
        tmp_path / "a.csv", index=False
    )
    (tmp_path / "model.txt").write_text("threshold=0.987654321\nleaf_value=1.555000111e-05\n")
    assert scan_outputs([tmp_path], PSEUDONYMS) == []


def test_finds_pseudonym_in_text_csv_parquet_binary_and_sqlite(tmp_path):
    (tmp_path / "log.txt").write_text("scored person 987654321 ok")
    pd.DataFrame({"x": ["a", "b"], "id": [1, 123456789]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"rinpersoon": [555000111]}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" + np.array([987654321], "<i8").tobytes() + b"\x07")
    con = sqlite3.connect(tmp_path / "mlflow.db")
    con.execute("create table params (key text, value text)")
    con.execute("insert into params values ('example', '[123456789, 1]')")
    con.commit()
    con.close()
    found: dict[str, str] = {}
    for f in scan_outputs([tmp_path], PSEUDONYMS):
        key = f.path.split("/")[-1]
        found[key] = found.get(key, "") + f.problem + "; "
    assert "log.txt" in found
    assert "t.csv" in found
    assert "t.parquet" in found and "person-level column" in found["t.parquet"]
    assert "blob.bin" in found
    assert any(k.startswith("mlflow.db") for k in found)
    # findings never repeat the value itself
    assert not any("123456789" in p or "987654321" in p for p in found.values())


def test_flags_a_table_with_about_one_row_per_person(tmp_path):
    pd.DataFrame({"score": np.linspace(0, 1, 5000)}).to_parquet(tmp_path / "scores.parquet")
    found = scan_outputs([tmp_path], PSEUDONYMS, n_persons=6000)
    assert any("one per person" in f.problem for f in found)


def test_a_table_whose_rows_each_count_several_persons_is_not_one_per_person(tmp_path):
    # a trend table of a small population: more rows than half the persons, but every row
    # states it stands for >= 10 young people (blank where suppressed)
    n = np.where(np.arange(3000) % 3 == 0, np.nan, 10 + np.arange(3000) % 50)
    pd.DataFrame({"value": np.linspace(0, 1, 3000), "n_persons": n}).to_csv(tmp_path / "trends.csv", index=False)
    assert scan_outputs([tmp_path], PSEUDONYMS, n_persons=4000) == []
    # the same table with rows that each stand for one person is flagged
    pd.DataFrame({"value": np.linspace(0, 1, 3000), "n_persons": 1}).to_csv(tmp_path / "trends.csv", index=False)
    assert any("one per person" in f.problem for f in scan_outputs([tmp_path], PSEUDONYMS, n_persons=4000))
