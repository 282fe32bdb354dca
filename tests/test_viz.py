"""Model pictures: files, sizes, and the traversal schedules."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dislab import viz
from dislab.cli import main
from dislab.train import TrainConfig, train
from tests.tiny_data import TinySquares


def test_triangle_wave_known_values():
    wave = viz.triangle_wave(np.array([0.0]), -2.0, 2.0, 8)[:, 0]
    np.testing.assert_allclose(wave, [0, 1, 2, 1, 0, -1, -2, -1])
    gauss = viz.std_gaussian_wave(np.array([0.0]), 4)[:, 0]  # probs .5, 1, .5, 0 -> clipped
    np.testing.assert_allclose(gauss, [0, 3.0902323, 0, -3.0902323], atol=1e-6)


def test_grid_layout():
    tiles = np.stack([np.full((2, 3, 1), v, np.float32) for v in (0.1, 0.2, 0.3)])
    out = viz.grid(tiles, cols=2, pad=1, value=1.0)
    assert out.shape == (1 + 2 * 3, 1 + 2 * 4, 1)
    assert out[1, 1, 0] == pytest.approx(0.1) and out[1, 5, 0] == pytest.approx(0.2)
    assert out[4, 1, 0] == pytest.approx(0.3) and out[4, 5, 0] == 1.0


def test_kl_per_dimension_closed_form():
    mu = np.array([[1.0, 0.0], [-1.0, 0.0]])
    logvar = np.zeros((2, 2))
    np.testing.assert_allclose(viz.kl_per_dimension(mu, logvar), [0.5, 0.0])


def test_plot_kl_leaves_matplotlib_backend_alone(tmp_path):
    """A fresh process with the svg backend: plotting writes the PNG through a bare Figure and
    neither switches the global backend (the old ``matplotlib.use("Agg")``) nor opens pyplot."""
    code = (
        "import sys, pathlib, matplotlib, numpy as np\n"
        "from dislab import viz\n"
        "before = matplotlib.get_backend()\n"
        "viz.plot_kl(np.array([0.5, 0.0, 0.2]), pathlib.Path(sys.argv[1]), 0.01)\n"
        "print(before, matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    path = tmp_path / "kl.png"
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["svg", "svg", "False"]
    assert Image.open(path).format == "PNG" and Image.open(path).size == (400, 300)


@pytest.mark.parametrize("model", ["beta_vae", "ada_gvae"])  # a weak model's run: the same
def test_visualize_writes_every_picture(tmp_path, monkeypatch, model):
    config = TrainConfig(model=model, steps=3, batch_size=8, eval_samples=8, progress=False,
                         num_latent=3, dataset="tiny_squares", run_dir=str(tmp_path / "run"))
    run_dir = train(config, data=TinySquares())
    out = viz.visualize(run_dir, tmp_path / "viz", num_animations=1, num_frames=4,
                        num_points=50, data=TinySquares())
    assert Image.open(out / "reconstructions.png").size == (8 * 130 + 2, 8 * 66 + 2)
    assert Image.open(out / "samples.png").size == (8 * 66 + 2, 8 * 66 + 2)
    assert sorted(p.name for p in (out / "traversals").iterdir()) == [
        "traversal0.png", "traversal1.png", "traversal2.png"]
    assert Image.open(out / "traversals" / "traversal0.png").size == (3 * 66 + 2, 11 * 66 + 2)
    gif = Image.open(out / "animated_traversals" / "fixed_interval_cycle0.gif")
    assert gif.n_frames == 4 and gif.size == (3 * 74 + 10, 84)
    assert (out / "animated_traversals" / "std_gaussian_cycle0.gif").exists()
    assert (out / "kl_per_dimension.png").stat().st_size > 0

    import dislab.data

    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())
    assert main(["viz", str(run_dir), "--num-animations", "0", "--num-points", "10"]) == 0
    assert (run_dir / "viz" / "samples.png").exists()
