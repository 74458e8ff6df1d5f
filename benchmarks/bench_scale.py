"""Figure 11, refresh at workbook scale (issue 16): how the whole command grows with the book.

``generect-excel refresh`` run as a process of its own (interpreter start-up, imports, reading,
pricing, fetching, writing: what the analyst waits for) on workbooks of 100, 1,000 and 3,000
GENERECT_SEARCH formulas, half of them distinct (``benchmarks/_workbooks.py``), each formula's
table already spilled in the file, in two layouts:

- ``criteria_sheet``: the criteria blocks on a sheet of their own;
- ``beside``: a criteria block beside each table on one sheet, as in the lead-list template.

Four series per layout and size, against the sandbox with Generect's lead-search cap of 50 in
flight (``max_parallel`` 50 on both sides) and the benchmark's live-style key:

- ``cold``: an empty store, API latency 0 (every distinct request sent once, then written);
- ``cold_250ms``: the same with 250 ms API latency;
- ``warm``: the cold run's output refreshed again on its store (no API call);
- ``dry_run``: ``--dry-run`` on an empty store (prices every call; free counts only).

Each series reports its wall time per size, the growth exponent ``k`` fitted by least squares
on log(time above start-up) against log(formulas) (target ``k <= 1.1``), the time per formula
at the largest size, and the peak resident memory of the process (GNU time's, see
``_support.run_cli``). Start-up is the same command on a workbook without formulas. Targets at
3,000 formulas: warm under 3 s; dry run under the warm refresh; cold within
``1.3 x ceil(distinct / 50) x latency`` plus the warm time; peak memory under 300 MB, also for
one search of 2,400 rows (the API's most) into a workbook, refreshed cold. A smaller book's
warm limit is the start-up plus its share of the rest of the 3 s. A formula the refresh leaves
failed marks its row FAIL. Quick mode (20 and 80 formulas, about a minute) checks that the
figure runs; its exponents mean little (start-up dominates).

    python benchmarks/bench_scale.py                       # 100 / 1,000 / 3,000, 3 runs
    python benchmarks/bench_scale.py --quick               # 20 / 80, 1 run
    python benchmarks/bench_scale.py --sizes 1000 --runs 1 # one size (no exponent)
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support as S  # noqa: E402
from _workbooks import LAYOUTS, make_workbook, search_count  # noqa: E402

SIZES = (100, 1_000, 3_000)
QUICK_SIZES = (20, 80)  # two sizes: each is 8 commands, and each command starts in 1-3 s
RUNS, QUICK_RUNS = 3, 1
CAP = 50  # Generect's lead-search cap in flight per key and IP (FACTS.md); max_parallel's top
SERIES = ("warm", "cold", "cold_250ms", "dry_run")
LATENCY = {"warm": 0.0, "cold": 0.0, "cold_250ms": S.API_LATENCY, "dry_run": 0.0}
TARGET_EXPONENT = 1.1
TARGET_WARM_S = 3.0  # at TARGET_SIZE formulas
TARGET_COLD_RATIO = 1.3  # of the ideal ceil(distinct / CAP) x latency, plus the warm time
TARGET_PEAK_MB = 300.0  # at TARGET_SIZE formulas
TARGET_SIZE = 3_000
BIG_SEARCH = 2_400  # rows: the most one search may ask (limit_by, FACTS.md)
LABELS = {
    "warm": "warm refresh (no API call)",
    "cold": "cold refresh, latency 0",
    "cold_250ms": "cold refresh, 250 ms latency",
    "dry_run": "dry run (prices only)",
}


def exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float | None:
    """The growth exponent ``k`` of ``seconds ~ c x sizes**k``: the least-squares slope of
    log(seconds) on log(sizes); None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    xs = [math.log(n) for n in sizes]
    ys = [math.log(max(t, 1e-3)) for t in seconds]  # a millisecond floor: never log(0)
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


# How the command's report starts a line about a formula that did not refresh.
FAILED = ("error ", "kept ", "#SPILL! ", "skipped ", "not written ")


