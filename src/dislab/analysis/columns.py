"""Where the analyses find their numbers in the study table (:func:`dislab.study.load`).

This module is the only place that knows column names: adapt the tables below when the
study table changes. Every analysis takes the study DataFrame (one row per run) and keeps
the finished runs (``state == "done"``, when there is a ``state`` column).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dislab.rundir import REPRESENTATIONS

# The paper's six disentanglement metrics, all on the mean representation, as Locatello et al.
# (2019) report them.
METRICS = {
    "BetaVAE": "mean.beta_vae.eval_accuracy",
    "FactorVAE": "mean.factor_vae.eval_accuracy",
    "MIG": "mean.mig.discrete_mig",
    "Modularity": "mean.modularity.modularity_score",
    "DCI": "mean.dci.disentanglement",
    "SAP": "mean.sap.SAP_score",
}

# Unsupervised scores (the paper's unsupervised model selection, which correlates them with
# the metrics): training results, then unsupervised_metrics on both
# representations.
UNSUPERVISED = {
    "reconstruction": "train.reconstruction_loss",
    "KL": "train.kl_loss",
    "ELBO": "train.elbo",
    "regularizer": "train.regularizer",
    **{f"{label} ({rep})": f"{rep}.unsupervised.{key}"
       for rep in REPRESENTATIONS
       for label, key in (("TC", "gaussian_total_correlation"),
                          ("WD", "gaussian_wasserstein_correlation"),
                          ("MI", "mutual_info_score"))},
}

TC_SAMPLED = UNSUPERVISED["TC (sampled)"]
TC_MEAN = UNSUPERVISED["TC (mean)"]

# Downstream predictors: column prefix; accuracies are ``<prefix>.<n>:mean_test_accuracy``.
DOWNSTREAM = {
    "LR": "mean.downstream_task_logistic_regression",
    "GBT": "mean.downstream_task_boosted_trees",
}
FULL_SIZE = 10000  # the paper's "all data" training size
SMALL_SIZE = 100  # sample efficiency = accuracy at SMALL_SIZE / accuracy at FULL_SIZE


def accuracy_label(predictor: str) -> str:
    """Column of a predictor's downstream accuracy (``"LR accuracy"``)."""
    return f"{predictor} accuracy"


def efficiency_label(predictor: str) -> str:
    """Column of a predictor's sample efficiency (``"LR efficiency"``,
    :func:`dislab.metrics.downstream.sample_efficiency`)."""
    return f"{predictor} efficiency"


def is_efficiency_label(column: str) -> bool:
    return column.endswith(" efficiency")

# The hyperparameter that sets each model's regularisation strength (the swept one of dlib's
# config/unsupervised_study_v1/sweep.py).
REGULARIZATION = {
    "beta_vae": "beta",
    "beta_tc_vae": "beta",
    "factor_vae": "gamma",
    "dip_vae_i": "lambda_od",
    "dip_vae_ii": "lambda_od",
    "annealed_vae": "c_max",
    # the weakly-supervised models (Locatello et al. 2020): the KL weight; k is the supervision
    "ada_gvae": "beta",
    "ada_ml_vae": "beta",
    "gvae": "beta",
    "ml_vae": "beta",
}

# The weakly-supervised models (Locatello et al., ICML 2020), trained on pairs of observations;
# every other model of a study table counts as unsupervised.
WEAK_MODELS = ("ada_gvae", "ada_ml_vae", "gvae", "ml_vae")

GROUP = ["dataset", "model"]


class NotEnoughData(ValueError):
    """The study lacks what an analysis needs (e.g. a second seed); the message says what."""


def done_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The study's finished runs, with a ``strength`` column (see
    :func:`regularization_strength`) and a ``config`` column naming the model and its swept
    hyperparameters. External runs (:func:`is_external`, ``dislab study add``) are left out:
    they are not part of the study's population, so no analysis or verdict counts them."""
    return _finished(table, external=False)


