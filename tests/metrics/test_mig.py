"""MIG: the values of dlib's own code on perfect codes (to 1e-12) and how code transforms
move it."""

from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics import MetricWarning, get
from dislab.metrics._utils import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    sample_codes,
)
from dislab.metrics.mig import mig, mutual_info_gap

from .conftest import (
    CARS3D,
    DSPRITES,
    FactorGrid,
    constant,
    duplicated,
    entangled,
    flatten,
    noise,
    permuted,
    rescaled,
    rotated,
)


@pytest.mark.parametrize(
    ("sizes", "expected"), [(DSPRITES, 0.8957198509231029), (CARS3D, 0.8198992748093495)]
)
def test_perfect_code_matches_dlib(sizes, expected):
    """Values from dlib's own compute_mig (seed 0, study settings); < 1 due to 20 bins."""
    assert mig(FactorGrid(sizes), flatten, np.random.RandomState(0)) == {
        "discrete_mig": pytest.approx(expected, abs=1e-12)
    }


@pytest.mark.parametrize(
    ("seed", "num_train", "batch_size", "expected"),
    [(3, 10_000, 16, 0.02921989649841798), (5, 1000, 7, 0.023496246247324302)],
)
def test_entangled_code_matches_dlib(seed, num_train, batch_size, expected):
    """dlib's compute_mig on the same fixed entangled code (see conftest.entangled)."""
    score = mig(
        FactorGrid(DSPRITES),
        entangled,
        np.random.RandomState(seed),
        num_train=num_train,
        batch_size=batch_size,
    )["discrete_mig"]
    assert score == pytest.approx(expected, abs=1e-12)


def test_per_factor_ratio_on_dsprites():
    """dlib's own code: MI/H per factor is 1, 1, 0.812, 0.848, 0.850 for the perfect code."""
    train = sample_codes(FactorGrid(DSPRITES), flatten, 10_000, np.random.RandomState(0))
    mi = discrete_mutual_info(histogram_discretize(train.codes), train.factors)
    ratios = np.diag(mi) / discrete_entropy(train.factors)
    np.testing.assert_allclose(ratios, [1, 1, 0.812, 0.848, 0.850], atol=1e-3)


def test_transforms(small_grid):
    def score(rep):
        return mig(small_grid, rep, np.random.RandomState(0), num_train=2000)["discrete_mig"]

    perfect = score(flatten)
    assert perfect == pytest.approx(1.0, abs=0.005)  # minus the finite-sample MI bias
    assert score(permuted) == perfect
    assert score(rescaled) == perfect
    assert score(duplicated) == 0.0  # two codes share the information: no gap
    assert score(rotated) < 0.5
    assert score(noise()) < 0.02


def test_constant_codes_give_zero_with_warning(small_grid):
    with pytest.warns(MetricWarning, match="constant"):
        assert mig(small_grid, constant, np.random.RandomState(0), num_train=500) == {
            "discrete_mig": 0.0
        }


def test_degenerate_inputs_have_defined_values():
    codes = np.arange(8.0)[:, None]
    factors = np.stack([np.arange(8) % 2, np.zeros(8, dtype=int)], axis=1)
    with pytest.warns(MetricWarning) as record:
        value = mutual_info_gap(codes, factors)
    messages = " ".join(str(w.message) for w in record)
    assert "single code" in messages and "factors [1] are constant" in messages
    assert value == pytest.approx(1.0)  # factor 0 is fully explained; factor 1 left out


def test_registered_and_reproducible(small_grid):
    assert get("mig") is mig
    a = mig(small_grid, noise(1), np.random.RandomState(2), num_train=300)
    b = mig(small_grid, noise(1), np.random.RandomState(2), num_train=300)
    assert a == b


def test_bad_representation_output_is_named(small_grid):
    with pytest.raises(ValueError, match=r"mig: representation_fn .*returned shape \(\d+,\)"):
        mig(small_grid, lambda x: np.zeros(len(x)), np.random.RandomState(0))
