"""The sandbox's billing history endpoint: Generect's ``GET accounts/transactions`` filters.

What the spec documents, with its trap kept on purpose: filters combine with AND and apply
before paging (``limit``, at most :data:`MAX_LIMIT`, and ``offset``); ``created_at``,
``amount`` (alias ``credits``) and ``after_balance`` take ``__gte``/``__lte`` and their
``__gt``/``__lt`` twins; ``status`` is ``pending``, ``success`` or ``error``. A value that
cannot be read (a misspelled status, a malformed date) is **dropped**, not refused, and so is
a parameter the endpoint does not know (``created_at_gte``): the answer is still 200, without
that condition. A bare date means its midnight (UTC); a time without an offset is UTC.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from .accounts import Transaction

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "STATUSES", "select", "to_json"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 100  # the legacy API's max_limit
STATUSES = frozenset({"pending", "success", "error"})

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}
# Query field -> the record's value it filters on.
_FIELDS: dict[str, Callable[[Transaction], Any]] = {
    "created_at": lambda t: t.time,
    "amount": lambda t: t.credits,
    "credits": lambda t: t.credits,
    "after_balance": lambda t: t.after_balance,
}


def _time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _int(text: str | None, default: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        return default
    return value if value >= 0 else default


def _conditions(query: Mapping[str, str]) -> list[Callable[[Transaction], bool]]:
    """The filters ``query`` asks for, each readable one as a test; the rest dropped."""
    tests: list[Callable[[Transaction], bool]] = []
    status = query.get("status")
    if status is not None and status.strip() in STATUSES:
        wanted = status.strip()
        tests.append(lambda t: t.status == wanted)
    for name, text in query.items():
        field, _, comparison = name.rpartition("__")
        if field not in _FIELDS or comparison not in _COMPARISONS:
            continue  # not a filter this endpoint knows: dropped, like Generect does
        value: Any = _time(text) if field == "created_at" else _number(text)
        if value is None:
            continue  # unreadable: dropped, the answer is still 200
        read, compare = _FIELDS[field], _COMPARISONS[comparison]
        tests.append(partial(_holds, read, compare, value))
    return tests


def _holds(
    read: Callable[[Transaction], Any],
    compare: Callable[[Any, Any], bool],
    value: Any,
    transaction: Transaction,
) -> bool:
    """One condition of a history query (``read`` field, ``compare``d to ``value``)."""
    return compare(read(transaction), value)


def select(history: Iterable[Transaction], query: Mapping[str, str]) -> list[Transaction]:
    """The page of ``history`` (newest first) that ``query`` asks for."""
    tests = _conditions(query)
    kept = [t for t in history if all(test(t) for test in tests)]
    limit = _int(query.get("limit"), DEFAULT_LIMIT) or DEFAULT_LIMIT
    offset = _int(query.get("offset"), 0)
    return kept[offset : offset + min(limit, MAX_LIMIT)]


def _number_json(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def to_json(transaction: Transaction) -> dict[str, Any]:
    """One record in the spec's shape."""
    record: dict[str, Any] = {
        "id": transaction.id,
        "timestamp": transaction.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "credits": _number_json(transaction.credits),
        "details": {"balance_type": transaction.balance_type, "status": transaction.status},
    }
    if transaction.operation is not None:  # a top-up has no operation
        record["type"] = transaction.operation
    return record
