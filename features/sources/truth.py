"""Known truth of the synthetic world, for tests and benchmarks only (never for real data).

The generator writes per young person and year the true annual probability of offending
(``h_any``), the state on 1 January, the latent vulnerability, the intervention hazard ratio,
the drug-law share of offences and the detection probability where they live.
:func:`true_label_risk` turns that into the true probability of the outcome a label config
asks for (offence set, horizon), per person and reference date: the oracle. Two oracles:

* ``basis="reference"`` (``oracle_auc``): the true risk given the person's full true situation
  on the reference date, INCLUDING what no model can see: the latent vulnerability ``z``, the
  detection probability of the wijk they live in and the intervention hazard ratios over the
  horizon;
* ``basis="observable"`` (``oracle_observable_auc``): the true risk given only the observable
  state on the reference date (age, sex, the generator's indicator states): ``z`` is
  integrated out over its distribution given that state (Gauss-Hermite quadrature, see
  :func:`latent_posterior` and :func:`gauss_hermite_expectation`) and detection and
  intervention effects are replaced by their population mean per band and year. What a
  model on the observable state can reach.

Both follow the world profile the truth was generated under (``person_year.attrs
["world_profile"]``, kept in the Parquet file; absent: ``"additive"``): the offending formula is
that profile's :func:`features.sources.synth.offending_logit`.

A person who leaves the register (emigration or death) is at risk only until then: the year
they leave has ``exposure`` < 1 (the share of the year before leaving; offences fall on a
uniform day of the year, so the chance of a registration before leaving is the yearly
probability times ``exposure``) and later years have no row. Every risk here is therefore the
probability of the event the label records: a registration before the horizon ends or the
person leaves, whichever comes first. (Labels of leavers without a registration are NA, so
those rows are not scored against it.)
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from features.config import AGE_BANDS, BAND_LIMITS, LabelConfig
from features.contract import OFFENCES
from features.sources.synth import PROFILE_ATTR, WorldParams, offending_logit, world_params


def _offence_share(labels: LabelConfig, share_drug: np.ndarray) -> np.ndarray:
    """Share of a person's offences that fall in the label's offence set.

    The generator draws drug-law offences with ``share_drug`` and splits the rest evenly over
    the other offence categories.
    """
    others = [o for o in OFFENCES if o != "opiumwet"]
    n_other = sum(o in labels.offences for o in others)
    drug = share_drug if "opiumwet" in labels.offences else 0.0
    return drug + (1 - share_drug) * n_other / len(others)


STATE_COLUMNS = (
    "halt_n",
    "vsv_ever",
    "own_debt_ever",
    "parent_debt_recent",
    "parent_suspect_recent",
    "single_parent",
    "youth_care_ever",
    "prior_suspect",
)

#: Gauss-Hermite nodes for integrating the latent vulnerability out (exact for polynomials of
#: degree < 2 x nodes; 20 nodes make the risk exact to ~1e-10 for the world's small gamma).
QUADRATURE_NODES = 20


def gauss_hermite_expectation(
    fn: Callable[[np.ndarray], np.ndarray], mean: np.ndarray, sd: np.ndarray, n_nodes: int = QUADRATURE_NODES
) -> np.ndarray:
    """``E[fn(Z)]`` for ``Z ~ Normal(mean, sd^2)``, elementwise, by Gauss-Hermite quadrature.

    ``fn`` maps an array of ``z`` shaped like ``mean`` to values of the same shape; it is called
    once per node with ``z = mean + sqrt(2) sd x_k`` and the results are weighted by
    ``w_k / sqrt(pi)``.

    Examples
    --------
    >>> round(float(gauss_hermite_expectation(lambda z: z ** 2, np.array(1.0), np.array(2.0))), 12)
    5.0
    """
    if n_nodes < 1:
        raise ValueError("n_nodes must be >= 1")
    x, w = np.polynomial.hermite.hermgauss(n_nodes)
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    out = np.zeros(np.broadcast(mean, sd).shape)
    for xk, wk in zip(x, w, strict=True):
        out = out + wk * np.asarray(fn(mean + np.sqrt(2.0) * sd * xk), dtype=float)
    return out / np.sqrt(np.pi)


def _observable_design(state: pd.DataFrame) -> np.ndarray:
    """Observable state as a design matrix: intercept, sex, one column per age, indicators."""
    age = state["age"].to_numpy()
    ages = np.unique(age)
    cols = [np.ones(len(state)), state["is_male"].to_numpy(float)]
    cols += [(age == a).astype(float) for a in ages[1:]]
    cols += [(state[c].to_numpy() > 0).astype(float) for c in STATE_COLUMNS]
    return np.column_stack(cols)


def latent_posterior(state: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of the latent vulnerability given the observable state, per row of ``state``.

    The generator draws ``z`` from a normal distribution and the indicators from hazards that
    rise with ``z``, so the indicators carry information about it. Approximation used here: ``z``
    given the observable state is normal, with mean the least-squares projection of ``z`` on
    the state (intercept, sex, age as categories, the :data:`STATE_COLUMNS` as 0/1) and one
    residual variance, both estimated over the rows of ``state`` (one band on one reference
    date: the whole synthetic population, not a sample).
    """
    X = _observable_design(state)
    z = state["latent_z"].to_numpy(float)
    coef, *_ = np.linalg.lstsq(X, z, rcond=None)
    mean = X @ coef
    dof = max(len(z) - X.shape[1], 1)
    sd = np.sqrt(np.sum((z - mean) ** 2) / dof)
    return mean, np.full(len(z), sd)


