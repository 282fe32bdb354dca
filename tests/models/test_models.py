"""Architectures, losses and objectives against known answers: dlib's loss definitions
(``methods/unsupervised/vae.py``), the values of its unit tests (``vae_test.py``) and the
parameter counts of the study's networks."""

import math

import numpy as np
import pytest
import torch

from dislab import models
from dislab.models import objectives as obj
from dislab.models.architectures import Discriminator, num_parameters
from dislab.models.vae import (
    VAEOutput,
    bernoulli_reconstruction,
    gaussian_kl,
    gaussian_log_density,
)


@pytest.mark.parametrize("channels,enc,dec", [(1, 309_204, 381_313), (3, 310_228, 382_339)])
def test_parameter_counts_match_spec(channels, enc, dec):
    vae = models.build_vae(channels, 10, seed=0)
    assert num_parameters(vae.encoder) == enc
    assert num_parameters(vae.decoder) == dec
    assert num_parameters(Discriminator(10)) == 5_018_002


def test_feature_map_sizes_and_output_layout():
    vae = models.build_vae(3, 10, seed=0).to(memory_format=torch.channels_last)
    x = torch.rand(2, 64, 64, 3).permute(0, 3, 1, 2)
    sizes = []
    h = x
    for layer in vae.encoder.convs:
        h = layer(h)
        if isinstance(layer, torch.nn.Conv2d):
            sizes.append(h.shape[-1])
    assert sizes == [32, 16, 8, 4]
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (2, 10)
    logits = vae.decode(mu)
    assert logits.shape == (2, 3, 64, 64)


def test_fc_architectures_shapes():
    vae = models.build_vae(1, 4, encoder="fc", decoder="fc", seed=0)
    mu, _ = vae.encode(torch.rand(2, 1, 64, 64))
    assert vae.decode(mu).shape == (2, 1, 64, 64)


def test_glorot_uniform_init_and_zero_biases():
    vae = models.build_vae(1, 10, seed=0)
    w = vae.encoder.dense[0].weight  # 1024 -> 256
    bound = math.sqrt(6 / (1024 + 256))
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert abs(w.var().item() - bound**2 / 3) < 0.02 * bound**2  # variance of U(-a, a)
    conv = vae.encoder.convs[2].weight  # 32 -> 64, 2x2: fans 4*32 and 4*64
    assert conv.abs().max() <= math.sqrt(6 / (4 * 32 + 4 * 64))
    assert all(torch.count_nonzero(b) == 0 for n, b in vae.named_parameters() if "bias" in n)


def test_init_is_seeded_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = models.build_vae(1, 10, seed=5).state_dict()
    b = models.build_vae(1, 10, seed=5).state_dict()
    c = models.build_vae(1, 10, seed=6).state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["encoder.means.weight"], c["encoder.means.weight"])


def test_wrong_input_shape_is_rejected():
    vae = models.build_vae(1, 10, seed=0)
    with pytest.raises(ValueError, match=r"\[N, 1, 64, 64\]"):
        vae.encode(torch.rand(2, 3, 64, 64))


def test_gaussian_kl_known_values():
    z = torch.zeros(1, 10)
    assert gaussian_kl(z, z).sum().item() == 0
    assert gaussian_kl(z + 1, z).sum().item() == pytest.approx(5.0)
    assert gaussian_kl(z + 1, z + 1).sum().item() == pytest.approx(5 * (math.e - 1), rel=1e-6)
    mu, logvar = torch.tensor([0.5, -2.0]), torch.tensor([-1.0, 0.3])
    closed = 0.5 * (mu**2 + logvar.exp() - logvar - 1)  # KL(N(mu, s^2) || N(0, 1))
    s2 = logvar.exp()
    expected = torch.log(1 / s2.sqrt()) + (s2 + mu**2) / 2 - 0.5
    torch.testing.assert_close(closed, expected)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)


