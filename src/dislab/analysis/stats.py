"""Rank correlations with seeded percentile-bootstrap confidence intervals.

A bootstrap resample draws the ``n`` observations (runs) with replacement; the interval is the
``[(1 - level) / 2, (1 + level) / 2]`` percentile range of the statistic over ``num_resamples``
resamples. Resamples whose statistic is undefined (a constant column) are left out. With the
same seed, every pair of columns with the same complete rows sees the same resamples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

NUM_RESAMPLES = 1000
LEVEL = 0.95


def _centred_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks along the last axis minus their mean, and their Euclidean norms."""
    ranks = rankdata(values, axis=-1).astype(np.float32)
    ranks -= ranks.mean(-1, keepdims=True)
    return ranks, np.sqrt((ranks * ranks).sum(-1, dtype=np.float64))


def _correlation(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray]):
    """Spearman's rho from centred ranks: ``sum rx ry / (|rx| |ry|)`` (NaN for a constant)."""
    (rx, nx), (ry, ny) = x, y
    denominator = nx * ny
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(-1, dtype=np.float64) / denominator,
                        np.nan)


class _Ranks:
    """Centred ranks of a frame's columns, on the sample and on its bootstrap resamples,
    computed once per (column, set of complete rows)."""

    def __init__(self, frame: pd.DataFrame, seed: int, num_resamples: int):
        self.frame, self.seed, self.num_resamples = frame, seed, num_resamples
        self.cache: dict = {}

    def get(self, column: str, keep: np.ndarray):
        key = (column, keep.tobytes())
        if key not in self.cache:
            values = self.frame[column].to_numpy(dtype=float)[keep]
            n = len(values)
            index = np.random.default_rng(self.seed).integers(0, n, (self.num_resamples, n))
            self.cache[key] = (_centred_ranks(values), _centred_ranks(values[index]))
        return self.cache[key]


def spearman_pairs(frame: pd.DataFrame, pairs: list[tuple[str, str]], seed: int = 0,
                   num_resamples: int = NUM_RESAMPLES,
                   level: float = LEVEL) -> list[dict[str, float]]:
    """:func:`spearman` of each ``(x, y)`` pair of columns of ``frame``, ranking each column
    once per set of complete rows."""
    ranks = _Ranks(frame, seed, num_resamples)
    results = []
    for x, y in pairs:
        keep = (np.isfinite(frame[x].to_numpy(dtype=float))
                & np.isfinite(frame[y].to_numpy(dtype=float)))
        n = int(keep.sum())
        if n < 3:
            results.append({"rho": np.nan, "low": np.nan, "high": np.nan, "n": n})
            continue
        (sample_x, resampled_x), (sample_y, resampled_y) = ranks.get(x, keep), ranks.get(y, keep)
        low, high = percentile_interval(_correlation(resampled_x, resampled_y), level)
        results.append({"rho": float(_correlation(sample_x, sample_y)), "low": low,
                        "high": high, "n": n})
    return results


def spearman(x, y, seed: int = 0, num_resamples: int = NUM_RESAMPLES,
             level: float = LEVEL) -> dict[str, float]:
    """Spearman's rho of the pairs where both ``x`` and ``y`` are finite, with its bootstrap
    interval: ``{"rho", "low", "high", "n"}`` (NaN when fewer than 3 pairs or a constant)."""
    frame = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)})
    return spearman_pairs(frame, [("x", "y")], seed, num_resamples, level)[0]


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile range of the finite ``values`` (NaN if none)."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
