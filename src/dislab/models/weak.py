"""Weakly-supervised objectives: Ada-GVAE, Ada-ML-VAE and their label variants (Locatello et
al., *Weakly-Supervised Disentanglement Without Compromises*, ICML 2020; dlib
``methods/weak/weak_vae.py``).

A training example is a pair ``(x1, x2)`` of observations that share all but some factors
(:mod:`dislab.data.pairs`). Both are encoded, ``q1 = N(mu1, v1)`` and ``q2 = N(mu2, v2)``
(``v = exp(logvar)``, per latent dimension). On the dimensions judged *shared*, both images
take one averaged posterior; the others keep their own. Each image's code is then sampled
from its posterior and decoded, and the loss is the beta-VAE loss over the ``2B`` images:

    loss = 0.5 (rec1 + rec2) + beta * 0.5 (KL1 + KL2)

(batch means; the KLs are those of the averaged posteriors against ``N(0, I)``).

Which dimensions are shared:

- adaptive (``ada_gvae``, ``ada_ml_vae``): from the per-dimension divergence
  ``delta_j = v1/v2 + (mu2 - mu1)^2 / v2 - 1 + log v2 - log v1`` (dlib's ``compute_kl``:
  twice ``KL(q1 || q2)``, this direction) and the two-bin threshold
  ``tau = (max_j delta_j + min_j delta_j) / 2`` per example: dimension ``j`` keeps its own
  posterior when ``delta_j >= tau`` (the upper of two equal-width bins between the minimum and
  the maximum, its top edge included); all others are averaged. When every ``delta_j`` is
  equal, every dimension is in the upper bin and none is averaged.
- label (``gvae``, ``ml_vae``): dimension ``label`` (the index of the last changed factor)
  keeps its own posterior and all others are averaged, which ties latent ``j`` to factor ``j``
  (needs at least as many latent dimensions as factors).

How they are averaged:

- GVAE (group averaging, Hosoya 2019): ``mean = (mu1 + mu2) / 2``, ``var = (v1 + v2) / 2``;
- ML-VAE (product of experts, Bouchacourt et al. 2018), as dlib computes it:
  ``var = 2 v1 v2 / (v1 + v2)``, ``mean = (mu1 / v1 + mu2 / v2) var / 2`` (the product's mean;
  the variance is twice the product's).
"""

from __future__ import annotations

import torch

from dislab.models.objectives import Objective, _check
from dislab.models.vae import VAEOutput

AGGREGATIONS = ("gvae", "ml_vae")


def pair_divergence(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor,
                    logvar2: torch.Tensor) -> torch.Tensor:
    """``delta = v1/v2 + (mu2 - mu1)^2 / v2 - 1 + logvar2 - logvar1`` per dimension: twice
    ``KL(N(mu1, v1) || N(mu2, v2))``, dlib's ``compute_kl``."""
    var_ratio = torch.exp(logvar1 - logvar2)
    return var_ratio + (mu2 - mu1).square() * torch.exp(-logvar2) - 1 + logvar2 - logvar1


def adaptive_mask(delta: torch.Tensor) -> torch.Tensor:
    """``True`` where a dimension keeps its own posterior: ``delta_j >= (max + min) / 2`` per
    row (the upper of two equal-width bins, top edge included; all of them when every
    ``delta_j`` is equal)."""
    low, high = delta.min(dim=1, keepdim=True).values, delta.max(dim=1, keepdim=True).values
    return delta >= (low + high) / 2


def label_mask(labels: torch.Tensor, num_latent: int) -> torch.Tensor:
    """``True`` on dimension ``label`` of each row (the only one that keeps its posterior)."""
    return torch.nn.functional.one_hot(labels.long(), num_latent).bool()


def gvae_average(mu1, logvar1, mu2, logvar2) -> tuple[torch.Tensor, torch.Tensor]:
    """Group averaging: ``mean = (mu1 + mu2) / 2``, ``var = (v1 + v2) / 2`` (as log-var)."""
    mean = 0.5 * (mu1 + mu2)
    logvar = torch.logaddexp(logvar1, logvar2) - torch.log(torch.tensor(2.0, dtype=mu1.dtype))
    return mean, logvar


def mlvae_average(mu1, logvar1, mu2, logvar2) -> tuple[torch.Tensor, torch.Tensor]:
    """dlib's product of experts: ``var = 2 v1 v2 / (v1 + v2)``,
    ``mean = (mu1 / v1 + mu2 / v2) var / 2`` (as log-var)."""
    logvar = (torch.log(torch.tensor(2.0, dtype=mu1.dtype)) + logvar1 + logvar2
              - torch.logaddexp(logvar1, logvar2))
    mean = 0.5 * (mu1 * torch.exp(logvar - logvar1) + mu2 * torch.exp(logvar - logvar2))
    return mean, logvar


class WeakVAE(Objective):
    """A weakly-supervised VAE (module docstring): ``beta`` weights the KL of the averaged
    posteriors; ``k`` is how many factors a pair changes (-1: random in 1..F-1, the paper's
    "k = rnd"; read by the training loop, which draws the pairs); ``aggregation`` is ``"gvae"``
    or ``"ml_vae"``; ``adaptive`` chooses the shared dimensions from the divergence, otherwise
    from the pair's label.
    """

    trains_on_pairs = True

    def __init__(self, beta: float = 1.0, k: int = 1, aggregation: str = "gvae",
                 adaptive: bool = True):
        super().__init__()
        self.beta = _check("beta", beta)
        if isinstance(k, bool) or not isinstance(k, int) or not (k == -1 or k >= 1):
            raise ValueError(f"k must be -1 (random) or an int >= 1, got {k!r}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, "
                             f"got {aggregation!r}")
        self.k, self.aggregation, self.adaptive = k, aggregation, bool(adaptive)
        self.uses_labels = not self.adaptive

    def posterior(self, mu: torch.Tensor, logvar: torch.Tensor,
                  labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posteriors of ``[x1; x2]`` (rows ``0..B-1`` then ``B..2B-1``) after averaging
        the shared dimensions of each pair."""
        (mu1, mu2), (logvar1, logvar2) = mu.chunk(2), logvar.chunk(2)
        average = gvae_average if self.aggregation == "gvae" else mlvae_average
        mean, log_var = average(mu1, logvar1, mu2, logvar2)
        if self.adaptive:
            own = adaptive_mask(pair_divergence(mu1, logvar1, mu2, logvar2))
        else:
            own = label_mask(labels, mu.shape[1])
        shared_mu = torch.cat([torch.where(own, mu1, mean), torch.where(own, mu2, mean)])
        shared_logvar = torch.cat([torch.where(own, logvar1, log_var),
                                   torch.where(own, logvar2, log_var)])
        return shared_mu, shared_logvar

    def regularizer(self, out: VAEOutput, global_step: int, generator):
        return {"regularizer": self.beta * out.kl}
