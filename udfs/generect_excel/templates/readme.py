"""The "Read me" sheet every template opens on: what it does, how to use it, what each of its
Generect formulas costs per refresh (from the published prices), and how to refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.worksheet.formula import ArrayFormula

from .._constants import (
    CELL_ERROR_PREFIX,
    PRICE_DATABASE_ROW,
    PRICE_REALTIME_COUNT,
    PRICE_REALTIME_ROW,
)
from ..operations import operation
from ..worksheet import WORKSHEET_FUNCTIONS
from .builder import (
    _GENERECT_CALL,
    EXAMPLE_MARK,
    NOT_FETCHED,
    _money,
    _printable,
    _text,
    _widths,
    _wrap,
    quote_sheetname,
)


def generect_formula_cells(wb: Workbook) -> list[tuple[str, str, str]]:
    """Every GENERECT_* formula of ``wb`` as (sheet, cell, formula text with "="), in order."""
    found: list[tuple[str, str, str]] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                text = value.text if isinstance(value, ArrayFormula) else value
                if isinstance(text, str) and _GENERECT_CALL.match(text) and text.startswith("="):
                    found.append((ws.title, cell.coordinate, text))
    return found


def _formula_cost(formula: str) -> str:
    """What one refresh of this formula costs, in words (published prices)."""
    name = _GENERECT_CALL.match(formula).group(1).upper()  # type: ignore[union-attr]
    mode = "realtime" if '"realtime"' in formula.lower() else "database"
    described = WORKSHEET_FUNCTIONS.get(name)
    if described is None or not described.buys:
        return "free (reads the local ledger)" if name == "GENERECT_SPEND" else "free"
    called = operation(described.kind, mode)
    if called.returns_rows:
        price = called.estimate({"limit_by": 1})
        return f"up to limit x {_money(price)} per {called.row_noun} ({mode})"
    if called.billable:
        return f"{_money(called.estimate({}))} per request ({mode} {called.label})"
    return f"free ({mode} {called.label})"


def _read_me(
    wb: Workbook, *, title: str, summary: Sequence[str], steps: Sequence[str], notes: Sequence[str]
) -> None:
    """Add the "Read me" sheet first; its formula list is read from the finished workbook."""
    formulas = generect_formula_cells(wb)
    ws = wb.create_sheet("Read me", 0)
    _widths(ws, {"A": 3, "B": _READ_ME_WIDTH, "C": _READ_ME_COST_WIDTH})
    ws.sheet_view.showGridLines = False
    row = 1

    def line(text: str, style: str | None = None, cost: str | None = None) -> None:
        nonlocal row
        _text(ws, f"B{row}", text, style)
        _wrap(ws, f"B{row}", _READ_ME_WIDTH)
        if cost is not None:
            _text(ws, f"C{row}", cost)
            _wrap(ws, f"C{row}", _READ_ME_COST_WIDTH)
        row += 1

    def gap() -> None:
        nonlocal row
        row += 1

    line(f"Generect for Excel — {title}", "Title")
    ws.row_dimensions[1].height = 24
    for text in summary:
        line(text)
    gap()
    line("How to use it", "Headline 2")
    for number, text in enumerate(steps, start=1):
        line(f"{number}. {text}")
    line(
        f'Cells in the orange "Input" style are yours to fill. The values marked "{EXAMPLE_MARK}" '
        "are examples, there so that a first refresh works straight away."
    )
    gap()
    line("The Generect formulas in this workbook", "Headline 2", "What one refresh costs")
    ws[f"C{row - 1}"].style = "Headline 2"
    for sheet, coord, formula in formulas:
        line(f"{quote_sheetname(sheet)}!{coord}:  {formula}", None, _formula_cost(formula))
    gap()
    line("What each kind of formula costs (Generect's published prices)", "Headline 2")
    line("GENERECT_COUNT(criteria): database count", None, "free")
    line(
        'GENERECT_COUNT(criteria, "realtime"): realtime count, charged even when the count is 0',
        None,
        f"{_money(PRICE_REALTIME_COUNT)} per request",
    )
    line(
        "GENERECT_SEARCH(criteria, limit): database search",
        None,
        f"{_money(PRICE_DATABASE_ROW)} per returned row",
    )
    line(
        'GENERECT_SEARCH(criteria, limit, offset, fields, "realtime"): realtime search',
        None,
        f"{_money(PRICE_REALTIME_ROW)} per returned row",
    )
    line("GENERECT_SPEND(period, view), GENERECT_BALANCE(), GENERECT_VALUES(field)", None, "free")
    line(
        "A search costs at most limit x the price per row. What was actually charged is in the "
        'status line at the top of each lead table (with a test key: "priced, not debited"), '
        "and `generect-excel spend` lists every charge."
    )
    gap()
    line("Nothing is paid for twice", "Headline 2")
    line(
        "Every answer is stored on this computer. Recalculating (F9), reopening the workbook or "
        "copying a formula with the same criteria fetches nothing again and costs nothing: the "
        "stored answer is shown. A new fetch happens only when you refresh."
    )
    gap()
    line("How to refresh", "Headline 2")
    ribbon = "In Excel with the Generect add-in: the Generect tab on the ribbon > Refresh."
    if any(_GENERECT_CALL.match(f).group(1).upper() == "GENERECT_SEARCH" for *_, f in formulas):  # type: ignore[union-attr]
        # The templates' static form (see .writer): the ribbon's first Refresh makes it spill.
        ribbon += (
            " Refresh there before changing any criteria: a lead table is saved so that every "
            "spreadsheet shows it (Excel 365 shows its formula as =@GENERECT_SEARCH(...)), and "
            "that first Refresh makes it an Excel 365 spilling formula. A criteria cell changed "
            "before it would run the search and show only its status line."
        )
    line(ribbon)
    line(
        "Without Excel (a Mac, a schedule): generect-excel refresh BOOK.xlsx — add --dry-run "
        "first to see what the refresh would cost, without spending anything. The results are "
        "written into the file, next to the formulas, which stay in place for the next refresh."
    )
    line(
        "Opening this workbook fetches nothing and costs nothing: a Generect cell shows "
        f'"{NOT_FETCHED}" until you refresh it, or until you change a criteria cell it reads '
        "(Excel with the add-in then runs that formula, at the cost listed above). A cell "
        f'starting "{CELL_ERROR_PREFIX}" says what is wrong and what to do.'
    )
    if notes:
        gap()
        line("About this template", "Headline 2")
        for text in notes:
            line(text)
    wb.active = 0
    _printable(wb)


_READ_ME_WIDTH = 95
_READ_ME_COST_WIDTH = 36
