"""Tiny datasets for tests, with known images and no rendering or files.

- ``TinySquares``: white squares on black, 64x64; factors size (2: 8 or 16 px), x (6), y (6)
  -> 72 images, pixel values {0, 1} (model and training tests);
- ``Bars``: 8x8 bars whose row and brightness are the factors (CLI and preview tests);
- ``SquaresXY``: a 16-px square at 6 x 6 positions, two factors (weak-supervision training).
"""

from __future__ import annotations

import numpy as np

from dislab.data.base import ArrayData


def _squares(channels: int) -> np.ndarray:
    images = np.zeros((2, 6, 6, 64, 64, channels), dtype=np.uint8)
    for s, side in enumerate((8, 16)):
        for i in range(6):
            for j in range(6):
                images[s, i, j, 8 * i:8 * i + side, 8 * j:8 * j + side] = 1
    return images.reshape(72, 64, 64, channels)


class TinySquares(ArrayData):
    name = "tiny_squares"
    all_factor_names = ("size", "x", "y")
    all_factor_sizes = (2, 6, 6)
    latent_factor_indices = (0, 1, 2)
    observation_shape = (64, 64, 1)
    pixel_scale = 1.0

    def __init__(self, channels: int = 1):
        self.observation_shape = (64, 64, channels)
        super().__init__(_squares(channels))


class Bars(ArrayData):
    """3 x 4 grid: a bar whose row is factor 0 and brightness factor 1."""

    name = "test_bars"
    all_factor_names = ("row", "level")
    all_factor_sizes = (3, 4)
    latent_factor_indices = (0, 1)
    observation_shape = (8, 8, 1)
    source = "procedural"

    def __init__(self):
        images = np.zeros((12, 8, 8), np.uint8)
        for i, (r, level) in enumerate(np.ndindex(3, 4)):
            images[i, 2 * r:2 * r + 2] = 60 * (level + 1)
        super().__init__(images)


class SquaresXY(ArrayData):
    """A 16-px white square on black, 64x64, at 6 x 6 positions: two factors, x and y."""

    name = "squares_xy"
    all_factor_names = ("x", "y")
    all_factor_sizes = (6, 6)
    latent_factor_indices = (0, 1)
    observation_shape = (64, 64, 1)
    pixel_scale = 1.0

    def __init__(self):
        images = np.zeros((6, 6, 64, 64, 1), dtype=np.uint8)
        for x in range(6):
            for y in range(6):
                images[x, y, 8 * y:8 * y + 16, 8 * x:8 * x + 16] = 1
        super().__init__(images.reshape(36, 64, 64, 1))
