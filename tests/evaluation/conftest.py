"""Shared fixtures of the evaluation tests: small fabricated worlds with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.config import BootstrapConfig, EvaluationConfig


@pytest.fixture
def fast_cfg() -> EvaluationConfig:
    """Few bootstrap replicates: the tests check definitions, not interval precision."""
    return EvaluationConfig(bootstrap=BootstrapConfig(reps=40))


def fabricate_world(
    seed: int,
    *,
    n_gemeenten: int = 6,
    wijken_per_gemeente: int = 5,
    persons_per_wijk: int = 1200,
    n_over_policed: int = 6,
    detection: float = 0.4,
    intensity: float = 2.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons in wijken; a few wijken have ``intensity`` x the registration (detection) rate.

    Returns the person rows (``gemeente, wijk, age_band, sex, migration_group, income_group,
    single_parent, ind_x1, ind_x2, p_offend, alt, label, score``) and the truth per wijk
    (``area_code, area_level, over_policed, enforcement``). ``alt`` is the intensity-free
    expected label (offending at the national detection rate); ``label`` is the observed
    registration; ``score`` is a model that learned from the biased label (it includes the
    area's detection).
    """
    rng = np.random.default_rng(seed)
    n_areas = n_gemeenten * wijken_per_gemeente
    codes = np.array([f"WK{g:04d}{w:02d}" for g in range(n_gemeenten) for w in range(wijken_per_gemeente)])
    gem = np.array([f"GM{g:04d}" for g in range(n_gemeenten) for _ in range(wijken_per_gemeente)])
    over = np.zeros(n_areas, dtype=bool)
    over[rng.choice(n_areas, n_over_policed, replace=False)] = True
    dep = rng.normal(0.0, 1.0, n_areas)
    n = n_areas * persons_per_wijk
    a = np.repeat(np.arange(n_areas), persons_per_wijk)
    dep_p = dep[a]
    mig = np.where(
        rng.random(n) < 1 / (1 + np.exp(-(dep_p - 1.0))),
        "buiten_europa",
        np.where(rng.random(n) < 0.12, "europa", "nederland"),
    )
    income = np.clip(np.round(3 - dep_p + rng.normal(0, 1, n)), 1, 5).astype(int)
    x1 = rng.normal(0, 1, n) + 0.5 * dep_p
    x2 = (rng.random(n) < 0.1).astype(float)
    p_offend = 1 / (1 + np.exp(-(-2.3 + 0.8 * x1 + 1.0 * x2)))
    det = np.where(over[a], detection * intensity, detection)
    label = (rng.random(n) < p_offend * det).astype(int)
    persons = pd.DataFrame(
        {
            "gemeente": gem[a],
            "wijk": codes[a],
            "age_band": "13-19",
            "sex": rng.choice(["M", "V"], n),
            "migration_group": mig,
            "income_group": income,
            "single_parent": x2.astype(int),
            "ind_x1": x1,
            "ind_x2": x2,
            "p_offend": p_offend,
            "alt": p_offend * detection,
            "label": label,
            "score": p_offend * det,
        }
    )
    truth = pd.DataFrame(
        {"area_code": codes, "area_level": "wijk", "over_policed": over, "enforcement": np.where(over, intensity, 1.0)}
    )
    return persons, truth


@pytest.fixture(scope="session")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    """36,000 persons in 30 wijken, 6 of them with doubled registration intensity."""
    return fabricate_world(7)


@pytest.fixture(scope="session")
def make_world():
    """The world factory, for tests that vary the seed or the size."""
    return fabricate_world
