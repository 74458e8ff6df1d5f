"""The ribbon's Refresh: a new refresh token written into the targeted GENERECT_COUNT/SEARCH
formulas, static tables made spilling (Windows), or the saved file refreshed (Mac).

What a click does is described in :mod:`generect_excel.ribbon_actions`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .budget import format_money
from .errors import GenerectError, WorkbookError
from .ribbon_book import Area, Book, Sheet, _where, _write_formula
from .ribbon_context import Context, _confirm, _listing, _plural, _status
from .ribbon_scan import (
    REFRESHABLE,
    SPILLING,
    FormulaCell,
    _drop_implicit_at,
    _Record,
    _request,
    _restore_implicit_at,
    _sheet_named,
    _static_tables,
    scan_sheet,
)

if TYPE_CHECKING:  # the parser imports openpyxl: only when an action runs
    from .workbook.formulas import Arg, Call

log = logging.getLogger(__name__)

Scope = Literal["selection", "sheet", "workbook"]

#: The file types the refresher can write (on a Mac, Refresh works through the saved file).
FILE_SUFFIXES = (".xlsx", ".xlsm")
TOKEN_PREFIX = "r:"
_TOKEN_RE = re.compile(r"^r:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:-\d+)?$")


def new_token(now: datetime, taken: Iterable[Any] = ()) -> str:
    """The refresh token for one click: ``r:`` and the local time to the second, with a
    ``-2``, ``-3`` ... suffix when a targeted formula already holds that very value."""
    base = f"{TOKEN_PREFIX}{now.replace(tzinfo=None):%Y-%m-%dT%H:%M:%S}"
    used = {str(value) for value in taken}
    token, n = base, 1
    while token in used:
        n += 1
        token = f"{base}-{n}"
    return token


def token_time(value: Any) -> datetime | None:
    """The click time inside a token written by :func:`new_token` (aware, local), else None."""
    match = _TOKEN_RE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    return datetime.fromisoformat(match.group(1)).astimezone()


def _excel_text(value: str) -> str:
    """A string as an Excel formula literal: ``"..."`` with doubled quotes."""
    return '"' + value.replace('"', '""') + '"'


def _arg_text(arg: Arg) -> str:
    text = getattr(arg, "text", "") or getattr(arg, "name", "")
    return text or "an expression"


@dataclass
class _Rewrite:
    cell: FormulaCell
    formula: str  # the new text
    calls: list[Call]  # the calls whose refresh argument it changes
    spilling: str = ""  # the new text without Excel's implicit @ (for a static table)

    @property
    def searches(self) -> bool:
        return any(call.function in REFRESHABLE & SPILLING for call in self.cell.calls)


@dataclass
class RefreshReport:
    """What a Refresh click did (or would do, when ``cancelled``)."""

    scope: str  # "the selection", "sheet Leads", "the workbook"
    token: str = ""
    refreshed: list[str] = field(default_factory=list)  # cells whose formula got the token
    held: list[str] = field(default_factory=list)  # "Leads!B14 (refresh from $B$1)"
    unreadable: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # cells Excel would not let us change
    respilled: list[str] = field(
        default_factory=list
    )  # static tables made spilling: "Leads!A21:K24"
    worst_case: Decimal = Decimal(0)
    unpriced: int = 0  # calls whose cost could not be read from the workbook
    test_mode: bool = False
    cancelled: bool = False
    note: str = ""  # why the scope changed
    file_lines: list[str] = field(default_factory=list)  # the refresher's summary (Mac)

    def message(self) -> str:
        """The text of the message box."""
        lines = [self.note] if self.note else []
        n = len(self.refreshed)
        if self.cancelled:
            lines.append(
                f"Cancelled: nothing was changed ({_plural(n, 'formula')} in {self.scope})."
            )
            return "\n".join(lines)
        if n:
            cost = f"worst case {format_money(self.worst_case)}"
            if self.unpriced:
                cost += f", plus {_plural(self.unpriced, 'call')} that could not be priced"
            if self.test_mode:
                cost += "; test key: nothing is debited"
            lines.append(f"Refreshing {_plural(n, 'formula')} in {self.scope} ({cost}).")
            if not self.file_lines:
                lines.append("Each fetches afresh once as Excel recalculates it.")
            if self.respilled:
                lines.append(
                    "Tables written as plain values by generect-excel refresh now spill as "
                    f"Excel's own (their values fill in again): {_listing(self.respilled)}."
                )
        elif not self.file_lines:
            lines.append(f"No GENERECT_COUNT or GENERECT_SEARCH formula refreshed in {self.scope}.")
        lines.extend(self.file_lines)
        if self.held:
            lines.append(
                "Left alone, their refresh value comes from a cell or an expression (change "
                f"it to refresh them): {_listing(self.held)}."
            )
        if self.unreadable:
            lines.append(f"Could not read: {_listing(self.unreadable)}.")
        if self.failed:
            lines.append(f"Excel refused to change: {_listing(self.failed)}.")
        return "\n".join(lines)


def _targets(book: Book, scope: Scope) -> tuple[list[FormulaCell], list[str], str, str]:
    """(cells in scope, unreadable cells, scope description, note)."""
    if scope == "workbook":
        cells: list[FormulaCell] = []
        unreadable: list[str] = []
        for sheet in book.sheets:
            found, bad = scan_sheet(book, sheet, results=False)
            cells += found
            unreadable += bad
        return cells, unreadable, "the workbook", ""
    selection = book.selection if scope == "selection" else None
    if selection is None:
        sheet = book.sheets.active
        found, bad = scan_sheet(book, sheet, results=False)
        note = "" if scope == "sheet" else "Nothing is selected: refreshing the sheet."
        return found, bad, f"sheet {sheet.name}", note
    sheet = selection.sheet
    found, bad = scan_sheet(book, sheet, results=True)
    chosen = Area.parse(selection.address)
    picked = [c for c in found if c.touches(chosen)]
    if any(c.refreshable for c in picked):
        return picked, [], "the selection", ""
    note = "The selection holds no GENERECT_COUNT or GENERECT_SEARCH formula: refreshing the sheet."
    return found, bad, f"sheet {sheet.name}", note


def _takes_token(call: Call) -> bool:
    """A COUNT/SEARCH call whose refresh argument is left out or a typed value."""
    from .workbook.formulas import Literal, Omitted

    return call.function in REFRESHABLE and isinstance(call.arg("refresh"), Omitted | Literal)


def _plan(cells: Sequence[FormulaCell], token: str) -> tuple[list[_Rewrite], list[str]]:
    """The new text of each refreshable formula, and the formulas whose refresh is held."""
    from .workbook.formulas import FormulaSyntaxError, replace_arguments

    edit = {"refresh": _excel_text(token)}
    rewrites: list[_Rewrite] = []
    held: list[str] = []
    for cell in cells:
        changed = [call for call in cell.calls if _takes_token(call)]
        if changed:
            plain, marks = _drop_implicit_at(cell.formula)
            try:
                text = replace_arguments(plain, lambda call: edit if _takes_token(call) else None)
            except FormulaSyntaxError:
                held.append(f"{cell.where} (its formula cannot be rewritten)")
                continue
            rewrites.append(_Rewrite(cell, _restore_implicit_at(text, marks), changed, text))
        holders = [
            _arg_text(call.arg("refresh"))
            for call in cell.calls
            if call.function in REFRESHABLE and not _takes_token(call)
        ]
        if holders:
            held.append(f"{cell.where} (refresh from {', '.join(holders)})")
    return rewrites, held


def _taken_tokens(cells: Sequence[FormulaCell]) -> list[Any]:
    from .workbook.formulas import Literal

    values = []
    for cell in cells:
        for call in cell.calls:
            if call.function in REFRESHABLE:
                arg = call.arg("refresh")
                if isinstance(arg, Literal):
                    values.append(arg.value)
    return values


def _price(book: Book, rewrites: Sequence[_Rewrite], engine: Any) -> tuple[Decimal, int]:
    """Worst case of fetching every rewritten call afresh (identical requests once), and how
    many calls could not be priced (their arguments cannot be read, or are invalid: such a
    formula shows its error instead of buying anything)."""
    from .models import canonical_json

    seen: dict[tuple[str, str, str], Decimal] = {}
    unpriced = 0
    for rewrite in rewrites:
        for call in rewrite.calls:
            try:
                kind, request = _request(book, rewrite.cell, call)
            except GenerectError as exc:
                log.info("not priced %s: %s", rewrite.cell.where, exc)
                unpriced += 1
                continue
            key = (kind, str(request.mode), canonical_json(request.body()))
            if key not in seen:
                seen[key] = engine.estimate(request, kind).amount
    return sum(seen.values(), Decimal(0)), unpriced


def _saved_file(book: Book) -> Path:
    """The workbook's file, if the refresher can work on it (Mac Refresh)."""
    fullname = str(book.fullname or "")
    if "://" in fullname:
        raise WorkbookError(
            f"{book.name} is stored online: save a copy on this Mac (File > Save a Copy), "
            "then Refresh it."
        )
    path = Path(fullname)
    if not path.is_absolute():
        raise WorkbookError(
            f"{book.name} was never saved: save it as an .xlsx workbook first, then Refresh."
        )
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise WorkbookError(
            f"{book.name}: Refresh on a Mac works on .xlsx and .xlsm files; save it as .xlsx "
            "(File > Save As), then Refresh."
        )
    return path


