"""Models made outside a study, scored the study's way and stored as external runs
(``dislab study add``, ``dislab.study.add_representation``), on a study trained in-process on
tiny squares."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from dislab import metrics, study, train
from dislab.analysis.placement import placement
from dislab.cli import main
from dislab.data import DatasetInfo, registry
from dislab.study import spec as study_spec
from dislab.study import tasks
from dislab.study.runner import default_task, rebuild, run_dir_of, run_study, run_task
from dislab.study.store import Store
from tests.study.fake_tasks import scores_task
from tests.tiny_data import TinySquares

STUDY = """
[study]
name = "squares"
seeds = [0, 1]
[train]
steps = 4
eval_samples = 64
[[datasets]]
name = "tiny_squares"
source = "procedural"
[[models]]
name = "beta_vae"
sweep = { beta = [1.0, 4.0] }
[metrics.mig]
num_train = 100
[metrics.sap]
representations = ["mean"]
num_train = 100
num_test = 50
"""
# the researcher's own run: another strength and seed, fewer evaluation samples
MINE = {"model": "beta_vae", "hyperparameters": {"beta": 2.0}, "dataset": "tiny_squares",
        "source": "procedural", "seed": 5, "steps": 4, "eval_samples": 32, "progress": False,
        "device": "cpu"}


@pytest.fixture(scope="module")
def squares():
    """tiny_squares in the dataset registry for the tests of this module."""
    with pytest.MonkeyPatch.context() as patch:
        entry = DatasetInfo("tiny_squares", "squares", (), None, TinySquares)
        patch.setitem(registry._REGISTRY, "tiny_squares", entry)
        tasks.dataset.cache_clear()
        yield
    tasks.dataset.cache_clear()


@pytest.fixture(scope="module")
def template(tmp_path_factory, squares):
    """A finished study of 4 runs (trained and evaluated in this process, as the runner's
    workers would) and one run trained outside it."""
    root = tmp_path_factory.mktemp("template")
    out = root / "study"
    out.mkdir()
    (out / "study.toml").write_text(STUDY)
    spec = study_spec.loads(STUDY)
    with Store(out) as store:
        store.register(spec.runs())
        store.set_meta("name", spec.name)
        for run in spec.runs():
            record = run_task(default_task, run, str(run_dir_of(out, run.model_num)), "cpu", 1)
            store.record(run.model_num, record)
    train.train({**MINE, "run_dir": str(root / "mine")})
    return root


@pytest.fixture
def study_dir(template, tmp_path):
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return tmp_path / "study"


@pytest.fixture
def mine(study_dir):
    return study_dir.parent / "mine"


def _scored(row: pd.Series) -> set[str]:
    """The score columns a row has a value for."""
    return {c for c, v in row.items() if "." in c and pd.notna(v)}


def test_add_stores_an_external_run_scored_the_studys_way(study_dir, mine, capsys):
    assert main(["study", "add", str(study_dir), str(mine), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{mine}: added as external run -1" in out and "percentile" in out
    table = study.load(study_dir)
    assert list(table["origin"]) == ["dislab"] * 4 + ["external"]
    external, own = table.iloc[-1], table.iloc[0]
    assert (external["model_num"], external["model"], external["seed"]) == (-1, "beta_vae", 5)
    assert external["beta"] == 2.0 and external["run_dir"] == str(mine.resolve())
    assert json.loads(external["hyperparameters"]) == {"beta": 2.0}
    assert _scored(external) == _scored(own)  # train.*, mean.mig, sampled.mig, mean.sap
    assert "averaged over 32 samples" in external["warnings"]  # the study's runs: 64
    # per-model seeds of run -1: base 2**32 - 1, a base no run of the study has
    seeds = study_spec.evaluation_seeds(2**32 - 1, ("mean", "sampled"), ("mig", "sap"))
    record = json.loads((mine / "results/sampled/mig.json").read_text())
    assert record["seed"] == seeds["sampled"]["mig"]
    assert record["representation_seed"] == seeds["sampled"]["representation"]
    assert record["params"]["num_train"] == 100 and record["mode"] == "parity"
    assert external["sampled.mig.discrete_mig"] == record["scores"]["discrete_mig"]
    # the study's own runs and their counts are untouched
    assert main(["study", "status", str(study_dir)]) == 0
    status = capsys.readouterr().out
    assert "4 runs: 0 pending, 0 running, 4 done, 0 failed" in status
    assert "and 1 external run(s)" in status
    assert main(["study", "export", str(study_dir)]) == 0
    assert list(pd.read_csv(study_dir / "results.csv")["origin"])[-1] == "external"


def test_adding_again_rescores_nothing(study_dir, mine, capsys, monkeypatch):
    assert main(["study", "add", str(study_dir), str(mine), "--quiet"]) == 0
    before = study.load(study_dir)

    def no_evaluate(*args, **kwargs):
        raise AssertionError("scored again")

    monkeypatch.setattr(metrics, "evaluate", no_evaluate)
    added = study.add_runs(study_dir, [mine, mine / ".." / "mine"])  # the same run, once
    assert [(a.model_num, a.status) for a in added] == [(-1, "present")]
    own = study.add_runs(study_dir, [run_dir_of(study_dir, 2)])  # one of the study's runs
    assert [(a.model_num, a.status) for a in own] == [(2, "present")]
    pd.testing.assert_frame_equal(study.load(study_dir), before)
    assert main(["study", "add", str(study_dir), str(mine), "--quiet"]) == 0
    assert "already in the study (run -1); nothing re-scored" in capsys.readouterr().out


def test_a_changed_evaluation_rescores_an_external_run_added_again(study_dir, mine):
    study.add_runs(study_dir, [mine])
    toml = study_dir / "study.toml"
    toml.write_text(STUDY.replace("num_train = 100\n[metrics.sap]", "num_train = 90\n"
                                                                     "[metrics.sap]"))
    added = study.add_runs(study_dir, [mine])
    assert [(a.model_num, a.status) for a in added] == [(-1, "rescored")]
    assert json.loads((mine / "results/mean/mig.json").read_text())["params"]["num_train"] == 90
    record = json.loads((study_dir / "external/00001.json").read_text())  # for rebuild
    assert record["model_num"] == -1 and record["run"]["config"]["metrics"]["mig"] == {
        "num_train": 90}


def _edit_config(run_dir, **changes) -> None:
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "observation_shape":
            config["resolved"][key] = value
        else:
            config[key] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("case,message", [
    ("dataset", "trained on dsprites_full; the study squares has tiny_squares: only a run on "
                "one of the study's datasets can be placed among its runs"),
    ("shape", "trained on images of shape 64x64x3; the study's tiny_squares has 64x64x1"),
    ("unfinished", "training is not finished (checkpoint at step 4 of 4)"),
    ("not a run", "is not a dislab run directory"),
])
def test_a_run_that_cannot_be_placed_is_refused_before_any_work(study_dir, mine, tmp_path,
                                                                capsys, case, message):
    bad = tmp_path / "bad"
    shutil.copytree(mine, bad)
    if case == "dataset":
        _edit_config(bad, dataset="dsprites_full")
    elif case == "shape":
        _edit_config(bad, observation_shape=[64, 64, 3])
    elif case == "unfinished":
        (bad / "results/train.json").unlink()
    else:
        (bad / "config.json").unlink()
    before = study.load(study_dir)
    assert main(["study", "add", str(study_dir), str(mine), str(bad), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    pd.testing.assert_frame_equal(study.load(study_dir), before)
    assert not (mine / "results/mean").exists()  # the good run was not scored either


def test_an_unfinished_run_is_scored_with_allow_unfinished(study_dir, mine):
    (mine / "results/train.json").unlink()
    added = study.add_runs(study_dir, [mine], allow_unfinished=True)
    external = study.load(study_dir).iloc[-1]
    assert added[0].status == "added" and external["origin"] == "external"
    assert "training not finished: scored the checkpoint at step 4 of 4" in external["warnings"]
    assert not any(c.startswith("train.") and pd.notna(v) for c, v in external.items())
    assert pd.notna(external["mean.mig.discrete_mig"])


def test_study_run_and_rebuild_leave_the_external_run_alone(study_dir, mine):
    study.add_runs(study_dir, [mine])
    with Store(study_dir, create=False) as store:  # run 3 was interrupted
        store.conn.execute("UPDATE runs SET state = 'running' WHERE model_num = 3")
    external = study.load(study_dir).iloc[-1]
    spec = study_spec.loads(STUDY)
    counts = run_study(spec, study_dir, workers=1, progress=False, task=scores_task)
    assert counts == {"pending": 0, "running": 0, "done": 4, "failed": 0}
    pd.testing.assert_series_equal(study.load(study_dir).iloc[-1].dropna(), external.dropna())
    changed = study_spec.loads(STUDY.replace("steps = 4", "steps = 5"))
    with pytest.raises(ValueError, match=r"runs 0-3: \[train\] steps 4 -> 5"):
        run_study(changed, study_dir, workers=1, progress=False, task=scores_task)
    (study_dir / "results.sqlite").write_bytes(b"")  # damaged: rebuilt from the directories
    result = rebuild(study_dir)
    assert result["external"] == 1
    rebuilt = study.load(study_dir).iloc[-1]
    columns = [c for c in external.index if "." in c or c in ("model_num", "run_dir", "beta")]
    pd.testing.assert_series_equal(rebuilt[columns], external[columns], check_names=False)


def _factors(images: np.ndarray) -> np.ndarray:
    """The ground-truth factors of tiny squares read off the images, scaled to [0, 1]: size
    (8 or 16 px), the square's row and its column (steps of 8 px)."""
    size = images.sum(axis=(1, 2, 3)) > 100
    rows = images.max(axis=(2, 3)).argmax(axis=1) / 40
    columns = images.max(axis=(1, 3)).argmax(axis=1) / 40
    return np.stack([size, rows, columns], axis=1).astype(float)


