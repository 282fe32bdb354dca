"""The six objectives of the study, each the few lines that differ from the plain VAE
(dlib ``methods/unsupervised/vae.py``; the batch statistics come from
:class:`dislab.models.vae.VAEOutput`).

An objective maps one forward pass to ``{"loss", "regularizer", ...}``; the VAE optimiser
minimises ``loss = reconstruction + regularizer``. The one hook beyond that is FactorVAE's
discriminator: an objective may own parameters, return a ``"discriminator_loss"`` and build
its own optimiser with :meth:`Objective.make_optimizer`. The training loop then takes the
gradient of ``loss`` w.r.t. the VAE parameters and of ``discriminator_loss`` w.r.t. the
objective's parameters, both at the same (pre-update) parameter values, and steps both
optimisers: dlib's simultaneous ``tf.group`` update.

Faithful-to-dlib choices (each what dlib's ``vae.py`` does, not what the models' papers
describe), all deliberate:

- beta-TCVAE's total-correlation estimate omits the ``log(B N)`` constants of the
  minibatch-weighted estimator (so it is about ``-(d - 1) log B`` for independent codes);
- AnnealedVAE takes ``|KL - C(t)|`` of the *batch-mean* KL, ``t`` being the global step
  before the update;
- FactorVAE permutes each latent column of the *same* minibatch (not a second batch);
- FactorVAE's global step advances twice per iteration in dlib; see :class:`FactorVAE`.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

from dislab.models.architectures import Discriminator, build
from dislab.models.vae import VAEOutput, gaussian_log_density

Terms = dict[str, torch.Tensor]


def _check(name: str, value, *, positive: bool = False) -> float:
    """``value`` as a finite float that is >= 0 (> 0 with ``positive``), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


class Objective(nn.Module):
    """Base class: ``regularizer(out, global_step, generator)`` is the only required method.

    ``steps_per_iteration`` is how far one training iteration advances the global step
    (the step budget of a run is counted in global steps, as dlib's ``training_steps``).
    """

    steps_per_iteration: int = 1
    #: Whether it trains on pairs of observations (weak supervision,
    #: :mod:`dislab.models.weak`): the loop then draws pairs (``k`` factors changed, see
    #: :mod:`dislab.data.pairs`), encodes ``[x1; x2]`` and hands the posteriors and the pairs'
    #: labels to :meth:`posterior` before sampling the codes.
    trains_on_pairs: bool = False

    def posterior(self, mu: torch.Tensor, logvar: torch.Tensor, labels: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The posteriors the codes are drawn from (pair objectives only)."""
        raise NotImplementedError

    def regularizer(self, out: VAEOutput, global_step: int, generator) -> Terms:
        raise NotImplementedError

    def forward(self, out: VAEOutput, global_step: int, generator=None) -> Terms:
        """The regulariser (always computed in fp32, also under bf16 autocast) and
        ``loss = reconstruction + regularizer``."""
        with torch.autocast(out.mu.device.type, enabled=False):
            terms = self.regularizer(out, global_step, generator)
        terms["loss"] = out.reconstruction + terms["regularizer"]
        return terms

    def make_optimizer(self, lr: float, eps: float) -> torch.optim.Optimizer | None:
        """The optimiser of the objective's own parameters (none by default)."""
        return None


class BetaVAE(Objective):
    """beta-VAE (Higgins et al. 2017): ``regularizer = beta * KL``; ``beta = 1`` is the VAE."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = _check("beta", beta)

    def regularizer(self, out, global_step, generator):
        return {"regularizer": self.beta * out.kl}


def anneal(c_max: float, step: int, iteration_threshold: int) -> float:
    """Capacity ``C(t) = min(c_max, c_max * t / iteration_threshold)``."""
    return min(c_max, c_max * step / iteration_threshold)


class AnnealedVAE(Objective):
    """AnnealedVAE (Burgess et al. 2018, Eq. 8): ``regularizer = gamma * |KL - C(t)|``.

    ``KL`` is the batch mean (dlib), ``t`` the global step before the update.
    """

    def __init__(self, c_max: float = 25.0, gamma: float = 1000.0,
                 iteration_threshold: int = 100_000):
        super().__init__()
        self.c_max = _check("c_max", c_max, positive=True)
        self.gamma = _check("gamma", gamma, positive=True)
        if isinstance(iteration_threshold, bool) or not isinstance(iteration_threshold, int) \
                or iteration_threshold <= 0:
            raise ValueError(f"iteration_threshold must be an int > 0, got {iteration_threshold!r}")
        self.iteration_threshold = iteration_threshold

    def regularizer(self, out, global_step, generator):
        capacity = anneal(self.c_max, global_step, self.iteration_threshold)
        return {"regularizer": self.gamma * (out.kl - capacity).abs()}


def permute_dims(z: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Shuffle every column of ``z [B, d]`` independently within the batch (dlib
    ``shuffle_codes``): a sample of the product of the marginals."""
    keys = torch.rand(z.shape, generator=generator, device=z.device)
    return torch.gather(z, 0, keys.argsort(dim=0))


def discriminator_loss(logits_real: torch.Tensor, logits_perm: torch.Tensor) -> torch.Tensor:
    """``-(0.5 mean log p0(z) + 0.5 mean log p1(perm z))`` with softmax probabilities clipped
    to ``[1e-6, 1 - 1e-6]`` as dlib does (the logits themselves are not clipped)."""
    p_real = F.softmax(logits_real, dim=1).clamp(1e-6, 1 - 1e-6)
    p_perm = F.softmax(logits_perm, dim=1).clamp(1e-6, 1 - 1e-6)
    return -(0.5 * p_real[:, 0].log().mean() + 0.5 * p_perm[:, 1].log().mean())


class FactorVAE(Objective):
    """FactorVAE (Kim & Mnih 2018, Eq. 2): ``regularizer = KL + gamma * TC``,
    ``TC = mean_b (D0(z_b) - D1(z_b))`` from the discriminator's logits at the sampled ``z``
    (the gradient flows through the discriminator into the encoder).

    The discriminator (6 x 1000 leaky-ReLU(0.2), Glorot init) has its own Adam with
    betas (0.5, 0.9) and is trained on ``z.detach()`` against :func:`permute_dims` of it.

    **Step counting.** dlib hands ``global_step`` to both ``minimize`` calls, so the global
    step advances by 2 per iteration and a 300,000-step run makes about 150,000 updates
    (TF1 semantics of dlib's ``FactorVAE.model_fn``; dlib never states it). With
    ``dlib_step_parity=True`` (the default) dislab reproduces that: each
    iteration counts as 2 global steps, so the study's step budget gives the models the paper
    evaluated, at half the cost. ``dlib_step_parity=False`` is the "fixed" mode (one step
    per update, 300,000 updates).
    """

    def __init__(self, gamma: float = 10.0, num_latent: int = 10, dlib_step_parity: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.gamma = _check("gamma", gamma)
        if not isinstance(dlib_step_parity, bool):
            raise ValueError(f"dlib_step_parity must be a bool, got {dlib_step_parity!r}")
        self.dlib_step_parity = dlib_step_parity
        self.steps_per_iteration = 2 if dlib_step_parity else 1
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.discriminator = build(Discriminator, num_latent, generator=generator)

    def regularizer(self, out, global_step, generator):
        z_perm = permute_dims(out.z.detach(), generator)
        logits = self.discriminator(torch.cat([out.z, z_perm]))
        logits_real, logits_perm = logits.split(len(out.z))
        tc = (logits_real[:, 0] - logits_real[:, 1]).mean()
        return {
            "regularizer": out.kl + self.gamma * tc,
            "tc": tc,
            "discriminator_loss": discriminator_loss(logits_real, logits_perm),
        }

    def make_optimizer(self, lr, eps):
        return torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.9), eps=eps)


