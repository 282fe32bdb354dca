"""The cost model of ``dislab study plan``: measured time and disk of one run of a study.

Training is timed in steady state: a short run of the study's first run with one log row per
iteration, its first ``warmup`` iterations discarded (allocations, kernel selection, caches)
and the median taken over the others (robust to a few slow steps); the run is as long as it
takes to see at least ``target_seconds`` (or ``max_steps`` iterations) of steady state. It
runs with the thread count a study worker gets (``dislab study run``: the CPUs shared out
among the workers). A loaded machine inflates every time measured here: :func:`estimate`
reports the load average before and after (``os.getloadavg``) and the CPU count, and
``dislab study plan`` warns when the load exceeded the CPUs.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

from dislab.study.tasks import dataset, train_config

SIZE_PARAMS = ("num_train", "num_test", "num_eval", "num_variance_estimate")


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def default_threads(workers: int | None, threads: int | None = None) -> tuple[int, int]:
    """``(workers, threads per run)`` as ``dislab study run``'s local backend picks them."""
    cpus = os.cpu_count() or 1
    workers = workers or cpus
    return workers, threads or max(1, cpus // workers)


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def load_report(before: float | None, after: float | None, cpus: int) -> dict[str, Any]:
    """The machine's load while measuring: the 1-minute load averages, the CPU count,
    ``busy`` when the larger load exceeded the CPUs and ``load_factor`` (load / CPUs, at
    least 1): roughly how much the measured times are inflated by the other processes."""
    loads = [x for x in (before, after) if x is not None]
    load = max(loads) if loads else None
    factor = max(1.0, load / cpus) if load is not None else 1.0
    return {"load_before": before, "load_after": after, "cpus": cpus,
            "busy": load is not None and load > cpus, "load_factor": factor}


def step_times(rows: list[dict[str, Any]], batch_size: int, warmup: int = 0) -> list[float]:
    """Seconds per global step of each row of a ``train_log.csv`` whose iteration is past
    ``warmup`` (a row averages the iterations since the one before: ``batch_size /
    images_per_second`` seconds each, over ``global_step / iteration`` global steps).
    ``batch_size`` counts the images of one iteration (twice the batch for a model trained
    on pairs)."""
    times = []
    for row in rows:
        iteration, global_step = int(row["iteration"]), int(row["global_step"])
        if iteration > warmup:
            times.append(batch_size / float(row["images_per_second"]) * iteration / global_step)
    return times


def _reduced(value: Any, scale: float) -> Any:
    """A sample size cut by ``scale`` (sizes up to 100 are kept)."""
    if isinstance(value, list | tuple):
        return [_reduced(v, scale) for v in value]
    return value if value <= 100 else max(100, round(value * scale))


def _points(params: dict[str, Any]) -> int:
    """Total sample size of a metric's parameters (the cost model's variable)."""
    total = 0
    for key in SIZE_PARAMS:
        value = params.get(key, 0)
        total += sum(value) if isinstance(value, list | tuple) else value
    return total


def _extrapolate(points: list[int], times: list[float], full: int) -> float:
    """The time at ``full`` points on the line through two timings (proportional when the two
    sizes coincide, as for metrics already close to the minimum size)."""
    if points[1] == points[0]:
        return sum(times) / 2 * full / max(points[0], 1)
    slope = max(times[1] - times[0], 0.0) / (points[1] - points[0])
    return max(times[0] + slope * (full - points[0]), 0.0)


def estimate(spec, scales: tuple[float, float] = (0.02, 0.05), threads: int | None = None,
             warmup: int = 3, min_steps: int = 5, target_seconds: float = 2.0,
             max_steps: int = 1000) -> dict[str, Any]:
    """Measured cost of one run of ``spec`` on this machine, for ``dislab study plan``.

    Training: the study's first run, on the procedural version of its dataset when there is
    one, with ``threads`` torch threads (default: the study's ``[train] threads``, else
    torch's current count). A probe of ``warmup + min_steps`` iterations gives a first step
    time; unless its steady part already lasted ``target_seconds``, a second run measures
    about that long (at least ``min_steps``, at most ``max_steps`` iterations past the
    warm-up). The step time is the median over the iterations past the warm-up
    (:func:`step_times`). The per-run overhead (building the model, the warm-up's extra
    time, one checkpoint, the results file) is that run's wall time less its iterations at
    the median step time; every further checkpoint of a study run costs one timed save; the
    final evaluation counts a third of an iteration per batch (a forward pass).

    Metrics: each runs once at the smaller of its reduced sample sizes to warm up (imports,
    compilation: paid once per worker process, not per run), then at two reduced sizes
    (:func:`_sizes`: about ``scales`` of the study's, sizes up to 100 kept, the second at
    least twice the first; or the study's own sizes when they are small), on the briefly
    trained model; :func:`_extrapolate` takes the timings to the full size (a fixed cost
    plus a cost per point). Disk: the checkpoint, the log scaled to the study's
    steps, and the metric files. Load: :func:`load_report`, from the load averages before
    and after measuring.
    """
    import csv
    import tempfile

    import torch

    from dislab import data as datasets
    from dislab import metrics, models, represent
    from dislab.metrics.evaluate import metric_params
    from dislab.rundir import (
        CHECKPOINT_FILE,
        LOG_FILE,
        load_checkpoint,
        resolve_device,
        save_checkpoint,
    )
    from dislab.train import TrainConfig, train

    load_before = _load()
    run = spec.runs()[0]
    procedural = datasets.info(run.dataset).make_procedural is not None
    data = dataset(run.dataset, "procedural" if procedural else run.source,
                   run.train.get("data_root"))
    full = TrainConfig.from_dict(train_config(run, "unused", threads=threads))
    objective = models.make_objective(full.model, full.hyperparameters, full.num_latent)
    spi = objective.steps_per_iteration
    # the images of one iteration, as the log's images_per_second counts them: a
    # weakly-supervised model's batch is batch_size pairs
    images = full.batch_size * (2 if getattr(objective, "trains_on_pairs", False) else 1)
    torch_threads = torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="dislab-plan-") as tmp:
            def timed_run(name: str, iterations: int) -> tuple[Path, list[dict], float]:
                run_dir = Path(tmp) / name
                config = TrainConfig.from_dict({
                    **train_config(run, run_dir, threads=threads), "steps": iterations * spi,
                    "checkpoint_every": iterations, "log_every": 1,
                    "eval_samples": full.batch_size})
                tick = time.perf_counter()
                train(config, data=data)
                wall = time.perf_counter() - tick
                with (run_dir / LOG_FILE).open(newline="") as f:
                    return run_dir, list(csv.DictReader(f)), wall

            run_dir, rows, wall = timed_run("probe", warmup + min_steps)
            times = step_times(rows, images, warmup)
            if sum(times) < target_seconds:
                more = math.ceil(target_seconds / statistics.median(times))
                run_dir, rows, wall = timed_run(
                    "steady", warmup + min(max_steps, max(min_steps, more // spi)))
                times = step_times(rows, images, warmup)
            step = statistics.median(times)
            iteration = step * spi
            overhead = max(0.0, wall - iteration * len(rows))
            tick = time.perf_counter()
            save_checkpoint(Path(tmp), load_checkpoint(run_dir / CHECKPOINT_FILE))
            checkpoint = time.perf_counter() - tick
            actual_threads = torch.get_num_threads()
            iterations = math.ceil(full.steps / spi)
            log_bytes = (run_dir / LOG_FILE).stat().st_size / len(rows)
            disk = (run_dir / CHECKPOINT_FILE).stat().st_size + \
                log_bytes * math.ceil(iterations / full.log_every) + 2048 * len(run.evaluations)
            device = str(resolve_device(full.device))
            per_metric = {}
            for rep, metric in run.evaluations:
                if metric not in per_metric:
                    per_metric[metric] = _time_metric(run, rep, metric, run_dir, data, device,
                                                      scales, metrics, represent,
                                                      metric_params)
    finally:
        torch.set_num_threads(torch_threads)
    batches = math.ceil(full.eval_samples / full.batch_size)
    train_seconds = (overhead + iteration * iterations
                     + checkpoint * (math.ceil(iterations / full.checkpoint_every) - 1)
                     + iteration / 3 * (batches - 1))
    eval_seconds = sum(per_metric[m] for _, m in run.evaluations)
    return {"device": device, "dataset": f"{run.dataset} ({data.source})",
            "threads": actual_threads, "step_seconds": step, "steps": full.steps,
            "steady_steps": len(times), "warmup_steps": warmup,
            "overhead_seconds": overhead, "checkpoint_seconds": checkpoint,
            "train_seconds": train_seconds, "eval_seconds": eval_seconds,
            "metric_seconds": per_metric, "run_seconds": train_seconds + eval_seconds,
            "disk_bytes": disk, **load_report(load_before, _load(), cpu_count())}


def _scaled(params: dict[str, Any], scale: float) -> dict[str, Any]:
    return {k: (_reduced(v, scale) if k in SIZE_PARAMS else v) for k, v in params.items()}


def _sizes(params: dict[str, Any], scales: tuple[float, float]) -> list[dict[str, Any]]:
    """The parameter sets a metric is timed at: the study's own when the first reduced size
    would be more than half of it (exact, and cheap); else two reduced ones, the second at
    least twice the first in total sample size (sizes reduced with a floor of 100 can
    coincide, and timings at one size cannot separate fixed from per-point costs)."""
    full = _points(params)
    small = _scaled(params, scales[0])
    if 2 * _points(small) >= full:
        return [params]
    return [small, _scaled(params, max(scales[1], 2 * _points(small) / full))]


def _time_metric(run, rep, metric, run_dir, data, device, scales, metrics, represent,
                 metric_params) -> float:
    """Seconds one evaluation of ``metric`` takes at the study's sizes: timed at the
    :func:`_sizes` after one warm-up evaluation at the first, and extrapolated."""
    params = metric_params(metric, run.metrics[metric], run.metric_mode, 1)
    sizes = _sizes(params, scales)
    points, times = [], []
    for small in (sizes[0], *sizes):
        representation_fn = represent.load(run_dir, rep, device=device)
        tick = time.perf_counter()
        metrics.evaluate(representation_fn, data, [metric], mode=run.metric_mode,
                         params={metric: small}, progress=False)
        times.append(time.perf_counter() - tick)
        points.append(_points(small))
    if len(sizes) == 1:
        return times[1]
    return _extrapolate(points[1:], times[1:], _points(params))


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown CPU"


#: The reduced metric sizes of :func:`cached_estimate` (the report's banner): half of
#: ``dislab study plan``'s, to measure in about half the time.
CACHED_SCALES = (0.01, 0.02)


def cached_estimate(study: str | Path, cache: str | Path, threads: int = 1) -> dict[str, Any]:
    """:func:`estimate` of the study file or preset ``study`` at ``threads`` threads and
    metric sizes :data:`CACHED_SCALES`,
    remembered in the JSON file ``cache`` and reused while the study's text, the CPU, the
    thread count and the dislab version are the same (measuring takes tens of seconds).
    Adds ``num_runs``, ``description`` and ``cpu`` to the estimate."""
    import hashlib
    import json
    import warnings

    from dislab import __version__
    from dislab._io import write_json
    from dislab.study import spec as study_spec

    text, origin = study_spec.read_text(study)
    key = {"study": hashlib.sha256(text.encode()).hexdigest(), "cpu": cpu_name(),
           "threads": threads, "version": __version__}
    try:
        stored = json.loads(Path(cache).read_text())
        if stored.get("key") == key:
            return stored["estimate"]
    except (OSError, ValueError, AttributeError):
        pass  # absent or damaged: measure again
    spec = study_spec.loads(text, origin)
    with warnings.catch_warnings():  # convergence warnings of the tiny timing fits
        warnings.simplefilter("ignore")
        result = estimate(spec, scales=CACHED_SCALES, threads=threads)
    result = {**result, "num_runs": spec.num_runs, "description": spec.description,
              "cpu": key["cpu"]}
    write_json(cache, {"key": key, "estimate": result})
    return result
