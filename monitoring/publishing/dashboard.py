"""One self-contained, offline HTML dashboard for policy staff (Dutch by default).

A map of gemeenten (inline SVG projected from the shipped 2024 boundaries; no tiles, no
external files) and a drill-down Nederland -> gemeente -> wijk -> buurt with the same figures at
every level: the current mean chance with its interval, the assessment, and trend lines with
uncertainty bands (model risk, share above the threshold, the observed outcome of the same
definition, and registrations per calendar year as context) plus intervention start markers;
intervention effects with their placebo checks; and a plain-language explanation that names the
outcome of each age band. There is no all-ages risk (the bands' outcomes differ). Areas are
listed alphabetically; there is no rank column and no sorting by risk. An area is labelled
"verhoogd" only when its whole interval lies above the national mean of the same band and
period. An empty cell says why it is empty (from the export's status column).

The page embeds only disclosure-checked aggregates: suppressed cells stay blank; trend values
are those of trends.csv as published. Everything (data, styles, script) is inline; the script
and styles live in ``monitoring/publishing/templates/`` (package data). The file contains no web address.
"""

# ruff: noqa: E501  (long lines are the page's Dutch/English texts and its embedded script)
from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from aanwas.common.errors import InputError
from features.geography import load_geography
from monitoring.config import AggregateConfig, DisclosureConfig
from monitoring.effects.trends import (
    SERIES,
    band_context,
    build_trend_series,
    context_text,
    default_outcomes,
    measure_text,
    offence_text,
    outcome_text,
    period_dates,
    publish_series,
)
from monitoring.monitor_config import DashboardConfig, TrendConfig
from monitoring.publishing.disclosure import AREA_EXPORT_COLUMNS

__all__ = [
    "AREA_TABLE_COLUMNS",
    "TEXTS",
    "build_dashboard",
    "label_areas",
    "load_gemeenten_geojson",
    "project_gemeenten",
]

#: Columns the dashboard reads from the disclosure-checked area table (the exported ones).
AREA_TABLE_COLUMNS = AREA_EXPORT_COLUMNS
LABELS = ("elevated", "no_difference", "lower", "suppressed", "reference")
_LEVEL_ORDER = {"land": 0, "gemeente": 1, "wijk": 2, "buurt": 3}
# defaults of build_dashboard's settings from the one place each is configured (the export
# passes the configured values; these serve direct calls)
_AGGREGATE, _DISCLOSURE, _TRENDS = AggregateConfig(), DisclosureConfig(), TrendConfig()

