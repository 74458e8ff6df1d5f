"""Template workbooks: built, committed, well-formed, and refreshable straight away.

Everything here reads real .xlsx files back with openpyxl (and the package XML where openpyxl
cannot see), as the refresher will.
"""

from __future__ import annotations

import csv
import re
import runpy
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart
from openpyxl.utils import range_boundaries
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.worksheet import Worksheet

from generect_excel import templates
from generect_excel._constants import (
    MAX_LIMIT,
    PATH_DATABASE_COUNT,
    PATH_DATABASE_SEARCH,
    PATH_REALTIME_COUNT,
    PATH_REALTIME_SEARCH,
    PRICE_DATABASE_ROW,
    PRICE_REALTIME_COUNT,
    PRICE_REALTIME_ROW,
)
from generect_excel.cli import main
from generect_excel.criteria import FIELD_KINDS, criteria_from_block, field_for_label
from generect_excel.errors import CriteriaError, WorkbookError
from generect_excel.formulas.xlsxpatch import SPILL_NAME_PREFIX
from generect_excel.table import DEFAULT_COLUMNS
from generect_excel.templates import (
    CALC_ID,
    EXAMPLE_MARK,
    INPUT_STYLE,
    NOT_FETCHED,
    RECALC_ON_OPEN,
    TEMPLATES,
    GridSpec,
    build_market_sizing,
    build_template,
    write_template,
    write_workbook,
)
from generect_excel.vocab import FIELD_VOCABULARY, allowed_values
from workbook_support import (
    CSV_ALL_SHEETS,
    LIBREOFFICE_TIMEOUT,
    TemplateBooks,
    refresh_templates,
    soffice,
    zip_members,
)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "workbook_templates"
NAMES = list(TEMPLATES)
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

