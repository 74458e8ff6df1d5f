"""Finding the GENERECT formulas of a live workbook (:func:`scan_sheet`), where their results
are (spill ranges, and the static tables recorded by the workbook refresher), and reading their
arguments as a worksheet function would get them.

Formulas are read as Excel 365 shows them (``Formula2``), past the implicit-intersection ``@``
(see :mod:`generect_excel.ribbon_actions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import WorkbookError
from .ribbon_book import Area, Book, Sheet, _grid, _read_formulas, _where
from .worksheet import REFRESHABLE, SPILLING, WORKSHEET_FUNCTIONS

if TYPE_CHECKING:  # the parser imports openpyxl: only when an action runs
    from .workbook.formulas import Arg, Call

# The functions whose ``refresh`` argument the ribbon rewrites (REFRESHABLE) and those whose
# result spills (SPILLING) come from the registry of worksheet functions (worksheet.py).
#: Hidden names in which the workbook refresher records where its static tables are.
SPILL_RECORD_PREFIX = "_GENERECT_SPILL_"


# A GENERECT function name as Formula2 shows it in a legacy formula, with Excel's implicit
# intersection operator: ``@GENERECT_SEARCH(``, ``@_xludf.GENERECT_COUNT(``,
# ``@'generect_excel.xlam'!GENERECT_COUNT(``. Group 1 is the ``@`` (or nothing).
_CALL_NAME = re.compile(
    r"(?<![\w.])(@?)(\s*(?:'(?:[^']|'')*'!|\[\d+\]!)?(?:_xludf\.)?GENERECT_[A-Z_]+\s*\()",
    re.IGNORECASE,
)
_STRING_LITERAL = re.compile(r'"(?:[^"]|"")*"')


def _each_call_name(text: str, replace: Callable[[re.Match[str]], str]) -> str:
    """``text`` with ``replace`` applied to every GENERECT function name outside string
    literals (a lead's text may well contain ``@GENERECT_COUNT(``)."""
    out: list[str] = []
    pos = 0
    for literal in _STRING_LITERAL.finditer(text):
        out.append(_CALL_NAME.sub(replace, text[pos : literal.start()]))
        out.append(literal.group())
        pos = literal.end()
    out.append(_CALL_NAME.sub(replace, text[pos:]))
    return "".join(out)


def _drop_implicit_at(text: str) -> tuple[str, list[bool]]:
    """``=@GENERECT_SEARCH(A1:B2)`` -> (``=GENERECT_SEARCH(A1:B2)``, [True]): the formula
    without the ``@`` before its GENERECT calls (the parser does not read it), and which
    calls had one, in order."""
    marks: list[bool] = []

    def drop(match: re.Match[str]) -> str:
        marks.append(bool(match.group(1)))
        return match.group(2)

    return _each_call_name(text, drop), marks


def _restore_implicit_at(text: str, marks: Sequence[bool]) -> str:
    """Put back the ``@`` :func:`_drop_implicit_at` took (rewriting the refresh argument keeps
    the GENERECT calls and their order)."""
    left = iter(marks)
    return _each_call_name(text, lambda m: ("@" if next(left, False) else "") + m.group(2))


@dataclass(frozen=True)
class FormulaCell:
    """A cell whose formula calls GENERECT_*: where, its text, its calls, its result area
    (``None``: this Excel cannot tell how far it spills)."""

    sheet: str
    row: int
    column: int
    formula: str
    calls: tuple[Call, ...]
    area: Area | None

    @property
    def a1(self) -> str:
        return Area.cell(self.row, self.column).a1

    @property
    def where(self) -> str:
        """``Leads!B14``."""
        return _where(self.sheet, self.a1)

    @property
    def refreshable(self) -> bool:
        return any(call.function in REFRESHABLE for call in self.calls)

    def touches(self, areas: Sequence[Area]) -> bool:
        """Whether the cell or its result lies (partly) in ``areas``."""
        own = self.area or Area.cell(self.row, self.column)
        return any(own.intersects(area) or area.contains(self.row, self.column) for area in areas)


@dataclass(frozen=True)
class _Record:
    """A static table the workbook refresher recorded: its hidden name (as ``Book.names``
    gives it) and its cells (the formula's cell is the top left one)."""

    name: str
    area: Area


def recorded_extents(book: Book) -> dict[tuple[str, int, int], Area]:
    """The result areas the workbook refresher recorded for its static tables: hidden names
    ``_GENERECT_SPILL_<n>`` -> {(sheet lower-cased, row, column) of the formula: its area}.
    Excel does not know those cells belong to the formula (they are plain values)."""
    return {key: record.area for key, record in _static_tables(book).items()}


def _static_tables(book: Book) -> dict[tuple[str, int, int], _Record]:
    """:func:`recorded_extents` with the names recording them."""
    from .workbook.formulas import Reference, parse_expression

    extents: dict[tuple[str, int, int], _Record] = {}
    for item in book.names:
        sheet_part, _, name = str(item.name).rpartition("!")
        if not name.upper().startswith(SPILL_RECORD_PREFIX):
            continue
        target = parse_expression(str(item.refers_to))
        sheet = target.sheet if isinstance(target, Reference) else None
        sheet = sheet or sheet_part.strip("'").replace("''", "'") or None
        if isinstance(target, Reference) and sheet:
            c1, r1, c2, r2 = target.bounds
            extents[(sheet.lower(), r1, c1)] = _Record(str(item.name), Area(r1, c1, r2, c2))
    return extents


def _result_area(
    book: Book, sheet: Sheet, cell: Area, calls: Sequence[Call], recorded: Mapping[Any, Area]
) -> Area | None:
    """Where a formula's result is: what Excel says (its spill range or array), else what the
    refresher recorded, else the cell itself for one-value functions; None if unknown."""
    spill = book.spill_range(sheet.range(cell.a1))
    area = Area.parse(spill.address)[0] if spill is not None else None
    if area is None or area == cell:
        static = recorded.get((sheet.name.lower(), cell.top, cell.left))
        if static is not None:
            return static
    if area is None and not any(call.function in SPILLING for call in calls):
        return cell
    return area


def scan_sheet(
    book: Book,
    sheet: Sheet,
    *,
    results: bool = True,
    recorded: Mapping[tuple[str, int, int], Area] | None = None,
) -> tuple[list[FormulaCell], list[str]]:
    """Every GENERECT formula of ``sheet`` (row by row) and the cells whose formula cannot be
    read. With ``results``, each formula's result area is found (one question to Excel per
    formula, see :func:`_result_area`; ``recorded`` as :func:`recorded_extents` gives it), and
    a cell inside another formula's result is not taken for a formula of its own."""
    from .workbook.formulas import FormulaSyntaxError, mentions_generect, parse_formula

    if results and recorded is None:
        recorded = recorded_extents(book)
    used = sheet.used_range
    origin = Area.parse(used.address)[0]
    found: list[FormulaCell] = []
    unreadable: list[str] = []
    results_of_others: list[Area] = []
    for i, row in enumerate(_read_formulas(used)):
        for j, text in enumerate(row):
            if not (text.startswith("=") and mentions_generect(text)):
                continue
            own = Area.cell(origin.top + i, origin.left + j)
            if any(area.contains(own.top, own.left) for area in results_of_others):
                continue  # a legacy array repeats its formula in every cell
            try:
                parsed = parse_formula(_drop_implicit_at(text)[0])
            except FormulaSyntaxError:
                unreadable.append(_where(sheet.name, own.a1))
                continue
            if not parsed.calls:
                continue
            area: Area | None = own
            if results:
                area = _result_area(book, sheet, own, parsed.calls, recorded or {})
                if area is not None and area != own:
                    results_of_others.append(area)
            found.append(FormulaCell(sheet.name, own.top, own.left, text, parsed.calls, area))
    return found, unreadable


def _sheet_named(book: Book, name: str) -> Sheet:
    for sheet in book.sheets:
        if sheet.name.lower() == name.lower():
            return sheet
    raise WorkbookError(f"No sheet named '{name}' in {book.name}.")


def _block(book: Book, sheet_name: str, bounds: tuple[int, int, int, int]) -> list[list[Any]]:
    sheet = _sheet_named(book, sheet_name)
    c1, r1, c2, r2 = bounds
    area = Area(r1, c1, r2, c2)
    if area.shape[0] > 10_000 or area.shape[1] > 1_000:  # whole columns or rows: the used part
        clipped = area.clip(Area.parse(sheet.used_range.address)[0])
        if clipped is None:
            return [[None]]
        area = clipped
    rng = sheet.range(area.a1)
    return _grid(rng.value, area.shape)


def _resolve(book: Book, sheet: str, arg: Arg) -> Any:
    """The value a worksheet function would get for ``arg`` in the live workbook (the same
    rules as the file refresher's, :func:`~generect_excel.workbook.references.resolve_argument`)."""
    from .workbook.formulas import Name, parse_expression
    from .workbook.references import resolve_argument

    def name_target(name: Name, scope: str) -> Arg:
        # The sheet's own name first; Excel also accepts Sheet!Name for a workbook name.
        defined = {str(n.name).replace("'", "").lower(): n for n in book.names}
        for key in (f"{name.sheet or scope}!{name.name}".lower(), name.name.lower()):
            if key in defined:
                return parse_expression(str(defined[key].refers_to))
        raise WorkbookError(f"No defined name {name.name} in {book.name}.")

    return resolve_argument(
        arg,
        sheet,
        block=lambda at, bounds: _block(book, at, bounds),
        name_target=name_target,
    )


def _request(book: Book, cell: FormulaCell, call: Call) -> tuple[str, Any]:
    """(kind, validated request) of a call that buys (COUNT, SEARCH...), read from the live
    workbook: the function's own check, as the registry of worksheet functions names it."""
    function = WORKSHEET_FUNCTIONS[call.function]
    args = {name: _resolve(book, cell.sheet, call.arg(name)) for name in function.arguments}
    return function.kind, function.check_arguments(args)
