"""Patching one worksheet's XML as bytes, row by row: the fast path of
:func:`~generect_excel.formulas.xlsxpatch.patch.patch_workbook`.

A sheet of 3,000 tables holds some 800,000 cells, about 40 MB of XML; as an lxml tree that is
about 600 MB of memory, and editing it cell by cell through Python proxies costs tens of
microseconds a cell. Here the sheet stays bytes:

1. :func:`plan_sheet` scans it once into per-row bit masks (which columns hold a cell, content,
   a value, a formula, a cell that clearing would remove), reads the formula cells that receive
   results, and places the tables on those masks by the rules of the tree path
   (:func:`~generect_excel.formulas.xlsxpatch.patch.patch_sheet`): the same ``#SPILL!``
   blockers in the same order, the same leftovers cleared, the same formula forms.
2. :meth:`SheetPatch.write_to` streams the new XML out (into the new zip member): a row no
   result touches is copied byte for byte, a touched row's cells are rewritten, new rows are
   inserted in order; ``<dimension>`` and a touched row's ``spans`` are computed in step 1.

Time and memory are linear in the sheet's bytes plus the cells written; nothing else of the
sheet is held but its bytes and the masks. XML the scanner does not read (comments, CDATA or
namespace declarations inside ``<sheetData>``, rows or cells without their ``r`` position or out
of order) raises :class:`Unsupported` before anything is decided, and the caller uses the tree
path instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from openpyxl.utils.cell import column_index_from_string, get_column_letter

from ...errors import WorkbookError
from ..parse import EXCEL_MAX_COLUMN, EXCEL_MAX_ROW, parse_area
from . import rows_write
from .package import Bounds
from .sheet import _cell_position, _ErrorValue, area_text
from .sheet_xml import (
    _ATTR,
    SPILL_ERROR,
    Attrs,
    Unsupported,
    _attr_value,
    _attrs_bytes,
    _bits,
    _cells,
    _drop,
    _escape_text,
    _get,
    _Grammar,
    _Layout,
    _layout,
    _low,
    _only_value,
    _removable,
    _row_number,
    _rows,
    _set,
)

__all__ = ["SheetPatch", "Unsupported", "plan_sheet"]

# Per row: the columns holding a cell, content (value or formula), a value (what clearing
# counts), a formula, and a cell that clearing would remove.
EXISTS, CONTENT, VALUED, FORMULA, REMOVABLE = range(5)


@dataclass
class _AnchorCell:
    attrs: Attrs
    content: bytes
    formula: re.Match[bytes] | None


@dataclass
class _Scan:
    masks: dict[int, list[int]]
    anchors: dict[tuple[int, int], _AnchorCell]
    merged: list[Bounds]
    has_dimension: bool


class _Bits(dict[bytes, int]):
    """Column letters -> the column's bit in a row mask (filled as letters are met)."""

    def __missing__(self, letters: bytes) -> int:
        bit = self[letters] = 1 << column_index_from_string(letters.decode())
        return bit


_BITS = _Bits()


def _plain_row(xml: bytes, match: re.Match[bytes], row: int, grammar: _Grammar) -> list[int] | None:
    """A row's masks read at once when every cell in it is plain (``r``, ``t``, a ``<v>``, as
    Excel and this patch write table cells); None when it needs reading cell by cell. This
    runs on every row of the sheet: its work is done by regular expressions over the row."""
    start, end = match.span(3)
    if start < 0:
        return [0, 0, 0, 0, 0]
    content = xml[start:end]
    if grammar.not_plain.search(content):
        return None
    cells = grammar.plain_cell.findall(content)
    if len(cells) != content.count(grammar.cell_open):
        return None  # a cell written otherwise (attribute order, quotes)
    if set(map(itemgetter(1), cells)) - {str(row).encode()}:
        return None  # a cell of another row: the cell by cell reader says so
    bits = list(map(_BITS.__getitem__, map(itemgetter(0), cells)))
    if bits != sorted(bits) or len(set(bits)) != len(bits):
        return None  # out of order or twice: the cell by cell reader says so
    exists = sum(bits)
    empty = sum(map(_BITS.__getitem__, grammar.empty_cell_letters.findall(content)))
    valued = exists & ~empty
    return [exists, valued, valued, 0, exists]


