"""Known truth of the synthetic world, for tests and benchmarks only (never for real data).

The generator writes per young person and year the true annual probability of offending
(``h_any``), the state on 1 January, the latent vulnerability, the intervention hazard ratio,
the drug-law share of offences and the detection probability where they live.
:func:`true_label_risk` turns that into the true probability of the outcome a label config
asks for (offence set, horizon), per person and reference date: the oracle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from features.config import AGE_BANDS, BAND_LIMITS, LabelConfig
from features.contract import OFFENCES
from features.sources.synth import WorldParams, offending_logit


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


def true_label_risk(
    person_year: pd.DataFrame,
    ref_dates: Iterable[dt.date | pd.Timestamp],
    labels: Mapping[str, LabelConfig],
    *,
    with_detection: bool = False,
    basis: Literal["reference", "realised"] = "reference",
    params: WorldParams | None = None,
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
    basis : {"reference", "realised"}
        ``"reference"`` (default, the oracle): the risk given the person's true situation on
        the reference date (indicators and latent vulnerability frozen there, age advancing
        over the horizon): the best any model using data up to the reference date could do.
        ``"realised"``: the risk along the person's actual future, including events after the
        reference date that no model can know; an upper bound, not attainable.
    params : WorldParams, optional
        The generator's parameters (defaults).

    Returns
    -------
    DataFrame
        ``rinpersoon, ref_date, age_band, true_risk``; NaN where the horizon runs past the
        simulated years (censored).
    """
    p = params or WorldParams()
    py = person_year
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
            if basis == "reference":
                state = members.set_index("rinpersoon")
                s = state.loc[window["rinpersoon"].to_numpy()]
                logit = offending_logit(
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
                    s["latent_z"].to_numpy(),
                )
                h = 1.0 / (1.0 + np.exp(-logit)) * window["hazard_ratio"].to_numpy(float)
            else:
                h = window["h_any"].to_numpy(float)
            prob = h * _offence_share(lab, window["share_drug"].to_numpy(float))
            if with_detection:
                prob = prob * window["p_detect"].to_numpy(float)
            surv = pd.Series(np.log1p(-np.minimum(prob, 1 - 1e-12)), index=window["rinpersoon"].to_numpy()).groupby(level=0).sum()
            risk = 1 - np.exp(surv.reindex(ids).fillna(0.0).to_numpy())
            if ref.year + n_years - 1 > last_year:
                risk = np.full(len(ids), np.nan)
            out.append(pd.DataFrame({"rinpersoon": ids, "ref_date": ref, "age_band": band, "true_risk": risk}))
    res = pd.concat(out, ignore_index=True)
    res["ref_date"] = res["ref_date"].astype("datetime64[s]")
    res["age_band"] = pd.Categorical(res["age_band"], categories=list(AGE_BANDS))
    return res
