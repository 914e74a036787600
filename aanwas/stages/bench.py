"""Stage wiring of ``aanwas bench``: time every stage at a given scale against the national targets.

Each stage runs in its own child process (``python -m aanwas.stages.bench STAGE OUT``), so
that its peak resident memory, wall and CPU time are the child's own (``os.wait4``). Stages
hand over through files, as the real commands do:

``synth``      generate the synthetic population into ``OUT/data`` (skipped with ``--data``);
``read_floor`` read only the contract columns of every raw table with pyarrow (the floor of
               the feature stage: no validation, no features);
``features``   ``aanwas features`` (read + validate, build, write ``OUT/work``);
``train``      ``aanwas train`` with FIXED LightGBM settings (no tuning, evaluation gates off);
``hgb``        reference: scikit-learn HistGradientBoostingClassifier with the same settings on
               the same rows, AUC beside LightGBM's (one thread each);
``export``     score with the registered models, aggregate, disclosure control, write the
               area tables of every period (``OUT/exports``);
``monitor``    drift between the last two reference dates (outcome share: since the training period).

Person-level data stay under ``OUT/data`` and ``OUT/work``; the result JSON holds timings,
memory, row counts and AUCs only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aanwas.config import AppConfig, load_config

STAGES = ("synth", "read_floor", "features", "train", "hgb", "export", "monitor")
#: The whole pipeline of the budget (synth and tuning are outside it; hgb is a reference).
PIPELINE = ("features", "train", "export", "monitor")
#: Overrides that make training a fixed-hyperparameter fit (the benchmark never tunes).
FIXED_TRAINING = ("training.tuning.enabled=false", "training.promotion.run_evaluation_gates=false")
#: National-scale targets at scale 1.0 on 2 cores (seconds; memory in MB; benchmarks/README.md).
TARGET_SECONDS = {"features": 120.0, "train": 480.0, "export": 60.0, "pipeline": 900.0}
TARGET_PEAK_RSS_MB = 12 * 1024
#: At every scale: the export stage costs at most this many times the fixed-parameter training
#: stage of the same run, in wall and in CPU time (issue #15).
TARGET_EXPORT_PER_TRAIN = 1.5
ARGS_FILE = "bench_args.json"
STAGE_DIR = "stages"


def _layout(out: Path, data: Path | None) -> dict[str, Path]:
    root = Path(data) if data is not None else out / "data"
    return {
        "data": root,
        "raw": root / "raw",
        "work": out / "work",
        "exports": out / "exports",
        "mlflow": out / "mlflow",
    }


def bench_mlflow_uri(out: Path) -> str:
    """Tracking URI of the benchmark's own MLflow store under ``OUT`` (``OUT/mlflow/mlflow.db``).

    Pinned, never taken from ``$MLFLOW_TRACKING_URI``: a benchmark must not log into a real store.
    Public so that scripts in ``benchmarks/`` read the models a ``bench`` run registered.
    """
    from training.tracking import SQLITE_DB, sqlite_uri

    return sqlite_uri(_layout(out, None)["mlflow"] / SQLITE_DB)


# --- stage bodies (run in the child) -------------------------------------------------------


def _stage_synth(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    from aanwas.stages.synth import write_synth
    from features.sources.synth import generate

    t0 = time.perf_counter()
    result = generate(cfg.synth)
    t_gen = time.perf_counter() - t0
    write_synth(result, paths["data"])
    return {
        "seconds_generate": round(t_gen, 2),
        "rows": {name: len(df) for name, df in result.raw.items()},
    }


def _stage_read_floor(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from features.contract import TABLES

    rows = {}
    for name, spec in TABLES.items():
        path = paths["raw"] / f"{name}.parquet"
        if not path.exists():
            continue
        present = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in spec.column_names if c in present])
        rows[name] = table.num_rows
        del table
    return {"rows": rows, "n_rows": sum(rows.values())}


def _stage_features(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    from aanwas.stages.features import run_features

    summary = run_features(cfg, paths["raw"], paths["work"])
    return {
        "n_rows": summary["n_rows"],
        "seconds_read_validate": summary["seconds_read"],
        "seconds_build": summary["seconds_build"],
    }


def _stage_train(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    from aanwas.stages.train import run_train

    summary = run_train(cfg, paths["work"], mlflow_uri=bench_mlflow_uri(out))
    return {
        "auc": {b: round(v["metrics"]["lightgbm"]["auc"], 4) for b, v in summary["bands"].items()},
        "auc_logreg": {b: round(v["metrics"]["logreg"]["auc"], 4) for b, v in summary["bands"].items()},
        "split": {b: v["split"] for b, v in summary["bands"].items()},
    }


def _stage_hgb(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    from aanwas.stages.features import load_feature_table
    from features.catalogue import feature_columns
    from training.fit import resolve_features
    from training.splits import build_temporal_splits, stratified_subsample

    tcfg, lgb = cfg.training, cfg.training.lightgbm
    frame, _audit = load_feature_table(paths["work"])
    del _audit
    splits = build_temporal_splits(frame, tcfg.bands, tcfg.split)
    auc, seconds, n_train = {}, {}, {}
    for band in tcfg.bands:
        cols = list(resolve_features(frame, band, tcfg, feature_columns))
        parts = {p: splits[band].select(frame, p) for p in ("train", "tune", "test")}
        X = {p: df.loc[:, cols] for p, df in parts.items()}
        y = {p: df["label"].astype("bool").to_numpy(dtype=np.int8) for p, df in parts.items()}
        del parts
        keep = stratified_subsample(y["train"], tcfg.max_train_rows, tcfg.seed)  # the rows LightGBM gets
        X["train"], y["train"] = X["train"].iloc[keep], y["train"][keep]
        model = HistGradientBoostingClassifier(
            learning_rate=lgb.learning_rate,
            max_iter=lgb.n_estimators,
            max_leaf_nodes=lgb.num_leaves,
            min_samples_leaf=lgb.min_child_samples,
            l2_regularization=lgb.reg_lambda,
            early_stopping=lgb.early_stopping_rounds > 0,
            n_iter_no_change=max(lgb.early_stopping_rounds, 1),
            random_state=tcfg.seed,
        )
        t0 = time.perf_counter()
        with threadpool_limits(limits=max(lgb.n_jobs, 1)):  # the same threads as LightGBM
            model.fit(X["train"], y["train"], X_val=X["tune"], y_val=y["tune"])
            seconds[band] = round(time.perf_counter() - t0, 2)
            auc[band] = round(float(roc_auc_score(y["test"], model.predict_proba(X["test"])[:, 1])), 4)
        n_train[band] = int(y["train"].size)
    return {"auc": auc, "seconds_fit": seconds, "n_train": n_train}


def _stage_export(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    import shutil

    from aanwas.common.compute import executor
    from aanwas.stages.features import load_coverage
    from aanwas.stages.steps import (
        AREA_SUMS_STORE,
        DISCLOSURE_STORE,
        area_sums_store,
        check_sums,
        covered_scope,
        disclosure_store,
        registry_area_sums,
        write_periods,
    )
    from monitoring.publishing.disclosure import suppression_by_level

    # always cold: results of an earlier run are removed first; this run's are kept, so that
    # a later `aanwas export` on OUT/work measures a refresh (docs/dev/performance.md)
    for kept in (DISCLOSURE_STORE, AREA_SUMS_STORE):
        shutil.rmtree(paths["work"] / kept, ignore_errors=True)

    cfg, geography = covered_scope(cfg, load_coverage(paths["work"]))  # a region's export covers it only
    # where the heavy work runs, as in `aanwas export`: scoring per reference date and disclosure
    # control per period on the cluster of compute.scheduler, else scoring here and the audits in
    # monitoring.disclosure.audit_jobs local processes (automatic: this process for tables of every-buurt size)
    with executor(cfg.compute, local_workers=cfg.monitoring.disclosure.audit_jobs) as ex:
        t0, c0 = time.perf_counter(), time.process_time()
        scored, version = registry_area_sums(
            cfg,
            paths["work"],
            geography,
            mlflow_uri=bench_mlflow_uri(out),
            store=area_sums_store(paths["work"]),
            executor=ex if cfg.compute.scheduler else None,
        )
        t1, c1 = time.perf_counter(), time.process_time()
        found = check_sums(cfg.monitoring, scored, geography, store=disclosure_store(paths["work"]), executor=ex)
        loss = suppression_by_level(found.areas, found.checked)
        checked, periods, fingerprint, n_rows = found.checked, found.periods, found.fingerprint, found.n_rows
        del found  # the confidential area table: only shares per level leave
        t2, c2 = time.perf_counter(), time.process_time()
    write_periods(cfg.monitoring, paths["exports"], periods, checked, version, fingerprint)
    t3, c3 = time.perf_counter(), time.process_time()
    return {
        "n_rows": n_rows,
        "finest_level": cfg.monitoring.aggregate.finest_level,
        "n_cells": int(checked.report["n_cells"]),
        "lp_audit": str(checked.report["audit"]),
        "n_periods": len(periods),
        "seconds_score": round(t1 - t0, 2),
        "seconds_aggregate_disclosure": round(t2 - t1, 2),
        "seconds_write": round(t3 - t2, 2),
        # CPU of this process only (the disclosure audit's worker processes, local or on the
        # cluster, are not in it)
        "cpu_seconds_score": round(c1 - c0, 2),
        "cpu_seconds_aggregate_disclosure": round(c2 - c1, 2),
        "cpu_seconds_write": round(c3 - c2, 2),
        "audit_certified_by": str(checked.report.get("audit_certified_by", "")),
        "levels_not_published": str(checked.report.get("levels_not_published", "")),
        # information loss of the latest period per level: share of cells suppressed by the
        # primary rule, on top of it (secondary suppression, audit repairs), and not published for
        # another reason (a level left out; n_elevated below `elevated_levels`)
        "suppressed_latest": {
            f"{r.area_level} {r.measure}": {
                "primary": round(r.primary, 4),
                "secondary": round(r.secondary, 4),
                "not_published": round(r.not_published, 4),
            }
            for r in loss[loss["period"] == periods[-1]].itertuples()
        },
    }


def _stage_monitor(cfg: AppConfig, out: Path, paths: dict[str, Path]) -> dict[str, Any]:
    from aanwas.stages.monitor import run_monitor

    # the command's own path: drift of features, prevalence and the champion's scores, MLflow
    res = run_monitor(cfg, out / "monitor", work=paths["work"], mlflow_uri=bench_mlflow_uri(out))
    return {
        "ref_dates": [res.reference.date().isoformat(), res.current.date().isoformat()],
        "retrain_recommended": bool(res.drift.retrain_recommended),
        "with_scores": bool(len(res.drift.scores)),
    }


_BODIES: dict[str, Callable[[AppConfig, Path, dict[str, Path]], dict[str, Any]]] = {
    "synth": _stage_synth,
    "read_floor": _stage_read_floor,
    "features": _stage_features,
    "train": _stage_train,
    "hgb": _stage_hgb,
    "export": _stage_export,
    "monitor": _stage_monitor,
}


def _child(stage: str, out: Path) -> None:
    """Entry point of one stage's child process: run it, write ``OUT/stages/<stage>.json``."""
    args = json.loads((out / ARGS_FILE).read_text(encoding="utf-8"))
    cfg = load_config(Path(args["config"]) if args["config"] else None, args["overrides"])
    paths = _layout(out, Path(args["data"]) if args["data"] else None)
    t0 = time.perf_counter()
    detail = _BODIES[stage](cfg, out, paths)
    detail["seconds_in_stage"] = round(time.perf_counter() - t0, 2)
    (out / STAGE_DIR / f"{stage}.json").write_text(json.dumps(detail, indent=2), encoding="utf-8")


