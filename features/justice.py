"""Justice: Halt referrals, own earlier suspect registrations, parents registered as suspect.

Halt handles minor offences of 12-17-year-olds outside court; an earlier own suspect
registration and crime in the social network are among the strongest traits of young drug
suspects in the CBS study. All counts use events strictly before the reference date.
"""

from __future__ import annotations

import numpy as np

from features._timeline import RefDate, Timeline, months_since
from features.config import FeatureConfig
from features.contract import OFFENCES


def build_justice(tl: Timeline, ref: RefDate, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Halt, own prior suspect and parental suspect indicators per person."""
    n_halt = tl.halt.count_before(tl.n, ref.day)
    n_susp = tl.suspects.count_before(tl.n, ref.day)
    drug = tl.suspects.count_before(tl.n, ref.day, rows=tl.offence == OFFENCES.index("opiumwet"))
    recent = tl.suspects.count_between(tl.n, ref.months_before(config.parent_suspect_months), ref.day) > 0
    return {
        "ind_halt_ever": (n_halt > 0).astype(np.float32),
        "ind_n_halt": n_halt.astype(np.float32),
        "ind_months_since_halt": months_since(tl.halt.last_before(tl.n, ref.day), ref, config.recency_cap_months),
        "ind_prior_suspect": (n_susp > 0).astype(np.float32),
        "ind_n_prior_suspect": n_susp.astype(np.float32),
        "ind_prior_drug_suspect": (drug > 0).astype(np.float32),
        "ind_parent_suspect_recent": tl.any_parent(recent).astype(np.float32),
    }
