"""The report's front page: scale, findings table, banner of a study too small to decide."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dislab.analysis.front import BiggerStudy, front_page, scale, too_small
from tests.analysis.synthetic import planted_table


def _findings(words) -> pd.DataFrame:
    return pd.DataFrame([{
        "key": f"k{i}", "title": f"{i}. finding", "claim": f"claim {i}", "verdict": word,
        "statistic": "mean rho", "value": 0.25, "low": -0.5, "high": 0.75, "threshold": 0.0,
        "paper_side": "<", "n": 12, "note": "too few runs" if word == "Undecided" else "",
        "rule": "rule"} for i, word in enumerate(words)])


BIGGER = BiggerStudy(preset="findings", description="2 datasets", runs=144,
                     train_cpu_hours=100.0, eval_cpu_hours=20.0, workers=2, cpu="AMD EPYC")


def test_scale_names_runs_steps_datasets_and_sources():
    table = planted_table(seeds=2).assign(**{"train.global_step": 300,
                                             "data_source": "procedural"})
    table.loc[0, "state"] = "failed"
    table.loc[1, "origin"] = "external"
    text = scale(table)
    assert text["runs"] == f"{len(table) - 1} ({len(table) - 2} done, 1 failed), plus 1 external"
    assert text["training steps"] == "300"
    assert text["datasets"] == "alpha (procedural), beta (procedural)"


def test_banner_only_when_most_findings_are_undecided():
    calls = []

    def bigger():
        calls.append(1)
        return BIGGER

    table = planted_table(seeds=2)
    small = front_page(table, _findings(["Undecided", "Undecided"]), bigger)
    assert "too small to decide" in small and "<code>findings</code> (144 runs" in small
    assert "5.0 days of CPU time" in small and "2.5 days with 2 worker(s)" in small
    assert "20.0 hours of CPU time" in small  # the metrics on a GPU machine's CPUs
    assert "too small to decide any of" in small and "2 of 2 verdicts" in small
    most = front_page(table, _findings(["Undecided", "Undecided", "Agrees"]), bigger)
    assert "too small to decide most of" in most and "2 of 3 verdicts" in most
    decided = front_page(table, _findings(["Undecided", "Agrees"]), bigger)
    assert "too small" not in decided
    assert calls == [1, 1]  # the cost is only measured for the banner
    assert too_small(_findings(["Undecided"])) and not too_small(_findings(["Disagrees"]))


def test_findings_table_has_a_row_per_finding_with_interval_and_n():
    page = front_page(planted_table(seeds=2), _findings(["Agrees", "Undecided"]))
    assert page.count("<tr>") == 3
    assert "mean rho = 0.25 [-0.5, 0.75]" in page and "<td>12</td>" in page
    assert "href='#k0'" in page and "class='agrees'" in page and "too few runs" in page


def test_a_finding_without_a_value_says_so():
    findings = _findings(["Undecided"]).assign(value=np.nan, low=np.nan, high=np.nan)
    assert "mean rho = n/a" in front_page(planted_table(seeds=2), findings)
