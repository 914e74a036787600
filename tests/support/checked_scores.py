"""Disclosure-checked areas of an in-memory scored frame, by the stages' own path (area sums,
then :func:`aanwas.stages.steps.check_sums`), for tests that start from scores."""

from __future__ import annotations

from typing import Any

import pandas as pd

from aanwas.stages.steps import CheckedAreas, ScoredSums, check_sums, combine_fingerprint, fingerprint_parts
from features.geography import Geography
from monitoring.config import MonitoringConfig
from monitoring.publishing.aggregate import aggregate_sums


def check_scores(mon: MonitoringConfig, scores: pd.DataFrame, geography: Geography, **kwargs: Any) -> CheckedAreas:
    """:func:`check_sums` of the scores' area sums, fingerprinted as a stage fingerprints them."""
    sums = aggregate_sums(scores, geography, mon.aggregate)
    scored = ScoredSums(sums=sums, fingerprint=scores_fingerprint(scores), n_rows=len(scores))
    return check_sums(mon, scored, geography, **kwargs)


def scores_fingerprint(scores: pd.DataFrame) -> str:
    """The fingerprint of one whole scored frame."""
    return combine_fingerprint([fingerprint_parts(scores)])
