"""A synthetic delivery in CBS's layout maps with conf/mapping_cbs_example.toml and no
preparation code: ``aanwas validate`` accepts it and ``aanwas features`` builds the same feature
table and audit frame as from the synthetic contract files it was written from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cbs_layout import write_cbs_layout
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.stages.features import load_feature_table
from aanwas.stages.synth import write_synth
from features.config import SynthConfig
from features.contract import TABLES, ContractConfig
from features.sources.readers import load_mapping, read_delivery
from features.sources.synth import generate

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "conf" / "mapping_cbs_example.toml"
runner = CliRunner()


def _deliveries(tmp: Path, scale: float) -> tuple[Path, Path]:
    result = generate(SynthConfig(scale=scale, seed=5))
    write_synth(result, tmp / "synth")
    cbs = write_cbs_layout(result.raw, result.interventions, result.observation_end, tmp / "cbs")
    return tmp / "synth" / "raw", cbs


def _features(data: Path, work: Path, mapping: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    args = ["features", "--data", str(data), "--work", str(work)]
    res = runner.invoke(app, args + (["--mapping", str(mapping)] if mapping else []))
    assert res.exit_code == 0, res.output
    return load_feature_table(work)


def _check(tmp_path: Path, scale: float) -> None:
    raw, cbs = _deliveries(tmp_path, scale)
    names = {p.name for p in cbs.iterdir()}
    assert {"GBAPERSOON2024TABV1.sav", "WSNPBUS.csv", "SCHULDHULPBUS.csv", "JGDRECLASSERINGBUS.csv"} <= names
    assert sum(n.startswith("VSLGWB") for n in names) >= 10  # yearly lookup files
    assert sum(n.startswith("INHA") for n in names) >= 10
    res = runner.invoke(app, ["validate", "--data", str(cbs), "--mapping", str(MAPPING)])
    assert res.exit_code == 0, res.output
    # the validated tables equal those of the contract files, row for row
    want = read_delivery(raw, load_mapping(None), ContractConfig())
    got = read_delivery(cbs, load_mapping(MAPPING), ContractConfig())
    for name in want.tables:
        key = list(TABLES[name].key)
        pd.testing.assert_frame_equal(
            got[name].sort_values(key).reset_index(drop=True),
            want[name].sort_values(key).reset_index(drop=True),
            obj=name,
        )
    pd.testing.assert_frame_equal(got.interventions, want.interventions)
    # and the commands build the same feature table and audit frame from either
    ft_want, au_want = _features(raw, tmp_path / "work_synth", None)
    ft_got, au_got = _features(cbs, tmp_path / "work_cbs", MAPPING)
    assert len(ft_got) > 0
    pd.testing.assert_frame_equal(ft_got, ft_want)
    pd.testing.assert_frame_equal(au_got, au_want)


def test_cbs_layout_delivery_gives_the_same_features(tmp_path):
    _check(tmp_path, scale=0.001)


@pytest.mark.slow
def test_cbs_layout_delivery_gives_the_same_features_larger(tmp_path):
    _check(tmp_path, scale=0.01)
