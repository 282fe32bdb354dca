"""The results store: one SQLite database per study (``DIR/results.sqlite``, WAL mode).

Tables::

    meta    key -> value (the study's TOML text and name)
    runs    model_num (primary key), dataset, model, seed, sweep / hyperparameters / config
            (JSON), state (pending | running | done | failed), attempts, started_at,
            finished_at, train_seconds, eval_seconds, total_seconds, device, data_source,
            host, failure (the reason), warnings (distinct warnings of the run), run_dir,
            origin (dislab | dlib | external)
    scores  (model_num, representation, metric, key) -> value; the training results are
            stored with representation "" and metric "train"

Every write is one short ``BEGIN IMMEDIATE`` transaction and every insert is an upsert on the
primary key, so several processes may write at once (SQLite serialises them; the busy timeout
makes them wait) and writing the same result twice never duplicates it.

External runs (origin ``external``: made outside the study and scored with its evaluation by
``dislab study add``, :mod:`dislab.study.external`) have negative model numbers (-1, -2, ...),
which a study's enumeration (0, 1, ...) never reaches; they are not counted among the study's
runs (:meth:`Store.counts`) and come after them in :meth:`Store.table`.

A new store is made whole under a temporary name and then linked into place. An existing
``results.sqlite`` that is not a store (empty, not SQLite, without these tables, unreadable)
is a :class:`DamagedStoreError`, never silently replaced: everything in it can be rebuilt from
the run directories (``dislab study rebuild DIR``, :func:`dislab.study.runner.rebuild`), which
moves the damaged file aside.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from dislab._io import atomic_path

DB_FILE = "results.sqlite"
STATES = ("pending", "running", "done", "failed")
TRAIN = ("", "train")  # (representation, metric) of the training results
EXTERNAL = "external"  # the origin of runs made outside the study (dislab study add)
EXPORT_FORMATS = ("csv", "parquet")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    model_num INTEGER PRIMARY KEY,
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    seed INTEGER NOT NULL,
    sweep TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL, finished_at REAL,
    train_seconds REAL, eval_seconds REAL, total_seconds REAL,
    device TEXT, data_source TEXT, host TEXT, failure TEXT, warnings TEXT, run_dir TEXT,
    origin TEXT NOT NULL DEFAULT 'dislab'
);
CREATE TABLE IF NOT EXISTS scores (
    model_num INTEGER NOT NULL REFERENCES runs(model_num),
    representation TEXT NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (model_num, representation, metric, key)
);
"""

# Columns that identify an external run (dislab study add) besides its result's.
_EXTERNAL_COLUMNS = ("model_num", "dataset", "model", "seed", "sweep", "hyperparameters",
                     "config", "origin")
# Columns a finished (or failed) run's result may set.
RESULT_COLUMNS = ("state", "started_at", "finished_at", "train_seconds", "eval_seconds",
                  "total_seconds", "device", "data_source", "host", "failure", "warnings",
                  "run_dir")


def db_path(study_dir: str | Path) -> Path:
    return Path(study_dir) / DB_FILE


SQLITE_HEADER = b"SQLite format 3\x00"
TABLES = ("meta", "runs", "scores")


class DamagedStoreError(ValueError):
    """A study's ``results.sqlite`` exists but is not a dislab results store; the message
    names the file, what is wrong and the remedy (``dislab study rebuild``)."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: not a dislab results store ({problem}); rebuild it from "
                         f"the run directories with `dislab study rebuild {self.path.parent}` "
                         "(it moves the damaged file aside)")


def _header_problem(path: Path) -> str | None:
    """What the first bytes of ``path`` say is wrong with it as an SQLite file, if anything."""
    with open(path, "rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if not header:
        return "the file is empty"
    if header != SQLITE_HEADER:
        return "not an SQLite database"
    return None


def _tables_problem(conn: sqlite3.Connection) -> str | None:
    """Which of the store's tables an SQLite database lacks (a database without any table is
    new, and fine)."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in TABLES if t not in names]
    if names and missing:
        return f"an SQLite database without the table(s) {', '.join(missing)}"
    return None


