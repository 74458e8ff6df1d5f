"""``generect-excel companies``: an account list (company search) for a criteria file, like
``search`` for leads: cache first, priced and budget-checked, recorded in the ledger."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .core import (
    CLI_CELL_WIDTH,
    DEFAULT_CLI_LIMIT,
    EXIT_OK,
    _engine,
    _fetch,
    _print_estimate,
    add_criteria_arguments,
    check_output_folder,
    load_criteria,
    open_output,
)

__all__ = ["companies", "register"]


def _cut(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= CLI_CELL_WIDTH else text[: CLI_CELL_WIDTH - 1] + "…"


def _request(args: argparse.Namespace) -> Any:
    """The company request: the file's criteria (company filters only), then the page."""
    from ..companies import company_request_from
    from ..criteria import with_paging

    request = load_criteria(args)
    limit = args.limit
    if not args.count and limit is None and request.body().get("limit_by") is None:
        limit = DEFAULT_CLI_LIMIT
    if limit is not None or args.offset is not None:
        request = with_paging(request, limit=limit, offset=args.offset)
    return company_request_from(request)


def companies(args: argparse.Namespace) -> int:
    """List the companies matching a criteria file (billed per company, stored), or count them
    with ``--count`` (database: free).

    Prints a table (or writes every column to ``--csv OUT``) and a status line on stderr.

    Example::

        generect-excel companies accounts.toml --limit 50 --csv accounts.csv
    """
    import csv

    from ..companies import check_company_fields, company_info, company_table
    from ..ledger import csv_safe
    from ..table import status_line

    request = _request(args)
    fields = check_company_fields(args.fields)  # an unknown field must cost nothing
    kind = "company_count" if args.count else "companies"
    engine = _engine()
    if args.dry_run:
        return _print_estimate(engine, request, kind)
    if args.count:
        answer = _fetch(lambda r, **kw: engine.run("company_count", r, **kw), request, args)
        count = answer.result.results_count
        print(f"{count:,}" if isinstance(count, int) else ("unknown" if count is None else count))
        return EXIT_OK
    if args.csv:
        check_output_folder(args.csv)
    answer = _fetch(lambda r, **kw: engine.run("companies", r, **kw), request, args)
    info = company_info(answer, mode=answer.mode)
    table = company_table(answer.result.companies, info, fields)[1:]  # the status goes to stderr
    if args.csv:
        with open_output(args.csv) as fh:
            writer = csv.writer(fh)
            for row in table:
                writer.writerow(["" if v is None else csv_safe(v) for v in row])
        print(
            f"wrote {len(table) - 1} compan{'y' if len(table) == 2 else 'ies'} to {args.csv}",
            file=sys.stderr,
        )
    else:
        cells = [[_cut(v) for v in row] for row in table]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    print(status_line(info), file=sys.stderr)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``companies`` to the ``generect-excel`` parser."""
    parser = subparsers.add_parser(
        "companies",
        help="list the companies matching a criteria file (billed per company, cached)",
        description=(
            "List the companies matching a criteria file (Industry, Company size, HQ location, "
            "Company type), or count them with --count (database: free). A stored answer is "
            "reused for free; a new one is checked against the spending caps first and "
            "recorded in the ledger. Example: generect-excel companies accounts.toml --limit 50"
        ),
    )
    add_criteria_arguments(parser)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help=f"companies to fetch (default: the file's limit_by, else {DEFAULT_CLI_LIMIT})",
    )
    parser.add_argument("--offset", type=int, default=None, help="companies to skip (paging)")
    parser.add_argument(
        "--fields",
        default=None,
        help="comma list of columns (default: name, domain, industry, headcount, location, type, "
        "linkedin_url, linkedin_id); raw:NAME for another field; checked before buying",
    )
    parser.add_argument(
        "--csv", metavar="OUT", default=None, help="write the companies to this CSV"
    )
    parser.add_argument(
        "--count", action="store_true", help="print how many companies match instead"
    )
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
    parser.set_defaults(handler=companies)
