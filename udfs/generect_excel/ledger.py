"""The ledger's records and the questions asked of it: what was charged, when, for what.

Every billable call (a lead search in either mode, a realtime count), and any other call whose
answer says it charged (``meta.amount_charged`` > 0), becomes one :class:`Charge`, written by
:class:`~generect_excel.store.Store` in the same transaction as the answer's cache entry. A
cache hit writes nothing.

A billable call whose answer was lost after it was sent (or arrived unreadable) may have been
charged: it is recorded too, flagged ``unknown_outcome``, at its worst-case estimate, so the
totals and the daily budget count it conservatively. Reports show its amount as "unknown
(estimated)" and say how much of a total is such estimates. ``generect-excel reconcile`` can
later settle such a row against Generect's billing history: the :class:`Settlement` is a new
fact kept beside the row (the row itself is never changed), and from then on the row counts at
the settled amount ("settled: charged" or "settled: not charged"). Amounts are ``Decimal`` end to end (stored as
text, summed in Python), because SQLite's ``SUM`` would add them as binary floats.

Periods ("today", "month") follow the computer's local clock, which is what an analyst means by
"today"; times are stored in UTC and converted at the boundaries (:func:`period_bounds`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any, Literal

__all__ = [
    "CSV_COLUMNS",
    "Charge",
    "LedgerEntry",
    "Origin",
    "Period",
    "Settlement",
    "csv_safe",
    "estimated_note",
    "format_table",
    "parse_date",
    "period_bounds",
    "write_csv",
]

Period = Literal["today", "month", "all"]
PERIODS: tuple[str, ...] = ("today", "month", "all")


@dataclass(frozen=True)
class Origin:
    """Where a request came from, when known: recorded with its charge in the ledger."""

    workbook: str | None = None
    sheet: str | None = None
    cell: str | None = None


@dataclass(frozen=True)
class Charge:
    """One billable call, as the ledger records it.

    ``charge_id`` is unique: it makes writing the same charge twice (recovery from the fallback
    journal) harmless. ``unknown_outcome`` marks a call sent whose answer was lost: its
    ``amount_charged`` is then the worst-case estimate, not what Generect reported.
    """

    charge_id: str
    time: datetime
    endpoint: str
    mode: str
    request: dict[str, Any]
    rows: int
    results_count: int | str | None
    amount_charged: Decimal
    test_mode: bool
    account: str
    base_url: str
    cache_key: str | None
    origin: Origin = field(default_factory=Origin)
    unknown_outcome: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the fallback journal)."""
        return {
            "charge_id": self.charge_id,
            "time": self.time.isoformat(),
            "endpoint": self.endpoint,
            "mode": self.mode,
            "request": self.request,
            "rows": self.rows,
            "results_count": self.results_count,
            "amount_charged": str(self.amount_charged),
            "test_mode": self.test_mode,
            "account": self.account,
            "base_url": self.base_url,
            "cache_key": self.cache_key,
            "workbook": self.origin.workbook,
            "sheet": self.origin.sheet,
            "cell": self.origin.cell,
            "unknown_outcome": self.unknown_outcome,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Charge:
        """The inverse of :meth:`to_json`."""
        return cls(
            charge_id=data["charge_id"],
            time=datetime.fromisoformat(data["time"]),
            endpoint=data["endpoint"],
            mode=data["mode"],
            request=data["request"],
            rows=int(data["rows"]),
            results_count=data.get("results_count"),
            amount_charged=Decimal(data["amount_charged"]),
            test_mode=bool(data["test_mode"]),
            account=data["account"],
            base_url=data["base_url"],
            cache_key=data.get("cache_key"),
            origin=Origin(data.get("workbook"), data.get("sheet"), data.get("cell")),
            unknown_outcome=bool(data.get("unknown_outcome", False)),
        )


@dataclass(frozen=True)
class Settlement:
    """What Generect's billing history says about a ledger row whose outcome was unknown.

    ``amount`` is what Generect charged for it (0: not charged), ``transaction_id`` and
    ``transaction_time`` the transaction that proves it (None when not charged), ``settled_at``
    when ``generect-excel reconcile`` found it out.
    """

    charge_id: str
    amount: Decimal
    transaction_id: str | None
    transaction_time: datetime | None
    settled_at: datetime

    @property
    def charged(self) -> bool:
        return self.transaction_id is not None


@dataclass(frozen=True)
class LedgerEntry(Charge):
    """A :class:`Charge` as read back from the ledger, with its row number and, for an unknown
    outcome since settled, its :class:`Settlement`."""

    id: int = 0
    settlement: Settlement | None = None

    @property
    def counted_amount(self) -> Decimal:
        """What the totals count: the settled amount once settled, else ``amount_charged``."""
        return self.settlement.amount if self.settlement is not None else self.amount_charged

    @property
    def is_estimate(self) -> bool:
        """An unknown outcome not settled yet: its amount is a worst-case estimate."""
        return self.unknown_outcome and self.settlement is None


# What the ledger's ``outcome`` column says: Generect's own figure, or our worst-case estimate
# for a call whose answer was lost after it was sent.
OUTCOME_CHARGED = "charged"
OUTCOME_UNKNOWN = "unknown (estimated)"
OUTCOME_SETTLED_CHARGED = "settled: charged"
OUTCOME_SETTLED_NOT_CHARGED = "settled: not charged"


def outcome(entry: LedgerEntry) -> str:
    """The ledger's ``outcome`` word for ``entry``."""
    if entry.settlement is not None:
        charged = entry.settlement.charged
        return OUTCOME_SETTLED_CHARGED if charged else OUTCOME_SETTLED_NOT_CHARGED
    return OUTCOME_UNKNOWN if entry.unknown_outcome else OUTCOME_CHARGED


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


def period_bounds(period: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """UTC ``(since, until)`` of ``period`` ("today", "month" or "all") on the local clock.

    ``now`` is an aware time; "today" runs from the local midnight to the next one, "month" from
    the first of the local month to the first of the next. ``None`` means unbounded.
    """
    if period == "all":
        return None, None
    local_now = now.astimezone()
    if period == "today":
        first = local_now.date()
        after = first + timedelta(days=1)
    elif period == "month":
        first = local_now.date().replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    return _local_midnight(first), _local_midnight(after)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min).astimezone().astimezone(UTC)


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` (the CLI's ``--since``/``--until``) to a date, with a readable error."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a date like 2026-01-31, got {text!r}") from None


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
    from .budget import format_money

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
    from .budget import format_money

    if not entries:
        return "No charges recorded for this period."
    rows: list[dict[str, str]] = []
    for entry in entries:
        base = _row(entry)
        where = "!".join(p for p in (entry.origin.sheet, entry.origin.cell) if p)
        if entry.origin.workbook:
            where = f"[{entry.origin.workbook}]{where}"
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
