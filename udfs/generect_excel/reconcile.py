"""Settling unknown outcomes against Generect's own billing history.

A billable call whose answer was lost is in the ledger at its worst-case estimate, flagged
``unknown_outcome``: it may or may not have been charged. Generect's billing history
(``GET accounts/transactions``, free) knows. :func:`reconcile` reads it for a period and
:func:`match` (pure: ledger rows and transactions in, a :class:`Reconciliation` out) pairs the
two as far as the records allow. A transaction carries a time, an amount and an operation
``type``, never our request, so a pair is made by:

- **operation**: the transaction's ``type`` is the one of the row's endpoint
  (``C.TRANSACTION_TYPES``), when the transaction has a type at all;
- **time**: a call is charged after it is sent and before its ledger row is written, so the
  transaction lies from the endpoint's timeout before the row's time to the row's time, each
  end widened by ``C.RECONCILE_CLOCK_SKEW`` (two clocks); for a lost call the server may still
  have finished after the client gave up, so the window runs ``C.RECONCILE_QUIET_SECONDS``
  past the row;
- **amount**: a known row's transaction is exactly its ``amount_charged``; a lost call's is at
  most its worst-case estimate.

Known rows are paired first (each with the nearest transaction of its exact amount). Then a
lost call is settled:

- **charged** when exactly one remaining transaction fits it and that transaction fits no other
  unsettled lost call (repeated until nothing changes: a pairing can make another unique);
- **not charged** when no transaction fits it, the history read covers its whole window, that
  window has ended, and Generect holds no ``pending`` charge of its kind in it;
- otherwise it stays unknown, with the reason and the transactions that could be its.

What is left over either way is reported with totals: charges the ledger lacks (another program
on the same key, a crash before anything was recorded) and ledger rows the account lacks.
Only ``success`` transactions count (``pending`` ones are in flight, ``error`` ones reversed).
Settlements are written with :meth:`~generect_excel.store.Store.settle`: a new fact beside the
ledger row, never a change to it; a row already settled is not settled again.

Example::

    from generect_excel.engine import Engine
    from generect_excel.reconcile import reconcile

    engine = Engine(settings)
    result = reconcile(engine.store, engine.client, engine.settings)
    print(len(result.settled), result.account_total, result.ledger_total)
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from . import _constants as C
from .client import ENDPOINTS
from .ledger import LedgerEntry, Settlement
from .responses import BillingHistory, Transaction
from .settings import Settings
from .store import StoreBackend

__all__ = [
    "Reconciliation",
    "Settled",
    "Unresolved",
    "match",
    "reconcile",
]

ZERO = Decimal(0)

# The longest a billable endpoint may take to answer, by path (the realtime timeout for a path
# the client does not know: the wider window).
_TIMEOUTS = {endpoint.path: endpoint.timeout for endpoint in ENDPOINTS.values()}


class _BillingClient(Protocol):
    def transactions(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        status: str | None = "success",
    ) -> BillingHistory: ...


@dataclass(frozen=True)
class Settled:
    """A lost call this run settled: its ledger row and what settles it."""

    entry: LedgerEntry
    settlement: Settlement


@dataclass(frozen=True)
class Unresolved:
    """A lost call that stays unknown: why, and the transactions that could be its."""

    entry: LedgerEntry
    reason: str
    candidates: tuple[Transaction, ...] = ()


@dataclass(frozen=True)
class Reconciliation:
    """What :func:`match` found for ``since <= time < until`` (UTC).

    ``settled`` are this run's settlements; ``already_settled`` counts rows settled before;
    ``matched`` the known ledger rows found in the billing history. ``missing_from_ledger``
    are Generect's charges no ledger row accounts for, ``missing_from_account`` the ledger's
    known charges Generect has no record of. ``account_total`` is what Generect charged in the
    period, ``ledger_total`` what the ledger counts for it (settlements applied, unresolved
    lost calls at their estimate). ``ignored`` counts records Generect sent outside the filters
    asked (it drops a filter it cannot read): they were left out.
    """

    since: datetime
    until: datetime
    settled: list[Settled] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    already_settled: int = 0
    matched: int = 0
    missing_from_ledger: list[Transaction] = field(default_factory=list)
    missing_from_account: list[LedgerEntry] = field(default_factory=list)
    account_total: Decimal = ZERO
    ledger_total: Decimal = ZERO
    ignored: int = 0

    @property
    def difference(self) -> Decimal:
        """``account_total - ledger_total``: above 0, Generect charged more than the ledger
        says; below 0, the ledger counts more (estimates not settled, rows the account lacks)."""
        return self.account_total - self.ledger_total


def _operation_fits(entry: LedgerEntry, transaction: Transaction) -> bool:
    expected = C.TRANSACTION_TYPES.get(entry.endpoint)
    return transaction.operation is None or expected is None or transaction.operation == expected


def _window(entry: LedgerEntry, skew: timedelta, quiet: timedelta) -> tuple[datetime, datetime]:
    """When ``entry``'s charge can lie: from its endpoint's timeout before the row (the call
    was sent then at the earliest) to the row's time, or ``quiet`` past it for a lost call (the
    server may finish after the client gave up); clock skew on both sides."""
    timeout = timedelta(seconds=_TIMEOUTS.get(entry.endpoint, C.REALTIME_TIMEOUT))
    after = quiet if entry.unknown_outcome else skew
    return entry.time - timeout - skew, entry.time + after


def _within(moment: datetime, window: tuple[datetime, datetime]) -> bool:
    return window[0] <= moment <= window[1]


class _Pool:
    """Generect's charges not accounted for yet, by time: a window is found by bisection, so a
    month of thousands of charges matches in well under a second."""

    def __init__(self, transactions: Sequence[Transaction]) -> None:
        self._by_time = sorted(transactions, key=lambda t: (t.time, t.id))
        self._times = [t.time for t in self._by_time]
        self._gone: set[str] = set()

    def within(self, window: tuple[datetime, datetime]) -> Iterator[Transaction]:
        """The charges left whose time lies in ``window`` (both ends included)."""
        start = bisect.bisect_left(self._times, window[0])
        stop = bisect.bisect_right(self._times, window[1], lo=start)
        for index in range(start, stop):  # indices, not a slice: no copy of the rest
            record = self._by_time[index]
            if record.id not in self._gone:
                yield record

    def take(self, record: Transaction) -> Transaction:
        self._gone.add(record.id)
        return record

    def take_id(self, transaction_id: str) -> None:
        self._gone.add(transaction_id)

    def left(self) -> list[Transaction]:
        """The charges left, oldest first."""
        return [t for t in self._by_time if t.id not in self._gone]


def match(
    entries: Sequence[LedgerEntry],
    history: BillingHistory,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    pending: Sequence[Transaction] = (),
    skew: timedelta = timedelta(seconds=C.RECONCILE_CLOCK_SKEW),
    quiet: timedelta = timedelta(seconds=C.RECONCILE_QUIET_SECONDS),
) -> Reconciliation:
    """Pair one account's ledger rows with its ``success`` transactions (see the module
    docstring); settle, report and total what lies in ``since <= time < until``.

    ``entries`` are the account's debited (not test-mode) ledger rows, ``history`` its
    ``success`` transactions; both should reach past the period by the matching windows, so
    that a charge near an edge finds its row. ``pending`` are its ``pending`` transactions
    (a lost call with one of its kind in its window is not concluded "not charged"). Pure: no
    I/O, ``now`` given.
    """

    def in_period(moment: datetime) -> bool:
        return since <= moment < until

    # Generect's charges not accounted for yet (top-ups are not charges).
    pool = _Pool([t for t in history.transactions if t.charge > 0])

    # Rows settled by an earlier run keep their transaction.
    already = 0
    for entry in entries:
        if entry.settlement is not None:
            if entry.settlement.transaction_id is not None:
                pool.take_id(entry.settlement.transaction_id)
            already += in_period(entry.time)

    # Known rows: each takes the nearest transaction of its exact amount in its window.
    matched, missing_from_account = 0, []
    known = [e for e in entries if not e.unknown_outcome and e.amount_charged > 0]
    for entry in sorted(known, key=lambda e: (e.time, e.id)):
        window = _window(entry, skew, quiet)
        fits = [
            t
            for t in pool.within(window)
            if t.charge == entry.amount_charged and _operation_fits(entry, t)
        ]
        if fits:
            pool.take(min(fits, key=lambda t: abs(t.time - entry.time)))
            matched += in_period(entry.time)
        elif in_period(entry.time):
            missing_from_account.append(entry)

    # Lost calls: settled where exactly one reading is possible.
    claimants = [e for e in entries if e.unknown_outcome and e.settlement is None]
    windows = {e.charge_id: _window(e, skew, quiet) for e in claimants}

    def candidates(entry: LedgerEntry) -> list[Transaction]:
        return [
            t
            for t in pool.within(windows[entry.charge_id])
            if t.charge <= entry.amount_charged and _operation_fits(entry, t)
        ]

    def why_open(entry: LedgerEntry) -> str | None:
        """Why ``entry``, with no transaction fitting it, cannot be called not charged yet."""
        low, high = windows[entry.charge_id]
        if (history.since is not None and history.since > low) or (
            history.until is not None and history.until < high
        ):
            return "its window reaches outside the billing history read"
        if high > now:
            local = high.astimezone().strftime("%Y-%m-%d %H:%M")
            return f"too recent: a charge may still appear until {local}; run reconcile then"
        if any(_operation_fits(entry, t) and _within(t.time, (low, high)) for t in pending):
            return "Generect still shows a pending charge of this kind from then"
        return None

    settled: list[Settled] = []
    progress = True
    while progress:
        progress = False
        fitting = {e.charge_id: candidates(e) for e in claimants}
        claimed = Counter(t.id for found in fitting.values() for t in found)
        for entry in list(claimants):
            if not in_period(entry.time):
                continue  # outside the period asked: it only competes for transactions
            found = fitting[entry.charge_id]
            if len(found) == 1 and claimed[found[0].id] == 1:
                proof = pool.take(found[0])
                settlement = Settlement(entry.charge_id, proof.charge, proof.id, proof.time, now)
            elif not found and why_open(entry) is None:
                settlement = Settlement(entry.charge_id, ZERO, None, None, now)
            else:
                continue
            settled.append(Settled(entry, settlement))
            claimants.remove(entry)
            progress = True
            break  # the pool changed: look again

    unresolved: list[Unresolved] = []
    in_doubt: set[str] = set()
    for entry in claimants:
        found = candidates(entry)
        in_doubt.update(t.id for t in found)
        if not in_period(entry.time):
            continue
        if len(found) > 1:
            reason = f"{len(found)} charges could be this call's"
        elif found:  # a single one left unsettled: another lost call could own it too
            reason = "its one possible charge could also be another lost call's"
        else:
            reason = why_open(entry) or "no reading is certain"
        unresolved.append(Unresolved(entry, reason, tuple(sorted(found, key=lambda t: t.time))))

    missing_from_ledger = [t for t in pool.left() if in_period(t.time) and t.id not in in_doubt]
    settled_amount = {s.entry.charge_id: s.settlement.amount for s in settled}
    ledger_total = sum(
        (settled_amount.get(e.charge_id, e.counted_amount) for e in entries if in_period(e.time)),
        ZERO,
    )
    account_total = sum(
        (t.charge for t in history.transactions if in_period(t.time)),
        ZERO,
    )
    return Reconciliation(
        since=since,
        until=until,
        settled=settled,
        unresolved=unresolved,
        already_settled=already,
        matched=matched,
        missing_from_ledger=missing_from_ledger,
        missing_from_account=missing_from_account,
        account_total=account_total,
        ledger_total=ledger_total,
        ignored=history.ignored,
    )


def reconcile(
    store: StoreBackend,
    client: _BillingClient,
    settings: Settings,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Reconciliation:
    """Settle this key's lost calls from ``since`` to ``until`` (aware; defaults: the last
    ``C.RECONCILE_DEFAULT_DAYS`` days up to now) against Generect's billing history, write
    the settlements, and return what was found (see :func:`match`). Free: the billing history
    costs nothing.

    Only the ledger rows of this key (its fingerprint) and base URL count, test-mode ones never
    (they were not debited). Raises the client's errors
    (:class:`~generect_excel.errors.GenerectError`) before anything is written.
    """
    now = now or datetime.now(UTC)
    until = until or now
    since = since or until - timedelta(days=C.RECONCILE_DEFAULT_DAYS)
    skew = timedelta(seconds=C.RECONCILE_CLOCK_SKEW)
    quiet = timedelta(seconds=C.RECONCILE_QUIET_SECONDS)
    # Rows near the period's edges may own charges inside it and the other way round: read
    # both sides wide enough for every matching window.
    reach = timedelta(seconds=max(_TIMEOUTS.values(), default=C.REALTIME_TIMEOUT)) + skew + quiet
    # The ledger first: a charge landing meanwhile then shows in neither, not as a false gap.
    entries = [
        e
        for e in store.charges(since - reach, until + reach, account=settings.account)
        if not e.test_mode and e.base_url == settings.base_url
    ]
    history = client.transactions(since - 2 * reach, until + reach, status="success")
    pending = client.transactions(since - 2 * reach, until + reach, status="pending")
    result = match(
        entries,
        history,
        since=since,
        until=until,
        now=now,
        pending=pending.transactions,
        skew=skew,
        quiet=quiet,
    )
    store.settle([s.settlement for s in result.settled])
    return result
