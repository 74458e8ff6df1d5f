"""The part of xlwings' API the ribbon actions use, and rectangles of cells.

The protocols (:class:`Book`, :class:`Sheet`, :class:`Range`, :class:`App`) keep xlwings' own
names; :class:`generect_excel.ribbon.LiveBook` offers them on a live workbook, and the tests drive
the actions with a fake of that subset. :class:`Area` is a rectangle of cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import WorkbookError


class Range(Protocol):
    """The part of ``xlwings.Range`` the actions use."""

    formula2: Any
    value: Any

    @property
    def sheet(self) -> Sheet: ...

    @property
    def address(self) -> str:
        """``$A$1`` or ``$A$1:$C$9`` (several areas joined by commas for a selection)."""
        ...

    @property
    def shape(self) -> tuple[int, int]: ...

    def clear_contents(self) -> None:
        """Empty the cells, keeping their formats."""
        ...


class Sheet(Protocol):
    """The part of ``xlwings.Sheet`` the actions use."""

    @property
    def name(self) -> str: ...

    @property
    def used_range(self) -> Range: ...

    def range(self, address: str) -> Range: ...


class App(Protocol):
    """The part of ``xlwings.App`` the actions use."""

    status_bar: Any

    def alert(
        self,
        prompt: str,
        title: str | None = None,
        buttons: str = "ok",
        mode: str | None = None,
        callback: str | None = None,
    ) -> str | None: ...


class Sheets(Protocol):
    """``xlwings.Sheets``: iterable, with the active sheet."""

    def __iter__(self) -> Iterator[Sheet]: ...

    @property
    def active(self) -> Sheet: ...


class Book(Protocol):
    """The part of ``xlwings.Book`` the actions use, plus :meth:`spill_range`,
    :meth:`delete_name` and :meth:`reopen` (see :class:`generect_excel.ribbon.LiveBook`)."""

    @property
    def name(self) -> str: ...

    @property
    def fullname(self) -> str: ...

    @property
    def sheets(self) -> Sheets: ...

    @property
    def selection(self) -> Range | None: ...

    @property
    def app(self) -> App: ...

    @property
    def names(self) -> Iterable[Any]:
        """Defined names: objects with ``name`` (``Criteria`` or ``Sheet1!Criteria``) and
        ``refers_to`` (``=Sheet1!$A$1:$B$5``)."""
        ...

    def save(self) -> None: ...

    def close(self) -> None: ...

    def reopen(self) -> Book:
        """Open the saved file again in the same Excel (after :meth:`close`)."""
        ...

    def spill_range(self, cell: Range) -> Range | None:
        """The cells holding ``cell``'s result: its spill range (or legacy array), the cell
        itself when it does not spill, None when this Excel cannot tell."""
        ...

    def delete_name(self, name: str) -> None:
        """Delete the defined name called ``name`` exactly as :attr:`names` gives it
        (``Leads!_GENERECT_SPILL_1`` for a sheet-level name), hidden ones included."""
        ...


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Area:
    """A rectangle of cells, 1-based and inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def cell(cls, row: int, column: int) -> Area:
        return cls(row, column, row, column)

    @classmethod
    def parse(cls, address: str) -> list[Area]:
        """``"$A$1:$B$5,$D$4"`` (what xlwings' ``Range.address`` gives) -> its areas."""
        from ..formulas.parse import parse_area

        areas = []
        for part in address.split(","):
            bounds = parse_area(part.rpartition("!")[2])
            if bounds is None:
                raise WorkbookError(f"Cannot read the address {address!r}.")
            c1, r1, c2, r2 = bounds
            areas.append(cls(r1, c1, r2, c2))
        return areas

    @property
    def a1(self) -> str:
        """``$A$1`` or ``$A$1:$B$5``."""
        first = f"${_column_letters(self.left)}${self.top}"
        if (self.top, self.left) == (self.bottom, self.right):
            return first
        return f"{first}:${_column_letters(self.right)}${self.bottom}"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.bottom - self.top + 1, self.right - self.left + 1)

    def contains(self, row: int, column: int) -> bool:
        return self.top <= row <= self.bottom and self.left <= column <= self.right

    def intersects(self, other: Area) -> bool:
        return not (
            other.left > self.right
            or other.right < self.left
            or other.top > self.bottom
            or other.bottom < self.top
        )

    def clip(self, other: Area) -> Area | None:
        """The part of this area inside ``other``, or None."""
        if not self.intersects(other):
            return None
        return Area(
            max(self.top, other.top),
            max(self.left, other.left),
            min(self.bottom, other.bottom),
            min(self.right, other.right),
        )


def _where(sheet: str, a1: str) -> str:
    """``Leads!$B$14`` -> ``Leads!B14``; sheet names with spaces are quoted as Excel does."""
    quoted = sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!{a1.replace('$', '')}"


def _grid(raw: Any, shape: tuple[int, int]) -> list[list[Any]]:
    """xlwings' value for a range of ``shape`` (a scalar, a 1-D list for one row or column, or
    rows) as a list of rows."""
    if not isinstance(raw, list | tuple):
        return [[raw]]
    if raw and all(isinstance(row, list | tuple) for row in raw):
        return [list(row) for row in raw]
    items = list(raw)
    return [items] if shape[0] == 1 else [[item] for item in items]


def _read_formulas(rng: Range) -> list[list[str]]:
    try:
        raw = rng.formula2
    except AttributeError:  # an Excel without dynamic arrays
        raw = rng.formula  # type: ignore[attr-defined]
    return [["" if cell is None else str(cell) for cell in row] for row in _grid(raw, rng.shape)]


def _write_formula(rng: Range, text: str) -> None:
    # Formula2 keeps a dynamic-array formula spilling; Formula would add an implicit @.
    try:
        rng.formula2 = text
    except AttributeError:
        rng.formula = text  # type: ignore[attr-defined]
