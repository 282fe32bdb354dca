"""``dislab train``: train one model of the study (resumable; a finished run is skipped).

    dislab train --model beta_vae --beta 4 --dataset dsprites_full --steps 300000 --seed 0 \\
        --out runs/x
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from dislab import models, rundir
from dislab.data.registry import SOURCE_CHOICES
from dislab.train import TrainConfig, train

_SPECIAL = {"model", "hyperparameters", "run_dir", "progress"}
_CHOICES = {"source": SOURCE_CHOICES, "precision": rundir.PRECISIONS,
            "encoder": tuple(models.ENCODERS),
            "decoder": tuple(models.DECODERS)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train one model (resumable)",
        description="Train one model; rerunning the same command resumes it, and a finished "
                    "run is not retrained. Defaults are the study's (dlib shared.gin).")
    p.add_argument("--model", default="beta_vae", choices=models.names())
    p.add_argument("--out", required=True, help="run directory")
    hyper = p.add_argument_group("hyperparameters (each model accepts its own; see "
                                 "dislab.models.hyperparameters); given only when set")
    for name, defaults in hyperparameter_flags().items():
        help_text = "default: " + ", ".join(f"{m} {v}" for m, v in defaults.items())
        default = next(iter(defaults.values()))
        if isinstance(default, bool):
            hyper.add_argument(_flag(name), action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        else:
            hyper.add_argument(_flag(name), type=type(default), default=None, help=help_text)
    options = p.add_argument_group("training options")
    for field in dataclasses.fields(TrainConfig):
        if field.name in _SPECIAL:
            continue
        default = field.default
        kind = {"threads": int, "data_root": str}.get(field.name, type(default))
        options.add_argument(_flag(field.name), type=kind, default=default,
                             choices=_CHOICES.get(field.name), help=f"(default {default})")
    options.add_argument("--quiet", action="store_true", help="no progress bar")
    options.add_argument("--recompute-results", action="store_true",
                         help="recompute a corrupt results/train.json from the final checkpoint")
    p.set_defaults(func=run)


def hyperparameter_flags() -> dict[str, dict[str, object]]:
    """Every model's hyperparameters (dlib's gin names) from the model registry:
    ``{name: {model: its default}}``."""
    flags: dict[str, dict[str, object]] = {}
    for model in models.names():
        for name, default in models.hyperparameters(model).items():
            flags.setdefault(name, {})[model] = default
    return flags


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    hyper = {k: getattr(args, k) for k in hyperparameter_flags() if getattr(args, k) is not None}
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
              if f.name not in _SPECIAL}
    return TrainConfig(model=args.model, hyperparameters=hyper, run_dir=args.out,
                       progress=not args.quiet, **values)


def run(args: argparse.Namespace) -> int:
    run_dir = train(config_from_args(args), recompute_results=args.recompute_results)
    results = rundir.read_train_results(run_dir)
    print(f"run directory: {run_dir}")
    print(json.dumps(results, indent=2))
    return 0
