"""Core commands: check criteria for free; count and search through the engine.

Each command here takes a criteria FILE (JSON or TOML; keys are API names or friendly labels,
an optional ``mode`` key) and ``--mode``; :func:`add_criteria_arguments` and
:func:`load_criteria` are shared so every command reads criteria the same way.

Example::

    generect-excel check-criteria examples/seed-fixed.toml --mode database
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

__all__ = [
    "add_criteria_arguments",
    "check_output_folder",
    "count",
    "load_criteria",
    "open_output",
    "register",
    "register_fetch_commands",
    "search",
    "values",
]

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


def check_output_folder(path: str) -> None:
    """Refuse an output path whose folder is missing (or that is a folder) before anything is
    bought: writing it afterwards would fail with the answer already paid for."""
    from pathlib import Path

    from ..errors import GenerectError

    target = Path(path)
    problem = _output_problem(target)
    if problem:
        raise GenerectError(f"Cannot write {target}: {problem}.")


def _output_problem(target: Any) -> str | None:
    """What stops ``target`` from being written as a file, naming the path at fault (the
    missing folder, not the file that would be in it), or None."""
    if target.is_dir():
        return f"it is a folder; give a file in it, such as {target / 'leads.csv'}"
    folder = target.parent
    missing = None
    while not folder.exists() and folder != folder.parent:
        missing, folder = folder, folder.parent
    if missing is not None:
        return f"the folder {missing} does not exist; create it or choose another path"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder; choose another path"
    return None


@contextlib.contextmanager
def open_output(path: str) -> Iterator[IO[str]]:
    """A CSV file opened for writing (UTF-8 with a BOM, as Excel reads it); a failure is a
    one-line :class:`~generect_excel.errors.GenerectError`, not a traceback."""
    from pathlib import Path

    from ..errors import GenerectError

    try:
        fh = open(path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as exc:
        problem = _output_problem(Path(path)) or (exc.strerror or type(exc).__name__).lower()
        raise GenerectError(
            f"Cannot write {path}: {problem}. A stored answer costs nothing to fetch again.",
            details=f"{path}: {exc}",
        ) from None
    with fh:
        yield fh


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
    parser = subparsers.add_parser(
        "values",
        help="list the allowed values of a field (industries, seniorities, ...); free",
        description=(
            "List the values a vocabulary field accepts, one per line, as GENERECT_VALUES "
            "does in a sheet; without FIELD, the fields that have such a list. Free, offline. "
            "Example: generect-excel values industry"
        ),
    )
    parser.add_argument(
        "field",
        metavar="FIELD",
        nargs="?",
        help="a field or label: industry, seniority, company size, company type, ...",
    )
    parser.set_defaults(handler=values)
    register_fetch_commands(subparsers)


def values(args: argparse.Namespace) -> int:
    """Print a vocabulary's allowed values, one per line (free; the CLI twin of
    ``=GENERECT_VALUES``), or the fields that have one.

    Example::

        generect-excel values seniority
    """
    from ..errors import CriteriaError
    from ..vocab import allowed_values, vocabulary_names

    if not args.field:
        print("\n".join(vocabulary_names()))
        return EXIT_OK
    try:
        names = allowed_values(args.field)
    except KeyError as exc:
        raise CriteriaError(str(exc.args[0])) from None
    print("\n".join(names))
    return EXIT_OK


# -- count and search: through the engine (cache, budget, ledger) ------------------------------

DEFAULT_CLI_LIMIT = 25  # like GENERECT_SEARCH: a small page unless asked for more
CLI_CELL_WIDTH = 40  # terminal table: long values are cut for reading, never in --csv


def _engine() -> Any:
    from ..engine import Engine
    from ..settings import load_settings

    return Engine(load_settings())


def _origin(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from ..engine import Origin

    # The ledger's "workbook" column says where a charge came from: here, the criteria file.
    return Origin(workbook=f"cli:{Path(args.file).name}")


def _refresh_value(args: argparse.Namespace) -> str | None:
    import uuid

    # A value never used before: exactly one fresh fetch.
    return f"cli-{uuid.uuid4().hex}" if args.refresh else None


def _fetch(fetch: Any, request: Any, args: argparse.Namespace) -> Any:
    """``engine.count``/``engine.search`` with the command's refresh value and origin; an
    unknown outcome (answer lost or unreadable: maybe charged) is told in the CLI's words,
    one line: the CLI's way to send it again is ``--refresh``, not a refresh value."""
    from ..budget import format_money
    from ..errors import OutcomeUnknownError, ProtocolError

    try:
        return fetch(request, refresh=_refresh_value(args), origin=_origin(args))
    except (OutcomeUnknownError, ProtocolError) as exc:
        unknown = getattr(exc, "unknown_outcome", None)
        if unknown is None:
            raise
        what = "unreadable" if isinstance(exc, ProtocolError) else "lost"
        message = (
            f"Answer {what}: it may have been charged (up to {format_money(unknown.amount)}; "
            "see `generect-excel spend`). To send it again: --refresh."
        )
        error: OutcomeUnknownError | ProtocolError
        if isinstance(exc, ProtocolError):
            error = ProtocolError(message, details=exc.details, path=exc.path, may_be_charged=True)
        else:
            error = OutcomeUnknownError(message, details=exc.details, path=exc.path)
        error.unknown_outcome = unknown  # type: ignore[attr-defined]
        raise error from exc


