"""The one place where the study meets training, representations and metrics.

:func:`execute` is the work of one run (what the local pool and Ray call): train the model
(``dislab.train.train``, which resumes from the run's checkpoint and skips a finished run),
then score every (representation, metric) of the study with ``dislab.metrics.evaluate``.
Each metric's result is written to ``RUN_DIR/results/<representation>/<metric>.json`` (the
format of ``dislab evaluate``) as soon as it is done and reused when a rerun asks for the
same seed, mode and parameters, so an interrupted evaluation continues where it stopped.

The ``sampled`` representation is rebuilt with its seed for every metric, so its noise does
not depend on which metrics ran before (or were reused). All evaluations of a run share one
:class:`~dislab.metrics.cache.CodeCache` where the dataset allows it: each state is encoded
once for both representations and every metric.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from dislab._io import write_json
from dislab.study.spec import RunSpec

TRAIN_KEYS_SKIPPED = ("eval_samples",)


@functools.lru_cache(maxsize=1)
def dataset(name: str, source: str, root: str | None):
    """The dataset of a run, kept for the next run of the same worker (runs are ordered by
    dataset, so each worker builds or loads each dataset about once)."""
    from dislab import data

    return data.get(name, source=source, root=root)


def train_config(run: RunSpec, run_dir: str | Path, device: str | None = None,
                 threads: int | None = None) -> dict[str, Any]:
    """The ``TrainConfig`` options of ``run`` (``device``/``threads`` override the study's)."""
    config = {**run.train, "model": run.model, "hyperparameters": dict(run.hyperparameters),
              "dataset": run.dataset, "source": run.source, "seed": run.seed,
              "run_dir": str(run_dir), "progress": False}
    if device is not None:
        config["device"] = device
    if threads is not None:
        config["threads"] = threads
    return config


def execute(run: RunSpec, run_dir: str | Path, device: str | None = None,
            threads: int | None = None) -> dict[str, Any]:
    """Train and evaluate ``run`` in ``run_dir``; returns its timings, device, data source and
    ``scores`` as ``[(representation, metric, key, value), ...]`` (training results under
    representation ``""``, metric ``"train"``). Exceptions propagate."""
    from dislab.train import RESULTS_FILE, TrainConfig, resolve_device, train

    start = time.perf_counter()
    config = TrainConfig.from_dict(train_config(run, run_dir, device, threads))
    data = dataset(run.dataset, run.source, config.data_root)
    trained = time.perf_counter()
    train(config, data=data)
    train_seconds = time.perf_counter() - trained
    results = json.loads((Path(run_dir) / RESULTS_FILE).read_text())
    scores = [("", "train", k, v) for k, v in results.items()
              if k not in TRAIN_KEYS_SKIPPED and _is_number(v)]
    evaluated = time.perf_counter()
    device_name = str(resolve_device(config.device))
    scores += evaluate_run(run, run_dir, data, device_name)
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - evaluated,
            "setup_seconds": trained - start, "device": device_name,
            "data_source": data.source, "scores": scores}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate_run(run: RunSpec, run_dir: str | Path, data, device: str = "cpu") -> list[tuple]:
    """Every (representation, metric) score of ``run``, computing only the missing ones."""
    scores = []
    shared: dict = {}  # the run's CodeCache, built on first use (mean and sampled share it)
    for rep, metric in run.evaluations:
        record = _metric_record(run, run_dir, data, device, rep, metric, run.metrics[metric],
                                shared)
        scores += [(rep, metric, k, v) for k, v in record["scores"].items() if _is_number(v)]
    return scores


def _metric_record(run: RunSpec, run_dir, data, device, rep, metric, overrides,
                   shared: dict) -> dict:
    from dislab import metrics, represent
    from dislab.metrics.cache import auto_cache
    from dislab.metrics.evaluate import metric_params

    seeds = run.evaluation_seeds[rep]
    wanted = _jsonable({"metric": metric, "representation": rep, "seed": seeds[metric],
                        "representation_seed": seeds["representation"],
                        "mode": run.metric_mode,
                        "params": metric_params(metric, overrides, run.metric_mode, 1)})
    path = Path(run_dir) / "results" / rep / f"{metric}.json"
    stored = _read_json(path)
    if stored is not None and all(stored.get(k) == v for k, v in wanted.items()):
        return stored
    start = time.perf_counter()
    representation_fn = represent.load(run_dir, rep, seed=seeds["representation"],
                                       device=device)
    if "cache" not in shared:
        shared["cache"] = auto_cache(data, representation_fn)
    result = metrics.evaluate(representation_fn, data, [metric], seed=seeds[metric],
                              mode=run.metric_mode, params={metric: overrides},
                              cache=shared["cache"] or False, progress=False)[metric]
    record = {**wanted, "dataset": run.dataset, "scores": _jsonable(result),
              "elapsed_time": time.perf_counter() - start}
    write_json(path, record)
    return record


def _jsonable(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples -> lists, numpy scalars -> floats;
    NaN/inf kept as floats)."""
    return json.loads(json.dumps(value, default=float))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
