"""The report's front page: the study's scale, one row per finding of the paper with this
study's verdict, and a banner when the study is too small to decide most of them.

The banner names a bigger preset and its cost. That cost comes from the study layer
(:func:`dislab.study.plan.estimate`, which times training and the metrics on this machine),
which this layer may not import: the caller passes a :class:`BiggerStudy` factory, called
only when the banner is shown.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dislab.analysis.columns import done_runs, is_external

UNDECIDED = "Undecided"
STEP_COLUMN = "train.global_step"


@dataclass(frozen=True)
class BiggerStudy:
    """A preset big enough for every finding's minimum data, and what it costs.

    ``cpu_hours``: training and evaluation at one thread per run, measured on this machine
    (``train_cpu_hours`` + ``eval_cpu_hours``); ``wall_hours`` with ``workers`` parallel runs.
    """

    preset: str
    description: str
    runs: int
    train_cpu_hours: float
    eval_cpu_hours: float
    workers: int
    cpu: str

    @property
    def cpu_hours(self) -> float:
        return self.train_cpu_hours + self.eval_cpu_hours

    @property
    def wall_hours(self) -> float:
        return self.cpu_hours / max(self.workers, 1)

    def text(self) -> str:
        """Two sentences: the cost here, and on a GPU (where the metrics stay on the CPU)."""
        return (f"The preset <code>{html.escape(self.preset)}</code> ({self.runs} runs: "
                f"{html.escape(self.description)}) gives every finding its minimum data. "
                f"<code>dislab study plan {html.escape(self.preset)}</code> estimates "
                f"{_hours(self.cpu_hours)} of CPU time on this machine ({html.escape(self.cpu)}; "
                f"{_hours(self.train_cpu_hours)} training, {_hours(self.eval_cpu_hours)} "
                f"metrics), about {_hours(self.wall_hours)} with {self.workers} worker(s). "
                "On a GPU, training stops being the cost (run <code>dislab study plan "
                f"{html.escape(self.preset)}</code> there to time its step); the metrics run on "
                f"the CPU and still take about {_hours(self.eval_cpu_hours)} of CPU time, "
                "shared out among the workers.")


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} minutes"
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


def scale(table: pd.DataFrame) -> dict[str, str]:
    """The study's scale in words: runs by state, external runs, training steps, datasets
    with their data sources, models, seeds."""
    external = is_external(table)
    own = table[~external]
    states = own["state"].value_counts() if "state" in own else pd.Series(dtype=int)
    runs = done_runs(table)
    steps = runs[STEP_COLUMN].dropna().astype(int) if STEP_COLUMN in runs else pd.Series()
    sources = (runs.groupby("dataset")["data_source"].agg(lambda s: ", ".join(sorted(
        map(str, s.dropna().unique())))) if "data_source" in runs else pd.Series(dtype=str))
    return {
        "runs": f"{len(own)} ("
                + (", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no state")
                + ")" + (f", plus {int(external.sum())} external" if external.any() else ""),
        "training steps": _steps(steps),
        "datasets": ", ".join(f"{d} ({sources.get(d) or 'unknown source'})"
                              for d in sorted(table["dataset"].unique())),
        "models": f"{own['model'].nunique()}",
        "seeds": f"{runs['seed'].nunique()} distinct",
    }


def _steps(steps: pd.Series) -> str:
    if steps.empty:
        return "unknown (no finished run recorded its step)"
    low, high = int(steps.min()), int(steps.max())
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


def too_small(findings: pd.DataFrame) -> bool:
    """Whether the study leaves most findings (more than half) Undecided."""
    return bool((findings["verdict"] == UNDECIDED).sum() > len(findings) / 2)


def front_page(table: pd.DataFrame, findings: pd.DataFrame,
               bigger: Callable[[], BiggerStudy | None] | None = None) -> str:
    """HTML: the scale, the banner (when :func:`too_small`) and the findings table, one row
    per finding: the paper's claim, the verdict, the statistic with its 95% interval, the
    threshold and n, linking to the finding's section. ``bigger`` is called only for the
    banner."""
    items = "".join(f"<li><b>{k}:</b> {html.escape(v)}</li>" for k, v in scale(table).items())
    parts = [f"<h2>Study</h2><ul>{items}</ul>"]
    if too_small(findings):
        parts.append(_banner(findings, bigger))
    parts.append("<h2>Findings</h2>" + _findings_table(findings))
    return "\n".join(parts)


def _banner(findings: pd.DataFrame, bigger: Callable[[], BiggerStudy | None] | None) -> str:
    undecided = int((findings["verdict"] == UNDECIDED).sum())
    extent = "any" if undecided == len(findings) else "most"
    text = (f"<b>This study is too small to decide {extent} of the paper's findings:</b> "
            f"{undecided} of {len(findings)} verdicts below are Undecided, because their 95% "
            "intervals are too wide or they lack the minimum runs per cell (each note says "
            "which). Read its figures as the pipeline working, not as the paper's answers.")
    study = bigger() if bigger is not None else None
    if study is not None:
        text += " " + study.text()
    return f"<div class='banner'>{text}</div>"


def _findings_table(findings: pd.DataFrame) -> str:
    rows = "".join(
        f"<tr><td class='claim'><a href='#{html.escape(f.key)}'>{html.escape(f.title)}</a>"
        f"<br>{html.escape(f.claim)}</td>"
        f"<td class='{f.verdict.lower()}'><b>{html.escape(f.verdict)}</b></td>"
        f"<td class='claim'>{html.escape(f.statistic)} = {_interval(f)}"
        f"<br>paper: {html.escape(f.paper_side)} {f.threshold:g}"
        + (f"<br><i>{html.escape(f.note)}</i>" if f.note else "")
        + f"</td><td>{f.n}</td></tr>"
        for f in findings.itertuples())
    return ("<table class='findings'><tr><th>finding (the paper's claim)</th><th>this study"
            "</th><th>statistic [95% interval]</th><th>n (runs)</th></tr>" + rows + "</table>")


def _interval(finding) -> str:
    if not np.isfinite(finding.value):
        return "n/a"
    text = f"{finding.value:.3g}"
    if np.isfinite(finding.low) and np.isfinite(finding.high):
        text += f" [{finding.low:.3g}, {finding.high:.3g}]"
    return text
