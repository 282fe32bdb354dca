"""The verdicts on the paper's findings (dislab.analysis.verdicts) on planted study tables:
every finding is Undecided at small n and gives the planted answer, both ways, at large n;
the stratified bootstrap behind them (dislab.analysis.stats)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from dislab.analysis import verdicts
from dislab.analysis.columns import METRICS, TC_SAMPLED, UNSUPERVISED
from dislab.analysis.stats import (
    resample_counts,
    resampled_spearman,
    stratified_indices,
)
from dislab.analysis.verdicts import AGREES, DISAGREES, UNDECIDED, Verdict, decide
from tests.analysis.synthetic import LR

FAST = {"num_resamples": 200}
MODELS = {"beta_vae": ("beta", 1.0), "factor_vae": ("gamma", 10.0)}  # column, first strength


def study(seeds: int, *, datasets=("alpha", "beta"), strengths: int = 3,
          seed: int = 0) -> pd.DataFrame:
    """Finished runs of beta_vae (beta 1, 2, 4, ...) and factor_vae (gamma 10, 20, 40, ...)
    for every dataset, strength and seed, with the helper columns ``d`` (dataset number),
    ``m`` (model number), ``position`` (in the model's grid) and ``q`` (a run's quality,
    standard normal); the tests plant their scores on them."""
    rows = [{"dataset": dataset, "model": model, column: first * 2.0 ** position,
             "seed": s, "state": "done", "d": d, "m": m, "position": position}
            for d, dataset in enumerate(datasets)
            for m, (model, (column, first)) in enumerate(MODELS.items())
            for position in range(strengths) for s in range(seeds)]
    table = pd.DataFrame(rows)[["dataset", "model", "beta", "gamma", "seed", "state", "d",
                                "m", "position"]]
    return table.assign(q=np.random.default_rng(seed).standard_normal(len(table)))


def noise(table: pd.DataFrame, scale: float = 1.0, seed: int = 1) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(len(table))


def with_metrics(table: pd.DataFrame, values) -> pd.DataFrame:
    """Every metric column set to ``values`` plus its own noise of sd 0.1."""
    return table.assign(**{column: values + noise(table, 0.1, seed=i)
                           for i, column in enumerate(METRICS.values())})


# -- the record --------------------------------------------------------------------------------


def test_decide_reads_the_interval_against_the_threshold():
    assert decide(0.1, 0.2, 0.3, "<") == AGREES
    assert decide(0.4, 0.5, 0.3, "<") == DISAGREES
    assert decide(0.4, 0.5, 0.3, ">") == AGREES
    assert decide(0.1, 0.2, 0.3, ">") == DISAGREES
    assert decide(0.2, 0.4, 0.3, ">") == UNDECIDED  # the interval contains the threshold
    assert decide(0.3, 0.4, 0.3, ">") == UNDECIDED  # touching it is not beyond it
    assert decide(0.4, 0.5, 0.3, ">", enough=False) == UNDECIDED
    assert decide(np.nan, 0.5, 0.3, ">") == UNDECIDED
    with pytest.raises(ValueError, match="paper_side must be"):
        decide(0.1, 0.2, 0.3, "<=")


def test_the_text_line_shows_value_interval_runs_and_threshold():
    verdict = Verdict(AGREES, "mean rho", -0.4567, -0.61, -0.3, 0.0, "<", 120, "4 cells")
    assert verdict.text() == "mean rho = -0.457 [-0.61, -0.3], 120 runs; paper: < 0; 4 cells"
    empty = Verdict(UNDECIDED, "mean rho", np.nan, np.nan, np.nan, 0.5, ">", 0)
    assert empty.text() == "mean rho = n/a, 0 runs; paper: > 0.5"


# -- the stratified bootstrap ------------------------------------------------------------------


def test_stratified_resamples_stay_in_their_strata():
    indices = stratified_indices([2, 3, 1], 500, seed=0)
    assert indices.shape == (500, 6)
    assert set(indices[:, :2].ravel()) == {0, 1}
    assert set(indices[:, 2:5].ravel()) == {2, 3, 4}
    assert set(indices[:, 5]) == {5}
    np.testing.assert_array_equal(indices, stratified_indices([2, 3, 1], 500, seed=0))
    with pytest.raises(ValueError, match="every stratum needs a run"):
        stratified_indices([2, 0], 10, seed=0)


def test_weighted_ranks_give_the_spearman_rho_of_the_resampled_runs():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, 40).astype(float)  # many ties
    y = x + rng.standard_normal(40)
    y[5] = np.nan
    indices = stratified_indices([40], 6, seed=1)
    rho = resampled_spearman(np.c_[x, y], [(0, 1)], resample_counts(indices, 0, 40))[:, 0]
    for r, drawn in enumerate(indices):
        keep = np.isfinite(y[drawn])
        rx, ry = rankdata(x[drawn][keep]), rankdata(y[drawn][keep])
        assert rho[r] == pytest.approx(np.corrcoef(rx, ry)[0, 1], abs=1e-5)


# -- 1. decorrelation --------------------------------------------------------------------------


def decorrelating(seeds: int, sign: float) -> pd.DataFrame:
    table = study(seeds)
    return table.assign(**{TC_SAMPLED: sign * table["position"] + noise(table, 0.3)})


def test_decorrelation_both_ways_at_large_n():
    falls = verdicts.decorrelation(decorrelating(10, -1.0), **FAST)
    assert falls.word == AGREES and falls.high < -0.8 and falls.n == 120
    assert falls.low <= falls.value <= falls.high
    assert verdicts.decorrelation(decorrelating(10, 1.0), **FAST).word == DISAGREES


def test_decorrelation_with_three_runs_per_cell_is_undecided():
    verdict = verdicts.decorrelation(decorrelating(1, -1.0), **FAST)
    assert verdict.word == UNDECIDED and np.isnan(verdict.value)
    assert "no (dataset, model) has 5 runs" in verdict.note


# -- 2. metric agreement -----------------------------------------------------------------------


def agreeing(seeds: int, strong: bool, strengths: int = 3) -> pd.DataFrame:
    table = study(seeds, strengths=strengths)
    partner = table["q"] if strong else noise(table, seed=7)
    return table.assign(**{METRICS["BetaVAE"]: table["q"] + noise(table, 0.3, 2),
                           METRICS["FactorVAE"]: partner + noise(table, 0.3, 3),
                           METRICS["MIG"]: table["q"] + noise(table, 0.3, 4),
                           METRICS["DCI"]: partner + noise(table, 0.3, 5)})


def test_metric_agreement_both_ways_at_large_n():
    strong = verdicts.metric_agreement(agreeing(10, True), **FAST)
    assert strong.word == AGREES and strong.low > 0.8
    assert "4 (dataset, pair) cell(s) counted" in strong.note
    assert verdicts.metric_agreement(agreeing(10, False), **FAST).word == DISAGREES


def test_metric_agreement_with_four_runs_per_dataset_is_undecided():
    verdict = verdicts.metric_agreement(agreeing(1, True, strengths=2), **FAST)
    assert verdict.word == UNDECIDED and "no (dataset, pair) has 5 runs" in verdict.note


# -- 3a. metrics by model ----------------------------------------------------------------------


def by_model(seeds: int, effect: float) -> pd.DataFrame:
    table = study(seeds)
    return with_metrics(table, effect * table["m"] + table["q"])


def test_metric_distributions_both_ways_at_large_n():
    assert verdicts.metric_distributions(by_model(10, 0.0), **FAST).word == AGREES
    decisive = verdicts.metric_distributions(by_model(10, 5.0), **FAST)
    assert decisive.word == DISAGREES and decisive.low > 0.8


def test_metric_distributions_adjusts_for_the_number_of_models():
    # no model effect, 4 runs per model: plain eta^2 expects (k - 1) / (N - 1) > 0, the
    # adjusted share is near 0 on average over the 12 (dataset, metric) cells
    table = study(2, strengths=2)
    verdict = verdicts.metric_distributions(with_metrics(table, table["q"]), **FAST)
    assert abs(verdict.value) < 0.1


def test_metric_distributions_with_three_runs_per_model_is_undecided():
    verdict = verdicts.metric_distributions(by_model(1, 5.0), **FAST)
    assert verdict.word == UNDECIDED and "2 models with >= 4 runs" in verdict.note


# -- 3b. seeds against strengths ---------------------------------------------------------------


def over_seeds(seeds: int, effect: float, datasets=("alpha", "beta")) -> pd.DataFrame:
    table = study(seeds, datasets=datasets, strengths=4)
    return with_metrics(table, effect * table["position"] + table["q"])


def test_seed_variation_both_ways_at_large_n():
    overlapping = verdicts.seed_variation(over_seeds(10, 0.0), **FAST)
    assert overlapping.word == AGREES and overlapping.n == 40  # factor_vae on alpha
    assert overlapping.statistic.endswith("FactorVAE of factor_vae on alpha")
    separated = verdicts.seed_variation(over_seeds(10, 20.0), **FAST)
    assert separated.word == DISAGREES and separated.high == 0.0


def test_seed_variation_takes_cars3d_when_present():
    verdict = verdicts.seed_variation(over_seeds(10, 0.0, ("alpha", "cars3d")), **FAST)
    assert verdict.statistic.endswith("on cars3d")


def test_seed_variation_with_three_seeds_per_strength_is_undecided():
    verdict = verdicts.seed_variation(over_seeds(3, 20.0), **FAST)
    assert verdict.word == UNDECIDED and ">= 4 seeds" in verdict.note


# -- 4. hyperparameter against datasets --------------------------------------------------------


def best_at(seeds: int, best_per_dataset, delta: float = 1.0, scale: float = 0.1,
            strengths: int = 3, seed: int = 20) -> pd.DataFrame:
    """Every metric peaks at grid position ``best_per_dataset[d]`` on dataset d, falling by
    ``delta`` per position away from it, plus independent noise of sd ``scale``."""
    datasets = [f"d{i}" for i in range(len(best_per_dataset))]
    table = study(seeds, datasets=datasets, strengths=strengths)
    peak = -delta * np.abs(table["position"] - np.asarray(best_per_dataset)[table["d"]])
    return table.assign(**{column: peak + noise(table, scale, seed + i)
                           for i, column in enumerate(METRICS.values())})


def test_hyperparameter_effect_both_ways_at_large_n():
    moving = verdicts.hyperparameter_effect(best_at(10, [0, 2]), **FAST)
    assert moving.word == AGREES and moving.high == 0.0
    fixed = verdicts.hyperparameter_effect(best_at(10, [2, 2]), **FAST)
    assert fixed.word == DISAGREES and fixed.low == 1.0
    assert "12 (model, metric) pair(s) counted" in fixed.note


def test_a_winner_among_nearly_tied_strengths_is_not_read_as_no_winner():
    # the same strength wins on six datasets, by less than the noise of the medians: the
    # share of consistent bests is near 0 and so is a percentile interval of it (a false
    # Agrees); the confidence sets of the best strengths overlap instead
    table = best_at(20, [5] * 6, delta=0.3, scale=1.0, strengths=6)
    verdict = verdicts.hyperparameter_effect(table, **FAST)
    assert verdict.value < 0.5 and verdict.high == 1.0 and verdict.word == UNDECIDED


def test_hyperparameter_effect_with_three_seeds_is_undecided():
    verdict = verdicts.hyperparameter_effect(best_at(3, [0, 2]), **FAST)
    assert verdict.word == UNDECIDED and "2 strengths with >= 4 seeds" in verdict.note


# -- 5. unsupervised scores against the metrics ------------------------------------------------


def tracking(seeds: int, tracks: bool, strengths: int = 3) -> pd.DataFrame:
    table = study(seeds, strengths=strengths)
    table = with_metrics(table, table["q"])
    kl = table["q"] if tracks else noise(table, seed=8)
    return table.assign(**{UNSUPERVISED["KL"]: kl + noise(table, 0.3, 9),
                           UNSUPERVISED["reconstruction"]: noise(table, seed=10)})


def test_unsupervised_vs_metrics_both_ways_at_large_n():
    tracked = verdicts.unsupervised_vs_metrics(tracking(20, True), **FAST)
    assert tracked.word == DISAGREES and tracked.low > 0.8
    assert "largest: KL ~" in tracked.note
    assert verdicts.unsupervised_vs_metrics(tracking(20, False), **FAST).word == AGREES


def test_the_largest_of_many_noisy_correlations_is_not_a_tracking_score():
    # pure noise, 12 runs per dataset: the largest weakest |rho| of the 12 pairs is about 0.3
    # by chance; the Bonferroni intervals keep it from a (false) Disagrees
    verdict = verdicts.unsupervised_vs_metrics(tracking(2, False), **FAST)
    assert verdict.word == UNDECIDED and verdict.n == 24


def test_unsupervised_vs_metrics_with_four_runs_per_dataset_is_undecided():
    verdict = verdicts.unsupervised_vs_metrics(tracking(1, True, strengths=2), **FAST)
    assert verdict.word == UNDECIDED and "second dataset with >= 5 runs" in verdict.note


# -- 6. transfer of model selection ------------------------------------------------------------


def transferring(seeds: int, same_order: bool) -> pd.DataFrame:
    """Scores follow the configuration (q = its place in 0..5) with little seed noise; on the
    second dataset in the same order or the reverse one."""
    table = study(seeds)
    quality = table["position"] + 3 * table["m"]
    if not same_order:
        quality = quality.where(table["d"] == 0, 5 - quality)
    return with_metrics(table, quality)


def test_selection_transfer_both_ways_at_large_n():
    reversed_ = verdicts.selection_transfer(transferring(10, False), **FAST)
    assert reversed_.word == AGREES and reversed_.high < 0.3
    same = verdicts.selection_transfer(transferring(10, True), **FAST)
    assert same.word == DISAGREES and same.value == pytest.approx(11 / 12, abs=0.02)


def test_selection_transfer_with_three_seeds_is_undecided():
    verdict = verdicts.selection_transfer(transferring(3, True), **FAST)
    assert verdict.word == UNDECIDED and ">= 4 seeds" in verdict.note


# -- 7. downstream sample efficiency -----------------------------------------------------------


def downstream(seeds: int, efficient: bool, strengths: int = 3) -> pd.DataFrame:
    table = study(seeds, strengths=strengths)
    table = with_metrics(table, table["q"])
    driver = table["q"] if efficient else noise(table, seed=11)
    return table.assign(**{f"{LR}.10000:mean_test_accuracy": 0.9,
                           f"{LR}.100:mean_test_accuracy": 0.6 + 0.05 * driver})


def test_downstream_vs_metrics_both_ways_at_large_n():
    assert verdicts.downstream_vs_metrics(downstream(10, False), **FAST).word == AGREES
    efficient = verdicts.downstream_vs_metrics(downstream(10, True), **FAST)
    assert efficient.word == DISAGREES and efficient.low > 0.8
    assert "12 (dataset, predictor, metric) cell(s) counted" in efficient.note


def test_downstream_vs_metrics_with_four_runs_per_dataset_is_undecided():
    verdict = verdicts.downstream_vs_metrics(downstream(1, True, strengths=2), **FAST)
    assert verdict.word == UNDECIDED and "has 5 runs" in verdict.note


# -- across datasets, seeds, missing scores ----------------------------------------------------


@pytest.mark.parametrize("verdict, table", [
    (verdicts.hyperparameter_effect, best_at(10, [2])),
    (verdicts.unsupervised_vs_metrics, tracking(20, True).query("d == 0")),
    (verdicts.selection_transfer, transferring(10, True).query("d == 0")),
])
def test_cross_dataset_findings_need_a_second_dataset(verdict, table):
    found = verdict(table, **FAST)
    assert found.word == UNDECIDED and "second dataset" in found.note


def test_the_interval_is_seeded():
    table = decorrelating(10, -0.2)
    first = verdicts.decorrelation(table, seed=3, **FAST)
    assert verdicts.decorrelation(table, seed=3, **FAST) == first
    assert verdicts.decorrelation(table, seed=4, **FAST).low != first.low


def test_a_table_without_scores_is_undecided_everywhere():
    bare = study(10)
    for verdict in (verdicts.decorrelation, verdicts.metric_agreement,
                    verdicts.metric_distributions, verdicts.seed_variation,
                    verdicts.hyperparameter_effect, verdicts.unsupervised_vs_metrics,
                    verdicts.selection_transfer, verdicts.downstream_vs_metrics):
        found = verdict(bare, **FAST)
        assert found.word == UNDECIDED and found.n == 0 and found.note, verdict.__name__
