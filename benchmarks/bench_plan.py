"""The plan step at scale: ``plan_refresh`` (read the workbook, resolve every argument, check
every call; no network) for 100, 1,000 and 3,000 GENERECT_SEARCH formulas in both layouts of
:mod:`_workbooks`, with the growth exponent and the peak memory.

Each measurement runs in a fresh subprocess (its own peak memory): the median wall and CPU
time of ``plan_refresh`` over ``--runs`` runs after one unmeasured run (imports), the peak of
Python's allocations during one plan (``tracemalloc``) and the process's peak resident size
(``VmHWM``: interpreter, imports and the plans). The growth exponent is the slope of
log(time) over log(formulas) between the smallest and the largest size, of the wall time
and of the CPU time (steadier on a shared machine).

    python benchmarks/bench_plan.py                      # 100, 1,000, 3,000; 3 runs each
    python benchmarks/bench_plan.py --sizes 100 1000 --runs 1
    python benchmarks/bench_plan.py --profile 3000 beside   # cProfile's top 25 of one plan
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _workbooks import LAYOUTS, make_workbook

HERE = Path(__file__).resolve().parent

_CHILD = """
import json, sys, time, tracemalloc
from generect_excel.formulas.plan import plan_refresh
path, runs = sys.argv[1], int(sys.argv[2])
plan_refresh(path)  # imports and first-use costs out of the times (not out of VmHWM)
walls, cpus = [], []
for _ in range(runs):
    start, cpu = time.perf_counter(), time.process_time()
    plan = plan_refresh(path)
    walls.append(time.perf_counter() - start)
    cpus.append(time.process_time() - cpu)
    assert len(plan.runnable) == len(plan.queries), [q.skipped for q in plan.queries][:3]
del plan
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent that forked us.
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
tracemalloc.start()
plan = plan_refresh(path)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({"walls": walls, "cpus": cpus, "peak_mb": peak / 1e6,
                  "hwm_mb": int(status) / 1e3}))
"""


def measure(path: Path, runs: int) -> dict[str, float]:
    """Median wall time and peak memory of ``plan_refresh(path)`` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(runs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["median_s"] = statistics.median(result["walls"])
    result["cpu_s"] = statistics.median(result["cpus"])
    return result


def profile(formulas: int, layout: str, folder: Path) -> None:
    """Print cProfile's 25 most expensive functions (cumulative) of one plan."""
    import cProfile
    import pstats

    from generect_excel.formulas.plan import plan_refresh

    book = make_workbook(folder / f"plan-{formulas}-{layout}.xlsx", formulas, layout)  # type: ignore[arg-type]
    profiler = cProfile.Profile()
    profiler.runcall(plan_refresh, book)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 3_000])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", nargs=2, metavar=("FORMULAS", "LAYOUT"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="generect-plan-") as tmp:
        folder = Path(tmp)
        if args.profile:
            profile(int(args.profile[0]), args.profile[1], folder)
            return 0
        print(
            f"{'layout':<15} {'formulas':>8} {'file MB':>8} {'wall s':>7} {'cpu s':>7} "
            f"{'ms/formula':>10} {'peak MB':>8} {'VmHWM MB':>9}"
        )
        for layout in args.layouts:
            walls: dict[int, float] = {}
            cpus: dict[int, float] = {}
            for size in args.sizes:
                book = make_workbook(folder / f"plan-{size}-{layout}.xlsx", size, layout)  # type: ignore[arg-type]
                result = measure(book, args.runs)
                walls[size], cpus[size] = result["median_s"], result["cpu_s"]
                print(
                    f"{layout:<15} {size:>8,} {book.stat().st_size / 1e6:>8.2f} "
                    f"{result['median_s']:>7.2f} {result['cpu_s']:>7.2f} "
                    f"{1e3 * result['median_s'] / size:>10.2f} "
                    f"{result['peak_mb']:>8.1f} {result['hwm_mb']:>9.1f}",
                    flush=True,
                )
                book.unlink()
            low, high = min(args.sizes), max(args.sizes)
            if high > low:
                wall = math.log(walls[high] / walls[low]) / math.log(high / low)
                cpu = math.log(cpus[high] / cpus[low]) / math.log(high / low)
                print(
                    f"{layout:<15} growth exponent {low:,} -> {high:,}: "
                    f"{wall:.2f} (wall), {cpu:.2f} (cpu)",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
