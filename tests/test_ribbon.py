"""The ribbon's actions on a fake of the xlwings Book/Sheet/Range subset they use.

The fake behaves like Excel where the actions depend on it: a string written into a cell is
typed in (``=...`` becomes a formula, ``+1 555``/``-x``/``@x`` too, ``02134`` a number, TRUE a
boolean, a leading apostrophe is Excel's text marker and not part of the value); reading
``formula2`` gives a formula cell's formula and a constant's text; a spilling formula's other
cells hold plain values; ``value`` comes back as xlwings gives it (a scalar for one cell, a
flat list for one row or column). Every test snapshots every cell before and after and checks
that exactly the expected cells changed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from generect_excel import ribbon_actions as ra
from generect_excel.cli import main
from generect_excel.engine import Engine
from generect_excel.errors import CriteriaError, WorkbookError
from generect_excel.ledger import Charge, Origin
from generect_excel.ribbon import LiveBook
from generect_excel.settings import Settings, load_settings
from generect_excel.store import CacheEntry, Store
from generect_excel.workbook.formulas import Name, replace_arguments

LOCAL = datetime.now().astimezone().tzinfo
CLICK = datetime(2026, 11, 22, 10, 31, 5, tzinfo=LOCAL)
TOKEN = "r:2026-11-22T10:31:05"
T = f'"{TOKEN}"'

# --------------------------------------------------------------------------- the fake Excel


def _col(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _letters(n: int) -> str:
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


_CELL = re.compile(r"^\$?([A-Z]+)\$?(\d+)$")


def _box(address: str) -> tuple[int, int, int, int]:
    """``$A$1:$C$4`` -> (top, left, bottom, right); independent of the code under test."""
    corners = [_CELL.match(part) for part in address.upper().split(":")]
    assert all(corners), address
    rows = [int(m.group(2)) for m in corners]  # type: ignore[union-attr]
    cols = [_col(m.group(1)) for m in corners]  # type: ignore[union-attr]
    return min(rows), min(cols), max(rows), max(cols)


def _a1(top: int, left: int, bottom: int, right: int) -> str:
    first = f"${_letters(left)}${top}"
    return first if (top, left) == (bottom, right) else f"{first}:${_letters(right)}${bottom}"


class ExcelError:
    """An error value (#N/A): xlwings reads errors as None."""

    def __init__(self, text: str) -> None:
        self.text = text


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def typed(entry: Any) -> tuple[str | None, Any]:
    """What Excel makes of ``entry`` written into a cell: (formula, value)."""
    if not isinstance(entry, str):
        return None, entry
    if entry.startswith("'"):
        return None, entry[1:]
    if entry.startswith("="):
        return entry, None
    try:
        return None, float(entry.replace(" ", "")) if entry.strip() else entry
    except ValueError:
        pass
    if entry[:1] in "+-@":
        return "=" + entry, None
    if entry.strip().upper() in ("TRUE", "FALSE"):
        return None, entry.strip().upper() == "TRUE"
    if entry.startswith("#"):
        return None, ExcelError(entry)
    if _ISO_DATE.match(entry):
        return None, datetime.fromisoformat(entry)
    return None, entry


class FakeApp:
    """xlwings.App: the status bar, message boxes (scripted answers), books.open."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.answers = list(answers or [])
        self.alerts: list[tuple[str, str, str | None]] = []
        self.status_history: list[Any] = []
        self.books = self
        self.opener: Callable[[str], Any] | None = None

    @property
    def status_bar(self) -> Any:
        return self.status_history[-1] if self.status_history else False

    @status_bar.setter
    def status_bar(self, value: Any) -> None:
        self.status_history.append(value)

    def alert(
        self,
        prompt: str,
        title: str | None = None,
        buttons: str = "ok",
        mode: str | None = None,
        callback: str | None = None,
    ) -> str:
        self.alerts.append((prompt, buttons, mode))
        if buttons == "ok":
            return "ok"
        return self.answers.pop(0)  # an unscripted question fails the test

    def open(self, fullname: str) -> Any:
        assert self.opener is not None
        return self.opener(fullname)


class FakeRange:
    """xlwings.Range over one rectangle (or several areas, for a selection)."""

    def __init__(self, sheet: FakeSheet, address: str) -> None:
        self.sheet = sheet
        self._areas = [_box(part) for part in address.replace("$", "").split(",")]
        self.address = ",".join(_a1(*box) for box in self._areas)

    @property
    def _rect(self) -> tuple[int, int, int, int]:
        assert len(self._areas) == 1, "one area only"
        return self._areas[0]

    @property
    def shape(self) -> tuple[int, int]:
        top, left, bottom, right = self._rect
        return (bottom - top + 1, right - left + 1)

    def _rows(self) -> list[list[tuple[int, int]]]:
        top, left, bottom, right = self._rect
        return [[(r, c) for c in range(left, right + 1)] for r in range(top, bottom + 1)]

    def _shaped(self, grid: list[list[Any]]) -> Any:
        rows, cols = self.shape
        if rows == cols == 1:
            return grid[0][0]
        if rows == 1:
            return grid[0]
        if cols == 1:
            return [row[0] for row in grid]
        return grid

    @property
    def formula2(self) -> Any:
        grid = [[self.sheet.formula_text(r, c) for r, c in row] for row in self._rows()]
        if self.shape == (1, 1):
            return grid[0][0]
        return tuple(tuple(row) for row in grid)  # COM gives tuples of tuples

    @formula2.setter
    def formula2(self, text: str) -> None:
        assert self.shape == (1, 1)
        self.sheet.book.formula2_writes.append((self.sheet.name, self.address, text))
        self.sheet.enter(*self._rows()[0][0], text)

    def clear_contents(self) -> None:
        for row in self._rows():
            for r, c in row:
                self.sheet.enter(r, c, None)

    @property
    def value(self) -> Any:
        return self._shaped([[self.sheet.value_at(r, c) for r, c in row] for row in self._rows()])

    @value.setter
    def value(self, block: list[list[Any]]) -> None:
        cells = self._rows()
        assert [len(row) for row in block] == [len(row) for row in cells], "shape mismatch"
        for row, entries in zip(cells, block, strict=True):
            for (r, c), entry in zip(row, entries, strict=True):
                self.sheet.enter(r, c, entry)


class FakeSheet:
    """xlwings.Sheet: cells {(row, col): [formula, value]} and dynamic spills {anchor: box}."""

    def __init__(self, book: FakeBook, name: str) -> None:
        self.book = book
        self.name = name
        self.cells: dict[tuple[int, int], list[Any]] = {}
        self.spills: dict[tuple[int, int], tuple[int, int, int, int]] = {}

    # test helpers
    def put(self, a1: str, formula: str | None = None, value: Any = None) -> None:
        top, left, _, _ = _box(a1)
        self.cells[(top, left)] = [formula, value]

    def put_spill(self, a1: str, formula: str, rows: list[list[Any]]) -> None:
        top, left, _, _ = _box(a1)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if (i, j) == (0, 0):
                    self.cells[(top, left)] = [formula, value]
                elif value is not None:  # an empty result cell is an empty cell
                    self.cells[(top + i, left + j)] = [None, value]
        self.spills[(top, left)] = (top, left, top + len(rows) - 1, left + len(rows[0]) - 1)

    def formula_text(self, r: int, c: int) -> str:
        formula, value = self.cells.get((r, c), [None, None])
        if formula is not None:
            return formula
        if value is None:
            return ""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def value_at(self, r: int, c: int) -> Any:
        value = self.cells.get((r, c), [None, None])[1]
        return None if isinstance(value, ExcelError) else value

    def enter(self, r: int, c: int, entry: Any) -> None:
        formula, value = typed(entry)
        old = self.cells.get((r, c), [None, None])
        self.spills.pop((r, c), None) if formula is None else None
        if formula is not None and old[0] is not None:
            value = old[1]  # the fake does not calculate: a changed formula keeps its value
        if formula is None and value is None:
            self.cells.pop((r, c), None)
        else:
            self.cells[(r, c)] = [formula, value]
        self.book.writes.append((self.name, _a1(r, c, r, c), entry))

    # xlwings API
    @property
    def used_range(self) -> FakeRange:
        if not self.cells:
            return FakeRange(self, "$A$1")
        rows = [r for r, _ in self.cells]
        cols = [c for _, c in self.cells]
        return FakeRange(self, _a1(min(rows), min(cols), max(rows), max(cols)))

    def range(self, address: str) -> FakeRange:
        return FakeRange(self, address)


class FakeName:
    def __init__(self, name: str, refers_to: str) -> None:
        self.name = name
        self.refers_to = refers_to


class FakeSheets(list):  # type: ignore[type-arg]
    active: FakeSheet


class FakeBook:
    """xlwings.Book plus the adapter's spill_range/reopen. ``spills``: "windows" (Excel says
    where a formula spills) or "unknown" (a Mac: Excel cannot tell)."""

    def __init__(
        self, name: str = "Leads.xlsx", fullname: str | None = None, *, spills: str = "windows"
    ) -> None:
        self.name = name
        self.fullname = fullname if fullname is not None else name
        self.app = FakeApp()
        self.sheets = FakeSheets()
        self.names: list[FakeName] = []
        self.selection: FakeRange | None = None
        self.spill_mode = spills
        self.events: list[str] = []
        self.writes: list[tuple[str, str, Any]] = []
        self.formula2_writes: list[tuple[str, str, str]] = []
        self.on_save: Callable[[FakeBook], None] | None = None

    def add_sheet(self, name: str) -> FakeSheet:
        sheet = FakeSheet(self, name)
        self.sheets.append(sheet)
        if len(self.sheets) == 1:
            self.sheets.active = sheet
        return sheet

    def sheet(self, name: str) -> FakeSheet:
        return next(s for s in self.sheets if s.name == name)

    def select(self, sheet: str, address: str) -> None:
        self.sheets.active = self.sheet(sheet)
        self.selection = FakeRange(self.sheet(sheet), address)

    def snapshot(self) -> dict[tuple[str, int, int], tuple[Any, Any]]:
        return {
            (s.name, r, c): (cell[0], cell[1])
            for s in self.sheets
            for (r, c), cell in s.cells.items()
        }

    def save(self) -> None:
        self.events.append("save")
        if self.on_save is not None:
            self.on_save(self)

    def close(self) -> None:
        self.events.append("close")

    def reopen(self) -> Any:
        self.events.append("reopen")
        return self.app.open(self.fullname)

    def delete_name(self, name: str) -> None:
        kept = [n for n in self.names if n.name != name]
        assert len(kept) == len(self.names) - 1, f"no name {name}"
        self.names[:] = kept

    def spill_range(self, cell: FakeRange) -> FakeRange | None:
        if self.spill_mode == "unknown":
            return None
        top, left, _, _ = _box(cell.address)
        box = cell.sheet.spills.get((top, left))
        return cell.sheet.range(_a1(*box)) if box else cell


def changed_cells(before: dict[Any, Any], after: dict[Any, Any]) -> set[tuple[str, str]]:
    keys = set(before) | set(after)
    return {
        (k[0], _a1(k[1], k[2], k[1], k[2]).replace("$", ""))
        for k in keys
        if before.get(k) != after.get(k)
    }


def formula(book: FakeBook, sheet: str, a1: str) -> str | None:
    top, left, _, _ = _box(a1)
    return book.sheet(sheet).cells.get((top, left), [None, None])[0]


LEAD_ROWS = [
    ["Generect · 120 matches · 2 rows · $0.04 charged", None, None, None],
    ["full_name", "phone", "handle", "note"],
    ['=HYPERLINK("http://evil.example")', "+1 555 0100", "@acme", "Jane Doe"],
    ["'quoted", "02134", "TRUE", "-ceo"],
]


def leads_book(**kwargs: Any) -> FakeBook:
    """Two sheets of GENERECT formulas in every argument form, and other content around."""
    book = FakeBook(**kwargs)
    leads = book.add_sheet("Leads")
    leads.put("A1", value="Job titles")
    leads.put("B1", value="CEO")
    leads.put("A2", value="Locations")
    leads.put("B2", value="Germany")
    leads.put("D1", "=GENERECT_COUNT(A1:B2)", 120.0)
    leads.put("D2", '=GENERECT_COUNT(A1:B2,"realtime",1)', 80.0)
    leads.put("D3", "=GENERECT_COUNT(A1:B2,,$F$1)", 120.0)
    leads.put("D4", '=GENERECT_SPEND("today")', 0.5)
    leads.put("D5", "=GENERECT_BALANCE()", 99.5)
    leads.put("D6", '=GENERECT_COUNT($A$1:$B$2, "realtime")', 80.0)
    leads.put("F1", value=1.0)
    leads.put("E10", "=SUM(1,2)", 3.0)
    leads.put("G5", value="plain text")
    leads.put_spill("A21", "=GENERECT_SEARCH(A1:B2,2)", LEAD_ROWS)
    leads.put_spill("H1", '=GENERECT_VALUES("seniorities")', [["c_suite"], ["vp"], ["director"]])
    other = book.add_sheet("Other")
    other.put_spill(
        "B2",
        '=GENERECT_SEARCH(Leads!A1:B2,5,,,,"old")',
        [["status", None], ["full_name", "company"]],
    )
    other.put("C6", "=IFERROR(GENERECT_COUNT(Leads!$A$1:$B$2),0)", 120.0)
    other.put("A8", "=GENERECT_COUNT(Criteria)", 120.0)
    other.put("A9", value="notes")
    book.names.append(FakeName("Criteria", "=Leads!$A$1:$B$2"))
    return book


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": "live_ribbon", "home": tmp_path / "home"}
    values.update(overrides)
    return load_settings(
        environ={}, config_file=tmp_path / "absent.toml", use_keyring=False, **values
    )


@pytest.fixture
def context(tmp_path: Path) -> ra.Context:
    settings = make_settings(tmp_path)
    return ra.Context(
        settings=settings, engine=Engine(settings), platform="win32", clock=lambda: CLICK
    )


# --------------------------------------------------------------------------- refresh on Windows


SHEET_REWRITES = {
    ("Leads", "D1"): f"=GENERECT_COUNT(A1:B2,,{T})",
    ("Leads", "D2"): f'=GENERECT_COUNT(A1:B2,"realtime",{T})',
    ("Leads", "D6"): f'=GENERECT_COUNT($A$1:$B$2, "realtime",{T})',
    ("Leads", "A21"): f"=GENERECT_SEARCH(A1:B2,2,,,,{T})",
}
OTHER_REWRITES = {
    ("Other", "B2"): f"=GENERECT_SEARCH(Leads!A1:B2,5,,,,{T})",
    ("Other", "C6"): f"=IFERROR(GENERECT_COUNT(Leads!$A$1:$B$2,,{T}),0)",
    ("Other", "A8"): f"=GENERECT_COUNT(Criteria,,{T})",
}


def _assert_rewrites(book: FakeBook, before: dict[Any, Any], expected: dict[Any, str]) -> None:
    assert changed_cells(before, book.snapshot()) == set(expected)
    for (sheet, a1), text in expected.items():
        assert formula(book, sheet, a1) == text
    # Values, other formulas, and every other cell: as they were.
    for key, (old_formula, old_value) in before.items():
        now = book.snapshot()[key]
        assert now[1] == old_value
        if (key[0], _a1(key[1], key[2], key[1], key[2]).replace("$", "")) not in expected:
            assert now[0] == old_formula


def test_selection_inside_a_spill_range_refreshes_only_its_formula(context: ra.Context) -> None:
    book = leads_book()
    book.select("Leads", "$B$23")  # a lead cell of A21's result, not the formula
    before = book.snapshot()
    report = ra.refresh(book, "selection", context)
    _assert_rewrites(book, before, {("Leads", "A21"): SHEET_REWRITES[("Leads", "A21")]})
    assert report.scope == "the selection" and report.refreshed == ["Leads!A21"]
    assert report.worst_case == Decimal("0.04")  # 2 database rows at $0.02
    assert not book.app.alerts  # under confirm_above ($1): no question


def test_selection_without_generect_formulas_falls_back_to_the_sheet(context: ra.Context) -> None:
    book = leads_book()
    book.select("Leads", "$F$1:$G$5")  # F1 is D3's refresh cell: a value, not a formula
    before = book.snapshot()
    report = ra.refresh(book, "selection", context)
    _assert_rewrites(book, before, SHEET_REWRITES)
    message = report.message()
    assert "holds no GENERECT_COUNT or GENERECT_SEARCH formula" in message
    assert "sheet Leads" in message
    # D3 takes its refresh from a cell: left alone, and said so.
    assert "Leads!D3 (refresh from $F$1)" in message
    # D2 and D6 ask the same realtime count: priced once. $0.04 + $0.04 for the search.
    assert report.worst_case == Decimal("0.08")


def test_selection_of_spend_balance_values_only_falls_back_too(context: ra.Context) -> None:
    book = leads_book()
    book.select("Leads", "$D$4:$D$5,$H$2")
    before = book.snapshot()
    ra.refresh(book, "selection", context)
    _assert_rewrites(book, before, SHEET_REWRITES)


def test_multi_area_selection(context: ra.Context) -> None:
    book = leads_book()
    book.select("Leads", "$D$1,$C$24")
    before = book.snapshot()
    ra.refresh(book, "selection", context)
    expected = {k: SHEET_REWRITES[k] for k in [("Leads", "D1"), ("Leads", "A21")]}
    _assert_rewrites(book, before, expected)


def test_refresh_sheet_is_the_active_sheet(context: ra.Context) -> None:
    book = leads_book()
    book.select("Leads", "$B$23")  # ignored by Refresh sheet
    before = book.snapshot()
    report = ra.refresh(book, "sheet", context)
    _assert_rewrites(book, before, SHEET_REWRITES)
    assert not report.note


def test_refresh_workbook_rewrites_every_sheet_with_one_token(context: ra.Context) -> None:
    book = leads_book()
    before = book.snapshot()
    report = ra.refresh(book, "workbook", context)
    _assert_rewrites(book, before, SHEET_REWRITES | OTHER_REWRITES)
    assert report.token == TOKEN
    assert len(report.refreshed) == 7
    # + the database search of 5 rows; the named-criteria count is D1's request again (free).
    assert report.worst_case == Decimal("0.18")
    message = report.message()
    assert "Refreshing 7 formulas in the workbook (worst case $0.18)" in message
    assert "Each fetches afresh once" in message


def test_tokens_differ_across_clicks_even_within_one_second(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    times = iter([CLICK, CLICK, CLICK + timedelta(minutes=1)])
    ctx = ra.Context(settings=settings, engine=Engine(settings), clock=lambda: next(times))
    ctx.platform = "win32"
    book = leads_book()
    tokens = [ra.refresh(book, "sheet", ctx).token for _ in range(3)]
    assert tokens == [TOKEN, TOKEN + "-2", "r:2026-11-22T10:32:05"]
    assert formula(book, "Leads", "D1") == '=GENERECT_COUNT(A1:B2,,"r:2026-11-22T10:32:05")'


def test_formulas_that_cannot_be_priced_still_refresh(context: ra.Context) -> None:
    book = FakeBook()
    sheet = book.add_sheet("Leads")
    sheet.put("D1", '=GENERECT_COUNT(B1&"x")', 5.0)  # an expression: the refresher cannot read
    sheet.put("D2", "=GENERECT_COUNT(Nowhere)", 5.0)  # an unknown name
    report = ra.refresh(book, "sheet", context)
    assert formula(book, "Leads", "D1") == f'=GENERECT_COUNT(B1&"x",,{T})'
    assert report.unpriced == 2
    assert "plus 2 calls that could not be priced" in report.message()


def test_names_are_priced_as_the_file_refresher_reads_them(context: ra.Context) -> None:
    # Sheet!Name finds a workbook-level name too (Excel accepts it, so does the refresher),
    # and a sheet's own name wins over the workbook's.
    book = FakeBook()
    sheet = book.add_sheet("Leads")
    sheet.put("A1", value="Job title")
    sheet.put("B1", value="CEO")
    sheet.put("A5", value="Seniority")
    sheet.put("B5", value="VP")
    sheet.put("D1", "=GENERECT_SEARCH(Leads!Criteria,3)", "status")
    sheet.put("D2", "=GENERECT_SEARCH(Own,5)", "status")
    book.names.append(FakeName("Criteria", "=Leads!$A$1:$B$1"))
    book.names.append(FakeName("Own", "=Leads!$A$1:$B$1"))
    book.names.append(FakeName("Leads!Own", "=Leads!$A$5:$B$5"))
    report = ra.refresh(book, "sheet", context)
    assert report.unpriced == 0
    assert report.worst_case == Decimal("0.16")  # 3 + 5 database rows at $0.02
    assert ra._resolve(book, "Leads", Name("Own")) == [["Seniority", "VP"]]


def test_a_book_without_generect_formulas(context: ra.Context) -> None:
    book = FakeBook()
    book.add_sheet("Sheet1").put("A1", "=SUM(1,2)", 3.0)
    before = book.snapshot()
    report = ra.refresh(book, "workbook", context)
    assert book.snapshot() == before and not book.writes
    assert (
        report.message()
        == "No GENERECT_COUNT or GENERECT_SEARCH formula refreshed in the workbook."
    )


# --------------------------------------------------------------------------- cost confirmation


def test_above_the_threshold_cancel_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, confirm_above="0.05")
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="win32", clock=lambda: CLICK
    )
    book = leads_book()
    book.app.answers = ["cancel"]
    before = book.snapshot()
    report = ra.refresh(book, "sheet", ctx)
    assert book.snapshot() == before and not book.writes
    assert report.cancelled
    prompt, buttons, _ = book.app.alerts[0]
    assert buttons == "ok_cancel"
    assert "may cost up to $0.08" in prompt and "daily cap $25.00" in prompt
    assert report.message().startswith("Cancelled: nothing was changed")


def test_above_the_threshold_ok_refreshes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, confirm_above="0.05")
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="win32", clock=lambda: CLICK
    )
    book = leads_book()
    book.app.answers = ["ok"]
    before = book.snapshot()
    ra.refresh(book, "sheet", ctx)
    _assert_rewrites(book, before, SHEET_REWRITES)


def test_a_test_key_is_never_asked(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, confirm_above="0", api_key="test_ribbon")
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="win32", clock=lambda: CLICK
    )
    book = leads_book()
    report = ra.refresh(book, "sheet", ctx)
    assert not book.app.alerts
    assert "test key: nothing is debited" in report.message()


# --------------------------------------------------------------------------- refresh on a Mac


def test_mac_refuses_a_workbook_never_saved(context: ra.Context) -> None:
    context.platform = "darwin"
    book = leads_book(fullname="Book1")
    before = book.snapshot()
    shown = ra.run(book, lambda b: ra.refresh(b, "sheet", context))
    assert "never saved" in shown
    assert book.app.alerts == [(shown, "ok", "critical")]
    assert book.snapshot() == before and book.events == []


@pytest.mark.parametrize(
    ("fullname", "words"),
    [
        ("/Users/ann/Leads.xls", ".xlsx and .xlsm"),
        ("/Users/ann/Leads.csv", ".xlsx and .xlsm"),
        ("https://contoso.sharepoint.com/Leads.xlsx", "stored online"),
    ],
)
def test_mac_refuses_other_files(context: ra.Context, fullname: str, words: str) -> None:
    context.platform = "darwin"
    book = leads_book(fullname=fullname)
    before = book.snapshot()
    with pytest.raises(WorkbookError, match=re.escape(words)):
        ra.refresh(book, "sheet", context)
    assert book.snapshot() == before and book.events == []


def _save_into_file(book: FakeBook) -> None:
    """What Excel's Save does, for formulas and constants (enough for the refresher)."""
    wb = openpyxl.load_workbook(book.fullname)
    for sheet in book.sheets:
        ws = wb[sheet.name]
        for (r, c), (text, value) in sheet.cells.items():
            ws.cell(r, c).value = text if text is not None else value
    wb.save(book.fullname)


