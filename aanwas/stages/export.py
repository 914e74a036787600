"""Stage wiring of ``aanwas export``: scores -> area aggregates -> disclosure control -> files.

:func:`run_full_export` scores the cached feature table with the registered models (in
memory), aggregates and checks it (:func:`aanwas.stages.steps.check_scores`), builds the trends
and intervention effects from the delivery (the pure builders below), passes them through
disclosure control and writes everything through :func:`monitoring.publishing.export.write_export`, the
one writer of ``exports/<period>/``. The person-level scored frame exists only in memory: only
:class:`monitoring.publishing.disclosure.DisclosureChecked` tables reach the writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich.console import Console

from aanwas.common.compute import executor
from aanwas.config import AppConfig
from aanwas.stages.features import load_coverage
from aanwas.stages.progress import progress_bar
from aanwas.stages.steps import (
    check_scores,
    covered_scope,
    disclosure_store,
    intervention_registry,
    registry_scores,
    write_periods,
)
from features.geography import load_geography
from features.sources.readers import Coverage, load_mapping, read_delivery
from monitoring.effects.interventions import (
    EFFECT_COLUMNS,
    build_outcome_panel,
    estimate_intervention_effects,
    expand_treated_areas,
    finite_intervals,
    outcome_offences,
    parse_registry,
)
from monitoring.effects.trends import build_trend_series, publish_series, summarise_trends
from monitoring.monitor_config import MonitorConfig
from monitoring.publishing.dashboard import build_dashboard, load_gemeenten_geojson
from monitoring.publishing.disclosure import DisclosureChecked, suppress_counts, suppress_observed_counts


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


def run_trends(
    area_table: pd.DataFrame,
    mcfg: MonitorConfig,
    observed: pd.DataFrame | None = None,
    *,
    outcome: pd.DataFrame | None = None,
    total_band: str | None = "all",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trend series and their summary from stacked area tables (pure; no files); see
    :func:`monitoring.effects.trends.build_trend_series` for ``observed`` and ``outcome``."""
    series = build_trend_series(area_table, mcfg.trends, observed=observed, outcome=outcome, total_band=total_band)
    return series, summarise_trends(series, mcfg.trends)


