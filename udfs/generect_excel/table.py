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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal  # noqa: F401 - the status examples run in this module (__test__)
from typing import Any

from ._constants import CELL_MESSAGE_MAX
from .cell_values import (
    _ILLEGAL,  # noqa: F401 - re-exported: what a cell cannot hold, as tests read it
    _MISSING,
    _SHORT_TEXT,
    Cell,
    _fit_text,
    _has_value,
    to_cell,
)
from .errors import CriteriaError
from .lead_fields import LEAD_FIELD_NAMES
from .status import (
    HeldTable,
    SearchInfo,
    charge_text,
    held_table,
    kept_status_line,
    status_line,
)
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

# The examples of the status helpers (moved to status.py) still run with this module's.
__test__ = {f.__name__: f for f in (charge_text, status_line, held_table, kept_status_line)}


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
