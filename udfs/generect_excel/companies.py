"""Company search: account lists by industry, headcount, location and type.

What is new about it next to lead search, and only that (the operations themselves are
described in :mod:`generect_excel.operations`; storing, coalescing, pricing and the ledger are
the engine's, as for every operation):

- **The request.** A criteria range is read exactly as for leads (the same labels, the same
  vocabulary checks: industries spelled as LinkedIn does, company sizes, company types), then
  mapped onto Generect's ``CompanySearchRequest``: ``Industry`` -> ``industries``, ``Company
  size`` -> ``headcounts``, ``HQ location`` (or ``Location``) -> ``locations``, ``Company type``
  -> ``company_types``, their exclusions, ``Keywords`` in realtime mode, and the page
  (``limit_by`` 1-1600, ``offset_by`` 0-1599). A criterion that does not describe a company
  (job titles, seniority...) is refused before any call, naming it: it would otherwise be
  dropped silently and the list bought would not be the one asked for.
- **The table.** Company rows -> a status row, a header row and one row per company, with
  :data:`DEFAULT_COMPANY_COLUMNS` unless other fields are named.
- **The worksheet functions.** ``GENERECT_COMPANIES`` (:func:`run_companies`) and
  ``GENERECT_COMPANY_COUNT`` (:func:`run_company_count`): the same argument rules as
  GENERECT_SEARCH and GENERECT_COUNT (:mod:`generect_excel.functions`), checked before any
  call; the registry of worksheet functions names their check and evaluation here.

Core: no xlwings or openpyxl.

    request = company_request([["Industry", "Software Development"], ["Company size", "51-200"]])
    request.body()  # {'headcounts': ['51-200'], 'industries': ['Software Development']}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import _constants as C
from .errors import CriteriaError
from .functions import (
    DEFAULT_SEARCH_LIMIT,
    Outcome,
    _block,
    _count_value,
    _memoized_request,
    _page_number,
    scalar,
)
from .ledger import Origin
from .models import LeadSearchRequest, parse_mode
from .table import RAW_PREFIX, SearchInfo, parse_fields, status_line, to_cell

__all__ = [
    "COMPANY_FIELDS",
    "evaluate_companies",
    "evaluate_company_count",
    "request_for_companies",
    "request_for_company_count",
    "run_companies",
    "run_company_count",
    "DEFAULT_COMPANY_COLUMNS",
    "CompanySearchRequest",
    "check_company_fields",
    "company_info",
    "company_request",
    "company_request_from",
    "company_table",
]

# Lead criteria fields -> the company request's fields (several may feed one).
_COMPANY_FIELDS_OF = {
    "company_industries": "industries",
    "exclude_company_industries": "exclude_industries",
    "company_headcounts": "headcounts",
    "company_locations": "locations",
    "locations": "locations",  # "Location" in a company list means where the company is
    "exclude_company_locations": "exclude_locations",
    "exclude_locations": "exclude_locations",
    "company_types": "company_types",
    "keywords": "keywords",  # realtime only, as for leads
    "limit_by": "limit_by",
    "offset_by": "offset_by",
}
_FIELD_LABELS = {
    "company_industries": "Industry",
    "exclude_company_industries": "Exclude industries",
    "company_headcounts": "Company size",
    "company_locations": "HQ location",
    "company_types": "Company type",
}

#: The columns of a company table when no fields are named.
DEFAULT_COMPANY_COLUMNS = (
    "name",
    "domain",
    "industry",
    "headcount",
    "location",
    "type",
    "linkedin_url",
    "linkedin_id",
)
#: The company fields a table may name (``raw:NAME`` reaches any other field of the rows).
COMPANY_FIELDS = (*DEFAULT_COMPANY_COLUMNS, "website", "description", "founded", "followers")


@dataclass(frozen=True, eq=False)
class CompanySearchRequest:
    """A company search (or count) request: its mode and the JSON body to send.

    Build it with :func:`company_request`. Frozen; compared by identity, as the engine keeps
    what it worked out per request object."""

    mode: str
    fields: tuple[tuple[str, Any], ...]

    def body(self) -> dict[str, Any]:
        """The JSON body to send."""
        return {
            name: list(value) if isinstance(value, tuple) else value for name, value in self.fields
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.mode!r}, {self.body()!r})"


def company_request_from(request: LeadSearchRequest) -> CompanySearchRequest:
    """The company request asking what a (validated) lead criteria request says of companies:
    CriteriaError for anything else, or a page a company search cannot return."""
    return _from_lead_request(request)


def _from_lead_request(request: LeadSearchRequest) -> CompanySearchRequest:
    body = request.body()
    other = [name for name in body if name not in _COMPANY_FIELDS_OF]
    if other:
        names = ", ".join(sorted(other))
        raise CriteriaError(
            f"Not a company filter: {names}. A company search takes Industry, Company size, HQ "
            "location, Company type (and Keywords in realtime mode); use GENERECT_SEARCH for "
            "leads."
        )
    mapped: dict[str, list[Any] | int] = {}
    for name, value in body.items():
        target = _COMPANY_FIELDS_OF[name]
        if isinstance(value, list):
            kept = mapped.setdefault(target, [])
            assert isinstance(kept, list)
            kept.extend(v for v in value if v not in kept)
        else:
            mapped[target] = value
    limit, offset = mapped.get("limit_by"), mapped.get("offset_by")
    if isinstance(limit, int) and limit > C.MAX_COMPANY_LIMIT:
        raise CriteriaError(
            f"Limit: {limit:,} is more than a company search returns ({C.MAX_COMPANY_LIMIT:,} at "
            "most). Ask for fewer and page with the offset."
        )
    if isinstance(offset, int) and offset > C.MAX_COMPANY_OFFSET:
        raise CriteriaError(
            f"Offset: {offset:,} is past the last company a search can page to "
            f"({C.MAX_COMPANY_OFFSET:,})."
        )
    fields = tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in sorted(mapped.items())
    )
    return CompanySearchRequest(str(request.mode), fields)


def company_request(
    criteria: Any,
    *,
    mode: str = "database",
    limit: Any = None,
    offset: Any = None,
    origin: tuple[int, int] | None = None,
) -> CompanySearchRequest:
    """The validated company request for a criteria range (raises CriteriaError; free).

    ``limit``/``offset`` replace the criteria's own (``None`` keeps them); ``origin`` is the
    range's top left cell (row, column) when known, for messages naming the sheet's rows."""
    from .criteria import criteria_from_block, with_paging

    request = criteria_from_block(criteria, mode=mode, origin=origin)
    if limit is not None or offset is not None:
        request = with_paging(request, limit=limit, offset=offset)
    return _from_lead_request(request)


def _is_company_field(name: str) -> bool:
    return name.lower() in COMPANY_FIELDS or (
        name.lower().startswith(RAW_PREFIX) and bool(name[len(RAW_PREFIX) :].strip())
    )


def check_company_fields(value: Any) -> list[str] | None:
    """The columns asked for (None: the default ones); CriteriaError, before anything is
    bought, for a name that is not a company field."""
    names = parse_fields(value)
    if not names:
        return None
    unknown = [name for name in names if not _is_company_field(name)]
    if unknown:
        raise CriteriaError(
            f"Unknown company field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Use {', '.join(COMPANY_FIELDS)}, or raw:NAME for another field of the rows."
        )
    return names


def _read(row: Mapping[str, Any], name: str) -> Any:
    key = name[len(RAW_PREFIX) :].strip() if name.lower().startswith(RAW_PREFIX) else name
    if key in row:
        return to_cell(row[key])
    lowered = key.lower()
    for field, value in row.items():
        if str(field).lower() == lowered:
            return to_cell(value)
    return None


def company_table(
    companies: Sequence[Mapping[str, Any]],
    info: SearchInfo,
    fields: Sequence[str] | None = None,
) -> list[list[Any]]:
    """The spill of ``=GENERECT_COMPANIES``: a status row (``=DROP(A1#,1)`` leaves a clean
    table), a header row, one row per company."""
    names = list(fields or DEFAULT_COMPANY_COLUMNS)
    rows = [row if isinstance(row, Mapping) else {} for row in companies]
    table: list[list[Any]] = [[status_line(info)] + [None] * (len(names) - 1), list(names)]
    table.extend([_read(row, name) for name in names] for row in rows)
    return table


def company_info(answer: Any, *, mode: str) -> SearchInfo:
    """The status of a company search answer (an ``engine.Answer``)."""
    from decimal import Decimal

    result = answer.result
    return SearchInfo(
        results_count=result.results_count,
        rows=len(result.companies),
        amount_charged=Decimal(result.amount_charged),
        fetched_at=answer.fetched_at,
        from_cache=bool(answer.from_cache),
        test_mode=bool(result.test_mode or getattr(answer, "test_mode", False)),
        mode=mode,
    )


# --------------------------------------------------------------------------- worksheet functions


def request_for_companies(
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    mode: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> Any:
    """The validated company search request (raises CriteriaError; free). An omitted limit
    keeps the criteria's own, else :data:`DEFAULT_SEARCH_LIMIT`; ``origin`` as for
    :func:`company_request`."""

    def parse() -> Any:
        resolved = parse_mode(scalar(mode, "mode"))
        page_limit = _page_number(limit, "limit", "Limit")
        page_offset = _page_number(offset, "offset", "Offset")
        block = _block(criteria)
        request = company_request(
            block, mode=resolved, limit=page_limit, offset=page_offset, origin=origin
        )
        if page_limit is None and request.body().get("limit_by") is None:
            request = company_request(
                block, mode=resolved, limit=DEFAULT_SEARCH_LIMIT, offset=page_offset, origin=origin
            )
        return request

    return _memoized_request(("companies", criteria, limit, offset, mode, origin), parse)


def request_for_company_count(
    criteria: Any, mode: Any = None, *, origin: tuple[int, int] | None = None
) -> Any:
    """The validated company count request (raises CriteriaError; free)."""
    return _memoized_request(
        ("company_count", criteria, mode, origin),
        lambda: company_request(
            _block(criteria), mode=parse_mode(scalar(mode, "mode")), origin=origin
        ),
    )


def _check_companies(
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    fields: Any = None,
    mode: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> Any:
    request = request_for_companies(criteria, limit, offset, mode, origin=origin)
    check_company_fields(fields)
    scalar(refresh, "refresh")
    return request


def _check_company_count(
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> Any:
    request = request_for_company_count(criteria, mode, origin=origin)
    scalar(refresh, "refresh")
    return request


def run_companies(
    engine: Any,
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    fields: Any = None,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> Outcome:
    """``GENERECT_COMPANIES`` with its answer: status row, header row, one row per company."""

    request = _check_companies(criteria, limit, offset, fields, mode, refresh)
    columns = check_company_fields(fields)
    answer = engine.run("companies", request, refresh=scalar(refresh, "refresh"), origin=origin)
    info = company_info(answer, mode=str(request.mode))
    return Outcome(company_table(answer.result.companies, info, columns), answer)


def run_company_count(
    engine: Any,
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> Outcome:
    """``GENERECT_COMPANY_COUNT`` with its answer: the number of matching companies."""
    request = _check_company_count(criteria, mode, refresh)
    answer = engine.run("company_count", request, refresh=scalar(refresh, "refresh"), origin=origin)
    return Outcome(_count_value(answer), answer)


def evaluate_companies(
    engine: Any,
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    fields: Any = None,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> list[list[Any]]:
    """``=GENERECT_COMPANIES(criteria, [limit], [offset], [fields], [mode], [refresh])``: the
    spilled company table."""
    return run_companies(engine, criteria, limit, offset, fields, mode, refresh, origin).value


def evaluate_company_count(
    engine: Any,
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> int | str:
    """``=GENERECT_COMPANY_COUNT(criteria, [mode], [refresh])``: how many companies match."""
    return run_company_count(engine, criteria, mode, refresh, origin).value


# GENERECT_COMPANIES' and GENERECT_COMPANY_COUNT's evaluations as the registry names them
# (worksheet.py): (engine, arguments by name, origin) -> Outcome.


def _outcome_companies(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    names = ("criteria", "limit", "offset", "fields", "mode", "refresh")
    return run_companies(engine, *(args.get(name) for name in names), origin=origin)


def _outcome_company_count(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return run_company_count(
        engine, args.get("criteria"), args.get("mode"), args.get("refresh"), origin
    )
