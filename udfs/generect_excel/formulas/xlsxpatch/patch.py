"""Placing results: each table placed or blocked (``#SPILL!``), leftovers cleared, formula cells
given their form (:func:`patch_sheet`), and the changed parts of a workbook computed
(:func:`patch_workbook`). The rules are in :mod:`generect_excel.formulas.xlsxpatch`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree
from openpyxl.utils.cell import get_column_letter

from ...errors import WorkbookError
from ..parse import EXCEL_MAX_COLUMN, EXCEL_MAX_ROW, parse_area
from . import rows, rows_write
from .package import (
    _XML_DUMP,
    REL_TYPE_CALC_CHAIN,
    Bounds,
    Package,
    Part,
    _drop_part,
)
from .sheet import (
    SheetEditor,
    _cell_position,
    _ErrorValue,
    _quote_sheet,
    area_text,
)
from .sheet_xml import SPILL_ERROR, Write
from .workbook_parts import (
    _dynamic_array_cm,
    _rewrite_spill_records,
    _spill_records,
    _without_full_calc,
)

SpillMode = Literal["static", "dynamic"]


@dataclass(frozen=True)
class CellResult:
    """What to write at one formula cell.

    ``values`` is the result as rows (a scalar is ``[[value]]``); ``spilling`` says the
    function returns a table (GENERECT_SEARCH/VALUES), which decides its form in
    ``spill="dynamic"``; ``formula`` is the formula text without ``=`` (needed only when a
    shared formula must become a standalone one). ``keep``: the table the formula shows now
    stays as it is (a refresh that failed never erases it); only the formula cell gets
    ``values[0][0]`` (its new status line), and its extent stays recorded.
    """

    sheet: str
    coordinate: str
    values: list[list[Any]]
    spilling: bool = False
    formula: str | None = None
    keep: bool = False


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


def _cells(bounds: Bounds) -> Iterable[tuple[int, int]]:
    c1, r1, c2, r2 = bounds
    for r in range(r1, r2 + 1):
        for c in range(c1, c2 + 1):
            yield c, r


def _inside(col: int, row: int, bounds: Bounds) -> bool:
    c1, r1, c2, r2 = bounds
    return c1 <= col <= c2 and r1 <= row <= r2


def _size(bounds: Bounds) -> int:
    return (bounds[2] - bounds[0] + 1) * (bounds[3] - bounds[1] + 1)


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
        placement = _Placement(result, col, row, (col, row, col + width - 1, row + height - 1))
        placements.append(placement)
        previous = [old_extents[(col, row)]] if (col, row) in old_extents else []
        formula = sheet.formula(col, row)
        if formula is not None and formula.get("t") == "array" and formula.get("ref"):
            ref_bounds = parse_area(formula.get("ref", ""))
            if ref_bounds:
                previous.append(ref_bounds)
        if result.keep:
            # The table stays where it is: its area is taken, nothing of it is released.
            kept = [b for b in previous if _inside(col, row, b)]
            placement.bounds = max(kept, key=_size) if kept else (col, row, col, row)
            continue
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
        if placement.result.keep:
            pass  # already in place: nothing to collide with
        elif bounds[2] > EXCEL_MAX_COLUMN or bounds[3] > EXCEL_MAX_ROW:
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
        if placement.result.keep:
            status = values[0][0] if values and values[0] else ""
            sheet.set_value(placement.col, placement.row, status)
            report.cells_written += 1
            if spill == "static" and placement.bounds[:2] != placement.bounds[2:]:
                new_extents[(placement.col, placement.row)] = placement.bounds
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


@dataclass
class _PatchedSheet:
    """A worksheet member patched row by row (:mod:`.rows`): the plan is kept, the sheet's
    bytes are read again from the file when the new zip is written."""

    package: Package
    part: str
    patch: rows.SheetPatch

    def write_to(self, write: Write) -> None:
        rows_write.render(self.package.data[self.part], self.patch, write)


def patch_workbook(
    package: Package,
    results: Sequence[CellResult],
    *,
    spill: SpillMode = "static",
) -> tuple[dict[str, Part], PatchReport]:
    """Compute the changed zip members for ``results``: {member: new bytes, a part written
    when the zip is (a big worksheet), or None to drop}.

    Each worksheet is patched in one pass over its rows (:mod:`.rows`); one whose XML that
    scanner does not read goes through the lxml tree (:func:`patch_sheet`). Raises
    :class:`WorkbookError` when a formula cell cannot be written.
    """
    report = PatchReport()
    parts: dict[str, Part] = {}
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
        xml = package.data[part]
        options: dict[str, Any] = {
            "old_extents": records.get(sheet.lower(), {}),
            "blocked_areas": package.table_areas(part),
            "spill": spill,
            "cm_index": cm_index,
            "report": report,
        }
        try:
            patched = rows.plan_sheet(xml, ordered, **options)
        except rows.Unsupported:
            parts[part], new_extents, changed = patch_sheet(xml, ordered, **options)
        else:
            for result, wanted, blocker in patched.blocked:
                report.blocked.append(
                    SpillBlocked(result.sheet, result.coordinate, wanted, blocker)
                )
            parts[part] = _PatchedSheet(package, part, patched)
            new_extents, changed = patched.new_extents, patched.kind_changed
        del xml  # one big sheet at a time
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