def test_gaussian_log_density_known_values():
    one, zero = torch.tensor(1.0), torch.tensor(0.0)
    assert gaussian_log_density(one, zero, zero).item() == pytest.approx(-1.41894, abs=1e-5)
    assert gaussian_log_density(one, one, zero).item() == pytest.approx(-0.91894, abs=1e-5)


def test_bernoulli_reconstruction_sums_pixels():
    logits = torch.zeros(2, 1, 64, 64)
    x = torch.rand(2, 1, 64, 64)
    # sigmoid(0) = 1/2: every pixel costs log 2 whatever the target
    torch.testing.assert_close(bernoulli_reconstruction(logits, x),
                               torch.full((2,), 4096 * math.log(2)))
    logits = torch.tensor([[[[2.0, -1.0]]]])
    x = torch.tensor([[[[1.0, 0.25]]]])
    expected = math.log1p(math.exp(-2.0)) + (0.25 * math.log1p(math.exp(1.0))
                                             + 0.75 * math.log1p(math.exp(-1.0)))
    assert bernoulli_reconstruction(logits, x).item() == pytest.approx(expected, rel=1e-6)


def _output(mu, logvar, z=None, recon=100.0):
    mu, logvar = torch.as_tensor(mu), torch.as_tensor(logvar)
    kl = gaussian_kl(mu, logvar).sum(1).mean()
    return VAEOutput(mu=mu, logvar=logvar, z=mu if z is None else z, logits=None,
                     reconstruction=torch.tensor(recon), kl=kl)


def test_beta_vae_regulariser_and_plain_vae():
    out = _output([[1.0, 0.0]], [[0.0, 0.0]])  # KL = 0.5
    terms = models.make_objective("beta_vae", {"beta": 4})(out, 0)
    assert terms["regularizer"].item() == pytest.approx(2.0)
    plain = models.make_objective("beta_vae")(out, 0)  # beta = 1 is the VAE
    assert plain["loss"].item() == pytest.approx(out.elbo_loss.item()) == pytest.approx(100.5)


def test_anneal_schedule_matches_dlib():
    assert [obj.anneal(100, t, 100) for t in (0, 10, 100, 101)] == [0, 10, 100, 100]


def test_annealed_vae_uses_abs_of_batch_mean_kl():
    """dlib: ``gamma * |mean_b KL_b - C(t)|``, not ``gamma * mean_b |KL_b - C(t)|``. The two
    agree when C is on one side of every KL_b, so the capacities here lie between them."""
    out = _output([[2.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]])
    per_sample = gaussian_kl(out.mu, out.logvar).sum(1)
    assert per_sample.tolist() == [4.0, 0.0] and out.kl.item() == 2.0
    gamma, c_max, threshold = 1000, 5, 10
    annealed = models.make_objective(
        "annealed_vae", {"c_max": c_max, "gamma": gamma, "iteration_threshold": threshold})
    for step, capacity in [(2, 1.0), (6, 3.0)]:  # C(t) = min(c_max, c_max t / threshold)
        assert obj.anneal(c_max, step, threshold) == capacity
        assert 0.0 < capacity < 4.0  # KL_2 < C < KL_1
        batch_mean = gamma * abs(2.0 - capacity)  # 1000 for both capacities
        per_sample_mean = gamma * (per_sample - capacity).abs().mean().item()  # 2000
        assert per_sample_mean != pytest.approx(batch_mean)  # the test tells them apart
        assert annealed(out, step)["regularizer"].item() == pytest.approx(batch_mean)
    # past the threshold C = c_max = 5 is above both KLs: both formulas give 3000
    assert annealed(out, 10**6)["regularizer"].item() == pytest.approx(3000.0)


def test_dip_penalty_known_values():
    pen = obj.diag_off_diag_penalty
    assert pen(torch.ones(10, 10), 1, 1).item() == pytest.approx(90)
    assert pen(torch.zeros(10, 10), 1, 1).item() == pytest.approx(10)
    assert pen(torch.eye(10), 1, 1).item() == 0
    assert pen(2 * torch.eye(10), 1, 1).item() == pytest.approx(10)


