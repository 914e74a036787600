"""Configuration of the evaluation stage (frozen, typed; defaults mirrored in conf/default.toml).

Every tunable of the audits lives here: bootstrap size and seed, the significance level, the
minimum cell size below which a group is reported as "too few", the fairness tolerance band,
and the thresholds of the promotion gate that training consumes.
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
class EvaluationConfig:
    """Settings of the evaluation stage.

    Attributes
    ----------
    bootstrap_reps : int
        Bootstrap replicates for every interval (rows resampled with replacement).
    seed : int
        Seed of the bootstrap; same seed and data give the same intervals.
    alpha : float
        Two-sided level of the intervals (0.10 gives 90% intervals). A copy of
        ``1 - definitions.interval_level`` (set that; :mod:`aanwas.config`).
    bootstrap_max_cells : int
        Memory cap: replicates are drawn in chunks of at most this many weight cells.
    min_cell_size : int
        A group, area or bin with fewer persons is reported as "too few", never as a number.
        A copy of ``definitions.min_cell_size`` (set that).
    min_cell_denominators : bool
        Also require the denominator of each rate (positives for FNR, negatives for FPR,
        predicted positives for PPV) to reach ``min_cell_size``.
    audit_attributes : tuple of str
        Attributes the model fairness audit groups by (audit-only columns included).
    attribute_columns : mapping
        Audit attribute -> the column it is read from when the rows lack the attribute itself
        (single-parent household is the feature ``ind_single_parent``).
    max_intersection_order : int
        Intersections of up to this many attributes are audited too (1 = none).
    reference : {"overall", "largest", "configured"}
        What a group's rate is compared with in disparity ratios (selection rate, FPR, FNR, PPV)
        and AUC differences: ``overall`` (default) the rate of the whole band, ``largest`` the
        attribute's largest group, ``configured`` the value in ``reference_groups`` (falling back
        to the largest group when absent or too few). Never a small group: a ratio to a group
        with few events is noise (a ratio of 42.7 with interval 16-141 says nothing).
    reference_groups : mapping
        Reference value per attribute when ``reference = "configured"``.
    tolerance_low, tolerance_high : float
        Tolerance band for disparity ratios (and for observed/expected calibration).
    auc_gap_max : float
        Largest acceptable absolute AUC difference to the reference group.
    calibration_bins : int
        Bins of the calibration curve and the expected calibration error.
    calibration_strategy : {"quantile", "uniform"}
        How calibration bins are cut.
    priority_metrics : tuple of str
        Metrics that matter most for preventive use; highlighted in reports.
    area_levels : tuple of str
        Area levels of the stigmatisation audits.
    proxy_blocks : mapping
        Proxy test composition blocks: name -> person attribute aggregated to area shares.
    proxy_min_areas : int
        Fewest areas for the proxy gate to judge (R^2 of few areas is near 1 by construction).
    proxy_gate_block : str
        The block the gate judges (origin groups: a protected attribute; income is expected to
        explain risk and is reported for contrast).
    intensity_risk_bins : int
        Quantile bins of model risk (per age band and reference date) in which the model-expected
        registrations of the registration-intensity audit are calibrated.
    intensity_power_ratio : float
        The registration-intensity audit reports, per area, its power to detect this true
        relative intensity (2 = registered twice as intensely as the reference areas: the
        over-policing of the synthetic world), and how many areas reach ``intensity_power_target``.
    intensity_power_target : float
        Power at which an area counts as "has the data to see" that intensity.
    intensity_power_strata : tuple of float
        Cut points of the power strata in which, on synthetic data, sensitivity and false
        discovery are reported against the truth.
    top_n : int
        Length of the naive "top N" list whose mislabelling the ranking audit counts.
    shap_max_rows : int
        Rows (sampled, seeded) explained by SHAP per band.
    shap_bins : int
        Target number of bins of a dependence summary (merged until each passes min cell size).
    shap_dependence_features : int
        Dependence summaries for this many most important features.
    figure_dpi : int
        Resolution of the PNG figures embedded in reports.
    gate_attributes : tuple of str
        Protected attributes whose groups (and intersections of protected attributes only) the
        promotion gate judges; default migration background and sex. Every other audit
        attribute (income group, single-parent household) and every intersection with one is
        descriptive: reported with its interval, never a reason to reject.
    gate_fairness_metrics : tuple of str
        Metrics whose significant departure from the tolerance band fails the promotion gate.
        Default: calibration within groups only. aanwas publishes area aggregates of calibrated
        risk, never decisions about persons, so what must hold across groups is that the risk
        means the same in every group (otherwise area aggregates are biased where a group
        lives). Error-rate parity (FNR, FPR) is reported with verdicts but cannot gate: with
        different base rates it cannot hold together with calibration, and no individual
        decision rests on the threshold.
    gate_alpha : float
        Family-wise error rate of the fairness gate: the largest chance that a model calibrated
        in every protected group is rejected (Holm's correction over the band's gating checks).
        Separate from ``alpha`` (the level of the intervals shown): a rejection is a decision.
    gate_max_outside : int
        Number of failing fairness checks tolerated. A check fails when its test of "the metric
        lies within the tolerance band" is rejected after Holm's correction over every gating
        check of the band (family-wise error rate at ``gate_alpha``; see
        docs/dev/evaluation.md). Calibration is tested exactly (Poisson, observed events against the
        sum of predicted risks, Garwood interval); other metrics by inverting their percentile
        bootstrap interval.
    gate_proxy_r2_max : float
        Gate fails when the lower bound of the share of between-area variance in predicted risk
        explained by area composition exceeds this.
    gate_max_bias_elevated_share : float
        Gate fails when more than this share of the areas the observed label calls elevated are
        elevated only under the observed label (registration intensity, not risk).
    gate_bias_min_elevated : int
        The label-bias rule is judged only when at least this many areas are called elevated.
    gate_allow_league_tables : bool
        Whether league-table findings are tolerated (never by default).
    model_card : ModelCardConfig
        Organisational fields of the model card.
    """

    bootstrap_reps: int = 400
    seed: int = 20240101
    alpha: float = 0.10
    bootstrap_max_cells: int = 4_000_000
    min_cell_size: int = 10
    min_cell_denominators: bool = True
    audit_attributes: tuple[str, ...] = ("sex", "migration_group", "income_group", "single_parent")
    attribute_columns: Mapping[str, str] = dataclasses.field(default_factory=_default_attribute_columns)
    max_intersection_order: int = 2
    reference: Literal["overall", "largest", "configured"] = "overall"
    reference_groups: Mapping[str, str] = dataclasses.field(default_factory=_default_references)
    tolerance_low: float = 0.8
    tolerance_high: float = 1.25
    auc_gap_max: float = 0.05
    calibration_bins: int = 10
    calibration_strategy: Literal["quantile", "uniform"] = "quantile"
    priority_metrics: tuple[str, ...] = ("fnr", "calibration", "selection_rate")
    area_levels: tuple[str, ...] = ("wijk", "gemeente")
    proxy_blocks: Mapping[str, str] = dataclasses.field(default_factory=_default_proxy_blocks)
    proxy_gate_block: str = "origin groups"
    proxy_min_areas: int = 20
    intensity_risk_bins: int = 20
    intensity_power_ratio: float = 2.0
    intensity_power_target: float = 0.8
    intensity_power_strata: tuple[float, ...] = (0.2, 0.5, 0.8)
    top_n: int = 10
    shap_max_rows: int = 20_000
    shap_bins: int = 10
    shap_dependence_features: int = 8
    figure_dpi: int = 96
    gate_attributes: tuple[str, ...] = ("migration_group", "sex")
    gate_fairness_metrics: tuple[str, ...] = ("calibration",)
    gate_alpha: float = 0.05
    gate_max_outside: int = 0
    gate_proxy_r2_max: float = 0.5
    gate_max_bias_elevated_share: float = 0.25
    gate_bias_min_elevated: int = 5
    gate_allow_league_tables: bool = False
    model_card: ModelCardConfig = dataclasses.field(default_factory=ModelCardConfig)

    def __post_init__(self) -> None:
        p = "evaluation."
        require(20 <= self.bootstrap_reps <= 100_000, p + "bootstrap_reps", "must be 20..100000")
        require(self.seed >= 0, p + "seed", "must be >= 0")
        require(0.0 < self.alpha < 0.5, p + "alpha", "must be in (0, 0.5)")
        require(self.bootstrap_max_cells >= 1_000, p + "bootstrap_max_cells", "must be >= 1000")
        require(1 <= self.min_cell_size <= 1_000, p + "min_cell_size", "must be 1..1000")
        require(len(self.audit_attributes) > 0, p + "audit_attributes", "must name at least one attribute")
        require(len(set(self.audit_attributes)) == len(self.audit_attributes), p + "audit_attributes", "has duplicates")
        require(
            self.reference in ("overall", "largest", "configured"),
            p + "reference",
            "must be 'overall', 'largest' or 'configured'",
        )
        for a in self.gate_attributes:
            require(a in self.audit_attributes, p + "gate_attributes", f"{a!r} is not one of audit_attributes")
        require(1 <= self.max_intersection_order <= 4, p + "max_intersection_order", "must be 1..4")
        require(0.0 < self.tolerance_low < 1.0, p + "tolerance_low", "must be in (0, 1)")
        require(self.tolerance_high > 1.0, p + "tolerance_high", "must be > 1")
        require(0.0 < self.auc_gap_max < 0.5, p + "auc_gap_max", "must be in (0, 0.5)")
        require(2 <= self.calibration_bins <= 100, p + "calibration_bins", "must be 2..100")
        for key, metrics in (
            ("priority_metrics", self.priority_metrics),
            ("gate_fairness_metrics", self.gate_fairness_metrics),
        ):
            for m in metrics:
                require(m in FAIRNESS_METRICS, p + key, f"unknown metric {m!r} (known: {list(FAIRNESS_METRICS)})")
        require(len(self.area_levels) > 0, p + "area_levels", "must name at least one level")
        for lv in self.area_levels:
            require(lv in AREA_LEVELS, p + "area_levels", f"unknown level {lv!r} (known: {list(AREA_LEVELS)})")
        require(len(self.proxy_blocks) > 0, p + "proxy_blocks", "must name at least one block")
        require(self.proxy_gate_block in self.proxy_blocks, p + "proxy_gate_block", "must be one of proxy_blocks")
        require(3 <= self.proxy_min_areas <= 100_000, p + "proxy_min_areas", "must be 3..100000")
        require(2 <= self.intensity_risk_bins <= 1_000, p + "intensity_risk_bins", "must be 2..1000")
        require(self.intensity_power_ratio > 1.0, p + "intensity_power_ratio", "must be > 1")
        require(0.0 < self.intensity_power_target < 1.0, p + "intensity_power_target", "must be in (0, 1)")
        cuts = self.intensity_power_strata
        require(
            all(0.0 < c < 1.0 for c in cuts) and list(cuts) == sorted(set(cuts)),
            p + "intensity_power_strata",
            "must be increasing cut points in (0, 1)",
        )
        require(1 <= self.top_n <= 1_000, p + "top_n", "must be 1..1000")
        require(100 <= self.shap_max_rows <= 10_000_000, p + "shap_max_rows", "must be 100..10000000")
        require(2 <= self.shap_bins <= 100, p + "shap_bins", "must be 2..100")
        require(1 <= self.shap_dependence_features <= 100, p + "shap_dependence_features", "must be 1..100")
        require(50 <= self.figure_dpi <= 300, p + "figure_dpi", "must be 50..300")
        require(self.gate_bias_min_elevated >= 1, p + "gate_bias_min_elevated", "must be >= 1")
        require(0.0 < self.gate_alpha < 0.5, p + "gate_alpha", "must be in (0, 0.5)")
        require(self.gate_max_outside >= 0, p + "gate_max_outside", "must be >= 0")
        require(0.0 < self.gate_proxy_r2_max <= 1.0, p + "gate_proxy_r2_max", "must be in (0, 1]")
        require(
            0.0 <= self.gate_max_bias_elevated_share <= 1.0, p + "gate_max_bias_elevated_share", "must be in [0, 1]"
        )

    @property
    def interval_text(self) -> str:
        """How intervals are made, for reports."""
        return f"{100 * (1 - self.alpha):g}% percentile bootstrap, {self.bootstrap_reps} replicates, seed {self.seed}"

    @property
    def quantiles(self) -> tuple[float, float]:
        """Lower and upper percentile (0-100) of the two-sided interval."""
        return (100.0 * self.alpha / 2.0, 100.0 * (1.0 - self.alpha / 2.0))
