"""Model pictures: files, sizes, and the traversal schedules."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from dislab import viz
from dislab.cli import main
from dislab.represent import load_model
from dislab.rundir import load_checkpoint, save_checkpoint, to_images
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


def test_sweep_codes_change_one_latent_per_row():
    codes = viz.sweep_codes(np.array([1.0, 2.0, 3.0]), np.array([[7.0, 8.0, 9.0],
                                                                  [-1.0, -2.0, -3.0]]))
    np.testing.assert_array_equal(codes, [[[7, 2, 3], [1, 8, 3], [1, 2, 9]],
                                          [[-1, 2, 3], [1, -2, 3], [1, 2, -3]]])


# -- the report's gallery ---------------------------------------------------------------------

GALLERY = dict(num_points=40)  # a small KL sample keeps the tests fast


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 3-latent run of 3 steps on TinySquares (finished: results/train.json at step 3)."""
    config = TrainConfig(model="beta_vae", steps=3, batch_size=8, eval_samples=8,
                         progress=False, num_latent=3, dataset="tiny_squares",
                         run_dir=str(tmp_path_factory.mktemp("gallery") / "run"))
    return train(config, data=TinySquares())


@pytest.fixture
def run_dir(trained_run, tmp_path):
    """A private copy of the trained run (tests change it)."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def _mtimes(paths):
    return {key: path.stat().st_mtime_ns for key, path in paths.items()}


def test_gallery_images_layout(run_dir):
    paths = viz.gallery_images(run_dir, data=TinySquares(), **GALLERY)
    assert sorted(paths) == sorted(viz.GALLERY_FILES)
    assert all(path.parent == run_dir / "viz" / "gallery" for path in paths.values())
    tile = 64 + 2
    assert Image.open(paths["reconstructions"]).size == (8 * tile + 2, 2 * tile + 2)
    assert Image.open(paths["traversal"]).size == (9 * tile + 2, 3 * tile + 2)  # 3 latents
    gif = Image.open(paths["traversal_gif"])
    assert gif.n_frames == 12 and gif.size == (3 * 74 + 10, 84)
    assert Image.open(paths["kl"]).size == (400, 300)
    for key in ("reconstructions", "traversal", "kl"):
        full, thumb = Image.open(paths[key]).size, Image.open(paths[f"{key}_thumb"]).size
        assert max(thumb) == 240 and thumb[0] / thumb[1] == pytest.approx(full[0] / full[1],
                                                                         rel=0.02)
    stamp = json.loads((run_dir / "viz" / "gallery" / "stamp.json").read_text())
    assert stamp == {"format": viz.GALLERY_FORMAT, "global_step": 3,
                     **dataclasses.asdict(viz.gallery_options(**GALLERY))}


def test_gallery_reconstructions_show_the_observations_above(run_dir):
    paths = viz.gallery_images(run_dir, data=TinySquares(), seed=5, **GALLERY)
    x = TinySquares().sample_observations(8, np.random.RandomState(5))  # the same draw
    picture = np.asarray(Image.open(paths["reconstructions"]))
    for i in range(8):
        top = picture[2:66, 2 + 66 * i:66 + 66 * i]
        np.testing.assert_array_equal(top, x[i, ..., 0] * 255)


def test_gallery_traversal_row_j_sweeps_latent_j(run_dir):
    state = load_checkpoint(run_dir / "checkpoint.pt")  # 3 steps decode every code alike:
    state["vae"]["decoder.dense.0.weight"] *= 30  # make the decoder's output follow its code
    save_checkpoint(run_dir, state)
    paths = viz.gallery_images(run_dir, data=TinySquares(), **GALLERY)
    vae, _ = load_model(run_dir)
    x = TinySquares().sample_observations(8, np.random.RandomState(0))
    with torch.inference_mode():
        base = vae.encode(to_images(x[:1], "cpu"))[0][0].numpy()
    strip = np.asarray(Image.open(paths["traversal"])).astype(int)
    for j in range(3):
        for k, value in enumerate(np.linspace(-2, 2, 9)):
            code = base.copy()
            code[j] = value
            with torch.inference_mode():
                image = torch.sigmoid(vae.decode(torch.as_tensor(code[None])))[0, 0].numpy()
            tile = strip[2 + 66 * j:66 + 66 * j, 2 + 66 * k:66 + 66 * k]
            np.testing.assert_allclose(tile, image * 255, atol=1)


def test_gallery_is_reused_until_the_step_or_the_options_change(run_dir, monkeypatch):
    paths = viz.gallery_images(run_dir, data=TinySquares(), **GALLERY)
    before = _mtimes(paths)
    drawn = []
    monkeypatch.setattr(viz, "_draw_gallery", lambda *args: drawn.append(args))
    start = time.perf_counter()
    assert viz.gallery_images(run_dir, data=TinySquares(), **GALLERY) == paths
    assert time.perf_counter() - start < 0.5 and not drawn and _mtimes(paths) == before

    monkeypatch.undo()
    results = run_dir / "results" / "train.json"  # as if the run had trained further
    results.write_text(json.dumps({**json.loads(results.read_text()), "global_step": 999}))
    viz.gallery_images(run_dir, data=TinySquares(), **GALLERY)
    assert all(_mtimes(paths)[key] > before[key] for key in paths)
    stamp = json.loads((run_dir / "viz" / "gallery" / "stamp.json").read_text())
    assert stamp["global_step"] == 999

    viz.gallery_images(run_dir, data=TinySquares(), num_values=5, **GALLERY)
    assert Image.open(paths["traversal"]).size == (5 * 66 + 2, 3 * 66 + 2)


def test_gallery_options_are_checked(run_dir):
    with pytest.raises(ValueError, match="unknown gallery option.s. frames; valid: seed, "):
        viz.gallery_images(run_dir, frames=3)


def test_gallery_for_table_says_why_a_run_has_no_pictures(run_dir, tmp_path, monkeypatch,
                                                          capsys):
    import dislab.data

    built = []
    monkeypatch.setattr(dislab.data, "get",
                        lambda name, source, root: built.append(name) or TinySquares())
    twin = shutil.copytree(run_dir, tmp_path / "twin")
    no_checkpoint = tmp_path / "no_checkpoint"
    no_checkpoint.mkdir()
    no_config = tmp_path / "no_config"
    no_config.mkdir()
    (no_config / "checkpoint.pt").write_bytes(b"")
    empty_checkpoint = shutil.copytree(run_dir, tmp_path / "empty_checkpoint")
    (empty_checkpoint / "checkpoint.pt").write_bytes(b"")
    (empty_checkpoint / "results" / "train.json").unlink()  # unfinished: the checkpoint counts
    runs = [  # (state, run_dir, origin)
        ("done", str(run_dir), "dislab"),
        ("done", str(twin), "dislab"),
        ("failed", str(run_dir), "dislab"),
        ("pending", None, "dislab"),
        ("done", str(no_checkpoint), "dislab"),
        ("done", str(no_config), "dislab"),
        ("done", None, "external"),
        ("done", str(empty_checkpoint), "dislab"),
    ]
    table = pd.DataFrame({"model_num": range(len(runs)), "dataset": "tiny_squares",
                          "model": "beta_vae", "beta": 1.0, "seed": 0,
                          "state": [r[0] for r in runs], "run_dir": [r[1] for r in runs],
                          "origin": [r[2] for r in runs]})
    frame = viz.gallery_for_table(table, **GALLERY)
    assert list(frame["missing"]) == [
        "", "", "failed run", "no run directory recorded",
        f"checkpoint.pt missing in {no_checkpoint}", "config.json missing",
        "not trained by dislab (representation function)",
        f"{empty_checkpoint / 'checkpoint.pt'}: the checkpoint is empty; delete it to restart "
        "the run from scratch, or restore it from a backup (it is never loaded with "
        "weights_only=False)"]
    assert list(frame.columns) == ["model_num", "dataset", "model", "beta", "seed", "origin",
                                   *viz.GALLERY_FILES, "missing"]
    assert frame.loc[1, "kl"] == str(twin / "viz" / "gallery" / "kl.png")
    assert (frame.loc[2:, list(viz.GALLERY_FILES)] == "").all().all()
    assert built == ["tiny_squares"]  # one dataset for both runs
    assert "gallery: 100%" in capsys.readouterr().err


def test_cli_viz_gallery(run_dir, monkeypatch, capsys):
    import dislab.data

    monkeypatch.setattr(dislab.data, "get", lambda name, source, root: TinySquares())
    assert main(["viz", str(run_dir), "--gallery"]) == 0
    assert capsys.readouterr().out == f"gallery pictures in {run_dir / 'viz' / 'gallery'}\n"
    assert sorted(p.name for p in (run_dir / "viz" / "gallery").iterdir()) == sorted(
        [*viz.GALLERY_FILES.values(), "stamp.json"])
    assert main(["viz", str(run_dir), "--gallery", "--out", "elsewhere"]) == 1
    assert "--out does not apply to --gallery" in capsys.readouterr().err
