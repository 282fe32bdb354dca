"""How scores depend on the regulariser, the model, the hyperparameter and the seed
(Locatello et al. 2019: does the regulariser decorrelate the representation, and how much do
the model, the hyperparameter and the seed matter; sections 1, 3 and 4 of ``dislab report``).

The figures mark the table's external runs (``dislab study add``) with red stars
(:mod:`dislab.analysis._marks`); the numbers are the study's runs' alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dislab.analysis._common import correlations, figure_grid, grid_position
from dislab.analysis._marks import category_x, grid_x, stars
from dislab.analysis.columns import (
    METRICS,
    TC_MEAN,
    TC_SAMPLED,
    available,
    done_runs,
    external_runs,
    require,
)
from dislab.analysis.stats import NUM_RESAMPLES


def decorrelation(table: pd.DataFrame, *, seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                  plot: bool = False):
    """Does the regulariser decorrelate the representation? (The paper plots the sampled
    representation's Gaussian TC against the regularisation strength, and the mean's TC
    against the sampled one's.)

    Per dataset and model, Spearman's rho of the regularisation strength against the Gaussian
    total correlation of the sampled representation (``x = "strength"``, ``y = "TC
    (sampled)"``) and of the mean one, and of the two TCs against each other.
    Returns the long table ``dataset, model, x, y, rho, low, high, n``; with ``plot=True``
    also the figure: median sampled TC against the grid position per model (top) and mean
    against sampled TC (bottom), one column per dataset.
    """
    runs = done_runs(table)
    require(TC_SAMPLED in available(runs, {"tc": TC_SAMPLED}).values(),
            f"no run has the sampled representation's total correlation ({TC_SAMPLED})")
    runs = _swept(runs)
    tc = available(runs, {"TC (sampled)": TC_SAMPLED, "TC (mean)": TC_MEAN})
    result = pd.concat([
        correlations(runs, {"strength": "strength"}, tc, ["dataset", "model"], seed,
                     num_resamples),
        correlations(runs, {"TC (sampled)": TC_SAMPLED}, {"TC (mean)": TC_MEAN},
                     ["dataset", "model"], seed, num_resamples) if len(tc) == 2 else None,
    ], ignore_index=True)
    if not plot:
        return result
    return result, _plot_decorrelation(runs, tc, external_runs(table))


def _plot_decorrelation(runs: pd.DataFrame, tc: dict[str, str], externals: pd.DataFrame):
    datasets = sorted(runs["dataset"].unique())
    fig, axes = figure_grid(len(tc), len(datasets))
    runs = runs.assign(position=grid_position(runs))
    for col, dataset in enumerate(datasets):
        subset = runs[runs["dataset"] == dataset]
        mine = externals[externals["dataset"] == dataset]
        _median_lines(axes[0, col], subset, TC_SAMPLED, mine)
        for model, group in subset.groupby("model"):
            if len(tc) == 2:
                axes[1, col].scatter(group[TC_SAMPLED], group[TC_MEAN], s=8, label=model)
        if len(tc) == 2:
            stars(axes[1, col], mine, mine[TC_SAMPLED], mine[TC_MEAN])
        axes[0, col].set(title=dataset, xlabel="regularisation strength (grid position)",
                         ylabel="TC of the sampled representation")
        if len(tc) == 2:
            axes[1, col].set(xlabel="TC (sampled)", ylabel="TC (mean)")
    axes[0, 0].legend(fontsize=7)
    return fig


def metric_distributions(table: pd.DataFrame, *, plot: bool = False):
    """How much do model, hyperparameter and seed matter? (The paper's violin plots of each
    metric by model, per dataset.)

    Per dataset and metric: the share of the variance of the metric explained by the model
    (``eta2_model`` = between-model sum of squares / total sum of squares), by the model
    and hyperparameter together (``eta2_config``), and what is left to the seed
    (``seed_share = 1 - eta2_config``; NaN with one seed per configuration), with the
    per-model medians. With ``plot=True`` also
    violin plots of each metric grouped by model (rows: datasets, columns: metrics).
    """
    runs = done_runs(table)
    metrics = available(runs, METRICS)
    require(bool(metrics), "no run has any of the six disentanglement metrics")
    require((runs.groupby(["dataset", "model"]).size() >= 2).any(),
            "every model has a single run per dataset; the model's share of the variance "
            "cannot be told from the seed's")
    rows = []
    for (dataset, label), values in _metric_values(runs, metrics):
        total = ((values["score"] - values["score"].mean()) ** 2).sum()
        medians = values.groupby("model")["score"].median()
        rows.append({
            "dataset": dataset, "metric": label, "n": len(values),
            "models": values["model"].nunique(), "configs": values["config"].nunique(),
            "eta2_model": _explained(values, "model", total),
            "eta2_config": _explained(values, "config", total),
            **{f"median {model}": value for model, value in medians.items()},
        })
    result = pd.DataFrame(rows)
    replicated = runs.groupby(["dataset", "config"]).size().groupby("dataset").max() >= 2
    result["seed_share"] = (1 - result["eta2_config"]).where(
        result["dataset"].map(replicated), np.nan)  # undefined with one seed per config
    if not plot:
        return result
    return result, _plot_violins(runs, metrics, external_runs(table))


def _metric_values(runs: pd.DataFrame, metrics: dict[str, str]):
    """``((dataset, metric label), frame of model, config, seed, strength, score)`` for
    every dataset and metric with values."""
    for dataset, subset in runs.groupby("dataset", sort=True):
        for label, column in metrics.items():
            values = subset[["model", "config", "seed", "strength"]].assign(
                score=subset[column]).dropna(subset=["score"])
            if len(values):
                yield (dataset, label), values


def _explained(values: pd.DataFrame, by: str, total: float) -> float:
    """eta^2 = sum_groups n_g (mean_g - mean)^2 / sum (x - mean)^2 (NaN if the total is 0)."""
    means = values.groupby(by)["score"].agg(["mean", "size"])
    between = (means["size"] * (means["mean"] - values["score"].mean()) ** 2).sum()
    return float(between / total) if total > 0 else np.nan


def _plot_violins(runs: pd.DataFrame, metrics: dict[str, str], externals: pd.DataFrame):
    datasets = sorted(runs["dataset"].unique())
    models = sorted(runs["model"].unique())
    fig, axes = figure_grid(len(datasets), len(metrics))
    for (dataset, label), values in _metric_values(runs, metrics):
        ax = axes[datasets.index(dataset), list(metrics).index(label)]
        _violins(ax, [values.loc[values["model"] == m, "score"].to_numpy() for m in models],
                 models)
        mine = externals[externals["dataset"] == dataset]
        stars(ax, mine, category_x(mine, models), mine[metrics[label]])
        ax.set_title(f"{label} on {dataset}", fontsize=9)
    return fig


def _violins(ax, groups: list[np.ndarray], labels: list[str]) -> None:
    """Violins where a group has two or more values, dots for every value."""
    for i, values in enumerate(groups):
        if len(values) >= 2 and np.ptp(values) > 0:
            ax.violinplot(values, positions=[i], showmedians=True)
        ax.scatter(np.full(len(values), i), values, s=6, color="k", alpha=0.5)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)


# The paper's example of the spread over seeds: the FactorVAE score of FactorVAE on Cars3D.
SEED_METRIC, SEED_MODEL, SEED_DATASET = "FactorVAE", "factor_vae", "cars3d"


def seed_dataset(runs: pd.DataFrame) -> str:
    """The dataset :func:`seed_variation` shows by default: :data:`SEED_DATASET` if present,
    otherwise the first dataset."""
    datasets = sorted(runs["dataset"].unique())
    return SEED_DATASET if SEED_DATASET in datasets else datasets[0]


def seed_variation(table: pd.DataFrame, *, metric: str = SEED_METRIC,
                   model: str = SEED_MODEL, dataset: str | None = None, plot: bool = False):
    """One metric against the regularisation strength of one model on one dataset, over
    seeds (the paper's violin plots over the 50 seeds; it shows FactorVAE's gamma on Cars3D).

    ``dataset=None`` takes ``cars3d`` if present, otherwise the first dataset. One row per
    strength: ``n`` seeds, median, quartiles, min and max; ``overlap`` says whether the
    range of this strength overlaps that of the best strength (by median).
    """
    runs = done_runs(table)
    require(metric in METRICS, f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    column = METRICS[metric]
    require(column in available(runs, METRICS).values(), f"no run has the {metric} score")
    if dataset is None:
        dataset = seed_dataset(runs)
    subset = runs[(runs["dataset"] == dataset) & (runs["model"] == model)].dropna(
        subset=[column])
    require(len(subset) > 0, f"no {model} run on {dataset} has the {metric} score")
    require(subset.groupby("strength")["seed"].nunique().max() >= 2,
            f"{model} on {dataset} has one seed per strength; the spread over seeds needs two")
    grouped = subset.groupby("strength")[column]
    result = grouped.describe()[["count", "min", "25%", "50%", "75%", "max"]].rename(
        columns={"count": "n", "50%": "median", "25%": "q25", "75%": "q75"}).reset_index()
    best = result.loc[result["median"].idxmax()]
    result["overlap"] = (result["max"] >= best["min"]) & (result["min"] <= best["max"])
    result.insert(0, "dataset", dataset)
    result.insert(1, "model", model)
    result.insert(2, "metric", metric)
    if not plot:
        return result
    fig, axes = figure_grid(1, 1, width=5, height=3.5)
    strengths = sorted(subset["strength"].unique())
    _violins(axes[0, 0], [grouped.get_group(s).to_numpy() for s in strengths],
             [f"{s:g}" for s in strengths])
    externals = external_runs(table)
    mine = externals[externals["dataset"] == dataset]
    stars(axes[0, 0], mine, grid_x(mine, subset), mine[column])
    axes[0, 0].set(title=f"{metric} of {model} on {dataset} over seeds",
                   xlabel="regularisation strength", ylabel=metric)
    return result, fig


def hyperparameter_effect(table: pd.DataFrame, *, seed: int = 0,
                          num_resamples: int = NUM_RESAMPLES, plot: bool = False):
    """Metric against hyperparameter per model and dataset: does a value win consistently?
    (the paper's question how much the hyperparameter matters; section 4 of ``dislab report``)

    One row per (dataset, model, metric): the best strength by median over seeds, Spearman's
    rho of strength against the metric with its interval, and ``consistent``: whether the
    best strength of this (model, metric) is the same on every dataset.
    """
    runs = done_runs(table)
    metrics = available(runs, METRICS)
    require(bool(metrics), "no run has any of the six disentanglement metrics")
    runs = _swept(runs)
    result = correlations(runs, {"strength": "strength"}, metrics, ["dataset", "model"], seed,
                          num_resamples).drop(columns="x").rename(columns={"y": "metric"})
    best = []
    for row in result.itertuples():
        subset = runs[(runs["dataset"] == row.dataset) & (runs["model"] == row.model)]
        medians = subset.groupby("strength")[metrics[row.metric]].median().dropna()
        best.append(medians.idxmax() if len(medians) else np.nan)
    result["best_strength"] = best
    result["consistent"] = result.groupby(["model", "metric"])["best_strength"].transform(
        lambda s: s.nunique(dropna=True) == 1 and s.notna().all())
    if not plot:
        return result
    return result, _plot_hyperparameters(runs, metrics, external_runs(table))


def _plot_hyperparameters(runs: pd.DataFrame, metrics: dict[str, str],
                          externals: pd.DataFrame):
    datasets = sorted(runs["dataset"].unique())
    fig, axes = figure_grid(len(metrics), len(datasets))
    runs = runs.assign(position=grid_position(runs))
    for col, dataset in enumerate(datasets):
        mine = externals[externals["dataset"] == dataset]
        for row, (label, column) in enumerate(metrics.items()):
            _median_lines(axes[row, col], runs[runs["dataset"] == dataset], column, mine)
            axes[row, col].set(title=f"{label} on {dataset}",
                               xlabel="strength (grid position)")
    axes[0, 0].legend(fontsize=7)
    return fig


def _median_lines(ax, runs: pd.DataFrame, column: str, externals: pd.DataFrame) -> None:
    """One line per model: the median of ``column`` over seeds at each grid position; the
    external runs as stars at their strength's position (:func:`~._marks.grid_x`)."""
    for model, group in runs.groupby("model"):
        medians = group.groupby("position")[column].median()
        ax.plot(medians.index, medians.to_numpy(), marker="o", label=model)
    stars(ax, externals, grid_x(externals, runs), externals[column])


def _swept(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with a regularisation strength; NotEnoughData unless a model has two."""
    runs = runs[runs["strength"].notna()]
    require((runs.groupby(["dataset", "model"])["strength"].nunique() >= 2).any(),
            "every model has a single regularisation strength; a trend needs at least two "
            "values of a model's hyperparameter")
    return runs