def _scan(xml: bytes, layout: _Layout, anchors: set[tuple[int, int]]) -> _Scan:
    grammar = layout.grammar
    masks: dict[int, list[int]] = {}
    found: dict[tuple[int, int], _AnchorCell] = {}
    anchor_rows = {r for _, r in anchors}
    has_value = grammar.has_value.search
    value_tags = len(grammar.v_open) + len(grammar.v_close)  # an empty <v></v>
    f_open = grammar.f_open
    formula_tag = grammar.formula
    previous_row = 0
    for row_match in _rows(xml, layout):
        r = _row_number(row_match)
        if r <= previous_row:
            raise Unsupported("rows out of order")
        previous_row = r
        if r not in anchor_rows:
            plain = _plain_row(xml, row_match, r, grammar)
            if plain is not None:
                masks[r] = plain
                continue
        exists = content_mask = valued = formulas = removable = 0
        previous_col = 0
        for col, _raw, attrs, content in _cells(xml, row_match, r, grammar):
            if col <= previous_col:
                raise Unsupported("cells out of order")
            previous_col = col
            bit = 1 << col
            exists |= bit
            has_formula = False
            if content:
                has_formula = f_open in content and formula_tag.search(content) is not None
                if has_formula:
                    formulas |= bit
                    content_mask |= bit
                if (
                    len(content) > value_tags
                    if _only_value(content, grammar)
                    else has_value(content) is not None
                ):
                    valued |= bit
                    content_mask |= bit
            if not has_formula and _removable(attrs, content, grammar):
                removable |= bit
            if r in anchor_rows and (col, r) in anchors:
                body = content or b""
                found[(col, r)] = _AnchorCell(
                    [(k, v) for k, v in _ATTR.findall(attrs)], body, formula_tag.search(body)
                )
        masks[r] = [exists, content_mask, valued, formulas, removable]
    tail = xml[layout.data_end :]
    merged = []
    for ref in grammar.merge.findall(tail):
        bounds = parse_area(_attr_value(ref))
        if bounds:
            merged.append(bounds)
    head = xml[: layout.data_start]
    return _Scan(masks, found, merged, grammar.dimension.search(head) is not None)


@dataclass
class _Placement:
    result: Any  # CellResult
    col: int
    row: int
    bounds: Bounds
    blocked: str | None = None


_Segment = rows_write.Segment


@dataclass
class SheetPatch:
    """What :func:`plan_sheet` decided for one sheet; :func:`.rows_write.render` writes the
    new XML."""

    layout: _Layout
    writes: dict[int, list[_Segment]]
    clears: dict[int, int]  # leftovers: row -> columns to empty
    forms: dict[tuple[int, int], tuple[Attrs, bytes | None]]  # formula cells' new attrs and <f>
    final: dict[int, int]  # row -> columns holding a cell after the patch (touched rows)
    touched: set[int]  # rows where a cell is created or removed (their spans change)
    dimension: str | None
    new_rows: list[int]
    new_extents: dict[tuple[int, int], Bounds] = field(default_factory=dict)
    kind_changed: bool = False
    blocked: list[tuple[Any, str, str]] = field(default_factory=list)  # (result, wanted, why)
    # Rows whose one write covers only plain cells (a value, ``r`` and ``t``, as every table
    # this patch wrote): the range is replaced whole, without reading its cells one by one;
    # row -> the columns holding a cell before the patch.
    plain: dict[int, int] = field(default_factory=dict)


