"""Template workbooks: ready-to-fill .xlsx files built around the GENERECT_* functions.

An edge module (openpyxl). Each template has a "Read me" sheet, input cells in Excel's own
"Input" cell style, example criteria marked "Example — replace with yours", and formulas whose
criteria arguments are ranges of literal cells, so that ``generect-excel refresh`` can read
them from the file (it sees no values that only Excel would calculate).

    TEMPLATES                       name -> one-line description
    build_template(name)            -> openpyxl.Workbook (a fresh, unsaved workbook)
    write_template(name, path)      builds and saves it, byte-for-byte reproducibly
    GridSpec / build_market_sizing  a market-sizing grid of your own rows, columns and filters

How the formulas are stored (what Excel itself writes, and why it matters):

- A user-defined function is stored under its plain name: ``<f>GENERECT_COUNT(A2:D12)</f>``.
  Excel prefixes ``_xlfn.`` to its own post-2007 functions only, and ``_xludf.`` to a name it
  reads as a user-defined function that collides with a built-in one; GENERECT_* collides with
  none. When Excel saves a workbook whose function came from an .xlam add-in it may qualify it
  as an external reference to the add-in file (``[1]!GENERECT_COUNT(...)`` plus an externalLink
  part); a plain name is resolved against the loaded add-in when Excel calculates. Readers of
  workbooks (the refresher) should accept all three spellings.
- Excel 365 treats a formula saved without dynamic-array metadata as a legacy formula: it shows
  ``=@GENERECT_SEARCH(...)`` (implicit intersection) and keeps only the top-left value, so a
  lead table would never spill. GENERECT_SEARCH cells are therefore written the way Excel 365
  writes a spilling formula: ``<c cm="1"><f t="array" ref="A21">GENERECT_SEARCH(...)</f>``,
  with the ``XLDAPR`` cell metadata in ``xl/metadata.xml``. openpyxl cannot write that, so
  :func:`write_workbook` adds it to the saved package; openpyxl reads such a cell back as an
  :class:`~openpyxl.worksheet.formula.ArrayFormula` whose ``.text`` is ``"=GENERECT_SEARCH..."``
  (and drops the metadata when it re-saves the file).
- One-value functions (GENERECT_COUNT, GENERECT_SPEND, GENERECT_BALANCE) stay plain formulas:
  Excel 365 shows them with a harmless ``@`` and the same value, and LibreOffice shows a plain
  formula's cached value, whereas it recalculates every array formula on open (``#NAME?``
  without the add-in; measured with LibreOffice 7.4 on a file whose docProps/app.xml names
  Excel, as openpyxl's does).
- Every GENERECT_* cell carries the cached text :data:`NOT_FETCHED`, so a spreadsheet that
  shows cached values says what to do instead of ``#NAME?``.
- Opening a template fetches nothing. openpyxl saves ``<calcPr calcId="124519"
  fullCalcOnLoad="1"/>``, and Excel recalculates every formula on open when asked to, or when
  the saved ``calcId`` is older than its own engine's ("If the value is less than the
  recalculation engine identifier associated with the application, the application will
  recalculate the results of all formulas on this workbook immediately after loading the
  file", [MS-XLS] 2.4.215 RecalcId): with the add-in, that would buy each example search. So
  the templates are saved as Excel 365 saves a calculated workbook (:data:`CALC_ID`, no
  ``fullCalcOnLoad``), with a cached value in every formula cell (the value it computes in
  the template as built: ``=B15*0.02`` caches 0.5), because Excel then shows cached values.
- LibreOffice, too, shows a plain formula's cached value on load instead of recomputing it
  (measured with 7.4): a total of counts written later by ``generect-excel refresh`` would
  stay 0, in Excel as well. Such totals end in :data:`RECALC_ON_OPEN`, which both recompute
  on open, from the counts' cached values.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import weakref
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, NamedStyle
from openpyxl.utils import absolute_coordinate, get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from ._constants import (
    CELL_ERROR_PREFIX,
    MAX_LIMIT,
    PRICE_DATABASE_COUNT,
    PRICE_DATABASE_ROW,
    PRICE_REALTIME_COUNT,
    PRICE_REALTIME_ROW,
)
from .errors import WorkbookError
from .vocab import allowed_values

__all__ = [
    "CALC_ID",
    "EXAMPLE_MARK",
    "INPUT_STYLE",
    "NOT_FETCHED",
    "RECALC_ON_OPEN",
    "SPILLING",
    "TEMPLATES",
    "GridSpec",
    "build_market_sizing",
    "build_template",
    "generect_formula_cells",
    "write_template",
    "write_workbook",
]

TEMPLATES: dict[str, str] = {
    "lead-list": "Leads matching a criteria block, with a free count, the cost and today's spend.",
    "market-sizing": "A grid of free database counts (seniority x location) with totals and a chart.",
    "account-list": "Decision makers (C-suite, VP, director) at each of your target companies.",
    "realtime-signals": "Realtime-only filters (keywords, job changes, posts): a count, then leads.",
}

EXAMPLE_MARK = "Example — replace with yours"
NOT_FETCHED = "Not fetched yet: refresh"
INPUT_STYLE = "Input"  # Excel's built-in cell style: one fill and border for every input cell
LABEL_STYLE = "Generect label"
EXAMPLE_STYLE = "Generect example"
RESULT_STYLE = "Calculation"  # Excel's built-in style for calculated cells
HINT_STYLE = "Explanatory Text"

# Fixed document dates: the same template builds to the same bytes on every run.
BUILD_DATE = datetime(2026, 1, 1)
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)

MONEY_FORMAT = '"$"#,##0.00'
# Criteria cells are Text: Excel would otherwise turn a typed or picked "11-50" into a date.
TEXT_FORMAT = "@"
COUNT_FORMAT = "#,##0"

# Appended to a formula that adds up GENERECT results (the market grid's totals). NOW() makes
# it volatile: Excel recalculates volatile formulas (and only what depends on them) each time
# it opens a workbook, and LibreOffice recalculates them on load, whereas both show any other
# formula's saved value as it is. So a total follows counts that `generect-excel refresh`
# wrote into the file, without anything recalculating the counts themselves.
RECALC_ON_OPEN = "+0*NOW()"

# The hidden "Lists" sheet: one column per vocabulary, for drop-down lists.
LISTS_SHEET = "Lists"
_LIST_COLUMNS = (
    ("Seniority", "seniorities"),
    ("Company size", "company_headcounts"),
    ("Company type", "company_types"),
    ("Industry", "company_industries"),
)

# Functions whose answer is a table: stored as dynamic arrays so that Excel 365 spills them.
SPILLING = frozenset({"GENERECT_SEARCH", "GENERECT_VALUES"})

# The value each ordinary formula computes in the template as built, per sheet and cell:
# (formula as written, value). write_workbook saves it as the formula's cached value.
Cached = str | int | float | Decimal | bool
_CACHED: weakref.WeakKeyDictionary[Worksheet, dict[str, tuple[str, Cached]]] = (
    weakref.WeakKeyDictionary()
)

_BARE_SHEET = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CELL_LIKE = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]+|[RrCc][0-9]*)$")  # "A1", "R", "C1" need quotes
_GENERECT_CALL = re.compile(r"^=?\s*(GENERECT_[A-Z]+)\s*\(", re.IGNORECASE)


def _money(price: Decimal) -> str:
    return f"${price:.2f}"


# --------------------------------------------------------------------------- cells and styles


def _styles(wb: Workbook) -> None:
    """Register the custom named styles; Excel's built-in ones are added on first use."""
    wb.add_named_style(NamedStyle(name=LABEL_STYLE, font=Font(name="Calibri", size=11, bold=True)))
    wb.add_named_style(
        NamedStyle(
            name=EXAMPLE_STYLE,
            font=Font(name="Calibri", size=11, bold=True, italic=True, color="C65911"),
        )
    )


