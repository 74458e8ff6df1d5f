"""Request validation the way Generect answers it, written independently of the client's models.

The sandbox is a second opinion on :mod:`generect_excel.models`: it reads the spec's
``LeadSearchRequest`` / ``RealtimeLeadSearchRequest`` itself and answers with Generect's
messages, so a client-side rule that drifts from the API shows up as a sandbox 400 in tests.

Order of checks (first failure wins): the body is a JSON object; a realtime-only field at a
database endpoint (a plain-string detail pointing at the realtime endpoint); per-field errors
(unknown field, wrong type, unknown vocabulary value, out-of-range number) as one field map;
then cross-field rules (one company identifier, at least one filter, paging bounds) under
``non_field_errors``. Types are the spec's, strictly: ``1.0`` is not an integer and ``"true"``
is not a boolean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._constants import MAX_LIMIT, MAX_LIMIT_PLUS_OFFSET, MAX_OFFSET
from ..vocab import get_vocabulary

__all__ = [
    "ANCHOR_FIELDS",
    "DATABASE_FIELDS",
    "DEFAULT_LIMIT",
    "REALTIME_ONLY_FIELDS",
    "InvalidRequest",
    "is_anchored",
    "paging",
    "validate",
]

DEFAULT_LIMIT = 25  # what a search without limit_by returns


class InvalidRequest(Exception):
    """A 400 answer: ``detail`` is a string or a ``{field: [messages]}`` map."""

    def __init__(self, detail: str | dict[str, list[str]]) -> None:
        super().__init__(str(detail))
        self.detail = detail


@dataclass(frozen=True)
class _Field:
    kind: str  # str, int, bool, str_list, int_list, vocab_list, personas, range, email_list
    vocab: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    filter: bool = True  # counts as "a filter" when set (exclusions and options do not)


_STR_LIST = _Field("str_list")
_EXCLUDE = _Field("str_list", filter=False)

DATABASE_FIELDS: dict[str, _Field] = {
    "job_titles": _STR_LIST,
    "seniorities": _Field("vocab_list", "seniorities"),
    "locations": _STR_LIST,
    "exclude_locations": _EXCLUDE,
    "company_locations": _STR_LIST,
    "exclude_company_locations": _EXCLUDE,
    "company_industries": _Field("vocab_list", "company_industries"),
    "exclude_company_industries": _Field("vocab_list", "company_industries", filter=False),
    "company_headcounts": _Field("vocab_list", "company_headcounts"),
    "exclude_company_headcounts": _Field("vocab_list", "company_headcounts", filter=False),
    "company_types": _Field("vocab_list", "company_types"),
    "company_name": _Field("str"),
    "company_link": _Field("str"),
    "company_id": _Field("int", minimum=1),
    "exclude_names": _EXCLUDE,
    "exclude_ids": _EXCLUDE,
    "filter_empty_vars": _Field("vocab_list", "filter_empty_vars", filter=False),
    "limit_by": _Field("int", minimum=1, filter=False),
    "offset_by": _Field("int", minimum=0, filter=False),
    "strict": _Field("str_list", filter=False),
    "skip_truncated_names": _Field("bool", filter=False),
    # The seeds' pages list it; the newer spec dropped it. Accepted, and it means what it says.
    "without_company": _Field("bool", filter=False),
}

REALTIME_ONLY_FIELDS: dict[str, _Field] = {
    "personas": _Field("personas"),
    "first_name": _STR_LIST,
    "last_name": _STR_LIST,
    "lead_industries": _Field("vocab_list", "company_industries"),
    "exclude_lead_industries": _Field("vocab_list", "company_industries", filter=False),
    "past_job_titles": _STR_LIST,
    "exclude_functions": _EXCLUDE,
    "past_company_ids": _STR_LIST,
    "exclude_past_company_ids": _EXCLUDE,
    "exclude_current_company_ids": _EXCLUDE,
    "groups_keywords": _STR_LIST,
    "years_of_experience": _Field("int_list", minimum=1, maximum=5),
    "num_of_connections": _Field("range"),
    "mentioned_in_news": _Field("bool"),
    "keywords": _STR_LIST,
    "functions": _STR_LIST,
    "past_company_names": _STR_LIST,
    "schools": _Field("int_list"),
    "groups": _Field("int_list"),
    "years_in_position": _Field("int_list", minimum=1, maximum=5),
    "years_in_company": _Field("int_list", minimum=1, maximum=5),
    "changed_jobs": _Field("bool"),
    "posted_on_linkedin": _Field("bool"),
    "linkedin_filter_link": _Field("str"),
    "include_full_profile": _Field("bool", filter=False),
    "find_by_emails": _Field("email_list"),
    "include_total_count": _Field("bool", filter=False),
    "max_profiles_scanned": _Field("int", minimum=1, filter=False),
}

ANCHOR_FIELDS = ("company_name", "company_link", "company_id", "find_by_emails")
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")


def _type_name(value: Any) -> str:
    return {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "dict"}.get(
        type(value), type(value).__name__
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: Any, spec: _Field) -> list[str]:
    if not _is_int(value):
        return ["A valid integer is required."]
    if spec.minimum is not None and value < spec.minimum:
        return [f"Ensure this value is greater than or equal to {spec.minimum}."]
    if spec.maximum is not None and value > spec.maximum:
        return [f"Ensure this value is less than or equal to {spec.maximum}."]
    return []


def _check_field(value: Any, spec: _Field) -> list[str]:
    """The messages for one field's value (empty when it is valid)."""
    if value is None:
        return ["This field may not be null."]
    kind = spec.kind
    if kind == "str":
        if not isinstance(value, str):
            return ["Not a valid string."]
        return [] if value.strip() else ["This field may not be blank."]
    if kind == "int":
        return _check_int(value, spec)
    if kind == "bool":
        return [] if isinstance(value, bool) else ["Must be a valid boolean."]
    if kind == "range":
        if not isinstance(value, dict):
            return [f'Expected a dictionary of items but got type "{_type_name(value)}".']
        problems = [f"Unknown key {key}." for key in value if key not in ("min", "max")]
        problems += [
            f"{key}: A valid integer is required."
            for key in ("min", "max")
            if key in value and not _is_int(value[key])
        ]
        return problems
    if not isinstance(value, list):
        return [f'Expected a list of items but got type "{_type_name(value)}".']
    problems = []
    if kind == "personas":
        for item in value:
            if not isinstance(item, list):
                problems.append(f'Expected a list of items but got type "{_type_name(item)}".')
        return problems
    if kind == "int_list":
        for item in value:
            problems += _check_int(item, spec)
        return list(dict.fromkeys(problems))
    for item in value:
        if not isinstance(item, str):
            problems.append("Not a valid string.")
        elif not item.strip():
            problems.append("This field may not be blank.")
        elif kind == "vocab_list" and item not in get_vocabulary(spec.vocab or "").values:
            # Generect matches its vocabularies exactly: "CXO" and "10001+" are refused.
            problems.append(f"Object with name={item} does not exist.")
        elif kind == "email_list" and not _EMAIL.match(item):
            problems.append("Enter a valid email address.")
    return list(dict.fromkeys(problems))


