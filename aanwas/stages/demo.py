"""Stage wiring of ``aanwas demo``: every stage end to end on a synthetic population.

synth -> validate -> features -> train (with evaluation and promotion gate) -> report ->
export (area risk, disclosure control, trends, intervention effects, dashboard) -> monitor
(drift and retrain verdict) -> output check. Everything lands under one directory; the MLflow
store is a local SQLite file in it.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from aanwas.common.errors import InputError
from aanwas.config import AppConfig

#: The demo's lighter defaults (a user's --set wins): a small tuning budget. Areas go down to
#: buurt level (the product default): the demo population lives in one region at its real
#: density, so most buurten have enough young people to publish (docs/synthetic.md, "Regions").
DEMO_OVERRIDES = (
    "training.tuning.n_trials=4",
    "evaluation.bootstrap.reps=100",
)
#: The demo's region and density: the veiligheidsregio Gooi en Vechtstreek (6 gemeenten, 37
#: wijken, 165 buurten, ~44k young people aged 8-23), the smallest veiligheidsregio, at its
#: real size; about as many young people as the national demo at scale 0.01 had (~34k).
DEMO_REGION: tuple[str, ...] = ("Gooi en Vechtstreek",)
#: Finest export level of a demo over the whole country (``--region ''``); a user's --set wins.
NATIONAL_DEMO_LEVEL = 'monitoring.aggregate.finest_level="gemeente"'
DEMO_SCALE = 1.0


def demo_settings(scale: float, seed: int, region: list[str], overrides: list[str]) -> list[str]:
    """The demo's ``--set`` list: its defaults, the user's overrides, then scale, seed and region
    (``region``: ``synth.region`` overrides, e.g. from ``aanwas.cli.region_override``)."""
    national = any(r.replace(" ", "") == "synth.region=[]" for r in [*overrides, *region])
    # a thin national population leaves nearly every wijk and buurt count hidden, and proving
    # such a sparse table safe is still slow (docs/dev/performance.md): gemeente level unless asked
    level = [NATIONAL_DEMO_LEVEL] if national else []
    return [*DEMO_OVERRIDES, *level, *overrides, f"synth.scale={scale}", f"synth.seed={seed}", *region]


@dataclasses.dataclass(frozen=True)
class DemoLayout:
    """Where the demo writes what (person-level data only in ``raw``, ``truth`` and ``work``)."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{(self.root / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor"


def _too_small(err: InputError, scale: float) -> InputError:
    """A training input error of the demo: when a band lacks an outcome, the cause is the
    synthetic population's size, so the line says which option to change."""
    if err.column != "label":
        return err
    hint = f"; the demo's population at --scale {scale:g} is too small: use a larger --scale"
    hint += " (the default trains every band)"
    return InputError(err.table, err.column, err.n_rows, err.problem + hint)


