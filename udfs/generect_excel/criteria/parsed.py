"""Criteria read so far (:class:`_Parsed`): every criterion's cells converted into request
fields, and all problems raised together as one :class:`~generect_excel.errors.CriteriaError`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import CriteriaError
from ..models import REALTIME_ONLY_FIELDS, Mode, field_problems
from .cells import _CellError, _convert, _is_empty, _Problems, _whole
from .fields import _MAX_CONNECTIONS, _MIN_CONNECTIONS


@dataclass
class _Parsed:
    fields: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)  # every field given -> where
    problems: _Problems = field(default_factory=_Problems)


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
        problems.extend(
            field_problems(mode, parsed.fields, labels=parsed.labels, given=_given(parsed))
        )
    raise CriteriaError(list(dict.fromkeys(problems)))


def _given(parsed: _Parsed) -> list[str]:
    # Every field given, readable or not: an unreadable company still anchors the search.
    return [name.split(".")[0] for name in parsed.seen]
