"""FactorVAE score: dlib's values (same RNG draws), chance level, pruning options."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics import MetricWarning
from dislab.metrics.factor_vae import factor_vae

from .conftest import (
    DSPRITES,
    FactorGrid,
    constant,
    duplicated,
    entangled,
    flatten,
    noise,
    permuted,
    rescaled,
)

SMALL = dict(num_train=300, num_eval=200, num_variance_estimate=1000)


def test_perfect_code_study_settings():
    """As dlib's own code: 1.0 / 1.0 at the study settings (dlib: num_active_dims = 5)."""
    scores = factor_vae(FactorGrid(DSPRITES), flatten, np.random.RandomState(0))
    assert scores == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_dims": 5}


def test_entangled_code_matches_dlib():
    """dlib's compute_factor_vae (threshold 0.05, seed 2, 500/300 votes, 1000 for variances)."""
    scores = factor_vae(
        FactorGrid(DSPRITES),
        entangled,
        np.random.RandomState(2),
        num_train=500,
        num_eval=300,
        num_variance_estimate=1000,
    )
    assert scores == {"train_accuracy": 0.396, "eval_accuracy": 0.37, "num_active_dims": 6}


def test_transforms_and_chance(small_grid):
    def score(rep):
        return factor_vae(small_grid, rep, np.random.RandomState(0), **SMALL)["eval_accuracy"]

    assert score(flatten) == 1.0
    assert score(permuted) == 1.0
    assert score(rescaled) == 1.0  # divides by the global variance
    assert score(duplicated) == 1.0  # the first copy wins every argmin tie
    # independent noise: the vote is unrelated to the factor; majority vote over 5 codes on
    # the train votes, so eval accuracy is about 1/5
    assert score(noise(0, 5)) == pytest.approx(0.2, abs=0.1)


def test_pruning_options(small_grid):
    def small(observations):  # dimension 1 has std 0.099 (variance 0.0098)
        f = flatten(observations)
        return np.hstack([f[:, :1], 0.07 * f[:, 1:2], np.zeros((len(f), 1))])

    def active(**options):
        scores = factor_vae(small_grid, small, np.random.RandomState(0), **SMALL, **options)
        return scores["num_active_dims"]

    assert active() == 3  # dlib's bug: the mask length, D
    assert active(count_active_dims=True) == 2  # std 0.099 >= 0.05 (dlib's reading)
    assert active(count_active_dims=True, prune_on="variance") == 1  # variance 0.0098 < 0.05
    with pytest.raises(ValueError, match="prune_on"):
        factor_vae(small_grid, small, np.random.RandomState(0), prune_on="var")


def test_constant_codes_score_zero_with_warning(small_grid):
    with pytest.warns(MetricWarning, match="no code dimension"):
        scores = factor_vae(small_grid, constant, np.random.RandomState(0), **SMALL)
    assert scores == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


def test_same_seed_same_numbers_and_generator(small_grid):
    a = factor_vae(small_grid, noise(3), np.random.default_rng(4), **SMALL)
    b = factor_vae(small_grid, noise(3), np.random.default_rng(4), **SMALL)
    assert a == b


def test_encoder_is_batched(small_grid):
    calls = []

    def rep(x):
        calls.append(len(x))
        return flatten(x)

    factor_vae(small_grid, rep, np.random.RandomState(0), **SMALL)
    assert len(calls) < 40 and sum(calls) == 1000 + 500 * 64


def test_bad_representation_output_is_named(small_grid):
    with pytest.raises(ValueError, match=r"factor_vae: representation_fn .*non-finite"):
        factor_vae(small_grid, lambda x: np.full((len(x), 2), np.nan), np.random.RandomState(0))
