"""fit_band: calibrated models near the oracle, baselines beside them; feature lists guarded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table

from aanwas.common.errors import ConfigError, InputError
from training.fit import MODEL_NAMES, fit_band, resolve_features, select_test_part
from training.splits import build_temporal_splits


@pytest.fixture(scope="module")
def fitted(make_cfg):  # type: ignore[no-untyped-def]
    frame, truth = fabricate_feature_table(16000, seed=21)
    cfg = make_cfg("training.tuning.enabled=false").training
    split = build_temporal_splits(frame, ["13-19"], cfg.split)["13-19"]
    feats = resolve_features(frame, "13-19", cfg)
    return frame, truth, fit_band(frame, split, feats, cfg, truth=truth, reference_risks={"same": truth})


def test_lightgbm_near_oracle_calibrated_and_beats_flag_count(fitted) -> None:  # type: ignore[no-untyped-def]
    _, _, fb = fitted
    lgbm = fb.metrics["lightgbm"]
    assert set(fb.metrics) == set(MODEL_NAMES)
    assert lgbm["oracle_auc"] - lgbm["auc"] < 0.03
    assert lgbm["ece"] < 0.02
    assert lgbm["auc"] > fb.metrics["flags"]["auc"] + 0.005
    assert fb.reference_metrics["same_auc"] == pytest.approx(lgbm["oracle_auc"])
    for m in fb.metrics.values():
        assert 0 <= m["brier"] < m["prevalence"]  # better than predicting 0 for everyone
        assert abs(m["mean_risk"] - m["prevalence"]) < 0.02


def test_counts_and_models_match_the_split(fitted) -> None:  # type: ignore[no-untyped-def]
    frame, _, fb = fitted
    for part in ("train", "tune", "test"):
        rows = fb.split.select(frame, part)
        assert fb.counts[f"n_{part}"] == len(rows)
        assert fb.counts[f"n_pos_{part}"] == int(rows["label"].astype(bool).sum())
    for est in fb.models.values():
        assert tuple(est.feature_names_in_) == fb.features
    test_rows, y = select_test_part(frame, fb)
    assert (test_rows["ref_date"] == fb.split.test_date).all() and len(y) == fb.counts["n_test"]


def test_truth_must_cover_the_test_rows(fitted, make_cfg) -> None:  # type: ignore[no-untyped-def]
    frame, truth, fb = fitted
    cfg = make_cfg("training.tuning.enabled=false").training
    test_idx = fb.split.select(frame, "test").index
    with pytest.raises(InputError, match=r"test rows without a true risk \(5 rows\)"):
        fit_band(frame, fb.split, fb.features, cfg, truth=truth.drop(test_idx[:5]))


def test_resolve_features_guards_the_model_inputs(make_cfg) -> None:  # type: ignore[no-untyped-def]
    frame, _ = fabricate_feature_table(300, seed=2)
    frame = frame.assign(migration_group="europa", income_group=3, ind_empty=np.float32(np.nan))
    cfg = make_cfg().training
    cols = resolve_features(frame, "8-12", cfg)
    assert cols[:2] == ("age", "is_male")
    assert "ind_own_debt_ever" not in cols  # all NaN in 8-12: does not apply
    assert not {"migration_group", "income_group", "rinpersoon", "label", "ind_empty"} & set(cols)
    assert "ind_vsv_ever" not in resolve_features(
        frame, "13-19", make_cfg('training.exclude_features=["ind_vsv_ever"]').training
    )
    from features.catalogue import feature_columns

    assert resolve_features(frame, "20-23", cfg, feature_columns) == tuple(feature_columns("20-23"))
    with pytest.raises(ConfigError, match="migration_group"):
        resolve_features(frame, "8-12", cfg, lambda band: ["age", "migration_group"])
    with pytest.raises(InputError, match="ind_absent"):
        resolve_features(frame, "8-12", cfg, lambda band: ["age", "ind_absent"])


def test_a_part_without_positives_is_one_clear_error(make_cfg) -> None:  # type: ignore[no-untyped-def]
    frame, _ = fabricate_feature_table(1500, seed=4)
    cfg = make_cfg("training.tuning.enabled=false").training
    split = build_temporal_splits(frame, ["20-23"], cfg.split)["20-23"]
    frame = frame.copy()
    frame.loc[split.mask(frame, "test"), "label"] = False
    with pytest.raises(InputError, match="band 20-23, test part: needs both outcomes"):
        fit_band(frame, split, resolve_features(frame, "20-23", cfg), cfg)
    assert isinstance(frame, pd.DataFrame)


def test_paired_comparisons_match_the_metrics(fitted) -> None:  # type: ignore[no-untyped-def]
    """Each baseline's paired difference is LightGBM's AUC minus the baseline's, inside its interval."""
    _, _, fb = fitted
    assert set(fb.comparisons) == {m for m in MODEL_NAMES if m != "lightgbm"}
    for name, c in fb.comparisons.items():
        expected = fb.metrics["lightgbm"]["auc"] - fb.metrics[name]["auc"]
        assert c["auc_diff"] == pytest.approx(expected, abs=1e-9)
        assert c["auc_diff_lo"] <= c["auc_diff"] <= c["auc_diff_hi"]
        assert 0.0 <= c["auc_diff_p_le0"] <= 1.0
    assert fb.comparisons["flags"]["auc_diff_lo"] > 0  # the flag count is clearly worse here
