"""Figure 7, throttling: 60 distinct cold searches against a server that allows 5 in flight.

Generect caps lead calls in flight per key and source IP, so a team behind one office address
shares one cap: here the sandbox allows 5 in flight (more answer 429, without ``Retry-After``,
as live Generect does) and answers after 250 ms, while the client's own ``max_parallel`` is
the default 8. Two ways in, each on its own empty store, each run asking new questions:

- the worksheet functions: 60 threads (as Excel's threaded calculation calls them), released
  together, each calling ``GENERECT_SEARCH`` on its own criteria;
- ``generect-excel refresh`` of a workbook of 60 distinct ``GENERECT_SEARCH`` formulas.

Every one of the 60 must succeed (a single throttling error fails the figure). The figure is
the wall time as a ratio of the ideal ``ceil(60 / 5) x 0.25 s = 3 s`` (target at most 1.5),
median of several runs, with the number of 429 answers the sandbox sent. Each run starts from
a fresh process's state: the learned concurrency limit is forgotten first. Beside it, what
throttling itself costs: the throttled refresh against the same refresh with ``max_parallel``
set to the server's 5 (never throttled), run alternately with it.

    python benchmarks/bench_throttle.py            # 3 runs of each
    python benchmarks/bench_throttle.py --quick    # 2 runs of each
"""

from __future__ import annotations

import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _support as S
import bench_refresh

SEARCHES = 60
SERVER_CAP = 5
TARGET_RATIO = 1.5


