"""A real spreadsheet application sees the refreshed results: LibreOffice converts the files.

Each conversion exports every sheet as the text LibreOffice displays (CSV), with a private
profile, so what is asserted here is what an analyst opening the file in LibreOffice sees.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple

from generect_excel._constants import CELL_ERROR_PREFIX
from generect_excel.cli.demo import run_demo
from generect_excel.engine import Engine
from generect_excel.templates import (
    NOT_FETCHED,
    TEMPLATES,
    build_template,
    generect_formula_cells,
    write_workbook,
)
from generect_excel.workbook.refresher import refresh_workbook
from workbook_support import (
    TemplateBooks,
    libreoffice_books,
    libreoffice_sheets,
    load,
    refresh_templates,
    sandbox_settings,
    save,
)

pytestmark = pytest.mark.libreoffice

HOSTILE_TITLES = [
    "=1+2",
    '=HYPERLINK("http://x","y")',
    "+Sales Lead",
    "-VP Growth-",
    "@Head of People",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    folder = tmp_path_factory.mktemp("lo-demo")
    return run_demo(folder / "demo").workbooks, folder


def test_demo_lead_list_shows_the_leads_and_the_count(demo) -> None:
    (lead_list, _), folder = demo
    shown = libreoffice_sheets(lead_list, folder)["Lead list"]
    saved = load(lead_list, data_only=True)["Lead list"]
    # Rows 23.. hold the leads: LibreOffice shows every name the refresh wrote.
    names = [saved.cell(row=r, column=1).value for r in range(23, 48)]
    assert [row[0] for row in shown[22:47]] == names
    assert shown[21][:4] == ["full_name", "first_name", "last_name", "job_title"]
    assert shown[20][0].startswith("Generect · ") and "TEST MODE" in shown[20][0]
    assert shown[13][1] == f"{saved['B14'].value:,}"  # the count, in its number format
    assert not any("#NAME" in cell for row in shown for cell in row)


def test_demo_market_sizing_shows_counts_and_totals(demo) -> None:
    (_, sizing), folder = demo
    shown = libreoffice_sheets(sizing, folder)["Market sizing"]
    saved = load(sizing, data_only=True)["Market sizing"]
    grid = [[saved.cell(row=r, column=c).value for c in range(2, 7)] for r in range(7, 12)]
    header = next(i for i, row in enumerate(shown) if row[0].startswith("Seniority"))
    rows = shown[header + 1 : header + 6]
    assert [[int(v.replace(",", "")) for v in row[1:6]] for row in rows] == grid
    # LibreOffice computes the template's own SUM totals from the counts.
    assert [int(row[6].replace(",", "")) for row in rows] == [sum(r) for r in grid]
    assert not any("#NAME" in cell for row in shown for cell in row)


def test_lead_text_that_looks_like_a_formula_is_shown_as_text(sandbox, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    titles = ";".join(HOSTILE_TITLES)
    quoted = titles.replace('"', '""')
    ws["A1"] = f'=GENERECT_SEARCH({{"Job titles","{quoted}"}},60,0,"full_name,job_title")'
    book = save(wb, tmp_path / "hostile.xlsx")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "home"))
    summary = refresh_workbook(book, engine, confirm=lambda quote: True)
    assert summary.ok and summary.rows > 0
    saved = load(book)["Leads"]
    written = [saved.cell(row=r, column=2).value for r in range(3, 3 + summary.rows)]
    assert set(HOSTILE_TITLES) <= set(written)  # every kind came back from the sandbox
    shown = libreoffice_sheets(book, tmp_path)["Leads"]
    assert [row[1] for row in shown[2 : 2 + summary.rows]] == written
    assert "3" not in [row[1] for row in shown]  # =1+2 was never computed


# LibreOffice's error values as it displays them (and its own "Err:NNN" codes), and the
# refresher's own error line: none of them may show in a template, fresh or refreshed.
ERROR_VALUE = re.compile(r"#NAME\?|#VALUE!|#REF!|#DIV/0!|#N/A|#NUM!|#NULL!|#SPILL!|Err:\d+")


def error_cells(sheets: dict[str, list[list[str]]]) -> list[str]:
    return [
        f"{sheet}!{get_column_letter(c + 1)}{r + 1}: {text}"
        for sheet, rows in sheets.items()
        for r, row in enumerate(rows)
        for c, text in enumerate(row)
        if ERROR_VALUE.fullmatch(text) or text.startswith(CELL_ERROR_PREFIX)
    ]


@pytest.fixture(scope="module")
def template_books(tmp_path_factory: pytest.TempPathFactory) -> TemplateBooks:
    return refresh_templates(tmp_path_factory.mktemp("lo-templates"))


def test_every_template_fresh_and_refreshed_shows_no_error_in_libreoffice(
    template_books: TemplateBooks, tmp_path: Path
) -> None:
    """What a person opening each template in LibreOffice sees: no error value on any sheet,
    "Not fetched yet" where a fresh template has a Generect formula, and after a refresh the
    status lines, the leads and the money, as the cells' formats show them."""
    fresh = libreoffice_books(list(template_books.fresh.values()), tmp_path / "fresh")
    refreshed = libreoffice_books(list(template_books.refreshed.values()), tmp_path / "refreshed")
    for name in TEMPLATES:
        for shown in (fresh[name], refreshed[name]):
            assert set(shown) >= set(load(template_books.fresh[name]).sheetnames)
            assert error_cells(shown) == [], name
        for ws, coord, _ in generect_formula_cells(load(template_books.fresh[name])):
            row, column = coordinate_to_tuple(coord)
            assert fresh[name][ws][row - 1][column - 1] == NOT_FETCHED, f"{name} {ws}!{coord}"
        for ws, coord, text in generect_formula_cells(load(template_books.refreshed[name])):
            row, column = coordinate_to_tuple(coord)
            if text.startswith("=GENERECT_SEARCH"):
                sheet = refreshed[name][ws]
                assert sheet[row - 1][column - 1].startswith("Generect"), f"{name} {ws}!{coord}"
                assert sheet[row][column - 1] == "full_name" and sheet[row + 1][column - 1]
    lead_list = refreshed["lead-list"]["Lead list"]
    assert lead_list[17][1] == "$100.00"  # Account balance, the sandbox's opening balance
    assert lead_list[15][1] == "$0.50" and lead_list[16][1] == "$0.00"  # worst case, spent


def test_the_dynamic_array_form_is_what_shows_name_errors(tmp_path: Path) -> None:
    """Why the templates' searches are plain formulas: the same search stored as an Excel 365
    dynamic array (spill="dynamic") shows #NAME? in LibreOffice, which recalculates every
    array formula on open; the check above finds it."""
    dynamic = write_workbook(
        build_template("lead-list"), tmp_path / "dynamic.xlsx", spill="dynamic"
    )
    shown = libreoffice_books([dynamic], tmp_path)["dynamic"]
    assert error_cells(shown) == ["Lead list!A21: #NAME?"]
