"""Trends across refreshes: per area and age band, series of risk, share elevated and observed rates.

Input are area tables that already passed disclosure control (one per refresh, or stacked).
Suppressed cells stay blank; slopes and changes use published cells only, so no suppressed
value can be recovered from them. Every value carries an interval: the published risk interval,
a Wilson interval for shares and rates. A change is called up or down only when its interval
excludes zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from features.errors import InputError
from monitoring.monitor_config import TrendConfig

__all__ = [
    "SERIES_COLUMNS",
    "SUMMARY_COLUMNS",
    "build_trend_series",
    "period_dates",
    "summarise_trends",
    "wilson_interval",
]

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
    bad_status = ~frame["status"].isin([_PUBLISHED, _SUPPRESSED])
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


def build_trend_series(
    area_tables: pd.DataFrame | Sequence[pd.DataFrame],
    config: TrendConfig,
    *,
    observed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long table of trend series per area x age band x period.

    Series:

    * ``risk_mean`` with the published interval ``risk_lo``..``risk_hi``;
    * ``share_elevated`` (share of young people above the model threshold) with a Wilson
      interval from the published counts ``n_elevated``/``n_persons``;
    * ``rate_observed``: observed suspect-registration rate per ``config.rate_per``, from the
      area table's ``rate_outcome``/``_lo``/``_hi`` (per person, scaled) when present, and from
      ``observed`` (``period, area_level, area_code, age_band, n_persons, n_registered``, e.g.
      :func:`monitoring.interventions.build_outcome_panel`) with a Wilson interval, shown only
      where both the registered and the not-registered count reach
      ``config.min_count_observed``.

    Parameters
    ----------
    area_tables : DataFrame or sequence of DataFrames
        Disclosure-checked area tables (columns ``period, area_level, area_code, area_name,
        age_band, n_persons, n_elevated, share_elevated, risk_mean, risk_lo, risk_hi, status``;
        suppressed cells blank).
    config : TrendConfig
    observed : DataFrame, optional
        Observed registration counts per area, band and year.

    Returns
    -------
    DataFrame
        :data:`SERIES_COLUMNS`, sorted by area, band, series and period. ``status`` is
        ``suppressed`` where the value is withheld (value and interval blank).

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
            "status": np.where(published, _PUBLISHED, _SUPPRESSED),
        }
    )
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
    if "rate_outcome" in frame.columns:
        parts.append(
            base.assign(
                series="rate_observed",
                value=config.rate_per * _num(frame, "rate_outcome"),
                lo=config.rate_per * _num(frame, "rate_outcome_lo"),
                hi=config.rate_per * _num(frame, "rate_outcome_hi"),
            )
        )
    out = pd.concat(parts, ignore_index=True)
    sup = out["status"].eq(_SUPPRESSED) | out["value"].isna()
    out.loc[sup, ["value", "lo", "hi", "n_persons"]] = np.nan
    out.loc[sup, "status"] = _SUPPRESSED
    if observed is not None:
        out = pd.concat([out, _observed_series(observed, frame, config)], ignore_index=True)
    out = out.sort_values(["area_level", "area_code", "age_band", "series", "period_date"], kind="stable")
    return out[list(SERIES_COLUMNS)].reset_index(drop=True)


def _observed_series(observed: pd.DataFrame, frame: pd.DataFrame, config: TrendConfig) -> pd.DataFrame:
    need = ("period", "area_level", "area_code", "age_band", "n_persons", "n_registered")
    miss = [c for c in need if c not in observed.columns]
    if miss:
        raise InputError("observed", miss[0], None, "missing column")
    names = dict(zip(frame["area_code"].astype("str"), frame["area_name"].astype("str"), strict=False))
    k, n = _num(observed, "n_registered"), _num(observed, "n_persons")
    ok = (k >= config.min_count_observed) & (n - k >= config.min_count_observed)
    lo, hi = wilson_interval(k, n, config.interval_level)
    codes = observed["area_code"].astype("str")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = config.rate_per * k / n
    return pd.DataFrame(
        {
            "area_level": observed["area_level"].astype("str").to_numpy(),
            "area_code": codes.to_numpy(),
            "area_name": codes.map(names).fillna(codes).to_numpy(),
            "age_band": observed["age_band"].astype("str").to_numpy(),
            "series": "rate_observed",
            "period": observed["period"].astype("str").to_numpy(),
            "period_date": period_dates(observed["period"]).to_numpy(),
            "value": np.where(ok, rate, np.nan),
            "lo": np.where(ok, config.rate_per * lo, np.nan),
            "hi": np.where(ok, config.rate_per * hi, np.nan),
            "n_persons": np.where(ok, n, np.nan),
            "status": np.where(ok, _PUBLISHED, _SUPPRESSED),
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
