"""Hardening end to end (issue 8): reproducibility, the privacy promise under attack, bad
input against an existing export.

Runs on the shared demo run(s) of conftest.py (scale 0.005, seed 3, 2 tuning trials).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.stages.demo import DemoLayout
from monitoring.publishing.outputcheck import scan_outputs

BANDS = ("8-12", "13-19", "20-23")


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _pseudonyms(layout: DemoLayout) -> np.ndarray:
    return pd.read_parquet(layout.raw / "persons.parquet", columns=["rinpersoon"])["rinpersoon"].to_numpy()


def _n_young(layout: DemoLayout) -> int:
    ft = pd.read_parquet(layout.work / "features.parquet", columns=["ref_date"])
    return int(ft["ref_date"].value_counts().max())  # young people at one reference date


# --- reproducibility ----------------------------------------------------------------------------


def test_same_data_config_and_seed_give_byte_identical_exports(demo_dir: Path, demo_dir_again: Path) -> None:
    a, b = _tree(demo_dir / "exports"), _tree(demo_dir_again / "exports")
    assert len(a) >= 4 * 4  # >= 4 periods, each with csv, parquet, geojson and manifest
    assert sorted(a) == sorted(b)
    differ = [name for name in a if a[name] != b[name]]
    assert differ == [], f"not byte-identical: {differ}"


def test_same_inputs_give_the_same_synthetic_delivery_and_features(demo_dir: Path, demo_dir_again: Path) -> None:
    for sub in ("raw", "truth"):
        assert _tree(demo_dir / sub) == _tree(demo_dir_again / sub), sub
    a, b = demo_dir / "work" / "features.parquet", demo_dir_again / "work" / "features.parquet"
    if a.read_bytes() != b.read_bytes():  # equal files hold equal frames; compare the frames only
        # when the files differ (assert_frame_equal boxes every categorical value: ~16 s here)
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))


def _registered_metrics(layout: DemoLayout) -> dict[str, dict[str, float]]:
    """Per band: the metrics of the run behind the champion version, and the version's model metrics."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=layout.mlflow_uri, registry_uri=layout.mlflow_uri)
    out = {}
    for band in BANDS:
        version = client.get_model_version_by_alias(f"aanwas-{band}", "champion")
        run = client.get_run(version.run_id)
        metrics = {k: v for k, v in run.data.metrics.items() if "second" not in k and "time" not in k}
        out[band] = {"version": float(version.version), **metrics}
    return out


def test_same_data_config_and_seed_give_the_same_registered_model_metrics(demo_dir: Path, demo_dir_again: Path) -> None:
    a, b = _registered_metrics(DemoLayout(demo_dir)), _registered_metrics(DemoLayout(demo_dir_again))
    for band in BANDS:
        assert any(k.startswith(f"test/{band}/lightgbm/auc") for k in a[band]), sorted(a[band])[:20]
        assert a[band] == b[band], band


# --- privacy under attack -----------------------------------------------------------------------


def test_the_scan_covers_every_kind_of_output_and_finds_nothing(demo_dir: Path) -> None:
    layout = DemoLayout(demo_dir)
    store = demo_dir / "mlflow"
    files = [p for p in store.rglob("*") if p.is_file()]
    suffixes = {p.suffix for p in files}
    # what must be there for an empty scan to mean something: the database (params, tags,
    # metrics, registry, logged-model inputs), pickled models (LightGBM's model text is
    # inside), MLmodel files, evaluation tables, figures and reports
    assert {".db", ".pkl", ".csv", ".json", ".png", ".html", ".md"} <= suffixes, suffixes
    assert any(p.name == "MLmodel" for p in files)
    con = sqlite3.connect(store / "mlflow.db")
    try:
        counts = {
            t: con.execute(f'select count(*) from "{t}"').fetchone()[0]
            for t in ("params", "tags", "metrics", "inputs", "model_versions")
        }  # noqa: E501, S608
    finally:
        con.close()
    assert all(n > 0 for n in counts.values()), counts
    findings = scan_outputs([layout.exports, layout.reports, store], _pseudonyms(layout), n_persons=_n_young(layout))
    assert findings == []


@pytest.fixture()
def copied_outputs(demo_dir: Path, tmp_path: Path) -> Path:
    """A copy of exports, reports and the MLflow store to plant leaks in."""
    for sub in ("exports", "reports", "mlflow"):
        shutil.copytree(demo_dir / sub, tmp_path / sub)
    return tmp_path


