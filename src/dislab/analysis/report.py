"""The HTML report of a study: ``index.html`` with every figure (PNG) beside its table (also
CSV) and the paper's stated finding, and whether the study agrees.

>>> from dislab import study
>>> from dislab.analysis.report import write_report
>>> write_report(study.load("out/quick"), "report/", title="quick")

The report is static (relative links only) and readable from the file system. An analysis
that needs more data than the study has (:class:`NotEnoughData`) says so in its section.

When the table holds weakly-supervised runs (:data:`~dislab.analysis.columns.WEAK_MODELS`),
sections 1-7 (the unsupervised study's findings) use its unsupervised runs only, and the
sections of :data:`WEAK_SECTIONS` (:mod:`dislab.analysis.weak`) follow; without weakly-supervised
runs there are no such sections.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dislab._io import atomic_path
from dislab.analysis import correlation, scores, transfer, verdicts, weak
from dislab.analysis.columns import NotEnoughData
from dislab.analysis.stats import NUM_RESAMPLES


@dataclass(frozen=True)
class Section:
    key: str  # file stem of its figure and table
    title: str
    analysis: Callable[..., tuple[pd.DataFrame, Figure]]  # called with plot=True
    finding: str  # the paper's stated finding (Locatello et al. 2019, or 2020 for the weak ones)
    verdict: Callable[[pd.DataFrame], verdicts.Verdict]
    rule: str = ""  # how the verdict is decided, in one line (shown when given)


SECTIONS = (
    Section("decorrelation", "1. Does the regulariser decorrelate the representation?",
            scores.decorrelation,
            "The total correlation of the sampled representation generally falls as the "
            "regularisation grows; the mean representation stays correlated.",
            verdicts.decorrelation),
    Section("metric_agreement", "2. Agreement between the disentanglement metrics",
            correlation.metric_agreement,
            "All metrics except Modularity are at least mildly correlated; BetaVAE and "
            "FactorVAE, and MIG and DCI Disentanglement, correlate strongly.",
            verdicts.metric_agreement),
    Section("metric_distributions", "3a. Metrics by model",
            scores.metric_distributions,
            "The distributions overlap heavily: the random seed and the hyperparameter "
            "matter more than the objective.",
            verdicts.metric_distributions),
    Section("seed_variation", "3b. One metric against the strength, over seeds",
            scores.seed_variation,
            "A good seed with a bad hyperparameter can beat a bad seed with a good one "
            "(the paper shows FactorVAE on Cars3D).",
            verdicts.seed_variation),
    Section("hyperparameter_effect", "4. Metric against hyperparameter",
            scores.hyperparameter_effect,
            "No hyperparameter value wins consistently across datasets.",
            verdicts.hyperparameter_effect),
    Section("unsupervised_vs_metrics", "5. Unsupervised scores against the metrics",
            correlation.unsupervised_vs_metrics,
            "No unsupervised score reliably tracks the metrics across datasets.",
            verdicts.unsupervised_vs_metrics),
    Section("selection_transfer", "6. Transfer of model selection",
            transfer.selection_transfer,
            "Probability of beating random model selection on a different seed: 80.7% for "
            "the same metric and dataset, 59.3% for the same metric on another dataset, "
            "54.9% for another metric and dataset: transfer across datasets is barely "
            "better than chance.",
            verdicts.selection_transfer),
    Section("downstream_vs_metrics", "7. Downstream accuracy and sample efficiency",
            correlation.downstream_vs_metrics,
            "No consistent evidence that higher disentanglement gives better sample "
            "efficiency; correlations with accuracy mostly reflect that the metrics also "
            "measure how informative the representation is.",
            verdicts.downstream_vs_metrics),
)

# The weakly-supervised study's findings (Locatello et al., ICML 2020): only for tables with
# weakly-supervised runs.
WEAK_SECTIONS = (
    Section("weak_vs_unsupervised",
            "W1. Weakly-supervised vs unsupervised models: disentanglement",
            weak.weak_vs_unsupervised,
            "Weakly-supervised models (Ada-GVAE, Ada-ML-VAE), trained on pairs of observations "
            "that share some factors, are far more disentangled than the unsupervised ones, "
            "consistently across data sets and metrics.",
            weak.more_disentangled_verdict, weak.MORE_DISENTANGLED_RULE),
    Section("weak_elbo_selection",
            "W2. With weak supervision, the ELBO selects disentangled models",
            weak.elbo_selection,
            "Unlike in the unsupervised setting, the ELBO (and the reconstruction error) of "
            "the weakly-supervised models correlates with the disentanglement metrics, so it "
            "can select hyperparameters without labels.",
            weak.elbo_selection_verdict, weak.ELBO_SELECTION_RULE),
)

_STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: auto; padding: 1em; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
.finding { border-left: 4px solid #888; padding-left: 0.8em; color: #333; }
.agrees { color: #060; } .disagrees { color: #a00; } .undecided { color: #666; }
img { max-width: 100%; border: 1px solid #ddd; }
"""
_VERDICT = {True: ("agrees", "Agrees"), False: ("disagrees", "Disagrees"),
            None: ("undecided", "Undecided")}


