"""The engine: every count and search goes through here, and nothing is paid for twice.

A call (:meth:`Engine.count`, :meth:`Engine.search`) goes:

1. **Key.** ``sha256(endpoint path, canonical request JSON, base URL, account fingerprint)``.
   The API key itself is never part of anything stored.
2. **Cache.** A stored answer is returned with no network and no charge, unless the call's
   ``refresh`` value asks for a fresh one (below) or it is a free database count older than
   ``settings.free_count_max_age``. Paid answers never expire by themselves.
3. **Budget.** The worst case (:func:`generect_excel.budget.estimate_cost`) is checked against
   the per-request cap and the day's ledger total plus what this process is already spending
   in flight; a breach raises :class:`~generect_excel.errors.BudgetError` and nothing is sent.
   Test-mode keys are exempt.
4. **Coalesced fetch.** Identical requests in flight at once make one API call: threads of one
   process share a future per key; separate processes (Excel and the CLI) coordinate through
   the store's ``inflight`` claims, the others polling until the answer lands (or the claim is
   abandoned: owner gone, or older than the request timeout plus a margin). A call whose key
   is being fetched in this process joins that fetch before it even reads the store (step 2):
   the answer on its way is at least as fresh as any stored one, and a burst of identical
   cells then waits on one future instead of queueing for the store.
5. **Save.** The answer, its ledger row (billable endpoints only: searches and realtime counts)
   and the refresh mark are written in one transaction. If the write fails after the API
   answered, it is retried briefly, then the charge goes to the store's fallback journal and a
   :class:`~generect_excel.errors.StoreError` says it was charged.

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
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from . import _constants as C
from . import budget
from .client import ENDPOINTS, Endpoint, shared_client
from .errors import StoreError
from .ledger import Charge, LedgerEntry, Origin, period_bounds
from .models import canonical_json
from .responses import Account, CountResult, SearchResult
from .settings import Settings
from .store import BoundedMemo, CacheEntry, Store, new_owner

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


class _Request(Protocol):
    mode: Any

    def body(self) -> dict[str, Any]: ...


class _Client(Protocol):
    def search(self, mode: Any, body: Any) -> SearchResult: ...

    def count(self, mode: Any, body: Any) -> CountResult: ...

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
# (store path, cache key) -> the leader's future.
_flights_lock = threading.Lock()
_flights: dict[tuple[str, str], Future[Answer]] = {}
# Worst cases of the paid calls in flight, per store file: the daily cap counts them as spent.
_reserved: dict[str, Decimal] = {}


def _forget_flights_in_child() -> None:
    # A forked child inherits the parent's futures, which no thread of its own will complete.
    global _flights_lock
    _flights_lock = threading.Lock()
    _flights.clear()
    _reserved.clear()


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
    on the first fetch, so cache hits work without the network); ``store`` to a
    :class:`~generect_excel.store.Store` at ``settings.store_path`` (opened on first use);
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
        store: Store | None = None,
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
    def store(self) -> Store:
        """The store (opened on first use)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = Store(self.settings.store_path)
        return self._store

    @property
    def client(self) -> _Client:
        """The API client (the shared one unless injected); raises SettingsError without a key."""
        if self._client is not None:
            return self._client
        return shared_client(self.settings)

    @property
    def _store_id(self) -> str:
        # Engines on the same file (however its path is spelled) share their flights.
        if self._store_key is None:
            self._store_key = str(Path(self.store.path).resolve())
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
        """The stored answer ``count``/``search`` with these arguments would return, or None
        when they would fetch. Never calls the API (the worksheet functions use it to answer
        slow realtime calls from the store at once and fetch only what is missing)."""
        call = self._call(kind, request, refresh, origin)
        entry, mark = self.store.lookup(call.key, call.slot)
        if entry is None or not self._usable(call, entry, mark):
            return None
        self._remember_token(call, mark)
        return self._from_entry(call, entry)

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

        Days and months follow the computer's local clock. Every account in the store is
        counted unless ``account`` (a fingerprint) is given; test-mode charges only when asked.
        """
        since, until = period_bounds(period, self._clock())
        return self.store.total_charged(
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
                details=f"{self.store.path}: entry {call.key[:12]}: {exc}",
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

    def _answer(self, call: _Call) -> Answer:
        joined = self._join_flight(call)
        if joined is not None:
            return joined
        entry, mark = self.store.lookup(call.key, call.slot)
        if entry is not None and self._usable(call, entry, mark):
            log.debug("cache hit %s %s %s", call.mode, call.kind, call.key[:12])
            self._remember_token(call, mark)
            return self._from_entry(call, entry)
        return self._coalesced(call, entry, mark)

    def _join_flight(self, call: _Call) -> Answer | None:
        """The answer of this process's fetch of ``call.key`` if one is running, else None.

        If that fetch fails, the call is answered as if it had read the store first: from
        the stored entry when it is usable, else with the fetch's error (never a second call).
        """
        with _flights_lock:
            future = _flights.get((self._store_id, call.key))
        if future is None:
            return None
        try:
            answer = future.result()
        except Exception:
            entry, mark = self.store.lookup(call.key, call.slot)
            if entry is not None and self._usable(call, entry, mark):
                self._remember_token(call, mark)
                return self._from_entry(call, entry)
            raise  # the leader's error, as a follower of it has always had
        if call.token is not None:  # the mark is read after the leader's save wrote its own
            self._remember_token(call, self.store.refresh_mark(call.key, call.slot))
        return replace(answer, from_cache=True)

    def _coalesced(self, call: _Call, seen: CacheEntry | None, mark: str | None) -> Answer:
        flight = (self._store_id, call.key)
        with _flights_lock:
            future = _flights.get(flight)
            leader = future is None
            if future is None:
                future = _flights[flight] = Future()
        if not leader:
            answer = future.result()  # the leader's answer, or its exception re-raised
            self._remember_token(call, mark)
            return replace(answer, from_cache=True)
        try:
            answer = self._lead(call, seen, mark)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(answer)
            return answer
        finally:
            with _flights_lock:
                _flights.pop(flight, None)

    def _reserve(self, call: _Call) -> Decimal:
        """Check the budget for this call's worst case and count it as spent while in flight."""
        test_mode = self.settings.test_mode_key
        estimate = budget.estimate_cost(call.body, call.kind, call.mode)
        if test_mode or estimate <= 0:
            return ZERO
        since, until = period_bounds("today", self._clock())
        spent = self.store.total_charged(since, until)
        store_id = self._store_id
        with _flights_lock:
            in_flight = _reserved.get(store_id, ZERO)
            what = f"This {call.mode} {call.kind}"
            budget.check(estimate, spent + in_flight, self.settings, what=what)
            _reserved[store_id] = in_flight + estimate
        return estimate

    def _unreserve(self, amount: Decimal) -> None:
        if amount:
            with _flights_lock:
                store_id = self._store_id
                _reserved[store_id] = _reserved.get(store_id, ZERO) - amount

    def _lead(self, call: _Call, seen: CacheEntry | None, mark: str | None) -> Answer:
        self.client  # noqa: B018 - no key? fail now, before claiming or reserving anything
        reserved = self._reserve(call)
        try:
            return self._claim_and_fetch(call, seen, mark)
        finally:
            self._unreserve(reserved)

    def _claim_and_fetch(self, call: _Call, seen: CacheEntry | None, mark: str | None) -> Answer:
        store = self.store
        owner = new_owner()
        ttl = call.endpoint.timeout + C.INFLIGHT_CLAIM_MARGIN
        seen_at = seen.fetched_at if seen is not None else None

        def is_fresh(entry: CacheEntry) -> bool:
            # Written since we looked (another process fetched it for us), or usable as is.
            return entry.fetched_at != seen_at or self._usable(call, entry, mark)

        pause = C.INFLIGHT_POLL_INTERVAL
        while True:
            claim = store.claim(call.key, owner, ttl=ttl, is_fresh=is_fresh)
            if claim.state == "claimed":
                break
            if claim.state == "cached" and claim.entry is not None:
                log.debug("answered by another process: %s", call.key[:12])
                self._remember_token(call, mark)
                return self._from_entry(call, claim.entry)
            time.sleep(pause)  # another process is fetching this very request
            pause = min(pause * 1.5, C.INFLIGHT_POLL_MAX_INTERVAL)

        saved = False
        try:
            answer = self._fetch_and_save(call, owner)
            saved = True
            return answer
        finally:
            if not saved:
                try:
                    store.release(call.key, owner)
                except StoreError as exc:  # it expires by itself; say why others may wait
                    log.warning("could not release an in-flight claim: %s", exc.details)

    def _fetch_and_save(self, call: _Call, owner: str) -> Answer:
        client = self.client
        log.info("fetching %s %s %s", call.mode, call.kind, call.key[:12])
        if call.kind == "search":
            result: SearchResult | CountResult = client.search(call.mode, call.body)
        else:
            result = client.count(call.mode, call.body)
        now = self._clock()
        test_mode = self.settings.test_mode_key or result.test_mode
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
            billable=call.endpoint.billable,
            test_mode=test_mode,
        )
        charge = None
        if call.endpoint.billable:
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
        self.store.save(
            entry,
            charge,
            owner=owner,
            mark=(call.slot, call.token) if call.token is not None else None,
            retry_for=C.STORE_WRITE_RETRY_SECONDS,
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
