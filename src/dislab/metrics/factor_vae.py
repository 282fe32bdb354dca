"""FactorVAE score (Kim & Mnih 2018), as dlib computes it (``factor_vae.py``).

1. Global variances ``g = var(z, ddof=1)`` of ``num_variance_estimate`` codes (dlib draws
   them with one ``sample_observations`` call). Dimensions are *active* when
   ``sqrt(g) >= threshold`` (study: 0.05).
2. One vote: ``k = randint(K)``; ``batch_size`` factor rows share one value of factor ``k``;
   the vote goes to ``argmin_i var(z_i, ddof=1) / g_i`` over the active dimensions.
3. ``num_train`` votes give the majority-vote classifier ``c(i) = argmax_k votes[k, i]``;
   accuracy = ``sum_i votes[c(i), i] / sum votes`` on those votes (``train_accuracy``) and on
   ``num_eval`` fresh votes (``eval_accuracy``).

dlib's quirks, kept by default, each with an option that fixes it:

- ``prune_on="std"``: the threshold applies to the standard deviation, although the paper
  speaks of the variance; ``prune_on="variance"`` compares ``g`` itself.
- ``count_active_dims=False``: ``num_active_dims`` is the code size ``D`` (dlib reports the
  length of the mask); ``True`` reports the number of active dimensions.

Votes are recorded against the absolute code index (dlib: the index inside the active subset);
the accuracies are the same. Constant code dimensions are never active (dlib would divide
0 by 0 when ``threshold`` is 0). With no active dimension all scores are 0, with a warning.
The ~1M encodings are made in large batches; the RNG draws match dlib's one for one.
"""

from __future__ import annotations

import numpy as np

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    Encoder,
    MetricData,
    RepresentationFn,
    check_choice,
    draw_int,
    encode_blocks,
    warn,
)
from dislab.metrics.registry import Param, register

PRUNE_ON = ("std", "variance")


def _votes(data, encoder, rng, num_votes, batch_size, global_var, active) -> np.ndarray:
    """``votes [K, D]``: how often fixing factor ``k`` made code ``i`` the least variable."""

    def batches():
        for _ in range(num_votes):
            k = draw_int(rng, data.num_factors)
            factors = data.sample_factors(batch_size, rng)
            factors[:, k] = factors[0, k]
            yield k, data.sample_observations_from_factors(factors, rng)

    active_index = np.flatnonzero(active)
    votes = np.zeros((data.num_factors, len(global_var)), dtype=np.int64)
    for k, codes in encode_blocks(encoder, batches()):
        local_var = np.var(codes, axis=0, ddof=1)
        votes[k, active_index[np.argmin(local_var[active] / global_var[active])]] += 1
    return votes


def _majority_accuracy(votes: np.ndarray, classifier: np.ndarray) -> float:
    return float(votes[classifier, np.arange(votes.shape[1])].sum() / votes.sum())


@register(
    "factor_vae",
    consumes="observations",
    params={
        "batch_size": Param(64, minimum=2),  # variances with ddof=1
        "num_train": Param(10_000, minimum=1),
        "num_eval": Param(5_000, minimum=1),
        "num_variance_estimate": Param(10_000, minimum=2),
        "threshold": Param(0.05, minimum=0.0),
        "prune_on": Param("std", choices=PRUNE_ON),
        "count_active_dims": Param(False),
    },
)
def factor_vae(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    threshold: float = 0.05,
    prune_on: str = "std",
    count_active_dims: bool = False,
) -> dict[str, float]:
    """FactorVAE score: majority-vote accuracy of 'which factor was fixed' (module doc).

    Keys: ``train_accuracy``, ``eval_accuracy``, ``num_active_dims``.
    """
    check_choice("factor_vae", "prune_on", prune_on, PRUNE_ON)
    rng = make_rng(rng)
    encoder = Encoder(representation_fn, "factor_vae")
    global_var = np.var(
        encoder(data.sample_observations(num_variance_estimate, rng)), axis=0, ddof=1
    )
    spread = np.sqrt(global_var) if prune_on == "std" else global_var
    active = (spread >= threshold) & (global_var > 0)
    if not active.any():
        warn("factor_vae", f"no code dimension has {prune_on} >= {threshold}; all scores are 0")
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}

    train_votes = _votes(data, encoder, rng, num_train, batch_size, global_var, active)
    classifier = np.argmax(train_votes, axis=0)
    eval_votes = _votes(data, encoder, rng, num_eval, batch_size, global_var, active)
    return {
        "train_accuracy": _majority_accuracy(train_votes, classifier),
        "eval_accuracy": _majority_accuracy(eval_votes, classifier),
        "num_active_dims": int(active.sum()) if count_active_dims else len(active),
    }
