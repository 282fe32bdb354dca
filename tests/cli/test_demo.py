import pytest
from PIL import Image

from dislab.cli import main
from dislab.cli.demo import write_previews


def test_previews_cover_every_dataset_with_a_generator(tmp_path, monkeypatch):
    from dislab import data

    monkeypatch.setattr(data, "names", lambda: ["dsprites_full", "mpi3d_toy"])
    folder = write_previews(tmp_path / "previews", seed=0)
    assert sorted(p.name for p in folder.iterdir()) == ["dsprites_full.png"]
    assert Image.open(folder / "dsprites_full.png").size[0] > 500


@pytest.mark.slow
def test_demo_runs_a_study_and_writes_its_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--study", "tiny"]) == 0
    out = capsys.readouterr().out
    index = tmp_path / "tiny" / "report" / "index.html"
    assert index.is_file() and str(index.resolve()) in out
    assert "6 done" in out
    assert "pca_baseline on dsprites_full: scored" in out
    assert "gallery of 7 run(s): " in out  # the 6 trained runs and the baseline
    text = index.read_text()
    assert "<h2 id='gallery'>Gallery of the trained models</h2>" in text
    assert "<h2 id='placement'>" in text and "pca_baseline" in text
    # a second demo reuses everything: nothing trained or scored again
    assert main(["demo", "--out", str(tmp_path), "--study", "tiny"]) == 0
    assert "scored" not in capsys.readouterr().out
    assert (tmp_path / "tiny" / "report" / "gallery" / "0" / "traversal_thumb.png").is_file()