def damage(study_dir: str | Path) -> str | None:
    """What is wrong with the ``results.sqlite`` of ``study_dir``, or ``None`` when it is a
    dislab store or absent (opens nothing for writing)."""
    path = db_path(study_dir)
    if not path.exists():
        return None
    problem = _header_problem(path)
    if problem:
        return problem
    try:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)
        try:
            return _tables_problem(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return f"unreadable by SQLite: {err}"


def _create(path: Path) -> None:
    """A new, empty store at ``path``, built under a temporary name and linked into place, so
    that no process ever sees a half-made one (one that another process made meanwhile is
    kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(f"BEGIN; {_SCHEMA} COMMIT;")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp + suffix)


def move_aside(study_dir: str | Path, label: str) -> Path | None:
    """Rename the ``results.sqlite`` of ``study_dir`` (with its ``-wal`` and ``-shm`` files)
    to ``results.sqlite.<label>-<timestamp>``, never overwriting a file; returns the new path
    (``None`` when there is no store)."""
    path = db_path(study_dir)
    if not path.exists():
        return None
    stem = f"{path.name}.{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    target, n = path.with_name(stem), 1
    while any(path.with_name(target.name + s).exists() for s in ("", "-wal", "-shm")):
        n += 1
        target = path.with_name(f"{stem}-{n}")
    for suffix in ("", "-wal", "-shm"):  # the database first: none opens it without its WAL
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.rename(source, target.with_name(target.name + suffix))
    return target


class Store:
    """A connection to a study's database (created on first use).

    >>> store = Store("out/quick")
    >>> store.counts()
    {'pending': 0, 'running': 0, 'done': 6, 'failed': 0}
    """

    def __init__(self, study_dir: str | Path, create: bool = True, timeout: float = 60.0):
        """Open the store of ``study_dir``; a new one is created (whole, under a temporary
        name first) only where none exists and ``create``. An existing file that is not a
        dislab store (empty, not SQLite, other tables, unreadable) is a
        :class:`DamagedStoreError`, never replaced by an empty study."""
        path = db_path(study_dir)
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"{path} not found: {study_dir} is not a dislab study "
                                        "directory (run `dislab study run FILE --out DIR` "
                                        "first)")
            _create(path)
        self.path = path
        problem = _header_problem(path)
        if problem:
            raise DamagedStoreError(path, problem)
        # mode=rw: never create an empty file in place of one moved away meanwhile
        self.conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=rw",
                                    uri=True, timeout=timeout, isolation_level=None)
        self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            problem = _tables_problem(self.conn)  # before anything is written to the file
            if problem is None:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
                with self.transaction() as conn:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
        except sqlite3.DatabaseError as err:
            problem = f"unreadable by SQLite: {err}"
        if problem:
            self.conn.close()
            raise DamagedStoreError(path, problem)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once, so concurrent writers queue up cleanly)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- meta ---------------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                         "value = excluded.value", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- runs ---------------------------------------------------------------------------------

    def register(self, runs: Iterable, origin: str = "dislab") -> int:
        """Add the :class:`~dislab.study.spec.RunSpec` s not stored yet (as ``pending``);
        returns how many were added.

        A stored run may change its evaluation (metrics, their parameters, ``metric_mode``,
        representations, evaluation seeds): it takes the new config, its metric scores are
        deleted (they belong to the old evaluation) and a ``done`` run goes back to
        ``pending``, to be evaluated again on its trained model (a ``failed`` run stays failed
        until ``retry_failed``). A stored run whose training would change (dataset, model,
        hyperparameters, seed, ``[train]`` options other than execution-only ones) is a
        ``ValueError`` naming every difference; nothing is changed then."""
        from dislab.study.spec import evaluation_changed, training_difference

        added = 0
        with self.transaction() as conn:
            stored = {n: (config, kind) for n, config, kind in
                      conn.execute("SELECT model_num, config, origin FROM runs")}
            refused: dict[str, list[int]] = {}
            for run in runs:
                identity = run.identity()
                config = json.dumps(identity, sort_keys=True)
                if run.model_num in stored:
                    old_config, kind = stored[run.model_num]
                    if old_config == config:
                        continue
                    old = json.loads(old_config)
                    diff = (["imported from dlib"] if kind != "dislab"
                            else training_difference(old, identity))
                    if diff:
                        refused.setdefault("; ".join(diff), []).append(run.model_num)
                    elif not refused:
                        self._reevaluate(conn, run.model_num, config,
                                         evaluation_changed(old, identity))
                    continue
                conn.execute(
                    "INSERT INTO runs (model_num, dataset, model, seed, sweep, hyperparameters,"
                    " config, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run.model_num, run.dataset, run.model, run.seed,
                     json.dumps(run.sweep, sort_keys=True),
                     json.dumps(run.hyperparameters, sort_keys=True), config, origin))
                added += 1
            if refused:  # raised inside the transaction: nothing above is kept
                raise ValueError(_refusal(self.path, refused))
        return added

    @staticmethod
    def _reevaluate(conn: sqlite3.Connection, model_num: int, config: str,
                    changed: bool) -> None:
        """Store run ``model_num``'s new ``config``; when its evaluation ``changed``, drop its
        metric scores and send a done run back to pending (its training is kept)."""
        conn.execute("UPDATE runs SET config = ? WHERE model_num = ?", (config, model_num))
        if changed:
            conn.execute("DELETE FROM scores WHERE model_num = ? AND NOT (representation = ? "
                         "AND metric = ?)", (model_num, *TRAIN))
            conn.execute("UPDATE runs SET state = 'pending', eval_seconds = NULL "
                         "WHERE model_num = ? AND state = 'done'", (model_num,))

    def model_nums(self, states: Iterable[str]) -> list[int]:
        states = list(states)
        for state in states:
            if state not in STATES:
                raise ValueError(f"unknown state {state!r}; valid: {', '.join(STATES)}")
        marks = ",".join("?" * len(states))
        return [r[0] for r in self.conn.execute(
            f"SELECT model_num FROM runs WHERE state IN ({marks}) ORDER BY model_num", states)]

    def mark_running(self, model_num: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET state = 'running', attempts = attempts + 1, "
                         "started_at = ? WHERE model_num = ?", (time.time(), model_num))

    def record(self, model_num: int, result: dict[str, Any]) -> None:
        """Store a run's outcome: the ``RESULT_COLUMNS`` found in ``result`` and its
        ``scores`` (``[(representation, metric, key, value), ...]``), in one transaction."""
        columns = [c for c in RESULT_COLUMNS if c in result]
        if result.get("state") not in ("done", "failed"):
            raise ValueError(f"a result's state must be done or failed, got "
                             f"{result.get('state')!r}")
        with self.transaction() as conn:
            assignments = ", ".join(f"{c} = ?" for c in columns)
            updated = conn.execute(f"UPDATE runs SET {assignments} WHERE model_num = ?",
                                   [result[c] for c in columns] + [model_num]).rowcount
            if not updated:
                raise ValueError(f"run {model_num} is not registered in {self.path}")
            self._put_scores(conn, model_num, result.get("scores", []))

    @staticmethod
    def _put_scores(conn: sqlite3.Connection, model_num: int, scores) -> None:
        conn.executemany(
            "INSERT INTO scores VALUES (?, ?, ?, ?, ?) ON CONFLICT(model_num, representation, "
            "metric, key) DO UPDATE SET value = excluded.value",
            [(model_num, rep, metric, key, _number(value))
             for rep, metric, key, value in scores])

    def counts(self) -> dict[str, int]:
        """The study's runs by state (external runs left out)."""
        counts = dict.fromkeys(STATES, 0)
        counts.update(self.conn.execute("SELECT state, COUNT(*) FROM runs WHERE origin != ? "
                                        "GROUP BY state", (EXTERNAL,)))
        return counts

    def failures(self) -> list[tuple[int, str]]:
        return list(self.conn.execute(
            "SELECT model_num, failure FROM runs WHERE state = 'failed' ORDER BY model_num"))

    def put_external(self, model_num: int, run: dict[str, Any], scores) -> None:
        """Store a run made outside the study as ``done``, origin ``external``, under the
        negative ``model_num``, with its ``scores`` (``[(representation, metric, key, value),
        ...]``), in one transaction. ``run`` holds its columns: ``dataset, model, seed`` and
        ``sweep, hyperparameters, config`` (dicts), and any of ``RESULT_COLUMNS``.

        The run stored under ``model_num`` is replaced, scores and all, when it is the same
        external run (same ``run_dir``, or for a representation function, which has none, the
        same model name); any other run there is a ``ValueError``."""
        if model_num >= 0:
            raise ValueError(f"an external run's model_num must be negative (the study's are "
                             f"0, 1, ...), got {model_num}")
        values = {**run, **{k: json.dumps(run[k], sort_keys=True)
                            for k in ("sweep", "hyperparameters", "config")},
                  "model_num": model_num, "state": "done", "origin": EXTERNAL}
        columns = [c for c in (*_EXTERNAL_COLUMNS, *RESULT_COLUMNS) if c in values]
        with self.transaction() as conn:
            held = conn.execute("SELECT origin, run_dir, model FROM runs WHERE model_num = ?",
                                (model_num,)).fetchone()
            if held is not None and held != (EXTERNAL, run.get("run_dir"), run["model"]):
                raise ValueError(f"{self.path}: run {model_num} is another run ({held[2]}, "
                                 f"{held[1] or 'no run directory'}); another `dislab study "
                                 "add` took that number meanwhile: add again")
            conn.execute("DELETE FROM scores WHERE model_num = ?", (model_num,))
            conn.execute("DELETE FROM runs WHERE model_num = ?", (model_num,))
            conn.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES "
                         f"({', '.join('?' * len(columns))})", [values[c] for c in columns])
            self._put_scores(conn, model_num, scores)

    # -- reading ------------------------------------------------------------------------------

    def runs_frame(self) -> pd.DataFrame:
        """The ``runs`` table: the study's runs by model number, then the external ones
        (-1, -2, ...)."""
        return pd.read_sql_query("SELECT * FROM runs ORDER BY origin = ?, ABS(model_num)",
                                 self.conn, params=(EXTERNAL,))

    def scores_frame(self) -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT * FROM scores ORDER BY model_num, representation, metric, key", self.conn)

    def table(self) -> pd.DataFrame:
        """One row per run, one column per score (see :func:`dislab.study.load`)."""
        runs = self.runs_frame()
        sweeps = pd.DataFrame([json.loads(s) for s in runs["sweep"]], index=runs.index)
        base = runs[["model_num", "dataset", "model"]].join(sweeps).join(runs[[
            "seed", "state", "attempts", "train_seconds", "eval_seconds", "total_seconds",
            "device", "data_source", "host", "failure", "warnings", "origin",
            "hyperparameters", "run_dir"]])
        scores = self.scores_frame()
        if scores.empty:
            return base
        scores["column"] = [".".join(p for p in parts if p) for parts in
                            zip(scores["representation"], scores["metric"], scores["key"])]
        wide = scores.pivot(index="model_num", columns="column", values="value")
        return base.merge(wide[sorted(wide.columns)], how="left", left_on="model_num",
                          right_index=True)

    # -- dlib's aggregated results ------------------------------------------------------------

    def import_dlib(self, path: str | Path) -> int:
        """Add the rows of dlib's aggregated results JSON (``dlib_aggregate_results``, spec
        5.4) as ``done`` runs of origin ``dlib``; returns the number of runs imported."""
        from dislab.study.dlib_results import read_aggregated

        runs, scores = read_aggregated(path)
        with self.transaction() as conn:
            for run in runs:
                stored = conn.execute("SELECT config FROM runs WHERE model_num = ?",
                                      (run["model_num"],)).fetchone()
                if stored and stored[0] != run["config"]:
                    raise ValueError(f"{self.path} already holds a different run "
                                     f"{run['model_num']}; import into another directory")
                conn.execute(
                    "INSERT INTO runs (model_num, dataset, model, seed, sweep, hyperparameters,"
                    " config, state, origin, run_dir) VALUES (:model_num, :dataset, :model, "
                    ":seed, :sweep, :hyperparameters, :config, 'done', 'dlib', :run_dir) "
                    "ON CONFLICT(model_num) DO NOTHING", run)
            for model_num, rows in scores.items():
                self._put_scores(conn, model_num, rows)
        return len(runs)