TEXTS: Mapping[str, Mapping[str, str]] = {
    "nl": {
        "lang": "nl",
        "title": "Jonge aanwas: gebiedsmonitor voor preventie",
        "subtitle": "Geschatte kans op een registratie als verdachte, gemiddeld per gebied en leeftijdsgroep (wat telt verschilt per leeftijdsgroep)",
        "period": "Peildatum",
        "band": "Leeftijdsgroep",
        "years": "jaar",
        "map_title": "Kaart van gemeenten",
        "map_hint": "Klik op een gemeente of kies er een in de lijst.",
        "choose_gm": "Kies een gemeente",
        "national": "Nederland",
        "label_elevated": "verhoogd",
        "label_no_difference": "niet aantoonbaar afwijkend",
        "label_lower": "lager",
        "label_suppressed": "niet gepubliceerd",
        "reason_small": "te weinig jongeren om te tonen (< {min})",
        "reason_protect": "verborgen om een ander getal te beschermen",
        "reason_generic": "niet getoond: te weinig jongeren (< {min}) of verborgen om een ander getal te beschermen",
        "reason_missing": "geen interval beschikbaar",
        "outcome": "Uitkomst",
        "unit_pct": "procent",
        "level_of": "{level} in {parent}",
        "children_gemeente": "Wijken",
        "children_wijk": "Buurten",
        "children_buurt": "Andere buurten in deze wijk",
        "children_none": "Deze export gaat niet dieper dan dit niveau.",
        "observed_only_gm": "Waargenomen registraties staan alleen per gemeente en voor heel Nederland: per wijk of buurt zijn het te weinig om te tonen.",
        "share_not_here": "Het aandeel jongeren boven de drempel staat niet per {level}: daar zijn het er bijna altijd te weinig om te tonen. De gemiddelde kans staat er wel.",
        "label_reference": "landelijk gemiddelde",
        "legend_note": "Verhoogd of lager alleen als het hele {level}%-interval boven of onder het landelijk gemiddelde ligt.",
        "col_area": "Gebied",
        "col_level": "Niveau",
        "col_n": "Jongeren",
        "col_risk": "Gemiddelde kans ({level}%-interval)",
        "col_share": "Aandeel boven drempel",
        "col_label": "Oordeel",
        "level_land": "land",
        "level_gemeente": "gemeente",
        "level_wijk": "wijk",
        "level_buurt": "buurt",
        "table_title": "Gebieden",
        "table_note": "Alfabetisch geordend. Dit is geen ranglijst. Klik op een gebied voor zijn cijfers, het verloop en de gebieden daarbinnen.",
        "trend_title": "Verloop",
        "trend_risk": "Geschatte kans (model)",
        "trend_share": "Aandeel jongeren boven de drempel",
        "trend_outcome": "Waargenomen, zelfde uitkomst als de kans (alleen peildata waarvan de periode al voorbij is)",
        "trend_context": "Ter vergelijking: registraties per kalenderjaar (een andere maat)",
        "trend_none": "Geen verloop beschikbaar (één peildatum, of niet gepubliceerd).",
        "trend_hidden": "Voor dit gebied niet gepubliceerd: te weinig jongeren of registraties om te tonen, of verborgen om een ander getal te beschermen.",
        "trend_start": "start",
        "key_area": "dit gebied",
        "key_interval": "onzekerheidsinterval ({level}%)",
        "key_national": "landelijk",
        "key_start": "start interventie",
        "effects_title": "Effecten van interventies",
        "effects_note": "Schatting van het effect op waargenomen registraties per 1.000 jongeren per jaar, vergeleken met gebieden zonder interventie, met {level}%-interval. Placebo-controles horen geen effect te tonen.",
        "col_intervention": "Interventie",
        "col_method": "Methode",
        "col_estimate": "Schatting ({level}%-interval)",
        "col_areas": "Gebieden",
        "col_reading": "Lezing",
        "method_did_cs": "verschil-in-verschillen",
        "method_synthetic_control": "synthetische controle",
        "method_placebo_time": "placebo in de tijd (nep-startdatum eerder)",
        "method_placebo_space": "placebo in de ruimte (gebieden zonder interventie)",
        "reading_down": "aantoonbare daling",
        "reading_up": "aantoonbare stijging",
        "reading_none": "geen aantoonbaar effect",
        "reading_placebo_ok": "geen aanwijzing voor vertekening",
        "reading_placebo_bad": "let op: placebo wijkt af, uitkomst voorzichtig lezen",
        "interval_unbounded": "interval niet te begrenzen",
        "reading_unbounded": "niet te beoordelen: te weinig vergelijkingsgebieden voor een interval",
        "effects_none": "Geen interventies geregistreerd.",
        "about_title": "Wat deze cijfers wel en niet zijn",
        "about_what": "De score is de geschatte kans dat een jongere uit dit gebied en deze leeftijdsgroep door de politie als verdachte wordt geregistreerd, gemiddeld over alle jongeren in het gebied. Wat telt als uitkomst verschilt per leeftijdsgroep: {per_band}. Daarom is er geen kans voor alle leeftijden samen: een gemiddelde over verschillende uitkomsten zegt niets. De grafiek 'registraties per kalenderjaar' is een andere maat en staat er ter vergelijking: het aantal jongeren dat in één kalenderjaar als verdachte is geregistreerd ({per_band_context}). Op die maat worden ook de effecten van interventies geschat. Het model gebruikt kenmerken die vaak aan zo'n registratie voorafgaan, zoals voortijdig schoolverlaten, Halt-verwijzingen en schulden in het gezin.",
        "about_for": "De cijfers zijn alleen bedoeld voor het plannen van preventie per gebied: jongerenwerk, sport, school- en gezinsondersteuning.",
        "about_not": "Ze zeggen niets over individuele jongeren. Er bestaan geen lijsten van personen en de cijfers mogen niet gebruikt worden voor opsporing, handhaving of toezicht op personen.",
        "about_police": "Registraties weerspiegelen ook waar de politie kijkt. Waar meer gecontroleerd wordt, worden meer jongeren geregistreerd; een hogere score kan dus deels meer politie-aandacht betekenen en niet meer criminaliteit. Een gebied als probleemgebied bestempelen kan zo zichzelf versterken.",
        "about_uncertainty": "Elk getal heeft een onzekerheidsinterval ({level}%). Het oordeel 'verhoogd' staat er alleen als het hele interval boven het landelijk gemiddelde ligt. Het interval telt ook de fout van het model die alle jongeren in een gebied delen (geschat uit eerdere registraties); in kleine gebieden is het daarom breed, zodat toeval geen label oplevert. Cellen met te weinig jongeren worden niet getoond (geheimhouding).",
        "about_order": "Gebieden staan alfabetisch. Maak er geen ranglijst van: verschillen binnen de intervallen zijn niet aantoonbaar.",
        "about_audit": "Migratieachtergrond en andere gevoelige kenmerken zijn geen invoer van het model; ze worden alleen gebruikt om het model op eerlijkheid te controleren.",
        "footer": "Gebiedsgrenzen en gebiedscodes: CBS, 2024 (CC BY 4.0). Alleen geaggregeerde cijfers die de geheimhoudingscontrole hebben doorstaan.",
        "no_script": "Deze pagina heeft JavaScript nodig voor de kaart en de tabellen.",
        "model_version": "Modelversie",
        "na": "–",
    },
    "en": {
        "lang": "en",
        "title": "Young recruits into crime: area monitor for prevention",
        "subtitle": "Estimated chance of a suspect registration, averaged per area and age band (what counts differs per age band)",
        "period": "Reference date",
        "band": "Age band",
        "years": "years",
        "map_title": "Map of municipalities",
        "map_hint": "Click a municipality or choose one from the list.",
        "choose_gm": "Choose a municipality",
        "national": "Netherlands",
        "label_elevated": "elevated",
        "label_no_difference": "no demonstrable difference",
        "label_lower": "lower",
        "label_suppressed": "not published",
        "reason_small": "too few young people to show (< {min})",
        "reason_protect": "hidden to protect another number",
        "reason_generic": "not shown: too few young people (< {min}) or hidden to protect another number",
        "reason_missing": "no interval available",
        "outcome": "Outcome",
        "unit_pct": "percent",
        "level_of": "{level} in {parent}",
        "children_gemeente": "Districts",
        "children_wijk": "Neighbourhoods",
        "children_buurt": "Other neighbourhoods in this district",
        "children_none": "This export goes no deeper than this level.",
        "observed_only_gm": "Observed registrations are shown only per municipality and for the whole country: per district or neighbourhood they are too few to show.",
        "share_not_here": "The share of young people above the threshold is not shown per {level}: there are nearly always too few of them to show. The mean chance is shown.",
        "label_reference": "national mean",
        "legend_note": "Elevated or lower only when the whole {level}% interval lies above or below the national mean.",
        "col_area": "Area",
        "col_level": "Level",
        "col_n": "Young people",
        "col_risk": "Mean chance ({level}% interval)",
        "col_share": "Share above threshold",
        "col_label": "Assessment",
        "level_land": "country",
        "level_gemeente": "municipality",
        "level_wijk": "district",
        "level_buurt": "neighbourhood",
        "table_title": "Areas",
        "table_note": "Alphabetical order. This is not a ranking. Click an area for its figures, its trend and the areas within it.",
        "trend_title": "Trend",
        "trend_risk": "Estimated chance (model)",
        "trend_share": "Share of young people above the threshold",
        "trend_outcome": "Observed, same outcome as the chance (only reference dates whose period has passed)",
        "trend_context": "For comparison: registrations per calendar year (another measure)",
        "trend_none": "No trend available (one reference date, or not published).",
        "trend_hidden": "Not published for this area: too few young people or registrations to show, or hidden to protect another number.",
        "trend_start": "start",
        "key_area": "this area",
        "key_interval": "uncertainty interval ({level}%)",
        "key_national": "national",
        "key_start": "intervention start",
        "effects_title": "Intervention effects",
        "effects_note": "Estimated effect on observed registrations per 1,000 young people per year, against areas without the intervention, with {level}% interval. Placebo checks should show no effect.",
        "col_intervention": "Intervention",
        "col_method": "Method",
        "col_estimate": "Estimate ({level}% interval)",
        "col_areas": "Areas",
        "col_reading": "Reading",
        "method_did_cs": "difference-in-differences",
        "method_synthetic_control": "synthetic control",
        "method_placebo_time": "placebo in time (fake earlier start)",
        "method_placebo_space": "placebo in space (areas without the intervention)",
        "reading_down": "demonstrable decrease",
        "reading_up": "demonstrable increase",
        "reading_none": "no demonstrable effect",
        "reading_placebo_ok": "no sign of bias",
        "reading_placebo_bad": "caution: placebo deviates, read the result with care",
        "interval_unbounded": "interval cannot be bounded",
        "reading_unbounded": "cannot be judged: too few comparison areas for an interval",
        "effects_none": "No interventions registered.",
        "about_title": "What these figures are and are not",
        "about_what": "The score is the estimated chance that a young person from this area and age band is registered by the police as a suspect, averaged over all young people in the area. What counts as the outcome differs per age band: {per_band}. That is why there is no chance for all ages together: an average over different outcomes means nothing. The chart 'registrations per calendar year' is another measure, shown for comparison: the number of young people registered as a suspect within one calendar year ({per_band_context}). Intervention effects are estimated on that measure. The model uses characteristics that often precede such a registration, such as early school leaving, Halt referrals and household debt.",
        "about_for": "The figures are meant only for planning prevention per area: youth work, sport, school and family support.",
        "about_not": "They say nothing about individual young people. No lists of persons exist and the figures may not be used for investigation, enforcement or surveillance of persons.",
        "about_police": "Registrations also reflect where the police look. Where more checks happen, more young people get registered; a higher score can partly mean more police attention, not more crime. Labelling an area a problem area can reinforce itself.",
        "about_uncertainty": "Every number has an uncertainty interval ({level}%). The label 'elevated' appears only when the whole interval lies above the national mean. The interval includes the model error that everyone in an area shares (estimated from past registrations); in small areas it is therefore wide, so chance does not produce a label. Cells with too few young people are not shown (confidentiality).",
        "about_order": "Areas are listed alphabetically. Do not turn them into a ranking: differences within the intervals are not demonstrable.",
        "about_audit": "Migration background and other sensitive attributes are not model inputs; they are used only to audit the model for fairness.",
        "footer": "Area boundaries and codes: CBS, 2024 (CC BY 4.0). Only aggregated figures that passed disclosure control.",
        "no_script": "This page needs JavaScript for the map and the tables.",
        "model_version": "Model version",
        "na": "–",
    },
}


