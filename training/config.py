"""Configuration of the training stage (frozen, typed; defaults mirrored in conf/default.toml)."""

from __future__ import annotations

import dataclasses

from features._config import require  # noqa: F401  (range rules in __post_init__)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Settings of the training stage."""
