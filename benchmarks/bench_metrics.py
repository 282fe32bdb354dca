"""The study's full evaluation of one model, dislab (parity and fast mode) against dlib.

The nine metric configurations of ``unsupervised_study_v1`` (spec 4.10) on the ``mean`` and
the ``sampled`` representation (18 evaluations) of a fixed random conv encoder on dSprites
(the procedural ``dsprites_full``), with the seeds ``dlib_reproduce`` uses (spec 8.1).
Every sample size is multiplied by ``--scale`` (downstream sizes below 10 are dropped), so
a run fits a shared 2-core box; times are also reported divided by the scale, a linear
extrapolation to the study sizes (gradient boosting grows slightly faster than linearly, so
the extrapolation is a mild underestimate for both sides alike).

dlib's side (``--dlib-python``) runs the numpy/scikit-learn metric code of the PyPI package
``disentanglement-lib`` 1.5 in its own virtual environment, with gin/absl stubbed out, on
the same dataset object and the same encoder, hence on identical codes.

    python benchmarks/bench_metrics.py --scale 0.1 --dlib-python /work/benchenv-dlib/bin/python

Each (side, mode, representation) runs in its own process: wall time per configuration and
the peak resident memory of the process (and of its joblib workers) are recorded. Results go
to ``--out`` (JSON) and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

#: Evaluation seeds of dlib_reproduce (identical for every model; spec 8.1).
SEEDS = {
    "mean": {
        "beta_vae_sklearn": 3071714933, "factor_vae_metric": 2340255427, "mig": 3638918503,
        "modularity_explicitness": 1819583497, "dci": 3626093760, "sap_score": 2678185683,
        "unsupervised": 2774094101, "downstream_task_logistic_regression": 3684848379,
        "downstream_task_boosted_trees": 2588848963,
    },
    "sampled": {
        "beta_vae_sklearn": 1650906866, "factor_vae_metric": 243580376, "mig": 4138900056,
        "modularity_explicitness": 1171049868, "dci": 1879422756, "sap_score": 1646868794,
        "unsupervised": 2051556033, "downstream_task_logistic_regression": 3830135878,
        "downstream_task_boosted_trees": 1277901399,
    },
}  # fmt: skip
CONFIGS = tuple(SEEDS["mean"])
DOWNSTREAM_SIZES = (10, 100, 1000, 10000)


# -- the fixed random conv encoder (numpy only: it runs in dlib's environment too) -----------
class RandomConvEncoder:
    """A seeded, untrained conv encoder ``[N, 64, 64, C] -> (mean [N, 10], logvar [N, 10])``.

    4x4 average pooling to 16x16, then two ReLU convolutions whose kernel equals their stride
    (2x2: C -> 16 channels, 2x2: 16 -> 32 channels, i.e. 8x8 then 4x4 maps), then a linear
    layer 512 -> 20; Glorot-uniform weights from ``RandomState(seed)``. The sampled code is
    ``mean + exp(logvar / 2) * eps`` where ``eps`` is a fixed pseudo-random function of the
    image (so both sides see the same codes however they batch the calls).
    """

    def __init__(self, channels: int, seed: int = 0, code_size: int = 10):
        rs = np.random.RandomState(seed)
        self.w1 = _glorot(rs, 4 * channels, 16)
        self.w2 = _glorot(rs, 4 * 16, 32)
        self.w3 = _glorot(rs, 4 * 4 * 32, 2 * code_size)
        self.noise = rs.normal(size=(16 * 16 * channels, code_size)) * 50.0
        self.code_size = code_size

    def _pooled(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        return x.reshape(n, h // 4, 4, w // 4, 4, c).mean(axis=(2, 4))

    def _conv(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        patches = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
        return np.maximum(patches.reshape(n, h // 2, w // 2, 4 * c) @ weight, 0.0)

    def gaussian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pooled = self._pooled(np.asarray(x, dtype=np.float32))
        hidden = self._conv(self._conv(pooled, self.w1), self.w2)
        out = hidden.reshape(len(x), -1) @ self.w3
        return pooled, out[:, : self.code_size], 0.5 * out[:, self.code_size :] - 1.0

    def mean(self, x: np.ndarray) -> np.ndarray:
        return self.gaussian(x)[1].astype(np.float64)

    def sampled(self, x: np.ndarray) -> np.ndarray:
        pooled, mu, logvar = self.gaussian(x)
        eps = np.sqrt(2.0) * np.sin(pooled.reshape(len(x), -1) @ self.noise)
        return (mu + np.exp(logvar / 2.0) * eps).astype(np.float64)


def _glorot(rs: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rs.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


# -- study settings at a scale ------------------------------------------------------------------
def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def settings(scale: float) -> dict[str, dict]:
    """Size parameters of the nine configurations, dlib's parameter names."""
    downstream = [n for n in (scaled(m, scale) for m in DOWNSTREAM_SIZES) if n >= 10]
    train, test = scaled(10000, scale), scaled(5000, scale)
    both = {"num_train": train, "num_test": test}
    return {
        "beta_vae_sklearn": {"batch_size": 64, "num_train": train, "num_eval": test},
        "factor_vae_metric": {"batch_size": 64, "num_train": train, "num_eval": test,
                              "num_variance_estimate": train},
        "mig": {"num_train": train},
        "modularity_explicitness": both,
        "dci": both,
        "sap_score": both,
        "unsupervised": {"num_train": train},
        "downstream_task_logistic_regression": {"num_train": downstream, "num_test": test},
        "downstream_task_boosted_trees": {"num_train": downstream, "num_test": test},
    }  # fmt: skip