_LEGACY_CALL = re.compile(r"(?<![\w.@])(GENERECT_\w+\()")


def _book_from_file(path: Path, *, windows: bool = False) -> FakeBook:
    """Excel opening the file: formulas, cached values, names. A Mac: spills unknown.
    ``windows``: Excel 365 on Windows, which tells spills and shows the file's plain (legacy)
    formulas with the implicit-intersection @ before each user-defined function."""
    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    book = FakeBook(path.name, str(path), spills="windows" if windows else "unknown")
    for ws in formulas.worksheets:
        sheet = book.add_sheet(ws.title)
        for row in ws.iter_rows():
            for cell in row:
                cached = values[ws.title].cell(cell.row, cell.column).value
                text = (
                    cell.value
                    if isinstance(cell.value, str) and cell.value.startswith("=")
                    else None
                )
                if text is not None and windows:
                    text = _LEGACY_CALL.sub(r"@\1", text)
                if text is not None or cached is not None:
                    sheet.cells[(cell.row, cell.column)] = [text, cached]
        for name, defined in ws.defined_names.items():
            book.names.append(FakeName(f"{ws.title}!{name}", "=" + defined.attr_text))
    return book


def test_mac_refresh_runs_the_refresher_on_the_saved_file(sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "Leads.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Leads"
    for a1, value in {
        "A1": "Job titles",
        "B1": "CEO",
        "A2": "Locations",
        "B2": "Germany",
        "D1": "=GENERECT_COUNT(A1:B2)",
        "A21": "=GENERECT_SEARCH(A1:B2,2)",
        "G1": "keep me",
    }.items():
        ws[a1] = value
    other = wb.create_sheet("Other")
    other["B2"] = "=GENERECT_SEARCH(Leads!A1:B2,5)"  # not in scope: must not be fetched
    wb.save(path)

    book = _book_from_file(path)
    book.on_save = _save_into_file
    reopened: list[FakeBook] = []
    book.app.opener = lambda fullname: (
        reopened.append(_book_from_file(Path(fullname))) or reopened[-1]
    )
    settings = make_settings(tmp_path, base_url=sandbox.url)
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="darwin", clock=lambda: CLICK
    )

    report = ra.refresh(book, "sheet", ctx)

    assert book.events == ["save", "close", "reopen"]
    billed = sandbox.billable_calls()
    assert len(billed) == 1 and billed[0]["body"]["limit_by"] == 2  # the search; the count is free
    assert all(e["body"].get("limit_by") != 5 for e in sandbox.log_entries())
    shown = reopened[0]
    leads = shown.sheet("Leads")
    assert formula(shown, "Leads", "A21") == f"=GENERECT_SEARCH(A1:B2,2,,,,{T})"
    assert formula(shown, "Leads", "D1") == f"=GENERECT_COUNT(A1:B2,,{T})"
    assert isinstance(leads.value_at(1, 4), int | float)
    assert str(leads.value_at(21, 1)).startswith("Generect")  # the status row
    assert leads.value_at(22, 1) is not None  # the header row
    assert leads.value_at(23, 1) is not None and leads.value_at(24, 1) is not None  # 2 leads
    assert leads.value_at(25, 1) is None
    assert leads.value_at(1, 7) == "keep me"
    assert shown.sheet("Other").cells == {(2, 2): ["=GENERECT_SEARCH(Leads!A1:B2,5)", None]}
    message = report.message()
    assert "2 calls fetched ($0.04 charged), 0 from the store; the workbook shows" in message

    # Freezing the refreshed table on the Mac: Excel cannot tell the extent, the refresher's
    # hidden record can.
    shown.select("Leads", "$B$23")
    shown.app.answers = ["ok"]
    before = shown.snapshot()
    frozen = ra.freeze_selection(shown)
    assert frozen.frozen and frozen.frozen[0].startswith("Leads!A21:")
    assert formula(shown, "Leads", "A21") is None
    assert all(v[1] == before[k][1] for k, v in shown.snapshot().items())


