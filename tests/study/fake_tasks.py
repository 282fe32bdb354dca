"""Stand-ins for ``dislab.study.runner.default_task``: instant, deterministic, or failing.

Each returns what :func:`dislab.study.tasks.execute` returns. Scores are functions of the run's
seeds, so a table computed twice (or in pieces) must come out identical.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SMALL_STUDY = """
[study]
name = "fake"
seeds = 3
representations = ["mean", "sampled"]

[[datasets]]
name = "dsprites_full"
source = "procedural"

[[models]]
name = "beta_vae"
sweep = { beta = [1.0, 2.0] }

[metrics.mig]
[metrics.sap]
representations = ["mean"]
"""


def expected_scores(run) -> list[tuple]:
    """The scores :func:`scores_task` reports for ``run``."""
    scores = [("", "train", "loss", float(run.model_num) + 0.5)]
    for rep, metric in run.evaluations:
        scores.append((rep, metric, "score", run.evaluation_seeds[rep][metric] / 2**32))
    return scores


def scores_task(run, run_dir, device, threads) -> dict:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return {"train_seconds": 0.001, "eval_seconds": 0.001, "device": "cpu",
            "data_source": "fake", "scores": expected_scores(run)}


def slow_task(run, run_dir, device, threads) -> dict:
    time.sleep(0.4)
    return scores_task(run, run_dir, device, threads)


def failing_task(run, run_dir, device, threads) -> dict:
    if run.model_num == 2:
        raise ValueError("loss is nan at step 7")
    return scores_task(run, run_dir, device, threads)


def dying_once_task(run, run_dir, device, threads) -> dict:
    """The worker of run 1 dies the first time (its run dir keeps a marker)."""
    marker = Path(run_dir) / "died"
    if run.model_num == 1 and not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os._exit(1)
    return scores_task(run, run_dir, device, threads)


def always_dying_task(run, run_dir, device, threads) -> dict:
    if run.model_num == 1:
        os._exit(1)
    time.sleep(0.2)  # the others finish after the death, in a fresh pool
    return scores_task(run, run_dir, device, threads)


def params_task(run, run_dir, device, threads) -> dict:
    """Counts its calls in ``RUN_DIR/calls``; each metric scores its ``num_train`` (0 when
    not set), so a changed metric parameter shows in the table."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with (Path(run_dir) / "calls").open("a") as f:
        f.write("call\n")
    scores = [("", "train", "loss", float(run.model_num) + 0.5)]
    scores += [(rep, metric, "num_train", run.metrics[metric].get("num_train", 0))
               for rep, metric in run.evaluations]
    return {"train_seconds": 0.001, "eval_seconds": 0.001, "device": "cpu",
            "data_source": "fake", "scores": scores}
