"""Writing results into the worksheet XML: spills, leftovers, #SPILL!, text that stays text."""

from __future__ import annotations

import os
import zipfile
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.table import Table

from generect_excel.errors import WorkbookError
from generect_excel.formulas.xlsxpatch import (
    MAIN_NS,
    SPILL_NAME_PREFIX,
    CellResult,
    Package,
    patch_workbook,
    write_atomically,
)
from workbook_support import load, save, zip_members

NS = {"m": MAIN_NS}


def _book(tmp_path: Path, name: str = "book.xlsx", **cells) -> Path:
    """Sheet "Data" with a plain GENERECT_SEARCH at B3 unless cells say otherwise."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["A1"], ws["B1"] = "Job titles", "CEO"
    ws["B3"] = "=GENERECT_SEARCH(A1:B1)"
    ws["C4"].font = Font(bold=True)  # a styled empty cell inside the future spill
    ws["H1"] = "keep me"
    for coordinate, value in cells.items():
        ws[coordinate] = value
    return save(wb, tmp_path / name)


def _write(path: Path, results: list[CellResult], target: Path | None = None, **kwargs):
    package = Package(path)
    parts, report = patch_workbook(package, results, **kwargs)
    write_atomically(package, parts, target or path)
    return report


def _table(rows: int, cols: int, tag: str = "v") -> list[list]:
    return [[f"{tag}{r}.{c}" for c in range(cols)] for r in range(rows)]


def _sheet_xml(path: Path, member: str = "xl/worksheets/sheet1.xml") -> etree._Element:
    return etree.fromstring(zip_members(path)[member])


def _cells(root: etree._Element) -> dict[str, etree._Element]:
    return {c.get("r"): c for c in root.iter(f"{{{MAIN_NS}}}c")}


def test_static_table_is_written_around_the_formula(tmp_path: Path) -> None:
    path = _book(tmp_path)
    report = _write(path, [CellResult("Data", "B3", _table(3, 3), spilling=True)])
    assert report.blocked == []
    wb = load(path)
    ws = wb["Data"]
    assert ws["B3"].value == "=GENERECT_SEARCH(A1:B1)"  # the formula stays
    assert [[c.value for c in row] for row in ws["C4:D5"]] == [["v1.1", "v1.2"], ["v2.1", "v2.2"]]
    assert ws["C4"].font.b  # the style of a cell the table covers is kept
    assert ws["H1"].value == "keep me"
    values = load(path, data_only=True)["Data"]
    assert values["B3"].value == "v0.0"  # the formula's cached value is the first cell
    # The extent is recorded for the next refresh, hidden and scoped to the sheet.
    names = ws.defined_names
    assert [(n, d.attr_text, d.hidden) for n, d in names.items()] == [
        (f"{SPILL_NAME_PREFIX}1", "Data!$B$3:$D$5", True)
    ]
    root = _sheet_xml(path)
    assert root.find("m:dimension", NS).get("ref") == "A1:H5"
    for row in root.iter(f"{{{MAIN_NS}}}row"):
        refs = [c.get("r") for c in row]
        assert refs == sorted(refs, key=lambda r: (len(r.rstrip("0123456789")), r))
    rows = [int(r.get("r")) for r in root.iter(f"{{{MAIN_NS}}}row")]
    assert rows == sorted(rows)


def test_a_smaller_result_clears_only_its_own_leftovers(tmp_path: Path) -> None:
    path = _book(tmp_path)
    _write(path, [CellResult("Data", "B3", _table(4, 4), spilling=True)])
    _write(path, [CellResult("Data", "B3", _table(2, 2, "w"), spilling=True)])
    ws = load(path)["Data"]
    grid = [[c.value for c in row] for row in ws["B3:E6"]]
    assert grid == [
        ["=GENERECT_SEARCH(A1:B1)", "w0.1", None, None],
        ["w1.0", "w1.1", None, None],
        [None, None, None, None],
        [None, None, None, None],
    ]
    assert ws["C4"].font.b
    assert ws["H1"].value == "keep me"
    assert ws.defined_names[f"{SPILL_NAME_PREFIX}1"].attr_text == "Data!$B$3:$C$4"


def test_blocked_table_shows_spill_and_leaves_the_blocker(tmp_path: Path) -> None:
    path = _book(tmp_path)
    _write(path, [CellResult("Data", "B3", _table(2, 2), spilling=True)])
    wb = load(path)
    wb["Data"]["D6"] = "typed by the analyst"
    save(wb, path)
    report = _write(path, [CellResult("Data", "B3", _table(5, 3, "n"), spilling=True)])
    assert [(b.coordinate, b.wanted, b.blocker) for b in report.blocked] == [
        ("B3", "B3:D7", "D6 is not empty")
    ]
    root = _sheet_xml(path)
    anchor = _cells(root)["B3"]
    assert anchor.get("t") == "e" and anchor.find("m:v", NS).text == "#SPILL!"
    assert anchor.find("m:f", NS).text == "GENERECT_SEARCH(A1:B1)"
    ws = load(path)["Data"]
    assert ws["D6"].value == "typed by the analyst"
    # As in Excel, a blocked formula spills nothing: its old table is gone.
    assert [ws[c].value for c in ("C3", "B4", "C4")] == [None, None, None]
    assert f"{SPILL_NAME_PREFIX}1" not in ws.defined_names


@pytest.mark.parametrize("blocker", ["merged", "table", "formula", "edge"])
def test_other_blockers(tmp_path: Path, blocker: str) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["A1"] = '=GENERECT_VALUES("seniorities")'
    if blocker == "merged":
        ws.merge_cells("A5:B6")
    elif blocker == "table":
        ws["A4"], ws["A5"] = "Head", "x"
        ws.add_table(Table(displayName="T1", ref="A4:A5"))
    elif blocker == "formula":
        ws["A3"] = "=1+1"
    else:
        ws["A1"] = None
        ws["A1048575"] = '=GENERECT_VALUES("seniorities")'
    path = save(wb, tmp_path / "b.xlsx")
    anchor = "A1048575" if blocker == "edge" else "A1"
    report = _write(path, [CellResult("Data", anchor, [[v] for v in "abcdefg"], spilling=True)])
    assert len(report.blocked) == 1, blocker
    assert load(path, data_only=True)["Data"][anchor].value == "#SPILL!"


def test_lead_text_never_becomes_a_formula(tmp_path: Path) -> None:
    hostile = ["=1+2", '=HYPERLINK("http://x","y")', "+Sales Lead", "-VP Growth-", "@Head"]
    path = _book(tmp_path)
    _write(path, [CellResult("Data", "B3", [["status"], *[[h] for h in hostile]], spilling=True)])
    cells = _cells(_sheet_xml(path))
    for offset, text in enumerate(hostile, start=4):
        cell = cells[f"B{offset}"]
        assert cell.get("t") == "str"
        assert cell.find("m:f", NS) is None
        assert cell.find("m:v", NS).text == text
    ws = load(path)["Data"]
    for offset, text in enumerate(hostile, start=4):
        assert ws[f"B{offset}"].value == text
        assert ws[f"B{offset}"].data_type == "s"


def test_value_types(tmp_path: Path) -> None:
    path = _book(tmp_path)
    row = ["text", 7, 2.5, True, False, None, date(2026, 1, 2), "line\r\nbreak\ttab"]
    _write(path, [CellResult("Data", "B3", [["status"], row], spilling=True)])
    cells = _cells(_sheet_xml(path))
    assert [cells[c].get("t") for c in ("B4", "C4", "D4", "E4", "F4", "H4", "I4")] == [
        "str",
        None,
        None,
        "b",
        "b",
        "str",
        "str",
    ]
    assert "G4" not in cells  # None: no cell at all
    ws = load(path)["Data"]
    assert [c.value for c in ws["B4:I4"][0]] == [
        "text",
        7,
        2.5,
        True,
        False,
        None,
        "2026-01-02",
        "line\r\nbreak\ttab",
    ]


def test_single_value_keeps_a_plain_formula(tmp_path: Path) -> None:
    path = _book(tmp_path, D10="=GENERECT_COUNT(A1:B1)")
    _write(path, [CellResult("Data", "D10", [[1240]])])
    cell = _cells(_sheet_xml(path))["D10"]
    assert cell.find("m:f", NS).text == "GENERECT_COUNT(A1:B1)"
    assert cell.find("m:f", NS).get("t") is None
    assert cell.find("m:v", NS).text == "1240" and cell.get("t") is None
    assert not load(path)["Data"].defined_names  # one cell: nothing to record


def test_untouched_parts_are_byte_identical_and_full_calc_goes(tmp_path: Path) -> None:
    path = _book(tmp_path)
    wb = load(path)
    wb.create_sheet("Other")["A1"] = "other sheet"
    save(wb, path)
    before = zip_members(path)
    assert b'fullCalcOnLoad="1"' in before["xl/workbook.xml"]
    _write(path, [CellResult("Data", "B3", _table(2, 2), spilling=True)])
    after = zip_members(path)
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == {"xl/worksheets/sheet1.xml", "xl/workbook.xml"}
    assert set(after) == set(before)
    workbook = etree.fromstring(after["xl/workbook.xml"])
    calc = workbook.find("m:calcPr", NS)
    assert "fullCalcOnLoad" not in calc.attrib and calc.get("calcId") == "124519"


def _with_array_anchor(tmp_path: Path, extra_parts: dict[str, bytes] | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["A1"], ws["B1"] = "Job titles", "CEO"
    ws["B3"] = ArrayFormula("B3:C4", "=GENERECT_SEARCH(A1:B1)")
    ws["C3"], ws["B4"], ws["C4"] = "old", "old", "old"
    path = save(wb, tmp_path / "array.xlsx")
    if extra_parts:
        members = zip_members(path)
        members.update(extra_parts)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    return path


def test_static_turns_an_array_formula_plain_and_uses_its_old_extent(tmp_path: Path) -> None:
    chain = b'<calcChain xmlns="%s"><c r="B3" i="1" a="1"/></calcChain>' % MAIN_NS.encode()
    path = _with_array_anchor(tmp_path)
    members = zip_members(path)
    members["xl/calcChain.xml"] = chain
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.calcChain+xml"/></Types>',
    )
    members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/calcChain" Target="calcChain.xml"/></Relationships>',
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    _write(path, [CellResult("Data", "B3", [["new"]], spilling=True)])
    cells = _cells(_sheet_xml(path))
    formula = cells["B3"].find("m:f", NS)
    assert formula.get("t") is None and formula.get("ref") is None
    assert "C3" not in cells and "B4" not in cells and "C4" not in cells  # old extent cleared
    after = zip_members(path)
    assert "xl/calcChain.xml" not in after  # it flagged B3 as an array formula
    assert b"calcChain" not in after["[Content_Types].xml"]
    assert b"calcChain" not in after["xl/_rels/workbook.xml.rels"]


def test_dynamic_mode_writes_an_excel_365_spill(tmp_path: Path) -> None:
    path = _book(tmp_path)
    _write(path, [CellResult("Data", "B3", _table(3, 2), spilling=True)], spill="dynamic")
    members = zip_members(path)
    cell = _cells(etree.fromstring(members["xl/worksheets/sheet1.xml"]))["B3"]
    formula = cell.find("m:f", NS)
    assert (formula.get("t"), formula.get("ref"), cell.get("cm")) == ("array", "B3:C5", "1")
    metadata = etree.fromstring(members["xl/metadata.xml"])
    assert metadata.find("m:metadataTypes/m:metadataType", NS).get("name") == "XLDAPR"
    assert b'fDynamic="1"' in members["xl/metadata.xml"]
    assert b"/xl/metadata.xml" in members["[Content_Types].xml"]
    assert b"sheetMetadata" in members["xl/_rels/workbook.xml.rels"]
    assert not load(path)["Data"].defined_names  # the array's ref is the record
    # Shrinking uses the array's ref as the old extent.
    _write(path, [CellResult("Data", "B3", _table(1, 1), spilling=True)], spill="dynamic")
    cells = _cells(_sheet_xml(path))
    assert cells["B3"].find("m:f", NS).get("ref") == "B3"
    assert "B5" not in cells
    assert cells["C4"].find("m:v", NS) is None and cells["C4"].get("s")  # emptied, style kept


def test_dynamic_mode_reuses_existing_metadata(tmp_path: Path) -> None:
    other = (
        f'<metadata xmlns="{MAIN_NS}"><metadataTypes count="1"><metadataType name="XLRICHVALUE" '
        'minSupportedVersion="120000"/></metadataTypes><valueMetadata count="1"><bk>'
        '<rc t="1" v="0"/></bk></valueMetadata></metadata>'
    ).encode()
    path = _with_array_anchor(tmp_path)
    members = zip_members(path)
    members["xl/metadata.xml"] = other
    members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rId98" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sheetMetadata" Target="metadata.xml"/></Relationships>',
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    _write(path, [CellResult("Data", "B3", _table(2, 2), spilling=True)], spill="dynamic")
    after = zip_members(path)
    metadata = etree.fromstring(after["xl/metadata.xml"])
    names = [t.get("name") for t in metadata.find("m:metadataTypes", NS)]
    assert names == ["XLRICHVALUE", "XLDAPR"]
    rc = metadata.find("m:cellMetadata/m:bk/m:rc", NS)
    assert (rc.get("t"), rc.get("v")) == ("2", "0")
    assert _cells(etree.fromstring(after["xl/worksheets/sheet1.xml"]))["B3"].get("cm") == "1"
    assert after["xl/_rels/workbook.xml.rels"].count(b"sheetMetadata") == 1


def test_replace_refused_when_the_file_changed_meanwhile(tmp_path: Path) -> None:
    path = _book(tmp_path)
    package = Package(path)
    stat = path.stat()
    parts, _ = patch_workbook(package, [CellResult("Data", "B3", [["x"]], spilling=True)])
    changed = path.read_bytes()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(WorkbookError, match="changed while refreshing"):
        write_atomically(package, parts, path, expect_unchanged=(stat.st_size, stat.st_mtime_ns))
    assert path.read_bytes() == changed
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]  # no temporary file left


def test_a_cell_without_formula_is_refused(tmp_path: Path) -> None:
    path = _book(tmp_path)
    with pytest.raises(WorkbookError, match="has no formula"):
        patch_workbook(Package(path), [CellResult("Data", "H1", [["x"]])])
