"""``aanwas features``: synthetic delivery in, cached feature table + audit frame out, atomically."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.config import load_config
from aanwas.stages.features import AUDIT_FILE, FEATURES_FILE, SUMMARY_FILE, load_feature_table
from aanwas.stages.synth import write_synth
from features.build import build_audit_frame, build_feature_table
from features.catalogue import AUDIT_COLUMNS
from features.config import SynthConfig
from features.sources.readers import load_mapping, read_delivery
from features.sources.synth import generate

runner = CliRunner()


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    write_synth(generate(SynthConfig(scale=0.002, seed=3)), out)
    return out


def test_cli_writes_features_audit_and_summary(synth_dir, tmp_path):
    work = tmp_path / "work"
    res = runner.invoke(
        app, ["features", "--data", str(synth_dir / "raw"), "--work", str(work), "--set", "features.recent_months=12"]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in work.iterdir()) == sorted([FEATURES_FILE, AUDIT_FILE, SUMMARY_FILE])
    ft, au = load_feature_table(work)
    # the cache equals a direct build with the same config, dtypes included
    cfg = load_config(None, ["features.recent_months=12"])
    delivery = read_delivery(synth_dir / "raw", load_mapping(None), cfg.contract)
    direct = build_feature_table(delivery, cfg.features)
    pd.testing.assert_frame_equal(ft, direct)
    pd.testing.assert_frame_equal(au, build_audit_frame(delivery, direct))
    assert list(au.columns) == list(AUDIT_COLUMNS)
    summary = json.loads((work / SUMMARY_FILE).read_text())
    assert summary["n_rows"] == len(ft)
    assert summary["features"]["recent_months"] == 12
    per = pd.DataFrame(summary["per_ref_date_band"])
    counts = ft.groupby([ft["ref_date"].dt.strftime("%Y-%m-%d"), "age_band"], observed=True).size()
    assert per.set_index(["ref_date", "age_band"])["n_rows"].sort_index().to_dict() == counts.sort_index().to_dict()
    assert (per["n_labelled"] <= per["n_rows"]).all() and (per["n_positive"] <= per["n_labelled"]).all()


def test_not_applicable_is_null_in_the_file_never_nan(synth_dir, tmp_path):
    # One rule (docs/features.md): an indicator that does not apply to a row's band is missing,
    # stored as null; no value in the file is a floating-point NaN. Censored labels are null too.
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from features.catalogue import INDICATOR_COLUMNS, feature_columns

    work = tmp_path / "work"
    assert runner.invoke(app, ["features", "--data", str(synth_dir / "raw"), "--work", str(work)]).exit_code == 0
    table = pq.read_table(work / FEATURES_FILE)
    band = np.asarray(table.column("age_band").to_pandas().astype(str))
    n_null = 0
    for c in INDICATOR_COLUMNS:
        col = table.column(c)
        applies = np.array([c in feature_columns(b) for b in band])
        assert col.null_count == int((~applies).sum()), c
        assert not pc.any(pc.is_nan(col)).as_py(), c
        n_null += col.null_count
    assert n_null > 0  # the rule was exercised
    assert table.column("label").null_count > 0  # censored labels are null as well


def test_bad_delivery_fails_with_one_line_and_writes_nothing(synth_dir, tmp_path):
    broken = tmp_path / "raw"
    broken.mkdir()
    for f in (synth_dir / "raw").iterdir():
        if f.name != "halt.parquet":
            (broken / f.name).write_bytes(f.read_bytes())
    work = tmp_path / "work"
    res = runner.invoke(app, ["features", "--data", str(broken), "--work", str(work)])
    assert res.exit_code == 2
    assert "halt" in res.output and len(res.output.strip().splitlines()) == 1
    assert not work.exists() or not any(work.iterdir())


def test_failure_during_build_leaves_previous_cache_and_no_temp_files(synth_dir, tmp_path, monkeypatch):
    work = tmp_path / "work"
    assert runner.invoke(app, ["features", "--data", str(synth_dir / "raw"), "--work", str(work)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in work.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    import aanwas.stages.features as stage

    monkeypatch.setattr(stage, "build_audit_frame", boom)
    with pytest.raises(RuntimeError):
        stage.run_features(load_config(), synth_dir / "raw", work)
    assert {p.name: p.read_bytes() for p in work.iterdir()} == before


def test_config_error_for_first_ref_date_after_data(synth_dir, tmp_path):
    work = tmp_path / "w"
    res = runner.invoke(
        app,
        [
            "features",
            "--data",
            str(synth_dir / "raw"),
            "--work",
            str(work),
            "--set",
            "features.first_ref_date=2030-01-01",
        ],
    )
    assert res.exit_code == 2 and "first_ref_date" in res.output
    assert not work.exists()  # the work directory it created is removed again


def test_readers_take_a_reference_date_that_spans_several_row_groups(synth_dir, tmp_path):
    # features.build.row_group_rows cuts every date into several row groups: each reader of
    # features.parquet still sees whole dates (per-date chunks for scoring and the area-sums
    # store, the drift pair, the output check's count of young people)
    import pyarrow.parquet as pq

    from aanwas.stages.check import young_people
    from aanwas.stages.features import feature_chunks, load_features
    from aanwas.stages.monitor import _read_features

    rows = 3000
    work = tmp_path / "work"
    layout = ["--set", f"features.build.row_group_rows={rows}"]
    res = runner.invoke(app, ["features", "--data", str(synth_dir / "raw"), "--work", str(work), *layout])
    assert res.exit_code == 0, res.output
    ft, _ = load_feature_table(work)
    per_date = ft.groupby("ref_date").size()
    md = pq.ParquetFile(work / FEATURES_FILE).metadata
    assert md.num_row_groups > len(per_date) and max(md.row_group(i).num_rows for i in range(md.num_row_groups)) == rows
    chunks = feature_chunks(work)
    assert len(chunks) == len(per_date) and all(len(c.row_groups) > 1 for c in chunks)
    for chunk, (date, n) in zip(chunks, per_date.items(), strict=True):
        got = load_features(work, row_groups=chunk.row_groups)
        pd.testing.assert_frame_equal(got, ft[ft["ref_date"] == date].reset_index(drop=True))
        assert len(got) == n
    assert young_people(work) == per_date.max()
    frame, pair = _read_features(work, None)
    assert pair == tuple(per_date.index[-2:]) and len(frame) == per_date.iloc[-2:].sum()


def test_summary_records_the_validated_delivery_and_a_changed_file_changes_it(synth_dir, tmp_path):
    from aanwas.stages.features import VALIDATED_DELIVERY, delivery_digest, validated_delivery

    work = tmp_path / "work"
    assert runner.invoke(app, ["features", "--data", str(synth_dir / "raw"), "--work", str(work)]).exit_code == 0
    contract = load_config().contract
    recorded = validated_delivery(work)
    assert recorded is not None and recorded == delivery_digest(synth_dir / "raw", None, contract)
    assert json.loads((work / SUMMARY_FILE).read_text())[VALIDATED_DELIVERY] == recorded
    copy = tmp_path / "raw"
    copy.mkdir()
    for f in (synth_dir / "raw").iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert delivery_digest(copy, None, contract) == recorded  # same names and bytes elsewhere
    halt = copy / "halt.parquet"
    halt.write_bytes(halt.read_bytes()[:-1] + b"\0")  # one byte of one table file
    assert delivery_digest(copy, None, contract) != recorded
    assert delivery_digest(synth_dir / "raw", None, dataclasses.replace(contract, max_orphan_share=0.5)) != recorded


def test_reading_some_tables_gives_them_exactly_as_a_whole_read(synth_dir):
    from monitoring.effects.interventions import PANEL_TABLES

    contract = load_config().contract
    whole = read_delivery(synth_dir / "raw", load_mapping(None), contract)
    part = read_delivery(synth_dir / "raw", load_mapping(None), contract, only=PANEL_TABLES)
    assert set(part.tables) == set(PANEL_TABLES) < set(whole.tables)
    for name in PANEL_TABLES:
        pd.testing.assert_frame_equal(part.tables[name], whole.tables[name])
    assert part.observation_end == whole.observation_end
    if whole.interventions is not None:
        pd.testing.assert_frame_equal(part.interventions, whole.interventions)
