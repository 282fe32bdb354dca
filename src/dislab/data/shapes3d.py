"""Shapes3D (3dshapes, Burgess & Kim 2018): official loader and a procedural look-alike.

Six factors, all latent, stored in C-order (orientation fastest), 480,000 images of 64x64x3:

==============  ======  ===============================================
factor          values  physical value of class ``k``
==============  ======  ===============================================
floor_hue       10      ``k / 10`` (HSV hue)
wall_hue        10      ``k / 10``
object_hue      10      ``k / 10``
scale           8       ``linspace(0.75, 1.25, 8)[k]``
shape           4       cube, cylinder, sphere, capsule
orientation     15      ``linspace(-30, 30, 15)[k]`` degrees (view azimuth)
==============  ======  ===============================================

**Official** (:class:`Shapes3D`): DeepMind's public ``3dshapes/3dshapes.h5`` (keys ``images``
uint8 ``(480000, 64, 64, 3)`` and ``labels`` ``(480000, 6)``) or disentanglement_lib's internal
``3dshapes/look-at-object-room_...npz`` (``images`` shaped ``(10, 10, 10, 8, 4, 15, 64, 64, 3)``).
The h5 is compressed, so it is read once in large slices and its images cached as uint8
``3dshapes.h5.images.npy`` beside it, then memory-mapped; observations are ``uint8 / 255`` per
batch (dlib kept a 23.6 GB float32 copy instead).

**Procedural** (:class:`ProceduralShapes3D`): a ray-cast look-alike of the same scene, not the
real pixels: a room corner under a sky band of exactly RGB (153, 226, 249), a bright back wall
and darker side walls, a floor, one object (cube, cylinder, sphere, capsule) of the given scale
at the centre, Lambert + headlight + a little specular shading and a soft shadow to the lower
right. The camera turns about the object by the orientation angle. Hues never change geometry,
so each of the 8*4*15 = 480 (scale, shape, orientation) configurations is traced once (lazily)
into colouring weights (:meth:`dislab.data._raycast.Trace.weights`), and an image is
``weights @ fully_saturated_hue_colours + specular + sky``, clipped and quantised to uint8
steps.
"""

from __future__ import annotations

import colorsys
import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dislab.data import _raycast as rc
from dislab.data._cache import ImageCache, atomic_npy
from dislab.data.base import ArrayData, GroundTruthData, Rng
from dislab.data.registry import DatasetInfo, register

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
HUES = np.arange(10) / 10.0
SCALES = np.linspace(0.75, 1.25, 8)
ORIENTATIONS = np.linspace(-30.0, 30.0, 15)
FACTOR_VALUES = (HUES, HUES, HUES, SCALES, np.arange(4.0), ORIENTATIONS)
"""Physical label value of every class of every factor (as in the h5 ``labels``)."""

IMAGE_SHAPE = (64, 64, 3)
SKY_RGB = (153, 226, 249)

H5_FILE = "3dshapes/3dshapes.h5"
DLIB_NPZ_FILE = (
    "3dshapes/look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz"
)
CACHE_SUFFIX = ".images.npy"
READ_SLICE = 20_000  # images per h5 read (~245 MB of uint8)


class _Shapes3DFactors:
    """The description both sources share: six latent factors, 64x64 RGB images."""

    name = "shapes3d"
    all_factor_names = FACTOR_NAMES
    all_factor_sizes = FACTOR_SIZES
    latent_factor_indices = tuple(range(6))
    observation_shape = IMAGE_SHAPE


# -- official files -------------------------------------------------------------------------
class Shapes3D(_Shapes3DFactors, ArrayData):
    """The official images (uint8, C-order over the six factors), from either file."""

    source = "official"


def expected_labels(factor_values: Sequence[np.ndarray] = FACTOR_VALUES) -> np.ndarray:
    """Label rows ``[prod(sizes), F]`` of the grid in C-order (last factor fastest)."""
    grids = np.meshgrid(*[np.asarray(v, dtype=np.float64) for v in factor_values], indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=-1)


