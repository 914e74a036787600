"""CLI conventions: the result on stdout, progress and notes on stderr; ``--quiet`` and
``--json`` (one shared definition); help written for users; no third-party banner on stdout."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import contract_testdata as td
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from aanwas.cli import app

runner = CliRunner()

#: Commands a script would use: every one takes --quiet and --json.
SCRIPTED = (
    "synth",
    "validate",
    "features",
    "train",
    "tune",
    "retrain",
    "promote",
    "audit",
    "report",
    "monitor",
    "export",
    "bench",
    "check",
)

VALIDATE_KEYS = {"data", "valid", "observation_end", "tables", "orphans_dropped", "unmatched_dropped"}
TABLE_KEYS = {"table", "rows", "persons", "orphans", "first_date", "last_date"}


@pytest.fixture
def orphan_delivery(tmp_path: Path) -> Path:
    """A valid delivery with one tolerated orphan row: a summary on stdout and a note on stderr."""
    tables = td.base_tables()
    tables["halt"].loc[1, "rinpersoon"] = 100000999
    return td.write_delivery(tmp_path / "data", tables, td.base_interventions())


ORPHANS = ["--set", "contract.max_orphan_share=0.5"]


def test_validate_summary_on_stdout_note_on_stderr(orphan_delivery: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(orphan_delivery), *ORPHANS])
    assert result.exit_code == 0, result.output
    assert "observation end 2024-12-31" in result.stdout
    for table in ("persons", "halt", "interventions"):
        assert table in result.stdout
    note = "1 rows whose pseudonym is not in persons were dropped"
    assert note in " ".join(result.stderr.split())
    assert note not in " ".join(result.stdout.split())
    assert "observation end" not in result.stderr


def test_validate_json_is_one_document_with_the_documented_keys(orphan_delivery: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(orphan_delivery), "--json", *ORPHANS])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stdout holds the document and nothing else
    assert set(doc) == VALIDATE_KEYS
    assert doc["valid"] is True and doc["observation_end"] == "2024-12-31"
    assert doc["orphans_dropped"] == 1
    halt = next(t for t in doc["tables"] if t["table"] == "halt")
    assert set(halt) == TABLE_KEYS and halt["orphans"] == 1
    iv = next(t for t in doc["tables"] if t["table"] == "interventions")
    assert iv["persons"] is None  # no persons in the registry: null, not NaN
    assert td.looks_like_pseudonym_free(result.stdout)
    # the validate --help text names these keys: keep them in step
    helptext = " ".join(runner.invoke(app, ["validate", "--help"]).stdout.split())
    assert all(key in helptext for key in VALIDATE_KEYS)


def test_quiet_leaves_stderr_empty_on_success(orphan_delivery: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(orphan_delivery), "--quiet", *ORPHANS])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "observation end 2024-12-31" in result.stdout


def test_error_is_one_line_on_stderr_exit_2_even_with_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(tmp_path / "missing"), "--json", "--quiet"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aanwas: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_quiet_and_json_are_one_shared_definition() -> None:
    """Every scripted command takes --quiet/-q and --json, from the same annotated types."""
    from aanwas import cli

    group = get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name in SCRIPTED:
        cmd = group.commands[name]
        opts = {o for p in cmd.params for o in p.opts}
        assert {"--quiet", "-q", "--json"} <= opts, name
        fn = cmd.callback
        sig = inspect.signature(inspect.unwrap(fn)) if fn is not None else None
        assert sig is not None
        assert sig.parameters["quiet"].annotation in ("QuietOpt", cli.QuietOpt), name
        assert sig.parameters["as_json"].annotation in ("JsonOpt", cli.JsonOpt), name


def test_help_speaks_to_users_and_documents_exit_codes() -> None:
    top = " ".join(runner.invoke(app, ["--help"]).stdout.split())
    assert "composition root" not in top
    assert "Exit codes: 0" in top and "2 bad input" in top
    report = " ".join(runner.invoke(app, ["report", "--help"]).stdout.split())
    assert "OUT/<model>-v<version>/review_pack.html" in report and "OUT/report.html" not in report
    export = " ".join(runner.invoke(app, ["export", "--help"]).stdout.split())
    assert "latest period also gets the trends" in export
    assert "dashboard for every period" not in export


def test_the_disclosure_audit_lp_prints_no_highs_banner(capfd: pytest.CaptureFixture[str]) -> None:
    """The export's LP audit runs HiGHS with its output switched off (``output_flag``): with
    HiGHS's default it prints 'Running HiGHS ...' on the process's stdout (file descriptor 1)."""
    import numpy as np
    import scipy.sparse as sp

    from monitoring.publishing.disclosure import _Block

    block = _Block(sp.csc_matrix(np.array([[1.0, 1.0]])), np.array([5.0]), np.array([5.0]), np.array([5.0, 5.0]))
    x = block.solve(np.array([1.0, 0.0]))  # minimise x0 subject to x0 + x1 = 5, 0 <= x <= 5
    assert x.tolist() == pytest.approx([0.0, 5.0])
    out, _ = capfd.readouterr()
    assert out == ""


@pytest.mark.slow
def test_export_stdout_is_the_result_only(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A small chain through the CLI (synthetic region at 3 %, one band, gemeente level):
    ``export --json`` prints one JSON document naming the period folders, and neither HiGHS
    nor MLflow, Optuna or LightGBM print anything on stdout (file descriptor 1 included)."""
    sets = [
        *("--set", 'training.bands=["13-19"]'),
        *("--set", "training.tuning.enabled=false"),
        *("--set", "training.mlflow.log_baseline_models=false"),
        *("--set", "training.promotion.run_evaluation_gates=false"),
        *("--set", "training.lightgbm.n_estimators=100"),
        *("--set", 'monitoring.aggregate.finest_level="gemeente"'),
        *("--set", "monitoring.disclosure.audit_jobs=1"),
    ]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    work, out = tmp_path / "work", tmp_path / "exports"
    steps = [
        ["synth", "--scale", "0.03", "--out", str(tmp_path / "syn")],
        ["features", "--data", str(tmp_path / "syn" / "raw"), "--work", str(work)],
        ["train", "--work", str(work), "--mlflow-uri", uri],
    ]
    for args in steps:
        step = runner.invoke(app, [*args, "--quiet", *sets])
        assert step.exit_code == 0, step.output
    capfd.readouterr()
    result = runner.invoke(
        app, ["export", "--work", str(work), "--mlflow-uri", uri, "--out", str(out), "--json", *sets]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"out", "written", "latest"}
    assert doc["written"] == sorted(str(p) for p in out.iterdir() if not p.name.startswith("."))
    assert doc["latest"] == doc["written"][-1]
    fd_out, _ = capfd.readouterr()
    assert fd_out == "" and "Running HiGHS" not in result.stdout
    assert "LP audit" in result.stderr  # the export's summary is a note, on stderr
