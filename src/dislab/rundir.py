"""The run directory: the one format every module that reads or writes a run goes through.

::

    config.json                       every option of the run, plus ``resolved``: what was
                                      resolved at the start (dataset source, image shape,
                                      stream seeds, steps per iteration, iterations)
    checkpoint.pt                     state dicts of the model, objective, optimisers, the
                                      iteration and every RNG state; read with
                                      ``torch.load(weights_only=True)`` only
    train_log.csv                     one row per ``log_every`` iterations
    results/train.json                the final loss terms (written once training is done:
                                      its presence marks a finished run)
    results/<representation>/<metric>.json
                                      one metric's scores on one representation, written by
                                      :func:`dislab.scoring.score_run` only
    failure.json                      only after a NaN/inf loss
    .lock                             held (``flock``) by the one process writing the run

Every file is written atomically (temporary file + rename). Readers here turn a missing,
empty or corrupt file into a :class:`CorruptFileError` (a ``ValueError``) whose one-line
message names the file, what is wrong and the remedy.

Also here: the device and image helpers shared by training, representations, visualisation
and the control experiments. ``torch`` is imported only by the functions that need it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dislab._io import exclusive, write_json

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "train_log.csv"
RESULTS_DIR = "results"
TRAIN_RESULTS_FILE = Path(RESULTS_DIR) / "train.json"
FAILURE_FILE = "failure.json"
LOCK_FILE = ".lock"

#: The representations built from a run (:mod:`dislab.represent`), each a results folder.
REPRESENTATIONS = ("mean", "sampled")

#: Options that change how a run executes but not its numbers; a resumed run may change them.
EXECUTION_OPTIONS = ("run_dir", "checkpoint_every", "log_every", "device", "threads",
                     "progress", "data_root")


class CorruptFileError(ValueError):
    """A run-directory file is missing, empty, unreadable or of the wrong shape."""

    def __init__(self, path: str | os.PathLike, problem: str, remedy: str):
        self.path, self.problem, self.remedy = Path(path), problem, remedy
        super().__init__(f"{path}: {problem}; {remedy}")


# -- config -----------------------------------------------------------------------------------


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a run directory (clear errors if absent or corrupt)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {run_dir} is not a dislab run directory")
    record = _read_json_object(path, "it is written when a run starts: start the run again "
                                     "in a new directory")
    if not isinstance(record.get("resolved"), dict):
        raise CorruptFileError(path, "has no 'resolved' section", "it was not written by "
                                     "dislab train: start the run again in a new directory")
    return record


def config_difference(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of the options whose values differ (execution-only options ignored; a run
    written before ``precision`` existed was fp32)."""
    old = {"precision": "fp32", **old,
           "resolved": {"precision": "fp32", **old.get("resolved", {})}}
    keys = (set(old) | set(new)) - set(EXECUTION_OPTIONS) - {"resolved"}
    diff = sorted(k for k in keys if old.get(k) != new.get(k))
    for k in ("dataset_source", "observation_shape", "precision"):
        if old.get("resolved", {}).get(k) != new["resolved"][k] and k not in diff:
            diff.append(k)
    return diff


def write_or_check_config(run_dir: Path, record: dict[str, Any]) -> None:
    """Write ``config.json`` for a new run, or check that ``run_dir`` holds the same run."""
    path = run_dir / CONFIG_FILE
    if path.exists():
        diff = config_difference(read_config(run_dir), record)
        if diff:
            raise ValueError(f"{run_dir} already holds a run with a different config "
                             f"({', '.join(diff)}); choose another run directory")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


