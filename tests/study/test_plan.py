"""The cost model of ``dislab study plan``: its pure parts with known answers, then one real
(tiny) measurement."""

from __future__ import annotations

import pytest
import torch

from dislab.cli import main
from dislab.study import plan
from dislab.study import spec as study_spec
from tests.study.test_cli_study import MICRO


def test_reduced_cuts_sizes_above_100_and_keeps_small_ones():
    assert plan._reduced(10_000, 0.05) == 500
    assert plan._reduced(1_000, 0.02) == 100  # never below 100
    assert plan._reduced(50, 0.02) == 50  # sizes up to 100 are kept
    assert plan._reduced(100, 0.5) == 100
    assert plan._reduced([10, 100, 5_000], 0.05) == [10, 100, 250]
    assert plan._reduced((2_000, 3_000), 0.1) == [200, 300]


def test_points_sums_the_sample_sizes():
    assert plan._points({"num_train": 300, "num_test": 150, "batch_size": 16}) == 450
    assert plan._points({"num_train": [10, 50], "num_test": 50}) == 110
    assert plan._points({"num_train": 40, "num_eval": 20, "num_variance_estimate": 500}) == 560
    assert plan._points({"batch_size": 64}) == 0


def test_extrapolation_of_metric_timings():
    # t = 1 + 0.01 n through (100, 2 s) and (300, 4 s): 10,000 points -> 101 s
    assert plan._extrapolate([100, 300], [2.0, 4.0], 10_000) == pytest.approx(101.0)
    # equal sizes: proportional, 3 s at 100 points -> 60 s at 2,000
    assert plan._extrapolate([100, 100], [2.0, 4.0], 2_000) == pytest.approx(60.0)
    # sizes <= 100 are kept, larger ones scaled with a floor of 100
    assert plan._reduced([10, 100, 1000, 10_000], 0.05) == [10, 100, 100, 500]


def test_extrapolate_follows_the_line_through_two_timings():
    assert plan._extrapolate([100, 200], [1.0, 2.0], 1_000) == pytest.approx(10.0)
    assert plan._extrapolate([100, 300], [1.0, 2.0], 500) == pytest.approx(3.0)
    # a second timing below the first (noise): no negative slope, the first time is kept
    assert plan._extrapolate([100, 200], [2.0, 1.0], 1_000) == pytest.approx(2.0)
    # the same size twice: proportional to the size, from the mean time
    assert plan._extrapolate([100, 100], [1.0, 3.0], 1_000) == pytest.approx(20.0)
    assert plan._extrapolate([0, 0], [1.0, 1.0], 10) == pytest.approx(10.0)


def test_sizes_to_time_a_metric_at():
    # 2% of 2,000 is below the floor of 100, and so is 5%: the second size is doubled
    assert plan._sizes({"num_train": 2_000}, (0.02, 0.05)) == [{"num_train": 100},
                                                               {"num_train": 200}]
    # large enough: the scales as they are; other parameters untouched
    assert plan._sizes({"num_train": 10_000, "num_test": 5_000, "batch_size": 16},
                       (0.02, 0.05)) == [{"num_train": 200, "num_test": 100, "batch_size": 16},
                                         {"num_train": 500, "num_test": 250, "batch_size": 16}]
    # small sizes are timed as they are (one timing, no extrapolation)
    assert plan._sizes({"num_train": 150}, (0.02, 0.05)) == [{"num_train": 150}]
    assert plan._sizes({"batch_size": 64}, (0.02, 0.05)) == [{"batch_size": 64}]
    assert plan._sizes({"num_train": [10, 50], "num_test": 50}, (0.02, 0.05)) == [
        {"num_train": [10, 50], "num_test": 50}]


def _row(iteration, global_step, images_per_second):
    # as csv.DictReader gives them: strings
    return {"iteration": str(iteration), "global_step": str(global_step),
            "images_per_second": str(images_per_second), "loss": "1.0"}


def test_step_times_from_a_log_skip_the_warm_up():
    rows = [_row(1, 1, 6.4), _row(2, 2, 64), _row(3, 3, 128), _row(4, 4, 32)]
    assert plan.step_times(rows, 64, warmup=0) == pytest.approx([10.0, 1.0, 0.5, 2.0])
    assert plan.step_times(rows, 64, warmup=1) == pytest.approx([1.0, 0.5, 2.0])
    assert plan.step_times(rows, 64, warmup=4) == []
    # FactorVAE with dlib's step parity: two global steps per iteration
    assert plan.step_times([_row(5, 10, 64)], 64, warmup=3) == pytest.approx([0.5])
    # rows averaging several iterations (log_every = 10): seconds per iteration all the same
    assert plan.step_times([_row(10, 10, 640), _row(20, 20, 320)], 64) == pytest.approx(
        [0.1, 0.2])


