"""``compute.scheduler``: local processes by default, a real Dask scheduler with two workers on
loopback otherwise; the export's area tables are byte-identical either way."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from checked_scores import check_scores
from loopback import dask_cluster, free_port
from sklearn.dummy import DummyClassifier

from aanwas.common.compute import ComputeConfig, DaskExecutor, executor
from aanwas.common.errors import ConfigError
from aanwas.config import load_config
from aanwas.stages.steps import score_bands, write_periods
from models.bundle import ModelBundle
from monitoring.config import DisclosureConfig, MonitoringConfig

_spec = importlib.util.spec_from_file_location("buurt_export", Path(__file__).parent / "monitoring" / "buurt_export.py")
assert _spec is not None and _spec.loader is not None
buurt_export = sys.modules.setdefault("buurt_export", importlib.util.module_from_spec(_spec))
if not hasattr(buurt_export, "scores"):
    _spec.loader.exec_module(buurt_export)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with dask_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield address


def test_scheduler_setting_is_checked() -> None:
    assert load_config(None, ['compute.scheduler="tcp://10.0.0.5:8786"']).compute.scheduler == "tcp://10.0.0.5:8786"
    with pytest.raises(ConfigError, match="compute.scheduler"):
        load_config(None, ['compute.scheduler="10.0.0.5:8786"'])  # no protocol


def test_no_scheduler_at_the_address_is_one_clear_error() -> None:
    cfg = ComputeConfig(scheduler=f"tcp://127.0.0.1:{free_port()}", connect_timeout_seconds=2.0)
    with pytest.raises(ConfigError, match="no Dask scheduler answers"), executor(cfg):
        pass


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_area_export_on_two_dask_workers_is_byte_identical_to_local(scheduler: str, tmp_path: Path) -> None:
    from distributed import get_task_stream

    mon = MonitoringConfig(disclosure=DisclosureConfig(audit_jobs=1))
    frame, geo = buurt_export.scores(0), buurt_export.geography()
    local = check_scores(mon, frame, geo)
    with executor(ComputeConfig(scheduler=scheduler)) as ex:
        assert isinstance(ex, DaskExecutor)
        with get_task_stream(client=ex.client) as stream:
            remote = check_scores(mon, frame, geo, executor=ex)
    ran = [t for t in stream.data if str(t["key"]).startswith("_protect_task")]
    assert len({t["worker"] for t in ran}) == 2  # both workers audited periods
    assert len(ran) == len(local.periods) >= 4
    for name, found in (("local", local), ("dask", remote)):
        write_periods(mon, tmp_path / name, found.periods, found.checked, "m/1", found.fingerprint)
    a, b = _files(tmp_path / "local"), _files(tmp_path / "dask")
    assert any(k.endswith(".csv") for k in a)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_scoring_per_reference_date_on_the_cluster_equals_local(scheduler: str) -> None:
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"age": rng.integers(8, 24, 200).astype(float)})
    y = (rng.random(200) < 0.3).astype(int)
    from sklearn.linear_model import LogisticRegression

    bundle = ModelBundle({"8-12": LogisticRegression().fit(X, y), "13-19": DummyClassifier().fit(X, y)})
    frame = pd.DataFrame(
        {
            "ref_date": pd.to_datetime(rng.choice(["2021-01-01", "2022-01-01", "2023-01-01"], 500)),
            "age_band": rng.choice(["8-12", "13-19", "20-23"], 500),
            "age": rng.integers(8, 24, 500).astype(float),
        },
        index=rng.permutation(500) + 1000,
    )
    keep = ["ref_date", "age_band"]
    with executor(ComputeConfig(scheduler=scheduler)) as ex:
        remote = score_bands(bundle, frame, keep, ex)
    pd.testing.assert_frame_equal(remote, score_bands(bundle, frame, keep), check_exact=True)


def test_evaluation_gate_bootstrap_on_the_cluster_equals_local(scheduler: str) -> None:
    from distributed import Client, get_task_stream
    from fabricated_features import fabricate_audit, fabricate_feature_table
    from sklearn.linear_model import LogisticRegression

    from aanwas.stages.evaluate import build_gate_check
    from evaluation.result import to_artifacts

    table, truth = fabricate_feature_table(1500, seed=3)
    rows = table[(table["age_band"] == "13-19") & table["label"].notna()]
    audit = fabricate_audit(rows)
    features = ["age", "ind_halt_ever", "ind_single_parent"]
    model = LogisticRegression().fit(rows[features].fillna(0), rows["label"].astype(int))
    risk = truth.reindex(rows.index)
    settings = [  # 5 replicates per chunk of the rows: 4 chunks per bootstrap over persons
        "evaluation.bootstrap.reps=20",
        f"evaluation.bootstrap.max_cells={5 * len(rows)}",
        'evaluation.stigmatisation.area_levels=["gemeente"]',
    ]
    found = {}
    for where, extra in (("local", []), ("dask", [f'compute.scheduler="{scheduler}"'])):
        cfg = load_config(None, [*settings, *extra])
        check = build_gate_check(cfg, audit)
        with Client(scheduler, set_as_default=False) as client, get_task_stream(client=client) as stream:
            check("13-19", rows, risk, model=model, features=features)
        found[where] = to_artifacts(check.results["13-19"], cfg.evaluation.min_cell_size)
        chunks = [t for t in stream.data if str(t["key"]).startswith("_replicate_chunk")]
        if where == "local":
            assert chunks == []
    assert len({t["worker"] for t in chunks}) == 2  # both workers drew replicates
    assert len(chunks) >= 4 * 3  # performance, fairness, ranking and SHAP (a sample of the rows); proxy
    local, remote = found["local"], found["dask"]
    assert any(k.endswith(".csv") for k in local) and local.keys() == remote.keys()
    assert [k for k in local if local[k] != remote[k]] == []


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_items_go_to_the_workers_directly_not_through_the_scheduler(scheduler: str) -> None:
    """A task's rows (a band's training rows, a date's rows) must not pass through the
    scheduler: relayed, the national bands' rows took the scheduler to 2.5 GB."""

    # nested, so that they travel by value to the scheduler (which cannot import this module)
    def status_bytes(field: str) -> int:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    def reset_peak() -> int:  # resident bytes now, after resetting the peak (Linux: clear_refs 5)
        Path("/proc/self/clear_refs").write_text("5")
        return status_bytes("VmRSS")

    payload = np.ones(256 * 2**20 // 8)  # 256 MB
    with executor(ComputeConfig(scheduler=scheduler)) as ex:
        assert isinstance(ex, DaskExecutor)
        before = ex.client.run_on_scheduler(reset_peak)
        assert list(ex.map(len, [payload, payload[:5]])) == [payload.size, 5]
        peak = ex.client.run_on_scheduler(status_bytes, "VmHWM")
    assert peak - before < payload.nbytes / 4