def refresh(book: Book, scope: Scope, context: Context | None = None) -> RefreshReport:
    """Make the GENERECT_COUNT/SEARCH formulas of ``scope`` fetch afresh once (see
    :mod:`generect_excel.ribbon_actions`). Returns the report; ``report.message()`` is what
    the analyst reads."""
    ctx = context or Context()
    path = _saved_file(book) if ctx.on_mac else None  # refuse before changing anything
    cells, unreadable, where, note = _targets(book, scope)
    token = new_token(ctx.clock(), _taken_tokens(cells))
    rewrites, held = _plan(cells, token)
    report = RefreshReport(where, token, held=held, unreadable=unreadable, note=note)
    report.refreshed = [r.cell.where for r in rewrites]
    if not rewrites and (path is None or not cells):
        return report
    settings = ctx.get_settings()
    engine = ctx.get_engine()
    report.test_mode = settings.test_mode_key
    report.worst_case, report.unpriced = _price(book, rewrites, engine)
    if not report.test_mode and report.worst_case > settings.confirm_above:
        prompt = (
            f"Refresh {_plural(len(rewrites), 'GENERECT formula')} in {where}? Fetching them "
            f"afresh may cost up to {format_money(report.worst_case)} (spent today: "
            f"{format_money(engine.spend('today'))}; daily cap "
            f"{format_money(settings.max_spend_per_day)})."
        )
        if not _confirm(book.app, prompt):
            report.cancelled = True
            return report
    if path is not None:
        settings.require_key()  # no key: say so now, before the workbook is closed
    # Windows: static tables become spilling formulas. A Mac keeps them static (the refresher
    # below maintains them).
    static = _static_tables(book) if path is None else {}
    with _status(book.app, f"Generect: refreshing {_plural(len(cells), 'formula')}..."):
        for rewrite in rewrites:
            cell = rewrite.cell
            record = static.get((cell.sheet.lower(), cell.row, cell.column))
            try:
                sheet = _sheet_named(book, cell.sheet)
                if record is not None and rewrite.searches:
                    _unmake_static_table(book, sheet, cell, record)
                    _write_formula(sheet.range(cell.a1), rewrite.spilling)
                    report.respilled.append(_where(cell.sheet, record.area.a1))
                else:
                    _write_formula(sheet.range(cell.a1), rewrite.formula)
            except Exception:  # a protected sheet, a legacy array: Excel says no to this cell
                log.warning("could not rewrite %s", cell.where, exc_info=True)
                report.failed.append(cell.where)
        report.refreshed = [c for c in report.refreshed if c not in report.failed]
        if path is not None:
            # Every GENERECT formula in scope: the rewritten ones fetch (new token), the others
            # are evaluated with their own refresh values (a cell the analyst changed fetches,
            # the rest come from the store), spend/balance/values are brought up to date.
            report.held = []
            targets = {(c.sheet.lower(), c.a1.replace("$", "")) for c in cells}
            report.file_lines = _refresh_file(book, path, targets, engine)
    return report


