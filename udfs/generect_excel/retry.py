"""What a failed Generect call means, whether to try again, and how long to wait first.

The policy is data (:class:`RetryPolicy`) and the wait a pure function of the attempt
(:func:`retry_delay`), after anthropic-sdk's ``_calculate_retry_timeout``: 0.5 s doubling to
8 s, jitter on every wait, and a server's ``Retry-After`` taken as the least to wait when it
is sane.

What may be retried is stricter than in most SDKs because calls cost money:

- 429 answers: waited out, bounded by time (``settings.max_throttle_wait`` minutes from the
  first 429), not by ``max_retries``: a 429 is never charged, so waiting is always safe.
- 5xx answers: retried ``max_retries`` times. Generect refunds failed requests, so nothing was
  charged.
- Failures *before the request was sent* (:data:`NOT_SENT`: connect error, connect timeout,
  no free connection in the pool): retried. The server never saw the request.
- Failures *after the request was sent* (:data:`AMBIGUOUS`: read or write timeout, dropped or
  reset connection, truncated or undecodable body): the server may have done the work and
  charged for it. A billable call is never retried then; the client raises
  :class:`~generect_excel.errors.OutcomeUnknownError`. A free call may be retried.

:func:`exception_outcome` and :func:`status_error` translate httpx's exceptions and Generect's
error statuses into :mod:`generect_excel.errors` classes: the one place where that happens.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from . import _constants as C
from .errors import (
    APIError,
    APIStatusError,
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    GenerectError,
    InsufficientFundsError,
    NotFoundError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    format_detail,
)

__all__ = [
    "AMBIGUOUS",
    "HTTPX_ERRORS",
    "NOT_SENT",
    "RETRY_STATUSES",
    "Attempt",
    "Call",
    "RetryPolicy",
    "exception_outcome",
    "is_retryable",
    "is_throttled",
    "parse_retry_after",
    "retry_delay",
    "status_error",
]

RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})

# The request never left this machine: always safe to send again.
NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    # A proxy that refuses the tunnel never forwarded the request to Generect.
    httpx.ProxyError,
)

# The request was (or may have been) received: the outcome, and any charge, is unknown.
# WriteTimeout/WriteError are here although a half-written request cannot be processed:
# the error may surface only after the last byte was already handed to the network, and
# money comes first.
AMBIGUOUS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.CloseError,
    httpx.RemoteProtocolError,  # e.g. "peer closed connection without sending complete body"
    httpx.DecodingError,  # the answer arrived but its content-encoding is broken
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``max_retries`` counts retries, not attempts: 4 means at most 5 requests. It does not
    bound throttling (429), which is bounded by time instead (``settings.max_throttle_wait``).
    """

    max_retries: int = C.MAX_RETRIES
    initial_delay: float = C.INITIAL_RETRY_DELAY
    max_delay: float = C.MAX_RETRY_DELAY
    retry_statuses: frozenset[int] = field(default=RETRY_STATUSES)
    max_retry_after: float = C.MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy values must not be negative")


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    random: Callable[[], float] = _random.random,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    The backoff is ``initial_delay * 2**attempt`` capped at ``max_delay``. Without a sane
    ``retry_after`` the wait is that backoff minus up to 25 % jitter. A sane ``retry_after``
    (0 to ``policy.max_retry_after`` seconds) is the least to wait: the wait is
    ``retry_after`` plus up to one backoff of jitter, so that many cells throttled at once do
    not all come back at the very second the server named (and collide again).

    >>> [retry_delay(n, RetryPolicy(), random=lambda: 0.0) for n in range(6)]
    [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    >>> retry_delay(0, RetryPolicy(), retry_after=1.0, random=lambda: 0.0)
    1.0
    >>> retry_delay(1, RetryPolicy(), retry_after=1.0, random=lambda: 0.5)
    1.5
    """
    # min() before the power would overflow on absurd attempt numbers; cap the exponent.
    backoff = min(policy.initial_delay * 2 ** min(attempt, 62), policy.max_delay)
    if retry_after is not None and 0 <= retry_after <= policy.max_retry_after:
        return float(retry_after) + backoff * random()
    return backoff * (1 - 0.25 * random())


def parse_retry_after(
    value: str | None, *, retry_after_ms: str | None = None, now: datetime | None = None
) -> float | None:
    """Seconds a server asked us to wait: ``Retry-After`` as seconds or an HTTP date.

    ``retry_after_ms`` (a non-standard header some APIs send) wins when present. ``now`` is
    injectable so this stays pure. Unparseable values give None (fall back to backoff).

    >>> parse_retry_after("2")
    2.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC))
    10.0
    """
    if retry_after_ms:
        try:
            ms = float(retry_after_ms)
        except ValueError:
            pass
        else:
            if ms == ms and ms >= 0:  # not NaN
                return ms / 1000
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(seconds, 0.0)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds


# Every exception httpx raises on purpose (InvalidURL, CookieConflict and StreamError are not
# HTTPError subclasses).
HTTPX_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.CookieConflict,
    httpx.StreamError,
)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    402: InsufficientFundsError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitedError,
}

_KEY_SOURCES = {
    "env": f"the {C.ENV_API_KEY} variable",
    "config": "the config file",
    "keyring": "the OS keyring",
    "init": "the settings passed in",
}


class Call(Protocol):
    """What the translation needs to know about the endpoint called."""

    method: str
    path: str
    timeout: float
    billable: bool


@dataclass
class Attempt:
    """What one HTTP attempt came to: a result, or an error and whether to try again."""

    result: Any = None
    error: GenerectError | None = None
    retry: bool = False
    retry_after: float | None = None
    reason: str = ""
    cause: BaseException | None = None


def status_error(
    call: Call,
    status: int,
    detail: Any,
    *,
    text: str,
    body: str,
    key_source: str = "none",
    retry_after: float | None = None,
) -> APIStatusError:
    """The error for an error status. ``text`` is the rendered (and scrubbed) ``detail``;
    ``body`` a snippet of the answer for the details when there is no detail."""
    kwargs: dict[str, Any] = {
        "status_code": status,
        "detail": detail,
        "details": f"{call.method} {call.path} -> HTTP {status}: {text or body}",
        "path": call.path,
        "retry_after": retry_after,
    }
    lowered = text.lower()
    # Some docs say 400 for insufficient funds: the text decides, whatever the 4xx.
    if status == 402 or (400 <= status < 500 and "insufficient funds" in lowered):
        return InsufficientFundsError(None, **kwargs)
    if "try again later" in lowered:
        cls = _STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIStatusError)
        return cls(f"Generect is busy (HTTP {status}): {text}.", **kwargs)
    if status == 400:
        message = f"Generect rejected the criteria (400): {text}" if text else None
        return BadRequestError(message or "Generect rejected the request (400).", **kwargs)
    if status == 401:
        where = _KEY_SOURCES.get(key_source, "the settings")
        message = (
            f"API key rejected (401). Check the key from {where}; it is sent as 'Token <key>'."
        )
        return UnauthorizedError(message, **kwargs)
    if status >= 500:
        message = (
            f"Generect server error ({status}). Failed requests are not charged; refresh later."
        )
        return ServerError(message, **kwargs)
    cls = _STATUS_CLASSES.get(status)
    if cls is not None:
        return cls(None, **kwargs)
    phrase = text or httpx.codes.get_reason_phrase(status) or "error"
    return APIStatusError(f"Generect answered HTTP {status}: {phrase}", **kwargs)


def is_throttled(error: GenerectError | None) -> bool:
    """A 429 that asks us to slow down (waited out by time), not one about the balance."""
    return isinstance(error, RateLimitedError) and error.status_code == 429


def is_retryable(error: APIStatusError, policy: RetryPolicy) -> bool:
    """429/5xx per the policy, or a detail saying "Try again later" (not insufficient funds).

    Safe for billable calls too: Generect does not charge (or refunds) a failed request.
    """
    if isinstance(error, InsufficientFundsError):
        return False  # asking again cannot top the account up
    if error.status_code in policy.retry_statuses:
        return True
    return "try again later" in format_detail(error.detail).lower()


def _server_of(exc: Exception) -> str | None:
    """``scheme://host:port`` of the request an httpx exception belongs to (never a path or a
    query, never a header), or None when it carries no request."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when it has no request
        return None
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}" if url.host else None


