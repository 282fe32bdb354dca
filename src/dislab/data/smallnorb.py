"""SmallNORB (LeCun, Huang and Bottou, 2004), as disentanglement_lib uses it.

Official files: ``$ROOT/small_norb/smallnorb-{chunk}-{dat,cat,info}.mat`` (or ``.mat.gz``),
chunks ``5x46789x9x18x6x2x96x96-training`` and ``5x01235x9x18x6x2x96x96-testing``; both are
read, so all 48,600 images are used. Only camera 0 of each stereo pair is kept and resized from
96x96 to 64x64 with Lanczos. Factors per image: ``[category, instance, elevation, azimuth / 2,
lighting]`` with sizes ``[5, 10, 9, 18, 6]``; the latent ones are indices ``[0, 2, 3, 4]``, the
instance is a nuisance drawn uniformly per sample. Observations are ``(64, 64, 1)``.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dislab.data import _images, _toys
from dislab.data._grid import RenderedGrid, grid_order
from dislab.data._raycast import Camera, Lighting
from dislab.data.base import ArrayData
from dislab.data.registry import DatasetInfo, register

FOLDER = "small_norb"
CHUNKS = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")
KINDS = ("dat", "cat", "info")
FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
LATENT_FACTORS = (0, 2, 3, 4)
IMAGE_SIZE = 64

#: NORB binary-matrix magic numbers -> element type (data are little endian).
NORB_DTYPES = {
    0x1E3D4C55: np.dtype(np.uint8),  # "byte matrix"; dlib says int8, pixels are unsigned
    0x1E3D4C54: np.dtype("<i4"),
    0x1E3D4C56: np.dtype("<i2"),
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
}
_MAX_DIMS = 32


def file_name(chunk: str, kind: str) -> str:
    """``smallnorb-{chunk}-{kind}.mat``, the name of one official (gunzipped) file."""
    return f"smallnorb-{chunk}-{kind}.mat"


def read_norb_matrix(path: str | Path) -> np.ndarray:
    """Read a NORB binary-matrix file, plain or gzip-compressed (name ending in ``.gz``).

    Layout, little endian: int32 magic (selects the element type, :data:`NORB_DTYPES`), int32
    ``ndim``, ``max(3, ndim)`` int32 dimensions (only the first ``ndim`` count), then the
    elements, last index fastest. Plain files are memory-mapped. Raises ``ValueError`` naming
    the file when the header or the size is wrong.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = np.frombuffer(stream.read(), dtype=np.uint8)
        elif path.stat().st_size == 0:
            raw = np.zeros(0, dtype=np.uint8)
        else:
            raw = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: cannot read NORB matrix ({err})") from err
    return _parse_norb_matrix(raw, path)


def _parse_norb_matrix(raw: np.ndarray, path: Path) -> np.ndarray:
    if raw.size < 8:
        raise ValueError(f"{path}: {raw.size} bytes, too short for a NORB matrix header")
    magic, ndim = (int(v) for v in raw[:8].view("<i4"))
    dtype = NORB_DTYPES.get(magic & 0xFFFFFFFF)
    if dtype is None:
        known = ", ".join(f"{m:#x}" for m in NORB_DTYPES)
        raise ValueError(f"{path}: unknown NORB magic {magic & 0xFFFFFFFF:#x} (known: {known})")
    if not 0 < ndim <= _MAX_DIMS:
        raise ValueError(f"{path}: NORB header has ndim={ndim}, expected 1..{_MAX_DIMS}")
    header = 8 + 4 * max(3, ndim)
    if raw.size < header:
        raise ValueError(f"{path}: {raw.size} bytes, too short for a {ndim}-d NORB header")
    shape = tuple(int(d) for d in raw[8 : 8 + 4 * ndim].view("<i4"))
    if min(shape) < 0:
        raise ValueError(f"{path}: negative dimension in NORB header {shape}")
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if raw.size != expected:
        raise ValueError(
            f"{path}: {raw.size} bytes, but a {dtype} NORB matrix of shape {shape} needs {expected}"
        )
    return raw[header:].view(dtype).reshape(shape)


