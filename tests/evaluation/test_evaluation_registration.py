"""Registration-intensity audit: all registrations of residents against model-expected ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, poisson

from evaluation.config import BootstrapConfig, EvaluationConfig, FairnessConfig, GateConfig
from evaluation.evaluate import POOLED, evaluate_model
from evaluation.report import render_report
from evaluation.stigmatisation import (
    audit_registration_intensity,
    compare_with_truth,
    model_expected,
    registrations_next_period,
    truth_at_level,
)


def fabricate_periods(
    seed: int,
    *,
    n_gemeenten: int = 8,
    wijken_per_gemeente: int = 10,
    persons_per_wijk: int = 400,
    periods: int = 5,
    over_share: float = 0.1,
    intensity: float = 2.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons followed over ``periods`` years; registrations = offending x wijk detection.

    The score is the offending propensity (no area input). ``truth`` has one row per wijk.
    """
    rng = np.random.default_rng(seed)
    n_w = n_gemeenten * wijken_per_gemeente
    wijk = np.array([f"WK{g:04d}{w:02d}" for g in range(n_gemeenten) for w in range(wijken_per_gemeente)])
    gem = np.repeat([f"GM{g:04d}" for g in range(n_gemeenten)], wijken_per_gemeente)
    over = np.zeros(n_w, dtype=bool)
    over[rng.choice(n_w, int(round(over_share * n_w)), replace=False)] = True
    n = n_w * persons_per_wijk
    a = np.repeat(np.arange(n_w), persons_per_wijk)
    z = rng.normal(0.0, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(-3.3 + 0.9 * z)))
    det = np.where(over[a], 0.4 * intensity, 0.4)
    rows = []
    for t in range(periods):
        reg = (rng.random(n) < p * det).astype(float)
        rows.append(
            pd.DataFrame(
                {
                    "rinpersoon": np.arange(n),
                    "ref_date": pd.Timestamp(f"{2018 + t}-01-01"),
                    "age_band": np.where(z > 0, "13-19", "20-23"),
                    "wijk": wijk[a],
                    "gemeente": gem[a],
                    "registered": reg,
                    "score": p,
                }
            )
        )
    truth = pd.DataFrame(
        {
            "area_code": wijk,
            "area_level": "wijk",
            "over_policed": over,
            "enforcement_multiplier": np.where(over, 2.0, 1.0),
        }
    )
    return pd.concat(rows, ignore_index=True), truth


def test_hand_computed_intensity_interval_and_flags():
    # three areas of 20 persons: expected 10 events each; observed 10, 10, 30
    df = pd.DataFrame(
        {
            "a": np.repeat(["x", "y", "z"], 20),
            "o": np.r_[np.repeat([0.5], 20), np.repeat([0.5], 20), np.repeat([1.5], 20)],
            "e": 0.5,
        }
    )
    cfg = EvaluationConfig(alpha=0.05)  # hand-computed at the 95% level
    res = audit_registration_intensity(df, area="a", observed="o", expected="e", cfg=cfg)
    t = res.areas.set_index("area_code")
    # first step: ref = 50/30; z is flagged, then the reference is x and y only: ref = 20/20 = 1
    assert t.loc["z", "registration"] == "over" and t.loc["x", "registration"] == "within"
    assert t.loc["z", "registration_intensity"] == pytest.approx(3.0)
    assert t.loc["x", "registration_intensity"] == pytest.approx(1.0)
    assert t.loc["z", "registration_intensity_lo"] == pytest.approx(chi2.ppf(0.025, 60) / 2 / 10)
    assert t.loc["z", "registration_intensity_hi"] == pytest.approx(chi2.ppf(0.975, 62) / 2 / 10)
    assert res.summary["registrations_per_expected_reference"] == pytest.approx(1.0)
    assert poisson.sf(29, 10.0) < 0.025 / 3  # why z survives the false-discovery control
    # the minimum cell size applies to distinct persons when a person key is given
    small = EvaluationConfig(min_cell_size=21)
    assert audit_registration_intensity(df, area="a", observed="o", expected="e", cfg=small).summary["n_areas"] == 0


def test_registrations_next_period_and_model_expected_by_hand():
    df = pd.DataFrame({"p": [1, 1, 1, 2, 2], "d": [1, 2, 3, 2, 3], "n": [0.0, 1.0, 3.0, 5.0, 5.0]})
    assert np.allclose(
        registrations_next_period(df, person="p", date="d", count="n"), [1, 2, np.nan, 0, np.nan], equal_nan=True
    )
    e = pd.DataFrame({"s": [0.1, 0.2, 0.3, 0.4, 0.1, 0.9], "y": [0, 0, 1, 1, 1, 0.0], "g": list("aaaabb")})
    out = model_expected(e, observed="y", score="s", strata=["g"], bins=2)
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    # rows without an observation get no expectation and do not enter the bin means
    e.loc[0, "y"] = np.nan
    out = model_expected(e, observed="y", score="s", strata=["g"], bins=2)
    assert np.isnan(out[0]) and out[1] == 0.0


@pytest.mark.parametrize("seed", [1, 2])
def test_registration_intensity_recovers_over_policed_wijken(seed):
    rows, truth = fabricate_periods(seed)
    rows["expected"] = model_expected(rows, observed="registered", score="score", strata=["ref_date"], bins=20)
    res = audit_registration_intensity(
        rows, area="wijk", observed="registered", expected="expected", cfg=EvaluationConfig(), person="rinpersoon"
    )
    cmp = compare_with_truth(res, truth)
    assert cmp["n_areas_truly_over_policed"] == 8
    # measured at seeds 1..6: recall 1.0 each; false discovery 0 (one of 9 flagged at seed 5)
    assert cmp["recall"] >= 0.75 and cmp["false_discovery"] <= 0.2
    assert cmp["spearman_intensity_enforcement"] > 0.3
    over = res.areas.merge(truth, on="area_code")
    assert 1.6 < over.loc[over["over_policed"], "registration_intensity"].median() < 2.5


