"""Write formula results into an .xlsx file by editing only the worksheet XML they touch.

openpyxl is not used for writing: re-saving through it drops what it does not model (charts'
extra formatting, images, pivot caches, slicers, VBA signatures, metadata) and stamps
``fullCalcOnLoad``. Here the zip is copied member by member, byte for byte, and only these
parts are rewritten (with lxml, which keeps namespaces, prefixes and unknown elements):

- each worksheet that receives a result (its ``<sheetData>`` cells, ``<dimension>``),
- ``xl/workbook.xml``: ``fullCalcOnLoad`` removed from ``<calcPr>`` (it would make Excel
  recalculate on open and, without the add-in, replace every cached result with ``#NAME?``),
  and the hidden spill records (below),
- ``xl/calcChain.xml`` is dropped when a formula changes between array and plain form (it
  flags array formulas; Excel rebuilds the chain), with its content type and relationship,
- for ``spill="dynamic"`` only: ``xl/metadata.xml`` gets Excel's dynamic-array cell metadata.

Limit: Excel recalculates a whole workbook on open when its ``calcId`` is older than its own
engine (openpyxl writes Excel 2007's), and without the add-in a recalculated GENERECT cell
shows ``#NAME?``. ``calcId`` is left alone (other formulas may need that recalculation); a
static table's values survive it, only its formula cell turns ``#NAME?``.

How a result is stored (cell by cell, like Excel stores a formula with its last value):

- The formula cell keeps its formula and gets the first value as its cached ``<v>``.
- A table (GENERECT_SEARCH, GENERECT_VALUES) fills the cells right of and below it with plain
  cached values. ``spill="static"`` (default) keeps the formula a plain formula: every
  spreadsheet shows the values (LibreOffice recalculates *array* formulas on open and would
  show ``#NAME?`` over the whole table), and Excel shows the same values without the add-in.
  The table's extent is recorded in a hidden sheet-level defined name ``_GENERECT_SPILL_<n>``
  (Excel moves it with the cells when rows are inserted), so that the next refresh clears
  leftovers. ``spill="dynamic"`` stores it as Excel 365 stores a spilling formula
  (``<f t="array" ref="A21:K48">`` with ``cm`` pointing at the ``XLDAPR`` metadata): Excel
  with the add-in re-spills it on recalculation; LibreOffice shows ``#NAME?``.
- Text is a ``t="str"`` cached value, never a shared string and never a formula, so lead text
  starting with ``=``, ``+``, ``-`` or ``@`` stays text. Numbers are plain ``<v>``, booleans
  ``t="b"``, dates ISO text, ``None`` an empty cell. A cell's style (``s``) is always kept.
- Leftovers: cells of the formula's previous extent outside the new one are emptied (their
  style kept); nothing else is. A previous extent is the formula's array ``ref`` or its
  ``_GENERECT_SPILL`` record.
- Collision: if the new table would cover a non-empty cell that is not part of the formula's
  previous extent (or another table placed in this refresh, a merged cell, an Excel table, or
  the sheet's edge), nothing is spilled and the formula cell gets Excel's ``#SPILL!`` error;
  the blocking content is left alone.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from lxml import etree
from openpyxl.utils.cell import column_index_from_string as column_index
from openpyxl.utils.cell import coordinate_from_string, get_column_letter

from ..errors import WorkbookError
from .formulas import EXCEL_MAX_COLUMN, EXCEL_MAX_ROW, Reference, parse_area, parse_reference

__all__ = [
    "SPILL_NAME_PREFIX",
    "CellResult",
    "Package",
    "PatchReport",
    "SpillBlocked",
    "SpillMode",
    "area_text",
    "patch_workbook",
    "write_atomically",
]

SpillMode = Literal["static", "dynamic"]
Bounds = tuple[int, int, int, int]  # min_col, min_row, max_col, max_row

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
XDA_NS = "http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray"
REL_TYPE_METADATA = REL_NS + "/sheetMetadata"
REL_TYPE_CALC_CHAIN = REL_NS + "/calcChain"
REL_TYPE_TABLE = REL_NS + "/table"
CT_METADATA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
DYNAMIC_ARRAY_EXT = "{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}"

SPILL_NAME_PREFIX = "_GENERECT_SPILL_"
SPILL_ERROR = "#SPILL!"

# Test hook: seconds to pause halfway through writing the temporary file, so a test can kill
# the process mid-write and check that the original survives.
WRITE_PAUSE_ENV = "GENERECT_EXCEL_TEST_WRITE_PAUSE"

_XML_DUMP = {"xml_declaration": True, "encoding": "UTF-8", "standalone": True}


def _q(tag: str, ns: str = MAIN_NS) -> str:
    return f"{{{ns}}}{tag}"


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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CellResult:
    """What to write at one formula cell.

    ``values`` is the result as rows (a scalar is ``[[value]]``); ``spilling`` says the
    function returns a table (GENERECT_SEARCH/VALUES), which decides its form in
    ``spill="dynamic"``; ``formula`` is the formula text without ``=`` (needed only when a
    shared formula must become a standalone one).
    """

    sheet: str
    coordinate: str
    values: list[list[Any]]
    spilling: bool = False
    formula: str | None = None


@dataclass(frozen=True)
class SpillBlocked:
    """A table that was not written: its formula cell shows ``#SPILL!``."""

    sheet: str
    coordinate: str
    wanted: str  # the range it needed, e.g. "A21:K48"
    blocker: str  # what is in the way, e.g. "C30 (not empty)"

    def __str__(self) -> str:
        return f"{_quote_sheet(self.sheet)}!{self.coordinate}: #SPILL! (needs {self.wanted}; {self.blocker})"


