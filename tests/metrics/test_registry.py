"""The metric contract: declared records, parameter validation, a toy metric run by evaluate()."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import dislab.data
import dislab.metrics as metrics
from dislab.data.base import GroundTruthData
from dislab.metrics import registry
from dislab.metrics._utils import MetricData, sample_splits
from dislab.metrics.cache import StateIndexData
from dislab.metrics.evaluate import metric_params, resolve_metrics, single_representation_metrics
from dislab.metrics.registry import MODES, Param

from .conftest import Counting, FactorGrid, entangled

TRAIN = {"num_train": 10_000, "batch_size": 16}
TRAIN_TEST = {"num_train": 10_000, "num_test": 5_000, "batch_size": 16}
DOWNSTREAM = {"num_train": (10, 100, 1000, 10000), "num_test": 5000, "batch_size": 16}

#: Each metric's record: what it consumes, its split sizes and its parameters with the
#: defaults of dlib's unsupervised_study_v1 configs (and dlib's behaviour for the options).
STUDY = {
    "beta_vae": ("observations", (), {
        "batch_size": 64, "num_train": 10_000, "num_eval": 5_000, "sklearn_defaults": "0.20",
    }),
    "factor_vae": ("observations", (), {
        "batch_size": 64, "num_train": 10_000, "num_eval": 5_000,
        "num_variance_estimate": 10_000, "threshold": 0.05, "prune_on": "std",
        "count_active_dims": False,
    }),
    "mig": ("samples", ("num_train",), {**TRAIN, "num_bins": 20}),
    "modularity": ("samples", ("num_train", "num_test"), {
        **TRAIN_TEST, "num_bins": 20, "sklearn_defaults": "0.20",
    }),
    "dci": ("samples", ("num_train", "num_test"), {
        **TRAIN_TEST, "mode": "parity", "n_jobs": 1, "informativeness": "accuracy",
    }),
    "sap": ("samples", ("num_train", "num_test"), {
        **TRAIN_TEST, "continuous_factors": False, "n_jobs": 1,
    }),
    "irs": ("samples", ("num_train",), {
        "diff_quantile": 0.99, **TRAIN, "num_bins": 20, "fix_num_active_dims": False,
    }),
    "unsupervised": ("samples", ("num_train",), {
        **TRAIN, "num_bins": 20, "fix_singular_covariance": False, "fix_complex_sqrtm": False,
    }),
    "downstream_task_logistic_regression": ("observations", (), {
        **DOWNSTREAM, "mode": "parity", "sklearn_defaults": "0.20",
        "fix_small_sample_cv": False, "n_jobs": 1,
    }),
    "downstream_task_boosted_trees": ("observations", (), {
        **DOWNSTREAM, "mode": "parity", "n_jobs": 1,
    }),
    "udr": ("models", (), {
        "num_data_points": 1000, "batch_size": 10, "correlation_matrix": "lasso",
        "filter_low_kl": True, "include_raw_correlations": True, "kl_filter_threshold": 0.01,
    }),
}  # fmt: skip


@pytest.mark.parametrize("name", list(STUDY))
def test_records(name):
    consumes, sample_sizes, defaults = STUDY[name]
    record = metrics.info(name)
    assert record.name == name and record.fn is metrics.get(name)
    assert (record.consumes, record.sample_sizes) == (consumes, sample_sizes)
    assert record.parameters == defaults and list(record.parameters) == list(defaults)
    assert (record.from_samples is not None) == (consumes == "samples")
    assert record.description == inspect.getdoc(record.fn).splitlines()[0]
    # the declaration matches the function's own keyword defaults (a direct call's settings)
    signature = inspect.signature(record.fn).parameters.values()
    keywords = {p.name: p.default for p in signature if p.kind is p.KEYWORD_ONLY}
    assert keywords == defaults
    # every default is valid, and metric_params gives the defaults when nothing is set
    assert metric_params(name, {}, "parity", 1) == defaults


def test_all_is_every_single_representation_metric():
    assert list(STUDY) == metrics.names()
    assert single_representation_metrics() == [n for n in STUDY if n != "udr"]
    assert resolve_metrics("all") == single_representation_metrics()
    with pytest.raises(ValueError, match="udr ranks a set of models"):
        resolve_metrics("mig,udr")


def test_mode_and_n_jobs_go_to_the_metrics_that_declare_them():
    assert metric_params("dci", {}, "fast", 2)["mode"] == "fast"
    assert metric_params("dci", {}, "fast", -1)["n_jobs"] == -1
    assert metric_params("dci", {"mode": "parity"}, "fast", 1)["mode"] == "parity"
    assert "mode" not in metric_params("mig", {}, "fast", 2)
    with pytest.raises(ValueError, match="mode must be one of parity, fast; got 'quick'"):
        metric_params("mig", {}, "quick", 1)
    assert MODES == ("parity", "fast")


@pytest.mark.parametrize(
    "name, overrides, message",
    [
        ("mig", {"num_test": 5}, r"mig: unknown parameter\(s\) \['num_test'\]; valid: num_train"),
        ("mig", {"num_train": -5}, "mig: num_train must be an int >= 1; got -5"),
        ("mig", {"num_train": 0}, "mig: num_train must be an int >= 1; got 0"),
        ("mig", {"num_train": 100.0}, "mig: num_train must be an int >= 1; got 100.0"),
        ("mig", {"num_train": True}, "mig: num_train must be an int >= 1; got True"),
        ("mig", {"num_bins": 2.5}, "mig: num_bins must be an int >= 2; got 2.5"),
        ("mig", {"num_bins": 1}, "mig: num_bins must be an int >= 2; got 1"),
        ("mig", {"batch_size": "16"}, "mig: batch_size must be an int >= 1; got '16'"),
        (
            "downstream_task_logistic_regression",
            {"num_train": "many"},
            "downstream_task_logistic_regression: num_train must be a non-empty list of ints "
            ">= 1; got 'many'",
        ),
        ("downstream_task_boosted_trees", {"num_train": [0, 10]}, r"num_train .* got \[0, 10\]"),
        ("downstream_task_boosted_trees", {"num_train": []}, r"num_train .* got \[\]"),
        ("downstream_task_boosted_trees", {"num_train": 100}, "num_train .* got 100"),
        ("downstream_task_boosted_trees", {"num_train": [10, 1.5]}, "num_train"),
        (
            "downstream_task_logistic_regression",
            {"predictor": "svm"},
            r"unknown parameter\(s\) \['predictor'\]",
        ),
        (
            "downstream_task_logistic_regression",
            {"sklearn_defaults": "1.5"},
            "sklearn_defaults must be one of 0.20, current; got '1.5'",
        ),
        ("dci", {"mode": "quick"}, "dci: mode must be one of parity, fast; got 'quick'"),
        ("dci", {"n_jobs": 0}, "dci: n_jobs must be an int >= -1 other than 0; got 0"),
        ("dci", {"informativeness": "loss"}, "dci: informativeness must be one of accuracy"),
        ("sap", {"continuous_factors": 1}, "sap: continuous_factors must be a bool; got 1"),
        ("irs", {"diff_quantile": 1.5}, r"irs: diff_quantile must be a number in \[0.0, 1.0\]"),
        ("irs", {"diff_quantile": float("nan")}, "irs: diff_quantile must be a number"),
        ("factor_vae", {"prune_on": "var"}, "factor_vae: prune_on must be one of std, variance"),
        ("factor_vae", {"threshold": -0.1}, "factor_vae: threshold must be a number >= 0.0"),
        ("factor_vae", {"batch_size": 1}, "factor_vae: batch_size must be an int >= 2"),
        ("beta_vae", {"sklearn_defaults": 0.2}, "beta_vae: sklearn_defaults must be one of"),
        ("udr", {"correlation_matrix": "pearson"}, "udr: correlation_matrix must be one of"),
    ],
)
def test_invalid_parameters_are_rejected(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        metric_params(name, overrides, "parity", 1)


def test_valid_values_of_another_form_are_accepted():
    params = metric_params("downstream_task_boosted_trees", {"num_train": [10, 20]}, "fast", 1)
    assert params["num_train"] == [10, 20]  # a TOML list for a tuple default
    assert metric_params("irs", {"diff_quantile": 1}, "parity", 1)["diff_quantile"] == 1
    assert metric_params("mig", {"num_train": np.int64(50)}, "parity", 1)["num_train"] == 50
    assert metric_params("factor_vae", {"count_active_dims": True}, "parity", 1)


def test_evaluate_checks_parameters(small_grid):
    with pytest.raises(ValueError, match="mig: num_bins must be an int >= 2; got 2.5"):
        metrics.evaluate(
            entangled, small_grid, "mig", params={"mig": {"num_bins": 2.5}}, progress=False
        )


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="default -1 is not an int >= 1"):
        Param(-1, minimum=1)
    with pytest.raises(ValueError, match="default 'x' is not one of a, b"):
        Param("x", choices=("a", "b"))
    with pytest.raises(TypeError, match="unsupported parameter default"):
        Param(None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("mig", consumes="samples", params={})(lambda: None)
    with pytest.raises(ValueError, match="consumes must be one of"):
        registry.register("toy_bad", consumes="images", params={})(lambda: None)
    with pytest.raises(ValueError, match=r"missing: \['batch_size'\]"):
        registry.register(
            "toy_bad",
            consumes="samples",
            sample_sizes=("num_train",),
            from_samples=lambda samples, rng: {},
            params={"num_train": Param(10)},
        )(lambda: None)
    with pytest.raises(ValueError, match="go with consumes='samples'"):
        registry.register(
            "toy_bad", consumes="observations", sample_sizes=("num_train",), params={}
        )(lambda: None)
    assert "toy_bad" not in metrics.names()


# -- a toy metric, declared as a new metric module would declare it ---------------------------
def toy_from_samples(samples, rng, *, scale=1.0):
    (train,) = samples
    return {"mean_code": scale * float(train.codes.mean()), "next_draw": int(rng.randint(1000))}


def toy(data, representation_fn, rng, *, num_train=100, batch_size=16, scale=1.0):
    """Toy: the scaled mean code of num_train points."""
    samples = sample_splits(data, representation_fn, [num_train], rng, batch_size=batch_size)
    return toy_from_samples(samples, rng, scale=scale)


def toy_factors(data, representation_fn, rng, *, num_points=10):
    """Toy of its own sampling: the mean first factor of num_points draws."""
    return {"mean_factor": float(data.sample_factors(num_points, rng)[:, 0].mean())}


@pytest.fixture
def toys():
    registry.register(
        "toy",
        consumes="samples",
        sample_sizes=("num_train",),
        from_samples=toy_from_samples,
        params={
            "num_train": Param(100, minimum=1),
            "batch_size": Param(16, minimum=1),
            "scale": Param(1.0, minimum=0.0),
        },
    )(toy)
    registry.register(
        "toy_factors", consumes="observations", params={"num_points": Param(10, minimum=1)}
    )(toy_factors)
    try:
        yield
    finally:
        registry.unregister("toy")
        registry.unregister("toy_factors")


def test_a_toy_metric_runs_through_the_contract(toys):
    grid = FactorGrid((3, 6, 8, 4, 4))
    assert single_representation_metrics()[-2:] == ["toy", "toy_factors"]
    assert metrics.info("toy").description == "Toy: the scaled mean code of num_train points."
    rep = Counting()
    params = {"mig": {"num_train": 300}, "toy": {"num_train": 300, "scale": 2}}
    out = metrics.evaluate(
        rep, grid, ["mig", "toy", "toy_factors"], seed=3, params=params, progress=False
    )
    assert rep.rows == 300  # toy's points are mig's, encoded once
    alone = toy(grid, entangled, np.random.RandomState(3), num_train=300, scale=2)
    assert out["toy"] == alone  # same points, and the RNG left where the metric leaves it
    assert out["toy_factors"] == toy_factors(grid, entangled, np.random.RandomState(3))
    with pytest.raises(ValueError, match="toy: scale must be a number >= 0.0; got -1"):
        metrics.evaluate(rep, grid, "toy", params={"toy": {"scale": -1}}, progress=False)


def test_the_toys_are_gone():
    assert not {"toy", "toy_factors"} & set(metrics.names())
    with pytest.raises(KeyError, match="unknown metric 'toy'"):
        registry.unregister("toy")


def test_state_index_data_is_metric_data_not_ground_truth_data():
    data = dislab.data.get("dsprites_full", source="procedural")
    view = StateIndexData(data)
    assert isinstance(view, MetricData) and isinstance(data, MetricData)
    assert not isinstance(view, GroundTruthData)
    assert view.num_factors == data.num_factors and view.factor_sizes == data.factor_sizes
    observations = view.sample_observations(4, np.random.RandomState(0))
    assert observations.dtype == np.int64 and observations.shape == (4,)
