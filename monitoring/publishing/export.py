"""The one writer of exports: only disclosure-checked tables leave, written atomically.

Layout, per period: ``<exports>/<period>/area_risk.csv`` and ``.parquet`` (exactly the columns
of :data:`~monitoring.publishing.disclosure.AREA_EXPORT_COLUMNS`; a blank value is a suppressed value),
``area_risk.geojson`` (gemeenten, one property per column and age band), any further checked
tables as ``<name>.csv``, documents such as ``dashboard.html`` and ``manifest.json`` (rules,
thresholds, model version, data fingerprint, sha256 of every file). The period directory is
built under a temporary name and renamed into place, so a crash leaves the previous export.

This module must not import ``models`` or ``training``: it sees nothing but checked tables.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aanwas.common.config import as_plain
from aanwas.common.errors import InputError
from aanwas.common.io import atomic_dir
from monitoring.config import MonitoringConfig
from monitoring.publishing.disclosure import AREA_EXPORT_COLUMNS, DisclosureChecked, DisclosureError

__all__ = ["check_publishable", "write_export"]

_PERIOD_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,63}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DOC_SUFFIXES = (".html", ".md", ".txt")
_COUNT_COLUMNS = ("n_persons", "n_elevated")
_GEO_COLUMNS = ("n_persons", "n_elevated", "share_elevated", "risk_mean", "risk_lo", "risk_hi", "status", "elevated")
_VERSION = "aanwas-export/1"
_HISTORY_NOTE = (
    "trends.csv holds every period of every series (not only this period): one row per area, age band, "
    "series and period; 'measure' says what is counted (offences, horizon), 'unit' its unit, 'period_type' "
    "whether the period is a reference date or a calendar year; value and its interval lo..hi are rounded to "
    "what the interval supports; there is no all-ages risk (the bands' outcomes differ); "
    "see docs/reading_exports.md"
)


def check_publishable(table: Any, cfg: MonitoringConfig) -> pd.DataFrame:
    """Return the frame of a checked table after refusing anything that is not publishable.

    Raises
    ------
    TypeError
        ``table`` is not a :class:`DisclosureChecked` (or was altered after checking).
    DisclosureError
        A column name marks person-level data (``rinpersoon``, scores, indicators, SHAP...).
    """
    if not isinstance(table, DisclosureChecked):
        raise TypeError(
            "export accepts only DisclosureChecked tables (from monitoring.publishing.disclosure.suppress_*), "
            f"got {type(table).__name__}"
        )
    table.verify()
    frame = table.table
    deny = {c.lower() for c in cfg.export.person_level_columns}
    prefixes = tuple(p.lower() for p in cfg.export.person_level_prefixes)
    for col in frame.columns:
        name = str(col).lower()
        if name in deny or name.startswith(prefixes):
            raise DisclosureError(f"export refused: table '{table.kind}' has person-level column '{col}'")
    if frame.index.name is not None or any(n is not None for n in frame.index.names):
        raise DisclosureError(f"export refused: table '{table.kind}' has a named index")
    return frame


def _fmt(frame: pd.DataFrame, decimals: int, *, trim: bool = False) -> pd.DataFrame:
    """Text rendering: counts as integers, other numbers with fixed decimals (``trim``: without
    trailing zeros, for values already rounded to what their intervals support), blanks for NA."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        na = s.isna().to_numpy()
        if pd.api.types.is_bool_dtype(s.dtype):
            vals = np.where(s.fillna(False).to_numpy(dtype=bool), "true", "false")
        elif pd.api.types.is_integer_dtype(s.dtype):
            vals = s.fillna(0).astype("int64").astype(str).to_numpy(dtype=object)
        elif pd.api.types.is_float_dtype(s.dtype):
            v = s.to_numpy(dtype=np.float64, na_value=np.nan).tolist()  # Python floats: fast to format
            text = map(f"{{:.{decimals}f}}".format, v)  # +-inf as inf, -inf
            vals = np.array(list(map(_trim, text) if trim else text), dtype=object)
        else:
            vals = s.astype(object).to_numpy()
        out[col] = np.where(na, "", vals).astype(object)
    return out