@dataclass(frozen=True)
class _Run:
    """One timed command: wall seconds, peak MB, the report's lines on failed formulas, the
    billable API calls it made and what the sandbox debited for them (USD)."""

    seconds: float
    peak_mb: float
    failed: list[str]
    api_calls: int = 0
    debited: float = 0.0


class _Runner:
    """The sandboxes, the start-up measurement and one timed, checked command."""

    def __init__(self, servers: dict[float, Any], folder: Path) -> None:
        self.servers = servers
        self.folder = folder
        self.homes = 0

    def home(self) -> Path:
        """A new, empty GENERECT_HOME (an empty store) under the figure's folder."""
        self.homes += 1
        path = self.folder / f"home-{self.homes}"
        path.mkdir()
        return path

    def refresh(
        self, series: str, book: Path, home: Path, *args: str, calls: int, retries: int = 0
    ) -> _Run:
        """``generect-excel refresh BOOK ARGS`` on ``series``' sandbox. A formula the command
        reports as failed is counted, not raised (the figure shows it); anything else
        unexpected raises: another exit, an API call count other than ``calls`` (up to
        ``retries`` more: formulas an earlier run left failed), a paid run the sandbox did not
        debit (the key was not on the paid path)."""
        server = self.servers[LATENCY[series]]
        env = S.cli_environment(server, home, max_parallel=CAP)
        billable = len(server.billable_calls())
        balance = server.balance(S.KEY)
        done = S.run_cli(["refresh", str(book), *args], env)
        made = len(server.billable_calls()) - billable
        failed = [line for line in done.stdout.splitlines() if line.startswith(FAILED)]
        print(
            f"  {book.name} {series}: {done.seconds:.2f} s, {done.peak_mb:.0f} MB, {made} API"
            f" calls" + (f", {len(failed)} formulas failed" if failed else ""),
            file=sys.stderr,
            flush=True,
        )
        if done.returncode not in (0, 1) or (done.returncode == 1) != bool(failed):
            raise RuntimeError(
                f"{series} refresh of {book.name}: exit {done.returncode}"
                f"\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        if not calls <= made <= calls + retries and not (failed and made < calls):
            raise RuntimeError(f"{series} refresh of {book.name}: {made} API calls, not {calls}")
        debited = balance - server.balance(S.KEY)
        if made and not S.TEST_MODE and debited <= 0:
            raise RuntimeError(f"{series} refresh of {book.name} was not debited: not a paid path")
        return _Run(done.seconds, done.peak_mb, failed, made, float(debited))

    def startup(self) -> _Run:
        """The command on a workbook with no formula: the start-up every run pays."""
        from openpyxl import Workbook

        path = self.folder / "no-formulas.xlsx"
        if not path.exists():
            wb = Workbook()
            wb.active["A1"] = "No formulas here"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wb.save(path)
        return self.refresh(
            "warm", path, self.home(), "-o", str(path.with_suffix(".out.xlsx")), calls=0
        )

    def big_search(self) -> _Run:
        """A cold refresh of one search of ``BIG_SEARCH`` rows (the API's most) into a
        workbook: the largest table one formula writes."""
        from openpyxl import Workbook

        path = self.folder / "one-big-search.xlsx"
        if not path.exists():
            wb = Workbook()
            leads = wb.active
            leads.title = "Leads"
            criteria = wb.create_sheet("Criteria")
            criteria["A1"], criteria["B1"] = "Seniority", "Manager"
            leads["A1"] = f"=GENERECT_SEARCH(Criteria!A1:B1,{BIG_SEARCH})"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wb.save(path)
        out = path.with_name("one-big-search-out.xlsx")
        return self.refresh("cold", path, self.home(), "-o", str(out), "--yes", calls=1)

    def size(self, layout: str, formulas: int) -> dict[str, _Run]:
        """One run of the four series on a ``formulas``-formula workbook in ``layout``."""
        book = self.folder / f"{layout}-{formulas}.xlsx"
        if not book.exists():
            make_workbook(book, formulas, layout)
        distinct = search_count(formulas)
        cold_home = self.home()
        cold_out = book.with_name(f"{book.stem}-cold.xlsx")
        done = {
            "cold": self.refresh(
                "cold", book, cold_home, "-o", str(cold_out), "--yes", calls=distinct
            ),
        }
        done["warm"] = self.refresh(
            "warm",
            cold_out,
            cold_home,
            "-o",
            str(book.with_name(f"{book.stem}-warm.xlsx")),
            "--yes",
            calls=0,
            retries=len(done["cold"].failed),
        )
        done["dry_run"] = self.refresh("dry_run", book, self.home(), "--dry-run", calls=0)
        done["cold_250ms"] = self.refresh(
            "cold_250ms",
            book,
            self.home(),
            "-o",
            str(book.with_name(f"{book.stem}-slow.xlsx")),
            "--yes",
            calls=distinct,
        )
        return done


def _series_row(
    layout: str,
    series: str,
    data: dict[str, Any],
    sizes: Sequence[int],
    startup: float,
    warm: float,
) -> dict[str, Any]:
    largest = sizes[-1]
    walls = [S.median(data["wall_s"][n]) for n in sizes]
    wall = walls[-1]
    k = data["exponent"]
    times = " / ".join(f"{w:.2f}" for w in walls)
    counts = " / ".join(f"{n:,}" for n in sizes)
    measured = (
        f"{times} s at {counts}; k {'-' if k is None else f'{k:.2f}'};"
        f" {data['per_formula_ms']:.2f} ms/formula; peak {max(data['peak_mb'][largest]):.0f} MB"
    )
    if series == "warm":
        # 3 s at 3,000 formulas; a smaller book gets the start-up plus its share of the rest.
        limit_s = startup + (TARGET_WARM_S - startup) * largest / TARGET_SIZE
        limit = f"< {limit_s:.2f} s"
    elif series == "dry_run":
        limit_s, limit = warm, f"< warm {warm:.2f} s"
    else:
        ideal = math.ceil(search_count(largest) / CAP) * LATENCY[series]
        limit_s = TARGET_COLD_RATIO * ideal + warm
        limit = f"<= 1.3 x {ideal:.2f} s + warm = {limit_s:.2f} s"
    ratios = [wall / limit_s]
    if k is not None:
        ratios.append(k / TARGET_EXPONENT)
        limit = f"k <= {TARGET_EXPONENT}; {limit}"
    failed = [line for n in sizes for line in data["failed"][n]]
    if failed:  # a refresh that leaves formulas failed is wrong, however fast
        measured += f"; {len(failed)} formulas FAILED, e.g. {failed[0][:120]}"
    return S.row(
        "11",
        f"scale, {layout}: {LABELS[series]}",
        measured,
        spread=S.spread(data["wall_s"][largest], " s", 2),
        runs=len(data["wall_s"][largest]),
        limit=limit,
        ratio=max(ratios),
        verdict="FAIL" if failed else None,
        value=wall,
    )


def run(
    *,
    quick: bool = False,
    sizes: Sequence[int] | None = None,
    runs: int | None = None,
    layouts: Sequence[str] = LAYOUTS,
) -> dict[str, Any]:
    """Every series, layout and size ``runs`` times; the figure with its rows for run.py."""
    sizes = tuple(sorted(sizes or (QUICK_SIZES if quick else SIZES)))
    runs = runs or (QUICK_RUNS if quick else RUNS)
    results: dict[str, Any] = {layout: {} for layout in layouts}
    with (
        S.sandbox(max_parallel=CAP) as fast,
        S.sandbox(max_parallel=CAP, latency=S.API_LATENCY) as slow,
        S.fresh_home("generect-scale-") as folder,
    ):
        runner = _Runner({0.0: fast, S.API_LATENCY: slow}, folder)
        starts = [runner.startup() for _ in range(runs)]
        startup = S.median([p.seconds for p in starts])
        big = [runner.big_search() for _ in range(runs)]
        for layout in layouts:
            for series in SERIES:
                results[layout][series] = {
                    key: {} for key in ("wall_s", "peak_mb", "failed", "api_calls", "debited")
                }
            for n in sizes:
                for _ in range(runs):
                    for series, done in runner.size(layout, n).items():
                        entry = results[layout][series]
                        entry["wall_s"].setdefault(n, []).append(done.seconds)
                        entry["peak_mb"].setdefault(n, []).append(done.peak_mb)
                        entry["failed"].setdefault(n, []).extend(done.failed)
                        entry["api_calls"].setdefault(n, []).append(done.api_calls)
                        entry["debited"].setdefault(n, []).append(done.debited)
    rows = []
    for layout in layouts:
        warm = S.median(results[layout]["warm"]["wall_s"][sizes[-1]])
        for series in SERIES:
            data = results[layout][series]
            above = [max(S.median(data["wall_s"][n]) - startup, 0.0) for n in sizes]
            data["exponent"] = exponent(sizes, above)
            data["per_formula_ms"] = 1000 * above[-1] / sizes[-1]
            rows.append(_series_row(layout, series, data, sizes, startup, warm))
        peak = max(max(results[layout][s]["peak_mb"][sizes[-1]]) for s in SERIES)
        per_series = ", ".join(
            f"{s.replace('_', ' ')} {max(results[layout][s]['peak_mb'][sizes[-1]]):.0f}"
            for s in SERIES
        )
        rows.append(
            S.row(
                "11",
                f"scale, {layout}: peak memory of one refresh at {sizes[-1]:,} formulas",
                f"{peak:.0f} MB ({per_series} MB; start-up alone"
                f" {max(p.peak_mb for p in starts):.0f} MB)",
                limit=f"< {TARGET_PEAK_MB:.0f} MB (at {TARGET_SIZE:,})",
                ratio=peak / TARGET_PEAK_MB,
                value=peak,
            )
        )
    big_peak = max(r.peak_mb for r in big)
    rows.append(
        S.row(
            "11",
            f"scale: one search of {BIG_SEARCH:,} rows into a workbook (cold): peak memory",
            f"{big_peak:.0f} MB ({S.median([r.seconds for r in big]):.2f} s)",
            runs=len(big),
            limit=f"< {TARGET_PEAK_MB:.0f} MB",
            ratio=big_peak / TARGET_PEAK_MB,
            verdict="FAIL" if any(r.failed for r in big) else None,
            value=big_peak,
        )
    )
    rows.append(
        S.row(
            "11",
            "scale: start-up, the same command on a workbook without formulas",
            f"{startup:.2f} s, {max(p.peak_mb for p in starts):.0f} MB",
            spread=S.spread([p.seconds for p in starts], " s", 2),
            runs=len(starts),
            value=startup,
        )
    )
    return {
        "figure": "11",
        "sizes": list(sizes),
        "distinct": [search_count(n) for n in sizes],
        "runs": runs,
        "parallel_cap": CAP,
        "latency_s": LATENCY,
        "startup_s": [p.seconds for p in starts],
        "startup_mb": [p.peak_mb for p in starts],
        "big_search": {
            "rows": BIG_SEARCH,
            "wall_s": [r.seconds for r in big],
            "peak_mb": [r.peak_mb for r in big],
            "failed": [line for r in big for line in r.failed],
        },
        "layouts": results,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 and 80 formulas, 1 run")
    parser.add_argument("--sizes", help="comma-separated formula counts (e.g. 1000,3000)")
    parser.add_argument("--runs", type=int, help="runs of each series and size")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="criteria_sheet,beside")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    layouts = [name.strip() for name in args.layouts.split(",") if name.strip()]
    result = run(quick=args.quick, sizes=sizes, runs=args.runs, layouts=layouts)
    for line in result["rows"]:
        print(f"{line['what']}: {line['measured']} ({line['spread']}; limit {line['limit']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
