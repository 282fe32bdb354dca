"""``dislab viz RUN_DIR``: reconstructions, prior samples, latent traversals (PNG + GIF) and
the per-latent KL bar chart of a trained run.

    dislab viz runs/b4                  # runs/b4/viz
    dislab viz runs/b4 --gallery        # runs/b4/viz/gallery: the report's few pictures
"""

from __future__ import annotations

import argparse

from dislab.viz import gallery_images, visualize


def register(subparsers) -> None:
    p = subparsers.add_parser("viz", help="pictures of a trained model",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="run directory written by `dislab train`")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/viz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-animations", type=int, default=5)
    p.add_argument("--num-frames", type=int, default=20)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--num-points", type=int, default=1000,
                   help="observations for the per-latent KL chart")
    p.add_argument("--device", default="cpu")
    p.add_argument("--gallery", action="store_true",
                   help="only the pictures of the report's gallery, in RUN_DIR/viz/gallery "
                        "(reconstructions, a traversal strip and GIF, the KL bars, thumbnails; "
                        "redrawn only for a new checkpoint); --seed and --device apply")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.gallery:
        if args.out is not None:
            raise ValueError("--out does not apply to --gallery: the gallery is written to "
                             "RUN_DIR/viz/gallery")
        paths = gallery_images(args.run_dir, seed=args.seed, device=args.device)
        print(f"gallery pictures in {paths['reconstructions'].parent}")
        return 0
    out = visualize(args.run_dir, args.out, seed=args.seed, num_animations=args.num_animations,
                    num_frames=args.num_frames, fps=args.fps, num_points=args.num_points,
                    device=args.device)
    print(f"pictures written to {out}")
    return 0
