"""Stage wiring: scored rows from the feature table and the gate check training calls."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aanwas.config import load_config
from aanwas.stages.evaluate import build_gate_check, prepare_scored_rows
from training.fixtures import fabricate_feature_table


def test_gate_check_runs_on_feature_table_rows_with_audit_attributes():
    table, risk = fabricate_feature_table(1500, seed=3)
    rows = table[(table["age_band"] == "13-19") & table["label"].notna()]
    rng = np.random.default_rng(0)
    audit = rows[["rinpersoon", "ref_date"]].assign(
        sex=rng.choice(["M", "V"], len(rows)),
        migration_group=rng.choice(["nederland", "europa", "buiten_europa"], len(rows)),
        income_group=rng.integers(1, 6, len(rows)),
    )
    cfg = load_config(None, ["evaluation.bootstrap_reps=20", 'evaluation.area_levels=["gemeente"]'])
    scored = prepare_scored_rows(rows, risk.reindex(rows.index).fillna(0.02), cfg.evaluation, audit)
    assert {"score", "sex", "migration_group", "income_group", "single_parent"} <= set(scored.columns)
    assert scored["single_parent"].equals(scored["ind_single_parent"])
    assert len(scored) == len(rows)
    check = build_gate_check(cfg, audit)
    passed = check("13-19", rows, risk.reindex(rows.index).fillna(0.02))
    verdict = check.verdicts["13-19"]
    assert passed is verdict.passed and isinstance(passed, bool)
    assert verdict.passed == (not verdict.reasons)
    assert any("label-bias" in n for n in verdict.notes)  # no alternative label in training


def test_prepare_scored_rows_without_audit_frame_keeps_rows():
    rows = pd.DataFrame(
        {"rinpersoon": [1, 2], "ref_date": pd.to_datetime(["2020-01-01"] * 2), "ind_single_parent": [0.0, 1.0]}
    )
    cfg = load_config(None, [])
    out = prepare_scored_rows(rows, pd.Series([0.1, 0.2]), cfg.evaluation)
    assert out["score"].tolist() == [0.1, 0.2] and out["single_parent"].tolist() == [0.0, 1.0]
