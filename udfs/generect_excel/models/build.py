"""From API field names to a validated request (:func:`build_request`), the problems an
analyst can act on (never a pydantic error), paging, and the canonical JSON of a body (cache keys)."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import (
    ValidationError,
)

from .._constants import MAX_LIMIT, MAX_OFFSET
from ..errors import CriteriaError
from .requests import (
    _ORDERED_FIELDS,
    ANCHOR_FIELDS,
    REALTIME_FIELDS,
    REALTIME_ONLY_FIELDS,
    LeadSearchRequest,
    Mode,
    RealtimeLeadSearchRequest,
    _paging_rules,
    _unique,
)

__all__ = [
    "build_request",
    "canonical_json",
    "field_problems",
    "parse_mode",
    "request_class",
    "with_paging",
]


def parse_mode(value: Any) -> Mode:
    """``None``/empty -> "database"; "Realtime", " DB " and the like -> the API's mode name."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "database"
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("database", "db"):
            return "database"
        if key in ("realtime", "real-time", "real time", "live"):
            return "realtime"
    raise CriteriaError(f'Mode {value!r} is not valid: use "database" or "realtime".')


def request_class(mode: Mode) -> type[LeadSearchRequest]:
    """The request model for ``mode``."""
    return RealtimeLeadSearchRequest if mode == "realtime" else LeadSearchRequest


def build_request(
    mode: Mode | str,
    fields: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
) -> LeadSearchRequest:
    """Validate ``fields`` (API field names) into the request model of ``mode``.

    ``labels`` maps a field to the name the analyst used for it (e.g. ``"Industry (row 4)"``);
    problems name that label, else the API field. Raises :class:`CriteriaError` listing every
    problem (never a pydantic ``ValidationError``).

    >>> build_request("database", {"seniorities": ["CXO"]}).body()
    {'seniorities': ['c_suite']}
    """
    resolved = parse_mode(mode)
    cls = request_class(resolved)
    try:
        return cls.model_validate(dict(fields))
    except ValidationError as exc:
        problems = _problems(exc, cls, labels or {})
        if not any(error.get("type") == "criteria" for error in exc.errors()):
            # A bad value stops pydantic before the cross-field rules: report the paging
            # limits now too, rather than after the other problems are fixed.
            problems = _unique(problems + _paging_problems(fields, labels or {}))
        raise CriteriaError(problems) from None


def field_problems(
    mode: Mode,
    fields: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    given: Iterable[str] = (),
) -> list[str]:
    """The per-field problems of ``fields`` (unknown fields, bad values) and the paging limits,
    without the other cross-field rules: used to report everything at once when some criteria
    were already dropped as unreadable (a "no filter" verdict would then be misleading).
    ``given`` names fields that were given but unreadable (a company among them means the
    search may be anchored, so the paging limits are not applied)."""
    cls = request_class(mode)
    problems: list[str] = []
    try:
        cls.model_validate(dict(fields))
    except ValidationError as exc:
        problems = _problems(exc, cls, labels or {}, cross_field=False)
    if not any(name in ANCHOR_FIELDS for name in given):
        problems = _unique(problems + _paging_problems(fields, labels or {}))
    return problems


