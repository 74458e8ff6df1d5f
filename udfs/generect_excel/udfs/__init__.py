"""The worksheet functions: ``=GENERECT_COUNT``, ``=GENERECT_SEARCH``, ``=GENERECT_SPEND``,
``=GENERECT_BALANCE``, ``=GENERECT_VALUES``, ``=GENERECT_LEADS`` (the module xlwings imports;
Excel on Windows).

Each function is a thin adapter: the cells as xlwings hands them -> :mod:`generect_excel.functions`
(the semantics, shared with the workbook refresher) -> a value or a table for the sheet. What
is specific to Excel lives here, and only here:

**Errors.** Classic xlwings cannot return Excel error values, and an uncaught exception would
put pywin32's "Unexpected Python Error" text (maybe a traceback) in the cell. So every function
catches everything and returns one short line starting ``#GENERECT!``
(:func:`functions.cell_error`): what is wrong, what to do, never the API key.

**One engine per process**, made on the first call from :func:`~generect_excel.settings.load_settings`
(environment, config file, keyring) and made again when the settings change (a new key, another
base URL). What settings depend on is checked at every call: the environment (compared with
the one they were read from) and the config file (its size and times); when either changed,
or when the key comes from the keyring (or is missing, and so looked for there), they are read
afresh. That check costs a few microseconds instead of the 30 of a full read, which matters
when Excel calls hundreds of cells at once. Nothing heavy is imported when Excel imports this
module (no pydantic, httpx or SQLite until a function runs).

**Function wizard** (``call_in_wizard=False`` on GENERECT_SEARCH and GENERECT_COUNT). Excel
evaluates a formula again at each keystroke in the wizard; a half-typed search with a valid
criteria range but an unfinished ``limit`` would buy rows. With the flag, xlwings' VBA wrapper
exits at once while the wizard is open. Known side effect (xlwings #1574): Excel disables the
same command bar at other moments too, e.g. while a workbook opens, and the cell then shows 0
until it is recalculated (F9). The cache is not a substitute: each keystroke is a new question
(a different limit, a different range) and would be paid for. The free functions (SPEND,
BALANCE, VALUES) run in the wizard.

**Origin** (``caller``). Every billable function takes xlwings' reserved ``caller`` argument
(the formula's cell; not visible in Excel). Its workbook, sheet and cell go to the ledger with
each charge, and identify the formula for ``refresh`` (each formula fetches afresh once per new
refresh value; without an origin, two formulas with different refresh cells would take turns
paying). It is also the cell to recalculate when a background fetch lands. Cost: xlwings
marshals the caller for other threads at every call, and three COM property reads.

**Realtime calls do not freeze Excel** (:mod:`generect_excel.pending`). A realtime search or
count that the store cannot answer is fetched on a background thread (identical questions share
one fetch) and the cell shows at once ``#GENERECT! pending: realtime search started 10:31,
usually 5-60 s; updates by itself.`` When the answer is stored, :func:`_recalculate` marks the
waiting cells dirty and asks Excel to calculate; the cell then shows the answer (or the error,
once). In manual calculation mode the cells are only marked dirty: the answer shows at the next
F9. Database calls (under a second) and stored answers are returned synchronously. xlwings'
``async_mode="threading"`` was not used: it shows ``#N/A waiting...`` even for stored answers,
keeps results in a per-cell memory cache, and leaves cells stuck on open and on Ctrl+Alt+F9
(xlwings #2040, #2134).

**Defaults.** Every optional argument defaults to None, which :mod:`generect_excel.functions`
reads as "omitted", exactly as the workbook refresher passes an omitted argument: both ask
the same question (``limit`` from the criteria's own Limit row, else 25; ``mode`` database;
``period`` today), so a workbook refreshed by one is answered from the store by the other.

**Arguments.** Criteria, limit, offset, fields, mode, period and field read error cells as
their text (``#N/A``), so a broken cell is reported instead of silently dropping a filter; an
error in the ``refresh`` cell counts as no refresh value (it never triggers a purchase).
GENERECT_SPEND is volatile (a local ledger read, so it follows each purchase); GENERECT_BALANCE
is not (a network call), it updates on Ctrl+Alt+F9 or when re-entered.

Type hints are NOT written on the decorated functions: on Windows xlwings reads them as
conversion options (``str | None`` breaks every call). Arguments use ``@xw.arg`` options.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import xlwings as xw

from .recalc import EXCEL_BUSY_HRESULTS as EXCEL_BUSY_HRESULTS
from .recalc import EXCEL_BUSY_RETRY_SECONDS as EXCEL_BUSY_RETRY_SECONDS
from .recalc import XL_CALCULATION_MANUAL as XL_CALCULATION_MANUAL
from .recalc import _com_ready as _com_ready
from .recalc import _join_com as _join_com
from .recalc import _recalculate as _recalculate
from .recalc import _when_excel_listens as _when_excel_listens

__all__ = [
    "GENERECT_BALANCE",
    "GENERECT_COMPANIES",
    "GENERECT_COMPANY_COUNT",
    "GENERECT_COUNT",
    "GENERECT_LEADS",
    "GENERECT_SEARCH",
    "GENERECT_SPEND",
    "GENERECT_VALUES",
]

log = logging.getLogger(__name__)

CATEGORY = "Generect"
CRITERIA_DOC = (
    "The range holding your filters: labels (Job titles, Seniority, Location...) and their "
    "values, down or across."
)


# ----------------------------------------------------------------------------- the runtime


class _Runtime:
    """The process's engine (re-made when the settings change) and background fetches."""

    lock = threading.Lock()
    engine: Any = None
    fetches: Any = None
    # The last settings read and what they were read from: (settings, environment, config
    # file path, the file's signature). None while they must be read at every call.
    kept_settings: Any = None


