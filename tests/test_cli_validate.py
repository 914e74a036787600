"""``aanwas validate``: a valid delivery prints its summary; every bad input ends in one line on
stderr, exit code 2 and nothing written; docs/reliability.md shows each case's exact line."""

from __future__ import annotations

from pathlib import Path

import contract_testdata as td
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.common.errors import AanwasError, ConfigError, InputError
from aanwas.config import load_config
from features.sources.readers import load_mapping, read_delivery

ROOT = Path(__file__).resolve().parents[1]


runner = CliRunner()


def _invoke(args: list[str], tmp_path: Path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = td.snapshot(tmp_path)
    result = runner.invoke(app, ["validate", *args])
    after = td.snapshot(tmp_path)
    assert after == before, "validate wrote or touched files"
    assert not any(cwd.iterdir())
    return result


def test_valid_delivery_prints_summary_and_writes_nothing(tmp_path, monkeypatch):
    data = td.write_delivery(tmp_path / "data", td.base_tables(), td.base_interventions())
    result = _invoke(["--data", str(data)], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "observation end 2024-12-31" in out
    for table in ("persons", "parent_child", "addresses", "household_income", "interventions"):
        assert table in out
    assert "2020-07-07" in out and "2022-02-02" in out  # suspects: first and last date
    assert td.looks_like_pseudonym_free(out)


def test_valid_delivery_with_the_cbs_example_mapping(tmp_path, monkeypatch):
    data = td.write_cbs_delivery(tmp_path)
    result = _invoke(
        ["--data", str(data), "--mapping", str(ROOT / "conf" / "mapping_cbs_example.toml")], tmp_path, monkeypatch
    )
    assert result.exit_code == 0, result.output


def test_tolerated_orphans_are_reported(tmp_path, monkeypatch):
    tables = td.base_tables()
    tables["halt"].loc[1, "rinpersoon"] = 100000999
    data = td.write_delivery(tmp_path / "data", tables, None)
    result = _invoke(["--data", str(data), "--set", "contract.max_orphan_share=0.5"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "1 rows whose pseudonym is not in persons were dropped" in " ".join(result.output.split())


def test_rows_without_a_lookup_row_within_the_tolerance_are_reported(tmp_path, monkeypatch):
    data = td.write_cbs_delivery(tmp_path)
    td._drop_lookup_object(data, "VSLGWB*TAB.csv", "RINOBJECTNUMMER", 44)  # the one row of object 44
    text = td.CBS_MAPPING.read_text(encoding="utf-8").replace("max_unmatched_share = 0.0", "max_unmatched_share = 0.1")
    (tmp_path / "m.toml").write_text(text, encoding="utf-8")
    result = _invoke(["--data", str(data), "--mapping", str(tmp_path / "m.toml")], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "1 rows of addresses found no lookup row and were dropped" in " ".join(result.output.split())


def _library_run(args: list[str]) -> None:
    """What ``aanwas validate`` does before printing: config, mapping, read + validate."""
    opts: dict[str, list[str]] = {}
    for flag, value in zip(args[::2], args[1::2], strict=False):
        opts.setdefault(flag, []).append(value)
    config = Path(opts["--config"][0]) if "--config" in opts else None
    cfg = load_config(config, opts.get("--set", []))
    mapping = load_mapping(Path(opts["--mapping"][0]) if "--mapping" in opts else None)
    read_delivery(Path(opts["--data"][0]), mapping, cfg.contract)


@pytest.fixture(scope="module")
def reliability_doc() -> str:
    return (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", td.CASES, ids=[c.id for c in td.CASES])
def test_bad_input_exit_code_2_one_line_nothing_written(case, tmp_path, monkeypatch, reliability_doc):
    args = case.build(tmp_path)
    before = td.snapshot(tmp_path)
    # the library: the error's own fields, exactly
    with pytest.raises(AanwasError) as info:
        _library_run(args)
    err = info.value
    if case.error == "config":
        assert isinstance(err, ConfigError)
        assert td.normalise(err.key, tmp_path).replace("DIR/", "") == case.table
    else:
        assert isinstance(err, InputError)
        assert (err.table, err.column, err.n_rows) == (case.table, case.column, case.n_rows)
    assert td.snapshot(tmp_path) == before
    # the command line: exit code 2, one line on stderr, nothing written
    result = _invoke(args, tmp_path, monkeypatch)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line == f"aanwas: error: {err}"
    assert line.startswith("aanwas: error: invalid " + ("config" if case.error == "config" else "input"))
    assert case.problem in line
    if case.error == "input":
        assert f"table '{case.table}'" in line
        if case.column:
            assert f"column '{case.column}'" in line
        if case.n_rows is not None:
            assert f"({case.n_rows} row" in line
    assert td.looks_like_pseudonym_free(line)
    # docs/reliability.md shows this case with exactly this line
    row = f"| `{case.id}` |"
    assert row in reliability_doc and f"`{td.normalise(line, tmp_path)}`" in reliability_doc, (
        f"docs/reliability.md is out of date for {case.id}: {td.normalise(line, tmp_path)}"
    )


def test_reliability_doc_has_no_stale_cases(reliability_doc):
    import re

    listed = set(re.findall(r"^\| \d+ \| `([a-z0-9-]+)` \|", reliability_doc, flags=re.M))
    assert listed == {c.id for c in td.CASES}


def test_reliability_doc_lists_every_case_in_catalogue_order(reliability_doc):
    """With the per-case line check above this makes the table equal to what
    ``python tests/features/reliability_doc.py`` generates."""
    import re

    rows = re.findall(r"^\| (\d+) \| `([a-z0-9-]+)` \| (.*?) \| `", reliability_doc, flags=re.M)
    assert [(int(n), cid, what) for n, cid, what in rows] == [
        (i, c.id, c.what) for i, c in enumerate(td.CASES, start=1)
    ], "regenerate: PYTHONPATH=$PWD python tests/features/reliability_doc.py"


def _digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", td.CASES, ids=[c.id for c in td.CASES])
def test_bad_input_leaves_an_existing_work_dir_byte_identical(case, tmp_path, monkeypatch):
    """``aanwas features`` (which writes the person-level cache) on a bad delivery, mapping or
    config: exit 2, one line, and the previous cache in WORK is byte-identical afterwards."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "features.parquet").write_bytes(b"previous feature table")
    (work / "audit.parquet").write_bytes(b"previous audit frame")
    (work / "features_summary.json").write_text('{"previous": true}\n')
    before = _digest(work)
    stamps = td.snapshot(work)
    args = case.build(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["features", *args, "--work", str(work)])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert _digest(work) == before
    assert td.snapshot(work) == stamps  # no temporary file left behind, nothing touched