def test_biased_covariance_by_hand():
    v = torch.tensor([[1.0, 2.0], [3.0, 0.0], [2.0, 1.0]])
    # means (2, 1); deviations (-1, 1), (1, -1), (0, 0); divide by B = 3
    expected = torch.tensor([[2 / 3, -2 / 3], [-2 / 3, 2 / 3]])
    torch.testing.assert_close(obj.covariance(v), expected)
    samples = torch.from_numpy(np.random.RandomState(0).multivariate_normal(
        [0, 0], [[1.0, 0.5], [0.5, 2.0]], size=100_000)).float()
    assert ((obj.covariance(samples) - torch.tensor([[1.0, 0.5], [0.5, 2.0]])) ** 2).sum() < 0.01


def test_dip_vae_i_and_ii_by_hand():
    mu = [[1.0, 2.0], [3.0, 0.0], [2.0, 1.0]]  # Cov = [[2/3, -2/3], [-2/3, 2/3]]
    logvar = [[0.0, math.log(2)], [0.0, math.log(2)], [0.0, math.log(2)]]
    out = _output(mu, logvar)
    kl = out.kl.item()
    dip1 = models.make_objective("dip_vae_i", {"lambda_od": 2, "lambda_d_factor": 10})
    # lambda_od * 2 * (2/3)^2 + lambda_d (= 20) * 2 * (2/3 - 1)^2
    expected1 = 2 * 2 * (4 / 9) + 20 * 2 * (1 / 9)
    assert dip1(out, 0)["regularizer"].item() == pytest.approx(kl + expected1, rel=1e-5)
    dip2 = models.make_objective("dip_vae_ii", {"lambda_od": 2})  # lambda_d_factor 1
    # diag becomes (2/3 + 1, 2/3 + 2); off-diagonal unchanged
    expected2 = 2 * 2 * (4 / 9) + 2 * ((2 / 3) ** 2 + (5 / 3) ** 2)
    assert dip2(out, 0)["regularizer"].item() == pytest.approx(kl + expected2, rel=1e-5)


def test_total_correlation_independent_codes_matches_spec():
    # mu = 0, logvar = 0: every L[j, i, k] is the same for all i, so TC = -(d - 1) log B
    # exactly (dlib's vae_test: B = 10,000 gives -82.893; B = 1,000 keeps the B x B x d
    # tensor small)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(1000, 10, generator=gen, dtype=torch.float64)
    zeros = torch.zeros_like(z)
    tc = obj.total_correlation(z, zeros, zeros).item()
    assert tc == pytest.approx(-9 * math.log(1000), abs=1e-6)
    tc1 = obj.total_correlation(z[:, :1], zeros[:, :1], zeros[:, :1]).item()
    assert tc1 == pytest.approx(0.0, abs=1e-9)


