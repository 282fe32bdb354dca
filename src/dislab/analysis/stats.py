"""Rank correlations with seeded percentile-bootstrap confidence intervals.

A bootstrap resample draws the ``n`` observations (runs) with replacement; the interval is the
``[(1 - level) / 2, (1 + level) / 2]`` percentile range of the statistic over ``num_resamples``
resamples. Resamples whose statistic is undefined (a constant column) are left out. With the
same seed, every pair of columns with the same complete rows sees the same resamples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

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


def bias_corrected_interval(values: np.ndarray, estimate: float,
                            level: float = LEVEL) -> tuple[float, float]:
    """Efron's bias-corrected percentile interval of the resampled ``values`` around the
    sample's ``estimate``: with ``z0 = Phi^-1(P(value < estimate) + P(value = estimate) / 2)``
    (the fraction clipped to ``[1 / (B + 1), B / (B + 1)]`` for B finite resamples), the
    ``Phi(2 z0 -+ z_(1+level)/2)`` quantiles. ``z0 = 0`` (resamples centred on the estimate)
    gives the percentile interval; a statistic that resampling pushes up or down gets its
    interval moved back so that it holds the estimate. NaN when the estimate lies outside
    the resamples' central ``level`` range: the bias is then too large for the correction
    (typical of a few runs per group) and the bootstrap does not describe the sampling error."""
    values = values[np.isfinite(values)]
    if len(values) == 0 or not np.isfinite(estimate):
        return np.nan, np.nan
    below = np.mean(values < estimate) + 0.5 * np.mean(values == estimate)
    if not (1 - level) / 2 <= below <= (1 + level) / 2:
        return np.nan, np.nan
    z0, z = norm.ppf(below), norm.ppf((1 + level) / 2)
    low, high = np.quantile(values, norm.cdf([2 * z0 - z, 2 * z0 + z]))
    return float(low), float(high)


# -- stratified resamples, and statistics computed on all resamples at once -------------------

CHUNK = 50  # resamples evaluated together: keeps (runs x resamples) arrays in the cache


def stratified_indices(sizes, num_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of runs stored stratum by stratum (``sizes[k]`` consecutive runs
    form stratum ``k``), as ``(num_resamples, sum(sizes))`` run positions: position ``j`` of
    a resample holds a run drawn uniformly with replacement from ``j``'s own stratum, so
    every stratum keeps its size and its label."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if (sizes < 1).any():
        raise ValueError(f"every stratum needs a run, got sizes {sizes.tolist()}")
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes).astype(np.int32)
    draws = np.random.default_rng(seed).integers(
        0, np.repeat(sizes, sizes), size=(num_resamples, int(sizes.sum())), dtype=np.int32)
    return starts + draws


def stratified_bootstrap(statistic, sizes, seed: int, num_resamples: int):
    """``statistic(indices)`` on the sample and on ``num_resamples`` stratified resamples
    (:func:`stratified_indices`): ``statistic`` maps run positions of shape ``(resamples,
    runs)`` to an array with one leading entry per resample. Returns ``(sample value,
    resampled values)``; resamples are evaluated :data:`CHUNK` at a time."""
    total = int(np.sum(sizes))
    sample = statistic(np.arange(total, dtype=np.int32)[None])[0]
    indices = stratified_indices(sizes, num_resamples, seed)
    resampled = [statistic(indices[i:i + CHUNK]) for i in range(0, num_resamples, CHUNK)]
    return sample, np.concatenate(resampled)


def resample_counts(indices: np.ndarray, start: int, stop: int) -> np.ndarray:
    """How often each run at positions ``start..stop-1`` is drawn in each resample, from the
    resamples' positions ``start..stop-1`` (whole strata, so they draw from that range):
    a float32 array ``(stop - start, resamples)``, runs first (float32: exact for counts
    and ranks below 2^23, and half the memory traffic of float64)."""
    size, resamples = stop - start, len(indices)
    flat = (indices[:, start:stop].astype(np.int64) - start) * resamples
    flat += np.arange(resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=size * resamples).reshape(
        size, resamples).astype(np.float32)


def weighted_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The average rank that each run's value takes in each resample, where run ``i`` is
    drawn ``counts[i, r]`` times (its copies are tied): with ``B`` the number of drawn values
    below it and ``W`` the drawn copies of its value, rank ``B + (W + 1) / 2``. Equal to
    ranking the resampled values, at the cost of one cumulative sum. Runs with count 0 (and
    NaN values, which must have count 0) get ranks that no weighted sum sees. Shape
    ``(runs, resamples)``, like ``counts``."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]  # starts a group of equal values
    last = np.r_[np.flatnonzero(first)[1:], len(values)] - 1
    through = np.cumsum(counts[order], axis=0)[last]  # drawn values <= each group's value
    below = np.concatenate([np.zeros((1, counts.shape[1]), counts.dtype), through[:-1]])
    group = np.empty(len(values), dtype=np.int64)
    group[order] = np.cumsum(first) - 1  # each run's group of equal values
    through += below
    through += 1
    through *= 0.5
    return through[group]


def resampled_spearman(values: np.ndarray, pairs: list[tuple[int, int]],
                       counts: np.ndarray) -> np.ndarray:
    """Spearman's rho of each pair ``(i, j)`` of columns of ``values`` (runs x columns) in
    each resample given by ``counts`` (runs x resamples, :func:`resample_counts`; a column
    of ones is the sample): the Pearson correlation of the resampled values' average ranks
    (:func:`weighted_ranks`), over the runs where both columns are finite. Shape
    ``(resamples, pairs)``; NaN where a column is constant in a resample."""
    finite = np.isfinite(values)
    centred: dict = {}

    def centred_ranks(column: int, keep: np.ndarray):
        key = (column, keep.tobytes())
        if key not in centred:
            weights = counts if keep.all() else counts * keep[:, None]
            ranks = weighted_ranks(values[:, column], weights)
            ranks -= (weights.sum(0) + 1) / 2  # the mean rank
            weighted = weights * ranks
            centred[key] = ranks, weighted, np.einsum("nr,nr->r", weighted, ranks)
        return centred[key]

    rho = np.full((counts.shape[1], len(pairs)), np.nan)
    for p, (i, j) in enumerate(pairs):
        keep = finite[:, i] & finite[:, j]
        (_, weighted_x, var_x), (ranks_y, _, var_y) = (centred_ranks(i, keep),
                                                       centred_ranks(j, keep))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho[:, p] = np.einsum("nr,nr->r", weighted_x, ranks_y) / np.sqrt(var_x * var_y)
    return rho

