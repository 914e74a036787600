"""A synthetic population on the real 2024 map, with a documented ground truth.

It stands in for CBS microdata (which never leave the secure environment) in demos, tests and
benchmarks. Households are placed in real buurten in proportion to their real numbers of young
people; area deprivation follows the real origin composition and gemeente income; every event
table of the input contract is generated year by year from hazards that depend on a person's
state on 1 January of that year. The same state definitions are what the feature builders
derive, so features can be checked against the truth person by person.

Ground truth (written to ``truth/``, never to ``raw/``):

* ``person_year``: per young person and year, the true annual probability of offending
  (``h_any``, before detection, including intervention effects), the share of offences that
  are drug-law offences, the detection probability where the person lives (area enforcement
  intensity: label bias), and the generator's state on 1 January;
* ``areas``: per wijk the enforcement multiplier and whether it is over-policed, per buurt the
  deprivation score;
* ``interventions``: the true hazard ratio of each intervention and its true effect on the
  annual registration rate of treated young people.

All rates and their sources or assumptions are in ``docs/synthetic.md``; :class:`WorldParams`
holds them, :func:`world_params` per world profile (``synth.profile``: ``additive``, the default,
or ``interactions``, where risk factors combine non-additively). Deterministic per seed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from importlib import resources
from typing import overload

import numpy as np
import pandas as pd

from aanwas.common.errors import ConfigError
from features.config import AGE_BANDS, BAND_LIMITS, SynthConfig
from features.contract import DATE_DTYPE, DEREGISTRATION_REASONS, HALT_CATEGORIES, OFFENCES
from features.geography import Geography, load_geography
from features.sources.region import region_label, resolve_region

Progress = Callable[[str, float], None]
DAY0 = np.datetime64("1970-01-01", "D")
#: Second seed word of the random stream of emigration and death (apart from the main stream).
EXIT_STREAM = 20
#: Key of ``person_year.attrs`` (kept in its Parquet metadata) naming a non-additive world profile.
PROFILE_ATTR = "world_profile"


@dataclasses.dataclass(frozen=True)
class WorldParams:
    """Rates and effect sizes of the synthetic world (see docs/synthetic.md for sources)."""

    national_youth_8_23: int = 3_400_000
    kids_extra_p: float = 0.3  # children per household = 1 + Binomial(3, p): mean 1.9
    single_parent_share: float = 0.09  # households single-parent before the window
    separation_rate: float = 0.009  # per year, two-parent households
    father_leaves_share: float = 0.85
    move_rate: float = 0.07  # household moves between buurten per year
    move_same_gemeente: float = 0.7
    leave_home_age: tuple[float, float] = (18.0, 27.0)
    # hazards per year (logit intercepts; slopes on latent vulnerability z)
    youth_care_logit: float = -3.85
    halt_logit: float = -4.55
    vsv_logit: float = -4.7
    own_debt_logit: float = -6.0
    parent_debt_logit: float = -4.1
    parent_suspect_logit: float = -5.5
    special_ed_logit: float = -3.6
    school_change_logit: float = -2.4
    probation_after_registration: float = 0.35
    # offending: logit h = alpha(age) + effects . state + gamma z
    alpha_age: tuple[tuple[int, float], ...] = (
        (8, -7.4),
        (10, -6.6),
        (12, -5.4),
        (14, -4.7),
        (16, -4.2),
        (18, -4.2),
        (20, -4.4),
        (22, -4.6),
        (24, -4.8),
    )
    beta_male: float = 1.0
    beta_halt: float = 0.9
    beta_vsv: float = 0.8
    beta_own_debt: float = 0.7
    beta_parent_debt: float = 0.55
    beta_parent_suspect: float = 0.5
    beta_single_parent: float = 0.35
    beta_youth_care: float = 0.45
    beta_prior_suspect: float = 1.1
    gamma_latent: float = 0.25
    # interactions (what a linear model cannot express): the male effect peaks at 14-21,
    # parental factors matter most for minors, Halt and early school leaving reinforce each
    # other, an early registration weighs more than a later one
    male_peak_ages: tuple[int, int] = (14, 21)
    male_off_peak: float = 0.5
    parent_debt_minor_until: int = 15
    parent_debt_adult_factor: float = 0.25
    single_parent_until: int = 17
    beta_halt_and_vsv: float = 0.6
    prior_suspect_young_until: int = 15
    prior_suspect_young_factor: float = 1.4
    prior_suspect_older_factor: float = 0.85
    #: how risk factors combine (one of features.config.WORLD_PROFILES); :func:`world_params`
    #: gives each profile's parameters, :func:`offending_logit` its formula
    profile: str = "additive"
    # profile "interactions" only (docs/synthetic.md, "World profiles"): log-odds added by the
    # number of family risk factors (parental debt, parent suspect, single parent as a minor,
    # youth care) 0, 1, 2, 3+; own debt restructuring together with early school leaving
    family_risk_logodds: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    beta_own_debt_and_vsv: float = 0.0
    drug_share_age: tuple[tuple[int, float], ...] = ((8, 0.02), (12, 0.08), (14, 0.18), (16, 0.3), (18, 0.4))
    # registration
    detect_base: float = 0.4
    over_policed_logit: float = -3.2  # share of wijken over-policed ~ 6-10 %, more in deprived ones
    over_policed_multiplier: float = 2.0
    detect_max: float = 0.95
    # leaving the population register, ages 8-27 (yearly probabilities by age from the age
    # given; see docs/synthetic.md "Emigration and death"); emigration is multiplied per
    # migration group (nederland, europa, buiten_europa)
    emigration_age: tuple[tuple[int, float], ...] = ((8, 0.002), (18, 0.004), (23, 0.006))
    emigration_group_factor: tuple[float, float, float] = (1.0, 3.0, 1.5)
    death_age: tuple[tuple[int, float], ...] = ((8, 0.0001), (15, 0.00025), (20, 0.00035))
    leave_register_ages: tuple[int, int] = (8, 27)


def world_params(profile: str = "additive") -> WorldParams:
    """The world's rates and effects for one profile (``synth.profile``).

    ``"additive"`` is :class:`WorldParams` as it is. ``"interactions"`` keeps every event
    hazard, the age curve and the sex effect, and changes how the risk factors combine in the
    offending hazard (docs/synthetic.md, "World profiles"): the family risk factors count only
    in combination (log-odds by their number, ``family_risk_logodds``), Halt referral, early
    school leaving and own debt restructuring weigh little or nothing alone and much together,
    and an earlier registration weighs 2.2 up to age 15 and 0.5 after.

    Examples
    --------
    >>> world_params("interactions").beta_halt_and_vsv
    2.8
    """
    if profile == "additive":
        return WorldParams()
    if profile == "interactions":
        return dataclasses.replace(
            WorldParams(),
            profile=profile,
            family_risk_logodds=(0.0, 0.0, 2.2, 3.0),
            beta_halt=0.1,
            beta_vsv=0.0,
            beta_halt_and_vsv=2.8,
            beta_own_debt=0.0,
            beta_own_debt_and_vsv=2.0,
            beta_prior_suspect=1.0,
            prior_suspect_young_factor=2.2,
            prior_suspect_older_factor=0.5,
        )
    raise ConfigError("synth.profile", f"unknown world profile {profile!r}")


@dataclasses.dataclass(frozen=True)
class SynthResult:
    """Raw contract tables, truth tables, the data cut-off and the region they cover."""

    raw: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    interventions: pd.DataFrame
    observation_end: dt.date
    #: gemeente codes of the region (empty: the whole country) and its display name
    coverage: tuple[str, ...] = ()
    coverage_name: str = ""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


@overload
def _days(year: int, month: int = 1, day: int = 1) -> int: ...
@overload
def _days(year: np.ndarray, month: int = 1, day: int = 1) -> np.ndarray: ...
def _days(year: np.ndarray | int, month: int = 1, day: int = 1) -> np.ndarray | int:
    """Days since 1970-01-01 of ``year-month-day`` (vectorised over ``year``; an int for an int)."""
    y = np.asarray(year, dtype="int64")
    d = ((y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(month - 1, "M")).astype(
        "datetime64[D]"
    ) + np.timedelta64(day - 1, "D")
    out = (np.asarray(d, dtype="datetime64[D]") - DAY0).astype("int64")
    return out if y.ndim else int(out)


def _to_date(days: np.ndarray) -> np.ndarray:
    out = (DAY0 + days.astype("timedelta64[D]")).astype(DATE_DTYPE)
    return out


def _years_of(days: np.ndarray) -> np.ndarray:
    return (DAY0 + days.astype("timedelta64[D]")).astype("datetime64[Y]").astype("int64") + 1970


def _age_on(birth_days: np.ndarray, on_days: np.ndarray | int) -> np.ndarray:
    """Completed years on a date (vectorised, calendar-exact)."""
    b = DAY0 + birth_days.astype("timedelta64[D]")
    o = DAY0 + np.asarray(on_days).astype("timedelta64[D]")
    by = b.astype("datetime64[Y]").astype("int64")
    oy = o.astype("datetime64[Y]").astype("int64")
    bm = b.astype("datetime64[M]").astype("int64") % 12
    om = o.astype("datetime64[M]").astype("int64") % 12
    bd = (b - b.astype("datetime64[M]").astype("datetime64[D]")).astype("int64")
    od = (o - o.astype("datetime64[M]").astype("datetime64[D]")).astype("int64")
    before = (om < bm) | ((om == bm) & (od < bd))
    return (oy - by - before.astype("int64")).astype("int64")


def _step(table: tuple[tuple[int, float], ...], ages: np.ndarray) -> np.ndarray:
    """Piecewise-constant lookup: value of the last threshold <= age."""
    thresholds = np.array([a for a, _ in table])
    values = np.array([v for _, v in table])
    idx = np.clip(np.searchsorted(thresholds, ages, side="right") - 1, 0, len(values) - 1)
    return values[idx]


def _unique_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct random 9-digit pseudonyms (like RINPERSOON)."""
    return rng.choice(899_999_999, size=n, replace=False).astype("int64") + 100_000_000


