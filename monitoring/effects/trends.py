"""Trends across refreshes: per area and age band, series of risk, share elevated and observed rates.

Input are area tables that already passed disclosure control (one per refresh, or stacked).
Suppressed cells stay blank; slopes and changes use published cells only, so no suppressed
value can be recovered from them. Every value carries an interval: the published risk interval,
a Wilson interval for shares and rates. A change is called up or down only when its interval
excludes zero.

One outcome per age band: the model's risk of a band is the chance of a suspect registration
for the band's offences within the band's horizon after the reference date
(``features.labels``). The series that share that definition (``risk_mean``,
``share_elevated``, ``rate_outcome``) exist per band only; a pooled "all ages" risk would
average different outcomes and is not built. Registrations per calendar year
(``rate_registered_year``) are another measure, labelled as context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from aanwas.common.errors import InputError
from monitoring.monitor_config import TrendConfig

__all__ = [
    "PUBLISHED_SERIES_COLUMNS",
    "SERIES",
    "SERIES_COLUMNS",
    "SUMMARY_COLUMNS",
    "band_context",
    "build_trend_series",
    "default_outcomes",
    "measure_text",
    "offence_text",
    "outcome_text",
    "period_dates",
    "publish_series",
    "round_to_interval",
    "summarise_trends",
    "wilson_interval",
]

#: The series, in display order: model risk and share elevated (reference dates), the observed
#: outcome of the same definition (reference dates whose horizon has passed), and registrations
#: per calendar year (context: another measure).
SERIES = ("risk_mean", "share_elevated", "rate_outcome", "rate_registered_year")

#: Columns of the long trend table (one row per area x band x series x period).
SERIES_COLUMNS = (
    "area_level",
    "area_code",
    "area_name",
    "age_band",
    "series",
    "period",
    "period_date",
    "value",
    "lo",
    "hi",
    "n_persons",
    "status",
)
#: Columns of the per-series trend summary.
SUMMARY_COLUMNS = (
    "area_level",
    "area_code",
    "area_name",
    "age_band",
    "series",
    "n_periods",
    "first_period",
    "last_period",
    "change",
    "change_lo",
    "change_hi",
    "slope_per_year",
    "slope_lo",
    "slope_hi",
    "direction",
)
_KEYS = ["area_level", "area_code", "area_name", "age_band", "series"]
_AREA_REQUIRED = (
    "period",
    "area_level",
    "area_code",
    "area_name",
    "age_band",
    "n_persons",
    "risk_mean",
    "risk_lo",
    "risk_hi",
    "status",
)
_PUBLISHED = "published"
_SUPPRESSED = "suppressed"
#: Columns of trends.csv (the published form, :func:`publish_series`).
PUBLISHED_SERIES_COLUMNS = (
    "area_level",
    "area_code",
    "area_name",
    "age_band",
    "series",
    "measure",
    "unit",
    "period_type",
    "period",
    "value",
    "lo",
    "hi",
    "n_persons",
    "status",
)
_DAYS_PER_YEAR = 365.25


def wilson_interval(k: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of the proportion ``k / n`` (NaN where ``n`` is 0 or missing).

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([5.0]), np.array([10.0]), 0.95)
    >>> round(float(lo[0]), 3), round(float(hi[0]), 3)
    (0.237, 0.763)
    """
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    z = float(norm.ppf(0.5 + level / 2.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    bad = ~(n > 0)
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def period_dates(periods: pd.Series) -> pd.Series:
    """Period labels (a year such as ``2024`` or a date ``2024-01-01``) -> their start date.

    Raises
    ------
    InputError
        A label that is neither a year nor a date.
    """
    text = periods.astype("str").str.strip()
    year_only = text.str.fullmatch(r"\d{4}")
    out = pd.to_datetime(text.where(~year_only, text + "-01-01"), errors="coerce", format="mixed")
    if out.isna().any():
        raise InputError("area_table", "period", int(out.isna().sum()), "period is neither a year nor a date")
    return out.astype("datetime64[s]")


def _stack(area_tables: pd.DataFrame | Sequence[pd.DataFrame]) -> pd.DataFrame:
    if isinstance(area_tables, pd.DataFrame):
        frame = area_tables
    else:
        if len(area_tables) == 0:
            raise InputError("area_table", None, 0, "no area tables given")
        frame = pd.concat(list(area_tables), ignore_index=True)
    miss = [c for c in _AREA_REQUIRED if c not in frame.columns]
    if miss:
        raise InputError("area_table", miss[0], None, "missing column")
    if len(frame) == 0:
        raise InputError("area_table", None, 0, "area table is empty")
    bad_status = ~(frame["status"].eq(_PUBLISHED) | _is_suppressed(frame["status"]))
    if bad_status.any():
        raise InputError("area_table", "status", int(bad_status.sum()), "status must be published or suppressed")
    dup = frame.duplicated(["period", "area_level", "area_code", "age_band"], keep=False)
    if dup.any():
        raise InputError("area_table", "period,area_level,area_code,age_band", int(dup.sum()), "duplicate key")
    return frame


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _is_suppressed(status: pd.Series) -> pd.Series:
    return status.astype("str").str.startswith(_SUPPRESSED)


def _series_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns every series of a row shares: area, band, period (and its date), persons
    (published rows only) and disclosure status."""
    published = frame["status"].eq(_PUBLISHED).to_numpy()
    base = pd.DataFrame(
        {
            "area_level": frame["area_level"].astype("str").to_numpy(),
            "area_code": frame["area_code"].astype("str").to_numpy(),
            "area_name": frame["area_name"].astype("str").to_numpy(),
            "age_band": frame["age_band"].astype("str").to_numpy(),
            "period": frame["period"].astype("str").to_numpy(),
            "period_date": period_dates(frame["period"]).to_numpy(),
            "n_persons": np.where(published, _num(frame, "n_persons"), np.nan),
            "status": np.where(published, _PUBLISHED, frame["status"].astype("str").to_numpy()),
        }
    )
    return base


def build_trend_series(
    area_tables: pd.DataFrame | Sequence[pd.DataFrame],
    config: TrendConfig,
    *,
    observed: pd.DataFrame | None = None,
    outcome: pd.DataFrame | None = None,
    total_band: str | None = "all",
) -> pd.DataFrame:
    """Long table of trend series per area x age band x period.

    Series (:data:`SERIES`):

    * ``risk_mean`` (proportion) with the published interval ``risk_lo``..``risk_hi``;
    * ``share_elevated`` (proportion of young people above the model threshold) with a Wilson
      interval from the published counts ``n_elevated``/``n_persons``;
    * ``rate_outcome`` (proportion): the observed outcome of the risk's own definition, the
      share of the young people of a reference date registered for the band's offences
      within the band's horizon, with a Wilson interval, from ``outcome`` (``period,
      area_level, area_code, age_band, n_persons, n_registered``: the labelled young people
      and those registered; disclosure-checked counts) or from the area table's
      ``rate_outcome``/``_lo``/``_hi``;
    * ``rate_registered_year`` (per ``config.rate_per``): young people registered as a suspect
      in a calendar year, from ``observed`` (same columns, ``period`` = year, e.g.
      :func:`monitoring.effects.interventions.build_outcome_panel`) with a Wilson interval. Another
      measure than the risk: context.

    Observed series are shown only where both the registered and the not-registered count
    reach ``config.min_count_observed``. Rows of the band total ``total_band`` are left out of
    every series: a risk pooled over bands would average different outcomes.

    Parameters
    ----------
    area_tables : DataFrame or sequence of DataFrames
        Disclosure-checked area tables (columns ``period, area_level, area_code, area_name,
        age_band, n_persons, n_elevated, share_elevated, risk_mean, risk_lo, risk_hi, status``;
        suppressed cells blank; a status ``suppressed...`` may say why, and is kept).
    config : TrendConfig
    observed : DataFrame, optional
        Registration counts per area, band and calendar year.
    outcome : DataFrame, optional
        Labelled and registered counts per area, band and reference date.
    total_band : str or None
        Label of the band total (left out).

    Returns
    -------
    DataFrame
        :data:`SERIES_COLUMNS`, sorted by area, band, series and period. ``status`` is
        ``published`` or the reason it is not (value and interval blank).

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2023-01-01", "2024-01-01"], "area_level": "gemeente",
    ...     "area_code": "GM0363", "area_name": "Amsterdam", "age_band": "13-19", "n_persons": [500, 510],
    ...     "n_elevated": [40, 45], "share_elevated": [0.08, 0.088], "risk_mean": [0.05, 0.06],
    ...     "risk_lo": [0.04, 0.05], "risk_hi": [0.06, 0.07], "status": "published"})
    >>> s = build_trend_series(t, TrendConfig())
    >>> s.loc[s["series"] == "risk_mean", "value"].tolist()
    [0.05, 0.06]
    """
    frame = _stack(area_tables)
    if total_band is not None:
        frame = frame[frame["age_band"].astype("str") != str(total_band)]
    base = _series_keys(frame)
    parts = []
    risk = base.assign(
        series="risk_mean", value=_num(frame, "risk_mean"), lo=_num(frame, "risk_lo"), hi=_num(frame, "risk_hi")
    )
    parts.append(risk)
    n_el, n_p = _num(frame, "n_elevated"), _num(frame, "n_persons")
    if "n_elevated" in frame.columns:
        lo, hi = wilson_interval(n_el, n_p, config.interval_level)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n_p > 0, n_el / n_p, np.nan)
        parts.append(base.assign(series="share_elevated", value=share, lo=lo, hi=hi))
    if "rate_outcome" in frame.columns and outcome is None:
        parts.append(
            base.assign(
                series="rate_outcome",
                value=_num(frame, "rate_outcome"),
                lo=_num(frame, "rate_outcome_lo"),
                hi=_num(frame, "rate_outcome_hi"),
            )
        )
    out = pd.concat(parts, ignore_index=True)
    sup = ~out["status"].eq(_PUBLISHED) | out["value"].isna()
    out.loc[sup, ["value", "lo", "hi", "n_persons"]] = np.nan
    out.loc[sup & out["status"].eq(_PUBLISHED), "status"] = _SUPPRESSED
    names = dict(zip(frame["area_code"].astype("str"), frame["area_name"].astype("str"), strict=False))
    extra = [
        _observed_series(counts, names, config, series, scale)
        for counts, series, scale in ((outcome, "rate_outcome", 1), (observed, "rate_registered_year", config.rate_per))
        if counts is not None
    ]
    if extra:
        out = pd.concat([out, *extra], ignore_index=True)
    out = out.sort_values(["area_level", "area_code", "age_band", "series", "period_date"], kind="stable")
    return out[list(SERIES_COLUMNS)].reset_index(drop=True)


def _observed_series(
    observed: pd.DataFrame, names: dict[str, str], config: TrendConfig, series: str, scale: float
) -> pd.DataFrame:
    need = ("period", "area_level", "area_code", "age_band", "n_persons", "n_registered")
    miss = [c for c in need if c not in observed.columns]
    if miss:
        raise InputError("observed", miss[0], None, "missing column")
    k, n = _num(observed, "n_registered"), _num(observed, "n_persons")
    ok = (k >= config.min_count_observed) & (n - k >= config.min_count_observed)
    lo, hi = wilson_interval(k, n, config.interval_level)
    codes = observed["area_code"].astype("str")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = scale * k / n
    upstream = observed["status"].astype("str").to_numpy() if "status" in observed.columns else None
    status = np.where(ok, _PUBLISHED, _SUPPRESSED)
    if upstream is not None:  # keep the reason given by disclosure control
        status = np.where(~ok & (upstream != _PUBLISHED), upstream, status)
    return pd.DataFrame(
        {
            "area_level": observed["area_level"].astype("str").to_numpy(),
            "area_code": codes.to_numpy(),
            "area_name": codes.map(names).fillna(codes).to_numpy(),
            "age_band": observed["age_band"].astype("str").to_numpy(),
            "series": series,
            "period": observed["period"].astype("str").to_numpy(),
            "period_date": period_dates(observed["period"]).to_numpy(),
            "value": np.where(ok, rate, np.nan),
            "lo": np.where(ok, scale * lo, np.nan),
            "hi": np.where(ok, scale * hi, np.nan),
            "n_persons": np.where(ok, n, np.nan),
            "status": status,
        }
    )


def summarise_trends(series: pd.DataFrame, config: TrendConfig) -> pd.DataFrame:
    """Per area, band and series: change first -> last published period and a trend slope.

    Standard errors come from the interval half-widths (``config.interval_level``); the slope
    is a weighted least-squares fit (weights 1/se^2) of value on time in years, its standard
    error ``1/sqrt(sum w (t - mean_w t)^2)``. Errors of successive refreshes are treated as
    independent; refreshes share people, which makes their errors positively correlated and
    this treatment conservative. ``direction`` is ``up`` / ``down`` only when the slope interval
    (``config.change_level``) excludes zero, ``no_clear_change`` otherwise, ``too_few_periods``
    below ``config.min_periods_slope`` published periods.

    Parameters
    ----------
    series : DataFrame
        Output of :func:`build_trend_series`.
    config : TrendConfig

    Returns
    -------
    DataFrame
        :data:`SUMMARY_COLUMNS`.
    """
    z_in = float(norm.ppf(0.5 + config.interval_level / 2.0))
    z_out = float(norm.ppf(0.5 + config.change_level / 2.0))
    s = series[
        series["status"].eq(_PUBLISHED) & series["value"].notna() & series["lo"].notna() & series["hi"].notna()
    ].copy()
    s["se"] = (s["hi"] - s["lo"]) / (2.0 * z_in)
    s = s[s["se"] > 0]
    s["t"] = (s["period_date"] - pd.Timestamp("2000-01-01")).dt.days.to_numpy() / _DAYS_PER_YEAR
    s["w"] = 1.0 / s["se"] ** 2
    s["wt"] = s["w"] * s["t"]
    s["wy"] = s["w"] * s["value"]
    g = s.groupby(_KEYS, sort=True, observed=True)
    agg = g.agg(n_periods=("value", "size"), sw=("w", "sum"), swt=("wt", "sum"), swy=("wy", "sum"))
    s = s.join(agg[["sw", "swt", "swy"]], on=_KEYS)
    s["dt"] = s["t"] - s["swt"] / s["sw"]
    s["sxx"] = s["w"] * s["dt"] ** 2
    s["sxy"] = s["w"] * s["dt"] * (s["value"] - s["swy"] / s["sw"])
    g = s.groupby(_KEYS, sort=True, observed=True)
    sums = g[["sxx", "sxy"]].sum()
    ordered = s.sort_values("period_date", kind="stable").groupby(_KEYS, sort=True, observed=True)
    first, last = ordered.head(1).set_index(_KEYS), ordered.tail(1).set_index(_KEYS)
    out = agg[["n_periods"]].copy()
    out["first_period"] = first["period"].reindex(out.index)
    out["last_period"] = last["period"].reindex(out.index)
    change = last["value"].reindex(out.index) - first["value"].reindex(out.index)
    change_se = np.sqrt(last["se"].reindex(out.index) ** 2 + first["se"].reindex(out.index) ** 2)
    out["change"] = change
    out["change_lo"] = change - z_out * change_se
    out["change_hi"] = change + z_out * change_se
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sums["sxy"] / sums["sxx"]
        slope_se = 1.0 / np.sqrt(sums["sxx"])
    enough = out["n_periods"] >= config.min_periods_slope
    out["slope_per_year"] = slope.where(enough)
    out["slope_lo"] = (slope - z_out * slope_se).where(enough)
    out["slope_hi"] = (slope + z_out * slope_se).where(enough)
    direction = np.where(out["slope_lo"] > 0, "up", np.where(out["slope_hi"] < 0, "down", "no_clear_change"))
    out["direction"] = np.where(enough, direction, "too_few_periods")
    single = out["n_periods"] < 2
    out.loc[single, ["change", "change_lo", "change_hi"]] = np.nan
    return out.reset_index()[list(SUMMARY_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Published form (trends.csv and the dashboard): plain labels, units, rounding
# --------------------------------------------------------------------------------------------

_OFFENCE_NL = {
    "opiumwet": "drugsdelict (Opiumwet)",
    "geweld": "geweldsdelict",
    "vermogen": "vermogensdelict",
    "vernieling": "vernieling",
    "overig": "overig delict",
}
_OFFENCE_EN = {
    "opiumwet": "drug offence (Opium Act)",
    "geweld": "violent offence",
    "vermogen": "property offence",
    "vernieling": "vandalism",
    "overig": "other offence",
}
_PROPORTIONS = ("risk_mean", "share_elevated", "rate_outcome")
_PERCENT = 100.0


def default_outcomes() -> dict[str, tuple[tuple[str, ...], int]]:
    """Band -> (offences, horizon in months) of the default label definitions."""
    from features.config import FeatureConfig

    return {b: (tuple(lab.offences), lab.horizon_months) for b, lab in FeatureConfig().labels.items()}


def offence_text(offences: Sequence[str], language: str = "nl") -> str:
    """Plain words for a set of offences ("enig delict" when all are included).

    Examples
    --------
    >>> offence_text(["opiumwet"])
    'een drugsdelict (Opiumwet)'
    >>> offence_text(["opiumwet", "geweld", "vermogen", "vernieling", "overig"], "en")
    'any offence'
    """
    from features.contract import OFFENCES

    names = _OFFENCE_NL if language == "nl" else _OFFENCE_EN
    if set(offences) >= set(OFFENCES):
        return "enig delict" if language == "nl" else "any offence"
    words = [names.get(o, o) for o in offences]
    joined = (
        words[0] if len(words) == 1 else ", ".join(words[:-1]) + (" of " if language == "nl" else " or ") + words[-1]
    )
    return ("een " if language == "nl" else "a ") + joined


def outcome_text(offences: Sequence[str], horizon_months: int, language: str = "nl") -> str:
    """The outcome of a band's risk in plain words.

    Examples
    --------
    >>> outcome_text(["opiumwet"], 24)
    'registratie als verdachte van een drugsdelict (Opiumwet) binnen 24 maanden na de peildatum'
    >>> outcome_text(["opiumwet"], 24, "en")
    'registration as a suspect of a drug offence (Opium Act) within 24 months after the reference date'
    """
    off = offence_text(offences, language)
    if language == "nl":
        return f"registratie als verdachte van {off} binnen {horizon_months} maanden na de peildatum"
    return f"registration as a suspect of {off} within {horizon_months} months after the reference date"


def context_text(offences: Sequence[str] | Mapping[str, Sequence[str]], rate_per: int, language: str = "nl") -> str:
    """The calendar-year measure (the context series and the intervention effects) in words;
    ``offences`` per band (a mapping) names each band's offences when they differ.

    Examples
    --------
    >>> context_text(["opiumwet"], 1000)
    'jongeren geregistreerd als verdachte van een drugsdelict (Opiumwet) in het kalenderjaar, per 1.000 jongeren'
    >>> context_text({"8-12": ["opiumwet"], "13-19": ["opiumwet", "geweld"]}, 1000, "en").split(": ")[1]
    'a drug offence (Opium Act) (8-12); a drug offence (Opium Act) or violent offence (13-19)'
    """
    per = f"{rate_per:,}".replace(",", "." if language == "nl" else ",")
    if isinstance(offences, Mapping):
        words = {b: offence_text(o, language) for b, o in offences.items()}
        if len(set(words.values())) == 1:
            offences = next(iter(offences.values()))
        else:
            per_band = "; ".join(f"{w} ({b})" for b, w in words.items())
            if language == "nl":
                return f"jongeren geregistreerd als verdachte in het kalenderjaar, per {per} jongeren: {per_band}"
            return f"young people registered as a suspect in the calendar year, per {per} young people: {per_band}"
    ctx = offence_text(offences, language)
    if language == "nl":
        return f"jongeren geregistreerd als verdachte van {ctx} in het kalenderjaar, per {per} jongeren"
    return f"young people registered as a suspect of {ctx} in the calendar year, per {per} young people"


def measure_text(
    series: str,
    *,
    offences: Sequence[str],
    horizon_months: int,
    context_offences: Sequence[str],
    elevated_threshold: float,
    rate_per: int,
    language: str = "nl",
) -> str:
    """Plain description of one series of one band (the ``measure`` column of trends.csv)."""
    out = outcome_text(offences, horizon_months, language)
    thr = f"{_PERCENT * elevated_threshold:g}%"
    context = context_text(context_offences, rate_per, language)
    if language == "nl":
        texts = {
            "risk_mean": f"Geschatte kans (model) op {out}",
            "share_elevated": f"Aandeel jongeren met een geschatte kans van {thr} of meer op {out}",
            "rate_outcome": f"Waargenomen (zelfde uitkomst als de kans): aandeel jongeren met een {out}",
            "rate_registered_year": f"Context, een andere maat: {context}",
        }
    else:
        texts = {
            "risk_mean": f"Estimated chance (model) of {out}",
            "share_elevated": f"Share of young people with an estimated chance of {thr} or more of {out}",
            "rate_outcome": f"Observed (same outcome as the chance): share of young people with a {out}",
            "rate_registered_year": f"Context, another measure: {context}",
        }
    return texts[series]


def band_context(context_offences: Sequence[str] | Mapping[str, Sequence[str]], band: str) -> Sequence[str]:
    """The context offences of one band (``context_offences`` the same for all, or per band)."""
    if isinstance(context_offences, Mapping):
        return context_offences[band]
    return context_offences


def round_to_interval(
    value: np.ndarray, lo: np.ndarray, hi: np.ndarray, digits: int, max_decimals: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round a value and its interval to the decimal where the half-width has ``digits``
    significant digits (at most ``max_decimals`` decimals; a zero-width interval gets those).

    Examples
    --------
    >>> v, lo, hi = round_to_interval(np.array([5.2345]), np.array([4.0123]), np.array([6.4567]), 2, 4)
    >>> float(v[0]), float(lo[0]), float(hi[0])
    (5.2, 4.0, 6.5)
    """
    value, lo, hi = (np.asarray(x, float) for x in (value, lo, hi))
    half = (hi - lo) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        dec = digits - 1 - np.floor(np.log10(half))
        # a half-width that rounds up to the next power of ten (0.996 -> 1.0) supports one
        # decimal less: decide on the half-width as it will read
        shown = np.round(half * 10.0**dec) / 10.0**dec
        dec = digits - 1 - np.floor(np.log10(shown))
    dec = np.where(np.isfinite(dec), dec, max_decimals)
    dec = np.clip(dec, 0, max_decimals).astype(int)
    scale = 10.0**dec
    out = tuple(np.round(x * scale) / scale for x in (value, lo, hi))
    return out[0], out[1], out[2]


