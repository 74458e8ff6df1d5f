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
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._constants import CELL_ERROR_PREFIX
from .budget import format_money
from .errors import GenerectError, WorkbookError

if TYPE_CHECKING:  # the parser imports openpyxl: only when an action runs
    from .settings import Settings
    from .workbook.formulas import Arg, Call

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

Scope = Literal["selection", "sheet", "workbook"]

TITLE = "Generect"
#: The functions whose ``refresh`` argument the ribbon rewrites.
REFRESHABLE = frozenset({"GENERECT_COUNT", "GENERECT_SEARCH"})
#: The functions whose result is a table (it spills).
SPILLING = frozenset({"GENERECT_SEARCH", "GENERECT_VALUES"})
#: Hidden names in which the workbook refresher records where its static tables are.
SPILL_RECORD_PREFIX = "_GENERECT_SPILL_"
#: The file types the refresher can write (on a Mac, Refresh works through the saved file).
FILE_SUFFIXES = (".xlsx", ".xlsm")
TOKEN_PREFIX = "r:"
_TOKEN_RE = re.compile(r"^r:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:-\d+)?$")
_PENDING = f"{CELL_ERROR_PREFIX} pending"
MAX_LISTED = 5  # cells named in a message before "and N more"


# --------------------------------------------------------------------------- the xlwings subset


class Range(Protocol):
    """The part of ``xlwings.Range`` the actions use."""

    formula2: Any
    value: Any

    @property
    def sheet(self) -> Sheet: ...

    @property
    def address(self) -> str:
        """``$A$1`` or ``$A$1:$C$9`` (several areas joined by commas for a selection)."""
        ...

    @property
    def shape(self) -> tuple[int, int]: ...

    def clear_contents(self) -> None:
        """Empty the cells, keeping their formats."""
        ...


class Sheet(Protocol):
    """The part of ``xlwings.Sheet`` the actions use."""

    @property
    def name(self) -> str: ...

    @property
    def used_range(self) -> Range: ...

    def range(self, address: str) -> Range: ...


class App(Protocol):
    """The part of ``xlwings.App`` the actions use."""

    status_bar: Any

    def alert(
        self,
        prompt: str,
        title: str | None = None,
        buttons: str = "ok",
        mode: str | None = None,
        callback: str | None = None,
    ) -> str | None: ...


class Sheets(Protocol):
    """``xlwings.Sheets``: iterable, with the active sheet."""

    def __iter__(self) -> Iterator[Sheet]: ...

    @property
    def active(self) -> Sheet: ...


class Book(Protocol):
    """The part of ``xlwings.Book`` the actions use, plus :meth:`spill_range`,
    :meth:`delete_name` and :meth:`reopen` (see :class:`generect_excel.ribbon.LiveBook`)."""

    @property
    def name(self) -> str: ...

    @property
    def fullname(self) -> str: ...

    @property
    def sheets(self) -> Sheets: ...

    @property
    def selection(self) -> Range | None: ...

    @property
    def app(self) -> App: ...

    @property
    def names(self) -> Iterable[Any]:
        """Defined names: objects with ``name`` (``Criteria`` or ``Sheet1!Criteria``) and
        ``refers_to`` (``=Sheet1!$A$1:$B$5``)."""
        ...

    def save(self) -> None: ...

    def close(self) -> None: ...

    def reopen(self) -> Book:
        """Open the saved file again in the same Excel (after :meth:`close`)."""
        ...

    def spill_range(self, cell: Range) -> Range | None:
        """The cells holding ``cell``'s result: its spill range (or legacy array), the cell
        itself when it does not spill, None when this Excel cannot tell."""
        ...

    def delete_name(self, name: str) -> None:
        """Delete the defined name called ``name`` exactly as :attr:`names` gives it
        (``Leads!_GENERECT_SPILL_1`` for a sheet-level name), hidden ones included."""
        ...


# --------------------------------------------------------------------------- cells and areas


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Area:
    """A rectangle of cells, 1-based and inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def cell(cls, row: int, column: int) -> Area:
        return cls(row, column, row, column)

    @classmethod
    def parse(cls, address: str) -> list[Area]:
        """``"$A$1:$B$5,$D$4"`` (what xlwings' ``Range.address`` gives) -> its areas."""
        from .workbook.formulas import parse_area

        areas = []
        for part in address.split(","):
            bounds = parse_area(part.rpartition("!")[2])
            if bounds is None:
                raise WorkbookError(f"Cannot read the address {address!r}.")
            c1, r1, c2, r2 = bounds
            areas.append(cls(r1, c1, r2, c2))
        return areas

    @property
    def a1(self) -> str:
        """``$A$1`` or ``$A$1:$B$5``."""
        first = f"${_column_letters(self.left)}${self.top}"
        if (self.top, self.left) == (self.bottom, self.right):
            return first
        return f"{first}:${_column_letters(self.right)}${self.bottom}"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.bottom - self.top + 1, self.right - self.left + 1)

    def contains(self, row: int, column: int) -> bool:
        return self.top <= row <= self.bottom and self.left <= column <= self.right

    def intersects(self, other: Area) -> bool:
        return not (
            other.left > self.right
            or other.right < self.left
            or other.top > self.bottom
            or other.bottom < self.top
        )

    def clip(self, other: Area) -> Area | None:
        """The part of this area inside ``other``, or None."""
        if not self.intersects(other):
            return None
        return Area(
            max(self.top, other.top),
            max(self.left, other.left),
            min(self.bottom, other.bottom),
            min(self.right, other.right),
        )


