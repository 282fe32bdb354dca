"""The report's gallery: grouping by dataset / model / hyperparameter / seed, thumbnails that
link to the full-size pictures (copied under ``out/gallery``), runs without pictures."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dislab.analysis.gallery import PICTURE_COLUMNS, TITLE, gallery_html


def _pictures(folder: Path, tag: str) -> dict[str, str]:
    """Planted picture files whose bytes name the run and the picture."""
    folder.mkdir(parents=True)
    paths = {}
    for key in PICTURE_COLUMNS:
        path = folder / (f"{key.removesuffix('_gif')}.gif" if key.endswith("_gif")
                         else f"{key}.png")
        path.write_bytes(f"{tag}:{key}".encode())
        paths[key] = str(path)
    return paths


def _run(tmp_path, model_num, dataset, model, seed, missing="", origin="dislab", **swept):
    pictures = (dict.fromkeys(PICTURE_COLUMNS, "") if missing
                else _pictures(tmp_path / "runs" / f"{model_num}-{dataset}", f"run{model_num}"))
    return {"model_num": model_num, "dataset": dataset, "model": model,
            "beta": swept.get("beta"), "gamma": swept.get("gamma"), "seed": seed,
            "origin": origin, **pictures, "missing": missing}


@pytest.fixture
def frame(tmp_path) -> pd.DataFrame:
    rows = [
        _run(tmp_path, 0, "dsprites", "beta_vae", 0, beta=10.0),  # 10 after 4: numeric order
        _run(tmp_path, 1, "dsprites", "beta_vae", 1, beta=4.0),
        _run(tmp_path, 2, "dsprites", "beta_vae", 0, beta=4.0),
        _run(tmp_path, 3, "dsprites", "factor_vae", 0, missing="failed run", gamma=30.0),
        _run(tmp_path, 4, "cars3d", "beta_vae", 0, origin="external", beta=4.0),
    ]
    return pd.DataFrame(rows)


class _Page(HTMLParser):
    """Headings in order, and each image with the link around it."""

    def __init__(self):
        super().__init__()
        self.headings, self.images, self.links, self._heading, self._href = [], [], [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h2", "h3", "h4"):
            self._heading = tag
        elif tag == "a":
            self._href = attrs["href"]
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append((attrs["src"], self._href))

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None
        elif tag == self._heading:
            self._heading = None

    def handle_data(self, data):
        if self._heading:
            self.headings.append((self._heading, data))


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_groups_by_dataset_then_model(frame, tmp_path):
    page = _parse(gallery_html(frame, tmp_path / "report"))
    assert page.headings == [("h2", TITLE), ("h3", "cars3d"), ("h4", "beta_vae"),
                             ("h3", "dsprites"), ("h4", "beta_vae"), ("h4", "factor_vae")]


def test_one_row_per_hyperparameter_value_one_column_per_seed(frame, tmp_path):
    text = gallery_html(frame, tmp_path / "report")
    dsprites_beta = text.split("<h4>beta_vae</h4>")[2].split("<h4>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", dsprites_beta)
    assert rows[0] == "<th>hyperparameters</th><th>seed 0</th><th>seed 1</th>"
    cells = [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in rows[1:]]
    assert [row[0] for row in cells] == ["beta=4", "beta=10"]
    runs = [[re.findall(r"<div class='run'>run (\d+)", cell) for cell in row[1:]] for row in cells]
    assert runs == [[["2"], ["1"]], [["0"], []]]  # (beta=10, seed 1) was not trained


def test_thumbnails_link_to_the_full_size_copies(frame, tmp_path):
    out = tmp_path / "report"
    page = _parse(gallery_html(frame, out))
    shown = {0, 1, 2, 4}
    assert len(page.images) == 3 * len(shown)
    for src, href in page.images:
        assert re.fullmatch(r"gallery/\d+/(reconstructions|traversal|kl)_thumb\.png", src)
        assert href == src.replace("_thumb", "")
    assert sorted(link for link in page.links if link.endswith(".gif")) == [
        f"gallery/{n}/traversal.gif" for n in sorted(shown)]
    for n in shown:  # byte-for-byte copies of the run's pictures, under out/gallery/<model_num>
        for key in PICTURE_COLUMNS:
            source = Path(frame.loc[n, key])
            assert (out / "gallery" / str(n) / source.name).read_bytes() == source.read_bytes()
    assert not (out / "gallery" / "3").exists()
    for target in [*page.links, *(src for src, _ in page.images)]:
        assert not target.startswith(("/", "file:")) and (out / target).is_file()


def test_missing_and_external_runs_are_labelled(frame, tmp_path):
    text = gallery_html(frame, tmp_path / "report")
    assert "run 3<p class='missing'>failed run</p>" in text
    assert "run 4 <span class='external'>external</span><a href='gallery/4/" in text
    assert text.count("external</span>") == 1


def test_a_picture_file_gone_since_is_shown_as_missing(frame, tmp_path):
    lost = Path(frame.loc[2, "kl_thumb"])
    lost.unlink()
    text = gallery_html(frame, tmp_path / "report")
    assert f"run 2<p class='missing'>picture file(s) not found: {lost}</p>" in text


def test_runs_with_the_same_number_get_their_own_folders(frame, tmp_path):
    twin = _run(tmp_path / "other", 0, "dsprites", "beta_vae", 3, beta=4.0)  # another study's
    Path(twin["kl"]).write_bytes(b"twin:kl")
    out = tmp_path / "report"
    text = gallery_html(pd.concat([frame, pd.DataFrame([twin])], ignore_index=True), out)
    assert (out / "gallery" / "0" / "kl.png").read_bytes() == b"run0:kl"
    assert (out / "gallery" / "0_2" / "kl.png").read_bytes() == b"twin:kl"
    assert "href='gallery/0_2/kl.png'" in text


def test_no_run_at_all_says_so_in_one_line(frame, tmp_path):
    text = gallery_html(frame.iloc[:0], tmp_path / "report")
    assert text == f"<h2 id='gallery'>{TITLE}</h2><p>The study has no runs: there is nothing " \
                   "to show.</p>"


def test_a_frame_without_the_picture_columns_is_refused(frame, tmp_path):
    with pytest.raises(ValueError, match=r"not a gallery frame: column\(s\) kl, kl_thumb "
                                         r"missing \(expected the frame of dislab\.viz"):
        gallery_html(frame.drop(columns=["kl", "kl_thumb"]), tmp_path)
