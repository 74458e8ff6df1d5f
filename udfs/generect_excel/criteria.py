"""Criteria: from what an analyst fills in (a range of cells, a file, keyword arguments) to a
validated request.

A criteria range arrives exactly as xlwings hands it to Python: a list of rows (a single row or
column may come as a flat list, one cell as a bare value), ``None`` for empty cells, floats for
numbers, bools, strings and datetimes.

Layouts
    *vertical*: the label in the first column, its values in the cells to the right;
    *horizontal*: labels as headers in the first row, the values below each.
    Rule: fully empty outer rows and columns are trimmed, and so are leading rows and columns
    made only of title or header words ("Lead criteria", "Filter | Values", a "Field / Value"
    column); then the first column and the first row are each scored by the share of their
    non-empty cells that are known labels (header words left out). The higher share wins; on
    a tie, close misspellings of labels are scored the same way; then the layout whose value
    cells hold fewer labels wins; then vertical. Positions in messages ("row 4", "column 3")
    count from the top left cell of the range as given.

Lines
    Empty cells and empty lines are ignored; a label with no values is an empty criterion and
    is ignored too. A first line made only of header words ("Filter | Values", "Field | Value",
    "Criteria") is skipped. A line with values but an empty label continues the line above
    (merged label cells, or one value per row); with no line above it is an error. A label
    that appears twice gathers the values of both.

Several values in a cell
    ``;`` and line breaks always split. Commas split only where values never contain commas
    (job titles, keywords, seniorities, company types, names, IDs, functions, emails...);
    a value in double quotes is never split (``"VP, Sales"``). Commas never split location
    fields (``San Francisco, CA`` stays whole). In vocabulary fields whose values may contain
    commas (industries such as ``Technology, Information and Internet``, sizes such as
    ``10,000+``), comma pieces are re-joined with their neighbours whenever the joined text is
    a valid value (longest match first). Single-value fields (company, company link, limit,
    yes/no fields) are never split.

Cell values
    Whole floats are whole numbers (1.0 -> 1; 1.5 in a whole-number field is an error);
    yes/no fields take TRUE/FALSE, yes/no, y/n, 1/0, on/off and "x" (ticked). A date never
    belongs in criteria (Excel turns "1-10" into 10 January and "11-50" into November 1950): in
    a company-size field such a date is read back as the size it came from, anywhere else it
    is an error asking to type the value as text. A "Company" that is a LinkedIn URL is sent as
    the company link, one that is a whole number as the company ID.

Every problem names the row (vertical) or column (horizontal) label and what would be valid;
all problems are collected into one :class:`~generect_excel.errors.CriteriaError`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import vocab
from .errors import CriteriaError
from .models import (
    REALTIME_FIELDS,
    REALTIME_ONLY_FIELDS,
    LeadSearchRequest,
    Mode,
    build_request,
    field_problems,
    parse_mode,
    with_paging,
)

__all__ = [
    "FIELD_KINDS",
    "FIELD_LABELS",
    "criteria_from_block",
    "criteria_from_file",
    "criteria_from_kwargs",
    "criteria_from_mapping",
    "field_for_label",
    "parse_block",
    "with_paging",
]

# -- what each field takes --------------------------------------------------------------------

TEXT_LIST = "text list"  # split on ; , and line breaks
LOCATION_LIST = "location list"  # split on ; and line breaks only
VOCAB_LIST = "vocabulary list"  # split on ; and line breaks; commas re-joined into values
INT_LIST = "whole-number list"
INT = "whole number"
BOOL = "yes/no"
TEXT = "text"  # one value, never split
CONNECTIONS = "connections range"
PERSONAS = "personas"

FIELD_KINDS: dict[str, str] = {
    "job_titles": TEXT_LIST,
    "seniorities": VOCAB_LIST,
    "locations": LOCATION_LIST,
    "exclude_locations": LOCATION_LIST,
    "company_locations": LOCATION_LIST,
    "exclude_company_locations": LOCATION_LIST,
    "company_industries": VOCAB_LIST,
    "exclude_company_industries": VOCAB_LIST,
    "company_headcounts": VOCAB_LIST,
    "exclude_company_headcounts": VOCAB_LIST,
    "company_types": VOCAB_LIST,
    "company_name": TEXT,
    "company_link": TEXT,
    "company_id": INT,
    "without_company": BOOL,
    "exclude_names": TEXT_LIST,
    "exclude_ids": TEXT_LIST,
    "filter_empty_vars": VOCAB_LIST,
    "limit_by": INT,
    "offset_by": INT,
    "strict": TEXT_LIST,
    "skip_truncated_names": BOOL,
    "keywords": TEXT_LIST,
    "functions": TEXT_LIST,
    "exclude_functions": TEXT_LIST,
    "past_company_names": TEXT_LIST,
    "past_company_ids": TEXT_LIST,
    "exclude_past_company_ids": TEXT_LIST,
    "exclude_current_company_ids": TEXT_LIST,
    "schools": INT_LIST,
    "groups": INT_LIST,
    "groups_keywords": TEXT_LIST,
    "years_in_position": INT_LIST,
    "years_in_company": INT_LIST,
    "years_of_experience": INT_LIST,
    "changed_jobs": BOOL,
    "posted_on_linkedin": BOOL,
    "mentioned_in_news": BOOL,
    "linkedin_filter_link": TEXT,
    "personas": PERSONAS,
    "first_name": TEXT_LIST,
    "last_name": TEXT_LIST,
    "lead_industries": VOCAB_LIST,
    "exclude_lead_industries": VOCAB_LIST,
    "past_job_titles": TEXT_LIST,
    "num_of_connections": CONNECTIONS,
    "include_full_profile": BOOL,
    "find_by_emails": TEXT_LIST,
    "include_total_count": BOOL,
    "max_profiles_scanned": INT,
}
"""Request field -> what its cells hold (drives splitting and type conversion)."""

# Pseudo-fields for the two ends of num_of_connections ("Min connections", "Max connections").
_MIN_CONNECTIONS = "num_of_connections.min"
_MAX_CONNECTIONS = "num_of_connections.max"

# The first label is the one shown in messages; matching ignores case, spacing, punctuation
# and a plural "s". The API names themselves are always accepted too.
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "job_titles": ("Job titles", "Title", "Job", "Position", "Role", "Current title"),
    "seniorities": ("Seniority", "Seniority level", "Level", "Job level", "Management level"),
    "locations": (
        "Location",
        "Lead location",
        "Person location",
        "Geography",
        "Geo",
        "Country",
        "Region",
        "City",
    ),
    "exclude_locations": (
        "Exclude locations",
        "Excluded locations",
        "Exclude lead locations",
        "Exclude countries",
        "Not in location",
    ),
    "company_locations": (
        "HQ location",
        "Company location",
        "Company HQ",
        "HQ",
        "Headquarters",
        "Headquarters location",
        "Company country",
        "HQ country",
    ),
    "exclude_company_locations": (
        "Exclude HQ locations",
        "Exclude company locations",
        "Excluded HQ locations",
        "Exclude headquarters",
    ),
    "company_industries": ("Industry", "Company industry", "Sector"),
    "exclude_company_industries": (
        "Exclude industries",
        "Exclude company industries",
        "Excluded industries",
        "Exclude sectors",
    ),
    "company_headcounts": (
        "Company size",
        "Headcount",
        "Company headcount",
        "Employees",
        "Employee count",
        "Number of employees",
        "Size",
        "Company sizes",
    ),
    "exclude_company_headcounts": (
        "Exclude company sizes",
        "Exclude headcounts",
        "Exclude sizes",
        "Excluded company sizes",
    ),
    "company_types": ("Company type", "Type", "Organization type", "Ownership"),
    "company_name": ("Company", "Company name", "Account", "Employer", "Current company"),
    "company_link": (
        "Company LinkedIn URL",
        "Company link",
        "Company LinkedIn",
        "Company URL",
        "LinkedIn company URL",
        "Company LinkedIn link",
    ),
    "company_id": ("Company ID", "LinkedIn company ID", "Company LinkedIn ID"),
    "without_company": ("Without company",),
    "exclude_names": ("Exclude names", "Exclude people", "Excluded names"),
    "exclude_ids": ("Exclude IDs", "Exclude lead IDs", "Excluded IDs"),
    "filter_empty_vars": ("Must have", "Required fields", "Non-empty fields", "Filter empty"),
    "limit_by": ("Limit", "Max results", "Max leads", "Number of leads", "Rows", "Results"),
    "offset_by": ("Offset", "Skip", "Start after"),
    "strict": ("Strict", "Strict match", "Strict fields", "Match exactly"),
    "skip_truncated_names": ("Skip truncated names", "Skip short names"),
    "keywords": ("Keywords", "Keyword", "Profile keywords"),
    "functions": ("Functions", "Job function", "Department"),
    "exclude_functions": ("Exclude functions", "Exclude departments"),
    "past_company_names": (
        "Past companies",
        "Past company",
        "Previous companies",
        "Former companies",
        "Past company names",
    ),
    "past_company_ids": ("Past company IDs",),
    "exclude_past_company_ids": ("Exclude past company IDs",),
    "exclude_current_company_ids": ("Exclude current company IDs", "Exclude company IDs"),
    "schools": ("School IDs", "Schools", "School"),
    "groups": ("Group IDs", "Groups", "LinkedIn groups"),
    "groups_keywords": ("Group keywords", "Group names"),
    "years_in_position": ("Years in position", "Time in position", "Years in role"),
    "years_in_company": (
        "Years in company",
        "Years at company",
        "Time at company",
        "Time in company",
        "Tenure",
    ),
    "years_of_experience": ("Years of experience", "Experience", "Total experience"),
    "changed_jobs": ("Changed jobs", "Recently changed jobs", "Job changers", "Job change"),
    "posted_on_linkedin": ("Posted on LinkedIn", "Recently posted", "Active on LinkedIn"),
    "mentioned_in_news": ("Mentioned in news", "In the news", "Mentioned in the news"),
    "linkedin_filter_link": (
        "Sales Navigator URL",
        "Sales Navigator link",
        "LinkedIn search URL",
        "LinkedIn filter link",
        "Search URL",
    ),
    "personas": ("Personas", "Persona"),
    "first_name": ("First name", "First names"),
    "last_name": ("Last name", "Last names", "Surname"),
    "lead_industries": ("Lead industry", "Person industry", "Lead industries"),
    "exclude_lead_industries": ("Exclude lead industries", "Exclude person industries"),
    "past_job_titles": (
        "Past job titles",
        "Past titles",
        "Previous titles",
        "Previous job titles",
        "Former titles",
    ),
    "num_of_connections": ("Connections", "Number of connections", "Connection count"),
    _MIN_CONNECTIONS: ("Min connections", "Minimum connections", "At least connections"),
    _MAX_CONNECTIONS: ("Max connections", "Maximum connections", "At most connections"),
    "include_full_profile": ("Full profile", "Include full profile", "Full profiles"),
    "find_by_emails": ("Emails", "Email", "Find by emails", "Email addresses"),
    "include_total_count": ("Total count", "Include total count"),
    "max_profiles_scanned": ("Max profiles scanned", "Scan limit", "Profiles scanned"),
}
"""Request field -> the labels analysts may use for it (first one shown in messages)."""

# Words of a header line ("Filter | Values", "Field | Value", "Criteria"): never a field.
_HEADER_KEYS = frozenset(
    {
        "filter",
        "field",
        "criteria",
        "criterion",
        "criterium",
        "parameter",
        "param",
        "label",
        "key",
        "name",
        "setting",
        "option",
        "condition",
        "value",
        "searchcriteria",
        "searchfilter",
        "leadcriteria",
        "leadsearch",
        "leadsearchcriteria",
        "fieldname",
        "filtername",
        "what",
        "input",
        "entry",
    }
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


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def _singular(key: str) -> str:
    if key.endswith("ies") and len(key) > 4:
        return key[:-3] + "y"
    if key.endswith("s") and not key.endswith("ss") and len(key) > 2:
        return key[:-1]
    return key


def _build_label_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, labels in FIELD_LABELS.items():
        for label in (*labels, name):
            for k in (_key(label), _singular(_key(label))):
                owner = table.setdefault(k, name)
                if owner != name:  # pragma: no cover - guarded by a test
                    raise RuntimeError(f"label {label!r} is claimed by {owner} and {name}")
    return table


_LABEL_TABLE = _build_label_table()


def field_for_label(label: Any) -> str | None:
    """The request field a label names ("Job Title", "HQ location", "job_titles"), or None."""
    if not isinstance(label, str):
        return None
    k = _key(label)
    if not k:
        return None
    return _LABEL_TABLE.get(k) or _LABEL_TABLE.get(_singular(k))


def _display(field_name: str) -> str:
    return FIELD_LABELS[field_name][0]


def _suggest_labels(label: str, n: int = 3, cutoff: float = 0.7) -> list[str]:
    k = _key(label)
    close = difflib.get_close_matches(k, list(_LABEL_TABLE), n=12, cutoff=cutoff)
    out: list[str] = []
    for match in close:
        shown = _display(_LABEL_TABLE[match])
        if shown not in out:
            out.append(shown)
    return out[:n]


def _is_header(cell: Any) -> bool:
    if not isinstance(cell, str) or field_for_label(cell) is not None:
        return False
    k = _key(cell)
    k = re.sub(r"\d+$", "", k)
    return k in _HEADER_KEYS or _singular(k) in _HEADER_KEYS or "criteria" in k


# -- one criterion's values -------------------------------------------------------------------


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
            f"{_show(cell)} is not a valid value; Excel turned what was typed into a date: "
            "format the cell as text and type it again"
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
            "personas are lists [name, functions, seniorities, prohibits, priority?]: "
            "give them in a criteria file or from Python",
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


# -- blocks -----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    fields: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)  # every field given -> where
    problems: _Problems = field(default_factory=_Problems)


def _clean(cell: Any) -> Any:
    if isinstance(cell, str):
        return cell if cell.strip() else None
    if isinstance(cell, float) and math.isnan(cell):
        return None  # an empty numeric cell in some readers
    return cell


@dataclass
class _Grid:
    """A block as padded rows, trimmed; ``top``/``left`` keep positions in the analyst's range."""

    rows: list[list[Any]]
    top: int = 0
    left: int = 0


