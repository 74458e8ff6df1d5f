"""A worksheet's XML read as bytes (for :mod:`.rows`): where ``<sheetData>`` and its rows
are, each cell's position, attributes and content, and the small edits of attributes and
values, without building a tree. What this reader does not follow raises
:class:`Unsupported`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from openpyxl.utils.cell import column_index_from_string

Write = Callable[[bytes], object]

SPILL_ERROR = "#SPILL!"

_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*("[^"]*"|'[^']*')""")
_TYPE_ATTRS = re.compile(rb"""\s(?:t|vm)\s*=\s*(?:"[^"]*"|'[^']*')""")
_ROW_R = re.compile(rb"""(?:^|\s)r\s*=\s*["'](\d+)["']""")
_CELL_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Z]{1,3})(\d+)["']""")
_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>]")
# Characters XML 1.0 cannot hold: lxml refuses them, so do we (same error, nothing written).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# A cell with only these attributes, once cleared, is removed.
_ONLY_SAFE_ATTRS = re.compile(rb"""(?:\s+(?:r|t|vm)\s*=\s*(?:"[^"]*"|'[^']*'))*\s*""")
_DIGITS = b"0123456789"
_TAG_END = frozenset(b" \t\r\n/>")  # what may follow a tag's name
_SLASH = ord("/")


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
    if not _SPECIAL.search(text):
        return text.encode("utf-8")  # most lead text: nothing to escape
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
        # Rows of plain cells (see rows._plain_row): nothing but cells with r, t and a <v>.
        self.not_plain = re.compile(
            rb"<(?!" + p + rb"c[\s/>]|/" + p + rb"c>|" + p + rb"v>|/" + p + rb"v>|" + p + rb"v/>)"
            rb"|<" + p + rb"c(?:\s+(?:r|t)\s*=\s*\"[^\"]*\")*\s+(?!(?:r|t)\s*=)[\w:]+\s*="
            rb"|<" + p + rb"c\s[^>]*'"  # single quotes: read cell by cell
        )
        self.empty_cell_letters = re.compile(
            rb"<"
            + p
            + rb'c r="([A-Z]+)\d+"(?:\s+t\s*=\s*"[^"]*")?\s*(?:/>|>(?:<'
            + p
            + rb"v/>|<"
            + p
            + rb"v></"
            + p
            + rb"v>)?</"
            + p
            + rb"c>)"
        )
        self.plain_cell = re.compile(rb"<" + p + rb'c r="([A-Z]{1,3})(\d+)"')

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
    row_text = str(row).encode()
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
        if attrs.startswith(b' r="'):  # as Excel and openpyxl write it: read it fast
            ref = attrs[4 : attrs.find(b'"', 4)]
            letters = ref.rstrip(_DIGITS)
            if ref[len(letters) :] != row_text or not letters.isalpha():
                raise Unsupported("a cell outside its row")
            col = _column(letters)
        else:
            position = _CELL_R.search(attrs)
            if position is None or int(position.group(2)) != row:
                raise Unsupported("a cell without its r position")
            col = _column(position.group(1))
        yield col, xml[pos:after], attrs, content
        pos = after


def _removable(attrs: bytes, content: bytes | None, grammar: _Grammar) -> bool:
    """Would clearing this cell (its value, ``t`` and ``vm``) leave nothing but ``r``?"""
    if attrs.count(b"=") > 1 and not _ONLY_SAFE_ATTRS.fullmatch(attrs):
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