def plan_sheet(
    xml: bytes,
    results: Sequence[Any],
    *,
    old_extents: Mapping[tuple[int, int], Bounds],
    blocked_areas: Sequence[Bounds] = (),
    spill: str = "static",
    cm_index: int | None = None,
    report: Any,
) -> SheetPatch:
    """Place ``results`` on one worksheet's XML (the rules of ``patch_sheet``); raise
    :class:`Unsupported` (before touching ``report``) when the XML needs the tree path.
    ``report`` gets the cells written and cleared; the tables blocked are in ``.blocked``."""
    layout = _layout(xml)
    anchors = {_cell_position(result.coordinate) for result in results}
    scan = _scan(xml, layout, anchors)
    masks = scan.masks
    empty = [0, 0, 0, 0, 0]
    areas = _Areas(list(scan.merged) + list(blocked_areas))
    anchor_masks: dict[int, int] = {}
    for col, row in anchors:
        anchor_masks[row] = anchor_masks.get(row, 0) | (1 << col)

    placements: list[_Placement] = []
    released: dict[int, int] = {}
    for result in results:
        col, row = _cell_position(result.coordinate)
        height = max(1, len(result.values))
        width = max(1, max((len(r) for r in result.values), default=1))
        placement = _Placement(result, col, row, (col, row, col + width - 1, row + height - 1))
        placements.append(placement)
        previous = [old_extents[(col, row)]] if (col, row) in old_extents else []
        anchor = scan.anchors.get((col, row))
        if anchor is not None and anchor.formula is not None:
            f_attrs = _ATTR.findall(anchor.formula.group(1))
            if _get(f_attrs, b"t") == "array" and _get(f_attrs, b"ref"):
                ref_bounds = parse_area(_get(f_attrs, b"ref") or "")
                if ref_bounds:
                    previous.append(ref_bounds)
        if result.keep:
            kept = [b for b in previous if b[0] <= col <= b[2] and b[1] <= row <= b[3]]
            placement.bounds = (
                max(kept, key=lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1))
                if kept
                else (col, row, col, row)
            )
            continue
        for c1, r1, c2, r2 in previous:
            if not (c1 <= col <= c2 and r1 <= row <= r2):
                continue  # a record that no longer starts at its formula: ignore it
            span = _bits(c1, c2)
            for r in range(r1, r2 + 1):
                # Another formula inside an old extent is someone's content: never ours.
                free = span & ~masks.get(r, empty)[FORMULA]
                if r == row:
                    free &= ~(1 << col)
                released[r] = released.get(r, 0) | free

    taken: dict[int, int] = {}
    blocked: list[tuple[Any, str, str]] = []
    for placement in placements:
        bounds = placement.bounds
        if placement.result.keep:
            pass  # already in place: nothing to collide with
        elif bounds[2] > EXCEL_MAX_COLUMN or bounds[3] > EXCEL_MAX_ROW:
            placement.blocked = "beyond the edge of the sheet"
        else:
            placement.blocked = _blocker(placement, masks, released, taken, anchor_masks, areas)
        if placement.blocked:
            placement.bounds = (placement.col, placement.row, placement.col, placement.row)
            blocked.append((placement.result, area_text(bounds), placement.blocked))
        c1, r1, c2, r2 = placement.bounds
        span = _bits(c1, c2)
        for r in range(r1, r2 + 1):
            taken[r] = taken.get(r, 0) | span

    clears: dict[int, int] = {}
    for r, mask in released.items():
        row_masks = masks.get(r, empty)
        left = mask & ~taken.get(r, 0) & row_masks[EXISTS]
        if left:
            clears[r] = left
            report.cells_cleared += (left & row_masks[VALUED]).bit_count()

    patch = SheetPatch(layout, {}, clears, {}, {}, set(), None, [])
    patch.blocked = blocked
    nulls: dict[int, int] = {}
    values_at: dict[int, int] = {}
    for placement in placements:
        patch.kind_changed |= _form(scan, layout.grammar, placement, spill, cm_index, patch.forms)
        col, row = placement.col, placement.row
        values = placement.result.values
        if placement.blocked or placement.result.keep:
            if placement.blocked:
                value: Any = _ErrorValue(SPILL_ERROR)
            else:
                value = values[0][0] if values and values[0] else ""
            patch.writes.setdefault(row, []).append((col, col, [value], 0))
            target = values_at if value is not None else nulls
            target[row] = target.get(row, 0) | (1 << col)
            report.cells_written += 1
            if (
                placement.result.keep
                and spill == "static"
                and placement.bounds[:2] != placement.bounds[2:]
            ):
                patch.new_extents[(col, row)] = placement.bounds
            continue
        last_col = placement.bounds[2]
        width = last_col - col + 1
        for dr, row_values in enumerate(values or [[None]]):
            r = row + dr
            patch.writes.setdefault(r, []).append(
                (col, last_col, row_values, col if dr == 0 else 0)
            )
            shown = row_values[:width]
            if shown and None not in shown:  # a full row of values: no cell by cell look
                present = _bits(col, col + len(shown) - 1)
            else:
                present = sum(1 << (col + dc) for dc, v in enumerate(shown) if v is not None)
            if dr == 0:
                present |= 1 << col  # the formula cell always has a cached value
            values_at[r] = values_at.get(r, 0) | present
            nulls[r] = nulls.get(r, 0) | (_bits(col, last_col) & ~present)
            report.cells_written += width
        if spill == "static" and placement.bounds[:2] != placement.bounds[2:]:
            patch.new_extents[(col, row)] = placement.bounds

    # The cells after the patch: the dimension, the spans of rows where cells come or go.
    form_rows = {r for _, r in patch.forms}
    for r in set(patch.writes) | set(clears):
        row_masks = masks.get(r, empty)
        emptied = (clears.get(r, 0) | nulls.get(r, 0)) & ~values_at.get(r, 0)
        removed = emptied & row_masks[REMOVABLE] & row_masks[EXISTS]
        created = values_at.get(r, 0) & ~row_masks[EXISTS]
        patch.final[r] = (row_masks[EXISTS] & ~removed) | created
        if removed or created:
            patch.touched.add(r)
        if created and r not in masks:
            patch.new_rows.append(r)
        segments = patch.writes.get(r)
        if r in masks and segments and len(segments) == 1 and not clears.get(r, 0):
            first, last = segments[0][0], segments[0][1]
            inside = row_masks[EXISTS] & _bits(first, last)
            if not inside & ~row_masks[REMOVABLE] and r not in form_rows:
                patch.plain[r] = row_masks[EXISTS]
    patch.new_rows.sort()
    if scan.has_dimension:
        patch.dimension = _dimension(masks, patch.final)
    return patch


