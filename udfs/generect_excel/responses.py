"""Generect's answers as typed, tolerant models.

The live API is messier than its spec, so the models accept what callers have seen and refuse
only what cannot be understood:

- ``results_count``: an int, a numeric string (``"1240"`` becomes 1240), a word such as
  ``"within limit"`` (kept as the string), or missing (None).
- ``amount_charged``: a float, int or numeric string, kept as a :class:`~decimal.Decimal`
  built from its text (``0.1`` stays exactly ``Decimal("0.1")``, so ledger sums are exact).
  Missing or null means 0 with ``amount_reported=False``. Negative, NaN or infinite is refused.
- lead rows: kept as the raw dicts, every field (real rows carry ~80 undocumented fields).
- ``test_mode``: from the answer's ``X-Generect-Mode: test`` header.
- billing history (:class:`TransactionPage`): the spec's ``{"data": {"transactions": [...]}}``
  records (``timestamp``, ``type``, ``credits``, ``details.status``) or the legacy
  ``{"results": [...]}`` ones (``created_at``, ``amount``, ``status``); a time without a UTC
  offset is read as UTC.

Anything else (a list where an object belongs, a lead that is not an object, ...) raises
:class:`~generect_excel.errors.ProtocolError`. Every model round-trips through JSON for the
store: ``Model.model_validate(m.model_dump(mode="json")) == m`` (Decimals travel as strings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ProtocolError

__all__ = [
    "Account",
    "CountResult",
    "SearchResult",
    "BillingHistory",
    "Transaction",
    "TransactionPage",
    "body_snippet",
]

SNIPPET_CHARS = 300

_M = TypeVar("_M", bound=BaseModel)


def body_snippet(payload: Any, limit: int = SNIPPET_CHARS) -> str:
    """A short, one-line excerpt of an answer for error details (never the request)."""
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", errors="replace")
    elif isinstance(payload, str):
        text = payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, default=str)
        except ValueError:  # circular structures cannot come from JSON, but stay safe
            text = repr(payload)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _to_decimal(value: Any, *, allow_negative: bool) -> Decimal | None:
    """A money amount from JSON: Decimal via its text, never via binary float."""
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int in Python; true is not an amount
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not amount.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    if amount < 0 and not allow_negative:
        raise ValueError(f"must not be negative, got {value!r}")
    return amount


def _to_results_count(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected an int or a string, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # "12.0" from a JSON encoder that likes floats
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text.replace(",", "").replace("_", "")
        if digits.isdigit():
            return int(digits)
        return text or None
    raise ValueError(f"expected an int or a string, got {type(value).__name__}")


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    results_count: int | str | None = None
    amount_charged: Decimal = Decimal(0)
    # False when the answer carried no meta.amount_charged (then 0 is our assumption).
    amount_reported: bool = True
    test_mode: bool = False
    raw_meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("results_count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | str | None:
        return _to_results_count(value)

    @field_validator("amount_charged", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        amount = _to_decimal(value, allow_negative=False)
        return Decimal(0) if amount is None else amount

    @classmethod
    def _parts(cls, payload: Any, path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split ``{"data": {...}, "meta": {...}}``; ProtocolError on another shape."""
        if not isinstance(payload, dict):
            raise _shape_error("the answer is not a JSON object", payload, path)
        data = payload.get("data")
        meta = payload.get("meta")
        if meta is None:
            meta = {}
        if not isinstance(data, dict):
            raise _shape_error("'data' is missing or not an object", payload, path)
        if not isinstance(meta, dict):
            raise _shape_error("'meta' is not an object", payload, path)
        return data, meta

    @staticmethod
    def _charge(meta: Mapping[str, Any]) -> dict[str, Any]:
        amount = meta.get("amount_charged")
        return {"amount_charged": amount, "amount_reported": amount is not None}


