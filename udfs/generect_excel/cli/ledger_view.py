"""The ledger as the CLI shows it: a plain-text table with its totals, and a CSV export.

Presentation of :mod:`generect_excel.ledger`'s records (which stay free of it), used by
``generect-excel spend``; :func:`csv_safe` also guards the other CSV exports.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from ..ledger import (
    OUTCOME_CHARGED,
    OUTCOME_SETTLED_CHARGED,
    OUTCOME_SETTLED_NOT_CHARGED,
    OUTCOME_UNKNOWN,
    LedgerRow,
)
from ..operations import by_path
from ..store.records import _parse_ts

__all__ = ["CSV_COLUMNS", "csv_safe", "estimated_note", "write_csv", "write_table"]

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


class _Formats:
    """What every row of a ledger export needs computed from its stored text, memoized per
    distinct value (a ledger repeats a few amounts, endpoints and minutes): a ledger of 100,000
    rows formats in well under a second."""

    def __init__(self) -> None:
        self._offsets: dict[str, timedelta] = {}
        self._amounts: dict[str, Decimal] = {}
        self._kinds: dict[str, str] = {}

    def time_utc(self, stored: str) -> str:
        """``2026-03-14T12:00:00+00:00`` (what ``isoformat(timespec="seconds")`` writes)."""
        if len(stored) == _STORED_TIME_LENGTH:
            return stored[:19] + "+00:00"
        return _parse_ts(stored).isoformat(timespec="seconds")

    def time_local(self, stored: str) -> str:
        """``2026-03-14 13:00:00`` on this computer's clock."""
        if len(stored) != _STORED_TIME_LENGTH:
            return _parse_ts(stored).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        hour = stored[:13]
        offset = self._offsets.get(hour)
        if offset is None:
            offset = self._offsets[hour] = _kept(self._offsets, _hour_offset(hour))
        if offset == _CHANGES:  # daylight saving starts or ends within this hour
            return _parse_ts(stored).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return (datetime.fromisoformat(stored[:19]) + offset).isoformat(" ")

    def amount(self, text: str) -> Decimal:
        value = self._amounts.get(text)
        if value is None:
            value = self._amounts[text] = _kept(self._amounts, Decimal(text))
        return value

    def kind(self, endpoint: str) -> str:
        kind = self._kinds.get(endpoint)
        if kind is None:
            described = by_path(endpoint)
            if described is not None:
                kind = described.kind
            else:  # a path no longer described: tell counts from searches by its end
                kind = "count" if endpoint.rstrip("/").endswith("count") else "search"
            self._kinds[endpoint] = kind
        return kind


# Marks an hour in which the local clock's offset from UTC changes (see _hour_offset).
_CHANGES = timedelta.min


def _hour_offset(hour: str) -> timedelta:
    """The local clock's offset from UTC during the UTC hour ``hour`` (``2026-03-14T12``), or
    ``_CHANGES`` when it differs at the hour's start and end (daylight saving begins or ends
    within it: such rows are converted one by one)."""
    start = datetime.fromisoformat(hour + ":00:00+00:00")
    first = start.astimezone().utcoffset()
    last = (start + timedelta(minutes=59, seconds=59)).astimezone().utcoffset()
    return first if first is not None and first == last else _CHANGES


def _kept(memo: dict[str, Any], value: Any) -> Any:
    """``value``, after emptying ``memo`` if it is full (a memo per export, so small)."""
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    return value


_MEMO_SIZE = 4096

# A local time as the table shows it: "2026-03-14 13:00:00".
_LOCAL_TIME_LENGTH = 19

# What the store writes (records._ts): fixed width, UTC.
_STORED_TIME_LENGTH = 27


def _counted(row: LedgerRow) -> str:
    """The amount the totals count, as stored: the settled amount once settled."""
    return (
        row.settled_amount if row.settled and row.settled_amount is not None else row.amount_charged
    )


def _outcome(row: LedgerRow) -> str:
    """The ledger's ``outcome`` word (see :func:`generect_excel.ledger.outcome`)."""
    if row.settled:
        return (
            OUTCOME_SETTLED_CHARGED
            if row.transaction_id is not None
            else OUTCOME_SETTLED_NOT_CHARGED
        )
    return OUTCOME_UNKNOWN if row.unknown_outcome else OUTCOME_CHARGED


# What makes a spreadsheet read a CSV cell as a formula (OWASP's CSV injection list): the four
# formula starts, and a tab or carriage return in front of one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_STARTS)  # each one character


