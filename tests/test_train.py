"""The training loop: determinism, resume after kill -9, NaN handling, run directory."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dislab import models
from dislab._io import write_json
from dislab.cli import main
from dislab.rundir import load_checkpoint
from dislab.train import (
    TrainConfig,
    TrainingDivergedError,
    TrainingInterrupted,
    _Run,
    stream_seeds,
    train,
)
from tests.tiny_data import TinySquares

TESTS = Path(__file__).resolve().parent
FAST = dict(batch_size=8, eval_samples=16, log_every=5, checkpoint_every=10, progress=False,
            dataset="tiny_squares", lr=1e-3)


def _config(tmp_path, name="run", **kw) -> TrainConfig:
    return TrainConfig(**{**FAST, "steps": 20, "run_dir": str(tmp_path / name), **kw})


def _checkpoint(run_dir):
    return load_checkpoint(Path(run_dir) / "checkpoint.pt")


def _assert_same_state(a, b):
    for part in ("vae", "objective"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs"
    for part in ("optimizer", "aux_optimizer"):
        if a[part] is None:
            assert b[part] is None
            continue
        for i, state in a[part]["state"].items():
            for k, v in state.items():
                assert torch.equal(v, b[part]["state"][i][k]), f"{part} state {i}.{k} differs"
    assert torch.equal(a["noise_rng"], b["noise_rng"])
    assert torch.equal(a["data_rng"]["keys"], b["data_rng"]["keys"])
    assert a["data_rng"]["pos"] == b["data_rng"]["pos"]


def _results(run_dir):
    results = json.loads((Path(run_dir) / "results" / "train.json").read_text())
    results.pop("elapsed_time")
    return results


def _log(run_dir):
    import pandas as pd

    return pd.read_csv(Path(run_dir) / "train_log.csv")


def test_dlib_stream_seeds():
    assert stream_seeds(0) == (2357136044, 2546248239)


@pytest.mark.parametrize("steps", [40, pytest.param(300, marks=pytest.mark.slow)])
@pytest.mark.parametrize("model", [*models.names()[:6], "ada_gvae"])
def test_every_model_trains_with_falling_loss(tmp_path, model, steps):
    params = {"dlib_step_parity": False} if model == "factor_vae" else {}
    run_dir = train(_config(tmp_path, model=model, hyperparameters=params, steps=steps,
                            log_every=10), data=TinySquares())
    log = _log(run_dir)
    assert log["reconstruction_loss"].iloc[-1] < 0.9 * log["reconstruction_loss"].iloc[0]
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]
    results = _results(run_dir)
    assert results["elbo"] == pytest.approx(-(results["reconstruction_loss"]
                                              + results["kl_loss"]))
    assert results["loss"] == pytest.approx(results["reconstruction_loss"]
                                            + results["regularizer"])
    assert results["global_step"] == steps and results["eval_samples"] == 16


def test_beta_one_vae_regulariser_is_the_kl(tmp_path):
    results = _results(train(_config(tmp_path), data=TinySquares()))
    assert results["regularizer"] == pytest.approx(results["kl_loss"])
    assert results["loss"] == pytest.approx(-results["elbo"])


def test_same_seed_same_numbers_other_seed_differs(tmp_path):
    a = train(_config(tmp_path, "a", model="beta_tc_vae", hyperparameters={"beta": 4}),
              data=TinySquares())
    b = train(_config(tmp_path, "b", model="beta_tc_vae", hyperparameters={"beta": 4}),
              data=TinySquares())
    c = train(_config(tmp_path, "c", model="beta_tc_vae", hyperparameters={"beta": 4}, seed=1),
              data=TinySquares())
    _assert_same_state(_checkpoint(a), _checkpoint(b))
    assert _results(a) == _results(b)
    assert _results(a) != _results(c)
    columns = ["iteration", "loss", "kl_loss"]
    assert _log(a)[columns].equals(_log(b)[columns])


def test_factor_vae_step_counting(tmp_path):
    parity = train(_config(tmp_path, "p", model="factor_vae"), data=TinySquares())
    assert _results(parity)["global_step"] == 20 and _results(parity)["iterations"] == 10
    assert _log(parity)["global_step"].tolist() == [10, 20]
    fixed = train(_config(tmp_path, "f", model="factor_vae",
                          hyperparameters={"dlib_step_parity": False}), data=TinySquares())
    assert _results(fixed)["global_step"] == 20 and _results(fixed)["iterations"] == 20


def test_factor_vae_update_is_simultaneous(tmp_path):
    """Both gradients are taken at the pre-update parameters: the VAE gradient of
    ``recon + KL + gamma TC`` only, the discriminator gradient of its own loss only."""
    config = _config(tmp_path, model="factor_vae", hyperparameters={"gamma": 30})
    run = _Run(config, 1, torch.device("cpu"))
    vae, objective = copy.deepcopy(run.vae), copy.deepcopy(run.objective)
    noise = torch.Generator().set_state(run.noise.get_state())
    x = torch.from_numpy(TinySquares().sample_observations(8, np.random.RandomState(0)))
    x = x.permute(0, 3, 1, 2)
    out = vae(x, noise)
    terms = objective(out, 0, noise)
    vae_grads = torch.autograd.grad(terms["loss"], list(vae.parameters()), retain_graph=True)
    disc_grads = torch.autograd.grad(terms["discriminator_loss"], list(objective.parameters()))
    run.step(x, 0)
    for p, g in zip(run.vae.parameters(), vae_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)
    for p, g in zip(run.objective.parameters(), disc_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)
    # and the discriminator's betas are (0.5, 0.9)
    assert run.aux_optimizer.param_groups[0]["betas"] == (0.5, 0.9)


class _Interrupted(Exception):
    pass


class _FaultyAfter(TinySquares):
    """After ``n`` batches: raise (an in-process stand-in for a killed run) or give NaNs."""

    def __init__(self, n, fault="raise"):
        super().__init__()
        self.calls, self.n, self.fault = 0, n, fault

    def sample_observations(self, n, rng):
        self.calls += 1
        x = super().sample_observations(n, rng)
        if self.calls <= self.n:
            return x
        if self.fault == "raise":
            raise _Interrupted
        return x * np.nan


def test_factor_vae_resume_is_exact(tmp_path):
    reference = train(_config(tmp_path, "ref", model="factor_vae", steps=30),
                      data=TinySquares())
    config = _config(tmp_path, "resumed", model="factor_vae", steps=30)
    with pytest.raises(_Interrupted):
        train(config, data=_FaultyAfter(12))  # checkpoint at iteration 10, killed at 12
    assert _checkpoint(config.run_dir)["iteration"] == 10
    assert _log(config.run_dir)["iteration"].tolist() == [5, 10]
    train(config, data=TinySquares())
    _assert_same_state(_checkpoint(reference), _checkpoint(config.run_dir))
    assert _results(reference) == _results(config.run_dir)
    assert _log(config.run_dir)["iteration"].tolist() == [5, 10, 15]


WEAK = ("ada_gvae", "ada_ml_vae", "gvae", "ml_vae")


@pytest.mark.parametrize("model", WEAK)
def test_weak_models_train_on_pairs(tmp_path, model):
    config = _config(tmp_path, model=model, hyperparameters={"beta": 4, "k": -1}, steps=10)
    results = _results(train(config, data=TinySquares()))
    assert results["regularizer"] == pytest.approx(4 * results["kl_loss"])
    assert results["loss"] == pytest.approx(results["reconstruction_loss"]
                                            + results["regularizer"])
    assert results["elbo"] == pytest.approx(-(results["reconstruction_loss"]
                                              + results["kl_loss"]))
    # the loop encodes 2 x 8 images per step: the reconstruction is per image, not per pair
    assert 0 < results["reconstruction_loss"] < 64 * 64


class _StopAfterPairs(TinySquares):
    """Pairs draw their factors once per batch: stop at batch ``n + 1``."""

    def __init__(self, n):
        super().__init__()
        self.calls, self.n = 0, n

    def sample_factors(self, n, rng):
        self.calls += 1
        if self.calls > self.n:
            raise _Interrupted
        return super().sample_factors(n, rng)


def test_weak_model_resume_is_exact(tmp_path):
    weak = dict(model="ada_ml_vae", hyperparameters={"beta": 2, "k": 1}, steps=30)
    reference = train(_config(tmp_path, "ref", **weak), data=TinySquares())
    config = _config(tmp_path, "resumed", **weak)
    with pytest.raises(_Interrupted):
        train(config, data=_StopAfterPairs(12))  # checkpoint at iteration 10
    assert _checkpoint(config.run_dir)["iteration"] == 10
    train(config, data=TinySquares())
    _assert_same_state(_checkpoint(reference), _checkpoint(config.run_dir))
    assert _results(reference) == _results(config.run_dir)


class _OneFactor(TinySquares):
    all_factor_names, all_factor_sizes, latent_factor_indices = ("x",), (72,), (0,)


def test_weak_models_refuse_what_they_cannot_train(tmp_path):
    with pytest.raises(ValueError, match="k must be -1"):
        TrainConfig(model="ada_gvae", hyperparameters={"k": 0})
    with pytest.raises(ValueError, match=r"1\.\.2"):  # TinySquares has 3 factors
        train(_config(tmp_path, "k3", model="ada_gvae", hyperparameters={"k": 3}),
              data=TinySquares())
    with pytest.raises(ValueError, match="at least 2 factors"):
        train(_config(tmp_path, "one", model="ada_gvae"), data=_OneFactor())
    with pytest.raises(ValueError, match="num_latent >= the 3 factors"):
        train(_config(tmp_path, "labels", model="gvae", num_latent=2), data=TinySquares())
    train(_config(tmp_path, "adaptive", model="ada_gvae", num_latent=2, steps=2),
          data=TinySquares())  # the adaptive variants need no latent per factor


def test_cli_trains_a_weak_model(tmp_path, monkeypatch, capsys):
    import dislab.data

    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())
    out = tmp_path / "weak"
    argv = ["train", "--model", "ada_gvae", "--beta", "4", "--k", "-1", "--dataset",
            "tiny_squares", "--steps", "4", "--batch-size", "8", "--eval-samples", "8",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "ada_gvae" and config["hyperparameters"] == {"beta": 4.0, "k": -1}
    capsys.readouterr()
    assert main([*argv[:6], "0", *argv[7:-3], "--out", str(tmp_path / "k0"), "--quiet"]) == 1
    assert "k must be -1" in capsys.readouterr().err


_KILLED_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.tiny_data import TinySquares
    from dislab.train import TrainConfig, train

    class Slow(TinySquares):
        def sample_observations(self, n, rng):
            time.sleep(0.05)
            return super().sample_observations(n, rng)

    train(TrainConfig(**{config!r}), data=Slow())
""")


