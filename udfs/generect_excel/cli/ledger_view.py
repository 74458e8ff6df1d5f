"""The ledger as the CLI shows it: a plain-text table with its totals, and a CSV export.

Presentation of :mod:`generect_excel.ledger`'s records (which stay free of it), used by
``generect-excel spend``; :func:`csv_safe` also guards the other CSV exports.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import UTC
from decimal import Decimal
from typing import IO, Any

from ..ledger import OUTCOME_UNKNOWN, LedgerEntry, outcome
from ..operations import by_path

__all__ = ["CSV_COLUMNS", "csv_safe", "estimated_note", "format_table", "write_csv"]

# The CSV export's columns, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "time_utc",
    "time_local",
    "endpoint",
    "mode",
    "rows",
    "results_count",
    "amount_charged",
    "outcome",
    "test_mode",
    "account",
    "base_url",
    "workbook",
    "sheet",
    "cell",
    "request",
)


def _row(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "time_utc": entry.time.astimezone(UTC).isoformat(timespec="seconds"),
        "time_local": entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        "endpoint": entry.endpoint,
        "mode": entry.mode,
        "rows": entry.rows,
        "results_count": "" if entry.results_count is None else entry.results_count,
        "amount_charged": str(entry.counted_amount),
        "outcome": outcome(entry),
        "test_mode": "yes" if entry.test_mode else "no",
        "account": entry.account,
        "base_url": entry.base_url,
        "workbook": entry.origin.workbook or "",
        "sheet": entry.origin.sheet or "",
        "cell": entry.origin.cell or "",
        "request": json.dumps(entry.request, sort_keys=True, separators=(",", ":")),
    }


# What makes a spreadsheet read a CSV cell as a formula (OWASP's CSV injection list): the four
# formula starts, and a tab or carriage return in front of one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """``value`` for a CSV cell that Excel or LibreOffice will not run as a formula: text
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.

    >>> csv_safe("=1+2"), csv_safe("Head of Sales"), csv_safe(3)
    ("'=1+2", 'Head of Sales', 3)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(entries: Iterable[LedgerEntry], fh: IO[str]) -> int:
    """Write ``entries`` as CSV with a header row; returns the number of data rows.

    ``amount_charged`` stays a plain number in US dollars (``0.5``, ``0.04``), without ``$``,
    so that a spreadsheet opening the file can sum it; the printed table shows ``$0.50``.
    """
    writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    count = 0
    for entry in entries:
        writer.writerow({k: csv_safe(v) for k, v in _row(entry).items()})
        count += 1
    return count


_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time_local", "time (local)"),
    ("mode", "mode"),
    ("kind", "call"),
    ("rows", "rows"),
    ("amount_charged", "charged"),
    ("test_mode", "test"),
    ("where", "where"),
)


def estimated_note(amount: Decimal, count: int) -> str:
    """How much of a total is worst-case estimates for unknown outcomes ("" when none).

    >>> estimated_note(Decimal("0.5"), 1)
    'includes $0.50 estimated for 1 unknown outcome'
    """
    from ..budget import format_money

    if not count:
        return ""
    plural = "" if count == 1 else "s"
    return f"includes {format_money(amount)} estimated for {count} unknown outcome{plural}"


def format_table(entries: Sequence[LedgerEntry]) -> str:
    """A plain-text table of ``entries`` and their total (test-mode charges shown, not summed).

    A call whose outcome is unknown shows its estimate as "unknown (estimated)"; the total
    includes it and says how much of it is such estimates. A settled one shows what Generect
    charged for it, "settled: charged" or "settled: not charged", and counts at that.
    """
    from ..budget import format_money

    if not entries:
        return "No charges recorded for this period."
    rows: list[dict[str, str]] = []
    for entry in entries:
        base = _row(entry)
        where = "!".join(p for p in (entry.origin.sheet, entry.origin.cell) if p)
        if entry.origin.workbook:
            where = f"[{entry.origin.workbook}]{where}"
        described = by_path(entry.endpoint)
        if described is not None:
            base["kind"] = described.kind
        else:  # a path no longer described: tell counts from searches by its end
            base["kind"] = "count" if entry.endpoint.rstrip("/").endswith("count") else "search"
        base["where"] = where
        # Money as a person reads it ($0.50, $0.00), unlike the CSV's plain numbers.
        base["amount_charged"] = format_money(entry.counted_amount)
        if entry.unknown_outcome:
            # A settled row keeps its estimate in view: the ledger row itself never changes.
            base["amount_charged"] = (
                f"{format_money(entry.amount_charged)} {OUTCOME_UNKNOWN}"
                if entry.settlement is None
                else f"{format_money(entry.counted_amount)} {outcome(entry)} "
                f"(est. {format_money(entry.amount_charged)})"
            )
        rows.append({key: str(base[key]) for key, _ in _TABLE_COLUMNS})
    widths = {key: max([len(title)] + [len(r[key]) for r in rows]) for key, title in _TABLE_COLUMNS}
    lines = ["  ".join(title.ljust(widths[key]) for key, title in _TABLE_COLUMNS).rstrip()]
    lines += [
        "  ".join(r[key].ljust(widths[key]) for key, _ in _TABLE_COLUMNS).rstrip() for r in rows
    ]
    debited = [e for e in entries if not e.test_mode]
    billed = sum((e.counted_amount for e in debited), Decimal("0"))
    test = sum((e.counted_amount for e in entries if e.test_mode), Decimal("0"))
    unknown = [e for e in debited if e.is_estimate]
    settled = [e for e in debited if e.settlement is not None]
    total = f"{len(entries)} call(s), charged {format_money(billed)}"
    if unknown:
        note = estimated_note(sum((e.amount_charged for e in unknown), Decimal("0")), len(unknown))
        total += f" ({note}: check the balance)"
    if settled:
        total += f" ({len(settled)} lost answer(s) settled by reconcile)"
    if test:
        total += f" (plus {format_money(test)} in test mode, not debited)"
    lines.append(total)
    return "\n".join(lines)
