"""GPU measurements for ``benchmarks/gpu_check.sh``: environment, throughput and peak memory
of beta-VAE training in fp32 and bf16, and N concurrent training processes sharing one GPU.

Each subcommand prints a markdown section on stdout and writes its raw numbers to ``--json``
(rewritten after every measurement, so a run cut short keeps what it measured):

- ``env``: python, torch, CUDA, cuDNN, the GPU, bf16 support, whether ``torch.compile`` can
  run (triton). Exits 3, with the reason on stderr, when ``torch.cuda.is_available()`` is
  false: the one check that the machine can do the rest.
- ``table``: images/s, ms/step and peak GPU memory (``torch.cuda.max_memory_allocated``)
  per precision and batch size, measured in fresh worker processes:

  * ``loop``: the real ``dislab.train.train`` on procedural dSprites, batch 64 (the study's):
    data drawn on one CPU thread, copied through pinned memory, the per-step ``.tolist()``
    of the loss terms (a GPU sync), logging; images/s is the median of ``train_log.csv``'s
    windows after the first (which holds CUDA's and cuDNN's warm-up);
  * ``step``: ``dislab.train._Run.step`` alone (forward, loss, backward, Adam; bf16 is the
    run's own autocast) on batches already on the GPU, no sync between steps, timed between
    two ``torch.cuda.synchronize()`` calls: the GPU-side ceiling;
  * the host-to-GPU copy of one batch of 64: ``rundir.to_images`` (pinned, non-blocking)
    against a plain pageable ``.to("cuda")``.

- ``compile``: the ``step`` measurement with ``torch.compile`` on the encoder and the decoder
  (the reparameterisation draw takes a ``torch.Generator``, which ``torch.compile`` does not
  trace, so it and the losses stay eager) per ``--modes``, each against an eager step
  measured just before in the same process. Only a measured comparison: training does not
  use ``torch.compile``.
- ``sweep``: N = 1, 2, 4, 8 concurrent ``dislab train`` processes (``--device cuda
  --threads 1``, procedural dSprites, a fixed number of steps, different seeds) sharing the
  GPU; total and per-process images/s from each ``train_log.csv`` (median window after the
  first), and ``nvidia-smi --query-gpu=utilization.gpu,memory.used`` sampled every 0.5 s
  while all N are training. A process is still bound by its own work (its CPU thread drawing
  data and launching kernels) while its images/s stays near the N = 1 value; when the
  per-process rate falls and the total stops growing the GPU is the limit.

    python benchmarks/gpu_bench.py env --json out/env.json
    python benchmarks/gpu_bench.py table --json out/table.json
    python benchmarks/gpu_bench.py sweep --json out/sweep.json --work-dir out/sweep-runs
    python benchmarks/gpu_bench.py compile --json out/compile.json

``--budget SECONDS`` bounds a whole subcommand (its workers' timeouts shrink to fit).

``--device cpu`` (table, compile, sweep) exercises the same code without a GPU, with tiny
sizes, for testing the script itself; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPY_BATCH = 64


def _env() -> dict[str, str]:
    """The environment of every child process: one CPU thread, ``src`` importable."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(REPO / "src") + (os.pathsep + path if path else "")}


def _write_json(path: str | None, record) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(record, indent=2) + "\n")


