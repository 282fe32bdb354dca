"""``dislab train``: train one model of the study (resumable; a finished run is skipped).

    dislab train --model beta_vae --beta 4 --dataset dsprites_full --steps 300000 --seed 0 \\
        --out runs/x
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from dislab import models
from dislab.train import RESULTS_FILE, TrainConfig, train

# Hyperparameter flags: the study's names (dlib gin names), passed only when given.
HYPERPARAMETERS = {"beta": float, "gamma": float, "c_max": float, "iteration_threshold": int,
                   "lambda_od": float, "lambda_d_factor": float, "dip_type": str}
_SPECIAL = {"model", "hyperparameters", "run_dir", "progress"}
_CHOICES = {"source": ("auto", "official", "procedural"), "encoder": tuple(models.ENCODERS),
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
                                 "dislab.models.hyperparameters)")
    for name, kind in HYPERPARAMETERS.items():
        hyper.add_argument(_flag(name), type=kind, default=None)
    hyper.add_argument("--dlib-step-parity", action=argparse.BooleanOptionalAction,
                       default=None, help="factor_vae: count 2 global steps per iteration "
                                          "like dlib (default: on)")
    options = p.add_argument_group("training options")
    for field in dataclasses.fields(TrainConfig):
        if field.name in _SPECIAL:
            continue
        default = field.default
        kind = {"threads": int, "data_root": str}.get(field.name, type(default))
        options.add_argument(_flag(field.name), type=kind, default=default,
                             choices=_CHOICES.get(field.name), help=f"(default {default})")
    options.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    hyper = {k: getattr(args, k) for k in (*HYPERPARAMETERS, "dlib_step_parity")
             if getattr(args, k) is not None}
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
              if f.name not in _SPECIAL}
    return TrainConfig(model=args.model, hyperparameters=hyper, run_dir=args.out,
                       progress=not args.quiet, **values)


def run(args: argparse.Namespace) -> int:
    run_dir = train(config_from_args(args))
    results = json.loads((run_dir / RESULTS_FILE).read_text())
    print(f"run directory: {run_dir}")
    print(json.dumps(results, indent=2))
    return 0
