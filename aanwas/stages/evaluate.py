"""Stage wiring of evaluation: files and MLflow at the edges, pure audits in ``evaluation``.

* ``aanwas audit``  -> :func:`run_audit`: generic fairness audit of any scored CSV;
* ``aanwas report`` -> :func:`run_report`: one review pack (HTML + model card) per registered
  model version of a training run;
* :func:`log_evaluation`: what training's stage calls inside its MLflow run to log the
  aggregates of :func:`evaluation.evaluate.evaluate_model`;
* :func:`build_gate_check`: the :class:`~evaluation.gates.GateChecker` that ``aanwas train``
  accepts (band, test rows, calibrated risk, model -> evaluation gates passed?).

Nothing is written when an input is bad: everything is computed in memory first, then written
atomically.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aanwas.common.compute import executor
from aanwas.common.errors import InputError
from aanwas.common.io import atomic_dir, atomic_write_bytes
from aanwas.config import AppConfig
from evaluation.config import EvaluationConfig
from evaluation.evaluate import evaluate_model, evaluate_registrations
from evaluation.fairness import audit_fairness, fairness_to_json, validate_scored_table
from evaluation.gates import GateVerdict
from evaluation.modelcard import ModelInfo, render_model_card_markdown
from evaluation.report import render_fairness_html, render_report
from evaluation.result import (
    ARTIFACT_ROOT,
    MODEL_CARD_MD,
    REPORT,
    EvaluationResult,
    dumps,
    from_artifacts,
    to_artifacts,
)
from evaluation.stigmatisation import registrations_next_period
from training.config import MlflowConfig

FAIRNESS_JSON = "fairness.json"
FAIRNESS_HTML = "fairness.html"
#: MLflow artifact folder (under ``evaluation/``) of the registration-intensity audit pooled
#: over the bands, beside the per-band folders.
POOLED_DIR = "all-bands"


def _write_outputs(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into ``out``: all at once into a new directory, else file by file.

    A new (or empty) directory is built under a temporary name and renamed; an existing
    directory with other content is never replaced wholesale - each file is replaced
    atomically instead.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), None, None, "output path exists and is not a directory")
    if not out.exists() or not any(out.iterdir()):
        if out.exists():
            out.rmdir()
        with atomic_dir(out) as tmp:
            for name, data in files.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(data)
        return
    for name, data in files.items():
        atomic_write_bytes(out / name, data)


def read_scored_csv(path: Path) -> pd.DataFrame:
    """Read a scored CSV as text columns (group values kept exactly); clear error if unreadable.

    The delimiter is ``,`` or, when the header has more of them, ``;`` (Dutch spreadsheets).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path.name, None, None, "file not found")
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
        sep = ";" if header.count(";") > header.count(",") else ","
        return pd.read_csv(path, dtype=str, keep_default_na=True, sep=sep, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise InputError(path.name, None, 0, "the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise InputError(path.name, None, None, f"not a readable CSV file ({type(err).__name__})") from None


def build_audit_outputs(
    frame: pd.DataFrame,
    cfg: EvaluationConfig,
    *,
    source: str,
    label: str,
    score: str,
    threshold: float,
    groups: Sequence[str],
) -> dict[str, bytes]:
    """Validate, audit and render: the bytes of ``fairness.json`` and ``fairness.html``."""
    groups = list(dict.fromkeys(groups))
    if not groups:
        raise InputError(source, None, None, "name at least one --group column")
    clean = validate_scored_table(frame, source=source, label=label, score=score, threshold=threshold, groups=groups)
    s = clean[score]
    metrics = ["selection_rate", "fpr", "fnr", "ppv", "auc"]
    if s.min() >= 0.0 and s.max() <= 1.0:
        metrics.append("calibration")  # meaningful only if the score is a probability
    audit = audit_fairness(
        clean, label=label, score=score, threshold=threshold, groups=groups, cfg=cfg, metrics=metrics, max_order=1
    )
    doc = fairness_to_json(audit, cfg)
    doc["source"] = source
    doc["label"] = label
    doc["score"] = score
    if "calibration" not in metrics:
        doc["notes"].append("calibration not audited: scores are not all within [0, 1]")
    html = render_fairness_html(audit, cfg, source=source, label=label, score=score)
    return {FAIRNESS_JSON: dumps(doc), FAIRNESS_HTML: html.encode("utf-8")}


def run_audit(
    cfg: EvaluationConfig,
    *,
    scores: Path,
    label: str,
    score: str,
    threshold: float,
    groups: Sequence[str],
    out: Path,
    console: Any = None,
) -> dict[str, bytes]:
    """``aanwas audit``: read the CSV, audit it, write ``fairness.json`` and ``fairness.html``.

    Raises
    ------
    InputError
        Unreadable file, missing column, non-numeric score, labels not 0/1, threshold outside
        the score range; nothing is written.
    """
    frame = read_scored_csv(scores)
    files = build_audit_outputs(
        frame, cfg, source=Path(scores).name, label=label, score=score, threshold=threshold, groups=groups
    )
    _write_outputs(Path(out), files)
    if console is not None:
        console.print(
            f"fairness audit of {Path(scores).name}: wrote {Path(out) / FAIRNESS_JSON} and {Path(out) / FAIRNESS_HTML}"
        )
    return files


# --------------------------------------------------------------------------------------------
# MLflow: log (training's stage calls this) and read back (aanwas report)
# --------------------------------------------------------------------------------------------


def log_evaluation(result: EvaluationResult, cfg: EvaluationConfig, band: str | None = None) -> None:
    """Log the aggregates of an evaluation to the active MLflow run under ``evaluation/``.

    Call inside ``with mlflow.start_run():`` in the training stage. Tables are checked against
    the minimum cell size first; the report and model card are logged too, and the gate verdict
    as metrics/tags.
    """
    import mlflow

    files = to_artifacts(result, cfg.min_cell_size)
    files[REPORT] = render_report(result, min_cell=cfg.min_cell_size).encode("utf-8")
    files[MODEL_CARD_MD] = render_model_card_markdown(result.model_card).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        mlflow.log_artifacts(str(root), artifact_path=ARTIFACT_ROOT if band is None else f"{ARTIFACT_ROOT}/{band}")
    gate = result.summary.get("gate")
    if gate is not None:  # the pooled registration-intensity audit has no gate
        tag = "evaluation.gate" if band is None else f"{band}.evaluation.gate"
        mlflow.set_tag(tag, "passed" if gate.get("passed") else "failed")


def resolve_report_uri(cfg: MlflowConfig, option: str | None, work: Path | None) -> str:
    """Tracking URI as training resolves it (option, config, environment, SQLite beside WORK).

    Raises
    ------
    InputError
        If the resolved store is a SQLite file that does not exist (nothing is created).
    """
    from training.tracking import resolve_tracking_uri, sqlite_path

    uri = resolve_tracking_uri(option, cfg, Path(work) if work is not None else Path("work"))
    db = sqlite_path(uri)
    if db is not None and not db.exists():
        raise InputError("mlflow", None, None, f"tracking store {db} not found (pass --mlflow-uri or --work)")
    return uri


def evaluation_bands(run_id: str, tracking_uri: str | None) -> list[str | None]:
    """The evaluations a run holds: one per age band (``evaluation/<band>``) and the pooled
    registration-intensity audit (``evaluation/all-bands``), or one overall."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_run(run_id)
        entries = client.list_artifacts(run_id, ARTIFACT_ROOT)
    except (MlflowException, OSError):
        raise InputError("mlflow", None, None, f"run {run_id!r} not found") from None
    from features.config import AGE_BANDS

    names = [Path(e.path).name for e in entries if e.is_dir]
    bands: list[str | None] = [n for n in (*AGE_BANDS, POOLED_DIR) if n in names]
    return bands or [None]


def load_evaluation(run_id: str, tracking_uri: str | None, band: str | None = None) -> EvaluationResult:
    """Read the evaluation artifacts of an MLflow run back into an :class:`EvaluationResult`.

    Raises
    ------
    InputError
        Unknown run, or a run without evaluation artifacts.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise InputError("mlflow", None, None, f"run {run_id!r} not found") from None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, ARTIFACT_ROOT if band is None else f"{ARTIFACT_ROOT}/{band}", tmp)
        except (MlflowException, OSError):
            raise InputError(
                "mlflow",
                None,
                None,
                f"run {run_id!r} has no evaluation artifacts (the evaluation runs in training's gate check: "
                "train without training.promotion.run_evaluation_gates=false)",
            ) from None
        root = Path(local)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    try:
        return from_artifacts(files)
    except (KeyError, ValueError):
        raise InputError("mlflow", None, None, f"run {run_id!r} has incomplete evaluation artifacts") from None


#: Files of one review pack (per registered model version, in OUT/<name>-v<version>/).
REVIEW_PACK = "review_pack.html"


def pack_dir_name(name: str, version: str) -> str:
    """Folder of a version's review pack: ``aanwas-13-19-v1``."""
    return f"{name}-v{version}"


def _run_or_error(client: Any, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except (MlflowException, OSError):
        raise InputError("mlflow", None, None, f"run {run_id!r} not found") from None


def resolve_versions(
    cfg: MlflowConfig, client: Any, *, run_id: str | None, model: str | None, version: str | None
) -> tuple[str, list[tuple[str, str, str]]]:
    """The training run and the registered versions to review: ``(run_id, [(name, version, band)])``.

    With ``model`` and ``version``: that registered version (its run from the registry). With a
    run id only: every version the run registered (tags ``<band>.aanwas.registered_version``).
    A run without registered versions gives an empty list (the pack is then named after the
    evaluation's own model entry).

    Raises
    ------
    InputError
        Unknown model version or run, or neither given.
    """
    from mlflow.exceptions import MlflowException

    from features.config import AGE_BANDS
    from training.registry import registered_model_name

    prefix = cfg.model_prefix
    if (model is None) != (version is None):
        raise InputError("report", None, None, "give --model and --version together")
    if model is not None:
        try:
            mv = client.get_model_version(model, str(version))
        except (MlflowException, OSError):
            raise InputError("mlflow", None, None, f"model {model!r} version {version!r} not found") from None
        if run_id is not None and mv.run_id != run_id:
            raise InputError(
                "report",
                None,
                None,
                f"model {model!r} version {version} was registered by run {mv.run_id}, not {run_id}",
            )
        band = next((b for b in AGE_BANDS if model == registered_model_name(prefix, b)), "")
        if not band:
            band = next((b for b in AGE_BANDS if model.endswith(f"-{b}")), "")
        _run_or_error(client, mv.run_id)
        return str(mv.run_id), [(model, str(version), band)]
    if run_id is None:
        raise InputError("report", None, None, "give --run-id, or --model and --version")
    run = _run_or_error(client, run_id)
    tags = run.data.tags
    found = []
    for band in AGE_BANDS:
        v = tags.get(f"{band}.aanwas.registered_version")
        if v:
            found.append((registered_model_name(prefix, band), str(v), band))
    return run_id, found


def _decision(tags: Mapping[str, str], band: str) -> dict[str, str]:
    from training.promotion import TAG_PREFIX

    out = {}
    for key, tag in (("decision", "decision"), ("reason", "decision_reason"), ("override_reason", "override_reason")):
        v = tags.get(f"{band}.{TAG_PREFIX}{tag}")
        if v:
            out[key] = v
    return out


def run_report(
    cfg: AppConfig,
    *,
    run_id: str | None = None,
    out: Path,
    model: str | None = None,
    version: str | None = None,
    mlflow_uri: str | None = None,
    work: Path | None = None,
    console: Any = None,
) -> list[str]:
    """``aanwas report``: one review pack per registered model version of a training run.

    Writes ``OUT/<name>-v<version>/review_pack.html`` (self-contained, print-ready) and
    ``OUT/<name>-v<version>/model_card.md`` for each version the run registered (or only for
    ``model``/``version``). The registration-intensity audit pooled over the bands
    (``evaluation/all-bands`` of the run) is part of every pack. Returns the written paths
    relative to ``OUT``.

    Raises
    ------
    InputError
        Unknown store, run or model version, or a run without evaluation artifacts; nothing is
        written.
    """
    import mlflow

    from evaluation.modelcard import render_model_card_markdown
    from evaluation.review_pack import PackIdentity, build_verdicts, card_of, render_review_pack

    uri = resolve_report_uri(cfg.training.mlflow, mlflow_uri, work)
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_id, versions = resolve_versions(cfg.training.mlflow, client, run_id=run_id, model=model, version=version)
    tags = _run_or_error(client, run_id).data.tags
    bands = evaluation_bands(run_id, uri)
    pooled = load_evaluation(run_id, uri, POOLED_DIR) if POOLED_DIR in bands else None
    if not versions:  # evaluation logged without registered versions: name it after the evaluation
        only = [b for b in bands if b != POOLED_DIR]
        for band in only:
            res = load_evaluation(run_id, uri, band)
            m = res.summary.get("model", {})
            band_name = band or next(iter(res.summary.get("bands", [])), "")
            versions.append((str(m.get("name") or "aanwas"), str(m.get("version") or "unregistered"), band_name or ""))
    files: dict[str, bytes] = {}
    written: list[str] = []
    for name, ver, band in versions:
        key = band if band in bands else (None if bands == [None] else band)
        if key is not None and key not in bands:
            raise InputError("mlflow", None, None, f"run {run_id!r} has no evaluation of band {band!r}")
        result = load_evaluation(run_id, uri, key)
        band = band or next(iter(result.summary.get("bands", [])), "")
        n_rows = tags.get("data.n_rows")
        ident = PackIdentity(
            name=name,
            version=ver,
            band=band,
            run_id=run_id,
            fingerprint=tags.get("data.table_sha256", ""),
            n_rows=int(n_rows) if n_rows and n_rows.isdigit() else None,
            decision=_decision(tags, band),
        )
        folder = pack_dir_name(name, ver)
        files[f"{folder}/{REVIEW_PACK}"] = render_review_pack(
            result, ident, pooled=pooled, min_cell=cfg.evaluation.min_cell_size, dpi=cfg.evaluation.figure_dpi
        ).encode("utf-8")
        verdicts = build_verdicts(result, band, ident, pooled)
        files[f"{folder}/{MODEL_CARD_MD}"] = render_model_card_markdown(
            card_of(result, band), ident=ident, verdicts=verdicts, settings=result.summary.get("settings", {})
        ).encode("utf-8")
        written.append(f"{folder}/{REVIEW_PACK}")
    _write_outputs(Path(out), files)
    if console is not None:
        console.print(f"review packs of run {run_id}: " + ", ".join(str(Path(out) / w) for w in written))
    return written


# --------------------------------------------------------------------------------------------
# training's promotion gate
# --------------------------------------------------------------------------------------------


def prepare_scored_rows(
    rows: pd.DataFrame,
    risk: pd.Series,
    cfg: EvaluationConfig,
    audit: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scored rows for :func:`evaluate_model`: risk as ``score``, audit attributes joined.

    Parameters
    ----------
    rows : pandas.DataFrame
        Feature-table rows (``rinpersoon, ref_date, age_band``, areas, features, ``label``).
    risk : pandas.Series
        Calibrated risk aligned with ``rows``.
    cfg : EvaluationConfig
    audit : pandas.DataFrame, optional
        The audit frame (``rinpersoon, ref_date, sex, migration_group, income_group``).
    """
    out = rows.copy()
    out["score"] = risk.reindex(rows.index).to_numpy(dtype="float64")
    if audit is not None:
        extra = [c for c in audit.columns if c not in ("rinpersoon", "ref_date") and c not in out.columns]
        keys = audit[["rinpersoon", "ref_date", *extra]].drop_duplicates(["rinpersoon", "ref_date"])
        joined = out[["rinpersoon", "ref_date"]].merge(keys, on=["rinpersoon", "ref_date"], how="left")
        for c in extra:
            out[c] = joined[c].to_numpy()
    for attribute, source in cfg.fairness.attribute_columns.items():
        if attribute not in out.columns and source in out.columns:
            out[attribute] = out[source]
    return out


#: Feature-table column counting a person's registrations before the reference date.
PRIOR_REGISTRATIONS = "ind_n_prior_suspect"
#: Observed registrations in the next period (the registration-intensity audit's outcome).
REGISTERED = "registered"


def prepare_registration_rows(frame: pd.DataFrame, band: str, risk: pd.Series, cfg: EvaluationConfig) -> pd.DataFrame:
    """Rows of one band for the registration-intensity audit, every reference date pooled.

    ``registered`` counts every suspect registration (any offence) of the person between the
    reference date and the next one, from the feature table's running count; rows without a
    next reference date (or whose count drops, an inconsistent history) are left out. ``score``
    is the band model's risk. Only keys, areas and these two columns are kept (person-level, in
    memory only).
    """
    rows = frame[frame["age_band"].astype(str) == band]
    keep = [c for c in ("rinpersoon", "ref_date", "age_band", *cfg.stigmatisation.area_levels) if c in rows.columns]
    nxt = registrations_next_period(frame, person="rinpersoon", date="ref_date", count=PRIOR_REGISTRATIONS)
    out = rows[keep].copy()
    nxt = nxt[(frame["age_band"].astype(str) == band).to_numpy()]
    out[REGISTERED] = np.where(nxt >= 0, nxt, np.nan)  # a running count that drops is no observation
    out["score"] = risk.reindex(rows.index).to_numpy(dtype="float64")
    return out[out[REGISTERED].notna().to_numpy() & out["score"].notna().to_numpy()]


class EvaluationGateCheck:
    """The evaluation gates for ``aanwas train`` (implements
    :class:`evaluation.gates.GateChecker`).

    Calling it on a band's test rows runs :func:`evaluate_model` (fairness, proxy test,
    ranking, league-table check and, given the model and its features, SHAP summaries) with the
    monitoring stage's "elevated" threshold and returns whether the evaluation gates passed.
    The verdicts and the evaluations are kept (``.verdicts[band]``, ``.results[band]``) so the
    training run logs them.

    The training stage may first call :meth:`add_registrations` with the whole feature table
    and the band model's risk on all of the band's rows: the band's evaluation then includes
    the registration-intensity audit over every reference date (see
    :func:`prepare_registration_rows`). The rows are kept (person-level, in memory only) until
    :meth:`pooled_result` runs the audit pooled over the bands
    (:func:`evaluation.evaluate.evaluate_registrations`) and drops them.

    ``truth_areas`` (synthetic data only: ``DIR/truth/areas.parquet`` of ``aanwas synth``)
    adds the comparison with the known over-policed areas to the registration-intensity audits.

    With ``compute.scheduler`` set, the chunks of bootstrap replicates of every audit run as
    tasks on the Dask cluster (:func:`evaluation.bootstrap.bootstrap`; the same results as in
    this process); the rest of the evaluation stays here.
    """

    def __init__(
        self, cfg: AppConfig, audit: pd.DataFrame | None = None, truth_areas: pd.DataFrame | None = None
    ) -> None:
        self.cfg: EvaluationConfig = cfg.evaluation
        self.compute = cfg.compute
        self.threshold = float(cfg.monitoring.aggregate.elevated_threshold)
        self.audit = audit
        self.truth_areas = truth_areas
        self.verdicts: dict[str, GateVerdict] = {}
        self.results: dict[str, EvaluationResult] = {}
        self._registrations: dict[str, pd.DataFrame] = {}

    def add_registrations(self, band: str, frame: pd.DataFrame, risk: pd.Series) -> None:
        """Keep the band's rows of every reference date for the registration-intensity audit."""
        if PRIOR_REGISTRATIONS in frame.columns:
            self._registrations[band] = prepare_registration_rows(frame, band, risk, self.cfg)

    def __call__(
        self,
        band: str,
        test_rows: pd.DataFrame,
        risk: pd.Series,
        *,
        model: Any = None,
        features: Sequence[str] = (),
    ) -> bool:
        """Evaluate the band's model on its test rows; True when the evaluation gates pass."""
        scored = prepare_scored_rows(test_rows, risk, self.cfg, self.audit)
        explain = model is not None and bool(features)
        with executor(self.compute) as ex:  # local: in this process, nothing to start
            result = evaluate_model(
                scored,
                cfg=self.cfg,
                threshold=self.threshold,
                registrations=self._registrations.get(band),
                truth_areas=self.truth_areas,
                models={band: model} if explain else None,
                features={band: tuple(features)} if explain else None,
                executor=ex,
            )
        self.results[band] = result
        self.verdicts[band] = GateVerdict.from_dict(result.summary["gate"])  # with the structured checks
        return self.verdicts[band].passed

    def pooled_result(self, model_info: ModelInfo | None = None) -> EvaluationResult | None:
        """The registration-intensity audit pooled over the bands added so far (None without
        rows); the rows are dropped."""
        rows = [self._registrations.pop(b) for b in list(self._registrations)]
        if not rows:
            return None
        return evaluate_registrations(
            pd.concat(rows, ignore_index=True), cfg=self.cfg, truth_areas=self.truth_areas, model_info=model_info
        )


def build_gate_check(
    cfg: AppConfig, audit: pd.DataFrame | None = None, truth_areas: pd.DataFrame | None = None
) -> EvaluationGateCheck:
    """The evaluation gates as the :class:`~evaluation.gates.GateChecker` that ``aanwas train``
    accepts (see :class:`EvaluationGateCheck`)."""
    return EvaluationGateCheck(cfg, audit, truth_areas)
