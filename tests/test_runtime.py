"""Process settings of every entry point: denormals flushed, glibc's allocator tuned."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from dislab import _runtime, models

TINY = 1e-39  # a float32 subnormal (the smallest normal float32 is ~1.18e-38)


def test_flush_denormals_makes_subnormal_results_zero():
    assert _runtime.flush_denormals()
    x = torch.full((4,), TINY)
    assert (x * 1.0).abs().max().item() == 0.0
    assert (torch.ones(4) * 1e-20 * 1e-20).abs().max().item() == 0.0  # 1e-40: flushed


def _subnormal_slowdown(flush: bool) -> float:
    """Time of elementwise arithmetic (what ReLU, Adam and the losses do) on subnormal inputs
    over the same on normal ones, best of 5, with denormals flushed or not."""
    torch.set_flush_denormal(flush)
    try:
        inputs = {"subnormal": torch.full((2_000_000,), TINY),
                  "normal": torch.full((2_000_000,), 1e-3)}
        best = dict.fromkeys(inputs, float("inf"))
        for _ in range(6):  # alternating, so that a busy machine slows both alike
            for name, x in inputs.items():
                start = time.perf_counter()
                (x * 0.5 + x).sum()
                best[name] = min(best[name], time.perf_counter() - start)
        return best["subnormal"] / best["normal"]
    finally:
        _runtime.flush_denormals()


def test_subnormal_arithmetic_runs_at_full_speed_once_flushed():
    torch.set_num_threads(1)
    assert _subnormal_slowdown(flush=True) < 1.5


def test_without_flushing_subnormals_are_slow_on_this_cpu():
    """What the test above guards against (so that it can fail): skipped on a CPU whose
    arithmetic has no subnormal penalty."""
    torch.set_num_threads(1)
    slowdown = _subnormal_slowdown(flush=False)
    if slowdown < 1.5:
        pytest.skip(f"this CPU computes on subnormals at {slowdown:.2f}x the normal time")
    assert slowdown > _subnormal_slowdown(flush=True)


def test_a_training_step_on_subnormal_weights_keeps_its_speed():
    """A model whose weights and Adam moments were planted at subnormal values (what a
    long-trained beta = 1 VAE partly has) against the same model with normal values: with
    denormals flushed the step takes about the same time (the test allows 2x)."""
    assert _runtime.flush_denormals()
    torch.set_num_threads(1)
    x = torch.rand(16, 1, 64, 64)

    def model(plant: bool):
        vae = models.build_vae(1, 10, seed=0)
        optimizer = torch.optim.Adam(vae.parameters(), lr=1e-4)
        generator = torch.Generator().manual_seed(0)

        def step():
            optimizer.zero_grad()
            out = vae(x, generator)
            (out.reconstruction + out.kl).backward()
            optimizer.step()

        step()
        if plant:
            with torch.no_grad():
                for p in vae.parameters():
                    optimizer.state[p]["exp_avg"].fill_(TINY)
                    optimizer.state[p]["exp_avg_sq"].fill_(TINY)
                    p.copy_(torch.sign(p) * 100 * TINY)
        return step

    steps = {plant: model(plant) for plant in (True, False)}
    best = {True: float("inf"), False: float("inf")}
    for _ in range(5):  # alternating, so that a busy machine slows both alike
        for plant, step in steps.items():
            start = time.perf_counter()
            step()
            best[plant] = min(best[plant], time.perf_counter() - start)
    assert best[True] / best[False] < 2.0


def test_configure_malloc_applies_what_the_environment_lacks(monkeypatch):
    for name in _runtime.MALLOC_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    if _runtime._glibc() is None:
        pytest.skip("the C library is not glibc")
    assert _runtime.configure_malloc() == list(_runtime.MALLOC_SETTINGS)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1")  # the environment wins
    assert _runtime.configure_malloc() == ["MALLOC_TRIM_THRESHOLD_"]
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libtcmalloc_minimal.so.4")  # not glibc's malloc
    assert _runtime.configure_malloc() == []


def test_the_cli_configures_the_process():
    code = ("from unittest import mock\nfrom dislab import _runtime, cli\n"
            "with mock.patch.object(_runtime, 'configure_malloc') as m:\n"
            "    cli.main(['data', 'list', '--root', '/nonexistent'])\n"
            "    print(m.call_count)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "1", out.stderr
