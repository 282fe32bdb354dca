"""``dislab evaluate`` on a fake run directory (stand-in representation loader and dataset)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dislab import represent, rundir
from dislab.cli import main
from dislab.cli.evaluate import parse_overrides
from dislab.metrics.mig import mig

from .conftest import Counting, FactorGrid, entangled

QUICK = ["--set", "mig.num_train=400", "--set", "dci.num_train=400", "--set", "dci.num_test=100"]


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A finished run directory (config naming a dataset, a checkpoint at step 6,
    results/train.json); loading the model and the dataset is monkeypatched."""
    import dislab.data

    run = tmp_path / "run"
    write_fake_run(run, iteration=3, finished=True)
    loaded = {}

    def load(run_dir, representation="mean", seed=0, device="cpu", **kwargs):
        loaded.update(run_dir=str(run_dir), representation=representation, seed=seed)
        return entangled

    def get(name, source="auto", root=None):
        loaded.update(dataset=name, source=source)
        return FactorGrid((3, 6, 8, 4, 4))

    monkeypatch.setattr(represent, "load", load)
    monkeypatch.setattr(dislab.data, "get", get)
    return run, loaded


def write_fake_run(run, iteration: int, finished: bool) -> None:
    """config.json, a checkpoint at ``iteration`` (2 steps each) and, when ``finished``,
    results/train.json."""
    run.mkdir(exist_ok=True)
    (run / "config.json").write_text(json.dumps({
        "dataset": "grid", "steps": 6,
        "resolved": {"dataset_source": "procedural", "steps_per_iteration": 2}}))
    torch.save({"iteration": iteration, "vae": {}}, run / "checkpoint.pt")
    if finished:
        (run / "results").mkdir(exist_ok=True)
        (run / "results/train.json").write_text(json.dumps({"global_step": 2 * iteration}))


def test_writes_one_json_per_metric_and_prints_table(run_dir, capsys):
    run_dir, loaded = run_dir
    code = main(
        [
            "evaluate",
            str(run_dir),
            "--representation",
            "sampled",
            "--metrics",
            "mig,dci",
            "--seed",
            "3",
            "--mode",
            "fast",
            "--quiet",
            *QUICK,
        ]
    )
    assert code == 0
    assert loaded == {
        "run_dir": str(run_dir),
        "representation": "sampled",
        "seed": 3,
        "dataset": "grid",
        "source": "procedural",
    }
    out_dir = run_dir / "results" / "sampled"
    assert sorted(p.name for p in out_dir.iterdir()) == ["dci.json", "mig.json"]
    record = json.loads((out_dir / "mig.json").read_text())
    alone = mig(FactorGrid((3, 6, 8, 4, 4)), entangled, np.random.RandomState(3), num_train=400)
    assert record["scores"] == alone
    assert (record["metric"], record["representation"], record["seed"], record["mode"]) == (
        "mig",
        "sampled",
        3,
        "fast",
    )
    assert record["params"] == {"num_train": 400, "batch_size": 16, "num_bins": 20}
    assert record["representation_seed"] == 3
    assert (record["global_step"], record["finished"]) == (6, True)
    assert record["dataset"] == "factor_grid"
    assert set(json.loads((out_dir / "dci.json").read_text())["scores"]) == {
        "informativeness_train",
        "informativeness_test",
        "disentanglement",
        "completeness",
    }
    table = capsys.readouterr().out
    assert "discrete_mig" in table and "completeness" in table


def test_bad_metric_name_fails_before_loading(run_dir, capsys):
    run_dir, loaded = run_dir
    assert main(["evaluate", str(run_dir), "--metrics", "mig,nope", "--quiet"]) == 1
    assert "unknown metric 'nope'" in capsys.readouterr().err
    assert loaded == {}


def test_missing_run_dir_is_reported(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "absent"), "--metrics", "mig", "--quiet"]) == 1
    assert "config.json not found" in capsys.readouterr().err


def test_parse_overrides():
    assert parse_overrides(["dci.num_train=1000", "dci.mode=fast", "sap.x=[1, 2]"]) == {
        "dci": {"num_train": 1000, "mode": "fast"},
        "sap": {"x": [1, 2]},
    }
    with pytest.raises(ValueError, match="METRIC.PARAM=VALUE"):
        parse_overrides(["num_train=3"])


def test_list_metrics(capsys):
    assert main(["evaluate", "--list-metrics"]) == 0
    assert "num_bins=20" in capsys.readouterr().out
    assert main(["evaluate"]) == 1
    assert "RUN_DIR is required" in capsys.readouterr().err


