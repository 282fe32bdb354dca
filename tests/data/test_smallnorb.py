import gzip
import struct

import numpy as np
import pytest

from dislab.data import _images, registry
from dislab.data.base import StateSpace
from dislab.data.smallnorb import (
    CHUNKS,
    SmallNORB,
    SmallNORBSubstitute,
    file_name,
    load_smallnorb_images,
    read_norb_matrix,
)

MAGIC = {"uint8": 0x1E3D4C55, "int32": 0x1E3D4C54, "int16": 0x1E3D4C56,
         "float32": 0x1E3D4C51, "float64": 0x1E3D4C53}  # fmt: skip


def norb_bytes(array: np.ndarray, magic: int) -> bytes:
    """A NORB binary matrix written from the format description (not with the reader's code)."""
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    header = struct.pack(f"<{2 + len(dims)}i", magic, array.ndim, *dims)
    return header + array.astype(array.dtype.newbyteorder("<")).tobytes()


def write_norb(path, array, magic=None, compress=None):
    magic = MAGIC[array.dtype.name] if magic is None else magic
    compress = path.suffix == ".gz" if compress is None else compress
    data = norb_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("dtype", list(MAGIC))
@pytest.mark.parametrize("suffix", [".mat", ".mat.gz"])
def test_read_norb_matrix_each_magic_plain_and_gzip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) * 3 - 5 * (dtype != "uint8")).astype(dtype)
    path = write_norb(tmp_path / f"m{suffix}", array)
    out = read_norb_matrix(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def test_read_norb_matrix_header_lengths_follow_ndim(tmp_path):
    # ndim < 3 still stores three dims (20-byte header for cat/info); ndim 4 stores four (24)
    cat = np.array([4, 0, 2], dtype=np.int32)
    assert len(norb_bytes(cat, MAGIC["int32"])) == 20 + 12
    np.testing.assert_array_equal(read_norb_matrix(write_norb(tmp_path / "c.mat", cat)), cat)
    dat = np.arange(2 * 2 * 3 * 3, dtype=np.uint8).reshape(2, 2, 3, 3)
    assert len(norb_bytes(dat, MAGIC["uint8"])) == 24 + 36
    np.testing.assert_array_equal(read_norb_matrix(write_norb(tmp_path / "d.mat", dat)), dat)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: struct.pack("<I", 0x1E3D4C50) + b[4:], "unknown NORB magic 0x1e3d4c50"),
        (lambda b: b[:-1], "bytes, but a int32 NORB matrix of shape"),
        (lambda b: b + b"\0", "bytes, but a int32 NORB matrix of shape"),
        (lambda b: b[:6], "too short"),
        (lambda b: b[:4] + struct.pack("<i", -1) + b[8:], "ndim=-1"),
        (lambda b: b[:4] + struct.pack("<i", 12) + b[8:], "too short for a 12-d"),
        (lambda b: b"", "too short"),
    ],
)
def test_read_norb_matrix_rejects_corrupt_files(tmp_path, mutate, message):
    good = norb_bytes(np.arange(6, dtype=np.int32).reshape(2, 3), MAGIC["int32"])
    path = tmp_path / "bad.mat"
    path.write_bytes(mutate(good))
    with pytest.raises(ValueError, match=message) as err:
        read_norb_matrix(path)
    assert str(path) in str(err.value)


def test_read_norb_matrix_rejects_broken_gzip(tmp_path):
    path = tmp_path / "bad.mat.gz"
    path.write_bytes(gzip.compress(b"0123456789" * 10)[:-8])
    with pytest.raises(ValueError, match="bad.mat.gz"):
        read_norb_matrix(path)


# -- a small NORB grid written in the official layout ------------------------------------------
SMALL = (2, 2, 3, 2, 2)  # category, instance, elevation, azimuth / 2, lighting


def grid_rows(sizes):
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(
        -1, len(sizes)
    )


def write_small_norb(folder, rows, images, gz_testing=True):
    """Write ``rows`` (features) and camera-0 ``images`` as the two official chunks: instance 1
    goes to the training chunk (plain files), instance 0 to the testing chunk (gzip)."""
    folder.mkdir(exist_ok=True)
    for chunk, instance in zip(CHUNKS, (1, 0)):
        pick = rows[:, 1] == instance
        dat = np.stack([images[pick], 255 - images[pick]], axis=1)  # camera 1 = negative
        info = np.column_stack([rows[pick, 1], rows[pick, 2], 2 * rows[pick, 3], rows[pick, 4]])
        gz = ".gz" if chunk == CHUNKS[1] and gz_testing else ""
        for kind, array in (("dat", dat), ("cat", rows[pick, 0]), ("info", info)):
            dtype = np.uint8 if kind == "dat" else np.int32
            write_norb(folder / (file_name(chunk, kind) + gz), array.astype(dtype))


