"""A refresh reuses what the work directory keeps per reference date and gives the cold result.

``aanwas export`` keeps each reference date's area sums (scores summed per area), each
period's disclosure result and the delivery's area-level aggregates in the work directory;
a refresh in which one reference date's feature rows changed scores and certifies that date
only. Its exports must be byte-identical to a cold export of the changed data, and a repeat
byte-identical to the run before it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.config import load_config
from aanwas.stages.demo import DemoLayout
from aanwas.stages.export import DELIVERY_STORE
from aanwas.stages.features import FEATURES_FILE, SUMMARY_FILE, VALIDATED_DELIVERY, delivery_digest
from aanwas.stages.steps import AREA_SUMS_STORE, DISCLOSURE_STORE
from features.contract import INTERVENTIONS, TABLES
from features.sources import readers
from monitoring.effects.interventions import PANEL_TABLES

#: What the features stage leaves in a work directory (no stored export results).
WORK_FILES = (FEATURES_FILE, "audit.parquet", "features_summary.json", "train_summary.json")


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def alter_latest_date(features: Path, column: str = "ind_prior_suspect", rows: int = 300) -> None:
    """Rewrite the feature table with ``column`` set to 1 in the first ``rows`` rows of the
    newest reference date; every other row group is written back unchanged, one row group
    per row group (as the features stage writes them)."""
    pf = pq.ParquetFile(features)
    ref = pf.schema_arrow.get_field_index("ref_date")
    latest = max(pf.metadata.row_group(i).column(ref).statistics.max for i in range(pf.num_row_groups))
    tmp = features.with_suffix(".tmp")
    left = rows
    with pq.ParquetWriter(tmp, pf.schema_arrow) as writer:
        for i in range(pf.num_row_groups):
            table = pf.read_row_group(i)
            if pf.metadata.row_group(i).column(ref).statistics.max == latest and left > 0:
                values = table.column(column).to_numpy(zero_copy_only=False).copy()
                k = min(left, len(values))
                values[:k] = 1.0
                left -= k
                pos = table.schema.get_field_index(column)
                table = table.set_column(pos, table.schema.field(pos), pa.array(values, table.schema.field(pos).type))
            writer.write_table(table, row_group_size=table.num_rows)
    tmp.replace(features)


def _stored(work: Path, name: str) -> set[str]:
    return {p.name for p in (work / name).glob("*.bin")}


def test_refresh_of_one_date_equals_a_cold_export(demo_dir: Path, demo_args: list[str], tmp_path: Path) -> None:
    layout = DemoLayout(demo_dir)
    settings = demo_args

    def fresh_work(name: str) -> Path:
        work = tmp_path / name
        work.mkdir()
        for f in WORK_FILES:
            shutil.copy2(layout.work / f, work / f)
        return work

    def export(work: Path, out: str) -> Path:
        args = ["export", "--work", str(work), "--out", str(tmp_path / out), "--data", str(layout.raw)]
        result = CliRunner().invoke(app, [*args, "--mlflow-uri", layout.mlflow_uri, *settings])
        assert result.exit_code == 0, f"{result.output} {result.exception!r}"
        return tmp_path / out

    work = fresh_work("work")
    cold = _tree(export(work, "cold"))
    sums = _stored(work, AREA_SUMS_STORE)
    assert len(sums) >= 4 and _stored(work, DELIVERY_STORE)  # one entry per reference date
    assert _tree(export(work, "repeat")) == cold
    assert _stored(work, AREA_SUMS_STORE) == sums  # a repeat stores nothing new

    alter_latest_date(work / FEATURES_FILE)
    before = _stored(work, DISCLOSURE_STORE)
    refreshed = _tree(export(work, "refresh"))
    assert len(_stored(work, AREA_SUMS_STORE) - sums) == 1  # only the changed date was scored
    assert _stored(work, DISCLOSURE_STORE) - before  # and certified again

    changed = fresh_work("changed")
    shutil.copy2(work / FEATURES_FILE, changed / FEATURES_FILE)
    assert _tree(export(changed, "cold-changed")) == refreshed
    assert refreshed != cold  # the change reached the exports
    latest = max(p.split("/")[0] for p in cold)
    assert {p for p in cold if cold[p] != refreshed.get(p)} >= {f"{latest}/area_risk.csv"}
    assert np.all([not p.startswith(AREA_SUMS_STORE) for p in refreshed])  # nothing kept leaks out


def test_delivery_validated_by_the_features_stage_is_read_in_part_with_the_same_exports(
    demo_dir: Path, demo_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery whose every table passed the features stage (same bytes, mapping, contract)
    is read by the export for the outcome panel's tables only; its exports equal those of a
    whole read. A changed file (the digest no longer matches) means a whole read again, so a
    broken table the panel does not use still ends the export with one error, nothing written."""
    layout = DemoLayout(demo_dir)
    read: list[str] = []
    real_read_table = readers.read_table

    def recording(data_dir: Path, name: str, mapping: readers.DeliveryMapping) -> pd.DataFrame | None:
        read.append(name)
        return real_read_table(data_dir, name, mapping)

    monkeypatch.setattr(readers, "read_table", recording)

    def export(work: Path, raw: Path, out: str) -> tuple[int, str]:
        args = ["export", "--work", str(work), "--out", str(tmp_path / out), "--data", str(raw)]
        result = CliRunner().invoke(app, [*args, "--mlflow-uri", layout.mlflow_uri, *demo_args])
        return result.exit_code, result.output

    def fresh_work(name: str, validated: str | None) -> Path:
        work = tmp_path / name
        work.mkdir()
        for f in WORK_FILES:
            shutil.copy2(layout.work / f, work / f)
        summary = json.loads((work / SUMMARY_FILE).read_text())
        (work / SUMMARY_FILE).write_text(json.dumps({**summary, VALIDATED_DELIVERY: validated}))
        return work

    digest = delivery_digest(layout.raw, None, load_config(None, demo_args[1::2]).contract)
    assert digest is not None
    code, output = export(fresh_work("work-whole", None), layout.raw, "whole")
    assert code == 0, output
    assert set(read) > set(PANEL_TABLES)
    read.clear()
    code, output = export(fresh_work("work-part", digest), layout.raw, "part")
    assert code == 0, output
    assert sorted(read) == sorted([*PANEL_TABLES, INTERVENTIONS.name])  # the registry is always read
    assert _tree(tmp_path / "part") == _tree(tmp_path / "whole")

    changed = tmp_path / "raw"
    shutil.copytree(layout.raw, changed)
    unused = next(t for t in TABLES if t not in PANEL_TABLES and (changed / f"{t}.parquet").exists())
    (changed / f"{unused}.parquet").write_bytes(b"not parquet")
    read.clear()
    code, output = export(fresh_work("work-changed", digest), changed, "broken")
    assert code == 2 and unused in output and len(output.strip().splitlines()) == 1
    assert unused in read and not (tmp_path / "broken").exists()
