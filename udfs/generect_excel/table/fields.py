"""Which lead fields a table may show: the catalogue (``FIELD_CATALOGUE``), the ``fields``
argument read and checked before a search is bought (moved out of :mod:`generect_excel.table`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._constants import CELL_MESSAGE_MAX
from ..errors import CriteriaError
from ..lead_fields import LEAD_FIELD_NAMES
from ..vocab import Vocabulary
from .columns import (
    COLUMN_SOURCES,
    DEFAULT_COLUMNS,
    RAW_PREFIX,
    Source,
    WebsiteFromDomain,
    _norm,
    _split_path,
)


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
