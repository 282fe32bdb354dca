"""Process settings that make the CPU paths fast, applied by every entry point.

- **Denormals flushed to zero** (``torch.set_flush_denormal(True)``). Weights and activations
  of a model that trains long (a beta = 1 VAE most of all) drift into the subnormal range
  (|x| < ~1.2e-38 in float32), where x86 arithmetic is many times slower; a training run then
  slows down as it goes. Flushing such values to 0 changes every number by less than 1.2e-38,
  far below anything a loss or a metric resolves.
- **glibc's allocator kept from returning big buffers to the system** on every step
  (``mallopt(M_MMAP_THRESHOLD, 32 MiB)``, ``mallopt(M_TRIM_THRESHOLD, 1 GiB)``): the values the
  Makefile sets with ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, applied inside the
  process so that ``dislab train`` typed in a shell, a study worker, a Ray task or
  ``import dislab`` in a notebook run as fast as ``make run``. Skipped when the allocator is
  not glibc's (e.g. tcmalloc preloaded) or when the environment already sets them.

:func:`configure_process` applies both; it is idempotent and cheap.
"""

from __future__ import annotations

import ctypes
import os

#: glibc's ``mallopt`` parameters (``malloc.h``) and the values the Makefile exports.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MALLOC_SETTINGS = {
    "MALLOC_MMAP_THRESHOLD_": (M_MMAP_THRESHOLD, 32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": (M_TRIM_THRESHOLD, 1024 * 1024 * 1024),
}


def flush_denormals() -> bool:
    """Flush subnormal floats to zero in torch's CPU kernels; ``False`` where the CPU cannot."""
    import torch

    return bool(torch.set_flush_denormal(True))


def _glibc():
    """The C library when it is glibc with ``mallopt`` and no other allocator is preloaded."""
    if "malloc" in os.environ.get("LD_PRELOAD", ""):  # tcmalloc, jemalloc, ...
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def configure_malloc() -> list[str]:
    """Apply :data:`MALLOC_SETTINGS` with ``mallopt`` where the environment does not set them;
    returns the names of those applied (empty when the allocator is not glibc's)."""
    libc = _glibc()
    if libc is None:
        return []
    applied = []
    for name, (param, value) in MALLOC_SETTINGS.items():
        if name not in os.environ and libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)):
            applied.append(name)
    return applied


def configure_process() -> None:
    """Flush denormals and tune glibc's allocator (module doc)."""
    flush_denormals()
    configure_malloc()
