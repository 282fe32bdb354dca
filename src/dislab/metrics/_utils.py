"""Shared pieces of the metrics: sampling, encoding, discretisation, information, estimators.

Conventions (the transpose of dlib's, which keeps codes as ``(D, N)``):

- ``codes`` are float64 arrays ``[N, D]`` (one row per observation, one column per code
  dimension); ``factors`` are int64 arrays ``[N, K]`` of factor class indices.
- ``rng`` is a ``numpy.random.RandomState`` (replays dlib's draws exactly) or a
  ``numpy.random.Generator``; nothing here reads global random state.

Sampling replays dlib's RNG consumption (``generate_batch_factor_code``): the points are drawn
in chunks of ``batch_size`` (16 in the study); each chunk calls ``data.sample(n, rng)``, i.e.
the factors (one ``randint`` per factor) and then the observation noise. The representation
function does not touch ``rng``, so observations are gathered into large batches
(:data:`ENCODE_BATCH_SIZE` rows) before they are encoded; that changes speed, not values.

Pinned estimators: dlib relied on scikit-learn's defaults of its time (0.20); the factories
below spell those settings out so that the numbers do not drift with the installed version
(scikit-learn 0.22 switched ``LogisticRegression()`` from liblinear one-vs-rest to lbfgs
multinomial; later versions renamed GBT's ``deviance`` loss and changed ``LinearSVC``'s
``dual`` default). dlib built some of them without ``random_state``; here every estimator gets
a seed drawn from ``rng`` by :func:`draw_seed` *after* all data sampling, so the metric
data still match dlib's draw for draw and the fits are reproducible.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import mutual_info_score
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC

from dislab.data.base import Rng

RepresentationFn = Callable[[np.ndarray], np.ndarray]

#: ``sklearn_defaults``: whose scikit-learn defaults a classifier follows, 0.20's (the study's)
#: or the installed version's.
SKLEARN_DEFAULTS = ("0.20", "current")


@runtime_checkable
class MetricData(Protocol):
    """What the metrics use of their ``data`` argument.

    Every :class:`~dislab.data.GroundTruthData` is one; so is the code cache's
    :class:`~dislab.metrics.cache.StateIndexData`, whose observations are state indices.

    - ``num_factors``: the number ``K`` of latent factors;
    - ``sample_factors(n, rng)``: ``n`` uniform factor rows, int64 ``[n, K]``;
    - ``sample_observations_from_factors(factors, rng)``: one observation per row, in the
      form ``representation_fn`` takes;
    - ``sample(n, rng)``: ``(factors, observations)``, drawn by ``sample_factors`` and then
      ``sample_observations_from_factors`` (dlib's ``sample`` order; the metrics replay dlib's
      random stream through it); ``sample_observations(n, rng)``: its observations.
    """

    @property
    def num_factors(self) -> int: ...

    def sample_factors(self, n: int, rng: Rng) -> np.ndarray: ...

    def sample_observations_from_factors(self, factors: np.ndarray, rng: Rng) -> np.ndarray: ...

    def sample(self, n: int, rng: Rng) -> tuple[np.ndarray, np.ndarray]: ...

    def sample_observations(self, n: int, rng: Rng) -> np.ndarray: ...


#: Rows per call of the representation function (observations are gathered up to this).
ENCODE_BATCH_SIZE = 1024


class MetricWarning(UserWarning):
    """A metric met a degenerate input (e.g. constant codes) and returned its defined value."""


def warn(metric: str, message: str) -> None:
    warnings.warn(f"{metric}: {message}", MetricWarning, stacklevel=3)


def check_choice(metric: str, name: str, value: Any, valid: tuple) -> None:
    """Raise ``ValueError`` naming the metric and the valid values unless ``value in valid``."""
    if value not in valid:
        raise ValueError(
            f"{metric}: {name} must be one of {', '.join(map(str, valid))}; got {value!r}"
        )


# -- representation output -------------------------------------------------------------------
def check_codes(codes: Any, num_rows: int, metric: str) -> np.ndarray:
    """Validate one output of a representation function; return it as float64 ``[N, D]``.

    Raises ``ValueError`` naming ``metric`` and the shape seen when the output is not 2-D,
    has a row count other than ``num_rows``, is not numeric, or holds NaN/inf.
    """
    codes = np.asarray(codes)
    where = f"{metric}: representation_fn"
    if codes.ndim != 2:
        raise ValueError(
            f"{where} must return a 2-D array [N, D]; for {num_rows} observations it "
            f"returned shape {codes.shape}"
        )
    if codes.shape[0] != num_rows:
        raise ValueError(
            f"{where} returned {codes.shape[0]} rows (shape {codes.shape}) for "
            f"{num_rows} observations"
        )
    if codes.shape[1] == 0:
        raise ValueError(f"{where} returned codes with no dimensions (shape {codes.shape})")
    if not (np.issubdtype(codes.dtype, np.number) and not np.iscomplexobj(codes)):
        raise ValueError(f"{where} returned non-real dtype {codes.dtype} (shape {codes.shape})")
    codes = codes.astype(np.float64, copy=False)
    bad = ~np.isfinite(codes)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{where} returned {int(bad.sum())} non-finite values in output of shape "
            f"{codes.shape} (first at row {row}, dim {col}: {codes[row, col]})"
        )
    return codes


class Encoder:
    """Calls ``representation_fn`` on batches of at most ``batch_size`` rows and validates it.

    ``encoder(observations) -> float64 [N, D]``. The code size ``D`` must stay the same
    across calls.
    """

    def __init__(
        self, representation_fn: RepresentationFn, metric: str, batch_size: int = ENCODE_BATCH_SIZE
    ):
        if isinstance(representation_fn, Encoder):
            representation_fn = representation_fn.representation_fn
        if not callable(representation_fn):
            raise TypeError(
                f"{metric}: representation_fn must be callable, got {representation_fn!r}"
            )
        self.representation_fn = representation_fn
        self.metric = metric
        self.batch_size = int(batch_size)
        self.num_codes: int | None = None

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        parts = []
        for start in range(0, len(observations), self.batch_size):
            batch = observations[start : start + self.batch_size]
            codes = check_codes(self.representation_fn(batch), len(batch), self.metric)
            if self.num_codes is None:
                self.num_codes = codes.shape[1]
            elif codes.shape[1] != self.num_codes:
                raise ValueError(
                    f"{self.metric}: representation_fn returned {codes.shape[1]} dimensions "
                    f"(shape {codes.shape}) after returning {self.num_codes} before"
                )
            parts.append(codes)
        if not parts:
            raise ValueError(f"{self.metric}: no observations to encode")
        return np.concatenate(parts)


def encode_blocks(
    encoder: Encoder, blocks: Iterable[tuple[Any, np.ndarray]]
) -> Iterator[tuple[Any, np.ndarray]]:
    """Encode a stream of ``(tag, observations)`` blocks in large batches.

    Blocks are drawn lazily (so their RNG draws happen in stream order), gathered until
    ``encoder.batch_size`` rows are pending, encoded in one go and handed back one by one as
    ``(tag, codes)``. Only about one batch of observations is held in memory.
    """
    pending: list[tuple[Any, np.ndarray]] = []
    rows = 0

    def flush() -> Iterator[tuple[Any, np.ndarray]]:
        codes = encoder(np.concatenate([obs for _, obs in pending]))
        start = 0
        for tag, obs in pending:
            yield tag, codes[start : start + len(obs)]
            start += len(obs)

    for tag, obs in blocks:
        pending.append((tag, obs))
        rows += len(obs)
        if rows >= encoder.batch_size:
            yield from flush()
            pending, rows = [], 0
    if pending:
        yield from flush()


# -- sampling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """Encoded points: ``factors`` int64 ``[N, K]`` and ``codes`` float64 ``[N, D]``."""

    factors: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.factors)


def _chunk_sizes(num_points: int, batch_size: int) -> list[int]:
    full, rest = divmod(num_points, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def sample_codes(
    data: MetricData,
    representation_fn: RepresentationFn | Encoder,
    num_points: int,
    rng: Rng,
    *,
    batch_size: int = 16,
    metric: str = "metric",
) -> Sample:
    """``num_points`` i.i.d. points and their codes, drawn as dlib's ``generate_batch_factor_code``.

    Chunks of ``min(remaining, batch_size)`` points each call ``data.sample(n, rng)``; with a
    ``RandomState`` seeded like dlib's, the factors are identical to dlib's. The encoder is
    called on batches of :data:`ENCODE_BATCH_SIZE` rows regardless of ``batch_size``.
    """
    if (
        isinstance(num_points, bool)
        or not isinstance(num_points, int | np.integer)
        or num_points < 1
    ):
        raise ValueError(f"{metric}: number of points must be a positive int, got {num_points!r}")
    if batch_size < 1:
        raise ValueError(f"{metric}: batch_size must be >= 1, got {batch_size}")
    encoder = (
        representation_fn
        if isinstance(representation_fn, Encoder)
        else Encoder(representation_fn, metric)
    )
    chunks = (data.sample(n, rng) for n in _chunk_sizes(int(num_points), batch_size))
    factors, codes = zip(*encode_blocks(encoder, chunks))
    return Sample(np.concatenate(factors), np.concatenate(codes))


def sample_splits(
    data: MetricData,
    representation_fn: RepresentationFn | Encoder,
    sizes: Iterable[int],
    rng: Rng,
    *,
    batch_size: int = 16,
    metric: str = "metric",
) -> list[Sample]:
    """One :func:`sample_codes` call per size, in order (dlib: train set, then test set)."""
    encoder = (
        representation_fn
        if isinstance(representation_fn, Encoder)
        else Encoder(representation_fn, metric)
    )
    return [
        sample_codes(data, encoder, n, rng, batch_size=batch_size, metric=metric) for n in sizes
    ]


def draw_int(rng: Rng, high: int) -> int:
    """One uniform int in ``[0, high)``: dlib's ``rng.randint(high)`` (or ``rng.integers``)."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, high))
    return int(rng.randint(high))


