"""Whether a study agrees with each finding of Locatello et al. (ICML 2019), decided by 95%
intervals only: one :class:`Verdict` per finding, computed from the study table.

Each finding is a claim that one statistic lies on one side of a threshold (the smallest
effect that matters, e.g. a rank correlation of 0.5 for "strongly correlated"). The statistic
is computed on the finished runs (:func:`~dislab.analysis.columns.done_runs`) and on seeded
bootstrap resamples of them, and :func:`decide` reads its 95% percentile interval
(:func:`~dislab.analysis.stats.percentile_interval`):

- **Agrees** when the whole interval lies on the paper's side of the threshold,
- **Disagrees** when it lies entirely on the other side,
- **Undecided** otherwise: the interval contains the threshold, or the study lacks the
  runs the statistic needs (the verdict's note says what is missing).

The bootstrap is stratified: each resample redraws the runs of every cell (a dataset, a
(dataset, model), a regularisation strength: whatever the statistic compares) with
replacement, keeping the cell's size (:func:`~dislab.analysis.stats.stratified_indices`),
and the statistic is recomputed on every resample, any "best" choice included. Two
statistics pick the best of many noisy candidates, where the percentile interval of the
pick is biased (it is recomputed among near ties on every resample); their rules say how
their interval is formed instead: :func:`unsupervised_vs_metrics` (the largest of many
correlations: Bonferroni intervals per pair) and :func:`hyperparameter_effect` (the best
strength per dataset: confidence sets of it).

Minimum sizes: a cell with fewer runs than its minimum is not counted, because a percentile
bootstrap of very few runs is overconfident (3 runs of one group all above 3 of another give
an interval above 0 in every resample, while an exact rank test on them gives p = 0.1). The
minimum is the smallest size at which an exact two-sided rank test of perfectly separated (or
perfectly ordered) runs reaches 5%: :data:`MIN_GROUP` runs per group for a comparison of
groups (seeds per strength, runs per model; Mann-Whitney, 4 vs 4: p = 2/70),
:data:`MIN_CORRELATION` runs for a rank correlation (Spearman, 5 runs: p = 2/120). With no
counted cell, the verdict is Undecided.

The weakly-supervised findings (Locatello et al., ICML 2020) use the same record and
minimum sizes (:mod:`dislab.analysis.weak`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from dislab.analysis import scores, transfer
from dislab.analysis.columns import (
    METRICS,
    TC_SAMPLED,
    UNSUPERVISED,
    available,
    done_runs,
    is_efficiency_label,
)
from dislab.analysis.correlation import downstream_scores
from dislab.analysis.stats import (
    LEVEL,
    NUM_RESAMPLES,
    bias_corrected_interval,
    percentile_interval,
    resample_counts,
    resampled_spearman,
    stratified_bootstrap,
)

AGREES, DISAGREES, UNDECIDED = "Agrees", "Disagrees", "Undecided"
MIN_GROUP = 4  # runs per group: 4 vs 4 perfectly separated gives p = 2/70 (Mann-Whitney)
MIN_CORRELATION = 5  # runs: 5 perfectly ordered give p = 2/120 (Spearman, exact)


@dataclass(frozen=True)
class Verdict:
    """A study's verdict on one finding: ``word`` from :func:`decide` on the 95% interval
    ``[low, high]`` of ``value``, the ``statistic`` computed over ``n`` runs; the paper's
    claim is ``value <paper_side> threshold``."""

    word: str  # AGREES / DISAGREES / UNDECIDED
    statistic: str  # what is measured, in words
    value: float  # NaN when it cannot be computed
    low: float  # 95% interval (NaN when none)
    high: float
    threshold: float
    paper_side: str  # "<" or ">"
    n: int  # runs that entered the statistic
    note: str = ""  # why Undecided (too few runs, needs 2 datasets, ...) or extra detail

    def text(self) -> str:
        """One line: ``statistic = value [low, high], n runs; paper: <side> threshold;
        note``."""
        value = f"{self.value:.3g}" if np.isfinite(self.value) else "n/a"
        if np.isfinite(self.low) and np.isfinite(self.high):
            value += f" [{self.low:.3g}, {self.high:.3g}]"
        line = (f"{self.statistic} = {value}, {self.n} runs; "
                f"paper: {self.paper_side} {self.threshold:g}")
        return f"{line}; {self.note}" if self.note else line


def decide(low: float, high: float, threshold: float, paper_side: str,
           enough: bool = True) -> str:
    """Agrees when ``[low, high]`` lies entirely on the paper's side of ``threshold``
    (``paper_side`` ``"<"``: below it, ``">"``: above it), Disagrees when entirely on the
    other side, Undecided otherwise, when not ``enough`` runs, or for a NaN interval."""
    if paper_side not in ("<", ">"):
        raise ValueError(f"paper_side must be '<' or '>', got {paper_side!r}")
    if not enough or not (np.isfinite(low) and np.isfinite(high)):
        return UNDECIDED
    below, above = high < threshold, low > threshold
    if below or above:
        return AGREES if below == (paper_side == "<") else DISAGREES
    return UNDECIDED


@dataclass(frozen=True)
class _Claim:
    """What a finding measures and where the paper puts it."""

    statistic: str
    threshold: float
    paper_side: str

    def rule(self, how: str) -> str:
        """The one-line rule: how the statistic is computed, then how it decides."""
        side, other = ("below", "above") if self.paper_side == "<" else ("above", "below")
        return (f"{how} Agrees when its 95% bootstrap interval lies entirely {side} "
                f"{self.threshold:g}, Disagrees when entirely {other}, otherwise Undecided.")

    def verdict(self, value: float, low: float, high: float, n: int, note: str = "",
                word: str | None = None) -> Verdict:
        """The verdict of :func:`decide` on ``[low, high]``, or ``word`` when given."""
        word = word or decide(low, high, self.threshold, self.paper_side)
        if np.isfinite(value) and not (np.isfinite(low) and np.isfinite(high)):
            note = "; ".join(filter(None, [note, "no reliable interval at this size (the "
                                                 "resamples do not surround the estimate)"]))
        return Verdict(word, self.statistic, float(value), float(low), float(high),
                       self.threshold, self.paper_side, int(n), note)

    def undecided(self, note: str) -> Verdict:
        """Undecided without a value: the study lacks what the statistic needs."""
        return self.verdict(np.nan, np.nan, np.nan, 0, note, word=UNDECIDED)


# -- cells and the stratified bootstrap --------------------------------------------------------


@dataclass(frozen=True)
class _Strata:
    """Runs sorted so that each stratum (a value of ``by``) is a consecutive block."""

    runs: pd.DataFrame
    by: tuple[str, ...]
    keys: list[tuple]
    bounds: np.ndarray  # block k is runs[bounds[k]:bounds[k + 1]]

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.bounds)

    def blocks(self):
        return zip(self.bounds[:-1], self.bounds[1:])

    def block_sums(self, values: np.ndarray, axis: int = 0) -> np.ndarray:
        """Sums of ``values`` (one entry per run along ``axis``) over each block."""
        return np.add.reduceat(values, self.bounds[:-1], axis=axis)

    def first_of_outer(self) -> np.ndarray:
        """The blocks that start a new value of the first key (e.g. a new dataset)."""
        outer = [key[0] for key in self.keys]
        return np.flatnonzero([i == 0 or outer[i] != outer[i - 1] for i in range(len(outer))])

    def select(self, keep: np.ndarray) -> _Strata:
        """The strata whose entry of ``keep`` is true."""
        return _stratify(self.runs[np.repeat(keep, self.sizes)], list(self.by))


def _stratify(runs: pd.DataFrame, by: list[str]) -> _Strata:
    runs = runs.dropna(subset=by).sort_values(by, kind="stable").reset_index(drop=True)
    sizes = runs.groupby(by, sort=True).size()
    keys = [key if isinstance(key, tuple) else (key,) for key in sizes.index]
    return _Strata(runs, tuple(by), keys, np.r_[0, np.cumsum(sizes.to_numpy())])


def _interval(resampled: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    return percentile_interval(np.asarray(resampled, dtype=float), level)


def _bootstrap(claim: _Claim, strata: _Strata, statistic, seed: int, num_resamples: int,
               note: str = "", bias_corrected: bool = False) -> Verdict:
    """The verdict on ``statistic(indices) -> (resamples,)`` over stratified resamples: the
    percentile interval of the resampled statistic, or with ``bias_corrected`` Efron's
    bias-corrected percentile interval (:func:`dislab.analysis.stats.bias_corrected_interval`)
    for a statistic that resampling itself biases."""
    value, resampled = stratified_bootstrap(statistic, strata.sizes, seed, num_resamples)
    interval = (bias_corrected_interval(resampled, value) if bias_corrected
                else _interval(resampled))
    return claim.verdict(value, *interval, len(strata.runs), note)


def _nanmean(values: np.ndarray, axis) -> np.ndarray:
    """The mean of the finite entries (NaN where there is none), without warnings."""
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, values, 0).sum(axis) / finite.sum(axis)


def _complete(strata: _Strata, pairs: list[tuple[str, str]]) -> np.ndarray:
    """Runs with both columns finite, per (stratum, pair)."""
    both = np.stack([strata.runs[x].notna() & strata.runs[y].notna() for x, y in pairs], 1)
    return strata.block_sums(both.astype(int))


def _correlations(strata: _Strata, pairs: list[tuple[str, str]],
                  indices: np.ndarray) -> np.ndarray:
    """Spearman's rho of each pair of columns within each stratum, on each resample:
    ``(resamples, strata, pairs)``."""
    columns = list(dict.fromkeys(column for pair in pairs for column in pair))
    values = strata.runs[columns].to_numpy(dtype=float)
    positions = [(columns.index(x), columns.index(y)) for x, y in pairs]
    return np.stack([resampled_spearman(values[start:stop], positions,
                                        resample_counts(indices, start, stop))
                     for start, stop in strata.blocks()], axis=1)


def _mean_correlation(claim: _Claim, runs: pd.DataFrame, by: list[str],
                      pairs: list[tuple[str, str]], cell: str, seed: int, num_resamples: int,
                      what: str = "runs with both scores") -> Verdict:
    """Mean rho over the (stratum, pair) cells with >= MIN_CORRELATION complete runs."""
    strata = _stratify(runs, by)
    counted = _complete(strata, pairs) >= MIN_CORRELATION
    if not counted.any():
        return claim.undecided(f"no {cell} has {MIN_CORRELATION} {what}")
    strata, counted = strata.select(counted.any(1)), counted[counted.any(1)]

    def statistic(indices):
        rho = _correlations(strata, pairs, indices)
        return _nanmean(np.where(counted, rho, np.nan), axis=(1, 2))

    return _bootstrap(claim, strata, statistic, seed, num_resamples,
                      f"{int(counted.sum())} {cell} cell(s) counted")


# -- 1. the regulariser decorrelates the sampled representation --------------------------------

_DECORRELATION = _Claim("mean Spearman rho(strength, sampled TC) over (dataset, model)", 0.0,
                        "<")
DECORRELATION_RULE = _DECORRELATION.rule(
    "Spearman's rho of the regularisation strength against the Gaussian total correlation "
    f"of the sampled representation per (dataset, model) with >= {MIN_CORRELATION} runs over "
    ">= 2 strengths, averaged (runs resampled within each cell); any consistent fall "
    "(a mean below 0) is the finding.")


def decorrelation(table: pd.DataFrame, *, seed: int = 0,
                  num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """Sampled TC falls as the regularisation grows: ``mean_{(d, m)} rho_dm(strength, TC)``
    over the (dataset, model) cells with >= :data:`MIN_CORRELATION` runs and >= 2 strengths;
    paper: < 0."""
    runs = done_runs(table).dropna(subset=["strength"])
    if TC_SAMPLED not in runs or runs[TC_SAMPLED].isna().all():
        return _DECORRELATION.undecided(f"no run has the sampled TC ({TC_SAMPLED})")
    runs = runs.dropna(subset=[TC_SAMPLED])
    runs = runs[runs.groupby(["dataset", "model"])["strength"].transform("nunique") >= 2]
    return _mean_correlation(_DECORRELATION, runs, ["dataset", "model"],
                             [("strength", TC_SAMPLED)], "(dataset, model)", seed,
                             num_resamples, "runs with the sampled TC over >= 2 strengths")


# -- 2. strongly correlated metric pairs -------------------------------------------------------

STRONG_PAIRS = (("BetaVAE", "FactorVAE"), ("MIG", "DCI"))
_METRIC_AGREEMENT = _Claim("mean Spearman rho of BetaVAE-FactorVAE and MIG-DCI over "
                           "(dataset, pair)", 0.5, ">")
METRIC_AGREEMENT_RULE = _METRIC_AGREEMENT.rule(
    "Spearman's rho of BetaVAE with FactorVAE and of MIG with DCI Disentanglement per dataset "
    f"with >= {MIN_CORRELATION} runs, averaged (runs resampled within each dataset); 0.5 is "
    "a strong correlation.")


def metric_agreement(table: pd.DataFrame, *, seed: int = 0,
                     num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """BetaVAE-FactorVAE and MIG-DCI correlate strongly: ``mean_{(d, pair)} rho_d(pair)``
    over the cells with >= :data:`MIN_CORRELATION` runs; paper: > 0.5."""
    runs = done_runs(table)
    metrics = available(runs, METRICS)
    pairs = [(metrics[x], metrics[y]) for x, y in STRONG_PAIRS if x in metrics and y in metrics]
    if not pairs:
        return _METRIC_AGREEMENT.undecided("the study lacks both BetaVAE/FactorVAE and MIG/DCI")
    return _mean_correlation(_METRIC_AGREEMENT, runs, ["dataset"], pairs, "(dataset, pair)",
                             seed, num_resamples)


# -- 3a. the model explains less than the hyperparameter and the seed --------------------------

_METRIC_DISTRIBUTIONS = _Claim("mean share of a metric's variance explained by the model "
                               "(adjusted eta^2) over (dataset, metric)", 0.5, "<")
METRIC_DISTRIBUTIONS_RULE = _METRIC_DISTRIBUTIONS.rule(
    "Per (dataset, metric) whose every model has >= "
    f"{MIN_GROUP} runs (>= 2 models): the model's share of the variance, adjusted for the "
    "number of models (epsilon^2 = (SS_between - (k - 1) MS_within) / SS_total; plain eta^2 "
    "expects (k - 1) / (N - 1) with no model effect at all, 0.22 for 6 models of 4 runs), "
    "averaged (runs resampled within each (dataset, model); the bias-corrected percentile "
    "interval, because duplicated runs in a resample inflate the share); the model explaining "
    "half the "
    "variance is the meaningful effect.")


def metric_distributions(table: pd.DataFrame, *, seed: int = 0,
                         num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """The objective matters less than hyperparameter and seed: the mean over (dataset,
    metric) of ``epsilon^2 = (SS_b - (k - 1) SS_w / (N - k)) / SS_t`` with ``SS_b =
    sum_models n_m (mean_m - mean)^2``, ``SS_w = SS_t - SS_b``, k models and N runs (eta^2 of
    :func:`dislab.analysis.scores.metric_distributions`, less its expectation without an
    effect); paper: < 0.5."""
    runs = done_runs(table)
    columns = list(available(runs, METRICS).values())
    if not columns:
        return _METRIC_DISTRIBUTIONS.undecided("no run has any of the six metrics")
    strata = _stratify(runs, ["dataset", "model"])
    per_model = strata.block_sums(strata.runs[columns].notna().to_numpy().astype(int))
    first = strata.first_of_outer()
    small = np.add.reduceat(((per_model > 0) & (per_model < MIN_GROUP)).astype(int), first)
    models = np.add.reduceat((per_model > 0).astype(int), first)
    counted = (small == 0) & (models >= 2)  # (datasets, metrics)
    if not counted.any():
        return _METRIC_DISTRIBUTIONS.undecided(
            f"no (dataset, metric) has 2 models with >= {MIN_GROUP} runs each")
    strata = strata.select(np.repeat(counted.any(1), np.diff(np.r_[first, len(per_model)])))
    counted = counted[counted.any(1)]
    values = strata.runs[columns].to_numpy(dtype=float)

    def statistic(indices):
        share = _model_share(strata, values, indices)
        return _nanmean(np.where(counted, share, np.nan), axis=(1, 2))

    return _bootstrap(_METRIC_DISTRIBUTIONS, strata, statistic, seed, num_resamples,
                      f"{int(counted.sum())} (dataset, metric) cell(s) counted",
                      bias_corrected=True)


def _model_share(strata: _Strata, values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """epsilon^2 of the model per (dataset, metric) on each resample, from the drawn runs'
    count, sum and sum of squares per (dataset, model): ``(resamples, datasets, metrics)``."""
    finite = np.isfinite(values)
    first = strata.first_of_outer()
    centre = _nanmean(values, axis=0)  # a shift leaves every sum of squares unchanged
    shifted = np.where(finite, values - centre, 0.0)
    sums = []
    for start, stop in strata.blocks():
        counts = resample_counts(indices, start, stop)
        sums.append([counts.T @ finite[start:stop], counts.T @ shifted[start:stop],
                     counts.T @ shifted[start:stop] ** 2])
    n, total, squares = (np.stack(s, axis=1) for s in zip(*sums))  # (resamples, models, M)
    with np.errstate(invalid="ignore", divide="ignore"):
        between_means = np.where(n > 0, total ** 2 / n, 0.0)
        n_d, total_d, squares_d, means_d, k = (
            np.add.reduceat(a, first, axis=1)
            for a in (n, total, squares, between_means, (n > 0).astype(float)))
        ss_total = squares_d - total_d ** 2 / n_d
        ss_between = means_d - total_d ** 2 / n_d
        ss_within = ss_total - ss_between
        share = (ss_between - (k - 1) * ss_within / (n_d - k)) / ss_total
    return np.where(ss_total > 0, share, np.nan)


# -- 3b. a good seed with a bad hyperparameter beats a bad seed with a good one ----------------

_SEED_VARIATION = _Claim("P(a run at another strength beats one at the best strength)",
                         0.05, ">")
SEED_VARIATION_RULE = _SEED_VARIATION.rule(
    f"For {scores.SEED_METRIC} of {scores.SEED_MODEL} on {scores.SEED_DATASET} (or the first "
    f"dataset), strengths with >= {MIN_GROUP} seeds (>= 2 strengths): the probability that a "
    "run at another strength scores above a run at the best strength by median (ties count "
    "one half), the best strength chosen again in every resample (seeds resampled within "
    "each strength); an overlap above 5% is not negligible.")


def seed_variation(table: pd.DataFrame, *, seed: int = 0,
                   num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """A good seed with a bad hyperparameter can beat a bad seed with a good one:
    ``P(x_other > x_best) = 1 - U_best / (n_best n_other)`` with ``U_best = R_best -
    n_best (n_best + 1) / 2`` the Mann-Whitney count of (best, other) pairs the best run wins
    (``R_best``: the best strength's rank sum among all runs, average ranks), for the model
    and dataset of :func:`dislab.analysis.scores.seed_variation`; paper: > 0.05."""
    runs = done_runs(table)
    column = METRICS[scores.SEED_METRIC]
    dataset = scores.seed_dataset(runs) if len(runs) else scores.SEED_DATASET
    claim = replace(_SEED_VARIATION, statistic=f"{_SEED_VARIATION.statistic}, "
                    f"{scores.SEED_METRIC} of {scores.SEED_MODEL} on {dataset}")
    subset = runs[(runs["dataset"] == dataset) & (runs["model"] == scores.SEED_MODEL)]
    subset = subset.dropna(subset=["strength", column]) if column in subset else subset[:0]
    strata = _stratify(subset, ["strength"])
    strata = strata.select(strata.sizes >= MIN_GROUP)
    if len(strata.keys) < 2:
        return claim.undecided(f"needs 2 strengths of {scores.SEED_MODEL} on {dataset} with "
                               f">= {MIN_GROUP} seeds and the {scores.SEED_METRIC} score")
    values = strata.runs[column].to_numpy(dtype=float)

    def statistic(indices):
        drawn = values[indices]
        medians = np.stack([np.median(drawn[:, start:stop], axis=1)
                            for start, stop in strata.blocks()], axis=1)
        best = medians.argmax(axis=1)
        rank_sums = strata.block_sums(rankdata(drawn, axis=1), axis=1)
        n_best = strata.sizes[best]
        wins = rank_sums[np.arange(len(best)), best] - n_best * (n_best + 1) / 2
        return 1 - wins / (n_best * (len(values) - n_best))

    return _bootstrap(claim, strata, statistic, seed, num_resamples,
                      f"{len(strata.keys)} strengths")


# -- 4. no hyperparameter value wins consistently across datasets ------------------------------

_HYPERPARAMETER_EFFECT = _Claim("share of (model, metric) whose best strength is the same on "
                                "every dataset", 0.5, "<")
HYPERPARAMETER_EFFECT_RULE = _HYPERPARAMETER_EFFECT.rule(
    "Per (dataset, model, metric), among strengths with >= "
    f"{MIN_GROUP} seeds: the strength with the best median over seeds, and its confidence "
    "set: the sample's best and the strengths most often best over the resamples (seeds "
    "resampled within each (dataset, model, strength)) that together are best in 1 - 5% / D "
    "of them, D the datasets compared. The statistic is the share of (model, metric) with a "
    "best strength on >= 2 datasets whose best strength is the same on all of them; its "
    "interval runs from the share whose sets are one and the same strength on every dataset "
    "to the share whose sets have a strength in common. (A percentile interval of the share "
    "is ill-posed: among nearly tied medians every resample re-chooses the best and the "
    "share falls with the noise, to [0, 0.25] for a strength that wins on six datasets by 0.3 "
    "seed standard deviations.) A value winning for half the (model, metric) is a consistent "
    "winner.")


def hyperparameter_effect(table: pd.DataFrame, *, seed: int = 0,
                          num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """No hyperparameter value wins consistently across datasets: ``mean_{(model, metric)}
    [argmax_s median_d(s) is the same s for every dataset d]`` over the (model, metric) with a
    best strength on >= 2 datasets (>= 2 strengths of >= :data:`MIN_GROUP` seeds each);
    interval ``[mean certain, mean possible]``, where a (model, metric) is certainly
    consistent when every dataset's confidence set of its best strength (see
    :data:`HYPERPARAMETER_EFFECT_RULE`) is the same single strength, possibly consistent when
    the sets have a strength in common; paper: < 0.5."""
    runs = done_runs(table).dropna(subset=["strength"])
    columns = list(available(runs, METRICS).values())
    if runs["dataset"].nunique() < 2 or not columns:
        return _HYPERPARAMETER_EFFECT.undecided(
            "needs a second dataset (and the metrics) to tell whether a value wins on every "
            "dataset")
    strata = _stratify(runs, ["model", "dataset", "strength"])
    values = strata.runs[columns].to_numpy(dtype=float)
    counted = strata.block_sums(np.isfinite(values).astype(int)) >= MIN_GROUP  # (cells, M)
    groups = _strength_groups(strata, counted)
    if not any(_compared(groups, model).any() for model in {g[0] for g in groups}):
        return _HYPERPARAMETER_EFFECT.undecided(
            f"no (model, metric) has 2 strengths with >= {MIN_GROUP} seeds on each of 2 "
            "datasets")
    strengths = np.array([key[2] for key in strata.keys])

    def statistic(indices):  # the best strength per (resample, (model, dataset), metric)
        medians = np.stack([_nanmedian(values[indices[:, start:stop]])
                            for start, stop in strata.blocks()], axis=1)
        medians = np.where(counted & np.isfinite(medians), medians, -np.inf)
        return np.stack([np.where(valid, strengths[np.array(cells)[
            medians[:, cells].argmax(axis=1)]], np.nan) for _, cells, valid in groups], 1)

    sample, resampled = stratified_bootstrap(statistic, strata.sizes, seed, num_resamples)
    share = _best_consistency(groups, sample, resampled)
    return _HYPERPARAMETER_EFFECT.verdict(*share.mean(axis=0), len(strata.runs),
                                          f"{len(share)} (model, metric) pair(s) counted")


def _strength_groups(strata: _Strata, counted: np.ndarray) -> list[tuple]:
    """Per (model, dataset): ``(model, block indices of its strengths, valid)``, ``valid``
    per metric: whether >= 2 of its strengths are counted."""
    groups: dict = {}
    for index, (model, dataset, _) in enumerate(strata.keys):
        groups.setdefault((model, dataset), []).append(index)
    return [(model, cells, counted[cells].sum(axis=0) >= 2)
            for (model, _), cells in groups.items()]


def _compared(groups: list[tuple], model: str) -> np.ndarray:
    """Per metric: whether the model has a best strength on >= 2 datasets."""
    return np.sum([valid for m, _, valid in groups if m == model], axis=0) >= 2


def _best_consistency(groups: list[tuple], sample: np.ndarray,
                      resampled: np.ndarray) -> np.ndarray:
    """``(sample consistent, certainly consistent, possibly consistent)`` per compared
    (model, metric), from the best strengths ``sample (groups, metrics)`` and ``resampled
    (resamples, groups, metrics)``, with the confidence sets of the rule."""
    rows = []
    for model in sorted({g[0] for g in groups}):
        members = [i for i, g in enumerate(groups) if g[0] == model]
        for metric in np.flatnonzero(_compared(groups, model)):
            members_m = [i for i in members if groups[i][2][metric]]
            level = 1 - (1 - LEVEL) / len(members_m)  # the datasets' sets hold together
            sets = [_confidence_set(sample[i, metric], resampled[:, i, metric], level)
                    for i in members_m]
            common = set.intersection(*sets)
            rows.append((len({sample[i, metric] for i in members_m}) == 1,
                         len(common) == 1 and all(len(s) == 1 for s in sets), bool(common)))
    return np.array(rows, dtype=float)


def _confidence_set(best: float, resampled: np.ndarray, level: float) -> set[float]:
    """The sample's best strength and the fewest strengths, most often chosen first, that
    are the best in >= ``level`` of the resamples."""
    chosen, counts = np.unique(resampled[np.isfinite(resampled)], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    covered = np.cumsum(counts[order]) / max(counts.sum(), 1)
    kept = order[:int(np.searchsorted(covered, level - 1e-9)) + 1]
    return {float(best), *(float(s) for s in chosen[kept])}


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """The median over axis 1 of the finite entries (NaN where there is none)."""
    ordered = np.sort(values, axis=1)  # NaN last
    count = np.isfinite(values).sum(axis=1, keepdims=True)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=1)
    high = np.take_along_axis(ordered, count // 2, axis=1)
    return np.where(count > 0, (low + high) / 2, np.nan)[:, 0]


# -- 5. no unsupervised score tracks the metrics on every dataset ------------------------------

_UNSUPERVISED = _Claim("largest |rho|(score, metric) with the same sign on every dataset (its "
                       "weakest), over (score, metric)", 0.3, "<")
UNSUPERVISED_RULE = _UNSUPERVISED.rule(
    "Per (unsupervised score, metric) with >= 2 datasets of >= "
    f"{MIN_CORRELATION} runs: r = min over datasets of |Spearman rho| when the signs agree, "
    "else 0 (a score that falls with the metric tracks it as well as one that rises); the "
    "statistic is the largest r, its interval the largest of the pairs' intervals at "
    "Bonferroni level 1 - 0.05 / pairs (runs resampled within each dataset), because the "
    "largest of many noisy correlations is biased upwards; |rho| >= 0.3 on every dataset is "
    "a score that tracks a metric.")


def unsupervised_vs_metrics(table: pd.DataFrame, *, seed: int = 0,
                            num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """No unsupervised score reliably tracks the metrics across datasets: ``max_p r_p`` with
    ``r_p = min_d |rho_d(p)|`` when every ``rho_d(p)`` has the same sign (else 0), over the
    (score, metric) pairs p with >= 2 datasets of >= :data:`MIN_CORRELATION` runs. The
    interval ``[max_p low_p, max_p high_p]`` holds ``max_p r_p`` whenever every pair's
    Bonferroni interval holds its ``r_p`` (probability >= 95%); paper: < 0.3."""
    runs = done_runs(table)
    metrics, unsupervised = available(runs, METRICS), available(runs, UNSUPERVISED)
    if not metrics or not unsupervised:
        return _UNSUPERVISED.undecided("the study lacks the metrics or the unsupervised scores")
    labels = [(s, m) for s in unsupervised for m in metrics]
    pairs = [(unsupervised[s], metrics[m]) for s, m in labels]
    strata = _stratify(runs, ["dataset"])
    counted = _complete(strata, pairs) >= MIN_CORRELATION  # (datasets, pairs)
    tracked = counted.sum(0) >= 2
    if not tracked.any():
        return _UNSUPERVISED.undecided(
            f"needs a second dataset with >= {MIN_CORRELATION} runs of a score and a metric")
    labels = [label for label, t in zip(labels, tracked) if t]
    pairs = [pair for pair, t in zip(pairs, tracked) if t]
    strata, counted = strata.select(counted[:, tracked].any(1)), counted[:, tracked]
    counted = counted[counted.any(1)]

    def statistic(indices):
        return _weakest_tracking(_correlations(strata, pairs, indices), counted)

    sample, resampled = stratified_bootstrap(statistic, strata.sizes, seed, num_resamples)
    if not np.isfinite(sample).any():
        return _UNSUPERVISED.undecided("every score or metric is constant on a dataset")
    bounds = np.array([_interval(resampled[:, p], 1 - (1 - LEVEL) / len(pairs))
                       for p in range(len(pairs))])
    top = int(np.nanargmax(sample))
    note = (f"{len(pairs)} (score, metric) pair(s) counted; largest: "
            f"{labels[top][0]} ~ {labels[top][1]}")
    return _UNSUPERVISED.verdict(np.nanmax(sample), np.nanmax(bounds[:, 0]),
                                 np.nanmax(bounds[:, 1]), len(strata.runs), note)


def _weakest_tracking(rho: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """``min_d |rho_d|`` over the counted datasets when their signs agree, else 0:
    ``(resamples, pairs)`` from ``rho (resamples, datasets, pairs)``."""
    undefined = (np.isnan(rho) & counted).any(axis=1)  # a constant column in a resample
    rho = np.where(counted, rho, np.nan)
    same_sign = (np.fmin.reduce(rho, axis=1) > 0) | (np.fmax.reduce(rho, axis=1) < 0)
    weakest = np.fmin.reduce(np.abs(rho), axis=1)
    return np.where(undefined, np.nan, np.where(same_sign, weakest, 0.0))


# -- 6. transfer of model selection across datasets --------------------------------------------

ACROSS_DATASETS = "same metric, different dataset"
_TRANSFER = _Claim(f"P(selection beats a random model), {ACROSS_DATASETS}", 0.65, "<")
SELECTION_TRANSFER_RULE = _TRANSFER.rule(
    "The probability that the configuration with the best score on one dataset and seed "
    "beats a random run on another dataset and seed for the same metric "
    f"(dislab.analysis.transfer), with its bootstrap over >= {MIN_GROUP} seeds; 15 points "
    "above random selection (0.5) is meaningful (the paper: 59.3% across datasets, 80.7% "
    "within).")


def selection_transfer(table: pd.DataFrame, *, seed: int = 0,
                       num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """Transfer of model selection across datasets is barely better than chance: the
    probability for "same metric, different dataset" of
    :func:`dislab.analysis.transfer.selection_transfer` with its seed-bootstrap interval;
    paper: < 0.65."""
    runs = done_runs(table)
    columns = list(available(runs, METRICS).values())
    scored = runs[runs[columns].notna().any(axis=1)] if columns else runs[:0]
    if scored["dataset"].nunique() < 2:
        return _TRANSFER.undecided("needs a second dataset with metric scores to select "
                                   "models across datasets")
    if scored["seed"].nunique() < MIN_GROUP:
        return _TRANSFER.undecided(f"needs >= {MIN_GROUP} seeds for the seed bootstrap")
    row = transfer.selection_transfer(table, seed=seed, num_resamples=num_resamples,
                                      settings=(ACROSS_DATASETS,)).iloc[0]
    return _TRANSFER.verdict(row["probability"], row["low"], row["high"], len(scored),
                             f"{scored['seed'].nunique()} seeds")


# -- 7. disentanglement and downstream sample efficiency ---------------------------------------

_DOWNSTREAM = _Claim("mean Spearman rho(metric, sample efficiency) over (dataset, predictor, "
                     "metric)", 0.3, "<")
DOWNSTREAM_RULE = _DOWNSTREAM.rule(
    "Spearman's rho of each metric with the downstream sample efficiency (accuracy with 100 "
    "training points over accuracy with all) of each predictor per dataset with >= "
    f"{MIN_CORRELATION} runs, averaged (runs resampled within each dataset); a mean rho of "
    "0.3 or more is the meaningful positive effect.")


def downstream_vs_metrics(table: pd.DataFrame, *, seed: int = 0,
                          num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """No consistent evidence that more disentanglement gives better sample efficiency:
    ``mean_{(d, predictor, metric)} rho_d(metric, efficiency)`` (efficiency from
    :func:`dislab.analysis.correlation.downstream_scores`) over the cells with >=
    :data:`MIN_CORRELATION` runs; paper: < 0.3."""
    runs, targets = downstream_scores(table)
    metrics = available(runs, METRICS)
    efficiency = [column for label, column in targets.items() if is_efficiency_label(label)]
    if not metrics or not efficiency:
        return _DOWNSTREAM.undecided("the study lacks the metrics or the sample efficiency "
                                     "(downstream accuracy at 100 and more training points)")
    pairs = [(metric, column) for column in efficiency for metric in metrics.values()]
    return _mean_correlation(_DOWNSTREAM, runs, ["dataset"], pairs,
                             "(dataset, predictor, metric)", seed, num_resamples)