class _World:
    """Area-level truth: deprivation per buurt, enforcement per wijk, weighted sampling.

    The area truth is always that of the whole country (so a region's buurten have the same
    deprivation and enforcement as in the national world of the same seed); with ``region``
    (gemeente codes) every draw of a place to live falls inside it.
    """

    def __init__(self, geo: Geography, params: WorldParams, rng: np.random.Generator, region: tuple[str, ...] = ()):
        b = geo.buurten.sort_values(["gm_code", "code"]).reset_index(drop=True)
        self.buurt = b
        self.in_region = b["gm_code"].isin(region).to_numpy() if region else np.ones(len(b), bool)
        inh = b["inhabitants"].to_numpy(float)
        youth = b["age_0_15"].to_numpy(float) * 8 / 15 + b["age_15_25"].to_numpy(float) * 0.9
        self.youth_w = youth / youth.sum()
        #: share of the country's young people who live in the region (exactly 1 without one,
        #: so the national world is the same as before regions existed)
        self.region_share = float(self.youth_w[self.in_region].sum()) if region else 1.0
        #: where households are placed: the young population's distribution within the region
        self.youth_draw = np.where(self.in_region, self.youth_w, 0.0) / self.region_share if region else self.youth_w
        outside = np.divide(b["origin_outside_europe"].to_numpy(float), inh, out=np.zeros_like(inh), where=inh > 0)
        europe = np.divide(b["origin_europe_excl_nl"].to_numpy(float), inh, out=np.zeros_like(inh), where=inh > 0)
        self.p_outside = np.clip(outside, 0, 1)
        self.p_europe = np.clip(europe, 0, 1 - self.p_outside)
        income = _gemeente_income()
        gm_income = b["gm_code"].map(income).fillna(income.median()).to_numpy(float)

        def z(x: np.ndarray) -> np.ndarray:
            w = self.youth_w
            m = np.sum(w * x)
            s = np.sqrt(np.sum(w * (x - m) ** 2))
            return (x - m) / s

        d = z(outside) - 0.8 * z(gm_income) + 0.6 * rng.standard_normal(len(b))
        self.deprivation = z(d)
        gm_codes, gm_idx = np.unique(b["gm_code"].to_numpy(str), return_inverse=True)
        self.gm_idx = gm_idx
        self.gm_codes = gm_codes
        wk_codes, wk_idx = np.unique(b["wk_code"].to_numpy(str), return_inverse=True)
        self.wk_idx = wk_idx
        self.wk_codes = wk_codes
        wk_weight = np.bincount(wk_idx, weights=self.youth_w, minlength=len(wk_codes))
        wk_dep = np.bincount(wk_idx, weights=self.youth_w * self.deprivation, minlength=len(wk_codes)) / np.maximum(
            wk_weight, 1e-12
        )
        self.wk_deprivation = wk_dep
        over = rng.random(len(wk_codes)) < _sigmoid(params.over_policed_logit + 1.2 * wk_dep)
        self.wk_over = over
        self.wk_multiplier = np.where(over, params.over_policed_multiplier, 1.0) * np.exp(
            0.08 * rng.standard_normal(len(wk_codes))
        )
        self.detect = np.minimum(params.detect_base * self.wk_multiplier[wk_idx], params.detect_max)  # per buurt
        # weighted sampling within a gemeente: cumulative inhabitants over buurten sorted by gemeente
        w_in = np.where(self.in_region, np.maximum(inh, 1.0), 0.0)  # no weight outside the region
        self.cum = np.cumsum(w_in)
        gm_first = np.searchsorted(gm_idx, np.arange(len(gm_codes)), side="left")
        gm_last = np.searchsorted(gm_idx, np.arange(len(gm_codes)), side="right")
        self.gm_lo = np.where(gm_first > 0, self.cum[gm_first - 1], 0.0)
        self.gm_hi = self.cum[gm_last - 1]

    def draw_national(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Buurten anywhere in the world (the region, if there is one), weighted by inhabitants."""
        return np.minimum(np.searchsorted(self.cum, rng.random(n) * self.cum[-1], side="right"), len(self.cum) - 1)

    def draw_same_gemeente(self, rng: np.random.Generator, buurt: np.ndarray) -> np.ndarray:
        g = self.gm_idx[buurt]
        target = self.gm_lo[g] + rng.random(len(buurt)) * (self.gm_hi[g] - self.gm_lo[g])
        return np.minimum(np.searchsorted(self.cum, target, side="right"), len(self.cum) - 1)

    def draw_move(self, rng: np.random.Generator, buurt: np.ndarray, p_same: float) -> np.ndarray:
        same = rng.random(len(buurt)) < p_same
        return np.where(same, self.draw_same_gemeente(rng, buurt), self.draw_national(rng, len(buurt)))


def _gemeente_income() -> pd.Series:
    path = resources.files("features.sources") / "data" / "income_households_2024_gemeente.csv"
    with resources.as_file(path) as p:
        inc = pd.read_csv(p)
    return inc.set_index("gm_code")["median_standardised_income_k_eur"].astype(float)


def _episodes_lookup(
    pid: np.ndarray, start: np.ndarray, values: np.ndarray, q_pid: np.ndarray, q_day: np.ndarray
) -> np.ndarray:
    """Value of the episode (sorted by pid, start) that covers each query (pid, day); -1 if none.

    Episodes of one person are contiguous, so the covering one is the last start <= day.
    """
    span = np.int64(1 << 20)
    key = pid.astype("int64") * span + start
    qkey = q_pid.astype("int64") * span + q_day
    idx = np.searchsorted(key, qkey, side="right") - 1
    ok = (idx >= 0) & (pid[np.maximum(idx, 0)] == q_pid)
    return np.where(ok, values[np.maximum(idx, 0)], -1)


def offending_logit(
    p: WorldParams,
    age: np.ndarray,
    male: np.ndarray,
    halt: np.ndarray,
    vsv: np.ndarray,
    own_debt: np.ndarray,
    parent_debt: np.ndarray,
    parent_suspect: np.ndarray,
    single_parent: np.ndarray,
    youth_care: np.ndarray,
    prior_suspect: np.ndarray,
    z: np.ndarray,
) -> np.ndarray:
    """Log-odds of offending in a year, from age and the state on 1 January of that year.

    The one definition of the true offending model: the generator draws offences with it and
    :func:`features.sources.truth.true_label_risk` evaluates it for the oracle. The formula
    follows ``p.profile`` (:func:`world_params`; the ``interactions`` profile in
    :func:`_interactions_logit`).
    """
    if p.profile != "additive":
        return _interactions_logit(
            p, age, male, halt, vsv, own_debt, parent_debt, parent_suspect, single_parent, youth_care, prior_suspect, z
        )
    age = np.asarray(age)
    lo, hi = p.male_peak_ages
    male_w = np.where((age >= lo) & (age <= hi), 1.0, p.male_off_peak)
    pdebt_w = np.where(age <= p.parent_debt_minor_until, 1.0, p.parent_debt_adult_factor)
    prior_w = np.where(age <= p.prior_suspect_young_until, p.prior_suspect_young_factor, p.prior_suspect_older_factor)
    halt, vsv = np.asarray(halt, bool), np.asarray(vsv, bool)
    return (
        _step(p.alpha_age, age)
        + p.beta_male * male_w * male
        + p.beta_halt * halt
        + p.beta_vsv * vsv
        + p.beta_halt_and_vsv * (halt & vsv)
        + p.beta_own_debt * own_debt
        + p.beta_parent_debt * pdebt_w * parent_debt
        + p.beta_parent_suspect * parent_suspect
        + p.beta_single_parent * (age <= p.single_parent_until) * single_parent
        + p.beta_youth_care * youth_care
        + p.beta_prior_suspect * prior_w * prior_suspect
        + p.gamma_latent * z
    )


def _interactions_logit(
    p: WorldParams,
    age: np.ndarray,
    male: np.ndarray,
    halt: np.ndarray,
    vsv: np.ndarray,
    own_debt: np.ndarray,
    parent_debt: np.ndarray,
    parent_suspect: np.ndarray,
    single_parent: np.ndarray,
    youth_care: np.ndarray,
    prior_suspect: np.ndarray,
    z: np.ndarray,
) -> np.ndarray:
    """:func:`offending_logit` of the ``interactions`` profile (docs/synthetic.md, "World profiles").

    Age curve and sex effect as in the additive world; the family risk factors (parental debt,
    parent suspect, single parent as a minor, youth care) add ``p.family_risk_logodds[k]`` for
    ``k`` of them present (cumulative risk: one alone adds nothing); Halt, early school leaving
    and own debt restructuring have small main effects and large joint terms (Halt and early
    school leaving, own debt and early school leaving); an earlier registration is age-graded.
    """
    age = np.asarray(age)
    lo, hi = p.male_peak_ages
    male_w = np.where((age >= lo) & (age <= hi), 1.0, p.male_off_peak)
    prior_w = np.where(age <= p.prior_suspect_young_until, p.prior_suspect_young_factor, p.prior_suspect_older_factor)
    halt, vsv, own_debt = (np.asarray(x, bool) for x in (halt, vsv, own_debt))
    n_family = (
        np.asarray(parent_debt, int)
        + np.asarray(parent_suspect, int)
        + ((age <= p.single_parent_until) & np.asarray(single_parent, bool)).astype(int)
        + np.asarray(youth_care, int)
    )
    family = np.asarray(p.family_risk_logodds)[np.minimum(n_family, len(p.family_risk_logodds) - 1)]
    return (
        _step(p.alpha_age, age)
        + p.beta_male * male_w * male
        + family
        + p.beta_halt * halt
        + p.beta_vsv * vsv
        + p.beta_halt_and_vsv * (halt & vsv)
        + p.beta_own_debt * own_debt
        + p.beta_own_debt_and_vsv * (own_debt & vsv)
        + p.beta_prior_suspect * prior_w * prior_suspect
        + p.gamma_latent * z
    )


@dataclasses.dataclass(frozen=True)
class _Family:
    """The children and their households, as index arrays.

    Persons are numbered: children ``[0, n_kid)``, mothers ``[n_kid, n_kid + n_hh)``, fathers
    after them; ``kid_hh`` is each child's household, the ``hh_*`` arrays are per household.
    """

    n_hh: int
    n_kid: int
    kid_hh: np.ndarray
    kid_birth: np.ndarray
    kid_male: np.ndarray
    #: the child's latent propensity (the unobserved part of the risk)
    kid_z: np.ndarray
    hh_buurt0: np.ndarray
    ses: np.ndarray
    vuln: np.ndarray
    hh_mig: np.ndarray
    #: day a parent leaves the household (int64 max: never in the window)
    sep_day: np.ndarray
    father_leaves: np.ndarray
    mother_birth: np.ndarray
    father_birth: np.ndarray
    rin: np.ndarray
    mother_pid: np.ndarray
    father_pid: np.ndarray

    @property
    def n_pers(self) -> int:
        return self.n_kid + 2 * self.n_hh

    @property
    def staying(self) -> np.ndarray:
        """The parent who stays with the children after a separation."""
        return np.where(self.father_leaves, self.mother_pid, self.father_pid)

    @property
    def departing(self) -> np.ndarray:
        return np.where(self.father_leaves, self.father_pid, self.mother_pid)


@dataclasses.dataclass(frozen=True)
class _Addresses:
    """Address episodes of every person, sorted by (pid, start); end is exclusive (int64 max: open)."""

    pid: np.ndarray
    start: np.ndarray
    end: np.ndarray
    buurt: np.ndarray
    addr: np.ndarray

    def select(self, keep: np.ndarray) -> _Addresses:
        return _Addresses(self.pid[keep], self.start[keep], self.end[keep], self.buurt[keep], self.addr[keep])


@dataclasses.dataclass(frozen=True)
class _ParentEvents:
    """Parents' debt help episodes and suspect registrations, with the household of each."""

    debt_pid: np.ndarray
    debt_type: np.ndarray
    debt_start: np.ndarray
    debt_end: np.ndarray
    debt_hh: np.ndarray
    sus_pid: np.ndarray
    sus_day: np.ndarray
    sus_hh: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Window:
    """The simulated years and the day numbers that bound them."""

    y0: int
    y1: int

    @property
    def win_start(self) -> int:
        return _days(self.y0)

    @property
    def obs_end(self) -> int:
        return _days(self.y1, 12, 31)

    @property
    def n_years(self) -> int:
        return self.y1 - self.y0 + 1


#: the children's events of the years, per kind: lists of (pid, day[, type]) arrays
_Events = dict[str, list[tuple[np.ndarray, ...]]]


def generate(cfg: SynthConfig, params: WorldParams | None = None, progress: Progress | None = None) -> SynthResult:
    """Generate raw contract tables and truth.

    Parameters
    ----------
    cfg : SynthConfig
        Scale (1.0 = real size), seed, region (empty: the whole country) and the window of
        simulated years. In a region everyone lives, moves and goes to school inside it, the
        interventions are placed in its wijken, and the truth covers its areas only.
    params : WorldParams, optional
        Rates and effects of the world; default: ``world_params(cfg.profile)``, documented in
        docs/synthetic.md. Its ``profile`` must be ``cfg.profile``.
    progress : callable, optional
        ``progress(stage, fraction_done)`` for a progress bar.

    Examples
    --------
    >>> from features.config import SynthConfig
    >>> res = generate(SynthConfig(scale=0.001, seed=3))
    >>> sorted(res.raw)[:3]
    ['addresses', 'debt', 'deregistrations']
    """
    p = params or world_params(cfg.profile)
    if p.profile != cfg.profile:
        raise ConfigError("synth.profile", f"is {cfg.profile!r} but the world parameters are of profile {p.profile!r}")
    tick = progress or (lambda stage, frac: None)
    # one random stream, drawn from in this order: every step below must keep its place
    rng = np.random.default_rng(cfg.seed)
    geo = load_geography()
    region = resolve_region(cfg.region)
    world = _World(geo, p, rng, region)
    win = _Window(cfg.start_year, cfg.end_year)
    tick("households", 0.0)
    fam = _draw_family(rng, p, world, cfg.scale, win)
    # emigration and death (own random stream: the rest of the world keeps its draws)
    exit_rng = np.random.default_rng([cfg.seed, EXIT_STREAM])
    exit_day, exit_reason = _exits(exit_rng, p, fam.kid_birth, fam.hh_mig[fam.kid_hh], win.y0, win.y1)
    tick("addresses", 0.15)
    addr = _draw_addresses(rng, p, world, fam, win)
    tick("parents", 0.3)
    pev = _draw_parent_events(rng, p, fam, win)
    if region:
        interventions = _choose_region_interventions(world, rng, win.y1)
    else:
        interventions = _choose_interventions(world, geo, rng, win.y0, win.y1)
    ev, truth_rows, iv_effect_rows = _simulate_children(
        rng, p, world, fam, addr, pev, exit_day, _intervention_area_sets(interventions, world), win, tick
    )
    tick("tables", 0.88)
    raw = _raw_tables(rng, p, world, fam, _censor_addresses(addr, exit_day, fam.n_kid), pev, ev, exit_day, win)
    left = np.flatnonzero(exit_day <= win.obs_end)
    if len(left):  # the contract refuses an empty table; without rows the table is absent
        raw["deregistrations"] = pd.DataFrame(
            {
                "rinpersoon": fam.rin[left],
                "deregistration_date": _to_date(exit_day[left]),
                "reason": _cat(exit_reason[left], DEREGISTRATION_REASONS),
            }
        )
    # only these can repeat a key by chance (same-day starts); the others are unique by design
    raw.update({k: _dedupe(k, raw[k]) for k in ("enrolments", "youth_care", "suspects")})
    tick("truth", 0.95)
    person_year = pd.concat(truth_rows, ignore_index=True)
    if p.profile != "additive":
        # the truth says which world it is (kept in the Parquet file's metadata), so the
        # oracles evaluate the right formula; without it: additive (as before profiles existed)
        person_year.attrs[PROFILE_ATTR] = p.profile
    truth = {
        "person_year": person_year,
        "areas": _area_truth(world, region),
        "interventions": _intervention_truth(interventions, iv_effect_rows),
    }
    tick("done", 1.0)
    return SynthResult(
        raw=raw,
        truth=truth,
        interventions=interventions,
        observation_end=dt.date(win.y1, 12, 31),
        coverage=region,
        coverage_name=region_label(cfg.region) if region else "",
    )


def _draw_children(
    rng: np.random.Generator, p: WorldParams, scale: float, region_share: float, y1: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Households of 1-4 children born 8-30 years before ``y1``, drawn until the target number.

    Returns each child's household, each child's birth year and the number of households.
    """
    bmin, bmax = y1 - 30, y1 - 8
    n_cohorts = bmax - bmin + 1
    target = max(int(round(p.national_youth_8_23 / 16 * n_cohorts * scale * region_share)), 50)
    n_hh0 = int(target / 1.9 * 1.35) + 10
    n_kids_hh = 1 + rng.binomial(3, p.kids_extra_p, n_hh0)
    first_by = rng.integers(bmin - 4, bmax + 1, n_hh0)
    hh_of = np.repeat(np.arange(n_hh0), n_kids_hh)
    hh_first = np.cumsum(n_kids_hh) - n_kids_hh
    order = np.arange(len(hh_of)) - np.repeat(hh_first, n_kids_hh)
    gaps = np.where(order == 0, 0, rng.integers(1, 5, len(hh_of)))
    gap_cum = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[hh_first] - gaps[hh_first], n_kids_hh)
    kid_by = first_by[hh_of] + gap_cum
    keep = (kid_by >= bmin) & (kid_by <= bmax)
    # keep households in random order until the target number of children is reached
    hh_order = rng.permutation(n_hh0)
    kids_in = np.bincount(hh_of[keep], minlength=n_hh0)
    cum = np.cumsum(kids_in[hh_order])
    chosen = np.sort(hh_order[: np.searchsorted(cum, target) + 1])
    chosen = chosen[kids_in[chosen] > 0]
    remap = np.full(n_hh0, -1)
    remap[chosen] = np.arange(len(chosen))
    sel = keep & (remap[hh_of] >= 0)
    return remap[hh_of[sel]], kid_by[sel], len(chosen)


def _draw_family(rng: np.random.Generator, p: WorldParams, world: _World, scale: float, win: _Window) -> _Family:
    """Children, where their households start, their vulnerability, separations and parents."""
    kid_hh, kid_by, n_hh = _draw_children(rng, p, scale, world.region_share, win.y1)
    n_kid = len(kid_hh)
    kid_birth = _days(kid_by) + rng.integers(0, 365, n_kid)
    kid_male = rng.random(n_kid) < 0.512

    hh_buurt0 = np.minimum(
        np.searchsorted(np.cumsum(world.youth_draw), rng.random(n_hh), side="right"), len(world.youth_w) - 1
    )
    dep = world.deprivation[hh_buurt0]
    ses = -0.7 * dep + 0.71 * rng.standard_normal(n_hh)
    vuln = -0.6 * ses + 0.8 * rng.standard_normal(n_hh)
    u = rng.random(n_hh)
    p_out = world.p_outside[hh_buurt0]
    p_eu = world.p_europe[hh_buurt0]
    hh_mig = np.where(u < p_out, 2, np.where(u < p_out + p_eu, 1, 0))
    kid_z = 0.7 * vuln[kid_hh] + 0.7 * rng.standard_normal(n_kid)

    # separation: before the window (single-parent from the start) or during it
    single0 = rng.random(n_hh) < _sigmoid(_logit(p.single_parent_share) + 0.5 * vuln)
    sep_draw = rng.random(n_hh) < 1 - np.exp(-p.separation_rate * np.exp(0.3 * vuln) * win.n_years)
    sep_later = np.where(
        sep_draw, win.win_start + rng.integers(0, win.obs_end - win.win_start, n_hh), np.iinfo("int64").max
    )
    sep_day = np.where(single0, win.win_start - 1, sep_later)  # single from the start: known on 1 January
    father_leaves = rng.random(n_hh) < p.father_leaves_share

    # parents: mother and father per household
    first_kid_by = np.full(n_hh, win.y1 - 8)
    np.minimum.at(first_kid_by, kid_hh, kid_by)
    mother_by = first_kid_by - rng.integers(22, 38, n_hh)
    father_by = mother_by - rng.integers(0, 6, n_hh)
    mother_birth = _days(mother_by) + rng.integers(0, 365, n_hh)
    father_birth = _days(father_by) + rng.integers(0, 365, n_hh)
    rin = _unique_ids(rng, n_kid + 2 * n_hh)
    return _Family(
        n_hh=n_hh,
        n_kid=n_kid,
        kid_hh=kid_hh,
        kid_birth=kid_birth,
        kid_male=kid_male,
        kid_z=kid_z,
        hh_buurt0=hh_buurt0,
        ses=ses,
        vuln=vuln,
        hh_mig=hh_mig,
        sep_day=sep_day,
        father_leaves=father_leaves,
        mother_birth=mother_birth,
        father_birth=father_birth,
        rin=rin,
        mother_pid=n_kid + np.arange(n_hh),
        father_pid=n_kid + n_hh + np.arange(n_hh),
    )


def _household_episodes(
    rng: np.random.Generator, p: WorldParams, world: _World, fam: _Family, win: _Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Address episodes of the households (up to 3 moves each), sorted by (household, start).

    Returns household, start day, end day (int64 max: open) and buurt index of each episode.
    """
    n_hh = fam.n_hh
    n_moves = np.minimum(rng.poisson(p.move_rate * win.n_years, n_hh), 3)
    mv_hh = np.repeat(np.arange(n_hh), n_moves)
    mv_day = win.win_start + rng.integers(1, win.obs_end - win.win_start, len(mv_hh))
    o = np.lexsort((mv_day, mv_hh))
    mv_hh, mv_day = mv_hh[o], mv_day[o]
    ep_hh = np.concatenate([np.arange(n_hh), mv_hh])
    ep_start = np.concatenate([np.full(n_hh, win.win_start - 1), mv_day])  # known on 1 January y0
    o = np.lexsort((ep_start, ep_hh))
    ep_hh, ep_start = ep_hh[o], ep_start[o]
    is_first = np.r_[True, ep_hh[1:] != ep_hh[:-1]]
    ep_end = np.r_[ep_start[1:], 0]
    ep_end = np.where(np.r_[ep_hh[1:] != ep_hh[:-1], True], np.iinfo("int64").max, ep_end)
    ep_buurt = np.empty(len(ep_hh), dtype="int64")
    ep_buurt[is_first] = fam.hh_buurt0
    # moves: chain from the previous episode (at most 3 moves, so iterate over move rank)
    rank = np.arange(len(ep_hh)) - np.maximum.accumulate(np.where(is_first, np.arange(len(ep_hh)), 0))
    for r in range(1, 4):
        m = rank == r
        ep_buurt[m] = world.draw_move(rng, ep_buurt[np.flatnonzero(m) - 1], p.move_same_gemeente)
    return ep_hh, ep_start, ep_end, ep_buurt


def _draw_addresses(rng: np.random.Generator, p: WorldParams, world: _World, fam: _Family, win: _Window) -> _Addresses:
    """Every person's address episodes: with the household, then (children who left home,
    departed parents) at an own address, near the household's."""
    ep_hh, ep_start, ep_end, ep_buurt = _household_episodes(rng, p, world, fam, win)
    n_hh, n_kid, obs_end = fam.n_hh, fam.n_kid, win.obs_end
    addr_ids = _unique_ids(rng, len(ep_hh) + fam.n_pers)
    ep_addr = addr_ids[: len(ep_hh)]
    own_addr = addr_ids[len(ep_hh) :]

    # members: (pid, hh, from, to)
    big = np.iinfo("int64").max
    leave_age = rng.uniform(*p.leave_home_age, n_kid)
    kid_leave = fam.kid_birth + (leave_age * 365.25).astype("int64")
    departing, staying = fam.departing, fam.staying
    mem_pid = np.concatenate([np.arange(n_kid), staying, departing])
    mem_hh = np.concatenate([fam.kid_hh, np.arange(n_hh), np.arange(n_hh)])
    known0 = win.win_start - 1  # the first addresses are known on 1 January of the first year
    mem_from = np.concatenate([np.maximum(fam.kid_birth, known0), np.full(n_hh, known0), np.full(n_hh, known0)])
    mem_to = np.concatenate([kid_leave, np.full(n_hh, big), fam.sep_day])
    # join members to their household's episodes (sorted by hh): vectorised range expansion
    hh_ep_first = np.searchsorted(ep_hh, np.arange(n_hh), side="left")
    hh_ep_n = np.bincount(ep_hh, minlength=n_hh)
    rep = hh_ep_n[mem_hh]
    r_mem = np.repeat(np.arange(len(mem_pid)), rep)
    r_ep = np.repeat(hh_ep_first[mem_hh], rep) + (np.arange(len(r_mem)) - np.repeat(np.cumsum(rep) - rep, rep))
    a_start = np.maximum(ep_start[r_ep], mem_from[r_mem])
    a_end = np.minimum(ep_end[r_ep], mem_to[r_mem])
    ok = a_start < a_end

    # own addresses: children who left home, departed parents (same gemeente as household then)
    def at_day(hh: np.ndarray, day: np.ndarray) -> np.ndarray:
        key = ep_hh * np.int64(1 << 20) + ep_start
        idx = np.searchsorted(key, hh * np.int64(1 << 20) + np.minimum(day, obs_end), side="right") - 1
        return ep_buurt[idx]

    kid_left = kid_leave <= obs_end
    kid_left_from = np.maximum(kid_leave, win.win_start)
    dep_left = fam.sep_day <= obs_end
    own_pid = np.concatenate([np.flatnonzero(kid_left), departing[dep_left]])
    own_from = np.concatenate([kid_left_from[kid_left], fam.sep_day[dep_left]])
    own_hh = np.concatenate([fam.kid_hh[kid_left], np.arange(n_hh)[dep_left]])
    own_buurt = world.draw_move(rng, at_day(own_hh, own_from), 0.6)
    a = _Addresses(
        pid=np.concatenate([mem_pid[r_mem][ok], own_pid]),
        start=np.concatenate([a_start[ok], own_from]),
        end=np.concatenate([a_end[ok], np.full(len(own_pid), big)]),
        buurt=np.concatenate([ep_buurt[r_ep][ok], own_buurt]),
        addr=np.concatenate([ep_addr[r_ep][ok], own_addr[own_pid]]),
    )
    a = a.select(np.lexsort((a.start, a.pid)))
    dup = np.r_[False, (a.pid[1:] == a.pid[:-1]) & (a.start[1:] == a.start[:-1])]
    return a.select(~dup)


def _draw_parent_events(rng: np.random.Generator, p: WorldParams, fam: _Family, win: _Window) -> _ParentEvents:
    """Parents' debt help and suspect registrations (depend on household vulnerability only),
    from six years before the window for the look-back indicators."""
    n_hh, vuln = fam.n_hh, fam.vuln
    hist0 = win.y0 - 6
    debt_rows: list[tuple[np.ndarray, ...]] = []
    psus_rows: list[tuple[np.ndarray, ...]] = []
    for y in range(hist0, win.y1 + 1):
        ydays = _days(y)
        n_days = _days(y + 1) - ydays
        # household debt help: one parent registered (the staying parent, else mother)
        hit = rng.random(n_hh) < _sigmoid(p.parent_debt_logit + 0.8 * vuln)
        h = np.flatnonzero(hit)
        wsnp = rng.random(len(h)) < 0.25
        start = ydays + rng.integers(0, n_days, len(h))
        dur = np.where(wsnp, 3 * 365, rng.integers(180, 3 * 365, len(h)))
        debt_rows.append((fam.staying[h], np.where(wsnp, 0, 1), start, start + dur))
        for parent, extra in ((fam.father_pid, 0.7), (fam.mother_pid, 0.0)):
            hit = rng.random(n_hh) < _sigmoid(p.parent_suspect_logit + 0.8 * vuln + extra)
            h = np.flatnonzero(hit)
            psus_rows.append((parent[h], ydays + rng.integers(0, n_days, len(h))))
    pdebt_pid, pdebt_type, pdebt_start, pdebt_end = (np.concatenate(c) for c in zip(*debt_rows, strict=True))
    psus_pid, psus_day = (np.concatenate(c) for c in zip(*psus_rows, strict=True))
    # per household: parent debt episodes and parent suspect days (for the kids' states)
    parent_hh = np.empty(fam.n_pers, dtype="int64")
    parent_hh[fam.mother_pid] = np.arange(n_hh)
    parent_hh[fam.father_pid] = np.arange(n_hh)
    return _ParentEvents(
        debt_pid=pdebt_pid,
        debt_type=pdebt_type,
        debt_start=pdebt_start,
        debt_end=pdebt_end,
        debt_hh=parent_hh[pdebt_pid],
        sus_pid=psus_pid,
        sus_day=psus_day,
        sus_hh=parent_hh[psus_pid],
    )


def _residence(addr: _Addresses, fam: _Family, jan1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per child, as known on 1 January: the buurt (-1: none), living in the register, and living
    with exactly one linked parent (single parent)."""
    kids = np.arange(fam.n_kid)
    known = np.full(fam.n_kid, jan1 - 1)  # addresses as known on 1 January: a move ON it counts as after it
    buurt_now = _episodes_lookup(addr.pid, addr.start, addr.buurt, kids, known)
    addr_now = _episodes_lookup(addr.pid, addr.start, addr.addr, kids, known)
    end_now = _episodes_lookup(addr.pid, addr.start, addr.end, kids, known)
    resident = (buurt_now >= 0) & (end_now > jan1 - 1)
    # single parent: lives at the address of exactly one linked parent
    m_addr = _episodes_lookup(addr.pid, addr.start, addr.addr, fam.mother_pid[fam.kid_hh], known)
    f_addr = _episodes_lookup(addr.pid, addr.start, addr.addr, fam.father_pid[fam.kid_hh], known)
    n_par = (m_addr == addr_now).astype(int) + (f_addr == addr_now).astype(int)
    return buurt_now, resident, resident & (n_par == 1)


def _parent_states(pev: _ParentEvents, fam: _Family, jan1: int) -> tuple[np.ndarray, np.ndarray]:
    """Per child on 1 January: a parent in debt help in the last 24 months, a parent registered
    as a suspect in the last 60 months."""
    lo24 = jan1 - _days_back(jan1, 24)
    m = (pev.debt_start < jan1) & (pev.debt_end >= lo24)
    pdebt_hh_now = np.zeros(fam.n_hh, bool)
    pdebt_hh_now[pev.debt_hh[m]] = True
    lo60 = jan1 - _days_back(jan1, 60)
    m = (pev.sus_day < jan1) & (pev.sus_day >= lo60)
    psus_hh_now = np.zeros(fam.n_hh, bool)
    psus_hh_now[pev.sus_hh[m]] = True
    return pdebt_hh_now[fam.kid_hh], psus_hh_now[fam.kid_hh]


def _intervention_hazard(
    iv_rows: list[tuple[np.ndarray, list[str], int, float]],
    y: int,
    jan1: int,
    n_days: int,
    resident: np.ndarray,
    buurt_now: np.ndarray,
    age: np.ndarray,
    h0: np.ndarray,
    exit_day: np.ndarray,
    detect: np.ndarray,
    iv_effect_rows: list[tuple[int, int, int, float, float]],
) -> np.ndarray:
    """Hazard ratio of the interventions running in year ``y`` per child; appends the truth of
    their effect (rows of ``_intervention_truth``) to ``iv_effect_rows``."""
    hr = np.ones(len(h0))
    band = _band_of(age)
    for iv_idx, (codes_mask, bands, start_year, ratio) in enumerate(iv_rows):
        if y < start_year:
            continue
        treated = resident & (buurt_now >= 0) & codes_mask[np.maximum(buurt_now, 0)] & np.isin(band, bands)
        hr = np.where(treated, hr * ratio, hr)
        if treated.any():
            # truth of the registration rate: person-years in the register only
            stay = np.clip(exit_day - jan1, 0, n_days)[treated] / n_days
            det = detect[buurt_now[treated]] * stay
            iv_effect_rows.append(
                (
                    iv_idx,
                    y,
                    int((stay > 0).sum()),
                    float(np.sum(h0[treated] * (ratio - 1) * det)),
                    float(np.sum(h0[treated] * det)),
                )
            )
    return hr


def _truth_frame(
    rin: np.ndarray,
    y: int,
    keep: np.ndarray,
    columns: dict[str, np.ndarray],
    exposure: np.ndarray,
) -> pd.DataFrame:
    """The truth rows of year ``y`` (person_year): the selected children's states and hazards."""
    float32 = {"h_any", "hazard_ratio", "share_drug", "p_detect", "latent_z"}
    cols = {k: (v[keep].astype("float32") if k in float32 else v[keep]) for k, v in columns.items()}
    cols["age"] = columns["age"][keep].astype("int8")
    return pd.DataFrame(
        {
            "rinpersoon": rin[np.flatnonzero(keep)],
            "year": np.full(int(keep.sum()), y, "int16"),
            **cols,
            # share of the year before the person leaves the register (1 = all)
            "exposure": exposure[keep].astype("float32"),
        }
    )


def _simulate_children(
    rng: np.random.Generator,
    p: WorldParams,
    world: _World,
    fam: _Family,
    addr: _Addresses,
    pev: _ParentEvents,
    exit_day: np.ndarray,
    iv_rows: list[tuple[np.ndarray, list[str], int, float]],
    win: _Window,
    tick: Progress,
) -> tuple[_Events, list[pd.DataFrame], list[tuple[int, int, int, float, float]]]:
    """The children year by year: each year's events drawn from the states on 1 January.

    Returns the events per kind, the truth rows per year (the last seven years) and the truth
    of the interventions' effects.
    """
    n_kid, kid_male, z = fam.n_kid, fam.kid_male, fam.kid_z
    halt_n = np.zeros(n_kid, "int16")
    vsv_ever = np.zeros(n_kid, bool)
    own_debt_ever = np.zeros(n_kid, bool)
    youth_care_ever = np.zeros(n_kid, bool)
    prior_suspect = np.zeros(n_kid, bool)
    ev: _Events = {k: [] for k in ("halt", "vsv", "debt", "care", "sus")}
    truth_rows: list[pd.DataFrame] = []
    iv_effect_rows: list[tuple[int, int, int, float, float]] = []
    for yi, y in enumerate(range(win.y0, win.y1 + 1)):
        tick("events", 0.35 + 0.5 * yi / win.n_years)
        jan1 = _days(y)
        n_days = _days(y + 1) - jan1
        age = _age_on(fam.kid_birth, jan1)
        buurt_now, resident, single_parent = _residence(addr, fam, jan1)
        parent_debt_recent, parent_suspect_recent = _parent_states(pev, fam, jan1)
        # events of this year, from the state on 1 January
        in_ages = resident & (age >= 8) & (age <= 26)
        yc = in_ages & (age <= 17) & (rng.random(n_kid) < _sigmoid(p.youth_care_logit + 0.9 * z))
        p_halt = _sigmoid(p.halt_logit + 0.9 * z + 0.4 * kid_male)
        halt = resident & (age >= 12) & (age <= 17) & (rng.random(n_kid) < p_halt)
        p_vsv = _sigmoid(p.vsv_logit + 1.0 * z + 0.8 * (halt_n > 0) + 0.3 * kid_male)
        vsv = resident & (age >= 16) & (age <= 22) & ~vsv_ever & (rng.random(n_kid) < p_vsv)
        p_odebt = _sigmoid(p.own_debt_logit + 1.0 * z + 0.8 * vsv_ever)
        odebt = resident & (age >= 18) & ~own_debt_ever & (rng.random(n_kid) < p_odebt)
        lin = offending_logit(
            p,
            age,
            kid_male,
            halt_n > 0,
            vsv_ever,
            own_debt_ever,
            parent_debt_recent,
            parent_suspect_recent,
            single_parent,
            youth_care_ever,
            prior_suspect,
            z,
        )
        h0 = _sigmoid(lin)
        hr = _intervention_hazard(
            iv_rows, y, jan1, n_days, resident, buurt_now, age, h0, exit_day, world.detect, iv_effect_rows
        )
        h = np.where(in_ages, h0 * hr, 0.0)
        share_drug = _step(p.drug_share_age, age)
        p_det = np.where(resident, world.detect[np.maximum(buurt_now, 0)], 0.0)
        keep_truth = in_ages & (y >= win.y1 - 6) & (exit_day >= jan1)  # no rows after the year of leaving
        if keep_truth.any():
            states = {
                "age": age,
                "is_male": kid_male,
                "h_any": h,
                "hazard_ratio": hr,
                "share_drug": share_drug,
                "p_detect": p_det,
                "halt_n": halt_n,
                "vsv_ever": vsv_ever,
                "own_debt_ever": own_debt_ever,
                "parent_debt_recent": parent_debt_recent,
                "parent_suspect_recent": parent_suspect_recent,
                "single_parent": single_parent,
                "youth_care_ever": youth_care_ever,
                "prior_suspect": prior_suspect,
                "latent_z": z,
            }
            exposure = np.clip(exit_day - jan1, 0, n_days) / n_days
            truth_rows.append(_truth_frame(fam.rin, y, keep_truth, states, exposure))
        idx, on_probation = _draw_registrations(rng, p, ev, h, p_det, share_drug, age, jan1, n_days, win.obs_end)
        _draw_event_days(rng, ev, jan1, n_days, care=yc, halt=halt, vsv=vsv, debt=odebt)
        # update states for next year (events strictly before next 1 January)
        halt_n += halt
        vsv_ever |= vsv
        own_debt_ever |= odebt
        youth_care_ever |= yc
        youth_care_ever[on_probation] = True
        prior_suspect[idx] = True
    return ev, truth_rows, iv_effect_rows


def _draw_registrations(
    rng: np.random.Generator,
    p: WorldParams,
    ev: _Events,
    h: np.ndarray,
    p_det: np.ndarray,
    share_drug: np.ndarray,
    age: np.ndarray,
    jan1: int,
    n_days: int,
    obs_end: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Offences of one year, their registration as a suspect and youth probation after it.

    Appends the suspect registrations and probation starts to ``ev``; returns the children
    registered and those put on probation.
    """
    offend = rng.random(len(h)) < h
    registered = offend & (rng.random(len(h)) < p_det)
    idx = np.flatnonzero(registered)
    drug = rng.random(len(idx)) < share_drug[idx]
    other = rng.integers(1, len(OFFENCES), len(idx))
    sus_day = jan1 + rng.integers(0, n_days, len(idx))
    ev["sus"].append((idx, sus_day, np.where(drug, 0, other)))
    # youth probation after a registration at 12-17
    prob = (age[idx] >= 12) & (age[idx] <= 17) & (rng.random(len(idx)) < p.probation_after_registration)
    # starts 20-90 days later, within the same year so the 1 January state stays exact
    prob_day = np.minimum(sus_day[prob] + rng.integers(20, 90, int(prob.sum())), jan1 + n_days - 1)
    ev["care"].append((idx[prob], np.minimum(prob_day, obs_end), np.full(int(prob.sum()), 2)))
    return idx, idx[prob]


def _draw_event_days(
    rng: np.random.Generator,
    ev: _Events,
    jan1: int,
    n_days: int,
    *,
    care: np.ndarray,
    halt: np.ndarray,
    vsv: np.ndarray,
    debt: np.ndarray,
) -> None:
    """Days in the year (and types) of the youth care, Halt, early school leaving and debt help
    events of the children flagged; appends them to ``ev``."""
    i = np.flatnonzero(care)
    ev["care"].append((i, jan1 + rng.integers(0, n_days, len(i)), (rng.random(len(i)) < 0.1).astype(int)))
    i = np.flatnonzero(halt)
    ev["halt"].append((i, jan1 + rng.integers(0, n_days, len(i))))
    i = np.flatnonzero(vsv)
    ev["vsv"].append((i, jan1 + rng.integers(0, n_days, len(i))))
    i = np.flatnonzero(debt)
    ev["debt"].append((i, jan1 + rng.integers(0, n_days, len(i)), (rng.random(len(i)) < 0.2).astype(int)))


def _cat(values: np.ndarray, labels: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(values.astype("int8"), categories=list(labels))


def _censor_addresses(addr: _Addresses, exit_day: np.ndarray, n_kid: int) -> _Addresses:
    """Addresses as recorded: a young person who emigrates or dies has none from that day on.

    The world is simulated as if nobody left (so every draw of the main stream, and everyone
    else's life, is the same as without them); departures censor the record afterwards.
    """
    a_exit = np.where(addr.pid < n_kid, exit_day[np.minimum(addr.pid, n_kid - 1)], np.iinfo("int64").max)
    here = addr.start < a_exit
    return _Addresses(
        addr.pid[here], addr.start[here], np.minimum(addr.end, a_exit)[here], addr.buurt[here], addr.addr[here]
    )


def _open_end(end: np.ndarray, obs_end: int) -> pd.Series:
    """End dates as recorded: missing for episodes still running at the end of observation."""
    out = np.where(end > obs_end, -1, end)
    return pd.Series(_to_date(np.maximum(out, 0))).where(out >= 0)


def _event_rows(ev: _Events, key: str, exit_day: np.ndarray) -> list[np.ndarray]:
    """The children's events of one kind as columns, without those after emigration or death."""
    cols = [np.concatenate(c) for c in zip(*ev[key], strict=True)]
    stay = cols[1] < exit_day[cols[0]]  # nothing is registered after emigration or death
    return [c[stay] for c in cols]


def _raw_tables(
    rng: np.random.Generator,
    p: WorldParams,
    world: _World,
    fam: _Family,
    addr: _Addresses,
    pev: _ParentEvents,
    ev: _Events,
    exit_day: np.ndarray,
    win: _Window,
) -> dict[str, pd.DataFrame]:
    """The raw contract tables (all but deregistrations) from the simulated lives."""
    rin, n_kid, n_hh, kid_hh, obs_end = fam.rin, fam.n_kid, fam.n_hh, fam.kid_hh, win.obs_end
    buurt_codes = world.buurt["code"].to_numpy(str)
    sex = np.concatenate([np.where(fam.kid_male, "M", "V"), np.full(n_hh, "V"), np.full(n_hh, "M")])
    birth = np.concatenate([fam.kid_birth, fam.mother_birth, fam.father_birth])
    mig = np.concatenate([fam.hh_mig[kid_hh], fam.hh_mig, fam.hh_mig])
    persons = pd.DataFrame(
        {
            "rinpersoon": rin,
            "birth_date": _to_date(birth),
            "sex": pd.Categorical(sex, categories=["M", "V"]),
            "migration_group": _cat(mig, ("nederland", "europa", "buiten_europa")),
        }
    )
    parent_child = pd.DataFrame(
        {
            "rinpersoon": np.concatenate([rin[:n_kid], rin[:n_kid]]),
            "rinpersoon_parent": np.concatenate([rin[fam.mother_pid[kid_hh]], rin[fam.father_pid[kid_hh]]]),
        }
    )
    addresses = pd.DataFrame(
        {
            "rinpersoon": rin[addr.pid],
            "address_id": addr.addr,
            "buurt_code": pd.Categorical.from_codes(addr.buurt, categories=list(buurt_codes)),
            "date_start": _to_date(addr.start),
            "date_end": _open_end(addr.end, obs_end),
        }
    )
    h_i, h_d = _event_rows(ev, "halt", exit_day)
    halt_cat = _cat(rng.integers(0, len(HALT_CATEGORIES), len(h_i)), HALT_CATEGORIES)
    halt_tbl = pd.DataFrame({"rinpersoon": rin[h_i], "referral_date": _to_date(h_d), "halt_category": halt_cat})
    v_i, v_d = _event_rows(ev, "vsv", exit_day)
    vsv_tbl = pd.DataFrame({"rinpersoon": rin[v_i], "vsv_date": _to_date(v_d)})
    d_i, d_d, d_t = _event_rows(ev, "debt", exit_day)
    d_end = d_d + np.where(d_t == 0, 3 * 365, rng.integers(180, 3 * 365, len(d_i)))
    all_debt_pid = np.concatenate([d_i, pev.debt_pid])
    debt_tbl = pd.DataFrame(
        {
            "rinpersoon": rin[all_debt_pid],
            "debt_type": _cat(np.concatenate([np.where(d_t == 1, 0, 1), pev.debt_type]), ("wsnp", "minnelijk")),
            "date_start": _to_date(np.concatenate([d_d, pev.debt_start])),
            "date_end": _open_end(np.concatenate([d_end, pev.debt_end]), obs_end),
        }
    )
    s_i, s_d, s_o = _event_rows(ev, "sus", exit_day)
    sus_pid = np.concatenate([s_i, pev.sus_pid])
    sus_day = np.concatenate([s_d, pev.sus_day])
    sus_off = np.concatenate([s_o, rng.integers(0, len(OFFENCES), len(pev.sus_pid))])
    suspects = pd.DataFrame(
        {"rinpersoon": rin[sus_pid], "registration_date": _to_date(sus_day), "offence": _cat(sus_off, OFFENCES)}
    )
    c_i, c_d, c_t = _event_rows(ev, "care", exit_day)
    c_end = c_d + rng.integers(60, 2 * 365, len(c_i))
    care = pd.DataFrame(
        {
            "rinpersoon": rin[c_i],
            "care_type": _cat(c_t, ("jeugdhulp", "jeugdbescherming", "jeugdreclassering")),
            "date_start": _to_date(c_d),
            "date_end": _open_end(c_end, obs_end),
        }
    )
    kid_gm = world.gm_idx[fam.hh_buurt0[kid_hh]]
    enrol = _enrolments(rng, p, fam.kid_birth, fam.kid_z, kid_gm, obs_end, win.win_start)
    enrol = _end_at_exit(enrol, exit_day)
    enrol["rinpersoon"] = rin[enrol.pop("pid").to_numpy()]
    income = _income(rng, rin[:n_kid], fam.kid_birth, fam.ses[kid_hh], win.y0, win.y1)
    return {
        "persons": persons,
        "parent_child": parent_child,
        "addresses": addresses,
        "enrolments": enrol[["rinpersoon", "school_id", "level", "date_start", "date_end"]],
        "vsv": vsv_tbl,
        "halt": halt_tbl,
        "debt": debt_tbl,
        "suspects": suspects,
        "youth_care": care,
        "household_income": income,
    }


def _days_back(jan1: int, months: int) -> int:
    d = DAY0 + np.timedelta64(int(jan1), "D")
    back = (d.astype("datetime64[M]") - np.timedelta64(months, "M")).astype("datetime64[D]") + (
        d - d.astype("datetime64[M]").astype("datetime64[D]")
    )
    return int((d - back).astype("int64"))


def _band_of(age: np.ndarray) -> np.ndarray:
    out = np.full(len(age), "", dtype=object)
    for band in AGE_BANDS:
        lo, hi = BAND_LIMITS[band]
        out[(age >= lo) & (age <= hi)] = band
    return out


def _dedupe(name: str, df: pd.DataFrame) -> pd.DataFrame:
    from features.contract import TABLES

    return df.drop_duplicates(list(TABLES[name].key)).reset_index(drop=True)


#: The synthetic interventions: id, name, treated bands, start year relative to end_year - 5,
#: true hazard ratio on offending (docs/synthetic.md).
_INTERVENTIONS: tuple[tuple[str, str, tuple[str, ...], int, float], ...] = (
    ("IV01", "Preventie met gezag", ("13-19",), 0, 0.6),
    ("IV02", "Jongerenwerk plus", ("13-19", "20-23"), 1, 0.7),
    ("IV03", "School aan zet", ("8-12", "13-19"), -1, 0.65),
    ("IV04", "Sport in de wijk", ("13-19",), 2, 1.0),
    ("IV05", "Wijkaanpak", ("13-19",), 1, 0.5),
)


def _choose_interventions(world: _World, geo: Geography, rng: np.random.Generator, y0: int, y1: int) -> pd.DataFrame:
    """A handful of staggered interventions in large gemeenten (one wijk-level), disjoint areas."""
    gm_youth = pd.Series(np.bincount(world.gm_idx, weights=world.youth_w), index=world.gm_codes)
    big = gm_youth.sort_values(ascending=False).index[:40].to_numpy()
    pick = rng.permutation(big)
    s = y1 - 5  # start years relative to the data window: y1-5 .. y1-2
    areas = {"IV01": pick[0:3], "IV02": pick[3:5], "IV03": pick[5:7], "IV04": pick[7:9]}
    specs = [(i, n, list(areas[i]), list(b), s + ds, hr) for i, n, b, ds, hr in _INTERVENTIONS[:4]]
    # a single large wijk outside the gemeenten above, for synthetic control
    used = set(np.concatenate([np.array(x[2]) for x in specs]))
    wk_youth = pd.Series(np.bincount(world.wk_idx, weights=world.youth_w), index=world.wk_codes)
    wk_gm = pd.Series(world.buurt.groupby("wk_code")["gm_code"].first())
    candidates = wk_youth[~wk_gm.reindex(wk_youth.index).isin(used)].sort_values(ascending=False).index[:20]
    wk = str(rng.choice(candidates))
    i, n, b, ds, hr = _INTERVENTIONS[4]
    specs.append((i, n, [wk], list(b), s + ds, hr))
    rows = [
        {
            "intervention_id": i,
            "name": n,
            "area_codes": ";".join(codes),
            "age_bands": ";".join(bands),
            "start_date": pd.Timestamp(dt.date(start, 1, 1)),
            "hazard_ratio": hr,
        }
        for i, n, codes, bands, start, hr in specs
    ]
    return pd.DataFrame(rows)


def _choose_region_interventions(world: _World, rng: np.random.Generator, y1: int) -> pd.DataFrame:
    """The same five interventions inside a region, each in wijken (disjoint, among its largest).

    A region has too few gemeenten to treat whole gemeenten and keep never-treated ones for
    comparison, so every intervention treats wijken: IV01-IV04 (3, 2, 2 and 2 wijken, drawn
    from the region's largest wijken by young people) and IV05 one large wijk for synthetic
    control. At least as many wijken stay untreated as are treated.

    Raises
    ------
    ConfigError
        If the region has too few wijken for that.
    """
    sizes = [("IV01", 3), ("IV02", 2), ("IV03", 2), ("IV04", 2), ("IV05", 1)]
    n_treated = sum(k for _, k in sizes)
    wk_youth = pd.Series(np.bincount(world.wk_idx, weights=world.youth_w), index=world.wk_codes)
    inside = wk_youth[pd.Index(world.wk_codes).isin(world.buurt.loc[world.in_region, "wk_code"])]
    if len(inside) < 2 * n_treated:
        raise ConfigError(
            "synth.region",
            f"has {len(inside)} wijken; the synthetic interventions need at least {2 * n_treated} "
            f"({n_treated} treated and as many for comparison): choose a larger region",
        )
    big = inside.sort_values(ascending=False).index[: max(2 * n_treated, len(inside) // 2)].to_numpy()
    pick = list(rng.permutation(big))
    rows = []
    for (iv, k), (_, name, bands, ds, hr) in zip(sizes, _INTERVENTIONS, strict=True):
        codes, pick = pick[:k], pick[k:]
        rows.append(
            {
                "intervention_id": iv,
                "name": name,
                "area_codes": ";".join(str(c) for c in codes),
                "age_bands": ";".join(bands),
                "start_date": pd.Timestamp(dt.date(y1 - 5 + ds, 1, 1)),
                "hazard_ratio": hr,
            }
        )
    return pd.DataFrame(rows)


def _intervention_area_sets(ivs: pd.DataFrame, world: _World) -> list[tuple[np.ndarray, list[str], int, float]]:
    out = []
    gm = world.buurt["gm_code"].to_numpy(str)
    wk = world.buurt["wk_code"].to_numpy(str)
    bu = world.buurt["code"].to_numpy(str)
    for row in ivs.itertuples():
        codes = row.area_codes.split(";")
        mask = np.isin(gm, codes) | np.isin(wk, codes) | np.isin(bu, codes)
        out.append((mask, row.age_bands.split(";"), row.start_date.year, row.hazard_ratio))
    return out


def _intervention_truth(ivs: pd.DataFrame, rows: list[tuple[int, int, int, float, float]]) -> pd.DataFrame:
    eff = pd.DataFrame(rows, columns=["iv", "year", "n_treated", "delta_reg", "base_reg"])
    agg = eff.groupby("iv")[["n_treated", "delta_reg", "base_reg"]].sum()
    out = ivs.copy()
    n = agg["n_treated"].reindex(range(len(ivs))).fillna(0).to_numpy()
    out["treated_person_years"] = n.astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["true_att_reg_per_1000"] = 1000 * agg["delta_reg"].reindex(range(len(ivs))).to_numpy() / n
        out["untreated_reg_per_1000"] = 1000 * agg["base_reg"].reindex(range(len(ivs))).to_numpy() / n
    return out


def _area_truth(world: _World, region: tuple[str, ...] = ()) -> pd.DataFrame:
    wk = pd.DataFrame(
        {
            "area_code": world.wk_codes,
            "area_level": "wijk",
            "enforcement_multiplier": world.wk_multiplier,
            "over_policed": world.wk_over,
            "deprivation": world.wk_deprivation,
        }
    )
    bu = pd.DataFrame(
        {
            "area_code": world.buurt["code"].to_numpy(str),
            "area_level": "buurt",
            "enforcement_multiplier": world.wk_multiplier[world.wk_idx],
            "over_policed": world.wk_over[world.wk_idx],
            "deprivation": world.deprivation,
        }
    )
    out = pd.concat([wk, bu], ignore_index=True)
    if region:  # the region's wijken and buurten only
        inside = set(world.buurt.loc[world.in_region, "code"]) | set(world.buurt.loc[world.in_region, "wk_code"])
        out = out[out["area_code"].isin(inside)].reset_index(drop=True)
    return out


def _enrolments(
    rng: np.random.Generator,
    p: WorldParams,
    birth: np.ndarray,
    z: np.ndarray,
    gm: np.ndarray,
    obs_end: int,
    win_start: int,
) -> pd.DataFrame:
    """Primary (po/so), secondary (vo/vso, with school changes) and tertiary (mbo/hbo/wo) spells."""
    n = len(birth)
    by = _years_of(birth)
    special = rng.random(n) < _sigmoid(p.special_ed_logit + 1.0 * z)
    vo_years = np.where(z > 0.8, 4, rng.choice([4, 5, 6], n, p=[0.45, 0.3, 0.25]))
    post_years = rng.integers(2, 6, n)
    tertiary = np.where(vo_years == 4, 4, np.where(vo_years == 5, 5, 6))  # mbo / hbo / wo

    def school(k: np.ndarray) -> np.ndarray:
        return gm[k] * 1000 + rng.integers(0, 40, len(k))

    k = np.arange(n)
    po_s, po_e = _days(by + 4, 8, 1), _days(by + 12, 8, 1)
    vo_s, vo_e = po_e, _days(by + 12 + vo_years, 8, 1)
    post_e = _days(by + 12 + vo_years + post_years, 8, 1)
    change = rng.random(n) < _sigmoid(p.school_change_logit + 0.6 * z)
    ch_day = vo_s + (rng.random(n) * (vo_e - vo_s)).astype("int64")
    level_primary = np.where(special, 1, 0)
    level_secondary = np.where(special, 3, 2)
    parts = [
        (k, school(k), level_primary, po_s, po_e),
        (k, school(k), level_secondary, vo_s, np.where(change, ch_day, vo_e)),
        (k[change], school(k[change]), level_secondary[change], ch_day[change], vo_e[change]),
        (k, school(k), tertiary, vo_e, post_e),
    ]
    pid, sid, lvl, s, e = (np.concatenate(c) for c in zip(*parts, strict=True))
    keep = (s <= obs_end) & (e > win_start - 10 * 365)
    pid, sid, lvl, s, e = pid[keep], sid[keep], lvl[keep], s[keep], e[keep]
    e = np.where(e > obs_end, -1, e)
    from features.contract import SCHOOL_LEVELS

    return pd.DataFrame(
        {
            "pid": pid,
            "school_id": sid.astype("int64"),
            "level": pd.Categorical.from_codes(lvl.astype("int8"), categories=list(SCHOOL_LEVELS)),
            "date_start": _to_date(s),
            "date_end": pd.Series(_to_date(np.maximum(e, 0))).where(e >= 0),
        }
    )


def _income(
    rng: np.random.Generator, rin: np.ndarray, birth: np.ndarray, ses: np.ndarray, y0: int, y1: int
) -> pd.DataFrame:
    """Household income quintile per young person and year (years they are 7-23)."""
    frames = []
    by = _years_of(birth)
    for y in range(y0, y1 + 1):
        m = (y - by >= 7) & (y - by <= 23)
        score = ses[m] + 0.35 * rng.standard_normal(int(m.sum()))
        q = np.searchsorted(np.quantile(score, [0.2, 0.4, 0.6, 0.8]), score, side="right") + 1
        frames.append(
            pd.DataFrame(
                {"rinpersoon": rin[m], "year": np.full(int(m.sum()), y, "int16"), "income_group": q.astype("int8")}
            )
        )
    return pd.concat(frames, ignore_index=True)


def _exits(
    rng: np.random.Generator, p: WorldParams, birth: np.ndarray, mig: np.ndarray, y0: int, y1: int
) -> tuple[np.ndarray, np.ndarray]:
    """Day each young person leaves the register (int64 max if never) and why (0 death, 1 emigration).

    Per simulated year, from the age on 1 January within ``p.leave_register_ages``: death with
    ``p.death_age``, emigration with ``p.emigration_age`` times the migration group's factor;
    the first such year counts, on a uniform day of it.
    """
    never = np.iinfo("int64").max
    day = np.full(len(birth), never, "int64")
    reason = np.zeros(len(birth), "int8")
    lo, hi = p.leave_register_ages
    factor = np.asarray(p.emigration_group_factor)[mig]
    for y in range(y0, y1 + 1):
        jan1 = _days(y)
        n_days = _days(y + 1) - jan1
        age = _age_on(birth, jan1)
        ok = (age >= lo) & (age <= hi) & (day == never)
        die = _step(p.death_age, age)
        emig = _step(p.emigration_age, age) * factor
        u = rng.random(len(birth))
        hit = ok & (u < die + emig)
        day[hit] = jan1 + rng.integers(0, n_days, int(hit.sum()))
        reason[hit] = np.where(u[hit] < die[hit], 0, 1)
    return day, reason


def _end_at_exit(enrol: pd.DataFrame, exit_day: np.ndarray) -> pd.DataFrame:
    """Enrolments of a person who left: none from the exit day on; an ongoing one ends then."""
    ex = exit_day[enrol["pid"].to_numpy()]
    start = (enrol["date_start"].to_numpy().astype("datetime64[D]") - DAY0).astype("int64")
    out = enrol[start < ex].reset_index(drop=True)
    ex = ex[start < ex]
    end = out["date_end"]
    end_days = (end.to_numpy().astype("datetime64[D]") - DAY0).astype("int64")
    end_day = np.where(end.isna(), np.iinfo("int64").max, end_days)
    cut = ex < end_day
    if cut.any():
        new_end = pd.Series(_to_date(np.where(cut, ex, 0)), index=out.index)
        out["date_end"] = new_end.where(cut, end)
    return out