def csv_safe(value: Any) -> Any:
    """``value`` for a CSV cell that Excel or LibreOffice will not run as a formula: text
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.

    >>> csv_safe("=1+2"), csv_safe("Head of Sales"), csv_safe(3)
    ("'=1+2", 'Head of Sales', 3)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: Iterable[LedgerRow], fh: IO[str]) -> int:
    """Write ``rows`` as CSV with a header row, one row at a time as they arrive (a ledger
    of any size in the memory of one page); returns the number of data rows.

    ``amount_charged`` stays a plain number in US dollars (``0.5``, ``0.04``), without ``$``,
    so that a spreadsheet opening the file can sum it; the printed table shows ``$0.50``.
    ``request`` is the canonical JSON the store wrote.
    """
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    formats = _Formats()
    starts = _FORMULA_FIRST

    def safe(text: str) -> str:  # csv_safe for text, inlined: nine calls a row
        return "'" + text if text[:1] in starts else text

    count = 0
    for row in rows:
        writer.writerow(
            [
                row.id,
                formats.time_utc(row.time),
                formats.time_local(row.time),
                safe(row.endpoint),
                safe(row.mode),
                row.rows,
                "" if row.results_count is None else csv_safe(row.results_count),
                str(formats.amount(_counted(row))),
                _outcome(row),
                "yes" if row.test_mode else "no",
                safe(row.account),
                safe(row.base_url),
                safe(row.workbook or ""),
                safe(row.sheet or ""),
                safe(row.cell or ""),
                safe(row.request),
            ]
        )
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


def write_table(rows: Callable[[], Iterable[LedgerRow]], out: IO[str]) -> None:
    """Print a plain-text table of the ledger rows and their total (test-mode charges shown,
    not summed), streaming: ``rows()`` is read twice, once for the columns' widths and the
    totals, then to print, so memory stays one page of rows whatever the ledger's size.

    A call whose outcome is unknown shows its estimate as "unknown (estimated)"; the total
    includes it and says how much of it is such estimates. A settled one shows what Generect
    charged for it, "settled: charged" or "settled: not charged", and counts at that.
    """
    from ..budget import format_money

    formats = _Formats()
    money: dict[str, str] = {}

    def dollars(text: str) -> str:
        shown = money.get(text)
        if shown is None:
            shown = money[text] = format_money(formats.amount(text))
        return shown

    def charged_cell(row: LedgerRow) -> str:
        charged = dollars(_counted(row))
        if row.unknown_outcome:
            # A settled row keeps its estimate in view: the ledger row itself never changes.
            charged = (
                f"{dollars(row.amount_charged)} {OUTCOME_UNKNOWN}"
                if not row.settled
                else f"{charged} {_outcome(row)} (est. {dollars(row.amount_charged)})"
            )
        return charged

    def cells(row: LedgerRow) -> tuple[str, ...]:
        where = "!".join(p for p in (row.sheet, row.cell) if p)
        if row.workbook:
            where = f"[{row.workbook}]{where}"
        return (
            formats.time_local(row.time),
            row.mode,
            formats.kind(row.endpoint),
            str(row.rows),
            charged_cell(row),
            "yes" if row.test_mode else "no",
            where,
        )

    # The first pass measures only the columns whose width varies: the local time is always
    # 19 characters, "yes"/"no" fit under "test", and the last column is never padded.
    widths = [len(title) for _, title in _TABLE_COLUMNS]
    widths[0], widths[-1] = max(widths[0], _LOCAL_TIME_LENGTH), 0
    count = 0
    billed = test = estimated = Decimal(0)
    unknown = settled = 0
    for row in rows():
        for i, text in (
            (1, row.mode),
            (2, formats.kind(row.endpoint)),
            (3, str(row.rows)),
            (4, charged_cell(row)),
        ):
            if len(text) > widths[i]:
                widths[i] = len(text)
        count += 1
        counted = formats.amount(_counted(row))
        if row.test_mode:
            test += counted
            continue
        billed += counted
        if row.unknown_outcome and not row.settled:
            unknown += 1
            estimated += formats.amount(row.amount_charged)
        settled += bool(row.settled)
    if not count:
        out.write("No charges recorded for this period.\n")
        return

    def line(texts: Iterable[str]) -> str:
        return "  ".join(t.ljust(w) for t, w in zip(texts, widths, strict=True)).rstrip() + "\n"

    out.write(line(title for _, title in _TABLE_COLUMNS))
    for row in rows():
        out.write(line(cells(row)))
    total = f"{count} call(s), charged {format_money(billed)}"
    if unknown:
        total += f" ({estimated_note(estimated, unknown)}: check the balance)"
    if settled:
        total += f" ({settled} lost answer(s) settled by reconcile)"
    if test:
        total += f" (plus {format_money(test)} in test mode, not debited)"
    out.write(total + "\n")
