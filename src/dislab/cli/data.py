"""``dislab data list|show|download``."""

from __future__ import annotations

import argparse

from dislab.data.registry import SOURCE_CHOICES


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="list, preview and download datasets")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="every dataset with its factors, sizes and sources")
    p.add_argument("--root", help="data root (default: $DISLAB_DATA)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="write a PNG of random samples and factor traversals")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--source", default="auto", choices=SOURCE_CHOICES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--columns", type=int, default=10)
    p.add_argument("--root", help="data root (default: $DISLAB_DATA)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("download", help="fetch and verify the official files (needs internet)")
    p.add_argument("name")
    p.add_argument("--root", help="data root (default: $DISLAB_DATA)")
    p.set_defaults(func=cmd_download)


def dataset_table(root=None) -> list[dict[str, str]]:
    """One row per registered dataset: factors, observation shape and sources."""
    from dislab import data

    rows = []
    for name in data.names():
        entry = data.info(name)
        example = entry.make_procedural() if entry.make_procedural else None
        factors = "" if example is None else ", ".join(
            f"{n} {s}" for n, s in zip(example.factor_names, example.factor_sizes)
        )
        shape = "" if example is None else "x".join(map(str, example.observation_shape))
        official = "present" if data.official_available(name, root) else "missing"
        rows.append({
            "name": name,
            "factors": factors or "(see official file)",
            "shape": shape,
            "official file": official,
            "procedural": "yes" if entry.make_procedural else "no",
        })
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    from dislab.data import data_root

    rows = dataset_table(args.root)
    print(format_table(rows))
    print(f"\ndata root: {data_root(args.root)}  (set $DISLAB_DATA; "
          "`dislab data download NAME` fetches official files)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import numpy as np

    from dislab import data
    from dislab.data.preview import save_preview

    dataset = data.get(args.name, source=args.source, root=args.root)
    save_preview(dataset, args.out, np.random.RandomState(args.seed), columns=args.columns)
    print(f"wrote {args.out} ({dataset.name}, {dataset.source})")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from dislab.data.download import download

    root = download(args.name, args.root)
    print(f"{args.name}: official files are in {root}")
    return 0


def format_table(rows: list[dict[str, str]]) -> str:
    """Plain left-aligned text table of dict rows (same keys)."""
    if not rows:
        return "(empty)"
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines.append("  ".join("-" * widths[k] for k in keys))
    lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)