# --------------------------------------------------------------------------------------------
# map
# --------------------------------------------------------------------------------------------


def load_gemeenten_geojson() -> dict[str, Any]:
    """The shipped 2024 gemeente boundaries (GeoJSON, lon/lat) as a dict."""
    path = resources.files("monitoring.publishing") / "data" / "gemeenten_2024.geojson"
    return json.loads(path.read_text(encoding="utf-8"))


def _feature_code(props: Mapping[str, Any]) -> str | None:
    for key in ("gemeenteCode", "statcode", "code", "GM_CODE", "area_code"):
        if key in props and props[key]:
            return str(props[key])
    return None


def _feature_name(props: Mapping[str, Any]) -> str:
    for key in ("gemeenteNaam", "statnaam", "name", "GM_NAAM", "area_name"):
        if key in props and props[key]:
            return str(props[key])
    return ""


def project_gemeenten(
    geojson: Mapping[str, Any], width: int, decimals: int
) -> tuple[list[tuple[str, str, str]], int, int]:
    """Project lon/lat polygons to SVG paths (equirectangular, scaled by cos of the mean latitude).

    Parameters
    ----------
    geojson : mapping
        FeatureCollection of (Multi)Polygons with a gemeente code property.
    width : int
        Target width in pixels.
    decimals : int
        Decimals of the output coordinates.

    Returns
    -------
    paths : list of (code, name, d)
        One SVG path per gemeente.
    width, height : int
        Size of the drawing.

    Examples
    --------
    >>> gj = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"gemeenteCode": "GM0001"},
    ...       "geometry": {"type": "Polygon", "coordinates": [[[5.0, 52.0], [6.0, 52.0], [6.0, 53.0], [5.0, 52.0]]]}}]}
    >>> paths, w, h = project_gemeenten(gj, 100, 0)
    >>> paths[0][2]
    'M0 164L100 164L100 0Z'
    """
    feats = []
    for f in geojson.get("features", []):
        code = _feature_code(f.get("properties") or {})
        geom = f.get("geometry") or {}
        if code is None or geom.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        rings = [np.asarray(ring, float)[:, :2] for poly in polys for ring in poly if len(ring) >= 3]
        if rings:
            feats.append((code, _feature_name(f.get("properties") or {}), rings))
    if not feats:
        raise InputError("gemeenten_2024.geojson", None, 0, "no polygons with a gemeente code")
    allpts = np.vstack([r for _, _, rings in feats for r in rings])
    lat0 = math.radians(float(np.mean([allpts[:, 1].min(), allpts[:, 1].max()])))
    kx = math.cos(lat0)
    x0, x1 = allpts[:, 0].min() * kx, allpts[:, 0].max() * kx
    y0, y1 = allpts[:, 1].min(), allpts[:, 1].max()
    scale = width / (x1 - x0)
    height = int(math.ceil((y1 - y0) * scale))
    fmt = f"{{:.{decimals}f}}"
    out = []
    for code, name, rings in feats:
        parts = []
        for r in rings:
            xs = (r[:, 0] * kx - x0) * scale
            ys = (y1 - r[:, 1]) * scale
            pts = [(fmt.format(x), fmt.format(y)) for x, y in zip(xs, ys, strict=False)]
            dedup = [pts[0]] + [p for i, p in enumerate(pts[1:], 1) if p != pts[i - 1]]
            if dedup[-1] == dedup[0] and len(dedup) > 1:
                dedup = dedup[:-1]
            if len(dedup) < 3:
                continue
            parts.append("M" + "L".join(f"{x} {y}" for x, y in dedup) + "Z")
        if parts:
            out.append((code, name, "".join(parts)))
    return out, int(width), height


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def _check_area_table(area_table: pd.DataFrame) -> pd.DataFrame:
    miss = [c for c in AREA_TABLE_COLUMNS if c not in area_table.columns]
    if miss:
        raise InputError("area_table", miss[0], None, "missing column")
    if len(area_table) == 0:
        raise InputError("area_table", None, 0, "area table is empty")
    status = area_table["status"].astype("str")
    bad = ~(status.eq("published") | status.str.startswith("suppressed"))  # suppressed_<reason> too
    if bad.any():
        raise InputError("area_table", "status", int(bad.sum()), "status must be published or suppressed")
    rank_like = [c for c in area_table.columns if "rank" in str(c).lower() or "rang" in str(c).lower()]
    if rank_like:
        raise InputError("area_table", str(rank_like[0]), None, "rank columns are not allowed (no league tables)")
    return area_table


