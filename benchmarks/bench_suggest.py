"""Suggestions for a typo: how long a cell with a misspelt industry takes to answer.

A bad criteria cell is parsed again at every recalculation (errors are never memoized), and a
misspelt industry is compared with LinkedIn's ~430 industries. Prints, per typed value, the
median time of a cold suggestion (memo cleared) and of a repeated one (the recalculation case),
and their ratio. Pure CPU: no sandbox, no store.

    python benchmarks/bench_suggest.py            # 15 runs of 10
    python benchmarks/bench_suggest.py --quick    # 3 runs of 3
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support as S  # noqa: E402

from generect_excel import suggest, vocab  # noqa: E402

TYPED = ("Sofware", "Finanical Services and Banking", "xyzzy")
TARGET_MS = 50.0  # a cell's answer should not make a recalculation feel slow


def _time(call: Any, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number * 1000


def run(*, quick: bool = False) -> dict[str, Any]:
    """Median ms per suggestion, cold and repeated, for each value of :data:`TYPED`."""
    runs, number = (3, 3) if quick else (15, 10)
    industries = vocab.get_vocabulary("company_industries")
    industries.suggest("warm up")  # load the list once
    rows = []
    for typed in TYPED:

        def cold(typed: str = typed) -> list[str]:
            suggest._closest.cache_clear()
            return industries.suggest(typed)

        cold_ms = [_time(cold, number) for _ in range(runs)]
        industries.suggest(typed)
        warm_ms = [_time(lambda t=typed: industries.suggest(t), number * 100) for _ in range(runs)]
        cold_median, warm_median = S.median(cold_ms), S.median(warm_ms)
        rows.append(
            S.row(
                "suggest",
                f'industry suggestion for "{typed}", cold',
                f"{cold_median:.2f} ms",
                spread=S.spread(cold_ms, " ms", 2),
                runs=runs,
                limit=f"< {TARGET_MS:.0f} ms",
                ratio=cold_median / TARGET_MS,
            )
        )
        rows.append(
            S.row(
                "suggest",
                f'industry suggestion for "{typed}", repeated (recalculation)',
                f"{warm_median:.4f} ms",
                spread=S.spread(warm_ms, " ms", 4),
                runs=runs,
                limit=f"cold / repeated = {cold_median / warm_median:,.0f}x",
            )
        )
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "3 runs of 3 (CI)", argv)


if __name__ == "__main__":
    sys.exit(main())