def draw_seed(rng: Rng) -> int:
    """One int seed in ``[0, 2**31 - 1)`` from ``rng``: ``rng.randint(2**31 - 1)``.

    This is also the single draw scikit-learn 0.20's liblinear made from a ``RandomState``
    passed as ``random_state``. Seeds for estimators that dlib left unseeded are drawn after
    all data sampling, so the metric data still match dlib's.
    """
    return draw_int(rng, np.iinfo(np.int32).max)


# -- discretisation and information ----------------------------------------------------------
def histogram_discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Discretise each column of ``codes [N, D]`` into ``num_bins`` equal-width bins.

    dlib's ``histogram_discretizer``: per column, take the ``num_bins + 1`` edges of
    ``np.histogram(column, num_bins)`` over ``[min, max]`` and return
    ``np.digitize(column, edges[:-1])``, integers in ``1..num_bins`` (the maximum falls in the
    last bin; a constant column falls into a single bin).
    Example, 3 bins: ``[.1, .2, .3, .4, .5, .6] -> [1, 1, 2, 2, 3, 3]``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D [N, D], got shape {codes.shape}")
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], num_bins)
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information (nats) of every discrete code column and factor column.

    ``m[i, j] = I(code_i; factor_j)`` from the empirical joint distribution
    (``sklearn.metrics.mutual_info_score``), shape ``[D, K]``.
    """
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(
            f"codes [N, D] and factors [N, K] must have the same N, got {codes.shape}, "
            f"{factors.shape}"
        )
    m = np.empty((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            m[i, j] = mutual_info_score(factors[:, j], codes[:, i])
    return m


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Empirical entropy (nats) of each column of ``factors [N, K]``: ``H_j = I(y_j; y_j)``."""
    factors = np.asarray(factors)
    if factors.ndim != 2:
        raise ValueError(f"factors must be 2-D [N, K], got shape {factors.shape}")
    return np.array([mutual_info_score(y, y) for y in factors.T])


