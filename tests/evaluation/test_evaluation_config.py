"""Evaluation settings: defaults, overrides through the app config, range checks."""

from __future__ import annotations

import pytest

from aanwas.common.errors import ConfigError
from aanwas.config import load_config
from evaluation.config import EvaluationConfig


def test_defaults_match_the_domain_notes():
    cfg = EvaluationConfig()
    assert cfg.min_cell_size == 10
    assert (cfg.tolerance_low, cfg.tolerance_high) == (0.8, 1.25)
    assert cfg.alpha == 0.10 and cfg.quantiles == (5.0, 95.0)  # definitions.interval_level 0.90
    assert "migration_group" in cfg.audit_attributes


def test_overrides_through_the_app_config():
    cfg = load_config(
        None, ["definitions.min_cell_size=5", 'evaluation.reference_groups.sex="V"', "evaluation.bootstrap_reps=50"]
    )
    assert cfg.evaluation.min_cell_size == 5 and cfg.evaluation.reference_groups["sex"] == "V"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evaluation.alpha=0.7", "evaluation.alpha"),
        ("evaluation.min_cell_size=0", "evaluation.min_cell_size"),
        ("evaluation.tolerance_low=1.2", "evaluation.tolerance_low"),
        ("evaluation.tolerance_high=0.9", "evaluation.tolerance_high"),
        ("evaluation.bootstrap_reps=5", "evaluation.bootstrap_reps"),
        ('evaluation.gate_fairness_metrics=["accuracy"]', "evaluation.gate_fairness_metrics"),
        ('evaluation.area_levels=["postcode"]', "evaluation.area_levels"),
        ('evaluation.proxy_gate_block="religion"', "evaluation.proxy_gate_block"),
        ('evaluation.calibration_strategy="kmeans"', "evaluation.calibration_strategy"),
        ('evaluation.model_card.legal_basis=" "', "evaluation.model_card.legal_basis"),
    ],
)
def test_out_of_range_settings_raise_config_error(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert err.value.key == key
