"""Configuration of the evaluation stage (frozen, typed; defaults mirrored in conf/default.toml).

Every tunable of the audits lives here. :class:`EvaluationConfig` holds the rules every audit
shares (the interval level, the minimum cell size below which a group is reported as "too few",
the figure resolution) and one section per concept: ``bootstrap``, ``fairness`` (groups and
tolerance band), ``calibration`` (curve bins), ``stigmatisation`` (area audits, with ``proxy``
and ``intensity``), ``shap``, ``gate`` (the thresholds of the promotion gate that training
consumes) and ``model_card``. :data:`RENAMED` maps the keys of the former flat layout to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from aanwas.common.config import require

#: Metrics the fairness audit can compute per group (names used in tables, JSON and gates).
FAIRNESS_METRICS = ("selection_rate", "fpr", "fnr", "ppv", "auc", "calibration")
AREA_LEVELS = ("buurt", "wijk", "gemeente")


def _default_proxy_blocks() -> Mapping[str, str]:
    # Composition blocks of the proxy test: block name -> person attribute whose area shares
    # describe the area.
    return MappingProxyType({"origin groups": "migration_group", "income": "income_group"})


def _default_attribute_columns() -> Mapping[str, str]:
    # Audit attributes that are read from another column of the scored rows.
    return MappingProxyType({"single_parent": "ind_single_parent"})


def _default_references() -> Mapping[str, str]:
    # Reference group per audit attribute; attributes not listed use their largest group.
    return MappingProxyType({"migration_group": "nederland"})


@dataclasses.dataclass(frozen=True)
class ModelCardConfig:
    """Organisational text of the model card (Dutch algorithm register fields).

    The defaults describe the intended deployment; an organisation that runs the tool replaces
    them with its own legal basis, contact and oversight arrangements.
    """

    organisation: str = "Gemeente / CBS (to be filled in by the deploying organisation)"
    contact: str = "Functionaris gegevensbescherming of the deploying organisation"
    legal_basis: str = (
        "Analysis of pseudonymised microdata inside the CBS secure environment under the Wet op "
        "het Centraal bureau voor de statistiek (art. 41, remote access for research); the "
        "municipality's task for youth prevention under the Jeugdwet and the Gemeentewet. Only "
        "area aggregates that passed CBS output control leave the environment."
    )
    human_oversight: str = (
        "Results are area aggregates for prevention planning; no individual is scored for "
        "decisions. Two analysts check every analysis (four-eyes principle), domain experts "
        "validate it, an ethics reviewer reads this report for every model version, and CBS "
        "output control checks every export before publication."
    )
    risk_management: str = (
        "Promotion gate on fairness and stigmatisation audits; minimum cell size and secondary "
        "suppression on exports; no league tables; areas called elevated only when the "
        "uncertainty interval excludes the national level; yearly re-evaluation and drift "
        "monitoring; a documented label-bias sensitivity analysis."
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            require(bool(getattr(self, f.name).strip()), f"evaluation.model_card.{f.name}", "must not be empty")


@dataclasses.dataclass(frozen=True)
class BootstrapConfig:
    """The percentile bootstrap behind every evaluation interval (rows resampled with replacement).

    Attributes
    ----------
    reps : int
        Bootstrap replicates for every interval.
    seed : int
        Seed of the bootstrap (and of the SHAP row sample); same seed and data give the same
        intervals.
    max_cells : int
        Memory cap: replicates are drawn in chunks of at most this many weight cells.
    """

    reps: int = 400
    seed: int = 20240101
    max_cells: int = 4_000_000

    def __post_init__(self) -> None:
        p = "evaluation.bootstrap."
        require(20 <= self.reps <= 100_000, p + "reps", "must be 20..100000")
        require(self.seed >= 0, p + "seed", "must be >= 0")
        require(self.max_cells >= 1_000, p + "max_cells", "must be >= 1000")


@dataclasses.dataclass(frozen=True)
class FairnessConfig:
    """The model fairness audit: which groups, compared with what, within which band.

    Attributes
    ----------
    attributes : tuple of str
        Attributes the audit groups by (audit-only columns included).
    attribute_columns : mapping
        Audit attribute -> the column it is read from when the rows lack the attribute itself
        (single-parent household is the feature ``ind_single_parent``).
    max_intersection_order : int
        Intersections of up to this many attributes are audited too (1 = none).
    reference : {"overall", "largest", "configured"}
        What a group's rate is compared with in disparity ratios (selection rate, FPR, FNR, PPV)
        and AUC differences: ``overall`` (default) the rate of the whole band, ``largest`` the
        attribute's largest group, ``configured`` the value in ``fairness.reference_groups`` (falling back
        to the largest group when absent or too few). Never a small group: a ratio to a group
        with few events is noise (a ratio of 42.7 with interval 16-141 says nothing).
    reference_groups : mapping
        Reference value per attribute when ``reference = "configured"``.
    tolerance_low, tolerance_high : float
        Tolerance band for disparity ratios (and for observed/expected calibration).
    auc_gap_max : float
        Largest acceptable absolute AUC difference to the reference group.
    priority_metrics : tuple of str
        Metrics that matter most for preventive use; highlighted in reports.
    """

    attributes: tuple[str, ...] = ("sex", "migration_group", "income_group", "single_parent")
    attribute_columns: Mapping[str, str] = dataclasses.field(default_factory=_default_attribute_columns)
    max_intersection_order: int = 2
    reference: Literal["overall", "largest", "configured"] = "overall"
    reference_groups: Mapping[str, str] = dataclasses.field(default_factory=_default_references)
    tolerance_low: float = 0.8
    tolerance_high: float = 1.25
    auc_gap_max: float = 0.05
    priority_metrics: tuple[str, ...] = ("fnr", "calibration", "selection_rate")

    def __post_init__(self) -> None:
        p = "evaluation.fairness."
        require(len(self.attributes) > 0, p + "attributes", "must name at least one attribute")
        require(len(set(self.attributes)) == len(self.attributes), p + "attributes", "has duplicates")
        require(1 <= self.max_intersection_order <= 4, p + "max_intersection_order", "must be 1..4")
        require(
            self.reference in ("overall", "largest", "configured"),
            p + "reference",
            "must be 'overall', 'largest' or 'configured'",
        )
        require(0.0 < self.tolerance_low < 1.0, p + "tolerance_low", "must be in (0, 1)")
        require(self.tolerance_high > 1.0, p + "tolerance_high", "must be > 1")
        require(0.0 < self.auc_gap_max < 0.5, p + "auc_gap_max", "must be in (0, 0.5)")
        _require_metrics(self.priority_metrics, p + "priority_metrics")


@dataclasses.dataclass(frozen=True)
class CalibrationCurveConfig:
    """The calibration curve and the expected calibration error of the performance audit.

    Both are copies of ``definitions.calibration_bins`` and ``definitions.calibration_strategy``
    (set those; :mod:`aanwas.config`), which training's registered ECE uses too.

    Attributes
    ----------
    bins : int
        Bins of the calibration curve and the expected calibration error.
    strategy : {"quantile", "uniform"}
        How calibration bins are cut.
    """

    bins: int = 10
    strategy: Literal["quantile", "uniform"] = "quantile"

    def __post_init__(self) -> None:
        require(2 <= self.bins <= 100, "evaluation.calibration.bins", "must be 2..100")


@dataclasses.dataclass(frozen=True)
class ProxyConfig:
    """The proxy test: how much of the between-area variance in predicted risk area composition
    explains.

    Attributes
    ----------
    blocks : mapping
        Composition blocks: name -> person attribute aggregated to area shares.
    gate_block : str
        The block the gate judges (origin groups: a protected attribute; income is expected to
        explain risk and is reported for contrast).
    min_areas : int
        Fewest areas for the proxy gate to judge (R^2 of few areas is near 1 by construction).
    """

    blocks: Mapping[str, str] = dataclasses.field(default_factory=_default_proxy_blocks)
    gate_block: str = "origin groups"
    min_areas: int = 20

    def __post_init__(self) -> None:
        p = "evaluation.stigmatisation.proxy."
        require(len(self.blocks) > 0, p + "blocks", "must name at least one block")
        require(self.gate_block in self.blocks, p + "gate_block", "must be one of blocks")
        require(3 <= self.min_areas <= 100_000, p + "min_areas", "must be 3..100000")


@dataclasses.dataclass(frozen=True)
class IntensityConfig:
    """The registration-intensity audit: where registrations exceed what model risk expects.

    Attributes
    ----------
    risk_bins : int
        Quantile bins of model risk (per age band and reference date) in which the model-expected
        registrations are calibrated.
    power_ratio : float
        The audit reports, per area, its power to detect this true relative intensity (2 =
        registered twice as intensely as the reference areas: the over-policing of the synthetic
        world), and how many areas reach ``power_target``.
    power_target : float
        Power at which an area counts as "has the data to see" that intensity.
    power_strata : tuple of float
        Cut points of the power strata in which, on synthetic data, sensitivity and false
        discovery are reported against the truth.
    """

    risk_bins: int = 20
    power_ratio: float = 2.0
    power_target: float = 0.8
    power_strata: tuple[float, ...] = (0.2, 0.5, 0.8)

    def __post_init__(self) -> None:
        p = "evaluation.stigmatisation.intensity."
        require(2 <= self.risk_bins <= 1_000, p + "risk_bins", "must be 2..1000")
        require(self.power_ratio > 1.0, p + "power_ratio", "must be > 1")
        require(0.0 < self.power_target < 1.0, p + "power_target", "must be in (0, 1)")
        cuts = self.power_strata
        require(
            all(0.0 < c < 1.0 for c in cuts) and list(cuts) == sorted(set(cuts)),
            p + "power_strata",
            "must be increasing cut points in (0, 1)",
        )


@dataclasses.dataclass(frozen=True)
class StigmatisationConfig:
    """The area audits: proxy test, registration intensity and the ranking (league-table) audit.

    Attributes
    ----------
    area_levels : tuple of str
        Area levels of the stigmatisation audits.
    top_n : int
        Length of the naive "top N" list whose mislabelling the ranking audit counts.
    proxy : ProxyConfig
    intensity : IntensityConfig
    """

    area_levels: tuple[str, ...] = ("wijk", "gemeente")
    top_n: int = 10
    proxy: ProxyConfig = dataclasses.field(default_factory=ProxyConfig)
    intensity: IntensityConfig = dataclasses.field(default_factory=IntensityConfig)

    def __post_init__(self) -> None:
        p = "evaluation.stigmatisation."
        require(len(self.area_levels) > 0, p + "area_levels", "must name at least one level")
        for lv in self.area_levels:
            require(lv in AREA_LEVELS, p + "area_levels", f"unknown level {lv!r} (known: {list(AREA_LEVELS)})")
        require(1 <= self.top_n <= 1_000, p + "top_n", "must be 1..1000")


@dataclasses.dataclass(frozen=True)
class ShapConfig:
    """SHAP explanations per band.

    Attributes
    ----------
    max_rows : int
        Rows (sampled, seeded) explained by SHAP per band.
    bins : int
        Target number of bins of a dependence summary (merged until each passes min cell size).
    dependence_features : int
        Dependence summaries for this many most important features.
    """

    max_rows: int = 20_000
    bins: int = 10
    dependence_features: int = 8

    def __post_init__(self) -> None:
        p = "evaluation.shap."
        require(100 <= self.max_rows <= 10_000_000, p + "max_rows", "must be 100..10000000")
        require(2 <= self.bins <= 100, p + "bins", "must be 2..100")
        require(1 <= self.dependence_features <= 100, p + "dependence_features", "must be 1..100")


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """The promotion gate that training consumes: what rejects a model.

    Attributes
    ----------
    attributes : tuple of str
        Protected attributes whose groups (and intersections of protected attributes only) the
        gate judges; default migration background and sex. Every other audit attribute (income
        group, single-parent household) and every intersection with one is descriptive:
        reported with its interval, never a reason to reject. Each must be one of
        ``evaluation.fairness.attributes``.
    fairness_metrics : tuple of str
        Metrics whose significant departure from the tolerance band fails the gate. Default:
        calibration within groups only. aanwas publishes area aggregates of calibrated risk,
        never decisions about persons, so what must hold across groups is that the risk means
        the same in every group (otherwise area aggregates are biased where a group lives).
        Error-rate parity (FNR, FPR) is reported with verdicts but cannot gate: with different
        base rates it cannot hold together with calibration, and no individual decision rests
        on the threshold.
    alpha : float
        Family-wise error rate of the fairness gate: the largest chance that a model calibrated
        in every protected group is rejected (Holm's correction over the band's gating checks).
        A decision level, separate from ``evaluation.alpha`` (the level of the intervals shown,
        set by ``definitions.interval_level``); docs/dev/settings.md.
    max_outside : int
        Number of failing fairness checks tolerated. A check fails when its test of "the metric
        lies within the tolerance band" is rejected after Holm's correction over every gating
        check of the band (family-wise error rate at ``alpha``; see docs/dev/evaluation.md).
        Calibration is tested exactly (Poisson, observed events against the sum of predicted
        risks, Garwood interval); other metrics by inverting their percentile bootstrap interval.
    proxy_r2_max : float
        Gate fails when the lower bound of the share of between-area variance in predicted risk
        explained by area composition exceeds this.
    max_bias_elevated_share : float
        Gate fails when more than this share of the areas the observed label calls elevated are
        elevated only under the observed label (registration intensity, not risk).
    bias_min_elevated : int
        The label-bias rule is judged only when at least this many areas are called elevated.
    allow_league_tables : bool
        Whether league-table findings are tolerated (never by default).
    """

    attributes: tuple[str, ...] = ("migration_group", "sex")
    fairness_metrics: tuple[str, ...] = ("calibration",)
    alpha: float = 0.05
    max_outside: int = 0
    proxy_r2_max: float = 0.5
    max_bias_elevated_share: float = 0.25
    bias_min_elevated: int = 5
    allow_league_tables: bool = False

    def __post_init__(self) -> None:
        p = "evaluation.gate."
        _require_metrics(self.fairness_metrics, p + "fairness_metrics")
        require(0.0 < self.alpha < 0.5, p + "alpha", "must be in (0, 0.5)")
        require(self.max_outside >= 0, p + "max_outside", "must be >= 0")
        require(0.0 < self.proxy_r2_max <= 1.0, p + "proxy_r2_max", "must be in (0, 1]")
        require(0.0 <= self.max_bias_elevated_share <= 1.0, p + "max_bias_elevated_share", "must be in [0, 1]")
        require(self.bias_min_elevated >= 1, p + "bias_min_elevated", "must be >= 1")


def _require_metrics(metrics: tuple[str, ...], key: str) -> None:
    for m in metrics:
        require(m in FAIRNESS_METRICS, key, f"unknown metric {m!r} (known: {list(FAIRNESS_METRICS)})")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the evaluation stage: the rules every audit shares, then one section per audit.

    Attributes
    ----------
    alpha : float
        Two-sided level of the intervals (0.10 gives 90% intervals): bootstrap percentiles,
        exact Poisson intervals and the false-discovery level of the area audits. A copy of
        ``1 - definitions.interval_level`` (set that; :mod:`aanwas.config`).
    min_cell_size : int
        A group, area or bin with fewer persons is reported as "too few", never as a number.
        A copy of ``definitions.min_cell_size`` (set that).
    min_cell_denominators : bool
        Also require the denominator of each rate (positives for FNR, negatives for FPR,
        predicted positives for PPV) to reach ``min_cell_size``.
    figure_dpi : int
        Resolution of the PNG figures embedded in reports.
    bootstrap : BootstrapConfig
        Replicates, seed and memory cap of the bootstrap.
    fairness : FairnessConfig
        Groups, reference and tolerance band of the fairness audit.
    calibration : CalibrationCurveConfig
        Bins of the calibration curve.
    stigmatisation : StigmatisationConfig
        Area levels, proxy test, registration intensity and ranking audit.
    shap : ShapConfig
        SHAP explanations.
    gate : GateConfig
        Thresholds of the promotion gate that training consumes.
    model_card : ModelCardConfig
        Organisational fields of the model card.
    """

    alpha: float = 0.10
    min_cell_size: int = 10
    min_cell_denominators: bool = True
    figure_dpi: int = 96
    bootstrap: BootstrapConfig = dataclasses.field(default_factory=BootstrapConfig)
    fairness: FairnessConfig = dataclasses.field(default_factory=FairnessConfig)
    calibration: CalibrationCurveConfig = dataclasses.field(default_factory=CalibrationCurveConfig)
    stigmatisation: StigmatisationConfig = dataclasses.field(default_factory=StigmatisationConfig)
    shap: ShapConfig = dataclasses.field(default_factory=ShapConfig)
    gate: GateConfig = dataclasses.field(default_factory=GateConfig)
    model_card: ModelCardConfig = dataclasses.field(default_factory=ModelCardConfig)

    def __post_init__(self) -> None:
        p = "evaluation."
        require(0.0 < self.alpha < 0.5, p + "alpha", "must be in (0, 0.5)")
        require(1 <= self.min_cell_size <= 1_000, p + "min_cell_size", "must be 1..1000")
        require(50 <= self.figure_dpi <= 300, p + "figure_dpi", "must be 50..300")
        for a in self.gate.attributes:
            require(a in self.fairness.attributes, p + "gate.attributes", f"{a!r} is not one of fairness.attributes")

    @property
    def interval_text(self) -> str:
        """How intervals are made, for reports."""
        b = self.bootstrap
        return f"{100 * (1 - self.alpha):g}% percentile bootstrap, {b.reps} replicates, seed {b.seed}"

    @property
    def quantiles(self) -> tuple[float, float]:
        """Lower and upper percentile (0-100) of the two-sided interval."""
        return (100.0 * self.alpha / 2.0, 100.0 * (1.0 - self.alpha / 2.0))


