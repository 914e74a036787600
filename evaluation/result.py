"""The aggregate result of evaluating a model version, and its artifact (file) form.

An :class:`EvaluationResult` holds only aggregates: a JSON-ready summary, small tables that
passed the minimum cell size, PNG figures and the model card. :func:`to_artifacts` turns it into
named files (what the training stage logs to MLflow under ``evaluation/``) and
:func:`from_artifacts` reads them back for ``aanwas report``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaluation._cells import check_aggregate_tables

ARTIFACT_ROOT = "evaluation"
SUMMARY = "summary.json"
MODEL_CARD_JSON = "model_card.json"
MODEL_CARD_MD = "model_card.md"
REPORT = "report.html"
INDEX = "index.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclasses.dataclass
class EvaluationResult:
    """Aggregates of one evaluation (safe to log: checked against the minimum cell size).

    Attributes
    ----------
    summary : dict
        JSON-ready facts: settings, bands, counts, audit summaries, gate verdict, notes.
    tables : dict of str to pandas.DataFrame
        Named aggregate tables, keys like ``"performance/13-19"``.
    figures : dict of str to bytes
        Named PNG figures, keys like ``"calibration/13-19"``.
    model_card : dict
        The model card (see :mod:`evaluation.modelcard`).
    """

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, bytes]
    model_card: dict[str, Any]


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        f = float(o)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    """Replace NaN/inf floats by None so the JSON is strict."""
    if isinstance(o, float):
        return None if math.isnan(o) or math.isinf(o) else o
    if isinstance(o, Mapping):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def dumps(obj: Any) -> bytes:
    """Strict, stable JSON bytes (NaN -> null, numpy scalars converted)."""
    return json.dumps(
        _clean(json.loads(json.dumps(obj, default=_json_default, allow_nan=True))), indent=2, ensure_ascii=False
    ).encode("utf-8")


def artifact_names(names: list[str], folder: str, suffix: str) -> dict[str, str]:
    """File path per table or figure name: ``<folder>/<name>.<suffix>`` with every run of
    characters other than letters, digits, ``_``, ``.`` and ``-`` as one ``_`` (a clash gets
    ``-2``, ``-3``, ...).

    Examples
    --------
    >>> artifact_names(["fairness_groups/13-19", "registration_intensity/all bands/gemeente"], "tables", "csv")
    {'fairness_groups/13-19': 'tables/fairness_groups_13-19.csv', \
'registration_intensity/all bands/gemeente': 'tables/registration_intensity_all_bands_gemeente.csv'}
    >>> list(artifact_names(["a/b", "a b"], "tables", "csv").values())
    ['tables/a_b.csv', 'tables/a_b-2.csv']
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        stem = _UNSAFE.sub("_", name).strip("_") or "table"
        path, k = f"{folder}/{stem}.{suffix}", 1
        while path in taken:
            k += 1
            path = f"{folder}/{stem}-{k}.{suffix}"
        taken.add(path)
        out[name] = path
    return out


def to_artifacts(result: EvaluationResult, min_cell: int) -> dict[str, bytes]:
    """Files to log, by relative path under ``evaluation/``: the summary, the model card, one
    CSV per table named after it (``tables/fairness_groups_13-19.csv``), one PNG per figure
    (``figures/calibration_13-19.png``) and ``index.json`` (path -> name).

    Raises
    ------
    ValueError
        If any table carries a person column or a count below ``min_cell`` (a bug upstream).
    """
    check_aggregate_tables(result.tables, min_cell)
    files: dict[str, bytes] = {SUMMARY: dumps(result.summary), MODEL_CARD_JSON: dumps(result.model_card)}
    index = {}
    for name, path in artifact_names(list(result.tables), "tables", "csv").items():
        files[path] = result.tables[name].to_csv(index=False).encode("utf-8")
        index[path] = name
    fig_index = {}
    for name, path in artifact_names(list(result.figures), "figures", "png").items():
        files[path] = result.figures[name]
        fig_index[path] = name
    files[INDEX] = dumps({"tables": index, "figures": fig_index})
    return files


def from_artifacts(files: Mapping[str, bytes]) -> EvaluationResult:
    """Rebuild an :class:`EvaluationResult` from the files written by :func:`to_artifacts`.

    Raises
    ------
    KeyError
        If ``summary.json`` or ``index.json`` is missing.
    """
    summary = json.loads(files[SUMMARY].decode("utf-8"))
    card = json.loads(files[MODEL_CARD_JSON].decode("utf-8")) if MODEL_CARD_JSON in files else {}
    index = json.loads(files[INDEX].decode("utf-8"))
    tables = {
        name: pd.read_csv(io.BytesIO(files[path]), keep_default_na=True)
        for path, name in index.get("tables", {}).items()
        if path in files
    }
    figures = {name: files[path] for path, name in index.get("figures", {}).items() if path in files}
    return EvaluationResult(summary=summary, tables=tables, figures=figures, model_card=card)
