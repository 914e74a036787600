"""Area aggregation of in-memory person scores, with intervals of each area's mean true risk.

Person scores (calibrated probabilities) are summed per buurt, age band and period, rolled up
along the real buurt -> wijk -> gemeente -> national hierarchy (one sparse matrix product, so
every level adds up exactly). An area's risk is its mean score; its interval covers the
model's error: the part shared by the area (variance estimated per level and band from the
labelled outcomes of past reference dates by a Fay-Herriot model, :mod:`monitoring.publishing.sae`),
calibration in the large, and person-level error (a sensitivity setting), so that an area is
called "elevated" only when the interval says so (docs/dev/accuracy.md). Nothing here writes
files; the result is still confidential until it has passed :mod:`monitoring.publishing.disclosure`.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm

from aanwas.common.errors import InputError
from features.config import AGE_BANDS
from features.geography import Geography
from monitoring.config import AREA_LEVELS, AggregateConfig
from monitoring.publishing.sae import fay_herriot

__all__ = ["AREA_COLUMNS", "AreaSums", "aggregate_areas", "aggregate_sums", "area_table"]

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


#: Sums per period x age band x area behind the area table: persons, scores, squared scores,
#: persons above the elevated threshold, labelled persons, their outcomes, their scores and
#: the scores' Bernoulli variances.
SUM_KEYS = ("n", "s1", "s2", "e", "nl", "no", "sl", "sb")


@dataclasses.dataclass(frozen=True)
class AreaSums:
    """Sums of person scores per period x age band x area (:func:`aggregate_sums`):
    ``sums[k]`` has shape (periods, :data:`features.config.AGE_BANDS`, areas) for every key of
    :data:`SUM_KEYS`, periods sorted. CONFIDENTIAL aggregates (unsuppressed counts): they may
    be kept in the work directory, never exported.
    """

    periods: tuple[str, ...]
    sums: Mapping[str, np.ndarray]

    @classmethod
    def concat(cls, parts: Sequence[AreaSums]) -> AreaSums:
        """The sums of several parts with distinct periods, periods sorted."""
        periods = [p for part in parts for p in part.periods]
        if len(set(periods)) != len(periods):
            raise ValueError("a period appears in more than one part")
        order = np.argsort(np.asarray(periods, dtype=object), kind="stable")
        return cls(
            periods=tuple(periods[i] for i in order),
            sums={k: np.concatenate([part.sums[k] for part in parts], axis=0)[order] for k in SUM_KEYS},
        )

    def to_bytes(self) -> bytes:
        """The sums as ``.npz`` bytes (no pickle)."""
        buf = io.BytesIO()
        arrays: dict[str, np.ndarray] = {k: np.asarray(self.sums[k]) for k in SUM_KEYS}
        np.savez(buf, periods=np.asarray(self.periods, dtype=str), **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AreaSums:
        """The sums written by :meth:`to_bytes`."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(periods=tuple(str(p) for p in z["periods"]), sums={k: z[k] for k in SUM_KEYS})


def _period_labels(frame: pd.DataFrame) -> pd.Series:
    if "period" in frame.columns:
        period = frame["period"]
        if period.isna().any():
            raise InputError(_TABLE, "period", int(period.isna().sum()), "missing period")
        return period.astype(str)
    if "ref_date" not in frame.columns:
        raise InputError(_TABLE, "period", None, "needs a 'period' or a 'ref_date' column")
    # parse and format each distinct date once (a national table has 24M rows, 7 dates)
    codes, uniques = pd.factorize(frame["ref_date"], use_na_sentinel=True)
    ref = pd.to_datetime(pd.Series(uniques), errors="coerce")
    bad = codes < 0
    if ref.isna().any():
        bad |= np.isin(codes, np.flatnonzero(ref.isna().to_numpy()))
    if bad.any():
        raise InputError(_TABLE, "ref_date", int(bad.sum()), "missing or invalid reference date")
    labels = ref.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    return pd.Series(labels[codes], index=frame.index, dtype=object)


