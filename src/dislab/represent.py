"""Representation functions from a run directory (dlib ``postprocessing/``).

>>> from dislab import represent
>>> rep = represent.load("runs/x", "mean")          # r(x) = mu(x)
>>> codes = rep(images)                              # float32 [N, 64, 64, C] in [0, 1] -> [N, d]
>>> rep = represent.load("runs/x", "sampled", seed=3)  # r(x) = mu + exp(logvar / 2) * eps

``sampled`` draws ``eps`` from its own ``torch.Generator`` seeded with ``seed`` when the
function is built (dlib draws unseeded TF noise): the same seed and call
sequence give the same codes (one draw of ``[N, d]`` per call, whatever the batch size). Every
call continues the generator's stream, so two calls on the same images give fresh noise, as in
dlib. The result is a picklable object.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dislab import models
from dislab._runtime import flush_denormals
from dislab.models.vae import GaussianEncoderVAE
from dislab.rundir import (
    CHECKPOINT_FILE,
    REPRESENTATIONS,
    load_checkpoint,
    read_config,
    resolve_device,
    resolve_precision,
    to_images,
)


def load_model(run_dir: str | os.PathLike, device: str | torch.device = "cpu"
               ) -> tuple[GaussianEncoderVAE, dict[str, Any]]:
    """The trained VAE of ``run_dir`` (in eval mode, on ``device``) and its ``config.json``."""
    config = read_config(run_dir)
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the run has not saved a checkpoint yet")
    device = resolve_device(str(device))
    vae = models.build_vae(config["resolved"]["num_channels"], config["num_latent"],
                           config["encoder"], config["decoder"])
    vae.load_state_dict(load_checkpoint(path)["vae"])
    return vae.to(device, memory_format=torch.channels_last).eval(), config


class Representation:
    """``r(x)``: float images ``[N, H, W, C]`` in [0, 1] -> float32 codes ``[N, d]``,
    encoding ``batch_size`` images at a time under ``torch.inference_mode``.

    ``r(x) = head(features(x))``: :meth:`features` is the deterministic encoder output
    ``[mu, logvar]`` and :meth:`head` picks ``mu`` or draws ``mu + exp(logvar / 2) * eps``;
    the split lets ``dislab.metrics.evaluate`` encode each dataset state once
    (:mod:`dislab.metrics.cache`) and still draw fresh noise on every call.

    ``precision``: ``fp32`` (default), ``bf16`` (the encoder under bf16 autocast, codes
    returned as float32; needs native bf16) or ``auto`` (bf16 where native, else fp32); see
    :meth:`with_precision`. The metrics use bf16 encoding in fast mode only.
    """

    def __init__(self, vae: GaussianEncoderVAE, observation_shape: tuple[int, ...],
                 kind: str = "mean", seed: int = 0, batch_size: int = 64,
                 device: str | torch.device = "cpu", precision: str = "fp32"):
        if kind not in REPRESENTATIONS:
            raise ValueError(f"unknown representation {kind!r}; "
                             f"valid: {', '.join(REPRESENTATIONS)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.vae, self.kind, self.batch_size = vae, kind, batch_size
        self.observation_shape = tuple(observation_shape)
        self.device = torch.device(device)
        self.num_latent = vae.encoder.means.out_features
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.precision = resolve_precision(precision, self.device)
        flush_denormals()  # encoding a long-trained model's subnormals is slow (dislab._runtime)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.head(self.features(x))

    def with_precision(self, precision: str) -> Representation:
        """The same representation (the same encoder and noise generator) encoding in
        ``precision`` (``fp32``, ``bf16`` or ``auto``)."""
        clone = copy.copy(self)
        clone.precision = resolve_precision(precision, self.device)
        return clone

    def split_for_cache(self):
        """``(features, head)``: what ``dislab.metrics.CodeCache`` stores and applies."""
        return self.features, self.head

    def features(self, x: np.ndarray) -> np.ndarray:
        """``[mu, logvar]``: float32 ``[N, 2 d]``, a deterministic function of the images."""
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1:] != self.observation_shape:
            shape = ", ".join(map(str, self.observation_shape))
            raise ValueError(f"expected images of shape [N, {shape}], got {list(x.shape)}")
        out = np.empty((len(x), 2 * self.num_latent), dtype=np.float32)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16,
                                  enabled=self.precision == "bf16")
        with torch.inference_mode(), autocast:
            for start in range(0, len(x), self.batch_size):
                stats = self.vae.encode(to_images(x[start:start + self.batch_size], self.device))
                out[start:start + len(stats[0])] = torch.cat(stats, dim=1).float().cpu().numpy()
        return out

    def head(self, features: np.ndarray) -> np.ndarray:
        """Codes from :meth:`features`: ``mu`` (mean) or ``mu + exp(logvar / 2) * eps``
        (sampled, ``eps ~ N(0, I)`` from this function's generator)."""
        mu, logvar = np.split(np.asarray(features, dtype=np.float32), 2, axis=1)
        if self.kind == "mean":
            return mu
        eps = torch.randn(mu.shape, generator=self.generator, device=self.device)
        return mu + np.exp(np.float32(0.5) * logvar) * eps.cpu().numpy()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["generator"] = self.generator.get_state()
        return state

    def __setstate__(self, state):
        generator = torch.Generator(state["device"])
        generator.set_state(state.pop("generator"))
        self.__dict__.update(state, generator=generator)


def load(run_dir: str | os.PathLike, representation: str = "mean", seed: int = 0,
         device: str = "cpu", batch_size: int = 64, precision: str = "fp32") -> Representation:
    """The ``mean`` or ``sampled`` representation function of a trained run."""
    device = resolve_device(device)
    vae, config = load_model(run_dir, device)
    return Representation(vae, config["resolved"]["observation_shape"], representation, seed,
                          batch_size, device, precision)
