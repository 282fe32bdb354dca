"""Read dlib's aggregated results JSON (``dlib_aggregate_results``: dlib
``utils/aggregate_results.py`` over the JSON files of ``utils/results.py``).

The file is ``pandas.DataFrame.to_json()`` of one flat dict per (model, representation,
metric) evaluation, with gin values kept as raw text (``"'dsprites_full'"``, ``"1.0"``).
:func:`read_aggregated` turns it into the store's runs and scores: dlib's metric config names
become dislab's (``beta_vae_sklearn`` -> ``beta_vae`` ...), training results go under
representation ``""`` and metric ``"train"``.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from dislab.study.spec import DLIB_METRIC_NAMES

# model name -> gin scope of its hyperparameters and the swept one (dlib
# config/unsupervised_study_v1/sweep.py)
SWEPT = {
    "beta_vae": ("vae", "beta"),
    "factor_vae": ("factor_vae", "gamma"),
    "dip_vae_i": ("dip_vae", "lambda_od"),
    "dip_vae_ii": ("dip_vae", "lambda_od"),
    "beta_tc_vae": ("beta_tc_vae", "beta"),
    "annealed_vae": ("annealed_vae", "c_max"),
}
_FROM_DLIB = {dlib: ours for ours, dlib in DLIB_METRIC_NAMES.items()}
_REQUIRED = ("train_config.model.model_num", "train_config.dataset.name",
             "train_config.model.name", "train_config.model.random_seed",
             "postprocess_config.postprocess.name", "evaluation_config.evaluation.name")
_NOT_SCORES = {"elapsed_time", "uuid"}


def gin_value(text: Any) -> Any:
    """A raw gin value as Python: ``"'mig'"`` -> ``"mig"``, ``"1.0"`` -> ``1.0``; references
    such as ``"@vae()"`` and anything else unparseable stay text."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _is_number(value: Any) -> bool:
    """A real score (NaN marks a key that belongs to another row's metric)."""
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and not math.isnan(value)


def read_aggregated(path: str | Path) -> tuple[list[dict], dict[int, list[tuple]]]:
    """``(runs, scores)``: run rows for :class:`~dislab.study.store.Store` and
    ``{model_num: [(representation, metric, key, value), ...]}``."""
    try:
        frame = pd.read_json(Path(path), orient="columns")
    except (ValueError, OSError) as err:
        raise ValueError(f"cannot read dlib aggregated results {path}: {err}") from None
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not dlib's aggregated results table: missing column(s) "
                         f"{', '.join(missing)}")
    runs: dict[int, dict] = {}
    scores: dict[int, list[tuple]] = {}
    for row in frame.to_dict(orient="records"):
        values = {k: gin_value(v) for k, v in row.items()}
        model_num = int(values["train_config.model.model_num"])
        if model_num not in runs:
            runs[model_num] = _run(model_num, values)
            scores[model_num] = _scores(values, "train_results.", "", "train")
        rep = values["postprocess_config.postprocess.name"]
        metric = values["evaluation_config.evaluation.name"]
        scores[model_num] += _scores(values, "evaluation_results.", rep,
                                     _FROM_DLIB.get(metric, metric))
    return list(runs.values()), scores


def _run(model_num: int, values: dict[str, Any]) -> dict[str, Any]:
    model = values["train_config.model.name"]
    scope, swept = SWEPT.get(model, (None, None))
    prefix = f"train_config.{scope}."
    hyper = {k[len(prefix):]: v for k, v in values.items() if scope and k.startswith(prefix)}
    sweep = {swept: hyper[swept]} if swept in hyper else {}
    config = {"dataset": values["train_config.dataset.name"], "model": model,
              "hyperparameters": hyper, "seed": int(values["train_config.model.random_seed"]),
              "origin": "dlib"}
    return {"model_num": model_num, "dataset": config["dataset"], "model": model,
            "seed": config["seed"], "sweep": json.dumps(sweep, sort_keys=True),
            "hyperparameters": json.dumps(hyper, sort_keys=True),
            "config": json.dumps(config, sort_keys=True), "run_dir": values.get("path")}


def _scores(values: dict[str, Any], prefix: str, rep: str, metric: str) -> list[tuple]:
    return [(rep, metric, k[len(prefix):], float(v)) for k, v in values.items()
            if k.startswith(prefix) and k[len(prefix):] not in _NOT_SCORES and _is_number(v)]
