"""A gate rejection explains itself: train records the structured verdict, export without a
champion is one line naming the cause and the next step (exit 2, nothing written), and a
reviewer's ``aanwas promote`` with a recorded reason makes the version champion."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from fabricated_features import fabricate_feature_table
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.common.errors import InputError
from aanwas.stages.steps import missing_champions, registry_bundle
from aanwas.stages.train import train_and_track
from evaluation.gates import Check, GateVerdict

ONE_BAND = (
    'training.bands=["13-19"]',
    "training.tuning.enabled=false",
    "training.mlflow.log_baseline_models=false",
)
FAILING = Check(
    gate="fairness",
    attribute="migration background",
    group="non-European migration background",
    metric="observed / expected",
    estimate=0.53,
    lo=0.31,
    hi=0.77,
    threshold="within 0.8-1.25",
    p_adjusted=0.01,
    outcome="fail",
    explanation="observed / expected 0.53 (95 % interval 0.31-0.77): over-estimates risk",
    attribute_code="migration_group",
    group_code="buiten_europa",
)


def _rejecting_gate(fake_gate_check):  # type: ignore[no-untyped-def]
    verdict = GateVerdict(
        passed=False,
        reasons=["fairness (13-19): non-European migration background: observed / expected 0.53 (0.31-0.77)"],
        checks=[FAILING],
    )
    return fake_gate_check(lambda band, rows, risk: False, {"13-19": verdict})


@pytest.fixture(scope="module")
def rejected(tmp_path_factory, new_store, make_cfg, fake_gate_check):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("rejected")
    store = new_store(root / "mlflow")
    cfg = make_cfg(*ONE_BAND)
    table = fabricate_feature_table(2000, seed=5)[0]
    summary = train_and_track(
        cfg, table, tracking_uri=store, gate_check=_rejecting_gate(fake_gate_check), work=root / "work"
    )
    return root, store, cfg, summary


def test_train_records_the_structured_verdict(rejected):  # type: ignore[no-untyped-def]
    root, store, cfg, summary = rejected
    band = summary["bands"]["13-19"]
    assert band["decision"] == "rejected" and not band["promoted"]
    assert "non-European migration background" in band["reason"]  # the gate's reason reaches the registry
    gate = band["gate"]
    assert gate["passed"] is False and [c["gate"] for c in gate["checks"]] == ["fairness", "performance"]
    assert f"aanwas promote --work {root / 'work'} --band 13-19 --version 1" in gate["next_step"]
    logged = mlflow.artifacts.load_dict(f"runs:/{summary['run_id']}/evaluation/13-19/gate.json")
    assert logged == gate


def test_export_without_champion_is_one_line_exit_2_nothing_written(rejected, tmp_path):  # type: ignore[no-untyped-def]
    root, store, cfg, _ = rejected
    out = tmp_path / "exports"
    args = ["export", "--work", str(root / "work"), "--out", str(out), "--mlflow-uri", store]
    sets = [x for s in ONE_BAND for x in ("--set", s)]
    result = CliRunner().invoke(app, [*args, *sets])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("aanwas: error: no champion of aanwas-13-19: its gate rejected version 1 (")
    assert "non-European migration background" in line and "aanwas promote" in line and "retrain" in line
    assert not out.exists()
    assert set(missing_champions(cfg, root / "work", mlflow_uri=store)) == {"13-19"}


def test_reviewer_promotes_with_a_recorded_reason(rejected, tmp_path, new_store):  # type: ignore[no-untyped-def]
    root, store, cfg, summary = rejected
    # the process-wide tracking URI points at another store: promote must work on --mlflow-uri
    # alone (it once read the gate verdict through the global URI and silently skipped it)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(new_store(tmp_path / "elsewhere"))
    try:
        _promote_and_check(root, store, cfg, summary)
    finally:
        mlflow.set_tracking_uri(before)


def _promote_and_check(root, store, cfg, summary):  # type: ignore[no-untyped-def]
    sets = [x for s in ONE_BAND for x in ("--set", s)]
    base = ["promote", "--work", str(root / "work"), "--band", "13-19", "--version", "1", "--mlflow-uri", store]
    no_reason = CliRunner().invoke(app, [*base, "--reason", "  ", *sets])
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.output
    with pytest.raises(InputError):
        registry_bundle(cfg, root / "work", mlflow_uri=store)
    ok = CliRunner().invoke(app, [*base, "--reason", "group too small to act on; reviewed", "--by", "ethics", *sets])
    assert ok.exit_code == 0, ok.output
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    mv = client.get_model_version_by_alias("aanwas-13-19", "champion")
    assert str(mv.version) == "1"
    assert mv.tags["aanwas.decision"] == "override-promoted"
    assert mv.tags["aanwas.override_reason"] == "group too small to act on; reviewed"
    assert mv.tags["aanwas.override_by"] == "ethics" and mv.tags["aanwas.gate_passed"] == "false"
    assert "and in evaluation/13-19/gate.json" in ok.output
    local = client.download_artifacts(summary["run_id"], "evaluation/13-19/gate.json", str(root))
    gate = json.loads(Path(local).read_text("utf-8"))
    assert gate["override"] == {"reason": "group too small to act on; reviewed", "by": "ethics"}
    assert gate["passed"] is False  # the gate's own verdict is kept
    assert registry_bundle(cfg, root / "work", mlflow_uri=store).versions == {"13-19": "aanwas-13-19/1"}
