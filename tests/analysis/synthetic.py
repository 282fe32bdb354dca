"""A synthetic study table with a planted structure, shaped like ``dislab.study.load``'s.

Two datasets, two models (``beta_vae`` sweeping ``beta``, ``factor_vae`` sweeping ``gamma``)
with three strengths each, ten seeds. The planted truth:

- a quality ``q = position in the model's grid + 3 * model index`` (0..5, one value per
  configuration) determines BetaVAE, FactorVAE, MIG, DCI and SAP (plus noise of sd
  ``noise``); scores do not depend on the seed;
- DCI = MIG + small noise (a strongly correlated pair); Modularity is independent noise;
- sampled TC falls with the strength, mean TC rises with it;
- the training KL tracks ``q``; the reconstruction loss is independent noise;
- downstream: accuracy at 10,000 tracks ``q``; accuracy at 100 is an independent fraction of
  it, so sample efficiency is independent of every metric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DATASETS = ("alpha", "beta")
MODELS = {"beta_vae": ("beta", (1.0, 4.0, 16.0)), "factor_vae": ("gamma", (10.0, 30.0, 100.0))}
SEEDS = 10
LR = "mean.downstream_task_logistic_regression"


def planted_table(seed: int = 0, noise: float = 0.01, seeds: int = SEEDS,
                  datasets=DATASETS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for dataset in datasets:
        for m, (model, (column, strengths)) in enumerate(MODELS.items()):
            for position, strength in enumerate(strengths):
                for s in range(seeds):
                    rows.append(_row(len(rows), dataset, model, column, strength,
                                     position + 3 * m, s, noise, rng))
    table = pd.DataFrame(rows)
    order = ["model_num", "dataset", "model", "beta", "gamma", "seed", "state"]
    return table[order + sorted(set(table.columns) - set(order))]


def _row(model_num, dataset, model, column, strength, q, seed, noise, rng) -> dict:
    def near(value):
        return value + noise * rng.standard_normal()

    mig = near(q / 10)
    accuracy = near(0.5 + q / 20)
    return {
        "model_num": model_num, "dataset": dataset, "model": model, column: strength,
        "seed": seed, "state": "done",
        "mean.beta_vae.eval_accuracy": near(q),
        "mean.factor_vae.eval_accuracy": near(q),
        "mean.mig.discrete_mig": mig,
        "mean.dci.disentanglement": mig + noise * rng.standard_normal(),
        "mean.sap.SAP_score": near(q / 20),
        "mean.modularity.modularity_score": rng.random(),
        "sampled.unsupervised.gaussian_total_correlation": near(-np.log(strength)),
        "mean.unsupervised.gaussian_total_correlation": near(np.log(strength)),
        "train.kl_loss": near(q),
        "train.reconstruction_loss": rng.random(),
        f"{LR}.10000:mean_test_accuracy": accuracy,
        f"{LR}.100:mean_test_accuracy": accuracy * rng.uniform(0.3, 0.9),
    }
