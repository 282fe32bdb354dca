import pytest
from PIL import Image

from dislab.cli import main
from dislab.data import DatasetInfo, registry
from tests.tiny_data import Bars


@pytest.fixture
def bars(monkeypatch):
    entry = DatasetInfo("test_bars", "bars", ("bars/bars.npy",), None, Bars)
    monkeypatch.setitem(registry._REGISTRY, "test_bars", entry)
    return entry


def test_data_list_prints_every_dataset(capsys, bars):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "test_bars" in out and "row 3, level 4" in out and "missing" in out


def test_data_show_writes_png(tmp_path, capsys, bars):
    out = tmp_path / "bars.png"
    assert main(["data", "show", "test_bars", "--out", str(out), "--columns", "4"]) == 0
    assert Image.open(out).size[0] > 100
    assert "procedural" in capsys.readouterr().out


def test_unknown_dataset_is_a_clear_error(capsys):
    assert main(["data", "show", "nope", "--out", "x.png"]) == 1
    assert "valid names" in capsys.readouterr().err


def test_official_source_missing_names_path_and_download(capsys, bars):
    assert main(["data", "show", "test_bars", "--source", "official", "--out", "x.png"]) == 1
    err = capsys.readouterr().err
    assert "bars/bars.npy" in err and "dislab data download test_bars" in err