@dataclass
class PatchReport:
    """What a patch did: tables blocked, cells written and cleared, parts rewritten."""

    blocked: list[SpillBlocked] = field(default_factory=list)
    cells_written: int = 0
    cells_cleared: int = 0
    parts_changed: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the package


def _resolve_target(base_part: str, target: str) -> str:
    """A relationship target relative to ``base_part`` -> the zip member name."""
    if target.startswith("/"):
        return target.lstrip("/")
    base = PurePosixPath(base_part).parent
    parts: list[str] = []
    for piece in (base / target).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _rels_name(part: str) -> str:
    path = PurePosixPath(part)
    return str(path.parent / "_rels" / (path.name + ".rels"))


class Package:
    """An .xlsx file's zip members, read once, and where its sheets live."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            with zipfile.ZipFile(self.path) as archive:
                self.infos = archive.infolist()
                self.data = {info.filename: archive.read(info.filename) for info in self.infos}
        except (OSError, zipfile.BadZipFile) as exc:
            raise WorkbookError(
                f"Cannot read {self.path.name}: not an .xlsx file ({exc})."
            ) from exc
        self.workbook_part = self._office_document()
        self._sheets: list[tuple[str, str]] | None = None

    def _office_document(self) -> str:
        rels = self.data.get("_rels/.rels")
        if rels is None:
            raise WorkbookError(f"{self.path.name} is not an .xlsx workbook (no _rels/.rels).")
        for rel in etree.fromstring(rels):
            if rel.get("Type", "").endswith("/officeDocument"):
                return _resolve_target("", rel.get("Target", ""))
        raise WorkbookError(f"{self.path.name} is not an .xlsx workbook (no workbook part).")

    def relationships(self, part: str) -> list[etree._Element]:
        """The relationship elements of ``part`` (empty when it has none)."""
        data = self.data.get(_rels_name(part))
        return list(etree.fromstring(data)) if data else []

    def sheets(self) -> list[tuple[str, str]]:
        """[(sheet name, zip member)] in workbook order (chart sheets included)."""
        if self._sheets is None:
            root = etree.fromstring(self.data[self.workbook_part])
            targets = {
                rel.get("Id"): _resolve_target(self.workbook_part, rel.get("Target", ""))
                for rel in self.relationships(self.workbook_part)
            }
            self._sheets = []
            for sheet in root.iter(_q("sheet")):
                rid = sheet.get(_q("id", REL_NS))
                self._sheets.append((sheet.get("name", ""), targets.get(rid, "")))
        return self._sheets

    def sheet_part(self, name: str) -> str:
        """The zip member of worksheet ``name`` (case-insensitive)."""
        for sheet, part in self.sheets():
            if sheet.lower() == name.lower():
                return part
        raise WorkbookError(f"No sheet named '{name}' in {self.path.name}.")

    def table_areas(self, sheet_part: str) -> list[Bounds]:
        """The ranges of the Excel tables (ListObjects) on a sheet."""
        areas = []
        for rel in self.relationships(sheet_part):
            if rel.get("Type") != REL_TYPE_TABLE:
                continue
            data = self.data.get(_resolve_target(sheet_part, rel.get("Target", "")))
            if data is None:
                continue
            bounds = parse_area(etree.fromstring(data).get("ref", ""))
            if bounds:
                areas.append(bounds)
        return areas


# --------------------------------------------------------------------------- one sheet


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
        self.row_numbers = sorted(self.rows)

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
        row = etree.Element(self._t("row"))
        row.set("r", str(r))
        at = bisect.bisect_right(self.row_numbers, r)
        if at < len(self.row_numbers):
            self.rows[self.row_numbers[at]].addprevious(row)
        else:
            self.sheet_data.append(row)
        self.row_numbers.insert(at, r)
        self.rows[r] = row
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
            self.row_numbers.remove(row)

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
        """Update spans and ``<dimension>``, and serialize."""
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


def _cells(bounds: Bounds) -> Iterable[tuple[int, int]]:
    c1, r1, c2, r2 = bounds
    for r in range(r1, r2 + 1):
        for c in range(c1, c2 + 1):
            yield c, r


def _inside(col: int, row: int, bounds: Bounds) -> bool:
    c1, r1, c2, r2 = bounds
    return c1 <= col <= c2 and r1 <= row <= r2


def _overlaps(a: Bounds, b: Bounds) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


@dataclass
class _Placement:
    result: CellResult
    col: int
    row: int
    bounds: Bounds
    blocked: str | None = None


def patch_sheet(
    xml: bytes,
    results: Sequence[CellResult],
    *,
    old_extents: Mapping[tuple[int, int], Bounds],
    blocked_areas: Sequence[Bounds] = (),
    spill: SpillMode = "static",
    cm_index: int | None = None,
    report: PatchReport | None = None,
) -> tuple[bytes, dict[tuple[int, int], Bounds], bool]:
    """Write ``results`` into one worksheet's XML.

    ``old_extents`` maps a formula cell (col, row) to its recorded table extent (from a
    spill record); array ``ref`` extents are read here. Returns (new XML, the extents of
    static tables now written, keyed by formula cell, whether a formula changed between array
    and plain form).
    """
    report = report if report is not None else PatchReport()
    sheet = SheetEditor(xml)
    merged = list(sheet.merged_areas()) + list(blocked_areas)
    placements: list[_Placement] = []
    released: set[tuple[int, int]] = set()
    anchors = set()
    for result in results:
        col, row = _cell_position(result.coordinate)
        anchors.add((col, row))
        height = max(1, len(result.values))
        width = max(1, max((len(r) for r in result.values), default=1))
        placements.append(
            _Placement(result, col, row, (col, row, col + width - 1, row + height - 1))
        )
        previous = [old_extents[(col, row)]] if (col, row) in old_extents else []
        formula = sheet.formula(col, row)
        if formula is not None and formula.get("t") == "array" and formula.get("ref"):
            ref_bounds = parse_area(formula.get("ref", ""))
            if ref_bounds:
                previous.append(ref_bounds)
        for bounds in previous:
            if not _inside(col, row, bounds):
                continue  # a record that no longer starts at its formula: ignore it
            for c, r in _cells(bounds):
                # Another formula inside an old extent is someone's content: never ours.
                if (c, r) != (col, row) and not sheet.has_formula(c, r):
                    released.add((c, r))

    # Place tables in order; a blocked one becomes #SPILL! (as Excel does, the later loses).
    taken: set[tuple[int, int]] = set()
    for placement in placements:
        bounds = placement.bounds
        if bounds[2] > EXCEL_MAX_COLUMN or bounds[3] > EXCEL_MAX_ROW:
            placement.blocked = "beyond the edge of the sheet"
        else:
            placement.blocked = _blocker(sheet, placement, released, taken, anchors, merged)
        if placement.blocked:
            placement.bounds = (placement.col, placement.row, placement.col, placement.row)
            report.blocked.append(
                SpillBlocked(
                    placement.result.sheet,
                    placement.result.coordinate,
                    area_text(bounds),
                    placement.blocked,
                )
            )
        taken.update(_cells(placement.bounds))

    # Leftovers: released cells no table covers now.
    for c, r in sorted(released - taken, key=lambda cr: (cr[1], cr[0])):
        if sheet.clear(c, r):
            report.cells_cleared += 1

    kind_changed = False
    new_extents: dict[tuple[int, int], Bounds] = {}
    for placement in placements:
        kind_changed |= _write_formula_cell(sheet, placement, spill, cm_index)
        values = placement.result.values
        if placement.blocked:
            sheet.set_value(placement.col, placement.row, _ErrorValue(SPILL_ERROR))
            report.cells_written += 1
            continue
        for dr, row_values in enumerate(values or [[None]]):
            for dc in range(placement.bounds[2] - placement.col + 1):
                value = row_values[dc] if dc < len(row_values) else None
                c, r = placement.col + dc, placement.row + dr
                if (c, r) == (placement.col, placement.row) and value is None:
                    value = ""  # the formula cell always has a cached value
                sheet.set_value(c, r, value)
                report.cells_written += 1
        if spill == "static" and placement.bounds[:2] != placement.bounds[2:]:
            new_extents[(placement.col, placement.row)] = placement.bounds
    return sheet.finish(), new_extents, kind_changed


def _blocker(
    sheet: SheetEditor,
    placement: _Placement,
    released: set[tuple[int, int]],
    taken: set[tuple[int, int]],
    anchors: set[tuple[int, int]],
    areas: Sequence[Bounds],
) -> str | None:
    own = (placement.col, placement.row)
    for area in areas:
        if _overlaps(area, placement.bounds) and not (area[:2] == own and area[2:] == own):
            return f"{area_text(area)} is merged or an Excel table"
    for c, r in _cells(placement.bounds):
        if (c, r) == own:
            continue
        where = f"{get_column_letter(c)}{r}"
        if (c, r) in taken:
            return f"{where} is filled by another GENERECT table"
        if (c, r) in anchors:
            return f"{where} holds another GENERECT formula"
        if (c, r) not in released and sheet.has_content(c, r):
            return f"{where} is not empty"
    return None


def _write_formula_cell(
    sheet: SheetEditor, placement: _Placement, spill: SpillMode, cm_index: int | None
) -> bool:
    """Give the formula cell its form; True if it changed between array and plain."""
    cell = sheet.cell(placement.col, placement.row)
    formula = None if cell is None else cell.find(sheet._t("f"))
    if cell is None or formula is None:
        raise WorkbookError(
            f"{placement.result.sheet}!{placement.result.coordinate} has no formula to fill."
        )
    was_array = formula.get("t") == "array"
    dynamic = spill == "dynamic" and placement.result.spilling
    if dynamic or (spill == "dynamic" and was_array):
        if formula.get("t") == "shared":
            _unshare(formula, placement)
        formula.set("t", "array")
        formula.set("ref", area_text(placement.bounds))
        for attribute in ("si", "aca"):
            formula.attrib.pop(attribute, None)
        if cm_index is not None and (dynamic or "cm" in cell.attrib):
            cell.set("cm", str(cm_index))
        return not was_array
    if was_array:
        # Plain form: LibreOffice shows a plain formula's cached value, never an array's.
        for attribute in ("t", "ref", "aca"):
            formula.attrib.pop(attribute, None)
        cell.attrib.pop("cm", None)
        return True
    return False


def _unshare(formula: etree._Element, placement: _Placement) -> None:
    if formula.get("ref") is not None:
        raise WorkbookError(
            f"{placement.result.sheet}!{placement.result.coordinate} starts a shared formula "
            "(filled down or right): re-enter it, or refresh with spill static."
        )
    text = placement.result.formula
    if not text:
        raise WorkbookError(f"{placement.result.coordinate}: the shared formula's text is unknown.")
    formula.text = text


# --------------------------------------------------------------------------- the workbook


def _spill_records(
    workbook_root: etree._Element, sheets: list[tuple[str, str]]
) -> dict[str, dict[tuple[int, int], Bounds]]:
    """Sheet name -> {formula cell: extent} from the ``_GENERECT_SPILL_*`` names."""
    records: dict[str, dict[tuple[int, int], Bounds]] = {}
    names = workbook_root.find(_q("definedNames"))
    if names is None:
        return records
    for item in names.findall(_q("definedName")):
        if not item.get("name", "").upper().startswith(SPILL_NAME_PREFIX):
            continue
        reference = parse_reference(item.text or "")
        if not isinstance(reference, Reference):
            continue
        local = item.get("localSheetId")
        sheet = reference.sheet
        if sheet is None and local is not None and local.isdigit() and int(local) < len(sheets):
            sheet = sheets[int(local)][0]
        if sheet is None:
            continue
        c1, r1, _, _ = reference.bounds
        records.setdefault(sheet.lower(), {})[(c1, r1)] = reference.bounds
    return records


def _rewrite_spill_records(
    workbook_root: etree._Element,
    sheets: list[tuple[str, str]],
    written: Mapping[str, set[tuple[int, int]]],
    extents: Mapping[str, Mapping[tuple[int, int], Bounds]],
) -> None:
    """Replace the records of the formula cells written; keep every other record."""
    kept = _spill_records(workbook_root, sheets)
    for sheet, cells in written.items():
        for cell in cells:
            kept.get(sheet.lower(), {}).pop(cell, None)
    for sheet, cells in extents.items():
        kept.setdefault(sheet.lower(), {}).update(cells)
    names = workbook_root.find(_q("definedNames"))
    if names is not None:
        for item in names.findall(_q("definedName")):
            if item.get("name", "").upper().startswith(SPILL_NAME_PREFIX):
                names.remove(item)
    if not any(kept.values()):
        if names is not None and not len(names):
            workbook_root.remove(names)
        return
    if names is None:
        names = etree.Element(_q("definedNames"))
        # Schema order: ... sheets, functionGroups, externalReferences, definedNames, calcPr ...
        anchor = None
        for tag in ("externalReferences", "functionGroups", "sheets"):
            anchor = workbook_root.find(_q(tag))
            if anchor is not None:
                break
        if anchor is None:
            raise WorkbookError("The workbook part has no <sheets>.")
        anchor.addnext(names)
    index = {name.lower(): i for i, (name, _) in enumerate(sheets)}
    for sheet_key in sorted(kept, key=lambda k: index.get(k, 0)):
        if sheet_key not in index:
            continue
        title = sheets[index[sheet_key]][0]
        for number, (_cell, bounds) in enumerate(sorted(kept[sheet_key].items()), start=1):
            item = etree.SubElement(names, _q("definedName"))
            item.set("name", f"{SPILL_NAME_PREFIX}{number}")
            item.set("localSheetId", str(index[sheet_key]))
            item.set("hidden", "1")
            c1, r1, c2, r2 = bounds
            item.text = (
                f"{_quote_sheet(title)}!${get_column_letter(c1)}${r1}:${get_column_letter(c2)}${r2}"
            )
    # Excel keeps names sorted; some readers expect it.
    items = sorted(
        names.findall(_q("definedName")),
        key=lambda e: (e.get("name", "").lower(), e.get("localSheetId") or ""),
    )
    for item in items:
        names.remove(item)
        names.append(item)


def _without_full_calc(workbook_root: etree._Element) -> bool:
    calc = workbook_root.find(_q("calcPr"))
    if calc is not None and "fullCalcOnLoad" in calc.attrib:
        del calc.attrib["fullCalcOnLoad"]
        return True
    return False


def _drop_part(package: Package, parts: dict[str, bytes | None], rel_type: str) -> None:
    """Remove the workbook's part of ``rel_type``, its relationship and content type."""
    rels_name = _rels_name(package.workbook_part)
    rels_xml = parts.get(rels_name) or package.data.get(rels_name)
    if not rels_xml:
        return
    rels = etree.fromstring(rels_xml)
    for rel in list(rels):
        if rel.get("Type") != rel_type:
            continue
        target = _resolve_target(package.workbook_part, rel.get("Target", ""))
        rels.remove(rel)
        parts[target] = None
        types = etree.fromstring(
            parts.get("[Content_Types].xml") or package.data["[Content_Types].xml"]
        )
        for override in list(types):
            if override.get("PartName", "").lstrip("/") == target:
                types.remove(override)
        parts["[Content_Types].xml"] = etree.tostring(types, **_XML_DUMP)
    parts[rels_name] = etree.tostring(rels, **_XML_DUMP)