def covariance(v: torch.Tensor) -> torch.Tensor:
    """Biased batch covariance ``E[v v^T] - E[v] E[v]^T`` of ``v [B, d]`` (divides by B)."""
    mean = v.mean(0)
    return (v.T @ v) / len(v) - torch.outer(mean, mean)


def diag_off_diag_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """``lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2``."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * off.square().sum() + lambda_d * (diag - 1).square().sum()


class DIPVAE(Objective):
    """DIP-VAE (Kumar et al. 2018): ``regularizer = KL + penalty(Cov)`` with
    :func:`diag_off_diag_penalty` and ``lambda_d = lambda_d_factor * lambda_od``.

    ``dip_type="i"``: ``Cov = Cov_b[mu]``; ``"ii"``: ``Cov = Cov_b[mu] + mean_b diag(exp(logvar))``.
    """

    def __init__(self, lambda_od: float = 1.0, lambda_d_factor: float = 10.0,
                 dip_type: str = "i"):
        super().__init__()
        if dip_type not in ("i", "ii"):
            raise ValueError(f"dip_type must be 'i' or 'ii', got {dip_type!r}")
        self.lambda_od = _check("lambda_od", lambda_od)
        self.lambda_d = _check("lambda_d_factor", lambda_d_factor) * self.lambda_od
        self.dip_type = dip_type

    def regularizer(self, out, global_step, generator):
        cov = covariance(out.mu)
        if self.dip_type == "ii":
            cov = cov + torch.diag(out.logvar.exp().mean(0))
        penalty = diag_off_diag_penalty(cov, self.lambda_od, self.lambda_d)
        return {"regularizer": out.kl + penalty}


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """dlib's minibatch-weighted TC estimate over one batch (no ``log(B N)`` constants):

    ``L[j, i, k] = log N(z_jk; mu_ik, exp(logvar_ik))``,
    ``TC = mean_j [logsumexp_i sum_k L[j, i, k] - sum_k logsumexp_i L[j, i, k]]``.
    About ``-(d - 1) log B`` for independent codes with ``mu = 0, logvar = 0``.
    """
    log_qz_ik = gaussian_log_density(z[:, None, :], mu[None], logvar[None])  # [B, B, d]
    log_qz = torch.logsumexp(log_qz_ik.sum(2), dim=1)
    log_prod_qz = torch.logsumexp(log_qz_ik, dim=1).sum(1)
    return (log_qz - log_prod_qz).mean()


class BetaTCVAE(Objective):
    """beta-TCVAE (Chen et al. 2018, Eq. 4 with alpha = gamma = 1):
    ``regularizer = KL + (beta - 1) * TC`` with :func:`total_correlation`."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = _check("beta", beta)

    def regularizer(self, out, global_step, generator):
        tc = total_correlation(out.z, out.mu, out.logvar)
        return {"regularizer": out.kl + (self.beta - 1) * tc, "tc": tc}
