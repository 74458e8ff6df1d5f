"""The team store (issue 15): two "laptops" (two GENERECT_HOMEs, their own processes) on one
real PostgreSQL server, buying from the sandbox over HTTP; counted from the sandbox's request
log and the team ledger. The store tests shared with SQLite are in tests/test_store.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from generect_excel.errors import BudgetError, StoreError
from generect_excel.settings import load_settings
from generect_excel.store import Reservation, Store, UnknownOutcome, new_owner, open_store
from generect_excel.store.postgres import PG_MIGRATIONS, PostgresStore, redact_url
from test_store import NOW, make_charge, make_entry

KEY = "live_SECRET_team_7c1d"  # not test_: charged, and counted against the caps
HANG_GUARD = 30

CHILD = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.errors import GenerectError
from generect_excel.settings import load_settings
from generect_excel.store.register import lead_key

engine = Engine(load_settings(use_keyring=False))
jobs = json.loads(sys.argv[1])  # [[seniority, industry or null, limit, (offset)], ...]
engine.store  # open the store before the start signal
if len(sys.argv) > 2:
    Path(sys.argv[2]).touch()  # ready
    deadline = time.monotonic() + 30
    while not Path(sys.argv[3]).exists() and time.monotonic() < deadline:
        time.sleep(0.002)

def one(job):
    seniority, industry, limit, *offset = job
    fields = {"seniorities": [seniority], "limit_by": limit}
    if industry:
        fields["company_industries"] = [industry]
    if offset:  # a page of the criteria family
        fields["offset_by"] = offset[0]
    try:
        answer = engine.search(criteria_from_kwargs("database", **fields))
        if offset:
            ids = [key[0] for lead in answer.result.leads if (key := lead_key(lead))]
            return {"rows": len(ids), "ids": ids}
        return {"rows": len(answer.result.leads), "from_cache": answer.from_cache}
    except GenerectError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}

with ThreadPoolExecutor(max(1, len(jobs))) as pool:  # as the worksheet functions call
    print(json.dumps(list(pool.map(one, jobs))))
"""


