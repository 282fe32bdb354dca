"""Training benchmark: images/s per objective, peak memory, FLOP/s share of peak, data time,
a same-process comparison with the ``disent`` package, and a trained run's denormal slowdown.

Every measurement runs in a fresh subprocess (so peak RSS is its own) with
``OMP_NUM_THREADS`` = ``torch.set_num_threads`` = the thread count. A step is the real
training step of :mod:`dislab.train` (sample a batch from an in-memory uint8 dataset, forward,
loss, backward, Adam), batch 64, 64x64x1 images; the first ``--warmup`` steps are not timed.

- FLOPs per step are counted with ``torch.utils.flop_counter`` (matmuls and convolutions,
  forward + backward; 1 MAC = 2 FLOPs); peak FLOP/s is the best 2048x2048 fp32 matmul
  measured in the same run with the same thread count.
- ``--disent-python`` names an interpreter of a separate venv with ``disent`` installed
  (outside the repo). There one process alternates short blocks (``--block`` steps,
  ``--rounds`` times) of (a) dislab's beta-VAE,
  (b) disent's ``BetaVae`` with its ``EncoderConv64/DecoderConv64`` and (c) disent's
  ``BetaVae`` wrapping dislab's exact dlib architecture, so the ratio is same-process and
  same-torch. disent is driven by calling its ``training_step`` + its own optimiser (what
  Lightning's automatic optimisation does, minus Lightning's loop overhead). Its venv has
  torch 2.13.0+cpu and no working torchvision (CUDA-only wheels), so the script writes a stub
  torchvision package into a temporary folder and prepends it to the path (disent and
  torchmetrics import names from it at import time; this model never uses them). With
  ``--precisions ... bf16`` the comparison also runs dislab's bf16 step.
- ``--tcmalloc PATH`` reruns the beta-VAE workers with ``LD_PRELOAD=PATH``.
- ``--from-run RUN_DIR ...`` (denormals) loads each run directory's checkpoint (weights and
  Adam state, by dislab's own loading code) and its dataset as its ``config.json`` names it,
  counts the subnormal floats (0 < |x| < ``finfo(float32).tiny``) in its weights and Adam
  moments, and times its training step against a freshly initialised model of the same config,
  each with denormals flushed (``torch.set_flush_denormal(True)``, dislab's default) and not:
  one process, blocks of ``--block`` steps alternating over the (model, flush) pairs for
  ``--rounds`` rounds, best and median ms/step of the blocks. Every block starts from a deep
  copy of the model's saved state, so the trained state does not drift away.
  ``--unflushed-steps N`` adds the checkpoint trained N more steps with denormals not flushed
  (a checkpoint written under the flush holds zeros where unflushed training keeps
  subnormals). ``--models`` with no name skips the per-model throughput.

    .venv/bin/python benchmarks/bench_train.py --threads 1 2 \\
        --disent-python /work/benchenv-train/bin/python \\
        --tcmalloc /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_train.py --threads 1 --models \\
        --from-run RUN_DIR --block 10 --rounds 8 --unflushed-steps 1000 --out /tmp/denormal.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BATCH = 64
MODELS = ("beta_vae", "annealed_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tc_vae")
WEAK_MODELS = ("ada_gvae", "ada_ml_vae")  # a step is BATCH pairs: 2 x BATCH images
# disent 0.8 (and the torchmetrics that lightning pulls in) import names from torchvision at
# import time; none is used by disent's BetaVae and Conv64 models. Where torchvision is
# missing, a stub package stands in: every module hands out placeholder classes that fail only
# when called.
_STUB_MODULE = (
    "def __getattr__(name):\n"
    "    if name.startswith('__'):\n"
    "        raise AttributeError(name)\n"
    "    def unavailable(*args, **kwargs):\n"
    "        raise ImportError(f'torchvision stub: {name} is not available')\n"
    "    return type(name, (), {'__init__': unavailable, '__call__': unavailable})\n")
TORCHVISION_STUB = {
    "__init__.py": "__version__ = '0.28.0'\n" + _STUB_MODULE,
    **{f"{module}.py": _STUB_MODULE for module in ("datasets", "models", "io", "utils", "ops")},
    "transforms/__init__.py": _STUB_MODULE,
    "transforms/functional.py": _STUB_MODULE,
    "transforms/v2/__init__.py": _STUB_MODULE,
}


def _torchvision_stub() -> Path:
    """A temporary folder holding the stub ``torchvision`` package (:data:`TORCHVISION_STUB`)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="torchvision-stub-"))
    for name, text in TORCHVISION_STUB.items():
        path = root / "torchvision" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# -- workers (run inside a subprocess) ---------------------------------------------------------


