"""Evidence that bf16 training does not change the science: each of the six models trained in
fp32 and in bf16 (``TrainConfig.precision``) with the same seeds, then the final
reconstruction, KL and ELBO (``results/train.json``) and MIG, the FactorVAE score and DCI
disentanglement (fast mode) compared: the bf16 - fp32 difference of the means against the
seed-to-seed spread (the standard deviation over seeds, the larger of the two precisions').

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_precision.py \\
        --steps 2000 --seeds 3 --workers 2 --out /tmp/precision   # ~35 min on 2 cores

Runs go to ``--out`` (rerunning resumes: finished runs and scores are reused) and the table to
``benchmarks/PRECISION.md`` (``--table``). Needs a CPU (or GPU) with native bf16.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = ("beta_vae", "annealed_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tc_vae")
# the study's settings at a tenth of the FactorVAE score's sizes; MIG and DCI at full size
METRICS = {
    "mig": {},
    "factor_vae": {"num_train": 1000, "num_eval": 500, "num_variance_estimate": 5000},
    "dci": {},
}
KEYS = {  # column -> (file, key)
    "reconstruction": ("train", "reconstruction_loss"),
    "KL": ("train", "kl_loss"),
    "ELBO": ("train", "elbo"),
    "MIG": ("mig", "discrete_mig"),
    "FactorVAE": ("factor_vae", "eval_accuracy"),
    "DCI": ("dci", "disentanglement"),
}


def run_one(model: str, precision: str, seed: int, steps: int, out: str) -> dict:
    """Train one model and score it; returns the numbers of :data:`KEYS`."""
    import torch

    from dislab import rundir
    from dislab.scoring import Evaluation, score_run
    from dislab.train import TrainConfig, train

    torch.set_num_threads(1)
    run_dir = Path(out) / f"{model}-{precision}-{seed}"
    train(TrainConfig(model=model, precision=precision, seed=seed, steps=steps,
                      dataset="dsprites_full", source="procedural", run_dir=str(run_dir),
                      eval_samples=6400, checkpoint_every=500, progress=False))
    results = {"train": rundir.read_train_results(run_dir)}
    evaluations = [Evaluation("mean", name, seed, seed, params) for name, params in
                   METRICS.items()]
    for record in score_run(run_dir, evaluations, mode="fast"):
        results[record["metric"]] = record["scores"]
    return {column: float(results[source][key]) for column, (source, key) in KEYS.items()}


def table(rows: list[dict], seeds: int) -> str:
    lines = ["| model | score | fp32 mean (sd) | bf16 mean (sd) | bf16 - fp32 | seed sd | "
             "within spread |", "|---|---|---|---|---|---|---|"]
    within = total = 0
    for model in MODELS:
        for column in KEYS:
            values = {p: np.array([r[column] for r in rows if r["model"] == model
                                   and r["precision"] == p]) for p in ("fp32", "bf16")}
            if any(len(v) < 2 for v in values.values()):
                continue
            diff = values["bf16"].mean() - values["fp32"].mean()
            spread = max(values["fp32"].std(ddof=1), values["bf16"].std(ddof=1))
            ok = abs(diff) <= spread
            within, total = within + ok, total + 1
            lines.append(f"| {model} | {column} | {values['fp32'].mean():.4g} "
                         f"({values['fp32'].std(ddof=1):.2g}) | {values['bf16'].mean():.4g} "
                         f"({values['bf16'].std(ddof=1):.2g}) | {diff:+.3g} | {spread:.2g} | "
                         f"{'yes' if ok else '**no**'} |")
    lines.append("")
    lines.append(f"{within} of {total} (model, score) pairs have |bf16 - fp32| within the "
                 f"seed-to-seed spread (n = {seeds} seeds per precision).")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--out", default="/tmp/dislab-precision")
    p.add_argument("--table", default=str(REPO / "benchmarks" / "PRECISION.md"))
    args = p.parse_args()
    jobs = [(m, prec, s) for s in range(args.seeds) for m in args.models
            for prec in ("fp32", "bf16")]
    start, load = time.time(), os.getloadavg()[0]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {job: pool.submit(run_one, *job, args.steps, args.out) for job in jobs}
        rows = []
        for (model, precision, seed), future in futures.items():
            rows.append({"model": model, "precision": precision, "seed": seed,
                         **future.result()})
            print(model, precision, seed, {k: round(v, 4) for k, v in rows[-1].items()
                                           if k in KEYS}, flush=True)
    Path(args.out, "rows.json").write_text(json.dumps(rows, indent=1))
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True,
                         text=True).stdout.split(":")[-1].strip()
    text = table(rows, args.seeds)
    print(text)
    Path(args.table).write_text(
        "# bf16 training against fp32 (`benchmarks/bench_precision.py`)\n\n"
        f"Each of the six models trained {args.steps} steps on procedural dSprites (batch 64, "
        f"the study's other settings) in fp32 and in bf16 (`precision = \"bf16\"`: autocast "
        f"for the forward pass and the loss; weights, Adam, statistics and losses in fp32), "
        f"seeds 0..{args.seeds - 1}; then the final loss terms over 6,400 samples and MIG, "
        f"the FactorVAE score (1,000 / 500 votes) and DCI disentanglement in fast mode on the "
        f"mean representation. 'Within spread': |mean(bf16) - mean(fp32)| <= the larger "
        f"standard deviation over seeds.\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}, CPU `{cpu}` "
        f"(native bf16: AVX512-BF16), {args.workers} workers x 1 thread, load {load:.1f} at "
        f"the start, {(time.time() - start) / 60:.0f} min in all.\n\n{text}\n")
    print(f"written {args.table}")


if __name__ == "__main__":
    main()
