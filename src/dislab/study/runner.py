"""Run a study: every run trained, evaluated and stored, resumably, locally or on Ray.

>>> from dislab.study.runner import run_study
>>> run_study("quick", "out/quick")                       # local process pool
>>> run_study("quick", "out/quick", backend="ray")        # a local Ray instance
>>> run_study("paper", "out/paper", backend="ray", ray_address="auto")

Output directory::

    results.sqlite    the results store (dislab.study.store)
    study.toml        the study file as given
    runs/<model_num>/ the run directories (checkpoint, logs, per-metric JSON)

Resuming: the store knows every run's state. A new invocation registers the study's runs
(refusing a directory that holds another study), then works through the ``pending`` runs and
the ``running`` ones (interrupted earlier; training resumes from the checkpoint and finished
metrics are reused), plus the ``failed`` ones with ``retry_failed``. Only the driver writes to
the store. A run whose task raises is recorded as ``failed`` with the exception; a run whose
worker process dies (killed, out of memory) is retried up to ``max_attempts`` times in all.
Workers exit when the driver dies, so a ``kill -9`` of the driver leaves no stray training.
"""

from __future__ import annotations

import collections
import os
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dislab._io import exclusive
from dislab.study import spec as study_spec
from dislab.study.spec import RunSpec, StudySpec
from dislab.study.store import Store

BACKENDS = ("local", "ray")
SPEC_FILE = "study.toml"
LOCK_FILE = ".lock"
RUNS_DIR = "runs"
Task = Callable[..., dict[str, Any]]


def default_task(run: RunSpec, run_dir: str, device: str | None, threads: int | None) -> dict:
    """Train and evaluate ``run`` (:func:`dislab.study.tasks.execute`)."""
    from dislab.study.tasks import execute

    return execute(run, run_dir, device, threads)


def run_task(task: Task, run: RunSpec, run_dir: str, device: str | None,
             threads: int | None) -> dict[str, Any]:
    """Call ``task`` and turn its outcome into a store record: ``state`` done or failed
    (``failure``: the exception and where it was raised), timings, host."""
    started, tick = time.time(), time.perf_counter()
    record = {"state": "done", "failure": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            record.update(task(run, run_dir, device, threads))
        except Exception as err:  # a failed run is data; the study goes on
            where = traceback.extract_tb(err.__traceback__)[-1]
            record.update(state="failed", failure=f"{type(err).__name__}: {err} (at "
                                                  f"{Path(where.filename).name}:{where.lineno})")
    record.update(started_at=started, finished_at=time.time(), host=socket.gethostname(),
                  total_seconds=time.perf_counter() - tick, run_dir=str(run_dir),
                  warnings=_summary(caught))
    return record


def _summary(caught: list[warnings.WarningMessage], limit: int = 20) -> str | None:
    """The distinct warnings of a run (category and first line), one per line."""
    lines = dict.fromkeys(f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
                          for w in caught if str(w.message).strip())
    return "\n".join(list(lines)[:limit]) or None


def run_dir_of(out: Path, model_num: int) -> Path:
    return out / RUNS_DIR / f"{model_num:05d}"


class WorkerLost(Exception):
    """The process running a task died before returning (killed, out of memory ...)."""


# -- backends ---------------------------------------------------------------------------------


def _watch_parent(parent: int) -> None:
    """Exit this worker as soon as the driver that started it is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _init_worker(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


class LocalBackend:
    """A pool of ``workers`` spawned processes on this machine, ``threads`` threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int):
        self.slots, self.threads = workers, threads
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.slots, mp_context=get_context("spawn"),
                                            initializer=_init_worker, initargs=(self.threads,))
        return self.pool

    def submit(self, task: Task, run: RunSpec, run_dir: str, device: str | None):
        """Queue one run; a pool that broke since the last :meth:`wait` (a worker died while
        another run was finishing) gives an already-failed future, so the run is retried
        through the usual lost-worker path."""
        try:
            return self._pool().submit(run_task, task, run, run_dir, device, self.threads)
        except BrokenProcessPool as err:
            lost: Future = Future()
            lost.set_exception(err)
            return lost

    def wait(self, handles) -> list[tuple[Any, dict | WorkerLost]]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        outcomes = []
        for future in done:
            try:
                outcomes.append((future, future.result()))
            except BrokenProcessPool as err:
                outcomes.append((future, WorkerLost(f"worker process died ({err})")))
        if any(isinstance(o, WorkerLost) for _, o in outcomes):
            self.close(force=True)  # a broken pool is replaced on the next submit
        return outcomes

    def close(self, force: bool = False) -> None:
        """Shut the pool down; ``force`` also ends the runs in progress (interrupts)."""
        if self.pool is None:
            return
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=not force, cancel_futures=True)
        if force:
            for process in processes:
                process.terminate()
        self.pool = None


