"""``dislab evaluate``: score a trained run with the disentanglement metrics.

    dislab evaluate runs/x --representation mean --metrics all --seed 0 --mode parity
    dislab evaluate runs/x --representation mean,sampled   # both, sharing one CodeCache
    dislab evaluate runs/x --allow-unfinished              # a checkpoint of a running run

Writes ``RUN_DIR/results/<representation>/<metric>.json`` through
:func:`dislab.scoring.score_run` (the study's format: seeds, mode, parameters, the scored
checkpoint's step), one file per metric as soon as it is done, reusing a stored result of
the same request, and prints a table of the scores. ``--seed`` is both the metrics' seed and
the ``sampled`` representation's noise seed. The dataset is the run's own (its
``config.json``: name, resolved source and data root) unless ``--dataset``/``--source`` say
otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dislab.data.registry import SOURCE_CHOICES
from dislab.rundir import PRECISIONS, REPRESENTATIONS, RESULTS_DIR


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
    p.add_argument("--mode", default="parity",
                   help="parity (dlib's estimators, the default) or fast")
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
        choices=SOURCE_CHOICES,
        help="dataset source (default: the one the run trained on)",
    )
    p.add_argument("--device", default="cpu", help="torch device of the encoder")
    p.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="encode every drawn image, as dlib does (default: each dataset state once)",
    )
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="the encoder's precision: bf16 (or auto: bf16 where native) speeds up "
                        "encoding in fast mode; parity mode always encodes in fp32")
    p.add_argument("--allow-unfinished", action="store_true",
                   help="score the latest checkpoint of a run whose training is not finished")
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


def _list_metrics() -> int:
    from dislab import metrics

    for name in metrics.names():
        entry = metrics.info(name)
        params = ", ".join(f"{k}={v!r}" for k, v in entry.parameters.items())
        print(f"{name}: {entry.description}\n    {params}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dislab.cli.data import format_table
    from dislab.metrics.evaluate import resolve_metrics
    from dislab.metrics.registry import MODES
    from dislab.scoring import Evaluation, run_dataset, score_run

    if args.list_metrics:
        return _list_metrics()
    if args.run_dir is None:
        raise ValueError("RUN_DIR is required (or use --list-metrics)")
    if args.mode not in MODES:
        raise ValueError(f"unknown mode {args.mode!r}; valid: {', '.join(MODES)}")
    representations = parse_representations(args.representation)
    names = resolve_metrics(args.metrics)  # fail on a bad name before loading anything
    overrides = parse_overrides(args.set)
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"--set names metrics not evaluated: {', '.join(unknown)}")
    evaluations = [Evaluation(rep, name, args.seed, args.seed, overrides.get(name, {}))
                   for rep in representations for name in names]
    records = score_run(
        args.run_dir, evaluations, data=run_dataset(args.run_dir, args.dataset, args.source),
        mode=args.mode, device=args.device, n_jobs=args.jobs, cache=args.cache,
        precision=args.precision,
        allow_unfinished=args.allow_unfinished, progress=not args.quiet)
    rows = [{"representation": r["representation"], "metric": r["metric"], "score": key,
             "value": f"{value:.6g}" if isinstance(value, float) else str(value)}
            for r in records for key, value in r["scores"].items()]
    print(format_table(rows))
    step = records[0]["global_step"] if records else "?"
    print(f"\nscored the checkpoint at step {step}; written to "
          f"{Path(args.run_dir) / RESULTS_DIR}/<representation>/<metric>.json")
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