def test_resume_after_kill_9_gives_identical_weights(tmp_path):
    config = _config(tmp_path, "killed", steps=30)
    script = _KILLED_SCRIPT.format(root=str(TESTS.parent), config=vars(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    checkpoint = Path(config.run_dir) / "checkpoint.pt"
    deadline = time.time() + 60
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _checkpoint(config.run_dir)["iteration"] < 30
    assert not (Path(config.run_dir) / "results" / "train.json").exists()
    torch.set_num_threads(1)
    train(config, data=TinySquares())
    reference = train(_config(tmp_path, "reference", steps=30), data=TinySquares())
    _assert_same_state(_checkpoint(reference), _checkpoint(config.run_dir))
    assert _results(reference) == _results(config.run_dir)
    iterations = _log(config.run_dir)["iteration"].tolist()
    assert iterations == list(range(5, 31, 5))


def test_finished_run_is_not_retrained_and_other_config_is_refused(tmp_path):
    config = _config(tmp_path)
    run_dir = train(config, data=TinySquares())
    stamp = (run_dir / "checkpoint.pt").stat().st_mtime_ns
    again = TrainConfig(**{**vars(config), "progress": True, "log_every": 3})  # execution only
    assert train(again, data=TinySquares()) == run_dir
    assert (run_dir / "checkpoint.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match=r"different config \(hyperparameters, steps\)"):
        train(TrainConfig(**{**vars(config), "steps": 30, "hyperparameters": {"beta": 2}}),
              data=TinySquares())


def test_nan_loss_stops_with_clear_error_and_keeps_checkpoint(tmp_path):
    config = _config(tmp_path, steps=40)
    with pytest.raises(TrainingDivergedError, match=r"global step 13 \(iteration 13\)"):
        train(config, data=_FaultyAfter(13, "nan"))
    run_dir = Path(config.run_dir)
    failure = json.loads((run_dir / "failure.json").read_text())
    assert failure["global_step"] == 13 and failure["checkpoint_iteration"] == 10
    assert _checkpoint(run_dir)["iteration"] == 10
    assert all(torch.isfinite(v).all() for v in _checkpoint(run_dir)["vae"].values())
    assert not (run_dir / "results").exists()


@pytest.mark.parametrize("values,match", [
    ({"stepz": 3}, "unknown train option.*valid: .*steps"),
    ({"steps": 0}, "steps must be an int >= 1"),
    ({"lr": -1.0}, "lr must be > 0"),
    ({"model": "vae"}, "unknown model 'vae'; valid: beta_vae"),
    ({"hyperparameters": {"c_max": 1}}, "valid: beta"),
    ({"device": "tpu"}, "device must be auto, cpu or cuda"),
    ({"lr": "fast"}, "lr must be a number, got 'fast'"),
    ({"adam_beta1": None}, "adam_beta1 must be a number"),
    ({"device": 3}, "device must be auto, cpu or cuda, got 3"),
])
def test_bad_config_gives_clear_error(values, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict(values)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        train(_config(tmp_path, device="cuda"), data=TinySquares())


def test_corrupt_checkpoint_names_the_file(tmp_path):
    config = _config(tmp_path)
    Path(config.run_dir).mkdir()
    (Path(config.run_dir) / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="checkpoint.pt: not a readable dislab checkpoint"):
        train(config, data=TinySquares())


def test_finishing_marks_results_of_older_checkpoints_stale(tmp_path):
    config = _config(tmp_path)
    old = Path(config.run_dir) / "results/mean/mig.json"
    write_json(old, {"metric": "mig", "global_step": 10, "scores": {"discrete_mig": 0.5}})
    current = Path(config.run_dir) / "results/mean/sap.json"
    write_json(current, {"metric": "sap", "global_step": 20, "scores": {"SAP_score": 0.1}})
    train(config, data=TinySquares())
    assert json.loads(old.read_text())["stale"] is True
    assert "stale" not in json.loads(current.read_text())


class _InterruptedSquares(TinySquares):
    """Ctrl-C while drawing the batch of iteration ``at``."""

    def __init__(self, at: int):
        super().__init__()
        self.calls, self.at = 0, at

    def sample_observations(self, n, rng):
        self.calls += 1
        if self.calls > self.at:
            raise KeyboardInterrupt
        return super().sample_observations(n, rng)


def test_ctrl_c_names_the_step_and_how_to_continue(tmp_path):
    config = _config(tmp_path, checkpoint_every=5)
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 12 of 20; the checkpoint "
                       r"at step 10 is kept in .*: rerun the same command to continue"):
        train(config, data=_InterruptedSquares(at=12))
    assert _checkpoint(config.run_dir)["iteration"] == 10
    train(config, data=TinySquares())  # and it continues
    assert _checkpoint(config.run_dir)["iteration"] == 20


def test_cli_has_a_flag_for_every_hyperparameter_of_every_model():
    from dislab.cli import build_parser

    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"]
                         .format_help().split())
    for model in models.names():
        for name in models.hyperparameters(model):
            assert "--" + name.replace("_", "-") in help_text, (model, name)


def test_cli_train(tmp_path, monkeypatch, capsys):
    import dislab.data

    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())
    out = tmp_path / "cli"
    argv = ["train", "--model", "beta_vae", "--beta", "4", "--dataset", "tiny_squares",
            "--steps", "4", "--batch-size", "8", "--eval-samples", "8", "--seed", "3",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["hyperparameters"] == {"beta": 4.0} and config["seed"] == 3
    assert config["resolved"]["num_channels"] == 1
    assert "reconstruction_loss" in capsys.readouterr().out
    assert main(["train", "--model", "beta_vae", "--gamma", "2", "--out", str(out)]) == 1
    assert "valid: beta" in capsys.readouterr().err


def test_config_is_picklable_and_dict_configs_work(tmp_path):
    import pickle

    config = _config(tmp_path, model="dip_vae_ii", hyperparameters={"lambda_od": 5})
    clone = pickle.loads(pickle.dumps(config))
    assert clone == config and clone.hyperparameters == {"lambda_od": 5.0, "lambda_d_factor": 1.0}
    run_dir = train({**vars(config), "steps": 2}, data=TinySquares())
    assert json.loads((run_dir / "config.json").read_text())["model"] == "dip_vae_ii"


# -- faults around training, through the command line ----------------------------------------


def _cli_argv(run_dir, steps=20) -> list[str]:
    """``dislab train`` arguments for the run of ``_config(..., steps=steps)``."""
    return ["train", "--dataset", "tiny_squares", "--steps", str(steps), "--batch-size", "8",
            "--eval-samples", "16", "--log-every", "5", "--checkpoint-every", "10",
            "--lr", "0.001", "--out", str(run_dir), "--quiet"]


@pytest.fixture
def tiny_registry(monkeypatch):
    """``dislab train --dataset tiny_squares`` trains on TinySquares (in this process)."""
    import dislab.data

    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())


_CLI_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import dislab.data
    from tests.tiny_data import TinySquares
    dislab.data.get = lambda name, source, root: TinySquares()
    from dislab.cli import main
    raise SystemExit(main({argv!r}))
""")


def test_a_second_writer_of_a_run_directory_is_refused_at_once(tmp_path):
    from dislab import rundir

    config = _config(tmp_path)
    with pytest.raises(_Interrupted):
        train(config, data=_FaultyAfter(12))  # checkpoint at iteration 10, log [5, 10]
    run_dir = Path(config.run_dir)
    stamp = (run_dir / "checkpoint.pt").stat().st_mtime_ns
    script = _CLI_SCRIPT.format(root=str(TESTS.parent), argv=_cli_argv(run_dir))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with rundir.lock(run_dir):  # this process is the writer
        second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, timeout=300)
    assert second.returncode == 1
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert second.stderr.startswith(f"dislab train: error: another process is writing "
                                    f"{run_dir}")
    assert (run_dir / "checkpoint.pt").stat().st_mtime_ns == stamp
    assert _log(run_dir)["iteration"].tolist() == [5, 10]
    train(config, data=TinySquares())  # the lock is free again: the run continues
    assert _log(run_dir)["iteration"].tolist() == [5, 10, 15, 20]


def _foreign_checkpoint(path: Path) -> None:
    """A checkpoint that only unpickling arbitrary objects would read."""
    torch.save({"iteration": 10, "vae": {}, "path": __import__("pathlib").PurePosixPath("x")},
               path)


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "foreign"])
def test_a_corrupt_checkpoint_is_one_line_with_the_remedy(tmp_path, capsys, tiny_registry,
                                                          damage):
    config = _config(tmp_path)
    with pytest.raises(_Interrupted):
        train(config, data=_FaultyAfter(12))
    path = Path(config.run_dir) / "checkpoint.pt"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    else:
        _foreign_checkpoint(path)
    assert main(_cli_argv(config.run_dir)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dislab train: error: {path}: ")
    assert "delete it to restart the run from scratch" in err
    assert "Re-running `torch.load`" not in err and "Traceback" not in err


@pytest.mark.parametrize("content,problem", [
    (b"", "the file is empty"),
    (b"{\"loss\": 1.5, ", "not valid JSON"),
    (b"\xff\xfe\x00\x01", "not a text file"),
    (b"[1.5, 2.5]", "holds a JSON list, not an object"),
    (b'{"loss": "low", "global_step": 20}', "non-numeric values for loss"),
])
def test_a_corrupt_train_json_is_one_line_and_recomputed_on_request(tmp_path, capsys,
                                                                    tiny_registry, content,
                                                                    problem):
    run_dir = train(_config(tmp_path), data=TinySquares())
    path = run_dir / "results" / "train.json"
    original = json.loads(path.read_text())
    path.write_bytes(content)
    assert main(_cli_argv(run_dir)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"dislab train: error: {path}: {problem}")
    assert "rerun with --recompute-results" in err
    assert main(_cli_argv(run_dir) + ["--recompute-results"]) == 0
    assert json.loads(path.read_text()) == original
    assert (run_dir / "results" / "train.json.corrupt").read_bytes() == content
    assert _log(run_dir)["iteration"].tolist() == [5, 10, 15, 20]
