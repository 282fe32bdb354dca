"""``dislab report STUDY_DIR --out report/``: the paper's analyses of a study as one HTML page.

    dislab report out/quick --out out/quick/report       # then open report/index.html
    dislab report out/quick --control 2                   # + the rotation experiments on 2 runs
    dislab report out/weak out/paper --out report/        # several studies as one table
    dislab report out/quick --no-gallery                  # without the models' pictures
"""

from __future__ import annotations

import argparse
from pathlib import Path

CONTROL_TEXT = (
    "Each run's mean representation r(x) is replaced by A r(x), A a random rotation or a "
    "random invertible linear map: the information stays, the axis alignment goes. For a "
    "rotation the model with encoder A mu and decoder through A^T has the same ELBO "
    "(Theorem 1 of the paper); the metrics move. Downstream accuracy that survives A shows "
    "that the representation's information, not its disentanglement, drives it.")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="figures, tables and an HTML report of a study",
        description="Run the analyses of Locatello et al. (ICML 2019) on a study's results "
                    "and write index.html with every figure (PNG) and table (CSV).")
    p.add_argument("study_dir", nargs="+",
                   help="study directory (holds results.sqlite); several are analysed as one "
                        "table, e.g. a weakly-supervised study and its unsupervised baseline")
    p.add_argument("--out", default=None,
                   help="report directory (default: the first STUDY_DIR/report)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the bootstrap and Monte Carlo draws and of the gallery's "
                        "observations (default 0)")
    p.add_argument("--resamples", type=int, default=1000,
                   help="bootstrap resamples per confidence interval (default 1000)")
    p.add_argument("--control", type=int, default=0, metavar="N",
                   help="also entangle the representations of N finished runs with random "
                        "rotations and linear maps and re-score them (minutes per run)")
    p.add_argument("--no-gallery", action="store_true",
                   help="skip the gallery of the trained models (reconstructions, traversals "
                        "and per-latent KL of every run, drawn once per checkpoint: about "
                        "0.3 s per new run)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from dislab import study
    from dislab.analysis.columns import combine
    from dislab.analysis.report import write_report
    from dislab.cli._bigger import bigger_study

    table = combine([study.load(d) for d in args.study_dir])
    first = Path(args.study_dir[0])
    out = Path(args.out) if args.out else first / "report"
    extra = {}
    if args.control < 0 or args.resamples < 1:
        raise ValueError("--control must be >= 0 and --resamples >= 1")
    if args.control:
        from dislab import control

        result = control.study_control(table, num_runs=args.control, seed=args.seed)
        extra["Control: entangled representations"] = (
            CONTROL_TEXT + " This study: " + control.summarize(result), result)
    title = " + ".join(Path(d).resolve().name for d in args.study_dir)
    gallery = None
    if not args.no_gallery:
        from dislab.viz import gallery_for_table

        gallery = gallery_for_table(table, seed=args.seed)
    index = write_report(table, out, title=title, seed=args.seed,
                         num_resamples=args.resamples, extra=extra, gallery=gallery,
                         bigger=bigger_study(out))
    print(index)
    return 0
