"""The HTML report: every figure and table is written and linked; it renders without a
server (headless Chromium where installed, HTML parsing everywhere)."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dislab.analysis import report
from dislab.analysis.report import SECTIONS, write_report
from dislab.cli import main
from tests.analysis.synthetic import planted_table

CHROMIUM = Path("/usr/bin/chromium")
FAST = {"num_resamples": 50}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.tables, self.ids = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        elif tag == "table":
            self.tables += 1
        if "id" in attrs:
            self.ids.append(attrs["id"])


def _parse(index: Path) -> _Links:
    parser = _Links()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_report(planted_table(), out, title="planted", **FAST)


def test_every_section_has_its_figure_table_and_csv(full_report):
    parsed = _parse(full_report)
    out = full_report.parent
    assert parsed.ids == [s.key for s in SECTIONS]
    assert sorted(parsed.images) == sorted(f"figures/{s.key}.png" for s in SECTIONS)
    assert parsed.tables == len(SECTIONS) + 1  # + the study summary
    for target in parsed.images + parsed.links:
        assert not target.startswith(("/", "http")), target  # relative: no server needed
        assert (out / target).is_file(), target
        assert (out / target).stat().st_size > 0
    assert {f"tables/{s.key}.csv" for s in SECTIONS} <= set(parsed.links)
    for path in (out / "figures").iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_states_the_papers_finding_and_a_verdict(full_report):
    text = full_report.read_text(encoding="utf-8")
    assert text.count("<b>Paper:</b>") == len(SECTIONS)
    assert text.count("This study: ") == len(SECTIONS)
    # planted: MIG and DCI correlate by construction, so the study agrees with the paper
    assert "This study: Agrees.</b> median rho BetaVAE-FactorVAE" in text
    # planted: the same hyperparameter wins on both datasets, so the study disagrees
    assert "This study: Disagrees.</b> the best strength is the same" in text


def test_a_one_seed_study_says_not_enough_data_instead_of_failing(tmp_path):
    table = planted_table(seeds=1, datasets=("alpha",))
    index = write_report(table, tmp_path, **FAST)
    text = index.read_text(encoding="utf-8")
    assert "Not enough data:</b> the study has a single seed" in text
    assert "Not enough data:</b> factor_vae on alpha has one seed per strength" in text
    for target in _parse(index).images + _parse(index).links:
        assert (tmp_path / target).is_file()


def test_failures_are_listed(tmp_path):
    table = planted_table(seeds=1, datasets=("alpha",))
    table.loc[0, ["state", "failure"]] = ["failed", "non-finite loss at global step 7"]
    text = write_report(table, tmp_path, **FAST).read_text(encoding="utf-8")
    assert "<h3>Failures</h3>" in text and "non-finite loss at global step 7" in text
    summary = report.summary(table)
    assert summary.loc[summary["state"] == "failed", "runs"].sum() == 1


def test_cli_writes_the_report_of_a_stored_study(tmp_path, capsys, monkeypatch):
    small = planted_table(seeds=1, datasets=("alpha",))
    monkeypatch.setattr("dislab.study.load", lambda directory: small)
    assert main(["report", str(tmp_path / "study"), "--out", str(tmp_path / "r"),
                 "--resamples", "50"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r" / "index.html")
    assert (tmp_path / "r" / "index.html").is_file()


def test_cli_on_a_missing_study_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 1
    assert "not a dislab study directory" in capsys.readouterr().err


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian chromium)")
def test_report_renders_in_headless_chromium(full_report):
    # a page beside the report loads it in an iframe and lists the images that failed
    checker = full_report.parent / "check.html"
    checker.write_text(
        "<html><body><iframe id='f' src='index.html'></iframe><pre id='out'>pending</pre>"
        "<script>document.getElementById('f').onload = function () {"
        " var doc = this.contentDocument; var bad = [];"
        " for (const img of doc.images) { if (!img.complete || img.naturalWidth === 0)"
        "   bad.push(img.getAttribute('src')); }"
        " document.getElementById('out').textContent = 'images=' + doc.images.length +"
        "   ' tables=' + doc.querySelectorAll('table').length + ' broken=' + bad.join(',');"
        "};</script></body></html>")
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
         checker.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r"images=(\d+) tables=(\d+) broken=([^<]*)</pre>", dom)
    assert found, dom[-2000:]
    assert found.groups() == (str(len(SECTIONS)), str(len(SECTIONS) + 1), "")


def test_extra_sections_are_written_with_their_text_and_csv(tmp_path):
    extra = {"Control: entangled": ("rotations keep the ELBO", pd.DataFrame({"MIG": [0.5]}))}
    index = write_report(planted_table(seeds=1, datasets=("alpha",)), tmp_path, extra=extra,
                         **FAST)
    text = index.read_text(encoding="utf-8")
    assert "<h2>Control: entangled</h2><p>rotations keep the ELBO</p>" in text
    assert "tables/control__entangled.csv" in _parse(index).links
    assert (tmp_path / "tables" / "control__entangled.csv").read_text() == "MIG\n0.5\n"
