"""The outcome panel's address steps, vectorised, against the row-by-row definitions they replace.

``_latest_address_on`` sorts the addresses once for every year (instead of once per year) and
``_area_of_addresses`` looks up each distinct buurt code once (instead of every row); both
must give exactly the rows and positions of the straightforward versions below.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aanwas.common.errors import InputError
from features.contract import OFFENCES
from features.geography import load_geography
from monitoring.effects.interventions import (
    _AddressesByPerson,
    _area_of_addresses,
    _latest_address_on,
    build_outcome_panel,
)
from monitoring.monitor_config import InterventionConfig

NO_END = np.iinfo(np.int64).max


def latest_address_reference(
    jan1: int, keep_a: np.ndarray, a_start: np.ndarray, a_end: np.ndarray, a_pos: np.ndarray
) -> np.ndarray:
    """The definition: among the kept rows holding on ``jan1``, sorted by person then start
    (stable), the last row of each person."""
    idx = np.flatnonzero(keep_a & (a_start <= jan1) & (jan1 < a_end))
    idx = idx[np.lexsort((a_start[idx], a_pos[idx]))]
    if len(idx) == 0:
        return idx
    last_of_person = np.r_[a_pos[idx][1:] != a_pos[idx][:-1], True]
    return idx[last_of_person]


def area_reference(addresses: pd.DataFrame, level: str) -> tuple[pd.Index, np.ndarray]:
    """The definition: every row's buurt code looked up as text."""
    h = load_geography().hierarchy()
    buurt_to_area = pd.Series(h[level].to_numpy(), index=h["buurt"].to_numpy())
    area_of = buurt_to_area.reindex(addresses["buurt_code"].astype("str").to_numpy())
    if area_of.isna().any():
        raise InputError("addresses", "buurt_code", int(area_of.isna().sum()), "buurt code unknown")
    area_codes = pd.Index(sorted(set(h[level])))
    return area_codes, area_codes.get_indexer(area_of.to_numpy())


