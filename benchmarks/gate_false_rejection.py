"""False-rejection rate of the promotion gate on models that are calibrated by construction.

Each replication draws a test set shaped like one age band of the demo (sizes, group shares,
prevalence): risks that differ between groups, labels Bernoulli(risk), so the model IS
calibrated in every group and intersection. It runs the fairness audit (calibration) and the
gate with the default settings (attributes sex, migration background, income group,
single-parent household, intersections of two) and counts how often the gate rejects. A sound
gate rejects at most ``alpha`` (5 %) of these models.

Runs against whatever ``evaluation`` package is first on the path, so the same script measures
the gate before and after a change::

    PYTHONPATH=$PWD nice -n 10 /work/venv/bin/python benchmarks/gate_false_rejection.py --reps 200
    PYTHONPATH=/path/to/old/checkout nice -n 10 /work/venv/bin/python benchmarks/gate_false_rejection.py --reps 200

Prints one JSON line: rejections, replications, rate and its exact (Clopper-Pearson) 95 %
interval, and the most frequent rejected group.
"""

from __future__ import annotations

import argparse
import collections
import json
import time

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.config import BootstrapConfig, EvaluationConfig, FairnessConfig
from evaluation.fairness import audit_fairness
from evaluation.gates import audit_gates

ATTRIBUTES = ("sex", "migration_group", "income_group", "single_parent")


def calibrated_world(seed: int, n: int = 40_000, prevalence: float = 0.01, factor: float = 1.0) -> pd.DataFrame:
    """A scored test set whose scores are calibrated in every group by construction.

    Group shares follow the synthetic population roughly (migration background 75 / 10 / 15 %,
    income quintiles, 20 % single-parent households); the risk depends on the groups and on an
    individual factor, and the label is drawn Bernoulli(risk), so observed / expected is 1 in
    expectation in every group and intersection. ``factor`` != 1 breaks calibration on purpose
    (the true risk of young people with a non-European migration background is ``factor`` times
    their score): then the rate measured is the gate's power to see that.
    """
    rng = np.random.default_rng(seed)
    sex = rng.choice(["M", "V"], n)
    mig = rng.choice(["nederland", "europa", "buiten_europa"], n, p=[0.75, 0.10, 0.15])
    income = rng.integers(1, 6, n)
    single = (rng.random(n) < 0.12 + 0.05 * (5 - income)).astype(int)
    logit = (
        np.log(prevalence / (1 - prevalence))
        - 0.4
        + 0.5 * (sex == "M")
        + 0.3 * (mig == "buiten_europa")
        + 0.15 * (3 - income)
        + 0.4 * single
        + rng.normal(0.0, 0.9, n)
    )
    risk = 1.0 / (1.0 + np.exp(-logit))
    truth = np.where(mig == "buiten_europa", np.minimum(factor * risk, 1.0), risk)
    y = (rng.random(n) < truth).astype(int)
    return pd.DataFrame(
        {"label": y, "score": risk, "sex": sex, "migration_group": mig, "income_group": income, "single_parent": single}
    )


def gate_rejects(frame: pd.DataFrame, cfg: EvaluationConfig) -> tuple[bool, list[str]]:
    """Whether the gate rejects this calibrated model, and the reasons."""
    audit = audit_fairness(
        frame,
        label="label",
        score="score",
        threshold=float(np.quantile(frame["score"], 0.95)),
        groups=list(ATTRIBUTES),
        cfg=cfg,
        metrics=("calibration",),
    )
    verdict = audit_gates(cfg=cfg, fairness={"band": audit}, league_findings=[])
    return (not verdict.passed), list(verdict.reasons)


def false_rejection_rate(
    reps: int, *, n: int, prevalence: float, bootstrap_reps: int, seed0: int = 0, factor: float = 1.0
) -> dict:
    """Run ``reps`` replications; the rejection rate with its exact 95 % interval (the false
    rejection rate when ``factor`` is 1, the power otherwise)."""
    cfg = EvaluationConfig(
        bootstrap=BootstrapConfig(reps=bootstrap_reps), fairness=FairnessConfig(attributes=ATTRIBUTES)
    )
    rejected = 0
    reasons: collections.Counter[str] = collections.Counter()
    for r in range(reps):
        bad, why = gate_rejects(calibrated_world(seed0 + r, n=n, prevalence=prevalence, factor=factor), cfg)
        rejected += bad
        for w in why[:1]:
            reasons[w.split(" is ")[0].split(": ")[-1][:80]] += 1
    lo = stats.beta.ppf(0.025, rejected, reps - rejected + 1) if rejected else 0.0
    hi = stats.beta.ppf(0.975, rejected + 1, reps - rejected) if rejected < reps else 1.0
    return {
        "replications": reps,
        "rejections": rejected,
        "rate": rejected / reps,
        "rate_ci95": [round(float(lo), 4), round(float(hi), 4)],
        "n": n,
        "prevalence": prevalence,
        "factor": factor,
        "bootstrap_reps": bootstrap_reps,
        "top_reasons": reasons.most_common(3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=40_000)
    ap.add_argument("--prevalence", type=float, default=0.01)
    ap.add_argument("--bootstrap-reps", type=int, default=100, help="the demo's evaluation.bootstrap.reps")
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--factor", type=float, default=1.0, help="!= 1: miscalibrate one protected group (power)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = false_rejection_rate(
        args.reps,
        n=args.n,
        prevalence=args.prevalence,
        bootstrap_reps=args.bootstrap_reps,
        seed0=args.seed0,
        factor=args.factor,
    )
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