def label_areas(area_table: pd.DataFrame) -> pd.Series:
    """Label each row: elevated / lower / no_difference / suppressed / reference.

    ``elevated`` when the row is published and its ``risk_lo`` exceeds the national
    ``risk_mean`` of the same period and band (the ``land`` row; when absent, the
    person-weighted mean of the published gemeente rows); ``lower`` when ``risk_hi`` is below
    it. Suppressed rows and rows without an interval get ``suppressed``.

    Examples
    --------
    >>> t = pd.DataFrame({"period": "2024", "area_level": ["land", "gemeente", "gemeente"],
    ...     "area_code": ["NL00", "GM1", "GM2"], "age_band": "13-19", "n_persons": [100, 50, 50],
    ...     "risk_mean": [0.05, 0.08, 0.051], "risk_lo": [0.049, 0.06, 0.03], "risk_hi": [0.051, 0.1, 0.07],
    ...     "status": "published"})
    >>> label_areas(t).tolist()
    ['reference', 'elevated', 'no_difference']
    """
    t = area_table
    pub = t["status"].eq("published")
    mean = pd.to_numeric(t["risk_mean"], errors="coerce")
    lo = pd.to_numeric(t["risk_lo"], errors="coerce")
    hi = pd.to_numeric(t["risk_hi"], errors="coerce")
    key = t["period"].astype("str") + "|" + t["age_band"].astype("str")
    nat = t["area_level"].eq("land") & pub & mean.notna()
    ref = pd.Series(mean[nat].to_numpy(), index=key[nat].to_numpy())
    ref = ref[~ref.index.duplicated()]
    gm = t["area_level"].eq("gemeente") & pub & mean.notna()
    n = pd.to_numeric(t["n_persons"], errors="coerce")
    wsum = (mean * n)[gm].groupby(key[gm]).sum()
    nsum = n[gm].groupby(key[gm]).sum()
    fallback = (wsum / nsum).where(nsum > 0)
    refs = key.map(ref).fillna(key.map(fallback))
    above = (lo > refs).fillna(False).to_numpy(dtype=bool)  # nullable floats: NA compares to NA
    below = (hi < refs).fillna(False).to_numpy(dtype=bool)
    out = np.where(above, "elevated", np.where(below, "lower", "no_difference"))
    out = np.where(pub & mean.notna() & lo.notna() & hi.notna() & refs.notna(), out, "suppressed")
    out = np.where(t["area_level"].eq("land") & pub, "reference", out)
    return pd.Series(out, index=t.index, name="label")