def write_report(table: pd.DataFrame, out: str | Path, *, title: str = "study",
                 seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                 extra: dict[str, tuple[str, pd.DataFrame]] | None = None) -> Path:
    """Run every analysis of :data:`SECTIONS` on the study ``table`` (and of
    :data:`WEAK_SECTIONS` when it holds weakly-supervised runs) and write
    ``out/index.html``, ``out/figures/*.png`` and ``out/tables/*.csv``; returns the index
    path. ``seed`` and ``num_resamples`` go to the analyses that bootstrap or simulate.
    ``extra`` maps section titles to ``(text, table)`` (e.g. the control experiments of
    :mod:`dislab.control`), each written as a section of its own."""
    out = Path(out)
    options = {"seed": seed, "num_resamples": num_resamples}
    parts = [f"<h1>dislab report: {html.escape(title)}</h1>", _summary(table, out)]
    with_weak = weak.has_weak_runs(table)
    unsupervised = weak.unsupervised_only(table) if with_weak else table
    if with_weak:
        parts.append(f"<p>Sections 1-7 use the {len(unsupervised)} unsupervised run(s) only; "
                     "the weakly-supervised runs are compared with them in sections W1-W2.</p>")
    for section in SECTIONS:
        parts.append(_section(section, unsupervised, out, options))
    for section in WEAK_SECTIONS if with_weak else ():
        parts.append(_section(section, table, out, options))
    for key, (text, frame) in (extra or {}).items():
        parts.append(f"<h2>{html.escape(key)}</h2><p>{html.escape(text)}</p>"
                     + _table(frame, out, _slug(key)))
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>dislab report: {html.escape(title)}</title><style>{_STYLE}</style>"
            "</head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
    index = out / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return index


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Runs by dataset, model and state, with seeds and data sources."""
    frame = table.assign(state=table.get("state", "done"),
                         data_source=table.get("data_source", "unknown"))
    return (frame.groupby(["dataset", "model", "state"], dropna=False)
            .agg(runs=("seed", "size"), seeds=("seed", "nunique"),
                 data_sources=("data_source", lambda s: ", ".join(sorted(map(str, s.unique())))))
            .reset_index())


def _summary(table: pd.DataFrame, out: Path) -> str:
    states = table["state"].value_counts().to_dict() if "state" in table else {}
    text = (f"<h2>Study</h2><p>{len(table)} runs ({_counts(states)}), "
            f"{table['dataset'].nunique()} dataset(s), {table['model'].nunique()} model(s), "
            f"{table['seed'].nunique()} seed(s).</p>")
    text += _table(summary(table), out, "summary")
    if "failure" in table and table["failure"].notna().any():
        failed = table.loc[table["failure"].notna(), ["model_num", "dataset", "model", "seed",
                                                      "failure"]]
        text += "<h3>Failures</h3>" + _table(failed, out, "failures")
    return text


def _counts(states: dict) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no state"


def _section(section: Section, table: pd.DataFrame, out: Path, options: dict) -> str:
    head = (f"<h2 id='{section.key}'>{html.escape(section.title)}</h2>"
            f"<p class='finding'><b>Paper:</b> {html.escape(section.finding)}</p>")
    try:
        result, figure = section.analysis(table, plot=True, **_accepted(section, options))
    except NotEnoughData as err:
        return head + f"<p class='undecided'><b>Not enough data:</b> {html.escape(str(err))}</p>"
    agrees, statistic = section.verdict(result)
    css, word = _VERDICT[agrees]
    figure_path = out / "figures" / f"{section.key}.png"
    with atomic_path(figure_path) as tmp:
        figure.savefig(tmp, dpi=90, format="png")
    if section.rule:
        head += f"<p class='rule'><b>How this is decided:</b> {html.escape(section.rule)}</p>"
    return (head + f"<p class='{css}'><b>This study: {word}.</b> {html.escape(statistic)}</p>"
            f"<img src='figures/{section.key}.png' alt='{html.escape(section.title)}'>"
            + _table(result, out, section.key))


def _accepted(section: Section, options: dict) -> dict:
    """The ``options`` that the section's analysis takes (not every analysis draws)."""
    parameters = inspect.signature(section.analysis).parameters
    return {k: v for k, v in options.items() if k in parameters}


def _table(frame: pd.DataFrame, out: Path, key: str) -> str:
    """The table as HTML (inside a collapsible block when long) and a link to its CSV."""
    path = out / "tables" / f"{key}.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    body = frame.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="",
                         border=0, classes=f"table-{key}")
    link = f"<p><a href='tables/{key}.csv'>{key}.csv</a> ({len(frame)} rows)</p>"
    if len(frame) > 30:
        body = f"<details><summary>table ({len(frame)} rows)</summary>{body}</details>"
    return body + link


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_") or "table"


__all__ = ["SECTIONS", "WEAK_SECTIONS", "Section", "summary", "write_report"]