# -- one side ----------------------------------------------------------------------------------
def dislab_metric(config: str, mode: str, n_jobs: int):
    """``fn(data, representation_fn, rng, **sizes)`` of dislab's metric for ``config``."""
    from dislab.metrics import registry

    name = {
        "beta_vae_sklearn": "beta_vae", "factor_vae_metric": "factor_vae",
        "modularity_explicitness": "modularity", "sap_score": "sap",
    }.get(config, config)  # fmt: skip
    info = registry.info(name)
    extra = {k: v for k, v in {"mode": mode, "n_jobs": n_jobs}.items() if k in info.parameters}

    def run(data, representation_fn, rng, **sizes):
        return info.fn(data, representation_fn, rng, **sizes, **extra)

    return run


def dlib_metric(config: str):
    """dlib's function for ``config``, gin bindings of the study applied by hand."""
    _stub_tf_side_modules()
    from disentanglement_lib.evaluation.metrics import (
        beta_vae,
        dci,
        downstream_task,
        factor_vae,
        mig,
        modularity_explicitness,
        sap_score,
        unsupervised_metrics,
        utils,
    )

    def discretizer(target, num_bins=20):
        return utils._histogram_discretize(target, num_bins)

    utils.make_discretizer = discretizer
    prune = factor_vae.__dict__.setdefault("unpatched_prune_dims", factor_vae._prune_dims)
    factor_vae._prune_dims = lambda variances, threshold=0.05: prune(variances, threshold)

    def downstream(predictor):
        def run(*args, **kwargs):
            utils.make_predictor_fn = lambda: predictor
            return downstream_task.compute_downstream_task(*args, **kwargs)

        return run

    return {
        "beta_vae_sklearn": beta_vae.compute_beta_vae_sklearn,
        "factor_vae_metric": factor_vae.compute_factor_vae,
        "mig": mig.compute_mig,
        "modularity_explicitness": modularity_explicitness.compute_modularity_explicitness,
        "dci": dci.compute_dci,
        "sap_score": lambda *a, **k: sap_score.compute_sap(*a, continuous_factors=False, **k),
        "unsupervised": unsupervised_metrics.unsupervised_metrics,
        "downstream_task_logistic_regression": downstream(utils.logistic_regression_cv),
        "downstream_task_boosted_trees": downstream(utils.gradient_boosting_classifier),
    }[config]


def _stub_tf_side_modules() -> None:
    """Minimal ``gin``/``gin.tf`` and ``absl.logging`` so dlib's metric modules import."""
    import types

    if "gin" in sys.modules:
        return
    gin = types.ModuleType("gin")
    gin.REQUIRED = object()
    gin.configurable = lambda *a, **k: lambda fn: fn
    gin.tf = gin
    absl = types.ModuleType("absl")
    absl.logging = types.SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None)
    sys.modules.update({"gin": gin, "gin.tf": gin, "absl": absl, "absl.logging": absl.logging})


def run_side(args) -> dict:
    """Run the nine configurations for one (side, mode, representation); return the results."""
    import warnings

    from dislab import data as datasets

    warnings.simplefilter("ignore")
    data = datasets.get(args.dataset, source="procedural")
    encoder = RandomConvEncoder(channels=data.observation_shape[-1])
    representation_fn = getattr(encoder, args.representation)
    results = {}
    for config, sizes in settings(args.scale).items():
        if args.configs and config not in args.configs:
            continue
        rng = np.random.RandomState(SEEDS[args.representation][config])
        if args.side == "dlib":
            fn = dlib_metric(config)
        else:
            fn = dislab_metric(config, args.mode, args.n_jobs)
        start = time.perf_counter()
        try:
            scores = fn(data, representation_fn, rng, **sizes)
        except Exception as err:  # dlib's own failures (e.g. explicitness, spec 7.4) are data
            results[config] = {"seconds": time.perf_counter() - start, "error": repr(err)}
            continue
        elapsed = time.perf_counter() - start
        scores = {k: float(np.real(v)) for k, v in scores.items() if np.ndim(v) == 0}
        results[config] = {"seconds": elapsed, "scores": scores}
        print(
            f"  {args.side}/{args.mode}/{args.representation} {config}: {elapsed:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # reap the workers: their peak RSS counts
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"configs": results, "peak_rss_mb": usage / 1024, "peak_child_rss_mb": children / 1024}