@pytest.mark.slow
def test_end_to_end_on_a_trained_run(tmp_path, capsys):
    """`dislab train` for 2 steps, then `dislab evaluate` with the real mean representation."""
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "beta_vae",
                "--dataset",
                "dsprites_full",
                "--source",
                "procedural",
                "--steps",
                "2",
                "--eval-samples",
                "64",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                str(run),
                "--metrics",
                "mig,sap",
                "--quiet",
                "--set",
                "mig.num_train=200",
                "--set",
                "sap.num_train=200",
                "--set",
                "sap.num_test=100",
            ]
        )
        == 0
    )
    record = json.loads((run / "results" / "mean" / "mig.json").read_text())
    assert 0 <= record["scores"]["discrete_mig"] <= 1 and record["dataset"] == "dsprites_full"


def test_both_representations_share_one_cache_unless_no_cache(run_dir, monkeypatch, capsys):
    import dislab.data
    import dislab.metrics

    run_dir, _ = run_dir

    class FixedGrid(FactorGrid):
        fixed_observations = True

    grid = FixedGrid((3, 6, 8, 4, 4))
    monkeypatch.setattr(dislab.data, "get", lambda name, source="auto", root=None: grid)
    monkeypatch.setattr(represent, "load", lambda *args, **kwargs: Counting())
    seen = []
    real = dislab.metrics.evaluate

    def spy(*args, **kwargs):
        seen.append(kwargs["cache"])
        return real(*args, **kwargs)

    monkeypatch.setattr(dislab.metrics, "evaluate", spy)
    both = ["evaluate", str(run_dir), "--representation", "mean,sampled", "--metrics", "mig",
            "--quiet", *QUICK[:2]]
    assert main(both) == 0
    assert isinstance(seen[0], dislab.metrics.CodeCache) and seen[1] is seen[0]
    assert 0 < seen[0].num_encoded <= 400  # the second representation encoded nothing new
    for rep in ("mean", "sampled"):
        assert (run_dir / "results" / rep / "mig.json").is_file()
    assert main(both) == 0  # stored results of the same request are reused
    assert len(seen) == 2
    assert main([*both, "--no-cache", "--seed", "1"]) == 0
    assert seen[2:] == [False, False]
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--representation", "mean,median"]) == 1
    assert "valid: mean, sampled" in capsys.readouterr().err


def test_an_unfinished_run_needs_allow_unfinished_and_goes_stale(run_dir, capsys):
    run_dir, _ = run_dir
    (run_dir / "results/train.json").unlink()
    write_fake_run(run_dir, iteration=1, finished=False)
    command = ["evaluate", str(run_dir), "--metrics", "mig", "--quiet", *QUICK[:2]]
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "training is not finished (checkpoint at step 2 of 6)" in err
    assert "--allow-unfinished" in err
    assert main([*command, "--allow-unfinished"]) == 0
    path = run_dir / "results/mean/mig.json"
    record = json.loads(path.read_text())
    assert (record["global_step"], record["finished"]) == (2, False)
    # training finishes: the result of the older checkpoint is marked stale, then recomputed
    write_fake_run(run_dir, iteration=3, finished=True)
    assert rundir.mark_stale_results(run_dir, 6) == [path]
    assert json.loads(path.read_text())["stale"] is True
    assert main(command) == 0
    record = json.loads(path.read_text())
    assert (record["global_step"], record["finished"], "stale" in record) == (6, True, False)


def test_a_result_that_cannot_be_written_is_printed_not_lost(run_dir, capsys):
    run_dir, _ = run_dir
    (run_dir / "results/mean").write_text("a file where the folder should be")
    assert main(["evaluate", str(run_dir), "--metrics", "mig", "--quiet", *QUICK[:2]]) == 1
    err = capsys.readouterr().err
    assert "could not write" in err and "results/mean/mig.json" in err
    assert '"discrete_mig":' in err


def test_a_corrupt_train_json_is_refused_with_the_remedy(run_dir, capsys):
    run_dir, _ = run_dir
    (run_dir / "results/train.json").write_text('["not", "results"]')
    assert main(["evaluate", str(run_dir), "--metrics", "mig", "--quiet", *QUICK[:2]]) == 1
    err = capsys.readouterr().err
    assert "train.json: holds a JSON list, not an object" in err and "--recompute-results" in err
