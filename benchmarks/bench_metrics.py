"""The study's full evaluation of one model, dislab (parity and fast mode) against dlib.

The nine metric configurations of ``unsupervised_study_v1`` (dlib's
``config/unsupervised_study_v1/metric_configs``) on the ``mean`` and the ``sampled``
representation (18 evaluations) of one model on dSprites (the procedural ``dsprites_full``),
with the seeds ``dlib_reproduce`` uses (``RandomState(0)``, the same for every model). The model
(``--encoder``) is by default the study's conv beta-VAE trained briefly here (``trained``,
``--train-steps``; kept under ``benchmarks/results/``), else the same architecture with its
initial weights (``random``) or a small numpy encoder (``numpy``). Every sample size is
multiplied by ``--scale`` (downstream sizes below 10 are dropped); ``--scale 1`` is the study.

dlib's side (``--dlib-python``) runs the numpy/scikit-learn metric code of the PyPI package
``disentanglement-lib`` 1.5 in its own virtual environment (with torch, to run the same
encoder), gin/absl stubbed out, on the same dataset object and the same model. dislab's side
runs ``dislab.metrics.evaluate`` with ``n_jobs`` parallel fits and, unless ``--no-cache``,
one ``CodeCache`` for both representations. Both sides give torch ``--threads`` threads.

    python benchmarks/bench_metrics.py --scale 1 --dlib-python /work/benchenv-dlib/bin/python

Each (side, mode) runs in its own process: wall time per configuration and the peak
resident memory of the process (and of its joblib workers) are recorded. Results go to
``--out`` (JSON, rewritten after every configuration) and Markdown tables to stdout.
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

#: Evaluation seeds of dlib_reproduce (drawn from RandomState(0), identical for every model).
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
#: dislab's registry name of each configuration (the others are the same).
DISLAB_NAMES = {
    "beta_vae_sklearn": "beta_vae", "factor_vae_metric": "factor_vae",
    "modularity_explicitness": "modularity", "sap_score": "sap",
}  # fmt: skip


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


def train_model(steps: int, threads: int) -> Path:
    """A beta-VAE (beta = 4, the study's conv architecture) trained ``steps`` steps on procedural
    dSprites, once: later runs reuse ``benchmarks/results/metrics-model-<steps>``."""
    from dislab.train import TrainConfig, train

    config = TrainConfig(
        model="beta_vae", hyperparameters={"beta": 4.0}, dataset="dsprites_full",
        source="procedural", steps=steps, eval_samples=640, threads=threads, progress=False,
        run_dir=str(REPO / "benchmarks" / "results" / f"metrics-model-{steps}"),
    )  # fmt: skip
    return Path(train(config))  # a finished run is not trained again


def make_encoder(args, channels: int, representation: str):
    """The representation function both sides score: ``trained`` (the model of
    :func:`train_model`), ``random`` (the study's conv encoder with its seed-0 initial
    weights) or ``numpy`` (:class:`RandomConvEncoder`)."""
    if args.encoder == "numpy":
        return getattr(RandomConvEncoder(channels), representation)
    import torch

    from dislab import models, represent

    torch.set_num_threads(args.threads)
    if args.encoder == "trained":
        return represent.load(args.model_dir, representation, seed=0,
                              precision=getattr(args, "precision", "fp32"))
    vae = models.build_vae(channels, 10, "conv", "deconv", seed=0)
    vae = vae.to(memory_format=torch.channels_last).eval()
    return represent.Representation(vae, (64, 64, channels), representation, seed=0)


def run_side(args) -> None:
    """Run the nine configurations on each representation for one (side, mode).

    dislab runs each configuration through ``dislab.metrics.evaluate``; with the cache on, one
    ``CodeCache`` serves both representations (they share the encoder). dlib calls its metric
    functions one by one. Results are rewritten to ``--partial`` after every configuration,
    so a run that is stopped keeps what it finished.
    """
    import warnings

    from dislab import data as datasets

    warnings.simplefilter("ignore")
    data = datasets.get(args.dataset, source="procedural")
    sizes = settings(args.scale)
    report: dict = {"runs": {}, "num_encoded": None}
    cache = None
    for representation in args.representations:
        representation_fn = make_encoder(args, data.observation_shape[-1], representation)
        if cache is None and args.side == "dislab" and args.cache:
            from dislab.metrics.cache import auto_cache

            cache = auto_cache(data, representation_fn)
        label = args.mode + ("-bf16" if args.precision == "bf16" else "")
        name = f"{'dlib' if args.side == 'dlib' else label}/{representation}"
        results = report["runs"].setdefault(name, {"configs": {}})["configs"]
        for config in [c for c in CONFIGS if not args.configs or c in args.configs]:
            seed = SEEDS[representation][config]
            start = time.perf_counter()
            try:
                if args.side == "dlib":
                    scores = dlib_metric(config)(
                        data, representation_fn, np.random.RandomState(seed), **sizes[config]
                    )
                else:
                    scores = dislab_evaluate(
                        config, data, representation_fn, seed, sizes[config], args, cache
                    )
            except Exception as err:  # dlib's own failures (e.g. explicitness) are data
                results[config] = {"seconds": time.perf_counter() - start, "error": repr(err)}
                continue
            seconds = time.perf_counter() - start
            scores = {k: float(np.real(v)) for k, v in scores.items() if np.ndim(v) == 0}
            results[config] = {"seconds": seconds, "scores": scores}
            print(f"  {name} {config}: {seconds:.1f} s", file=sys.stderr, flush=True)
            report["num_encoded"] = cache.num_encoded if cache else None
            _write(args.partial, report)
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # reap the workers: their peak RSS counts
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["peak_child_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    _write(args.partial, report)


def dislab_evaluate(config, data, representation_fn, seed, sizes, args, cache):
    """One configuration through ``dislab.metrics.evaluate``."""
    from dislab import metrics

    name = DISLAB_NAMES.get(config, config)
    return metrics.evaluate(
        representation_fn,
        data,
        [name],
        seed=seed,
        mode=args.mode,
        params={name: sizes},
        n_jobs=args.n_jobs,
        cache=cache or False,
        progress=False,
    )[name]


# -- driver ------------------------------------------------------------------------------------
def _write(path: str, report: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, path)


def launch(python: str, side: str, mode: str, args) -> dict:
    """One side in its own process; returns its runs (those finished if it was stopped)."""
    mode, _, precision = mode.partition("-")  # "fast-bf16": fast mode, bf16 encoder
    partial = Path(args.out).with_suffix(f".{side}-{mode}{precision}.json")
    command = [
        python, __file__, "--side", side, "--mode", mode, "--scale", str(args.scale),
        "--precision", precision or "fp32",
        "--dataset", args.dataset, "--n-jobs", str(args.n_jobs), "--encoder", args.encoder,
        "--threads", str(args.threads), "--partial", str(partial),
        "--model-dir", str(args.model_dir),
        "--representations", *args.representations,
    ]  # fmt: skip
    if args.configs:
        command += ["--configs", *args.configs]
    if not args.cache:
        command.append("--no-cache")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run(command, check=False, env=env)
    if not partial.exists():
        raise RuntimeError(f"the {side}/{mode} process failed before finishing anything")
    report = json.loads(partial.read_text())
    for run in report["runs"].values():
        run.update(
            process_seconds=time.perf_counter() - start,
            peak_rss_mb=report.get("peak_rss_mb", float("nan")),
            peak_child_rss_mb=report.get("peak_child_rss_mb", float("nan")),
            num_encoded=report["num_encoded"],
        )
    return report["runs"]


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
    if scale != 1:
        lines.append(
            f"| total / scale ({scale:g}) | "
            + " | ".join(f"{totals[n] / scale:.0f}" for n in names)
            + " |"
        )
    lines.append(
        "| speed-up vs dlib | "
        + " | ".join(_ratio(totals, "dlib/" + n.split("/")[1], n) for n in names)
        + " |"
    )
    lines.append(
        "| states encoded (cache) | "
        + " | ".join(str(runs[n].get("num_encoded") or "-") for n in names)
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


def _ratio(totals: dict, base: str, name: str) -> str:
    return f"{totals[base] / totals[name]:.1f}x" if base in totals and base != name else "-"


def summary(runs: dict) -> str:
    """Markdown: each side's total over all its representations, and its speed-up."""
    totals: dict[str, float] = {}
    for name, run in runs.items():
        side = name.split("/")[0]
        totals[side] = totals.get(side, 0.0) + sum(c["seconds"] for c in run["configs"].values())
    lines = ["| side | evaluations | total (s) | speed-up vs dlib |", "|---|---|---|---|"]
    for side, total in totals.items():
        count = sum(len(r["configs"]) for n, r in runs.items() if n.split("/")[0] == side)
        lines.append(f"| {side} | {count} | {total:.0f} | {_ratio(totals, 'dlib', side)} |")
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
    """Markdown: largest value differences, parity vs dlib, fast vs parity and the bf16
    encoder vs fp32 in fast mode."""
    pairs = [
        (f"{m}/{r}", f"{o}/{r}")
        for r in ("mean", "sampled")
        for m, o in (("dlib", "parity"), ("parity", "fast"), ("fast", "fast-bf16"))
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
    settings_used = ("scale", "dataset", "encoder", "train_steps", "threads", "n_jobs", "cache")
    report = {key: getattr(args, key) for key in settings_used}
    _write(args.out, {**report, "load_average": os.getloadavg(), "runs": runs})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--dataset", default="dsprites_full")
    parser.add_argument(
        "--sides",
        nargs="+",
        default=["dlib", "parity", "fast"],
        choices=["dlib", "parity", "fast", "fast-bf16"],
        help="run in this order",
    )
    parser.add_argument("--representations", nargs="+", default=["mean", "sampled"])
    parser.add_argument("--configs", nargs="*", default=None, choices=CONFIGS)
    parser.add_argument("--encoder", choices=["trained", "random", "numpy"], default="trained")
    parser.add_argument("--train-steps", type=int, default=2000, help="of the trained encoder")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (both sides)")
    parser.add_argument("--n-jobs", type=int, default=2, help="dislab's parallel fits")
    parser.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="dislab encodes every drawn image, as dlib does",
    )
    parser.add_argument("--dlib-python", default=None, help="python of a venv with dlib 1.5")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results_metrics.json"))
    # internal: one side in this process
    parser.add_argument("--side", choices=["dislab", "dlib"], default=None)
    parser.add_argument("--mode", default="parity")
    parser.add_argument("--precision", default="fp32", help="dislab's encoder (fast mode)")
    parser.add_argument("--partial", default=None)
    parser.add_argument("--model-dir", default=None)
    args = parser.parse_args(argv)
    if args.side:
        run_side(args)
        return
    if args.encoder == "trained":
        args.model_dir = train_model(args.train_steps, args.threads)
    runs: dict = {}
    for side in args.sides:
        if side == "dlib" and not args.dlib_python:
            continue
        python = args.dlib_python if side == "dlib" else sys.executable
        mode = "parity" if side == "dlib" else side
        runs.update(launch(python, "dlib" if side == "dlib" else "dislab", mode, args))
        save(args, runs)  # partial results survive an interrupted run
    print(table(runs, args.scale))
    print()
    print(summary(runs))
    print()
    print(value_table(runs))


if __name__ == "__main__":
    main()
