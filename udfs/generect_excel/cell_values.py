"""One value of a lead row as one Excel cell (:func:`to_cell`): text cut to what a cell holds,
characters an .xlsx cannot store removed, long integers kept exact, lists joined, objects as
compact JSON. Moved out of :mod:`generect_excel.table`, which re-exports :func:`to_cell`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ._constants import EXCEL_MAX_CELL_CHARS

__all__ = ["Cell", "to_cell"]

Cell = str | int | float | bool | date | None


# --------------------------------------------------------------------------- cell values

_MISSING: Any = object()

# Characters an .xlsx (XML 1.0) cell cannot hold: openpyxl's ILLEGAL_CHARACTERS_RE
# (\x00-\x08, \x0b, \x0c, \x0e-\x1f), plus lone surrogates (they cannot be encoded as UTF-8)
# and the non-characters U+FFFE/U+FFFF. Tab, newline and carriage return are legal and kept.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Excel stores numbers as doubles and shows 15 significant digits: a longer integer id would
# be silently rounded, so it is written as its exact text instead.
_MAX_EXACT_INT = 10**15 - 1


# Text this short can never exceed Excel's limit (at most 2 UTF-16 units per character).
_SHORT_TEXT = EXCEL_MAX_CELL_CHARS // 2


def _fit_text(text: str) -> str | None:
    """Remove illegal characters and cut to Excel's limit; ``""`` -> ``None``."""
    if _ILLEGAL.search(text) is not None:
        text = _ILLEGAL.sub("", text)
    if not text:
        return None
    # Excel counts UTF-16 code units; a str of at most limit/2 code points always fits.
    if len(text) > _SHORT_TEXT:
        encoded = text.encode("utf-16-le")
        if len(encoded) > 2 * EXCEL_MAX_CELL_CHARS:
            cut = encoded[: 2 * EXCEL_MAX_CELL_CHARS]
            # Never leave half of a surrogate pair (an emoji) at the end.
            if 0xD8 <= cut[-1] <= 0xDB:
                cut = cut[:-2]
            text = cut.decode("utf-16-le")
    return text


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _first_text(item: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, Mapping):  # e.g. a nested {"company": {"name": ...}}
            name = value.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip()
    return None


def _item_text(item: Mapping[str, Any]) -> str | None:
    """One object inside a list, as a short readable phrase."""
    if not item:
        return None
    title = _first_text(item, ("job_title", "title", "raw_job_title"))
    company = _first_text(item, ("company_name", "raw_company_name", "company"))
    if title or company:
        return f"{title} @ {company}" if title and company else title or company
    school = _first_text(item, ("university_name", "school_name", "school"))
    if school:
        degree = _first_text(item, ("degree", "degree_name"))
        return f"{school} ({degree})" if degree else school
    name = _first_text(item, ("name",))
    if name:
        return name
    return _compact_json(item)


def _list_parts(values: Iterable[Any], out: list[str]) -> None:
    for item in values:
        if isinstance(item, Mapping):
            text = _item_text(item)
        elif isinstance(item, list | tuple):
            _list_parts(item, out)
            continue
        else:
            cell = to_cell(item)
            if cell is None:
                continue
            if isinstance(cell, bool):
                text = "TRUE" if cell else "FALSE"
            elif isinstance(cell, datetime | date):
                text = cell.isoformat()
            else:
                text = str(cell)
        if text:
            out.append(text)


def to_cell(value: Any) -> Cell:
    """Turn one raw value into what a cell holds (see the module docstring for the rules)."""
    kind = type(value)
    if kind is str:
        # isprintable() is False for every character _ILLEGAL removes: a fast clean check.
        if len(value) <= _SHORT_TEXT and value.isprintable():
            return value or None
        return _fit_text(value)
    if value is None or value is _MISSING:
        return None
    if kind is bool:
        return value
    if kind is int:
        return value if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT else str(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return _fit_text(_compact_json(value)) if value else None
    if isinstance(value, list | tuple):
        parts: list[str] = []
        _list_parts(value, parts)
        return _fit_text("; ".join(parts)) if parts else None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return to_cell(int(value))
    if isinstance(value, float | Decimal):
        return to_cell(float(value))
    if isinstance(value, datetime | date):
        return value
    return _fit_text(str(value))


def _has_value(cell: Cell) -> bool:
    """Whether a fallback source gave something worth showing (blank text counts as none)."""
    if cell is None:
        return False
    return not (isinstance(cell, str) and not cell.strip())
