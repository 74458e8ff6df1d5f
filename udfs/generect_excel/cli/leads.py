"""``generect-excel leads``: the register of owned leads, as a table or CSV.

Every lead bought on this computer (any workbook, the CLI, the refresher) is in the register
once, with when it was first bought, the question and the workbook/sheet/cell that bought it,
its share of that call's charge and how many times it was bought. ``--since`` keeps the leads
first bought from that local day on.

Example::

    generect-excel leads --since 2026-12-01 --csv owned.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ..budget import format_money

__all__ = ["leads", "register"]

EXIT_OK = 0

# The columns the terminal table shows (the CSV has them all).
_TABLE_COLUMNS = (
    "first_bought_utc",
    "lead_id",
    "full_name",
    "job_title",
    "company_name",
    "times_bought",
    "cost",
    "cell",
)
_WIDTH = 28


def _date(text: str) -> Any:
    from ..ledger import parse_date

    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _table(columns: Sequence[str], rows: list[list[Any]]) -> str:
    """A plain-text table of the register (long values cut to ``_WIDTH`` characters)."""
    index = {name: i for i, name in enumerate(columns)}

    def show(row: list[Any], name: str) -> str:
        value = (
            row[index[name]]
            if name != "cell"
            else "!".join(
                str(row[index[part]]) for part in ("workbook", "sheet", "cell") if row[index[part]]
            )
        )
        if name == "cost" and value is not None:
            text = format_money(Decimal(str(value)))  # dollars, as every money column shows
        else:
            text = "" if value is None else str(value)
        return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"

    shown = [[show(row, name) for name in _TABLE_COLUMNS] for row in rows]
    widths = [
        max([len(name), *(len(r[i]) for r in shown)]) for i, name in enumerate(_TABLE_COLUMNS)
    ]
    lines = ["  ".join(n.ljust(w) for n, w in zip(_TABLE_COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in shown]
    return "\n".join(line.rstrip() for line in lines)


def leads(args: argparse.Namespace) -> int:
    """Print the register of owned leads, or export it as CSV.

    Example::

        generect-excel leads --since 2026-12-01 --csv owned.csv
    """
    from ..engine import Engine
    from ..ledger import csv_safe
    from ..settings import load_settings
    from ..store.register import OWNED_COLUMNS, owned_row
    from .core import open_output

    engine = Engine(load_settings())
    owned = engine.owned_leads(since=args.since)
    rows = [owned_row(lead) for lead in owned]
    if args.csv:
        with open_output(args.csv) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(OWNED_COLUMNS)
            writer.writerows([csv_safe(v) for v in row] for row in rows)
        print(f"wrote {len(rows)} owned lead(s) to {args.csv}", file=sys.stderr)
    else:
        print(_table(OWNED_COLUMNS, rows))
    twice = sum(1 for lead in owned if lead.times_bought > 1)
    summary = f"{len(owned):,} owned lead(s)"
    if twice:
        summary += (
            f"; {twice:,} bought more than once (a refresh, or a search without New leads only)"
        )
    print(summary, file=sys.stderr if args.csv else sys.stdout)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``leads`` command."""
    parser = subparsers.add_parser(
        "leads",
        help="list or export the register of owned leads (every lead bought, once)",
        description=(
            "List the register of owned leads: every lead bought on this computer, once, with "
            "when it was first bought, the question and workbook/sheet/cell that bought it, "
            "its share of that call's charge and how many times it was bought. Example: "
            "generect-excel leads --since 2026-12-01 --csv owned.csv"
        ),
    )
    parser.add_argument(
        "--since", type=_date, metavar="DATE", help="first day to include (YYYY-MM-DD, local)"
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="write the leads to FILE as CSV (with a header row)"
    )
    parser.set_defaults(handler=leads)