def test_mac_refresh_that_fails_keeps_the_rows_the_file_shows(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    from generect_excel.workbook.refresher import refresh_workbook

    server = sandbox_factory()
    url = server.url
    path = tmp_path / "Leads.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws["A1"], ws["B1"], ws["A21"] = "Job titles", "CEO", "=GENERECT_SEARCH(A1:B1,3)"
    wb.save(path)
    bought = make_settings(tmp_path / "before", base_url=url)
    refresh_workbook(path, Engine(bought), confirm=lambda quote: True)
    rows = [
        [c.value for c in r]
        for r in openpyxl.load_workbook(path, data_only=True)["Leads"]["A22:K25"]
    ]
    server.stop()

    book = _book_from_file(path)
    book.on_save = lambda book: None  # Excel saves what it shows: the file as it is
    reopened: list[FakeBook] = []
    book.app.opener = lambda fullname: (
        reopened.append(_book_from_file(Path(fullname))) or reopened[-1]
    )
    settings = make_settings(tmp_path / "colleague", base_url=url)
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="darwin", clock=lambda: CLICK
    )
    report = ra.refresh(book, "sheet", ctx)

    leads = reopened[0].sheet("Leads")
    assert str(leads.value_at(21, 1)).startswith("Generect · refresh failed ")
    assert "Cannot reach Generect" in str(leads.value_at(21, 1))
    shown = [[leads.value_at(r, c) for c in range(1, 12)] for r in range(22, 26)]
    assert shown == rows and rows[3][0] is not None  # header and the 3 bought rows
    message = report.message()
    assert "Refresh failed, the cells keep their earlier data" in message and "Leads!A21" in message
    assert "Errors, shown in their cells" not in message


