"""Evaluation settings: defaults, overrides through the app config, range checks."""

from __future__ import annotations

import pytest

from aanwas.common.errors import ConfigError
from aanwas.config import load_config
from evaluation.config import EvaluationConfig


def test_defaults_match_the_domain_notes():
    cfg = EvaluationConfig()
    assert cfg.min_cell_size == 10
    assert (cfg.fairness.tolerance_low, cfg.fairness.tolerance_high) == (0.8, 1.25)
    assert cfg.alpha == 0.10 and cfg.quantiles == (5.0, 95.0)  # definitions.interval_level 0.90
    assert "migration_group" in cfg.fairness.attributes


def test_overrides_through_the_app_config():
    cfg = load_config(
        None,
        ["definitions.min_cell_size=5", 'evaluation.fairness.reference_groups.sex="V"', "evaluation.bootstrap.reps=50"],
    )
    assert cfg.evaluation.min_cell_size == 5 and cfg.evaluation.fairness.reference_groups["sex"] == "V"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evaluation.alpha=0.7", "evaluation.alpha"),
        ("evaluation.min_cell_size=0", "evaluation.min_cell_size"),
        ("evaluation.fairness.tolerance_low=1.2", "evaluation.fairness.tolerance_low"),
        ("evaluation.fairness.tolerance_high=0.9", "evaluation.fairness.tolerance_high"),
        ("evaluation.bootstrap.reps=5", "evaluation.bootstrap.reps"),
        ('evaluation.gate.fairness_metrics=["accuracy"]', "evaluation.gate.fairness_metrics"),
        ('evaluation.stigmatisation.area_levels=["postcode"]', "evaluation.stigmatisation.area_levels"),
        ('evaluation.stigmatisation.proxy.gate_block="religion"', "evaluation.stigmatisation.proxy.gate_block"),
        ('definitions.calibration_strategy="kmeans"', "definitions.calibration_strategy"),
        ('evaluation.model_card.legal_basis=" "', "evaluation.model_card.legal_basis"),
        ("evaluation.gate.alpha=0.5", "evaluation.gate.alpha"),
        ('evaluation.gate.attributes=["religion"]', "evaluation.gate.attributes"),
        (
            "evaluation.stigmatisation.intensity.power_strata=[0.5, 0.2]",
            "evaluation.stigmatisation.intensity.power_strata",
        ),
        ("evaluation.shap.max_rows=10", "evaluation.shap.max_rows"),
        ("evaluation.fairness.nonsense=1", "evaluation.fairness.nonsense"),
    ],
)
def test_out_of_range_settings_raise_config_error(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert err.value.key == key