# -- checkpoint -------------------------------------------------------------------------------


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` onto the CPU; any failure is a
    :class:`CorruptFileError` naming the file (never torch's advice to unpickle it)."""
    import torch

    path = Path(path)
    remedy = ("delete it to restart the run from scratch, or restore it from a backup "
              "(it is never loaded with weights_only=False)")
    if path.is_file() and path.stat().st_size == 0:
        raise CorruptFileError(path, "the checkpoint is empty", remedy)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # truncated, foreign or pickled objects
        raise CorruptFileError(path, f"not a readable dislab checkpoint ({_torch_reason(err)})",
                               remedy) from None
    if not isinstance(state, dict) or "iteration" not in state or "vae" not in state:
        raise CorruptFileError(path, "not a dislab checkpoint (no 'iteration'/'vae' entries)",
                               remedy)
    return state


def _torch_reason(err: Exception) -> str:
    """The cause in one of torch's load errors: its first sentence, without torch's advice
    to allow-list or unpickle what the file holds."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    cause = " ".join(text.split())
    for cut in (" was not an allowed global", ". ", " Check the documentation"):
        cause = cause.split(cut)[0]
    return cause.rstrip(".") or type(err).__name__


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    """Write ``checkpoint.pt`` atomically."""
    import torch

    from dislab._io import atomic_path

    with atomic_path(run_dir / CHECKPOINT_FILE) as tmp:
        torch.save(state, tmp)


def checkpoint_step(run_dir: str | os.PathLike) -> int:
    """The global step of the run's checkpoint (iterations x steps per iteration)."""
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the run has not saved a checkpoint yet")
    iteration = int(load_checkpoint(path)["iteration"])
    return iteration * int(read_config(run_dir)["resolved"]["steps_per_iteration"])


# -- results ----------------------------------------------------------------------------------


def _read_json_object(path: Path, remedy: str) -> dict[str, Any]:
    """A JSON object from ``path``, or :class:`CorruptFileError`."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise CorruptFileError(path, "not a text file", remedy) from None
    if not text.strip():
        raise CorruptFileError(path, "the file is empty", remedy)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise CorruptFileError(path, f"not valid JSON ({err})", remedy) from None
    if not isinstance(record, dict):
        raise CorruptFileError(path, f"holds a JSON {type(record).__name__}, not an object",
                               remedy)
    return record


#: The entries of ``results/train.json`` that are text, not numbers.
TRAIN_RESULTS_TEXT = ("precision",)
TRAIN_RESULTS_REMEDY = ("the checkpoint is kept: rerun with --recompute-results (dislab "
                        "train) or --retry-failed (dislab study run) to recompute it")


def is_finished(run_dir: str | os.PathLike) -> bool:
    """Whether training is done (``results/train.json`` exists, whatever its state)."""
    return (Path(run_dir) / TRAIN_RESULTS_FILE).exists()


def read_train_results(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``results/train.json``: the final loss terms, every value a number."""
    path = Path(run_dir) / TRAIN_RESULTS_FILE
    record = _read_json_object(path, TRAIN_RESULTS_REMEDY)
    wrong = sorted(k for k, v in record.items() if k not in TRAIN_RESULTS_TEXT
                   and (isinstance(v, bool) or not isinstance(v, int | float)))
    if wrong or "global_step" not in record:
        problem = (f"non-numeric values for {', '.join(wrong)}" if wrong
                   else "no 'global_step' entry")
        raise CorruptFileError(path, problem, TRAIN_RESULTS_REMEDY)
    return record


def metric_result_path(run_dir: str | os.PathLike, representation: str, metric: str) -> Path:
    return Path(run_dir) / RESULTS_DIR / representation / f"{metric}.json"


def read_metric_result(path: Path) -> dict[str, Any] | None:
    """A stored metric result, or ``None`` when absent or unreadable (it is recomputed)."""
    try:
        return _read_json_object(path, "it is recomputed")
    except (OSError, CorruptFileError):
        return None


def metric_results(run_dir: str | os.PathLike) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable ``results/<representation>/<metric>.json`` of a run."""
    for path in sorted(Path(run_dir, RESULTS_DIR).glob("*/*.json")):
        record = read_metric_result(path)
        if record is not None:
            yield path, record


def trained_step(run_dir: str | os.PathLike) -> tuple[int, bool]:
    """``(step of the run's checkpoint, whether training is finished)``: a finished run's step
    is its ``results/train.json``'s (its final checkpoint, read without loading it; a corrupt
    file is an error naming the remedy), else the latest checkpoint's own."""
    if is_finished(run_dir):
        return int(read_train_results(run_dir)["global_step"]), True
    return checkpoint_step(run_dir), False


def mark_stale_results(run_dir: str | os.PathLike, global_step: int) -> list[Path]:
    """Mark every metric result computed on another checkpoint than ``global_step`` as
    ``"stale": true`` (kept for the record, never reused); returns their paths."""
    marked = []
    for path, record in metric_results(run_dir):
        if record.get("global_step") != global_step and not record.get("stale"):
            write_json(path, {**record, "stale": True})
            marked.append(path)
    return marked


# -- one writer -------------------------------------------------------------------------------


def lock(run_dir: str | os.PathLike):
    """Context manager: the exclusive right to write ``run_dir`` (:class:`dislab._io.BusyError`
    at once if another process holds it)."""
    return exclusive(Path(run_dir) / LOCK_FILE,
                     f"another process is writing {run_dir} (it holds {LOCK_FILE}); wait for "
                     "it to finish or stop it, then rerun")


# -- device and images ------------------------------------------------------------------------


def resolve_device(device: str):
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU -> ``ValueError``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch finds no CUDA GPU")
    return torch.device(device)


#: ``TrainConfig.precision``: ``fp32`` (the study's numerics), ``bf16`` (autocast) or ``auto``.
PRECISIONS = ("fp32", "bf16", "auto")


def native_bf16(device) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU that torch says supports it, or a
    CPU with AMX-BF16 or AVX512-BF16 (``torch.cpu.get_capabilities()``)."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    return bool(capabilities.get("amx_bf16") or capabilities.get("avx512_bf16"))


def resolve_precision(precision: str, device) -> str:
    """``fp32`` or ``bf16`` for ``precision`` on ``device``: ``auto`` is bf16 where the device
    has it natively, else fp32; ``bf16`` without native support is a ``ValueError`` (emulated
    bf16 is slower than fp32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return "fp32"
    if native_bf16(device):
        return "bf16"
    if precision == "auto":
        return "fp32"
    raise ValueError(f"precision bf16 needs native bf16 (a CPU with AMX or AVX512-BF16, or a "
                     f"CUDA GPU that supports it), which this {device.type} lacks; use "
                     "precision auto (bf16 where native, else fp32) or fp32")


def to_images(batch, device):
    """NHWC numpy images -> float32 NCHW tensor on ``device`` with channels-last memory.

    The NHWC array (made C-contiguous float32 first; no copy when it already is) is moved
    as it is and then viewed as NCHW by ``permute(0, 3, 1, 2)``: the strides stay those of
    NHWC, ``(H*W*C, 1, W*C, C)``, which is exactly ``torch.channels_last`` memory, so
    ``x.is_contiguous(memory_format=torch.channels_last)`` holds on every device and the
    channels-last model (``train.py``, ``represent.py``) needs no layout conversion.

    - CPU: no copy at all; the tensor is a view of the numpy array.
    - CUDA: one copy into pinned (page-locked) host memory, then an asynchronous
      ``non_blocking`` copy to the GPU. The copy is queued on the current stream, so the
      kernels that use the batch wait for it, and torch's pinned-memory allocator keeps the
      host buffer until the copy is done.
    """
    import numpy as np
    import torch

    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
    if torch.device(device).type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    else:
        x = x.to(device)
    return x.permute(0, 3, 1, 2)
