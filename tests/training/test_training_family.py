"""Model family by evidence (hand-made comparisons) and the training criteria (hand-made
metrics): which family wins, the boundary at the margin, and each criterion's pass/fail edge."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.compare import paired_auc_difference
from training.config import ComparisonConfig, CriteriaConfig, FamilyConfig
from training.criteria import CRITERIA, criteria_metrics, evaluate_criteria
from training.family import FamilyChoice, choose_family


def _comparison(diff: float, lo: float, hi: float) -> dict[str, float]:
    return {"auc_diff": diff, "auc_diff_lo": lo, "auc_diff_hi": hi}


def test_logistic_regression_wins_when_the_interval_includes_zero() -> None:
    choice = choose_family(0.776, 0.775, _comparison(0.001, -0.003, 0.006), FamilyConfig(), confidence=0.95)
    assert choice.chosen == "logreg"
    assert choice.reason == (
        "The logistic regression was chosen because LightGBM was not better beyond its 95 % interval: "
        "+0.001 [-0.003, +0.006]."
    )
    d = choice.to_dict()
    assert (d["auc_lightgbm"], d["auc_logreg"], d["auc_diff_lo"], d["min_gain"]) == (0.776, 0.775, -0.003, 0.0)
    assert FamilyChoice.from_dict(d) == choice


def test_lightgbm_wins_beyond_its_interval() -> None:
    choice = choose_family(0.790, 0.770, _comparison(0.020, 0.011, 0.029), FamilyConfig(), confidence=0.9)
    assert choice.chosen == "lightgbm"
    assert choice.reason == (
        "LightGBM was chosen because it was better than the logistic regression beyond its 90 % interval: "
        "+0.020 [+0.011, +0.029]."
    )
    assert choice.tags() == {"aanwas.family": "lightgbm", "aanwas.family_reason": choice.reason}


@pytest.mark.parametrize(
    ("lo", "min_gain", "chosen"),
    [
        (0.0, 0.0, "logreg"),  # at the margin: not ABOVE it
        (1e-12, 0.0, "lightgbm"),
        (0.005, 0.005, "logreg"),
        (0.0050001, 0.005, "lightgbm"),
        (0.004, 0.005, "logreg"),  # better beyond the interval, but not by the margin
        (-0.002, -0.005, "lightgbm"),  # a negative margin lets LightGBM win while slightly worse
        (float("nan"), 0.0, "logreg"),  # undefined interval: the simpler model
    ],
)
def test_boundary_at_the_margin(lo: float, min_gain: float, chosen: str) -> None:
    cfg = FamilyConfig(min_gain=min_gain)
    assert choose_family(0.8, 0.79, _comparison(0.01, lo, 0.02), cfg, confidence=0.95).chosen == chosen


def test_a_margin_is_named_in_the_reason() -> None:
    choice = choose_family(0.8, 0.79, _comparison(0.01, 0.004, 0.02), FamilyConfig(min_gain=0.005), confidence=0.95)
    assert choice.chosen == "logreg" and "not better by more than 0.005 beyond its 95 % interval" in choice.reason


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), noise=st.floats(0.0, 3.0))
def test_the_rule_on_real_paired_intervals(seed: int, noise: float) -> None:
    """LightGBM's score = the true risk; the logistic regression's = the risk plus noise: the
    choice follows the lower end of the paired interval, whatever it is."""
    rng = np.random.default_rng(seed)
    risk = rng.random(400)
    y = (rng.random(400) < risk).astype(int)
    other = risk + noise * rng.normal(size=400)
    comp = paired_auc_difference(y, risk, other, ComparisonConfig(bootstrap_reps=50), seed=seed)
    choice = choose_family(0.0, 0.0, comp, FamilyConfig(), confidence=0.95)
    assert choice.auc_diff_lo <= choice.auc_diff <= choice.auc_diff_hi or math.isnan(choice.auc_diff_lo)
    assert (choice.chosen == "lightgbm") == (comp["auc_diff_lo"] > 0)


# --- training criteria ------------------------------------------------------------------------


def _metrics(auc: float = 0.75, ece: float = 0.25, oracle_ece: float = 0.125) -> dict[str, dict[str, float]]:
    return {"lightgbm": {"auc": auc, "ece": ece, "oracle_ece": oracle_ece}}


# thresholds that are exact in binary, so the boundaries are exact
EXACT = CriteriaConfig(max_gap_to_oracle=0.25, min_gain_over_flags=0.0, max_loss_to_logreg=0.125, max_ece_excess=0.125)


def test_criteria_by_hand() -> None:
    comp = {"flags": {"auc_diff_lo": 0.0625}, "logreg": {"auc_diff_lo": -0.0625}}
    out = evaluate_criteria(_metrics(), {"oracle_observable_auc": 0.875}, comp, EXACT)
    assert list(out) == list(CRITERIA)
    assert out["oracle"].value == 0.125 and out["oracle"].passed  # 0.875 - 0.75
    assert out["flags"].value == 0.0625 and out["flags"].passed
    assert out["logreg"].value == -0.0625 and out["logreg"].threshold == -0.125 and out["logreg"].passed
    assert out["ece"].value == 0.125 and out["ece"].passed  # 0.25 - 0.125, at the limit
    logged = criteria_metrics("13-19", out)
    assert logged["criteria/13-19/oracle/value"] == 0.125 and logged["criteria/13-19/all_passed"] == 1.0
    assert set(logged) == {f"criteria/13-19/{c}/{k}" for c in CRITERIA for k in ("value", "threshold", "passed")} | {
        "criteria/13-19/all_passed"
    }


@pytest.mark.parametrize(
    ("criterion", "metrics", "observable", "flags_lo", "logreg_lo"),
    [
        ("oracle", _metrics(auc=0.5), 0.875, 0.0625, -0.0625),  # gap 0.375 > 0.25
        ("oracle", _metrics(), float("nan"), 0.0625, -0.0625),  # not measurable: not passed
        ("flags", _metrics(), 0.875, 0.0, -0.0625),  # interval touching 0 is not above 0
        ("logreg", _metrics(), 0.875, 0.0625, -0.1875),  # lower end below -0.125
        ("ece", _metrics(ece=0.375), 0.875, 0.0625, -0.0625),  # 0.25 above the oracle's ECE
    ],
)
def test_each_criterion_fails_on_its_own(criterion, metrics, observable, flags_lo, logreg_lo) -> None:  # type: ignore[no-untyped-def]
    comp = {"flags": {"auc_diff_lo": flags_lo}, "logreg": {"auc_diff_lo": logreg_lo}}
    out = evaluate_criteria(metrics, {"oracle_observable_auc": observable}, comp, EXACT)
    assert [c for c in CRITERIA if not out[c].passed] == [criterion]
    assert criteria_metrics("8-12", out)["criteria/8-12/all_passed"] == 0.0


def test_criteria_to_dict_keeps_nan_out_of_json() -> None:
    out = evaluate_criteria(_metrics(), {}, {}, CriteriaConfig())
    assert out["oracle"].to_dict()["value"] is None and out["oracle"].to_dict()["passed"] is False


def test_the_model_card_sentence_in_both_languages() -> None:
    from evaluation.modelcard import family_text

    choice = choose_family(0.776, 0.775, _comparison(0.001, -0.003, 0.006), FamilyConfig(), confidence=0.95)
    nl, en = family_text(choice.to_dict())  # type: ignore[misc]
    assert en == (
        "The logistic regression was chosen because LightGBM was not better beyond its 95 % interval: "
        "+0.001 [-0.003, +0.006] (AUC LightGBM 0.776, logistic regression 0.775)."
    )
    assert nl == (
        "De logistische regressie is gekozen omdat LightGBM niet beter was buiten zijn 95 %-interval: "
        "+0,001 [-0,003; +0,006] (AUC LightGBM 0,776, logistische regressie 0,775). Het 95 %-interval is het "
        "niveau van een keuze (hoogstens 2,5 % kans dat LightGBM gekozen wordt terwijl het niet beter is), niet het "
        "niveau van de intervallen bij de getoonde cijfers."
    )
    assert "at most 2.5 % chance" in choice.rule and "not the level of the intervals" in choice.rule
    assert family_text(None) is None and family_text({}) is None
