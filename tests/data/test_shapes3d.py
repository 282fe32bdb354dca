import colorsys
import os

import h5py
import numpy as np
import pytest

import dislab.data
from dislab.data import shapes3d as s3

SKY = np.array(s3.SKY_RGB)
# a tiny grid: 2 floor hues, 2 shapes, 2 orientations, the rest fixed -> 8 images
TINY_VALUES = ([0.0, 0.1], [0.5], [0.2], [1.25], [0.0, 3.0], [-30.0, 30.0])
TINY_SIZES = (2, 1, 1, 1, 2, 2)


def _tiny_images(n=8):
    # every image filled with its own index, so lookups can be checked exactly
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 64, 64, 3))


def _write_h5(path, images=None, labels=None, drop=None):
    images = _tiny_images() if images is None else images
    labels = s3.expected_labels(TINY_VALUES) if labels is None else labels
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for key, value in (("images", images), ("labels", labels)):
            if key != drop:
                f.create_dataset(key, data=value, compression="gzip")
    return path


# -- official files ---------------------------------------------------------------------
def test_expected_labels_are_c_order_with_orientation_fastest():
    labels = s3.expected_labels()
    assert labels.shape == (480000, 6)
    np.testing.assert_allclose(labels[0], [0, 0, 0, 0.75, 0, -30])
    np.testing.assert_allclose(labels[1], [0, 0, 0, 0.75, 0, -30 + 60 / 14])
    np.testing.assert_allclose(labels[15], [0, 0, 0, 0.75, 1, -30])
    np.testing.assert_allclose(labels[48000], [0.1, 0, 0, 0.75, 0, -30])
    np.testing.assert_allclose(labels[-1], [0.9, 0.9, 0.9, 1.25, 3, 30])


def test_h5_is_cached_atomically_and_memory_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(s3, "READ_SLICE", 3)  # 8 images copied in slices 3 + 3 + 2
    h5 = _write_h5(tmp_path / "3dshapes.h5")
    images = s3.read_h5_images(h5, TINY_VALUES)
    assert isinstance(images, np.memmap) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, _tiny_images())
    assert sorted(os.listdir(tmp_path)) == ["3dshapes.h5", "3dshapes.h5.images.npy"]  # no temp
    os.remove(h5)  # the second read uses only the cache
    np.testing.assert_array_equal(s3.read_h5_images(h5, TINY_VALUES), _tiny_images())


def test_unwritable_folder_falls_back_to_memory(tmp_path, monkeypatch):
    def refuse(images, cache):
        raise PermissionError(cache)

    monkeypatch.setattr(s3, "_cache_images", refuse)
    with pytest.warns(UserWarning, match="in memory"):
        images = s3.read_h5_images(_write_h5(tmp_path / "3dshapes.h5"), TINY_VALUES)
    assert not isinstance(images, np.memmap) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, _tiny_images())


def test_stale_cache_is_rebuilt(tmp_path):
    h5 = _write_h5(tmp_path / "3dshapes.h5")
    np.save(tmp_path / "3dshapes.h5.images.npy", np.zeros((3, 64, 64, 3), np.uint8))
    with pytest.warns(UserWarning, match="stale cache"):
        images = s3.read_h5_images(h5, TINY_VALUES)
    np.testing.assert_array_equal(images, _tiny_images())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drop": "images"}, "missing dataset 'images'"),
        ({"drop": "labels"}, "missing dataset 'labels'"),
        ({"images": np.zeros((8, 64, 64, 3), np.float32)}, "must be uint8"),
        ({"images": np.zeros((7, 64, 64, 3), np.uint8)}, r"found uint8 \(7, 64, 64, 3\)"),
        ({"labels": np.zeros((8, 5))}, "'labels' must have shape"),
        ({"labels": s3.expected_labels(TINY_VALUES)[::-1]}, "not the expected C-order"),
    ],
)
def test_bad_h5_files_are_named_with_the_problem(tmp_path, kwargs, message):
    h5 = _write_h5(tmp_path / "bad.h5", **kwargs)
    with pytest.raises(ValueError, match=message) as info:
        s3.read_h5_images(h5, TINY_VALUES)
    assert "bad.h5" in str(info.value)
    assert not (tmp_path / "bad.h5.images.npy").exists()


def test_not_an_h5_file(tmp_path):
    path = tmp_path / "3dshapes.h5"
    path.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        s3.read_h5_images(path, TINY_VALUES)


