"""Unsupervised scores of a code: Gaussian total correlation, Wasserstein dependency, mean MI.

dlib's ``unsupervised_metrics`` (``evaluation/metrics/unsupervised_metrics.py``). The factors
are sampled (to replay dlib's RNG draws) but ignored. With ``Sigma`` the unbiased covariance
of the codes (``D x D``) and
``S = diag(Sigma)``:

- ``gaussian_total_correlation = 1/2 (sum_i log Sigma_ii - log det Sigma)``, the KL divergence
  from ``N(0, Sigma)`` to ``N(0, S)``;
- ``gaussian_wasserstein_correlation = 2 tr Sigma - 2 tr sqrt(S Sigma)``, the squared
  2-Wasserstein distance between the same two Gaussians (``tr S = tr Sigma``, and ``S Sigma``
  has the eigenvalues of ``S^1/2 Sigma S^1/2``); ``..._norm`` divides it by ``tr Sigma``;
- ``mutual_info_score``: the mean off-diagonal entry of the ``D x D`` matrix of mutual
  information (nats) between the 20-bin histogram-discretised code dimensions.

Degenerate codes. A constant code dimension is independent of every other one, so it adds
nothing to either Gaussian score; it is left out of them (with a :class:`MetricWarning`).
dlib returned NaN for the total correlation there (``log 0 - log 0``) and a Wasserstein
value carrying ``sqrtm``'s round-off on the singular matrix; other values are unchanged. Named
options fix dlib's two numerical defects (both off by default, for parity):

- ``fix_singular_covariance``: collinear (non-constant) dimensions make ``Sigma`` singular;
  dlib's total correlation is then ``+inf`` when the determinant is exactly 0 and a large
  finite number (~18 nats) when round-off hides it. The fix floors the eigenvalues of the
  correlation matrix at float64 epsilon, so both cases give the same finite cap
  (``-1/2 log eps = 18.0`` nats per degenerate direction).
- ``fix_complex_sqrtm``: dlib takes ``scipy.linalg.sqrtm`` of the non-symmetric ``S Sigma``,
  which can come out complex; parity mode keeps its real part. The fix uses the symmetric
  eigenvalues of ``S^1/2 Sigma S^1/2`` (clipped at 0): real by construction.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    MetricData,
    RepresentationFn,
    Sample,
    constant_dims,
    discrete_mutual_info,
    histogram_discretize,
    sample_splits,
    warn,
)
from dislab.metrics.registry import Param, register

NAME = "unsupervised"


def gaussian_total_correlation(cov: np.ndarray, *, fix_singular: bool = False) -> float:
    """Total correlation of ``N(0, cov)``: ``1/2 (sum_i log cov_ii - log det cov)``, nats.

    Parity (dlib): ``log det`` from ``numpy.linalg.slogdet``, so an exactly singular ``cov``
    gives ``+inf``. ``fix_singular=True`` computes ``-1/2 log det R`` of the correlation matrix
    ``R`` with its eigenvalues floored at float64 epsilon (finite for any singular ``cov``
    with a positive diagonal). Examples: ``I -> 0``; ``[[1, .9], [.9, 1]] -> -1/2 log 0.19``.
    """
    cov = _check_cov(cov)
    if fix_singular:
        scale = 1.0 / np.sqrt(np.diag(cov))
        eig = np.linalg.eigvalsh(cov * scale[:, None] * scale[None, :])
        return float(-0.5 * np.sum(np.log(np.maximum(eig, np.finfo(np.float64).eps))))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1]))


def gaussian_wasserstein_correlation(cov: np.ndarray, *, fix_complex: bool = False) -> float:
    """Squared W2 distance between ``N(0, cov)`` and ``N(0, diag cov)``.

    ``2 tr cov - 2 tr sqrt(S cov)`` with ``S = diag(cov)``. Parity (dlib): the matrix square
    root is ``scipy.linalg.sqrtm`` of ``cov * S[:, None]`` and only its real part is kept.
    ``fix_complex=True`` uses ``tr sqrt(S^1/2 cov S^1/2) = sum_k sqrt(max(lambda_k, 0))``
    from the symmetric eigenvalues. Examples: ``I -> 0``; ``[[1, .9], [.9, 1]] -> 0.610735``.
    """
    cov = _check_cov(cov)
    diag = np.diag(cov)
    if fix_complex:
        root = np.sqrt(diag)
        eig = np.linalg.eigvalsh(cov * root[:, None] * root[None, :])
        trace_sqrt = float(np.sum(np.sqrt(np.maximum(eig, 0.0))))
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
            root = scipy.linalg.sqrtm(cov * diag[:, None])
        if caught:
            warn(NAME, f"sqrtm: {caught[0].message} fix_complex_sqrtm=True avoids sqrtm")
        trace_sqrt = float(np.real(np.trace(root)))
    return float(2.0 * np.trace(cov) - 2.0 * trace_sqrt)


def mean_pairwise_mutual_info(discrete_codes: np.ndarray) -> float:
    """Mean mutual information (nats) over the ordered pairs of distinct columns.

    ``sum_{i != j} I(c_i; c_j) / (D^2 - D)`` for discrete codes ``[N, D]``; ``D`` must be >= 2.
    """
    num_codes = discrete_codes.shape[1]
    if num_codes < 2:
        raise ValueError(f"mean pairwise mutual information needs >= 2 dimensions, got {num_codes}")
    matrix = discrete_mutual_info(discrete_codes, discrete_codes)
    np.fill_diagonal(matrix, 0.0)
    return float(np.sum(matrix) / (num_codes**2 - num_codes))


def _check_cov(cov: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ValueError(f"covariance must be a non-empty square matrix, got shape {cov.shape}")
    return cov


def unsupervised_from_samples(
    samples: list[Sample],
    rng: Rng,
    *,
    num_bins: int = 20,
    fix_singular_covariance: bool = False,
    fix_complex_sqrtm: bool = False,
) -> dict[str, float]:
    """The scores of :func:`unsupervised_metrics` for its one sample set (``rng`` is unused)."""
    (train,) = samples
    return unsupervised_scores(
        train.codes,
        num_bins=num_bins,
        fix_singular_covariance=fix_singular_covariance,
        fix_complex_sqrtm=fix_complex_sqrtm,
    )


@register(
    NAME,
    consumes="samples",
    sample_sizes=("num_train",),
    from_samples=unsupervised_from_samples,
    params={
        "num_train": Param(10000, minimum=2),  # a covariance
        "batch_size": Param(16, minimum=1),
        "num_bins": Param(20, minimum=2),
        "fix_singular_covariance": Param(False),
        "fix_complex_sqrtm": Param(False),
    },
)
def unsupervised_metrics(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: int = 10000,
    batch_size: int = 16,
    num_bins: int = 20,
    fix_singular_covariance: bool = False,
    fix_complex_sqrtm: bool = False,
) -> dict[str, float]:
    """Unsupervised scores: Gaussian total correlation, Wasserstein dependency, mean pairwise MI.

    Keys (dlib's): ``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
    ``gaussian_wasserstein_correlation_norm``, ``mutual_info_score``. Study settings:
    10,000 points drawn in chunks of 16, 20 bins. Constant dimensions are left out of the
    Gaussian scores and give 0 when every dimension is constant; a one-dimensional code
    has ``mutual_info_score = 0``; both with a warning. See the module docstring for the
    ``fix_*`` options.
    """
    rng = make_rng(rng)
    samples = sample_splits(
        data, representation_fn, [num_train], rng, batch_size=batch_size, metric=NAME
    )
    return unsupervised_from_samples(
        samples,
        rng,
        num_bins=num_bins,
        fix_singular_covariance=fix_singular_covariance,
        fix_complex_sqrtm=fix_complex_sqrtm,
    )


def unsupervised_scores(
    codes: np.ndarray,
    *,
    num_bins: int = 20,
    fix_singular_covariance: bool = False,
    fix_complex_sqrtm: bool = False,
) -> dict[str, float]:
    """The scores of :func:`unsupervised_metrics` for already sampled ``codes [N, D]``."""
    scores = dict.fromkeys(
        (
            "gaussian_total_correlation",
            "gaussian_wasserstein_correlation",
            "gaussian_wasserstein_correlation_norm",
        ),
        0.0,
    )
    constant = constant_dims(codes)
    if constant.any():
        warn(
            NAME,
            f"{int(constant.sum())} of {codes.shape[1]} code dimensions are constant; "
            "they are left out of the Gaussian scores",
        )
    varying = codes[:, ~constant]
    if varying.shape[1] > 0:
        cov = np.atleast_2d(np.cov(varying, rowvar=False))
        total_correlation = gaussian_total_correlation(cov, fix_singular=fix_singular_covariance)
        if not np.isfinite(total_correlation):
            warn(
                NAME,
                "the code covariance is singular (collinear dimensions), so the Gaussian "
                "total correlation is infinite; fix_singular_covariance=True caps it",
            )
        wasserstein = gaussian_wasserstein_correlation(cov, fix_complex=fix_complex_sqrtm)
        scores["gaussian_total_correlation"] = total_correlation
        scores["gaussian_wasserstein_correlation"] = wasserstein
        scores["gaussian_wasserstein_correlation_norm"] = wasserstein / float(np.trace(cov))
    if codes.shape[1] < 2:
        warn(NAME, "a one-dimensional code has no pairs; mutual_info_score is 0")
        scores["mutual_info_score"] = 0.0
    else:
        scores["mutual_info_score"] = mean_pairwise_mutual_info(
            histogram_discretize(codes, num_bins)
        )
    return scores
