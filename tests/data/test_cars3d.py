import numpy as np
import pytest
import scipy.io

from dislab.data import _images, registry
from dislab.data.cars3d import (
    Cars3D,
    Cars3DSubstitute,
    car_files,
    load_cars3d_images,
    read_car_images,
)

NUMBERS = (10, 2, 7)  # written in this order; sorted names give objects car_002, car_007, car_010


def car_im(number: int) -> np.ndarray:
    """``im`` (128, 128, 3, 24, 4) whose view (azimuth a, elevation e) is the constant colour
    (10 a + e, car number, 200)."""
    a, e = np.meshgrid(np.arange(24), np.arange(4), indexing="ij")
    colour = np.stack([10 * a + e, np.full_like(a, number), np.full_like(a, 200)])  # [3, 24, 4]
    return np.broadcast_to(colour, (128, 128, 3, 24, 4)).astype(np.uint8)


@pytest.fixture(scope="module")
def cars_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("root") / "cars"
    folder.mkdir()
    for number in NUMBERS:
        im = car_im(number)
        mask = np.ones((128, 128, 24, 4), dtype=np.uint8)
        scipy.io.savemat(folder / f"car_{number:03d}_mesh.mat", {"im": im, "mask": mask},
                         do_compression=True)  # fmt: skip
    (folder / "list.txt").write_text("not read\n")
    return folder


def test_object_ids_follow_sorted_file_names(cars_dir):
    names = [p.name for p in car_files(cars_dir)]
    assert names == ["car_002_mesh.mat", "car_007_mesh.mat", "car_010_mesh.mat"]


