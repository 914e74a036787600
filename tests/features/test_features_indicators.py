"""Feature builders on tiny hand-made deliveries with hand-computed answers, one concern per test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import ConfigError, InputError
from features.build import build_audit_frame, build_feature_table, reference_dates
from features.catalogue import INDICATOR_COLUMNS, feature_columns, indicator
from features.config import AGE_BANDS, FeatureConfig, LabelConfig
from features.contract import TABLES, Delivery

OBS_END = dt.date(2024, 12, 31)
BU_A, BU_B = "BU0363AA01", "BU0363AA02"  # Amsterdam, wijk WK0363AA


def _table(name: str, rows: list[tuple]) -> pd.DataFrame:
    spec = TABLES[name]
    df = pd.DataFrame(rows, columns=list(spec.column_names))
    for c in spec.columns:
        if c.kind == "date":
            df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[s]")
        elif c.kind in ("id", "int"):
            df[c.name] = df[c.name].astype("int64")
        else:
            df[c.name] = df[c.name].astype("category")
    return df


def make_delivery(persons: list[tuple], obs_end: dt.date = OBS_END, **tables: list[tuple]) -> Delivery:
    """persons: (rin, birth_date, sex) or (rin, birth_date, sex, migration_group)."""
    rows = [p if len(p) == 4 else (*p, "nederland") for p in persons]
    out = {"persons": _table("persons", rows)}
    for name in TABLES:
        if name != "persons":
            out[name] = _table(name, tables.get(name, []))
    return Delivery(tables=out, observation_end=obs_end)


def lives(
    rin: int, start: str = "2000-01-01", end: str | None = None, address: int | None = None, buurt: str = BU_A
) -> tuple:
    return (rin, address if address is not None else rin, buurt, start, end)


def cfg(first: str = "2020-01-01", **kw) -> FeatureConfig:
    return FeatureConfig(first_ref_date=dt.date.fromisoformat(first), **kw)


def row(ft: pd.DataFrame, rin: int, ref: str) -> pd.Series:
    sel = ft[(ft["rinpersoon"] == rin) & (ft["ref_date"] == pd.Timestamp(ref))]
    assert len(sel) == 1, f"expected one row for {rin} on {ref}, got {len(sel)}"
    return sel.iloc[0]


# --- reference dates, scope, keys ------------------------------------------------------------


def test_reference_dates_step_and_end():
    c = FeatureConfig(first_ref_date=dt.date(2018, 1, 1), ref_step_months=6)
    got = reference_dates(c, dt.date(2019, 7, 1))
    assert [d.strftime("%Y-%m-%d") for d in got] == ["2018-01-01", "2018-07-01", "2019-01-01", "2019-07-01"]
    assert len(reference_dates(c, dt.date(2019, 6, 30))) == 3
    with pytest.raises(ConfigError, match="first_ref_date"):
        reference_dates(c, dt.date(2017, 12, 31))


def test_scope_age_on_birthday_and_address_coverage():
    d = make_delivery(
        [
            (1, "2012-01-01", "M"),  # 8 on 2020-01-01 exactly (birthday on the ref date)
            (2, "2012-01-02", "V"),  # 7 on 2020-01-01: out of scope
            (3, "1996-01-02", "M"),  # 23 on 2020-01-01: in scope
            (4, "1996-01-01", "V"),  # 24: out
            (5, "2005-06-01", "M"),  # address ends ON the ref date: still resident (end is after)
            (6, "2005-06-01", "V"),  # moves ON the ref date: still in the old buurt on that date
            (7, "2005-06-01", "M"),  # no address at all
            (8, "2005-06-01", "V"),  # first address starts ON the ref date: not yet resident
            (9, "2005-06-01", "M"),  # address ended the day before the ref date: not resident
        ],
        addresses=[
            lives(1),
            lives(2),
            lives(3),
            lives(4),
            lives(5, "2005-06-01", "2020-01-01"),
            lives(6, "2005-06-01", "2020-01-01"),
            lives(6, "2020-01-01", None, address=60, buurt=BU_B),
            lives(8, "2020-01-01"),
            lives(9, "2005-06-01", "2019-12-31"),
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    assert sorted(ft.loc[ft["ref_date"] == pd.Timestamp("2020-01-01"), "rinpersoon"]) == [1, 3, 5, 6]
    assert row(ft, 1, "2020-01-01")["age"] == 8 and row(ft, 1, "2020-01-01")["age_band"] == "8-12"
    assert row(ft, 3, "2020-01-01")["age"] == 23 and row(ft, 3, "2020-01-01")["age_band"] == "20-23"
    r6 = row(ft, 6, "2020-01-01")
    assert (r6["buurt"], r6["wijk"], r6["gemeente"]) == (BU_A, "WK0363AA", "GM0363")
    assert r6["age"] == 14 and r6["age_band"] == "13-19"
    # a year later the move and the first address are known, person 5 has left, person 2 is 8
    assert sorted(ft.loc[ft["ref_date"] == pd.Timestamp("2021-01-01"), "rinpersoon"]) == [1, 2, 6, 8]
    assert row(ft, 6, "2021-01-01")["buurt"] == BU_B


def test_band_boundaries_and_dtypes():
    births = {12: "2007-06-01", 13: "2006-06-01", 19: "2000-06-01", 20: "1999-06-01"}
    d = make_delivery([(a, b, "M") for a, b in births.items()], addresses=[lives(a) for a in births])
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    bands = dict(zip(ft["age"], ft["age_band"].astype(str), strict=True))
    assert bands == {12: "8-12", 13: "13-19", 19: "13-19", 20: "20-23"}
    assert ft["rinpersoon"].dtype == np.int64
    assert str(ft["ref_date"].dtype) == "datetime64[s]"
    assert list(ft["age_band"].cat.categories) == list(AGE_BANDS)
    assert str(ft["label"].dtype) == "boolean"
    for c in INDICATOR_COLUMNS:
        assert ft[c].dtype == np.float32, c


def test_not_applicable_indicators_are_nan_and_applicable_ones_are_not():
    d = make_delivery(
        [(1, "2010-06-01", "M"), (2, "2005-06-01", "V"), (3, "1998-06-01", "M")],
        addresses=[lives(1), lives(2), lives(3)],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    for _, r in ft.iterrows():
        band = r["age_band"]
        for c in INDICATOR_COLUMNS:
            assert pd.isna(r[c]) == (c not in feature_columns(band)), (band, c)
    assert "ind_own_debt_ever" not in feature_columns("8-12")
    assert "ind_own_debt_ever" in feature_columns("13-19")
    assert "ind_enrolled" not in feature_columns("8-12")


# --- justice ---------------------------------------------------------------------------------


def test_halt_count_ever_and_months_since():
    d = make_delivery(
        [(1, "2005-06-01", "M"), (2, "2005-06-01", "V")],
        addresses=[lives(1), lives(2)],
        halt=[
            (1, "2018-03-10", "diefstal"),
            (1, "2019-02-15", "vernieling"),
            (1, "2020-01-01", "overig"),  # on the ref date: after it
            (2, "2020-01-01", "overig"),  # only event is on the ref date
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    r = row(ft, 1, "2020-01-01")
    assert (r["ind_halt_ever"], r["ind_n_halt"], r["ind_months_since_halt"]) == (1, 2, 10)
    r = row(ft, 2, "2020-01-01")
    assert (r["ind_halt_ever"], r["ind_n_halt"], r["ind_months_since_halt"]) == (0, 0, 120)
    r = row(ft, 1, "2021-01-01")
    assert (r["ind_n_halt"], r["ind_months_since_halt"]) == (3, 12)
    r = row(ft, 2, "2021-01-01")
    assert (r["ind_halt_ever"], r["ind_months_since_halt"]) == (1, 12)


def test_months_since_is_capped():
    d = make_delivery([(1, "2000-06-01", "M")], addresses=[lives(1)], halt=[(1, "2013-06-01", "overig")])
    ft = build_feature_table(d, cfg(recency_cap_months=60), observation_end=dt.date(2020, 6, 30))
    assert row(ft, 1, "2020-01-01")["ind_months_since_halt"] == 60


def test_prior_suspect_count_and_drug():
    d = make_delivery(
        [(1, "2004-06-01", "M")],
        addresses=[lives(1)],
        suspects=[(1, "2019-05-01", "geweld"), (1, "2019-05-01", "opiumwet"), (1, "2020-01-01", "vermogen")],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    r = row(ft, 1, "2020-01-01")
    assert (r["ind_prior_suspect"], r["ind_n_prior_suspect"], r["ind_prior_drug_suspect"]) == (1, 2, 1)
    assert row(ft, 1, "2021-01-01")["ind_n_prior_suspect"] == 3


def test_parent_suspect_window_is_60_months_before_ref():
    kids = [(k, "2008-06-01", "M") for k in (1, 2, 3, 4)]
    parents = [(p, "1975-01-01", "V") for p in (11, 12, 13, 14)]
    d = make_delivery(
        kids + parents,
        addresses=[lives(k) for k in (1, 2, 3, 4)],
        parent_child=[(1, 11), (2, 12), (3, 13), (4, 14)],
        suspects=[
            (11, "2015-01-01", "geweld"),  # exactly ref - 60 months: in
            (12, "2014-12-31", "geweld"),  # one day earlier: out
            (13, "2020-01-01", "geweld"),  # on the ref date: out
            (14, "2019-12-31", "opiumwet"),  # day before: in
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    got = {k: row(ft, k, "2020-01-01")["ind_parent_suspect_recent"] for k in (1, 2, 3, 4)}
    assert got == {1: 1, 2: 0, 3: 0, 4: 1}
    ft36 = build_feature_table(d, cfg(parent_suspect_months=36), observation_end=dt.date(2020, 6, 30))
    assert row(ft36, 1, "2020-01-01")["ind_parent_suspect_recent"] == 0


# --- education -------------------------------------------------------------------------------


def test_vsv_ever_excludes_ref_date():
    d = make_delivery(
        [(1, "2003-06-01", "M"), (2, "2003-06-01", "V")],
        addresses=[lives(1), lives(2)],
        vsv=[(1, "2019-12-31"), (2, "2020-01-01")],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    assert row(ft, 1, "2020-01-01")["ind_vsv_ever"] == 1
    assert row(ft, 2, "2020-01-01")["ind_vsv_ever"] == 0
    assert row(ft, 2, "2021-01-01")["ind_vsv_ever"] == 1


def test_school_changes_special_education_and_enrolled():
    d = make_delivery(
        [(1, "2005-06-01", "M"), (2, "2005-06-01", "V"), (3, "2005-06-01", "M")],
        addresses=[lives(1), lives(2), lives(3)],
        enrolments=[
            (1, 100, "po", "2009-08-01", "2017-07-31"),
            (1, 200, "vo", "2017-08-01", "2018-07-31"),  # po -> vo: a stage transition, not a change
            (1, 200, "vo", "2018-08-01", "2019-01-31"),  # same school: no change
            (1, 300, "vso", "2019-02-01", "2019-12-31"),  # change within secondary (to special)
            (1, 400, "vo", "2020-01-01", None),  # change within secondary, ON the ref date: not known
            (2, 500, "so", "2012-08-01", "2020-01-01"),  # ends on the ref date: still enrolled
            (3, 600, "vo", "2017-08-01", "2019-12-31"),  # ended before the ref date
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    r1, r2, r3 = (row(ft, k, "2020-01-01") for k in (1, 2, 3))
    assert r1["ind_n_school_changes"] == 1
    assert r1["ind_special_education_ever"] == 1 and r2["ind_special_education_ever"] == 1
    assert r3["ind_special_education_ever"] == 0
    assert (r1["ind_enrolled"], r2["ind_enrolled"], r3["ind_enrolled"]) == (0, 1, 0)
    # a year later the 2020-01-01 enrolment is known: one more change, enrolled
    r1b = row(ft, 1, "2021-01-01")
    assert (r1b["ind_n_school_changes"], r1b["ind_enrolled"]) == (2, 1)


def test_school_changes_count_only_changes_within_a_stage():
    # hand-computed on 2020-01-01 (window 2018-01-01 .. 2019-12-31)
    d = make_delivery(
        [(k, "2006-06-01", "M") for k in (1, 2, 3, 4, 5)],
        addresses=[lives(k) for k in (1, 2, 3, 4, 5)],
        enrolments=[
            (1, 100, "po", "2010-08-01", "2018-07-31"),
            (1, 200, "vo", "2018-08-01", None),  # po -> vo only: 0 changes
            (2, 100, "po", "2010-08-01", "2018-07-31"),
            (2, 200, "vo", "2018-08-01", "2019-02-28"),
            (2, 300, "vo", "2019-03-01", None),  # vo -> vo at another school: 1 change
            (3, 200, "vo", "2014-08-01", "2018-07-31"),
            (3, 500, "mbo", "2018-08-01", "2019-07-31"),  # vo -> mbo: a stage transition
            (3, 600, "hbo", "2019-08-01", None),  # mbo -> hbo: a stage transition, 0 in all
            (4, 100, "po", "2010-08-01", "2018-03-31"),
            (4, 110, "so", "2018-04-01", None),  # po -> so: a change within primary, 1
            (5, 500, "mbo", "2018-08-01", "2019-01-31"),
            (5, 510, "mbo", "2019-02-01", "2019-07-31"),  # mbo -> mbo elsewhere: 1
            (5, 510, "mbo", "2019-08-01", None),  # same school again: no change
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    got = {k: row(ft, k, "2020-01-01")["ind_n_school_changes"] for k in (1, 2, 3, 4, 5)}
    assert got == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}


# --- debt ------------------------------------------------------------------------------------


def test_own_debt_ever_and_band_absence():
    d = make_delivery(
        [(1, "2001-06-01", "M"), (2, "2001-06-01", "V"), (3, "2009-06-01", "M")],
        addresses=[lives(1), lives(2), lives(3)],
        debt=[(1, "wsnp", "2019-06-01", "2019-09-01"), (2, "minnelijk", "2020-01-01", None)],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    assert row(ft, 1, "2020-01-01")["ind_own_debt_ever"] == 1  # ended episodes still count
    assert row(ft, 2, "2020-01-01")["ind_own_debt_ever"] == 0  # starts on the ref date
    assert row(ft, 2, "2021-01-01")["ind_own_debt_ever"] == 1
    assert np.isnan(row(ft, 3, "2020-01-01")["ind_own_debt_ever"])  # 10-year-old: absent


def test_parent_debt_recent_window():
    kids = [(k, "2008-06-01", "M") for k in (1, 2, 3, 4, 5)]
    parents = [(10 + k, "1975-01-01", "V") for k in (1, 2, 3, 4, 5)]
    d = make_delivery(
        kids + parents,
        addresses=[lives(k) for k in (1, 2, 3, 4, 5)],
        parent_child=[(k, 10 + k) for k in (1, 2, 3, 4, 5)],
        debt=[
            (11, "wsnp", "2015-01-01", "2018-01-01"),  # ended exactly ref - 24 months: in
            (12, "wsnp", "2015-01-01", "2017-12-31"),  # ended one day before the window: out
            (13, "minnelijk", "2020-01-01", None),  # starts on the ref date: out
            (14, "minnelijk", "2010-01-01", None),  # open since long: in
            (15, "wsnp", "2019-12-31", "2019-12-31"),  # one-day episode the day before: in
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    got = {k: row(ft, k, "2020-01-01")["ind_parent_debt_recent"] for k in (1, 2, 3, 4, 5)}
    assert got == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert np.isnan(row(ft, 4, "2020-01-01")["ind_own_debt_ever"])  # a parent's debt is not the child's (absent at 11)


# --- household -------------------------------------------------------------------------------


def test_single_parent_household():
    # child 1 with both parents, child 2 with one of two, child 3 alone, child 4 with its only
    # linked parent, child 5 whose second parent moved out ON the ref date
    d = make_delivery(
        [(k, "2008-06-01", "M") for k in (1, 2, 3, 4, 5)]
        + [(p, "1975-01-01", "V") for p in (11, 12, 21, 22, 31, 41, 51, 52)],
        parent_child=[(1, 11), (1, 12), (2, 21), (2, 22), (3, 31), (4, 41), (5, 51), (5, 52)],
        addresses=[
            lives(1, address=100),
            lives(11, address=100),
            lives(12, address=100),
            lives(2, address=200),
            lives(21, address=200),
            lives(22, address=201),
            lives(3, address=300),
            lives(31, address=301),
            lives(4, address=400),
            lives(41, address=400),
            lives(5, address=500),
            lives(51, address=500),
            lives(52, "2000-01-01", "2020-01-01", address=500),
            lives(52, "2020-01-01", address=501),
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    got = {k: row(ft, k, "2020-01-01")["ind_single_parent"] for k in (1, 2, 3, 4, 5)}
    # child 5: the move out ON the ref date counts from the next date (leakage rule)
    assert got == {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}
    assert row(ft, 5, "2021-01-01")["ind_single_parent"] == 1


# --- care ------------------------------------------------------------------------------------


def test_youth_care_types():
    d = make_delivery(
        [(1, "2005-06-01", "M"), (2, "2005-06-01", "V"), (3, "2005-06-01", "M")],
        addresses=[lives(1), lives(2), lives(3)],
        youth_care=[
            (1, "jeugdhulp", "2012-01-01", "2013-01-01"),
            (2, "jeugdreclassering", "2019-03-01", None),
            (3, "jeugdbescherming", "2020-01-01", None),  # on the ref date
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    cols = ["ind_youth_care_ever", "ind_youth_protection_ever", "ind_youth_probation_ever"]
    assert list(row(ft, 1, "2020-01-01")[cols]) == [1, 0, 0]
    assert list(row(ft, 2, "2020-01-01")[cols]) == [1, 0, 1]
    assert list(row(ft, 3, "2020-01-01")[cols]) == [0, 0, 0]


# --- residence -------------------------------------------------------------------------------


def test_moves_in_recent_window_exclude_first_address():
    d = make_delivery(
        [(1, "2005-06-01", "M"), (2, "2005-06-01", "V")],
        addresses=[
            lives(1, "2005-06-01", "2017-12-01", address=1),  # first address: not a move
            lives(1, "2017-12-01", "2018-03-01", address=2),  # 25 months before 2020: outside
            lives(1, "2018-03-01", "2019-05-01", address=3),  # in
            lives(1, "2019-05-01", None, address=4),  # in
            lives(2, "2019-01-01", None, address=5),  # first recorded (immigration): not a move
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2020, 6, 30))
    assert row(ft, 1, "2020-01-01")["ind_n_moves"] == 2
    assert row(ft, 2, "2020-01-01")["ind_n_moves"] == 0
    ft12 = build_feature_table(d, cfg(recent_months=12), observation_end=dt.date(2020, 6, 30))
    assert row(ft12, 1, "2020-01-01")["ind_n_moves"] == 1


def test_a_move_on_the_ref_date_counts_as_after_it_everywhere():
    # Child 1 and its mother move ON 2020-01-01 from BU_A (with both parents) to BU_B (mother
    # only). On 2020-01-01 nothing of that is known: old buurt, both parents, no move. On
    # 2021-01-01 all of it is: new buurt, single parent, one move.
    d = make_delivery(
        [(1, "2008-06-01", "M"), (11, "1975-01-01", "V"), (12, "1975-01-01", "M")],
        parent_child=[(1, 11), (1, 12)],
        addresses=[
            lives(1, "2008-06-01", "2020-01-01", address=100),
            lives(1, "2020-01-01", address=200, buurt=BU_B),
            lives(11, "2000-01-01", "2020-01-01", address=100),
            lives(11, "2020-01-01", address=200, buurt=BU_B),
            lives(12, "2000-01-01", address=100),
        ],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    on, after = row(ft, 1, "2020-01-01"), row(ft, 1, "2021-01-01")
    assert (on["buurt"], on["ind_single_parent"], on["ind_n_moves"]) == (BU_A, 0, 0)
    assert (after["buurt"], after["ind_single_parent"], after["ind_n_moves"]) == (BU_B, 1, 1)


# --- labels ----------------------------------------------------------------------------------


def test_labels_window_offences_and_censoring():
    d = make_delivery(
        [
            (1, "2004-06-01", "M"),  # 15 on 2020-01-01: opiumwet within 24 months
            (2, "2004-06-01", "V"),  # geweld only: not in the 13-19 offence set
            (3, "2004-06-01", "M"),  # opiumwet ON ref + 24 months: outside
            (4, "2004-06-01", "V"),  # opiumwet ON the ref date: inside
            (5, "2010-06-01", "M"),  # 9: any offence within 48 months
        ],
        addresses=[lives(k) for k in (1, 2, 3, 4, 5)],
        suspects=[
            (1, "2021-12-31", "opiumwet"),
            (2, "2020-06-01", "geweld"),
            (3, "2022-01-01", "opiumwet"),
            (4, "2020-01-01", "opiumwet"),
            (5, "2023-12-31", "vermogen"),
        ],
    )
    ft = build_feature_table(d, cfg())
    lab = {k: row(ft, k, "2020-01-01")["label"] for k in (1, 2, 3, 4, 5)}
    assert lab == {1: True, 2: False, 3: False, 4: True, 5: True}
    # 13-19: 2023-01-01 + 24 months = 2025-01-01 = observation end + 1 day: still labelled
    assert row(ft, 1, "2023-01-01")["label"] == False  # noqa: E712
    assert pd.isna(row(ft, 1, "2024-01-01")["label"])
    # 8-12 (48 months): 2021-01-01 labelled, 2022-01-01 censored
    assert not pd.isna(row(ft, 5, "2021-01-01")["label"])
    assert pd.isna(row(ft, 5, "2022-01-01")["label"])
    # one day less of data censors 2023-01-01 for 13-19
    ft2 = build_feature_table(d, cfg(), observation_end=dt.date(2024, 12, 30))
    assert pd.isna(row(ft2, 1, "2023-01-01")["label"])


def test_label_config_per_band():
    d = make_delivery([(1, "2004-06-01", "M")], addresses=[lives(1)], suspects=[(1, "2020-06-01", "geweld")])
    labels = {
        "8-12": LabelConfig(),
        "13-19": LabelConfig(offences=("geweld",), horizon_months=6),
        "20-23": LabelConfig(),
    }
    ft = build_feature_table(d, cfg(labels=labels))
    assert row(ft, 1, "2020-01-01")["label"] == True  # noqa: E712 (June 1 < Jan 1 + 6 months)
    labels["13-19"] = LabelConfig(offences=("geweld",), horizon_months=5)
    ft = build_feature_table(d, cfg(labels=labels))
    assert row(ft, 1, "2020-01-01")["label"] == False  # noqa: E712


# --- audit frame and errors ------------------------------------------------------------------


def test_audit_frame_rows_and_income_year():
    d = make_delivery(
        [(1, "2005-06-01", "M", "buiten_europa"), (2, "2005-06-01", "V", "europa")],
        addresses=[lives(1), lives(2)],
        household_income=[(1, 2018, 2), (1, 2019, 4), (1, 2020, 5)],
    )
    ft = build_feature_table(d, cfg(), observation_end=dt.date(2021, 6, 30))
    au = build_audit_frame(d, ft)
    assert list(au.columns) == ["rinpersoon", "ref_date", "sex", "migration_group", "income_group"]
    assert au.index.equals(ft.index) and (au["rinpersoon"].to_numpy() == ft["rinpersoon"].to_numpy()).all()
    got = {(r.rinpersoon, r.ref_date.year): (r.sex, r.migration_group, r.income_group) for r in au.itertuples()}
    assert got[(1, 2020)] == ("M", "buiten_europa", 4)  # latest year before 2020
    assert got[(1, 2021)] == ("M", "buiten_europa", 5)
    assert got[(2, 2020)][:2] == ("V", "europa") and pd.isna(got[(2, 2020)][2])


def test_missing_table_and_unknown_person_are_input_errors():
    d = make_delivery([(1, "2005-06-01", "M")], addresses=[lives(1)])
    del d.tables["halt"]
    with pytest.raises(InputError, match="halt"):
        build_feature_table(d, cfg())
    d = make_delivery([(1, "2005-06-01", "M")], addresses=[lives(1)], vsv=[(99, "2019-01-01")])
    with pytest.raises(InputError, match=r"vsv.*not in persons.*\(1 row\)"):
        build_feature_table(d, cfg())
    with pytest.raises(ConfigError, match="observation_end"):
        build_feature_table(d.tables, cfg())


def test_catalogue_windows_follow_config():
    assert "36 months" in indicator("ind_parent_suspect_recent").render(
        indicator("ind_parent_suspect_recent").window, cfg(parent_suspect_months=36)
    )


def test_leaving_the_register_within_the_horizon_censors_the_label():
    # 13-19, 24-month horizon from 2020-01-01: [2020-01-01, 2022-01-01)
    d = make_delivery(
        [(k, "2004-06-01", "M") for k in (1, 2, 3, 4, 5, 6)],
        addresses=[
            lives(1, end="2021-03-01"),
            lives(2, end="2022-01-01"),
            lives(3, end="2021-03-01"),
            lives(4, end="2020-01-01"),
            lives(5),
            lives(6, end="2021-09-01"),
        ],
        suspects=[(3, "2020-05-01", "opiumwet"), (6, "2020-02-01", "geweld")],
        deregistrations=[
            (1, "2021-03-01", "emigratie"),  # inside the horizon, no registration: NA
            (2, "2022-01-01", "emigratie"),  # ON ref + horizon: after it, keeps its label
            (3, "2021-03-01", "overlijden"),  # registered before leaving: True is known
            (4, "2020-01-01", "emigratie"),  # leaves ON the ref date: inside, NA
            (6, "2021-09-01", "overlijden"),  # only an offence outside the label's set: NA
        ],
    )
    ft = build_feature_table(d, cfg("2019-01-01"))
    lab = {k: row(ft, k, "2020-01-01")["label"] for k in (1, 2, 3, 4, 5, 6)}
    assert pd.isna(lab[1]) and pd.isna(lab[4]) and pd.isna(lab[6])
    assert lab[2] == False and lab[3] == True and lab[5] == False  # noqa: E712
    # 2019-01-01: person 2's horizon [2019, 2021) ends before its emigration: labelled
    assert row(ft, 2, "2019-01-01")["label"] == False  # noqa: E712
    # without the table nobody is known to leave: the same people read False
    tables = {k: v for k, v in d.tables.items() if k != "deregistrations"}
    ft0 = build_feature_table(tables, cfg(), observation_end=OBS_END)
    assert row(ft0, 1, "2020-01-01")["label"] == False  # noqa: E712
