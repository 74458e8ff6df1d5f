"""Refresh a workbook file without Excel: find, price, run and write every GENERECT_* formula.

The steps, each usable alone (the CLI's ``refresh`` and ``demo`` chain them):

1. :func:`plan_refresh` reads the file (openpyxl, read only), finds every GENERECT call, reads
   its arguments from the cells, names and literals it references, and validates the
   criteria (free). A formula the refresher cannot read (an argument that is an expression,
   a reference to another workbook, ...) is listed as *skipped* and its cell left as it is.
2. :func:`quote_plan` tells, for each call, whether it would be answered from the store or
   fetched, and its worst-case cost; identical requests are priced once (they are paid once).
   A call whose earlier answer was lost (an unknown outcome) is quoted as such, at $0: the run
   sends nothing for it and writes its error until its refresh value changes.
   Free database counts may sharpen a database search's estimate (``min(limit, count)`` rows).
3. :func:`run_plan` evaluates the calls concurrently through the engine (a thread pool of
   ``settings.max_parallel``: cache, coalescing, budget and ledger as in Excel), with the
   very functions the worksheet functions use (:mod:`generect_excel.functions`).
4. :func:`write_results` patches the results into the file's XML and replaces it atomically
   (:mod:`.xlsxpatch`).

:func:`refresh_workbook` does all four, with the confirmation rules of the CLI.

What a formula's cell gets: the function's value, exactly as Excel with the add-in would
show it, including its error line (``#GENERECT! ...``) when the criteria are invalid or the
call fails, except where that would erase data the file already shows. **A failed refresh
never erases what was bought**: a GENERECT_SEARCH whose cell already shows a table (its status
line) keeps every row, and only its status line changes, to say when the refresh failed, when
the rows shown were fetched, and why; a GENERECT_COUNT that already shows a number keeps it.
This holds for any failure: the API unreachable, an error status, the budget, criteria edited
into something invalid, and an unknown outcome (sent, answer lost: it may have been charged;
the ledger records it at its worst case, the rows are kept and the status says "outcome
unknown"). The summary lists such cells as *kept* and the exit status is 1. Where nothing was
shown before (a fresh template's "Not fetched yet", an earlier error), the error is written.

Before anything is sent, the destination is checked (:mod:`.destination`): a workbook open in
another program (its lock file beside it), a read-only file (unless ``force``), a folder that
cannot be written are refused with one line, so nothing is bought that cannot be written.

GENERECT_SPEND and GENERECT_BALANCE are evaluated after every count and search of the refresh,
so they include its own purchases. A call nested in another formula (``=IFERROR(GENERECT_COUNT(...),0)``) is
evaluated (so the store has it for the add-in) but its cell is not written: computing the
rest of the formula needs a spreadsheet engine. Cells referenced by a formula are read as the
file saved them (a criteria cell holding a formula gives its last saved value).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .. import budget
from .._constants import CELL_ERROR_PREFIX
from .._constants import SPILLING_FUNCTIONS as SPILLING
from ..budget import format_money
from ..engine import refresh_token
from ..errors import (
    BudgetError,
    CriteriaError,
    GenerectError,
    OutcomeUnknownError,
    ProtocolError,
    WorkbookError,
)
from ..functions import (
    FUNCTION_NAMES,
    Outcome,
    cell_error,
    check_arguments,
    evaluate_balance,
    evaluate_leads,
    evaluate_spend,
    evaluate_values,
    may_be_charged,
    request_for_count,
    run_count,
    run_search,
    scalar,
)
from ..ledger import Origin
from ..models import canonical_json
from ..table import HeldTable, held_table, kept_status_line
from .destination import check_destination
from .formulas import Call, FormulaSyntaxError, parse_formula
from .references import FormulaCell, WorkbookReader
from .xlsxpatch import CellResult, Package, PatchReport, SpillMode, patch_workbook, write_atomically

__all__ = [
    "Plan",
    "Query",
    "Quote",
    "RefreshSummary",
    "plan_refresh",
    "quote_plan",
    "refresh_workbook",
    "run_plan",
    "write_results",
]

KINDS = {"GENERECT_COUNT": "count", "GENERECT_SEARCH": "search"}
# Read what the ledger and the account say once the refresh's own purchases are made.
AFTER_PURCHASES = frozenset({"GENERECT_SPEND", "GENERECT_BALANCE", "GENERECT_LEADS"})

Progress = Callable[[int, int], None]
Confirm = Callable[["Quote"], bool]


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


@dataclass
class RefreshSummary:
    """What a refresh did, for the final report."""

    source: Path
    output: Path | None
    queries: int = 0
    from_cache: int = 0
    new: int = 0
    local: int = 0  # spend, balance, values: no lead query
    rows: int = 0
    amount_charged: Decimal = Decimal(0)
    test_mode: bool = False
    spill_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # failed, the cell keeps its earlier data
    skipped: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)
    quote: Quote | None = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """No error, no #SPILL!, no failed refresh kept, nothing skipped."""
        return not (self.errors or self.spill_errors or self.kept or self.skipped)

    def lines(self) -> list[str]:
        """The report, one line each."""
        if not self.queries:
            return [f"No GENERECT_* formula in {self.source.name}: nothing to refresh."]
        if self.dry_run:
            out = list(self.quote.lines) if self.quote else []
            if self.quote:
                out.append(self.quote.summary())
            out.extend(f"skipped {line}" for line in self.skipped)
            out.append("Dry run: nothing was sent and the workbook was not changed.")
            return out
        charged = f"{format_money(self.amount_charged)} charged"
        if self.test_mode:
            charged = f"{format_money(self.amount_charged)} priced, not debited (test key)"
        out = [
            f"{self.queries} quer{'y' if self.queries == 1 else 'ies'}: {self.from_cache} from "
            f"the store, {self.new} fetched now, {self.local} spend/balance/values; {self.rows:,} lead "
            f"row{'' if self.rows == 1 else 's'} written; {charged}",
        ]
        out.extend(f"#SPILL! {line}" for line in self.spill_errors)
        out.extend(f"error {line}" for line in self.errors)
        out.extend(f"kept {line}" for line in self.kept)
        out.extend(f"skipped {line}" for line in self.skipped)
        out.extend(f"not written {line}" for line in self.not_written)
        if self.output is not None:
            out.append(f"Wrote {self.output}")
        return out


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


