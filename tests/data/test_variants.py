import shutil

import numpy as np
import pytest

import dislab.data as data
from dislab.data import dsprites, variants
from dislab.data.variants import ColorDSprites, NoisyDSprites, ScreamDSprites

from .test_dsprites import fake_official_images


# Straightforward references written from dlib's data/ground_truth/dsprites.py (colour, noise
# and scream transforms), drawing from the RandomState that has
# already produced the factors and the nuisance colour factor.
def reference_color(masks, rs):
    obs = np.repeat(masks[..., None].astype(np.float64), 3, axis=3)
    return obs * rs.uniform(0.5, 1, size=(len(masks), 1, 1, 3))


def reference_noisy(masks, rs):
    obs = np.repeat(masks[..., None].astype(np.float64), 3, axis=3)
    return np.minimum(obs + rs.uniform(0, 1, size=(len(masks), 64, 64, 3)), 1.0)


def reference_scream(masks, rs, scream):
    obs = np.repeat(masks[..., None].astype(np.float64), 3, axis=3)
    for i in range(len(obs)):
        x = rs.randint(0, scream.shape[0] - 64)
        y = rs.randint(0, scream.shape[1] - 64)
        background = (scream[x : x + 64, y : y + 64] + rs.uniform(0, 1, size=3)) / 2.0
        mask = obs[i] == 1
        background[mask] = 1 - background[mask]
        obs[i] = background
    return obs


def replay(dataset, n, seed, reference):
    rs = np.random.RandomState(seed)
    factors = dataset.sample_factors(n, rs)
    masks = dataset.masks(dataset.sample_all_factors(factors, rs))
    return factors, reference(masks, rs).astype(np.float32)


@pytest.fixture(scope="module")
def scream_background():
    return variants.procedural_scream()


def make(name, background):
    if name == "scream":
        return ScreamDSprites(background), (
            lambda m, rs: reference_scream(m, rs, background / 255.0)
        )
    return {"color": (ColorDSprites(), reference_color),
            "noisy": (NoisyDSprites(), reference_noisy)}[name]


@pytest.mark.parametrize("name", ["color", "noisy", "scream"])
def test_variants_replay_the_dlib_transform_exactly(name, scream_background):
    dataset, reference = make(name, scream_background)
    factors, obs = dataset.sample(30, np.random.RandomState(5))
    ref_factors, ref_obs = replay(dataset, 30, 5, reference)
    np.testing.assert_array_equal(factors, ref_factors)
    assert obs.dtype == np.float32 and obs.shape == (30, 64, 64, 3)
    np.testing.assert_array_equal(obs, ref_obs)


@pytest.mark.parametrize("name", ["color", "noisy", "scream"])
def test_variants_are_deterministic_for_both_rng_kinds(name, scream_background):
    dataset, _ = make(name, scream_background)
    assert dataset.factor_sizes == (3, 6, 40, 32, 32)
    for rng in (np.random.RandomState, np.random.default_rng):
        a, b = dataset.sample(6, rng(2)), dataset.sample(6, rng(2))
        np.testing.assert_array_equal(a[1], b[1])
        assert 0.0 <= a[1].min() and a[1].max() <= 1.0
    assert not np.array_equal(dataset.sample(6, np.random.RandomState(3))[1], a[1])


def test_value_ranges_follow_the_transforms(scream_background):
    rs = np.random.RandomState(0)
    factors = ColorDSprites().sample_factors(20, rs)
    all_factors = np.concatenate([np.zeros((20, 1), np.int64), factors], axis=1)
    sprite = dsprites.render_masks(all_factors).astype(bool)

    color = ColorDSprites().sample_observations_from_factors(factors, np.random.RandomState(1))
    assert np.all(color[~sprite] == 0)
    for image, mask in zip(color, sprite):  # one colour per image, each channel in [0.5, 1)
        tint = np.unique(image[mask], axis=0)
        assert tint.shape == (1, 3) and np.all((tint >= 0.5) & (tint < 1))

    noisy = NoisyDSprites().sample_observations_from_factors(factors, np.random.RandomState(1))
    assert np.all(noisy[sprite] == 1) and noisy[~sprite].max() < 1
    assert abs(noisy[~sprite].mean() - 0.5) < 0.01

    scream = ScreamDSprites(scream_background)
    obs = scream.sample_observations_from_factors(factors, np.random.RandomState(1))
    # background b = (crop + u) / 2 lies in [0, 1); the sprite shows 1 - b
    assert obs.min() >= 0 and obs.max() <= 1


def test_procedural_scream_texture_is_deterministic_and_painting_sized():
    texture = variants.procedural_scream.__wrapped__()
    assert texture.dtype == np.uint8 and texture.shape == (274, 218, 3)
    np.testing.assert_array_equal(texture, variants.procedural_scream.__wrapped__())
    assert texture.std() > 30  # a textured image, not a flat colour
    assert ScreamDSprites(texture).source == "procedural"


def test_scream_official_pipeline_on_the_stand_in(shared_data, data_root):
    standin = shared_data / "scream" / "the_scream_1893_standin_476x600.jpg"
    if not standin.exists():
        pytest.skip(f"{standin} not found")
    (data_root / "scream").mkdir()
    shutil.copy(standin, data_root / variants.SCREAM_FILE)
    background = variants.load_scream(data_root / variants.SCREAM_FILE)
    assert background.dtype == np.uint8 and background.shape == (274, 217, 3)
    # without the dSprites file the variant (and auto source) stays procedural
    assert data.get("scream_dsprites").source == "procedural"
    official = ScreamDSprites(background, fake_official_images(), "official")
    assert official.source == "official"
    assert ScreamDSprites(background, None, "official").source == "procedural"
    _, obs = official.sample(4, np.random.RandomState(0))
    ref = replay(official, 4, 0, lambda m, rs: reference_scream(m, rs, background / 255.0))[1]
    np.testing.assert_array_equal(obs, ref)


def test_official_variants_use_the_official_masks():
    images = fake_official_images()
    dataset = ColorDSprites(images)
    assert dataset.source == "official"
    factors, obs = dataset.sample(8, np.random.RandomState(4))
    index = np.ravel_multi_index(np.concatenate([np.zeros((8, 1), int), factors], 1).T,
                                 dsprites.FACTOR_SIZES)
    np.testing.assert_array_equal(obs.max(axis=3) > 0, images[index] == 1)


def test_bad_scream_inputs_name_the_problem(tmp_path):
    (tmp_path / "scream.jpg").write_bytes(b"no image")
    with pytest.raises(ValueError, match="scream.jpg: not a readable image"):
        variants.load_scream(tmp_path / "scream.jpg")
    with pytest.raises(ValueError, match="uint8"):
        ScreamDSprites(np.zeros((100, 100, 3)))
    with pytest.raises(ValueError, match="exceed 64"):
        ScreamDSprites(np.zeros((64, 100, 3), np.uint8))


def test_registry_official_scream_needs_both_files(data_root):
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.get("scream_dsprites", source="official")
    message = str(err.value)
    assert "scream/scream.jpg" in message and dsprites.OFFICIAL_NPZ in message
    for name in ("color_dsprites", "noisy_dsprites", "scream_dsprites"):
        assert data.get(name).source == "procedural"
        assert data.get(name).observation_shape == (64, 64, 3)