def _text(ws: Worksheet, coord: str, text: str, style: str | None = None) -> None:
    """Put text in a cell; text that starts with "=" stays text, never a formula."""
    cell = ws[coord]
    cell.value = text
    if text.startswith("="):
        cell.data_type = "s"
    if style:
        cell.style = style


def _label(ws: Worksheet, coord: str, text: str) -> None:
    _text(ws, coord, text, LABEL_STYLE)


def _input(
    ws: Worksheet, coord: str, value: object = None, number_format: str | None = None
) -> None:
    cell = ws[coord]
    cell.value = value
    cell.style = INPUT_STYLE
    if number_format:
        cell.number_format = number_format


def _generect(ws: Worksheet, coord: str, formula: str, number_format: str | None = None) -> None:
    """A GENERECT_* formula; a spilling one is stored as a dynamic array anchored at ``coord``."""
    match = _GENERECT_CALL.match(formula)
    if not match or not formula.startswith("="):
        raise ValueError(f"not a GENERECT_* formula: {formula}")
    cell = ws[coord]
    cell.value = ArrayFormula(coord, formula) if match.group(1) in SPILLING else formula
    cell.style = RESULT_STYLE
    if number_format:
        cell.number_format = number_format


def _formula(
    ws: Worksheet, coord: str, formula: str, cached: Cached, number_format: str | None = None
) -> None:
    """An ordinary Excel formula (SUM, arithmetic, a reference) and the value it computes.

    ``cached`` is saved with the formula (see :func:`write_workbook`): Excel does not
    recalculate a template on open, so it shows this value until an input changes.
    """
    cell = ws[coord]
    cell.value = formula
    cell.style = RESULT_STYLE
    if number_format:
        cell.number_format = number_format
    _CACHED.setdefault(ws, {})[cell.coordinate] = (formula, cached)


def _link(ws: Worksheet, coord: str, text: str, location: str) -> None:
    cell = ws[coord]
    cell.value = text
    cell.hyperlink = Hyperlink(ref=coord, location=location, display=text)
    cell.style = "Hyperlink"


