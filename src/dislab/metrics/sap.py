"""SAP score, Separated Attribute Predictability (Kumar et al. 2018), as dlib computes it.

A score matrix ``S [D, K]`` says how well code ``i`` alone predicts factor ``j``;
``SAP = mean_j (S_(1)j - S_(2)j)``, the mean gap between the two best codes per factor.

- Discrete factors (the study, ``continuous_factors=False``): ``S_ij`` is the test accuracy
  of ``LinearSVC(C=0.01, class_weight="balanced")`` trained on the single raw feature
  ``code_i`` to predict factor ``j`` (no scaling, accuracies not chance-corrected). The SVM
  objective is solved exactly by the primal solver (see
  :func:`dislab.metrics._utils.linear_svc`; 0.20's unseeded dual solver only approximated
  it); the seed drawn from ``rng`` after sampling is passed on for completeness. Even a perfect
  code scores low (about 0.23 on the dSprites grid): one linear feature cannot separate many
  classes.
- Continuous factors: ``S_ij = cov(z_i, y_j)^2 / (var(z_i) var(y_j))`` (ddof 1), 0 when
  ``var(z_i) <= 1e-12``.

With a single code dimension the gap is taken to 0 (dlib fails). Constant codes give
SAP = 0 in continuous mode and chance-level accuracies (so a gap near 0) in discrete mode,
with a warning.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    MetricData,
    RepresentationFn,
    Sample,
    constant_dims,
    draw_seed,
    linear_svc,
    sample_splits,
    warn,
)
from dislab.metrics.registry import N_JOBS, TRAIN_TEST_SPLITS, Param, register


def top_two_gap(matrix: np.ndarray) -> float:
    """``mean_j`` of the largest minus the second largest entry of column ``j``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[0] == 1:
        warn("sap", "a single code dimension: the gap is taken to a second code scoring 0")
        matrix = np.vstack([matrix, np.zeros_like(matrix)])
    ordered = np.sort(matrix, axis=0)
    return float(np.mean(ordered[-1] - ordered[-2]))


def continuous_score_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``S_ij = cov(z_i, y_j)^2 / (var(z_i) var(y_j))``, 0 where ``var(z_i) <= 1e-12``."""
    z = codes - codes.mean(axis=0)
    y = factors - factors.mean(axis=0)
    n = len(codes) - 1
    cov = z.T @ y / n
    var_z, var_y = np.sum(z * z, axis=0) / n, np.sum(y * y, axis=0) / n
    denominator = np.outer(var_z, var_y)
    ok = (var_z > 1e-12)[:, None] & (denominator > 0)
    return np.divide(cov**2, denominator, out=np.zeros_like(cov), where=ok)


def _svm_accuracy(x_train, y_train, x_test, y_test, seed: int) -> float:
    model = linear_svc(seed).fit(x_train[:, None], y_train)
    return float(np.mean(model.predict(x_test[:, None]) == y_test))


def discrete_score_matrix(train: Sample, test: Sample, seed: int, n_jobs: int = 1) -> np.ndarray:
    """``S_ij``: test accuracy of a one-feature linear SVM from code ``i`` to factor ``j``."""
    num_codes, num_factors = train.codes.shape[1], train.factors.shape[1]
    scores = Parallel(n_jobs=n_jobs)(
        delayed(_svm_accuracy)(
            train.codes[:, i], train.factors[:, j], test.codes[:, i], test.factors[:, j], seed
        )
        for i in range(num_codes)
        for j in range(num_factors)
    )
    return np.array(scores).reshape(num_codes, num_factors)


def sap_from_samples(
    samples: list[Sample], rng, *, continuous_factors=False, n_jobs=1
) -> dict[str, float]:
    train, test = samples
    if constant_dims(train.codes).all():
        warn("sap", "all code dimensions are constant; no code predicts any factor")
    if continuous_factors:
        matrix = continuous_score_matrix(train.codes, train.factors.astype(np.float64))
    else:
        matrix = discrete_score_matrix(train, test, draw_seed(rng), n_jobs=n_jobs)
    return {"SAP_score": top_two_gap(matrix)}


@register(
    "sap",
    consumes="samples",
    sample_sizes=("num_train", "num_test"),
    from_samples=sap_from_samples,
    params={
        **TRAIN_TEST_SPLITS,
        "continuous_factors": Param(False),
        "n_jobs": N_JOBS,
    },
)
def sap(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    batch_size: int = 16,
    continuous_factors: bool = False,
    n_jobs: int = 1,
) -> dict[str, float]:
    """SAP score: mean gap between the two best single-code predictors of each factor.

    Key: ``SAP_score``.
    """
    rng = make_rng(rng)
    samples = sample_splits(
        data, representation_fn, [num_train, num_test], rng, batch_size=batch_size, metric="sap"
    )
    return sap_from_samples(samples, rng, continuous_factors=continuous_factors, n_jobs=n_jobs)
