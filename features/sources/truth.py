"""Known truth of the synthetic world, for tests and benchmarks only (never for real data).

The generator writes per young person and year the true annual probability of offending
(``h_any``), the drug-law share of offences and the detection probability where they live.
:func:`true_label_risk` turns that into the true probability of the outcome a label config
asks for (offence set, horizon), per person and reference date: the oracle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from features.config import AGE_BANDS, BAND_LIMITS, LabelConfig
from features.contract import OFFENCES


def _offence_share(labels: LabelConfig, share_drug: np.ndarray) -> np.ndarray:
    """Share of a person's offences that fall in the label's offence set.

    The generator draws drug-law offences with ``share_drug`` and splits the rest evenly over
    the other offence categories.
    """
    others = [o for o in OFFENCES if o != "opiumwet"]
    n_other = sum(o in labels.offences for o in others)
    drug = share_drug if "opiumwet" in labels.offences else 0.0
    return drug + (1 - share_drug) * n_other / len(others)


def true_label_risk(
    person_year: pd.DataFrame,
    ref_dates: Iterable[dt.date | pd.Timestamp],
    labels: Mapping[str, LabelConfig],
    *,
    with_detection: bool = False,
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
        False (default): true offending risk (the oracle). True: probability of being
        registered, which includes the area's enforcement intensity (label bias).

    Returns
    -------
    DataFrame
        ``rinpersoon, ref_date, age_band, true_risk``; NaN where the horizon runs past the
        simulated years (censored).
    """
    py = person_year
    last_year = int(py["year"].max())
    out = []
    for ref in ref_dates:
        ref = pd.Timestamp(ref)
        if (ref.month, ref.day) != (1, 1):
            raise ValueError("true_label_risk needs 1 January reference dates (yearly hazards)")
        at = py[py["year"] == ref.year][["rinpersoon", "age"]]
        for band in AGE_BANDS:
            lo, hi = BAND_LIMITS[band]
            members = at[(at["age"] >= lo) & (at["age"] <= hi)]["rinpersoon"]
            lab = labels[band]
            n_years = int(np.ceil(lab.horizon_months / 12))
            window = py[(py["year"] >= ref.year) & (py["year"] < ref.year + n_years) & py["rinpersoon"].isin(members)]
            p = window["h_any"].to_numpy(float) * _offence_share(lab, window["share_drug"].to_numpy(float))
            if with_detection:
                p = p * window["p_detect"].to_numpy(float)
            surv = pd.Series(np.log1p(-np.minimum(p, 1 - 1e-12)), index=window["rinpersoon"].to_numpy()).groupby(level=0).sum()
            risk = 1 - np.exp(surv.reindex(members.to_numpy()).fillna(0.0).to_numpy())
            if ref.year + n_years - 1 > last_year:
                risk = np.full(len(members), np.nan)
            out.append(
                pd.DataFrame(
                    {
                        "rinpersoon": members.to_numpy(),
                        "ref_date": ref,
                        "age_band": band,
                        "true_risk": risk,
                    }
                )
            )
    res = pd.concat(out, ignore_index=True)
    res["ref_date"] = res["ref_date"].astype("datetime64[s]")
    res["age_band"] = pd.Categorical(res["age_band"], categories=list(AGE_BANDS))
    return res
