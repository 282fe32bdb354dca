"""CodeCache: each dataset state encoded once, the same numbers as encoding every draw."""

from __future__ import annotations

import numpy as np
import pytest

import dislab.data
import dislab.metrics as metrics
from dislab.metrics.cache import CodeCache, StateIndexData, split_representation

from .conftest import Counting, FactorGrid, entangled

SMALL = {
    "beta_vae": {"num_train": 40, "num_eval": 20},
    "factor_vae": {"num_train": 40, "num_eval": 20, "num_variance_estimate": 300},
    "mig": {"num_train": 400},
    "modularity": {"num_train": 400, "num_test": 200},
    "dci": {"num_train": 400, "num_test": 200},
    "sap": {"num_train": 400, "num_test": 200},
    "irs": {"num_train": 400},
    "unsupervised": {"num_train": 400},
    "downstream_task_logistic_regression": {"num_train": (10, 100), "num_test": 200},
    "downstream_task_boosted_trees": {"num_train": (10, 100), "num_test": 200},
}


MIG = {"mig": SMALL["mig"]}


class FixedGrid(FactorGrid):
    fixed_observations = True


@pytest.fixture(scope="module")
def grid():
    return FixedGrid((3, 6, 8, 4, 4))  # 2,304 states


def test_cached_evaluation_gives_the_uncached_numbers(grid):
    direct, cached = Counting(), Counting()
    kwargs = {"seed": 5, "mode": "fast", "params": SMALL, "progress": False}
    expected = metrics.evaluate(direct, grid, list(SMALL), cache=False, **kwargs)
    got = metrics.evaluate(cached, grid, list(SMALL), **kwargs)  # "auto": deterministic fn
    assert got == expected
    # beta_vae alone draws 60 * 128 images; every state is encoded at most once
    assert direct.rows > 60 * 128 > grid.state_space.num_states >= cached.rows


def test_a_shared_cache_encodes_nothing_twice(grid):
    rep = Counting()
    cache = CodeCache(grid, rep)
    first = metrics.evaluate(rep, grid, "mig", seed=1, params=MIG, cache=cache, progress=False)
    assert rep.rows == cache.num_encoded <= 400
    again = metrics.evaluate(rep, grid, "mig", seed=1, params=MIG, cache=cache, progress=False)
    assert again == first and rep.rows == cache.num_encoded
    np.testing.assert_array_equal(
        cache.features(np.arange(5)), entangled(grid.render_states(np.arange(5)))
    )


def test_state_indices_replay_the_random_stream():
    data = dislab.data.get("dsprites_full", source="procedural")  # its colour factor draws too
    rng_images, rng_states = np.random.RandomState(3), np.random.RandomState(3)
    factors, images = data.sample(50, rng_images)
    state_factors, states = StateIndexData(data).sample(50, rng_states)
    np.testing.assert_array_equal(state_factors, factors)
    assert rng_images.randint(1 << 30) == rng_states.randint(1 << 30)
    np.testing.assert_array_equal(data.render_states(states), images)


def test_random_observations_are_never_cached(grid):
    noisy = dislab.data.get("noisy_dsprites", source="procedural")
    with pytest.raises(ValueError, match="fixed_observations is False"):
        CodeCache(noisy, entangled)
    with pytest.raises(ValueError, match="no single image"):
        noisy.render_states(np.arange(3))
    plain = FactorGrid((3, 6, 8, 4, 4))  # not declared fixed: "auto" leaves it alone
    rep = Counting()
    metrics.evaluate(rep, plain, "mig", params=MIG, progress=False)
    assert rep.rows == 400
    with pytest.raises(ValueError, match="fixed_observations"):
        metrics.evaluate(rep, plain, "mig", params=MIG, cache=True, progress=False)


def test_auto_needs_a_deterministic_or_split_representation(grid):
    rows = []

    def plain(observations):  # might be random: "auto" must not cache it
        rows.append(len(observations))
        return entangled(observations)

    metrics.evaluate(plain, grid, "mig", params=MIG, progress=False)
    assert sum(rows) == 400
    assert split_representation(plain) is None
    metrics.evaluate(plain, grid, "mig", params=MIG, cache=True, progress=False)
    assert sum(rows) < 800  # True: the caller vouches for it; repeated states encoded once


class NoisyHead:
    """features = the perfect code; head adds fresh unit noise (like a sampled representation)."""

    def __init__(self):
        self.gen = np.random.RandomState(0)

    def features(self, observations):
        return observations.reshape(len(observations), -1).astype(np.float64)

    def head(self, features):
        return features + self.gen.normal(size=features.shape)

    def __call__(self, observations):
        return self.head(self.features(observations))

    def split_for_cache(self):
        return self.features, self.head


def test_split_head_draws_fresh_noise_per_lookup(grid):
    rep = NoisyHead()
    assert split_representation(rep) == (rep.features, rep.head)
    _, cached = CodeCache(grid, rep.features).views(rep.head)
    codes = cached(np.array([7, 7, 7, 7]))
    assert len(np.unique(codes[:, 0])) == 4  # fresh noise for each lookup of one state
    np.testing.assert_allclose(codes.mean(axis=0), grid.state_space.factors([7])[0], atol=3)
    assert cached.cache.num_encoded == 1
    cache = CodeCache(grid, rep.features)
    metrics.evaluate(rep, grid, "mig", params=MIG, cache=cache, progress=False)
    assert 0 < cache.num_encoded < 400  # repeated states among the 400 draws: encoded once


def test_bad_cache_arguments(grid):
    other = FixedGrid((3, 6, 8, 4, 4))
    with pytest.raises(ValueError, match="another dataset"):
        metrics.evaluate(Counting(), grid, "mig", cache=CodeCache(other, entangled))
    with pytest.raises(ValueError, match="split_for_cache"):
        metrics.evaluate(lambda x: entangled(x), grid, "mig", cache=CodeCache(grid, entangled))
    with pytest.raises(ValueError, match="cache must be"):
        metrics.evaluate(Counting(), grid, "mig", cache="yes")
    bad = CodeCache(grid, lambda x: np.full((len(x), 2), np.nan))
    with pytest.raises(ValueError, match="non-finite"):
        bad.features(np.arange(3))