def _float(x: Any) -> float:
    """A table value as a float: missing (NaN or pandas' NA of a nullable column) as NaN."""
    return float("nan") if pd.isna(x) else float(x)


def _round_sig(x: float, digits: int) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return float(f"{x:.{digits}g}")


def _bound(x: float, digits: int) -> float | str | None:
    """An interval bound for the page: an unbounded side (the randomization interval never
    rejects there) as the text ``"inf"``/``"-inf"`` (JSON has no infinity), else a number."""
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return _round_sig(x, digits)


def _parent(code: str) -> str:
    if code.startswith("BU"):
        return "WK" + code[2:8]
    if code.startswith("WK"):
        return "GM" + code[2:6]
    return ""


def _cols(frame: pd.DataFrame, names: tuple[str, ...], digits: int) -> list[list[float | None]]:
    """Numeric columns as lists, rounded to ``digits`` significant digits, NaN -> None."""
    out = []
    for c in names:
        x = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out.append([_round_sig(v, digits) for v in x.tolist()])
    return out


def _area_data(
    latest: pd.DataFrame, digits: int, bands: set[str]
) -> tuple[dict[str, str], dict[str, dict[str, list[Any]]], dict[str, dict[str, str]]]:
    """Names of all areas; per band the published values of each area; per band the status
    of each area shown without values (why it is empty, from the export's status column)."""
    labels = label_areas(latest).to_numpy()
    codes = latest["area_code"].astype("str").to_numpy()
    names = dict(zip(codes.tolist(), latest["area_name"].astype("str").tolist(), strict=False))
    band_of = latest["age_band"].astype("str").to_numpy()
    shown = np.isin(band_of, list(bands))
    pub = (labels != "suppressed") & shown
    sub = latest[pub]
    cols = _cols(sub, ("n_persons", "n_elevated", "share_elevated", "risk_mean", "risk_lo", "risk_hi"), digits)
    vals: dict[str, dict[str, list[Any]]] = {b: {} for b in sorted(bands)}
    for code, band, lab, *v in zip(
        codes[pub].tolist(), band_of[pub].tolist(), labels[pub].tolist(), *cols, strict=False
    ):
        vals[band][code] = [*v, lab]
    status: dict[str, dict[str, str]] = {b: {} for b in sorted(bands)}
    empty = (labels == "suppressed") & shown
    for code, band, st in zip(
        codes[empty].tolist(),
        band_of[empty].tolist(),
        latest["status"].astype("str").to_numpy()[empty].tolist(),
        strict=True,
    ):
        status[band][code] = _reason_key(st)
    return names, vals, status


def _reason_key(status: str) -> str:
    """Text key of why a cell is empty, from the export's status value."""
    s = status.lower()
    if s == "published":
        return "reason_missing"
    if any(w in s for w in ("small", "primary", "too_few", "threshold")):
        return "reason_small"
    if any(w in s for w in ("secondary", "protect", "complement")):
        return "reason_protect"
    return "reason_generic"


def _units(trends: pd.DataFrame) -> dict[str, str]:
    if "unit" not in trends.columns or len(trends) == 0:
        return {}
    first = trends.drop_duplicates("series")
    return dict(zip(first["series"].astype("str"), first["unit"].astype("str"), strict=True))


