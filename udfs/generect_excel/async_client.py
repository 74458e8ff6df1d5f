"""The asyncio client: :class:`AsyncClient`, the same methods as
:class:`~generect_excel.client.Client` (moved out of :mod:`generect_excel.client`, which
re-exports it).
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from .http_base import ENDPOINTS, Endpoint, _BaseClient, _Patience, _signal, _TransactionListing
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
)
from .settings import Settings
from .throttle import ConcurrencyLimiter, Signal

__all__ = ["AsyncClient"]

logger = logging.getLogger("generect_excel.client")  # the clients' one logger
Mode = Literal["database", "realtime"]


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
