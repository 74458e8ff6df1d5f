"""Plan, quote and run a workbook file's GENERECT calls through the engine (steps 1 to 3 of
:mod:`generect_excel.workbook.refresher`; the ribbon's Mac Refresh runs the same steps)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .. import budget
from ..budget import format_money
from ..engine import refresh_token
from ..errors import (
    CriteriaError,
    GenerectError,
    OutcomeUnknownError,
    ProtocolError,
    WorkbookError,
)
from ..functions import (
    FUNCTION_NAMES,
    Outcome,
    check_arguments,
    evaluate,
    request_for_count,
    scalar,
)
from ..ledger import Origin
from ..models import canonical_json
from ..ports import EngineAPI
from ..worksheet import AFTER_PURCHASES, WORKSHEET_FUNCTIONS
from .parse import Call, FormulaSyntaxError, parse_formula
from .references import FormulaCell, WorkbookReader

# The engine operation each buying function calls (the registry's kinds).
KINDS = {name: function.kind for name, function in WORKSHEET_FUNCTIONS.items() if function.kind}

Progress = Callable[[int, int], None]


def _where(sheet: str, cell: str) -> str:
    quoted = sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!{cell}"


@dataclass
class Query:
    """One GENERECT call found in the workbook, and what became of it."""

    cell: FormulaCell
    function: str
    written: bool  # the call is the whole formula: its value goes into the cell
    single: bool = False  # the formula is @GENERECT_...: the cell shows the first value only
    args: dict[str, Any] = field(default_factory=dict)
    request: Any = None  # the validated request of a count or search
    skipped: str | None = None  # why it cannot be evaluated from the file (cell untouched)
    invalid: GenerectError | None = None  # fails before any call (written as the cell's error)
    # quote
    fetches: bool = False  # would call the API now
    worst_case: Decimal = Decimal(0)
    likely: Decimal | None = None
    # run
    outcome: Outcome | None = None
    error: BaseException | None = None
    cell_workbook: str = ""  # the workbook's file name, recorded in the ledger
    kept: str | None = None  # the refresh failed and the cell keeps what it showed: why

    @property
    def where(self) -> str:
        """``Sheet!B14``."""
        return _where(self.cell.sheet, self.cell.coordinate)

    @property
    def kind(self) -> str | None:
        """ "count" or "search" for API calls, else None."""
        return KINDS.get(self.function)

    @property
    def mode(self) -> str:
        return str(self.request.mode) if self.request is not None else "-"

    @property
    def origin(self) -> Origin:
        return Origin(self.cell_workbook, self.cell.sheet, self.cell.coordinate)

    @property
    def runnable(self) -> bool:
        return self.skipped is None and self.invalid is None


@dataclass
class Plan:
    """Every GENERECT call of one workbook file, read and validated."""

    path: Path
    queries: list[Query]
    stat: tuple[int, int]  # (size, mtime_ns) when read: the file must not change meanwhile

    @property
    def runnable(self) -> list[Query]:
        return [q for q in self.queries if q.runnable]


@dataclass(frozen=True)
class Quote:
    """What running a plan would cost: each line, the worst case and whether to ask."""

    queries: int
    distinct: int  # distinct API requests (identical ones are paid once)
    cached: int
    new: int
    worst_case: Decimal
    likely: Decimal | None
    test_mode: bool
    lines: tuple[str, ...]

    def summary(self) -> str:
        """One line: "12 queries: 4 from the store, 8 new; worst case $3.20"."""
        text = (
            f"{self.queries} quer{'y' if self.queries == 1 else 'ies'}: {self.cached} from the "
            f"store, {self.new} new; worst case {format_money(self.worst_case)}"
        )
        if self.likely is not None and self.likely < self.worst_case:
            text += f" (likely {format_money(self.likely)}, from free counts)"
        if self.test_mode:
            text += " (test key: nothing is debited)"
        return text


# --------------------------------------------------------------------------- 1. plan


def plan_refresh(path: str | os.PathLike[str]) -> Plan:
    """Read a workbook file and prepare every GENERECT call in it (no network, free)."""
    source = Path(path)
    try:
        stat = source.stat()
    except FileNotFoundError:
        raise WorkbookError(f"No such workbook: {source}") from None
    reader = WorkbookReader(source)
    queries: list[Query] = []
    for cell in reader.formula_cells():
        queries.extend(_queries_of(reader, cell, source.name))
    return Plan(source, queries, (stat.st_size, stat.st_mtime_ns))


def _queries_of(reader: WorkbookReader, cell: FormulaCell, workbook: str) -> list[Query]:
    try:
        parsed = parse_formula(cell.text)
    except FormulaSyntaxError as exc:
        query = Query(cell, "GENERECT", written=False, skipped=f"cannot read {cell.text}: {exc}")
        query.cell_workbook = workbook
        return [query]
    queries = []
    for call in parsed.calls:
        whole = call is parsed.whole
        query = Query(cell, call.function, written=whole, single=whole and parsed.single)
        query.cell_workbook = workbook
        _prepare(reader, query, call)
        queries.append(query)
    return queries


def _prepare(reader: WorkbookReader, query: Query, call: Call) -> None:
    params = FUNCTION_NAMES[call.function]
    if call.extra:
        query.invalid = CriteriaError(
            f"{call.function} takes at most {len(params)} argument{'s' if len(params) != 1 else ''}."
        )
        return
    try:
        query.args = {
            name: reader.resolve(arg, query.cell.sheet)
            for name, arg in zip(params, call.args, strict=True)
        }
    except WorkbookError as exc:
        query.skipped = str(exc)
        return
    # Where the criteria range starts on its sheet: problems then say "row 7", the sheet's row.
    origin = reader.origin(call.args[0], query.cell.sheet) if call.args else None
    try:
        # Every check the function makes before sending, so that what would be refused is
        # refused here: free, and listed by the dry run.
        query.request = check_arguments(call.function, query.args, origin=origin)
    except GenerectError as exc:
        query.invalid = exc


# --------------------------------------------------------------------------- 2. quote


def _request_key(query: Query) -> tuple[str, str, str, str | None]:
    # The refresh value belongs to the key: the engine fetches a request afresh for each new
    # refresh value, so the same request with two new values is paid twice (at worst; once
    # only if the second call happens to join the first in flight).
    token = refresh_token(scalar(query.args.get("refresh"), "refresh"))
    return (query.kind or "", query.mode, canonical_json(query.request.body()), token)


def _not_run_lines(query: Query) -> list[str]:
    """Why a call will not run, in full: the cell shows one problem and "(+N more: refresh
    --dry-run lists all)", so here every criteria problem gets its own line."""
    head = f"{query.where:<24} {query.function:<17} not run:"
    problems = getattr(query.invalid, "problems", None)
    if isinstance(query.invalid, CriteriaError) and problems and len(problems) > 1:
        return [f"{head} {len(problems)} problems in the criteria"] + [
            f"{'':<24}   {problem}" for problem in problems
        ]
    invalid = query.invalid.full_message if query.invalid else ""
    return [f"{head} {query.skipped or invalid}"]


