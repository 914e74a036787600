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
controls): the same as estimating it next to the registry. Numbers in docs/dev/accuracy.md.

    python benchmarks/intervention_calibration.py panels WORLD...
    python benchmarks/intervention_calibration.py runs WORLD... [--outcome label|offences] [--set ...]

``panels`` builds each world's wijk outcome panels once (both outcomes: the bands' label
offences and all offences) from the raw parquet files (synthetic worlds are valid by
construction, so the contract check of ``read_delivery`` is skipped) and the true effect of
every intervention on each outcome from ``truth/person_year.parquet`` (treated person-years:
``h_any / hazard_ratio * (hazard_ratio - 1) * p_detect``, times ``share_drug`` for bands whose
label is drug law), into ``WORLD/calib/``. ``runs`` estimates the registry's effects on those
panels (many configurations can be compared without rebuilding panels) and reports coverage of
the true effects and rejection rates of the in-time placebos.

    python benchmarks/intervention_calibration.py scmfakes N_WIJKEN WORLD...

``scmfakes``: each of the N largest untreated wijken of every world (cached panels) as a fake
single-wijk intervention (13-19 from 2020): rejection rates of synthetic control and its
in-time placebo under no effect.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aanwas.config import load_config
from aanwas.stages.export import run_effects
from aanwas.stages.steps import intervention_registry
from features.config import BAND_LIMITS
from features.geography import load_geography
from features.sources.readers import load_mapping, read_delivery
from monitoring.effects.interventions import (
    PLACEBO_SPACE,
    build_outcome_panel,
    estimate_intervention_effects,
    expand_treated_areas,
    outcome_offences,
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
        cached = d / "calib" / f"panel_{icfg.outcome}.parquet"
        if cached.exists():  # from the ``panels`` mode
            panel = pd.read_parquet(cached)
            reg = pd.read_csv(d / "calib" / "registry.csv", dtype="str")
        else:
            delivery = _delivery(d, cfg)
            panel = build_outcome_panel(delivery.tables, geo, icfg, observation_end=delivery.observation_end)
            reg = intervention_registry(delivery.interventions)
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


def _true_effects(world: Path, label_offences: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """True ATT per intervention (per 1,000 per year) on both outcomes, from the person-year truth."""
    ivs = pd.read_csv(world / "truth" / "interventions.csv")
    py = pd.read_parquet(
        world / "truth" / "person_year.parquet", columns=["age", "h_any", "hazard_ratio", "share_drug", "p_detect"]
    )
    py = py[py["hazard_ratio"] != 1.0]
    drug_band = {b: tuple(o) == ("opiumwet",) for b, o in label_offences.items()}
    age = py["age"].to_numpy()
    drug = np.zeros(len(py), dtype=bool)
    for b, (lo, hi) in BAND_LIMITS.items():
        drug |= drug_band[b] & (age >= lo) & (age <= hi)
    hr = py["hazard_ratio"].to_numpy(float)
    delta = py["h_any"].to_numpy(float) / hr * (hr - 1.0) * py["p_detect"].to_numpy(float)
    share = np.where(drug, py["share_drug"].to_numpy(float), 1.0)
    rows = []
    for r in ivs.itertuples():
        m = np.isclose(hr, r.hazard_ratio)
        n = int(m.sum())
        rows.append(
            {
                "intervention_id": r.intervention_id,
                "true_offences": 1000 * delta[m].sum() / n if n else 0.0,
                "true_label": 1000 * (delta * share)[m].sum() / n if n else 0.0,
            }
        )
    return pd.DataFrame(rows)


def build_panels(worlds: list[Path], icfg, outcomes: tuple[str, ...]) -> None:
    geo = load_geography()
    for d in worlds:
        t = time.time()
        out = d / "calib"
        out.mkdir(exist_ok=True)
        tables = {n: pd.read_parquet(d / "raw" / f"{n}.parquet") for n in ("persons", "addresses", "suspects")}
        obs_end = pd.Timestamp(tables["addresses"]["date_start"].max()).replace(month=12, day=31).date()
        for outcome in outcomes:
            cfg = dataclasses.replace(icfg, outcome=outcome)
            panel = build_outcome_panel(tables, geo, cfg, observation_end=obs_end)
            panel.to_parquet(out / f"panel_{outcome}.parquet", index=False)
        _true_effects(d, outcome_offences(icfg)).to_csv(out / "truth.csv", index=False)
        pd.read_csv(d / "raw" / "interventions.csv").to_csv(out / "registry.csv", index=False)
        print(d.name, "panels in", round(time.time() - t), "s", flush=True)


def runs(worlds: list[Path], icfg, outcome: str) -> pd.DataFrame:
    geo = load_geography()
    rows = []
    for d in worlds:
        c = d / "calib"
        if not (c / "truth.csv").exists():
            continue
        panel = pd.read_parquet(c / f"panel_{outcome}.parquet")
        reg = pd.read_csv(c / "registry.csv", dtype="str")
        truth = pd.read_csv(c / "truth.csv").set_index("intervention_id")[f"true_{outcome}"]
        res = estimate_intervention_effects(reg, panel, geo, dataclasses.replace(icfg, outcome=outcome))
        for r in res.effects.itertuples():
            target = 0.0 if r.method.startswith("placebo") else float(truth[r.intervention_id])
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
    return pd.DataFrame(rows)


def scm_fakes(worlds: list[Path], icfg, n_wijken: int, year: int) -> pd.DataFrame:
    """Each of the ``n_wijken`` largest untreated wijken of every world as a fake single-wijk
    intervention (13-19, from ``year``): synthetic control and its in-time placebo under no effect."""
    geo = load_geography()
    rows = []
    for d in worlds:
        panel = pd.read_parquet(d / "calib" / f"panel_{icfg.outcome}.parquet")
        reg = pd.read_csv(d / "calib" / "registry.csv", dtype="str")
        real = expand_treated_areas(parse_registry(reg, geo), geo, icfg.panel_level)
        panel = panel[~panel["area_code"].isin(set(real["area_code"]))]
        sizes = panel[panel["age_band"] == "13-19"].groupby("area_code")["n_persons"].mean()
        for i, wk in enumerate(sizes.sort_values(ascending=False).index[:n_wijken]):
            fake = pd.DataFrame(
                [
                    {
                        "intervention_id": f"S{i}",
                        "name": "fake",
                        "area_codes": wk,
                        "age_bands": "13-19",
                        "start_date": f"{year}-01-01",
                    }
                ]
            )
            e = estimate_intervention_effects(fake, panel, geo, icfg).effects
            rows.append(e[~e["method"].str.startswith(PLACEBO_SPACE)].assign(world=d.name))
    e = pd.concat(rows, ignore_index=True)
    return e.assign(reject=~((e["ci_low"] <= 0) & (e["ci_high"] >= 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["coverage", "fakes", "panels", "runs", "scmfakes"])
    ap.add_argument("--outcome", choices=["label", "offences", "both"], default="label", help="outcome of the panels")
    ap.add_argument("args", nargs="+", help="[N_FAKE] WORLD...")
    ap.add_argument("--set", action="append", default=[], help="interventions config override key=value")
    ap.add_argument("--seed", type=int, default=11, help="seed of the fake placements")
    ap.add_argument("--csv", type=Path, help="write the per-row results here")
    a = ap.parse_args()
    cfg = load_config(None, [])
    mcfg = cfg.monitoring.monitor
    icfg = mcfg.interventions
    for kv in a.set:
        k, v = kv.split("=", 1)
        kind = type(getattr(icfg, k))
        icfg = dataclasses.replace(icfg, **{k: (v.lower() == "true") if kind is bool else kind(v)})
    mcfg = dataclasses.replace(mcfg, interventions=icfg)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    if a.mode == "panels":
        build_panels([Path(x) for x in a.args], icfg, ("label", "offences") if a.outcome == "both" else (a.outcome,))
        return
    if a.mode == "scmfakes":
        res = scm_fakes([Path(x) for x in a.args[1:]], icfg, int(a.args[0]), 2020)
        print(res.groupby("method")["reject"].agg(["mean", "sum", "size"]))
        return
    if a.mode == "runs":
        res = runs([Path(x) for x in a.args], icfg, a.outcome)
        kind = res["method"].str.split(":").str[0]
        print(res.assign(kind=kind).groupby("kind")["covered"].agg(["mean", "sum", "size"]))
        print(res.assign(kind=kind).groupby(["kind", "iv"])["covered"].agg(["mean", "sum", "size"]))
        if a.csv:
            res.to_csv(a.csv, index=False)
        return
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
