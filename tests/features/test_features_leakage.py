"""Leakage properties (hypothesis): features use only the past, labels only the future.

A small random delivery is built directly as typed frames. Then every event on or after a
reference date is added, moved or deleted at random (addresses included: a move ON the reference
date counts as after it, like every other event): the features of that date and of every
earlier date must not change. Conversely, changing suspect registrations before the
reference date must not change its labels, and the labels must equal a direct computation.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from features.build import build_feature_table
from features.catalogue import LABEL_COLUMN
from features.config import BAND_LIMITS, FeatureConfig
from features.contract import (
    CARE_TYPES,
    DEBT_TYPES,
    DEREGISTRATION_REASONS,
    HALT_CATEGORIES,
    OFFENCES,
    SCHOOL_LEVELS,
    TABLES,
    Delivery,
)

OBS_END = dt.date(2024, 12, 31)
CFG = FeatureConfig(first_ref_date=dt.date(2016, 1, 1))
REFS = [dt.date(y, 1, 1) for y in range(2016, 2025)]
EPOCH = dt.date(1970, 1, 1)
LO = (dt.date(2008, 1, 1) - EPOCH).days
HI = (OBS_END - EPOCH).days
BUURTEN = ("BU0363AA01", "BU0363AA02", "BU03440111")
EVENT_DATE = {
    "vsv": "vsv_date",
    "halt": "referral_date",
    "suspects": "registration_date",
    "deregistrations": "deregistration_date",
}
INTERVALS = ("enrolments", "debt", "youth_care")


def _day(d: dt.date) -> int:
    return (d - EPOCH).days


def _boundaries() -> list[int]:
    """Days where off-by-one mistakes show: each ref date and its window edges, +-1 day."""
    out = set()
    for ref in REFS:
        ts = pd.Timestamp(ref)
        for months in (0, -24, -60, 24, 48, -1):
            edge = _day((ts + pd.DateOffset(months=months)).date())
            out.update(d for d in (edge - 1, edge, edge + 1) if LO <= d <= HI)
    return sorted(out)


BOUNDARY_DAYS = _boundaries()


def _days(lo: int = LO, hi: int = HI) -> st.SearchStrategy[int]:
    """Uniform days in [lo, hi], with extra weight on window boundaries inside it."""
    near = [d for d in BOUNDARY_DAYS if lo <= d <= hi]
    return st.one_of(st.integers(lo, hi), st.sampled_from(near)) if near else st.integers(lo, hi)


def _date(day: int | None) -> dt.date | None:
    return None if day is None else EPOCH + dt.timedelta(days=int(day))


def _frames(rows: dict[str, list[dict]]) -> Delivery:
    tables = {}
    for name, spec in TABLES.items():
        df = pd.DataFrame(rows.get(name, []), columns=list(spec.column_names))
        for c in spec.columns:
            if c.kind == "date":
                df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[s]")
            elif c.kind in ("id", "int"):
                df[c.name] = df[c.name].astype("int64")
            else:
                df[c.name] = df[c.name].astype("category")
        tables[name] = df.drop_duplicates(list(spec.key)).reset_index(drop=True)
    return Delivery(tables=tables, observation_end=OBS_END)


@st.composite
def deliveries(draw: st.DrawFn) -> dict[str, list[dict]]:
    n_kids = draw(st.integers(1, 5))
    kids = list(range(1, n_kids + 1))
    parents = [100 + k for k in range(draw(st.integers(0, 4)))]
    day = _days()
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    for k in kids:
        birth = _date(draw(st.integers(_day(dt.date(1994, 1, 1)), _day(dt.date(2012, 12, 31)))))
        rows["persons"].append(
            {"rinpersoon": k, "birth_date": birth, "sex": draw(st.sampled_from("MV")), "migration_group": "nederland"}
        )
    for p in parents:
        rows["persons"].append(
            {"rinpersoon": p, "birth_date": dt.date(1970, 1, 1), "sex": "V", "migration_group": "europa"}
        )
    for k in kids:
        for p in draw(st.lists(st.sampled_from(parents), max_size=2, unique=True)) if parents else []:
            rows["parent_child"].append({"rinpersoon": k, "rinpersoon_parent": p})
    for person in kids + parents:  # consecutive address episodes, possibly a gap or an end
        starts = sorted(draw(st.lists(_days(_day(dt.date(2000, 1, 1)), HI), min_size=0, max_size=4, unique=True)))
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else draw(st.one_of(st.none(), st.integers(s + 1, HI + 30)))
            rows["addresses"].append(
                {
                    "rinpersoon": person,
                    "address_id": draw(st.integers(1, 3)),
                    "buurt_code": draw(st.sampled_from(BUURTEN)),
                    "date_start": _date(s),
                    "date_end": _date(end),
                }
            )
    everyone = kids + parents
    for name, col in EVENT_DATE.items():
        for _ in range(draw(st.integers(0, 6))):
            rows[name].append(_event(draw, name, col, draw(st.sampled_from(everyone)), draw(day)))
    for name in INTERVALS:
        for _ in range(draw(st.integers(0, 5))):
            s = draw(day)
            rows[name].append(
                _episode(draw, name, draw(st.sampled_from(everyone)), s, draw(st.one_of(st.none(), _days(s, HI))))
            )
    return rows


def _event(draw: st.DrawFn, name: str, col: str, person: int, day: int) -> dict:
    row = {"rinpersoon": person, col: _date(day)}
    if name == "halt":
        row["halt_category"] = draw(st.sampled_from(HALT_CATEGORIES))
    if name == "suspects":
        row["offence"] = draw(st.sampled_from(OFFENCES))
    if name == "deregistrations":
        row["reason"] = draw(st.sampled_from(DEREGISTRATION_REASONS))
    return row


def _episode(draw: st.DrawFn, name: str, person: int, start: int, end: int | None) -> dict:
    row = {"rinpersoon": person, "date_start": _date(start), "date_end": _date(end)}
    if name == "enrolments":
        row |= {"school_id": draw(st.integers(1, 3)), "level": draw(st.sampled_from(SCHOOL_LEVELS))}
    if name == "debt":
        row["debt_type"] = draw(st.sampled_from(DEBT_TYPES))
    if name == "youth_care":
        row["care_type"] = draw(st.sampled_from(CARE_TYPES))
    return row


def _perturb_after(draw: st.DrawFn, rows: dict[str, list[dict]], ref: dt.date) -> dict[str, list[dict]]:
    """Add, move or delete every kind of event dated on/after ``ref`` (addresses included)."""
    r = _day(ref)
    people = [p["rinpersoon"] for p in rows["persons"]]
    out: dict[str, list[dict]] = {name: list(v) for name, v in rows.items()}
    for name, col in EVENT_DATE.items():
        kept = []
        for e in out[name]:
            if _day(e[col]) < r:
                kept.append(e)
            elif (action := draw(st.sampled_from(["keep", "move", "delete"]))) == "move":
                kept.append(e | {col: _date(draw(_days(r, HI)))})
            elif action == "keep":
                kept.append(e)
        for _ in range(draw(st.integers(0, 3))):
            kept.append(_event(draw, name, col, draw(st.sampled_from(people)), draw(_days(r, HI))))
        out[name] = kept
    for name in (*INTERVALS, "addresses"):
        first_after = r  # the ref date itself counts as after it, for addresses too
        kept = []
        for e in out[name]:
            s = _day(e["date_start"])
            end = None if e["date_end"] is None or pd.isna(e["date_end"]) else _day(e["date_end"])
            if s >= first_after:  # wholly after: move or delete
                action = draw(st.sampled_from(["keep", "move", "delete"]))
                if action == "move":
                    s2 = draw(_days(first_after, HI))
                    kept.append(
                        e
                        | {
                            "date_start": _date(s2),
                            "date_end": _date(
                                draw(st.one_of(st.none(), st.integers(s2 + (name == "addresses"), HI + 30)))
                            ),
                        }
                    )
                elif action == "keep":
                    kept.append(e)
            elif end is None or end >= first_after:  # ongoing: only its end lies after
                new_end = draw(st.one_of(st.none(), st.integers(max(first_after, s), HI + 30)))
                kept.append(e | {"date_end": _date(new_end)})
            else:
                kept.append(e)
        for _ in range(draw(st.integers(0, 2))):
            s2 = draw(_days(first_after, HI))
            person = draw(st.sampled_from(people))
            if name == "addresses":
                kept.append(
                    {
                        "rinpersoon": person,
                        "address_id": draw(st.integers(1, 3)),
                        "buurt_code": draw(st.sampled_from(BUURTEN)),
                        "date_start": _date(s2),
                        "date_end": None,
                    }
                )
            else:
                kept.append(_episode(draw, name, person, s2, draw(st.one_of(st.none(), st.integers(s2, HI)))))
        out[name] = kept
    return out


def _upto(ft: pd.DataFrame, ref: dt.date) -> pd.DataFrame:
    return ft[ft["ref_date"] <= pd.Timestamp(ref)].reset_index(drop=True)


@given(rows=deliveries(), ref=st.sampled_from(REFS), data=st.data())
def test_events_on_or_after_ref_date_never_change_its_features(rows, ref, data):
    before = build_feature_table(_frames(rows), CFG)
    after = build_feature_table(_frames(_perturb_after(data.draw, rows, ref)), CFG)
    a = _upto(before, ref).drop(columns=[LABEL_COLUMN])
    b = _upto(after, ref).drop(columns=[LABEL_COLUMN])
    pd.testing.assert_frame_equal(a, b)


def _expected_labels(ft: pd.DataFrame, suspects: pd.DataFrame, left: pd.DataFrame) -> list[bool | None]:
    """Direct computation, row by row, from the definition (None = censored)."""
    regs: dict[int, list[tuple[pd.Timestamp, str]]] = {}
    for s in suspects.itertuples():
        regs.setdefault(s.rinpersoon, []).append((pd.Timestamp(s.registration_date), s.offence))
    gone: dict[int, list[pd.Timestamp]] = {}
    for g in left.itertuples():
        gone.setdefault(g.rinpersoon, []).append(pd.Timestamp(g.deregistration_date))
    limit = pd.Timestamp(OBS_END) + pd.Timedelta(days=1)
    out: list[bool | None] = []
    for rin, ref, band in zip(ft["rinpersoon"], ft["ref_date"], ft["age_band"], strict=True):
        lab = CFG.labels[band]
        end = pd.Timestamp(ref) + pd.DateOffset(months=lab.horizon_months)
        hit = any(ref <= day < end and off in lab.offences for day, off in regs.get(rin, []))
        if end > limit or (not hit and any(ref <= day < end for day in gone.get(rin, []))):
            out.append(None)
        else:
            out.append(hit)
    return out


@given(rows=deliveries(), ref=st.sampled_from(REFS), data=st.data())
def test_labels_use_only_registrations_from_the_ref_date_on(rows, ref, data):
    d = _frames(rows)
    ft = build_feature_table(d, CFG)
    assert [None if pd.isna(x) else bool(x) for x in ft[LABEL_COLUMN]] == _expected_labels(
        ft, d.tables["suspects"], d.tables["deregistrations"]
    )
    # rewrite all registrations strictly before ref: labels from ref on do not move
    r = _day(ref)
    people = [p["rinpersoon"] for p in rows["persons"]]
    changed = dict(rows)
    changed["suspects"] = [e for e in rows["suspects"] if _day(e["registration_date"]) >= r] + [
        _event(
            data.draw, "suspects", "registration_date", data.draw(st.sampled_from(people)), data.draw(_days(LO, r - 1))
        )
        for _ in range(data.draw(st.integers(0, 4)))
    ]
    ft2 = build_feature_table(_frames(changed), CFG)
    sel1 = ft["ref_date"] >= pd.Timestamp(ref)
    sel2 = ft2["ref_date"] >= pd.Timestamp(ref)
    pd.testing.assert_series_equal(
        ft.loc[sel1, LABEL_COLUMN].reset_index(drop=True), ft2.loc[sel2, LABEL_COLUMN].reset_index(drop=True)
    )


def test_band_limits_cover_8_to_23_without_gaps():
    ages = sorted(a for lo, hi in BAND_LIMITS.values() for a in range(lo, hi + 1))
    assert ages == list(range(8, 24))
    assert np.all(np.diff(ages) == 1)
