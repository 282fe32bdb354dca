"""DCI: disentanglement, completeness, informativeness (Eastwood & Williams 2018), as in dlib.

Per factor ``j`` a gradient-boosted tree classifier is fitted on the raw training codes
(``[N, D]``, no scaling); its feature importances form column ``j`` of ``R [D, K]``.

- ``informativeness_train`` / ``_test``: mean over factors of the classifiers' accuracy
  (dlib's values are accuracies, higher is better, despite the name; with
  ``informativeness="error"`` they are the prediction errors ``1 - accuracy`` of the paper).
- disentanglement: ``P_ij = (R_ij + 1e-11) / sum_k (R_ik + 1e-11)``,
  ``D_i = 1 - H_K(P_i.)`` (entropy in base K), ``rho_i = sum_j R_ij / sum R``;
  ``disentanglement = sum_i rho_i D_i``.
- completeness: ``P~_ij = (R_ij + 1e-11) / sum_i (R_ij + 1e-11)``, ``C_j = 1 - H_D(P~_.j)``,
  ``completeness = sum_j (sum_i R_ij / sum R) C_j``.

If ``R`` is all zero the weights are uniform (dlib), which gives D = C = 0 for an all-zero R.

Modes:

- ``mode="parity"`` (default): scikit-learn's ``GradientBoostingClassifier`` with its default
  settings (100 stages of depth-3 trees, one tree per class per stage), as dlib, computed by
  :class:`~dislab.metrics._gbt.ExactGradientBoosting` (the same algorithm, 9-10x faster;
  it agrees with scikit-learn as closely as scikit-learn with two seeds agrees with itself).
  dlib left it unseeded; here one seed is drawn from ``rng`` after sampling, so results
  repeat exactly.
- ``mode="fast"``: LightGBM with GBT-like settings (100 rounds, learning rate 0.1, depth 3,
  8 leaves, 255-bin histograms; :data:`~dislab.metrics._utils.LIGHTGBM_GBT_LIKE`), gain
  importances normalised to sum 1, the training accuracy read from the booster's own
  scores. Measured on 10-D noisy entangled codes ``(f / sizes) @ W + 0.3 noise`` (``f`` the
  factor indices, ``W`` a ``K x 10`` standard normal matrix), 10k/5k points, one thread,
  fast minus parity:

  ============  ===============  ==============  ======  ======  ==============
  grid          inform. train    inform. test    D       C       time
  ============  ===============  ==============  ======  ======  ==============
  dSprites      -0.058           +0.005          +0.016  +0.013  60 s vs 1205 s
  SmallNORB     -0.038           +0.004          +0.045  +0.031  6.5 s vs 191 s
  Shapes3D      -0.039           +0.006          +0.043  +0.038  8.5 s vs 662 s
  ============  ===============  ==============  ======  ======  ==============

  (a busy 2-core machine; parity times with scikit-learn's own ``GradientBoostingClassifier``;
  parity gave D 0.242 / 0.361 / 0.273, C 0.194 / 0.263 / 0.231). On the perfect code (the
  factors themselves) both give accuracies 1 and D = C = 1 up to the ``1e-11`` added to every
  importance: ``R`` is diagonal (each factor's trees split only on its own code), so every
  entropy is 0 but for that epsilon. Parity gives exactly that,
  ``1 - (K - 1) 1e-11 (1 + ln 1e11) / ln K`` (6.5e-10 below 1 for K = 5 factors, i.e.
  ~1 - 1e-9); fast mode ~1 - 1e-7, as LightGBM's gains leave ~1e-9 to 1e-8 of the
  importance on the other codes. Histogram splits fit the
  training set less closely (lower training accuracy), and Newton-gain splits spread the
  importance a little differently (slightly higher D and C); test accuracies agree. LightGBM
  also gives a tie between identical features to the first one, so an exactly duplicated
  code keeps C ~ 1 instead of parity's ~0.7 (ties broken at random, as scikit-learn does).

``n_jobs`` fits the factors in parallel (joblib: processes in parity mode, threads in fast
mode); the values do not depend on it.
Constant codes give R = 0, hence D = C = 0, with a warning.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from joblib import Parallel, delayed

from dislab.data.base import Rng, make_rng
from dislab.metrics._utils import (
    LIGHTGBM_GBT_LIKE,
    LIGHTGBM_ROUNDS,
    MetricData,
    RepresentationFn,
    Sample,
    check_choice,
    constant_dims,
    draw_seed,
    gradient_boosting,
    sample_splits,
    warn,
)
from dislab.metrics.registry import MODE, MODES, N_JOBS, TRAIN_TEST_SPLITS, Param, register

INFORMATIVENESS = ("accuracy", "error")


def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    """``D_i = 1 - H_K(P_i.)`` for each code (row) of ``importance [D, K]``."""
    importance = np.asarray(importance, dtype=np.float64)
    return 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    """``C_j = 1 - H_D(P~_.j)`` for each factor (column) of ``importance [D, K]``."""
    importance = np.asarray(importance, dtype=np.float64)
    return 1.0 - scipy.stats.entropy(importance + 1e-11, base=importance.shape[0])


def _weights(importance: np.ndarray, axis: int) -> np.ndarray:
    if importance.sum() == 0:
        importance = np.ones_like(importance)
    return importance.sum(axis=axis) / importance.sum()


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean of :func:`disentanglement_per_code`."""
    importance = np.asarray(importance, dtype=np.float64)
    return float(np.sum(disentanglement_per_code(importance) * _weights(importance, axis=1)))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean of :func:`completeness_per_factor`."""
    importance = np.asarray(importance, dtype=np.float64)
    return float(np.sum(completeness_per_factor(importance) * _weights(importance, axis=0)))


def _fit_gbt(x_train, y_train, x_test, y_test, seed: int):
    """Parity: dlib's GradientBoostingClassifier; importances, train and test accuracy."""
    model = gradient_boosting(seed).fit(x_train, y_train)
    return (
        np.asarray(model.feature_importances_, dtype=np.float64),
        float(np.mean(model.predict(x_train) == y_train)),
        float(np.mean(model.predict(x_test) == y_test)),
    )


