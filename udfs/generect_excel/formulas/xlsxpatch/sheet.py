"""One worksheet's XML, cell by cell (:class:`SheetEditor`): reading content, writing cached
values, emptying cells, keeping ``<row>`` spans and ``<dimension>`` true."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from openpyxl.utils.cell import column_index_from_string as column_index
from openpyxl.utils.cell import coordinate_from_string, get_column_letter

from ...errors import WorkbookError
from ..parse import parse_area
from .package import (
    _XML_DUMP,
    MAIN_NS,
    Bounds,
)


def area_text(bounds: Bounds) -> str:
    """(1, 21, 11, 48) -> ``"A21:K48"``; a single cell -> ``"A21"``."""
    c1, r1, c2, r2 = bounds
    first = f"{get_column_letter(c1)}{r1}"
    if (c1, r1) == (c2, r2):
        return first
    return f"{first}:{get_column_letter(c2)}{r2}"


def _cell_position(coordinate: str) -> tuple[int, int]:
    """ "B14" -> (column 2, row 14)."""
    letters, row = coordinate_from_string(coordinate.replace("$", ""))
    return column_index(letters), row


def _quote_sheet(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", name
    ):
        return name
    return "'" + name.replace("'", "''") + "'"


_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")


class SheetEditor:
    """The cells of one worksheet XML, addressable by (column, row)."""

    def __init__(self, xml: bytes) -> None:
        self.root = etree.fromstring(xml)
        self.ns = etree.QName(self.root).namespace or MAIN_NS
        sheet_data = self.root.find(self._t("sheetData"))
        if sheet_data is None:
            raise WorkbookError("A worksheet has no <sheetData>.")
        self.sheet_data = sheet_data
        self.rows: dict[int, etree._Element] = {}
        self.cells: dict[tuple[int, int], etree._Element] = {}
        self.row_columns: dict[int, list[int]] = {}  # sorted columns of each row's cells
        self.touched_rows: set[int] = set()
        next_row = 1
        for row in sheet_data.findall(self._t("row")):
            r = int(row.get("r") or next_row)
            row.set("r", str(r))
            self.rows[r] = row
            next_row = r + 1
            next_col = 1
            for cell in row.findall(self._t("c")):
                ref = cell.get("r")
                if ref:
                    col, _ = _cell_position(ref)
                else:  # position implied by order: make it explicit before editing
                    col = next_col
                    cell.set("r", f"{get_column_letter(col)}{r}")
                self.cells[(col, r)] = cell
                self.row_columns.setdefault(r, []).append(col)
                next_col = col + 1
        for columns in self.row_columns.values():
            columns.sort()
        self.rows_added = False  # new rows go last; finish() puts them in order

    def _t(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"

    # -- reading ---------------------------------------------------------------------------

    def cell(self, col: int, row: int) -> etree._Element | None:
        return self.cells.get((col, row))

    def has_content(self, col: int, row: int) -> bool:
        """A value or a formula (a style alone is not content)."""
        cell = self.cells.get((col, row))
        if cell is None:
            return False
        for child in cell:
            if child.tag in (self._t("f"), self._t("is")):
                return True
            if child.tag == self._t("v") and (child.text or "") != "":
                return True
        return False

    def has_formula(self, col: int, row: int) -> bool:
        cell = self.cells.get((col, row))
        return cell is not None and cell.find(self._t("f")) is not None

    def formula(self, col: int, row: int) -> etree._Element | None:
        cell = self.cells.get((col, row))
        return None if cell is None else cell.find(self._t("f"))

    def merged_areas(self) -> list[Bounds]:
        areas = []
        merged = self.root.find(self._t("mergeCells"))
        if merged is not None:
            for item in merged.findall(self._t("mergeCell")):
                bounds = parse_area(item.get("ref", ""))
                if bounds:
                    areas.append(bounds)
        return areas

    # -- writing ---------------------------------------------------------------------------

    def _row(self, r: int) -> etree._Element:
        row = self.rows.get(r)
        if row is not None:
            return row
        row = etree.SubElement(self.sheet_data, self._t("row"))
        row.set("r", str(r))
        self.rows[r] = row
        self.rows_added = True
        return row

    def _new_cell(self, col: int, r: int) -> etree._Element:
        row = self._row(r)
        cell = etree.Element(self._t("c"))
        cell.set("r", f"{get_column_letter(col)}{r}")
        columns = self.row_columns.setdefault(r, [])
        at = bisect.bisect_left(columns, col)
        if at < len(columns):
            self.cells[(columns[at], r)].addprevious(cell)
        else:
            row.append(cell)
        columns.insert(at, col)
        self.cells[(col, r)] = cell
        self.touched_rows.add(r)
        return cell

    def clear(self, col: int, row: int) -> bool:
        """Empty a cell's value (keeping its style and any formula); True if it had one."""
        cell = self.cells.get((col, row))
        if cell is None:
            return False
        had = False
        for child in list(cell):
            if child.tag in (self._t("v"), self._t("is")):
                had = had or bool(child.text) or child.tag == self._t("is")
                cell.remove(child)
        for attribute in ("t", "vm"):
            if attribute in cell.attrib:
                del cell.attrib[attribute]
        self._prune(col, row)
        return had

    def _prune(self, col: int, row: int) -> None:
        cell = self.cells[(col, row)]
        if len(cell) or set(cell.attrib) - {"r"}:
            return
        cell.getparent().remove(cell)
        del self.cells[(col, row)]
        self.row_columns[row].remove(col)
        self.touched_rows.add(row)
        row_el = self.rows[row]
        if not len(row_el) and not set(row_el.attrib) - {"r", "spans"}:
            row_el.getparent().remove(row_el)
            del self.rows[row]

    def set_value(self, col: int, row: int, value: Any) -> None:
        """Store ``value`` as the cell's (cached) value; None empties it."""
        if value is None:
            self.clear(col, row)
            return
        cell = self.cells.get((col, row))
        if cell is None:
            cell = self._new_cell(col, row)
        for child in list(cell):
            if child.tag in (self._t("v"), self._t("is")):
                cell.remove(child)
        if "vm" in cell.attrib:  # rich-value metadata of an old value: no longer true
            del cell.attrib["vm"]
        kind, text = _xml_value(value)
        if kind is None:
            cell.attrib.pop("t", None)
        else:
            cell.set("t", kind)
        v = etree.Element(self._t("v"))
        v.text = text
        formula = cell.find(self._t("f"))
        if formula is not None:
            formula.addnext(v)
        else:
            cell.insert(0, v)

    def finish(self) -> bytes:
        """Put new rows in order, update spans and ``<dimension>``, and serialize."""
        if self.rows_added:
            # One sort for all new rows: inserting each in place is linear per row.
            for r in sorted(self.rows):
                self.sheet_data.append(self.rows[r])
        for r in self.touched_rows:
            row = self.rows.get(r)
            if row is None or "spans" not in row.attrib:
                continue
            cols = self.row_columns.get(r)
            if cols:
                row.set("spans", f"{cols[0]}:{cols[-1]}")
        dimension = self.root.find(self._t("dimension"))
        if dimension is not None and self.cells:
            cols = [c for c, _ in self.cells]
            rows = [r for _, r in self.cells]
            dimension.set("ref", area_text((min(cols), min(rows), max(cols), max(rows))))
        return etree.tostring(self.root, **_XML_DUMP)


def _xml_value(value: Any) -> tuple[str | None, str]:
    """(t attribute or None for a number, text of <v>)."""
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, int):
        return None, str(value)
    if isinstance(value, float):
        return None, repr(value)
    if isinstance(value, Decimal):
        return None, format(value, "f")
    if isinstance(value, _ErrorValue):
        return "e", value.code
    if isinstance(value, datetime | date):
        return "str", value.isoformat()
    return "str", str(value)


@dataclass(frozen=True)
class _ErrorValue:
    code: str
