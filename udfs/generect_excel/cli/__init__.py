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
from ..errors import GenerectError, whole_text

__all__ = ["build_parser", "main"]

# Command-group modules, in the order their commands appear in --help.
COMMAND_MODULES = [
    "core",
    "spend",
    "store",
    "reconcile",
    "leads",
    "companies",
    "picks",
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
    _verbose_anywhere(parser)
    return parser


def _verbose_anywhere(parser: argparse.ArgumentParser) -> None:
    """Accept ``-v`` after the command too (``generect-excel spend -v``), as people type it.

    SUPPRESS as the default: a subcommand that was not given ``-v`` must not reset a ``-v``
    given before the command.
    """
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sub in set(action.choices.values()):
            if "--verbose" not in sub._option_string_actions:
                options = [o for o in ("-v", "--verbose") if o not in sub._option_string_actions]
                sub.add_argument(
                    *options,
                    dest="verbose",
                    action="store_true",
                    default=argparse.SUPPRESS,
                    help="show error details (never the API key)",
                )
            _verbose_anywhere(sub)


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
        # A terminal has room for the whole message (a cell gets the short str(exc)); several
        # criteria problems go one per line.
        text = whole_text(exc)
        print("error: " + text.replace("\n", "\n  "), file=sys.stderr)
        problems = getattr(exc, "problems", None) or ()
        shown = (exc.message, exc.full_message, "\n".join(problems))
        if args.verbose and exc.details not in shown:
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
