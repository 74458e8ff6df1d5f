"""The sandbox's answers on the wire: Generect's error envelope, JSON bytes exactly as
Generect's server renders them, a response cut short, the response observer's wrapper, and
reading a request (its ``Authorization`` header, its JSON body)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .validation import InvalidRequest

logger = logging.getLogger(f"{__package__}.app")  # the app's log, where it always was

# observer(method, path, status, headers, body, fault=...): see the module docstring.
ResponseObserver = Callable[..., None]
# Where a request's fault is left for the observer (set only when there is one).
FAULT_SCOPE_KEY = "generect.sandbox.fault"


class DropConnection(Exception):
    """Raised after a partial answer: uvicorn then closes the connection (the ``drop`` and
    ``hang`` faults). The server's log filter keeps it out of the error log."""


def _envelope(status: int, detail: Any) -> dict[str, Any]:
    return {"status": "error", "status_code": status, "detail": detail}


def _money(amount: Decimal) -> float | int:
    """JSON number for an amount: 0 stays 0, cents stay exact (0.06, not 0.060000000000000005)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


class _JSONResponse(JSONResponse):
    """Starlette's JSONResponse, but a lone surrogate echoed from a request (in a validation
    message) is escaped instead of failing to encode as UTF-8."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _json_bytes(value: Any) -> bytes:
    """``value`` as _JSONResponse encodes it (compact, UTF-8, surrogates escaped)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8"
        )
    except UnicodeEncodeError:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode("ascii")


def _leads_answer(
    rows: Sequence[bytes], results_count: Any, amount: Any, headers: dict[str, str] | None
) -> Response:
    """The search answer, byte for byte what ``_JSONResponse`` renders for
    ``{"data": {"leads": [...], "results_count": N}, "meta": {"amount_charged": X}}``, from
    rows already encoded."""
    body = b"".join(
        (
            b'{"data":{"leads":[',
            b",".join(rows),
            b'],"results_count":',
            _json_bytes(results_count),
            b'},"meta":{"amount_charged":',
            _json_bytes(amount),
            b"}}",
        )
    )
    return Response(body, 200, headers, media_type="application/json")


class _PartialResponse(Response):
    """200 headers announcing ``body``, then only its first ``keep`` bytes, then a closed
    connection (``keep=None``: headers only, for a hang's end)."""

    def __init__(self, body: bytes, keep: int | None, headers: dict[str, str]) -> None:
        self.full = body
        self.keep = keep
        super().__init__(status_code=200, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (k.encode(), v.encode()) for k, v in self.headers.items() if k != "content-length"
        ]
        headers.append((b"content-length", str(len(self.full)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.keep:
            await send(
                {"type": "http.response.body", "body": self.full[: self.keep], "more_body": True}
            )
        raise DropConnection("sandbox fault: connection dropped mid-answer")


class _Observed:
    """An ASGI application whose every HTTP response is shown to ``observer`` once sent."""

    def __init__(self, app: ASGIApp, observer: ResponseObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        reported = False

        def report() -> None:
            nonlocal reported
            if reported or start is None:
                return
            reported = True
            try:
                self.observer(
                    scope["method"],
                    scope["path"],
                    start["status"],
                    Headers(raw=start.get("headers", [])),
                    b"".join(chunks),
                    fault=scope.get(FAULT_SCOPE_KEY),
                )
            except Exception:  # an observer's bug must not break the answer
                logger.exception("the sandbox's response observer failed")

        async def observed_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                report()

        try:
            await self.app(scope, receive, observed_send)
        finally:
            report()  # an answer a fault cut short, as far as it went


def _parse_auth(header: str | None) -> tuple[str | None, str | None]:
    """(key, problem): DRF's TokenAuthentication rules and messages."""
    if not header:
        return None, "Authentication credentials were not provided."
    parts = header.split()
    if not parts or parts[0].lower() != "token":
        # A raw key, or Bearer: DRF does not even try to read it.
        return None, "Authentication credentials were not provided."
    if len(parts) == 1:
        return None, "Invalid token header. No credentials provided."
    if len(parts) > 2:
        return None, "Invalid token header. Token string should not contain spaces."
    key = parts[1]
    if key.startswith("invalid"):
        return key, "Invalid token."
    return key, None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # json.loads would accept NaN and Infinity


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except ValueError as exc:
        raise InvalidRequest(f"JSON parse error - {exc}") from None