def quote_plan(plan: Plan, engine: EngineAPI, *, sharpen: bool = True) -> Quote:
    """Price each runnable call (nothing billable is sent; the store is only read).

    ``sharpen``: for database searches that would be fetched, ask the free database count
    (needs a key; skipped without one) and price ``min(limit, count - offset)`` rows too.
    A call with an unknown outcome standing (its answer was lost; the run would only show
    that error) is listed as such, counted neither stored nor new, and priced $0.

    The store is read once for every call (:meth:`~generect_excel.engine.Engine.cached_many`),
    and the free counts are asked concurrently, each distinct count once, through the engine
    (so within ``max_parallel`` and the throttle): the dry run costs less than the refresh.
    """
    test_mode = engine.settings.test_mode_key
    stored = _stored_answers(plan, engine)
    seen: dict[tuple[str, str, str, str | None], Query] = {}
    # Each line in order: its text, or a priced call whose line waits for the free counts.
    entries: list[str | tuple[Query, Decimal, bool]] = []
    to_sharpen: list[Query] = []
    cached = new = 0
    for index, query in enumerate(plan.queries):
        if not query.runnable:
            entries.extend(_not_run_lines(query))
            continue
        if query.kind is None:
            status = "free (local)" if query.function != "GENERECT_BALANCE" else "free (account)"
            entries.append(f"{query.where:<24} {query.function:<17} {status}")
            continue
        key = _request_key(query)
        described = WORKSHEET_FUNCTIONS[query.function]
        quoted = None
        try:
            if described.quote:  # several calls priced as one purchase (GENERECT_ENRICH)
                refresh = scalar(query.args.get("refresh"), "refresh")
                fetches, quoted = described.quote_request(
                    engine, query.request, refresh, query.origin
                )
                answer = None if fetches else quoted
            else:
                answer = stored[index]
                if isinstance(answer, BaseException):
                    raise answer
        except (OutcomeUnknownError, ProtocolError) as exc:
            if exc.unknown_outcome is None:
                raise
            # Sent before, answer lost: the run sends nothing and shows that error (free).
            seen.setdefault(key, query)
            status = "unknown outcome: change refresh to retry"
            entries.append(f"{query.where:<24} {query.function:<17} {query.mode:<9} {status}")
            continue
        query.fetches = answer is None
        estimate = quoted or engine.estimate(query.request, query.kind, cached=answer is not None)
        duplicate = key in seen and seen[key].fetches
        price = Decimal(0)
        if query.fetches and not duplicate:
            price = estimate.amount  # shown even for a test key, which is never debited
            query.worst_case = estimate.refresh_cost
            query.likely = query.worst_case
            if (
                sharpen
                and query.kind == "search"
                and query.mode == "database"
                and engine.settings.key
            ):
                to_sharpen.append(query)
        seen.setdefault(key, query)
        if query.fetches:
            new += 1
        else:
            cached += 1
        entries.append((query, price, duplicate))
    _sharpen(engine, to_sharpen)
    sharpened = any(query.likely != query.worst_case for query in to_sharpen)
    lines = []
    worst = Decimal(0)
    likely = Decimal(0)
    for entry in entries:
        if isinstance(entry, str):
            lines.append(entry)
            continue
        query, price, duplicate = entry
        worst += query.worst_case
        likely += query.likely if query.likely is not None else query.worst_case
        if not query.fetches:
            status = "from the store"
        elif duplicate:
            status = "new (same request as above: paid once)"
        else:
            status = f"new, up to {format_money(price)}"
            if query.likely is not None and query.likely < query.worst_case:
                status += f" (likely {format_money(query.likely)})"
            if test_mode and price:
                status += " (test key: not debited)"
        lines.append(f"{query.where:<24} {query.function:<17} {query.mode:<9} {status}")
    return Quote(
        queries=len(plan.queries),
        distinct=len(seen),
        cached=cached,
        new=new,
        worst_case=worst,
        likely=likely if sharpened else None,
        test_mode=test_mode,
        lines=tuple(lines),
    )


