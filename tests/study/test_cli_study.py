"""``dislab study plan|run|status|export|import-dlib`` end to end (real training, tiny sizes)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dislab import study
from dislab.cli import main

MICRO = """
[study]
name = "micro"
seeds = [0, 1]
[train]
steps = 3
eval_samples = 64
checkpoint_every = 2
[[datasets]]
name = "dsprites_full"
source = "procedural"
[[models]]
name = "beta_vae"
sweep = { beta = [2.0] }
[metrics.mig]
num_train = 200
"""


@pytest.fixture
def micro(tmp_path):
    path = tmp_path / "micro.toml"
    path.write_text(MICRO)
    return path


def test_plan_counts_the_paper(capsys):
    assert main(["study", "plan", "paper", "--no-measure"]) == 0
    out = capsys.readouterr().out
    assert "12,600 = 7 dataset(s) x 36 model setting(s) x 50 seed(s)" in out
    assert "226,800 (18 (representation, metric) pairs per run)" in out


def test_plan_measures_this_machine(capsys, micro):
    assert main(["study", "plan", str(micro)]) == 0
    out = capsys.readouterr().out
    assert "ms/step x 3 steps" in out and "device-hours" in out and "per run)" in out
    assert "after 3 warm-up" in out and "load average" in out and "CPU(s)" in out


def test_run_status_export(tmp_path, capsys, micro):
    out_dir = tmp_path / "study"
    assert main(["study", "run", str(micro), "--out", str(out_dir), "--workers", "1",
                 "--quiet"]) == 0
    assert "2 done, 0 failed" in capsys.readouterr().out
    assert (out_dir / "study.toml").read_text() == MICRO
    assert (out_dir / "runs" / "00001" / "checkpoint.pt").is_file()
    assert main(["study", "status", str(out_dir)]) == 0
    assert "study micro" in capsys.readouterr().out
    assert main(["study", "export", str(out_dir)]) == 0
    table = pd.read_csv(out_dir / "results.csv")
    assert list(table["seed"]) == [0, 1] and list(table["state"]) == ["done", "done"]
    assert table["mean.mig.discrete_mig"].between(0, 1).all()
    assert (table["train.global_step"] == 3).all()
    # the same command again: nothing to do, same table
    assert main(["study", "run", str(micro), "--out", str(out_dir), "--quiet"]) == 0
    assert main(["study", "export", str(out_dir), "--out", str(tmp_path / "again.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again.csv"), table)


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["study", "status", str(tmp_path)]) == 1
    assert "not a dislab study directory" in capsys.readouterr().err
    assert main(["study", "plan", "nope", "--no-measure"]) == 1
    assert "presets: " in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_preset_end_to_end(tmp_path, capsys):
    """The CI study: six models trained, evaluated on both representations, stored, exported
    (about 45 s on 2 idle cores; several minutes on a busy machine)."""
    assert main(["study", "run", "tiny", "--out", str(tmp_path), "--workers", "2",
                 "--quiet"]) == 0
    assert main(["study", "export", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "results.csv")
    assert list(table["model"]) == ["beta_vae", "factor_vae", "dip_vae_i", "dip_vae_ii",
                                    "beta_tc_vae", "annealed_vae"]
    assert (table["state"] == "done").all()
    for column in ("mean.mig.discrete_mig", "sampled.mig.discrete_mig",
                   "mean.beta_vae.eval_accuracy", "mean.factor_vae.eval_accuracy",
                   "mean.sap.SAP_score", "mean.modularity.modularity_score",
                   "sampled.unsupervised.gaussian_total_correlation",
                   "mean.downstream_task_logistic_regression.50:mean_test_accuracy"):
        assert table[column].notna().all(), column
    assert (table["train.global_step"] == 20).all()


def test_a_changed_metric_reuses_the_training_and_a_changed_training_is_refused(
        tmp_path, capsys, micro):
    out_dir = tmp_path / "study"
    run = ["study", "run", str(micro), "--out", str(out_dir), "--workers", "1", "--quiet"]
    assert main(run) == 0
    checkpoints = [out_dir / "runs" / f"{n:05d}" / "checkpoint.pt" for n in (0, 1)]
    trained = [path.stat().st_mtime_ns for path in checkpoints]
    micro.write_text(MICRO.replace("num_train = 200", "num_train = 300"))
    assert main(run) == 0
    assert "2 done, 0 failed" in capsys.readouterr().out
    assert [path.stat().st_mtime_ns for path in checkpoints] == trained  # not trained again
    assert "num_train = 300" in (out_dir / "study.toml").read_text()
    for n in (0, 1):
        record = json.loads((out_dir / "runs" / f"{n:05d}" / "results" / "mean" / "mig.json"
                             ).read_text())
        assert record["params"]["num_train"] == 300
    table = study.load(out_dir)
    assert table["mean.mig.discrete_mig"].between(0, 1).all()
    assert (table["train.global_step"] == 3).all()
    # a change of training: refused, naming the difference and the remedy
    micro.write_text(MICRO.replace("steps = 3", "steps = 4"))
    assert main(run) == 1
    err = capsys.readouterr().err
    assert "runs 0-1: [train] steps 3 -> 4" in err and "new --out directory" in err
    assert [path.stat().st_mtime_ns for path in checkpoints] == trained


@pytest.mark.parametrize("change, message", [
    (("beta = [2.0]", "beta = [-4.0]"), "models.beta_vae.sweep: beta = -4.0 is invalid"),
    (("num_train = 200", "num_train = \"many\""), "[metrics.mig]: "),
    (("num_train = 200", "num_train = -5"), "[metrics.mig]: "),
])
def test_plan_and_run_check_every_value_first(tmp_path, capsys, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(MICRO.replace(*change))
    assert main(["study", "plan", str(path), "--no-measure"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err
    assert main(["study", "run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert f"{path}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out" / "runs").exists()  # nothing trained
