import h5py
import numpy as np
import pytest

import dislab.data as data
from dislab.data import dsprites
from dislab.data.dsprites import DSprites, load_images, render_masks


def fake_official_images(seed=0):
    """A [737280, 64, 64] uint8 view whose image i is bits[i : i + 4096] (distinct images)."""
    bits = np.random.RandomState(seed).randint(2, size=dsprites.NUM_IMAGES + 64 * 64).astype(
        np.uint8
    )
    return np.lib.stride_tricks.as_strided(
        bits, shape=(dsprites.NUM_IMAGES, 64, 64), strides=(1, 64, 1), writeable=False
    )


def full_rows(latent):
    """Prepend the colour class 0 to 5-column (shape, scale, orientation, x, y) rows."""
    latent = np.atleast_2d(latent)
    return np.concatenate([np.zeros((len(latent), 1), np.int64), latent], axis=1)


# -- registry, factors, sampling order -------------------------------------------------------
def test_registered_factors_match_dlib():
    full = data.get("dsprites_full", source="procedural")
    assert full.factor_sizes == (3, 6, 40, 32, 32)
    assert full.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert full.all_factor_sizes == (1, 3, 6, 40, 32, 32)
    assert full.observation_shape == (64, 64, 1) and full.source == "procedural"
    noshape = data.get("dsprites_noshape", source="procedural")
    assert noshape.factor_sizes == (6, 40, 32, 32)
    assert noshape.nuisance_factor_indices == (0, 1)


@pytest.mark.parametrize("latent", [(0, 1, 2), (1, 1), (6,)])
def test_colour_or_bad_latent_indices_are_refused(latent):
    with pytest.raises(ValueError, match="1..5"):
        DSprites(latent)


def test_sampling_replays_dlib_call_order_and_is_deterministic():
    ds = DSprites((2, 3, 4, 5))
    factors, obs = ds.sample(40, np.random.RandomState(7))
    ref = np.random.RandomState(7)
    expected = np.stack([ref.randint(n, size=40) for n in (6, 40, 32, 32)], axis=1)
    colour, shape = ref.randint(1, size=40), ref.randint(3, size=40)  # nuisances, in order
    np.testing.assert_array_equal(factors, expected)
    all_rows = np.stack([colour, shape, *expected.T], axis=1)
    np.testing.assert_array_equal(obs[..., 0], render_masks(all_rows))
    again = ds.sample(40, np.random.RandomState(7))
    np.testing.assert_array_equal(again[1], obs)
    assert obs.dtype == np.float32 and obs.shape == (40, 64, 64, 1)
    assert set(np.unique(obs)) == {0.0, 1.0}
    gen = ds.sample(5, np.random.default_rng(1))[1]
    np.testing.assert_array_equal(gen, ds.sample(5, np.random.default_rng(1))[1])


# -- official source: lookup and file validation ---------------------------------------------
def test_official_lookup_uses_c_order_index():
    images = fake_official_images()
    ds = DSprites(images=images)
    assert ds.source == "official"
    obs = ds.sample_observations_from_factors(
        np.array([[2, 5, 39, 31, 31], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]]), np.random.RandomState(0)
    )
    for row, index in enumerate([737279, 1, 32]):
        np.testing.assert_array_equal(obs[row, ..., 0], images[index])
    rows = full_rows(np.random.RandomState(1).randint([3, 6, 40, 32, 32], size=(50, 5)))
    index = np.ravel_multi_index(rows.T, dsprites.FACTOR_SIZES)
    np.testing.assert_array_equal(ds.masks(rows), images[index])


def test_constructor_checks_the_image_array():
    with pytest.raises(ValueError, match="737280"):
        DSprites(images=np.zeros((5, 64, 64), np.uint8))


def _official_npz(path, imgs):
    """A file with the official keys (metadata is a pickled dict, as in the real file)."""
    n = len(imgs)
    meta = np.array({"latents_sizes": np.array([1, 3, 6, 40, 32, 32])}, dtype=object)
    np.savez(path, imgs=imgs, latents_classes=np.zeros((n, 6), np.int64),
             latents_values=np.zeros((n, 6)), metadata=meta)
    return path


@pytest.mark.parametrize(
    "imgs, message",
    [
        (np.zeros((3, 64, 64), np.float32), "uint8"),
        (np.zeros((3, 32, 32), np.uint8), r"\(N, 64, 64\)"),
        (np.full((3, 64, 64), 255, np.uint8), "0/1"),
        (np.ones((3, 64, 64), np.uint8), "expected 737280 images, got 3"),
    ],
)
def test_official_npz_validation_names_file_and_problem(tmp_path, imgs, message):
    path = _official_npz(tmp_path / "dsprites.npz", imgs)
    with pytest.raises(ValueError, match=message) as err:
        load_images(path)
    assert str(path) in str(err.value)


