"""One error tree for the whole product.

``str(error)`` is a short, cell-ready line (at most ~120 characters) that says what failed and
what to do; ``error.details`` keeps the long form for logs. Only the edges catch: the CLI turns
an error into a message and an exit code, a worksheet function into a prefixed line in the cell.

    GenerectError
    ├── CriteriaError            invalid criteria, raised before any call (free)
    ├── BudgetError              the estimate would break a spending cap (nothing sent)
    ├── SettingsError            missing key, bad base URL, unreadable config
    ├── StoreError               the local cache/ledger file is locked or broken
    ├── WorkbookError            a workbook the refresher cannot read or write
    └── APIError                 anything the Generect API (or the way to it) did
        ├── ConnectionFailedError    never reached the server: the request was not sent
        ├── OutcomeUnknownError      sent, but the answer was lost: it may have been charged
        ├── ProtocolError            an answer we cannot read: HTML, broken JSON, wrong shape
        └── APIStatusError           an error status with Generect's envelope
            ├── BadRequestError          400 (the detail may be a per-field map)
            ├── UnauthorizedError        401
            ├── InsufficientFundsError   402, or 400 whose detail says so
            ├── ForbiddenError           403
            ├── NotFoundError            404
            ├── RateLimitedError         429
            └── ServerError              5xx
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._constants import CELL_MESSAGE_MAX

if TYPE_CHECKING:  # the store imports this module: the type only
    from .store import UnknownOutcome

__all__ = [
    "APIError",
    "APIStatusError",
    "BadRequestError",
    "BudgetError",
    "ConnectionFailedError",
    "CriteriaError",
    "ForbiddenError",
    "GenerectError",
    "InsufficientFundsError",
    "NotFoundError",
    "OutcomeUnknownError",
    "ProtocolError",
    "RateLimitedError",
    "ServerError",
    "SettingsError",
    "StoreError",
    "UnauthorizedError",
    "WorkbookError",
    "format_detail",
    "one_line",
]


def one_line(text: str, limit: int = CELL_MESSAGE_MAX) -> str:
    """Fold ``text`` to a single line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


def format_detail(detail: Any) -> str:
    """Render Generect's ``detail`` (a string or a ``{field: msg | [msgs]}`` map) readably.

    >>> format_detail({"company_headcounts": ["Object with name=999 does not exist."]})
    'company_headcounts: Object with name=999 does not exist'
    """
    if detail is None:
        return ""
    if isinstance(detail, dict):
        parts = []
        for field, messages in detail.items():
            if isinstance(messages, list | tuple):
                text = "; ".join(format_detail(m) for m in messages)
            else:
                text = format_detail(messages)
            parts.append(f"{field}: {text}" if text else str(field))
        return "; ".join(parts)
    if isinstance(detail, list | tuple):
        return "; ".join(format_detail(d) for d in detail)
    return str(detail).strip().rstrip(".")


