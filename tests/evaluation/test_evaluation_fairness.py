"""Fairness audit: hand-computed rates, equality with fairlearn's MetricFrame, "too few"."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_score, roc_auc_score

from aanwas.common.errors import InputError
from evaluation.config import BootstrapConfig, EvaluationConfig, FairnessConfig
from evaluation.fairness import TOO_FEW, audit_fairness, build_group_columns, fairness_to_json, validate_scored_table


def _cells(group: str, tp: int, fp: int, fn: int, tn: int) -> pd.DataFrame:
    """Rows with a given confusion matrix at threshold 0.5 (scores 0.9 / 0.1)."""
    y = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    s = [0.9] * (tp + fp) + [0.1] * (fn + tn)
    return pd.DataFrame({"y": y, "s": s, "g": group})


@pytest.fixture
def hand_table() -> pd.DataFrame:
    # A: n=40, pos=20, neg=20, predicted positive=18; B: n=30, pos=12, neg=18, pred=11; C: n=5
    return pd.concat(
        [
            _cells("A", tp=12, fp=6, fn=8, tn=14),
            _cells("B", tp=6, fp=5, fn=6, tn=13),
            _cells("C", tp=1, fp=1, fn=1, tn=2),
        ],
        ignore_index=True,
    )


HAND = {
    "A": {"selection_rate": 18 / 40, "fpr": 6 / 20, "fnr": 8 / 20, "ppv": 12 / 18},
    "B": {"selection_rate": 11 / 30, "fpr": 5 / 18, "fnr": 6 / 12, "ppv": 6 / 11},
}


def test_hand_computed_rates_and_disparities(hand_table):
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=40), fairness=FairnessConfig(reference="largest"))
    audit = audit_fairness(hand_table, label="y", score="s", threshold=0.5, groups=["g"], cfg=cfg)
    doc = fairness_to_json(audit, cfg)
    groups = doc["attributes"]["g"]["groups"]
    assert doc["attributes"]["g"]["reference"] == "A"  # largest group
    for g, expected in HAND.items():
        for metric, value in expected.items():
            assert groups[g][metric] == pytest.approx(value, abs=1e-6), (g, metric)
    assert groups["A"]["n"] == 40 and groups["B"]["n"] == 30
    for metric in ("selection_rate", "fpr", "fnr", "ppv"):
        assert groups["B"]["disparity"][metric]["value"] == pytest.approx(
            HAND["B"][metric] / HAND["A"][metric], abs=1e-6
        )
        assert groups["A"]["disparity"][metric]["verdict"] == "reference"
    # B's FNR ratio 1.25 lies on the band's edge: within
    assert groups["B"]["disparity"]["fnr"]["verdict"] == "within"


def test_small_group_is_too_few_never_a_number(hand_table, fast_cfg):
    audit = audit_fairness(hand_table, label="y", score="s", threshold=0.5, groups=["g"], cfg=fast_cfg)
    c = fairness_to_json(audit, fast_cfg)["attributes"]["g"]["groups"]["C"]
    assert c["n"] == TOO_FEW and c["disparity"] == TOO_FEW
    assert all(v == TOO_FEW for v in c.values())
    rows = audit.metrics[audit.metrics["group"] == "C"]
    assert rows[["value", "ci_lo", "ci_hi", "disparity"]].isna().all().all()
    assert math.isnan(audit.groups.set_index("group").loc["C", "n_persons"])


def test_rate_with_small_denominator_is_too_few(fast_cfg):
    # group B has 40 rows but only 4 positives: FNR (denominator = positives) is "too few"
    df = pd.concat([_cells("A", 12, 6, 8, 14), _cells("B", 2, 10, 2, 26)], ignore_index=True)
    audit = audit_fairness(df, label="y", score="s", threshold=0.5, groups=["g"], cfg=fast_cfg)
    b = fairness_to_json(audit, fast_cfg)["attributes"]["g"]["groups"]["B"]
    assert b["fnr"] == TOO_FEW and b["disparity"]["fnr"] == TOO_FEW
    assert b["fpr"] == pytest.approx(10 / 36)


def _random_scored(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    s = rng.beta(2, 8, n)
    y = (rng.random(n) < s * np.where(g == "c", 1.6, 1.0)).astype(int)
    return pd.DataFrame({"y": y, "s": s, "g": g, "h": rng.choice(["x", "z"], n)})


@pytest.mark.parametrize("seed", [1, 2])
def test_numbers_equal_fairlearn_metricframe_on_raw_rows(seed, fast_cfg):
    df = _random_scored(seed)
    thr = 0.25
    audit = audit_fairness(df, label="y", score="s", threshold=thr, groups=["g", "h"], cfg=fast_cfg, max_order=2)
    pred = (df["s"] >= thr).astype(int)
    ours = audit.metrics.set_index(["attribute", "group", "metric"])["value"]
    for attribute, sf in (("g", df["g"]), ("h", df["h"]), ("g \u00d7 h", df["g"] + " \u00d7 " + df["h"])):
        mf = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "fpr": false_positive_rate,
                "fnr": false_negative_rate,
                "ppv": lambda yt, yp: precision_score(yt, yp, zero_division=np.nan),
            },
            y_true=df["y"],
            y_pred=pred,
            sensitive_features=sf,
        )
        mf_scores = MetricFrame(
            metrics={"auc": roc_auc_score, "calibration": lambda yt, sc: np.sum(yt) / np.sum(sc)},
            y_true=df["y"],
            y_pred=df["s"],
            sensitive_features=sf,
        )
        expected = pd.concat([mf.by_group, mf_scores.by_group], axis=1)
        for group, row in expected.iterrows():
            for metric, value in row.items():
                assert ours[(attribute, str(group), metric)] == pytest.approx(value, rel=1e-9), (
                    attribute,
                    group,
                    metric,
                )


def test_intervals_bracket_the_estimate_and_are_seeded(fast_cfg):
    df = _random_scored(3)
    a1 = audit_fairness(df, label="y", score="s", threshold=0.25, groups=["g"], cfg=fast_cfg)
    a2 = audit_fairness(df, label="y", score="s", threshold=0.25, groups=["g"], cfg=fast_cfg)
    pd.testing.assert_frame_equal(a1.metrics, a2.metrics)
    ok = a1.metrics.dropna(subset=["value", "ci_lo", "ci_hi"])
    inside = (ok["ci_lo"] <= ok["value"] + 1e-12) & (ok["value"] <= ok["ci_hi"] + 1e-12)
    assert inside.mean() > 0.9  # percentile intervals nearly always contain the estimate


def test_configured_reference_group_is_used_and_fallback_noted():
    df = _random_scored(4)
    cfg = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=30),
        fairness=FairnessConfig(reference="configured", reference_groups={"g": "c", "h": "nope"}),
    )
    audit = audit_fairness(df, label="y", score="s", threshold=0.25, groups=["g", "h"], cfg=cfg, max_order=1)
    assert audit.references["g"] == "c"
    assert audit.references["h"] in {"x", "z"}
    assert any("'nope'" in n for n in audit.notes)


def test_intersections_are_audited_and_named():
    df = pd.DataFrame({"sex": ["M", "V", "M"], "inc": [1, 2, np.nan]})
    cols = build_group_columns(df, ["sex", "inc"], 2)
    assert cols["sex \u00d7 inc"].tolist() == ["M \u00d7 1", "V \u00d7 2", "M \u00d7 (missing)"]
    assert list(build_group_columns(df, ["sex", "inc"], 1)) == ["sex", "inc"]


@settings(max_examples=15)
@given(seed=st.integers(0, 1000), n_small=st.integers(1, 9))
def test_property_no_number_for_any_group_below_min_cell(seed, n_small):
    rng = np.random.default_rng(seed)
    n = 200
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "s": rng.random(n), "g": "big"})
    df.loc[: n_small - 1, "g"] = "small"
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=20))
    doc = fairness_to_json(audit_fairness(df, label="y", score="s", threshold=0.5, groups=["g"], cfg=cfg), cfg)
    small = doc["attributes"]["g"]["groups"]["small"]
    assert all(v == TOO_FEW for v in small.values())
    text = json.dumps(doc["attributes"]["g"]["groups"]["small"])
    assert not any(ch.isdigit() for ch in text)


@pytest.mark.parametrize(
    ("frame", "kwargs", "column", "problem"),
    [
        (pd.DataFrame({"y": [0, 1], "s": [0.1, 0.9]}), {"groups": ["g"]}, "g", "column not found"),
        (pd.DataFrame({"y": [0, 1], "s": ["0.1", "high"], "g": ["a", "b"]}), {}, "s", "not a number"),
        (pd.DataFrame({"y": [0, 1], "s": [0.1, None], "g": ["a", "b"]}), {}, "s", "missing"),
        (pd.DataFrame({"y": [0, 2], "s": [0.1, 0.9], "g": ["a", "b"]}), {}, "y", "0 or 1"),
        (pd.DataFrame({"y": ["no", "yes"], "s": [0.1, 0.9], "g": ["a", "b"]}), {}, "y", "0 or 1"),
        (pd.DataFrame({"y": [1, 1], "s": [0.1, 0.9], "g": ["a", "b"]}), {}, "y", "only one outcome"),
        (pd.DataFrame({"y": [0, 1], "s": [0.1, 0.9], "g": ["a", "b"]}), {"threshold": 1.5}, "s", "outside the range"),
        (pd.DataFrame({"y": [0, 1], "s": [0.1, 0.9], "g": ["a", "b"]}), {"threshold": -0.1}, "s", "outside the range"),
        (pd.DataFrame({"y": [0, 1], "s": [0.1, np.inf], "g": ["a", "b"]}), {}, "s", "not finite"),
        (pd.DataFrame({"y": [0, 1], "s": [0.1, 0.9], "g": ["a", "b"]}), {"groups": ["y"]}, "y", "cannot be the label"),
    ],
)
def test_bad_scored_tables_raise_one_clear_input_error(frame, kwargs, column, problem):
    args = {"source": "t.csv", "label": "y", "score": "s", "threshold": 0.5, "groups": ["g"], **kwargs}
    with pytest.raises(InputError) as err:
        validate_scored_table(frame, **args)
    assert err.value.column == column
    assert problem in err.value.problem
    assert "t.csv" in str(err.value) and "\n" not in str(err.value)


def test_validation_accepts_text_numbers_and_booleans():
    df = pd.DataFrame({"y": [True, False], "s": ["0.25", "0.75"], "g": [1.0, np.nan]})
    out = validate_scored_table(df, source="t", label="y", score="s", threshold=0.5, groups=["g"])
    assert out["y"].tolist() == [1, 0] and out["s"].tolist() == [0.25, 0.75]
    assert out["g"].tolist() == ["1", "(missing)"]
    assert not math.isnan(out["s"].sum())


def test_verdicts_outside_only_with_clear_evidence():
    # a fair, calibrated score with many small groups: chance deviations stay "uncertain"
    rng = np.random.default_rng(12)
    n = 6000
    s = rng.beta(2, 6, n)
    df = pd.DataFrame(
        {
            "y": (rng.random(n) < s).astype(int),
            "s": s,
            "g": rng.choice(list("abcdefgh"), n),
            "h": rng.choice(list("xyz"), n),
        }
    )
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=80))
    audit = audit_fairness(df, label="y", score="s", threshold=0.3, groups=["g", "h"], cfg=cfg, max_order=2)
    outside = audit.metrics["verdict"] == "outside"
    assert outside.mean() < 0.02  # ~245 verdicts against a noisy reference: chance findings are rare
    assert not (outside & audit.metrics["metric"].isin(cfg.gate.fairness_metrics)).any()
    # a group whose risk is under-predicted by half: calibration clearly outside
    df.loc[df["g"] == "a", "y"] = (
        rng.random((df["g"] == "a").sum()) < np.minimum(2 * df.loc[df["g"] == "a", "s"], 1)
    ).astype(int)
    audit = audit_fairness(df, label="y", score="s", threshold=0.3, groups=["g"], cfg=cfg, max_order=1)
    row = audit.metrics.set_index(["group", "metric"]).loc[("a", "calibration")]
    assert row["verdict"] == "outside" and row["disparity_lo"] > cfg.fairness.tolerance_high
