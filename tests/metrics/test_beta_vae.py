"""BetaVAE score: dlib's training points (same RNG draws), accuracy levels, options."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics import MetricWarning
from dislab.metrics._utils import Encoder
from dislab.metrics.beta_vae import _points, beta_vae

from .conftest import (
    DSPRITES,
    FactorGrid,
    constant,
    duplicated,
    entangled,
    flatten,
    noise,
    permuted,
)

SMALL = dict(batch_size=16, num_train=300, num_eval=200)


def test_training_points_match_dlib():
    """dlib's _generate_training_batch(batch 64, 50 points, RandomState(4)) on the same code."""
    rng = np.random.RandomState(4)
    x, y = _points(FactorGrid(DSPRITES), Encoder(entangled, "beta_vae"), rng, 50, 64)
    assert x.sum() == pytest.approx(113.78437600687415, abs=1e-10)
    assert (x**2).sum() == pytest.approx(44.651697645422516, abs=1e-10)
    assert x[7, 3] == pytest.approx(0.40215344889986127, abs=1e-13)
    assert y[:10].tolist() == [2, 4, 4, 3, 2, 4, 1, 2, 1, 2]
    assert rng.randint(1000) == 93  # the stream continues exactly where dlib's does


@pytest.mark.parametrize("rep", [flatten, permuted, duplicated])
def test_perfect_code_scores_one(small_grid, rep):
    """Permuting or duplicating the code dims permutes/duplicates the classifier's features."""
    assert beta_vae(small_grid, rep, np.random.RandomState(0), **SMALL) == {
        "train_accuracy": 1.0,
        "eval_accuracy": 1.0,
    }


@pytest.mark.slow
def test_perfect_code_study_settings():
    """As dlib's own code: BetaVAE = 1.0 on the dSprites grid at the study settings (1.92M
    encodings)."""
    scores = beta_vae(FactorGrid(DSPRITES), flatten, np.random.RandomState(0))
    assert scores == {"train_accuracy": 1.0, "eval_accuracy": 1.0}


def test_noise_is_chance(small_grid):
    scores = beta_vae(small_grid, noise(0), np.random.RandomState(0), **SMALL)
    assert scores["eval_accuracy"] == pytest.approx(0.2, abs=0.08)


def test_sklearn_defaults_option(small_grid):
    current = beta_vae(
        small_grid, entangled, np.random.RandomState(0), sklearn_defaults="current", **SMALL
    )
    legacy = beta_vae(small_grid, entangled, np.random.RandomState(0), **SMALL)
    assert 0.2 < current["eval_accuracy"] <= 1 and 0.2 < legacy["eval_accuracy"] <= 1
    with pytest.raises(ValueError, match="sklearn_defaults"):
        beta_vae(small_grid, flatten, np.random.RandomState(0), sklearn_defaults="0.19")


def test_constant_codes_warn_and_guess(small_grid):
    with pytest.warns(MetricWarning, match="do not vary"):
        scores = beta_vae(small_grid, constant, np.random.RandomState(0), **SMALL)
    assert scores["eval_accuracy"] == pytest.approx(0.2, abs=0.08)


def test_same_seed_same_numbers(small_grid):
    a = beta_vae(small_grid, entangled, np.random.RandomState(1), **SMALL)
    assert a == beta_vae(small_grid, entangled, np.random.RandomState(1), **SMALL)


def test_bad_representation_output_is_named(small_grid):
    with pytest.raises(ValueError, match=r"beta_vae: representation_fn returned 3 rows"):
        beta_vae(small_grid, lambda x: np.zeros((3, 2)), np.random.RandomState(0))
