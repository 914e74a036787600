"""The MLflow adapter: tracking store set-up and everything a training run logs.

Only the stage wiring (``aanwas/stages/train.py``) calls these, inside its
``with mlflow.start_run():`` block; the library modules (splits, tuning, fit, registry
decisions) never touch MLflow. What is logged is aggregate by construction: the resolved
config, the data fingerprint (hashes and counts), the feature catalogue (column names), the
split dates, metrics, and the models with a signature (column names and types) but WITHOUT an
input example. Nothing here accepts a frame of rows to log.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import cloudpickle
import lightgbm
import mlflow
import numpy as np
import optuna
import pandas as pd
import sklearn
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema, TensorSpec

from training.config import MlflowConfig
from training.criteria import criteria_metrics
from training.fit import MAIN_MODEL, FittedBand

SQLITE_DB = "mlflow.db"
RUN_ID_ENV = "MLFLOW_RUN_ID"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
#: Pins written into each logged model's requirements (so MLflow need not infer them).
MODEL_REQUIREMENTS = (
    f"scikit-learn=={sklearn.__version__}",
    f"lightgbm=={lightgbm.__version__}",
    f"numpy=={np.__version__}",
    f"pandas=={pd.__version__}",
    f"cloudpickle=={cloudpickle.__version__}",
)
_COLSPEC_TYPES = {"f": "double", "i": "long", "u": "long", "b": "boolean"}
#: The one naming scheme of every metric aanwas logs: ``<stage>/<band>/.../<metric>``, where
#: ``<band>`` is an age band or ``all-bands`` (MLflow's UI groups metrics by ``/``), e.g.
#: ``test/13-19/lightgbm/auc``, ``drift/8-12/ind_halt_ever/psi``, ``drift/all-bands/retrain_recommended``.
METRIC_NAME = re.compile(r"^[a-z]+/(\d+-\d+|all-bands)(/[A-Za-z0-9_]+)+$")
#: Artifact folder of a local SQLite store, beside the database file.
SQLITE_ARTIFACTS = "artifacts"


def sqlite_uri(db_path: Path) -> str:
    """``sqlite:///`` URI of a database file (absolute).

    Examples
    --------
    >>> sqlite_uri(Path("/tmp/x/mlflow.db"))
    'sqlite:////tmp/x/mlflow.db'
    """
    return f"sqlite:///{Path(db_path).resolve()}"


def sqlite_path(uri: str) -> Path | None:
    """Database file of a ``sqlite:///`` URI, else None.

    Examples
    --------
    >>> sqlite_path("sqlite:////tmp/x/mlflow.db")
    PosixPath('/tmp/x/mlflow.db')
    >>> sqlite_path("http://mlflow:5000") is None
    True
    """
    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri[len("sqlite:///") :])).resolve()


def resolve_tracking_uri(
    option: str | None, cfg: MlflowConfig, work: Path, env: Mapping[str, str] | None = None
) -> str:
    """Tracking URI: the option, else the config, else ``MLFLOW_TRACKING_URI``, else an
    embedded SQLite store ``<store_dir>/mlflow.db`` (default store_dir: ``mlflow`` beside the
    work directory, so the person-level work directory and the store stay apart).

    Examples
    --------
    >>> resolve_tracking_uri(None, MlflowConfig(), Path("/data/run1/work"), env={})
    'sqlite:////data/run1/mlflow/mlflow.db'
    >>> resolve_tracking_uri("http://mlflow:5000", MlflowConfig(), Path("w"), env={})
    'http://mlflow:5000'
    """
    env = os.environ if env is None else env
    for candidate in (option, cfg.tracking_uri, env.get(TRACKING_URI_ENV, "")):
        if candidate:
            return candidate
    store = Path(cfg.store_dir) if cfg.store_dir else Path(work).resolve().parent / "mlflow"
    return sqlite_uri(store / SQLITE_DB)


def _same_store(a: str | None, b: str) -> bool:
    if not a:
        return False
    pa, pb = sqlite_path(a), sqlite_path(b)
    if pa is not None or pb is not None:
        return pa == pb
    return urlparse(a)._replace(path=urlparse(a).path.rstrip("/")) == urlparse(b)._replace(
        path=urlparse(b).path.rstrip("/")
    )


def configure_tracking(uri: str, cfg: MlflowConfig) -> str:
    """Point MLflow (tracking and registry) at ``uri`` and return the experiment id.

    The one way every command opens a store. For a local SQLite store the directory is created
    and the experiment's artifacts go to ``<db dir>/artifacts`` (unless
    ``cfg.artifact_location`` says otherwise), never to MLflow's default of a folder relative
    to the current directory.
    """
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name(cfg.experiment)
    if exp is not None:
        return str(exp.experiment_id)
    return str(client.create_experiment(cfg.experiment, artifact_location=artifact_location(uri, cfg)))


def artifact_location(uri: str, cfg: MlflowConfig) -> str | None:
    """Artifact location of a new experiment: the configured one, else ``<db dir>/artifacts``
    for a local SQLite store, else the server's default (None).

    Examples
    --------
    >>> artifact_location("sqlite:////data/mlflow/mlflow.db", MlflowConfig())
    'file:///data/mlflow/artifacts'
    >>> artifact_location("http://mlflow:5000", MlflowConfig()) is None
    True
    """
    if cfg.artifact_location:
        return cfg.artifact_location
    db = sqlite_path(uri)
    return (db.parent / SQLITE_ARTIFACTS).as_uri() if db is not None else None


def detach_project_run(uri: str) -> str | None:
    """When launched by ``mlflow run`` (``MLFLOW_RUN_ID`` set), stop MLflow from reusing that
    run for the stage and return its id as the parent if it lives in the same store.

    The stage then starts its own run (nested under the project run when possible), so that
    ``train`` and ``retrain`` within one ``main`` never write into the same run.
    """
    run_id = os.environ.pop(RUN_ID_ENV, None)
    if run_id and _same_store(os.environ.get(TRACKING_URI_ENV), uri):
        return run_id
    return None


@contextlib.contextmanager
def project_step(stage: str, cfg: MlflowConfig, uri: str | None = None) -> Iterator[str | None]:
    """A stage launched by ``mlflow run`` (``MLFLOW_RUN_ID`` set) as a child run of the project
    run, named after the stage, in the experiment ``cfg.experiment``; elsewhere nothing.

    For the stages that log nothing themselves (synth, validate, features, export, report,
    check), so that ``mlflow run . -e main`` shows every step under one parent run. Yields the
    child run's id, or None. ``uri``: the stage's store (default: the project run's).
    """
    project = os.environ.get(RUN_ID_ENV)
    uri = uri or cfg.tracking_uri or os.environ.get(TRACKING_URI_ENV)
    parent = detach_project_run(uri) if project and uri else None
    if parent is None or uri is None:
        yield None
        return
    experiment_id = configure_tracking(uri, cfg)
    tags = {"aanwas.stage": stage, "aanwas.kind": "project-step"}
    with mlflow.start_run(experiment_id=experiment_id, run_name=stage, parent_run_id=parent, tags=tags) as run:
        yield run.info.run_id


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dict -> ``{"a.b.c": "value"}`` (lists as comma-joined text), for params.

    Examples
    --------
    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"})
    {'a.b': '1', 'a.c': '1,2', 'd': 'x'}
    """
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(map(str, value))
        else:
            out[name] = str(value)
    return out


def metric_key(band: str, model: str, metric: str, part: str = "test") -> str:
    """Name of a logged metric, e.g. ``test/13-19/lightgbm/auc``.

    Examples
    --------
    >>> metric_key("8-12", "flags", "ece")
    'test/8-12/flags/ece'
    """
    return f"{part}/{band}/{model}/{metric}"


def log_run_context(
    config: Mapping[str, Any], fingerprint: Mapping[str, Any], catalogue: Mapping[str, Iterable[str]]
) -> None:
    """Resolved config (params + ``config.json``), data fingerprint and feature catalogue."""
    mlflow.log_params(flatten(config, "cfg."))
    mlflow.log_dict(dict(config), "config.json")
    mlflow.log_dict(dict(fingerprint), "data/fingerprint.json")
    mlflow.set_tags(
        {
            "data.table_sha256": fingerprint["table_sha256"],
            "data.columns_sha256": fingerprint["columns_sha256"],
            "data.n_rows": str(fingerprint["n_rows"]),
        }
    )
    mlflow.log_dict({band: list(cols) for band, cols in catalogue.items()}, "features/catalogue.json")


def log_fitted_band(fitted: FittedBand) -> None:
    """Split dates, counts, final LightGBM settings, tuning summary, test metrics, the family
    decision (metrics ``family/<band>/...``, tags ``<band>.aanwas.family`` and
    ``<band>.aanwas.family_reason``) and, on synthetic data, the training criteria
    (``criteria/<band>/<criterion>/{value,threshold,passed}``) of a band; its tuning trials
    first, as runs nested under the active run (:func:`log_trials`)."""
    band = fitted.band
    if fitted.tuning is not None:
        log_trials(band, fitted.tuning.trials)
    params = {f"{band}.split.{k}": v for k, v in fitted.split.describe().items()}
    params.update({f"{band}.lightgbm.{k}": str(v) for k, v in fitted.lightgbm_params.items()})
    params[f"{band}.n_features"] = str(len(fitted.features))
    mlflow.log_params(params)
    metrics: dict[str, float] = {f"data/{band}/{k}": float(v) for k, v in fitted.counts.items()}
    for model, values in fitted.metrics.items():
        for name, value in values.items():
            if name.startswith("oracle_"):
                metrics[f"test/{band}/{name}"] = value
            else:
                metrics[metric_key(band, model, name)] = value
    main = fitted.metrics[MAIN_MODEL]
    if "oracle_auc" in main:
        metrics[metric_key(band, MAIN_MODEL, "oracle_auc")] = main["oracle_auc"]
        metrics[metric_key(band, MAIN_MODEL, "auc_gap_to_oracle")] = main["oracle_auc"] - main["auc"]
    metrics.update({f"test/{band}/{k}": v for k, v in fitted.reference_metrics.items()})
    if "oracle_observable_auc" in fitted.reference_metrics:
        metrics[metric_key(band, MAIN_MODEL, "auc_gap_to_oracle_observable")] = (
            fitted.reference_metrics["oracle_observable_auc"] - main["auc"]
        )
    for baseline, values in fitted.comparisons.items():
        for name, value in values.items():  # auc_diff -> auc_diff_vs_<baseline>, auc_diff_lo -> ..._lo
            suffix = name.removeprefix("auc_diff")
            metrics[metric_key(band, MAIN_MODEL, f"auc_diff_vs_{baseline}{suffix}")] = value
    if fitted.family is not None:
        f = fitted.family
        metrics[f"family/{band}/lightgbm_chosen"] = float(f.chosen == "lightgbm")
        metrics[f"family/{band}/auc_lightgbm"] = f.auc_lightgbm
        metrics[f"family/{band}/auc_logreg"] = f.auc_logreg
        metrics[f"family/{band}/auc_diff"] = f.auc_diff
        metrics[f"family/{band}/auc_diff_lo"] = f.auc_diff_lo
        metrics[f"family/{band}/auc_diff_hi"] = f.auc_diff_hi
        mlflow.log_params({f"{band}.family.min_gain": f.min_gain, f"{band}.family.confidence": f.confidence})
        mlflow.set_tags(
            {f"{band}.aanwas.family": f.chosen, f"{band}.aanwas.family_reason": f.reason, "aanwas.family_rule": f.rule}
        )
    metrics.update(criteria_metrics(band, fitted.criteria) if fitted.criteria else {})
    if fitted.tuning is not None:
        t = fitted.tuning
        metrics.update(
            {
                f"tuning/{band}/best_tune_auc": t.best_value,
                f"tuning/{band}/n_trials": float(t.n_trials),
                f"tuning/{band}/n_pruned": float(t.n_pruned),
            }
        )
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})


