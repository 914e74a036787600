"""Stage wiring of ``aanwas export``: scores -> area aggregates -> disclosure control -> files.

The person-level scored frame exists only in memory here: it is aggregated, checked and
dropped; only :class:`monitoring.disclosure.DisclosureChecked` tables reach
:func:`monitoring.export.write_export`, the one writer of ``exports/<period>/``.

TODO(lead): connect the scores. ``score_table`` is any zero-argument callable returning the
scored frame (columns ``ref_date`` or ``period``, ``age_band``, ``buurt``, optional ``wijk``,
``gemeente``, ``label``, and ``score`` = calibrated probability). From training that is::

    def score_table():
        ft = pd.read_parquet(work / "features.parquet")       # person-level, work dir only
        bundle = training.registry.load_bundle(...)            # registered model version
        return ft.assign(score=models.scoring.score_frame(bundle, ft))

and ``model_version`` is the registered model's name/version. Add ``aanwas export`` to the CLI
(block below the marker in aanwas/cli.py) once that is in place; this module does not import
``models`` or ``training`` so that the export path stays free of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from aanwas.config import AppConfig
from aanwas.stages.progress import progress_bar
from features._io import FileStore
from features.errors import InputError
from features.geography import Geography, load_geography
from features.sources.readers import Coverage
from monitoring.aggregate import aggregate_areas
from monitoring.disclosure import DisclosureChecked, suppress_area_table
from monitoring.export import write_export

#: Key and score columns of the scored frame that enter the fingerprint (not the features).
_FINGERPRINT_COLUMNS = ("ref_date", "period", "age_band", "buurt", "score", "label")


def scores_fingerprint(scores: pd.DataFrame) -> str:
    """Order-independent sha256 over the scored frame's keys and scores (no values readable)."""
    h = hashlib.sha256()
    for col in _FINGERPRINT_COLUMNS:
        if col in scores.columns:
            hashed = pd.util.hash_pandas_object(scores[col], index=False).to_numpy(dtype=np.uint64)
            h.update(f"{col}:{scores[col].dtype}:{len(hashed)}:{int(hashed.sum(dtype=np.uint64))}".encode())
    return h.hexdigest()


def covered_scope(cfg: AppConfig, coverage: Coverage | None) -> tuple[AppConfig, Geography]:
    """Config and geography of an export that covers ``coverage`` (None: the whole country).

    A delivery of a region says nothing about the rest of the country, so its export has rows
    for the region's gemeenten, wijken and buurten only, and its total row (area level
    ``land``, code ``monitoring.aggregate.national_code``) is the region's total, named after
    the region: "elevated" then means above the region's mean.
    """
    geo = load_geography()
    if coverage is None:
        return cfg, geo
    areas = geo.areas[geo.areas["gm_code"].isin(coverage.gemeenten)].reset_index(drop=True)
    agg = dataclasses.replace(cfg.monitoring.aggregate, national_name=coverage.name)
    cfg = dataclasses.replace(cfg, monitoring=dataclasses.replace(cfg.monitoring, aggregate=agg))
    return cfg, Geography(areas=areas)


def build_area_export(
    cfg: AppConfig,
    scores: pd.DataFrame,
    progress: Callable[[str, float], None] | None = None,
    geography: Geography | None = None,
    store: MutableMapping[str, bytes] | None = None,
) -> DisclosureChecked:
    """Aggregate in-memory scores to the areas of ``geography`` (default: the whole country)
    and apply disclosure control (no files); ``progress(stage, fraction_done)`` as the periods'
    audits finish; ``store`` keeps each period's disclosure result (:func:`disclosure_store`)."""
    return _aggregate_and_check(cfg, scores, progress, geography, store)[1]


def _aggregate_and_check(
    cfg: AppConfig,
    scores: pd.DataFrame,
    progress: Callable[[str, float], None] | None = None,
    geography: Geography | None = None,
    store: MutableMapping[str, bytes] | None = None,
) -> tuple[pd.DataFrame, DisclosureChecked]:
    """The confidential area table (stays in memory) and its disclosure-checked form;
    ``store`` keeps each period's disclosure result for reuse (:func:`disclosure_store`)."""
    mon = cfg.monitoring
    areas = aggregate_areas(scores, geography or load_geography(), mon.aggregate)
    total = mon.aggregate.band_total_label if mon.aggregate.include_band_total else None
    return areas, suppress_area_table(areas, mon.disclosure, total_band=total, progress=progress, store=store)


