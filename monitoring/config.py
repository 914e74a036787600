"""Configuration of the monitoring stage (frozen, typed; defaults mirrored in conf/default.toml)."""

from __future__ import annotations

import dataclasses

from features._config import require  # noqa: F401  (range rules in __post_init__)


@dataclasses.dataclass(frozen=True)
class MonitoringConfig:
    """Settings of the monitoring stage."""
