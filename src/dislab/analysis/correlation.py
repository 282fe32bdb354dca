"""Rank correlations between scores (spec 5.6 b, d and f; analyses 2, 5 and 7 of issue 6).

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
    available,
    done_runs,
    downstream_sizes,
    require,
)
from dislab.analysis.stats import NUM_RESAMPLES


def metric_agreement(table: pd.DataFrame, *, seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                     plot: bool = False):
    """Spearman's rho between every pair of the six metrics, per dataset (spec 5.6 b).

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
    dataset (spec 5.6 d): can an unsupervised score select disentangled models?"""
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
        runs[f"{predictor} accuracy"] = runs[accuracy_column(prefix, full)]
        columns[f"{predictor} accuracy"] = f"{predictor} accuracy"
        if SMALL_SIZE in available_sizes:
            runs[f"{predictor} efficiency"] = (runs[accuracy_column(prefix, SMALL_SIZE)]
                                               / runs[f"{predictor} accuracy"])
            columns[f"{predictor} efficiency"] = f"{predictor} efficiency"
    runs.attrs["sizes"] = sizes
    return runs, available(runs, columns)


def downstream_vs_metrics(table: pd.DataFrame, *, seed: int = 0,
                          num_resamples: int = NUM_RESAMPLES, plot: bool = False):
    """Spearman's rho of each metric (``x``) with downstream accuracy and sample efficiency
    (``y``: ``LR accuracy``, ``LR efficiency``, ``GBT ...``) per dataset (spec 5.6 f).

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