#: Keys of the flat layout before the sections (relative to ``evaluation.``) -> their new key.
#: The loader refuses an old key with a one-line error that names the new one.
RENAMED: Mapping[str, str] = MappingProxyType(
    {
        "bootstrap_reps": "bootstrap.reps",
        "seed": "bootstrap.seed",
        "bootstrap_max_cells": "bootstrap.max_cells",
        "audit_attributes": "fairness.attributes",
        "attribute_columns": "fairness.attribute_columns",
        "max_intersection_order": "fairness.max_intersection_order",
        "reference": "fairness.reference",
        "reference_groups": "fairness.reference_groups",
        "tolerance_low": "fairness.tolerance_low",
        "tolerance_high": "fairness.tolerance_high",
        "auc_gap_max": "fairness.auc_gap_max",
        "priority_metrics": "fairness.priority_metrics",
        "calibration_bins": "calibration.bins",
        "calibration_strategy": "calibration.strategy",
        "area_levels": "stigmatisation.area_levels",
        "top_n": "stigmatisation.top_n",
        "proxy_blocks": "stigmatisation.proxy.blocks",
        "proxy_gate_block": "stigmatisation.proxy.gate_block",
        "proxy_min_areas": "stigmatisation.proxy.min_areas",
        "intensity_risk_bins": "stigmatisation.intensity.risk_bins",
        "intensity_power_ratio": "stigmatisation.intensity.power_ratio",
        "intensity_power_target": "stigmatisation.intensity.power_target",
        "intensity_power_strata": "stigmatisation.intensity.power_strata",
        "shap_max_rows": "shap.max_rows",
        "shap_bins": "shap.bins",
        "shap_dependence_features": "shap.dependence_features",
        "gate_attributes": "gate.attributes",
        "gate_fairness_metrics": "gate.fairness_metrics",
        "gate_alpha": "gate.alpha",
        "gate_max_outside": "gate.max_outside",
        "gate_proxy_r2_max": "gate.proxy_r2_max",
        "gate_max_bias_elevated_share": "gate.max_bias_elevated_share",
        "gate_bias_min_elevated": "gate.bias_min_elevated",
        "gate_allow_league_tables": "gate.allow_league_tables",
    }
)
