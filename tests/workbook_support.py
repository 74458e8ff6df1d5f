"""Helpers for the refresher's tests: settings on the sandbox, workbook snapshots, LibreOffice."""

from __future__ import annotations

import csv
import shutil
import subprocess
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.formula import ArrayFormula

from generect_excel.formulas.xlsxpatch import SPILL_NAME_PREFIX
from generect_excel.settings import Settings, load_settings

LIBREOFFICE_TIMEOUT = 180  # seconds; the first start of a fresh profile is the slow part
# CSV export of every sheet (the 12th token, -1: one file per sheet, "BOOK-Sheet name.csv"):
# comma, double quote, UTF-8, and (the 9th token, true) each cell's text as shown, in its
# number format ("$0.50", not "0.5").
CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"


def sandbox_settings(
    sandbox: Any, home: Path, key: str = "test_refresh", **overrides: Any
) -> Settings:
    """Settings pointing at the sandbox with a store under ``home``; nothing from the user."""
    return load_settings(
        environ={},
        config_file=home / "no-config.toml",
        use_keyring=False,
        api_key=key,
        base_url=sandbox.url,
        home=home,
        **overrides,
    )


def save(wb: Workbook, path: Path) -> Path:
    wb.save(path)
    return path


def load(path: Path, **kwargs: Any) -> Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_workbook(path, **kwargs)


def _formula_text(value: Any) -> Any:
    if isinstance(value, ArrayFormula):
        return ("array", value.text)
    return value


def snapshot(
    path: Path, *, outside: dict[str, list[tuple[int, int, int, int]]] | None = None
) -> dict:
    """Everything openpyxl sees in a workbook, except cells inside ``outside[sheet]`` areas:
    cell values and formulas, styles, number formats, column widths, row heights, merged
    cells, data validations, conditional formats, defined names (the refresher's own
    ``_GENERECT_SPILL_*`` records left out), sheet order and state."""
    outside = outside or {}
    wb = load(path)
    data: dict[str, Any] = {"sheets": [(ws.title, ws.sheet_state) for ws in wb.worksheets]}
    data["names"] = sorted((name, dn.attr_text) for name, dn in wb.defined_names.items())
    for ws in wb.worksheets:
        areas = outside.get(ws.title, [])
        cells = {}
        for row in ws.iter_rows():
            for cell in row:
                if any(
                    c1 <= cell.column <= c2 and r1 <= cell.row <= r2 for c1, r1, c2, r2 in areas
                ):
                    continue
                if cell.value is None and not cell.has_style:
                    continue
                cells[cell.coordinate] = (
                    _formula_text(cell.value),
                    cell.style,
                    cell.number_format,
                    repr(cell.font),
                    repr(cell.fill),
                    repr(cell.border),
                    repr(cell.alignment),
                    repr(cell.protection),
                )
        data[ws.title] = {
            "cells": cells,
            "widths": {k: (d.width, d.hidden) for k, d in ws.column_dimensions.items()},
            "heights": {k: d.height for k, d in ws.row_dimensions.items() if k not in _rows(areas)},
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "validations": sorted(
                (dv.type, dv.formula1, str(dv.sqref)) for dv in ws.data_validations.dataValidation
            ),
            "conditional": sorted(str(r.sqref) for r in ws.conditional_formatting),
            "names": sorted(
                (name, dn.attr_text)
                for name, dn in ws.defined_names.items()
                if not name.upper().startswith(SPILL_NAME_PREFIX)
            ),
            "charts": len(ws._charts),
            "freeze": ws.freeze_panes,
        }
    return data


def _rows(areas: list[tuple[int, int, int, int]]) -> set[int]:
    return {r for _, r1, _, r2 in areas for r in range(r1, r2 + 1)}


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def soffice() -> str:
    """The LibreOffice binary (CI installs libreoffice-calc); fails loudly when missing."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    assert found, "LibreOffice (soffice) is required: apt-get install libreoffice-calc"
    return found


def libreoffice_sheets(book: Path, workdir: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``book`` as LibreOffice itself shows it (CSV of the displayed text)."""
    out = workdir / f"csv-{book.stem}"
    out.mkdir(parents=True, exist_ok=True)
    profile = workdir / "lo-profile"
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile.resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            CSV_ALL_SHEETS,
            "--outdir",
            str(out),
            str(book),
        ],
        check=True,
        capture_output=True,
        timeout=LIBREOFFICE_TIMEOUT,
    )
    sheets = {}
    for path in out.glob(f"{book.stem}-*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            sheets[path.stem[len(book.stem) + 1 :]] = list(csv.reader(fh))
    assert sheets, f"LibreOffice wrote no CSV for {book}"
    return sheets


def libreoffice_books(books: list[Path], workdir: Path) -> dict[str, dict[str, list[list[str]]]]:
    """:func:`libreoffice_sheets` for several books (distinct file names) in one soffice run:
    book stem -> sheet name -> rows of displayed text."""
    out = workdir / "csv"
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={(workdir / 'lo-profile').resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            CSV_ALL_SHEETS,
            "--outdir",
            str(out),
            *map(str, books),
        ],
        check=True,
        capture_output=True,
        timeout=LIBREOFFICE_TIMEOUT,
    )
    shown: dict[str, dict[str, list[list[str]]]] = {}
    for book in books:
        for path in out.glob(f"{book.stem}-*.csv"):
            with path.open(encoding="utf-8", newline="") as fh:
                shown.setdefault(book.stem, {})[path.stem[len(book.stem) + 1 :]] = list(
                    csv.reader(fh)
                )
        assert book.stem in shown, f"LibreOffice wrote no CSV for {book}"
    return shown


@dataclass
class TemplateBooks:
    """Every template written fresh, and a copy of each refreshed against the sandbox."""

    fresh: dict[str, Path]
    refreshed: dict[str, Path]
    summaries: dict[str, Any]
    logs: dict[str, list[dict[str, Any]]]  # the sandbox's request log of each refresh


def refresh_templates(folder: Path) -> TemplateBooks:
    """Write every template to ``folder/fresh`` and ``folder/refreshed``, and refresh the
    second copies against the sandbox a new user runs: :class:`SandboxConfig`'s own seed and
    size, which ``generect-excel sandbox`` and the demo serve (realtime answers without their
    pause), with a test key (priced, never debited)."""
    from generect_excel.engine import Engine
    from generect_excel.sandbox import Sandbox, SandboxConfig
    from generect_excel.templates import TEMPLATES, write_template
    from generect_excel.workbook.refresher import refresh_workbook

    books = TemplateBooks({}, {}, {}, {})
    with Sandbox(SandboxConfig(realtime_latency=0.0)) as sandbox:
        engine = Engine(sandbox_settings(sandbox, folder / "home", key="test_templates"))
        for name in TEMPLATES:
            books.fresh[name] = write_template(name, folder / "fresh" / f"{name}.xlsx")
            path = write_template(name, folder / "refreshed" / f"{name}.xlsx")
            sandbox.reset()
            books.summaries[name] = refresh_workbook(path, engine, confirm=lambda quote: True)
            books.logs[name] = sandbox.log_entries()
            books.refreshed[name] = path
    return books
