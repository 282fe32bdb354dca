"""Modularity and explicitness (Ridgeway & Mozer 2018), as dlib computes them.

**Modularity** from the mutual-information matrix ``m [D, K]`` of the 20-bin discretised
training codes and the factors (as for MIG): for each code ``i``,

    M_i = max_j m_ij^2,   delta_i = (sum_j m_ij^2 - M_i) / (M_i (K - 1)),
    score_i = 1 - delta_i   (0 when M_i = 0),

and ``modularity_score = mean_i score_i``: unused codes pull it down.

**Explicitness**: codes standardised with the *training* mean and std (ddof 0); per factor a
logistic regression on the training codes; ``roc_auc_score`` of its class probabilities,
one-vs-rest, macro-averaged over classes, on train and test. ``explicitness_score_train`` /
``_test`` are the means over factors.

Settings and deviations:

- ``sklearn_defaults="0.20"`` (the study's): the classifier is 0.20's ``LogisticRegression()``
  (liblinear, one-vs-rest, C=1); ``"current"`` uses today's defaults (lbfgs, multinomial).
- dlib one-hot encodes each label set separately, so a class missing from the test labels
  crashes it; here the AUC is averaged over the classifier's classes that occur (with both
  outcomes) in the labels scored, which equals dlib's value whenever dlib has one.
- A constant code dimension has std 0 (dlib: NaN); it is left centred but unscaled (all 0).
- Constant codes: modularity 0 and explicitness 0.5 (chance), with a warning.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    SKLEARN_DEFAULTS,
    MetricData,
    RepresentationFn,
    Sample,
    check_choice,
    constant_dims,
    discrete_mutual_info,
    histogram_discretize,
    logistic_regression,
    sample_splits,
    warn,
)
from dislab.metrics.registry import TRAIN_TEST_SPLITS, Param, register


def modularity(mutual_information: np.ndarray) -> float:
    """Modularity of an ``[D, K]`` mutual-information matrix (module doc)."""
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    top = squared.max(axis=1)
    rest = squared.sum(axis=1) - top
    denominator = top * max(squared.shape[1] - 1, 1)
    delta = np.divide(rest, denominator, out=np.zeros_like(rest), where=denominator > 0)
    return float(np.mean(np.where(top > 0, 1.0 - delta, 0.0)))


def _macro_auc(classes: np.ndarray, labels: np.ndarray, proba: np.ndarray) -> float | None:
    """Mean one-vs-rest ROC-AUC over ``classes`` that occur in ``labels`` (None if none do)."""
    aucs = [
        roc_auc_score(labels == c, proba[:, col])
        for col, c in enumerate(classes)
        if 0 < np.sum(labels == c) < len(labels)
    ]
    return float(np.mean(aucs)) if aucs else None


def explicitness(
    train: Sample, test: Sample, sklearn_defaults: str = "0.20"
) -> tuple[float, float]:
    """Mean ROC-AUC of per-factor logistic regressions on standardised codes (train, test)."""
    mean = train.codes.mean(axis=0)
    std = train.codes.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_test = (train.codes - mean) / std, (test.codes - mean) / std
    scores = []
    for j in range(train.factors.shape[1]):
        model = logistic_regression() if sklearn_defaults == "0.20" else LogisticRegression()
        model.fit(x_train, train.factors[:, j])
        pair = [
            _macro_auc(model.classes_, sample.factors[:, j], model.predict_proba(x))
            for sample, x in ((train, x_train), (test, x_test))
        ]
        if None in pair:
            warn("modularity", f"factor {j} takes a single value; its explicitness is 0.5")
        scores.append([0.5 if auc is None else auc for auc in pair])
    train_score, test_score = np.mean(scores, axis=0)
    return float(train_score), float(test_score)


def modularity_from_samples(
    samples: list[Sample], rng, *, num_bins: int = 20, sklearn_defaults: str = "0.20"
) -> dict[str, float]:
    check_choice("modularity", "sklearn_defaults", sklearn_defaults, SKLEARN_DEFAULTS)
    train, test = samples
    if constant_dims(train.codes).all():
        warn("modularity", "all code dimensions are constant; modularity 0, explicitness 0.5")
    mi = discrete_mutual_info(histogram_discretize(train.codes, num_bins), train.factors)
    explicit_train, explicit_test = explicitness(train, test, sklearn_defaults)
    return {
        "modularity_score": modularity(mi),
        "explicitness_score_train": explicit_train,
        "explicitness_score_test": explicit_test,
    }


@register(
    "modularity",
    consumes="samples",
    sample_sizes=("num_train", "num_test"),
    from_samples=modularity_from_samples,
    params={
        **TRAIN_TEST_SPLITS,
        "num_bins": Param(20, minimum=2),
        "sklearn_defaults": Param("0.20", choices=SKLEARN_DEFAULTS),
    },
)
def modularity_explicitness(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    batch_size: int = 16,
    num_bins: int = 20,
    sklearn_defaults: str = "0.20",
) -> dict[str, float]:
    """Modularity (20-bin mutual information) and explicitness (logistic-regression AUC).

    Keys: ``modularity_score``, ``explicitness_score_train``, ``explicitness_score_test``.
    """
    rng = make_rng(rng)
    samples = sample_splits(
        data,
        representation_fn,
        [num_train, num_test],
        rng,
        batch_size=batch_size,
        metric="modularity",
    )
    return modularity_from_samples(
        samples, rng, num_bins=num_bins, sklearn_defaults=sklearn_defaults
    )
