"""``dislab evaluate``: score a trained run with the disentanglement metrics.

    dislab evaluate runs/x --representation mean --metrics all --seed 0 --mode parity
    dislab evaluate runs/x --representation mean,sampled   # both, sharing one CodeCache

Writes ``RUN_DIR/results/<representation>/<metric>.json`` (atomically, one file per metric as
soon as it is done) and prints a table of the scores. The dataset is the run's own (its
``config.json``: name, resolved source and data root) unless ``--dataset``/``--source`` say
otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

REPRESENTATIONS = ("mean", "sampled")
MODES = ("parity", "fast")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a trained run with the metrics",
        description="Compute disentanglement metrics on a run's mean or sampled representation "
        "and write RUN_DIR/results/<representation>/<metric>.json.",
    )
    p.add_argument(
        "run_dir", metavar="RUN_DIR", nargs="?", help="run directory written by `dislab train`"
    )
    p.add_argument(
        "--representation",
        default="mean",
        help="mean, sampled or mean,sampled (both share the encoded dataset states)",
    )
    p.add_argument(
        "--metrics", default="all", help="'all' or a comma-separated list (see --list-metrics)"
    )
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (and sampled noise seed)")
    p.add_argument("--mode", default="parity", choices=MODES, help="parity: dlib's estimators")
    p.add_argument("--jobs", type=int, default=1, help="parallel fits (DCI, SAP, downstream)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="METRIC.PARAM=VALUE",
        help="override a metric parameter, e.g. --set dci.num_train=1000 (repeatable)",
    )
    p.add_argument("--dataset", help="dataset name (default: the run's)")
    p.add_argument(
        "--source",
        choices=["auto", "official", "procedural"],
        help="dataset source (default: the one the run trained on)",
    )
    p.add_argument("--device", default="cpu", help="torch device of the encoder")
    p.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="encode every drawn image, as dlib does (default: each dataset state once)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--list-metrics", action="store_true", help="list metrics and parameters")
    p.set_defaults(func=cmd_evaluate)


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["dci.num_train=1000"]`` -> ``{"dci": {"num_train": 1000}}`` (values read as JSON)."""
    params: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        metric, dot, name = key.partition(".")
        if not (sep and dot and metric and name):
            raise ValueError(f"--set expects METRIC.PARAM=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params.setdefault(metric, {})[name] = value
    return params


def run_dataset(run_dir: Path, name: str | None, source: str | None):
    """The dataset a run was trained on (from its ``config.json``), or the one named."""
    from dislab import data
    from dislab.train import read_config

    config = read_config(run_dir)
    resolved = config.get("resolved", {})
    return data.get(
        name or config["dataset"],
        source=source or resolved.get("dataset_source", config.get("source", "auto")),
        root=config.get("data_root"),
    )


def _list_metrics() -> int:
    from dislab import metrics

    for name in metrics.names():
        entry = metrics.info(name)
        params = ", ".join(f"{k}={v!r}" for k, v in entry.parameters.items())
        print(f"{name}: {entry.description}\n    {params}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dislab.metrics.evaluate import resolve_metrics

    if args.list_metrics:
        return _list_metrics()
    if args.run_dir is None:
        raise ValueError("RUN_DIR is required (or use --list-metrics)")
    representations = parse_representations(args.representation)
    names = resolve_metrics(args.metrics)  # fail on a bad name before loading anything
    overrides = parse_overrides(args.set)
    data = run_dataset(Path(args.run_dir), args.dataset, args.source)
    shared: dict = {}  # one CodeCache for all representations (the same encoder)
    for representation in representations:
        _evaluate_representation(args, representation, data, names, overrides, shared)
    return 0


def parse_representations(text: str) -> list[str]:
    """``"mean,sampled"`` -> ``["mean", "sampled"]``, each checked."""
    names = list(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
    unknown = [r for r in names if r not in REPRESENTATIONS]
    if unknown or not names:
        raise ValueError(
            f"unknown representation {text!r}; valid: {', '.join(REPRESENTATIONS)} "
            "(or several, comma-separated)"
        )
    return names


def _evaluate_representation(args, representation, data, names, overrides, shared) -> None:
    """Score one representation; write its JSON files and print its table."""
    from dislab import metrics, represent
    from dislab._io import write_json
    from dislab.cli.data import format_table
    from dislab.metrics.cache import auto_cache
    from dislab.metrics.evaluate import metric_params

    run_dir = Path(args.run_dir)
    representation_fn = represent.load(
        run_dir, representation, seed=args.seed, device=args.device
    )
    if args.cache and "cache" not in shared:
        shared["cache"] = auto_cache(data, representation_fn)
    out_dir = run_dir / "results" / representation

    def save(name: str, scores: dict[str, float], seconds: float) -> None:
        write_json(
            out_dir / f"{name}.json",
            {
                "metric": name,
                "representation": representation,
                "dataset": getattr(data, "name", type(data).__name__),
                "seed": args.seed,
                "mode": args.mode,
                "params": metric_params(name, overrides.get(name, {}), args.mode, args.jobs),
                "scores": scores,
                "elapsed_time": seconds,
            },
        )

    results = metrics.evaluate(
        representation_fn,
        data,
        names,
        seed=args.seed,
        mode=args.mode,
        params=overrides,
        n_jobs=args.jobs,
        cache=shared.get("cache") or False,
        progress=not args.quiet,
        callback=save,
    )
    rows = [
        {"representation": representation, "metric": name, "score": key,
         "value": f"{value:.6g}"}
        for name, scores in results.items()
        for key, value in scores.items()
    ]
    print(format_table(rows))
    print(f"\nwritten to {out_dir}/")
