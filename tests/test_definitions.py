"""One setting per shared definition: stage copies follow ``[definitions]`` and cannot drift."""

from __future__ import annotations

import dataclasses

import pytest

from aanwas.common.errors import ConfigError
from aanwas.config import DERIVED, AppConfig, load_config
from evaluation.config import EvaluationConfig


def _get(obj, dotted):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def test_stage_copies_follow_the_definitions():
    cfg = load_config(overrides=["definitions.interval_level=0.95", "definitions.min_cell_size=15"])
    assert cfg.evaluation.alpha == pytest.approx(0.05) and cfg.evaluation.quantiles == pytest.approx((2.5, 97.5))
    assert cfg.monitoring.aggregate.interval_level == 0.95
    assert cfg.monitoring.monitor.trends.interval_level == 0.95
    assert cfg.monitoring.monitor.dashboard.interval_level == 0.95
    assert cfg.evaluation.min_cell_size == cfg.monitoring.disclosure.min_cell_size == 15
    assert cfg.monitoring.monitor.trends.min_count_observed == 15


def test_the_registered_ece_and_the_review_pack_ece_use_the_same_bins():
    cfg = load_config(overrides=["definitions.calibration_bins=20", 'definitions.calibration_strategy="uniform"'])
    assert cfg.training.calibration.ece_bins == cfg.evaluation.calibration.bins == 20
    assert cfg.training.calibration.ece_strategy == cfg.evaluation.calibration.strategy == "uniform"


@pytest.mark.parametrize("key", sorted(DERIVED))
def test_a_stage_copy_cannot_be_set_on_its_own(key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[f"{key}=0.8"])
    assert err.value.key == key and "definitions." in str(err.value)


def test_the_defaults_agree_and_a_disagreeing_copy_is_refused():
    cfg = AppConfig()
    for key, (name, follow) in DERIVED.items():
        want = follow(getattr(cfg.definitions, name))
        assert _get(cfg, key) == (pytest.approx(want) if isinstance(want, float) else want), key
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(cfg, evaluation=EvaluationConfig(alpha=0.05))
    assert err.value.key == "evaluation.alpha"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("definitions.interval_level=1.5", "definitions.interval_level"),
        ("definitions.calibration_bins=1", "definitions.calibration_bins"),
        ('definitions.calibration_strategy="kmeans"', "definitions.calibration_strategy"),
    ],
)
def test_bad_definition_names_the_definition(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert err.value.key == key