def quote_plan(plan: Plan, engine: Any, *, sharpen: bool = True) -> Quote:
    """Price each runnable call (nothing billable is sent; the store is only read).

    ``sharpen``: for database searches that would be fetched, ask the free database count
    (needs a key; skipped without one) and price ``min(limit, count - offset)`` rows too.
    A call with an unknown outcome standing (its answer was lost; the run would only show
    that error) is listed as such, counted neither stored nor new, and priced $0.
    """
    test_mode = engine.settings.test_mode_key
    seen: dict[tuple[str, str, str, str | None], Query] = {}
    lines = []
    cached = new = 0
    worst = Decimal(0)
    likely = Decimal(0)
    sharpened = False
    for query in plan.queries:
        if not query.runnable:
            lines.extend(_not_run_lines(query))
            continue
        if query.kind is None:
            status = "free (local)" if query.function != "GENERECT_BALANCE" else "free (account)"
            lines.append(f"{query.where:<24} {query.function:<17} {status}")
            continue
        key = _request_key(query)
        try:
            answer = engine.cached(
                query.request,
                query.kind,
                refresh=scalar(query.args.get("refresh"), "refresh"),
                origin=query.origin,
            )
        except (OutcomeUnknownError, ProtocolError) as exc:
            if getattr(exc, "unknown_outcome", None) is None:
                raise
            # Sent before, answer lost: the run sends nothing and shows that error (free).
            seen.setdefault(key, query)
            status = "unknown outcome: change refresh to retry"
            lines.append(f"{query.where:<24} {query.function:<17} {query.mode:<9} {status}")
            continue
        query.fetches = answer is None
        estimate = engine.estimate(query.request, query.kind)
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
                query.likely = _likely_cost(engine, query, query.worst_case)
                sharpened = sharpened or query.likely != query.worst_case
        seen.setdefault(key, query)
        if query.fetches:
            new += 1
        else:
            cached += 1
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


def _likely_cost(engine: Any, query: Query, worst: Decimal) -> Decimal:
    """The cost if the search returns ``min(limit, count - offset)`` rows (free count)."""
    try:
        count_request = request_for_count(query.args["criteria"], "database")
        count = engine.count(count_request, origin=query.origin).result.results_count
    except GenerectError:
        return worst
    if not isinstance(count, int):
        return worst
    body = query.request.body()
    rows = min(budget.worst_case_rows(body), max(0, count - int(body.get("offset_by") or 0)))
    return budget.estimate_cost({**body, "limit_by": rows}, "search", "database")


# --------------------------------------------------------------------------- 3. run