def _print_estimate(engine: Any, request: Any, kind: str) -> int:
    from ..budget import format_money

    estimate = engine.estimate(request, kind)
    now = "free now (answer stored)" if estimate.cached else f"up to {format_money(estimate.cost)}"
    if estimate.test_mode:
        now += " (test key: not debited)"
    print(f"{estimate.mode} {kind}: {now}; fetching afresh: up to {format_money(estimate.amount)}")
    return EXIT_OK


def count(args: argparse.Namespace) -> int:
    """Count the leads matching a criteria file (database: free; realtime: billed per call).

    Prints the count on stdout and a status line (charge, cache) on stderr.

    Example::

        generect-excel count criteria.toml --mode realtime
    """
    from decimal import Decimal

    from ..table import charge_text

    request = load_criteria(args)
    engine = _engine()
    if args.dry_run:
        return _print_estimate(engine, request, "count")
    answer = _fetch(engine.count, request, args)
    result = answer.result
    count_text = "unknown" if result.results_count is None else result.results_count
    print(f"{count_text:,}" if isinstance(count_text, int) else count_text)
    where = "from cache (no charge now)" if answer.from_cache else "fetched now"
    charged = charge_text(Decimal(result.amount_charged), answer.test_mode)
    test = " · TEST MODE" if answer.test_mode else ""
    print(
        f"Generect {answer.mode} count · {charged} · "
        f"{answer.fetched_at:%Y-%m-%d %H:%M} UTC · {where}{test}",
        file=sys.stderr,
    )
    return EXIT_OK


def _cut(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= CLI_CELL_WIDTH else text[: CLI_CELL_WIDTH - 1] + "…"


def search(args: argparse.Namespace) -> int:
    """Fetch one page of leads for a criteria file, through the cache, budget and ledger.

    Prints a table (or writes every column to ``--csv OUT``) and a status line on stderr.

    Example::

        generect-excel search criteria.toml --limit 50 --csv leads.csv
    """
    import csv
    import dataclasses

    from ..criteria import with_paging
    from ..ledger import csv_safe
    from ..table import SearchInfo, checked_fields, lead_table, status_line

    request = load_criteria(args)
    limit = args.limit
    if limit is None and request.body().get("limit_by") is None:
        limit = DEFAULT_CLI_LIMIT
    request = with_paging(request, limit=limit, offset=args.offset)
    fields = checked_fields(args.fields)  # an unknown field must cost nothing
    engine = _engine()
    if args.dry_run:
        return _print_estimate(engine, request, "search")
    if args.csv:
        check_output_folder(args.csv)
    answer = _fetch(engine.search, request, args)
    table = lead_table(answer.result.leads, fields)
    info = SearchInfo.from_answer(answer, mode=answer.mode)
    if answer.test_mode and not info.test_mode:  # a test key, whatever the answer's header said
        info = dataclasses.replace(info, test_mode=True)
    if args.csv:
        with open_output(args.csv) as fh:
            writer = csv.writer(fh)
            for row in table:
                writer.writerow(["" if v is None else csv_safe(v) for v in row])
        print(f"wrote {len(table) - 1} lead(s) to {args.csv}", file=sys.stderr)
    else:
        cells = [[_cut(v) for v in row] for row in table]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    print(status_line(info), file=sys.stderr)
    return EXIT_OK


def _add_fetch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="fetch afresh even if an answer is stored (pays again for billable calls)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the worst-case cost and whether the answer is stored; send nothing",
    )


def register_fetch_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``count`` and ``search`` (cache first, budget-checked, recorded in the ledger)."""
    parser = subparsers.add_parser(
        "count",
        help="count the leads matching a criteria file (database: free)",
        description=(
            "Count the leads matching a criteria file. Answers come from the local store when "
            "it has them (no charge); a realtime count is billed per call and recorded in the "
            "ledger. Example: generect-excel count criteria.toml --mode realtime"
        ),
    )
    add_criteria_arguments(parser)
    _add_fetch_options(parser)
    parser.set_defaults(handler=count)

    parser = subparsers.add_parser(
        "search",
        help="fetch one page of leads for a criteria file (billed per row, cached)",
        description=(
            "Fetch one page of leads for a criteria file and print them, or write every "
            "column to a CSV file. A stored answer is reused for free; a new one is checked "
            "against the spending caps first and recorded in the ledger. "
            "Example: generect-excel search criteria.toml --limit 50 --csv leads.csv"
        ),
    )
    add_criteria_arguments(parser)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help=f"rows to fetch (default: the file's limit_by, else {DEFAULT_CLI_LIMIT})",
    )
    parser.add_argument("--offset", type=int, default=None, help="rows to skip (paging)")
    parser.add_argument(
        "--fields",
        default=None,
        help="comma list of columns (default: the standard set); a lead field, a nested path "
        "(company.domain) or raw:NAME for a field outside the catalogue; checked before buying",
    )
    parser.add_argument("--csv", metavar="OUT", default=None, help="write the leads to this CSV")
    _add_fetch_options(parser)
    parser.set_defaults(handler=search)