def _expect(array: np.ndarray, path: Path, dtype: str | type, shape: Sequence[int | None]) -> None:
    """Raise ``ValueError`` naming ``path`` unless ``array`` matches (``None`` = any size)."""
    ok = array.dtype == dtype and array.ndim == len(shape)
    ok = ok and all(want is None or want == got for want, got in zip(shape, array.shape))
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(
            f"{path}: expected a {np.dtype(dtype)} matrix of shape {want}, "
            f"got {array.dtype} {array.shape}"
        )


def chunk_paths(folder: Path, chunk: str) -> dict[str, Path]:
    """The ``dat``, ``cat``, ``info`` files of one chunk (plain preferred to ``.gz``)."""
    paths = {}
    for kind in KINDS:
        plain = folder / file_name(chunk, kind)
        candidates = [plain, plain.with_name(plain.name + ".gz")]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise FileNotFoundError(f"SmallNORB file not found: {plain} (or {candidates[1].name})")
        paths[kind] = found[0]
    return paths


def read_chunk(folder: Path, chunk: str) -> tuple[np.ndarray, np.ndarray]:
    """Camera-0 images resized to 64x64 (uint8 ``[n, 64, 64]``) and their factor rows.

    Factor rows are ``[category, instance, elevation, azimuth / 2, lighting]`` (int64 ``[n, 5]``).
    """
    paths = chunk_paths(folder, chunk)
    dat = read_norb_matrix(paths["dat"])
    _expect(dat, paths["dat"], np.uint8, (None, 2, 96, 96))
    cat = read_norb_matrix(paths["cat"])
    _expect(cat, paths["cat"], "<i4", (len(dat),))
    info = read_norb_matrix(paths["info"])
    _expect(info, paths["info"], "<i4", (len(dat), 4))
    azimuth = info[:, 2]
    if np.any(azimuth % 2):
        raise ValueError(f"{paths['info']}: azimuths must be even (0, 2, ..., 34)")
    features = np.column_stack([cat, info[:, 0], info[:, 1], azimuth // 2, info[:, 3]])
    images = np.empty((len(dat), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for i in range(len(dat)):
        images[i] = _images.resize(np.ascontiguousarray(dat[i, 0]), IMAGE_SIZE, IMAGE_SIZE)
    return images, features.astype(np.int64)


def load_smallnorb_images(
    folder: str | Path, factor_sizes: Sequence[int] = FACTOR_SIZES
) -> np.ndarray:
    """All images of both chunks in ``folder`` as uint8 ``[prod(factor_sizes), 64, 64]``.

    The files list images in no particular order; each image goes to the C-order index of its
    factor row, and the rows must cover the grid ``factor_sizes`` exactly once (dlib's
    ``StateSpaceAtomIndex``). ``factor_sizes`` is a parameter only so that tests can use a
    small grid; the registered dataset demands the official ``[5, 10, 9, 18, 6]``.
    """
    folder = Path(folder)
    chunks = [read_chunk(folder, chunk) for chunk in CHUNKS]
    images = np.concatenate([c[0] for c in chunks])
    features = np.concatenate([c[1] for c in chunks])
    return images[grid_order(features, factor_sizes, where=f"SmallNORB files in {folder}")]


class _SmallNORBFactors:
    """The factor description shared by the official data and the substitute."""

    name = "smallnorb"
    all_factor_names = FACTOR_NAMES
    all_factor_sizes = FACTOR_SIZES
    latent_factor_indices = LATENT_FACTORS
    observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 1)


class SmallNORB(_SmallNORBFactors, ArrayData):
    """The official SmallNORB images (uint8, C-order over all five factors)."""

    source = "official"


CATEGORIES = ("animal", "human", "airplane", "truck", "car")
_BUILDERS = (_toys.animal, _toys.human, _toys.airplane, _toys.truck, _toys.car)
#: Substitute views as in NORB: elevation 30 + 5 e degrees, azimuth 20 a degrees.
ELEVATION_START, ELEVATION_STEP, AZIMUTH_STEP = 30.0, 5.0, 20.0
_BACKGROUND = (0.45, 0.45, 0.45)
_SEED = 0x4E0B


def _light(azimuth: float, elevation: float, intensity: float, ambient: float) -> Lighting:
    az, el = np.radians(azimuth), np.radians(elevation)
    direction = (np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el))
    return Lighting(direction=direction, intensity=intensity, ambient=ambient, specular=0.15)


#: The six lighting conditions of the substitute (light azimuth, elevation, intensity, ambient).
LIGHTINGS = tuple(
    _light(*c)
    for c in (
        (-45, 60, 0.75, 0.25),
        (45, 60, 0.75, 0.25),
        (135, 40, 0.7, 0.25),
        (-135, 40, 0.7, 0.25),
        (0, 85, 0.55, 0.4),
        (90, 25, 0.9, 0.12),
    )
)


@functools.lru_cache(maxsize=FACTOR_SIZES[0] * FACTOR_SIZES[1])
def substitute_toy(category: int, instance: int) -> _toys.Toy:
    """Instance ``instance`` of ``CATEGORIES[category]``, grey: proportions from
    ``default_rng([0x4E0B, category, instance])``, albedo 0.5-0.85."""
    rng = np.random.default_rng([_SEED, category, instance])
    shade = rng.uniform(0.5, 0.85)
    return _BUILDERS[category](rng, (shade, shade, shade)).grey()


class SmallNORBSubstitute(_SmallNORBFactors, RenderedGrid):
    """PROCEDURAL SUBSTITUTE for SmallNORB, not the real data: numbers on it are not comparable
    with the paper.

    Same factor grid as SmallNORB (category 5, instance 10, elevation 9, azimuth 18, lighting 6;
    instance a nuisance) and ``(64, 64, 1)`` grey observations: 10 toys per category (animal,
    human, airplane, truck, car; :func:`substitute_toy`) ray-cast from elevation 30-70 degrees
    and azimuth 0-340 degrees under six lightings (:data:`LIGHTINGS`). Images are rendered on
    first use and cached.
    """

    cache_version = "1"

    def _render_states(self, all_factors: np.ndarray) -> np.ndarray:
        # each (category, instance, elevation, azimuth) view is ray-cast once for all lightings
        geometry, view_of = np.unique(all_factors[:, :4], axis=0, return_inverse=True)
        views = [
            (substitute_toy(category, instance), _camera(elevation, azimuth))
            for category, instance, elevation, azimuth in geometry.tolist()
        ]
        lights = all_factors[:, 4].tolist()
        shots = [(v, LIGHTINGS[k]) for v, k in zip(view_of.ravel().tolist(), lights)]
        return _toys.render_views(views, shots, _BACKGROUND)[..., :1]


def _camera(elevation: int, azimuth: int) -> Camera:
    """The substitute's camera for class indices ``elevation``, ``azimuth``."""
    return Camera(
        target=(0.0, 0.0, 0.45),
        distance=6.5,
        fov=22.0,
        azimuth=AZIMUTH_STEP * azimuth,
        elevation=ELEVATION_START + ELEVATION_STEP * elevation,
        width=IMAGE_SIZE,
        height=IMAGE_SIZE,
    )


def load_official(root: Path) -> SmallNORB:
    return SmallNORB(load_smallnorb_images(Path(root) / FOLDER))


register(
    DatasetInfo(
        name="smallnorb",
        description="SmallNORB toys: category 5, elevation 9, azimuth 18, lighting 6 "
        "(instance 10 is a nuisance); 64x64 grey",
        official_files=tuple(
            f"{FOLDER}/{file_name(chunk, kind)}|{FOLDER}/{file_name(chunk, kind)}.gz"
            for chunk in CHUNKS
            for kind in KINDS
        ),
        load_official=load_official,
        make_procedural=SmallNORBSubstitute,
        procedural_note="substitute: 5 categories x 10 procedurally built grey toys rendered "
        "under the same elevation/azimuth/lighting grid; not the real SmallNORB, numbers on it "
        "are not comparable with the paper",
    )
)