_METADATA_XML = (
    f'<metadata xmlns="{MAIN_NS}" xmlns:xda="{XDA_NS}">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" copy="1" '
    'pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" '
    'clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    f'<ext uri="{DYNAMIC_ARRAY_EXT}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    '</futureMetadata><cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>'
    "</metadata>"
)


def _dynamic_array_cm(package: Package, parts: dict[str, bytes | None]) -> int:
    """The ``cm`` index meaning "dynamic array" in this workbook, adding the metadata if
    needed (as Excel 365 writes it: an XLDAPR type, future metadata with fDynamic=1, and a
    cell-metadata block pointing at it)."""
    rels_name = _rels_name(package.workbook_part)
    rels = etree.fromstring(parts.get(rels_name) or package.data[rels_name])
    part = None
    for rel in rels:
        if rel.get("Type") == REL_TYPE_METADATA:
            part = _resolve_target(package.workbook_part, rel.get("Target", ""))
    if part is None or part not in package.data:
        part = _resolve_target(package.workbook_part, "metadata.xml")
        taken = {rel.get("Id") for rel in rels}
        number = 1
        while f"rId{number}" in taken:
            number += 1
        rel = etree.SubElement(rels, _q("Relationship", PKG_REL_NS))
        rel.set("Id", f"rId{number}")
        rel.set("Type", REL_TYPE_METADATA)
        rel.set("Target", PurePosixPath(part).name)
        parts[rels_name] = etree.tostring(rels, **_XML_DUMP)
        types = etree.fromstring(
            parts.get("[Content_Types].xml") or package.data["[Content_Types].xml"]
        )
        override = etree.SubElement(types, _q("Override", CT_NS))
        override.set("PartName", "/" + part)
        override.set("ContentType", CT_METADATA)
        parts["[Content_Types].xml"] = etree.tostring(types, **_XML_DUMP)
        parts[part] = etree.tostring(etree.fromstring(_METADATA_XML), **_XML_DUMP)
        return 1
    root = etree.fromstring(parts.get(part) or package.data[part])
    cm = _find_or_add_xldapr(root)
    parts[part] = etree.tostring(root, **_XML_DUMP)
    return cm