def _fmt(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


# -- env --------------------------------------------------------------------------------------


def command_env(args) -> int:
    import platform

    import torch

    record = {"python": platform.python_version(), "torch": torch.__version__,
              "torch_cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if not record["cuda_available"]:
        _write_json(args.json, record)
        why = ("this torch is a CPU-only build" if torch.version.cuda is None
               else f"torch (built for CUDA {torch.version.cuda}) finds no usable GPU: driver "
                    "too old for this build, CUDA_VISIBLE_DEVICES empty, or no device")
        print(f"no GPU: torch.cuda.is_available() is False ({why}); python "
              f"{sys.executable}, torch {torch.__version__}", file=sys.stderr)
        return 3
    props = torch.cuda.get_device_properties(0)
    record.update(
        cudnn=torch.backends.cudnn.version(), device_count=torch.cuda.device_count(),
        gpu=props.name, capability=f"{props.major}.{props.minor}",
        memory_gib=round(props.total_memory / 2**30, 1),
        multiprocessors=props.multi_processor_count,
        bf16_supported=bool(torch.cuda.is_bf16_supported()),
        cudnn_allow_tf32=_setting(lambda: torch.backends.cudnn.allow_tf32),
        matmul_allow_tf32=_setting(lambda: torch.backends.cuda.matmul.allow_tf32),
        cpus=os.cpu_count())
    try:
        import triton
        record["triton"] = triton.__version__
    except ImportError:
        record["triton"] = None  # torch.compile's GPU backend needs it
    try:
        import dislab.train  # noqa: F401  (every dependency of training)
        from dislab import __version__
        from dislab.rundir import resolve_precision
    except ImportError as err:
        print(f"dislab cannot be imported by {sys.executable}: {err}", file=sys.stderr)
        return 4
    record["dislab"] = __version__
    record["precision_auto"] = resolve_precision("auto", torch.device("cuda"))
    _write_json(args.json, record)
    print("## Environment\n")
    print("| | |\n|---|---|")
    for key, value in record.items():
        print(f"| {key} | {value} |")
    print()
    return 0


def _setting(read):
    """A torch backend setting, or None where this torch no longer has it."""
    try:
        return read()
    except (AttributeError, RuntimeError):
        return None


# -- table: workers (each in its own process) --------------------------------------------------


def _emit(row: dict) -> None:
    print(json.dumps(row), flush=True)


def _reset_memory(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_mib(torch, device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def worker_step(spec: dict) -> None:
    """``_Run.step`` on pre-drawn on-device batches, per (precision, batch, compile mode or
    None) row of ``spec``."""
    import numpy as np
    import torch

    from dislab import data as datasets
    from dislab.rundir import to_images
    from dislab.train import TrainConfig, _Run

    torch.set_num_threads(1)
    device = torch.device(spec["device"])
    data = datasets.get("dsprites_full", source="procedural")
    mark_step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
    for precision, batch, mode in spec["rows"]:
        _reset_memory(torch, device)
        config = TrainConfig(model="beta_vae", batch_size=batch, precision=precision,
                             device=spec["device"], progress=False)
        run = _Run(config, 1, device)
        if mode:
            run.vae.encoder = torch.compile(run.vae.encoder, mode=mode)
            run.vae.decoder = torch.compile(run.vae.decoder, mode=mode)
        rng = np.random.RandomState(0)
        xs = [to_images(data.sample_observations(batch, rng), device) for _ in range(8)]

        def steps(n: int, start: int, run=run, xs=xs, mode=mode) -> float:
            _sync(torch, device)
            tick = time.perf_counter()
            for i in range(start, start + n):
                if mode == "reduce-overhead" and mark_step is not None:
                    mark_step()
                run.step(xs[i % len(xs)], i)
            _sync(torch, device)
            return time.perf_counter() - tick

        warmup_s = steps(spec["warmup"], 0)
        seconds = steps(spec["steps"], spec["warmup"])
        _emit({"mode": "compile" if mode else "step", "compile": mode or "off",
               "precision": run.precision, "batch": batch, "steps": spec["steps"],
               "images_per_s": spec["steps"] * batch / seconds,
               "ms_per_step": 1000 * seconds / spec["steps"],
               "peak_mib": _peak_mib(torch, device), "warmup_s": warmup_s})
        del run, xs
    if spec.get("copy_repeats"):
        _emit(_copy_row(torch, device, data, spec["copy_repeats"]))


def _copy_row(torch, device, data, repeats: int) -> dict:
    """ms per batch of 64 images host -> device: ``to_images`` (pinned, non-blocking) vs a
    plain pageable ``torch.from_numpy(...).to(device)``."""
    import numpy as np

    from dislab.rundir import to_images

    batch = data.sample_observations(COPY_BATCH, np.random.RandomState(0)).astype(np.float32)

    def timed(copy) -> float:
        for _ in range(10):
            copy()
        _sync(torch, device)
        tick = time.perf_counter()
        for _ in range(repeats):
            copy()
        _sync(torch, device)
        return 1000 * (time.perf_counter() - tick) / repeats

    pinned = timed(lambda: to_images(batch, device))
    pageable = timed(lambda: torch.from_numpy(batch).to(device).permute(0, 3, 1, 2))
    return {"mode": "copy", "batch": COPY_BATCH, "mib": batch.nbytes / 2**20,
            "pinned_ms": pinned, "pageable_ms": pageable, "repeats": repeats}


def worker_loop(spec: dict) -> None:
    """``dislab.train.train`` on procedural dSprites, per precision of ``spec``."""
    import pandas as pd
    import torch

    from dislab.train import TrainConfig, train

    device = torch.device(spec["device"])
    for precision in spec["precisions"]:
        _reset_memory(torch, device)
        run_dir = Path(spec["work_dir"]) / f"loop-{precision}"
        config = TrainConfig(model="beta_vae", dataset="dsprites_full", source="procedural",
                             steps=spec["steps"], batch_size=spec["batch"], precision=precision,
                             device=spec["device"], threads=1, log_every=spec["log_every"],
                             checkpoint_every=spec["steps"], eval_samples=spec["batch"] * 10,
                             progress=False, run_dir=str(run_dir))
        tick = time.perf_counter()
        train(config)
        wall = time.perf_counter() - tick
        log = pd.read_csv(run_dir / "train_log.csv")
        steady = log.iloc[1:] if len(log) > 1 else log
        rate = float(steady["images_per_second"].median())
        resolved = json.loads((run_dir / "config.json").read_text())["resolved"]
        _emit({"mode": "loop", "compile": "off", "precision": resolved["precision"],
               "batch": spec["batch"], "steps": spec["steps"], "images_per_s": rate,
               "ms_per_step": 1000 * spec["batch"] / rate, "peak_mib": _peak_mib(torch, device),
               "data_time_share": float(steady["data_time_share"].median()),
               "wall_s": wall})


# -- table: driver ----------------------------------------------------------------------------


def _worker(kind: str, spec: dict, timeout: float) -> tuple[list[dict], str | None]:
    """Run one worker process; its rows (also those printed before a timeout or a crash)
    and an error message or None."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "worker", kind, json.dumps(spec)]
    try:
        out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
        stdout, error = out.stdout, None
        if out.returncode:
            error = f"exit {out.returncode}: {_last_line(out.stderr)}"
    except subprocess.TimeoutExpired as err:
        stdout = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        error = f"timed out after {timeout:.0f} s"
    rows = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows, error


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


class _Budget:
    """The seconds a subcommand may still use (``--budget``); ``None``: unlimited."""

    def __init__(self, seconds: float | None):
        self.end = None if seconds is None else time.perf_counter() + seconds

    def cap(self, timeout: float) -> float:
        if self.end is None:
            return timeout
        return max(1.0, min(timeout, self.end - time.perf_counter()))


def _run_jobs(jobs, report: dict, args) -> None:
    """Run ``(label, kind, spec, timeout)`` workers in turn within ``--budget``, keeping
    every row in ``report`` (written to ``--json`` after each)."""
    budget = _Budget(args.budget)
    for label, kind, spec, timeout in jobs:
        tick = time.perf_counter()
        rows, error = _worker(kind, spec, budget.cap(timeout))
        print(f"  {label}: {len(rows)} rows in {time.perf_counter() - tick:.0f} s"
              + (f" ({error})" if error else ""), file=sys.stderr, flush=True)
        report["rows"].extend(rows)
        if error:
            report["errors"].append(f"{label}: {error}")
        _write_json(args.json, report)


def _new_report(args) -> dict:
    return {"device": args.device, "rows": [], "errors": [],
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


def command_table(args) -> int:
    report = _new_report(args)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="gpu-bench-"))
    jobs = [
        ("loop", "loop", {"device": args.device, "precisions": args.precisions, "batch": 64,
                          "steps": args.loop_steps, "log_every": args.log_every,
                          "work_dir": str(work)}, args.timeout),
        ("step", "step", {"device": args.device, "steps": args.steps, "warmup": args.warmup,
                          "rows": [[p, b, None] for b in args.batches for p in args.precisions],
                          "copy_repeats": args.copy_repeats}, args.timeout),
    ]
    try:  # also when stopped by SIGTERM: print what was measured
        _run_jobs(jobs, report, args)
    finally:
        print(_table_markdown(report), flush=True)
    return 0 if report["rows"] and not report["errors"] else 1


def _table_markdown(report: dict) -> str:
    rows = [r for r in report["rows"] if r["mode"] != "copy"]
    lines = ["## Throughput and peak memory (beta_vae, 64x64x1, d = 10)", "",
             "`loop`: `dislab.train.train` on procedural dSprites (data drawn on one CPU "
             "thread, a GPU sync per step, logging); `step`: `_Run.step` alone on batches "
             "already on the GPU, no sync between steps (the GPU-side ceiling). Peak: "
             "`torch.cuda.max_memory_allocated`. Data-time share: of the loop's wall time.", "",
             "| mode | precision | batch | images/s | ms/step | peak MiB | data-time share |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        share = r.get("data_time_share")
        lines.append(
            f"| {r['mode']} | {r['precision']} | {r['batch']} | {_fmt(r['images_per_s'])} | "
            f"{_fmt(r['ms_per_step'], 2)} | {_fmt(r['peak_mib'])} | "
            f"{'-' if share is None else f'{100 * share:.0f}%'} |")
    for r in report["rows"]:
        if r["mode"] == "copy":
            lines += ["", f"Host-to-GPU copy of one batch ({r['batch']} images, "
                          f"{r['mib']:.1f} MiB): `to_images` through pinned memory "
                          f"{r['pinned_ms']:.3f} ms, pageable `.to(device)` "
                          f"{r['pageable_ms']:.3f} ms (mean of {r['repeats']})."]
    if report["errors"]:
        lines += ["", "Not measured: " + "; ".join(report["errors"])]
    return "\n".join(lines) + "\n"


def command_compile(args) -> int:
    report = _new_report(args)
    rows = []
    for precision in args.precisions:  # the eager reference first, in the same process
        rows += [[precision, args.batch, None]] + [[precision, args.batch, m] for m in args.modes]
    jobs = [("compile", "step", {"device": args.device, "steps": args.steps,
                                 "warmup": args.warmup, "rows": rows}, args.timeout)]
    try:
        _run_jobs(jobs, report, args)
    finally:
        print(_compile_markdown(report, args), flush=True)
    return 0 if report["rows"] and not report["errors"] else 1


def _compile_markdown(report: dict, args) -> str:
    lines = [f"## torch.compile, measured (beta_vae `_Run.step`, batch {args.batch})", "",
             "`torch.compile` on the encoder and the decoder (the reparameterisation draw "
             "takes a `torch.Generator`, which torch.compile does not trace, so it and the "
             "losses stay eager); training does not use it. Against the eager step measured "
             "just before in the same process; compile s: the warm-up steps, compilation "
             "included.", "",
             "| precision | compile | images/s | ms/step | peak MiB | vs eager | compile s |",
             "|---|---|---|---|---|---|---|"]
    eager = {}
    gains = []
    for r in report["rows"]:
        if r["compile"] == "off":
            eager[r["precision"]] = r["images_per_s"]
        ratio = (r["images_per_s"] / eager[r["precision"]]
                 if r["compile"] != "off" and r["precision"] in eager else None)
        if ratio:
            gains.append(ratio)
        lines.append(f"| {r['precision']} | {r['compile']} | {_fmt(r['images_per_s'])} | "
                     f"{_fmt(r['ms_per_step'], 2)} | {_fmt(r['peak_mib'])} | "
                     f"{'-' if ratio is None else f'{ratio:.2f}x'} | "
                     f"{_fmt(r['warmup_s'], 1)} |")
    if gains:
        best = max(gains)
        lines += ["", f"Best speed-up {best:.2f}x: " + (
            "a gain worth wiring into training (a step only; the loop adds data and a sync)"
            if best >= 1.1 else "no gain worth the compile time; training stays eager")]
    if report["errors"]:
        lines += ["", "Not measured: " + "; ".join(report["errors"])]
    return "\n".join(lines) + "\n"


# -- sweep ------------------------------------------------------------------------------------


class _Sampler(threading.Thread):
    """``nvidia-smi`` utilisation and memory every ``period`` s, flagged with whether all the
    processes were training (each has logged a window and none has exited) at that moment."""

    def __init__(self, procs, logs, period: float = 0.5):
        super().__init__(daemon=True)
        self.procs, self.logs, self.period = procs, logs, period
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self.error: str | None = None

    def _all_training(self) -> bool:
        if any(p.poll() is not None for p in self.procs):
            return False
        for log in self.logs:
            try:
                with log.open() as f:
                    if sum(1 for _ in f) < 2:
                        return False
            except OSError:
                return False
        return True

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop.is_set():
            tick = time.perf_counter()
            util = mem = None
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                      "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5)
                first = out.stdout.strip().splitlines()[0].split(",")
                util, mem = float(first[0]), float(first[1])
            except (OSError, subprocess.SubprocessError, IndexError, ValueError) as err:
                self.error = f"nvidia-smi sampling failed: {err}"
            self.samples.append({"t": tick - start, "util": util, "memory_mib": mem,
                                 "all_training": self._all_training()})
            self.stop.wait(max(0.0, self.period - (time.perf_counter() - tick)))


def _train_command(args, run_dir: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "dislab", "train", "--model", "beta_vae",
            "--dataset", "dsprites_full", "--source", "procedural",
            "--steps", str(args.steps), "--batch-size", str(args.batch),
            "--precision", args.precision, "--seed", str(seed), "--out", str(run_dir),
            "--device", args.device, "--threads", "1", "--log-every", str(args.log_every),
            "--checkpoint-every", str(args.steps), "--eval-samples", str(10 * args.batch),
            "--quiet"]


def _process_rate(log: Path) -> tuple[float | None, float | None, int]:
    """(median images/s, median data-time share, windows) over a log's windows after the
    first; the first one alone when it is the only one."""
    import pandas as pd

    try:
        table = pd.read_csv(log)
    except (OSError, ValueError):
        return None, None, 0
    if table.empty:
        return None, None, 0
    steady = table.iloc[1:] if len(table) > 1 else table
    return (float(steady["images_per_second"].median()),
            float(steady["data_time_share"].median()), len(table))


def _sweep_one(args, n: int, work: Path, timeout: float) -> dict:
    run_dirs = [work / f"n{n}-p{i}" for i in range(n)]
    logs = [d / "train_log.csv" for d in run_dirs]
    stderr_paths = [work / f"n{n}-p{i}.stderr" for i in range(n)]
    procs: list[subprocess.Popen] = []
    sampler = _Sampler(procs, logs)
    tick = time.perf_counter()
    try:
        for i, run_dir in enumerate(run_dirs):
            with stderr_paths[i].open("w") as stderr:
                procs.append(subprocess.Popen(_train_command(args, run_dir, i), env=_env(),
                                              stdout=subprocess.DEVNULL, stderr=stderr))
        sampler.start()
        deadline = tick + timeout
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                break
        codes = [p.poll() for p in procs]
    finally:
        for p in procs:
            _stop(p)
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join()
    wall = time.perf_counter() - tick
    timed_out = None in codes
    rates, shares, windows = zip(*(_process_rate(log) for log in logs))
    failed = [f"p{i} exit {code}: {_last_line(stderr_paths[i].read_text())}"
              for i, code in enumerate(codes) if code not in (0, None)]
    known = [r for r in rates if r is not None]
    during = [s for s in sampler.samples if s["all_training"] and s["util"] is not None]
    utils = [s["util"] for s in during]
    memory = [s["memory_mib"] for s in sampler.samples if s["memory_mib"] is not None]
    return {
        "processes": n, "steps": args.steps, "batch": args.batch, "precision": args.precision,
        "wall_s": wall, "timed_out": timed_out, "failed": failed,
        "per_process_images_per_s": list(rates), "data_time_share": list(shares),
        "windows": list(windows),
        "total_images_per_s": sum(known) if len(known) == n else None,
        "util_all_training": {"samples": len(utils),
                              "median": statistics.median(utils) if utils else None,
                              "mean": statistics.fmean(utils) if utils else None},
        "gpu_memory_used_max_mib": max(memory) if memory else None,
        "sampler_error": sampler.error, "samples": sampler.samples,
    }


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def command_sweep(args) -> int:
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="gpu-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"device": args.device, "work_dir": str(work), "runs": [],
              "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    budget = _Budget(args.budget)
    try:  # also when stopped by SIGTERM: print what was measured
        for n in args.procs:
            row = _sweep_one(args, n, work, budget.cap(args.timeout))
            report["runs"].append(row)
            _write_json(args.json, report)
            util = row["util_all_training"]["median"]
            print(f"  N={n}: total {_fmt(row['total_images_per_s'])} images/s, GPU util "
                  f"{_fmt(util)}% in {row['wall_s']:.0f} s"
                  + (" (timed out)" if row["timed_out"] else "")
                  + (f" FAILED {row['failed']}" if row["failed"] else ""), file=sys.stderr,
                  flush=True)
    finally:
        print(_sweep_markdown(report, args), flush=True)
    ok = len(report["runs"]) == len(args.procs) and all(
        r["total_images_per_s"] is not None and not r["failed"] for r in report["runs"])
    return 0 if ok else 1


def _verdict(row: dict, solo: float | None, previous: dict | None) -> str:
    rates = [r for r in row["per_process_images_per_s"] if r is not None]
    if not rates or not solo:
        return "not measured"
    if row["processes"] == 1:
        return "reference"
    efficiency = statistics.fmean(rates) / solo
    grew = (previous and previous["total_images_per_s"] and row["total_images_per_s"]
            and row["total_images_per_s"] / previous["total_images_per_s"])
    if efficiency >= 0.85:
        return (f"each process at {100 * efficiency:.0f}% of its solo speed: still bound by "
                "its own CPU thread, the GPU has room")
    if grew and grew < 1.15:
        return (f"GPU saturated: {100 * efficiency:.0f}% of solo speed each, total "
                f"{grew:.2f}x the previous N")
    return (f"sharing the GPU: {100 * efficiency:.0f}% of solo speed each"
            + (f", total {grew:.2f}x the previous N" if grew else ""))


def _sweep_markdown(report: dict, args) -> str:
    lines = [f"## Concurrent training processes on one GPU (beta_vae, {args.precision}, "
             f"batch {args.batch}, {args.steps} steps each)", "",
             "Each process: `dislab train --device cuda --threads 1` on procedural dSprites. "
             "Images/s: median `train_log.csv` window after the first, per process; total = "
             "their sum. GPU util: `nvidia-smi` utilization.gpu (share of time any kernel "
             "ran, not of the SMs busy), median of the samples taken while all N were "
             "training.", "",
             "| N | total images/s | per process images/s (min-max) | data-time share | "
             "GPU util % | GPU memory MiB | wall s | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    solo = None
    previous = None
    for row in report["runs"]:
        rates = [r for r in row["per_process_images_per_s"] if r is not None]
        shares = [s for s in row["data_time_share"] if s is not None]
        if row["processes"] == 1 and rates:
            solo = rates[0]
        span = (f"{_fmt(statistics.fmean(rates))} ({_fmt(min(rates))}-{_fmt(max(rates))})"
                if rates else "-")
        share = f"{100 * statistics.fmean(shares):.0f}%" if shares else "-"
        note = " (timed out)" if row["timed_out"] else ""
        if row["failed"]:
            note += " FAILED: " + "; ".join(row["failed"])
        lines.append(
            f"| {row['processes']} | {_fmt(row['total_images_per_s'])} | {span} | {share} | "
            f"{_fmt(row['util_all_training']['median'])} | "
            f"{_fmt(row['gpu_memory_used_max_mib'])} | {row['wall_s']:.0f}{note} | "
            f"{_verdict(row, solo, previous)} |")
        previous = row
    errors = {r["sampler_error"] for r in report["runs"] if r["sampler_error"]}
    if errors:
        lines += ["", "GPU utilisation not sampled: " + "; ".join(sorted(errors))]
    return "\n".join(lines) + "\n"


# -- entry ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    # gpu_check.sh's `timeout` sends SIGTERM: exit through the finally blocks that stop the
    # child processes and keep what was measured
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(REPO / "src"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    sub = p.add_subparsers(dest="command", required=True, metavar="{env,table,compile,sweep}")

    env = sub.add_parser("env", help="versions and the GPU; exit 3 without CUDA")
    env.add_argument("--json")

    table = sub.add_parser("table", help="images/s, ms/step, peak memory per precision/batch")
    table.add_argument("--json")
    table.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    table.add_argument("--precisions", nargs="+", default=["fp32", "bf16"],
                       choices=["fp32", "bf16"])
    table.add_argument("--batches", nargs="+", type=int, default=[64, 256, 1024],
                       help="batch sizes of the `step` rows (default 64 256 1024)")
    table.add_argument("--steps", type=int, default=200, help="timed steps per `step` row")
    table.add_argument("--warmup", type=int, default=30, help="untimed steps before them")
    table.add_argument("--loop-steps", type=int, default=2000,
                       help="steps of each `loop` training run (default 2000)")
    table.add_argument("--log-every", type=int, default=100)
    table.add_argument("--copy-repeats", type=int, default=200)
    table.add_argument("--timeout", type=float, default=120,
                       help="seconds per worker process (one for `loop`, one for `step`)")
    table.add_argument("--budget", type=float, help="seconds for the whole subcommand")
    table.add_argument("--work-dir", help="where the `loop` runs go (default: a temp dir)")

    comp = sub.add_parser("compile", help="torch.compile on/off, measured on `_Run.step`")
    comp.add_argument("--json")
    comp.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    comp.add_argument("--precisions", nargs="+", default=["bf16", "fp32"],
                      choices=["fp32", "bf16"])
    comp.add_argument("--modes", nargs="+", default=["default", "reduce-overhead"],
                      help="torch.compile modes (default: default reduce-overhead)")
    comp.add_argument("--batch", type=int, default=64)
    comp.add_argument("--steps", type=int, default=200)
    comp.add_argument("--warmup", type=int, default=30)
    comp.add_argument("--timeout", type=float, default=300, help="seconds for the worker")
    comp.add_argument("--budget", type=float, help="seconds for the whole subcommand")

    sweep = sub.add_parser("sweep", help="N concurrent `dislab train` processes on the GPU")
    sweep.add_argument("--json")
    sweep.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    sweep.add_argument("--procs", nargs="+", type=int, default=[1, 2, 4, 8])
    sweep.add_argument("--steps", type=int, default=2000, help="steps per process")
    sweep.add_argument("--batch", type=int, default=64)
    sweep.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    sweep.add_argument("--log-every", type=int, default=100)
    sweep.add_argument("--timeout", type=float, default=75,
                       help="seconds per N; the processes still running are stopped and "
                            "their logged windows used")
    sweep.add_argument("--budget", type=float, help="seconds for the whole subcommand")
    sweep.add_argument("--work-dir", help="run directories (default: a temp dir)")

    worker = sub.add_parser("worker")  # internal: one measurement process
    worker.add_argument("kind", choices=["step", "loop"])
    worker.add_argument("spec")

    args = p.parse_args(argv)
    if args.command == "worker":
        spec = json.loads(args.spec)
        (worker_step if args.kind == "step" else worker_loop)(spec)
        return 0
    commands = {"env": command_env, "table": command_table, "compile": command_compile,
                "sweep": command_sweep}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