def _unmake_static_table(book: Book, sheet: Sheet, cell: FormulaCell, record: _Record) -> None:
    """Windows: empty the cells of ``cell``'s static table but its own, and delete its record,
    so that the formula, written next through Formula2, spills there (no ``#SPILL!``).

    Only the recorded cells are emptied (the refresher wrote them); nothing around them.
    When Excel says the formula already spills (re-entered by hand since), the record is stale
    and its cells are Excel's spill or the analyst's: only the name goes.
    """
    own = Area.cell(cell.row, cell.column)
    area = record.area
    spill = book.spill_range(sheet.range(own.a1))
    if spill is None or Area.parse(spill.address)[0] == own:
        # The record's key is its top left cell: the rest is the row to its right and the
        # rows below.
        rest = (
            [Area(area.top, area.left + 1, area.top, area.right)] if area.right > area.left else []
        )
        if area.bottom > area.top:
            rest.append(Area(area.top + 1, area.left, area.bottom, area.right))
        for part in rest:
            sheet.range(part.a1).clear_contents()
    _forget(book, record)


def _forget(book: Book, record: _Record) -> None:
    """Delete a static table's record; a failure is logged, not shown: the cells are already
    as they should be, and a stale record only widens what a later file refresh may clear."""
    try:
        book.delete_name(record.name)
    except Exception:
        log.warning("could not delete the name %s", record.name, exc_info=True)


