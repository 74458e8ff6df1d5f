"""The engine against the sandbox over real HTTP: paid once, counted from the request log."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from generect_excel import _constants as C
from generect_excel.client import Client
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine, Origin, make_cache_key, refresh_token
from generect_excel.errors import (
    BudgetError,
    CriteriaError,
    OutcomeUnknownError,
    ProtocolError,
    StoreError,
)
from generect_excel.settings import Settings, load_settings
from generect_excel.store import Store

KEY = "live_SECRET_4f9c2b7e1d8a"  # not test_: charged, and counted against the caps
TEST_KEY = "test_SECRET_0a1b2c3d4e"


def make_settings(sandbox: Any, home: Path, *, key: str = KEY, **overrides: Any) -> Settings:
    return load_settings(
        environ={},
        config_file=home / "absent.toml",
        use_keyring=False,
        api_key=key,
        base_url=sandbox.url,
        home=home,
        **overrides,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def settings(sandbox: Any, home: Path) -> Settings:
    return make_settings(sandbox, home)


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    with Client(settings) as client:
        yield client


@pytest.fixture
def engine(settings: Settings, client: Client) -> Engine:
    return Engine(settings, client=client)


def directors(limit: int = 5, **extra: Any) -> Any:
    return criteria_from_kwargs("database", seniorities=["director"], limit_by=limit, **extra)


def billable(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.billable_calls()


def ids(answer: Any) -> list[Any]:
    return [lead.get("lead_id") or lead.get("id") for lead in answer.result.leads]


def child_env(sandbox: Any, home: Path, key: str = KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
    env.update(
        GENERECT_HOME=str(home),
        GENERECT_BASE_URL=sandbox.url,
        GENERECT_API_KEY=key,
        GENERECT_CONFIG=str(home / "absent.toml"),
    )
    return env


CHILD_SEARCH = """
import json, sys, time
from pathlib import Path
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.settings import load_settings

engine = Engine(load_settings(use_keyring=False))
request = criteria_from_kwargs("database", seniorities=["director"], limit_by=int(sys.argv[1]))
engine.store  # open the store before the start signal
if len(sys.argv) > 2:
    Path(sys.argv[2]).touch()  # ready
    deadline = time.monotonic() + 30
    while not Path(sys.argv[3]).exists() and time.monotonic() < deadline:
        time.sleep(0.002)
answer = engine.search(request)
leads = answer.result.leads
print(json.dumps({"from_cache": answer.from_cache,
                  "ids": [lead.get("lead_id") or lead.get("id") for lead in leads]}))