def read_h5_images(
    path: str | os.PathLike, factor_values: Sequence[np.ndarray] = FACTOR_VALUES
) -> np.ndarray:
    """Images of a ``3dshapes.h5``-format file as a read-only uint8 memory map.

    Checks that ``images`` is uint8 ``(n, 64, 64, 3)`` and ``labels`` ``(n, F)`` equal the
    C-order grid of ``factor_values`` (``n = prod(len(v))``, 480,000 for the real file). The
    first call copies the images (in slices of ``READ_SLICE``) to ``<file>.images.npy`` beside
    it, written atomically; later calls only memory-map that cache. Where the folder is not
    writable, the images are read into memory instead (uint8, with a warning).
    """
    path = Path(path)
    labels = expected_labels(factor_values)
    shape = (len(labels),) + IMAGE_SHAPE
    cache = path.with_name(path.name + CACHE_SUFFIX)
    if cache.exists():
        images = np.load(cache, mmap_mode="r")
        if images.shape == shape and images.dtype == np.uint8:
            return images
        warnings.warn(f"{cache}: stale cache {images.shape}, rebuilding", stacklevel=2)
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from None
    with h5:
        _check_h5(path, h5, shape, labels)
        try:
            return _cache_images(h5["images"], cache)
        except PermissionError:
            warnings.warn(f"cannot write {cache}; holding the uint8 images in memory", stacklevel=2)
            return h5["images"][()]


def _check_h5(path: Path, h5, shape: tuple[int, ...], labels: np.ndarray) -> None:
    for key in ("images", "labels"):
        if key not in h5:
            raise ValueError(f"{path}: missing dataset {key!r} (found {sorted(h5.keys())})")
    images = h5["images"]
    if images.dtype != np.uint8 or images.shape != shape:
        raise ValueError(
            f"{path}: 'images' must be uint8 {shape}, found {images.dtype} {images.shape}"
        )
    stored = h5["labels"]
    if stored.shape != labels.shape:
        raise ValueError(f"{path}: 'labels' must have shape {labels.shape}, found {stored.shape}")
    stored = stored[()]
    if not np.allclose(stored, labels, atol=1e-4):
        row = int(np.argwhere(~np.isclose(stored, labels, atol=1e-4))[0, 0])
        raise ValueError(
            f"{path}: 'labels' are not the expected C-order factor grid {list(FACTOR_NAMES)}: "
            f"row {row} is {stored[row].tolist()}, expected {labels[row].tolist()}"
        )


def _cache_images(images, cache: Path) -> np.ndarray:
    """Copy an h5 dataset to ``cache`` (.npy) atomically; return it memory-mapped."""
    with atomic_npy(cache, images.shape, np.uint8) as out:
        for start in range(0, images.shape[0], READ_SLICE):
            out[start : start + READ_SLICE] = images[start : start + READ_SLICE]
    return np.load(cache, mmap_mode="r")


def read_dlib_npz_images(
    path: str | os.PathLike, factor_sizes: Sequence[int] = FACTOR_SIZES
) -> np.ndarray:
    """uint8 images ``[prod(sizes), 64, 64, 3]`` of dlib's npz (``images`` shaped
    ``(*factor_sizes, 64, 64, 3)``; no pickles are read)."""
    path = Path(path)
    shape = tuple(factor_sizes) + IMAGE_SHAPE
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable npz file ({err})") from None
    with npz:
        if "images" not in npz.files:
            raise ValueError(f"{path}: missing array 'images' (found {npz.files})")
        images = npz["images"]
    if images.dtype != np.uint8 or images.shape != shape:
        raise ValueError(
            f"{path}: 'images' must be uint8 {shape}, found {images.dtype} {images.shape}"
        )
    return images.reshape((-1,) + IMAGE_SHAPE)


def load_official(root: Path) -> Shapes3D:
    """:class:`Shapes3D` from ``root/3dshapes.h5`` if present, else dlib's npz."""
    h5 = Path(root) / H5_FILE
    if h5.exists():
        return Shapes3D(read_h5_images(h5))
    return Shapes3D(read_dlib_npz_images(Path(root) / DLIB_NPZ_FILE))


# -- procedural look-alike --------------------------------------------------------------------
FLOOR, WALL, OBJECT = 0, 1, 2  # colour groups; walls share wall_hue