#: Directory in the work directory with each period's disclosure result (masks and audit
#: counts, keyed by a hash of the period's confidential table and the rules).
DISCLOSURE_STORE = "disclosure_results"


def disclosure_store(work: Path) -> FileStore:
    """Per-period disclosure results of earlier exports from ``work``: a refresh that adds a
    period certifies only the new (or changed) periods (docs/disclosure.md)."""
    return FileStore(Path(work) / DISCLOSURE_STORE)


def labelled_outcome_counts(areas: pd.DataFrame, levels: tuple[str, ...], total_band: str | None) -> pd.DataFrame:
    """Observed outcome of the risk's own definition per area, band and reference date
    (CONFIDENTIAL counts from the area table: young people whose horizon has passed,
    ``n_persons``, and those registered for the band's offences within it, ``n_registered``).

    Reference dates whose horizon has not passed yet (no one labelled in the band) are left
    out; the band total is left out (its outcome would mix the bands' definitions).
    """
    keep = areas["area_level"].isin(list(levels)) & (areas["age_band"].astype("str") != str(total_band))
    t = areas.loc[keep, ["period", "area_level", "area_code", "age_band", "n_labelled", "n_outcome"]]
    t = t.rename(columns={"n_labelled": "n_persons", "n_outcome": "n_registered"})
    t = t.assign(
        n_persons=t["n_persons"].round().astype("int64"), n_registered=t["n_registered"].round().astype("int64")
    )
    labelled = t.groupby(["period", "age_band"])["n_persons"].transform("max") > 0
    return t[labelled].reset_index(drop=True)


def _write_periods(
    cfg: AppConfig,
    exports_root: Path,
    periods: list[str],
    checked: DisclosureChecked,
    model_version: str,
    fingerprint: str,
    *,
    extra_tables: Mapping[str, DisclosureChecked] | None = None,
    history_tables: Mapping[str, DisclosureChecked] | None = None,
    documents: Mapping[str, str] | None = None,
    extras_latest_only: bool = False,
) -> list[Path]:
    """One :func:`write_export` per period; extras (and history tables, written whole) in every
    period or only the latest."""
    written = []
    for period in periods:
        with_extras = not extras_latest_only or period == periods[-1]
        written.append(
            write_export(
                exports_root,
                period,
                checked,
                cfg.monitoring,
                model_version=model_version,
                data_fingerprint=fingerprint,
                extra_tables=extra_tables if with_extras else None,
                history_tables=history_tables if with_extras else None,
                documents=documents if with_extras else None,
            )
        )
    return written