def _header_only(cells: Sequence[Any]) -> bool:
    present = [c for c in cells if c is not None]
    return bool(present) and all(_is_header(c) for c in present)


def _grid(block: Any) -> _Grid:
    """Pad the rows; trim fully empty outer rows and columns, and leading title/header-only
    rows and columns ("Lead criteria", "Field | Value") so that they cannot sway the layout."""
    if block is None:
        return _Grid([])
    if isinstance(block, str | bytes | Mapping) or not isinstance(block, Iterable):
        rows = [[block]]
    else:
        items = list(block)
        if not any(isinstance(r, list | tuple) for r in items):
            rows = [items]  # a single row or column: a flat list
        else:
            rows = [list(r) if isinstance(r, list | tuple) else [r] for r in items]
    rows = [[_clean(c) for c in r] for r in rows]
    width = max((len(r) for r in rows), default=0)
    rows = [r + [None] * (width - len(r)) for r in rows]
    while rows and all(c is None for c in rows[-1]):
        rows.pop()
    top = 0
    while rows and all(c is None for c in rows[0]):
        rows.pop(0)
        top += 1
    if not rows:
        return _Grid([])
    cols = [i for i in range(width) if any(r[i] is not None for r in rows)]
    left, last = cols[0], cols[-1]
    rows = [r[left : last + 1] for r in rows]
    while len(rows) > 1 and _header_only(rows[0]):
        rows.pop(0)
        top += 1
    while len(rows[0]) > 1 and _header_only([r[0] for r in rows]):
        rows = [r[1:] for r in rows]
        left += 1
    return _Grid(rows, top, left)