def run_demo(cfg: AppConfig, out: Path, console: Console, log: Console | None = None) -> dict[str, Any]:
    """Run every stage on synthetic data under ``out`` and print where everything is.

    Where everything is goes to ``console`` (the result); every stage's own lines, the progress
    bars and the output check to ``log`` (default: ``console``).
    """
    from aanwas.stages.evaluate import run_report
    from aanwas.stages.export import run_full_export
    from aanwas.stages.features import run_features
    from aanwas.stages.monitor import run_monitor
    from aanwas.stages.steps import missing_champions
    from aanwas.stages.synth import run_synth
    from aanwas.stages.train import run_train
    from aanwas.stages.validate import run_validate

    layout = DemoLayout(Path(out))
    layout.root.mkdir(parents=True, exist_ok=True)
    (layout.root / "mlflow").mkdir(exist_ok=True)
    timings: dict[str, float] = {}
    log = console if log is None else log  # the stages' own lines are the demo's progress

    def step(name: str) -> None:
        timings[name] = time.perf_counter()
        log.rule(f"[bold]{name}")

    step("synth")
    run_synth(cfg, layout.root, console=log)
    step("validate")
    run_validate(cfg, layout.raw, None, console=log)
    step("features")
    run_features(cfg, layout.raw, layout.work, console=log)
    step("train")
    try:
        summary = run_train(cfg, layout.work, mlflow_uri=layout.mlflow_uri, truth_dir=layout.truth, console=log)
    except InputError as err:
        raise _too_small(err, cfg.synth.scale) from err
    step("report")
    run_report(cfg, run_id=summary["run_id"], out=layout.reports, mlflow_uri=layout.mlflow_uri, console=log)
    step("export")
    # a band whose model the gate rejected has no champion: the demo exports the bands that have
    # one, says which band is missing and why (also in the export), and never overrides the gate
    missing = missing_champions(cfg, layout.work, mlflow_uri=layout.mlflow_uri)
    exported = [b for b in cfg.training.bands if b not in missing]
    if missing:
        log.print(
            "\n".join(
                [
                    f"INCOMPLETE EXPORT: {len(missing)} of {len(cfg.training.bands)} age band(s) have no champion "
                    "(the promotion gate rejected their model); their areas are left out, not shown as zero:",
                    *[f"  band {b}: {why}" for b, why in missing.items()],
                ]
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    written = []
    if exported:
        written = run_full_export(
            cfg,
            layout.work,
            layout.exports,
            data=layout.raw,
            mlflow_uri=layout.mlflow_uri,
            bands=exported,
            missing=missing,
            console=log,
        )
    else:
        log.print("export skipped: no age band has a champion model", markup=False, highlight=False)
    step("monitor")
    drift = run_monitor(cfg, layout.monitor, work=layout.work, mlflow_uri=layout.mlflow_uri, console=log)
    step("output check")
    findings = output_check(layout)
    if findings:
        for f in findings[:20]:
            log.print(f"[red]output check: {f.path}: {f.problem}")
        raise RuntimeError(f"output check found {len(findings)} problem(s): see above")
    log.print("output check: no pseudonym and no person-level table in exports, reports or the MLflow store")
    latest = written[-1] if written else layout.exports
    if written:
        import pandas as pd

        shares = published_share(pd.read_parquet(latest / "area_risk.parquet"))
        if shares:
            log.print(
                "buurten with a published risk (latest period): "
                + ", ".join(f"{b} {100 * v:.0f} %" for b, v in shares.items())
            )
    _print_where(
        console, layout, summary["run_id"], latest if written else None, missing, drift.drift.retrain_recommended
    )
    return {
        "run_id": summary["run_id"],
        "exports": [str(p) for p in written],
        "missing_bands": dict(missing),
        "gates": {b: info.get("gate") for b, info in summary["bands"].items()},
    }


def _print_where(
    console: Console,
    layout: DemoLayout,
    run_id: str,
    latest: Path | None,
    missing: dict[str, str],
    retrain: bool,
) -> None:
    """The demo's closing lines: where everything is (``latest``: the latest period's export
    directory, None when nothing was exported)."""
    dashboard = latest / "dashboard.html" if latest is not None else "none (no export)"
    console.rule("[bold]where everything is")
    console.print(
        "\n".join(
            [
                f"inputs (synthetic microdata) : {layout.raw}",
                f"truth (tests only)           : {layout.truth}",
                f"work dir (person-level)      : {layout.work}",
                f"MLflow store                 : {layout.mlflow_uri}"
                f"  (mlflow ui --backend-store-uri {layout.mlflow_uri})",
                f"training run                 : {run_id}",
                f"reports for reviewers        : {layout.reports}",
                f"exports for policy staff     : {layout.exports}",
                f"dashboard (latest period)    : {dashboard}",
                *(
                    [f"MISSING age band(s)          : {', '.join(missing)} (gate rejected; see the reports)"]
                    if missing
                    else []
                ),
                f"drift report                 : {layout.monitor}"
                f"  (retrain {'recommended' if retrain else 'not needed'})",
            ]
        ),
        markup=False,
        highlight=False,
    )


def published_share(area_table: Any, level: str = "buurt") -> dict[str, float]:
    """Per age band, the share of ``level`` x band rows whose ``risk_mean`` is published (the
    band total has none: its rows hold counts only).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"area_level": "buurt", "age_band": ["8-12", "8-12", "13-19", "all"],
    ...     "risk_mean": [0.1, None, 0.2, None]})
    >>> published_share(t)
    {'8-12': 0.5, '13-19': 1.0}
    """
    from features.config import AGE_BANDS

    rows = area_table[(area_table["area_level"] == level) & area_table["age_band"].astype("str").isin(AGE_BANDS)]
    shares = rows["risk_mean"].notna().groupby(rows["age_band"].astype("str")).mean()
    return {b: float(shares[b]) for b in AGE_BANDS if b in shares.index}  # in the bands' order


def output_check(layout: DemoLayout) -> list[Any]:
    """Scan exports, reports, the drift report and the MLflow store for the delivery's
    pseudonyms (what ``aanwas check`` does). A directory no stage wrote (e.g. ``monitor`` when
    only synth to export ran) holds nothing to scan and is skipped; the scanner itself flags a
    named path it cannot read."""
    import pandas as pd

    from aanwas.stages.check import run_check, young_people

    persons = pd.read_parquet(layout.raw / "persons.parquet", columns=["rinpersoon"])["rinpersoon"].to_numpy()
    outputs = [layout.exports, layout.reports, layout.monitor, layout.root / "mlflow"]
    findings, _ = run_check([d for d in outputs if d.exists()], persons, n_persons=young_people(layout.work))
    return findings