def exception_outcome(call: Call, exc: Exception, *, scrub: Callable[[str], str] = str) -> Attempt:
    """Translate an httpx exception: which error, and whether sending again is safe."""
    name = type(exc).__name__
    details = f"{call.method} {call.path}: {name}: {scrub(str(exc))}"
    path = call.path
    if isinstance(exc, NOT_SENT):
        if isinstance(exc, httpx.PoolTimeout):
            message = "Too many Generect requests waiting for a connection. Refresh fewer at once."
        elif isinstance(exc, httpx.ConnectTimeout):
            message = f"Timed out connecting to Generect. Check the network or {C.ENV_BASE_URL}."
        elif (where := _server_of(exc)) is not None:
            # Which server: with the sandbox's URL set and the sandbox stopped, the URL is the
            # clue a newcomer needs.
            message = (
                f"Cannot reach Generect at {where}. Check the network or {C.ENV_BASE_URL}, "
                "then retry."
            )
        else:
            message = None  # ConnectionFailedError's default says what to check
        error: GenerectError = ConnectionFailedError(message, details=details, path=path)
        return Attempt(error=error, retry=True, reason=name, cause=exc)
    if isinstance(exc, AMBIGUOUS):
        if isinstance(exc, httpx.TimeoutException):
            lost = f"Generect did not answer within {call.timeout:g} s"
        else:
            lost = "The connection to Generect broke"
        if call.billable:
            # The server may have done the work and charged for it: never send it again
            # blindly. The engine and the analyst decide, with the balance in hand.
            message = f"{lost} after sending: it may have been charged. Check the balance first."
            return Attempt(
                error=OutcomeUnknownError(message, details=details, path=path), cause=exc
            )
        # A free call (database count, account) cannot have cost anything: ask again.
        message = f"{lost} (free call, nothing charged). Retry later."
        error = ConnectionFailedError(message, details=details, path=path)
        return Attempt(error=error, retry=True, reason=name, cause=exc)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        message = f"Cannot use the Generect URL. Check {C.ENV_BASE_URL}."
        return Attempt(error=ConnectionFailedError(message, details=details, path=path), cause=exc)
    if isinstance(exc, httpx.LocalProtocolError):
        # h11 refuses to put a malformed request on the wire: nothing left this machine.
        message = "Could not send the request (invalid HTTP). Please report this."
        return Attempt(error=ConnectionFailedError(message, details=details, path=path), cause=exc)
    if isinstance(exc, httpx.TooManyRedirects):
        message = f"Generect answered with redirects. Check {C.ENV_BASE_URL}."
        return Attempt(error=ProtocolError(message, details=details, path=path), cause=exc)
    # Anything else (a bare transport error, stream misuse, ...): we cannot tell whether the
    # request went out, so a billable call is reported as possibly charged.
    if call.billable:
        message = f"HTTP failure ({name}); it may have been charged. Check the balance first."
        return Attempt(error=OutcomeUnknownError(message, details=details, path=path), cause=exc)
    message = f"HTTP failure talking to Generect ({name}). Retry later."
    return Attempt(error=APIError(message, details=details, path=path), cause=exc)
