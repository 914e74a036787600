"""Intervention effects on synthetic worlds: coverage of the injected effects and calibration.

    python benchmarks/intervention_calibration.py coverage WORLD...
    python benchmarks/intervention_calibration.py fakes N_FAKE WORLD... [--set key=value ...]

``WORLD`` is an ``aanwas synth --out`` directory (``raw/`` and ``truth/``). ``coverage`` runs
``run_effects`` with the default monitor config and compares every interval with
``truth/interventions.csv`` (``true_att_reg_per_1000``; 0 for placebos). ``fakes`` places
``N_FAKE`` fake interventions (no effect) with the real registry's shapes (3 gemeenten 13-19,
2 gemeenten 13-19;20-23, 2 gemeenten 8-12;13-19, 2 gemeenten 13-19, every fifth a single large
wijk for synthetic control) in untreated large gemeenten, one at a time, and reports how often
each method's 95 % interval excludes 0. Each fake is estimated on the panel without the real
interventions' areas (every real intervention includes band 13-19, so its areas are never
controls): the same as estimating it next to the registry. Numbers in docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aanwas.config import load_config
from aanwas.stages.monitor import monitor_config, run_effects
from features.geography import load_geography
from features.sources.readers import load_mapping, read_delivery
from monitoring.interventions import (
    build_outcome_panel,
    estimate_intervention_effects,
    expand_treated_areas,
    parse_registry,
)

SHAPES = [(3, "13-19", 2019), (2, "13-19;20-23", 2020), (2, "8-12;13-19", 2018), (2, "13-19", 2021)]


def _delivery(world: Path, cfg):
    return read_delivery(world / "raw", load_mapping(None), cfg.contract)


def coverage(worlds: list[Path], cfg, mcfg) -> pd.DataFrame:
    rows = []
    for d in worlds:
        t = time.time()
        eff, skipped, _ = run_effects(_delivery(d, cfg), mcfg)
        truth = pd.read_csv(d / "truth" / "interventions.csv")
        m = eff.merge(truth[["intervention_id", "true_att_reg_per_1000"]], on="intervention_id")
        for r in m.itertuples():
            target = 0.0 if r.method.startswith("placebo") else r.true_att_reg_per_1000
            rows.append(
                {
                    "world": d.name,
                    "iv": r.intervention_id,
                    "method": r.method,
                    "estimate": r.estimate,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "target": target,
                    "covered": bool(r.ci_low <= target <= r.ci_high),
                }
            )
        if len(skipped):
            print(d.name, "skipped:", skipped.to_dict("records"))
        print(d.name, "effects in", round(time.time() - t), "s", flush=True)
    return pd.DataFrame(rows)


def fakes(worlds: list[Path], n_fake: int, cfg, icfg, seed: int) -> pd.DataFrame:
    geo = load_geography()
    h = geo.hierarchy()
    wk_gm = h.drop_duplicates("wijk").set_index("wijk")["gemeente"]
    out = []
    for d in worlds:
        t0 = time.time()
        delivery = _delivery(d, cfg)
        panel = build_outcome_panel(delivery.tables, geo, icfg, observation_end=delivery.observation_end)
        reg = delivery.interventions.astype({c: "str" for c in ("intervention_id", "name", "area_codes", "age_bands")})
        real = expand_treated_areas(parse_registry(reg, geo), geo, icfg.panel_level)
        used_gm = set(wk_gm.reindex(real["area_code"]).dropna())
        panel = panel[~panel["area_code"].isin(set(real["area_code"]))]
        sizes = panel[panel["age_band"] == "13-19"].groupby("area_code")["n_persons"].mean()
        gm_size = sizes.groupby(wk_gm.reindex(sizes.index).to_numpy()).sum().sort_values(ascending=False)
        big = [g for g in gm_size.index[:49] if g not in used_gm][:40]
        big_wk = sizes.sort_values(ascending=False).index[:40].tolist()
        rng = np.random.default_rng(seed)
        for i in range(n_fake):
            k, bands, year = SHAPES[i % len(SHAPES)]
            codes = [str(c) for c in rng.choice(big, k, replace=False)]
            if i % 5 == 4:
                codes, bands, year = [str(rng.choice(big_wk))], "13-19", 2020
            fake = pd.DataFrame(
                [
                    {
                        "intervention_id": f"F{i:03d}",
                        "name": "fake",
                        "area_codes": ";".join(codes),
                        "age_bands": bands,
                        "start_date": f"{year}-01-01",
                    }
                ]
            )
            e = estimate_intervention_effects(fake, panel, geo, icfg).effects
            out.append(e.assign(world=d.name, codes=";".join(codes)))
        print(d.name, n_fake, "fakes in", round(time.time() - t0), "s", flush=True)
    e = pd.concat(out, ignore_index=True)
    return e.assign(reject=~((e["ci_low"] <= 0) & (e["ci_high"] >= 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["coverage", "fakes"])
    ap.add_argument("args", nargs="+", help="[N_FAKE] WORLD...")
    ap.add_argument("--set", action="append", default=[], help="interventions config override key=value")
    ap.add_argument("--seed", type=int, default=11, help="seed of the fake placements")
    ap.add_argument("--csv", type=Path, help="write the per-row results here")
    a = ap.parse_args()
    cfg = load_config(None, [])
    mcfg = monitor_config(cfg)
    icfg = mcfg.interventions
    for kv in a.set:
        k, v = kv.split("=", 1)
        kind = type(getattr(icfg, k))
        icfg = dataclasses.replace(icfg, **{k: (v.lower() == "true") if kind is bool else kind(v)})
    mcfg = dataclasses.replace(mcfg, interventions=icfg)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    if a.mode == "coverage":
        res = coverage([Path(x) for x in a.args], cfg, mcfg)
        print(res.round(2).to_string(index=False))
        print(
            res.assign(kind=res["method"].str.split(":").str[0]).groupby("kind")["covered"].agg(["mean", "sum", "size"])
        )
    else:
        res = fakes([Path(x) for x in a.args[1:]], int(a.args[0]), cfg, icfg, a.seed)
        print(res.groupby("method")["reject"].agg(["mean", "sum", "size"]))
        print(res.groupby(["method", "world"])["reject"].agg(["mean", "sum", "size"]))
    if a.csv:
        res.to_csv(a.csv, index=False)


if __name__ == "__main__":
    main()