def run_effects(
    delivery: Any, mcfg: MonitorConfig, labels: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Effects table, skipped interventions and the observed panel of a delivery (pure).

    ``labels``: the risk labels per age band (``cfg.features.labels``; default: their
    defaults); with ``interventions.outcome = "label"`` each band's effect is measured on its
    label's offences. Returns empty effects when the delivery has no intervention registry.
    """
    geo = load_geography()
    band_offences = None if labels is None else {b: lab.offences for b, lab in labels.items()}
    panel = build_outcome_panel(
        delivery.tables, geo, mcfg.interventions, observation_end=delivery.observation_end, band_offences=band_offences
    )
    if delivery.interventions is None or len(delivery.interventions) == 0:
        return pd.DataFrame(columns=list(EFFECT_COLUMNS)), pd.DataFrame(columns=["intervention_id", "reason"]), panel
    res = estimate_intervention_effects(intervention_registry(delivery.interventions), panel, geo, mcfg.interventions)
    return res.effects, res.skipped, panel


def observed_for_trends(
    delivery: Any,
    mcfg: MonitorConfig,
    national_code: str,
    panel: pd.DataFrame | None = None,
    labels: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Registration counts per area, band and calendar year (in memory), at the levels of
    ``mcfg.trends.observed_levels`` and national, every year of the delivery's panel.

    ``panel`` is the outcome panel of the intervention effects (any level at least as fine as
    the finest level wanted): summed up to the levels wanted, so the calendar-year series
    counts exactly what the effects are estimated on (:func:`context_offences` names it);
    without it the panel is built here, with the offences of ``labels`` (the configured
    ``[features.labels]``; default: their defaults).
    Below gemeente level registrations are rare, so nearly every count fails the threshold,
    and the LP audit of a sparse table is slow: wijk level only when asked. The counts still
    go through :func:`monitoring.publishing.disclosure.suppress_observed_counts` before any rate is shown.
    """
    levels = mcfg.trends.observed_levels
    finest: Literal["gemeente", "wijk"] = "wijk" if "wijk" in levels else "gemeente"
    fine_enough = {"gemeente": ("gemeente", "wijk", "buurt"), "wijk": ("wijk", "buurt")}[finest]
    base = panel if panel is not None and len(panel) and str(panel["area_level"].iloc[0]) in fine_enough else None
    if base is None:
        icfg = dataclasses.replace(mcfg.interventions, panel_level=finest)
        band_offences = None if labels is None else {b: lab.offences for b, lab in labels.items()}
        base = build_outcome_panel(
            delivery.tables,
            load_geography(),
            icfg,
            observation_end=delivery.observation_end,
            band_offences=band_offences,
        )
    cols = ["period", "area_level", "area_code", "age_band", "n_persons", "n_registered"]
    counts = ["n_persons", "n_registered"]
    code = base["area_code"].astype("str")
    parts = []
    if finest == "wijk":
        wk = base.assign(area_code="WK" + code.str[2:8])
        parts.append(
            wk.groupby(["period", "area_code", "age_band"], as_index=False)[counts].sum().assign(area_level="wijk")
        )
    gm = base.assign(area_code="GM" + code.str[2:6])
    gm = gm.groupby(["period", "area_code", "age_band"], as_index=False)[counts].sum().assign(area_level="gemeente")
    parts.append(gm)
    land = gm.groupby(["period", "age_band"], as_index=False)[counts].sum()
    parts.append(land.assign(area_level="land", area_code=national_code))
    out = pd.concat([p[cols] for p in parts], ignore_index=True)
    return out[out["area_level"].isin([*levels, "land"])].reset_index(drop=True)


def context_offences(mcfg: MonitorConfig, labels: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Offences counted per band by the outcome panel of the intervention effects (and so by
    the calendar-year context series of the trends): :func:`monitoring.effects.interventions.outcome_offences`
    of the configured labels."""
    found = outcome_offences(mcfg.interventions, {b: lab.offences for b, lab in labels.items()})
    return {b: tuple(found[b]) for b in labels}


def observed_parents(national_code: str) -> dict[str, str]:
    """Parent of every gemeente (the national code) and wijk (its gemeente) of the 2024 map."""
    h = load_geography().hierarchy()
    gemeenten = dict.fromkeys(h["gemeente"].unique(), national_code)
    return {**dict(zip(h["wijk"], h["gemeente"], strict=True)), **gemeenten}


#: Document in the latest period directory naming the age bands left out and why.
MISSING_BANDS_DOC = "missing_bands.txt"


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
    log: Console | None = None,
) -> list[Path]:
    """Everything policy staff receive, for every period, through the one export writer.

    The written period directories go to ``console``, one a line (the result); the progress
    bar of the disclosure audit and a summary (area cells, LP audit, where the latest period's
    extras are) to ``log`` (default: ``console``).

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
    coverage = load_coverage(work)
    cfg, geography = covered_scope(cfg, coverage)
    if missing:  # a total over the age bands would silently be a total over fewer bands
        agg = dataclasses.replace(cfg.monitoring.aggregate, include_band_total=False)
        cfg = dataclasses.replace(cfg, monitoring=dataclasses.replace(cfg.monitoring, aggregate=agg))
    mcfg = cfg.monitoring.monitor
    dcfg = cfg.monitoring.disclosure
    # a bad delivery or mapping ends the run before the (slow) scoring and disclosure control
    delivery = read_delivery(Path(data), load_mapping(mapping), cfg.contract) if data is not None else None
    # the heavy independent work (scoring and disclosure control per period) runs where
    # compute.scheduler says: local processes, or a Dask cluster; the result is the same
    with executor(cfg.compute, local_workers=dcfg.audit_jobs) as ex:
        score_table, version = registry_scores(cfg, work, mlflow_uri=mlflow_uri, alias=alias, bands=bands)
        store = disclosure_store(work)
        scores = score_table(ex if cfg.compute.scheduler else None)  # locally: in this process, as before
        log = console if log is None else log
        with progress_bar(log, "disclosure") as tick:
            found = check_scores(cfg.monitoring, scores, geography, tick, store=store, executor=ex)
        del scores  # person-level: not kept beyond aggregation
        areas, checked, fingerprint, periods = found.areas, found.checked, found.fingerprint, found.periods
        del found  # the confidential area table lives on as ``areas`` only until it is dropped below
        area = checked.table
        national = cfg.monitoring.aggregate.national_code
        total_band = cfg.monitoring.aggregate.band_total_label
        # the observed outcome of the risk's own definition (offences, horizon) per reference date:
        # counts add up over the hierarchy, so they get the area rules (secondary suppression, audit)
        labelled = labelled_outcome_counts(areas, mcfg.trends.observed_levels, total_band)
        del areas  # confidential: only checked counts go on
        outcome = None
        if len(labelled):
            outcome = suppress_observed_counts(labelled, observed_parents(national), dcfg, store, ex).table
        effects = registry = observed = treated = None
        if delivery is not None:
            effects, _skipped, panel = run_effects(delivery, mcfg, cfg.features.labels)
            treated = treated_persons(delivery, panel, mcfg)
            counts = observed_for_trends(delivery, mcfg, national, panel, cfg.features.labels)
            # observed counts add up over the hierarchy: same rules as the area table (secondary
            # suppression and LP audit), so no rate reveals a suppressed count by differencing
            observed = suppress_observed_counts(counts, observed_parents(national), dcfg, store, ex).table
            if delivery.interventions is not None:
                registry = intervention_registry(delivery.interventions)
            del delivery, panel
    outcomes = {b: (tuple(lab.offences), lab.horizon_months) for b, lab in cfg.features.labels.items()}
    context = context_offences(mcfg, cfg.features.labels)
    series, _summary = run_trends(area, mcfg, observed, outcome=outcome, total_band=total_band)
    series = publish_series(
        series,
        mcfg.trends,
        outcomes=outcomes,
        context_offences=context,
        elevated_threshold=cfg.monitoring.aggregate.elevated_threshold,
    )
    # a blank n_persons was not published upstream: count it as 0 so the row stays suppressed
    series = series.assign(n_persons=series["n_persons"].fillna(0).round().astype("int64"))
    trends = suppress_counts(series, dcfg, kind="trends", total="n_persons", magnitudes=["value", "lo", "hi"])
    extra: dict[str, DisclosureChecked] = {}
    if effects is not None and treated is not None:
        # an estimate is published only when the young people behind it (treated areas, bands,
        # years from the start) pass the threshold; the count itself is not published
        eff = finite_intervals(effects).merge(treated, on="intervention_id", how="left")
        eff = eff.fillna({"n_persons_treated": 0})
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
        min_cell_size=dcfg.min_cell_size,
        context_offences=context,
        elevated_threshold=cfg.monitoring.aggregate.elevated_threshold,
        rate_per=mcfg.trends.rate_per,
    )
    written = write_periods(
        cfg.monitoring,
        exports_root,
        periods,
        checked,
        version,
        fingerprint,
        extra_tables=extra,
        history_tables={"trends": trends},
        documents={"dashboard.html": dashboard, **_missing_document(missing)},
        extras_latest_only=True,
    )
    if log is not None:
        rep = checked.report
        log.print(
            f"export: {len(written)} period(s) in {Path(exports_root)}; {rep['n_cells']:,} area cells, "
            f"LP audit {rep['audit']}; trends, effects and dashboard in the latest period only, {written[-1]}",
            markup=False,
            highlight=False,
        )
        if rep.get("levels_not_published"):
            log.print(
                f"not published, too few young people per area: {rep['levels_not_published']}",
                markup=False,
                highlight=False,
            )
    if console is not None:
        console.print("\n".join(str(p) for p in written), markup=False, highlight=False, soft_wrap=True)
    return written


def covered_gemeenten_geojson(coverage: Coverage) -> dict[str, Any]:
    """The shipped gemeente boundaries of the covered gemeenten only (the dashboard's map)."""
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


def treated_persons(delivery: Any, panel: pd.DataFrame, mcfg: MonitorConfig) -> pd.DataFrame | None:
    """Young people behind each intervention's estimate: residents of its treated areas and
    bands, summed over the periods from its start (from the in-memory outcome panel)."""
    if delivery.interventions is None or panel is None or len(panel) == 0:
        return None
    reg = intervention_registry(delivery.interventions)
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
