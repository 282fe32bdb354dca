"""Shared test settings: one thread per process, the optional real-data fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# Tests never see a user's real data root: official loaders only read what a test writes.
os.environ["DISLAB_DATA"] = tempfile.mkdtemp(prefix="dislab-empty-root-")
os.environ["DISLAB_CACHE"] = tempfile.mkdtemp(prefix="dislab-cache-")
os.environ.pop("DISENTANGLEMENT_LIB_DATA", None)

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``$DISLAB_SHARED`` or the ``shared/`` folder beside the repository."""
    return Path(os.environ.get("DISLAB_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The small real data samples in ``../shared/data``; skips the test when absent."""
    path = shared_dir() / "data"
    if not path.is_dir():
        pytest.skip(f"real data samples not found at {path} (set DISLAB_SHARED)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An empty data root; official loaders look here (and nowhere else) during the test."""
    root = tmp_path / "data_root"
    root.mkdir()
    monkeypatch.setenv("DISLAB_DATA", str(root))
    monkeypatch.delenv("DISENTANGLEMENT_LIB_DATA", raising=False)
    return root


#: What :func:`dislab.study.plan.cached_estimate` returns in tests (see below).
FAKE_ESTIMATE = {"train_seconds": 3600.0, "eval_seconds": 360.0, "num_runs": 144,
                 "description": "a fake plan", "cpu": "test CPU"}


@pytest.fixture(autouse=True)
def _no_plan_measurement(monkeypatch):
    """The report's banner names a bigger study with its cost, which ``dislab report`` and
    ``dislab demo`` measure (tens of seconds: a training run and every metric). Tests get
    :data:`FAKE_ESTIMATE` instead; ``tests/study/test_plan.py`` tests the measurement."""
    from dislab.study import plan

    monkeypatch.setattr(plan, "cached_estimate", lambda study, cache, threads=1: FAKE_ESTIMATE)
