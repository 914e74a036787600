"""Stage wiring of ``aanwas synth``: generate, then write raw/ and truth/ atomically."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from aanwas.common.io import atomic_dir
from aanwas.config import AppConfig
from aanwas.stages.progress import progress_bar
from features.sources.synth import SynthResult, generate


def write_synth(result: SynthResult, out: Path) -> None:
    """Write ``out/raw`` (contract tables as Parquet, interventions.csv, delivery.toml) and
    ``out/truth`` (truth tables), each directory atomically."""
    with atomic_dir(out / "raw") as raw:
        for name, df in result.raw.items():
            df.to_parquet(raw / f"{name}.parquet", index=False)
        ivs = result.interventions[["intervention_id", "name", "area_codes", "age_bands", "start_date"]].copy()
        ivs["start_date"] = ivs["start_date"].dt.strftime("%Y-%m-%d")
        ivs.to_csv(raw / "interventions.csv", index=False)
        meta = (
            "# Delivery metadata: the last day the data cover (labels past it are censored).\n"
            f"observation_end = {result.observation_end.isoformat()}\n"
        )
        if result.coverage:
            meta += (
                "# The delivery covers these gemeenten only (a region); the exports cover them only.\n"
                f"coverage = [{', '.join(json.dumps(c) for c in result.coverage)}]\n"
                f"coverage_name = {json.dumps(result.coverage_name, ensure_ascii=False)}\n"
            )
        (raw / "delivery.toml").write_text(meta, encoding="utf-8")
    with atomic_dir(out / "truth") as truth:
        for name, df in result.truth.items():
            if name == "interventions":
                df.to_csv(truth / "interventions.csv", index=False)
            else:
                df.to_parquet(truth / f"{name}.parquet", index=False)
        (truth / "README.txt").write_text(
            "Known truth of the synthetic world: for tests and benchmarks only. See docs/synthetic.md.\n",
            encoding="utf-8",
        )


def run_synth(cfg: AppConfig, out: Path, console: Console, log: Console | None = None) -> SynthResult:
    """Generate the synthetic population of ``cfg.synth`` and write it under ``out``; the
    summary goes to ``console`` (the result), the progress bar to ``log`` (default: ``console``)."""
    with progress_bar(console if log is None else log, "synth") as tick:
        result = generate(cfg.synth, progress=tick)
    write_synth(result, Path(out))
    counts = {name: len(df) for name, df in result.raw.items()}
    where = f"region {result.coverage_name} ({len(result.coverage)} gemeenten)" if result.coverage else "whole country"
    console.print(
        f"synthetic population ({where}, scale {cfg.synth.scale}, seed {cfg.synth.seed}, "
        f"world profile {cfg.synth.profile}): "
        f"{counts['persons']:,} persons, data up to {result.observation_end}; "
        f"inputs in {Path(out) / 'raw'}, truth in {Path(out) / 'truth'}"
    )
    (Path(out) / "truth" / "row_counts.json").write_text(json.dumps(counts, indent=2), encoding="utf-8")
    return result
