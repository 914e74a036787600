"""The feature build partitioned by person (dask engine) equals the pandas build.

Three layers: the in-memory partitioning on many drawn partition layouts (hypothesis, fast),
the dask path on a hand-made delivery with parents and a three-generation family split across
partitions, and the stage writing byte-identical files.
"""

from __future__ import annotations

import hashlib

import contract_testdata as td
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aanwas.common.errors import ConfigError
from aanwas.config import load_config
from aanwas.stages.features import AUDIT_FILE, FEATURES_FILE, run_features
from features.build import build_audit_frame, iter_feature_tables
from features.config import FeatureConfig, SynthConfig
from features.contract import ContractConfig, validate_delivery
from features.geography import load_geography
from features.sources import partition as part
from features.sources.readers import load_mapping, read_delivery
from features.sources.synth import generate

pytest.importorskip("dask.dataframe")

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


def whole_build(tables, observation_end) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    geo = load_geography()
    d = validate_delivery(tables, ContractConfig(), geo, observation_end=observation_end)
    return [(c, build_audit_frame(d, c)) for c in iter_feature_tables(d, FeatureConfig(), geography=geo)]


def in_memory_partitioned(tables, observation_end, partitions: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """What the dask path computes, without dask and files: split, build per part, merge."""
    geo = load_geography()
    per_ref: list[list[tuple[pd.DataFrame, pd.DataFrame]]] = []
    for k in range(partitions):
        raw = part.partition_tables(tables, k, partitions)
        if not (part.partition_of(raw["persons"]["rinpersoon"], partitions) == k).any():
            continue
        d = validate_delivery(raw, ContractConfig(), geo, observation_end=observation_end, allow_empty=True)
        for i, chunk in enumerate(iter_feature_tables(d, FeatureConfig(), geography=geo)):
            home = part.home_rows(chunk, k, partitions)
            if len(per_ref) <= i:
                per_ref.append([])
            per_ref[i].append((home, build_audit_frame(d, home)))
    return [part.merge_parts(p) for p in per_ref]


def assert_same(expected, got) -> None:
    assert len(expected) == len(got)
    for (f0, a0), (f1, a1) in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(f0, f1, check_exact=True)
        pd.testing.assert_frame_equal(a0, a1, check_exact=True)


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
@given(partitions=st.integers(2, 9), relabel=st.integers(0, 2**32 - 1))
def test_partitioned_equals_whole_for_any_partition_layout(small_world, partitions, relabel):
    # relabelling the pseudonyms at random moves every person (and so every parent link) to
    # another partition: the split must not matter for any layout
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
    assert_same(whole_build(tables, obs_end), in_memory_partitioned(tables, obs_end, partitions))


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
    expected = [(c, build_audit_frame(delivery, c)) for c in iter_feature_tables(delivery, FeatureConfig())]
    assert sum(int(f[PARENT_INDICATORS].sum().sum()) for f, _ in expected) > 0  # parents matter here
    got = list(part.iter_partitioned(data, tmp_path / "scratch", FeatureConfig(), ContractConfig(), partitions))
    assert_same(expected, got)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stage_writes_the_same_bytes_with_either_engine(tmp_path):
    data = td.write_delivery(tmp_path / "raw", three_generations())
    for engine in ("pandas", "dask"):
        cfg = load_config(None, [f"features.build.engine={engine}", "features.build.partitions=3"])
        run_features(cfg, data, tmp_path / engine)
    for name in (FEATURES_FILE, AUDIT_FILE):
        assert _digest(tmp_path / "pandas" / name) == _digest(tmp_path / "dask" / name)
    assert not any(p.name.startswith(".") for p in (tmp_path / "dask").iterdir())  # scratch removed


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


@pytest.mark.slow
@pytest.mark.parametrize("partitions", [3, 7])
def test_dask_build_equals_pandas_on_a_national_synthetic_sample(tmp_path, partitions):
    from aanwas.stages.synth import write_synth

    write_synth(generate(SynthConfig(scale=0.001, seed=3)), tmp_path / "s")
    data = tmp_path / "s" / "raw"
    delivery = read_delivery(data, load_mapping(None), ContractConfig())
    expected = [(c, build_audit_frame(delivery, c)) for c in iter_feature_tables(delivery, FeatureConfig())]
    got = list(part.iter_partitioned(data, tmp_path / "scratch", FeatureConfig(), ContractConfig(), partitions))
    assert_same(expected, got)


def test_dask_build_on_a_distributed_scheduler_equals_pandas(tmp_path):
    distributed = pytest.importorskip("distributed")
    tables = three_generations()
    data = td.write_delivery(tmp_path / "raw", tables)
    delivery = read_delivery(data, load_mapping(None), ContractConfig())
    expected = [(c, build_audit_frame(delivery, c)) for c in iter_feature_tables(delivery, FeatureConfig())]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        got = list(
            part.iter_partitioned(
                data, tmp_path / "scratch", FeatureConfig(), ContractConfig(), 3, scheduler=cl.scheduler_address
            )
        )
    assert_same(expected, got)
