import numpy as np
import pytest

from dislab.data import registry
from dislab.data.mpi3d import MPI3D, factor_sizes_for, read_npz_array

NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)


def fake_images(num_images: int) -> np.ndarray:
    """A read-only ``[N, 64, 64, 3]`` view whose image ``i`` is the constant ``i mod 251``
    (one byte per image, so a full-size MPI3D costs 1 MB)."""
    values = (np.arange(num_images) % 251).astype(np.uint8)
    return np.lib.stride_tricks.as_strided(
        values, (num_images, 64, 64, 3), (1, 0, 0, 0), writeable=False
    )


@pytest.mark.parametrize(
    ("mode", "count", "sizes"),
    [
        ("mpi3d_toy", 460_800, (4, 4, 2, 3, 3, 40, 40)),
        ("mpi3d_realistic", 460_800, (4, 4, 2, 3, 3, 40, 40)),
        ("mpi3d_toy", 1_036_800, (6, 6, 2, 3, 3, 40, 40)),
        ("mpi3d_realistic", 1_036_800, (6, 6, 2, 3, 3, 40, 40)),
        ("mpi3d_real", 1_036_800, (6, 6, 2, 3, 3, 40, 40)),
    ],
)
def test_factor_sizes_follow_the_image_count(mode, count, sizes):
    assert factor_sizes_for(mode, count) == sizes


@pytest.mark.parametrize(
    ("mode", "count", "message"),
    [
        ("mpi3d_real", 460_800, r"460,800 images, expected 1,036,800 \(sizes \[6, 6,"),
        ("mpi3d_toy", 1000, r"expected 460,800 \(sizes \[4, 4, .*\) or 1,036,800 \(sizes \[6"),
    ],
)
def test_other_image_counts_are_errors(mode, count, message):
    with pytest.raises(ValueError, match=message):
        factor_sizes_for(mode, count)


@pytest.mark.parametrize(
    ("mode", "count", "bases"),
    [
        ("mpi3d_toy", 460_800, [115200, 28800, 14400, 4800, 1600, 40, 1]),
        ("mpi3d_toy", 1_036_800, [172800, 28800, 14400, 4800, 1600, 40, 1]),
        ("mpi3d_real", 1_036_800, [172800, 28800, 14400, 4800, 1600, 40, 1]),
    ],
)
def test_index_formula(mode, count, bases):
    data = MPI3D(fake_images(count), mode)
    assert data.name == mode and data.source == "official"
    assert data.factor_names == NAMES and data.observation_shape == (64, 64, 3)
    assert data.state_space.bases.tolist() == bases
    factors, obs = data.sample(500, np.random.RandomState(0))
    assert factors.max(0).tolist() == [s - 1 for s in data.factor_sizes]
    expected = (factors @ np.array(bases)) % 251 / 255.0
    np.testing.assert_allclose(obs[:, 10, 20, 2], expected, rtol=1e-6)
    last = np.array([[s - 1 for s in data.factor_sizes]])
    assert data.state_space.index(last).tolist() == [count - 1]


def test_class_rejects_wrong_image_shape():
    with pytest.raises(ValueError, match=r"file.npz: 'images' must be \(N, 64, 64, 3\)"):
        MPI3D(np.zeros((460_800, 64, 64), np.uint8), "mpi3d_toy", where="file.npz")
    with pytest.raises(ValueError, match="unknown MPI3D dataset 'mpi3d'; valid: mpi3d_toy"):
        MPI3D(fake_images(460_800), "mpi3d")


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_read_npz_array_maps_stored_members_and_reads_compressed_ones(tmp_path, save):
    images = np.random.RandomState(0).randint(256, size=(5, 64, 64, 3)).astype(np.uint8)
    save(tmp_path / "f.npz", labels=np.arange(5), images=images)
    out = read_npz_array(tmp_path / "f.npz", "images")
    assert isinstance(out, np.memmap) == (save is np.savez)
    np.testing.assert_array_equal(out, images)
    np.testing.assert_array_equal(read_npz_array(tmp_path / "f.npz", "labels"), np.arange(5))


def test_read_npz_array_errors_name_the_file(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, imgs=np.zeros(3), objects=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"f.npz: no array 'images' \(found: imgs, objects\)"):
        read_npz_array(path, "images")
    with pytest.raises(ValueError, match="f.npz: cannot read array 'objects'"):
        read_npz_array(path, "objects")  # never unpickled
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(ValueError, match="f.npz: cannot read array 'images' as npz"):
        read_npz_array(path, "images")


def test_official_file_with_a_wrong_count_or_dtype_names_the_file(data_root):
    path = data_root / "mpi3d_toy" / "mpi3d_toy.npz"
    path.parent.mkdir()
    np.savez(path, images=np.zeros((10, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="10 images, expected 460,800") as err:
        registry.get("mpi3d_toy", source="official")
    assert str(path) in str(err.value)
    np.savez(path, images=np.zeros((10, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="'images' must be uint8, got float32"):
        registry.get("mpi3d_toy")  # the file exists, so "auto" means official


@pytest.mark.parametrize("mode", ["mpi3d_toy", "mpi3d_realistic", "mpi3d_real"])
def test_missing_file_names_the_path_and_the_download_command(data_root, mode):
    with pytest.raises(registry.DatasetNotFoundError) as err:
        registry.get(mode, source="official")
    assert str(data_root / mode / f"{mode}.npz") in str(err.value)
    assert f"dislab data download {mode}" in str(err.value)
    with pytest.raises(ValueError, match="no procedural generator"):
        registry.get(mode, source="procedural")
