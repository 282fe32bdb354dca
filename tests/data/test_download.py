"""Download logic on file:// URLs of files the tests write (never the network)."""

import gzip
import hashlib
import io
import tarfile

import pytest

from dislab.data import download as dl


def _remote(tmp_path, payload: bytes, algo="sha256", good=True, **kw):
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    digest = hashlib.new(algo, payload).hexdigest() if good else "0" * 64
    return dl.RemoteFile(src.as_uri(), kw.pop("dest", "x/file.bin"), f"{algo}:{digest}", **kw)


def test_fetch_verifies_and_places_file(tmp_path):
    root = tmp_path / "root"
    out = dl.fetch(_remote(tmp_path, b"hello", "md5"), root, progress=False)
    assert out == root / "x/file.bin" and out.read_bytes() == b"hello"


def test_fetch_rejects_bad_checksum_and_keeps_nothing(tmp_path):
    root = tmp_path / "root"
    with pytest.raises(dl.ChecksumError, match="expected 0000"):
        dl.fetch(_remote(tmp_path, b"hello", good=False), root, progress=False)
    assert list((root / "x").iterdir()) == []


def test_fetch_gunzips(tmp_path):
    remote = _remote(tmp_path, gzip.compress(b"norb"), dest="n/a.mat.gz", unpack="gunzip")
    out = dl.fetch(remote, tmp_path / "root", progress=False)
    assert out.name == "a.mat" and out.read_bytes() == b"norb"


def test_fetch_untars_one_member_folder(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("data/cars/car_001_mesh.mat", "data/cars/list.txt", "data/other.mat"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    remote = _remote(tmp_path, buffer.getvalue(), dest="cars", unpack="untar:data/cars")
    out = dl.fetch(remote, tmp_path / "root", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["car_001_mesh.mat", "list.txt"]


def test_every_dataset_with_official_files_has_a_download():
    from dislab import data

    for name in data.names():
        if data.info(name).load_official is not None:
            assert name in dl.FILES, name
            for remote in dl.FILES[name]:
                assert remote.url.startswith("http")


def test_download_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="valid names"):
        dl.download("nope", progress=False)