def _exposure(window: pd.DataFrame) -> np.ndarray:
    """Share of each year the person is in the register (1 when the truth predates departures)."""
    return window["exposure"].to_numpy(float) if "exposure" in window.columns else np.ones(len(window))


def _risk_over_horizon(prob: np.ndarray, window_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``1 - prod(1 - prob)`` over each person's horizon years, in the order of ``ids``."""
    surv = pd.Series(np.log1p(-np.minimum(prob, 1 - 1e-12)), index=window_ids).groupby(level=0).sum()
    return 1 - np.exp(surv.reindex(ids).fillna(0.0).to_numpy())


def _risk_given_z(
    base: np.ndarray, gamma: float, scale: np.ndarray, window_ids: np.ndarray, ids: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """Horizon risk per person (order of ``ids``) for latent values ``z`` (one per person):
    yearly probability ``sigmoid(base + gamma z) x scale`` over each person's window rows."""
    row = pd.Index(ids).get_indexer(window_ids)
    q = 1.0 / (1.0 + np.exp(-(base + gamma * z[row]))) * scale
    return _risk_over_horizon(q, window_ids, ids)


def _state_logit(p: WorldParams, window: pd.DataFrame, s: pd.DataFrame) -> np.ndarray:
    """The offending logit of each person-year of ``window`` from the states on the reference
    date (``s``, aligned with ``window``), without the latent part."""
    return offending_logit(
        p,
        window["age"].to_numpy(),
        s["is_male"].to_numpy(),
        s["halt_n"].to_numpy() > 0,
        s["vsv_ever"].to_numpy(),
        s["own_debt_ever"].to_numpy(),
        s["parent_debt_recent"].to_numpy(),
        s["parent_suspect_recent"].to_numpy(),
        s["single_parent"].to_numpy(),
        s["youth_care_ever"].to_numpy(),
        s["prior_suspect"].to_numpy(),
        np.zeros(len(window)),
    )


def _multiplier(window: pd.DataFrame, with_detection: bool) -> np.ndarray:
    """Hazard ratio of the interventions, times the detection probability when it counts."""
    mult = window["hazard_ratio"].to_numpy(float)
    if with_detection:
        mult = mult * window["p_detect"].to_numpy(float)
    return mult


def _observable_risk(
    base: np.ndarray,
    gamma_latent: float,
    window: pd.DataFrame,
    members: pd.DataFrame,
    ids: np.ndarray,
    mult: np.ndarray,
    share: np.ndarray,
    n_nodes: int,
) -> np.ndarray:
    """Risk over the horizon given what is observable: the latent part integrated over its
    posterior given the states (Gauss-Hermite), the multiplier averaged per year."""
    years = window["year"].to_numpy()
    mean_mult = pd.Series(mult).groupby(years).mean().reindex(years).to_numpy()
    z_mean, z_sd = latent_posterior(members)
    wid = window["rinpersoon"].to_numpy()
    scale = mean_mult * share
    return gauss_hermite_expectation(
        functools.partial(_risk_given_z, base, gamma_latent, scale, wid, ids),
        z_mean,
        z_sd,
        n_nodes,
    )


def true_label_risk(
    person_year: pd.DataFrame,
    ref_dates: Iterable[dt.date | pd.Timestamp],
    labels: Mapping[str, LabelConfig],
    *,
    with_detection: bool = False,
    basis: Literal["reference", "realised", "observable"] = "reference",
    params: WorldParams | None = None,
    n_nodes: int = QUADRATURE_NODES,
) -> pd.DataFrame:
    """True probability of each band's outcome within its horizon, per person and ref date.

    Parameters
    ----------
    person_year : DataFrame
        ``truth/person_year.parquet`` of the generator.
    ref_dates : iterable of dates
        Reference dates; must be 1 January (the generator's hazards are yearly).
    labels : mapping band -> LabelConfig
    with_detection : bool
        False (default): true offending risk. True: probability of being registered, which
        includes the area's enforcement intensity (label bias) and is what observed labels
        measure.
    basis : {"reference", "realised", "observable"}
        ``"reference"`` (default, the oracle): the risk given the person's true situation on
        the reference date (indicators and latent vulnerability frozen there, age advancing
        over the horizon; the person's own intervention hazard ratios and detection
        probability over the horizon). It uses the latent vulnerability, the wijk's
        enforcement and the interventions, which no model sees: an upper bound.
        ``"observable"``: the same risk given only the observable state on the reference date
        (age, sex, :data:`STATE_COLUMNS`): the latent vulnerability is integrated out over its
        distribution given that state (:func:`latent_posterior`, Gauss-Hermite quadrature with
        ``n_nodes`` nodes), and the intervention hazard ratio and the detection probability of
        every horizon year are replaced by their mean over the band's members in that year
        (exact to first order in the yearly risk). The achievable target for a model on these
        inputs (a model with more inputs correlated with ``z`` could exceed it slightly).
        ``"realised"``: the risk along the person's actual future, including events after the
        reference date that no model can know; an upper bound, not attainable.
    params : WorldParams, optional
        The generator's parameters. Default: those of the world profile ``person_year`` was
        generated under (``person_year.attrs["world_profile"]``, kept in the Parquet file;
        absent: ``"additive"``). Parameters of another profile than the truth's are refused.
    n_nodes : int
        Quadrature nodes (``basis="observable"`` only).

    Returns
    -------
    DataFrame
        ``rinpersoon, ref_date, age_band, true_risk``; NaN where the horizon runs past the
        simulated years (censored).
    """
    py = person_year
    profile = py.attrs.get(PROFILE_ATTR, "additive")
    p = params or world_params(profile)
    if p.profile != profile:
        raise ValueError(f"the truth is of world profile {profile!r}, the parameters of {p.profile!r}")
    last_year = int(py["year"].max())
    out = []
    for ref in ref_dates:
        ref = pd.Timestamp(ref)
        if (ref.month, ref.day) != (1, 1):
            raise ValueError("true_label_risk needs 1 January reference dates (yearly hazards)")
        at = py[py["year"] == ref.year]
        for band in AGE_BANDS:
            lo, hi = BAND_LIMITS[band]
            members = at[(at["age"] >= lo) & (at["age"] <= hi)]
            lab = labels[band]
            n_years = int(np.ceil(lab.horizon_months / 12))
            ids = members["rinpersoon"].to_numpy()
            window = py[(py["year"] >= ref.year) & (py["year"] < ref.year + n_years) & py["rinpersoon"].isin(ids)]
            if basis in ("reference", "observable"):
                state = members.set_index("rinpersoon")
                s = state.loc[window["rinpersoon"].to_numpy()]
                base = _state_logit(p, window, s)
                share = _offence_share(lab, window["share_drug"].to_numpy(float)) * _exposure(window)
                mult = _multiplier(window, with_detection)
                if basis == "reference":
                    logit = base + p.gamma_latent * s["latent_z"].to_numpy(float)
                    prob = 1.0 / (1.0 + np.exp(-logit)) * mult * share
                    risk = _risk_over_horizon(prob, window["rinpersoon"].to_numpy(), ids)
                else:
                    risk = _observable_risk(base, p.gamma_latent, window, members, ids, mult, share, n_nodes)
            else:
                prob = window["h_any"].to_numpy(float) * _offence_share(lab, window["share_drug"].to_numpy(float))
                prob = prob * _exposure(window)
                if with_detection:
                    prob = prob * window["p_detect"].to_numpy(float)
                risk = _risk_over_horizon(prob, window["rinpersoon"].to_numpy(), ids)
            if ref.year + n_years - 1 > last_year:
                risk = np.full(len(ids), np.nan)
            out.append(pd.DataFrame({"rinpersoon": ids, "ref_date": ref, "age_band": band, "true_risk": risk}))
    res = pd.concat(out, ignore_index=True)
    res["ref_date"] = res["ref_date"].astype("datetime64[s]")
    res["age_band"] = pd.Categorical(res["age_band"], categories=list(AGE_BANDS))
    return res
