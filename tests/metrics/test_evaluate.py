"""evaluate(): the same numbers as each metric alone, with shared encodings."""

from __future__ import annotations

import numpy as np
import pytest

import dislab.metrics as metrics
from dislab.metrics.evaluate import resolve_metrics, single_representation_metrics

from .conftest import Counting, FactorGrid, entangled

SIZES = {
    "mig": {"num_train": 600},
    "dci": {"num_train": 600, "num_test": 200},
    "sap": {"num_train": 600, "num_test": 200},
    "modularity": {"num_train": 600, "num_test": 300},
    "factor_vae": {"num_train": 50, "num_eval": 30, "num_variance_estimate": 200},
}


@pytest.fixture(scope="module")
def grid():
    return FactorGrid((3, 6, 8, 4, 4))


def test_shared_samples_give_each_metrics_own_numbers(grid):
    rep = Counting()
    together = metrics.evaluate(
        rep, grid, list(SIZES), seed=7, mode="fast", params=SIZES, progress=False
    )
    # mig's 600 points are dci's and sap's training set; dci's 200 test points are sap's;
    # modularity wants 300 test points, so it draws its own 600 + 300; factor_vae samples alone
    assert rep.rows == 600 + 200 + (600 + 300) + 200 + 50 * 64 + 30 * 64
    for name, params in SIZES.items():
        if name == "dci":
            params = {**params, "mode": "fast"}
        alone = metrics.get(name)(grid, entangled, np.random.RandomState(7), **params)
        assert together[name] == alone, name


def test_seed_per_metric_and_callback(grid):
    seen = []
    out = metrics.evaluate(
        entangled,
        grid,
        "mig,sap",
        seed={"mig": 1, "sap": 2},
        params={"mig": SIZES["mig"], "sap": SIZES["sap"]},
        progress=False,
        callback=lambda name, scores, seconds: seen.append((name, scores, seconds >= 0)),
    )
    assert list(out) == ["mig", "sap"]
    assert [(n, s) for n, s, _ in seen] == list(out.items()) and all(ok for *_, ok in seen)
    assert out["mig"] == metrics.get("mig")(
        grid, entangled, np.random.RandomState(1), **SIZES["mig"]
    )


def test_metric_names_and_errors(grid):
    assert resolve_metrics("mig, dci") == ["mig", "dci"]
    everything = resolve_metrics("all")
    assert everything == single_representation_metrics()
    assert {"beta_vae", "factor_vae", "mig", "modularity", "dci", "sap"} <= set(everything)
    assert "udr" not in everything  # scores a set of models, not one representation
    with pytest.raises(KeyError, match="unknown metric 'migg'; valid names: beta_vae"):
        metrics.evaluate(entangled, grid, "migg", progress=False)
    with pytest.raises(ValueError, match=r"mig: unknown parameter\(s\) \['num_test'\]"):
        metrics.evaluate(entangled, grid, "mig", params={"mig": {"num_test": 5}}, progress=False)
    with pytest.raises(ValueError, match="not evaluated"):
        metrics.evaluate(entangled, grid, "mig", params={"dci": {}}, progress=False)
    with pytest.raises(ValueError, match="mode"):
        metrics.evaluate(entangled, grid, "mig", mode="quick", progress=False)


def test_registry_lists_parameters():
    assert metrics.info("mig").parameters == {"num_train": 10_000, "batch_size": 16, "num_bins": 20}
    assert metrics.info("dci").parameters["mode"] == "parity"
    assert metrics.info("beta_vae").description.startswith("BetaVAE score")
