"""Pictures of a trained model, as dlib's ``visualize/visualize_model.py``, plus per-latent KL.

``visualize(run_dir)`` writes into ``run_dir/viz`` (or ``out_dir``):

- ``reconstructions.png``: 64 observations, each beside its reconstruction (decoded from a
  *sampled* z), as an 8 x 8 grid of pairs;
- ``samples.png``: 64 decodings of ``z ~ N(0, I)``;
- ``traversals/traversal{i}.png``: base code = encoder mean of observation ``i``; one column per
  latent dimension, its value replaced by ``linspace(-1, 1, 11)`` (rows);
- ``animated_traversals/{schedule}{k}.gif`` for the first ``num_animations`` base codes: every
  frame shows all latent dimensions side by side, each moving along a triangle wave
  (``fixed_interval_cycle``: over [-2, 2]; ``std_gaussian_cycle``: in N(0, 1) probability
  space, clipped to [0.001, 0.999]); ``num_frames`` frames at ``fps``;
- ``kl_per_dimension.png``: bar chart of the mean KL of each latent dimension over
  ``num_points`` observations; bars above ``active_threshold`` nats are "active".

Images are the decoder's ``sigmoid(logits)`` saved as 8-bit RGB (grey repeated to 3 channels).
All randomness comes from ``numpy.random.RandomState(seed)`` and a torch generator seeded
with ``seed``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import stats

from dislab import data as datasets
from dislab.data.base import GroundTruthData
from dislab.models.vae import gaussian_kl, sample_from_latent
from dislab.represent import load_model
from dislab.rundir import to_images


def to_uint8_rgb(images: np.ndarray) -> np.ndarray:
    """Float images ``[..., H, W, C]`` in [0, 1] -> uint8 RGB (grey repeated)."""
    images = np.clip(np.asarray(images) * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def grid(images: np.ndarray, cols: int, pad: int = 0, value: float = 1.0) -> np.ndarray:
    """Tile ``images [n, H, W, C]`` into rows of ``cols`` (row-major), ``pad`` pixels of
    ``value`` between and around tiles; missing tiles are ``value``."""
    n, h, w, c = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), value, np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        out[top:top + h, left:left + w] = image
    return out


def triangle_wave(start: np.ndarray, low: float, high: float, num_frames: int) -> np.ndarray:
    """``num_frames`` values per entry of ``start``: from ``start`` up to ``high``, down to
    ``low`` and back, one full cycle (dlib's ``cycle_interval``). Shape ``[num_frames, ...]``."""
    start01 = (np.asarray(start, float) - low) / (high - low)
    phase = (start01[None] + np.linspace(0, 2, num_frames, endpoint=False).reshape(
        (-1,) + (1,) * start01.ndim)) % 2
    return low + (high - low) * np.where(phase > 1, 2 - phase, phase)


def std_gaussian_wave(start: np.ndarray, num_frames: int) -> np.ndarray:
    """dlib's ``std_gaussian_cycle``: the triangle wave in N(0, 1) probability space."""
    probs = triangle_wave(stats.norm.cdf(start), 0.0, 1.0, num_frames)
    return stats.norm.ppf(np.clip(probs, 0.001, 0.999))


class _Model:
    """Decoding/encoding helpers around a loaded VAE (numpy in, numpy out)."""

    def __init__(self, vae, device, seed):
        self.vae, self.device = vae, device
        self.noise = torch.Generator(device).manual_seed(seed)

    @torch.inference_mode()
    def encode(self, x):
        mu, logvar = self.vae.encode(to_images(x, self.device))
        return mu, logvar

    @torch.inference_mode()
    def decode(self, z):
        z = torch.as_tensor(np.asarray(z, np.float32), device=self.device)
        return torch.sigmoid(self.vae.decode(z)).permute(0, 2, 3, 1).cpu().numpy()

    def reconstruct(self, x):
        mu, logvar = self.encode(x)
        return self.decode(sample_from_latent(mu, logvar, self.noise).cpu().numpy())


def _save(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8_rgb(image)).save(path)


def _save_gif(path: Path, frames: list[np.ndarray], fps: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(to_uint8_rgb(f)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps),
                   loop=0)


def kl_per_dimension(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL to N(0, 1) of each latent dimension, in nats."""
    return gaussian_kl(torch.as_tensor(mu), torch.as_tensor(logvar)).mean(0).numpy()


def plot_kl(kl: np.ndarray, path: Path, active_threshold: float) -> None:
    """Bar chart of ``kl`` saved to ``path``: a bare ``Figure``, so matplotlib's global
    backend and pyplot's state are left alone."""
    from matplotlib.figure import Figure

    active = kl > active_threshold
    fig = Figure(figsize=(max(4, 0.5 * len(kl) + 1), 3))
    ax = fig.subplots()
    ax.bar(np.arange(len(kl)), kl, color=np.where(active, "tab:blue", "lightgrey"))
    ax.axhline(active_threshold, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks(np.arange(len(kl)))
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("mean KL (nats)")
    ax.set_title(f"{int(active.sum())} of {len(kl)} latents active (KL > {active_threshold})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def visualize(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
              seed: int = 0, num_animations: int = 5, num_frames: int = 20, fps: int = 10,
              num_points: int = 1000, active_threshold: float = 0.01, device: str = "cpu",
              data: GroundTruthData | None = None) -> Path:
    """Write the pictures of ``run_dir`` (see the module docstring); returns the folder.

    ``data`` overrides the dataset named in the run's config (for datasets outside the
    registry)."""
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "viz"
    vae, config = load_model(run_dir, device)
    if data is None:
        data = datasets.get(config["dataset"], source=config["resolved"]["dataset_source"],
                            root=config.get("data_root"))
    model = _Model(vae, vae.encoder.means.weight.device, seed)
    rng = np.random.RandomState(seed)
    d = config["num_latent"]

    x = data.sample_observations(64, rng)
    pairs = np.concatenate([x, model.reconstruct(x)], axis=2)  # side by side
    _save(out / "reconstructions.png", grid(pairs, 8, pad=2))
    _save(out / "samples.png", grid(model.decode(rng.normal(size=(64, d))), 8, pad=2))

    x = data.sample_observations(64, rng)
    mu, _ = model.encode(x)
    bases = mu.cpu().numpy()
    values = np.linspace(-1, 1, 11)
    for i in range(min(d, len(bases))):
        codes = np.repeat(bases[i][None, None], 11, axis=0).repeat(d, axis=1)  # [11, d, d]
        codes[:, np.arange(d), np.arange(d)] = values[:, None]
        _save(out / "traversals" / f"traversal{i}.png",
              grid(model.decode(codes.reshape(-1, d)), d, pad=2))

    schedules = {"fixed_interval_cycle": lambda b: triangle_wave(b, -2.0, 2.0, num_frames),
                 "std_gaussian_cycle": lambda b: std_gaussian_wave(b, num_frames)}
    for k in range(min(num_animations, len(bases))):
        for name, schedule in schedules.items():
            wave = schedule(bases[k])  # [frames, d]: value of dimension j in each frame
            frames = []
            for values_t in wave:
                codes = np.repeat(bases[k][None], d, axis=0)
                codes[np.arange(d), np.arange(d)] = values_t
                frames.append(grid(model.decode(codes), min(d, 10), pad=10))
            _save_gif(out / "animated_traversals" / f"{name}{k}.gif", frames, fps)

    mus, logvars = [], []
    for start in range(0, num_points, 256):
        m, lv = model.encode(data.sample_observations(min(256, num_points - start), rng))
        mus.append(m.cpu().numpy())
        logvars.append(lv.cpu().numpy())
    plot_kl(kl_per_dimension(np.concatenate(mus), np.concatenate(logvars)),
            out / "kl_per_dimension.png", active_threshold)
    return out
