"""The results store: one SQLite database per study (``DIR/results.sqlite``, WAL mode).

Tables::

    meta    key -> value (the study's TOML text and name)
    runs    model_num (primary key), dataset, model, seed, sweep / hyperparameters / config
            (JSON), state (pending | running | done | failed), attempts, started_at,
            finished_at, train_seconds, eval_seconds, total_seconds, device, data_source,
            host, failure (the reason), warnings (distinct warnings of the run), run_dir,
            origin (dislab | dlib)
    scores  (model_num, representation, metric, key) -> value; the training results are
            stored with representation "" and metric "train"

Every write is one short ``BEGIN IMMEDIATE`` transaction and every insert is an upsert on the
primary key, so several processes may write at once (SQLite serialises them; the busy timeout
makes them wait) and writing the same result twice never duplicates it.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from dislab._io import atomic_path

DB_FILE = "results.sqlite"
STATES = ("pending", "running", "done", "failed")
TRAIN = ("", "train")  # (representation, metric) of the training results
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

# Columns a finished (or failed) run's result may set.
RESULT_COLUMNS = ("state", "started_at", "finished_at", "train_seconds", "eval_seconds",
                  "total_seconds", "device", "data_source", "host", "failure", "warnings",
                  "run_dir")


def db_path(study_dir: str | Path) -> Path:
    return Path(study_dir) / DB_FILE


class Store:
    """A connection to a study's database (created on first use).

    >>> store = Store("out/quick")
    >>> store.counts()
    {'pending': 0, 'running': 0, 'done': 6, 'failed': 0}
    """

    def __init__(self, study_dir: str | Path, create: bool = True, timeout: float = 60.0):
        path = db_path(study_dir)
        if not create and not path.is_file():
            raise FileNotFoundError(f"{path} not found: {study_dir} is not a dislab study "
                                    f"directory (run `dislab study run FILE --out DIR` first)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            with self.transaction() as conn:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
        except sqlite3.DatabaseError as err:
            self.conn.close()
            raise ValueError(f"{path} is not a usable dislab results database: {err}") from None

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
        returns how many were added. A stored run whose config differs is a ``ValueError``:
        the directory belongs to another study."""
        added = 0
        with self.transaction() as conn:
            stored = dict(conn.execute("SELECT model_num, config FROM runs"))
            for run in runs:
                config = json.dumps(run.identity(), sort_keys=True)
                if run.model_num in stored:
                    if stored[run.model_num] != config:
                        raise ValueError(
                            f"{self.path} holds a run {run.model_num} with another config; "
                            "this directory belongs to a different study (use another --out)")
                    continue
                conn.execute(
                    "INSERT INTO runs (model_num, dataset, model, seed, sweep, hyperparameters,"
                    " config, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run.model_num, run.dataset, run.model, run.seed,
                     json.dumps(run.sweep, sort_keys=True),
                     json.dumps(run.hyperparameters, sort_keys=True), config, origin))
                added += 1
        return added

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
        counts = dict.fromkeys(STATES, 0)
        counts.update(self.conn.execute("SELECT state, COUNT(*) FROM runs GROUP BY state"))
        return counts

    def failures(self) -> list[tuple[int, str]]:
        return list(self.conn.execute(
            "SELECT model_num, failure FROM runs WHERE state = 'failed' ORDER BY model_num"))

    # -- reading ------------------------------------------------------------------------------

    def runs_frame(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY model_num", self.conn)

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
            raise RuntimeError("Parquet export needs pyarrow (pip install pyarrow); "
                               "use --format csv otherwise") from None
    with Store(study_dir, create=False) as store:
        table = store.table()
    with atomic_path(path) as tmp:
        if fmt == "csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    return path