def test_mac_refresh_without_a_key_stops_before_closing(tmp_path: Path) -> None:
    path = tmp_path / "Leads.xlsx"
    path.write_bytes(b"")  # the file exists; nothing reads it
    settings = make_settings(tmp_path, api_key=None)
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="darwin", clock=lambda: CLICK
    )
    book = leads_book(fullname=str(path))
    before = book.snapshot()
    shown = ra.run(book, lambda b: ra.refresh(b, "sheet", ctx))
    assert "No Generect API key" in shown
    assert book.events == [] and book.snapshot() == before


# --------------------------------------------------------------------------- freeze


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example")',
        "+1 555 0100",
        "-ceo",
        "@acme",
        "'quoted",
        "02134",
        "TRUE",
        "false",
        "#N/A",
        "2024-01-02",
        " =spaced",
        "Jane Doe",
        "Zoë O'Brien",
    ],
)
def test_text_for_excel_keeps_text_as_typed_text(text: str) -> None:
    assert typed(ra.text_for_excel(text)) == (None, text)


def test_text_for_excel_leaves_plain_names_alone() -> None:
    assert ra.text_for_excel("Jane Doe") == "Jane Doe"
    assert ra.text_for_excel("=x") == "'=x"


def test_freeze_writes_the_whole_result_as_values_and_keeps_text_as_text() -> None:
    book = leads_book()
    book.select("Leads", "$C$23")
    book.app.answers = ["ok"]
    before = book.snapshot()
    report = ra.freeze_selection(book)
    assert report.frozen == ["Leads!A21:D24"]
    after = book.snapshot()
    # Only the formula went; every value of the result is what it showed, as text.
    assert changed_cells(before, after) == {("Leads", "A21")}
    assert after[("Leads", 21, 1)] == (None, LEAD_ROWS[0][0])
    for i, row in enumerate(LEAD_ROWS):
        for j, value in enumerate(row):
            assert book.sheet("Leads").value_at(21 + i, 1 + j) == value
            assert formula(book, "Leads", _a1(21 + i, 1 + j, 21 + i, 1 + j)) is None
    prompt, buttons, _ = book.app.alerts[0]
    assert buttons == "ok_cancel" and "Leads!A21:D24" in prompt and "Undo" in prompt


