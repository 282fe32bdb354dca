"""The analyses of Locatello et al. (ICML 2019) on a study table, and the report.

>>> from dislab import study, analysis
>>> table = study.load("out/quick")                    # one row per run
>>> analysis.metric_agreement(table)                   # a DataFrame
>>> frame, figure = analysis.metric_agreement(table, plot=True)
>>> analysis.findings(table)                          # one verdict per finding
>>> analysis.write_report(table, "report/")            # report/index.html

Each analysis takes the study DataFrame (:func:`dislab.study.load`), returns its numbers as
a DataFrame (with ``plot=True``: ``(frame, matplotlib Figure)``) and raises
:class:`NotEnoughData` when the study lacks what it needs. Column names are in
:mod:`dislab.analysis.columns`. The control experiments (random rotations of learned
representations, the impossibility theorem) are in :mod:`dislab.control`. The findings of the
weakly-supervised study (Locatello et al., ICML 2020) are in :mod:`dislab.analysis.weak`.
"""

from dislab.analysis.columns import NotEnoughData
from dislab.analysis.correlation import (
    downstream_vs_metrics,
    metric_agreement,
    unsupervised_vs_metrics,
)
from dislab.analysis.report import SECTIONS, WEAK_SECTIONS, findings, write_report
from dislab.analysis.scores import (
    decorrelation,
    hyperparameter_effect,
    metric_distributions,
    seed_variation,
)
from dislab.analysis.transfer import selection_transfer
from dislab.analysis.weak import elbo_selection, weak_vs_unsupervised

__all__ = [
    "SECTIONS",
    "WEAK_SECTIONS",
    "NotEnoughData",
    "decorrelation",
    "downstream_vs_metrics",
    "elbo_selection",
    "findings",
    "hyperparameter_effect",
    "metric_agreement",
    "metric_distributions",
    "seed_variation",
    "selection_transfer",
    "unsupervised_vs_metrics",
    "weak_vs_unsupervised",
    "write_report",
]
