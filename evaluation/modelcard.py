"""Model card per model version, in the fields of the Dutch algorithm register, with IAMA pointers.

The card records what the model is for (prevention planning at area level, nothing else), what
it is not for, how it was built (data, outcome, horizon, threshold, design choices and why), how
it performs, what the fairness and stigmatisation audits found, and its limitations. Its
``algorithm_register`` section follows the publication standard of the Dutch algorithm
register (Algoritmeregister: naam, organisatie, korte omschrijving, doel, impact,
proportionaliteit, wettelijke basis, menselijke tussenkomst, risicobeheer, impacttoetsen,
brongegevens, werking); ``iama`` points each part of the Impact Assessment Mensenrechten en
Algoritmes (IAMA, BZK 2021) to the evidence in the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.config import ModelCardConfig

INTENDED_USE = (
    "Prevention planning only: municipalities and partners use area-level figures (gemeente, "
    "wijk, buurt; age bands 8-12, 13-19, 20-23) to decide where to invest in youth work, sport, "
    "school programmes and family support, and to monitor trends and the effect of interventions."
)

OUT_OF_SCOPE = (
    "Decisions about individual young people or families (no person is ever scored for a decision).",
    "Enforcement targeting: choosing areas, persons or groups for police attention, investigation or "
    "surveillance (this would feed registration bias back into the data).",
    "Lists of persons, households or addresses.",
    "League tables or rankings of areas; an area is called elevated only when its uncertainty "
    "interval excludes the national level.",
    "Any use of migration background or other audit-only attributes as inputs or as selection criteria.",
)

LIMITATIONS = (
    "The outcome is a police suspect registration, not a crime: it reflects where and whom the "
    "police register, so areas with more enforcement look riskier (see the label-bias sensitivity).",
    "Data describe closed cases and some sources lag up to two years; recent changes show late.",
    "Risk is estimated for groups of young people with similar characteristics; it says nothing "
    "certain about any one person, and most young people with a high score never become a suspect.",
    "Fairness is audited for the configured attributes and their pairwise intersections; groups "
    "below the minimum cell size are not assessed.",
    "Areas are small: sampling noise in area figures is large, hence intervals on every number.",
    "Calibration holds on the evaluation period; drift monitoring must confirm it on new data.",
)

IAMA_PARTS: Mapping[str, tuple[str, ...]] = {
    "Deel 1 - Waarom? (doel, publieke waarden, grondslag)": (
        "algorithm_register.purpose",
        "algorithm_register.legal_basis",
        "intended_use",
    ),
    "Deel 2 - Wat? (input: data; throughput: algoritme)": (
        "data",
        "outcome",
        "design_choices",
        "performance",
        "explanations (SHAP) in the report",
    ),
    "Deel 3 - Hoe? (implementatie, gebruik, toezicht)": (
        "algorithm_register.human_oversight",
        "algorithm_register.risk_management",
        "out_of_scope",
        "promotion gate in the report",
    ),
    "Deel 4 - Mensenrechten (non-discriminatie, privacy, stigmatisering)": (
        "fairness (group audit, intersections)",
        "stigmatisation (proxy test, label bias, ranking uncertainty, league-table check)",
        "privacy: only aggregates above the minimum cell size",
    ),
}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What training knows about a model version (filled by the training stage).

    Attributes
    ----------
    name, version : str
        Registered model name and version.
    run_id : str
        MLflow run of the training.
    bands : tuple of str
        Age bands modelled (one model per band).
    outcome : mapping
        Band -> outcome description (offences, horizon).
    threshold : mapping
        Band -> calibrated-probability threshold for "elevated".
    features : mapping
        Band -> model input names (never an audit-only attribute).
    data : str
        Data sources and periods (reference dates, observation end).
    design_choices : mapping
        Choice -> reason (outcome, horizon, threshold, estimator, calibration, ...).
    """

    name: str = "aanwas"
    version: str = "unregistered"
    run_id: str = ""
    bands: tuple[str, ...] = ()
    outcome: Mapping[str, str] = dataclasses.field(default_factory=dict)
    threshold: Mapping[str, float] = dataclasses.field(default_factory=dict)
    features: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    data: str = ""
    design_choices: Mapping[str, str] = dataclasses.field(default_factory=dict)


