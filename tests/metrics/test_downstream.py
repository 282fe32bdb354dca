"""Downstream tasks: perfect codes, noise at chance, sample efficiency, degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.multiclass import OneVsRestClassifier

from dislab.metrics import registry
from dislab.metrics._utils import MetricWarning
from dislab.metrics.downstream import (
    _predictor_for,
    downstream_task,
    downstream_task_boosted_trees,
    downstream_task_logistic_regression,
    sample_efficiency,
)

from .conftest import FactorGrid, flatten

SMALL = FactorGrid((5, 5, 5))


def one_hot(obs):
    """A perfect code that a linear one-vs-rest classifier can read: one-hot factors."""
    f = flatten(obs).astype(int)
    return np.concatenate([np.eye(5)[f[:, k]] for k in range(f.shape[1])], axis=1)


def noise(obs):
    """Codes independent of the factors (seeded by the batch contents, no shared RNG)."""
    seed = int(flatten(obs).sum() * 7919 + len(obs)) % (2**31)
    return np.random.RandomState(seed).normal(size=(len(obs), 4))


def test_study_configs_are_registered_with_dlib_keys():
    assert {"downstream_task_logistic_regression", "downstream_task_boosted_trees"} <= set(
        registry.names()
    )
    params = registry.info("downstream_task_boosted_trees").parameters
    assert params["num_train"] == (10, 100, 1000, 10000) and params["num_test"] == 5000
    scores = downstream_task_boosted_trees(
        SMALL, flatten, np.random.RandomState(0), num_train=(50,), num_test=50
    )
    per_factor = {f"50:{s}_accuracy_factor_{i}" for s in ("train", "test") for i in range(3)}
    aggregates = {f"50:{a}_{s}_accuracy" for a in ("mean", "min") for s in ("train", "test")}
    assert set(scores) == per_factor | aggregates


def test_perfect_codes_give_perfect_accuracy():
    gbt = downstream_task_boosted_trees(
        SMALL, flatten, np.random.RandomState(0), num_train=(200,), num_test=300
    )
    assert gbt["200:mean_test_accuracy"] == 1.0
    lr = downstream_task_logistic_regression(
        SMALL, one_hot, np.random.RandomState(0), num_train=(200,), num_test=300
    )
    assert lr["200:min_test_accuracy"] == 1.0


@pytest.mark.parametrize("predictor", ["logistic_regression_cv", "gradient_boosting_classifier"])
def test_noise_codes_give_chance_level(predictor):
    scores = downstream_task(
        SMALL,
        noise,
        np.random.RandomState(0),
        predictor=predictor,
        num_train=(300,),
        num_test=1000,
    )
    assert scores["300:mean_test_accuracy"] == pytest.approx(0.2, abs=0.05)


def test_fast_mode_on_perfect_codes():
    scores = downstream_task(
        SMALL,
        flatten,
        np.random.RandomState(0),
        predictor="gradient_boosting_classifier",
        num_train=(500,),
        num_test=300,
        mode="fast",
    )
    assert scores["500:mean_test_accuracy"] == 1.0


def test_sample_efficiency_is_the_ratio_of_test_accuracies():
    data = FactorGrid((2, 2))
    scores = downstream_task(
        data,
        flatten,
        np.random.RandomState(0),
        num_train=(100, 10000),
        num_test=100,
        mode="fast",
    )
    assert scores["sample_efficiency"] == pytest.approx(
        scores["100:mean_test_accuracy"] / scores["10000:mean_test_accuracy"]
    )
    assert scores["sample_efficiency"] == pytest.approx(1.0)  # a perfect code learns at once


def test_sample_efficiency_definition():
    assert sample_efficiency(0.5, 0.8) == pytest.approx(0.625)
    assert sample_efficiency(0.5, 0.0) == 0.0
    np.testing.assert_allclose(sample_efficiency([0.5, 0.3, 0.2], [0.8, 0.0, 0.4]),
                               [0.625, 0.0, 0.5])


def test_constant_codes_predict_one_class_with_warning():
    with pytest.warns(MetricWarning, match="do not vary"):
        scores = downstream_task(
            SMALL,
            lambda o: np.zeros((len(o), 2)),
            np.random.RandomState(0),
            predictor="gradient_boosting_classifier",
            num_train=(100,),
            num_test=500,
        )
    assert scores["100:mean_test_accuracy"] == pytest.approx(0.2, abs=0.06)


def test_single_class_training_set_is_predicted_with_warning():
    data = FactorGrid((1, 3))
    with pytest.warns(MetricWarning, match="single class"):
        scores = downstream_task_boosted_trees(
            data, flatten, np.random.RandomState(0), num_train=(10,), num_test=20
        )
    assert scores["10:test_accuracy_factor_0"] == 1.0


def test_fix_small_sample_cv_skips_cross_validation_only_when_classes_are_rare():
    rare = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    parity = _predictor_for(rare, "logistic_regression_cv", "parity", 0, "0.20", False)
    fixed = _predictor_for(rare, "logistic_regression_cv", "parity", 0, "0.20", True)
    assert type(parity.estimator).__name__ == "LogisticRegressionCV"
    assert isinstance(fixed, OneVsRestClassifier)
    assert type(fixed.estimator).__name__ == "LogisticRegression"
    common = np.repeat([0, 1], 5)
    assert (
        fixed.get_params()
        != _predictor_for(common, "logistic_regression_cv", "parity", 0, "0.20", True).get_params()
    )


KWARGS = dict(predictor="gradient_boosting_classifier", num_train=(10, 30), num_test=50)
TINY = FactorGrid((2, 3))


def test_same_seed_same_numbers():
    a = downstream_task(TINY, noise, np.random.RandomState(3), **KWARGS)
    b = downstream_task(TINY, noise, np.random.RandomState(3), **KWARGS)
    c = downstream_task(TINY, noise, np.random.RandomState(4), **KWARGS)
    assert a == b
    assert a != c


@pytest.mark.slow
def test_parallel_fits_give_the_serial_numbers():
    a = downstream_task(TINY, noise, np.random.RandomState(3), **KWARGS)
    b = downstream_task(TINY, noise, np.random.RandomState(3), n_jobs=2, **KWARGS)
    assert a == b


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="mode must be one of parity, fast"):
        downstream_task(SMALL, flatten, np.random.RandomState(0), mode="quick")
    with pytest.raises(ValueError, match="predictor must be one of"):
        downstream_task(SMALL, flatten, np.random.RandomState(0), predictor="svm")
    with pytest.raises(ValueError, match="downstream_task.*rows"):
        downstream_task(
            SMALL, lambda o: flatten(o)[:1], np.random.RandomState(0), num_train=(10,), num_test=10
        )
