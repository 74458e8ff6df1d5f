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
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .._constants import CELL_ERROR_PREFIX, CELL_MESSAGE_MAX, STORE_MEMO_ENTRIES, TABLE_MEMO_CELLS
from ..errors import APIError, GenerectError, OutcomeUnknownError, ProtocolError, one_line
from ..ledger import Origin
from ..memo import BoundedMemo
from ..models import LeadSearchRequest
from ..ports import EngineAPI
from ..table import HeldTable, SearchInfo, kept_status_line, search_table
from ..worksheet import WORKSHEET_FUNCTIONS

# Re-exported: what moved to arguments.py and checks.py is still read here (the registry,
# worksheet.py, looks its checks up in this module; companies.py imports the helpers).
from .arguments import _REQUESTS as _REQUESTS
from .arguments import DEFAULT_SEARCH_LIMIT as DEFAULT_SEARCH_LIMIT
from .arguments import _block as _block
from .arguments import _cells as _cells
from .arguments import _count_value as _count_value
from .arguments import _frozen as _frozen
from .arguments import _memoized_request as _memoized_request
from .arguments import _page_number as _page_number
from .arguments import _parse_search as _parse_search
from .arguments import request_for_count as request_for_count
from .arguments import request_for_search as request_for_search
from .arguments import scalar as scalar
from .checks import _check_balance as _check_balance
from .checks import _check_count as _check_count
from .checks import _check_search as _check_search
from .checks import _check_spend as _check_spend
from .checks import _check_values as _check_values
from .checks import _leads_criteria as _leads_criteria
from .checks import _period as _period
from .checks import _search_arguments as _search_arguments
from .checks import _values as _values
from .checks import _view as _view

__all__ = [
    "DEFAULT_SEARCH_LIMIT",
    "FUNCTION_NAMES",
    "Outcome",
    "cell_error",
    "check_arguments",
    "evaluate",
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

# Every worksheet function, with its arguments in order (the public Excel signatures), as
# the registry (worksheet.py) describes them.
FUNCTION_NAMES: dict[str, tuple[str, ...]] = {
    name: function.arguments for name, function in WORKSHEET_FUNCTIONS.items()
}

UNEXPECTED_MESSAGE = "Unexpected error in Generect for Excel. Retry; if it persists, report it."

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


# --------------------------------------------------------------------------- evaluations


def run_count(
    engine: EngineAPI,
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
    engine: EngineAPI,
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
    return WORKSHEET_FUNCTIONS[function].check_arguments(args, origin=origin)


def evaluate(
    function: str, engine: Any, args: Mapping[str, Any], origin: Origin | None = None
) -> Outcome:
    """``function``'s :class:`Outcome` for ``args`` (as for :func:`check_arguments`), the way
    the worksheet would compute it."""
    outcome: Outcome = WORKSHEET_FUNCTIONS[function].run(engine, args, origin)
    return outcome


# Each worksheet function's evaluation with one signature, as the registry names them:
# (engine, its arguments by name, the formula's origin) -> Outcome.


def _outcome_count(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return run_count(engine, args.get("criteria"), args.get("mode"), args.get("refresh"), origin)


def _outcome_search(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return run_search(
        engine,
        args.get("criteria"),
        args.get("limit"),
        args.get("offset"),
        args.get("fields"),
        args.get("mode"),
        args.get("refresh"),
        origin=origin,
    )


def _outcome_spend(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return Outcome(evaluate_spend(engine, args.get("period"), args.get("view")))


def _outcome_balance(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return Outcome(evaluate_balance(engine))


def _outcome_values(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return Outcome(evaluate_values(args.get("field")))


def _outcome_leads(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    return Outcome(evaluate_leads(engine, args.get("criteria")))


def may_be_charged(failure: BaseException) -> bool:
    """The call was sent and its answer lost or unreadable: it may have been charged."""
    return (
        isinstance(failure, OutcomeUnknownError)
        or (isinstance(failure, ProtocolError) and failure.may_be_charged)
        or (isinstance(failure, APIError) and failure.unknown_outcome is not None)
    )


def _kept_search(
    engine: EngineAPI, request: LeadSearchRequest, columns: list[str] | None, failure: GenerectError
) -> Outcome | None:
    """The table stored earlier for this question, with a status line saying the refresh
    failed and why; None when the store holds none (or the "failure" is a pending fetch)."""
    from ..pending import FetchPendingError

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
    engine: EngineAPI,
    criteria: Any,
    mode: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> int | str:
    """``=GENERECT_COUNT(criteria, [mode], [refresh])``: how many leads match."""
    return run_count(engine, criteria, mode, refresh, origin).value


def evaluate_search(
    engine: EngineAPI,
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


# The header of GENERECT_SPEND's "analysts" view.
SPEND_BY_ANALYST_COLUMNS = ("analyst", "charged (USD)")


def evaluate_spend(engine: EngineAPI, period: Any = None, view: Any = None) -> Any:
    """``=GENERECT_SPEND([period], [view])``: what the ledger says was charged ("today",
    "month" or "all"; test-mode calls excluded), in USD.

    ``view`` "me" (default): this analyst's purchases (the SQLite store is one analyst's own:
    all of it); "team": the whole team's on the team store; "analysts": a table, a header row
    then one row per analyst who was charged in the period, by name. "team" and "analysts" on
    the SQLite store raise a :class:`SettingsError` saying they need the team store.
    """
    period_name, whose = _period(period), _view(view)
    if whose == "analysts":
        spent = engine.spend_by_analyst(period_name)
        rows = [[name or "(unnamed)", float(spent[name])] for name in sorted(spent)]
        return [list(SPEND_BY_ANALYST_COLUMNS), *rows]
    return float(engine.spend(period_name, view=whose))


def evaluate_balance(engine: EngineAPI) -> float:
    """``=GENERECT_BALANCE()``: the account's balance in USD (a free call, cached briefly)."""
    balance = engine.account().balance
    if balance is None:
        raise ProtocolError("Generect's account answer had no balance. Refresh later.")
    return float(Decimal(balance))


def evaluate_values(field: Any) -> list[list[str]]:
    """``=GENERECT_VALUES(field)``: the allowed values of a vocabulary field, as one column
    (for drop-down lists). ``field`` is a request field, a vocabulary or a friendly label."""
    return _values(field)


def evaluate_leads(engine: EngineAPI, criteria: Any = None) -> list[list[Any]]:
    """``=GENERECT_LEADS([criteria])``: the register of owned leads (every lead bought on this
    computer, once), a header row then one row per lead, oldest first; with ``criteria``, the
    leads bought by searches with those criteria (any page, either mode). Free, no network."""
    from ..store.register import OWNED_COLUMNS, owned_row
    from ..table import to_cell

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
