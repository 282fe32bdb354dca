"""CUDA: training, images, representations and checkpoints agree with the CPU.

Every test but the first is marked ``cuda`` and skips (with its reason) where
``torch.cuda.is_available()`` is false; on a GPU machine run them with ``pytest -m cuda``
(``benchmarks/gpu_check.sh`` does).

CPU and CUDA draw different reparameterisation noise from generators with the same seed, so
the training comparisons give both runs the same noise: ``sample_from_latent`` is replaced
by one drawing from a CPU generator seeded afresh for each run (weights, data and the
optimiser are already the same on both devices). What remains is arithmetic: cuDNN's
kernels, TF32 in fp32 convolutions (``torch.backends.cudnn.allow_tf32`` is on by default)
and bf16 autocast. Tolerances, on the per-step losses of 20 steps (batch 16, lr 1e-3, the
loss falls from ~2,840 to ~1,000): fp32 ``rtol = 5e-3``; bf16 ``rtol = 3e-2``, four times
the 0.7% measured between CPU bf16 autocast and CPU fp32 on the same 20 steps (TF32 keeps
3 more mantissa bits than bf16, hence the tighter fp32 bound).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dislab import represent
from dislab.models import vae as vae_module
from dislab.rundir import CHECKPOINT_FILE, load_checkpoint, read_train_results, to_images
from dislab.train import TrainConfig, train
from tests.tiny_data import TinySquares

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU: torch.cuda.is_available() is False")


def cuda_test(func):
    """Marked ``cuda`` (selected by ``pytest -m cuda``) and skipped without a GPU."""
    return pytest.mark.cuda(needs_cuda(func))


RTOL = {"fp32": 5e-3, "bf16": 3e-2}
STEPS = 20


@contextlib.contextmanager
def _same_noise(seed: int = 0):
    """Every reparameterisation draw comes from one CPU generator (then moved to the
    device), so a CPU and a CUDA run see the same noise."""
    generator = torch.Generator().manual_seed(seed)
    original = vae_module.sample_from_latent

    def sample(mu, logvar, _device_generator):
        eps = torch.randn(mu.shape, generator=generator).to(mu.device, mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    vae_module.sample_from_latent = sample
    try:
        yield
    finally:
        vae_module.sample_from_latent = original


def _train(run_dir: Path, device: str, precision: str) -> Path:
    config = TrainConfig(model="beta_vae", dataset="tiny_squares", steps=STEPS, batch_size=16,
                         lr=1e-3, eval_samples=32, log_every=1, checkpoint_every=STEPS,
                         progress=False, device=device, precision=precision,
                         run_dir=str(run_dir))
    with _same_noise():
        return train(config, data=TinySquares())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``runs(device, precision)``: a trained run directory, trained once per module."""
    cache: dict[tuple[str, str], Path] = {}

    def get(device: str, precision: str) -> Path:
        if (device, precision) not in cache:
            cache[device, precision] = _train(tmp_path_factory.mktemp(f"{device}-{precision}"),
                                              device, precision)
        return cache[device, precision]

    return get


def _images(n: int = 72, channels: int = 1) -> np.ndarray:
    """TinySquares as float32 NHWC in [0, 1]."""
    data = TinySquares(channels)
    return data.sample_observations(n, np.random.RandomState(0)).astype(np.float32)


# -- images -----------------------------------------------------------------------------------


def test_to_images_on_cpu_is_a_channels_last_view():
    batch = _images(4, channels=3)
    x = to_images(batch, "cpu")
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert x.data_ptr() == batch.ctypes.data  # no copy


@cuda_test
@pytest.mark.parametrize("channels", [1, 3])
def test_to_images_on_cuda_matches_cpu_and_is_channels_last(channels):
    batch = _images(8, channels)
    on_cpu = to_images(batch, torch.device("cpu"))
    for device in ("cuda", torch.device("cuda")):
        x = to_images(batch, device)
        assert x.device.type == "cuda" and x.dtype == torch.float32
        assert x.shape == (8, channels, 64, 64)
        assert x.is_contiguous(memory_format=torch.channels_last)
        if channels > 1:
            assert not x.is_contiguous()  # really NHWC in memory, not NCHW
        assert x.stride() == on_cpu.stride()
        assert torch.equal(x.cpu(), on_cpu)


# -- training ---------------------------------------------------------------------------------


def _losses(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "train_log.csv")[["loss", "reconstruction_loss"]]


@cuda_test
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_on_cuda_matches_cpu(runs, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no native bf16")
    cpu, cuda = runs("cpu", "fp32"), runs("cuda", precision)
    reference, losses = _losses(cpu), _losses(cuda)
    assert len(losses) == len(reference) == STEPS
    assert reference["loss"].iloc[-1] < 0.8 * reference["loss"].iloc[0]  # it does learn
    np.testing.assert_allclose(losses.to_numpy(), reference.to_numpy(), rtol=RTOL[precision])
    final, expected = read_train_results(cuda), read_train_results(cpu)
    assert final["global_step"] == expected["global_step"] == STEPS
    for key in ("loss", "reconstruction_loss"):
        assert final[key] == pytest.approx(expected[key], rel=RTOL[precision])


@cuda_test
def test_cuda_checkpoint_loads_on_cpu(runs):
    run_dir = runs("cuda", "fp32")
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    tensors = [t for part in ("vae", "objective") for t in state[part].values()]
    tensors += [t for s in state["optimizer"]["state"].values() for t in s.values()
                if isinstance(t, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    on_cpu, _ = represent.load_model(run_dir, "cpu")
    on_cuda, _ = represent.load_model(run_dir, "cuda")
    assert next(on_cpu.parameters()).device.type == "cpu"
    for (name, a), (_, b) in zip(on_cpu.state_dict().items(), on_cuda.state_dict().items()):
        assert torch.equal(a, b.cpu()), name


@cuda_test
def test_mean_representation_on_cuda_matches_cpu(runs):
    """Encoder arithmetic only (cuDNN, TF32 convolutions): codes within 1e-3 + 1e-2 |mu|."""
    run_dir = runs("cuda", "fp32")
    images = _images()
    on_cpu = represent.load(run_dir, "mean", device="cpu")(images)
    on_cuda = represent.load(run_dir, "mean", device="cuda", batch_size=32)(images)
    assert on_cuda.shape == on_cpu.shape == (72, 10) and on_cuda.dtype == np.float32
    np.testing.assert_allclose(on_cuda, on_cpu, rtol=1e-2, atol=1e-3)
