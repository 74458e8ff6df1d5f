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
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..budget import format_money
from ..errors import BudgetError
from ..formulas.plan import Plan, Progress, Query, Quote, plan_refresh, quote_plan, run_plan
from ..formulas.write import write_results
from ..formulas.xlsxpatch import PatchReport, SpillMode
from ..functions import cell_error
from ..operations import operation
from ..ports import EngineAPI
from .destination import check_destination

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

Confirm = Callable[["Quote"], bool]


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


# --------------------------------------------------------------------------- all together


def refresh_workbook(
    path: str | os.PathLike[str],
    engine: EngineAPI,
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
            # Rows written: the list of rows of a buying function's table (leads, companies).
            rows_field = query.kind and operation(query.kind, query.mode).rows_field
            if (
                rows_field
                and query.written
                and not query.single
                and (query.cell.sheet.lower(), query.cell.coordinate) not in blocked
            ):
                summary.rows += len(getattr(answer.result, rows_field))
        if query.runnable and not query.written:
            summary.not_written.append(
                f"{query.where}: {query.function} inside a larger formula (fetched into the store;"
                " the cell keeps its saved value)"
            )


def format_progress(done: int, total: int) -> str:
    """ "12/60 queries"."""
    return f"{done}/{total} quer{'y' if total == 1 else 'ies'}"
