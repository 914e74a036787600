"""Gap between the production model's wijk correlation and the ceiling of its inputs (#6, #20).

    python benchmarks/area_accuracy_gap.py WORLD [WORLD ...] [--band B ...] [--set key=value ...]
        [--tolerance 0.02] [--cache DIR] [--out CSV]

The owner's target (#20): the wijk-level correlation of ``risk_mean`` with the true area
offending risk lies within ``--tolerance`` (0.02) of the ceiling the allowed inputs can reach,
in every band, at scale >= 0.1, for two seeds. ``WORLD`` is an ``aanwas synth --out`` directory
after ``aanwas features --data WORLD/raw --work WORLD/work`` (one per seed).

Per world and band, on the same rows (the band's uncensored reference dates), with the same
aggregation (:func:`monitoring.publishing.aggregate.aggregate_areas`), the same published wijken (the
suppression pattern of all bands' person counts, identical for every candidate) and the same
correlation (:func:`monitoring.publishing.accuracy.area_risk_accuracy`, Pearson over published wijken,
unweighted; ``corr_weighted`` weights by young people):

* ``ceiling``: LightGBM fitted to the TRUE person offending risk on the band's catalogue inputs,
  cross-fitted over two halves of the persons (``area_accuracy_ceiling.cross_fit_on_truth``);
* ``model``: the production model, :func:`training.fit.fit_band` with the configuration's
  defaults (``--set`` to change them): the family it chooses by evidence (the logistic
  regression unless LightGBM is better beyond its paired interval), scoring every row;
* ``logreg``: the calibrated logistic regression :func:`~training.fit.fit_band` fits beside it
  (a reading, not a product output);
* ``oracle``: the true person risk itself (1 unshrunk; shows the measure's own limit);
* ``label_ceiling`` (``--label-ceiling``): the ceiling learner fitted instead to the true
  REGISTRATION risk on the realised path (``basis="realised"``: detection where the person lives
  and the situation as it develops over the horizon), i.e. the expectation of the label itself:
  the best a model trained on labels can approach with unlimited labels.

The band's figure is the mean over its periods of the per-period correlation; ``gap`` =
ceiling - model; ``pass`` when ``gap <= tolerance``. ``worst`` is the largest per-period gap.
Prints one line per world and band, plus the CPU time of the production fit. Truth is read for
measurement only. ``--cache DIR`` keeps the (person-level, synthetic) ceiling scores between
runs so that variants of the training defaults only refit the model: keep DIR in scratch.
Numbers: docs/dev/accuracy.md, "Area accuracy against the ceiling".
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from area_accuracy import true_risk_of_rows  # noqa: E402
from area_accuracy_ceiling import KEYS, cross_fit_on_truth, publication_status, true_risk  # noqa: E402

from aanwas.config import load_config  # noqa: E402
from aanwas.stages.features import load_feature_table  # noqa: E402
from aanwas.stages.train import catalogue_inputs  # noqa: E402
from features.catalogue import feature_columns  # noqa: E402
from features.geography import load_geography  # noqa: E402
from models.bundle import ModelBundle  # noqa: E402
from models.scoring import score_frame  # noqa: E402
from monitoring.publishing.accuracy import area_risk_accuracy, true_area_risk  # noqa: E402
from monitoring.publishing.aggregate import aggregate_areas  # noqa: E402
from training.fit import fit_band, resolve_features  # noqa: E402
from training.splits import build_temporal_splits  # noqa: E402

BASE = ['monitoring.aggregate.finest_level="wijk"', "monitoring.disclosure.audit=false"]
ROW_KEYS = ["rinpersoon", "ref_date", "age_band", "buurt", "wijk", "gemeente", "label"]
TOLERANCE = 0.02  # the owner's target (#20)


def fit_and_score(cfg, full: pd.DataFrame, band: str) -> tuple[pd.DataFrame, dict]:
    """Production fit of ``band`` (``fit_band``, the code ``aanwas train`` runs) and its scores.

    Returns the band's uncensored rows with ``model`` and ``logreg`` scores, and fit facts.
    """
    tcfg = cfg.training
    frame = full[full["age_band"] == band]
    split = build_temporal_splits(frame, [band], tcfg.split)[band]
    columns_of, flags = catalogue_inputs()
    features = resolve_features(frame, band, tcfg, columns_of)
    cpu0, wall0 = time.process_time(), time.time()
    fitted = fit_band(frame, split, features, tcfg, flags=None if tcfg.flag_columns else flags)
    cpu, wall = time.process_time() - cpu0, time.time() - wall0
    frame = frame[frame["label"].notna()]
    out = frame[ROW_KEYS].copy()
    # "model" is what `aanwas train` registers: the family chosen by evidence (training.family)
    for name, model in (("model", fitted.chosen), ("logreg", "logreg")):
        out[name] = score_frame(ModelBundle({band: fitted.models[model]}), frame).to_numpy()
    facts = {
        "fit_cpu_s": cpu,
        "fit_wall_s": wall,
        "test_auc": fitted.metrics[fitted.chosen]["auc"],
        "family": fitted.chosen,
        "test_auc_logreg": fitted.metrics["logreg"]["auc"],
        "best_iteration": fitted.lightgbm_params.get("best_iteration"),
        "train_dates": split.describe()["train_dates"],
    }
    return out.reset_index(drop=True), facts


def ceiling_scores(
    cfg, world: Path, full: pd.DataFrame, band: str, cache: Path | None, *, label_ceiling: bool = False
) -> pd.DataFrame:
    """Uncensored rows of ``band`` with ``truth`` (offending), the ``ceiling`` and, if asked, the
    ``label_ceiling`` (cached per world and band)."""
    path = None if cache is None else cache / f"{world.name}-{band}-ceiling.parquet"
    frame = full[(full["age_band"] == band) & full["label"].notna()].reset_index(drop=True)
    X = frame[feature_columns(band)]
    if path is not None and path.exists():
        rows = pd.read_parquet(path)
        if not label_ceiling or "label_ceiling" in rows:
            return rows
    else:
        rows = frame[ROW_KEYS].copy()
    person_year = pd.read_parquet(world / "truth" / "person_year.parquet")
    ids = rows["rinpersoon"].to_numpy()
    if "ceiling" not in rows:
        rows["truth"] = true_risk(person_year, rows, cfg)
        rows["ceiling"] = cross_fit_on_truth(X, rows["truth"].to_numpy(), ids)
    if label_ceiling:
        labels = cfg.features.labels
        expected = true_risk_of_rows(person_year, rows, labels, with_detection=True, basis="realised").to_numpy()
        rows["label_ceiling"] = cross_fit_on_truth(X, expected, ids)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(path)
    return rows


def band_accuracy(cfg, rows: pd.DataFrame, status: pd.DataFrame, band: str, candidates: list[str]) -> pd.DataFrame:
    """Published-wijk accuracy rows of every candidate column of ``rows`` (one aggregation each)."""
    geography = load_geography()
    acfg = cfg.monitoring.aggregate
    persons = rows[["ref_date", "age_band", "buurt"]].assign(true_risk=rows["truth"].to_numpy())
    truth = true_area_risk(persons, geography, dataclasses.replace(acfg, include_band_total=False))
    base = rows[["ref_date", "age_band", "buurt", "wijk", "gemeente", "label"]]
    out = []
    for name in candidates:
        s = rows[name].to_numpy(float)
        s = np.clip(np.where(np.isnan(s), np.nanmean(s), s), 0.0, 1.0)  # rows without a truth row
        areas = aggregate_areas(base.assign(score=s), geography, acfg)
        areas = areas[areas["age_band"].astype(str) == band].merge(status, on=KEYS, how="left")
        acc = area_risk_accuracy(areas, truth, level="wijk")
        out.append(acc[acc["subset"] == "published"].assign(candidate=name))
    return pd.concat(out, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("worlds", type=Path, nargs="+")
    ap.add_argument("--band", dest="bands", action="append", help="default: every band of training.bands")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--tolerance", type=float, default=TOLERANCE)
    ap.add_argument("--label-ceiling", action="store_true", help="also the ceiling of what labels measure")
    ap.add_argument("--cache", type=Path, help="keep the ceiling scores here (person-level: scratch only)")
    ap.add_argument("--out", type=Path, help="write every per-period accuracy row as CSV")
    args = ap.parse_args()
    cfg = load_config(None, [*BASE, *args.overrides])
    bands = args.bands or list(cfg.training.bands)
    results, failed = [], 0
    print("world band  ceiling  model  gap  worst  pass | logreg  oracle | weighted: ceiling model | fit CPU s")
    for world in args.worlds:
        full, _ = load_feature_table(world / "work")
        for band in bands:
            ceiling = ceiling_scores(cfg, world, full, band, args.cache, label_ceiling=args.label_ceiling)
            scored, facts = fit_and_score(cfg, full, band)
            rows = ceiling.merge(scored[["rinpersoon", "ref_date", "model", "logreg"]], on=["rinpersoon", "ref_date"])
            rows["oracle"] = rows["truth"]
            dates = full["ref_date"].isin(rows["ref_date"].unique())
            status = publication_status(full[dates], cfg, band)
            extra = ["label_ceiling"] if args.label_ceiling else []
            acc = band_accuracy(cfg, rows, status, band, ["ceiling", "model", "logreg", "oracle", *extra])
            acc = acc.assign(world=str(world), **{k: v for k, v in facts.items() if k != "train_dates"})
            results.append(acc)
            wide = acc.pivot_table(index="period", columns="candidate", values=["corr", "corr_weighted"])
            gaps = wide["corr"]["ceiling"] - wide["corr"]["model"]
            m = wide.mean()
            ok = gaps.mean() <= args.tolerance
            failed += not ok
            print(
                f"{world.name} {band:5s}  {m['corr', 'ceiling']:.3f}  {m['corr', 'model']:.3f}  {gaps.mean():+.3f}"
                f"  {gaps.max():+.3f}  {'pass' if ok else 'FAIL'}"
                f" | {m['corr', 'logreg']:.3f}  {m['corr', 'oracle']:.3f}"
                f" | {m['corr_weighted', 'ceiling']:.3f} {m['corr_weighted', 'model']:.3f}"
                + (f" | label ceiling {m['corr', 'label_ceiling']:.3f}" if extra else "")
                + f" | {facts['fit_cpu_s']:.0f} (periods {len(gaps)}, wijken {acc['n_areas'].min()}-"
                f"{acc['n_areas'].max()}, train dates {facts['train_dates']}, test AUC {facts['test_auc']:.4f})",
                flush=True,
            )
            if args.out:  # after every band: a long run keeps what it measured
                pd.concat(results, ignore_index=True).to_csv(args.out, index=False)
    print(f"{failed} band(s) outside {args.tolerance} of the ceiling")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
