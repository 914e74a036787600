"""The ``aanwas`` command line: the composition root's edge (files, printing, exit codes).

Every command reads config through :func:`aanwas.config.load_config`, calls stage entry points
and turns :class:`aanwas.common.errors.AanwasError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from aanwas.common.errors import AanwasError
from aanwas.config import AppConfig, load_config
from aanwas.stages.demo import DEMO_REGION, DEMO_SCALE

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0] if __doc__ else None)
console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file (defaults are embedded).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a setting: section.key=value (repeatable).")]
DataOpt = Annotated[Path, typer.Option("--data", help="Delivery directory (one file per contract table).")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="Column-mapping TOML for a real delivery.")]
_REGION_HELP = (
    "Where the synthetic population lives (synth.region): comma-separated gemeente codes or names, "
    "a veiligheidsregio ('Gooi en Vechtstreek', VR14) or a provincie (Utrecht, PV26); '' = the whole country."
)
RegionOpt = Annotated[str | None, typer.Option("--region", help=_REGION_HELP + " Default: synth.region of the config.")]


def _fail(message: str) -> None:
    # One line, no traceback; no row values ever reach these messages.
    print(f"aanwas: error: {message}", file=sys.stderr)
    raise typer.Exit(code=2)


def handles_errors(fn: F) -> F:
    """Turn AanwasError into one clear line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AanwasError as err:
            _fail(str(err))

    return wrapper  # type: ignore[return-value]


def config_from(config: Path | None, overrides: list[str] | None) -> AppConfig:
    return load_config(config, overrides or ())


def region_override(region: str | None) -> list[str]:
    """``--region`` as a ``synth.region`` override (none when the option is not given)."""
    if region is None:
        return []
    names = [n.strip() for n in region.split(",") if n.strip()]
    return [f"synth.region={json.dumps(names, ensure_ascii=False)}"]


