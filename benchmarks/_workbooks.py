"""Workbooks at scale for the figures: many GENERECT_SEARCH formulas, each with its spilled
table already in the file, as a refresh leaves it.

    make_workbook(path, 3000, "beside")          # ~3 MB, 3,000 formulas, 1,500 distinct

Two layouts (issue 16 measures both):

- ``"criteria_sheet"``: every search's criteria block (2 rows) on a sheet ``Criteria``, the
  formulas on a sheet ``Leads``, one under the other with room for their tables.
- ``"beside"``: one sheet ``Lead list``; each search's criteria block (columns A:C) sits
  beside its table (from column E), as in the lead-list template (``workbook_templates/``)
  repeated down the sheet: every argument is a range on the sheet that holds all the tables.

Half the formulas are distinct: formulas ``2k`` and ``2k + 1`` have criteria blocks with the
same values (and the same limit and offset), so a refresh asks ``ceil(formulas / 2)`` distinct
requests. The criteria (job title x seniority, then an offset by pages of ``rows``) are ones
the sandbox answers; ``page`` shifts every offset, so that another workbook of the same size
asks other questions (a cold refresh).

The tables are written with the refresher's own patcher (``spill="static"``): the formula
cell caches the status line, the header and ``rows`` lead rows (11 columns) are plain values
under it, and the extent is recorded in a hidden ``_GENERECT_SPILL_<n>`` name, exactly what
``generect-excel refresh`` writes. The lead values are synthetic (no store is filled): a
refresh reads the file as it would after a real one, then asks the store or the API.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

LAYOUTS = ("criteria_sheet", "beside")
Layout = Literal["criteria_sheet", "beside"]

ROWS = 25  # leads per search (the lead-list template's limit)
TITLES = ["Marketing", "Sales", "Engineer", "Product", "Finance", "Operations", "Data", "HR"]
SENIORITIES = ["Director", "Manager", "Senior", "VP", "Entry", "C-Suite", "Owner", "Partner"]
GAP = 1  # empty rows between one table and the next

__all__ = ["LAYOUTS", "ROWS", "make_workbook", "search_count"]


def search_count(formulas: int) -> int:
    """How many distinct requests a workbook of ``formulas`` formulas asks."""
    return (formulas + 1) // 2


def _criteria(query: int) -> tuple[str, str]:
    """(job title, seniority) of distinct query ``query`` (64 pairs, then the next page)."""
    return TITLES[query % len(TITLES)], SENIORITIES[(query // len(TITLES)) % len(SENIORITIES)]


def _offset(query: int, page: int, rows: int) -> int:
    return rows * (page + query // (len(TITLES) * len(SENIORITIES)))


def _table(query: int, rows: int, header: tuple[str, ...]) -> list[list[object]]:
    """A search's table as the function shows it: status line, header, ``rows`` leads."""
    status = (
        f"Generect · {1_000 + query:,} matches · {rows} rows · ${rows * 0.02:.2f} charged · "
        "fetched 2026-11-22 10:31 UTC"
    )
    table: list[list[object]] = [[status] + [None] * (len(header) - 1), list(header)]
    for n in range(rows):
        lead = f"{query}-{n}"
        table.append(
            [
                f"First{lead}",
                f"Last{lead}",
                f"Head of {TITLES[query % len(TITLES)]}",
                SENIORITIES[(query // len(TITLES)) % len(SENIORITIES)],
                f"Company {query % 97}",
                f"company{query % 97}.example",
                "Berlin, Germany" if n % 2 else "Austin, Texas, United States",
                "Software Development",
                "51-200",
                f"https://www.linkedin.com/in/lead-{lead}",
                f"lead-{lead}",
            ][: len(header)]
            + [None] * max(0, len(header) - 11)
        )
    return table


def make_workbook(
    path: str | Path,
    formulas: int,
    layout: Layout,
    *,
    rows: int = ROWS,
    page: int = 0,
) -> Path:
    """Write a workbook of ``formulas`` GENERECT_SEARCH formulas in ``layout`` at ``path``,
    each with a table of ``rows`` leads already spilled under it; return the path."""
    from openpyxl import Workbook

    from generect_excel.formulas.xlsxpatch import CellResult, Package, patch_workbook
    from generect_excel.formulas.xlsxpatch.package import write_atomically
    from generect_excel.table import DEFAULT_COLUMNS

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    path = Path(path)
    height = 2 + rows + GAP  # status line, header, rows, gap
    wb = Workbook()
    results: list[CellResult] = []
    if layout == "criteria_sheet":
        leads = wb.active
        leads.title = "Leads"
        criteria = wb.create_sheet("Criteria")
    else:
        leads = wb.active
        leads.title = "Lead list"
        criteria = leads
    for n in range(formulas):
        query = n // 2
        title, seniority = _criteria(query)
        top = 1 + height * n
        if layout == "criteria_sheet":
            block_top = 1 + 3 * n
            criteria.cell(block_top, 1, "Job titles")
            criteria.cell(block_top, 2, title)
            criteria.cell(block_top + 1, 1, "Seniority")
            criteria.cell(block_top + 1, 2, seniority)
            block = f"Criteria!$A${block_top}:$B${block_top + 1}"
            column, coordinate = 1, f"A{top}"
        else:
            leads.cell(top, 1, "Job titles")
            leads.cell(top, 2, title)
            leads.cell(top + 1, 1, "Seniority")
            leads.cell(top + 1, 2, seniority)
            leads.cell(top + 2, 1, "Limit")
            leads.cell(top + 2, 2, rows)
            block = f"$A${top}:$C${top + 1}"
            column, coordinate = 5, f"E{top}"
        limit = f"$B${top + 2}" if layout == "beside" else str(rows)
        formula = f"GENERECT_SEARCH({block},{limit},{_offset(query, page, rows)})"
        leads.cell(top, column, "=" + formula)
        results.append(
            CellResult(
                sheet=leads.title,
                coordinate=coordinate,
                values=_table(query, rows, DEFAULT_COLUMNS),
                spilling=True,
                formula=formula,
            )
        )
    bare = path.with_name(path.stem + ".bare.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb.save(bare)
    try:
        package = Package(bare)
        parts, _report = patch_workbook(package, results, spill="static")
        write_atomically(package, parts, path)
    finally:
        bare.unlink(missing_ok=True)
    return path
