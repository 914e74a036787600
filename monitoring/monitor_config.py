"""Configuration of trend monitoring, intervention effects, drift and the dashboard.

Frozen, typed dataclasses with range rules (:func:`aanwas.common.config.require`);
:class:`MonitorConfig` is the ``monitor`` section of :class:`monitoring.config.MonitoringConfig`. Every tunable of
``monitoring.effects.trends``, ``monitoring.effects.interventions``, ``monitoring.effects.drift`` and
``monitoring.publishing.dashboard`` lives here, so the code holds no magic numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from aanwas.common.config import require
from features.contract import OFFENCES

_PREFIX = "monitoring.monitor"


def _level_ok(level: float) -> bool:
    return 0.5 <= level < 1.0


@dataclasses.dataclass(frozen=True)
class TrendConfig:
    """Series of risk and observed rates per area and age band across refreshes.

    Attributes
    ----------
    interval_level : float
        Coverage of the ``risk_lo``/``risk_hi`` interval in the area table (monitoring's
        aggregation publishes 90% intervals); used to turn the interval into a standard error.
        A copy of ``definitions.interval_level`` (set that; :mod:`aanwas.config`).
    change_level : float
        Coverage of the intervals of period-to-period changes and of trend slopes.
    min_periods_slope : int
        Fewest published periods for a trend slope.
    min_count_observed : int
        Observed rates are shown only where the number registered and the number not
        registered both reach this count (mirrors the disclosure threshold; the trend table
        still goes through disclosure control before it leaves). A copy of
        ``definitions.min_cell_size`` (set that).
    rate_per : int
        Registrations per calendar year (the context series) are expressed per this many
        young people.
    observed_levels : tuple of str
        Area levels of the observed series (the outcome of the risk's own definition and the
        registrations per calendar year). Registrations are rare: below gemeente level nearly
        every count fails the disclosure threshold, and the audit of a sparse table is slow.
    interval_digits : int
        Published trend values and their intervals are rounded to the decimal at which the
        interval's half-width has this many significant digits.
    max_decimals : int
        Most decimals of a published trend value (percent or per ``rate_per``).
    """

    interval_level: float = 0.90
    change_level: float = 0.90
    min_periods_slope: int = 3
    min_count_observed: int = 10
    rate_per: int = 1000
    observed_levels: tuple[str, ...] = ("land", "gemeente")
    interval_digits: int = 2
    max_decimals: int = 3

    def __post_init__(self) -> None:
        p = f"{_PREFIX}.trends"
        require(_level_ok(self.interval_level), f"{p}.interval_level", "must be in [0.5, 1)")
        require(_level_ok(self.change_level), f"{p}.change_level", "must be in [0.5, 1)")
        require(2 <= self.min_periods_slope <= 50, f"{p}.min_periods_slope", "must be 2..50")
        require(1 <= self.min_count_observed <= 1000, f"{p}.min_count_observed", "must be 1..1000")
        require(self.rate_per in (100, 1000, 10000, 100000), f"{p}.rate_per", "must be 100, 1000, 10000 or 100000")
        for lv in self.observed_levels:
            require(
                lv in ("land", "gemeente", "wijk"),
                f"{p}.observed_levels",
                f"unknown level {lv!r} (land, gemeente, wijk)",
            )
        require(1 <= self.interval_digits <= 4, f"{p}.interval_digits", "must be 1..4")
        require(0 <= self.max_decimals <= 6, f"{p}.max_decimals", "must be 0..6")


@dataclasses.dataclass(frozen=True)
class InterventionConfig:
    """Effect estimation for the intervention registry (DiD, synthetic control, placebos).

    Attributes
    ----------
    panel_level : {"gemeente", "wijk", "buurt"}
        Areas of the outcome panel; registry codes of a coarser level expand to all their areas
        of this level, a finer code maps to the area that contains it.
    outcome : {"label", "offences"}
        Offences counted in the observed outcome: ``label`` = those of each age band's risk
        label (``[features.labels]``: drug law for 13-19 and 20-23, any offence for 8-12), so
        effects are measured on the outcome the risk model predicts; ``offences`` = the
        ``offences`` below for every band (another measure; the effects table's ``outcome``
        column says which).
    offences : tuple of str
        Suspect registrations that count for the observed outcome when ``outcome = "offences"``.
    rate_per : int
        Outcome scale: annual registration rate per this many young people of the band(s).
    first_year, last_year : int
        Panel years (registrations in calendar year, residents on 1 January); 0 = automatic:
        the last complete year before the data cut-off and up to ``max_panel_years`` before
        it, no earlier than the address history.
    max_panel_years : int
        Most years in a default panel.
    min_persons : int
        An area enters the panel only if it has at least this many young people of the
        intervention's band(s) in every panel year (a rate needs a denominator).
    band_mix : {"fixed", "yearly"}
        Interventions with several age bands: each area's bands are combined with its mean band
        sizes over all years (``fixed``, direct standardisation: a shifting band mix is not
        read as an effect or a pre-trend) or with each year's sizes (``yearly``, pooled rate).
    weight : {"persons", "equal"}
        Area weights: mean number of young people (estimand per young person) or equal.
    base_periods : int
        Number of periods before the start averaged as the base (1 = Callaway-Sant'Anna's
        base period g-1; 3 averages out the Poisson noise of one base year of small counts,
        which otherwise dominates the error of registration-rate effects).
    min_pre_periods : int
        Fewest periods before the start to estimate an effect.
    interval_level : float
        Coverage of effect intervals. A copy of ``definitions.interval_level`` (set that;
        :mod:`aanwas.config`): the effects are shown beside every other interval.
    n_bootstrap : int
        Cluster-bootstrap replicates (areas resampled within treated cohort / control strata).
    min_treated_did : int
        Interventions with fewer treated areas (at panel level) get synthetic control instead
        of difference-in-differences.
    placebo_shift_periods : int
        In-time placebo: the start is moved this many periods earlier, data from the real start
        on are dropped.
    n_placebo_space : int
        In-space placebo draws for DiD: each treated cluster (the area unit the registry names,
        e.g. a gemeente) is replaced by a size-matched untreated cluster.
    min_clusters_bootstrap : int
        With at least this many treated clusters the DiD interval is a cluster bootstrap; with
        fewer (a handful of gemeenten, where a bootstrap is far too narrow) it is studentized
        randomization inference (main estimate and in-time placebo alike): the t ratio of the
        real assignment against those of ``n_placebo_space`` size-matched placebo assignments,
        each divided by its clusters' own residual noise, the real assignment included in the
        reference set.
    ri_pool_size : int
        Each treated cluster is matched to one of this many clusters closest in size (itself
        and the other treated clusters included).
    ri_pool_per_treated : int
        ... or, with many treated clusters, to one of this many per treated cluster.
    scm_max_donors : int
        Synthetic control donor pool: at most this many never-treated areas, those closest in
        size (young people) to the treated area.
    scm_demean : bool
        Fit synthetic control on deviations from each area's pre-period mean (allows a level
        difference; removes it from the effect like a DiD).
    scm_ridge : float
        Ridge penalty on the donor weights, relative to the mean squared donor series norm
        (0 = classic synthetic control; weights then need not be unique when there are more
        donors than pre-periods).
    scm_sum_weight : float
        Weight of the sum-to-one row in the constrained least-squares fit (relative to the
        scale of the donor outcomes).
    scm_max_iter : int
        Iteration cap of the non-negative least-squares solver.
    scm_polish_steps : int
        Projected-gradient steps on the simplex after it (exact constraints).
    seed : int
        Seed of bootstrap and placebo draws (same input + seed = same output).
    """

    panel_level: Literal["gemeente", "wijk", "buurt"] = "wijk"
    outcome: Literal["label", "offences"] = "label"
    offences: tuple[str, ...] = OFFENCES
    rate_per: int = 1000
    first_year: int = 0
    last_year: int = 0
    max_panel_years: int = 12
    min_persons: int = 1
    band_mix: Literal["fixed", "yearly"] = "fixed"
    weight: Literal["persons", "equal"] = "persons"
    base_periods: int = 3
    min_pre_periods: int = 3
    interval_level: float = 0.90
    n_bootstrap: int = 999
    min_treated_did: int = 2
    placebo_shift_periods: int = 2
    n_placebo_space: int = 400
    min_clusters_bootstrap: int = 20
    ri_pool_size: int = 60
    ri_pool_per_treated: int = 4
    scm_max_donors: int = 60
    scm_demean: bool = True
    scm_ridge: float = 0.1
    scm_sum_weight: float = 1000.0
    scm_max_iter: int = 10_000
    scm_polish_steps: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        p = f"{_PREFIX}.interventions"
        require(self.outcome in ("label", "offences"), f"{p}.outcome", "must be 'label' or 'offences'")
        require(self.band_mix in ("fixed", "yearly"), f"{p}.band_mix", "must be 'fixed' or 'yearly'")
        require(len(self.offences) > 0, f"{p}.offences", "must name at least one offence")
        for o in self.offences:
            require(o in OFFENCES, f"{p}.offences", f"unknown offence {o!r} (known: {list(OFFENCES)})")
        require(self.rate_per in (100, 1000, 10000, 100000), f"{p}.rate_per", "must be 100, 1000, 10000 or 100000")
        require(
            self.first_year == 0 or 1900 <= self.first_year <= 2100,
            f"{p}.first_year",
            "must be 0 (auto) or a year 1900..2100",
        )
        require(
            self.last_year == 0 or 1900 <= self.last_year <= 2100,
            f"{p}.last_year",
            "must be 0 (auto) or a year 1900..2100",
        )
        if self.first_year and self.last_year:
            require(self.first_year < self.last_year, f"{p}.last_year", "must be after first_year")
        require(3 <= self.max_panel_years <= 50, f"{p}.max_panel_years", "must be 3..50")
        require(1 <= self.min_persons <= 100_000, f"{p}.min_persons", "must be 1..100000")
        require(1 <= self.base_periods <= 10, f"{p}.base_periods", "must be 1..10")
        require(1 <= self.min_pre_periods <= 20, f"{p}.min_pre_periods", "must be 1..20")
        require(0.5 <= self.interval_level < 1.0, f"{p}.interval_level", "must be in [0.5, 1)")
        require(99 <= self.n_bootstrap <= 100_000, f"{p}.n_bootstrap", "must be 99..100000")
        require(1 <= self.min_treated_did <= 1000, f"{p}.min_treated_did", "must be 1..1000")
        require(1 <= self.placebo_shift_periods <= 10, f"{p}.placebo_shift_periods", "must be 1..10")
        require(20 <= self.n_placebo_space <= 100_000, f"{p}.n_placebo_space", "must be 20..100000")
        require(
            (1.0 - self.interval_level) / 2.0 * (self.n_placebo_space + 1) >= 1.0 - 1e-9,
            f"{p}.n_placebo_space",
            "too few draws for a randomization test at the interval level (need (1 - level) / 2 * (n + 1) >= 1)",
        )
        require(2 <= self.min_clusters_bootstrap <= 10_000, f"{p}.min_clusters_bootstrap", "must be 2..10000")
        require(2 <= self.ri_pool_size <= 10_000, f"{p}.ri_pool_size", "must be 2..10000")
        require(1 <= self.ri_pool_per_treated <= 100, f"{p}.ri_pool_per_treated", "must be 1..100")
        require(5 <= self.scm_max_donors <= 5000, f"{p}.scm_max_donors", "must be 5..5000")
        require(0 <= self.scm_ridge <= 100, f"{p}.scm_ridge", "must be 0..100")
        require(10 <= self.scm_sum_weight <= 1e8, f"{p}.scm_sum_weight", "must be 10..1e8")
        require(100 <= self.scm_max_iter <= 1_000_000, f"{p}.scm_max_iter", "must be 100..1000000")
        require(0 <= self.scm_polish_steps <= 100_000, f"{p}.scm_polish_steps", "must be 0..100000")
        require(self.seed >= 0, f"{p}.seed", "must be >= 0")


@dataclasses.dataclass(frozen=True)
class DriftConfig:
    """Drift between two reference dates / refreshes.

    A statistic raises an alarm only when it exceeds BOTH its practical minimum (``psi_min``,
    ``wasserstein_min``) and the ``1 - alpha / m`` quantile of its permutation null (``m`` =
    number of statistics tested, Bonferroni), so small samples do not alarm on noise and huge
    samples do not alarm on trivia.

    Attributes
    ----------
    n_bins : int
        PSI bins (reference quantiles; missing values get their own bin).
    psi_min : float
        Practical PSI threshold (0.1 is the usual "some shift" mark).
    psi_pseudo_count : float
        Count added to every PSI bin of both samples (keeps empty bins finite).
    wasserstein_min : float
        Practical threshold of the Wasserstein distance in reference standard deviations.
    alpha : float
        Family-wise false-alarm rate over all features of one comparison.
    n_permutations : int
        Permutations of the null distribution (a gamma fit to them gives the quantile).
    max_null_sample : int
        Per-sample cap for the Wasserstein permutation null; the null quantile is rescaled to
        the full sample size (the statistic shrinks like 1/sqrt(n)).
    null_chunk_cells : int
        Permutations are evaluated in chunks of about this many cells (memory bound).
    prevalence_min_relative_change : float
        Outcome prevalence shift alarms when its interval excludes zero and the relative change
        is at least this.
    score_mean_min_change : float
        Mean-score shift (absolute, probability scale) that counts as material.
    retrain_min_share_features : float
        Retraining is recommended when at least this share of a band's features drift (or
        when the score distribution or the prevalence shifts).
    seed : int
        Seed of permutations and subsamples.
    """

    n_bins: int = 10
    psi_min: float = 0.1
    psi_pseudo_count: float = 0.5
    wasserstein_min: float = 0.1
    alpha: float = 0.05
    n_permutations: int = 200
    max_null_sample: int = 5_000
    null_chunk_cells: int = 4_000_000
    prevalence_min_relative_change: float = 0.2
    score_mean_min_change: float = 0.005
    retrain_min_share_features: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        p = f"{_PREFIX}.drift"
        require(2 <= self.n_bins <= 100, f"{p}.n_bins", "must be 2..100")
        require(0 < self.psi_min <= 2, f"{p}.psi_min", "must be in (0, 2]")
        require(0 < self.psi_pseudo_count <= 10, f"{p}.psi_pseudo_count", "must be in (0, 10]")
        require(0 < self.wasserstein_min <= 5, f"{p}.wasserstein_min", "must be in (0, 5]")
        require(0 < self.alpha < 0.5, f"{p}.alpha", "must be in (0, 0.5)")
        require(50 <= self.n_permutations <= 10_000, f"{p}.n_permutations", "must be 50..10000")
        require(500 <= self.max_null_sample <= 10_000_000, f"{p}.max_null_sample", "must be 500..10000000")
        require(10_000 <= self.null_chunk_cells <= 1_000_000_000, f"{p}.null_chunk_cells", "must be 10000..1e9")
        require(
            0 < self.prevalence_min_relative_change <= 10, f"{p}.prevalence_min_relative_change", "must be in (0, 10]"
        )
        require(0 < self.score_mean_min_change < 1, f"{p}.score_mean_min_change", "must be in (0, 1)")
        require(0 < self.retrain_min_share_features <= 1, f"{p}.retrain_min_share_features", "must be in (0, 1]")
        require(self.seed >= 0, f"{p}.seed", "must be >= 0")


@dataclasses.dataclass(frozen=True)
class DashboardConfig:
    """The offline HTML dashboard for policy staff.

    Attributes
    ----------
    language : {"nl", "en"}
        Text language (Dutch by default).
    map_width : int
        Width of the SVG map in pixels (height follows the map's aspect ratio).
    coordinate_decimals : int
        Decimals of projected map coordinates (pixels); fewer = smaller file.
    value_digits : int
        Significant digits of numbers embedded in the page.
    trend_levels : tuple of str
        Area levels whose full history is embedded for trend lines (every level down to buurt
        by default, so each level of the drill-down has the same charts; leave out ``buurt``
        to keep the file of a national buurt-level export small).
    interval_level : float
        Coverage of the risk intervals in the area table (shown in the text). A copy of
        ``definitions.interval_level`` (set that).
    """

    language: Literal["nl", "en"] = "nl"
    map_width: int = 520
    coordinate_decimals: int = 1
    value_digits: int = 4
    trend_levels: tuple[str, ...] = ("land", "gemeente", "wijk", "buurt")
    interval_level: float = 0.90

    def __post_init__(self) -> None:
        p = f"{_PREFIX}.dashboard"
        require(200 <= self.map_width <= 2000, f"{p}.map_width", "must be 200..2000 pixels")
        require(0 <= self.coordinate_decimals <= 3, f"{p}.coordinate_decimals", "must be 0..3")
        require(2 <= self.value_digits <= 8, f"{p}.value_digits", "must be 2..8")
        for lv in self.trend_levels:
            require(lv in ("land", "gemeente", "wijk", "buurt"), f"{p}.trend_levels", f"unknown level {lv!r}")
        require(_level_ok(self.interval_level), f"{p}.interval_level", "must be in [0.5, 1)")


@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    """Trends, interventions, drift and dashboard settings (one section each)."""

    trends: TrendConfig = dataclasses.field(default_factory=TrendConfig)
    interventions: InterventionConfig = dataclasses.field(default_factory=InterventionConfig)
    drift: DriftConfig = dataclasses.field(default_factory=DriftConfig)
    dashboard: DashboardConfig = dataclasses.field(default_factory=DashboardConfig)
