"""The weakly-supervised findings (dislab.analysis.weak) on planted tables: interval-based
verdicts, small samples left undecided, and the report's weak sections only when the table
has weakly-supervised runs."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dislab.analysis import NotEnoughData, weak
from dislab.analysis.columns import METRICS, combine, swept_columns
from dislab.analysis.report import SECTIONS, WEAK_SECTIONS, write_report
from dislab.analysis.verdicts import AGREES, DISAGREES, UNDECIDED
from tests.analysis.synthetic import planted_table

FAST = {"num_resamples": 200}
WEAK = ("ada_gvae", "ada_ml_vae")


def weak_table(n_weak: int, n_unsupervised: int, *, effect: float = 0.0,
               elbo_effect: float = 0.0, datasets=("alpha", "beta"),
               seed: int = 0) -> pd.DataFrame:
    """A study table with ``n_weak`` weakly-supervised runs (Ada-GVAE and Ada-ML-VAE in
    turn, beta 1 or 4, k 1) and ``n_unsupervised`` beta-VAE runs per dataset. Planted: each
    run has a latent quality ``q ~ N(0, 1)``; every metric is ``0.5 + 0.1 q`` plus noise, plus
    ``effect`` for the weak runs; the ELBO of a weak run is ``elbo_effect * q`` plus noise, of
    an unsupervised run independent noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset in datasets:
        for i in range(n_weak + n_unsupervised):
            is_weak = i < n_weak
            q = rng.standard_normal()
            row = {"model_num": len(rows), "dataset": dataset,
                   "model": WEAK[i % 2] if is_weak else "beta_vae",
                   "beta": (1.0, 4.0)[(i // 2) % 2], "k": 1 if is_weak else np.nan,
                   "seed": i, "state": "done",
                   "train.elbo": (elbo_effect * q if is_weak else 0.0)
                   + 0.1 * rng.standard_normal(),
                   "train.reconstruction_loss": rng.random(), "train.kl_loss": rng.random()}
            for column in METRICS.values():
                row[column] = (0.5 + 0.1 * q + 0.02 * rng.standard_normal()
                               + (effect if is_weak else 0.0))
            rows.append(row)
    return pd.DataFrame(rows)


# -- finding 1: weak vs unsupervised -----------------------------------------------------------


def test_a_planted_gain_agrees_in_every_cell():
    table = weak_table(40, 40, effect=0.3)
    result = weak.weak_vs_unsupervised(table, **FAST)
    assert len(result) == 2 * len(METRICS)
    assert (result["verdict"] == AGREES).all()
    assert ((result["low"] > 0) & (result["difference"] > 0.2)).all()
    assert (result[["n_weak", "n_unsupervised"]] == 40).all().all()
    verdict = weak.more_disentangled_verdict(table, **FAST)
    assert (verdict.word, verdict.value, verdict.threshold, verdict.paper_side) == (
        AGREES, 1.0, 0.5, ">")
    assert verdict.n == 2 * 80  # the weak and unsupervised runs of both datasets
    assert "of 12 counted (dataset, metric) cells: 12 agree, 0 disagree" in verdict.note


def test_a_planted_loss_disagrees():
    table = weak_table(40, 40, effect=-0.3)
    result = weak.weak_vs_unsupervised(table, **FAST)
    assert (result["verdict"] == DISAGREES).all()
    verdict = weak.more_disentangled_verdict(table, **FAST)
    assert (verdict.word, verdict.value) == (DISAGREES, 0.0)


def test_few_runs_are_undecided_however_clear_they_look():
    # 3 vs 3 runs, every weak run far above every unsupervised one: the bootstrap interval
    # excludes 0, but the cell has too few runs to count
    table = weak_table(3, 3, effect=1.0)
    result = weak.weak_vs_unsupervised(table, **FAST)
    assert (result["low"] > 0).all()
    assert (result["verdict"] == weak.TOO_FEW).all()
    verdict = weak.more_disentangled_verdict(table, **FAST)
    assert verdict.word == UNDECIDED and verdict.n == 0 and np.isnan(verdict.value)
    assert "no (dataset, metric) cell has enough runs" in verdict.note


def test_no_effect_is_undecided():
    table = weak_table(40, 40, effect=0.0)
    assert weak.more_disentangled_verdict(table, **FAST).word == UNDECIDED


def test_the_difference_interval_is_seeded():
    table = weak_table(10, 10, effect=0.05)
    first = weak.weak_vs_unsupervised(table, seed=3, **FAST)
    pd.testing.assert_frame_equal(first, weak.weak_vs_unsupervised(table, seed=3, **FAST))
    assert not first[["low", "high"]].equals(
        weak.weak_vs_unsupervised(table, seed=4, **FAST)[["low", "high"]])


def test_median_difference_of_known_samples():
    stats = weak.median_difference([3.0, 4.0, 5.0, np.nan], [1.0, 2.0], num_resamples=100)
    assert stats["difference"] == pytest.approx(2.5)
    assert 1.0 <= stats["low"] <= stats["high"] <= 4.0
    assert np.isnan(weak.median_difference([], [1.0])["difference"])


def test_overall_rule_and_its_record():
    def overall(*cells):
        frame = pd.DataFrame({"dataset": ["a"] * len(cells), "verdict": list(cells),
                              "n": range(10, 10 + len(cells))})
        return weak.aggregate(frame, "statistic", ["n"])

    assert overall("Agrees", "Agrees", "Undecided", "too few runs").word == AGREES
    assert overall("Agrees", "Undecided", "Undecided").word == UNDECIDED  # not a majority
    assert overall("Agrees", "Agrees", "Agrees", "Disagrees").word == UNDECIDED  # both sides
    assert overall("Disagrees", "Disagrees", "Undecided").word == DISAGREES
    assert overall("too few runs").word == UNDECIDED
    verdict = overall("Agrees", "Agrees", "Undecided", "too few runs")
    assert verdict.value == pytest.approx(2 / 3)  # share of the counted cells that Agree
    assert np.isnan(verdict.low) and np.isnan(verdict.high)
    assert verdict.n == 12  # the largest counted cell of the dataset (the uncounted has 13)
    assert "1 cell(s) with too few runs not counted" in verdict.note


# -- finding 2: the ELBO selects disentangled models -------------------------------------------


def test_elbo_tracking_the_metrics_agrees():
    result = weak.elbo_selection(weak_table(40, 40, elbo_effect=1.0), **FAST)
    assert len(result) == 2 * len(METRICS)
    assert (result["verdict"] == AGREES).all()
    assert (result["rho_weak"] > 0.8).all()
    # the unsupervised ELBO is planted as noise: its rho is shown, near 0
    assert (result["rho_unsupervised"].abs() < 0.5).all()
    assert (result["n_unsupervised"] == 40).all()
    verdict = weak.elbo_selection_verdict(weak_table(40, 40, elbo_effect=1.0), **FAST)
    assert (verdict.word, verdict.value, verdict.n) == (AGREES, 1.0, 80)  # 40 weak runs x 2


def test_elbo_against_the_metrics_disagrees():
    table = weak_table(40, 40, elbo_effect=-1.0)
    result = weak.elbo_selection(table, **FAST)
    assert (result["verdict"] == DISAGREES).all()
    assert weak.elbo_selection_verdict(table, **FAST).word == DISAGREES


def test_elbo_selection_with_few_weak_runs_is_undecided():
    table = weak_table(4, 40, elbo_effect=1.0)
    result = weak.elbo_selection(table, **FAST)
    assert (result["n_weak"] == 4).all()
    assert (result["verdict"] == weak.TOO_FEW).all()
    assert weak.elbo_selection_verdict(table, **FAST).word == UNDECIDED


def test_a_verdict_without_the_runs_it_needs_is_undecided_with_the_reason():
    verdict = weak.more_disentangled_verdict(weak_table(10, 0, effect=0.3), **FAST)
    assert verdict.word == UNDECIDED and verdict.n == 0
    assert "no finished unsupervised run" in verdict.note


def test_both_kinds_of_runs_are_required():
    with pytest.raises(NotEnoughData, match="weakly-supervised"):
        weak.weak_vs_unsupervised(planted_table(seeds=2), **FAST)
    only_weak = weak_table(10, 0, effect=0.3)
    with pytest.raises(NotEnoughData, match="unsupervised"):
        weak.elbo_selection(only_weak, **FAST)


def test_unfinished_runs_are_left_out():
    table = weak_table(40, 40, effect=0.3)
    table.loc[table["model"] == "beta_vae", "state"] = "failed"
    with pytest.raises(NotEnoughData, match="unsupervised"):
        weak.weak_vs_unsupervised(table, **FAST)


# -- tables from two studies -------------------------------------------------------------------


def test_combine_keeps_every_hyperparameter_column_before_seed():
    table = weak_table(4, 0)
    unsupervised = planted_table(seeds=2)
    combined = combine([unsupervised, table[~table["model"].eq("beta_vae")]])
    assert swept_columns(combined) == ["beta", "gamma", "k"]
    assert len(combined) == len(unsupervised) + 8
    assert weak.has_weak_runs(combined) and not weak.has_weak_runs(unsupervised)
    assert "k" not in weak.unsupervised_only(combined).columns


# -- the report --------------------------------------------------------------------------------


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])


