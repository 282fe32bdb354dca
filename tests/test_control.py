"""Control experiments: entangling a representation, and rotating a trained VAE's latent
space (the impossibility theorem): the ELBO stays, the metrics move."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from dislab import control
from dislab.models.vae import bernoulli_reconstruction, gaussian_kl
from dislab.represent import load_model
from dislab.rundir import to_images
from dislab.train import train
from tests.tiny_data import TinySquares

SMALL = {"mig": {"num_train": 500}, "sap": {"num_train": 300, "num_test": 150},
         "downstream_task_logistic_regression": {"num_train": [30, 300], "num_test": 150}}


def factor_code(images: np.ndarray) -> np.ndarray:
    """TinySquares' factors read off the image: (size, column, row) of the white square, a
    perfectly disentangled code."""
    x = np.asarray(images)[..., 0]
    columns, rows = x.any(axis=1), x.any(axis=2)
    return np.stack([x.sum((1, 2)) / 64.0, columns.argmax(1) / 8.0, rows.argmax(1) / 8.0],
                    axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return TinySquares()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data):
    return train(dict(model="beta_vae", dataset="tiny_squares", steps=30, batch_size=8,
                     eval_samples=16, progress=False, lr=1e-3, num_latent=4, device="cpu",
                     run_dir=str(tmp_path_factory.mktemp("run") / "r"), checkpoint_every=100,
                     log_every=100), data=data)


@pytest.fixture(scope="module")
def vae(run_dir):
    return load_model(run_dir)[0]


def test_random_maps_are_rotations_and_well_conditioned_and_seeded():
    named = control.transforms(5, num_maps=2, seed=3)
    assert [name for name, _, _ in named] == ["identity", "rotation 1", "rotation 2",
                                              "linear 1", "linear 2"]
    for _, kind, matrix in named:
        if kind != "linear":
            np.testing.assert_allclose(matrix @ matrix.T, np.eye(5), atol=1e-12)
            assert np.linalg.det(matrix) == pytest.approx(1.0)
        assert np.linalg.cond(matrix) <= control.MAX_CONDITION
    again = control.transforms(5, num_maps=2, seed=3)
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(named, again))
    with pytest.raises(ValueError, match="valid: rotation, linear"):
        control.transforms(3, kinds=("shear",))


def test_entangling_a_disentangled_code_drops_mig_but_keeps_linear_accuracy(data):
    result = control.entanglement_control(factor_code, data, num_maps=2, metrics=SMALL)
    identity = result.iloc[0]
    mixed = result.iloc[1:]
    assert identity["MIG"] > 0.95  # the code is the factors themselves
    assert (mixed["MIG"] < identity["MIG"] - 0.35).all()
    # the information is still there: a linear read-out does as well as before
    assert identity["LR accuracy"] == pytest.approx(1.0)
    np.testing.assert_allclose(mixed["LR accuracy"], identity["LR accuracy"], atol=0.02)


def test_mapped_elbo_of_the_identity_is_the_vaes_own_elbo(vae, data):
    images = data.sample_observations(16, np.random.RandomState(0))
    terms = control.mapped_elbo(vae, images, np.eye(4), seed=5)
    model = copy.deepcopy(vae).double()
    with torch.no_grad():
        x = to_images(images, torch.device("cpu")).double()
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5),
                          dtype=torch.float64)
        reconstruction = bernoulli_reconstruction(
            model.decode(mu + torch.exp(0.5 * logvar) * eps), x).mean()
        kl = gaussian_kl(mu, logvar).sum(1).mean()
    assert terms["reconstruction"] == pytest.approx(float(reconstruction), rel=1e-12)
    assert terms["kl"] == pytest.approx(float(kl), rel=1e-10)
    # A = 2 I: same reconstruction; KL of N(2 mu, 4 sigma^2) in closed form
    doubled = control.mapped_elbo(vae, images, 2 * np.eye(4), seed=5)
    assert doubled["reconstruction"] == pytest.approx(terms["reconstruction"], rel=1e-10)
    variance = torch.exp(logvar)
    expected = 0.5 * (4 * variance + 4 * mu.square() - 1 - logvar - np.log(4)).sum(1).mean()
    assert doubled["kl"] == pytest.approx(float(expected), rel=1e-10)


def test_rotating_a_trained_model_keeps_the_elbo_and_moves_the_metrics(vae, data):
    result = control.rotation_experiment(vae, data, kinds=control.KINDS, num_maps=2,
                                         metrics=SMALL, num_images=64)
    rotations = result[result["kind"] == "rotation"]
    linear = result[result["kind"] == "linear"]
    assert len(rotations) == 2 and len(linear) == 2
    assert (rotations["relative_elbo_change"] < 1e-5).all()
    assert (linear["relative_elbo_change"] > 1e-3).all()  # a non-orthogonal map moves it
    identity = result.iloc[0]
    for column in ("MIG", "SAP"):
        assert (np.abs(rotations[column] - identity[column]) > 1e-4).all(), column


def test_study_control_runs_on_the_runs_with_a_checkpoint(run_dir, data, monkeypatch):
    monkeypatch.setattr("dislab.data.get", lambda name, source, root: data)
    table = pd.DataFrame({"model_num": [0, 1], "dataset": ["tiny_squares"] * 2,
                          "model": ["beta_vae"] * 2, "beta": [1.0, 1.0], "seed": [0, 1],
                          "state": ["done"] * 2, "run_dir": [str(run_dir), "/nonexistent"]})
    result = control.study_control(table, num_runs=2, metrics={"mig": {"num_train": 300}})
    assert list(result["transform"]) == ["identity", "rotation 1", "linear 1"]
    assert (result["model_num"] == 0).all()
    assert result.loc[1, "relative_elbo_change"] < 1e-5
    with pytest.raises(ValueError, match="checkpoint"):
        control.study_control(table.iloc[1:], metrics={"mig": {"num_train": 300}})


def test_summary_reports_the_change_against_each_runs_identity():
    result = pd.DataFrame({
        "model_num": [0, 0, 1, 1], "kind": ["identity", "rotation"] * 2,
        "relative_elbo_change": [0.0, 1e-16, 0.0, 3e-16],
        "MIG": [0.9, 0.2, 0.5, 0.4], "LR accuracy": [1.0, 1.0, 0.8, 0.7]})
    # MIG: (-0.7 - 0.1) / 2 = -0.4; LR: (0 - 0.1) / 2 = -0.05
    assert control.summarize(result) == ("rotation: largest relative ELBO change 3.0e-16; "
                                         "mean change MIG -0.400, LR accuracy -0.050.")
