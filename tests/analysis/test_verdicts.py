"""The statistics that decide whether a study agrees with each of the paper's findings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dislab.analysis import verdicts


def _rho(rows):
    return pd.DataFrame(rows, columns=["dataset", "x", "y", "rho", "low", "high"])


def test_decorrelation_agrees_when_sampled_tc_mostly_falls():
    result = _rho([("a", "strength", "TC (sampled)", -0.8, -0.9, -0.6),
                   ("b", "strength", "TC (sampled)", -0.2, -0.5, 0.1),
                   ("c", "strength", "TC (sampled)", 0.3, 0.0, 0.6)])
    agrees, text = verdicts.decorrelation(result)
    assert agrees is True and "for 2 of 3" in text and "median rho -0.20" in text
    agrees, _ = verdicts.decorrelation(result.assign(rho=-result["rho"]))
    assert agrees is False


def test_unsupervised_needs_the_same_significant_sign_on_every_dataset():
    result = _rho([("a", "KL", "MIG", 0.6, 0.2, 0.8), ("b", "KL", "MIG", 0.5, 0.1, 0.7),
                   ("a", "ELBO", "MIG", 0.6, 0.2, 0.8), ("b", "ELBO", "MIG", -0.5, -0.7, -0.1)])
    agrees, text = verdicts.unsupervised_vs_metrics(result)
    assert agrees is False and text.startswith("1 of 2") and "KL~MIG" in text
    agrees, text = verdicts.unsupervised_vs_metrics(result[result["dataset"] == "a"])
    assert agrees is None and "two datasets" in text


def test_transfer_agrees_when_across_datasets_is_clearly_worse():
    result = pd.DataFrame({
        "setting": ["same metric, same dataset", "same metric, different dataset",
                    "different metric, same dataset", "different metric, different dataset"],
        "probability": [0.8, 0.6, 0.62, 0.55], "low": [0.75, 0.55, 0.57, 0.5],
        "high": [0.85, 0.65, 0.67, 0.6]})
    assert verdicts.selection_transfer(result)[0] is True
    overlapping = result.assign(high=[0.85, 0.8, 0.67, 0.6])
    assert verdicts.selection_transfer(overlapping)[0] is False
    one_dataset = result.assign(probability=[0.8, np.nan, 0.62, np.nan])
    assert verdicts.selection_transfer(one_dataset)[0] is None
