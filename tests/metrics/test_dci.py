"""DCI: the aggregation values and ranges of dlib's ``evaluation/metrics/dci_test.py``, the
perfect-code values of dlib's own code, parity and fast mode."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest

from dislab.metrics import MetricWarning
from dislab.metrics._utils import LIGHTGBM_GBT_LIKE
from dislab.metrics.dci import _fit_lightgbm, completeness, dci, disentanglement

from .conftest import DSPRITES, FactorGrid, constant, duplicated, flatten, permuted, rotated

EYE = np.eye(5)
LOG = 1 - np.log(2) / np.log(10)  # 0.69897
SMALL = dict(num_train=1000, num_test=500)


@pytest.mark.parametrize(
    ("matrix", "d", "c"),
    [
        (5 * EYE, 1.0, 1.0),
        (np.zeros((10, 10)), 0.0, 0.0),
        (np.vstack([EYE, EYE]), 1.0, LOG),
        (EYE[:2], 1.0, 1.0),
        (np.hstack([EYE, EYE]), LOG, 1.0),
        (np.vstack([EYE, np.zeros((3, 5))]), 1.0, 1.0),  # extra empty codes
    ],
)
def test_aggregation_as_dlib_tests(matrix, d, c):
    assert disentanglement(matrix) == pytest.approx(d, abs=1e-8)
    assert completeness(matrix) == pytest.approx(c, abs=1e-8)


@pytest.mark.parametrize("mode", ["parity", "fast"])
def test_perfect_code(mode):
    """Accuracies 1 and a diagonal importance matrix: D = C = 1 up to the 1e-11 added to every
    importance. Parity gives the diagonal matrix's value, 1 - (K - 1) 1e-11 (1 + ln 1e11) / ln K
    (4.8e-10 below 1 for K = 3); LightGBM's gains leave ~1e-9 on the other codes (~1 - 1e-7)."""
    data = FactorGrid((4, 4, 4))
    scores = dci(data, flatten, np.random.RandomState(0), mode=mode, num_train=500, num_test=200)
    assert scores["informativeness_train"] == scores["informativeness_test"] == 1.0
    diagonal = disentanglement(np.eye(3))
    assert 1 - diagonal == pytest.approx(2e-11 * (1 + np.log(1e11)) / np.log(3), rel=1e-6)
    assert completeness(np.eye(3)) == diagonal
    tolerance = 1e-12 if mode == "parity" else 1e-6
    assert scores["disentanglement"] == pytest.approx(diagonal, abs=tolerance)
    assert scores["completeness"] == pytest.approx(diagonal, abs=tolerance)
    assert scores["disentanglement"] < 1 and scores["completeness"] < 1


def test_duplicated_code_parity():
    """As dlib's test: D in [0.9, 1], C = 0.699 +- 0.1 (sklearn breaks split ties at random)."""
    data = FactorGrid((4, 4, 4, 4, 4))
    scores = dci(data, duplicated, np.random.RandomState(0), num_train=500, num_test=100)
    assert scores["disentanglement"] > 0.9
    assert scores["completeness"] == pytest.approx(LOG, abs=0.1)


def test_fast_mode_moves(small_grid):
    """LightGBM gives a tie between identical features to the first: C stays ~1."""
    scores = dci(small_grid, duplicated, np.random.RandomState(0), mode="fast", **SMALL)
    assert scores["disentanglement"] > 0.9 and scores["completeness"] > 0.9
    rot = dci(small_grid, rotated, np.random.RandomState(0), mode="fast", **SMALL)
    assert rot["disentanglement"] < 0.8 and rot["informativeness_test"] > 0.9


def test_per_sample_permuted_codes_are_not_disentangled(small_grid):
    """As dlib's test: each point's code randomly permuted -> D, C in [0, 0.2]."""
    gen = np.random.RandomState(9)

    def shuffled(observations):
        f = flatten(observations)
        return np.take_along_axis(f, np.argsort(gen.rand(*f.shape), axis=1), axis=1)

    scores = dci(small_grid, shuffled, np.random.RandomState(0), mode="fast", **SMALL)
    assert scores["disentanglement"] < 0.2 and scores["completeness"] < 0.2