# Public worksheet functions: name -> (required arguments, most arguments).
SIGNATURES = {
    "GENERECT_COUNT": (1, 3),
    "GENERECT_SEARCH": (1, 6),
    "GENERECT_SPEND": (0, 1),
    "GENERECT_BALANCE": (0, 0),
    "GENERECT_VALUES": (1, 1),
    "GENERECT_COMPANIES": (1, 6),
    "GENERECT_COMPANY_COUNT": (1, 3),
    "GENERECT_PREVIEW": (1, 5),
    "GENERECT_ENRICH": (1, 3),
    "GENERECT_EMAIL": (1, 4),
}
# The functions whose result is a table (stored in the templates as one-cell static tables).
TABLES = ("GENERECT_SEARCH", "GENERECT_COMPANIES", "GENERECT_PREVIEW", "GENERECT_ENRICH")
REFERENCE = re.compile(
    r"^(?:(?P<sheet>'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!)?"
    r"(?P<area>\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)$"
)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every template written once by the builder, to a fresh folder."""
    folder = tmp_path_factory.mktemp("templates")
    return {name: write_template(name, folder / f"{name}.xlsx") for name in NAMES}


def formula_text(value: Any) -> str | None:
    text = value.text if isinstance(value, ArrayFormula) else value
    return text if isinstance(text, str) and text.startswith("=") else None


def generect_cells(wb: Workbook) -> list[tuple[Worksheet, str, str, Any]]:
    """(sheet, cell, formula text, raw cell value) of every GENERECT_* formula."""
    found = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                text = formula_text(cell.value)
                if text and text.upper().startswith("=GENERECT_"):
                    found.append((ws, cell.coordinate, text, cell.value))
    return found


def split_call(formula: str) -> tuple[str, list[str]]:
    """ "=F(a,'x,y'!A1,,\"s\")" -> ("F", ["a", "'x,y'!A1", "", '"s"']); checks the nesting."""
    match = re.match(r"^=([A-Z_]+)\((.*)\)$", formula, re.DOTALL)
    assert match, f"not a single call: {formula}"
    name, body = match.groups()
    args, depth, quote, current = [], 0, None, ""
    for char in body:
        if quote:
            current += char
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            assert depth >= 0, f"unbalanced parentheses: {formula}"
        elif char == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        current += char
    assert depth == 0 and quote is None, f"unbalanced: {formula}"
    if body.strip() or args:
        args.append(current.strip())
    return name, args


def resolve(wb: Workbook, home: Worksheet, reference: str) -> tuple[Worksheet, str]:
    match = REFERENCE.match(reference)
    assert match, f"not a cell or range reference: {reference}"
    sheet = match.group("sheet")
    if sheet is None:
        return home, match.group("area").replace("$", "")
    name = sheet[1:-1].replace("''", "'") if sheet.startswith("'") else sheet
    assert name in wb.sheetnames, f"{reference}: no sheet {name!r}"
    return wb[name], match.group("area").replace("$", "")


def block(ws: Worksheet, area: str) -> list[list[Any]]:
    """A range as a 2-D block of values, the way xlwings hands one to Python."""
    min_col, min_row, max_col, max_row = range_boundaries(area)
    return [
        [cell.value for cell in row]
        for row in ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col)
    ]


def mode_of(args: list[str], name: str) -> str:
    position = 1 if name == "GENERECT_COUNT" else 4
    if len(args) > position and args[position]:
        return args[position].strip('"')
    return "database"


def criteria_formulas(wb: Workbook):
    """(sheet, cell, name, args, criteria sheet, criteria area, mode) of COUNT and SEARCH."""
    for ws, coord, text, _ in generect_cells(wb):
        name, args = split_call(text)
        if name in ("GENERECT_COUNT", "GENERECT_SEARCH", "GENERECT_PREVIEW"):
            crit_ws, area = resolve(wb, ws, args[0])
            yield ws, coord, name, args, crit_ws, area, mode_of(args, name)


def snapshot(wb: Workbook) -> dict[str, Any]:
    """What a workbook means, cell by cell: values, formulas, styles, validations, states."""
    sheets = {}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, ArrayFormula):
                    value = ("array", value.ref, value.text)
                if value is not None or cell.style != "Normal":
                    cells[cell.coordinate] = (value, cell.style, cell.number_format)
        validations = sorted(
            (str(dv.sqref), dv.type, dv.formula1, dv.formula2, dv.errorStyle)
            for dv in ws.data_validations.dataValidation
        )
        widths = {k: d.width for k, d in ws.column_dimensions.items() if d.width}
        sheets[ws.title] = (ws.sheet_state, cells, validations, widths, ws.freeze_panes)
    return {"order": wb.sheetnames, "sheets": sheets}


# --------------------------------------------------------------------------- building


@pytest.mark.parametrize("name", NAMES)
def test_every_template_builds_with_a_read_me_first(name: str) -> None:
    wb = build_template(name)
    assert wb.sheetnames[0] == "Read me"
    assert wb.active.title == "Read me"
    text = " ".join(str(c.value) for row in wb["Read me"].iter_rows() for c in row if c.value)
    # How to use it, what each formula costs, never paying twice, how to refresh.
    assert "How to use it" in text
    for price in (PRICE_DATABASE_ROW, PRICE_REALTIME_ROW, PRICE_REALTIME_COUNT):
        assert f"${price:.2f}" in text
    assert "database count" in text and "free" in text
    assert "stored on this computer" in text and "costs nothing" in text
    assert "Generect tab on the ribbon > Refresh" in text
    assert "Opening this workbook fetches nothing and costs nothing" in text
    assert "generect-excel refresh BOOK.xlsx" in text
    # Where a lead table is saved in the static form, how Excel 365 makes it spill.
    searches = any(f.startswith("=GENERECT_SEARCH") for _, _, f, _ in generect_cells(wb))
    assert ("that first Refresh makes it an Excel 365 spilling formula" in text) == searches
    assert "priced, not debited" in text
    # The Read me lists every GENERECT formula of the workbook, where it is.
    for ws, coord, formula, _ in generect_cells(wb):
        assert f"!{coord}:  {formula}" in text, f"{ws.title}!{coord} missing from Read me"


def test_an_unknown_template_is_a_clear_error() -> None:
    with pytest.raises(WorkbookError, match="lead-list"):
        build_template("leads")


@pytest.mark.parametrize("name", NAMES)
def test_committed_workbooks_match_the_builder(name: str, saved: dict[str, Path]) -> None:
    committed = COMMITTED / f"{name}.xlsx"
    assert committed.is_file(), "run python workbook_templates/build_templates.py and commit"
    stale = "workbook_templates/ is stale: run python workbook_templates/build_templates.py"
    assert snapshot(load_workbook(committed)) == snapshot(load_workbook(saved[name])), stale
    # The cached values too: what Excel shows on open.
    cached = snapshot(load_workbook(committed, data_only=True))
    assert cached == snapshot(load_workbook(saved[name], data_only=True)), stale


def test_the_build_script_writes_every_template(tmp_path: Path, saved: dict[str, Path]) -> None:
    script = runpy.run_path(str(COMMITTED / "build_templates.py"))
    assert script["main"]([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.xlsx" for n in NAMES)
    for name in NAMES:
        assert (tmp_path / f"{name}.xlsx").read_bytes() == saved[name].read_bytes()


def test_output_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = write_template("lead-list", tmp_path / "a.xlsx").read_bytes()
    second = write_template("lead-list", tmp_path / "b.xlsx").read_bytes()
    assert first == second


# --------------------------------------------------------------------------- formulas


@pytest.mark.parametrize("name", NAMES)
def test_formulas_are_well_formed_and_reference_existing_cells(
    name: str, saved: dict[str, Path]
) -> None:
    wb = load_workbook(saved[name])
    found = generect_cells(wb)
    assert found
    for ws, coord, text, raw in found:
        function, args = split_call(text)
        assert function in SIGNATURES, f"{ws.title}!{coord}: unknown function {function}"
        low, high = SIGNATURES[function]
        assert low <= len(args) <= high, f"{ws.title}!{coord}: {len(args)} arguments"
        for arg in args:
            if arg and not arg.startswith('"') and not re.fullmatch(r"\d+", arg):
                target, area = resolve(wb, ws, arg)
                min_col, min_row, max_col, max_row = range_boundaries(area)
                assert max_row <= target.max_row and max_col <= target.max_column
        # Plain formulas, a table one too: LibreOffice shows a plain formula's cached value.
        assert isinstance(raw, str), f"{ws.title}!{coord}: a plain formula"
        if function == "GENERECT_SEARCH" and len(args) > 1:
            limit_ws, limit_cell = resolve(wb, ws, args[1])
            limit = limit_ws[limit_cell].value
            assert isinstance(limit, int) and 1 <= limit <= MAX_LIMIT
        if function in ("GENERECT_COUNT", "GENERECT_SEARCH"):
            assert mode_of(args, function) in ("database", "realtime")


def test_the_formulas_each_template_promises(saved: dict[str, Path]) -> None:
    lead = load_workbook(saved["lead-list"])["Lead list"]
    assert lead["B14"].value == "=GENERECT_COUNT('Lead list'!$A$2:$D$12)"
    assert lead["A21"].value == "=GENERECT_SEARCH('Lead list'!$A$2:$D$12,B15)"
    assert lead["B17"].value == '=GENERECT_SPEND("today")'
    signals = load_workbook(saved["realtime-signals"])["Signals"]
    assert signals["B14"].value == '=GENERECT_COUNT(Signals!$A$2:$D$11,"realtime")'
    assert signals["A22"].value == '=GENERECT_SEARCH(Signals!$A$2:$D$11,B17,0,,"realtime")'
    # The cost is spelled out beside them: count price, and limit x row price.
    assert signals["D14"].value == float(PRICE_REALTIME_COUNT)
    assert signals["D17"].value == f"=B17*{PRICE_REALTIME_ROW}"
    assert lead["B16"].value == f"=B15*{PRICE_DATABASE_ROW}"


def search_cells(path: Path) -> dict[str, list[etree._Element]]:
    """Sheet part -> its GENERECT_SEARCH <c> elements."""
    found: dict[str, list[etree._Element]] = {}
    for name, data in zip_members(path).items():
        if name.startswith("xl/worksheets/sheet"):
            for cell in etree.fromstring(data).iter(f"{MAIN_NS}c"):
                formula = cell.find(f"{MAIN_NS}f")
                if formula is not None and formula.text.startswith(TABLES):
                    found.setdefault(name, []).append(cell)
    return found


def spill_records(path: Path) -> list[tuple[str, str]]:
    """(sheet, area) of every _GENERECT_SPILL_* record, as the refresher reads them."""
    workbook = etree.fromstring(zip_members(path)["xl/workbook.xml"])
    sheets = [s.get("name") for s in workbook.iter(f"{MAIN_NS}sheet")]
    return sorted(
        (sheets[int(item.get("localSheetId"))], item.text)
        for item in workbook.iter(f"{MAIN_NS}definedName")
        if item.get("name").startswith(SPILL_NAME_PREFIX) and item.get("hidden") == "1"
    )


def test_searches_are_plain_formulas_recorded_as_one_cell_static_tables(
    saved: dict[str, Path],
) -> None:
    """The default form: what LibreOffice shows from its cached value, and what the ribbon's
    Refresh turns into a spilling formula (it finds the record) on Windows."""
    for name in NAMES:
        names = list(zip_members(saved[name]))
        assert "xl/metadata.xml" not in names
        expected = []
        for cells in search_cells(saved[name]).values():
            for cell in cells:
                formula = cell.find(f"{MAIN_NS}f")
                assert formula.get("t") is None and "cm" not in cell.attrib
                assert cell.findtext(f"{MAIN_NS}v") == NOT_FETCHED
        wb = load_workbook(saved[name])
        for ws, coord, text, _ in generect_cells(wb):
            if text.startswith(tuple("=" + t for t in TABLES)):
                absolute = re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", coord)
                expected.append(
                    (ws.title, f"{templates.quote_sheetname(ws.title)}!{absolute}:{absolute}")
                )
        assert spill_records(saved[name]) == sorted(expected), name
        assert bool(expected) == (name != "market-sizing")
        # A reader of cached values sees what to do, not an error.
        cached = load_workbook(saved[name], data_only=True)
        for ws, coord, _, _ in generect_cells(wb):
            assert cached[ws.title][coord].value == NOT_FETCHED


def test_spill_dynamic_stores_searches_as_excel_365_spilling_arrays(tmp_path: Path) -> None:
    for name in NAMES:
        path = write_workbook(build_template(name), tmp_path / f"{name}.xlsx", spill="dynamic")
        searches = search_cells(path)
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
            assert ("xl/metadata.xml" in names) == bool(searches)
            if searches:
                assert b"XLDAPR" in package.read("xl/metadata.xml")
                assert b"/xl/metadata.xml" in package.read("[Content_Types].xml")
                assert b"sheetMetadata" in package.read("xl/_rels/workbook.xml.rels")
        for cells in searches.values():
            for cell in cells:
                formula = cell.find(f"{MAIN_NS}f")
                assert cell.get("cm") == "1"
                assert (formula.get("t"), formula.get("ref")) == ("array", cell.get("r"))
                assert cell.findtext(f"{MAIN_NS}v") == NOT_FETCHED
        assert spill_records(path) == []
        # openpyxl reads a dynamic array back as an ArrayFormula anchored at its cell.
        for _, _, text, raw in generect_cells(load_workbook(path)):
            assert isinstance(raw, ArrayFormula) == text.startswith(tuple("=" + t for t in TABLES))
    with pytest.raises(ValueError, match="spill"):
        write_workbook(build_template("lead-list"), tmp_path / "x.xlsx", spill="spilled")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_every_lead_table_has_room_to_spill(name: str, saved: dict[str, Path]) -> None:
    wb = load_workbook(saved[name])
    for ws, coord, name_, args, *_ in criteria_formulas(wb):
        if name_ != "GENERECT_SEARCH":
            continue
        limit_ws, limit_cell = resolve(wb, ws, args[1])
        # The largest limit the limit cell accepts (its whole-number validation).
        rules = [
            dv
            for dv in limit_ws.data_validations.dataValidation
            if dv.type == "whole" and limit_cell in dv.sqref
        ]
        assert len(rules) == 1, f"{limit_cell} needs a whole-number validation"
        most = int(rules[0].formula2)
        min_col, top, _, _ = range_boundaries(coord)
        # status row + header row + one row per lead, one column per default field.
        area = ws.iter_rows(
            min_row=top,
            max_row=top + most + 1,
            min_col=min_col,
            max_col=min_col + len(DEFAULT_COLUMNS) - 1,
        )
        taken = [c.coordinate for row in area for c in row if c.value is not None]
        assert taken == [coord], f"{ws.title}: the spill of {coord} would hit {taken[1:]}"


# --------------------------------------------------------------------------- opening


def formula_cells_xml(path: Path) -> list[tuple[str, etree._Element]]:
    """(part name, <c> element) of every formula cell in the package."""
    found = []
    for name, data in zip_members(path).items():
        if name.startswith("xl/worksheets/sheet"):
            for cell in etree.fromstring(data).iter(f"{MAIN_NS}c"):
                if cell.find(f"{MAIN_NS}f") is not None:
                    found.append((name, cell))
    return found


@pytest.mark.parametrize("where", ["built", "committed"])
def test_opening_a_template_asks_excel_for_no_recalculation(
    where: str, saved: dict[str, Path]
) -> None:
    """No fullCalcOnLoad, and the calcId of current Excel: Excel shows the cached values.

    openpyxl's own <calcPr calcId="124519" fullCalcOnLoad="1"/> makes Excel recalculate every
    formula on open, and so buy every example search when the add-in is installed.
    """
    assert CALC_ID == 191029  # what Excel 365 writes
    for name in NAMES:
        path = saved[name] if where == "built" else COMMITTED / f"{name}.xlsx"
        workbook = etree.fromstring(zip_members(path)["xl/workbook.xml"])
        (calc,) = workbook.iter(f"{MAIN_NS}calcPr")
        assert dict(calc.attrib) == {"calcId": "191029"}, name


@pytest.mark.parametrize("name", NAMES)
def test_every_formula_cell_has_a_cached_value(name: str, saved: dict[str, Path]) -> None:
    cells = formula_cells_xml(saved[name])
    assert cells
    for part, cell in cells:
        value = cell.findtext(f"{MAIN_NS}v")
        assert value, f"{part} {cell.get('r')}: a formula without a cached value"
    # The same through a reader of cached values (what Excel shows until a recalculation).
    wb, cached = load_workbook(saved[name]), load_workbook(saved[name], data_only=True)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if formula_text(cell.value):
                    assert cached[ws.title][cell.coordinate].value is not None, cell.coordinate


def test_cached_values_are_what_each_formula_computes_in_the_template(
    saved: dict[str, Path],
) -> None:
    cached = {name: load_workbook(saved[name], data_only=True) for name in NAMES}
    assert cached["lead-list"]["Lead list"]["B16"].value == 25 * float(PRICE_DATABASE_ROW)
    signals = cached["realtime-signals"]["Signals"]
    assert signals["D17"].value == pytest.approx(10 * float(PRICE_REALTIME_ROW))
    assert signals["D18"].value == pytest.approx(
        float(PRICE_REALTIME_COUNT) + 10 * float(PRICE_REALTIME_ROW)
    )
    accounts = cached["account-list"]
    assert accounts["Accounts"]["G5"].value == pytest.approx(5 * float(PRICE_DATABASE_ROW))
    assert accounts["Accounts"]["G19"].value == pytest.approx(25 * float(PRICE_DATABASE_ROW))
    assert accounts["Decision makers"]["B1"].value == "Stripe"
    assert accounts["Decision makers"]["B91"].value == "https://www.linkedin.com/company/figma/"
    grid = cached["market-sizing"]["Market sizing"]
    assert [grid.cell(6, c).value for c in range(2, 7)] == list(templates.DEFAULT_GRID.columns[1])
    assert [grid.cell(r, 1).value for r in range(7, 12)] == list(templates.DEFAULT_GRID.rows[1])
    # Totals of counts not fetched yet (text, which SUM skips) are 0.
    assert [grid.cell(r, 7).value for r in range(7, 12)] == [0] * 5
    assert [grid.cell(12, c).value for c in range(2, 8)] == [0] * 6


def test_totals_of_generect_counts_recalculate_on_open() -> None:
    """Only formulas that add up GENERECT results are volatile; nothing GENERECT is."""
    wb = build_template("market-sizing")
    volatile = {
        (ws.title, cell.coordinate)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value.endswith(RECALC_ON_OPEN)
    }
    assert volatile == {("Market sizing", f"G{r}") for r in range(7, 12)} | {
        ("Market sizing", f"{c}12") for c in "BCDEFG"
    }
    for name in NAMES:
        for _, _, text, _ in generect_cells(build_template(name)):
            assert "NOW(" not in text.upper()


def test_a_formula_without_a_cached_value_is_refused(tmp_path: Path) -> None:
    wb = build_template("lead-list")
    wb["Lead list"]["H1"] = "=B15*2"  # written around _formula: no value to cache
    with pytest.raises(ValueError, match="Lead list!H1"):
        write_workbook(wb, tmp_path / "book.xlsx")
    assert not (tmp_path / "book.xlsx").exists()
    # A formula changed after building no longer matches its cached value: refused too.
    wb = build_template("lead-list")
    wb["Lead list"]["B16"] = "=B15*3"
    with pytest.raises(ValueError, match="Lead list!B16"):
        write_workbook(wb, tmp_path / "book.xlsx")


def _displayed(books: list[Path], folder: Path) -> dict[str, list[list[str]]]:
    """Every sheet of every book as LibreOffice shows it, from one soffice run."""
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={(folder / 'lo-profile').resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            CSV_ALL_SHEETS,
            "--outdir",
            str(folder / "csv"),
            *map(str, books),
        ],
        check=True,
        capture_output=True,
        timeout=LIBREOFFICE_TIMEOUT,
    )
    shown = {}
    for path in sorted((folder / "csv").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            shown[path.stem] = list(csv.reader(fh))
    assert len(shown) >= len(books)
    return shown


def _without_cached_values(source: Path, target: Path) -> Path:
    """A copy whose ordinary formulas have no cached value, so LibreOffice computes them."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                root = etree.fromstring(data)
                for cell in root.iter(f"{MAIN_NS}c"):
                    formula = cell.find(f"{MAIN_NS}f")
                    if formula is not None and not formula.text.startswith("GENERECT_"):
                        cell.remove(cell.find(f"{MAIN_NS}v"))
                        cell.attrib.pop("t", None)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            out.writestr(info, data)
    return target