# Fitted (least squares on projected points) to the real images: horizon at row 32 (level
# camera), floor contact row 52, a 1.25-unit sphere 28 px tall, back wall from row 15 to 41,
# corner at column 44 (rows 18-39.5) at orientation -30 degrees.
CAMERA_DISTANCE = 6.0
CAMERA_ELEVATION = 0.0
CAMERA_FOV = 26.8
TARGET_HEIGHT = 0.89
BACK_WALL_Y = 7.65  # back wall plane y = BACK_WALL_Y; the object stands at the origin
SIDE_WALL_X = 6.04  # side walls at x = +-SIDE_WALL_X
WALL_HEIGHT = 2.58
WALL_THICKNESS = 0.2
SIDE_WALL_HALF_LENGTH = 20.0  # side walls run along y through the origin, past the camera
# object sizes at scale 1 (measured pixel sizes / 22.4 px per unit at the object)
CUBE_EDGE = 0.85
CYLINDER_DIAMETER = 0.85  # and height
SPHERE_DIAMETER = 1.0
CAPSULE_DIAMETER = 0.8  # total height twice that
# Shading tuned to the real HSV values: back wall ~1.0 (mostly headlight), side walls ~0.6,
# lit floor ~1.0, floor in shadow ~0.34. The light turns with the camera (the real shadows
# always fall to the lower right): its direction is the one at orientation 0, turned by the
# azimuth in scene().
LIGHTING = rc.Lighting(
    direction=(-0.15, 0.75, 1.0),  # from behind, above, left of the camera
    intensity=1.0,
    ambient=0.22,
    headlight=0.8,
    specular=0.25,  # broad white sheen on the upper side of the object (only it is glossy)
    shininess=1.5,
    shadow_softness=3.0,
    shadow_samples=6,
)
SUPERSAMPLE = 2


def scene(
    scale: float, shape: int, orientation: float
) -> tuple[rc.Camera, list, list[int], rc.Lighting]:
    """Camera, shapes, colour groups and lighting of one (scale, shape index, azimuth in deg).

    The object (size ``scale`` times ``CUBE_EDGE``, ``CYLINDER_DIAMETER`` (= height),
    ``SPHERE_DIAMETER`` or ``CAPSULE_DIAMETER`` (half its height)) stands on the floor
    ``z = 0`` at the origin, inside a room whose back wall faces the camera at orientation 0.
    """
    if shape not in range(4):
        raise ValueError(f"shape must be 0..3 ({', '.join(SHAPE_NAMES)}), got {shape}")
    camera = rc.Camera(
        target=(0.0, 0.0, TARGET_HEIGHT),
        distance=CAMERA_DISTANCE,
        azimuth=float(orientation),
        elevation=CAMERA_ELEVATION,
        fov=CAMERA_FOV,
        width=IMAGE_SHAPE[1],
        height=IMAGE_SHAPE[0],
    )
    half, height = WALL_THICKNESS / 2, WALL_HEIGHT / 2
    back = rc.Box(
        (0.0, BACK_WALL_Y + half, height),
        (SIDE_WALL_X + WALL_THICKNESS, half, height),
        casts_shadow=False,
    )
    sides = [
        rc.Box(
            (side * (SIDE_WALL_X + half), 0.0, height),
            (half, SIDE_WALL_HALF_LENGTH, height),
            casts_shadow=False,
        )
        for side in (-1.0, 1.0)
    ]
    floor = rc.Plane((0.0, 0.0, 0.0), (0.0, 0.0, 1.0), casts_shadow=False)
    s = float(scale)
    cube, cyl, cap = CUBE_EDGE * s / 2, CYLINDER_DIAMETER * s / 2, CAPSULE_DIAMETER * s / 2
    sphere = SPHERE_DIAMETER * s / 2
    obj = [
        rc.Box((0.0, 0.0, cube), (cube, cube, cube)),
        rc.Cylinder((0.0, 0.0, 0.0), (0.0, 0.0, 2 * cyl), cyl),
        rc.Sphere((0.0, 0.0, sphere), sphere),
        rc.Capsule((0.0, 0.0, cap), (0.0, 0.0, 3 * cap), cap),
    ][shape]
    light = rc.rotation_z(float(orientation)) @ np.asarray(LIGHTING.direction)
    lighting = dataclasses.replace(LIGHTING, direction=tuple(light))
    return camera, [floor, back, *sides, obj], [FLOOR, WALL, WALL, WALL, OBJECT], lighting


