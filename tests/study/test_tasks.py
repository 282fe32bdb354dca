"""The adapter between the study and train / represent / metrics, run in-process on tiny data."""

from __future__ import annotations

import json

import pytest

from dislab import metrics, represent
from dislab.data import DatasetInfo, registry
from dislab.study import spec as study_spec
from dislab.study import tasks
from tests.tiny_data import TinySquares

STUDY = """
[study]
seeds = 1
[train]
steps = 4
eval_samples = 64
[[datasets]]
name = "tiny_squares"
source = "procedural"
[[models]]
name = "beta_vae"
sweep = { beta = [4.0] }
[metrics.mig]
num_train = 100
[metrics.sap]
representations = ["mean"]
num_train = 100
num_test = 50
"""


@pytest.fixture
def run(monkeypatch):
    entry = DatasetInfo("tiny_squares", "squares", (), None, TinySquares)
    monkeypatch.setitem(registry._REGISTRY, "tiny_squares", entry)
    tasks.dataset.cache_clear()
    yield study_spec.loads(STUDY).runs()[0]
    tasks.dataset.cache_clear()


def test_execute_trains_evaluates_and_reports(tmp_path, run):
    result = tasks.execute(run, tmp_path / "run", device="cpu", threads=1)
    scores = {(rep, metric, key): value for rep, metric, key, value in result["scores"]}
    assert scores[("", "train", "global_step")] == 4
    assert ("", "train", "eval_samples") not in scores
    assert 0 <= scores[("mean", "mig", "discrete_mig")] <= 1
    assert ("mean", "sap", "SAP_score") in scores and ("sampled", "sap", "SAP_score") not in scores
    assert result["device"] == "cpu" and result["data_source"] == "procedural"
    assert result["train_seconds"] > 0 and result["eval_seconds"] > 0
    stored = json.loads((tmp_path / "run/results/sampled/mig.json").read_text())
    assert stored["seed"] == run.evaluation_seeds["sampled"]["mig"]
    # the sampled score is exactly a direct evaluation with the run's two seeds
    seeds = run.evaluation_seeds["sampled"]
    rep = represent.load(tmp_path / "run", "sampled", seed=seeds["representation"])
    direct = metrics.evaluate(rep, TinySquares(), ["mig"], seed=seeds["mig"],
                              params={"mig": {"num_train": 100}}, progress=False)["mig"]
    assert scores[("sampled", "mig", "discrete_mig")] == direct["discrete_mig"]


def test_rerun_reuses_finished_work_and_redoes_changed_metrics(tmp_path, run, monkeypatch):
    first = tasks.execute(run, tmp_path / "run", device="cpu")

    def no_evaluate(*args, **kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(metrics, "evaluate", no_evaluate)
    assert tasks.execute(run, tmp_path / "run", device="cpu")["scores"] == first["scores"]
    changed = study_spec.loads(STUDY.replace("num_train = 100\n[metrics.sap]",
                                             "num_train = 90\n[metrics.sap]")).runs()[0]
    with pytest.raises(AssertionError, match="evaluated again"):
        tasks.execute(changed, tmp_path / "run", device="cpu")


def test_train_config_carries_the_run(run):
    config = tasks.train_config(run, "somewhere", device="cpu", threads=2)
    assert config == {"steps": 4, "eval_samples": 64, "model": "beta_vae",
                      "hyperparameters": {"beta": 4.0}, "dataset": "tiny_squares",
                      "source": "procedural", "seed": 0, "run_dir": "somewhere",
                      "progress": False, "device": "cpu", "threads": 2}


def test_collect_scores_reads_back_what_execute_returned(tmp_path, run):
    assert tasks.collect_scores(run, tmp_path / "run") is None  # nothing there yet
    result = tasks.execute(run, tmp_path / "run", device="cpu")
    assert tasks.collect_scores(run, tmp_path / "run") == result["scores"]
    (tmp_path / "run/results/mean/sap.json").write_text("{")  # corrupt: not a result
    assert tasks.collect_scores(run, tmp_path / "run") is None


def test_a_corrupt_train_json_is_recomputed_from_the_checkpoint(tmp_path, run):
    first = tasks.execute(run, tmp_path / "run", device="cpu")
    path = tmp_path / "run/results/train.json"
    path.write_text("[1, 2]")
    again = tasks.execute(run, tmp_path / "run", device="cpu")
    assert again["scores"] == first["scores"]
    assert (tmp_path / "run/results/train.json.corrupt").read_text() == "[1, 2]"
