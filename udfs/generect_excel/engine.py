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
   the store's ``inflight`` claims, the others polling until the answer lands (or the claim is
   abandoned: owner gone, or older than the request timeout plus a margin). A call whose key
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
fetch one at a time in a process, so parallel pages cannot buy the same leads.

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

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from . import _constants as C
from . import budget
from .client import ENDPOINTS, Endpoint, shared_client
from .errors import GenerectError, OutcomeUnknownError, ProtocolError, StoreError
from .ledger import Charge, LedgerEntry, Origin, period_bounds
from .memo import BoundedMemo
from .models import canonical_json, wire_body
from .responses import Account, CountResult, SearchResult
from .settings import Settings
from .store import (
    CacheEntry,
    Found,
    Reservation,
    StoreBackend,
    UnknownOutcome,
    new_owner,
    open_store,
)
from .store.register import OwnedLead, PageFacts, Purchase

__all__ = [
    "Answer",
    "Engine",
    "Kind",
    "Origin",
    "make_cache_key",
    "refresh_token",
]

log = logging.getLogger(__name__)

Kind = Literal["search", "count"]
ZERO = Decimal("0")

# What a call whose outcome is unknown says, every time (one line for the cell).
LOST_MESSAGE = (
    "Answer lost: it may have been charged. Check the balance or `generect-excel spend`; "
    "change the refresh value to retry."
)
UNREADABLE_MESSAGE = (
    "Answer unreadable: it may have been charged. Check balance or `generect-excel spend`; "
    "change the refresh value to retry."
)


class _Request(Protocol):
    mode: Any

    def body(self) -> dict[str, Any]: ...


class _Client(Protocol):
    # ``on_send`` runs right before the request leaves (after the client's concurrency slot,
    # again on a retry): the engine marks its claim "sent" there, durably.
    def search(
        self, mode: Any, body: Any, *, on_send: Callable[[], None] | None = None
    ) -> SearchResult: ...

    def count(
        self, mode: Any, body: Any, *, on_send: Callable[[], None] | None = None
    ) -> CountResult: ...

    def account(self) -> Account: ...


@dataclass(frozen=True)
class Answer:
    """What a count or search returns: the result and where it came from.

    ``from_cache`` is False only for the call that paid for it (coalesced followers and cache
    hits are True); ``fetched_at`` is when the API answered (UTC); ``test_mode`` says the
    answer came with a test key and was not debited.
    """

    result: SearchResult | CountResult
    from_cache: bool
    fetched_at: datetime
    cache_key: str
    kind: str = "search"
    mode: str = "database"
    test_mode: bool = False


