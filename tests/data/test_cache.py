"""The persistent image cache and the pinned output of the procedural renderers.

conftest.py points ``$DISLAB_CACHE`` at a fresh temporary folder for the test session.
"""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from dislab.data import _cache
from dislab.data import _raycast as rc
from dislab.data._cache import ImageCache
from dislab.data.cars3d import Cars3DSubstitute
from dislab.data.shapes3d import ProceduralShapes3D
from dislab.data.smallnorb import SmallNORBSubstitute

TINY = '''
import numpy as np
from dislab.data._grid import RenderedGrid

class Tiny(RenderedGrid):
    """7 x 11 grid of 3x3 images; state (a, b) is the constant image 11 a + b."""
    name = "tiny"
    all_factor_names = ("a", "b")
    all_factor_sizes = (7, 11)
    latent_factor_indices = (0, 1)
    observation_shape = (3, 3, 1)
    cache_version = "test"
    render_batch = 5
    calls = 0

    def _render_states(self, factors):
        Tiny.calls += len(factors)
        value = (11 * factors[:, 0] + factors[:, 1]).astype(np.uint8)
        return np.broadcast_to(value[:, None, None, None], (len(factors), 3, 3, 1)).copy()
'''
FILL = (
    TINY
    + """
import sys
data = Tiny()
rng = np.random.RandomState(int(sys.argv[1]))
for _ in range(30):
    data.sample(6, rng)
"""
)
SHAPE = (77, 3, 3, 1)
EXPECTED = np.arange(77, dtype=np.uint8)[:, None, None, None] * np.ones(SHAPE[1:], np.uint8)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DISLAB_CACHE", str(tmp_path))
    return tmp_path


def _tiny():
    namespace = {}
    exec(TINY, namespace)  # the same class the child processes use
    return namespace["Tiny"]


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DISLAB_CACHE", str(tmp_path))
    assert _cache.cache_dir() == tmp_path
    monkeypatch.delenv("DISLAB_CACHE")
    assert _cache.cache_dir() == _cache.Path.home() / ".cache" / "dislab"


def test_renders_are_stored_once_and_read_back_by_a_new_instance(cache_dir):
    tiny = _tiny()
    data = tiny()
    factors = np.array([[0, 1], [6, 10], [0, 1], [3, 4]])
    obs = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    np.testing.assert_allclose(obs[:, 0, 0, 0], np.array([1, 76, 1, 37]) / 255, rtol=1e-6)
    assert tiny.calls == 3  # each new state rendered once
    again = tiny().sample_observations_from_factors(factors, np.random.RandomState(0))
    np.testing.assert_array_equal(again, obs)
    assert tiny.calls == 3  # the second instance read them from disk
    done = np.load(cache_dir / "tiny-vtest.done.npy")
    assert np.flatnonzero(done).tolist() == [1, 37, 76]
    images = np.load(cache_dir / "tiny-vtest.npy")
    np.testing.assert_array_equal(images[[1, 37, 76]], EXPECTED[[1, 37, 76]])
    assert sorted(p.name for p in cache_dir.iterdir()) == [
        "tiny-vtest.done.npy",
        "tiny-vtest.lock",
        "tiny-vtest.npy",
    ]  # no temporary file left behind


def test_two_processes_fill_the_same_cache(cache_dir):
    env = dict(os.environ, DISLAB_CACHE=str(cache_dir))
    children = [
        subprocess.Popen([sys.executable, "-c", FILL, str(seed)], env=env) for seed in (1, 2)
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0]
    cache = ImageCache.open("tiny", "test", SHAPE)
    done = np.flatnonzero(cache.done)
    assert len(done) > 60  # 2 x 180 random draws of 77 states
    np.testing.assert_array_equal(cache.images[done], EXPECTED[done])
    assert not list(cache_dir.glob("*.tmp"))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.write_bytes(b"not an npy file"), "unreadable"),
        (lambda path: path.write_bytes(path.read_bytes()[:200]), "unreadable"),  # truncated
        (lambda path: np.save(path, np.zeros((5, 3, 3, 1), np.uint8)), "expected uint8"),
        (lambda path: np.save(path, np.zeros(SHAPE, np.float32)), "expected uint8"),
    ],
)
def test_corrupted_or_stale_files_are_rebuilt_with_a_warning(cache_dir, damage, message):
    ImageCache.open("tiny", "test", SHAPE).store(np.array([3]), EXPECTED[[3]])
    damage(cache_dir / "tiny-vtest.npy")
    with pytest.warns(UserWarning, match=message):
        cache = ImageCache.open("tiny", "test", SHAPE)
    assert cache.images.shape == SHAPE and not cache.done.any()  # empty again
    np.testing.assert_array_equal(ImageCache.open("tiny", "test", SHAPE).done, 0)  # valid now


def test_bad_done_flags_are_rebuilt_with_a_warning(cache_dir):
    ImageCache.open("tiny", "test", SHAPE)
    np.save(cache_dir / "tiny-vtest.done.npy", np.full(77, 7, np.uint8))
    with pytest.warns(UserWarning, match="0/1 flags"):
        assert not ImageCache.open("tiny", "test", SHAPE).done.any()


def test_substitute_reads_its_renders_back_from_disk_identically(cache_dir, monkeypatch):
    factors = np.array([[1, 1, 49], [3, 23, 0], [1, 1, 49]])
    first = Cars3DSubstitute().sample_observations_from_factors(factors, np.random.RandomState(0))

    def no_rendering(self, factors):
        raise AssertionError("rendered again")

    monkeypatch.setattr(Cars3DSubstitute, "_render_states", no_rendering)
    second = Cars3DSubstitute().sample_observations_from_factors(factors, np.random.RandomState(1))
    np.testing.assert_array_equal(first, second)
    assert (cache_dir / f"cars3d-v{Cars3DSubstitute.cache_version}.npy").exists()


# Digests of the images the renderers produced before they were vectorised (renderer version 1
# of the cache files); if one changes, the images changed: bump ``cache_version``.
@pytest.mark.parametrize(
    "dataset, factors, digest",
    [
        (
            Cars3DSubstitute,
            [[1, 1, 49], [2, 0, 140], [0, 12, 156], [0, 11, 152]],
            "a06238bf43214793",
        ),
        (
            SmallNORBSubstitute,
            [[2, 8, 2, 1, 3], [1, 7, 5, 6, 2], [3, 8, 3, 11, 4], [2, 6, 4, 0, 0]],
            "fe501b7c12b79355",
        ),
    ],
)
def test_rendered_images_are_pinned(dataset, factors, digest):
    assert _digest(dataset()._render_states(np.array(factors))) == digest


def test_shapes3d_geometry_maps_are_pinned_and_persist(cache_dir, monkeypatch):
    configs = np.array([225, 27, 114])
    maps = np.stack(
        [ProceduralShapes3D().geometry_maps(*np.unravel_index(c, (8, 4, 15))) for c in configs]
    )
    assert _digest(maps) == "e8fae760f1d7cc03"

    def no_tracing(*args, **kwargs):
        raise AssertionError("traced again")

    monkeypatch.setattr(rc, "trace", no_tracing)
    again = ProceduralShapes3D()
    for c, expected in zip(configs, maps):
        np.testing.assert_array_equal(
            again.geometry_maps(*np.unravel_index(c, (8, 4, 15))), expected
        )
    assert (cache_dir / "shapes3d-geometry-v1.npy").exists()