class RayBackend:
    """Ray tasks with ``threads`` CPUs (and ``gpus`` GPUs) each, on the cluster at ``address``
    or on a local instance with ``workers`` CPUs. Ray re-executes a task whose worker died
    up to ``max_attempts - 1`` times. The run directories must be on storage that every
    node sees (the same path)."""

    name = "ray"

    def __init__(self, workers: int | None, threads: int, address: str | None,
                 gpus: float, max_attempts: int):
        try:
            import ray
        except ImportError:
            raise RuntimeError("the Ray backend needs ray: pip install 'dislab[ray]'") from None
        self.ray, self.threads = ray, threads
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(address=address, num_cpus=None if address else workers,
                     include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = workers or max(1, cpus // threads)
        self.remote = ray.remote(num_cpus=threads, num_gpus=gpus,
                                 max_retries=max_attempts - 1)(run_task)

    def submit(self, task: Task, run: RunSpec, run_dir: str, device: str | None):
        return self.remote.remote(task, run, run_dir, device, self.threads)

    def wait(self, handles) -> list[tuple[Any, dict | WorkerLost]]:
        ready, _ = self.ray.wait(list(handles), num_returns=1)
        outcomes = []
        for ref in ready:
            try:
                outcomes.append((ref, self.ray.get(ref)))
            except self.ray.exceptions.RayError as err:
                outcomes.append((ref, WorkerLost(f"Ray task lost: {err}")))
        return outcomes

    def close(self, force: bool = False) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False


def make_backend(backend: str, workers: int | None, threads: int | None,
                 ray_address: str | None, gpus: float, max_attempts: int):
    cpus = os.cpu_count() or 1
    if backend == "local":
        workers = workers or cpus
        return LocalBackend(workers, threads or max(1, cpus // workers))
    if backend == "ray":
        return RayBackend(workers, threads or 1, ray_address, gpus, max_attempts)
    raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")


# -- the driver -------------------------------------------------------------------------------


def _exclusive(out: Path):
    """Only one driver per study directory at a time."""
    return exclusive(out / LOCK_FILE, f"another `dislab study run` is working on {out}")


def _load(study: str | Path | StudySpec) -> tuple[StudySpec, str | None]:
    if isinstance(study, StudySpec):
        return study, None
    text, origin = study_spec.read_text(study)
    return study_spec.loads(text, origin), text


def run_study(study: str | Path | StudySpec, out: str | Path, *, backend: str = "local",
              workers: int | None = None, threads: int | None = None,
              device: str | None = None, ray_address: str | None = None, gpus: float = 0,
              retry_failed: bool = False, max_attempts: int = 3, progress: bool = True,
              task: Task = default_task) -> dict[str, int]:
    """Train, evaluate and store every run of ``study`` (a TOML file, a preset name or a
    :class:`StudySpec`) under ``out``; returns the run counts by state.

    ``workers``: parallel runs (default: one per CPU, or per ``threads`` CPUs on Ray);
    ``threads``: torch threads per run (default: the CPUs shared out among the workers);
    ``device`` overrides the study's training device; ``gpus``: GPUs per Ray task.
    ``task(run, run_dir, device, threads) -> dict`` does one run (tests pass a fake one).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    spec, text = _load(study)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out), Store(out) as store:
        runs = spec.runs()
        store.register(runs)
        store.set_meta("name", spec.name)
        if text is not None:
            (out / SPEC_FILE).write_text(text)
        states = ["pending", "running"] + (["failed"] if retry_failed else [])
        todo = [runs[n] for n in store.model_nums(states) if n < len(runs)]
        if todo:
            runner = make_backend(backend, workers, threads, ray_address, gpus, max_attempts)
            try:
                _drive(store, runner, todo, out, task, device, max_attempts,
                       tqdm(total=len(todo), unit="run", desc=spec.name, disable=not progress,
                            dynamic_ncols=True))
            except BaseException:
                runner.close(force=True)
                raise
            runner.close()
        return store.counts()


def _drive(store: Store, backend, todo: list[RunSpec], out: Path, task: Task,
           device: str | None, max_attempts: int, bar) -> None:
    """Keep ``backend.slots`` runs in flight; store each outcome as it arrives.

    When a local worker dies, every run in flight with it is lost and none can be blamed, so
    those runs are retried one at a time ("suspects"); a run whose worker dies while it runs
    alone is retried until it has died ``max_attempts`` times, then recorded as failed.
    """
    queue, suspects = collections.deque(todo), collections.deque()
    in_flight: dict[Any, RunSpec] = {}
    deaths: collections.Counter[int] = collections.Counter()
    counts = collections.Counter()
    with bar:
        while queue or suspects or in_flight:
            if suspects and not in_flight:
                _submit(store, backend, suspects.popleft(), out, task, device, in_flight)
            while queue and not suspects and len(in_flight) < backend.slots:
                _submit(store, backend, queue.popleft(), out, task, device, in_flight)
            alone = len(in_flight) == 1
            for handle, outcome in backend.wait(in_flight):
                run = in_flight.pop(handle)
                if isinstance(outcome, WorkerLost):
                    deaths[run.model_num] += alone or backend.name != "local"
                    if deaths[run.model_num] < max_attempts and backend.name == "local":
                        suspects.append(run)
                        continue
                    outcome = {"state": "failed", "failure": f"{outcome}; "
                               f"{deaths[run.model_num]} attempt(s)"}
                store.record(run.model_num, outcome)
                counts[outcome["state"]] += 1
                bar.set_postfix(done=counts["done"], failed=counts["failed"], refresh=False)
                bar.update(1)
    if counts["failed"]:
        print(f"{counts['failed']} run(s) failed; see `dislab study status {out}`",
              file=sys.stderr)


def _submit(store: Store, backend, run: RunSpec, out: Path, task: Task, device: str | None,
            in_flight: dict) -> None:
    store.mark_running(run.model_num)
    run_dir = str(run_dir_of(out, run.model_num))
    in_flight[backend.submit(task, run, run_dir, device)] = run
