"""Figure 4, second half: writing 2,400 x 12 results into a workbook and saving it; and how
writing scales with the number of formulas.

The refresher's writer (:func:`generect_excel.workbook.refresher.write_results`: XML patch of
the worksheet, spill records, atomic replace) puts one GENERECT_SEARCH's full page, 2,400
messy lead rows shaped into 12 columns (plus the status and header rows), under its formula
and saves the file. The workbook is read and planned once; each run writes a new file. Peak
memory is the growth of the process's resident set during the write (Linux: the peak is reset
through ``/proc/self/clear_refs`` before each run; elsewhere ``ru_maxrss``, which never resets).

``--scale`` measures ``write_results`` alone for workbooks of 100, 1,000 and 3,000
GENERECT_SEARCH formulas (each spilling 25 rows x 11 columns, its criteria block beside it,
half of them distinct), each size in a fresh process: "refresh" rewrites tables already in the
file (as every refresh after the first), "first" writes them into a sheet that has only the
criteria and formulas (new rows inserted). It prints medians, peak memory and the fitted growth
exponent (least squares on log-log).

    python benchmarks/bench_write.py            # 7 runs
    python benchmarks/bench_write.py --quick    # 2 runs
    python benchmarks/bench_write.py --scale    # 100 / 1,000 / 3,000 formulas, 3 runs each
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import math
import os
import subprocess
import sys
import time
import warnings
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import _support as S
from bench_table import messy_rows

ROWS = 2400
FIELDS = (
    "full_name, first_name, last_name, job_title, headline, company, industry, location, "
    "linkedin_url, company_linkedin_url, company_website, lead_id"
)


def build_workbook(path: Path) -> Path:
    """A criteria block, and ``=GENERECT_SEARCH(...)`` asking for 2,400 rows in 12 columns."""
    from openpyxl import Workbook

    wb = Workbook()
    sheet = wb.active
    sheet.title = "Leads"
    sheet["A1"] = "Seniority"
    sheet["B1"] = "Director"
    sheet["A3"] = f'=GENERECT_SEARCH(A1:B1,{ROWS},0,"{FIELDS}")'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb.save(path)
    return path


def run(*, quick: bool = False) -> dict[str, Any]:
    """Time ``write_results`` of a 2,402 x 12 spill; return the figure."""
    from generect_excel.functions import Outcome
    from generect_excel.table import SearchInfo, parse_fields, search_table
    from generect_excel.workbook.refresher import plan_refresh, write_results

    runs = 2 if quick else 7
    info = SearchInfo(
        results_count=125_000,
        rows=ROWS,
        amount_charged=Decimal("48.00"),
        fetched_at=datetime.now(UTC),
        from_cache=False,
        test_mode=True,
        mode="database",
    )
    table = search_table(messy_rows(ROWS), info, parse_fields(FIELDS))
    timings = []
    with S.fresh_home() as folder:
        plan = plan_refresh(build_workbook(folder / "one-big-search.xlsx"))
        (query,) = plan.queries
        query.outcome = Outcome(table)
        peaks = []
        for n in range(runs):
            target = folder / f"written-{n}.xlsx"
            base = _reset_peak()
            start = time.perf_counter()
            report = write_results(plan, target)
            timings.append((time.perf_counter() - start) * 1000)
            peaks.append(_peak_kb() - base)
            if report.blocked:
                raise RuntimeError(f"the spill was blocked: {report.blocked}")
        size = target.stat().st_size
    median = S.median(timings)
    peak_mb = max(peaks) / 1024
    return {
        "figure": "4",
        "rows": [
            S.row(
                "4",
                f"write {len(table) - 2:,} x {len(table[0])} results (+ status, header) into"
                " a workbook and save it",
                f"{median:.0f} ms, peak +{peak_mb:.0f} MB",
                spread=S.spread(timings, " ms", 0),
                runs=runs,
                limit="(no target)",
                value=median,
            )
        ],
        "median_ms": median,
        "peak_mb": peak_mb,
        "table_shape": [len(table), len(table[0])],
        "file_bytes": size,
    }


# --------------------------------------------------------------------------- peak memory


def _status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` figure in kB (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> int:
    """Reset the peak resident set where the system allows it; return the baseline in kB
    (the current RSS after a reset, else the peak so far: a growth then counts only above it).
    Memory freed earlier is first handed back to the system (glibc's ``malloc_trim``), so the
    write's own allocations show as growth instead of reusing it unseen."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return _peak_kb()
    return _status_kb("VmRSS") or _peak_kb()


def _peak_kb() -> int:
    peak = _status_kb("VmHWM")
    if peak is not None:
        return peak
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --------------------------------------------------------------------------- scaling

SCALE_SIZES = (100, 1_000, 3_000)
QUICK_SCALE_SIZES = (50, 200, 400)
SCALE_RUNS = 3
SCALE_FIELDS = (
    "full_name, first_name, last_name, job_title, headline, company, industry, location, "
    "linkedin_url, company_website, lead_id"
)
SCALE_LEADS = 23  # + status and header rows: 25 rows x 11 columns per table
BLOCK_ROWS = SCALE_LEADS + 4  # each table, then two empty rows before the next block
SHEET = "Leads"
_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _scale_table() -> list[list[Any]]:
    from generect_excel.table import SearchInfo, parse_fields, search_table

    info = SearchInfo(
        results_count=125_000,
        rows=SCALE_LEADS,
        amount_charged=Decimal("0.69"),
        fetched_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        from_cache=False,
        test_mode=True,
        mode="database",
    )
    return search_table(messy_rows(SCALE_LEADS), info, parse_fields(SCALE_FIELDS))


def _formula_row(i: int) -> int:
    return i * BLOCK_ROWS + 1


def _formula(row: int) -> str:
    return f'GENERECT_SEARCH(A{row}:B{row + 1},{SCALE_LEADS},0,"{SCALE_FIELDS}")'


def _xml_cell(ref: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="str"><v>{escape(str(value))}</v></c>'


def make_scale_workbook(path: Path, formulas: int, *, prefilled: bool) -> Path:
    """A sheet of ``formulas`` GENERECT_SEARCH formulas in D, each with its criteria block in
    A:B beside it (half of them distinct); ``prefilled``: each table (25 x 11) already written
    under its formula and recorded, as after a refresh. Written as raw XML: openpyxl would take
    longer than the measurement."""
    from openpyxl.utils.cell import get_column_letter

    table = _scale_table()
    letters = [get_column_letter(4 + c) for c in range(len(table[0]))]
    rows: list[str] = []
    names: list[str] = []
    for i in range(formulas):
        r0 = _formula_row(i)
        criteria = {r0: ("Seniority", f"Director {i // 2}"), r0 + 1: ("Location", "Berlin")}
        for dr in range(len(table) if prefilled else 2):
            r = r0 + dr
            cells = []
            if r in criteria:
                label, value = criteria[r]
                cells.append(_xml_cell(f"A{r}", label) + _xml_cell(f"B{r}", value))
            if dr == 0:
                status = escape(str(table[0][0])) if prefilled else "Not fetched yet"
                cells.append(f'<c r="D{r}" t="str"><f>{escape(_formula(r))}</f><v>{status}</v></c>')
                start = 1
            else:
                start = 0
            if prefilled:
                values = table[dr]
                cells.extend(
                    _xml_cell(f"{letters[c]}{r}", values[c]) for c in range(start, len(values))
                )
            rows.append(f'<row r="{r}">{"".join(cells)}</row>')
        if prefilled:
            last = f"${letters[-1]}${r0 + len(table) - 1}"
            names.append(
                f'<definedName name="_GENERECT_SPILL_{i + 1}" localSheetId="0" hidden="1">'
                f"{SHEET}!$D${r0}:{last}</definedName>"
            )
    last_row = _formula_row(formulas - 1) + (len(table) if prefilled else 2) - 1
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{letters[-1]}{last_row}"/>'
        f"<sheetData>{''.join(rows)}</sheetData></worksheet>"
    )
    defined = f"<definedNames>{''.join(names)}</definedNames>" if names else ""
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<workbook xmlns="{_MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships"><sheets><sheet name="{SHEET}" sheetId="1" r:id="rId1"/></sheets>'
        f'{defined}<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CT)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def _scale_plan(path: Path, formulas: int) -> Any:
    """The evaluated plan of :func:`make_scale_workbook`'s file, built directly (reading the
    file is measured elsewhere): every search answered with its 25 x 11 table."""
    from generect_excel.formulas.plan import Plan, Query
    from generect_excel.formulas.references import FormulaCell
    from generect_excel.functions import Outcome

    table = _scale_table()
    queries = []
    for i in range(formulas):
        r = _formula_row(i)
        cell = FormulaCell(SHEET, f"D{r}", r, 4, "=" + _formula(r), saved=table[0][0])
        queries.append(Query(cell, "GENERECT_SEARCH", written=True, outcome=Outcome(table)))
    stat = path.stat()
    return Plan(path, queries, (stat.st_size, stat.st_mtime_ns))


def _child(path: Path, formulas: int, mode: str, runs: int) -> dict[str, Any]:
    """In a fresh process: time and peak memory of ``write_results`` for ``runs`` runs."""
    from generect_excel.workbook.refresher import write_results

    plan = _scale_plan(path, formulas)
    timings, peaks = [], []
    for n in range(runs):
        target = path.with_name(f"written-{n}.xlsx")
        base = _reset_peak()
        start = time.perf_counter()
        report = write_results(plan, target)
        timings.append((time.perf_counter() - start) * 1000)
        peaks.append((_peak_kb() - base) / 1024)
        if report.blocked or report.cells_written != formulas * 25 * 11:
            raise RuntimeError(f"unexpected write: {report}")
        target.unlink()
    return {"ms": timings, "peak_mb": peaks, "file_bytes": path.stat().st_size}


def _exponent(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def run_scale(*, quick: bool = False) -> dict[str, Any]:
    """``write_results`` for growing workbooks (each size in a fresh process): medians, peak
    memory, growth exponent, for "refresh" (tables already there) and "first" (new rows)."""
    sizes = QUICK_SCALE_SIZES if quick else SCALE_SIZES
    runs = 2 if quick else SCALE_RUNS
    series: dict[str, list[dict[str, Any]]] = {}
    lines = []
    env = dict(os.environ)
    with S.fresh_home() as folder:
        for mode in ("refresh", "first"):
            for formulas in sizes:
                book = make_scale_workbook(
                    folder / f"{mode}-{formulas}.xlsx", formulas, prefilled=mode == "refresh"
                )
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        str(book),
                        str(formulas),
                        mode,
                        str(runs),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                )
                child = json.loads(out.stdout.strip().splitlines()[-1])
                median = S.median(child["ms"])
                point = {
                    "formulas": formulas,
                    "median_ms": median,
                    "ms_per_formula": median / formulas,
                    "peak_mb": max(child["peak_mb"]),
                    "file_bytes": child["file_bytes"],
                    "runs": runs,
                }
                series.setdefault(mode, []).append(point)
                lines.append(
                    f"{mode:8} {formulas:>6,} formulas ({child['file_bytes'] / 1e6:.2f} MB file):"
                    f" {median:9.0f} ms median ({S.spread(child['ms'], ' ms', 0)}),"
                    f" {median / formulas:.3f} ms/formula, peak +{point['peak_mb']:.0f} MB"
                )
            exponent = _exponent([(p["formulas"], p["median_ms"]) for p in series[mode]])
            memory = _exponent([(p["formulas"], max(p["peak_mb"], 1)) for p in series[mode]])
            lines.append(f"{mode:8} growth exponent: time {exponent:.2f}, peak memory {memory:.2f}")
    return {"series": series, "lines": lines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs instead of 7")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="write_results for 100, 1,000, 3,000 formulas (with --quick: 50, 200, 400)",
    )
    parser.add_argument("--child", nargs=4, metavar=("PATH", "FORMULAS", "MODE", "RUNS"))
    args = parser.parse_args(argv)
    if args.child:
        path, formulas, mode, runs = args.child
        print(json.dumps(_child(Path(path), int(formulas), mode, int(runs))))
        return 0
    if args.scale:
        for line in run_scale(quick=args.quick)["lines"]:
            print(line)
        return 0
    for line in run(quick=args.quick)["rows"]:
        print(f"{line['what']}: {line['measured']} ({line['spread']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
