"""Unsupervised Disentanglement Ranking (UDR; Duan et al. 2020), as dlib's ``udr_sklearn``.

UDR scores a *set* of models trained on the same data: a model whose informative latents
are recovered, one to one, by the other models' latents is likely disentangled.

1. ``num_data_points`` observations are drawn in chunks of ``batch_size`` (dlib's RNG
   order) and shared by all models. Each model gives its codes and its per-dimension KL
   divergence to the prior (mean over the points).
2. Each model's codes are standardised; dimensions with ``KL <= 0.01`` are zeroed (a
   threshold dlib hard-codes, independent of ``kl_filter_threshold``).
3. For each ordered pair ``(i, j)``, ``i != j``, a similarity matrix ``R [D_i, D_j]``:
   ``"lasso"`` (default): ``|W|`` of ``Lasso(alpha=0.1)`` regressing model j's codes on
   model i's; ``"spearman"``: ``|Spearman rho|`` of every pair of dimensions (NaN for a
   constant dimension, as scipy gives).
4. With ``filter_low_kl``, only rows/columns with ``KL > kl_filter_threshold`` are kept.
5. Pair score ``= 1/2 [mean_cols(max_col^2 / sum_col) + mean_rows(max_row^2 / sum_row)]``,
   each ratio that is NaN (an all-zero or NaN line) counting as 0.
6. ``model_scores[i] = median_{j != i} pair[j, i]``.

Output (dlib's keys; lists, not floats, since the scores are per model):
``model_scores`` ``[M]``, ``pairwise_disentanglement_scores`` ``[M, M, 1]`` and, with
``include_raw_correlations``, ``raw_correlations`` ``[M, M, D, D]``.

Representation functions: each of ``representation_fns`` maps observations ``[N, H, W, C]``
to either ``(codes [N, D], kl [D])`` (``kl`` the mean KL per dimension over the batch, as
dlib's ``dlib_udr`` built from the Gaussian encoder) or just ``codes [N, D]``, in which case
every dimension counts as informative (KL taken as +inf).

Defined values (with a :class:`MetricWarning`): a pair whose filtered matrix is empty (no
informative dimension; dlib crashed) scores 0; a model with constant codes has similarities
0, hence pair scores 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    ENCODE_BATCH_SIZE,
    MetricData,
    _chunk_sizes,
    check_choice,
    check_codes,
    constant_dims,
    warn,
)
from dislab.metrics.registry import Param, register

NAME = "udr"
CORRELATIONS = ("lasso", "spearman")
#: dlib zeroes the standardised codes of dimensions at or below this KL (hard-coded there).
ZERO_KL_THRESHOLD = 0.01


def relative_strength_disentanglement(corr: np.ndarray) -> float:
    """``1/2 [mean_cols(max^2 / sum) + mean_rows(max^2 / sum)]`` of a non-negative matrix.

    A line whose ratio is NaN (all zeros, or holding NaN) counts as 0. Examples:
    ``I -> 1``; all ones ``[3x3] -> 1/3``; zeros ``-> 0``.
    """
    corr = np.asarray(corr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_col = np.nan_to_num(corr.max(axis=0) ** 2 / corr.sum(axis=0), nan=0.0)
        per_row = np.nan_to_num(corr.max(axis=1) ** 2 / corr.sum(axis=1), nan=0.0)
    return float((np.mean(per_col) + np.mean(per_row)) / 2.0)


def lasso_correlation_matrix(codes_i: np.ndarray, codes_j: np.ndarray) -> np.ndarray:
    """``|coef|^T [D_i, D_j]`` of ``Lasso(alpha=0.1)`` predicting ``codes_j`` from ``codes_i``.

    Lasso's default cyclic coordinate descent is deterministic (dlib's ``random_state`` did
    nothing).
    """
    return np.abs(Lasso(alpha=0.1).fit(codes_i, codes_j).coef_).T


def spearman_correlation_matrix(codes_i: np.ndarray, codes_j: np.ndarray) -> np.ndarray:
    """``|Spearman rho| [D_i, D_j]`` between every pair of columns (NaN for a constant one)."""
    ranks_i = _standardise_columns(rankdata(codes_i, axis=0))
    ranks_j = _standardise_columns(rankdata(codes_j, axis=0))
    return np.abs(ranks_i.T @ ranks_j / len(codes_i))


def _standardise_columns(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x - x.mean(axis=0)) / np.where(std > 0, std, np.nan)


def udr_scores(
    codes: Sequence[np.ndarray],
    kls: Sequence[np.ndarray],
    *,
    correlation_matrix: str = "lasso",
    filter_low_kl: bool = True,
    include_raw_correlations: bool = True,
    kl_filter_threshold: float = 0.01,
) -> dict[str, Any]:
    """UDR of models given their ``codes [N, D]`` on shared points and ``kls [D]`` (module doc)."""
    check_choice(NAME, "correlation_matrix", correlation_matrix, CORRELATIONS)
    similarity = (
        lasso_correlation_matrix if correlation_matrix == "lasso" else spearman_correlation_matrix
    )
    for m, c in enumerate(codes):
        if constant_dims(c).all():
            warn(NAME, f"the codes of model {m} do not vary; its similarities are 0")
    reps = [
        StandardScaler().fit_transform(c) * (kl > ZERO_KL_THRESHOLD) for c, kl in zip(codes, kls)
    ]
    masks = [kl > kl_filter_threshold for kl in kls]
    num_models = len(reps)
    raw = np.zeros((num_models, num_models) + reps[0].shape[1:] * 2)
    pairwise = np.zeros((num_models, num_models, 1))
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            corr = raw[i, j] = similarity(reps[i], reps[j])
            if filter_low_kl:
                corr = corr[masks[i]][:, masks[j]]
            if corr.size == 0:
                warn(NAME, f"models {i} and {j} share no informative dimension; pair score 0")
                continue
            pairwise[i, j] = relative_strength_disentanglement(corr)
    scores: dict[str, Any] = {}
    if include_raw_correlations:
        scores["raw_correlations"] = raw.tolist()
    scores["pairwise_disentanglement_scores"] = pairwise.tolist()
    scores["model_scores"] = [
        float(np.median(np.delete(pairwise[:, i, 0], i))) for i in range(num_models)
    ]
    return scores


@register(
    NAME,
    consumes="models",
    params={
        "num_data_points": Param(1000, minimum=1),
        "batch_size": Param(10, minimum=1),
        "correlation_matrix": Param("lasso", choices=CORRELATIONS),
        "filter_low_kl": Param(True),
        "include_raw_correlations": Param(True),
        "kl_filter_threshold": Param(0.01, minimum=0.0),
    },
)
def udr(
    data: MetricData,
    representation_fns: Sequence[Callable[[np.ndarray], Any]],
    rng: Rng,
    *,
    num_data_points: int = 1000,
    batch_size: int = 10,
    correlation_matrix: str = "lasso",
    filter_low_kl: bool = True,
    include_raw_correlations: bool = True,
    kl_filter_threshold: float = 0.01,
) -> dict[str, Any]:
    """Unsupervised Disentanglement Ranking of several models trained on the same data.

    ``udr(data, [fn_1, ..., fn_M], rng, ...)``, ``M >= 2``; each ``fn`` returns
    ``(codes, kl)`` or ``codes`` (module docstring). Defaults: dlib's test configuration
    (1,000 points in chunks of 10), Lasso similarity, KL filter at 0.01.
    """
    fns = list(representation_fns) if not callable(representation_fns) else []
    if len(fns) < 2:
        raise ValueError(
            f"{NAME}: needs a list of at least 2 representation functions (one per model), "
            f"got {representation_fns!r}"
        )
    if num_data_points < 1 or batch_size < 1 or num_data_points % batch_size:
        raise ValueError(
            f"{NAME}: num_data_points ({num_data_points}) must be a positive multiple of "
            f"batch_size ({batch_size})"
        )
    codes, kls = _encode_models(data, fns, num_data_points, batch_size, make_rng(rng))
    dims = {c.shape[1] for c in codes}
    if len(dims) > 1:
        raise ValueError(f"{NAME}: all models must have the same code size, got {sorted(dims)}")
    return udr_scores(
        codes,
        kls,
        correlation_matrix=correlation_matrix,
        filter_low_kl=filter_low_kl,
        include_raw_correlations=include_raw_correlations,
        kl_filter_threshold=kl_filter_threshold,
    )


def _observation_blocks(
    data: MetricData, num_points: int, batch_size: int, rng: Rng
) -> Iterator[np.ndarray]:
    """dlib's chunks of ``batch_size`` observations, gathered into encoder-sized blocks."""
    pending: list[np.ndarray] = []
    rows = 0
    for n in _chunk_sizes(num_points, batch_size):
        pending.append(data.sample_observations(n, rng))
        rows += n
        if rows >= ENCODE_BATCH_SIZE:
            yield np.concatenate(pending)
            pending, rows = [], 0
    if pending:
        yield np.concatenate(pending)


