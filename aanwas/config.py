"""The one typed, frozen application config: defaults + a TOML file + ``--set`` overrides.

Defaults live in the stage dataclasses (embedded, so a fresh install needs no file);
``conf/default.toml`` lists them all for editing, and a test keeps the two equal. Only this
module reads config files; stages receive only their own section.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from aanwas.common.compute import ComputeConfig
from aanwas.common.config import as_plain, build_dataclass, require
from aanwas.common.errors import ConfigError
from evaluation.config import RENAMED as EVALUATION_RENAMED
from evaluation.config import EvaluationConfig
from features.config import FeatureConfig, SynthConfig
from features.contract import ContractConfig
from monitoring.config import MonitoringConfig
from training.config import TrainingConfig


@dataclasses.dataclass(frozen=True)
class DefinitionsConfig:
    """The definitions that the review pack, the exports, the dashboard and the registered model
    metrics share.

    Each concept is ONE setting here; the stage sections that use it get a copy from the
    composition root (see :data:`DERIVED`) and cannot be set on their own, so a report can never
    call an area elevated at another level than the export or the dashboard.

    Attributes
    ----------
    interval_level : float
        Coverage of every interval the product shows (evaluation bootstraps, area risk intervals,
        trend, intervention-effect and dashboard intervals). Error rates of
        choices (the family rule, the promotion gate, drift alarms) are decision levels with
        settings of their own. An area is "elevated" only when the lower bound of its
        interval at this level lies above the reference (the national level of its band).
    min_cell_size : int
        Fewest persons (and, for rates, fewest in the denominator) behind any number that is
        shown or published: evaluation groups and bins, disclosure control of the exports, and
        the observed rates of the trend table.
    calibration_bins : int
        Bins of the expected calibration error and the calibration curve: the ECE registered
        with each model version (training) and the ECE and curve of the review pack
        (evaluation), so the two report the same number for the same rows.
    calibration_strategy : {"quantile", "uniform"}
        How those bins are cut.
    """

    interval_level: float = 0.90
    min_cell_size: int = 10
    calibration_bins: int = 10
    calibration_strategy: Literal["quantile", "uniform"] = "quantile"

    def __post_init__(self) -> None:
        require(0.5 <= self.interval_level < 1.0, "definitions.interval_level", "must be in [0.5, 1)")
        require(1 <= self.min_cell_size <= 1_000, "definitions.min_cell_size", "must be 1..1000")
        require(2 <= self.calibration_bins <= 100, "definitions.calibration_bins", "must be 2..100")


def _alpha(level: float) -> float:
    return round(1.0 - level, 12)


def _same(value: Any) -> Any:
    return value


#: Stage settings that are copies of one definition: dotted key -> (definition, how it follows).
DERIVED: Mapping[str, tuple[str, Callable[[Any], Any]]] = {
    "evaluation.alpha": ("interval_level", _alpha),
    "monitoring.aggregate.interval_level": ("interval_level", _same),
    "monitoring.monitor.trends.interval_level": ("interval_level", _same),
    "monitoring.monitor.dashboard.interval_level": ("interval_level", _same),
    "monitoring.monitor.interventions.interval_level": ("interval_level", _same),
    "evaluation.min_cell_size": ("min_cell_size", _same),
    "monitoring.disclosure.min_cell_size": ("min_cell_size", _same),
    "monitoring.monitor.trends.min_count_observed": ("min_cell_size", _same),
    "training.calibration.ece_bins": ("calibration_bins", _same),
    "evaluation.calibration.bins": ("calibration_bins", _same),
    "training.calibration.ece_strategy": ("calibration_strategy", _same),
    "evaluation.calibration.strategy": ("calibration_strategy", _same),
}


#: Keys that moved: old dotted key -> its new key. A config that still uses an old key fails with
#: one line naming the new key (never silently ignored, never silently mapped).
RENAMED: Mapping[str, str] = {
    **{f"evaluation.{old}": f"evaluation.{new}" for old, new in EVALUATION_RENAMED.items()},
    "evaluation.calibration_bins": "definitions.calibration_bins",
    "evaluation.calibration_strategy": "definitions.calibration_strategy",
    "training.comparison.confidence": "training.comparison.test_level",
    "monitoring.monitor.interventions.ci_level": "definitions.interval_level",
}
#: What else a user must know when a renamed key also changed its meaning.
_RENAMED_NOTE: Mapping[str, str] = {
    "training.comparison.confidence": " (test_level = 1 - confidence, e.g. 0.05)",
    "monitoring.monitor.interventions.ci_level": " (the level of every interval shown, effects included; default 0.9)",
}


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj[part] if isinstance(obj, Mapping) else getattr(obj, part)
    return obj


def _is_set(user: Mapping[str, Any], dotted: str) -> bool:
    try:
        _get(user, dotted)
    except (KeyError, TypeError, AttributeError):
        return False
    return True


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=1e-9)
    return bool(a == b)


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """All sections; each stage gets only its own.

    ``definitions`` holds the settings several stages share (see :data:`DERIVED`); the
    cross-check in ``__post_init__`` refuses a config whose stage copies disagree with them.
    """

    definitions: DefinitionsConfig = dataclasses.field(default_factory=DefinitionsConfig)
    contract: ContractConfig = dataclasses.field(default_factory=ContractConfig)
    synth: SynthConfig = dataclasses.field(default_factory=SynthConfig)
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    monitoring: MonitoringConfig = dataclasses.field(default_factory=MonitoringConfig)
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)

    def __post_init__(self) -> None:
        for key, (name, follow) in DERIVED.items():
            want = follow(getattr(self.definitions, name))
            if not _equal(_get(self, key), want):
                raise ConfigError(
                    key,
                    f"is {_get(self, key)!r} but follows definitions.{name} ({want!r}); "
                    f"set definitions.{name} instead (one setting for the review pack, exports and dashboard)",
                )

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
    user: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(str(path), "config file not found") from None
        try:
            _deep_update(user, tomllib.loads(text))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(str(path), f"not valid TOML: {err}") from None
    for item in overrides:
        keys, value = _parse_override(item)
        _merge(user, keys, value)
    for old, new in RENAMED.items():
        if _is_set(user, old):
            raise ConfigError(old, f"was renamed: set {new} instead{_RENAMED_NOTE.get(old, '')}")
    for key, (name, _) in DERIVED.items():
        if not _is_set(user, key):
            continue
        raise ConfigError(
            key,
            f"is set by definitions.{name} (one setting for the review pack, exports and dashboard); set that instead",
        )
    data = _deep_update(as_plain(AppConfig()), user)
    definitions = data.get("definitions", {})
    for key, (name, follow) in DERIVED.items():
        value = definitions.get(name) if isinstance(definitions, Mapping) else None
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            parts = key.split(".")
            _merge(data, parts, follow(value))
        # else: definitions itself is wrong; building it below names definitions.<name>
    return build_dataclass(AppConfig, data)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        try:  # ISO dates are written as TOML dates
            import datetime as dt

            dt.date.fromisoformat(v)
            return v
        except ValueError:
            return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if v is None:
        raise ConfigError("default.toml", "None cannot be written to TOML; give the field a value")
    raise TypeError(type(v))


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Write a nested dict of plain values as TOML (tables after plain keys)."""
    lines = []
    tables = []
    for k, v in data.items():
        key = json.dumps(k) if not k.replace("_", "").replace("-", "").isalnum() or "-" in k else k
        if isinstance(v, Mapping):
            tables.append((key, v))
        elif v is not None:
            lines.append(f"{key} = {_toml_value(v)}")
    out = ""
    if lines:
        out += (f"[{prefix}]\n" if prefix else "") + "\n".join(lines) + "\n\n"
    for key, v in tables:
        out += to_toml(v, f"{prefix}.{key}" if prefix else key)
    return out


def default_toml() -> str:
    """The embedded defaults as the text of ``conf/default.toml``."""
    header = (
        "# aanwas default configuration: every setting with its embedded default.\n"
        "# Generated by `python -m aanwas.config > conf/default.toml`; a test keeps it in sync.\n"
        "# Copy and edit, then pass with --config FILE, or override one value with --set key=value.\n\n"
    )
    data = AppConfig().to_dict()
    for key in DERIVED:  # copies of a definition are not settings of their own
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[leaf]
    return header + to_toml(data)


if __name__ == "__main__":
    print(default_toml(), end="")
