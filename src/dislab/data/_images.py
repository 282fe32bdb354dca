"""Pillow resizing exactly as disentanglement_lib got it (Pillow 5/6, its era), with today's
Pillow.

dlib calls ``thumbnail((w, h, 3), ANTIALIAS)`` and ``resize((64, 64), ANTIALIAS)``. Current
Pillow rejects the 3-tuple, renamed ANTIALIAS to LANCZOS (the same filter), and changed
``thumbnail``: it now rounds the target size and first shrinks large images by box averaging
(``reducing_gap``). :func:`thumbnail` and :func:`open_thumbnail` reproduce the old behaviour:
target size truncated to int, JPEG DCT draft scaling on files, then one Lanczos resize.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def thumbnail_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """Old Pillow's ``thumbnail`` size rule: fit the width, then the height, truncating."""
    if width > max_width:
        height, width = int(max(height * max_width / width, 1)), int(max_width)
    if height > max_height:
        width, height = int(max(width * max_height / height, 1)), int(max_height)
    return width, height


def _shrink(image: Image.Image, max_width: int, max_height: int) -> Image.Image:
    size = thumbnail_size(*image.size, max_width, max_height)
    return image if size == image.size else image.resize(size, Image.LANCZOS)


def thumbnail(image: np.ndarray, max_width: int, max_height: int) -> np.ndarray:
    """Shrink a uint8 HxW[xC] array to fit ``max_width x max_height``, keeping its aspect."""
    return np.asarray(_shrink(Image.fromarray(image), max_width, max_height))


def open_thumbnail(path: str | Path, max_width: int, max_height: int) -> np.ndarray:
    """``Image.open(path).thumbnail(...)`` as dlib ran it: on a JPEG, Pillow first decodes at
    a reduced DCT scale (1/2, 1/4 or 1/8, the largest that stays at least the target size),
    then resizes with Lanczos. Returns uint8 HxWx3."""
    with Image.open(path) as image:
        image.draft(None, (max_width, max_height))
        return np.asarray(_shrink(image.convert("RGB"), max_width, max_height))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a uint8 HxW[xC] image to exactly ``width x height`` with Lanczos."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.LANCZOS))
