"""Two findings of the weakly-supervised study (Locatello, Poole, Rätsch, Schölkopf, Bachem,
Tschannen, *Weakly-Supervised Disentanglement Without Compromises*, ICML 2020) on a study
table that holds weakly-supervised runs (models in :data:`~dislab.analysis.columns.WEAK_MODELS`)
and unsupervised ones (every other model), e.g. the ``weak-quick`` preset, or the ``weak`` and
``paper`` studies together (:func:`~dislab.analysis.columns.combine`):

- :func:`weak_vs_unsupervised`: are the weakly-supervised models more disentangled?
- :func:`elbo_selection`: does the ELBO select disentangled models under weak supervision?

Every verdict is decided by 95% bootstrap intervals only (seeded; :mod:`dislab.analysis.stats`),
first per (dataset, metric) cell, over the metrics of :data:`~dislab.analysis.columns.METRICS`:

- a cell **Agrees** when the interval of its deciding statistic lies entirely on the paper's
  side of 0, **Disagrees** when it lies entirely on the other side, and is **Undecided** when
  it contains 0 (:func:`~dislab.analysis.verdicts.decide`);
- a cell with too few runs is marked ``too few runs`` and not counted: a percentile bootstrap
  of very few runs is overconfident (3 weakly-supervised runs all above 3 unsupervised ones
  give an interval above 0 in every resample, while an exact rank test on them gives p = 0.1).
  The minimum is that of :mod:`dislab.analysis.verdicts`:
  :data:`~dislab.analysis.verdicts.MIN_GROUP` runs in each group for a difference,
  :data:`~dislab.analysis.verdicts.MIN_CORRELATION` runs for a rank correlation.

Then over the counted cells (the verdict functions :func:`more_disentangled_verdict` and
:func:`elbo_selection_verdict`, which return a :class:`~dislab.analysis.verdicts.Verdict`
whose statistic is the share of counted cells that Agree): **Agrees** when more than half of
them Agree and none Disagrees; **Disagrees** when more than half Disagree and none Agrees;
**Undecided** otherwise (no counted cell, mostly undecided cells, or cells on both sides).
The share has no interval (NaN): the cells' own intervals decide, and the cells are not
independent draws whose share a binomial interval could describe.

This module reads tables only (no torch, no models).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from dislab.analysis._common import correlations, figure_grid
from dislab.analysis.columns import (
    METRICS,
    UNSUPERVISED,
    WEAK_MODELS,
    NotEnoughData,
    available,
    done_runs,
    is_weak,
    require,
    swept_columns,
)
from dislab.analysis.stats import LEVEL, NUM_RESAMPLES, percentile_interval
from dislab.analysis.verdicts import (
    AGREES,
    DISAGREES,
    MIN_CORRELATION,
    MIN_GROUP,
    UNDECIDED,
    Verdict,
    decide,
)

ELBO = UNSUPERVISED["ELBO"]  # train.elbo = -(reconstruction + KL): higher is better
TOO_FEW = "too few runs"  # a cell below the minimum size: shown, not counted

MORE_DISENTANGLED_RULE = (
    "Per (dataset, metric): the 95% bootstrap interval of median(weak) - median(unsupervised) "
    "(runs resampled within each group) above 0: Agrees, below 0: Disagrees, containing 0: "
    f"Undecided; cells with fewer than {MIN_GROUP} runs in a group are not counted. Overall: "
    "Agrees when more than half of the counted cells Agree and none Disagrees, Disagrees when "
    "more than half Disagree and none Agrees, otherwise Undecided.")
ELBO_SELECTION_RULE = (
    "Per (dataset, metric): the 95% bootstrap interval of Spearman's rho between the ELBO "
    "(higher is better) and the metric over the weakly-supervised runs above 0: Agrees, below "
    f"0: Disagrees, containing 0: Undecided; cells with fewer than {MIN_CORRELATION} weak runs "
    "are not counted; the unsupervised rho is shown for comparison and does not decide. "
    "Overall: Agrees when more than half of the counted cells Agree and none Disagrees, "
    "Disagrees when more than half Disagree and none Agrees, otherwise Undecided.")


# -- which runs --------------------------------------------------------------------------------


def has_weak_runs(table: pd.DataFrame) -> bool:
    """Whether the study table holds any weakly-supervised run (finished or not)."""
    return "model" in table.columns and bool(is_weak(table).any())


def unsupervised_only(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its weakly-supervised runs, and without the hyperparameter columns
    that only those set (e.g. ``k``)."""
    rows = table[~is_weak(table)]
    unused = [c for c in swept_columns(rows) if rows[c].isna().all()]
    return rows.drop(columns=unused).reset_index(drop=True)