def _noise(images: np.ndarray) -> np.ndarray:
    return np.random.default_rng(len(images)).normal(size=(len(images), 3))


def test_a_representation_function_is_placed_by_its_scores(study_dir):
    with pytest.warns(UserWarning, match="metrics on sampled are skipped: mig"):
        truth = study.add_representation(study_dir, _factors, name="truth")
    assert truth["model_num"] == -1 and truth["origin"] == "external"
    assert truth["mean.mig.discrete_mig"] > 0.9
    assert "sampled.mig.discrete_mig" not in truth and not any(c.startswith("train.")
                                                               for c in truth.index)
    assert json.loads(truth["hyperparameters"]) == {"num_latent": 3}
    with pytest.warns(UserWarning):
        noise = study.add_representation(study_dir, _noise, name="noise", num_latent=3)
    assert noise["model_num"] == -2 and noise["mean.mig.discrete_mig"] < 0.1
    table = placement(study.load(study_dir)).set_index(["name", "metric"])
    assert table.loc[("truth", "MIG"), "percentile"] == 100.0  # above the 4 trained runs
    assert table.loc[("truth", "MIG"), "n"] == 4
    assert table.loc[("noise", "MIG"), "percentile"] < 100.0
    with pytest.raises(ValueError, match="already holds a representation function named "
                                         "'truth' on .* .external run -1."):
        study.add_representation(study_dir, _noise, name="truth")
    with pytest.warns(UserWarning):
        again = study.add_representation(study_dir, _noise, name="truth", replace=True)
    assert again["model_num"] == -1 and again["mean.mig.discrete_mig"] < 0.1
    assert len(study.load(study_dir)) == 6


