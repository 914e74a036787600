"""Write contract tables as a delivery in CBS's layout (test helper, not a test module).

The files are what a modeller finds in CBS's secure environment, not prepared ones: SPSS .sav
and CSV (';', Windows-1252) files under CBS-style names and variables, pseudonyms as 9-digit
text, dates as YYYYMMDD text (an open end as 20501231) or SPSS dates, coded values, several
yearly files for one table, a union of separate files per kind (debt help, youth care,
deregistrations), the buurt of an address in yearly lookup files (address object -> code),
the household income quintile in a yearly household file joined through the person's
yearly income file, and the origin group from a country reference table.
``conf/mapping_cbs_example.toml`` maps it onto the contract with no preparation code; the
tests check that the result equals the tables written here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import CARE_TYPES, HALT_CATEGORIES, MIGRATION_GROUPS, OFFENCES, SCHOOL_LEVELS

#: CSV dialect of the delivery (Dutch Excel / SPSS export): as in the example mapping.
CSV = {"sep": ";", "encoding": "cp1252", "index": False}
OPEN_END = "20501231"


def _codes(values: tuple[str, ...]) -> dict[str, str]:
    """Contract value -> CBS-style numeric code (1, 2, ...; 'overig' is 9), as in the example."""
    return {v: ("9" if v == "overig" else str(i + 1)) for i, v in enumerate(values)}


#: Country codes per origin group in the test's country reference table (several per group,
#: so that the lookup groups them).
COUNTRIES = {"nederland": ["6030"], "europa": ["5010", "6029", "7044"], "buiten_europa": ["5022", "6003", "9089"]}


def _origin_country(p: pd.DataFrame) -> pd.Series:
    """A country of origin per person, from their group (spread by pseudonym)."""
    groups = p["migration_group"].astype(str)
    pick = p["rinpersoon"].astype("int64").to_numpy()
    return pd.Series([COUNTRIES[g][i % len(COUNTRIES[g])] for g, i in zip(groups, pick, strict=True)], index=p.index)


def _pin(s: pd.Series) -> pd.Series:
    return s.astype("int64").map(lambda v: f"{v:09d}")


def _ymd(s: pd.Series, open_end: str = "") -> pd.Series:
    return s.dt.strftime("%Y%m%d").fillna(open_end)


def _with_rins(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.insert(0, "RINPERSOONS", "R")
    return out


def _sav(df: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    pyreadstat.write_sav(_with_rins(df), str(path))


def _csv(df: pd.DataFrame, path: Path) -> None:
    _with_rins(df).to_csv(path, **CSV)


def _household_heads(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Per household_income row, the pseudonym of the household's reference person.

    A young person's household is led by a parent (the lowest pseudonym) where every member's
    quintile of that year agrees; otherwise the person forms a household alone.
    """
    inc = tables["household_income"]
    pc = tables["parent_child"]
    first_parent = pc.groupby("rinpersoon")["rinpersoon_parent"].min()
    head = inc["rinpersoon"].map(first_parent).fillna(inc["rinpersoon"]).astype("int64")
    for _ in range(10):
        groups = pd.DataFrame({"head": head, "year": inc["year"], "q": inc["income_group"]})
        mixed = groups.groupby(["head", "year"])["q"].transform("nunique") > 1
        if not mixed.any():
            return head
        head = head.where(~mixed, inc["rinpersoon"])
    raise AssertionError("household heads did not settle")


