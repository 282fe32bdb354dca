"""Every analysis recovers the structure planted in tests/analysis/synthetic.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from dislab.analysis import correlation, scores, transfer
from dislab.analysis.columns import NotEnoughData, done_runs, regularization_strength
from dislab.analysis.stats import spearman
from tests.analysis.synthetic import LR, planted_table

FAST = {"num_resamples": 100}


@pytest.fixture(scope="module")
def table():
    return planted_table()


def _pair(result, x, y):
    return result[(result["x"] == x) & (result["y"] == y)]


def test_spearman_known_values_and_interval():
    x = np.arange(20.0)
    assert spearman(x, x ** 3)["rho"] == pytest.approx(1.0)
    assert spearman(x, -x)["rho"] == pytest.approx(-1.0)
    # hand-computed: ranks (1,2,3,4) vs (2,1,4,3): 1 - 6 * 4 / (4 * 15) = 0.6
    assert spearman([1, 2, 3, 4], [2, 1, 4, 3])["rho"] == pytest.approx(0.6)
    noisy = spearman(x, x + np.random.default_rng(0).normal(0, 5, 20), seed=1)
    assert noisy["low"] < noisy["rho"] < noisy["high"]
    assert spearman(x, x + np.random.default_rng(0).normal(0, 5, 20), seed=1) == noisy
    assert np.isnan(spearman([1, 2], [1, 2])["rho"])  # fewer than 3 pairs
    assert spearman([1, np.nan, 3, 4], [1, 5, 3, 4])["n"] == 3


def test_strength_is_the_models_swept_column(table):
    strength = regularization_strength(table)
    assert strength[table["model"] == "beta_vae"].isin([1.0, 4.0, 16.0]).all()
    assert strength[table["model"] == "factor_vae"].isin([10.0, 30.0, 100.0]).all()
    assert len(done_runs(table.assign(state="failed"))) == 0
    # a model outside the paper's: its only swept column; two set columns: undefined
    other = pd.DataFrame({"dataset": "d", "model": ["my_vae", "my_vae", "beta_vae"],
                          "alpha": [0.5, 2.0, np.nan], "beta": [np.nan, 3.0, 4.0],
                          "seed": 0})
    np.testing.assert_array_equal(regularization_strength(other), [0.5, np.nan, 4.0])


def test_decorrelation_finds_sampled_tc_falling_and_mean_tc_rising(table):
    result, fig = scores.decorrelation(table, plot=True, **FAST)
    assert isinstance(fig, Figure)
    assert len(_pair(result, "strength", "TC (sampled)")) == 4  # 2 datasets x 2 models
    # 10 tied seeds per strength: |rho| is at most 0.943 with 3 distinct strengths
    assert (_pair(result, "strength", "TC (sampled)")["rho"] < -0.85).all()
    assert (_pair(result, "strength", "TC (mean)")["rho"] > 0.85).all()
    assert (_pair(result, "strength", "TC (sampled)")["high"] < 0).all()


def test_metric_agreement_recovers_correlated_and_independent_metrics(table):
    result, fig = correlation.metric_agreement(table, plot=True, **FAST)
    assert len(result) == 2 * 15  # each unordered pair of six metrics, per dataset
    assert (_pair(result, "MIG", "DCI")["rho"] > 0.95).all()
    assert (_pair(result, "BetaVAE", "FactorVAE")["low"] > 0.8).all()
    modularity = result[(result["x"] == "Modularity") | (result["y"] == "Modularity")]
    assert (modularity["rho"].abs() < 0.5).all()


def test_variance_is_explained_by_the_configuration_not_the_seed(table):
    result, fig = scores.metric_distributions(table, plot=True)
    planted = result[result["metric"] != "Modularity"]
    assert (planted["eta2_config"] > 0.98).all() and (planted["seed_share"] < 0.02).all()
    assert (result.loc[result["metric"] == "Modularity", "seed_share"] > 0.5).all()
    # a score that is only seed noise: the seed explains everything (up to sampling error)
    noise = planted_table(noise=100.0)
    shares = scores.metric_distributions(noise).set_index(["dataset", "metric"])["seed_share"]
    assert (shares > 0.5).all()


def test_seed_variation_summarises_each_strength_over_seeds(table):
    result, fig = scores.seed_variation(table, plot=True)
    assert result["dataset"].iloc[0] == "alpha"  # no cars3d: the first dataset
    assert list(result["strength"]) == [10.0, 30.0, 100.0]
    assert (result["n"] == 10).all()
    # FactorVAE score = q = 3, 4, 5 (+ noise 0.01): the ranges do not overlap
    np.testing.assert_allclose(result["median"], [3, 4, 5], atol=0.05)
    assert list(result["overlap"]) == [False, False, True]


def test_hyperparameter_effect_finds_the_winning_value(table):
    result, fig = scores.hyperparameter_effect(table, plot=True, **FAST)
    mig = result[result["metric"] == "MIG"]
    assert list(mig["best_strength"]) == [16.0, 100.0, 16.0, 100.0]
    assert mig["consistent"].all() and (mig["rho"] > 0.85).all()


def test_unsupervised_scores_kl_tracks_metrics_reconstruction_does_not(table):
    result, fig = correlation.unsupervised_vs_metrics(table, plot=True, **FAST)
    assert set(result["x"]) == {"KL", "reconstruction", "TC (sampled)", "TC (mean)"}
    assert (_pair(result, "KL", "MIG")["rho"] > 0.9).all()
    assert (_pair(result, "reconstruction", "MIG")["rho"].abs() < 0.5).all()


def test_downstream_accuracy_tracks_metrics_efficiency_does_not(table):
    result, fig = correlation.downstream_vs_metrics(table, plot=True, **FAST)
    assert set(result["y"]) == {"LR accuracy", "LR efficiency"}
    assert (result["size"] == 10000).all()
    assert (_pair(result, "MIG", "LR accuracy")["rho"] > 0.9).all()
    assert (_pair(result, "MIG", "LR efficiency")["rho"].abs() < 0.5).all()


def test_downstream_falls_back_to_the_largest_size(table):
    smaller = table.rename(columns={f"{LR}.10000:mean_test_accuracy":
                                    f"{LR}.1000:mean_test_accuracy"})
    result = correlation.downstream_vs_metrics(smaller, **FAST)
    assert (result["size"] == 1000).all()


def test_transfer_when_every_score_follows_the_configuration():
    # no noise: the best configuration is unique (1 of 6) and ties itself on another seed,
    # so P(win) = 5/6 + 1/6 * 1/2 = 11/12 in every setting
    table = planted_table(noise=0.0)
    table["mean.modularity.modularity_score"] = table["mean.mig.discrete_mig"]
    result, fig = transfer.selection_transfer(table, num_draws=4000, num_resamples=20,
                                              plot=True)
    np.testing.assert_allclose(result["probability"], 11 / 12, atol=0.015)
    assert (result["low"] <= result["probability"]).all()
    assert (result["probability"] <= result["high"]).all()


def test_transfer_is_a_coin_flip_when_scores_are_noise():
    result = transfer.selection_transfer(planted_table(noise=1000.0), num_draws=4000,
                                         num_resamples=20)
    np.testing.assert_allclose(result["probability"], 0.5, atol=0.08)


def test_transfer_is_seeded(table):
    first = transfer.selection_transfer(table, num_draws=500, num_resamples=10, seed=3)
    again = transfer.selection_transfer(table, num_draws=500, num_resamples=10, seed=3)
    pd.testing.assert_frame_equal(first, again)


def test_transfer_settings_that_need_a_second_dataset_say_so():
    result = transfer.selection_transfer(planted_table(datasets=("alpha",)), num_draws=500,
                                         num_resamples=10)
    different = result[result["setting"].str.contains("different dataset")]
    assert different["probability"].isna().all()
    assert (different["reason"] == "needs a second dataset").all()


@pytest.mark.parametrize("analysis", [
    scores.decorrelation, scores.seed_variation, scores.hyperparameter_effect,
    transfer.selection_transfer])
def test_a_single_seed_or_strength_is_not_enough(analysis):
    one = planted_table(seeds=1)
    one = one[one["beta"].isin([4.0]) | one["gamma"].isin([30.0])]
    with pytest.raises(NotEnoughData):
        analysis(one)


def test_missing_scores_are_not_enough_data(table):
    bare = table[["model_num", "dataset", "model", "beta", "gamma", "seed", "state"]]
    for analysis in (scores.decorrelation, scores.metric_distributions,
                     correlation.metric_agreement, correlation.unsupervised_vs_metrics,
                     correlation.downstream_vs_metrics, transfer.selection_transfer):
        with pytest.raises(NotEnoughData):
            analysis(bare)


def test_not_a_study_table_is_a_clear_error():
    with pytest.raises(ValueError, match="not a study table"):
        scores.metric_distributions(pd.DataFrame({"x": [1]}))