def make_cache_key(endpoint_path: str, canonical_request: str, base_url: str, account: str) -> str:
    """The cache key: a SHA-256 of what was asked, where, and for which account fingerprint."""
    material = json.dumps(
        [endpoint_path, canonical_request, base_url.rstrip("/"), account],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def refresh_token(value: Any) -> str | None:
    """A cell's refresh value as stable text; None and blank text mean "no refresh".

    Excel sends numbers as floats: 1.0 and 1 are the same value.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _origin_slot(origin: Origin | None) -> str:
    if origin is None:
        return ""
    return "|".join(part or "" for part in (origin.workbook, origin.sheet, origin.cell))


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Identical requests in flight in this process, shared by every Engine on the same store file:
# (store path, cache key) -> the leader's future. (What paid calls in flight hold against the
# daily cap lives in the store, on their claims: every process sees it.)
_flights_lock = threading.Lock()
_flights: dict[tuple[str, str], Future[Answer]] = {}


# Searches of one criteria family (the same question but for limit and offset) fetch one at a
# time in this process: each reads the register for the leads the others bought (stable pages,
# net-new) before it sends, so the refresher's parallel pages do not buy the same leads.
_families: dict[tuple[str, str], threading.Lock] = {}


def _forget_flights_in_child() -> None:
    # A forked child inherits the parent's futures, which no thread of its own will complete.
    global _flights_lock
    _flights_lock = threading.Lock()
    _flights.clear()
    _families.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_flights_in_child)


@dataclass(frozen=True)
class _Call:
    """Everything about one count or search, worked out once."""

    kind: Kind
    mode: str
    endpoint: Endpoint
    body: dict[str, Any]
    canonical: str
    key: str
    token: str | None
    slot: str
    origin: Origin | None


class Engine:
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

    def __init__(
        self,
        settings: Settings,
        *,
        client: _Client | None = None,
        store: StoreBackend | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self._client = client
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._account: tuple[float, Account] | None = None
        self._account_lock = threading.Lock()
        self._store_key: str | None = None
        # cache key -> (the stored answer dict, its kind, the validated result): the store
        # hands back the same dict while the entry is unchanged, so a recalculation does not
        # validate the same answer again. Results are frozen models, shared read-only.
        self._results: BoundedMemo[str, tuple[dict[str, Any], str, Any]] = BoundedMemo(
            C.STORE_MEMO_ENTRIES, C.RESULT_MEMO_ROWS
        )
        # (kind, id of a request) -> (the request, its endpoint, body, canonical JSON, key): the
        # worksheet functions hand over the same (frozen) request object for the same cells.
        self._keys: BoundedMemo[tuple[str, int], tuple[Any, Endpoint, dict[str, Any], str, str]]
        self._keys = BoundedMemo(C.STORE_MEMO_ENTRIES, C.STORE_MEMO_ENTRIES)

    # -- parts -----------------------------------------------------------------------------

    @property
    def store(self) -> StoreBackend:
        """The store (opened on first use)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    @property
    def client(self) -> _Client:
        """The API client (the shared one unless injected); raises SettingsError without a key."""
        if self._client is not None:
            return self._client
        return shared_client(self.settings)

    @property
    def _store_id(self) -> str:
        # Engines on the same store (however its path is spelled) share their flights.
        if self._store_key is None:
            self._store_key = self.store.location
        return self._store_key

    def _call(self, kind: Kind, request: _Request, refresh: Any, origin: Origin | None) -> _Call:
        mode = str(request.mode)
        kept = self._keys.get((kind, id(request)))
        if kept is not None and kept[0] is request:
            _, endpoint, body, canonical, key = kept
        else:
            endpoint = ENDPOINTS[(kind, mode)]
            body = request.body()
            canonical = canonical_json(body)
            key = make_cache_key(
                endpoint.path, canonical, self.settings.base_url, self.settings.account
            )
            self._keys.put((kind, id(request)), (request, endpoint, body, canonical, key))
        return _Call(
            kind=kind,
            mode=mode,
            endpoint=endpoint,
            body=body,
            canonical=canonical,
            key=key,
            token=refresh_token(refresh),
            slot=_origin_slot(origin),
            origin=origin,
        )

    # -- public calls ----------------------------------------------------------------------

    def count(
        self, request: _Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """How many leads match ``request`` (free in database mode, billed in realtime)."""
        return self._answer(self._call("count", request, refresh, origin))

    def search(
        self, request: _Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer:
        """One page of leads for ``request`` (``limit_by``/``offset_by`` inside it)."""
        return self._answer(self._call("search", request, refresh, origin))

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

    def stored(self, request: _Request, kind: Kind = "search") -> Answer | None:
        """The answer last stored for this question, whatever refresh value fetched it, or
        None. Never calls the API. A worksheet function whose refresh failed shows it (what
        was bought is never replaced by an error)."""
        call = self._call(kind, request, None, None)
        entry, _ = self.store.lookup(call.key, "")
        return None if entry is None else self._from_entry(call, entry)

    def estimate(self, request: _Request, kind: Kind = "search") -> budget.Estimate:
        """The worst-case cost of ``request``, and whether a stored answer makes it free now."""
        call = self._call(kind, request, None, None)
        entry, _ = self.store.lookup(call.key, "")
        return budget.Estimate(
            kind=kind,
            mode=call.mode,
            amount=budget.estimate_cost(call.body, kind, call.mode),
            rows=budget.worst_case_rows(call.body) if kind == "search" else 0,
            cached=entry is not None and self._usable(call, entry, None),
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
    ) -> Decimal:
        """What the ledger says was charged in ``period`` ("today", "month" or "all").

        Calls whose outcome is unknown count at their worst-case estimate (see
        :meth:`estimated`). Days and months follow the computer's local clock. Every account
        in the store is counted unless ``account`` (a fingerprint) is given; test-mode charges
        only when asked.
        """
        since, until = period_bounds(period, self._clock())
        return self.store.total_charged(
            since, until, account=account, include_test_mode=include_test_mode
        )

    def estimated(
        self,
        period: str = "today",
        *,
        account: str | None = None,
        include_test_mode: bool = False,
    ) -> tuple[Decimal, int]:
        """How much of :meth:`spend` for ``period`` is worst-case estimates for calls whose
        outcome is unknown (their answer was lost after sending), and how many such calls."""
        since, until = period_bounds(period, self._clock())
        return self.store.unknown_total(
            since, until, account=account, include_test_mode=include_test_mode
        )

    def charges(
        self,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        *,
        account: str | None = None,
    ) -> list[LedgerEntry]:
        """Ledger rows from ``since`` to ``until``; a date covers that whole local day."""
        start = _local_bound(since, end=False)
        stop = _local_bound(until, end=True)
        return self.store.charges(start, stop, account=account)

    # -- the flow --------------------------------------------------------------------------

    def _usable(self, call: _Call, entry: CacheEntry, mark: str | None) -> bool:
        """Whether a stored entry answers this call without a fetch."""
        if call.token is not None and call.token not in (mark, entry.refresh_token):
            return False
        if not entry.billable:  # a free database count: re-fetched when old
            age = self._clock() - entry.fetched_at
            if age > timedelta(seconds=self.settings.free_count_max_age):
                return False
        return True

    def _result(self, call: _Call, entry: CacheEntry) -> SearchResult | CountResult:
        """The stored answer as a result model, validated once per stored answer."""
        kept = self._results.get(call.key)
        if kept is not None and kept[0] is entry.answer and kept[1] == call.kind:
            return kept[2]  # type: ignore[no-any-return]
        model = SearchResult if call.kind == "search" else CountResult
        try:
            result = model.model_validate(entry.answer)
        except ValidationError as exc:
            raise StoreError(
                "A stored answer cannot be read (another version?). "
                "Change the formula's refresh value to fetch it again.",
                details=f"{self.store.location}: entry {call.key[:12]}: {exc}",
            ) from exc
        rows = len(result.leads) if isinstance(result, SearchResult) else 0
        self._results.put(call.key, (entry.answer, call.kind, result), weight=rows + 1)
        return result

    def _from_entry(self, call: _Call, entry: CacheEntry) -> Answer:
        result = self._result(call, entry)
        return Answer(
            result=result,
            from_cache=True,
            fetched_at=entry.fetched_at,
            cache_key=call.key,
            kind=call.kind,
            mode=call.mode,
            test_mode=entry.test_mode,
        )

    def _remember_token(self, call: _Call, mark: str | None) -> None:
        # Only when it changes: a cache hit normally writes nothing.
        if call.token is not None and mark != call.token:
            try:
                self.store.set_refresh_mark(call.key, call.slot, call.token)
            except StoreError as exc:  # the answer is good; the next call may fetch again
                log.warning("could not record a refresh value: %s", exc.details)

    def _remember_doubt(self, call: _Call, exc: BaseException) -> None:
        """A call that waited on a fetch whose outcome is unknown keeps that doubt on its own
        refresh mark, so its next recalculation does not send the call again either."""
        unknown = getattr(exc, "unknown_outcome", None)
        if not isinstance(unknown, UnknownOutcome):
            return
        if call.token is None or call.token == unknown.token:
            return  # the doubt itself already answers this call
        try:
            self.store.set_failed_mark(call.key, call.slot, call.token, unknown.at)
        except StoreError as exc2:
            log.warning("could not record a refresh value: %s", exc2.details)

    @staticmethod
    def _doubt_blocks(call: _Call, found: Found) -> bool:
        """Whether the unknown outcome on the key answers this call (with its error)."""
        unknown, entry = found.unknown, found.entry
        assert unknown is not None
        if entry is not None and entry.fetched_at >= unknown.at:
            return False  # answered since (a journal imported late): the doubt is settled
        if call.token is None:
            return entry is None  # no refresh asked: the stored answer if any, else the doubt
        if call.token == unknown.token:
            return True  # this very refresh value was sent and lost
        # This formula's own call with this value was lost, after the stored answer.
        failed = found.mark_failed_at
        return (
            found.mark == call.token
            and failed is not None
            and (entry is None or failed > entry.fetched_at)
        )

    def _doubt_error(self, call: _Call, unknown: UnknownOutcome) -> GenerectError:
        """The error a call answers with while its unknown outcome stands (nothing is sent)."""
        from .budget import format_money

        details = (
            f"This {call.mode} {call.kind} was sent at {unknown.at:%Y-%m-%d %H:%M:%S} UTC and "
            f"its answer was lost ({unknown.error}): it may have been charged. Up to "
            f"{format_money(unknown.amount)} is recorded in the ledger as an unknown outcome. "
            "Nothing was sent now. Check the balance (GENERECT_BALANCE, the account page) or "
            "`generect-excel spend`; change the formula's refresh value (the CLI: --refresh) "
            "to send it again."
        )
        error: GenerectError
        if unknown.error == "ProtocolError":
            error = ProtocolError(
                UNREADABLE_MESSAGE, details=details, path=call.endpoint.path, may_be_charged=True
            )
        else:
            error = OutcomeUnknownError(LOST_MESSAGE, details=details, path=call.endpoint.path)
        error.unknown_outcome = unknown  # type: ignore[attr-defined]
        return error

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
        with _flights_lock:
            future = _flights.get((self._store_id, call.key))
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
        with _flights_lock:
            future = _flights.get(flight)
            leader = future is None
            if future is None:
                future = _flights[flight] = Future()
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
            with _flights_lock:
                _flights.pop(flight, None)

    def _reservation(self, call: _Call) -> Reservation | None:
        """What this call holds against the caps while in flight (None: free or test mode).

        Its check runs inside the store's claim transaction, against today's ledger plus every
        live claim's reservation, so processes sharing the store cannot both pass the cap."""
        if self.settings.test_mode_key:
            return None
        estimate = budget.estimate_cost(call.body, call.kind, call.mode)
        if estimate <= 0:
            return None
        since, until = period_bounds("today", self._clock())
        settings, what = self.settings, f"This {call.mode} {call.kind}"

        def admit(spent: Decimal, reserved: Decimal) -> None:
            budget.check(estimate, spent, settings, what=what, reserved=reserved)

        return Reservation(estimate, since, until, admit)

    def _lead(self, call: _Call, found: Found) -> Answer:
        self.client  # noqa: B018 - no key? fail now, before claiming or reserving anything
        return self._claim_and_fetch(call, found)

    def _claim_ttl(self, call: _Call) -> float:
        """How long a claim on ``call`` lives (from its taking, and again from each send). A live
        call may wait out throttling for max_throttle_wait before it is even answered: its
        claim must not expire meanwhile, or another process would buy the same answer."""
        return (
            call.endpoint.timeout + self.settings.max_throttle_wait * 60 + C.INFLIGHT_CLAIM_MARGIN
        )

    def _claim_and_fetch(self, call: _Call, found: Found) -> Answer:
        store = self.store
        owner = new_owner()
        ttl = self._claim_ttl(call)
        seen, mark = found.entry, found.mark
        seen_at = seen.fetched_at if seen is not None else None
        seen_doubt = found.unknown.charge_id if found.unknown is not None else None
        reservation = self._reservation(call)

        def is_fresh(entry: CacheEntry) -> bool:
            # Written since we looked (another process fetched it for us), or usable as is.
            return entry.fetched_at != seen_at or self._usable(call, entry, mark)

        def is_new_doubt(unknown: UnknownOutcome) -> bool:
            # Recorded since we looked: another process sent this very call and lost it.
            return unknown.charge_id != seen_doubt

        pause = C.INFLIGHT_POLL_INTERVAL
        while True:
            claim = store.claim(
                call.key,
                owner,
                ttl=ttl,
                is_fresh=is_fresh,
                is_new_doubt=is_new_doubt,
                reservation=reservation,
            )
            if claim.state == "claimed":
                break
            if claim.state == "cached" and claim.entry is not None:
                log.debug("answered by another process: %s", call.key[:12])
                self._remember_token(call, mark)
                return self._from_entry(call, claim.entry)
            if claim.state == "unknown" and claim.unknown is not None:
                if claim.abandoned and call.token not in (None, claim.unknown.token):
                    # A dead process's call, recorded just now; this one asked for a refresh
                    # the dead one did not have: it is sent (and claimed) afresh.
                    seen_doubt = claim.unknown.charge_id
                    continue
                error = self._doubt_error(call, claim.unknown)
                self._remember_doubt(call, error)
                raise error
            time.sleep(pause)  # another process is fetching this very request
            pause = min(pause * 1.5, C.INFLIGHT_POLL_MAX_INTERVAL)

        released = False
        marked: list[bool] = []  # one True once the claim is marked sent (the request left)
        try:
            answer = self._fetch_and_save(call, owner, marked)
            released = True  # saving released the claim
            return answer
        except (OutcomeUnknownError, ProtocolError) as exc:
            if self._maybe_charged(call, exc):
                released = self._record_doubt(call, owner, exc)
            raise
        except BaseException as exc:
            # Interrupted (Ctrl+C) or broken after the request left and before its answer was
            # saved: it may have been charged, so it is recorded like a lost answer, not
            # released. (Our own errors here are answers saying it was not charged, or a
            # save that failed with the charge kept in the journal.)
            if marked and not isinstance(exc, GenerectError):
                released = self._keep_doubt(call, owner, "OutcomeUnknownError")[1]
            raise
        finally:
            if not released:
                try:
                    store.release(call.key, owner)
                except StoreError as exc:  # it expires by itself; say why others may wait
                    log.warning("could not release an in-flight claim: %s", exc.details)

    @staticmethod
    def _maybe_charged(call: _Call, exc: GenerectError) -> bool:
        """Whether a failed call may have been charged: a billable call sent whose answer was
        lost, or came back unreadable under a 2xx status (the client's ProtocolError; a 3xx
        redirect is one too, but Generect never processed it)."""
        if not call.endpoint.billable:
            return False  # a free call cannot have cost anything (and the client retries it)
        if isinstance(exc, OutcomeUnknownError):
            return True
        return isinstance(exc, ProtocolError) and exc.may_be_charged

    def _doubt_records(self, call: _Call, error_kind: str) -> tuple[UnknownOutcome, Charge]:
        """What an unknown outcome of ``call`` is recorded as, now: the doubt under its key and
        its ledger row at the worst-case estimate, flagged ``unknown_outcome``."""
        now = self._clock()
        estimate = budget.estimate_cost(call.body, call.kind, call.mode)
        charge_id = uuid.uuid4().hex
        unknown = UnknownOutcome(call.key, call.token, now, error_kind, estimate, charge_id)
        charge = Charge(
            charge_id=charge_id,
            time=now,
            endpoint=call.endpoint.path,
            mode=call.mode,
            request=call.body,
            rows=0,
            results_count=None,
            amount_charged=estimate,
            test_mode=self.settings.test_mode_key,
            account=self.settings.account,
            base_url=self.settings.base_url,
            cache_key=call.key,
            origin=call.origin or Origin(),
            unknown_outcome=True,
        )
        return unknown, charge

    def _marker(self, call: _Call, owner: str, marked: list[bool]) -> Callable[[], None]:
        """The client's ``on_send`` for a billable call: mark its claim sent, durably, with
        what to record if this process dies before it learns how the call ended (a kill, a
        crash of Excel), and note it in ``marked``. Raising stops the request from leaving."""
        ttl = self._claim_ttl(call)

        def mark_sent() -> None:
            unknown, charge = self._doubt_records(call, "OutcomeUnknownError")
            self.store.mark_sent(unknown, charge, owner=owner, origin=call.slot, ttl=ttl)
            if not marked:
                marked.append(True)

        return mark_sent

    def _record_doubt(self, call: _Call, owner: str, exc: GenerectError) -> bool:
        """Record the unknown outcome of ``call`` (ledger row at the worst case, the doubt
        under its key, the formula's mark, the claim's release: one transaction) and turn
        ``exc`` into the message every later call will give. True when it was stored."""
        error_kind = "ProtocolError" if isinstance(exc, ProtocolError) else "OutcomeUnknownError"
        unknown, stored = self._keep_doubt(call, owner, error_kind)
        template = self._doubt_error(call, unknown)
        exc.details = f"{exc.full_message} {exc.details}. {template.details}"
        exc.message = template.full_message
        exc.args = (template.message,)
        exc.unknown_outcome = unknown  # type: ignore[attr-defined]
        return stored

    def _keep_doubt(self, call: _Call, owner: str, error_kind: str) -> tuple[UnknownOutcome, bool]:
        """Write the unknown outcome of ``call`` and release ``owner``'s claim (one
        transaction; the journal if the store fails). The outcome, and whether it was stored."""
        from .budget import format_money

        unknown, charge = self._doubt_records(call, error_kind)
        estimate = unknown.amount
        stored = True
        try:
            self.store.record_unknown(
                unknown,
                charge,
                owner=owner,
                origin=call.slot,
                retry_for=C.STORE_WRITE_RETRY_SECONDS,
            )
        except StoreError as store_exc:  # kept in the journal (or the log): imported later
            log.error("could not record an unknown outcome: %s", store_exc.details)
            stored = False
        # info, not warning: the error raised says all of it (a CLI would print it twice).
        log.info(
            "%s %s %s: outcome unknown (%s), recorded at up to %s",
            call.mode,
            call.kind,
            call.key[:12],
            error_kind,
            format_money(estimate),
        )
        return unknown, stored

    def _criteria_key(self, call: _Call) -> str:
        """The criteria family of a search: its key without the page (limit, offset) and our
        own options. Pages of one family never overlap (see :meth:`_wire`)."""
        return self._family_key(call.endpoint.path, call.body)

    def _family_key(self, path: str, body: dict[str, Any]) -> str:
        question = {
            k: v for k, v in body.items() if k not in ("limit_by", "offset_by", "new_leads_only")
        }
        return make_cache_key(
            path, canonical_json(question), self.settings.base_url, self.settings.account
        )

    def owned_leads(
        self, request: _Request | None = None, *, since: date | datetime | None = None
    ) -> list[OwnedLead]:
        """The register of owned leads (every lead bought, once), oldest first: all of it, or
        the leads bought by searches with ``request``'s criteria (any page, either mode);
        ``since`` keeps leads first bought from that day (local) or moment on."""
        keys = None
        if request is not None:
            body = request.body()
            keys = [
                self._family_key(ENDPOINTS[("search", mode)].path, body)
                for mode in ("database", "realtime")
            ]
        return self.store.owned_leads(_local_bound(since, end=False), criteria_keys=keys)

    def _wire(self, call: _Call, family: str | None) -> tuple[dict[str, Any], PageFacts | None]:
        """The body to send for ``call`` and what the register excluded from it.

        The cache key stays the analyst's question; what goes on the wire changes with the
        register. A search excludes (``exclude_ids``) the leads bought for the same criteria by
        pages at another offset, and its ``offset_by`` skips only the earlier positions nobody
        bought (``offset`` minus the leads of earlier pages; 0 once they were all bought), so
        pages never overlap whatever Generect's order. "New leads only" also excludes the
        register's most recent ``C.NET_NEW_MAX_EXCLUDE_IDS`` leads (test-mode leads apart).
        """
        body = wire_body(call.body)
        if call.kind != "search" or family is None:
            return body, None
        offset = int(call.body.get("offset_by") or 0)
        page_ids, earlier = self.store.page_exclusions(family, offset)
        owned_ids: list[str] = []
        owned = 0
        if call.body.get("new_leads_only"):
            owned_ids, owned = self.store.recent_lead_ids(
                self.settings.base_url, self.settings.test_mode_key, C.NET_NEW_MAX_EXCLUDE_IDS
            )
        own = list(body.get("exclude_ids") or [])
        excluded = list(dict.fromkeys([*own, *page_ids, *owned_ids]))
        if len(excluded) > len(own):
            body["exclude_ids"] = excluded
        wire_offset = max(0, offset - earlier)
        if wire_offset != offset:  # else the body goes as asked (the ledger's request)
            if wire_offset:
                body["offset_by"] = wire_offset
            else:
                body.pop("offset_by", None)
        rule = ""
        if call.body.get("new_leads_only"):
            rule = "new leads only"
            if owned > len(owned_ids):
                rule += f" (the {len(owned_ids):,} most recent of {owned:,} owned)"
        elif page_ids:
            rule = "other pages"
        facts = PageFacts(
            new=0,
            rows=0,
            excluded=len(excluded) - len(own),
            owned=owned,
            rule=rule,
            wire_offset=wire_offset,
        )
        return body, facts

    def _family_lock(self, family: str) -> threading.Lock:
        with _flights_lock:
            return _families.setdefault((self._store_id, family), threading.Lock())

    def _fetch_and_save(self, call: _Call, owner: str, marked: list[bool]) -> Answer:
        if call.kind != "search":
            return self._fetch_and_save_locked(call, owner, None, marked)
        family = self._criteria_key(call)
        with self._family_lock(family):
            return self._fetch_and_save_locked(call, owner, family, marked)

    def _fetch_and_save_locked(
        self, call: _Call, owner: str, family: str | None, marked: list[bool]
    ) -> Answer:
        client = self.client
        wire, facts = self._wire(call, family)
        log.info("fetching %s %s %s", call.mode, call.kind, call.key[:12])
        # A free call needs no mark: lost, it costs nothing and may simply be asked again.
        on_send = self._marker(call, owner, marked) if call.endpoint.billable else None
        if call.kind == "search":
            result: SearchResult | CountResult = client.search(call.mode, wire, on_send=on_send)
        else:
            result = client.count(call.mode, wire, on_send=on_send)
        if facts is not None and isinstance(result, SearchResult):
            facts = replace(facts, rows=len(result.leads))
            result = result.model_copy(update={"register_facts": facts.to_json()})
        now = self._clock()
        test_mode = self.settings.test_mode_key or result.test_mode
        # meta.amount_charged is the truth: a charge on an endpoint believed free is recorded
        # too (and its answer, being paid for, never expires).
        paid = call.endpoint.billable or result.amount_charged > 0
        entry = CacheEntry(
            key=call.key,
            endpoint=call.endpoint.path,
            mode=call.mode,
            base_url=self.settings.base_url,
            account=self.settings.account,
            request=call.canonical,
            answer=result.model_dump(mode="json"),
            amount_charged=result.amount_charged,
            fetched_at=now,
            refresh_token=call.token,
            billable=paid,
            test_mode=test_mode,
        )
        charge = None
        if paid:
            charge = Charge(
                charge_id=uuid.uuid4().hex,
                time=now,
                endpoint=call.endpoint.path,
                mode=call.mode,
                request=call.body,
                rows=len(result.leads) if isinstance(result, SearchResult) else 0,
                results_count=result.results_count,
                amount_charged=result.amount_charged,
                test_mode=test_mode,
                account=self.settings.account,
                base_url=self.settings.base_url,
                cache_key=call.key,
                origin=call.origin or Origin(),
            )
        purchase = None
        if charge is not None and family is not None and isinstance(result, SearchResult):
            purchase = Purchase(
                charge_id=charge.charge_id,
                time=now,
                base_url=self.settings.base_url,
                account=self.settings.account,
                test_mode=test_mode,
                mode=call.mode,
                cache_key=call.key,
                criteria_key=family,
                page_offset=int(call.body.get("offset_by") or 0),
                request=call.canonical,
                origin=call.origin or Origin(),
                amount_charged=result.amount_charged,
                leads=result.leads,
            )
        new = self.store.save(
            entry,
            charge,
            owner=owner,
            mark=(call.slot, call.token) if call.token is not None else None,
            retry_for=C.STORE_WRITE_RETRY_SECONDS,
            purchase=purchase,
        )
        if (
            new is not None
            and isinstance(result, SearchResult)
            and result.register_facts is not None
        ):
            result = result.model_copy(
                update={"register_facts": {**result.register_facts, "new": new}}
            )
        return Answer(
            result=result,
            from_cache=False,
            fetched_at=now,
            cache_key=call.key,
            kind=call.kind,
            mode=call.mode,
            test_mode=test_mode,
        )


def _local_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A date -> the local midnight starting it (``end``: the one after it); a datetime as is
    (naive means local time)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.astimezone().astimezone(UTC)
    day = value + timedelta(days=1) if end else value
    return datetime(day.year, day.month, day.day).astimezone().astimezone(UTC)
