"""The one export writer: checked tables only, no person-level columns, atomic, reproducible."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aanwas.common.errors import InputError
from features.geography import Geography
from monitoring.config import AggregateConfig, MonitoringConfig
from monitoring.publishing import export as export_mod
from monitoring.publishing.aggregate import aggregate_areas
from monitoring.publishing.disclosure import AREA_EXPORT_COLUMNS, DisclosureError, suppress_area_table, suppress_counts
from monitoring.publishing.export import write_export

CFG = MonitoringConfig()
# Two real gemeenten (so the shipped GeoJSON matches), with made-up wijken and buurten.
SPEC = {
    "GM0014": {"WK001400": ["BU00140000", "BU00140001"], "WK001401": ["BU00140100"]},
    "GM0034": {"WK003400": ["BU00340000"]},
}


def make_geography() -> Geography:
    rows = []
    for gm, wijken in SPEC.items():
        rows.append({"code": gm, "level": "gemeente", "name": f"gemeente {gm}", "gm_code": gm, "wk_code": None})
        for wk, buurten in wijken.items():
            rows.append({"code": wk, "level": "wijk", "name": f"wijk {wk}", "gm_code": gm, "wk_code": wk})
            rows += [{"code": b, "level": "buurt", "name": f"buurt {b}", "gm_code": gm, "wk_code": wk} for b in buurten]
    return Geography(areas=pd.DataFrame(rows))


def scores(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = {"BU00140000": 300, "BU00140001": 7, "BU00140100": 120, "BU00340000": 200}
    buurt = np.concatenate([[b] * s for b, s in sizes.items()])
    return pd.DataFrame(
        {
            "rinpersoon": np.arange(buurt.size, dtype=np.int64),
            "ref_date": pd.Timestamp("2024-01-01"),
            "age_band": rng.choice(["8-12", "13-19", "20-23"], buurt.size),
            "buurt": buurt,
            "score": rng.beta(2, 12, buurt.size),
        }
    )


def checked(seed: int = 0):  # noqa: ANN201
    area = aggregate_areas(scores(seed), make_geography(), CFG.aggregate)
    return suppress_area_table(area, CFG.disclosure, total_band=CFG.aggregate.band_total_label)


def write(root: Path, table=None, **kw):  # noqa: ANN001, ANN003, ANN201
    return write_export(
        root,
        "2024-01-01",
        table if table is not None else checked(),
        CFG,
        model_version="aanwas-risk/3",
        data_fingerprint="abc123",
        **kw,
    )


def test_layout_columns_manifest_and_blanks(tmp_path: Path) -> None:
    out = write(tmp_path)
    assert out == tmp_path / "2024-01-01"
    assert sorted(p.name for p in out.iterdir()) == [
        "area_risk.csv",
        "area_risk.geojson",
        "area_risk.parquet",
        "manifest.json",
    ]
    csv = pd.read_csv(out / "area_risk.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == list(AREA_EXPORT_COLUMNS)
    pq = pd.read_parquet(out / "area_risk.parquet")
    assert list(pq.columns) == list(AREA_EXPORT_COLUMNS)
    # the 7-person buurt is suppressed: blank values, status suppressed
    tiny = csv[(csv["area_code"] == "BU00140001") & (csv["age_band"] == "all")].iloc[0]
    assert tiny["status"] == "suppressed"
    assert (tiny[["n_persons", "n_elevated", "share_elevated", "risk_mean", "risk_lo", "risk_hi"]] == "").all()
    nl = csv[(csv["area_code"] == "NL00") & (csv["age_band"] == "all")].iloc[0]
    assert nl["status"] == "published" and int(nl["n_persons"]) == 627
    # the band total: counts only, no risk (the bands' risks are chances of different outcomes)
    all_rows = csv[csv["age_band"] == "all"]
    assert (all_rows[["risk_mean", "risk_lo", "risk_hi"]] == "").all().all()
    assert (all_rows["status"] == "published").any()
    nl_band = csv[(csv["area_code"] == "NL00") & (csv["age_band"] == "13-19")].iloc[0]
    assert len(nl_band["risk_mean"].split(".")[1]) == CFG.export.decimals
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_version"] == "aanwas-risk/3" and manifest["data_fingerprint"] == "abc123"
    assert manifest["rules"]["disclosure"]["min_cell_size"] == 10
    assert manifest["rules"]["aggregate"]["interval_level"] == 0.9
    assert manifest["tables"]["area_risk"]["audit"] == "passed"
    for name, info in manifest["files"].items():
        data = (out / name).read_bytes()
        assert info["sha256"] == hashlib.sha256(data).hexdigest() and info["bytes"] == len(data)
    assert set(manifest["files"]) == {"area_risk.csv", "area_risk.parquet", "area_risk.geojson"}
    text = "".join(
        (out / n).read_text(errors="ignore") for n in ("area_risk.csv", "area_risk.geojson", "manifest.json")
    )
    assert "rinpersoon" not in text


def test_geojson_has_gemeenten_with_band_properties(tmp_path: Path) -> None:
    geo = json.loads((write(tmp_path) / "area_risk.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 342
    by_code = {f["properties"]["area_code"]: f["properties"] for f in geo["features"]}
    groningen = by_code["GM0014"]
    assert groningen["n_persons_all"] == 427
    assert {"risk_mean_8-12", "risk_lo_all", "status_13-19", "elevated_all"} <= set(groningen)
    assert by_code["GM0363"]["status"] == "no data"  # not in this table
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in geo["features"])


def test_refuses_unchecked_table(tmp_path: Path) -> None:
    area = aggregate_areas(scores(), make_geography(), CFG.aggregate)
    with pytest.raises(TypeError, match="DisclosureChecked"):
        write(tmp_path, table=area)
    assert not (tmp_path / "2024-01-01").exists()


def test_refuses_person_level_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"rinpersoon": [1, 2], "n": [20, 30], "n_pos": [10, 10]})
    bad = suppress_counts(frame, CFG.disclosure, kind="leak", total="n", parts=["n_pos"])
    with pytest.raises(DisclosureError, match="rinpersoon"):
        write(tmp_path, extra_tables={"leak": bad})
    for col in ("score", "ind_halt", "shap_age"):
        other = suppress_counts(frame.rename(columns={"rinpersoon": col}), CFG.disclosure, kind="x", total="n")
        with pytest.raises(DisclosureError, match=col):
            write(tmp_path, extra_tables={"x": other})
    assert not (tmp_path / "2024-01-01").exists()


def test_refuses_altered_checked_table(tmp_path: Path) -> None:
    table = checked()
    table._frame.loc[0, "n_persons"] = 3
    with pytest.raises(TypeError, match="altered"):
        write(tmp_path, table=table)


def test_extra_tables_and_documents(tmp_path: Path) -> None:
    effects = suppress_counts(
        pd.DataFrame(
            {
                "intervention_id": ["iv1", "iv2"],
                "n_persons": [500, 400],
                "estimate": [-0.01, 0.01],
                "ci_low": [-0.02, -np.inf],
                "ci_high": [0.0, 0.03],
            }
        ),
        CFG.disclosure,
        kind="effects",
        total="n_persons",
        magnitudes=["estimate", "ci_low", "ci_high"],
    )
    out = write(tmp_path, extra_tables={"effects": effects}, documents={"dashboard.html": "<html>ok</html>"})
    assert (out / "effects.csv").read_text().startswith("intervention_id,n_persons,estimate")
    back = pd.read_csv(out / "effects.csv")
    assert back["ci_low"].tolist() == [-0.02, -np.inf]  # an unbounded side stays -inf, not a huge number
    assert (out / "dashboard.html").read_text() == "<html>ok</html>"
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"effects.csv", "dashboard.html"} <= set(manifest["files"])
    with pytest.raises(InputError):
        write(tmp_path, documents={"../escape.html": "x"})
    with pytest.raises(InputError):
        write_export(tmp_path, "../up", checked(), CFG, model_version="m", data_fingerprint="f")


def test_deterministic_byte_identical(tmp_path: Path) -> None:
    a = write(tmp_path / "a", table=checked(1))
    b = write(tmp_path / "b", table=checked(1))
    for name in ("area_risk.csv", "area_risk.parquet", "area_risk.geojson", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_crash_mid_write_keeps_previous_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = write(tmp_path, table=checked(1))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real = export_mod._write_file

    def crash_on_second(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        real(path, data)

    monkeypatch.setattr(export_mod, "_write_file", crash_on_second)
    with pytest.raises(OSError, match="simulated"):
        write(tmp_path, table=checked(2))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-01-01"]  # no temporary leftovers


def test_export_module_imports_no_models_or_training() -> None:
    tree = ast.parse(Path(export_mod.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"models", "training"}


def test_aggregate_config_defaults_used() -> None:
    assert AggregateConfig().interval_level == 0.9
