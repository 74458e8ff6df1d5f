"""Reading arguments from a real .xlsx: ranges, names (both scopes), saved values, literals."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from generect_excel.errors import WorkbookError
from generect_excel.workbook.formulas import parse_formula
from generect_excel.workbook.references import WorkbookReader
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
