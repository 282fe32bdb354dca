import numpy as np

from dislab.data.preview import preview_rows, traversal_values
from tests.tiny_data import Bars


def test_traversal_values_are_even_and_capped():
    assert traversal_values(4, 10).tolist() == [0, 1, 2, 3]
    assert traversal_values(40, 5).tolist() == [0, 10, 20, 29, 39]


def test_preview_rows_traverse_one_factor_each():
    rows = preview_rows(Bars(), np.random.RandomState(0), columns=4, sample_rows=1)
    assert [label for label, _ in rows] == ["samples", "row (3)", "level (4)"]
    level_row = rows[2][1]
    brightness = level_row.max(axis=(1, 2, 3))
    np.testing.assert_allclose(brightness, np.array([60, 120, 180, 240]) / 255, rtol=1e-6)
