"""Figure 2, coalescing: 200 identical GENERECT_SEARCH calls at once, nothing stored yet.

Excel calculating a sheet where 200 cells ask the same question at once (threaded
calculation, or several processes): the worksheet function (``generect_excel.udfs``) is
called from 200 threads released together by a barrier, against a sandbox answering every
call after 250 ms. The figure is the number of API calls (from the sandbox's log; must be 1)
and the wall time from the release to the last answer, as a ratio of one call's latency
(target at most 1.2): one cold GENERECT_SEARCH alone, same request, same conditions, timed in
the same run. The ratio to the bare 250 ms API latency is shown beside it. The figure has its
own empty store (GENERECT_HOME); each single call and each burst asks a question not asked
before in it (the page offset differs), so every one is cold. A warm-up call first opens the
store and the HTTP connection pool, as the first formula of a session would.

    python benchmarks/bench_coalescing.py            # 5 runs
    python benchmarks/bench_coalescing.py --quick    # 2 runs
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import _support as S

CALLERS = 200
TARGET_RATIO = 1.2


def criteria_block(n: int) -> list[list[Any]]:
    """The ``n``-th cold question: the same filters, another page."""
    return [
        ["Job titles", "Marketing"],
        ["Seniority", "Director"],
        ["Location", "United States"],
        ["Offset", float(10 * n)],
    ]


def _one_run(udfs: Any, server: Any, block: list[list[Any]]) -> tuple[float, int, list[Any]]:
    """Release CALLERS threads at once; (wall seconds, API calls, every answer)."""
    released: list[float] = []
    finished = [0.0] * CALLERS
    answers: list[Any] = [None] * CALLERS
    barrier = threading.Barrier(CALLERS, action=lambda: released.append(time.perf_counter()))

    def cell(i: int) -> None:
        barrier.wait()
        answers[i] = udfs.GENERECT_SEARCH(block)
        finished[i] = time.perf_counter()

    before = len(server.billable_calls())
    threads = [threading.Thread(target=cell, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(finished) - released[0], len(server.billable_calls()) - before, answers


def _one_call(udfs: Any, block: list[list[Any]]) -> float:
    start = time.perf_counter()
    answer = udfs.GENERECT_SEARCH(block)
    elapsed = time.perf_counter() - start
    if isinstance(answer, str):
        raise RuntimeError(f"the single call failed: {answer}")
    return elapsed


def run(*, quick: bool = False) -> dict[str, Any]:
    """Time ``runs`` bursts of 200 identical cold calls; return the figure."""
    runs = 2 if quick else 5
    walls: list[float] = []
    singles: list[float] = []
    api_calls: list[int] = []
    with (
        S.sandbox(latency=S.API_LATENCY) as server,
        S.fresh_home() as home,
        S.excel_environment(server, home),
    ):
        from generect_excel import udfs

        _one_call(udfs, criteria_block(0))  # warm-up: the store, the HTTP client
        for n in range(runs):
            singles.append(_one_call(udfs, criteria_block(1 + 2 * n)))
            wall, calls, answers = _one_run(udfs, server, criteria_block(2 + 2 * n))
            errors = [a for a in answers if isinstance(a, str)]
            if errors:
                raise RuntimeError(f"{len(errors)} calls failed, e.g. {errors[0]}")
            if any(a != answers[0] and a[1:] != answers[0][1:] for a in answers):
                raise RuntimeError("the 200 callers did not all get the same leads")
            walls.append(wall)
            api_calls.append(calls)
    ratios = [wall / single for wall, single in zip(walls, singles, strict=True)]
    ratio = S.median(ratios)
    wall, single = S.median(walls), S.median(singles)
    worst_calls = max(api_calls)
    return {
        "figure": "2",
        "callers": CALLERS,
        "latency_s": S.API_LATENCY,
        "wall_s": walls,
        "single_call_s": singles,
        "ratio_to_single_call": ratio,
        "ratio_to_api_latency": wall / S.API_LATENCY,
        "api_calls": worst_calls,
        "api_calls_per_run": api_calls,
        "rows": [
            S.row(
                "2",
                f"coalescing: API calls for {CALLERS} identical cold calls",
                str(worst_calls),
                spread=f"per run {api_calls}" if len(set(api_calls)) > 1 else "",
                runs=runs,
                limit="= 1",
                verdict="pass" if all(c == 1 for c in api_calls) else "FAIL",
                value=worst_calls,
            ),
            S.row(
                "2",
                f"coalescing: wall time / one cold call ({S.API_LATENCY * 1000:.0f} ms API latency)",
                f"{ratio:.2f} ({wall * 1000:.0f} / {single * 1000:.0f} ms;"
                f" {wall / S.API_LATENCY:.2f} x latency)",
                spread=S.spread(ratios, "", 2),
                runs=runs,
                limit=f"<= {TARGET_RATIO}",
                ratio=ratio / TARGET_RATIO,
                value=ratio,
            ),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "2 runs instead of 5", argv)


if __name__ == "__main__":
    sys.exit(main())
