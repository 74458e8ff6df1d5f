"""The row-by-row sheet patch (:mod:`generect_excel.formulas.xlsxpatch.rows`) writes what the
lxml tree patch writes: same cells, same ``#SPILL!`` verdicts, same leftovers, same dimension
and spans, compared as canonical XML on real workbooks; XML it does not read goes the tree way;
and a workbook of many tables is written whole."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.formula import ArrayFormula

from generect_excel.errors import WorkbookError
from generect_excel.formulas.xlsxpatch import (
    MAIN_NS,
    CellResult,
    Package,
    PatchReport,
    patch_workbook,
    write_atomically,
)
from generect_excel.formulas.xlsxpatch import rows as rows_patch
from generect_excel.formulas.xlsxpatch.patch import patch_sheet
from generect_excel.formulas.xlsxpatch.rows_write import render
from workbook_support import load, save, zip_members

SHEET = "xl/worksheets/sheet1.xml"


def _canonical(xml: bytes) -> bytes:
    """The XML's meaning: canonical form, without whitespace between elements (the tree puts
    new rows after the last row's trailing whitespace, the row patch before it)."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def _both(xml: bytes, results: list[CellResult], **options: Any) -> tuple[bytes, PatchReport]:
    """Patch ``xml`` both ways; assert they agree; return the row patch's XML and report."""
    tree_report, rows_report = PatchReport(), PatchReport()
    tree_xml, tree_extents, tree_changed = patch_sheet(
        xml,
        results,
        report=tree_report,
        old_extents=options.get("old_extents", {}),
        **{k: v for k, v in options.items() if k != "old_extents"},
    )
    patch = rows_patch.plan_sheet(
        xml,
        results,
        report=rows_report,
        old_extents=options.get("old_extents", {}),
        **{k: v for k, v in options.items() if k != "old_extents"},
    )
    chunks: list[bytes] = []
    render(xml, patch, chunks.append)
    rows_xml = b"".join(chunks)
    assert _canonical(rows_xml) == _canonical(tree_xml)
    assert patch.new_extents == tree_extents
    assert patch.kind_changed == tree_changed
    blocked = [(r.coordinate, wanted, why) for r, wanted, why in patch.blocked]
    assert blocked == [(b.coordinate, b.wanted, b.blocker) for b in tree_report.blocked]
    assert (rows_report.cells_written, rows_report.cells_cleared) == (
        tree_report.cells_written,
        tree_report.cells_cleared,
    )
    rows_report.blocked = tree_report.blocked
    return rows_xml, rows_report


def _sheet(tmp_path: Path, build: Any) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    build(ws)
    path = save(wb, tmp_path / "book.xlsx")
    return zip_members(path)[SHEET]


def _table(rows: int, cols: int, tag: str = "v") -> list[list[Any]]:
    return [[f"{tag}{r}.{c}" for c in range(cols)] for r in range(rows)]


def _cells(xml: bytes) -> dict[str, etree._Element]:
    return {c.get("r"): c for c in etree.fromstring(xml).iter(f"{{{MAIN_NS}}}c")}


def _basic(ws: Any) -> None:
    ws["A1"], ws["B1"] = "Job titles", "CEO"
    ws["B3"] = "=GENERECT_SEARCH(A1:B1)"
    ws["C4"].font = Font(bold=True)  # a styled empty cell inside the table
    ws["H1"] = "keep me"
    ws["B40"] = "far below"
    ws.row_dimensions[20].height = 30  # a row with attributes and no cells


def test_a_table_over_styled_and_missing_cells(tmp_path: Path) -> None:
    xml = _sheet(tmp_path, _basic)
    out, report = _both(xml, [CellResult("Data", "B3", _table(25, 4), spilling=True)])
    cells = _cells(out)
    assert cells["B3"].find(f"{{{MAIN_NS}}}f") is not None
    assert cells["C4"].get("s") is not None  # the style stays
    assert cells["E27"].findtext(f"{{{MAIN_NS}}}v") == "v24.3"
    assert report.cells_written == 100 and not report.blocked


def test_a_smaller_table_clears_its_leftovers_and_drops_empty_rows(tmp_path: Path) -> None:
    def build(ws: Any) -> None:
        _basic(ws)
        for r in range(3, 9):
            for c in "BCDE":
                if f"{c}{r}" != "B3":
                    ws[f"{c}{r}"] = f"old {c}{r}"
        ws["D6"] = "=1+1"  # a formula inside the old extent is someone's content

    xml = _sheet(tmp_path, build)
    old = {(2, 3): (2, 3, 5, 8)}
    out, report = _both(xml, [CellResult("Data", "B3", _table(2, 2))], old_extents=old)
    cells = _cells(out)
    assert "E8" not in cells and "C4" in cells  # plain leftovers go, the styled cell stays
    assert cells["D6"].find(f"{{{MAIN_NS}}}f") is not None
    assert report.cells_cleared == 24 - 4 - 1
    dimension = etree.fromstring(out).find(f"{{{MAIN_NS}}}dimension")
    assert dimension is not None and dimension.get("ref") == "A1:H40"


