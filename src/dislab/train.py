"""One training loop for every objective: ``train(config) -> run_dir``.

>>> from dislab.train import TrainConfig, train
>>> run_dir = train(TrainConfig(model="beta_vae", hyperparameters={"beta": 4},
...                             dataset="dsprites_full", steps=300_000, seed=0, run_dir="runs/x"))

Defaults are the study's (dlib ``config/unsupervised_study_v1/model_configs/shared.gin``,
``methods/unsupervised/train.py``): batch 64, Adam lr 1e-4 (0.9, 0.999, 1e-8), 300,000 global
steps, d = 10, conv encoder / deconv decoder, Bernoulli-logits reconstruction loss. The files a
run writes are described in :mod:`dislab.rundir`; this module is only the loop.

Seeds (dlib ``methods/unsupervised/train.py`` ``train``): ``rs = RandomState(seed)``; the
training data stream is ``RandomState(rs.randint(2**32))`` and the evaluation stream uses the
second draw (2357136044 and 2546248239 for seed 0, as dlib). The initial weights come from a
CPU ``torch.Generator`` seeded with ``seed`` (so they do not depend on the device); the
reparameterisation noise (and FactorVAE's permutations) from a generator on the training device
seeded with the data-stream seed. Deviation from dlib: batches are drawn with one
``sample_observations(batch_size, rng)`` call instead of 64 one-image calls; both are 64 i.i.d.
uniform draws.

Resuming: rerunning with the same config continues from ``checkpoint.pt`` and, on the same
device and thread count, ends with bitwise the same weights as an uninterrupted run. A run
whose ``results/train.json`` exists is not retrained. A run directory holding a different
config is refused, and so is a second process writing the same run directory. Ctrl-C raises
:class:`TrainingInterrupted`, whose message names the step and how to continue.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from dislab import __version__, models, rundir
from dislab import data as datasets
from dislab._io import atomic_path, write_json
from dislab._runtime import flush_denormals
from dislab.data import pairs
from dislab.data.base import GroundTruthData
from dislab.rundir import (
    CHECKPOINT_FILE,
    FAILURE_FILE,
    LOG_FILE,
    PRECISIONS,
    TRAIN_RESULTS_FILE,
    load_checkpoint,
    save_checkpoint,
    to_images,
)


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or inf; the message names the step, ``failure.json`` records it."""