# -- driver ------------------------------------------------------------------------------------
def launch(python: str, side: str, mode: str, representation: str, args) -> dict:
    command = [
        python, __file__, "--side", side, "--mode", mode, "--representation", representation,
        "--scale", str(args.scale), "--dataset", args.dataset, "--n-jobs", str(args.n_jobs),
    ]  # fmt: skip
    if args.configs:
        command += ["--configs", *args.configs]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    sys.stderr.write(out.stderr)
    result = json.loads(out.stdout)
    result["process_seconds"] = time.perf_counter() - start
    return result


def table(runs: dict, scale: float) -> str:
    """Markdown: seconds per configuration for each run, totals, extrapolation."""
    names = list(runs)
    lines = [
        "| configuration | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for config in CONFIGS:
        cells = []
        for name in names:
            entry = runs[name]["configs"].get(config)
            if entry is None:
                cells.append("-")
            else:
                cells.append(f"{entry['seconds']:.1f}" + (" (failed)" if "error" in entry else ""))
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    totals = {n: sum(c["seconds"] for c in runs[n]["configs"].values()) for n in names}
    lines.append("| **total (s)** | " + " | ".join(f"{totals[n]:.1f}" for n in names) + " |")
    lines.append(
        f"| total / scale ({scale:g}) | "
        + " | ".join(f"{totals[n] / scale:.0f}" for n in names)
        + " |"
    )
    lines.append(
        "| peak RSS (MB, self / workers) | "
        + " | ".join(
            f"{runs[n]['peak_rss_mb']:.0f} / {runs[n]['peak_child_rss_mb']:.0f}" for n in names
        )
        + " |"
    )
    return "\n".join(lines)


def differences(runs: dict, base: str, other: str) -> dict[str, tuple[str, float]]:
    """Per configuration: the key whose value differs most between two runs, and by how much."""
    out = {}
    for config in CONFIGS:
        a = runs.get(base, {}).get("configs", {}).get(config, {}).get("scores")
        b = runs.get(other, {}).get("configs", {}).get(config, {}).get("scores")
        if a and b:
            shared = [k for k in a if k in b and np.isfinite(a[k]) and np.isfinite(b[k])]
            key = max(shared, key=lambda k: abs(a[k] - b[k]))
            out[config] = (key, abs(a[key] - b[key]))
    return out


def value_table(runs: dict) -> str:
    """Markdown: largest value differences, parity vs dlib and fast vs parity."""
    pairs = [
        (f"{m}/{r}", f"{o}/{r}")
        for r in ("mean", "sampled")
        for m, o in (("dlib", "parity"), ("parity", "fast"))
        if f"{m}/{r}" in runs and f"{o}/{r}" in runs
    ]
    lines = [
        "| configuration | " + " | ".join(f"{a} vs {b}" for a, b in pairs) + " |",
        "|---|" + "---|" * len(pairs),
    ]
    diffs = [differences(runs, a, b) for a, b in pairs]
    for config in CONFIGS:
        cells = [f"{d[config][1]:.3f} ({d[config][0]})" if config in d else "-" for d in diffs]
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save(args, runs: dict) -> None:
    """Write the report atomically to ``args.out``."""
    report = {
        "scale": args.scale,
        "dataset": args.dataset,
        "n_jobs": args.n_jobs,
        "load_average": os.getloadavg(),
        "runs": runs,
    }
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, args.out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--dataset", default="dsprites_full")
    parser.add_argument("--modes", nargs="+", default=["parity", "fast"])
    parser.add_argument("--representations", nargs="+", default=["mean", "sampled"])
    parser.add_argument("--configs", nargs="*", default=None, choices=CONFIGS)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--dlib-python", default=None, help="python of a venv with dlib 1.5")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results_metrics.json"))
    # internal: one side in this process
    parser.add_argument("--side", choices=["dislab", "dlib"], default=None)
    parser.add_argument("--mode", default="parity")
    parser.add_argument("--representation", default="mean")
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(run_side(args)))
        return
    runs: dict = {}
    plan = [
        (side, mode, representation)
        for representation in args.representations
        for side, mode in ([("dlib", "parity")] if args.dlib_python else [])
        + [("dislab", m) for m in args.modes]
    ]
    for side, mode, representation in plan:
        python = args.dlib_python if side == "dlib" else sys.executable
        name = f"{'dlib' if side == 'dlib' else mode}/{representation}"
        runs[name] = launch(python, side, mode, representation, args)
        save(args, runs)  # partial results survive an interrupted run
    print(table(runs, args.scale))
    print()
    print(value_table(runs))


if __name__ == "__main__":
    main()