def _refresh_file(book: Book, path: Path, cells: set[tuple[str, str]], engine: Any) -> list[str]:
    """Mac: save, close, evaluate ``cells`` ((sheet lower-cased, A1)) into the file, reopen."""
    from .workbook.refresher import plan_refresh, quote_plan, run_plan, write_results

    book.save()
    book.close()
    try:
        plan = plan_refresh(path)
        plan.queries = [
            q for q in plan.queries if (q.cell.sheet.lower(), q.cell.coordinate) in cells
        ]
        quote_plan(plan, engine, sharpen=False)  # marks the calls that fetch
        run_plan(plan, engine)
        patched = write_results(plan, path)
    finally:
        book.reopen()
    answers = [q.outcome.answer for q in plan.queries if q.outcome and q.outcome.answer]
    new = [a for a in answers if not a.from_cache]
    charged = sum((Decimal(a.result.amount_charged) for a in new), Decimal(0))
    lines = [
        f"{_plural(len(new), 'call')} fetched ({format_money(charged)} charged), "
        f"{len(answers) - len(new)} from the store; the workbook shows the values."
    ]
    kept = [q.where for q in plan.queries if q.kept is not None]
    if kept:
        # A failed refresh never erases what the cells showed (see the workbook refresher).
        lines.append(
            "Refresh failed, the cells keep their earlier data (their status line says why): "
            f"{_listing(kept)}."
        )
    errors = [
        q.where
        for q in plan.queries
        if (q.error is not None or q.invalid is not None) and q.kept is None
    ]
    if errors:
        lines.append(f"Errors, shown in their cells: {_listing(errors)}.")
    skipped = [f"{q.where} ({q.skipped})" for q in plan.queries if q.skipped]
    if skipped:
        lines.append(f"Not refreshed: {_listing(skipped)}.")
    if patched.blocked:
        lines.append(f"#SPILL!: {_listing([str(b) for b in patched.blocked])}.")
    return lines
