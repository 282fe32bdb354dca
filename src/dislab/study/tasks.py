"""The one place where the study meets training, representations and metrics.

:func:`execute` is the work of one run (what the local pool and Ray call): train the model
(``dislab.train.train``, which resumes from the run's checkpoint, skips a finished run and
recomputes a corrupt ``results/train.json`` from the final checkpoint), then score every
(representation, metric) of the study with :func:`dislab.scoring.score_run`, which writes
each result as soon as it is done and reuses those already stored with the same seeds, mode,
parameters and checkpoint, so an interrupted evaluation continues where it stopped.
:func:`collect_scores` reads the same scores back from a run directory without computing
anything (for ``dislab study rebuild``).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from dislab.study.spec import RunSpec

TRAIN_KEYS_SKIPPED = ("eval_samples",)

Score = tuple[str, str, str, float]


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


def evaluations(run: RunSpec) -> list:
    """The run's (representation, metric) pairs as :class:`dislab.scoring.Evaluation`."""
    from dislab.scoring import Evaluation

    return [Evaluation(rep, metric, run.evaluation_seeds[rep][metric],
                       run.evaluation_seeds[rep]["representation"], run.metrics[metric])
            for rep, metric in run.evaluations]


def execute(run: RunSpec, run_dir: str | Path, device: str | None = None,
            threads: int | None = None) -> dict[str, Any]:
    """Train and evaluate ``run`` in ``run_dir``; returns its timings, device, data source and
    ``scores`` as ``[(representation, metric, key, value), ...]`` (training results under
    representation ``""``, metric ``"train"``). Exceptions propagate."""
    from dislab import rundir
    from dislab._runtime import configure_process
    from dislab.scoring import score_run
    from dislab.train import TrainConfig, train

    configure_process()  # a Ray worker starts no other way
    start = time.perf_counter()
    config = TrainConfig.from_dict(train_config(run, run_dir, device, threads))
    data = dataset(run.dataset, run.source, config.data_root)
    trained = time.perf_counter()
    train(config, data=data, recompute_results=True)
    train_seconds = time.perf_counter() - trained
    scores = train_scores(rundir.read_train_results(run_dir))
    evaluated = time.perf_counter()
    device_name = str(rundir.resolve_device(config.device))
    records = score_run(run_dir, evaluations(run), data=data, mode=run.metric_mode,
                        device=device_name)
    scores += metric_scores(records)
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - evaluated,
            "setup_seconds": trained - start, "device": device_name,
            "data_source": data.source, "scores": scores}


def collect_scores(run: RunSpec, run_dir: str | Path) -> list[Score] | None:
    """The scores :func:`execute` would return, read from ``run_dir`` alone; ``None`` when the
    training results or any evaluation of the run are missing, corrupt or stale."""
    from dislab import rundir
    from dislab.scoring import stored_result

    try:
        train_results = rundir.read_train_results(run_dir)
    except (FileNotFoundError, ValueError):
        return None
    step = train_results["global_step"]  # the final checkpoint's, without loading it
    records = [stored_result(run_dir, e, run.metric_mode, step) for e in evaluations(run)]
    if any(r is None for r in records):
        return None
    return train_scores(train_results) + metric_scores(records)


def train_scores(results: dict[str, Any]) -> list[Score]:
    return [("", "train", k, v) for k, v in results.items()
            if k not in TRAIN_KEYS_SKIPPED and _is_number(v)]


def metric_scores(records: list[dict[str, Any]]) -> list[Score]:
    return [(r["representation"], r["metric"], k, v) for r in records
            for k, v in r["scores"].items() if _is_number(v)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
