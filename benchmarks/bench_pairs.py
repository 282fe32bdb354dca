"""Pair sampling for weak supervision: pairs per second and the cost against single images.

For each procedural dataset, ``sample_pairs(data, n, rng, k)`` (``dislab.data.pairs``) against
``data.sample(2 * n, rng)``, the same number of images drawn singly; target: ratio <= 2. Each
dataset is warmed up first (built, its on-disk render cache filled: the Shapes3D geometry maps,
every Cars3D/SmallNORB substitute image), so only steady-state sampling is timed; a dataset
whose warm-up takes longer than ``--warmup-limit`` seconds is skipped with a note (the cache
persists, so a rerun continues where it stopped). Timings alternate blocks of the two calls
(median over ``--repeats`` blocks of ~``--block`` seconds each) in process CPU time, which is
robust to other load on a shared machine; single-threaded (``OMP_NUM_THREADS=1``), no torch.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pairs.py [--n 64] [--k -1]
        [--datasets dsprites_full,cars3d] [--repeats 9] [--block 0.3] [--warmup-limit 60]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from dislab import data as dd  # noqa: E402
from dislab.data._grid import RenderedGrid  # noqa: E402
from dislab.data.pairs import sample_pair_factors, sample_pairs  # noqa: E402

DATASETS = ("dsprites_full", "color_dsprites", "shapes3d", "cars3d", "smallnorb")


class WarmupTooLong(Exception):
    pass


def warm_up(name: str, limit: float):
    """Build ``name`` and fill its render cache; raise WarmupTooLong past ``limit`` seconds."""
    start = time.perf_counter()

    def check(what: str) -> None:
        if time.perf_counter() - start > limit:
            raise WarmupTooLong(f"warm-up over {limit:.0f} s ({what}); the cache persists, rerun")

    data = dd.get(name, source="procedural")
    check("building")
    if isinstance(data, RenderedGrid):  # Cars3D / SmallNORB substitutes: every state once
        todo = np.flatnonzero(data._cache.done == 0)
        for s in range(0, len(todo), 512):
            data.render_states(todo[s : s + 512])
            check(f"{s + 512}/{len(todo)} new images rendered")
    if hasattr(data, "geometry_maps"):  # Shapes3D look-alike: the 480 traced configurations
        for config in np.ndindex(*data.factor_sizes[3:]):
            data.geometry_maps(*config)
            check("tracing geometry")
    rng = np.random.RandomState(0)
    for _ in range(5):
        sample_pairs(data, 64, rng, -1)
        data.sample(128, rng)
    return data, time.perf_counter() - start


def per_call(fn, block: float) -> float:
    """CPU seconds per call of ``fn``, over a block of about ``block`` seconds."""
    calls, start = 0, time.process_time()
    while True:
        fn()
        calls += 1
        elapsed = time.process_time() - start
        if elapsed >= block:
            return elapsed / calls


def measure(data, n: int, k: int, repeats: int, block: float) -> dict:
    rng = np.random.RandomState(1)
    pairs, singles, factors, ratios = [], [], [], []
    for _ in range(repeats):  # alternate, so slow phases of the machine hit both
        pairs.append(per_call(lambda: sample_pairs(data, n, rng, k), block))
        singles.append(per_call(lambda: data.sample(2 * n, rng), block))
        factors.append(per_call(lambda: sample_pair_factors(data, n, rng, k), block / 4))
        ratios.append(pairs[-1] / singles[-1])
    t_pairs, t_single = statistics.median(pairs), statistics.median(singles)
    return {
        "pairs/s": n / t_pairs,
        "images/s, pairs": 2 * n / t_pairs,
        "images/s, sample(2n)": 2 * n / t_single,
        "ratio": statistics.median(ratios),
        "ratio range": (min(ratios), max(ratios)),
        "factors us": 1e6 * statistics.median(factors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--k", type=int, default=-1)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--block", type=float, default=0.3)
    parser.add_argument("--warmup-limit", type=float, default=60.0)
    args = parser.parse_args()

    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True,
                         text=True).stdout.split(":")[-1].strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}; CPU {cpu}; n = {args.n}, k = {args.k}; load average (1 min) at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    rows, notes = [], []
    for name in args.datasets.split(","):
        try:
            data, warm = warm_up(name, args.warmup_limit)
        except WarmupTooLong as skip:
            notes.append(f"- {name}: skipped, {skip}")
            print(notes[-1], flush=True)
            continue
        row = {"dataset": name, "warm-up s": warm,
               **measure(data, args.n, args.k, args.repeats, args.block)}
        row["load"] = os.getloadavg()[0]
        rows.append(row)
        print(row, flush=True)

    print("\n| dataset | pairs/s | images/s in pairs | images/s, `sample(2n)` | "
          "ratio (range) | pair factors, us/call | warm-up s | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["ratio range"]
        print(f"| {r['dataset']} | {r['pairs/s']:,.0f} | {r['images/s, pairs']:,.0f} | "
              f"{r['images/s, sample(2n)']:,.0f} | {r['ratio']:.2f} ({lo:.2f}-{hi:.2f}) | "
              f"{r['factors us']:.0f} | {r['warm-up s']:.1f} | {r['load']:.2f} |")
    for note in notes:
        print(note)
    print(f"\nload average (1 min) at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