def hue_colours(hues: np.ndarray = HUES) -> np.ndarray:
    """Fully saturated RGB ``[len(hues), 3]`` of HSV ``(h, 1, 1)``."""
    return np.array([colorsys.hsv_to_rgb(float(h), 1.0, 1.0) for h in hues])


class ProceduralShapes3D(_Shapes3DFactors, GroundTruthData):
    """Ray-cast look-alike of Shapes3D (see module doc); same factors, grid and order.

    Cost on one core: tracing a new (scale, shape, orientation) configuration takes ~15-20 ms
    (all 480: ~8 s, done lazily as samples need them, ~40 MB of float32 maps); once traced,
    ``sample(64)`` runs at ~15,000 images/s. The maps persist in the cache folder of
    :mod:`dislab.data._cache` (``shapes3d-geometry-v1.npy``, float32, up to 40 MB), so later
    processes trace nothing again.
    """

    source = "procedural"
    fixed_observations = True

    geometry_version = "1"  # of the persistent maps; bump whenever the maps change

    def __init__(self):
        self._geometry_sizes = FACTOR_SIZES[3:]
        count = int(np.prod(self._geometry_sizes))
        # per configuration: floor, wall, object weights, specular, sky coverage
        shape = (count,) + IMAGE_SHAPE[:2] + (5,)
        self._maps = ImageCache.open("shapes3d-geometry", self.geometry_version, shape, np.float32)
        self._hue_rgb = hue_colours().astype(np.float32)
        self._sky = np.asarray(SKY_RGB, dtype=np.float32) / 255.0

    def geometry_maps(self, scale: int, shape: int, orientation: int) -> np.ndarray:
        """Colouring maps ``[64, 64, 5]`` of one configuration (class indices), cached."""
        config = int(np.ravel_multi_index((scale, shape, orientation), self._geometry_sizes))
        self._prepare(np.array([config]))
        return self._maps.images[config]

    def _prepare(self, configs: np.ndarray) -> None:
        todo = np.unique(configs[self._maps.done[configs] == 0])
        if not todo.size:
            return
        maps = np.empty((len(todo),) + self._maps.images.shape[1:], dtype=np.float32)
        for i, config in enumerate(todo):
            scale, shape, orientation = np.unravel_index(config, self._geometry_sizes)
            camera, shapes, groups, lighting = scene(
                SCALES[scale], int(shape), ORIENTATIONS[orientation]
            )
            gloss = [float(group == OBJECT) for group in groups]
            trace = rc.trace(camera, shapes, lighting, supersample=SUPERSAMPLE, gloss=gloss)
            weights, specular, sky = trace.weights(groups)
            maps[i] = np.concatenate([weights, specular[..., None], sky[..., None]], axis=-1)
        self._maps.store(todo, maps)

    def _render(self, all_factors: np.ndarray, rng: Rng) -> np.ndarray:
        configs = np.ravel_multi_index(tuple(all_factors[:, 3:].T), self._geometry_sizes)
        self._prepare(configs)
        n = len(all_factors)
        # per image a [5, 3] matrix: floor, wall, object colours, white (specular), sky
        mix = np.empty((n, 5, 3), dtype=np.float32)
        mix[:, :3] = self._hue_rgb[all_factors[:, :3]]
        mix[:, 3] = 1.0
        mix[:, 4] = self._sky
        height, width, _ = IMAGE_SHAPE
        image = np.matmul(self._maps.images[configs].reshape(n, height * width, 5), mix)
        np.clip(image, 0.0, 1.0, out=image)
        # quantise to uint8 steps, like the real files
        image *= 255.0
        np.rint(image, out=image)
        image *= np.float32(1.0 / 255.0)
        return image.reshape((n,) + IMAGE_SHAPE)


register(
    DatasetInfo(
        name="shapes3d",
        description="3D shapes in a room: floor/wall/object hue, scale, shape, view azimuth",
        official_files=(f"{H5_FILE}|{DLIB_NPZ_FILE}",),
        load_official=load_official,
        make_procedural=ProceduralShapes3D,
        procedural_note="ray-cast look-alike of the MuJoCo scenes (not the real pixels)",
    )
)