def quote_sheetname(sheet: str) -> str:
    """A sheet name as a formula needs it: quoted only when Excel would quote it."""
    if _BARE_SHEET.match(sheet) and not _CELL_LIKE.match(sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


def _ref(sheet: str, first: str, last: str | None = None) -> str:
    """An absolute, sheet-qualified reference: ``'Lead list'!$A$2:$D$12``."""
    area = absolute_coordinate(first if last is None else f"{first}:{last}")
    return f"{quote_sheetname(sheet)}!{area}"


def _widths(ws: Worksheet, widths: dict[str, float]) -> None:
    for column, width in widths.items():
        ws.column_dimensions[column].width = width


def _wrap(ws: Worksheet, coord: str, width: float) -> None:
    """Wrap the text of ``coord`` in a column ``width`` characters wide, and size the row.

    Excel and LibreOffice keep a row's stored height on open, so a wrapped paragraph gets a
    height for its estimated number of lines (a character of Calibri 11 is about one width unit).
    """
    cell = ws[coord]
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    lines = max(1, -(-len(str(cell.value or "")) // int(width * 1.05)))
    current = ws.row_dimensions[cell.row].height or 15
    ws.row_dimensions[cell.row].height = max(current, 15 * lines)


def _printable(wb: Workbook) -> None:
    """Landscape, one page wide: a printed or PDF sheet keeps its columns together."""
    for ws in wb.worksheets:
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0


# --------------------------------------------------------------------------- shared pieces


def _lists_sheet(wb: Workbook) -> dict[str, str]:
    """Add the hidden "Lists" sheet; return vocabulary name -> its absolute list reference."""
    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    refs: dict[str, str] = {}
    for index, (title, vocabulary) in enumerate(_LIST_COLUMNS, start=1):
        column = get_column_letter(index)
        _label(ws, f"{column}1", title)
        values = allowed_values(vocabulary)
        for row, value in enumerate(values, start=2):
            ws[f"{column}{row}"] = value
        refs[vocabulary] = _ref(LISTS_SHEET, f"{column}2", f"{column}{len(values) + 1}")
        ws.column_dimensions[column].width = 40 if vocabulary == "company_industries" else 16
    return refs


def _dropdown(ws: Worksheet, cells: str, source: str, field: str) -> None:
    """A drop-down of one vocabulary's values over ``cells``.

    A warning (not a stop) on other text: the criteria parser also understands friendly
    spellings ("C-Suite", "10,000+") that are not in the list.
    """
    dv = DataValidation(
        type="list",
        formula1=source,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle=f"Not a listed {field}",
        error=f"Pick a {field} from the list, one per cell. Keep this value anyway?",
        showInputMessage=True,
        promptTitle=field.capitalize(),
        prompt=f"One {field} per cell; pick from the list.",
    )
    dv.add(cells)
    ws.add_data_validation(dv)


def _whole_number(ws: Worksheet, cells: str, low: int, high: int, what: str) -> None:
    dv = DataValidation(
        type="whole",
        operator="between",
        formula1=str(low),
        formula2=str(high),
        allow_blank=False,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle=f"{what.capitalize()} out of range",
        error=f"Enter a whole number from {low} to {high}.",
    )
    dv.add(cells)
    ws.add_data_validation(dv)


def _one_company(ws: Worksheet, row: int) -> None:
    """Refuse a second company identifier (A: name, B: LinkedIn URL) on a card's row."""
    dv = DataValidation(
        type="custom",
        formula1=f'OR($A{row}="",$B{row}="")',
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="One company identifier",
        error="Fill the company name OR its LinkedIn URL, not both.",
    )
    dv.add(f"A{row}:B{row}")
    ws.add_data_validation(dv)


def _yes_no(ws: Worksheet, cells: str) -> None:
    dv = DataValidation(type="list", formula1='"TRUE,FALSE"', allow_blank=True)
    dv.add(cells)
    ws.add_data_validation(dv)


@dataclass(frozen=True)
class _Row:
    """One row of a vertical criteria block."""

    label: str
    values: tuple[object, ...] = ()
    hint: str = ""
    vocabulary: str | None = None  # drop-down list of this vocabulary
    yes_no: bool = False


def _criteria_block(
    ws: Worksheet,
    top: int,
    rows: Sequence[_Row],
    lists: dict[str, str],
    *,
    value_columns: int = 3,
) -> str:
    """Write a vertical criteria block at ``A{top}``; return its absolute reference.

    The block is a "Filter | Values" header row, then one row per filter: the label in
    column A and up to ``value_columns`` value cells to its right (one value per cell, so a
    drop-down list can fill each). Marks and hints sit outside the block, to its right.
    """
    last_col = get_column_letter(1 + value_columns)
    mark_col = get_column_letter(2 + value_columns)
    hint_col = get_column_letter(3 + value_columns)
    _text(ws, f"A{top}", "Filter", "Headline 4")
    _text(ws, f"B{top}", "Values", "Headline 4")  # "Filter | Values": a header the parser skips
    for offset in range(2, value_columns + 1):
        ws[f"{get_column_letter(offset + 1)}{top}"].style = "Headline 4"
    _text(ws, f"{hint_col}{top}", "One value per cell; any of a row's values matches.", HINT_STYLE)
    for index, row in enumerate(rows, start=top + 1):
        _label(ws, f"A{index}", row.label)
        for col in range(value_columns):
            value = row.values[col] if col < len(row.values) else None
            # Yes/no cells keep the General format: a Text cell shows TRUE as 1 in LibreOffice.
            fmt = None if row.yes_no else TEXT_FORMAT
            _input(ws, f"{get_column_letter(col + 2)}{index}", value, fmt)
        cells = f"B{index}:{last_col}{index}"
        if row.vocabulary:
            _dropdown(ws, cells, lists[row.vocabulary], row.label.lower())
        if row.yes_no:
            _yes_no(ws, cells)
        if row.values:
            _text(ws, f"{mark_col}{index}", EXAMPLE_MARK, EXAMPLE_STYLE)
        if row.hint:
            _text(ws, f"{hint_col}{index}", row.hint, HINT_STYLE)
    return _ref(ws.title, f"A{top}", f"{last_col}{top + len(rows)}")


# --------------------------------------------------------------------------- Read me


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
    realtime = '"realtime"' in formula.lower()
    if name == "GENERECT_COUNT":
        if realtime:
            return f"{_money(PRICE_REALTIME_COUNT)} per request (realtime count)"
        return (
            "free (database count)" if PRICE_DATABASE_COUNT == 0 else _money(PRICE_DATABASE_COUNT)
        )
    if name == "GENERECT_SEARCH":
        price = PRICE_REALTIME_ROW if realtime else PRICE_DATABASE_ROW
        return f"up to limit x {_money(price)} per row ({'realtime' if realtime else 'database'})"
    if name == "GENERECT_SPEND":
        return "free (reads the local ledger)"
    return "free"


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
    line("GENERECT_SPEND(period), GENERECT_BALANCE(), GENERECT_VALUES(field)", None, "free")
    line(
        "A search costs at most limit x the price per row. What was actually charged is in the "
        "status line at the top of each lead table, and `generect-excel spend` lists every charge."
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
    line("In Excel with the Generect add-in: the Generect tab on the ribbon > Refresh.")
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


def _new_workbook(title: str) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    _styles(wb)
    wb.properties.creator = "Generect for Excel"
    wb.properties.title = f"Generect for Excel — {title}"
    wb.properties.created = BUILD_DATE
    wb.properties.modified = BUILD_DATE
    return wb


_READ_ME_WIDTH = 95
_READ_ME_COST_WIDTH = 36


# --------------------------------------------------------------------------- lead list


def _build_lead_list() -> Workbook:
    wb = _new_workbook("Lead list")
    ws = wb.create_sheet("Lead list")
    lists = _lists_sheet(wb)
    _widths(ws, {"A": 30, "B": 26, "C": 26, "D": 26, "E": 30, "F": 48})
    for col in "GHIJK":
        ws.column_dimensions[col].width = 26
    _text(ws, "A1", "Lead list — who are you looking for?", "Title")
    rows = [
        _Row(
            "Job titles",
            ("Head of Sales", "VP Sales", "Sales Director"),
            "Titles as people write them; any of them matches.",
        ),
        _Row("Seniority", ("vp", "director", "head"), "Pick from the list.", "seniorities"),
        _Row("Location", ("United States", "Canada"), "Countries, states or cities."),
        _Row("Company size", ("51-200", "201-500", "501-1000"), "Employees.", "company_headcounts"),
        _Row("Company type", ("Privately Held",), "Pick from the list.", "company_types"),
        _Row(
            "Industry",
            ("Software Development", "IT Services and IT Consulting"),
            "LinkedIn industries; pick from the list.",
            "company_industries",
        ),
        _Row("Company location", (), "Optional: where the company is headquartered."),
        _Row("Exclude locations", (), "Optional: locations to leave out."),
        _Row("Exclude industries", (), "Optional: industries to leave out.", "company_industries"),
        _Row("Exclude company sizes", (), "Optional: sizes to leave out.", "company_headcounts"),
    ]
    criteria = _criteria_block(ws, 2, rows, lists)  # 'Lead list'!$A$2:$D$12

    _label(ws, "A14", "Matches (database count)")
    _generect(ws, "B14", f"=GENERECT_COUNT({criteria})", COUNT_FORMAT)
    _text(ws, "C14", "Free. Generect's estimate of how many leads match.", HINT_STYLE)
    _label(ws, "A15", "Leads to fetch (limit)")
    limit = 25
    _input(ws, "B15", limit)
    _whole_number(ws, "B15", 1, MAX_LIMIT, "limit")
    _text(
        ws,
        "C15",
        f"1 to {MAX_LIMIT:,}. Each returned lead costs {_money(PRICE_DATABASE_ROW)}.",
        HINT_STYLE,
    )
    _label(ws, "A16", "Worst-case cost of the search")
    _formula(ws, "B16", f"=B15*{PRICE_DATABASE_ROW}", limit * PRICE_DATABASE_ROW, MONEY_FORMAT)
    _text(
        ws,
        "C16",
        "Limit x price per row. Paid once: a stored answer is never paid again.",
        HINT_STYLE,
    )
    _label(ws, "A17", "Spent today")
    _generect(ws, "B17", '=GENERECT_SPEND("today")', MONEY_FORMAT)
    _text(ws, "C17", "All workbooks on this computer, from the local ledger (free).", HINT_STYLE)
    _label(ws, "A18", "Account balance")
    _generect(ws, "B18", "=GENERECT_BALANCE()")
    _text(ws, "C18", "Free.", HINT_STYLE)

    _text(ws, "A20", "Leads", "Headline 2")
    _text(
        ws,
        "B20",
        "The table below spills from A21: a status line (matches, rows, amount charged, when "
        "fetched), a header row, then one row per lead. Keep the area below A21 empty.",
        HINT_STYLE,
    )
    _generect(ws, "A21", f"=GENERECT_SEARCH({criteria},B15)")
    ws.freeze_panes = "A2"

    _read_me(
        wb,
        title="Lead list",
        summary=[
            "Finds the leads matching the criteria block on the Lead list sheet and puts them "
            "in the sheet, with a free count of all matches, the worst-case cost, and what was "
            "spent today."
        ],
        steps=[
            "On the Lead list sheet, replace the example values in the criteria block (A2:D12): "
            "one filter per row, one value per cell, up to three values per row (any of them "
            "matches). Leave a row empty to not filter on it.",
            "Seniority, company size, company type and industry cells offer drop-down lists of "
            "the values Generect accepts.",
            "Refresh. Check the free count in B14 and the worst-case cost in B16, and lower the "
            "limit in B15 before fetching many leads.",
            "The leads spill from A21: a status line, a header row, then one row per lead.",
        ],
        notes=[
            "Criteria must be in the block itself: the refresher reads the values you typed in "
            "A2:D12, not formulas. Several values may also share one cell, separated by ';'.",
        ],
    )
    return wb


# --------------------------------------------------------------------------- market sizing


@dataclass(frozen=True)
class GridSpec:
    """A market-sizing grid: one free database count per (row value, column value).

    ``rows`` and ``columns`` are (criteria label, values); ``filters`` are the criteria every
    cell shares, as (label, values). Labels are criteria labels ("Seniority", "Location",
    "Company size", "Industry", "Job titles", ...).
    """

    rows: tuple[str, tuple[str, ...]]
    columns: tuple[str, tuple[str, ...]]
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        for what, (label, values) in (("rows", self.rows), ("columns", self.columns)):
            if not label.strip() or not values:
                raise ValueError(f"the grid's {what} need a label and at least one value")
        for label, values in self.filters:
            if not label.strip() or not values:
                raise ValueError(f"filter {label!r} needs at least one value")


DEFAULT_GRID = GridSpec(
    rows=("Seniority", ("C-Suite", "VP", "Director", "Manager", "Senior")),
    columns=("Location", ("United States", "United Kingdom", "Germany", "France", "Canada")),
    filters=(("Industry", ("Software Development",)),),
)

GRID_SHEET = "Market sizing"
GRID_CRITERIA_SHEET = "Grid criteria"
_GRID_TOP = 6  # the grid's header row on the Market sizing sheet


def _grid_block(spec: GridSpec, r: int, c: int) -> tuple[int, int]:
    """Top-left (row, column) of the criteria block of grid cell (r, c) on Grid criteria.

    Blocks mirror the grid: block (r, c) sits r blocks down and c blocks across, each a
    caption row, a labels row and a values row, with a blank row and column around it.
    """
    width = len(spec.filters) + 2
    return 4 + 4 * r, 1 + (width + 1) * c


def build_market_sizing(spec: GridSpec = DEFAULT_GRID) -> Workbook:
    """The market-sizing template for a grid of your own (see :class:`GridSpec`)."""
    row_label, row_values = spec.rows
    col_label, col_values = spec.columns
    labels = [label for label, _ in spec.filters] + [row_label, col_label]
    width = len(labels)

    wb = _new_workbook("Market sizing")
    ws = wb.create_sheet(GRID_SHEET)
    crit = wb.create_sheet(GRID_CRITERIA_SHEET)

    # Grid criteria: one literal horizontal block (labels row + values row) per grid cell.
    _text(crit, "A1", "Grid criteria — what each count on the Market sizing sheet counts", "Title")
    _text(
        crit,
        "A2",
        "Each block is one count's criteria: a labels row and a values row, laid out like the "
        "grid. To change the grid, change the values here (a row's value appears in every "
        "block of that row). Several values may share a cell, separated by ';'.",
        HINT_STYLE,
    )
    _text(crit, "A3", EXAMPLE_MARK, EXAMPLE_STYLE)
    block_refs: dict[tuple[int, int], str] = {}
    for r, row_value in enumerate(row_values):
        for c, col_value in enumerate(col_values):
            top, left = _grid_block(spec, r, c)
            grid_cell = f"{get_column_letter(2 + c)}{_GRID_TOP + 1 + r}"
            _text(
                crit,
                f"{get_column_letter(left)}{top}",
                f"Counted in {quote_sheetname(GRID_SHEET)}!{grid_cell}",
                HINT_STYLE,
            )
            values = ["; ".join(v) for _, v in spec.filters] + [row_value, col_value]
            for i, (label, value) in enumerate(zip(labels, values, strict=True)):
                column = get_column_letter(left + i)
                _label(crit, f"{column}{top + 1}", label)
                _input(crit, f"{column}{top + 2}", value, TEXT_FORMAT)
            block_refs[(r, c)] = _ref(
                GRID_CRITERIA_SHEET,
                f"{get_column_letter(left)}{top + 1}",
                f"{get_column_letter(left + width - 1)}{top + 2}",
            )
    for c in range(len(col_values)):
        _, left = _grid_block(spec, 0, c)
        for i in range(width):
            crit.column_dimensions[get_column_letter(left + i)].width = 22
        crit.column_dimensions[get_column_letter(left + width)].width = 3

    # The grid: headers show block values, so the sheet shows what is counted.
    _widths(ws, {"A": 26} | {get_column_letter(2 + c): 17 for c in range(len(col_values) + 1)})
    _text(ws, "A1", "Market sizing — how many leads, by segment", "Title")
    shared = "; ".join(f"{label}: {', '.join(values)}" for label, values in spec.filters)
    _text(
        ws,
        "A2",
        f"Free database counts: {row_label} (down) x {col_label} (across)"
        + (f", each within {shared}." if shared else "."),
        HINT_STYLE,
    )
    _text(
        ws,
        "A3",
        f"Each count reads its own criteria block on the {GRID_CRITERIA_SHEET} sheet (same "
        "place in the grid): edit the segments there.",
        HINT_STYLE,
    )
    _link(ws, "A4", f"Go to {GRID_CRITERIA_SHEET}", f"{quote_sheetname(GRID_CRITERIA_SHEET)}!A1")
    _text(ws, "B4", EXAMPLE_MARK, EXAMPLE_STYLE)
    header = _GRID_TOP
    last_row = header + len(row_values)
    total_col = get_column_letter(2 + len(col_values))
    last_col = get_column_letter(1 + len(col_values))
    _text(ws, f"A{header}", f"{row_label} \\ {col_label}", "Headline 4")
    for c in range(len(col_values)):
        top, left = _grid_block(spec, 0, c)
        col_cell = f"{get_column_letter(left + width - 1)}{top + 2}"
        _formula(
            ws,
            f"{get_column_letter(2 + c)}{header}",
            f"={_ref(GRID_CRITERIA_SHEET, col_cell)}",
            col_values[c],
        )
        ws[f"{get_column_letter(2 + c)}{header}"].style = "Headline 4"
    _text(ws, f"{total_col}{header}", "Total", "Headline 4")
    for r in range(len(row_values)):
        top, left = _grid_block(spec, r, 0)
        row_cell = f"{get_column_letter(left + width - 2)}{top + 2}"
        y = header + 1 + r
        _formula(ws, f"A{y}", f"={_ref(GRID_CRITERIA_SHEET, row_cell)}", row_values[r])
        ws[f"A{y}"].style = LABEL_STYLE
        for c in range(len(col_values)):
            _generect(
                ws,
                f"{get_column_letter(2 + c)}{y}",
                f"=GENERECT_COUNT({block_refs[(r, c)]})",
                COUNT_FORMAT,
            )
        # 0: the counts are "Not fetched yet" text until a refresh, and SUM skips text.
        _formula(ws, f"{total_col}{y}", f"=SUM(B{y}:{last_col}{y}){RECALC_ON_OPEN}", 0)
        ws[f"{total_col}{y}"].style = LABEL_STYLE
        ws[f"{total_col}{y}"].number_format = COUNT_FORMAT
    totals = last_row + 1
    _text(ws, f"A{totals}", "Total", "Total")
    for c in range(len(col_values) + 1):
        column = get_column_letter(2 + c)
        _formula(
            ws,
            f"{column}{totals}",
            f"=SUM({column}{header + 1}:{column}{last_row}){RECALC_ON_OPEN}",
            0,
            COUNT_FORMAT,
        )
        ws[f"{column}{totals}"].style = "Total"
        ws[f"{column}{totals}"].number_format = COUNT_FORMAT
    _text(
        ws,
        f"A{totals + 1}",
        "Counts are Generect's estimates. Totals add the cells, so they count a lead twice only "
        f"if it matches two rows or two columns. A total ends in {RECALC_ON_OPEN} so that it is "
        "added up again whenever the workbook opens.",
        HINT_STYLE,
    )

    chart = BarChart()
    chart.type = "col"
    chart.grouping = "clustered"
    chart.title = f"Leads by {row_label.lower()} and {col_label.lower()}"
    chart.y_axis.title = "Leads"
    chart.x_axis.title = row_label
    # openpyxl 3.1 marks axes deleted unless told otherwise; Excel then hides them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    data = Reference(ws, min_col=2, max_col=1 + len(col_values), min_row=header, max_row=last_row)
    categories = Reference(ws, min_col=1, min_row=header + 1, max_row=last_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(categories)
    chart.width = 24
    chart.height = 11
    ws.add_chart(chart, f"A{totals + 3}")

    cells = len(row_values) * len(col_values)
    _read_me(
        wb,
        title="Market sizing",
        summary=[
            f"A grid of {cells} free database counts: how many leads match each {row_label.lower()} "
            f"(down) and {col_label.lower()} (across)"
            + (f", all within {shared}" if shared else "")
            + ". Totals per row and column, and a chart."
        ],
        steps=[
            f"On the {GRID_CRITERIA_SHEET} sheet, change the example segments: each block is the "
            "criteria of one grid cell (its caption says which), as a labels row and a values row.",
            "Refresh. Database counts are free, so a refresh of the whole grid costs nothing.",
            f"Read the counts, totals and chart on the {GRID_SHEET} sheet.",
        ],
        notes=[
            "Why one block per cell: a GENERECT_COUNT takes one criteria range, and the refresher "
            "reads typed values, not formulas, so every count gets its own block of literal "
            "values. The grid's row and column headings show the values of the first block "
            "of each row and column.",
            f"Why the totals end in {RECALC_ON_OPEN}: it makes Excel and LibreOffice add them up "
            "again whenever the workbook opens, so they match counts written by generect-excel "
            "refresh outside Excel. It never runs a Generect formula.",
            "A grid of your own segments, built in one go: generect-excel new market-sizing -o "
            'FILE.xlsx --rows "Company size=11-50;51-200;201-500" --columns '
            '"Location=United States;Germany" --filter "Industry=Software Development".',
        ],
    )
    return wb


# --------------------------------------------------------------------------- account list


ACCOUNTS_SHEET = "Accounts"
RESULTS_SHEET = "Decision makers"
ACCOUNT_MAX_LIMIT = 25  # each company's leads get this many rows, so spills never collide
_ACCOUNT_SECTION = ACCOUNT_MAX_LIMIT + 5  # title + status + header + rows + gap
_ACCOUNTS = (
    ("Stripe", None),
    ("HubSpot", None),
    ("Notion", None),
    (None, "https://www.linkedin.com/company/figma/"),
    (None, "https://www.linkedin.com/company/datadog/"),
)
_DECISION_MAKERS = "c_suite; vp; director"
_ACCOUNT_LIMIT = 5  # the example limit of each card


def _build_account_list() -> Workbook:
    wb = _new_workbook("Account list")
    ws = wb.create_sheet(ACCOUNTS_SHEET)
    out = wb.create_sheet(RESULTS_SHEET)
    _widths(ws, {"A": 24, "B": 44, "C": 24, "D": 24, "E": 16, "F": 15, "G": 14, "H": 24, "I": 30})
    _text(ws, "A1", "Account list — decision makers at your target companies", "Title")
    _text(
        ws,
        "A2",
        "One card per company: a labels row and a values row. Fill the company name OR its "
        "LinkedIn company URL (not both). Each card's leads are on the Decision makers sheet.",
        HINT_STYLE,
    )
    worst_cells: list[str] = []
    first = 4
    for index, (name, url) in enumerate(_ACCOUNTS):
        top = first + 3 * index
        values = top + 1
        for column, text in zip(
            "ABCDEFGH",
            (
                "Company",
                "Company LinkedIn URL",
                "Seniority",
                "Job titles",
                "Matches",
                "Leads to fetch",
                "Worst case",
                "Leads",
            ),
            strict=True,
        ):
            _label(ws, f"{column}{top}", text)
        _input(ws, f"A{values}", name, TEXT_FORMAT)
        _input(ws, f"B{values}", url, TEXT_FORMAT)
        _input(ws, f"C{values}", _DECISION_MAKERS, TEXT_FORMAT)
        _input(ws, f"D{values}", None, TEXT_FORMAT)
        _one_company(ws, values)
        criteria = f"$A${top}:$D${values}"  # same-sheet reference, as Excel writes one
        _generect(ws, f"E{values}", f"=GENERECT_COUNT({criteria})", COUNT_FORMAT)
        _input(ws, f"F{values}", _ACCOUNT_LIMIT)
        _whole_number(ws, f"F{values}", 1, ACCOUNT_MAX_LIMIT, "limit")
        worst = _ACCOUNT_LIMIT * PRICE_DATABASE_ROW
        _formula(ws, f"G{values}", f"=F{values}*{PRICE_DATABASE_ROW}", worst, MONEY_FORMAT)
        worst_cells.append(f"G{values}")
        section = 1 + _ACCOUNT_SECTION * index
        _link(
            ws,
            f"H{values}",
            f"Decision makers, row {section}",
            f"{quote_sheetname(RESULTS_SHEET)}!A{section}",
        )
        _text(ws, f"I{values}", EXAMPLE_MARK, EXAMPLE_STYLE)

        _text(out, f"A{section}", f"Company {index + 1}", "Headline 3")
        _formula(
            out,
            f"B{section}",
            f'=IF(Accounts!$A${values}<>"",Accounts!$A${values},Accounts!$B${values})',
            name or url or 0,  # a reference to an empty cell is 0
        )
        out[f"B{section}"].style = "Headline 3"
        _generect(
            out,
            f"A{section + 1}",
            f"=GENERECT_SEARCH({_ref(ACCOUNTS_SHEET, f'A{top}', f'D{values}')},"
            f"{_ref(ACCOUNTS_SHEET, f'F{values}')})",
        )
    bottom = first + 3 * len(_ACCOUNTS)
    _label(ws, f"F{bottom}", "Worst case, all")
    _formula(
        ws,
        f"G{bottom}",
        f"=SUM({','.join(worst_cells)})",
        len(worst_cells) * _ACCOUNT_LIMIT * PRICE_DATABASE_ROW,
        MONEY_FORMAT,
    )
    _label(ws, f"F{bottom + 1}", "Spent today")
    _generect(ws, f"G{bottom + 1}", '=GENERECT_SPEND("today")', MONEY_FORMAT)
    _text(
        ws,
        f"A{bottom}",
        "Seniority: c_suite, vp, director (several values in one cell, separated by ';'). "
        "Add Job titles to narrow further.",
        HINT_STYLE,
    )
    _widths(out, {"A": 26, "B": 26} | {c: 22 for c in "CDEFGHIJK"})

    _read_me(
        wb,
        title="Account list",
        summary=[
            "Finds the decision makers (C-suite, VP and director by default) at each of your "
            "target companies, with a free count per company and the worst-case cost."
        ],
        steps=[
            f"On the {ACCOUNTS_SHEET} sheet, replace the example companies: in each card's values "
            "row, type the company name in column A or its LinkedIn company URL in column B, "
            "never both (Generect takes one company identifier).",
            "Adjust Seniority (c_suite, vp, director, head, ...) and add Job titles if you like.",
            f"Set Leads to fetch (1 to {ACCOUNT_MAX_LIMIT}) and check the worst case in column G.",
            f"Refresh. Each company's leads spill on the {RESULTS_SHEET} sheet, in its own "
            f"section of {_ACCOUNT_SECTION} rows.",
        ],
        notes=[
            "Why cards: a GENERECT_SEARCH takes one criteria range, so each company has its "
            "own: a labels row and a values row (a horizontal criteria block, A:D).",
            f"Why a separate sheet with fixed sections: a lead table spills down, so each "
            f"company's table gets {_ACCOUNT_SECTION} rows of its own on {RESULTS_SHEET}, room "
            f"for a status line, a header and up to {ACCOUNT_MAX_LIMIT} leads; the limit cells "
            f"accept 1 to {ACCOUNT_MAX_LIMIT} so that tables never run into each other.",
            "Never leave a card with Seniority but no company: that would search every "
            "company, up to the limit, and be charged like any search.",
            "To add a company, copy a card to the rows below the last one and a section on "
            f"{RESULTS_SHEET}, and point the copied formulas at the new card.",
        ],
    )
    return wb


# --------------------------------------------------------------------------- realtime signals


def _build_realtime_signals() -> Workbook:
    wb = _new_workbook("Realtime signals")
    ws = wb.create_sheet("Signals")
    lists = _lists_sheet(wb)
    _widths(ws, {"A": 34, "B": 26, "C": 26, "D": 26, "E": 30, "F": 52})
    for col in "GHIJK":
        ws.column_dimensions[col].width = 26
    _text(ws, "A1", "Realtime signals — leads showing a buying signal now", "Title")
    rows = [
        _Row(
            "Job titles",
            ("Head of Revenue Operations", "RevOps Manager"),
            "Titles as people write them; any of them matches.",
        ),
        _Row("Seniority", ("head", "director", "vp"), "Pick from the list.", "seniorities"),
        _Row("Location", ("United States",), "Countries, states or cities."),
        _Row(
            "Keywords",
            ("revenue operations", "sales ops"),
            "Realtime only: words anywhere in the profile (headline, summary, skills).",
        ),
        _Row(
            "Changed jobs",
            (True,),
            "Realtime only: TRUE to keep people who changed jobs recently.",
            yes_no=True,
        ),
        _Row(
            "Posted on LinkedIn",
            (True,),
            "Realtime only: TRUE to keep people who posted recently.",
            yes_no=True,
        ),
        _Row(
            "Past companies",
            ("Salesforce", "Oracle"),
            "Realtime only: companies they worked at before.",
        ),
        _Row("Industry", ("Software Development",), "Pick from the list.", "company_industries"),
        _Row("Company size", ("201-500", "501-1000"), "Employees.", "company_headcounts"),
    ]
    criteria = _criteria_block(ws, 2, rows, lists)  # Signals!$A$2:$D$11

    _text(ws, "A13", "Step 1: count (realtime)", "Headline 3")
    _label(ws, "A14", "Matches now")
    _generect(ws, "B14", f'=GENERECT_COUNT({criteria},"realtime")', COUNT_FORMAT)
    _label(ws, "C14", "Cost per refresh")
    ws["D14"] = float(PRICE_REALTIME_COUNT)
    ws["D14"].number_format = MONEY_FORMAT
    _text(
        ws,
        "E14",
        f"{_money(PRICE_REALTIME_COUNT)} per realtime count, even when it is 0.",
        HINT_STYLE,
    )

    _text(ws, "A16", "Step 2: the leads (realtime search)", "Headline 3")
    _label(ws, "A17", "Leads to fetch (limit)")
    limit = 10
    _input(ws, "B17", limit)
    _whole_number(ws, "B17", 1, MAX_LIMIT, "limit")
    _label(ws, "C17", "Worst case")
    _formula(ws, "D17", f"=B17*{PRICE_REALTIME_ROW}", limit * PRICE_REALTIME_ROW, MONEY_FORMAT)
    _text(ws, "E17", f"Limit x {_money(PRICE_REALTIME_ROW)} per returned lead.", HINT_STYLE)
    _label(ws, "C18", "Whole refresh")
    whole = PRICE_REALTIME_COUNT + limit * PRICE_REALTIME_ROW
    _formula(ws, "D18", "=D14+D17", whole, MONEY_FORMAT)
    _text(ws, "E18", "Count + search, worst case. A stored answer is never paid again.", HINT_STYLE)
    _label(ws, "A19", "Spent today")
    _generect(ws, "B19", '=GENERECT_SPEND("today")', MONEY_FORMAT)
    _text(
        ws,
        "A21",
        "The leads spill from A22: a status line, a header row, then one row per lead. Realtime "
        "searches take 5 to 60 seconds.",
        HINT_STYLE,
    )
    _generect(ws, "A22", f'=GENERECT_SEARCH({criteria},B17,0,,"realtime")')
    ws.freeze_panes = "A2"

    _read_me(
        wb,
        title="Realtime signals",
        summary=[
            "Finds people showing a signal now, with filters only Generect's realtime search "
            "has: keywords in the profile, a recent job change, a recent LinkedIn post, past "
            "companies. Realtime answers are live and slower (5 to 60 s), and every call costs.",
        ],
        steps=[
            "On the Signals sheet, replace the example values in the criteria block (A2:D11).",
            f"Look at the costs first: the realtime count in B14 costs {_money(PRICE_REALTIME_COUNT)} "
            f"per refresh, the search up to the limit in B17 x {_money(PRICE_REALTIME_ROW)}.",
            "To see the count before paying for leads, run generect-excel refresh BOOK.xlsx "
            "--dry-run first, or start with a small limit.",
            "Refresh. The leads spill from A22.",
        ],
        notes=[
            "Keywords, Changed jobs, Posted on LinkedIn and Past companies exist only in realtime "
            'mode, which is why both formulas pass "realtime". In database mode they are refused '
            "before any call, free.",
        ],
    )
    return wb


# --------------------------------------------------------------------------- public API


_BUILDERS: dict[str, Callable[[], Workbook]] = {
    "lead-list": _build_lead_list,
    "market-sizing": build_market_sizing,
    "account-list": _build_account_list,
    "realtime-signals": _build_realtime_signals,
}


def build_template(name: str) -> Workbook:
    """Build template ``name`` (a key of :data:`TEMPLATES`) as a fresh openpyxl workbook.

    Save it with :func:`write_workbook` (or :func:`write_template`), not ``Workbook.save``
    alone: only they store the GENERECT_* formulas as spilling dynamic-array formulas.

    Example::

        wb = build_template("lead-list")
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise WorkbookError(f'No template "{name}". Templates: {", ".join(TEMPLATES)}.') from None
    return builder()


def write_template(name: str, path: str | os.PathLike[str]) -> Path:
    """Build template ``name`` and save it to ``path`` (replaced atomically); return the path.

    Example::

        write_template("market-sizing", "sizing.xlsx")
    """
    return write_workbook(build_template(name), path)


def write_workbook(wb: Workbook, path: str | os.PathLike[str]) -> Path:
    """Save a template workbook to ``path`` reproducibly, its GENERECT_* cells as spilling formulas.

    Opening the file computes nothing billable: it is saved as current Excel saves a
    calculated workbook (``<calcPr calcId="191029"/>``, no ``fullCalcOnLoad``) with a cached
    value in every formula cell, so Excel shows the saved values instead of recalculating
    (see :data:`CALC_ID`). The same workbook gives the same bytes on every run: fixed
    document dates and zip entry times. The file is written beside ``path`` and moved into
    place, so a failure leaves any earlier file intact.

    Raises ValueError if an ordinary formula has no cached value (built without ``_formula``).
    """
    target = Path(path)
    buffer = io.BytesIO()
    wb.properties.created = BUILD_DATE
    wb.calculation.calcId = CALC_ID
    wb.calculation.fullCalcOnLoad = None  # openpyxl's default True: recalculate all on open
    wb.save(buffer)
    cached = {ws.title: _CACHED.get(ws, {}) for ws in wb.worksheets}
    data = _finish_package(buffer.getvalue(), cached)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file private; a template holds nothing secret.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- package edits

# The calculation engine id that Excel 365 writes into the workbooks it saves (seen in files
# it saved from 2020 on; some builds wrote 191028). Excel recalculates every formula of a
# workbook on open when the saved id is lower than its own engine's (openpyxl writes Excel
# 2007's 124519), and with fullCalcOnLoad; a recalculated GENERECT formula would fetch, and
# buy, its example search. Only a lower id triggers it, so an older Excel (a lower engine id)
# does not either. With this id and no fullCalcOnLoad, Excel shows the cached values and
# recalculates only volatile formulas and what depends on them.
CALC_ID = 191029

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_METADATA_PART = "xl/metadata.xml"
_METADATA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
_METADATA_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata"
# Excel 365's dynamic-array cell metadata: cm="1" on a cell points at this one entry.
_METADATA_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<metadata xmlns="{_MAIN_NS}" '
    'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" copy="1" '
    'pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" '
    'clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    '<ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    '</futureMetadata><cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>'
    "</metadata>"
).encode()


def _set_cached(cell: etree._Element, value: Cached) -> None:
    """Store ``value`` as the formula cell's cached result, typed as Excel types one."""
    if isinstance(value, bool):
        kind, text = "b", "1" if value else "0"
    elif isinstance(value, int | float | Decimal):
        kind, text = None, repr(float(value)) if value % 1 else str(int(value))
    else:
        kind, text = "str", value
    if kind is None:
        cell.attrib.pop("t", None)
    else:
        cell.set("t", kind)
    element = cell.find(f"{{{_MAIN_NS}}}v")
    if element is None:
        element = etree.SubElement(cell, f"{{{_MAIN_NS}}}v")
    element.text = text


def _mark_formulas(
    sheet_xml: bytes, cached: dict[str, tuple[str, Cached]], sheet: str
) -> tuple[bytes, int]:
    """Give every formula cell of ``sheet`` its cached value; give GENERECT_* arrays cm="1".

    A GENERECT_* cell caches :data:`NOT_FETCHED`; an ordinary formula the value registered
    for it in ``cached`` (cell -> (formula, value)). Returns the new XML and the number of
    dynamic-array cells.
    """
    root = etree.fromstring(sheet_xml)
    arrays = 0
    changed = False
    for cell in root.iter(f"{{{_MAIN_NS}}}c"):
        formula = cell.find(f"{{{_MAIN_NS}}}f")
        if formula is None or not formula.text:
            continue
        changed = True
        if not _GENERECT_CALL.match(formula.text):
            coordinate = cell.get("r")
            formula_text, value = cached.get(coordinate, (None, None))
            if formula_text is None or formula_text != f"={formula.text}":
                # Excel shows a template's saved values on open: one missing would show empty.
                raise ValueError(f"no cached value for the formula in {sheet}!{coordinate}")
            _set_cached(cell, value)  # type: ignore[arg-type]
            continue
        if formula.get("t") == "array":
            cell.set("cm", "1")
            arrays += 1
        _set_cached(cell, NOT_FETCHED)
    if not changed:
        return sheet_xml, 0
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), arrays


def _add_metadata_part(content_types: bytes, workbook_rels: bytes) -> tuple[bytes, bytes]:
    types = etree.fromstring(content_types)
    ns = types.nsmap[None]
    override = etree.SubElement(types, f"{{{ns}}}Override")
    override.set("PartName", f"/{_METADATA_PART}")
    override.set("ContentType", _METADATA_TYPE)
    rels = etree.fromstring(workbook_rels)
    rns = rels.nsmap[None]
    taken = {rel.get("Id") for rel in rels}
    number = 1
    while f"rId{number}" in taken:
        number += 1
    rel = etree.SubElement(rels, f"{{{rns}}}Relationship")
    rel.set("Type", _METADATA_REL)
    rel.set("Target", "metadata.xml")
    rel.set("Id", f"rId{number}")
    dump = {"xml_declaration": True, "encoding": "UTF-8", "standalone": True}
    return etree.tostring(types, **dump), etree.tostring(rels, **dump)


def _sheet_parts(workbook_xml: bytes, workbook_rels: bytes) -> dict[str, str]:
    """Sheet name -> its part in the package ("xl/worksheets/sheet2.xml")."""
    targets = {
        rel.get("Id"): rel.get("Target").lstrip("/").removeprefix("xl/")
        for rel in etree.fromstring(workbook_rels)
    }
    rel_id = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    return {
        sheet.get("name"): f"xl/{targets[sheet.get(rel_id)]}"
        for sheet in etree.fromstring(workbook_xml).iter(f"{{{_MAIN_NS}}}sheet")
    }


def _finish_package(package: bytes, cached: dict[str, dict[str, tuple[str, Cached]]]) -> bytes:
    """Cache every formula's value, mark the GENERECT_* cells, fix the dates, rezip.

    ``cached`` is sheet name -> cell -> (formula, value) for the ordinary formulas.
    """
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    marked = 0
    sheets = _sheet_parts(parts["xl/workbook.xml"], parts["xl/_rels/workbook.xml.rels"])
    for sheet, name in sheets.items():
        parts[name], count = _mark_formulas(parts[name], cached.get(sheet, {}), sheet)
        marked += count
    if marked:
        parts["[Content_Types].xml"], parts["xl/_rels/workbook.xml.rels"] = _add_metadata_part(
            parts["[Content_Types].xml"], parts["xl/_rels/workbook.xml.rels"]
        )
        parts[_METADATA_PART] = _METADATA_XML
    # openpyxl stamps "modified" with the time of saving.
    stamp = BUILD_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    parts["docProps/core.xml"] = re.sub(
        rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*",
        rb"\g<1>" + stamp,
        parts["docProps/core.xml"],
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    return out.getvalue()
