"""Downstream classification tasks: predict each factor from the code (dlib ``downstream_task``).

For every training size ``n`` in ``num_train`` (study: 10, 100, 1000, 10,000), in order, a
fresh training set of ``n`` points and a fresh test set of ``num_test`` (5,000) points are
drawn (dlib's RNG order, chunks of ``batch_size``); for each factor a new classifier is fit
on the raw codes and its train and test accuracies are recorded. Keys (dlib's), prefixed by
``"{n}:"``: ``mean_train_accuracy``, ``mean_test_accuracy``, ``min_train_accuracy``,
``min_test_accuracy``, ``train_accuracy_factor_{i}``, ``test_accuracy_factor_{i}``. When
both 100 and 10,000 are among the sizes, ``sample_efficiency`` (the paper's; not a dlib key)
is ``100:mean_test_accuracy / 10000:mean_test_accuracy``.

Classifiers (``predictor``), parity mode (the default):

- ``"logistic_regression_cv"``: ``LogisticRegressionCV(Cs=10, cv=KFold(5))``. With
  ``sklearn_defaults="0.20"`` (the study's scikit-learn) it is one-vs-rest, one
  cross-validated binary fit per class; ``"current"`` is today's multinomial default, which
  dlib's code gets under scikit-learn >= 0.22.
- ``"gradient_boosting_classifier"``: ``GradientBoostingClassifier()`` with its defaults
  (computed by :class:`~dislab.metrics._gbt.ExactGradientBoosting`, the same algorithm).

dlib left both unseeded; here each fit gets a seed from ``rng``, drawn after all the data, so
the data are still dlib's draw for draw. Fits run in parallel across factors and sizes
(``n_jobs``, joblib), which changes speed only.

``mode="fast"`` swaps the classifiers (the data are the same):

- gradient boosting -> LightGBM with GBC-like settings, the same as DCI's fast mode (100
  rounds, learning rate 0.1, depth 3, 8 leaves, histogram-binned features);
- logistic regression -> multinomial ``LogisticRegressionCV`` (same C grid) on standardised
  codes, C chosen on one seeded 80/20 split instead of five folds (about 5x fewer fits).

How much fast mode moves the values (fixed random conv encoder on procedural dSprites,
benchmarks/METRICS.md): gradient boosting by <= 0.07 per factor at n = 10 and <= 0.013 on the
mean test accuracies at n = 100 and 1000 (GBC vs LightGBM; dlib's unseeded GBC vs the seeded
one differs by up to 0.016 alone). Fast logistic regression tracks today's multinomial
``sklearn_defaults="current"`` within 0.01 (0.204 vs 0.212 at n = 1000), but not the 0.20
one-vs-rest parity fit, which on these codes is 0.05-0.08 lower (each class-vs-rest problem
is 1:K imbalanced, so accuracy-scored CV picks a tiny C). Speed at n = 100 and 1000, 2000 test
points, 5 factors: fast 2.8 s, "current" 10.9 s, parity ("0.20") 65 s.

Degenerate inputs get defined values with a :class:`MetricWarning`: codes that do not vary
(every classifier then predicts one class), and a training set holding a single class of a
factor (that class is predicted; dlib's gradient boosting raised an error there).

dlib pitfall kept in parity mode: at n = 10 the unshuffled 5-fold CV trains on 8 points and
most folds lack most classes, so the chosen C is noise. ``fix_small_sample_cv=True`` fits
``LogisticRegression(C=1)`` without CV whenever some class has fewer members than folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    SKLEARN_DEFAULTS,
    MetricData,
    RepresentationFn,
    _supported,
    check_choice,
    constant_dims,
    draw_seed,
    gradient_boosting,
    lightgbm_classifier,
    logistic_regression,
    logistic_regression_cv,
    sample_splits,
    warn,
)
from dislab.metrics.registry import MODE, MODES, N_JOBS, Param, register

NAME = "downstream_task"
PREDICTORS = ("logistic_regression_cv", "gradient_boosting_classifier")
STUDY_SIZES = (10, 100, 1000, 10000)
NUM_FOLDS = 5
#: The parameters both registered configurations share.
_PARAMS = {
    "num_train": Param(STUDY_SIZES, minimum=1),
    "num_test": Param(5000, minimum=1),
    "batch_size": Param(16, minimum=1),
    "mode": MODE,
}


def make_predictor(
    predictor: str, mode: str, seed: int, sklearn_defaults: str = "0.20"
) -> ClassifierMixin:
    """A fresh, seeded classifier of the given kind (see the module docstring)."""
    if predictor == "gradient_boosting_classifier":
        return lightgbm_classifier(seed) if mode == "fast" else gradient_boosting(seed)
    if mode == "fast":
        holdout = ShuffleSplit(n_splits=1, test_size=1 / NUM_FOLDS, random_state=seed)
        return make_pipeline(StandardScaler(), _multinomial_logistic_regression_cv(holdout))
    if sklearn_defaults == "current":
        return _multinomial_logistic_regression_cv(KFold(NUM_FOLDS))
    return logistic_regression_cv(seed)


def _multinomial_logistic_regression_cv(cv) -> LogisticRegressionCV:
    """``LogisticRegressionCV(Cs=10, cv=cv)`` with today's (multinomial lbfgs) defaults.

    The settings that newer scikit-learn versions warn about are set to their old values
    (accuracy scoring, pure L2), which does not change the fit.
    """
    newer = _supported(LogisticRegressionCV, l1_ratios=(0.0,), use_legacy_attributes=False)
    return LogisticRegressionCV(Cs=10, cv=cv, scoring="accuracy", **newer)


def fit_accuracies(
    model: ClassifierMixin,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
) -> tuple[float, float]:
    """Fit ``model`` and return its ``(train accuracy, test accuracy)``."""
    model.fit(x_train, y_train)
    return (
        float(np.mean(model.predict(x_train) == y_train)),
        float(np.mean(model.predict(x_test) == y_test)),
    )


def downstream_task(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    predictor: str = "logistic_regression_cv",
    num_train: Sequence[int] = STUDY_SIZES,
    num_test: int = 5000,
    batch_size: int = 16,
    mode: str = "parity",
    sklearn_defaults: str = "0.20",
    fix_small_sample_cv: bool = False,
    n_jobs: int = 1,
) -> dict[str, float]:
    """Accuracy of predicting each factor from the code at several training sizes.

    See the module docstring for the keys, classifiers, modes and options.
    """
    check_choice(NAME, "predictor", predictor, PREDICTORS)
    check_choice(NAME, "mode", mode, MODES)
    check_choice(NAME, "sklearn_defaults", sklearn_defaults, SKLEARN_DEFAULTS)
    sizes = [int(n) for n in num_train]
    rng = make_rng(rng)
    splits = sample_splits(
        data,
        representation_fn,
        [m for n in sizes for m in (n, num_test)],
        rng,
        batch_size=batch_size,
        metric=NAME,
    )
    tasks = []
    for train, test in zip(splits[::2], splits[1::2]):
        if constant_dims(train.codes).all():
            warn(NAME, f"the {len(train)} training codes do not vary; predictions are constant")
        for i in range(data.num_factors):
            model = _predictor_for(
                train.factors[:, i],
                predictor,
                mode,
                draw_seed(rng),
                sklearn_defaults,
                fix_small_sample_cv,
            )
            tasks.append((model, train.codes, train.factors[:, i], test.codes, test.factors[:, i]))
    # largest training sets first, so that parallel workers finish together
    results = Parallel(n_jobs=n_jobs)(delayed(fit_accuracies)(*t) for t in reversed(tasks))[::-1]
    scores: dict[str, float] = {}
    for k, n in enumerate(sizes):
        per_factor = results[k * data.num_factors : (k + 1) * data.num_factors]
        scores.update(_size_scores(n, per_factor))
    if 100 in sizes and 10000 in sizes:
        full = scores["10000:mean_test_accuracy"]
        if full == 0.0:
            warn(NAME, "the mean test accuracy at 10000 points is 0; sample_efficiency = 0")
        scores["sample_efficiency"] = sample_efficiency(scores["100:mean_test_accuracy"], full)
    return scores


def sample_efficiency(small_accuracy, full_accuracy):
    """The paper's sample efficiency ``a_small / a_full``: mean test accuracy with few training
    points (100) over that with many (10,000); 0 where ``a_full`` is 0. Scalars give a float,
    arrays or Series an array (elementwise): the one definition the analyses use too."""
    small = np.asarray(small_accuracy, dtype=float)
    full = np.asarray(full_accuracy, dtype=float)
    ratio = np.divide(small, full, out=np.zeros(np.broadcast(small, full).shape),
                      where=full != 0)
    return float(ratio) if ratio.ndim == 0 else ratio


def _predictor_for(
    labels: np.ndarray,
    predictor: str,
    mode: str,
    seed: int,
    sklearn_defaults: str,
    fix_small_sample_cv: bool,
) -> ClassifierMixin:
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) == 1:
        warn(NAME, f"the training labels hold the single class {classes[0]}; it is predicted")
        return DummyClassifier(strategy="most_frequent")
    if fix_small_sample_cv and predictor == "logistic_regression_cv" and counts.min() < NUM_FOLDS:
        return logistic_regression(seed)
    return make_predictor(predictor, mode, seed, sklearn_defaults)


def _size_scores(n: int, per_factor: list[tuple[float, float]]) -> dict[str, float]:
    train, test = (np.array(column) for column in zip(*per_factor))
    scores = {
        f"{n}:mean_train_accuracy": float(train.mean()),
        f"{n}:mean_test_accuracy": float(test.mean()),
        f"{n}:min_train_accuracy": float(train.min()),
        f"{n}:min_test_accuracy": float(test.min()),
    }
    for i, (train_accuracy, test_accuracy) in enumerate(per_factor):
        scores[f"{n}:train_accuracy_factor_{i}"] = train_accuracy
        scores[f"{n}:test_accuracy_factor_{i}"] = test_accuracy
    return scores


@register(
    "downstream_task_logistic_regression",
    consumes="observations",
    params={
        **_PARAMS,
        "sklearn_defaults": Param("0.20", choices=SKLEARN_DEFAULTS),
        "fix_small_sample_cv": Param(False),
        "n_jobs": N_JOBS,
    },
)
def downstream_task_logistic_regression(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: Sequence[int] = STUDY_SIZES,
    num_test: int = 5000,
    batch_size: int = 16,
    mode: str = "parity",
    sklearn_defaults: str = "0.20",
    fix_small_sample_cv: bool = False,
    n_jobs: int = 1,
) -> dict[str, float]:
    """Downstream task with LogisticRegressionCV at 10, 100, 1000, 10000 training points.

    The study's ``downstream_task_logistic_regression`` config; see :func:`downstream_task`.
    """
    return downstream_task(
        data, representation_fn, rng, predictor="logistic_regression_cv",
        num_train=num_train, num_test=num_test, batch_size=batch_size, mode=mode,
        sklearn_defaults=sklearn_defaults, fix_small_sample_cv=fix_small_sample_cv,
        n_jobs=n_jobs,
    )  # fmt: skip


@register(
    "downstream_task_boosted_trees",
    consumes="observations",
    params={**_PARAMS, "n_jobs": N_JOBS},
)
def downstream_task_boosted_trees(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: Sequence[int] = STUDY_SIZES,
    num_test: int = 5000,
    batch_size: int = 16,
    mode: str = "parity",
    n_jobs: int = 1,
) -> dict[str, float]:
    """Downstream task with gradient-boosted trees at 10, 100, 1000, 10000 training points.

    The study's ``downstream_task_boosted_trees`` config; see :func:`downstream_task`.
    """
    return downstream_task(
        data, representation_fn, rng, predictor="gradient_boosting_classifier",
        num_train=num_train, num_test=num_test, batch_size=batch_size, mode=mode,
        n_jobs=n_jobs,
    )  # fmt: skip
