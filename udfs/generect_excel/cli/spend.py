"""``generect-excel spend``: what the local ledger says was charged, as a table or CSV.

The ledger lives in the store (``$GENERECT_HOME/store.sqlite3``) and has one row per billable
call: searches in both modes and realtime counts (and any call whose answer reported a charge),
with test-mode calls flagged (they are never debited and never counted in the totals). A call
whose answer was lost after sending may have been charged: its row shows the worst-case
estimate as "unknown (estimated)", and the totals include it and say how much of them is
estimated. Dates are local calendar days, both ends included. On the team store
(``GENERECT_STORE_URL``) the rows and totals are yours, then the team's line for today;
``--team`` shows every analyst's rows and totals and one line per analyst (on the SQLite store,
one analyst's own, it is refused with a message).

Example::

    generect-excel spend --since 2026-11-01 --csv november.csv
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ledger import LedgerRow

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

    The rows are streamed from the store a page at a time and the totals summed by its
    database, so a ledger of 100,000 rows prints or exports in well under a second in a small,
    fixed amount of memory. On the team store the rows and totals are this analyst's (``--team``:
    every analyst's, then one line per analyst); the team's line for today follows either way.

    Example::

        generect-excel spend --since 2026-11-01 --until 2026-11-30
    """
    from ..budget import format_money
    from ..engine import Engine
    from ..errors import GenerectError
    from ..ledger import SpendView
    from ..settings import load_settings
    from .core import open_output
    from .ledger_view import estimated_note, write_csv, write_table

    if args.since and args.until and args.since > args.until:
        # Otherwise an empty table: it would read as "nothing was charged".
        raise GenerectError(
            f"--since {args.since} is after --until {args.until}: no day can match. "
            "Swap the two dates."
        )
    engine = Engine(load_settings())
    view: SpendView = "team" if args.team else "me"
    whose = engine.ledger_analyst(view)  # --team on one analyst's store: refused, clearly
    out = sys.stderr if args.csv else sys.stdout

    def rows() -> Iterator[LedgerRow]:
        return engine.iter_ledger_rows(args.since, args.until, view=view)

    if args.csv:
        with open_output(args.csv) as fh:
            count = write_csv(rows(), fh)
        print(f"wrote {count} ledger row(s) to {args.csv}", file=sys.stderr)
    else:
        write_table(rows, sys.stdout)
    today, month, total = (engine.spend(p, view=view) for p in ("today", "month", "all"))
    summary = (
        f"Charged today {format_money(today)} · this month {format_money(month)} · "
        f"all time {format_money(total)} (test mode excluded; local time"
        + (f"; {whose}'s purchases)" if whose else ")")
    )
    estimated, unknown = engine.estimated("all", view=view)
    if unknown:
        # Calls sent whose answer was lost: counted at their worst case, which may overstate.
        summary += f"; all time {estimated_note(estimated, unknown)}: check the balance"
    print(summary, file=out)
    if engine.store.analyst is not None:  # the team store (issue 15): who spent what, the caps
        _team_lines(engine, out, per_analyst=args.team)
    return EXIT_OK


def _team_lines(engine: Any, out: IO[str], *, per_analyst: bool) -> None:
    """The team's spend today against its caps; with ``per_analyst``, each analyst's today,
    this month and all time."""
    from ..budget import format_money

    caps: dict[str, Decimal] = engine.store.caps()
    spent = engine.spend_by_analyst("today")
    who = " · ".join(
        f"{name or '?'} {format_money(amount)}"
        + (f" of {format_money(caps[name])}" if name in caps else "")
        for name, amount in sorted(spent.items())
    )
    cap = f" of the team's {format_money(caps['*'])} cap" if "*" in caps else ""
    line = f"Team today {format_money(sum(spent.values(), Decimal(0)))}{cap}"
    print(f"{line}: {who or 'nothing yet'}", file=out)
    if not per_analyst:
        return
    month, ever = engine.spend_by_analyst("month"), engine.spend_by_analyst("all")
    for name in sorted(set(ever) | {n for n in caps if n != "*"}):
        cap_note = f" (daily cap {format_money(caps[name])})" if name in caps else ""
        print(
            f"  {name or '?'}: today {format_money(spent.get(name, Decimal(0)))} · this month "
            f"{format_money(month.get(name, Decimal(0)))} · all time "
            f"{format_money(ever.get(name, Decimal(0)))}{cap_note}",
            file=out,
        )


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
            "included. Example: generect-excel spend --since 2026-11-01 --csv november.csv "
            "(on the team store: your own rows and totals, then the team's line for today; "
            "--team: everyone's, and one line per analyst)"
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
    parser.add_argument(
        "--team",
        action="store_true",
        help="on the team store: every analyst's rows and totals, then one line per analyst "
        "(without it, your own)",
    )
    parser.set_defaults(handler=spend)
