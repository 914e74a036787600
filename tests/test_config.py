"""The typed config: defaults file in sync, overrides, clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.common.errors import ConfigError
from aanwas.config import DERIVED, RENAMED, AppConfig, default_toml, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_lists_the_embedded_defaults():
    text = (ROOT / "conf" / "default.toml").read_text(encoding="utf-8")
    assert text == default_toml(), "regenerate: python -m aanwas.config > conf/default.toml"
    assert load_config(ROOT / "conf" / "default.toml") == AppConfig()


def test_overrides_are_typed_and_nested():
    cfg = load_config(overrides=["synth.scale=0.05", "features.labels.13-19.horizon_months=12"])
    assert cfg.synth.scale == 0.05
    assert cfg.features.labels["13-19"].horizon_months == 12
    assert cfg.features.labels["20-23"].horizon_months == 24


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("synth.scale=0", "synth.scale"),
        ("synth.scale='big'", "synth.scale"),
        ("synth.nonsense=1", "synth.nonsense"),
        ("features.labels.13-19.offences=['murder']", "features.labels.offences"),
        ("features.first_ref_date=2018-13-01", "features.first_ref_date"),
    ],
)
def test_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert key in str(err.value)


def test_config_is_frozen():
    cfg = AppConfig()
    with pytest.raises(AttributeError):
        cfg.synth.scale = 2.0  # type: ignore[misc]


def _has_setting(dotted: str) -> bool:
    obj: object = AppConfig()
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(obj) or part not in {f.name for f in dataclasses.fields(obj)}:
            return False
        obj = getattr(obj, part)
    return True


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_an_old_key_fails_and_names_its_new_key(old, new):
    assert not _has_setting(old), f"{old} is still a setting"
    assert _has_setting(new), f"{new} is not a setting"
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[f"{old}=1"])
    assert err.value.key == old and new in err.value.problem
    if new not in DERIVED:  # the new key is accepted (or refused for its value, never as unknown)
        try:
            load_config(overrides=[f"{new}=1"])
        except ConfigError as bad:
            assert bad.key.startswith(new) and "unknown setting" not in bad.problem


def test_the_former_confidence_says_how_to_convert_it():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["training.comparison.confidence=0.9"])
    assert "test_level = 1 - confidence" in str(err.value)
    assert load_config(overrides=["training.comparison.test_level=0.1"]).training.comparison.confidence == 0.9


def test_intervention_effects_follow_the_one_interval_level():
    # the effects table and the dashboard's effects panel showed 95 % intervals beside 90 % ones
    cfg = load_config(overrides=["definitions.interval_level=0.8"])
    assert cfg.monitoring.monitor.interventions.interval_level == 0.8
    assert AppConfig().monitoring.monitor.interventions.interval_level == AppConfig().definitions.interval_level
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["monitoring.monitor.interventions.ci_level=0.95"])
    assert "set definitions.interval_level instead" in str(err.value)


def test_an_old_key_in_a_config_file_is_one_line_and_exit_code_2(tmp_path):
    cfg = tmp_path / "old.toml"
    cfg.write_text("[evaluation]\nbootstrap_reps = 50\n", encoding="utf-8")
    args = ["audit", "--scores", str(tmp_path / "none.csv"), "--label", "y", "--score", "s", "--threshold", "0.5"]
    result = CliRunner().invoke(app, [*args, "--group", "g", "--out", str(tmp_path / "out"), "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "aanwas: error: invalid config: 'evaluation.bootstrap_reps': was renamed: set evaluation.bootstrap.reps instead"
    ]
    assert not (tmp_path / "out").exists()