@pytest.mark.parametrize("size", [(25, 4), (30, 5), (10, 3)], ids=["same", "larger", "smaller"])
def test_writing_over_a_table_written_before(tmp_path: Path, size: tuple[int, int]) -> None:
    """The refresh after the first: the old table's plain cells are replaced range by range."""
    first, _ = _both(_sheet(tmp_path, _basic), [CellResult("Data", "B3", _table(25, 4, "old"))])
    old = {(2, 3): (2, 3, 5, 27)}
    again = [CellResult("Data", "B3", _table(*size, "new"))]
    plan = rows_patch.plan_sheet(first, again, old_extents=old, report=PatchReport())
    if size[1] >= 4:  # (a narrower table clears cells right of it: those rows go cell by cell)
        # every row but the formula's and the styled cell's is replaced whole
        assert len(plan.plain) == min(size[0], 25) - 2
    out, _ = _both(first, again, old_extents=old)
    cells = _cells(out)
    assert cells["C4"].get("s") is not None  # the styled cell keeps its style
    last_row, last_col = 2 + size[0], chr(ord("A") + size[1])
    assert cells[f"{last_col}{last_row}"].findtext(f"{{{MAIN_NS}}}v") == (
        f"new{size[0] - 1}.{size[1] - 1}"
    )
    assert "E27" not in cells or size[0] >= 25


@pytest.mark.parametrize(
    ("build", "results"),
    [
        (lambda ws: ws.__setitem__("D5", "in the way"), None),
        (lambda ws: ws.merge_cells("D5:E6"), None),
        (lambda ws: ws.__setitem__("C3", "=GENERECT_SEARCH(A1:B1)"), "two"),
        (lambda ws: None, "edge"),
    ],
    ids=["content", "merged", "another-table", "edge"],
)
def test_blocked_tables_agree(tmp_path: Path, build: Any, results: str | None) -> None:
    def book(ws: Any) -> None:
        _basic(ws)
        build(ws)

    xml = _sheet(tmp_path, book)
    wanted = [CellResult("Data", "B3", _table(4, 4), spilling=True)]
    if results == "two":
        wanted.append(CellResult("Data", "C3", _table(2, 2), spilling=True))
    if results == "edge":
        wanted = [CellResult("Data", "B3", _table(2, 16_384), spilling=True)]
    _, report = _both(xml, wanted)
    assert report.blocked


def test_values_of_every_kind_and_text_that_needs_escaping(tmp_path: Path) -> None:
    xml = _sheet(tmp_path, _basic)
    values = [
        [None, 1, 2.5, True],
        [Decimal("3.10"), date(2026, 12, 3), datetime(2026, 12, 3, 9, 30), "=1+1"],
        ["a & b < c > d", 'quote " and \r return', None, "@x"],
    ]
    out, _ = _both(xml, [CellResult("Data", "B3", values, spilling=True)])
    cells = _cells(out)
    assert cells["B3"].findtext(f"{{{MAIN_NS}}}v") == ""  # the formula cell always has one
    assert cells["B5"].findtext(f"{{{MAIN_NS}}}v") == "a & b < c > d"
    assert cells["E3"].get("t") == "b"
    with pytest.raises(ValueError, match="XML compatible"):
        bad = [CellResult("Data", "B3", [["x", "bad \x01"]])]
        patch = rows_patch.plan_sheet(xml, bad, old_extents={}, report=PatchReport())
        render(xml, patch, lambda _chunk: None)


def test_keep_and_array_forms(tmp_path: Path) -> None:
    def build(ws: Any) -> None:
        ws["A1"], ws["B1"] = "Job titles", "CEO"
        ws["B3"] = ArrayFormula("B3:C4", "=GENERECT_SEARCH(A1:B1)")
        ws["F3"] = "=GENERECT_SEARCH(A1:B1)"
        ws["G4"] = "old row"

    xml = _sheet(tmp_path, build)
    old = {(6, 3): (6, 3, 8, 5)}
    results = [
        CellResult("Data", "B3", _table(3, 3), spilling=True, formula="GENERECT_SEARCH(A1:B1)"),
        CellResult("Data", "F3", [["failed; kept"]], spilling=True, keep=True),
    ]
    _both(xml, results, old_extents=old)
    _both(xml, results, old_extents=old, spill="dynamic", cm_index=1)


