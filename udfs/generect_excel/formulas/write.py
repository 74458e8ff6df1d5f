"""Write an evaluated plan's results into the workbook file (step 4 of
:mod:`generect_excel.workbook.refresher`): the XML patch, and what a failed refresh keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._constants import CELL_ERROR_PREFIX
from ..functions import cell_error, may_be_charged
from ..table import HeldTable, held_table, kept_status_line
from ..worksheet import SPILLING
from .plan import Plan, Query
from .xlsxpatch import CellResult, Package, PatchReport, SpillMode, patch_workbook, write_atomically

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
                # A table from a function that returns one only in some views
                # (GENERECT_SPEND's "analysts") spills like the tables of SPILLING ones.
                spilling=(query.function in SPILLING or len(values) > 1 or len(values[0]) > 1)
                and not query.single,
                formula=query.cell.text.removeprefix("="),
            )
        )
    parts, report = patch_workbook(package, results, spill=spill)
    same_file = target.resolve() == plan.path.resolve()
    write_atomically(package, parts, target, expect_unchanged=plan.stat if same_file else None)
    return report
