"""One error tree for the whole product.

``error.full_message`` is the whole message on one line, as the CLI prints it (it may be long:
a path, every suggestion). ``str(error)`` (``error.message``) is its short, cell-ready form of at
most ~120 characters: whole sentences first, parenthesized detail dropped before advice, never a
word cut in half (:func:`shorten`). ``error.details`` keeps the technical form for logs and
``--verbose``. Only the edges catch: the CLI turns an error into a message and an exit code, a
worksheet function into a prefixed line in the cell.

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

import re
from typing import Any

from ._constants import CELL_MESSAGE_MAX

__all__ = [
    "CRITERIA_PROBLEMS_HINT",
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
    "shorten",
    "whole_text",
]


def one_line(text: str, limit: int = CELL_MESSAGE_MAX) -> str:
    """Fold ``text`` to a single line of at most ``limit`` characters (see :func:`shorten`)."""
    return shorten(text, limit)


# A full stop that ends a sentence, not an abbreviation's ("e.g. Job title", "i.e. the").
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)[.?!](?=\s)")
_CLAUSE_END = re.compile(r"[;:,](?=\s)")
_PARENTHESIS = re.compile(r"\s\([^()]*\)")
_LAST_ALTERNATIVE = re.compile(r'(?<=") or "[^"]*"(?=\?)')


def shorten(text: str, limit: int = CELL_MESSAGE_MAX) -> str:
    """``text`` on one line in at most ``limit`` characters, keeping what a person acts on.

    Messages say what failed, then what to do, then detail. When the whole does not fit:
    the last guesses of a "did you mean "a" or "b"?" go first, then parenthesized detail
    (``(BadZipFile)``, a path), then whole sentences are kept from the start; failing that the
    text is cut after a clause (``;``, ``:``, ``,``) or at least between words, and ends with
    ``…``. A word is never cut in half unless it alone is longer than the limit.

    >>> shorten("Cannot read b.xlsx (BadZipFile). Open it and save it as .xlsx.", 50)
    'Cannot read b.xlsx. Open it and save it as .xlsx.'
    """
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    lean = flat
    while len(lean) > limit and (alternative := _LAST_ALTERNATIVE.search(lean)):
        # "did you mean "a" or "b" or "c"?": the best guess comes first; drop from the end.
        lean = lean[: alternative.start()] + lean[alternative.end() :]
    while len(lean) > limit and _PARENTHESIS.search(lean):
        # The last parenthesis first: the first usually names the thing the message is about.
        *_, last = _PARENTHESIS.finditer(lean)
        lean = lean[: last.start()] + lean[last.end() :]
    if len(lean) <= limit:
        return lean
    for candidate in (lean, flat):
        ends = [m.end() for m in _SENTENCE_END.finditer(candidate) if m.end() <= limit]
        if ends and ends[-1] >= limit // 3:
            return candidate[: ends[-1]]
    room = lean[: limit - 1]
    ends = [m.end() for m in _CLAUSE_END.finditer(lean) if m.end() <= limit - 1]
    if ends and ends[-1] >= limit // 2:
        return room[: ends[-1] - 1].rstrip() + "…"
    cut = room.rfind(" ")
    if cut >= limit // 2:
        return room[:cut].rstrip(" ,;:") + "…"
    return room.rstrip() + "…"


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

    def __init__(
        self, message: str | None = None, *, details: str | None = None, short: str | None = None
    ) -> None:
        self.full_message = " ".join(str(message or self.default_message).split())
        # An explicit cell form, for messages whose short form is not a prefix of the long one.
        self.short_message = shorten(short) if short else None
        self.details = details or message or self.default_message
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The cell-ready line: at most ``CELL_MESSAGE_MAX`` characters (:func:`shorten`)."""
        return self.short_message or shorten(self.full_message)

    @message.setter
    def message(self, value: str) -> None:
        # Kept for callers that rewrite a message (scrubbing, a clearer wording): the whole
        # message becomes the new text.
        self.full_message = " ".join(str(value).split())
        self.short_message = None

    def __str__(self) -> str:
        return self.message


# Where every problem of a criteria range is listed, one per line, with its sheet row.
CRITERIA_PROBLEMS_HINT = "refresh --dry-run lists all"


class CriteriaError(GenerectError):
    """The criteria cannot make a valid request; nothing was sent and nothing was charged.

    ``problems`` lists every problem found (each already a readable sentence), so a person can
    fix them all at once; ``str()`` shows the first and how many more.
    """

    def __init__(
        self, problems: str | list[str], *, details: str | None = None, short: str | None = None
    ) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        first = self.problems[0] if self.problems else "Invalid criteria."
        more = len(self.problems) - 1
        if more > 0:
            # A cell has room for one problem: say where the others are listed, in full.
            tail = f" (+{more} more: {CRITERIA_PROBLEMS_HINT})"
            short = shorten(first, CELL_MESSAGE_MAX - len(tail)) + tail
        super().__init__(
            "; ".join(self.problems) or first,
            details=details or "\n".join(self.problems),
            short=short,
        )


def whole_text(error: GenerectError) -> str:
    """An error's whole message for a place with room (a terminal, a message box): the full
    message, or every criteria problem on its own line under a count."""
    problems = getattr(error, "problems", None)
    if isinstance(error, CriteriaError) and problems and len(problems) > 1:
        return "\n".join([f"{len(problems)} problems in the criteria:"] + problems)
    return error.full_message


class BudgetError(GenerectError):
    """The worst-case cost would break a cap; the request was not sent."""


class SettingsError(GenerectError):
    """Settings are missing or unusable (no API key, a non-https base URL, ...)."""


class StoreError(GenerectError):
    """The local store (cache and ledger) is locked by another program or damaged."""


class WorkbookError(GenerectError):
    """A workbook cannot be read, understood or written."""


class APIError(GenerectError):
    """Something went wrong talking to the Generect API."""

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
    ) -> None:
        self.may_be_charged = may_be_charged
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
