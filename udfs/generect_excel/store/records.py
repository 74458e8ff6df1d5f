"""The store's record types: what a store backend takes and returns (the same for every
backend), and the timestamp format the stored text uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

__all__ = ["CacheEntry", "Claim", "Found", "Migration", "Reservation", "UnknownOutcome"]


def _ts(moment: datetime) -> str:
    """UTC, fixed width: text order is time order, so SQL compares these directly."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    if len(text) == 27 and text[-1] == "Z":  # what _ts writes: the fast parser reads it exactly
        return datetime.fromisoformat(text)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


MICROS = 1_000_000
"""Micro-dollars per dollar: the ledger's integer ``amount_micros`` beside each amount's text."""

# Beyond this a micro-dollar amount is left to the exact text sum (a row of $1e9 is no charge
# Generect makes; a bound keeps SQL's 64-bit SUM far from overflow over any ledger).
_MICROS_BOUND = 10**15


def _micros(amount: Decimal) -> int | None:
    """``amount`` in whole micro-dollars when that is exact, else ``None``.

    The ledger keeps every amount as its exact text and, beside it, this integer, so that SQL
    can sum a period with integer arithmetic (SQL's ``SUM`` of text or floats would round). A
    row whose amount has more than six decimals (or is absurdly large) has ``None`` here, and
    any total that meets one is summed from the text instead: exact either way.

    >>> _micros(Decimal("0.02")), _micros(Decimal("0.0000001"))
    (20000, None)
    """
    if not amount.is_finite():
        return None
    scaled = amount.scaleb(6)  # rounded to the context's precision when huge: checked below
    if scaled != scaled.to_integral_value() or abs(scaled) >= _MICROS_BOUND:
        return None
    micros = int(scaled)
    return micros if Decimal(micros).scaleb(-6) == amount else None


@dataclass(frozen=True)
class CacheEntry:
    """One stored answer. ``answer`` is the result model's JSON (``model_dump(mode="json")``)."""

    key: str
    endpoint: str
    mode: str
    base_url: str
    account: str
    request: str  # canonical JSON of the request body
    answer: dict[str, Any]
    amount_charged: Decimal
    fetched_at: datetime
    refresh_token: str | None
    billable: bool
    test_mode: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the fallback journal)."""
        return {
            "key": self.key,
            "endpoint": self.endpoint,
            "mode": self.mode,
            "base_url": self.base_url,
            "account": self.account,
            "request": self.request,
            "answer": self.answer,
            "amount_charged": str(self.amount_charged),
            "fetched_at": _ts(self.fetched_at),
            "refresh_token": self.refresh_token,
            "billable": self.billable,
            "test_mode": self.test_mode,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CacheEntry:
        """The inverse of :meth:`to_json`."""
        return cls(
            key=data["key"],
            endpoint=data["endpoint"],
            mode=data["mode"],
            base_url=data["base_url"],
            account=data["account"],
            request=data["request"],
            answer=data["answer"],
            amount_charged=Decimal(data["amount_charged"]),
            fetched_at=_parse_ts(data["fetched_at"]),
            refresh_token=data.get("refresh_token"),
            billable=bool(data["billable"]),
            test_mode=bool(data["test_mode"]),
        )


@dataclass(frozen=True)
class UnknownOutcome:
    """A billable call that was sent and whose answer was lost or unreadable: it may have been
    charged, so it is not sent again for the same refresh value.

    ``token`` is the refresh value it was sent for (``None``: none); ``at`` when it failed;
    ``error`` the class name of the error it raised (``OutcomeUnknownError``,
    ``ProtocolError``); ``amount`` the worst-case estimate recorded in the ledger under
    ``charge_id``.
    """

    key: str
    token: str | None
    at: datetime
    error: str
    amount: Decimal
    charge_id: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the fallback journal)."""
        return {
            "key": self.key,
            "token": self.token,
            "at": _ts(self.at),
            "error": self.error,
            "amount": str(self.amount),
            "charge_id": self.charge_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnknownOutcome:
        """The inverse of :meth:`to_json`."""
        return cls(
            key=data["key"],
            token=data.get("token"),
            at=_parse_ts(data["at"]),
            error=data["error"],
            amount=Decimal(data["amount"]),
            charge_id=data["charge_id"],
        )


class Found(NamedTuple):
    """What :meth:`Store.find` read in its one SELECT.

    ``entry`` the stored answer; ``mark`` the refresh value the formula last used on it and
    ``mark_failed_at`` when that value's call was lost (``None``: it saw an answer);
    ``unknown`` the doubt left by the last call on the key whose outcome is unknown.
    """

    entry: CacheEntry | None
    mark: str | None
    mark_failed_at: datetime | None
    unknown: UnknownOutcome | None


@dataclass(frozen=True)
class Reservation:
    """The money a claim holds against the daily cap while its call is in flight.

    :meth:`Store.claim` calls ``admit(spent, reserved)`` inside its write transaction,
    ``spent`` being the non-test ledger total from ``since`` to ``until`` and ``reserved``
    what every other live claim holds; it raises
    (:class:`~generect_excel.errors.BudgetError`) to refuse, and then nothing is claimed.
    """

    amount: Decimal
    since: datetime | None
    until: datetime | None
    admit: Callable[[Decimal, Decimal], None]


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`Store.claim`.

    ``state`` is "claimed" (the caller now owns the request and must call the API), "cached"
    (a usable entry is already there: ``entry``), "unknown" (a call on the key was lost since
    the caller looked: ``unknown``; do not send it again) or "busy" (another owner, ``holder``,
    is fetching it: wait and ask again). ``abandoned`` says that unknown outcome was recorded
    just now, from a claim whose owner died after sending its request.
    """

    state: Literal["claimed", "cached", "unknown", "busy"]
    entry: CacheEntry | None = None
    holder: str | None = None
    unknown: UnknownOutcome | None = None
    abandoned: bool = False


@dataclass(frozen=True)
class Migration:
    """One named schema step of a backend's ordered list. Its statements run in one
    transaction, once per store; a store records the names it has applied."""

    name: str
    statements: tuple[str, ...]
