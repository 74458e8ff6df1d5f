"""Preview: masked rows for the criteria block ``GENERECT_SEARCH`` reads, mapped onto the
nested body preview takes (moved out of :mod:`generect_excel.picks`, which re-exports it)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .. import _constants as C
from ..criteria import criteria_from_block, with_paging
from ..errors import CriteriaError
from ..lead_answers import OperationRequest, PreviewResult
from ..ledger import Origin
from ..models import LeadSearchRequest
from ..table import charge_text

# Flat criteria (the block GENERECT_SEARCH reads) -> where preview takes them.
LEAD_FIELDS = ("job_titles", "seniorities", "locations", "company_industries", "company_headcounts")
COMPANY_FIELDS = {"company_types": "company_types", "company_locations": "locations"}
PAGING = ("limit_by", "offset_by")

PREVIEW_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "title",
    "company_name",
    "location",
    "industry",
    "seniority",
    "headcount_range",
)


def preview_body(request: LeadSearchRequest) -> dict[str, Any]:
    """The nested preview body for a validated criteria ``request`` (CriteriaError: free)."""
    if str(request.mode) != "database":
        raise CriteriaError("Preview searches Generect's database: remove the realtime mode.")
    lead: dict[str, Any] = {}
    company: dict[str, Any] = {}
    unsupported = []
    for name, value in request.body().items():
        if name in LEAD_FIELDS or name in PAGING:
            lead[name] = value
        elif name in COMPANY_FIELDS:
            company[COMPANY_FIELDS[name]] = value
        else:
            unsupported.append(name)
    if unsupported:
        raise CriteriaError(
            f"Preview cannot filter by {', '.join(sorted(unsupported))}: remove it from the "
            "criteria, or use GENERECT_SEARCH."
        )
    body: dict[str, Any] = {"lead_search_criteria": lead}
    if company:
        body["company_search_criteria"] = company
    return body


def _whole(value: Any, name: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise CriteriaError(f"{name} must be a whole number, got {value!r}.")
    return int(value)


def preview_request(
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> OperationRequest:
    """The preview request for a criteria block and page (CriteriaError before any call).

    Without a limit (formula or criteria), :data:`~generect_excel._constants.PREVIEW_DEFAULT_LIMIT`
    rows; at most ``PREVIEW_MAX_LIMIT``. ``origin``: the block's top left cell (row, column),
    so that problems name the sheet's rows."""
    if criteria is None:
        raise CriteriaError(
            "No criteria: give the range holding your filters as the first argument."
        )
    return preview_request_for(criteria_from_block(criteria, origin=origin), limit, offset)


def preview_request_for(
    request: LeadSearchRequest, limit: Any = None, offset: Any = None
) -> OperationRequest:
    """:func:`preview_request` for criteria already parsed (a file, for the CLI)."""
    lim, off = _whole(limit, "limit"), _whole(offset, "offset")
    if lim is None and request.body().get("limit_by") is None:
        lim = C.PREVIEW_DEFAULT_LIMIT
    if lim is not None and not 1 <= lim <= C.PREVIEW_MAX_LIMIT:
        raise CriteriaError(f"limit must be between 1 and {C.PREVIEW_MAX_LIMIT}, got {lim}.")
    if off is not None and off < 0:
        raise CriteriaError(f"offset must be 0 or more, got {off}.")
    if lim is not None or off is not None:
        request = with_paging(request, limit=lim, offset=off)
    return OperationRequest.of(preview_body(request))


def _status(parts: Sequence[str], *, from_cache: bool, test_mode: bool) -> str:
    line = list(parts)
    if from_cache:
        line.append("from cache (no charge now)")
    if test_mode:
        line.append("TEST MODE")
    return " · ".join(line)


def run_preview(
    engine: Any,
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> tuple[list[list[Any]], Any]:
    """``=GENERECT_PREVIEW``: status row, header, one masked row per lead (its ``id`` first).
    ``criteria`` is a block, or an :class:`OperationRequest` already made."""
    if isinstance(criteria, OperationRequest):
        request = criteria
    else:
        request = preview_request(criteria, limit, offset)
    answer = engine.run("preview", request, refresh=refresh, origin=origin)
    result: PreviewResult = answer.result
    status = _status(
        [
            "Generect preview",
            f"{len(result.leads):,} masked rows",
            charge_text(Decimal(result.amount_charged), result.test_mode),
            "tick rows, then GENERECT_ENRICH buys only those",
        ],
        from_cache=answer.from_cache,
        test_mode=result.test_mode,
    )
    width = len(PREVIEW_COLUMNS)
    table: list[list[Any]] = [[status] + [None] * (width - 1), list(PREVIEW_COLUMNS)]
    for lead in result.leads:
        table.append([lead.get(name) for name in PREVIEW_COLUMNS])
    return table, answer