def _label_share(cells: Sequence[Any], match: Any) -> float:
    counted = [c for c in cells if c is not None and not _is_header(c)]
    if not counted:
        return 0.0
    return sum(1 for c in counted if match(c)) / len(counted)


def _close_label(cell: Any) -> bool:
    # Stricter than the suggestions: "CEO" is not a misspelt "Geo".
    return isinstance(cell, str) and bool(_suggest_labels(cell, 1, cutoff=0.8))


def _is_horizontal(rows: list[list[Any]]) -> bool:
    first_col = [r[0] for r in rows]
    first_row = rows[0]
    for match in (field_for_label, _close_label):
        vertical = _label_share(first_col, match)
        horizontal = _label_share(first_row, match)
        if vertical != horizontal:
            return horizontal > vertical
    in_vertical_values = sum(1 for r in rows for c in r[1:] if field_for_label(c))
    in_horizontal_values = sum(1 for r in rows[1:] for c in r if field_for_label(c))
    return in_horizontal_values < in_vertical_values


def _lines(grid: _Grid) -> list[tuple[Any, list[Any], str]]:
    """(label cell, value cells, "row N"/"column N") per line; N counts from the range's top
    left cell, as the analyst sees it."""
    rows = grid.rows
    if _is_horizontal(rows):
        return [
            (rows[0][c], [r[c] for r in rows[1:]], f"column {grid.left + c + 1}")
            for c in range(len(rows[0]))
        ]
    return [(r[0], r[1:], f"row {grid.top + i + 1}") for i, r in enumerate(rows)]


