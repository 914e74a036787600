"""Accuracy of the area table against a known truth (synthetic data only; never for real data).

The *true area risk* of an area, age band and period is the mean true risk of the young people
of that band who live there on the reference date (the same persons the area table averages
scores over), rolled up along the same buurt -> wijk -> gemeente hierarchy by
:func:`monitoring.publishing.aggregate.aggregate_areas` without shrinkage. Which true risk is used is the
caller's choice (see ``features.sources.truth.true_label_risk``): with detection it is the
probability of being *registered* (what labels measure, including the area's enforcement
intensity), without detection the probability of *offending*.

:func:`area_risk_accuracy` compares the published estimate (``risk_mean`` and its interval)
with that truth per period and band: Pearson correlation over areas, unweighted and weighted by
the number of young people, for all populated areas and for the published (not suppressed)
ones only, plus the coverage of the intervals. Pure functions on aggregate frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from aanwas.common.errors import InputError
from features.geography import Geography
from monitoring.config import AggregateConfig
from monitoring.publishing.aggregate import aggregate_areas

__all__ = ["ACCURACY_COLUMNS", "area_risk_accuracy", "true_area_risk", "weighted_corr"]

_KEYS = ["period", "area_level", "area_code", "age_band"]

#: Columns of :func:`area_risk_accuracy`'s result.
ACCURACY_COLUMNS = (
    "period",
    "age_band",
    "subset",
    "n_areas",
    "corr",
    "corr_weighted",
    "corr_raw",
    "coverage",
    "coverage_weighted",
    "mean_abs_error",
    "mean_width",
)


def weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Pearson correlation of ``x`` and ``y`` with optional non-negative weights.

    Examples
    --------
    >>> round(weighted_corr(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0])), 4)
    0.9934
    >>> weighted_corr(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 30.0]), np.array([1.0, 1.0, 0.0]))
    1.0
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    if x.size < 3 or w.sum() <= 0:
        return float("nan")
    w = w / w.sum()
    dx, dy = x - np.sum(w * x), y - np.sum(w * y)
    den = np.sqrt(np.sum(w * dx * dx) * np.sum(w * dy * dy))
    return float(np.sum(w * dx * dy) / den) if den > 0 else float("nan")


def true_area_risk(persons: pd.DataFrame, geography: Geography, cfg: AggregateConfig) -> pd.DataFrame:
    """Mean true risk per period x area x age band (the target the area table estimates).

    Parameters
    ----------
    persons : DataFrame
        In memory only: ``period`` or ``ref_date``, ``age_band``, ``buurt`` and ``true_risk``
        per young person. Rows with a missing true risk (censored horizon, no truth row) are
        left out.
    geography, cfg :
        As for :func:`~monitoring.publishing.aggregate.aggregate_areas` (area error switched off;
        only ``risk_mean_raw`` is used).

    Returns
    -------
    DataFrame
        ``period, area_level, area_code, age_band, n_true, true_risk`` for every populated area.
    """
    if "true_risk" not in persons.columns:
        raise InputError("truth", "true_risk", None, "required column is missing")
    known = persons[persons["true_risk"].notna()].rename(columns={"true_risk": "score"})
    keep = [c for c in ("period", "ref_date", "age_band", "buurt", "score") if c in known.columns]
    plain = dataclasses.replace(cfg, area_error="none")
    table = aggregate_areas(known[keep], geography, plain)
    table = table[table["n_persons"] > 0]
    return (
        table[[*_KEYS, "n_persons", "risk_mean_raw"]]
        .rename(columns={"n_persons": "n_true", "risk_mean_raw": "true_risk"})
        .reset_index(drop=True)
    )


def area_risk_accuracy(
    estimate: pd.DataFrame, truth: pd.DataFrame, *, level: str = "wijk", min_persons: int = 1
) -> pd.DataFrame:
    """Correlation and interval coverage of ``risk_mean`` against the true area risk.

    Parameters
    ----------
    estimate : DataFrame
        The area table (:data:`monitoring.publishing.aggregate.AREA_COLUMNS`); with a ``status`` column
        (after disclosure control) the ``published`` subset is measured too.
    truth : DataFrame
        From :func:`true_area_risk`.
    level : str
        Area level to measure (``wijk``, ``gemeente``, ``buurt``).
    min_persons : int
        Areas with fewer young people are left out of every subset.

    Returns
    -------
    DataFrame
        :data:`ACCURACY_COLUMNS`, one row per period x age band x subset (``all`` or
        ``published``). ``corr_raw`` is the correlation of the direct mean ``risk_mean_raw``
        (equal to ``corr`` now that ``risk_mean`` is not shrunk); ``coverage`` the share of areas whose interval
        ``risk_lo..risk_hi`` contains the true risk (``coverage_weighted``: weighted by young
        people).

    Examples
    --------
    >>> est = pd.DataFrame({"period": "2020", "area_level": "wijk", "area_code": list("abcd"),
    ...     "age_band": "8-12", "n_persons": [10, 20, 30, 40], "risk_mean": [.01, .02, .03, .05],
    ...     "risk_mean_raw": [.01, .02, .03, .05], "risk_lo": [0, .01, .02, .01],
    ...     "risk_hi": [.02, .03, .04, .02]})
    >>> tru = est[_KEYS].assign(n_true=est["n_persons"], true_risk=[.011, .019, .032, .048])
    >>> row = area_risk_accuracy(est, tru).iloc[0]
    >>> (int(row["n_areas"]), round(float(row["corr"]), 3), float(row["coverage"]))
    (4, 0.995, 0.75)
    """
    missing = [c for c in ("n_persons", "risk_mean", "risk_mean_raw", "risk_lo", "risk_hi") if c not in estimate]
    if missing:
        raise InputError("area table", missing[0], None, "required column is missing")
    est = estimate[(estimate["area_level"] == level) & (estimate["n_persons"] >= max(min_persons, 1))]
    both = est.merge(truth, on=_KEYS, how="inner")
    rows = []
    for (period, band), grp in both.groupby(["period", "age_band"], sort=True, observed=True):
        subsets = {"all": grp}
        if "status" in grp.columns:
            subsets["published"] = grp[grp["status"].astype(str) == "published"]
        for name, g in subsets.items():
            w = g["n_persons"].to_numpy(float)
            t = g["true_risk"].to_numpy(float)
            est = g["risk_mean"].to_numpy(float)
            inside = ((g["risk_lo"] <= g["true_risk"]) & (g["true_risk"] <= g["risk_hi"])).to_numpy(float)
            rows.append(
                {
                    "period": str(period),
                    "age_band": str(band),
                    "subset": name,
                    "n_areas": len(g),
                    "corr": weighted_corr(est, t),
                    "corr_weighted": weighted_corr(est, t, w),
                    "corr_raw": weighted_corr(g["risk_mean_raw"].to_numpy(float), t),
                    "coverage": float(inside.mean()) if len(g) else float("nan"),
                    "coverage_weighted": float(np.sum(inside * w) / w.sum()) if len(g) else float("nan"),
                    "mean_abs_error": float(np.abs(est - t).mean()) if len(g) else float("nan"),
                    "mean_width": float((g["risk_hi"] - g["risk_lo"]).mean()) if len(g) else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS))
