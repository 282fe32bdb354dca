"""Where a researcher's own models stand among a study's runs (``dislab study add``,
:func:`dislab.study.add_representation`): the report's section "Your models among the
study's".

>>> from dislab import study
>>> from dislab.analysis.placement import placement
>>> placement(study.load("out/quick"))          # one row per (external run, score)
>>> frame, figure = placement(table, plot=True)

External runs are not part of the study's population: the other analyses leave them out
(:func:`~dislab.analysis.columns.done_runs`) and only mark them on their figures. Here each is
compared, score by score, with the study's finished runs on its dataset: the six
disentanglement metrics of Locatello et al. (ICML 2019), and the unsupervised scores and
downstream accuracies that the table holds.

The percentile is the mid-rank one, ``100 * (#below + 0.5 * #equal) / n`` over the study's
``n`` finished runs with the score: 0 below every run, 100 above every run. It says where the
value lies, not whether that is good: for the losses and total correlations lower is better.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dislab.analysis._common import figure_grid
from dislab.analysis._marks import stars
from dislab.analysis.columns import (
    DOWNSTREAM,
    METRICS,
    UNSUPERVISED,
    accuracy_column,
    accuracy_label,
    available,
    done_runs,
    downstream_sizes,
    external_runs,
    require,
)
from dislab.analysis.scores import _violins

COLUMNS = ["model_num", "name", "dataset", "model", "metric", "value", "n", "percentile",
           "median", "p5", "p95"]
PANELS_PER_ROW = 4


def scores(table: pd.DataFrame) -> dict[str, str]:
    """Labels -> columns of the scores compared: :data:`~columns.METRICS`,
    :data:`~columns.UNSUPERVISED` and each downstream predictor's accuracy at every training
    size (``"LR accuracy (1000)"``), those with a value in ``table``."""
    names = {**METRICS, **UNSUPERVISED}
    for predictor, prefix in DOWNSTREAM.items():
        for size in downstream_sizes(table, prefix):
            names[f"{accuracy_label(predictor)} ({size})"] = accuracy_column(prefix, size)
    return available(table, names)


def percentile(value: float, values) -> float:
    """``100 * (#values below value + 0.5 * #values equal to it) / n`` (NaN without values)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.nan
    return float(100 * ((values < value).sum() + 0.5 * (values == value).sum()) / len(values))


def _among(value: float, values: np.ndarray) -> dict[str, float]:
    """``n``, the ``percentile`` of ``value``, and the ``median``, ``p5`` and ``p95``
    (``numpy.percentile``, linear) of ``values``."""
    if len(values) == 0:
        return {"n": 0, "percentile": np.nan, "median": np.nan, "p5": np.nan, "p95": np.nan}
    p5, median, p95 = np.percentile(values, [5, 50, 95])
    return {"n": len(values), "percentile": percentile(value, values), "median": median,
            "p5": p5, "p95": p95}


def placement(table: pd.DataFrame, *, plot: bool = False):
    """Each external run among the study's finished runs on its dataset.

    One row per (external run, score of :func:`scores` that it has): ``model_num, name,
    dataset, model, metric, value``, the study's ``n`` finished runs with that score on that
    dataset, the ``percentile`` of the value among them (module doc) and their ``median`` and
    5-95% range (``p5``, ``p95``). With ``plot=True`` also the figure: one panel per
    (dataset, score), the study's runs as violins and dots per model, each external run a red
    star at a place of its own on the right.
    """
    externals = external_runs(table)
    require(len(externals) > 0, "the table holds no finished external run (add one with "
                                "`dislab study add` or dislab.study.add_representation)")
    runs, labels = done_runs(table), scores(externals)
    rows = []
    for _, external in externals.iterrows():
        study = runs[runs["dataset"] == external["dataset"]]
        for label, column in labels.items():
            value = float(external[column])
            if np.isfinite(value):
                values = study[column].dropna().to_numpy(dtype=float)
                rows.append({**external[["model_num", "name", "dataset", "model"]].to_dict(),
                             "metric": label, "value": value, **_among(value, values)})
    result = pd.DataFrame(rows, columns=COLUMNS)
    if not plot:
        return result
    return result, _plot(result, runs, externals, labels)


def _plot(result: pd.DataFrame, runs: pd.DataFrame, externals: pd.DataFrame,
          labels: dict[str, str]):
    panels = list(result[["dataset", "metric"]].drop_duplicates().itertuples(index=False))
    ncols = min(PANELS_PER_ROW, len(panels))
    fig, axes = figure_grid(math.ceil(len(panels) / ncols), ncols)
    for ax, (dataset, label) in zip(axes.flat, panels):
        study, mine = runs[runs["dataset"] == dataset], externals[externals["dataset"] == dataset]
        models, column = sorted(study["model"].unique()), labels[label]
        groups = [study.loc[study["model"] == m, column].dropna().to_numpy() for m in models]
        _violins(ax, groups + [np.empty(0)] * len(mine), models + list(mine["name"]))
        stars(ax, mine, len(models) + np.arange(len(mine)), mine[column])
        ax.set_title(f"{label} on {dataset}", fontsize=9)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    return fig