def _paging_problems(fields: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """The paging limits of :func:`_paging_rules` as sentences, for raw ``fields``."""
    if any(fields.get(name) is not None for name in ANCHOR_FIELDS):
        return []
    return [
        f"{', '.join(_label(labels, f) for f in names)}: {message}"
        for names, message in _paging_rules(fields.get("limit_by"), fields.get("offset_by"))
    ]


def with_paging(
    request: LeadSearchRequest,
    *,
    limit: int | float | None,
    offset: int | float | None,
) -> LeadSearchRequest:
    """A validated copy of ``request`` with ``limit_by``/``offset_by`` replaced.

    ``None`` keeps the request's own value. Whole floats (Excel's numbers) are accepted;
    anything else, or a value out of range, raises :class:`CriteriaError`.
    """
    body = request.body()
    labels = {}
    for name, value, label in (("limit_by", limit, "Limit"), ("offset_by", offset, "Offset")):
        if value is None:
            continue
        body[name] = _whole_number(value, label)
        labels[name] = label
    return build_request(request.mode, body, labels=labels)


def _whole_number(value: Any, label: str) -> int:
    if isinstance(value, bool):
        raise CriteriaError(f"{label}: {value} is not a number.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise CriteriaError(f"{label}: {value!r} is not a whole number.")


def canonical_json(body: Mapping[str, Any]) -> str:
    """Stable JSON for cache keys: sorted keys, any-of lists sorted, compact separators.

    Two bodies that ask the same question give the same text, whatever the order the analyst
    typed the values in. ``offset_by`` 0 is left out: skipping no leads is the API's default,
    so ``=GENERECT_SEARCH(A1, 25, 0)`` and ``=GENERECT_SEARCH(A1, 25)`` share one stored answer.
    """

    def sort_key(item: Any) -> tuple[str, str]:
        return (type(item).__name__, json.dumps(item, sort_keys=True, ensure_ascii=False))

    def canon(value: Any, top_field: str | None) -> Any:
        if isinstance(value, Mapping):
            return {str(k): canon(v, None) for k, v in value.items()}
        if isinstance(value, list | tuple):
            items = [canon(v, None) for v in value]
            scalars = all(not isinstance(v, dict | list) for v in items)
            if top_field is not None and top_field not in _ORDERED_FIELDS and scalars:
                items = sorted(items, key=sort_key)
            return items
        return value

    data = {str(k): canon(v, str(k)) for k, v in body.items()}
    if data.get("offset_by") == 0 and not isinstance(data["offset_by"], bool):
        del data["offset_by"]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- turning pydantic's errors into sentences -------------------------------------------------

_RANGE_HINTS = {
    "years_in_position": "1 to 5 (1 = under 1 year, 5 = over 10 years)",
    "years_in_company": "1 to 5 (1 = under 1 year, 5 = over 10 years)",
    "years_of_experience": "1 to 5 (1 = under 1 year, 5 = over 10 years)",
    "limit_by": f"1 to {MAX_LIMIT}",
    "offset_by": f"0 to {MAX_OFFSET}",
    "company_id": "a LinkedIn company ID (a positive whole number)",
    "max_profiles_scanned": "1 or more",
}


def _label(labels: Mapping[str, str], field: str) -> str:
    return labels.get(field, field)


def _problems(
    exc: ValidationError,
    cls: type[LeadSearchRequest],
    labels: Mapping[str, str],
    *,
    cross_field: bool = True,
) -> list[str]:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc", ())
        kind = error.get("type", "")
        ctx = error.get("ctx") or {}
        field = str(loc[0]) if loc else ""
        value = error.get("input")
        if kind == "criteria":
            if not cross_field:
                continue
            for fields, message in ctx.get("problems", []):
                names = ", ".join(_label(labels, f) for f in fields)
                problems.append(f"{names}: {message}" if names else message)
            continue
        label = _label(labels, field)
        if kind == "extra_forbidden":
            problems.append(_unknown_field(field, label, cls))
        elif kind == "unknown_value":
            problems.extend(f"{label}: {p}" for p in ctx.get("problems", [ctx.get("message")]))
        elif kind in ("int_type", "int_from_float", "int_parsing"):
            problems.append(f"{label}: {_show(value)} is not a whole number")
        elif kind == "bool_type":
            problems.append(f"{label}: {_show(value)} is not TRUE or FALSE")
        elif kind == "string_type":
            problems.append(f"{label}: {_show(value)} is not text")
        elif kind == "list_type":
            problems.append(f"{label}: expected a list of values, got {_show(value)}")
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            hint = _RANGE_HINTS.get(field)
            if field == "num_of_connections" or hint is None:
                hint = "0 or more" if kind.startswith("greater") else "a smaller number"
            problems.append(f"{label}: {_show(value)} is out of range; use {hint}")
        elif kind in ("model_type", "dict_type"):
            problems.append(f"{label}: expected min and max, got {_show(value)}")
        else:
            message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
            problems.append(f"{label}: {message}")
    return _unique(problems) or (["Invalid criteria."] if cross_field else [])


def _unknown_field(field: str, label: str, cls: type[LeadSearchRequest]) -> str:
    if field in REALTIME_ONLY_FIELDS and cls.mode == "database":
        return f"{label} works only in realtime mode: use mode realtime"
    choices = list(cls.model_fields)
    close = difflib.get_close_matches(field, choices, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(field, sorted(REALTIME_FIELDS), n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f'Unknown field "{label}"{hint}'


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return repr(value) if not isinstance(value, list | dict) else json.dumps(value, default=str)
