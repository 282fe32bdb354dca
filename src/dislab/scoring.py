"""Score a trained run with the metrics: the one writer of its metric result files,
``results/<representation>/<metric>.json`` in the run directory.

>>> from dislab.scoring import Evaluation, score_run
>>> records = score_run("runs/x", [Evaluation("mean", "mig"), Evaluation("sampled", "mig")])

Both ``dislab evaluate`` and the study runner go through :func:`score_run` (as does
``dislab study add``), so every result file has one format (:func:`request` plus
``dataset``, ``dataset_source``, ``finished``, ``scores``, ``elapsed_time``,
``dislab_version``)::

    metric, representation   what was scored
    seed                     the metric's evaluation seed (dlib's ``evaluation.random_seed``)
    representation_seed      the noise seed of the ``sampled`` representation
    precision                the encoder's precision, only when it is not fp32 (bf16: fast
                             mode only)
    mode, params             ``parity`` or ``fast`` and every metric parameter (defaults filled
                             in; ``n_jobs`` left out: it changes speed only)
    global_step              the training step of the checkpoint that was scored
    finished                 whether training had finished (``results/train.json`` existed)
    stale                    only once training has moved past ``global_step``
                             (:func:`dislab.rundir.mark_stale_results`)

A stored result is reused when its request matches exactly and it is not stale, so an
interrupted evaluation continues where it stopped and a finished one costs nothing.

Each evaluation builds its representation function afresh from the checkpoint, so the noise
of the ``sampled`` representation depends on its seed only, not on which metrics ran before.
All evaluations of a run share one :class:`~dislab.metrics.CodeCache` where that is exact:
each dataset state is encoded once for every metric and both representations.

:func:`score_function` scores a representation function of one's own (no run directory) with
the same metric calls and records, writing nothing (``dislab.study.add_representation``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dislab import __version__, rundir
from dislab._io import write_json

#: Metric parameters that change how fast a metric runs, not its numbers.
SPEED_PARAMS = ("n_jobs",)


@dataclass(frozen=True)
class Evaluation:
    """One (representation, metric) to score, with its seeds and parameter overrides."""

    representation: str
    metric: str
    seed: int = 0
    representation_seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)


class ResultNotWritten(RuntimeError):
    """A metric was computed but its result file could not be written; the message holds the
    scores, so they are not lost."""


def run_dataset(run_dir: str | os.PathLike, name: str | None = None,
                source: str | None = None):
    """The dataset a run was trained on (its ``config.json``: name, resolved source, data
    root), or the one named."""
    from dislab import data

    config = rundir.read_config(run_dir)
    return data.get(name or config["dataset"],
                    source=source or config["resolved"]["dataset_source"],
                    root=config.get("data_root"))


def request(evaluation: Evaluation, mode: str, global_step: int | None,
            precision: str = "fp32") -> dict[str, Any]:
    """What a stored result must match to be reused (JSON-normalised); ``precision`` (the
    encoder's, resolved) is recorded when it is not fp32; ``global_step`` is ``None`` for a
    representation function (:func:`score_function`)."""
    from dislab.metrics.evaluate import metric_params

    params = metric_params(evaluation.metric, evaluation.params, mode, 1)
    params = {k: v for k, v in params.items() if k not in SPEED_PARAMS}
    wanted = {"metric": evaluation.metric, "representation": evaluation.representation,
              "seed": evaluation.seed, "representation_seed": evaluation.representation_seed,
              "mode": mode, "params": params, "global_step": global_step}
    if precision != "fp32":
        wanted["precision"] = precision
    return _jsonable(wanted)


def stored_result(run_dir: str | os.PathLike, evaluation: Evaluation, mode: str,
                  global_step: int, precision: str = "fp32") -> dict[str, Any] | None:
    """The stored result of ``evaluation`` when it matches the request and is not stale."""
    path = rundir.metric_result_path(run_dir, evaluation.representation, evaluation.metric)
    record = rundir.read_metric_result(path)
    wanted = request(evaluation, mode, global_step, precision)
    if record is not None and record.get("precision", "fp32") != precision:
        return None
    if record is None or record.get("stale") or any(record.get(k) != v
                                                     for k, v in wanted.items()):
        return None
    return record


def check_finished(run_dir: str | os.PathLike, allow_unfinished: bool) -> tuple[int, bool]:
    """``(global step of the checkpoint, whether training is finished)``: a finished run's step
    is its ``results/train.json``'s (the final checkpoint's, without loading it); an
    unfinished run is refused unless ``allow_unfinished``, a corrupt ``train.json`` always."""
    step, finished = rundir.trained_step(run_dir)
    if not finished and not allow_unfinished:
        total = rundir.read_config(run_dir)["steps"]
        raise ValueError(f"{run_dir}: training is not finished (checkpoint at step {step} of "
                         f"{total}); finish it by rerunning its `dislab train` command, or "
                         "score this checkpoint with --allow-unfinished (the results record "
                         "the step and are marked stale when training finishes)")
    return step, finished


def score_run(
    run_dir: str | os.PathLike,
    evaluations: Iterable[Evaluation],
    *,
    data=None,
    mode: str = "parity",
    device: str = "cpu",
    n_jobs: int = 1,
    cache: bool = True,
    precision: str = "fp32",
    allow_unfinished: bool = False,
    progress: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Score the run in ``run_dir`` on every evaluation; returns the result records in order.

    Computes only what is not stored (:func:`stored_result`) and writes each result
    atomically as soon as it is done; ``on_result(record)`` is called for every record,
    reused or new. ``data`` defaults to the run's dataset (:func:`run_dataset`); ``cache``
    shares one :class:`~dislab.metrics.CodeCache` between all evaluations where exact;
    ``precision`` is the encoder's (``fp32``; ``bf16`` or ``auto`` in fast mode only).
    """
    from dislab import represent
    from dislab.metrics.cache import auto_cache

    evaluations = list(evaluations)
    precision = rundir.resolve_precision(precision, rundir.resolve_device(device))
    if precision != "fp32" and mode != "fast":
        raise ValueError(f"precision {precision} is for fast mode; parity mode always encodes "
                         "in fp32")
    global_step, finished = check_finished(run_dir, allow_unfinished)
    data = run_dataset(run_dir) if data is None else data
    shared_cache: list = []  # built on first use; None when caching is not exact here
    records = []
    for evaluation in tqdm(evaluations, desc="metrics", unit="metric", disable=not progress):
        record = stored_result(run_dir, evaluation, mode, global_step, precision)
        if record is None:
            start = time.perf_counter()
            representation_fn = represent.load(run_dir, evaluation.representation,
                                               seed=evaluation.representation_seed,
                                               device=device, precision=precision)
            if cache and not shared_cache:
                shared_cache.append(auto_cache(data, representation_fn))
            scores = _scores(representation_fn, data, evaluation, mode, n_jobs,
                             (shared_cache[0] or False) if cache else False)
            record = _record(request(evaluation, mode, global_step, precision), data, finished,
                             scores, start)
            _write(rundir.metric_result_path(run_dir, evaluation.representation,
                                             evaluation.metric), record)
        records.append(record)
        if on_result is not None:
            on_result(record)
    return records