def _fit_lightgbm(x_train, y_train, x_test, y_test, seed: int):
    """Fast: LightGBM with GBT-like settings; importances, train and test accuracy.

    The training accuracy comes from the booster's own training scores (no second pass over
    the training set); the classes are those seen in training.
    """
    import lightgbm

    classes, labels = np.unique(y_train, return_inverse=True)
    binary = len(classes) == 2
    params = {
        **LIGHTGBM_GBT_LIKE,
        "objective": "binary" if binary else "multiclass",
        "metric": "binary_error" if binary else "multi_error",
        "seed": seed,
    }
    if not binary:
        params["num_class"] = len(classes)
    booster = lightgbm.train(
        params,
        lightgbm.Dataset(x_train, labels),
        num_boost_round=LIGHTGBM_ROUNDS,
        keep_training_booster=True,
    )
    train_error = booster.eval_train()[0][2]
    raw = booster.predict(x_test, raw_score=True)
    predicted = classes[(raw > 0).astype(int) if binary else np.argmax(raw, axis=1)]
    return (
        booster.feature_importance("gain").astype(np.float64),
        float(1.0 - train_error),
        float(np.mean(predicted == y_test)),
    )


def _fit_factor(x_train, y_train, x_test, y_test, mode: str, seed: int):
    """Importances ``[D]`` (sum 1, or all 0) and train/test accuracy for one factor."""
    fit = _fit_gbt if mode == "parity" else _fit_lightgbm
    importance, train_acc, test_acc = fit(x_train, y_train, x_test, y_test, seed)
    importance = np.abs(importance)
    if importance.sum() > 0:
        importance /= importance.sum()
    return importance, train_acc, test_acc


def importance_matrix(
    train: Sample, test: Sample, seed: int, mode: str = "parity", n_jobs: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``R [D, K]`` and per-factor train and test accuracies ``[K]``."""
    # LightGBM releases the GIL: threads avoid starting worker processes
    fits = Parallel(n_jobs=n_jobs, prefer="threads" if mode == "fast" else None)(
        delayed(_fit_factor)(
            train.codes, train.factors[:, j], test.codes, test.factors[:, j], mode, seed
        )
        for j in range(train.factors.shape[1])
    )
    importance, train_acc, test_acc = (np.array(column) for column in zip(*fits))
    return importance.T, train_acc, test_acc


def dci_from_samples(
    samples: list[Sample], rng, *, mode="parity", n_jobs=1, informativeness="accuracy"
) -> dict[str, float]:
    check_choice("dci", "mode", mode, MODES)
    check_choice("dci", "informativeness", informativeness, INFORMATIVENESS)
    train, test = samples
    if constant_dims(train.codes).all():
        warn("dci", "all code dimensions are constant; disentanglement = completeness = 0")
    importance, train_acc, test_acc = importance_matrix(
        train, test, draw_seed(rng), mode=mode, n_jobs=n_jobs
    )
    if informativeness == "error":
        train_acc, test_acc = 1.0 - train_acc, 1.0 - test_acc
    return {
        "informativeness_train": float(np.mean(train_acc)),
        "informativeness_test": float(np.mean(test_acc)),
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
    }


@register(
    "dci",
    consumes="samples",
    sample_sizes=("num_train", "num_test"),
    from_samples=dci_from_samples,
    params={
        **TRAIN_TEST_SPLITS,
        "mode": MODE,
        "n_jobs": N_JOBS,
        "informativeness": Param("accuracy", choices=INFORMATIVENESS),
    },
)
def dci(
    data: MetricData,
    representation_fn: RepresentationFn,
    rng: Rng,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    batch_size: int = 16,
    mode: str = "parity",
    n_jobs: int = 1,
    informativeness: str = "accuracy",
) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness from boosted-tree importances.

    Keys: ``informativeness_train``, ``informativeness_test``, ``disentanglement``,
    ``completeness``. ``mode="fast"`` uses LightGBM (module doc: how much values move).
    """
    rng = make_rng(rng)
    samples = sample_splits(
        data, representation_fn, [num_train, num_test], rng, batch_size=batch_size, metric="dci"
    )
    return dci_from_samples(samples, rng, mode=mode, n_jobs=n_jobs, informativeness=informativeness)
