"""Area aggregation of in-memory person scores, with small-area shrinkage and intervals.

Person scores (calibrated probabilities) are summed per buurt, age band and period, rolled up
along the real buurt -> wijk -> gemeente -> national hierarchy (one sparse matrix product, so
every level adds up exactly), and each area's mean risk is shrunk towards its parent's estimate
(empirical Bayes, Fay-Herriot style) so that an area of three people is not called "elevated"
on noise. Nothing here writes files; the result is still confidential until it has passed
:mod:`monitoring.disclosure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import brentq
from scipy.stats import norm

from features.config import AGE_BANDS
from features.errors import InputError
from features.geography import Geography
from monitoring.config import AREA_LEVELS, AggregateConfig

__all__ = ["AREA_COLUMNS", "aggregate_areas"]

_TABLE = "scores"

#: Columns of the (confidential) area table returned by :func:`aggregate_areas`.
AREA_COLUMNS = (
    "period",
    "area_level",
    "area_code",
    "area_name",
    "parent_code",
    "age_band",
    "n_persons",
    "n_elevated",
    "share_elevated",
    "n_expected",
    "risk_mean_raw",
    "risk_var_raw",
    "risk_mean",
    "risk_lo",
    "risk_hi",
    "shrink_weight",
    "elevated",
    "n_labelled",
    "n_outcome",
    "rate_outcome",
    "rate_outcome_lo",
    "rate_outcome_hi",
)


def _period_labels(frame: pd.DataFrame) -> pd.Series:
    if "period" in frame.columns:
        period = frame["period"]
        if period.isna().any():
            raise InputError(_TABLE, "period", int(period.isna().sum()), "missing period")
        return period.astype(str)
    if "ref_date" not in frame.columns:
        raise InputError(_TABLE, "period", None, "needs a 'period' or a 'ref_date' column")
    ref = pd.to_datetime(frame["ref_date"], errors="coerce")
    if ref.isna().any():
        raise InputError(_TABLE, "ref_date", int(ref.isna().sum()), "missing or invalid reference date")
    return ref.dt.strftime("%Y-%m-%d")


def _check_frame(frame: pd.DataFrame, geography: Geography) -> tuple[np.ndarray, np.ndarray]:
    """Validate the scored frame; return (buurt index into geography buurten, band index)."""
    for col in ("score", "age_band", "buurt"):
        if col not in frame.columns:
            raise InputError(_TABLE, col, None, "required column is missing")
    score = pd.to_numeric(frame["score"], errors="coerce")
    bad = score.isna() | (score < 0.0) | (score > 1.0)
    if bad.any():
        raise InputError(_TABLE, "score", int(bad.sum()), "score must be a probability in [0, 1]")
    band = pd.Index(list(AGE_BANDS)).get_indexer(frame["age_band"].astype("object"))
    if (band < 0).any():
        raise InputError(_TABLE, "age_band", int((band < 0).sum()), f"age band not one of {list(AGE_BANDS)}")
    hier = geography.hierarchy()
    codes = pd.Index(hier["buurt"].astype("object")).get_indexer(frame["buurt"].astype("object"))
    if (codes < 0).any():
        raise InputError(_TABLE, "buurt", int((codes < 0).sum()), "missing or unknown buurt code")
    codes = codes.astype(np.int64)
    for level in ("wijk", "gemeente"):
        if level in frame.columns:
            expected = hier[level].to_numpy()[codes]
            given = frame[level].astype("object").to_numpy()
            mismatch = expected != given
            if mismatch.any():
                raise InputError(_TABLE, level, int(mismatch.sum()), f"{level} does not contain the person's buurt")
    return codes, band.astype(np.int64)


def _area_index(geography: Geography, cfg: AggregateConfig) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """Area list (national, gemeenten, wijken, buurten) and the area x buurt membership matrix."""
    hier = geography.hierarchy()
    names = geography.names
    n_b = len(hier)
    gm = pd.Categorical(hier["gemeente"], categories=sorted(hier["gemeente"].unique()))
    wk = pd.Categorical(hier["wijk"], categories=sorted(hier["wijk"].unique()))
    wk_parent = hier.drop_duplicates("wijk").set_index("wijk")["gemeente"]
    blocks = [
        pd.DataFrame({"area_level": "land", "area_code": [cfg.national_code], "parent_code": [None]}),
        pd.DataFrame({"area_level": "gemeente", "area_code": list(gm.categories), "parent_code": cfg.national_code}),
        pd.DataFrame(
            {
                "area_level": "wijk",
                "area_code": list(wk.categories),
                "parent_code": wk_parent.loc[list(wk.categories)].to_numpy(),
            }
        ),
        pd.DataFrame(
            {"area_level": "buurt", "area_code": hier["buurt"].to_numpy(), "parent_code": hier["wijk"].to_numpy()}
        ),
    ]
    areas = pd.concat(blocks, ignore_index=True)
    areas["area_name"] = [
        cfg.national_name if lv == "land" else names.get(c, c)
        for lv, c in zip(areas["area_level"], areas["area_code"], strict=True)
    ]
    n_g, n_w = len(gm.categories), len(wk.categories)
    cols = np.arange(n_b)
    rows = np.concatenate([np.zeros(n_b, np.int64), 1 + gm.codes, 1 + n_g + wk.codes, 1 + n_g + n_w + cols])
    member = sp.csr_matrix((np.ones(rows.size), (rows, np.tile(cols, 4))), shape=(len(areas), n_b))
    code_pos = pd.Series(np.arange(len(areas)), index=areas["area_code"])
    areas["parent_pos"] = code_pos.reindex(areas["parent_code"]).fillna(-1).to_numpy().astype(np.int64)
    return areas, member


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _between_variance(resid2: np.ndarray, v: np.ndarray, floor: float) -> float:
    """Fay-Herriot (1979) moment estimate of the between-area variance.

    The root ``s2 >= floor`` of ``sum(resid2 / (s2 + v)) = k`` (``k`` areas, deviations from a
    known parent mean): the areas' standardised squared deviations average one. If even the
    floor gives an average below one, the areas vary no more than their noise and ``floor`` is
    returned.

    Examples
    --------
    >>> round(_between_variance(np.array([2.0, 2.0, 2.0]), np.ones(3), 1e-8), 6)
    1.0
    >>> _between_variance(np.array([0.5, 0.5]), np.ones(2), 1e-8)
    1e-08
    """
    k = resid2.size

    def excess(s2: float) -> float:
        return float(np.sum(resid2 / (s2 + v))) - k

    if excess(floor) <= 0.0:
        return floor
    return float(brentq(excess, floor, max(float(resid2.max()), floor * 2.0), xtol=floor * 1e-3))


def _area_bias_var(d: np.ndarray, b: np.ndarray, nl: np.ndarray, level: np.ndarray) -> dict[str, float]:
    """Variance of the model's area-level error per area level, from labelled outcomes.

    For the labelled young people of an area (all periods of one band), ``d`` is observed minus
    expected outcomes (sum of labels minus sum of scores) and ``b`` the sum of ``s (1 - s)``.
    If the scores are calibrated for each person up to an error shared by the area (variance
    ``tau2``), ``E[d^2] = b + nl^2 tau2``: the person-level error cancels out of this moment and
    only the shared part remains. Estimate: ``sum((d^2 - b) / nl) / sum(nl)``, at least 0.
    Arrays are (periods, areas); the national row gets 0 (calibration in the large).

    Examples
    --------
    >>> lv = np.array(["land", "wijk", "wijk"])
    >>> out = _area_bias_var(np.array([[0.0, 30.0, -30.0]]), np.array([[0.0, 100.0, 100.0]]),
    ...                      np.array([[2000.0, 1000.0, 1000.0]]), lv)
    >>> (out["land"], round(out["wijk"], 6))
    (0.0, 0.0008)
    """
    out = {"land": 0.0}
    for lv in np.unique(level):
        if lv == "land":
            continue
        sel = (level == lv)[None, :] & (nl > 0)
        if not sel.any():
            continue
        num = np.sum((d[sel] ** 2 - b[sel]) / nl[sel])
        out[str(lv)] = max(0.0, float(num / nl[sel].sum()))
    return out


def _shrink(
    n: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    level: np.ndarray,
    parent: np.ndarray,
    cfg: AggregateConfig,
    area_bias_var: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shrink area means towards their parent's estimate, top-down, for one period x band.

    The error variance of an area's direct mean (the mean score of its young people) as an
    estimate of their mean true risk is ``person_error_share * within / n`` (person-level
    model error, which averages out over the area's young people; ``within`` is the smoothed
    variance of the scores in the area) plus ``area_bias_var[level]`` (model error shared by
    everyone in the area, which does not average out; see :func:`_area_bias_var`).

    Returns direct mean, its error variance, shrunk mean, its mean squared error and the
    weight on the direct estimate. Areas without persons get NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / n, np.nan)
        ss = np.clip(s2 - np.where(n > 0, s1 * s1 / n, 0.0), 0.0, None)
    est = np.full(n.shape, np.nan)
    mse = np.full(n.shape, np.nan)
    weight = np.full(n.shape, np.nan)
    var = np.full(n.shape, np.nan)
    k = cfg.variance_prior_df
    for lv in reversed(AREA_LEVELS):  # land, gemeente, wijk, buurt
        idx = np.flatnonzero((level == lv) & (n > 0))
        if idx.size == 0:
            continue
        ni, ssi = n[idx], ss[idx]
        df = np.clip(ni - 1.0, 0.0, None)
        pooled = ssi.sum() / df.sum() if df.sum() > 0 else 0.0
        within = np.where(df + k > 0, (ssi + k * pooled) / np.maximum(df + k, 1e-12), pooled)
        v = cfg.person_error_share * within / ni
        tau2 = (area_bias_var or {}).get(lv, 0.0)
        var[idx] = v + tau2
        y = mean[idx]
        if lv == "land" or cfg.shrinkage == "none":
            est[idx], mse[idx], weight[idx] = y, v + tau2, 1.0
            continue
        par = parent[idx]
        m, vp = est[par], mse[par]
        # Shrinkage answers only the person-level error (independent between areas).
        # Between-area variance around the parent from the Fay-Herriot estimating equation
        # (each area's squared deviation scaled by its own total variance, so tiny extreme
        # areas weigh little). Areas that are their parent's only populated child carry no
        # information about it.
        informative = ni < n[par]
        sigma2 = cfg.min_between_var
        if informative.any():
            sigma2 = _between_variance((y - m)[informative] ** 2, v[informative], cfg.min_between_var)
        g = sigma2 / (sigma2 + v)
        est[idx] = g * y + (1.0 - g) * m
        # the shared error is part of what the scores say about the area and of the parent's
        # scores alike: shrinking does not remove it, so it is added, not weighed
        mse[idx] = g * v + (1.0 - g) ** 2 * vp + tau2
        weight[idx] = g
    return mean, var, est, mse, weight


def aggregate_areas(scores_frame: pd.DataFrame, geography: Geography, cfg: AggregateConfig) -> pd.DataFrame:
    """Aggregate person scores to every area, age band and period, with shrunk risk intervals.

    Parameters
    ----------
    scores_frame : DataFrame
        One row per person and reference date, in memory only: ``score`` (calibrated
        probability), ``age_band``, ``buurt`` (wijk and gemeente, if present, must agree with
        the geography), ``period`` or ``ref_date`` (period = reference date as YYYY-MM-DD) and
        optionally ``label`` (nullable boolean; NA = censored).
    geography : Geography
        Area hierarchy; every buurt of it gets a row (with zero persons where nobody lives).
    cfg : AggregateConfig
        Threshold, interval level, shrinkage settings.

    Returns
    -------
    DataFrame
        Columns :data:`AREA_COLUMNS`, one row per period x area (national ``land``, gemeente,
        wijk, buurt) x age band (plus the band total if configured). Counts add up exactly
        along the hierarchy and over bands. ``risk_mean`` is the shrunk estimate with its
        interval ``risk_lo``..``risk_hi``; ``elevated`` is true only when ``risk_lo`` exceeds
        the national mean of the same period and band. CONFIDENTIAL until disclosure control.

    Raises
    ------
    InputError
        Missing columns, scores outside [0, 1], unknown age bands or area codes, or wijk /
        gemeente codes that contradict the buurt.

    Examples
    --------
    >>> import pandas as pd
    >>> from features.geography import Geography
    >>> areas = pd.DataFrame({"code": ["GM1", "WK1", "BU1"], "level": ["gemeente", "wijk", "buurt"],
    ...     "name": ["G", "W", "B"], "gm_code": ["GM1"] * 3, "wk_code": [None, "WK1", "WK1"]})
    >>> scores = pd.DataFrame({"period": "2024", "age_band": "8-12", "buurt": ["BU1"] * 3, "score": [0.1, 0.2, 0.3]})
    >>> out = aggregate_areas(scores, Geography(areas), AggregateConfig(include_band_total=False))
    >>> out.loc[out["area_level"].eq("buurt") & out["age_band"].eq("8-12"), "n_persons"].item()
    3
    """
    buurt, band = _check_frame(scores_frame, geography)
    periods = _period_labels(scores_frame)
    period_cat = pd.Categorical(periods, categories=sorted(periods.unique()))
    pcode = period_cat.codes.astype(np.int64)
    n_p, n_band = len(period_cat.categories), len(AGE_BANDS)
    areas, member = _area_index(geography, cfg)
    n_buurt = member.shape[1]

    score = pd.to_numeric(scores_frame["score"]).to_numpy(dtype=np.float64)
    key = (pcode * n_band + band) * n_buurt + buurt
    size = n_p * n_band * n_buurt
    if "label" in scores_frame.columns:
        lab = scores_frame["label"].astype("boolean")
        labelled = lab.notna().to_numpy()
        outcome = lab.fillna(False).to_numpy(dtype=bool)
    else:
        labelled = np.zeros(len(scores_frame), bool)
        outcome = labelled
    sums = {
        "n": np.bincount(key, minlength=size),
        "s1": np.bincount(key, weights=score, minlength=size),
        "s2": np.bincount(key, weights=score * score, minlength=size),
        "e": np.bincount(key, weights=(score >= cfg.elevated_threshold).astype(np.float64), minlength=size),
        "nl": np.bincount(key, weights=labelled.astype(np.float64), minlength=size),
        "no": np.bincount(key, weights=(outcome & labelled).astype(np.float64), minlength=size),
        "sl": np.bincount(key, weights=score * labelled, minlength=size),
        "sb": np.bincount(key, weights=score * (1.0 - score) * labelled, minlength=size),
    }
    bands = list(AGE_BANDS)
    # (period*band, buurt) @ (buurt, area) -> (period*band, area): exact integer roll-up.
    rolled = {
        k: np.asarray((member @ v.reshape(n_p * n_band, n_buurt).astype(np.float64).T).T) for k, v in sums.items()
    }
    rolled = {k: v.reshape(n_p, n_band, -1) for k, v in rolled.items()}
    if cfg.include_band_total:
        rolled = {k: np.concatenate([v, v.sum(axis=1, keepdims=True)], axis=1) for k, v in rolled.items()}
        bands.append(cfg.band_total_label)
    n_bands_out = len(bands)
    level = areas["area_level"].to_numpy()
    parent = areas["parent_pos"].to_numpy()
    z = float(norm.ppf(0.5 + cfg.interval_level / 2.0))

    out_shape = (n_p, n_bands_out, len(areas))
    est, mse, weight, raw, rawvar = (np.empty(out_shape) for _ in range(5))
    for j in range(n_bands_out):
        bias = None
        if cfg.area_bias_from_labels:
            d = rolled["no"][:, j] - rolled["sl"][:, j]
            bias = _area_bias_var(d, rolled["sb"][:, j], rolled["nl"][:, j], level)
        for i in range(n_p):
            r = _shrink(rolled["n"][i, j], rolled["s1"][i, j], rolled["s2"][i, j], level, parent, cfg, bias)
            raw[i, j], rawvar[i, j], est[i, j], mse[i, j], weight[i, j] = r

    n = rolled["n"]
    half = z * np.sqrt(mse)
    lo = np.clip(est - half, 0.0, 1.0)
    hi = np.clip(est + half, 0.0, 1.0)
    national = est[:, :, :1]  # row 0 is the national total
    elevated = (lo > national) & (level != "land")[None, None, :] & (n > 0)
    olo, ohi = _wilson(rolled["no"], rolled["nl"], z)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, rolled["e"] / n, np.nan)
        orate = np.where(rolled["nl"] > 0, rolled["no"] / rolled["nl"], np.nan)

    def flat(a: np.ndarray) -> np.ndarray:
        return a.reshape(-1)

    n_areas = len(areas)
    out = pd.DataFrame(
        {
            "period": pd.array(
                np.repeat(np.asarray(period_cat.categories, dtype=object), n_bands_out * n_areas), dtype="str"
            ),
            "area_level": np.tile(areas["area_level"].to_numpy(dtype=object), n_p * n_bands_out),
            "area_code": np.tile(areas["area_code"].to_numpy(dtype=object), n_p * n_bands_out),
            "area_name": np.tile(areas["area_name"].to_numpy(dtype=object), n_p * n_bands_out),
            "parent_code": np.tile(areas["parent_code"].to_numpy(dtype=object), n_p * n_bands_out),
            "age_band": np.tile(np.repeat(np.asarray(bands, dtype=object), n_areas), n_p),
            "n_persons": flat(np.rint(n)).astype(np.int64),
            "n_elevated": flat(np.rint(rolled["e"])).astype(np.int64),
            "share_elevated": flat(share),
            "n_expected": flat(rolled["s1"]),
            "risk_mean_raw": flat(raw),
            "risk_var_raw": flat(rawvar),
            "risk_mean": flat(est),
            "risk_lo": flat(np.where(n > 0, lo, np.nan)),
            "risk_hi": flat(np.where(n > 0, hi, np.nan)),
            "shrink_weight": flat(weight),
            "elevated": flat(elevated),
            "n_labelled": flat(np.rint(rolled["nl"])).astype(np.int64),
            "n_outcome": flat(np.rint(rolled["no"])).astype(np.int64),
            "rate_outcome": flat(orate),
            "rate_outcome_lo": flat(olo),
            "rate_outcome_hi": flat(ohi),
        }
    )
    keep = AREA_LEVELS[AREA_LEVELS.index(cfg.finest_level) :]
    out = out[out["area_level"].isin(keep)].reset_index(drop=True)
    for col in ("area_level", "area_code", "area_name", "parent_code", "age_band"):
        out[col] = out[col].astype("str")
    return out[list(AREA_COLUMNS)]
