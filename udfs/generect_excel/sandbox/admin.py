"""The sandbox's admin API (loopback only): its settings, faults to inject, the request log,
a reset (moved out of :mod:`generect_excel.sandbox.app`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from .config import SandboxConfig
from .faults import FaultQueue
from .population import Population
from .requestlog import RequestLog
from .validation import InvalidRequest
from .wire import _decode, _envelope, _JSONResponse, _money


class _AdminMixin:
    """The ``/_sandbox/`` routes of :class:`~generect_excel.sandbox.app.SandboxApp`."""

    config: SandboxConfig
    population: Population
    faults: FaultQueue
    log: RequestLog
    reset: Callable[[], None]

    @staticmethod
    def _loopback(request: Request) -> bool:
        host = request.client.host if request.client else ""
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _admin_guard(self, request: Request) -> Response | None:
        if not self._loopback(request):
            return _JSONResponse(_envelope(403, "The sandbox admin API is loopback-only."), 403)
        return None

    async def _admin_info(self, request: Request) -> Response:
        if denied := self._admin_guard(request):
            return denied
        c = self.config
        return _JSONResponse(
            {
                "sandbox": "generect-excel",
                "seed": c.seed,
                "leads": self.population.size,
                "clean": self.population.clean,
                "latency": c.latency,
                "realtime_latency": c.realtime_latency,
                "max_parallel": c.max_parallel,
                "retry_after": c.retry_after,
                "balance": _money(c.balance),
                "pending_faults": self.faults.pending(),
            }
        )

    async def _admin_faults(self, request: Request) -> Response:
        if denied := self._admin_guard(request):
            return denied
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                payload = _decode(await request.body())
                faults = payload["faults"] if isinstance(payload, dict) else payload
                path = payload.get("path") if isinstance(payload, dict) else None
                if not isinstance(faults, list) or not (path is None or isinstance(path, str)):
                    raise TypeError
                self.faults.push(faults, path=path)
            except InvalidRequest as exc:
                return _JSONResponse(_envelope(400, exc.detail), 400)
            except (KeyError, TypeError):
                return _JSONResponse(
                    _envelope(400, 'Send {"faults": ["rate_limited", ...], "path": null}.'), 400
                )
            except ValueError as exc:
                return _JSONResponse(_envelope(400, str(exc)), 400)
        return _JSONResponse({"pending": self.faults.pending()})

    async def _admin_log(self, request: Request) -> Response:
        if denied := self._admin_guard(request):
            return denied
        return _JSONResponse({"entries": self.log.entries()})

    async def _admin_reset(self, request: Request) -> Response:
        if denied := self._admin_guard(request):
            return denied
        self.reset()
        return _JSONResponse({"reset": True})
