"""The checks each worksheet function runs on its arguments before it sends anything (free,
no network), as the registry (:mod:`generect_excel.worksheet`) names them (moved out of
:mod:`generect_excel.functions`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ..criteria import criteria_from_block
from ..errors import CriteriaError
from ..ledger import PERIODS, SPEND_VIEWS, SpendView
from ..models import LeadSearchRequest
from ..table import checked_fields
from ..vocab import allowed_values
from .arguments import request_for_count, request_for_search, scalar


def _check_count(
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> LeadSearchRequest:
    request = request_for_count(criteria, mode, origin=origin)
    scalar(refresh, "refresh")
    return request


def _search_arguments(
    criteria: Any,
    limit: Any,
    offset: Any,
    fields: Any,
    mode: Any,
    refresh: Any,
    *,
    origin: tuple[int, int] | None = None,
) -> tuple[LeadSearchRequest, list[str] | None]:
    """The request and the columns; every argument checked before anything is bought."""
    request = request_for_search(criteria, limit, offset, mode, origin=origin)
    columns = checked_fields(fields)
    scalar(refresh, "refresh")
    return request, columns


def _check_search(
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    fields: Any = None,
    mode: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> LeadSearchRequest:
    return _search_arguments(criteria, limit, offset, fields, mode, refresh, origin=origin)[0]


def _period(period: Any) -> str:
    value = scalar(period, "period")
    text = "today" if value is None else str(value).strip().lower()
    if text not in PERIODS:
        raise CriteriaError(f'Period {value!r} is not valid: use "today", "month" or "all".')
    return text


def _values(field: Any) -> list[list[str]]:
    name = scalar(field, "field")
    if name is None:
        raise CriteriaError('Name a field, for example =GENERECT_VALUES("seniorities").')
    try:
        values: Sequence[str] = allowed_values(str(name).strip())
    except KeyError as exc:
        raise CriteriaError(
            str(exc.args[0]) if exc.args else f"No value list for {name!r}."
        ) from None
    return [[value] for value in values]


def _view(view: Any) -> SpendView:
    """GENERECT_SPEND's ``view``: "me" (default), "team" or "analysts"."""
    value = scalar(view, "view")
    text = "me" if value is None else str(value).strip().lower()
    if text not in SPEND_VIEWS:
        raise CriteriaError(
            f'View {value!r} is not valid: use "me" (yours), "team" (the whole team\'s) or '
            '"analysts" (one row per analyst).'
        )
    return cast(SpendView, text)


def _check_spend(period: Any = None, view: Any = None) -> None:
    _period(period)
    _view(view)


def _check_balance() -> None:
    return None


def _check_values(field: Any = None) -> None:
    _values(field)


def _leads_criteria(criteria: Any = None) -> LeadSearchRequest | None:
    """GENERECT_LEADS' optional criteria as a request (None: the whole register)."""
    if criteria is None:
        return None
    try:
        return criteria_from_block(criteria)
    except CriteriaError:
        # Realtime-only fields (keywords...): the same criteria read in realtime mode.
        return criteria_from_block(criteria, mode="realtime")
