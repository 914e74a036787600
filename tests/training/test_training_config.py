"""The training config: typed, range-checked, audit-only columns refused."""

from __future__ import annotations

import pytest

from aanwas.common.errors import ConfigError
from aanwas.config import load_config
from training.config import TrainingConfig


def test_defaults_and_overrides() -> None:
    cfg = load_config(
        None,
        [
            "training.tuning.n_trials=7",
            "training.promotion.auc_margin=0.01",
            "training.tuning.search.num_leaves=[4, 9]",
        ],
    )
    t = cfg.training
    assert t.tuning.n_trials == 7
    assert t.promotion.auc_margin == 0.01
    assert t.tuning.search.num_leaves == (4, 9)
    assert t.calibration.method == "sigmoid"
    assert TrainingConfig().bands == ("8-12", "13-19", "20-23")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ('training.extra_features=["migration_group"]', "training.extra_features"),
        ('training.extra_features=["income_group"]', "training.extra_features"),
        ('training.extra_features=["rinpersoon"]', "training.extra_features"),
        ("training.tuning.n_trials=0", "training.tuning.n_trials"),
        ("training.tuning.search.learning_rate=[0.3, 0.1]", "training.tuning.search.learning_rate"),
        ("training.tuning.search.learning_rate=[0.1]", "training.tuning.search.learning_rate"),
        ('training.calibration.method="beta"', "training.calibration.method"),
        ("training.promotion.auc_margin=-0.1", "training.promotion.auc_margin"),
        ('training.bands=["8-13"]', "training.bands"),
        ("training.split.min_train_dates=0", "training.split.min_train_dates"),
        ("training.lightgbm.learning_rate=0", "training.lightgbm.learning_rate"),
        ('training.mlflow.model_prefix="a b"', "training.mlflow.model_prefix"),
        ("training.unknown=1", "training.unknown"),
    ],
)
def test_bad_settings_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert err.value.key == key


def test_time_budget_alone_is_enough() -> None:
    cfg = load_config(None, ["training.tuning.n_trials=0", "training.tuning.timeout_seconds=5"])
    assert cfg.training.tuning.timeout_seconds == 5.0