"""


def run_child(sandbox: Any, home: Path, limit: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD_SEARCH, str(limit)],
        env=child_env(sandbox, home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- Must show --------------------------------------------------------------------------------


def test_same_search_twice_then_from_a_fresh_process_is_one_call(
    sandbox: Any, engine: Engine, home: Path
) -> None:
    first = engine.search(directors(5))
    second = engine.search(directors(5))
    assert (first.from_cache, second.from_cache) == (False, True)
    assert ids(first) == ids(second) and len(ids(first)) == 5
    assert second.fetched_at == first.fetched_at

    child = run_child(sandbox, home, 5)

    assert child == {"from_cache": True, "ids": ids(first)}
    assert len(billable(sandbox)) == 1
    assert len(engine.charges()) == 1


def test_fifty_threads_one_cold_search_make_one_call(sandbox: Any, engine: Engine) -> None:
    barrier = threading.Barrier(50)
    answers: list[Any] = [None] * 50
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            answers[i] = engine.search(directors(7))
        except BaseException as exc:  # reported below: a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(billable(sandbox)) == 1
    assert all(len(a.result.leads) == 7 for a in answers)
    assert len({tuple(ids(a)) for a in answers}) == 1
    assert sum(1 for a in answers if not a.from_cache) == 1
    assert len(engine.charges()) == 1


def test_processes_sharing_the_store_make_one_call(
    sandbox: Any, engine: Engine, home: Path, tmp_path: Path
) -> None:
    engine.store  # noqa: B018 - the file exists before the children open it
    # The first request answers slowly, so the processes are surely in flight together.
    sandbox.queue_faults(["latency=1.5"])
    go = tmp_path / "go"
    children = []
    for n in range(3):
        ready = tmp_path / f"ready{n}"
        children.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", CHILD_SEARCH, "9", str(ready), str(go)],
                    env=child_env(sandbox, home),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    deadline = time.monotonic() + 60
    while not all(r.exists() for r, _ in children) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for _, proc in children:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert len(billable(sandbox)) == 1
    assert sorted(r["from_cache"] for r in results) == [False, True, True]
    assert len({tuple(r["ids"]) for r in results}) == 1 and len(results[0]["ids"]) == 9
    assert len(engine.charges()) == 1


def test_changing_refresh_makes_exactly_one_new_call(sandbox: Any, engine: Engine) -> None:
    cell = Origin("Book.xlsx", "Leads", "A1")
    engine.search(directors(3), origin=cell)
    assert len(billable(sandbox)) == 1
    assert engine.search(directors(3), refresh=None, origin=cell).from_cache
    assert not engine.search(directors(3), refresh=1, origin=cell).from_cache
    assert len(billable(sandbox)) == 2
    # Excel sends 1 as 1.0; recalculating with the same value is free.
    assert engine.search(directors(3), refresh=1.0, origin=cell).from_cache
    assert engine.search(directors(3), origin=cell).from_cache
    assert len(billable(sandbox)) == 2
    assert not engine.search(directors(3), refresh=2, origin=cell).from_cache
    assert len(billable(sandbox)) == 3
    assert len(engine.charges()) == 3


def test_two_cells_with_different_refresh_values_do_not_take_turns_paying(
    sandbox: Any, engine: Engine
) -> None:
    a, b = Origin("Book.xlsx", "S", "A1"), Origin("Book.xlsx", "S", "B1")
    engine.search(directors(3), refresh="x", origin=a)
    engine.search(directors(3), refresh="y", origin=b)
    assert len(billable(sandbox)) == 2
    for _ in range(3):  # recalculations
        assert engine.search(directors(3), refresh="x", origin=a).from_cache
        assert engine.search(directors(3), refresh="y", origin=b).from_cache
    # A third cell with a value that already fetched this request pays nothing.
    assert engine.search(
        directors(3), refresh="y", origin=Origin("Book.xlsx", "S", "C1")
    ).from_cache
    assert len(billable(sandbox)) == 2
    # A toggle back and forth refetches at each change.
    assert not engine.search(directors(3), refresh="z", origin=a).from_cache
    assert not engine.search(directors(3), refresh="x", origin=a).from_cache
    assert len(billable(sandbox)) == 4


def test_budget_breach_makes_zero_calls(sandbox: Any, home: Path, client: Client) -> None:
    settings = make_settings(sandbox, home, max_spend_per_request=Decimal("0.10"))
    engine = Engine(settings, client=client)
    with pytest.raises(BudgetError) as info:
        engine.search(directors(25))  # worst case 25 x $0.02 = $0.50
    message = str(info.value)
    assert "$0.50" in message and "$0.10" in message
    assert "GENERECT_MAX_SPEND_PER_REQUEST" in message
    assert sandbox.log_entries() == []
    assert engine.charges() == []


def test_daily_cap_counts_the_ledger(sandbox: Any, home: Path, client: Client) -> None:
    settings = make_settings(sandbox, home, max_spend_per_day=Decimal("0.15"))
    engine = Engine(settings, client=client)
    first = engine.search(directors(5))  # worst case $0.10: within the day's $0.15
    spent = engine.spend("today")
    assert spent == first.result.amount_charged > 0
    with pytest.raises(BudgetError) as info:
        engine.search(directors(4))  # $0.08 more would pass $0.15
    assert "GENERECT_MAX_SPEND_PER_DAY" in str(info.value)
    assert len(sandbox.log_entries()) == 1
    # A stored answer costs nothing, so the cap does not stop it.
    assert engine.search(directors(5)).from_cache


def test_invalid_criterion_makes_zero_calls(sandbox: Any, engine: Engine) -> None:
    with pytest.raises(CriteriaError):
        criteria_from_kwargs("database", seniorities=["galactic overlord"], limit_by=5)
    with pytest.raises(CriteriaError):
        criteria_from_kwargs("database", keywords=["python"])  # realtime-only field
    assert sandbox.log_entries() == []


def test_the_key_is_never_stored_or_logged(
    sandbox: Any, engine: Engine, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine.search(directors(3), origin=Origin("Book.xlsx", "S", "A1"))
    engine.search(directors(3))
    engine.count(directors(3))
    engine.count(criteria_from_kwargs("realtime", seniorities=["director"]))
    engine.account()
    with pytest.raises(BudgetError):
        Engine(
            make_settings(sandbox, home, max_spend_per_request=Decimal("0")), client=engine.client
        ).search(directors(4))
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "store.sqlite3" for p in files)
    for path in files:  # the database, its WAL and anything else under GENERECT_HOME
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in repr(engine.charges())
    assert KEY not in caplog.text
    assert caplog.records  # the engine did log: the check above saw real output


def test_a_ledger_row_per_billable_call_with_the_right_amount(sandbox: Any, engine: Engine) -> None:
    answers = [
        engine.search(directors(3), origin=Origin("Book.xlsx", "Leads", "A1")),
        engine.search(directors(6)),
        engine.count(criteria_from_kwargs("realtime", seniorities=["director"])),
        engine.count(directors(3)),  # database count: free, not billable, no ledger row
        engine.search(directors(3)),  # cache hit: no ledger row
    ]
    rows = engine.charges()
    calls = billable(sandbox)
    assert len(rows) == len(calls) == 3
    assert [r.amount_charged for r in rows] == [a.result.amount_charged for a in answers[:3]]
    assert [r.amount_charged for r in rows] == [Decimal(str(c["amount_charged"])) for c in calls]
    assert [r.rows for r in rows] == [3, 6, 0]
    assert rows[0].origin == Origin("Book.xlsx", "Leads", "A1")
    assert rows[0].cache_key == answers[0].cache_key
    total = sum((r.amount_charged for r in rows), Decimal("0"))
    assert engine.spend("today") == engine.spend("month") == engine.spend("all") == total
    assert total == Decimal("0.18") + Decimal(str(calls[2]["amount_charged"]))  # 9 rows + a count


def test_test_mode_key_is_flagged_and_ignored_by_the_budget(sandbox: Any, home: Path) -> None:
    settings = make_settings(
        sandbox, home, key=TEST_KEY, max_spend_per_request=Decimal("0"), max_spend_per_day="0"
    )
    with Client(settings) as client:
        engine = Engine(settings, client=client)
        answer = engine.search(directors(25))  # $0.50 worst case against $0 caps: allowed
        assert answer.test_mode and len(answer.result.leads) == 25
        [row] = engine.charges()
        assert row.test_mode and row.amount_charged == answer.result.amount_charged > 0
        assert engine.spend("today") == 0
        assert engine.spend("today", include_test_mode=True) == row.amount_charged
        assert engine.estimate(directors(25)).cost == 0
    assert len(billable(sandbox)) == 1


def test_test_mode_answers_do_not_count_against_a_live_key(sandbox: Any, home: Path) -> None:
    with Client(make_settings(sandbox, home, key=TEST_KEY)) as client:
        Engine(make_settings(sandbox, home, key=TEST_KEY), client=client).search(directors(25))
    settings = make_settings(sandbox, home, max_spend_per_day=Decimal("0.50"))
    with Client(settings) as client:
        engine = Engine(settings, client=client)
        engine.search(directors(25))  # the $0.50 spent in test mode is not counted
    assert len(billable(sandbox)) == 2


def test_locked_store_is_a_clear_error_and_no_call(
    sandbox: Any, settings: Settings, client: Client
) -> None:
    store = Store(settings.store_path, busy_timeout=0.05)
    locker = sqlite3.connect(settings.store_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        engine = Engine(settings, client=client, store=store)
        with pytest.raises(StoreError) as info:
            engine.search(directors(5))
        assert "locked by another program" in str(info.value)
    finally:
        locker.close()
    assert sandbox.log_entries() == []
    assert Engine(settings, client=client, store=store).search(directors(5)).from_cache is False


class LockAfterAnswer:
    """A real client whose answer arrives while another program locks the store."""

    def __init__(self, client: Client, path: Path) -> None:
        self.client, self.path = client, path
        self.locker: sqlite3.Connection | None = None

    def search(self, mode: str, body: Any, *, on_send: Any = None) -> Any:
        result = self.client.search(mode, body, on_send=on_send)  # type: ignore[arg-type]
        self.locker = sqlite3.connect(self.path, isolation_level=None)
        self.locker.execute("BEGIN EXCLUSIVE")
        return result

    def count(self, mode: str, body: Any, *, on_send: Any = None) -> Any:
        raise AssertionError("not used")

    def account(self) -> Any:
        raise AssertionError("not used")


def test_a_charge_that_cannot_be_saved_is_kept_and_recovered(
    sandbox: Any, settings: Settings, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "STORE_WRITE_RETRY_SECONDS", 0.2)
    store = Store(settings.store_path, busy_timeout=0.05)
    locking = LockAfterAnswer(client, settings.store_path)
    engine = Engine(settings, client=locking, store=store)
    try:
        with pytest.raises(StoreError) as info:
            engine.search(directors(5))
    finally:
        assert locking.locker is not None
        locking.locker.close()
    assert str(info.value).startswith("Charged $0.10")
    assert len(billable(sandbox)) == 1
    # The next start imports the journal: the charge is in the ledger, the answer is stored.
    recovered = Engine(settings, client=client, store=Store(settings.store_path))
    [row] = recovered.charges()
    assert row.amount_charged == Decimal("0.10")
    assert recovered.search(directors(5)).from_cache
    assert len(billable(sandbox)) == 1


# -- the rest of the flow ---------------------------------------------------------------------


def test_free_counts_expire_paid_answers_do_not(
    sandbox: Any, settings: Settings, client: Client
) -> None:
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    engine = Engine(settings, client=client, clock=lambda: now[0])
    realtime = criteria_from_kwargs("realtime", seniorities=["director"])
    engine.count(directors(3))
    engine.count(realtime)
    engine.search(directors(3))
    assert len(sandbox.log_entries()) == 3
    now[0] += timedelta(seconds=settings.free_count_max_age + 1)
    assert not engine.count(directors(3)).from_cache  # free: fetched again
    assert engine.count(realtime).from_cache  # paid: kept
    assert engine.search(directors(3)).from_cache
    assert len(sandbox.log_entries()) == 4
    assert len(engine.charges()) == 2  # the free counts are not in the ledger


def test_errors_reach_every_waiter_and_release_the_claim(
    sandbox: Any, engine: Engine, settings: Settings
) -> None:
    from generect_excel.errors import NotFoundError

    sandbox.queue_faults(["not_found"])
    with pytest.raises(NotFoundError):
        engine.search(directors(2))
    assert engine.charges() == []
    with sqlite3.connect(settings.store_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM inflight").fetchone()[0] == 0
    conn.close()
    assert not engine.search(directors(2)).from_cache  # nothing was stored: fetched now
    assert len(billable(sandbox)) == 1


def test_estimate_and_cached(sandbox: Any, engine: Engine) -> None:
    before = engine.estimate(directors(10))
    assert (before.amount, before.cached, before.cost) == (Decimal("0.20"), False, Decimal("0.20"))
    assert engine.cached(directors(10)) is None
    engine.search(directors(10))
    after = engine.estimate(directors(10))
    assert (after.cached, after.cost, after.refresh_cost) == (True, 0, Decimal("0.20"))
    assert engine.cached(directors(10)).from_cache
    cell = Origin("Book.xlsx", "S", "A1")
    assert engine.cached(directors(10), refresh=5, origin=cell) is None  # would fetch
    engine.search(directors(10), refresh=5, origin=cell)
    assert engine.cached(directors(10), refresh=5.0, origin=cell).from_cache
    assert engine.estimate(directors(10), "count").amount == 0
    assert len(sandbox.log_entries()) == 2


def test_account_has_a_short_cache(sandbox: Any, engine: Engine) -> None:
    first, second = engine.account(), engine.account()
    assert first == second and first.balance is not None
    assert [e["path"] for e in sandbox.log_entries()] == [C.PATH_ACCOUNT]


def test_cache_key_covers_endpoint_request_base_url_and_account() -> None:
    base = make_cache_key("/a/", '{"x":1}', "http://127.0.0.1:1", "fp")
    assert len(base) == 64
    assert base == make_cache_key("/a/", '{"x":1}', "http://127.0.0.1:1/", "fp")
    for other in (
        make_cache_key("/b/", '{"x":1}', "http://127.0.0.1:1", "fp"),
        make_cache_key("/a/", '{"x":2}', "http://127.0.0.1:1", "fp"),
        make_cache_key("/a/", '{"x":1}', "http://127.0.0.1:2", "fp"),
        make_cache_key("/a/", '{"x":1}', "http://127.0.0.1:1", "fp2"),
    ):
        assert other != base


def test_value_order_does_not_change_the_key(sandbox: Any, engine: Engine) -> None:
    a = criteria_from_kwargs("database", seniorities=["director", "vp"], limit_by=2)
    b = criteria_from_kwargs("database", seniorities=["vp", "director"], limit_by=2)
    assert engine.search(a).cache_key == engine.search(b).cache_key
    assert len(billable(sandbox)) == 1


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        (1, "1"),
        (1.0, "1"),  # Excel's numbers are floats
        (2.5, "2.5"),
        (True, "TRUE"),
        ("Refresh 3", "Refresh 3"),
        (datetime(2026, 1, 2, 3, 4), "2026-01-02T03:04:00"),
    ],
)
def test_refresh_token(value: Any, token: str | None) -> None:
    assert refresh_token(value) == token


# -- the hot path ------------------------------------------------------------------------------


class GatedClient:
    """The real client, whose searches wait for ``gate`` (a fetch held in flight)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.started = threading.Event()
        self.gate = threading.Event()

    def search(self, mode: Any, body: Any, *, on_send: Any = None) -> Any:
        self.started.set()
        assert self.gate.wait(HANG_GUARD)
        return self.client.search(mode, body, on_send=on_send)

    def count(self, mode: Any, body: Any, *, on_send: Any = None) -> Any:
        return self.client.count(mode, body, on_send=on_send)

    def account(self) -> Any:
        return self.client.account()


