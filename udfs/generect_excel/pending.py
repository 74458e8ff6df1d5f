"""Slow calls without a frozen Excel: fetch in the background, show "pending", recalculate.

Excel runs worksheet functions on its calculation thread and waits for each one: a realtime
search or count (5 to 60 s at Generect) called synchronously would freeze the whole
application for that long, per formula. So, for the calls that are slow and not yet in the
store (realtime mode), a worksheet function does not wait:

1. It asks :class:`PendingFetches` for the answer. If the store can give it without the
   network (``lookup``: a plain recalculation, a reopened workbook), it is returned at once;
   so is the error of a call whose outcome is unknown (sent, answer lost: the engine never
   sends it again with the same refresh value), which ``lookup`` raises.
2. Otherwise the fetch starts on a background thread, **coalesced by key**: any number of
   cells (and recalculations) asking the same question while it runs share that one fetch.
   The function returns at once with a :class:`Pending` value: one cell saying
   ``#GENERECT! pending: realtime search started 10:31, usually 5-60 s; updates by itself.``
3. When the fetch lands (the engine has written the answer, its charge and refresh mark to
   the store), the outcome is kept for every cell that waited, and the ``notify`` callback
   gets those cells: in Excel it marks them dirty and asks Excel to recalculate
   (``generect_excel.udfs``, the only Windows-specific part).
4. The recalculated cell gets the outcome: the fresh answer (shown as "fetched", not "from
   cache": this is the call that paid) or the error, **once** (a search whose question has
   rows stored from an earlier refresh shows those rows instead, its status line saying the
   refresh failed and why: :func:`generect_excel.functions.run_search`); after that it is
   answered like any other call (from the store, or a new fetch if the error left nothing
   stored, e.g. after a 429 or a server error).

Why not xlwings' ``async_mode="threading"``: it keeps results in a per-cell memory cache,
shows ``#N/A waiting...`` on every recalculation, leaves cells stuck at that text on open and
on Ctrl+Alt+F9 (xlwings #2040, #2134), completes by rewriting the caller's formula, and cannot
tell a cached answer (instant) from a slow fetch, so even stored answers would flash
"waiting". Here a stored answer is returned synchronously and only a real fetch is pending.

Threads: at most ``max_workers`` fetches run at once (the client caps requests in flight
anyway); the workers are not daemon threads, so a fetch already sent when Python exits is
finished and its charge recorded, while fetches still queued are dropped. Pure core: no
xlwings, no COM; the engine is anything with ``run``/``flight_key``/``cached``.

One coalescing mechanism: a background fetch is keyed by the engine's own flight key
(:meth:`~generect_excel.engine.Engine.flight_key`: the store, the cache key, the refresh value),
and runs through the engine, whose in-process flights and store claims coalesce it with the
same question asked in the foreground or by another process.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._constants import DEFAULT_MAX_PARALLEL
from .errors import GenerectError
from .ports import EngineAPI

if TYPE_CHECKING:  # types only: this module is imported by generect_excel.udfs at Excel's start
    from .budget import Estimate
    from .engine import Answer
    from .ledger import LedgerEntry, Origin
    from .models import LeadSearchRequest
    from .responses import Account
    from .settings import Settings
    from .store.register import OwnedLead

__all__ = [
    "BackgroundEngine",
    "FetchPendingError",
    "Pending",
    "PendingFetches",
    "SLOW_MODES",
]

log = logging.getLogger(__name__)

#: Modes whose calls take long enough (5-60 s) to be fetched in the background (each
#: operation says it itself: ``Operation.slow``).
SLOW_MODES = frozenset({"realtime"})

# Outcomes waiting for a cell to be recalculated. A cell that never comes back (deleted, its
# formula changed) would otherwise keep its outcome forever: the oldest are dropped past this.
MAX_KEPT_OUTCOMES = 1000


def _local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Pending:
    """A fetch running in the background: what it is and when it started (local time)."""

    key: Hashable
    what: str
    started_at: datetime

    def message(self) -> str:
        """The pending line a cell shows (without the ``#GENERECT!`` prefix)."""
        return (
            f"pending: {self.what} started {self.started_at:%H:%M}, usually 5-60 s; "
            "updates by itself."
        )


class FetchPendingError(GenerectError):
    """Not an error: the answer is being fetched in the background (see :class:`Pending`).

    Raised through the evaluation so that the worksheet function shows ``str(exc)`` with the
    cell prefix, like any message, and nothing else is computed meanwhile.
    """

    def __init__(self, pending: Pending) -> None:
        self.pending = pending
        super().__init__(pending.message())


@dataclass
class _Flight:
    pending: Pending
    waiters: dict[Hashable, Any]  # waiter id -> waiter (latest wins), to notify and deliver to


Notify = Callable[[Sequence[Any]], None]


class PendingFetches:
    """Background fetches, coalesced by key, with their outcomes kept for the cells waiting.

    ``notify(waiters)`` is called on the worker thread when a fetch ends (answer or error),
    after the outcome is kept, with the waiter objects registered for it (``None`` waiters
    left out; possibly an empty list). Its exceptions are logged, never raised.
    ``clock`` gives the aware local time shown as "started HH:MM".

    Example::

        fetches = PendingFetches(notify=lambda cells: print("recalculate", cells))
        value = fetches.get_or_start("k", fetch=slow_call, lookup=stored_or_none)
        if isinstance(value, Pending):
            print(value.message())
    """

    def __init__(
        self,
        notify: Notify | None = None,
        *,
        max_workers: int = DEFAULT_MAX_PARALLEL,
        clock: Callable[[], datetime] = _local_now,
        max_kept: int = MAX_KEPT_OUTCOMES,
    ) -> None:
        self.notify = notify
        self._max_workers = max_workers
        self._clock = clock
        self._max_kept = max_kept
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._flights: dict[Hashable, _Flight] = {}
        self._busy = 0  # fetches not finished, their notification included
        # (key, waiter id) -> (True, value) | (False, exception), oldest first.
        self._outcomes: OrderedDict[tuple[Hashable, Hashable], tuple[bool, Any]] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None

    # -- the one call a worksheet function makes ---------------------------------------------

    def get_or_start(
        self,
        key: Hashable,
        fetch: Callable[[], Any],
        *,
        lookup: Callable[[], Any] | None = None,
        what: str = "realtime search",
        waiter: Any = None,
        waiter_id: Hashable = None,
    ) -> Any:
        """The answer for ``key`` if it can be had now, else a :class:`Pending`.

        In order: the outcome of a background fetch this waiter was waiting for (an error is
        raised, once); a fetch for ``key`` already running (join it); ``lookup()`` (the store:
        a non-None result is returned, an exception it raises propagates and starts nothing);
        else ``fetch`` is started in the background. ``waiter``
        (e.g. the calling cell) is handed to ``notify`` when the fetch ends; ``waiter_id``
        (e.g. its address) identifies it, so a cell recalculated while it waits is notified
        once and gets the outcome meant for it.
        """
        with self._lock:
            outcome = self._outcomes.pop((key, waiter_id), None)
            if outcome is None:
                flight = self._flights.get(key)
                if flight is not None:
                    flight.waiters[waiter_id] = waiter
                    return flight.pending
        if outcome is not None:
            ok, value = outcome
            if ok:
                return value
            raise value
        if lookup is not None:
            found = lookup()
            if found is not None:
                return found
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:  # nobody started it since we looked: start it now
                flight = _Flight(Pending(key, what, self._clock()), {})
                self._start(key, fetch)  # raises if Python is shutting down: nothing pending
                self._flights[key] = flight
            flight.waiters[waiter_id] = waiter
            return flight.pending

    # -- inspection --------------------------------------------------------------------------

    def in_flight(self) -> list[Pending]:
        """The fetches running or queued now."""
        with self._lock:
            return [flight.pending for flight in self._flights.values()]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every fetch has ended and its notification returned (True), or
        ``timeout`` seconds pass (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def discard_outcomes(self) -> None:
        """Forget the outcomes no cell has come back for (settings changed, tests)."""
        with self._lock:
            self._outcomes.clear()

    # -- the background side -----------------------------------------------------------------

    def _start(self, key: Hashable, fetch: Callable[[], Any]) -> None:
        # Called with the lock held; the worker waits for it before it looks at the flight.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix="generect-fetch"
            )
        self._executor.submit(self._run, key, fetch)
        self._busy += 1

    def _run(self, key: Hashable, fetch: Callable[[], Any]) -> None:
        try:
            outcome: tuple[bool, Any] = (True, fetch())
        except BaseException as exc:  # kept for the cells, shown there: never lost in a thread
            outcome = (False, exc)
            if not isinstance(exc, GenerectError):
                log.error("background fetch failed unexpectedly", exc_info=exc)
        with self._lock:
            flight = self._flights.pop(key)
            for waiter_id in flight.waiters:
                self._outcomes[(key, waiter_id)] = outcome
                self._outcomes.move_to_end((key, waiter_id))
            while len(self._outcomes) > self._max_kept:
                self._outcomes.popitem(last=False)
            waiters = [w for w in flight.waiters.values() if w is not None]
            notify = self.notify
        try:
            if notify is not None:
                notify(waiters)
        except Exception:
            log.warning("could not ask for a recalculation", exc_info=True)
        finally:
            with self._lock:
                self._busy -= 1
                self._idle.notify_all()


class BackgroundEngine:
    """An engine for one worksheet call: slow calls not yet stored go to the background.

    Wraps an :class:`~generect_excel.engine.Engine`. ``count``/``search`` in a mode of
    :data:`SLOW_MODES` (an operation described ``slow``; ``run`` likewise for any operation)
    return the stored answer if there is one for these arguments (the
    engine's ``cached``, refresh value and origin included), raise at once the error of an
    unknown outcome that ``cached`` raises (the call would send nothing), else start the fetch
    in ``fetches`` and raise :class:`FetchPendingError`. Every other call (database mode,
    ``spend``, ``account``, ...) goes straight to the engine. ``waiter`` is the calling cell,
    handed to the notifier when the fetch lands; the call's ``origin`` identifies it.
    """

    def __init__(self, engine: EngineAPI, fetches: PendingFetches, *, waiter: Any = None) -> None:
        self.engine = engine
        self.fetches = fetches
        self.waiter = waiter

    # -- straight to the engine (an :class:`EngineAPI` like the engine it wraps) -------------

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def cached(
        self,
        request: LeadSearchRequest,
        kind: Any = "search",
        *,
        refresh: Any = None,
        origin: Origin | None = None,
    ) -> Answer | None:
        return self.engine.cached(request, kind, refresh=refresh, origin=origin)

    def cached_many(
        self, calls: Sequence[tuple[Any, LeadSearchRequest, Any, Origin | None]]
    ) -> list[Answer | GenerectError | None]:
        return self.engine.cached_many(calls)

    def stored(self, request: LeadSearchRequest, kind: Any = "search") -> Answer | None:
        return self.engine.stored(request, kind)

    def estimate(
        self, request: LeadSearchRequest, kind: Any = "search", *, cached: bool | None = None
    ) -> Estimate:
        return self.engine.estimate(request, kind, cached=cached)

    def account(self) -> Account:
        return self.engine.account()

    def spend(
        self, period: str = "today", *, account: str | None = None, include_test_mode: bool = False
    ) -> Decimal:
        return self.engine.spend(period, account=account, include_test_mode=include_test_mode)

    def estimated(
        self, period: str = "today", *, account: str | None = None, include_test_mode: bool = False
    ) -> tuple[Decimal, int]:
        return self.engine.estimated(period, account=account, include_test_mode=include_test_mode)

    def charges(
        self,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        *,
        account: str | None = None,
    ) -> list[LedgerEntry]:
        return self.engine.charges(since, until, account=account)

    def owned_leads(
        self, request: LeadSearchRequest | None = None, *, since: date | datetime | None = None
    ) -> list[OwnedLead]:
        return self.engine.owned_leads(request, since=since)

    # -- slow modes in the background --------------------------------------------------------

    def count(
        self, request: LeadSearchRequest, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """Like ``Engine.count``; raises FetchPendingError while a slow count runs."""
        return self.run("count", request, refresh=refresh, origin=origin)

    def search(
        self, request: LeadSearchRequest, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """Like ``Engine.search``; raises FetchPendingError while a slow search runs."""
        return self.run("search", request, refresh=refresh, origin=origin)

    def run(
        self, kind: str, request: Any, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """Like ``Engine.run``; raises FetchPendingError while a slow call runs."""
        # At call time: generect_excel.udfs imports this module when Excel starts, and the
        # registry's answer models bring pydantic (figure 5: none at import).
        from .operations import operation

        engine = self.engine
        mode = str(request.mode)
        if not operation(kind, mode).slow:
            return engine.run(kind, request, refresh=refresh, origin=origin)
        # The engine's own flight key (store, cache key, refresh value): one coalescing
        # mechanism whether the fetch runs here, in the foreground or in another process.
        key = engine.flight_key(request, kind, refresh)
        found = self.fetches.get_or_start(
            key,
            lambda: engine.run(kind, request, refresh=refresh, origin=origin),
            lookup=lambda: engine.cached(request, kind, refresh=refresh, origin=origin),
            what=f"{mode} {kind}",
            waiter=self.waiter,
            waiter_id=origin,
        )
        if isinstance(found, Pending):
            raise FetchPendingError(found)
        return found
