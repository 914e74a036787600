"""Ceiling of the wijk-level correlation with the true OFFENDING risk for one age band.

    python benchmarks/area_accuracy_ceiling.py WORLD [--band 8-12] [--extras] [--set key=value ...]

``WORLD`` is an ``aanwas synth --out`` directory after ``aanwas features --data WORLD/raw --work
WORLD/work``. Every candidate below is scored on the same rows (the band's uncensored reference
dates) and goes through the export's aggregation (shrinkage included) and is compared with the true area
risk as in :func:`area_accuracy.measure_area_accuracy`; ``published`` = not suppressed
in the pattern of all bands' person counts (the same for every candidate). The figure is the
correlation of wijk ``risk_mean`` with the true area offending risk over published wijken.

Candidates:

* ``production``: :func:`area_accuracy.score_feature_table` (the band's calibrated
  LightGBM trained on labels; ``training.tuning.n_trials=4`` unless ``--set`` says otherwise);
* ``ceiling``: LightGBM (cross-entropy on a probability target) on the band's catalogue inputs,
  trained on the TRUE person offending risk, cross-fitted over two halves of the persons: the
  best function of the current inputs, within learning error;
* ``ceiling+extras`` (``--extras``): the same with candidate inputs that are not in the catalogue
  (siblings' registrations, Halt, VSV and youth care; parents' full debt and suspect history;
  number of youth care trajectories), all strictly before the reference date;
* ``oracle``: the true person risk itself (the area's raw mean is then the truth exactly; what
  remains is the shrinkage); ``oracle_no_interventions`` and ``oracle_no_latent``: the true risk
  with the intervention hazard ratios set to 1 / the latent vulnerability set to 0, i.e. what is
  lost by not seeing interventions / ``z``; ``observable``: ``true_label_risk(basis="observable")``;
* ``FORBIDDEN ceiling+deprivation(+iv)``: the ceiling learner with the buurt's true deprivation
  (area composition) and a flag for the gemeenten of interventions in the band, read from
  ``WORLD/truth``: inputs the product forbids, measured only to show what the gap is made of.

Truth is read here for measurement only; the pipeline never reads it. Numbers: docs/dev/accuracy.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from area_accuracy import TRUTH_BASIS, score_feature_table, true_risk_of_rows

from aanwas.config import load_config
from aanwas.stages.features import load_feature_table
from features.catalogue import feature_columns
from features.geography import load_geography
from features.sources.readers import load_mapping, read_delivery
from features.timeline import NO_DAY, RefDate, build_timeline
from monitoring.publishing.accuracy import area_risk_accuracy, true_area_risk
from monitoring.publishing.aggregate import aggregate_areas
from monitoring.publishing.disclosure import suppress_area_table

KEYS = ["period", "area_level", "area_code", "age_band"]
BASE = ['monitoring.aggregate.finest_level="wijk"', "monitoring.disclosure.audit=false", "training.tuning.n_trials=4"]


def true_risk(person_year: pd.DataFrame, rows: pd.DataFrame, cfg, basis: str = TRUTH_BASIS) -> np.ndarray:
    """True offending risk (no detection) of ``rows`` (rinpersoon, ref_date); NaN without a truth row."""
    return true_risk_of_rows(person_year, rows, cfg.features.labels, with_detection=False, basis=basis).to_numpy()


def extra_inputs(raw: Path, rows: pd.DataFrame, cfg) -> pd.DataFrame:
    """Candidate inputs outside the catalogue, per row of ``rows``, strictly before the reference date."""
    delivery = read_delivery(raw, load_mapping(None), cfg.contract)
    tl = build_timeline(delivery.tables, pd.Index(load_geography().hierarchy()["buurt"].to_numpy()))
    links = pd.DataFrame({"child": tl.child, "parent": tl.parent})
    sib = links.merge(links, on="parent", suffixes=("", "_sib"))
    sib = sib[sib["child"] != sib["child_sib"]][["child", "child_sib"]].drop_duplicates()
    a, b = sib["child"].to_numpy(), sib["child_sib"].to_numpy()
    n = tl.n

    def any_sibling(flag: np.ndarray) -> np.ndarray:
        return np.bincount(a[flag[b]], minlength=n) > 0

    out = []
    for d, part in rows.groupby("ref_date", sort=True):
        day = RefDate(pd.Timestamp(d)).day
        susp = tl.suspects.count_before(n, day)
        care = tl.youth_care.count_started_between(n, NO_DAY + 1, day)
        debt = tl.debt.count_started_between(n, NO_DAY + 1, day)
        cols = {
            "x_sib_suspect": any_sibling(susp > 0),
            "x_sib_n_suspect": np.bincount(a, weights=susp[b], minlength=n),
            "x_sib_halt": any_sibling(tl.halt.count_before(n, day) > 0),
            "x_sib_vsv": any_sibling(tl.vsv.count_before(n, day) > 0),
            "x_sib_youth_care": any_sibling(care > 0),
            "x_n_siblings": np.bincount(a, minlength=n),
            "x_parent_n_debt": np.bincount(tl.child, weights=debt[tl.parent], minlength=n),
            "x_parent_n_suspect": np.bincount(tl.child, weights=susp[tl.parent], minlength=n),
            "x_n_youth_care": care,
        }
        pos = tl.persons.locate(part["rinpersoon"].to_numpy(), "feature table", "rinpersoon")
        out.append(pd.DataFrame({k: np.asarray(v, np.float32)[pos] for k, v in cols.items()}, index=part.index))
    return pd.concat(out).reindex(rows.index)


def publication_status(full: pd.DataFrame, cfg, band: str) -> pd.DataFrame:
    """``status`` of the band's areas in the export's suppression pattern, from all bands' rows.

    The pattern depends on person counts only (all bands and the band total take part, so it
    must see every band); the score is a placeholder.
    """
    acfg = cfg.monitoring.aggregate
    frame = full[["ref_date", "age_band", "buurt", "wijk", "gemeente"]].assign(score=0.01)
    areas = aggregate_areas(frame, load_geography(), acfg)
    total = acfg.band_total_label if acfg.include_band_total else None
    table = suppress_area_table(areas, cfg.monitoring.disclosure, total_band=total).table
    return table.loc[table["age_band"].astype(str) == band, [*KEYS, "status"]]


def cross_fit_on_truth(X: pd.DataFrame, target: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions of a LightGBM fitted to the true risk, two halves of the persons."""
    fold = (pd.util.hash_array(persons) % 2).astype(int)
    known = ~np.isnan(target)
    pred = np.full(len(X), np.nan)
    for k in (0, 1):
        fit = (fold != k) & known
        model = lgb.LGBMRegressor(
            objective="cross_entropy",
            n_estimators=600,
            learning_rate=0.05,
            num_leaves=31,
            min_child_samples=100,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.9,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(X[fit], target[fit])
        pred[fold == k] = model.predict(X[fold == k])
    return pred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("world", type=Path)
    ap.add_argument("--band", default="8-12")
    ap.add_argument(
        "--extras", action="store_true", help="also the ceiling with candidate inputs outside the catalogue"
    )
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", type=Path, help="write the accuracy rows of every candidate as CSV")
    args = ap.parse_args()
    band, world = args.band, args.world
    cfg = load_config(None, [*BASE, f'training.bands=["{band}"]', *args.overrides])
    t0 = time.time()
    full, _ = load_feature_table(world / "work")
    frame = full[(full["age_band"] == band)]
    scores = score_feature_table(cfg, frame)
    keep = scores["label"].notna().to_numpy()
    scores, frame = scores[keep].reset_index(drop=True), frame[keep].reset_index(drop=True)
    print(f"production fitted and scored: {len(scores):,} rows, {time.time() - t0:.0f} s", flush=True)
    status = publication_status(full[full["ref_date"].isin(scores["ref_date"].unique())], cfg, band)
    del full

    person_year = pd.read_parquet(world / "truth" / "person_year.parquet")
    truth = true_risk(person_year, scores, cfg)
    cand = {"production": scores["score"].to_numpy(), "oracle": truth}
    cand["oracle_no_interventions"] = true_risk(person_year.assign(hazard_ratio=np.float32(1)), scores, cfg)
    cand["oracle_no_latent"] = true_risk(person_year.assign(latent_z=np.float32(0)), scores, cfg)
    cand["observable"] = true_risk(person_year, scores, cfg, basis="observable")
    X = frame[feature_columns(band)].copy()
    ids = frame["rinpersoon"].to_numpy()
    cand["ceiling"] = cross_fit_on_truth(X, truth, ids)
    if args.extras:
        extra = extra_inputs(world / "raw", frame[["rinpersoon", "ref_date"]], cfg)
        cand["ceiling+extras"] = cross_fit_on_truth(pd.concat([X, extra], axis=1), truth, ids)
    world_areas = pd.read_parquet(world / "truth" / "areas.parquet")
    deprivation = world_areas[world_areas["area_level"] == "buurt"].set_index("area_code")["deprivation"]
    X["FORBIDDEN_deprivation"] = frame["buurt"].astype(str).map(deprivation).to_numpy()
    cand["FORBIDDEN ceiling+deprivation"] = cross_fit_on_truth(X, truth, ids)
    ivs = pd.read_csv(world / "truth" / "interventions.csv")
    treated = {c for row in ivs.itertuples() if band in row.age_bands.split(";") for c in row.area_codes.split(";")}
    X["FORBIDDEN_iv"] = (
        frame["gemeente"].astype(str).isin(treated) | frame["wijk"].astype(str).isin(treated)
    ).to_numpy(float)
    cand["FORBIDDEN ceiling+deprivation+iv"] = cross_fit_on_truth(X, truth, ids)
    print(f"candidates ready, {time.time() - t0:.0f} s", flush=True)

    geography = load_geography()
    acfg = cfg.monitoring.aggregate
    persons = scores[["ref_date", "age_band", "buurt"]].assign(true_risk=truth)
    true_areas = true_area_risk(persons, geography, dataclasses.replace(acfg, include_band_total=False))
    known = ~np.isnan(truth)
    rows = []
    for name, s in cand.items():
        s = np.clip(np.where(np.isnan(s), np.nanmean(s), s), 0.0, 1.0)  # a few rows without a truth row
        areas = aggregate_areas(scores.drop(columns=["rinpersoon"]).assign(score=s), geography, acfg)
        areas = areas[areas["age_band"].astype(str) == band].merge(status, on=KEYS, how="left")
        acc = area_risk_accuracy(areas, true_areas, level="wijk").assign(candidate=name)
        rows.append(acc)
        p = acc[acc["subset"] == "published"]
        print(
            f"{name:34s} published wijken {p['n_areas'].min()}-{p['n_areas'].max()}: corr "
            f"{p['corr'].min():.3f}-{p['corr'].max():.3f}, weighted {p['corr_weighted'].min():.3f}-"
            f"{p['corr_weighted'].max():.3f}, unshrunk {p['corr_raw'].min():.3f}-{p['corr_raw'].max():.3f}; "
            f"person-level corr with the true risk {np.corrcoef(s[known], truth[known])[0, 1]:.3f}",
            flush=True,
        )
    if args.out:
        pd.concat(rows, ignore_index=True).to_csv(args.out, index=False)
    print(f"done, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
