"""Interventional Robustness Score (IRS; Suter et al. 2019), as dlib's ``irs``
(``evaluation/metrics/irs.py``; not one of the paper's study metrics).

For code dimension ``l`` and factor ``i`` the IRS matrix is

    IRS[l, i] = 1 - mean_v q_p(|z_l - E[z_l | g_i = v]|  over points with g_i = v) / maxdev_l

where ``v`` runs over the distinct values of the (20-bin histogram-discretised) factor,
``q_p`` is the ``diff_quantile`` percentile within that group (dlib's sample config uses
0.99; the paper's version is 1.0, the maximum) and ``maxdev_l = max_n |z_nl - mean(z_l)|``.
A dimension's score is ``max_i IRS[l, i]`` (its "parent" factor is the argmax), and
``IRS = sum_l maxdev_l score_l / sum_l maxdev_l``. Dimensions with zero variance are dropped
first; if none is left, IRS = 0 (with a warning).

dlib bug kept in parity mode: ``num_active_dims`` is the *sum of the values* of the active
code matrix, not the number of active dimensions. ``fix_num_active_dims=True`` reports the
count.
"""

from __future__ import annotations

import numpy as np

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    MetricData,
    RepresentationFn,
    Sample,
    histogram_discretize,
    sample_splits,
    warn,
)
from dislab.metrics.registry import Param, register

NAME = "irs"


def irs_matrix(
    factors: np.ndarray, codes: np.ndarray, diff_quantile: float = 0.99
) -> tuple[np.ndarray, np.ndarray]:
    """``(IRS matrix [D, K], maxdev [D])`` of discrete ``factors [N, K]`` and ``codes [N, D]``.

    Every code column must vary (``maxdev > 0``); drop constant columns first.
    """
    if not 0.0 <= diff_quantile <= 1.0:
        raise ValueError(f"{NAME}: diff_quantile must lie in [0, 1], got {diff_quantile}")
    max_deviations = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
    cum_deviations = np.zeros((codes.shape[1], factors.shape[1]))
    for i, factor in enumerate(factors.T):
        values = np.unique(factor)
        for value in values:
            group = codes[factor == value]
            deviation = np.abs(group - group.mean(axis=0))
            cum_deviations[:, i] += np.percentile(deviation, diff_quantile * 100.0, axis=0)
        cum_deviations[:, i] /= len(values)
    return 1.0 - cum_deviations / max_deviations[:, None], max_deviations


def irs_score(matrix: np.ndarray, max_deviations: np.ndarray) -> float:
    """``max_i IRS[l, i]`` averaged over ``l`` with weights ``maxdev_l`` (plain mean if all 0)."""
    per_dim = matrix.max(axis=1)
    if np.sum(max_deviations) > 0.0:
        return float(np.average(per_dim, weights=max_deviations))
    return float(np.mean(per_dim))


def irs_from_samples(
    samples: list[Sample],
    rng: Rng,
    *,
    diff_quantile: float = 0.99,
    num_bins: int = 20,
    fix_num_active_dims: bool = False,
) -> dict[str, float]:
    """The scores of :func:`irs` for its one sample set (``rng`` is unused)."""
    (train,) = samples
    return irs_scores(
        train.factors,
        train.codes,
        diff_quantile=diff_quantile,
        num_bins=num_bins,
        fix_num_active_dims=fix_num_active_dims,
    )


@register(
    NAME,
    consumes="samples",
    sample_sizes=("num_train",),
    from_samples=irs_from_samples,
    params={
        "diff_quantile": Param(0.99, minimum=0.0, maximum=1.0),
        "num_train": Param(10000, minimum=1),
        "batch_size": Param(16, minimum=1),
        "num_bins": Param(20, minimum=2),
        "fix_num_active_dims": Param(False),
    },
)
def irs(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    diff_quantile: float = 0.99,
    num_train: int = 10000,
    batch_size: int = 16,
    num_bins: int = 20,
    fix_num_active_dims: bool = False,
) -> dict[str, float]:
    """Interventional Robustness Score: how little each code moves when other factors change.

    Keys (dlib's): ``IRS``, ``num_active_dims`` (dlib's sum of active code values unless
    ``fix_num_active_dims``). Settings of dlib's ``irs.gin``: 10,000 points in chunks of 16,
    factors discretised into 20 histogram bins, ``diff_quantile=0.99``.
    """
    rng = make_rng(rng)
    samples = sample_splits(
        data, representation_fn, [num_train], rng, batch_size=batch_size, metric=NAME
    )
    return irs_from_samples(
        samples,
        rng,
        diff_quantile=diff_quantile,
        num_bins=num_bins,
        fix_num_active_dims=fix_num_active_dims,
    )


def irs_scores(
    factors: np.ndarray,
    codes: np.ndarray,
    *,
    diff_quantile: float = 0.99,
    num_bins: int = 20,
    fix_num_active_dims: bool = False,
) -> dict[str, float]:
    """The scores of :func:`irs` for already sampled ``factors [N, K]`` and ``codes [N, D]``."""
    active = codes[:, np.var(codes, axis=0) > 0.0]
    num_dropped = codes.shape[1] - active.shape[1]
    if num_dropped:
        warn(NAME, f"{num_dropped} of {codes.shape[1]} code dimensions are constant and dropped")
    num_active = active.shape[1] if fix_num_active_dims else float(np.sum(active))
    if not active.any():
        return {"IRS": 0.0, "num_active_dims": float(num_active)}
    matrix, max_deviations = irs_matrix(
        histogram_discretize(factors, num_bins), active, diff_quantile
    )
    return {"IRS": irs_score(matrix, max_deviations), "num_active_dims": float(num_active)}
