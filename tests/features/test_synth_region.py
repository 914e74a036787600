"""A synthetic population inside a region (synth.region): who lives, moves and is treated where."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.common.errors import ConfigError, InputError
from features.config import SynthConfig
from features.contract import ContractConfig, validate_delivery
from features.geography import load_geography
from features.sources.readers import read_coverage
from features.sources.region import region_label, resolve_region
from features.sources.synth import generate

REGION = ("Gooi en Vechtstreek",)
GOOI = ("GM0376", "GM0402", "GM0406", "GM0417", "GM1696", "GM1942")  # from the 2024 KoppelCodes file


@pytest.fixture(scope="module")
def world():
    return generate(SynthConfig(scale=0.1, seed=5, region=REGION))


def _gm(codes: pd.Series) -> pd.Series:
    return "GM" + codes.astype(str).str[2:6]


def test_region_names_resolve_to_their_gemeenten():
    assert resolve_region(REGION) == GOOI
    assert resolve_region(("vr14",)) == GOOI  # code, any case
    assert resolve_region((" gooi  en vechtstreek ",)) == GOOI  # spaces
    assert resolve_region(("Noord-Holland",)) == resolve_region(("noord holland",)) == resolve_region(("PV27",))
    assert set(GOOI) < set(resolve_region(("Noord-Holland",)))
    assert resolve_region(("GM0402", "Huizen")) == ("GM0402", "GM0406")  # union of codes and names
    assert resolve_region(()) == ()
    assert region_label(("VR14",)) == "Gooi en Vechtstreek"


@pytest.mark.parametrize("name", ["Gotham", "VR99", "GM9999", ""])
def test_an_unknown_region_is_a_config_error(name):
    with pytest.raises(ConfigError, match="synth.region"):
        SynthConfig(region=(name,))


def test_a_bad_region_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    from aanwas.cli import app

    for cmd in (["synth", "--out", str(tmp_path / "s")], ["demo", "--out", str(tmp_path / "d")]):
        result = CliRunner().invoke(app, [*cmd, "--region", "Gotham"])
        assert result.exit_code == 2, result.output
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and "synth.region" in lines[0] and "Gotham" in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_region_too_small_for_the_interventions_is_refused():
    with pytest.raises(ConfigError, match="wijken"):
        generate(SynthConfig(scale=0.05, seed=1, region=("Laren (NH.)",)))


def test_everyone_lives_and_moves_inside_the_region(world):
    raw = world.raw
    addr = raw["addresses"]
    assert set(_gm(addr["buurt_code"])) == set(GOOI)  # every address, every gemeente of the region
    # moves happened, and stayed inside (several episodes per person, all in the region)
    episodes = addr.groupby("rinpersoon").size()
    assert (episodes > 1).mean() > 0.1
    # every person (young people and their parents) has an address in the region
    assert set(raw["persons"]["rinpersoon"]) == set(addr["rinpersoon"])
    assert set(raw["parent_child"]["rinpersoon_parent"]) <= set(addr["rinpersoon"])
    # schools are in the gemeente the household lived in: school_id // 1000 indexes the gemeenten
    gm_codes = np.unique(load_geography().buurten["gm_code"].to_numpy(str))
    assert set(gm_codes[raw["enrolments"]["school_id"].to_numpy() // 1000]) <= set(GOOI)
    # the delivery satisfies the contract
    validate_delivery(raw, ContractConfig(observation_end=world.observation_end), load_geography())


def test_density_is_the_regions_real_density(world):
    """Residents aged 8-23 on 1 January 2024 ~ scale x the region's real young population.

    The generator's placement weights (age_0_15 * 8/15 + age_15_25 * 0.9) summed over the
    region are its real number of young people; at scale 0.1 the region has a tenth of them.
    """
    geo = load_geography()
    b = geo.buurten[geo.buurten["gm_code"].isin(GOOI)]
    expected = 0.1 * float((b["age_0_15"] * 8 / 15 + b["age_15_25"] * 0.9).sum())
    ref = pd.Timestamp("2024-01-01")
    p = world.raw["persons"]
    age = (ref.year - p["birth_date"].dt.year) - ((p["birth_date"].dt.month > 1) | (p["birth_date"].dt.day > 1))
    n = int(age.between(8, 23).sum())
    assert 0.85 * expected < n < 1.15 * expected, (n, expected)


def test_interventions_are_disjoint_wijken_inside_the_region(world):
    ivs = world.interventions
    assert list(ivs["intervention_id"]) == ["IV01", "IV02", "IV03", "IV04", "IV05"]
    codes = [c for row in ivs["area_codes"] for c in row.split(";")]
    assert all(c.startswith("WK") for c in codes)
    assert len(codes) == len(set(codes))  # disjoint
    assert set(_gm(pd.Series(codes))) <= set(GOOI)
    n_wijken = load_geography().buurten.query("gm_code in @GOOI")["wk_code"].nunique()
    assert n_wijken - len(codes) >= len(codes)  # as many untreated wijken for comparison
    truth = world.truth["interventions"]
    assert (truth["treated_person_years"] > 0).all()  # somebody lives in every treated wijk


def test_truth_covers_the_region_only_and_matches_the_national_world(world):
    areas = world.truth["areas"]
    assert set(_gm(areas["area_code"])) == set(GOOI)
    geo = load_geography()
    n_b = int(geo.buurten["gm_code"].isin(GOOI).sum())
    assert (areas["area_level"] == "buurt").sum() == n_b
    assert set(world.truth["person_year"]["rinpersoon"]) <= set(world.raw["persons"]["rinpersoon"])
    # the area truth is the national world's, restricted (same seed): a region is a window on it
    national = generate(SynthConfig(scale=0.001, seed=5)).truth["areas"]
    pd.testing.assert_frame_equal(
        areas.reset_index(drop=True),
        national[national["area_code"].isin(areas["area_code"])].reset_index(drop=True),
    )


def test_the_delivery_declares_its_region(world, tmp_path):
    from aanwas.stages.synth import write_synth

    write_synth(world, tmp_path)
    cov = read_coverage(tmp_path / "raw")
    assert cov is not None and cov.gemeenten == GOOI and cov.name == "Gooi en Vechtstreek"
    national = dataclasses.replace(world, coverage=(), coverage_name="")
    write_synth(national, tmp_path / "nl")
    assert read_coverage(tmp_path / "nl" / "raw") is None
    meta = tmp_path / "raw" / "delivery.toml"
    meta.write_text(meta.read_text().replace('"GM0376"', '"GM9999"'))
    with pytest.raises(InputError, match="coverage"):
        read_coverage(tmp_path / "raw")


def test_a_regions_export_has_its_areas_and_its_total_only():
    """aggregate over covered_scope: rows for the region's areas plus one total, named after it."""
    from aanwas.config import AppConfig
    from aanwas.stages.steps import covered_scope
    from features.sources.readers import Coverage
    from monitoring.publishing.aggregate import aggregate_areas

    cfg, geo = covered_scope(AppConfig(), Coverage(gemeenten=GOOI, name="Gooi en Vechtstreek"))
    buurten = geo.buurten["code"].to_numpy()
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(
        {"period": "2024", "age_band": "13-19", "buurt": rng.choice(buurten, 500), "score": rng.random(500) * 0.1}
    )
    out = aggregate_areas(scores, geo, cfg.monitoring.aggregate)
    land = out[out["area_level"] == "land"]
    assert set(land["area_name"]) == {"Gooi en Vechtstreek"}
    inside = out[out["area_level"] != "land"]
    assert set(_gm(inside["area_code"])) <= set(GOOI)
    assert (inside["area_level"] == "gemeente").sum() == len(GOOI) * out["age_band"].nunique()
    assert int(land.loc[land["age_band"] == "13-19", "n_persons"].item()) == 500


def test_a_national_demo_exports_gemeenten_unless_asked_and_the_region_demo_buurten():
    from aanwas.cli import config_from
    from aanwas.stages.demo import demo_settings

    def level(region: list[str], overrides: list[str]) -> str:
        return config_from(None, demo_settings(0.05, 11, region, overrides)).monitoring.aggregate.finest_level

    assert level([], []) == "buurt"  # the default region: down to buurt level
    assert level(['synth.region=["Gooi en Vechtstreek"]'], []) == "buurt"
    assert level(["synth.region=[]"], []) == "gemeente"  # thin national population: sparse table
    assert level(["synth.region=[]"], ['monitoring.aggregate.finest_level="wijk"']) == "wijk"  # the user wins