def test_load_report():
    assert plan.load_report(1.0, 3.0, 2) == {"load_before": 1.0, "load_after": 3.0,
                                             "cpus": 2, "busy": True, "load_factor": 1.5}
    idle = plan.load_report(0.5, 1.0, 2)
    assert not idle["busy"] and idle["load_factor"] == 1.0
    unknown = plan.load_report(None, None, 4)
    assert not unknown["busy"] and unknown["load_factor"] == 1.0


def test_default_threads_share_the_cpus_like_study_run(monkeypatch):
    monkeypatch.setattr(plan.os, "cpu_count", lambda: 8)
    assert plan.default_threads(None) == (8, 1)
    assert plan.default_threads(2) == (2, 4)
    assert plan.default_threads(3) == (3, 2)
    assert plan.default_threads(16) == (16, 1)
    assert plan.default_threads(2, 1) == (2, 1)


def test_estimate_of_a_tiny_study():
    """A real measurement (a few seconds): steady state after the warm-up, the thread count
    asked for (torch's own restored afterwards), the load reported."""
    spec = study_spec.loads(MICRO)
    before = torch.get_num_threads()
    est = plan.estimate(spec, threads=1, target_seconds=0.5)
    assert torch.get_num_threads() == before
    assert est["threads"] == 1 and est["device"] == "cpu"
    assert est["warmup_steps"] == 3 and est["steady_steps"] >= 5
    assert 0 < est["step_seconds"] < 60
    assert est["train_seconds"] >= est["step_seconds"] * 3 + est["overhead_seconds"]
    assert set(est["metric_seconds"]) == {"mig"}
    # mean and sampled each cost one MIG evaluation
    assert est["eval_seconds"] == pytest.approx(2 * est["metric_seconds"]["mig"])
    assert est["run_seconds"] == pytest.approx(est["train_seconds"] + est["eval_seconds"])
    assert est["disk_bytes"] > 0
    assert est["cpus"] >= 1 and isinstance(est["busy"], bool) and est["load_factor"] >= 1


FAKE_ESTIMATE = {"device": "cpu", "dataset": "dsprites_full (procedural)", "threads": 1,
                 "step_seconds": 0.09, "steps": 300, "steady_steps": 22, "warmup_steps": 3,
                 "overhead_seconds": 0.5, "checkpoint_seconds": 0.01, "train_seconds": 28.0,
                 "eval_seconds": 4.0, "metric_seconds": {"mig": 2.0}, "run_seconds": 32.0,
                 "disk_bytes": 8e6}


@pytest.mark.parametrize("load, warned", [((1.5, 1.9), False), ((7.0, 9.0), True)])
def test_plan_reports_the_load_and_warns_when_busy(monkeypatch, capsys, tmp_path, load,
                                                   warned):
    seen = {}

    def fake(spec, threads=None):
        seen["threads"] = threads
        return {**FAKE_ESTIMATE, **plan.load_report(*load, 2)}

    monkeypatch.setattr(plan, "estimate", fake)
    path = tmp_path / "micro.toml"
    path.write_text(MICRO)
    assert main(["study", "plan", str(path), "--workers", "1", "--threads", "3"]) == 0
    out = capsys.readouterr().out
    assert seen["threads"] == 3
    assert f"load average {load[0]:.2f} before, {load[1]:.2f} after on 2 CPU(s)" in out
    assert "90 ms/step x 300 steps, median of 22 after 3 warm-up" in out
    assert ("inflated, roughly by a factor of 4.5" in out) == warned


def test_cached_estimate_measures_once_per_study_text(tmp_path, monkeypatch):
    from dislab.study import plan

    monkeypatch.undo()  # the real cached_estimate (tests/conftest.py replaces it)

    calls = []
    monkeypatch.setattr(plan, "estimate", lambda spec, scales, threads: calls.append(scales) or {
        "train_seconds": 10.0, "eval_seconds": 5.0})
    cache = tmp_path / "plan.json"
    first = plan.cached_estimate("tiny", cache)
    assert plan.cached_estimate("tiny", cache) == first and calls == [plan.CACHED_SCALES]
    assert first["num_runs"] == 6 and first["cpu"] == plan.cpu_name()
    cache.write_text("{not json")  # damaged: measured again, not an error
    plan.cached_estimate("tiny", cache)
    plan.cached_estimate("quick", cache)  # another study
    assert len(calls) == 3
