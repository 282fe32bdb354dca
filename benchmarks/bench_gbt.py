"""ExactGradientBoosting against scikit-learn's GradientBoostingClassifier, in one process.

The problems of the study: DCI and the downstream tasks fit one classifier per factor on
``[n, 10]`` codes with 2-40 classes (dSprites' factors have 3, 6, 40, 32 and 32). Both
estimators fit the same noisy-linear data, single-threaded; the table gives each one's wall
time, the speed-up, and how far apart their training accuracy, test accuracy and importances
are (next to the same distances between scikit-learn with seeds 0 and 1, its own tie noise).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gbt.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from dislab.metrics._gbt import ExactGradientBoosting  # noqa: E402


def problem(n: int, num_classes: int, seed: int = 0, num_features: int = 10):
    rs = np.random.RandomState(seed)
    x = rs.normal(size=(2 * n, num_features))
    score = x @ rs.normal(size=num_features) + rs.normal(size=2 * n)
    y = np.clip((score * num_classes / 4 + num_classes / 2).astype(int), 0, num_classes - 1)
    return x[:n], y[:n], x[n:], y[n:]


def timed_fit(model, x, y):
    start = time.perf_counter()
    model.fit(x, y)
    return model, time.perf_counter() - start


def distance(a, b, data):
    x, y, x_test, y_test = data
    return (
        abs(a.score(x, y) - b.score(x, y)),
        abs(a.score(x_test, y_test) - b.score(x_test, y_test)),
        float(np.abs(a.feature_importances_ - b.feature_importances_).max()),
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--classes", type=int, nargs="+", default=[3, 6, 40])
    args = parser.parse_args(argv)
    ExactGradientBoosting(0, n_estimators=2).fit(*problem(50, 3)[:2])  # compile (or load)
    print("| n | classes | scikit-learn (s) | ours (s) | speed-up | train acc. diff | "
          "test acc. diff | max importance diff | same, sklearn seed 0 vs 1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for num_classes in args.classes:
            data = problem(n, num_classes)
            reference, seconds = timed_fit(GradientBoostingClassifier(random_state=0), *data[:2])
            ours, our_seconds = timed_fit(ExactGradientBoosting(0), *data[:2])
            other = GradientBoostingClassifier(random_state=1).fit(*data[:2])
            ours_vs = "{:.4f} | {:.4f} | {:.4f}".format(*distance(ours, reference, data))
            noise = "{:.4f} / {:.4f} / {:.4f}".format(*distance(other, reference, data))
            print(f"| {n} | {num_classes} | {seconds:.1f} | {our_seconds:.2f} | "
                  f"{seconds / our_seconds:.1f}x | {ours_vs} | {noise} |", flush=True)


if __name__ == "__main__":
    main()
