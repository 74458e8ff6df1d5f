"""The performance suite: every figure, one table, each figure beside its limit.

    python benchmarks/run.py                  # full: medians of several runs (a few minutes)
    python benchmarks/run.py --quick          # fewer runs, smaller sizes (CI; under a minute)
    python benchmarks/run.py --json OUT.json  # also write every row and raw timing as JSON
    python benchmarks/run.py --only 1,3       # some figures only

Everything runs against the sandbox on 127.0.0.1 (never Generect) with a live-style key (the
budget and reservation path runs; the sandbox debits a large balance), each figure on a fresh,
temporary GENERECT_HOME. Figures:

1. recalculation from the store (GENERECT_SEARCH on stored answers): time per call, API calls
2. coalescing: 200 identical cold calls at once, 250 ms API latency: API calls, wall time
3. cold refresh of a workbook of 60 distinct searches, 250 ms API latency, through the CLI
   (a process of its own) against Generect's cap of 50 in flight
4. table shaping of 2,400 messy rows; writing 2,400 x 12 results into a workbook and saving it
5. start-up: importing generect_excel.udfs in a fresh interpreter
6. the sandbox itself: a 100-row database search over 100,000 leads
7. the register of owned leads: leads bought twice per 1,000 over a scripted week of
   overlapping searches (New leads only on, and off), and the extra time of a net-new search
   with a register of 100,000 leads
8. throttling: 60 distinct cold searches against a server capped at 5 in flight, 250 ms latency
10. the team store on PostgreSQL (a throw-away local cluster): recalculation per call beside
    SQLite's, and 8 processes on two GENERECT_HOMEs asking one cold question (API calls)
11. refresh at workbook scale: warm, cold (latency 0 and 250 ms) and dry run of 100, 1,000 and
    3,000 formulas in two layouts, through the CLI: growth exponent, time per formula, memory
12. money paths over a big ledger (``bench_spend.py``, when it is in this tree)

Timings are reported, never enforced: "over" marks a figure above its limit. The exit status
is 1 only when a check that is not a timing fails (API calls made, modules imported).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench_* modules beside this file

import _support as S  # noqa: E402
import bench_coalescing  # noqa: E402
import bench_recalc  # noqa: E402
import bench_refresh  # noqa: E402
import bench_register  # noqa: E402
import bench_sandbox  # noqa: E402
import bench_startup  # noqa: E402
import bench_table  # noqa: E402
import bench_team_store  # noqa: E402
import bench_throttle  # noqa: E402
import bench_write  # noqa: E402

HERE = Path(__file__).resolve().parent
# Figure 12 is issue 16's spend figure; its module may not be in this tree yet.
HAS_SPEND = (HERE / "bench_spend.py").exists()
FIGURES = ("1", "2", "3", "4", "5", "6", "7", "8", "10", "11") + (("12",) if HAS_SPEND else ())


def _table_rows(quick: bool) -> dict[str, Any]:
    result = bench_table.run(quick=quick)
    median = result["median_ms"]
    result["rows"] = [
        S.row(
            "4",
            f"table shaping: {bench_table.ROWS:,} messy lead rows into the 2-D table",
            f"{median:.1f} ms",
            runs=result["runs"],
            limit=f"< {result['target_ms']:.0f} ms",
            ratio=result["ratio"],
            value=median,
        )
    ]
    return result


def _figure_4(quick: bool) -> dict[str, Any]:
    shaping = _table_rows(quick)
    writing = bench_write.run(quick=quick)
    return {
        "figure": "4",
        "shaping": {k: v for k, v in shaping.items() if k != "rows"},
        "writing": {k: v for k, v in writing.items() if k != "rows"},
        "rows": shaping["rows"] + writing["rows"],
    }


def _figure_6(quick: bool) -> dict[str, Any]:
    result = bench_sandbox.run(quick=quick)
    median = result["median_ms"]
    result["rows"] = [
        S.row(
            "6",
            f"sandbox: database search of {bench_sandbox.ROWS} rows over {result['leads']:,}"
            " leads (HTTP)",
            f"{median:.2f} ms",
            spread=f"p90 {result['p90_ms']:.2f} ms",
            runs=result["requests"],
            limit=f"< {result['target_ms']:g} ms",
            ratio=result["ratio"],
            value=median,
        )
    ]
    result.pop("http_ms", None)
    return result


def _figure_11(quick: bool) -> dict[str, Any]:
    import bench_scale  # here, not at the top: it needs openpyxl and the workbook generator

    return bench_scale.run(quick=quick)


def _figure_12(quick: bool) -> dict[str, Any]:
    import bench_spend

    result = bench_spend.run(quick=quick)
    for line in result["rows"]:
        line["figure"] = "12"
    return result


RUNNERS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "1": lambda quick: bench_recalc.run(quick=quick),
    "2": lambda quick: bench_coalescing.run(quick=quick),
    "3": lambda quick: bench_refresh.run(quick=quick),
    "4": _figure_4,
    "5": lambda quick: bench_startup.run(quick=quick),
    "6": _figure_6,
    "7": lambda quick: bench_register.run(quick=quick),
    "8": lambda quick: bench_throttle.run(quick=quick),
    "10": lambda quick: bench_team_store.run(quick=quick),
    "11": _figure_11,
    **({"12": _figure_12} if HAS_SPEND else {}),
}


def machine() -> dict[str, Any]:
    """CPU model, cores, Python, OS, load average and date of this run."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            import subprocess

            cpu = (
                subprocess.run(
                    ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True
                ).stdout.strip()
                or cpu
            )
        except OSError:
            pass
    load = None
    if hasattr(os, "getloadavg"):
        load = [round(x, 2) for x in os.getloadavg()]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "load_average": load,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    headers = ["fig", "what", "measured (median)", "spread", "runs", "limit", "ratio", "result"]
    lines = [
        [
            r["figure"],
            r["what"],
            r["measured"],
            r["spread"],
            str(r["runs"]),
            r["limit"],
            "" if r["ratio"] is None else f"{r['ratio']:.2f}",
            r["verdict"],
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"comma-separated figures ({','.join(FIGURES)})"
    )
    args = parser.parse_args(argv)
    wanted = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in RUNNERS]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")

    info = machine()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for figure in wanted:
        print(f"figure {figure} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            result = RUNNERS[figure](args.quick)
        except Exception as exc:  # one broken figure must not hide the others
            traceback.print_exc()
            result = {
                "figure": figure,
                "error": f"{type(exc).__name__}: {exc}",
                "rows": [S.row(figure, "did not complete", str(exc)[:60], verdict="FAIL")],
            }
        result["seconds"] = time.perf_counter() - t0
        results[figure] = result
        rows.extend(result["rows"])
    elapsed = time.perf_counter() - started

    load = info["load_average"]
    print(
        f"Generect for Excel performance suite ({'quick' if args.quick else 'full'} mode), "
        f"{info['date']}"
    )
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['python']}, {info['os']}"
        + (f", load average at start {load[0]:.2f}" if load else "")
    )
    print()
    print(format_table(rows))
    print()
    print(f"{len(rows)} rows in {elapsed:.0f} s. ratio = measured / limit: pass <= 1, over > 1.")
    failed = [r for r in rows if r["verdict"] == "FAIL"]
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "mode": "quick" if args.quick else "full",
                    "machine": info,
                    "seconds": elapsed,
                    "rows": rows,
                    "figures": results,
                },
                indent=2,
                default=str,
            )
            + "\n",
            encoding="utf-8",
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
