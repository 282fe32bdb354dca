"""The Gaussian-encoder VAE shared by all six objectives (dlib ``methods/unsupervised/vae.py``
``BaseVAE`` and ``gaussian_encoder_model.py``).

For a batch ``x`` of ``B`` images:

- ``mu, logvar = encoder(x)`` (``logvar = log sigma^2``, unconstrained);
- ``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` from an explicit ``torch.Generator``;
- ``logits = decoder(z)``;
- reconstruction ``= mean_b sum_pixels BCEWithLogits(logits, x)`` (targets are the [0, 1]
  pixel values; nothing is subtracted);
- ``KL = mean_b 0.5 * sum_k (mu_k^2 + exp(logvar_k) - logvar_k - 1)``;
- the ELBO loss is ``reconstruction + KL`` (dlib logs ``elbo = -(reconstruction + KL)``).

Under bf16 autocast (``TrainConfig.precision``) the convolutions and matmuls run in bf16, while
``mu``, ``logvar``, the logits and every loss term are fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-dimension ``KL(N(mu, exp(logvar)) || N(0, 1)) = 0.5 (mu^2 + e^logvar - logvar - 1)``."""
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1)


def bernoulli_reconstruction(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Bernoulli negative log-likelihood on logits, summed over pixels and channels."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(1)


def gaussian_log_density(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(x; mu, exp(logvar)) = -0.5 ((x - mu)^2 exp(-logvar) + logvar + log 2 pi)``."""
    return -0.5 * ((x - mu).square() * torch.exp(-logvar) + logvar + _LOG_2PI)


def sample_from_latent(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Reparameterised draw ``mu + exp(logvar / 2) * eps`` (``eps`` from ``generator``)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


@dataclass
class VAEOutput:
    """One forward pass: codes, logits and the two batch-mean loss terms."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor
    reconstruction: torch.Tensor  # scalar, batch mean
    kl: torch.Tensor  # scalar, batch mean of the summed KL

    @property
    def elbo_loss(self) -> torch.Tensor:
        return self.reconstruction + self.kl


def _full(t: torch.Tensor) -> torch.Tensor:
    """``t`` in fp32 when autocast left it in a half type (the losses are computed in fp32)."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class GaussianEncoderVAE(nn.Module):
    """Encoder + decoder; :meth:`forward` returns a :class:`VAEOutput`.

    Images are NCHW tensors (channels-last memory preferred) with values in [0, 1].
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of the images for codes ``z``."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None,
                posterior=None) -> VAEOutput:
        """``posterior(mu, logvar) -> (mu, logvar)``, when given, changes the encoder's
        posteriors before the codes are drawn (weak supervision averages those of pairs); the
        output's ``mu``, ``logvar`` and KL are then those of the changed posteriors."""
        mu, logvar = (_full(t) for t in self.encoder(x))  # fp32 under bf16 autocast too
        if posterior is not None:
            mu, logvar = posterior(mu, logvar)
        z = sample_from_latent(mu, logvar, generator)
        logits = _full(self.decoder(z))
        return VAEOutput(
            mu=mu,
            logvar=logvar,
            z=z,
            logits=logits,
            reconstruction=bernoulli_reconstruction(logits, x).mean(),
            kl=gaussian_kl(mu, logvar).sum(1).mean(),
        )
