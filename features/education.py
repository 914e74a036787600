"""Education: early school leaving (VSV), special education, school changes, enrolment.

VSV (voortijdig schoolverlaten) is registered by DUO for 12-23-year-olds who leave without a
basic qualification. Special education is so (primary) or vso (secondary).

A school change is an enrolment at a different school than the person's previous enrolment
WITHIN the same stage of education: primary (po, so), secondary (vo, vso), mbo, hbo or wo.
The ordinary transitions between stages (po -> vo at about 12, vo -> mbo/hbo/wo) change school
for almost everyone at a given age, so counting them would make the indicator a function of
age; a change within a stage (including to or from special education within it) is school
mobility.
"""

from __future__ import annotations

import numpy as np

from features._timeline import RefDate, Timeline
from features.config import FeatureConfig
from features.contract import SCHOOL_LEVELS

SPECIAL_LEVELS = ("so", "vso")
#: Stage of education of each level; a school change is counted only within one stage.
STAGE_OF_LEVEL = {
    "po": "primary",
    "so": "primary",
    "vo": "secondary",
    "vso": "secondary",
    "mbo": "mbo",
    "hbo": "hbo",
    "wo": "wo",
}


def school_changes(tl: Timeline) -> np.ndarray:
    """Row mask over enrolments: a change of school within the stage of the previous enrolment."""
    en = tl.enrolments
    stages = sorted(set(STAGE_OF_LEVEL.values()))
    stage = np.array([stages.index(STAGE_OF_LEVEL[lv]) for lv in SCHOOL_LEVELS], np.int8)[tl.level]
    prev = np.maximum(en.prev, 0)
    return (en.prev >= 0) & (tl.school_id[prev] != tl.school_id) & (stage[prev] == stage)


def build_education(tl: Timeline, ref: RefDate, config: FeatureConfig) -> dict[str, np.ndarray]:
    """``ind_vsv_ever``, ``ind_special_education_ever``, ``ind_n_school_changes``, ``ind_enrolled``."""
    en = tl.enrolments
    special = np.isin(tl.level, [SCHOOL_LEVELS.index(lv) for lv in SPECIAL_LEVELS])
    changes = en.count_started_between(tl.n, ref.months_before(config.recent_months), ref.day, rows=school_changes(tl))
    return {
        "ind_vsv_ever": (tl.vsv.count_before(tl.n, ref.day) > 0).astype(np.float32),
        "ind_special_education_ever": en.any_started_before(tl.n, ref.day, rows=special).astype(np.float32),
        "ind_n_school_changes": changes.astype(np.float32),
        "ind_enrolled": en.any_active(tl.n, ref.day, ref.day).astype(np.float32),
    }
