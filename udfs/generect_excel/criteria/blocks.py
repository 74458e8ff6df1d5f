"""A criteria range -> request fields: the layout found (vertical or horizontal), the lines
read label by label (the rules: :mod:`generect_excel.criteria`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import LeadSearchRequest, Mode, build_request, parse_mode
from .cells import _is_empty, _show
from .fields import _is_header, _key, _suggest_labels, field_for_label
from .parsed import _finish, _Parsed, _raise


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


Origin = tuple[int, int]
"""The sheet row and column (1-based) of a criteria range's top left cell, when known."""


def _position(axis: str, index: int, origin: Origin | None) -> str:
    """Where line ``index`` (0-based, from the range's top left cell) is, as the analyst finds
    it: the sheet's own row number or column letter when the range's address is known (the
    refresher knows it), else "row N of the criteria" (a worksheet function is handed the
    values only; a bare "row 2" would point at the sheet's row 2)."""
    if origin is None:
        return f"{axis} {index + 1} of the criteria"
    if axis == "row":
        return f"row {origin[0] + index}"
    return f"column {_column_letter(origin[1] + index)}"


def _column_letter(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _lines(grid: _Grid, origin: Origin | None = None) -> list[tuple[Any, list[Any], str]]:
    """(label cell, value cells, where) per line (see :func:`_position`)."""
    rows = grid.rows
    if _is_horizontal(rows):
        return [
            (rows[0][c], [r[c] for r in rows[1:]], _position("column", grid.left + c, origin))
            for c in range(len(rows[0]))
        ]
    return [(r[0], r[1:], _position("row", grid.top + i, origin)) for i, r in enumerate(rows)]


def _where(label: Any, position: str) -> str:
    text = label.strip() if isinstance(label, str) else _show(label)
    return f"{text} ({position})"


def _parse(block: Any, origin: Origin | None = None) -> _Parsed:
    parsed = _Parsed()
    grid = _grid(block)
    if not grid.rows:
        parsed.problems.items.append(
            "The criteria range is empty: fill in labels (e.g. Job title) and their values."
        )
        return parsed
    lines = _lines(grid, origin)
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


def parse_block(
    block: Sequence[Sequence[Any]] | Sequence[Any] | Any, *, origin: Origin | None = None
) -> dict[str, Any]:
    """A criteria range (as xlwings hands it) -> request fields (API name -> value).

    Values are split and typed but not yet normalized (that is the request model's job).
    Raises :class:`CriteriaError` naming the row or column label of every problem: "row 2 of
    the criteria", or the sheet's "row 7" / "column C" when ``origin`` (the sheet row and
    column of the range's top left cell) is given.

    >>> parse_block([["Job titles", "CEO; Founder"], ["Location", "San Francisco, CA"]])
    {'job_titles': ['CEO', 'Founder'], 'locations': ['San Francisco, CA']}
    """
    parsed = _parse(block, origin)
    _raise(parsed)
    return parsed.fields


def criteria_from_block(
    block: Any, *, mode: Mode | str = "database", origin: Origin | None = None
) -> LeadSearchRequest:
    """A criteria range -> a validated request for ``mode`` (raises :class:`CriteriaError`).
    ``origin``: the sheet row and column of the range's top left cell, when known (problems
    then give the sheet's row or column; see :func:`parse_block`).

    >>> criteria_from_block([["Seniority", "CXO"], ["Company size", "10,000+"]]).body()
    {'seniorities': ['c_suite'], 'company_headcounts': ['10 000+']}
    """
    resolved = parse_mode(mode)
    parsed = _parse(block, origin)
    _raise(parsed, resolved)
    return build_request(resolved, parsed.fields, labels=parsed.labels)