@st.composite
def address_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Small address tables with many ties: few persons, few distinct days, open ends, orphans."""
    n = draw(st.integers(0, 40))
    pos = np.array(draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n)), dtype=np.int64)
    start = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)), dtype=np.int64)
    length = draw(st.lists(st.one_of(st.integers(0, 6), st.none()), min_size=n, max_size=n))
    end = np.array([NO_END if d is None else s + d for s, d in zip(start, length, strict=True)], dtype=np.int64)
    return pos >= 0, start, end, pos


@settings(max_examples=100)
@given(rows=address_rows(), jan1=st.integers(-1, 15))
def test_latest_address_matches_the_definition(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], jan1: int
) -> None:
    keep, start, end, pos = rows
    expected = latest_address_reference(jan1, keep, start, end, pos)
    got = _latest_address_on(jan1, _AddressesByPerson.of(keep, start, end, pos))
    np.testing.assert_array_equal(got, expected)


def test_latest_address_hand_computed() -> None:
    # person 0: rows 0 and 2 hold on day 5, both started on day 1: the later row (2) wins;
    # person 1: row 1 (started 4) beats row 3 (started 2); row 4 ended on day 5; row 5 is an orphan
    pos = np.array([0, 1, 0, 1, 2, -1])
    start = np.array([1, 4, 1, 2, 0, 0])
    end = np.array([9, NO_END, 6, 7, 5, NO_END])
    got = _latest_address_on(5, _AddressesByPerson.of(pos >= 0, start, end, pos))
    np.testing.assert_array_equal(got, [2, 1])


BUURTEN = load_geography().hierarchy()["buurt"].to_numpy()


@settings(max_examples=20)
@given(
    picks=st.lists(st.integers(0, 29), min_size=1, max_size=30),
    unknown=st.lists(st.booleans(), min_size=30, max_size=30),
    categorical=st.booleans(),
    level=st.sampled_from(["buurt", "wijk", "gemeente"]),
)
def test_area_of_addresses_matches_the_row_lookup(
    picks: list[int], unknown: list[bool], categorical: bool, level: str
) -> None:
    codes = [("BU9999" + f"{i:04d}") if unknown[i] and i % 3 == 0 else BUURTEN[i * 397 % len(BUURTEN)] for i in picks]
    col = pd.Series(codes, dtype="category" if categorical else "str")
    if categorical:  # an unused category, known or not, changes nothing
        col = col.cat.add_categories([c for c in ("BU99990001", BUURTEN[-1]) if c not in col.cat.categories])
    addresses = pd.DataFrame({"buurt_code": col})
    geo = load_geography()
    try:
        expected = area_reference(addresses, level)
    except InputError as err:
        with pytest.raises(InputError, match="unknown") as got:
            _area_of_addresses(addresses, geo, level)
        assert got.value.n_rows == err.n_rows
        return
    areas, positions = _area_of_addresses(addresses, geo, level)
    assert areas.equals(expected[0])
    np.testing.assert_array_equal(positions, expected[1])


def test_outcome_panel_same_with_categorical_or_text_buurt_codes() -> None:
    rng = np.random.default_rng(3)
    n_persons, n_addresses = 300, 700
    persons = pd.DataFrame(
        {
            "rinpersoon": np.arange(n_persons) + 1000,
            "birth_date": pd.Timestamp("1998-01-01") + pd.to_timedelta(rng.integers(0, 5000, n_persons), unit="D"),
        }
    )
    start = pd.Timestamp("2008-01-01") + pd.to_timedelta(rng.integers(0, 5000, n_addresses), unit="D")
    length = pd.to_timedelta(rng.integers(1, 3000, n_addresses), unit="D")
    addresses = pd.DataFrame(
        {
            "rinpersoon": rng.integers(1000, 1000 + n_persons, n_addresses),
            "buurt_code": rng.choice(BUURTEN[:40], n_addresses),
            "date_start": start,
            "date_end": (start + length).where(rng.random(n_addresses) < 0.7),
        }
    )
    suspects = pd.DataFrame(
        {
            "rinpersoon": rng.integers(1000, 1000 + n_persons, 400),
            "registration_date": pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 5000, 400), unit="D"),
            "offence": rng.choice(["opiumwet", "geweld", "vermogen"], 400),
        }
    )
    cfg = InterventionConfig(panel_level="wijk", first_year=2012, last_year=2021, min_pre_periods=1)
    end = dt.date(2021, 12, 31)
    geo = load_geography()
    text = build_outcome_panel(
        {"persons": persons, "addresses": addresses, "suspects": suspects}, geo, cfg, observation_end=end
    )
    cat = addresses.assign(buurt_code=addresses["buurt_code"].astype("category"))
    tables = {"persons": persons, "addresses": cat, "suspects": suspects}
    panel = build_outcome_panel(tables, geo, cfg, observation_end=end)
    pd.testing.assert_frame_equal(panel, text)
    assert panel["n_persons"].sum() > 0 and panel["n_registered"].sum() > 0


def panel_by_definition(tables: dict[str, pd.DataFrame], cfg: InterventionConfig, years: range) -> pd.DataFrame:
    """The panel counted person by person as its docstring defines it (slow; small tables)."""
    persons = tables["persons"].set_index("rinpersoon")["birth_date"]
    geo = load_geography().hierarchy().set_index("buurt")
    addresses, suspects = tables["addresses"], tables["suspects"]
    bands = {"8-12": (8, 12), "13-19": (13, 19), "20-23": (20, 23)}
    rows = []
    for y in years:
        jan1 = pd.Timestamp(y, 1, 1)
        for rin, birth in persons.items():
            held = addresses[
                (addresses["rinpersoon"] == rin)
                & (addresses["date_start"] <= jan1)
                & ~(addresses["date_end"] <= jan1)  # open end: still there
            ]
            if held.empty:
                continue
            latest = held[held["date_start"] == held["date_start"].max()].iloc[-1]
            age = y - birth.year - (0 if (birth.month, birth.day) == (1, 1) else 1)
            band = next((b for b, (lo, hi) in bands.items() if lo <= age <= hi), None)
            if band is None:
                continue
            mine = suspects[(suspects["rinpersoon"] == rin) & (suspects["registration_date"].dt.year == y)]
            registered = mine["offence"].isin(["opiumwet"] if band != "8-12" else list(OFFENCES)).any()
            area = (
                str(geo.loc[latest["buurt_code"], cfg.panel_level])
                if cfg.panel_level != "buurt"
                else latest["buurt_code"]
            )
            rows.append((y, area, band, 1, int(registered)))
    got = pd.DataFrame(rows, columns=["period", "area_code", "age_band", "n_persons", "n_registered"])
    return got.groupby(["period", "area_code", "age_band"], as_index=False)[["n_persons", "n_registered"]].sum()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_persons=st.integers(1, 15), level=st.sampled_from(["buurt", "gemeente"]))
def test_outcome_panel_counts_persons_as_defined(seed: int, n_persons: int, level: str) -> None:
    rng = np.random.default_rng(seed)
    n_addresses, n_suspects = 3 * n_persons, 2 * n_persons
    persons = pd.DataFrame(
        {
            "rinpersoon": np.arange(n_persons) + 7,
            # born 1985-2015, some on 1 January: in a band in some panel years, or never
            "birth_date": pd.Timestamp("1985-01-01")
            + pd.to_timedelta(rng.choice([0, 365, 366, 1000, 4000, 9000, 11000], n_persons), unit="D")
            + pd.to_timedelta(rng.integers(0, 3, n_persons) * 365, unit="D"),
        }
    )
    start = pd.Timestamp("2009-01-01") + pd.to_timedelta(rng.integers(0, 12, n_addresses) * 365, unit="D")
    addresses = pd.DataFrame(
        {
            "rinpersoon": rng.integers(7, 7 + n_persons + 1, n_addresses),  # one id not in persons
            "buurt_code": rng.choice(BUURTEN[:6], n_addresses),
            "date_start": start,
            "date_end": (start + pd.to_timedelta(rng.integers(0, 5, n_addresses) * 365, unit="D")).where(
                rng.random(n_addresses) < 0.6
            ),
        }
    )
    suspects = pd.DataFrame(
        {
            "rinpersoon": rng.integers(7, 7 + n_persons, n_suspects),
            "registration_date": pd.Timestamp("2012-01-01")
            + pd.to_timedelta(rng.integers(0, 3650, n_suspects), unit="D"),
            "offence": rng.choice(["opiumwet", "geweld"], n_suspects),
        }
    )
    tables = {"persons": persons, "addresses": addresses, "suspects": suspects}
    cfg = InterventionConfig(panel_level=level, first_year=2013, last_year=2021, min_pre_periods=1)
    panel = build_outcome_panel(tables, load_geography(), cfg, observation_end=dt.date(2021, 12, 31))
    expected = panel_by_definition(tables, cfg, range(2013, 2022))
    got = panel[["period", "area_code", "age_band", "n_persons", "n_registered"]]
    got = got.sort_values(["period", "area_code", "age_band"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