def test_freeze_several_formulas_and_nothing_else() -> None:
    book = leads_book()
    book.select("Leads", "$D$1:$D$2,$H$3")
    book.app.answers = ["ok"]
    before = book.snapshot()
    report = ra.freeze_selection(book)
    assert report.frozen == ["Leads!D1", "Leads!H1:H3", "Leads!D2"]  # row by row
    assert changed_cells(before, book.snapshot()) == {
        ("Leads", "D1"),
        ("Leads", "D2"),
        ("Leads", "H1"),
    }
    assert book.snapshot()[("Leads", 1, 4)] == (None, 120.0)
    assert book.snapshot()[("Leads", 1, 8)] == (None, "c_suite")


def test_freeze_cancelled_changes_nothing() -> None:
    book = leads_book()
    book.select("Leads", "$A$21")
    book.app.answers = ["cancel"]
    before = book.snapshot()
    report = ra.freeze_selection(book)
    assert report.cancelled and book.snapshot() == before and not book.writes


def test_freeze_without_generect_in_the_selection() -> None:
    book = leads_book()
    book.select("Leads", "$E$10:$G$5")
    before = book.snapshot()
    shown = ra.run(book, ra.freeze_selection)
    assert shown == "No GENERECT formula in the selection: nothing was frozen."
    assert book.snapshot() == before and [a[1] for a in book.app.alerts] == ["ok"]


def test_freeze_leaves_pending_and_error_cells_as_formulas() -> None:
    book = FakeBook()
    sheet = book.add_sheet("Leads")
    sheet.put(
        "A1",
        '=GENERECT_COUNT(B1:C2,"realtime")',
        "#GENERECT! pending: realtime count started 10:31",
    )
    sheet.put("A2", "=GENERECT_COUNT(B1:C2)", "#GENERECT! No criteria: give the range.")
    sheet.put("A3", "=GENERECT_COUNT(B1:C2)", 7.0)
    book.select("Leads", "$A$1:$A$3")
    book.app.answers = ["ok"]
    report = ra.freeze_selection(book)
    assert report.frozen == ["Leads!A3"]
    assert report.left == ["Leads!A1 (still fetching)", "Leads!A2 (shows an error)"]
    assert formula(book, "Leads", "A1") and formula(book, "Leads", "A2")


def test_freeze_on_an_excel_that_cannot_tell_the_extent() -> None:
    book = leads_book(spills="unknown")
    book.select("Leads", "$A$21,$H$1,$D$1")
    book.app.answers = ["ok"]
    report = ra.freeze_selection(book)
    # The count is one value; the tables' extent is unknown (no refresher record): left.
    assert report.frozen == ["Leads!D1"]
    assert report.left == [
        "Leads!H1 (this Excel does not tell how far it spills)",
        "Leads!A21 (this Excel does not tell how far it spills)",
    ]


