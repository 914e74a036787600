"""Care: youth care trajectories (jeugdhulp), youth protection and youth probation.

Youth probation (jeugdreclassering) follows a criminal case from age 12; the CBS study on young
drug suspects names it among the strongest distinguishing traits.
"""

from __future__ import annotations

import numpy as np

from features._timeline import RefDate, Timeline
from features.contract import CARE_TYPES


def build_care(tl: Timeline, ref: RefDate) -> dict[str, np.ndarray]:
    """``ind_youth_care_ever``, ``ind_youth_protection_ever``, ``ind_youth_probation_ever``."""
    yc = tl.youth_care

    def ever(rows: np.ndarray) -> np.ndarray:
        return yc.any_started_before(tl.n, ref.day, rows=rows).astype(np.float32)

    return {
        "ind_youth_care_ever": yc.any_started_before(tl.n, ref.day).astype(np.float32),
        "ind_youth_protection_ever": ever(tl.care_type == CARE_TYPES.index("jeugdbescherming")),
        "ind_youth_probation_ever": ever(tl.care_type == CARE_TYPES.index("jeugdreclassering")),
    }
