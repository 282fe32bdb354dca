"""Mutual Information Gap (Chen et al. 2018), as dlib computes it (``mig.py``).

On ``num_train`` points (codes ``z``, factors ``v``), with the codes discretised into
``num_bins`` equal-width bins per dimension:

    m[i, j] = I(z_i; v_j),   H_j = H(v_j)   (empirical, nats)
    MIG = mean_j (m_(1)j - m_(2)j) / H_j

where ``m_(1)j >= m_(2)j`` are the two largest entries of column ``j``. Factors with more than
``num_bins`` values are merged by the discretiser, so even a perfect code scores below 1
(0.8957 on the dSprites grid).

Defined values where dlib fails (each with a :class:`~dislab.metrics._utils.MetricWarning`):
a single code dimension compares against 0 (dlib indexes out of range); a factor with zero
entropy is left out of the mean (dlib divides by zero); constant codes give MIG = 0.
"""

from __future__ import annotations

import numpy as np

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    MetricData,
    RepresentationFn,
    Sample,
    constant_dims,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    sample_splits,
    warn,
)
from dislab.metrics.registry import Param, register


def mutual_info_gap(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> float:
    """MIG of continuous ``codes [N, D]`` against discrete ``factors [N, K]`` (module doc)."""
    if constant_dims(codes).all():
        warn("mig", "all code dimensions are constant; MIG = 0")
    m = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    entropy = discrete_entropy(factors)
    if m.shape[0] == 1:
        warn("mig", "a single code dimension: the gap is taken to a second code with MI 0")
        m = np.vstack([m, np.zeros_like(m)])
    top_two = np.sort(m, axis=0)[::-1][:2]
    informative = entropy > 0
    if not informative.all():
        warn("mig", f"factors {np.flatnonzero(~informative).tolist()} are constant; left out")
    if not informative.any():
        return 0.0
    gap = top_two[0] - top_two[1]
    return float(np.mean(gap[informative] / entropy[informative]))


def mig_from_samples(samples: list[Sample], rng, *, num_bins: int = 20) -> dict[str, float]:
    (train,) = samples
    return {"discrete_mig": mutual_info_gap(train.codes, train.factors, num_bins)}


@register(
    "mig",
    consumes="samples",
    sample_sizes=("num_train",),
    from_samples=mig_from_samples,
    params={
        "num_train": Param(10_000, minimum=1),
        "batch_size": Param(16, minimum=1),
        "num_bins": Param(20, minimum=2),
    },
)
def mig(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: int = 10_000,
    batch_size: int = 16,
    num_bins: int = 20,
) -> dict[str, float]:
    """Mutual Information Gap on a 20-bin histogram discretisation (key ``discrete_mig``).

    Draws ``num_train`` points in chunks of ``batch_size`` (dlib's RNG order); see the module
    docstring for the formula and the defined values of degenerate cases.
    """
    rng = make_rng(rng)
    samples = sample_splits(
        data, representation_fn, [num_train], rng, batch_size=batch_size, metric="mig"
    )
    return mig_from_samples(samples, rng, num_bins=num_bins)
