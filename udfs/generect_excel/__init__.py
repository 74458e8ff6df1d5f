"""Generect for Excel: Generect's B2B lead data in Excel workbooks, never paid for twice.

The public API, importable from here::

    from generect_excel import Engine, criteria_from_kwargs, load_settings, search_table

    engine = Engine(load_settings())
    request = criteria_from_kwargs("database", job_titles=["CEO"], locations=["Germany"])
    answer = engine.search(request)          # cached, coalesced, budgeted, in the ledger

Names are resolved lazily (PEP 562) so that ``import generect_excel.udfs``, which Excel runs
at every start, does not pay for pydantic, httpx or SQLite until a function is called.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # settings
    "Settings": "settings",
    "load_settings": "settings",
    # requests and criteria
    "LeadSearchRequest": "models",
    "RealtimeLeadSearchRequest": "models",
    "REALTIME_ONLY_FIELDS": "models",
    "build_request": "models",
    "canonical_json": "models",
    "with_paging": "models",
    "criteria_from_block": "criteria",
    "criteria_from_file": "criteria",
    "criteria_from_kwargs": "criteria",
    "parse_block": "criteria",
    "allowed_values": "vocab",
    # the API
    "Client": "client",
    "AsyncClient": "client",
    "SearchResult": "responses",
    "CountResult": "responses",
    "Account": "responses",
    "BillingHistory": "responses",
    "Transaction": "responses",
    # never paying twice
    "Engine": "engine",
    "Answer": "engine",
    "Origin": "ledger",
    "Store": "store",
    "Settlement": "ledger",
    "Reconciliation": "reconcile",
    # the sheet's tables
    "DEFAULT_COLUMNS": "table",
    "SearchInfo": "table",
    "lead_table": "table",
    "search_table": "table",
    "status_line": "table",
    "parse_fields": "table",
    # errors
    "GenerectError": "errors",
    "CriteriaError": "errors",
    "BudgetError": "errors",
    "SettingsError": "errors",
    "StoreError": "errors",
    "WorkbookError": "errors",
    "APIError": "errors",
    "OutcomeUnknownError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'generect_excel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
