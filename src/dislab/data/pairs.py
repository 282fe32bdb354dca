"""Pairs of observations that share all but some factors (weak supervision).

Locatello et al., ICML 2020, "Weakly-Supervised Disentanglement Without Compromises"; dlib
``methods/weak/train_weak_lib.py`` (``simple_dynamics``). A training example is a pair
``(x1, x2)`` whose latent factors differ in a few coordinates, with a label naming one of them.

The rule, per pair, for ``F = data.num_factors`` latent factors of sizes ``s_j``:

1. ``f1`` is a uniform factor row (``data.sample_factors``);
2. ``k_obs = k``, or for ``k = -1`` ("k = rnd") ``k_obs`` uniform on ``1..F-1``;
3. ``count`` is ``1`` or ``k_obs``, each with probability 1/2 (dlib's
   ``rs.choice([1, k_obs])``), so ``P(count = 1) = 1/2 + [k_obs = 1] / 2``; with ``k = -1``,
   ``P(count = 1) = 1/2 + 1 / (2 (F - 1))`` and ``P(count = c) = 1 / (2 (F - 1))`` for
   ``2 <= c <= F - 1``;
4. the ``count`` changed factors are drawn without replacement, uniformly (an ordered draw);
5. ``f2`` copies ``f1`` and gives each chosen factor ``j`` a new value uniform on
   ``0..s_j - 1``: it may equal the old one (probability ``1 / s_j``), so a pair can differ in
   fewer factors than were chosen, possibly none;
6. the label is the index of the **last** chosen factor (in the order of the draw);
7. ``x1``, ``x2`` are ``data.sample_observations_from_factors`` of ``f1``, ``f2``.

Deliberate deviations from dlib:

- **Seeded new values.** dlib draws the new values of step 5 with the global, unseeded
  ``np.random.choice``, so its pairs are not reproducible from the seed. Here every draw,
  the new values included, comes from the ``rng`` passed in: the same seed gives the same pairs.
- **Draw order.** dlib works pair by pair (``f1``, ``x1``, the change, ``x2``, then the next
  pair) with one ``RandomState`` call per step. This sampler is vectorised over the ``n``
  pairs and draws, each for all pairs at once: ``f1`` (``data.sample_factors(n, rng)``); the
  ``k_obs`` (for ``k = -1`` only); the ``1``-or-``k_obs`` coins; ``n x F`` uniform keys whose
  per-row ``argsort`` is a random permutation of the factors (the first ``count`` entries are
  the chosen factors, in draw order); ``n x F`` new values (one per factor, used where chosen);
  then ``x1`` and ``x2`` (two calls of ``sample_observations_from_factors``). The
  distribution is dlib's; the stream of numbers is not (and, with dlib's unseeded new values,
  an exact replay was never possible).

Works with ``numpy.random.RandomState`` and ``numpy.random.Generator`` alike, for any
:class:`~dislab.data.base.GroundTruthData` (procedural or official).
"""

from __future__ import annotations

import numpy as np

from dislab.data.base import GroundTruthData, Rng, _check_count, randint

__all__ = ["check_k", "sample_pair_factors", "sample_pairs"]


def check_k(k: int, num_factors: int, name: str = "the dataset") -> int:
    """Validate ``k``, the number of factors changed per pair, for ``num_factors`` factors.

    Valid: ``-1`` ("k = rnd": ``k_obs`` uniform on ``1..num_factors-1`` per pair) or an int in
    ``1..num_factors-1``. Raises ``ValueError`` naming the valid range otherwise (``0``, ``-2``,
    ``k >= num_factors``, a bool, a float), and for a dataset (called ``name``) with fewer than
    2 factors. Returns ``k`` as a Python int.
    """
    num_factors = int(num_factors)
    if num_factors < 2:
        raise ValueError(
            f"weak supervision needs at least 2 factors; {name} has {num_factors}"
        )
    top = num_factors - 1
    if (
        isinstance(k, bool | np.bool_)
        or not isinstance(k, int | np.integer)
        or not (k == -1 or 1 <= k <= top)
    ):
        raise ValueError(
            f"k must be -1 (random, 1..{top}) or an int in 1..{top} for {num_factors} "
            f"factors, got {k!r}"
        )
    return int(k)


def _uniform(rng: Rng, size: tuple[int, ...]) -> np.ndarray:
    """Uniform floats in ``[0, 1)`` from either kind of numpy RNG."""
    if isinstance(rng, np.random.Generator):
        return rng.random(size)
    return rng.random_sample(size)


def _choose_factors(
    n: int, num_factors: int, k: int, rng: Rng
) -> tuple[np.ndarray, np.ndarray]:
    """Which factors each of ``n`` pairs changes: ``(mask bool[n, F], labels int64[n])``.

    ``mask[i, j]`` is True when factor ``j`` of pair ``i`` is chosen (redrawn); ``labels[i]``
    is the last chosen factor. ``k`` must already be valid (:func:`check_k`). Draws, in order:
    ``k_obs`` (only for ``k = -1``), the coins, the ``n x F`` permutation keys.
    """
    rows = np.arange(n)
    if k == -1:
        k_obs = 1 + randint(rng, num_factors - 1, n)  # uniform on 1..F-1
    else:
        k_obs = np.full(n, k, dtype=np.int64)
    coin = randint(rng, 2, n)  # dlib's rs.choice([1, k_obs]): index 0 or 1
    count = np.where(coin == 1, k_obs, 1)
    order = np.argsort(_uniform(rng, (n, num_factors)), axis=1)  # a random permutation per row
    rank = np.empty_like(order)
    rank[rows[:, None], order] = np.arange(num_factors)  # position of each factor in the draw
    mask = rank < count[:, None]
    labels = order[rows, count - 1].astype(np.int64, copy=False)
    return mask, labels


def sample_pair_factors(
    data: GroundTruthData, n: int, rng: Rng, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factors of ``n`` pairs: ``(factors1 int64[n, F], factors2 int64[n, F], labels int64[n])``.

    ``factors1 = data.sample_factors(n, rng)``; ``factors2`` redraws 1 or ``k_obs`` factors of
    each row uniformly (possibly to the same value) and ``labels`` is the last redrawn factor;
    see the module doc for the rule and the draw order. ``k``: ``-1`` or ``1..F-1``.
    """
    n = _check_count(n)
    num_factors = data.num_factors
    k = check_k(k, num_factors, data.name or type(data).__name__)
    factors1 = data.sample_factors(n, rng)
    mask, labels = _choose_factors(n, num_factors, k, rng)
    sizes = np.asarray(data.factor_sizes, dtype=np.int64)
    new = randint(rng, sizes, (n, num_factors))  # one uniform value per factor and row
    factors2 = np.where(mask, new, factors1)
    return factors1, factors2, labels


def sample_pairs(
    data: GroundTruthData, n: int, rng: Rng, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` pairs of observations: ``(x1 float32[n, H, W, C], x2 float32[n, H, W, C],
    labels int64[n])``.

    The factors of :func:`sample_pair_factors`, then
    ``x1 = data.sample_observations_from_factors(factors1, rng)`` and ``x2`` likewise from
    ``factors2`` (in that order, after all factor draws).
    """
    factors1, factors2, labels = sample_pair_factors(data, n, rng, k)
    x1 = data.sample_observations_from_factors(factors1, rng)
    x2 = data.sample_observations_from_factors(factors2, rng)
    return x1, x2, labels
