"""The template builder's core: named styles, cell writers, references, validations, the
criteria block and the constants every template shares.

A cell written with ``_formula`` records the value it computes in the template as built;
:func:`~generect_excel.templates.writer.write_workbook` saves it as the formula's cached value.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
from openpyxl.utils import absolute_coordinate, get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from ..table import DEFAULT_COLUMNS
from ..vocab import allowed_values
from ..worksheet import SPILLING

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

# The value each ordinary formula computes in the template as built, per sheet and cell:
# (formula as written, value). write_workbook saves it as the formula's cached value.
Cached = str | int | float | Decimal | bool
_CACHED: weakref.WeakKeyDictionary[Worksheet, dict[str, tuple[str, Cached]]] = (
    weakref.WeakKeyDictionary()
)

_BARE_SHEET = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CELL_LIKE = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]+|[RrCc][0-9]*)$")  # "A1", "R", "C1" need quotes
_GENERECT_CALL = re.compile(r"^=?\s*(GENERECT_[A-Z_]+)\s*\(", re.IGNORECASE)


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
    if style == HINT_STYLE:
        # A hint right of a right-aligned number ("25", "$0.50") would touch it.
        cell.alignment = Alignment(indent=1)


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
    """A GENERECT_* formula at ``coord``, as a plain formula: :func:`write_workbook` stores a
    table function (GENERECT_SEARCH) in the form its ``spill`` argument asks for."""
    match = _GENERECT_CALL.match(formula)
    if not match or not formula.startswith("="):
        raise ValueError(f"not a GENERECT_* formula: {formula}")
    cell = ws[coord]
    cell.value = formula
    cell.style = RESULT_STYLE
    if number_format:
        cell.number_format = number_format
    if match.group(1).upper() not in SPILLING:
        # One value in a narrow cell: "Not fetched yet: refresh" (or an error line) shrinks to
        # the cell instead of being cut off by the filled cell to its right.
        cell.alignment = Alignment(shrink_to_fit=True)


# Widths that show a lead table's default columns whole, URLs included: about the longest
# value of each column in the sandbox's 100,000 leads (a width unit is a digit's width, and
# text in Calibri is narrower, so a value of N characters fits in a little less than N).
_LEAD_COLUMN_WIDTHS = {
    "full_name": 24,
    "first_name": 14,
    "last_name": 16,
    "job_title": 40,
    "company": 28,
    "industry": 50,
    "location": 46,
    "linkedin_url": 54,
    "company_linkedin_url": 56,
    "company_website": 44,
    "lead_id": 30,
}
_STATUS_SIDE = Side(style="thin", color="FF7F7F7F")  # the "Calculation" style's border


def _lead_table(ws: Worksheet, coord: str, formula: str) -> None:
    """A GENERECT_SEARCH at ``coord`` and the look of the table it fills.

    The status line (the table's first row) gets one box across the table's default columns,
    not a box around its first cell; the header row below it is bold; each column is made at
    least as wide as its values need (a width a sheet already has for its own cells is kept
    when it is wider). Styles stay when a refresh writes values, so a refreshed table looks so.
    """
    _generect(ws, coord, formula)
    row, column = coordinate_to_tuple(coord)
    last = column + len(DEFAULT_COLUMNS) - 1
    for offset, name in enumerate(DEFAULT_COLUMNS):
        status = ws.cell(row=row, column=column + offset)
        if offset:
            status.style = RESULT_STYLE
        status.border = Border(
            left=_STATUS_SIDE if offset == 0 else None,
            right=_STATUS_SIDE if column + offset == last else None,
            top=_STATUS_SIDE,
            bottom=_STATUS_SIDE,
        )
        ws.cell(row=row + 1, column=column + offset).style = LABEL_STYLE
        dimension = ws.column_dimensions[get_column_letter(column + offset)]
        dimension.width = max(dimension.width or 0, _LEAD_COLUMN_WIDTHS.get(name, 20))


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


def _new_workbook(title: str) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    _styles(wb)
    wb.properties.creator = "Generect for Excel"
    wb.properties.title = f"Generect for Excel — {title}"
    wb.properties.created = BUILD_DATE
    wb.properties.modified = BUILD_DATE
    return wb
