"""Figure 1, recalculation from the store: GENERECT_SEARCH calls whose answers are stored.

What F9 or reopening a workbook costs: the worksheet function (``generect_excel.udfs``, called
as Excel's Python would, settings read from the environment) parses the criteria range,
finds the stored answer and shapes the table, with no network. The store is filled first
with one cold call per distinct request; then 500 calls cycle over those requests and each
is timed. API calls during the timed calls are counted from the sandbox's request log (every
request, billable or not): they must be 0.

    python benchmarks/bench_recalc.py            # 100 distinct requests, 500 calls
    python benchmarks/bench_recalc.py --quick    # 20 distinct requests, 100 calls
    python benchmarks/bench_recalc.py --profile  # cProfile of the timed calls, top 25
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from typing import Any

import _support as S

TARGET_MS = 0.5
TITLES = ["Marketing", "Sales", "Engineer", "Product", "Finance", "Operations", "Data", "HR"]


def criteria_block(n: int) -> list[list[Any]]:
    """The ``n``-th distinct criteria range, as xlwings hands it (numbers as floats)."""
    return [
        ["Filter", "Values"],
        ["Job titles", TITLES[n % len(TITLES)]],
        ["Seniority", "Director; Manager"],
        ["Location", "United States"],
        ["Offset", float(n // len(TITLES))],
    ]


def run(*, quick: bool = False, profile: bool = False) -> dict[str, Any]:
    """Fill the store, then time ``calls`` GENERECT_SEARCH recalculations; return the figure."""
    distinct, calls = (20, 100) if quick else (100, 500)
    blocks = [criteria_block(n) for n in range(distinct)]
    profiler = cProfile.Profile() if profile else None
    with S.sandbox() as server, S.fresh_home() as home, S.excel_environment(server, home):
        from generect_excel import udfs  # imported here: it reads nothing at import time

        for block in blocks:  # the first calculation: one API call each, stored
            table = udfs.GENERECT_SEARCH(block)
            if isinstance(table, str):
                raise RuntimeError(f"the cold call failed: {table}")
        requests_before = len(server.log_entries())
        timings = []
        if profiler is not None:
            profiler.enable()
        for i in range(calls):
            block = blocks[i % distinct]
            start = time.perf_counter()
            table = udfs.GENERECT_SEARCH(block)
            timings.append((time.perf_counter() - start) * 1000)
        if profiler is not None:
            profiler.disable()
        api_calls = len(server.log_entries()) - requests_before
    if isinstance(table, str) or "from cache" not in str(table[0][0]):
        raise RuntimeError(f"a recalculation was not answered from the store: {table[0]}")
    median = S.median(timings)
    result: dict[str, Any] = {
        "figure": "1",
        "calls": calls,
        "distinct_requests": distinct,
        "rows_per_call": len(table) - 2,
        "median_ms": median,
        "p90_ms": S.percentile(timings, 0.9),
        "total_ms": sum(timings),
        "api_calls": api_calls,
        "rows": [
            S.row(
                "1",
                f"recalc from store: {calls} GENERECT_SEARCH calls, per call",
                f"{median:.3f} ms",
                spread=S.spread(timings, " ms", 3),
                runs=calls,
                limit=f"< {TARGET_MS} ms",
                ratio=median / TARGET_MS,
                value=median,
            ),
            S.row(
                "1",
                f"recalc from store: API calls during the {calls} calls",
                str(api_calls),
                limit="= 0",
                verdict="pass" if api_calls == 0 else "FAIL",
                value=api_calls,
            ),
        ],
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        result["profile"] = out.getvalue()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 requests, 100 calls")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the calls")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, profile=args.profile)
    for line in result["rows"]:
        print(f"{line['what']}: {line['measured']} ({line['spread']}; limit {line['limit']})")
    if args.profile:
        print(result["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