def score_function(representation_fn: Callable, data, evaluations: Iterable[Evaluation], *,
                   mode: str = "parity", n_jobs: int = 1, cache: bool = True,
                   progress: bool = False) -> list[dict[str, Any]]:
    """Score a representation function of one's own (float32 images ``[N, H, W, C]`` in
    [0, 1] -> codes ``[N, D]``) on every evaluation, as :func:`score_run` scores a run's
    representation: the same metric calls and records, with ``global_step`` and ``finished``
    ``None`` (a function has no checkpoint). Nothing is written or reused (a function has no
    run directory); returns the records in order. ``cache`` shares one
    :class:`~dislab.metrics.CodeCache` between the evaluations where that is exact (a
    function with a true ``deterministic`` attribute or a ``split_for_cache`` method)."""
    from dislab.metrics.cache import auto_cache

    shared = (auto_cache(data, representation_fn) or False) if cache else False
    records = []
    for evaluation in tqdm(list(evaluations), desc="metrics", unit="metric",
                           disable=not progress):
        start = time.perf_counter()
        scores = _scores(representation_fn, data, evaluation, mode, n_jobs, shared)
        records.append(_record(request(evaluation, mode, None), data, None, scores, start))
    return records


def _scores(representation_fn, data, evaluation: Evaluation, mode: str, n_jobs: int,
            cache) -> dict[str, Any]:
    """One metric's scores of one representation: :func:`dislab.metrics.evaluate` with the
    evaluation's seed and parameters."""
    from dislab import metrics

    return metrics.evaluate(
        representation_fn, data, [evaluation.metric], seed=evaluation.seed, mode=mode,
        params={evaluation.metric: evaluation.params}, n_jobs=n_jobs, cache=cache,
        progress=False)[evaluation.metric]


def _record(wanted: dict[str, Any], data, finished: bool | None, scores: dict[str, Any],
            start: float) -> dict[str, Any]:
    """A result record: the ``request`` it answers, the data, the scores and the time since
    ``start`` (``time.perf_counter``)."""
    return {**wanted, "dataset": getattr(data, "name", None) or type(data).__name__,
            "dataset_source": getattr(data, "source", None), "finished": finished,
            "scores": _jsonable(scores), "elapsed_time": time.perf_counter() - start,
            "dislab_version": __version__}


def _write(path: Path, record: dict[str, Any]) -> None:
    try:
        write_json(path, record)
    except OSError as err:
        raise ResultNotWritten(
            f"could not write {path} ({err.strerror or err}); the {record['representation']} "
            f"{record['metric']} scores computed were {json.dumps(record['scores'])}") from err


def _jsonable(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples -> lists, numpy scalars -> floats;
    NaN/inf kept as floats)."""
    return json.loads(json.dumps(value, default=float))
