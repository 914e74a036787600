"""Shared test data for the contract, reader and ``aanwas validate`` tests (not a test module).

A small valid delivery built by hand (real 2024 buurt codes), writers for Parquet / CSV / SPSS,
and the catalogue of bad-input cases: each case breaks a valid delivery in one way and states
the table, column and row count the one-line message must name. docs/reliability.md lists
every case with its message; a test keeps the two equal.

Test modules import it by name, ``import contract_testdata as td``: pytest puts tests/features
on the import path (``pythonpath`` in pyproject.toml; tests run with --import-mode=importlib),
and ``python tests/features/reliability_doc.py`` finds it beside the script.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.contract import DATE_DTYPE
from features.geography import load_geography

OBSERVATION_END = dt.date(2024, 12, 31)
KIDS = [100000001, 100000002, 100000003, 100000004, 100000005]
PARENTS = [100000101, 100000102, 100000103]
PSEUDONYMS = KIDS + PARENTS
FORMATS = ("parquet", "csv", "sav")


def buurten() -> list[str]:
    """Real 2024 buurt codes: Amsterdam (letters in the code), Den Haag, Utrecht."""
    b = load_geography().buurten
    return [
        b.loc[b["gm_code"] == gm, "code"].iloc[i]
        for gm, i in (("GM0363", 0), ("GM0363", 1), ("GM0518", 0), ("GM0344", 0))
    ]


def _d(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype="str")), dtype=DATE_DTYPE)


def base_tables() -> dict[str, pd.DataFrame]:
    """A valid delivery: 5 young people, 3 parents, every table non-empty."""
    ams1, ams2, dh, utr = buurten()
    k1, k2, k3, k4, k5 = KIDS
    p1, p2, p3 = PARENTS
    return {
        "persons": pd.DataFrame(
            {
                "rinpersoon": PSEUDONYMS,
                "birth_date": _d(
                    [
                        "2008-05-17",
                        "2010-01-31",
                        "2004-09-09",
                        "2012-12-12",
                        "2001-02-28",
                        "1975-03-14",
                        "1973-07-01",
                        "1980-11-30",
                    ]
                ),
                "sex": ["M", "V", "M", "V", "M", "V", "M", "V"],
                "migration_group": [
                    "nederland",
                    "nederland",
                    "buiten_europa",
                    "buiten_europa",
                    "europa",
                    "nederland",
                    "nederland",
                    "buiten_europa",
                ],
            }
        ),
        "parent_child": pd.DataFrame(
            {"rinpersoon": [k1, k1, k2, k2, k3, k4, k5], "rinpersoon_parent": [p1, p2, p1, p2, p3, p3, p3]}
        ),
        "addresses": pd.DataFrame(
            {
                "rinpersoon": [k1, k2, p1, p2, k3, k3, k4, k4, k5, p3, p3],
                "address_id": [11, 11, 11, 11, 22, 33, 22, 33, 44, 22, 33],
                "buurt_code": [ams1, ams1, ams1, ams1, dh, utr, dh, utr, ams2, dh, utr],
                "date_start": _d(
                    [
                        "2008-05-17",
                        "2010-01-31",
                        "2000-01-01",
                        "2000-01-01",
                        "2004-09-09",
                        "2019-06-01",
                        "2012-12-12",
                        "2019-06-01",
                        "2019-03-01",
                        "2003-01-01",
                        "2019-06-01",
                    ]
                ),
                "date_end": _d(
                    [None, None, None, None, "2019-06-01", None, "2019-06-01", None, None, "2019-06-01", None]
                ),
            }
        ),
        "enrolments": pd.DataFrame(
            {
                "rinpersoon": [k1, k1, k2, k3, k3, k4, k5],
                "school_id": [501, 601, 502, 503, 603, 504, 605],
                "level": ["po", "vo", "po", "vo", "mbo", "po", "mbo"],
                "date_start": _d(
                    ["2012-08-01", "2020-08-01", "2014-08-01", "2016-08-01", "2021-08-01", "2016-08-01", "2017-08-01"]
                ),
                "date_end": _d(["2020-07-31", None, None, "2021-06-30", "2021-10-01", None, "2019-08-01"]),
            }
        ),
        "vsv": pd.DataFrame({"rinpersoon": [k3, k5], "vsv_date": _d(["2021-10-01", "2019-08-01"])}),
        "halt": pd.DataFrame(
            {
                "rinpersoon": [k1, k3],
                "referral_date": _d(["2022-03-03", "2019-10-10"]),
                "halt_category": ["vernieling", "diefstal"],
            }
        ),
        "debt": pd.DataFrame(
            {
                "rinpersoon": [k5, p3],
                "debt_type": ["wsnp", "minnelijk"],
                "date_start": _d(["2021-01-01", "2020-05-01"]),
                "date_end": _d(["2024-01-01", None]),
            }
        ),
        "suspects": pd.DataFrame(
            {
                "rinpersoon": [k3, k5, k5],
                "registration_date": _d(["2022-02-02", "2020-07-07", "2020-07-07"]),
                "offence": ["opiumwet", "vermogen", "opiumwet"],
            }
        ),
        "youth_care": pd.DataFrame(
            {
                "rinpersoon": [k4, k3],
                "care_type": ["jeugdhulp", "jeugdreclassering"],
                "date_start": _d(["2019-01-01", "2020-01-01"]),
                "date_end": _d(["2020-01-01", None]),
            }
        ),
        "household_income": pd.DataFrame(
            {
                "rinpersoon": [k1, k1, k2, k2, k3, k4, k5],
                "year": [2022, 2023, 2022, 2023, 2023, 2023, 2023],
                "income_group": [3, 3, 3, 4, 1, 1, 2],
            }
        ),
        "deregistrations": pd.DataFrame(
            {"rinpersoon": [k5], "deregistration_date": _d(["2023-11-15"]), "reason": ["emigratie"]}
        ),
    }


def base_interventions() -> pd.DataFrame:
    ams1 = buurten()[0]
    return pd.DataFrame(
        {
            "intervention_id": ["IV01", "IV02"],
            "name": ["Preventie met gezag", "Jongerenwerk één – plus"],
            "area_codes": ["GM0518", f"GM0344;WK0363AA;{ams1}"],
            "age_bands": ["13-19", "13-19;20-23"],
            "start_date": _d(["2021-01-01", "2022-06-01"]),
        }
    )


# --------------------------------------------------------------------------------------------
# writing deliveries
# --------------------------------------------------------------------------------------------


def _sav_ready(df: pd.DataFrame) -> pd.DataFrame:
    """pyreadstat 1.3.7 writes datetime64[s] columns as 1970-01-01: hand it milliseconds."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_dtype(out[c].dtype):
            out[c] = out[c].astype("datetime64[ms]")
        elif isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("str")
    return out


