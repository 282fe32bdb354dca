"""A tiny procedural dataset for the model/training tests: white squares on black, 64x64.

Factors: size (2: 8 or 16 px), x (6), y (6) -> 72 images, pixel values {0, 1}.
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
