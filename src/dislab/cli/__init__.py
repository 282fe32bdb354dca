"""The ``dislab`` command line: ``dislab data|train|evaluate|viz|study|report ...``.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its sub-commands and sets ``func`` on the parsed args.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command groups, in the order `dislab --help` lists them. A module that does not exist
# yet is simply skipped, so groups can be added one at a time.
COMMAND_MODULES = ("data", "demo", "train", "viz", "evaluate", "study", "report")


def build_parser() -> argparse.ArgumentParser:
    from dislab import __version__

    parser = argparse.ArgumentParser(
        prog="dislab",
        description="Disentangled representation learning: data, models, metrics, studies.",
    )
    parser.add_argument("--version", action="version", version=f"dislab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"dislab.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"dislab.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"dislab {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
