"""The registry of GENERECT_* worksheet functions: one description each.

Every edge that deals with worksheet functions reads this registry instead of its own list:
the xlwings adapter (:mod:`generect_excel.udfs`: which functions are volatile, which must not
run in the function wizard), the workbook refresher (the arguments in order, the check run
before anything is sent, the evaluation, what runs after the purchases, which calls spill),
the ribbon's scan (which formulas it refreshes, the request a formula asks) and the templates'
read-me (what each formula costs). Adding a worksheet function is one entry in
:data:`WORKSHEET_FUNCTIONS` plus its evaluation in :mod:`generect_excel.functions` (and, being
Excel, its decorated twin in :mod:`generect_excel.udfs`, whose signature a test compares with
this registry).

This module imports nothing heavy (Excel imports :mod:`~generect_excel.udfs` at start-up, and
``udfs`` reads it then): the check and the evaluation are named here and live in
:mod:`generect_excel.functions`, imported on their first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

__all__ = [
    "AFTER_PURCHASES",
    "REFRESHABLE",
    "SPILLING",
    "WORKSHEET_FUNCTIONS",
    "WorksheetFunction",
]


@dataclass(frozen=True)
class WorksheetFunction:
    """One worksheet function, described once.

    ``arguments`` are its public Excel arguments, in order. ``kind`` is the engine operation it
    buys through (an :data:`generect_excel.operations.OPERATIONS` kind: "count", "search"...;
    "" for a function that buys nothing): such a function has a ``mode`` and a ``refresh``
    argument, is priced before it runs and is refreshed by the ribbon. ``spills``: its value is
    a table. ``volatile``: Excel recalculates it at every recalculation (a local read).
    ``in_wizard``: it may run while the function wizard is open (never for a function that
    buys). ``after_purchases``: the refresher evaluates it once the run's purchases are made
    (it reads the ledger, the register or the account). ``check`` and ``evaluate`` name, in
    the package's ``module`` (:mod:`generect_excel.functions` unless it says), the check it runs on its arguments before it sends
    anything (``check(**args)`` -> the validated request or None) and its evaluation
    (``evaluate(engine, args, origin)`` -> an ``Outcome``).
    """

    name: str
    arguments: tuple[str, ...]
    check: str
    evaluate: str
    kind: str = ""
    spills: bool = False
    volatile: bool = False
    in_wizard: bool = True
    after_purchases: bool = False
    module: str = "functions"
    # A function whose request is several calls (GENERECT_ENRICH over a range of ids) names,
    # in its module, how it is quoted: ``quote(engine, request, refresh, origin)`` ->
    # ``(fetches, budget.Estimate)``. Without one, the engine prices its one request.
    quote: str = ""

    @property
    def buys(self) -> bool:
        """Whether it calls a Generect operation that may cost money (and so is priced)."""
        return bool(self.kind)

    def check_arguments(
        self, args: Mapping[str, Any], *, origin: tuple[int, int] | None = None
    ) -> Any:
        """Every check it makes before sending anything, and nothing else (free, no network):
        the validated request of a call that buys, else None. ``origin``: the sheet row and
        column of the criteria range's top left cell, when known (a buying function's
        problems then name the sheet's rows)."""
        check = getattr(self._module(), self.check)
        if origin is not None and self.buys:
            return check(**args, origin=origin)
        return check(**args)

    def quote_request(self, engine: Any, request: Any, refresh: Any, origin: Any) -> Any:
        """``(fetches, estimate)`` of a function with a ``quote`` (see the field)."""
        return getattr(self._module(), self.quote)(engine, request, refresh, origin)

    def run(self, engine: Any, args: Mapping[str, Any], origin: Any = None) -> Any:
        """Its ``Outcome`` for ``args`` (argument names to values as xlwings hands them; an
        omitted one may be left out)."""
        return getattr(self._module(), self.evaluate)(engine, args, origin)

    def _module(self) -> Any:
        # Imported on first use: Excel imports udfs, which reads this registry, at start-up.
        return import_module(f".{self.module}", __package__)


def _describe(*functions: WorksheetFunction) -> dict[str, WorksheetFunction]:
    return {function.name: function for function in functions}


WORKSHEET_FUNCTIONS: dict[str, WorksheetFunction] = _describe(
    WorksheetFunction(
        "GENERECT_COUNT",
        ("criteria", "mode", "refresh"),
        check="_check_count",
        evaluate="_outcome_count",
        kind="count",
        in_wizard=False,
    ),
    WorksheetFunction(
        "GENERECT_SEARCH",
        ("criteria", "limit", "offset", "fields", "mode", "refresh"),
        check="_check_search",
        evaluate="_outcome_search",
        kind="search",
        spills=True,
        in_wizard=False,
    ),
    WorksheetFunction(
        "GENERECT_COMPANIES",
        ("criteria", "limit", "offset", "fields", "mode", "refresh"),
        check="_check_companies",
        evaluate="_outcome_companies",
        module="companies",
        kind="companies",
        spills=True,
        in_wizard=False,
    ),
    WorksheetFunction(
        "GENERECT_COMPANY_COUNT",
        ("criteria", "mode", "refresh"),
        check="_check_company_count",
        evaluate="_outcome_company_count",
        module="companies",
        kind="company_count",
        in_wizard=False,
    ),
    WorksheetFunction(
        "GENERECT_SPEND",
        ("period", "view"),
        check="_check_spend",
        evaluate="_outcome_spend",
        volatile=True,
        after_purchases=True,
    ),
    WorksheetFunction(
        "GENERECT_BALANCE",
        (),
        check="_check_balance",
        evaluate="_outcome_balance",
        after_purchases=True,
    ),
    WorksheetFunction(
        "GENERECT_VALUES",
        ("field",),
        check="_check_values",
        evaluate="_outcome_values",
        spills=True,
    ),
    WorksheetFunction(
        "GENERECT_LEADS",
        ("criteria",),
        check="_leads_criteria",
        evaluate="_outcome_leads",
        spills=True,
        volatile=True,
        after_purchases=True,
    ),
    # Issue 14: preview, then buy only the picked ids; work emails.
    WorksheetFunction(
        "GENERECT_PREVIEW",
        ("criteria", "limit", "offset", "mode", "refresh"),
        check="_check_preview",
        evaluate="_outcome_preview",
        kind="preview",
        spills=True,
        in_wizard=False,
        module="picks",
    ),
    WorksheetFunction(
        "GENERECT_ENRICH",
        ("ids", "buy", "refresh"),
        check="_check_enrich",
        evaluate="_outcome_enrich",
        kind="enrich",
        spills=True,
        in_wizard=False,
        module="picks",
        quote="_quote_enrich",
    ),
    WorksheetFunction(
        "GENERECT_EMAIL",
        ("lead", "last_name", "domain", "refresh"),
        check="_check_email",
        evaluate="_outcome_email",
        kind="email",
        in_wizard=False,
        module="emails",
    ),
)

#: The functions whose result is a table (it spills).
SPILLING = frozenset(f.name for f in WORKSHEET_FUNCTIONS.values() if f.spills)
#: The functions that buy through the engine: priced by the refresher, refreshed by the ribbon.
REFRESHABLE = frozenset(f.name for f in WORKSHEET_FUNCTIONS.values() if f.buys)
#: The functions the refresher evaluates once the run's own purchases are made.
AFTER_PURCHASES = frozenset(f.name for f in WORKSHEET_FUNCTIONS.values() if f.after_purchases)