def test_a_cell_without_formula_is_refused_either_way(tmp_path: Path) -> None:
    xml = _sheet(tmp_path, _basic)
    with pytest.raises(WorkbookError, match="has no formula"):
        rows_patch.plan_sheet(
            xml, [CellResult("Data", "H1", [["x"]])], old_extents={}, report=PatchReport()
        )


def _prefixed_sheet() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<x:worksheet xmlns:x="' + MAIN_NS.encode() + b'">\n'
        b'  <x:dimension ref="A1:B3"/>\n  <x:sheetData>\n'
        b'    <x:row r="1" spans="1:2"><x:c r="A1" t="str"><x:v>CEO</x:v></x:c></x:row>\n'
        b'    <x:row r="3" spans="1:2"><x:c r="B3"><x:f>GENERECT_SEARCH(A1)</x:f>'
        b"<x:v>old</x:v></x:c></x:row>\n"
        b"  </x:sheetData>\n</x:worksheet>"
    )


def test_a_prefixed_namespace_and_whitespace_between_rows() -> None:
    xml = _prefixed_sheet()
    out, _ = _both(xml, [CellResult("Data", "B3", _table(3, 2), spilling=True)])
    assert b"<x:c" in out and b"<c " not in out
    assert etree.fromstring(out).find(f"{{{MAIN_NS}}}dimension").get("ref") == "A1:C5"


@pytest.mark.parametrize(
    "change",
    [
        lambda xml: xml.replace(b'<x:row r="3"', b'<!-- note --><x:row r="3"'),
        lambda xml: xml.replace(b' r="B3"', b""),  # position implied by order
        lambda xml: xml.replace(b'<x:row r="3" spans="1:2">', b'<x:row spans="1:2">'),
    ],
    ids=["comment", "cell-without-r", "row-without-r"],
)
def test_xml_the_scanner_does_not_read_goes_the_tree_way(change: Any) -> None:
    xml = change(_prefixed_sheet())
    with pytest.raises(rows_patch.Unsupported):
        rows_patch.plan_sheet(
            xml, [CellResult("Data", "B3", [["x"]])], old_extents={}, report=PatchReport()
        )


def test_a_workbook_whose_sheet_needs_the_tree_is_still_written(tmp_path: Path) -> None:
    path = save(_book_with(_basic), tmp_path / "book.xlsx")
    members = zip_members(path)
    members[SHEET] = members[SHEET].replace(b"<sheetData>", b"<sheetData><!-- kept -->")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    package = Package(path)
    parts, report = patch_workbook(package, [CellResult("Data", "B3", _table(2, 2), spilling=True)])
    assert isinstance(parts[SHEET], bytes)  # the tree path's output
    write_atomically(package, parts, path)
    assert load(path)["Data"]["C4"].value == "v1.1"


def test_many_tables_are_written_whole(tmp_path: Path) -> None:
    """Eighty tables with their criteria beside them, first written then written again (the
    rows exist): every value lands, the file reopens, the records name every table."""

    def build(ws: Any) -> None:
        for i in range(80):
            r = i * 6 + 1
            ws[f"A{r}"], ws[f"B{r}"] = "Seniority", f"Director {i}"
            ws[f"D{r}"] = f"=GENERECT_SEARCH(A{r}:B{r})"

    path = save(_book_with(build), tmp_path / "book.xlsx")
    for round_ in ("first", "again"):
        results = [
            CellResult("Data", f"D{i * 6 + 1}", _table(4, 3, f"{round_}{i}-"), spilling=True)
            for i in range(80)
        ]
        package = Package(path)
        parts, report = patch_workbook(package, results)
        write_atomically(package, parts, path)
        assert not report.blocked and report.cells_written == 80 * 12
    ws = load(path)["Data"]
    assert ws["F478"].value == "again79-3.2"
    assert ws["B475"].value == "Director 79"
    names = zip_members(path)["xl/workbook.xml"].count(b"_GENERECT_SPILL_")
    assert names == 80


def _book_with(build: Any) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    build(ws)
    return wb


def test_a_source_changed_before_writing_is_never_mixed_in(tmp_path: Path) -> None:
    """Members are read from the file when written: if it changed since the package was
    opened (saved in Excel meanwhile), nothing is written, even to another file."""
    path = save(_book_with(_basic), tmp_path / "book.xlsx")
    package = Package(path)
    parts, _ = patch_workbook(package, [CellResult("Data", "B3", _table(2, 2), spilling=True)])
    wb = load(path)
    wb["Data"]["H1"] = "saved elsewhere meanwhile"
    save(wb, path)
    target = tmp_path / "copy.xlsx"
    with pytest.raises(WorkbookError, match="changed while refreshing"):
        write_atomically(package, parts, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]  # no copy, no temp file
