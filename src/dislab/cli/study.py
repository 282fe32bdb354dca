"""``dislab study plan|run|status|export|import-dlib|rebuild|add``: studies from TOML files or
presets.

    dislab study plan quick                       # runs, evaluations, time and disk estimates
    dislab study run quick --out out/quick        # resumable: rerun to continue
    dislab study run paper --out /shared/paper --backend ray --ray-address auto
    dislab study status out/quick                 # counts by state, the failures
    dislab study export out/quick --format csv    # one row per run, one column per score
    dislab study import-dlib results.json --out out/dlib
    dislab study rebuild out/quick                # a damaged results.sqlite, from runs/
    dislab study add out/quick runs/mine          # your own run, scored the study's way
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

STUDY_HELP = ("a study TOML file or a preset name (paper, quick, findings, dsprites-small, tiny, "
              "weak, weak-quick)")


def register(subparsers) -> None:
    p = subparsers.add_parser("study", help="plan, run and inspect studies",
                              description="Studies: many models x hyperparameters x seeds x "
                                          "datasets, trained, evaluated and stored.")
    sub = p.add_subparsers(dest="study_command", metavar="SUBCOMMAND", required=True)

    plan = sub.add_parser("plan", help="runs, evaluations, estimated time and disk")
    plan.add_argument("study", help=STUDY_HELP)
    plan.add_argument("--workers", type=int, default=None,
                      help="parallel runs, as for `study run` (default: one per CPU)")
    plan.add_argument("--threads", type=int, default=None,
                      help="torch threads per run, as for `study run` (default: the CPUs "
                           "shared out among the workers); the timings use this many")
    plan.add_argument("--no-measure", action="store_true",
                      help="only count (no timing of a training step and the metrics)")
    plan.set_defaults(func=cmd_plan)

    run = sub.add_parser("run", help="train, evaluate and store every run (resumable)")
    run.add_argument("study", help=STUDY_HELP)
    run.add_argument("--out", required=True, help="study directory (results.sqlite, runs/)")
    run.add_argument("--backend", default="local", choices=["local", "ray"])
    run.add_argument("--workers", type=int, default=None,
                     help="parallel runs (default: one per CPU)")
    run.add_argument("--threads", type=int, default=None, help="torch threads per run")
    run.add_argument("--device", default=None, help="training device (default: the study's)")
    run.add_argument("--gpus", type=float, default=0, help="GPUs per run (Ray backend)")
    run.add_argument("--ray-address", default=None,
                     help="address of a Ray cluster ('auto' = the running one); "
                          "default: start a local instance")
    run.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    run.add_argument("--max-attempts", type=int, default=3,
                     help="tries per run when its worker dies (default 3)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="runs by state and the failures")
    status.add_argument("dir", help="study directory")
    status.set_defaults(func=cmd_status)

    export = sub.add_parser("export", help="write the results table (one row per run)")
    export.add_argument("dir", help="study directory")
    export.add_argument("--format", default="csv", choices=["csv", "parquet"])
    export.add_argument("--out", default=None, help="file (default: DIR/results.<format>)")
    export.set_defaults(func=cmd_export)

    imp = sub.add_parser("import-dlib", help="add dlib's aggregated results JSON to a store")
    imp.add_argument("json", help="the file written by dlib_aggregate_results")
    imp.add_argument("--out", required=True, help="study directory (created if needed)")
    imp.set_defaults(func=cmd_import)

    rebuild = sub.add_parser(
        "rebuild", help="rebuild results.sqlite from study.toml and the run directories",
        description="Rebuild a study's results store from its study file and run directories: "
                    "the old results.sqlite is moved aside (never deleted), runs complete on "
                    "disk are recorded done with their scores, the others pending (`dislab "
                    "study run` continues them).")
    rebuild.add_argument("dir", help="study directory")
    rebuild.add_argument("--study", default=None,
                         help="the study file or preset the directory was run with "
                              "(default: DIR/study.toml)")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(func=cmd_rebuild)

    add = sub.add_parser(
        "add", help="score runs trained outside the study the study's way, as external runs",
        description="Score run directories trained outside the study (`dislab train`, any "
                    "model, on one of the study's datasets) with the study's own evaluation "
                    "(its metrics and parameters, metric mode, representations, evaluation "
                    "seeds) and store each as an external run: shown among the study's runs "
                    "in the report, never part of its statistics. A run already in the study "
                    "is not scored again.")
    add.add_argument("dir", help="study directory")
    add.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                     help="run directory written by `dislab train`")
    add.add_argument("--study", default=None,
                     help="the study file or preset the directory was run with "
                          "(default: DIR/study.toml)")
    add.add_argument("--allow-unfinished", action="store_true",
                     help="score the latest checkpoint of a run whose training is not finished")
    add.add_argument("--device", default="cpu", help="torch device of the encoder")
    add.add_argument("--quiet", action="store_true", help="no progress bar")
    add.set_defaults(func=cmd_add)


def cmd_plan(args: argparse.Namespace) -> int:
    from dislab.study import spec as study_spec
    from dislab.study.plan import default_threads, estimate

    spec = study_spec.load(args.study)
    print(f"study {spec.name}: {spec.description}")
    print(f"  runs         {spec.num_runs:,} = {len(spec.datasets)} dataset(s) x "
          f"{sum(len(m.grid()) for m in spec.models)} model setting(s) x "
          f"{len(spec.seeds)} seed(s)")
    print(f"  evaluations  {spec.num_evaluations:,} ({len(spec.evaluations)} "
          "(representation, metric) pairs per run)")
    if args.no_measure:
        return 0
    print("measuring training steps and every metric at reduced size ...", flush=True)
    workers, threads = default_threads(args.workers, args.threads)
    with warnings.catch_warnings():  # convergence warnings of the tiny timing fits
        warnings.simplefilter("ignore")
        est = estimate(spec, threads=threads)
    total = est["run_seconds"] * spec.num_runs
    print(f"  device       {est['device']} ({est['dataset']}, {est['threads']} thread(s))")
    print(f"  per run      {_duration(est['train_seconds'])} training "
          f"({_ms(est['step_seconds'])}/step x {est['steps']:,} steps, median of "
          f"{est['steady_steps']} after {est['warmup_steps']} warm-up; "
          f"{_duration(est['overhead_seconds'])} overhead) + "
          f"{_duration(est['eval_seconds'])} evaluation")
    print(f"  compute      {total / 3600:,.1f} device-hours; {_duration(total / workers)} "
          f"with {workers} worker(s)")
    print(f"  disk         {_size(est['disk_bytes'] * spec.num_runs)} "
          f"({_size(est['disk_bytes'])} per run)")
    print(f"  load         {_loads(est)} on {est['cpus']} CPU(s) while measuring")
    print("  (estimates: training from the measured step time; metrics extrapolated linearly "
          "in their sample sizes)")
    if est["busy"]:
        print(f"warning: the machine was busy (load above its {est['cpus']} CPU(s)): the "
              f"times above are inflated, roughly by a factor of {est['load_factor']:.1f}; "
              "plan again on an idle machine for a better estimate")
    return 0


def _loads(est: dict) -> str:
    shown = ["?" if x is None else f"{x:.2f}" for x in (est["load_before"], est["load_after"])]
    return f"load average {shown[0]} before, {shown[1]} after"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def cmd_run(args: argparse.Namespace) -> int:
    from dislab.study.runner import run_study

    try:
        counts = run_study(args.study, args.out, backend=args.backend, workers=args.workers,
                           threads=args.threads, device=args.device,
                           ray_address=args.ray_address, gpus=args.gpus,
                           retry_failed=args.retry_failed, max_attempts=args.max_attempts,
                           progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted: rerun the same command to continue ({args.out})",
              file=sys.stderr)
        return 130
    print(_counts(counts))
    print(f"results: {Path(args.out) / 'results.sqlite'}; "
          f"`dislab study export {args.out}` writes a table")
    return 1 if counts["failed"] else 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def cmd_status(args: argparse.Namespace) -> int:
    from dislab.study.store import EXTERNAL, Store

    with Store(args.dir, create=False) as store:
        name = store.get_meta("name") or "?"
        counts, failures = store.counts(), store.failures()
        runs = store.runs_frame()
        external = runs[runs["origin"] == EXTERNAL]
        print(f"study {name} in {args.dir}: {sum(counts.values())} runs: {_counts(counts)}")
        if len(external):
            print(f"  and {len(external)} external run(s) (`dislab study add`, not part of "
                  f"the study): {', '.join(map(str, external['model_num']))}")
        for model_num, reason in failures:
            print(f"  failed {model_num}: {reason}")
        if failures:
            print("rerun with `dislab study run FILE --out DIR --retry-failed` to retry them")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from dislab.study.store import export

    path = export(args.dir, args.out or Path(args.dir) / f"results.{args.format}", args.format)
    print(f"written {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from dislab.study.store import Store

    with Store(args.out) as store:
        n = store.import_dlib(args.json)
        print(f"imported {n} dlib runs into {store.path}")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from dislab.study.runner import SPEC_FILE, rebuild

    result = rebuild(args.dir, args.study, progress=not args.quiet)
    if result["moved"] is not None:
        why = f"damaged: {result['damage']}" if result["damage"] else "replaced"
        print(f"the old store is kept as {result['moved']} ({why})")
    counts = result["counts"]
    print(f"rebuilt {Path(args.dir) / 'results.sqlite'} from {Path(args.dir) / 'runs'}: "
          f"{sum(counts.values())} runs: {_counts(counts)}")
    if result["external"]:
        print(f"kept {result['external']} external run(s) (from {Path(args.dir) / 'external'})")
    if counts["pending"] or counts["running"]:
        study = args.study or Path(args.dir) / SPEC_FILE
        print(f"continue the others with `dislab study run {study} --out {args.dir}`")
    return 0


ADD_MESSAGES = {
    "added": "{run_dir}: added as external run {model_num}",
    "rescored": "{run_dir}: external run {model_num}, re-scored with the study's evaluation "
                "(it changed since the run was added)",
    "present": "{run_dir}: already in the study (run {model_num}); nothing re-scored",
}


def cmd_add(args: argparse.Namespace) -> int:
    from dislab import study
    from dislab.analysis.placement import placement
    from dislab.cli.data import format_table

    added = study.add_runs(args.dir, args.run_dirs, study=args.study,
                           allow_unfinished=args.allow_unfinished, device=args.device,
                           progress=not args.quiet)
    for entry in added:
        print(ADD_MESSAGES[entry.status].format(run_dir=entry.run_dir,
                                                model_num=entry.model_num))
    external = [a.model_num for a in added if a.model_num < 0]
    if external:
        table = placement(study.load(args.dir))
        mine = table[table["model_num"].isin(external)]
        print("\namong the study's finished runs on the same dataset (percentile: 0 below "
              "every run, 100 above every run):")
        print(format_table([{"run": str(r.model_num), "name": r.name, "metric": r.metric,
                             "value": f"{r.value:.4g}", "percentile": f"{r.percentile:.0f}",
                             "of": str(r.n)} for r in mine.itertuples()]))
        print(f"`dislab report {args.dir}` marks them on the figures")
    return 0