def _where(sheet: str, a1: str) -> str:
    """``Leads!$B$14`` -> ``Leads!B14``; sheet names with spaces are quoted as Excel does."""
    quoted = sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!{a1.replace('$', '')}"


def _grid(raw: Any, shape: tuple[int, int]) -> list[list[Any]]:
    """xlwings' value for a range of ``shape`` (a scalar, a 1-D list for one row or column, or
    rows) as a list of rows."""
    if not isinstance(raw, list | tuple):
        return [[raw]]
    if raw and all(isinstance(row, list | tuple) for row in raw):
        return [list(row) for row in raw]
    items = list(raw)
    return [items] if shape[0] == 1 else [[item] for item in items]


def _read_formulas(rng: Range) -> list[list[str]]:
    try:
        raw = rng.formula2
    except AttributeError:  # an Excel without dynamic arrays
        raw = rng.formula  # type: ignore[attr-defined]
    return [["" if cell is None else str(cell) for cell in row] for row in _grid(raw, rng.shape)]


# A GENERECT function name as Formula2 shows it in a legacy formula, with Excel's implicit
# intersection operator: ``@GENERECT_SEARCH(``, ``@_xludf.GENERECT_COUNT(``,
# ``@'generect_excel.xlam'!GENERECT_COUNT(``. Group 1 is the ``@`` (or nothing).
_CALL_NAME = re.compile(
    r"(?<![\w.])(@?)(\s*(?:'(?:[^']|'')*'!|\[\d+\]!)?(?:_xludf\.)?GENERECT_[A-Z]+\s*\()",
    re.IGNORECASE,
)
_STRING_LITERAL = re.compile(r'"(?:[^"]|"")*"')


def _each_call_name(text: str, replace: Callable[[re.Match[str]], str]) -> str:
    """``text`` with ``replace`` applied to every GENERECT function name outside string
    literals (a lead's text may well contain ``@GENERECT_COUNT(``)."""
    out: list[str] = []
    pos = 0
    for literal in _STRING_LITERAL.finditer(text):
        out.append(_CALL_NAME.sub(replace, text[pos : literal.start()]))
        out.append(literal.group())
        pos = literal.end()
    out.append(_CALL_NAME.sub(replace, text[pos:]))
    return "".join(out)


def _drop_implicit_at(text: str) -> tuple[str, list[bool]]:
    """``=@GENERECT_SEARCH(A1:B2)`` -> (``=GENERECT_SEARCH(A1:B2)``, [True]): the formula
    without the ``@`` before its GENERECT calls (the parser does not read it), and which
    calls had one, in order."""
    marks: list[bool] = []

    def drop(match: re.Match[str]) -> str:
        marks.append(bool(match.group(1)))
        return match.group(2)

    return _each_call_name(text, drop), marks


def _restore_implicit_at(text: str, marks: Sequence[bool]) -> str:
    """Put back the ``@`` :func:`_drop_implicit_at` took (rewriting the refresh argument keeps
    the GENERECT calls and their order)."""
    left = iter(marks)
    return _each_call_name(text, lambda m: ("@" if next(left, False) else "") + m.group(2))


def _write_formula(rng: Range, text: str) -> None:
    # Formula2 keeps a dynamic-array formula spilling; Formula would add an implicit @.
    try:
        rng.formula2 = text
    except AttributeError:
        rng.formula = text  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FormulaCell:
    """A cell whose formula calls GENERECT_*: where, its text, its calls, its result area
    (``None``: this Excel cannot tell how far it spills)."""

    sheet: str
    row: int
    column: int
    formula: str
    calls: tuple[Call, ...]
    area: Area | None

    @property
    def a1(self) -> str:
        return Area.cell(self.row, self.column).a1

    @property
    def where(self) -> str:
        """``Leads!B14``."""
        return _where(self.sheet, self.a1)

    @property
    def refreshable(self) -> bool:
        return any(call.function in REFRESHABLE for call in self.calls)

    def touches(self, areas: Sequence[Area]) -> bool:
        """Whether the cell or its result lies (partly) in ``areas``."""
        own = self.area or Area.cell(self.row, self.column)
        return any(own.intersects(area) or area.contains(self.row, self.column) for area in areas)


