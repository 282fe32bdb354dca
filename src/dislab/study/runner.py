"""Run a study: every run trained, evaluated and stored, resumably, locally or on Ray.

>>> from dislab.study.runner import run_study
>>> run_study("quick", "out/quick")                       # local process pool
>>> run_study("quick", "out/quick", backend="ray")        # a local Ray instance
>>> run_study("paper", "out/paper", backend="ray", ray_address="auto")

Output directory::

    results.sqlite    the results store (dislab.study.store)
    study.toml        the study file as given
    runs/<model_num>/ the run directories (checkpoint, logs, per-metric JSON)

The study file is checked in full (every hyperparameter value through its objective's checks,
every metric parameter's type and range) before anything is registered or trained.

Resuming: the store knows every run's state. A new invocation registers the study's runs
(refusing a directory whose runs the study file would train differently, with the
differences named; a study file that changes only the evaluation -- the ``[metrics.*]``
tables, ``metric_mode``, representations, evaluation seeds -- sends the finished runs back to
``pending``: they are evaluated again on their trained models, which are not retrained, and
``study.toml`` becomes the new file), then works through the ``pending`` runs and
the ``running`` ones (interrupted earlier; training resumes from the checkpoint and finished
metrics are reused), plus the ``failed`` ones with ``retry_failed``. Only the driver writes to
the store. A run whose task raises is recorded as ``failed`` with the exception; a run whose
worker process dies (killed, out of memory) is retried up to ``max_attempts`` times in all.
Workers exit when the driver dies, so a ``kill -9`` of the driver leaves no stray training.

A lost or damaged ``results.sqlite`` is rebuilt from ``study.toml`` and the run directories
by :func:`rebuild` (``dislab study rebuild DIR``).
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
from dislab._runtime import configure_process
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
    configure_process()
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
            raise ImportError("the Ray backend needs ray: pip install 'dislab[ray]'") from None
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
        study_spec.parse(study.to_dict())  # a spec built in code gets a study file's checks
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


# -- rebuilding the store ---------------------------------------------------------------------


def rebuild(out: str | Path, study: str | Path | StudySpec | None = None,
            progress: bool = False) -> dict[str, Any]:
    """Rebuild the results store of the study directory ``out`` from its study file
    (``out/study.toml``, or ``study``: a file, a preset or a spec) and its run directories.

    The old ``results.sqlite`` (with its ``-wal`` and ``-shm`` files) is moved aside, never
    deleted: to ``results.sqlite.damaged-<time>`` when it is not a readable store, to
    ``results.sqlite.replaced-<time>`` otherwise. Every run of the study is registered; a run
    whose training results and evaluations are all complete on disk
    (:func:`dislab.study.tasks.collect_scores`) is recorded ``done`` with its scores, a run
    that stopped on a non-finite loss (``failure.json``, no training results) ``failed``, and
    every other run stays ``pending``, so ``dislab study run`` continues it. External runs
    (``dislab study add``) are kept: restored, row and scores, from their records in
    ``out/external/`` (:func:`dislab.study.external.restore`). What only the old store knew
    (timings, hosts, attempts, warnings, the reasons of other failures, runs imported from
    dlib) is not rebuilt; the old file keeps it.

    Returns ``{"moved": where the old file went or None, "damage": what was wrong with it or
    None, "counts": the runs by state, "external": the external runs restored}``.
    """
    from dislab.study import store as results
    from dislab.study.external import restore as restore_external
    from dislab.study.tasks import collect_scores

    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(f"{out} not found: give the directory of a study "
                                "(`dislab study run FILE --out DIR`)")
    if study is None:
        study = out / SPEC_FILE
        if not study.is_file():
            raise FileNotFoundError(f"{study} not found: give the study file or preset that "
                                    f"{out} was run with (--study FILE)")
    spec, text = _load(study)
    runs = spec.runs()
    with _exclusive(out):
        outcomes, refused = {}, {}  # everything is read before the old store is touched
        for run in tqdm(runs, unit="run", desc=f"reading {out}", disable=not progress,
                        dynamic_ncols=True):
            run_dir = run_dir_of(out, run.model_num)
            diff = _training_difference(run, run_dir)
            if diff:
                refused.setdefault(", ".join(diff), []).append(run.model_num)
                continue
            outcome = _outcome_on_disk(run, run_dir, collect_scores)
            if outcome is not None:
                outcomes[run.model_num] = outcome
        if refused:
            what = "; ".join(f"run(s) {', '.join(map(str, nums[:5]))}"
                             f"{' ...' if len(nums) > 5 else ''}: {keys}"
                             for keys, nums in refused.items())
            raise ValueError(f"{out}/{RUNS_DIR} holds runs trained with other options than "
                             f"{study} gives ({what}); give the study file they were run "
                             "with (--study FILE)")
        damage = results.damage(out)
        moved = results.move_aside(out, "damaged" if damage else "replaced")
        with Store(out) as store:
            store.register(runs)
            store.set_meta("name", spec.name)
            if text is not None and not (out / SPEC_FILE).exists():
                (out / SPEC_FILE).write_text(text)
            for model_num, outcome in outcomes.items():
                store.record(model_num, outcome)
            external = restore_external(store, out)
            counts = store.counts()
    return {"moved": moved, "damage": damage, "counts": counts, "external": external}


def _training_difference(run: RunSpec, run_dir: Path) -> list[str]:
    """The options (execution-only ones aside) whose values in ``run_dir/config.json`` differ
    from what ``run`` would train with; empty when they agree or there is no readable config."""
    import dataclasses

    from dislab import rundir
    from dislab.study.tasks import train_config
    from dislab.train import TrainConfig

    try:
        stored = rundir.read_config(run_dir)
    except (FileNotFoundError, ValueError):
        return []
    expected = dataclasses.asdict(TrainConfig.from_dict(train_config(run, run_dir)))
    keys = (set(expected) | set(stored)) - set(rundir.EXECUTION_OPTIONS) - {"resolved"}
    return sorted(k for k in keys if expected.get(k) != stored.get(k))


def _outcome_on_disk(run: RunSpec, run_dir: Path, collect_scores) -> dict[str, Any] | None:
    """The store record of a run read from its run directory: done with its scores, failed
    on a non-finite loss, or ``None`` (pending)."""
    import json

    from dislab import rundir

    if not run_dir.is_dir():
        return None
    scores = collect_scores(run, run_dir)
    if scores is not None:
        record = {"state": "done", "scores": scores, "run_dir": str(run_dir)}
        try:
            record["data_source"] = rundir.read_config(run_dir)["resolved"]["dataset_source"]
        except (OSError, ValueError, KeyError):
            pass
        return record
    failure = run_dir / rundir.FAILURE_FILE
    if failure.is_file() and not rundir.is_finished(run_dir):
        try:
            reason = str(json.loads(failure.read_text())["error"])
        except (OSError, ValueError, KeyError, TypeError):
            reason = f"see {failure}"
        return {"state": "failed", "failure": f"TrainingDivergedError: {reason}",
                "run_dir": str(run_dir)}
    return None
