"""What each GENERECT_* worksheet function computes, given its arguments as Python values.

The one place the functions' semantics live. Two edges call it: the xlwings worksheet functions
(``udfs``, Excel on Windows) and the workbook refresher (``generect-excel refresh``, any
platform). Both hand over the arguments the way xlwings would: a criteria range as a 2-D block
(list of rows), other arguments as one value (a 1x1 range may also arrive as ``[[v]]`` or
``[v]``), ``None`` for an omitted argument or an empty cell. Pure core: no xlwings, no openpyxl.

    request_for_count(criteria, mode)                      -> LeadSearchRequest
    request_for_search(criteria, limit, offset, mode)       -> LeadSearchRequest
    run_count / run_search                                  -> Outcome (value + engine Answer)
    evaluate_count, evaluate_search, evaluate_spend,
    evaluate_balance, evaluate_values, evaluate_leads       -> the cell value or 2-D table
    cell_error(exc)                                         -> "#GENERECT! ..." one line

Defaults (an omitted argument or an empty cell): ``mode`` "database"; ``limit`` the criteria's
own limit if it has one, else :data:`DEFAULT_SEARCH_LIMIT`; ``offset`` the criteria's own, else
none (0); ``fields`` the standard columns; ``refresh`` no refresh; ``period`` "today".

Everything a call would refuse is refused before it sends anything, so a mistake costs nothing
(:func:`check_arguments` runs exactly those checks without the call, for the refresher's plan):
a range of several cells where one value goes; a ``limit`` or ``offset`` that is empty text
(``""``: unlike an empty cell, it is not read as "the default", which would buy a page nobody
asked for; in Excel, xlwings hands ``""`` over as an empty cell, so only the refresher and
other callers see it), not a whole number, or out of range; a ``mode`` other than
database/realtime; a ``fields`` name outside the catalogue
(:func:`generect_excel.table.check_fields`; ``raw:NAME`` reaches any other field); a
``period`` or ``field`` that has no answer.

A search whose refresh fails while the store holds an answer for the same question (fetched
with an earlier refresh value) shows that stored table, its status line saying when the refresh
failed, when the rows shown were fetched, and why (:func:`run_search`; the
:class:`Outcome` carries the failure). What was bought is never replaced by an error, even
when the failure is an unknown outcome (it may have been charged: the status says so). Where
the store holds nothing, the error shows as before. A count shows its error: a number has no
status line to say it is stale.

Every failure is a :class:`~generect_excel.errors.GenerectError` subclass (criteria problems are
:class:`~generect_excel.errors.CriteriaError`, raised before any call and so free);
:func:`cell_error` turns any exception into the one-line cell message.

Recalculation is the hot path (Excel calls a function again for every F9, with the same cells),
so two pure steps keep what they made last: the request parsed from the same arguments (cell
types included: ``1.0`` and ``True`` are different cells), and the table shaped from the same
result object (the engine hands back the same one while the stored answer is unchanged) with
the same columns and status (cache, fetched time, mode). Each call gets its own copy of the
rows. Errors are never kept: a bad argument is reported at every call.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ._constants import (
    CELL_ERROR_PREFIX,
    CELL_MESSAGE_MAX,
    STORE_MEMO_ENTRIES,
    TABLE_MEMO_CELLS,
)
from .criteria import criteria_from_block, with_paging
from .errors import CriteriaError, GenerectError, OutcomeUnknownError, ProtocolError, one_line
from .ledger import PERIODS, Origin
from .memo import BoundedMemo
from .models import LeadSearchRequest, parse_mode
from .table import HeldTable, SearchInfo, checked_fields, kept_status_line, search_table
from .vocab import allowed_values

__all__ = [
    "DEFAULT_SEARCH_LIMIT",
    "FUNCTION_NAMES",
    "Outcome",
    "cell_error",
    "check_arguments",
    "evaluate_balance",
    "evaluate_count",
    "evaluate_leads",
    "evaluate_search",
    "evaluate_spend",
    "evaluate_values",
    "may_be_charged",
    "request_for_count",
    "request_for_search",
    "run_count",
    "run_search",
    "scalar",
]

log = logging.getLogger(__name__)

# GENERECT_SEARCH's page size when neither the formula nor the criteria say: small, so a
# half-built sheet never buys thousands of rows by accident.
DEFAULT_SEARCH_LIMIT = 25

# Every worksheet function, with its arguments in order (the public Excel signatures).
FUNCTION_NAMES: dict[str, tuple[str, ...]] = {
    "GENERECT_COUNT": ("criteria", "mode", "refresh"),
    "GENERECT_SEARCH": ("criteria", "limit", "offset", "fields", "mode", "refresh"),
    "GENERECT_SPEND": ("period",),
    "GENERECT_BALANCE": (),
    "GENERECT_VALUES": ("field",),
    "GENERECT_LEADS": ("criteria",),
}

UNEXPECTED_MESSAGE = "Unexpected error in Generect for Excel. Retry; if it persists, report it."

# (function, arguments frozen with their types) -> the request they parse to.
_REQUESTS: BoundedMemo[Any, LeadSearchRequest] = BoundedMemo(
    STORE_MEMO_ENTRIES, 4 * STORE_MEMO_ENTRIES
)
# (id of the result, columns, status) -> (the result, its table): the result is kept so its id
# cannot be reused by another object while the item lives.
_TABLES: BoundedMemo[Any, tuple[Any, list[list[Any]]]] = BoundedMemo(
    STORE_MEMO_ENTRIES, TABLE_MEMO_CELLS
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A function's value and, for counts and searches, the engine's answer behind it.

    ``value`` is what the cell shows (a number, text, or a 2-D table for searches);
    ``answer`` is the :class:`~generect_excel.engine.Answer` (``from_cache``, charge, rows).
    ``failure``: the refresh failed with this error and ``value`` is the answer stored
    earlier for the same question, its status line saying so.
    """

    value: Any
    answer: Any = None
    failure: BaseException | None = None


