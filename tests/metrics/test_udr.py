"""UDR: relative strength known values, invariances, independent models, KL filtering."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics import registry
from dislab.metrics._utils import MetricWarning
from dislab.metrics.udr import (
    lasso_correlation_matrix,
    relative_strength_disentanglement,
    spearman_correlation_matrix,
    udr,
)

from .conftest import FactorGrid, flatten

DATA = FactorGrid((10,) * 5)
PERMUTATION = np.array([3, 0, 4, 1, 2])
SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0])


def identity(obs):
    return flatten(obs), np.ones(5)


def permuted_flipped(obs):
    return flatten(obs)[:, PERMUTATION] * SIGNS * 2.5 + 1.0, np.ones(5)


def noise(obs):
    seed = int(flatten(obs).sum() * 7919 + len(obs)) % (2**31)
    return np.random.RandomState(seed).normal(size=(len(obs), 5)), np.ones(5)


def test_relative_strength_known_values():
    assert relative_strength_disentanglement(np.eye(3)) == 1.0
    blocks = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert relative_strength_disentanglement(blocks) == pytest.approx(2 / 3)
    assert relative_strength_disentanglement(np.ones((3, 3))) == pytest.approx(1 / 3)
    assert relative_strength_disentanglement(np.zeros((3, 3))) == 0.0
    # a line holding NaN counts as 0 (dlib's nan_to_num)
    with_nan = np.eye(2)
    with_nan[0, 1] = np.nan
    assert relative_strength_disentanglement(with_nan) == pytest.approx(0.5)


def test_similarity_matrices_recover_a_copied_column():
    x = np.random.RandomState(0).random_sample((1000, 3))
    y = x.copy()
    y[:, 1] = y[:, 0]
    expected = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert np.allclose(spearman_correlation_matrix(x, y), expected, atol=0.1)
    assert np.allclose(lasso_correlation_matrix(x * 10, y * 10), expected, atol=0.2)
    # Spearman equals Pearson on ranks: a monotone transform keeps |rho| = 1
    assert spearman_correlation_matrix(x[:, :1], np.exp(x[:, :1]))[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("correlation", ["lasso", "spearman"])
def test_permuted_sign_flipped_rescaled_models_agree(correlation):
    scores = udr(
        DATA, [identity, permuted_flipped], np.random.RandomState(0), correlation_matrix=correlation
    )
    assert set(scores) == {"raw_correlations", "pairwise_disentanglement_scores", "model_scores"}
    assert all(0.8 <= s <= 1.0 for s in scores["model_scores"])
    raw = np.array(scores["raw_correlations"])
    assert raw.shape == (2, 2, 5, 5)
    assert np.argmax(raw[0, 1], axis=1).tolist() == np.argsort(PERMUTATION).tolist()


def test_independent_models_score_low():
    scores = udr(
        DATA,
        [identity, noise, permuted_flipped],
        np.random.RandomState(0),
        correlation_matrix="spearman",
        include_raw_correlations=False,
    )
    assert "raw_correlations" not in scores
    pair = np.array(scores["pairwise_disentanglement_scores"])[..., 0]
    assert pair[0, 1] < 0.3 and pair[1, 0] < 0.3
    assert pair[0, 2] > 0.8
    # medians over the two partners: (high, low) -> mid for the agreeing models, low for noise
    assert scores["model_scores"][1] < 0.3 < scores["model_scores"][0]


def test_kl_filter_as_dlib():
    # only the first latent is informative; the others are noise with KL 0
    def one_informative(obs):
        codes = np.column_stack([flatten(obs)[:, :1], noise(obs)[0][:, 1:]])
        return codes, np.array([1.0, 0, 0, 0, 0])

    fns = [one_informative, one_informative]
    unfiltered = udr(DATA, fns, np.random.RandomState(0), filter_low_kl=False)
    filtered = udr(DATA, fns, np.random.RandomState(0), filter_low_kl=True)
    assert all(0.0 <= s <= 0.2 for s in unfiltered["model_scores"])
    assert all(0.8 <= s <= 1.0 for s in filtered["model_scores"])


def test_codes_only_functions_count_every_dimension():
    scores = udr(DATA, [flatten, lambda o: -flatten(o)], np.random.RandomState(0))
    # standardised identical columns: Lasso shrinks the weight to 1 - alpha = 0.9, others 0,
    # so every line scores 0.9^2 / 0.9
    assert scores["model_scores"] == pytest.approx([0.9, 0.9], abs=1e-6)


def test_no_informative_dimension_scores_zero_with_warning():
    def dead(obs):
        return flatten(obs), np.zeros(5)

    with pytest.warns(MetricWarning, match="no informative"):
        scores = udr(DATA, [dead, identity], np.random.RandomState(0), num_data_points=100)
    assert scores["model_scores"] == [0.0, 0.0]


def test_constant_model_scores_zero_with_warning():
    with pytest.warns(MetricWarning, match="model 1 do not vary"):
        scores = udr(
            DATA,
            [identity, lambda o: np.ones((len(o), 5))],
            np.random.RandomState(0),
            num_data_points=100,
        )
    assert scores["model_scores"] == [0.0, 0.0]


def test_same_seed_same_numbers():
    fns = [identity, noise]
    a = udr(DATA, fns, np.random.RandomState(1), num_data_points=200)
    assert a == udr(DATA, fns, np.random.RandomState(1), num_data_points=200)
    assert a != udr(DATA, fns, np.random.RandomState(2), num_data_points=200)


def test_bad_input_is_rejected_clearly():
    assert "udr" in registry.names()
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match="at least 2"):
        udr(DATA, identity, rng)
    with pytest.raises(ValueError, match="multiple of batch_size"):
        udr(DATA, [identity, identity], rng, num_data_points=15)
    with pytest.raises(ValueError, match="correlation_matrix must be one of lasso, spearman"):
        udr(DATA, [identity, identity], rng, correlation_matrix="pearson")
    with pytest.raises(ValueError, match=r"udr \(model 1\).*rows"):
        udr(DATA, [identity, lambda o: flatten(o)[:2]], rng, num_data_points=100)
    with pytest.raises(ValueError, match="kl must be 5 finite values"):
        udr(DATA, [identity, lambda o: (flatten(o), np.ones(3))], rng, num_data_points=100)
    with pytest.raises(ValueError, match="same code size"):
        udr(DATA, [identity, lambda o: flatten(o)[:, :3]], rng, num_data_points=100)
