"""World profiles of the synthetic generator (synth.profile): the additive world is the world as
it was before profiles existed, the profile reaches the generator, the truth and the oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aanwas.cli import app
from aanwas.common.errors import ConfigError
from features.config import WORLD_PROFILES, FeatureConfig, SynthConfig
from features.sources.synth import PROFILE_ATTR, generate, offending_logit, world_params
from features.sources.truth import true_label_risk


@pytest.fixture(scope="module")
def worlds():
    return {profile: generate(SynthConfig(scale=0.002, seed=5, profile=profile)) for profile in WORLD_PROFILES}


def _hazard(py: pd.DataFrame, profile: str) -> np.ndarray:
    """Yearly offending probability of each truth row under ``profile``'s formula."""
    lin = offending_logit(
        world_params(profile),
        py["age"].to_numpy(int),
        py["is_male"].to_numpy(),
        py["halt_n"].to_numpy() > 0,
        py["vsv_ever"].to_numpy(),
        py["own_debt_ever"].to_numpy(),
        py["parent_debt_recent"].to_numpy(),
        py["parent_suspect_recent"].to_numpy(),
        py["single_parent"].to_numpy(),
        py["youth_care_ever"].to_numpy(),
        py["prior_suspect"].to_numpy(),
        py["latent_z"].to_numpy(float),
    )
    return 1 / (1 + np.exp(-lin)) * py["hazard_ratio"].to_numpy(float)


def test_additive_world_is_the_world_before_profiles(worlds):
    # generate(SynthConfig(scale=0.002, seed=5)) at commit 23fd8e5, before profiles existed;
    # (at scale 0.05, seed 1 every raw and truth file written by `aanwas synth` had the same
    # sha256 before and after)
    res = worlds["additive"]
    assert {name: len(df) for name, df in sorted(res.raw.items())} == {
        "addresses": 43749, "debt": 2651, "deregistrations": 329, "enrolments": 24568, "halt": 698,
        "household_income": 96858, "parent_child": 19554, "persons": 21003, "suspects": 2945, "vsv": 537,
        "youth_care": 1996,
    }  # fmt: skip
    py = res.truth["person_year"]
    assert float(py["h_any"].astype("float64").sum()) == 1462.2383291506849
    assert int(res.raw["suspects"]["registration_date"].astype("int64").sum()) == 4278994732800
    assert py.attrs == {}  # an additive truth file carries no profile: as before


def test_profile_reaches_the_generator_and_its_truth(worlds):
    additive, inter = worlds["additive"], worlds["interactions"]
    # the same people (everything before the yearly events is drawn identically) ...
    pd.testing.assert_frame_equal(additive.raw["persons"], inter.raw["persons"])
    # ... whose offending follows the profile's formula, not the additive one
    py = inter.truth["person_year"]
    assert py.attrs == {PROFILE_ATTR: "interactions"}
    h = py["h_any"].to_numpy(float)
    np.testing.assert_allclose(h, _hazard(py, "interactions"), rtol=1e-4, atol=1e-9)
    assert np.abs(h - _hazard(py, "additive")).max() > 0.01
    np.testing.assert_allclose(
        additive.truth["person_year"]["h_any"].to_numpy(float),
        _hazard(additive.truth["person_year"], "additive"),
        rtol=1e-4,
        atol=1e-9,
    )
    assert len(additive.raw["suspects"]) != len(inter.raw["suspects"])


def test_family_risk_factors_count_only_in_combination():
    p = world_params("interactions")
    one = np.array([1, 0, 0, 0])

    def logit(parent_debt, parent_suspect, single_parent, youth_care, age=14):
        zeros = np.zeros(len(parent_debt))
        return offending_logit(
            p, np.full(len(parent_debt), age), zeros, zeros, zeros, zeros,
            parent_debt, parent_suspect, single_parent, youth_care, zeros, zeros,
        )  # fmt: skip

    none = logit(*np.zeros((4, 1)))
    _, one_alone, two, three = p.family_risk_logodds
    assert one_alone == 0 and 0 < two < three
    # one factor alone adds nothing, whichever it is; two add `two`; three or four add `three`
    np.testing.assert_allclose(logit(*np.eye(4)) - none, 0.0)
    np.testing.assert_allclose(logit(*(one + np.roll(one, 1))[:, None]) - none, two)
    np.testing.assert_allclose(logit(*np.ones((4, 1))) - none, three)
    # a single parent counts for minors only: at 18 parental debt + single parent is one factor
    debt_and_single = np.array([[1], [0], [1], [0]])
    np.testing.assert_allclose(logit(*debt_and_single, age=17) - logit(*np.zeros((4, 1)), age=17), two)
    np.testing.assert_allclose(logit(*debt_and_single, age=18) - logit(*np.zeros((4, 1)), age=18), 0.0)


def test_oracles_follow_the_profile_of_the_truth_file(worlds, tmp_path):
    path = tmp_path / "person_year.parquet"
    worlds["interactions"].truth["person_year"].to_parquet(path)
    py = pd.read_parquet(path)
    assert py.attrs[PROFILE_ATTR] == "interactions"  # the profile survives the file
    labels = FeatureConfig().labels
    dates = [pd.Timestamp(2021, 1, 1)]
    default = true_label_risk(py, dates, labels, with_detection=True)
    explicit = true_label_risk(py, dates, labels, with_detection=True, params=world_params("interactions"))
    pd.testing.assert_frame_equal(default, explicit)
    with pytest.raises(ValueError, match="interactions"):
        true_label_risk(py, dates, labels, params=world_params("additive"))
    # read as an additive world, the same states give other risks
    as_additive = py.copy()
    as_additive.attrs = {}
    other = true_label_risk(as_additive, dates, labels, with_detection=True)
    assert len(other) == len(default)
    assert not np.allclose(other["true_risk"].fillna(0), default["true_risk"].fillna(0))


def test_unknown_profile_is_a_config_error():
    with pytest.raises(ConfigError, match="synth.profile"):
        SynthConfig(profile="multiplicative")


def test_cli_profile_option_reaches_the_truth(tmp_path):
    runner = CliRunner()
    out = tmp_path / "s"
    args = ["synth", "--scale", "0.001", "--seed", "2", "--out", str(out)]
    result = runner.invoke(app, [*args, "--profile", "interactions"])
    assert result.exit_code == 0, result.output
    assert "world profile interactions" in " ".join(result.output.split())
    assert pd.read_parquet(out / "truth" / "person_year.parquet").attrs == {PROFILE_ATTR: "interactions"}
    bad = runner.invoke(app, [*args, "--profile", "multiplicative"])
    assert bad.exit_code == 2 and "synth.profile" in bad.output
