"""The real 2024 map of gemeenten, wijken and buurten, shipped inside the package.

Source: CBS StatLine table 85984NED "Kerncijfers wijken en buurten 2024" (reference date
1 January 2024), CC BY 4.0, "Bron: CBS"; see docs/data.md. Counts are CBS-rounded to 5.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import pandas as pd

LEVELS = ("buurt", "wijk", "gemeente")
_COUNT_COLUMNS = (
    "inhabitants",
    "men",
    "women",
    "age_0_15",
    "age_15_25",
    "age_25_45",
    "age_45_65",
    "age_65_plus",
    "origin_netherlands",
    "origin_europe_excl_nl",
    "origin_outside_europe",
)


@dataclasses.dataclass(frozen=True)
class Geography:
    """Area table (one row per gemeente, wijk and buurt) and the buurt -> wijk -> gemeente map."""

    areas: pd.DataFrame  # code, level, name, gm_code, wk_code, gm_name, counts...

    @functools.cached_property
    def buurten(self) -> pd.DataFrame:
        """One row per buurt with its wijk and gemeente codes and counts."""
        return self.areas[self.areas["level"] == "buurt"].reset_index(drop=True)

    @functools.cached_property
    def buurt_codes(self) -> list[str]:
        return self.buurten["code"].tolist()

    @functools.cached_property
    def all_codes(self) -> frozenset[str]:
        return frozenset(self.areas["code"])

    @functools.cached_property
    def names(self) -> dict[str, str]:
        return dict(zip(self.areas["code"], self.areas["name"], strict=True))

    def hierarchy(self) -> pd.DataFrame:
        """Columns ``buurt``, ``wijk``, ``gemeente`` (codes), one row per buurt."""
        b = self.buurten
        return pd.DataFrame({"buurt": b["code"], "wijk": b["wk_code"], "gemeente": b["gm_code"]})


@functools.cache
def load_geography() -> Geography:
    """Load the shipped 2024 area table (cached)."""
    path = resources.files("features.sources") / "data" / "kwb2024_gwb_population.csv.gz"
    with resources.as_file(path) as p:
        df = pd.read_csv(p, dtype={"code": str, "gm_code": str, "wk_code": str}, keep_default_na=False, na_values=[""])
    df = df[df["level"] != "land"].reset_index(drop=True)
    for c in _COUNT_COLUMNS:
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    df["gm_code"] = df["gm_code"].fillna(df["code"])
    return Geography(areas=df[["code", "level", "name", "gm_code", "wk_code", "gm_name", *_COUNT_COLUMNS]])