HANG_GUARD = 30  # seconds: only reached if something hangs


def test_a_call_joins_the_fetch_in_flight_rather_than_the_older_stored_answer(
    sandbox: Any, engine: Engine, settings: Settings, client: Client
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    old = engine.search(directors(4))
    gated = GatedClient(client)
    refreshing = Engine(settings, client=gated, store=engine.store)  # the same file
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = pool.submit(
            refreshing.search, directors(4), refresh="2", origin=Origin("B.xlsx", "S", "A1")
        )
        try:
            assert gated.started.wait(HANG_GUARD)
            plain = pool.submit(engine.search, directors(4))
            # It waits for the answer on its way instead of answering the older one at once.
            with pytest.raises(FutureTimeout):
                plain.result(timeout=0.5)
        finally:
            gated.gate.set()
        new, joined = fresh.result(HANG_GUARD), plain.result(HANG_GUARD)
    assert not new.from_cache and joined.from_cache
    assert joined.fetched_at == new.fetched_at > old.fetched_at
    assert len(billable(sandbox)) == 2


def test_a_failed_fetch_in_flight_leaves_the_stored_answer_to_the_others(
    sandbox: Any, engine: Engine, settings: Settings, client: Client
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    from generect_excel.errors import InsufficientFundsError

    old = engine.search(directors(4))
    gated = GatedClient(client)
    refreshing = Engine(settings, client=gated, store=engine.store)
    sandbox.queue_faults(["insufficient_funds"])  # the refresh fails (402, never retried)
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = pool.submit(
            refreshing.search, directors(4), refresh="2", origin=Origin("B.xlsx", "S", "A1")
        )
        try:
            assert gated.started.wait(HANG_GUARD)
            plain = pool.submit(engine.search, directors(4))
            with pytest.raises(FutureTimeout):
                plain.result(timeout=0.5)  # it joined the fetch
        finally:
            gated.gate.set()
        with pytest.raises(InsufficientFundsError):
            fresh.result(HANG_GUARD)
        stored = plain.result(HANG_GUARD)
    # The plain call has the stored answer, as if it had read the store first.
    assert stored.from_cache and stored.fetched_at == old.fetched_at
    searches = [e for e in sandbox.log_entries() if e["path"] == C.PATH_DATABASE_SEARCH]
    assert len(searches) == 2  # the first search and the failed refresh: no second attempt


def test_a_stored_answer_is_validated_once_per_version(
    sandbox: Any, engine: Engine, settings: Settings
) -> None:
    engine.search(directors(3))
    first, second = engine.search(directors(3)), engine.search(directors(3))
    assert first.from_cache and second.from_cache
    assert second.result is first.result  # the same stored answer: validated once
    # Another program stores a different answer under the key: it is validated afresh.
    answer = first.result.model_dump(mode="json")
    answer["results_count"] = 12345
    with sqlite3.connect(settings.store_path) as conn:
        conn.execute("UPDATE cache SET answer = ?", (json.dumps(answer),))
    conn.close()
    after = engine.search(directors(3))
    assert after.result is not first.result and after.result.results_count == 12345
    assert len(billable(sandbox)) == 1


def test_a_stored_answer_read_afresh_equals_the_answer_bought(
    sandbox: Any, engine: Engine, settings: Settings, client: Client
) -> None:
    bought = engine.search(directors(4))
    engine.count(directors(4))
    # A new process: no memo; the stored rows are taken as stored, every other field validated.
    fresh = Engine(settings, client=client, store=Store(settings.store_path))
    again = fresh.search(directors(4))
    assert again.from_cache and again.result == bought.result
    assert again.result.amount_charged == Decimal("0.08")
    assert type(again.result.amount_charged) is Decimal
    assert fresh.count(directors(4)).result == engine.count(directors(4)).result
    # Stored rows that are not objects (another program's write): refused, not shown.
    answer = bought.result.model_dump(mode="json")
    answer["leads"] = [answer["leads"][0], "not a lead"]
    with sqlite3.connect(settings.store_path) as conn:
        conn.execute(
            "UPDATE cache SET answer = ? WHERE endpoint LIKE '%leads/'", (json.dumps(answer),)
        )
    conn.close()
    with pytest.raises(StoreError, match="stored answer cannot be read"):
        Engine(settings, client=client, store=Store(settings.store_path)).search(directors(4))
    assert len(billable(sandbox)) == 1


def test_cached_many_answers_as_cached_does_for_each_call(
    sandbox: Any, engine: Engine, settings: Settings
) -> None:
    cell = Origin("Book.xlsx", "S", "A1")
    engine.search(directors(3))
    engine.search(directors(6), refresh=1, origin=cell)
    sandbox.queue_faults(["drop"])
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(7))
    calls = [
        ("search", directors(3), None, None),
        ("search", directors(6), 1, cell),  # seen with this refresh value: stored
        ("search", directors(6), 2, cell),  # a new refresh value: would fetch
        ("search", directors(8), None, None),  # never asked
        ("search", directors(7), None, None),  # lost: its error, not raised
        ("count", directors(3), None, None),
    ]
    answers = engine.cached_many(calls)
    assert [a is None for a in answers] == [False, False, True, True, False, True]
    for (kind, request, refresh, origin), answer in zip(calls[:4], answers, strict=False):
        expected = engine.cached(request, kind, refresh=refresh, origin=origin)
        assert (answer and answer.result) == (expected and expected.result)
    assert isinstance(answers[4], OutcomeUnknownError) and answers[4].unknown_outcome is not None
    assert len(billable(sandbox)) == 2


# -- unknown outcomes: sent, answer lost, never sent again blindly ----------------------------


def sent(sandbox: Any, path: str = C.PATH_DATABASE_SEARCH) -> int:
    """How many requests reached ``path`` (fault answers included: they were sent)."""
    return sum(1 for e in sandbox.log_entries() if e["path"] == path)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("drop", OutcomeUnknownError), ("malformed_json", ProtocolError)],
)
def test_a_search_whose_answer_is_lost_is_not_sent_again(
    sandbox: Any, engine: Engine, settings: Settings, client: Client, fault: str, error: type
) -> None:
    cell = Origin("Book.xlsx", "Leads", "A1")
    sandbox.queue_faults([fault])
    with pytest.raises(error) as first:
        engine.search(directors(5), origin=cell)
    message = str(first.value)
    assert "may have been charged" in message and "generect-excel spend" in message
    assert "refresh value" in message and len(message) <= C.CELL_MESSAGE_MAX
    assert sent(sandbox) == 1
    # Recalculation, another cell, and a reopened store: the same error, nothing sent.
    for origin in (cell, None, Origin("Book.xlsx", "Leads", "B1")):
        with pytest.raises(error) as again:
            engine.search(directors(5), origin=origin)
        assert str(again.value) == message
    reopened = Engine(settings, client=client, store=Store(settings.store_path))
    with pytest.raises(error):
        reopened.search(directors(5), origin=cell)
    with pytest.raises(error) as known:  # the store alone answers with the same error
        reopened.cached(directors(5), origin=cell)
    assert str(known.value) == message and known.value.unknown_outcome is not None
    assert reopened.cached(directors(5), refresh=1, origin=cell) is None  # would send once
    assert sent(sandbox) == 1
    # The ledger has it at the worst case (5 x $0.02), flagged; spend and the budget count it.
    [row] = engine.charges()
    assert row.unknown_outcome and row.amount_charged == Decimal("0.10") and row.rows == 0
    assert row.origin == cell and row.test_mode is False
    assert engine.spend("today") == Decimal("0.10")
    assert engine.estimated("today") == (Decimal("0.10"), 1)
    # A new refresh value tries again, once; then the answer is stored and the doubt gone.
    fresh = engine.search(directors(5), refresh=1, origin=cell)
    assert not fresh.from_cache and len(fresh.result.leads) == 5
    assert engine.search(directors(5), refresh=1, origin=cell).from_cache
    assert engine.search(directors(5)).from_cache
    assert sent(sandbox) == 2 and len(billable(sandbox)) == 1
    assert row.cache_key == fresh.cache_key
    assert engine.store.unknown_outcome(fresh.cache_key) is None
    assert [r.unknown_outcome for r in engine.charges()] == [True, False]