def _refusal(path: Path, refused: dict[str, list[int]], shown: int = 5) -> str:
    """The one-line error for runs whose training a study would change."""
    groups = sorted(refused.items(), key=lambda item: item[1][0])
    parts = [f"{_ranges(nums)}: {what}" for what, nums in groups[:shown]]
    if len(groups) > shown:
        parts.append(f"and {len(groups) - shown} more difference(s)")
    return (f"{path.parent} holds runs that this study file would train differently "
            f"({'; '.join(parts)}); only the evaluation ([metrics.*] tables, metric_mode, "
            f"representations, evaluation_seeds) may change in an existing study directory: "
            f"use a new --out directory, or restore the study file (the one last run there "
            f"is {path.parent / 'study.toml'})")


def _ranges(nums: list[int]) -> str:
    """``"runs 0-5, 9"`` (``"run 3"`` for one)."""
    nums = sorted(nums)
    spans, start = [], nums[0]
    for prev, cur in zip(nums, [*nums[1:], None]):
        if cur != prev + 1:
            spans.append(str(start) if start == prev else f"{start}-{prev}")
            start = cur
    return ("run " if len(nums) == 1 else "runs ") + ", ".join(spans)


def _number(value: Any) -> float | None:
    """A score as a float (``None`` for NaN so that SQL aggregates skip it)."""
    value = float(value)
    return None if math.isnan(value) else value


def export(study_dir: str | Path, path: str | Path, fmt: str | None = None) -> Path:
    """Write the study table (one row per run) to ``path`` as CSV or Parquet (atomically)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, "
                         f"got {fmt!r}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("Parquet export needs pyarrow (pip install pyarrow); "
                               "use --format csv otherwise") from None
    with Store(study_dir, create=False) as store:
        table = store.table()
    with atomic_path(path) as tmp:
        if fmt == "csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    return path
