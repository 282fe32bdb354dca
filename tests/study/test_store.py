"""The SQLite results store: upserts, config checks, concurrent writers, export, dlib import."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3

import pandas as pd
import pytest

from dislab import study
from dislab.study import spec as study_spec
from dislab.study.store import Store, export
from tests.study.fake_tasks import SMALL_STUDY, expected_scores


@pytest.fixture
def runs():
    return study_spec.loads(SMALL_STUDY).runs()


def _done(run):
    return {"state": "done", "train_seconds": 2.0, "eval_seconds": 1.0, "total_seconds": 3.5,
            "device": "cpu", "data_source": "procedural", "scores": expected_scores(run)}


def test_record_and_table(tmp_path, runs):
    with Store(tmp_path) as store:
        assert store.register(runs) == 6
        assert store.register(runs) == 0  # idempotent
        store.record(3, _done(runs[3]))
        store.record(4, {"state": "failed", "failure": "ValueError: boom"})
        assert store.counts() == {"pending": 4, "running": 0, "done": 1, "failed": 1}
        assert store.failures() == [(4, "ValueError: boom")]
        assert store.model_nums(["pending"]) == [0, 1, 2, 5]
    table = study.load(tmp_path)
    assert list(table["model_num"]) == list(range(6))
    row = table.set_index("model_num").loc[3]
    assert (row["model"], row["beta"], row["seed"], row["state"]) == ("beta_vae", 2.0, 0, "done")
    assert row["train.loss"] == 3.5
    seeds = runs[3].evaluation_seeds
    assert row["mean.mig.score"] == seeds["mean"]["mig"] / 2**32
    assert row["sampled.mig.score"] == seeds["sampled"]["mig"] / 2**32
    assert pd.isna(table.set_index("model_num").loc[0, "mean.mig.score"])
    assert "sampled.sap.score" not in table.columns


def test_recording_twice_never_duplicates(tmp_path, runs):
    with Store(tmp_path) as store:
        store.register(runs)
        for _ in range(3):
            store.record(0, _done(runs[0]))
        n = store.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        assert n == len(expected_scores(runs[0])) == 4


def test_a_different_study_in_the_same_directory_is_refused(tmp_path, runs):
    with Store(tmp_path) as store:
        store.register(runs)
        other = study_spec.loads(SMALL_STUDY.replace("beta = [1.0, 2.0]", "beta = [1.0, 3.0]"))
        with pytest.raises(ValueError, match=r"\(runs 3-5: hyperparameters beta 2.0 -> 3.0\);"
                                              r".*use a new --out directory, or restore"):
            store.register(other.runs())
        other = study_spec.loads(SMALL_STUDY.replace("seeds = 3", "seeds = [0, 1, 5]"))
        with pytest.raises(ValueError, match=r"runs 2, 5: seed 2 -> 5\)"):
            store.register(other.runs())
        assert store.model_nums(["pending"]) == list(range(6))  # nothing changed


def _identity_of(store, model_num):
    (config,) = store.conn.execute("SELECT config FROM runs WHERE model_num = ?",
                                   (model_num,)).fetchone()
    return json.loads(config)


def test_a_changed_evaluation_sends_done_runs_back_to_pending(tmp_path, runs):
    with Store(tmp_path) as store:
        store.register(runs)
        store.record(0, _done(runs[0]))
        store.record(1, {"state": "failed", "failure": "ValueError: boom"})
        store.mark_running(2)
        changed = study_spec.loads(SMALL_STUDY.replace("[metrics.sap]",
                                                       "num_train = 500\n[metrics.sap]")).runs()
        assert store.register(changed) == 0
        assert store.counts() == {"pending": 4, "running": 1, "done": 0, "failed": 1}
        assert store.model_nums(["pending"]) == [0, 3, 4, 5]
        assert _identity_of(store, 0) == changed[0].identity()
        # the training results stay, the old metric scores are gone
        assert store.conn.execute("SELECT representation, metric FROM scores WHERE "
                                  "model_num = 0").fetchall() == [("", "train")]
        # the new evaluation's scores are stored as usual
        store.record(0, _done(changed[0]))
        assert store.counts()["done"] == 1
        assert store.register(changed) == 0  # the same again: nothing to do
        assert store.counts()["done"] == 1


@pytest.mark.parametrize("change, pending", [
    (("seeds = 3", "seeds = 3\nmetric_mode = \"fast\""), 6),
    # model 0's seeds are dlib's under both policies: it keeps its scores
    (("seeds = 3", "seeds = 3\nevaluation_seeds = \"dlib\""), 5),
    (("representations = [\"mean\", \"sampled\"]", "representations = [\"mean\"]"), 6),
    (("[metrics.mig]", "[metrics.dci]\n[metrics.mig]"), 6),
    (("[metrics.sap]\nrepresentations = [\"mean\"]", ""), 6),
])
def test_every_evaluation_change_is_allowed(tmp_path, runs, change, pending):
    with Store(tmp_path) as store:
        store.register(runs)
        for run in runs:
            store.record(run.model_num, _done(run))
        assert store.register(study_spec.loads(SMALL_STUDY.replace(*change)).runs()) == 0
        assert store.counts()["pending"] == pending


def test_equal_values_written_differently_are_the_same_training(tmp_path, runs):
    with Store(tmp_path) as store:
        store.register(runs)
        store.record(0, _done(runs[0]))
        same = SMALL_STUDY.replace("beta = [1.0, 2.0]", "beta = [1, 2]") + (
            "[train]\nsteps = 300_000\n")  # the default, now explicit
        assert store.register(study_spec.loads(same).runs()) == 0
        assert store.counts()["done"] == 1  # the same evaluation: nothing to redo


def test_missing_and_corrupt_databases_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a dislab study directory"):
        Store(tmp_path / "nothing", create=False)
    (tmp_path / "results.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="results.sqlite"):
        Store(tmp_path)


def _writer(args):
    """Record runs ``first .. first + count - 1``, one transaction each (no torch import)."""
    directory, first, count = args
    with Store(directory, timeout=120) as store:
        for n in range(first, first + count):
            store.mark_running(n)
            scores = [("", "train", "loss", n), ("mean", "mig", "score", n / 100),
                      ("mean", "sap", "score", 1.0), ("sampled", "mig", "score", 0.5)]
            store.record(n, {"state": "done", "scores": scores})
    return count


def test_several_processes_write_at_once(tmp_path):
    runs = study_spec.loads(SMALL_STUDY.replace("seeds = 3", "seeds = 40")).runs()
    with Store(tmp_path) as store:
        store.register(runs)
    jobs = [(str(tmp_path), first, 20) for first in range(0, 80, 20)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert sum(pool.map(_writer, jobs)) == 80
    with Store(tmp_path) as store:
        assert store.counts()["done"] == 80
        assert store.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 80 * 4
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.conn.execute("SELECT MIN(attempts), MAX(attempts) FROM runs"
                                  ).fetchone() == (1, 1)


def test_export_csv_round_trips(tmp_path, runs):
    with Store(tmp_path) as store:
        store.register(runs)
        store.record(1, _done(runs[1]))
    path = export(tmp_path, tmp_path / "table.csv")
    table = pd.read_csv(path)
    assert len(table) == 6
    assert table.loc[1, "train.loss"] == 1.5
    assert table.loc[1, "mean.sap.score"] == pytest.approx(
        runs[1].evaluation_seeds["mean"]["sap"] / 2**32)


def test_export_parquet_or_a_clear_error(tmp_path, runs):
    with Store(tmp_path) as store:
        store.register(runs)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pyarrow"):
            export(tmp_path, tmp_path / "table.parquet")
    else:
        assert len(pd.read_parquet(export(tmp_path, tmp_path / "t.parquet"))) == 6
    with pytest.raises(ValueError, match="csv, parquet"):
        export(tmp_path, tmp_path / "table.xlsx")


def _dlib_row(model_num, model, param, value, seed, rep, metric, results):
    """One flat dict of dlib's aggregated table (gin values as raw text, as dlib's
    ``utils/results.py`` writes them)."""
    row = {"train_config.dataset.name": "'dsprites_full'",
           "train_config.model.name": f"'{model}'",
           "train_config.model.model_num": str(model_num),
           "train_config.model.random_seed": str(seed),
           f"train_config.{param}": repr(value),
           "train_config.encoder.num_latent": "10",
           "train_results.reconstruction_loss": 30.5, "train_results.uuid": "abc",
           "postprocess_config.postprocess.name": f"'{rep}'",
           "evaluation_config.evaluation.name": f"'{metric}'",
           "evaluation_results.elapsed_time": 12.0,
           "path": f"output/{model_num}/metrics/{rep}/{metric}/results/aggregate/x.json"}
    row.update({f"evaluation_results.{k}": v for k, v in results.items()})
    return row


def test_import_of_dlibs_aggregated_results(tmp_path):
    rows = [
        _dlib_row(0, "beta_vae", "vae.beta", 1.0, 0, "mean", "mig", {"discrete_mig": 0.25}),
        _dlib_row(0, "beta_vae", "vae.beta", 1.0, 0, "mean", "beta_vae_sklearn",
                  {"eval_accuracy": 0.75, "train_accuracy": 0.8}),
        _dlib_row(301, "factor_vae", "factor_vae.gamma", 10.0, 1, "sampled", "mig",
                  {"discrete_mig": 0.125}),
    ]
    path = tmp_path / "results.json"
    pd.DataFrame(rows).to_json(path)  # what dlib_aggregate_results writes
    with Store(tmp_path / "dlib") as store:
        assert store.import_dlib(path) == 2
        assert store.import_dlib(path) == 2  # again: no duplicates
        # model 0: 1 training + 1 MIG + 2 BetaVAE scores; model 301: 1 training + 1 MIG
        assert store.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 6
    table = study.load(tmp_path / "dlib").set_index("model_num")
    assert table.loc[0, "mean.mig.discrete_mig"] == 0.25
    assert table.loc[0, "mean.beta_vae.eval_accuracy"] == 0.75
    assert table.loc[301, "sampled.mig.discrete_mig"] == 0.125
    assert table.loc[301, "train.reconstruction_loss"] == 30.5
    assert (table.loc[301, "model"], table.loc[301, "gamma"], table.loc[301, "seed"]) == (
        "factor_vae", 10.0, 1)
    assert table.loc[0, "beta"] == 1.0 and table.loc[0, "origin"] == "dlib"
    assert json.loads(table.loc[0, "hyperparameters"]) == {"beta": 1.0}
    assert "mean.mig.elapsed_time" not in table.columns


def test_a_study_over_imported_dlib_runs_is_refused(tmp_path, runs):
    path = tmp_path / "results.json"
    pd.DataFrame([_dlib_row(0, "beta_vae", "vae.beta", 1.0, 0, "mean", "mig",
                            {"discrete_mig": 0.25})]).to_json(path)
    with Store(tmp_path / "dlib") as store:
        store.import_dlib(path)
        with pytest.raises(ValueError, match=r"run 0: imported from dlib"):
            store.register(runs)


def test_import_of_a_foreign_json_is_a_clear_error(tmp_path):
    path = tmp_path / "other.json"
    pd.DataFrame([{"a": 1}]).to_json(path)
    with Store(tmp_path) as store, pytest.raises(ValueError, match="missing column"):
        store.import_dlib(path)
    (tmp_path / "broken.json").write_text("{")
    with Store(tmp_path) as store, pytest.raises(ValueError, match="broken.json"):
        store.import_dlib(tmp_path / "broken.json")


def test_scores_are_plain_sql(tmp_path, runs):
    """The store is an ordinary SQLite file any tool can query."""
    with Store(tmp_path) as store:
        store.register(runs)
        store.record(2, _done(runs[2]))
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    (value,) = conn.execute("SELECT value FROM scores WHERE model_num = 2 AND metric = 'train'"
                            ).fetchone()
    assert value == 2.5


def test_execution_options_may_change_between_reruns(tmp_path):
    study_file = SMALL_STUDY + "[train]\nsteps = 5\ncheckpoint_every = 2\n"
    with Store(tmp_path) as store:
        store.register(study_spec.loads(study_file).runs())
        resumed = study_file.replace("checkpoint_every = 2", "checkpoint_every = 3")
        assert store.register(study_spec.loads(resumed).runs()) == 0
        with pytest.raises(ValueError, match=r"runs 0-5: \[train\] steps 5 -> 6\)"):
            store.register(study_spec.loads(study_file.replace("steps = 5", "steps = 6")).runs())
