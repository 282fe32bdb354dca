import numpy as np
import pytest

from dislab.data._grid import RenderedGrid, grid_order


def test_grid_order_matches_dlib_state_space_atom_index_example():
    # dlib's util_test: StateSpaceAtomIndex([2, 2], [[0,1],[1,0],[1,1],[0,0]]) maps the rows
    # to [0,1,2,3]
    rows = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    order = grid_order(rows, [2, 2], where="x")
    assert order.tolist() == [3, 0, 1, 2]
    index = rows @ np.array([2, 1])
    assert order[index].tolist() == [0, 1, 2, 3]


def test_grid_order_sorts_images_into_c_order():
    rng = np.random.RandomState(0)
    sizes = [3, 4, 2]
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, 3)
    perm = rng.permutation(len(grid))
    stored = grid[perm]
    images = stored @ np.array([8, 2, 1])  # an "image" equal to its C-order index
    np.testing.assert_array_equal(images[grid_order(stored, sizes, "x")], np.arange(24))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[0, 0], [0, 1], [1, 0], [1, 0]], r"1 state\(s\) stored more than once, e\.g\. \[1, 0\]"),
        ([[0, 0], [0, 1], [1, 0]], r"1 state\(s\) missing, e\.g\. \[1, 1\]"),
        # dlib accepts a feature equal to the size (its check is "> size"); dislab does not
        ([[0, 0], [0, 1], [1, 0], [1, 2]], r"factor 1 of row 3 is 2, outside \[0, 2\)"),
        ([[0, 0], [0, 1], [1, 0], [-1, 1]], "outside"),
    ],
)
def test_grid_order_rejects_rows_that_do_not_cover_the_grid(rows, message):
    with pytest.raises(ValueError, match=message) as err:
        grid_order(np.array(rows), [2, 2], where="some/file.mat")
    assert "some/file.mat" in str(err.value)


class _Counting(RenderedGrid):
    """2 x 3 grid; the image of state (a, b) is constant 10 * a + b; counts rendered states."""

    name = "counting"
    all_factor_names = ("a", "b")
    all_factor_sizes = (2, 3)
    latent_factor_indices = (0, 1)
    observation_shape = (2, 2, 1)
    render_batch = 2

    def __init__(self):
        super().__init__()
        self.rendered = []

    def _render_states(self, all_factors):
        self.rendered.extend(map(tuple, all_factors.tolist()))
        values = (10 * all_factors[:, 0] + all_factors[:, 1]).astype(np.uint8)
        return np.broadcast_to(values[:, None, None, None], (len(values), 2, 2, 1))


def test_rendered_grid_renders_each_state_once_and_scales_to_unit_range():
    data = _Counting()
    factors = np.array([[1, 2], [0, 0], [1, 2], [0, 1], [1, 0]])
    obs = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    assert obs.dtype == np.float32 and obs.shape == (5, 2, 2, 1)
    np.testing.assert_allclose(obs[:, 0, 0, 0], np.array([12, 0, 12, 1, 10]) / 255, rtol=1e-6)
    assert sorted(data.rendered) == [(0, 0), (0, 1), (1, 0), (1, 2)]
    data.sample_observations_from_factors(np.array([[0, 0], [1, 1]]), np.random.RandomState(0))
    assert sorted(data.rendered) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    assert data.source == "procedural"
