"""The observable-state oracle: quadrature against Monte Carlo, posterior of the latent
vulnerability, detection averaged out; the full oracle is unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.config import FeatureConfig
from features.sources.synth import WorldParams, offending_logit
from features.sources.truth import STATE_COLUMNS, gauss_hermite_expectation, latent_posterior, true_label_risk

REF = pd.Timestamp("2021-01-01")
LABELS = FeatureConfig().labels  # 13-19: drug-law offences within 24 months


def _logit(params: WorldParams, z: float = 0.0) -> np.ndarray:
    """Yearly log-odds at 15 and 16 of a boy with none of the indicators."""
    no = (False,) * 8
    return offending_logit(params, np.array([15, 16]), True, *no, z)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _person_year(z: np.ndarray, p_detect: np.ndarray, *, male: bool = True, age: int = 15) -> pd.DataFrame:
    """Persons aged ``age`` on 1 January 2021, same observable state (none of the indicators),
    two horizon years (2021, 2022), no intervention, constant drug share."""
    n = len(z)
    rows = []
    for k, year in enumerate((2021, 2022)):
        rows.append(
            pd.DataFrame(
                {
                    "rinpersoon": np.arange(n, dtype="int64") + 100,
                    "year": np.full(n, year, "int16"),
                    "age": np.full(n, age + k, "int8"),
                    "is_male": np.full(n, male),
                    "h_any": np.zeros(n, "float32"),
                    "hazard_ratio": np.ones(n, "float32"),
                    "share_drug": np.full(n, 0.5, "float32"),
                    "p_detect": p_detect.astype("float32"),
                    **{c: np.zeros(n, "int16" if c == "halt_n" else bool) for c in STATE_COLUMNS},
                    "latent_z": z.astype("float32"),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _band(frame: pd.DataFrame, band: str = "13-19") -> pd.DataFrame:
    return frame[frame["age_band"] == band].set_index("rinpersoon")["true_risk"]


def test_gauss_hermite_matches_monte_carlo_and_is_exact_for_polynomials() -> None:
    rng = np.random.default_rng(0)
    mean, sd = np.array([-4.0, -2.5, 0.5]), np.array([0.3, 1.2, 2.0])
    got = gauss_hermite_expectation(lambda z: _sigmoid(z), mean, sd)
    draws = mean + sd * rng.standard_normal((400_000, 3))
    mc = _sigmoid(draws)
    se = mc.std(axis=0) / np.sqrt(len(mc))
    assert np.all(np.abs(got - mc.mean(axis=0)) < 4 * se)
    # E[Z^4] = mu^4 + 6 mu^2 s^2 + 3 s^4, exact with >= 3 nodes
    m4 = gauss_hermite_expectation(lambda z: z**4, np.array(1.0), np.array(2.0), n_nodes=3)
    assert float(m4) == pytest.approx(1 + 6 * 4 + 3 * 16)


def test_observable_oracle_integrates_the_latent_vulnerability_out() -> None:
    """Same observable state for everyone, z ~ Normal: the observable risk (quadrature) equals
    the average of the persons' full-truth risks (Monte Carlo over their actual z)."""
    rng = np.random.default_rng(1)
    n = 20_000
    z = 0.3 + 0.8 * rng.standard_normal(n)
    py = _person_year(z, np.full(n, 0.4))
    params = WorldParams(gamma_latent=1.5)  # strong latent effect: a wrong integral shows
    full = _band(true_label_risk(py, [REF], LABELS, basis="reference", with_detection=True, params=params))
    obs = _band(true_label_risk(py, [REF], LABELS, basis="observable", with_detection=True, params=params))
    assert obs.nunique() == 1  # nothing observable tells the persons apart
    se = full.std() / np.sqrt(n)
    assert abs(obs.iloc[0] - full.mean()) < 4 * se
    # and by hand: yearly logit at 15 and 16, integrated over Normal(mean z, sd z)
    base = _logit(params)
    zz = 0.3 + 0.8 * rng.standard_normal(400_000)
    q = _sigmoid(base[None, :] + 1.5 * zz[:, None]) * 0.5 * 0.4
    assert obs.iloc[0] == pytest.approx(np.mean(1 - np.prod(1 - q, axis=1)), abs=4 * se)


def test_observable_oracle_averages_detection_out() -> None:
    """No latent effect, two detection levels: everyone gets the risk at the mean detection."""
    n = 1000
    p_detect = np.where(np.arange(n) % 2 == 0, 0.4, 0.8)
    py = _person_year(np.zeros(n), p_detect)
    params = WorldParams(gamma_latent=0.0)
    obs = _band(true_label_risk(py, [REF], LABELS, basis="observable", with_detection=True, params=params))
    full = _band(true_label_risk(py, [REF], LABELS, basis="reference", with_detection=True, params=params))
    base = _logit(params)
    hand = 1 - np.prod(1 - _sigmoid(base) * 0.5 * 0.6)
    assert np.allclose(obs, hand)
    assert full.nunique() == 2  # the full oracle sees each person's own detection
    without = _band(true_label_risk(py, [REF], LABELS, basis="observable", with_detection=False, params=params))
    assert np.allclose(without, 1 - np.prod(1 - _sigmoid(base) * 0.5))


def test_latent_posterior_recovers_a_linear_conditional_mean() -> None:
    rng = np.random.default_rng(2)
    n = 40_000
    py = _person_year(np.zeros(n), np.full(n, 0.4))
    state = py[py["year"] == 2021].copy()
    state["is_male"] = rng.random(n) < 0.5
    state["halt_n"] = (rng.random(n) < 0.2).astype("int16") * 2
    state["latent_z"] = 0.5 * state["is_male"] + 1.0 * (state["halt_n"] > 0) + 0.7 * rng.standard_normal(n)
    mean, sd = latent_posterior(state)
    truth = 0.5 * state["is_male"].to_numpy() + 1.0 * (state["halt_n"].to_numpy() > 0)
    assert np.max(np.abs(mean - truth)) < 0.03
    assert sd[0] == pytest.approx(0.7, abs=0.01)


def test_reference_oracle_unchanged_by_hand() -> None:
    """The full oracle still uses each person's own z and detection."""
    z = np.array([-1.0, 0.0, 2.0])
    p_detect = np.array([0.4, 0.8, 0.4])
    py = _person_year(z, p_detect)
    p = WorldParams()
    full = _band(true_label_risk(py, [REF], LABELS, basis="reference", with_detection=True))
    for i in range(3):
        lg = _logit(p, z[i])
        assert full.iloc[i] == pytest.approx(1 - np.prod(1 - _sigmoid(lg) * 0.5 * p_detect[i]), rel=1e-6)
