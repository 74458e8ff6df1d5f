"""Money paths over a big ledger (issue 16, cause 5): ``generect-excel spend``,
``GENERECT_SPEND`` and the paid call's ``claim``, for ledgers of 10,000 and 100,000 rows.

Each ledger is written straight into a fresh SQLite store (and, unless ``--quick``, a fresh
database on a throw-away PostgreSQL cluster for the team store): N paid calls spread evenly
over the past 30 days (a busy month: "today" holds about N/30 of them), 1 in 200 of them a lost answer
recorded at its worst case, half of those settled by reconcile. Then, per ledger size:

1. ``generect-excel spend --csv FILE``: the whole CLI process (start-up, the export, the
   totals), wall time, CPU time and peak RSS (``os.wait4``'s rusage), median of the runs; and
   ``generect-excel spend`` printing its table to a pipe.
2. One ``GENERECT_SPEND("today")`` evaluation (``functions.evaluate_spend`` on an engine over
   the store, as the worksheet function and the refresher call it), median of the calls; and
   ``GENERECT_SPEND("all")``, which reads the whole ledger.
3. One paid ``claim`` (its reservation's check sums today's ledger in the claim's write
   transaction) followed by its release, median of the calls.

Targets: flat with the ledger's size (the 100,000 / 10,000 ratio near 1); the CLI well under
1 s and under 100 MB. Totals are checked against a ``Decimal`` sum of what was written, so a
fast wrong answer fails.

    python benchmarks/bench_spend.py            # 10k and 100k rows, SQLite and PostgreSQL
    python benchmarks/bench_spend.py --quick    # 10k and 100k rows, SQLite only, fewer runs
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import _support as S

SIZES = (10_000, 100_000)
CLI_LIMIT_SECONDS = 1.0
CLI_LIMIT_MB = 100.0
FLAT_LIMIT = 2.0  # the 100k/10k ratio a "flat" figure stays under (noise included)


def fill(store: Any, rows: int, now: datetime) -> Decimal:
    """Write ``rows`` ledger rows into ``store`` (one transaction); returns what "today"
    should total (non-test, settled rows at their settled amount)."""
    from generect_excel.ledger import Charge, Origin, Settlement, period_bounds

    since, until = period_bounds("today", now)
    assert since is not None and until is not None
    step = timedelta(days=30) / rows
    today = Decimal(0)
    settlements = []
    with store._transaction("filling the benchmark ledger", write=True) as conn:
        for n in range(rows):
            when = now - step * (rows - n)
            lost = n % 200 == 7
            amount = Decimal("0.04") if n % 10 == 0 else Decimal("0.02") * (1 + n % 25)
            charge = Charge(
                charge_id=f"bench-{n}",
                time=when,
                endpoint="/api/v1/search/database/leads/",
                mode="database",
                request={"seniorities": ["director"], "limit_by": 1 + n % 25},
                rows=1 + n % 25,
                results_count=1000,
                amount_charged=amount,
                test_mode=n % 50 == 3,
                account="fp",
                base_url="http://127.0.0.1",
                cache_key=f"k{n}",
                origin=Origin("Leads.xlsx", "Leads", f"A{n % 500 + 1}"),
                unknown_outcome=lost,
            )
            store._add_charge(conn, charge)
            counted = amount
            if lost and n % 400 == 7:
                counted = Decimal("0.02")
                settlements.append(
                    Settlement(f"bench-{n}", counted, f"t{n}", when, now),
                )
            if since <= when < until and not charge.test_mode:
                today += counted
    store.settle(settlements)
    if getattr(store, "analyst", None) is not None:
        # PostgreSQL: what autovacuum does soon after a bulk insert (the visibility map lets
        # the totals read the index alone), done now so that every run measures the same.
        with store._connection("vacuuming the benchmark ledger") as conn:
            conn.raw.execute("VACUUM ANALYZE ledger")
            conn.raw.execute("VACUUM ANALYZE settlements")
    return today


def _cli(home: Path, args: list[str], env_extra: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds) of one ``generect-excel`` process. The CPU
    time (user + system, ``os.wait4``) is the process's own work: on a shared machine the wall
    time also counts the time it waited for a core."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
    env.update(
        GENERECT_HOME=str(home),
        GENERECT_CONFIG=str(home / "absent.toml"),
        GENERECT_API_KEY=S.KEY,
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        **env_extra,
    )
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from generect_excel.cli import main; sys.exit(main())",
            *args,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"generect-excel {' '.join(args)} failed: {proc.stderr.read()!r}")
    proc.stderr.close()
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # maxrss in KiB


def _timed(call: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def measure(
    home: Path, rows: int, *, runs: int, cli_runs: int, url: str | None = None
) -> dict[str, Any]:
    """Every figure for one ledger of ``rows`` rows (``url``: on the team store)."""
    from generect_excel.engine import Engine
    from generect_excel.functions import evaluate_spend
    from generect_excel.ledger import period_bounds
    from generect_excel.settings import load_settings
    from generect_excel.store.records import Reservation

    extra: dict[str, Any] = {"store_url": url} if url else {}
    settings = load_settings(
        environ={},
        config_file=home / "absent.toml",
        use_keyring=False,
        api_key=S.KEY,
        home=home,
        **extra,
    )
    engine = Engine(settings)
    store = engine.store
    now = datetime.now(UTC)
    expected = fill(store, rows, now)
    got = Decimal(str(evaluate_spend(engine, "today")))
    if got != expected:
        raise RuntimeError(f"GENERECT_SPEND('today') said {got}, the ledger holds {expected}")
    spend_today = _timed(lambda: evaluate_spend(engine, "today"), runs)
    spend_all = _timed(lambda: evaluate_spend(engine, "all"), max(3, runs // 5))
    since, until = period_bounds("today", now)

    def admit(spent: Decimal, reserved: Decimal) -> None:
        if spent != expected:
            raise RuntimeError(f"the claim saw {spent} spent today, the ledger holds {expected}")

    def claim() -> None:
        key, owner = uuid.uuid4().hex, f"bench-{uuid.uuid4().hex}"
        outcome = store.claim(
            key,
            owner,
            ttl=60.0,
            is_fresh=lambda entry: True,
            reservation=Reservation(Decimal("0.50"), since, until, admit),
        )
        assert outcome.state == "claimed", outcome
        store.release(key, owner)

    claims = _timed(claim, runs)
    cli_env = {"GENERECT_STORE_URL": url} if url else {}
    csv_path = home / "ledger.csv"
    csv_runs = [_cli(home, ["spend", "--csv", str(csv_path)], cli_env) for _ in range(cli_runs)]
    with csv_path.open(encoding="utf-8") as fh:
        written = sum(1 for _ in fh) - 1
    if written != rows:
        raise RuntimeError(f"the CSV holds {written} rows, the ledger {rows}")
    table_runs = [_cli(home, ["spend"], cli_env) for _ in range(cli_runs)]
    store.close()
    return {
        "spend_today_ms": S.median(spend_today),
        "spend_all_ms": S.median(spend_all),
        "claim_ms": S.median(claims),
        "csv_s": S.median([t for t, _, _ in csv_runs]),
        "csv_mb": S.median([m for _, m, _ in csv_runs]),
        "csv_cpu": S.median([c for _, _, c in csv_runs]),
        "table_s": S.median([t for t, _, _ in table_runs]),
        "table_mb": S.median([m for _, m, _ in table_runs]),
        "table_cpu": S.median([c for _, _, c in table_runs]),
    }


def _rows(backend: str, figures: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    small, big = figures[SIZES[0]], figures[SIZES[-1]]
    out = []
    for key, what, unit, digits in (
        ("spend_today_ms", 'GENERECT_SPEND("today")', "ms", 2),
        ("spend_all_ms", 'GENERECT_SPEND("all")', "ms", 2),
        ("claim_ms", "paid claim (today's total in its transaction) + release", "ms", 2),
    ):
        ratio = big[key] / small[key]
        out.append(
            S.row(
                "spend",
                f"{what}, {backend}, {SIZES[-1]:,} vs {SIZES[0]:,} ledger rows",
                f"{big[key]:.{digits}f} {unit} vs {small[key]:.{digits}f} {unit}",
                limit=f"ratio <= {FLAT_LIMIT}",
                ratio=ratio / FLAT_LIMIT,
                value=big[key],
            )
        )
    for key, mb, cpu, what in (
        ("csv_s", "csv_mb", "csv_cpu", "generect-excel spend --csv"),
        ("table_s", "table_mb", "table_cpu", "generect-excel spend (table)"),
    ):
        for size in SIZES:
            f = figures[size]
            out.append(
                S.row(
                    "spend",
                    f"{what}, {backend}, {size:,} ledger rows (whole process)",
                    f"{f[key]:.2f} s ({f[cpu]:.2f} s CPU), {f[mb]:.0f} MB peak",
                    limit=f"{CLI_LIMIT_SECONDS} s, {CLI_LIMIT_MB:.0f} MB",
                    ratio=max(f[key] / CLI_LIMIT_SECONDS, f[mb] / CLI_LIMIT_MB),
                    value=f[key],
                )
            )
    return out


def run(*, quick: bool = False) -> dict[str, Any]:
    """Every figure; returns ``{"rows": [...], "figures": {backend: {size: {...}}}}``."""
    runs, cli_runs = (20, 1) if quick else (50, 3)
    figures: dict[str, dict[int, dict[str, Any]]] = {"SQLite": {}}
    for size in SIZES:
        with S.fresh_home() as home:
            figures["SQLite"][size] = measure(home, size, runs=runs, cli_runs=cli_runs)
    if not quick:
        from generect_excel.sandbox.postgres import LocalPostgres

        figures["PostgreSQL"] = {}
        with LocalPostgres() as postgres:
            for size in SIZES:
                url = postgres.create_database(f"spend{size}")
                with S.fresh_home() as home:
                    figures["PostgreSQL"][size] = measure(
                        home, size, runs=runs, cli_runs=cli_runs, url=url
                    )
    rows = [line for backend, f in figures.items() for line in _rows(backend, f)]
    return {"rows": rows, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    """Print one line per figure."""
    return S.figure_main(
        run,
        "Money paths over a big ledger: spend CLI, GENERECT_SPEND, claim.",
        "SQLite only, fewer runs",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
