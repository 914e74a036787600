"""The feature catalogue: every model input with its definition, look-back window and bands.

This module is the single list of model inputs. :func:`feature_columns` gives the inputs of an
age band (an indicator that cannot apply to a band is absent from it, never zero-filled), and
``python -m features.catalogue > docs/features.md`` renders the catalogue for people; a test
keeps the committed file equal to the generated text.

Band rule: an indicator applies to a band when the event it records can happen at some age in
the band or before it (Halt from 12, so 8-12 keeps it for its 12-year-olds; own debt
restructuring from 18, so 13-19 and 20-23). Audit-only attributes
(:data:`features.contract.AUDIT_ONLY_COLUMNS`) are never in the catalogue.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from aanwas.common.errors import ConfigError
from features.config import AGE_BANDS, BAND_LIMITS, FeatureConfig
from features.contract import AUDIT_ONLY_COLUMNS, OFFENCES

Kind = Literal["base", "flag", "count", "months"]

#: Key columns of the feature table (one row per person and reference date).
KEY_COLUMNS = ("rinpersoon", "ref_date", "age_band", "buurt", "wijk", "gemeente")
#: The outcome column (pandas nullable boolean; NA = censored).
LABEL_COLUMN = "label"
#: Columns of the separate audit frame (never model inputs).
AUDIT_COLUMNS = ("rinpersoon", "ref_date", "sex", "migration_group", "income_group")


def bands_from_age(min_age: int) -> tuple[str, ...]:
    """Bands whose oldest age is at least ``min_age`` (the event can have happened by then).

    Examples
    --------
    >>> bands_from_age(18)
    ('13-19', '20-23')
    >>> bands_from_age(12)
    ('8-12', '13-19', '20-23')
    """
    return tuple(b for b in AGE_BANDS if BAND_LIMITS[b][1] >= min_age)


@dataclasses.dataclass(frozen=True)
class Indicator:
    """One model input.

    ``window`` and ``definition`` may name config fields in braces (``{recent_months}``); they
    are filled from a :class:`~features.config.FeatureConfig` when rendered.
    """

    name: str
    family: str
    kind: Kind
    definition: str
    window: str
    bands: tuple[str, ...]
    sources: tuple[str, ...]

    def render(self, text: str, config: FeatureConfig) -> str:
        return text.format(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})


ALL = AGE_BANDS
_EVER = "all history before the reference date"

INDICATORS: tuple[Indicator, ...] = (
    # base ---------------------------------------------------------------------------------
    Indicator(
        "age",
        "base",
        "base",
        "Age in completed years on the reference date.",
        "on the reference date",
        ALL,
        ("persons",),
    ),
    Indicator(
        "is_male", "base", "base", "1 if the registered sex is M, else 0.", "on the reference date", ALL, ("persons",)
    ),
    # justice --------------------------------------------------------------------------------
    Indicator(
        "ind_halt_ever",
        "justice",
        "flag",
        "Any Halt referral strictly before the reference date (Halt refers 12-17-year-olds; "
        "the history stays relevant at older ages).",
        _EVER,
        bands_from_age(12),
        ("halt",),
    ),
    Indicator(
        "ind_n_halt",
        "justice",
        "count",
        "Number of Halt referrals strictly before the reference date.",
        _EVER,
        bands_from_age(12),
        ("halt",),
    ),
    Indicator(
        "ind_months_since_halt",
        "justice",
        "months",
        "Completed calendar months since the most recent Halt referral before the reference "
        "date, capped at {recency_cap_months}; {recency_cap_months} when there was none.",
        _EVER,
        bands_from_age(12),
        ("halt",),
    ),
    Indicator(
        "ind_prior_suspect",
        "justice",
        "flag",
        "Own police suspect registration (any offence) strictly before the reference date.",
        _EVER,
        ALL,
        ("suspects",),
    ),
    Indicator(
        "ind_n_prior_suspect",
        "justice",
        "count",
        "Number of own suspect registrations (any offence; one per date and offence) strictly "
        "before the reference date.",
        _EVER,
        ALL,
        ("suspects",),
    ),
    Indicator(
        "ind_prior_drug_suspect",
        "justice",
        "flag",
        "Own suspect registration for a drug-law (opiumwet) offence strictly before the reference date.",
        _EVER,
        ALL,
        ("suspects",),
    ),
    Indicator(
        "ind_parent_suspect_recent",
        "justice",
        "flag",
        "A linked parent (parent_child) has a suspect registration (any offence) in the "
        "{parent_suspect_months} months before the reference date: ref - "
        "{parent_suspect_months} months <= registration date < ref.",
        "{parent_suspect_months} months (features.parent_suspect_months)",
        ALL,
        ("parent_child", "suspects"),
    ),
    # education ------------------------------------------------------------------------------
    Indicator(
        "ind_vsv_ever",
        "education",
        "flag",
        "Any early-school-leaving (VSV) registration strictly before the reference date "
        "(VSV is registered from age 12).",
        _EVER,
        bands_from_age(12),
        ("vsv",),
    ),
    Indicator(
        "ind_special_education_ever",
        "education",
        "flag",
        "Any enrolment in special education (so or vso) that started strictly before the reference date.",
        _EVER,
        ALL,
        ("enrolments",),
    ),
    Indicator(
        "ind_n_school_changes",
        "education",
        "count",
        "Number of school changes within a stage of education in the {recent_months} months "
        "before the reference date: enrolments started in that window at a different school than "
        "the person's previous enrolment, at the same stage (primary po/so, secondary vo/vso, mbo, "
        "hbo, wo). The ordinary transitions between stages (po -> vo, vo -> mbo/hbo/wo) are not "
        "counted: they would make the count a function of age.",
        "{recent_months} months (features.recent_months)",
        ALL,
        ("enrolments",),
    ),
    Indicator(
        "ind_enrolled",
        "education",
        "flag",
        "Enrolled on the reference date: an enrolment started strictly before it and not ended "
        "before it. Absent for 8-12, where compulsory education makes it constant.",
        "on the reference date",
        ("13-19", "20-23"),
        ("enrolments",),
    ),
    # debt -----------------------------------------------------------------------------------
    Indicator(
        "ind_own_debt_ever",
        "debt",
        "flag",
        "Own debt restructuring (WSNP or amicable debt help) started strictly before the "
        "reference date (possible from age 18).",
        _EVER,
        bands_from_age(18),
        ("debt",),
    ),
    Indicator(
        "ind_parent_debt_recent",
        "debt",
        "flag",
        "A linked parent had a debt episode (WSNP or amicable) active at some time in the "
        "{recent_months} months before the reference date: started before ref and not ended "
        "before ref - {recent_months} months.",
        "{recent_months} months (features.recent_months)",
        ALL,
        ("parent_child", "debt"),
    ),
    # household ------------------------------------------------------------------------------
    Indicator(
        "ind_single_parent",
        "household",
        "flag",
        "On the reference date (addresses as known from events strictly before it) the person "
        "lives at the same address as exactly one of their linked parents (0 when living with "
        "both or with neither). A move ON the reference date counts from the next date.",
        "on the reference date",
        ALL,
        ("parent_child", "addresses"),
    ),
    # care -----------------------------------------------------------------------------------
    Indicator(
        "ind_youth_care_ever",
        "care",
        "flag",
        "Any youth care trajectory (jeugdhulp, jeugdbescherming or jeugdreclassering) started "
        "strictly before the reference date.",
        _EVER,
        ALL,
        ("youth_care",),
    ),
    Indicator(
        "ind_youth_protection_ever",
        "care",
        "flag",
        "Any youth protection measure (jeugdbescherming) started strictly before the reference date.",
        _EVER,
        ALL,
        ("youth_care",),
    ),
    Indicator(
        "ind_youth_probation_ever",
        "care",
        "flag",
        "Any youth probation (jeugdreclassering) started strictly before the reference date (from age 12).",
        _EVER,
        bands_from_age(12),
        ("youth_care",),
    ),
    # residence ------------------------------------------------------------------------------
    Indicator(
        "ind_n_moves",
        "residence",
        "count",
        "Number of moves in the {recent_months} months before the reference date: address "
        "episodes starting in that window (ref - {recent_months} months <= start < ref) that are "
        "not the person's first recorded address. A move ON the reference date is not counted "
        "(and the person is still at the old address for scope, area and household).",
        "{recent_months} months (features.recent_months)",
        ALL,
        ("addresses",),
    ),
)

_BY_NAME = {i.name: i for i in INDICATORS}
#: Names of the ``ind_*`` columns, in catalogue order.
INDICATOR_COLUMNS = tuple(i.name for i in INDICATORS if i.kind != "base")


def indicator(name: str) -> Indicator:
    """The catalogue entry ``name``."""
    return _BY_NAME[name]


def feature_columns(band: str) -> list[str]:
    """The model inputs of age band ``band``, in catalogue order.

    Never contains a key, the label or an audit-only column.

    Examples
    --------
    >>> "ind_own_debt_ever" in feature_columns("8-12")
    False
    >>> feature_columns("20-23")[:2]
    ['age', 'is_male']
    """
    if band not in AGE_BANDS:
        raise ConfigError("age_band", f"unknown band {band!r} (known: {list(AGE_BANDS)})")
    cols = [i.name for i in INDICATORS if band in i.bands]
    leaked = set(cols) & (set(AUDIT_ONLY_COLUMNS) | set(KEY_COLUMNS) | {LABEL_COLUMN})
    if leaked:  # pragma: no cover - guarded by tests; a catalogue edit must never do this
        raise ConfigError("features.catalogue", f"not a model input: {sorted(leaked)}")
    return cols


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def render_markdown(config: FeatureConfig | None = None) -> str:
    """The catalogue as Markdown (docs/features.md), windows filled from ``config``."""
    cfg = config or FeatureConfig()
    lines = [
        "# Feature catalogue",
        "",
        "Generated by `python -m features.catalogue > docs/features.md` from `features/catalogue.py`",
        "(default configuration); do not edit by hand. A test keeps this file equal to the code.",
        "",
        "## Table",
        "",
        "One row per person and reference date (peildatum) for persons living in the Netherlands",
        "aged 8-23 on that date. Reference dates: every `features.ref_step_months` "
        f"({cfg.ref_step_months}) months from `features.first_ref_date` ({cfg.first_ref_date.isoformat()})",
        "up to the delivery's observation end.",
        "",
        "- Leakage rule (one rule for every feature, the scope and the area keys): only events",
        "  strictly before the reference date are known; an event ON the reference date counts as",
        "  after it. An episode is ongoing on the reference date when it started strictly before it",
        "  and did not end before it (an end ON the reference date is still ongoing).",
        "- In scope: an address episode is ongoing on the reference date by that rule",
        "  (date_start < ref <= date_end, or date_end empty: the address of the day before); age in",
        "  completed years on the reference date. Someone who moves ON the reference date is",
        "  counted at the old address, and the move is not in `ind_n_moves`, on that date.",
        f"- Keys: {', '.join(f'`{k}`' for k in KEY_COLUMNS)} (area codes of that address).",
        "- Indicators are float32. Where an indicator does not apply to a row's age band its value is",
        "  missing (absent, not zero): `null` in the Parquet file (Arrow's missing value, what",
        "  Polars, DuckDB, Spark and R read as missing), which pandas shows as NaN in a float",
        "  column. No indicator is ever NaN-as-a-number in the file. `feature_columns(band)` lists",
        "  a band's model inputs.",
        "- Band rule: an indicator applies to a band when its event can have happened by the band's",
        "  oldest age (Halt from 12, so 8-12 keeps it for its 12-year-olds; own debt restructuring",
        "  from 18, so 13-19 and 20-23).",
        f"- Audit-only attributes ({', '.join(f'`{c}`' for c in AUDIT_ONLY_COLUMNS)}) and `sex` are in a separate",
        f"  audit frame ({', '.join(f'`{c}`' for c in AUDIT_COLUMNS)}), never in the model inputs.",
        "",
        "## Model inputs",
        "",
        "| column | family | kind | bands | look-back | definition | sources |",
        "|---|---|---|---|---|---|---|",
    ]
    for i in INDICATORS:
        lines.append(
            f"| `{i.name}` | {i.family} | {i.kind} | {', '.join(i.bands)} | {_cell(i.render(i.window, cfg))} "
            f"| {_cell(i.render(i.definition, cfg))} | {', '.join(i.sources)} |"
        )
    lines += [
        "",
        "## Inputs per band",
        "",
    ]
    for band in AGE_BANDS:
        cols = feature_columns(band)
        lines.append(f"- **{band}** ({len(cols)}): {', '.join(f'`{c}`' for c in cols)}")
    lines += [
        "",
        "## Labels",
        "",
        "`label` = a suspect registration with an offence in the band's set and",
        "ref <= registration date < ref + horizon. NA (censored, no label) when the horizon is not",
        "fully observed and no such registration was seen: when ref + horizon lies after the day",
        "following the observation end (every row of the date), or when the person leaves the",
        "population register (death or emigration, table `deregistrations`) with",
        "ref <= deregistration date < ref + horizon. A registration before leaving keeps the label",
        "True; a deregistration after the horizon keeps the label. NA is `null` in the Parquet file.",
        "A suspect registration is a police registration, not a crime, and carries enforcement bias.",
        "",
        "| band | offences | horizon (months) |",
        "|---|---|---|",
    ]
    for band in AGE_BANDS:
        lab = cfg.labels[band]
        lines.append(f"| {band} | {', '.join(lab.offences)} | {lab.horizon_months} |")
    young = cfg.labels["8-12"]
    lines += [
        "",
        "Why 8-12 differs: criminal responsibility starts at 12, so drug-law registrations of",
        "8-12-year-olds are very rare. Its label counts "
        + ("any offence" if set(young.offences) == set(OFFENCES) else ", ".join(young.offences))
        + f" within {young.horizon_months} months, which reaches into the ages where",
        "registrations start. 13-19 and 20-23 use the programme's outcome, a drug-law (opiumwet)",
        "suspect registration. Labels are police registrations: compare alternatives (offence set,",
        "horizon) before drawing conclusions.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