def write_frame(df: pd.DataFrame, path: Path) -> Path:
    """Write one table as Parquet, CSV (ISO dates, UTF-8) or .sav, by ``path``'s suffix."""
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False, date_format="%Y-%m-%d")
    elif path.suffix == ".sav":
        import pyreadstat

        pyreadstat.write_sav(_sav_ready(df), str(path))
    else:
        raise ValueError(path.suffix)
    return path


def write_delivery(
    data_dir: Path,
    tables: dict[str, pd.DataFrame] | None = None,
    interventions: pd.DataFrame | None = None,
    fmt: str = "parquet",
    observation_end: dt.date | None = OBSERVATION_END,
) -> Path:
    """Write a delivery directory (every table in ``fmt``; interventions always CSV)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, df in (base_tables() if tables is None else tables).items():
        write_frame(df, data_dir / f"{name}.{fmt}")
    if interventions is not None:
        interventions.to_csv(data_dir / "interventions.csv", index=False, date_format="%Y-%m-%d")
    if observation_end is not None:
        (data_dir / "delivery.toml").write_text(f"observation_end = {observation_end.isoformat()}\n", encoding="utf-8")
    return data_dir


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``root``: (size, mtime in ns); to prove nothing was written."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return out


def write_cbs_delivery(root: Path) -> Path:
    """The base delivery in CBS's layout (``cbs_layout``: .sav and CSV files, yearly files,
    separate files per kind, lookup files), read by conf/mapping_cbs_example.toml."""
    from cbs_layout import write_cbs_layout

    return write_cbs_layout(base_tables(), base_interventions(), OBSERVATION_END, root / "cbs")


# --------------------------------------------------------------------------------------------
# the bad-input catalogue
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BadCase:
    """One way to break a valid delivery.

    ``build(tmp)`` writes everything under ``tmp`` and returns the CLI arguments after
    ``validate`` (always including ``--data``). The message must name ``table`` and
    ``column`` (``None``: none) and the row count ``n_rows`` (``None``: no count).
    ``error`` is "input" (InputError) or "config" (ConfigError, ``table`` is then the key).
    """

    id: str
    what: str
    build: Callable[[Path], list[str]]
    table: str
    column: str | None
    n_rows: int | None
    problem: str
    error: str = "input"


def _with(change: Callable[[dict[str, pd.DataFrame]], None], fmt: str = "parquet") -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        tables = base_tables()
        change(tables)
        write_delivery(tmp / "data", tables, base_interventions(), fmt=fmt)
        return ["--data", str(tmp / "data")]

    return build


def _with_ivs(change: Callable[[pd.DataFrame], None]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        ivs = base_interventions()
        change(ivs)
        write_delivery(tmp / "data", base_tables(), ivs)
        return ["--data", str(tmp / "data")]

    return build


def _with_file(table: str, write: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """Valid delivery, then ``write`` replaces ``table``'s file (path without suffix given)."""

    def build(tmp: Path) -> list[str]:
        data = write_delivery(tmp / "data", base_tables(), base_interventions())
        (data / f"{table}.parquet").unlink()
        write(data / table)
        return ["--data", str(data)]

    return build


def _with_mapping(
    text: str, tables_fmt: str = "parquet", tables: Callable[[], dict] | None = None
) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        write_delivery(tmp / "data", (tables or base_tables)(), base_interventions(), fmt=tables_fmt)
        (tmp / "mapping.toml").write_text(text, encoding="utf-8")
        return ["--data", str(tmp / "data"), "--mapping", str(tmp / "mapping.toml")]

    return build


def _with_config(text: str | None = None, overrides: tuple[str, ...] = ()) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        write_delivery(tmp / "data", base_tables(), base_interventions())
        args = ["--data", str(tmp / "data")]
        if text is not None:
            (tmp / "config.toml").write_text(text, encoding="utf-8")
            args += ["--config", str(tmp / "config.toml")]
        for o in overrides:
            args += ["--set", o]
        return args

    return build