def log_trials(band: str, trials: Iterable[optuna.trial.FrozenTrial]) -> None:
    """Record each finished tuning trial of ``band`` as a nested MLflow run of the active run
    (after the band is fitted, wherever that was: this process or a Dask worker)."""
    for trial in trials:
        if trial.state.is_finished():
            _log_trial(band, trial)


def _log_trial(band: str, trial: optuna.trial.FrozenTrial) -> None:
    parent = mlflow.active_run()
    experiment_id = parent.info.experiment_id if parent is not None else None
    with mlflow.start_run(run_name=f"trial-{band}-{trial.number:03d}", nested=True, experiment_id=experiment_id):
        mlflow.log_params({f"trial.{k}": v for k, v in trial.params.items()})
        mlflow.set_tags({"aanwas.kind": "tuning-trial", "aanwas.band": band, "trial.state": trial.state.name})
        metrics: dict[str, float] = {}
        if trial.value is not None:
            metrics["tune_auc"] = float(trial.value)
        if trial.intermediate_values:
            metrics["last_reported_round"] = float(max(trial.intermediate_values))
        if "best_iteration" in trial.user_attrs:
            metrics["best_iteration"] = float(trial.user_attrs["best_iteration"])
        mlflow.log_metrics({f"tuning/{band}/{k}": v for k, v in metrics.items()})


