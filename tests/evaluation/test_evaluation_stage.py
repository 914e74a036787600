"""Stage wiring: scored rows from the feature table and the gate check training calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fabricated_features import fabricate_audit, fabricate_feature_table

from aanwas.config import load_config
from aanwas.stages.evaluate import build_gate_check, prepare_registration_rows, prepare_scored_rows


def test_gate_check_runs_on_feature_table_rows_with_audit_attributes():
    table, risk = fabricate_feature_table(1500, seed=3)
    rows = table[(table["age_band"] == "13-19") & table["label"].notna()]
    audit = fabricate_audit(rows)
    cfg = load_config(None, ["evaluation.bootstrap.reps=20", 'evaluation.stigmatisation.area_levels=["gemeente"]'])
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
    # the structured checks reach training (the review pack renders them from gate.json)
    assert verdict.to_dict() == check.results["13-19"].summary["gate"]
    assert {c.gate for c in verdict.checks} >= {"fairness", "league"}
    assert {c.attribute_code for c in verdict.checks if c.outcome in ("pass", "fail", "cannot_judge")} <= {
        "sex",
        "migration_group",
        "sex \u00d7 migration_group",
        None,
    }


def test_prepare_scored_rows_without_audit_frame_keeps_rows():
    rows = pd.DataFrame(
        {"rinpersoon": [1, 2], "ref_date": pd.to_datetime(["2020-01-01"] * 2), "ind_single_parent": [0.0, 1.0]}
    )
    cfg = load_config(None, [])
    out = prepare_scored_rows(rows, pd.Series([0.1, 0.2]), cfg.evaluation)
    assert out["score"].tolist() == [0.1, 0.2] and out["single_parent"].tolist() == [0.0, 1.0]


def test_gate_check_audits_registration_intensity_over_every_reference_date():
    table, risk = fabricate_feature_table(1500, seed=3)
    # a consistent running count of registrations per person (the fixture's is random per row)
    table = table.sort_values(["rinpersoon", "ref_date"])
    step = np.random.default_rng(1).poisson(0.3, len(table)).astype("float32")
    table["ind_n_prior_suspect"] = pd.Series(step, index=table.index).groupby(table["rinpersoon"]).cumsum()
    cfg = load_config(None, ["evaluation.bootstrap.reps=20", 'evaluation.stigmatisation.area_levels=["gemeente"]'])
    check = build_gate_check(cfg, None)
    band_rows = table[table["age_band"] == "13-19"]
    all_risk = risk.reindex(band_rows.index).fillna(0.02)
    check.add_registrations("13-19", table, all_risk)
    test = band_rows[band_rows["label"].notna() & (band_rows["ref_date"] == band_rows["ref_date"].max())]
    check("13-19", test, all_risk.reindex(test.index))
    result = check.results["13-19"]
    ri = result.summary["registration_intensity"]["13-19/gemeente"]
    assert ri["n_reference_dates"] == table["ref_date"].nunique() - 1  # the last date has no next period
    # the observed registrations are the increments of the running count, person by person
    rows = prepare_registration_rows(table, "13-19", all_risk, cfg.evaluation)
    one = table[table["rinpersoon"] == rows["rinpersoon"].iloc[0]].set_index("ref_date")["ind_n_prior_suspect"]
    first = rows.iloc[0]
    nxt = one.index[one.index > first["ref_date"]].min()
    assert first["registered"] == one[nxt] - one[first["ref_date"]]
    assert set(rows.columns) == {"rinpersoon", "ref_date", "age_band", "gemeente", "registered", "score"}
    # a count that drops (inconsistent history) gives no observation
    broken = table.copy()
    broken.loc[broken["rinpersoon"] == first["rinpersoon"], "ind_n_prior_suspect"] = -np.arange(
        (broken["rinpersoon"] == first["rinpersoon"]).sum(), dtype="float32"
    )
    again = prepare_registration_rows(broken, "13-19", all_risk, cfg.evaluation)
    assert first["rinpersoon"] not in set(again["rinpersoon"]) and len(again) < len(rows)
    logged = result.tables["registration_intensity/13-19/gemeente"]
    assert set(logged.columns) <= {
        "area_code",
        "registration_intensity",
        "registration_intensity_lo",
        "registration_intensity_hi",
        "registration",
    }
    # the rows are kept for the audit pooled over the bands, which then drops them (no
    # person-level data kept on the callable)
    pooled = check.pooled_result()
    pri = pooled.summary["registration_intensity"]["all bands/gemeente"]
    assert pri["n_areas"] == ri["n_areas"]  # one band: the pooled audit is that band's
    assert set(pooled.tables["registration_intensity/all bands/gemeente"].columns) == set(logged.columns)
    assert "gate" not in pooled.summary and pooled.summary["league_findings"] == []
    assert check.pooled_result() is None
    check("13-19", test, all_risk.reindex(test.index))
    assert check.results["13-19"].summary["registration_intensity"] == {}


def test_gate_check_compares_the_registration_audits_with_the_synthetic_truth():
    table, risk = fabricate_feature_table(1500, seed=3)
    table = table.sort_values(["rinpersoon", "ref_date"])
    step = np.random.default_rng(1).poisson(0.3, len(table)).astype("float32")
    table["ind_n_prior_suspect"] = pd.Series(step, index=table.index).groupby(table["rinpersoon"]).cumsum()
    wijken = table["wijk"].astype(str).unique()
    truth = pd.DataFrame(
        {
            "area_code": wijken,
            "area_level": "wijk",
            "over_policed": np.arange(len(wijken)) % 10 == 0,
            "enforcement_multiplier": np.where(np.arange(len(wijken)) % 10 == 0, 2.0, 1.0),
        }
    )
    # both levels: the gemeente truth is aggregated from the wijken of the audited rows
    cfg = load_config(
        None, ["evaluation.bootstrap.reps=20", 'evaluation.stigmatisation.area_levels=["wijk", "gemeente"]']
    )
    check = build_gate_check(cfg, None, truth)
    band_rows = table[table["age_band"] == "13-19"]
    all_risk = risk.reindex(band_rows.index).fillna(0.02)
    check.add_registrations("13-19", table, all_risk)
    test = band_rows[band_rows["label"].notna() & (band_rows["ref_date"] == band_rows["ref_date"].max())]
    check("13-19", test, all_risk.reindex(test.index))
    band = check.results["13-19"].summary["registration_intensity"]
    pooled = check.pooled_result()
    for key, ri in (*band.items(), *pooled.summary["registration_intensity"].items()):
        t = ri["truth"]
        assert t["n_areas_truly_over_policed_auditable"] > 0, key
        assert 0.0 <= t["recall_auditable"] <= 1.0, key
    assert {"registration_intensity_power/all bands/wijk", "registration_intensity_power/all bands/gemeente"} <= set(
        pooled.tables
    )
