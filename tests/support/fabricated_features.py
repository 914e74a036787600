"""A small fabricated feature table with a known logistic truth, for tests and examples only.

It has the columns of the real feature table (``rinpersoon, ref_date, age_band, buurt, wijk,
gemeente, age, is_male``, every ``ind_*`` of :mod:`features.catalogue` with NaN outside its
bands, ``label``) so training can be exercised in seconds without the synthetic population;
the returned true risk gives the oracle AUC. Pseudonyms are 12-digit numbers, so a privacy
scanner can look for them without false alarms.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from features import catalogue
from features.config import AGE_BANDS, BAND_LIMITS

#: Indicators of the catalogue that drive the fabricated outcome: base log-odds of being set
#: and effect on the outcome's log-odds. Every other catalogue indicator is noise.
EFFECTS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "ind_single_parent": (-1.5, 0.5),
        "ind_parent_debt_recent": (-1.8, 0.7),
        "ind_youth_care_ever": (-2.5, 0.8),
        "ind_halt_ever": (-3.0, 1.2),
        "ind_vsv_ever": (-3.0, 1.0),
        "ind_prior_suspect": (-3.2, 1.4),
        "ind_own_debt_ever": (-3.0, 0.8),
    }
)
BAND_INTERCEPT: Mapping[str, float] = MappingProxyType({"8-12": -1.0, "13-19": -3.4, "20-23": -2.9})
MONTHS_CAP = 120.0
DEFAULT_CENSORED: Mapping[str, int] = MappingProxyType({"8-12": 2, "13-19": 1, "20-23": 1})


def fabricate_feature_table(
    n_persons: int = 3000,
    *,
    first_year: int = 2018,
    n_dates: int = 6,
    seed: int = 0,
    interaction: float = 1.0,
    hidden_weight: float = 0.0,
    censored_dates: Mapping[str, int] = DEFAULT_CENSORED,
) -> tuple[pd.DataFrame, pd.Series]:
    """Feature table (one row per person and 1 January reference date, ages 8-23) and true risk.

    The true log-odds are a band intercept + effects of the indicators in :data:`EFFECTS` (the
    other catalogue indicators are noise) + an age curve peaking at 17 +
    ``interaction`` x (Halt and parental debt both set) + 0.2 for boys + ``hidden_weight`` x an
    unobserved trait (which also drives the indicators). Labels are drawn from the true risk;
    the last ``censored_dates[band]`` dates of each band are censored (NA).

    Returns
    -------
    (DataFrame, Series)
        The feature table and the true risk (named ``risk``) on the same index.

    Examples
    --------
    >>> frame, truth = fabricate_feature_table(200, seed=1)
    >>> bool(frame["age"].between(8, 23).all()), frame.index.equals(truth.index)
    (True, True)
    """
    rng = np.random.default_rng(seed)
    ids = np.unique(rng.integers(10**11, 10**12, size=n_persons * 2))
    ids = rng.permutation(ids)[:n_persons]
    years = np.arange(first_year, first_year + n_dates)
    # birth years so that everyone is 8-23 at some reference date
    birth = rng.integers(years[0] - 23, years[-1] - 8 + 1, size=n_persons)
    male = rng.integers(0, 2, size=n_persons).astype(np.int8)
    trait = rng.normal(size=n_persons)
    n_gm = 4
    gm = rng.integers(0, n_gm, size=n_persons)
    wk = gm * 10 + rng.integers(0, 3, size=n_persons)
    bu = wk * 10 + rng.integers(0, 4, size=n_persons)

    p_idx = np.repeat(np.arange(n_persons), n_dates)
    year = np.tile(years, n_persons)
    age = year - birth[p_idx] - 1  # born during the year: age at 1 January
    keep = (age >= 8) & (age <= 23)
    p_idx, year, age = p_idx[keep], year[keep], age[keep]
    n = p_idx.size

    band = np.full(n, "", dtype=object)
    for name, (lo, hi) in BAND_LIMITS.items():
        band[(age >= lo) & (age <= hi)] = name
    frame = pd.DataFrame(
        {
            "rinpersoon": ids[p_idx].astype("int64"),
            "ref_date": pd.to_datetime(pd.Series(year).astype(str) + "-01-01").astype("datetime64[s]"),
            "age_band": pd.Categorical(band, categories=list(AGE_BANDS)),
            "buurt": pd.Categorical([f"BU{c:08d}" for c in bu[p_idx]]),
            "wijk": pd.Categorical([f"WK{c:06d}" for c in wk[p_idx]]),
            "gemeente": pd.Categorical([f"GM{c:04d}" for c in gm[p_idx]]),
            "age": age.astype("int64"),
            "is_male": male[p_idx],
        }
    )
    logit = np.array([BAND_INTERCEPT[b] for b in band]) - 0.05 * (age - 17.0) ** 2 + 0.2 * male[p_idx]
    logit += hidden_weight * trait[p_idx]
    for ind in catalogue.INDICATORS:
        if ind.kind == "base":
            continue
        applies = np.isin(band, ind.bands)
        base, effect = EFFECTS.get(ind.name, (-2.5, 0.0))
        if ind.kind == "flag":
            value = (rng.random(n) < 1.0 / (1.0 + np.exp(-(base + 0.8 * trait[p_idx])))).astype(np.float32)
        elif ind.kind == "count":
            value = rng.poisson(0.3, size=n).astype(np.float32)
        else:  # months since an event, capped
            value = np.minimum(rng.exponential(60.0, size=n), MONTHS_CAP).astype(np.float32)
        frame[ind.name] = np.where(applies, value, np.nan).astype(np.float32)
        logit += effect * np.where(applies, value > 0, False)
    both = (frame["ind_halt_ever"].fillna(0) > 0) & (frame["ind_parent_debt_recent"].fillna(0) > 0)
    logit += interaction * both.to_numpy()
    risk = 1.0 / (1.0 + np.exp(-logit))
    label = pd.array(rng.random(n) < risk, dtype="boolean")
    for name, k in censored_dates.items():
        late = np.isin(year, years[len(years) - k :]) & (band == name) if k else np.zeros(n, dtype=bool)
        label[late] = pd.NA
    frame["label"] = label
    return frame, pd.Series(risk, index=frame.index, name="risk")


def fabricate_audit(rows: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Audit attributes (sex, migration group, income group) drawn at random for ``rows`` of a
    fabricated feature table, keyed by ``rinpersoon`` and ``ref_date`` as the audit frame is."""
    rng = np.random.default_rng(seed)
    return rows[["rinpersoon", "ref_date"]].assign(
        sex=rng.choice(["M", "V"], len(rows)),
        migration_group=rng.choice(["nederland", "europa", "buiten_europa"], len(rows)),
        income_group=rng.integers(1, 6, len(rows)),
    )