def _cells_in(keys: Any, sheet: str, box: tuple[int, int, int, int]) -> set[tuple[str, str]]:
    """The snapshot keys of ``sheet`` inside ``box`` (top, left, bottom, right), as A1 names."""
    top, left, bottom, right = box
    return {
        (k[0], _a1(k[1], k[2], k[1], k[2]).replace("$", ""))
        for k in keys
        if k[0] == sheet and top <= k[1] <= bottom and left <= k[2] <= right
    }


def test_refresh_selection_finds_a_recorded_static_table(context: ra.Context) -> None:
    # A table the workbook refresher wrote as plain values: only its hidden record says
    # which formula the selected cell belongs to (this Excel cannot tell where anything
    # spills). On Windows the table then becomes a spilling formula (more below).
    book = leads_book(spills="unknown")
    book.names.append(FakeName("Leads!_GENERECT_SPILL_1", "=Leads!$A$21:$D$24"))
    book.select("Leads", "$D$24")
    before = book.snapshot()
    report = ra.refresh(book, "selection", context)
    assert report.refreshed == ["Leads!A21"]
    assert changed_cells(before, book.snapshot()) == _cells_in(before, "Leads", (21, 1, 24, 4))
    assert formula(book, "Leads", "A21") == SHEET_REWRITES[("Leads", "A21")]
    assert _cells_in(book.snapshot(), "Leads", (21, 1, 24, 4)) == {("Leads", "A21")}
    assert [n.name for n in book.names] == ["Criteria"]


# --------------------------------------------------------------------------- static tables