def _ids(index):
    parser = _Ids()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser


def test_a_report_without_weak_runs_has_no_weak_section(tmp_path):
    index = write_report(planted_table(seeds=3), tmp_path, num_resamples=50)
    parsed = _ids(index)
    assert parsed.ids == ["runs"] + [s.key for s in SECTIONS]
    text = index.read_text(encoding="utf-8")
    assert "W1." not in text and "weakly-supervised" not in text


def test_a_report_with_weak_runs_renders_both_weak_sections(tmp_path):
    table = weak_table(20, 20, effect=0.3, elbo_effect=1.0)
    index = write_report(table, tmp_path, num_resamples=50)
    parsed = _ids(index)
    assert parsed.ids == ["runs"] + [s.key for s in SECTIONS] + [s.key for s in WEAK_SECTIONS]
    for section in WEAK_SECTIONS:
        assert f"figures/{section.key}.png" in parsed.images
        assert (tmp_path / "figures" / f"{section.key}.png").read_bytes()[:4] == b"\x89PNG"
        csv = pd.read_csv(tmp_path / "tables" / f"{section.key}.csv")
        assert {"dataset", "metric", "n_weak", "verdict"} <= set(csv.columns)
    text = index.read_text(encoding="utf-8")
    assert text.count("<b>How this is decided:</b>") == len(SECTIONS) + len(WEAK_SECTIONS)
    assert "Sections 1-7 use the 40 unsupervised run(s) only" in text
    assert text.count("This study: Agrees.</b> share of counted (dataset, metric) cells that "
                      "Agree") == 2
    # each weak verdict: in its section and on the front page
    assert text.count("of 12 counted (dataset, metric) cells: 12 agree") == 4


def test_a_report_of_weak_runs_alone_does_not_fail(tmp_path):
    index = write_report(weak_table(6, 0, effect=0.3), tmp_path, num_resamples=50)
    text = index.read_text(encoding="utf-8")
    assert "W1." in text and "no finished unsupervised run" in text


def test_cli_reports_two_studies_as_one_table(tmp_path, capsys, monkeypatch):
    from dislab.cli import main

    full = weak_table(20, 20, effect=0.3, elbo_effect=1.0)
    tables = {"weak": full[full["model"] != "beta_vae"].reset_index(drop=True),
              "base": planted_table(seeds=3)}
    monkeypatch.setattr("dislab.study.load", lambda directory: tables[Path(directory).name])
    assert main(["report", str(tmp_path / "weak"), str(tmp_path / "base"), "--resamples",
                 "50"]) == 0
    index = tmp_path / "weak" / "report" / "index.html"
    assert capsys.readouterr().out.strip() == str(index)
    text = index.read_text(encoding="utf-8")
    assert "dislab report: weak + base" in text
    ids = [i for i in _ids(index).ids if i != "gallery"]
    assert ids[-2:] == [s.key for s in WEAK_SECTIONS]
    assert "of 12 counted (dataset, metric) cells: 12 agree" in text
