"""The benchmark runner (issue 7): stages in child processes, JSON result, verdicts, table."""

from __future__ import annotations

import json

import pytest

from aanwas.common.errors import ConfigError
from aanwas.stages.bench import STAGES, TARGET_PEAK_RSS_MB, TARGET_SECONDS, _verdicts, format_table, run_bench


def _row(stage, wall, rss=100.0, code=0):
    return {
        "stage": stage,
        "exit_code": code,
        "wall_s": wall,
        "cpu_s": wall,
        "peak_rss_mb": rss,
        "load_1m_before": 0.0,
        "load_1m_after": 0.0,
    }


def test_verdicts_hand_computed():
    rows = [
        _row("synth", 999.0, rss=20_000.0, code=0),
        _row("features", 100.0),
        _row("train", 500.0, rss=3000.0),
        _row("export", 30.0),
        _row("monitor", 10.0),
    ]
    v = _verdicts(rows)
    assert v["features"] == {"seconds": 100.0, "target": TARGET_SECONDS["features"], "met": True}
    assert v["train"]["met"] is False  # 500 s > 480 s
    assert v["export"]["met"] is True
    assert v["pipeline"] == {"seconds": 640.0, "target": TARGET_SECONDS["pipeline"], "met": True}  # synth not counted
    assert v["peak_rss_mb"] == {
        "value": 20_000.0,
        "target": TARGET_PEAK_RSS_MB,
        "met": False,
    }  # synth counts for memory
    assert v["export_per_train"] == {"wall": 0.06, "cpu": 0.06, "target": 1.5, "met": True}  # 30 / 500


def test_export_per_train_is_missed_when_either_time_exceeds_it():
    train, export = _row("train", 100.0), _row("export", 140.0)
    export["cpu_s"] = 151.0  # wall 1.4x, CPU 1.51x
    v = _verdicts([train, export])["export_per_train"]
    assert (v["wall"], v["cpu"], v["met"]) == (1.4, 1.51, False)
    text = format_table(
        {
            "scale": 0.1,
            "seed": 1,
            "machine": {"cpus": 2},
            "commit": "x",
            "stages": [],
            "targets": {"export_per_train": v},
        }
    )
    assert "export / train <= 1.5" in text and "1.40 wall, 1.51 CPU, MISSED" in text


def test_verdicts_skip_failed_and_missing_stages():
    v = _verdicts([_row("features", 100.0), _row("train", 1.0, code=1)])
    assert "train" not in v and "pipeline" not in v
    assert v["peak_rss_mb"]["value"] == 100.0


def test_unknown_stage_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown stage"):
        run_bench(0.001, 1, tmp_path, stages=("features", "nope"))
    assert not any(tmp_path.iterdir())  # nothing written


def test_runner_end_to_end_tiny(tmp_path):
    """synth -> raw read floor -> features, each in its own child process (the rest: slow test)."""
    stages = ("synth", "read_floor", "features")
    lines = []
    result = run_bench(0.001, 3, tmp_path / "b", stages=stages, echo=lines.append)
    saved = json.loads((tmp_path / "b" / "bench-scale0.001-seed3.json").read_text())
    assert saved == result
    assert [r["stage"] for r in result["stages"]] == list(stages)
    for r in result["stages"]:
        assert r["exit_code"] == 0, r
        assert r["wall_s"] > 0 and r["cpu_s"] > 0
        assert 30 < r["peak_rss_mb"] < 4000  # a Python child with pandas, far below the budget
    by = {r["stage"]: r["detail"] for r in result["stages"]}
    persons = by["synth"]["rows"]["persons"]
    assert by["read_floor"]["rows"]["persons"] == persons  # the floor reads every raw row
    assert by["read_floor"]["n_rows"] == sum(by["synth"]["rows"].values())
    assert 0 < by["features"]["n_rows"] < persons * 10
    assert "features" in result["targets"] and "pipeline" not in result["targets"]  # train/export not run
    table = format_table(result)
    assert lines[-1] == table and "features" in table and "target features" in table
    text = json.dumps(result)
    assert "rinpersoon" not in text  # aggregates and timings only


@pytest.mark.slow
def test_runner_every_stage_small(tmp_path):
    result = run_bench(0.005, 1, tmp_path, overrides=['monitoring.aggregate.finest_level="gemeente"'])
    assert [r["stage"] for r in result["stages"]] == list(STAGES)
    assert all(r["exit_code"] == 0 for r in result["stages"])
    by = {r["stage"]: r["detail"] for r in result["stages"]}
    for band, auc in by["train"]["auc"].items():
        assert abs(auc - by["hgb"]["auc"][band]) < 0.05  # two GBMs, same rows and settings
    assert by["export"]["n_periods"] >= 1 and by["export"]["lp_audit"]
    loss = by["export"]["suppressed_latest"]  # information loss per level and measure
    assert {"land n_persons", "gemeente n_elevated"} <= set(loss)
    assert loss["land n_persons"] == {"primary": 0.0, "secondary": 0.0, "not_published": 0.0}
    assert all(0 <= v["primary"] + v["secondary"] + v["not_published"] <= 1 for v in loss.values())
    assert any((tmp_path / "work" / "disclosure_results").iterdir())  # kept for a refresh
    assert by["monitor"]["with_scores"] and len(by["monitor"]["ref_dates"]) == 2  # drift incl. the champion's scores
    assert {"features", "train", "export", "pipeline", "peak_rss_mb"} <= set(result["targets"])


@pytest.mark.slow
def test_export_stage_runs_on_the_scheduler_and_writes_the_local_bytes(tmp_path):
    """With compute.scheduler the bench's export stage scores and audits on the cluster, as
    `aanwas export` does (it ran everything locally before), and writes the local bytes."""
    from distributed import Client, get_task_stream
    from loopback import dask_cluster

    out, level = tmp_path / "b", 'monitoring.aggregate.finest_level="gemeente"'
    first = run_bench(0.005, 1, out, stages=("synth", "features", "train", "export"), overrides=[level])
    assert all(r["exit_code"] == 0 for r in first["stages"])
    local = {p.relative_to(out / "exports"): p.read_bytes() for p in (out / "exports").rglob("*") if p.is_file()}
    (tmp_path / "dask").mkdir()
    with dask_cluster(tmp_path / "dask") as address, Client(address, set_as_default=False) as client:
        with get_task_stream(client=client) as stream:
            cluster = [level, f'compute.scheduler="{address}"']
            again = run_bench(0.005, 1, out, data=out / "data", stages=("export",), overrides=cluster)
    assert again["stages"][0]["exit_code"] == 0
    ran = {str(t["key"]).split("-")[0] for t in stream.data}
    assert {"_chunk_sums", "_protect_task"} <= ran  # scoring per date and disclosure control per period
    remote = {p.relative_to(out / "exports"): p.read_bytes() for p in (out / "exports").rglob("*") if p.is_file()}
    assert local.keys() == remote.keys() and any(k.suffix == ".csv" for k in local)
    assert [k for k in local if local[k] != remote[k]] == []
