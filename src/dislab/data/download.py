"""Download the official dataset files into the data root (for users with internet).

``dislab data download NAME`` fetches every file a dataset needs, verifies its checksum while
streaming, and unpacks it into disentanglement_lib's layout under the data root. Files already
present (and valid) are skipped. Nothing in the test suite ever calls the network: tests run
:func:`fetch` on ``file://`` URLs of files they write themselves.

Checksums are those published with the datasets or by TFDS / disent (see
``shared/reference/datasets.md`` section 7). Where no checksum is published (the Scream
painting, the Cars3D archive's members), the file is accepted as downloaded and the command
says it could not be verified.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dislab.data.registry import data_root, info

_NORB = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
_NORB_FILES = {
    "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz":
        "5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed348d214873",
    "smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat.gz":
        "2784e542c1922060691090952b6cd6278879a216c90f81476f0f00256d42cdaa",
    "smallnorb-5x46789x9x18x6x2x96x96-training-info.mat.gz":
        "de7eb932ebe7a4ee16217fead60660d0eb3d23632c2f4d1c51f88c501c17bf32",
    "smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat.gz":
        "cf7104eed3e51174d2f65b66d1e5878b9da233b886f161b0d88f4510ba2c7474",
    "smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat.gz":
        "ecaf6d5bb8c3bc5eab9cf0258f6d2198dd474e016e374836fc097f2e5ff509ff",
    "smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat.gz":
        "16adf314226327ee006d1a44db8cfef52773c06c829951d5653a9f6f310248a2",
}
_MPI3D = "https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/mpi3d_{}.npz"


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where from, where to (relative to the root) and how to check it.

    ``checksum`` is ``"md5:<hex>"`` or ``"sha256:<hex>"`` (or empty when none is published).
    ``unpack`` is ``""`` (keep as is), ``"gunzip"`` (drop the ``.gz``) or
    ``"untar:<member folder>"`` (extract that folder of a tarball into ``dest``).
    """

    url: str
    dest: str
    checksum: str = ""
    unpack: str = ""


_DSPRITES = RemoteFile(
    "https://github.com/deepmind/dsprites-dataset/raw/master/"
    "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
    "dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
    "md5:7da33b31b13a06f4b04a70402ce90c2e",
)
_SCREAM = RemoteFile(
    "https://upload.wikimedia.org/wikipedia/commons/f/f4/The_Scream.jpg", "scream/scream.jpg"
)

FILES: dict[str, tuple[RemoteFile, ...]] = {
    "dsprites_full": (_DSPRITES,),
    "dsprites_noshape": (_DSPRITES,),
    "color_dsprites": (_DSPRITES,),
    "noisy_dsprites": (_DSPRITES,),
    "scream_dsprites": (_DSPRITES, _SCREAM),
    "smallnorb": tuple(
        RemoteFile(_NORB + name, "small_norb/" + name, "sha256:" + digest, "gunzip")
        for name, digest in _NORB_FILES.items()
    ),
    "cars3d": (
        RemoteFile(
            "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz",
            "cars",
            "md5:4e866a7919c1beedf53964e6f7a23686",
            "untar:data/cars",
        ),
    ),
    "shapes3d": (
        RemoteFile(
            "https://storage.googleapis.com/3d-shapes/3dshapes.h5",
            "3dshapes/3dshapes.h5",
            "sha256:0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785",
        ),
    ),
    "mpi3d_toy": (
        RemoteFile(_MPI3D.format("toy"), "mpi3d_toy/mpi3d_toy.npz",
                   "md5:55889cb7c7dfc655d6e0277beee88868"),
    ),
    "mpi3d_realistic": (
        RemoteFile(_MPI3D.format("realistic"), "mpi3d_realistic/mpi3d_realistic.npz",
                   "md5:59a6225b88b635365f70c91b3e52f70f"),
    ),
    "mpi3d_real": (
        RemoteFile(_MPI3D.format("real"), "mpi3d_real/mpi3d_real.npz",
                   "md5:0f33f609918fb5c97996692f91129802"),
    ),
}


class ChecksumError(ValueError):
    """A downloaded file does not match its published checksum."""


def download(name: str, root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Fetch, verify and unpack every official file of dataset ``name``; return the root."""
    info(name)  # unknown names list the valid ones
    if name not in FILES:
        raise ValueError(f"no download is known for {name!r}; known: {', '.join(FILES)}")
    base = data_root(root)
    for remote in FILES[name]:
        target = base / remote.dest
        if _unpacked_path(target, remote).exists():
            _say(progress, f"{name}: {_unpacked_path(target, remote)} already present")
            continue
        fetch(remote, base, progress=progress)
    return base


def fetch(remote: RemoteFile, root: Path, progress: bool = True) -> Path:
    """Stream ``remote.url`` to a temp file, verify it, then move/unpack it under ``root``."""
    target = root / remote.dest
    target.parent.mkdir(parents=True, exist_ok=True)
    algo, _, expected = remote.checksum.partition(":")
    digest = hashlib.new(algo or "sha256")
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with _progress_bar(progress, total, Path(remote.url).name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if expected and digest.hexdigest() != expected:
            raise ChecksumError(
                f"{remote.url}: {algo} is {digest.hexdigest()}, expected {expected}; "
                "the download is corrupt or the file has changed upstream (nothing was kept)"
            )
        if not expected:
            _say(progress, f"note: no published checksum for {remote.url}; not verified")
        return _unpack(tmp, target, remote)
    finally:
        tmp.unlink(missing_ok=True)


def _unpacked_path(target: Path, remote: RemoteFile) -> Path:
    return target.with_suffix("") if remote.unpack == "gunzip" else target


def _unpack(tmp: Path, target: Path, remote: RemoteFile) -> Path:
    if remote.unpack == "gunzip":
        final = _unpacked_path(target, remote)
        part = final.with_name(final.name + ".part")
        with gzip.open(tmp, "rb") as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(part, final)
        return final
    if remote.unpack.startswith("untar:"):
        member_dir = remote.unpack.partition(":")[2].rstrip("/") + "/"
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
        try:
            with tarfile.open(tmp) as archive:
                members = [m for m in archive.getmembers()
                           if m.name.startswith(member_dir) and m.isfile()]
                if not members:
                    raise ValueError(f"{remote.url}: archive has no files under {member_dir}")
                for member in members:
                    member.name = member.name[len(member_dir):]
                archive.extractall(staging, members=members, filter="data")
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target
    os.replace(tmp, target)
    return target


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message)


def _progress_bar(enabled: bool, total: int | None, label: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not enabled)
