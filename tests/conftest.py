"""Shared test settings: hypothesis profiles (bounded time, no deadline flakiness).

The default profile is derandomized: every run draws the same examples, so a red or green
suite is a property of the code, not of the draw. ``AANWAS_HYPOTHESIS_EXPLORE=1`` draws fresh
random examples (run it before a release, and with ``AANWAS_HYPOTHESIS_EXAMPLES`` raised, to
search further); a failure it finds prints the blob to reproduce it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("AANWAS_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=os.environ.get("AANWAS_HYPOTHESIS_EXPLORE", "") not in ("1", "true", "yes"),
)
settings.load_profile("ci")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A two-worker in-process Dask cluster (one thread each) and its client, per test module."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
