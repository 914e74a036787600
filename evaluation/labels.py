"""Plain words for audit attributes and their groups (the code book of the audit columns).

The microdata carry codes (``income_group`` 1-5, ``migration_group`` ``buiten_europa``,
``sex`` ``V``); reviewers read words. :func:`group_label` turns an attribute and a group (also
an intersection such as ``"income_group × single_parent"`` / ``"5 × 1"``) into text like
"income group 5 (highest 20%) × single-parent household". Unknown attributes and values are
shown as they are, so a new attribute never breaks a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Joins the attributes and values of an intersection (same as :data:`evaluation.fairness.INTERSECTION`).
_JOIN = " \u00d7 "
_MISSING = "(missing)"

#: Attribute -> plain name.
ATTRIBUTE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "sex": "sex",
        "migration_group": "migration background",
        "income_group": "household income group",
        "single_parent": "single-parent household",
    }
)

#: Attribute -> code -> plain words (the review pack's words). Codes follow features/contract.py (SEX, MIGRATION_GROUPS,
#: INCOME_GROUPS: quintiles of standardised household income, 1 = lowest) and the feature
#: ``ind_single_parent`` (1 = the young person lives in a single-parent household).
GROUP_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "sex": MappingProxyType({"M": "boys", "V": "girls"}),
        "migration_group": MappingProxyType(
            {
                "nederland": "Dutch background",
                "europa": "European migration background",
                "buiten_europa": "non-European migration background",
            }
        ),
        "income_group": MappingProxyType(
            {
                "1": "income group 1 (lowest 20%)",
                "2": "income group 2",
                "3": "income group 3",
                "4": "income group 4",
                "5": "income group 5 (highest 20%)",
            }
        ),
        "single_parent": MappingProxyType({"1": "single-parent household", "0": "two-parent or other household"}),
    }
)


def attribute_label(attribute: str) -> str:
    """Plain name of an attribute or intersection of attributes.

    Examples
    --------
    >>> attribute_label("migration_group \u00d7 sex")
    'migration background \u00d7 sex'
    """
    return _JOIN.join(ATTRIBUTE_LABELS.get(a, a) for a in attribute.split(_JOIN))


def _value_label(attribute: str, value: str) -> str:
    if value == _MISSING:
        return f"{ATTRIBUTE_LABELS.get(attribute, attribute)} unknown"
    words = GROUP_LABELS.get(attribute, {}).get(value)
    if words is not None:
        return words
    return f"{ATTRIBUTE_LABELS.get(attribute, attribute)} {value}"


def group_label(attribute: str, group: str) -> str:
    """Plain words for a group of an attribute (or of an intersection).

    Examples
    --------
    >>> group_label("income_group", "1")
    'income group 1 (lowest 20%)'
    >>> group_label("income_group \u00d7 single_parent", "5 \u00d7 1")
    'income group 5 (highest 20%) \u00d7 single-parent household'
    >>> group_label("region", "north")
    'region north'
    """
    attrs = attribute.split(_JOIN)
    values = str(group).split(_JOIN)
    if len(attrs) != len(values):
        return str(group)
    return _JOIN.join(_value_label(a, v) for a, v in zip(attrs, values, strict=True))
