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

``gallery_images(run_dir)`` writes the few pictures of the report's gallery into
``run_dir/viz/gallery`` (:data:`GALLERY_FILES`, each PNG with a thumbnail), once per checkpoint
step and set of options (``stamp.json``); ``gallery_for_table(table)`` does it for every run of
a study table and says why a run has none.

Images are the decoder's ``sigmoid(logits)`` saved as 8-bit greyscale or RGB (:func:`to_uint8`).
All randomness comes from ``numpy.random.RandomState(seed)`` and a torch generator seeded
with ``seed``. Every file is written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from scipy import stats

from dislab import data as datasets
from dislab._io import atomic_path, write_json
from dislab.data.base import GroundTruthData
from dislab.models.vae import gaussian_kl, sample_from_latent
from dislab.represent import load_model
from dislab.rundir import CHECKPOINT_FILE, CONFIG_FILE, to_images, trained_step

#: Codes or images per forward pass: small batches keep the activations in the CPU caches.
BATCH_SIZE = 32


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images ``[..., H, W, C]`` in [0, 1] -> uint8, rounded: ``[..., H, W]`` for grey
    (C = 1), else ``[..., H, W, C]``."""
    images = np.clip(np.asarray(images) * 255 + 0.5, 0, 255).astype(np.uint8)
    return images[..., 0] if images.shape[-1] == 1 else images


def grid(images: np.ndarray, cols: int, pad: int = 0, value: float = 1.0) -> np.ndarray:
    """Tile ``images [..., H, W, C]`` (leading axes flattened, row-major) into rows of
    ``cols``, ``pad`` pixels of ``value`` between and around tiles; missing tiles are
    ``value``."""
    images = np.asarray(images)
    images = images.reshape((-1,) + images.shape[-3:])
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


def sweep_codes(base: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Codes that each change one latent of ``base [d]``: ``values [..., d]`` ->
    ``codes [..., d, d]`` with ``codes[..., j, :]`` = ``base`` except latent ``j`` =
    ``values[..., j]`` (a traversal: one value per row of ``values``; an animation: one frame
    per row)."""
    values = np.asarray(values, np.float32)
    codes = np.broadcast_to(np.asarray(base, np.float32), values.shape + (len(base),)).copy()
    latent = np.arange(len(base))
    codes[..., latent, latent] = values
    return codes


class _Model:
    """Encoding/decoding around a loaded VAE, :data:`BATCH_SIZE` at a time (numpy in, numpy
    out)."""

    def __init__(self, vae, seed: int):
        self.vae, self.device = vae, vae.encoder.means.weight.device
        self.num_latent = vae.encoder.means.out_features
        self.noise = torch.Generator(self.device).manual_seed(seed)

    @torch.inference_mode()
    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, logvar)``, each float32 ``[n, d]``."""
        parts = [torch.cat(self.vae.encode(to_images(x[i:i + BATCH_SIZE], self.device)), 1)
                 for i in range(0, len(x), BATCH_SIZE)]
        return np.split(torch.cat(parts).float().cpu().numpy(), 2, axis=1)

    @torch.inference_mode()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """``sigmoid(decoder(z))`` for codes ``[..., d]``: images ``[..., H, W, C]``."""
        z = np.asarray(z, np.float32)
        flat = torch.as_tensor(z.reshape(-1, z.shape[-1]), device=self.device)
        images = torch.cat([torch.sigmoid(self.vae.decode(flat[i:i + BATCH_SIZE]))
                            for i in range(0, len(flat), BATCH_SIZE)])
        images = images.permute(0, 2, 3, 1).float().cpu().numpy()
        return images.reshape(z.shape[:-1] + images.shape[1:])

    def reconstruct(self, x: np.ndarray, sampled: bool) -> np.ndarray:
        """Decodings of ``x``'s codes: the encoder mean, or (``sampled``) a draw
        ``mu + exp(logvar / 2) * eps`` from the model's generator."""
        mu, logvar = self.encode(x)
        if sampled:
            mu = sample_from_latent(torch.from_numpy(mu).to(self.device),
                                    torch.from_numpy(logvar).to(self.device), self.noise)
            mu = mu.cpu().numpy()
        return self.decode(mu)

    def traversal(self, base: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Images ``[len(values), d, H, W, C]``: latent ``j`` of ``base`` set to each value."""
        return self.decode(sweep_codes(base, np.repeat(values[:, None], len(base), axis=1)))

    def animation(self, base: np.ndarray, wave: np.ndarray, cols: int) -> list[np.ndarray]:
        """One frame per row of ``wave [frames, d]``: the ``d`` decodings of ``base`` with
        latent ``j`` at ``wave[t, j]``, side by side in rows of ``cols``."""
        return [grid(tiles, cols, pad=10) for tiles in self.decode(sweep_codes(base, wave))]

    def kl_per_dimension(self, data: GroundTruthData, rng: np.random.RandomState,
                         num_points: int) -> np.ndarray:
        """:func:`kl_per_dimension` over ``num_points`` fresh observations (drawn 256 at a
        time)."""
        codes = [self.encode(data.sample_observations(min(256, num_points - start), rng))
                 for start in range(0, num_points, 256)]
        return kl_per_dimension(*(np.concatenate(part) for part in zip(*codes)))


def _save(path: Path, image: np.ndarray) -> None:
    _save_png(Image.fromarray(to_uint8(image)), path)


def _save_png(image: Image.Image, path: Path) -> None:
    """PNG at zlib level 1: a few percent larger than the default level 6, several times
    faster to write."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", compress_level=1)


