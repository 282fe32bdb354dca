"""Cars3D (Reed et al., NIPS 2015), as disentanglement_lib uses it.

Official files: ``$ROOT/cars/*.mat``, the 183 ``car_XXX_mesh.mat`` of
``nips2015-analogy-data.tar.gz``. Each holds ``im``, uint8 ``(128, 128, 3, 24, 4)`` =
(H, W, RGB, azimuth, elevation). Its axes are permuted to ``(24, 4, 128, 128, 3)`` and flattened,
so flat image ``k`` has azimuth ``k // 4`` and elevation ``k % 4``; each image is shrunk to
64x64 with Pillow ``thumbnail`` (Lanczos). Factors: elevation 4, azimuth 24, object 183, all
latent, in that order; observations are ``(64, 64, 3)``.

Deviation from dlib (``data/ground_truth/cars3d.py``, which numbers the files in the order of
``gfile.ListDirectory``): the object id is the position of the file in the **sorted** list of
file names, not in an unsorted directory listing, so it does not depend on the file system.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import scipy.io

from dislab.data import _images, _toys
from dislab.data._grid import RenderedGrid, grid_order
from dislab.data._raycast import Camera, Lighting
from dislab.data.base import ArrayData
from dislab.data.registry import DatasetInfo, register

FOLDER = "cars"
FACTOR_NAMES = ("elevation", "azimuth", "object")
NUM_ELEVATIONS, NUM_AZIMUTHS, NUM_OBJECTS = 4, 24, 183
FACTOR_SIZES = (NUM_ELEVATIONS, NUM_AZIMUTHS, NUM_OBJECTS)
FILE_SHAPE = (128, 128, 3, NUM_AZIMUTHS, NUM_ELEVATIONS)
IMAGE_SIZE = 64
#: What ``scipy.io.loadmat`` raises on a file that is not a readable MATLAB (< v7.3) file.
_MAT_ERRORS = (ValueError, TypeError, OSError, NotImplementedError, scipy.io.matlab.MatReadError)


def car_files(folder: str | Path) -> list[Path]:
    """The ``.mat`` files of ``folder`` sorted by name; object id = position in this list."""
    return sorted((p for p in Path(folder).glob("*.mat") if p.is_file()), key=lambda p: p.name)


def read_car_images(path: str | Path) -> np.ndarray:
    """The 96 views of one car, uint8 ``[96, 64, 64, 3]``; view ``k`` = (azimuth ``k // 4``,
    elevation ``k % 4``). Raises ``ValueError`` naming the file when it is not a Cars3D file."""
    path = Path(path)
    try:
        content = scipy.io.loadmat(path, variable_names=["im"])
    except _MAT_ERRORS as err:
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
    features = np.concatenate([view_factors(i) for i in range(len(files))])
    sizes = (NUM_ELEVATIONS, NUM_AZIMUTHS, num_objects)
    order = grid_order(features, sizes, where=f"Cars3D files in {folder}")
    position = np.argsort(order)  # C-order index of each stored view (inverse permutation)
    images = np.empty((len(order), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    views = NUM_AZIMUTHS * NUM_ELEVATIONS
    for i, path in enumerate(files):  # file i holds stored views i*96 .. i*96+95
        images[position[i * views : (i + 1) * views]] = read_car_images(path)
    return images


class _Cars3DFactors:
    """The factor description shared by the official data and the substitute."""

    name = "cars3d"
    all_factor_names = FACTOR_NAMES
    all_factor_sizes = FACTOR_SIZES
    latent_factor_indices = (0, 1, 2)
    observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 3)


class Cars3D(_Cars3DFactors, ArrayData):
    """The official Cars3D images (uint8, C-order over elevation, azimuth, object)."""

    source = "official"


#: Substitute camera and light: azimuth 15 degrees per step, elevations 0, 10, 20, 30 degrees.
AZIMUTH_STEP, ELEVATION_STEP = 15.0, 10.0
_LIGHT = Lighting(
    direction=(0.6, -1.0, 1.4),
    intensity=0.65,
    ambient=0.3,
    headlight=0.15,
    specular=0.35,
    shininess=24.0,
)
_BACKGROUND = (1.0, 1.0, 1.0)
_SEED = 0xCA53D


@functools.lru_cache(maxsize=NUM_OBJECTS)
def substitute_car(object_id: int) -> _toys.Toy:
    """Car ``object_id`` of the substitute: proportions and style from
    ``default_rng([0xCA53D, object_id])``, paint hue ``object_id * 0.618... mod 1`` (every
    sixth car white, black or silver)."""
    rng = np.random.default_rng([_SEED, object_id])
    if object_id % 6 == 5:
        paint = _toys.paint_colour(0.0, 0.03, (0.92, 0.12, 0.6)[(object_id // 6) % 3])
    else:
        paint = _toys.paint_colour(
            object_id * 0.6180339887, rng.uniform(0.45, 0.9), rng.uniform(0.5, 0.95)
        )
    return _toys.car(rng, paint)


class Cars3DSubstitute(_Cars3DFactors, RenderedGrid):
    """PROCEDURAL SUBSTITUTE for Cars3D, not the real data: numbers on it are not comparable
    with the paper.

    Same factor grid as Cars3D (elevation 4, azimuth 24, object 183, all latent) and the same
    ``(64, 64, 3)`` observations: 183 car-like toys (:func:`substitute_car`: body and cabin
    boxes, wheels, paint varying with the object id) ray-cast on white under azimuth
    ``15 * a`` and elevation ``10 * e`` degrees. Images are rendered on first use and cached.
    """

    cache_version = "1"

    def _render_states(self, all_factors: np.ndarray) -> np.ndarray:
        views = [
            (substitute_car(object_id), _camera(elevation, azimuth))
            for elevation, azimuth, object_id in all_factors.tolist()
        ]
        return _toys.render_views(views, [(i, _LIGHT) for i in range(len(views))], _BACKGROUND)


def _camera(elevation: int, azimuth: int) -> Camera:
    """The substitute's camera for class indices ``elevation``, ``azimuth``."""
    return Camera(
        target=(0.0, 0.0, 0.35),
        distance=6.5,
        fov=20.0,
        azimuth=AZIMUTH_STEP * azimuth,
        elevation=ELEVATION_STEP * elevation,
        width=IMAGE_SIZE,
        height=IMAGE_SIZE,
    )


def load_official(root: Path) -> Cars3D:
    return Cars3D(load_cars3d_images(Path(root) / FOLDER))


register(
    DatasetInfo(
        name="cars3d",
        description="Cars3D: elevation 4, azimuth 24, object 183; 64x64 RGB",
        official_files=(f"{FOLDER}/*.mat",),
        load_official=load_official,
        make_procedural=Cars3DSubstitute,
        procedural_note="substitute: 183 procedurally built car-like toys rendered under the "
        "same 4 x 24 view grid; not the real Cars3D, numbers on it are not comparable with the "
        "paper",
    )
)
