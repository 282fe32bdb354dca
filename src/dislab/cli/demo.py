"""``dislab demo``: the main job of ``make run`` (a small end-to-end pass, offline)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="small end-to-end run on procedural data (make run)")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from dislab import data
    from dislab.data.preview import save_preview

    out = Path(args.out)
    previews = out / "datasets"
    previews.mkdir(parents=True, exist_ok=True)
    written = []
    for name in data.names():
        if data.info(name).make_procedural is None:
            continue
        dataset = data.get(name, source="procedural")
        path = previews / f"{name}.png"
        save_preview(dataset, path, np.random.RandomState(args.seed))
        written.append(path)
        print(f"  {name:16s} {dataset.source:10s} -> {path}", flush=True)
    print(f"\ndislab demo: {len(written)} dataset previews in {previews.resolve()}")
    return 0
