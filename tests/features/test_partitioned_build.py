"""The feature build partitioned by person (dask engine) equals the pandas build.

Three layers: the in-memory partitioning on many drawn partition layouts (hypothesis, fast),
the dask path on a hand-made delivery with parents and a three-generation family split across
partitions, and the stage writing byte-identical files.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time

import contract_testdata as td
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aanwas.common.errors import ConfigError, InputError
from aanwas.config import load_config
from aanwas.stages.features import AUDIT_FILE, FEATURES_FILE, run_features
from features.build import build_audit_frame, iter_feature_tables, row_chunks
from features.config import BuildConfig, FeatureConfig, SynthConfig
from features.contract import ContractConfig, validate_delivery
from features.geography import load_geography
from features.sources import partition as part
from features.sources.readers import load_mapping, read_delivery
from features.sources.synth import generate

pytest.importorskip("dask.dataframe")

#: rows per row group in these tests: a reference date spans several row groups
ROWS = 60
TINY_ROWS = 2  # for the hand-made delivery (2-6 rows per reference date)
BABY = 100000006  # child of KIDS[4] (aged 17-23 over the reference dates): three generations
PARENT_INDICATORS = ["ind_parent_debt_recent", "ind_parent_suspect_recent", "ind_single_parent"]


def three_generations() -> dict[str, pd.DataFrame]:
    t = td.base_tables()
    baby = pd.DataFrame(
        {"rinpersoon": [BABY], "birth_date": td._d(["2022-03-01"]), "sex": ["V"], "migration_group": ["nederland"]}
    )
    t["persons"] = pd.concat([t["persons"], baby], ignore_index=True)
    t["parent_child"] = pd.concat(
        [t["parent_child"], pd.DataFrame({"rinpersoon": [BABY], "rinpersoon_parent": [td.KIDS[4]]})],
        ignore_index=True,
    )
    return t


def whole_build(tables, observation_end, rows: int = ROWS) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """The pandas build, each reference date cut into row groups of ``rows`` rows."""
    geo = load_geography()
    d = validate_delivery(tables, ContractConfig(), geo, observation_end=observation_end)
    return [
        piece
        for c in iter_feature_tables(d, FeatureConfig(), geography=geo)
        for piece in row_chunks(c, build_audit_frame(d, c), rows)
    ]


def in_memory_partitioned(
    tables, observation_end, partitions: int, rows: int = ROWS
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """What the dask path computes, without dask and files: split, build per part in pieces,
    merge the pieces of each date."""
    geo = load_geography()
    per_ref: list[list[list[tuple[pd.DataFrame, pd.DataFrame]]]] = []
    for k in range(partitions):
        raw = part.partition_tables(tables, k, partitions)
        if not (part.partition_of(raw["persons"]["rinpersoon"], partitions) == k).any():
            continue
        d = validate_delivery(raw, ContractConfig(), geo, observation_end=observation_end, allow_empty=True)
        for i, chunk in enumerate(iter_feature_tables(d, FeatureConfig(), geography=geo)):
            home = part.home_rows(chunk, k, partitions)
            if len(per_ref) <= i:
                per_ref.append([])
            per_ref[i].append(list(row_chunks(home, build_audit_frame(d, home), part.piece_rows(rows, partitions))))
    return [chunk for sources in per_ref for chunk in part.merge_sorted(sources, rows)]


def rows_config(rows: int) -> FeatureConfig:
    return FeatureConfig(build=BuildConfig(row_group_rows=rows))


def pandas_chunks(delivery, rows: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """What the pandas engine writes, row group by row group."""
    return [
        piece
        for c in iter_feature_tables(delivery, FeatureConfig())
        for piece in row_chunks(c, build_audit_frame(delivery, c), rows)
    ]


def assert_same(expected, got) -> None:
    """The same chunks (row groups): equal lengths and dates chunk by chunk, equal frames."""
    assert [(len(f), f["ref_date"].unique().tolist()) for f, _ in expected] == [
        (len(f), f["ref_date"].unique().tolist()) for f, _ in got
    ]
    for i in (0, 1):
        pd.testing.assert_frame_equal(
            pd.concat([c[i] for c in expected], ignore_index=True),
            pd.concat([c[i] for c in got], ignore_index=True),
            check_exact=True,
        )


def split_links(tables, partitions: int) -> int:
    """Parent links whose child and parent fall in different partitions."""
    pc = tables["parent_child"]
    child = part.partition_of(pc["rinpersoon"], partitions)
    return int((child != part.partition_of(pc["rinpersoon_parent"], partitions)).sum())


def test_partition_of_is_stable_and_spreads_ids():
    assert part.partition_of(np.array([1, 2, 3, 1]), 7).tolist() == [5, 5, 4, 5]
    assert part.partition_of(pd.Series(["0001", "2", None]), 7).tolist() == [5, 5, 0]  # text ids hash as numbers
    counts = np.bincount(part.partition_of(np.arange(10**6, 10**6 + 70_000), 7), minlength=7)
    assert counts.min() > 0.9 * 10_000 and counts.max() < 1.1 * 10_000


def test_parent_tables_come_from_the_catalogue():
    assert part.PARENT_TABLES == ("addresses", "debt", "persons", "suspects")


@pytest.fixture(scope="module")
def small_world():
    r = generate(SynthConfig(scale=0.005, seed=2, region=("Gooi en Vechtstreek",)))
    return r.raw, r.observation_end


@settings(max_examples=3)
@given(partitions=st.integers(2, 9), relabel=st.integers(0, 2**32 - 1), rows=st.integers(10, 300))
def test_partitioned_equals_whole_for_any_partition_layout(small_world, partitions, relabel, rows):
    # relabelling the pseudonyms at random moves every person (and so every parent link) to
    # another partition: the split must not matter for any layout, nor where the dates are cut
    raw, obs_end = small_world
    ids = raw["persons"]["rinpersoon"].to_numpy()
    new = np.random.default_rng(relabel).choice(10**9, size=len(ids), replace=False) + 10**8
    lookup = pd.Series(new, index=ids)
    tables = {n: df.copy() for n, df in raw.items()}
    for df in tables.values():
        for c in ("rinpersoon", "rinpersoon_parent"):
            if c in df.columns:
                df[c] = lookup.reindex(df[c].to_numpy()).to_numpy()
    if partitions > 1:
        assert split_links(tables, partitions) > 0
    assert_same(whole_build(tables, obs_end, rows), in_memory_partitioned(tables, obs_end, partitions, rows))


def test_without_copied_parents_the_parent_indicators_break(small_world, monkeypatch):
    # the control: the test above fails when a cross-person dependency is not carried over
    raw, obs_end = small_world
    expected = whole_build(raw, obs_end)
    monkeypatch.setattr(part, "PARENT_TABLES", ("persons",))
    got = in_memory_partitioned(raw, obs_end, 3)
    diff = sum(
        int((f0[PARENT_INDICATORS] != f1[PARENT_INDICATORS]).to_numpy().sum())
        for (f0, _), (f1, _) in zip(expected, got, strict=True)
    )
    assert diff > 0


@pytest.mark.parametrize("partitions", [pytest.param(1, marks=pytest.mark.slow), 3, 7])
def test_dask_build_equals_pandas_build(tmp_path, partitions):
    tables = three_generations()
    data = td.write_delivery(tmp_path / "raw", tables)
    if partitions > 1:
        assert split_links(tables, partitions) > 0
        baby_part, parent_part = part.partition_of(np.array([BABY, td.KIDS[4]]), partitions)
        assert baby_part != parent_part  # the middle generation is copied without its own parent
    delivery = read_delivery(data, load_mapping(None), ContractConfig())
    expected = pandas_chunks(delivery, TINY_ROWS)
    assert sum(int(f[PARENT_INDICATORS].sum().sum()) for f, _ in expected) > 0  # parents matter here
    assert len(expected) > len({f["ref_date"].iat[0] for f, _ in expected})  # a date spans several chunks
    got = list(part.iter_partitioned(data, tmp_path / "scratch", rows_config(TINY_ROWS), ContractConfig(), partitions))
    assert_same(expected, got)
    assert not any((tmp_path / "scratch").rglob("*.pkl"))  # every piece read once, then removed


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("rows", [TINY_ROWS, 10**6])
def test_stage_writes_the_same_bytes_with_either_engine(tmp_path, rows):
    data = td.write_delivery(tmp_path / "raw", three_generations())
    for engine in ("pandas", "dask"):
        sets = [f"features.build.engine={engine}", "features.build.partitions=3"]
        run_features(load_config(None, [*sets, f"features.build.row_group_rows={rows}"]), data, tmp_path / engine)
    for name in (FEATURES_FILE, AUDIT_FILE):
        assert _digest(tmp_path / "pandas" / name) == _digest(tmp_path / "dask" / name)
    assert not any(p.name.startswith(".") for p in (tmp_path / "dask").iterdir())  # scratch removed
    # the row groups: at most `rows` rows of one reference date each, every date cut alike
    md = pq.ParquetFile(tmp_path / "dask" / FEATURES_FILE).metadata
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    dates = pd.read_parquet(tmp_path / "dask" / FEATURES_FILE, columns=["ref_date"])["ref_date"]
    per_date = dates.value_counts(sort=False).sort_index()
    assert sizes == [min(rows, n - start) for n in per_date for start in range(0, n, rows)]


def test_dask_engine_refuses_a_mapped_or_csv_delivery_and_writes_nothing(tmp_path):
    cfg = load_config(None, ["features.build.engine=dask"])
    csv = td.write_delivery(tmp_path / "csv", fmt="csv")
    with pytest.raises(ConfigError, match="Parquet only"):
        run_features(cfg, csv, tmp_path / "w1")
    parquet = td.write_delivery(tmp_path / "pq")
    mapping = tmp_path / "m.toml"
    mapping.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="contract layout"):
        run_features(cfg, parquet, tmp_path / "w2", mapping)
    assert not (tmp_path / "w1").exists() and not (tmp_path / "w2").exists()


@pytest.mark.parametrize("case_id", ["missing-table", "orphan", "unknown-area-code"])
def test_dask_engine_bad_delivery_gives_one_line_exit_2_and_writes_nothing(tmp_path, case_id):
    # the counts in the message are the partition's (docs/dev/scale.md); table and column are named
    from typer.testing import CliRunner

    from aanwas.cli import app

    case = next(c for c in td.CASES if c.id == case_id)
    args = case.build(tmp_path / "case")
    work = tmp_path / "work"
    dask = ["--set", "features.build.engine=dask", "--set", "features.build.partitions=3"]
    res = CliRunner().invoke(app, ["features", *args, "--work", str(work), *dask])
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and case.table in res.output
    assert case.column is None or case.column in res.output
    assert not work.exists()  # created by the run, removed with its partitions and temporary files


_REAL_BUILD = part.build_partition
_TASKS = {"running": 0, "started": 0}
_TASKS_LOCK = threading.Lock()


def _first_fails_others_slow(split, data, files, k, *args):
    """build_partition, but the first partition to start fails at once and the others start late."""
    with _TASKS_LOCK:
        _TASKS["running"] += 1
        _TASKS["started"] += 1
        first = _TASKS["started"] == 1
    try:
        if first:
            raise InputError("persons", None, 1, "made to fail")
        time.sleep(0.5)
        return _REAL_BUILD(split, data, files, k, *args)
    finally:
        with _TASKS_LOCK:
            _TASKS["running"] -= 1


@pytest.mark.parametrize("on", ["threads", "cluster"])
def test_a_failed_partition_waits_for_the_running_ones_and_leaves_nothing(tmp_path, monkeypatch, on):
    # the race behind a CI failure: the error came back while another partition was still
    # building, the caller removed the work directory, and that partition recreated it
    data = td.write_delivery(tmp_path / "raw", three_generations())
    monkeypatch.setattr(part, "build_partition", _first_fails_others_slow)
    monkeypatch.setitem(_TASKS, "started", 0)
    sets = ["features.build.engine=dask", "features.build.partitions=3"]
    with contextlib.ExitStack() as stack:
        if on == "cluster":  # in-process workers (they see the patched function), on a tcp address
            distributed = pytest.importorskip("distributed")
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
            )
            sets.append(f'compute.scheduler="{stack.enter_context(cluster).scheduler_address}"')
        with pytest.raises(InputError, match="made to fail"):
            run_features(load_config(None, sets), data, tmp_path / "work")
        # checked while the cluster is up: closing it waits for its workers' threads
        assert _TASKS["started"] >= 2  # another partition was running when the first failed
        assert _TASKS["running"] == 0  # ... and it had finished before the error came back
        assert not (tmp_path / "work").exists()


@pytest.mark.slow
@pytest.mark.parametrize("partitions", [3, 7])
def test_dask_build_equals_pandas_on_a_national_synthetic_sample(tmp_path, partitions):
    from aanwas.stages.synth import write_synth

    write_synth(generate(SynthConfig(scale=0.001, seed=3)), tmp_path / "s")
    data = tmp_path / "s" / "raw"
    delivery = read_delivery(data, load_mapping(None), ContractConfig())
    expected = pandas_chunks(delivery, 500)
    got = list(part.iter_partitioned(data, tmp_path / "scratch", rows_config(500), ContractConfig(), partitions))
    assert_same(expected, got)


def test_dask_build_on_a_distributed_scheduler_equals_pandas(tmp_path):
    distributed = pytest.importorskip("distributed")
    tables = three_generations()
    data = td.write_delivery(tmp_path / "raw", tables)
    delivery = read_delivery(data, load_mapping(None), ContractConfig())
    expected = pandas_chunks(delivery, TINY_ROWS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        got = list(
            part.iter_partitioned(
                data, tmp_path / "scratch", rows_config(TINY_ROWS), ContractConfig(), 3, scheduler=cl.scheduler_address
            )
        )
    assert_same(expected, got)
