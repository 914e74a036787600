"""Configuration of the monitoring stage (frozen, typed; defaults mirrored in conf/default.toml).

Three sections live here: ``aggregate`` (area aggregation and the error model of its intervals),
``disclosure`` (output control: thresholds, complement rule, rounding, the LP audit) and
``export`` (what the one export writer refuses and how it formats numbers). Trend, drift and
dashboard settings live in :mod:`monitoring.monitor_config`, the ``monitor`` section of
:class:`MonitoringConfig`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from aanwas.common.config import require
from monitoring.monitor_config import MonitorConfig

#: Area levels of the exported table, from fine to coarse; "land" is the national total.
AREA_LEVELS = ("buurt", "wijk", "gemeente", "land")


@dataclasses.dataclass(frozen=True)
class AggregateConfig:
    """Area aggregation of in-memory person scores.

    Attributes
    ----------
    elevated_threshold : float
        A person counts in ``n_elevated`` when the calibrated probability is at least this.
    interval_level : float
        Coverage of the intervals ``risk_lo``/``risk_hi`` and ``rate_outcome_lo``/``_hi``.
        A copy of ``definitions.interval_level`` (set that; :mod:`aanwas.config`).
    area_error : {"labels", "none"}
        ``labels``: the model's area-level error (risk the scores miss and everyone in an area
        shares, e.g. enforcement intensity the model does not see) is estimated per area level
        and band from the labelled outcomes of the periods with a complete horizon, by a
        Fay-Herriot model fitted by REML (:func:`monitoring.publishing.sae.fay_herriot`), and its variance
        is part of every area's interval. ``none``: person-level error only.
    area_error_scale : {"absolute", "relative"}
        ``absolute``: the area-level error has the same variance in every area of a level;
        ``relative``: it is proportional to the area's risk (a multiplicative error such as a
        detection intensity), estimated on the scale ``observed / expected - 1``.
    area_error_variance : {"constant", "expected_count"}
        How the area-level error's variance differs between the areas of one level.
        ``constant``: one variance per level and band (the standard Fay-Herriot model), a finer
        level's at least the coarser level's (nested areas).
        ``expected_count``: proportional to a power of the area's expected count (sum of its
        young people's scores), ``sigma2_v * S ** slope``, both estimated by REML from the labels
        (a heteroscedastic Fay-Herriot model). Measured on synthetic data it extrapolates the big
        areas' variance law to the small areas, where labels cannot check it, and under-covers
        small gemeenten badly; docs/dev/accuracy.md ("Per-area coverage: variance models").
    person_error_share : float
        Person-level model error (true risk minus score, independent between persons) as a
        share of its largest possible variance, the Bernoulli variance ``s (1 - s)`` of the
        score. Labels cannot identify it (for a calibrated score ``E[(y - s)^2 | s] = s (1 - s)``
        whatever the error), so it is a sensitivity setting; docs/dev/accuracy.md shows how the
        intervals depend on it and what the synthetic world has.
    national_code, national_name : str
        Code and name of the national row (area level ``land``).
    finest_level : {"buurt", "wijk", "gemeente"}
        Finest area level in the table. With little data (a small synthetic run) almost every
        buurt is suppressed anyway, and leaving the level out keeps the disclosure audit small.
    include_band_total : bool
        Also aggregate a total over all age bands (age band ``band_total_label``).
    band_total_label : str
        Age-band label of that total.
    """

    elevated_threshold: float = 0.10
    interval_level: float = 0.90
    area_error: Literal["labels", "none"] = "labels"
    area_error_scale: Literal["absolute", "relative"] = "relative"
    area_error_variance: Literal["constant", "expected_count"] = "constant"
    person_error_share: float = 0.01
    national_code: str = "NL00"
    national_name: str = "Nederland"
    finest_level: Literal["buurt", "wijk", "gemeente"] = "buurt"
    include_band_total: bool = True
    band_total_label: str = "all"

    def __post_init__(self) -> None:
        p = "monitoring.aggregate."
        require(0.0 < self.elevated_threshold < 1.0, p + "elevated_threshold", "must be in (0, 1)")
        require(0.5 <= self.interval_level < 1.0, p + "interval_level", "must be in [0.5, 1)")
        require(self.area_error in ("labels", "none"), p + "area_error", "must be 'labels' or 'none'")
        scales = ("absolute", "relative")
        require(self.area_error_scale in scales, p + "area_error_scale", "must be 'absolute' or 'relative'")
        models = ("constant", "expected_count")
        require(self.area_error_variance in models, p + "area_error_variance", "must be 'constant' or 'expected_count'")
        require(0.0 <= self.person_error_share <= 1.0, p + "person_error_share", "must be in [0, 1]")
        require(bool(self.national_code.strip()), p + "national_code", "must not be empty")
        require(bool(self.band_total_label.strip()), p + "band_total_label", "must not be empty")


@dataclasses.dataclass(frozen=True)
class DisclosureConfig:
    """Output control applied to every table that leaves the secure environment.

    Attributes
    ----------
    min_cell_size : int
        Every published count, and its complement (e.g. ``n_persons - n_elevated``), must be at
        least this; so must every sum of suppressed cells that can be derived by subtraction.
        A copy of ``definitions.min_cell_size`` (set that; :mod:`aanwas.config`).
    zeros_disclosive : bool
        A count of zero is never published (it tells something about everyone in the cell).
    complement_rule : bool
        Apply the threshold to complements too (the not-elevated count of a cell).
    rounding_base : {0, 5}
        0 = publish exact counts; 5 = round published counts to the nearest multiple of 5
        (deterministic; shares then come from the rounded counts).
    protection_level : float
        The LP audit fails when the interval a suppressed count could take, given everything
        published and the additivity of the table, is narrower than this.
    audit : bool
        Certify every suppressed count (disable only in tests of the suppression pattern itself).
        Counts are certified subtree by subtree (a wijk with its buurten, a gemeente with its
        wijken and buurten, the rest of the table fixed at its true values), and what no subtree
        certifies by the whole-table audit; see docs/dev/disclosure.md.
    exact_audit : bool
        After certification, also run the whole-table LP audit of every suppressed count (an
        independent check for output checkers; slow on sparse buurt tables). The export fails
        if it disagrees.
    max_repair_rounds : int
        Rounds in which cells that the audit finds too narrow get extra secondary suppression
        before the export fails.
    audit_rounds : int
        Random-direction LP rounds per block before the exact per-cell min/max LPs.
    audit_batch_vars : int
        Independent blocks are stacked into one sparse LP up to this many variables (a larger
        LP costs more per pivot: 1,000 against 4,000 saves about a third of the audit's CPU on
        buurt tables; docs/dev/performance.md).
    audit_group_sizes : tuple of int
        Stages of the audit before the exact one: in stage ``k`` the national line of each band is
        cut into groups of ``k`` gemeenten whose sums are taken as known. Knowing more only
        narrows intervals, so a count wide enough there is wide enough for real; the table falls
        apart into small LPs. What no stage certifies gets the exact LP over the whole table.
    audit_jobs : int
        Worker processes for the audit: the periods of a table are audited in parallel, at most
        one process per period. 0 = automatic: none (this process) for a table of under
        1,000,000 area cells to certify (every buurt of the country x 4 bands x 7 periods is
        about 513,000; measured cheaper in CPU and wall time on 2 cores than two processes),
        else one per CPU core; 1 = no worker processes. The result does not depend on it.
    min_level_published : float
        A level below gemeente (buurt first, then wijk) is left out of the area table when fewer
        than this share of its ``n_persons`` cells, over all periods, pass the primary rule: it
        would be hidden nearly everywhere, tells almost nothing, and proving its hidden counts
        safe is what makes a thin table slow. Its counts are then bounded only by their
        published parents, which protects them by itself (docs/dev/disclosure.md). 0 = publish
        every level of the table.
    elevated_levels : tuple of str
        Area levels at which ``n_elevated`` and ``share_elevated`` (young people with an
        estimated chance at or above ``monitoring.aggregate.elevated_threshold``) are published
        and protected. Below them the count is left out of the export (blank, like a suppressed
        one) and is not certified: the published mean chance (``risk_mean``) of an area already
        bounds how many of its young people can be at or above the threshold (at most
        ``n_persons x risk_mean / threshold``), so below gemeente the count is hidden in nearly
        every cell and its interval could not be protected anyway (docs/dev/disclosure.md,
        "Elevated counts below gemeente"). The levels must include the top of the table.
    """

    min_cell_size: int = 10
    zeros_disclosive: bool = True
    complement_rule: bool = True
    rounding_base: Literal[0, 5] = 0
    protection_level: float = 5.0
    audit: bool = True
    exact_audit: bool = False
    max_repair_rounds: int = 50
    audit_rounds: int = 6
    audit_batch_vars: int = 1_000
    audit_group_sizes: tuple[int, ...] = (1, 8, 32, 64)
    audit_jobs: int = 0
    min_level_published: float = 0.25
    elevated_levels: tuple[str, ...] = ("land", "gemeente")

    def __post_init__(self) -> None:
        p = "monitoring.disclosure."
        levels = tuple(self.elevated_levels)
        require(
            set(levels) <= set(AREA_LEVELS) and "land" in levels and len(set(levels)) == len(levels),
            p + "elevated_levels",
            f"must be distinct levels of {list(AREA_LEVELS)} including 'land'",
        )
        require(0.0 <= self.min_level_published <= 1.0, p + "min_level_published", "must be in [0, 1]")
        require(1 <= self.min_cell_size <= 1_000, p + "min_cell_size", "must be 1..1000")
        require(self.rounding_base in (0, 5), p + "rounding_base", "must be 0 (off) or 5")
        require(
            0.5 <= self.protection_level <= 10 * self.min_cell_size,
            p + "protection_level",
            "must be in [0.5, 10 * min_cell_size] (a count interval narrower than 0.5 pins the value)",
        )
        require(0 <= self.max_repair_rounds <= 1_000, p + "max_repair_rounds", "must be 0..1000")
        require(0 <= self.audit_rounds <= 100, p + "audit_rounds", "must be 0..100")
        require(10 <= self.audit_batch_vars <= 1_000_000, p + "audit_batch_vars", "must be 10..1000000")
        sizes = tuple(self.audit_group_sizes)
        require(
            all(isinstance(k, int) and k >= 1 for k in sizes) and list(sizes) == sorted(set(sizes)),
            p + "audit_group_sizes",
            "must be increasing whole numbers >= 1",
        )
        require(0 <= self.audit_jobs <= 1_024, p + "audit_jobs", "must be 0 (one per core)..1024")


def _default_denylist() -> tuple[str, ...]:
    return ("rinpersoon", "score", "scores", "label", "prediction", "probability", "shap_value", "ref_date", "age")


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """The one export writer.

    Attributes
    ----------
    person_level_columns : tuple of str
        Column names that mark person-level data; a table with any of them is refused.
    person_level_prefixes : tuple of str
        Column-name prefixes that mark person-level data (indicators, SHAP values, pseudonyms).
    decimals : int
        Decimals of shares and risks in the CSV and GeoJSON files.
    """

    person_level_columns: tuple[str, ...] = dataclasses.field(default_factory=_default_denylist)
    person_level_prefixes: tuple[str, ...] = ("rin", "ind_", "shap_")
    decimals: int = 4

    def __post_init__(self) -> None:
        p = "monitoring.export."
        require("rinpersoon" in self.person_level_columns, p + "person_level_columns", "must contain 'rinpersoon'")
        require(1 <= self.decimals <= 8, p + "decimals", "must be 1..8")


@dataclasses.dataclass(frozen=True)
class MonitoringConfig:
    """Settings of the monitoring stage.

    Attributes
    ----------
    aggregate : AggregateConfig
        Area aggregation and the error model of its intervals.
    disclosure : DisclosureConfig
        Output control.
    export : ExportConfig
        The export writer.
    monitor : MonitorConfig
        Trends, intervention effects, drift and the dashboard.
    """

    aggregate: AggregateConfig = dataclasses.field(default_factory=AggregateConfig)
    disclosure: DisclosureConfig = dataclasses.field(default_factory=DisclosureConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    monitor: MonitorConfig = dataclasses.field(default_factory=MonitorConfig)