def test_a_refresh_whose_answer_is_lost_keeps_the_older_answer_for_the_others(
    sandbox: Any, engine: Engine
) -> None:
    a, b = Origin("Book.xlsx", "S", "A1"), Origin("Book.xlsx", "S", "B1")
    old = engine.search(directors(3), origin=a)
    sandbox.queue_faults(["drop"])
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(3), refresh="x", origin=a)
    for _ in range(2):  # recalculations: the lost refresh stays lost, the others keep theirs
        with pytest.raises(OutcomeUnknownError):
            engine.search(directors(3), refresh="x", origin=a)
        with pytest.raises(OutcomeUnknownError):
            engine.search(directors(3), refresh="x", origin=b)  # the same value: the same call
        assert engine.search(directors(3), origin=b).fetched_at == old.fetched_at
    assert sent(sandbox) == 2


def test_cached_tells_a_lost_refresh_from_a_stored_answer_without_sending(
    sandbox: Any, engine: Engine
) -> None:
    a, b = Origin("Book.xlsx", "S", "A1"), Origin("Book.xlsx", "S", "B1")
    old = engine.search(directors(3), origin=a)
    sandbox.queue_faults(["drop"])
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(3), refresh="x", origin=a)
    for cell in (a, b):  # the lost value: its error, for any cell; no value: the stored answer
        with pytest.raises(OutcomeUnknownError, match="may have been charged"):
            engine.cached(directors(3), refresh="x", origin=cell)
        assert engine.cached(directors(3), origin=cell).fetched_at == old.fetched_at
    assert engine.cached(directors(3), refresh="y", origin=b) is None  # a new value would send
    assert sent(sandbox) == 2