def write_cbs_layout(
    tables: dict[str, pd.DataFrame], interventions: pd.DataFrame | None, observation_end: dt.date, out: Path
) -> Path:
    """Write ``tables`` (contract form) as a CBS-layout delivery into ``out``; return ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    t = tables

    p = t["persons"]
    _sav(
        pd.DataFrame(
            {
                "RINPERSOON": _pin(p["rinpersoon"]),
                "GBAGESLACHT": p["sex"].astype(str).map({"M": "1", "V": "2"}),
                "GBAGEBOORTEJAAR": p["birth_date"].dt.year.astype("float64"),
                "GBAGEBOORTEMAAND": p["birth_date"].dt.month.astype("float64"),
                "GBAGEBOORTEDAG": p["birth_date"].dt.day.astype("float64"),
                "GBAGEBOORTELAND": "6030",
                "GBAGENERATIE": "0",
                "GBAHERKOMSTLAND": _origin_country(p),
            }
        ),
        out / "GBAPERSOON2024TABV1.sav",
    )
    # the country reference table groups countries of origin (the audit-only origin group)
    import pyreadstat

    pyreadstat.write_sav(
        pd.DataFrame(
            {
                "LAND": [c for cs in COUNTRIES.values() for c in cs],
                "HERKOMSTGROEP3": [float(_codes(MIGRATION_GROUPS)[g]) for g, cs in COUNTRIES.items() for _ in cs],
            }
        ),
        str(out / "LANDAKTUEELREFV13.sav"),
    )

    # KINDOUDERTAB: one row per child, the parents side by side (no parent: 000000000)
    sex = dict(zip(p["rinpersoon"], p["sex"].astype(str), strict=True))
    pc = t["parent_child"].assign(_sex=lambda d: d["rinpersoon_parent"].map(sex))
    pc = pc.sort_values(["rinpersoon", "_sex", "rinpersoon_parent"], kind="stable")
    pc["_rank"] = pc.groupby("rinpersoon").cumcount()
    assert pc["_rank"].max() <= 1, "KINDOUDERTAB holds two parents per child"
    wide = pc.pivot(index="rinpersoon", columns="_rank", values="rinpersoon_parent").reindex(columns=[0, 1])
    kids = pd.DataFrame({"RINPERSOON": _pin(pd.Series(wide.index))})
    for rank, col in ((0, "pa"), (1, "Ma")):
        kids[f"RINPERSOONS{col}"] = "R"
        kids[f"RINPERSOON{col}"] = _pin(pd.Series(wide[rank].fillna(0).to_numpy()))
    _sav(kids, out / "KINDOUDERTAB.sav")

    # addresses: the address history refers to address objects; their buurt is in yearly
    # lookup files VSLGWB<year>TAB, each listing the objects inhabited in that year
    a = t["addresses"]
    _csv(
        pd.DataFrame(
            {
                "RINPERSOON": _pin(a["rinpersoon"]),
                "SOORTOBJECTNUMMER": "A",
                "RINOBJECTNUMMER": a["address_id"].astype("int64").map(lambda v: f"{v:016d}"),
                "GBADATUMAANVANGADRESHOUDING": _ymd(a["date_start"]),
                "GBADATUMEINDEADRESHOUDING": _ymd(a["date_end"], OPEN_END),
            }
        ),
        out / "GBAADRESOBJECTBUS.csv",
    )
    first_year = int(a["date_start"].dt.year.min())
    start_year = a["date_start"].dt.year.to_numpy()
    end_year = a["date_end"].dt.year.fillna(observation_end.year).to_numpy()
    for year in range(first_year, observation_end.year + 1):
        live = a[(start_year <= year) & (end_year >= year)].drop_duplicates("address_id")
        pd.DataFrame(
            {
                "SOORTOBJECTNUMMER": "A",
                "RINOBJECTNUMMER": live["address_id"].astype("int64").to_numpy(),
                "GEM": live["buurt_code"].astype(str).str[2:6].to_numpy(),
                "BC": live["buurt_code"].astype(str).str[2:].to_numpy(),
            }
        ).to_csv(out / f"VSLGWB{year}TAB.csv", **CSV)

    e = t["enrolments"]
    _sav(
        pd.DataFrame(
            {
                "RINPERSOON": _pin(e["rinpersoon"]),
                "INSTELLINGSNUMMER": e["school_id"].astype("float64"),
                "ONDERWIJSSOORT": e["level"].astype(str).map(_codes(SCHOOL_LEVELS)).astype("float64"),
                "AANVANGINSCHRIJVING": e["date_start"].astype("datetime64[ms]"),  # SPSS dates
                "EINDEINSCHRIJVING": e["date_end"].astype("datetime64[ms]"),
            }
        ),
        out / "ONDERWIJSINSCHRTAB.sav",
    )

    def yearly(df: pd.DataFrame, date: str, stem: str, columns: dict[str, pd.Series]) -> None:
        frame = pd.DataFrame(columns)
        for year, rows in frame.groupby(df[date].dt.year.to_numpy()):
            _csv(rows, out / f"{stem.format(year=year)}.csv")

    v = t["vsv"]
    yearly(v, "vsv_date", "VSV{year}TAB", {"RINPERSOON": _pin(v["rinpersoon"]), "DATUMVSV": _ymd(v["vsv_date"])})
    s = t["suspects"]
    yearly(
        s,
        "registration_date",
        "VERDACHTEN{year}TABV1",
        {
            "RINPERSOON": _pin(s["rinpersoon"]),
            "DATUMREGISTRATIE": _ymd(s["registration_date"]),
            "DELICTHOOFDGROEP": s["offence"].astype(str).map(_codes(OFFENCES)),
        },
    )
    h = t["halt"]
    _csv(
        pd.DataFrame(
            {
                "RINPERSOON": _pin(h["rinpersoon"]),
                "DATUMVERWIJZING": _ymd(h["referral_date"]),
                "HALTFEITCATEGORIE": h["halt_category"].astype(str).map(_codes(HALT_CATEGORIES)),
            }
        ),
        out / "HALTBUS.csv",
    )

    # unions: one file per kind, the kind is the file
    def per_kind(df: pd.DataFrame, column: str, files: dict[str, str], columns: dict[str, str]) -> None:
        for kind, stem in files.items():
            rows = df[df[column].astype(str) == kind]
            frame = pd.DataFrame({"RINPERSOON": _pin(rows["rinpersoon"])})
            for cbs, contract in columns.items():
                frame[cbs] = _ymd(rows[contract])
            _csv(frame, out / f"{stem}.csv")

    per_kind(
        t["debt"],
        "debt_type",
        {"wsnp": "WSNPBUS", "minnelijk": "SCHULDHULPBUS"},
        {"DATUMBEGIN": "date_start", "DATUMEINDE": "date_end"},
    )
    yc_files = dict(zip(CARE_TYPES, ("JGDHULPBUS", "JGDBESCHERMBUS", "JGDRECLASSERINGBUS"), strict=True))
    per_kind(t["youth_care"], "care_type", yc_files, {"DATUMBEGIN": "date_start", "DATUMEINDE": "date_end"})
    if "deregistrations" in t:
        g = t["deregistrations"]
        for reason, stem, col in (
            ("overlijden", "GBAOVERLIJDENTAB", "DATUMOVERLIJDEN"),
            ("emigratie", "GBAEMIGRATIEBUS", "DATUMVERTREK"),
        ):
            rows = g[g["reason"].astype(str) == reason]
            _csv(
                pd.DataFrame({"RINPERSOON": _pin(rows["rinpersoon"]), col: _ymd(rows["deregistration_date"])}),
                out / f"{stem}.csv",
            )

    # household income: per year the person's income file names the household's reference
    # person (RINPERSOONHKW); the household file of that year holds the quintile
    inc = t["household_income"]
    head = _household_heads(t)
    for year in sorted(inc["year"].unique()):
        rows = (inc["year"] == year).to_numpy()
        _csv(
            pd.DataFrame(
                {
                    "RINPERSOON": _pin(inc.loc[rows, "rinpersoon"]),
                    "RINPERSOONSHKW": "R",
                    "RINPERSOONHKW": _pin(head[rows]),
                }
            ),
            out / f"INPA{year}TABV2.csv",
        )
        hh = pd.DataFrame({"RINPERSOONHKW": head[rows].to_numpy(), "q": inc.loc[rows, "income_group"].to_numpy()})
        hh = hh.drop_duplicates("RINPERSOONHKW")
        pd.DataFrame(
            {
                "RINPERSOONSHKW": "R",
                "RINPERSOONHKW": _pin(hh["RINPERSOONHKW"]),
                "INHKWINTIEL": hh["q"].astype("float64").to_numpy(),
            }
        ).to_csv(out / f"INHA{year}TABV2.csv", **CSV)

    if interventions is not None:
        iv = interventions
        pd.DataFrame(
            {
                "Code": iv["intervention_id"],
                "Naam": iv["name"],
                "Gebieden": iv["area_codes"],
                "Leeftijdsgroepen": iv["age_bands"],
                "Startdatum": pd.to_datetime(iv["start_date"]).dt.strftime("%d-%m-%Y"),
                "Opmerkingen": np.where(np.arange(len(iv)) == 0, "zie verslag", ""),
            }
        ).to_csv(out / "interventieregister.csv", **CSV)
    (out / "delivery.toml").write_text(f"observation_end = {observation_end.isoformat()}\n", encoding="utf-8")
    return out