def test_dimension_order_and_jobs_do_not_matter(small_grid):
    base = dci(small_grid, rotated, np.random.RandomState(0), mode="fast", **SMALL)
    assert (
        dci(small_grid, rotated, np.random.RandomState(0), mode="fast", n_jobs=2, **SMALL) == base
    )
    flipped = dci(small_grid, permuted, np.random.RandomState(0), mode="fast", **SMALL)
    assert flipped["disentanglement"] == pytest.approx(1.0, abs=1e-6)


def test_informativeness_as_error(small_grid):
    scores = dci(
        small_grid, rotated, np.random.RandomState(0), mode="fast", informativeness="error", **SMALL
    )
    accuracy = dci(small_grid, rotated, np.random.RandomState(0), mode="fast", **SMALL)
    assert scores["informativeness_test"] == pytest.approx(1 - accuracy["informativeness_test"])
    assert scores["disentanglement"] == accuracy["disentanglement"]


def test_constant_codes_score_zero():
    with pytest.warns(MetricWarning, match="constant"):
        scores = dci(
            FactorGrid((5, 5)), constant, np.random.RandomState(0), num_train=200, num_test=100
        )
    assert scores["disentanglement"] == pytest.approx(0.0, abs=1e-12)
    assert scores["completeness"] == pytest.approx(0.0, abs=1e-12)
    assert scores["informativeness_test"] == pytest.approx(0.2, abs=0.1)


def test_bad_options(small_grid):
    with pytest.raises(ValueError, match="mode"):
        dci(small_grid, flatten, np.random.RandomState(0), mode="turbo", **SMALL)


@pytest.mark.slow
def test_perfect_code_dsprites_study_settings():
    """As dlib's own code: informativeness 1 and D = C = 1 up to the 1e-11 epsilon,
    1 - 6.5e-10 for K = 5 factors (diagonal importances; dlib took ~100 s for this)."""
    scores = dci(FactorGrid(DSPRITES), flatten, np.random.RandomState(0))
    assert scores["informativeness_train"] == scores["informativeness_test"] == 1.0
    diagonal = disentanglement(np.eye(5))
    assert 1 - diagonal == pytest.approx(6.54e-10, rel=1e-3)
    assert scores["disentanglement"] == pytest.approx(diagonal, abs=1e-12)
    assert scores["completeness"] == pytest.approx(diagonal, abs=1e-12)


@pytest.mark.parametrize("sizes", [(2, 3), (4, 3)])
def test_fast_mode_accuracies_equal_predictions(sizes):
    """The training accuracy read from LightGBM's own scores equals predicting the train set."""
    gen = np.random.RandomState(0)
    y = gen.randint(sizes[0], size=300) * 10 + 5  # labels that are not 0..K-1
    x = np.stack([y + gen.normal(scale=8, size=300), gen.normal(size=300)], axis=1)
    importance, train_acc, test_acc = _fit_lightgbm(x[:200], y[:200], x[200:], y[200:], 0)
    classes, labels = np.unique(y[:200], return_inverse=True)
    binary = len(classes) == 2
    params = {"objective": "binary" if binary else "multiclass", "seed": 0}
    if not binary:
        params["num_class"] = len(classes)
    booster = lightgbm.train(
        {**LIGHTGBM_GBT_LIKE, **params}, lightgbm.Dataset(x[:200], labels), num_boost_round=100
    )
    proba = booster.predict(x)
    predicted = classes[(proba > 0.5).astype(int) if binary else proba.argmax(axis=1)]
    assert train_acc == np.mean(predicted[:200] == y[:200])
    assert test_acc == np.mean(predicted[200:] == y[200:])
    assert 0.5 < train_acc < 1 and importance[0] > importance[1]


def test_same_seed_same_numbers_in_parity_mode():
    """dlib's GBT was unseeded; here its seed comes from rng, so runs repeat exactly."""
    data = FactorGrid((3, 4))

    def run(seed):
        return dci(data, rotated, np.random.RandomState(seed), num_train=200, num_test=100)

    assert run(0) == run(0)