# --- parent: run, measure, summarise --------------------------------------------------------


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def _run_child(stage: str, out: Path) -> dict[str, Any]:
    load_before = _load1()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "aanwas.stages.bench", stage, str(out)])
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    row: dict[str, Any] = {
        "stage": stage,
        "exit_code": proc.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "load_1m_before": load_before,
        "load_1m_after": _load1(),
    }
    detail_path = out / STAGE_DIR / f"{stage}.json"
    if proc.returncode == 0 and detail_path.exists():
        row["detail"] = json.loads(detail_path.read_text(encoding="utf-8"))
    return row


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> dict[str, Any]:
    import lightgbm
    import pandas
    import sklearn

    mem_kb = (
        next(
            (
                int(line.split()[1])
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        if Path("/proc/meminfo").exists()
        else 0
    )
    return {
        "cpus": os.cpu_count(),
        "mem_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__,
        "nice": os.nice(0),
    }


def _verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["stage"]: r for r in rows if r["exit_code"] == 0}
    out: dict[str, Any] = {}
    for name in ("features", "train", "export"):
        if name in by:
            out[name] = {
                "seconds": by[name]["wall_s"],
                "target": TARGET_SECONDS[name],
                "met": by[name]["wall_s"] <= TARGET_SECONDS[name],
            }
    if all(s in by for s in PIPELINE):
        total = round(sum(by[s]["wall_s"] for s in PIPELINE), 2)
        out["pipeline"] = {
            "seconds": total,
            "target": TARGET_SECONDS["pipeline"],
            "met": total <= TARGET_SECONDS["pipeline"],
        }
    if "train" in by and "export" in by:
        wall, cpu = (by["export"][k] / max(by["train"][k], 1e-9) for k in ("wall_s", "cpu_s"))
        out["export_per_train"] = {
            "wall": round(wall, 2),
            "cpu": round(cpu, 2),
            "target": TARGET_EXPORT_PER_TRAIN,
            "met": max(wall, cpu) <= TARGET_EXPORT_PER_TRAIN,
        }
    peak = max((r["peak_rss_mb"] for r in by.values()), default=0.0)
    out["peak_rss_mb"] = {"value": peak, "target": TARGET_PEAK_RSS_MB, "met": peak <= TARGET_PEAK_RSS_MB}
    return out


def format_table(result: dict[str, Any]) -> str:
    """A short fixed-width table of the result (one line per stage, then the verdicts)."""
    lines = [
        f"aanwas bench: scale {result['scale']}, seed {result['seed']}, {result['machine']['cpus']} cores, "
        f"commit {result['commit']}",
        f"{'stage':<12}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}{'load':>6}  detail",
    ]
    for r in result["stages"]:
        d = r.get("detail", {})
        if r["stage"] == "features" and d:
            note = f"{d['n_rows']:,} rows; read+validate {d['seconds_read_validate']} s, build {d['seconds_build']} s"
        elif r["stage"] in ("train", "hgb") and d:
            note = "AUC " + " ".join(f"{b} {a:.3f}" for b, a in d["auc"].items())
        elif r["stage"] == "export" and d:
            note = (
                f"{d['finest_level']}: score {d['seconds_score']} s, aggregate+disclosure "
                f"{d['seconds_aggregate_disclosure']} s, write {d['seconds_write']} s; LP {d['lp_audit']}"
            )
        elif r["stage"] == "synth" and "reused" in r:
            note = f"reused {r['reused']}"
        elif "n_rows" in d:
            note = f"{d['n_rows']:,} rows"
        else:
            note = "" if r["exit_code"] == 0 else f"FAILED (exit {r['exit_code']})"
        lines.append(
            f"{r['stage']:<12}{r['wall_s']:>9.1f}{r['cpu_s']:>9.1f}{r['peak_rss_mb']:>9.0f}"
            f"{r['load_1m_before']:>6.1f}  {note}"
        )
    if result.get("region"):
        lines.append(f"(the targets are for the whole country at scale 1.0; this run is the region {result['region']})")
    elif result["scale"] != 1.0:
        lines.append(f"(the targets are for scale 1.0; this run is scale {result['scale']})")
    for name, v in result["targets"].items():
        if name == "export_per_train":
            lines.append(
                f"target export / train <= {v['target']} at any scale (same run): {v['wall']:.2f} wall, "
                f"{v['cpu']:.2f} CPU, {'met' if v['met'] else 'MISSED'}"
            )
        elif name == "peak_rss_mb":
            lines.append(f"target peak RSS <= {v['target']} MB: {v['value']:.0f} MB, {'met' if v['met'] else 'MISSED'}")
        else:
            lines.append(
                f"target {name} <= {v['target']:.0f} s: {v['seconds']:.1f} s, {'met' if v['met'] else 'MISSED'}"
            )
    return "\n".join(lines)


def run_bench(
    scale: float,
    seed: int,
    out: Path,
    *,
    data: Path | None = None,
    config: Path | None = None,
    overrides: Sequence[str] = (),
    stages: Sequence[str] = STAGES,
    echo: Callable[[str], None] | None = None,
    table: bool = True,
) -> dict[str, Any]:
    """Run the benchmark; write ``OUT/bench-scale<S>-seed<N>.json`` and return the result.

    ``echo`` gets one line per stage as it ends and, with ``table``, the final table.

    ``data`` reuses an existing synthetic delivery (``DIR/raw``) instead of generating one.
    ``overrides`` are ``--set`` items applied after the fixed-training ones. Stops at the first
    stage that fails (later stages need its files).

    Raises
    ------
    ConfigError
        For an unknown stage or an invalid override (checked before anything runs).
    """
    from aanwas.common.errors import ConfigError

    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError("bench.stages", f"unknown stage {unknown[0]!r} (known: {list(STAGES)})")
    out = Path(out).resolve()
    all_overrides = [*FIXED_TRAINING, *overrides, f"synth.scale={scale}", f"synth.seed={seed}", f"training.seed={seed}"]
    cfg = load_config(config, all_overrides)  # fail early on a bad override
    (out / STAGE_DIR).mkdir(parents=True, exist_ok=True)
    args = {
        "config": str(config) if config else None,
        "overrides": all_overrides,
        "data": str(Path(data).resolve()) if data else None,
    }
    (out / ARGS_FILE).write_text(json.dumps(args, indent=2), encoding="utf-8")
    result: dict[str, Any] = {
        "scale": scale,
        "seed": seed,
        "region": list(cfg.synth.region),  # empty: the whole country
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": _machine(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "overrides": all_overrides,
        "stages": [],
    }
    for stage in stages:
        if stage == "synth" and data is not None:
            result["stages"].append(
                {
                    "stage": "synth",
                    "exit_code": 0,
                    "wall_s": 0.0,
                    "cpu_s": 0.0,
                    "peak_rss_mb": 0.0,
                    "load_1m_before": _load1(),
                    "load_1m_after": _load1(),
                    "reused": str(data),
                }
            )
            continue
        row = _run_child(stage, out)
        result["stages"].append(row)
        if echo is not None:
            echo(f"{stage}: {row['wall_s']} s wall, {row['peak_rss_mb']:.0f} MB peak, load {row['load_1m_before']}")
        if row["exit_code"] != 0:
            break
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = _verdicts(result["stages"])
    (out / f"bench-scale{scale}-seed{seed}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    if echo is not None and table:
        echo(format_table(result))
    return result


if __name__ == "__main__":  # child process of one stage
    _child(sys.argv[1], Path(sys.argv[2]))