def model_signature(dtypes: pd.Series) -> ModelSignature:
    """Signature from column dtypes only (names and types, no values): inputs per column,
    output ``predict_proba``'s (n, 2) float array."""
    specs: list[ColSpec | TensorSpec] = []
    for name, dtype in dtypes.items():
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            mlflow_type = "double"  # nullable ints/floats are read as floats by the models
        elif np.dtype(dtype) == np.float32:
            mlflow_type = "float"
        else:
            mlflow_type = _COLSPEC_TYPES.get(np.dtype(dtype).kind, "double")
        specs.append(ColSpec(mlflow_type, str(name)))
    return ModelSignature(inputs=Schema(specs), outputs=Schema([TensorSpec(np.dtype("float64"), (-1, 2))]))


def log_model(estimator: Any, name: str, signature: ModelSignature, registered_model_name: str | None = None) -> Any:
    """Log a calibrated classifier (sklearn flavour, no input example); optionally register it.

    Loading it back needs this project installed (the estimator classes live in ``models``).
    Returns MLflow's ``ModelInfo`` (``registered_model_version`` set when registered).
    """
    return mlflow.sklearn.log_model(
        estimator,
        name=name,
        signature=signature,
        input_example=None,
        serialization_format="cloudpickle",
        pip_requirements=list(MODEL_REQUIREMENTS),
        pyfunc_predict_fn="predict_proba",
        registered_model_name=registered_model_name,
    )
