"""Stigmatisation audits: label bias finds over-policed areas, ranking, proxies, league tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import InputError
from evaluation.config import BootstrapConfig, EvaluationConfig, StigmatisationConfig
from evaluation.stigmatisation import (
    aggregate_area_composition,
    audit_label_bias,
    audit_league_tables,
    audit_proxy,
    audit_ranking,
    build_intensity_adjusted_label,
    compare_with_truth,
    composition_from_geography,
)
from features.geography import load_geography


@pytest.mark.parametrize("seed", [7, 8])
def test_label_bias_flags_the_over_policed_areas(seed, make_world):
    persons, truth = make_world(seed)
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=100))
    res = audit_label_bias(persons, area="wijk", label="label", alternative="alt", score="score", cfg=cfg)
    cmp = compare_with_truth(res, truth)
    assert cmp["n_areas_truly_over_policed"] == 6
    assert cmp["recall"] >= 5 / 6
    assert cmp["precision"] >= 5 / 6
    flagged = set(res.areas.loc[res.areas["registration"] == "over", "area_code"])
    over = set(truth.loc[truth["over_policed"], "area_code"])
    assert len(flagged & over) >= 5
    # estimated intensity of the over-policed areas is near the injected doubling
    est = res.areas.set_index("area_code").loc[sorted(over), "registration_intensity"]
    assert 1.5 < est.median() < 2.7
    # the model learned the biased label: it calls areas elevated that the alternative does not
    assert res.summary["n_areas_elevated_model"] >= 1


def test_no_bias_means_no_flags(make_world):
    persons, truth = make_world(9, n_over_policed=0)
    res = audit_label_bias(
        persons,
        area="wijk",
        label="label",
        alternative="alt",
        cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=100)),
    )
    assert res.summary["n_areas_over_registered"] == 0 and res.summary["n_areas_under_registered"] == 0
    assert res.summary["p_intensity_heterogeneity"] > 0.001
    assert compare_with_truth(res, truth)["n_areas_truly_over_policed"] == 0


def test_global_heterogeneity_test_detects_bias(world):
    persons, _ = world
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=30))
    res = audit_label_bias(persons, area="wijk", label="label", alternative="alt", cfg=cfg)
    assert res.summary["p_intensity_heterogeneity"] < 1e-6
    assert res.summary["intensity_dispersion_ratio"] > 2


@pytest.mark.parametrize("binary", [False, True])
def test_sparse_areas_with_no_events_are_not_called_under_registered(binary):
    # 300 areas of 40 persons at a 1% rate: most areas have no event at all
    rng = np.random.default_rng(4)
    n = 300 * 40
    p = np.full(n, 0.01)
    df = pd.DataFrame({"a": np.repeat([f"A{i:03d}" for i in range(300)], 40), "y": (rng.random(n) < p).astype(int)})
    df["alt"] = (rng.random(n) < p).astype(int) if binary else p
    res = audit_label_bias(
        df, area="a", label="y", alternative="alt", cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=30))
    )
    assert res.summary["n_areas_under_registered"] == 0
    assert res.summary["n_areas_over_registered"] <= 1
    zero = res.areas[res.areas["rate_observed"] == 0]
    assert len(zero) > 100
    # exact intervals stay wide at zero events (NaN = no event under either label: undefined)
    assert (zero["registration_intensity_hi"].fillna(np.inf) > 1).all()
    assert (zero["status_observed"] != "lower").all()


def test_label_bias_table_is_area_level_sorted_by_code_and_respects_min_cell(world):
    persons, _ = world
    small = persons.copy()
    small.loc[small.index[:5], "wijk"] = "WK99999999"  # an area of 5 persons
    res = audit_label_bias(
        small, area="wijk", label="label", alternative="alt", cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=30))
    )
    assert "WK99999999" not in set(res.areas["area_code"])
    assert res.summary["n_areas_too_few"] == 1
    assert res.areas["area_code"].is_monotonic_increasing
    assert (res.areas["n_persons"] >= 10).all()


def test_intensity_adjusted_label_keeps_national_rate_and_removes_known_bias(world):
    persons, truth = world
    intensity = truth.set_index("area_code")["enforcement"]
    adj = build_intensity_adjusted_label(persons, area="wijk", label="label", intensity=intensity)
    assert adj.sum() == pytest.approx(persons["label"].sum())
    res = audit_label_bias(
        persons.assign(adj=adj.to_numpy()),
        area="wijk",
        label="adj",
        alternative="alt",
        cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=60)),
    )
    assert res.summary["n_areas_over_registered"] <= 1


def test_intensity_adjusted_label_rejects_unknown_areas():
    df = pd.DataFrame({"a": ["x", "q"], "y": [1, 0]})
    with pytest.raises(InputError, match="no registration intensity"):
        build_intensity_adjusted_label(df, area="a", label="y", intensity=pd.Series({"x": 1.0}))


def test_ranking_identical_areas_none_elevated_and_naive_list_all_wrong():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": np.repeat([f"A{i:02d}" for i in range(20)], 300), "r": rng.beta(2, 30, 6000)})
    res = audit_ranking(
        df,
        area="a",
        value="r",
        cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=200), stigmatisation=StigmatisationConfig(top_n=5)),
    )
    s = res.summary
    assert s["n_areas"] == 20
    assert s["n_areas_elevated"] <= 1  # at most a chance finding
    assert s["naive_list_length"] == 5
    assert s["n_areas_naive_list_not_elevated"] >= 4
    assert s["median_rank_interval_width"] > 5  # ranks of equal areas are pure noise


def test_ranking_elevated_only_when_interval_excludes_national():
    rng = np.random.default_rng(2)
    base = rng.beta(2, 30, 4000)
    df = pd.DataFrame({"a": np.repeat(["A", "B", "C", "D"], 1000), "r": base})
    df.loc[df["a"] == "D", "r"] *= 2.0
    res = audit_ranking(
        df,
        area="a",
        value="r",
        cfg=EvaluationConfig(bootstrap=BootstrapConfig(reps=100), stigmatisation=StigmatisationConfig(top_n=2)),
    )
    status = res.areas.set_index("area_code")["status"]
    assert status["D"] == "elevated"
    assert (status.drop("D") != "elevated").all()
    assert res.summary["n_areas_naive_list_not_elevated"] == 1  # the second place is noise
    assert res.areas["area_code"].is_monotonic_increasing  # never ordered by risk


def test_proxy_test_separates_proxy_from_unrelated_composition(world):
    persons, _ = world
    cfg = EvaluationConfig(bootstrap=BootstrapConfig(reps=60))
    origin = aggregate_area_composition(persons, area="wijk", attributes=["migration_group"])
    rng = np.random.default_rng(0)
    noise = pd.DataFrame({"share_noise": rng.random(origin.shape[0])}, index=origin.index)
    res = audit_proxy(
        persons,
        area="wijk",
        score="score",
        composition={"origin groups": origin, "noise": noise},
        features=["ind_x1", "ind_x2"],
        cfg=cfg,
    )
    r2_origin, lo, _ = res.r2("origin groups")
    r2_noise, _, _ = res.r2("noise")
    assert r2_origin > 0.3 and lo > 0.1  # origin shares track deprivation, which drives risk
    assert r2_noise < r2_origin
    table = res.table.set_index("predictors")
    assert table.loc["composition beyond features", "r2"] == pytest.approx(
        table.loc["composition and features", "r2"] - table.loc["model features", "r2"]
    )
    assert res.n_areas == 30


def test_proxy_r2_of_a_perfect_predictor_is_one(fast_cfg):
    rng = np.random.default_rng(3)
    share = rng.random(25)
    df = pd.DataFrame({"a": np.repeat([f"A{i}" for i in range(25)], 20), "s": np.repeat(0.01 + 0.1 * share, 20)})
    comp = pd.DataFrame({"share_x": share}, index=[f"A{i}" for i in range(25)])
    res = audit_proxy(df, area="a", score="s", composition={"x": comp}, features=[], cfg=fast_cfg)
    assert res.r2("x")[0] == pytest.approx(1.0)


def test_proxy_test_needs_areas(fast_cfg):
    df = pd.DataFrame({"a": ["x"] * 20, "s": 0.1})
    with pytest.raises(InputError, match="too few areas"):
        audit_proxy(
            df,
            area="a",
            score="s",
            composition={"c": pd.DataFrame({"v": [0.5]}, index=["x"])},
            features=[],
            cfg=fast_cfg,
        )


def test_composition_from_real_geography():
    comp = composition_from_geography(load_geography().areas, "gemeente")
    assert len(comp) > 300
    assert comp.index[0].startswith("GM")
    assert comp.to_numpy().min() >= 0 and comp.to_numpy().max() <= 1


@pytest.mark.parametrize(
    ("tables", "html"),
    [
        ({"t": pd.DataFrame({"area_code": ["a"], "rank": [1]})}, {}),
        ({"t": pd.DataFrame({"area_code": ["a"], "risk_rang": [1]})}, {}),
        ({"t": pd.DataFrame({"area_code": list("abcdef"), "risk_mean": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]})}, {}),
        ({}, {"r": "<table><tr><th>Rank</th><th>wijk</th></tr></table>"}),
        ({}, {"r": "<h2>Top 10 buurten met hoogste risico</h2>"}),
        ({}, {"r": "<h3>De slechtste wijken</h3>"}),
        ({}, {"r": "<caption>10 highest areas</caption>"}),
        ({}, {"r": "<ol><li>BU03630001 12%</li><li>BU03630002 11%</li></ol>"}),
    ],
)
def test_league_table_check_finds_league_tables(tables, html):
    assert audit_league_tables(tables=tables, html=html)


def test_league_table_check_passes_clean_outputs():
    tables = {
        "areas": pd.DataFrame({"area_code": list("abcdef"), "risk_mean": [0.1, 0.5, 0.2, 0.3, 0.6, 0.4]}),
        "shap": pd.DataFrame({"feature": ["x", "y"], "mean_abs_shap": [0.5, 0.1]}),  # features, not areas
    }
    html = {"r": "<h2>Uncertainty of area positions</h2><p>A naive top 10 list would mislabel 3 areas.</p>"}
    assert audit_league_tables(tables=tables, html=html) == []


def test_false_discovery_against_the_cut_and_against_the_null_hand_computed():
    """Four flagged areas: one over-policed, two elevated below the cut (like aggregated
    gemeenten), one at the reference: 3 false against the cut, 1 against the audit's null."""
    from evaluation.stigmatisation import LabelBiasResult

    areas = pd.DataFrame(
        {
            "area_code": list("abcdefg"),
            "registration_intensity": [2.0, 1.2, 1.2, 1.0, 1.0, 0.9, 1.1],
            "registration": ["over", "over", "over", "over", "within", "within", "within"],
        }
    )
    truth = pd.DataFrame(
        {
            "area_code": list("abcdefg"),
            "over_policed": [True, False, False, False, False, False, False],
            "enforcement": [1.6, 1.2, 1.15, 1.0, 1.0, 0.95, 1.05],  # median of the not over-policed: 1.025
        }
    )
    cmp = compare_with_truth(LabelBiasResult(areas=areas, summary={}), truth)
    assert cmp["false_discovery"] == 3 / 4
    assert cmp["n_areas_flagged_not_elevated"] == 1  # only "d" (1.0 <= 1.025)
    assert cmp["false_discovery_null"] == 1 / 4