def test_a_representation_function_is_checked_first(study_dir):
    with pytest.raises(ValueError, match="returned codes of 3 dimensions .*; num_latent = 4"):
        study.add_representation(study_dir, _factors, name="truth", num_latent=4)
    with pytest.raises(ValueError, match="'dsprites_full' is not one of the study squares's: "
                                         "tiny_squares"):
        study.add_representation(study_dir, _factors, name="truth", dataset="dsprites_full")
    with pytest.raises(ValueError, match="must return a 2-D array"):
        study.add_representation(study_dir, lambda x: x.sum(axis=(1, 2, 3)), name="flat")
    assert len(study.load(study_dir)) == 4


def test_the_store_keeps_external_numbers_apart(study_dir):
    run = {"dataset": "tiny_squares", "model": "mine", "seed": 0, "sweep": {},
           "hyperparameters": {}, "config": {}}
    with Store(study_dir, create=False) as store:
        with pytest.raises(ValueError, match="must be negative"):
            store.put_external(0, run, [])
        store.put_external(-1, run, [("mean", "mig", "discrete_mig", 0.5)])
        with pytest.raises(ValueError, match=r"run -1 is another run \(mine, no run directory\)"):
            store.put_external(-1, {**run, "model": "other"}, [])
        store.put_external(-1, run, [("mean", "sap", "SAP_score", 0.25)])  # the same: replaced
        assert store.counts()["done"] == 4
        external = store.table().iloc[-1]
    assert external["mean.sap.SAP_score"] == 0.25 and pd.isna(external["mean.mig.discrete_mig"])
