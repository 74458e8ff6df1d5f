"""One criterion's values: cells split into values and typed for their field, each problem
collected with the label it belongs to (the rules: :mod:`generect_excel.criteria`)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from .. import vocab
from .fields import (
    BOOL,
    CONNECTIONS,
    FIELD_KINDS,
    INT,
    INT_LIST,
    LOCATION_LIST,
    PERSONAS,
    TEXT,
    VOCAB_LIST,
    _key,
    field_for_label,
)

_LOCATION_KINDS = frozenset({LOCATION_LIST})
_EXCEL_ERRORS = re.compile(
    r"^#(N/A|VALUE!|REF!|DIV/0!|NUM!|NAME\?|NULL!|SPILL!|CALC!|GETTING_DATA|FIELD!|BLOCKED!)$",
    re.IGNORECASE,
)
_QUOTES = '"\u201c\u201d'
_TRUE = frozenset({"true", "yes", "y", "1", "x", "on", "t", "✓", "✔"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f", "-"})
# Company-name suffixes that follow a comma ("Acme, Inc."): re-joined, never split off.
_COMPANY_SUFFIXES = frozenset(
    {
        "inc",
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "gmbh",
        "plc",
        "sa",
        "ag",
        "bv",
        "nv",
        "lp",
        "llp",
        "srl",
        "spa",
        "oy",
        "ab",
        "as",
        "pty",
        "ptyltd",
        "incorporated",
    }
)


class _Problems:
    """Collects readable problems; raised together at the end."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _show(cell: Any) -> str:
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float) and math.isfinite(cell) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, str):
        return f'"{cell.strip()}"'
    if isinstance(cell, dt.datetime) and cell.time() == dt.time(0):
        return f"the date {cell.date().isoformat()}"  # Excel's dates come as midnight datetimes
    if isinstance(cell, dt.date | dt.time):
        return f"the date {cell.isoformat()}"
    return str(cell)


class _CellError(ValueError):
    """A cell that cannot be a value of its field (message without the label)."""


def _whole(cell: Any) -> int:
    """A whole number from a float/int/text cell ("1.0", "2,400", 50.0)."""
    if isinstance(cell, bool):
        raise _CellError(f"{_show(cell)} is not a number")
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        if math.isfinite(cell) and cell.is_integer():
            return int(cell)
        raise _CellError(f"{_show(cell)} is not a whole number")
    if isinstance(cell, str):
        text = cell.strip()
        if re.fullmatch(r"[+]?\d{1,3}(,\d{3})+", text):  # "2,400": a thousands separator
            text = text.replace(",", "")
        try:
            number = float(text) if re.fullmatch(r"[+-]?\d+(\.\d+)?", text) else None
        except ValueError:  # pragma: no cover - the pattern guarantees a float
            number = None
        if number is None or not number.is_integer():
            raise _CellError(f"{_show(cell)} is not a whole number")
        return int(number)
    raise _CellError(f"{_show(cell)} is not a whole number")


def _boolean(cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and not isinstance(cell, bool) and cell in (0, 1):
        return bool(cell)
    if isinstance(cell, str):
        k = cell.strip().lower()
        if k in _TRUE:
            return True
        if k in _FALSE:
            return False
    raise _CellError(f"{_show(cell)} is not yes or no; use TRUE/FALSE, yes/no or 1/0")


def _headcount_from_date(cell: dt.date) -> str | None:
    """Excel turns "1-10" into a date (10 Jan, or 1 Oct) and "11-50" into Nov 1950."""
    if not isinstance(cell, dt.date):
        return None
    sizes = vocab.get_vocabulary("company_headcounts")
    for guess in (
        f"{cell.month}-{cell.day}",
        f"{cell.day}-{cell.month}",
        f"{cell.month}-{cell.year % 100}",
    ):
        if guess in sizes.values:
            return guess
    return None


def _text_of(cell: Any, field_name: str) -> str:
    """A cell as text, for text and vocabulary fields."""
    if isinstance(cell, str):
        if _EXCEL_ERRORS.match(cell.strip()):
            raise _CellError(f"the cell shows the Excel error {cell.strip()}; fix the cell")
        return cell
    if isinstance(cell, bool):
        raise _CellError(f"{_show(cell)} is not a value here (TRUE/FALSE is for yes/no fields)")
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        if not math.isfinite(cell):
            raise _CellError(f"{cell} is not a value")
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, dt.date | dt.time):
        if field_name.endswith("company_headcounts") and isinstance(cell, dt.date):
            size = _headcount_from_date(cell)
            if size is not None:
                return size
        raise _CellError(
            # Advice first: a cell's short form drops the parenthesis, never the advice.
            f"{_show(cell)} is not a valid value: format the cell as text and type it again "
            "(Excel turned what was typed into a date)"
        )
    raise _CellError(f"{_show(cell)} is not a valid value")


