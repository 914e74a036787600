"""End to end on a small fabricated table: the family rule's choice is the model that is
registered, gated, explained and reported, and the export stage loads and scores either family."""

from __future__ import annotations

import io

import mlflow
import numpy as np
import pytest
from fabricated_features import fabricate_audit, fabricate_feature_table
from rich.console import Console
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from aanwas.stages.evaluate import build_gate_check, run_report
from aanwas.stages.steps import registry_bundle
from aanwas.stages.train import train_and_track
from evaluation.explain import LINEAR_SCALE, TREE_SCALE, _unwrap
from evaluation.review_pack import visible_text_problems
from models import LightGBMRiskClassifier, score_frame
from training.registry import CHALLENGER, CHAMPION, load_registered

BAND = "13-19"
SETTINGS = (
    f'training.bands=["{BAND}"]',
    "training.tuning.enabled=false",
    "training.mlflow.log_baseline_models=false",
    "evaluation.bootstrap.reps=20",
    'evaluation.stigmatisation.area_levels=["gemeente"]',
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, new_store, make_cfg):  # type: ignore[no-untyped-def]
    """Version 1: a margin no LightGBM can clear (the logistic regression); version 2: a margin
    every LightGBM clears (LightGBM)."""
    root = tmp_path_factory.mktemp("family")
    store = new_store(root / "mlflow")
    table, risk = fabricate_feature_table(2000, seed=5)
    audit = fabricate_audit(table)
    out = {}
    for name, gain in (("simple", 0.5), ("complex", -0.5)):
        cfg = make_cfg(*SETTINGS, f"training.family.min_gain={gain}")
        gate = build_gate_check(cfg, audit)
        # the first run with the fixture's true risk (observable: no hidden trait): the criteria
        truth = {"truth": risk, "reference_risks": {"oracle_observable": risk}} if name == "simple" else {}
        console = Console(file=io.StringIO(), width=200)
        summary = train_and_track(
            cfg, table, tracking_uri=store, gate_check=gate, work=root / "work", console=console, **truth
        )
        out[name] = (cfg, gate, summary, console.file.getvalue())
    return root, store, table, out


def test_the_chosen_family_is_registered_gated_and_explained(trained) -> None:  # type: ignore[no-untyped-def]
    root, store, table, runs = trained
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    for name, version, family, kind, scale in (
        ("simple", "1", "logreg", Pipeline, LINEAR_SCALE),
        ("complex", "2", "lightgbm", LightGBMRiskClassifier, TREE_SCALE),
    ):
        cfg, gate, summary, _ = runs[name]
        band = summary["bands"][BAND]
        assert band["version"] == version and band["family"]["chosen"] == family
        model = _unwrap(load_registered(f"aanwas-{BAND}", version, uri=store))
        assert isinstance(model, kind)
        if family == "logreg":
            assert isinstance(model.steps[-1][1], LogisticRegression)
        # the challenger's AUC in the promotion gate is the chosen model's
        assert band["challenger_auc"] == pytest.approx(band["metrics"][family]["auc"])
        # recorded: version tags, run metrics and tags, the gate verdict
        tags = client.get_model_version(f"aanwas-{BAND}", version).tags
        assert tags["aanwas.family"] == family and tags["aanwas.family_reason"] == band["family"]["reason"]
        run = client.get_run(summary["run_id"]).data
        assert run.metrics[f"family/{BAND}/lightgbm_chosen"] == float(family == "lightgbm")
        assert run.metrics[f"family/{BAND}/auc_diff_lo"] == pytest.approx(band["comparisons"]["logreg"]["auc_diff_lo"])
        assert run.tags[f"{BAND}.aanwas.family"] == family
        assert band["gate"]["model_family"]["chosen"] == family
        logged = mlflow.artifacts.load_dict(f"runs:/{summary['run_id']}/evaluation/{BAND}/gate.json")
        assert logged["model_family"] == band["family"]
        # explained: SHAP summaries of the chosen model, in its own scale
        result = gate.results[BAND]
        assert f"shap_importance/{BAND}" in result.tables and result.summary["shap"][BAND]["scale"] == scale
        assert set(result.tables[f"shap_importance/{BAND}"]["feature"]) <= set(table.columns)
    assert runs["simple"][2]["bands"][BAND]["family"]["reason"].startswith(
        "The logistic regression was chosen because LightGBM was not better by more than 0.5 beyond its 95 % interval"
    )


