"""Coverage of the area intervals of the true area risk, per band and level, for config variants.

    python benchmarks/area_interval_coverage.py score WORLD SCORES [--set key=value ...]
    python benchmarks/area_interval_coverage.py measure SCORES [SCORES ...] [--variant NAME key=value ...]

``WORLD`` is an ``aanwas synth --out`` directory after ``aanwas features --data WORLD/raw --work
WORLD/work``. ``score`` fits and scores every row as the export does
(:func:`area_accuracy.score_feature_table`, no MLflow; ``training.tuning.n_trials=4``
unless ``--set`` says otherwise) and attaches each row's true registration risk on the
reference-date basis (``true_registration``, the table's target) and the realised basis
(``true_realised``). ``SCORES`` is therefore a PERSON-LEVEL file: keep it in scratch and delete it
after use.

``measure`` aggregates each scores file with :func:`monitoring.publishing.aggregate.aggregate_areas` under
the default :class:`~monitoring.config.AggregateConfig` (variant ``default``) and under each
``--variant NAME key=value ...`` (``AggregateConfig`` fields, e.g. ``area_error_model=single``),
applies the suppression pattern (:func:`monitoring.publishing.disclosure.suppress_area_table`, audit off: it
only adds suppressions; the pattern depends on counts only, so it is computed once) and measures
:func:`monitoring.publishing.accuracy.area_risk_accuracy` per level (gemeente, wijk, buurt) against
``true_registration`` and ``true_realised``. It prints, per truth, variant, level, subset and band,
the range over the uncensored periods and worlds of the coverage counted per area (``cov``) and
weighted by young people (``cov_w``), the median interval width and the number of areas, and
writes the per-period rows to ``SCORES.coverage.csv`` next to the first scores file (aggregates
only). Numbers: docs/dev/accuracy.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from pathlib import Path

import pandas as pd
from area_accuracy import score_feature_table, true_risk_of_rows

from aanwas.config import load_config
from aanwas.stages.features import load_feature_table
from features.geography import load_geography
from monitoring.config import AggregateConfig
from monitoring.publishing.accuracy import area_risk_accuracy, true_area_risk
from monitoring.publishing.aggregate import aggregate_areas
from monitoring.publishing.disclosure import suppress_area_table

KEYS = ["period", "area_level", "area_code", "age_band"]
LEVELS = ("gemeente", "wijk", "buurt")
TRUTHS = {"registration": "true_registration", "realised": "true_realised"}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def score(world: Path, out: Path, overrides: list[str]) -> None:
    """Score every row of the world's feature table and attach the true risks (person level)."""
    cfg = load_config(None, ["training.tuning.n_trials=4", *overrides])
    frame, _audit = load_feature_table(world / "work")
    scores = score_feature_table(cfg, frame)
    del frame
    person_year = pd.read_parquet(world / "truth" / "person_year.parquet")
    labels = cfg.features.labels
    scores["true_registration"] = true_risk_of_rows(person_year, scores, labels, with_detection=True).to_numpy()
    scores["true_realised"] = true_risk_of_rows(
        person_year, scores, labels, with_detection=True, basis="realised"
    ).to_numpy()
    scores.drop(columns=["rinpersoon"]).to_parquet(out)
    print(f"{len(scores):,} rows -> {out}; cpu {_cpu():.0f} s")


def _parse_value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _variants(specs: list[list[str]]) -> dict[str, AggregateConfig]:
    out = {"default": AggregateConfig()}
    for spec in specs:
        name, *pairs = spec
        kw = {k: _parse_value(v) for k, v in (p.split("=", 1) for p in pairs)}
        out[name] = AggregateConfig(**kw)
    return out


def measure_world(path: Path, variants: dict[str, AggregateConfig]) -> pd.DataFrame:
    """Per-period coverage rows of one scored world for every variant, level and truth."""
    cfg = load_config(None, ["monitoring.disclosure.audit=false"])
    geography = load_geography()
    scores = pd.read_parquet(path)
    inputs = scores[["ref_date", "age_band", "buurt", "wijk", "gemeente", "label", "score"]]
    base = AggregateConfig()
    truths = {}
    for name, col in TRUTHS.items():
        persons = scores[["ref_date", "age_band", "buurt"]].assign(true_risk=scores[col])
        truths[name] = true_area_risk(persons, geography, dataclasses.replace(base, include_band_total=False))
    status = None
    rows = []
    for vname, acfg in variants.items():
        t0, c0 = time.perf_counter(), _cpu()
        areas = aggregate_areas(inputs, geography, acfg)
        took = (time.perf_counter() - t0, _cpu() - c0)
        if status is None:
            total = acfg.band_total_label if acfg.include_band_total else None
            checked = suppress_area_table(areas, cfg.monitoring.disclosure, total_band=total)
            status = checked.table[[*KEYS, "status"]]
        areas = areas.merge(status, on=KEYS, how="left")
        for tname, truth in truths.items():
            for level in LEVELS:
                acc = area_risk_accuracy(areas, truth, level=level)
                rows.append(acc.assign(world=str(path), variant=vname, truth=tname, level=level))
        print(f"  {path} {vname}: aggregate_areas {took[0]:.1f} s wall, {took[1]:.1f} s cpu", flush=True)
    return pd.concat(rows, ignore_index=True)


def summarise(acc: pd.DataFrame) -> pd.DataFrame:
    """Range over periods and worlds per truth, variant, level, subset and band."""
    acc = acc[acc["n_areas"] > 0]
    grp = acc.groupby(["truth", "variant", "level", "subset", "age_band"], sort=False)

    def rng(col: str) -> pd.Series:
        return grp[col].min().map("{:.2f}".format) + "-" + grp[col].max().map("{:.2f}".format)

    return pd.DataFrame(
        {
            "cov": rng("coverage"),
            "cov_w": rng("coverage_weighted"),
            "width": grp["mean_width"].median().map("{:.4f}".format),
            "areas": grp["n_areas"].median().round().astype(int),
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sc = sub.add_parser("score")
    sc.add_argument("world", type=Path)
    sc.add_argument("out", type=Path)
    sc.add_argument("--set", action="append", default=[], dest="overrides")
    me = sub.add_parser("measure")
    me.add_argument("scores", type=Path, nargs="+")
    me.add_argument("--variant", action="append", nargs="+", default=[])
    args = parser.parse_args(argv)
    if args.cmd == "score":
        score(args.world, args.out, args.overrides)
        return
    variants = _variants(args.variant)
    acc = pd.concat([measure_world(p, variants) for p in args.scores], ignore_index=True)
    acc.to_csv(args.scores[0].with_suffix(".coverage.csv"), index=False)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 1000)
    print(summarise(acc).to_string())
    print(f"cpu {_cpu():.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
