"""The one typed, frozen application config: defaults + a TOML file + ``--set`` overrides.

Defaults live in the stage dataclasses (embedded, so a fresh install needs no file);
``conf/default.toml`` lists them all for editing, and a test keeps the two equal. Only this
module reads config files; stages receive only their own section.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evaluation.config import EvaluationConfig
from features._config import as_plain, build_dataclass
from features.config import FeatureConfig, SynthConfig
from features.contract import ContractConfig
from features.errors import ConfigError
from monitoring.config import MonitoringConfig
from training.config import TrainingConfig


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """All sections; each stage gets only its own."""

    contract: ContractConfig = dataclasses.field(default_factory=ContractConfig)
    synth: SynthConfig = dataclasses.field(default_factory=SynthConfig)
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    monitoring: MonitoringConfig = dataclasses.field(default_factory=MonitoringConfig)

    def to_dict(self) -> dict[str, Any]:
        return as_plain(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(item, "override must look like section.key=value")
    key, raw = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare text
    return key.strip().split("."), value


def _merge(base: dict[str, Any], path: list[str], value: Any) -> None:
    node = base
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(".".join(path), "is not a section")
    node[path[-1]] = value


def _deep_update(base: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
    return base


def load_config(path: Path | None = None, overrides: Iterable[str] = ()) -> AppConfig:
    """Defaults, then the TOML file at ``path`` (if any), then ``section.key=value`` overrides.

    Raises
    ------
    ConfigError
        For an unreadable file, an unknown key, a wrong type or an out-of-range value.
    """
    data = as_plain(AppConfig())
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(str(path), "config file not found") from None
        try:
            _deep_update(data, tomllib.loads(text))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(str(path), f"not valid TOML: {err}") from None
    for item in overrides:
        keys, value = _parse_override(item)
        _merge(data, keys, value)
    return build_dataclass(AppConfig, data)
