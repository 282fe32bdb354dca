"""IRS: hand-computed matrices, the ranges of dlib's ``irs_test.py``, dlib's num_active_dims
bug and its fix."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics._utils import MetricWarning
from dislab.metrics.irs import irs, irs_matrix, irs_score, irs_scores

from .conftest import FactorGrid, flatten

FACTOR = np.array([[0], [0], [1], [1]])


def test_irs_matrix_hand_computed():
    # the code follows the factor: no deviation within a group -> IRS 1
    matrix, maxdev = irs_matrix(FACTOR, np.array([[0.0], [0.0], [1.0], [1.0]]), 1.0)
    assert maxdev.tolist() == [0.5]
    assert matrix.tolist() == [[1.0]]
    # the code ignores the factor: deviation 0.5 in each group = maxdev -> IRS 0
    matrix, _ = irs_matrix(FACTOR, np.array([[0.0], [1.0], [0.0], [1.0]]), 1.0)
    assert matrix.tolist() == [[0.0]]
    # half of it: z = [0, 1, 2, 2] -> groups {0, 1} (dev .5) and {2, 2} (dev 0); mean .25,
    # maxdev = |0 - 1.25| = 1.25 -> 1 - .25 / 1.25 = 0.8
    matrix, _ = irs_matrix(FACTOR, np.array([[0.0], [1.0], [2.0], [2.0]]), 1.0)
    assert matrix[0, 0] == pytest.approx(0.8)


def test_irs_score_weights_by_max_deviation():
    matrix = np.array([[1.0, 0.2], [0.1, 0.5]])
    assert irs_score(matrix, np.array([3.0, 1.0])) == pytest.approx((3 * 1.0 + 1 * 0.5) / 4)
    assert irs_score(matrix, np.zeros(2)) == pytest.approx(0.75)


def test_identity_scores_high_and_noise_low():
    data = FactorGrid((10,) * 10)
    good = irs(data, flatten, np.random.RandomState(0), num_train=3000)
    assert 0.9 <= good["IRS"] <= 1.0

    def noise(obs):
        seed = int(flatten(obs).sum()) % (2**31)
        return np.random.RandomState(seed).normal(size=(len(obs), 10))

    bad = irs(data, noise, np.random.RandomState(0), num_train=3000)
    assert bad["IRS"] < 0.5


def test_zero_codes_score_zero_with_warning():
    with pytest.warns(MetricWarning, match="constant"):
        scores = irs(
            FactorGrid((10,) * 3),
            lambda o: np.zeros((len(o), 3)),
            np.random.RandomState(0),
            num_train=500,
        )
    assert scores == {"IRS": 0.0, "num_active_dims": 0.0}


def test_num_active_dims_is_dlibs_sum_unless_fixed():
    factors = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    codes = np.column_stack([factors.astype(float), np.full(4, 7.0)])  # last dim constant
    with pytest.warns(MetricWarning, match="1 of 3"):
        parity = irs_scores(factors, codes)
    assert parity["num_active_dims"] == 4.0  # the sum of the active code values (dlib)
    with pytest.warns(MetricWarning):
        fixed = irs_scores(factors, codes, fix_num_active_dims=True)
    assert fixed["num_active_dims"] == 2.0
    assert fixed["IRS"] == parity["IRS"] == pytest.approx(1.0)


def test_same_seed_same_numbers_and_bad_quantile():
    data = FactorGrid((4, 4, 4))
    a = irs(data, flatten, np.random.RandomState(1), num_train=200)
    assert a == irs(data, flatten, np.random.RandomState(1), num_train=200)
    with pytest.raises(ValueError, match=r"irs: representation_fn .* shape \(200, 3\)"):
        irs(
            data,
            lambda o: np.column_stack([flatten(o), np.full(len(o), np.inf)])[:, 1:],
            np.random.RandomState(1),
            num_train=200,
        )
    with pytest.raises(ValueError, match="diff_quantile"):
        irs(data, flatten, np.random.RandomState(1), num_train=200, diff_quantile=1.5)
