"""Cars3D (Reed et al., NIPS 2015), as disentanglement_lib uses it.

Official files: ``$ROOT/cars/*.mat``, the 183 ``car_XXX_mesh.mat`` of
``nips2015-analogy-data.tar.gz``. Each holds ``im``, uint8 ``(128, 128, 3, 24, 4)`` =
(H, W, RGB, azimuth, elevation). Its axes are permuted to ``(24, 4, 128, 128, 3)`` and flattened,
so flat image ``k`` has azimuth ``k // 4`` and elevation ``k % 4``; each image is shrunk to
64x64 with Pillow ``thumbnail`` (Lanczos). Factors: elevation 4, azimuth 24, object 183, all
latent, in that order; observations are ``(64, 64, 3)``.

Deviation from dlib (spec 7.4 item 13): the object id is the position of the file in the
**sorted** list of file names, not in an unsorted directory listing, so it does not depend on
the file system.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from dislab.data import _images
from dislab.data._grid import grid_order
from dislab.data.base import ArrayData
from dislab.data.registry import DatasetInfo, register

FOLDER = "cars"
FACTOR_NAMES = ("elevation", "azimuth", "object")
NUM_ELEVATIONS, NUM_AZIMUTHS, NUM_OBJECTS = 4, 24, 183
FACTOR_SIZES = (NUM_ELEVATIONS, NUM_AZIMUTHS, NUM_OBJECTS)
FILE_SHAPE = (128, 128, 3, NUM_AZIMUTHS, NUM_ELEVATIONS)
IMAGE_SIZE = 64


def car_files(folder: str | Path) -> list[Path]:
    """The ``.mat`` files of ``folder`` sorted by name; object id = position in this list."""
    return sorted((p for p in Path(folder).glob("*.mat") if p.is_file()), key=lambda p: p.name)


def read_car_images(path: str | Path) -> np.ndarray:
    """The 96 views of one car, uint8 ``[96, 64, 64, 3]``; view ``k`` = (azimuth ``k // 4``,
    elevation ``k % 4``). Raises ``ValueError`` naming the file when it is not a Cars3D file."""
    path = Path(path)
    try:
        content = scipy.io.loadmat(path, variable_names=["im"])
    except (ValueError, TypeError, OSError, NotImplementedError, scipy.io.matlab.MatReadError) as err:
        raise ValueError(f"{path}: cannot read as a MATLAB file ({err})") from err
    if "im" not in content:
        raise ValueError(f"{path}: no variable 'im' in this MATLAB file")
    im = content["im"]
    if im.dtype != np.uint8 or im.shape != FILE_SHAPE:
        raise ValueError(
            f"{path}: 'im' must be uint8 of shape {FILE_SHAPE}, got {im.dtype} {im.shape}"
        )
    views = np.einsum("abcde->deabc", im).reshape(-1, *FILE_SHAPE[:3])
    out = np.empty((len(views), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for k, view in enumerate(views):
        out[k] = _images.thumbnail(np.ascontiguousarray(view), IMAGE_SIZE, IMAGE_SIZE)
    return out


def view_factors(object_id: int) -> np.ndarray:
    """Factor rows ``[elevation, azimuth, object]`` of the 96 views of one car (k = 0..95)."""
    k = np.arange(NUM_AZIMUTHS * NUM_ELEVATIONS)
    return np.column_stack([k % NUM_ELEVATIONS, k // NUM_ELEVATIONS, np.full_like(k, object_id)])


def load_cars3d_images(folder: str | Path, num_objects: int = NUM_OBJECTS) -> np.ndarray:
    """All views of all cars in ``folder``, uint8 ``[4 * 24 * num_objects, 64, 64, 3]`` in
    C-order over (elevation, azimuth, object).

    ``num_objects`` is a parameter only so that tests can use a few files; the registered
    dataset demands the official 183.
    """
    folder = Path(folder)
    files = car_files(folder)
    if len(files) != num_objects:
        raise ValueError(f"{folder}: expected {num_objects} Cars3D .mat files, found {len(files)}")
    images = np.concatenate([read_car_images(path) for path in files])
    features = np.concatenate([view_factors(i) for i in range(len(files))])
    sizes = (NUM_ELEVATIONS, NUM_AZIMUTHS, num_objects)
    return images[grid_order(features, sizes, where=f"Cars3D files in {folder}")]


class Cars3D(ArrayData):
    """The official Cars3D images (uint8, C-order over elevation, azimuth, object)."""

    name = "cars3d"
    all_factor_names = FACTOR_NAMES
    all_factor_sizes = FACTOR_SIZES
    latent_factor_indices = (0, 1, 2)
    observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
    source = "official"


def load_official(root: Path) -> Cars3D:
    return Cars3D(load_cars3d_images(Path(root) / FOLDER))


register(
    DatasetInfo(
        name="cars3d",
        description="Cars3D: elevation 4, azimuth 24, object 183; 64x64 RGB",
        official_files=(f"{FOLDER}/*.mat",),
        load_official=load_official,
        make_procedural=None,
    )
)