def _set(table: str, column: str, rows: list[int], value: object) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        df = t[table]
        if isinstance(value, str):  # a text value: the whole column becomes text (as in a CSV)
            df = df.astype({column: "str"})
        df.loc[rows, column] = value
        t[table] = df

    return change


def _rename(table: str, old: str, new: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        t[table] = t[table].rename(columns={old: new})

    return change


def _drop_col(table: str, column: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        t[table] = t[table].drop(columns=[column])

    return change


def _add_col(table: str, column: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        t[table] = t[table].assign(**{column: 1})

    return change


def _dup_rows(table: str, rows: list[int]) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        t[table] = pd.concat([t[table], t[table].iloc[rows]], ignore_index=True)

    return change


def _empty(table: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        t[table] = t[table].iloc[0:0]

    return change


def _del_table(table: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        del t[table]

    return change


def _truncated_parquet(path: Path) -> None:
    buf = path.with_suffix(".parquet")
    base_tables()["addresses"].to_parquet(buf, index=False)
    data = buf.read_bytes()
    buf.write_bytes(data[: len(data) // 2])


def _garbage_parquet(path: Path) -> None:
    path.with_suffix(".parquet").write_bytes(b"PAR1 this is not a parquet file")


def _truncated_sav(path: Path) -> None:
    import pyreadstat

    buf = path.with_suffix(".sav")
    pyreadstat.write_sav(_sav_ready(base_tables()["halt"]), str(buf))
    data = buf.read_bytes()
    buf.write_bytes(data[: len(data) - 40])


def _csv_utf16(path: Path) -> None:
    text = base_tables()["persons"].to_csv(index=False, date_format="%Y-%m-%d")
    path.with_suffix(".csv").write_bytes(text.encode("utf-16"))


def _csv_cp1252_interventions(tmp: Path) -> list[str]:
    data = write_delivery(tmp / "data", base_tables(), None)
    text = base_interventions().to_csv(index=False, date_format="%Y-%m-%d")
    (data / "interventions.csv").write_bytes(text.encode("cp1252"))
    return ["--data", str(data)]


def _csv_semicolon(path: Path) -> None:
    base_tables()["vsv"].to_csv(path.with_suffix(".csv"), index=False, sep=";", date_format="%Y-%m-%d")


def _csv_headerless(path: Path) -> None:
    base_tables()["vsv"].to_csv(path.with_suffix(".csv"), index=False, header=False, date_format="%Y-%m-%d")


def _csv_ragged(path: Path) -> None:
    text = base_tables()["vsv"].to_csv(index=False, date_format="%Y-%m-%d")
    lines = text.splitlines()
    lines[2] += ",extra"
    path.with_suffix(".csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _csv_truncated(path: Path) -> None:
    text = base_tables()["halt"].to_csv(index=False, date_format="%Y-%m-%d")
    path.with_suffix(".csv").write_text(text[: text.rindex(",")], encoding="utf-8")  # last line cut mid-row


def _csv_dayfirst(path: Path) -> None:
    base_tables()["vsv"].to_csv(path.with_suffix(".csv"), index=False, date_format="%d-%m-%Y")


def _two_files(tmp: Path) -> list[str]:
    data = write_delivery(tmp / "data", base_tables(), base_interventions())
    write_frame(base_tables()["vsv"], data / "vsv.csv")
    return ["--data", str(data)]


def _no_dir(tmp: Path) -> list[str]:
    return ["--data", str(tmp / "nothing-here")]


def _obs_end(text: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        data = write_delivery(tmp / "data", base_tables(), base_interventions())
        (data / "delivery.toml").write_text(text, encoding="utf-8")
        return ["--data", str(data)]

    return build


def _future(t: dict[str, pd.DataFrame]) -> None:
    t["suspects"].loc[[0, 2], "registration_date"] = pd.Timestamp("2025-03-01")


def _ancient(t: dict[str, pd.DataFrame]) -> None:
    t["persons"].loc[[5], "birth_date"] = pd.Timestamp("1850-01-01")


def _end_before_start(t: dict[str, pd.DataFrame]) -> None:
    t["debt"].loc[[0], "date_end"] = pd.Timestamp("2020-12-31")


def _all_null(t: dict[str, pd.DataFrame]) -> None:
    t["suspects"]["registration_date"] = pd.Series([pd.NaT] * 3, dtype=DATE_DTYPE)


def _some_null(t: dict[str, pd.DataFrame]) -> None:
    t["persons"]["sex"] = t["persons"]["sex"].astype(object)
    t["persons"].loc[[1, 4, 6], "sex"] = None


def _orphan(t: dict[str, pd.DataFrame]) -> None:
    t["halt"].loc[[1], "rinpersoon"] = 100000999


def _before_birth(t: dict[str, pd.DataFrame]) -> None:
    t["vsv"].loc[[0], "vsv_date"] = pd.Timestamp("2003-01-01")


def _young_parent(t: dict[str, pd.DataFrame]) -> None:
    t["persons"].loc[[7], "birth_date"] = pd.Timestamp("2005-01-01")  # p3 born after k3 (2004)


def _year_future(t: dict[str, pd.DataFrame]) -> None:
    t["household_income"].loc[[0, 1], "year"] = 2031


def _negative_id(t: dict[str, pd.DataFrame]) -> None:
    t["suspects"].loc[[1], "rinpersoon"] = -100000005


def _fraction_id(t: dict[str, pd.DataFrame]) -> None:
    t["parent_child"] = t["parent_child"].astype({"rinpersoon_parent": "float64"})
    t["parent_child"].loc[[0, 3], "rinpersoon_parent"] = 100000101.5


def _csv_impossible_date(path: Path) -> None:
    text = base_tables()["enrolments"].to_csv(index=False, date_format="%Y-%m-%d")
    path.with_suffix(".csv").write_text(text.replace("2016-08-01", "2016-02-30", 1), encoding="utf-8")


def _csv_cp1252_table(path: Path) -> None:
    df = base_tables()["halt"].astype({"halt_category": "str"})
    text = df.to_csv(index=False, date_format="%Y-%m-%d").replace("vernieling", "vernieling \u00e9")
    path.with_suffix(".csv").write_bytes(text.encode("cp1252"))


def _csv_tab(path: Path) -> None:
    base_tables()["suspects"].to_csv(path.with_suffix(".csv"), index=False, sep="\t", date_format="%Y-%m-%d")


def _parquet_stub(path: Path) -> None:
    buf = path.with_suffix(".parquet")
    base_tables()["persons"].to_parquet(buf, index=False)
    buf.write_bytes(buf.read_bytes()[:100])  # only the first 100 bytes arrived


def _csv_zero_bytes(path: Path) -> None:
    path.with_suffix(".csv").write_bytes(b"")


def _birth_future(t: dict[str, pd.DataFrame]) -> None:
    t["persons"].loc[[4], "birth_date"] = pd.Timestamp("2026-01-01")


def _address_before_birth(t: dict[str, pd.DataFrame]) -> None:
    t["addresses"].loc[[0], "date_start"] = pd.Timestamp("2001-01-01")  # k1 born 2008


def _address_future(t: dict[str, pd.DataFrame]) -> None:
    t["addresses"].loc[[5], "date_start"] = pd.Timestamp("2025-06-01")


def _negative_year(t: dict[str, pd.DataFrame]) -> None:
    t["household_income"].loc[[2], "year"] = -2020


def _null_column(table: str, column: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(t: dict[str, pd.DataFrame]) -> None:
        t[table][column] = None

    return change


def _missing_file(kind: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        data = write_delivery(tmp / "data", base_tables(), base_interventions())
        return ["--data", str(data), f"--{kind}", str(tmp / "nope.toml")]

    return build


def _interventions_without_name(tmp: Path) -> list[str]:
    data = write_delivery(tmp / "data", base_tables(), base_interventions().drop(columns=["name"]))
    return ["--data", str(data)]


# --- the CBS-layout delivery (tests/features/cbs_layout.py) with the example mapping ----------
CBS_MAPPING = Path(__file__).resolve().parents[2] / "conf" / "mapping_cbs_example.toml"


def _cbs(change: Callable[[Path], object]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        data = write_cbs_delivery(tmp)
        change(data)
        return ["--data", str(data), "--mapping", str(CBS_MAPPING)]

    return build


def _read_cbs_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)


def _write_cbs_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, sep=";", encoding="cp1252", index=False)


def _drop_lookup_object(data: Path, pattern: str, column: str, value: int) -> None:
    for path in data.glob(pattern):
        df = _read_cbs_csv(path)
        _write_cbs_csv(df[df[column].astype("int64") != value], path)


def _double_first_row(path: Path) -> None:
    df = _read_cbs_csv(path)
    _write_cbs_csv(pd.concat([df, df.iloc[[0]]]), path)


def _rename_csv_column(path: Path, old: str, new: str) -> None:
    _write_cbs_csv(_read_cbs_csv(path).rename(columns={old: new}), path)


_CBS_PERSONS = """
[tables.persons]
columns = { rinpersoon = "RINPERSOON" }
"""


CASES: list[BadCase] = [
    # columns
    BadCase(
        "missing-column",
        "a contract column is absent",
        _with(_drop_col("persons", "sex")),
        "persons",
        "sex",
        None,
        "missing column",
    ),
    BadCase(
        "unknown-column",
        "an extra column neither mapped nor dropped",
        _with(_add_col("suspects", "postcode")),
        "suspects",
        "postcode",
        None,
        "unknown column",
    ),
    BadCase(
        "renamed-column",
        "a column under another name (typo)",
        _with(_rename("addresses", "buurt_code", "buurtcode")),
        "addresses",
        "buurt_code",
        None,
        "missing column",
    ),
    BadCase(
        "headerless-csv",
        "a CSV without header row (names would be data)",
        _with_file("vsv", _csv_headerless),
        "vsv",
        "rinpersoon",
        None,
        "is the header row missing?",
    ),
    # types
    BadCase(
        "wrong-type-id",
        "text in a pseudonym column",
        _with(_set("suspects", "rinpersoon", [0, 2], "onbekend")),
        "suspects",
        "rinpersoon",
        2,
        "not a whole number",
    ),
    BadCase(
        "fraction-id",
        "a pseudonym with decimals",
        _with(_fraction_id),
        "parent_child",
        "rinpersoon_parent",
        2,
        "not a whole number",
    ),
    BadCase(
        "wrong-type-date",
        "text in a date column",
        _with(_set("halt", "referral_date", [1], "gisteren")),
        "halt",
        "referral_date",
        1,
        "not a date",
    ),
    BadCase(
        "day-first-date",
        "dd-mm-yyyy dates without date_format",
        _with_file("vsv", _csv_dayfirst),
        "vsv",
        "vsv_date",
        2,
        "not a date",
    ),
    BadCase(
        "wrong-type-int",
        "text in a whole-number column",
        _with(_set("household_income", "year", [0, 1, 2], "2022a")),
        "household_income",
        "year",
        3,
        "not a whole number",
    ),
    # values
    BadCase(
        "unknown-code",
        "a category value outside the contract",
        _with(_set("persons", "sex", [0, 3, 4], "X")),
        "persons",
        "sex",
        3,
        "value not one of M, V",
    ),
    BadCase(
        "unknown-area-code",
        "a buurt code not in the CBS 2024 list",
        _with(_set("addresses", "buurt_code", [2, 5], "BU99999999")),
        "addresses",
        "buurt_code",
        2,
        "unknown buurt code",
    ),
    BadCase(
        "negative-id",
        "a negative pseudonym",
        _with(_negative_id),
        "suspects",
        "rinpersoon",
        1,
        "pseudonym not positive",
    ),
    BadCase(
        "negative-count",
        "a negative pseudonymised address id",
        _with(_set("addresses", "address_id", [0], -4)),
        "addresses",
        "address_id",
        1,
        "value below 0",
    ),
    BadCase(
        "income-group",
        "an income group outside 1-5",
        _with(_set("household_income", "income_group", [6], 6)),
        "household_income",
        "income_group",
        1,
        "value not one of 1, 2, 3, 4, 5",
    ),
    # dates
    BadCase(
        "date-too-early", "a date before contract.date_min", _with(_ancient), "persons", "birth_date", 1, "out of range"
    ),
    BadCase(
        "date-in-future",
        "an event after the observation end",
        _with(_future),
        "suspects",
        "registration_date",
        2,
        "in the future",
    ),
    BadCase(
        "year-in-future",
        "an income year after the observation end",
        _with(_year_future),
        "household_income",
        "year",
        2,
        "in the future",
    ),
    BadCase(
        "end-before-start",
        "an interval ending before it starts",
        _with(_end_before_start),
        "debt",
        "date_end",
        1,
        "date_end before date_start",
    ),
    BadCase(
        "event-before-birth",
        "an event before the person's birth (negative age)",
        _with(_before_birth),
        "vsv",
        "vsv_date",
        1,
        "before the person's birth date",
    ),
    BadCase(
        "parent-younger",
        "a parent born after the child",
        _with(_young_parent),
        "parent_child",
        "rinpersoon_parent",
        2,
        "parent not born before the child",
    ),
    BadCase(
        "observation-end-future",
        "delivery.toml with a cut-off in the future",
        _obs_end("observation_end = 2999-12-31\n"),
        "delivery.toml",
        "observation_end",
        None,
        "lies in the future",
    ),
    BadCase(
        "observation-end-bad",
        "delivery.toml without a valid date",
        _obs_end("observation_end = 'soon'\n"),
        "delivery.toml",
        "observation_end",
        None,
        "not a date",
    ),
    # keys and links
    BadCase(
        "duplicate-key",
        "two rows with the same key",
        _with(_dup_rows("persons", [2, 6])),
        "persons",
        "rinpersoon",
        4,
        "duplicate key",
    ),
    BadCase(
        "duplicate-event",
        "an event registered twice",
        _with(_dup_rows("suspects", [0])),
        "suspects",
        "rinpersoon,registration_date,offence",
        2,
        "duplicate key",
    ),
    BadCase(
        "orphan", "a pseudonym not in persons", _with(_orphan), "halt", "rinpersoon", 1, "pseudonym not in persons"
    ),
    # emptiness
    BadCase(
        "empty-table", "a table with a header and no rows", _with(_empty("halt")), "halt", None, 0, "table is empty"
    ),
    BadCase(
        "empty-table-csv",
        "a CSV with only its header",
        _with(_empty("vsv"), fmt="csv"),
        "vsv",
        None,
        0,
        "table is empty",
    ),
    BadCase(
        "all-null-column",
        "a required column entirely empty",
        _with(_all_null),
        "suspects",
        "registration_date",
        3,
        "column is entirely empty",
    ),
    BadCase("some-null", "empty values in a required column", _with(_some_null), "persons", "sex", 3, "empty values"),
    BadCase(
        "missing-table",
        "a required table without a file",
        _with(_del_table("youth_care")),
        "youth_care",
        None,
        None,
        "no file youth_care",
    ),
    BadCase("no-directory", "the delivery directory does not exist", _no_dir, "delivery", None, None, "not found"),
    # files
    BadCase(
        "truncated-parquet",
        "a Parquet file cut off halfway",
        _with_file("addresses", _truncated_parquet),
        "addresses",
        None,
        None,
        "unreadable or truncated",
    ),
    BadCase(
        "not-parquet",
        "a .parquet file that is not Parquet",
        _with_file("debt", _garbage_parquet),
        "debt",
        None,
        None,
        "unreadable or truncated",
    ),
    BadCase(
        "truncated-sav",
        "an SPSS file cut off at the end",
        _with_file("halt", _truncated_sav),
        "halt",
        None,
        None,
        "unreadable or truncated",
    ),
    BadCase(
        "csv-utf16",
        "a CSV saved as UTF-16 (Excel 'Unicode text')",
        _with_file("persons", _csv_utf16),
        "persons",
        None,
        None,
        "not readable as utf-8",
    ),
    BadCase(
        "csv-cp1252",
        "a CSV in Windows-1252 read as UTF-8",
        _csv_cp1252_interventions,
        "interventions",
        None,
        None,
        "not readable as utf-8",
    ),
    BadCase(
        "csv-delimiter",
        "a ';'-delimited CSV read with ','",
        _with_file("vsv", _csv_semicolon),
        "vsv",
        None,
        None,
        "seems delimited by ';'",
    ),
    BadCase(
        "csv-ragged",
        "a CSV row with more fields than the header",
        _with_file("vsv", _csv_ragged),
        "vsv",
        None,
        None,
        "malformed CSV",
    ),
    BadCase(
        "csv-truncated",
        "a CSV whose last row is cut off",
        _with_file("halt", _csv_truncated),
        "halt",
        "halt_category",
        1,
        "empty values",
    ),
    BadCase("two-files", "two files for one table", _two_files, "vsv", None, None, "several files"),
    # interventions
    BadCase(
        "intervention-area",
        "an intervention naming an unknown area code",
        _with_ivs(lambda iv: iv.__setitem__("area_codes", ["GM0518", "GM9999;WK0363AA"])),
        "interventions",
        "area_codes",
        1,
        "unknown area code",
    ),
    BadCase(
        "intervention-band",
        "an intervention naming an unknown age band",
        _with_ivs(lambda iv: iv.__setitem__("age_bands", ["12-18", "13-19;24-30"])),
        "interventions",
        "age_bands",
        2,
        "age band not one of",
    ),
    # mapping files
    BadCase(
        "mapping-absent-column",
        "a mapping naming a column the file lacks",
        _with_mapping(_CBS_PERSONS),
        "persons",
        "RINPERSOON",
        None,
        "the mapping maps 'rinpersoon'",
    ),
    BadCase(
        "mapping-unknown-table",
        "a mapping for a table the contract lacks",
        _with_mapping("[tables.person]\nfile = 'GBAPERSOONTAB'\n"),
        "mapping.toml: mapping.tables.person",
        None,
        None,
        "not a contract table",
        error="config",
    ),
    BadCase(
        "mapping-unknown-column",
        "a mapping onto a column the contract lacks",
        _with_mapping("[tables.persons]\ncolumns = { geslacht = 'GBAGESLACHT' }\n"),
        "mapping.toml: mapping.tables.persons.geslacht",
        None,
        None,
        "not a column of persons",
        error="config",
    ),
    BadCase(
        "mapping-invalid-toml",
        "a mapping file that is not TOML",
        _with_mapping("[tables.persons\n"),
        "mapping.toml",
        None,
        None,
        "not valid TOML",
        error="config",
    ),
    BadCase(
        "mapping-unknown-setting",
        "a mapping with an unknown setting",
        _with_mapping("delimitter = ';'\n"),
        "mapping.toml: mapping.delimitter",
        None,
        None,
        "unknown setting",
        error="config",
    ),
    # config files
    BadCase(
        "config-invalid-toml",
        "a config file that is not TOML",
        _with_config("[contract\nmax_orphan_share = 0\n"),
        "config.toml",
        None,
        None,
        "not valid TOML",
        error="config",
    ),
    BadCase(
        "config-out-of-range",
        "--set synth.scale=0",
        _with_config(overrides=("synth.scale=0",)),
        "synth.scale",
        None,
        None,
        "must be in (0, 2]",
        error="config",
    ),
    BadCase(
        "config-orphan-share",
        "contract.max_orphan_share above 1",
        _with_config("[contract]\nmax_orphan_share = 1.5\n"),
        "contract.max_orphan_share",
        None,
        None,
        "must be in [0, 1]",
        error="config",
    ),
    BadCase(
        "config-wrong-type",
        "a date setting that is not a date",
        _with_config(overrides=("contract.observation_end=soon",)),
        "contract.observation_end",
        None,
        None,
        "must be a date",
        error="config",
    ),
    # --- added in session 2 (issue 8): every input table, the mapping and the config --------
    BadCase(
        "missing-column-youth-care",
        "youth_care without its care_type column",
        _with(_drop_col("youth_care", "care_type")),
        "youth_care",
        "care_type",
        None,
        "missing column",
    ),
    BadCase(
        "wrong-type-school",
        "text in enrolments.school_id",
        _with(_set("enrolments", "school_id", [2], "onbekend")),
        "enrolments",
        "school_id",
        1,
        "not a whole number",
    ),
    BadCase(
        "wrong-type-parent-child",
        "text in a parent-child pseudonym",
        _with(_set("parent_child", "rinpersoon", [0], "abc")),
        "parent_child",
        "rinpersoon",
        1,
        "not a whole number",
    ),
    BadCase(
        "impossible-date",
        "a calendar date that does not exist (30 February)",
        _with_file("enrolments", _csv_impossible_date),
        "enrolments",
        "date_start",
        1,
        "not a date",
    ),
    BadCase(
        "unknown-school-level",
        "an education level outside the contract",
        _with(_set("enrolments", "level", [0, 1], "havo")),
        "enrolments",
        "level",
        2,
        "value not one of po, so, vo",
    ),
    BadCase(
        "unknown-care-type",
        "a youth-care type outside the contract",
        _with(_set("youth_care", "care_type", [0], "pleegzorg")),
        "youth_care",
        "care_type",
        1,
        "value not one of jeugdhulp",
    ),
    BadCase(
        "unknown-debt-type",
        "a debt type outside the contract",
        _with(_set("debt", "debt_type", [1], "krediet")),
        "debt",
        "debt_type",
        1,
        "value not one of wsnp, minnelijk",
    ),
    BadCase(
        "unknown-offence",
        "an offence group outside the contract",
        _with(_set("suspects", "offence", [1], "verkeer")),
        "suspects",
        "offence",
        1,
        "value not one of opiumwet",
    ),
    BadCase(
        "birth-in-future",
        "a birth date after the observation end",
        _with(_birth_future),
        "persons",
        "birth_date",
        1,
        "in the future",
    ),
    BadCase(
        "address-in-future",
        "an address starting after the observation end",
        _with(_address_future),
        "addresses",
        "date_start",
        1,
        "in the future",
    ),
    BadCase(
        "address-before-birth",
        "an address starting before the person was born (negative age)",
        _with(_address_before_birth),
        "addresses",
        "date_start",
        1,
        "before the person's birth date",
    ),
    BadCase(
        "negative-year",
        "a negative income year",
        _with(_negative_year),
        "household_income",
        "year",
        1,
        "out of range",
    ),
    BadCase(
        "duplicate-parent-link",
        "a parent-child link delivered twice",
        _with(_dup_rows("parent_child", [1])),
        "parent_child",
        "rinpersoon,rinpersoon_parent",
        2,
        "duplicate key",
    ),
    BadCase(
        "duplicate-enrolment",
        "an enrolment delivered twice",
        _with(_dup_rows("enrolments", [0])),
        "enrolments",
        "rinpersoon,date_start",
        2,
        "duplicate key",
    ),
    BadCase(
        "empty-persons",
        "persons with a header and no rows",
        _with(_empty("persons")),
        "persons",
        None,
        0,
        "table is empty",
    ),
    BadCase(
        "empty-addresses",
        "addresses with a header and no rows",
        _with(_empty("addresses")),
        "addresses",
        None,
        0,
        "table is empty",
    ),
    BadCase(
        "all-null-audit-column",
        "migration_group entirely empty",
        _with(_null_column("persons", "migration_group")),
        "persons",
        "migration_group",
        8,
        "column is entirely empty",
    ),
    BadCase(
        "all-null-category",
        "enrolments.level entirely empty",
        _with(_null_column("enrolments", "level")),
        "enrolments",
        "level",
        7,
        "column is entirely empty",
    ),
    BadCase(
        "truncated-parquet-persons",
        "persons.parquet of which only the first 100 bytes arrived",
        _with_file("persons", _parquet_stub),
        "persons",
        None,
        None,
        "unreadable or truncated",
    ),
    BadCase(
        "csv-zero-bytes",
        "a CSV file of zero bytes",
        _with_file("debt", _csv_zero_bytes),
        "debt",
        None,
        0,
        "file is empty",
    ),
    BadCase(
        "csv-cp1252-table",
        "a contract table in Windows-1252 read as UTF-8",
        _with_file("halt", _csv_cp1252_table),
        "halt",
        None,
        None,
        "not readable as utf-8",
    ),
    BadCase(
        "csv-tab-delimiter",
        "a tab-delimited CSV read with ','",
        _with_file("suspects", _csv_tab),
        "suspects",
        None,
        None,
        "seems delimited by '\\t'",
    ),
    BadCase(
        # one id on several rows is a staggered start (one row per start date); the rows must
        # agree on name and age bands, so two different interventions sharing an id fail there
        "intervention-duplicate",
        "two interventions with the same id",
        _with_ivs(lambda iv: iv.__setitem__("intervention_id", ["IV01", "IV01"])),
        "interventions",
        "name",
        2,
        "same name",
    ),
    BadCase(
        "intervention-future",
        "an intervention starting after the observation end",
        _with_ivs(lambda iv: iv.loc.__setitem__((0, "start_date"), pd.Timestamp("2030-01-01"))),
        "interventions",
        "start_date",
        1,
        "in the future",
    ),
    BadCase(
        "intervention-missing-column",
        "an intervention registry without its name column",
        _interventions_without_name,
        "interventions",
        "name",
        None,
        "missing column",
    ),
    BadCase(
        "mapping-file-missing",
        "--mapping naming a file that does not exist",
        _missing_file("mapping"),
        "nope.toml",
        None,
        None,
        "mapping file not found",
        error="config",
    ),
    BadCase(
        "mapping-unknown-encoding",
        "a mapping with an encoding Python does not know",
        _with_mapping("encoding = 'klingon'\n", tables_fmt="csv"),
        "mapping.toml: mapping.encoding",
        None,
        None,
        "unknown encoding",
        error="config",
    ),
    BadCase(
        "mapping-wrong-delimiter",
        "a mapping saying ';' for ','-delimited CSVs",
        _with_mapping("delimiter = ';'\n", tables_fmt="csv"),
        "persons",
        None,
        None,
        "the mapping says ';'",
    ),
    BadCase(
        "mapping-wrong-date-format",
        "a mapping date_format the dates do not follow",
        _with_mapping("[tables.vsv]\ndate_format = '%d-%m-%Y'\n", tables_fmt="csv"),
        "vsv",
        "vsv_date",
        2,
        "not a date in the mapping's date_format",
    ),
    BadCase(
        "config-file-missing",
        "--config naming a file that does not exist",
        _missing_file("config"),
        "nope.toml",
        None,
        None,
        "config file not found",
        error="config",
    ),
    BadCase(
        "config-threshold-zero",
        "disclosure threshold 0 (--set definitions.min_cell_size=0)",
        _with_config(overrides=("definitions.min_cell_size=0",)),
        "definitions.min_cell_size",
        None,
        None,
        "must be 1..1000",
        error="config",
    ),
    BadCase(
        "config-protection-zero",
        "disclosure protection level 0 in a config file",
        _with_config("[monitoring.disclosure]\nprotection_level = 0\n"),
        "monitoring.disclosure.protection_level",
        None,
        None,
        "must be in [0.5, 10 * min_cell_size]",
        error="config",
    ),
    BadCase(
        "config-elevated-threshold",
        "an elevated-risk threshold above 1",
        _with_config("[monitoring.aggregate]\nelevated_threshold = 1.5\n"),
        "monitoring.aggregate.elevated_threshold",
        None,
        None,
        "must be in (0, 1)",
        error="config",
    ),
    BadCase(
        "config-unknown-setting",
        "a misspelt setting",
        _with_config(overrides=("monitoring.disclosure.treshold=5",)),
        "monitoring.disclosure.treshold",
        None,
        None,
        "unknown setting",
        error="config",
    ),
    BadCase(
        "config-renamed-setting",
        "a setting of the former flat [evaluation] layout",
        _with_config(overrides=("evaluation.bootstrap_reps=50",)),
        "evaluation.bootstrap_reps",
        None,
        None,
        "was renamed: set evaluation.bootstrap.reps instead",
        error="config",
    ),
    BadCase(
        "config-wrong-type-int",
        "text for a whole-number setting",
        _with_config(overrides=("definitions.min_cell_size=ten",)),
        "definitions.min_cell_size",
        None,
        None,
        "must be a whole number",
        error="config",
    ),
    BadCase(
        "config-unknown-band",
        "a training band outside 8-12, 13-19, 20-23",
        _with_config(overrides=('training.bands=["8-23"]',)),
        "training.bands",
        None,
        None,
        "unknown band",
        error="config",
    ),
    BadCase(
        "config-audit-only-feature",
        "migration background as an extra model input",
        _with_config(overrides=('training.extra_features=["migration_group"]',)),
        "training.extra_features",
        None,
        None,
        "is audit-only and can never be a model input",
        error="config",
    ),
    BadCase(
        "config-audit-only-flag",
        "income group as a flag of the profile baseline",
        _with_config("[training]\nflag_columns = ['ind_halt_ever', 'income_group']\n"),
        "training.flag_columns",
        None,
        None,
        "is audit-only and can never be a model input",
        error="config",
    ),
    # a delivery in CBS's layout read with conf/mapping_cbs_example.toml: stacks, parts, joins
    BadCase(
        "join-unmatched",
        "an address object missing from every yearly lookup file",
        _cbs(lambda d: _drop_lookup_object(d, "VSLGWB*TAB.csv", "RINOBJECTNUMMER", 44)),
        "addresses",
        "address_id",
        1,
        "no row in the lookup VSLGWB*TAB",
    ),
    BadCase(
        "join-duplicate-key",
        "a household twice in one year's lookup file",
        _cbs(lambda d: _double_first_row(d / "INHA2023TABV2.csv")),
        "household_income",
        "RINPERSOONHKW,JAAR",
        2,
        "lookup key occurs more than once",
    ),
    BadCase(
        "join-missing-lookup",
        "the lookup files of a join are absent",
        _cbs(lambda d: [f.unlink() for f in d.glob("VSLGWB*TAB.csv")]),
        "addresses",
        None,
        None,
        "join: no lookup file VSLGWB*TAB",
    ),
    BadCase(
        "join-lookup-column",
        "a yearly lookup file without the column the join fills from",
        _cbs(lambda d: _rename_csv_column(d / "VSLGWB2019TAB.csv", "BC", "BC2019")),
        "addresses",
        "BC",
        None,
        "VSLGWB2019TAB.csv: the join's lookup file does not have this column",
    ),
    BadCase(
        "part-missing-file",
        "one file of a table combined from parts is absent",
        _cbs(lambda d: (d / "JGDBESCHERMBUS.csv").unlink()),
        "youth_care",
        None,
        None,
        "part 2: no file JGDBESCHERMBUS",
    ),
    BadCase(
        "stacked-file-column",
        "one of the yearly files lacks a mapped column",
        _cbs(lambda d: _rename_csv_column(d / "VERDACHTEN2022TABV1.csv", "DELICTHOOFDGROEP", "DELICT")),
        "suspects",
        "DELICTHOOFDGROEP",
        None,
        "VERDACHTEN2022TABV1.csv: the mapping maps 'offence'",
    ),
]


def normalise(message: str, tmp: Path) -> str:
    """Replace the test's temporary directory by DIR (for docs/reliability.md)."""
    return message.replace(str(tmp), "DIR")


def looks_like_pseudonym_free(message: str) -> bool:
    """True when no pseudonym of the base delivery (or an altered one) appears in ``message``."""
    extra = [100000999, 100000005]
    return not any(str(p) in message for p in [*PSEUDONYMS, *extra]) and not any(
        f"{p:09d}"[:9] in message for p in PSEUDONYMS
    )


__all__ = [
    "BadCase",
    "CASES",
    "FORMATS",
    "KIDS",
    "OBSERVATION_END",
    "PARENTS",
    "PSEUDONYMS",
    "base_interventions",
    "base_tables",
    "buurten",
    "looks_like_pseudonym_free",
    "normalise",
    "snapshot",
    "write_delivery",
    "write_cbs_delivery",
    "write_frame",
]
