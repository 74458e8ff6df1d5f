"""Writing a planned sheet patch (:class:`.rows.SheetPatch`) row by row: rows no result
touches copied byte for byte, touched rows' cells rewritten, new rows inserted in order, the
output handed on in chunks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from openpyxl.utils.cell import get_column_letter

from ..._constants import WORKBOOK_WRITE_CHUNK_BYTES
from .sheet import _xml_value
from .sheet_xml import (
    _ATTR,
    _SPECIAL,
    _TYPE_ATTRS,
    Attrs,
    Write,
    _attrs_bytes,
    _cells,
    _drop,
    _escape_text,
    _Grammar,
    _low,
    _only_value,
    _row_number,
    _rows,
    _set,
    _strip_value,
)

if TYPE_CHECKING:
    from .rows import SheetPatch

# A write on one row: (first column, last column, values from the first column on, the
# formula cell's column when the formula cell is on this row, else 0).
Segment = tuple[int, int, Sequence[Any], int]


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
    ref = b'"' + _letters(col) + str(row).encode() + b'"'
    t = b' t="' + kind.encode() + b'"' if kind is not None else b""
    tag = grammar.tag(b"c")
    return b"<" + tag + b" r=" + ref + t + b">" + v + b"</" + tag + b">"


def _row_values(segments: Sequence[Segment]) -> dict[int, Any]:
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


def _plain_range(xml: bytes, match: re.Match[bytes], row: int, patch: SheetPatch) -> bytes | None:
    """The row's content with its one written range replaced whole (see ``SheetPatch.plain``),
    or None when a cell bounding the range is not where ``r="..."`` says (then cell by cell)."""
    grammar = patch.layout.grammar
    ((first, last, row_values, _),) = patch.writes[row]
    exists = patch.plain[row]
    start, end = match.span(3)
    row_text = str(row).encode()

    def position(cells_from: int) -> int | None:
        """Where the first cell at or right of column ``cells_from`` starts (``end``: none)."""
        later = exists >> cells_from << cells_from
        if not later:
            return end
        col = _low(later)
        tag = grammar.cell_open + b' r="' + _letters(col) + row_text + b'"'
        found = xml.find(tag, start, end)
        return found if found >= 0 else None

    begin, after = position(first), position(last + 1)
    if begin is None or after is None:
        return None
    new = []
    # Text, nearly every value of a lead table, is written inline here: this runs per cell.
    text_cell = grammar.cell_open + b' r="'
    text_end = b'" t="str"><' + grammar.tag(b"v") + b">"
    close = b"</" + grammar.tag(b"v") + b">" + grammar.cell_close
    for dc, value in enumerate(row_values[: last - first + 1]):
        if value is None:
            continue
        col = first + dc
        if type(value) is str:
            text = value.encode() if not _SPECIAL.search(value) else _escape_text(value)
            new.append(text_cell + _letters(col) + row_text + text_end + text + close)
        else:
            new.append(_new_cell(col, row, value, grammar))
    return xml[start:begin] + b"".join(new) + xml[after:end]


_LETTERS: dict[int, bytes] = {}


def _letters(col: int) -> bytes:
    letters = _LETTERS.get(col)
    if letters is None:
        letters = _LETTERS[col] = get_column_letter(col).encode()
    return letters


def _render_row(xml: bytes, match: re.Match[bytes] | None, row: int, patch: SheetPatch) -> bytes:
    grammar = patch.layout.grammar
    placed: list[tuple[int, bytes]] = []
    row_attrs: Attrs = []
    if match is not None and row in patch.plain:
        body = _plain_range(xml, match, row, patch)
        if body is not None:
            row_attrs = list(_ATTR.findall(match.group(2)))
            return _row_xml(match, row, row_attrs, [body] if body.strip() else [], patch)
    values = _row_values(patch.writes.get(row, ()))
    clear = patch.clears.get(row, 0)
    seen = set()
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
    return _row_xml(match, row, row_attrs, [cell for _, cell in placed], patch)


def _row_xml(
    match: re.Match[bytes] | None, row: int, row_attrs: Attrs, cells: list[bytes], patch: SheetPatch
) -> bytes:
    """The ``<row>`` element around its new cells: spans updated, dropped when emptied."""
    grammar = patch.layout.grammar
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


def render(xml: bytes, patch: SheetPatch, write: Write) -> None:
    """Write the patched sheet through ``write`` (``xml``: the bytes the patch was planned on)."""
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
