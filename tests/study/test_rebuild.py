"""A damaged results store is an error with its remedy; ``dislab study rebuild`` restores it
from ``study.toml`` and the run directories."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

import dislab.study.tasks
from dislab.cli import main
from dislab.study import spec as study_spec
from dislab.study.runner import rebuild, run_dir_of, run_study
from dislab.study.store import DamagedStoreError, Store
from tests.study.fake_tasks import SMALL_STUDY, expected_scores, scores_task
from tests.study.test_cli_study import MICRO

# what only the old store knew: how, where and how long each run ran
EXECUTION_COLUMNS = ["attempts", "train_seconds", "eval_seconds", "total_seconds", "device",
                     "host", "warnings"]


def _damage(path, kind: str) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("model_num,score\n0,0.5\n")
    else:  # an SQLite database of something else
        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (text TEXT)")
        conn.close()


@pytest.mark.parametrize("kind,problem", [
    ("empty", "the file is empty"),
    ("text", "not an SQLite database"),
    ("foreign", "an SQLite database without the table(s) meta, runs, scores"),
])
def test_a_damaged_store_is_an_error_with_the_remedy(tmp_path, capsys, kind, problem):
    path = tmp_path / "results.sqlite"
    _damage(path, kind)
    before = path.read_bytes()
    assert main(["study", "status", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (f"dislab study: error: {path}: not a dislab results store ({problem}); "
                   f"rebuild it from the run directories with `dislab study rebuild "
                   f"{tmp_path}` (it moves the damaged file aside)\n")
    for create in (True, False):  # never silently replaced by an empty study
        with pytest.raises(DamagedStoreError, match="dislab study rebuild"):
            Store(tmp_path, create=create)
    assert path.read_bytes() == before


def test_a_new_store_is_made_whole_and_leaves_no_temporary_files(tmp_path):
    with Store(tmp_path / "new") as store:
        assert store.counts()["pending"] == 0
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["results.sqlite"]
    with Store(tmp_path / "new", create=False) as store:  # and it opens again
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _table(study_dir) -> pd.DataFrame:
    with Store(study_dir, create=False) as store:
        return store.table()


def test_rebuild_records_done_failed_and_pending_runs(tmp_path, monkeypatch):
    spec = study_spec.loads(SMALL_STUDY)
    (tmp_path / "study.toml").write_text(SMALL_STUDY)
    run_study(spec, tmp_path, workers=1, progress=False, task=scores_task)
    original = _table(tmp_path)
    diverged = run_dir_of(tmp_path, 5) / "failure.json"
    diverged.write_text(json.dumps({"error": "non-finite loss at global step 13"}))
    on_disk = {0, 1, 2, 3}  # run 4: an evaluation missing; run 5: a NaN loss
    monkeypatch.setattr(dislab.study.tasks, "collect_scores", lambda run, run_dir: (
        expected_scores(run) if run.model_num in on_disk else None))
    (tmp_path / "results.sqlite").write_bytes(b"")
    result = rebuild(tmp_path)
    assert result["damage"] == "the file is empty"
    assert result["moved"].name.startswith("results.sqlite.damaged-")
    assert result["moved"].read_bytes() == b""
    assert result["counts"] == {"pending": 1, "running": 0, "done": 4, "failed": 1}
    with Store(tmp_path) as store:
        assert store.failures() == [(5, "TrainingDivergedError: non-finite loss at global "
                                        "step 13")]
        assert store.get_meta("name") == "fake"
    rebuilt = _table(tmp_path)
    done = rebuilt["state"] == "done"
    assert rebuilt.loc[done, "failure"].isna().all()
    columns = [c for c in original.columns
               if c not in EXECUTION_COLUMNS + ["data_source", "failure"]]
    pd.testing.assert_frame_equal(rebuilt.loc[done, columns], original.loc[done, columns])
    # a healthy store is rebuilt too, and kept beside the new one
    again = rebuild(tmp_path)
    assert again["damage"] is None and again["moved"].name.startswith("results.sqlite.replaced-")
    assert again["moved"] != result["moved"] and result["moved"].exists()
    # and `dislab study run` continues the pending run
    run_study(spec, tmp_path, workers=1, progress=False, task=scores_task)
    with Store(tmp_path) as store:
        assert store.counts() == {"pending": 0, "running": 0, "done": 5, "failed": 1}


def test_rebuild_needs_the_study_file(tmp_path, capsys):
    assert main(["study", "rebuild", str(tmp_path)]) == 1
    assert "study.toml not found" in capsys.readouterr().err
    assert main(["study", "rebuild", str(tmp_path / "nowhere")]) == 1
    assert "nowhere not found" in capsys.readouterr().err


def test_rebuild_after_a_real_study_restores_the_export(tmp_path, capsys):
    """A tiny real study: its store damaged, rebuilt from disk, exported: the same table."""
    out = tmp_path / "study"
    micro = tmp_path / "micro.toml"
    micro.write_text(MICRO)
    assert main(["study", "run", str(micro), "--out", str(out), "--workers", "1",
                 "--quiet"]) == 0
    assert main(["study", "export", str(out), "--out", str(tmp_path / "before.csv")]) == 0
    (out / "results.sqlite").write_text("not a database any more")
    assert main(["study", "export", str(out), "--out", str(tmp_path / "x.csv")]) == 1
    assert "dislab study rebuild" in capsys.readouterr().err
    assert main(["study", "rebuild", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "results.sqlite.damaged-" in printed and "2 runs: 0 pending, 0 running, 2 done" \
        in printed
    assert main(["study", "export", str(out), "--out", str(tmp_path / "after.csv")]) == 0
    before = pd.read_csv(tmp_path / "before.csv").drop(columns=EXECUTION_COLUMNS)
    after = pd.read_csv(tmp_path / "after.csv").drop(columns=EXECUTION_COLUMNS)
    pd.testing.assert_frame_equal(after, before)
    # a study file that would train the runs differently is refused before anything moves
    other = tmp_path / "other.toml"
    other.write_text(MICRO.replace("steps = 3", "steps = 4"))
    stored = (out / "results.sqlite").read_bytes()
    assert main(["study", "rebuild", str(out), "--study", str(other), "--quiet"]) == 1
    assert "run(s) 0, 1: steps" in capsys.readouterr().err
    assert (out / "results.sqlite").read_bytes() == stored
    assert len(list(out.glob("results.sqlite.*"))) == 1