def _save_gif(path: Path, frames: list[np.ndarray], fps: int) -> None:
    images = [Image.fromarray(to_uint8(f)) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(1000 / fps), loop=0)


def _save_thumbnail(source: Path, path: Path, size: int) -> None:
    """``source`` shrunk to fit a ``size`` x ``size`` box, aspect kept (``Image.thumbnail``)."""
    with Image.open(source) as image:
        image.thumbnail((size, size))
        _save_png(image, path)


def kl_per_dimension(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL to N(0, 1) of each latent dimension, in nats."""
    return gaussian_kl(torch.as_tensor(mu), torch.as_tensor(logvar)).mean(0).numpy()


def plot_kl(kl: np.ndarray, path: Path, active_threshold: float) -> None:
    """Bar chart of ``kl`` saved to ``path``: a bare ``Figure``, so matplotlib's global
    backend and pyplot's state are left alone. Margins are fixed in inches (``tight_layout``
    would lay the text out once more: a third of the time)."""
    from matplotlib.figure import Figure

    active = kl > active_threshold
    width, height = max(4, 0.5 * len(kl) + 1), 3
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.15 / width, bottom=0.55 / height,
                        top=1 - 0.35 / height)
    ax = fig.subplots()
    ax.bar(np.arange(len(kl)), kl, color=np.where(active, "tab:blue", "lightgrey"))
    ax.axhline(active_threshold, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks(np.arange(len(kl)))
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("mean KL (nats)")
    ax.set_title(f"{int(active.sum())} of {len(kl)} latents active (KL > {active_threshold})")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png", pil_kwargs={"compress_level": 1})


def run_dataset(config: dict[str, Any]) -> GroundTruthData:
    """The registry's dataset that the run of ``config`` (its ``config.json``) trained on."""
    name, source, root = _dataset_key(config)
    return datasets.get(name, source=source, root=root)


def _dataset_key(config: dict[str, Any]) -> tuple[str, str, str | None]:
    return config["dataset"], config["resolved"]["dataset_source"], config.get("data_root")


def visualize(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
              seed: int = 0, num_animations: int = 5, num_frames: int = 20, fps: int = 10,
              num_points: int = 1000, active_threshold: float = 0.01, device: str = "cpu",
              data: GroundTruthData | None = None) -> Path:
    """Write the pictures of ``run_dir`` (see the module docstring); returns the folder.

    ``data`` overrides the dataset named in the run's config (for datasets outside the
    registry)."""
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "viz"
    vae, config = load_model(run_dir, device)
    data = data if data is not None else run_dataset(config)
    model = _Model(vae, seed)
    rng = np.random.RandomState(seed)
    d = model.num_latent

    x = data.sample_observations(64, rng)
    pairs = np.concatenate([x, model.reconstruct(x, sampled=True)], axis=2)  # side by side
    _save(out / "reconstructions.png", grid(pairs, 8, pad=2))
    _save(out / "samples.png", grid(model.decode(rng.normal(size=(64, d))), 8, pad=2))

    bases, _ = model.encode(data.sample_observations(64, rng))
    for i in range(min(d, len(bases))):
        _save(out / "traversals" / f"traversal{i}.png",
              grid(model.traversal(bases[i], np.linspace(-1, 1, 11)), d, pad=2))

    schedules = {"fixed_interval_cycle": lambda b: triangle_wave(b, -2.0, 2.0, num_frames),
                 "std_gaussian_cycle": lambda b: std_gaussian_wave(b, num_frames)}
    for k in range(min(num_animations, len(bases))):
        for name, schedule in schedules.items():
            _save_gif(out / "animated_traversals" / f"{name}{k}.gif",
                      model.animation(bases[k], schedule(bases[k]), min(d, 10)), fps)

    plot_kl(model.kl_per_dimension(data, rng, num_points), out / "kl_per_dimension.png",
            active_threshold)
    return out


