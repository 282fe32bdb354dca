"""How good is `dislab study plan`'s estimate? Predicted against measured, on one small study.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_plan.py [--study FILE|PRESET]
        [--threads 1] [--json plan.json]

1. :func:`dislab.study.plan.estimate` on the study (what ``dislab study plan`` prints), with
   ``--threads`` threads, as one worker of ``dislab study run --workers 1`` gets;
2. the study itself, ``run_study`` with one worker and ``--threads`` threads;
3. a table: predicted against measured training time per step (steady state: the median of
   the run's ``train_log.csv`` windows after the first), training time per run (what the
   store records: the whole ``train()`` call), evaluation time per run and per metric (the
   ``elapsed_time`` of each metric's result file), and the load average before and after
   each phase (the measured times are inflated by the same load as the predicted ones).

The default study (``BENCH_STUDY``: one beta-VAE setting x 2 seeds, 150 steps, five metrics
at small sizes) takes about 1-2 minutes on 2 idle cores, the estimate included.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

BENCH_STUDY = """
[study]
name = "bench-plan"
seeds = 2
representations = ["mean", "sampled"]

[train]
steps = 150
eval_samples = 640
checkpoint_every = 50
log_every = 10

[[datasets]]
name = "dsprites_full"
source = "procedural"

[[models]]
name = "beta_vae"
sweep = { beta = [4.0] }

[metrics.beta_vae]
batch_size = 16
num_train = 200
num_eval = 100
[metrics.mig]
num_train = 2000
[metrics.sap]
num_train = 2000
num_test = 1000
[metrics.modularity]
num_train = 2000
num_test = 1000
[metrics.unsupervised]
num_train = 2000
"""


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return "unknown"


def measure(study: str, threads: int) -> dict:
    from dislab import study as dislab_study
    from dislab.study import plan
    from dislab.study import spec as study_spec
    from dislab.study.runner import run_study

    text, origin = study_spec.read_text(study) if study else (BENCH_STUDY, "BENCH_STUDY")
    spec = study_spec.loads(text, origin)
    loads = {"estimate": [_load()]}
    tick = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = plan.estimate(spec, threads=threads)
    estimate_seconds = time.perf_counter() - tick
    loads["estimate"].append(_load())

    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        loads["run"] = [_load()]
        tick = time.perf_counter()
        counts = run_study(spec, tmp, workers=1, threads=threads, progress=False)
        run_seconds = time.perf_counter() - tick
        loads["run"].append(_load())
        assert counts["done"] == spec.num_runs, counts
        table = dislab_study.load(tmp)
        steps, metric_times = [], {}
        for run, run_dir in zip(spec.runs(), table["run_dir"]):
            with (Path(run_dir) / "train_log.csv").open(newline="") as f:
                rows = list(csv.DictReader(f))
            batch = run.train.get("batch_size", 64)
            steps += plan.step_times(rows, batch, warmup=int(rows[0]["iteration"]))
            for rep, metric in run.evaluations:
                record = json.loads((Path(run_dir) / "results" / rep / f"{metric}.json"
                                     ).read_text())
                metric_times.setdefault(metric, []).append(record["elapsed_time"])
    evaluations = {m: sum(1 for _, n in spec.evaluations if n == m) for m in metric_times}
    return {
        "study": origin, "runs": spec.num_runs, "evaluations_per_metric": evaluations,
        "threads": threads, "cpu": cpu_model(),
        "cpus": plan.cpu_count(), "loads": loads, "estimate": est,
        "estimate_seconds": estimate_seconds, "study_seconds": run_seconds,
        "measured": {
            "step_seconds": statistics.median(steps),
            "train_seconds": float(table["train_seconds"].mean()),
            "eval_seconds": float(table["eval_seconds"].mean()),
            "metric_seconds": {m: statistics.mean(t) * evaluations[m]
                               for m, t in metric_times.items()},
        },
    }


def report(result: dict) -> str:
    est, got = result["estimate"], result["measured"]

    def row(name, predicted, measured, unit="s", scale=1.0):
        ratio = predicted / measured if measured else float("nan")
        return (f"| {name} | {predicted * scale:,.2f} {unit} | {measured * scale:,.2f} {unit} "
                f"| {ratio:.2f} |")

    lines = ["| quantity | predicted | measured | predicted / measured |", "|---|---|---|---|",
             row("training step (steady state, median)", est["step_seconds"],
                 got["step_seconds"], "ms", 1000),
             row("training per run", est["train_seconds"], got["train_seconds"]),
             row("evaluation per run", est["eval_seconds"], got["eval_seconds"])]
    for metric, n in result["evaluations_per_metric"].items():
        lines.append(row(f"  {metric} ({n} representation(s))",
                         est["metric_seconds"][metric] * n, got["metric_seconds"][metric]))
    loads = result["loads"]
    lines += ["", f"CPU: {result['cpu']} ({result['cpus']} CPUs); {result['threads']} "
                  f"thread(s) per run; load average (1 min) before/after: estimate "
                  f"{loads['estimate'][0]} / {loads['estimate'][1]}, study "
                  f"{loads['run'][0]} / {loads['run'][1]}",
              f"estimate took {result['estimate_seconds']:.0f} s (median of "
              f"{est['steady_steps']} steps after {est['warmup_steps']} warm-up); the study "
              f"({result['runs']} runs, 1 worker) {result['study_seconds']:.0f} s"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default=None,
                        help="a study file or preset (default: the built-in BENCH_STUDY)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    result = measure(args.study, args.threads)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