class SearchResult(_Answer):
    """One page of a lead search: the raw lead rows, the match estimate and the charge."""

    leads: list[dict[str, Any]] = Field(default_factory=list)
    # Ours, added when the answer is saved (see generect_excel.store.register.PageFacts): how many of
    # its rows were new to the register of owned leads, and what the request excluded.
    register_facts: dict[str, Any] | None = None

    @field_validator("leads", mode="before")
    @classmethod
    def _leads(cls, value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ValueError(f"expected a list of leads, got {type(value).__name__}")
        for index, lead in enumerate(value):
            if not isinstance(lead, dict):
                raise ValueError(f"lead {index} is a {type(lead).__name__}, not an object")
        return value

    @classmethod
    def from_api(cls, payload: Any, *, test_mode: bool = False, path: str | None = None) -> Self:
        """Build from a decoded search answer; :class:`ProtocolError` if it makes no sense."""
        data, meta = cls._parts(payload, path)
        if "leads" not in data:
            raise _shape_error("'data.leads' is missing", payload, path)
        return _validate(
            cls,
            {
                "leads": data["leads"],
                "results_count": data.get("results_count"),
                **cls._charge(meta),
                "test_mode": test_mode,
                "raw_meta": meta,
            },
            payload,
            path,
        )


class CountResult(_Answer):
    """A lead count: the match estimate (int, a word such as "within limit", or None)."""

    @classmethod
    def from_api(cls, payload: Any, *, test_mode: bool = False, path: str | None = None) -> Self:
        """Build from a decoded count answer; :class:`ProtocolError` if it makes no sense."""
        data, meta = cls._parts(payload, path)
        return _validate(
            cls,
            {
                "results_count": data.get("results_count"),
                **cls._charge(meta),
                "test_mode": test_mode,
                "raw_meta": meta,
            },
            payload,
            path,
        )


class Account(BaseModel):
    """The account's credits (``GET accounts/me``). Amounts are Decimals; None when absent.

    ``raw`` keeps the whole answer's ``data`` (plan, email, ...), for whoever needs more.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    balance: Decimal | None = None
    used_this_month: Decimal | None = None
    monthly_limit: Decimal | None = None
    raw: dict[str, Any] = Field(default_factory=dict)
    test_mode: bool = False

    @field_validator("balance", "used_this_month", "monthly_limit", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Decimal | None:
        # An overdrawn account is possible (the legacy API shows negative balances).
        return _to_decimal(value, allow_negative=True)

    @classmethod
    def from_api(cls, payload: Any, *, test_mode: bool = False, path: str | None = None) -> Self:
        """Build from ``{"data": {"credits": {...}}}`` or the legacy flat ``users/me`` shape
        (``balance_platform``, ``max_credits``)."""
        if not isinstance(payload, dict):
            raise _shape_error("the answer is not a JSON object", payload, path)
        data = payload.get("data")
        if isinstance(data, dict):
            credits = data.get("credits")
            if not isinstance(credits, dict):
                raise _shape_error("'data.credits' is missing or not an object", payload, path)
            fields = {
                "balance": credits.get("balance"),
                "used_this_month": credits.get("used_this_month"),
                "monthly_limit": credits.get("monthly_limit"),
                "raw": data,
            }
        elif data is None and "balance_platform" in payload:
            fields = {
                "balance": payload.get("balance_platform"),
                "monthly_limit": payload.get("max_credits"),
                "raw": payload,
            }
        else:
            raise _shape_error("'data' is missing or not an object", payload, path)
        return _validate(cls, {**fields, "test_mode": test_mode}, payload, path)


class Transaction(BaseModel):
    """One record of the account's billing history.

    ``credits`` is the balance's change, in the balance's unit (negative for a charge, positive
    for a top-up); :attr:`charge` is what it cost (0 for a top-up). ``operation`` is the
    record's ``type`` (``search_database_leads``; None when the record has none), ``status``
    ``success``, ``pending`` or ``error``. ``time`` is aware, in UTC. ``raw`` keeps the record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    time: datetime
    credits: Decimal
    operation: str | None = None
    status: str | None = None
    balance_type: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @field_validator("credits", mode="before")
    @classmethod
    def _credits(cls, value: Any) -> Decimal:
        amount = _to_decimal(value, allow_negative=True)
        if amount is None:
            raise ValueError("the amount is missing")
        return amount

    @field_validator("time", mode="after")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # The legacy API and the spec's other account pages send times without an offset.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def charge(self) -> Decimal:
        """What this record cost: ``-credits`` for a charge, 0 for a top-up."""
        return -self.credits if self.credits < 0 else Decimal(0)

    @classmethod
    def from_record(cls, record: Any) -> dict[str, Any]:
        """The fields of one record, in either shape (validated by the caller)."""
        if not isinstance(record, dict):
            raise ValueError(f"a transaction is a {type(record).__name__}, not an object")
        details = record.get("details")
        details = details if isinstance(details, dict) else {}
        credits = record.get("credits", record.get("amount"))
        return {
            "id": None if record.get("id") is None else str(record["id"]),
            "time": record.get("timestamp", record.get("created_at")),
            "credits": credits,
            "operation": record.get("type"),
            "status": details.get("status", record.get("status")),
            "balance_type": details.get("balance_type", record.get("balance_type")),
            "raw": record,
        }


class TransactionPage(BaseModel):
    """One page of ``GET accounts/transactions`` (newest first, as Generect sends them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transactions: list[Transaction] = Field(default_factory=list)
    test_mode: bool = False

    @classmethod
    def from_api(cls, payload: Any, *, test_mode: bool = False, path: str | None = None) -> Self:
        """Build from ``{"data": {"transactions": [...]}}`` (or the legacy ``{"results":
        [...]}``); :class:`ProtocolError` if it makes no sense."""
        if not isinstance(payload, dict):
            raise _shape_error("the answer is not a JSON object", payload, path)
        data = payload.get("data")
        if isinstance(data, dict):
            records = data.get("transactions")
        elif data is None and "results" in payload:
            records = payload["results"]
        else:
            raise _shape_error("'data' is missing or not an object", payload, path)
        if not isinstance(records, list):
            raise _shape_error("'data.transactions' is missing or not a list", payload, path)
        try:
            fields = [Transaction.from_record(record) for record in records]
        except ValueError as exc:
            raise _shape_error(str(exc), payload, path) from None
        return _validate(cls, {"transactions": fields, "test_mode": test_mode}, payload, path)


class BillingHistory(BaseModel):
    """The account's transactions from ``since`` to ``until`` (both included; None: open) with
    ``status`` (None: any), every page read, each record checked against what was asked.

    ``ignored`` counts the records Generect sent outside those filters and that were left out:
    Generect drops a filter it cannot read and still answers 200, so a nonzero count means a
    filter was not applied (the records kept are still exactly the ones asked for).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    transactions: list[Transaction] = Field(default_factory=list)
    ignored: int = 0

    def admits(self, record: Transaction) -> bool:
        """Whether ``record`` lies in the asked period and has the asked status."""
        if self.since is not None and record.time < self.since:
            return False
        if self.until is not None and record.time > self.until:
            return False
        return self.status is None or record.status == self.status


def _shape_error(problem: str, payload: Any, path: str | None) -> ProtocolError:
    # The path goes to the details: in the one-line message it would crowd out the problem.
    where = f" from {path}" if path else ""
    return ProtocolError(
        f"Unreadable Generect answer ({problem}). Retry later.",
        details=f"Unexpected answer{where}: {problem}. Body: {body_snippet(payload)}",
        path=path,
    )


def _validate(model: type[_M], fields: dict[str, Any], payload: Any, path: str | None) -> _M:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise _shape_error(f"{field}: {message}", payload, path) from None
