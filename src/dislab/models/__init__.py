"""Models of the study: the Gaussian-encoder VAE and the six objectives, by the study's names,
and the four weakly-supervised objectives of the follow-up study (:mod:`dislab.models.weak`).

>>> from dislab import models
>>> models.names()
['beta_vae', 'annealed_vae', 'factor_vae', 'dip_vae_i', 'dip_vae_ii', 'beta_tc_vae', 'dip_vae',
 'ada_gvae', 'ada_ml_vae', 'gvae', 'ml_vae']
>>> models.hyperparameters("dip_vae_ii")
{'lambda_od': 1.0, 'lambda_d_factor': 1.0}
>>> vae = models.build_vae(num_channels=1, num_latent=10, seed=0)
>>> objective = models.make_objective("beta_vae", {"beta": 4})

Defaults are dlib's fixed values and, for the swept hyperparameter, the first value of the
study's sweep (dlib ``config/unsupervised_study_v1/sweep.py``): beta_vae beta 1 (the plain
VAE), factor_vae gamma 10, dip_vae_i lambda_od 1 (lambda_d_factor 10), dip_vae_ii lambda_od 1
(lambda_d_factor 1), beta_tc_vae beta 1, annealed_vae c_max 5 (gamma 1000,
iteration_threshold 100,000). The weak models take ``beta`` (default 1) and ``k`` (factors
changed per pair: default 1, -1 for random in 1..F-1).
"""

from __future__ import annotations

from typing import Any

import torch

from dislab.models import objectives, weak
from dislab.models.architectures import (
    DECODERS,
    ENCODERS,
    make_decoder,
    make_encoder,
    num_parameters,
)
from dislab.models.vae import GaussianEncoderVAE, VAEOutput

# name -> (objective class, default hyperparameters, fixed constructor arguments)
_MODELS: dict[str, tuple[type[objectives.Objective], dict[str, Any], dict[str, Any]]] = {
    "beta_vae": (objectives.BetaVAE, {"beta": 1.0}, {}),
    "annealed_vae": (objectives.AnnealedVAE,
                     {"c_max": 5.0, "gamma": 1000.0, "iteration_threshold": 100_000}, {}),
    "factor_vae": (objectives.FactorVAE, {"gamma": 10.0, "dlib_step_parity": True}, {}),
    "dip_vae_i": (objectives.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 10.0},
                  {"dip_type": "i"}),
    "dip_vae_ii": (objectives.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 1.0},
                   {"dip_type": "ii"}),
    "beta_tc_vae": (objectives.BetaTCVAE, {"beta": 1.0}, {}),
    "dip_vae": (objectives.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 10.0, "dip_type": "i"},
                {}),
    # weak supervision (Locatello et al. 2020): trained on pairs, k factors changed per pair
    "ada_gvae": (weak.WeakVAE, {"beta": 1.0, "k": 1}, {"aggregation": "gvae", "adaptive": True}),
    "ada_ml_vae": (weak.WeakVAE, {"beta": 1.0, "k": 1},
                   {"aggregation": "ml_vae", "adaptive": True}),
    "gvae": (weak.WeakVAE, {"beta": 1.0, "k": 1}, {"aggregation": "gvae", "adaptive": False}),
    "ml_vae": (weak.WeakVAE, {"beta": 1.0, "k": 1}, {"aggregation": "ml_vae", "adaptive": False}),
}


def names() -> list[str]:
    """Model names (the study's six, the generic ``dip_vae`` with ``dip_type``, then the four
    weakly-supervised ones)."""
    return list(_MODELS)


def _entry(name: str):
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(names())}") from None


def _check_names(name: str, params: dict, defaults: dict) -> None:
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {', '.join(unknown)} for {name}; "
                         f"valid: {', '.join(defaults)}")


def hyperparameters(name: str) -> dict[str, Any]:
    """The hyperparameters of model ``name`` with their defaults."""
    return dict(_entry(name)[1])


def resolve_hyperparameters(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults of ``name`` updated with ``params``; unknown names give a ``ValueError``
    listing the valid ones, and invalid values are rejected by building the objective.
    Integral floats are accepted for int hyperparameters (``iteration_threshold=1e5``)."""
    defaults = hyperparameters(name)
    params = dict(params or {})
    _check_names(name, params, defaults)
    for key, value in params.items():
        default = defaults[key]
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif (isinstance(default, int) and not isinstance(default, bool)
              and isinstance(value, float) and value.is_integer()):
            value = int(value)
        defaults[key] = value
    make_objective(name, defaults, generator=torch.Generator())  # validates the values
    return defaults


def make_objective(name: str, params: dict[str, Any] | None = None, num_latent: int = 10,
                   generator: torch.Generator | None = None) -> objectives.Objective:
    """The objective ``name`` with hyperparameters ``params`` (defaults for missing ones).

    ``num_latent`` and ``generator`` (CPU, for the initial weights; seed 0 when None) matter
    only for objectives with parameters (FactorVAE's discriminator).
    """
    cls, defaults, fixed = _entry(name)
    _check_names(name, params or {}, defaults)
    kwargs = {**defaults, **(params or {}), **fixed}
    if cls is objectives.FactorVAE:
        kwargs.update(num_latent=num_latent, generator=generator)
    return cls(**kwargs)


def build_vae(num_channels: int = 1, num_latent: int = 10, encoder: str = "conv",
              decoder: str = "deconv", generator: torch.Generator | None = None,
              seed: int | None = None) -> GaussianEncoderVAE:
    """The VAE with Glorot-uniform weights and zero biases drawn from ``generator``
    (or else a fresh CPU generator seeded with ``seed``, default 0)."""
    if num_channels not in (1, 3):
        raise ValueError(f"num_channels must be 1 or 3, got {num_channels!r}")
    if isinstance(num_latent, bool) or not isinstance(num_latent, int) or num_latent < 1:
        raise ValueError(f"num_latent must be an int >= 1, got {num_latent!r}")
    if generator is None:
        generator = torch.Generator().manual_seed(seed or 0)
    return GaussianEncoderVAE(make_encoder(encoder, num_channels, num_latent, generator),
                              make_decoder(decoder, num_latent, num_channels, generator))


__all__ = [
    "DECODERS",
    "ENCODERS",
    "GaussianEncoderVAE",
    "VAEOutput",
    "build_vae",
    "hyperparameters",
    "make_objective",
    "names",
    "num_parameters",
    "objectives",
    "resolve_hyperparameters",
]