def test_total_correlation_small_batch_by_hand():
    z = torch.tensor([[0.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    mu = torch.tensor([[0.5, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, 0.5], [-0.3, 0.0]], dtype=torch.float64)
    log_n = lambda x, m, lv: -0.5 * ((x - m) ** 2 / math.exp(lv) + lv + math.log(2 * math.pi))  # noqa: E731
    total = 0.0
    for j in range(2):
        joint = [sum(log_n(z[j, k], mu[i, k], logvar[i, k]) for k in range(2)) for i in range(2)]
        marg = [math.log(sum(math.exp(log_n(z[j, k], mu[i, k], logvar[i, k])) for i in range(2)))
                for k in range(2)]
        total += math.log(sum(math.exp(v) for v in joint)) - sum(marg)
    assert obj.total_correlation(z, mu, logvar).item() == pytest.approx(total / 2, rel=1e-12)


def test_total_correlation_is_stable_for_far_codes():
    z = torch.tensor([[1000.0, 0.0], [-1000.0, 0.0]])
    tc = obj.total_correlation(z, z, torch.full_like(z, -20.0))
    assert torch.isfinite(tc)


def test_beta_tc_vae_regulariser():
    out = _output([[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]],
                  z=torch.tensor([[0.3, -0.2], [1.0, 0.5]]))
    tc = obj.total_correlation(out.z, out.mu, out.logvar)
    terms = models.make_objective("beta_tc_vae", {"beta": 6})(out, 0)
    assert terms["regularizer"].item() == pytest.approx((out.kl + 5 * tc).item())


def test_permute_dims_permutes_each_column_independently():
    z = torch.arange(200.0).reshape(100, 2) * torch.tensor([1.0, -1.0])
    p = obj.permute_dims(z, torch.Generator().manual_seed(0))
    for k in range(2):
        assert sorted(p[:, k].tolist()) == sorted(z[:, k].tolist())
    rows = {tuple(r) for r in z.tolist()}
    assert sum(tuple(r) in rows for r in p.tolist()) < 10  # columns not moved together


def test_factor_vae_logit_difference_and_discriminator_loss():
    factor = models.make_objective("factor_vae", {"gamma": 30}, num_latent=2)
    last = factor.discriminator.net[-1]
    with torch.no_grad():  # make the discriminator output fixed logits (3, 1) for every z
        for p in factor.discriminator.parameters():
            p.zero_()
        last.bias.copy_(torch.tensor([3.0, 1.0]))
    out = _output([[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]],
                  z=torch.tensor([[0.3, -0.2], [1.0, 0.5]]))
    terms = factor(out, 0, torch.Generator().manual_seed(0))
    assert terms["tc"].item() == pytest.approx(2.0)
    assert terms["regularizer"].item() == pytest.approx(out.kl.item() + 60.0)
    p0 = 1 / (1 + math.exp(-2))  # softmax of (3, 1)
    expected = -(0.5 * math.log(p0) + 0.5 * math.log(1 - p0))
    assert terms["discriminator_loss"].item() == pytest.approx(expected, rel=1e-6)


def test_discriminator_loss_clips_probabilities():
    big = torch.tensor([[100.0, -100.0]])
    # p1 of the permuted sample is ~e^-200, clipped to 1e-6
    value = obj.discriminator_loss(big, big).item()
    assert value == pytest.approx(-0.5 * math.log(1e-6), rel=1e-5)


def test_factor_vae_step_parity_option():
    assert models.make_objective("factor_vae").steps_per_iteration == 2
    fixed = models.make_objective("factor_vae", {"dlib_step_parity": False})
    assert fixed.steps_per_iteration == 1
    assert models.make_objective("beta_vae").steps_per_iteration == 1


def test_registry_names_and_defaults():
    assert models.names()[:6] == ["beta_vae", "annealed_vae", "factor_vae", "dip_vae_i",
                                  "dip_vae_ii", "beta_tc_vae"]
    assert models.hyperparameters("dip_vae_i") == {"lambda_od": 1.0, "lambda_d_factor": 10.0}
    assert models.make_objective("dip_vae_ii").dip_type == "ii"
    assert models.resolve_hyperparameters("annealed_vae", {"iteration_threshold": 1e5}) == {
        "c_max": 5.0, "gamma": 1000.0, "iteration_threshold": 100_000}


@pytest.mark.parametrize("name,params,match", [
    ("nope", {}, "valid: beta_vae, annealed_vae"),
    ("beta_vae", {"gamma": 1}, "valid: beta"),
    ("beta_vae", {"beta": -1}, "beta must be >= 0"),
    ("beta_tc_vae", {"beta": float("nan")}, "finite"),
    ("annealed_vae", {"c_max": 0}, "c_max must be > 0"),
    ("annealed_vae", {"iteration_threshold": 0}, "iteration_threshold"),
    ("dip_vae", {"dip_type": "iii"}, "dip_type"),
    ("dip_vae_i", {"lambda_od": -2}, "lambda_od"),
    ("factor_vae", {"gamma": "ten"}, "gamma must be a finite number"),
])
def test_invalid_models_and_hyperparameters(name, params, match):
    with pytest.raises(ValueError, match=match):
        models.resolve_hyperparameters(name, params)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="valid: conv, fc"):
        models.build_vae(1, 10, encoder="resnet")
