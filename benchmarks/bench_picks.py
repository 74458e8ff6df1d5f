"""Preview-and-pick against buying the whole preview, and how to find 60 work emails.

Against the sandbox on 127.0.0.1 with a test key (priced, never debited), each run on a fresh
store; every amount is read back from the ledger (``Engine.charges``), never computed here.

1. **A 40-lead list.** Preview 500 masked rows of one criteria block, pick 40 of them, buy
   those 40 (``picks.buy``), against buying the same 500 rows with ``GENERECT_SEARCH``. Also
   with 10 of the 40 already owned (bought by an earlier search): they cost nothing.
2. **60 work emails** at 250 ms API latency: one ``email/find`` call per lead through the
   engine (``max_parallel`` at once, what ``GENERECT_EMAIL`` does in the refresher) against
   the bulk endpoint (two jobs of at most 50, polled every 0.5 s until complete; the
   sandbox completes a job on its second status read). Median wall time of several runs, and
   the ratio.

    python benchmarks/bench_picks.py           # 5 runs of the email comparison
    python benchmarks/bench_picks.py --quick   # 2 runs
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import _support as S
import httpx

from generect_excel import _constants as C
from generect_excel.emails import run_email
from generect_excel.engine import Engine
from generect_excel.functions import run_search
from generect_excel.picks import buy, run_preview
from generect_excel.store.register import lead_key

CRITERIA = [["Seniority", "C-Suite; VP"], ["Location", "United States"]]
PREVIEW_ROWS = 500
PICKED = 40
OWNED_AMONG_PICKED = 10
EMAILS = 60
POLL_SECONDS = 0.5


def _spent(engine: Engine, path: str | None = None) -> Decimal:
    return sum(
        (Decimal(c.amount_charged) for c in engine.charges() if path in (None, c.endpoint)),
        Decimal("0"),
    )


def cost_of_a_list(owned_first: bool = False) -> dict[str, Any]:
    """Ledger totals of preview-and-pick and of buying the whole preview (two fresh stores)."""
    with S.sandbox() as server, S.fresh_home() as home:
        engine = Engine(S.settings(server, home))
        owned: list[str] = []
        if owned_first:  # an earlier search bought some of the leads the analyst will pick
            page = run_search(engine, CRITERIA, float(OWNED_AMONG_PICKED)).answer
            owned = [k[0] for lead in page.result.leads if (k := lead_key(lead))]
        before = _spent(engine)
        table, _ = run_preview(engine, CRITERIA, PREVIEW_ROWS)
        ids = [row[0] for row in table[2:]]
        step = len(ids) // PICKED
        others = [i for i in ids[::step] + ids if i not in owned]
        picked = list(dict.fromkeys(others))[: PICKED - len(owned)] + owned
        bought = buy(engine, picked)
        assert len(bought) == PICKED
        pick = _spent(engine) - before
        preview = _spent(engine, C.PATH_PREVIEW_LEADS)
        enrich = _spent(engine, C.PATH_ENRICH_DATABASE_LEAD)
        enrich_calls = sum(
            1 for e in server.log_entries() if e["path"] == C.PATH_ENRICH_DATABASE_LEAD
        )
    with S.sandbox() as server, S.fresh_home() as home:
        engine = Engine(S.settings(server, home))
        run_search(engine, CRITERIA, float(PREVIEW_ROWS))
        whole = _spent(engine)
    return {
        "preview": preview,
        "enrich": enrich,
        "enrich_calls": enrich_calls,
        "pick": pick,
        "whole": whole,
        "owned": len(owned),
    }


def _per_lead(server: Any, ids: list[str]) -> tuple[float, int]:
    with S.fresh_home() as home:
        engine = Engine(S.settings(server, home))
        started = time.perf_counter()
        with ThreadPoolExecutor(engine.settings.max_parallel) as pool:
            found = sum(
                1 for email, _ in pool.map(lambda i: run_email(engine, i), ids) if "@" in email
            )
        return time.perf_counter() - started, found


def _bulk(server: Any, ids: list[str]) -> tuple[float, int]:
    headers = {"Authorization": f"Token {S.KEY}"}
    started = time.perf_counter()
    found = 0
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        jobs = []
        for start in range(0, len(ids), C.EMAIL_BULK_MAX):
            chunk = [{"lead_id": i} for i in ids[start : start + C.EMAIL_BULK_MAX]]
            answer = client.post(C.PATH_EMAIL_FIND_BULK, json={"leads": chunk}).json()
            jobs.append(answer["meta"]["job_id"])
        for job in jobs:
            while True:
                status = client.get(C.PATH_EMAIL_FIND_BULK_JOB.format(job_id=job)).json()
                if status["meta"]["status"] == "completed":
                    found += sum(1 for item in status["data"] if item.get("valid_email"))
                    break
                time.sleep(POLL_SECONDS)
    return time.perf_counter() - started, found


def emails(runs: int) -> dict[str, Any]:
    """Median wall time of 60 emails, one call per lead vs bulk jobs, at 250 ms latency."""
    with S.sandbox(latency=S.API_LATENCY) as server:
        with S.fresh_home() as home:
            table, _ = run_preview(Engine(S.settings(server, home)), CRITERIA, EMAILS)
        ids = [row[0] for row in table[2:]]
        per_lead, bulk = [], []
        found = set()
        for _ in range(runs):
            seconds, n = _per_lead(server, ids)
            per_lead.append(seconds)
            found.add(n)
            seconds, n = _bulk(server, ids)
            bulk.append(seconds)
            found.add(n)
    return {"per_lead": S.median(per_lead), "bulk": S.median(bulk), "found": sorted(found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for owned_first in (False, True):
        r = cost_of_a_list(owned_first)
        label = f"{PICKED}-lead list" + (f", {r['owned']} already owned" if r["owned"] else "")
        print(
            f"{label}: preview {PREVIEW_ROWS} (${r['preview']:.2f}) + buy {r['enrich_calls']} "
            f"(${r['enrich']:.2f}) = ${r['pick']:.2f}  vs  whole preview bought "
            f"${r['whole']:.2f}  -> {r['pick'] / r['whole']:.2f}x the cost, "
            f"${r['whole'] - r['pick']:.2f} saved"
        )
    e = emails(2 if args.quick else 5)
    print(
        f"{EMAILS} emails at {S.API_LATENCY * 1000:.0f} ms latency: one call per lead "
        f"{e['per_lead']:.2f} s, bulk jobs {e['bulk']:.2f} s (median); "
        f"per-lead / bulk = {e['per_lead'] / e['bulk']:.2f}; emails found {e['found']}"
    )


if __name__ == "__main__":
    main()