def _setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    return torch


def _dataset():
    """An in-memory uint8 dataset of dSprites' factor sizes' first 4 factors (random bits):
    the same gather + convert path as dsprites_full without its 2.8 GB."""
    import numpy as np

    from dislab.data.base import ArrayData

    class Synthetic(ArrayData):
        name = "synthetic"
        all_factor_names = ("shape", "scale", "orientation", "x")
        all_factor_sizes = (3, 6, 40, 32)
        latent_factor_indices = (0, 1, 2, 3)
        observation_shape = (64, 64, 1)
        pixel_scale = 1.0

    rng = np.random.RandomState(0)
    return Synthetic(rng.randint(0, 2, size=(3 * 6 * 40 * 32, 64, 64), dtype=np.uint8))


def _dislab_run(model: str, params: dict | None = None, precision: str = "fp32"):
    import torch

    from dislab.train import TrainConfig, _Run

    config = TrainConfig(model=model, hyperparameters=params, progress=False,
                         precision=precision)
    return _Run(config, 1, torch.device("cpu"))


def count_flops(step) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def peak_matmul(threads: int, repeats: int = 20) -> float:
    torch = _setup(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best


def _time_steps(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def _stepper(run, data, batch: int = BATCH):
    """``(step, data_time)``: one real training step of ``run`` on a batch drawn from ``data``
    with the run's own stream (a weak model draws ``batch`` pairs: 2 x ``batch`` images), and
    a one-element list accumulating the seconds spent drawing."""
    import torch

    data_time = [0.0]
    cpu = torch.device("cpu")

    def step():
        tick = time.perf_counter()
        x, posterior = run.draw(data, batch, run.data_rng, cpu)
        data_time[0] += time.perf_counter() - tick
        run.step(x, run.iteration, posterior)
        run.iteration += 1

    return step, data_time


def worker_dislab(model: str, threads: int, steps: int, warmup: int,
                  precision: str = "fp32") -> dict:
    import numpy as np

    torch = _setup(threads)
    data = _dataset()
    run = _dislab_run(model, {"dlib_step_parity": False} if model == "factor_vae" else {},
                      precision)
    step, data_time = _stepper(run, data)
    x, posterior = run.draw(data, BATCH, np.random.RandomState(1), torch.device("cpu"))
    flops = count_flops(lambda: run.step(x, 0, posterior))
    _time_steps(step, warmup)
    data_time[0] = 0.0
    load_before = os.getloadavg()[0]
    seconds = _time_steps(step, steps)
    return {
        "model": model, "threads": threads, "steps": steps, "precision": precision,
        "images_per_s": steps * len(x) / seconds, "step_ms": 1000 * seconds / steps,
        "data_ms": 1000 * data_time[0] / steps, "flops_per_step": flops,
        "gflops": flops * steps / seconds / 1e9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load": [load_before, os.getloadavg()[0]],
    }


# -- denormals: a trained run's checkpoint against a fresh model (``--from-run``) ------------


def _subnormal_count(tensors) -> list[int]:
    """``[subnormal, total]`` values among float32 ``tensors``. Counted on the bits (exponent
    0, mantissa not 0): with denormals flushed, comparisons treat a subnormal as 0."""
    import torch

    count = total = 0
    for t in tensors:
        if t is not None and t.dtype == torch.float32:
            bits = t.detach().view(torch.int32) & 0x7FFFFFFF
            count += int(((bits > 0) & (bits < 0x00800000)).sum())
            total += t.numel()
    return [count, total]


def _subnormals(run) -> dict[str, list[int]]:
    """Subnormal counts in a run's weights, gradients and Adam moments."""
    params = [*run.vae.parameters(), *run.objective.parameters()]
    states = [s for opt in (run.optimizer, run.aux_optimizer) if opt is not None
              for s in opt.state.values()]
    counts = {"weights": _subnormal_count(params),
              "gradients": _subnormal_count(p.grad for p in params)}
    for moment in ("exp_avg", "exp_avg_sq"):
        counts[f"adam_{moment}"] = _subnormal_count(s.get(moment) for s in states)
    return counts


def _runs_from_dir(run_dir: str, unflushed_steps: int) -> tuple[dict, object, int]:
    """``({name: _Run}, data, batch size)``: the run's checkpoint (model and optimiser
    state, loaded by dislab's own code), optionally the same trained ``unflushed_steps`` more
    steps with denormals not flushed, and a freshly initialised model of the same config."""
    import copy

    import torch

    from dislab import data as datasets
    from dislab.rundir import CHECKPOINT_FILE, load_checkpoint, read_config
    from dislab.train import TrainConfig, _Run

    record = read_config(run_dir)
    resolved = record.pop("resolved")
    config = TrainConfig.from_dict({**record, "progress": False})
    data = datasets.get(config.dataset, source=resolved["dataset_source"],
                        root=config.data_root)
    state = load_checkpoint(Path(run_dir) / CHECKPOINT_FILE)
    step = int(state["iteration"]) * int(resolved["steps_per_iteration"])

    def make(trained: bool):
        run = _Run(config, int(resolved["num_channels"]), torch.device("cpu"))
        if trained:  # a copy: Adam's load_state_dict keeps the given tensors
            run.load_state_dict(copy.deepcopy(state))
        return run

    runs = {f"trained {step:,} steps": make(True)}
    if unflushed_steps:
        run = make(True)
        torch.set_flush_denormal(False)
        _time_steps(_stepper(run, data, config.batch_size)[0], unflushed_steps)
        runs[f"trained {step:,} + {unflushed_steps:,} steps not flushed"] = run
    runs["fresh"] = make(False)
    return runs, data, config.batch_size


def _stats(ms: list[float]) -> dict:
    import statistics

    return {"best": min(ms), "median": statistics.median(ms), "blocks": ms}


def worker_denormals(run_dir: str, threads: int, block: int, warmup: int, rounds: int,
                     unflushed_steps: int = 0) -> dict:
    """Each model of :func:`_runs_from_dir` x denormals flushed / not, in alternating blocks
    of ``block`` steps; every block starts from the model's saved state (a deep copy of its
    weights, Adam moments and RNGs), so that the trained state does not drift away."""
    import copy

    torch = _setup(threads)
    runs, data, batch = _runs_from_dir(run_dir, unflushed_steps)
    snapshots = {name: copy.deepcopy(run.state_dict()) for name, run in runs.items()}
    steppers = {name: _stepper(run, data, batch)[0] for name, run in runs.items()}

    def restore(name: str):
        run = runs[name]
        run.load_state_dict(copy.deepcopy(snapshots[name]))  # a copy: see _runs_from_dir
        for opt in (run.optimizer, run.aux_optimizer):
            if opt is not None:
                opt.zero_grad(set_to_none=True)
        return run

    def block_ms(name: str, flush: bool, steps: int) -> float:
        restore(name)
        torch.set_flush_denormal(flush)
        return 1000 * _time_steps(steppers[name], steps) / steps

    modes = {False: "not_flushed", True: "flushed"}
    result = {"run_dir": run_dir, "threads": threads, "block": block, "rounds": rounds,
              "torch": torch.__version__, "flush_supported": torch.set_flush_denormal(True),
              "subnormals": {name: _subnormals(restore(name)) for name in runs},
              "after_unflushed_block": {}, "ms_per_step": {}}
    for name, flush in itertools.product(runs, modes):
        block_ms(name, flush, warmup)
    times = {(name, flush): [] for name, flush in itertools.product(runs, modes)}
    load_before = os.getloadavg()[0]
    for r in range(rounds):  # short alternating blocks: load changes hit every contender alike
        for name in runs:
            for flush in (False, True) if r % 2 == 0 else (True, False):
                times[name, flush].append(block_ms(name, flush, block))
                if r == 0 and not flush:
                    result["after_unflushed_block"][name] = _subnormals(runs[name])
    torch.set_flush_denormal(True)
    for (name, flush), ms in times.items():
        result["ms_per_step"].setdefault(name, {})[modes[flush]] = _stats(ms)
    result["load"] = [load_before, os.getloadavg()[0]]
    return result


def _images(batch):
    from dislab.rundir import to_images

    return to_images(batch, "cpu")


def _disent_betavae(encoder, decoder):
    from disent.frameworks.vae import BetaVae
    from disent.model import AutoEncoder

    cfg = BetaVae.cfg(optimizer="adam", optimizer_kwargs={"lr": 1e-4}, beta=4.0,
                      recon_loss="bce", loss_reduction="mean_sum")
    framework = BetaVae(model=AutoEncoder(encoder=encoder, decoder=decoder), cfg=cfg)
    return framework, framework.configure_optimizers()


def _dlib_arch_for_disent():
    """dislab's dlib architecture behind disent's encoder/decoder interface."""
    import torch
    from disent.model import DisentDecoder, DisentEncoder

    from dislab import models

    class Encoder(DisentEncoder):
        def __init__(self):
            super().__init__(x_shape=(1, 64, 64), z_size=10, z_multiplier=2)
            self.net = models.build_vae(1, 10, seed=0).encoder

        def encode(self, x):  # disent wants [mu, logvar] concatenated
            return torch.cat(self.net(x), dim=1)

    class Decoder(DisentDecoder):
        def __init__(self):
            super().__init__(x_shape=(1, 64, 64), z_size=10)
            self.net = models.build_vae(1, 10, seed=0).decoder

        def decode(self, z):
            return self.net(z)

    return Encoder().to(memory_format=torch.channels_last), Decoder()


def worker_compare(threads: int, block: int, warmup: int, rounds: int,
                   bf16: bool = False) -> dict:
    """dislab's beta-VAE step (and with ``bf16`` its bf16 autocast step) against disent's two
    contenders, in interleaved blocks in this one process (see the module docstring)."""
    import warnings

    try:
        import torchvision  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(_torchvision_stub()))
    warnings.simplefilter("ignore")
    torch = _setup(threads)
    from disent.model.ae import DecoderConv64, EncoderConv64

    data = _dataset()
    rng_disent = __import__("numpy").random.RandomState(0)
    run = _dislab_run("beta_vae", {"beta": 4.0})
    run_bf16 = _dislab_run("beta_vae", {"beta": 4.0}, precision="bf16") if bf16 else None
    contenders = {"dislab": None,
                  "disent_conv64": _disent_betavae(EncoderConv64(x_shape=(1, 64, 64), z_size=10,
                                                                 z_multiplier=2),
                                                   DecoderConv64(x_shape=(1, 64, 64), z_size=10)),
                  "disent_dlib_arch": _disent_betavae(*_dlib_arch_for_disent())}

    def dislab_step():
        run.step(_images(data.sample_observations(BATCH, run.data_rng)), 0)

    def disent_step(framework, optimizer):
        def step():
            x = torch.from_numpy(data.sample_observations(BATCH, rng_disent)).permute(0, 3, 1, 2)
            loss = framework.training_step({"x_targ": (x.contiguous(),)}, 0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    steppers = {"dislab": dislab_step}
    if bf16:
        steppers["dislab_bf16"] = lambda: run_bf16.step(
            _images(data.sample_observations(BATCH, run_bf16.data_rng)), 0)
    for name in ("disent_conv64", "disent_dlib_arch"):
        steppers[name] = disent_step(*contenders[name])
    flops = {}
    x = _images(data.sample_observations(BATCH, rng_disent))
    flops["dislab"] = count_flops(lambda: run.step(x, 0))
    if bf16:
        flops["dislab_bf16"] = flops["dislab"]  # the same convolutions, in bf16
    for name in ("disent_conv64", "disent_dlib_arch"):
        flops[name] = count_flops(steppers[name])
    seconds = dict.fromkeys(steppers, 0.0)
    for step in steppers.values():
        _time_steps(step, warmup)
    load_before = os.getloadavg()[0]
    for _ in range(rounds):  # short interleaved blocks: load changes hit every contender alike
        for name, step in steppers.items():
            seconds[name] += _time_steps(step, block)
    total = rounds * block
    result = {"threads": threads, "steps": total, "torch": torch.__version__,
              "load": [load_before, os.getloadavg()[0]]}
    for name in steppers:
        result[name] = {"images_per_s": total * BATCH / seconds[name],
                        "gflops": flops[name] * total / seconds[name] / 1e9,
                        "flops_per_step": flops[name]}
    for name in ("disent_conv64", "disent_dlib_arch"):
        for ours in [o for o in ("dislab", "dislab_bf16") if o in steppers]:
            suffix = "_bf16" if ours == "dislab_bf16" else ""
            result[f"ratio{suffix}_vs_{name}"] = (result[ours]["images_per_s"]
                                                  / result[name]["images_per_s"])
    return result


# -- driver ---------------------------------------------------------------------------------


def _spawn(python: str, args: list[str], threads: int, options: list[str],
           preload: str | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": str(REPO / "src")}
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "33554432")
    env.setdefault("MALLOC_TRIM_THRESHOLD_", "1073741824")
    if preload:
        env["LD_PRELOAD"] = preload
    out = subprocess.run([python, __file__, *options, "--worker", *args], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print_comparison(cmp: dict, threads: int) -> None:
    contenders = [k for k in ("dislab", "dislab_bf16", "disent_conv64", "disent_dlib_arch")
                  if k in cmp]
    ratios = [k for k in cmp if k.startswith("ratio")]
    print(f"disent comparison {threads}t {cmp['allocator']}: "
          + ", ".join(f"{k} {cmp[k]['images_per_s']:.1f} img/s" for k in contenders)
          + "; " + ", ".join(f"{k} {cmp[k]:.2f}x" for k in ratios)
          + f"; load {cmp['load'][0]:.1f}", flush=True)


def _print_denormals(row: dict) -> None:
    print(f"denormals {row['run_dir']} {row['threads']}t, load {row['load'][0]:.1f}, "
          f"ms/step best (median) of {row['rounds']} blocks of {row['block']}:")
    for name, modes in row["ms_per_step"].items():
        counts = row["subnormals"][name]
        print(f"  {name:42s} " + "  ".join(
            f"{mode} {t['best']:6.1f} ({t['median']:6.1f})" for mode, t in modes.items())
            + "; subnormal weights {}/{}, Adam moments {}+{}".format(
                *counts["weights"], counts["adam_exp_avg"][0], counts["adam_exp_avg_sq"][0]),
            flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--models", nargs="*", default=list(MODELS),
                   help=f"models to time (also {', '.join(WEAK_MODELS)}; none: skip)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                   help="each model in each (bf16: autocast; needs native bf16)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--block", type=int, default=3,
                   help="steps per interleaved block (disent, denormals)")
    p.add_argument("--rounds", type=int, default=15,
                   help="interleaved rounds (disent, denormals)")
    p.add_argument("--from-run", nargs="+", default=[], metavar="RUN_DIR",
                   help="denormals: each run's checkpoint against a fresh model, flushed or not")
    p.add_argument("--unflushed-steps", type=int, default=0,
                   help="denormals: also time the checkpoint trained this many more steps "
                        "with denormals not flushed")
    p.add_argument("--disent-python", default=None)
    p.add_argument("--tcmalloc", default=None)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train.json"))
    p.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        kind, *rest = args.worker
        if kind == "peak":
            print(json.dumps({"flops": peak_matmul(int(rest[0]))}))
        elif kind == "dislab":
            print(json.dumps(worker_dislab(rest[0], int(rest[1]), args.steps, args.warmup,
                                           *rest[2:])))
        elif kind == "denormals":
            print(json.dumps(worker_denormals(rest[0], int(rest[1]), args.block, args.warmup,
                                              args.rounds, args.unflushed_steps)))
        else:
            print(json.dumps(worker_compare(int(rest[0]), args.block, args.warmup, args.rounds,
                                            bf16="bf16" in rest[1:])))
        return

    python = sys.executable
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():  # after every measurement, so an interrupted run keeps what it measured
        out.write_text(json.dumps(report, indent=2) + "\n")
    options = ["--steps", str(args.steps), "--warmup", str(args.warmup),
               "--block", str(args.block), "--rounds", str(args.rounds),
               "--unflushed-steps", str(args.unflushed_steps)]
    report = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "runs": [],
              "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    for threads in args.threads:
        peak = _spawn(python, ["peak", str(threads)], threads, options)["flops"]
        report.setdefault("peak_gflops", {})[threads] = peak / 1e9
        variants = [(None, "glibc (malloc env vars)")]
        if args.tcmalloc:
            variants.append((args.tcmalloc, "tcmalloc"))
        for preload, allocator in variants:
            for model, precision in itertools.product(
                    args.models if preload is None else ["beta_vae"], args.precisions):
                row = _spawn(python, ["dislab", model, str(threads), precision], threads,
                             options, preload)
                row.update(allocator=allocator, peak_share=row["gflops"] * 1e9 / peak)
                report["runs"].append(row)
                save()
                print(f"{model:13s} {precision} {threads}t {allocator:24s} "
                      f"{row['images_per_s']:7.1f} img/s "
                      f"{row['step_ms']:6.1f} ms/step (data {row['data_ms']:.2f} ms) "
                      f"{row['gflops']:5.1f} GFLOP/s = {100 * row['peak_share']:4.1f}% of "
                      f"{peak / 1e9:.0f}, peak RSS {row['peak_rss_mib']:.0f} MiB, "
                      f"load {row['load'][0]:.1f}", flush=True)
        if args.disent_python:
            for preload in [None] + ([args.tcmalloc] if args.tcmalloc else []):
                bf16 = ["bf16"] if "bf16" in args.precisions else []
                cmp = _spawn(args.disent_python, ["compare", str(threads), *bf16], threads,
                             options, preload)
                cmp["allocator"] = "tcmalloc" if preload else "glibc (malloc env vars)"
                report.setdefault("disent", []).append(cmp)
                save()
                _print_comparison(cmp, threads)
        for run_dir in args.from_run:
            row = _spawn(python, ["denormals", run_dir, str(threads)], threads, options)
            report.setdefault("denormals", []).append(row)
            save()
            _print_denormals(row)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
