"""The refresher end to end against the sandbox over HTTP: costs counted from its request log."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.workbook.defined_name import DefinedName

from generect_excel import _constants as C
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.errors import BudgetError, SettingsError, WorkbookError
from generect_excel.formulas.parse import parse_reference
from generect_excel.formulas.references import WorkbookReader
from generect_excel.formulas.xlsxpatch import SPILL_NAME_PREFIX
from generect_excel.templates import write_template
from generect_excel.workbook.refresher import plan_refresh, quote_plan, refresh_workbook
from workbook_support import load, sandbox_settings, save, snapshot, zip_members

CRITERIA = [("Job titles", "Sales Director"), ("Location", "United States")]


def _engine(sandbox, tmp_path: Path, key: str = "test_refresh", **overrides) -> Engine:
    return Engine(sandbox_settings(sandbox, tmp_path / "home", key, **overrides))


def _yes(quote) -> bool:
    return True


def _criteria(ws, top: int = 1, rows=CRITERIA) -> str:
    for i, (label, value) in enumerate(rows, start=top):
        ws[f"A{i}"], ws[f"B{i}"] = label, value
    return f"A{top}:B{top + len(rows) - 1}"


def _spill_areas(path: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    areas: dict[str, list] = {}
    for ws in load(path).worksheets:
        for name, defined in ws.defined_names.items():
            if name.startswith(SPILL_NAME_PREFIX):
                areas.setdefault(ws.title, []).append(parse_reference(defined.attr_text).bounds)
    return areas


def test_second_refresh_of_an_unchanged_workbook_makes_no_billable_call(
    sandbox, tmp_path: Path
) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    engine = _engine(sandbox, tmp_path)
    first = refresh_workbook(book, engine, confirm=_yes)
    assert len(sandbox.billable_calls()) == 1  # the search; the database count is free
    assert first.new == 2 and first.rows > 0 and first.ok
    once = book.read_bytes()
    sandbox.reset()
    second = refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    assert sandbox.billable_calls() == []
    assert (second.new, second.from_cache, second.rows) == (0, 2, first.rows)
    # Same leads, same cells: only the status line's "from cache" differs.
    values = load(book, data_only=True)["Lead list"]
    assert values["A21"].value.endswith("from cache (no charge now) · TEST MODE")
    assert book.read_bytes() != once


def test_everything_outside_the_results_survives(sandbox, tmp_path: Path) -> None:
    book = write_template("market-sizing", tmp_path / "sizing.xlsx")
    lead_list = write_template("lead-list", tmp_path / "leads.xlsx")
    engine = _engine(sandbox, tmp_path)
    for path in (book, lead_list):
        before_zip = zip_members(path)
        before_formulas = {(c.sheet, c.coordinate) for c in WorkbookReader(path).formula_cells()}
        refresh_workbook(path, engine, confirm=_yes)
        areas = _spill_areas(path)
        # Formula cells keep their formulas (array formulas become plain ones: compare text).
        after_wb = load(path)
        for sheet, coordinate in before_formulas:
            value = after_wb[sheet][coordinate].value
            assert isinstance(value, str) and value.startswith("=GENERECT_"), (sheet, coordinate)
        before = snapshot_from_bytes(before_zip, tmp_path, areas, before_formulas)
        after = snapshot(path, outside=_with_cells(areas, before_formulas))
        assert after == before, path.name
        after_zip = zip_members(path)
        assert set(after_zip) == set(before_zip)
        changed = {name for name in before_zip if before_zip[name] != after_zip[name]}
        assert changed <= {"xl/workbook.xml"} | {
            n for n in before_zip if n.startswith("xl/worksheets/sheet")
        }
        for name in before_zip:
            if name.startswith(("xl/charts/", "xl/drawings/", "xl/styles", "docProps/")):
                assert after_zip[name] == before_zip[name], name


def _with_cells(areas, cells):
    merged = {sheet: list(bounds) for sheet, bounds in areas.items()}
    for sheet, coordinate in cells:
        letters, row = coordinate_from_string(coordinate)
        col = column_index_from_string(letters)
        merged.setdefault(sheet, []).append((col, row, col, row))
    return merged


def snapshot_from_bytes(members: dict[str, bytes], tmp_path: Path, areas, cells) -> dict:
    copy = tmp_path / "before-copy.xlsx"
    with zipfile.ZipFile(copy, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return snapshot(copy, outside=_with_cells(areas, cells))


def test_dry_run_sends_nothing_billable_and_writes_nothing(sandbox, tmp_path: Path) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    original = book.read_bytes()
    summary = refresh_workbook(book, _engine(sandbox, tmp_path, key="live_key"), dry_run=True)
    assert sandbox.billable_calls() == []
    assert book.read_bytes() == original
    text = "\n".join(summary.lines())
    assert "'Lead list'!A21" in text and "new, up to $0.50" in text
    # The free database count sharpened the estimate: fewer matches than the limit.
    assert "likely $" in text
    assert summary.quote.worst_case == Decimal("0.50")
    assert "Dry run: nothing was sent" in text


def test_a_costly_refresh_needs_confirmation(sandbox, tmp_path: Path) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    original = book.read_bytes()
    engine = _engine(sandbox, tmp_path, key="live_key", confirm_above=Decimal("0.10"))
    with pytest.raises(BudgetError, match="not confirmed"):
        refresh_workbook(book, engine)
    with pytest.raises(BudgetError, match="not confirmed"):
        refresh_workbook(book, engine, confirm=lambda quote: False)
    with pytest.raises(BudgetError, match="over --max-spend"):
        refresh_workbook(book, engine, confirm=_yes, max_spend=Decimal("0.25"))
    assert sandbox.billable_calls() == []
    assert book.read_bytes() == original
    summary = refresh_workbook(book, engine, confirm=_yes, max_spend=Decimal("1"))
    assert len(sandbox.billable_calls()) == 1
    assert summary.amount_charged > 0 and not summary.test_mode


def test_formula_problems_are_reported_per_formula(sandbox, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet"
    good = _criteria(ws)
    ws["A4"], ws["B4"] = "Shoe size", "42"
    ws["D1"] = f"=GENERECT_COUNT({good})"
    ws["D2"] = "=GENERECT_COUNT(A4:B4)"  # unknown criterion: the cell shows the error
    ws["D3"] = f"=GENERECT_COUNT({good},TODAY())"  # an expression: skipped, left as is
    ws["D4"] = "=IFERROR(GENERECT_COUNT(A1:B1),0)"  # nested: fetched, cell not written
    ws["D5"] = '=GENERECT_SPEND("fortnight")'
    ws["D6"] = '=GENERECT_VALUES("Seniority")'
    ws["D20"] = "=GENERECT_SPEND()"
    book = save(wb, tmp_path / "problems.xlsx")
    summary = refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    values = load(book, data_only=True)["Sheet"]
    assert isinstance(values["D1"].value, int) and values["D1"].value > 0
    assert values["D2"].value.startswith("#GENERECT! ")
    assert "Shoe size" in values["D2"].value
    assert values["D3"].value is None  # untouched: openpyxl saved no value
    assert values["D4"].value is None
    assert values["D5"].value.startswith("#GENERECT! Period")
    assert [values[f"D{r}"].value for r in range(6, 9)] == ["owner", "founder", "c_suite"]
    assert values["D20"].value == 0
    assert len(summary.errors) == 2 and len(summary.skipped) == 1
    assert "TODAY()" in summary.skipped[0]
    assert len(summary.not_written) == 1 and "Sheet!D4" in summary.not_written[0]
    assert not summary.ok
    counts = [e for e in sandbox.log_entries() if e["path"].endswith("/count/")]
    assert len(counts) == 2  # D1 and the nested D4 (other criteria): both fetched


def test_identical_queries_coalesce_and_origins_reach_the_ledger(sandbox, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "One"
    criteria = _criteria(ws)
    for col in "DEFGH":
        ws[f"{col}1"] = f'=GENERECT_SEARCH({criteria},3,0,"full_name")'
        ws[f"{col}20"] = f'=GENERECT_SEARCH(One!{criteria},3,0,"full_name")'
    two = wb.create_sheet("Two Words")
    two["A1"] = f"=GENERECT_SEARCH(One!{criteria},2)"
    two["A10"] = "=GENERECT_SEARCH(Crit,2)"
    wb.defined_names["Crit"] = DefinedName("Crit", attr_text="One!$A$1:$B$2")
    book = save(wb, tmp_path / "many.xlsx")
    engine = _engine(sandbox, tmp_path, key="live_key", confirm_above=Decimal(100))
    progress: list[tuple[int, int]] = []
    summary = refresh_workbook(book, engine, progress=lambda d, t: progress.append((d, t)))
    assert len(sandbox.billable_calls()) == 2  # one per distinct request (limit 3, limit 2)
    assert progress[-1] == (12, 12) and len(progress) == 12
    # One column each (status, header, 3 names): side by side, no collision.
    assert summary.spill_errors == [] and summary.new == 2 and summary.from_cache == 10
    charges = engine.charges()
    assert {(c.origin.workbook, c.origin.sheet) for c in charges} <= {
        ("many.xlsx", "One"),
        ("many.xlsx", "Two Words"),
    }
    assert all(c.origin.cell for c in charges)


def test_one_request_with_several_new_refresh_values_is_priced_for_each(
    sandbox, tmp_path: Path
) -> None:
    # Each new refresh value fetches afresh: the quote, --max-spend and the confirmation must
    # count every one of them, not "the same request, paid once".
    wb = Workbook()
    ws = wb.active
    criteria = _criteria(ws)
    for col, token in zip("DEF", "abc", strict=True):
        ws[f"{col}1"] = f'=GENERECT_COUNT({criteria},"realtime","{token}")'
    ws["G1"] = f'=GENERECT_COUNT({criteria},"realtime","a")'  # the same value: paid once
    book = save(wb, tmp_path / "tokens.xlsx")
    engine = _engine(sandbox, tmp_path, key="live_key")
    quote = quote_plan(plan_refresh(book), engine)
    assert quote.worst_case == Decimal("0.12") and quote.distinct == 3
    with pytest.raises(BudgetError, match=r"up to \$0\.12, over --max-spend \$0\.05"):
        refresh_workbook(book, engine, confirm=_yes, max_spend=Decimal("0.05"))
    assert sandbox.billable_calls() == []
    summary = refresh_workbook(book, engine, confirm=_yes, max_spend=Decimal("0.12"))
    assert summary.amount_charged <= quote.worst_case
    assert len(sandbox.billable_calls()) <= 3


def test_a_call_whose_answer_was_lost_is_quoted_as_such_and_not_sent(
    sandbox, tmp_path: Path
) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet"
    criteria = _criteria(ws)
    ws["D1"] = f'=GENERECT_COUNT({criteria},"realtime")'
    ws["D2"] = f'=GENERECT_COUNT({criteria},"realtime","again")'
    book = save(wb, tmp_path / "lost.xlsx")
    engine = _engine(sandbox, tmp_path, key="live_key")
    sandbox.queue_faults(["drop", "drop"], path=C.PATH_REALTIME_COUNT)
    first = refresh_workbook(book, engine, confirm=_yes)
    assert len(first.errors) == 2 and sandbox.billable_calls() == []
    sent = len(sandbox.log_entries())
    # The dry run: both doubts quoted as such, at $0 (the run would send nothing for them).
    quote = quote_plan(plan_refresh(book), engine)
    assert [line.split()[-6:] for line in quote.lines] == [
        ["unknown", "outcome:", "change", "refresh", "to", "retry"]
    ] * 2
    assert (quote.new, quote.cached, quote.worst_case) == (0, 0, Decimal(0))
    dry = refresh_workbook(book, engine, dry_run=True)
    assert "unknown outcome: change refresh to retry" in "\n".join(dry.lines())
    # The run agrees: the errors again, nothing sent.
    again = refresh_workbook(book, engine, confirm=_yes)
    assert len(again.errors) == 2 and len(sandbox.log_entries()) == sent
    assert load(book, data_only=True)["Sheet"]["D1"].value.startswith("#GENERECT! Answer lost")


def test_refresh_value_change_fetches_once(sandbox, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    criteria = _criteria(ws)
    ws["C1"] = 1
    ws["D1"] = f"=GENERECT_SEARCH({criteria},2,0,,,C1)"
    book = save(wb, tmp_path / "r.xlsx")
    refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    assert len(sandbox.billable_calls()) == 1
    wb = load(book)
    wb.active["C1"] = 2
    save(wb, book)
    plan = plan_refresh(book)
    quote = quote_plan(plan, _engine(sandbox, tmp_path))
    assert (quote.new, quote.cached) == (1, 0)
    refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    assert len(sandbox.billable_calls()) == 2


def test_a_smaller_result_clears_its_leftover_rows(sandbox, tmp_path: Path) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    ws = load(book, data_only=True)["Lead list"]
    rows_before = ws.max_row
    assert rows_before > 25
    wb = load(book)
    wb["Lead list"]["B15"] = 3
    save(wb, book)
    summary = refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    assert summary.rows == 3
    ws = load(book, data_only=True)["Lead list"]
    assert ws["A25"].value is not None  # status, header, 3 rows: A21..A25
    assert all(
        ws.cell(row=r, column=c).value is None
        for r in range(26, rows_before + 1)
        for c in range(1, 12)
    )
    assert _spill_areas(book)["Lead list"] == [(1, 21, 11, 25)]


def test_no_key_and_new_queries_refuses_before_writing(sandbox, tmp_path: Path) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    original = book.read_bytes()
    settings = sandbox_settings(sandbox, tmp_path / "home", key="")
    assert settings.key is None
    with pytest.raises(SettingsError, match="No Generect API key"):
        refresh_workbook(book, Engine(settings), confirm=_yes)
    assert book.read_bytes() == original
    assert sandbox.log_entries() == []


def test_output_elsewhere_leaves_the_source_alone(sandbox, tmp_path: Path) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    original = book.read_bytes()
    out = tmp_path / "sub" / "filled.xlsx"
    out.parent.mkdir()
    summary = refresh_workbook(book, _engine(sandbox, tmp_path), output=out, confirm=_yes)
    assert book.read_bytes() == original
    assert summary.output == out
    assert load(out, data_only=True)["Lead list"]["A22"].value == "full_name"


# Formulas whose arguments the functions refuse, with the line each cell must show. The criteria
# are A1:B2; F1:G2 holds four numbers, H1:H2 two field names.
REFUSED_FORMULAS = {
    "D1": ('=GENERECT_SEARCH(A1:B2, "")', "Limit: empty text is not a number."),
    "D2": ("=GENERECT_SEARCH(A1:B2, F1:G2)", "limit: expected one cell or value, got a range"),
    "D3": ("=GENERECT_SEARCH(A1:B2, {10,20;30,40})", "limit: expected one cell or value"),
    "D4": ("=GENERECT_SEARCH(A1:B2, 2.5)", "Limit: 2.5 is not a whole number."),
    "D5": ('=GENERECT_SEARCH(A1:B2, "ten")', "Limit: 'ten' is not a whole number."),
    "D6": ("=GENERECT_SEARCH(A1:B2, 0)", "Limit: 0 is out of range; use 1 to 2400"),
    "D7": ("=GENERECT_SEARCH(A1:B2, 5, -1)", "Offset: -1 is out of range; use 0 to 2399"),
    "D8": ('=GENERECT_SEARCH(A1:B2, 5, "")', "Offset: empty text is not a number."),
    "D9": (
        '=GENERECT_SEARCH(A1:B2, 5, 0, "nonexistent_field")',
        "Unknown field 'nonexistent_field'. Unlisted field? Use raw:nonexistent_field.",
    ),
    "D10": (
        "=GENERECT_SEARCH(A1:B2, 5, 0, H1:H2)",
        "Unknown field 'compny_name'. Did you mean company_name or company.name?",
    ),
    "D11": (
        '=GENERECT_SEARCH(A1:B2, 5, 0, "raw:")',
        "Unknown field 'raw:'. Write raw: followed by",
    ),
    "D12": ('=GENERECT_SEARCH(A1:B2, 5, 0, , "sometimes")', "Mode 'sometimes' is not valid"),
    "D13": ('=GENERECT_COUNT(A1:B2, "fast")', "Mode 'fast' is not valid"),
    "D14": ('=GENERECT_COUNT(A1:B2, "realtime", F1:G2)', "refresh: expected one cell or value"),
    "D15": ('=GENERECT_SPEND("week")', "Period 'week' is not valid"),
    "D16": ('=GENERECT_VALUES("job_titles")', 'No value list for "job_titles"'),
}


def _refused_book(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Refused"
    _criteria(ws)
    ws["F1"], ws["G1"], ws["F2"], ws["G2"] = 10, 20, 30, 40
    ws["H1"], ws["H2"] = "full_name", "compny_name"
    for coordinate, (formula, _) in REFUSED_FORMULAS.items():
        ws[coordinate] = formula
    return save(wb, path)


def test_every_refused_argument_is_refused_in_the_plan_for_free(sandbox, tmp_path: Path) -> None:
    book = _refused_book(tmp_path / "refused.xlsx")
    engine = _engine(sandbox, tmp_path, key="live_refused")  # a live key: nothing may be sent
    dry = refresh_workbook(book, engine, dry_run=True)
    # The dry run gives each refusal whole (no cell prefix): it is where a cell points to.
    not_run = [line for line in dry.lines() if " not run: " in line]
    assert len(not_run) == len(REFUSED_FORMULAS)
    for line in not_run:
        coordinate = line.split("!")[1].split()[0]
        assert REFUSED_FORMULAS[coordinate][1].split(":")[0] in line, line
    summary = refresh_workbook(book, engine, confirm=_yes)
    assert sandbox.log_entries() == []  # no call at all: billable, free or account
    assert len(summary.errors) == len(REFUSED_FORMULAS) and summary.new == 0
    shown = load(book, data_only=True)["Refused"]
    for coordinate, (_, message) in REFUSED_FORMULAS.items():
        value = shown[coordinate].value
        assert value.startswith(f"{C.CELL_ERROR_PREFIX} {message}"), (coordinate, value)
    assert engine.charges() == []


def test_a_raw_field_is_fetched_and_written(sandbox, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    _criteria(ws)
    ws["D1"] = '=GENERECT_SEARCH(A1:B2, 3, 0, "full_name, raw:company_type, certifications")'
    book = save(wb, tmp_path / "raw.xlsx")
    summary = refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    assert summary.ok and summary.rows == 3 and len(sandbox.billable_calls()) == 1
    rows = list(
        load(book, data_only=True)["Leads"].iter_rows(
            min_row=2, max_row=5, min_col=4, values_only=True
        )
    )
    assert list(rows[0][:3]) == ["full_name", "raw:company_type", "certifications"]
    assert all(row[0] and row[1] for row in rows[1:])  # the sandbox's database rows carry it
    assert all(row[2] is None for row in rows[1:])  # catalogued, absent: an empty cell


def test_an_output_that_cannot_be_written_is_refused_before_buying(sandbox, tmp_path: Path) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    before = book.read_bytes()
    engine = _engine(sandbox, tmp_path, key="live_output")
    for output in (tmp_path / "no-such-folder" / "out.xlsx", tmp_path):
        with pytest.raises(WorkbookError, match=r"Cannot write |is a folder"):
            refresh_workbook(book, engine, output=output, confirm=_yes)
    assert sandbox.log_entries() == [] and engine.charges() == []
    assert book.read_bytes() == before


def test_spend_views_are_refreshed_from_the_team_store(
    sandbox, tmp_path: Path, postgres_url: str
) -> None:
    wb = Workbook()
    ws = wb.active
    area = _criteria(ws)
    ws["D1"] = f"=GENERECT_SEARCH({area}, 3)"
    ws["Q1"] = '=GENERECT_SPEND("today", "analysts")'
    ws["Q10"] = '=GENERECT_SPEND("today", "team")'
    ws["Q11"] = '=GENERECT_SPEND("today")'
    book = save(wb, tmp_path / "team.xlsx")
    ben, ana = (
        _engine(sandbox, tmp_path / who, "live_team", store_url=postgres_url, analyst=who)
        for who in ("ben", "ana")
    )
    ben.search(criteria_from_kwargs("database", job_titles=["CTO"], limit_by=2))  # his laptop
    report = refresh_workbook(book, ana, confirm=_yes)
    assert report.ok, report
    charges = [Decimal(str(c["amount_charged"])) for c in sandbox.billable_calls()]
    assert len(charges) == 2 and all(charges)
    values = load(book, data_only=True).active
    assert [[values[f"{c}{r}"].value for c in "QR"] for r in (1, 2, 3, 4)] == [
        ["analyst", "charged (USD)"],
        ["ana", pytest.approx(float(charges[1]))],
        ["ben", pytest.approx(float(charges[0]))],
        [None, None],
    ]
    assert values["Q10"].value == pytest.approx(float(sum(charges)))
    assert values["Q11"].value == pytest.approx(float(charges[1]))  # "me": Ana, who refreshed


def test_spend_views_on_the_sqlite_store_say_they_need_the_team_store(
    sandbox, tmp_path: Path
) -> None:
    wb = Workbook()
    wb.active["A1"] = '=GENERECT_SPEND("month", "team")'
    wb.active["A2"] = '=GENERECT_SPEND("month", "me")'
    book = save(wb, tmp_path / "alone.xlsx")
    refresh_workbook(book, _engine(sandbox, tmp_path), confirm=_yes)
    values = load(book, data_only=True).active
    assert values["A1"].value.startswith(C.CELL_ERROR_PREFIX)
    assert "team store" in values["A1"].value
    assert values["A2"].value == 0


@pytest.mark.parametrize("spill", ["static", "dynamic"])
def test_the_analysts_view_of_a_period_without_charges_spills_its_header(
    sandbox, tmp_path: Path, postgres_url: str, spill: str
) -> None:
    wb = Workbook()
    wb.active["Q1"] = '=GENERECT_SPEND("today", "analysts")'
    book = save(wb, tmp_path / "quiet-day.xlsx")
    engine = _engine(sandbox, tmp_path / "ana", "live_team", store_url=postgres_url, analyst="ana")
    assert refresh_workbook(book, engine, confirm=_yes, spill=spill).ok
    values = load(book, data_only=True).active
    assert [values["Q1"].value, values["R1"].value] == ["analyst", "charged (USD)"]
    if spill == "dynamic":  # one formula spilling over both cells, as any other table
        anchor = load(book).active["Q1"].value
        assert anchor.ref == "Q1:R1" and anchor.text.startswith("=GENERECT_SPEND(")
