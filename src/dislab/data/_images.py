"""Pillow resizing exactly as disentanglement_lib does it (with Pillow >= 10 names).

dlib calls ``thumbnail((w, h, 3), ANTIALIAS)`` and ``resize((64, 64), ANTIALIAS)``; current
Pillow rejects the 3-tuple and has renamed ANTIALIAS to LANCZOS, which is the same filter.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def thumbnail(image: np.ndarray, max_width: int, max_height: int) -> np.ndarray:
    """Shrink a uint8 HxW[xC] image to fit ``max_width x max_height``, keeping its aspect."""
    pil = Image.fromarray(image)
    pil.thumbnail((max_width, max_height), Image.LANCZOS)
    return np.asarray(pil)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a uint8 HxW[xC] image to exactly ``width x height`` with Lanczos."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.LANCZOS))
