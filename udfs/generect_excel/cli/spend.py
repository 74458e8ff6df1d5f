"""``generect-excel spend``: what the local ledger says was charged, as a table or CSV.

The ledger lives in the store (``$GENERECT_HOME/store.sqlite3``) and has one row per billable
call: searches in both modes and realtime counts (and any call whose answer reported a charge),
with test-mode calls flagged (they are never debited and never counted in the totals). A call
whose answer was lost after sending may have been charged: its row shows the worst-case
estimate as "unknown (estimated)", and the totals include it and say how much of them is
estimated. Dates are local calendar days, both ends included.

Example::

    generect-excel spend --since 2026-11-01 --csv november.csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal

__all__ = ["register", "spend"]

EXIT_OK = 0


def _date(text: str) -> date:
    from ..ledger import parse_date

    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def spend(args: argparse.Namespace) -> int:
    """Print the ledger's charges between two dates and the totals, or export them as CSV.

    Example::

        generect-excel spend --since 2026-11-01 --until 2026-11-30
    """
    from ..budget import format_money
    from ..engine import Engine
    from ..errors import GenerectError
    from ..settings import load_settings
    from .core import open_output
    from .ledger_view import estimated_note, format_table, write_csv

    if args.since and args.until and args.since > args.until:
        # Otherwise an empty table: it would read as "nothing was charged".
        raise GenerectError(
            f"--since {args.since} is after --until {args.until}: no day can match. "
            "Swap the two dates."
        )
    engine = Engine(load_settings())
    entries = engine.charges(args.since, args.until)
    if args.csv:
        with open_output(args.csv) as fh:
            rows = write_csv(entries, fh)
        print(f"wrote {rows} ledger row(s) to {args.csv}", file=sys.stderr)
    else:
        print(format_table(entries))
    today, month, total = (engine.spend(p) for p in ("today", "month", "all"))
    summary = (
        f"Charged today {format_money(today)} · this month {format_money(month)} · "
        f"all time {format_money(total)} (test mode excluded; local time)"
    )
    estimated, unknown = engine.estimated("all")
    if unknown:
        # Calls sent whose answer was lost: counted at their worst case, which may overstate.
        summary += f"; all time {estimated_note(estimated, unknown)}: check the balance"
    print(summary, file=sys.stderr if args.csv else sys.stdout)
    team = getattr(engine.store, "spend_by_analyst", None)
    if team is not None:  # the team store (issue 15): who spent what today, and the caps
        from datetime import UTC, datetime

        from ..ledger import period_bounds

        since, until = period_bounds("today", datetime.now(UTC))
        caps = engine.store.caps()  # type: ignore[attr-defined]
        spent = team(since, until)
        who = " · ".join(
            f"{name or '?'} {format_money(amount)}"
            + (f" of {format_money(caps[name])}" if name in caps else "")
            for name, amount in sorted(spent.items())
        )
        cap = f" of the team's {format_money(caps['*'])} cap" if "*" in caps else ""
        line = f"Team today {format_money(sum(spent.values(), Decimal(0)))}{cap}"
        print(f"{line}: {who or 'nothing yet'}", file=sys.stderr if args.csv else sys.stdout)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``spend`` command."""
    parser = subparsers.add_parser(
        "spend",
        help="report what the local ledger says was charged (table or CSV)",
        description=(
            "Report the charges recorded in the local ledger: one row per billable call "
            "(time, mode, call, rows, amount charged, test mode, workbook/sheet/cell), then "
            "the totals for today, this month and all time (a lost answer counts at its "
            "worst case, shown as 'unknown (estimated)'). Dates are local days, both ends "
            "included. Example: generect-excel spend --since 2026-11-01 --csv november.csv"
        ),
    )
    parser.add_argument(
        "--since", type=_date, metavar="DATE", help="first day to include (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--until", type=_date, metavar="DATE", help="last day to include (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="write the rows to FILE as CSV (with a header row)"
    )
    parser.set_defaults(handler=spend)
