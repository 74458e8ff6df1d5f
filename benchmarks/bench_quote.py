"""The dry run against the real refresh, at 100 ms API latency: the dry run must cost less.

``generect-excel refresh --dry-run`` prices every formula: it reads the store once for the
whole workbook and asks the free database count of each distinct criteria range (to price a
page at ``min(limit, count - offset)`` rows), concurrently within ``settings.max_parallel``.
The real refresh sends every search (as many or more calls than there are distinct counts)
and writes the workbook. Both run in-process (``refresh_workbook``) on the same workbook
(figure 3's layout: a criteria block per search on its own sheet, 64 distinct criteria,
pages beyond), each on a fresh store (nothing stored: every count and search is cold), with
a fresh engine as each command starts one. The figure is the median wall time of each and
their ratio (target below 1).

    python benchmarks/bench_quote.py            # 200 formulas, 3 runs each
    python benchmarks/bench_quote.py --quick    # 40 formulas, 1 run each
"""

from __future__ import annotations

import sys
import time
from typing import Any

import _support as S
from bench_refresh import build_workbook

LATENCY = 0.1  # seconds: every call of the sandbox, counts and searches alike


def _timed(server: Any, formulas: int, *, dry_run: bool) -> tuple[float, int]:
    """Seconds of one refresh (or dry run) of a new workbook on an empty store, and how many
    API calls it made."""
    from generect_excel.engine import Engine
    from generect_excel.workbook import refresh_workbook

    with S.fresh_home() as home:
        book = build_workbook(home / "book.xlsx", formulas)
        engine = Engine(S.settings(server, home))
        before = len(server.log_entries())
        start = time.perf_counter()
        summary = refresh_workbook(book, engine, dry_run=dry_run, confirm=lambda quote: True)
        seconds = time.perf_counter() - start
        if not dry_run and not summary.ok:
            raise RuntimeError(f"the refresh failed: {summary.errors[:1]}")
        return seconds, len(server.log_entries()) - before


def run(*, quick: bool = False) -> dict[str, Any]:
    """Time dry runs and refreshes alternately; return the figure."""
    formulas, runs = (40, 1) if quick else (200, 3)
    dry: list[float] = []
    real: list[float] = []
    with S.sandbox(latency=LATENCY) as server:
        for _ in range(runs):
            seconds, dry_calls = _timed(server, formulas, dry_run=True)
            dry.append(seconds)
            seconds, real_calls = _timed(server, formulas, dry_run=False)
            real.append(seconds)
    dry_s, real_s = S.median(dry), S.median(real)
    ratio = dry_s / real_s
    return {
        "figure": "quote",
        "formulas": formulas,
        "latency_s": LATENCY,
        "dry_run_s": dry,
        "refresh_s": real,
        "dry_run_calls": dry_calls,
        "refresh_calls": real_calls,
        "rows": [
            S.row(
                "quote",
                f"dry run of {formulas} formulas, {LATENCY * 1000:.0f} ms latency "
                f"({dry_calls} free counts)",
                f"{dry_s:.2f} s",
                spread=S.spread(dry, " s", 2),
                runs=runs,
            ),
            S.row(
                "quote",
                f"refresh of the same, cold ({real_calls} API calls)",
                f"{real_s:.2f} s",
                spread=S.spread(real, " s", 2),
                runs=runs,
            ),
            S.row(
                "quote",
                "dry run / refresh",
                f"x{ratio:.2f}",
                limit="< x1",
                ratio=ratio,
                value=ratio,
            ),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "40 formulas, 1 run each", argv)


if __name__ == "__main__":
    sys.exit(main())
