"""Education: early school leaving (VSV), special education, school changes, enrolment.

VSV (voortijdig schoolverlaten) is registered by DUO for 12-23-year-olds who leave without a
basic qualification. Special education is so (primary) or vso (secondary). A school change is
an enrolment at a different school than the person's previous enrolment.
"""

from __future__ import annotations

import numpy as np

from features._timeline import RefDate, Timeline
from features.config import FeatureConfig
from features.contract import SCHOOL_LEVELS

SPECIAL_LEVELS = ("so", "vso")


def build_education(tl: Timeline, ref: RefDate, config: FeatureConfig) -> dict[str, np.ndarray]:
    """``ind_vsv_ever``, ``ind_special_education_ever``, ``ind_n_school_changes``, ``ind_enrolled``."""
    en = tl.enrolments
    special = np.isin(tl.level, [SCHOOL_LEVELS.index(lv) for lv in SPECIAL_LEVELS])
    has_prev = en.prev >= 0
    change = has_prev & (tl.school_id[np.maximum(en.prev, 0)] != tl.school_id)
    changes = en.count_started_between(tl.n, ref.months_before(config.recent_months), ref.day, rows=change)
    return {
        "ind_vsv_ever": (tl.vsv.count_before(tl.n, ref.day) > 0).astype(np.float32),
        "ind_special_education_ever": en.any_started_before(tl.n, ref.day, rows=special).astype(np.float32),
        "ind_n_school_changes": changes.astype(np.float32),
        "ind_enrolled": en.any_active(tl.n, ref.day, ref.day).astype(np.float32),
    }
