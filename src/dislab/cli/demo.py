"""``dislab demo``: the main job of ``make run``, offline on procedural data.

1. a preview of every dataset that has a generator (samples + factor traversals);
2. the ``quick`` study: all six models on procedural dSprites, trained, evaluated on every
   metric and stored (resumable: a second ``make run`` only does what is missing);
3. the HTML report of that study.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="dataset previews, the quick study and its report")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--study", default="quick", help="study preset or TOML file (default quick)")
    p.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPUs)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from dislab.analysis.report import write_report
    from dislab.study import load, run_study

    out = Path(args.out)
    print("1/3 dataset previews", flush=True)
    previews = write_previews(out / "datasets", args.seed)
    print(f"\n2/3 study {args.study!r} (resumable)", flush=True)
    study_dir = out / Path(args.study).stem
    counts = run_study(args.study, study_dir, workers=args.workers)
    print("runs: " + ", ".join(f"{n} {state}" for state, n in counts.items()), flush=True)
    print("\n3/3 report", flush=True)
    index = write_report(load(study_dir), study_dir / "report", title=study_dir.name,
                         seed=args.seed)
    print(f"\ndataset previews: {previews.resolve()}")
    print(f"study results:    {study_dir.resolve()} (dislab study status/export)")
    print(f"report:           {index.resolve()}")
    return 0


def write_previews(folder: Path, seed: int) -> Path:
    """One PNG per dataset with a generator; returns the folder."""
    import numpy as np

    from dislab import data
    from dislab.data.preview import save_preview

    folder.mkdir(parents=True, exist_ok=True)
    for name in data.names():
        if data.info(name).make_procedural is None:
            continue
        dataset = data.get(name, source="procedural")
        path = folder / f"{name}.png"
        save_preview(dataset, path, np.random.RandomState(seed))
        print(f"  {name:16s} {dataset.source:10s} -> {path}", flush=True)
    return folder
