"""``aanwas check --exports DIR``: the output check on a real export directory, and
``aanwas bench`` with the shared --quiet/--json options."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app

runner = CliRunner()
PSEUDONYMS = [123456789, 223456789, 323456789]


@pytest.fixture
def delivery(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"rinpersoon": PSEUDONYMS}).to_parquet(raw / "persons.parquet")
    return raw


def _exports(tmp_path: Path, leak: bool) -> Path:
    out = tmp_path / "exports" / "2024-01-01"
    out.mkdir(parents=True)
    pd.DataFrame({"area_code": ["GM0001", "GM0002"], "n_young": [120, 95]}).to_csv(out / "area_risk.csv", index=False)
    if leak:
        (out / "notes.txt").write_text(f"see case {PSEUDONYMS[1]}\n")
    return tmp_path / "exports"


def test_clean_exports_exit_0_and_say_so(tmp_path: Path, delivery: Path) -> None:
    res = runner.invoke(app, ["check", "--exports", str(_exports(tmp_path, leak=False)), "--data", str(delivery)])
    assert res.exit_code == 0, res.output
    said = "output check: 1 file(s) scanned, nothing found: no pseudonym and no person-level table"
    assert res.stdout.strip() == said


def test_a_pseudonym_in_the_exports_is_found_exit_1(tmp_path: Path, delivery: Path) -> None:
    exports = _exports(tmp_path, leak=True)
    res = runner.invoke(app, ["check", "--exports", str(exports), "--data", str(delivery), "--json"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["clean"] is False and doc["files_scanned"] == 2
    assert doc["findings"] == [
        {"path": str(exports / "2024-01-01" / "notes.txt"), "problem": "1 pseudonym occurrence(s) in the file"}
    ]
    assert str(PSEUDONYMS[1]) not in res.stdout  # the finding names the file, never the value
    plain = runner.invoke(app, ["check", "--exports", str(exports), "--data", str(delivery)])
    assert plain.exit_code == 1 and "do NOT release" in plain.stdout and "FOUND " in plain.stdout


def test_bad_input_exit_2_one_line(tmp_path: Path, delivery: Path) -> None:
    res = runner.invoke(app, ["check", "--exports", str(tmp_path / "nope"), "--data", str(delivery)])
    assert res.exit_code == 2 and "output to check not found" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    exports = _exports(tmp_path, leak=False)
    res = runner.invoke(app, ["check", "--exports", str(exports), "--data", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "persons" in res.stderr
    res = runner.invoke(app, ["check", "--exports", str(exports), "--data", str(delivery), "--mlflow-uri", "http://x"])
    assert res.exit_code == 2 and "local SQLite store" in res.stderr


def test_bench_json_error_is_one_line_and_nothing_on_stdout(tmp_path: Path) -> None:
    res = runner.invoke(app, ["bench", "--out", str(tmp_path / "b"), "--stage", "nope", "--json", "--quiet"])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith("aanwas: error: ") and "unknown stage" in res.stderr
    assert not (tmp_path / "b").exists()