@pytest.fixture
def cli_refreshed(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workbook made without Excel and filled by ``generect-excel refresh`` (default
    ``--spill static``) from the sandbox: Leads!B21 and Other!A1 hold static tables with their
    hidden records, Leads!D1 a count."""
    for name, value in {
        "GENERECT_API_KEY": "test_ribbon",
        "GENERECT_BASE_URL": sandbox.url,
        "GENERECT_HOME": str(tmp_path / "cli-home"),
        "GENERECT_CONFIG": str(tmp_path / "no-config.toml"),
    }.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "Leads.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Leads"
    for a1, value in {
        "A1": "Job titles",
        "B1": "CEO",
        "A2": "Locations",
        "B2": "Germany",
        "D1": "=GENERECT_COUNT(A1:B2)",
        "B21": "=GENERECT_SEARCH(A1:B2,2)",
    }.items():
        ws[a1] = value
    wb.create_sheet("Other")["A1"] = "=GENERECT_SEARCH(Leads!A1:B2,1)"
    wb.save(path)
    assert main(["refresh", str(path)]) == 0
    return path


def _record(book: FakeBook, sheet: str) -> tuple[str, tuple[int, int, int, int]]:
    """The refresher's hidden record on ``sheet``: its name and its box."""
    (item,) = [n for n in book.names if n.name.startswith(f"{sheet}!_GENERECT_SPILL_")]
    return item.name, _box(item.refers_to.rpartition("!")[2])


def _static_leads_book(path: Path) -> tuple[FakeBook, str, tuple[int, int, int, int]]:
    """The CLI-refreshed workbook open in Excel 365 on Windows, with the analyst's notes typed
    all around its Leads table."""
    book = _book_from_file(path, windows=True)
    name, box = _record(book, "Leads")
    top, left, bottom, right = box
    assert (top, left) == (21, 2) and bottom == 24 and right > left  # status, header, 2 leads
    assert formula(book, "Leads", "B21") == "=@GENERECT_SEARCH(A1:B2,2)"  # legacy, as Excel shows
    assert str(book.sheet("Leads").value_at(21, 2)).startswith("Generect")
    for r, c in [
        (top - 1, left),
        (top, left - 1),
        (bottom, left - 1),
        (top, right + 1),
        (bottom, right + 1),
        (bottom + 1, left),
        (bottom + 1, right),
        (bottom + 1, right + 1),
    ]:
        book.sheet("Leads").cells[(r, c)] = [None, f"note {r},{c}"]
    return book, name, box


def test_windows_refresh_makes_a_cli_static_table_spill(
    cli_refreshed: Path, context: ra.Context
) -> None:
    book, name, box = _static_leads_book(cli_refreshed)
    top, left, bottom, right = box
    other_record = _record(book, "Other")[0]
    book.select("Leads", _a1(top + 2, left + 1, top + 2, left + 1))  # a lead's cell
    before = book.snapshot()

    report = ra.refresh(book, "selection", context)

    after = book.snapshot()
    table = _cells_in(before, "Leads", box)
    assert len(table) > 2 * (right - left + 1)  # the refresher's values really were there
    # Exactly the recorded cells changed: emptied, but the formula's, which now spills.
    assert changed_cells(before, after) == table
    assert _cells_in(after, "Leads", box) == {("Leads", "B21")}
    new = f"=GENERECT_SEARCH(A1:B2,2,,,,{T})"  # no @: a dynamic-array formula
    assert formula(book, "Leads", "B21") == new
    assert book.formula2_writes == [("Leads", "$B$21", new)]
    # The formula's own cell is not emptied first (it keeps showing its last value).
    assert [w for w in book.writes if w[1] == "$B$21"] == [("Leads", "$B$21", new)]
    assert after[("Leads", 21, 2)][1] == before[("Leads", 21, 2)][1]
    for sheet, a1, _ in book.writes:
        r, c, _, _ = _box(a1)
        assert sheet == "Leads" and top <= r <= bottom and left <= c <= right
    # The record is gone; the other table's stays. The notes around, the count: untouched.
    assert [n.name for n in book.names] == [other_record]
    assert name != other_record
    assert formula(book, "Leads", "D1") == "=@GENERECT_COUNT(A1:B2)"
    assert report.refreshed == ["Leads!B21"] and report.failed == []
    extent = _a1(*box).replace("$", "")
    assert report.respilled == [f"Leads!{extent}"]
    assert f"now spill as Excel's own (their values fill in again): Leads!{extent}." in (
        report.message()
    )


def test_windows_refresh_without_a_record_keeps_the_legacy_formula(
    cli_refreshed: Path, context: ra.Context
) -> None:
    # The same workbook, the Leads record removed: nothing says the values around B21 are
    # the formula's, so only the refresh arguments change (Excel's @ kept, no spill).
    book, name, box = _static_leads_book(cli_refreshed)
    book.names[:] = [n for n in book.names if n.name != name]
    names = [n.name for n in book.names]
    before = book.snapshot()
    report = ra.refresh(book, "sheet", context)
    assert changed_cells(before, book.snapshot()) == {("Leads", "B21"), ("Leads", "D1")}
    assert formula(book, "Leads", "B21") == f"=@GENERECT_SEARCH(A1:B2,2,,,,{T})"
    assert formula(book, "Leads", "D1") == f"=@GENERECT_COUNT(A1:B2,,{T})"
    assert [n.name for n in book.names] == names
    assert report.respilled == [] and "now spill" not in report.message()


def test_windows_refresh_workbook_and_a_cancelled_one(cli_refreshed: Path, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, confirm_above="0")
    ctx = ra.Context(
        settings=settings, engine=Engine(settings), platform="win32", clock=lambda: CLICK
    )
    book, _, box = _static_leads_book(cli_refreshed)
    other_box = _record(book, "Other")[1]
    book.app.answers = ["cancel", "ok"]
    before = book.snapshot()
    names = [n.name for n in book.names]
    assert ra.refresh(book, "workbook", ctx).cancelled
    assert book.snapshot() == before and not book.writes
    assert [n.name for n in book.names] == names

    report = ra.refresh(book, "workbook", ctx)
    after = book.snapshot()
    assert changed_cells(before, after) == (
        _cells_in(before, "Leads", box) | _cells_in(before, "Other", other_box) | {("Leads", "D1")}
    )
    assert formula(book, "Other", "A1") == f"=GENERECT_SEARCH(Leads!A1:B2,1,,,,{T})"
    assert _cells_in(after, "Other", other_box) == {("Other", "A1")}
    assert not any("_GENERECT_SPILL_" in n.name for n in book.names)
    assert len(report.respilled) == 2


def test_windows_refresh_of_a_table_that_already_spills_keeps_the_cells(
    context: ra.Context,
) -> None:
    # A stale record: the formula was re-entered in Excel and spills (A21:D24); a note typed
    # later inside the old, bigger extent is the analyst's.
    book = leads_book()
    book.names.append(FakeName("Leads!_GENERECT_SPILL_1", "=Leads!$A$21:$D$30"))
    book.sheet("Leads").put("B28", value="mine")
    book.select("Leads", "$B$23")
    before = book.snapshot()
    report = ra.refresh(book, "selection", context)
    _assert_rewrites(book, before, {("Leads", "A21"): SHEET_REWRITES[("Leads", "A21")]})
    assert [n.name for n in book.names] == ["Criteria"]  # the stale record goes
    assert report.respilled == ["Leads!A21:D30"]


def test_windows_freeze_of_a_cli_static_table(cli_refreshed: Path) -> None:
    book, _, box = _static_leads_book(cli_refreshed)
    other_record = _record(book, "Other")[0]
    book.select("Leads", _a1(box[2], box[3], box[2], box[3]))  # the table's last cell
    book.app.answers = ["ok"]
    before = book.snapshot()
    report = ra.freeze_selection(book)
    assert report.frozen == [f"Leads!{_a1(*box).replace('$', '')}"]
    after = book.snapshot()
    # Only the formula went: every value as it was shown; its record went with it.
    assert changed_cells(before, after) == {("Leads", "B21")}
    assert after[("Leads", 21, 2)] == (None, before[("Leads", 21, 2)][1])
    assert [n.name for n in book.names] == [other_record]


# --------------------------------------------------------------------------- spend


def _entry(key: str, when: datetime) -> CacheEntry:
    return CacheEntry(
        key=key,
        endpoint="/p",
        mode="database",
        base_url="http://127.0.0.1:1",
        account="fp",
        request="{}",
        answer={},
        amount_charged=Decimal(0),
        fetched_at=when,
        refresh_token=None,
        billable=True,
        test_mode=False,
    )


def _charge(n: int, when: datetime, amount: str, workbook: str, test_mode: bool = False) -> Charge:
    return Charge(
        charge_id=f"c{n}",
        time=when,
        endpoint="/api/v1/search/database/leads/",
        mode="database",
        request={"job_titles": ["CEO"], "limit_by": 2},
        rows=2,
        results_count=120,
        amount_charged=Decimal(amount),
        test_mode=test_mode,
        account="fp",
        base_url="http://127.0.0.1:1",
        cache_key=f"k{n}",
        origin=Origin(workbook, "Leads", "A21"),
    )


def test_show_spend_reads_the_ledger(tmp_path: Path) -> None:
    today = date.today()

    def at(h: int, m: int, s: int = 0, days: int = 0) -> datetime:
        return datetime.combine(today - timedelta(days=days), time(h, m, s)).astimezone()

    store = Store(tmp_path / "store.sqlite3")
    for n, (when, amount, workbook, test) in enumerate(
        [
            (at(9, 0), "0.50", "Leads.xlsx", False),  # before the last Refresh
            (at(10, 31, 30), "0.04", "Leads.xlsx", False),
            (at(10, 32), "0.08", "leads.XLSX", False),  # Excel's names ignore case
            (at(10, 40), "1.00", "Other.xlsx", False),  # another workbook
            (at(10, 45), "2.00", "Leads.xlsx", True),  # a test key: not debited
            (at(9, 0, days=40), "3.00", "Leads.xlsx", False),  # another month
        ]
    ):
        store.save(_entry(f"k{n}", when), _charge(n, when, amount, workbook, test))
    settings = make_settings(tmp_path)
    engine = Engine(settings, store=store, clock=lambda: at(12, 0).astimezone(UTC))
    book = leads_book()
    stamp = f"{today:%Y-%m-%d}"
    book.sheet("Leads").put("D1", f'=GENERECT_COUNT(A1:B2,,"r:{stamp}T10:31:05")', 1.0)
    book.sheet("Other").put("A8", f'=GENERECT_COUNT(Criteria,,"r:{stamp}T08:00:00")', 1.0)
    before = book.snapshot()

    shown = ra.run(book, lambda b: ra.spend_summary(b, ra.Context(engine=engine)))

    assert shown.splitlines() == [
        "Charged, from this computer's ledger:",
        "Today: $1.62 (plus $2.00 with a test key, not debited)",
        "This month: $1.62 (plus $2.00 with a test key, not debited)",
        f"Since the last Refresh of Leads.xlsx ({stamp} 10:31): 3 charges, $0.12 "
        "(test-key calls not debited).",
    ]
    assert book.app.alerts == [(shown, "ok", "info")]
    assert book.snapshot() == before


def test_show_spend_without_a_refresh_in_the_workbook(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    book = leads_book()
    text = ra.spend_summary(book, ra.Context(settings=settings))
    assert text.splitlines()[1:] == [
        "Today: $0.00",
        "This month: $0.00",
        "Last Refresh: none recorded in Leads.xlsx.",
    ]


# --------------------------------------------------------------------------- errors


def test_expected_errors_show_one_line(context: ra.Context) -> None:
    book = leads_book()

    def fails(_: Any) -> None:
        raise CriteriaError(["Unknown field 'Titel'.", "Another problem."])

    # A message box has room for every problem (a cell shows the first and "+1 more").
    shown = "2 problems in the criteria:\nUnknown field 'Titel'.\nAnother problem."
    assert ra.run(book, fails) == shown
    assert book.app.alerts == [(shown, "ok", "critical")]


def test_unexpected_errors_are_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    book = leads_book()

    def breaks(_: Any) -> None:
        raise KeyError("secret detail")

    shown = ra.run(book, breaks, log_file="/home/ann/ribbon.log")
    assert shown == "Something unexpected went wrong (KeyError). Details: /home/ann/ribbon.log"
    assert "secret detail" not in shown
    assert "Traceback" in caplog.text and "secret detail" in caplog.text


def test_importing_the_ribbon_is_light() -> None:
    code = (
        "import sys, generect_excel.ribbon; "
        "print(sorted(m for m in ('openpyxl', 'starlette', 'xlwings', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the live adapter


class _Api:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class _XlCell:
    def __init__(self, sheet: Any, address: str, api: Any, has_array: bool = False) -> None:
        self.sheet, self.address, self.api, self.has_array = sheet, address, api, has_array


class _XlSheet:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def range(self, address: str) -> str:
        self.asked.append(address)
        if address.endswith("#"):
            raise RuntimeError("AppleScript: unknown range")
        return f"range {address}"


class _XlName:
    def __init__(self, name: str, deleted: list[str]) -> None:
        self.name, self._deleted = name, deleted

    def delete(self) -> None:
        self._deleted.append(self.name)


class _XlBook:
    def __init__(self) -> None:
        self.app = FakeApp()
        self.fullname = "/Users/ann/Leads.xlsx"
        self.name = "Leads.xlsx"
        self.deleted: list[str] = []
        self.names = [
            _XlName(n, self.deleted) for n in ("Criteria", "Leads!_GENERECT_SPILL_1", "_X")
        ]

    @property
    def selection(self) -> Any:
        raise RuntimeError("a chart is selected")


@pytest.mark.parametrize(
    ("api", "has_array", "expected"),
    [
        (
            _Api(HasSpill=True, SpillingToRange=_Api(Address="$A$21:$D$24")),
            False,
            "range $A$21:$D$24",
        ),
        (_Api(HasSpill=False), False, "cell"),
        (_Api(CurrentArray=_Api(Address="$A$1:$B$9")), True, "range $A$1:$B$9"),  # no HasSpill
    ],
)
def test_live_book_finds_results_on_windows(api: Any, has_array: bool, expected: str) -> None:
    sheet = _XlSheet()
    cell = _XlCell(sheet, "$A$21", api, has_array)
    found = LiveBook(_XlBook(), platform="win32").spill_range(cell)
    assert (found is cell) if expected == "cell" else (found == expected)


def test_live_book_on_a_mac_and_its_plumbing() -> None:
    xl = _XlBook()
    book = LiveBook(xl, platform="darwin")
    sheet = _XlSheet()
    assert book.spill_range(_XlCell(sheet, "$A$21", None)) is None
    assert sheet.asked == ["$A$21#"]
    assert book.selection is None  # a chart selected: no cells
    opened: list[str] = []
    xl.app.opener = lambda fullname: opened.append(fullname) or _XlBook()
    xl.fullname = "gone"  # a closed book: the wrapper kept the name
    assert isinstance(book.reopen(), LiveBook) and opened == ["/Users/ann/Leads.xlsx"]
    book.delete_name("Leads!_GENERECT_SPILL_1")
    book.delete_name("Leads!_GENERECT_SPILL_9")  # gone already: nothing
    assert xl.deleted == ["Leads!_GENERECT_SPILL_1"]


# --------------------------------------------------------------------------- replace_arguments


def _token(call: Any) -> dict[str, str] | None:
    return {"refresh": '"t"'} if call.function in ("GENERECT_COUNT", "GENERECT_SEARCH") else None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("=GENERECT_SEARCH(A1:B5)", '=GENERECT_SEARCH(A1:B5,,,,,"t")'),
        ("=GENERECT_COUNT(A1:B5,,)", '=GENERECT_COUNT(A1:B5,,"t")'),
        ("=GENERECT_COUNT()", '=GENERECT_COUNT(,,"t")'),
        ('=GENERECT_COUNT(A1:B5,"realtime",TRUE)', '=GENERECT_COUNT(A1:B5,"realtime","t")'),
        (
            '=  GENERECT_SEARCH( A1:B5 , 10,,"a,b" , "realtime",  "old"  )  ',
            '=  GENERECT_SEARCH( A1:B5 , 10,,"a,b" , "realtime",  "t"  )  ',
        ),
        (
            "=IFERROR(GENERECT_COUNT('My, Sheet'!A1:B2),0)+GENERECT_SEARCH(X1,{1,2;3,4})",
            "=IFERROR(GENERECT_COUNT('My, Sheet'!A1:B2,,\"t\"),0)"
            '+GENERECT_SEARCH(X1,{1,2;3,4},,,,"t")',
        ),
        ("=_xlfn.SINGLE(GENERECT_SEARCH(A1:B5))", '=_xlfn.SINGLE(GENERECT_SEARCH(A1:B5,,,,,"t"))'),
        ("=_xludf.GENERECT_COUNT(A1,,MAX(1,2))", '=_xludf.GENERECT_COUNT(A1,,"t")'),
        (
            "='generect_excel.xlam'!GENERECT_COUNT(A1)",
            "='generect_excel.xlam'!GENERECT_COUNT(A1,,\"t\")",
        ),
        ("=GENERECT_COUNT(A1,,GENERECT_COUNT(B1))", '=GENERECT_COUNT(A1,,"t")'),
        ("=GENERECT_SEARCH(A1,,,,,,7)", '=GENERECT_SEARCH(A1,,,,,"t",7)'),
        (
            '=GENERECT_SPEND("today")+GENERECT_BALANCE()',
            '=GENERECT_SPEND("today")+GENERECT_BALANCE()',
        ),
        ("GENERECT_COUNT(A1)", 'GENERECT_COUNT(A1,,"t")'),
    ],
)
def test_replace_arguments(before: str, after: str) -> None:
    assert replace_arguments(before, _token) == after


def test_replace_arguments_sees_the_calls_as_parse_formula_does() -> None:
    seen: list[Any] = []
    replace_arguments('=GENERECT_COUNT(A1:B2,"realtime")', lambda call: seen.append(call))
    assert [(c.function, c.arg("mode").value, type(c.arg("refresh")).__name__) for c in seen] == [
        ("GENERECT_COUNT", "realtime", "Omitted")
    ]


def test_windows_refresh_makes_a_fresh_templates_lead_table_spill(
    tmp_path: Path, context: ra.Context
) -> None:
    # A template saves its lead table as a static one (so that LibreOffice shows "Not fetched
    # yet" instead of #NAME?): a plain formula, which Excel 365 shows with its @, and a hidden
    # record of its one cell. The first ribbon Refresh writes it as a spilling formula.
    from generect_excel.templates import write_template

    book = _book_from_file(write_template("lead-list", tmp_path / "Leads.xlsx"), windows=True)
    search = "GENERECT_SEARCH('Lead list'!$A$2:$D$12,B15"
    assert formula(book, "Lead list", "A21") == f"=@{search})"
    assert [n.refers_to for n in book.names] == ["='Lead list'!$A$21:$A$21"]
    book.select("Lead list", "$A$21")
    before = book.snapshot()
    report = ra.refresh(book, "selection", context)
    new = f"={search},,,,{T})"  # no @: a dynamic-array formula
    assert book.formula2_writes == [("Lead list", "$A$21", new)]
    assert changed_cells(before, book.snapshot()) == {("Lead list", "A21")}
    assert book.names == [] and report.failed == []
    assert report.respilled == ["'Lead list'!A21"]