def test_two_cells_whose_refreshes_are_both_lost_are_not_sent_again(
    sandbox: Any, engine: Engine
) -> None:
    a, b = Origin("Book.xlsx", "S", "A1"), Origin("Book.xlsx", "S", "B1")
    stored = engine.search(directors(3))
    sandbox.queue_faults(["drop", "drop"])
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(3), refresh="x", origin=a)
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(3), refresh="y", origin=b)  # a new value: tried once
    assert sent(sandbox) == 3
    for _ in range(2):  # each cell's own lost value still answers with the error
        for cell, token in ((a, "x"), (b, "y")):
            with pytest.raises(OutcomeUnknownError):
                engine.search(directors(3), refresh=token, origin=cell)
        assert engine.search(directors(3)).fetched_at == stored.fetched_at
    assert sent(sandbox) == 3
    assert [r.unknown_outcome for r in engine.charges()] == [False, True, True]


def test_threads_waiting_on_a_lost_call_are_not_sent_again(sandbox: Any, engine: Engine) -> None:
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []
    sandbox.queue_faults(["drop"])

    def worker() -> None:
        barrier.wait(timeout=30)
        try:
            engine.search(directors(6))
        except BaseException as exc:  # collected: each must have failed
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(errors) == 20 and all(isinstance(e, OutcomeUnknownError) for e in errors)
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(6))  # a recalculation
    assert sent(sandbox) == 1 and len(engine.charges()) == 1