def _find_or_add_xldapr(root: etree._Element) -> int:
    types = root.find(_q("metadataTypes"))
    if types is None:
        types = etree.Element(_q("metadataTypes"))
        root.insert(0, types)
    type_index = None
    for i, item in enumerate(types.findall(_q("metadataType")), start=1):
        if item.get("name") == "XLDAPR":
            type_index = i
    if type_index is None:
        template = etree.fromstring(_METADATA_XML).find(_q("metadataTypes"))[0]
        types.append(template)
        type_index = len(types.findall(_q("metadataType")))
        types.set("count", str(type_index))
    future = None
    for item in root.findall(_q("futureMetadata")):
        if item.get("name") == "XLDAPR":
            future = item
    if future is None:
        future = etree.fromstring(_METADATA_XML).find(_q("futureMetadata"))
        for bk in future.findall(_q("bk")):
            future.remove(bk)
        future.set("count", "0")
        cell_meta_existing = root.find(_q("cellMetadata"))
        if cell_meta_existing is not None:
            cell_meta_existing.addprevious(future)
        else:
            root.append(future)
    future_index = None
    for i, bk in enumerate(future.findall(_q("bk"))):
        props = bk.find(f".//{{{XDA_NS}}}dynamicArrayProperties")
        if (
            props is not None
            and props.get("fDynamic") == "1"
            and props.get("fCollapsed", "0") == "0"
        ):
            future_index = i
            break
    if future_index is None:
        bk = etree.fromstring(_METADATA_XML).find(_q("futureMetadata")).find(_q("bk"))
        future.append(bk)
        future_index = len(future.findall(_q("bk"))) - 1
        future.set("count", str(future_index + 1))
    cell_meta = root.find(_q("cellMetadata"))
    if cell_meta is None:
        cell_meta = etree.SubElement(root, _q("cellMetadata"))
        cell_meta.set("count", "0")
    for i, bk in enumerate(cell_meta.findall(_q("bk")), start=1):
        rcs = bk.findall(_q("rc"))
        if any(rc.get("t") == str(type_index) and rc.get("v") == str(future_index) for rc in rcs):
            return i
    bk = etree.SubElement(cell_meta, _q("bk"))
    rc = etree.SubElement(bk, _q("rc"))
    rc.set("t", str(type_index))
    rc.set("v", str(future_index))
    count = len(cell_meta.findall(_q("bk")))
    cell_meta.set("count", str(count))
    return count