def test_registry_official_rejects_a_file_with_the_wrong_count(data_root):
    assert not dislab.data.official_available("shapes3d")
    _write_h5(data_root / s3.H5_FILE)
    assert dislab.data.official_available("shapes3d")
    with pytest.raises(ValueError, match=r"3dshapes\.h5: 'images' must be uint8 \(480000, 64"):
        dislab.data.get("shapes3d", source="official")


def test_registry_missing_official_file_says_where(data_root):
    with pytest.raises(dislab.data.DatasetNotFoundError, match="3dshapes.h5"):
        dislab.data.get("shapes3d", source="official")
    assert dislab.data.get("shapes3d").source == "procedural"  # auto falls back


def test_dlib_npz_is_reshaped_in_c_order(tmp_path):
    path = tmp_path / "dlib.npz"
    np.savez(path, images=_tiny_images().reshape(TINY_SIZES + (64, 64, 3)), labels=np.zeros(3))
    images = s3.read_dlib_npz_images(path, TINY_SIZES)
    np.testing.assert_array_equal(images, _tiny_images())
    np.savez(path, images=_tiny_images())
    with pytest.raises(ValueError, match=r"dlib\.npz: 'images' must be uint8 \(2, 1, 1"):
        s3.read_dlib_npz_images(path, TINY_SIZES)
    np.savez(path, pixels=_tiny_images())
    with pytest.raises(ValueError, match="missing array 'images'"):
        s3.read_dlib_npz_images(path, TINY_SIZES)


def test_load_official_falls_back_to_the_dlib_npz(tmp_path):
    path = tmp_path / s3.DLIB_NPZ_FILE
    path.parent.mkdir()
    np.savez(path, images=_tiny_images().reshape(TINY_SIZES + (64, 64, 3)))
    with pytest.raises(ValueError, match=r"look-at-object-room.*\(10, 10, 10, 8, 4, 15, 64"):
        s3.load_official(tmp_path)


class _TinyShapes3D(s3.Shapes3D):
    all_factor_sizes = TINY_SIZES


def test_official_lookup_is_c_order_divided_by_255(tmp_path):
    data = _TinyShapes3D(s3.read_h5_images(_write_h5(tmp_path / "x.h5"), TINY_VALUES))
    factors = np.array([[1, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 1, 1]])
    obs = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    assert obs.dtype == np.float32 and obs.shape == (3, 64, 64, 3)
    # index = floor_hue * 4 + shape * 2 + orientation
    np.testing.assert_allclose(obs[:, 0, 0, 0], np.array([6, 1, 7]) / 255, rtol=1e-6)
    assert data.source == "official" and data.factor_names == s3.FACTOR_NAMES


# -- procedural look-alike ----------------------------------------------------------------
@pytest.fixture(scope="module")
def procedural():
    return s3.ProceduralShapes3D()


def _render(data, rows):
    return data.sample_observations_from_factors(np.array(rows), np.random.RandomState(0))


def test_procedural_contract(procedural):
    data = dislab.data.get("shapes3d", source="procedural")
    assert isinstance(data, s3.ProceduralShapes3D) and data.source == "procedural"
    assert data.factor_sizes == (10, 10, 10, 8, 4, 15)
    assert data.factor_names == s3.FACTOR_NAMES
    assert data.observation_shape == (64, 64, 3)
    factors, obs = procedural.sample(6, np.random.RandomState(3))
    assert obs.dtype == np.float32 and obs.shape == (6, 64, 64, 3)
    assert obs.min() >= 0 and obs.max() <= 1
    np.testing.assert_allclose(obs * 255, np.rint(obs * 255), atol=1e-3)  # uint8 steps
    again = s3.ProceduralShapes3D().sample(6, np.random.RandomState(3))
    np.testing.assert_array_equal(factors, again[0])
    np.testing.assert_array_equal(obs, again[1])  # deterministic, also across instances
    with pytest.raises(ValueError, match="outside"):
        _render(procedural, [[0, 0, 0, 8, 0, 0]])


def test_sky_band_is_the_exact_colour(procedural):
    rows = [[0, 0, 0, 7, 3, 0], [5, 5, 5, 0, 0, 7], [9, 1, 2, 7, 2, 14], [3, 3, 3, 7, 0, 3]]
    images = np.rint(_render(procedural, rows) * 255)
    assert np.all(images[:, :7] == SKY)  # the tallest capsule reaches row 7, as in real ones
    sky_rows = np.all(images == SKY, axis=-1).all(axis=2).sum(1)
    assert sky_rows[0] == 7  # the capsule cuts into the band (real: 5..7 with capsules)
    assert np.all((sky_rows[1:] >= 12) & (sky_rows[1:] <= 15))  # real: 10..15


