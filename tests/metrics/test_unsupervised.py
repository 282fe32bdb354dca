"""Unsupervised scores: closed forms (the values of dlib's ``unsupervised_metrics_test.py``),
degenerate codes, replay and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics._utils import MetricWarning
from dislab.metrics.unsupervised import (
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    mean_pairwise_mutual_info,
    unsupervised_metrics,
)

from .conftest import FactorGrid, flatten

CORRELATED = np.array([[1.0, 0.9], [0.9, 1.0]])


@pytest.mark.parametrize("fix", [False, True])
def test_gaussian_total_correlation_known_values(fix):
    assert gaussian_total_correlation(np.eye(5), fix_singular=fix) == pytest.approx(0, abs=1e-12)
    value = gaussian_total_correlation(CORRELATED, fix_singular=fix)
    assert value == pytest.approx(0.830366, abs=1e-6)
    assert value == pytest.approx(-0.5 * np.log(0.19), rel=1e-12)
    # scale invariant: TC depends on the correlation matrix only
    scaled = CORRELATED * np.outer([2.0, 0.5], [2.0, 0.5])
    assert gaussian_total_correlation(scaled, fix_singular=fix) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("fix", [False, True])
def test_gaussian_wasserstein_correlation_known_values(fix):
    assert gaussian_wasserstein_correlation(np.eye(5), fix_complex=fix) == pytest.approx(
        0, abs=1e-12
    )
    value = gaussian_wasserstein_correlation(CORRELATED, fix_complex=fix)
    assert value == pytest.approx(0.610735, abs=1e-6)
    # closed form for unit variances: 2 tr - 2 sum sqrt(eig) = 4 - 2 (sqrt(1.9) + sqrt(0.1))
    assert value == pytest.approx(4 - 2 * (np.sqrt(1.9) + np.sqrt(0.1)), rel=1e-10)


def test_singular_covariance_is_infinite_in_parity_and_capped_when_fixed():
    singular = np.ones((2, 2))
    assert gaussian_total_correlation(singular) == np.inf
    # correlation eigenvalues 2 and 0; the 0 is floored at float64 epsilon
    capped = -0.5 * (np.log(2.0) + np.log(np.finfo(np.float64).eps))
    assert gaussian_total_correlation(singular, fix_singular=True) == pytest.approx(capped)


def test_mean_pairwise_mutual_info_hand_computed():
    same = np.array([[1, 1], [2, 2], [1, 1], [2, 2]])
    assert mean_pairwise_mutual_info(same) == pytest.approx(np.log(2))
    independent = np.array([[1, 1], [1, 2], [2, 1], [2, 2]])
    assert mean_pairwise_mutual_info(independent) == pytest.approx(0.0, abs=1e-12)
    # three columns: pairs (0,1) share ln 2, the four pairs with column 2 share 0 -> 2 ln2 / 6
    three = np.column_stack([same, [1, 1, 2, 2]])
    assert mean_pairwise_mutual_info(three) == pytest.approx(np.log(2) / 3)


def _small():
    return FactorGrid((5, 5, 5, 5, 5))


def test_identity_code_scores_near_zero():
    scores = unsupervised_metrics(_small(), flatten, np.random.RandomState(0), num_train=4000)
    assert set(scores) == {
        "gaussian_total_correlation",
        "gaussian_wasserstein_correlation",
        "gaussian_wasserstein_correlation_norm",
        "mutual_info_score",
    }
    assert 0 <= scores["gaussian_total_correlation"] < 5e-3
    assert abs(scores["gaussian_wasserstein_correlation_norm"]) < 5e-3
    # histogram-MI bias only: about (bins-1)^2 / (2N) with 5 occupied bins -> 16/8000
    assert 0 < scores["mutual_info_score"] < 0.01


def test_mixed_code_total_correlation_matches_closed_form():
    # [f0, f0 + f1] with independent, equally spread f0, f1: correlation 1/sqrt(2)
    def mixed(obs):
        f = flatten(obs)
        return np.column_stack([f[:, 0], f[:, 0] + f[:, 1]])

    scores = unsupervised_metrics(FactorGrid((8, 8)), mixed, np.random.RandomState(0))
    assert scores["gaussian_total_correlation"] == pytest.approx(0.5 * np.log(2), abs=0.02)
    assert scores["mutual_info_score"] > 0.3


def test_rotation_of_isotropic_code_keeps_gaussian_scores_zero():
    angle = np.pi / 4
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def rotated(obs):
        return (flatten(obs) - 3.5) @ rotation

    scores = unsupervised_metrics(FactorGrid((8, 8)), rotated, np.random.RandomState(0))
    assert scores["gaussian_total_correlation"] < 5e-3  # Gaussian TC is blind to rotations
    assert scores["mutual_info_score"] > 0.05  # the histogram MI is not


def test_constant_codes_give_zero_with_warning():
    def constant(obs):
        return np.ones((len(obs), 3))

    with pytest.warns(MetricWarning, match="constant"):
        scores = unsupervised_metrics(_small(), constant, np.random.RandomState(0), num_train=200)
    assert scores == {
        "gaussian_total_correlation": 0.0,
        "gaussian_wasserstein_correlation": 0.0,
        "gaussian_wasserstein_correlation_norm": 0.0,
        "mutual_info_score": 0.0,
    }


def test_constant_dimension_is_left_out_of_the_gaussian_scores():
    def with_constant(obs):
        f = flatten(obs)
        return np.column_stack([f, np.zeros(len(f))])

    rng_seed = 3
    with pytest.warns(MetricWarning, match="1 of 6"):
        padded = unsupervised_metrics(
            _small(), with_constant, np.random.RandomState(rng_seed), num_train=500
        )
    plain = unsupervised_metrics(_small(), flatten, np.random.RandomState(rng_seed), num_train=500)
    for key in ("gaussian_total_correlation", "gaussian_wasserstein_correlation"):
        assert padded[key] == pytest.approx(plain[key], rel=1e-9, abs=1e-12)


def test_same_seed_same_numbers():
    a = unsupervised_metrics(_small(), flatten, np.random.RandomState(5), num_train=300)
    b = unsupervised_metrics(_small(), flatten, np.random.RandomState(5), num_train=300)
    c = unsupervised_metrics(_small(), flatten, np.random.RandomState(6), num_train=300)
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda obs: flatten(obs)[:-1], "rows"),
        (lambda obs: flatten(obs).ravel(), "2-D"),
        (lambda obs: np.full((len(obs), 2), np.nan), "non-finite"),
    ],
)
def test_bad_representation_output_names_metric(bad, message):
    with pytest.raises(ValueError, match=f"unsupervised.*{message}"):
        unsupervised_metrics(_small(), bad, np.random.RandomState(0), num_train=32)


def test_duplicated_code_is_maximally_dependent():
    def duplicated(obs):
        f = flatten(obs)[:, :1]
        return np.column_stack([f, f])

    with pytest.warns(MetricWarning, match="sqrtm: Matrix is singular"):
        scores = unsupervised_metrics(
            FactorGrid((8,)), duplicated, np.random.RandomState(0), fix_singular_covariance=True
        )
    # correlation matrix [[1, 1], [1, 1]]: eigenvalues 2 and 0 (floored at float64 epsilon)
    capped = -0.5 * (np.log(2.0) + np.log(np.finfo(np.float64).eps))
    assert scores["gaussian_total_correlation"] == pytest.approx(capped, abs=1e-6)
    assert scores["mutual_info_score"] == pytest.approx(np.log(8), abs=0.01)  # = H(f)


def test_rescaling_moves_only_the_unnormalised_wasserstein_score():
    def rescaled(obs):
        return 3.0 * flatten(obs) + 1.0

    plain = unsupervised_metrics(_small(), flatten, np.random.RandomState(2), num_train=500)
    scaled = unsupervised_metrics(_small(), rescaled, np.random.RandomState(2), num_train=500)
    for key in ("gaussian_total_correlation", "gaussian_wasserstein_correlation_norm"):
        assert scaled[key] == pytest.approx(plain[key], rel=1e-6, abs=1e-12)
    assert scaled["mutual_info_score"] == plain["mutual_info_score"]
    assert scaled["gaussian_wasserstein_correlation"] == pytest.approx(
        9.0 * plain["gaussian_wasserstein_correlation"], rel=1e-6
    )
