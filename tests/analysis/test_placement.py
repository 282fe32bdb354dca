"""External runs (``dislab study add``): placed among the study's runs by percentile, left out
of every statistic, marked with a red star on every figure of the analyses and in the report."""

from __future__ import annotations

import html
from functools import partial
from inspect import signature

import numpy as np
import pandas as pd
import pytest

from dislab.analysis import scores
from dislab.analysis.columns import METRICS, TC_SAMPLED, NotEnoughData, external_runs
from dislab.analysis.correlation import metric_agreement
from dislab.analysis.placement import percentile, placement
from dislab.analysis.report import PLACEMENT_TITLE, write_report
from tests.analysis.synthetic import planted_table

FAST = {"num_resamples": 50}
MIG = METRICS["MIG"]


def _with_externals(table: pd.DataFrame, *externals: dict) -> pd.DataFrame:
    """``table`` (origin dislab) with external runs appended: each a copy of the table's first
    row with the given changes, origin external and model numbers -1, -2, ..."""
    rows = [table.iloc[0].to_dict() | {"model_num": -1 - i, "origin": "external",
                                       "state": "done", "run_dir": None} | changes
            for i, changes in enumerate(externals)]
    return pd.concat([table.assign(origin="dislab", run_dir="runs"), pd.DataFrame(rows)],
                     ignore_index=True)


def _study(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"model_num": range(len(values)), "dataset": "d", "model": "beta_vae",
                         "beta": 1.0, "seed": range(len(values)), "state": "done", MIG: values})


def test_percentile_is_the_mid_rank_share():
    values = [0.4, 0.2, 0.1, 0.3, 0.2]
    assert percentile(0.2, values) == 100 * (1 + 0.5 * 2) / 5 == 40.0
    assert percentile(0.5, values) == 100.0 and percentile(0.05, values) == 0.0
    assert percentile(0.25, values) == 60.0
    assert np.isnan(percentile(0.5, []))


def test_placement_of_planted_runs():
    table = _study([0.4, 0.2, 0.1, 0.3, 0.2])
    table = pd.concat([table, pd.DataFrame({  # neither counts: another dataset, unfinished
        "model_num": [5, 6], "dataset": ["e", "d"], "model": "beta_vae", "beta": 1.0,
        "seed": 0, "state": ["done", "running"], MIG: [0.9, 0.9]})], ignore_index=True)
    table = _with_externals(table, {"model": "mine", MIG: 0.2}, {"model": "top", MIG: 0.5},
                            {"model": "mine", MIG: 0.05, "dataset": "e"})
    result = placement(table)
    assert list(result["name"]) == ["mine (-1)", "top", "mine (-3)"]  # two share a model
    assert list(result["metric"]) == ["MIG"] * 3
    assert list(result["n"]) == [5, 5, 1] and list(result["percentile"]) == [40.0, 100.0, 0.0]
    first = result.iloc[0]
    assert first["median"] == pytest.approx(0.2)
    assert first["p5"] == pytest.approx(0.1 + 0.2 * 0.1)  # linear, at position 0.05 * 4
    assert first["p95"] == pytest.approx(0.3 + 0.8 * 0.1)  # at position 0.95 * 4


def test_placement_needs_an_external_run():
    with pytest.raises(NotEnoughData, match="no finished external run"):
        placement(_study([0.1, 0.2]))


def test_analyses_leave_an_absurd_external_run_out():
    table = planted_table()
    absurd = {column: 1e6 for column in table.columns if "." in column}
    mixed = _with_externals(table, absurd)
    pd.testing.assert_frame_equal(metric_agreement(mixed, **FAST),
                                  metric_agreement(table.assign(origin="dislab"), **FAST))
    pd.testing.assert_frame_equal(scores.metric_distributions(mixed),
                                  scores.metric_distributions(table))
    assert len(external_runs(mixed)) == 1 and external_runs(table).empty


def _stars(ax) -> dict[str, tuple[float, float]]:
    """Legend text -> position of each external run's star on ``ax``, every star checked to
    have its legend entry."""
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()] if legend else []
    found = {}
    for artist in ax.collections:
        if artist.get_label().startswith("external: "):
            assert artist.get_label() in texts
            (found[artist.get_label()],) = map(tuple, artist.get_offsets().tolist())
    return found


@pytest.fixture(scope="module")
def marked() -> pd.DataFrame:
    """The planted table with two external runs on dataset alpha: a beta_vae at beta 4 (the
    middle of its grid, 1-4-16) and a model the study lacks; their other scores are those of
    the table's first run."""
    return _with_externals(planted_table(), {"beta": 4.0, BETA_VAE: 9.0, FACTOR_VAE: 7.0},
                           {"model": "mine", "beta": np.nan})


BETA_VAE, FACTOR_VAE = METRICS["BetaVAE"], METRICS["FactorVAE"]


@pytest.mark.parametrize("analysis,column,x", [
    # the first panel of each figure (dataset alpha) and where each external run's star is:
    # grid positions: beta 4 at 1; a model the study lacks right of the longest grid, at 3
    (scores.hyperparameter_effect, BETA_VAE, (1.0, 3.0)),
    (scores.decorrelation, TC_SAMPLED, (1.0, 3.0)),
    (partial(scores.seed_variation, model="beta_vae"), FACTOR_VAE, (1.0, 3.0)),
    # models beta_vae, factor_vae: a model the study lacks right of them
    (scores.metric_distributions, BETA_VAE, (0.0, 2.0)),
    # each external run at a place of its own, right of the study's two models
    (placement, BETA_VAE, (2.0, 3.0)),
])
def test_every_figure_marks_the_external_runs(marked, analysis, column, x):
    options = {"num_resamples": 50} if "num_resamples" in signature(analysis).parameters else {}
    _, figure = analysis(marked, plot=True, **options)
    externals = marked[marked["origin"] == "external"]
    assert _stars(figure.axes[0]) == {
        "external: beta_vae": (x[0], externals[column].iloc[0]),
        "external: mine": (x[1], externals[column].iloc[1])}
    for ax in figure.axes[1:]:  # the other panels: stars only where there are legends
        _stars(ax)


def test_the_report_has_a_section_for_the_external_runs(marked, tmp_path):
    index = write_report(marked, tmp_path / "with", **FAST)
    page = index.read_text()
    assert page.count(html.escape(PLACEMENT_TITLE)) == 2  # heading and image
    assert page.count("not part of any statistic") == 1
    assert (tmp_path / "with/figures/placement.png").stat().st_size > 0
    table = pd.read_csv(tmp_path / "with/tables/placement.csv")
    assert set(table["name"]) == {"beta_vae", "mine"}
    plain = write_report(planted_table(), tmp_path / "without", **FAST).read_text()
    assert html.escape(PLACEMENT_TITLE) not in plain
    assert not (tmp_path / "without/figures/placement.png").exists()
