"""aanwas: area-level risk that young people are drawn into crime, for prevention planning.

From a pseudonymised delivery to exports that passed disclosure control: validate, features,
train, report, export, monitor. Every command has --help; `aanwas demo` runs them all on
synthetic data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from rich.console import Console

from aanwas.common.errors import AanwasError
from aanwas.config import AppConfig, load_config
from aanwas.stages.demo import DEMO_REGION, DEMO_SCALE

EXIT_CODES = """Output: the result of a command (a summary, a table, the files written) goes to stdout;
progress, notes and errors go to stderr, so `aanwas validate ... > summary.txt` keeps the
summary only. --quiet: no progress or notes; --json: the result as one JSON document on stdout.

Exit codes: 0 done (a promotion gate that rejects a model is a result, not a failure: read the
summary); 1 the output check ('aanwas check', or the demo's) found a problem, or any other
failure (a bug: the traceback is on stderr); 2 bad input, a bad setting or a bad option (one
line on stderr, nothing written)."""

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=__doc__,
    epilog=EXIT_CODES,
    rich_markup_mode=None,
)
F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML file with the settings you change (defaults: built in).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="SECTION.KEY=VALUE", help="Change one setting, e.g. training.tuning.n_trials=10 (repeatable)."
    ),
]
DataOpt = Annotated[Path, typer.Option("--data", help="Delivery directory (one file per contract table).")]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="Column-mapping TOML of a real delivery (docs/mapping.md).")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr (errors still go there).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as one JSON document on stdout, and nothing else there.")
]
_REGION_HELP = (
    "Where the synthetic population lives (synth.region): comma-separated gemeente codes or names, "
    "a veiligheidsregio ('Gooi en Vechtstreek', VR14) or a provincie (Utrecht, PV26); '' = the whole country."
)
RegionOpt = Annotated[str | None, typer.Option("--region", help=_REGION_HELP + " Default: synth.region of the config.")]


@dataclasses.dataclass
class Output:
    """Where a command writes: ``result`` (stdout; silent under ``--json``) and ``log``
    (progress and notes on stderr; silent under ``--quiet``). ``document`` is the JSON result."""

    result: Console
    log: Console
    as_json: bool
    document: Any = None

    def emit(self, document: Any) -> None:
        """The command's result as a JSON-ready document (printed only under ``--json``)."""
        self.document = document


@contextlib.contextmanager
def output(quiet: bool, as_json: bool) -> Iterator[Output]:
    """The command's :class:`Output`. While the command runs, anything a library prints on
    stdout goes to stderr, so stdout holds the result only; under ``--json`` the document is
    printed when the command succeeds."""
    stdout: IO[str] = sys.stdout
    out = Output(
        result=Console(file=stdout, quiet=as_json, soft_wrap=True),
        log=Console(stderr=True, quiet=quiet),
        as_json=as_json,
    )
    with contextlib.redirect_stdout(sys.stderr):
        yield out
    if as_json:
        stdout.write(json.dumps(_strict(out.document), indent=2, ensure_ascii=False) + "\n")
        stdout.flush()


def _strict(o: Any) -> Any:
    """Strict JSON values: NaN/inf -> null, numpy scalars -> Python, paths and dates -> text."""
    if isinstance(o, float):
        return None if math.isnan(o) or math.isinf(o) else o
    if isinstance(o, bool | int | str) or o is None:
        return o
    if isinstance(o, Mapping):
        return {str(k): _strict(v) for k, v in o.items()}
    if isinstance(o, list | tuple | set):
        return [_strict(v) for v in o]
    if hasattr(o, "item") and callable(o.item):  # numpy scalar
        return _strict(o.item())
    return str(o)


def _fail(message: str, code: int = 2) -> None:
    # One line, no traceback; no row values ever reach these messages.
    print(f"aanwas: error: {message}", file=sys.stderr)
    raise typer.Exit(code=code)


def handles_errors(fn: F) -> F:
    """Turn AanwasError into one clear line and its exit code (2: bad input or setting)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AanwasError as err:
            _fail(str(err), err.exit_code)

    return wrapper  # type: ignore[return-value]


def config_from(config: Path | None, overrides: list[str] | None) -> AppConfig:
    return load_config(config, overrides or ())


def region_override(region: str | None) -> list[str]:
    """``--region`` as a ``synth.region`` override (none when the option is not given)."""
    if region is None:
        return []
    names = [n.strip() for n in region.split(",") if n.strip()]
    return [f"synth.region={json.dumps(names, ensure_ascii=False)}"]


@contextlib.contextmanager
def project_step(stage: str, cfg: AppConfig, mlflow_uri: str | None = None) -> Iterator[None]:
    """Under ``mlflow run`` (``MLFLOW_RUN_ID`` set) the command is a child run of the project
    run, named ``stage``; elsewhere nothing (and MLflow is not even imported)."""
    import os

    if not os.environ.get("MLFLOW_RUN_ID"):
        yield
        return
    from training.tracking import project_step as step

    with step(stage, cfg.training.mlflow, mlflow_uri):
        yield


@app.command()
@handles_errors
def synth(
    scale: Annotated[
        float,
        typer.Option(help="Share of the real number of young people: 1.0 = real size (3.4M aged 8-23 in the country)."),
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same population.")] = 1,
    out: Annotated[Path, typer.Option(help="Writes OUT/raw (the inputs) and OUT/truth (for tests only).")] = Path(
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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate a synthetic population with known truth, in the layout of a delivery.

    Prints where the inputs and the truth are; the truth is for tests and benchmarks only.
    """
    from aanwas.stages.synth import run_synth

    overrides = [*(set_ or []), f"synth.scale={scale}", f"synth.seed={seed}", *region_override(region)]
    if profile is not None:
        overrides.append(f"synth.profile={json.dumps(profile)}")
    cfg = config_from(config, overrides)
    with output(quiet, as_json) as o, project_step("synth", cfg):
        res = run_synth(cfg, out, console=o.result, log=o.log)
        o.emit(
            {
                "raw": Path(out) / "raw",
                "truth": Path(out) / "truth",
                "persons": len(res.raw["persons"]),
                "observation_end": res.observation_end.isoformat(),
                "region": list(res.coverage),
            }
        )


@app.command()
@handles_errors
def validate(
    data: DataOpt,
    mapping: MappingOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a delivery against the input contract and print a summary; writes nothing.

    The summary (stdout) has per table the rows, persons, orphan rows dropped and the first and
    last date, and the observation end; never a value from the data. With --json its keys are
    data, valid, observation_end, tables, orphans_dropped and unmatched_dropped.
    """
    from aanwas.stages.validate import run_validate, summary_document

    cfg = config_from(config, set_)
    with output(quiet, as_json) as o, project_step("validate", cfg):
        delivery = run_validate(cfg, data, mapping, console=o.result, log=o.log)
        o.emit(summary_document(delivery, Path(data)))


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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the feature table (one row per young person and reference date) and cache it in WORK.

    WORK holds person-level data: keep it inside the secure environment. Prints the rows per
    reference date and age band.
    """
    from aanwas.stages.features import run_features

    cfg = config_from(config, set_)
    with output(quiet, as_json) as o, project_step("features", cfg):
        o.emit(run_features(cfg, data, work, mapping, console=o.result))


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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Train one model per age band on the cached feature table and apply the promotion gate.

    Tracks the run and registers the models in MLflow; a model becomes champion only when it
    passes the gate. Prints the test metrics per band and model, and for a rejected band which
    check failed and the next step. With --json: the summary also written to
    WORK/train_summary.json (run_id, tracking_uri, bands).
    """
    from aanwas.stages.train import run_train

    with output(quiet, as_json) as o:
        summary = run_train(
            config_from(config, set_),
            work,
            mlflow_uri=mlflow_uri,
            truth_dir=truth,
            override=override,
            override_reason=override_reason,
            console=o.result,
        )
        o.emit(summary)


@app.command("tune")
@handles_errors
def tune_cmd(
    work: TrainWorkOpt,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run tuning trials on the shared Optuna study of every band, nothing else.

    Needs training.tuning.storage (an RDB URL such as sqlite:///study.db or postgresql://...,
    or a journal file path) and, per process, its own training.tuning.worker (1, 2, ...).
    Start it on several machines; `aanwas train` with the same storage then uses each band's
    best trial. Writes nothing but the trials to the study. With --json: storage, worker and
    per band the study's trial counts and best tuning AUC.
    """
    from aanwas.stages.train import run_tune

    with output(quiet, as_json) as o:
        o.emit(run_tune(config_from(config, set_), work, console=o.result))


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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the features from a refreshed delivery and train a challenger against the champion.

    The challenger replaces the champion only when it passes the promotion gate. Prints (or,
    with --json, returns) the same summary as 'aanwas train'.
    """
    from aanwas.stages.train import run_retrain

    with output(quiet, as_json) as o:
        summary = run_retrain(
            config_from(config, set_),
            data,
            work,
            mapping,
            mlflow_uri=mlflow_uri,
            truth_dir=truth,
            override=override,
            override_reason=override_reason,
            console=o.result,
        )
        o.emit(summary)


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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Reviewer override: make a registered version champion (e.g. one the gate rejected).

    For after an ethics reviewer has read the version's review pack. The reason and who gave it
    are recorded on the version and in its gate verdict; nothing is retrained. With --json:
    registered_model, version, previous_champion, decision, override_reason, override_by,
    gate_json_updated.
    """
    from aanwas.stages.train import run_promote

    with output(quiet, as_json) as o:
        o.emit(
            run_promote(
                config_from(config, set_),
                work,
                band=band,
                version=version,
                reason=reason,
                by=by,
                mlflow_uri=mlflow_uri,
                console=o.result,
            )
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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fairness audit of any scored table: rates, disparities and verdicts per group.

    Prints the files written (with --json: {"written": [...]}).
    """
    from aanwas.stages.evaluate import run_audit

    with output(quiet, as_json) as o:
        files = run_audit(
            config_from(config, set_).evaluation,
            scores=scores,
            label=label,
            score=score,
            threshold=threshold,
            groups=group,
            out=out,
            console=o.result,
        )
        o.emit({"written": [Path(out) / name for name in files]})


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
        typer.Option(
            "--run-id",
            help="Training run: a review pack for every model version it registered "
            "(default with --work: the last training in WORK).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Registered model name (e.g. aanwas-13-19); with --version.")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Registered model version; with --model.")] = None,
    mlflow_uri: EvalMlflowUriOpt = None,
    work: EvalWorkOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Review pack for ethics reviewers: one folder per registered model version.

    Writes OUT/<model>-v<version>/review_pack.html (one self-contained page, print-ready,
    works offline; the verdict of every audit first) and OUT/<model>-v<version>/model_card.md,
    e.g. OUT/aanwas-13-19-v3/. Give --run-id (every version the training run registered), or
    --model with --version, or only --work (the last training run there). Prints the review
    packs written (with --json: {"run_id", "written": [...]}).
    """
    from aanwas.stages.evaluate import run_report
    from aanwas.stages.train import last_training_run

    cfg = config_from(config, set_)
    with output(quiet, as_json) as o, project_step("report", cfg, mlflow_uri):
        if run_id is None and model is None and work is not None:
            run_id = last_training_run(work)
        written = run_report(
            cfg,
            run_id=run_id,
            model=model,
            version=version,
            out=out,
            mlflow_uri=mlflow_uri,
            work=work,
            console=o.result,
        )
        o.emit({"run_id": run_id, "written": [Path(out) / w for w in written]})


# --- monitor (drift and the retrain verdict) --------------------------------------------------
RefDateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ref-date",
        help="Reference and current date for drift of inputs and scores (give twice; default: the last two).",
    ),
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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Drift between two reference dates and whether to retrain; logged to MLflow.

    Inputs and scores: between the two dates. Outcome share: the newest date with known outcomes
    against the training dates (the newest date has no known outcome yet).

    Writes the drift tables and OUT/drift.json (the verdict). Trends, intervention effects and
    the dashboard are written by 'aanwas export'. With --json: the verdict of drift.json plus
    out, files and mlflow_uri.
    """
    from aanwas.stages.monitor import run_monitor

    with output(quiet, as_json) as o:
        res = run_monitor(
            config_from(config, set_),
            out,
            work=work,
            ref_dates=ref_date,
            mlflow_uri=mlflow_uri,
            console=o.result,
            log=o.log,
        )
        verdict = json.loads((Path(out) / "drift.json").read_text(encoding="utf-8"))
        o.emit({**verdict, "out": Path(out), "files": res.files, "mlflow_uri": res.mlflow_uri})


# --- export (area risk with disclosure control) -----------------------------------------------
@app.command("export")
@handles_errors
def export_cmd(
    work: Annotated[Path, typer.Option("--work", help="Work directory with the cached feature table.")],
    out: Annotated[
        Path, typer.Option("--out", help="Exports directory: one folder per reference date, OUT/<period>/.")
    ] = Path("exports"),
    mlflow_uri: Annotated[
        str | None, typer.Option("--mlflow-uri", help="MLflow tracking URI (default as for train).")
    ] = None,
    alias: Annotated[str, typer.Option(help="Registry alias of the models that score.")] = "champion",
    data: Annotated[
        Path | None,
        typer.Option("--data", help="The delivery again: adds observed rates to the trends, and intervention effects."),
    ] = None,
    mapping: MappingOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Area risk for policy staff, after disclosure control: one folder per reference date.

    Scores with the champion models, aggregates to buurt, wijk, gemeente and the whole
    delivery, and applies disclosure control. Every period folder gets the area risk table and
    its manifest; the latest period also gets the trends over all periods, the intervention
    effects (with --data) and the dashboard. Prints the period folders written, one a line
    (with --json: {"out", "written": [...], "latest"}).
    """
    from aanwas.stages.export import run_full_export

    cfg = config_from(config, set_)
    with output(quiet, as_json) as o, project_step("export", cfg, mlflow_uri):
        written = run_full_export(
            cfg,
            work,
            out,
            data=data,
            mapping=mapping,
            mlflow_uri=mlflow_uri,
            alias=alias,
            console=o.result,
            log=o.log,
        )
        o.emit({"out": Path(out), "written": written, "latest": written[-1] if written else None})


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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Time every stage (synth, features, fixed-parameter training, export, drift) with peak memory.

    Prints one line per stage as it ends (progress) and then the table of times against the
    targets; with --json the whole result (also written to OUT/bench-*.json).
    """
    from aanwas.stages.bench import STAGES, format_table, run_bench

    overrides = [*(set_ or []), *region_override(region)]
    with output(quiet, as_json) as o:
        result = run_bench(
            scale,
            seed,
            out,
            data=data,
            config=config,
            overrides=overrides,
            stages=stage or STAGES,
            echo=lambda line: o.log.print(line, markup=False, highlight=False),
            table=False,
        )
        o.result.print(format_table(result), markup=False, highlight=False)
        o.emit(result)


# --- check (the output check before release) ---------------------------------------------------
@app.command("check")
@handles_errors
def check_cmd(
    exports: Annotated[Path, typer.Option("--exports", help="Export directory to check (of 'aanwas export').")],
    data: Annotated[
        Path, typer.Option("--data", help="The delivery the exports came from: the check looks for its pseudonyms.")
    ],
    mapping: MappingOpt = None,
    work: Annotated[
        Path | None,
        typer.Option("--work", help="Work directory: also flags tables with about one row per young person."),
    ] = None,
    also: Annotated[
        list[Path] | None,
        typer.Option("--also", help="Another output to check: reports, the drift report (repeatable)."),
    ] = None,
    mlflow_uri: Annotated[
        str | None,
        typer.Option(
            "--mlflow-uri", help="Also check this MLflow store (a local SQLite store: the database and its artifacts)."
        ),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Check outputs before they go to CBS output control: no pseudonym, no person-level table.

    Scans every file under --exports (and --also) for the pseudonyms of the delivery in --data,
    in text, binary files, table cells and SQLite stores. Prints what it found, one finding a
    line. Exit code 0 when nothing was found, 1 when something was (do not release), 2 on bad
    input. With --json: {"clean", "files_scanned", "findings": [{"path", "problem"}]}.
    A safety net, not a replacement for output control.
    """
    from aanwas.stages.check import delivery_pseudonyms, finding_lines, run_check, store_files, young_people

    cfg = config_from(config, set_)
    with output(quiet, as_json) as o, project_step("check", cfg, mlflow_uri):
        pseudonyms = delivery_pseudonyms(data, mapping)
        n_persons = young_people(work) if work is not None else None
        store = store_files(mlflow_uri, cfg.training.mlflow) if mlflow_uri else []
        findings, n_files = run_check([exports, *(also or []), *store], pseudonyms, n_persons=n_persons)
        o.result.print("\n".join(finding_lines(findings, n_files)), markup=False, highlight=False, soft_wrap=True)
        o.emit(
            {
                "clean": not findings,
                "files_scanned": n_files,
                "findings": [{"path": f.path, "problem": f.problem} for f in findings],
            }
        )
    if findings:
        raise typer.Exit(code=1)


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
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run every stage on a synthetic region at its real density, from synth to export.

    Each stage's own lines are progress (stderr); the result (stdout) says where everything is.
    """
    from aanwas.stages.demo import demo_settings, run_demo

    cfg = config_from(config, demo_settings(scale, seed, region_override(region), set_ or []))
    with output(quiet, as_json) as o:
        o.emit(run_demo(cfg, out, console=o.result, log=o.log))


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
