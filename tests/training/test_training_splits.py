"""Temporal split: never mixes dates, tests on the latest complete date, drops censored rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aanwas.common.errors import InputError
from training.config import SplitConfig
from training.splits import build_temporal_splits, complete_ref_dates, stratified_subsample

BANDS = ("8-12", "13-19", "20-23")


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    """Random feature-table skeletons: 3-8 yearly dates, per band the last k dates censored."""
    n_dates = draw(st.integers(3, 8))
    dates = pd.to_datetime([f"{2015 + i}-01-01" for i in range(n_dates)])
    rows = []
    for band in BANDS:
        k = draw(st.integers(0, n_dates - 3))
        for i, d in enumerate(dates):
            n = draw(st.integers(1, 6))
            censored = i >= n_dates - k
            labels = [None if censored else draw(st.booleans()) for _ in range(n)]
            rows += [(band, d, lab) for lab in labels]
    order = draw(st.permutations(range(len(rows))))
    rows = [rows[i] for i in order]
    return pd.DataFrame(
        {
            "age_band": pd.Categorical([r[0] for r in rows], categories=list(BANDS)),
            "ref_date": pd.Series([r[1] for r in rows]).astype("datetime64[s]"),
            "label": pd.array([r[2] for r in rows], dtype="boolean"),
        }
    )


@given(tables(), st.integers(0, 3))
def test_split_never_mixes_dates(frame: pd.DataFrame, max_train: int) -> None:
    splits = build_temporal_splits(frame, BANDS, SplitConfig(max_train_dates=max_train))
    for band, split in splits.items():
        complete = complete_ref_dates(frame, band)
        assert split.test_date == complete[-1]  # the latest complete date
        assert split.tune_date == complete[-2]
        assert max(split.train_dates) < split.tune_date < split.test_date
        if max_train:
            assert len(split.train_dates) <= max_train
        masks = {p: split.mask(frame, p) for p in ("train", "tune", "test")}
        # parts are disjoint, each holds only its own dates, this band and no censored label
        total = masks["train"].astype(int) + masks["tune"].astype(int) + masks["test"].astype(int)
        assert total.max() <= 1
        for part, mask in masks.items():
            rows = frame[mask]
            assert set(rows["ref_date"]) <= set(split.dates(part))
            assert (rows["age_band"] == band).all()
            assert rows["label"].notna().all()
        # no date of one part appears in another
        seen = [set(frame.loc[m, "ref_date"]) for m in masks.values()]
        assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def test_split_hand_case() -> None:
    dates = pd.to_datetime(["2018-01-01", "2019-01-01", "2020-01-01", "2021-01-01", "2022-01-01"])
    frame = pd.DataFrame(
        {
            "age_band": ["13-19"] * 5 + ["8-12"] * 5,
            "ref_date": list(dates) * 2,
            # 13-19 censored from 2022, 8-12 (longer horizon) from 2021
            "label": pd.array([True, False, True, False, None, False, True, False, None, None], dtype="boolean"),
        }
    )
    s = build_temporal_splits(frame, ["13-19", "8-12"], SplitConfig())
    assert s["13-19"].describe() == {
        "train_dates": "2018-01-01,2019-01-01",
        "tune_date": "2020-01-01",
        "test_date": "2021-01-01",
    }
    assert s["8-12"].describe() == {"train_dates": "2018-01-01", "tune_date": "2019-01-01", "test_date": "2020-01-01"}


def test_too_few_complete_dates_is_one_clear_error() -> None:
    frame = pd.DataFrame(
        {
            "age_band": ["8-12"] * 3,
            "ref_date": pd.to_datetime(["2018-01-01", "2019-01-01", "2020-01-01"]),
            "label": pd.array([True, False, None], dtype="boolean"),
        }
    )
    with pytest.raises(InputError, match=r"band 8-12 has 2 reference date\(s\) with complete labels; need at least 3"):
        build_temporal_splits(frame, ["8-12"], SplitConfig())
    with pytest.raises(InputError, match="band 20-23 has 0"):
        build_temporal_splits(frame, ["20-23"], SplitConfig())
    with pytest.raises(InputError, match="'label'"):
        build_temporal_splits(frame.drop(columns="label"), ["8-12"], SplitConfig())


def test_partly_censored_date_follows_the_tolerance() -> None:
    frame = pd.DataFrame(
        {
            "age_band": ["8-12"] * 8,
            "ref_date": pd.to_datetime(
                ["2018-01-01"] * 2 + ["2019-01-01"] * 2 + ["2020-01-01"] * 2 + ["2021-01-01"] * 2
            ),
            "label": pd.array([True, False, True, False, True, False, True, None], dtype="boolean"),
        }
    )
    assert build_temporal_splits(frame, ["8-12"], SplitConfig())["8-12"].test_date == pd.Timestamp("2020-01-01")
    lenient = build_temporal_splits(frame, ["8-12"], SplitConfig(max_censored_share=0.5))["8-12"]
    assert lenient.test_date == pd.Timestamp("2021-01-01")
    assert lenient.mask(frame, "test").sum() == 1  # the censored row is still left out


def test_departures_censor_rows_not_dates_by_default() -> None:
    # Persons who emigrate or die within the horizon have NA labels on every date (a few per
    # cent); a horizon past the data makes every label of the date NA. By default the first
    # keeps the date complete (its NA rows are left out of every part), the second does not.
    dates = pd.to_datetime([f"{y}-01-01" for y in range(2018, 2023)])
    labels = []
    for i in range(len(dates)):
        lab = [None] * 50 if i == len(dates) - 1 else [None] + [bool(j % 7 == 0) for j in range(49)]
        labels += lab
    frame = pd.DataFrame(
        {
            "age_band": "13-19",
            "ref_date": np.repeat(dates, 50),
            "label": pd.array(labels, dtype="boolean"),
        }
    )
    split = build_temporal_splits(frame, ["13-19"], SplitConfig())["13-19"]
    assert (split.tune_date, split.test_date) == (dates[2], dates[3])
    for part in ("train", "tune", "test"):
        rows = split.select(frame, part)
        assert rows["label"].notna().all() and len(rows) == 49 * (2 if part == "train" else 1)


@given(st.integers(0, 2**32 - 1), st.integers(20, 400), st.integers(1, 500))
def test_stratified_subsample_keeps_prevalence(seed: int, n: int, max_rows: int) -> None:
    rng = np.random.default_rng(seed)
    y = pd.Series((rng.random(n) < 0.1).astype(int))
    idx = stratified_subsample(y, max_rows, seed)
    assert len(np.unique(idx)) == len(idx)
    if max_rows >= n:
        assert len(idx) == n
        return
    assert abs(len(idx) - max_rows) <= 2
    for v in np.unique(y):
        want = (y == v).sum() * max_rows / n
        assert abs((y.iloc[idx] == v).sum() - max(1, round(want))) <= 1
    np.testing.assert_array_equal(idx, stratified_subsample(y, max_rows, seed))  # seeded
