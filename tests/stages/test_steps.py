"""The steps the stages share (aanwas.stages.steps): fingerprint, aggregate and check, write;
and the stage layer's own rules (no stage reaches into another's private names)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
from checked_scores import check_scores, scores_fingerprint
from hypothesis import given
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier

from aanwas.stages.steps import (
    combine_fingerprint,
    fingerprint_parts,
    intervention_registry,
    score_bands,
    write_periods,
)
from features.geography import Geography
from models.bundle import ModelBundle
from monitoring.config import MonitoringConfig

STAGES = Path(__file__).resolve().parents[2] / "aanwas" / "stages"
# two real gemeenten (the shipped GeoJSON matches them), made-up wijken and buurten
SPEC = {"GM0014": {"WK001400": ["BU00140000", "BU00140001"]}, "GM0034": {"WK003400": ["BU00340000"]}}


def _geography() -> Geography:
    rows = []
    for gm, wijken in SPEC.items():
        rows.append({"code": gm, "level": "gemeente", "name": gm, "gm_code": gm, "wk_code": None})
        for wk, buurten in wijken.items():
            rows.append({"code": wk, "level": "wijk", "name": wk, "gm_code": gm, "wk_code": wk})
            rows += [{"code": b, "level": "buurt", "name": b, "gm_code": gm, "wk_code": wk} for b in buurten]
    return Geography(areas=pd.DataFrame(rows))


def _scores(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = {"BU00140000": 300, "BU00140001": 7, "BU00340000": 200}
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


def test_fingerprint_ignores_row_order_and_sees_one_changed_score() -> None:
    scores = _scores(3)
    shuffled = scores.sample(frac=1.0, random_state=1)
    assert scores_fingerprint(shuffled) == scores_fingerprint(scores)
    changed = scores.copy()
    changed.loc[5, "score"] += 1e-9
    assert scores_fingerprint(changed) != scores_fingerprint(scores)


@given(st.integers(0, 10_000), st.integers(1, 4))
def test_fingerprint_of_parts_is_the_fingerprint_of_the_whole(seed: int, n_parts: int) -> None:
    # a refresh fingerprints each reference date's scores on its own and combines them
    rng = np.random.default_rng(seed)
    scores = _scores(seed)
    scores["ref_date"] = pd.to_datetime(np.where(rng.random(len(scores)) < 0.5, "2023-01-01", "2024-01-01"))
    cut = [0, *np.sort(rng.integers(0, len(scores), n_parts - 1)), len(scores)]
    parts = [fingerprint_parts(scores.iloc[a:b]) for a, b in zip(cut, cut[1:], strict=False)]
    assert combine_fingerprint(parts) == scores_fingerprint(scores)
    assert combine_fingerprint(parts[::-1]) == scores_fingerprint(scores)


def test_check_and_write_every_period(tmp_path: Path) -> None:
    mon = MonitoringConfig()
    found = check_scores(mon, _scores(3), _geography())
    assert found.n_rows == 507 and found.periods == ["2024-01-01"]
    written = write_periods(mon, tmp_path, found.periods, found.checked, "m/1", found.fingerprint)
    assert [p.name for p in written] == ["2024-01-01"]
    manifest = json.loads((written[0] / "manifest.json").read_text())
    assert manifest["data_fingerprint"] == scores_fingerprint(_scores(3))
    csv = pd.read_csv(written[0] / "area_risk.csv")
    assert "rinpersoon" not in csv.columns and "score" not in csv.columns
    # the 7 young people of BU00140001 are below the threshold: their count is not shown
    buurt = csv[csv["area_code"] == "BU00140001"]
    assert len(buurt) and buurt["n_persons"].isna().all()


def test_score_bands_keeps_the_bundles_bands_and_scores_each_row_by_its_band() -> None:
    def constant(positives: int) -> DummyClassifier:  # predicts positives/10 for every row
        X = pd.DataFrame({"age": np.zeros(10)})
        return DummyClassifier(strategy="prior").fit(X, np.array([1] * positives + [0] * (10 - positives)))

    bundle = ModelBundle({"8-12": constant(1), "13-19": constant(3)})
    frame = pd.DataFrame(
        {"age_band": ["13-19", "20-23", "8-12", "13-19"], "age": [15, 21, 9, 14], "buurt": ["a", "b", "c", "d"]},
        index=[7, 5, 3, 1],
    )
    out = score_bands(bundle, frame, ["age_band", "buurt"])
    assert list(out.columns) == ["age_band", "buurt", "score"]
    assert list(out.index) == [7, 3, 1]  # the 20-23 row has no model: left out, order kept
    np.testing.assert_allclose(out["score"].to_numpy(), [0.3, 0.1, 0.3])


def test_intervention_registry_text_columns_are_plain_strings() -> None:
    reg = pd.DataFrame(
        {
            "intervention_id": pd.Categorical(["a", "b"]),
            "name": ["x", "y"],
            "area_codes": pd.Categorical(["GM0014", "GM0034"]),
            "age_bands": ["13-19", "8-12"],
            "start_date": pd.to_datetime(["2020-01-01", "2021-01-01"]),
        }
    )
    out = intervention_registry(reg)
    assert all(out[c].map(type).eq(str).all() for c in ("intervention_id", "name", "area_codes", "age_bands"))
    assert out["start_date"].dtype == reg["start_date"].dtype


def test_no_stage_imports_another_stages_private_names() -> None:
    bad = []
    for path in sorted(STAGES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aanwas.stages."):
                bad += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, bad


def test_a_stored_area_sums_entry_reads_back_and_a_damaged_one_is_a_miss() -> None:
    from aanwas.stages.steps import _decode_part, _encode_part
    from monitoring.publishing.aggregate import aggregate_sums

    scores = _scores(2)
    sums = aggregate_sums(scores, _geography(), MonitoringConfig().aggregate)
    data = _encode_part(sums, fingerprint_parts(scores), len(scores))
    found = _decode_part(data)
    assert found is not None
    back, parts, n_rows = found
    assert n_rows == len(scores) and combine_fingerprint([parts]) == scores_fingerprint(scores)
    assert back.periods == sums.periods and all(np.array_equal(back.sums[k], v) for k, v in sums.sums.items())
    for damaged in (data[: len(data) // 2], b"x" + data, data.replace(b"n_rows", b"n_rowz")):
        assert _decode_part(damaged) is None  # recomputed, never half-read


def test_every_public_step_is_used_by_the_product() -> None:
    # a step only tests or a benchmark call is a second, older path to the same result
    # (registry_scores and check_scores were: the stages score and check by area sums)
    tree = ast.parse((STAGES / "steps.py").read_text(encoding="utf-8"))
    public = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    product = [p.read_text(encoding="utf-8") for p in (STAGES.parent).rglob("*.py")]
    calls = {
        n.func.id if isinstance(n.func, ast.Name) else n.func.attr
        for src in product
        for n in ast.walk(ast.parse(src))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name | ast.Attribute)
    }
    refs = {n.id for src in product for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
    unused = [name for name in public if name not in calls | refs]
    assert not unused, unused