def _check_frame(frame: pd.DataFrame, geography: Geography) -> tuple[np.ndarray, np.ndarray]:
    """Validate the scored frame; return (buurt index into geography buurten, band index)."""
    for col in ("score", "age_band", "buurt"):
        if col not in frame.columns:
            raise InputError(_TABLE, col, None, "required column is missing")
    score = pd.to_numeric(frame["score"], errors="coerce")
    bad = score.isna() | (score < 0.0) | (score > 1.0)
    if bad.any():
        raise InputError(_TABLE, "score", int(bad.sum()), "score must be a probability in [0, 1]")
    band = _positions(frame["age_band"], pd.Index(list(AGE_BANDS)))
    if (band < 0).any():
        raise InputError(_TABLE, "age_band", int((band < 0).sum()), f"age band not one of {list(AGE_BANDS)}")
    hier = geography.hierarchy()
    codes = _positions(frame["buurt"], pd.Index(hier["buurt"].astype("object")))
    if (codes < 0).any():
        raise InputError(_TABLE, "buurt", int((codes < 0).sum()), "missing or unknown buurt code")
    for level in ("wijk", "gemeente"):
        if level in frame.columns:
            # compare positions among the level's codes (integers), not the texts row by row
            names = pd.Index(pd.unique(hier[level].astype("object")))
            expected = names.get_indexer(hier[level].astype("object"))[codes]
            given = _positions(frame[level], names)
            mismatch = expected != given
            if mismatch.any():
                raise InputError(_TABLE, level, int(mismatch.sum()), f"{level} does not contain the person's buurt")
    return codes, band


