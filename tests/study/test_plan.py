"""The cost model of `dislab study plan`."""

from __future__ import annotations

import pytest

from dislab.study import plan


def test_extrapolation_of_metric_timings():
    # t = 1 + 0.01 n through (100, 2 s) and (300, 4 s): 10,000 points -> 101 s
    assert plan._extrapolate([100, 300], [2.0, 4.0], 10_000) == pytest.approx(101.0)
    # equal sizes: proportional, 3 s at 100 points -> 60 s at 2,000
    assert plan._extrapolate([100, 100], [2.0, 4.0], 2_000) == pytest.approx(60.0)
    # sizes <= 100 are kept, larger ones scaled with a floor of 100
    assert plan._reduced([10, 100, 1000, 10_000], 0.05) == [10, 100, 100, 500]
