"""The demo's own errors: a population too small to train a band says which option to change."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from aanwas.common.errors import InputError
from aanwas.config import load_config
from aanwas.stages import features, synth, train, validate
from aanwas.stages.demo import run_demo


def _no_op(*args: object, **kwargs: object) -> None:
    return None


@pytest.mark.parametrize(
    ("error", "hinted"),
    [
        (
            InputError("feature table", "label", 198, "band 20-23, test part: needs both outcomes to fit and measure"),
            True,
        ),
        (InputError("persons", "birth_date", 3, "dates before 1900"), False),
    ],
)
def test_a_band_without_both_outcomes_names_the_scale(
    error: InputError, hinted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*args: object, **kwargs: object) -> None:
        raise error

    for module, name in ((synth, "run_synth"), (validate, "run_validate"), (features, "run_features")):
        monkeypatch.setattr(module, name, _no_op)
    monkeypatch.setattr(train, "run_train", fails)
    cfg = load_config(None, ["synth.scale=0.02"])
    with pytest.raises(InputError) as caught:
        run_demo(cfg, tmp_path / "demo", Console(file=io.StringIO()))
    message = str(caught.value)
    assert message.startswith(str(error).removesuffix(f" ({error.n_rows} rows)"))  # the cause stays first
    assert ("--scale 0.02 is too small: use a larger --scale" in message) == hinted
    assert message.endswith(f"({error.n_rows} rows)")  # how many rows, as every input error
