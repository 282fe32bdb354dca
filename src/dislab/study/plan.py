"""The cost model of ``dislab study plan``: measured time and disk of one run of a study."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dislab.study.tasks import dataset, train_config

SIZE_PARAMS = ("num_train", "num_test", "num_eval", "num_variance_estimate")


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


def estimate(spec, scales: tuple[float, float] = (0.02, 0.05), steps: int = 12
             ) -> dict[str, Any]:
    """Measured cost of one run of ``spec`` on this machine, for ``dislab study plan``.

    Training: a short run (``steps`` steps) of the study's first run, on the procedural
    version of its dataset when there is one; the step time is the median over its steps
    after the first two (``train_log.csv`` logs every step), times the study's steps, plus
    the final evaluation counted as a third of a step per batch (a forward pass). Metrics:
    each runs at two reduced sample sizes (``scales`` of the study's, sizes up to 100 kept)
    on the briefly trained model; :func:`_extrapolate` takes the timings to the full size.
    Disk: the checkpoint, the log scaled to the study's steps, and the metric files.
    """
    import csv
    import statistics
    import tempfile

    import torch

    from dislab import data as datasets
    from dislab import metrics, represent
    from dislab.metrics.evaluate import metric_params
    from dislab.rundir import CHECKPOINT_FILE, LOG_FILE, resolve_device
    from dislab.train import TrainConfig, train

    run = spec.runs()[0]
    procedural = datasets.info(run.dataset).make_procedural is not None
    data = dataset(run.dataset, "procedural" if procedural else run.source,
                   run.train.get("data_root"))
    full = TrainConfig.from_dict(train_config(run, "unused"))
    with tempfile.TemporaryDirectory(prefix="dislab-plan-") as tmp:
        run_dir = Path(tmp) / "run"
        train(TrainConfig.from_dict({**train_config(run, run_dir), "steps": steps,
                                     "checkpoint_every": steps, "log_every": 1,
                                     "eval_samples": full.batch_size}), data=data)
        with (run_dir / LOG_FILE).open(newline="") as f:
            rows = list(csv.DictReader(f))
        speed = statistics.median(float(r["images_per_second"]) for r in rows[2:])
        step = full.batch_size / speed * (len(rows) / int(rows[-1]["global_step"]))
        log_bytes = (run_dir / LOG_FILE).stat().st_size / len(rows)
        disk = (run_dir / CHECKPOINT_FILE).stat().st_size + log_bytes * full.steps / \
            full.log_every + 2048 * len(run.evaluations)
        device = str(resolve_device(full.device))
        per_metric = {}
        for rep, metric in run.evaluations:
            if metric not in per_metric:
                per_metric[metric] = _time_metric(run, rep, metric, run_dir, data, device,
                                                  scales, metrics, represent, metric_params)
    train_seconds = step * full.steps + step / 3 * full.eval_samples / full.batch_size
    eval_seconds = sum(per_metric[m] for _, m in run.evaluations)
    return {"device": device, "dataset": f"{run.dataset} ({data.source})",
            "threads": torch.get_num_threads(), "step_seconds": step, "steps": full.steps,
            "train_seconds": train_seconds, "eval_seconds": eval_seconds,
            "metric_seconds": per_metric, "run_seconds": train_seconds + eval_seconds,
            "disk_bytes": disk}


def _time_metric(run, rep, metric, run_dir, data, device, scales, metrics, represent,
                 metric_params) -> float:
    """Seconds one evaluation of ``metric`` takes at the study's sizes (extrapolated)."""
    params = metric_params(metric, run.metrics[metric], run.metric_mode, 1)
    points, times = [], []
    for scale in scales:
        small = {k: (_reduced(v, scale) if k in SIZE_PARAMS else v) for k, v in params.items()}
        representation_fn = represent.load(run_dir, rep, device=device)
        tick = time.perf_counter()
        metrics.evaluate(representation_fn, data, [metric], mode=run.metric_mode,
                         params={metric: small}, progress=False)
        times.append(time.perf_counter() - tick)
        points.append(_points(small))
    return _extrapolate(points, times, _points(params))