def _stored_answers(plan: Plan, engine: EngineAPI) -> dict[int, Any]:
    """What the store answers for each runnable count and search of ``plan`` (by its index
    in ``plan.queries``): the answer, None (it would fetch) or the error of an unknown
    outcome; one batched read for the whole plan."""
    wanted: list[tuple[int, tuple[Any, Any, Any, Origin | None]]] = []
    for index, query in enumerate(plan.queries):
        if not query.runnable or query.kind is None or WORKSHEET_FUNCTIONS[query.function].quote:
            continue
        refresh = scalar(query.args.get("refresh"), "refresh")
        wanted.append((index, (query.kind, query.request, refresh, query.origin)))
    if not wanted:
        return {}
    answers = engine.cached_many([call for _, call in wanted])
    return {index: answer for (index, _), answer in zip(wanted, answers, strict=True)}


def _sharpen(engine: EngineAPI, queries: list[Query]) -> None:
    """Set each query's ``likely`` cost from the free database count of its criteria: the cost
    if the search returns ``min(limit, count - offset)`` rows. The distinct counts are asked
    once each, concurrently through the engine (its client keeps ``max_parallel`` and the
    throttle); a count that fails leaves the worst case."""
    counts: dict[tuple[str, str], Any] = {}  # (mode, canonical body) -> the count request
    wanted: list[tuple[Query, tuple[str, str]]] = []  # each query and its count
    origins: dict[tuple[str, str], Origin] = {}
    for query in queries:
        try:
            request = request_for_count(query.args["criteria"], "database")
        except GenerectError:
            continue
        key = (str(request.mode), canonical_json(request.body()))
        counts.setdefault(key, request)
        origins.setdefault(key, query.origin)
        wanted.append((query, key))
    if not counts:
        return
    results: dict[tuple[str, str], Any] = {}
    size = max(1, min(engine.settings.max_parallel, len(counts)))
    pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="generect-quote")
    try:
        futures = {
            pool.submit(engine.count, request, origin=origins[key]): key
            for key, request in counts.items()
        }
        for future in as_completed(futures):
            try:
                results[futures[future]] = future.result().result.results_count
            except GenerectError:
                continue
    finally:  # Ctrl+C: the counts not yet sent are dropped, not waited for
        pool.shutdown(wait=True, cancel_futures=True)
    for query, key in wanted:
        count = results.get(key)
        if isinstance(count, int) and query.likely is not None:
            query.likely = _likely_from_count(query, count, query.likely)


