"""The bigger study that the report's banner names when a study leaves most findings
Undecided, with its cost measured on this machine (:func:`dislab.study.plan.cached_estimate`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dislab.analysis.front import BiggerStudy

#: The smallest preset that gives every finding its minimum data.
PRESET = "findings"


def bigger_study(cache_dir: str | Path, workers: int | None = None,
                 preset: str = PRESET) -> Callable[[], BiggerStudy]:
    """A factory of ``preset``'s :class:`BiggerStudy`: measured once (tens of seconds, one
    thread per run), then read from ``cache_dir/plan-<preset>.json``."""

    def make() -> BiggerStudy:
        from dislab.study.plan import cached_estimate, cpu_count

        est = cached_estimate(preset, Path(cache_dir) / f"plan-{preset}.json", threads=1)
        runs = est["num_runs"]
        return BiggerStudy(preset=preset, description=est["description"], runs=runs,
                           train_cpu_hours=est["train_seconds"] * runs / 3600,
                           eval_cpu_hours=est["eval_seconds"] * runs / 3600,
                           workers=workers or cpu_count(), cpu=est["cpu"])

    return make