def external_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The finished external runs (``dislab study add``), with the columns of
    :func:`done_runs` and a ``name``: the model (a representation function's name), followed
    by the run directory's name where several external runs share a model; empty when the
    table has none."""
    runs = _finished(table, external=True)
    shared = runs["model"].duplicated(keep=False)
    names = [f"{run['model']} ({_where(run)})" if twin else run["model"]
             for (_, run), twin in zip(runs.iterrows(), shared)]
    return runs.assign(name=pd.Series(names, index=runs.index, dtype=object))


def _where(run: pd.Series) -> str:
    """A run's directory name, or its model number when it has no directory."""
    run_dir = run.get("run_dir")
    return Path(run_dir).name if isinstance(run_dir, str) else str(run.get("model_num"))


def _finished(table: pd.DataFrame, external: bool) -> pd.DataFrame:
    """The finished runs that are (``external``) or are not external, with ``strength`` and
    ``config`` columns."""
    missing = [c for c in ("dataset", "model", "seed") if c not in table.columns]
    if missing:
        raise ValueError(f"not a study table: column(s) {', '.join(missing)} missing "
                         "(expected the frame of dislab.study.load)")
    if "state" in table.columns:
        table = table[table["state"] == "done"]
    table = table[is_external(table) == external].reset_index(drop=True)
    config = table["model"].map(str)
    for column in swept_columns(table):
        config = config + f" {column}=" + table[column].map(str)
    return table.assign(strength=regularization_strength(table), config=config)


def swept_columns(table: pd.DataFrame) -> list[str]:
    """The hyperparameter columns: those between ``model`` and ``seed``."""
    columns = list(table.columns)
    return columns[columns.index("model") + 1:columns.index("seed")]


def is_weak(table: pd.DataFrame) -> pd.Series:
    """Whether each run's model is weakly supervised (:data:`WEAK_MODELS`)."""
    return table["model"].isin(WEAK_MODELS)


def is_external(table: pd.DataFrame) -> pd.Series:
    """Whether each run was added from outside the study (``origin == "external"``: not
    part of the study's population)."""
    if "origin" not in table.columns:
        return pd.Series(False, index=table.index)
    return table["origin"].eq("external")


def combine(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Several study tables as one (e.g. a weakly-supervised study and its unsupervised
    baseline): rows stacked, with every table's hyperparameter columns (those between
    ``model`` and ``seed``) kept between ``model`` and ``seed``. ``model_num`` is each run's
    number in its own study."""
    if len(tables) == 1:
        return tables[0]
    frame = pd.concat(tables, ignore_index=True, sort=False)
    swept = list(dict.fromkeys(c for t in tables for c in swept_columns(t)))
    head = [c for c in frame.columns[:list(frame.columns).index("model") + 1] if c not in swept]
    rest = [c for c in frame.columns if c not in head and c not in swept]
    return frame[head + swept + rest]


def regularization_strength(table: pd.DataFrame) -> pd.Series:
    """Each run's regularisation strength: the value of its model's column in
    :data:`REGULARIZATION`; for other models the only swept column (the columns between
    ``model`` and ``seed``) that the run sets; NaN when there is none or several."""
    swept = swept_columns(table)
    values = np.full(len(table), np.nan)
    grid = table[swept].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    grid = grid.reshape(len(table), len(swept))  # non-numeric values count as unset
    for i, (model, row) in enumerate(zip(table["model"], grid)):
        column = REGULARIZATION.get(model)
        if column in swept:
            values[i] = row[swept.index(column)]
        elif np.isfinite(row).sum() == 1:
            values[i] = row[np.isfinite(row)][0]
    return pd.Series(values, index=table.index, name="strength")


def available(table: pd.DataFrame, names: dict[str, str]) -> dict[str, str]:
    """The entries of ``names`` whose column exists and holds at least one value."""
    return {label: column for label, column in names.items()
            if column in table.columns and table[column].notna().any()}


def require(condition: bool, message: str) -> None:
    if not condition:
        raise NotEnoughData(message)


def downstream_sizes(table: pd.DataFrame, prefix: str) -> list[int]:
    """Training sizes with a ``<prefix>.<n>:mean_test_accuracy`` column, ascending."""
    head, tail = f"{prefix}.", ":mean_test_accuracy"
    return sorted(int(c[len(head):-len(tail)]) for c in table.columns
                  if c.startswith(head) and c.endswith(tail) and c[len(head):-len(tail)].isdigit())


def accuracy_column(prefix: str, size: int) -> str:
    return f"{prefix}.{size}:mean_test_accuracy"
