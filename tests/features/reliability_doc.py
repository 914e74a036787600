"""Regenerate the case table of docs/reliability.md from the bad-input catalogue (not a test).

Runs every case of ``contract_testdata.CASES`` through ``aanwas validate`` and writes one
table row per case with the exact line the program prints (DIR = the case's temporary
directory). tests/test_cli_validate.py checks that the doc equals this output::

    PYTHONPATH=$PWD python tests/features/reliability_doc.py          # rewrite the table
    PYTHONPATH=$PWD python tests/features/reliability_doc.py --check  # exit 1 when stale
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import contract_testdata as td

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
HEADER = "| # | case | what is wrong | message |\n|---|------|---------------|---------|\n"


def case_line(case) -> str:  # type: ignore[no-untyped-def]
    """The one stderr line ``aanwas validate`` prints for ``case`` (temporary dir as DIR)."""
    from typer.testing import CliRunner

    from aanwas.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        result = CliRunner().invoke(app, ["validate", *case.build(Path(tmp))])
        lines = result.stderr.splitlines()
        if result.exit_code != 2 or len(lines) != 1:
            raise AssertionError(f"{case.id}: exit {result.exit_code}, stderr {result.stderr!r}")
        return td.normalise(lines[0], Path(tmp))


def table(lines: dict[str, str] | None = None) -> str:
    """The markdown table of every case (``lines``: case id -> line, computed when absent)."""
    rows = []
    for i, case in enumerate(td.CASES, start=1):
        line = lines[case.id] if lines is not None else case_line(case)
        rows.append(f"| {i} | `{case.id}` | {case.what} | `{line}` |\n")
    return HEADER + "".join(rows)


def replace_table(doc: str, new_table: str) -> str:
    """``doc`` with the case table (header to the first blank line) replaced by ``new_table``."""
    start = doc.index(HEADER)
    end = doc.index("\n\n", start) + 1
    return doc[:start] + new_table + doc[end:]


def main(argv: list[str]) -> int:
    doc = DOC.read_text(encoding="utf-8")
    new = replace_table(doc, table())
    if "--check" in argv:
        return 0 if new == doc else 1
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