def _where(label: Any, position: str) -> str:
    text = label.strip() if isinstance(label, str) else _show(label)
    return f"{text} ({position})"


def _parse(block: Any) -> _Parsed:
    parsed = _Parsed()
    grid = _grid(block)
    if not grid.rows:
        parsed.problems.items.append(
            "The criteria range is empty: fill in labels (e.g. Job title) and their values."
        )
        return parsed
    lines = _lines(grid)
    raw: dict[str, list[Any]] = {}
    where_of: dict[str, str] = {}
    current: str | None = None  # the field an unlabelled line continues
    unknown = False  # the line above had an unknown label (already reported)
    first_line = True
    for label, cells, position in lines:
        values = [c for c in cells if not _is_empty(c)]
        if _is_empty(label):
            if not values:
                continue
            if current is None and not unknown:
                parsed.problems.items.append(
                    f"Values without a label in {position}: put the field name before them."
                )
            elif current is not None:
                raw[current].extend(values)
            first_line = False
            continue
        is_first, first_line = first_line, False
        name = field_for_label(label)
        current, unknown = name, name is None
        if name is None:
            if is_first and _is_header(label) and all(_is_header(v) for v in values):
                unknown = False  # a header has no values to continue
                continue  # "Filter | Values", "Field | Value", "Criteria"
            parsed.problems.items.append(_unknown_label(label, position))
            continue
        raw.setdefault(name, []).extend(values)
        where_of.setdefault(name, _where(label, position))
    _finish(raw, where_of, parsed)
    return parsed


