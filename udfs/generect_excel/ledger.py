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
exact text, with whole micro-dollars beside it that the store's database sums as integers; a
row without exact micro-dollars is summed from its text), because SQL's ``SUM`` of the text
would add binary floats.

Periods ("today", "month") follow the computer's local clock, which is what an analyst means by
"today"; times are stored in UTC and converted at the boundaries (:func:`period_bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

__all__ = [
    "Charge",
    "LedgerEntry",
    "LedgerRow",
    "Origin",
    "Period",
    "SPEND_VIEWS",
    "Settlement",
    "SpendView",
    "parse_date",
    "period_bounds",
]

Period = Literal["today", "month", "all"]
PERIODS: tuple[str, ...] = ("today", "month", "all")

# Whose spending a report shows (issue 15): "me" this analyst's (on the SQLite store, which is
# one analyst's own, the whole store), "team" every analyst's on the team store, "analysts"
# the team's split per analyst.
SpendView = Literal["me", "team", "analysts"]
SPEND_VIEWS: tuple[str, ...] = ("me", "team", "analysts")


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


class LedgerRow(NamedTuple):
    """One ledger row as the store keeps it, for exports that stream a ledger of any size
    without decoding each row into a :class:`LedgerEntry`: ``time`` is the stored UTC text
    (fixed width, ``2026-03-14T12:00:00.000000Z``), amounts their exact decimal text,
    ``request`` the canonical JSON text the store wrote (sorted keys, no spaces). A settled
    row has ``settled`` set, its ``settled_amount`` and (when charged) ``transaction_id``."""

    id: int
    time: str
    endpoint: str
    mode: str
    rows: int
    results_count: int | str | None
    amount_charged: str
    test_mode: bool
    account: str
    base_url: str
    workbook: str | None
    sheet: str | None
    cell: str | None
    request: str
    unknown_outcome: bool
    settled_amount: str | None
    transaction_id: str | None
    settled: bool


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
