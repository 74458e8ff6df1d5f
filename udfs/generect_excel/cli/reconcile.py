"""``generect-excel reconcile``: settle lost answers against Generect's billing history.

A billable call whose answer was lost is in the ledger at its worst-case estimate. This command
reads the key's billing history for the period (free), settles each such row as "charged $X" or
"not charged" where the records allow only one reading, and prints what does not match either
way, with totals. The ledger keeps its rows; a settlement is added beside each
(:mod:`generect_excel.reconcile`). Dates are local calendar days, both ends included.

Example::

    generect-excel reconcile --since 2026-11-01
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from .spend import _date

if TYPE_CHECKING:
    from ..ledger import LedgerEntry
    from ..reconcile import Reconciliation
    from ..responses import Transaction

__all__ = ["format_reconciliation", "reconcile", "register"]

EXIT_OK = 0


def _bound(day: date | None, *, end: bool) -> datetime | None:
    """A local day's first moment (``end``: the next day's), aware."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if end else day, time.min).astimezone()


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _call(entry: LedgerEntry) -> str:
    kind = "count" if entry.endpoint.rstrip("/").endswith("count") else "search"
    where = "!".join(p for p in (entry.origin.sheet, entry.origin.cell) if p)
    if entry.origin.workbook:
        where = f"[{entry.origin.workbook}]{where}"
    return f"{_local(entry.time)}  {entry.mode} {kind}" + (f"  {where}" if where else "")


def _transaction(record: Transaction) -> str:
    from ..budget import format_money

    return f"{_local(record.time)}  {record.operation or '-'}  {format_money(record.charge)}  {record.id}"


def format_reconciliation(result: Reconciliation) -> str:
    """The report the command prints: settled, still unknown, unmatched both ways, totals."""
    from ..budget import format_money

    lines = [f"Billing history from {_local(result.since)} to {_local(result.until)} (local time):"]
    if result.settled:
        lines.append(f"Settled {len(result.settled)} lost answer(s):")
        for item in result.settled:
            entry, settlement = item.entry, item.settlement
            verdict = (
                f"charged {format_money(settlement.amount)} ({settlement.transaction_id})"
                if settlement.charged
                else "not charged"
            )
            estimate = format_money(entry.amount_charged)
            lines.append(f"  {_call(entry)}  estimated {estimate} -> {verdict}")
    else:
        lines.append("No lost answer to settle.")
    if result.unresolved:
        lines.append(f"Still unknown, {len(result.unresolved)} lost answer(s):")
        for open_item in result.unresolved:
            estimate = format_money(open_item.entry.amount_charged)
            lines.append(f"  {_call(open_item.entry)}  estimated {estimate}: {open_item.reason}")
            lines += [f"    possible: {_transaction(t)}" for t in open_item.candidates]
    extra = result.missing_from_ledger
    extra_total = sum((t.charge for t in extra), Decimal(0))
    lines.append(
        f"Charges the ledger lacks: {len(extra)} ({format_money(extra_total)})"
        + (":" if extra else "")
    )
    lines += [f"  {_transaction(t)}" for t in extra]
    absent = result.missing_from_account
    absent_total = sum((e.amount_charged for e in absent), Decimal(0))
    lines.append(
        f"Ledger rows the account lacks: {len(absent)} ({format_money(absent_total)})"
        + (":" if absent else "")
    )
    lines += [f"  {_call(e)}  {format_money(e.amount_charged)}" for e in absent]
    lines.append(
        f"Matched {result.matched} ledger row(s) to Generect's charges; "
        f"{result.already_settled} lost answer(s) settled before."
    )
    difference = result.difference
    lines.append(
        f"Generect charged {format_money(result.account_total)}; the ledger counts "
        f"{format_money(result.ledger_total)} (difference "
        f"{'-' if difference < 0 else ''}{format_money(abs(difference))})."
    )
    if result.ignored:
        lines.append(
            f"Note: Generect sent {result.ignored} record(s) outside the period or status asked "
            "(a filter it did not apply); they were left out."
        )
    return "\n".join(lines)


def reconcile(args: argparse.Namespace) -> int:
    """Settle the ledger's lost answers against Generect's billing history and report.

    Example::

        generect-excel reconcile --since 2026-11-01 --until 2026-11-30
    """
    from ..client import shared_client
    from ..reconcile import reconcile as run
    from ..settings import load_settings
    from ..store import open_store

    settings = load_settings()
    client = shared_client(settings)  # before the store: no key, no work
    store = open_store(settings)
    try:
        result = run(
            store,
            client,
            settings,
            since=_bound(args.since, end=False),
            until=_bound(args.until, end=True),
        )
    finally:
        store.close()
    print(format_reconciliation(result))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``reconcile`` command."""
    parser = subparsers.add_parser(
        "reconcile",
        help="settle lost answers against Generect's billing history (free)",
        description=(
            "Read the key's billing history from Generect (free) and settle each lost answer "
            "(a call that may have been charged, in the ledger at its worst case) as charged "
            "or not charged where Generect's records allow one reading only; print what does "
            "not match either way (charges the ledger lacks, ledger rows the account lacks) "
            "with totals. The ledger keeps its rows: a settlement is added beside each. Dates "
            "are local days, both ends included; by default the last 30 days. "
            "Example: generect-excel reconcile --since 2026-11-01"
        ),
    )
    parser.add_argument(
        "--since", type=_date, metavar="DATE", help="first day to include (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--until", type=_date, metavar="DATE", help="last day to include (YYYY-MM-DD)"
    )
    parser.set_defaults(handler=reconcile)
