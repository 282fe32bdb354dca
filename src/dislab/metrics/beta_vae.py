"""BetaVAE score (Higgins et al. 2017), as dlib computes it (``beta_vae.py``, sklearn flavour).

One point: ``k = randint(K)``; two batches of ``batch_size`` factor rows that agree on factor
``k`` only; feature = ``mean_b |z(x1_b) - z(x2_b)|`` (length ``D``), label ``k``. A logistic
regression is fitted on ``num_train`` points; ``train_accuracy`` is its accuracy on them and
``eval_accuracy`` on ``num_eval`` fresh points (the paper reports ``eval_accuracy``).

Classifier (``sklearn_defaults``):

- ``"0.20"`` (default, the study's): ``LogisticRegression()`` as scikit-learn 0.20 ran it
  (liblinear, one-vs-rest, C=1). dlib passed its ``RandomState`` as ``random_state``, and
  0.20's liblinear drew one seed from it before the evaluation points were drawn; that draw
  is replayed, so the evaluation points are dlib's.
- ``"current"``: today's ``LogisticRegression()`` defaults (lbfgs, multinomial), which dlib
  gets under scikit-learn >= 0.22 (no RNG draw).

Constant codes give all-zero features: the classifier predicts one class (chance level),
with a warning. The 1.92M encodings of the study setting are made in large batches.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    SKLEARN_DEFAULTS,
    Encoder,
    MetricData,
    RepresentationFn,
    check_choice,
    draw_int,
    draw_seed,
    encode_blocks,
    logistic_regression,
    warn,
)
from dislab.metrics.registry import Param, register


def _points(data, encoder, rng, num_points, batch_size) -> tuple[np.ndarray, np.ndarray]:
    """``features [num_points, D]`` and ``labels [num_points]`` in dlib's draw order."""

    def batches():
        for _ in range(num_points):
            k = draw_int(rng, data.num_factors)
            factors1 = data.sample_factors(batch_size, rng)
            factors2 = data.sample_factors(batch_size, rng)
            factors2[:, k] = factors1[:, k]
            obs1 = data.sample_observations_from_factors(factors1, rng)
            obs2 = data.sample_observations_from_factors(factors2, rng)
            yield k, np.concatenate([obs1, obs2])

    labels, features = [], []
    for k, codes in encode_blocks(encoder, batches()):
        labels.append(k)
        features.append(np.mean(np.abs(codes[:batch_size] - codes[batch_size:]), axis=0))
    return np.array(features), np.array(labels, dtype=np.int64)


@register(
    "beta_vae",
    consumes="observations",
    params={
        "batch_size": Param(64, minimum=1),
        "num_train": Param(10_000, minimum=1),
        "num_eval": Param(5_000, minimum=1),
        "sklearn_defaults": Param("0.20", choices=SKLEARN_DEFAULTS),
    },
)
def beta_vae(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    sklearn_defaults: str = "0.20",
) -> dict[str, float]:
    """BetaVAE score: accuracy of a linear classifier of 'which factor was fixed' (module doc).

    Keys: ``train_accuracy``, ``eval_accuracy``.
    """
    check_choice("beta_vae", "sklearn_defaults", sklearn_defaults, SKLEARN_DEFAULTS)
    rng = make_rng(rng)
    encoder = Encoder(representation_fn, "beta_vae")
    x_train, y_train = _points(data, encoder, rng, num_train, batch_size)
    if not x_train.any():
        warn("beta_vae", "the codes do not vary; the classifier can only guess")
    if sklearn_defaults == "0.20":
        model = logistic_regression(draw_seed(rng))
    else:
        model = LogisticRegression()
    model.fit(x_train, y_train)
    x_eval, y_eval = _points(data, encoder, rng, num_eval, batch_size)
    return {
        "train_accuracy": float(model.score(x_train, y_train)),
        "eval_accuracy": float(model.score(x_eval, y_eval)),
    }
