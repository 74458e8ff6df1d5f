"""The sandbox's ASGI application (Starlette): Generect's lead and account endpoints, offline.

Every API call goes through one pipeline, in this order:

1. auth: ``Authorization: Token <key>``; no header, another scheme or a raw key -> 401; keys
   starting ``invalid`` -> 401 "Invalid token." (so tests can reach it); ``test_`` keys are
   test mode (``X-Generect-Mode: test`` on every answer, prices reported, nothing debited);
2. the parallel cap (lead calls only): more than ``max_parallel`` in flight for a key -> 429
   (with ``Retry-After`` when ``retry_after`` is set);
3. ``latency`` (every call);
4. a fault, if one applies (see :mod:`.faults`); failures answer here and never charge;
5. the body: a JSON object, Generect's validation (:mod:`.validation`) -> 400;
6. ``realtime_latency`` (realtime calls);
7. the search, the price, the debit (402 when the balance cannot cover it; recorded in the
   key's billing history, ``GET accounts/transactions``, see :mod:`.billing`), the answer.

Unknown paths (including a missing trailing slash) answer 404 and wrong methods 405, both in
Generect's error envelope. ``/_sandbox/...`` is the sandbox's own admin API (loopback only):
queue faults, read the log, reset.

An optional **response observer** (``SandboxApp(..., observer=...)``, off by default) sees every
response the application sends, admin and error answers included: it is called as
``observer(method, path, status, headers, body, fault=fault)`` once the body is complete (or as
far as it went, for a connection a fault cut short), ``fault`` naming the fault that shaped the
answer (``None`` for none). The test suite checks every answer against Generect's spec with it.
When it is off, the application is the plain Starlette one: nothing is added to any request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .. import _constants as C
from ..operations import OPERATIONS
from ..settings import key_fingerprint
from . import leadops
from .accounts import Accounts
from .admin import _AdminMixin
from .app_ops import INSUFFICIENT_FUNDS, MODE_HEADER, _OperationsMixin
from .companies import company_row
from .config import SandboxConfig
from .faults import CHARGED_DROP, DELAY_FAULTS, Fault, FaultQueue, fault_for_key, parse_fault
from .population import Population
from .requestlog import RequestLog
from .search import matching_rows, run_search
from .validation import InvalidRequest, is_anchored, paging, validate
from .wire import (
    FAULT_SCOPE_KEY,
    DropConnection,
    ResponseObserver,
    _decode,
    _envelope,
    _JSONResponse,
    _leads_answer,
    _money,
    _Observed,
    _parse_auth,
    _PartialResponse,
)

__all__ = ["DropConnection", "ResponseObserver", "SandboxApp"]

logger = logging.getLogger(__name__)

TEST_BEHAVIOUR_HEADER = "X-Generect-Test-Behaviour"
THROTTLED = "Request was throttled."
_POLL = 0.05  # how often long waits look up (shutdown, released hangs, gone clients)
# Database rows never change (each is a pure function of the seed and its number), so their
# JSON is kept: a page is joined from kept rows instead of rendered and encoded again. A
# client paging through the whole population keeps only the last ones.
ROW_JSON_CACHE = 20_000

_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class _ShuttingDown(Exception):
    pass


@dataclass(frozen=True)
class _Endpoint:
    path: str
    kind: str  # an operation kind: "search", "count", "companies", ..., "account"
    mode: str | None  # "database", "realtime" or None

    @property
    def is_search(self) -> bool:
        """A search or count: POSTed, under the parallel cap (account calls are GETs)."""
        return self.mode is not None

    @property
    def is_company(self) -> bool:
        return self.kind in ("companies", "company_count")


# Every operation the product describes (operations.py), served here.
ENDPOINTS = tuple(
    _Endpoint(operation.path, operation.kind, operation.mode or None)
    for operation in OPERATIONS.values()
) + (
    # Bulk email jobs (issue 14): served by the sandbox, not (yet) used by the product.
    _Endpoint(C.PATH_EMAIL_FIND_BULK, "email_bulk", "database"),
    _Endpoint(C.PATH_EMAIL_FIND_BULK_JOB, "email_job", None),
)
# Served by :mod:`.leadops` (issue 14), after the pipeline's auth, caps and faults.
LEAD_OPERATIONS = ("preview", "enrich", "email", "email_bulk", "email_job")


class SandboxApp(_OperationsMixin, _AdminMixin):
    """The state behind one sandbox server, and its ASGI application (``.asgi``).

    ``observer`` (optional) sees every response sent (see the module docstring).
    """

    def __init__(
        self,
        config: SandboxConfig,
        population: Population,
        *,
        log: RequestLog,
        accounts: Accounts,
        faults: FaultQueue,
        observer: ResponseObserver | None = None,
    ) -> None:
        self.config = config
        self.population = population
        self.log = log
        self.accounts = accounts
        self.faults = faults
        self.in_flight: dict[str, int] = {}
        self.closing = False
        self._database_row_json = lru_cache(maxsize=ROW_JSON_CACHE)(self._render_database_row)
        self._hang_generation = 0
        self._searches = 0  # seeds each search's order (see sandbox.search): reset by reset()
        self.bulk_jobs = leadops.BulkJobs()
        routes = [
            Route(e.path, self._route(e), methods=["POST"] if e.is_search else ["GET"])
            for e in ENDPOINTS
        ]
        routes += [
            Route("/_sandbox/", self._admin_info, methods=["GET"]),
            Route("/_sandbox/faults", self._admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/log", self._admin_log, methods=["GET"]),
            Route("/_sandbox/reset", self._admin_reset, methods=["POST"]),
        ]
        app = Starlette(routes=routes, exception_handlers={HTTPException: self._http_error})
        # Generect's paths must be exact: no redirect from a path without its trailing slash.
        app.router.redirect_slashes = False
        self.observer = observer
        self.asgi: ASGIApp = app if observer is None else _Observed(app, observer)

    # ----------------------------------------------------------------- control
    def release_hangs(self) -> None:
        """End every ``hang`` in progress (their connections are closed)."""
        self._hang_generation += 1

    def reset(self) -> None:
        """Fresh log, opening balances, no queued faults, no hangs, the order of searches
        replayed from the first call."""
        self.log.clear()
        self.accounts.reset()
        self.faults.clear()
        self.release_hangs()
        self._searches = 0
        self.bulk_jobs.clear()

    # ----------------------------------------------------------------- helpers
    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            detail = f'Method "{request.method}" not allowed.'
        elif exc.status_code == 404:
            detail = "Not found."
        else:
            detail = exc.detail
        return _JSONResponse(_envelope(exc.status_code, detail), exc.status_code, exc.headers)

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that gives up when the server stops (so stopping stays quick)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if self.closing:
                raise _ShuttingDown
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _POLL))

    def _error(self, status: int, detail: Any, test_mode: bool, **headers: str) -> Response:
        if test_mode:
            headers[MODE_HEADER] = "test"
        return _JSONResponse(_envelope(status, detail), status, headers or None)

    def _throttled(self, test_mode: bool) -> Response:
        """429, with ``Retry-After`` when the config asks for one (live Generect sends none)."""
        if self.config.retry_after is None:
            return self._error(429, THROTTLED, test_mode)
        return self._error(
            429, THROTTLED, test_mode, **{"Retry-After": str(self.config.retry_after)}
        )

    def _route(self, endpoint: _Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await self._handle(request, endpoint)

        return handle

    # ----------------------------------------------------------------- the pipeline
    async def _handle(self, request: Request, endpoint: _Endpoint) -> Response:
        started = time.perf_counter()
        raw = await request.body()
        decoded: Any = None
        if raw:
            try:
                decoded = _decode(raw)
            except InvalidRequest:
                decoded = None  # logged as raw text; the pipeline answers 400
        entry: dict[str, Any] = {
            "method": request.method,
            "path": endpoint.path,
            "key": None,
            "body": RequestLog.body_for_log(raw, decoded),
            "status": None,
            "rows": None,
            "results_count": None,
            "amount_charged": None,
            "debited": None,
            "test_mode": False,
            "fault": None,
        }
        try:
            response = await self._answer(request, endpoint, raw, entry)
        except _ShuttingDown:
            response = self._error(503, "The sandbox is shutting down.", entry["test_mode"])
        finally:
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        if not isinstance(response, _PartialResponse) or response.keep is not None:
            entry["status"] = response.status_code
        self.log.record(**entry)
        if self.observer is not None and entry["fault"] is not None:
            request.scope[FAULT_SCOPE_KEY] = entry["fault"]  # the same scope the observer reads
        return response

    async def _answer(
        self, request: Request, endpoint: _Endpoint, raw: bytes, entry: dict[str, Any]
    ) -> Response:
        key, problem = _parse_auth(request.headers.get("authorization"))
        if key is None:
            return _JSONResponse(
                _envelope(401, problem), 401, headers={"WWW-Authenticate": "Token"}
            )
        test_mode = key.startswith("test_")
        entry["key"] = key_fingerprint(key)
        entry["test_mode"] = test_mode
        if problem:
            return self._error(401, problem, test_mode, **{"WWW-Authenticate": "Token"})
        fingerprint = entry["key"]
        if endpoint.is_search:
            if self.in_flight.get(fingerprint, 0) >= self.config.max_parallel:
                return self._throttled(test_mode)
            self.in_flight[fingerprint] = self.in_flight.get(fingerprint, 0) + 1
        try:
            await self._sleep(self.config.latency)
            return await self._with_fault(request, endpoint, raw, key, entry)
        finally:
            if endpoint.is_search:
                self.in_flight[fingerprint] -= 1

    def _pick_fault(self, request: Request, path: str, key: str, test_mode: bool) -> Fault | None:
        header = request.headers.get(TEST_BEHAVIOUR_HEADER)
        if header and test_mode:  # Generect honours it in test mode only
            return parse_fault(header)
        return self.faults.take(path) or fault_for_key(key)

    async def _with_fault(
        self, request: Request, endpoint: _Endpoint, raw: bytes, key: str, entry: dict[str, Any]
    ) -> Response:
        test_mode = entry["test_mode"]
        try:
            fault = self._pick_fault(request, endpoint.path, key, test_mode)
        except ValueError as exc:
            return self._error(400, {TEST_BEHAVIOUR_HEADER: [str(exc)]}, test_mode)
        if fault is not None:
            entry["fault"] = str(fault)
            if fault.name in DELAY_FAULTS:
                seconds = self.config.slow_seconds if fault.name == "slow" else fault.seconds
                await self._sleep(min(seconds or 0.0, self.config.hang_limit))
            elif fault.name == CHARGED_DROP:
                return self._cut(await self._serve_request(request, endpoint, raw, entry))
            else:
                return await self._fault_response(request, endpoint, fault, test_mode)
        return await self._serve_request(request, endpoint, raw, entry)

    async def _serve_request(
        self, request: Request, endpoint: _Endpoint, raw: bytes, entry: dict[str, Any]
    ) -> Response:
        if endpoint.kind == "transactions":
            return self._transactions(entry["key"], request, entry["test_mode"])
        if endpoint.kind in LEAD_OPERATIONS:
            return self._serve_leadop(endpoint, request, raw, entry)
        return await self._serve(endpoint, raw, entry)

    @staticmethod
    def _cut(response: Response) -> Response:
        """A 200 answer, already charged, cut off halfway (the ``charged_drop`` fault);
        another status goes out whole (nothing was charged)."""
        if response.status_code != 200:
            return response
        headers = {"content-type": "application/json"}
        if MODE_HEADER.lower() in response.headers:
            headers[MODE_HEADER] = response.headers[MODE_HEADER]
        body = bytes(response.body)
        return _PartialResponse(body, max(1, len(body) // 2), headers)

    async def _fault_response(
        self, request: Request, endpoint: _Endpoint, fault: Fault, test_mode: bool
    ) -> Response:
        name = fault.name
        if name == "not_found":
            return self._error(404, "Not found.", test_mode)
        if name == "insufficient_funds":
            return self._error(402, INSUFFICIENT_FUNDS, test_mode)
        if name == "rate_limited":
            return self._throttled(test_mode)
        if name == "upstream_error":
            return self._error(502, "Upstream service error. Try again later.", test_mode)
        if name == "html_error":
            return Response(_HTML_502, 502, media_type="text/html")
        headers = {"content-type": "application/json"}
        if test_mode:
            headers[MODE_HEADER] = "test"
        sample = json.dumps(self._sample_answer(endpoint), ensure_ascii=False).encode()
        if name == "malformed_json":
            return Response(sample[: len(sample) // 2], 200, headers=headers)
        if name == "drop":
            return _PartialResponse(sample, max(1, len(sample) // 2), headers)
        # hang: wait for the client to give up, the server to stop, a release or the limit.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.hang_limit
        generation = self._hang_generation
        while (
            loop.time() < deadline
            and generation == self._hang_generation
            and not self.closing
            and not await request.is_disconnected()
        ):
            await asyncio.sleep(_POLL)
        return _PartialResponse(sample, None, headers)

    def _sample_answer(self, endpoint: _Endpoint) -> dict[str, Any]:
        """A plausible answer for a fault to mangle (nothing is searched or charged)."""
        if endpoint.kind == "account":
            return {"data": {"credits": {"balance": 0}}}
        if endpoint.kind == "transactions":
            return {"data": {"transactions": []}}
        if endpoint.kind in ("count", "company_count"):
            return {"data": {"results_count": 1240}, "meta": {"amount_charged": 0}}
        pop = self.population
        if endpoint.kind == "preview":
            rows = [leadops.masked_row(pop, i) for i in range(min(3, pop.size))]
            return {"data": {"leads": rows}, "meta": {"amount_charged": 0}}
        if endpoint.kind == "enrich":
            return {"data": leadops.full_profile(pop, 0), "meta": {"amount_charged": 0}}
        if endpoint.kind in ("email", "email_bulk", "email_job"):
            return {"data": {"valid_email": None}, "meta": {"amount_charged": 0}}
        if endpoint.is_company:
            rows = [company_row(pop, c) for c in range(min(3, len(pop.co_name)))]
            return {
                "data": {"companies": rows, "results_count": 1240},
                "meta": {"amount_charged": 0},
            }
        leads = [pop.row(i, endpoint.mode or "database") for i in range(min(3, pop.size))]
        return {"data": {"leads": leads, "results_count": 1240}, "meta": {"amount_charged": 0}}

    async def _serve(self, endpoint: _Endpoint, raw: bytes, entry: dict[str, Any]) -> Response:
        test_mode = entry["test_mode"]
        fingerprint = entry["key"]
        if endpoint.kind == "account":
            return self._account(fingerprint, test_mode)
        if endpoint.is_company:
            return await self._serve_companies(endpoint, raw, entry)
        try:
            body = validate(_decode(raw), endpoint.mode or "database")
        except InvalidRequest as exc:
            return self._error(400, exc.detail, test_mode)
        if endpoint.mode == "realtime":
            await self._sleep(self.config.realtime_latency)
        pop = self.population
        leads: list[dict[str, Any]] | None = None
        rows_json: list[bytes] | None = None  # database rows, already encoded
        if endpoint.kind == "count":
            total = matching_rows(pop, body, endpoint.mode or "database").bit_count()
            price = (
                C.PRICE_REALTIME_COUNT if endpoint.mode == "realtime" else C.PRICE_DATABASE_COUNT
            )
            amount = price
        else:
            self._searches += 1
            shuffle = None
            if not self.config.stable_order:
                shuffle = self.config.seed * 1_000_003 + self._searches
            result = run_search(pop, body, endpoint.mode or "database", shuffle=shuffle)
            total = result.total
            price = C.PRICE_REALTIME_ROW if endpoint.mode == "realtime" else C.PRICE_DATABASE_ROW
            amount = price * len(result.row_ids)
            if endpoint.mode == "realtime":
                leads = [pop.row(i, "realtime") for i in result.row_ids]
            else:
                rows_json = [self._database_row_json(i) for i in result.row_ids]
        debited = Decimal("0")
        if amount and not test_mode:
            operation = C.TRANSACTION_TYPES.get(endpoint.path)
            if not self.accounts.debit(fingerprint, amount, operation=operation):
                return self._error(402, INSUFFICIENT_FUNDS, test_mode)
            debited = amount
        results_count: int | str = total
        if leads is not None and endpoint.mode == "realtime" and is_anchored(body):
            limit, offset = paging(body)
            if offset == 0 and total <= limit:
                results_count = "within limit"  # the whole company fits in this page
        found = leads if leads is not None else rows_json
        entry.update(
            rows=None if found is None else len(found),
            results_count=results_count,
            amount_charged=_money(amount),
            debited=_money(debited),
        )
        headers = {MODE_HEADER: "test"} if test_mode else None
        if rows_json is not None:
            return _leads_answer(rows_json, results_count, _money(amount), headers)
        data: dict[str, Any] = {"results_count": results_count}
        if leads is not None:
            data = {"leads": leads, "results_count": results_count}
        return _JSONResponse(
            {"data": data, "meta": {"amount_charged": _money(amount)}}, 200, headers
        )
