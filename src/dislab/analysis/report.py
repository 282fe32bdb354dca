"""The HTML report of a study: ``index.html`` with every figure (PNG) beside its table (also
CSV) and the paper's stated finding, and whether the study agrees.

>>> from dislab import study
>>> from dislab.analysis.report import write_report
>>> write_report(study.load("out/quick"), "report/", title="quick")

The report is static (relative links only) and readable from the file system. An analysis
that needs more data than the study has (:class:`NotEnoughData`) says so in its section.

When the table holds external runs (``dislab study add``), a section "Your models among the
study's" follows the summary (:mod:`dislab.analysis.placement`); they are marked on the
figures and are part of no statistic.

When the table holds weakly-supervised runs (:data:`~dislab.analysis.columns.WEAK_MODELS`),
sections 1-7 (the unsupervised study's findings) use its unsupervised runs only, and the
sections of :data:`WEAK_SECTIONS` (:mod:`dislab.analysis.weak`) follow; without weakly-supervised
runs there are no such sections.

Given the pictures of every run (``gallery``, the frame of :func:`dislab.viz.gallery_for_table`),
the last section is the gallery of the trained models (:mod:`dislab.analysis.gallery`).
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dislab._io import atomic_path
from dislab.analysis import correlation, placement, scores, transfer, verdicts, weak
from dislab.analysis.columns import NotEnoughData, external_runs
from dislab.analysis.front import BiggerStudy, front_page
from dislab.analysis.gallery import gallery_html
from dislab.analysis.stats import NUM_RESAMPLES


@dataclass(frozen=True)
class Section:
    key: str  # file stem of its figure and table
    title: str
    analysis: Callable[..., tuple[pd.DataFrame, Figure]]  # called with plot=True
    finding: str  # the paper's stated finding (Locatello et al. 2019, or 2020 for the weak ones)
    verdict: Callable[..., verdicts.Verdict]  # verdict(table, *, seed, num_resamples)
    rule: str  # how the verdict is decided, in one line (beside the verdict function)


SECTIONS = (
    Section("decorrelation", "1. Does the regulariser decorrelate the representation?",
            scores.decorrelation,
            "The total correlation of the sampled representation generally falls as the "
            "regularisation grows; the mean representation stays correlated.",
            verdicts.decorrelation, verdicts.DECORRELATION_RULE),
    Section("metric_agreement", "2. Agreement between the disentanglement metrics",
            correlation.metric_agreement,
            "All metrics except Modularity are at least mildly correlated; BetaVAE and "
            "FactorVAE, and MIG and DCI Disentanglement, correlate strongly.",
            verdicts.metric_agreement, verdicts.METRIC_AGREEMENT_RULE),
    Section("metric_distributions", "3a. Metrics by model",
            scores.metric_distributions,
            "The distributions overlap heavily: the random seed and the hyperparameter "
            "matter more than the objective.",
            verdicts.metric_distributions, verdicts.METRIC_DISTRIBUTIONS_RULE),
    Section("seed_variation", "3b. One metric against the strength, over seeds",
            scores.seed_variation,
            "A good seed with a bad hyperparameter can beat a bad seed with a good one "
            "(the paper shows FactorVAE on Cars3D).",
            verdicts.seed_variation, verdicts.SEED_VARIATION_RULE),
    Section("hyperparameter_effect", "4. Metric against hyperparameter",
            scores.hyperparameter_effect,
            "No hyperparameter value wins consistently across datasets.",
            verdicts.hyperparameter_effect, verdicts.HYPERPARAMETER_EFFECT_RULE),
    Section("unsupervised_vs_metrics", "5. Unsupervised scores against the metrics",
            correlation.unsupervised_vs_metrics,
            "No unsupervised score reliably tracks the metrics across datasets.",
            verdicts.unsupervised_vs_metrics, verdicts.UNSUPERVISED_RULE),
    Section("selection_transfer", "6. Transfer of model selection",
            transfer.selection_transfer,
            "Probability of beating random model selection on a different seed: 80.7% for "
            "the same metric and dataset, 59.3% for the same metric on another dataset, "
            "54.9% for another metric and dataset: transfer across datasets is barely "
            "better than chance.",
            verdicts.selection_transfer, verdicts.SELECTION_TRANSFER_RULE),
    Section("downstream_vs_metrics", "7. Downstream accuracy and sample efficiency",
            correlation.downstream_vs_metrics,
            "No consistent evidence that higher disentanglement gives better sample "
            "efficiency; correlations with accuracy mostly reflect that the metrics also "
            "measure how informative the representation is.",
            verdicts.downstream_vs_metrics, verdicts.DOWNSTREAM_RULE),
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
.gallery td { text-align: left; vertical-align: top; }
.gallery img { display: block; margin: 2px 0; } .gallery .missing { color: #a00; }
.gallery .external { color: #a60; font-weight: bold; }
.banner { background: #fff4d6; border: 1px solid #e0b000; padding: 0.6em 1em; margin: 1em 0; }
.findings td.claim { text-align: left; max-width: 480px; }
"""


