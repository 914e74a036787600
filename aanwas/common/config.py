"""Typed, frozen configuration: build nested dataclasses from plain mappings (TOML).

Each stage package declares its own frozen dataclass; :func:`build_dataclass` fills one from a
mapping, checks types and unknown keys, and raises :class:`~aanwas.common.errors.ConfigError` naming
the dotted key. Range rules live in each dataclass's ``__post_init__`` via :func:`require`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from aanwas.common.errors import ConfigError

T = TypeVar("T")


def require(condition: bool, key: str, problem: str) -> None:
    """Raise ConfigError for ``key`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(key, problem)


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError as err:
                errors.append(err.problem)
        raise ConfigError(key, "; ".join(errors))
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(key, f"must be one of {list(allowed)}, got {value!r}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(key, "must be a table of settings")
        return build_dataclass(tp, value, prefix=key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, "must be a list")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(key, f"must have {len(args)} items")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(key, "must be a table")
        kt, vt = get_args(tp) or (Any, Any)
        return types.MappingProxyType({_convert(k, kt, key): _convert(v, vt, f"{key}.{k}") for k, v in value.items()})
    if tp is dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(key, f"must be a date (YYYY-MM-DD), got {value!r}")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be a whole number, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be text, got {value!r}")
        return value
    return value


def build_dataclass(cls: type[T], values: Mapping[str, Any], prefix: str = "") -> T:
    """Build frozen dataclass ``cls`` from ``values``; unknown keys and bad types are errors.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class C:
    ...     n: int = 1
    >>> build_dataclass(C, {"n": 3})
    C(n=3)
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(key, f"unknown setting (known: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in values.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(value, hints[name], key)
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field without default
        raise ConfigError(prefix or cls.__name__, str(err)) from None


def as_plain(obj: Any) -> Any:
    """Config dataclass -> plain JSON-able dict (dates as ISO text), for logging."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): as_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_plain(v) for v in obj]
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj
