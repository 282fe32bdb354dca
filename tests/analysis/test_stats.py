"""Bootstrap intervals of dislab.analysis.stats, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from dislab.analysis.stats import bias_corrected_interval, percentile_interval

RESAMPLES = np.random.default_rng(0).standard_normal(20_000)


def test_percentile_interval_of_a_standard_normal():
    low, high = percentile_interval(RESAMPLES)
    assert low == pytest.approx(-1.96, abs=0.05) and high == pytest.approx(1.96, abs=0.05)
    assert np.isnan(percentile_interval(np.array([np.nan]))).all()
    with pytest.raises(ValueError, match="level must lie in"):
        percentile_interval(RESAMPLES, level=1.0)


def test_bias_corrected_interval_is_the_percentile_one_when_centred():
    assert bias_corrected_interval(RESAMPLES, 0.0) == pytest.approx(
        percentile_interval(RESAMPLES), abs=0.05)


def test_bias_corrected_interval_moves_back_a_shifted_bootstrap():
    # resamples centred 0.5 above the estimate 0 (a statistic that resampling inflates):
    # P(resample < 0) = Phi(-0.5), z0 = -0.5, quantiles Phi(-1 -+ 1.96) of N(0.5, 1), i.e.
    # 0.5 + (-1 -+ 1.96) = [-2.46, 1.46]: around the estimate, not around the resamples
    low, high = bias_corrected_interval(RESAMPLES + 0.5, 0.0)
    assert low == pytest.approx(0.5 - 1 - norm.ppf(0.975), abs=0.06)
    assert high == pytest.approx(0.5 - 1 + norm.ppf(0.975), abs=0.06)
    assert low < 0.0 < high


def test_bias_corrected_interval_gives_up_when_the_estimate_is_outside_the_resamples():
    assert np.isnan(bias_corrected_interval(RESAMPLES + 3.0, 0.0)).all()
    assert np.isnan(bias_corrected_interval(RESAMPLES, np.nan)).all()