def _hsv(rgb):
    """HSV of RGB in [0, 1] (last axis), vectorised; hue in [0, 1), 0 for greys."""
    rgb = np.asarray(rgb, dtype=np.float64)
    v, low = rgb.max(-1), rgb.min(-1)
    chroma = v - low
    safe = np.where(chroma > 0, chroma, 1.0)
    r, g, b = np.moveaxis(rgb, -1, 0)
    sector = np.select(
        [v == r, v == g], [(g - b) / safe % 6, (b - r) / safe + 2], (r - g) / safe + 4
    )
    hue = np.where(chroma > 0, sector / 6, 0.0)
    return hue, np.divide(chroma, v, out=np.zeros_like(v), where=v > 0), v


def _hue(rgb):
    return _hsv(rgb)[0]


def test_hsv_helper_agrees_with_colorsys():
    rgb = np.random.RandomState(0).rand(50, 3)
    expected = np.array([colorsys.rgb_to_hsv(*p) for p in rgb])
    np.testing.assert_allclose(np.stack(_hsv(rgb), axis=-1), expected, atol=1e-12)


@pytest.mark.parametrize("column", [0, 1, 2])
def test_each_hue_factor_recolours_only_its_region(procedural, column):
    base = [2, 4, 6, 5, 1, 3]
    other = list(base)
    other[column] = 9
    a, b = _render(procedural, [base, other])
    changed = np.any(a != b, axis=-1)
    maps = procedural.geometry_maps(*base[3:])
    assert np.array_equal(changed, maps[..., column] > 1e-6)  # exactly the pixels of the group
    # pixels covered by this group alone (no edge shared with another group or the sky)
    pure = changed & (maps[..., column] > 0.999 * maps[..., :3].sum(-1)) & (maps[..., 4] == 0)
    assert pure.sum() > 100
    # over-bright pixels clip per channel, which pulls the hue a little towards the nearest
    # primary (as in the real files: hue 0.1 renders as (255, 157, 0), not (255, 153, 0))
    np.testing.assert_allclose(_hue(a[pure]), base[column] / 10, atol=0.03)
    np.testing.assert_allclose(_hue(b[pure]), 0.9, atol=0.03)


def test_regions_lie_where_the_real_scene_has_them(procedural):
    maps = procedural.geometry_maps(7, 2, 7)  # big sphere, azimuth 0
    floor, wall, obj, _, sky = np.moveaxis(maps, -1, 0)
    rows = np.arange(64)[:, None] * np.ones(64)
    cols = np.ones(64)[:, None] * np.arange(64)
    assert rows[sky > 0.5].max() <= 16 and rows[wall > 0.01].min() >= 13
    assert 39 <= rows[(floor > 0) & (cols < 5)].min() <= 42  # wall/floor boundary ~ row 41
    centre = (np.average(rows, weights=obj > 0), np.average(cols, weights=obj > 0))
    np.testing.assert_allclose(centre, (38, 31.5), atol=1.5)  # 28 px ball, contact row 52
    assert (obj > 0).any(axis=1).sum() == pytest.approx(28, abs=2)


def _corner(procedural, orientation):
    """Column of the room corner (most sky above the farthest wall point) and sky rise."""
    sky = procedural.geometry_maps(0, 0, orientation)[..., 4].sum(axis=0)  # sky rows per column
    return int(np.argmax(sky)), sky.max() - sky.min()


def test_orientation_turns_the_room(procedural):
    col, rise = _corner(procedural, 0)
    assert 39 <= col <= 47 and rise >= 2  # real: corner near columns 42-44
    col, rise = _corner(procedural, 14)
    assert 16 <= col <= 24 and rise >= 2  # real: near column 20
    assert _corner(procedural, 7)[1] < 0.1  # facing the back wall: its top edge is level


def test_scale_grows_the_object_area(procedural):
    for shape in range(4):
        areas = [procedural.geometry_maps(s, shape, 7)[..., 2].sum() for s in (0, 3, 7)]
        assert areas[0] < areas[1] < areas[2]
        # projected area ~ scale^2 (1.25 / 0.75)^2 = 2.78, a little more from perspective
        assert areas[2] / areas[0] == pytest.approx((1.25 / 0.75) ** 2, rel=0.12)