def patch_workbook(
    package: Package,
    results: Sequence[CellResult],
    *,
    spill: SpillMode = "static",
) -> tuple[dict[str, bytes | None], PatchReport]:
    """Compute the changed zip members for ``results``: {member: new bytes, or None to drop}.

    Raises :class:`WorkbookError` when a formula cell cannot be written.
    """
    report = PatchReport()
    parts: dict[str, bytes | None] = {}
    workbook_root = etree.fromstring(package.data[package.workbook_part])
    sheets = package.sheets()
    records = _spill_records(workbook_root, sheets)
    cm_index = None
    if spill == "dynamic" and any(result.spilling for result in results):
        cm_index = _dynamic_array_cm(package, parts)
    by_sheet: dict[str, list[CellResult]] = {}
    for result in results:
        by_sheet.setdefault(result.sheet, []).append(result)
    extents: dict[str, dict[tuple[int, int], Bounds]] = {}
    written: dict[str, set[tuple[int, int]]] = {}
    kind_changed = False
    for sheet, sheet_results in by_sheet.items():
        part = package.sheet_part(sheet)
        ordered = sorted(sheet_results, key=lambda r: _cell_position(r.coordinate)[::-1])
        xml, new_extents, changed = patch_sheet(
            package.data[part],
            ordered,
            old_extents=records.get(sheet.lower(), {}),
            blocked_areas=package.table_areas(part),
            spill=spill,
            cm_index=cm_index,
            report=report,
        )
        parts[part] = xml
        extents[sheet] = new_extents
        written[sheet] = {_cell_position(r.coordinate) for r in sheet_results}
        kind_changed |= changed
    before = etree.tostring(workbook_root)
    _without_full_calc(workbook_root)
    if records or any(extents.values()):
        _rewrite_spill_records(workbook_root, sheets, written, extents)
    if etree.tostring(workbook_root) != before:
        parts[package.workbook_part] = etree.tostring(workbook_root, **_XML_DUMP)
    if kind_changed:
        _drop_part(package, parts, REL_TYPE_CALC_CHAIN)
    report.parts_changed = sorted(parts)
    return parts, report


