"""The HTTP client for the Generect API: build the request, send it, map errors, read the answer.

Caching, billing and Excel belong elsewhere (engine, store, udfs). This module only talks HTTP:

    from generect_excel.client import Client
    from generect_excel.settings import load_settings

    with Client(load_settings()) as client:
        answer = client.count("database", {"job_titles": ["CEO"], "locations": ["Germany"]})
        print(answer.results_count, answer.amount_charged)

:class:`Client` (threads) and :class:`AsyncClient` (asyncio) have the same methods:
``search(mode, body)``, ``count(mode, body)``, ``account()`` and ``transactions(since, until)``
(the billing history, every page, each record checked against the filters asked). Both hold
one pooled httpx connection pool, send ``Authorization: Token <key>``, retry what is safe to
retry (see :mod:`generect_excel.retry`) and let only :mod:`generect_excel.errors` classes
escape. :func:`shared_client` gives each process one :class:`Client` per base URL and key.

Requests in flight are capped by the process's adaptive limiter for the base URL and key
(:mod:`generect_excel.throttle`): at most ``settings.max_parallel``, fewer while Generect
throttles. A throttled request (429, never charged) gives its slot back, waits (jittered, at
least any ``Retry-After``) and tries again, for up to ``settings.max_throttle_wait`` minutes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random as _random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlencode

import httpx

from . import _constants as C
from .errors import (
    CriteriaError,
    GenerectError,
    ProtocolError,
    RateLimitedError,
    format_detail,
)
from .responses import (
    Account,
    BillingHistory,
    CountResult,
    SearchResult,
    Transaction,
    TransactionPage,
    body_snippet,
)
from .retry import (
    HTTPX_ERRORS,
    Attempt,
    RetryPolicy,
    exception_outcome,
    is_retryable,
    is_throttled,
    parse_retry_after,
    retry_delay,
    status_error,
)
from .settings import ENV_VARS, Settings
from .throttle import ConcurrencyLimiter, Signal, limiter_for

__all__ = [
    "ENDPOINTS",
    "AsyncClient",
    "Client",
    "Endpoint",
    "Mode",
    "RetryPolicy",
    "close_shared_clients",
    "retry_delay",
    "shared_client",
]

logger = logging.getLogger("generect_excel.client")

Mode = Literal["database", "realtime"]


@dataclass(frozen=True)
class Endpoint:
    """One Generect endpoint: where it is, how long to wait, and whether it costs money."""

    name: str
    method: str
    path: str
    timeout: float
    billable: bool
    parse: Callable[..., Any]


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("search", "database"): Endpoint(
        "database lead search", "POST", C.PATH_DATABASE_SEARCH, C.DATABASE_TIMEOUT, True,
        SearchResult.from_api,
    ),
    # Database counts are free: a lost answer may simply be asked for again.
    ("count", "database"): Endpoint(
        "database lead count", "POST", C.PATH_DATABASE_COUNT, C.DATABASE_TIMEOUT, False,
        CountResult.from_api,
    ),
    ("search", "realtime"): Endpoint(
        "realtime lead search", "POST", C.PATH_REALTIME_SEARCH, C.REALTIME_TIMEOUT, True,
        SearchResult.from_api,
    ),
    # Realtime counts are billed per request, even when the count is 0.
    ("count", "realtime"): Endpoint(
        "realtime lead count", "POST", C.PATH_REALTIME_COUNT, C.REALTIME_TIMEOUT, True,
        CountResult.from_api,
    ),
    # The account is free, so it too may be retried after a lost answer.
    ("account", ""): Endpoint(
        "account", "GET", C.PATH_ACCOUNT, C.ACCOUNT_TIMEOUT, False, Account.from_api
    ),
    # The billing history is free too; its filters and page travel in the query string.
    ("transactions", ""): Endpoint(
        "billing history", "GET", C.PATH_TRANSACTIONS, C.ACCOUNT_TIMEOUT, False,
        TransactionPage.from_api,
    ),
}  # fmt: skip


def _user_agent() -> str:
    from . import __version__  # at call time: the package may re-export this module

    return f"generect-excel/{__version__}"


def _decode(content: bytes) -> tuple[Any, str | None]:
    """The JSON value of a body, or None and what is wrong with it."""
    text = content.strip()
    if not text:
        return None, "empty body"
    if text[:1] == b"<":
        return None, "an HTML page instead of JSON"
    try:
        return json.loads(text), None
    except (UnicodeDecodeError, ValueError):
        return None, "broken or truncated JSON"


def _wire_time(moment: datetime) -> str:
    """An aware time as the transactions filters take it: UTC, ISO 8601, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _TransactionListing:
    """Reading the billing history page by page (no I/O: the clients send the requests).

    Generect pages by ``offset``, newest first, and drops a filter it cannot read while still
    answering 200, so every record is checked against the period and status asked
    (:meth:`BillingHistory.admits`) and the others are counted, not kept. A record seen on an
    earlier page (the list shifts when a charge lands meanwhile) is kept once; a page bringing
    nothing new means the server ignores ``offset``, and is refused rather than looped on.
    """

    def __init__(self, since: datetime | None, until: datetime | None, status: str | None):
        self.history = BillingHistory(since=since, until=until, status=status)
        self.kept: list[Transaction] = []
        self.ignored = 0
        self.seen: set[str] = set()
        self.offset = 0
        self.pages = 0
        self.done = False

    def endpoint(self) -> Endpoint:
        """The request for the next page."""
        params: dict[str, str | int] = {"limit": C.TRANSACTIONS_PAGE_SIZE, "offset": self.offset}
        if self.history.since is not None:
            params["created_at__gte"] = _wire_time(self.history.since)
        if self.history.until is not None:
            params["created_at__lte"] = _wire_time(self.history.until)
        if self.history.status is not None:
            params["status"] = self.history.status
        endpoint = ENDPOINTS[("transactions", "")]
        return replace(endpoint, path=f"{endpoint.path}?{urlencode(params)}")

    def add(self, page: TransactionPage) -> None:
        """Take one page's records; sets :attr:`done` after the last (an empty page)."""
        self.pages += 1
        if not page.transactions:
            self.done = True
            return
        new = [t for t in page.transactions if t.id not in self.seen]
        if not new or self.pages >= C.TRANSACTIONS_MAX_PAGES:
            raise ProtocolError(
                "Generect's billing history does not page forward (the same records came "
                "back). Retry later.",
                details=f"GET {C.PATH_TRANSACTIONS}: page {self.pages} at offset "
                f"{self.offset} brought {len(page.transactions)} record(s), none new",
                path=C.PATH_TRANSACTIONS,
            )
        self.offset += len(page.transactions)
        for record in new:
            self.seen.add(record.id)
            if self.history.admits(record):
                self.kept.append(record)
            else:
                self.ignored += 1

    def result(self) -> BillingHistory:
        if self.ignored:
            logger.warning(
                "Generect sent %d transaction(s) outside the filters asked (%s): a filter was "
                "dropped; they were left out",
                self.ignored,
                self.endpoint().path.partition("?")[2],
            )
        return self.history.model_copy(update={"transactions": self.kept, "ignored": self.ignored})