def _evaluate(engine: Any, query: Query) -> Outcome:
    args = query.args
    if query.function == "GENERECT_COUNT":
        return run_count(engine, args["criteria"], args["mode"], args["refresh"], query.origin)
    if query.function == "GENERECT_SEARCH":
        return run_search(
            engine,
            args["criteria"],
            args["limit"],
            args["offset"],
            args["fields"],
            args["mode"],
            args["refresh"],
            query.origin,
        )
    if query.function == "GENERECT_SPEND":
        return Outcome(evaluate_spend(engine, args["period"]))
    if query.function == "GENERECT_BALANCE":
        return Outcome(evaluate_balance(engine))
    if query.function == "GENERECT_LEADS":
        return Outcome(evaluate_leads(engine, args["criteria"]))
    return Outcome(evaluate_values(args["field"]))


# Worksheet functions that read the local store's ledger or register (see run_plan).


def run_plan(
    plan: Plan,
    engine: Any,
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
    """
    todo = plan.runnable
    total = len(todo)
    done = 0
    lock = threading.Lock()
    size = max(1, min(workers or engine.settings.max_parallel, total or 1))
    last = [q for q in todo if q.function in AFTER_PURCHASES]
    first = [q for q in todo if q.function not in AFTER_PURCHASES]
    pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="generect-refresh")
    try:
        for batch in (first, last):
            futures = {pool.submit(_evaluate, engine, query): query for query in batch}
            for future in as_completed(futures):
                query = futures[future]
                try:
                    query.outcome = future.result()
                except Exception as exc:  # shown in its cell, like the worksheet function
                    query.error = exc
                else:  # failed, showing what the store held: a failure all the same
                    query.error = query.outcome.failure
                with lock:
                    done += 1
                if progress is not None:
                    progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- 4. write


def _held(query: Query) -> HeldTable | float | None:
    """What the file shows at a count's or search's cell that a failed refresh must keep: the
    table its status line describes, or the count's number; None when it shows nothing
    bought (empty, "Not fetched yet", an error line)."""
    if not query.written or query.kind is None:
        return None
    saved = query.cell.saved
    if query.kind == "count":
        return saved if isinstance(saved, int | float) and not isinstance(saved, bool) else None
    return held_table(saved)


def _reason(failure: BaseException) -> str:
    """A failure's own one-line message, without the cell prefix."""
    return cell_error(failure).removeprefix(CELL_ERROR_PREFIX).strip()


def _keep(query: Query, failed_at: datetime) -> CellResult | None:
    """For a failed count or search whose cell shows earlier data: mark the query kept and
    return the cell's new status (a count keeps its number: None, nothing written)."""
    failure = query.invalid or query.error
    held = _held(query) if failure is not None else None
    if failure is None:
        return None
    if held is None:
        stored = query.outcome  # the store's earlier answer, shown by the function itself
        if stored is None or stored.failure is None or not query.written:
            return None
        query.kept = f"refresh failed ({_reason(failure)}); it shows the rows stored earlier"
        return CellResult(
            sheet=query.cell.sheet,
            coordinate=query.cell.coordinate,
            values=[row[:1] for row in stored.value[:1]] if query.single else stored.value,
            spilling=query.function in SPILLING and not query.single,
            formula=query.cell.text.removeprefix("="),
        )
    unknown = may_be_charged(failure)
    what = "outcome unknown, it may have been charged" if unknown else "refresh failed"
    if isinstance(held, HeldTable):
        rows = f"{held.rows:,} rows" if held.rows is not None else "rows"
        shown = f"the {rows} fetched {held.fetched or 'earlier'}"
    else:
        shown = f"the number {held:,}"
    query.kept = f"{what} ({_reason(failure)}); it still shows {shown}"
    if not isinstance(held, HeldTable):
        return None
    status = kept_status_line(held, _reason(failure), failed_at=failed_at, unknown=unknown)
    return CellResult(
        sheet=query.cell.sheet,
        coordinate=query.cell.coordinate,
        values=[[status]],
        spilling=query.function in SPILLING and not query.single,
        formula=query.cell.text.removeprefix("="),
        keep=not query.single,
    )


def _cell_values(query: Query) -> list[list[Any]] | None:
    """The rows to write at the query's cell, or None when it is not written."""
    if not query.written or query.skipped is not None:
        return None
    failure = query.invalid or query.error
    if failure is not None:
        return [[cell_error(failure)]]
    assert query.outcome is not None
    value = query.outcome.value
    if isinstance(value, list):
        rows = [list(row) for row in value] or [[None]]
        if query.single:
            return [[rows[0][0] if rows[0] else None]]
        return rows
    return [[value]]


def write_results(
    plan: Plan,
    target: Path,
    *,
    spill: SpillMode = "static",
) -> PatchReport:
    """Patch the evaluated plan's results into a copy of the file at ``target`` (atomic)."""
    package = Package(plan.path)
    results = []
    failed_at = datetime.now(UTC)
    for query in plan.queries:
        query.kept = None
        kept = _keep(query, failed_at)
        if query.kept is not None:
            if kept is not None:
                results.append(kept)
            continue  # the cell keeps what it shows
        values = _cell_values(query)
        if values is None:
            continue
        results.append(
            CellResult(
                sheet=query.cell.sheet,
                coordinate=query.cell.coordinate,
                values=values,
                spilling=query.function in SPILLING and not query.single,
                formula=query.cell.text.removeprefix("="),
            )
        )
    parts, report = patch_workbook(package, results, spill=spill)
    same_file = target.resolve() == plan.path.resolve()
    write_atomically(package, parts, target, expect_unchanged=plan.stat if same_file else None)
    return report


# --------------------------------------------------------------------------- all together


def refresh_workbook(
    path: str | os.PathLike[str],
    engine: Any,
    *,
    output: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    confirm: Confirm | None = None,
    max_spend: Decimal | None = None,
    progress: Progress | None = None,
    spill: SpillMode = "static",
    force: bool = False,
) -> RefreshSummary:
    """Refresh every GENERECT formula of the workbook at ``path``.

    ``output``: write there instead of replacing ``path`` (replaced only after success).
    Before anything is sent, the file to be written is checked (:func:`check_destination`):
    open in another program, read-only (unless ``force``), or in a folder that cannot be
    written: WorkbookError, nothing sent. ``dry_run``: quote only (:attr:`RefreshSummary.quote`); nothing billable is sent and no
    file is written. ``max_spend``: refuse (BudgetError, nothing sent) when the worst case of
    the new queries exceeds it. When the worst case exceeds ``settings.confirm_above``,
    ``confirm(quote)`` must return True, else BudgetError (no ``confirm``: refused).

    Example::

        summary = refresh_workbook("leads.xlsx", Engine(load_settings()), confirm=lambda q: True)
        print("\\n".join(summary.lines()))
    """
    target = Path(output) if output is not None else Path(path)
    if not dry_run:
        check_destination(target, force=force)  # before anything is read, sent or bought
    plan = plan_refresh(path)
    summary = RefreshSummary(source=plan.path, output=None, dry_run=dry_run)
    summary.queries = len(plan.queries)
    summary.test_mode = engine.settings.test_mode_key
    summary.skipped = [f"{q.where}: {q.skipped}" for q in plan.queries if q.skipped]
    quote = quote_plan(plan, engine, sharpen=dry_run)
    summary.quote = quote
    if dry_run or not plan.queries:
        return summary  # nothing to write: the file stays exactly as it is
    if max_spend is not None and quote.worst_case > max_spend:
        raise BudgetError(
            f"This refresh may cost up to {format_money(quote.worst_case)}, over --max-spend "
            f"{format_money(max_spend)}. Nothing was sent; see --dry-run."
        )
    if quote.worst_case > engine.settings.confirm_above and (confirm is None or not confirm(quote)):
        raise BudgetError(
            f"This refresh may cost up to {format_money(quote.worst_case)} "
            f"(over {format_money(engine.settings.confirm_above)}): not confirmed, nothing was sent."
        )
    if any(q.fetches for q in plan.queries):
        engine.settings.require_key()  # before anything is sent or written
    run_plan(plan, engine, progress=progress)
    report = write_results(plan, target, spill=spill)
    _summarize(summary, plan, report)
    summary.output = target
    return summary


def _summarize(summary: RefreshSummary, plan: Plan, report: PatchReport) -> None:
    blocked = {(b.sheet.lower(), b.coordinate) for b in report.blocked}
    summary.spill_errors = [str(b) for b in report.blocked]
    for query in plan.queries:
        failure = query.invalid or query.error
        if query.kept is not None:
            summary.kept.append(f"{query.where} {query.function}: {query.kept}")
        elif failure is not None:
            summary.errors.append(f"{query.where} {query.function}: {cell_error(failure)}")
        elif query.outcome is not None:
            answer = query.outcome.answer
            if answer is None:
                summary.local += 1
            elif answer.from_cache:
                summary.from_cache += 1
            else:
                summary.new += 1
                summary.amount_charged += Decimal(answer.result.amount_charged)
            if (
                query.function == "GENERECT_SEARCH"
                and query.written
                and not query.single
                and (query.cell.sheet.lower(), query.cell.coordinate) not in blocked
            ):
                summary.rows += len(answer.result.leads)
        if query.runnable and not query.written:
            summary.not_written.append(
                f"{query.where}: {query.function} inside a larger formula (fetched into the store;"
                " the cell keeps its saved value)"
            )


def format_progress(done: int, total: int) -> str:
    """ "12/60 queries"."""
    return f"{done}/{total} quer{'y' if total == 1 else 'ies'}"
