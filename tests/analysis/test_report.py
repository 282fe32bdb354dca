"""The HTML report: every figure and table is written and linked; it renders without a
server (headless Chromium where installed, HTML parsing everywhere)."""

from __future__ import annotations

import html
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
        elif tag == "a" and "href" in attrs and not attrs["href"].startswith("#"):
            self.links.append(attrs["href"])  # files (anchors within the page left out)
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
    assert parsed.ids == ["runs"] + [s.key for s in SECTIONS]
    assert sorted(parsed.images) == sorted(f"figures/{s.key}.png" for s in SECTIONS)
    assert parsed.tables == len(SECTIONS) + 2  # + the findings and the runs
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
    assert text.count("<b>How this is decided:</b>") == len(SECTIONS)
    # planted: MIG and DCI correlate by construction, so the study agrees with the paper
    assert ("This study: Agrees.</b> mean Spearman rho of BetaVAE-FactorVAE and MIG-DCI over "
            "(dataset, pair) = ") in text
    # planted: the same hyperparameter wins on both datasets, so the study disagrees
    assert "This study: Disagrees.</b> share of (model, metric) whose best strength" in text


def test_the_front_page_lists_every_finding_before_the_sections(full_report):
    text = full_report.read_text(encoding="utf-8")
    front = text[:text.index("<h2 id='runs'>")]
    assert "<h2>Findings</h2>" in front and "training steps" in front
    for section in SECTIONS:
        assert f"href='#{section.key}'" in front
    assert "too small to decide" not in front  # the planted study decides findings


def test_findings_are_the_verdicts_the_report_shows(full_report):
    found = report.findings(planted_table(), **FAST)
    assert list(found["key"]) == [s.key for s in SECTIONS]
    assert list(found.columns) == ["key", "title", "claim", "verdict", "statistic", "value",
                                   "low", "high", "threshold", "paper_side", "n", "note",
                                   "rule"]
    text = full_report.read_text(encoding="utf-8")
    for row in found.itertuples():
        assert f"This study: {row.verdict}.</b> {html.escape(row.statistic)} = " in text
        assert html.escape(row.rule) in text
    written = pd.read_csv(full_report.parent / "tables" / "findings.csv")
    assert list(written["verdict"]) == list(found["verdict"])


def test_a_one_seed_study_says_not_enough_data_instead_of_failing(tmp_path):
    table = planted_table(seeds=1, datasets=("alpha",))
    index = write_report(table, tmp_path, **FAST)
    text = index.read_text(encoding="utf-8")
    # the section still has its verdict: Undecided, noting the analysis' message
    for message in ("the study has a single seed",
                    "factor_vae on alpha has one seed per strength"):
        assert re.search(f"This study: Undecided.</b> [^<]*; not enough data: {message}", text)
    assert text.count("This study: ") == len(SECTIONS)
    assert text.count("<b>How this is decided:</b>") == len(SECTIONS)
    for target in _parse(index).images + _parse(index).links:
        assert (tmp_path / target).is_file()


def test_failures_are_listed(tmp_path):
    table = planted_table(seeds=1, datasets=("alpha",))
    table.loc[0, ["state", "failure"]] = ["failed", "non-finite loss at global step 7"]
    text = write_report(table, tmp_path, **FAST).read_text(encoding="utf-8")
    assert "<h3>Failures</h3>" in text and "non-finite loss at global step 7" in text
    summary = report.summary(table)
    assert summary.loc[summary["state"] == "failed", "runs"].sum() == 1


def _section_texts(text: str) -> dict[str, str]:
    """Each analysis section's HTML, by key."""
    keys = [s.key for s in SECTIONS]
    starts = [text.index(f"<h2 id='{key}'>") for key in keys] + [len(text)]
    return {key: text[start:end] for key, start, end in zip(keys, starts, starts[1:])}


def test_a_store_of_failed_runs_only_says_what_is_missing(tmp_path):
    table = planted_table(seeds=1, datasets=("alpha",)).assign(
        state="failed", failure="worker lost")
    text = write_report(table, tmp_path, **FAST).read_text(encoding="utf-8")
    assert "0 done" not in text and f"{len(table)} failed" in text
    assert "unknown (no finished run recorded its step)" in text
    for key, section in _section_texts(text).items():
        assert "This study: Undecided." in section, key
        assert "not enough data: " in section or "no run has" in section, key
    assert "<h3>Failures</h3>" in text and "worker lost" in text


def test_a_single_run_gets_every_section_with_its_reason(tmp_path):
    table = planted_table(seeds=1, datasets=("alpha",)).iloc[:1]
    text = write_report(table, tmp_path, **FAST).read_text(encoding="utf-8")
    sections = _section_texts(text)
    assert len(sections) == len(SECTIONS)
    assert all("This study: Undecided." in section for section in sections.values())
    assert "too small to decide any of the paper's findings" in text
    assert "a rank correlation needs at least 3 runs of a dataset" in sections["metric_agreement"]


def test_cli_writes_the_report_of_a_stored_study(tmp_path, capsys, monkeypatch):
    small = planted_table(seeds=1, datasets=("alpha",))
    monkeypatch.setattr("dislab.study.load", lambda directory: small)
    assert main(["report", str(tmp_path / "study"), "--out", str(tmp_path / "r"),
                 "--resamples", "50"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r" / "index.html")
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    # one seed, one dataset: too small, and the banner names the bigger study with its cost
    # (tests/conftest.py's FAKE_ESTIMATE: 144 runs x (1 h + 0.1 h))
    assert "too small to decide" in page and "<code>findings</code> (144 runs: a fake plan)" \
        in page and "6.6 days of CPU time on this machine (test CPU" in page


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


def test_the_gallery_comes_after_the_analyses(tmp_path):
    from dislab.analysis.gallery import PICTURE_COLUMNS

    table = planted_table(seeds=1, datasets=("alpha",))
    pictures = {}
    for key in PICTURE_COLUMNS:
        pictures[key] = tmp_path / "run0" / f"{key}.png"
        pictures[key].parent.mkdir(exist_ok=True)
        pictures[key].write_bytes(key.encode())
    gallery = table[["model_num", "dataset", "model", "beta", "gamma", "seed"]].iloc[:2].assign(
        origin="dislab", missing=["", "failed run"],
        **{key: [str(path), ""] for key, path in pictures.items()})
    index = write_report(table, tmp_path / "report", gallery=gallery, **FAST)
    parsed = _parse(index)
    assert parsed.ids[-1] == "gallery" and {s.key for s in SECTIONS} <= set(parsed.ids)
    shown = [t for t in parsed.images + parsed.links if t.startswith("gallery/")]
    assert sorted(shown) == sorted(f"gallery/0/{key}.png" for key in PICTURE_COLUMNS)
    for target in shown:
        assert (index.parent / target).is_file(), target
    assert "run 1<p class='missing'>failed run</p>" in index.read_text(encoding="utf-8")


def test_cli_report_draws_the_gallery_unless_told_not_to(tmp_path, monkeypatch):
    small = planted_table(seeds=1, datasets=("alpha",))
    monkeypatch.setattr("dislab.study.load", lambda directory: small)
    for flags, shown in (([], True), (["--no-gallery"], False)):
        out = tmp_path / f"r{len(flags)}"
        assert main(["report", str(tmp_path / "study"), "--out", str(out),
                     "--resamples", "50", *flags]) == 0
        text = (out / "index.html").read_text(encoding="utf-8")
        assert ("<h2 id='gallery'>Gallery of the trained models</h2>" in text) == shown
        assert ("no run directory recorded" in text) == shown  # planted runs have no run_dir
