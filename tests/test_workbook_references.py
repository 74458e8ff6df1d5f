"""Reading arguments from a real .xlsx: ranges, names (both scopes), saved values, literals."""

from __future__ import annotations

import re
import warnings
import zipfile
from datetime import datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from generect_excel.errors import WorkbookError
from generect_excel.formulas.parse import parse_formula
from generect_excel.formulas.references import WorkbookReader
from workbook_support import save


@pytest.fixture
def reader(tmp_path: Path) -> WorkbookReader:
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws["A1"], ws["B1"] = "Job titles", "CEO; CTO"
    ws["A2"], ws["B2"] = "Location", "Berlin"
    ws["D1"] = 25
    ws["D2"] = "=D1*2"  # no saved value: openpyxl writes none
    ws["D3"] = datetime(2026, 1, 2)
    ws["F1"] = "=GENERECT_COUNT(A1:B2)"
    ws["F2"] = ArrayFormula("F2", "=GENERECT_SEARCH(A1:B2)")
    other = wb.create_sheet("My 'Other' Sheet")
    other["A1"], other["B1"] = "Seniority", "VP"
    wb.defined_names["Crit"] = DefinedName("Crit", attr_text="Leads!$A$1:$B$2")
    wb.defined_names["Size"] = DefinedName("Size", attr_text="10")
    wb.defined_names["Loop"] = DefinedName("Loop", attr_text="Loop")
    wb.defined_names["Moving"] = DefinedName("Moving", attr_text="OFFSET(Leads!A1,0,0,2,2)")
    other.defined_names["Crit"] = DefinedName("Crit", attr_text="'My ''Other'' Sheet'!$A$1:$B$1")
    return WorkbookReader(save(wb, tmp_path / "refs.xlsx"))


def _arg(text: str):
    return parse_formula(f"=GENERECT_COUNT({text})").whole.args[0]


@pytest.mark.parametrize(
    ("argument", "sheet", "expected"),
    [
        ("A1:B2", "Leads", [["Job titles", "CEO; CTO"], ["Location", "Berlin"]]),
        ("$D$1", "Leads", [[25]]),
        ("leads!D3", "My 'Other' Sheet", [[datetime(2026, 1, 2)]]),  # sheet names: any case
        ("'My ''Other'' Sheet'!A1:B1", "Leads", [["Seniority", "VP"]]),
        # Whole columns stop at the sheet's used area (row 3 here).
        ("A:B", "Leads", [["Job titles", "CEO; CTO"], ["Location", "Berlin"], [None, None]]),
        ("Crit", "Leads", [["Job titles", "CEO; CTO"], ["Location", "Berlin"]]),
        ("Crit", "My 'Other' Sheet", [["Seniority", "VP"]]),  # the sheet's own name wins
        ("Leads!Crit", "My 'Other' Sheet", [["Job titles", "CEO; CTO"], ["Location", "Berlin"]]),
        ("Size", "Leads", 10.0),
        ('{"Job titles","CEO"}', "Leads", [["Job titles", "CEO"]]),
        ('"text"', "Leads", "text"),
        ("E1:E2", "Leads", [[None], [None]]),
    ],
)
def test_resolve(reader: WorkbookReader, argument: str, sheet: str, expected) -> None:
    assert reader.resolve(_arg(argument), sheet) == expected


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("D2", "holds a formula with no saved value"),
        ("Nowhere", "No defined name"),
        ("Loop", "refers to itself"),
        ("Moving", "Point the name Moving at a range or a value"),
        ("Missing!A1", "No sheet named 'Missing'"),
        (
            "TODAY()",
            r"Cannot read TODAY\(\) from the workbook \(an expression or a function call\)",
        ),
    ],
)
def test_unreadable_arguments(reader: WorkbookReader, argument: str, message: str) -> None:
    with pytest.raises(WorkbookError) as info:
        reader.resolve(_arg(argument), "Leads")
    # The whole message (the CLI's); a cell's short form may leave the parenthesis out.
    assert re.search(message, info.value.full_message)


def test_formula_cells_found_plain_and_array(reader: WorkbookReader) -> None:
    found = [(c.sheet, c.coordinate, c.text, c.array_ref) for c in reader.formula_cells()]
    assert found == [
        ("Leads", "F1", "=GENERECT_COUNT(A1:B2)", None),
        ("Leads", "F2", "=GENERECT_SEARCH(A1:B2)", "F2"),
    ]


def test_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip")
    with pytest.raises(WorkbookError) as info:
        WorkbookReader(bad)
    message = str(info.value)
    # Plain words (issue 11): no Python exception name, and no "save it as" for a text file.
    assert message == "bad.xlsx is not an Excel workbook: give the path of an .xlsx or .xlsm file."
    assert "BadZipFile" in info.value.details  # the technical form stays for -v


# -- reading once, as openpyxl reads (issue 16: the streaming index) ----------------------------

TEMPLATES = Path(__file__).resolve().parent.parent / "workbook_templates"


def _rewrite_sheet(path: Path, replace: dict[str, str], part: str = "xl/worksheets/sheet1.xml"):
    """Edit one sheet's XML text in place (what openpyxl cannot write: shared formulas,
    error and ``t="str"`` cells)."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    text = members[part].decode()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    members[part] = text.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)
    return path


def _openpyxl_values(path: Path) -> dict[str, list[list[object]]]:
    """Every sheet's used area as openpyxl's full load reads it (the former reader)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = load_workbook(path, data_only=True)
    return {
        ws.title: [[cell.value for cell in row] for row in ws.iter_rows()] for ws in wb.worksheets
    }