def _unknown_label(label: Any, position: str) -> str:
    if not isinstance(label, str):
        return (
            f"{_show(label)} ({position}) is not a criteria label: "
            "put a field name such as Job title first"
        )
    text = label.strip()
    if _key(text) == "mode":
        return (
            f"Mode ({position}) is not a criterion: give the mode to the function "
            '(e.g. =GENERECT_COUNT(A1:B6, "realtime"))'
        )
    suggestions = _suggest_labels(text)
    hint = (
        "did you mean " + " or ".join(f'"{s}"' for s in suggestions) + "?"
        if suggestions
        else "use a label such as Job title, Seniority, Location, Industry or Company size"
    )
    return f'Unknown criteria label "{text}" ({position}); {hint}'


def _finish(raw: dict[str, list[Any]], where_of: dict[str, str], parsed: _Parsed) -> None:
    """Convert every criterion's cells; merge the connection pseudo-fields."""
    parsed.seen.update(where_of)
    for name, cells in raw.items():
        where = where_of[name]
        if name in (_MIN_CONNECTIONS, _MAX_CONNECTIONS):
            end = name.rsplit(".", 1)[1]
            cells = [c for c in cells if not _is_empty(c)]
            if not cells:
                continue
            if len(cells) > 1:
                parsed.problems.add(where, f"takes one number, found {len(cells)}")
                continue
            try:
                number = _whole(cells[0])
            except _CellError as exc:
                parsed.problems.add(where, str(exc))
                continue
            current = parsed.fields.setdefault("num_of_connections", {})
            if isinstance(current, dict):
                current[end] = number
            parsed.labels.setdefault("num_of_connections", where)
            continue
        value = _convert(name, cells, where, parsed.problems)
        if value is None:
            continue
        if name == "company_name":
            name, value = _company_anchor(value)
            if name in parsed.fields or name in raw and name != "company_name":
                parsed.problems.add(
                    where, "give only one company: a name, a LinkedIn link or an ID"
                )
                continue
            parsed.labels[name] = where
        if name == "num_of_connections" and isinstance(
            parsed.fields.get("num_of_connections"), dict
        ):
            parsed.fields["num_of_connections"].update(value)
        else:
            parsed.fields[name] = value
        parsed.labels.setdefault(name, where)