@dataclass(frozen=True)
class _Record:
    """A static table the workbook refresher recorded: its hidden name (as ``Book.names``
    gives it) and its cells (the formula's cell is the top left one)."""

    name: str
    area: Area


def recorded_extents(book: Book) -> dict[tuple[str, int, int], Area]:
    """The result areas the workbook refresher recorded for its static tables: hidden names
    ``_GENERECT_SPILL_<n>`` -> {(sheet lower-cased, row, column) of the formula: its area}.
    Excel does not know those cells belong to the formula (they are plain values)."""
    return {key: record.area for key, record in _static_tables(book).items()}


def _static_tables(book: Book) -> dict[tuple[str, int, int], _Record]:
    """:func:`recorded_extents` with the names recording them."""
    from .workbook.formulas import Reference, parse_expression

    extents: dict[tuple[str, int, int], _Record] = {}
    for item in book.names:
        sheet_part, _, name = str(item.name).rpartition("!")
        if not name.upper().startswith(SPILL_RECORD_PREFIX):
            continue
        target = parse_expression(str(item.refers_to))
        sheet = target.sheet if isinstance(target, Reference) else None
        sheet = sheet or sheet_part.strip("'").replace("''", "'") or None
        if isinstance(target, Reference) and sheet:
            c1, r1, c2, r2 = target.bounds
            extents[(sheet.lower(), r1, c1)] = _Record(str(item.name), Area(r1, c1, r2, c2))
    return extents


def _result_area(
    book: Book, sheet: Sheet, cell: Area, calls: Sequence[Call], recorded: Mapping[Any, Area]
) -> Area | None:
    """Where a formula's result is: what Excel says (its spill range or array), else what the
    refresher recorded, else the cell itself for one-value functions; None if unknown."""
    spill = book.spill_range(sheet.range(cell.a1))
    area = Area.parse(spill.address)[0] if spill is not None else None
    if area is None or area == cell:
        static = recorded.get((sheet.name.lower(), cell.top, cell.left))
        if static is not None:
            return static
    if area is None and not any(call.function in SPILLING for call in calls):
        return cell
    return area


def scan_sheet(
    book: Book,
    sheet: Sheet,
    *,
    results: bool = True,
    recorded: Mapping[tuple[str, int, int], Area] | None = None,
) -> tuple[list[FormulaCell], list[str]]:
    """Every GENERECT formula of ``sheet`` (row by row) and the cells whose formula cannot be
    read. With ``results``, each formula's result area is found (one question to Excel per
    formula, see :func:`_result_area`; ``recorded`` as :func:`recorded_extents` gives it), and
    a cell inside another formula's result is not taken for a formula of its own."""
    from .workbook.formulas import FormulaSyntaxError, mentions_generect, parse_formula

    if results and recorded is None:
        recorded = recorded_extents(book)
    used = sheet.used_range
    origin = Area.parse(used.address)[0]
    found: list[FormulaCell] = []
    unreadable: list[str] = []
    results_of_others: list[Area] = []
    for i, row in enumerate(_read_formulas(used)):
        for j, text in enumerate(row):
            if not (text.startswith("=") and mentions_generect(text)):
                continue
            own = Area.cell(origin.top + i, origin.left + j)
            if any(area.contains(own.top, own.left) for area in results_of_others):
                continue  # a legacy array repeats its formula in every cell
            try:
                parsed = parse_formula(_drop_implicit_at(text)[0])
            except FormulaSyntaxError:
                unreadable.append(_where(sheet.name, own.a1))
                continue
            if not parsed.calls:
                continue
            area: Area | None = own
            if results:
                area = _result_area(book, sheet, own, parsed.calls, recorded or {})
                if area is not None and area != own:
                    results_of_others.append(area)
            found.append(FormulaCell(sheet.name, own.top, own.left, text, parsed.calls, area))
    return found, unreadable


# --------------------------------------------------------------------------- settings, engine


def _local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class Context:
    """What an action needs besides the workbook; every part injectable for tests.

    ``platform`` decides how Refresh works (``"darwin"``: through the saved file);
    ``clock`` gives the aware local time (the refresh token); ``settings`` and ``engine``
    default to :func:`~generect_excel.settings.load_settings` and an
    :class:`~generect_excel.engine.Engine` on them.
    """

    settings: Settings | None = None
    engine: Any = None
    platform: str = field(default_factory=lambda: sys.platform)
    clock: Callable[[], datetime] = _local_now

    def get_settings(self) -> Settings:
        if self.settings is None:
            if self.engine is not None:
                self.settings = self.engine.settings
            else:
                from .settings import load_settings

                self.settings = load_settings()
        return self.settings

    def get_engine(self) -> Any:
        if self.engine is None:
            from .engine import Engine

            self.engine = Engine(self.get_settings())
        return self.engine

    @property
    def on_mac(self) -> bool:
        return self.platform == "darwin"


