"""The networks of the study (dlib ``methods/shared/architectures.py``), in PyTorch.

Layout: every image tensor is NCHW *with channels-last memory* (what
``torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)`` gives for free); convolutions are fastest in
this layout on CPU (benchmarks/TRAIN.md). Flattening and un-flattening go through NHWC order,
exactly as TF's ``flatten``/``reshape`` on NHWC tensors, so a TF kernel of the dense layers maps
onto these weights without permutation.

TF "SAME" padding equivalents (stride 2, even input sizes, as in the study):
4x4 conv -> ``padding=1``; 2x2 conv -> ``padding=0``; 4x4 transposed conv doubling the size ->
``padding=1``.

Initialisation is TF's default for ``tf.layers``: Glorot-uniform kernels
(``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``, fans including the receptive field) and
zero biases (:func:`glorot_init`). PyTorch's own default (Kaiming-uniform) is *not* used.

Parameter counts for d = 10 (pinned by ``tests/models/test_models.py``): conv encoder
309,204 (C = 1) / 310,228 (C = 3), deconv decoder 381,313 / 382,339, FactorVAE
discriminator 5,018,002.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 64
_BOTTLENECK = (4, 4, 64)  # (H, W, C) of the conv stack's smallest feature map


def glorot_init(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Glorot-uniform weights and zero biases for every conv/dense layer of ``module``.

    ``generator`` (a CPU ``torch.Generator``) makes the draw explicit and reproducible.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)
    return module


def build(cls: type[nn.Module], *args, generator: torch.Generator | None = None) -> nn.Module:
    """``cls(*args)`` with :func:`glorot_init` weights. PyTorch's own layer init (which
    reads the global RNG) runs inside ``fork_rng``, so the global state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        module = cls(*args)
    return glorot_init(module, generator)


def _check_image(x: torch.Tensor, num_channels: int) -> None:
    expected = (num_channels, IMAGE_SIZE, IMAGE_SIZE)
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"expected images of shape [N, {', '.join(map(str, expected))}] "
                         f"(NCHW), got {list(x.shape)}")


class ConvEncoder(nn.Module):
    """dlib ``conv_encoder``: 4 stride-2 convs (32, 32, 64, 64 filters; 4x4, 4x4, 2x2, 2x2),
    dense 256, then linear means and log-variances of dimension ``num_latent``."""

    def __init__(self, num_channels: int = 1, num_latent: int = 10):
        super().__init__()
        self.num_channels = num_channels
        self.convs = nn.Sequential(
            nn.Conv2d(num_channels, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 2, stride=2, padding=0), nn.ReLU(),
            nn.Conv2d(64, 64, 2, stride=2, padding=0), nn.ReLU(),
        )
        self.dense = nn.Sequential(nn.Linear(1024, 256), nn.ReLU())
        self.means = nn.Linear(256, num_latent)
        self.log_var = nn.Linear(256, num_latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_image(x, self.num_channels)
        h = self.convs(x).permute(0, 2, 3, 1).flatten(1)  # NHWC flatten, as TF
        h = self.dense(h)
        return self.means(h), self.log_var(h)


class DeconvDecoder(nn.Module):
    """dlib ``deconv_decoder``: dense 256, dense 1024 -> (4, 4, 64), 4 stride-2 transposed
    convs (64, 32, 32, C filters, 4x4); the last is linear and gives Bernoulli logits."""

    def __init__(self, num_latent: int = 10, num_channels: int = 1):
        super().__init__()
        self.dense = nn.Sequential(
            nn.Linear(num_latent, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU()
        )
        self.deconvs = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, num_channels, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(-1, *_BOTTLENECK).permute(0, 3, 1, 2)  # NHWC reshape, as TF
        return self.deconvs(h)


class FCEncoder(nn.Module):
    """dlib ``fc_encoder``: flatten, 2 x dense 1200 ReLU, linear means and log-variances."""

    def __init__(self, num_channels: int = 1, num_latent: int = 10):
        super().__init__()
        self.num_channels = num_channels
        self.hidden = nn.Sequential(
            nn.Linear(IMAGE_SIZE * IMAGE_SIZE * num_channels, 1200), nn.ReLU(),
            nn.Linear(1200, 1200), nn.ReLU(),
        )
        self.means = nn.Linear(1200, num_latent)
        self.log_var = nn.Linear(1200, num_latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_image(x, self.num_channels)
        h = self.hidden(x.permute(0, 2, 3, 1).flatten(1))
        return self.means(h), self.log_var(h)


class FCDecoder(nn.Module):
    """dlib ``fc_decoder``: 3 x dense 1200 tanh, dense 64*64*C logits reshaped to the image."""

    def __init__(self, num_latent: int = 10, num_channels: int = 1):
        super().__init__()
        self.num_channels = num_channels
        self.net = nn.Sequential(
            nn.Linear(num_latent, 1200), nn.Tanh(),
            nn.Linear(1200, 1200), nn.Tanh(),
            nn.Linear(1200, 1200), nn.Tanh(),
            nn.Linear(1200, IMAGE_SIZE * IMAGE_SIZE * num_channels),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.net(z).view(-1, IMAGE_SIZE, IMAGE_SIZE, self.num_channels)
        return h.permute(0, 3, 1, 2)


class Discriminator(nn.Module):
    """dlib ``fc_discriminator`` (FactorVAE): 6 x [dense 1000, leaky ReLU with TF's slope 0.2],
    then dense 2 logits (class 0 = "real" codes, class 1 = permuted codes)."""

    def __init__(self, num_latent: int = 10, width: int = 1000, depth: int = 6):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(num_latent if i == 0 else width, width), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


ENCODERS = {"conv": ConvEncoder, "fc": FCEncoder}
DECODERS = {"deconv": DeconvDecoder, "fc": FCDecoder}


def _lookup(table: dict, kind: str, name: str):
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(table)}") from None


def make_encoder(name: str, num_channels: int, num_latent: int,
                 generator: torch.Generator | None = None) -> nn.Module:
    """Encoder ``name`` in ``ENCODERS`` ("conv" is the study's), Glorot-initialised."""
    return build(_lookup(ENCODERS, "encoder", name), num_channels, num_latent,
                 generator=generator)


def make_decoder(name: str, num_latent: int, num_channels: int,
                 generator: torch.Generator | None = None) -> nn.Module:
    """Decoder ``name`` in ``DECODERS`` ("deconv" is the study's), Glorot-initialised."""
    return build(_lookup(DECODERS, "decoder", name), num_latent, num_channels,
                 generator=generator)


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