def test_no_bias_means_no_flagged_wijken():
    rows, truth = fabricate_periods(3, over_share=0.0)
    rows["expected"] = model_expected(rows, observed="registered", score="score", strata=["ref_date"], bins=20)
    res = audit_registration_intensity(
        rows, area="wijk", observed="registered", expected="expected", cfg=EvaluationConfig()
    )
    assert res.summary["n_areas_over_registered"] == 0 and res.summary["n_areas_under_registered"] == 0
    assert res.summary["p_intensity_heterogeneity"] > 0.001


def test_truth_at_gemeente_level_weights_wijken_by_rows():
    truth = pd.DataFrame({"area_code": ["W1", "W2", "W3"], "enforcement_multiplier": [2.0, 1.0, 1.0]})
    members = pd.DataFrame({"wijk": ["W1", "W2", "W2", "W2", "W3"], "gemeente": ["G1", "G1", "G1", "G1", "G2"]})
    t = truth_at_level(truth, members, level="gemeente", threshold=1.25).set_index("area_code")
    assert t.loc["G1", "enforcement"] == pytest.approx(1.25) and bool(t.loc["G1", "over_policed"])
    assert not bool(t.loc["G2", "over_policed"])


def test_evaluate_model_records_registration_intensity_per_band_pooled_and_gemeente():
    rows, truth = fabricate_periods(4, persons_per_wijk=250)
    test = rows[rows["ref_date"] == rows["ref_date"].max()].assign(label=lambda d: d["registered"].astype(int))
    cfg = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=20),
        fairness=FairnessConfig(attributes=("age_band",)),
        gate=GateConfig(attributes=()),
    )
    result = evaluate_model(test, cfg=cfg, threshold=0.05, registrations=rows, truth_areas=truth)
    ri = result.summary["registration_intensity"]
    assert set(ri) == {f"{b}/{lv}" for b in ("13-19", "20-23", POOLED) for lv in ("wijk", "gemeente")}
    assert ri[f"{POOLED}/wijk"]["truth"]["n_areas_truly_over_policed"] == 8
    assert ri[f"{POOLED}/gemeente"]["truth"]["n_areas_compared"] == 8  # truth aggregated to gemeenten
    logged = result.tables[f"registration_intensity/{POOLED}/wijk"]
    assert "n_persons" not in logged.columns and "rinpersoon" not in logged.columns
    html = render_report(result, min_cell=cfg.min_cell_size)
    assert "Registration intensity: all registrations" in html
    assert f"{POOLED}/wijk" in result.summary["area_keys"][POOLED]
    # sensitivity by power stratum against the truth: a table of area counts, in the report
    truth_summary = ri[f"{POOLED}/wijk"]["truth"]
    strata = result.tables[f"registration_intensity_power/{POOLED}/wijk"].set_index("stratum")
    assert strata.loc["all", "n_areas_truly_over_policed"] == truth_summary["n_areas_truly_over_policed_auditable"]
    assert strata.loc["all", "n_areas_flagged_correctly"] == truth_summary["n_areas_flagged_correctly"]
    assert truth_summary["recall_powered"] >= 0.8  # wijken of 250 persons x 5 years: every one well powered
    assert "recall_powered_at_true_intensity" in truth_summary
    assert "Sensitivity by the audit" in html
    cut = ri[f"{POOLED}/wijk"]["p_threshold_over"]
    assert 0 < cut < 0.025 and f"{cut:.2g}" in html  # the cutoff the run used, readable
    assert ri[f"{POOLED}/wijk"]["n_areas_powered"] <= ri[f"{POOLED}/wijk"]["n_areas_auditable"]


def test_reference_pools_every_audited_area_not_only_the_tested_ones():
    # 50 small areas (20 persons, 5 expected and 5 observed registrations: below the minimum cell
    # size, so not shown) and two larger ones (20 expected): one at 20 observed, one at 40 (x2).
    # A reference of the tested areas only would be 60/40 = 1.5 and hide the doubling.
    small = pd.DataFrame(
        {"a": np.repeat([f"s{i:02d}" for i in range(50)], 20), "o": np.tile([1.0] * 5 + [0.0] * 15, 50), "e": 0.25}
    )
    large = pd.DataFrame(
        {
            "a": np.repeat(["L1", "L2"], 40),
            "o": np.r_[np.repeat(0.5, 40), np.repeat(1.0, 40)],
            "e": 0.5,
        }
    )
    res = audit_registration_intensity(
        pd.concat([small, large], ignore_index=True), area="a", observed="o", expected="e", cfg=EvaluationConfig()
    )
    t = res.areas.set_index("area_code")
    assert list(t.index) == ["L1", "L2"]  # only the areas with >= 10 registrations are shown
    # step 1: ref = 310 / 290; L2 is flagged; step 2: ref = (250 + 20) / (250 + 20) = 1
    assert res.summary["registrations_per_expected_reference"] == pytest.approx(1.0)
    assert t.loc["L2", "registration"] == "over" and t.loc["L2", "registration_intensity"] == pytest.approx(2.0)
    assert t.loc["L1", "registration"] == "within" and t.loc["L1", "registration_intensity"] == pytest.approx(1.0)
    assert poisson.sf(39, 20 * 310 / 290) < 0.025 / 52  # why L2 survives the control over all 52 areas
    assert len(res.power) == 52  # power for every audited area, shown or not