def _trend_data(series: pd.DataFrame, levels: tuple[str, ...], digits: int) -> tuple[list[str], dict[str, Any]]:
    """Shared list of period dates and, per area/band/series, published points [date, v, lo, hi].

    The values are those of the published trend table as they are (already rounded to what
    their intervals support), so page and trends.csv agree.
    """
    s = series[series["area_level"].isin(levels) & series["status"].eq("published") & series["value"].notna()]
    dates = period_dates(s["period"]).dt.strftime("%Y-%m-%d")
    s = s.assign(_d=dates.to_numpy()).sort_values(["area_code", "age_band", "series", "_d"], kind="stable")
    uniq = sorted(set(s["_d"].tolist()))
    pos = {d: i for i, d in enumerate(uniq)}

    def plain(col: str) -> list[float | None]:
        x = pd.to_numeric(s[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return [None if not np.isfinite(v) else float(v) for v in x.tolist()]

    out: dict[str, Any] = {}
    for code, band, name, d, a, b, c in zip(
        s["area_code"].astype("str").tolist(),
        s["age_band"].astype("str").tolist(),
        s["series"].astype("str").tolist(),
        s["_d"].tolist(),
        plain("value"),
        plain("lo"),
        plain("hi"),
        strict=True,
    ):
        out.setdefault(code, {}).setdefault(band, {}).setdefault(name, []).append([pos[d], a, b, c])
    return uniq, out


def _interventions(registry: pd.DataFrame | None, effects: pd.DataFrame | None, digits: int) -> list[dict[str, Any]]:
    if registry is None:
        return []
    from monitoring.effects.interventions import parse_registry

    reg = parse_registry(registry)
    out = []
    for iv_id, grp in reg.groupby("intervention_id", sort=True):
        item: dict[str, Any] = {
            "id": str(iv_id),
            "name": str(grp["name"].iloc[0]),
            "areas": sorted(set(grp["area_code"])),
            "bands": sorted(set(grp["age_band"]), key=_band_key),
            "start": pd.Timestamp(grp["start_date"].iloc[0]).strftime("%Y-%m-%d"),
            "effects": [],
        }
        if effects is not None and len(effects):
            for r in effects[effects["intervention_id"].astype("str") == str(iv_id)].itertuples(index=False):
                item["effects"].append(
                    {
                        "method": str(r.method),
                        "est": _round_sig(_float(r.estimate), digits),
                        "lo": _bound(_float(r.ci_low), digits),
                        "hi": _bound(_float(r.ci_high), digits),
                        "n_areas": int(r.n_areas),
                        # why an interval end is blank (finite_intervals); absent when none
                        **({"reason": str(r.reason)} if str(getattr(r, "reason", "") or "") else {}),
                    }
                )
        out.append(item)
    return out


def _effects_outcome(
    bands: Sequence[str], context: Sequence[str] | Mapping[str, Sequence[str]], rate_per: int, language: str
) -> str:
    """What an intervention's effects are estimated on, in the page's words: the calendar-year
    measure of the trend chart (:func:`monitoring.effects.trends.context_text`) of its bands,
    named per band when the bands count different offences.

    >>> _effects_outcome(["13-19", "20-23"], {"13-19": ["opiumwet"], "20-23": ["opiumwet"]}, 1000, "nl")
    'jongeren geregistreerd als verdachte van een drugsdelict (Opiumwet) in het kalenderjaar, per 1.000 jongeren'
    """
    return context_text({b: band_context(context, b) for b in bands}, rate_per, language) if bands else ""


def _band_key(band: str) -> tuple[int, str]:
    head = band.split("-")[0]
    return (int(head) if head.isdigit() else 999, band)


def _json_for_script(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --------------------------------------------------------------------------------------------
# page
# --------------------------------------------------------------------------------------------


def _template(name: str) -> str:
    """Text of a file in ``monitoring/publishing/templates`` (shipped as package data)."""
    return (resources.files("monitoring.publishing") / "templates" / name).read_text(encoding="utf-8")


def _latest_period(area_table: pd.DataFrame) -> str:
    dates = period_dates(area_table["period"])
    return str(area_table["period"].astype("str").to_numpy()[int(np.argmax(dates.to_numpy()))])


#: How the texts name the reference when the table covers a region (longest phrase first).
_REGION_PHRASES = {
    "nl": (
        ("het landelijk gemiddelde", "het gemiddelde van {name}"),
        ("landelijk gemiddelde", "gemiddelde van {name}"),
    ),
    "en": (("the national mean", "the mean of {name}"), ("national mean", "mean of {name}")),
}


def _region_texts(texts: dict[str, str], name: str, language: str) -> dict[str, str]:
    """Texts for a table whose total row is a region's, not the country's.

    >>> _region_texts({"label_reference": "national mean", "key_national": "national", "national": "Netherlands"},
    ...               "Gooi", "en")
    {'label_reference': 'mean of Gooi', 'key_national': 'Gooi', 'national': 'Gooi'}
    """
    out = dict(texts)
    for key in ("label_reference", "legend_note", "about_uncertainty"):
        if key in out:
            for old, new in _REGION_PHRASES[language]:
                out[key] = out[key].replace(old, new.format(name=name))
    out["key_national"] = out["national"] = name
    return out


def _page_texts(
    config: DashboardConfig,
    outs: Mapping[str, tuple[tuple[str, ...], int]],
    bands_present: list[str],
    min_cell_size: int,
    reference_name: str | None,
    context: Sequence[str] | Mapping[str, Sequence[str]],
) -> tuple[dict[str, str], dict[str, str]]:
    """The page's texts in ``config.language`` with the interval level, the disclosure threshold
    and each shown band's outcome and calendar-year offences (``context``) filled in (a region's
    wording with ``reference_name``), and the outcome text per band."""
    lang = config.language
    texts = dict(TEXTS[lang])
    level_pct = f"{round(100 * config.interval_level):d}"
    for key in ("legend_note", "col_risk", "key_interval", "about_uncertainty", "effects_note", "col_estimate"):
        texts[key] = texts[key].format(level=level_pct)
    texts["reason_small"] = texts["reason_small"].format(min=min_cell_size)
    texts["reason_generic"] = texts["reason_generic"].format(min=min_cell_size)
    outcome_of = {b: outcome_text(o, h, lang) for b, (o, h) in outs.items() if b in bands_present}
    per_band = "; ".join(f"{b} {texts['years']}: {outcome_of[b]}" for b in bands_present)
    per_band_context = "; ".join(
        f"{b} {texts['years']}: {offence_text(band_context(context, b), lang)}" for b in bands_present
    )
    texts["about_what"] = texts["about_what"].format(per_band=per_band, per_band_context=per_band_context)
    if reference_name:
        texts = _region_texts(texts, reference_name, config.language)
    # the top level is named, not typed: "Nederland", or the region's name for a regional export
    texts["level_land"] = texts["national"]
    return texts, outcome_of


def build_dashboard(
    area_table: pd.DataFrame,
    config: DashboardConfig,
    *,
    trends: pd.DataFrame | None = None,
    registry: pd.DataFrame | None = None,
    effects: pd.DataFrame | None = None,
    geojson: Mapping[str, Any] | None = None,
    outcomes: Mapping[str, tuple[Sequence[str], int]] | None = None,
    horizons: Mapping[str, int] | None = None,
    model_version: str | None = None,
    national_code: str = _AGGREGATE.national_code,
    all_band: str = _AGGREGATE.band_total_label,
    reference_name: str | None = None,
    min_cell_size: int = _DISCLOSURE.min_cell_size,
    context_offences: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    elevated_threshold: float = _AGGREGATE.elevated_threshold,
    rate_per: int = _TRENDS.rate_per,
    elevated_levels: Sequence[str] = _DISCLOSURE.elevated_levels,
) -> str:
    """Render the dashboard as one self-contained HTML document (a string; nothing is written).

    Parameters
    ----------
    area_table : DataFrame
        Disclosure-checked area table(s) with :data:`AREA_TABLE_COLUMNS` (several periods
        allowed; the map and tables show the latest, trends all of them).
    config : DashboardConfig
    trends : DataFrame, optional
        Published trend series (:func:`monitoring.effects.trends.publish_series`, the rows of
        trends.csv; the page shows exactly these numbers); default: built from ``area_table``.
    registry : DataFrame, optional
        Intervention registry: start markers on trend lines of the areas concerned.
    effects : DataFrame, optional
        Effects table (``intervention_id, estimate, ci_low, ci_high, method, n_areas``),
        estimated on the calendar-year registrations of ``context_offences`` (the export's
        outcome panel); the page names that outcome per intervention in its own language.
    geojson : mapping, optional
        Gemeente boundaries; default: the shipped 2024 file.
    outcomes : mapping band -> (offences, horizon in months), optional
        The outcome of each band's risk (``features.labels``), named on the page; default:
        the default label definitions. Only these bands are shown: there is no all-ages risk.
    horizons : mapping band -> months, optional
        Horizons overriding those of ``outcomes`` (older callers).
    model_version : str, optional
        Shown in the footer.
    national_code, all_band : str
        Code of the national row and label of the all-ages band (never shown as a risk).
    reference_name : str, optional
        The table covers a region only and its total row (``national_code``) is the region's
        total: the texts then speak of the mean of ``reference_name`` instead of the national
        mean.
    min_cell_size : int
        The disclosure threshold, named where a cell is empty for too few young people.
    context_offences : sequence of str, or mapping band -> sequence, optional
        Offences of the calendar-year context series and of the effects' outcome, for all bands
        or per band (default: all offences); named where the page explains the outcome.
    elevated_threshold : float
        Model threshold behind the share elevated.
    rate_per : int
        Scale of the calendar-year context series.
    elevated_levels : sequence of str
        Levels at which the share above the threshold is published
        (``monitoring.disclosure.elevated_levels``): elsewhere its chart and table column are
        left out, with a note saying why.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    InputError
        Missing columns, bad status values, or a rank-like column in the area table.
    """
    from features.contract import OFFENCES

    table = _check_area_table(area_table)
    lang = config.language
    latest_period = _latest_period(table)
    latest = table[table["period"].astype("str") == latest_period].copy()
    latest = latest.sort_values(
        ["area_level", "area_code", "age_band"],
        key=lambda s: s.map(_LEVEL_ORDER) if s.name == "area_level" else s,
        kind="stable",
    )
    outs = {b: (tuple(o), int(h)) for b, (o, h) in (outcomes or default_outcomes()).items()}
    for b, h in (horizons or {}).items():
        if b in outs:
            outs[b] = (outs[b][0], int(h))
    ctx = context_offences or OFFENCES
    if trends is None:
        tcfg = TrendConfig(interval_level=config.interval_level, rate_per=rate_per)
        raw = build_trend_series(table, tcfg, total_band=all_band)
        trends = publish_series(raw, tcfg, outcomes=outs, context_offences=ctx, elevated_threshold=elevated_threshold)
    in_table = set(latest["age_band"].astype("str"))
    bands_present = sorted((b for b in outs if b in in_table and b != all_band), key=_band_key)
    if not bands_present:
        raise InputError("area_table", "age_band", 0, "no age band with a defined outcome")
    default_band = bands_present[0]
    texts, outcome_of = _page_texts(config, outs, bands_present, min_cell_size, reference_name, ctx)
    measures = {
        b: {
            name: measure_text(
                name,
                offences=o,
                horizon_months=h,
                context_offences=band_context(ctx, b),
                elevated_threshold=elevated_threshold,
                rate_per=rate_per,
                language=lang,
            )
            for name in SERIES
        }
        for b, (o, h) in outs.items()
        if b in bands_present
    }
    names, values, status = _area_data(latest, config.value_digits, set(bands_present))
    interventions = _interventions(registry, effects, config.value_digits)
    for iv in interventions:  # the effects' outcome in the page's words: the calendar-year measure
        iv["outcome"] = _effects_outcome(iv["bands"], ctx, rate_per, lang)
    geo_names = load_geography().names
    for iv in interventions:  # registry areas outside the table still get their name
        for code in iv["areas"]:
            names.setdefault(code, geo_names.get(code, code))
    dates, trend_points = _trend_data(trends, config.trend_levels, config.value_digits)
    data = {
        "texts": texts,
        "period": latest_period,
        "bands": bands_present,
        "default_band": default_band,
        "national_code": national_code,
        "elevated_levels": list(elevated_levels),
        "names": names,
        "values": values,
        "status": status,
        "outcomes": outcome_of,
        "measures": measures,
        "units": _units(trends),
        "dates": dates,
        "trends": trend_points,
        "interventions": interventions,
    }
    paths, width, height = project_gemeenten(
        geojson if geojson is not None else load_gemeenten_geojson(), config.map_width, config.coordinate_decimals
    )
    return _page(texts, data, paths, (width, height), model_version, latest_period)


def _page(
    texts: Mapping[str, str],
    data: Mapping[str, Any],
    paths: list[tuple[str, str, str]],
    size: tuple[int, int],
    model_version: str | None,
    latest_period: str,
) -> str:
    """The HTML document: the map's SVG (``paths`` of :func:`project_gemeenten`, ``size`` its
    width and height), legend, texts, the shipped CSS and JS, and ``data`` as JSON."""
    width, height = size
    svg = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(texts["map_title"])}">',
        '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="5" height="5" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="5" stroke="#b8c0c8" stroke-width="2"/></pattern></defs>',
    ]
    for code, name, d in paths:
        svg.append(
            f'<path data-code="{html.escape(code)}" data-name="{html.escape(name)}" d="{d}" fill="url(#hatch)"><title>{html.escape(name)}</title></path>'
        )
    svg.append("</svg>")
    legend = "".join(
        f'<span><span class="sw" style="background:{c}"></span>{html.escape(texts["label_" + k])}</span>'
        for k, c in (
            ("elevated", "#e6852e"),
            ("no_difference", "#cfd6dc"),
            ("lower", "#6f9fca"),
            ("suppressed", "repeating-linear-gradient(45deg,#fff 0 3px,#b8c0c8 3px 5px)"),
        )
    )
    about = "".join(
        f"<p>{html.escape(texts[k])}</p>"
        for k in (
            "about_what",
            "about_for",
            "about_not",
            "about_police",
            "about_uncertainty",
            "about_order",
            "about_audit",
        )
    )
    version = f" · {html.escape(texts['model_version'])}: {html.escape(model_version)}" if model_version else ""
    e = html.escape
    return "".join(
        [
            "<!DOCTYPE html>\n",
            f'<html lang="{e(texts["lang"])}"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(texts['title'])} · {e(latest_period)}</title>",
            f"<style>\n{_template('dashboard.css')}</style></head><body>",
            f"<header><h1>{e(texts['title'])}</h1><p>{e(texts['subtitle'])} · {e(texts['period'])}: {e(latest_period)}</p></header>",
            "<main>",
            f"<noscript><p>{e(texts['no_script'])}</p></noscript>",
            '<div class="controls">',
            f'<div><label>{e(texts["band"])}</label><span class="bands" id="bands"></span></div>',
            f'<div><label for="gm-select">{e(texts["choose_gm"])}</label><select id="gm-select"></select></div>',
            "</div>",
            '<div class="grid"><div>',
            f'<section class="card map" id="map"><h2>{e(texts["map_title"])}</h2>{"".join(svg)}',
            f'<div class="legend">{legend}</div><p class="note">{e(texts["legend_note"])}</p></section>',
            f'<section class="card about"><h2>{e(texts["about_title"])}</h2>{about}</section>',
            "</div><div>",
            '<section class="card" id="detail"></section>',
            f'<section class="card"><h2>{e(texts["table_title"])}</h2><p class="note">{e(texts["table_note"])}</p><div id="table-box"></div></section>',
            "</div></div>",
            f'<section class="card"><h2>{e(texts["effects_title"])}</h2><p class="note">{e(texts["effects_note"])}</p><div id="effects"></div></section>',
            f"<footer>{e(texts['footer'])}{version}</footer>",
            "</main>",
            f'<script type="application/json" id="dashboard-data">{_json_for_script(data)}</script>',
            f"<script>\n{_template('dashboard.js')}</script>",
            "</body></html>\n",
        ]
    )
