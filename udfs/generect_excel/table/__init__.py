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
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal  # noqa: F401 - the status examples run in this module (__test__)
from typing import Any

from ..cell_values import (
    _ILLEGAL,  # noqa: F401 - re-exported: what a cell cannot hold, as tests read it
    _SHORT_TEXT,
    Cell,
    to_cell,
)
from ..status import (
    HeldTable,
    SearchInfo,
    charge_text,
    held_table,
    kept_status_line,
    status_line,
)
from .columns import (
    _CHAINS,
    COLUMN_SOURCES,
    DEFAULT_COLUMNS,
    Join,
    WebsiteFromDomain,
    _column_reader,
    _norm,
    _path_getter,
    _split_path,
)
from .columns import RAW_PREFIX as RAW_PREFIX  # re-exported: companies.py reads it here
from .columns import Source as Source
from .fields import (
    FIELD_CATALOGUE,
    _raw_path,
    available_fields,
    check_fields,
    checked_fields,
    parse_fields,
)

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

# The examples of the status helpers (moved to status.py) and of parse_fields (moved to
# fields.py) still run with this module's.
__test__ = {
    f.__name__: f for f in (charge_text, status_line, held_table, kept_status_line, parse_fields)
}


def _row_keys(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Normalized top-level name -> the spellings the rows use (union over all rows)."""
    keys: set[Any] = set()
    for row in rows:
        keys.update(row.keys())
    spellings: dict[str, list[str]] = {}
    for key in sorted(k for k in keys if isinstance(k, str)):
        spellings.setdefault(_norm(key), []).append(key)
    for norm, found in spellings.items():
        found.sort(key=functools.partial(operator.ne, norm))  # the exact spelling first, if any
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
    columns = []
    for name in names:
        norm = _norm(name)
        if norm not in COLUMN_SOURCES:
            if spellings is None:
                spellings = _row_keys(rows)
            read = _raw_reader(name, spellings)
            columns.append([read(row) for row in rows])
            continue
        read = _column_reader(norm)
        key = _CHAINS[norm][0]
        if type(key) is not str:
            columns.append([read(row) for row in rows])
            continue
        # Column by column, the usual cell inline: the chain's first key holding short clean
        # text, as the reader would return it; any other cell goes through the whole chain.
        # (A stored search is shaped at each recalculation in a fresh process: this halves it.)
        columns.append(
            [
                value
                if type(value := row.get(key)) is str
                and 0 < len(value) <= _SHORT_TEXT
                and value.isprintable()
                and not value.isspace()
                else read(row)
                for row in rows
            ]
        )
    table: list[list[Any]] = [list(names)]
    table.extend(map(list, zip(*columns, strict=True)))
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
