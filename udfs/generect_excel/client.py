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

import logging
import random as _random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from .async_client import AsyncClient
from .http_base import _BaseClient, _Patience, _signal, _TransactionListing
from .operations import OPERATIONS, Operation
from .responses import (
    Account,
    BillingHistory,
    CountResult,
    SearchResult,
)
from .retry import (
    HTTPX_ERRORS,
    Attempt,
    RetryPolicy,
    exception_outcome,
    retry_delay,
)
from .settings import Settings
from .throttle import ConcurrencyLimiter, Signal

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


# What the client sends is an operation of the registry (operations.py): its method, path,
# timeout, whether it is billable and how its answer is read.
Endpoint = Operation
ENDPOINTS = OPERATIONS


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
        return self.send(self._endpoint("search", mode), body, on_send=on_send)

    def send(
        self,
        operation: Operation,
        body: Mapping[str, Any],
        *,
        on_send: Callable[[], None] | None = None,
    ) -> Any:
        """Send any operation of the registry (:mod:`generect_excel.operations`) with the JSON
        ``body``; its answer model back. ``on_send`` as for :meth:`search`."""
        return self._call(operation, self._encode(body), on_send)

    def count(
        self,
        mode: Mode,
        body: Mapping[str, Any],
        *,
        on_send: Callable[[], None] | None = None,
    ) -> CountResult:
        """How many leads match. Free in database mode, billed per request in realtime mode.
        ``on_send`` as for :meth:`search`."""
        return self.send(self._endpoint("count", mode), body, on_send=on_send)

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
