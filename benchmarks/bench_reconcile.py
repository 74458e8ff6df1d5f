"""Reconcile: a busy month's ledger matched against Generect's billing history.

A month of 10,000 paid calls (searches of 1-25 rows at $0.02 a row, a few realtime counts),
each with its transaction a few seconds before its ledger row, plus 60 lost answers (half of
them charged) and 20 charges the ledger lacks. Times :func:`generect_excel.reconcile.match`
(the pure matching, no HTTP, no store) and prints the median beside a 1 s limit, and checks
that every lost answer was settled the right way.

    python benchmarks/bench_reconcile.py            # 9 runs
    python benchmarks/bench_reconcile.py --quick    # 2 runs
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from generect_excel import _constants as C
from generect_excel.ledger import LedgerEntry, Origin
from generect_excel.reconcile import match
from generect_excel.responses import BillingHistory, Transaction

CALLS = 10_000
LOST = 60
EXTRA = 20
LIMIT_SECONDS = 1.0
START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH = timedelta(days=30)


def _entry(n: int, when: datetime, path: str, amount: Decimal, *, lost: bool) -> LedgerEntry:
    return LedgerEntry(
        charge_id=f"c{n}",
        time=when,
        endpoint=path,
        mode="realtime" if "realtime" in path else "database",
        request={},
        rows=0,
        results_count=None,
        amount_charged=amount,
        test_mode=False,
        account="fp",
        base_url="https://api.generect.com",
        cache_key=f"k{n}",
        origin=Origin(),
        unknown_outcome=lost,
        id=n,
    )


def _transaction(n: int, when: datetime, path: str, charge: Decimal) -> Transaction:
    return Transaction(
        id=f"t{n}",
        time=when,
        credits=-charge,
        operation=C.TRANSACTION_TYPES[path],
        status="success",
    )


def month(seed: int = 3) -> tuple[list[LedgerEntry], list[Transaction], int]:
    """The ledger rows, the transactions, and how many lost answers were really charged."""
    rng = random.Random(seed)
    entries: list[LedgerEntry] = []
    transactions: list[Transaction] = []
    charged_lost = 0
    moments = sorted(START + MONTH * rng.random() for _ in range(CALLS + LOST + EXTRA))
    lost_at = set(rng.sample(range(CALLS + LOST + EXTRA), LOST + EXTRA))
    extra_at = set(rng.sample(sorted(lost_at), EXTRA))
    for n, moment in enumerate(moments):
        if rng.random() < 0.1:
            path, charge = C.PATH_REALTIME_COUNT, C.PRICE_REALTIME_COUNT
            estimate = charge
        else:
            path = C.PATH_DATABASE_SEARCH
            rows = rng.randint(1, 25)
            charge, estimate = C.PRICE_DATABASE_ROW * rows, C.PRICE_DATABASE_ROW * 25
        sent = moment - timedelta(seconds=rng.uniform(0.2, 5))
        if n in extra_at:  # another program on the key: a charge and no row
            transactions.append(_transaction(n, sent, path, charge))
        elif n in lost_at:  # a lost answer: a row at the estimate; charged half the time
            entries.append(_entry(n, moment, path, estimate, lost=True))
            if rng.random() < 0.5:
                transactions.append(_transaction(n, sent, path, charge))
                charged_lost += 1
        else:
            entries.append(_entry(n, moment, path, charge, lost=False))
            transactions.append(_transaction(n, sent, path, charge))
    return entries, transactions, charged_lost


def run(*, quick: bool = False) -> dict[str, Any]:
    """Time ``match`` on a busy month; return the figures."""
    entries, transactions, charged_lost = month()
    history = BillingHistory(
        since=START - timedelta(days=1), until=START + MONTH + timedelta(days=1),
        transactions=transactions,
    )  # fmt: skip
    now = START + MONTH + timedelta(days=2)
    timings, result = [], None
    for _ in range(2 if quick else 9):
        started = time.perf_counter()
        result = match(
            entries, history, since=START, until=START + MONTH + timedelta(hours=1), now=now
        )
        timings.append(time.perf_counter() - started)
    assert result is not None
    settled_charged = sum(1 for s in result.settled if s.settlement.charged)
    # Each lost call n was charged by transaction "t<n>", if at all: a settlement saying
    # otherwise is wrong.
    charged_ids = {t.id for t in transactions}
    wrong = sum(
        1
        for s in result.settled
        if s.settlement.transaction_id != ("t" + s.entry.charge_id[1:])
        and (s.settlement.charged or "t" + s.entry.charge_id[1:] in charged_ids)
    )
    median = statistics.median(timings)
    return {
        "median_s": median,
        "settled": len(result.settled),
        "settled_charged": settled_charged,
        "charged_lost": charged_lost,
        "wrong": wrong,
        "unresolved": len(result.unresolved),
        "missing_from_ledger": len(result.missing_from_ledger),
        "missing_from_account": len(result.missing_from_account),
        "rows": [
            {
                "what": f"reconcile: {len(entries):,} ledger rows against {len(transactions):,} "
                "charges",
                "measured": f"median {median * 1000:.0f} ms, "
                f"{median / LIMIT_SECONDS:.2f} x the limit",
                "spread": f"{len(timings)} runs, min {min(timings) * 1000:.0f} ms, "
                f"max {max(timings) * 1000:.0f} ms",
                "limit": f"{LIMIT_SECONDS:g} s",
            },
            {
                "what": f"reconcile: {LOST} lost answers ({charged_lost} really charged)",
                "measured": f"{len(result.settled)} settled ({settled_charged} as charged, "
                f"{wrong} wrongly), "
                f"{len(result.unresolved)} still unknown; {len(result.missing_from_ledger)} "
                f"charges the ledger lacks, {len(result.missing_from_account)} rows the "
                "account lacks",
                "spread": "deterministic (seed 3)",
                "limit": f"0 wrong, {EXTRA} charges the ledger lacks, 0 rows the account lacks",
            },
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs instead of 9")
    args = parser.parse_args(argv)
    for line in run(quick=args.quick)["rows"]:
        print(f"{line['what']}: {line['measured']} ({line['spread']}; limit {line['limit']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
