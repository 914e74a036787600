"""Stage wiring of ``aanwas export``: scores -> area aggregates -> disclosure control -> files.

:func:`run_full_export` scores the cached feature table with the registered models (in
memory, one reference date at a time; :func:`aanwas.stages.steps.registry_area_sums` keeps each
date's area sums in the work directory, so a refresh scores only the dates that changed),
aggregates and checks it (:func:`aanwas.stages.steps.check_sums`), builds the trends
and intervention effects from the delivery (the pure builders below), passes them through
disclosure control and writes everything through :func:`monitoring.publishing.export.write_export`, the
one writer of ``exports/<period>/``. The person-level scored frame exists only in memory: only
:class:`monitoring.publishing.disclosure.DisclosureChecked` tables reach the writer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich.console import Console

from aanwas.common.compute import executor
from aanwas.common.config import as_plain
from aanwas.common.io import FileStore
from aanwas.config import AppConfig
from aanwas.stages.features import delivery_digest, load_coverage, validated_delivery
from aanwas.stages.progress import progress_bar
from aanwas.stages.steps import (
    area_sums_store,
    check_sums,
    covered_scope,
    disclosure_store,
    intervention_registry,
    registry_area_sums,
    write_periods,
)
from features.geography import load_geography
from features.sources.readers import Coverage, load_mapping, read_delivery
from monitoring.effects.interventions import (
    EFFECT_COLUMNS,
    PANEL_TABLES,
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
    # a bad delivery or mapping ends the run before the (slow) scoring and disclosure control;
    # a delivery whose aggregates are stored (same bytes, same rules) is not read again
    kept = delivery_store(work)
    digest = None if data is None else delivery_digest(Path(data), mapping, cfg.contract)
    delivery_key = None if digest is None else delivery_aggregates_key(digest, cfg)
    from_delivery = None if delivery_key is None else load_delivery_aggregates(kept, delivery_key)
    delivery = None
    if data is not None and from_delivery is None:
        # a delivery the features stage validated whole (same bytes, mapping and contract): only
        # the tables of the outcome panel are read (and validated again, with their links)
        only = PANEL_TABLES if digest is not None and digest == validated_delivery(work) else None
        delivery = read_delivery(Path(data), load_mapping(mapping), cfg.contract, only=only)
    # the heavy independent work (scoring per reference date and disclosure control per
    # period) runs where compute.scheduler says: local processes, or a Dask cluster; the
    # result is the same
    with executor(cfg.compute, local_workers=dcfg.audit_jobs) as ex:
        remote = ex if cfg.compute.scheduler else None  # locally: scoring in this process, as before
        scored, version = registry_area_sums(
            cfg, work, geography, mlflow_uri=mlflow_uri, alias=alias, bands=bands, store=area_sums_store(work),
            executor=remote,
        )  # fmt: skip
        store = disclosure_store(work)
        log = console if log is None else log
        with progress_bar(log, "disclosure") as tick:
            found = check_sums(cfg.monitoring, scored, geography, tick, store=store, executor=ex)
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
        if delivery is not None and delivery_key is not None:
            from_delivery = delivery_aggregates(delivery, mcfg, cfg.features.labels, national)
            del delivery
            kept[delivery_key] = from_delivery.to_bytes()
        if from_delivery is not None:
            effects, treated, registry = from_delivery.effects, from_delivery.treated, from_delivery.registry
            # observed counts add up over the hierarchy: same rules as the area table (secondary
            # suppression and LP audit), so no rate reveals a suppressed count by differencing
            counts = from_delivery.counts
            observed = suppress_observed_counts(counts, observed_parents(national), dcfg, store, ex).table
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
        elevated_levels=dcfg.elevated_levels,
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


#: Directory in the work directory with what the export takes from each delivery (area-level
#: counts, effects, the intervention registry), keyed by the delivery's bytes and the rules.
DELIVERY_STORE = "delivery_aggregates"
#: Bump when :func:`delivery_aggregates` changes what a stored entry means.
DELIVERY_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class DeliveryAggregates:
    """What the export takes from a delivery (:func:`delivery_aggregates`); area-level only,
    CONFIDENTIAL until disclosure control: intervention ``effects``, the young people behind
    each (``treated``, or None), observed registration ``counts`` per area, band and year
    (:func:`observed_for_trends`) and the intervention ``registry`` (or None)."""

    effects: pd.DataFrame
    treated: pd.DataFrame | None
    counts: pd.DataFrame
    registry: pd.DataFrame | None

    def to_bytes(self) -> bytes:
        """One JSON line naming the frames and their sizes, then each frame as Parquet."""
        frames = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        blobs = {k: _parquet_bytes(v) for k, v in frames.items() if v is not None}
        head = json.dumps({"frames": {k: len(v) for k, v in blobs.items()}}).encode()
        return head + b"\n" + b"".join(blobs.values())

    @classmethod
    def from_bytes(cls, data: bytes) -> DeliveryAggregates:
        """The aggregates written by :meth:`to_bytes`."""
        head, _, body = data.partition(b"\n")
        frames: dict[str, pd.DataFrame | None] = {f.name: None for f in dataclasses.fields(cls)}
        at = 0
        for name, size in json.loads(head)["frames"].items():
            frames[name] = pd.read_parquet(io.BytesIO(body[at : at + size]))
            at += size
        return cls(**frames)  # type: ignore[arg-type]


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def delivery_aggregates(
    delivery: Any, mcfg: MonitorConfig, labels: Mapping[str, Any], national_code: str
) -> DeliveryAggregates:
    """Everything the export takes from a delivery, from the intervention effects' outcome
    panel (pure; in memory): see :func:`run_effects`, :func:`treated_persons` and
    :func:`observed_for_trends`."""
    effects, _skipped, panel = run_effects(delivery, mcfg, labels)
    registry = None if delivery.interventions is None else intervention_registry(delivery.interventions)
    return DeliveryAggregates(
        effects=effects,
        treated=treated_persons(delivery, panel, mcfg),
        counts=observed_for_trends(delivery, mcfg, national_code, panel, labels),
        registry=registry,
    )


def delivery_store(work: Path) -> FileStore:
    """Stored :class:`DeliveryAggregates` of earlier exports from ``work``: a delivery whose
    bytes and rules are unchanged is not read, validated or reduced again."""
    return FileStore(Path(work) / DELIVERY_STORE)


def delivery_aggregates_key(digest: str, cfg: AppConfig) -> str:
    """sha256 over the delivery's :func:`aanwas.stages.features.delivery_digest` (its bytes,
    mapping, contract and geography) and the settings :func:`delivery_aggregates` reads."""
    rules = {
        "format": DELIVERY_FORMAT,
        "delivery": digest,
        "monitor": as_plain(cfg.monitoring.monitor),
        "labels": as_plain(cfg.features.labels),
        "national_code": cfg.monitoring.aggregate.national_code,
    }
    return hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()


def load_delivery_aggregates(store: FileStore, key: str) -> DeliveryAggregates | None:
    """The stored aggregates of ``key``, or None (not stored, or unreadable)."""
    data = store.get(key)
    if data is None:
        return None
    try:
        return DeliveryAggregates.from_bytes(data)
    except (ValueError, KeyError, OSError):
        return None
