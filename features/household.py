"""Household: single-parent household on the reference date.

Persons sharing an ``address_id`` share a household. A person lives in a single-parent
household when, on the reference date, they live at the address of exactly one of their linked
parents; living with both parents, or with none, is 0.
"""

from __future__ import annotations

import numpy as np

from features._timeline import Timeline
from features.residence import Residence


def build_household(tl: Timeline, residence: Residence) -> dict[str, np.ndarray]:
    """``ind_single_parent`` per person from the residence on the reference date."""
    addr = residence.address_id
    same = (addr[tl.child] >= 0) & (addr[tl.child] == addr[tl.parent])
    n_with = np.bincount(tl.child[same], minlength=tl.n)
    return {"ind_single_parent": (n_with == 1).astype(np.float32)}
