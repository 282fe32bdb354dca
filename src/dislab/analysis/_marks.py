"""External runs (``dislab study add``) on the analyses' figures: each a red star labelled
``external: <name>`` in its axes' legend, drawn over the study's runs. They never enter a
statistic (:func:`dislab.analysis.columns.done_runs` leaves them out); the frames here are those
of :func:`dislab.analysis.columns.external_runs`."""

from __future__ import annotations

import numpy as np
import pandas as pd

PREFIX = "external: "
STAR = {"marker": "*", "s": 160, "color": "red", "edgecolors": "darkred", "linewidths": 0.6,
        "zorder": 5}


def stars(ax, externals: pd.DataFrame, x, y) -> None:
    """A red star at ``(x[i], y[i])`` for each external run ``i`` whose coordinates are
    finite, labelled ``external: <name>``, and the axes' legend when one was drawn."""
    drawn = False
    for name, xi, yi in zip(externals["name"], np.asarray(x, dtype=float),
                            np.asarray(y, dtype=float)):
        if np.isfinite(xi) and np.isfinite(yi):
            ax.scatter([xi], [yi], label=PREFIX + name, **STAR)
            drawn = True
    if drawn:
        ax.legend(fontsize=7)


def category_x(externals: pd.DataFrame, categories: list[str]) -> np.ndarray:
    """x of each external run on an axis of categories at 0, 1, ... (the models): its
    model's place, or one right of the last for a model the axis lacks."""
    return np.array([categories.index(m) if m in categories else len(categories)
                     for m in externals["model"]], dtype=float)


def grid_x(externals: pd.DataFrame, runs: pd.DataFrame) -> np.ndarray:
    """x of each external run on an axis of grid positions (the rank of a run's strength in
    its model's grid, :func:`dislab.analysis._common.grid_position`, over the study's
    ``runs``): its strength's place in its model's grid, linear between two grid values and
    at the nearest end outside them; one right of the longest grid for a model the study
    lacks or a run without a strength."""
    grids = {model: np.sort(strengths.dropna().unique())
             for model, strengths in runs.groupby("model")["strength"]}
    right = max((len(grid) for grid in grids.values()), default=0)
    x = []
    for model, strength in zip(externals["model"], externals["strength"]):
        grid = grids.get(model, np.empty(0))
        known = len(grid) > 0 and np.isfinite(strength)
        x.append(np.interp(strength, grid, np.arange(len(grid))) if known else right)
    return np.array(x, dtype=float)
