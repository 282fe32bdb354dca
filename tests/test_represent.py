"""Representation functions built from a run directory."""

import pickle

import numpy as np
import pytest
import torch

from dislab import represent
from dislab.train import TrainConfig, train
from tests.tiny_data import TinySquares


@pytest.fixture(scope="module", params=["beta_vae", "ada_gvae"])  # weak runs: the same
def run_dir(tmp_path_factory, request):
    config = TrainConfig(model=request.param, steps=5, batch_size=8, eval_samples=8,
                         progress=False, dataset="tiny_squares",
                         run_dir=str(tmp_path_factory.mktemp("rep")))
    return train(config, data=TinySquares())


@pytest.fixture(scope="module")
def images():
    return TinySquares().sample_observations(20, np.random.RandomState(0))


def test_mean_representation_is_the_encoder_mean(run_dir, images):
    rep = represent.load(run_dir, "mean", batch_size=7)
    codes = rep(images)
    assert codes.shape == (20, 10) and codes.dtype == np.float32
    vae, _ = represent.load_model(run_dir)
    with torch.no_grad():
        mu, _ = vae.encode(torch.from_numpy(images).permute(0, 3, 1, 2))
    np.testing.assert_allclose(codes, mu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(rep(images), codes)  # deterministic
    np.testing.assert_allclose(rep(images.astype(np.float64)), codes, rtol=1e-6)


def test_sampled_representation_is_seeded(run_dir, images):
    a = represent.load(run_dir, "sampled", seed=1)(images)
    b = represent.load(run_dir, "sampled", seed=1)(images)
    c = represent.load(run_dir, "sampled", seed=2)(images)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    mean = represent.load(run_dir, "mean")(images)
    vae, _ = represent.load_model(run_dir)
    with torch.no_grad():
        _, logvar = vae.encode(torch.from_numpy(images).permute(0, 3, 1, 2))
    # z = mu + sigma eps with eps ~ N(0, 1): the standardised noise has unit scale
    eps = (a - mean) / np.exp(0.5 * logvar.numpy())
    assert 0.7 < eps.std() < 1.3 and abs(eps.mean()) < 0.3


def test_representation_pickles_and_continues_its_stream(run_dir, images):
    rep = represent.load(run_dir, "sampled", seed=1)
    clone = pickle.loads(pickle.dumps(rep))
    np.testing.assert_array_equal(rep(images), clone(images))


def test_bad_inputs(run_dir, tmp_path, images):
    with pytest.raises(ValueError, match="valid: mean, sampled"):
        represent.load(run_dir, "median")
    with pytest.raises(ValueError, match=r"\[N, 64, 64, 1\]"):
        represent.load(run_dir)(images[..., 0])
    with pytest.raises(FileNotFoundError, match="not a dislab run directory"):
        represent.load(tmp_path)


def test_features_and_head_split_the_representation(run_dir, images):
    mean = represent.load(run_dir, "mean")
    features = mean.features(images)  # [mu, logvar], what dislab.metrics.CodeCache stores
    assert features.shape == (20, 20) and features.dtype == np.float32
    np.testing.assert_array_equal(mean.head(features), mean(images))
    sampled = represent.load(run_dir, "sampled", seed=4)
    np.testing.assert_array_equal(
        sampled.head(features), represent.load(run_dir, "sampled", seed=4)(images)
    )
