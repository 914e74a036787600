"""The typed config: defaults file in sync, overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aanwas.common.errors import ConfigError
from aanwas.config import AppConfig, default_toml, load_config

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
