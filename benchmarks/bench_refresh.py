"""Figure 3, cold refresh of a workbook: 60 distinct GENERECT_SEARCH formulas, 250 ms API latency.

``generect-excel refresh`` run as a process of its own, as the analyst runs it, on a workbook
none of whose questions is stored: the command starts, reads the workbook, prices the calls,
runs them concurrently and writes the results to a new file. Both sides allow Generect's real
cap on lead searches in flight, 50 per key and IP (FACTS.md): the sandbox answers 429 above it
and ``max_parallel`` is 50 (its maximum). The figure is the wall time of the whole command as
a ratio of the ideal ``ceil(formulas / 50) x 0.25 s`` (target at most 1.3): 0.5 s for 60
formulas, less than the interpreter's start-up, which is shown beside it (the same command on
a workbook without formulas). Also the speed-up over running the same number of cold requests
one after another (sequential ``Engine.search`` calls in this process). The figure has its own
store; each run gets a workbook asking other pages (its own offsets), so every request is cold.

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
CAP = 50  # Generect's lead-search cap in flight per key and IP; max_parallel's maximum
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


def _refresh_once(server: Any, home: Path, book: Path, formulas: int) -> S.Process:
    """One ``generect-excel refresh`` process; checks it made ``formulas`` cold calls."""
    env = S.cli_environment(server, home, max_parallel=CAP)
    before = len(server.billable_calls())
    out = book.with_name("refreshed-" + book.name)
    done = S.run_cli(["refresh", str(book), "-o", str(out), "--yes"], env)
    calls = len(server.billable_calls()) - before
    if done.returncode != 0 or calls != formulas:
        raise RuntimeError(
            f"unexpected refresh (exit {done.returncode}, {calls} API calls):"
            f" {done.stdout[-1000:]} {done.stderr[-1000:]}"
        )
    return done


def _startup_once(server: Any, home: Path, folder: Path) -> S.Process:
    """The same command on a workbook without formulas: what every run pays before working."""
    from openpyxl import Workbook

    path = folder / "no-formulas.xlsx"
    if not path.exists():
        wb = Workbook()
        wb.active["A1"] = "No formulas here"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb.save(path)
    env = S.cli_environment(server, home, max_parallel=CAP)
    done = S.run_cli(["refresh", str(path), "-o", str(folder / "no-formulas-out.xlsx")], env)
    if done.returncode != 0:
        raise RuntimeError(f"start-up run failed: {done.stdout} {done.stderr}")
    return done


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
        S.sandbox(latency=S.API_LATENCY, max_parallel=CAP) as server,
        S.fresh_home() as home,
        S.fresh_home() as folder,
    ):
        from generect_excel.engine import Engine
        from generect_excel.functions import request_for_search

        books = [
            build_workbook(folder / f"searches-{n}.xlsx", formulas, n) for n in range(runs + 1)
        ]
        # Warm-up: the store file and the sandbox, as on any day but the first.
        Engine(S.settings(server, home)).search(request_for_search([["Seniority", "VP"]]))
        done = [_refresh_once(server, home, book, formulas) for book in books[:runs]]
        starts = [_startup_once(server, home, folder) for _ in range(runs)]
        sequential = _sequential_once(server, home, books[runs])
    walls = [p.seconds for p in done]
    ideal = math.ceil(formulas / CAP) * S.API_LATENCY
    wall = S.median(walls)
    startup = S.median([p.seconds for p in starts])
    ratio = wall / ideal
    speedup = sequential / wall
    return {
        "figure": "3",
        "formulas": formulas,
        "parallel_cap": CAP,
        "ideal_s": ideal,
        "wall_s": walls,
        "peak_mb": [p.peak_mb for p in done],
        "startup_s": [p.seconds for p in starts],
        "sequential_s": sequential,
        "ratio": ratio,
        "speedup": speedup,
        "rows": [
            S.row(
                "3",
                f"cold refresh, {formulas} formulas, CLI process, cap {CAP}: wall / ideal"
                f" ceil({formulas}/{CAP}) x 0.25 s",
                f"{ratio:.2f} ({wall:.2f} s / {ideal:.2f} s; start-up alone {startup:.2f} s)",
                spread=S.spread([w / ideal for w in walls], "", 2),
                runs=runs,
                limit=f"<= {TARGET_RATIO}",
                ratio=ratio / TARGET_RATIO,
                value=ratio,
            ),
            S.row(
                "3",
                f"cold refresh, {formulas} formulas: wall above start-up / ideal",
                f"{max(wall - startup, 0.0) / ideal:.2f} ({max(wall - startup, 0.0):.2f} s)",
                runs=runs,
                value=max(wall - startup, 0.0) / ideal,
            ),
            S.row(
                "3",
                f"cold refresh, {formulas} formulas: speed-up over one at a time",
                f"x {speedup:.1f} ({sequential:.2f} s sequential)",
                runs=1,
                limit=f"(x {min(CAP, formulas)} at best)",
                value=speedup,
            ),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "16 formulas, 2 refreshes", argv)


if __name__ == "__main__":
    sys.exit(main())
