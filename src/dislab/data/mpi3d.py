"""MPI3D (Gondal et al., NeurIPS 2019): ``mpi3d_toy``, ``mpi3d_realistic``, ``mpi3d_real``.

Official files only (there is no procedural MPI3D): ``$ROOT/{name}/{name}.npz`` with key
``images``, uint8 ``[N, 64, 64, 3]`` in C-order of the factors object_color, object_shape,
object_size, camera_height, background_color, horizontal_axis, vertical_axis (all latent).

The factor sizes follow from the image count, never from the name alone:

- 460,800 images: dlib's files for toy and realistic, sizes ``[4, 4, 2, 3, 3, 40, 40]``;
- 1,036,800 images: dlib's ``mpi3d_real`` and the final release of all three (CC-BY-4.0),
  sizes ``[6, 6, 2, 3, 3, 40, 40]``.

An uncompressed npz member (``numpy.savez``, as the official files are) is memory-mapped, so
opening the 12.7 GB final-release file costs no memory; a compressed one is read into memory.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np

from dislab.data.base import ArrayData
from dislab.data.registry import DatasetInfo, register

MODES = ("mpi3d_toy", "mpi3d_realistic", "mpi3d_real")
FACTOR_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
SIZES_460800 = (4, 4, 2, 3, 3, 40, 40)
SIZES_1036800 = (6, 6, 2, 3, 3, 40, 40)
#: Accepted factor sizes per dataset; the one whose product equals the image count is used.
ACCEPTED_SIZES = {
    "mpi3d_toy": (SIZES_460800, SIZES_1036800),
    "mpi3d_realistic": (SIZES_460800, SIZES_1036800),
    "mpi3d_real": (SIZES_1036800,),
}
IMAGE_SHAPE = (64, 64, 3)


def factor_sizes_for(mode: str, num_images: int) -> tuple[int, ...]:
    """Factor sizes of an MPI3D file of ``mode`` holding ``num_images`` images."""
    accepted = ACCEPTED_SIZES[mode]
    for sizes in accepted:
        if int(np.prod(sizes)) == num_images:
            return sizes
    counts = " or ".join(f"{int(np.prod(s)):,} (sizes {list(s)})" for s in accepted)
    raise ValueError(f"{mode}: {num_images:,} images, expected {counts}")


def read_npz_array(path: str | Path, key: str) -> np.ndarray:
    """Array ``key`` of the npz file ``path``; memory-mapped when stored uncompressed.

    Raises ``ValueError`` naming the file when it is not an npz file, lacks ``key`` or holds
    objects (never unpickled).
    """
    path = Path(path)
    member = f"{key}.npy"
    try:
        with zipfile.ZipFile(path) as archive:
            if member not in archive.namelist():
                found = ", ".join(n.removesuffix(".npy") for n in archive.namelist())
                raise KeyError(f"no array {key!r} (found: {found})")
            entry = archive.getinfo(member)
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                shape, fortran, dtype = _read_npy_header(stream, version)
                header_size = stream.tell()
        if entry.compress_type != zipfile.ZIP_STORED or dtype.hasobject:
            with np.load(path, allow_pickle=False) as npz:
                return npz[key]
        offset = _member_data_offset(path, entry) + header_size
        order = "F" if fortran else "C"
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
    except KeyError as err:
        raise ValueError(f"{path}: {err.args[0]}") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: cannot read array {key!r} as npz ({err})") from err


def _read_npy_header(stream, version: tuple[int, int]):
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    return np.lib.format.read_array_header_2_0(stream)


def _member_data_offset(path: Path, entry: zipfile.ZipInfo) -> int:
    """Byte offset of a stored zip member's data: local header (30 bytes) + name + extra."""
    with open(path, "rb") as handle:
        handle.seek(entry.header_offset)
        local = handle.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {entry.filename}")
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    return entry.header_offset + 30 + name_len + extra_len


class MPI3D(ArrayData):
    """An official MPI3D file; factor sizes chosen from the image count (see module doc)."""

    all_factor_names = FACTOR_NAMES
    latent_factor_indices = tuple(range(len(FACTOR_NAMES)))
    observation_shape = IMAGE_SHAPE
    source = "official"

    def __init__(self, images: np.ndarray, mode: str, where: str = ""):
        if mode not in ACCEPTED_SIZES:
            raise ValueError(f"unknown MPI3D dataset {mode!r}; valid: {', '.join(MODES)}")
        where = where or mode
        if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"{where}: 'images' must be (N, 64, 64, 3), got {images.shape}")
        self.name = mode
        try:
            self.all_factor_sizes = factor_sizes_for(mode, images.shape[0])
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        super().__init__(images)


def file_path(mode: str) -> str:
    """``{mode}/{mode}.npz``, the official file relative to the data root."""
    return f"{mode}/{mode}.npz"


def load_official(root: Path, mode: str) -> MPI3D:
    path = Path(root) / file_path(mode)
    images = read_npz_array(path, "images")
    if images.dtype != np.uint8:
        raise ValueError(f"{path}: 'images' must be uint8, got {images.dtype}")
    return MPI3D(images, mode, where=str(path))


for _mode in MODES:
    register(
        DatasetInfo(
            name=_mode,
            description=f"MPI3D {_mode.split('_')[1]}: 7 factors (object colour, shape, size, "
            "camera height, background colour, two arm angles); 64x64 RGB; official file only",
            official_files=(file_path(_mode),),
            load_official=functools.partial(load_official, mode=_mode),
            make_procedural=None,
        )
    )
