"""Workbook files without Excel: find GENERECT_* formulas, evaluate them, write the results.

An edge (openpyxl to read, lxml to write) over the core's engine and functions:

    formulas     find GENERECT calls in formula text and read their arguments
    references   read argument values from a workbook file (ranges, names, saved values)
    xlsxpatch    write results into the worksheet XML in place; atomic replace
    destination  is a file safe to write (not open elsewhere, not read-only, folder writable)
    refresher    plan, quote (dry run), run concurrently through the engine, write, summary

Example::

    from generect_excel.engine import Engine
    from generect_excel.settings import load_settings
    from generect_excel.workbook import refresh_workbook

    summary = refresh_workbook("leads.xlsx", Engine(load_settings()), confirm=lambda q: True)
    print("\\n".join(summary.lines()))
"""

from __future__ import annotations

from ..formulas.parse import Call, FormulaSyntaxError, ParsedFormula, parse_formula
from ..formulas.references import FormulaCell, WorkbookReader
from ..formulas.xlsxpatch import SPILL_NAME_PREFIX, CellResult, Package, PatchReport, SpillBlocked
from .destination import check_destination
from .refresher import (
    Plan,
    Query,
    Quote,
    RefreshSummary,
    plan_refresh,
    quote_plan,
    refresh_workbook,
    run_plan,
    write_results,
)

__all__ = [
    "SPILL_NAME_PREFIX",
    "Call",
    "CellResult",
    "FormulaCell",
    "FormulaSyntaxError",
    "Package",
    "ParsedFormula",
    "PatchReport",
    "Plan",
    "Query",
    "Quote",
    "RefreshSummary",
    "SpillBlocked",
    "WorkbookReader",
    "check_destination",
    "parse_formula",
    "plan_refresh",
    "quote_plan",
    "refresh_workbook",
    "run_plan",
    "write_results",
]
