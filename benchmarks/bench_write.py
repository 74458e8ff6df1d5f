"""Figure 4, second half: writing 2,400 x 12 results into a workbook and saving it.

The refresher's writer (:func:`generect_excel.workbook.refresher.write_results`: XML patch of
the worksheet, spill records, atomic replace) puts one GENERECT_SEARCH's full page, 2,400
messy lead rows shaped into 12 columns (plus the status and header rows), under its formula
and saves the file. The workbook is read and planned once; each run writes a new file.

    python benchmarks/bench_write.py            # 7 runs
    python benchmarks/bench_write.py --quick    # 2 runs
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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
        for n in range(runs):
            target = folder / f"written-{n}.xlsx"
            start = time.perf_counter()
            report = write_results(plan, target)
            timings.append((time.perf_counter() - start) * 1000)
            if report.blocked:
                raise RuntimeError(f"the spill was blocked: {report.blocked}")
        size = target.stat().st_size
    median = S.median(timings)
    return {
        "figure": "4",
        "rows": [
            S.row(
                "4",
                f"write {len(table) - 2:,} x {len(table[0])} results (+ status, header) into"
                " a workbook and save it",
                f"{median:.0f} ms",
                spread=S.spread(timings, " ms", 0),
                runs=runs,
                limit="(no target)",
                value=median,
            )
        ],
        "median_ms": median,
        "table_shape": [len(table), len(table[0])],
        "file_bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs instead of 7")
    args = parser.parse_args(argv)
    for line in run(quick=args.quick)["rows"]:
        print(f"{line['what']}: {line['measured']} ({line['spread']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