@contextmanager
def _status(app: App, text: str) -> Iterator[None]:
    """Excel's status bar says what is going on, and is handed back to Excel afterwards."""
    try:
        app.status_bar = text
    except Exception:  # a status bar is a nicety: never fail an action for it
        log.debug("status bar not set", exc_info=True)
    try:
        yield
    finally:
        try:
            app.status_bar = False
        except Exception:
            log.debug("status bar not reset", exc_info=True)


def _confirm(app: App, prompt: str) -> bool:
    return app.alert(prompt, title=TITLE, buttons="ok_cancel", mode="info") == "ok"


def _listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    shown = "; ".join(items[:limit])
    if len(items) > limit:
        shown += f"; and {len(items) - limit} more"
    return shown


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --------------------------------------------------------------------------- refresh tokens


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


# --------------------------------------------------------------------------- reading arguments


def _sheet_named(book: Book, name: str) -> Sheet:
    for sheet in book.sheets:
        if sheet.name.lower() == name.lower():
            return sheet
    raise WorkbookError(f"No sheet named '{name}' in {book.name}.")


def _block(book: Book, sheet_name: str, bounds: tuple[int, int, int, int]) -> list[list[Any]]:
    sheet = _sheet_named(book, sheet_name)
    c1, r1, c2, r2 = bounds
    area = Area(r1, c1, r2, c2)
    if area.shape[0] > 10_000 or area.shape[1] > 1_000:  # whole columns or rows: the used part
        clipped = area.clip(Area.parse(sheet.used_range.address)[0])
        if clipped is None:
            return [[None]]
        area = clipped
    rng = sheet.range(area.a1)
    return _grid(rng.value, area.shape)


def _resolve(book: Book, sheet: str, arg: Arg) -> Any:
    """The value a worksheet function would get for ``arg`` in the live workbook (the same
    rules as the file refresher's, :func:`~generect_excel.workbook.references.resolve_argument`)."""
    from .workbook.formulas import Name, parse_expression
    from .workbook.references import resolve_argument

    def name_target(name: Name, scope: str) -> Arg:
        # The sheet's own name first; Excel also accepts Sheet!Name for a workbook name.
        defined = {str(n.name).replace("'", "").lower(): n for n in book.names}
        for key in (f"{name.sheet or scope}!{name.name}".lower(), name.name.lower()):
            if key in defined:
                return parse_expression(str(defined[key].refers_to))
        raise WorkbookError(f"No defined name {name.name} in {book.name}.")

    return resolve_argument(
        arg,
        sheet,
        block=lambda at, bounds: _block(book, at, bounds),
        name_target=name_target,
    )


def _request(book: Book, cell: FormulaCell, call: Call) -> tuple[str, Any]:
    """(kind, validated request) of a COUNT or SEARCH call, read from the live workbook."""
    from .functions import request_for_count, request_for_search

    def value(name: str) -> Any:
        return _resolve(book, cell.sheet, call.arg(name))

    if call.function == "GENERECT_COUNT":
        return "count", request_for_count(value("criteria"), value("mode"))
    return "search", request_for_search(
        value("criteria"), value("limit"), value("offset"), value("mode")
    )


# --------------------------------------------------------------------------- refresh


@dataclass
class _Rewrite:
    cell: FormulaCell
    formula: str  # the new text
    calls: list[Call]  # the calls whose refresh argument it changes
    spilling: str = ""  # the new text without Excel's implicit @ (for a static table)

    @property
    def searches(self) -> bool:
        return any(call.function == "GENERECT_SEARCH" for call in self.cell.calls)


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
    """Make the GENERECT_COUNT/SEARCH formulas of ``scope`` fetch afresh once (see the module
    docstring). Returns the report; ``report.message()`` is what the analyst reads."""
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
    errors = [q.where for q in plan.queries if q.error is not None or q.invalid is not None]
    if errors:
        lines.append(f"Errors, shown in their cells: {_listing(errors)}.")
    skipped = [f"{q.where} ({q.skipped})" for q in plan.queries if q.skipped]
    if skipped:
        lines.append(f"Not refreshed: {_listing(skipped)}.")
    if patched.blocked:
        lines.append(f"#SPILL!: {_listing([str(b) for b in patched.blocked])}.")
    return lines


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
        text, mode = str(exc), "critical"
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
