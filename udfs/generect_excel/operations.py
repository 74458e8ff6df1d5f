"""One description per Generect operation, in one registry.

Every call the product makes is an :class:`Operation`: where it is (method, path), how long to
wait, whether it costs money, how its answer is read (``parse``, ``answer``), how its worst
case is priced from a request before it is sent (``estimate``, ``rows``), whether it is slow
(realtime), and whether the rows it buys are leads kept in the register of owned leads. The
client, the engine, the budget, the ledger and the reconciler all read these descriptions
instead of branching on strings, so adding an operation is one entry in :data:`OPERATIONS`
(plus its answer model and its sandbox behaviour)::

    from generect_excel.operations import operation

    op = operation("search", "database")
    op.path, op.billable, op.estimate({"job_titles": ["CEO"], "limit_by": 25})
    # ('/api/v1/search/database/leads/', True, Decimal('0.50'))

Core: no xlwings, openpyxl or HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from . import _constants as C
from .lead_answers import EmailResult, EnrichResult, PreviewResult
from .responses import Account, CompanySearchResult, CountResult, SearchResult, TransactionPage

__all__ = [
    "OPERATIONS",
    "Operation",
    "by_path",
    "operation",
    "worst_case_rows",
]

ZERO = Decimal("0")


def worst_case_rows(body: Mapping[str, Any]) -> int:
    """The most rows a search can return (and bill): its ``limit_by``, else the maximum."""
    limit = body.get("limit_by")
    return int(limit) if limit is not None else C.MAX_LIMIT


def company_rows(body: Mapping[str, Any]) -> int:
    """The most companies a company search can return (and bill): its ``limit_by``, else the
    maximum page."""
    limit = body.get("limit_by")
    return int(limit) if limit is not None else C.MAX_COMPANY_LIMIT


def _no_rows(body: Mapping[str, Any]) -> int:
    return 0


def _free(body: Mapping[str, Any]) -> Decimal:
    return ZERO


def per_row(price: Decimal) -> Callable[[Mapping[str, Any]], Decimal]:
    """A worst-case price of ``price`` for each row the request may return (full profiles,
    which Generect bills as a second row, count twice)."""

    def estimate(body: Mapping[str, Any]) -> Decimal:
        amount = worst_case_rows(body) * price
        if body.get("include_full_profile"):
            amount *= 2
        return amount

    return estimate


def flat(price: Decimal) -> Callable[[Mapping[str, Any]], Decimal]:
    """A worst-case price of ``price`` a request, whatever it asks."""

    def estimate(body: Mapping[str, Any]) -> Decimal:
        return price

    return estimate


@dataclass(frozen=True)
class Operation:
    """One Generect operation, described once.

    The first six fields are what the client needs to send it (``parse`` reads an answer
    body into ``answer``). ``kind`` and ``mode`` name it (``("search", "database")``; mode is
    "" for account calls); ``estimate(body)`` is its worst-case price in USD before sending
    and ``rows(body)`` the most rows it can bill; ``slow`` says it may take a minute (the
    worksheet answers it in the background); ``register`` says the rows it buys are leads kept
    in the register of owned leads (stable pages, net-new); ``rows_field`` names the answer's
    list of rows ("" when it has none); ``transaction_type`` is the ``type`` Generect's billing
    history gives its charges. ``label`` names it for a person ("count", "search"; the mode
    goes before it) and ``row_noun`` what one of its rows is, as prices say ("per row").
    """

    name: str
    method: str
    path: str
    timeout: float
    billable: bool
    parse: Callable[..., Any]
    kind: str = ""
    mode: str = ""
    answer: type[BaseModel] | None = None
    estimate: Callable[[Mapping[str, Any]], Decimal] = field(default=_free, repr=False)
    rows: Callable[[Mapping[str, Any]], int] = field(default=_no_rows, repr=False)
    slow: bool = False
    register: bool = False
    rows_field: str = ""
    transaction_type: str = ""
    label: str = ""
    row_noun: str = "row"
    # The rows it buys are owned leads, recorded in the register one by one (enrich by id),
    # without a search's paging through the register (``register``).
    owns_leads: bool = False

    @property
    def returns_rows(self) -> bool:
        """Whether its answer is a list of rows (a search) rather than a number."""
        return bool(self.rows_field)


def _lead_search(mode: str, path: str, timeout: float, price: Decimal) -> Operation:
    return Operation(
        f"{mode} lead search", "POST", path, timeout, True, SearchResult.from_api,
        kind="search", mode=mode, answer=SearchResult, estimate=per_row(price),
        rows=worst_case_rows, slow=mode == "realtime", register=True, rows_field="leads",
        transaction_type=C.TRANSACTION_TYPES.get(path, ""), label="search",
    )  # fmt: skip


def _count(
    kind: str, name: str, label: str, mode: str, path: str, timeout: float, price: Decimal
) -> Operation:
    return Operation(
        name, "POST", path, timeout, price > 0, CountResult.from_api, kind=kind, mode=mode,
        answer=CountResult, estimate=flat(price), slow=mode == "realtime",
        transaction_type=C.TRANSACTION_TYPES.get(path, ""), label=label,
    )  # fmt: skip


def _company_search(mode: str, path: str, timeout: float, price: Decimal) -> Operation:
    return Operation(
        f"{mode} company search", "POST", path, timeout, True, CompanySearchResult.from_api,
        kind="companies", mode=mode, answer=CompanySearchResult, estimate=per_row(price),
        rows=company_rows, slow=mode == "realtime", rows_field="companies",
        label="company search", row_noun="company",
        transaction_type=C.TRANSACTION_TYPES.get(path, ""),
    )  # fmt: skip


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("search", "database"): _lead_search(
        "database", C.PATH_DATABASE_SEARCH, C.DATABASE_TIMEOUT, C.PRICE_DATABASE_ROW
    ),
    # Database counts are free: a lost answer may simply be asked for again.
    ("count", "database"): _count(
        "count", "database lead count", "count", "database", C.PATH_DATABASE_COUNT, C.DATABASE_TIMEOUT,
        C.PRICE_DATABASE_COUNT,
    ),
    ("search", "realtime"): _lead_search(
        "realtime", C.PATH_REALTIME_SEARCH, C.REALTIME_TIMEOUT, C.PRICE_REALTIME_ROW
    ),
    # Realtime counts are billed per request, even when the count is 0.
    ("count", "realtime"): _count(
        "count", "realtime lead count", "count", "realtime", C.PATH_REALTIME_COUNT, C.REALTIME_TIMEOUT,
        C.PRICE_REALTIME_COUNT,
    ),
    # Company search: account lists by industry, headcount, location and type. Billed per
    # company returned; its database count is free, its realtime count billed per request.
    ("companies", "database"): _company_search(
        "database", C.PATH_DATABASE_COMPANIES, C.DATABASE_TIMEOUT, C.PRICE_DATABASE_COMPANY
    ),
    ("companies", "realtime"): _company_search(
        "realtime", C.PATH_REALTIME_COMPANIES, C.REALTIME_TIMEOUT, C.PRICE_REALTIME_COMPANY
    ),
    ("company_count", "database"): _count(
        "company_count", "database company count", "company count", "database",
        C.PATH_DATABASE_COMPANY_COUNT, C.DATABASE_TIMEOUT, C.PRICE_DATABASE_COUNT,
    ),
    ("company_count", "realtime"): _count(
        "company_count", "realtime company count", "company count", "realtime",
        C.PATH_REALTIME_COMPANY_COUNT, C.REALTIME_TIMEOUT, C.PRICE_REALTIME_COMPANY_COUNT,
    ),
    # The account is free, so it too may be retried after a lost answer.
    ("account", ""): Operation(
        "account", "GET", C.PATH_ACCOUNT, C.ACCOUNT_TIMEOUT, False, Account.from_api,
        kind="account", answer=Account,
    ),
    # The billing history is free too; its filters and page travel in the query string.
    ("transactions", ""): Operation(
        "billing history", "GET", C.PATH_TRANSACTIONS, C.ACCOUNT_TIMEOUT, False,
        TransactionPage.from_api, kind="transactions", answer=TransactionPage,
    ),
}  # fmt: skip


def preview_rows(body: Mapping[str, Any]) -> int:
    """The most masked rows a preview can return: its nested ``limit_by``, else the maximum."""
    lead = body.get("lead_search_criteria") or {}
    limit = lead.get("limit_by") if isinstance(lead, Mapping) else None
    if limit is None:
        limit = body.get("limit_by")  # a flat body, as prices are quoted ("per row")
    return int(limit) if limit is not None else C.PREVIEW_MAX_LIMIT


def _preview_estimate(body: Mapping[str, Any]) -> Decimal:
    # The full price: a month past the preview tier's threshold answers $0, and the ledger
    # records that truth; the estimate stays the worst case.
    return preview_rows(body) * C.PRICE_PREVIEW_ROW


def _leads(body: Mapping[str, Any]) -> int:
    """Leads an enrich body buys at most: one id, or a batch's ``ids`` (GENERECT_ENRICH's
    purchase, as the ribbon prices it: every id, the worst case)."""
    ids = body.get("ids")
    return len(ids) if isinstance(ids, list | tuple) else 1


def _enrich_estimate(body: Mapping[str, Any]) -> Decimal:
    return _leads(body) * C.PRICE_ENRICH_DATABASE_LEAD


# Issue 14: preview, then buy only the picked leads by id; work emails by lead.
OPERATIONS[("preview", "database")] = Operation(
    "lead preview", "POST", C.PATH_PREVIEW_LEADS, C.DATABASE_TIMEOUT, True,
    PreviewResult.from_api, kind="preview", mode="database", answer=PreviewResult,
    estimate=_preview_estimate, rows=preview_rows, rows_field="leads", label="preview",
    row_noun="masked row",
    transaction_type=C.TRANSACTION_TYPES.get(C.PATH_PREVIEW_LEADS, ""),
)  # fmt: skip
OPERATIONS[("enrich", "database")] = Operation(
    "database lead enrich", "POST", C.PATH_ENRICH_DATABASE_LEAD, C.DATABASE_TIMEOUT, True,
    EnrichResult.from_api, kind="enrich", mode="database", answer=EnrichResult,
    estimate=_enrich_estimate, rows=_leads, rows_field="leads",
    owns_leads=True, label="enrich", row_noun="lead",
    transaction_type=C.TRANSACTION_TYPES.get(C.PATH_ENRICH_DATABASE_LEAD, ""),
)  # fmt: skip
# Billed only when an email is found; the worst case is one found email.
OPERATIONS[("email", "database")] = Operation(
    "email find", "POST", C.PATH_EMAIL_FIND, C.DATABASE_TIMEOUT, True, EmailResult.from_api,
    kind="email", mode="database", answer=EmailResult, estimate=flat(C.PRICE_EMAIL_FOUND),
    label="email find", row_noun="found email",
    transaction_type=C.TRANSACTION_TYPES.get(C.PATH_EMAIL_FIND, ""),
)  # fmt: skip

_BY_PATH = {op.path: op for op in OPERATIONS.values()}


def operation(kind: str, mode: str = "") -> Operation:
    """The operation ``kind`` in ``mode`` ("database"/"realtime"; "" for account calls).

    Raises KeyError for an operation the registry does not describe."""
    return OPERATIONS[(kind, mode)]


def by_path(path: str) -> Operation | None:
    """The operation at ``path`` (as stored in the ledger), or None for one not described."""
    return _BY_PATH.get(path)
