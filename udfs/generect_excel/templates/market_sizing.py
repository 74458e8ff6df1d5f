"""The "market-sizing" template: a grid of free database counts with totals and a chart.

:class:`GridSpec` describes a grid of your own; :func:`build_market_sizing` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from .builder import (
    COUNT_FORMAT,
    EXAMPLE_MARK,
    EXAMPLE_STYLE,
    HINT_STYLE,
    LABEL_STYLE,
    RECALC_ON_OPEN,
    TEXT_FORMAT,
    _formula,
    _generect,
    _input,
    _label,
    _link,
    _new_workbook,
    _ref,
    _text,
    _widths,
    quote_sheetname,
)
from .readme import _read_me


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
    _widths(ws, {"A": 26} | {get_column_letter(2 + c): 20 for c in range(len(col_values) + 1)})
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
    for c in range(len(col_values) + 1):
        # Over right-aligned counts, a left-aligned heading would sit over the wrong column.
        ws[f"{get_column_letter(2 + c)}{header}"].alignment = Alignment(horizontal="right")
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
