import numpy as np
import pytest

from dislab.data.base import ArrayData, StateSpace, make_rng, randint


def test_state_space_bases_match_dsprites_file_order():
    space = StateSpace([1, 3, 6, 40, 32, 32])
    assert space.bases.tolist() == [737280, 245760, 40960, 1024, 32, 1]
    assert space.num_states == 737280
    assert space.index([[0, 2, 5, 39, 31, 31]]).tolist() == [737279]
    assert space.index([[0, 0, 0, 0, 0, 1]]).tolist() == [1]
    assert space.index([[0, 0, 0, 0, 1, 0]]).tolist() == [32]


def test_state_space_roundtrip_and_shapes3d_bases():
    space = StateSpace([10, 10, 10, 8, 4, 15])
    assert space.bases.tolist() == [48000, 4800, 480, 60, 15, 1]
    idx = np.random.RandomState(0).randint(space.num_states, size=1000)
    np.testing.assert_array_equal(space.index(space.factors(idx)), idx)
    np.testing.assert_array_equal(space.all_factors()[idx], space.factors(idx))


@pytest.mark.parametrize("row", [[3, 0], [-1, 0], [0, 2]])
def test_state_space_rejects_out_of_range_factors(row):
    with pytest.raises(ValueError, match="outside"):
        StateSpace([3, 2]).index([row])


def test_state_space_rejects_bad_shapes_and_indices():
    space = StateSpace([3, 2])
    with pytest.raises(ValueError, match=r"shape \[n, 2\]"):
        space.index([1, 0])
    with pytest.raises(ValueError, match="indices"):
        space.factors([6])
    with pytest.raises(ValueError, match="integer"):
        space.index([[0.5, 0]])


def test_randint_matches_randomstate_and_generator():
    a = randint(np.random.RandomState(3), 7, 5)
    np.testing.assert_array_equal(a, np.random.RandomState(3).randint(7, size=5))
    b = randint(np.random.default_rng(3), 7, 5)
    assert b.dtype == np.int64 and b.min() >= 0 and b.max() < 7


def test_make_rng_refuses_global_state():
    assert isinstance(make_rng(1), np.random.RandomState)
    gen = np.random.default_rng(1)
    assert make_rng(gen) is gen
    with pytest.raises(TypeError):
        make_rng(None)


class _Tiny(ArrayData):
    """4 x 3 grid with a nuisance first factor of size 2; pixel value = flat index."""

    name = "tiny"
    all_factor_names = ("nuisance", "a", "b")
    all_factor_sizes = (2, 4, 3)
    latent_factor_indices = (1, 2)
    observation_shape = (2, 2, 1)
    pixel_scale = 1.0 / 255.0

    def __init__(self):
        super().__init__(np.repeat(np.arange(24, dtype=np.uint8), 4).reshape(24, 2, 2))


def test_array_data_lookup_and_nuisance_sampling_order():
    data = _Tiny()
    assert data.factor_names == ("a", "b") and data.factor_sizes == (4, 3)
    assert data.nuisance_factor_indices == (0,)
    rng = np.random.RandomState(0)
    factors, obs = data.sample(50, rng)
    # dlib order: latent columns first (one call each), then the nuisance factor.
    ref = np.random.RandomState(0)
    a, b, nuisance = ref.randint(4, size=50), ref.randint(3, size=50), ref.randint(2, size=50)
    np.testing.assert_array_equal(factors, np.stack([a, b], 1))
    expected = (nuisance * 12 + a * 3 + b).astype(np.float32) / 255
    assert obs.dtype == np.float32 and obs.shape == (50, 2, 2, 1)
    np.testing.assert_allclose(obs[:, 0, 0, 0], expected, rtol=1e-6)


def test_array_data_rejects_wrong_image_count_and_dtype():
    class Bad(_Tiny):
        def __init__(self, images):
            ArrayData.__init__(self, images)

    with pytest.raises(ValueError, match="expected 24 images"):
        Bad(np.zeros((23, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        Bad(np.zeros((24, 2, 2), np.float32))


def test_sample_observations_rejects_out_of_range_factors():
    with pytest.raises(ValueError, match="outside"):
        _Tiny().sample_observations_from_factors(np.array([[4, 0]]), np.random.RandomState(0))


PROCEDURAL = ["dsprites_full", "dsprites_noshape", "color_dsprites", "noisy_dsprites",
              "scream_dsprites", "shapes3d", "cars3d", "smallnorb"]


@pytest.mark.parametrize("name", PROCEDURAL)
def test_fixed_observations_tells_the_truth(name):
    """A dataset may claim fixed observations only if rendering ignores the rng entirely."""
    import dislab.data

    data = dislab.data.get(name, source="procedural")
    states = np.array([0, 5, data.state_space.num_states - 1])
    all_factors = data.state_space.factors(states)
    first = data._render(all_factors, np.random.RandomState(1))
    second = data._render(all_factors, np.random.RandomState(2))
    assert data.fixed_observations == np.array_equal(first, second)
    if data.fixed_observations:
        np.testing.assert_array_equal(data.render_states(states), first)