def _is_set(value: Any) -> bool:
    """Whether a (valid) field value selects anything: empty lists and False do not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, list | dict | str):
        return bool(value)
    return value is not None


def validate(body: Any, mode: str) -> dict[str, Any]:
    """Check a decoded JSON body for ``mode``; return it, or raise :class:`InvalidRequest`."""
    if not isinstance(body, Mapping):
        raise InvalidRequest(
            {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {_type_name(body)}."
                ]
            }
        )
    if mode == "database":
        for name in body:
            if name in REALTIME_ONLY_FIELDS:
                raise InvalidRequest(
                    f"{name} is not supported in database mode for leads. Use realtime endpoint."
                )
    fields = DATABASE_FIELDS if mode == "database" else {**DATABASE_FIELDS, **REALTIME_ONLY_FIELDS}
    errors: dict[str, list[str]] = {}
    for name, value in body.items():
        spec = fields.get(name)
        if spec is None:
            errors[name] = ["Unknown field."]
            continue
        problems = _check_field(value, spec)
        if problems:
            errors[name] = problems
    if body.get("include_full_profile") is True and "include_full_profile" not in errors:
        # Its price (one enrichment per lead) is not published, so the sandbox cannot bill it.
        errors["include_full_profile"] = ["Full profiles are not available in the sandbox."]
    if errors:
        raise InvalidRequest(errors)

    cross: list[str] = []
    anchors = [name for name in ANCHOR_FIELDS if _is_set(body.get(name))]
    if len(anchors) > 1:
        cross.append(
            "Only one of company_name, company_link, company_id or find_by_emails may be given."
        )
    if anchors and body.get("without_company") is True:
        cross.append("without_company cannot be combined with a company.")
    emails = body.get("find_by_emails") or []
    domains = {m.group(1).lower() for e in emails if (m := _EMAIL.match(e))}
    if len(domains) > 1:
        cross.append("All find_by_emails addresses must share one domain.")
    if not any(spec.filter and _is_set(body.get(name)) for name, spec in fields.items()):
        cross.append("At least one filter is required.")
    limit, offset = body.get("limit_by"), body.get("offset_by")
    if not anchors:
        field_errors: dict[str, list[str]] = {}
        if limit is not None and limit > MAX_LIMIT:
            field_errors["limit_by"] = [f"Ensure this value is less than or equal to {MAX_LIMIT}."]
        if offset is not None and offset > MAX_OFFSET:
            field_errors["offset_by"] = [
                f"Ensure this value is less than or equal to {MAX_OFFSET}."
            ]
        if field_errors:
            raise InvalidRequest(field_errors)
        if limit is not None and offset is not None and limit + offset > MAX_LIMIT_PLUS_OFFSET:
            cross.append(
                f"limit_by + offset_by must not exceed {MAX_LIMIT_PLUS_OFFSET} for searches "
                "without a company."
            )
    if cross:
        raise InvalidRequest({"non_field_errors": cross})
    return dict(body)


def paging(body: Mapping[str, Any]) -> tuple[int, int]:
    """(limit, offset) of a valid body; without limit_by a search returns
    :data:`DEFAULT_LIMIT` rows, cut so that a filter-only page stays within 2400."""
    offset = body.get("offset_by") or 0
    limit = body.get("limit_by")
    anchored = any(_is_set(body.get(name)) for name in ANCHOR_FIELDS)
    if limit is None:
        limit = (
            DEFAULT_LIMIT
            if anchored
            else max(0, min(DEFAULT_LIMIT, MAX_LIMIT_PLUS_OFFSET - offset))
        )
    cap = body.get("max_profiles_scanned")
    if cap is not None:
        limit = min(limit, cap)  # the spec: a limit_by above it is lowered to it
    return limit, offset


def is_anchored(body: Mapping[str, Any]) -> bool:
    return any(_is_set(body.get(name)) for name in ANCHOR_FIELDS)