def test_export_loads_and_scores_either_family(trained) -> None:  # type: ignore[no-untyped-def]
    root, store, table, runs = trained
    cfg = runs["complex"][0]
    rows = table[table["age_band"] == BAND]
    summary = runs["complex"][2]["bands"][BAND]
    champion = "2" if summary["promoted"] else "1"
    for alias, version in ((CHAMPION, champion), (CHALLENGER, "2")):
        bundle = registry_bundle(cfg, root / "work", mlflow_uri=store, alias=alias)
        risk = score_frame(bundle, rows)
        direct = load_registered(f"aanwas-{BAND}", version, uri=store)
        np.testing.assert_allclose(risk.to_numpy(), direct.predict_proba(rows[bundle.features(BAND)])[:, 1])
        assert risk.between(0, 1).all()
    # version 1 is the logistic regression: it scores too
    assert isinstance(_unwrap(load_registered(f"aanwas-{BAND}", "1", uri=store)), Pipeline)


def test_model_card_and_review_pack_say_which_family_won(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, store, table, runs = trained
    cfg, _, summary, _ = runs["simple"]
    run_report(cfg, run_id=summary["run_id"], out=tmp_path / "reports", mlflow_uri=store)
    folder = tmp_path / "reports" / f"aanwas-{BAND}-v1"
    card = (folder / "model_card.md").read_text(encoding="utf-8")
    assert "**model family**: The logistic regression was chosen because LightGBM was not better" in card
    family_line = next(line for line in card.splitlines() if line.startswith("- **model family**"))
    assert visible_text_problems(family_line) == []  # no NaN, raw floats or snake_case for a reader
    pack = (folder / "review_pack.html").read_text(encoding="utf-8")
    assert "The logistic regression was chosen because LightGBM was not better" in pack
    assert "De logistische regressie is gekozen omdat LightGBM niet met meer dan 0,5 beter was" in pack


def test_training_criteria_with_truth_in_summary_output_and_mlflow(trained) -> None:  # type: ignore[no-untyped-def]
    root, store, table, runs = trained
    _, _, summary, printed = runs["simple"]
    band = summary["bands"][BAND]
    crit = band["criteria"]
    assert list(crit) == ["oracle", "flags", "logreg", "ece"]
    lgbm, ref, comp = band["metrics"]["lightgbm"], band["reference_metrics"], band["comparisons"]
    # each value from the band's own metrics, each verdict from its setting
    assert crit["oracle"]["value"] == pytest.approx(ref["oracle_observable_auc"] - lgbm["auc"])
    assert crit["oracle"]["passed"] == (crit["oracle"]["value"] <= 0.01)
    assert crit["flags"]["value"] == pytest.approx(comp["flags"]["auc_diff_lo"])
    assert crit["flags"]["passed"] == (comp["flags"]["auc_diff_lo"] > 0)
    assert crit["logreg"]["passed"] == (comp["logreg"]["auc_diff_lo"] >= -0.01)
    assert crit["ece"]["value"] == pytest.approx(lgbm["ece"] - lgbm["oracle_ece"])
    assert ref["oracle_observable_ece"] == pytest.approx(lgbm["oracle_ece"])  # same risk, same rows, same bins
    metrics = mlflow.MlflowClient(tracking_uri=store).get_run(summary["run_id"]).data.metrics
    for name, c in crit.items():
        assert metrics[f"criteria/{BAND}/{name}/value"] == pytest.approx(c["value"])
        assert metrics[f"criteria/{BAND}/{name}/passed"] == float(c["passed"])
    assert metrics[f"criteria/{BAND}/all_passed"] == float(all(c["passed"] for c in crit.values()))
    assert metrics[f"test/{BAND}/oracle_ece"] == pytest.approx(lgbm["oracle_ece"])
    n_pass = sum(c["passed"] for c in crit.values())
    assert f"criteria {BAND}: {n_pass} of 4 passed" in printed
    assert f"family {BAND}: logistic regression; The logistic regression was chosen" in printed
    # without truth: no criteria
    assert runs["complex"][2]["bands"][BAND]["criteria"] == {} and "criteria " not in runs["complex"][3]
