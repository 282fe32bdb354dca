"""The study driver: resuming, failures, dying workers, kills, the Ray backend (fake tasks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dislab import study
from dislab.study import spec as study_spec
from dislab.study.runner import LocalBackend, WorkerLost, _exclusive, run_study
from dislab.study.store import Store
from tests.conftest import REPO
from tests.study import fake_tasks
from tests.study.fake_tasks import SMALL_STUDY, expected_scores

SCORE_COLUMNS = ["train.loss", "mean.mig.score", "mean.sap.score", "sampled.mig.score"]


@pytest.fixture(scope="module")
def spec():
    return study_spec.loads(SMALL_STUDY)


def _expected_table(spec):
    return {run.model_num: {".".join(p for p in (rep, metric, key) if p): value
                            for rep, metric, key, value in expected_scores(run)}
            for run in spec.runs()}


def _scores(directory):
    table = study.load(directory).set_index("model_num")
    return {n: {c: row[c] for c in SCORE_COLUMNS} for n, row in table.iterrows()}


def test_a_study_runs_every_run_once(tmp_path, spec):
    counts = run_study(spec, tmp_path, workers=2, task=fake_tasks.scores_task, progress=False)
    assert counts == {"pending": 0, "running": 0, "done": 6, "failed": 0}
    assert _scores(tmp_path) == _expected_table(spec)
    table = study.load(tmp_path)
    assert (table["attempts"] == 1).all() and (table["host"] != "").all()
    assert list(table["run_dir"]) == [str(tmp_path / "runs" / f"{n:05d}") for n in range(6)]
    # a rerun has nothing left to do
    assert run_study(spec, tmp_path, workers=2, task=fake_tasks.failing_task,
                     progress=False)["done"] == 6
    assert (study.load(tmp_path)["attempts"] == 1).all()


def test_a_raising_run_is_recorded_and_the_others_complete(tmp_path, spec):
    counts = run_study(spec, tmp_path, workers=2, task=fake_tasks.failing_task, progress=False)
    assert counts == {"pending": 0, "running": 0, "done": 5, "failed": 1}
    with Store(tmp_path) as store:
        [(n, reason)] = store.failures()
    assert n == 2 and "ValueError: loss is nan at step 7" in reason and "fake_tasks.py" in reason
    # without --retry-failed nothing changes; with it the run is done and its failure cleared
    assert run_study(spec, tmp_path, task=fake_tasks.scores_task, progress=False)["failed"] == 1
    counts = run_study(spec, tmp_path, task=fake_tasks.scores_task, retry_failed=True,
                       progress=False)
    assert counts["done"] == 6
    table = study.load(tmp_path).set_index("model_num")
    assert table.loc[2, "state"] == "done" and table.loc[2, "failure"] is None
    assert table.loc[2, "attempts"] == 2
    assert _scores(tmp_path) == _expected_table(spec)


def test_a_dead_worker_is_retried(tmp_path, spec):
    counts = run_study(spec, tmp_path, workers=2, task=fake_tasks.dying_once_task,
                       progress=False)
    assert counts["done"] == 6
    assert _scores(tmp_path) == _expected_table(spec)


def test_a_pool_that_broke_before_submit_gives_a_lost_worker(monkeypatch):
    # The race behind a flaky failure: wait() returned another run's result while a second
    # worker had just died; the next submit met the broken pool.
    from concurrent.futures.process import BrokenProcessPool

    class BrokenPool:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("a child process terminated abruptly")

    backend = LocalBackend(workers=2, threads=1)
    monkeypatch.setattr(backend, "_pool", BrokenPool)
    handle = backend.submit(fake_tasks.scores_task, None, "run", None)
    [(done, outcome)] = backend.wait([handle])
    assert done is handle and isinstance(outcome, WorkerLost)
    assert "worker process died" in str(outcome)


def test_a_run_that_always_kills_its_worker_fails_alone(tmp_path, spec):
    counts = run_study(spec, tmp_path, workers=2, task=fake_tasks.always_dying_task,
                       max_attempts=2, progress=False)
    assert counts == {"pending": 0, "running": 0, "done": 5, "failed": 1}
    with Store(tmp_path) as store:
        [(n, reason)] = store.failures()
    assert n == 1 and "worker process died" in reason and "2 attempt(s)" in reason


def test_one_driver_per_directory(tmp_path, spec):
    with _exclusive(tmp_path), pytest.raises(RuntimeError, match="another"):
        run_study(spec, tmp_path, task=fake_tasks.scores_task, progress=False)


DRIVER = """
import sys
from dislab.study import spec, runner
from tests.study import fake_tasks
runner.run_study(spec.loads(fake_tasks.SMALL_STUDY.replace("seeds = 3", "seeds = 10")),
                 sys.argv[1], workers=2, task=fake_tasks.slow_task, progress=False)