def run_export(
    cfg: AppConfig,
    score_table: Callable[[], pd.DataFrame],
    exports_root: Path,
    *,
    model_version: str,
    data_fingerprint: str | None = None,
    periods: list[str] | None = None,
    extra_tables: Mapping[str, DisclosureChecked] | None = None,
    documents: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> list[Path]:
    """Score, aggregate, check and write ``exports_root/<period>/`` for each period.

    Parameters
    ----------
    cfg : AppConfig
        Full config (only ``cfg.monitoring`` is used).
    score_table : callable
        Returns the in-memory scored frame (see the module docstring).
    exports_root : Path
        Exports directory.
    model_version : str
        Registered model name and version, recorded in the manifest.
    data_fingerprint : str, optional
        Fingerprint of the delivery; defaults to a hash of the scored frame's keys and scores.
    periods : list of str, optional
        Periods to write (default: every period in the scores).
    extra_tables, documents : mapping, optional
        Further checked tables / documents for every period directory (see ``write_export``).

    Returns
    -------
    list of Path
        The period directories written.
    """
    scores = score_table()
    fingerprint = data_fingerprint or scores_fingerprint(scores)
    with progress_bar(console, "disclosure") as tick:
        checked = build_area_export(cfg, scores, tick)
    del scores  # person-level: not kept beyond aggregation
    wanted = periods or sorted(checked.table["period"].astype(str).unique())
    written = _write_periods(
        cfg, exports_root, wanted, checked, model_version, fingerprint, extra_tables=extra_tables, documents=documents
    )
    if console is not None:
        rep = checked.report
        console.print(
            f"export: {len(written)} period(s) in {Path(exports_root)}; {rep['n_cells']:,} cells, "
            f"n_persons suppressed {rep['n_persons_primary'] + rep['n_persons_secondary']:,} "
            f"(secondary {rep['n_persons_secondary']:,}), n_elevated suppressed "
            f"{rep['n_elevated_primary'] + rep['n_elevated_secondary']:,}; LP audit {rep['audit']}"
        )
    return written


class NoChampionError(InputError):
    """A band has no champion model to score with; the message alone is the one line shown
    (why, and what to do), without the generic "invalid input" prefix."""

    def __init__(self, problem: str):
        super().__init__("model registry", None, None, problem)
        self.args = (problem,)

    def __str__(self) -> str:
        return self.problem


#: Document in the latest period directory naming the age bands left out and why.
MISSING_BANDS_DOC = "missing_bands.txt"


def _why_no_champion(client: Any, name: str, band: str, work: Path) -> str:
    """One line: why registered model ``name`` has no champion, and what to do."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        versions = []
    if not versions:
        return f"no champion of {name}: no version has been trained; run aanwas train (or aanwas demo) first"
    latest = max(versions, key=lambda v: int(v.version))
    tags = dict(latest.tags or {})
    decision = tags.get("aanwas.decision", "unknown")
    reason = " ".join(tags.get("aanwas.decision_reason", "no reason recorded").split())
    if len(reason) > _REASON_CHARS:
        reason = reason[: _REASON_CHARS - 3] + "..."
    run = f"aanwas report --run-id {latest.run_id} --out REPORTS" if latest.run_id else "aanwas report"
    who = {"rejected": "its gate rejected", "override-rejected": "a reviewer rejected"}.get(
        decision, f"no decision promoted ({decision})"
    )
    return (
        f"no champion of {name}: {who} version "
        f"{latest.version} ({reason}); see the review pack ({run}); promote with "
        f'aanwas promote --work {work} --band {band} --version {latest.version} --reason "..." or retrain'
    )


#: Longest gate reason quoted in the one-line "no champion" error.
_REASON_CHARS = 400


def missing_champions(
    cfg: AppConfig, work: Path, *, mlflow_uri: str | None = None, alias: str = "champion"
) -> dict[str, str]:
    """Bands whose registered model has no ``alias`` version, each with a one-line why and what
    to do (from the registry's decision tags of the band's latest version)."""
    from mlflow.exceptions import MlflowException

    from training import tracking
    from training.registry import _client, registered_model_name

    tcfg = cfg.training
    uri = tracking.resolve_tracking_uri(mlflow_uri, tcfg.mlflow, Path(work))
    client = _client(uri)
    out = {}
    for band in tcfg.bands:
        name = registered_model_name(tcfg.mlflow.model_prefix, band)
        try:
            client.get_model_version_by_alias(name, alias)
        except MlflowException:
            if alias == "champion":
                out[band] = _why_no_champion(client, name, band, Path(work))
            else:
                out[band] = f"no '{alias}' version of {name}; train (and promote) first"
    return out


def registry_bundle(
    cfg: AppConfig,
    work: Path,
    *,
    mlflow_uri: str | None = None,
    alias: str = "champion",
    bands: Sequence[str] | None = None,
) -> Any:
    """The registry's ``alias`` model of every band (or of ``bands``) as a
    :class:`models.bundle.ModelBundle`.

    Raises
    ------
    InputError
        When a band has no version with that alias: one line naming why (e.g. the gate rejected
        the latest version, with the gate's reason) and what to do (see the review pack, promote
        with a recorded reason, or retrain).
    """
    from training import tracking
    from training.registry import load_bundle

    tcfg = cfg.training
    wanted = list(tcfg.bands if bands is None else bands)
    missing = missing_champions(cfg, work, mlflow_uri=mlflow_uri, alias=alias)
    for band in wanted:
        if band in missing:
            raise NoChampionError(missing[band])
    uri = tracking.resolve_tracking_uri(mlflow_uri, tcfg.mlflow, Path(work))
    return load_bundle(tcfg.mlflow.model_prefix, wanted, alias=alias, uri=uri)


def registry_scores(
    cfg: AppConfig,
    work: Path,
    *,
    mlflow_uri: str | None = None,
    alias: str = "champion",
    bands: Sequence[str] | None = None,
) -> tuple[Callable[[], pd.DataFrame], str]:
    """The scored-frame callable for :func:`run_export` from the registry's ``alias`` models.

    Returns the callable (reads the cached feature table from the work directory, scores it in
    memory with the registered model of each band) and the model version label.
    """
    from aanwas.stages.features import load_features
    from models.scoring import score_frame

    bundle = registry_bundle(cfg, work, mlflow_uri=mlflow_uri, alias=alias, bands=bands)
    version = bundle.version_label

    def score_table() -> pd.DataFrame:
        keep = ["ref_date", "age_band", "buurt", "wijk", "gemeente", "label"]
        inputs = sorted({c for b in bundle.bands for c in bundle.features(b)} - set(keep))
        frame = load_features(Path(work), columns=keep + inputs)  # only what scoring and aggregation read
        frame = frame[frame["age_band"].isin(list(bundle.bands))]
        return frame[keep].assign(score=score_frame(bundle, frame).to_numpy())

    return score_table, version


def run_full_export(
    cfg: AppConfig,
    work: Path,
    exports_root: Path,
    *,
    data: Path | None = None,
    mapping: Path | None = None,
    mlflow_uri: str | None = None,
    alias: str = "champion",
    bands: Sequence[str] | None = None,
    missing: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> list[Path]:
    """Everything policy staff receive, for every period, through the one export writer.

    Scores the cached feature table with the registry's ``alias`` models (in memory),
    aggregates and checks the area table; with the delivery (``data``) also builds the
    observed-rate trends and the intervention effects; trend series and effects pass primary
    disclosure control; the dashboard is built from checked tables only. The latest period gets
    trends, effects and the dashboard; every period gets its area table. A delivery that covers
    a region (``features_summary.json``) is exported for that region only (:func:`covered_scope`).

    ``bands`` limits the export to some age bands (default: every configured band, each of
    which must have an ``alias`` model, else one clear error and nothing written); ``missing``
    (band -> why) is then written to the latest period as ``missing_bands.txt`` so the
    incomplete export says which band is left out and why, and the total over the age bands
    is left out (it would be a total over fewer bands under the same label).
    """
    from aanwas.stages.features import load_coverage
    from aanwas.stages.monitor import (
        context_offences,
        monitor_config,
        observed_for_trends,
        observed_parents,
        run_effects,
        run_trends,
    )
    from features.sources.readers import load_mapping, read_delivery
    from monitoring.dashboard import build_dashboard
    from monitoring.disclosure import suppress_counts, suppress_observed_counts
    from monitoring.trends import publish_series

    coverage = load_coverage(work)
    cfg, geography = covered_scope(cfg, coverage)
    if missing:  # a total over the age bands would silently be a total over fewer bands
        agg = dataclasses.replace(cfg.monitoring.aggregate, include_band_total=False)
        cfg = dataclasses.replace(cfg, monitoring=dataclasses.replace(cfg.monitoring, aggregate=agg))
    mcfg = monitor_config(cfg)
    dcfg = cfg.monitoring.disclosure
    # a bad delivery or mapping ends the run before the (slow) scoring and disclosure control
    delivery = read_delivery(Path(data), load_mapping(mapping), cfg.contract) if data is not None else None
    score_table, version = registry_scores(cfg, work, mlflow_uri=mlflow_uri, alias=alias, bands=bands)
    store = disclosure_store(work)
    scores = score_table()
    fingerprint = scores_fingerprint(scores)
    with progress_bar(console, "disclosure") as tick:
        areas, checked = _aggregate_and_check(cfg, scores, tick, geography, store)
    del scores  # person-level: not kept beyond aggregation
    area = checked.table
    national = cfg.monitoring.aggregate.national_code
    total_band = cfg.monitoring.aggregate.band_total_label
    # the observed outcome of the risk's own definition (offences, horizon) per reference date:
    # counts add up over the hierarchy, so they get the area rules (secondary suppression, audit)
    labelled = labelled_outcome_counts(areas, mcfg.trends.observed_levels, total_band)
    del areas  # confidential: only checked counts go on
    outcome = None
    if len(labelled):
        outcome = suppress_observed_counts(labelled, observed_parents(national), dcfg, store).table
    effects = registry = observed = treated = None
    if delivery is not None:
        effects, _skipped, panel = run_effects(delivery, mcfg, cfg.features.labels)
        treated = treated_persons(delivery, panel, mcfg)
        counts = observed_for_trends(delivery, mcfg, national, panel, cfg.features.labels)
        # observed counts add up over the hierarchy: same rules as the area table (secondary
        # suppression and LP audit), so no rate reveals a suppressed count by differencing
        observed = suppress_observed_counts(counts, observed_parents(national), dcfg, store).table
        if delivery.interventions is not None:
            registry = delivery.interventions.astype(
                {c: "str" for c in ("intervention_id", "name", "area_codes", "age_bands")}
            )
        del delivery, panel
    outcomes = {b: (tuple(lab.offences), lab.horizon_months) for b, lab in cfg.features.labels.items()}
    series, _summary = run_trends(area, mcfg, observed, outcome=outcome, total_band=total_band)
    series = publish_series(
        series,
        mcfg.trends,
        outcomes=outcomes,
        context_offences=context_offences(mcfg, cfg.features.labels),
        elevated_threshold=cfg.monitoring.aggregate.elevated_threshold,
    )
    # a blank n_persons was not published upstream: count it as 0 so the row stays suppressed
    series = series.assign(n_persons=series["n_persons"].fillna(0).round().astype("int64"))
    trends = suppress_counts(series, dcfg, kind="trends", total="n_persons", magnitudes=["value", "lo", "hi"])
    extra: dict[str, DisclosureChecked] = {}
    if effects is not None and treated is not None:
        # an estimate is published only when the young people behind it (treated areas, bands,
        # years from the start) pass the threshold; the count itself is not published
        eff = effects.merge(treated, on="intervention_id", how="left").fillna({"n_persons_treated": 0})
        checked_eff = suppress_counts(
            eff, dcfg, kind="effects", total="n_persons_treated", magnitudes=["estimate", "ci_low", "ci_high"]
        )
        extra["effects"] = checked_eff.without_columns(["n_persons_treated"])
    dashboard = build_dashboard(
        area,
        mcfg.dashboard,
        trends=trends.table,
        registry=registry,
        effects=extra["effects"].table if "effects" in extra else None,
        outcomes=outcomes,
        model_version=version,
        geojson=None if coverage is None else covered_gemeenten_geojson(coverage),
        reference_name=None if coverage is None else coverage.name,
        national_code=national,
        all_band=total_band,
    )
    written = _write_periods(
        cfg,
        exports_root,
        sorted(area["period"].astype(str).unique()),
        checked,
        version,
        fingerprint,
        extra_tables=extra,
        history_tables={"trends": trends},
        documents={"dashboard.html": dashboard, **_missing_document(missing)},
        extras_latest_only=True,
    )
    if console is not None:
        rep = checked.report
        console.print(
            f"export: {len(written)} period(s) in {Path(exports_root)}; {rep['n_cells']:,} area cells, "
            f"LP audit {rep['audit']}; trends, effects and dashboard in {written[-1]}"
        )
        if rep.get("levels_not_published"):
            console.print(f"not published, too few young people per area: {rep['levels_not_published']}")
    return written


def covered_gemeenten_geojson(coverage: Coverage) -> dict[str, Any]:
    """The shipped gemeente boundaries of the covered gemeenten only (the dashboard's map)."""
    from monitoring.dashboard import load_gemeenten_geojson

    gj = load_gemeenten_geojson()
    keep = set(coverage.gemeenten)
    feats = [f for f in gj.get("features", []) if f.get("properties", {}).get("gemeenteCode") in keep]
    return {**gj, "features": feats}


def _missing_document(missing: Mapping[str, str] | None) -> dict[str, str]:
    """``missing_bands.txt`` for an export that leaves age bands out (none when complete)."""
    if not missing:
        return {}
    lines = [
        "INCOMPLETE EXPORT: these age bands are left out because no model version passed the "
        "promotion gate (no champion). Their areas are not shown, not zero, and there is no "
        "total over the age bands.",
        "",
        *[f"band {band}: {why}" for band, why in sorted(missing.items())],
    ]
    return {MISSING_BANDS_DOC: "\n".join(lines) + "\n"}


def treated_persons(delivery: Any, panel: pd.DataFrame, mcfg: Any) -> pd.DataFrame | None:
    """Young people behind each intervention's estimate: residents of its treated areas and
    bands, summed over the periods from its start (from the in-memory outcome panel)."""
    from monitoring.interventions import expand_treated_areas, parse_registry

    if delivery.interventions is None or panel is None or len(panel) == 0:
        return None
    reg = delivery.interventions.astype({c: "str" for c in ("intervention_id", "name", "area_codes", "age_bands")})
    level = mcfg.interventions.panel_level
    treated = expand_treated_areas(parse_registry(reg), load_geography(), level)
    rows = treated.merge(panel[["area_code", "age_band", "period", "n_persons"]], on=["area_code", "age_band"])
    start = pd.to_datetime(rows["start_date"]).dt.year
    rows = rows[rows["period"].astype(int) >= start]
    return (
        rows.groupby("intervention_id", as_index=False)["n_persons"]
        .sum()
        .rename(columns={"n_persons": "n_persons_treated"})
    )