# -- the report's gallery ---------------------------------------------------------------------

#: The gallery's folder in a run directory, and its stamp (written last).
GALLERY_DIR = Path("viz") / "gallery"
STAMP_FILE = "stamp.json"
#: Raise when the drawing changes, so that stored galleries are drawn again.
GALLERY_FORMAT = 1
#: Picture -> file name in ``run_dir/viz/gallery``; the image columns of
#: :func:`gallery_for_table` (``dislab.analysis.gallery`` reads them by these names).
GALLERY_FILES = {
    "reconstructions": "reconstructions.png",
    "traversal": "traversal.png",
    "kl": "kl.png",
    "reconstructions_thumb": "reconstructions_thumb.png",
    "traversal_thumb": "traversal_thumb.png",
    "kl_thumb": "kl_thumb.png",
    "traversal_gif": "traversal.gif",
}


@dataclasses.dataclass(frozen=True)
class GalleryOptions:
    """What the gallery's pictures depend on besides the checkpoint (stored in the stamp).

    ``span``: latent values run over ``[-span, span]`` (dlib's ``fixed_interval_cycle`` uses
    2); ``num_points``: observations for the per-latent KL."""

    seed: int = 0
    num_observations: int = 8
    num_values: int = 9
    span: float = 2.0
    num_frames: int = 12
    fps: int = 8
    num_points: int = 500
    active_threshold: float = 0.01
    thumbnail_size: int = 240


def gallery_images(run_dir: str | os.PathLike, *, seed: int = 0, device: str = "cpu",
                   data: GroundTruthData | None = None, **options: Any) -> dict[str, Path]:
    """The gallery's pictures of ``run_dir`` (keys of :data:`GALLERY_FILES`), written into
    ``run_dir/viz/gallery`` unless its stamp says they are up to date.

    - ``reconstructions.png``: ``num_observations`` observations (top row) above their
      reconstructions decoded from the encoder *mean* (bottom row);
    - ``traversal.png``: base code = encoder mean of one observation; one row per latent
      dimension, its value swept over ``linspace(-span, span, num_values)`` (columns);
    - ``traversal.gif``: ``num_frames`` frames, every latent moving at once along dlib's
      ``fixed_interval_cycle`` (:func:`triangle_wave` over ``[-span, span]``), each shown in
      its own tile;
    - ``kl.png``: the per-latent KL bars (:func:`plot_kl`) over ``num_points`` observations;
    - ``*_thumb.png``: each PNG shrunk to fit ``thumbnail_size`` pixels.

    ``stamp.json`` (the checkpoint's step and the :class:`GalleryOptions`) is written last: a
    call with the same stamp and every file present does nothing; a new step (the run trained
    further) or other options redraw everything. ``options`` are the other fields of
    :class:`GalleryOptions`; ``data`` overrides the dataset named in the run's config."""
    return _gallery(Path(run_dir), gallery_options(seed, **options), device,
                    lambda config: data if data is not None else run_dataset(config))


