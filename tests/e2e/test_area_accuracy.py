"""Done-when of #6: wijk-level risk_mean against the true area risk of a synthetic world.

Slow (synth at scale 0.1, features, four tuning trials per band, aggregation, disclosure
pattern): about 15-25 min on the shared 2-core machine. Figures: docs/dev/accuracy.md.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from aanwas.config import load_config

pytestmark = pytest.mark.slow

# Measured at scale 0.1, seed 1 (docs/dev/accuracy.md): published wijken, per band and period,
# against the true registration risk (with detection) corr 0.61-0.82, weighted 0.57-0.79 --
# the >= 0.9 of issue #6 is NOT met there (the model cannot see wijk enforcement); against the
# true offending risk (without detection) corr 0.85-0.95, weighted 0.86-0.96. The bounds below
# are a little under the measured minima so the test catches a regression, not the target.
MIN_CORR_REGISTRATION = 0.55
MIN_CORR_OFFENDING = 0.82
# 90% intervals of the true registration risk, all populated wijken: measured 0.97-0.98 per
# area on seeds 1 and 2 (0.93-0.96 weighted by young people); conservative for small wijken.
COVERAGE_RANGE = (0.90, 0.995)

SCALE = 0.1
OVERRIDES = [
    f"synth.scale={SCALE}",
    "synth.seed=1",
    "training.tuning.n_trials=4",
    'monitoring.aggregate.finest_level="wijk"',
    "monitoring.disclosure.audit=false",  # the suppression pattern decides published/suppressed
]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    from area_accuracy import measure_area_accuracy

    from aanwas.stages.features import run_features
    from aanwas.stages.synth import run_synth

    root = tmp_path_factory.mktemp("accuracy")
    cfg = load_config(None, OVERRIDES)
    console = Console(quiet=True)
    run_synth(cfg, root, console=console)
    run_features(cfg, root / "raw", root / "work", console=console)
    return measure_area_accuracy(cfg, root / "work", root / "truth", level="wijk")


def _rows(acc, truth, subset):
    return acc[(acc["truth"] == truth) & (acc["subset"] == subset) & (acc["n_areas"] >= 30)]


def test_wijk_risk_mean_correlates_with_true_registration_risk(measured):
    acc = measured["accuracy"]
    for subset in ("all", "published"):
        rows = _rows(acc, "registration", subset)
        assert len(rows) >= 12, rows  # 3 bands x the uncensored periods (16)
        assert (rows[["corr", "corr_weighted"]] >= MIN_CORR_REGISTRATION).all().all(), rows


def test_wijk_intervals_cover_true_registration_risk(measured):
    rows = _rows(measured["accuracy"], "registration", "all")
    assert rows["coverage"].between(*COVERAGE_RANGE).all(), rows


def test_wijk_risk_mean_correlates_with_true_offending_risk(measured):
    rows = _rows(measured["accuracy"], "offending", "published")
    assert len(rows) >= 12, rows
    assert (rows[["corr", "corr_weighted"]] >= MIN_CORR_OFFENDING).all().all(), rows
