"""Figure 10, the team store (issue 15): recalculation from PostgreSQL, and cross-machine
coalescing.

Both run against the sandbox on 127.0.0.1 and a throw-away PostgreSQL cluster started here
(``generect_excel.sandbox.postgres``: the system's initdb/pg_ctl, else the pgserver wheel's;
loopback TCP). Also figure 10 of ``benchmarks/run.py``.

1. Recalculation per call: the worksheet function ``GENERECT_SEARCH`` (settings read from the
   environment, as in Excel) on answers already stored, first with the SQLite file (figure 1's
   setting), then with ``GENERECT_STORE_URL`` on the PostgreSQL server; median milliseconds per
   call and the ratio to the 2 ms target. API calls during the timed calls must be 0.
2. Cross-machine coalescing: 8 processes, 4 per "laptop" (two GENERECT_HOMEs on one
   PostgreSQL), ask the same cold question at once of a sandbox answering after 250 ms. The
   figure is the number of API calls (must be 1) and the time from the start signal to the last
   answer, as a ratio of one cold call alone timed the same way (a process of its own). The
   ratio has no target: a process waiting on another's claim looks again after a growing
   pause (``INFLIGHT_POLL_INTERVAL`` 50 ms, x1.5, up to 0.5 s), woken early by the server's
   notification that the claim went (LISTEN/NOTIFY), so it sees the answer about a round trip
   after it is stored; what remains is 8 interpreters starting their calls on 2 cores.
3. Waking a waiter: a process waits on a claim another laptop holds, with a poll's longest
   pause (``INFLIGHT_POLL_MAX_INTERVAL``, 0.5 s); the claim is released 0.1 s into the wait.
   The figure is the median delay from the release's commit to the waiter's return (the
   server's notification), beside what polling alone would leave (the rest of the pause).

    python benchmarks/bench_team_store.py            # 100 distinct requests, 500 calls, 3 runs
    python benchmarks/bench_team_store.py --quick    # 20 distinct requests, 100 calls, 1 run
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _support as S
from bench_recalc import criteria_block

TARGET_MS = 2.0
PROCESSES = 8
LATENCY = 0.25

CHILD = """
import json, sys, time
from pathlib import Path
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.settings import load_settings

engine = Engine(load_settings(use_keyring=False))
request = criteria_from_kwargs("database", seniorities=["director"], limit_by=5,
                               offset_by=int(sys.argv[1]))
engine.store  # opened before the start signal
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():
    time.sleep(0.001)