# --------------------------------------------------------------------------- arguments


def _cells(value: Any) -> Iterator[Any]:
    """Every cell of a range, row by row (a bare value is one cell)."""
    if isinstance(value, list | tuple):
        for item in value:
            yield from _cells(item)
    else:
        yield value


def scalar(value: Any, name: str, *, blank_is_omitted: bool = True) -> Any:
    """One value from an argument that may come as a 1x1 range (``[[v]]`` or ``[v]``).

    Raises :class:`CriteriaError` when a range of several cells (or none) is given where one
    value is expected. Blank text counts as empty (``None``) unless ``blank_is_omitted`` is
    False.
    """
    if isinstance(value, list | tuple):
        cells = list(_cells(value))
        if len(cells) != 1:
            # A reference is clipped to the sheet's used area: its count may not be the
            # range's size, so the message does not quote it.
            size = "a range of several cells" if cells else "an empty range"
            raise CriteriaError(
                f"{name}: expected one cell or value, got {size}. Point it at a single cell."
            )
        value = cells[0]
    if blank_is_omitted and isinstance(value, str) and not value.strip():
        return None
    return value


def _page_number(value: Any, name: str, label: str) -> Any:
    """``limit``/``offset``: one value; empty text is an error, not the default."""
    value = scalar(value, name, blank_is_omitted=False)
    if isinstance(value, str) and not value.strip():
        raise CriteriaError(
            f"{label}: empty text is not a number. Leave it out (or its cell empty) for the "
            "default, or give a whole number."
        )
    return value


def _frozen(value: Any) -> Any:
    """A hashable twin of an argument that keeps each value's type (``1.0``, ``1`` and
    ``True`` are equal in Python, not in a criteria range). Raises TypeError when a value
    cannot be hashed."""
    if isinstance(value, list | tuple):
        return (value.__class__, tuple([_frozen(item) for item in value]))
    hash(value)
    return (value.__class__, value)


def _memoized_request(key: Any, parse: Any) -> LeadSearchRequest:
    """``parse()``, or the request it gave for the same ``key`` last time."""
    try:
        frozen = _frozen(key)
    except TypeError:  # an unhashable cell value: parse it every time
        return parse()  # type: ignore[no-any-return]
    request = _REQUESTS.get(frozen)
    if request is None:
        request = parse()
        _REQUESTS.put(frozen, request)
    return request


def _block(criteria: Any) -> Any:
    # A single cell or text arrives as a bare value; the criteria parser takes any shape.
    if criteria is None:
        raise CriteriaError(
            "No criteria: give the range holding your filters as the first argument."
        )
    return criteria


def request_for_count(
    criteria: Any, mode: Any = None, *, origin: tuple[int, int] | None = None
) -> LeadSearchRequest:
    """The validated count request for a criteria block (raises CriteriaError; free).

    ``origin``: the sheet row and column of the block's top left cell when the caller knows
    them (the refresher does): problems then name the sheet's rows instead of the block's.
    """
    return _memoized_request(
        ("count", criteria, mode, origin),
        lambda: criteria_from_block(
            _block(criteria), mode=parse_mode(scalar(mode, "mode")), origin=origin
        ),
    )


