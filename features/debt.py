"""Debt: the person's own debt restructuring and that of their parents.

Debt episodes are statutory restructuring (WSNP) or amicable debt help (minnelijk). Own debt
counts from the start of an episode; a parent's debt counts when an episode was active at some
time in the recent look-back window (``features.recent_months``).
"""

from __future__ import annotations

import numpy as np

from features._timeline import RefDate, Timeline
from features.config import FeatureConfig


def build_debt(tl: Timeline, ref: RefDate, config: FeatureConfig) -> dict[str, np.ndarray]:
    """``ind_own_debt_ever`` and ``ind_parent_debt_recent`` per person."""
    own = tl.debt.any_started_before(tl.n, ref.day)
    active = tl.debt.any_active(tl.n, ref.months_before(config.recent_months), ref.day)
    return {
        "ind_own_debt_ever": own.astype(np.float32),
        "ind_parent_debt_recent": tl.any_parent(active).astype(np.float32),
    }
