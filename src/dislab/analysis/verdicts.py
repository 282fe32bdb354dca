"""The paper's stated findings (Locatello et al. 2019) and the statistic that decides whether
a study agrees with each: ``verdict(result) -> (agrees: bool | None, statistic)``; ``None``
means the study cannot decide (e.g. a statement across datasets on a one-dataset study)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dislab.analysis.columns import is_efficiency_label

Verdict = tuple[bool | None, str]


def _pairs(result: pd.DataFrame, x: str, y: str) -> pd.Series:
    return result.loc[(result["x"] == x) & (result["y"] == y), "rho"].dropna()


def decorrelation(result: pd.DataFrame) -> Verdict:
    sampled = _pairs(result, "strength", "TC (sampled)")
    if sampled.empty:
        return None, "no model has two strengths with total correlations"
    falls = int((sampled < 0).sum())
    text = (f"the sampled TC falls with the strength (rho < 0) for {falls} of {len(sampled)} "
            f"(dataset, model) pairs (median rho {sampled.median():.2f})")
    mean = _pairs(result, "strength", "TC (mean)")
    if not mean.empty:
        text += (f"; the mean TC rises for {int((mean > 0).sum())} of {len(mean)} "
                 f"(median rho {mean.median():.2f})")
    return falls > len(sampled) / 2, text


def metric_agreement(result: pd.DataFrame) -> Verdict:
    strong = {f"{x}-{y}": _pairs(result, x, y).median()
              for x, y in (("BetaVAE", "FactorVAE"), ("MIG", "DCI"))}
    known = {k: v for k, v in strong.items() if np.isfinite(v)}
    if not known:
        return None, "the study lacks BetaVAE/FactorVAE or MIG/DCI pairs"
    text = ", ".join(f"median rho {k} = {v:.2f}" for k, v in known.items())
    return all(v > 0.5 for v in known.values()), text + " (strong: > 0.5)"


def metric_distributions(result: pd.DataFrame) -> Verdict:
    model, seed = result["eta2_model"].median(), result["seed_share"].median()
    if not np.isfinite(model):
        return None, "no metric varies"
    text = f"the model explains a median {model:.0%} of a metric's variance"
    if np.isfinite(seed):
        text += f", the seed {seed:.0%}"
    return bool(model < 0.5), text + " (decisive: model < 50%)"


def seed_variation(result: pd.DataFrame) -> Verdict:
    others = result[result["median"] != result["median"].max()]
    if others.empty:
        return None, "a single strength"
    overlapping = int(others["overlap"].sum())
    return overlapping > 0, (f"{overlapping} of {len(others)} other strengths reach into the "
                             "range of the best strength over seeds")


def hyperparameter_effect(result: pd.DataFrame) -> Verdict:
    if result["dataset"].nunique() < 2:
        return None, "needs two datasets to tell whether a value wins consistently"
    consistent = result.groupby(["model", "metric"])["consistent"].first()
    share = consistent.mean()
    return bool(share < 0.5), (f"the best strength is the same on every dataset for "
                               f"{int(consistent.sum())} of {len(consistent)} "
                               f"(model, metric) pairs ({share:.0%})")


def _reliable(result: pd.DataFrame, group: list[str]) -> pd.Series:
    """Per group: the bootstrap interval excludes 0 with the same sign on every dataset."""
    sign = np.sign(result["low"]).where(np.sign(result["low"]) == np.sign(result["high"]), 0)
    return result.assign(sign=sign).groupby(group)["sign"].agg(
        lambda s: bool(s.iloc[0] != 0 and (s == s.iloc[0]).all()))


def unsupervised_vs_metrics(result: pd.DataFrame) -> Verdict:
    if result["dataset"].nunique() < 2:
        return None, "needs two datasets to tell whether a score tracks a metric across them"
    reliable = _reliable(result, ["x", "y"])
    pairs = ", ".join(f"{x}~{y}" for x, y in reliable[reliable].index[:5])
    return not reliable.any(), (f"{int(reliable.sum())} of {len(reliable)} (score, metric) "
                                "pairs correlate with the same sign on every dataset "
                                "(95% interval excluding 0)" + (f": {pairs}" if pairs else ""))


def downstream_vs_metrics(result: pd.DataFrame) -> Verdict:
    efficiency = result[result["y"].map(is_efficiency_label)].dropna(subset=["rho"])
    if efficiency.empty:
        return None, "no sample efficiency (needs accuracies at 100 and more points)"
    positive = int((efficiency["low"] > 0).sum())
    return positive < len(efficiency) / 2, (
        f"{positive} of {len(efficiency)} (dataset, predictor, metric) correlations with "
        "sample efficiency are positive with a 95% interval excluding 0")


def selection_transfer(result: pd.DataFrame) -> Verdict:
    rows = result.set_index("setting")
    text = "; ".join(f"{s}: {r.probability:.1%} [{r.low:.1%}, {r.high:.1%}]"
                     for s, r in rows.iterrows() if np.isfinite(r.probability))
    within = rows.loc["same metric, same dataset"]
    across = rows[rows.index.str.contains("different dataset")].dropna(subset=["probability"])
    if across.empty or not np.isfinite(within["low"]):
        return None, (text or "no setting could be simulated") + \
            " (needs a second dataset to compare with transfer across datasets)"
    worse = bool((across["high"] < within["low"]).all())
    return worse, text + (" (decisive: transfer across datasets is worse than within, "
                          "the 95% intervals apart)")
