"""Promotion gate (pure) and the champion/challenger registry on a local SQLite store."""

from __future__ import annotations

import math

import mlflow
import pandas as pd
import pytest
from fabricated_features import fabricate_feature_table

from aanwas.common.errors import ConfigError, InputError
from aanwas.stages.train import train_and_track
from training.config import PromotionConfig
from training.promotion import decide_promotion
from training.registry import CHALLENGER, CHAMPION, load_bundle

STRONG = '["ind_prior_suspect", "ind_halt_ever", "ind_vsv_ever", "ind_youth_care_ever"]'
ONE_BAND = (
    'training.bands=["13-19"]',
    "training.tuning.enabled=false",
    "training.mlflow.log_baseline_models=false",
    "training.promotion.auc_margin=0.0",
)


@pytest.mark.parametrize(
    ("challenger", "champion", "kwargs", "decision", "promote"),
    [
        (0.70, None, {}, "initial", True),
        (0.745, 0.75, {}, "promoted", True),  # within the margin of 0.01
        (0.76, 0.75, {}, "promoted", True),
        (0.739, 0.75, {}, "rejected", False),  # 0.011 worse
        (0.76, math.nan, {}, "rejected", False),  # champion cannot be scored
        (math.nan, 0.75, {}, "rejected", False),
        (0.76, 0.75, {"gates_passed": False}, "rejected", False),
        (0.76, 0.75, {"gates_passed": True}, "promoted", True),
        (0.70, None, {"gates_passed": False}, "rejected", False),
        (0.70, 0.75, {"override": "promote", "override_reason": "label definition changed"}, "override-promoted", True),
        (0.80, 0.75, {"override": "reject", "override_reason": "fairness review pending"}, "override-rejected", False),
    ],
)
def test_gate_decisions(challenger, champion, kwargs, decision, promote) -> None:  # type: ignore[no-untyped-def]
    d = decide_promotion(challenger, champion, PromotionConfig(auc_margin=0.01), **kwargs)
    assert (d.decision, d.promote) == (decision, promote)
    tags = d.tags()
    assert tags["aanwas.decision"] == decision
    if "override" in kwargs:
        assert tags["aanwas.override_reason"] == kwargs["override_reason"]
        assert d.reason.startswith("reviewer override; gate said:")


def test_required_gates_that_did_not_run_block_promotion() -> None:
    d = decide_promotion(0.8, 0.7, PromotionConfig(require_evaluation_gates=True))
    assert not d.promote and "required but were not run" in d.reason


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_override_needs_a_reason(reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="needs a reason"):
        decide_promotion(0.7, 0.8, PromotionConfig(), override="promote", override_reason=reason)


@pytest.fixture(scope="module")
def store(tmp_path_factory, new_store):  # type: ignore[no-untyped-def]
    return new_store(tmp_path_factory.mktemp("registry") / "mlflow")


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return fabricate_feature_table(3000, seed=31)[0]


def _aliases(uri: str) -> dict[str, str]:
    model = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model("aanwas-13-19")
    return {k: str(v) for k, v in model.aliases.items()}


def _version_tags(uri: str, version: str) -> dict[str, str]:
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("aanwas-13-19", version).tags


def test_promote_reject_override_sequence(store, table, make_cfg, fake_gate_check) -> None:  # type: ignore[no-untyped-def]
    full = make_cfg(*ONE_BAND)
    weak = make_cfg(*ONE_BAND, f"training.exclude_features={STRONG}")

    first = train_and_track(full, table, tracking_uri=store)["bands"]["13-19"]
    assert (first["decision"], first["version"], first["champion_auc"]) == ("initial", "1", None)
    assert _aliases(store) == {CHAMPION: "1", CHALLENGER: "1"}

    # a worse challenger (strong indicators removed) is rejected; the champion stays. The
    # evaluation-gates hook sees the band's newest test rows and the challenger's risk on them.
    calls = []

    def gates(band, rows, risk):  # type: ignore[no-untyped-def]
        calls.append(
            (band, rows["ref_date"].unique().tolist(), risk.index.equals(rows.index), risk.between(0, 1).all())
        )
        return False

    second = train_and_track(weak, table, tracking_uri=store, gate_check=fake_gate_check(gates))["bands"]["13-19"]
    assert second["decision"] == "rejected" and second["version"] == "2"
    assert "more than 0.0 below champion" in second["reason"] and "evaluation gates failed" in second["reason"]
    assert calls == [("13-19", [pd.Timestamp(second["split"]["test_date"])], True, True)]
    assert second["champion_auc"] == pytest.approx(
        first["challenger_auc"]
    )  # champion re-scored on the same newest rows
    assert second["challenger_auc"] < second["champion_auc"]
    assert _aliases(store) == {CHAMPION: "1", CHALLENGER: "2"}
    assert _version_tags(store, "2")["aanwas.decision"] == "rejected"

    # a reviewer overrides the gate: promoted, reason recorded on the version and the run
    third = train_and_track(
        weak, table, tracking_uri=store, override="promote", override_reason="indicator withdrawn by DPO"
    )
    band = third["bands"]["13-19"]
    assert band["decision"] == "override-promoted"
    assert _aliases(store) == {CHAMPION: "3", CHALLENGER: "3"}
    tags = _version_tags(store, "3")
    assert tags["aanwas.override_reason"] == "indicator withdrawn by DPO"
    assert tags["aanwas.gate_passed"] == "false"
    run = mlflow.MlflowClient(tracking_uri=store).get_run(third["run_id"])
    assert run.data.tags["13-19.aanwas.override_reason"] == "indicator withdrawn by DPO"
    assert run.data.metrics["compare/13-19/auc_difference"] < 0

    # the full model is better than the (weak) champion on the newest rows: promoted by the gate
    fourth = train_and_track(full, table, tracking_uri=store)["bands"]["13-19"]
    assert fourth["decision"] == "promoted" and _aliases(store) == {CHAMPION: "4", CHALLENGER: "4"}
    assert _version_tags(store, "1")["aanwas.decision"] == "initial"  # history stays on old versions

    bundle = load_bundle("aanwas", ["13-19"], uri=store)
    assert bundle.versions == {"13-19": "aanwas-13-19/4"}
    with pytest.raises(InputError, match="no 'champion' version of aanwas-8-12"):
        load_bundle("aanwas", ["8-12"], uri=store)


def test_override_without_reason_fails_before_any_run(store, table, make_cfg) -> None:  # type: ignore[no-untyped-def]
    client = mlflow.MlflowClient(tracking_uri=store)
    before = len(client.search_runs(experiment_ids=[e.experiment_id for e in client.search_experiments()]))
    with pytest.raises(ConfigError, match="needs a reason"):
        train_and_track(make_cfg(*ONE_BAND), table, tracking_uri=store, override="promote")
    with pytest.raises(ConfigError, match="'promote' or 'reject'"):
        train_and_track(make_cfg(*ONE_BAND), table, tracking_uri=store, override="maybe", override_reason="x")
    after = len(client.search_runs(experiment_ids=[e.experiment_id for e in client.search_experiments()]))
    assert before == after
