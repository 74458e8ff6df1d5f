"""Figure 3, cold refresh of a workbook: 60 distinct GENERECT_SEARCH formulas, 250 ms API latency.

``generect-excel refresh`` of a workbook none of whose questions is stored: the refresher
reads the workbook, prices the calls, runs them concurrently through the engine
(``settings.max_parallel`` at a time) and writes the results to a new file. The figure is the
wall time of the whole refresh as a ratio of the ideal ``ceil(formulas / parallel cap) x
0.25 s`` (target at most 1.3), and the speed-up over running the same number of cold requests
one after another (sequential ``Engine.search`` calls). The figure has its own empty store;
each run gets a workbook asking other pages (its own offsets), so every request is cold, and
a fresh engine, as each ``generect-excel refresh`` command starts one.

    python benchmarks/bench_refresh.py            # 60 formulas, 5 refreshes, 1 sequential run
    python benchmarks/bench_refresh.py --quick    # 16 formulas, 2 refreshes, 1 sequential run
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import _support as S

TARGET_RATIO = 1.3
ROWS_PER_FORMULA = 10
TITLES = ["Marketing", "Sales", "Engineer", "Product", "Finance", "Operations", "Data", "HR"]
SENIORITIES = ["Director", "Manager", "Senior", "VP", "Entry", "C-Suite", "Owner", "Partner"]


def build_workbook(path: Path, formulas: int, page: int = 0) -> Path:
    """A workbook as an analyst builds it: a criteria block per search on one sheet, and
    ``formulas`` distinct ``=GENERECT_SEARCH(block, 10, offset)`` with room to spill on
    another. ``page`` shifts every offset (another run's workbook asks other questions)."""
    from openpyxl import Workbook

    wb = Workbook()
    leads = wb.active
    leads.title = "Leads"
    criteria = wb.create_sheet("Criteria")
    for n in range(formulas):
        top = 1 + 3 * n
        criteria.cell(top, 1, "Job titles")
        criteria.cell(top, 2, TITLES[n % len(TITLES)])
        criteria.cell(top + 1, 1, "Seniority")
        criteria.cell(top + 1, 2, SENIORITIES[(n // len(TITLES)) % len(SENIORITIES)])
        offset = ROWS_PER_FORMULA * (page + n // (len(TITLES) * len(SENIORITIES)))
        leads.cell(
            1 + (ROWS_PER_FORMULA + 3) * n,
            1,
            f"=GENERECT_SEARCH(Criteria!A{top}:B{top + 1},{ROWS_PER_FORMULA},{offset})",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb.save(path)
    return path


def _refresh_once(server: Any, home: Path, book: Path, formulas: int) -> float:
    from generect_excel.engine import Engine
    from generect_excel.workbook.refresher import refresh_workbook

    engine = Engine(S.settings(server, home))
    before = len(server.billable_calls())
    start = time.perf_counter()
    summary = refresh_workbook(
        book, engine, output=book.with_name("refreshed-" + book.name), confirm=lambda q: True
    )
    elapsed = time.perf_counter() - start
    calls = len(server.billable_calls()) - before
    if not summary.ok or summary.new != formulas or calls != formulas:
        raise RuntimeError(f"unexpected refresh: {summary.lines()} ({calls} API calls)")
    return elapsed


def _sequential_once(server: Any, home: Path, book: Path) -> float:
    from generect_excel.engine import Engine
    from generect_excel.workbook.refresher import plan_refresh

    requests = [query.request for query in plan_refresh(book).runnable]
    engine = Engine(S.settings(server, home))
    before = len(server.billable_calls())
    start = time.perf_counter()
    for request in requests:
        engine.search(request)
    elapsed = time.perf_counter() - start
    if len(server.billable_calls()) - before != len(requests):
        raise RuntimeError("the sequential requests were not all cold")
    return elapsed


def run(*, quick: bool = False) -> dict[str, Any]:
    """Refresh the workbook cold several times, then run its requests one by one once."""
    formulas, runs = (16, 2) if quick else (60, 5)
    with (
        S.sandbox(latency=S.API_LATENCY) as server,
        S.fresh_home() as home,
        S.fresh_home() as folder,
    ):
        from generect_excel.engine import Engine
        from generect_excel.functions import request_for_search

        books = [
            build_workbook(folder / f"searches-{n}.xlsx", formulas, n) for n in range(runs + 1)
        ]
        # Warm-up: the store file and the HTTP client's connections, as on any day but the first.
        Engine(S.settings(server, home)).search(request_for_search([["Seniority", "VP"]]))
        cap = S.settings(server, home).max_parallel
        walls = [_refresh_once(server, home, book, formulas) for book in books[:runs]]
        sequential = _sequential_once(server, home, books[runs])
    ideal = math.ceil(formulas / cap) * S.API_LATENCY
    wall = S.median(walls)
    ratio = wall / ideal
    speedup = sequential / wall
    return {
        "figure": "3",
        "formulas": formulas,
        "parallel_cap": cap,
        "ideal_s": ideal,
        "wall_s": walls,
        "sequential_s": sequential,
        "ratio": ratio,
        "speedup": speedup,
        "rows": [
            S.row(
                "3",
                f"cold refresh, {formulas} formulas: wall / ideal ceil({formulas}/{cap}) x 0.25 s",
                f"{ratio:.2f} ({wall:.2f} s / {ideal:.2f} s)",
                spread=S.spread([w / ideal for w in walls], "", 2),
                runs=runs,
                limit=f"<= {TARGET_RATIO}",
                ratio=ratio / TARGET_RATIO,
                value=ratio,
            ),
            S.row(
                "3",
                f"cold refresh, {formulas} formulas: speed-up over one at a time",
                f"x {speedup:.1f} ({sequential:.2f} s sequential)",
                runs=1,
                limit=f"(x {cap} at best)",
                value=speedup,
            ),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "16 formulas, 2 refreshes", argv)


if __name__ == "__main__":
    sys.exit(main())