def test_shapes_have_their_silhouettes(procedural):
    masks = [procedural.geometry_maps(7, shape, 7)[..., 2] > 0.5 for shape in range(4)]
    height = [m.any(axis=1).sum() for m in masks]
    width = [m.any(axis=0).sum() for m in masks]
    assert height[3] == pytest.approx(2 * width[3], rel=0.1)  # capsule: twice as tall
    assert height[3] == pytest.approx(44, abs=3)  # real tallest capsule: rows 8..52
    # the sphere fills pi/4 of its bounding square, the cube and cylinder (nearly) all of it
    assert masks[2].sum() / (height[2] * width[2]) == pytest.approx(np.pi / 4, abs=0.04)
    assert masks[1].sum() / (height[1] * width[1]) > 0.9
    assert masks[0].sum() / (height[0] * width[0]) > 0.9


# -- comparison with the 50 real images ---------------------------------------------------
def scene_statistics(images):
    """Layout and shading statistics of uint8 Shapes3D-like images (n, 64, 64, 3).

    Regions are found the same way in real and procedural images: sky = exact sky colour;
    floor = the hue of pixel (63, 1), wall = the hue of pixel (25, 1) (images where both
    hues are equal are skipped); only fully saturated pixels count as floor or wall.
    """
    sky = np.all(images == SKY, axis=-1)
    hue, sat, val = _hsv(images / 255.0)
    hue = np.round(hue * 10) % 10
    stats = {
        "sky_rows": [],
        "saturated": [],
        "boundary": [],
        "back_wall_v": [],
        "side_wall_v": [],
        "floor_v": [],
        "shadow_v": [],
        "object_col": [],
    }
    for i in range(len(images)):
        stats["sky_rows"].append(sky[i].all(axis=1).sum())
        stats["saturated"].append((sat[i][~sky[i]] > 0.99).mean())
        floor_hue, wall_hue = hue[i, 63, 1], hue[i, 25, 1]
        if floor_hue == wall_hue:
            continue
        full = sat[i] > 0.99
        for col in (1, 62):
            stats["boundary"].append(np.argmax(hue[i, 20:, col] == floor_hue) + 20)
        wall = (hue[i] == wall_hue) & full
        wall[:16] = wall[42:] = False
        floor = (hue[i] == floor_hue) & full
        floor[:44] = False
        stats["back_wall_v"].append(np.quantile(val[i][wall], 0.9))
        stats["side_wall_v"].append(np.quantile(val[i][wall], 0.05))
        stats["floor_v"].append(np.median(val[i][floor]))
        stats["shadow_v"].append(np.quantile(val[i][floor], 0.02))
        obj = (hue[i] != floor_hue) & (hue[i] != wall_hue) & ~sky[i] & full
        if obj.sum() > 50:
            stats["object_col"].append(np.argwhere(obj)[:, 1].mean())
    return {key: np.median(value) for key, value in stats.items()}


# Tolerances: about the spread of the statistic over the real images (10-90% quantiles:
# sky rows 10..15, boundary 40..42, back wall 0.99..1.0, floor 0.95..1.0, shadow 0.31..0.66
# (2% quantile, low when a shadow is visible), object column 30.6..35.2).
TOLERANCES = {
    "sky_rows": 2,
    "boundary": 1,
    "back_wall_v": 0.05,
    "side_wall_v": 0.1,
    "floor_v": 0.05,
    "shadow_v": 0.05,
    "object_col": 2.5,
}


def test_statistics_match_the_real_images(shared_data, procedural):
    real = np.load(shared_data / "shapes3d" / "shapes3d_notebook_samples.npz")["images"]
    fake = np.rint(procedural.sample_observations(50, np.random.RandomState(0)) * 255)
    want, got = scene_statistics(real), scene_statistics(fake.astype(np.uint8))
    for key, tol in TOLERANCES.items():
        assert abs(got[key] - want[key]) <= tol, (key, got[key], want[key])
    assert got["back_wall_v"] > got["side_wall_v"] + 0.2  # side wall clearly darker
    assert got["floor_v"] > got["shadow_v"] + 0.5  # a dark shadow on a bright floor
    # real objects carry a whitish sheen over their upper half (S ~ 0.88): 85% of the
    # non-sky pixels are fully saturated there, ~97% here; both are dominated by pure hues
    assert want["saturated"] > 0.75 and got["saturated"] > 0.75