@dataclass
class TrainConfig:
    """Every option of a training run (a plain, picklable dataclass; ``dict`` works too).

    ``steps`` counts dlib global steps: FactorVAE with ``dlib_step_parity`` (the default)
    advances 2 per iteration, so it runs ``steps / 2`` updates (see
    :class:`dislab.models.objectives.FactorVAE`). ``checkpoint_every`` and ``log_every``
    count iterations. ``threads`` sets ``torch.set_num_threads`` (None leaves it).
    ``source`` is the dataset source: auto, official or procedural.

    ``precision``: ``fp32`` (the default: the study's numerics), ``bf16`` (forward pass and
    loss under bf16 autocast; the weights, Adam's state, the checkpoints, the loss reduction
    and the KL / total-correlation / log-density terms stay fp32; needs native bf16) or
    ``auto`` (bf16 where the device has it natively, else fp32). What it resolved to is in
    ``config.json`` (``resolved.precision``) and ``results/train.json``; a resumed run keeps
    it (``auto`` resolving differently on another machine is refused like any other change).
    """

    model: str = "beta_vae"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    dataset: str = "dsprites_full"
    source: str = "auto"
    seed: int = 0
    steps: int = 300_000
    batch_size: int = 64
    num_latent: int = 10
    encoder: str = "conv"
    decoder: str = "deconv"
    lr: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    discriminator_lr: float = 1e-4
    eval_samples: int = 64_000
    run_dir: str = "runs/run"
    checkpoint_every: int = 1000
    log_every: int = 100
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    data_root: str | None = None
    precision: str = "fp32"

    def __post_init__(self):
        for name in ("seed", "steps", "batch_size", "num_latent", "eval_samples",
                     "checkpoint_every", "log_every"):
            value = getattr(self, name)
            low = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name in ("lr", "adam_eps", "discriminator_lr", "adam_beta1", "adam_beta2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
        for name in ("lr", "adam_eps", "discriminator_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be None or an int >= 1, got {self.threads!r}")
        if not isinstance(self.device, str) or (self.device not in ("auto", "cpu", "cuda")
                                                and not self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        self.hyperparameters = models.resolve_hyperparameters(self.model, self.hyperparameters)
        for kind, table, name in (("encoder", models.ENCODERS, self.encoder),
                                  ("decoder", models.DECODERS, self.decoder)):
            if name not in table:
                raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(table)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {self.precision!r}")
        self.run_dir = str(self.run_dir)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise ValueError(f"unknown train option(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(sorted(valid))}")
        return cls(**values)


def stream_seeds(seed: int) -> tuple[int, int]:
    """dlib's (training stream, evaluation stream) seeds: two ``randint(2**32)`` draws."""
    rs = np.random.RandomState(seed)
    return int(rs.randint(2**32)), int(rs.randint(2**32))


# -- the run's state --------------------------------------------------------------------------


class _Run:
    """Model, objective, optimisers and RNGs of one run, with (de)serialisation."""

    def __init__(self, config: TrainConfig, num_channels: int, device: torch.device):
        init = torch.Generator().manual_seed(config.seed)
        train_seed, self.eval_seed = stream_seeds(config.seed)
        self.vae = models.build_vae(num_channels, config.num_latent, config.encoder,
                                    config.decoder, generator=init)
        self.objective = models.make_objective(config.model, config.hyperparameters,
                                               config.num_latent, generator=init)
        self.vae.to(device, memory_format=torch.channels_last)
        self.objective.to(device)
        betas = (config.adam_beta1, config.adam_beta2)
        self.optimizer = torch.optim.Adam(self.vae.parameters(), lr=config.lr, betas=betas,
                                          eps=config.adam_eps)
        self.aux_optimizer = self.objective.make_optimizer(config.discriminator_lr,
                                                           config.adam_eps)
        self.data_rng = np.random.RandomState(train_seed)
        self.noise = torch.Generator(device).manual_seed(train_seed)
        self.precision = rundir.resolve_precision(config.precision, device)
        self.device_type = device.type
        self.iteration = 0
        self.elapsed = 0.0

    def state_dict(self) -> dict[str, Any]:
        key, keys, pos, has_gauss, cached = self.data_rng.get_state()
        return {
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "vae": self.vae.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "aux_optimizer": self.aux_optimizer.state_dict() if self.aux_optimizer else None,
            "noise_rng": self.noise.get_state(),
            "data_rng": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                         "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])
        self.vae.load_state_dict(state["vae"])
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.aux_optimizer is not None:
            self.aux_optimizer.load_state_dict(state["aux_optimizer"])
        try:
            self.noise.set_state(state["noise_rng"])
        except RuntimeError:  # a generator state of another kind of device (CUDA vs CPU)
            raise ValueError(f"the checkpoint was written on another kind of device than "
                             f"{self.device_type}: resume it with the --device it trained "
                             "on") from None
        rng = state["data_rng"]
        self.data_rng.set_state(("MT19937", rng["keys"].numpy().astype(np.uint32), rng["pos"],
                                 rng["has_gauss"], rng["cached_gaussian"]))

    def draw(self, data: GroundTruthData, n: int, rng: np.random.RandomState,
             device: torch.device):
        """``(x, posterior)``: a batch of ``n`` images, or for a pair objective ``n`` pairs
        stacked as ``[x1; x2]`` with the objective's posterior hook bound to their labels."""
        if not self.objective.trains_on_pairs:
            return to_images(data.sample_observations(n, rng), device), None
        x1, x2, labels = pairs.sample_pairs(data, n, rng, self.objective.k)
        labels = torch.from_numpy(labels).to(device)
        return (to_images(np.concatenate([x1, x2]), device),
                functools.partial(self.objective.posterior, labels=labels))

    def autocast(self):
        """bf16 autocast for the forward pass and the loss when the run's precision is bf16
        (the statistics and the regulariser are cast back to fp32 inside)."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16,
                              enabled=self.precision == "bf16")

    def step(self, x: torch.Tensor, global_step: int, posterior=None) -> dict[str, torch.Tensor]:
        """One simultaneous update of the VAE (and the objective's own parameters)."""
        with self.autocast():
            out = self.vae(x, self.noise, posterior)
            terms = self.objective(out, global_step, self.noise)
        self.optimizer.zero_grad(set_to_none=True)
        if self.aux_optimizer is not None:  # both gradients at the pre-update parameters
            self.aux_optimizer.zero_grad(set_to_none=True)
            terms["discriminator_loss"].backward(inputs=list(self.objective.parameters()),
                                                 retain_graph=True)
        terms["loss"].backward(inputs=list(self.vae.parameters()))
        self.optimizer.step()
        if self.aux_optimizer is not None:
            self.aux_optimizer.step()
        return _report(out, terms)


def _report(out: models.VAEOutput, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Everything one step logs, as detached scalars (dlib's names; ``elbo = -(rec + KL)``)."""
    report = {"loss": terms["loss"], "reconstruction_loss": out.reconstruction,
              "kl_loss": out.kl, "elbo": -out.elbo_loss, "regularizer": terms["regularizer"]}
    report.update((k, v) for k, v in terms.items() if k not in report)
    return {k: v.detach() for k, v in report.items()}


# -- files ------------------------------------------------------------------------------------


def _run_record(config: TrainConfig, data: GroundTruthData, run: _Run) -> dict[str, Any]:
    train_seed, eval_seed = stream_seeds(config.seed)
    record = dataclasses.asdict(config)
    record["resolved"] = {
        "dataset_source": data.source,
        "observation_shape": list(data.observation_shape),
        "num_channels": int(data.observation_shape[2]),
        "train_stream_seed": train_seed,
        "eval_stream_seed": eval_seed,
        "steps_per_iteration": run.objective.steps_per_iteration,
        "iterations": math.ceil(config.steps / run.objective.steps_per_iteration),
        "precision": run.precision,
        "dislab_version": __version__,
    }
    return record


class _Log:
    """``train_log.csv``, opened for appending; rows beyond the checkpoint are dropped."""

    def __init__(self, path: Path, upto_iteration: int):
        self.path = path
        rows = []
        if path.exists() and path.stat().st_size:
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= upto_iteration]
        self.fieldnames = list(rows[0]) if rows else None
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict]) -> None:
        def write(tmp: Path) -> None:
            with tmp.open("w", newline="") as f:
                if self.fieldnames:
                    writer = csv.DictWriter(f, self.fieldnames)
                    writer.writeheader()
                    writer.writerows(rows)
        with atomic_path(self.path) as tmp:
            write(tmp)

    def append(self, row: dict[str, float]) -> None:
        new = self.fieldnames is None
        if new:
            self.fieldnames = list(row)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, self.fieldnames)
            if new:
                writer.writeheader()
            writer.writerow(row)


# -- the loop ---------------------------------------------------------------------------------


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says where and how to continue."""


def train(config: TrainConfig | dict[str, Any], data: GroundTruthData | None = None, *,
          recompute_results: bool = False) -> Path:
    """Train (or resume, or skip if finished) the run described by ``config``; returns its
    run directory. ``data`` overrides the registry lookup of ``config.dataset`` (any
    :class:`GroundTruthData`; ``config.dataset`` is then only its label).

    One process at a time writes a run directory: a second one gets a
    :class:`dislab._io.BusyError` at once. A corrupt ``results/train.json`` is an error
    (:class:`dislab.rundir.CorruptFileError`) unless ``recompute_results``, which recomputes
    it from the final checkpoint. When training finishes, metric results of earlier
    checkpoints are marked stale (:func:`dislab.rundir.mark_stale_results`).
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    flush_denormals()  # a long run's subnormal weights would slow every step (dislab._runtime)
    run_dir = Path(config.run_dir)
    if data is None:
        data = datasets.get(config.dataset, source=config.source, root=config.data_root)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = rundir.resolve_device(config.device)
    run = _Run(config, int(data.observation_shape[2]), device)
    if run.objective.trains_on_pairs:
        _check_pair_objective(run.objective, config, data)
    record = _run_record(config, data, run)
    rundir.write_or_check_config(run_dir, record)
    with rundir.lock(run_dir):
        if _finished(run_dir, recompute_results):
            return run_dir
        checkpoint = run_dir / CHECKPOINT_FILE
        if checkpoint.exists():
            # loaded on the CPU: generator states must be CPU tensors; load_state_dict moves
            # the weights and optimiser states to the run's device
            run.load_state_dict(load_checkpoint(checkpoint))
        try:
            _train_loop(run, config, data, record["resolved"], run_dir, device)
        except KeyboardInterrupt:
            raise TrainingInterrupted(_interrupted(run_dir, run, record["resolved"])) from None
        results = evaluate(run, config, data, record["resolved"], device)
        write_json(run_dir / TRAIN_RESULTS_FILE, results)
        rundir.mark_stale_results(run_dir, results["global_step"])
    return run_dir


def _check_pair_objective(objective: models.objectives.Objective, config: TrainConfig,
                          data: GroundTruthData) -> None:
    """A weak model needs a dataset with at least 2 factors, ``k`` in range and, for a label
    variant, a latent dimension per factor."""
    pairs.check_k(objective.k, data.num_factors, getattr(data, "name", "") or config.dataset)
    if objective.uses_labels and config.num_latent < data.num_factors:
        raise ValueError(f"{config.model} keeps the latent dimension of the changed factor's "
                         f"index, so it needs num_latent >= the {data.num_factors} factors of "
                         f"{config.dataset}; got num_latent = {config.num_latent}")


def _finished(run_dir: Path, recompute_results: bool) -> bool:
    """Whether the run is done; a corrupt ``train.json`` raises, or is moved aside to be
    recomputed from the final checkpoint with ``recompute_results``."""
    if not rundir.is_finished(run_dir):
        return False
    try:
        rundir.read_train_results(run_dir)
        return True
    except rundir.CorruptFileError:
        if not recompute_results:
            raise
    path = run_dir / TRAIN_RESULTS_FILE
    os.replace(path, path.with_suffix(".json.corrupt"))
    return False


def _interrupted(run_dir: Path, run: _Run, resolved: dict) -> str:
    spi = resolved["steps_per_iteration"]
    path = run_dir / CHECKPOINT_FILE
    saved = load_checkpoint(path)["iteration"] * spi if path.exists() else 0
    return (f"interrupted at step {run.iteration * spi} of {resolved['iterations'] * spi}; "
            f"the checkpoint at step {saved} is kept in {run_dir}: rerun the same command to "
            "continue")


def _save(run: _Run, run_dir: Path) -> None:
    save_checkpoint(run_dir, run.state_dict())


def _fail(run_dir: Path, iteration: int, global_step: int, values: dict[str, float]) -> None:
    saved = load_checkpoint(run_dir / CHECKPOINT_FILE)["iteration"] \
        if (run_dir / CHECKPOINT_FILE).exists() else None
    message = (f"non-finite loss at global step {global_step} (iteration {iteration}): "
               + ", ".join(f"{k}={v}" for k, v in values.items())
               + f". The last good checkpoint (iteration {saved}) is kept in {run_dir}; "
               f"the failure is recorded in {run_dir / FAILURE_FILE}.")
    write_json(run_dir / FAILURE_FILE, {"iteration": iteration, "global_step": global_step,
                                        "checkpoint_iteration": saved, "values": values,
                                        "error": message})
    raise TrainingDivergedError(message)


def _train_loop(run: _Run, config: TrainConfig, data: GroundTruthData, resolved: dict,
                run_dir: Path, device: torch.device) -> None:
    iterations, spi = resolved["iterations"], resolved["steps_per_iteration"]
    log = _Log(run_dir / LOG_FILE, run.iteration)
    sums: dict[str, float] = {}
    count, data_time, window_start = 0, 0.0, time.perf_counter()
    bar = tqdm(total=iterations, initial=run.iteration, unit="step", disable=not config.progress,
               desc=f"{config.model} seed {config.seed}", dynamic_ncols=True)
    run.vae.train()
    while run.iteration < iterations:
        tick = time.perf_counter()
        x, posterior = run.draw(data, config.batch_size, run.data_rng, device)
        data_time += time.perf_counter() - tick
        report = run.step(x, run.iteration * spi, posterior)
        values = dict(zip(report, torch.stack(list(report.values())).tolist()))
        if not all(math.isfinite(v) for v in values.values()):
            bar.close()
            _fail(run_dir, run.iteration, run.iteration * spi, values)
        run.iteration += 1
        count += 1
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        done = run.iteration == iterations
        if run.iteration % config.log_every == 0 or done:
            seconds = time.perf_counter() - window_start
            run.elapsed += seconds
            log.append({"iteration": run.iteration, "global_step": run.iteration * spi,
                        **{k: v / count for k, v in sums.items()},
                        "images_per_second": count * len(x) / seconds,
                        "data_time_share": data_time / seconds})
            bar.set_postfix(loss=f"{sums['loss'] / count:.2f}")
            sums, count, data_time, window_start = {}, 0, 0.0, time.perf_counter()
        if run.iteration % config.checkpoint_every == 0 or done:
            _save(run, run_dir)
        bar.update(1)
    bar.close()


@torch.no_grad()
def evaluate(run: _Run, config: TrainConfig, data: GroundTruthData, resolved: dict,
             device: torch.device) -> dict[str, float]:
    """Loss terms averaged over ``config.eval_samples`` fresh samples from the evaluation
    stream (dlib: 1,000 batches of 64), with the final global step."""
    rng = np.random.RandomState(resolved["eval_stream_seed"])
    noise = torch.Generator(device).manual_seed(resolved["eval_stream_seed"])
    global_step = run.iteration * resolved["steps_per_iteration"]
    sums: dict[str, float] = {}
    run.vae.eval()
    for start in range(0, config.eval_samples, config.batch_size):
        n = min(config.batch_size, config.eval_samples - start)
        x, posterior = run.draw(data, n, rng, device)
        with run.autocast():
            out = run.vae(x, noise, posterior)
            report = _report(out, run.objective(out, global_step, noise))
        for k, v in report.items():
            sums[k] = sums.get(k, 0.0) + float(v) * n
    results = {k: v / config.eval_samples for k, v in sums.items()}
    results.update(global_step=global_step, iterations=run.iteration,
                   elapsed_time=run.elapsed, eval_samples=config.eval_samples,
                   precision=run.precision)
    return results