def test_images_land_at_their_c_order_index(tmp_path):
    rows = grid_rows(SMALL)
    rows = rows[np.random.RandomState(0).permutation(len(rows))]  # files are in no order
    assert StateSpace(SMALL).bases.tolist() == [24, 12, 4, 2, 1]
    index = rows @ np.array([24, 12, 4, 2, 1])
    images = np.repeat(index.astype(np.uint8), 96 * 96).reshape(-1, 96, 96)
    images[0] = np.add.outer(np.arange(96), np.arange(96)).astype(np.uint8)  # a gradient
    write_small_norb(tmp_path / "small_norb", rows, images)
    out = load_smallnorb_images(tmp_path / "small_norb", SMALL)
    assert out.dtype == np.uint8 and out.shape == (48, 64, 64)
    constant = np.ones(48, dtype=bool)
    constant[index[0]] = False
    np.testing.assert_array_equal(out[constant, 5, 7], np.arange(48)[constant])
    assert np.all(out[constant] == out[constant, :1, :1])
    # camera 0, Lanczos 96 -> 64
    np.testing.assert_array_equal(out[index[0]], _images.resize(images[0], 64, 64))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: rows[:-1], "missing"),
        (lambda rows: np.concatenate([rows, rows[:1]]), "more than once"),
        (lambda rows: np.where(rows == rows.max(0), rows + [0, 0, 0, 1, 0], rows), "outside"),
    ],
)
def test_rows_must_cover_the_grid_exactly_once(tmp_path, edit, message):
    rows = edit(grid_rows(SMALL))
    write_small_norb(tmp_path / "small_norb", rows, np.zeros((len(rows), 96, 96), np.uint8))
    with pytest.raises(ValueError, match=message) as err:
        load_smallnorb_images(tmp_path / "small_norb", SMALL)
    assert "small_norb" in str(err.value)


def test_odd_azimuth_and_wrong_shapes_name_the_file(tmp_path):
    folder = tmp_path / "small_norb"
    rows = grid_rows(SMALL)
    write_small_norb(folder, rows, np.zeros((len(rows), 96, 96), np.uint8), gz_testing=False)
    info = folder / file_name(CHUNKS[0], "info")
    good = read_norb_matrix(info).copy()
    bad = good.copy()
    bad[0, 2] = 3
    write_norb(info, bad)
    with pytest.raises(ValueError, match="azimuths must be even") as err:
        load_smallnorb_images(folder, SMALL)
    assert str(info) in str(err.value)
    write_norb(info, good[:, :3].copy())
    with pytest.raises(ValueError, match=r"shape \(\d+, 4\), got int32 \(\d+, 3\)"):
        load_smallnorb_images(folder, SMALL)
    write_norb(info, good)
    dat = folder / file_name(CHUNKS[1], "dat")
    write_norb(dat, read_norb_matrix(dat)[:, :1].copy())
    with pytest.raises(ValueError, match=r"expected a uint8 matrix of shape \(N, 2, 96, 96\)"):
        load_smallnorb_images(folder, SMALL)


def test_missing_files_name_the_path_and_the_download_command(data_root):
    with pytest.raises(registry.DatasetNotFoundError) as err:
        registry.get("smallnorb", source="official")
    message = str(err.value)
    assert str(data_root / "small_norb" / file_name(CHUNKS[0], "dat")) in message
    assert "dislab data download smallnorb" in message


def test_official_class_factors_and_index_formula():
    images = np.zeros((48600, 64, 64), dtype=np.uint8)  # untouched pages cost no memory
    data = SmallNORB(images)
    assert data.factor_names == ("category", "elevation", "azimuth", "lighting")
    assert data.factor_sizes == (5, 9, 18, 6)
    assert data.observation_shape == (64, 64, 1) and data.source == "official"
    assert data.state_space.bases.tolist() == [9720, 972, 108, 6, 1]
    latent = np.array([[4, 8, 17, 5], [1, 2, 3, 4]])
    instance = np.random.RandomState(7).randint(10, size=2)  # the nuisance draw
    index = [4 * 9720 + instance[0] * 972 + 8 * 108 + 17 * 6 + 5,
             1 * 9720 + instance[1] * 972 + 2 * 108 + 3 * 6 + 4]  # fmt: skip
    images[index, 0, 0] = [51, 102]
    obs = data.sample_observations_from_factors(latent, np.random.RandomState(7))
    assert obs.shape == (2, 64, 64, 1)
    np.testing.assert_allclose(obs[:, 0, 0, 0], [0.2, 0.4], rtol=1e-6)
    assert obs[:, 1:].max() == 0


# -- the procedural substitute ---------------------------------------------------------------
def test_substitute_is_labelled_and_used_without_files(data_root):
    data = registry.get("smallnorb")
    assert isinstance(data, SmallNORBSubstitute) and data.source == "procedural"
    assert "not comparable" in registry.info("smallnorb").procedural_note
    assert "SUBSTITUTE" in SmallNORBSubstitute.__doc__
    assert data.factor_sizes == (5, 9, 18, 6) and data.observation_shape == (64, 64, 1)


def test_substitute_images_depend_only_on_their_factors():
    rows = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 3, 0], [0, 0, 6, 0, 0],
                     [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [4, 9, 8, 17, 5]])  # fmt: skip
    images = SmallNORBSubstitute()._render_states(rows)
    assert images.dtype == np.uint8 and images.shape == (7, 64, 64, 1)
    again = SmallNORBSubstitute()._render_states(rows[::-1])[::-1]
    np.testing.assert_array_equal(images, again)
    flat = images.reshape(len(rows), -1).astype(int)
    # every factor (lighting, azimuth, elevation, instance, category) changes the image
    for i in range(1, 6):
        assert np.abs(flat[i] - flat[0]).mean() > 1.0, i
    # a grey object on the 0.45 grey background, covering a sensible part of the frame
    background = np.round(0.45 * 255)
    coverage = (flat != background).mean(1)
    assert np.all((coverage > 0.03) & (coverage < 0.6)), coverage
    assert flat[:, 0].tolist() == [background] * 7  # corner pixel is background


def test_registry_reads_plain_and_gz_files_and_demands_the_official_grid(data_root):
    rows = grid_rows(SMALL)
    write_small_norb(data_root / "small_norb", rows, np.zeros((len(rows), 96, 96), np.uint8))
    assert registry.official_available("smallnorb")
    with pytest.raises(ValueError, match=r"48 stored images do not cover the factor grid "
                       r"\[5, 10, 9, 18, 6\] exactly once: 48552 state\(s\) missing"):  # fmt: skip
        registry.get("smallnorb")
