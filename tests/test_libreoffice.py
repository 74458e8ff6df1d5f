"""A real spreadsheet application sees the refreshed results: LibreOffice converts the files.

Each conversion exports every sheet as the text LibreOffice displays (CSV), with a private
profile, so what is asserted here is what an analyst opening the file in LibreOffice sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from generect_excel.demo import run_demo
from generect_excel.engine import Engine
from generect_excel.workbook.refresher import refresh_workbook
from workbook_support import libreoffice_sheets, load, sandbox_settings, save

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