def _encode_models(
    data: MetricData,
    fns: list[Callable[[np.ndarray], Any]],
    num_points: int,
    batch_size: int,
    rng: Rng,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every model's ``codes [N, D]`` and mean ``kl [D]`` on the same observations."""
    codes: list[list[np.ndarray]] = [[] for _ in fns]
    kl_sums: list[np.ndarray | float] = [0.0 for _ in fns]
    for block in _observation_blocks(data, num_points, batch_size, rng):
        for m, fn in enumerate(fns):
            block_codes, block_kl = _split_output(fn(block), len(block), m)
            codes[m].append(block_codes)
            kl_sums[m] = kl_sums[m] + block_kl * len(block)
    return [np.concatenate(c) for c in codes], [np.asarray(k) / num_points for k in kl_sums]


def _split_output(output: Any, num_rows: int, model: int) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, kl)`` of one model's output, validated; ``kl = inf`` when not given."""
    metric = f"{NAME} (model {model})"
    if isinstance(output, tuple):
        if len(output) != 2:
            raise ValueError(f"{metric}: expected (codes, kl), got a tuple of {len(output)}")
        codes = check_codes(output[0], num_rows, metric)
        kl = np.asarray(output[1], dtype=np.float64)
        if kl.shape != (codes.shape[1],) or not np.all(np.isfinite(kl)):
            raise ValueError(
                f"{metric}: kl must be {codes.shape[1]} finite values (one per code "
                f"dimension), got shape {kl.shape}"
            )
        return codes, kl
    codes = check_codes(output, num_rows, metric)
    return codes, np.full(codes.shape[1], np.inf)
