"""The sandbox's speed: a 100-row database search over 100,000 synthetic leads, over real HTTP.

Builds the population (and reports how long that took), starts the sandbox on 127.0.0.1,
warms up, then sends 100-row database searches with varied filters and offsets over one
keep-alive connection and prints the median latency (and p90) beside the few-milliseconds
target, plus the in-process share (filter + render rows) to show where the time goes.

    python benchmarks/bench_sandbox.py            # 300 searches
    python benchmarks/bench_sandbox.py --quick    # 30 searches (CI keeps it working)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

import httpx

from generect_excel._constants import PATH_DATABASE_SEARCH
from generect_excel.sandbox import Population, Sandbox, SandboxConfig
from generect_excel.sandbox.search import run_search

BALANCE = Decimal("10000000")
LEADS = 100_000
ROWS = 100
TARGET_MS = 10.0  # "a few milliseconds"

# Filters an analyst's criteria range produces (each matches over 2,100 leads, so every page
# below is full); each is paged at several offsets.
BODIES: list[dict[str, Any]] = [
    {"seniorities": ["manager", "director"], "locations": ["United States"]},
    {"job_titles": ["marketing", "sales"], "company_headcounts": ["51-200", "201-500"]},
    {"company_industries": ["Software Development", "IT Services and IT Consulting"]},
    {"job_titles": ["engineer", "developer"], "seniorities": ["senior", "entry"]},
    {"seniorities": ["c_suite", "founder"], "company_types": ["Privately Held"]},
    {"locations": ["San Francisco, CA", "New York"], "exclude_company_headcounts": ["1-10"]},
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(*, quick: bool = False, leads: int = LEADS) -> dict[str, Any]:
    """Build the population, start the sandbox, time the searches; return the figures.

    Raises RuntimeError on an unexpected answer (a status other than 200, a short page).
    """
    requests = 30 if quick else 300

    started = time.perf_counter()
    population = Population(seed=1, size=leads)
    build_s = time.perf_counter() - started

    bodies = [
        {**body, "limit_by": ROWS, "offset_by": offset}
        for offset in (0, 100, 500, 1000, 2000)
        for body in BODIES
    ]
    # A live-style key, as every figure uses: the sandbox debits it (from a balance far above
    # what the figure spends), so the timing includes its billing path.
    config = SandboxConfig(
        leads=leads, seed=1, realtime_latency=0, balance=BALANCE, monthly_limit=BALANCE
    )
    http_ms: list[float] = []
    local_ms: list[float] = []
    with (
        Sandbox(config, population=population) as sandbox,
        httpx.Client(
            base_url=sandbox.url, headers={"Authorization": "Token live_bench"}, timeout=30
        ) as client,
    ):
        for body in bodies:  # warm-up: lazy indexes, connection, caches
            client.post(PATH_DATABASE_SEARCH, json=body).raise_for_status()
        for n in range(requests):
            body = bodies[n % len(bodies)]
            t0 = time.perf_counter()
            response = client.post(PATH_DATABASE_SEARCH, json=body)
            leads_found = response.json()["data"]["leads"]
            http_ms.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200 or len(leads_found) != ROWS:
                raise RuntimeError(f"unexpected answer for {body}: {response.status_code}")
            t0 = time.perf_counter()
            result = run_search(population, body, "database")
            json.dumps([population.database_row(i) for i in result.row_ids], ensure_ascii=False)
            local_ms.append((time.perf_counter() - t0) * 1000)

    median = statistics.median(http_ms)
    return {
        "figure": f"sandbox database search, {ROWS} rows over {leads:,} leads",
        "leads": leads,
        "build_s": build_s,
        "requests": requests,
        "median_ms": median,
        "p90_ms": percentile(http_ms, 0.9),
        "local_median_ms": statistics.median(local_ms),
        "target_ms": TARGET_MS,
        "ratio": median / TARGET_MS,
        "http_ms": http_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 searches instead of 300")
    parser.add_argument("--leads", type=int, default=LEADS, help=f"population size ({LEADS})")
    args = parser.parse_args(argv)
    try:
        result = run(quick=args.quick, leads=args.leads)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    median = result["median_ms"]
    print(f"population: {args.leads:,} leads built in {result['build_s']:.2f} s")
    print(
        f"database search, {ROWS} rows over HTTP: median {median:.2f} ms, "
        f"p90 {result['p90_ms']:.2f} ms ({result['requests']} searches; target < {TARGET_MS:g} ms)"
    )
    print(
        f"  of which filter + render + JSON in process: median {result['local_median_ms']:.2f} ms"
    )
    print("PASS" if median < TARGET_MS else "SLOW", f"median {median:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
