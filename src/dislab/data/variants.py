"""Colour-, Noisy- and Scream-dSprites, transformed exactly as disentanglement_lib does.

All three keep dSprites' five latent factors (shape, scale, orientation, posX, posY) and
turn the binary sprite ``m`` (repeated to 3 channels) into float32 ``[n, 64, 64, 3]``. Their
extra randomness is drawn from the same ``rng`` *after* the nuisance colour factor, with
dlib's calls and shapes, so a ``RandomState`` replays dlib's observations:

- ``color_dsprites``: ``c = rng.uniform(0.5, 1, size=(n, 1, 1, 3))``; ``x = m * c``;
- ``noisy_dsprites``: ``z = rng.uniform(0, 1, size=(n, 64, 64, 3))``; ``x = min(m + z, 1)``;
- ``scream_dsprites``: per sample, in order, ``r = randint(0, H - 64)``,
  ``c = randint(0, W - 64)``, ``u = rng.uniform(0, 1, size=3)``; with the background image
  ``B`` (``H x W x 3`` in [0, 1]), ``b = (B[r:r+64, c:c+64] + u) / 2`` and
  ``x = 1 - b`` on the sprite, ``x = b`` elsewhere.

Scream background: officially ``$ROOT/scream/scream.jpg`` (Munch's "The Scream", Wikimedia
``The_Scream.jpg``) shrunk with Pillow's ``thumbnail((350, 274))`` (Lanczos), divided by 255.
Offline, :func:`procedural_scream` paints a deterministic swirly substitute of the same size;
it is *not* the painting, and such a dataset reports ``source == "procedural"``. A variant is
official only when both the dSprites file and (for Scream) the painting are present.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError

from dislab.data import dsprites
from dislab.data._images import open_thumbnail
from dislab.data.base import Rng, randint
from dislab.data.registry import DatasetInfo, register

LATENT = (1, 2, 3, 4, 5)
SCREAM_FILE = "scream/scream.jpg"
SCREAM_MAX_SIZE = (350, 274)  # (width, height) bound of dlib's thumbnail
PROCEDURAL_SCREAM_SHAPE = (274, 218)  # about the real thumbnail (aspect of the painting)
_SIZE = dsprites.IMAGE_SIZE


class _RGBDSprites(dsprites.DSprites):
    """dSprites masks turned into RGB observations by :meth:`_transform`."""

    observation_shape = (_SIZE, _SIZE, 3)
    fixed_observations = False  # colour, noise or texture drawn per observation

    def __init__(self, images: np.ndarray | None = None):
        super().__init__(LATENT, images, type(self).name)

    def _render(self, all_factors: np.ndarray, rng: Rng) -> np.ndarray:
        return self._transform(self.masks(all_factors)[..., None], rng)

    def _transform(self, masks: np.ndarray, rng: Rng) -> np.ndarray:
        """float32 ``[n, 64, 64, 3]`` from uint8 masks ``[n, 64, 64, 1]`` and ``rng``."""
        raise NotImplementedError


class ColorDSprites(_RGBDSprites):
    """dSprites, white sprite tinted by one colour ``U(0.5, 1)^3`` per image, black background."""

    name = "color_dsprites"

    def _transform(self, masks, rng):
        # m in {0, 1}, so m * float32(c) equals float32(m * c) exactly
        return masks * rng.uniform(0.5, 1.0, size=(len(masks), 1, 1, 3)).astype(np.float32)


class NoisyDSprites(_RGBDSprites):
    """dSprites, white sprite on per-pixel, per-channel noise: ``min(m + U(0, 1), 1)``."""

    name = "noisy_dsprites"

    def _transform(self, masks, rng):
        # min(m + z, 1) is z off the sprite and exactly 1 on it (z >= 0)
        noise = rng.uniform(0.0, 1.0, size=(len(masks), _SIZE, _SIZE, 3)).astype(np.float32)
        return np.where(masks == 1, np.float32(1.0), noise)


class ScreamDSprites(_RGBDSprites):
    """Sprite inverted over a tinted random 64 x 64 crop of ``background`` (uint8 HxWx3).

    ``source`` is official only if both the dSprites ``images`` and the background are.
    """

    name = "scream_dsprites"

    def __init__(
        self,
        background: np.ndarray,
        images: np.ndarray | None = None,
        background_source: str = "procedural",
    ):
        super().__init__(images)
        if background.dtype != np.uint8 or background.ndim != 3 or background.shape[2] != 3:
            raise ValueError(f"background must be uint8 [H, W, 3], got {background.dtype} "
                             f"{background.shape}")
        if min(background.shape[:2]) <= _SIZE:
            raise ValueError(f"background must exceed 64 x 64 pixels, got {background.shape}")
        self.background = background * (1.0 / 255.0)
        if background_source != "official":
            self.source = "procedural"

    def _transform(self, masks, rng):
        height, width = self.background.shape[:2]
        n = len(masks)
        offsets = np.empty((n, 2), dtype=np.int64)
        tints = np.empty((n, 3))
        for i in range(n):  # dlib's per-sample draw order: row, column, tint
            offsets[i, 0] = randint(rng, height - _SIZE, 1)[0]
            offsets[i, 1] = randint(rng, width - _SIZE, 1)[0]
            tints[i] = rng.uniform(0.0, 1.0, size=3)
        windows = np.lib.stride_tricks.sliding_window_view(self.background, (_SIZE, _SIZE), (0, 1))
        crops = windows[offsets[:, 0], offsets[:, 1]].transpose(0, 2, 3, 1)  # [n, 64, 64, 3]
        background = (crops + tints[:, None, None, :]) / 2.0
        return np.where(masks == 1, 1.0 - background, background).astype(np.float32)


def load_scream(path: Path) -> np.ndarray:
    """The painting as dlib uses it: ``thumbnail((350, 274))`` with Lanczos, uint8 HxWx3
    (old Pillow's thumbnail, see :func:`dislab.data._images.open_thumbnail`)."""
    path = Path(path)
    try:
        small = open_thumbnail(path, *SCREAM_MAX_SIZE)
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err
    if min(small.shape[:2]) <= _SIZE:
        raise ValueError(f"{path}: image too small for 64 x 64 crops ({small.shape[:2]})")
    return small


@lru_cache(maxsize=1)
def procedural_scream() -> np.ndarray:
    """A deterministic painterly substitute for the Scream thumbnail, uint8 ``[274, 218, 3]``.

    Wavy colour bands (orange-red sky over dark blue swirls over a brown foreground, the
    painting's palette) whose band coordinate ``t = y/H + waves + streaks`` is warped by two
    sine waves and by horizontally smeared Gaussian noise that mimics brush strokes. It has
    the painting's size and rough colour statistics, nothing else.
    """
    from scipy.ndimage import gaussian_filter  # imported here: scipy.ndimage loads slowly

    height, width = PROCEDURAL_SCREAM_SHAPE
    y, x = np.mgrid[0:height, 0:width] / height
    streaks = gaussian_filter(np.random.RandomState(1893).standard_normal((height, width)),
                              sigma=(1.5, 6.0))
    t = (y + 0.05 * np.sin(2 * np.pi * (1.3 * x + 2.2 * y))
         + 0.03 * np.sin(2 * np.pi * (3.1 * x - 1.7 * y)) + 0.4 * streaks)
    stops = np.array([0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0])
    palette = np.array([
        [0.93, 0.55, 0.20], [0.85, 0.30, 0.15], [0.95, 0.70, 0.30], [0.20, 0.30, 0.50],
        [0.10, 0.20, 0.40], [0.45, 0.30, 0.20], [0.70, 0.50, 0.30],
    ])
    rgb = np.stack([np.interp(t, stops, palette[:, c]) for c in range(3)], axis=-1)
    return np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


def _dsprites_images(root: Path) -> np.ndarray:
    return dsprites.load_images(dsprites.official_path(root))


_DSPRITES_NOTE = "procedural dSprites masks (see dsprites_full)"

for _cls in (ColorDSprites, NoisyDSprites):
    register(DatasetInfo(
        name=_cls.name,
        description=_cls.__doc__.splitlines()[0],
        official_files=(dsprites.OFFICIAL_FILES,),
        load_official=lambda root, cls=_cls: cls(_dsprites_images(root)),
        make_procedural=_cls,
        procedural_note=_DSPRITES_NOTE,
    ))
del _cls

register(DatasetInfo(
    name="scream_dsprites",
    description="dSprites inverted over tinted crops of Munch's The Scream",
    official_files=(dsprites.OFFICIAL_FILES, SCREAM_FILE),
    load_official=lambda root: ScreamDSprites(
        load_scream(Path(root) / SCREAM_FILE), _dsprites_images(root), "official"
    ),
    make_procedural=lambda: ScreamDSprites(procedural_scream()),
    procedural_note=_DSPRITES_NOTE + "; a painted substitute texture replaces The Scream",
))
