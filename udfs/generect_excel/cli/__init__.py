"""The ``generect-excel`` command: a thin argparse adapter over the package's API.

Each command group lives in its own module under this package and exposes
``register(subparsers)``, which adds its parsers and sets ``handler=`` on each. A handler takes
the parsed ``argparse.Namespace`` and returns an exit code. Handlers import what they need
lazily, so ``generect-excel --help`` stays fast. The CLI is the composition root: it is the one
place that wires the edges (sandbox, refresher, add-in installer) together.

Example::

    generect-excel check-criteria criteria.toml --mode database
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import GenerectError

__all__ = ["build_parser", "main"]

# Command-group modules, in the order their commands appear in --help.
COMMAND_MODULES = [
    "core",
    "spend",
    "store",
    "reconcile",
    "leads",
    "addin",
    "templates",
    "refresh",
    "sandbox",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="generect-excel",
        description="Generect lead data for Excel workbooks, never paid for twice.",
    )
    parser.add_argument("--version", action="version", version=f"generect-excel {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show error details (never the API key)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``generect-excel`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args) or EXIT_OK)
    except GenerectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.verbose and exc.details != exc.message:
            print(exc.details, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`generect-excel spend | head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        # A file the command reads or writes, refused by the system after the checks each
        # command makes first (a disk filling up, a folder changed meanwhile): one line that
        # names the path, never a traceback.
        where = exc.filename or "a file"
        print(
            f"error: cannot use {where} ({exc.strerror or type(exc).__name__}): check the path "
            "and that you may write there, or choose another.",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