@dataclass
class _Patience:
    """How much of its retry allowance one call has used."""

    retries: int = 0  # retries after anything but throttling: bounded by max_retries
    throttles: int = 0  # 429s so far: the exponent of the throttling backoff
    throttled_since: float | None = None  # the clock when the first 429 arrived
    throttle_slept: float = 0.0  # seconds slept after 429s

    def throttled_for(self, now: float) -> float:
        """Seconds since the first 429. The slept total counts too, so that an injected
        sleep that does not let the clock move still adds up."""
        if self.throttled_since is None:
            return 0.0
        return max(now - self.throttled_since, self.throttle_slept)


def _signal(outcome: Attempt) -> Signal:
    """What an attempt tells the limiter about Generect's cap."""
    if is_throttled(outcome.error):
        return "throttled"
    return "answered" if outcome.error is None else "failed"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


class _BaseClient:
    """The logic shared by :class:`Client` and :class:`AsyncClient`; no I/O here."""

    def __init__(
        self,
        settings: Settings,
        *,
        random: Callable[[], float],
        policy: RetryPolicy | None,
        clock: Callable[[], float] = time.monotonic,
        limiter: ConcurrencyLimiter | None = None,
    ) -> None:
        # Before any I/O: a missing key is a SettingsError saying where the key is read from.
        self._key = settings.require_key()
        self._settings = settings
        self._random = random
        self._policy = policy or RetryPolicy()
        self._clock = clock
        # Shared with every client for this base URL and key in the process (see throttle.py).
        self._limiter = limiter or limiter_for(
            settings.base_url, settings.account, settings.max_parallel
        )
        # What the sync and the async httpx client are both built with. The pool holds exactly
        # as many connections as we let requests run at once; redirects are never followed.
        self._http_options: dict[str, Any] = {
            "base_url": settings.base_url,
            "headers": {
                "Authorization": f"Token {self._key}",
                "Accept": "application/json",
                "User-Agent": _user_agent(),
            },
            "limits": httpx.Limits(
                max_connections=settings.max_parallel,
                max_keepalive_connections=settings.max_parallel,
            ),
            "follow_redirects": False,
        }

    @property
    def settings(self) -> Settings:
        """The settings this client was built with (their repr never shows the key)."""
        return self._settings

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    @property
    def limiter(self) -> ConcurrencyLimiter:
        """The adaptive cap on requests in flight this client shares (see throttle.py)."""
        return self._limiter

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self._settings.base_url!r} "
            f"account={self._settings.account} max_parallel={self._settings.max_parallel}>"
        )

    # -- building requests -------------------------------------------------------------------

    @staticmethod
    def _endpoint(kind: str, mode: str) -> Endpoint:
        try:
            return ENDPOINTS[(kind, str(mode).strip().lower())]
        except KeyError:
            raise CriteriaError(f"Unknown mode {mode!r}: use 'database' or 'realtime'.") from None

    @staticmethod
    def _encode(body: Mapping[str, Any]) -> bytes:
        if not isinstance(body, Mapping):
            raise CriteriaError(f"The request body must be a mapping, not {type(body).__name__}.")
        try:
            return json.dumps(
                dict(body), ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
        except (TypeError, ValueError) as exc:
            raise CriteriaError(f"The criteria cannot be sent as JSON: {exc}") from None

    def _request_args(self, endpoint: Endpoint, content: bytes | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} if content is not None else None
        return {
            "method": endpoint.method,
            "url": endpoint.path,
            "content": content,
            "headers": headers,
            "timeout": httpx.Timeout(
                endpoint.timeout, connect=C.CONNECT_TIMEOUT, pool=C.CONNECT_TIMEOUT
            ),
        }

    # -- reading answers ---------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Belt and braces: an answer that echoes the key must not carry it any further."""
        return text.replace(self._key, "[key]") if self._key and text else text

    def _unreadable(
        self, endpoint: Endpoint, status: int, problem: str, body: Any, details: str | None = None
    ) -> ProtocolError:
        if endpoint.billable:
            message = (
                f"Unreadable answer from Generect (HTTP {status}, {problem}): "
                "it may have been charged. Check the balance."
            )
        else:
            message = f"Unreadable answer from Generect (HTTP {status}, {problem}). Retry later."
        details = details or (
            f"{endpoint.method} {endpoint.path} -> HTTP {status}: {problem}. "
            f"Body: {body_snippet(body)}"
        )
        return ProtocolError(
            message, details=details, path=endpoint.path, may_be_charged=endpoint.billable
        )

    def _interpret_response(self, endpoint: Endpoint, response: httpx.Response) -> Attempt:
        status = response.status_code
        payload, problem = _decode(response.content)
        envelope = payload if isinstance(payload, dict) else {}
        if 200 <= status < 300 and envelope.get("status") == "error":
            # An error envelope under a 2xx status: believe the envelope.
            code = envelope.get("status_code")
            status = code if isinstance(code, int) and not isinstance(code, bool) else 500
        if 200 <= status < 300:
            # A body cut short by the connection is an httpx RemoteProtocolError (outcome
            # unknown); a body that arrived whole but is not our JSON lands here.
            if problem is not None:
                return Attempt(error=self._unreadable(endpoint, status, problem, response.content))
            mode_header = response.headers.get("X-Generect-Mode", "")
            try:
                result = endpoint.parse(
                    payload, test_mode=mode_header.strip().lower() == "test", path=endpoint.path
                )
            except ProtocolError as exc:
                error = self._unreadable(
                    endpoint, status, "unexpected shape", payload, details=exc.details
                )
                return Attempt(error=error)
            return Attempt(result=result)
        if status < 400:
            # We never follow redirects: a POST must not be silently re-sent elsewhere.
            where = response.headers.get("Location", "?")
            message = f"Generect answered HTTP {status} (a redirect). Check {C.ENV_BASE_URL}."
            details = f"{endpoint.method} {endpoint.path} -> HTTP {status}, Location: {where}"
            return Attempt(error=ProtocolError(message, details=details, path=endpoint.path))
        detail = envelope.get("detail")
        retry_after = parse_retry_after(
            response.headers.get("Retry-After"),
            retry_after_ms=response.headers.get("Retry-After-Ms"),
        )
        error = status_error(
            endpoint,
            status,
            detail,
            text=self._scrub(format_detail(detail)),
            body=self._scrub(body_snippet(response.content)),
            key_source=self._settings.key_source,
            retry_after=retry_after,
        )
        retry = is_retryable(error, self._policy)
        return Attempt(error=error, retry=retry, retry_after=retry_after, reason=f"HTTP {status}")

    def _delay_before_retry(
        self, endpoint: Endpoint, patience: _Patience, outcome: Attempt
    ) -> float | None:
        """Seconds to wait before trying again, or None to give up (and raise).

        A 429 is waited out until ``max_throttle_wait`` minutes have passed since the call's
        first 429 (the last wait is cut to end there, so the call fails then, not sooner);
        anything else retryable is retried ``policy.max_retries`` times.
        """
        if not outcome.retry:
            return None
        if is_throttled(outcome.error):
            now = self._clock()
            if patience.throttled_since is None:
                patience.throttled_since = now
            left = self._settings.max_throttle_wait * 60 - patience.throttled_for(now)
            if left <= 0:
                return None
            delay = retry_delay(patience.throttles, self._policy, outcome.retry_after, self._random)
            delay = min(delay, left)
            patience.throttles += 1
            patience.throttle_slept += delay
            logger.info(
                "Throttled on %s %s (429 number %d), trying again in %.2f s",
                endpoint.method,
                endpoint.path,
                patience.throttles,
                delay,
            )
            return delay
        if patience.retries >= self._policy.max_retries:
            return None
        delay = retry_delay(patience.retries, self._policy, outcome.retry_after, self._random)
        patience.retries += 1
        logger.info(
            "Retrying %s %s after %s (retry %d of %d in %.2f s)",
            endpoint.method,
            endpoint.path,
            outcome.reason,
            patience.retries,
            self._policy.max_retries,
            delay,
        )
        return delay

    def _final_error(
        self, endpoint: Endpoint, patience: _Patience, outcome: Attempt
    ) -> GenerectError:
        error = outcome.error
        assert error is not None
        if patience.throttled_since is not None and isinstance(error, RateLimitedError):
            # Waited out for as long as allowed: say for how long, and which setting gives more.
            waited = patience.throttled_for(self._clock())
            limit = self._settings.max_throttle_wait
            variable = ENV_VARS["max_throttle_wait"]
            throttled = RateLimitedError(
                f"Throttled by Generect (429) for {_duration(waited)}; nothing charged. "
                f"To wait longer, raise {variable} (minutes).",
                status_code=429,
                detail=error.detail,
                details=(
                    f"{error.details}; throttled {patience.throttles + 1} times over "
                    f"{waited:.1f} s; max_throttle_wait is {limit:g} min (config file key "
                    f"max_throttle_wait, or {variable})"
                ),
                path=error.path,
                retry_after=error.retry_after,
            )
            outcome.cause, error = error, throttled
        error.message = self._scrub(error.full_message)
        error.details = self._scrub(error.details)
        error.args = (error.message,)
        logger.debug("%s %s failed: %s", endpoint.method, endpoint.path, error.details)
        return error


class Client(_BaseClient):
    """The Generect API over one pooled connection, for threads.

    ``transport`` (e.g. ``httpx.MockTransport``), ``sleep`` and ``random`` are injectable so
    tests never touch the network or wait. Thread-safe; at most ``settings.max_parallel``
    requests are in flight at once, fewer while Generect throttles (the others wait their
    turn). ``clock`` (monotonic seconds) times throttling; ``limiter`` replaces the process's
    shared one (see :mod:`generect_excel.throttle`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        limiter: ConcurrencyLimiter | None = None,
    ) -> None:
        super().__init__(settings, random=random, policy=policy, clock=clock, limiter=limiter)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, **self._http_options)

    def search(
        self,
        mode: Mode,
        body: Mapping[str, Any],
        *,
        on_send: Callable[[], None] | None = None,
    ) -> SearchResult:
        """One page of leads (``limit_by``/``offset_by`` inside ``body``). Billable per row.

        ``on_send`` runs right before the request leaves (after its turn among the requests
        in flight; again before a retry); if it raises, nothing is sent."""
        return self._call(self._endpoint("search", mode), self._encode(body), on_send)

    def count(
        self,
        mode: Mode,
        body: Mapping[str, Any],
        *,
        on_send: Callable[[], None] | None = None,
    ) -> CountResult:
        """How many leads match. Free in database mode, billed per request in realtime mode.
        ``on_send`` as for :meth:`search`."""
        return self._call(self._endpoint("count", mode), self._encode(body), on_send)

    def account(self) -> Account:
        """The account's balance and monthly usage (free)."""
        return self._call(ENDPOINTS[("account", "")], None)

    def transactions(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        status: str | None = "success",
    ) -> BillingHistory:
        """The account's billing history from ``since`` to ``until`` (aware times, both
        included; None: open) with ``status`` (``success``: settled charges, the ones to
        reconcile with; None: any), every page read (free).

        Records Generect sends outside those filters (it drops one it cannot read) are left
        out and counted in ``ignored``.
        """
        listing = _TransactionListing(since, until, status)
        while not listing.done:
            listing.add(self._call(listing.endpoint(), None))
        return listing.result()

    def _call(
        self,
        endpoint: Endpoint,
        content: bytes | None,
        on_send: Callable[[], None] | None = None,
    ) -> Any:
        args = self._request_args(endpoint, content)
        patience = _Patience()
        while True:
            ticket = self._limiter.acquire(self._settings.max_parallel)
            signal: Signal = "failed"
            try:
                outcome = self._send(endpoint, args, on_send)
                signal = _signal(outcome)
            finally:
                self._limiter.release(ticket, signal)
            if outcome.error is None:
                return outcome.result
            delay = self._delay_before_retry(endpoint, patience, outcome)
            if delay is None:
                raise self._final_error(endpoint, patience, outcome) from outcome.cause
            self._sleep(delay)  # outside the slot: a waiting retry must not block others

    def _send(
        self,
        endpoint: Endpoint,
        args: dict[str, Any],
        on_send: Callable[[], None] | None = None,
    ) -> Attempt:
        """One attempt, in a slot: send the request, read what came back. ``on_send`` runs
        first, the last moment before the bytes leave (see :meth:`search`); if it raises,
        nothing is sent."""
        if on_send is not None:
            on_send()
        try:
            response = self._http.request(**args)
        except HTTPX_ERRORS as exc:
            return exception_outcome(endpoint, exc, scrub=self._scrub)
        logger.debug("%s %s -> HTTP %d", endpoint.method, endpoint.path, response.status_code)
        return self._interpret_response(endpoint, response)

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The same as :class:`Client` for asyncio: ``await client.search(mode, body)``.

    Its connections belong to the event loop that first uses it: create one per
    ``asyncio.run`` (``async with AsyncClient(settings) as client: ...``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        limiter: ConcurrencyLimiter | None = None,
    ) -> None:
        super().__init__(settings, random=random, policy=policy, clock=clock, limiter=limiter)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, **self._http_options)

    async def search(self, mode: Mode, body: Mapping[str, Any]) -> SearchResult:
        """One page of leads (``limit_by``/``offset_by`` inside ``body``). Billable per row."""
        return await self._call(self._endpoint("search", mode), self._encode(body))

    async def count(self, mode: Mode, body: Mapping[str, Any]) -> CountResult:
        """How many leads match. Free in database mode, billed per request in realtime mode."""
        return await self._call(self._endpoint("count", mode), self._encode(body))

    async def account(self) -> Account:
        """The account's balance and monthly usage (free)."""
        return await self._call(ENDPOINTS[("account", "")], None)

    async def transactions(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        status: str | None = "success",
    ) -> BillingHistory:
        """The billing history, as :meth:`Client.transactions`."""
        listing = _TransactionListing(since, until, status)
        while not listing.done:
            listing.add(await self._call(listing.endpoint(), None))
        return listing.result()

    async def _call(self, endpoint: Endpoint, content: bytes | None) -> Any:
        args = self._request_args(endpoint, content)
        patience = _Patience()
        while True:
            ticket = await self._limiter.acquire_async(self._settings.max_parallel)
            signal: Signal = "failed"
            try:
                outcome = await self._send(endpoint, args)
                signal = _signal(outcome)
            finally:
                self._limiter.release(ticket, signal)
            if outcome.error is None:
                return outcome.result
            delay = self._delay_before_retry(endpoint, patience, outcome)
            if delay is None:
                raise self._final_error(endpoint, patience, outcome) from outcome.cause
            await self._sleep(delay)  # outside the slot: a waiting retry must not block others

    async def _send(self, endpoint: Endpoint, args: dict[str, Any]) -> Attempt:
        """One attempt, in a slot: send the request, read what came back."""
        try:
            response = await self._http.request(**args)
        except HTTPX_ERRORS as exc:
            return exception_outcome(endpoint, exc, scrub=self._scrub)
        logger.debug("%s %s -> HTTP %d", endpoint.method, endpoint.path, response.status_code)
        return self._interpret_response(endpoint, response)

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# One pooled Client per process and (base URL, key, parallel cap). No shared AsyncClient on
# purpose: its connections are tied to one event loop, and a cache outliving asyncio.run
# would hold dead sockets; an async caller owns one AsyncClient per run instead.
_shared_lock = threading.Lock()
_shared: dict[tuple[str, str, int], Client] = {}


def shared_client(settings: Settings) -> Client:
    """The process's :class:`Client` for these settings' base URL and key (created once).

    Keyed by the key's fingerprint, never the key. Thread-safe. A missing key raises
    :class:`~generect_excel.errors.SettingsError` at once.
    """
    settings.require_key()
    cache_key = (settings.base_url, settings.account, settings.max_parallel)
    with _shared_lock:
        client = _shared.get(cache_key)
        if client is None or client.is_closed:
            client = _shared[cache_key] = Client(settings)
        return client


def close_shared_clients() -> None:
    """Close and forget every shared client (tests, and a clean shutdown)."""
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for client in clients:
        client.close()
