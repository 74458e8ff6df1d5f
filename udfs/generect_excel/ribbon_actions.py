"""What the ribbon's buttons do to the open workbook: Refresh, Freeze to values, Spend.

:mod:`generect_excel.ribbon` hands each action the workbook Excel is showing, wrapped so that it
offers exactly the part of xlwings' API described by the protocols below (:class:`Book`,
:class:`Sheet`, :class:`Range`, :class:`App`, with xlwings' own names) plus three things
xlwings lacks: :meth:`Book.spill_range`, :meth:`Book.delete_name` and :meth:`Book.reopen`. The
tests drive the same code with a fake of that subset.

Formulas are read as Excel 365 shows them (``Formula2``): a formula from a file written without
Excel (``generect-excel refresh``, a template) is a legacy formula, and Excel shows its
GENERECT calls with the implicit-intersection ``@`` (``=@GENERECT_SEARCH(...)``). The ``@`` is
read past and kept when the formula is rewritten, except in the case below.

**Refresh** (selection, sheet, workbook). Each GENERECT_COUNT/GENERECT_SEARCH formula has a
``refresh`` argument: when its value changes, that formula fetches afresh once (the engine
keeps the value with the answer). A click gives every targeted formula the same new literal
token, ``"r:2026-11-22T10:31:05"`` (local time of the click; two clicks in the same second still
differ), and leaves every other character of the formula alone; an omitted argument is added
with the empty ones before it (``GENERECT_SEARCH(A1:B5)`` ->
``GENERECT_SEARCH(A1:B5,,,,,"r:...")``). Identical requests of one click are paid once (the
answer fetched for a token serves every formula with that token). Targets:

- *selection*: the formulas whose cell or result (spill range) touches the selection; when
  there are none, the active sheet's (and the message says so);
- *sheet*: the active sheet's; *workbook*: every sheet's.

A formula whose ``refresh`` is a cell, a name or an expression (``$B$1``, ``TODAY()``) is
**left alone** and listed in the message ("its refresh comes from $B$1"): writing that cell
would also refresh every other formula reading it, and replacing the reference with a token
would silently undo the analyst's own refresh control. GENERECT_SPEND, _BALANCE and _VALUES have
no ``refresh`` and are never rewritten. Before anything changes, the worst case of the targeted
calls is quoted (:meth:`Engine.estimate`, identical requests once); above
``settings.confirm_above`` the analyst must confirm (test keys are never debited, so never
asked). On Windows Excel then recalculates the rewritten cells and the worksheet functions fetch
(realtime ones in the background, see :mod:`generect_excel.pending`).

*Static tables* (Windows). ``generect-excel refresh`` (``--spill static``, its default) writes a
GENERECT_SEARCH result as a plain formula in its cell (showing the status line) and plain
values around it, and records the table's extent in a hidden name ``_GENERECT_SPILL_<n>``.
Rewritten as a dynamic-array formula, it would spill into those values and show ``#SPILL!``.
So for a targeted GENERECT_SEARCH formula with such a record, Refresh first empties the
recorded cells except the formula's own (only those: the refresher wrote them), deletes the
hidden name, then writes the formula without the ``@`` through ``Formula2``: from then on it
spills as Excel's own table. When Excel says the formula already spills, the record is stale:
only the name goes. Without a record nothing else changes.

On a Mac (no worksheet functions) the same tokens are written, then the workbook is saved and
closed (so nothing typed meanwhile can be lost), every GENERECT formula in scope is evaluated
into the saved file by the workbook refresher's steps (:mod:`generect_excel.workbook.refresher`,
run on just those formulas: the rewritten ones fetch, a formula whose refresh cell changed
fetches, the rest come from the store, spend/balance/values are brought up to date), and the
workbook is opened again to show the values. A workbook never saved, stored online, or not
.xlsx/.xlsm is refused before anything changes, and so is a missing API key.

**Freeze to values** replaces the GENERECT formulas touching the selection with what they show
now, their whole result (spill range) included, so the sheet can go to people without the
add-in. Text that Excel would read as something else is written with Excel's text marker, a
leading apostrophe (not part of the value): anything starting ``=``, ``+``, ``-``, ``@`` or
``'``, anything with a digit (numbers, dates, ZIP codes), TRUE/FALSE. Number formats are not
touched. A result still pending, or showing a ``#GENERECT!`` error, is left as a formula. The
analyst confirms first: Excel cannot undo a macro's change.

**Spend** shows today's and this month's charges from the local ledger, and what was charged
for this workbook since its last ribbon Refresh (the newest refresh token in its formulas). Free:
no network.

A frozen formula's static-table record (above) is deleted with the formula: it would make a
later file refresh treat the frozen values as its own leftovers.

Nothing else in the workbook is written: other cells, formulas, formats and sheets are read at
most. Every expected failure is a :class:`~generect_excel.errors.GenerectError` whose one line
:func:`run` shows in a message box.

Where the code is: this module has Freeze to values, Spend and :func:`run`, and re-exports the
rest; :mod:`~generect_excel.ribbon_refresh` has Refresh, :mod:`~generect_excel.ribbon_scan`
finds the GENERECT formulas and reads their arguments, :mod:`~generect_excel.ribbon_context`
has :class:`Context` and the message helpers, :mod:`~generect_excel.ribbon_book` the xlwings
subset and :class:`Area`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ._constants import CELL_ERROR_PREFIX
from .budget import format_money
from .errors import GenerectError, whole_text

# __all__ is the API. The other names imported here were public names of this module before
# it was split (and _resolve, which the tests read arguments through): they stay importable.
from .ribbon_book import (
    App,
    Area,
    Book,
    Range,
    Sheet,
    Sheets,  # noqa: F401
    _grid,
    _where,
)
from .ribbon_context import (
    MAX_LISTED,  # noqa: F401
    TITLE,
    Context,
    _confirm,
    _listing,
    _plural,
)
from .ribbon_refresh import (  # noqa: F401
    FILE_SUFFIXES,
    TOKEN_PREFIX,
    RefreshReport,
    Scope,
    _forget,
    new_token,
    refresh,
    token_time,
)
from .ribbon_scan import (  # noqa: F401
    REFRESHABLE,
    SPILL_RECORD_PREFIX,
    SPILLING,
    FormulaCell,
    _resolve,
    _static_tables,
    recorded_extents,
    scan_sheet,
)

__all__ = [
    "REFRESHABLE",
    "TITLE",
    "App",
    "Area",
    "Book",
    "Context",
    "FormulaCell",
    "FreezeReport",
    "Range",
    "RefreshReport",
    "Scope",
    "Sheet",
    "freeze_selection",
    "new_token",
    "refresh",
    "run",
    "scan_sheet",
    "spend_summary",
    "text_for_excel",
    "token_time",
]

log = logging.getLogger(__name__)

_PENDING = f"{CELL_ERROR_PREFIX} pending"


# --------------------------------------------------------------------------- freeze


_MARKED_START = ("=", "+", "-", "@", "'")


def text_for_excel(value: str) -> str:
    """``value`` as written into a cell so that Excel keeps it as this very text.

    Excel turns what is typed into a cell into a formula (``=``, ``+``, ``-``, ``@``), a number
    or a date (anything with digits: ``02134``, ``1/2``, ``10:30``), a boolean or an error
    (``#N/A``), and drops a leading apostrophe; such text gets the apostrophe, Excel's text
    marker, which is not part of the value.
    """
    stripped = value.strip()
    if (
        stripped.startswith(_MARKED_START)
        or value.startswith("'")
        or stripped.startswith("#")
        or any(ch.isdigit() for ch in value)
        or stripped.upper() in ("TRUE", "FALSE")
    ):
        return "'" + value
    return value


def _frozen_block(rows: list[list[Any]]) -> list[list[Any]]:
    return [[text_for_excel(v) if isinstance(v, str) and v else v for v in row] for row in rows]


@dataclass
class FreezeReport:
    """What Freeze to values did."""

    frozen: list[str] = field(default_factory=list)  # "Leads!A21:K48"
    left: list[str] = field(default_factory=list)  # "Leads!B14 (pending)"
    cancelled: bool = False

    def message(self) -> str:
        lines = []
        if self.cancelled:
            lines.append("Cancelled: nothing was changed.")
        elif self.frozen:
            lines.append(
                f"Replaced {_plural(len(self.frozen), 'GENERECT formula')} with their values: "
                f"{_listing(self.frozen)}."
            )
        elif not self.left:
            lines.append("No GENERECT formula in the selection: nothing was frozen.")
        if self.left:
            lines.append(f"Left as formulas: {_listing(self.left)}.")
        return "\n".join(lines)


def freeze_selection(book: Book, context: Context | None = None) -> FreezeReport:
    """Replace the GENERECT formulas touching the selection (their whole results) with the
    values they show, text kept as text (see :func:`text_for_excel`)."""
    report = FreezeReport()
    selection = book.selection
    if selection is None:
        return report
    sheet = selection.sheet
    chosen = Area.parse(selection.address)
    static = _static_tables(book)
    extents = {key: record.area for key, record in static.items()}
    found, _ = scan_sheet(book, sheet, results=True, recorded=extents)
    todo: list[tuple[FormulaCell, Area, list[list[Any]]]] = []
    for cell in (c for c in found if c.touches(chosen)):
        if cell.area is None:
            report.left.append(f"{cell.where} (this Excel does not tell how far it spills)")
            continue
        values = _grid(sheet.range(cell.area.a1).value, cell.area.shape)
        first = values[0][0]
        if isinstance(first, str) and first.startswith(_PENDING):
            report.left.append(f"{cell.where} (still fetching)")
            continue
        if isinstance(first, str) and first.startswith(CELL_ERROR_PREFIX):
            report.left.append(f"{cell.where} (shows an error)")
            continue
        todo.append((cell, cell.area, values))
    if not todo:
        return report
    where = _listing([_where(sheet.name, area.a1) for _, area, _ in todo])
    prompt = (
        f"Replace {_plural(len(todo), 'GENERECT formula')} with the values they show ({where})? "
        "They will no longer refresh, and Excel's Undo cannot bring them back."
    )
    if not _confirm(book.app, prompt):
        report.cancelled = True
        return report
    for cell, area, values in todo:
        sheet.range(area.a1).value = _frozen_block(values)
        report.frozen.append(_where(sheet.name, area.a1))
        record = static.get((sheet.name.lower(), cell.row, cell.column))
        if record is not None:
            # The formula is gone: a later file refresh must not take these values for its
            # leftovers (it clears a recorded table's cells).
            _forget(book, record)
    return report


# --------------------------------------------------------------------------- spend


def _last_refresh(book: Book) -> datetime | None:
    """The newest ribbon refresh token in the workbook's formulas, as a time."""
    from .workbook.formulas import Literal

    newest: datetime | None = None
    for sheet in book.sheets:
        cells, _ = scan_sheet(book, sheet, results=False)
        for cell in cells:
            for call in cell.calls:
                if call.function not in REFRESHABLE:
                    continue
                arg = call.arg("refresh")
                when = token_time(arg.value) if isinstance(arg, Literal) else None
                if when is not None and (newest is None or when > newest):
                    newest = when
    return newest


def spend_summary(book: Book, context: Context | None = None) -> str:
    """Today's and this month's charges, and this workbook's since its last ribbon Refresh,
    from the local ledger (no network)."""
    ctx = context or Context()
    engine = ctx.get_engine()
    lines = ["Charged, from this computer's ledger:"]
    for label, period in (("Today", "today"), ("This month", "month")):
        billed = engine.spend(period)
        test = engine.spend(period, include_test_mode=True) - billed
        line = f"{label}: {format_money(billed)}"
        if test:
            line += f" (plus {format_money(test)} with a test key, not debited)"
        lines.append(line)
    since = _last_refresh(book)
    if since is None:
        lines.append(f"Last Refresh: none recorded in {book.name}.")
        return "\n".join(lines)
    name = book.name.lower()
    entries = [e for e in engine.charges(since) if (e.origin.workbook or "").lower() == name]
    billed = sum((e.amount_charged for e in entries if not e.test_mode), Decimal(0))
    line = (
        f"Since the last Refresh of {book.name} ({since:%Y-%m-%d %H:%M}): "
        f"{_plural(len(entries), 'charge')}, {format_money(billed)}"
    )
    if any(e.test_mode for e in entries):
        line += " (test-key calls not debited)"
    lines.append(line + ".")
    return "\n".join(lines)


# --------------------------------------------------------------------------- running an action


def run(book: Book, action: Callable[[Book], Any], *, log_file: str | None = None) -> str:
    """Run ``action`` on ``book`` and show its outcome in a message box; returns the text shown.

    The action's result is shown through its ``message()`` (or as text). A
    :class:`~generect_excel.errors.GenerectError` shows its one line; anything else is logged
    (with its traceback, to ``log_file`` when the ribbon set one up) and shown as a short note,
    never as a traceback.
    """
    mode = "info"
    try:
        outcome = action(book)
        text = outcome.message() if hasattr(outcome, "message") else str(outcome or "")
    except GenerectError as exc:
        log.info("ribbon action failed: %s", exc.details)
        # A message box has room: the whole message, every criteria problem (a cell has not).
        text, mode = whole_text(exc), "critical"
    except Exception as exc:
        log.exception("unexpected error in a ribbon action")
        text = f"Something unexpected went wrong ({type(exc).__name__})."
        if log_file:
            text += f" Details: {log_file}"
        mode = "critical"
    if text:
        try:
            book.app.alert(text, title=TITLE, buttons="ok", mode=mode)
        except Exception:  # the workbook may have gone (closed meanwhile): the log keeps it
            log.warning("could not show: %s", text, exc_info=True)
    return text