def build_model_card(
    info: ModelInfo,
    org: ModelCardConfig,
    *,
    performance: Mapping[str, Mapping[str, Any]] | None = None,
    fairness: Mapping[str, Any] | None = None,
    stigmatisation: Mapping[str, Any] | None = None,
    gate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Model card as a JSON-ready dict.

    Parameters
    ----------
    info : ModelInfo
    org : ModelCardConfig
        Organisational fields (legal basis, oversight, risk management, contact).
    performance : mapping, optional
        Band -> {metric: "value (lo-hi)"}.
    fairness : mapping, optional
        Summary of verdicts per band.
    stigmatisation : mapping, optional
        Summary of proxy, label-bias and ranking audits.
    gate : mapping, optional
        The promotion gate verdict.

    Returns
    -------
    dict

    Examples
    --------
    >>> card = build_model_card(ModelInfo(version="3"), ModelCardConfig())
    >>> card["intended_use"].startswith("Prevention planning only")
    True
    """
    bands = ", ".join(info.bands) or "8-12, 13-19, 20-23"
    register = {
        "name": f"{info.name} (version {info.version})",
        "organisation": org.organisation,
        "contact": org.contact,
        "short_description": (
            "Estimates, per area and age band, the share of young people (8-23) with an elevated "
            "risk of being registered as a suspect (by default of a drug offence) within a horizon, "
            "from pseudonymised CBS microdata, and publishes only area aggregates with uncertainty."
        ),
        "purpose": INTENDED_USE,
        "impact": (
            "Guides where prevention resources go. No individual is affected by a decision. Risks: "
            "stigmatisation of neighbourhoods or groups, and reinforcement of enforcement bias if "
            "figures were misused for policing; both are audited in this card and the report."
        ),
        "proportionality": (
            "Area aggregates replace person lists; audit-only attributes are never model inputs; "
            "the minimum cell size, secondary suppression and CBS output control protect persons; "
            "the expected benefit (earlier, better targeted prevention) is weighed against the "
            "risks listed under impact in the IAMA."
        ),
        "legal_basis": org.legal_basis,
        "human_oversight": org.human_oversight,
        "risk_management": org.risk_management,
        "impact_assessments": "IAMA (see the pointers below) and a DPIA by the deploying organisation.",
        "source_data": info.data
        or "CBS microdata (population register, addresses, education, VSV, Halt, "
        "debt restructuring, police suspect registrations, youth care, household income).",
        "methods_and_models": (
            f"One gradient-boosted tree model per age band ({bands}), calibrated to probabilities; "
            "compared with simpler baselines; evaluated with bootstrap intervals."
        ),
    }
    card: dict[str, Any] = {
        "model": {"name": info.name, "version": info.version, "run_id": info.run_id},
        "intended_use": INTENDED_USE,
        "out_of_scope": list(OUT_OF_SCOPE),
        "algorithm_register": register,
        "data": info.data,
        "outcome": dict(info.outcome),
        "threshold": {k: float(v) for k, v in info.threshold.items()},
        "features": {k: list(v) for k, v in info.features.items()},
        "design_choices": dict(info.design_choices),
        "performance": {k: dict(v) for k, v in (performance or {}).items()},
        "fairness": dict(fairness or {}),
        "stigmatisation": dict(stigmatisation or {}),
        "gate": dict(gate or {}),
        "limitations": list(LIMITATIONS),
        "iama": {part: list(pointers) for part, pointers in IAMA_PARTS.items()},
    }
    return card


def _md_value(v: Any, indent: int = 0) -> list[str]:
    pad = "  " * indent
    if isinstance(v, Mapping):
        lines = []
        for k, x in v.items():
            if isinstance(x, (Mapping, list, tuple)):
                lines.append(f"{pad}- **{k}**:")
                lines.extend(_md_value(x, indent + 1))
            else:
                lines.append(f"{pad}- **{k}**: {x}")
        return lines
    if isinstance(v, (list, tuple)):
        return [f"{pad}- {x}" for x in v]
    return [f"{pad}{v}"]


def render_model_card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (for the registry description and reviewers)."""
    m = card.get("model", {})
    lines = [f"# Model card: {m.get('name', '')} version {m.get('version', '')}", ""]
    titles = {
        "intended_use": "Intended use",
        "out_of_scope": "Out of scope",
        "algorithm_register": "Algorithm register (Algoritmeregister)",
        "data": "Data",
        "outcome": "Outcome and horizon per band",
        "threshold": "Elevated threshold per band",
        "design_choices": "Design choices and reasons",
        "performance": "Performance (95% intervals)",
        "fairness": "Fairness",
        "stigmatisation": "Stigmatisation",
        "gate": "Promotion gate",
        "limitations": "Limitations",
        "iama": "Pointers for the IAMA (human-rights impact assessment)",
    }
    for key, title in titles.items():
        value = card.get(key)
        if value in (None, "", {}, []):
            continue
        lines += [f"## {title}", "", *_md_value(value), ""]
    return "\n".join(lines)