def _dimension(masks: Mapping[int, list[int]], final: Mapping[int, int]) -> str | None:
    low_col = high_col = low_row = high_row = 0
    for r in sorted(set(masks) | set(final)):
        mask = final[r] if r in final else masks[r][EXISTS]
        if not mask:
            continue
        if not low_row:
            low_row, low_col, high_col = r, _low(mask), mask.bit_length() - 1
        low_col = min(low_col, _low(mask))
        high_col = max(high_col, mask.bit_length() - 1)
        high_row = r
    if not low_row:
        return None
    return area_text((low_col, low_row, high_col, high_row))


class _Areas:
    """Merged cells and Excel tables, found by rows: a sheet of many tables and many merged
    cells would otherwise compare every table with every area."""

    BAND = 64  # rows per bucket

    def __init__(self, areas: Sequence[Bounds]) -> None:
        self.areas = list(areas)
        self.buckets: dict[int, list[int]] = {}
        for index, (_, r1, _, r2) in enumerate(self.areas):
            for band in range(r1 // self.BAND, r2 // self.BAND + 1):
                self.buckets.setdefault(band, []).append(index)

    def overlapping(self, bounds: Bounds) -> list[Bounds]:
        """The areas overlapping ``bounds``, in their order (merged cells, then tables)."""
        c1, r1, c2, r2 = bounds
        found: set[int] = set()
        for band in range(r1 // self.BAND, r2 // self.BAND + 1):
            found.update(self.buckets.get(band, ()))
        hits = []
        for index in sorted(found):
            a = self.areas[index]
            if not (a[2] < c1 or c2 < a[0] or a[3] < r1 or r2 < a[1]):
                hits.append(a)
        return hits


def _blocker(
    placement: _Placement,
    masks: Mapping[int, list[int]],
    released: Mapping[int, int],
    taken: Mapping[int, int],
    anchors: Mapping[int, int],
    areas: _Areas,
) -> str | None:
    own = (placement.col, placement.row)
    c1, r1, c2, r2 = placement.bounds
    for area in areas.overlapping(placement.bounds):
        if not (area[:2] == own and area[2:] == own):
            return f"{area_text(area)} is merged or an Excel table"
    span = _bits(c1, c2)
    for r in range(r1, r2 + 1):
        wanted = span & ~(1 << placement.col) if r == placement.row else span
        row_taken = wanted & taken.get(r, 0)
        row_anchors = wanted & anchors.get(r, 0)
        row_masks = masks.get(r)
        row_content = wanted & row_masks[CONTENT] & ~released.get(r, 0) if row_masks else 0
        bad = row_taken | row_anchors | row_content
        if not bad:
            continue
        col = _low(bad)
        bit = 1 << col
        where = f"{get_column_letter(col)}{r}"
        if row_taken & bit:
            return f"{where} is filled by another GENERECT table"
        if row_anchors & bit:
            return f"{where} holds another GENERECT formula"
        return f"{where} is not empty"
    return None


def _form(
    scan: _Scan,
    grammar: _Grammar,
    placement: _Placement,
    spill: str,
    cm_index: int | None,
    forms: dict[tuple[int, int], tuple[Attrs, bytes | None]],
) -> bool:
    """The formula cell's new form (as ``patch._write_formula_cell``); True if it changed
    between array and plain."""
    result = placement.result
    anchor = scan.anchors.get((placement.col, placement.row))
    if anchor is None or anchor.formula is None:
        raise WorkbookError(f"{result.sheet}!{result.coordinate} has no formula to fill.")
    f_attrs: Attrs = list(_ATTR.findall(anchor.formula.group(1)))
    cell_attrs = list(anchor.attrs)
    text: bytes | None = None  # None: keep the formula's text
    was_array = _get(f_attrs, b"t") == "array"
    dynamic = spill == "dynamic" and result.spilling
    changed = False
    if dynamic or (spill == "dynamic" and was_array):
        if _get(f_attrs, b"t") == "shared":
            if _get(f_attrs, b"ref") is not None:
                raise WorkbookError(
                    f"{result.sheet}!{result.coordinate} starts a shared formula "
                    "(filled down or right): re-enter it, or refresh with spill static."
                )
            if not result.formula:
                raise WorkbookError(f"{result.coordinate}: the shared formula's text is unknown.")
            text = _escape_text(result.formula)
        _set(f_attrs, b"t", "array")
        _set(f_attrs, b"ref", area_text(placement.bounds))
        _drop(f_attrs, b"si", b"aca")
        if cm_index is not None and (dynamic or _get(cell_attrs, b"cm") is not None):
            _set(cell_attrs, b"cm", str(cm_index))
        changed = not was_array
    elif was_array:
        # Plain form: LibreOffice shows a plain formula's cached value, never an array's.
        _drop(f_attrs, b"t", b"ref", b"aca")
        _drop(cell_attrs, b"cm")
        changed = True
    else:
        forms[(placement.col, placement.row)] = (cell_attrs, None)
        return False
    body = text if text is not None else (anchor.formula.group(2) or b"")
    tag = grammar.tag(b"f")
    formula = b"<" + tag + _attrs_bytes(f_attrs)
    formula += b">" + body + b"</" + tag + b">" if body else b"/>"
    forms[(placement.col, placement.row)] = (cell_attrs, formula)
    return changed
