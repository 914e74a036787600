"""The area-accuracy measurement on a synthetic world (benchmark support; its slow test runs it too).

Runs the export's scoring path without MLflow: fit each band's calibrated LightGBM on the
cached feature table (:func:`training.fit.fit_band`, the same code ``aanwas train`` runs),
score every row with :func:`models.scoring.score_frame` (what ``aanwas export`` does with the
registered champion), aggregate to areas (:func:`monitoring.publishing.aggregate.aggregate_areas`), apply
disclosure control for the published/suppressed status, and compare with the true area risk
from ``DIR/truth`` (:func:`features.sources.truth.true_label_risk`), with and without the
area's detection intensity. Nothing is written; person-level frames stay in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from aanwas.config import AppConfig
from features.config import LabelConfig

#: Reference-date basis of the true risk (the oracle: the person's situation on that date).
TRUTH_BASIS = "reference"


def score_feature_table(cfg: AppConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """Fit calibrated LightGBM per band (no MLflow) and score every row of ``frame``.

    Returns the scored frame the export aggregates: ``ref_date, age_band, buurt, wijk,
    gemeente, label, rinpersoon, score`` (``rinpersoon`` only for joining the truth in memory).
    """
    from aanwas.stages.steps import score_bands
    from aanwas.stages.train import catalogue_inputs
    from models.bundle import ModelBundle
    from training.fit import MAIN_MODEL, fit_band, resolve_features
    from training.splits import build_temporal_splits

    tcfg = cfg.training
    splits = build_temporal_splits(frame, tcfg.bands, tcfg.split)
    columns_of, flags = catalogue_inputs()
    models = {}
    for band in tcfg.bands:
        features = resolve_features(frame, band, tcfg, columns_of)
        fitted = fit_band(frame, splits[band], features, tcfg, flags=None if tcfg.flag_columns else flags)
        models[band] = fitted.models[MAIN_MODEL]
    keep = ["rinpersoon", "ref_date", "age_band", "buurt", "wijk", "gemeente", "label"]
    return score_bands(ModelBundle(models), frame, keep)


def true_person_risk(cfg: AppConfig, truth_dir: Path, scores: pd.DataFrame, *, with_detection: bool) -> pd.Series:
    """True risk of each scored row (NaN where censored or without a truth row)."""
    person_year = pd.read_parquet(Path(truth_dir) / "person_year.parquet")
    return true_risk_of_rows(person_year, scores, cfg.features.labels, with_detection=with_detection)


def true_risk_of_rows(
    person_year: pd.DataFrame,
    scores: pd.DataFrame,
    labels: Mapping[str, LabelConfig],
    *,
    with_detection: bool,
    basis: str = TRUTH_BASIS,
) -> pd.Series:
    """:func:`true_person_risk` from an in-memory truth table (``rinpersoon, ref_date`` rows)."""
    from features.sources.truth import true_label_risk

    dates = sorted(scores["ref_date"].unique())
    risk = true_label_risk(person_year, dates, labels, with_detection=with_detection, basis=basis)
    keys = scores[["rinpersoon", "ref_date"]].astype({"ref_date": risk["ref_date"].dtype})
    merged = keys.merge(risk[["rinpersoon", "ref_date", "true_risk"]], on=["rinpersoon", "ref_date"], how="left")
    return pd.Series(merged["true_risk"].to_numpy(), index=scores.index, name="true_risk")


def measure_area_accuracy(
    cfg: AppConfig, work: Path, truth_dir: Path, *, level: str = "wijk", scores: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Correlation and interval coverage of area ``risk_mean`` against the true area risk.

    Parameters
    ----------
    cfg : AppConfig
        Training settings (tuning budget), aggregation and disclosure settings.
    work : Path
        Work directory with the cached feature table (``aanwas features``).
    truth_dir : Path
        ``DIR/truth`` of ``aanwas synth``.
    level : str
        Area level measured.
    scores : DataFrame, optional
        An already scored frame (skips fitting).

    Returns
    -------
    dict
        ``accuracy``: :func:`monitoring.publishing.accuracy.area_risk_accuracy` rows with a ``truth`` column
        (``registration`` = with detection, ``offending`` = without); ``areas``: the
        confidential area table with ``status`` and both true risks (aggregates only).
    """
    from aanwas.stages.features import load_feature_table
    from features.geography import load_geography
    from monitoring.publishing.accuracy import area_risk_accuracy, true_area_risk
    from monitoring.publishing.aggregate import aggregate_areas
    from monitoring.publishing.disclosure import suppress_area_table

    if scores is None:
        frame, _audit = load_feature_table(Path(work))
        scores = score_feature_table(cfg, frame)
        del frame
    geography = load_geography()
    acfg = cfg.monitoring.aggregate
    areas = aggregate_areas(scores.drop(columns=["rinpersoon"]), geography, acfg)
    total = acfg.band_total_label if acfg.include_band_total else None
    checked = suppress_area_table(areas, cfg.monitoring.disclosure, total_band=total)
    keys = ["period", "area_level", "area_code", "age_band"]
    areas = areas.merge(checked.table[[*keys, "status"]], on=keys, how="left")
    out = []
    for name, detection in (("registration", True), ("offending", False)):
        persons = scores[["ref_date", "age_band", "buurt"]].assign(
            true_risk=true_person_risk(cfg, truth_dir, scores, with_detection=detection)
        )
        truth = true_area_risk(persons, geography, dataclasses.replace(acfg, include_band_total=False))
        acc = area_risk_accuracy(areas, truth, level=level).assign(truth=name)
        out.append(acc)
        named = truth[[*keys, "true_risk"]].rename(columns={"true_risk": f"true_{name}"})
        areas = areas.merge(named, on=keys, how="left")
    return {"accuracy": pd.concat(out, ignore_index=True), "areas": areas}
