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


@pytest.mark.parametrize("key", sorted(DERIVED))
def test_a_stage_copy_cannot_be_set_on_its_own(key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[f"{key}=0.8"])
    assert err.value.key == key and "definitions." in str(err.value)


def test_the_defaults_agree_and_a_disagreeing_copy_is_refused():
    cfg = AppConfig()
    for key, (name, follow) in DERIVED.items():
        assert _get(cfg, key) == pytest.approx(follow(getattr(cfg.definitions, name))), key
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(cfg, evaluation=EvaluationConfig(alpha=0.05))
    assert err.value.key == "evaluation.alpha"


def test_bad_definition_names_the_definition():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["definitions.interval_level=1.5"])
    assert err.value.key == "definitions.interval_level"
