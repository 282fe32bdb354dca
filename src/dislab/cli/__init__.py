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
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of any error (for bug reports)")
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
    """Run one command; returns the exit code.

    Errors in what the user gave (a bad option, a missing or corrupt file, a busy directory,
    an OS error on a path) are one line ``dislab COMMAND: error: ...`` and exit code 1;
    Ctrl-C says how to continue and exits with 130. Anything else is a bug in dislab and
    keeps its traceback, as does everything with ``--debug``.
    """
    from dislab._runtime import configure_malloc

    configure_malloc()  # what `make` sets in the environment, for a command typed in a shell
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    prefix = f"dislab {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        if args.debug:
            raise
        message = str(err) if _from_dislab(err) and str(err) else (
            "interrupted; rerun the same command to continue")
        print(f"\n{prefix}: {message}", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug or not _user_error(err):
            if not args.debug and hasattr(err, "add_note"):  # Python >= 3.11
                err.add_note(f"{prefix}: unexpected error (please report it with this "
                             "traceback)")
            raise
        print(f"{prefix}: error: {_one_line(err)}", file=sys.stderr)
        return 1


def _from_dislab(err: BaseException) -> bool:
    """Whether ``err``'s class is one of dislab's own."""
    return type(err).__module__.split(".")[0] == "dislab"


def _user_error(err: Exception) -> bool:
    """A problem with what the user gave or with the machine (one line), not a bug: a bad
    value or name, a file or OS error, a missing optional package, or one of dislab's own
    runtime errors (a busy directory, a diverged run, a result that could not be written)."""
    if isinstance(err, ValueError | KeyError | OSError | ImportError):
        return True
    return isinstance(err, RuntimeError) and _from_dislab(err)


def _one_line(err: Exception) -> str:
    """The message of a user error, on one line; an OS error names its path."""
    if isinstance(err, KeyError) and err.args:
        message = str(err.args[0])
    elif isinstance(err, OSError) and err.strerror and err.filename is not None:
        message = f"{err.strerror[:1].lower()}{err.strerror[1:]}: {err.filename}"
        if err.filename2 is not None:
            message += f" -> {err.filename2}"
    else:
        message = str(err) or type(err).__name__
    return " ".join(message.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