@pytest.mark.libreoffice
def test_libreoffice_computes_the_values_the_templates_cache(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    """A spreadsheet shows the cached values on open; they are what it would compute."""
    computed_dir = tmp_path / "computed"
    computed_dir.mkdir()
    computed = [_without_cached_values(saved[n], computed_dir / f"{n}.xlsx") for n in NAMES]
    as_cached = _displayed([saved[n] for n in NAMES], tmp_path / "as-cached")
    as_computed = _displayed(computed, tmp_path / "as-computed")
    assert as_cached == as_computed
    # What the comparison covered: headings, costs and the not-fetched cells.
    sizing = as_cached["market-sizing-Market sizing"]
    assert sizing[5][1:6] == list(templates.DEFAULT_GRID.columns[1])
    assert sizing[6][1] == NOT_FETCHED and sizing[11][1:7] == ["0"] * 6
    assert as_cached["account-list-Decision makers"][0][1] == "Stripe"


# --------------------------------------------------------------------------- criteria


@pytest.mark.parametrize("name", NAMES)
def test_every_criteria_range_parses_into_a_valid_request(
    name: str, saved: dict[str, Path]
) -> None:
    """The proof that a template works straight away: the refresher reads these very cells."""
    wb = load_workbook(saved[name])
    checked = 0
    for ws, coord, _, _, crit_ws, area, mode in criteria_formulas(wb):
        request = criteria_from_block(block(crit_ws, area), mode=mode)
        assert request.mode == mode
        assert request.body(), f"{ws.title}!{coord}: no filter"
        checked += 1
    assert checked


def test_realtime_signals_really_use_realtime_only_filters(saved: dict[str, Path]) -> None:
    wb = load_workbook(saved["realtime-signals"])
    for *_, crit_ws, area, mode in criteria_formulas(wb):
        assert mode == "realtime"
        body = criteria_from_block(block(crit_ws, area), mode="realtime").body()
        assert body["keywords"] and body["past_company_names"]
        assert body["changed_jobs"] is True and body["posted_on_linkedin"] is True
        with pytest.raises(CriteriaError, match="realtime"):
            criteria_from_block(block(crit_ws, area), mode="database")


def test_account_cards_anchor_each_search_on_its_company(saved: dict[str, Path]) -> None:
    wb = load_workbook(saved["account-list"])
    companies = []
    for _, _, name, _, crit_ws, area, mode in criteria_formulas(wb):
        body = criteria_from_block(block(crit_ws, area), mode=mode).body()
        assert sorted(body["seniorities"]) == ["c_suite", "director", "vp"]
        if name == "GENERECT_SEARCH":
            companies.append(body.get("company_name") or body.get("company_link"))
    assert len(companies) == len(set(companies)) == 5


def test_the_market_grid_counts_each_cell_for_free(saved: dict[str, Path]) -> None:
    wb = load_workbook(saved["market-sizing"])
    grid = wb["Market sizing"]
    seen = set()
    for _ws, coord, name, _, crit_ws, area, mode in criteria_formulas(wb):
        assert (name, mode) == ("GENERECT_COUNT", "database")
        body = criteria_from_block(block(crit_ws, area), mode=mode).body()
        # Each cell counts its own row heading x column heading (headings read the blocks).
        col, row = re.match(r"([A-Z]+)(\d+)", coord).groups()
        row_ref = grid[f"A{row}"].value.removeprefix("=")
        col_ref = grid[f"{col}6"].value.removeprefix("=")
        row_value = crit_ws[resolve(wb, grid, row_ref)[1]].value
        col_value = crit_ws[resolve(wb, grid, col_ref)[1]].value
        assert row_value in block(crit_ws, area)[1] and col_value in block(crit_ws, area)[1]
        assert body["company_industries"] == ["Software Development"]
        seen.add((body["seniorities"][0], body["locations"][0]))
    assert len(seen) == 25
    # Totals are volatile (+0*NOW()): recomputed on open from counts a refresh wrote.
    assert grid["G7"].value == "=SUM(B7:F7)+0*NOW()"
    assert grid["B12"].value == "=SUM(B7:B11)+0*NOW()"
    assert grid["G12"].value == "=SUM(G7:G11)+0*NOW()"


def test_market_sizing_has_a_bar_chart_over_the_grid() -> None:
    ws = build_template("market-sizing")["Market sizing"]
    (chart,) = ws._charts
    assert isinstance(chart, BarChart)
    refs = [s.val.numRef.f for s in chart.series]
    assert refs[0] == "'Market sizing'!$B$7:$B$11" and len(refs) == 5


def test_a_grid_of_your_own() -> None:
    spec = GridSpec(
        rows=("Company size", ("11-50", "51-200")),
        columns=("Location", ("United States", "Germany", "Japan")),
        filters=(
            ("Job titles", ("CTO", "VP Engineering")),
            ("Industry", ("Software Development",)),
        ),
    )
    wb = build_market_sizing(spec)
    cells = [c for c in criteria_formulas(wb)]
    assert len(cells) == 6
    bodies = [criteria_from_block(block(c[4], c[5])).body() for c in cells]
    assert {b["company_headcounts"][0] for b in bodies} == {"11-50", "51-200"}
    assert all(b["job_titles"] == ["CTO", "VP Engineering"] for b in bodies)
    with pytest.raises(ValueError, match="at least one value"):
        GridSpec(rows=("Seniority", ()), columns=("Location", ("France",)))


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("name", NAMES)
def test_criteria_cells_are_styled_inputs_with_bold_labels(
    name: str, saved: dict[str, Path]
) -> None:
    wb = load_workbook(saved[name])
    fills = set()
    for _, _, _, _, crit_ws, area, _ in criteria_formulas(wb):
        rows = list(crit_ws[area])
        horizontal = field_for_label(rows[0][0].value) is not None and len(rows) == 2
        labels = rows[0] if horizontal else [r[0] for r in rows[1:]]
        if horizontal:
            values = [(label.value, cell) for label, cell in zip(*rows, strict=True)]
        else:
            values = [(r[0].value, cell) for r in rows[1:] for cell in r[1:]]
        assert all(c.font.b for c in labels if c.value), f"{crit_ws.title}: labels must be bold"
        for label, cell in values:
            assert cell.style == INPUT_STYLE, f"{crit_ws.title}!{cell.coordinate} not an input"
            # Text, or Excel turns a typed 11-50 into a date; yes/no cells stay General.
            yes_no = FIELD_KINDS[field_for_label(label)] == "yes/no"
            assert cell.number_format == ("General" if yes_no else "@"), cell.coordinate
            fills.add((cell.fill.fgColor.rgb, cell.border.left.style))
    assert len(fills) == 1, "one input fill and border"


@pytest.mark.parametrize("name", NAMES)
def test_examples_are_marked(name: str, saved: dict[str, Path]) -> None:
    wb = load_workbook(saved[name])
    for _, _, _, _, crit_ws, area, _ in criteria_formulas(wb):
        min_col, min_row, max_col, max_row = range_boundaries(area)
        # A filled row of a vertical block, or a card's values row, carries the mark on its
        # right; a grid block's sheet carries it at the top.
        for row in crit_ws.iter_rows(min_row=min_row + 1, max_row=max_row):
            filled = any(c.value is not None for c in row[min_col:max_col])
            marks = [c.value for c in row if c.value == EXAMPLE_MARK]
            if filled and crit_ws.title != "Grid criteria":
                assert marks, f"{crit_ws.title} row {row[0].row} holds an unmarked example"
        if crit_ws.title == "Grid criteria":
            assert crit_ws["A3"].value == EXAMPLE_MARK


def test_drop_downs_offer_each_vocabulary_from_the_hidden_lists_sheet(
    saved: dict[str, Path],
) -> None:
    checked = set()
    for name in ("lead-list", "realtime-signals"):
        wb = load_workbook(saved[name])
        lists = wb["Lists"]
        assert lists.sheet_state == "hidden"
        main_ws = wb.worksheets[1]
        for dv in main_ws.data_validations.dataValidation:
            if dv.type != "list" or not dv.formula1.startswith("Lists!"):
                continue
            listed = [row[0] for row in block(lists, dv.formula1.split("!")[1].replace("$", ""))]
            for cell_range in dv.sqref.ranges:
                # One value cell per column, B..D, on the row of the field it lists.
                assert (cell_range.min_col, cell_range.max_col) == (2, 4)
                assert cell_range.min_row == cell_range.max_row
                field = field_for_label(main_ws.cell(cell_range.min_row, 1).value)
                assert listed == list(allowed_values(FIELD_VOCABULARY[field]))
                checked.add(FIELD_VOCABULARY[field])
                # Friendly spellings stay possible: a warning, not a refusal.
                assert dv.errorStyle == "warning"
    assert checked == {"seniorities", "company_headcounts", "company_types", "company_industries"}
    assert len(allowed_values("company_industries")) == 434


def test_lead_list_drop_down_rows() -> None:
    ws = build_template("lead-list")["Lead list"]
    by_range = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert by_range["B4:D4"] == "Lists!$A$2:$A$12"  # Seniority: 11 values
    assert by_range["B6:D6"] == "Lists!$B$2:$B$9"  # Company size: 8
    assert by_range["B7:D7"] == "Lists!$C$2:$C$9"  # Company type: 8
    assert by_range["B8:D8"] == "Lists!$D$2:$D$435"  # Industry: 434
    assert by_range["B15"] == "1"


def test_account_limits_keep_the_sections_apart(saved: dict[str, Path]) -> None:
    wb = load_workbook(saved["account-list"])
    rules = {str(dv.sqref): dv for dv in wb["Accounts"].data_validations.dataValidation}
    assert rules["F5"].formula2 == str(templates.ACCOUNT_MAX_LIMIT)
    assert rules["A5:B5"].formula1 == 'OR($A5="",$B5="")'  # one company identifier
    anchors = [
        int(coord[1:]) for ws, coord, text, _ in generect_cells(wb) if ws.title == "Decision makers"
    ]
    gaps = {b - a for a, b in zip(anchors, anchors[1:], strict=False)}
    assert gaps == {templates.ACCOUNT_MAX_LIMIT + 5}


# --------------------------------------------------------------------------- command line


def test_new_list_shows_every_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "--list"]) == 0
    out = capsys.readouterr().out
    for name, description in TEMPLATES.items():
        assert re.search(rf"^{re.escape(name)}\s+{re.escape(description)}$", out, re.MULTILINE)


