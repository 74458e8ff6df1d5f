"""Read a workbook file the way the worksheet functions would see it (openpyxl, read only).

:func:`read_workbook` streams the file once (lxml's ``iterparse``, one row at a time; the
workbook parts through openpyxl's read-only mode) into a :class:`WorkbookIndex`: per sheet,
every formula's text, the used area, the defined names by lower-case name, and the rows
themselves: a row holding a formula is decoded as it is read, any other row is kept as its
own XML text and decoded when a range first asks for it. Cells are decoded by openpyxl's own
cell reader with ``data_only=True`` (dates by number format, booleans, errors, shared and
inline strings): a criteria cell that is itself a formula, such as ``=B3`` or ``=TODAY()``,
is read as its saved value, exactly what Excel would hand the function. So reading a range
costs the rows of the range, a name one dictionary look-up, and planning a workbook decodes
its formulas and the cells their arguments name, not the tables they spilled; no cell
objects are built and no second copy of a sheet is held. Nothing here writes: the refresher
patches the file's XML itself (see :mod:`.xlsxpatch`).

Arguments become what xlwings would pass: a range -> a list of rows (``[[v]]`` for one cell),
a literal -> its value, an array constant -> its rows, an omitted argument -> ``None``. A
defined name is looked up in the formula's sheet scope first, then the workbook's, and may
hold a range or a constant. Whole columns and rows are clipped to the sheet's used area.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from openpyxl import load_workbook
from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_to_tuple,
    get_column_letter,
    range_boundaries,
)
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.xml.constants import SHEET_MAIN_NS

from ..errors import WorkbookError
from .parse import (
    Arg,
    ArrayConstant,
    Literal,
    Name,
    Omitted,
    Reference,
    Unsupported,
    mentions_generect,
    parse_expression,
)
from .xlsxpatch.package import unreadable_workbook

__all__ = [
    "FormulaCell",
    "SheetIndex",
    "WorkbookIndex",
    "WorkbookReader",
    "read_workbook",
    "resolve_argument",
]

MAX_NAME_DEPTH = 8  # a name referring to a name ...: stop loops


@dataclass(frozen=True)
class FormulaCell:
    """A cell holding a formula that mentions GENERECT: where, its text (with ``=``), its
    array range when stored as an array formula (``ref``, e.g. ``"A21:K48"``), and the value
    the file saved for it (``saved``: what the cell shows now; None when nothing was saved)."""

    sheet: str
    coordinate: str
    row: int
    column: int
    text: str
    array_ref: str | None = None
    saved: Any = None


class _CellParser(WorkSheetParser):
    """openpyxl's own cell reading (``data_only``: saved values; dates by number format,
    booleans, errors, shared and inline strings), plus each cell's formula in the same call
    (shared formulas translated to the cell, as openpyxl does when it reads formulas)."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        text = _plain_inline_string(element)
        if text is not None:  # openpyxl's rich-text model is slow for a plain string
            row, column = coordinate_to_tuple(element.get("r"))
            self.col_counter = column
            style = element.get("s", 0)
            return {
                "row": row,
                "column": column,
                "value": text,
                "data_type": "s",
                "style_id": int(style) if style else 0,
            }
        cell: dict[str, Any] = super().parse_cell(element)
        if element.find(FORMULA_TAG) is not None:
            cell["formula"] = self.parse_formula(element)
        return cell


def _plain_inline_string(element: Any) -> str | None:
    """The text of ``<c r=".." t="inlineStr"><is><t>text</t></is></c>`` (openpyxl writes
    every string so), or None for any other cell (a formula, rich text, no r="...")."""
    if element.get("t") != "inlineStr" or len(element) != 1 or not element.get("r"):
        return None
    string = element[0]
    if string.tag != _INLINE_STRING or len(string) != 1 or string[0].tag != _TEXT:
        return None
    return str(string[0].text or "")


