"""Studies: many models x hyperparameters x seeds x datasets, trained, evaluated and stored.

>>> from dislab import study
>>> spec = study.spec.load("quick")            # a preset name or a TOML file
>>> spec.num_runs, spec.num_evaluations
>>> study.run_study("quick", "out/quick")      # resumable; see dislab.study.runner
>>> table = study.load("out/quick")            # one row per run, one column per score
>>> study.add_runs("out/quick", ["runs/mine"])  # your own runs, scored the study's way
>>> study.add_representation("out/quick", encode, name="mine")  # any images -> codes function

Columns of :func:`load`: ``model_num, dataset, model``, one column per swept hyperparameter
(e.g. ``beta``), ``seed, state, attempts``, timings (``train_seconds, eval_seconds,
total_seconds``), ``device, data_source, host, failure, warnings, origin, hyperparameters`` (JSON),
``run_dir``, then the scores: ``train.<key>`` for the training results and
``<representation>.<metric>.<key>`` for the metrics, e.g. ``mean.mig.discrete_mig``.
External runs (``origin == "external"``, :mod:`dislab.study.external`) come last, with model
numbers -1, -2, ...; they are not part of the study's population.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dislab.study import spec
from dislab.study.external import add_representation, add_runs
from dislab.study.runner import run_study
from dislab.study.store import Store, export


def load(study_dir: str | Path) -> pd.DataFrame:
    """The results of the study in ``study_dir``: one row per run, one column per score."""
    with Store(study_dir, create=False) as store:
        return store.table()


__all__ = ["Store", "add_representation", "add_runs", "export", "load", "run_study", "spec"]
