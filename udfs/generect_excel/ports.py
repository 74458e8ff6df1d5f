"""The seam between the core's engine and what calls it: :class:`EngineAPI`.

The worksheet functions (:mod:`generect_excel.functions`), the background fetches of slow
modes (:class:`generect_excel.pending.BackgroundEngine`), the file refresher's plan
(:mod:`generect_excel.formulas.plan`) and the ribbon take an engine through this protocol, so
that the type checker sees every call they make, and a wrapper (``BackgroundEngine``) or a test
double states what it offers instead of forwarding whatever is asked. The real implementation is
:class:`generect_excel.engine.Engine`.

Only types are imported (under ``TYPE_CHECKING``): importing this module costs nothing, so
``import generect_excel.udfs`` stays free of pydantic and httpx.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from .budget import Estimate
    from .engine import Answer
    from .errors import GenerectError
    from .ledger import LedgerEntry, Origin
    from .models import LeadSearchRequest as Request  # database or realtime
    from .responses import Account
    from .settings import Settings
    from .store.register import OwnedLead

__all__ = ["EngineAPI", "Kind"]

Kind = Literal["search", "count"]


class EngineAPI(Protocol):
    """What the callers of the engine use: the lookups, the price, the account and the ledger.

    Every method is :class:`generect_excel.engine.Engine`'s, with the same meaning. ``kind``
    is an operation's kind in the registry (:mod:`generect_excel.operations`: "count",
    "search", "companies", ...; callers pass it on as read from a formula, so it is typed
    loosely here and checked by the engine).
    """

    @property
    def settings(self) -> Settings: ...

    def count(
        self, request: Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer: ...

    def search(
        self, request: Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer: ...

    def run(
        self, kind: Any, request: Request, *, refresh: Any = None, origin: Origin | None = None
    ) -> Answer: ...

    def flight_key(self, request: Request, kind: Any = "search", refresh: Any = None) -> Any: ...

    def cached(
        self,
        request: Request,
        kind: Any = "search",
        *,
        refresh: Any = None,
        origin: Origin | None = None,
    ) -> Answer | None: ...

    def cached_many(
        self, calls: Sequence[tuple[Any, Request, Any, Origin | None]]
    ) -> list[Answer | GenerectError | None]: ...

    def stored(self, request: Request, kind: Any = "search") -> Answer | None: ...

    def estimate(
        self, request: Request, kind: Any = "search", *, cached: bool | None = None
    ) -> Estimate: ...

    def account(self) -> Account: ...

    def spend(
        self,
        period: str = "today",
        *,
        account: str | None = None,
        include_test_mode: bool = False,
    ) -> Decimal: ...

    def estimated(
        self,
        period: str = "today",
        *,
        account: str | None = None,
        include_test_mode: bool = False,
    ) -> tuple[Decimal, int]: ...

    def charges(
        self,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        *,
        account: str | None = None,
    ) -> list[LedgerEntry]: ...

    def owned_leads(
        self, request: Request | None = None, *, since: date | datetime | None = None
    ) -> list[OwnedLead]: ...