def _scan(root: Path, layout: DemoLayout) -> list:  # noqa: ANN201
    return scan_outputs([root / "exports", root / "reports", root / "mlflow"], _pseudonyms(layout), _n_young(layout))


PLANTS = [
    "model-pickle", "lightgbm-model-text", "mlmodel", "artifact-json", "mlflow-tag", "person-csv", "per-person-table",
]  # fmt: skip


@pytest.mark.parametrize("plant", PLANTS)
def test_a_planted_leak_is_found(demo_dir: Path, copied_outputs: Path, plant: str) -> None:
    layout = DemoLayout(demo_dir)
    root = copied_outputs
    pseudonym = int(_pseudonyms(layout)[17])
    latest = sorted(p for p in (root / "exports").iterdir() if not p.name.startswith("."))[-1]
    pickles = sorted((root / "mlflow").rglob("model.pkl"))
    if plant == "model-pickle":  # a raw int64 in a pickled model
        target = pickles[0]
        target.write_bytes(target.read_bytes() + np.array([pseudonym], dtype="<i8").tobytes())
    elif plant == "lightgbm-model-text":  # digits inside the LightGBM model text of a pickle
        target = next(p for p in pickles if b"feature_names=" in p.read_bytes())
        target.write_bytes(target.read_bytes().replace(b"feature_names=", f"feature_names={pseudonym} ".encode(), 1))
    elif plant == "mlmodel":  # a pseudonym as digits in a model's description file
        target = sorted((root / "mlflow").rglob("MLmodel"))[0]
        target.write_text(target.read_text() + f"note: trained on {pseudonym}\n")
    elif plant == "artifact-json":
        target = sorted((root / "mlflow").rglob("summary.json"))[0]
        target.write_text(target.read_text().replace("{", f'{{"example": {pseudonym}, ', 1))
    elif plant == "mlflow-tag":
        target = root / "mlflow" / "mlflow.db"
        con = sqlite3.connect(target)
        con.execute("update tags set value = ? where rowid = (select min(rowid) from tags)", (f"person {pseudonym}",))
        con.commit()
        con.close()
    elif plant == "person-csv":  # a person-level table beside the area table
        target = latest / "scores.csv"
        ids = _pseudonyms(layout)[:50]
        pd.DataFrame({"rinpersoon": ids, "score": np.linspace(0, 1, len(ids))}).to_csv(target, index=False)
    else:  # one row per young person, no pseudonym at all
        target = latest / "risk_rows.csv"
        n = _n_young(layout)
        pd.DataFrame({"age": np.full(n, 15), "score": np.linspace(0, 1, n)}).to_csv(target, index=False)
    findings = _scan(root, layout)
    assert findings, f"planted {plant} not found"
    assert all(str(target) in f.path for f in findings), findings


# --- bad input against an existing export -------------------------------------------------------


@pytest.fixture()
def previous_exports(demo_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "exports"
    shutil.copytree(demo_dir / "exports", out)
    return out


def _bad_delivery(demo_dir: Path, tmp_path: Path) -> Path:
    data = tmp_path / "bad-data"
    shutil.copytree(demo_dir / "raw", data)
    halt = pd.read_parquet(data / "halt.parquet")
    halt["halt_category"] = halt["halt_category"].astype("str")
    halt.loc[halt.index[:3], "halt_category"] = "onbekend"
    halt.to_parquet(data / "halt.parquet", index=False)
    return data


@pytest.mark.parametrize("bad", ["delivery", "config"])
def test_bad_input_leaves_an_existing_export_byte_identical(
    demo_dir: Path, tmp_path: Path, previous_exports: Path, bad: str
) -> None:
    layout = DemoLayout(demo_dir)
    before = _tree(previous_exports)
    stamps = {p: p.stat().st_mtime_ns for p in previous_exports.rglob("*")}
    args = [
        "export", "--work", str(layout.work), "--out", str(previous_exports), "--mlflow-uri", layout.mlflow_uri,
        "--set", 'monitoring.aggregate.finest_level="gemeente"',
    ]  # fmt: skip
    if bad == "delivery":
        args += ["--data", _bad_delivery(demo_dir, tmp_path)]
    else:
        args += ["--data", str(layout.raw), "--set", "monitoring.disclosure.min_cell_size=0"]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    if bad == "delivery":
        assert "table 'halt', column 'halt_category'" in lines[0] and "(3 rows)" in lines[0], lines[0]
    else:
        assert "'monitoring.disclosure.min_cell_size'" in lines[0], lines[0]
    assert _tree(previous_exports) == before
    assert {p: p.stat().st_mtime_ns for p in previous_exports.rglob("*")} == stamps
