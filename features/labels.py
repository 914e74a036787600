"""Labels: suspect registration for an offence in the band's set within the horizon.

``label`` = a registration with ``ref <= registration_date < ref + horizon``. Censored (NA)
when the horizon is not fully observed and no such registration was seen:

* for every row of a date, when ``ref + horizon`` lies after the day following the
  observation end (:func:`is_censored`);
* for one person, when they leave the population register (death or emigration, table
  ``deregistrations``) with ``ref <= date < ref + horizon`` (:func:`left_within_horizon`).
  A registration before leaving is a fact and keeps the label True; leaving after the horizon
  keeps the label as it is.

Only events on or after the reference date are used.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from features._timeline import RefDate, Timeline, day_of
from features.config import LabelConfig
from features.contract import OFFENCES


def is_censored(ref: RefDate, label: LabelConfig, observation_end: dt.date) -> bool:
    """True when the horizon of ``label`` from ``ref`` is not fully observed."""
    return ref.months_after(label.horizon_months) > day_of(observation_end) + 1


def build_label(tl: Timeline, ref: RefDate, label: LabelConfig) -> np.ndarray:
    """Per person: registered for an offence in ``label.offences`` within the horizon (bool)."""
    sel = np.isin(tl.offence, [OFFENCES.index(o) for o in label.offences])
    return tl.suspects.count_between(tl.n, ref.day, ref.months_after(label.horizon_months), rows=sel) > 0


def left_within_horizon(tl: Timeline, ref: RefDate, label: LabelConfig) -> np.ndarray:
    """Per person: left the register (death or emigration) with ``ref <= date < ref + horizon``."""
    return tl.deregistrations.count_between(tl.n, ref.day, ref.months_after(label.horizon_months)) > 0