def request_for_search(
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    mode: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> LeadSearchRequest:
    """The validated search request: criteria, then the page (``limit``/``offset``).

    An omitted limit keeps the criteria's own ``limit_by``, else :data:`DEFAULT_SEARCH_LIMIT`.
    ``origin`` as for :func:`request_for_count`.
    """
    return _memoized_request(
        ("search", criteria, limit, offset, mode, origin),
        lambda: _parse_search(criteria, limit, offset, mode, origin),
    )


def _parse_search(
    criteria: Any, limit: Any, offset: Any, mode: Any, origin: tuple[int, int] | None = None
) -> LeadSearchRequest:
    request = criteria_from_block(
        _block(criteria), mode=parse_mode(scalar(mode, "mode")), origin=origin
    )
    limit = _page_number(limit, "limit", "Limit")
    offset = _page_number(offset, "offset", "Offset")
    if limit is None and request.body().get("limit_by") is None:
        limit = DEFAULT_SEARCH_LIMIT
    if limit is None and offset is None:
        return request
    return with_paging(request, limit=limit, offset=offset)


def _count_value(answer: Any) -> int | str:
    count = answer.result.results_count
    if count is None:
        raise ProtocolError("Generect's count answer had no results_count. Refresh later.")
    return count


# --------------------------------------------------------------------------- evaluations


def run_count(
    engine: Any,
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> Outcome:
    """``GENERECT_COUNT`` with its answer: the number of matching leads."""
    request = _check_count(criteria, mode, refresh)
    answer = engine.count(request, refresh=scalar(refresh, "refresh"), origin=origin)
    return Outcome(_count_value(answer), answer)


def run_search(
    engine: Any,
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    fields: Any = None,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> Outcome:
    """``GENERECT_SEARCH`` with its answer: status row, header row, one row per lead."""
    request, columns = _search_arguments(criteria, limit, offset, fields, mode, refresh)
    try:
        answer = engine.search(request, refresh=scalar(refresh, "refresh"), origin=origin)
    except GenerectError as exc:
        kept = _kept_search(engine, request, columns, exc)
        if kept is None:
            raise
        return kept
    info = SearchInfo.from_answer(answer, mode=str(request.mode))
    if getattr(answer, "test_mode", False) and not info.test_mode:
        # A test key is never debited, whatever the answer's own header said.
        info = dataclasses.replace(info, test_mode=True)
    return Outcome(_table(answer.result, info, columns), answer)


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


def _check_spend(period: Any = None) -> None:
    _period(period)


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


# What each function checks before it calls anything (FUNCTION_NAMES' arguments, by name).
_ARGUMENT_CHECKS: dict[str, Callable[..., LeadSearchRequest | None]] = {
    "GENERECT_COUNT": _check_count,
    "GENERECT_SEARCH": _check_search,
    "GENERECT_SPEND": _check_spend,
    "GENERECT_BALANCE": _check_balance,
    "GENERECT_VALUES": _check_values,
    "GENERECT_LEADS": _leads_criteria,
}


# The functions whose first argument is a criteria range.
_CRITERIA_FUNCTIONS = frozenset({"GENERECT_COUNT", "GENERECT_SEARCH"})


def check_arguments(
    function: str, args: Mapping[str, Any], *, origin: tuple[int, int] | None = None
) -> LeadSearchRequest | None:
    """Run every check ``function`` makes on ``args`` before it sends anything, and nothing
    else (free, no network): raises :class:`CriteriaError` for anything the call would refuse.

    ``args`` maps the argument names of :data:`FUNCTION_NAMES` to values as xlwings hands them
    (omitted ones may be left out). Returns the validated request of a count or search, else
    ``None``. ``origin``: the sheet row and column of the criteria range's top left cell, when
    known (problems then name the sheet's rows; see :func:`request_for_count`).
    """
    if origin is not None and function in _CRITERIA_FUNCTIONS:
        return _ARGUMENT_CHECKS[function](**args, origin=origin)
    return _ARGUMENT_CHECKS[function](**args)


def may_be_charged(failure: BaseException) -> bool:
    """The call was sent and its answer lost or unreadable: it may have been charged."""
    return (
        isinstance(failure, OutcomeUnknownError)
        or bool(getattr(failure, "may_be_charged", False))
        or getattr(failure, "unknown_outcome", None) is not None
    )


def _kept_search(
    engine: Any, request: LeadSearchRequest, columns: list[str] | None, failure: GenerectError
) -> Outcome | None:
    """The table stored earlier for this question, with a status line saying the refresh
    failed and why; None when the store holds none (or the "failure" is a pending fetch)."""
    from .pending import FetchPendingError

    stored = getattr(engine, "stored", None)
    if isinstance(failure, FetchPendingError) or stored is None:
        return None
    try:
        answer = stored(request, "search")
    except GenerectError:  # the store itself failing: show the refresh's own error
        log.warning("could not read the stored answer after a failed refresh", exc_info=True)
        return None
    if answer is None:
        return None
    mode = str(request.mode)
    try:
        table = _table(answer.result, SearchInfo.from_answer(answer, mode=mode), columns)
    except GenerectError:  # e.g. a field the stored rows lack: the refresh's error says more
        return None
    table[0][0] = kept_status_line(
        HeldTable.from_answer(answer, mode=mode),
        str(failure),
        failed_at=datetime.now(UTC),
        unknown=may_be_charged(failure),
    )
    return Outcome(table, answer, failure)


def _table(result: Any, info: SearchInfo, columns: list[str] | None) -> list[list[Any]]:
    """``search_table`` of ``result``, shaped once per result, columns and status."""
    key = (id(result), tuple(columns) if columns else None, info)
    kept = _TABLES.get(key)
    if kept is not None and kept[0] is result:
        table = kept[1]
    else:
        table = search_table(result.leads, info, columns)
        _TABLES.put(key, (result, table), weight=len(table) * len(table[0]))
    return [list(row) for row in table]  # the caller's own rows: the kept table stays intact


def evaluate_count(
    engine: Any,
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> int | str:
    """``=GENERECT_COUNT(criteria, [mode], [refresh])``: how many leads match."""
    return run_count(engine, criteria, mode, refresh, origin).value


def evaluate_search(
    engine: Any,
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    fields: Any = None,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> list[list[Any]]:
    """``=GENERECT_SEARCH(criteria, [limit], [offset], [fields], [mode], [refresh])``: the
    spilled table (see :mod:`generect_excel.table` for its shape)."""
    return run_search(engine, criteria, limit, offset, fields, mode, refresh, origin).value


def evaluate_spend(engine: Any, period: Any = None) -> float:
    """``=GENERECT_SPEND([period])``: what the local ledger says was charged ("today",
    "month" or "all"; test-mode calls excluded), in USD."""
    return float(engine.spend(_period(period)))


def evaluate_balance(engine: Any) -> float:
    """``=GENERECT_BALANCE()``: the account's balance in USD (a free call, cached briefly)."""
    balance = engine.account().balance
    if balance is None:
        raise ProtocolError("Generect's account answer had no balance. Refresh later.")
    return float(Decimal(balance))


def evaluate_values(field: Any) -> list[list[str]]:
    """``=GENERECT_VALUES(field)``: the allowed values of a vocabulary field, as one column
    (for drop-down lists). ``field`` is a request field, a vocabulary or a friendly label."""
    return _values(field)


def evaluate_leads(engine: Any, criteria: Any = None) -> list[list[Any]]:
    """``=GENERECT_LEADS([criteria])``: the register of owned leads (every lead bought on this
    computer, once), a header row then one row per lead, oldest first; with ``criteria``, the
    leads bought by searches with those criteria (any page, either mode). Free, no network."""
    from .store.register import OWNED_COLUMNS, owned_row
    from .table import to_cell

    request = _leads_criteria(criteria)
    rows = [[to_cell(v) for v in owned_row(lead)] for lead in engine.owned_leads(request)]
    return [list(OWNED_COLUMNS), *rows]


# --------------------------------------------------------------------------- errors


def cell_error(exc: BaseException) -> str:
    """Any exception as the one-line cell message: ``"#GENERECT! <what to do>"``.

    A :class:`GenerectError` shows its own short message (never the key, never a traceback);
    anything else is logged here and shown as a generic line, since its text was not written
    for a person and could hold anything.
    """
    if isinstance(exc, GenerectError):
        message = str(exc)
    else:
        log.error("unexpected error in a GENERECT function", exc_info=exc)
        message = UNEXPECTED_MESSAGE
    return one_line(f"{CELL_ERROR_PREFIX} {message}", CELL_MESSAGE_MAX + len(CELL_ERROR_PREFIX) + 1)