def write_report(table: pd.DataFrame, out: str | Path, *, title: str = "study",
                 seed: int = 0, num_resamples: int = NUM_RESAMPLES,
                 extra: dict[str, tuple[str, pd.DataFrame]] | None = None,
                 gallery: pd.DataFrame | None = None,
                 bigger: Callable[[], BiggerStudy | None] | None = None) -> Path:
    """Run every analysis of :data:`SECTIONS` on the study ``table`` (and of
    :data:`WEAK_SECTIONS` when it holds weakly-supervised runs) and write
    ``out/index.html``, ``out/figures/*.png`` and ``out/tables/*.csv`` (among them
    ``findings.csv``, :func:`findings_frame` of the sections' verdicts); returns the index
    path. ``seed`` and ``num_resamples`` go to the analyses that bootstrap or simulate.
    ``extra`` maps section titles to ``(text, table)`` (e.g. the control experiments of
    :mod:`dislab.control`), each written as a section of its own. ``gallery`` (the frame of
    :func:`dislab.viz.gallery_for_table`) appends the gallery of the trained models
    (:func:`dislab.analysis.gallery.gallery_html`, pictures copied into ``out/gallery``).
    The page opens with the front page (:func:`dislab.analysis.front.front_page`): the
    study's scale, one row per finding and, when most findings are Undecided, a banner naming
    the study that ``bigger`` (called only then) describes."""
    out = Path(out)
    options = {"seed": seed, "num_resamples": num_resamples}
    parts = [_summary(table, out)]
    if not external_runs(table).empty:
        parts.append(_placement(table, out))
    with_weak = weak.has_weak_runs(table)
    unsupervised = weak.unsupervised_only(table) if with_weak else table
    if with_weak:
        parts.append(f"<p>Sections 1-7 use the {len(unsupervised)} unsupervised run(s) only; "
                     "the weakly-supervised runs are compared with them in sections W1-W2.</p>")
    found = []  # (section, verdict) per section, for findings_frame
    for section, runs in _sections(table):
        text, verdict = _section(section, runs, out, options)
        parts.append(text)
        found.append((section, verdict))
    rows = findings_frame(found)
    with atomic_path(out / "tables" / "findings.csv") as tmp:  # one row per finding
        rows.to_csv(tmp, index=False)
    parts.insert(0, f"<h1>dislab report: {html.escape(title)}</h1>"
                 + front_page(table, rows, bigger))
    for key, (text, frame) in (extra or {}).items():
        parts.append(f"<h2>{html.escape(key)}</h2><p>{html.escape(text)}</p>"
                     + _table(frame, out, _slug(key)))
    if gallery is not None:
        parts.append(gallery_html(gallery, out))
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
    text = "<h2 id='runs'>Runs</h2>" + _table(summary(table), out, "summary")
    if "failure" in table and table["failure"].notna().any():
        failed = table.loc[table["failure"].notna(), ["model_num", "dataset", "model", "seed",
                                                      "failure"]]
        text += "<h3>Failures</h3>" + _table(failed, out, "failures")
    return text


def findings(table: pd.DataFrame, *, seed: int = 0,
             num_resamples: int = NUM_RESAMPLES) -> pd.DataFrame:
    """The verdicts of :func:`write_report`'s sections on the study ``table``, without the
    analyses and figures (:func:`findings_frame`). Where an analysis lacks data, its verdict
    is Undecided here too (every verdict needs at least what its analysis needs); the report
    then notes the analysis' message instead of the verdict's."""
    options = {"seed": seed, "num_resamples": num_resamples}
    return findings_frame([(section, _verdict(section, runs, options))
                           for section, runs in _sections(table)])