start = time.time()
answer = engine.search(request)
print(json.dumps({"end": time.time(), "from_cache": answer.from_cache}))
"""


def _wake(url: str, home: Path, waits: int) -> list[float]:
    """Milliseconds from another laptop's release of a claim to a waiter's return."""
    import threading

    from generect_excel import _constants as C
    from generect_excel.store.postgres import PostgresStore

    holder = PostgresStore(url, analyst="holder", home=home, machine="laptop-a")
    waiter = PostgresStore(url, analyst="waiter", home=home, machine="laptop-b")
    never = lambda entry: False  # noqa: E731
    delays = []
    try:
        for n in range(waits):
            key, owner = f"wake-{n}", f"laptop-a|1|{n}"
            holder.claim(key, owner, ttl=600, is_fresh=never)
            returned: list[float] = []

            def wait(key: str = key, returned: list[float] = returned) -> None:
                waiter.wait_for_release(key, C.INFLIGHT_POLL_MAX_INTERVAL)
                returned.append(time.perf_counter())

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.1)
            holder.release(key, owner)
            released = time.perf_counter()
            thread.join()
            delays.append((returned[0] - released) * 1000)
    finally:
        holder.close()
        waiter.close()
    return delays


def _recalc(server: Any, home: Path, blocks: list[Any], calls: int, url: str | None) -> float:
    """Median milliseconds of a stored GENERECT_SEARCH (``url``: the team store)."""
    if url:
        os.environ["GENERECT_STORE_URL"] = url
    try:
        from generect_excel import udfs

        for block in blocks:  # cold: one API call each, stored
            table = udfs.GENERECT_SEARCH(block)
            if isinstance(table, str):
                raise RuntimeError(f"the cold call failed: {table}")
        before = len(server.log_entries())
        timings = []
        for i in range(calls):
            start = time.perf_counter()
            table = udfs.GENERECT_SEARCH(blocks[i % len(blocks)])
            timings.append((time.perf_counter() - start) * 1000)
        if len(server.log_entries()) != before or "from cache" not in str(table[0][0]):
            raise RuntimeError("a recalculation was not answered from the store")
        return S.median(timings)
    finally:
        os.environ.pop("GENERECT_STORE_URL", None)


def _burst(server: Any, homes: list[Path], url: str, offset: int, count: int) -> tuple[float, int]:
    """``count`` processes across ``homes`` ask one cold question together: (seconds from
    the start signal to the last answer, API calls)."""
    folder = Path(tempfile.mkdtemp(prefix="generect-burst-"))
    go = folder / "go"
    procs = []
    for n in range(count):
        home = homes[n % len(homes)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
        env.update(
            GENERECT_HOME=str(home),
            GENERECT_BASE_URL=server.url,
            GENERECT_API_KEY=S.KEY,
            GENERECT_CONFIG=str(home / "absent.toml"),
            GENERECT_STORE_URL=url,
            GENERECT_ANALYST=f"analyst{n % len(homes)}",
        )
        ready = folder / f"ready{n}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", CHILD, str(offset), str(ready), str(go)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )))  # fmt: skip
    while not all(ready.exists() for ready, _ in procs):
        time.sleep(0.01)
    before = len(server.billable_calls())
    started = time.time()
    go.touch()
    ends = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(err)
        ends.append(json.loads(out)["end"])
    return max(ends) - started, len(server.billable_calls()) - before


def run(*, quick: bool = False) -> dict[str, Any]:
    """Both figures; returns the rows."""
    from generect_excel.sandbox.postgres import LocalPostgres

    distinct, calls, runs = (20, 100, 1) if quick else (100, 500, 3)
    blocks = [criteria_block(n) for n in range(distinct)]
    with LocalPostgres() as postgres:
        with S.sandbox() as server, S.fresh_home() as home, S.excel_environment(server, home):
            sqlite_ms = _recalc(server, home, blocks, calls, None)
        with S.sandbox() as server, S.fresh_home() as home, S.excel_environment(server, home):
            team_ms = _recalc(server, home, blocks, calls, postgres.create_database("recalc"))
        with S.fresh_home() as home:
            wakes = _wake(postgres.create_database("wake"), home, 10 if quick else 30)
        url = postgres.create_database("burst")
        ratios, api_calls = [], []
        with S.sandbox(latency=LATENCY) as server, S.fresh_home() as a, S.fresh_home() as b:
            for n in range(runs):
                alone, _ = _burst(server, [a], url, 1000 + n, 1)
                together, made = _burst(server, [a, b], url, 2000 + n, PROCESSES)
                ratios.append(together / alone)
                api_calls.append(made)
    ratio = S.median(ratios)
    wake_ms = S.median(wakes)
    rows = [
        S.row(
            "10",
            "recalculation per call, SQLite store (GENERECT_SEARCH, stored answer)",
            f"{sqlite_ms:.3f} ms",
            runs=calls,
            limit=f"{TARGET_MS} ms",
            ratio=sqlite_ms / TARGET_MS,
            value=sqlite_ms,
        ),
        S.row(
            "10",
            "recalculation per call, PostgreSQL team store (loopback)",
            f"{team_ms:.3f} ms ({team_ms / sqlite_ms:.1f}x SQLite)",
            runs=calls,
            limit=f"{TARGET_MS} ms",
            ratio=team_ms / TARGET_MS,
            value=team_ms,
        ),
        S.row(
            "10",
            f"cross-machine coalescing: {PROCESSES} processes on 2 laptops, one cold question",
            f"{max(api_calls)} API call(s), {ratio:.2f}x one call alone",
            spread=S.spread(ratios, "x", 2),
            runs=runs,
            limit="1 call",
            verdict="pass" if max(api_calls) == 1 else "FAIL",
            value=max(api_calls),
        ),
        S.row(
            "10",
            "waking a waiter when another laptop's claim goes (LISTEN/NOTIFY)",
            f"{wake_ms:.1f} ms (polling alone: up to 400 ms)",
            spread=S.spread(wakes, " ms"),
            runs=len(wakes),
        ),
    ]
    return {
        "wake_ms": wakes,
        "sqlite_ms": sqlite_ms,
        "postgres_ms": team_ms,
        "calls": calls,
        "processes": PROCESSES,
        "api_calls_per_run": api_calls,
        "ratios": ratios,
        "rows": rows,
    }


if __name__ == "__main__":
    sys.exit(S.figure_main(run, __doc__ or "", "fewer requests and calls, one run", sys.argv[1:]))