def test_view_k_has_azimuth_k_div_4_and_elevation_k_mod_4(cars_dir):
    views = read_car_images(cars_dir / "car_007_mesh.mat")
    assert views.dtype == np.uint8 and views.shape == (96, 64, 64, 3)
    k = np.arange(96)
    np.testing.assert_array_equal(views[:, 31, 17, 0], 10 * (k // 4) + k % 4)
    assert np.all(views[:, :, :, 1] == 7) and np.all(views[:, :, :, 2] == 200)


def test_images_land_at_their_c_order_index(cars_dir):
    images = load_cars3d_images(cars_dir, num_objects=3)
    assert images.shape == (4 * 24 * 3, 64, 64, 3)
    # C-order over (elevation 4, azimuth 24, object 3): index = 72 e + 3 a + o
    e, a, o = np.unravel_index(np.arange(len(images)), (4, 24, 3))
    np.testing.assert_array_equal(images[:, 0, 0, 0], 10 * a + e)
    np.testing.assert_array_equal(images[:, 0, 0, 1], np.array([2, 7, 10])[o])
    assert images[72 * 3 + 3 * 23 + 2, 63, 63].tolist() == [233, 10, 200]


def test_views_are_shrunk_with_pillow_thumbnail(tmp_path):
    im = car_im(1).copy()
    rng = np.random.RandomState(0)
    im[..., 5, 2] = rng.randint(256, size=(128, 128, 3))  # view k = 4 * 5 + 2
    scipy.io.savemat(tmp_path / "car.mat", {"im": im})
    views = read_car_images(tmp_path / "car.mat")
    np.testing.assert_array_equal(views[22], _images.thumbnail(im[..., 5, 2].copy(), 64, 64))


def test_wrong_number_of_files_is_an_error(cars_dir):
    with pytest.raises(ValueError, match="expected 183 Cars3D .mat files, found 3"):
        load_cars3d_images(cars_dir)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"im": np.zeros((128, 128, 3, 24, 3), np.uint8)}, r"'im' must be uint8 of shape"),
        ({"im": np.zeros((128, 128, 3, 24, 4), np.float32)}, r"got float32"),
        ({"mask": np.zeros((2, 2), np.uint8)}, "no variable 'im'"),
        (b"not a MATLAB file at all" * 10, "cannot read as a MATLAB file"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "car_001_mesh.mat"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        scipy.io.savemat(path, content)
    with pytest.raises(ValueError, match=message) as err:
        read_car_images(path)
    assert str(path) in str(err.value)


def test_missing_files_name_the_path_and_the_download_command(data_root):
    with pytest.raises(registry.DatasetNotFoundError) as err:
        registry.get("cars3d", source="official")
    assert str(data_root / "cars" / "*.mat") in str(err.value)
    assert "dislab data download cars3d" in str(err.value)


def test_official_class_factors_and_index_formula():
    images = np.zeros((17568, 64, 64, 3), dtype=np.uint8)  # untouched pages cost no memory
    data = Cars3D(images)
    assert data.factor_names == ("elevation", "azimuth", "object")
    assert data.factor_sizes == (4, 24, 183) and data.observation_shape == (64, 64, 3)
    assert data.state_space.bases.tolist() == [4392, 183, 1]
    images[[3 * 4392 + 23 * 183 + 182, 4392 + 2 * 183 + 5], 0, 0, 0] = [255, 51]
    obs = data.sample_observations_from_factors(
        np.array([[3, 23, 182], [1, 2, 5], [0, 0, 0]]), np.random.RandomState(0)
    )
    np.testing.assert_allclose(obs[:, 0, 0, 0], [1.0, 0.2, 0.0], rtol=1e-6)


# -- the procedural substitute ---------------------------------------------------------------
def test_substitute_is_labelled_and_used_without_files(data_root):
    data = registry.get("cars3d")
    assert isinstance(data, Cars3DSubstitute) and data.source == "procedural"
    assert "not comparable" in registry.info("cars3d").procedural_note
    assert "SUBSTITUTE" in Cars3DSubstitute.__doc__
    assert data.factor_sizes == (4, 24, 183) and data.observation_shape == (64, 64, 3)


def test_substitute_images_depend_only_on_their_factors():
    rows = np.array([[0, 0, 0], [1, 0, 0], [0, 6, 0], [0, 0, 1], [3, 23, 182], [2, 5, 40]])
    images = Cars3DSubstitute()._render_states(rows)
    assert images.dtype == np.uint8 and images.shape == (6, 64, 64, 3)
    np.testing.assert_array_equal(images, Cars3DSubstitute()._render_states(rows[::-1])[::-1])
    flat = images.reshape(len(rows), -1, 3).astype(int)
    for i in (1, 2, 3):  # elevation, azimuth and object each change the image
        assert np.abs(flat[i] - flat[0]).mean() > 1.0, i
    car = np.any(flat != 255, axis=-1)  # white background
    assert np.all((car.mean(1) > 0.05) & (car.mean(1) < 0.7)), car.mean(1)
    assert np.all(flat[:, 0] == 255)  # corner pixel is background
    # object 0 and object 1 are painted differently (mean colour of the car pixels)
    paint = [flat[k][car[k]].mean(0) for k in (0, 3)]
    assert np.abs(paint[0] - paint[1]).max() > 20


@pytest.mark.slow
def test_registry_loads_183_official_files(data_root):
    numbers = [n for n in range(1, 200) if n % 13 != 6][:183]  # with gaps, like the archive
    (data_root / "cars").mkdir()
    for number in numbers[::-1]:
        scipy.io.savemat(data_root / "cars" / f"car_{number:03d}_mesh.mat",
                         {"im": car_im(number)}, do_compression=True)  # fmt: skip
    data = registry.get("cars3d")
    assert isinstance(data, Cars3D) and data.source == "official"
    factors = np.array([[0, 0, 0], [3, 23, 182], [2, 11, 100]])
    obs = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    np.testing.assert_array_equal(np.round(obs[:, 32, 32] * 255), [
        [0, numbers[0], 200], [233, numbers[182], 200], [112, numbers[100], 200]])  # fmt: skip