def constant_dims(codes: np.ndarray) -> np.ndarray:
    """Boolean mask of the code columns whose values are all equal."""
    return np.ptp(codes, axis=0) == 0


# -- pinned scikit-learn estimators -----------------------------------------------------------
def logistic_regression(seed: int = 0) -> OneVsRestClassifier:
    """``LogisticRegression()`` as scikit-learn 0.20 defined it: liblinear, one-vs-rest, C=1.

    L2 penalty, ``tol=1e-4``, ``max_iter=100``, intercept fitted (liblinear penalises it,
    ``intercept_scaling=1``). Recent scikit-learn runs liblinear on binary problems only, so
    the one-vs-rest scheme is an explicit ``OneVsRestClassifier``, as 0.20 did internally;
    its ``predict_proba`` normalises the per-class sigmoids like 0.20's ``ovr`` did. The
    primal liblinear solver (trust-region Newton) is deterministic; ``seed`` is passed on.
    """
    return OneVsRestClassifier(
        LogisticRegression(C=1.0, solver="liblinear", tol=1e-4, max_iter=100, random_state=seed)
    )


def logistic_regression_cv(seed: int = 0) -> OneVsRestClassifier:
    """dlib's ``logistic_regression_cv`` with scikit-learn 0.20's settings.

    ``LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5))`` (unshuffled contiguous folds, C grid
    ``logspace(-4, 4, 10)``, lbfgs, L2, ``max_iter=100``, accuracy scoring) with 0.20's
    one-vs-rest scheme: one binary cross-validated fit per class.
    """
    # Parameters that newer scikit-learn versions want set explicitly (older ones lack them).
    newer = _supported(LogisticRegressionCV, l1_ratios=(0.0,), use_legacy_attributes=False)
    return OneVsRestClassifier(
        LogisticRegressionCV(
            Cs=10,
            cv=KFold(n_splits=5),
            solver="lbfgs",
            max_iter=100,
            tol=1e-4,
            scoring="accuracy",
            random_state=seed,
            **newer,
        )
    )


