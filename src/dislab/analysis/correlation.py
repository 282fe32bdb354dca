"""Rank correlations between scores: the paper's agreement between metrics, unsupervised
model selection and downstream sample efficiency (Locatello et al. 2019; sections 2, 5 and 7
of ``dislab report``).

Each function returns the long table ``dataset, x, y, rho, low, high, n`` (Spearman's rho over
the finished runs of a dataset, with its bootstrap interval; see :mod:`dislab.analysis.stats`)
and, with ``plot=True``, one heatmap per dataset.
"""

from __future__ import annotations

import pandas as pd

from dislab.analysis._common import correlations, figure_grid, heatmap
from dislab.analysis.columns import (
    DOWNSTREAM,
    FULL_SIZE,
    METRICS,
    SMALL_SIZE,
    UNSUPERVISED,
    accuracy_column,
    accuracy_label,
    available,
    done_runs,
    downstream_sizes,
    efficiency_label,
    require,
)
from dislab.analysis.stats import NUM_RESAMPLES
from dislab.metrics.downstream import sample_efficiency


def metric_agreement(table: pd.DataFrame, *, seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                     plot: bool = False):
    """Spearman's rho between every pair of the six metrics, per dataset (the paper's 6 x 6
    heatmap per dataset).

    The table holds each unordered pair once (``x`` before ``y`` in :data:`METRICS` order).
    """
    runs = done_runs(table)
    metrics = available(runs, METRICS)
    require(len(metrics) >= 2, "fewer than two disentanglement metrics have values")
    _require_runs(runs)
    result = correlations(runs, metrics, metrics, ["dataset"], seed, num_resamples, "upper")
    if not plot:
        return result
    symmetric = pd.concat([result, result.rename(columns={"x": "y", "y": "x"})])
    return result, _heatmaps(symmetric, list(metrics), list(metrics), diagonal=True)


def unsupervised_vs_metrics(table: pd.DataFrame, *, seed: int = 0,
                            num_resamples: int = NUM_RESAMPLES, plot: bool = False):
    """Spearman's rho of each unsupervised score (``x``) with each metric (``y``), per
    dataset (the paper's unsupervised model selection): can an unsupervised score select
    disentangled models?"""
    runs = done_runs(table)
    metrics, scores = available(runs, METRICS), available(runs, UNSUPERVISED)
    require(bool(metrics) and bool(scores),
            "the study lacks the disentanglement metrics or the unsupervised scores")
    _require_runs(runs)
    result = correlations(runs, scores, metrics, ["dataset"], seed, num_resamples)
    if not plot:
        return result
    return result, _heatmaps(result, list(scores), list(metrics))


def downstream_scores(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The runs with columns ``<predictor> accuracy`` (mean test accuracy at the largest
    training size, :data:`FULL_SIZE` when present) and ``<predictor> efficiency`` (accuracy
    at :data:`SMALL_SIZE` over it), and the labels -> columns of those it could compute.
    The sizes used are in ``frame.attrs["sizes"]``."""
    runs = done_runs(table)
    columns, sizes = {}, {}
    for predictor, prefix in DOWNSTREAM.items():
        available_sizes = downstream_sizes(runs, prefix)
        if not available_sizes or available_sizes[-1] <= SMALL_SIZE:
            continue
        full = FULL_SIZE if FULL_SIZE in available_sizes else available_sizes[-1]
        sizes[predictor] = full
        runs[accuracy_label(predictor)] = runs[accuracy_column(prefix, full)]
        columns[accuracy_label(predictor)] = accuracy_label(predictor)
        if SMALL_SIZE in available_sizes:
            runs[efficiency_label(predictor)] = sample_efficiency(
                runs[accuracy_column(prefix, SMALL_SIZE)], runs[accuracy_label(predictor)])
            columns[efficiency_label(predictor)] = efficiency_label(predictor)
    runs.attrs["sizes"] = sizes
    return runs, available(runs, columns)


def downstream_vs_metrics(table: pd.DataFrame, *, seed: int = 0,
                          num_resamples: int = NUM_RESAMPLES, plot: bool = False):
    """Spearman's rho of each metric (``x``) with downstream accuracy and sample efficiency
    (``y``: ``LR accuracy``, ``LR efficiency``, ``GBT ...``) per dataset (the paper's
    downstream analysis: accuracy at 100 over accuracy at 10,000 points, for LR and GBT).

    Accuracy is the mean test accuracy at 10,000 training points (or the study's largest
    size, stored in the ``size`` column); efficiency is accuracy at 100 over that.
    """
    runs, targets = downstream_scores(table)
    metrics = available(runs, METRICS)
    require(bool(metrics) and bool(targets), "the study lacks the disentanglement metrics or "
            f"downstream accuracies at more than {SMALL_SIZE} training points")
    _require_runs(runs)
    result = correlations(runs, metrics, targets, ["dataset"], seed, num_resamples)
    result["size"] = result["y"].str.split(" ").str[0].map(runs.attrs["sizes"])
    if not plot:
        return result
    return result, _heatmaps(result, list(metrics), list(targets))


def _require_runs(runs: pd.DataFrame) -> None:
    require((runs.groupby("dataset").size() >= 3).any(),
            "a rank correlation needs at least 3 runs of a dataset")


def _heatmaps(result: pd.DataFrame, rows: list[str], columns: list[str],
              diagonal: bool = False):
    datasets = sorted(result["dataset"].unique())
    fig, axes = figure_grid(1, len(datasets), width=max(4.0, 0.5 * len(columns) + 2),
                            height=max(3.5, 0.35 * len(rows) + 1.5))
    for ax, dataset in zip(axes[0], datasets):
        matrix = result[result["dataset"] == dataset].pivot_table(
            index="x", columns="y", values="rho", dropna=False).reindex(
            index=rows, columns=columns)
        if diagonal:
            for label in rows:
                matrix.loc[label, label] = 1.0
        heatmap(ax, matrix, dataset)
    return fig