def test_official_file_without_imgs_or_unreadable(tmp_path):
    np.savez(tmp_path / "nokey.npz", images=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"no 'imgs'.*images"):
        load_images(tmp_path / "nokey.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="junk.npz"):
        load_images(tmp_path / "junk.npz")


def test_official_hdf5_is_read_and_validated(tmp_path):
    path = tmp_path / "dsprites.hdf5"
    with h5py.File(path, "w") as f:
        f["imgs"] = np.ones((4, 64, 64), np.uint8)
    with pytest.raises(ValueError, match="expected 737280 images, got 4"):
        load_images(path)


def test_registry_official_missing_names_path_and_download(data_root):
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.get("dsprites_full", source="official")
    message = str(err.value)
    assert str(data_root / dsprites.OFFICIAL_NPZ) in message
    assert "dislab data download dsprites_full" in message
    assert data.get("dsprites_full").source == "procedural"  # auto falls back


def test_registry_auto_uses_a_present_official_file(data_root):
    path = data_root / dsprites.OFFICIAL_HDF5
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f["imgs"] = np.ones((4, 64, 64), np.uint8)
    with pytest.raises(ValueError, match=r"hdf5: expected 737280"):
        data.get("dsprites_noshape")


# -- procedural geometry: known answers -------------------------------------------------------
def test_square_at_scale_one_covers_20_by_20_pixels():
    # centre (16, 16), half side 9.6: pixel centres c + 0.5 in (6.4, 25.6) -> c = 6..25
    mask = render_masks(full_rows([0, 5, 0, 0, 0]))[0]
    rows, cols = np.nonzero(mask)
    assert mask.sum() == 400
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (6, 25, 6, 25)


def test_ellipse_extent_and_counter_clockwise_rotation():
    # semi-axes 12.765 x 7.215 around (48, 16): x in (35.235, 60.765) -> columns 35..60,
    # y in (8.785, 23.215) -> rows 9..22
    mask = render_masks(full_rows([1, 5, 0, 31, 0]))[0]
    rows, cols = np.nonzero(mask)
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (35, 60, 9, 22)
    # orientation class 5 = 0.806 rad: counter-clockwise on screen tilts the major axis up
    # to the right, i.e. x grows while y (downwards) shrinks: negative covariance.
    rows, cols = np.nonzero(render_masks(full_rows([1, 5, 5, 16, 16]))[0])
    assert np.cov(cols, rows)[0, 1] < -10


def test_heart_points_down_at_orientation_zero():
    mask = render_masks(full_rows([2, 5, 0, 16, 16]))[0]
    cy = 16 + 32 * 16 / 31
    rows, cols = np.nonzero(mask)
    top, bottom = rows.min(), rows.max()
    assert top + 0.5 > cy - 9.4 > top - 0.5 and bottom + 0.5 < cy + 9.65 < bottom + 1.5
    assert mask[bottom].sum() <= 2  # the tip
    runs = np.flatnonzero(np.diff(mask[top + 1].astype(int)) != 0)
    assert len(runs) == 4  # two lobes: two separate runs of pixels near the top


def test_orientations_zero_and_two_pi_render_the_same():
    rng = np.random.RandomState(3)
    rows = full_rows(rng.randint([3, 6, 40, 32, 32], size=(60, 5)))
    rows[:, 3] = 0
    turned = rows.copy()
    turned[:, 3] = 39
    np.testing.assert_array_equal(render_masks(rows), render_masks(turned))


@pytest.mark.parametrize("shape, area", [(0, 368.64), (1, np.pi * 12.765 * 7.215), (2, 224.5)])
def test_mean_pixel_count_is_the_shape_area(shape, area):
    rng = np.random.RandomState(shape)
    latent = rng.randint([3, 1, 40, 32, 32], size=(400, 5))
    latent[:, 0], latent[:, 1] = shape, 5
    assert render_masks(full_rows(latent)).sum(axis=(1, 2)).mean() == pytest.approx(area, rel=0.01)


# -- acceptance against real images -----------------------------------------------------------
def test_procedural_matches_real_dsprites(shared_data):
    path = shared_data / "dsprites" / "dsprites_subset.npz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with np.load(path, allow_pickle=False) as f:
        real, latent = f["imgs"], f["latents_classes"]
    mismatches = (render_masks(full_rows(latent)) != real).sum(axis=(1, 2))
    exact = [np.mean(mismatches[latent[:, 0] == k] == 0) for k in range(3)]
    # required: >= 95% / 70% / 70% exact (square / ellipse / heart), <= 1 wrong pixel per image;
    # achieved: 99.92% / 94.67% / 96.43%, 0.033 pixels. The bounds guard that level.
    assert exact[0] >= 0.995 and exact[1] >= 0.94 and exact[2] >= 0.96, exact
    assert mismatches.mean() <= 0.05


def test_render_window_never_clips_a_sprite(monkeypatch):
    # scale 1 at the orientations closest to 45 degrees (square corners reach 13.58 px)
    grid = np.stack(np.meshgrid([0], [0, 1, 2], [5], [5, 15, 24, 34], np.arange(32),
                                np.arange(32), indexing="ij"), axis=-1).reshape(-1, 6)
    masks = render_masks(grid)
    monkeypatch.setattr(dsprites, "_PATCH", 32)
    np.testing.assert_array_equal(masks, render_masks(grid))


def test_zero_samples():
    factors, obs = DSprites().sample(0, np.random.RandomState(0))
    assert factors.shape == (0, 5) and obs.shape == (0, 64, 64, 1)