def test_new_writes_a_template_and_never_overwrites_by_accident(
    tmp_path: Path, saved: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "my leads.xlsx"
    assert main(["new", "lead-list", "-o", str(target)]) == 0
    assert target.read_bytes() == saved["lead-list"].read_bytes()
    assert "generect-excel refresh" in capsys.readouterr().out

    target.write_bytes(b"the analyst's work")
    assert main(["new", "lead-list", "-o", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_bytes() == b"the analyst's work"

    assert main(["new", "realtime-signals", "-o", str(target), "--force"]) == 0
    assert target.read_bytes() == saved["realtime-signals"].read_bytes()


def test_new_refuses_unknown_templates_and_misplaced_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "leads", "-o", str(tmp_path / "x.xlsx")]) == 1
    assert "lead-list" in capsys.readouterr().err
    assert main(["new", "lead-list", "-o", str(tmp_path / "x.csv")]) == 1
    assert main(["new", "lead-list", "--rows", "Seniority=VP", "-o", str(tmp_path / "y.xlsx")]) == 2
    assert main(["new"]) == 2
    assert not list(tmp_path.iterdir())


def test_new_market_sizing_builds_your_grid_and_checks_it_first(tmp_path: Path) -> None:
    target = tmp_path / "sizing.xlsx"
    args = [
        "new",
        "market-sizing",
        "-o",
        str(target),
        "--rows",
        "Company size=11-50;51-200",
        "--columns",
        "Location=United States;Germany",
        "--filter",
        "Industry=Software",
    ]
    # "Software" is not an industry: refused before anything is written, with a suggestion.
    assert main(args) == 1
    assert not target.exists()
    args[-1] = "Industry=Software Development"
    assert main(args) == 0
    wb = load_workbook(target)
    bodies = [criteria_from_block(block(c[4], c[5])).body() for c in criteria_formulas(wb)]
    assert len(bodies) == 4
    assert {tuple(b["company_headcounts"]) for b in bodies} == {("11-50",), ("51-200",)}


def test_write_workbook_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    write_workbook(build_template("account-list"), target)
    assert load_workbook(target).sheetnames == ["Read me", "Accounts", "Decision makers"]
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_prices_come_from_the_constants() -> None:
    # The Read me and the cost cells must follow a price change, not a copy of it.
    assert templates.lead_list.PRICE_DATABASE_ROW is PRICE_DATABASE_ROW
    assert Decimal(str(build_template("lead-list")["Lead list"]["B16"].value[5:])) == (
        PRICE_DATABASE_ROW
    )


# --------------------------------------------------------------------------- against the sandbox

STATUS = re.compile(r"^Generect(?: realtime)? · ([\d,]+) match(?:es)? · (\d+) rows? · ")


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> TemplateBooks:
    """Every template, fresh and refreshed against the sandbox a new user runs."""
    return refresh_templates(tmp_path_factory.mktemp("refreshed-templates"))


@pytest.mark.parametrize("name", NAMES)
def test_every_example_returns_rows_and_counts_from_the_sandbox(
    name: str, refreshed: TemplateBooks
) -> None:
    """Trying a template before spending a cent: its examples, as shipped, find leads."""
    summary = refreshed.summaries[name]
    assert summary.ok, summary
    wb = load_workbook(refreshed.refreshed[name])
    shown = load_workbook(refreshed.refreshed[name], data_only=True)
    counts = searches = previews = 0
    for ws, coord, text, _ in generect_cells(wb):
        value = shown[ws.title][coord].value
        if text.startswith("=GENERECT_COUNT"):
            assert isinstance(value, int) and value > 0, f"{ws.title}!{coord}: {value!r}"
            counts += 1
        elif text.startswith("=GENERECT_SEARCH"):
            status = STATUS.match(str(value))
            assert status, f"{ws.title}!{coord}: {value!r}"
            matches, rows = int(status.group(1).replace(",", "")), int(status.group(2))
            assert matches > 0 and rows > 0, f"{ws.title}!{coord}: {value}"
            # The rows are in the sheet: a header, then one lead per row, each with a name.
            top, column = shown[ws.title][coord].row, shown[ws.title][coord].column
            sheet = shown[ws.title]
            assert sheet.cell(top + 1, column).value == "full_name"
            names = [sheet.cell(top + 2 + i, column).value for i in range(rows)]
            assert all(names) and sheet.cell(top + 2 + rows, column).value is None
            # A test key: priced, never debited, and said so in the one wording.
            assert "priced, not debited" in value and " charged" not in value
            searches += 1
        elif text.startswith("=GENERECT_PREVIEW"):
            # Masked rows with their ids; nothing ticked yet, so GENERECT_ENRICH buys nothing.
            assert "masked rows" in str(value), f"{ws.title}!{coord}: {value!r}"
            top, column = shown[ws.title][coord].row, shown[ws.title][coord].column
            assert shown[ws.title].cell(top + 1, column).value == "id"
            assert shown[ws.title].cell(top + 2, column).value
            previews += 1
    assert counts, "every template counts"
    assert bool(searches) == (name not in ("market-sizing", "preview-and-pick"))
    assert bool(previews) == (name == "preview-and-pick")
    # Counted from the sandbox's log: every search and count sent returned leads.
    log = refreshed.logs[name]
    sent = [e for e in log if e["path"] in (PATH_DATABASE_SEARCH, PATH_REALTIME_SEARCH)]
    assert len(sent) == searches
    assert all(e["status"] == 200 and e["rows"] > 0 and e["results_count"] > 0 for e in sent)
    counted = [e for e in log if e["path"] in (PATH_DATABASE_COUNT, PATH_REALTIME_COUNT)]
    assert counted and all(e["status"] == 200 and e["results_count"] > 0 for e in counted)


def test_the_examples_name_companies_the_sandbox_knows(sandbox_population) -> None:  # type: ignore[no-untyped-def]
    """The well-known companies the examples name are the sandbox's (with invented people),
    also in the small test sandbox; the drawn companies keep their invented names."""
    for company in ("Stripe", "HubSpot", "Notion", "Figma", "Datadog", "Salesforce", "Oracle"):
        index = sandbox_population.company_by_name[company.lower()]
        assert sandbox_population.company_rows[index], company
    assert (
        sandbox_population.company_by_slug["figma"] == sandbox_population.company_by_name["figma"]
    )


def test_money_cells_have_a_currency_format_fresh_and_refreshed(refreshed: TemplateBooks) -> None:
    """Money reads as $0.50 everywhere: costs, spend and balance, before and after a refresh."""
    money = {
        "lead-list": ("Lead list", ["B16", "B17", "B18"]),
        "realtime-signals": ("Signals", ["D14", "D17", "D18", "B19"]),
        "account-list": ("Accounts", [f"G{4 + 3 * i + 1}" for i in range(5)] + ["G19", "G20"]),
    }
    for name, (sheet, cells) in money.items():
        for path in (refreshed.fresh[name], refreshed.refreshed[name]):
            ws = load_workbook(path)[sheet]
            for coord in cells:
                assert ws[coord].number_format == templates.MONEY_FORMAT, f"{name} {coord}"
    # Every GENERECT_SPEND and GENERECT_BALANCE of every template, wherever it is.
    for name in NAMES:
        for ws, coord, text, _ in generect_cells(load_workbook(refreshed.refreshed[name])):
            if text.startswith(("=GENERECT_SPEND", "=GENERECT_BALANCE")):
                assert ws[coord].number_format == templates.MONEY_FORMAT, f"{name} {coord}"
    balance = load_workbook(refreshed.refreshed["lead-list"], data_only=True)["Lead list"]["B18"]
    assert balance.value == 100  # the sandbox's opening balance, shown as $100.00


def _side(side: Any) -> str | None:
    return None if side is None else side.style


def test_lead_tables_have_a_status_box_a_bold_header_and_wide_columns(
    refreshed: TemplateBooks,
) -> None:
    width = len(DEFAULT_COLUMNS)
    for name in NAMES:
        wb = load_workbook(refreshed.refreshed[name])
        for ws, coord, text, _ in generect_cells(wb):
            if not text.startswith("=GENERECT_SEARCH"):
                continue
            row, column = ws[coord].row, ws[coord].column
            status = [ws.cell(row, column + i) for i in range(width)]
            # One box across the table: top and bottom everywhere, sides at its two ends only.
            assert all(_side(c.border.top) == _side(c.border.bottom) == "thin" for c in status)
            assert [_side(c.border.left) for c in status] == ["thin"] + [None] * (width - 1)
            assert [_side(c.border.right) for c in status] == [None] * (width - 1) + ["thin"]
            assert all(ws.cell(row + 1, column + i).font.b for i in range(width))
            # Each column fits the longest value the refresh wrote in it (URLs included): a
            # width unit is a digit's width, and Calibri text is narrower (in LibreOffice's
            # PDF "San Francisco, California, United States", 40 characters, fits in 38).
            for i in range(width):
                letter = ws.cell(row, column + i).column_letter
                longest = max(
                    len(str(ws.cell(r, column + i).value or ""))
                    for r in range(row + 1, row + 2 + 25)
                )
                fits = ws.column_dimensions[letter].width * 1.1 >= longest
                assert fits, f"{name} {ws.title} {letter}: {longest} characters"


def test_new_spill_dynamic_writes_the_excel_365_form(
    tmp_path: Path, saved: dict[str, Path]
) -> None:
    target = tmp_path / "dynamic.xlsx"
    assert main(["new", "lead-list", "-o", str(target), "--spill", "dynamic"]) == 0
    (cell,) = search_cells(target)["xl/worksheets/sheet2.xml"]
    assert cell.get("cm") == "1" and cell.find(f"{MAIN_NS}f").get("t") == "array"
    assert target.read_bytes() != saved["lead-list"].read_bytes()
    assert main(["new", "lead-list", "-o", str(target), "--force"]) == 0
    assert target.read_bytes() == saved["lead-list"].read_bytes()  # static, the default
