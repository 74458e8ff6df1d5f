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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils.cell import column_index_from_string, get_column_letter

from ..._constants import WORKBOOK_WRITE_CHUNK_BYTES
from ...errors import WorkbookError
from ..parse import EXCEL_MAX_COLUMN, EXCEL_MAX_ROW, parse_area
from .package import Bounds
from .sheet import _cell_position, _ErrorValue, _xml_value, area_text

Write = Callable[[bytes], object]

SPILL_ERROR = "#SPILL!"

_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*("[^"]*"|'[^']*')""")
_TYPE_ATTRS = re.compile(rb"""\s(?:t|vm)\s*=\s*(?:"[^"]*"|'[^']*')""")
_ROW_R = re.compile(rb"""(?:^|\s)r\s*=\s*["'](\d+)["']""")
_CELL_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Z]{1,3})(\d+)["']""")
_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>]")
# Characters XML 1.0 cannot hold: lxml refuses them, so do we (same error, nothing written).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SAFE_CELL_ATTRS = {b"r", b"t", b"vm"}
_TAG_END = frozenset(b" \t\r\n/>")  # what may follow a tag's name
_SLASH = ord("/")  # a cell with only these, once cleared, is removed


class Unsupported(Exception):
    """The sheet's XML is outside what the row scanner reads: use the tree path."""


def _bits(c1: int, c2: int) -> int:
    """The mask of columns c1..c2."""
    return ((1 << (c2 - c1 + 1)) - 1) << c1


def _columns(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _low(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


_COLUMN_CACHE: dict[bytes, int] = {}


def _column(letters: bytes) -> int:
    col = _COLUMN_CACHE.get(letters)
    if col is None:
        col = _COLUMN_CACHE[letters] = column_index_from_string(letters.decode())
    return col


def _escape_text(text: str) -> bytes:
    if _NOT_XML.search(text):
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control "
            "characters"
        )
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
        .encode("utf-8")
    )