def _company_anchor(value: str) -> tuple[str, Any]:
    """A "Company" holding a LinkedIn URL is the company link; a whole number, the ID."""
    if "linkedin.com/" in value.lower():
        return "company_link", value
    if re.fullmatch(r"\d+", value):
        return "company_id", int(value)
    return "company_name", value


def _raise(parsed: _Parsed, mode: Mode | None = None) -> None:
    """Raise the problems found so far, if any, together with the request model's per-field
    problems for what could be read, so that the analyst sees everything at once."""
    problems = list(parsed.problems.items)
    if not problems:
        return
    if mode is not None:
        if mode == "database":
            for name, where in parsed.seen.items():
                if name.split(".")[0] in REALTIME_ONLY_FIELDS:
                    problems.append(f"{where} works only in realtime mode: use mode realtime")
        problems.extend(field_problems(mode, parsed.fields, labels=parsed.labels))
    raise CriteriaError(list(dict.fromkeys(problems)))


def parse_block(block: Sequence[Sequence[Any]] | Sequence[Any] | Any) -> dict[str, Any]:
    """A criteria range (as xlwings hands it) -> request fields (API name -> value).

    Values are split and typed but not yet normalized (that is the request model's job).
    Raises :class:`CriteriaError` naming the row or column label of every problem.

    >>> parse_block([["Job titles", "CEO; Founder"], ["Location", "San Francisco, CA"]])
    {'job_titles': ['CEO', 'Founder'], 'locations': ['San Francisco, CA']}
    """
    parsed = _parse(block)
    _raise(parsed)
    return parsed.fields


