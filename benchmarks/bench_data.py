"""Data benchmark: images per second of ``sample(64)`` and peak memory, per dataset.

Each dataset runs in a fresh single-threaded subprocess (OMP_NUM_THREADS=1), so peak RSS is
its own. For every procedural dataset we report the first 20 batches (cold: caches empty), the
steady state (warm), and the peak resident memory. Throughput is per second of this process's
CPU time (robust to other load on a shared machine); the wall-clock figure is given beside it.
``--official-dsprites`` also measures the
official-file code path on an in-memory array of the official size (737,280 x 64 x 64 uint8,
random bits) because the real file cannot be downloaded here.

    .venv/bin/python benchmarks/bench_data.py [--seconds 3] [--datasets a,b] [--official-dsprites]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

BATCH = 64


def measure(name: str, seconds: float, official_dsprites: bool) -> dict:
    import numpy as np

    from dislab import data

    start = time.perf_counter()
    if official_dsprites:
        dataset = _synthetic_official_dsprites(data, name)
    else:
        dataset = data.get(name, source="procedural")
    built = time.perf_counter() - start
    rng = np.random.RandomState(0)

    cpu, cold_batches = time.process_time(), 20
    for _ in range(cold_batches):
        dataset.sample(BATCH, rng)
    cold = cold_batches * BATCH / (time.process_time() - cpu)

    batches, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        dataset.sample(BATCH, rng)
        batches += 1
    warm = batches * BATCH / (time.process_time() - cpu)
    warm_wall = batches * BATCH / (time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "dataset": name + (" (official path, synthetic array)" if official_dsprites else ""),
        "source": dataset.source,
        "build_s": round(built, 2),
        "cold_img_per_s": round(cold),
        "warm_img_per_s": round(warm),
        "warm_img_per_wall_s": round(warm_wall),
        "peak_rss_mib": round(peak_mib),
    }


def _synthetic_official_dsprites(data, name):
    import numpy as np

    cls = type(data.get(name, source="procedural"))
    images = np.random.default_rng(0).integers(0, 2, size=(737280, 64, 64), dtype=np.uint8)
    return cls(images=images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--datasets", default="")
    parser.add_argument("--official-dsprites", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, official = args.child.split(":")
        print(json.dumps(measure(name, args.seconds, official == "1")))
        return

    from dislab import data

    names = args.datasets.split(",") if args.datasets else [
        n for n in data.names() if data.info(n).make_procedural is not None
    ]
    jobs = [(n, "0") for n in names]
    if args.official_dsprites:
        jobs.append(("dsprites_full", "1"))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    rows = []
    for name, official in jobs:
        out = subprocess.run(
            [sys.executable, __file__, "--seconds", str(args.seconds),
             "--child", f"{name}:{official}"],
            capture_output=True, text=True, env=env, check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    keys = list(rows[0])
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
