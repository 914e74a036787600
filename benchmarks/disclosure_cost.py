"""Cost and information loss of disclosure control on a real area table, per period.

Two steps (run from a worktree, ``PYTHONPATH=$PWD``):

``table``: score a bench directory's features with its registered models and aggregate them to
areas at a level, writing the CONFIDENTIAL area table to a scratch parquet (it holds small
counts; keep it in the work area, never in the repo)::

    python benchmarks/disclosure_cost.py table --bench OUT --level buurt --area /scratch/area.parquet

``run``: apply ``suppress_area_table`` to each period of that table (one period at a time, in
this process, so the time is one core's) and write a JSON with, per period, wall and CPU
seconds, LPs, counts certified per system and, per area level, the share of cells suppressed
(primary and secondary, for ``n_persons`` and ``n_elevated``). No cell values are written::

    python benchmarks/disclosure_cost.py run --area /scratch/area.parquet --out result.json [--periods 2]

``loss``: the same shares for an export already written (``OUT/<period>/area_risk.csv``) against
the confidential area table it came from::

    python benchmarks/disclosure_cost.py loss --area /scratch/area.parquet --exports OUT --out loss.json

``mean-bound``: how far the published mean chance pins the elevated count. For every cell whose
``n_persons`` passes the threshold (so ``risk_mean`` is published, rounded to
``monitoring.export.decimals``) but whose ``n_elevated`` fails the primary rule (so it would be
hidden), the interval the elevated count can take given only ``n_persons`` and the rounded mean:
each elevated young person has a chance of at least the threshold ``t``, every other one less,
so ``(n m - t n) / (1 - t) < e <= n m / t``. Writes, per level, the share of such cells whose
interval is narrower than the protection level, and how often it proves ``e = 0``::

    python benchmarks/disclosure_cost.py mean-bound --area /scratch/area.parquet --out bound.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _table(bench: Path, level: str, area_path: Path) -> None:
    from aanwas.config import load_config
    from aanwas.stages.bench import ARGS_FILE, bench_mlflow_uri
    from aanwas.stages.steps import registry_area_sums
    from features.geography import load_geography
    from monitoring.publishing.aggregate import area_table

    args = json.loads((bench / ARGS_FILE).read_text(encoding="utf-8"))
    overrides = [*args["overrides"], f'monitoring.aggregate.finest_level="{level}"']
    cfg = load_config(Path(args["config"]) if args["config"] else None, overrides)
    geography = load_geography()
    scored, _ = registry_area_sums(cfg, bench / "work", geography, mlflow_uri=bench_mlflow_uri(bench))
    areas = area_table(scored.sums, geography, cfg.monitoring.aggregate)
    areas.to_parquet(area_path)
    print(f"{len(areas):,} area cells, {areas['period'].nunique()} periods -> {area_path}")


def _loss(cells: pd.DataFrame, published: pd.DataFrame, min_cell: int) -> dict[str, dict[str, float]]:
    """Share of cells suppressed per level: primary (fails the threshold itself) and secondary."""
    n = cells["n_persons"].to_numpy()
    e = cells["n_elevated"].to_numpy()
    prim_n = n < min_cell
    prim_e = prim_n | (e < min_cell) | (n - e < min_cell)
    h_n = published["n_persons"].isna().to_numpy()
    h_e = published["n_elevated"].isna().to_numpy()
    out = {}
    for level in cells["area_level"].unique():
        at = (cells["area_level"] == level).to_numpy()
        k = int(at.sum())
        out[str(level)] = {
            "cells": k,
            "n_persons_primary": round(float(prim_n[at].sum()) / k, 4),
            "n_persons_secondary": round(float((h_n & ~prim_n)[at].sum()) / k, 4),
            "n_elevated_primary": round(float(prim_e[at].sum()) / k, 4),
            "n_elevated_secondary": round(float((h_e & ~prim_e)[at].sum()) / k, 4),
        }
    return out


def _run(area_path: Path, out: Path, n_periods: int | None, overrides: list[str]) -> None:
    from aanwas.config import load_config
    from monitoring.publishing.disclosure import suppress_area_table

    cfg = load_config(None, overrides)
    dcfg = cfg.monitoring.disclosure
    total = cfg.monitoring.aggregate.band_total_label
    areas = pd.read_parquet(area_path)
    periods = sorted(areas["period"].astype(str).unique())
    if n_periods:
        periods = periods[-n_periods:]
    rows = []
    for period in periods:
        cells = areas[areas["period"].astype(str) == period].reset_index(drop=True)
        t0, c0 = time.perf_counter(), time.process_time()
        checked = suppress_area_table(cells, dcfg, total_band=total)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        pub = checked.table
        key = cells["area_code"].astype(str) + "|" + cells["age_band"].astype(str)
        # rows of a level left out (min_level_published) come back blank: hidden
        pub = pub.set_index(pub["area_code"].astype(str) + "|" + pub["age_band"].astype(str)).reindex(key)
        row = {
            "period": period,
            "n_cells": len(cells),
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "report": {k: v for k, v in checked.report.items() if not isinstance(v, float)}
            | {"audit_seconds": round(float(checked.report.get("audit_seconds", 0.0)), 1)},
            "suppressed_share": _loss(cells, pub.reset_index(drop=True), dcfg.min_cell_size),
        }
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("period", "n_cells", "wall_s", "cpu_s")}), flush=True)
    result = {
        "area_table": str(area_path),
        "overrides": overrides,
        "load_average": os.getloadavg(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "periods": rows,
        "mean_wall_s_per_period": round(float(np.mean([r["wall_s"] for r in rows])), 1),
        "mean_cpu_s_per_period": round(float(np.mean([r["cpu_s"] for r in rows])), 1),
    }
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"-> {out}")


def _export_loss(area_path: Path, exports: Path, out: Path) -> None:
    from monitoring.config import DisclosureConfig

    areas = pd.read_parquet(area_path)
    rows = {}
    for period in sorted(areas["period"].astype(str).unique()):
        cells = areas[areas["period"].astype(str) == period].reset_index(drop=True)
        pub = pd.read_csv(exports / period / "area_risk.csv", dtype={"area_code": str, "age_band": str})
        pub = pub.set_index(pub["area_code"] + "|" + pub["age_band"])
        pub = pub.loc[cells["area_code"].astype(str) + "|" + cells["age_band"].astype(str)].reset_index(drop=True)
        rows[period] = _loss(cells, pub, DisclosureConfig().min_cell_size)
    out.write_text(json.dumps({"area_table": str(area_path), "exports": str(exports), "periods": rows}, indent=2))
    print(json.dumps(rows[max(rows)], indent=1))


def _mean_bound(area_path: Path, out: Path) -> None:
    from aanwas.config import load_config

    cfg = load_config(None, [])
    dcfg, thr = cfg.monitoring.disclosure, cfg.monitoring.aggregate.elevated_threshold
    half = 0.5 * 10.0**-cfg.monitoring.export.decimals  # the published mean's rounding
    areas = pd.read_parquet(area_path)
    n = areas["n_persons"].to_numpy(np.float64)
    e = areas["n_elevated"].to_numpy(np.float64)
    fails = lambda x: (x < dcfg.min_cell_size) | ((x == 0) & dcfg.zeros_disclosive)  # noqa: E731
    cand = ~fails(n) & (fails(e) | fails(n - e))  # mean published, elevated count hidden
    m = np.round(areas["risk_mean_raw"].to_numpy(np.float64), cfg.monitoring.export.decimals)
    hi = np.minimum(n, np.floor(n * (m + half) / thr + 1e-9))
    lo = np.maximum(0.0, np.floor((n * (m - half) - thr * n) / (1.0 - thr) + 1e-9) + 1.0)
    narrow = cand & (hi - lo < dcfg.protection_level)
    level = areas["area_level"].astype(str).to_numpy()
    rows = {}
    for lv in pd.unique(level):
        at = cand & (level == lv)
        k = int(at.sum())
        rows[str(lv)] = {
            "cells_mean_published_elevated_hidden": k,
            "share_narrower_than_protection": round(float(narrow[at].sum()) / max(k, 1), 4),
            "share_proving_zero": round(float((at & (hi < 1)).sum()) / max(k, 1), 4),
        }
    decimals = cfg.monitoring.export.decimals
    result = {"area_table": str(area_path), "threshold": thr, "decimals": decimals, "levels": rows}
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("--bench", type=Path, required=True)
    t.add_argument("--level", default="buurt")
    t.add_argument("--area", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--area", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--periods", type=int, default=None, help="only the last N periods")
    r.add_argument("--set", action="append", default=[], help="config override section.key=value")
    lo = sub.add_parser("loss")
    lo.add_argument("--area", type=Path, required=True)
    lo.add_argument("--exports", type=Path, required=True)
    lo.add_argument("--out", type=Path, required=True)
    mb = sub.add_parser("mean-bound")
    mb.add_argument("--area", type=Path, required=True)
    mb.add_argument("--out", type=Path, required=True)
    a = parser.parse_args()
    if a.cmd == "table":
        _table(a.bench, a.level, a.area)
    elif a.cmd == "mean-bound":
        _mean_bound(a.area, a.out)
    elif a.cmd == "loss":
        _export_loss(a.area, a.exports, a.out)
    else:
        _run(a.area, a.out, a.periods, a.set)


if __name__ == "__main__":
    main()