def _runs(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The finished runs and which of them are weakly supervised (both kinds required)."""
    runs = done_runs(table)
    weak = is_weak(runs)
    require(bool(weak.any()), "no finished weakly-supervised run (models "
                              f"{', '.join(WEAK_MODELS)})")
    require(bool((~weak).any()), "no finished unsupervised run to compare with (run an "
                                 "unsupervised study too and combine the tables, e.g. "
                                 "`dislab report out/weak out/paper`)")
    return runs, weak


# -- per-cell decisions ------------------------------------------------------------------------


def _cell(low: float, high: float, enough: bool) -> str:
    """A cell's word: :func:`~dislab.analysis.verdicts.decide` on its interval against 0
    (the paper's side: above), or :data:`TOO_FEW` when it is not counted."""
    return decide(low, high, 0.0, ">") if enough else TOO_FEW


def median_difference(x, y, seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                      level: float = LEVEL) -> dict[str, float]:
    """``median(x) - median(y)`` of the finite values, with the percentile-bootstrap
    interval that resamples ``x`` and ``y`` separately (each with replacement, its own size):
    ``{"difference", "low", "high"}`` (NaN when a side is empty)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) == 0 or len(y) == 0:
        return {"difference": np.nan, "low": np.nan, "high": np.nan}
    rng = np.random.default_rng(seed)
    resampled = (np.median(x[rng.integers(0, len(x), (num_resamples, len(x)))], axis=1)
                 - np.median(y[rng.integers(0, len(y), (num_resamples, len(y)))], axis=1))
    low, high = percentile_interval(resampled, level)
    return {"difference": float(np.median(x) - np.median(y)), "low": low, "high": high}


# -- finding 1: more disentangled --------------------------------------------------------------


def weak_vs_unsupervised(table: pd.DataFrame, *, seed: int = 0,
                         num_resamples: int = NUM_RESAMPLES, plot: bool = False):
    """Are the weakly-supervised models more disentangled than the unsupervised ones?

    Per dataset and metric: the runs' median score of each group, their difference
    (weak minus unsupervised) and its seeded bootstrap 95% interval (runs resampled within
    each group), the run counts and the cell's verdict (see the module docstring):
    ``dataset, metric, n_weak, n_unsupervised, median_weak, median_unsupervised, difference,
    low, high, verdict``. With ``plot=True`` also a figure: the differences with their
    intervals, one panel per dataset.
    """
    runs, weak = _runs(table)
    metrics = available(runs, METRICS)
    require(bool(metrics), "the study lacks the disentanglement metrics")
    rows = []
    for dataset, group in runs.groupby("dataset", sort=True):
        group_weak = weak.loc[group.index]
        for label, column in metrics.items():
            x = group.loc[group_weak, column].to_numpy(dtype=float)
            y = group.loc[~group_weak, column].to_numpy(dtype=float)
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            stats = median_difference(x, y, seed, num_resamples)
            enough = min(len(x), len(y)) >= MIN_GROUP
            rows.append({
                "dataset": dataset, "metric": label, "n_weak": len(x),
                "n_unsupervised": len(y),
                "median_weak": float(np.median(x)) if len(x) else np.nan,
                "median_unsupervised": float(np.median(y)) if len(y) else np.nan,
                **stats, "verdict": _cell(stats["low"], stats["high"], enough)})
    result = pd.DataFrame(rows, columns=[
        "dataset", "metric", "n_weak", "n_unsupervised", "median_weak", "median_unsupervised",
        "difference", "low", "high", "verdict"])
    if not plot:
        return result
    return result, _intervals_figure(result, [("difference", "low", "high", "o", "")],
                                     "median weak - median unsupervised")


def more_disentangled_verdict(table: pd.DataFrame, *, seed: int = 0,
                              num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """The verdict on :func:`weak_vs_unsupervised` of the study ``table`` (rule in the
    module docstring; n: the weak and unsupervised runs of the counted cells)."""
    return _verdict(weak_vs_unsupervised, table, seed, num_resamples,
                    "median(weak) - median(unsupervised)", ["n_weak", "n_unsupervised"])


# -- finding 2: the ELBO selects disentangled models -------------------------------------------


def elbo_selection(table: pd.DataFrame, *, seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                   plot: bool = False):
    """Does the ELBO select disentangled models under weak supervision?

    Per dataset and metric: Spearman's rho between the training ELBO (``train.elbo``, higher
    is better) and the metric over the weakly-supervised runs (all weak models and settings
    of the dataset together), with its seeded bootstrap 95% interval, which decides the
    cell's verdict (see the module docstring); next to it the same rho over the unsupervised
    runs: ``dataset, metric, n_weak, rho_weak, low_weak, high_weak, n_unsupervised,
    rho_unsupervised, low_unsupervised, high_unsupervised, verdict``. With ``plot=True`` also
    a figure: both rhos with their intervals, one panel per dataset.
    """
    runs, weak = _runs(table)
    metrics = available(runs, METRICS)
    require(bool(metrics), "the study lacks the disentanglement metrics")
    weak_runs, unsupervised_runs = runs[weak], runs[~weak]
    require(bool(available(weak_runs, {"ELBO": ELBO})),
            f"the weakly-supervised runs have no ELBO ({ELBO})")
    keys = ["dataset", "metric"]
    result = _rho(weak_runs, metrics, seed, num_resamples, "weak")
    if available(unsupervised_runs, {"ELBO": ELBO}):
        other = _rho(unsupervised_runs, metrics, seed, num_resamples, "unsupervised")
        result = result.merge(other, how="left", on=keys)
    else:
        for name in ("n", "rho", "low", "high"):
            result[f"{name}_unsupervised"] = 0 if name == "n" else np.nan
    result["n_unsupervised"] = result["n_unsupervised"].fillna(0).astype(int)
    result["verdict"] = [_cell(low, high, n >= MIN_CORRELATION) for low, high, n in
                         zip(result["low_weak"], result["high_weak"], result["n_weak"])]
    result = result[[*keys, "n_weak", "rho_weak", "low_weak", "high_weak", "n_unsupervised",
                     "rho_unsupervised", "low_unsupervised", "high_unsupervised", "verdict"]]
    if not plot:
        return result
    return result, _intervals_figure(
        result, [("rho_weak", "low_weak", "high_weak", "o", "weak"),
                 ("rho_unsupervised", "low_unsupervised", "high_unsupervised", "s",
                  "unsupervised")], "Spearman's rho (ELBO, metric)", limits=(-1.05, 1.05))


def elbo_selection_verdict(table: pd.DataFrame, *, seed: int = 0,
                           num_resamples: int = NUM_RESAMPLES) -> Verdict:
    """The verdict on :func:`elbo_selection` of the study ``table`` (rule in the module
    docstring; n: the weak runs of the counted cells)."""
    return _verdict(elbo_selection, table, seed, num_resamples,
                    "rho(ELBO, metric) over the weak runs", ["n_weak"])


def _rho(runs: pd.DataFrame, metrics: dict[str, str], seed: int, num_resamples: int,
         suffix: str) -> pd.DataFrame:
    frame = correlations(runs, {"ELBO": ELBO}, metrics, ["dataset"], seed, num_resamples)
    frame = frame.drop(columns="x").rename(columns={"y": "metric"})
    return frame.rename(columns={c: f"{c}_{suffix}" for c in ("rho", "low", "high", "n")})


# -- aggregation and figures -------------------------------------------------------------------


def _verdict(analysis, table: pd.DataFrame, seed: int, num_resamples: int, statistic: str,
             sizes: list[str]) -> Verdict:
    """:func:`aggregate` of the analysis' cells; Undecided when the analysis lacks data."""
    try:
        result = analysis(table, seed=seed, num_resamples=num_resamples)
    except NotEnoughData as err:
        return aggregate(pd.DataFrame(columns=["dataset", "verdict", *sizes]), statistic,
                         sizes, note=str(err))
    return aggregate(result, statistic, sizes)


def aggregate(result: pd.DataFrame, statistic: str, sizes: list[str],
              note: str = "") -> Verdict:
    """The :class:`~dislab.analysis.verdicts.Verdict` over the cells' ``verdict`` column:
    Agrees when more than half the counted cells (all but ``too few runs``) Agree and none
    Disagrees, Disagrees when more than half Disagree and none Agrees, else Undecided. Its
    value is the share of counted cells that Agree (threshold 0.5, no interval), ``n`` the
    runs of the counted cells (per dataset the largest sum of the ``sizes`` columns);
    ``note`` replaces the cell counts (e.g. why there is no cell)."""
    counted = result[result["verdict"] != TOO_FEW]
    skipped = len(result) - len(counted)
    agree, disagree = int((counted["verdict"] == AGREES).sum()), int(
        (counted["verdict"] == DISAGREES).sum())
    word = UNDECIDED
    if agree > len(counted) / 2 and disagree == 0:
        word = AGREES
    elif disagree > len(counted) / 2 and agree == 0:
        word = DISAGREES
    if not note:
        note = (f"of {len(counted)} counted (dataset, metric) cells: {agree} agree, "
                f"{disagree} disagree, {len(counted) - agree - disagree} undecided"
                if len(counted) else "no (dataset, metric) cell has enough runs to decide")
        note += f"; {skipped} cell(s) with too few runs not counted" if skipped else ""
    runs = counted[sizes].sum(axis=1).groupby(counted["dataset"]).max().sum()
    share = agree / len(counted) if len(counted) else np.nan
    return Verdict(word, f"share of counted (dataset, metric) cells that Agree ({statistic} "
                   "above 0)", share, np.nan, np.nan, 0.5, ">", int(runs), note)


_COLOURS = {AGREES: "tab:green", DISAGREES: "tab:red"}


def _intervals_figure(result: pd.DataFrame, series: list[tuple[str, str, str, str, str]],
                      xlabel: str, limits: tuple[float, float] | None = None):
    """One panel per dataset: each metric's statistic(s) with their 95% intervals against 0,
    the deciding (first) series coloured by the cell's verdict, the others in black."""
    datasets = sorted(result["dataset"].unique())
    fig, axes = figure_grid(1, max(1, len(datasets)), width=4.2,
                            height=0.45 * result["metric"].nunique() + 1.4)
    for ax, dataset in zip(axes[0], datasets):
        rows = result[result["dataset"] == dataset].reset_index(drop=True)
        positions = np.arange(len(rows))
        for i, (value, low, high, marker, _label) in enumerate(series):
            offset = 0.15 * (i - (len(series) - 1) / 2)
            for j, row in rows.iterrows():
                if not np.isfinite(row[value]):
                    continue
                colour = _COLOURS.get(row["verdict"], "tab:gray") if i == 0 else "black"
                err = [[max(0.0, row[value] - row[low])], [max(0.0, row[high] - row[value])]] \
                    if np.isfinite(row[low]) and np.isfinite(row[high]) else None
                ax.errorbar(row[value], positions[j] + offset, xerr=err, fmt=marker,
                            color=colour, capsize=3, markersize=5)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(positions, rows["metric"], fontsize=8)
        ax.invert_yaxis()
        if limits:
            ax.set_xlim(*limits)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_title(str(dataset), fontsize=9)
    handles = [Line2D([], [], marker=marker, color="black", linestyle="none", label=label)
               for *_, marker, label in series if label]
    handles += [Line2D([], [], marker="o", color=colour, linestyle="none", label=verdict)
                for verdict, colour in (*_COLOURS.items(), ("Undecided / too few runs",
                                                            "tab:gray"))]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)
    return fig