def _kinds_book(tmp_path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Kinds"
    ws["A1"], ws["B1"] = "Founded after", datetime(2020, 5, 17)  # a date by number format
    ws["A2"], ws["B2"] = "At", time(9, 30)
    ws["A3"], ws["B3"] = "Flag", True
    ws["A4"], ws["B4"] = "Size", 2.5
    ws["A5"] = "ERR"
    ws["A6"] = "TEXT"
    ws["A7"], ws["B7"] = "  padded  ", ""  # inline strings, kept as they are
    ws["D1"] = "Merged"
    ws.merge_cells("D1:E2")
    ws["G9"].number_format = "0.00"  # a styled empty cell: part of the used area
    path = save(wb, tmp_path / "kinds.xlsx")
    return _rewrite_sheet(
        path,
        {
            '<c r="A5" t="inlineStr"><is><t>ERR</t></is></c>': '<c r="A5" t="e"><v>#N/A</v></c>',
            # A text that looks like a formula (a spilled lead's text): a value, not a formula.
            '<c r="A6" t="inlineStr"><is><t>TEXT</t></is></c>': (
                '<c r="A6" t="str"><v>=GENERECT_COUNT(A1:B2)</v></c>'
            ),
        },
    )


def test_values_are_what_openpyxl_reads(tmp_path: Path) -> None:
    """Dates and times by number format, booleans, errors, merged ranges, styled empty cells,
    in a built workbook and in every shipped template: each sheet's whole used area reads as
    openpyxl's full load reads it (the reader before issue 16 was that load)."""
    books = [_kinds_book(tmp_path), *sorted(TEMPLATES.glob("*.xlsx"))]
    for book in books:
        reader = WorkbookReader(book)
        expected = _openpyxl_values(book)
        assert reader.sheet_names == list(expected)
        for title, rows in expected.items():
            width = max((len(row) for row in rows), default=1)
            got = reader.block(title.upper(), (1, 1, width, len(rows)))
            assert got == rows, (book.name, title)
            # Whole columns stop at the same used area.
            assert reader.block(title, (1, 1, 16384, 1048576)) == rows, (book.name, title)


def test_kinds_of_values(tmp_path: Path) -> None:
    reader = WorkbookReader(_kinds_book(tmp_path))
    assert reader.resolve(_arg("A1:B7"), "Kinds") == [
        ["Founded after", datetime(2020, 5, 17)],
        ["At", time(9, 30)],
        ["Flag", True],
        ["Size", 2.5],
        ["#N/A", None],
        ["=GENERECT_COUNT(A1:B2)", None],
        ["  padded  ", None],
    ]
    assert reader.resolve(_arg("D1:E2"), "Kinds") == [["Merged", None], [None, None]]
    assert list(reader.formula_cells()) == []  # A6 holds text, not a formula
    assert reader.resolve(_arg("G:G"), "Kinds") == [[None]] * 9  # used area: row 9


def test_a_formula_filled_down_is_read_at_each_cell(tmp_path: Path) -> None:
    """Excel stores a formula filled down as one shared formula: each cell gets it
    translated to its own row, and the saved values stay each cell's own."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    for row, title in enumerate(["CEO", "CTO", "CFO"], start=1):
        ws.cell(row, 1, "Job titles")
        ws.cell(row, 2, title)
        ws.cell(row, 3, "X")
    path = _rewrite_sheet(
        save(wb, tmp_path / "shared.xlsx"),
        {
            '<c r="C1" t="inlineStr"><is><t>X</t></is></c>': (
                '<c r="C1"><f t="shared" ref="C1:C3" si="0">GENERECT_COUNT(A1:B1)</f><v>11</v></c>'
            ),
            '<c r="C2" t="inlineStr"><is><t>X</t></is></c>': (
                '<c r="C2"><f t="shared" si="0"/><v>12</v></c>'
            ),
            '<c r="C3" t="inlineStr"><is><t>X</t></is></c>': (
                '<c r="C3"><f t="shared" si="0"/><v>13</v></c>'
            ),
        },
    )
    reader = WorkbookReader(path)
    found = [(c.coordinate, c.text, c.saved) for c in reader.formula_cells()]
    assert found == [
        ("C1", "=GENERECT_COUNT(A1:B1)", 11),
        ("C2", "=GENERECT_COUNT(A2:B2)", 12),
        ("C3", "=GENERECT_COUNT(A3:B3)", 13),
    ]
    call = parse_formula(found[2][1]).whole
    assert reader.resolve(call.args[0], "Leads") == [["Job titles", "CFO"]]


def test_names_in_both_scopes_and_names_of_names(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws["A1"], ws["B1"] = "Seniority", "VP"
    ws["A2"], ws["B2"] = "Location", "Berlin"
    other = wb.create_sheet("Other")
    wb.defined_names["CRIT"] = DefinedName("CRIT", attr_text="Leads!$A$1:$B$2")
    wb.defined_names["Alias"] = DefinedName("Alias", attr_text="crit")  # any case
    other.defined_names["Local"] = DefinedName("Local", attr_text="Leads!$A$2:$B$2")
    reader = WorkbookReader(save(wb, tmp_path / "names.xlsx"))
    everything = [["Seniority", "VP"], ["Location", "Berlin"]]
    assert reader.resolve(_arg("Alias"), "Other") == everything
    assert reader.resolve(_arg("local"), "Other") == [["Location", "Berlin"]]
    assert reader.resolve(_arg("Other!Local"), "Leads") == [["Location", "Berlin"]]
    assert reader.origin(_arg("Alias"), "Leads") == (1, 1)
    with pytest.raises(WorkbookError, match="No defined name Local"):
        reader.resolve(_arg("Local"), "Leads")  # another sheet's name is not in scope
