"""Shared metric helpers: the values of dlib's ``evaluation/metrics/utils_test.py``, dlib's
sampling order, output validation."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics._utils import (
    Encoder,
    check_codes,
    discrete_entropy,
    discrete_mutual_info,
    draw_seed,
    encode_blocks,
    histogram_discretize,
    linear_svc,
    logistic_regression,
    sample_codes,
    sample_splits,
)

from .conftest import FactorGrid, flatten


def test_histogram_discretizer_spec_examples():
    row = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    codes = np.stack([row, row[::-1]], axis=1)
    assert histogram_discretize(codes, 3).T.tolist() == [[1, 1, 2, 2, 3, 3], [3, 3, 2, 2, 1, 1]]


def test_histogram_discretizer_range_and_constant_column():
    codes = np.stack([np.linspace(-3, 7, 101), np.full(101, 2.5)], axis=1)
    out = histogram_discretize(codes, 20)
    assert out[:, 0].min() == 1 and out[:, 0].max() == 20  # the maximum is in the last bin
    assert np.bincount(out[:, 0])[1:].tolist() == [5] * 19 + [6]
    assert len(np.unique(out[:, 1])) == 1


def test_discrete_entropy_and_mutual_info_spec_values():
    assert discrete_entropy(np.array([[1, 1, 2, 2, 3, 3]]).T) == pytest.approx([np.log(3)])
    xs = np.array([[1, 2, 1, 2], [1, 1, 2, 2]]).T
    ys = np.array([[1, 2, 1, 2], [2, 2, 1, 1]]).T
    expected = [[np.log(2), 0.0], [0.0, np.log(2)]]
    np.testing.assert_allclose(discrete_mutual_info(xs, ys), expected, atol=1e-15)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (np.zeros(4), r"2-D array.*shape \(4,\)"),
        (np.zeros((4, 2, 1)), r"2-D array.*shape \(4, 2, 1\)"),
        (np.zeros((3, 2)), r"3 rows \(shape \(3, 2\)\) for 4 observations"),
        (np.zeros((4, 0)), "no dimensions"),
        (np.array([[0.0, np.nan]] * 4), r"4 non-finite values .*shape \(4, 2\)"),
        (np.array([[0.0, np.inf]] * 4), "non-finite"),
        (np.array([["a", "b"]] * 4), "non-real dtype"),
    ],
)
def test_check_codes_names_metric_and_shape(output, message):
    with pytest.raises(ValueError, match=rf"^mig: representation_fn .*{message}"):
        check_codes(output, 4, "mig")


def test_check_codes_returns_float64():
    out = check_codes(np.ones((2, 3), dtype=np.float32), 2, "mig")
    assert out.dtype == np.float64 and out.shape == (2, 3)


def test_encoder_batches_and_checks_code_size():
    calls = []

    def rep(x):
        calls.append(len(x))
        return np.ones((len(x), 2 if len(calls) == 1 else 3))

    encoder = Encoder(rep, "dci", batch_size=4)
    with pytest.raises(ValueError, match="dci: representation_fn returned 3 dimensions"):
        encoder(np.zeros((6, 1, 1, 1)))
    assert calls == [4, 2]


def test_encode_blocks_keeps_block_order_and_makes_few_calls():
    calls = []

    def rep(x):
        calls.append(len(x))
        return flatten(x)

    blocks = [(i, np.full((3, 1, 1, 1), float(i))) for i in range(5)]
    out = list(encode_blocks(Encoder(rep, "m", batch_size=7), iter(blocks)))
    assert [tag for tag, _ in out] == list(range(5))
    assert all((codes == tag).all() and codes.shape == (3, 1) for tag, codes in out)
    assert calls == [7, 2, 6]  # 9 rows, then the remaining 6 (each call batch_size at most)


def test_sample_codes_replays_dlib_chunked_draws():
    """dlib: chunks of min(remaining, batch_size), each ``data.sample(n, rs)``."""
    data = FactorGrid((3, 7, 11))
    sample = sample_codes(data, flatten, 50, np.random.RandomState(5), batch_size=16)
    rs = np.random.RandomState(5)
    expected = np.concatenate([data.sample(n, rs)[0] for n in (16, 16, 16, 2)])
    np.testing.assert_array_equal(sample.factors, expected)
    np.testing.assert_array_equal(sample.codes, expected)
    # the chunking changes the draws (as in dlib), not their distribution
    other = sample_codes(data, flatten, 50, np.random.RandomState(5), batch_size=50)
    assert not np.array_equal(other.factors, sample.factors)


def test_sample_splits_continue_the_stream():
    data = FactorGrid((4, 4))
    train, test = sample_splits(data, flatten, [32, 16], np.random.RandomState(0))
    both = sample_codes(data, flatten, 32, np.random.RandomState(0), batch_size=16)
    np.testing.assert_array_equal(train.factors, both.factors)
    assert len(test) == 16


def test_sample_codes_accepts_generator_and_rejects_bad_counts():
    data = FactorGrid((4, 4))
    a = sample_codes(data, flatten, 20, np.random.default_rng(1))
    b = sample_codes(data, flatten, 20, np.random.default_rng(1))
    np.testing.assert_array_equal(a.codes, b.codes)
    with pytest.raises(ValueError, match="mig: number of points"):
        sample_codes(data, flatten, 0, np.random.RandomState(0), metric="mig")


def test_draw_seed_is_liblinear_020_draw():
    assert draw_seed(np.random.RandomState(0)) == np.random.RandomState(0).randint(2**31 - 1)


def test_pinned_estimators():
    lr = logistic_regression(3).estimator.get_params()
    assert (lr["solver"], lr["C"], lr["max_iter"], lr["tol"]) == ("liblinear", 1.0, 100, 1e-4)
    svc = linear_svc(3).get_params()
    assert (svc["C"], svc["class_weight"], svc["loss"]) == (0.01, "balanced", "squared_hinge")
