"""``dislab demo``: the main job of ``make run``, offline on procedural data.

1. a preview of every dataset that has a generator (samples + factor traversals);
2. the ``quick`` study: all six models at two strengths and two seeds on procedural dSprites
   and Shapes3D, trained, evaluated on the paper's metrics and stored (resumable: a second
   ``make run`` only does what is missing);
3. a baseline placed among the study's models as a researcher's own model would be (PCA of
   the pixels, :func:`dislab.study.add_representation`), once per dataset;
4. the HTML report of that study: the findings with their verdicts, every analysis, the
   baseline's placement, and the gallery of the trained models (pictures drawn once per run
   and checkpoint).
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
    import time

    from dislab.analysis.report import write_report
    from dislab.cli._bigger import bigger_study
    from dislab.study import load, run_study
    from dislab.viz import gallery_for_table

    out = Path(args.out)
    print("1/4 dataset previews", flush=True)
    previews = write_previews(out / "datasets", args.seed)
    print(f"\n2/4 study {args.study!r} (resumable)", flush=True)
    study_dir = out / Path(args.study).stem
    counts = run_study(args.study, study_dir, workers=args.workers)
    print("runs: " + ", ".join(f"{n} {state}" for state, n in counts.items()), flush=True)
    print(f"\n3/4 a baseline placed among the study's models ({BASELINE})", flush=True)
    place_baseline(study_dir, args.seed)
    print("\n4/4 report", flush=True)
    table = load(study_dir)
    start = time.perf_counter()
    gallery = gallery_for_table(table, seed=args.seed)
    print(f"gallery of {len(table)} run(s): {time.perf_counter() - start:.1f} s", flush=True)
    report_dir = study_dir / "report"
    index = write_report(table, report_dir, title=study_dir.name, seed=args.seed,
                         gallery=gallery, bigger=bigger_study(report_dir, args.workers))
    print(f"\ndataset previews: {previews.resolve()}")
    print(f"study results:    {study_dir.resolve()} (dislab study status/export)")
    print(f"report:           {index.resolve()}")
    return 0


BASELINE = "pca_baseline"
PCA_COMPONENTS = 10
PCA_POINTS = 5000


def place_baseline(study_dir: Path, seed: int) -> None:
    """Score a PCA of the pixels (:data:`PCA_COMPONENTS` components, fitted on
    :data:`PCA_POINTS` observations) on each of the study's datasets with the study's own
    evaluation and store it as the external run :data:`BASELINE`, as a researcher's own model
    would be placed (skipped where it is stored already)."""
    import numpy as np
    from sklearn.decomposition import PCA

    from dislab import data
    from dislab.study import add_representation, load

    table = load(study_dir)
    placed = set(table.loc[table["model"] == BASELINE, "dataset"])
    for name, source in table.groupby("dataset")["data_source"].first().items():
        if name in placed:
            continue
        dataset = data.get(name, source=source)
        images = dataset.sample_observations(PCA_POINTS, np.random.RandomState(seed))
        pca = PCA(PCA_COMPONENTS, random_state=seed).fit(images.reshape(len(images), -1))
        add_representation(study_dir, lambda x, pca=pca: pca.transform(x.reshape(len(x), -1)),
                           name=BASELINE, dataset=name)
        print(f"  {BASELINE} on {name}: scored", flush=True)


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
