"""Modularity and explicitness: the matrix values of dlib's
``modularity_explicitness_test.py``, the perfect-code values of dlib's own code, degenerate
cases."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics import MetricWarning
from dislab.metrics._utils import Sample
from dislab.metrics.modularity import explicitness, modularity, modularity_explicitness

from .conftest import (
    SHAPES3D,
    SMALLNORB,
    FactorGrid,
    constant,
    duplicated,
    flatten,
    noise,
    permuted,
    rotated,
)

EYE = np.eye(5)


@pytest.mark.parametrize(
    ("matrix", "expected"),
    [
        (5 * EYE, 1.0),
        (np.array([[1.0, 0], [0, 1], [0, 0]]), 2 / 3),
        (np.zeros((10, 10)), 0.0),
        (np.vstack([EYE, EYE]), 1.0),
        (EYE[:2], 1.0),
        (np.hstack([EYE, EYE]), 8 / 9),
    ],
)
def test_modularity_of_matrices_as_dlib_tests(matrix, expected):
    assert modularity(matrix) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("sizes", "modularity_score", "explicitness_test"),
    [(SMALLNORB, 0.999997, 0.99977), (SHAPES3D, 0.999997, 0.99999)],
)
def test_dlib_values_with_current_sklearn(sizes, modularity_score, explicitness_test):
    """dlib's own code on the perfect code, run with scikit-learn 1.9's LogisticRegression
    defaults, gave these values."""
    scores = modularity_explicitness(
        FactorGrid(sizes), flatten, np.random.RandomState(0), sklearn_defaults="current"
    )
    assert scores["modularity_score"] == pytest.approx(modularity_score, abs=1e-6)
    assert scores["explicitness_score_test"] == pytest.approx(explicitness_test, abs=2e-5)


def test_study_sklearn_020_explicitness():
    """0.20's liblinear one-vs-rest logistic regression (the study's) on SmallNORB's grid."""
    scores = modularity_explicitness(FactorGrid(SMALLNORB), flatten, np.random.RandomState(0))
    assert scores["modularity_score"] == pytest.approx(0.999997, abs=1e-6)
    assert scores["explicitness_score_test"] == pytest.approx(0.97418, abs=1e-4)


def test_transforms(small_grid):
    def score(rep):
        return modularity_explicitness(
            small_grid, rep, np.random.RandomState(0), num_train=2000, num_test=500
        )

    perfect = score(flatten)
    assert perfect["modularity_score"] > 0.99
    assert score(permuted) == perfect
    assert score(duplicated)["modularity_score"] == pytest.approx(perfect["modularity_score"])
    assert score(rotated)["modularity_score"] < 0.9  # 4 of the 5 codes mix two factors
    chance = score(noise(0, 5))
    assert chance["modularity_score"] < 0.8  # every code shares its (bias) MI evenly
    assert chance["explicitness_score_test"] == pytest.approx(0.5, abs=0.05)


def test_constant_codes(small_grid):
    with pytest.warns(MetricWarning, match="constant"):
        scores = modularity_explicitness(
            small_grid, constant, np.random.RandomState(0), num_train=300, num_test=100
        )
    assert scores == {
        "modularity_score": 0.0,
        "explicitness_score_train": 0.5,
        "explicitness_score_test": 0.5,
    }


def test_class_missing_from_test_labels_does_not_crash():
    """dlib crashes here (one-hot encoder fitted per split); the AUC uses the classes present."""
    factors = np.array([[0], [1], [2], [0], [1], [2]])
    train = Sample(factors, factors.astype(float))
    test = Sample(factors[:2], factors[:2].astype(float))  # class 2 missing
    train_auc, test_auc = explicitness(train, test, "current")
    assert train_auc == 1.0 and test_auc == 1.0


def test_bad_representation_output_is_named(small_grid):
    with pytest.raises(ValueError, match=r"modularity: representation_fn must return a 2-D"):
        modularity_explicitness(small_grid, lambda x: x, np.random.RandomState(0))