def gallery_options(seed: int = 0, **options: Any) -> GalleryOptions:
    """:class:`GalleryOptions` from keywords; an unknown name is a ``ValueError`` listing the
    valid ones."""
    valid = [f.name for f in dataclasses.fields(GalleryOptions)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown gallery option(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(valid)}")
    return GalleryOptions(seed=seed, **options)


def _gallery(run_dir: Path, options: GalleryOptions, device: str,
             load_data: Callable[[dict[str, Any]], GroundTruthData]) -> dict[str, Path]:
    folder = run_dir / GALLERY_DIR
    paths = {key: folder / name for key, name in GALLERY_FILES.items()}
    stamp = {"format": GALLERY_FORMAT, "global_step": trained_step(run_dir)[0],
             **dataclasses.asdict(options)}
    if _read_stamp(folder / STAMP_FILE) == stamp and all(p.is_file() for p in paths.values()):
        return paths
    _draw_gallery(run_dir, options, device, load_data, paths)
    write_json(folder / STAMP_FILE, stamp)
    return paths


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _draw_gallery(run_dir: Path, options: GalleryOptions, device: str,
                  load_data: Callable[[dict[str, Any]], GroundTruthData],
                  paths: dict[str, Path]) -> None:
    vae, config = load_model(run_dir, device)
    data = load_data(config)
    model = _Model(vae, options.seed)
    rng = np.random.RandomState(options.seed)

    x = data.sample_observations(options.num_observations, rng)
    recon = model.reconstruct(x, sampled=False)
    _save(paths["reconstructions"], grid(np.stack([x, recon]), len(x), pad=2))
    base = model.encode(x[:1])[0][0]
    values = np.linspace(-options.span, options.span, options.num_values)
    _save(paths["traversal"], grid(model.traversal(base, values).swapaxes(0, 1), len(values),
                                   pad=2))
    wave = triangle_wave(base, -options.span, options.span, options.num_frames)
    _save_gif(paths["traversal_gif"], model.animation(base, wave, min(len(base), 10)),
              options.fps)
    plot_kl(model.kl_per_dimension(data, rng, options.num_points), paths["kl"],
            options.active_threshold)
    for key in ("reconstructions", "traversal", "kl"):
        _save_thumbnail(paths[key], paths[f"{key}_thumb"], options.thumbnail_size)


def gallery_for_table(table: pd.DataFrame, *, seed: int = 0, progress: bool = True,
                      device: str = "cpu", **options: Any) -> pd.DataFrame:
    """:func:`gallery_images` for every run of a study table (:func:`dislab.study.load`), in
    this process: about 0.3 s per run on one CPU thread (48 runs of the quick study's models in
    14 s on 2 cores); spawned workers, which import torch and build the dataset again (3-4 s
    each), were slower on the shared 2-core machine.

    One row per run: the table's columns up to ``seed`` (``model_num, dataset, model``, the
    hyperparameters, ``seed``), ``origin``, one column per picture (:data:`GALLERY_FILES`;
    the path as text, empty when there is none) and ``missing``: why the run has no pictures
    (:func:`why_no_pictures`, or the one-line message of the error that drawing raised), empty
    otherwise. Never raises for one run. Galleries that are up to date are reused; datasets
    are built once per (name, source, root)."""
    from tqdm.auto import tqdm

    if "seed" not in table.columns:
        raise ValueError("not a study table: it has no 'seed' column (expected the frame of "
                         "dislab.study.load)")
    chosen, load_data = gallery_options(seed, **options), _DatasetCache()
    identity = list(table.columns[:table.columns.get_loc("seed") + 1])
    rows = []
    for _, run in tqdm(table.iterrows(), total=len(table), desc="gallery", unit="run",
                       file=sys.stderr, disable=not progress):
        rows.append({**run[identity].to_dict(), "origin": _origin(run),
                     **_pictures(run, chosen, device, load_data)})
    return pd.DataFrame(rows, columns=[*identity, "origin", *GALLERY_FILES, "missing"])


def _pictures(run: pd.Series, options: GalleryOptions, device: str,
              load_data: _DatasetCache) -> dict[str, str]:
    """The path of each picture of a table's run (text) and ``missing``."""
    missing = why_no_pictures(run)
    if not missing:
        try:
            paths = _gallery(Path(run["run_dir"]), options, device, load_data)
            return {**{key: str(path) for key, path in paths.items()}, "missing": ""}
        except Exception as err:  # one bad run must not stop the gallery
            missing = _one_line(err)
    return {**dict.fromkeys(GALLERY_FILES, ""), "missing": missing}


def why_no_pictures(run: pd.Series) -> str:
    """Why a run of the study table cannot be drawn, or ``""`` when it can: a failed run; no
    ``run_dir``; a run not trained by dislab (origin ``external`` or ``dlib`` without a
    ``config.json``: a representation function only, no decoder); a missing checkpoint or
    config."""
    if run.get("state") == "failed":
        return "failed run"
    run_dir = run.get("run_dir")
    foreign = _origin(run) != "dislab"
    if not isinstance(run_dir, str) or not run_dir:
        return ("not trained by dislab (representation function)" if foreign
                else "no run directory recorded")
    run_dir = Path(run_dir)
    if foreign and not (run_dir / CONFIG_FILE).is_file():
        return "not trained by dislab (representation function)"
    if not (run_dir / CHECKPOINT_FILE).is_file():
        return f"{CHECKPOINT_FILE} missing in {run_dir}"
    if not (run_dir / CONFIG_FILE).is_file():
        return f"{CONFIG_FILE} missing"
    return ""


def _origin(run: pd.Series) -> str:
    """The run's ``origin`` (``dislab`` when the table has none)."""
    origin = run.get("origin")
    return origin if isinstance(origin, str) else "dislab"


class _DatasetCache:
    """:func:`run_dataset`, building each (name, source, root) once."""

    def __init__(self):
        self.built: dict[tuple, GroundTruthData] = {}

    def __call__(self, config: dict[str, Any]) -> GroundTruthData:
        key = _dataset_key(config)
        if key not in self.built:
            self.built[key] = run_dataset(config)
        return self.built[key]


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
