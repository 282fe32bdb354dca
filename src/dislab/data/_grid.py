"""Helpers shared by the datasets whose images live on a full factor grid.

- :func:`grid_order` puts images stored in arbitrary order (Cars3D, SmallNORB files) into the
  C-order of their factor grid, as dlib's ``StateSpaceAtomIndex`` does, with the correct
  ``>= size`` range check.
- :class:`RenderedGrid` is the base of the procedural substitutes: each grid state is rendered
  once, on demand and vectorised over the batch, into a uint8 cache.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from dislab.data._cache import ImageCache
from dislab.data.base import GroundTruthData, Rng, StateSpace


def grid_order(features: np.ndarray, factor_sizes: Sequence[int], where: str) -> np.ndarray:
    """Row permutation that sorts stored images into C-order of the factor grid.

    ``features[r]`` holds the factor values of stored row ``r``. The result ``order`` satisfies
    ``order[index(features[r])] = r``, so ``images[order]`` is in C-order
    (``index = sum_k f_k * prod_{j>k} s_j``). Raises ``ValueError`` naming ``where`` (the file or
    folder read) unless every feature lies in ``[0, size)`` and the rows cover every grid state
    exactly once.
    """
    space = StateSpace(factor_sizes)
    try:
        index = space.index(features)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    counts = np.bincount(index, minlength=space.num_states)
    if np.any(counts != 1):
        problems = []
        repeated = np.flatnonzero(counts > 1)
        missing = np.flatnonzero(counts == 0)
        if repeated.size:
            example = space.factors(repeated[:1])[0].tolist()
            problems.append(f"{repeated.size} state(s) stored more than once, e.g. {example}")
        if missing.size:
            example = space.factors(missing[:1])[0].tolist()
            problems.append(f"{missing.size} state(s) missing, e.g. {example}")
        raise ValueError(
            f"{where}: the {len(index)} stored images do not cover the factor grid "
            f"{list(space.factor_sizes)} exactly once: " + "; ".join(problems)
        )
    order = np.empty(space.num_states, dtype=np.int64)
    order[index] = np.arange(space.num_states)
    return order


class RenderedGrid(GroundTruthData):
    """A procedural dataset rendered per grid state, on demand, into a uint8 cache.

    Subclasses implement :meth:`_render_states` (uint8 images for complete factor rows, a pure
    function of the factors). An image is rendered the first time its state is drawn and then
    read from the cache, so results never depend on the order of requests. The cache holds
    ``num_states`` uint8 images; pages of states never drawn are never touched. With
    ``cache_version`` set, the cache is the persistent file of :mod:`dislab.data._cache`
    (shared by all processes; bump the version whenever the rendered images change), else it
    lives in memory.
    """

    source = "procedural"
    fixed_observations = True
    render_batch = 256  # states rendered per vectorised call (bounds temporary memory)
    cache_version: str | None = None

    def __init__(self):
        shape = (self.state_space.num_states, *self.observation_shape)
        if self.cache_version is None:
            self._cache = ImageCache.in_memory(shape)
        else:
            self._cache = ImageCache.open(self.name, self.cache_version, shape)

    def _render(self, all_factors: np.ndarray, rng: Rng) -> np.ndarray:
        index = all_factors @ self.state_space.bases
        todo = np.unique(index[self._cache.done[index] == 0])
        for start in range(0, len(todo), self.render_batch):
            states = todo[start : start + self.render_batch]
            self._cache.store(states, self._render_states(self.state_space.factors(states)))
        obs = self._cache.images[index].astype(np.float32)
        obs *= np.float32(1.0 / 255.0)
        return obs

    @abc.abstractmethod
    def _render_states(self, all_factors: np.ndarray) -> np.ndarray:
        """uint8 ``[n, H, W, C]`` images of the complete factor rows ``all_factors``."""
