"""A persistent, process-safe cache of rendered procedural images (one .npy per dataset).

Files, in :func:`cache_dir` (``$DISLAB_CACHE``, default ``~/.cache/dislab``), for a dataset
``name`` and renderer ``version``:

- ``{name}-v{version}.npy``: ``[num_states, *image_shape]`` (uint8 images, or another dtype
  such as float32 maps), memory-mapped (a sparse file: states never rendered take no disk
  space);
- ``{name}-v{version}.done.npy``: uint8 ``[num_states]``, 1 where the image has been stored;
- ``{name}-v{version}.lock``: the lock file (``fcntl.flock``) serialising creation and writes.

Writes are safe when several processes render at once: both files are created complete (temp
file + ``os.replace``) under the lock; a batch of images is written and flushed to disk before
its ``done`` flags are set and flushed, so a flag never points at a half-written image (a
crash in between only loses the flags, and the images are rendered again). Two processes
rendering the same state write identical bytes. A file whose header, shape, dtype or flags are
wrong (stale, truncated, foreign) is replaced by an empty cache with a warning. Where the folder
cannot be written, the images are kept in memory only (with a warning).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """``$DISLAB_CACHE``, or ``~/.cache/dislab`` when unset."""
    return Path(os.environ.get("DISLAB_CACHE") or Path.home() / ".cache" / "dislab")


class ImageCache:
    """``images`` ``[n, *shape]`` and their ``done`` flags ``[n]``, on disk or in memory."""

    def __init__(self, images: np.ndarray, done: np.ndarray, lock: Path | None = None):
        self.images, self.done, self._lock = images, done, lock

    @staticmethod
    def in_memory(shape: Sequence[int], dtype=np.uint8) -> ImageCache:
        return ImageCache(np.zeros(shape, dtype=dtype), np.zeros(shape[0], dtype=np.uint8))

    @staticmethod
    def open(name: str, version: str, shape: Sequence[int], dtype=np.uint8) -> ImageCache:
        """The cache of dataset ``name``, renderer ``version``, images ``shape`` of ``dtype``
        (see module doc); created empty when missing or invalid, in memory when the folder
        cannot be written."""
        stem = cache_dir() / f"{name}-v{version}"
        paths = stem.with_name(stem.name + ".npy"), stem.with_name(stem.name + ".done.npy")
        lock = stem.with_name(stem.name + ".lock")
        shape, dtype = tuple(int(s) for s in shape), np.dtype(dtype)
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            with _locked(lock):
                arrays = _open_valid(paths, shape, dtype)
                if arrays is None:
                    arrays = _create(paths, shape, dtype)
        except PermissionError as err:
            warnings.warn(
                f"cannot write the image cache ({err}); keeping images in memory", stacklevel=2
            )
            return ImageCache.in_memory(shape, dtype)
        return ImageCache(*arrays, lock=lock)

    def store(self, states: np.ndarray, images: np.ndarray) -> None:
        """Save ``images`` of ``states``, then mark them done (each step flushed to disk)."""
        with _locked(self._lock) if self._lock else contextlib.nullcontext():
            self.images[states] = images
            _flush(self.images)
            self.done[states] = 1
            _flush(self.done)


def _flush(array: np.ndarray) -> None:
    if isinstance(array, np.memmap):
        array.flush()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_valid(paths: tuple[Path, Path], shape: tuple[int, ...], dtype: np.dtype):
    """Both files memory-mapped read-write, or ``None`` (with a warning if they are invalid)."""
    if not any(p.exists() for p in paths):
        return None
    try:  # read-only first: "r+" would silently extend a truncated file with zeros
        images = np.load(paths[0], mmap_mode="r")
        done = np.load(paths[1], mmap_mode="r")
        problem = None
        if images.dtype != dtype or images.shape != shape:
            problem = f"{paths[0]} holds {images.dtype} {images.shape}, expected {dtype} {shape}"
        elif done.dtype != np.uint8 or done.shape != shape[:1] or done.max(initial=0) > 1:
            problem = f"{paths[1]} is not a uint8 [{shape[0]}] array of 0/1 flags"
    except PermissionError:
        raise
    except (OSError, ValueError, EOFError) as err:
        problem = f"unreadable cache file ({err})"
    if problem is None:
        return tuple(np.load(p, mmap_mode="r+") for p in paths)
    warnings.warn(f"stale or corrupted image cache: {problem}; rebuilding it", stacklevel=3)
    return None


def _create(paths: tuple[Path, Path], shape: tuple[int, ...], dtype: np.dtype):
    """Write empty cache files atomically; return them memory-mapped."""
    # flags first: a crash between the two replacements leaves no flag set for an old image
    for path, file_shape, file_dtype in ((paths[1], shape[:1], np.uint8), (paths[0], shape, dtype)):
        with atomic_npy(path, file_shape, file_dtype):
            pass  # all zeros
    return tuple(np.load(p, mmap_mode="r+") for p in paths)


@contextlib.contextmanager
def atomic_npy(path: Path, shape: Sequence[int], dtype) -> Iterator[np.memmap]:
    """A zero-filled ``.npy`` memory map to fill; on success it replaces ``path`` at once
    (temp file beside it + ``os.replace``), on error it is removed and ``path`` is untouched."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(shape))
        yield array
        array.flush()
        del array
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