@app.command()
@handles_errors
def synth(
    scale: Annotated[
        float,
        typer.Option(help="Share of the real number of young people: 1.0 = real size (3.4M aged 8-23 in the country)."),
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same population.")] = 1,
    out: Annotated[Path, typer.Option(help="Writes OUT/raw (inputs) and OUT/truth (for tests only).")] = Path(
        "aanwas-synth"
    ),
    region: RegionOpt = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="World profile (synth.profile): 'additive' or 'interactions' (non-additive risk factors; "
            "docs/synthetic.md). Default: synth.profile of the config.",
        ),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Generate a synthetic population with known truth."""
    from aanwas.stages.synth import run_synth

    overrides = [*(set_ or []), f"synth.scale={scale}", f"synth.seed={seed}", *region_override(region)]
    if profile is not None:
        overrides.append(f"synth.profile={json.dumps(profile)}")
    cfg = config_from(config, overrides)
    run_synth(cfg, out, console=console)


@app.command()
@handles_errors
def validate(data: DataOpt, mapping: MappingOpt = None, config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Check a delivery against the input contract and print a summary."""
    from aanwas.stages.validate import run_validate

    run_validate(config_from(config, set_), data, mapping, console=console)


@app.command("features")
@handles_errors
def features_cmd(
    data: DataOpt,
    work: Annotated[
        Path, typer.Option("--work", help="Work directory for person-level intermediates (secure environment only).")
    ],
    mapping: MappingOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Build the person x reference-date feature table and audit frame; cache them in WORK."""
    from aanwas.stages.features import run_features

    run_features(config_from(config, set_), data, work, mapping, console=console)


# --- train / retrain / promote ----------------------------------------------------------------
TrainWorkOpt = Annotated[
    Path, typer.Option("--work", help="Work directory with the cached feature table (secure environment only).")
]
MlflowUriOpt = Annotated[
    str | None,
    typer.Option(
        "--mlflow-uri",
        help="MLflow tracking/registry URI; default: training.mlflow.tracking_uri, then $MLFLOW_TRACKING_URI, "
        "then sqlite:///<WORK>/../mlflow/mlflow.db.",
    ),
]
TruthOpt = Annotated[
    Path | None,
    typer.Option(
        "--truth",
        help="Synthetic truth directory (OUT/truth of 'aanwas synth'): logs oracle AUC and ECE and "
        "measures the training criteria (docs/dev/model_quality.md).",
    ),
]
OverrideOpt = Annotated[
    str | None, typer.Option("--override", help="Reviewer override of the promotion gate: promote or reject.")
]
ReasonOpt = Annotated[
    str | None,
    typer.Option("--override-reason", help="Why the reviewer overrides the gate (required with --override)."),
]


@app.command("train")
@handles_errors
def train_cmd(
    work: TrainWorkOpt,
    mlflow_uri: MlflowUriOpt = None,
    truth: TruthOpt = None,
    override: OverrideOpt = None,
    override_reason: ReasonOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Train per-band models on WORK/features.parquet, track them in MLflow, apply the promotion gate."""
    from aanwas.stages.train import run_train

    run_train(
        config_from(config, set_),
        work,
        mlflow_uri=mlflow_uri,
        truth_dir=truth,
        override=override,
        override_reason=override_reason,
        console=console,
    )


@app.command("retrain")
@handles_errors
def retrain_cmd(
    data: DataOpt,
    work: TrainWorkOpt,
    mapping: MappingOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    truth: TruthOpt = None,
    override: OverrideOpt = None,
    override_reason: ReasonOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Rebuild features from refreshed data, train a challenger, compare it with the champion, apply the gate."""
    from aanwas.stages.train import run_retrain

    run_retrain(
        config_from(config, set_),
        data,
        work,
        mapping,
        mlflow_uri=mlflow_uri,
        truth_dir=truth,
        override=override,
        override_reason=override_reason,
        console=console,
    )


@app.command("promote")
@handles_errors
def promote_cmd(
    work: TrainWorkOpt,
    band: Annotated[str, typer.Option("--band", help="Age band of the registered model, e.g. 8-12.")],
    version: Annotated[str, typer.Option("--version", help="Registered version to make champion.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the reviewer promotes it (recorded; required).")],
    by: Annotated[str | None, typer.Option("--by", help="Who promotes (recorded; default: the login name).")] = None,
    mlflow_uri: MlflowUriOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Reviewer override: make a registered version (e.g. one the gate rejected) champion, with a reason."""
    from aanwas.stages.train import run_promote

    run_promote(
        config_from(config, set_),
        work,
        band=band,
        version=version,
        reason=reason,
        by=by,
        mlflow_uri=mlflow_uri,
        console=console,
    )


# --- audit / report (evaluation) --------------------------------------------------------------
EvalMlflowUriOpt = Annotated[
    str | None,
    typer.Option(
        "--mlflow-uri",
        help="MLflow tracking URI; default as for 'aanwas train' (config, $MLFLOW_TRACKING_URI, SQLite beside WORK).",
    ),
]
EvalWorkOpt = Annotated[
    Path | None, typer.Option("--work", help="Work directory used for training (locates the default SQLite store).")
]


@app.command("audit")
@handles_errors
def audit_cmd(
    scores: Annotated[Path, typer.Option("--scores", help="Scored table (CSV), one row per case.")],
    label: Annotated[str, typer.Option("--label", help="Outcome column (0/1).")],
    score: Annotated[str, typer.Option("--score", help="Score column (numeric).")],
    threshold: Annotated[float, typer.Option("--threshold", help="Positive prediction = score >= threshold.")],
    group: Annotated[list[str], typer.Option("--group", help="Group column to audit by (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="Writes OUT/fairness.json and OUT/fairness.html.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Fairness audit of any scored table: rates, disparities and verdicts per group."""
    from aanwas.stages.evaluate import run_audit

    run_audit(
        config_from(config, set_),
        scores=scores,
        label=label,
        score=score,
        threshold=threshold,
        groups=group,
        out=out,
        console=console,
    )


@app.command("report")
@handles_errors
def report_cmd(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Writes OUT/<model>-v<version>/review_pack.html and model_card.md per registered model version.",
        ),
    ],
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Training run: a review pack for every model version it registered."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Registered model name (e.g. aanwas-13-19); with --version.")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Registered model version; with --model.")] = None,
    mlflow_uri: EvalMlflowUriOpt = None,
    work: EvalWorkOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Review pack for ethics reviewers, per registered model version: writes
    OUT/<model>-v<version>/review_pack.html (self-contained, print-ready, works offline; the
    verdict of every audit first) and OUT/<model>-v<version>/model_card.md."""
    from aanwas.stages.evaluate import run_report

    run_report(
        config_from(config, set_),
        run_id=run_id,
        model=model,
        version=version,
        out=out,
        mlflow_uri=mlflow_uri,
        work=work,
        console=console,
    )


# --- monitor (drift and the retrain verdict) --------------------------------------------------
RefDateOpt = Annotated[
    list[str] | None,
    typer.Option("--ref-date", help="Reference and current date for drift (give twice; default: the last two)."),
]


@app.command("monitor")
@handles_errors
def monitor_cmd(
    work: Annotated[Path, typer.Option("--work", help="Work directory with the cached feature table.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the drift report (replaced atomically).")],
    ref_date: RefDateOpt = None,
    mlflow_uri: Annotated[
        str | None, typer.Option("--mlflow-uri", help="MLflow URI for the drift run (default as for 'train').")
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Drift between two reference dates and a retrain verdict, logged to MLflow (trends,
    effects and the dashboard are written by 'export')."""
    from aanwas.stages.monitor import run_monitor

    run_monitor(config_from(config, set_), out, work=work, ref_dates=ref_date, mlflow_uri=mlflow_uri, console=console)


# --- export (area risk with disclosure control) -----------------------------------------------
@app.command("export")
@handles_errors
def export_cmd(
    work: Annotated[Path, typer.Option("--work", help="Work directory with the cached feature table.")],
    out: Annotated[Path, typer.Option("--out", help="Exports directory: writes OUT/<period>/.")] = Path("exports"),
    mlflow_uri: Annotated[
        str | None, typer.Option("--mlflow-uri", help="MLflow tracking URI (default as for train).")
    ] = None,
    alias: Annotated[str, typer.Option(help="Registry alias of the models that score.")] = "champion",
    data: Annotated[
        Path | None, typer.Option("--data", help="The delivery: adds observed-rate trends and intervention effects.")
    ] = None,
    mapping: MappingOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Score with the registered models, aggregate to areas, apply disclosure control, and
    write area risk, trends, intervention effects and the dashboard for every period."""
    from aanwas.stages.export import run_full_export

    cfg = config_from(config, set_)
    run_full_export(cfg, work, out, data=data, mapping=mapping, mlflow_uri=mlflow_uri, alias=alias, console=console)


# --- bench (national scale) -------------------------------------------------------------------
@app.command("bench")
@handles_errors
def bench_cmd(
    scale: Annotated[float, typer.Option(help="Size of the synthetic population (1.0 = national).")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed of the population and the models.")] = 1,
    out: Annotated[Path, typer.Option(help="Everything is written under OUT; the result in OUT/bench-*.json.")] = Path(
        "aanwas-bench"
    ),
    data: Annotated[
        Path | None, typer.Option("--data", help="Reuse a synthetic delivery (DIR of 'aanwas synth --out DIR').")
    ] = None,
    stage: Annotated[list[str] | None, typer.Option("--stage", help="Run only these stages (repeatable).")] = None,
    region: RegionOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Time every stage (synth, features, fixed-parameter training, export, drift) with peak memory."""
    from aanwas.stages.bench import STAGES, run_bench

    overrides = [*(set_ or []), *region_override(region)]
    run_bench(scale, seed, out, data=data, config=config, overrides=overrides, stages=stage or STAGES, echo=print)


# --- demo ---------------------------------------------------------------------------------------
@app.command()
@handles_errors
def demo(
    scale: Annotated[
        float,
        typer.Option(
            help="Share of the real number of young people in the region: 1.0 = as many as live there. "
            "With --region '' (the whole country) 1.0 is 3.4M young people: use 0.01 for a demo."
        ),
    ] = DEMO_SCALE,
    seed: Annotated[int, typer.Option(help="Random seed of the population and the models.")] = 1,
    out: Annotated[Path, typer.Option(help="Everything is written under OUT.")] = Path("aanwas-demo"),
    region: Annotated[str, typer.Option("--region", help=_REGION_HELP)] = ",".join(DEMO_REGION),
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Run every stage end to end on a synthetic region at its real density (synth -> ... -> export)."""
    from aanwas.stages.demo import demo_settings, run_demo

    cfg = config_from(config, demo_settings(scale, seed, region_override(region), set_ or []))
    run_demo(cfg, out, console=console)


def main() -> None:
    """Console-script entry point."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # quiet store/migration notices
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for noisy in ("mlflow", "alembic", "optuna", "lightgbm"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
