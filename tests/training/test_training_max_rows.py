"""training.max_train_rows: a stratified cap on the training rows of each band (national scale)."""

from __future__ import annotations

import pytest
from fabricated_features import fabricate_feature_table

from aanwas.common.errors import ConfigError
from training.fit import fit_band, resolve_features
from training.splits import build_temporal_splits


@pytest.mark.parametrize("cap", [0, 2000])
def test_cap_limits_training_rows_keeps_prevalence_and_other_parts(make_cfg, cap):  # type: ignore[no-untyped-def]
    frame, _truth = fabricate_feature_table(4000, seed=5)
    cfg = make_cfg("training.tuning.enabled=false", f"training.max_train_rows={cap}").training
    split = build_temporal_splits(frame, ["13-19"], cfg.split)["13-19"]
    train = split.select(frame, "train")
    fb = fit_band(frame, split, resolve_features(frame, "13-19", cfg), cfg)
    n_all, pos_all = len(train), int(train["label"].astype(bool).sum())
    assert n_all > 2000  # the cap must bite for the test to mean anything
    if cap == 0:
        assert (fb.counts["n_train"], fb.counts["n_pos_train"]) == (n_all, pos_all)
    else:
        assert abs(fb.counts["n_train"] - 2000) <= 1  # per-class rounding
        assert abs(fb.counts["n_pos_train"] - pos_all * 2000 / n_all) <= 1  # same prevalence
    assert fb.counts["n_tune"] == len(split.select(frame, "tune"))  # calibration and test keep every row
    assert fb.counts["n_test"] == len(split.select(frame, "test"))


def test_negative_cap_is_a_config_error(make_cfg):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="max_train_rows"):
        make_cfg("training.max_train_rows=-1")