"""


def test_killed_driver_then_rerun_gives_the_uninterrupted_table(tmp_path):
    spec = study_spec.loads(SMALL_STUDY.replace("seeds = 3", "seeds = 10"))  # 20 runs
    killed = tmp_path / "killed"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(killed)], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        if (killed / "results.sqlite").exists():
            with Store(killed) as store:
                if store.counts()["done"] >= 4:
                    break
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    with Store(killed) as store:
        counts = store.counts()
    assert 4 <= counts["done"] < 20 and counts["running"] >= 1  # cut off mid-study
    run_study(spec, killed, workers=2, task=fake_tasks.scores_task, progress=False)
    run_study(spec, tmp_path / "whole", workers=2, task=fake_tasks.scores_task, progress=False)
    assert _scores(killed) == _scores(tmp_path / "whole") == _expected_table(spec)
    with Store(killed) as store:
        assert store.counts()["done"] == 20
        (n,) = store.conn.execute("SELECT COUNT(*) FROM scores").fetchone()
    assert n == 20 * len(SCORE_COLUMNS)


def test_unknown_backend_is_a_clear_error(tmp_path, spec):
    with pytest.raises(ValueError, match="local, ray"):
        run_study(spec, tmp_path, backend="dask", task=fake_tasks.scores_task, progress=False)


def test_a_changed_evaluation_reevaluates_and_a_changed_training_is_refused(tmp_path):
    study_file = tmp_path / "fake.toml"
    study_file.write_text(SMALL_STUDY)
    run_study(study_file, tmp_path, workers=1, task=fake_tasks.params_task, progress=False)
    changed = SMALL_STUDY.replace("[metrics.mig]", "[metrics.mig]\nnum_train = 500").replace(
        "[metrics.sap]\nrepresentations = [\"mean\"]", "")
    study_file.write_text(changed)
    counts = run_study(study_file, tmp_path, workers=1, task=fake_tasks.params_task,
                       progress=False)
    assert counts == {"pending": 0, "running": 0, "done": 6, "failed": 0}
    assert (tmp_path / "study.toml").read_text() == changed
    table = study.load(tmp_path)
    assert (table["mean.mig.num_train"] == 500).all()
    assert (table["sampled.mig.num_train"] == 500).all()
    assert "mean.sap.num_train" not in table.columns  # no longer asked for: not a score
    assert (table["train.loss"] == table["model_num"] + 0.5).all()
    assert all((tmp_path / "runs" / f"{n:05d}" / "calls").read_text().count("call") == 2
               for n in range(6))
    # the same again: nothing to do
    run_study(study_spec.loads(changed), tmp_path, workers=1, task=fake_tasks.params_task,
              progress=False)
    assert (tmp_path / "runs" / "00000" / "calls").read_text().count("call") == 2
    # a change of training is refused before anything runs, naming what differs
    retrain = changed.replace("[[datasets]]", "[train]\nsteps = 600\n[[datasets]]")
    with pytest.raises(ValueError, match=r"runs 0-5: \[train\] steps 300000 \(default\) -> "
                                         r"600\).*new --out directory"):
        run_study(study_spec.loads(retrain), tmp_path, workers=1,
                  task=fake_tasks.params_task, progress=False)
    assert study.load(tmp_path)["state"].eq("done").all()
