"""Helpers shared by the analyses: grouped rank correlations and figure grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dislab.analysis.stats import NUM_RESAMPLES, spearman_pairs


def correlations(table: pd.DataFrame, xs: dict[str, str], ys: dict[str, str],
                 by: list[str], seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                 pairs: str = "all") -> pd.DataFrame:
    """Spearman's rho (with bootstrap interval) of every ``x`` column against every ``y``
    column within each group of ``by``: one row per (group, x, y) with ``rho, low, high, n``.
    ``pairs="upper"`` (for ``xs == ys``) keeps each unordered pair once and drops x == y."""
    labels = [(x, y) for i, x in enumerate(xs) for j, y in enumerate(ys)
              if pairs == "all" or j > i]
    rows = []
    for key, group in table.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        stats = spearman_pairs(group, [(xs[x], ys[y]) for x, y in labels], seed,
                               num_resamples)
        rows += [{**dict(zip(by, key)), "x": x, "y": y, **s} for (x, y), s in zip(labels, stats)]
    return pd.DataFrame(rows, columns=[*by, "x", "y", "rho", "low", "high", "n"])


def figure_grid(nrows: int, ncols: int, width: float = 3.6, height: float = 3.0):
    """A matplotlib figure (no pyplot state) and its 2-d array of axes."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    return fig, axes


def heatmap(ax, matrix: pd.DataFrame, title: str) -> None:
    """Rank correlations in [-1, 1] as a coloured grid with the values written in."""
    image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize=7)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if abs(value) > 0.6 else "black")
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(image, ax=ax, shrink=0.7)


def grid_position(table: pd.DataFrame) -> pd.Series:
    """Each run's regularisation strength as its rank (0, 1, ...) in its model's grid, so that
    models with different scales share an axis."""
    return table.groupby("model")["strength"].rank(method="dense") - 1