def _likely_from_count(query: Query, count: int, worst: Decimal) -> Decimal:
    """The cost if the search returns ``min(limit, count - offset)`` rows."""
    body = query.request.body()
    rows = min(budget.worst_case_rows(body), max(0, count - int(body.get("offset_by") or 0)))
    return budget.estimate_cost({**body, "limit_by": rows}, "search", "database")


# --------------------------------------------------------------------------- 3. run


def _evaluate(engine: EngineAPI, query: Query) -> Outcome:
    # The origin goes to the ledger with a charge: only functions that buy have one to give.
    origin = query.origin if WORKSHEET_FUNCTIONS[query.function].buys else None
    return evaluate(query.function, engine, query.args, origin)


def run_plan(
    plan: Plan,
    engine: EngineAPI,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> None:
    """Evaluate every runnable call concurrently; each query gets its outcome or error.

    GENERECT_SPEND, GENERECT_BALANCE and GENERECT_LEADS (local reads of the ledger, the account
    and the register) run last, after every count and search has ended, so that they include
    this refresh's own purchases, as Excel's volatile recalculation shows them.

    A :class:`KeyboardInterrupt` stops waiting and propagates (calls already sent finish in
    the background threads and land in the store: nothing bought is lost).

    Calls of the same request (pages repeated across sheets, the same question in two cells)
    run one after another in one task: each is still evaluated in full for its own cell, but
    the second finds the first's decoded, validated answer in the memos, which a workbook of
    thousands of distinct requests would otherwise have pushed out in between.
    """
    todo = plan.runnable
    total = len(todo)
    done = 0
    size = max(1, min(workers or engine.settings.max_parallel, total or 1))
    last = [q for q in todo if q.function in AFTER_PURCHASES]
    first = [q for q in todo if q.function not in AFTER_PURCHASES]
    pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="generect-refresh")
    try:
        for batch in (first, last):
            futures = [pool.submit(_evaluate_group, engine, group) for group in _groups(batch)]
            for future in as_completed(futures):
                for _ in future.result():  # one step per call, as each cell is done
                    done += 1
                    if progress is not None:
                        progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _groups(queries: list[Query]) -> list[list[Query]]:
    """``queries`` with the calls of one request together, in order of first appearance."""
    groups: dict[Any, list[Query]] = {}
    for query in queries:
        key: Any = id(query)
        if query.kind is not None and query.request is not None:
            try:
                key = _request_key(query)
            except (GenerectError, AttributeError):  # evaluated alone: it fails there
                key = id(query)
        groups.setdefault(key, []).append(query)
    return list(groups.values())


def _evaluate_group(engine: EngineAPI, group: list[Query]) -> list[Query]:
    """Evaluate each query of ``group`` in turn; each gets its outcome or error."""
    for query in group:
        try:
            query.outcome = _evaluate(engine, query)
        except Exception as exc:  # shown in its cell, like the worksheet function
            query.error = exc
        else:  # failed, showing what the store held: a failure all the same
            query.error = query.outcome.failure
    return group
