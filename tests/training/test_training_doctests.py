"""The examples in the training package's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "training.splits",
    "training.tuning",
    "training.fit",
    "training.fingerprint",
    "fabricated_features",
    "training.tracking",
    "training.registry",
    "training.promotion",
    "training.compare",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