def _positions(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of every value in ``index`` (-1: not in it, or missing), looking up each
    distinct value once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    pos = index.get_indexer(pd.Index(np.asarray(uniques, dtype=object)))
    return np.where(codes >= 0, pos[np.maximum(codes, 0)] if len(pos) else -1, -1).astype(np.int64)


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


def _constant(value: float) -> Callable[[np.ndarray], np.ndarray]:
    """A variance function that is ``value`` everywhere."""
    return lambda c: np.full(np.shape(c), value)


def _plus(value: float, var_of: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """The variance function ``value + var_of(c)``."""
    return lambda c: value + var_of(c)


def _direct_error(
    o: np.ndarray, e: np.ndarray, b: np.ndarray, m: np.ndarray, cfg: AggregateConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled cells with a direct estimate of the scores' error, the estimate and its sampling variance.

    ``o``, ``e``, ``b``, ``m``: observed outcomes, expected outcomes (sum of scores), their
    Bernoulli variance ``sum s (1 - s)`` and the number labelled, of the labelled persons per
    cell. The direct estimate is ``(o - e) / m`` with variance ``b / m^2`` (relative: ``o / e - 1``
    and ``b / e^2``). Returns the mask of cells that have one, and the estimates and variances
    of those cells (same order). A cell has one when its sampling variance is a positive
    finite float and the estimate finite: not when every score is 0 or 1 (no sampling
    variance), nor when the scores are so close to 0 that ``b / m^2`` underflows to 0 or,
    relative, ``o / e`` or ``b / e^2`` overflow (expected counts below about 1e-154).
    """
    use = (m > 0) & (b > 0) & (e > 0)
    o, e, b, m = o[use], e[use], b[use], m[use]
    with np.errstate(over="ignore", divide="ignore", under="ignore"):
        if cfg.area_error_scale == "relative":
            direct, psi = o / e - 1.0, b / e**2
        else:
            direct, psi = (o - e) / m, b / m**2
    ok = np.isfinite(direct) & np.isfinite(psi) & (psi > 0.0)
    use[use] = ok
    return use, direct[ok], psi[ok]


def _area_error_var(
    no: np.ndarray,
    sl: np.ndarray,
    sb: np.ndarray,
    nl: np.ndarray,
    s1: np.ndarray,
    idx: np.ndarray,
    cfg: AggregateConfig,
) -> Callable[[np.ndarray], np.ndarray]:
    """Variance of the model's area-level error at one area level, from labelled outcomes.

    One Fay-Herriot model (:func:`monitoring.publishing.sae.fay_herriot`, REML) over the labelled cells
    (period x area; arrays are (periods, areas), ``idx`` the areas of the level): the direct
    estimate is observed minus expected outcome rate ``(O - S) / nl``, its sampling variance
    the Bernoulli variance ``sum s (1 - s) / nl^2`` of calibrated scores, one fixed effect per
    period (calibration in the large may drift between periods; that is not area error). The
    area effect is the part of an area's true risk the scores miss and everyone in the area
    shares. Person-level error that is independent between persons cancels out of this moment
    exactly (``E[(y - s)^2 | s] = s (1 - s)`` whatever the error), so it is not in here (see
    :func:`_shrink`).

    ``cfg.area_error_scale == "relative"`` measures the error relative to the expected rate
    (``O / S - 1``, sampling variance ``sum s (1 - s) / S^2``): a multiplicative error such as
    an area's detection intensity. ``cfg.area_error_variance == "expected_count"`` lets the
    variance depend on the area's expected count ``s1`` (sum of all its young people's scores,
    known in every period): ``sigma2_v * s1 ** slope`` by REML (``variance_covariate = log
    s1``); ``"constant"``: one variance for every area of the level.

    Returns the variance as a function of ``log s1`` (constant 0 when fewer labelled cells
    than two per period exist).
    """
    sub = (slice(None), idx)
    size = s1[sub]
    use, direct, psi = _direct_error(no[sub], sl[sub], sb[sub], nl[sub], cfg)
    periods = np.nonzero(use)[0]
    if use.sum() < 2 * max(len(np.unique(periods)), 1) + 1:
        return _constant(0.0)
    codes = np.unique(periods, return_inverse=True)[1]
    design = np.zeros((codes.size, int(codes.max()) + 1))
    design[np.arange(codes.size), codes] = 1.0
    covariate = np.log(size[use]) if cfg.area_error_variance == "expected_count" else None
    fit = fay_herriot(direct, psi, design, variance_covariate=covariate, level=cfg.interval_level)
    return fit.area_variance


def _calibration_error_var(
    no: np.ndarray, sl: np.ndarray, sb: np.ndarray, nl: np.ndarray, cfg: AggregateConfig
) -> float:
    """Mean squared calibration-in-the-large error of one band's national row, from labels.

    Arrays are per period (the national row). For each labelled period the observed minus
    expected outcome rate ``d`` (relative: ``O / S - 1``) has expectation the period's
    calibration error and sampling variance ``psi = sum s (1 - s) / nl^2`` (relative:
    ``/ S^2``); ``mean(d^2 - psi)``, at least 0, is the mean squared error of the scores'
    overall level in a period. It is shared by every area of the period (so it cancels from
    the comparison with the national mean that makes an area elevated) and part of every
    area's interval of its true risk. 0 without labelled periods.

    Examples
    --------
    >>> cfg = AggregateConfig(area_error_scale="absolute")
    >>> round(_calibration_error_var(np.array([120.0, 80.0]), np.array([100.0, 100.0]),
    ...       np.array([90.0, 90.0]), np.array([1000.0, 1000.0]), cfg), 8)
    0.00031
    """
    use, d, psi = _direct_error(no, sl, sb, nl, cfg)
    if not use.any():
        return 0.0
    with np.errstate(over="ignore"):  # inf: see _shrink
        return max(0.0, float(np.mean(d * d - psi)))


def _shrink(
    n: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    level: np.ndarray,
    cfg: AggregateConfig,
    area_var: dict[str, Callable[[np.ndarray], np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and mean squared error of the mean true risk per area, for one period x band.

    The estimate is the direct mean score ``y``: for a calibrated model the true risk is the
    score plus an error that is independent of the score (a Berkson error), so the best
    estimate of an area's mean true risk from its scores is their mean, and shrinking it
    towards the parent would bias it (docs/dev/accuracy.md). Its error has two parts: the
    area-level error shared by everyone in the area (variance ``area_var[level](log s1)``, absolute or
    times ``y^2`` when relative, estimated from labels by :func:`_area_error_var`) and the
    person-level error independent between persons, which averages out: variance
    ``person_error_share * sum s (1 - s) / n^2``. No label can identify this second part; its
    share of the Bernoulli variance (the largest it can be) is a sensitivity setting.

    Returns direct mean, its error variance, the estimate, its mean squared error and the
    weight on the direct estimate (1). Areas without persons get NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / n, np.nan)
        bern = np.where(n > 0, np.clip(s1 - s2, 0.0, None) / (n * n), np.nan)
    person = cfg.person_error_share * bern
    scale = mean**2 if cfg.area_error_scale == "relative" else np.ones_like(mean)
    with np.errstate(divide="ignore"):
        log_size = np.log(s1)
    area = np.zeros_like(mean)
    for lv, var_of in area_var.items():
        at = (level == lv) & (s1 > 0)
        area[at] = var_of(log_size[at])
    # a relative error variance beyond float range (scores within 1e-154 of 0 whose outcomes
    # happened) is an unbounded error: the interval is [0, 1] whatever the area's scale
    with np.errstate(over="ignore", invalid="ignore"):
        area = np.where(np.isposinf(area), np.inf, area * scale)
    mse = person + area
    weight = np.where(n > 0, 1.0, np.nan)
    return mean, mse, mean.copy(), mse, weight


def aggregate_areas(scores_frame: pd.DataFrame, geography: Geography, cfg: AggregateConfig) -> pd.DataFrame:
    """Aggregate person scores to every area, age band and period, with risk intervals.

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
        Threshold, interval level, error-model settings.

    Returns
    -------
    DataFrame
        Columns :data:`AREA_COLUMNS`, one row per period x area (national ``land``, gemeente,
        wijk, buurt) x age band (plus the band total if configured). Counts add up exactly
        along the hierarchy and over bands. ``risk_mean`` is the mean score (equal to
        ``risk_mean_raw``; ``shrink_weight`` is 1), ``risk_lo``..``risk_hi`` the interval of the
        mean true risk, ``risk_var_raw`` its error variance; ``elevated`` is true only when ``risk_lo`` exceeds
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
    return area_table(aggregate_sums(scores_frame, geography, cfg), geography, cfg)


def aggregate_sums(scores_frame: pd.DataFrame, geography: Geography, cfg: AggregateConfig) -> AreaSums:
    """The sums :func:`area_table` computes the area table from: person scores counted and
    summed per period, age band and area (every area of ``geography``, all levels).

    Same input and errors as :func:`aggregate_areas`. Each period's sums depend on that
    period's rows only, so the sums of separate frames of distinct periods, joined with
    :meth:`AreaSums.concat`, equal the sums of the frames together.
    """
    buurt, band = _check_frame(scores_frame, geography)
    periods = _period_labels(scores_frame)
    period_cat = pd.Categorical(periods, categories=sorted(periods.unique()))
    pcode = period_cat.codes.astype(np.int64)
    n_p, n_band = len(period_cat.categories), len(AGE_BANDS)
    _, member = _area_index(geography, cfg)
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
    # (period*band, buurt) @ (buurt, area) -> (period*band, area): exact integer roll-up.
    rolled = {
        k: np.asarray((member @ v.reshape(n_p * n_band, n_buurt).astype(np.float64).T).T) for k, v in sums.items()
    }
    rolled = {k: v.reshape(n_p, n_band, -1) for k, v in rolled.items()}
    return AreaSums(
        periods=tuple(str(p) for p in period_cat.categories),
        sums={k: rolled[k] for k in SUM_KEYS},
    )


def area_table(sums: AreaSums, geography: Geography, cfg: AggregateConfig) -> pd.DataFrame:
    """The area table of :func:`aggregate_areas` from the sums of :func:`aggregate_sums`.

    The intervals use every period of ``sums`` together (the area-level error variance is
    estimated over all labelled periods), so the table of one period depends on the others.
    """
    areas, _ = _area_index(geography, cfg)
    n_p, n_band = len(sums.periods), len(AGE_BANDS)
    for k in SUM_KEYS:
        if sums.sums[k].shape != (n_p, n_band, len(areas)):
            raise ValueError(f"sums {k!r} have shape {sums.sums[k].shape}, not {(n_p, n_band, len(areas))}")
    rolled = {k: np.asarray(sums.sums[k], dtype=np.float64) for k in SUM_KEYS}
    bands = list(AGE_BANDS)
    if cfg.include_band_total:
        rolled = {k: np.concatenate([v, v.sum(axis=1, keepdims=True)], axis=1) for k, v in rolled.items()}
        bands.append(cfg.band_total_label)
    n_bands_out = len(bands)
    level = areas["area_level"].to_numpy()
    z = float(norm.ppf(0.5 + cfg.interval_level / 2.0))

    out_shape = (n_p, n_bands_out, len(areas))
    est, mse, weight, raw, rawvar = (np.empty(out_shape) for _ in range(5))
    levels = [lv for lv in AREA_LEVELS if lv != "land"]
    for j in range(n_bands_out):
        area_var: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
        if cfg.area_error == "labels":
            no, sl, sb, nl, s1 = (rolled[k][:, j] for k in ("no", "sl", "sb", "nl", "s1"))
            # column 0 is the national row
            calib = _calibration_error_var(no[:, 0], sl[:, 0], sb[:, 0], nl[:, 0], cfg)
            area_var["land"] = _constant(calib)
            floor = 0.0
            for lv in reversed(levels):  # gemeente, wijk, buurt
                var_of = _area_error_var(no, sl, sb, nl, s1, np.flatnonzero(level == lv), cfg)
                if cfg.area_error_variance == "constant":
                    # nested areas: a wijk's error is an average of its buurten's, so a finer
                    # level's variance is at least the coarser one's (order restriction)
                    floor = max(floor, float(var_of(np.zeros(1))[0]))
                    var_of = _constant(floor)
                area_var[lv] = _plus(calib, var_of)
        for i in range(n_p):
            r = _shrink(rolled["n"][i, j], rolled["s1"][i, j], rolled["s2"][i, j], level, cfg, area_var)
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
            "period": pd.array(np.repeat(np.asarray(sums.periods, dtype=object), n_bands_out * n_areas), dtype="str"),
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
