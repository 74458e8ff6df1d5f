"""Read a workbook file the way the worksheet functions would see it (openpyxl, read only).

:class:`WorkbookReader` opens the file twice with openpyxl: once for formulas (to find the
GENERECT_* cells) and once with ``data_only=True`` for the values the file last saved (a
criteria cell that is itself a formula, such as ``=B3`` or ``=TODAY()``, is read as its saved
value, exactly what Excel would hand the function). It never writes: the refresher patches the
file's XML itself (see :mod:`.xlsxpatch`).

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

from openpyxl import load_workbook
from openpyxl.utils.cell import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.worksheet import Worksheet

from ..errors import WorkbookError
from .formulas import (
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

__all__ = ["FormulaCell", "WorkbookReader", "load_books", "resolve_argument"]

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


def load_books(path: Path) -> tuple[Workbook, Workbook]:
    """(formulas workbook, saved-values workbook) of ``path``; WorkbookError if unreadable."""
    try:
        with warnings.catch_warnings():
            # Reading only: openpyxl's warnings about parts it would drop on saving do not
            # apply (the refresher never saves through openpyxl).
            warnings.simplefilter("ignore")
            formulas = load_workbook(path, data_only=False, keep_links=True)
            values = load_workbook(path, data_only=True, keep_links=True)
    except FileNotFoundError:
        raise WorkbookError(f"No such workbook: {path}") from None
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) for bad files
        raise unreadable_workbook(path, exc) from exc
    return formulas, values


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
    """The formulas and saved values of one workbook file.

    Example::

        reader = WorkbookReader(Path("leads.xlsx"))
        for cell in reader.formula_cells():
            print(cell.sheet, cell.coordinate, cell.text)
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.formulas, self.values = load_books(self.path)
        self._sheets = {ws.title.lower(): ws.title for ws in self.formulas.worksheets}

    @property
    def sheet_names(self) -> list[str]:
        """The worksheets, in workbook order (chart sheets have no cells and are left out)."""
        return [ws.title for ws in self.formulas.worksheets]

    def sheet_title(self, name: str) -> str:
        """The sheet's own spelling for ``name`` (Excel matches sheet names in any case)."""
        try:
            return self._sheets[name.lower()]
        except KeyError:
            raise WorkbookError(f"No sheet named '{name}' in {self.path.name}.") from None

    def formula_cells(self) -> Iterator[FormulaCell]:
        """Every cell whose formula mentions GENERECT, sheet by sheet, row by row."""
        for ws in self.formulas.worksheets:
            saved = self.values[ws.title]
            for row in ws.iter_rows():
                for cell in row:
                    value = cell.value
                    ref = None
                    if isinstance(value, ArrayFormula):
                        ref, value = value.ref, value.text
                    if not isinstance(value, str) or not value.startswith("="):
                        continue
                    if mentions_generect(value):
                        yield FormulaCell(
                            ws.title,
                            cell.coordinate,
                            cell.row,
                            cell.column,
                            value,
                            ref,
                            saved.cell(row=cell.row, column=cell.column).value,
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
            try:
                arg, sheet = self._name_target(arg, sheet), arg.sheet or sheet
            except WorkbookError:
                return None
        return None

    def _name_target(self, name: Name, sheet: str) -> Arg:
        key = name.name.lower()
        scope = self.formulas[self.sheet_title(name.sheet or sheet)]
        # The sheet's own names first; Excel also accepts Sheet!Name for a workbook name.
        for names in (scope.defined_names, self.formulas.defined_names):
            for candidate, defined in names.items():
                if candidate.lower() == key:
                    value = defined.attr_text or ""
                    target = parse_expression(value)
                    if isinstance(target, Unsupported):
                        raise WorkbookError(
                            f"Point the name {name.name} at a range or a value: "
                            f"{value} is {target.reason}."
                        )
                    return target
        raise WorkbookError(f"No defined name {name.text or name.name} in {self.path.name}.")

    def block(self, sheet: str, bounds: tuple[int, int, int, int]) -> list[list[Any]]:
        """The saved values of a range as a list of rows (``None`` for empty cells)."""
        title = self.sheet_title(sheet)
        ws_values: Worksheet = self.values[title]
        ws_formulas: Worksheet = self.formulas[title]
        c1, r1, c2, r2 = bounds
        # Whole columns/rows: only the used area matters (the rest is empty).
        c2 = min(c2, max(ws_formulas.max_column, c1))
        r2 = min(r2, max(ws_formulas.max_row, r1))
        rows: list[list[Any]] = []
        for r in range(r1, r2 + 1):
            row: list[Any] = []
            for c in range(c1, c2 + 1):
                value = ws_values.cell(row=r, column=c).value
                if value is None:
                    formula = ws_formulas.cell(row=r, column=c).value
                    if isinstance(formula, ArrayFormula) or (
                        isinstance(formula, str) and formula.startswith("=")
                    ):
                        raise WorkbookError(
                            f"{title}!{get_column_letter(c)}{r} holds a formula with no saved "
                            "value: save the workbook in Excel or LibreOffice, or type the value."
                        )
                row.append(value)
            rows.append(row)
        return rows
