"""Training precision: fp32 (default), bf16 autocast, auto. No test needs a bf16 CPU: native
support is monkeypatched where a test needs bf16 (autocast runs everywhere, only slower)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dislab import models, rundir
from dislab.cli import main
from dislab.train import TrainConfig, _Run, train
from tests.tiny_data import TinySquares

CPU = torch.device("cpu")
FAST = dict(batch_size=8, eval_samples=16, log_every=5, checkpoint_every=5, progress=False,
            dataset="tiny_squares", steps=10)


@pytest.fixture
def native(monkeypatch):
    """Pretend the CPU has native bf16 (or not)."""
    def set_native(value: bool):
        monkeypatch.setattr(rundir, "native_bf16", lambda device: value)
    return set_native


def test_resolve_precision(native):
    native(True)
    assert rundir.resolve_precision("auto", CPU) == "bf16"
    assert rundir.resolve_precision("bf16", CPU) == "bf16"
    assert rundir.resolve_precision("fp32", CPU) == "fp32"
    native(False)
    assert rundir.resolve_precision("auto", CPU) == "fp32"
    with pytest.raises(ValueError, match="use precision auto .* or fp32"):
        rundir.resolve_precision("bf16", CPU)
    with pytest.raises(ValueError, match="valid: fp32, bf16, auto"):
        rundir.resolve_precision("fp16", CPU)
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="half")


def _loss(model: str, precision: str) -> tuple[float, _Run]:
    params = {"dlib_step_parity": False} if model == "factor_vae" else {}
    run = _Run(TrainConfig(model=model, hyperparameters=params, precision=precision,
                           progress=False), 1, CPU)
    x = torch.from_numpy(TinySquares().sample_observations(16, __import__("numpy").random
                                                           .RandomState(0))).permute(0, 3, 1, 2)
    posterior = None
    if run.objective.trains_on_pairs:
        labels = torch.zeros(8, dtype=torch.long)
        posterior = lambda mu, logvar: run.objective.posterior(mu, logvar, labels)  # noqa: E731
    report = run.step(x, 0, posterior)
    return float(report["loss"]), run


@pytest.mark.parametrize("model", [*models.names()[:6], "ada_gvae"])
def test_a_bf16_step_of_every_objective_is_close_to_fp32_and_stays_fp32(native, model):
    """The loss on a fixed batch (the same initial weights and noise) in bf16 is within 2% of
    fp32 (bf16 has an 8-bit mantissa: ~0.4% per rounding); weights and Adam's state stay
    fp32."""
    native(True)
    fp32, _ = _loss(model, "fp32")
    bf16, run = _loss(model, "bf16")
    assert bf16 == pytest.approx(fp32, rel=0.02)
    state = run.state_dict()
    floats = [t for t in _tensors(state["vae"]) + _tensors(state["optimizer"])
              if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float32 for t in floats)


def _tensors(tree) -> list[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for v in tree.values() for t in _tensors(v)]
    if isinstance(tree, list | tuple):
        return [t for v in tree for t in _tensors(v)]
    return []


def test_bf16_runs_record_their_precision_resume_and_checkpoint_in_fp32(native, tmp_path):
    native(True)
    config = TrainConfig(**FAST, precision="auto", run_dir=str(tmp_path / "run"))
    run_dir = train(config, data=TinySquares())
    recorded = json.loads((run_dir / "config.json").read_text())
    assert recorded["precision"] == "auto" and recorded["resolved"]["precision"] == "bf16"
    assert rundir.read_train_results(run_dir)["precision"] == "bf16"
    checkpoint = rundir.load_checkpoint(run_dir / "checkpoint.pt")
    assert all(t.dtype == torch.float32 for t in _tensors(checkpoint["vae"]))
    # on a machine where auto resolves to fp32, the run is not continued in another precision
    native(False)
    with pytest.raises(ValueError, match=r"different config \(precision\)"):
        train(TrainConfig(**{**vars(config), "steps": 10}), data=TinySquares())
    with pytest.raises(ValueError, match=r"different config \(precision\)"):
        train(TrainConfig(**{**vars(config), "precision": "fp32"}), data=TinySquares())


def test_cli_precision(native, tmp_path, monkeypatch, capsys):
    import dislab.data

    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())
    argv = ["train", "--dataset", "tiny_squares", "--steps", "2", "--batch-size", "8",
            "--eval-samples", "8", "--quiet"]
    native(False)
    assert main([*argv, "--precision", "bf16", "--out", str(tmp_path / "a")]) == 1
    assert "use precision auto" in capsys.readouterr().err
    assert main([*argv, "--precision", "auto", "--out", str(tmp_path / "b")]) == 0
    config = json.loads(Path(tmp_path / "b" / "config.json").read_text())
    assert config["resolved"]["precision"] == "fp32"


@pytest.mark.skipif(not rundir.native_bf16(CPU), reason="this CPU has no native bf16")
def test_auto_is_bf16_on_this_cpu():
    assert rundir.resolve_precision("auto", CPU) == "bf16"


# -- encoding for the metrics -------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    config = TrainConfig(**FAST, run_dir=str(tmp_path_factory.mktemp("enc") / "run"))
    return train(config, data=TinySquares())


def test_bf16_encoding_is_close_to_fp32_and_returns_float32(native, trained):
    from dislab import represent

    native(True)
    images = TinySquares().sample_observations(32, __import__("numpy").random.RandomState(0))
    fp32 = represent.load(trained, "mean")
    bf16 = fp32.with_precision("bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16") and bf16.vae is fp32.vae
    codes, approx = fp32(images), bf16(images)
    assert approx.dtype == codes.dtype == __import__("numpy").float32
    # bf16 keeps 8 bits of mantissa: codes of order 1 move by ~1e-2 at most
    assert abs(approx - codes).max() < 0.05 and not (approx == codes).all()
    native(False)
    with pytest.raises(ValueError, match="use precision auto"):
        represent.load(trained, "mean", precision="bf16")
    assert represent.load(trained, "mean", precision="auto").precision == "fp32"


def test_metrics_encode_in_bf16_in_fast_mode_only(native, trained):
    from dislab import metrics, represent

    native(True)
    rep = represent.load(trained, "mean")
    params = {"mig": {"num_train": 300}}
    with pytest.raises(ValueError, match="parity mode always encodes in fp32"):
        metrics.evaluate(rep, TinySquares(), ["mig"], params=params, precision="bf16")
    with pytest.raises(ValueError, match="with_precision"):
        metrics.evaluate(lambda x: x.reshape(len(x), -1)[:, :3], TinySquares(), ["mig"],
                         mode="fast", params=params, precision="bf16")
    fp32 = metrics.evaluate(rep, TinySquares(), ["mig"], mode="fast", params=params,
                            progress=False)["mig"]["discrete_mig"]
    bf16 = metrics.evaluate(rep, TinySquares(), ["mig"], mode="fast", params=params,
                            precision="bf16", progress=False)["mig"]["discrete_mig"]
    assert bf16 == pytest.approx(fp32, abs=0.05)


def test_dislab_evaluate_records_and_separates_the_encoder_precision(native, trained, capsys,
                                                                        monkeypatch):
    import dislab.data

    native(True)
    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())
    command = ["evaluate", str(trained), "--metrics", "mig", "--set", "mig.num_train=300",
               "--quiet", "--mode", "fast"]
    assert main(command) == 0
    path = Path(trained) / "results/mean/mig.json"
    assert "precision" not in json.loads(path.read_text())  # fp32: as before
    assert main([*command, "--precision", "bf16"]) == 0
    assert json.loads(path.read_text())["precision"] == "bf16"  # not the fp32 result reused
    capsys.readouterr()
    assert main([*command[:-2], "--precision", "bf16"]) == 1  # parity
    assert "parity mode always encodes in fp32" in capsys.readouterr().err
