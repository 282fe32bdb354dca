"""Shared metric test data: datasets whose observations are the factor indices themselves.

``FactorGrid(sizes)`` renders factor row ``f`` as the float32 image ``f`` of shape
``(1, 1, K)``; ``flatten`` turns it back into the code ``f``, so ``flatten`` is a perfect
representation (one code per factor) and any other representation is a known function of
the factors. The reference values of dlib's own metric code on such perfect codes (study
settings, ``RandomState(0)``) were computed on this setup.
"""

from __future__ import annotations

import numpy as np
import pytest

from dislab.data.base import GroundTruthData

DSPRITES = (3, 6, 40, 32, 32)
SHAPES3D = (10, 10, 10, 8, 4, 15)
CARS3D = (4, 24, 183)
SMALLNORB = (5, 9, 18, 6)


class FactorGrid(GroundTruthData):
    """All latent, uniform factors of the given sizes; observation = the factor row."""

    name = "factor_grid"

    def __init__(self, sizes):
        self.all_factor_sizes = tuple(int(s) for s in sizes)
        self.all_factor_names = tuple(f"factor_{i}" for i in range(len(sizes)))
        self.latent_factor_indices = tuple(range(len(sizes)))
        self.observation_shape = (1, 1, len(sizes))

    def _render(self, all_factors, rng):
        return all_factors.astype(np.float32).reshape(-1, *self.observation_shape)


def flatten(observations: np.ndarray) -> np.ndarray:
    """The perfect representation of a :class:`FactorGrid`: its factor indices."""
    return observations.reshape(len(observations), -1).astype(np.float64)


def entangled(observations: np.ndarray) -> np.ndarray:
    """A fixed, deterministic, entangled 6-D code of a 5-factor grid (no RNG use).

    ``tanh((f / sizes) @ W) + 0.3 * sin(37 * f @ V)``: mixes every factor into every code and
    adds a deterministic 'noise' that depends on all factors.
    """
    f = flatten(observations)
    gen = np.random.RandomState(1)
    w = gen.normal(size=(f.shape[1], 6))
    v = gen.normal(size=(f.shape[1], 6))
    return np.tanh((f / np.asarray(DSPRITES)) @ w) + 0.3 * np.sin(37.0 * f @ v)


class Counting:
    """``entangled`` that counts the rows it encodes; it declares itself deterministic, so
    ``evaluate`` may cache it on datasets with fixed observations."""

    deterministic = True

    def __init__(self):
        self.rows = 0

    def __call__(self, observations):
        self.rows += len(observations)
        return entangled(observations)


@pytest.fixture(scope="session")
def dsprites_grid():
    return FactorGrid(DSPRITES)


@pytest.fixture(scope="session")
def small_grid():
    """Five factors of five values: quick to sample and to classify."""
    return FactorGrid((5, 5, 5, 5, 5))


# -- representations derived from the perfect one -----------------------------------------
def permuted(observations):
    """The perfect code with its dimensions in reverse order."""
    return flatten(observations)[:, ::-1]


def rescaled(observations):
    """The perfect code, each dimension scaled by a power of two and shifted (exact floats)."""
    f = flatten(observations)
    return f * (2.0 ** np.arange(f.shape[1])) - 3.0


def duplicated(observations):
    """The perfect code twice: ``[f, f]``."""
    f = flatten(observations)
    return np.hstack([f, f])


def rotated(observations):
    """The perfect code with each pair of dimensions rotated by 45 degrees (entangled)."""
    f = flatten(observations) / 10.0
    out = f.copy()
    for i in range(0, f.shape[1] - 1, 2):
        out[:, i], out[:, i + 1] = f[:, i] + f[:, i + 1], f[:, i] - f[:, i + 1]
    return out


def constant(observations):
    """A representation that ignores its input."""
    return np.full((len(observations), 4), 0.5)


def noise(seed=0, dims=5):
    """A representation that ignores its input and returns fresh Gaussian noise."""
    gen = np.random.RandomState(seed)
    return lambda observations: gen.normal(size=(len(observations), dims))