def laptop_env(sandbox: Any, home: Path, url: str, analyst: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
    env.update(
        GENERECT_HOME=str(home),
        GENERECT_BASE_URL=sandbox.url,
        GENERECT_API_KEY=KEY,
        GENERECT_CONFIG=str(home / "absent.toml"),
        GENERECT_STORE_URL=url,
        GENERECT_ANALYST=analyst,
        **extra,
    )
    return env


def start(env: dict[str, str], jobs: list[Any], *gate: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(jobs), *map(str, gate)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def all_at_once(procs: list[tuple[Path, subprocess.Popen[str]]], go: Path) -> None:
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()


def team_store(url: str, home: Path, analyst: str = "lead") -> PostgresStore:
    return PostgresStore(url, analyst=analyst, home=home)


def charged_by_sandbox(sandbox: Any) -> Decimal:
    return Decimal(100) - sandbox.balance(KEY)  # every new key opens at $100


@pytest.fixture
def laptops(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "ana", tmp_path / "ben"


# -- Done when: two laptops on one PostgreSQL ---------------------------------------------------


def test_the_same_search_from_two_laptops_is_one_billable_call(
    sandbox: Any, postgres_url: str, laptops: tuple[Path, Path]
) -> None:
    ana, ben = laptops
    job = [["director", None, 5]]
    [first] = results(start(laptop_env(sandbox, ana, postgres_url, "ana"), job))
    [second] = results(start(laptop_env(sandbox, ben, postgres_url, "ben"), job))
    assert first == {"rows": 5, "from_cache": False}
    assert second == {"rows": 5, "from_cache": True}
    assert len(sandbox.billable_calls()) == 1
    store = team_store(postgres_url, ana)
    [row] = store.charges()
    assert store.ledger_who()[row.charge_id] == ("ana", os.uname().nodename)
    assert store.spend_by_analyst() == {"ana": row.amount_charged}


def test_eight_processes_across_two_laptops_at_once_make_one_call(
    sandbox: Any, postgres_url: str, laptops: tuple[Path, Path], tmp_path: Path
) -> None:
    team_store(postgres_url, tmp_path).close()  # the schema exists before they start
    sandbox.queue_faults(["latency=1.5"])  # slow: the others surely meet its claim
    go = tmp_path / "go"
    procs = []
    for n in range(8):
        home, analyst = (laptops[0], "ana") if n % 2 else (laptops[1], "ben")
        ready = tmp_path / f"ready{n}"
        env = laptop_env(sandbox, home, postgres_url, analyst)
        procs.append((ready, start(env, [["vp", None, 9]], ready, go)))
    all_at_once(procs, go)
    answers = [results(proc)[0] for _, proc in procs]
    assert len(sandbox.billable_calls()) == 1
    assert sorted(a["from_cache"] for a in answers) == [False] + [True] * 7
    assert all(a["rows"] == 9 for a in answers)
    assert len(team_store(postgres_url, tmp_path).charges()) == 1


SENIORITIES = ["senior", "manager", "director", "head"]
INDUSTRIES = [
    "Software Development",
    "IT Services and IT Consulting",
    "Technology, Information and Internet",
    "Financial Services",
    "Hospitals and Health Care",
    "Business Consulting and Services",
    "Advertising Services",
    "Staffing and Recruiting",
    "Real Estate",
    "Retail",
]


def test_a_team_cap_holds_across_laptops_under_forty_concurrent_searches(
    sandbox_factory: Any, postgres_url: str, laptops: tuple[Path, Path], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency=0.3)
    admin = team_store(postgres_url, tmp_path)
    admin.set_cap(Decimal("1"))  # the team's day: $1
    # Forty different searches (one criteria family each), $0.40 at worst each (20 rows).
    jobs = [[s, i, 20] for s in SENIORITIES for i in INDUSTRIES]
    go = tmp_path / "go"
    procs = []
    for n, (home, analyst) in enumerate(zip(laptops, ("ana", "ben"), strict=True)):
        ready = tmp_path / f"ready{n}"
        env = laptop_env(sandbox, home, postgres_url, analyst, GENERECT_MAX_PARALLEL="20")
        procs.append((ready, start(env, jobs[n::2], ready, go)))
    all_at_once(procs, go)
    answers = [a for _, proc in procs for a in results(proc)]
    assert len(answers) == 40
    refused = [a for a in answers if a.get("error") == "BudgetError"]
    bought = [a for a in answers if "rows" in a]
    assert len(refused) + len(bought) == 40 and refused and bought
    assert all("the team's daily cap of $1.00" in a["message"] for a in refused)
    assert charged_by_sandbox(sandbox) <= Decimal("1")
    assert len(sandbox.billable_calls()) == len(bought)
    assert admin.total_charged() == charged_by_sandbox(sandbox)
    assert admin.reserved_in_flight() == 0  # nothing left held


def test_a_laptop_killed_mid_refresh_leaves_nothing_for_the_other_to_buy_blindly(
    sandbox_factory: Any, postgres_url: str, laptops: tuple[Path, Path], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency=0.8)
    team_store(postgres_url, tmp_path).close()
    jobs = [[s, None, n] for n, s in enumerate(["senior", "manager", "director", "head"], 1)]
    ana_env = laptop_env(sandbox, laptops[0], postgres_url, "ana", GENERECT_MAX_PARALLEL="2")
    with start(ana_env, jobs) as refresh:
        try:
            deadline = time.monotonic() + HANG_GUARD
            while sandbox.in_flight(KEY) < 2:
                assert time.monotonic() < deadline, "the refresh never sent its requests"
                time.sleep(0.005)
            refresh.kill()  # SIGKILL: two requests at the server, two never sent
        finally:
            refresh.kill()
            refresh.communicate()
    deadline = time.monotonic() + HANG_GUARD
    while sandbox.in_flight(KEY):  # the server answers (and charges) the dead laptop's two
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    sent_by_ana = [e["body"] for e in sandbox.log_entries()]
    assert len(sent_by_ana) == 2

    ben_env = laptop_env(sandbox, laptops[1], postgres_url, "ben")
    answers = results(start(ben_env, jobs))
    again = [e["body"] for e in sandbox.log_entries()[2:]]
    assert not [body for body in again if body in sent_by_ana]  # not bought blindly
    assert len(again) == 2  # the two never sent, once each
    assert sorted(a.get("error", "answered") for a in answers) == [
        "OutcomeUnknownError",
        "OutcomeUnknownError",
        "answered",
        "answered",
    ]
    store = team_store(postgres_url, tmp_path)
    rows = store.charges()
    assert sum(r.amount_charged for r in rows) >= charged_by_sandbox(sandbox)  # no lost charge
    assert sorted(r.unknown_outcome for r in rows) == [False, False, True, True]
    who = store.ledger_who()  # each row is its buyer's: ana's lost calls, ben's answers
    assert sorted(who[r.charge_id][0] for r in rows if r.unknown_outcome) == ["ana", "ana"]
    assert sorted(who[r.charge_id][0] for r in rows if not r.unknown_outcome) == ["ben", "ben"]


REFRESH_CLI = "import sys; from generect_excel.cli import main; sys.exit(main(sys.argv[1:]))"
SENIORITIES = ["senior", "manager", "director", "head"]  # one criteria family each


def four_searches(path: Path) -> Path:
    """A workbook of four searches of distinct criteria (so they are in flight at once)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    for row, seniority in enumerate(SENIORITIES, start=1):
        ws[f"A{row}"], ws[f"B{row}"] = "Seniority", seniority
        column = "DEFG"[row - 1]
        ws[f"{column}10"] = f'=GENERECT_SEARCH(A{row}:B{row},{row},0,"full_name")'
    wb.save(path)
    return path


def test_a_laptop_whose_refresh_command_is_killed_leaves_nothing_to_buy_blindly(
    sandbox_factory: Any, postgres_url: str, laptops: tuple[Path, Path], tmp_path: Path
) -> None:
    # The whole `generect-excel refresh` on ana's laptop, SIGKILLed with two of its four
    # searches at the server; ben then refreshes the same workbook on his laptop.
    from workbook_support import load

    sandbox = sandbox_factory(latency=0.8)
    team_store(postgres_url, tmp_path).close()
    ana_book = four_searches(tmp_path / "ana.xlsx")
    ben_book = four_searches(tmp_path / "ben.xlsx")
    ana_env = laptop_env(sandbox, laptops[0], postgres_url, "ana", GENERECT_MAX_PARALLEL="2")
    with subprocess.Popen(
        [sys.executable, "-c", REFRESH_CLI, "refresh", str(ana_book), "--yes"],
        env=ana_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as refresh:
        try:
            deadline = time.monotonic() + HANG_GUARD
            while sandbox.in_flight(KEY) < 2:
                assert time.monotonic() < deadline, "the refresh never sent its requests"
                time.sleep(0.005)
            refresh.kill()  # SIGKILL: two requests at the server, two never sent
        finally:
            refresh.kill()
            refresh.communicate()
    deadline = time.monotonic() + HANG_GUARD
    while sandbox.in_flight(KEY):  # the server answers (and charges) the dead laptop's two
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    sent_by_ana = [e["body"] for e in sandbox.log_entries()]
    assert len(sent_by_ana) == 2

    ben_env = laptop_env(sandbox, laptops[1], postgres_url, "ben")
    done = subprocess.run(
        [sys.executable, "-c", REFRESH_CLI, "refresh", str(ben_book), "--yes"],
        env=ben_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # two cells say their answer was lost
    again = [e["body"] for e in sandbox.log_entries()[2:]]
    assert not [body for body in again if body in sent_by_ana]  # not bought blindly
    assert len(again) == 2  # the two never sent, once each
    sheet = load(ben_book, data_only=True)["Leads"]
    cells = [(sheet[f"{c}10"].value, sheet[f"{c}11"].value) for c in "DEFG"]
    lost = [c for c in cells if str(c[0]).startswith("#GENERECT! Answer lost")]
    filled = [c for c in cells if str(c[0]).startswith("Generect ·") and c[1] == "full_name"]
    assert len(lost) == len(filled) == 2  # a status line, then the table's header row
    store = team_store(postgres_url, tmp_path)
    rows = store.charges()
    assert sum(r.amount_charged for r in rows) >= charged_by_sandbox(sandbox)  # no lost charge
    who = store.ledger_who()  # ana's lost calls recorded as hers, ben's answers as his
    assert sorted(who[r.charge_id][0] for r in rows if r.unknown_outcome) == ["ana", "ana"]
    assert sorted(who[r.charge_id][0] for r in rows if not r.unknown_outcome) == ["ben", "ben"]


def test_two_laptops_paging_one_criteria_family_at_once_buy_no_lead_twice(
    sandbox: Any, postgres_url: str, laptops: tuple[Path, Path], tmp_path: Path
) -> None:
    # Four pages of one criteria family, two on each laptop, all asked at the same moment. The
    # pages overlap if bought blind (offsets 10 apart, 25 rows each, and Generect's order shifts
    # between calls): each must wait its turn and exclude what the others bought.
    team_store(postgres_url, tmp_path).close()
    go = tmp_path / "go"
    procs = []
    for home, who, offsets in ((laptops[0], "ana", (0, 20)), (laptops[1], "ben", (10, 30))):
        ready = tmp_path / f"{who}.ready"
        jobs = [["director", None, 25, offset] for offset in offsets]
        procs.append((ready, start(laptop_env(sandbox, home, postgres_url, who), jobs, ready, go)))
    all_at_once(procs, go)
    pages = [page for _, proc in procs for page in results(proc)]
    bought = [lead for page in pages for lead in page["ids"]]
    assert len(bought) == len(set(bought)) == 100  # four pages of 25, no lead twice
    assert len(sandbox.billable_calls()) == 4
    assert charged_by_sandbox(sandbox) == Decimal("2.00")  # 100 rows at $0.02: none twice
    store = team_store(postgres_url, tmp_path)
    assert store.register_counts() == {"owned": 100, "purchases": 100, "bought_twice": 0}
    sent = [e["body"] for e in sandbox.log_entries()]
    assert sorted(len(body.get("exclude_ids", ())) for body in sent) == [0, 25, 50, 75]


# -- the team store's own rules --------------------------------------------------------------


def test_migrations_are_recorded_safe_to_rerun_and_a_newer_schema_is_refused(
    postgres_url: str, tmp_path: Path
) -> None:
    store = team_store(postgres_url, tmp_path)
    assert store.migrations() == [m.name for m in PG_MIGRATIONS]
    assert store.migrate() == []  # nothing left to do
    assert team_store(postgres_url, tmp_path).schema_version == len(PG_MIGRATIONS)
    with store._transaction("test", write=True) as conn:
        conn.execute(
            "INSERT INTO _migrations (position, name, applied_at) VALUES (99, '0099_future', 'x')"
        )
    with pytest.raises(StoreError) as info:
        team_store(postgres_url, tmp_path)
    assert "newer generect-excel" in str(info.value)


def test_a_waiter_is_woken_when_another_laptop_s_claim_goes(
    postgres_url: str, tmp_path: Path
) -> None:
    # Waiting on another laptop's claim ends when the server says the claim went (LISTEN/
    # NOTIFY), not at the end of the poll's pause; a claim still held waits the pause out.
    from concurrent.futures import ThreadPoolExecutor

    ana, ben = team_store(postgres_url, tmp_path, "ana"), team_store(postgres_url, tmp_path, "ben")
    never = lambda entry: False  # noqa: E731
    holder = "another-laptop|4242|abc"  # another machine's claim: only its expiry would tell
    for key in ("saved", "released"):
        assert ana.claim(key, holder, ttl=600, is_fresh=never).state == "claimed"
    assert ben.wait_for_release("saved", 0.2) is False  # held: the full pause
    with ThreadPoolExecutor(2) as pool:
        saved = pool.submit(ben.wait_for_release, "saved", 120.0)
        released = pool.submit(ben.wait_for_release, "released", 120.0)
        time.sleep(0.5)
        assert not saved.done() and not released.done()
        ana.save(make_entry("saved"), make_charge("saved"), owner=holder)  # the answer lands
        assert saved.result(timeout=HANG_GUARD) is True  # long before its 120 s
        assert not released.done()  # woken only by its own key
        ana.release("released", holder)
        assert released.result(timeout=HANG_GUARD) is True
    assert ben.wait_for_release("saved", 120.0) is True  # already gone: at once
    ana.close()
    ben.close()


def test_an_analyst_cap_names_whose_it_is_and_what_is_spent_and_reserved(
    postgres_url: str, tmp_path: Path
) -> None:
    ana = team_store(postgres_url, tmp_path, "ana")
    ben = team_store(postgres_url, tmp_path, "ben")
    ana.set_cap(Decimal("1"), analyst="ana")
    ana.save(make_entry("done"), make_charge("done", amount="0.30"))
    own: list[tuple[Decimal, Decimal]] = []

    def reservation(amount: str) -> Reservation:
        return Reservation(Decimal(amount), None, None, lambda s, r: own.append((s, r)))

    never = lambda entry: False  # noqa: E731
    assert ana.claim("a", new_owner(), ttl=60, is_fresh=never, reservation=reservation("0.50"))
    with pytest.raises(BudgetError) as info:
        ana.claim("b", new_owner(), ttl=60, is_fresh=never, reservation=reservation("0.50"))
    assert str(info.value).startswith(
        "$0.50 more passes ana's team daily cap of $1.00: $0.30 spent, $0.50 reserved by calls "
        "in flight."
    )
    assert "generect-excel store cap" in info.value.full_message
    # Ben's purchases are his own: his laptop's check sees his spend, and no cap of his.
    claim = ben.claim("b", new_owner(), ttl=60, is_fresh=never, reservation=reservation("0.50"))
    assert claim.state == "claimed"
    assert own == [
        (Decimal("0.30"), Decimal(0)),
        (Decimal("0.30"), Decimal("0.50")),
        (Decimal(0), Decimal(0)),
    ]
    assert ana.caps() == {"ana": Decimal("1")}


def test_another_machine_claim_is_judged_by_its_expiry_only(
    postgres_url: str, tmp_path: Path
) -> None:
    store = team_store(postgres_url, tmp_path)
    never = lambda entry: False  # noqa: E731
    elsewhere = "ben-laptop|4242|token"  # a pid that means nothing on this machine
    assert store.claim("k1", elsewhere, ttl=60, is_fresh=never, now=NOW).state == "claimed"
    charge = replace(make_charge("k1"), unknown_outcome=True, rows=0)
    unknown = UnknownOutcome("k1", None, NOW, "OutcomeUnknownError", Decimal("0.50"), "c1")
    charge = replace(charge, charge_id="c1")
    store.mark_sent(unknown, charge, owner=elsewhere, origin="", ttl=60, now=NOW)
    soon = NOW + timedelta(seconds=30)
    assert store.claim("k1", new_owner(), ttl=60, is_fresh=never, now=soon).state == "busy"
    later = NOW + timedelta(seconds=61)
    claim = store.claim("k1", new_owner(), ttl=60, is_fresh=never, is_new_doubt=lambda u: True,
                        now=later)  # fmt: skip
    assert claim.state == "unknown" and claim.abandoned
    [row] = store.charges()
    assert row.unknown_outcome and row.charge_id == "c1"


def test_a_local_history_is_copied_once_into_the_team_store(
    postgres_url: str, tmp_path: Path
) -> None:
    local = Store(tmp_path / "ana" / "store.sqlite3")
    local.save(make_entry("k1"), make_charge("k1", amount="0.40"))
    local.save(make_entry("k2"), make_charge("k2", amount="0.10", time=NOW + timedelta(hours=1)))
    team = team_store(postgres_url, tmp_path, "ana")
    assert team.import_sqlite(local) == (2, 2)
    assert team.import_sqlite(local) == (0, 0)  # again: no ledger row twice
    assert [r.charge_id for r in team.charges()] == [r.charge_id for r in local.charges()]
    assert team.total_charged() == Decimal("0.50")
    assert team.get("k2") == local.get("k2")


def test_an_unreachable_server_sends_nothing_and_says_so(sandbox: Any, tmp_path: Path) -> None:
    import socket

    from generect_excel.criteria import criteria_from_kwargs
    from generect_excel.engine import Engine

    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"postgresql://ana:hunter2@127.0.0.1:{port}/team"
    settings = load_settings(
        environ={"GENERECT_STORE_URL": dead},
        config_file=tmp_path / "absent.toml",
        use_keyring=False,
        api_key=KEY,
        base_url=sandbox.url,
        home=tmp_path,
    )
    assert "hunter2" not in repr(settings)
    with pytest.raises(StoreError) as info:
        Engine(settings).search(criteria_from_kwargs("database", seniorities=["vp"], limit_by=3))
    assert "team store is unreachable" in str(info.value)
    assert "hunter2" not in str(info.value) + str(info.value.details)
    assert sandbox.log_entries() == []  # nothing sent, nothing charged


def test_the_one_setting_chooses_the_backend(postgres_url: str, tmp_path: Path) -> None:
    import getpass

    base = {"config_file": tmp_path / "absent.toml", "use_keyring": False, "home": tmp_path}
    local = open_store(load_settings(environ={}, **base))
    assert type(local) is Store and local.path == tmp_path / "store.sqlite3"
    team = open_store(load_settings(environ={"GENERECT_STORE_URL": postgres_url}, **base))
    assert isinstance(team, PostgresStore) and team.analyst == getpass.getuser()
    named = load_settings(
        environ={"GENERECT_STORE_URL": postgres_url, "GENERECT_ANALYST": "carol"}, **base
    )
    assert open_store(named).analyst == "carol"  # type: ignore[attr-defined]
    assert redact_url("postgresql://a:secret@h:5/db") == "postgresql://a:***@h:5/db"


def test_a_charge_bought_while_the_server_went_away_is_journaled_and_imported(
    postgres_url: str, tmp_path: Path
) -> None:
    store = team_store(postgres_url, tmp_path)
    store.close()
    store._conninfo = postgres_url.rsplit("/", 1)[0] + "/absent_database"  # the server is gone
    entry, charge = make_entry("k9"), make_charge("k9")
    with pytest.raises(StoreError) as info:
        store.save(entry, charge, retry_for=0.2)
    assert "Charged $0.50" in str(info.value)
    assert store.journal_path.exists()
    back = team_store(postgres_url, tmp_path)  # the server is back: the journal is imported
    assert [r.charge_id for r in back.charges()] == [charge.charge_id]
    assert back.get("k9") == entry and not back.journal_path.exists()


def test_the_store_commands_set_up_cap_import_and_report_the_team(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from generect_excel.cli import main

    for name in [v for v in os.environ if v.startswith("GENERECT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("GENERECT_ANALYST", "ana")
    local = Store(tmp_path / "store.sqlite3")  # ana's history before the team store
    local.save(make_entry("k1"), make_charge("k1", amount="0.40", time=datetime.now(UTC)))
    monkeypatch.setenv("GENERECT_STORE_URL", postgres_url)
    assert main(["store", "init"]) == 0
    assert f"{len(PG_MIGRATIONS)} migration(s) applied" in capsys.readouterr().out
    assert main(["store", "migrate"]) == 0  # again: nothing to do, still fine
    assert main(["store", "cap", "1"]) == 0
    assert main(["store", "cap", "0.5", "--analyst", "ana"]) == 0
    assert main(["store", "import"]) == 0
    assert main(["store", "import"]) == 0  # re-run: no ledger row twice
    out = capsys.readouterr().out
    assert "imported 1 ledger row(s)" in out and "imported 0 ledger row(s)" in out
    assert main(["store", "status"]) == 0
    status = capsys.readouterr().out
    assert "backend: postgresql" in status and "ledger: 1" in status
    assert "'*': '1'" in status and "'ana': '0.5'" in status
    assert main(["spend"]) == 0
    report = capsys.readouterr().out
    assert "Team today $0.40 of the team's $1.00 cap: ana $0.40 of $0.50" in report
