"""Regions of the synthetic world: a set of gemeenten named by codes, a veiligheidsregio or a provincie.

A region makes the synthetic population what a municipality sees: a few gemeenten at their
real density instead of the whole country thinly spread. Names resolve through the 2024 map of
gemeente -> veiligheidsregio -> provincie shipped in ``features/sources/data/`` (see
``SOURCES.md`` there).

Examples
--------
>>> resolve_region(("Gooi en Vechtstreek",))
('GM0376', 'GM0402', 'GM0406', 'GM0417', 'GM1696', 'GM1942')
>>> resolve_region(())
()
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import pandas as pd

from aanwas.common.errors import ConfigError

__all__ = ["region_label", "resolve_region"]

_MAP_FILE = "gemeente_veiligheidsregio_provincie_2024.csv"
_KEY = "synth.region"
#: Example of every accepted form, for the error message.
_FORMS = (
    "gemeente codes or names (GM0402, Hilversum), a veiligheidsregio (VR14, 'Gooi en Vechtstreek') "
    "or a provincie (PV26, Utrecht)"
)


def _norm(text: str) -> str:
    """Case, hyphens and repeated spaces do not matter: 'Noord-Holland' == 'noord holland'."""
    return re.sub(r"[\s\-]+", " ", str(text)).strip().casefold()


@functools.cache
def _region_map() -> pd.DataFrame:
    path = resources.files("features.sources") / "data" / _MAP_FILE
    with resources.as_file(path) as p:
        df = pd.read_csv(p, sep=";", dtype=str)
    return df.rename(
        columns={
            "gemeentCode": "gm_code",
            "gemeenteNaam": "gm_name",
            "veiligheidsRegioCode": "vr_code",
            "veiligheidsRegioNaam": "vr_name",
            "provincieCode": "pv_code",
            "Provincie": "pv_name",
        }
    ).apply(lambda s: s.str.strip())


@functools.cache
def _lookup() -> dict[str, frozenset[str]]:
    """Normalised name or code -> gemeente codes; a name that means different sets maps to ``frozenset()``."""
    m = _region_map()
    out: dict[str, frozenset[str]] = {}
    for col_code, col_name in (("gm_code", "gm_name"), ("vr_code", "vr_name"), ("pv_code", "pv_name")):
        for col in (col_code, col_name):
            groups = m.groupby(m[col].map(_norm))["gm_code"].agg(frozenset)
            for key, codes in groups.items():
                if key in out and out[key] != codes:
                    out[key] = frozenset()  # ambiguous: e.g. a provincie and a veiligheidsregio of one name
                else:
                    out[key] = codes
    return out


def resolve_region(names: tuple[str, ...]) -> tuple[str, ...]:
    """Sorted gemeente codes of the union of ``names`` (empty: the whole country, ``()``).

    Raises
    ------
    ConfigError
        For a name that is no gemeente, veiligheidsregio or provincie of 2024, or one that
        names different areas (give the code then).
    """
    lookup = _lookup()
    codes: set[str] = set()
    for name in names:
        found = lookup.get(_norm(name))
        if found is None:
            raise ConfigError(_KEY, f"unknown region {name!r}: give {_FORMS}")
        if not found:
            raise ConfigError(_KEY, f"{name!r} names more than one area: use its code (VRxx, PVxx or GMxxxx)")
        codes |= found
    return tuple(sorted(codes))


def region_label(names: tuple[str, ...]) -> str:
    """Display name of a region: the names as given, a veiligheidsregio or provincie code as its name.

    >>> region_label(("VR14",))
    'Gooi en Vechtstreek'
    >>> region_label(("GM0402", "GM0406"))
    'Hilversum, Huizen'
    """
    m = _region_map()
    names_of = {
        **dict(zip(m["gm_code"], m["gm_name"], strict=True)),
        **dict(zip(m["vr_code"], m["vr_name"], strict=False)),
        **dict(zip(m["pv_code"], m["pv_name"], strict=False)),
    }
    return ", ".join(names_of.get(str(n).strip().upper(), str(n).strip()) for n in names)