class SheetIndex:
    """One worksheet as read, for look-ups by cell.

    Rows that hold a formula are decoded while streaming (their formulas' text and array
    range are kept in ``formulas``, keyed by (row, column)); every other row is kept as its
    own XML text and decoded the first time a range asks for it, then kept decoded. Planning
    a workbook thus decodes the formulas and the cells their arguments name, not the tables
    they spilled. ``max_row``/``max_column`` are the used area as openpyxl counts it (every
    cell element, merged ranges, hyperlinks; 1 for an empty sheet); ``names`` the
    sheet-scope defined names (lower-case name -> the text they refer to). Reading a row
    decodes it in place: one thread at a time (the plan step reads in order).
    """

    def __init__(self, title: str, parser: _CellParser) -> None:
        self.title = title
        self.formulas: dict[tuple[int, int], tuple[str, str | None]] = {}
        self.max_row = 1
        self.max_column = 1
        self.names: dict[str, str] = {}
        self._parser = parser
        self._raw: dict[int, bytes] = {}
        self._rows: dict[int, dict[int, Any]] = {}
        self._merged: dict[int, list[tuple[int, int, int]]] = {}  # row -> (c1, c2, anchor row)

    def row(self, number: int) -> dict[int, Any]:
        """The saved values of one row, {column: value} (non-empty cells only)."""
        cells = self._rows.get(number)
        if cells is None:
            raw = self._raw.pop(number, None)
            if raw is None:
                return _NO_CELLS
            cells, _ = self._decode(etree.fromstring(raw), number)
            self._rows[number] = cells
        return cells

    def value(self, row: int, column: int) -> Any:
        """The saved value at (row, column), None when empty."""
        return self.row(row).get(column)

    def _decode(self, element: Any, number: int) -> tuple[dict[int, Any], int]:
        """(the row's saved values, its last cell's column); records its formulas."""
        self._parser.row_counter = number - 1  # a row element without r="..." follows it
        _, cells = self._parser.parse_row(element)
        values: dict[int, Any] = {}
        last = 0
        for cell in cells:
            column = cell["column"]
            last = max(last, column)
            if cell["value"] is not None:
                values[column] = cell["value"]
            formula = cell.get("formula")
            if isinstance(formula, ArrayFormula):
                self.formulas[(number, column)] = (formula.text or "=", formula.ref)
            elif isinstance(formula, str):  # a data table's {=TABLE()} is not one
                self.formulas[(number, column)] = (formula, None)
        for c1, c2, anchor in self._merged.get(number, ()):
            self._unmerge(values, number, c1, c2, anchor)
        return values, last

    def _unmerge(self, values: dict[int, Any], number: int, c1: int, c2: int, anchor: int) -> None:
        # A merged range shows its top left cell only: openpyxl empties the others.
        for column in range(c1, c2 + 1):
            if (number, column) != (anchor, c1):
                values.pop(column, None)
                self.formulas.pop((number, column), None)

    def _read(self, source: Any) -> None:
        """Stream the sheet's XML once (see the class docstring)."""
        max_row = max_column = 0
        number = 0
        areas: list[str] = []
        merged: list[str] = []
        formula = False  # the row being read holds a formula (its <f> ends before the row)
        events = etree.iterparse(
            source,
            events=("end",),
            tag=(FORMULA_TAG, _ROW, _MERGE_CELL, _HYPERLINK),
            resolve_entities=False,
        )
        for _, element in events:
            if element.tag == FORMULA_TAG:
                formula = True
            elif element.tag == _ROW:
                number = _row_number(element.get("r"), number)
                if len(element):
                    last = _last_column(element)
                    if last is None or formula:
                        # Formulas (and cells without r="...") are read now, in file order:
                        # a shared formula's later cells are translated from its first.
                        self._rows[number], last = self._decode(element, number)
                    else:
                        self._raw[number] = etree.tostring(element, with_tail=False)
                    max_row = max(max_row, number)
                    max_column = max(max_column, last)
                formula = False
                # Free what is read: the tree keeps only the rows not yet passed.
                element.clear(keep_tail=False)
                parent = element.getparent()
                while element.getprevious() is not None and parent is not None:
                    del parent[0]
            elif element.tag == _MERGE_CELL:
                merged.append(element.get("ref", ""))
            elif element.get("ref"):
                areas.append(element.get("ref", ""))
        for ref in areas + merged:
            c1, r1, c2, r2 = range_boundaries(ref)
            max_row, max_column = max(max_row, r2 or r1), max(max_column, c2 or c1)
        for ref in merged:
            c1, r1, c2, r2 = range_boundaries(ref)
            for number in range(r1, r2 + 1):
                self._merged.setdefault(number, []).append((c1, c2, r1))
                if number in self._rows:
                    self._unmerge(self._rows[number], number, c1, c2, r1)
        self.max_row, self.max_column = max_row or 1, max_column or 1


