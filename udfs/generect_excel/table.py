"""Lead rows into the 2-D table a worksheet shows (pure: no Excel, no files).

Generect's lead rows carry about 80 fields that differ by mode (FACTS.md): database rows have
``lead_id``, ``job_title``, ``company_name``, ``company_url``; realtime rows may lack
``lead_id`` and ``linkedin_url``, use ``lead_company_name`` or nest a ``company`` object. This
module maps them onto stable columns through fallbacks kept as data (``COLUMN_SOURCES``), lets
the analyst pick a lead field of the catalogue instead (``FIELD_CATALOGUE``, checked before a
search is bought: :func:`check_fields`) or any other field as ``raw:NAME``, and turns every
value into something a cell can hold.

The sheet contract of ``=GENERECT_SEARCH(...)`` (public: templates and formulas rely on it)::

    row 1   status: "Generect · 1,240 matches · 25 rows · $0.50 charged · fetched
            2026-11-22 10:31 UTC"  in the first cell, the rest of the row empty
    row 2   header: the column names (DEFAULT_COLUMNS, or the fields asked for, as typed)
    row 3…  one row per lead, in the API's order

Every row has the same width, so with the formula in A1:

    =DROP(A1#,1)        the header and the rows: a clean table for XLOOKUP, FILTER, pivots
    =DROP(A1#,2)        the rows only
    =INDEX(A1#,1,1)     the status text (matches, rows, charge, when fetched, cache, test mode)

(DROP is Microsoft 365's; in Excel 2021 ``=OFFSET(A1#,1,0,ROWS(A1#)-1)`` does the same.)
When a refresh fails and the rows bought earlier are kept, the status line says so instead
(:func:`kept_status_line`): "Generect · refresh failed 2026-12-03 08:40 UTC · showing 25 rows
fetched 2026-11-22 10:31 UTC · <why>"; :func:`held_table` reads a saved status line back.
With zero leads the spill is the status row and the header row. ``search_table(...,
status=False)`` drops the status row (header + rows only).

Cell values:
- ``None``, a missing field, ``""``, an empty list or object -> ``None`` (an empty cell; Excel
  shows ``None`` as empty, so ``ISBLANK`` and ``COUNTA`` behave).
- bools stay bools, numbers stay numbers (NaN/inf -> empty; an integer beyond 15 digits, which
  Excel would round, becomes its exact text).
- a list -> its items joined with ``"; "``; a job in a list -> ``"title @ company"``, an
  education -> ``"school (degree)"``, an object with a ``name`` -> the name, any other object
  -> compact JSON. An object -> compact JSON.
- text: characters an .xlsx file cannot hold (C0 controls other than tab, newline and carriage
  return; lone surrogates; U+FFFE/U+FFFF; openpyxl raises ``IllegalCharacterError`` on them)
  are removed, and the text is cut to Excel's 32,767-character cell limit, counted as Excel
  counts (UTF-16 code units, never splitting an emoji).
- Text is otherwise kept exactly. A value starting with ``=``, ``+``, ``-`` or ``@`` is NOT
  altered here: the writers (xlwings return values, the refresher's string cells) write it as
  text, so it never becomes a live formula, and the analyst sees the data as sent.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ._constants import CELL_MESSAGE_MAX, EXCEL_MAX_CELL_CHARS
from .errors import CriteriaError
from .lead_fields import LEAD_FIELD_NAMES
from .vocab import Vocabulary

__all__ = [
    "COLUMN_SOURCES",
    "DEFAULT_COLUMNS",
    "FIELD_CATALOGUE",
    "HeldTable",
    "Join",
    "SearchInfo",
    "WebsiteFromDomain",
    "available_fields",
    "check_fields",
    "checked_fields",
    "held_table",
    "kept_status_line",
    "charge_text",
    "lead_table",
    "pad",
    "parse_fields",
    "search_table",
    "status_line",
    "to_cell",
]

Cell = str | int | float | bool | date | None


# --------------------------------------------------------------------------- column sources


@dataclass(frozen=True)
class Join:
    """A source made of several parts joined by ``sep``; each part is a tuple of alternative
    dot paths (the first non-empty wins). Empty parts are left out; all empty -> no value."""

    parts: tuple[tuple[str, ...], ...]
    sep: str


@dataclass(frozen=True)
class WebsiteFromDomain:
    """A bare domain (``slack.com``) turned into a URL (``https://slack.com``).

    Why: every other source of ``company_website`` is a full URL, and a uniform column is one
    an analyst can click and de-duplicate. The raw domain stays reachable as
    ``company.domain``.
    """

    path: str


Source = str | Join | WebsiteFromDomain

# The logical columns, in their default order, each with its fallbacks: the first source that
# gives a non-empty value wins. Paths are the API's own spellings (dot = nested object).
# Decisions (see FACTS.md for the field names):
# - industry: the company's industry first (the analyst filters by company_industries); the
#   row's top-level ``industry`` is the lead's own profile industry, a last resort.
# - job_title: ``headline`` is NOT a fallback: it is free self-description ("Helping SaaS teams
#   grow | Speaker") that would spoil filters and pivots on the column. Ask for it by name.
# - linkedin_url: the Sales Navigator link is the last resort (realtime rows may lack
#   ``linkedin_url``); it still opens the lead's profile for Sales Navigator users.
COLUMN_SOURCES: Mapping[str, tuple[Source, ...]] = {
    "full_name": (
        "full_name",
        "name",
        "unformatted_full_name",
        Join((("first_name",), ("middle_name",), ("last_name",)), " "),
    ),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "job_title": ("job_title", "title", "raw_job_title"),
    "company": ("company_name", "lead_company_name", "company.name", "raw_company_name"),
    "industry": ("company_industry", "company.industry", "industry"),
    "location": (
        "location",
        Join(
            (
                ("location_city", "city"),
                ("location_state", "state"),
                ("location_country", "country"),
            ),
            ", ",
        ),
    ),
    "linkedin_url": ("linkedin_url", "linkedin", "linkedin_sales_link"),
    "company_linkedin_url": (
        "company_url",
        "company_linkedin_url",
        "company.linkedin_url",
        "company.url",
    ),
    "company_website": (
        "company_website",
        "website",
        "company.website",
        WebsiteFromDomain("company.domain"),
        WebsiteFromDomain("company_domain"),
    ),
    "lead_id": ("lead_id", "id", "sales_id"),
}

DEFAULT_COLUMNS: tuple[str, ...] = tuple(COLUMN_SOURCES)

# "raw:industry" asks for the row's own field, bypassing the logical column of that name, and
# "raw:some_field" for a field outside the catalogue (FIELD_CATALOGUE): the explicit way to
# reach what Generect sends without documenting it.
RAW_PREFIX = "raw:"


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


# --------------------------------------------------------------------------- field paths


def _norm(name: str) -> str:
    """Field-name key: case-insensitive, spaces and hyphens as underscores ("Job title")."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _split_path(path: str) -> list[str]:
    """``"jobs[0].title"`` / ``"jobs.0.title"`` -> ``["jobs", "0", "title"]``."""
    path = re.sub(r"\[\s*(\d+)\s*\]", r".\1", path.strip())
    return [segment.strip() for segment in path.split(".") if segment.strip()]


def _step(value: Any, segment: str, loose: bool) -> Any:
    """One step down a path. On a list, a number indexes it and a name maps over its items."""
    if isinstance(value, Mapping):
        found = value.get(segment, _MISSING)
        if found is _MISSING and loose:
            for key in value:
                if isinstance(key, str) and _norm(key) == segment:
                    return value[key]
        return found
    if isinstance(value, list | tuple):
        if segment.isdigit():
            index = int(segment)
            return value[index] if index < len(value) else _MISSING
        mapped = [_step(item, segment, loose) for item in value]
        mapped = [item for item in mapped if item is not _MISSING]
        return mapped if mapped else _MISSING
    return _MISSING


Getter = Callable[[Mapping[str, Any]], Any]


def _path_getter(path: str, head_keys: Sequence[str] | None = None, *, loose: bool) -> Getter:
    """A function reading ``path`` from a row (``_MISSING`` when absent).

    ``head_keys`` are the spellings of the top-level key the rows use (found once per table,
    so the per-row work is a dict lookup); ``None`` means the path's own spelling. ``loose``
    also matches nested keys case-insensitively (for names an analyst typed).
    """
    segments = _split_path(path)
    head, rest = segments[0], segments[1:]
    keys = tuple(head_keys or (head,))
    if loose:
        rest = [_norm(segment) for segment in rest]

    if len(keys) == 1 and not rest:
        (key,) = keys
        return lambda row: row.get(key, _MISSING)

    def get(row: Mapping[str, Any]) -> Any:
        value = _MISSING
        for key in keys:
            value = row.get(key, _MISSING)
            if value is not _MISSING:
                break
        for segment in rest:
            if value is _MISSING:
                break
            value = _step(value, segment, loose)
        return value

    return get


# A path of a logical source, ready for reading: a top-level key, or (key, nested keys).
KeyPath = str | tuple[str, tuple[str, ...]]
ChainItem = KeyPath | Callable[[Mapping[str, Any]], Cell]


def _key_path(path: str) -> KeyPath:
    head, *rest = _split_path(path)
    return (head, tuple(rest)) if rest else head


def _read(row: Mapping[str, Any], path: KeyPath) -> Any:
    """The value at a logical source's path (objects only, no list steps), or ``None``."""
    if type(path) is str:
        return row.get(path)
    value: Any = row.get(path[0])
    for key in path[1]:
        if value is None:
            return None
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _source_items(source: Source) -> list[ChainItem]:
    """One fallback source as chain items: a key path (read inline: the common case) or a
    cell-reader for joins and domains."""
    if isinstance(source, str):
        return [_key_path(source)]
    if isinstance(source, WebsiteFromDomain):
        domain_path = _key_path(source.path)

        def website(row: Mapping[str, Any]) -> Cell:
            domain = to_cell(_read(row, domain_path))
            if not isinstance(domain, str) or not domain.strip():
                return None
            domain = domain.strip()
            return domain if "://" in domain else "https://" + domain

        return [website]
    parts = tuple(tuple(_key_path(path) for path in paths) for paths in source.parts)
    sep = source.sep

    def joined(row: Mapping[str, Any]) -> Cell:
        texts = []
        for alternatives in parts:
            for path in alternatives:
                value = _read(row, path)
                if value is None:
                    continue
                cell = to_cell(value)
                if _has_value(cell):
                    texts.append(str(cell).strip())
                    break
        return sep.join(texts) if texts else None

    return [joined]


# Built once at import: a logical column's chain never depends on the rows.
_CHAINS: dict[str, tuple[ChainItem, ...]] = {
    name: tuple(item for source in sources for item in _source_items(source))
    for name, sources in COLUMN_SOURCES.items()
}


def _column_reader(name: str) -> Callable[[Mapping[str, Any]], Cell]:
    """The fallback chain of a logical column: the first source with a value wins.

    2,400 rows x 11 columns must shape in a few milliseconds, so the common cases (a key or
    a nested key holding short clean text) are handled inline, without further calls.
    Logical columns read the API's own (lower-case) spellings; only names an analyst types
    are matched case-insensitively.
    """
    items = _CHAINS[name]
    short = _SHORT_TEXT

    def first(row: Mapping[str, Any]) -> Cell:
        for item in items:
            kind = type(item)
            if kind is str:
                value = row.get(item)  # type: ignore[arg-type]
            elif kind is tuple:
                value = row.get(item[0])  # type: ignore[index]
                for key in item[1]:  # type: ignore[index]
                    if value is None:
                        break
                    value = value.get(key) if isinstance(value, Mapping) else None
            else:
                cell = item(row)  # type: ignore[operator]
                if _has_value(cell):
                    return cell
                continue
            if value is None:
                continue
            if type(value) is str:
                # isprintable() is False for every character _ILLEGAL removes.
                if len(value) <= short and value.isprintable():
                    if value and not value.isspace():
                        return value
                    continue
                cell = _fit_text(value)
            else:
                cell = to_cell(value)
            if _has_value(cell):
                return cell
        return None

    return first


def _nested_paths(value: Any, prefix: str, out: set[str], depth: int = 0) -> None:
    """Collect reachable dot paths below ``prefix`` (objects, and objects inside lists)."""
    if depth > 3:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            path = f"{prefix}.{key}"
            out.add(path)
            _nested_paths(child, path, out, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value[:5]:  # lists of jobs share keys; a few items show them all
            if isinstance(item, Mapping):
                _nested_paths(item, prefix, out, depth + 1)


def available_fields(leads: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every field name ``lead_table`` accepts for these rows: the logical columns first, then
    the rows' own fields (sorted), then nested paths such as ``company.domain`` and
    ``jobs.job_title`` (a name on a list maps over its items)."""
    top: set[str] = set()
    nested: set[str] = set()
    for row in leads:
        if not isinstance(row, Mapping):
            continue
        for key, value in row.items():
            top.add(str(key))
            if isinstance(value, Mapping | list | tuple) and value:
                _nested_paths(value, str(key), nested)
    logical = list(DEFAULT_COLUMNS)
    raw = sorted(top - set(logical), key=str.lower)
    return logical + raw + sorted(nested, key=str.lower)


# --------------------------------------------------------------------------- fields


_FIELD_SEPARATORS = re.compile(r"[,;\r\n]+")


def parse_fields(value: Any) -> list[str] | None:
    """The ``fields`` argument as a list of names, or ``None`` for the default columns.

    Accepts ``None`` or ``""`` (defaults), a comma/semicolon/line-break list
    (``"full_name, company.domain"``), a flat list of cell values or a 2-D range (list of rows,
    as xlwings hands it; read row by row, empty cells skipped; a cell may itself hold a list).

    >>> parse_fields("Full name; job_title ,company.domain")
    ['Full name', 'job_title', 'company.domain']
    >>> parse_fields([["full_name", None], ["lead_id", ""]])
    ['full_name', 'lead_id']
    """
    if value is None:
        return None
    cells: list[Any] = []
    if isinstance(value, str):
        cells = [value]
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        for item in value:
            if isinstance(item, Iterable) and not isinstance(item, str | bytes | Mapping):
                cells.extend(item)
            else:
                cells.append(item)
    else:
        cells = [value]
    names: list[str] = []
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)  # Excel hands numbers over as floats: 0.0 -> "0"
        for part in _FIELD_SEPARATORS.split(str(cell)):
            if part.strip():
                names.append(part.strip())
    return names or None


def _source_paths(source: Source) -> list[str]:
    """The row paths one fallback source reads."""
    if isinstance(source, str):
        return [source]
    if isinstance(source, WebsiteFromDomain):
        return [source.path]
    return [path for alternatives in source.parts for path in alternatives]


def _catalogue_key(name: str) -> str:
    """``"jobs[0].Job Title"`` -> ``"jobs.job_title"``: case, spaces and list positions do not
    matter to the catalogue (the rows are read the same way)."""
    return ".".join(_norm(segment) for segment in _split_path(name) if not segment.isdigit())


# Every field name accepted without ``raw:``: the logical columns, the lead fields Generect's
# spec and real rows show (lead_fields.LEAD_FIELDS), and the paths the columns' fallbacks read.
_DOCUMENTED_FIELDS = tuple(dict.fromkeys((*DEFAULT_COLUMNS, *LEAD_FIELD_NAMES)))
FIELD_CATALOGUE: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *_DOCUMENTED_FIELDS,
            *(
                path
                for sources in COLUMN_SOURCES.values()
                for source in sources
                for path in _source_paths(source)
            ),
        )
    )
)
_CATALOGUE_KEYS = frozenset(_catalogue_key(name) for name in FIELD_CATALOGUE)
# The vocabularies' closest-value search, reused for field names. Suggestions come from the
# documented names only: a fallback's defensive spelling ("name", "website") is accepted but
# would be a poor hint.
_FIELD_NAMES = Vocabulary(name="fields", label="lead field", values=_DOCUMENTED_FIELDS)


def _raw_path(name: str) -> str | None:
    """The path after ``raw:`` (``None`` when ``name`` does not start with it)."""
    text = name.strip()
    if not text.lower().startswith(RAW_PREFIX):
        return None
    return text[len(RAW_PREFIX) :].strip()


# Recalculation checks the same few names again and again: remember the verdicts.
@functools.lru_cache(maxsize=4096)
def _is_known_field(name: str) -> bool:
    raw = _raw_path(name)
    if raw is not None:
        return bool(_split_path(raw))
    return _norm(name) in COLUMN_SOURCES or _catalogue_key(name) in _CATALOGUE_KEYS


def check_fields(names: Sequence[str] | None) -> None:
    """Refuse, before anything is bought, a field name outside the catalogue.

    Accepted: a logical column (any case, "Job title"), a name or dot path of
    :data:`FIELD_CATALOGUE` (``headline``, ``company.domain``, ``jobs.0.job_title``), or
    ``raw:`` followed by any field or path (``raw:some_new_field``). Raises
    :class:`CriteriaError` naming the unknown fields, the closest catalogued names and the
    ``raw:`` way. ``None`` (the default columns) passes.
    """
    unknown = [str(name).strip() for name in names or () if not _is_known_field(str(name))]
    if unknown:
        raise _unknown_fields_error(unknown)


def checked_fields(value: Any) -> list[str] | None:
    """:func:`parse_fields`, then :func:`check_fields`: the ``fields`` argument as it must be
    read before a search is bought (free; raises :class:`CriteriaError`)."""
    names = parse_fields(value)
    check_fields(names)
    return names


def _unknown_fields_error(unknown: list[str]) -> CriteriaError:
    quoted = ", ".join(f"'{name}'" for name in unknown)
    message = f"Unknown field{'s' if len(unknown) > 1 else ''} {quoted}."
    first = unknown[0]
    raw = _raw_path(first)
    if raw is not None:  # "raw:" with nothing after it
        message += " Write raw: followed by the field's name, e.g. raw:headline."
    else:
        close = _FIELD_NAMES.suggest(first, n=2)
        if close:
            message += f" Did you mean {' or '.join(close)}?"
        message += f" Unlisted field? Use raw:{first}."
    head = message
    # Fit as many catalogued names as the cell line allows; the full list goes to details.
    shown = 0
    for name in _DOCUMENTED_FIELDS:
        left = len(_DOCUMENTED_FIELDS) - shown - 1
        piece = (" Fields: " if shown == 0 else ", ") + name
        more = f" (+{left} more)" if left else ""
        if len(message) + len(piece) + len(more) > CELL_MESSAGE_MAX:
            break
        message += piece
        shown += 1
    if shown and shown < len(_DOCUMENTED_FIELDS):
        message += f" (+{len(_DOCUMENTED_FIELDS) - shown} more)"
    whole = f"{head} Fields: {', '.join(_DOCUMENTED_FIELDS)}."
    details = (
        f"Unknown field(s): {', '.join(unknown)}. Nothing was sent.\n"
        "Ask for a column (" + ", ".join(DEFAULT_COLUMNS) + "), a lead field of the list "
        "below (nested paths such as company.domain or jobs.0.job_title), or raw:NAME for any "
        "other field of the rows (raw:some_new_field).\n"
        "Fields: " + ", ".join(FIELD_CATALOGUE)
    )
    # A cell shows as many names as fit; the CLI and a message box, every one of them.
    return CriteriaError(whole, details=details, short=message)


# --------------------------------------------------------------------------- tables


def _row_keys(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Normalized top-level name -> the spellings the rows use (union over all rows)."""
    keys: set[Any] = set()
    for row in rows:
        keys.update(row.keys())
    spellings: dict[str, list[str]] = {}
    for key in sorted(k for k in keys if isinstance(k, str)):
        spellings.setdefault(_norm(key), []).append(key)
    for norm, found in spellings.items():
        found.sort(key=lambda k, norm=norm: k != norm)  # the exact spelling first, if any
    return spellings


def _raw_reader(
    name: str, spellings: Mapping[str, Sequence[str]]
) -> Callable[[Mapping[str, Any]], Cell]:
    """The reader for an asked-for raw field (an empty cell where a row lacks it)."""
    path = _raw_path(name)
    if path is None:
        path = name.strip()
    segments = _split_path(path)
    get = _path_getter(path, spellings.get(_norm(segments[0])), loose=True)
    return lambda row: to_cell(get(row))


def lead_table(
    leads: Sequence[Mapping[str, Any]], fields: Sequence[str] | str | None = None
) -> list[list[Any]]:
    """Lead rows -> ``[header] + one row per lead``, every row the same width.

    ``fields`` is ``None`` (or empty) for ``DEFAULT_COLUMNS``; otherwise names in the order
    wanted: a logical column (any case, spaces for underscores: "Job title"), a lead field of
    :data:`FIELD_CATALOGUE` ("headline", "company_headcount_range"), a nested path of it
    ("company.domain", "jobs.0.job_title", "jobs.job_title" for every job), or ``raw:NAME`` for
    any other field of the rows, or the row's own field where a logical column has the same
    name ("raw:industry"). Field names match the rows' keys case-insensitively. The header
    shows each name as asked. A row that is not an object gives an empty row, a field no row
    carries an empty column.

    Raises ``CriteriaError`` (:func:`check_fields`) for a name outside the catalogue, whatever
    the rows hold: the same names are accepted before a search is bought and after.
    """
    if isinstance(fields, str):
        fields = parse_fields(fields)
    names = [str(name).strip() for name in fields or () if name is not None and str(name).strip()]
    if names:
        check_fields(names)
    else:
        names = list(DEFAULT_COLUMNS)
    rows = [row if type(row) is dict or isinstance(row, Mapping) else {} for row in leads]
    spellings: dict[str, list[str]] | None = None  # only raw fields need the rows' keys
    readers = []
    for name in names:
        norm = _norm(name)
        if norm in COLUMN_SOURCES:
            readers.append(_column_reader(norm))
            continue
        if spellings is None:
            spellings = _row_keys(rows)
        readers.append(_raw_reader(name, spellings))
    table: list[list[Any]] = [list(names)]
    table.extend([read(row) for read in readers] for row in rows)
    return table


def pad(table: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Make a table rectangular: every row as long as the longest, filled with ``None``.

    Excel spills only rectangles; a ragged list would be rejected or shifted. An empty table
    stays empty (the caller decides what an empty spill shows).
    """
    rows = [list(row) for row in table]
    width = max((len(row) for row in rows), default=0)
    for row in rows:
        if len(row) < width:
            row.extend([None] * (width - len(row)))
    return rows


# --------------------------------------------------------------------------- charge metadata


@dataclass(frozen=True)
class SearchInfo:
    """What one search answer cost and where it came from, for the status row.

    ``amount_charged`` is what Generect charged when the answer was fetched (a cached answer
    costs nothing now); ``fetched_at`` is when (UTC); ``results_count`` is Generect's estimate
    of all matches (an int, a string such as ``"within limit"``, or unknown). ``new_rows`` is
    how many rows were new to the register of owned leads when bought (None: not known),
    ``excluded`` how many owned leads the request excluded and ``exclusion`` why.
    """

    results_count: int | str | None
    rows: int
    amount_charged: Decimal
    fetched_at: datetime
    from_cache: bool
    test_mode: bool
    mode: str = "database"
    new_rows: int | None = None
    excluded: int = 0
    exclusion: str = ""

    @classmethod
    def from_answer(cls, answer: Any, *, mode: str) -> SearchInfo:
        """Build from an ``engine.Answer`` holding a ``responses.SearchResult``."""
        result = answer.result
        facts = getattr(result, "register_facts", None) or {}
        return cls(
            results_count=result.results_count,
            rows=len(result.leads),
            amount_charged=Decimal(result.amount_charged),
            fetched_at=answer.fetched_at,
            from_cache=bool(answer.from_cache),
            test_mode=bool(result.test_mode),
            mode=mode,
            new_rows=facts.get("new"),
            excluded=int(facts.get("excluded") or 0),
            exclusion=str(facts.get("rule") or ""),
        )


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _matches_text(count: int | str | None) -> str:
    if isinstance(count, bool):  # a bool is an int to Python, never a count
        count = None
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, str) and re.fullmatch(r"\s*\d[\d,]*\s*", count):
        count = int(count.replace(",", ""))
    if isinstance(count, int):
        return _plural(count, "match", "matches")
    if isinstance(count, str) and count.strip():
        return "matches " + " ".join(count.split())  # "matches within limit"
    return "matches unknown"


def _money(amount: Decimal) -> str:
    """Dollars for humans: cents at least, more digits only when the charge has them."""
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{sign}${amount:,.{min(places, 6)}f}"


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:  # the store keeps UTC; a naive time is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def charge_text(amount: Decimal, test_mode: bool) -> str:
    """What an answer cost, in the one wording every status line uses.

    A test key is never debited, but Generect still prices its answers, so the amount is
    shown with "priced, not debited" rather than "charged".

    >>> charge_text(Decimal("0.5"), False), charge_text(Decimal("0.04"), True)
    ('$0.50 charged', '$0.04 priced, not debited')
    """
    return f"{_money(amount)} {'priced, not debited' if test_mode else 'charged'}"


def status_line(info: SearchInfo) -> str:
    """One short line for the status cell.

    >>> from datetime import datetime, UTC
    >>> status_line(SearchInfo(1240, 25, Decimal("0.5"), datetime(2026, 11, 22, 10, 31,
    ...     tzinfo=UTC), from_cache=True, test_mode=False, mode="database"))
    'Generect · 1,240 matches · 25 rows · $0.50 charged · fetched 2026-11-22 10:31 UTC · from cache (no charge now)'
    """
    head = "Generect" if info.mode == "database" else f"Generect {info.mode}"
    parts = [
        head,
        _matches_text(info.results_count),
        _plural(info.rows, "row"),
    ]
    if info.new_rows is not None:
        parts.append(f"{info.new_rows:,} new")
    if info.excluded:
        why = f" ({info.exclusion})" if info.exclusion else ""
        parts.append(f"{info.excluded:,} owned excluded{why}")
    parts += [
        charge_text(info.amount_charged, info.test_mode),
        f"fetched {_when(info.fetched_at)}",
    ]
    if info.from_cache:
        parts.append("from cache (no charge now)")
    if info.test_mode:
        parts.append("TEST MODE")
    return " · ".join(parts)


# --------------------------------------------------------------------------- a failed refresh

STATUS_SEPARATOR = " · "
_FETCHED = re.compile(r"fetched (\d{4}-\d\d-\d\d \d\d:\d\d UTC)")
_ROWS = re.compile(r"(?<![\d,.])(\d[\d,]*) rows?\b")


@dataclass(frozen=True)
class HeldTable:
    """What a status line says about the table already shown under it: its head
    ("Generect", "Generect realtime"), when its data was fetched and how many rows it has."""

    head: str
    fetched: str | None  # "2026-11-22 10:31 UTC", or None when the line does not say
    rows: int | None

    @classmethod
    def from_answer(cls, answer: Any, *, mode: str) -> HeldTable:
        """The table a stored ``engine.Answer`` shows."""
        return cls(
            head="Generect" if mode == "database" else f"Generect {mode}",
            fetched=_when(answer.fetched_at),
            rows=len(answer.result.leads),
        )


def held_table(value: Any) -> HeldTable | None:
    """What a saved status cell says about the table under it, or None when it holds no
    GENERECT table (empty, an error line, "Not fetched yet").

    >>> held_table("Generect · 1,240 matches · 25 rows · $0.50 charged · fetched 2026-11-22 10:31 UTC")
    HeldTable(head='Generect', fetched='2026-11-22 10:31 UTC', rows=25)
    """
    if not isinstance(value, str) or not value.startswith("Generect"):
        return None
    if STATUS_SEPARATOR not in value:
        return None
    head, _, rest = value.partition(STATUS_SEPARATOR)
    fetched = _FETCHED.search(rest)
    rows = _ROWS.search(rest)
    return HeldTable(
        head=head,
        fetched=fetched.group(1) if fetched else None,
        rows=int(rows.group(1).replace(",", "")) if rows else None,
    )


def kept_status_line(
    held: HeldTable, failure: str, *, failed_at: datetime, unknown: bool = False
) -> str:
    """The status line of a table kept because its refresh failed: when the refresh failed,
    what is shown and when it was fetched, then why (the failure's own message).

    ``unknown``: the refresh was sent and its answer lost (it may have been charged); the rows
    are kept all the same, and the line says so.

    >>> from datetime import datetime, UTC
    >>> kept_status_line(HeldTable("Generect", "2026-11-22 10:31 UTC", 25),
    ...     "Cannot reach Generect: check the network.", failed_at=datetime(2026, 12, 3, 8, 40,
    ...     tzinfo=UTC))
    'Generect · refresh failed 2026-12-03 08:40 UTC · showing 25 rows fetched 2026-11-22 10:31 UTC · Cannot reach Generect: check the network.'
    """
    what = "refresh outcome unknown (may have been charged)" if unknown else "refresh failed"
    shown = "showing " + (_plural(held.rows, "row") if held.rows is not None else "the rows")
    shown += f" fetched {held.fetched}" if held.fetched else " fetched earlier"
    reason = " ".join(str(failure).split())
    if len(reason) > CELL_MESSAGE_MAX:
        reason = reason[: CELL_MESSAGE_MAX - 1].rstrip() + "…"
    return STATUS_SEPARATOR.join([held.head, f"{what} {_when(failed_at)}", shown, reason])


def search_table(
    leads: Sequence[Mapping[str, Any]],
    info: SearchInfo,
    fields: Sequence[str] | str | None = None,
    status: bool = True,
) -> list[list[Any]]:
    """The spill of ``=GENERECT_SEARCH``: ``[status row] + [header] + lead rows``.

    The status row holds ``status_line(info)`` in its first cell and ``None`` elsewhere, so
    ``=DROP(A1#,1)`` is a clean table and ``=DROP(A1#,2)`` the rows only. ``status=False``
    leaves the status row out. Raises ``CriteriaError`` for an unknown field.
    """
    table = lead_table(leads, fields)  # rectangular by construction: no pad() copy needed
    if status:
        width = len(table[0])
        table.insert(0, [status_line(info)] + [None] * (width - 1))
    return table
