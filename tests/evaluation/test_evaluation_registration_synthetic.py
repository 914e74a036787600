"""End to end on the synthetic world: the registration-intensity audit finds the over-policed areas.

``aanwas synth`` at scale 0.1 over-polices about 8 % of the wijken (detection x2, the truth in
``DIR/truth/areas.parquet``). The feature stage builds the table, a LightGBM per band (no area
inputs) gives the model risk, and the audit compares every registration of residents in the
year after each reference date with the registrations the model expects. Slow (synth, features
and three LightGBM fits at scale 0.1: several minutes).

Thresholds come from measurements with exactly this code (docs/dev/evaluation.md, scale 0.1). The
denominators are the over-policed areas with at least the minimum cell size of persons, shown
or not (an area whose registrations stay below the minimum cell size is not shown and counts as
missed). Seed 1: wijk sensitivity 0.31 (42 of 134) with 1 false discovery in 43; among the
over-policed wijken where the audit's power to see a doubling is >= 0.8, 16 of 16 flagged (mean
power 0.93), no false discovery there. Seed 2: wijk 0.32 (36 of 113), 0 of 36 false; powered
15 of 16 (mean power 0.96). Gemeente: 5 of 12 (1 of 6 false) and 4 of 14 (2 of 6 false); with
the current code seed 2 flags 8 gemeenten, 5 over-policed and 3 truly elevated below the
over-policing cut (1.16-1.23), none at or below the reference: judged by exact binomial tests
(see the constants). The
assertions leave room for seed-to-seed variation, not for a broken audit: flagging the same
number of wijken at random would find about 1.4 % of the over-policed ones with a
false-discovery share near 0.96, and in the powered stratum about 14 % (16 of 115 wijken there
are over-policed at seed 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scipy.stats import binom

from aanwas.config import load_config
from aanwas.stages.evaluate import prepare_registration_rows
from aanwas.stages.features import run_features
from aanwas.stages.synth import run_synth
from evaluation.evaluate import POOLED, evaluate_model
from features.catalogue import feature_columns

pytestmark = pytest.mark.slow

BANDS = ("8-12", "13-19", "20-23")
# measured 0.31 / 0.32 (wijk), 0.42 / 0.29 (gemeente) at seeds 1 / 2; false discovery 0.02 / 0
# (wijk) and 0.17 / 0.33 (gemeente, 1 and 2 of 6); with the current code seed 2 gives 0.375 at
# gemeente (3 of 8 below the cut, none at or below the reference)
WIJK_MIN_SENSITIVITY = 0.2
WIJK_MAX_FALSE_DISCOVERY = 0.1
GEMEENTE_MIN_SENSITIVITY = 0.25  # 3 of 12
# Gemeente flags are few (6 to 8), so a share of them is no figure to hold a threshold to (one
# flag moves it by 0.13-0.17), and a gemeente's truth is the mean of its wijken: a continuum cut at
# tolerance_high (1.25). At seed 2 three of eight flags fall below that cut with true enforcement
# 1.16, 1.19 and 1.23 (above the 90th percentile of gemeenten, 1.12): truly registered more, as the
# audit says, so false only against the cut. The gemeente checks are therefore exact binomial tests:
# (1) flags at or below the reference (the null Benjamini-Hochberg controls at evaluation.alpha / 2)
#     are no more than that level allows (one-sided p >= BINOMIAL_P);
# (2) flags below the cut are far fewer than random flagging gives (share of areas not
#     over-policed, about 0.95; one-sided p <= BINOMIAL_P).
BINOMIAL_P = 0.01
# the claim "it flags the over-policed wijken it has the data to see": power >= 0.8 to detect a
# doubling (cfg.evaluation.stigmatisation.intensity.power_target, intensity_power_ratio); measured 1.00 / 0.94
# sensitivity (mean predicted power 0.93 / 0.96) with no false discovery, 16 / 16 such wijken
POWERED_MIN_WIJKEN = 10
POWERED_MIN_SENSITIVITY = 0.75
POWERED_MAX_FALSE_DISCOVERY = 0.1
# observed sensitivity in the powered stratum against the mean power there (binomial sd ~0.06
# with ~16 wijken)
POWERED_MAX_SHORTFALL = 0.2


def _pooled_audit(tmp: Path, seed: int) -> dict:
    from lightgbm import LGBMClassifier

    cfg = load_config(None, ["synth.scale=0.1", f"synth.seed={seed}", "evaluation.bootstrap.reps=20"])
    console = Console(quiet=True)
    run_synth(cfg, tmp / "synth", console)
    run_features(cfg, tmp / "synth" / "raw", tmp / "work", None, console=console)
    frame = pd.read_parquet(tmp / "work" / "features.parquet")
    truth = pd.read_parquet(tmp / "synth" / "truth" / "areas.parquet")
    dates = sorted(frame["ref_date"].unique())
    parts, test_parts = [], []
    for band in BANDS:
        cols = list(feature_columns(band))
        rows = frame[frame["age_band"] == band]
        train = rows[rows["label"].notna() & (rows["ref_date"] <= dates[2])]
        model = LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=31, n_jobs=1, verbose=-1)
        model.fit(train[cols], train["label"].astype(int))
        risk = pd.Series(model.predict_proba(rows[cols])[:, 1], index=rows.index)
        parts.append(prepare_registration_rows(frame, band, risk, cfg.evaluation))
        test = rows[rows["label"].notna()]
        test = test[test["ref_date"] == test["ref_date"].max()].head(5000)
        test_parts.append(test.assign(score=risk.reindex(test.index).to_numpy(), label=test["label"].astype(int)))
    ecfg = cfg.evaluation
    scored = pd.concat(test_parts)
    result = evaluate_model(
        scored[["age_band", "wijk", "gemeente", "label", "score"]],
        cfg=ecfg,
        threshold=0.05,
        registrations=pd.concat(parts),
        truth_areas=truth,
    )
    return result.summary["registration_intensity"]


@pytest.mark.parametrize("seed", [1, 2])
def test_registration_intensity_recovers_the_over_policed_areas(tmp_path, seed):
    ri = _pooled_audit(tmp_path, seed)
    wijk = ri[f"{POOLED}/wijk"]["truth"]
    gemeente = ri[f"{POOLED}/gemeente"]["truth"]
    assert wijk["n_areas_truly_over_policed_auditable"] > 100
    assert wijk["recall_auditable"] >= WIJK_MIN_SENSITIVITY
    assert wijk["false_discovery"] <= WIJK_MAX_FALSE_DISCOVERY
    assert gemeente["recall_auditable"] >= GEMEENTE_MIN_SENSITIVITY
    n_flagged = gemeente["n_areas_flagged"]
    assert n_flagged > 0
    fdr_level = load_config(None, []).evaluation.alpha / 2.0
    assert binom.sf(gemeente["n_areas_flagged_not_elevated"] - 1, n_flagged, fdr_level) >= BINOMIAL_P
    n_below_cut = n_flagged - gemeente["n_areas_flagged_correctly"]
    random_share = 1.0 - gemeente["n_areas_truly_over_policed"] / gemeente["n_areas_compared"]
    assert binom.cdf(n_below_cut, n_flagged, random_share) <= BINOMIAL_P
    assert wijk["spearman_intensity_enforcement"] > 0.1
    assert np.isfinite(ri[f"{POOLED}/wijk"]["p_intensity_heterogeneity"])
    # it flags the over-policed wijken it has the data to see, and about as many as its power says
    assert wijk["n_areas_truly_over_policed_powered"] >= POWERED_MIN_WIJKEN
    assert wijk["recall_powered"] >= POWERED_MIN_SENSITIVITY
    assert wijk["false_discovery_powered"] <= POWERED_MAX_FALSE_DISCOVERY
    assert wijk["recall_powered"] >= wijk["mean_power_truly_over_policed_powered"] - POWERED_MAX_SHORTFALL