# Where the key came from when the settings may be kept: the keyring is read at every call
# (a key set there takes effect at once), as when no key is found ("none": maybe there next).
_KEPT_KEY_SOURCES = frozenset({"env", "config", "init"})


def _config_signature(path: Any) -> Any:
    """What changes when the config file is written, created or deleted (one stat)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _environment() -> Any:
    # The environment's own mapping (CPython keeps it in os.environ._data): comparing it with
    # the kept copy is one dict comparison of mostly identical objects. None elsewhere.
    return getattr(os.environ, "_data", None)


def _settings() -> Any:
    """``load_settings()``, or the same settings again when nothing they are read from changed."""
    from ..settings import config_file_path, load_settings

    environment = _environment()
    kept = _Runtime.kept_settings
    if kept is not None and environment is not None and environment == kept[1]:
        try:
            if _config_signature(kept[2]) == kept[3]:
                return kept[0]
        except OSError:
            pass
    # What the settings are read from, noted BEFORE reading them: a change in between makes
    # the next call read them again, never keeps settings older than their sources.
    sources = None
    if environment is not None:
        path = config_file_path()
        try:
            sources = (dict(environment), path, _config_signature(path))
        except OSError:  # an unreadable config folder: read everything at every call
            sources = None
    settings = load_settings()
    keep = sources is not None and settings.key_source in _KEPT_KEY_SOURCES
    _Runtime.kept_settings = (settings, *sources) if keep and sources else None
    return settings


def _engine() -> Any:
    from ..engine import Engine

    settings = _settings()
    with _Runtime.lock:
        if _Runtime.engine is None or _Runtime.engine.settings != settings:
            _Runtime.engine = Engine(settings)
        return _Runtime.engine


def _background_engine(caller: Any) -> Any:
    """The engine for one billable call: slow calls that are not stored go to the background."""
    from ..pending import BackgroundEngine, PendingFetches

    engine = _engine()
    with _Runtime.lock:
        if _Runtime.fetches is None:
            _Runtime.fetches = PendingFetches(
                notify=_recalculate, max_workers=engine.settings.max_parallel
            )
    return BackgroundEngine(engine, _Runtime.fetches, waiter=caller)


def _origin(caller: Any) -> Any:
    """Workbook, sheet and cell of the calling formula, or None when Excel does not say."""
    from ..ledger import Origin

    if caller is None:
        return None
    try:
        cell = caller.api  # the COM Range: three property reads, not xlwings' dozen
        sheet = cell.Worksheet
        return Origin(str(sheet.Parent.Name), str(sheet.Name), str(cell.Address).replace("$", ""))
    except Exception:  # a formula evaluated outside a cell (VBA, Evaluate): no origin
        log.debug("no origin for this call", exc_info=True)
        return None


def _error(exc: BaseException) -> str:
    from ..functions import cell_error

    return cell_error(exc)


# ----------------------------------------------------------------------------- the functions


def _worksheet_function(name: str) -> Callable[[Any], Any]:
    """xlwings' ``func`` decorator with the options the registry gives ``name``: volatile, and
    whether it may run while the function wizard is open (worksheet.py)."""
    from ..worksheet import WORKSHEET_FUNCTIONS

    described = WORKSHEET_FUNCTIONS[name]
    return xw.func(
        category=CATEGORY, volatile=described.volatile, call_in_wizard=described.in_wizard
    )


@_worksheet_function("GENERECT_COUNT")
@xw.arg(
    "criteria",
    ndim=2,
    err_to_str=True,
    doc=CRITERIA_DOC,
)
@xw.arg(
    "mode",
    err_to_str=True,
    doc='"database" (default; free) or "realtime" (billed per request, takes 5-60 s).',
)
@xw.arg(
    "refresh",
    doc="Optional. When this value changes (e.g. a date or a counter cell), the count is fetched afresh once.",
)
def GENERECT_COUNT(criteria, mode=None, refresh=None, caller=None):
    """How many leads match the criteria. Database counts are free; realtime counts cost per request. Stored answers are reused: recalculating costs nothing."""
    try:
        from ..functions import evaluate_count

        return evaluate_count(_background_engine(caller), criteria, mode, refresh, _origin(caller))
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_SEARCH")
@xw.arg(
    "criteria",
    ndim=2,
    err_to_str=True,
    doc=CRITERIA_DOC,
)
@xw.arg(
    "limit",
    err_to_str=True,
    doc="How many leads to buy (default: the criteria's Limit row, else 25; at most 2400). Each returned row is billed.",
)
@xw.arg(
    "offset",
    err_to_str=True,
    doc="How many leads to skip first (default: the criteria's Offset row, else 0), for the next page.",
)
@xw.arg(
    "fields",
    ndim=2,
    err_to_str=True,
    doc='Optional columns, as a range or a comma list, e.g. "full_name, job_title, company.domain". Default: name, title, company, industry, location, LinkedIn, website, id. An unknown name is refused before buying; raw:NAME asks for a field not in the list.',
)
@xw.arg(
    "mode", err_to_str=True, doc='"database" (default) or "realtime" (fresher, dearer, 5-60 s).'
)
@xw.arg(
    "refresh",
    doc="Optional. When this value changes (e.g. a date or a counter cell), the leads are fetched afresh once.",
)
def GENERECT_SEARCH(
    criteria, limit=None, offset=None, fields=None, mode=None, refresh=None, caller=None
):
    """Spills matching leads: a status row (matches, rows, charge, when fetched), a header row, one row per lead. Billed per row once; recalculating reuses the stored answer. =DROP(A1#,1) gives a clean table."""
    try:
        from ..functions import evaluate_search

        engine = _background_engine(caller)
        return evaluate_search(
            engine, criteria, limit, offset, fields, mode, refresh, _origin(caller)
        )
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_COMPANIES")
@xw.arg(
    "criteria",
    ndim=2,
    err_to_str=True,
    doc="The range holding your company filters: Industry, Company size, HQ location, Company type (and their exclusions), down or across.",
)
@xw.arg(
    "limit",
    err_to_str=True,
    doc="How many companies to buy (default: the criteria's Limit row, else 25; at most 1600). Each returned company is billed.",
)
@xw.arg(
    "offset",
    err_to_str=True,
    doc="How many companies to skip first (default: the criteria's Offset row, else 0), for the next page.",
)
@xw.arg(
    "fields",
    ndim=2,
    err_to_str=True,
    doc='Optional columns, as a range or a comma list, e.g. "name, domain, headcount". Default: name, domain, industry, headcount, location, type, LinkedIn URL and id. raw:NAME asks for another field.',
)
@xw.arg(
    "mode", err_to_str=True, doc='"database" (default) or "realtime" (fresher, dearer, 5-60 s).'
)
@xw.arg(
    "refresh",
    doc="Optional. When this value changes (e.g. a date or a counter cell), the companies are fetched afresh once.",
)
def GENERECT_COMPANIES(
    criteria, limit=None, offset=None, fields=None, mode=None, refresh=None, caller=None
):
    """Spills matching companies (an account list): a status row, a header row, one row per company. Billed per company once; recalculating reuses the stored answer."""
    try:
        from ..companies import evaluate_companies

        engine = _background_engine(caller)
        return evaluate_companies(
            engine, criteria, limit, offset, fields, mode, refresh, _origin(caller)
        )
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_COMPANY_COUNT")
@xw.arg(
    "criteria",
    ndim=2,
    err_to_str=True,
    doc="The range holding your company filters: Industry, Company size, HQ location, Company type.",
)
@xw.arg(
    "mode",
    err_to_str=True,
    doc='"database" (default; free) or "realtime" (billed per request, takes 5-60 s).',
)
@xw.arg(
    "refresh",
    doc="Optional. When this value changes, the count is fetched afresh once.",
)
def GENERECT_COMPANY_COUNT(criteria, mode=None, refresh=None, caller=None):
    """How many companies match the criteria. Database counts are free; realtime counts cost per request. Stored answers are reused."""
    try:
        from ..companies import evaluate_company_count

        return evaluate_company_count(
            _background_engine(caller), criteria, mode, refresh, _origin(caller)
        )
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_SPEND")
@xw.arg("period", err_to_str=True, doc='"today" (default), "month" or "all".')
@xw.arg(
    "view",
    err_to_str=True,
    doc='"me" (default): your purchases. With the team store: "team" for the whole team, "analysts" spills one row per analyst.',
)
def GENERECT_SPEND(period=None, view=None):
    """What Generect charged in USD, from the ledger: today, this month, or all; yours, the team's, or per analyst. Test-mode calls are not counted. Updates at every recalculation."""
    try:
        from ..functions import evaluate_spend

        return evaluate_spend(_engine(), period, view)
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_BALANCE")
def GENERECT_BALANCE():
    """The Generect account's balance in USD (a free call, kept for a minute). Recalculate with Ctrl+Alt+F9."""
    try:
        from ..functions import evaluate_balance

        return evaluate_balance(_engine())
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_VALUES")
@xw.arg(
    "field",
    err_to_str=True,
    doc='A field with a fixed list of values: "seniorities", "company_headcounts", "company_types", "company_industries" or "filter_empty_vars" (or a label such as "Seniority").',
)
def GENERECT_VALUES(field):
    """Spills the values a field accepts, down one column: use it as the source of a drop-down list (Data Validation, =A1#). Free, no network."""
    try:
        from ..functions import evaluate_values

        return evaluate_values(field)
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_LEADS")
@xw.arg(
    "criteria",
    ndim=2,
    err_to_str=True,
    doc="Optional. " + CRITERIA_DOC + " Only the leads bought by searches with these criteria.",
)
def GENERECT_LEADS(criteria=None):
    """Spills the leads you own: every lead bought on this computer, once, with when it was first bought, what it cost and the workbook and cell that bought it. Free, no network. Updates at every recalculation."""
    try:
        from ..functions import evaluate_leads

        return evaluate_leads(_engine(), criteria)
    except Exception as exc:
        return _error(exc)


def _evaluated(name: str, args: dict[str, Any], caller: Any) -> Any:
    """``name``'s value for ``args`` through the registry (issue 14's functions)."""
    from ..functions import evaluate

    return evaluate(name, _engine(), args, _origin(caller)).value


@_worksheet_function("GENERECT_PREVIEW")
@xw.arg("criteria", ndim=2, err_to_str=True, doc=CRITERIA_DOC)
@xw.arg(
    "limit",
    err_to_str=True,
    doc="How many masked rows (default: the criteria's Limit row, else 100; at most 1000). $0.002 a row.",
)
@xw.arg("offset", err_to_str=True, doc="How many rows to skip first (default 0).")
@xw.arg("mode", err_to_str=True, doc='"database" (the only mode preview has; may be left out).')
@xw.arg(
    "refresh",
    doc="Optional. When this value changes, the preview is fetched afresh once.",
)
def GENERECT_PREVIEW(criteria, limit=None, offset=None, mode=None, refresh=None, caller=None):
    """Spills masked leads (no LinkedIn URL, domain, email or phone) with the id to buy each by, at $0.002 a row: tick the ones that fit, then GENERECT_ENRICH buys only those. Stored: recalculating costs nothing."""
    try:
        args = {"criteria": criteria, "limit": limit, "offset": offset, "mode": mode}
        return _evaluated("GENERECT_PREVIEW", {**args, "refresh": refresh}, caller)
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_ENRICH")
@xw.arg("ids", ndim=2, err_to_str=True, doc="The ids to buy (a preview's id column).")
@xw.arg(
    "buy",
    ndim=2,
    err_to_str=True,
    doc="Optional. A column beside the ids: only the rows ticked (TRUE, x, yes) are bought.",
)
@xw.arg(
    "refresh",
    doc="Optional. When this value changes, stored profiles are asked again (owned leads are never bought twice).",
)
def GENERECT_ENRICH(ids, buy=None, refresh=None, caller=None):
    """Spills the full profiles of the picked ids, $0.02 each. A lead you already own (bought by a search or earlier) costs nothing; the worst case is checked against your caps first."""
    try:
        return _evaluated("GENERECT_ENRICH", {"ids": ids, "buy": buy, "refresh": refresh}, caller)
    except Exception as exc:
        return _error(exc)


@_worksheet_function("GENERECT_EMAIL")
@xw.arg(
    "lead", err_to_str=True, doc="A lead id or LinkedIn URL (or a first name, with the next two)."
)
@xw.arg("last_name", err_to_str=True, doc="Optional: the last name, to find by name and domain.")
@xw.arg("domain", err_to_str=True, doc="Optional: the company domain, to find by name and domain.")
@xw.arg(
    "refresh",
    doc="Optional. When this value changes, the email is asked again (misses too).",
)
def GENERECT_EMAIL(lead, last_name=None, domain=None, refresh=None, caller=None):
    """A lead's verified work email, billed only when found. A miss shows "(no email found)" and is stored too: recalculating never asks again."""
    try:
        args = {"lead": lead, "last_name": last_name, "domain": domain, "refresh": refresh}
        return _evaluated("GENERECT_EMAIL", args, caller)
    except Exception as exc:
        return _error(exc)