class GenerectError(Exception):
    """Root of every error this package raises on purpose.

    ``message`` is the short line a person sees (``str(error)``); ``details`` is the long form
    for logs and ``--verbose``. Neither ever contains the API key.
    """

    default_message = "Generect request failed."

    def __init__(self, message: str | None = None, *, details: str | None = None) -> None:
        self.message = one_line(message or self.default_message)
        self.details = details or message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class CriteriaError(GenerectError):
    """The criteria cannot make a valid request; nothing was sent and nothing was charged.

    ``problems`` lists every problem found (each already a readable sentence), so a person can
    fix them all at once; ``str()`` shows the first and how many more.
    """

    def __init__(self, problems: str | list[str], *, details: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        first = self.problems[0] if self.problems else "Invalid criteria."
        more = len(self.problems) - 1
        message = first if more <= 0 else f"{first} (+{more} more)"
        super().__init__(message, details=details or "\n".join(self.problems))


class BudgetError(GenerectError):
    """The worst-case cost would break a cap; the request was not sent.

    When a cap refused it, the figures that did (None when raised without them, e.g. by the
    refresher's ``--max-spend``): ``estimate`` the worst case of the call, ``cap`` the limit,
    ``spent_today`` and ``reserved`` what already counted against it, ``setting`` the name of
    the setting that sets the cap.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        details: str | None = None,
        estimate: Decimal | None = None,
        cap: Decimal | None = None,
        spent_today: Decimal | None = None,
        reserved: Decimal | None = None,
        setting: str | None = None,
    ) -> None:
        self.estimate = estimate
        self.cap = cap
        self.spent_today = spent_today
        self.reserved = reserved
        self.setting = setting
        super().__init__(message, details=details)


class SettingsError(GenerectError):
    """Settings are missing or unusable (no API key, a non-https base URL, ...)."""


class StoreError(GenerectError):
    """The local store (cache and ledger) is locked by another program or damaged."""


class WorkbookError(GenerectError):
    """A workbook cannot be read, understood or written."""


class APIError(GenerectError):
    """Something went wrong talking to the Generect API.

    ``unknown_outcome`` is set on the errors of a call that may have been charged once its
    doubt is recorded (the store's record: when, the worst case, the ledger row); else None.
    """

    unknown_outcome: UnknownOutcome | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: str | None = None,
        path: str | None = None,
    ) -> None:
        self.path = path
        super().__init__(message, details=details)


class ConnectionFailedError(APIError):
    """The server could not be reached; the request was never sent, so nothing was charged."""

    default_message = "Cannot reach Generect. Check the network or GENERECT_BASE_URL, then retry."


class OutcomeUnknownError(APIError):
    """The request was sent but its answer was lost (read timeout, dropped connection).

    It may have been charged. It is never retried blindly: check the balance or spend first.
    """

    default_message = (
        "Answer lost after sending: it may have been charged. Check the balance before retrying."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        details: str | None = None,
        path: str | None = None,
        unknown_outcome: UnknownOutcome | None = None,
    ) -> None:
        self.unknown_outcome = unknown_outcome
        super().__init__(message, details=details, path=path)


class ProtocolError(APIError):
    """The answer could not be understood (HTML instead of JSON, broken JSON, wrong shape).

    ``may_be_charged`` is True when a billable request reached Generect and the unreadable
    answer came back under a success status: it may have cost money, so it is never re-sent
    blindly. A redirect is a ProtocolError too, but Generect never processed it.
    """

    default_message = "Unexpected answer from Generect (not the expected JSON). Retry later."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: str | None = None,
        path: str | None = None,
        may_be_charged: bool = False,
        unknown_outcome: UnknownOutcome | None = None,
    ) -> None:
        self.may_be_charged = may_be_charged
        self.unknown_outcome = unknown_outcome
        super().__init__(message, details=details, path=path)


class APIStatusError(APIError):
    """Generect answered with an error status. ``detail`` is its envelope's ``detail``."""

    status_code: int = 0

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        detail: Any = None,
        details: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(message, details=details, path=path)


class BadRequestError(APIStatusError):
    """400: Generect rejected the request's content."""

    status_code = 400


class UnauthorizedError(APIStatusError):
    """401: the key is missing, wrong, or was sent without the ``Token`` prefix."""

    status_code = 401
    default_message = "API key rejected (401). Set GENERECT_API_KEY or the config file; it is sent as 'Token <key>'."


class InsufficientFundsError(APIStatusError):
    """402 (or 400 with the same detail): the account's balance is too low."""

    status_code = 402
    default_message = "Insufficient funds in the Generect account. Top up, then refresh."


class ForbiddenError(APIStatusError):
    """403: the key is valid but not entitled to this endpoint."""

    status_code = 403
    default_message = "This Generect key may not use this endpoint (403). Check your plan."


class NotFoundError(APIStatusError):
    """404."""

    status_code = 404
    default_message = "Not found at Generect (404). Check GENERECT_BASE_URL."


class RateLimitedError(APIStatusError):
    """429: still throttled after waiting ``max_throttle_wait`` minutes (never charged)."""

    status_code = 429
    default_message = "Generect is throttling requests (429). Wait a minute, then refresh."


class ServerError(APIStatusError):
    """5xx: a server or upstream failure (Generect refunds failed requests)."""

    status_code = 500
    default_message = "Generect server error. Failed requests are not charged; refresh later."
