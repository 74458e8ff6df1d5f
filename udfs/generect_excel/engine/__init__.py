"""The engine: every count and search goes through here, and nothing is paid for twice.

A call (:meth:`Engine.count`, :meth:`Engine.search`) goes:

1. **Key.** ``sha256(endpoint path, canonical request JSON, base URL, account fingerprint)``.
   The API key itself is never part of anything stored.
2. **Cache.** A stored answer is returned with no network and no charge, unless the call's
   ``refresh`` value asks for a fresh one (below) or it is a free database count older than
   ``settings.free_count_max_age``. Paid answers never expire by themselves.
3. **Budget.** The worst case (:func:`generect_excel.budget.estimate_cost`) is checked against
   the per-request cap and the day's ledger total plus what every process sharing the store
   holds in flight (each paid claim carries its worst case), in the same store transaction as
   the in-flight claim (step 4), so Excel and the CLI cannot both pass the daily cap. A breach
   raises :class:`~generect_excel.errors.BudgetError` and nothing is sent. Test-mode keys are
   exempt.
4. **Coalesced fetch.** Identical requests in flight at once make one API call: threads of one
   process share a future per key; separate processes (Excel and the CLI) coordinate through
   the store's ``inflight`` claims, the others polling (woken early by the team store) until
   the answer lands (or the claim is abandoned: owner gone, or older than the request timeout
   plus a margin). A call whose key
   is being fetched in this process joins that fetch before it even reads the store (step 2):
   the answer on its way is at least as fresh as any stored one, and a burst of identical
   cells then waits on one future instead of queueing for the store.
5. **Save.** The answer, its ledger row (billable endpoints, searches and realtime counts, even
   at $0; any other answer whose ``meta.amount_charged`` is above 0), a search's leads in the
   register of owned leads (:mod:`generect_excel.store.register`) and the refresh mark are written in
   one transaction. If the write fails after the API answered, it is retried
   briefly, then the charge goes to the store's fallback journal and a
   :class:`~generect_excel.errors.StoreError` says it was charged.

**Owned leads.** The cache key is the analyst's question; the body sent for a search is built
at fetch time from the register (:meth:`Engine._wire`): pages of the same criteria exclude
each other's leads (``exclude_ids``, with ``offset_by`` reduced by the earlier pages' leads), and
"New leads only" excludes the register's most recent leads. Searches of one criteria family
fetch one at a time, in a process (a lock) and across the processes and machines sharing the
store (a claim in it), so parallel pages cannot buy the same leads.

**Unknown outcomes.** A billable call that was sent and whose answer was lost
(:class:`~generect_excel.errors.OutcomeUnknownError`: read timeout, dropped connection) or
arrived unreadable under a 2xx status (:class:`~generect_excel.errors.ProtocolError`) may have
been charged, so it is never sent again blindly. The doubt is recorded under the cache key in
one transaction (:meth:`~generect_excel.store.Store.record_unknown`): a ledger row flagged
``unknown_outcome`` at the worst-case estimate (the totals and the daily cap count it), the
formula's refresh mark flagged failed, the claim's release. Until an answer is saved for the
key, a call that would have fetched with the same refresh value (or with none, when nothing is
stored) raises the same kind of error without sending: it may have been charged; check the
balance or ``generect-excel spend``; change the refresh value to try again. A new refresh
value (the CLI's ``--refresh``) tries once more. The doubt rides on the one SELECT of step 2.

**A crash mid-purchase.** A process killed while its paid call is in flight cannot record the
doubt itself, so the claim does it ahead: right before the request leaves (after the client's
concurrency slot, through the client's ``on_send``), the claim is marked sent, durably, with the
unknown outcome and ledger row to write if nobody comes back
(:meth:`~generect_excel.store.Store.mark_sent`). A dead owner's claim never marked sent is taken
over and fetched as usual; one that was is recorded exactly like a lost answer by whoever finds
it (:meth:`~generect_excel.store.Store.settle_abandoned`: the next store opened, the next full
claim), and the call that found it on its own key gets the unknown outcome's error, unless it
carries a refresh value the dead call did not have. A call interrupted in this process (Ctrl+C)
after its request left is recorded the same way at once, instead of releasing its claim. So the
ledger's known plus unknown amounts always cover what the server charged, and nothing is bought
again blindly.

**Refresh.** ``refresh`` is any cell value (None or empty text means "no refresh"). A call with
value ``T`` fetches afresh once, unless the stored answer was itself fetched for ``T`` or this
formula (its ``origin``: workbook, sheet, cell) already saw ``T`` on it. So changing a refresh
cell costs one call per distinct request, a toggle (TRUE/FALSE/TRUE) refetches at each change,
and two formulas with the same question but different refresh cells do not take turns paying.

**Concurrency.** The engine is synchronous and thread-safe: the refresher runs many queries
at once by calling it from a thread pool of ``settings.max_parallel`` workers (the client also
caps requests in flight at that number). Threads were chosen over an async twin because the
store is SQLite (blocking either way), coalescing needs one code path, and xlwings' threaded
UDFs call in from threads too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .. import _constants as C
from .. import budget
from ..errors import GenerectError, OutcomeUnknownError, ProtocolError, SettingsError
from ..ledger import LedgerEntry, LedgerRow, Origin, SpendView, period_bounds
from ..operations import operation
from ..responses import Account
from ..store import Found
from . import keys
from .doubt import LOST_MESSAGE as LOST_MESSAGE
from .doubt import UNREADABLE_MESSAGE as UNREADABLE_MESSAGE
from .fetch import _FetchMixin
from .keys import Answer, Kind, _Call, _local_bound, _Request, make_cache_key, refresh_token

__all__ = [
    "Answer",
    "Engine",
    "Kind",
    "Origin",
    "make_cache_key",
    "refresh_token",
]

log = logging.getLogger(__name__)

ZERO = Decimal("0")


class Engine(_FetchMixin):
    """Counts, searches, estimates, balance and spend, through the store, paid for once.

    ``client`` defaults to the process's shared :class:`~generect_excel.client.Client` (made
    on the first fetch, so cache hits work without the network); ``store`` to the store the
    settings name (:func:`~generect_excel.store.open_store`, opened on first use): any
    :class:`~generect_excel.store.StoreBackend`;
    ``clock`` returns the current aware UTC time (injectable for tests).

    Example::

        engine = Engine(load_settings())
        answer = engine.search(criteria_from_kwargs(job_titles=["CTO"], limit_by=25))
        answer.result.leads, answer.from_cache
    """

    # -- public calls ----------------------------------------------------------------------

    def run(
        self, kind: Kind, request: _Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """The answer of the operation ``kind`` (see :mod:`generect_excel.operations`) in
        ``request``'s mode: stored, coalesced, priced before and ledgered after, as
        :meth:`count` and :meth:`search` (which are this with their kind)."""
        return self._answer(self._call(kind, request, refresh, origin))

    def count(
        self, request: _Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """How many leads match ``request`` (free in database mode, billed in realtime)."""
        return self.run("count", request, refresh=refresh, origin=origin)

    def search(
        self, request: _Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """One page of leads for ``request`` (``limit_by``/``offset_by`` inside it)."""
        return self.run("search", request, refresh=refresh, origin=origin)

    def flight_key(self, request: _Request, kind: Kind = "search", refresh: Any = None) -> Any:
        """What identifies a fetch of ``request`` for coalescing: the store, the cache key
        (operation, question, base URL, account) and the refresh value. In-process flights
        and the background fetches (:mod:`generect_excel.pending`) share it; across processes
        the store's claims coalesce the same cache key."""
        call = self._call(kind, request, refresh, None)
        return (self._store_id, call.key, call.token)

    def cached(
        self,
        request: _Request,
        kind: Kind = "search",
        *,
        refresh: Any = None,
        origin: Origin | None = None,
    ) -> Answer | None:
        """What the store answers for ``count``/``search`` with these arguments: the stored
        answer they would return, or None when they would fetch. Never calls the API (the
        worksheet functions use it to answer slow realtime calls from the store at once and
        fetch only what is missing; the refresher's dry run to price what would be sent).

        Raises the error they would raise without sending while an unknown outcome stands for
        the call (:class:`~generect_excel.errors.OutcomeUnknownError` or
        :class:`~generect_excel.errors.ProtocolError`, with its ``unknown_outcome``): there is
        nothing to fetch, so the caller shows that error at once."""
        call = self._call(kind, request, refresh, origin)
        return self._settled(call, self.store.find(call.key, call.slot))

    def cached_many(
        self, calls: Sequence[tuple[Kind, _Request, Any, Origin | None]]
    ) -> list[Answer | GenerectError | None]:
        """:meth:`cached` for each ``(kind, request, refresh, origin)`` of ``calls``, in order,
        from one batched read of the store (:meth:`~generect_excel.store.StoreBackend.find_many`)
        instead of one per call: the refresher prices a whole workbook with it.

        Each slot holds what :meth:`cached` would return, or the error it would raise for an
        unknown outcome standing (returned, not raised, so one lost answer does not hide the
        others' prices). Never calls the API."""
        prepared = [
            self._call(kind, request, refresh, origin) for kind, request, refresh, origin in calls
        ]
        found = self.store.find_many([(call.key, call.slot) for call in prepared])
        answers: list[Answer | GenerectError | None] = []
        for call, stored in zip(prepared, found, strict=True):
            try:
                answers.append(self._settled(call, stored))
            except (OutcomeUnknownError, ProtocolError) as exc:
                answers.append(exc)
        return answers

    def stored(self, request: _Request, kind: Kind = "search") -> Answer | None:
        """The answer last stored for this question, whatever refresh value fetched it, or
        None. Never calls the API. A worksheet function whose refresh failed shows it (what
        was bought is never replaced by an error)."""
        call = self._call(kind, request, None, None)
        entry, _ = self.store.lookup(call.key, "")
        return None if entry is None else self._from_entry(call, entry)

    def estimate(
        self, request: _Request, kind: Kind = "search", *, cached: bool | None = None
    ) -> budget.Estimate:
        """The worst-case cost of ``request``, and whether a stored answer makes it free now.

        ``cached``: whether it is, when the caller has just read the store (e.g. with
        :meth:`cached_many`); the store is then not read again."""
        if cached is None:
            call = self._call(kind, request, None, None)
            entry, _ = self.store.lookup(call.key, "")
            cached = entry is not None and self._usable(call, entry, None)
            mode, endpoint, body = call.mode, call.endpoint, call.body
        else:  # no store read, so no cache key to hash (the dry run prices thousands)
            mode = str(request.mode)
            endpoint = operation(kind, mode)
            body = request.body()
        return budget.Estimate(
            kind=kind,
            mode=mode,
            amount=endpoint.estimate(body),
            rows=endpoint.rows(body),
            cached=cached,
            test_mode=self.settings.test_mode_key,
        )

    def account(self) -> Account:
        """The account's balance (free), kept for ``ACCOUNT_CACHE_SECONDS`` in this engine."""
        with self._account_lock:  # one call for many GENERECT_BALANCE() cells at once
            cached = self._account
            if cached is not None and time.monotonic() - cached[0] < C.ACCOUNT_CACHE_SECONDS:
                return cached[1]
            account = self.client.account()
            self._account = (time.monotonic(), account)
            return account

    def spend(
        self,
        period: str = "today",
        *,
        account: str | None = None,
        include_test_mode: bool = False,
        view: SpendView = "me",
    ) -> Decimal:
        """What the ledger says was charged in ``period`` ("today", "month" or "all").

        Calls whose outcome is unknown count at their worst-case estimate (see
        :meth:`estimated`). Days and months follow the computer's local clock. Every account
        in the store is counted unless ``account`` (a fingerprint) is given; test-mode charges
        only when asked. ``view`` "me" counts this analyst's purchases (on the SQLite store,
        one analyst's own, all of them), "team" every analyst's on the team store (see
        :meth:`ledger_analyst`). Summed by the store's database, in one query.
        """
        since, until = period_bounds(period, self._clock())
        return self.store.total_charged(
            since,
            until,
            account=account,
            include_test_mode=include_test_mode,
            analyst=self.ledger_analyst(view),
        )

    def estimated(
        self,
        period: str = "today",
        *,
        account: str | None = None,
        include_test_mode: bool = False,
        view: SpendView = "me",
    ) -> tuple[Decimal, int]:
        """How much of :meth:`spend` for ``period`` is worst-case estimates for calls whose
        outcome is unknown (their answer was lost after sending), and how many such calls."""
        since, until = period_bounds(period, self._clock())
        return self.store.unknown_total(
            since,
            until,
            account=account,
            include_test_mode=include_test_mode,
            analyst=self.ledger_analyst(view),
        )

    def spend_by_analyst(self, period: str = "today") -> dict[str, Decimal]:
        """What each analyst of the team store was charged in ``period`` (test mode excluded;
        analysts without a charge in it are absent). Raises :class:`SettingsError` on a store
        that is one analyst's own (see :meth:`ledger_analyst`)."""
        self.ledger_analyst("analysts")
        since, until = period_bounds(period, self._clock())
        return self.store.spend_by_analyst(since, until)

    def ledger_analyst(self, view: SpendView) -> str | None:
        """The analyst whose ledger rows ``view`` reads, ``None`` for every row of the store.

        "me" is this analyst on the team store, and the whole store on the SQLite one (it holds
        one analyst's purchases). "team" and "analysts" need the team store: on the SQLite one
        they raise :class:`SettingsError` rather than pass one laptop off as the team.
        """
        if view == "me":
            return self.store.analyst
        if self.store.analyst is None:
            raise SettingsError(
                f'The "{view}" view needs the team store: this computer\'s store holds only its '
                "own purchases. Set GENERECT_STORE_URL to the team's PostgreSQL (README: \"The "
                'team store"), or ask for "me".',
                short=f'"{view}" needs the team store (GENERECT_STORE_URL); use "me" here.',
            )
        return None

    def charges(
        self,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        *,
        account: str | None = None,
        view: SpendView = "me",
    ) -> list[LedgerEntry]:
        """Ledger rows from ``since`` to ``until``; a date covers that whole local day
        (``view``: whose, as in :meth:`spend`)."""
        start = _local_bound(since, end=False)
        stop = _local_bound(until, end=True)
        return self.store.charges(start, stop, account=account, analyst=self.ledger_analyst(view))

    def iter_ledger_rows(
        self,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        *,
        view: SpendView = "me",
    ) -> Iterator[LedgerRow]:
        """The rows of :meth:`charges` read a page at a time, as stored, undecoded
        (``generect-excel spend``'s table and CSV: a ledger of any size, streamed)."""
        start = _local_bound(since, end=False)
        stop = _local_bound(until, end=True)
        return self.store.iter_ledger_rows(start, stop, analyst=self.ledger_analyst(view))

    def _settled(self, call: _Call, found: Found) -> Answer | None:
        """What the store answers for this call: the stored answer, the error of an unknown
        outcome (raised), or None (it must fetch)."""
        if found.unknown is not None and self._doubt_blocks(call, found):
            raise self._doubt_error(call, found.unknown)
        entry = found.entry
        if entry is not None and self._usable(call, entry, found.mark):
            self._remember_token(call, found.mark)
            return self._from_entry(call, entry)
        return None

    def _answer(self, call: _Call) -> Answer:
        joined = self._join_flight(call)
        if joined is not None:
            return joined
        found = self.store.find(call.key, call.slot)
        answer = self._settled(call, found)
        if answer is not None:
            log.debug("cache hit %s %s %s", call.mode, call.kind, call.key[:12])
            return answer
        return self._coalesced(call, found)

    def _join_flight(self, call: _Call) -> Answer | None:
        """The answer of this process's fetch of ``call.key`` if one is running, else None.

        If that fetch fails, the call is answered as if it had read the store first: from
        the stored entry when it is usable (or the error of an unknown outcome), else with the
        fetch's error (never a second call).
        """
        with keys._flights_lock:
            future = keys._flights.get((self._store_id, call.key))
        if future is None:
            return None
        try:
            answer = future.result()
        except Exception as exc:
            settled = self._settled(call, self.store.find(call.key, call.slot))
            if settled is not None:
                return settled
            self._remember_doubt(call, exc)
            raise  # the leader's error, as a follower of it has always had
        if call.token is not None:  # the mark is read after the leader's save wrote its own
            self._remember_token(call, self.store.refresh_mark(call.key, call.slot))
        return replace(answer, from_cache=True)

    def _coalesced(self, call: _Call, found: Found) -> Answer:
        flight = (self._store_id, call.key)
        with keys._flights_lock:
            future = keys._flights.get(flight)
            leader = future is None
            if future is None:
                future = keys._flights[flight] = Future()
        if not leader:
            try:
                answer = future.result()  # the leader's answer, or its exception re-raised
            except Exception as exc:
                self._remember_doubt(call, exc)
                raise
            self._remember_token(call, found.mark)
            return replace(answer, from_cache=True)
        try:
            answer = self._lead(call, found)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(answer)
            return answer
        finally:
            with keys._flights_lock:
                keys._flights.pop(flight, None)