def _attr_value(raw: bytes) -> str:
    text = raw[1:-1].decode("utf-8")
    return (
        text.replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


Attrs = list[tuple[bytes, bytes]]  # (name, quoted raw value), in document order


def _get(attrs: Attrs, name: bytes) -> str | None:
    for key, raw in attrs:
        if key == name:
            return _attr_value(raw)
    return None


def _set(attrs: Attrs, name: bytes, value: str) -> None:
    raw = b'"' + value.replace("&", "&amp;").replace('"', "&quot;").encode() + b'"'
    for i, (key, _) in enumerate(attrs):
        if key == name:
            attrs[i] = (key, raw)
            return
    attrs.append((name, raw))


def _drop(attrs: Attrs, *names: bytes) -> None:
    attrs[:] = [(key, raw) for key, raw in attrs if key not in names]


def _attrs_bytes(attrs: Attrs) -> bytes:
    return b"".join(b" " + key + b"=" + raw for key, raw in attrs)


class _Grammar:
    """The regular expressions of one sheet, for its namespace prefix of the main namespace."""

    def __init__(self, prefix: bytes) -> None:
        p = re.escape(prefix)
        self.prefix = prefix
        dot = re.DOTALL
        self.row = re.compile(rb"(\s*)<" + p + rb"row\b([^>]*?)(?:/>|>(.*?)</" + p + rb"row>)", dot)
        self.cell_open = b"<" + prefix + b"c"
        self.cell_close = b"</" + prefix + b"c>"
        self.v_open = b"<" + prefix + b"v>"
        self.v_close = b"</" + prefix + b"v>"
        self.formula = re.compile(rb"<" + p + rb"f\b([^>]*?)(?:/>|>(.*?)</" + p + rb"f>)", dot)
        self.value_or_string = re.compile(
            rb"<" + p + rb"v\b[^>]*?(?:/>|>[^<]*</" + p + rb"v>)"
            rb"|<" + p + rb"is\b[^>]*?/>|<" + p + rb"is\b.*?</" + p + rb"is>",
            dot,
        )
        self.has_value = re.compile(rb"<" + p + rb"v\b[^>]*>[^<]|<" + p + rb"is\b")
        self.sheet_data = re.compile(rb"<" + p + rb"sheetData\b[^>]*?(/?)>")
        self.dimension = re.compile(
            rb"(<" + p + rb"dimension\b[^>]*?\bref\s*=\s*)(\"[^\"]*\"|'[^']*')"
        )
        self.merge = re.compile(rb"<" + p + rb"mergeCell\b[^>]*?\bref\s*=\s*(\"[^\"]*\"|'[^']*')")
        self.f_open = b"<" + prefix + b"f"

    def tag(self, name: bytes) -> bytes:
        return self.prefix + name


@dataclass
class _Layout:
    """Where the parts of the sheet's XML are."""

    grammar: _Grammar
    data_start: int  # first byte inside <sheetData> (or of <sheetData/> when empty)
    data_end: int  # first byte after the rows
    self_closing: bool  # <sheetData/>


def _layout(xml: bytes) -> _Layout:
    root = _ROOT.search(xml)
    if root is None:
        raise Unsupported("no <worksheet>")
    prefix = root.group(1) or b""
    start_tag_end = xml.find(b">", root.start())
    declaration = b"xmlns" + (b":" + prefix if prefix else b"") + b"="
    if declaration not in xml[root.start() : start_tag_end]:
        raise Unsupported("the main namespace is not declared on <worksheet>")
    grammar = _Grammar(prefix + b":" if prefix else b"")
    found = grammar.sheet_data.search(xml, start_tag_end)
    if found is None:
        raise Unsupported("no <sheetData>")
    if found.group(1):
        return _Layout(grammar, found.start(), found.start(), True)
    end = xml.find(b"</" + grammar.tag(b"sheetData") + b">", found.end())
    if end < 0:
        raise Unsupported("<sheetData> not closed")
    region = xml[found.end() : end]
    if b"<!" in region or b"<?" in region or b"xmlns" in region:
        raise Unsupported("comments, CDATA or namespace declarations inside <sheetData>")
    return _Layout(grammar, found.end(), end, False)


def _rows(xml: bytes, layout: _Layout) -> Iterator[re.Match[bytes]]:
    """Each ``<row>`` of the sheet, in order; Unsupported if anything else is there."""
    pattern = layout.grammar.row
    pos, end = layout.data_start, layout.data_end
    while pos < end:
        match = pattern.match(xml, pos, end)
        if match is None:
            if xml[pos:end].strip():
                raise Unsupported("unexpected content in <sheetData>")
            return
        yield match
        pos = match.end()


def _row_number(match: re.Match[bytes]) -> int:
    found = _ROW_R.search(match.group(2))
    if found is None:
        raise Unsupported("a row without its r position")
    return int(found.group(1))


# A cell as read from a row: (column, its bytes as in the file, its attributes' bytes, its
# content's bytes or None when it is written ``<c .../>``).
_RawCell = tuple[int, bytes, bytes, bytes | None]


def _cells(xml: bytes, match: re.Match[bytes], row: int, grammar: _Grammar) -> Iterator[_RawCell]:
    """Each cell of a row match, in order. ``bytes.find`` rather than a regular expression:
    this loop runs once per cell of the sheet."""
    pos, end = match.span(3)
    if pos < 0:
        return
    open_tag, close_tag = grammar.cell_open, grammar.cell_close
    skip = len(open_tag)
    find = xml.find
    while pos < end:
        start = find(open_tag, pos, end)
        if start < 0:
            if not xml[pos:end].isspace():
                raise Unsupported("unexpected content in a <row>")
            return
        if start != pos and not xml[pos:start].isspace():
            raise Unsupported("unexpected content in a <row>")
        tag_end = find(b">", start, end)
        if tag_end < 0 or xml[start + skip] not in _TAG_END:
            raise Unsupported("unexpected content in a <row>")
        if xml[tag_end - 1] == _SLASH:
            attrs, content, after = xml[start + skip : tag_end - 1], None, tag_end + 1
        else:
            close = find(close_tag, tag_end, end)
            if close < 0:
                raise Unsupported("a cell not closed")
            attrs, content = xml[start + skip : tag_end], xml[tag_end + 1 : close]
            after = close + len(close_tag)
        position = _CELL_R.search(attrs)
        if position is None or int(position.group(2)) != row:
            raise Unsupported("a cell without its r position")
        yield _column(position.group(1)), xml[pos:after], attrs, content
        pos = after


def _removable(attrs: bytes, content: bytes | None, grammar: _Grammar) -> bool:
    """Would clearing this cell (its value, ``t`` and ``vm``) leave nothing but ``r``?"""
    if attrs.count(b"=") > 1 and any(
        name not in _SAFE_CELL_ATTRS for name, _ in _ATTR.findall(attrs)
    ):
        return False
    return not content or b"<" not in _strip_value(content, grammar)


def _only_value(content: bytes, grammar: _Grammar) -> bool:
    """The content is one ``<v>`` element and nothing else (the common case, checked fast)."""
    return (
        content.startswith(grammar.v_open)
        and content.endswith(grammar.v_close)
        and content.count(b"<") == 2
    )


def _strip_value(content: bytes, grammar: _Grammar) -> bytes:
    """The content without its ``<v>`` and ``<is>`` (what setting or clearing a value keeps)."""
    if _only_value(content, grammar):
        return b""
    return grammar.value_or_string.sub(b"", content)


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


def _scan(xml: bytes, layout: _Layout, anchors: set[tuple[int, int]]) -> _Scan:
    grammar = layout.grammar
    masks: dict[int, list[int]] = {}
    found: dict[tuple[int, int], _AnchorCell] = {}
    anchor_rows = {r for _, r in anchors}
    has_value = grammar.has_value.search
    f_open = grammar.f_open
    formula_tag = grammar.formula
    previous_row = 0
    for row_match in _rows(xml, layout):
        r = _row_number(row_match)
        if r <= previous_row:
            raise Unsupported("rows out of order")
        previous_row = r
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
                if has_value(content):
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


# A write on one row: (first column, last column, values from the first column on, the
# formula cell's column when the formula cell is on this row, else 0).
_Segment = tuple[int, int, Sequence[Any], int]


@dataclass
class SheetPatch:
    """What :func:`plan_sheet` decided for one sheet; :meth:`write_to` writes the new XML."""

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

    def write_to(self, xml: bytes, write: Write) -> None:
        """Write the patched sheet (``xml``: the same bytes :func:`plan_sheet` read)."""
        _render(xml, self, write)


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
            present = 0
            for dc in range(min(width, len(row_values))):
                if row_values[dc] is not None:
                    present |= 1 << (col + dc)
            if dr == 0:
                present |= 1 << col  # the formula cell always has a cached value
            values_at[r] = values_at.get(r, 0) | present
            nulls[r] = nulls.get(r, 0) | (_bits(col, last_col) & ~present)
            report.cells_written += width
        if spill == "static" and placement.bounds[:2] != placement.bounds[2:]:
            patch.new_extents[(col, row)] = placement.bounds

    # The cells after the patch: the dimension, the spans of rows where cells come or go.
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


# --------------------------------------------------------------------------- writing


def _value_xml(value: Any, grammar: _Grammar) -> tuple[str | None, bytes]:
    """(t attribute or None, the <v> element) for a non-None value."""
    kind, text = _xml_value(value)
    v = grammar.tag(b"v")
    return kind, b"<" + v + b">" + _escape_text(text) + b"</" + v + b">"


def _rewrite_cell(
    attrs_raw: bytes,
    content: bytes | None,
    value: Any,
    form: tuple[Attrs, bytes | None] | None,
    grammar: _Grammar,
    *,
    clearing: bool,
) -> bytes | None:
    """A cell with its value set (or emptied: ``clearing``); None when emptying removes it."""
    if form is None and not clearing and (not content or _only_value(content, grammar)):
        # The common case, fast: a plain cell whose value is replaced.
        kind, v = _value_xml(value, grammar)
        typed = b"t=" in attrs_raw or b"vm=" in attrs_raw
        kept = _TYPE_ATTRS.sub(b"", attrs_raw) if typed else attrs_raw
        t = b' t="' + kind.encode() + b'"' if kind is not None else b""
        tag = grammar.tag(b"c")
        return b"<" + tag + kept.rstrip() + t + b">" + v + b"</" + tag + b">"
    attrs: Attrs = list(form[0]) if form is not None else list(_ATTR.findall(attrs_raw))
    body = _strip_value(content, grammar) if content else b""
    if form is not None and form[1] is not None:
        body = grammar.formula.sub(lambda _m: form[1] or b"", body, count=1)
    _drop(attrs, b"vm")
    if clearing:
        _drop(attrs, b"t")
        if b"<" not in body and all(key == b"r" for key, _ in attrs):
            return None
    else:
        kind, v = _value_xml(value, grammar)
        if kind is None:
            _drop(attrs, b"t")
        else:
            _set(attrs, b"t", kind)
        formula = grammar.formula.search(body)
        at = formula.end() if formula is not None else len(body) - len(body.lstrip())
        body = body[:at] + v + body[at:]
    tag = grammar.tag(b"c")
    if body.strip():
        return b"<" + tag + _attrs_bytes(attrs) + b">" + body + b"</" + tag + b">"
    return b"<" + tag + _attrs_bytes(attrs) + b"/>"


def _new_cell(col: int, row: int, value: Any, grammar: _Grammar) -> bytes:
    kind, v = _value_xml(value, grammar)
    ref = f'"{get_column_letter(col)}{row}"'.encode()
    t = b' t="' + kind.encode() + b'"' if kind is not None else b""
    tag = grammar.tag(b"c")
    return b"<" + tag + b" r=" + ref + t + b">" + v + b"</" + tag + b">"


def _row_values(segments: Sequence[_Segment]) -> dict[int, Any]:
    """Column -> value written on this row (a later write wins, as cell by cell)."""
    values: dict[int, Any] = {}
    for first, last, row_values, anchor in segments:
        count = len(row_values)
        for col in range(first, last + 1):
            dc = col - first
            value = row_values[dc] if dc < count else None
            if col == anchor and value is None:
                value = ""  # the formula cell always has a cached value
            values[col] = value
    return values


def _render_row(xml: bytes, match: re.Match[bytes] | None, row: int, patch: SheetPatch) -> bytes:
    grammar = patch.layout.grammar
    values = _row_values(patch.writes.get(row, ()))
    clear = patch.clears.get(row, 0)
    placed: list[tuple[int, bytes]] = []
    seen = set()
    row_attrs: Attrs = []
    if match is not None:
        row_attrs = list(_ATTR.findall(match.group(2)))
        forms = patch.forms
        for col, raw, attrs, content in _cells(xml, match, row, grammar):
            seen.add(col)
            form = forms.get((col, row))
            if col in values or form is not None:
                value = values.get(col)
                new = _rewrite_cell(attrs, content, value, form, grammar, clearing=value is None)
            elif clear >> col & 1:
                new = _rewrite_cell(attrs, content, None, None, grammar, clearing=True)
            else:
                placed.append((col, raw))  # untouched: byte for byte
                continue
            if new is not None:
                placed.append((col, new))
    else:
        row_attrs = [(b"r", f'"{row}"'.encode())]
    added = [
        (c, _new_cell(c, row, v, grammar))
        for c, v in values.items()
        if v is not None and c not in seen
    ]
    if added:
        placed.extend(added)
        placed.sort(key=lambda item: item[0])
    cells = [cell for _, cell in placed]
    final = patch.final.get(row)
    if row in patch.touched and final:
        for key, _ in row_attrs:
            if key == b"spans":
                _set(row_attrs, b"spans", f"{_low(final)}:{final.bit_length() - 1}")
    tag = grammar.tag(b"row")
    lead = match.group(1) if match is not None else b""
    if not cells:
        emptied = match is not None and match.group(3) is not None and row in patch.touched
        if emptied and not final and all(key in (b"r", b"spans") for key, _ in row_attrs):
            return b""  # every cell removed and nothing else on the row: drop it
        return lead + b"<" + tag + _attrs_bytes(row_attrs) + b"/>"
    return lead + b"<" + tag + _attrs_bytes(row_attrs) + b">" + b"".join(cells) + b"</" + tag + b">"


def _render(xml: bytes, patch: SheetPatch, write: Write) -> None:
    layout = patch.layout
    grammar = layout.grammar
    buffer: list[bytes] = []
    size = 0

    def emit(chunk: bytes) -> None:
        nonlocal size
        buffer.append(chunk)
        size += len(chunk)
        if size >= WORKBOOK_WRITE_CHUNK_BYTES:
            write(b"".join(buffer))
            buffer.clear()
            size = 0

    head = xml[: layout.data_start]
    if patch.dimension is not None:
        head = grammar.dimension.sub(
            lambda m: m.group(1) + b'"' + patch.dimension.encode() + b'"',  # type: ignore[union-attr]
            head,
            count=1,
        )
    new_rows = patch.new_rows
    if layout.self_closing:
        tag_end = xml.find(b">", layout.data_start) + 1
        emit(head)
        if new_rows:
            emit(b"<" + grammar.tag(b"sheetData") + b">")
            for r in new_rows:
                emit(_render_row(xml, None, r, patch))
            emit(b"</" + grammar.tag(b"sheetData") + b">")
        else:
            emit(xml[layout.data_start : tag_end])
        emit(xml[tag_end:])
    else:
        emit(head)
        pending = 0
        touched = patch.writes.keys() | patch.clears.keys()
        for match in _rows(xml, layout):
            r = _row_number(match)
            while pending < len(new_rows) and new_rows[pending] < r:
                emit(_render_row(xml, None, new_rows[pending], patch))
                pending += 1
            if r in touched:
                emit(_render_row(xml, match, r, patch))
            else:
                emit(match.group(0))
        for r in new_rows[pending:]:
            emit(_render_row(xml, None, r, patch))
        emit(xml[layout.data_end :])
    if buffer:
        write(b"".join(buffer))
