"""Tiny datasets for tests: known images, no rendering, no files."""

import numpy as np

from dislab.data import ArrayData


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