def _supported(estimator: type, **kwargs: Any) -> dict[str, Any]:
    """The ``kwargs`` that ``estimator``'s constructor accepts in the installed version."""
    accepted = inspect.signature(estimator).parameters
    return {k: v for k, v in kwargs.items() if k in accepted}


def gradient_boosting(seed: int):
    """dlib's ``GradientBoostingClassifier()``: scikit-learn's defaults (100 stages, learning
    rate 0.1, depth 3, log-loss, all features, no subsampling), computed by
    :class:`~dislab.metrics._gbt.ExactGradientBoosting`, the same algorithm 9-10x faster.

    dlib left it unseeded; the seed only breaks ties between equally good splits of different
    features, as scikit-learn's ``random_state`` does. (Imported here: numba costs ~0.3 s to
    import, which ``import dislab.metrics`` need not pay.)
    """
    from dislab.metrics._gbt import ExactGradientBoosting

    return ExactGradientBoosting(seed)


def linear_svc(seed: int, C: float = 0.01) -> LinearSVC:
    """dlib's SAP classifier ``LinearSVC(C=0.01, class_weight="balanced")``, solved exactly.

    Squared hinge loss, L2 (intercept penalised), ``tol=1e-4``, one-vs-rest. scikit-learn
    0.20 solved it with the shuffling dual coordinate descent (``dual=True``), which often
    stops at ``max_iter`` before the optimum on these one-feature problems and is random
    (dlib left it unseeded); scikit-learn >= 1.3 picks the primal Newton solver
    (``dual="auto"``), as here: the same strictly convex objective, its exact optimum,
    deterministic and 5-30x faster. It reproduces the SAP scores of dlib's own code on
    perfect codes of the dataset grids to 1e-3 (``tests/metrics/test_sap.py``).
    """
    return LinearSVC(
        C=C,
        class_weight="balanced",
        dual=False,
        loss="squared_hinge",
        tol=1e-4,
        max_iter=1000,
        random_state=seed,
    )


#: LightGBM settings that mimic ``gradient_boosting`` (fast modes): 100 rounds of
#: learning rate 0.1, depth-3 trees of at most 8 leaves, leaves down to one sample, one thread,
#: deterministic. Native LightGBM names (for ``lightgbm.train``), plus ``seed``.
LIGHTGBM_GBT_LIKE = {
    "learning_rate": 0.1,
    "max_depth": 3,
    "num_leaves": 8,
    "min_data_in_leaf": 1,
    "min_sum_hessian_in_leaf": 1e-3,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
LIGHTGBM_ROUNDS = 100


def lightgbm_classifier(seed: int):
    """:data:`LIGHTGBM_GBT_LIKE` as a scikit-learn estimator (gain importances)."""
    from lightgbm import LGBMClassifier

    p = LIGHTGBM_GBT_LIKE
    return LGBMClassifier(
        n_estimators=LIGHTGBM_ROUNDS,
        learning_rate=p["learning_rate"],
        max_depth=p["max_depth"],
        num_leaves=p["num_leaves"],
        min_child_samples=p["min_data_in_leaf"],
        min_child_weight=p["min_sum_hessian_in_leaf"],
        deterministic=p["deterministic"],
        force_row_wise=p["force_row_wise"],
        n_jobs=p["num_threads"],
        verbose=p["verbose"],
        importance_type="gain",
        random_state=seed,
    )
