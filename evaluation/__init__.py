"""Audits of scored rows for ethics reviewers: performance, fairness, stigmatisation, SHAP, reports.

Every audit is a pure function on in-memory frames that returns aggregates only, each number
with a seeded bootstrap interval and every group below the minimum cell size reported as
"too few"; reports are self-contained HTML, and :func:`audit_gates` feeds training's promotion
gate.
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy re-exports (PEP 562): ``aanwas.config`` imports ``evaluation.config`` for every command,
# which must not pull in fairlearn, shap and matplotlib.
_EXPORTS = {
    "fmt_interval": "_numbers",
    "round_interval": "_numbers",
    "EvaluationResult": "_result",
    "from_artifacts": "_result",
    "to_artifacts": "_result",
    "EvaluationConfig": "config",
    "evaluate_model": "evaluate",
    "gate_of": "evaluate",
    "aggregate_shap": "explain",
    "aggregate_shap_values": "explain",
    "FairnessAudit": "fairness",
    "audit_fairness": "fairness",
    "fairness_to_json": "fairness",
    "validate_scored_table": "fairness",
    "GateChecker": "gates",
    "GateVerdict": "gates",
    "audit_gates": "gates",
    "ModelInfo": "modelcard",
    "build_model_card": "modelcard",
    "model_card_document": "modelcard",
    "render_model_card_markdown": "modelcard",
    "PerformanceResult": "performance",
    "audit_performance": "performance",
    "PackIdentity": "review_pack",
    "render_review_pack": "review_pack",
    "render_fairness_html": "report",
    "render_report": "report",
    "aggregate_area_composition": "stigmatisation",
    "audit_label_bias": "stigmatisation",
    "audit_league_tables": "stigmatisation",
    "audit_proxy": "stigmatisation",
    "audit_ranking": "stigmatisation",
    "build_intensity_adjusted_label": "stigmatisation",
    "compare_with_truth": "stigmatisation",
    "composition_from_geography": "stigmatisation",
    "elevated_status": "stigmatisation",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(f"evaluation.{module}"), name)


__all__ = [
    "EvaluationConfig",
    "EvaluationResult",
    "FairnessAudit",
    "GateChecker",
    "GateVerdict",
    "ModelInfo",
    "PackIdentity",
    "PerformanceResult",
    "aggregate_area_composition",
    "aggregate_shap",
    "aggregate_shap_values",
    "audit_fairness",
    "audit_gates",
    "audit_label_bias",
    "audit_league_tables",
    "audit_performance",
    "audit_proxy",
    "audit_ranking",
    "build_intensity_adjusted_label",
    "build_model_card",
    "compare_with_truth",
    "composition_from_geography",
    "elevated_status",
    "evaluate_model",
    "fairness_to_json",
    "fmt_interval",
    "from_artifacts",
    "gate_of",
    "model_card_document",
    "render_fairness_html",
    "render_model_card_markdown",
    "render_report",
    "render_review_pack",
    "round_interval",
    "to_artifacts",
    "validate_scored_table",
]
