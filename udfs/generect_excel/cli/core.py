"""Core commands: check criteria for free (and, later, count and search through the API).

Each command here takes a criteria FILE (JSON or TOML; keys are API names or friendly labels,
an optional ``mode`` key) and ``--mode``; :func:`add_criteria_arguments` and
:func:`load_criteria` are shared so every command reads criteria the same way.

Example::

    generect-excel check-criteria examples/seed-fixed.toml --mode database
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_criteria_arguments", "load_criteria", "register"]

EXIT_OK = 0
EXIT_INVALID = 1


def add_criteria_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE and --mode, as every criteria-taking command has them."""
    parser.add_argument("file", metavar="FILE", help="criteria file (JSON or TOML)")
    parser.add_argument(
        "--mode",
        choices=("database", "realtime"),
        default=None,
        help="database (default) or realtime; overrides the file's own 'mode' key",
    )


def load_criteria(args: argparse.Namespace) -> Any:
    """The validated request from ``args.file``/``args.mode`` (raises CriteriaError)."""
    from ..criteria import criteria_from_file

    return criteria_from_file(args.file, mode=args.mode)


def check_criteria(args: argparse.Namespace) -> int:
    """Print the exact JSON body that would be sent, or every problem, one per line. Free.

    Example::

        generect-excel check-criteria criteria.toml --mode realtime
    """
    from ..errors import CriteriaError

    try:
        request = load_criteria(args)
    except CriteriaError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(request.body(), indent=2, ensure_ascii=False))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``generect-excel`` parser."""
    parser = subparsers.add_parser(
        "check-criteria",
        help="validate a criteria file and print the JSON body (free, no API call)",
        description=(
            "Validate a criteria file and print the exact JSON body that would be sent to "
            "Generect, or each problem on its own line (exit status 1). Free: no network, "
            "no API key needed. Example: generect-excel check-criteria criteria.toml"
        ),
    )
    add_criteria_arguments(parser)
    parser.set_defaults(handler=check_criteria)
