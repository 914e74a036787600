"""A small buurt-level export for dashboard and trend tests: two real gemeenten down to buurt,
four reference dates, scores and labels drawn at random, through the real aggregation and the
real disclosure control (suppress_area_table, suppress_observed_counts, suppress_counts)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.geography import Geography, load_geography
from monitoring.config import DisclosureConfig, MonitoringConfig
from monitoring.effects.trends import build_trend_series, default_outcomes, publish_series
from monitoring.monitor_config import MonitorConfig
from monitoring.publishing.aggregate import aggregate_areas
from monitoring.publishing.disclosure import (
    DisclosureChecked,
    suppress_area_table,
    suppress_counts,
    suppress_observed_counts,
)

GEMEENTEN = ("GM0168", "GM0397")
PERIODS = ("2021-01-01", "2022-01-01", "2023-01-01", "2024-01-01")
LABELLED = ("2021-01-01", "2022-01-01")  # horizon passed: the observed outcome is known
BAND_MEAN = {"8-12": 0.03, "13-19": 0.06, "20-23": 0.05}
YEARS = tuple(range(2015, 2024))


def geography() -> Geography:
    geo = load_geography()
    return Geography(areas=geo.areas[geo.areas["gm_code"].isin(GEMEENTEN)].reset_index(drop=True))


def scores(seed: int = 0, scale: float = 0.35) -> pd.DataFrame:
    """Person-level scores (in memory only) for the buurten of :data:`GEMEENTEN`."""
    rng = np.random.default_rng(seed)
    bu = geography().buurten
    size = np.maximum(np.round(bu["age_15_25"].to_numpy() * scale * 2.2), 0).astype(int)
    effect = rng.normal(0, 0.35, len(bu))
    frames = []
    for k, period in enumerate(PERIODS):
        buurt = np.repeat(bu["code"].to_numpy(), size)
        eff = np.repeat(effect, size)
        band = rng.choice(list(BAND_MEAN), buurt.size, p=[0.3, 0.45, 0.25])
        base = np.vectorize(BAND_MEAN.get)(band) * np.exp(eff + 0.04 * k)
        score = np.clip(rng.beta(2, 2 / base - 2), 0.0005, 0.9995)
        label = pd.array(rng.random(buurt.size) < score, dtype="boolean")
        if period not in LABELLED:
            label[:] = pd.NA
        frames.append(
            pd.DataFrame(
                {"ref_date": pd.Timestamp(period), "age_band": band, "buurt": buurt, "score": score, "label": label}
            )
        )
    return pd.concat(frames, ignore_index=True)


def calendar_counts(seed: int = 0) -> pd.DataFrame:
    """Registrations per gemeente (and national), band and calendar year (confidential)."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    for year in YEARS:
        for band, mean in BAND_MEAN.items():
            for gm in GEMEENTEN:
                n = int(rng.integers(700, 1500))
                rows.append((year, "gemeente", gm, band, n, int(rng.binomial(n, mean / 2))))
    t = pd.DataFrame(rows, columns=["period", "area_level", "area_code", "age_band", "n_persons", "n_registered"])
    land = t.groupby(["period", "age_band"], as_index=False)[["n_persons", "n_registered"]].sum()
    land["area_level"], land["area_code"] = "land", "NL00"
    return pd.concat([t, land[t.columns]], ignore_index=True)


def build(seed: int = 0) -> tuple[DisclosureChecked, DisclosureChecked]:
    """(checked area table, checked published trends) as the export stage makes them."""
    mon, mcfg = MonitoringConfig(disclosure=DisclosureConfig(audit_jobs=1)), MonitorConfig()  # no worker processes
    areas = aggregate_areas(scores(seed), geography(), mon.aggregate)
    area = suppress_area_table(areas, mon.disclosure, total_band=mon.aggregate.band_total_label)
    parents = {**{g: "NL00" for g in GEMEENTEN}}
    keep = areas["area_level"].isin(["land", "gemeente"]) & areas["age_band"].ne("all")
    lab = areas.loc[keep, ["period", "area_level", "area_code", "age_band", "n_labelled", "n_outcome"]]
    lab = lab.rename(columns={"n_labelled": "n_persons", "n_outcome": "n_registered"})
    lab = lab[lab["period"].isin(LABELLED)].astype({"n_persons": "int64", "n_registered": "int64"})
    outcome = suppress_observed_counts(lab, parents, mon.disclosure).table
    observed = suppress_observed_counts(calendar_counts(seed), parents, mon.disclosure).table
    series = build_trend_series(area.table, mcfg.trends, observed=observed, outcome=outcome)
    pub = publish_series(
        series,
        mcfg.trends,
        outcomes=default_outcomes(),
        context_offences=mcfg.interventions.offences,
        elevated_threshold=mon.aggregate.elevated_threshold,
    )
    pub = pub.assign(n_persons=pub["n_persons"].fillna(0).round().astype("int64"))
    trends = suppress_counts(pub, mon.disclosure, kind="trends", total="n_persons", magnitudes=["value", "lo", "hi"])
    return area, trends