_NO_CELLS: dict[int, Any] = {}
_ROW = f"{{{SHEET_MAIN_NS}}}row"
_MERGE_CELL = f"{{{SHEET_MAIN_NS}}}mergeCell"
_HYPERLINK = f"{{{SHEET_MAIN_NS}}}hyperlink"
_INLINE_STRING = f"{{{SHEET_MAIN_NS}}}is"
_TEXT = f"{{{SHEET_MAIN_NS}}}t"


def _row_number(text: str | None, previous: int) -> int:
    """A row element's number, as openpyxl reads it (r="7", r="7.0", or the next one)."""
    if text is None:
        return previous + 1
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not value.is_integer():
            raise ValueError(f"{text} is not a valid row number") from None
        return int(value)


def _last_column(row: Any) -> int | None:
    """The column of a row's last cell (cells are stored left to right), None without r."""
    coordinate = row[-1].get("r")
    if not coordinate:
        return None
    return column_index_from_string(coordinate.rstrip("0123456789"))


@dataclass
class WorkbookIndex:
    """A workbook file as read once: its worksheets in order (chart sheets have no cells and
    are left out) and its workbook-scope defined names (lower-case name -> text)."""

    sheets: list[SheetIndex]
    names: dict[str, str]


def _read_sheet(worksheet: Any, workbook: Any) -> SheetIndex:
    parser = _CellParser(
        None,
        worksheet._shared_strings,
        data_only=True,
        epoch=workbook.epoch,
        date_formats=workbook._date_formats,
        timedelta_formats=workbook._timedelta_formats,
    )
    sheet = SheetIndex(worksheet.title, parser)
    with worksheet._get_source() as source:
        sheet._read(source)
    sheet.names = _names(worksheet.defined_names)
    return sheet


def _names(defined: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    for name, definition in defined.items():
        names.setdefault(name.lower(), definition.attr_text or "")
    return names


def read_workbook(path: Path) -> WorkbookIndex:
    """Stream ``path`` once into a :class:`WorkbookIndex`; WorkbookError if unreadable."""
    try:
        with warnings.catch_warnings():
            # Reading only: openpyxl's warnings about parts it would drop on saving do not
            # apply (the refresher never saves through openpyxl).
            warnings.simplefilter("ignore")
            workbook = load_workbook(path, read_only=True, data_only=True, keep_links=True)
            try:
                sheets = [_read_sheet(ws, workbook) for ws in workbook.worksheets]
                names = _names(workbook.defined_names)
            finally:
                workbook.close()
    except FileNotFoundError:
        raise WorkbookError(f"No such workbook: {path}") from None
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) for bad files
        raise unreadable_workbook(path, exc) from exc
    return WorkbookIndex(sheets, names)


Block = Callable[[str, tuple[int, int, int, int]], list[list[Any]]]
NameTarget = Callable[[Name, str], Arg]


def resolve_argument(
    arg: Arg, sheet: str, *, block: Block, name_target: NameTarget, depth: int = 0
) -> Any:
    """The Python value a worksheet function would receive for ``arg`` in ``sheet``.

    The rules are shared by the file reader (:class:`WorkbookReader`) and the ribbon's live
    workbook; each says how to read its cells, ``block(sheet, bounds)`` (a list of rows), and
    what a defined name stands for, ``name_target(name, sheet)`` (an :data:`Arg`). A name is
    resolved in its own sheet's scope. Raises :class:`WorkbookError` for an argument that
    cannot be read (an expression, a name that refers to itself).
    """
    if isinstance(arg, Omitted):
        return None
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, ArrayConstant):
        return [list(row) for row in arg.rows]
    if isinstance(arg, Reference):
        return block(arg.sheet or sheet, arg.bounds)
    if isinstance(arg, Name):
        if depth >= MAX_NAME_DEPTH:
            raise WorkbookError(f"The name {arg.name} refers to itself.")
        target = name_target(arg, sheet)
        return resolve_argument(
            target, arg.sheet or sheet, block=block, name_target=name_target, depth=depth + 1
        )
    if isinstance(arg, Unsupported):
        raise WorkbookError(
            f"Cannot read {arg.text} from the workbook ({arg.reason}): "
            "use a cell, a range, a defined name or a typed value.",
            details="GENERECT arguments are read from the cells, names and literals they "
            "reference; no other Excel formula is computed.",
        )
    raise WorkbookError(f"Cannot read the argument {arg!r}.")  # pragma: no cover


