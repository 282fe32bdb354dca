"""Dataset registry: names as in disentanglement_lib, each with an official loader and/or a
procedural generator.

``get(name, source="auto")`` returns the official data when its files are present under the
data root, else the procedural generator; ``source="official"`` insists on the files (and
says where they are expected and how to download them), ``source="procedural"`` never reads
them. The returned dataset's ``source`` attribute always says which one you got.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dislab.data.base import SOURCES, GroundTruthData

#: What ``get(name, source=...)`` accepts: ``auto`` (official files when present) or a source.
SOURCE_CHOICES = ("auto", *SOURCES)

DATA_ENV = "DISLAB_DATA"
DLIB_DATA_ENV = "DISENTANGLEMENT_LIB_DATA"


class DatasetNotFoundError(FileNotFoundError):
    """An official dataset file is missing; the message names the path and the fix."""


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry.

    ``official_files`` are paths relative to the data root (dlib's layout); the first one that
    exists wins when several alternatives are listed in one tuple entry separated by ``|``.
    """

    name: str
    description: str
    official_files: tuple[str, ...]
    load_official: Callable[[Path], GroundTruthData] | None
    make_procedural: Callable[[], GroundTruthData] | None
    procedural_note: str = ""

    def missing_files(self, root: Path) -> list[str]:
        """Official files (or alternatives) not present under ``root``."""
        missing = []
        for entry in self.official_files:
            alternatives = entry.split("|")
            if not any(_exists(root / alt) for alt in alternatives):
                missing.append(alternatives[0])
        return missing


_REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    if info.name in _REGISTRY:
        raise ValueError(f"dataset {info.name!r} is registered twice")
    _REGISTRY[info.name] = info
    return info


def names() -> list[str]:
    """Registered dataset names, in registration order (dlib's order)."""
    return list(_REGISTRY)


def info(name: str) -> DatasetInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; valid names: {', '.join(names())}"
        ) from None


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds the official files, in disentanglement_lib's layout.

    Order: the ``root`` argument, ``$DISLAB_DATA``, ``$DISENTANGLEMENT_LIB_DATA``,
    ``~/.local/share/dislab/data``.
    """
    if root is not None:
        return Path(root).expanduser()
    for env in (DATA_ENV, DLIB_DATA_ENV):
        if os.environ.get(env):
            return Path(os.environ[env]).expanduser()
    return Path.home() / ".local" / "share" / "dislab" / "data"


def official_available(name: str, root: str | os.PathLike | None = None) -> bool:
    entry = info(name)
    return entry.load_official is not None and not entry.missing_files(data_root(root))


def get(name: str, source: str = "auto", root: str | os.PathLike | None = None) -> GroundTruthData:
    """The dataset ``name`` from ``source`` in ``("auto", "official", "procedural")``."""
    entry = info(name)
    if source not in SOURCE_CHOICES:
        raise ValueError(f"unknown source {source!r}; valid: {', '.join(SOURCE_CHOICES)}")
    base = data_root(root)
    if source == "auto":
        source = "official" if official_available(name, base) else "procedural"
    if source == "procedural":
        if entry.make_procedural is None:
            raise ValueError(f"{name} has no procedural generator; use source='official'")
        return entry.make_procedural()
    missing = entry.missing_files(base)
    if entry.load_official is None or missing:
        raise DatasetNotFoundError(
            f"{name}: official file(s) not found: "
            + ", ".join(str(base / m) for m in missing)
            + f" (data root {base}, set with ${DATA_ENV}). "
            f"Fetch them with `dislab data download {name}`, or use source='procedural'."
        )
    return entry.load_official(base)


def _exists(path: Path) -> bool:
    if any(ch in path.name for ch in "*?["):
        return any(path.parent.glob(path.name))
    return path.exists()
