"""Configuration of the feature stage and the synthetic generator (frozen, typed)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

from aanwas.common.config import require
from features.contract import OFFENCES

AGE_BANDS = ("8-12", "13-19", "20-23")
BAND_LIMITS: Mapping[str, tuple[int, int]] = MappingProxyType({"8-12": (8, 12), "13-19": (13, 19), "20-23": (20, 23)})
#: World profiles of the synthetic generator (docs/synthetic.md, "World profiles"): ``additive``
#: (risk factors add up on the log-odds scale, with a few small interactions) and
#: ``interactions`` (family risk factors count only in combination, conjunctions of school
#: leaving with Halt and debt, an age-graded prior registration).
WORLD_PROFILES = ("additive", "interactions")


@dataclasses.dataclass(frozen=True)
class LabelConfig:
    """Outcome for one age band: suspect registration for one of ``offences`` within the horizon."""

    offences: tuple[str, ...] = ("opiumwet",)
    horizon_months: int = 24

    def __post_init__(self) -> None:
        require(len(self.offences) > 0, "features.labels.offences", "must name at least one offence")
        for o in self.offences:
            require(o in OFFENCES, "features.labels.offences", f"unknown offence {o!r} (known: {list(OFFENCES)})")
        require(1 <= self.horizon_months <= 120, "features.labels.horizon_months", "must be 1..120")


def _default_labels() -> Mapping[str, LabelConfig]:
    return MappingProxyType(
        {
            # 8-12: drug-law registrations are very rare below 12 (criminal responsibility
            # starts at 12); any suspect registration within 48 months (so by 12-16).
            "8-12": LabelConfig(offences=OFFENCES, horizon_months=48),
            "13-19": LabelConfig(offences=("opiumwet",), horizon_months=24),
            "20-23": LabelConfig(offences=("opiumwet",), horizon_months=24),
        }
    )


#: Engines of the feature build (:class:`BuildConfig`).
BUILD_ENGINES = ("pandas", "dask")


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """How the feature table is computed (never what it holds: every engine gives the same table).

    Attributes
    ----------
    engine : str
        ``"pandas"``: the whole delivery in memory at once (the default; fastest while it fits).
        ``"dask"``: split by person into ``partitions`` parts with dask.dataframe and built part
        by part (``features.sources.partition``), for deliveries larger than one machine's
        memory; on the scheduler ``compute.scheduler`` when set. Needs ``aanwas[scale]`` and a
        delivery of Parquet files in the contract layout.
    partitions : int
        Number of person partitions of the ``dask`` engine; peak memory of a part is about the
        pandas build's divided by it.
    row_group_rows : int
        Rows per Parquet row group of ``features.parquet`` and ``audit.parquet``: each reference
        date is cut into groups of this many rows (its last group holds the rest), in the same
        places by every engine, so the files are byte-identical. What the ``dask`` engine holds
        at once to write the files is about this many rows (docs/dev/scale.md).
    """

    engine: str = "pandas"
    partitions: int = 16
    row_group_rows: int = 262_144

    def __post_init__(self) -> None:
        require(self.engine in BUILD_ENGINES, "features.build.engine", f"must be one of {list(BUILD_ENGINES)}")
        require(1 <= self.partitions <= 100_000, "features.build.partitions", "must be 1..100000")
        require(1 <= self.row_group_rows <= 2**26, "features.build.row_group_rows", "must be 1..67108864")


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Reference dates (peildata), label definitions and look-back windows."""

    first_ref_date: dt.date = dt.date(2018, 1, 1)
    ref_step_months: int = 12
    #: look-back of the "recent" indicators: parental debt, moves, school changes (months)
    recent_months: int = 24
    labels: Mapping[str, LabelConfig] = dataclasses.field(default_factory=_default_labels)
    #: look-back for a parent's suspect registration (months)
    parent_suspect_months: int = 60
    #: "months since last event" indicators are capped here; no event at all also gives the cap
    recency_cap_months: int = 120
    #: engine of the build (the table is the same with every engine)
    build: BuildConfig = dataclasses.field(default_factory=BuildConfig)

    def __post_init__(self) -> None:
        require(1 <= self.ref_step_months <= 24, "features.ref_step_months", "must be 1..24")
        require(1 <= self.recent_months <= 120, "features.recent_months", "must be 1..120")
        require(1 <= self.parent_suspect_months <= 240, "features.parent_suspect_months", "must be 1..240")
        require(12 <= self.recency_cap_months <= 600, "features.recency_cap_months", "must be 12..600")
        bands = f"must define exactly the bands {list(AGE_BANDS)}"
        require(set(self.labels) == set(AGE_BANDS), "features.labels", bands)


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """Size, place and window of the synthetic population (rates: features.sources.synth).

    Attributes
    ----------
    scale : float
        Share of the real number of young people that is generated: 1.0 = as many as live there
        (about 3.4M aged 8-23 for the whole country).
    seed : int
        Random seed; same seed, same population.
    start_year, end_year : int
        Window of simulated years.
    region : tuple of str
        Where the population lives. Empty: the whole country. Otherwise the union of gemeente
        codes or names, veiligheidsregio codes or names and provincie codes or names (e.g.
        ``["Gooi en Vechtstreek"]``, ``["GM0402", "GM0406"]``, ``["PV26"]``); everyone lives,
        moves and goes to school inside it, and ``scale`` is the density within it.
    profile : str
        How risk factors combine in the true offending model, one of :data:`WORLD_PROFILES`:
        ``"additive"`` (the default world) or ``"interactions"`` (non-additive structure that a
        main-effects model cannot express); see docs/synthetic.md, "World profiles".
    """

    scale: float = 0.01
    seed: int = 1
    start_year: int = 2010
    end_year: int = 2024
    region: tuple[str, ...] = ()
    profile: str = "additive"

    def __post_init__(self) -> None:
        from features.sources.region import resolve_region

        require(0 < self.scale <= 2.0, "synth.scale", "must be in (0, 2]")
        require(self.profile in WORLD_PROFILES, "synth.profile", f"must be one of {list(WORLD_PROFILES)}")
        resolve_region(self.region)  # an unknown name is a ConfigError naming synth.region
        require(self.seed >= 0, "synth.seed", "must be >= 0")
        require(2000 <= self.start_year, "synth.start_year", "must be >= 2000")
        require(self.end_year - self.start_year >= 6, "synth.end_year", "need at least 7 years of history")
