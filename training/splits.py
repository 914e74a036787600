"""Temporal validation: train on earlier reference dates, tune on a later one, test on the latest.

Per age band (label horizons differ by band, so the dates with complete labels differ), the
reference dates whose labels are complete (censored share at most
``SplitConfig.max_censored_share``) are sorted; the latest is the test date, the one before
it the tuning/calibration date, and the earlier ones the training dates. Rows whose label is
censored (NA) are never used. Never a random split across time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from aanwas.common.errors import InputError
from training.config import SplitConfig

Part = Literal["train", "tune", "test"]
TABLE = "feature table"


@dataclasses.dataclass(frozen=True)
class BandSplit:
    """The reference dates of one band's train, tune and test parts (train < tune < test)."""

    band: str
    train_dates: tuple[pd.Timestamp, ...]
    tune_date: pd.Timestamp
    test_date: pd.Timestamp

    def __post_init__(self) -> None:
        if not self.train_dates or max(self.train_dates) >= self.tune_date or self.tune_date >= self.test_date:
            raise ValueError("a split needs train dates < tune date < test date")

    def dates(self, part: Part) -> tuple[pd.Timestamp, ...]:
        """Reference dates of ``part``."""
        return {"train": self.train_dates, "tune": (self.tune_date,), "test": (self.test_date,)}[part]

    def mask(self, frame: pd.DataFrame, part: Part) -> pd.Series:
        """Boolean row mask of ``part``: this band, the part's dates, label not censored."""
        return (
            (frame["age_band"] == self.band)  # compares categories, no per-row text copy
            & frame["ref_date"].isin(list(self.dates(part)))
            & frame["label"].notna()
        )

    def select(self, frame: pd.DataFrame, part: Part) -> pd.DataFrame:
        """Rows of ``part`` (a copy-on-write view under pandas >= 3)."""
        return frame.loc[self.mask(frame, part)]

    def describe(self) -> dict[str, str]:
        """Dates as ISO text, for logging."""
        iso = [d.date().isoformat() for d in self.train_dates]
        return {
            "train_dates": ",".join(iso),
            "tune_date": self.tune_date.date().isoformat(),
            "test_date": self.test_date.date().isoformat(),
        }


def complete_ref_dates(frame: pd.DataFrame, band: str, max_censored_share: float = 0.0) -> list[pd.Timestamp]:
    """Sorted reference dates of ``band`` whose censored-label share is at most the limit.

    Examples
    --------
    >>> f = pd.DataFrame({"age_band": ["8-12"] * 4, "label": pd.array([True, False, None, False], dtype="boolean"),
    ...                   "ref_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2021-01-01", "2019-01-01"])})
    >>> [d.year for d in complete_ref_dates(f, "8-12")]
    [2019, 2020]
    """
    rows = frame.loc[frame["age_band"].astype("str") == band, ["ref_date", "label"]]
    if rows.empty:
        return []
    censored = rows["label"].isna().groupby(rows["ref_date"]).mean()
    return sorted(pd.Timestamp(d) for d in censored.index[censored <= max_censored_share])


def build_temporal_splits(frame: pd.DataFrame, bands: Sequence[str], cfg: SplitConfig) -> Mapping[str, BandSplit]:
    """One :class:`BandSplit` per band.

    Parameters
    ----------
    frame : DataFrame
        Feature table with ``age_band``, ``ref_date`` and ``label`` (boolean, NA = censored).
    bands : sequence of str
        Bands to split; a band without rows is an error.
    cfg : SplitConfig

    Returns
    -------
    Mapping[str, BandSplit]

    Raises
    ------
    InputError
        When a column is missing or a band has too few complete reference dates.

    Examples
    --------
    >>> dates = pd.to_datetime(["2018-01-01", "2019-01-01", "2020-01-01", "2021-01-01"])
    >>> f = pd.DataFrame({"age_band": "13-19", "ref_date": dates,
    ...                   "label": pd.array([True, False, True, None], dtype="boolean")})
    >>> s = build_temporal_splits(f, ["13-19"], SplitConfig())["13-19"]
    >>> s.describe()
    {'train_dates': '2018-01-01', 'tune_date': '2019-01-01', 'test_date': '2020-01-01'}
    """
    for col in ("age_band", "ref_date", "label"):
        if col not in frame.columns:
            raise InputError(TABLE, col, None, "column missing")
    splits = {}
    needed = cfg.min_train_dates + 2
    for band in bands:
        dates = complete_ref_dates(frame, band, cfg.max_censored_share)
        if len(dates) < needed:
            raise InputError(
                TABLE,
                "ref_date",
                None,
                f"band {band} has {len(dates)} reference date(s) with complete labels; "
                f"need at least {needed} (train x{cfg.min_train_dates}, tune, test)",
            )
        train = dates[:-2]
        if cfg.max_train_dates:
            train = train[-cfg.max_train_dates :]
        splits[band] = BandSplit(band=band, train_dates=tuple(train), tune_date=dates[-2], test_date=dates[-1])
    return splits


def stratified_subsample(y: pd.Series, max_rows: int, seed: int) -> np.ndarray:
    """Positions of at most ``max_rows`` rows, sampled with the same fraction per outcome.

    Keeps the outcome's prevalence (so tuned parameters carry over to the full data) and at
    least one row of each outcome. Deterministic for a seed.

    Examples
    --------
    >>> y = pd.Series([0] * 90 + [1] * 10)
    >>> idx = stratified_subsample(y, 50, seed=0)
    >>> len(idx), int(y.iloc[idx].sum())
    (50, 5)
    """
    n = len(y)
    if max_rows <= 0 or max_rows >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    values = np.asarray(y, dtype=float)
    keep = []
    for v in np.unique(values):  # two outcomes: a loop over classes, not persons
        pos = np.flatnonzero(values == v)
        k = max(1, round(pos.size * max_rows / n))
        keep.append(rng.choice(pos, size=min(k, pos.size), replace=False))
    return np.sort(np.concatenate(keep))
