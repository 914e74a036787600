"""Residence: who is in scope on a reference date, where they live, how often they moved.

A person is in scope on a reference date when an address episode is ongoing on it as known
from events strictly before it (``date_start < ref <= date_end``, or ``date_end`` empty: the
episode that covered the day before) and their age in completed years is 8-23. A move ON the
reference date counts as after it everywhere: the person is still at the old address (for
scope, area and household) and the move is not in ``ind_n_moves``, by the leakage rule of
:mod:`features._timeline`. Moves count address episodes that start in the look-back window,
strictly before the reference date, and are not the person's first recorded address.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from features._timeline import RefDate, Timeline
from features.config import AGE_BANDS, BAND_LIMITS, FeatureConfig


@dataclasses.dataclass(frozen=True)
class Residence:
    """Per person on one reference date: address object and buurt position (-1 = not resident)."""

    address_id: np.ndarray
    buurt: np.ndarray

    @property
    def resident(self) -> np.ndarray:
        return self.buurt >= 0


def build_residence(tl: Timeline, ref: RefDate) -> Residence:
    """Address and buurt of every person on ``ref``.

    The address is the episode ongoing as known on ``ref`` (:meth:`Episodes.known_on`: started
    strictly before it, not ended before it). When episodes overlap, the one that started last
    wins.
    """
    ep = tl.addresses
    rows = np.flatnonzero(ep.known_on(ref.day))  # sorted by person, then start
    p = ep.person[rows]
    last = np.ones(len(rows), bool)
    last[:-1] = p[:-1] != p[1:]
    rows = rows[last]
    address_id = np.full(tl.n, -1, np.int64)
    buurt = np.full(tl.n, -1, np.int32)
    address_id[ep.person[rows]] = tl.address_id[rows]
    buurt[ep.person[rows]] = tl.buurt[rows]
    return Residence(address_id, buurt)


def age_on(birth_year: np.ndarray, birth_mmdd: np.ndarray, ref: RefDate) -> np.ndarray:
    """Completed years on ``ref`` from birth year and ``100 * month + day`` of birth; int16.

    Examples
    --------
    >>> import pandas as pd
    >>> age_on(np.array([2010, 2010, 2008]), np.array([101, 102, 229]), RefDate(pd.Timestamp("2020-01-01"))).tolist()
    [10, 9, 11]
    """
    r = ref.date
    before_birthday = (100 * r.month + r.day) < birth_mmdd
    return (r.year - birth_year - before_birthday).astype(np.int16)


def band_codes(age: np.ndarray) -> np.ndarray:
    """Position of each age's band in :data:`~features.config.AGE_BANDS` (-1 outside 8-23)."""
    out = np.full(len(age), -1, np.int8)
    for k, band in enumerate(AGE_BANDS):
        lo, hi = BAND_LIMITS[band]
        out[(age >= lo) & (age <= hi)] = k
    return out


def build_mobility(tl: Timeline, ref: RefDate, config: FeatureConfig) -> dict[str, np.ndarray]:
    """``ind_n_moves``: address episodes that are not the first, started in the recent window."""
    ep = tl.addresses
    n = ep.count_started_between(tl.n, ref.months_before(config.recent_months), ref.day, rows=ep.rank > 0)
    return {"ind_n_moves": n.astype(np.float32)}