# --------------------------------------------------------------------------- writing


def _zip_bytes(
    package: Package, parts: Mapping[str, bytes | None], pause: Callable[[], None]
) -> Iterable[tuple[zipfile.ZipInfo, bytes]]:
    names = [info.filename for info in package.infos]
    half = len(names) // 2
    for i, info in enumerate(package.infos):
        if i == half:
            pause()
        if info.filename in parts:
            data = parts[info.filename]
            if data is None:
                continue
        else:
            data = package.data[info.filename]
        yield _copy_info(info), data
    for name, data in parts.items():
        if data is not None and name not in package.data:
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            yield info, data


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    copy.compress_type = info.compress_type
    copy.external_attr = info.external_attr
    copy.create_system = info.create_system
    copy.comment = info.comment
    return copy


def _pause_for_tests() -> None:
    seconds = os.environ.get(WRITE_PAUSE_ENV)
    if seconds:
        with contextlib.suppress(ValueError):
            time.sleep(float(seconds))


def write_atomically(
    package: Package,
    parts: Mapping[str, bytes | None],
    target: Path,
    *,
    expect_unchanged: tuple[int, int] | None = None,
) -> Path:
    """Write the patched package to ``target`` through a temporary file in the same folder,
    moved into place with ``os.replace`` (atomic): a crash leaves the old file whole.

    ``expect_unchanged`` is the (size, mtime_ns) the target had when it was read: if it has
    changed since (saved in Excel meanwhile), nothing is replaced and WorkbookError says so.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                for info, data in _zip_bytes(package, parts, _pause_for_tests):
                    archive.writestr(info, data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, (target if target.exists() else package.path).stat().st_mode & 0o7777)
        if expect_unchanged is not None and target.exists():
            stat = target.stat()
            if (stat.st_size, stat.st_mtime_ns) != expect_unchanged:
                raise WorkbookError(
                    f"{target.name} changed while refreshing (saved elsewhere?): not replaced. "
                    "Refresh again: answers already fetched cost nothing."
                )
        try:
            os.replace(tmp, target)
        except PermissionError as exc:
            raise WorkbookError(
                f"Cannot replace {target.name}: is it open in Excel? Close it and refresh again "
                "(answers already fetched cost nothing), or write elsewhere with -o."
            ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
