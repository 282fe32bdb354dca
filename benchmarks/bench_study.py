"""Study throughput: runs per hour of a preset, and what orchestration costs per run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_study.py --preset quick --workers 2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_study.py --preset-backends ray

Two measurements (results printed and written as JSON, see benchmarks/STUDY.md):

1. Orchestration alone: studies of ``--noop-runs`` and 5 x ``--noop-runs`` runs whose task
   returns at once (scores of the shape the real task returns) through the real driver,
   backend and store. The slope of wall time against runs is the marginal cost of one run
   (pool/Ray submission, pickling, one store transaction, the progress bar); the intercept
   is the start-up (worker processes, or ``ray.init``).
2. A real preset (default ``quick``): wall time, runs per hour, and per run the time spent
   training, evaluating and in neither (inside the task: dataset, imports; outside: the
   orchestration slope above), read back from the results store.

The load average of the machine is recorded before and after each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

NOOP_STUDY = """
[study]
name = "noop"
seeds = {seeds}
[[datasets]]
name = "dsprites_full"
source = "procedural"
[[models]]
name = "beta_vae"
sweep = {{ beta = [1.0, 2.0] }}
[metrics.mig]
[metrics.sap]
"""


def noop_task(run, run_dir, device, threads) -> dict:
    """A run that costs nothing: 30 scores, as many as a small real run reports."""
    scores = [(rep, metric, f"key{i}", float(i)) for rep, metric in run.evaluations
              for i in range(10)]
    return {"train_seconds": 0.0, "eval_seconds": 0.0, "device": "cpu",
            "data_source": "none", "scores": scores + [("", "train", "loss", 1.0)]}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def orchestration(backend: str, workers: int, runs: int) -> dict:
    from dislab.study import spec as study_spec
    from dislab.study.runner import run_study

    walls = {}
    for n in (runs, 5 * runs):
        spec = study_spec.loads(NOOP_STUDY.format(seeds=n // 2))
        with tempfile.TemporaryDirectory() as tmp:
            tick = time.perf_counter()
            counts = run_study(spec, tmp, backend=backend, workers=workers, task=noop_task,
                               progress=False)
            walls[n] = time.perf_counter() - tick
            assert counts["done"] == n, counts
    (n1, w1), (n2, w2) = walls.items()
    slope = (w2 - w1) / (n2 - n1)
    return {"backend": backend, "workers": workers, "wall_seconds": walls,
            "seconds_per_run": slope, "slot_seconds_per_run": slope * workers,
            "startup_seconds": w1 - slope * n1}


def preset(name: str, backend: str, workers: int, out: Path) -> dict:
    from dislab import study
    from dislab.study.runner import run_study

    tick = time.perf_counter()
    counts = run_study(name, out, backend=backend, workers=workers, progress=True)
    wall = time.perf_counter() - tick
    table = study.load(out)
    done = table[table["state"] == "done"]
    setup = done["total_seconds"] - done["train_seconds"] - done["eval_seconds"]
    speeds = []
    for run_dir in done["run_dir"]:
        log = (Path(run_dir) / "train_log.csv").read_text().splitlines()
        header = log[0].split(",")
        column = header.index("images_per_second")
        speeds += [float(row.split(",")[column]) for row in log[1:]]
    return {"preset": name, "backend": backend, "workers": workers, "counts": counts,
            "wall_seconds": wall, "runs_per_hour": len(done) / wall * 3600,
            "mean_run_seconds": float(done["total_seconds"].mean()),
            "mean_train_seconds": float(done["train_seconds"].mean()),
            "mean_eval_seconds": float(done["eval_seconds"].mean()),
            "mean_in_task_setup_seconds": float(setup.mean()),
            "median_images_per_second": statistics.median(speeds) if speeds else None,
            "per_run": done[["model_num", "model", "train_seconds", "eval_seconds",
                             "total_seconds"]].to_dict(orient="records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--noop-runs", type=int, default=40)
    parser.add_argument("--ray", action="store_true", help="also measure the Ray backend")
    parser.add_argument("--preset-backends", default="local",
                        help="comma-separated backends that run the preset ('' for none)")
    parser.add_argument("--keep", default=None, help="keep the preset's study directory here")
    parser.add_argument("--out", default="out/bench_study.json")
    args = parser.parse_args()

    results: dict = {"cpus": os.cpu_count(), "phases": []}
    preset_backends = [b for b in args.preset_backends.split(",") if b]
    backends = ["local"] + (["ray"] if args.ray or "ray" in preset_backends else [])
    for backend in backends:
        before = _load()
        phase = orchestration(backend, args.workers, args.noop_runs)
        phase.update(load_before=before, load_after=_load())
        results["phases"].append(phase)
        print(json.dumps(phase), flush=True)
    for backend in preset_backends:
        before = _load()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(args.keep or tmp) / f"{args.preset}-{backend}"
            phase = preset(args.preset, backend, args.workers, out)
        phase.update(load_before=before, load_after=_load())
        slope = next(p for p in results["phases"] if p.get("backend") == backend
                     and "slot_seconds_per_run" in p)["slot_seconds_per_run"]
        overhead = phase["mean_in_task_setup_seconds"] + slope
        phase["overhead_seconds_per_run"] = overhead
        phase["overhead_share"] = overhead / phase["mean_run_seconds"]
        results["phases"].append(phase)
        print(json.dumps({k: v for k, v in phase.items() if k != "per_run"}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