def publish_series(
    series: pd.DataFrame,
    config: TrendConfig,
    *,
    outcomes: Mapping[str, tuple[Sequence[str], int]],
    context_offences: Sequence[str] | Mapping[str, Sequence[str]],
    elevated_threshold: float,
) -> pd.DataFrame:
    """The published form of :func:`build_trend_series` (trends.csv, the dashboard).

    Chances and shares in percent, calendar-year rates per ``config.rate_per``; every value and
    its interval rounded to what the interval supports (:func:`round_to_interval` with
    ``config.interval_digits``); each row says in plain Dutch what it measures (``measure``:
    offences and horizon of its band), its ``unit`` and whether ``period`` is a reference date
    (``peildatum``) or a calendar year (``kalenderjaar``). Bands without an outcome definition
    (such as a band total) are left out, and so is a series of an area that has no published
    value in any period; a series with one keeps a row for every period (blank where
    suppressed).

    Parameters
    ----------
    series : DataFrame
        :data:`SERIES_COLUMNS`.
    config : TrendConfig
    outcomes : mapping band -> (offences, horizon in months)
        The label definition of each band (``features.labels``).
    context_offences : sequence of str, or mapping band -> sequence of str
        Offences counted by ``rate_registered_year`` (the same for every band, or per band).
    elevated_threshold : float
        The model threshold behind ``share_elevated``.

    Returns
    -------
    DataFrame
        :data:`PUBLISHED_SERIES_COLUMNS`, sorted by area, band, series (in :data:`SERIES`
        order) and period.
    """
    s = series[series["age_band"].astype("str").isin(list(outcomes))]
    # a series with no published value for an area in any period says nothing: left out (its
    # absence reads "not published"); a series with any published value keeps every period
    shown = s["value"].notna().groupby([s["area_code"], s["age_band"], s["series"]]).transform("any")
    s = s[shown.to_numpy()].copy()
    texts = {
        (band, name): measure_text(
            name,
            offences=off,
            horizon_months=h,
            context_offences=band_context(context_offences, band),
            elevated_threshold=elevated_threshold,
            rate_per=config.rate_per,
        )
        for band, (off, h) in outcomes.items()
        for name in SERIES
    }
    s["measure"] = [texts[(b, n)] for b, n in zip(s["age_band"].astype("str"), s["series"].astype("str"), strict=True)]
    prop = s["series"].isin(_PROPORTIONS).to_numpy()
    per = f"per {config.rate_per:,} jongeren".replace(",", ".")
    s["unit"] = np.where(prop, "%", per)
    s["period_type"] = np.where(prop, "peildatum", "kalenderjaar")
    factor = np.where(prop, _PERCENT, 1.0)
    v, lo, hi = round_to_interval(
        _num(s, "value") * factor,
        _num(s, "lo") * factor,
        _num(s, "hi") * factor,
        config.interval_digits,
        config.max_decimals,
    )
    s["value"], s["lo"], s["hi"] = v, lo, hi
    order = {name: i for i, name in enumerate(SERIES)}
    s["_o"] = s["series"].map(order)
    s = s.sort_values(["area_level", "area_code", "age_band", "_o", "period_date"], kind="stable")
    return s[list(PUBLISHED_SERIES_COLUMNS)].reset_index(drop=True)
