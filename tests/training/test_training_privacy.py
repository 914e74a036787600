"""Privacy boundary of training: the MLflow store holds no pseudonym and no person-level table.

A training run (one band to stay fast; every band takes the same code path: tuning trials as
nested runs, three models logged, one registered, truth metrics) writes to a SQLite store in
a temporary directory; the scanner then reads every table of the database (params, tags,
metrics, registry, logged models, inputs ...) and every artifact file, and looks for each
input pseudonym as text and as raw 64-bit integers.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml
from fabricated_features import fabricate_feature_table

from aanwas.stages.train import train_and_track

DIGITS = re.compile(rb"(?=(\d{12}))")  # every 12-digit window, overlapping


def _hits_in_bytes(blob: bytes, ids: set[int], id_array: np.ndarray) -> set[int]:
    found = {int(m.group(1)) for m in DIGITS.finditer(blob)} & ids
    for offset in range(8):  # raw int64 (little or big endian) at any alignment
        usable = (len(blob) - offset) // 8 * 8
        if usable <= 0:
            continue
        for dtype in ("<i8", ">i8"):
            words = np.frombuffer(blob, dtype=dtype, count=usable // 8, offset=offset)
            found |= {int(v) for v in words[np.isin(words, id_array)]}
    return found


def scan_store(root: Path, ids: set[int]) -> dict[str, set[int]]:
    """Pseudonyms found per place (``db:<table>`` or an artifact path) under ``root``."""
    id_array = np.array(sorted(ids), dtype=np.int64)
    hits: dict[str, set[int]] = {}
    for db in root.rglob("*.db"):
        con = sqlite3.connect(db)
        try:
            tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
            for table in tables:
                for row in con.execute(f'select * from "{table}"'):  # noqa: S608 - names from sqlite_master
                    for cell in row:
                        if cell is None:
                            continue
                        if isinstance(cell, bytes):
                            found = _hits_in_bytes(cell, ids, id_array)
                        elif isinstance(cell, int):
                            found = {cell} & ids
                        else:  # text and floats: pseudonyms as digits
                            found = {int(m.group(1)) for m in DIGITS.finditer(str(cell).encode())} & ids
                        if found:
                            hits.setdefault(f"db:{table}", set()).update(found)
        finally:
            con.close()
    for path in root.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            found = _hits_in_bytes(path.read_bytes(), ids, id_array)
            if found:
                hits[str(path.relative_to(root))] = found
    return hits


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory, make_cfg, new_store):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("privacy")
    uri = new_store(root / "store")
    frame, truth = fabricate_feature_table(3000, seed=41)
    cfg = make_cfg('training.bands=["20-23"]', "training.tuning.n_trials=2", "training.tuning.n_startup_trials=1")
    cwd = Path.cwd()
    os.chdir(root)  # MLflow must not fall back to ./mlruns in the working directory
    try:
        summary = train_and_track(cfg, frame, tracking_uri=uri, truth=truth)
    finally:
        os.chdir(cwd)
    return root, frame, summary


def test_store_holds_no_pseudonym(trained_store) -> None:  # type: ignore[no-untyped-def]
    root, frame, summary = trained_store
    ids = set(frame["rinpersoon"].astype(int).tolist())
    assert len(ids) > 1000
    assert summary["bands"]["20-23"]["decision"] == "initial"
    assert sorted(p.name for p in root.iterdir()) == ["store"]  # nothing written beside the store
    assert scan_store(root / "store", ids) == {}
    # the run really logged what it should (so an empty scan means something)
    con = sqlite3.connect(root / "store" / "mlflow.db")
    n_params = con.execute("select count(*) from params").fetchone()[0]
    n_trials = con.execute("select count(*) from tags where key='aanwas.kind' and value='tuning-trial'").fetchone()[0]
    metrics = {r[0] for r in con.execute("select key from metrics")}
    assert n_params > 50 and n_trials == 2
    for band in ("20-23",):
        for model in ("lightgbm", "flags", "logreg"):
            for m in ("auc", "pr_auc", "brier", "ece"):
                assert f"test/{band}/{model}/{m}" in metrics
        assert f"test/{band}/oracle_auc" in metrics and f"test/{band}/lightgbm/oracle_auc" in metrics


def test_scanner_finds_a_planted_pseudonym(trained_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, frame, _ = trained_store
    ids = set(frame["rinpersoon"].astype(int).tolist())
    planted = int(frame["rinpersoon"].iloc[7])
    (tmp_path / "a.txt").write_text(f"score of {planted}: 0.3")
    (tmp_path / "b.bin").write_bytes(b"xyz" + np.array([planted], dtype="<i8").tobytes())
    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("create table params (key text, value text)")
    con.execute("insert into params values ('note', ?)", (f"row {planted}",))
    con.commit()
    con.close()
    assert scan_store(tmp_path, ids) == {"db:params": {planted}, "a.txt": {planted}, "b.bin": {planted}}


def test_models_have_a_signature_and_no_input_example(trained_store) -> None:  # type: ignore[no-untyped-def]
    root, frame, _ = trained_store
    mlmodels = list((root / "store").rglob("MLmodel"))
    assert len(mlmodels) == 3  # LightGBM and the two baselines
    for path in mlmodels:
        spec = yaml.safe_load(path.read_text())
        assert "signature" in spec and "inputs" in spec["signature"]
        assert "saved_input_example_info" not in spec
        names = [c["name"] for c in json.loads(spec["signature"]["inputs"])]
        assert names[:2] == ["age", "is_male"] and "rinpersoon" not in names and "label" not in names
        files = {p.name for p in path.parent.iterdir()}
        assert not {"input_example.json", "serving_input_example.json"} & files
    # no logged table has one row per person: artifacts are small JSON/YAML and model files
    for path in (root / "store").rglob("*.json"):
        assert path.stat().st_size < 50_000
