"""Weakly-supervised objectives: the divergence, the shared-dimension masks, the two averages and
the loss, each against a value computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from dislab import models
from dislab.models.vae import bernoulli_reconstruction, gaussian_kl
from dislab.models.weak import (
    WeakVAE,
    adaptive_mask,
    gvae_average,
    label_mask,
    mlvae_average,
    pair_divergence,
)

WEAK = ("ada_gvae", "ada_ml_vae", "gvae", "ml_vae")


def t(*values):
    return torch.tensor([list(values)], dtype=torch.float64)


def test_divergence_on_hand_picked_posteriors():
    # q1 = N(0, 1), q2 = N(1, 2): 1/2 + 1/2 - 1 + log 2 - 0 = log 2
    delta = pair_divergence(t(0.0), t(0.0), t(1.0), t(math.log(2.0)))
    assert delta.item() == pytest.approx(math.log(2.0), abs=1e-12)
    # it is twice KL(q1 || q2), in that direction (the reverse differs)
    q1, q2 = (torch.distributions.Normal(m, s) for m, s in ((0.0, 1.0), (1.0, math.sqrt(2))))
    assert delta.item() == pytest.approx(2 * torch.distributions.kl_divergence(q1, q2).item())
    reverse = pair_divergence(t(1.0), t(math.log(2.0)), t(0.0), t(0.0)).item()
    assert reverse == pytest.approx(2 + 1 - 1 - math.log(2.0)) and reverse != delta.item()
    # identical posteriors: 0
    assert pair_divergence(t(0.3, -1.0), t(0.2, 0.5), t(0.3, -1.0), t(0.2, 0.5)).abs().max() == 0


def test_adaptive_mask_two_bins():
    # clear threshold: (0 + 10) / 2 = 5
    assert adaptive_mask(t(0.0, 10.0, 1.0, 9.0)).tolist() == [[False, True, False, True]]
    # a value exactly at the midpoint is in the upper bin (keeps its own posterior)
    assert adaptive_mask(t(0.0, 5.0, 10.0)).tolist() == [[False, True, True]]
    # all equal: every dimension is in the upper bin, none is averaged
    assert adaptive_mask(t(2.0, 2.0, 2.0)).tolist() == [[True, True, True]]
    # per row
    rows = torch.tensor([[0.0, 4.0], [3.0, 1.0]])
    assert adaptive_mask(rows).tolist() == [[False, True], [True, False]]


def test_gvae_average_in_closed_form():
    # mu 1 and 3, var 1 and 3: mean 2, var 2
    mean, logvar = gvae_average(t(1.0), t(0.0), t(3.0), t(math.log(3.0)))
    assert mean.item() == pytest.approx(2.0) and logvar.exp().item() == pytest.approx(2.0)


def test_mlvae_average_in_closed_form():
    # var = 2 * 1 * 3 / (1 + 3) = 1.5; mean = (1 / 1 + 3 / 3) * 1.5 / 2 = 1.5
    mean, logvar = mlvae_average(t(1.0), t(0.0), t(3.0), t(math.log(3.0)))
    assert mean.item() == pytest.approx(1.5) and logvar.exp().item() == pytest.approx(1.5)
    # the mean is the product of experts' (precision-weighted); the variance twice its
    precision = 1 / 1.0 + 1 / 3.0
    assert mean.item() == pytest.approx((1 / 1.0 + 3 / 3.0) / precision)
    assert logvar.exp().item() == pytest.approx(2 / precision)


def _pair_posteriors():
    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(8, 4, generator=generator, dtype=torch.float64)  # 4 pairs, d = 4
    logvar = torch.randn(8, 4, generator=generator, dtype=torch.float64)
    return mu, logvar


@pytest.mark.parametrize(("name", "average"), [("gvae", gvae_average), ("ml_vae", mlvae_average)])
def test_label_variants_keep_exactly_the_labelled_dimension(name, average):
    mu, logvar = _pair_posteriors()
    labels = torch.tensor([0, 3, 1, 1])
    new_mu, new_logvar = models.make_objective(name).posterior(mu, logvar, labels)
    mean, log_var = average(mu[:4], logvar[:4], mu[4:], logvar[4:])
    own = label_mask(labels, 4)
    assert own.sum(1).tolist() == [1, 1, 1, 1] and own[1, 3]
    for half in (slice(0, 4), slice(4, 8)):
        assert torch.equal(new_mu[half][own], mu[half][own])  # the labelled dim: its own
        assert torch.equal(new_logvar[half][own], logvar[half][own])
        assert torch.equal(new_mu[half][~own], mean[~own])   # every other dim: averaged
        assert torch.equal(new_logvar[half][~own], log_var[~own])


def test_adaptive_variant_averages_the_lower_bin():
    mu, logvar = _pair_posteriors()
    objective = models.make_objective("ada_gvae")
    new_mu, _ = objective.posterior(mu, logvar, labels=torch.zeros(4, dtype=torch.long))
    own = adaptive_mask(pair_divergence(mu[:4], logvar[:4], mu[4:], logvar[4:]))
    assert 0 < own.sum() < own.numel()  # this draw has both kinds
    assert torch.equal(new_mu[:4][own], mu[:4][own])
    assert torch.equal(new_mu[:4][~own], new_mu[4:][~own])  # shared dims: one posterior


@pytest.mark.parametrize("name", WEAK)
def test_loss_is_half_the_two_reconstructions_plus_beta_half_the_two_kls(name):
    torch.manual_seed(0)
    vae = models.build_vae(num_channels=1, num_latent=10, seed=0).double()
    objective = models.make_objective(name, {"beta": 4.0})
    x = torch.rand(6, 1, 64, 64, dtype=torch.float64)  # 3 pairs
    labels = torch.tensor([0, 2, 4])
    hook = lambda mu, logvar: objective.posterior(mu, logvar, labels)  # noqa: E731
    out = vae(x, torch.Generator().manual_seed(1), hook)
    terms = objective(out, 0)
    # by hand, with the same noise: encode, average, sample, decode each half
    mu, logvar = objective.posterior(*vae.encode(x), labels)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1), dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps
    rec = bernoulli_reconstruction(vae.decode(z), x)
    kl = gaussian_kl(mu, logvar).sum(1)
    rec1, rec2, kl1, kl2 = rec[:3].mean(), rec[3:].mean(), kl[:3].mean(), kl[3:].mean()
    expected = 0.5 * (rec1 + rec2) + 4.0 * 0.5 * (kl1 + kl2)
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-10)
    assert -out.elbo_loss.item() == pytest.approx(-(0.5 * (rec1 + rec2) + 0.5 * (kl1 + kl2)).item())


def test_registry_and_bad_hyperparameters():
    for name in WEAK:
        assert models.hyperparameters(name) == {"beta": 1.0, "k": 1}
        objective = models.make_objective(name, {"beta": 2, "k": -1})
        assert isinstance(objective, WeakVAE) and objective.trains_on_pairs and objective.k == -1
    assert models.make_objective("ada_ml_vae").aggregation == "ml_vae"
    assert models.make_objective("gvae").uses_labels
    assert not models.make_objective("ada_gvae").uses_labels
    for k in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="k must be -1"):
            models.resolve_hyperparameters("ada_gvae", {"k": k})
    with pytest.raises(ValueError, match="beta must be >= 0"):
        models.resolve_hyperparameters("ml_vae", {"beta": -1.0})
    assert not models.make_objective("beta_vae").trains_on_pairs


@pytest.mark.slow
def test_ada_gvae_averages_the_dimensions_of_the_factors_a_pair_shares(tmp_path):
    """Two factors (a square's x and y), two latent dimensions, k = 1: every pair changes
    exactly one factor (or none), so the only way to share what a pair shares is one dimension
    per factor. After 300 steps the dimension a pair keeps as its own (the upper bin of the
    divergence) is, for every pair that changed x, the dimension that responds to x, and for
    every pair that changed y, the other one: the averaged dimension carries the factor that
    stayed. (On 3 seeds: every pair, every seed; the test allows 5% of pairs to miss.)"""
    import numpy as np

    from dislab.data.pairs import sample_pair_factors
    from dislab.represent import load_model
    from dislab.rundir import to_images
    from dislab.train import TrainConfig, train
    from tests.tiny_data import SquaresXY

    torch.set_num_threads(2)
    data = SquaresXY()
    run_dir = train(TrainConfig(model="ada_gvae", hyperparameters={"beta": 1.0, "k": 1},
                                steps=300, batch_size=32, lr=1e-3, num_latent=2,
                                eval_samples=64, run_dir=str(tmp_path / "run"),
                                progress=False), data=data)
    vae, _ = load_model(run_dir)
    rng = np.random.RandomState(1)
    f1, f2, _ = sample_pair_factors(data, 1000, rng, 1)
    with torch.no_grad():
        q1 = vae.encode(to_images(data.sample_observations_from_factors(f1, rng), "cpu"))
        q2 = vae.encode(to_images(data.sample_observations_from_factors(f2, rng), "cpu"))
        delta = pair_divergence(*q1, *q2)
    own = adaptive_mask(delta).numpy()
    changed = f1 != f2
    x_pairs, y_pairs = changed[:, 0] & ~changed[:, 1], changed[:, 1] & ~changed[:, 0]
    # the dimension that x-pairs diverge on most
    x_dim = int(np.argmax(delta.numpy()[x_pairs].mean(0)))
    assert x_pairs.sum() > 300 and y_pairs.sum() > 300
    assert own[x_pairs, x_dim].mean() >= 0.95 and own[x_pairs, 1 - x_dim].mean() <= 0.05
    assert own[y_pairs, 1 - x_dim].mean() >= 0.95 and own[y_pairs, x_dim].mean() <= 0.05