def _trim(text: str) -> str:
    if "." not in text:
        return text
    text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _csv_bytes(frame: pd.DataFrame, decimals: int, *, trim: bool = False) -> bytes:
    return _fmt(frame, decimals, trim=trim).to_csv(index=False, lineterminator="\n").encode("utf-8")


def _parquet_bytes(frame: pd.DataFrame, decimals: int) -> bytes:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col].dtype):
            out[col] = out[col].round(decimals)
    buf = io.BytesIO()
    out.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()


def _jsonable(v: Any, decimals: int) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), decimals)
    return str(v)


def _geojson_bytes(area: pd.DataFrame, decimals: int) -> bytes:
    path = resources.files("monitoring.publishing") / "data" / "gemeenten_2024.geojson"
    geo = json.loads(path.read_text(encoding="utf-8"))
    gm = area[area["area_level"] == "gemeente"]
    bands = list(dict.fromkeys(gm["age_band"].tolist()))
    by_code: dict[str, dict[str, Any]] = {}
    for row in gm.itertuples(index=False):  # gemeenten x bands: a few thousand rows
        props = by_code.setdefault(row.area_code, {"area_name": row.area_name})
        for col in _GEO_COLUMNS:
            props[f"{col}_{row.age_band}"] = _jsonable(getattr(row, col), decimals)
    features = []
    for feat in geo["features"]:
        code = feat["properties"].get("gemeenteCode")
        props = {"area_code": code, "area_name": feat["properties"].get("gemeenteNaam")}
        data = by_code.get(code)
        for band in bands:
            for col in _GEO_COLUMNS:
                props[f"{col}_{band}"] = None if data is None else data.get(f"{col}_{band}")
        if data is None:
            props["status"] = "no data"
        features.append({"type": "Feature", "properties": props, "geometry": feat["geometry"]})
    out = {"type": "FeatureCollection", "name": "area_risk_gemeenten", "features": features}
    if "crs" in geo:
        out["crs"] = geo["crs"]
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _manifest_bytes(
    period: str,
    model_version: str,
    data_fingerprint: str,
    cfg: MonitoringConfig,
    reports: Mapping[str, Any],
    files: Mapping[str, bytes],
    *,
    with_history: bool,
) -> bytes:
    """manifest.json of an export: what it is, how to read it, the rules it passed, its tables'
    disclosure reports and the sha256 and size of every file."""
    manifest = {
        "format": _VERSION,
        "period": str(period),
        "model_version": model_version,
        "data_fingerprint": data_fingerprint,
        "columns": {"area_risk": list(AREA_EXPORT_COLUMNS)},
        "notes": {
            "blank": "a blank value is suppressed by disclosure control, or not published at all: n_elevated "
            "and share_elevated below the levels in rules.disclosure.elevated_levels, and the risk columns of "
            "the band total (age_band all: counts only, the bands' risks are chances of different outcomes)",
            "status": "suppressed = the row's n_persons is suppressed (all values blank); in a published row "
            "n_elevated and share_elevated can still be blank on their own",
            "risk": "risk_mean is the mean calibrated probability of the area's young people; risk_lo..risk_hi "
            "the interval of their mean true risk (model error shared by the area, estimated from past outcomes, "
            "and person-level error); an area is elevated only when risk_lo exceeds the national risk_mean of its band",
            "use": "area aggregates for prevention planning only; not for decisions about individuals",
            **({"history": _HISTORY_NOTE} if with_history else {}),
        },
        "rules": {
            "disclosure": as_plain(cfg.disclosure),
            "aggregate": as_plain(cfg.aggregate),
        },
        "tables": reports,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()
        },
    }
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_export(
    exports_root: Path,
    period: str,
    area_risk: DisclosureChecked,
    cfg: MonitoringConfig,
    *,
    model_version: str,
    data_fingerprint: str,
    extra_tables: Mapping[str, DisclosureChecked] | None = None,
    history_tables: Mapping[str, DisclosureChecked] | None = None,
    documents: Mapping[str, str] | None = None,
) -> Path:
    """Write ``<exports_root>/<period>/`` atomically from disclosure-checked tables.

    Parameters
    ----------
    exports_root : Path
        The exports directory (never the work directory or the MLflow store).
    period : str
        Period to write (a value of the table's ``period`` column; also the directory name).
    area_risk : DisclosureChecked
        Kind ``area_risk`` from :func:`monitoring.publishing.disclosure.suppress_area_table`.
    cfg : MonitoringConfig
        Export, disclosure and aggregate settings (recorded in the manifest).
    model_version : str
        Registered model name and version that produced the scores.
    data_fingerprint : str
        Fingerprint of the input delivery (e.g. a sha256 over its files).
    extra_tables : mapping, optional
        File stem -> checked table (e.g. ``{"effects": ...}``), written as ``<stem>.csv``
        (rows of ``period`` only if the table has a period column).
    history_tables : mapping, optional
        File stem -> checked table written whole, every period it holds (e.g. ``{"trends":
        ...}``: the history of each series); numbers without trailing zeros (they are rounded
        to what their intervals support before checking).
    documents : mapping, optional
        File name (``.html``, ``.md``, ``.txt``) -> text built from checked tables only.

    Returns
    -------
    Path
        The period directory.

    Raises
    ------
    TypeError
        A table is not a DisclosureChecked (or was altered after checking).
    DisclosureError
        A table carries a person-level column.
    InputError
        Bad period or file name, or no rows for ``period``.
    """
    if not _PERIOD_RE.match(str(period)):
        raise InputError("export", "period", None, f"period {period!r} is not a safe directory name")
    frame = check_publishable(area_risk, cfg)
    if area_risk.kind != "area_risk":
        raise InputError("export", None, None, f"area_risk must be the 'area_risk' table, got '{area_risk.kind}'")
    frame = frame[frame["period"].astype(str) == str(period)]
    if frame.empty:
        raise InputError("export", "period", 0, f"no rows for period {period!r}")
    missing = [c for c in AREA_EXPORT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("area_risk", missing[0], None, "required export column is missing")
    d = cfg.export.decimals
    files: dict[str, bytes] = {
        "area_risk.csv": _csv_bytes(frame[list(AREA_EXPORT_COLUMNS)], d),
        "area_risk.parquet": _parquet_bytes(frame[list(AREA_EXPORT_COLUMNS)].reset_index(drop=True), d),
        "area_risk.geojson": _geojson_bytes(frame, d),
    }
    reports = {"area_risk": _report(area_risk)}
    tables = [(stem, t, False) for stem, t in (extra_tables or {}).items()]
    tables += [(stem, t, True) for stem, t in (history_tables or {}).items()]
    for stem, table, whole in sorted(tables, key=lambda x: x[0]):
        if not _NAME_RE.match(stem) or stem in ("area_risk", "manifest") or f"{stem}.csv" in files:
            raise InputError("export", None, None, f"bad table file name {stem!r}")
        extra = check_publishable(table, cfg)
        if "period" in extra.columns and not whole:
            extra = extra[extra["period"].astype(str) == str(period)]
        files[f"{stem}.csv"] = _csv_bytes(extra.reset_index(drop=True), d, trim=whole)
        reports[stem] = _report(table)
    for name, text in sorted((documents or {}).items()):
        if not name.endswith(_DOC_SUFFIXES) or "/" in name or name.startswith(".") or name in files:
            raise InputError("export", None, None, f"bad document name {name!r}")
        files[name] = text.encode("utf-8")
    files["manifest.json"] = _manifest_bytes(
        period, model_version, data_fingerprint, cfg, reports, files, with_history=bool(history_tables)
    )
    target = Path(exports_root) / str(period)
    with atomic_dir(target) as tmp:
        for name, data in files.items():
            _write_file(tmp / name, data)
    return target


def _report(table: DisclosureChecked) -> dict[str, Any]:
    # timings differ between identical runs; the manifest must not
    return {k: v for k, v in table.report.items() if not k.endswith("seconds")}


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
