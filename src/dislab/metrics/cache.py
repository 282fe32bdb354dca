"""Encode every state of a dataset at most once, for all metrics and representations of a model.

dlib renders and encodes every point a metric draws: the nine metric configurations of the
study draw about 2.9 million observations per representation of dSprites, whose factor grid
has only 737,280 states. When

- the dataset's image is a fixed function of the complete factor row
  (``data.fixed_observations``: dSprites, Shapes3D, Cars3D, SmallNORB, MPI3D, not the
  Color/Noisy/Scream variants, which draw colour or noise per observation), and
- the representation is deterministic, or splits into a deterministic ``features(x)`` and a
  cheap ``head(features)`` (its ``split_for_cache()`` returns the two; dislab's ``sampled``:
  features ``[mu, logvar]``, head ``mu + exp(logvar / 2) * eps``),

a :class:`CodeCache` renders and encodes each state the first time a metric draws it and
reuses the features afterwards. The metrics run unchanged on two views
(:meth:`CodeCache.views`): a dataset that hands out state indices in place of images
(drawing exactly the same random numbers, so every metric sees dlib's points) and a
representation that maps those indices to codes, ``head(table[index])``.

Values: identical to encoding the images directly for a deterministic representation, up to
the float round-off of encoding a state in a different batch. A sampled head draws fresh
noise on every lookup, as dlib's sampled representation does on every call; the noise stream
differs from the uncached call order, the distribution does not.

Memory: ``num_states x F`` features in the encoder's dtype, allocated on first use (dSprites,
``F = 20`` float32: 59 MB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dislab.data.base import GroundTruthData, Rng
from dislab.metrics._utils import ENCODE_BATCH_SIZE, RepresentationFn, check_codes

#: :func:`auto_cache` leaves datasets with more states than this uncached (table memory).
AUTO_MAX_STATES = 10_000_000


def split_representation(representation_fn: Any) -> tuple[RepresentationFn, Callable] | None:
    """``(features, head)`` of a cacheable representation function, else ``None``.

    Cacheable: an object whose ``split_for_cache()`` returns ``(features, head)`` (codes =
    ``head(features(x))``, ``features`` deterministic), or a callable with a true
    ``deterministic`` attribute (features = the function, head = identity).
    """
    split = getattr(representation_fn, "split_for_cache", None)
    if callable(split):
        return split()
    if callable(representation_fn) and getattr(representation_fn, "deterministic", False) is True:
        return representation_fn, _identity
    return None


def auto_cache(data: GroundTruthData, representation_fn: Any) -> CodeCache | None:
    """A :class:`CodeCache` for ``representation_fn`` on ``data`` when caching is exact (fixed
    observations, a split or deterministic representation) and affordable, else ``None``."""
    split = split_representation(representation_fn)
    if (
        split is None
        or not data.fixed_observations
        or data.state_space.num_states > AUTO_MAX_STATES
    ):
        return None
    return CodeCache(data, split[0])


def _identity(features: np.ndarray) -> np.ndarray:
    return features


class CodeCache:
    """Features of the states of ``data`` under the deterministic ``features_fn``, memoised.

    ``cache.features(index)`` renders (``data.render_states``) and encodes, in batches of
    ``batch_size``, only the states of ``index`` not seen before, then gathers all rows from
    the table. ``num_encoded`` counts the states encoded so far. One cache can serve several
    representations that share ``features_fn`` (dislab's ``mean`` and ``sampled``).
    """

    def __init__(
        self,
        data: GroundTruthData,
        features_fn: RepresentationFn,
        *,
        batch_size: int = ENCODE_BATCH_SIZE,
    ):
        if not data.fixed_observations:
            raise ValueError(
                f"{data.name or type(data).__name__}: cannot cache codes per state, its "
                "observations are random given the factors (fixed_observations is False)"
            )
        if not callable(features_fn):
            raise TypeError(f"features_fn must be callable, got {features_fn!r}")
        self.data = data
        self.features_fn = features_fn
        self.batch_size = int(batch_size)
        self.known = np.zeros(data.state_space.num_states, dtype=bool)
        self.table: np.ndarray | None = None

    @property
    def num_encoded(self) -> int:
        return int(np.count_nonzero(self.known))

    def features(self, index: np.ndarray) -> np.ndarray:
        """Features ``[len(index), F]`` of the states ``index`` (int, flat over all factors)."""
        index = np.asarray(index, dtype=np.int64)
        missing = np.unique(index[~self.known[index]])
        for start in range(0, len(missing), self.batch_size):
            self._encode(missing[start : start + self.batch_size])
        return self.table[index]

    def _encode(self, states: np.ndarray) -> None:
        raw = np.asarray(self.features_fn(self.data.render_states(states)))
        features = check_codes(raw, len(states), "CodeCache: features_fn")
        if self.table is None:
            dtype = raw.dtype if np.issubdtype(raw.dtype, np.floating) else np.float64
            self.table = np.empty((len(self.known), features.shape[1]), dtype=dtype)
        elif features.shape[1] != self.table.shape[1]:
            raise ValueError(
                f"CodeCache: features_fn returned {features.shape[1]} columns after "
                f"returning {self.table.shape[1]} before"
            )
        self.table[states] = features
        self.known[states] = True

    def views(self, head: Callable[[np.ndarray], np.ndarray] = _identity):
        """``(data, representation_fn)`` for the metrics: states stand in for images."""
        return StateIndexData(self.data), CachedRepresentation(self, head)


class CachedRepresentation:
    """``r(index) = head(cache.features(index))``: a representation function on state indices."""

    def __init__(self, cache: CodeCache, head: Callable[[np.ndarray], np.ndarray]):
        self.cache, self.head = cache, head

    def __call__(self, index: np.ndarray) -> np.ndarray:
        return self.head(self.cache.features(index))


class StateIndexData:
    """A :class:`~dislab.metrics._utils.MetricData` view of ``data`` whose observations are
    their int64 state indices ``[n]`` (flat over all stored factors) instead of images.

    Factor sampling is ``data``'s own, and the nuisance factors are completed with
    ``data.sample_all_factors`` as for an image, so the random stream is exactly the one the
    metric would consume on ``data`` (a fixed-observation dataset draws nothing more).
    """

    def __init__(self, data: GroundTruthData):
        self.data = data
        self.name = data.name
        self.factor_names = data.factor_names
        self.factor_sizes = data.factor_sizes
        self.num_factors = data.num_factors
        self.bases = data.state_space.bases

    def __repr__(self) -> str:
        return f"StateIndexData({self.data!r})"

    def sample_factors(self, n: int, rng: Rng) -> np.ndarray:
        return self.data.sample_factors(n, rng)

    def sample_observations_from_factors(self, factors: np.ndarray, rng: Rng) -> np.ndarray:
        return self.data.sample_all_factors(factors, rng) @ self.bases

    def sample(self, n: int, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
        factors = self.sample_factors(n, rng)
        return factors, self.sample_observations_from_factors(factors, rng)

    def sample_observations(self, n: int, rng: Rng) -> np.ndarray:
        return self.sample(n, rng)[1]


def cached_views(data: GroundTruthData, representation_fn: RepresentationFn, cache: Any):
    """``(data, representation_fn)`` for the metrics, per ``evaluate``'s ``cache`` argument:
    ``False`` (as given), ``"auto"`` (:func:`auto_cache` when exact), ``True`` (a plain
    callable is taken to be deterministic) or a :class:`CodeCache` built on ``data``."""
    if cache is False:
        return data, representation_fn
    split = split_representation(representation_fn)
    if isinstance(cache, CodeCache):
        if cache.data is not data:
            raise ValueError("the CodeCache given was built on another dataset object")
        if split is None:
            raise ValueError(
                "a CodeCache needs a representation with a split_for_cache() method or a "
                "true 'deterministic' attribute"
            )
        return cache.views(split[1])
    if cache == "auto":
        cache = auto_cache(data, representation_fn)
        return (data, representation_fn) if cache is None else cache.views(split[1])
    if cache is not True:
        raise ValueError(f"cache must be 'auto', True, False or a CodeCache, got {cache!r}")
    features, head = split or (representation_fn, _identity)
    return CodeCache(data, features).views(head)