def criteria_block(run: int, n: int) -> list[list[Any]]:
    """The ``n``-th cold question of run ``run``: one of 64 filter pairs, another page per run."""
    title = bench_refresh.TITLES[n % len(bench_refresh.TITLES)]
    seniority = bench_refresh.SENIORITIES[n // len(bench_refresh.TITLES)]
    return [["Job titles", title], ["Seniority", seniority], ["Offset", float(10 * run)]]


def _forget_learned_limits(*, new_process: bool = False) -> None:
    """Start a run as a fresh process would: no learned limit; for a refresh (a command of its
    own) no pooled connection either."""
    from generect_excel.client import close_shared_clients
    from generect_excel.throttle import reset_limiters

    reset_limiters()
    if new_process:
        close_shared_clients()


def _throttled(server: Any, before: int) -> int:
    return sum(1 for entry in server.log_entries()[before:] if entry["status"] == 429)


def _functions_once(udfs: Any, server: Any, run: int) -> tuple[float, int]:
    """60 threads released together; (wall seconds, 429s). Raises if any cell failed."""
    _forget_learned_limits()
    released: list[float] = []
    finished = [0.0] * SEARCHES
    answers: list[Any] = [None] * SEARCHES
    barrier = threading.Barrier(SEARCHES, action=lambda: released.append(time.perf_counter()))

    def cell(i: int) -> None:
        block = criteria_block(run, i)
        barrier.wait()
        answers[i] = udfs.GENERECT_SEARCH(block, 10)
        finished[i] = time.perf_counter()

    logged = len(server.log_entries())
    calls = len(server.billable_calls())
    threads = [threading.Thread(target=cell, args=(i,)) for i in range(SEARCHES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [a for a in answers if isinstance(a, str)]
    if errors:
        raise RuntimeError(f"{len(errors)} of {SEARCHES} cells failed, e.g. {errors[0]}")
    if len(server.billable_calls()) - calls != SEARCHES:
        raise RuntimeError("the 60 searches were not 60 cold calls")
    return max(finished) - released[0], _throttled(server, logged)


def _refresh_once(server: Any, home: Path, book: Path, **settings: Any) -> tuple[float, int]:
    """One cold ``refresh`` of a workbook of 60 formulas; (wall seconds, 429s)."""
    from generect_excel.engine import Engine
    from generect_excel.workbook.refresher import refresh_workbook

    _forget_learned_limits(new_process=True)
    engine = Engine(S.settings(server, home, **settings))
    logged = len(server.log_entries())
    calls = len(server.billable_calls())
    start = time.perf_counter()
    summary = refresh_workbook(
        book, engine, output=book.with_name("refreshed-" + book.name), confirm=lambda q: True
    )
    elapsed = time.perf_counter() - start
    if not summary.ok or summary.new != SEARCHES:
        raise RuntimeError(f"unexpected refresh: {summary.lines()}")
    if len(server.billable_calls()) - calls != SEARCHES:
        raise RuntimeError("the refresh did not make 60 cold calls")
    return elapsed, _throttled(server, logged)


def _row(what: str, walls: list[float], throttled: list[int], ideal: float) -> dict[str, Any]:
    wall = S.median(walls)
    ratio = wall / ideal
    return S.row(
        "8",
        f"throttled at {SERVER_CAP} in flight, {SEARCHES} cold searches via {what}:"
        f" wall / ideal ceil({SEARCHES}/{SERVER_CAP}) x 0.25 s",
        f"{ratio:.2f} ({wall:.2f} s / {ideal:.2f} s; {SEARCHES}/{SEARCHES} answers,"
        f" 429s per run {throttled})",
        spread=S.spread([w / ideal for w in walls], "", 2),
        runs=len(walls),
        limit=f"<= {TARGET_RATIO}",
        ratio=ratio / TARGET_RATIO,
        value=ratio,
    )


def run(*, quick: bool = False) -> dict[str, Any]:
    """Run both ways in ``runs`` times against a throttling sandbox; return the figure."""
    runs = 2 if quick else 3
    ideal = math.ceil(SEARCHES / SERVER_CAP) * S.API_LATENCY
    results: dict[str, Any] = {}
    with S.sandbox(latency=S.API_LATENCY, max_parallel=SERVER_CAP) as server:
        with S.fresh_home() as home, S.excel_environment(server, home):
            from generect_excel import udfs
            from generect_excel.functions import request_for_search

            # Warm-up: the store and the HTTP client's connections (one call, never throttled).
            udfs.GENERECT_SEARCH([["Seniority", "VP"]], 1)
            client_cap = S.settings(server, home).max_parallel
            done = [_functions_once(udfs, server, n) for n in range(runs)]
            results["functions"] = {"wall_s": [w for w, _ in done], "429s": [t for _, t in done]}
        with S.fresh_home() as home, S.fresh_home() as folder:
            from generect_excel.engine import Engine

            Engine(S.settings(server, home)).search(request_for_search([["Seniority", "VP"]]))
            books = [
                bench_refresh.build_workbook(folder / f"throttled-{n}.xlsx", SEARCHES, 50 + n)
                for n in range(2 * runs)
            ]
            done, calm = [], []
            for n in range(runs):
                done.append(_refresh_once(server, home, books[2 * n]))
                calm.append(_refresh_once(server, home, books[2 * n + 1], max_parallel=SERVER_CAP))
            results["refresh"] = {"wall_s": [w for w, _ in done], "429s": [t for _, t in done]}
            results["never_throttled"] = {
                "wall_s": [w for w, _ in calm],
                "429s": [t for _, t in calm],
            }
    functions, refresh = results["functions"], results["refresh"]
    calm_wall = S.median(results["never_throttled"]["wall_s"])
    cost = S.median(refresh["wall_s"]) / calm_wall
    return {
        "figure": "8",
        "searches": SEARCHES,
        "server_cap": SERVER_CAP,
        "client_max_parallel": client_cap,
        "ideal_s": ideal,
        "functions": functions,
        "refresh": refresh,
        "ratio_functions": S.median(functions["wall_s"]) / ideal,
        "ratio_refresh": S.median(refresh["wall_s"]) / ideal,
        "never_throttled": results["never_throttled"],
        "ratio_to_never_throttled": cost,
        "rows": [
            _row(
                "the worksheet functions (60 threads)",
                functions["wall_s"],
                functions["429s"],
                ideal,
            ),
            _row("refresh of a workbook", refresh["wall_s"], refresh["429s"], ideal),
            S.row(
                "8",
                f"throttled refresh / the same refresh with max_parallel {SERVER_CAP} (never"
                " throttled)",
                f"{cost:.2f} ({S.median(refresh['wall_s']):.2f} s / {calm_wall:.2f} s;"
                f" 429s {results['never_throttled']['429s']})",
                runs=runs,
                value=cost,
            ),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "2 runs of each instead of 3", argv)


if __name__ == "__main__":
    sys.exit(main())