def findings_frame(found: list[tuple[Section, verdicts.Verdict]]) -> pd.DataFrame:
    """One row per finding: ``key, title, claim`` (the paper's finding), ``verdict`` (the
    word), the :class:`~dislab.analysis.verdicts.Verdict`'s ``statistic, value, low, high,
    threshold, paper_side, n, note`` and the section's ``rule``."""
    return pd.DataFrame(
        [{"key": s.key, "title": s.title, "claim": s.finding, "verdict": v.word,
          "statistic": v.statistic, "value": v.value, "low": v.low, "high": v.high,
          "threshold": v.threshold, "paper_side": v.paper_side, "n": v.n, "note": v.note,
          "rule": s.rule} for s, v in found],
        columns=["key", "title", "claim", "verdict", "statistic", "value", "low", "high",
                 "threshold", "paper_side", "n", "note", "rule"])


def _sections(table: pd.DataFrame) -> list[tuple[Section, pd.DataFrame]]:
    """Each section with the runs it analyses: :data:`SECTIONS` on the unsupervised runs,
    then :data:`WEAK_SECTIONS` on all runs when the table holds weakly-supervised ones."""
    if not weak.has_weak_runs(table):
        return [(section, table) for section in SECTIONS]
    unsupervised = weak.unsupervised_only(table)
    return ([(section, unsupervised) for section in SECTIONS]
            + [(section, table) for section in WEAK_SECTIONS])


def _verdict(section: Section, table: pd.DataFrame, options: dict,
             missing: NotEnoughData | None = None) -> verdicts.Verdict:
    """The section's verdict; Undecided with the analysis' message when it lacks data."""
    verdict = section.verdict(table, **options)
    if missing is None:
        return verdict
    return replace(verdict, word=verdicts.UNDECIDED, note=f"not enough data: {missing}")


def _section(section: Section, table: pd.DataFrame, out: Path,
             options: dict) -> tuple[str, verdicts.Verdict]:
    """The section's HTML and its verdict."""
    head = (f"<h2 id='{section.key}'>{html.escape(section.title)}</h2>"
            f"<p class='finding'><b>Paper:</b> {html.escape(section.finding)}</p>")
    try:
        result, figure = section.analysis(table, plot=True, **_accepted(section, options))
    except NotEnoughData as err:
        verdict = _verdict(section, table, options, missing=err)
        return head + _verdict_html(section, verdict), verdict
    verdict = _verdict(section, table, options)
    _save_figure(figure, out, section.key)
    return (head + _verdict_html(section, verdict)
            + f"<img src='figures/{section.key}.png' alt='{html.escape(section.title)}'>"
            + _table(result, out, section.key)), verdict


def _verdict_html(section: Section, verdict: verdicts.Verdict) -> str:
    """The verdict word, its one-line statistic and how it is decided."""
    return (f"<p class='{verdict.word.lower()}'><b>This study: {verdict.word}.</b> "
            f"{html.escape(verdict.text())}</p>"
            f"<p class='rule'><b>How this is decided:</b> {html.escape(section.rule)}</p>")


def _save_figure(figure: Figure, out: Path, key: str) -> None:
    """``out/figures/<key>.png``, written atomically."""
    with atomic_path(out / "figures" / f"{key}.png") as tmp:
        figure.savefig(tmp, dpi=90, format="png")


PLACEMENT_TITLE = "Your models among the study's"
PLACEMENT_TEXT = (
    "The external runs (added with `dislab study add` or dislab.study.add_representation) "
    "were scored with the study's own evaluation: its metrics and their parameters, metric "
    "mode, representations and evaluation seeds. They are not part of any statistic of this "
    "report: every analysis and verdict uses the study's runs alone, and the figures mark the "
    "external runs with red stars. Percentile of a value among the study's n finished runs "
    "on the same dataset: 100 x (#below + 0.5 x #equal) / n; it says where the value lies, "
    "not whether that is good (for the losses and total correlations lower is better).")


def _placement(table: pd.DataFrame, out: Path) -> str:
    """The section of the external runs: their placement figure and percentile table
    (:func:`dislab.analysis.placement.placement`)."""
    result, figure = placement.placement(table, plot=True)
    _save_figure(figure, out, "placement")
    return (f"<h2 id='placement'>{html.escape(PLACEMENT_TITLE)}</h2>"
            f"<p>{html.escape(PLACEMENT_TEXT)}</p>"
            f"<img src='figures/placement.png' alt='{html.escape(PLACEMENT_TITLE)}'>"
            + _table(result, out, "placement"))


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


__all__ = ["SECTIONS", "WEAK_SECTIONS", "Section", "findings", "findings_frame", "summary",
           "write_report"]