def criteria_from_block(block: Any, *, mode: Mode | str = "database") -> LeadSearchRequest:
    """A criteria range -> a validated request for ``mode`` (raises :class:`CriteriaError`).

    >>> criteria_from_block([["Seniority", "CXO"], ["Company size", "10,000+"]]).body()
    {'seniorities': ['c_suite'], 'company_headcounts': ['10 000+']}
    """
    resolved = parse_mode(mode)
    parsed = _parse(block)
    _raise(parsed, resolved)
    return build_request(resolved, parsed.fields, labels=parsed.labels)


# -- files and keyword arguments --------------------------------------------------------------


def criteria_from_mapping(
    data: Mapping[str, Any], *, mode: Mode | str | None = None
) -> LeadSearchRequest:
    """Criteria given as a mapping (a parsed file, keyword arguments) -> a validated request.

    Keys may be API names or friendly labels; a value may be a list or a single value (text is
    split like a cell). An optional ``mode`` key is used when ``mode`` is None.
    """
    parsed = _Parsed()
    file_mode: Any = None
    raw: dict[str, list[Any]] = {}
    where_of: dict[str, str] = {}
    for key, value in data.items():
        label = str(key)
        if _key(label) == "mode":
            file_mode = value
            continue
        name = field_for_label(label)
        if name is None:
            suggestions = _suggest_labels(label) or [
                f for f in difflib.get_close_matches(label, sorted(REALTIME_FIELDS), n=1)
            ]
            hint = (
                "; did you mean " + " or ".join(f'"{s}"' for s in suggestions) + "?"
                if suggestions
                else ""
            )
            parsed.problems.items.append(f'Unknown criteria label "{label}"{hint}')
            continue
        if FIELD_KINDS.get(name) == PERSONAS or name == "num_of_connections":
            cells = [value] if isinstance(value, Mapping) else _listify(value, nested=True)
        else:
            cells = _listify(value, nested=False)
        raw.setdefault(name, []).extend(cells)
        where_of.setdefault(name, label)
    resolved = parse_mode(mode if mode is not None else file_mode)
    _finish(raw, where_of, parsed)
    _raise(parsed, resolved)
    return build_request(resolved, parsed.fields, labels=parsed.labels)


def _listify(value: Any, *, nested: bool) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        if nested:
            return list(value)
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, list | tuple) else [item])
        return flat
    return [value]


def criteria_from_file(path: str | Path, *, mode: Mode | str | None = None) -> LeadSearchRequest:
    """Criteria from a JSON or TOML file (chosen by suffix; otherwise JSON, then TOML).

    Keys may be API names (``job_titles``) or friendly labels (``"Job titles"``), values lists
    or strings; an optional ``mode`` key picks the mode unless ``mode`` is given.

    Example ``criteria.toml``::

        "Job titles" = ["CEO", "Founder"]
        Seniority = "CXO"
        Location = "San Francisco, CA"
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CriteriaError(f"Cannot read the criteria file {p}: {exc.strerror or exc}.") from None
    data = _load_text(text, p)
    if not isinstance(data, Mapping):
        raise CriteriaError(
            f"{p.name}: expected field names and values (a JSON object or TOML table)."
        )
    return criteria_from_mapping(data, mode=mode)


def _load_text(text: str, p: Path) -> Any:
    suffix = p.suffix.lower()
    loaders: list[tuple[str, Any]] = [("JSON", json.loads), ("TOML", tomllib.loads)]
    if suffix == ".toml":
        loaders.reverse()
    errors = []
    for name, load in loaders:
        try:
            return load(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            errors.append(f"{name}: {exc}")
            if suffix in (".json", ".toml"):
                break
    raise CriteriaError(f"{p.name} is not valid JSON or TOML ({errors[0]}).")


def criteria_from_kwargs(mode: Mode | str = "database", **fields: Any) -> LeadSearchRequest:
    """Criteria from Python keyword arguments (API names or label-like names).

    >>> criteria_from_kwargs(job_titles=["CEO"], seniorities="CXO").body()
    {'job_titles': ['CEO'], 'seniorities': ['c_suite']}
    """
    return criteria_from_mapping(fields, mode=mode)
