"""Promise 2: migration background and the other audit-only attributes are never model inputs.

Every path by which a column can become a model input refuses an audit-only attribute with a
ConfigError (exit code 2 on the command line): the config lists that name inputs
(``training.extra_features``, ``training.flag_columns``, ``training.protective_flags``), the
feature resolution of a training run (with or without a catalogue) and scoring with a model
that reads one (e.g. trained elsewhere and registered under our name).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.common.errors import ConfigError
from aanwas.config import load_config
from features.catalogue import feature_columns
from features.config import AGE_BANDS
from features.contract import AUDIT_ONLY_COLUMNS
from models.bundle import ModelBundle
from models.scoring import score_frame
from training.config import TrainingConfig
from training.fit import resolve_features

INPUT_LISTS = ("extra_features", "flag_columns", "protective_flags")


@pytest.mark.parametrize("column", AUDIT_ONLY_COLUMNS)
@pytest.mark.parametrize("key", INPUT_LISTS)
def test_config_naming_an_audit_only_input_is_refused(key: str, column: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [f'training.{key}=["{column}"]'])
    assert info.value.key == f"training.{key}"
    assert "audit-only" in str(info.value)


@pytest.mark.parametrize("key", INPUT_LISTS)
def test_the_command_line_refuses_it_with_one_line_and_exit_code_2(key: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["train", "--work", str(tmp_path / "work"), "--set", f'training.{key}=["migration_group"]']
    )
    assert result.exit_code == 2
    problem = "'migration_group' is audit-only and can never be a model input"
    assert result.stderr.splitlines() == [f"aanwas: error: invalid config: 'training.{key}': {problem}"]
    assert list(tmp_path.iterdir()) == []  # nothing written


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "rinpersoon": np.arange(n) + 100_000_000,
            "age_band": "13-19",
            "age": rng.integers(13, 20, n),
            "ind_x": rng.integers(0, 2, n).astype(float),
            "migration_group": rng.integers(0, 3, n),  # numeric on purpose: would pass a dtype filter
            "income_group": rng.integers(1, 6, n),
            "label": rng.integers(0, 2, n).astype(bool),
        }
    )


def test_feature_resolution_never_picks_an_audit_only_column() -> None:
    cols = resolve_features(_frame(), "13-19", TrainingConfig())
    assert cols == ("age", "ind_x")
    for band in AGE_BANDS:
        assert not set(feature_columns(band)) & set(AUDIT_ONLY_COLUMNS)


@pytest.mark.parametrize("column", AUDIT_ONLY_COLUMNS)
def test_a_catalogue_offering_an_audit_only_column_is_refused(column: str) -> None:
    with pytest.raises(ConfigError, match="audit-only"):
        resolve_features(_frame(), "13-19", TrainingConfig(), catalogue=lambda band: ["age", column])


@pytest.mark.parametrize("column", AUDIT_ONLY_COLUMNS)
def test_scoring_with_a_model_that_reads_an_audit_only_column_is_refused(column: str) -> None:
    frame = _frame()
    est = LogisticRegression().fit(frame[["age", column]], frame["label"])
    with pytest.raises(ConfigError) as info:
        score_frame(ModelBundle({"13-19": est}), frame)
    assert info.value.key == "model of band 13-19"
    assert column in str(info.value)
    ok = LogisticRegression().fit(frame[["age", "ind_x"]], frame["label"])  # the control: scores fine
    assert score_frame(ModelBundle({"13-19": ok}), frame).between(0, 1).all()