def test_a_cell_that_joined_a_lost_call_does_not_send_it_at_its_recalculation(
    sandbox: Any, engine: Engine, settings: Settings, client: Client
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    a, b = Origin("Book.xlsx", "S", "A1"), Origin("Book.xlsx", "S", "B1")
    gated = GatedClient(client)
    leading = Engine(settings, client=gated, store=engine.store)
    sandbox.queue_faults(["drop"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        lost = pool.submit(leading.search, directors(4), refresh="x", origin=a)
        try:
            assert gated.started.wait(HANG_GUARD)
            # Another cell, its own refresh value: it joins the call in flight.
            joined = pool.submit(engine.search, directors(4), refresh="y", origin=b)
            with pytest.raises(FutureTimeout):
                joined.result(timeout=0.5)
        finally:
            gated.gate.set()
        for future in (lost, joined):
            with pytest.raises(OutcomeUnknownError):
                future.result(HANG_GUARD)
    for cell, token in ((a, "x"), (b, "y"), (a, "x"), (b, "y")):  # recalculations
        with pytest.raises(OutcomeUnknownError):
            engine.search(directors(4), refresh=token, origin=cell)
    assert sent(sandbox) == 1
    assert not engine.search(directors(4), refresh="z", origin=b).from_cache  # a new value
    assert sent(sandbox) == 2


def test_the_daily_cap_counts_an_unknown_outcome_at_its_worst_case(
    sandbox: Any, home: Path, client: Client
) -> None:
    settings = make_settings(sandbox, home, max_spend_per_day=Decimal("0.15"))
    engine = Engine(settings, client=client)
    sandbox.queue_faults(["drop"])
    with pytest.raises(OutcomeUnknownError):
        engine.search(directors(5))  # may have cost up to $0.10
    with pytest.raises(BudgetError) as info:
        engine.search(directors(4))  # $0.08 more would pass $0.15
    assert "$0.10 spent" in str(info.value)
    assert sent(sandbox) == 1


def test_a_realtime_count_whose_answer_is_lost_is_not_sent_again(
    sandbox: Any, engine: Engine
) -> None:
    realtime = criteria_from_kwargs("realtime", seniorities=["director"])
    sandbox.queue_faults(["drop"])
    for _ in range(3):
        with pytest.raises(OutcomeUnknownError):
            engine.count(realtime)
    assert sent(sandbox, C.PATH_REALTIME_COUNT) == 1
    [row] = engine.charges()
    assert row.unknown_outcome and row.amount_charged == C.PRICE_REALTIME_COUNT


def test_a_free_count_whose_answer_is_unreadable_is_asked_again(
    sandbox: Any, engine: Engine
) -> None:
    sandbox.queue_faults(["malformed_json"])
    with pytest.raises(ProtocolError):
        engine.count(directors(3))  # free: nothing can have been charged
    assert engine.count(directors(3)).result.results_count > 0
    assert sent(sandbox, C.PATH_DATABASE_COUNT) == 2
    assert engine.charges() == []


def _mock_engine(settings: Settings, handler: Any) -> Engine:
    # For answers the sandbox never gives (a redirect, a charged database count): the real
    # client and store over httpx's mock transport.
    return Engine(settings, client=Client(settings, transport=httpx.MockTransport(handler)))


def test_a_redirect_is_not_an_unknown_outcome(settings: Settings) -> None:
    requests: list[httpx.Request] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/"})

    engine = _mock_engine(settings, redirect)
    for _ in range(2):  # never processed by Generect: nothing to doubt, asked again
        with pytest.raises(ProtocolError) as info:
            engine.search(directors(3))
        assert "redirect" in str(info.value)
    assert len(requests) == 2 and engine.charges() == []


def test_a_charge_on_an_endpoint_believed_free_is_in_the_ledger(settings: Settings) -> None:
    def charged_count(request: httpx.Request) -> httpx.Response:
        body = {"data": {"results_count": 321}, "meta": {"amount_charged": 0.5}}
        return httpx.Response(200, json=body)

    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    engine = _mock_engine(settings, charged_count)
    engine._clock = lambda: now[0]
    answer = engine.count(directors(3))  # a database count: free, they say
    [row] = engine.charges()
    assert row.amount_charged == Decimal("0.5") == answer.result.amount_charged
    assert row.endpoint == C.PATH_DATABASE_COUNT and not row.unknown_outcome
    assert engine.spend("all") == Decimal("0.5")
    # Paid for, so it does not expire like a free count.
    now[0] += timedelta(seconds=settings.free_count_max_age + 1)
    assert engine.count(directors(3)).from_cache
    assert len(engine.charges()) == 1


CHILD_OUTCOME = """
import json, sys, time
from pathlib import Path
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.errors import GenerectError
from generect_excel.settings import load_settings

engine = Engine(load_settings(use_keyring=False))
seniority, limit = sys.argv[1], int(sys.argv[2])
request = criteria_from_kwargs("database", seniorities=[seniority], limit_by=limit)
engine.store  # open the store before the start signal
if len(sys.argv) > 3:
    Path(sys.argv[3]).touch()  # ready
    deadline = time.monotonic() + 30
    while not Path(sys.argv[4]).exists() and time.monotonic() < deadline:
        time.sleep(0.002)
try:
    answer = engine.search(request)
    print(json.dumps({"rows": len(answer.result.leads)}))
except GenerectError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def start_child(sandbox: Any, home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_OUTCOME, *args],
        env={**child_env(sandbox, home), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def child_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_a_process_waiting_on_another_process_lost_call_does_not_send_it(
    sandbox: Any, engine: Engine, home: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine.store  # noqa: B018 - the file exists before the child opens it
    sandbox.queue_faults(["hang"])  # the child's call: sent, then no answer until released
    child = start_child(sandbox, home, "director", "8")
    deadline = time.monotonic() + HANG_GUARD
    while sandbox.in_flight(KEY) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.in_flight(KEY) == 1
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(engine.search, directors(8))
        time.sleep(0.5)  # it reaches the child's claim and waits on it
        sandbox.release_hangs()  # the child's connection closes: outcome unknown
        with pytest.raises(OutcomeUnknownError):
            waiting.result(HANG_GUARD)
    assert child_result(child)["error"] == "OutcomeUnknownError"
    assert sent(sandbox) == 1
    [row] = engine.charges()
    assert row.unknown_outcome


def test_two_processes_cannot_both_pass_the_daily_cap(
    sandbox: Any, engine: Engine, home: Path, tmp_path: Path
) -> None:
    engine.store  # noqa: B018 - the file exists before the children open it
    # Two different searches, $0.50 at worst each; the day's cap admits one of them.
    sandbox.queue_faults(["latency=1.5", "latency=1.5"])  # slow: surely in flight together
    go = tmp_path / "go"
    children = []
    for n, seniority in enumerate(("director", "vp")):
        ready = tmp_path / f"ready{n}"
        proc = start_child(
            sandbox,
            home,
            seniority,
            "25",
            str(ready),
            str(go),
            GENERECT_MAX_SPEND_PER_DAY="0.75",
        )
        children.append((ready, proc))
    deadline = time.monotonic() + 60
    while not all(r.exists() for r, _ in children) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = [child_result(proc) for _, proc in children]
    assert sorted(r.get("error", "answered") for r in results) == ["BudgetError", "answered"]
    assert len(billable(sandbox)) == 1
    assert len(engine.charges()) == 1
    assert engine.store.reserved_in_flight() == 0  # nothing left held


# -- a process killed mid-purchase (issue 10) -----------------------------------------------

CHILD_WORKER = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.errors import GenerectError
from generect_excel.settings import load_settings

engine = Engine(load_settings(use_keyring=False))
refresh = sys.argv[2] if len(sys.argv) > 2 else None

# One criteria family per search: searches of one family are fetched one at a time (issue 12's
# stable pages), and this test needs several paid calls in flight at once.
SENIORITIES = ["director", "vp", "manager", "head", "senior", "owner"]

def one(limit):
    request = criteria_from_kwargs(
        "database", seniorities=[SENIORITIES[limit - 1]], limit_by=limit
    )
    try:
        return {"rows": len(engine.search(request, refresh=refresh).result.leads)}
    except GenerectError as exc:
        return {"error": type(exc).__name__}

limits = [int(n) for n in sys.argv[1].split(",")]
with ThreadPoolExecutor(len(limits)) as pool:  # as the worksheet functions call: threads
    print(json.dumps(list(pool.map(one, limits))))
"""

WORKER_LIMITS = "1,2,3,4,5,6"  # six distinct searches, $0.02 a row


def run_worker(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD_WORKER, WORKER_LIMITS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def settled_server(sandbox: Any) -> None:
    """Wait until the server has answered (and charged) every request a dead process left."""
    wait_until(lambda: sandbox.in_flight(KEY) == 0, "requests still at the server")
    time.sleep(0.2)  # its log line is written just after


def charged_by_sandbox(sandbox: Any) -> Decimal:
    return Decimal(100) - sandbox.balance(KEY)  # every new key opens at $100


def assert_every_charge_is_in_the_ledger(sandbox: Any, store: Store) -> None:
    """Ledger known + unknown >= what the sandbox charged, and each billed request has a row."""
    rows = store.charges()
    assert sum((r.amount_charged for r in rows), Decimal(0)) >= charged_by_sandbox(sandbox)
    recorded = [r.request for r in rows]
    for entry in sandbox.billable_calls():
        assert entry["body"] in recorded, entry


@pytest.mark.parametrize(
    "answered",
    [
        0,  # two requests at the server, four claimed and waiting their turn (never sent)
        2,  # two answered (saved, or answered and not yet saved), two in flight, two waiting
        6,  # every answer given by the server, some perhaps not yet read or saved
    ],
)
def test_a_worker_killed_mid_purchase_loses_no_charge_and_buys_nothing_blindly(
    sandbox_factory: Any, home: Path, answered: int
) -> None:
    sandbox = sandbox_factory(latency=0.6)
    env = {**child_env(sandbox, home), "GENERECT_MAX_PARALLEL": "2"}
    store = Store(make_settings(sandbox, home).store_path)
    with subprocess.Popen(
        [sys.executable, "-c", CHILD_WORKER, WORKER_LIMITS],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as worker:
        try:
            wait_until(
                lambda: (
                    len(sandbox.log_entries()) >= answered
                    and (sandbox.in_flight(KEY) == 2 or answered == 6)
                ),
                "the worker never got that far",
            )
            worker.kill()
        finally:
            worker.kill()
            worker.communicate()
    settled_server(sandbox)
    assert charged_by_sandbox(sandbox) > 0
    # The next process to open the store finds the dead worker's sent claims.
    reopened = Store(store.path)
    assert_every_charge_is_in_the_ledger(sandbox, reopened)
    recorded = len(reopened.charges())  # a row for each request answered or marked sent
    unknown = [r.request for r in reopened.charges() if r.unknown_outcome]
    if answered == 0:
        assert len(unknown) == 2  # the two at the server; the rest never sent
    with sqlite3.connect(store.path) as conn:
        left = conn.execute("SELECT key FROM inflight WHERE sent_at IS NOT NULL").fetchall()
    conn.close()
    assert left == []

    # A plain re-run: the unknown ones are not sent again; everything else completes.
    before = len(sandbox.log_entries())
    results = run_worker(env)
    again = [e["body"] for e in sandbox.log_entries()[before:]]
    assert not [body for body in again if body in unknown]
    assert sum(1 for r in results if r.get("error") == "OutcomeUnknownError") == len(unknown)
    assert all("rows" in r or r["error"] == "OutcomeUnknownError" for r in results)
    assert len(again) == 6 - recorded  # exactly the never-sent ones, once each
    assert_every_charge_is_in_the_ledger(sandbox, reopened)

    # A new refresh value is the analyst asking: then they are sent.
    before = len(sandbox.log_entries())
    assert all("rows" in r for r in run_worker(env, "after-the-crash"))
    again = [e["body"] for e in sandbox.log_entries()[before:]]
    assert all(body in again for body in unknown)
    assert_every_charge_is_in_the_ledger(sandbox, reopened)


def test_the_daily_cap_tells_what_was_spent_from_what_calls_in_flight_reserve(
    sandbox: Any, home: Path, client: Client
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings(sandbox, home, max_spend_per_day=Decimal("1"))
    engine = Engine(settings, client=client)
    engine.search(directors(2))  # $0.04 spent
    gated = GatedClient(client)
    holding = Engine(settings, client=gated, store=engine.store)
    with ThreadPoolExecutor(max_workers=1) as pool:
        flight = pool.submit(holding.search, directors(40))  # $0.80 reserved while in flight
        try:
            assert gated.started.wait(HANG_GUARD)
            with pytest.raises(BudgetError) as info:
                engine.search(directors(10))  # $0.20 more: 0.04 + 0.80 + 0.20 > $1
        finally:
            gated.gate.set()
        flight.result(HANG_GUARD)
    assert "($0.04 spent, $0.80 reserved by calls in flight)" in str(info.value)
    assert len(billable(sandbox)) == 2


def _left_sent_by_a_dead_process(engine: Engine, request: Any) -> str:
    """What a process killed mid-call leaves: its claim on ``request``, marked sent."""
    from generect_excel import store as store_module
    from generect_excel.ledger import Charge
    from generect_excel.models import canonical_json
    from generect_excel.store import UnknownOutcome

    settings = engine.settings
    body = request.body()
    key = make_cache_key(
        C.PATH_DATABASE_SEARCH, canonical_json(body), settings.base_url, settings.account
    )
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    gone = f"{store_module._HOST}|{int(child.stdout)}|dead"
    now = datetime.now(UTC)
    amount = Decimal("0.02") * body["limit_by"]
    charge = Charge("dead-" + key[:8], now, C.PATH_DATABASE_SEARCH, "database", body, 0, None,
                    amount, False, settings.account, settings.base_url, key, Origin(), True)  # fmt: skip
    unknown = UnknownOutcome(key, None, now, "OutcomeUnknownError", amount, charge.charge_id)
    assert engine.store.claim(key, gone, ttl=60, is_fresh=lambda e: False).state == "claimed"
    engine.store.mark_sent(unknown, charge, owner=gone, origin="", ttl=60)
    return key


def test_a_live_engine_meeting_a_dead_process_sent_call_does_not_buy_it_blindly(
    sandbox: Any, engine: Engine
) -> None:
    engine.store  # noqa: B018 - opened before the other process died
    plain, refreshed = directors(3), directors(4)
    _left_sent_by_a_dead_process(engine, plain)
    _left_sent_by_a_dead_process(engine, refreshed)
    # The first call to meet them records both (in its claim); it carries a refresh value the
    # dead call did not have (the analyst asking), so it is sent, once.
    assert not engine.search(refreshed, refresh="after the crash").from_cache
    assert len(billable(sandbox)) == 1
    with pytest.raises(OutcomeUnknownError) as info:
        engine.search(plain)  # the other one: not sent again blindly
    assert "may have been charged" in str(info.value)
    with pytest.raises(OutcomeUnknownError):
        engine.search(plain)  # and again: the doubt stands
    assert len(sandbox.log_entries()) == 1
    assert not engine.search(plain, refresh="after the crash").from_cache
    assert len(billable(sandbox)) == 2
    rows = engine.charges()
    assert sorted(r.unknown_outcome for r in rows) == [False, False, True, True]
    assert engine.estimated() == (Decimal("0.14"), 2)