def _split_commas(text: str) -> list[str]:
    """Split on commas outside double quotes (straight or curly, as pasted from a document);
    quotes around a whole piece are removed."""
    pieces, current, quoted = [], [], False
    for ch in text:
        if ch in _QUOTES:
            quoted = not quoted
            current.append(ch)
        elif ch == "," and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    pieces.append("".join(current))
    out = []
    for piece in pieces:
        piece = piece.strip()
        if len(piece) >= 2 and piece[0] in _QUOTES and piece[-1] in _QUOTES:
            piece = piece[1:-1].strip()
        out.append(piece)
    return out


def _rejoin(pieces: list[str], is_valid: Any) -> list[str]:
    """Greedy longest match: neighbours whose joined text is one valid value stay together."""
    out: list[str] = []
    i = 0
    while i < len(pieces):
        for j in range(len(pieces), i + 1, -1):
            joined = ", ".join(pieces[i:j])
            if is_valid(joined):
                out.append(joined)
                i = j
                break
        else:
            out.append(pieces[i])
            i += 1
    return out


def _rejoin_company_suffixes(pieces: list[str]) -> list[str]:
    out: list[str] = []
    for piece in pieces:
        if out and _key(piece) in _COMPANY_SUFFIXES:
            out[-1] = f"{out[-1]}, {piece}"
        else:
            out.append(piece)
    return out


def _split_text(text: str, field_name: str) -> list[str]:
    kind = FIELD_KINDS[field_name]
    parts = [p.strip() for p in re.split(r"[;\r\n]+", text)]
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        if kind in _LOCATION_KINDS:
            out.append(part)
            continue
        pieces = [p for p in _split_commas(part) if p]
        if kind == VOCAB_LIST:
            pieces = _rejoin(pieces, vocab.get_vocabulary(field_name).is_valid)
        elif field_name == "past_company_names":
            pieces = _rejoin_company_suffixes(pieces)
        out.extend(pieces)
    return out


def _int_list(cell: Any) -> list[int]:
    if isinstance(cell, str):
        pieces = [p for p in re.split(r"[;,\s]+", cell.strip()) if p]
        return [_whole(p) for p in pieces]
    return [_whole(cell)]


def _connections(cells: list[Any]) -> dict[str, int]:
    """ "500+", "500-1000", "500 to 1000", 500 (a minimum), or a {min, max} mapping."""
    if len(cells) == 1 and isinstance(cells[0], Mapping):
        out = {}
        for k, v in cells[0].items():
            if k not in ("min", "max"):
                raise _CellError(f'"{k}" is not min or max')
            out[k] = _whole(v)
        return out
    if len(cells) == 2:
        return {"min": _whole(cells[0]), "max": _whole(cells[1])}
    if len(cells) != 1:
        raise _CellError(f"takes one range such as 500+ or 500-1000, found {len(cells)} values")
    cell = cells[0]
    if isinstance(cell, str):
        text = cell.strip().replace(",", "")
        if m := re.fullmatch(r"(\d+)\s*\+", text):
            return {"min": int(m.group(1))}
        if m := re.fullmatch(r"(\d+)\s*(?:-|–|to)\s*(\d+)", text):
            return {"min": int(m.group(1)), "max": int(m.group(2))}
    try:
        return {"min": _whole(cell)}
    except _CellError:
        raise _CellError(
            f"{_show(cell)} is not a connections range; use e.g. 500+ or 500-1000"
        ) from None


def _convert(field_name: str, cells: list[Any], where: str, problems: _Problems) -> Any:
    """Turn one criterion's raw cells into the value its request field takes (None if empty)."""
    kind = FIELD_KINDS[field_name]
    cells = [c for c in cells if not _is_empty(c)]
    if not cells:
        return None
    if kind == PERSONAS:
        if all(isinstance(c, list | tuple) for c in cells):
            return [list(c) for c in cells]
        problems.add(
            where,
            "give personas in a criteria file or from Python, each a list "
            "[name, functions, seniorities, prohibits, priority?]",
        )
        return None
    if kind == CONNECTIONS:
        try:
            return _connections(cells)
        except _CellError as exc:
            problems.add(where, str(exc))
            return None
    if kind in (INT, BOOL, TEXT) and len(cells) > 1:
        shown = ", ".join(_show(c) for c in cells[:3])
        problems.add(where, f"takes one value, found {len(cells)} ({shown})")
        return None
    values: list[Any] = []
    for cell in cells:
        try:
            if kind == INT:
                return _whole(cell)
            if kind == BOOL:
                return _boolean(cell)
            if kind == TEXT:
                return _text_of(cell, field_name).strip()
            if kind == INT_LIST:
                values.extend(_int_list(cell))
            else:
                values.extend(_split_text(_text_of(cell, field_name), field_name))
        except _CellError as exc:
            problems.add(where, str(exc))
    if field_name == "strict":
        values = [field_for_label(v) or v for v in values]
    return values or None
