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


#: Marks a register field the deploying organisation fills in.
TO_FILL = "[in te vullen door de organisatie / to be filled in by the organisation]"

#: Source of the field list: the Algoritmeregister publicatiestandaard (BZK; sections
#: "Algemene informatie", "Verantwoord gebruik", "Werking").
REGISTER_STANDARD = "Algoritmeregister publicatiestandaard (Ministerie van BZK)"


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v).strip()


def _signed_nl(x: Any) -> str:
    return "n.v.t." if x is None else f"{float(x):+.3f}".replace(".", ",")


def family_text(family: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """Which model family is the band's model and why, in Dutch and English (None without the
    decision). ``family`` is the gate verdict's ``model_family`` (training's family rule).

    Examples
    --------
    >>> f = {"chosen": "logreg", "auc_diff": 0.001, "auc_diff_lo": -0.003, "auc_diff_hi": 0.006,
    ...      "auc_lightgbm": 0.776, "auc_logreg": 0.775, "confidence": 0.95, "min_gain": 0.0,
    ...      "reason": "The logistic regression was chosen because ..."}
    >>> family_text(f)[0].split(":")[0]
    'De logistische regressie is gekozen omdat LightGBM niet beter was buiten zijn 95 %-interval'
    """
    if not family or not family.get("reason"):
        return None
    level = f"{100 * float(family.get('confidence', 0.95)):g}"
    gain = float(family.get("min_gain", 0.0))
    margin = "" if gain == 0 else f" met meer dan {gain:g}".replace(".", ",")
    interval = (
        f"{_signed_nl(family.get('auc_diff'))} [{_signed_nl(family.get('auc_diff_lo'))}; "
        f"{_signed_nl(family.get('auc_diff_hi'))}]"
    )
    if family.get("chosen") == "lightgbm":
        nl = (
            f"LightGBM is gekozen omdat het{margin} beter was dan de logistische regressie buiten zijn "
            f"{level} %-interval"
        )
    else:
        nl = f"De logistische regressie is gekozen omdat LightGBM niet{margin} beter was buiten zijn {level} %-interval"
    one_sided = f"{100 * (1 - float(family.get('confidence', 0.95))) / 2:.3g}".replace(".", ",")
    decision_nl = (
        f" Het {level} %-interval is het niveau van een keuze (hoogstens {one_sided} % kans dat LightGBM gekozen "
        "wordt terwijl het niet beter is), niet het niveau van de intervallen bij de getoonde cijfers."
    )
    reason = str(family["reason"]).rstrip(".")
    if family.get("auc_lightgbm") is None or family.get("auc_logreg") is None:
        return f"{nl}: {interval}.{decision_nl}", f"{reason}."
    lgbm, logreg = float(family["auc_lightgbm"]), float(family["auc_logreg"])
    aucs_nl = f"AUC LightGBM {lgbm:.3f}, logistische regressie {logreg:.3f}".replace(".", ",")
    return (
        f"{nl}: {interval} ({aucs_nl}).{decision_nl}",
        f"{reason} (AUC LightGBM {lgbm:.3f}, logistic regression {logreg:.3f}).",
    )


def _register_field(nl: str, en: str, text: str, placeholder: bool = False) -> dict[str, Any]:
    """One field of the algorithm register; a placeholder is marked :data:`TO_FILL` with the
    card's text, if any, as the proposal."""
    text = _text(text)
    if placeholder:
        text = TO_FILL + (f" Proposed: {text}" if text else "")
    return {"nl": nl, "en": en, "text": text or TO_FILL, "placeholder": placeholder or not text}


def _technical_operation(card: Mapping[str, Any], reg: Mapping[str, Any]) -> str:
    """The register's "technical operation": methods and models, each band's outcome and the
    threshold for "elevated"."""
    outcome = card.get("outcome", {}) or {}
    threshold = card.get("threshold", {}) or {}
    how = _text(reg.get("methods_and_models"))
    if outcome:
        how += " Outcome: " + "; ".join(f"{b}: {_text(o)}" for b, o in outcome.items()) + "."
    if threshold:
        how += (
            " A young person counts as elevated at a calibrated risk of at least "
            + "; ".join(f"{float(t) * 100:g}% ({b})" for b, t in threshold.items())
            + "; an area is elevated only when its whole interval lies above the national level."
        )
    return how


def register_fields(card: Mapping[str, Any], *, name: str, version: str, band: str = "") -> list[dict[str, Any]]:
    """The card's content in the fields of the Dutch algorithm register, in its order.

    Returns sections ``{"nl", "en", "fields": [{"nl", "en", "text", "placeholder"}]}``. Fields
    the organisation must fill in (legal basis, dates, links, status) are marked with
    :data:`TO_FILL`; where the card carries a proposed text it follows the marker.
    """
    reg = dict(card.get("algorithm_register", {}))
    default = ModelCardConfig()
    field = _register_field

    org = _text(reg.get("organisation"))
    org_placeholder = not org or "to be filled in" in org
    legal = _text(reg.get("legal_basis"))
    bands = f" for the age band {band}" if band else ""
    how = _technical_operation(card, reg)
    return [
        {
            "nl": "Algemene informatie",
            "en": "General information",
            "fields": [
                field("Naam", "Name", f"{name} (version {version}): area risk of youth crime{bands}"),
                field("Korte omschrijving", "Short description", _text(reg.get("short_description"))),
                field("Organisatie", "Organisation", "" if org_placeholder else org, placeholder=org_placeholder),
                field("Thema", "Theme", "Jeugd; Openbare orde en veiligheid", placeholder=True),
                field("Status", "Status", "In ontwikkeling", placeholder=True),
                field("Begindatum / einddatum", "Start / end date", "", placeholder=True),
                field("Contactgegevens", "Contact", _text(reg.get("contact")), placeholder=True),
                field("Link naar publiekspagina", "Public page", "", placeholder=True),
                field(
                    "Publicatiecategorie",
                    "Publication category",
                    "Impactvolle algoritmes (categorie B)",
                    placeholder=True,
                ),
            ],
        },
        {
            "nl": "Verantwoord gebruik",
            "en": "Responsible use",
            "fields": [
                field(
                    "Doel en impact", "Purpose and impact", f"{_text(reg.get('purpose'))} {_text(reg.get('impact'))}"
                ),
                field(
                    "Afwegingen (proportionaliteit)",
                    "Considerations (proportionality)",
                    _text(reg.get("proportionality")),
                ),
                field(
                    "Menselijke tussenkomst (mens in de lus)",
                    "Human intervention (human in the loop)",
                    _text(reg.get("human_oversight"))
                    + " The model informs a planning decision by people; it never decides about a person.",
                ),
                field("Risicobeheer", "Risk management", _text(reg.get("risk_management"))),
                field(
                    "Wettelijke basis",
                    "Legal basis",
                    legal,
                    placeholder=legal == default.legal_basis or not legal,
                ),
                field("Link naar wettelijke basis", "Link to the legal basis", "", placeholder=True),
                field(
                    "Impacttoetsen",
                    "Impact assessments",
                    _text(reg.get("impact_assessments"))
                    + " The IAMA pointers in this card say where each part finds its evidence; link the completed "
                    "IAMA and DPIA here.",
                    placeholder=True,
                ),
            ],
        },
        {
            "nl": "Werking",
            "en": "How it works",
            "fields": [
                field("Gegevens", "Data", _text(reg.get("source_data"))),
                field("Technische werking", "Technical operation", how.strip()),
                field(
                    "Leverancier",
                    "Supplier",
                    "Open-source software (aanwas), run by the organisation itself.",
                    placeholder=True,
                ),
                field("Link naar broncode", "Link to the source code", "", placeholder=True),
            ],
        },
    ]


def iama_prose(verdicts: Sequence[Any] = (), settings: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """The four parts of the IAMA (Impact Assessment Mensenrechten en Algoritmes, BZK 2021) as
    prose pointing to the evidence in the review pack; findings are taken from ``verdicts``
    (:class:`evaluation.review_pack.Verdict`) when given."""
    found = {getattr(v, "key", ""): v for v in verdicts}

    def said(key: str) -> str:
        v = found.get(key)
        return f" This version: {v.found[1]}" if v is not None else ""

    level = ""
    if settings and settings.get("interval_level"):
        level = f" Every figure carries a {round(100 * float(settings['interval_level']))}% interval."
    return [
        {
            "part": "Deel 1 \u2013 Waarom? / Part 1 \u2013 Why?",
            "text": "The aim is prevention planning: municipalities and partners decide where youth work, sport, "
            "school "
            "programmes and family support are needed most. The public values at stake are the well-being of young "
            "people, equal treatment and privacy. The legal basis is recorded by the organisation in the register "
            "field 'Wettelijke basis'; the purpose and its limits are in 'Doel en impact' and under Intended use.",
        },
        {
            "part": "Deel 2 \u2013 Wat? / Part 2 \u2013 What?",
            "text": "Input: pseudonymised microdata inside the CBS secure environment (register field 'Gegevens'); "
            "migration background and other audit-only attributes are never model inputs. Throughput: one calibrated "
            "gradient-boosted model per age band, compared with simpler baselines (section Performance and "
            "calibration of this pack, and the explanations section). Output: area figures only, after disclosure "
            "control." + level + said("performance"),
        },
        {
            "part": "Deel 3 \u2013 Hoe? / Part 3 \u2013 How?",
            "text": "People decide: the figures inform a planning discussion and never a decision about a person "
            "(register field 'Menselijke tussenkomst'). The promotion gate on the first page of this pack must pass, "
            "or an override must be recorded with its reason, before a version is used; an ethics reviewer reads this "
            "pack for every version. Out-of-scope uses are listed in this card; risk management is in 'Risicobeheer'.",
        },
        {
            "part": "Deel 4 \u2013 Mensenrechten / Part 4 \u2013 Human rights",
            "text": "Non-discrimination: the fairness audit checks whether the risk means the same for every group and "
            "combination of groups." + said("fairness") + " Stigmatisation: the proxy test checks whether area risk "
            "mirrors origin," + said("proxy").replace(" This version:", " this version:") + " and areas are called "
            "elevated only when their interval says so, never ranked." + said("areas") + " Label bias: registrations "
            "reflect enforcement as well as behaviour." + said("label_bias") + " Privacy: only aggregates of at least "
            "the minimum cell size leave the secure environment.",
        },
    ]


def model_card_document(
    card: Mapping[str, Any],
    *,
    ident: Any = None,
    verdicts: Sequence[Any] = (),
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The model card as a document (for the review pack's HTML and the Markdown file).

    ``ident`` (:class:`evaluation.review_pack.PackIdentity`) names the registered version; without
    it the card's own ``model`` entry is used.
    """
    m = card.get("model", {}) or {}
    name = getattr(ident, "name", None) or _text(m.get("name")) or "aanwas"
    version = getattr(ident, "version", None) or _text(m.get("version")) or "unregistered"
    band = getattr(ident, "band", "") or ""
    design = card.get("design_choices", {}) or {}
    family = family_text((card.get("gate") or {}).get("model_family"))
    design_rows = [(k.replace("_", " "), _text(v)) for k, v in design.items()]
    if family is not None:  # which model family won and why (training's family rule)
        rule = _text((card.get("gate") or {}).get("model_family", {}).get("rule"))
        design_rows.insert(0, ("model family", f"{family[1]} Rule: {rule}." if rule else family[1]))
    return {
        "name": name,
        "version": version,
        "band": band,
        "run_id": getattr(ident, "run_id", "") or _text(m.get("run_id")),
        "fingerprint": getattr(ident, "fingerprint", ""),
        "intended_use": _text(card.get("intended_use")) or INTENDED_USE,
        "out_of_scope": [_text(x) for x in (card.get("out_of_scope") or OUT_OF_SCOPE)],
        "limitations": [_text(x) for x in (card.get("limitations") or LIMITATIONS)],
        "design": design_rows,
        "family": family,
        "register": register_fields(card, name=name, version=version, band=band),
        "standard": REGISTER_STANDARD,
        "iama": iama_prose(verdicts, settings),
    }


def render_model_card_markdown(
    card: Mapping[str, Any],
    *,
    ident: Any = None,
    verdicts: Sequence[Any] = (),
    settings: Mapping[str, Any] | None = None,
) -> str:
    """The card as a Markdown document (registry description, algorithm-register officers).

    Examples
    --------
    >>> md = render_model_card_markdown(build_model_card(ModelInfo(version="3"), ModelCardConfig()))
    >>> md.splitlines()[0]
    '# Model card: aanwas version 3'
    """
    doc = model_card_document(card, ident=ident, verdicts=verdicts, settings=settings)
    lines = [f"# Model card: {doc['name']} version {doc['version']}", ""]
    ids = [f"Registered model **{doc['name']}**, version **{doc['version']}**"]
    if doc["run_id"]:
        ids.append(f"training run `{doc['run_id']}`")
    if doc["fingerprint"]:
        ids.append(f"data fingerprint `{doc['fingerprint'][:12]}`")
    lines += ["; ".join(ids) + ".", ""]
    if verdicts:
        lines += ["## Verdicts of the audits", ""]
        for v in verdicts:
            lines += [f"- **{v.title[1]}** ({v.status_text[1]}): {v.found[1]}"]
        lines += [""]
    lines += ["## Intended use", "", doc["intended_use"], "", "## Out of scope", ""]
    lines += [f"- {x}" for x in doc["out_of_scope"]] + [""]
    lines += ["## Algorithm register (Algoritmeregister)", "", f"Fields of the {doc['standard']}.", ""]
    for section in doc["register"]:
        lines += [f"### {section['nl']} / {section['en']}", ""]
        for f in section["fields"]:
            lines += [f"**{f['nl']}** ({f['en']})  ", f["text"], ""]
    if doc["design"]:
        lines += ["## Design choices and reasons", ""] + [f"- **{k}**: {v}" for k, v in doc["design"]] + [""]
    lines += ["## Limitations", ""] + [f"- {x}" for x in doc["limitations"]] + [""]
    lines += ["## IAMA: where the evidence is (Impact Assessment Mensenrechten en Algoritmes)", ""]
    for part in doc["iama"]:
        lines += [f"### {part['part']}", "", part["text"], ""]
    return "\n".join(lines)


#: Metrics of the card quoted in a registered version's description, with their plain names.
HEADLINE_METRICS: Mapping[str, str] = {"auc": "AUC", "brier": "Brier score", "ece": "calibration error (ECE)"}
#: What a registered model (all its versions) is, for its description in the model registry.
REGISTERED_MODEL_TEXT = (
    "aanwas model for age band {band}: the calibrated probability that a young person of this band "
    "is registered as a suspect within the horizon, used only aggregated to areas (gemeente, wijk, "
    "buurt) for prevention planning. One version per training; the alias 'champion' marks the "
    "version in use. Each version's description summarises its model card."
)


def registered_model_description(band: str) -> str:
    """Short description of the registered model of an age band (all versions).

    Examples
    --------
    >>> registered_model_description("8-12").startswith("aanwas model for age band 8-12")
    True
    """
    return REGISTERED_MODEL_TEXT.format(band=band)


def version_description(
    card: Mapping[str, Any],
    *,
    band: str,
    outcome: str,
    training_period: str,
    family: Mapping[str, Any] | None = None,
    interval_level: float | None = None,
) -> str:
    """Plain-language summary of a registered model version, from its model card: intended
    use, outcome, band, training period, model family and the headline metrics with their
    intervals (``card["performance"][band]``; without an evaluation it says so instead of
    quoting numbers without an interval).

    Examples
    --------
    >>> card = build_model_card(ModelInfo(version="3"), ModelCardConfig(),
    ...                         performance={"8-12": {"auc": "0.781 (0.760\u20130.801)"}})
    >>> text = version_description(card, band="8-12", outcome="any suspect registration within 48 months",
    ...                            training_period="reference dates 2018-01-01 to 2020-01-01", interval_level=0.9)
    >>> print(text.splitlines()[3])
    Headline metrics on the test date (90 % intervals): AUC 0.781 (0.760–0.801).
    """
    perf = (card.get("performance") or {}).get(band) or {}
    quoted = [
        f"{label} {perf[m]}" if str(perf[m])[:1].isdigit() else f"{label}: {perf[m]}"
        for m, label in HEADLINE_METRICS.items()
        if m in perf
    ]
    level = f"{100 * interval_level:g} % intervals" if interval_level is not None else "intervals"
    metrics = (
        f"Headline metrics on the test date ({level}): {', '.join(quoted)}."
        if quoted
        else "Headline metrics: not evaluated (the evaluation gates did not run), so none are quoted here."
    )
    words = family_text(family)
    lines = [
        f"Age band {band}. Intended use: {card.get('intended_use', INTENDED_USE)}",
        f"Outcome: {outcome}.",
        f"Training period: {training_period}.",
        metrics,
        f"Model family: {words[1]}" if words else "Model family: not recorded.",
        "Not for: " + " ".join(str(x) for x in card.get("out_of_scope", OUT_OF_SCOPE)[:2]),
        "The full model card and the audits are in the review pack (aanwas report).",
    ]
    return "\n".join(lines)
