"""What identifies an engine call: its cache key, its refresh token, the formula it comes
from, and the fetches in flight in this process (moved out of :mod:`generect_excel.engine`)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from .. import budget
from ..client import Endpoint
from ..ledger import Origin
from ..responses import Account, CountResult, SearchResult

# The kinds of operations the engine asks (operations.py describes each, per mode).
Kind = budget.Kind  # the registry's kinds of operation (operations.py)


class _Request(Protocol):
    @property
    def mode(self) -> Any: ...  # read only: the request models hold it as a ClassVar

    def body(self) -> dict[str, Any]: ...


class _Client(Protocol):
    # ``on_send`` runs right before the request leaves (after the client's concurrency slot,
    # again on a retry): the engine marks its claim "sent" there, durably.
    def search(
        self, mode: Any, body: Any, *, on_send: Callable[[], None] | None = None
    ) -> SearchResult: ...

    def count(
        self, mode: Any, body: Any, *, on_send: Callable[[], None] | None = None
    ) -> CountResult: ...

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
# (store path, cache key) -> the leader's future. (What paid calls in flight hold against the
# daily cap lives in the store, on their claims: every process sees it.)
_flights_lock = threading.Lock()
_flights: dict[tuple[str, str], Future[Answer]] = {}


# Searches of one criteria family (the same question but for limit and offset) fetch one at a
# time in this process: each reads the register for the leads the others bought (stable pages,
# net-new) before it sends, so the refresher's parallel pages do not buy the same leads. (Other
# processes wait on the family's claim in the store: paging._family_turn.)
_families: dict[tuple[str, str], threading.Lock] = {}


def _forget_flights_in_child() -> None:
    # A forked child inherits the parent's futures, which no thread of its own will complete.
    global _flights_lock
    _flights_lock = threading.Lock()
    _flights.clear()
    _families.clear()


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


def _local_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A date -> the local midnight starting it (``end``: the one after it); a datetime as is
    (naive means local time)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.astimezone().astimezone(UTC)
    day = value + timedelta(days=1) if end else value
    return datetime(day.year, day.month, day.day).astimezone().astimezone(UTC)
