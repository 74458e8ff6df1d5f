"""Company search in the sandbox: Generect's ``/search/{mode}/companies/`` and their counts.

The companies are the population's employers (drawn and well-known ones alike), each with its
LinkedIn id, name, domain, industry, headcount bucket, type and headquarters. A body is checked
as Generect's ``CompanySearchRequest`` (``RealtimeCompanySearchRequest`` adds keywords and
more): unknown fields, values outside the industries, headcounts and company types
vocabularies (``{"headcounts": ["Object with name=999 does not exist."]}``), ``limit_by``
1-1600, ``offset_by`` 0-1599, and at least one filter. Companies come back in a stable order
(by LinkedIn id), a page at a time; exclusions (``exclude_ids``, ``exclude_domains``) apply
before paging, as the spec says the database mode does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _constants as C
from .population import Population, norm
from .search import _place_ids
from .validation import DEFAULT_LIMIT, InvalidRequest, _check_field, _Field, _type_name

__all__ = ["company_row", "matching_companies", "validate_companies"]

_TEXT = _Field("str_list")
_OPTION = _Field("str_list", filter=False)

COMPANY_FIELDS: dict[str, _Field] = {
    "industries": _Field("vocab_list", "company_industries"),
    "exclude_industries": _Field("vocab_list", "company_industries", filter=False),
    "sub_industries": _Field("bool", filter=False),
    "headcounts": _Field("vocab_list", "company_headcounts"),
    "locations": _TEXT,
    "exclude_locations": _OPTION,
    "company_types": _Field("vocab_list", "company_types"),
    "exclude_ids": _OPTION,
    "exclude_domains": _OPTION,
    "limit_by": _Field("int", minimum=1, maximum=C.MAX_COMPANY_LIMIT, filter=False),
    "offset_by": _Field("int", minimum=0, maximum=C.MAX_COMPANY_OFFSET, filter=False),
    "strict": _OPTION,
    "apply_domain_blocklist": _Field("bool", filter=False),
}
REALTIME_COMPANY_FIELDS: dict[str, _Field] = {
    "keywords": _TEXT,
    "company_names": _TEXT,
    "linkedins_links": _TEXT,
    "hiring_on_linkedin": _Field("bool"),
    "include_total_count": _Field("bool", filter=False),
}


def validate_companies(body: Any, mode: str) -> dict[str, Any]:
    """Check a decoded company search body for ``mode``; return it or raise InvalidRequest."""
    if not isinstance(body, Mapping):
        raise InvalidRequest(
            {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {_type_name(body)}."
                ]
            }
        )
    fields = COMPANY_FIELDS if mode == "database" else {**COMPANY_FIELDS, **REALTIME_COMPANY_FIELDS}
    errors: dict[str, list[str]] = {}
    for name, value in body.items():
        spec = fields.get(name)
        if spec is None:
            errors[name] = ["Unknown field."]
            continue
        problems = _check_field(value, spec)
        if problems:
            errors[name] = problems
    if errors:
        raise InvalidRequest(errors)
    if not any(
        fields[name].filter and value not in (None, [], False) for name, value in body.items()
    ):
        raise InvalidRequest("At least one filter is required.")
    return dict(body)


def _hq_places(pop: Population, values: list[str], strict: bool) -> set[int]:
    places: set[int] = set()
    for value in values:
        places |= _place_ids(pop, value, strict)
    return places


def _keyword_match(pop: Population, c: int, keywords: list[str]) -> bool:
    text = norm(f"{pop.co_name[c]} {pop.industries[pop.co_industry[c]]}")
    return any(norm(word) in text for word in keywords)


def _by_linkedin_id(pop: Population) -> list[int]:
    return sorted(range(len(pop.co_name)), key=pop.co_linkedin_id.__getitem__)


def matching_companies(pop: Population, body: Mapping[str, Any]) -> list[int]:
    """The companies (indexes) matching a validated body, in the stable order (LinkedIn id)."""
    industry_of = pop.lazy("industry_index", lambda: {n: i for i, n in enumerate(pop.industries)})
    headcount_of = {name: i for i, name in enumerate(pop.headcounts)}
    type_of = {name: i for i, name in enumerate(pop.company_types)}
    strict = "locations" in (body.get("strict") or []) or "company_locations" in (
        body.get("strict") or []
    )

    def wanted(field: str, index: Mapping[str, int]) -> set[int] | None:
        values = body.get(field)
        return None if not values else {index[v] for v in values}

    industries = wanted("industries", industry_of)
    excluded_industries = wanted("exclude_industries", industry_of) or set()
    headcounts = wanted("headcounts", headcount_of)
    types = wanted("company_types", type_of)
    places = _hq_places(pop, body["locations"], strict) if body.get("locations") else None
    excluded_places = _hq_places(pop, body.get("exclude_locations") or [], False)
    excluded_ids = {str(v).strip() for v in body.get("exclude_ids") or []}
    excluded_domains = {norm(v) for v in body.get("exclude_domains") or []}
    keywords = body.get("keywords") or []
    names = {norm(v) for v in body.get("company_names") or []}
    found = []
    for c in pop.lazy("companies_by_id", lambda: _by_linkedin_id(pop)):
        if industries is not None and pop.co_industry[c] not in industries:
            continue
        if pop.co_industry[c] in excluded_industries:
            continue
        if headcounts is not None and pop.co_headcount[c] not in headcounts:
            continue
        if types is not None and pop.co_type[c] not in types:
            continue
        if places is not None and pop.co_hq[c] not in places:
            continue
        if pop.co_hq[c] in excluded_places:
            continue
        if str(pop.co_linkedin_id[c]) in excluded_ids or norm(pop.co_domain[c]) in excluded_domains:
            continue
        if keywords and not _keyword_match(pop, c, keywords):
            continue
        if names and norm(pop.co_name[c]) not in names and norm(pop.co_domain[c]) not in names:
            continue
        found.append(c)
    return found


def company_page(found: list[int], body: Mapping[str, Any]) -> list[int]:
    """The page of ``found`` that ``limit_by``/``offset_by`` ask for."""
    limit = int(body.get("limit_by") or DEFAULT_LIMIT)
    offset = int(body.get("offset_by") or 0)
    return found[offset : offset + limit]


def company_row(pop: Population, c: int) -> dict[str, Any]:
    """One company as the search answers it (the spec's example shows ``linkedin_id``,
    ``name`` and ``domain``; the rest is what an account list needs)."""
    return {
        "linkedin_id": str(pop.co_linkedin_id[c]),
        "name": pop.co_name[c],
        "domain": pop.co_domain[c],
        "industry": pop.industries[pop.co_industry[c]],
        "headcount": pop.headcounts[pop.co_headcount[c]],
        "type": pop.company_types[pop.co_type[c]],
        "location": pop.place_text[pop.co_hq[c]],
        "linkedin_url": pop.company_url(c),
        "website": pop.company_website(c),
    }