class WorkbookReader:
    """The formulas and saved values of one workbook file, read once (:func:`read_workbook`).

    Example::

        reader = WorkbookReader(Path("leads.xlsx"))
        for cell in reader.formula_cells():
            print(cell.sheet, cell.coordinate, cell.text)
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.index = read_workbook(self.path)
        self._sheets = {sheet.title.lower(): sheet for sheet in self.index.sheets}

    @property
    def sheet_names(self) -> list[str]:
        """The worksheets, in workbook order (chart sheets have no cells and are left out)."""
        return [sheet.title for sheet in self.index.sheets]

    def sheet_title(self, name: str) -> str:
        """The sheet's own spelling for ``name`` (Excel matches sheet names in any case)."""
        return self._sheet(name).title

    def _sheet(self, name: str) -> SheetIndex:
        try:
            return self._sheets[name.lower()]
        except KeyError:
            raise WorkbookError(f"No sheet named '{name}' in {self.path.name}.") from None

    def formula_cells(self) -> Iterator[FormulaCell]:
        """Every cell whose formula mentions GENERECT, sheet by sheet, row by row."""
        for sheet in self.index.sheets:
            for (row, column), (text, ref) in sorted(sheet.formulas.items()):
                if mentions_generect(text):
                    yield FormulaCell(
                        sheet.title,
                        f"{get_column_letter(column)}{row}",
                        row,
                        column,
                        text,
                        ref,
                        sheet.value(row, column),
                    )

    # -- argument values -------------------------------------------------------------------

    def resolve(self, arg: Arg, sheet: str) -> Any:
        """The Python value a worksheet function would receive for ``arg`` in ``sheet``.

        Raises :class:`WorkbookError` for an argument that cannot be read from the file.
        """
        return resolve_argument(arg, sheet, block=self.block, name_target=self._name_target)

    def origin(self, arg: Arg, sheet: str) -> tuple[int, int] | None:
        """The sheet row and column of the top left cell ``arg`` refers to (through defined
        names), or None for a value: criteria problems then name the sheet's own rows."""
        for _ in range(MAX_NAME_DEPTH):
            if isinstance(arg, Reference):
                c1, r1, _c2, _r2 = arg.bounds
                return (r1, c1)
            if not isinstance(arg, Name):
                return None
            name = arg
            try:
                arg = self._name_target(name, sheet)
            except WorkbookError:
                return None
            sheet = name.sheet or sheet
        return None

    def _name_target(self, name: Name, sheet: str) -> Arg:
        key = name.name.lower()
        scope = self._sheet(name.sheet or sheet)
        # The sheet's own names first; Excel also accepts Sheet!Name for a workbook name.
        value = scope.names.get(key)
        if value is None:
            value = self.index.names.get(key)
        if value is None:
            raise WorkbookError(f"No defined name {name.text or name.name} in {self.path.name}.")
        target = parse_expression(value)
        if isinstance(target, Unsupported):
            raise WorkbookError(
                f"Point the name {name.name} at a range or a value: {value} is {target.reason}."
            )
        return target

    def block(self, sheet: str, bounds: tuple[int, int, int, int]) -> list[list[Any]]:
        """The saved values of a range as a list of rows (``None`` for empty cells)."""
        index = self._sheet(sheet)
        c1, r1, c2, r2 = bounds
        # Whole columns/rows: only the used area matters (the rest is empty).
        c2 = min(c2, max(index.max_column, c1))
        r2 = min(r2, max(index.max_row, r1))
        width = c2 - c1 + 1
        rows: list[list[Any]] = []
        for r in range(r1, r2 + 1):
            cells = index.row(r)
            row = [cells.get(c) for c in range(c1, c2 + 1)] if cells else [None] * width
            if index.formulas and None in row:
                self._check_saved(index, r, c1, row)
            rows.append(row)
        return rows

    def _check_saved(self, index: SheetIndex, r: int, c1: int, row: list[Any]) -> None:
        """Raise for an empty cell of ``row`` that holds a formula: its value was never saved."""
        for offset, value in enumerate(row):
            if value is None and (r, c1 + offset) in index.formulas:
                raise WorkbookError(
                    f"{index.title}!{get_column_letter(c1 + offset)}{r} holds a formula with no "
                    "saved value: save the workbook in Excel or LibreOffice, or type the value."
                )
