"""Background fetches (generect_excel.pending): pending value, coalescing, notification,
outcomes delivered once, errors never lost; and BackgroundEngine against the sandbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from generect_excel._constants import PATH_REALTIME_SEARCH as REALTIME_SEARCH
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine, Origin
from generect_excel.errors import BudgetError, OutcomeUnknownError, StoreError
from generect_excel.pending import (
    BackgroundEngine,
    FetchPendingError,
    Pending,
    PendingFetches,
)
from generect_excel.settings import Settings, load_settings

HANG_GUARD = 30  # seconds: only ever reached if the code under test hangs
STARTED = datetime(2026, 11, 22, 10, 31, 5, tzinfo=timezone(timedelta(hours=1)))


class Gate:
    """A fetch that blocks until released, counting its calls."""

    def __init__(self, result: Any = "answer", error: BaseException | None = None) -> None:
        self.result = result
        self.error = error
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> Any:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(HANG_GUARD), "the test never released the fetch"
        if self.error is not None:
            raise self.error
        return self.result


class Notified:
    """A notifier that records what it was handed, and when each call happened."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []
        self.done = threading.Event()

    def __call__(self, waiters: Any) -> None:
        self.calls.append(list(waiters))
        self.done.set()


@pytest.fixture
def notified() -> Notified:
    return Notified()


@pytest.fixture
def fetches(notified: Notified) -> Iterator[PendingFetches]:
    fetches = PendingFetches(notify=notified, clock=lambda: STARTED)
    yield fetches
    assert fetches.wait(HANG_GUARD), "a background fetch was left running"


def nothing_stored() -> None:
    return None


def never(*args: Any) -> Any:
    raise AssertionError("must not be called")


# --------------------------------------------------------------------------- PendingFetches


def test_a_stored_answer_is_returned_at_once_without_a_fetch(fetches: PendingFetches) -> None:
    assert fetches.get_or_start("k", never, lookup=lambda: "stored") == "stored"
    assert fetches.in_flight() == []


def test_a_miss_starts_a_background_fetch_and_returns_pending(
    fetches: PendingFetches, notified: Notified
) -> None:
    gate = Gate()
    pending = fetches.get_or_start(
        "k", gate, lookup=nothing_stored, waiter="cell A1", waiter_id="A1"
    )
    assert isinstance(pending, Pending)
    assert pending.message() == (
        "pending: realtime search started 10:31, usually 5-60 s; updates by itself."
    )
    assert gate.entered.wait(HANG_GUARD)  # it runs while the caller has already returned
    assert fetches.in_flight() == [pending]
    assert notified.calls == []
    gate.release.set()
    assert fetches.wait(HANG_GUARD)
    assert notified.calls == [["cell A1"]]
    assert fetches.in_flight() == []


def test_the_waiting_cell_gets_the_answer_once_then_the_store(fetches: PendingFetches) -> None:
    gate = Gate(result="fresh answer")
    gate.release.set()
    fetches.get_or_start("k", gate, lookup=nothing_stored, waiter_id="A1")
    assert fetches.wait(HANG_GUARD)
    # The recalculation the notifier asked for: the fetch's own answer, even if the store
    # could not give it (so a landed answer can never loop back into "pending").
    assert fetches.get_or_start("k", never, lookup=never, waiter_id="A1") == "fresh answer"
    # Afterwards it is an ordinary call: the store answers.
    assert fetches.get_or_start("k", never, lookup=lambda: "stored", waiter_id="A1") == "stored"
    assert gate.calls == 1


def test_calls_while_a_fetch_runs_join_it(fetches: PendingFetches, notified: Notified) -> None:
    gate = Gate()
    first = fetches.get_or_start("k", gate, lookup=nothing_stored, waiter="old A1", waiter_id="A1")
    # The same cell recalculated (F9) and another cell with the same question.
    again = fetches.get_or_start("k", never, lookup=never, waiter="new A1", waiter_id="A1")
    other = fetches.get_or_start("k", never, lookup=never, waiter="B7", waiter_id="B7")
    assert first is again is other
    gate.release.set()
    assert fetches.wait(HANG_GUARD)
    assert gate.calls == 1
    assert notified.calls == [["new A1", "B7"]]  # each cell once, its latest caller object


def test_fifty_threads_asking_at_once_make_one_fetch(
    fetches: PendingFetches, notified: Notified
) -> None:
    gate = Gate(result=["row"])
    ready = threading.Barrier(50, timeout=HANG_GUARD)

    def ask(n: int) -> Any:
        ready.wait()
        return fetches.get_or_start("k", gate, lookup=nothing_stored, waiter=n, waiter_id=n)

    with ThreadPoolExecutor(50) as pool:
        pendings = list(pool.map(ask, range(50)))
    assert all(isinstance(p, Pending) for p in pendings)
    assert len({id(p) for p in pendings}) == 1
    gate.release.set()
    assert fetches.wait(HANG_GUARD)
    assert gate.calls == 1
    assert len(notified.calls) == 1 and sorted(notified.calls[0]) == list(range(50))
    answers = [fetches.get_or_start("k", never, lookup=never, waiter_id=n) for n in range(50)]
    assert answers == [["row"]] * 50


def test_a_background_error_is_shown_once_to_every_waiting_cell(
    fetches: PendingFetches, notified: Notified
) -> None:
    error = BudgetError("This realtime search could cost up to $96.00, over the $5.00 cap.")
    gate = Gate(error=error)
    fetches.get_or_start("k", gate, lookup=nothing_stored, waiter="A1", waiter_id="A1")
    fetches.get_or_start("k", gate, lookup=nothing_stored, waiter="B2", waiter_id="B2")
    gate.release.set()
    assert fetches.wait(HANG_GUARD)
    assert notified.calls == [["A1", "B2"]]
    for cell in ("A1", "B2"):
        with pytest.raises(BudgetError) as raised:
            fetches.get_or_start("k", never, lookup=never, waiter_id=cell)
        assert raised.value is error
    # Shown once: the next evaluation asks again (nothing was stored).
    retry = Gate(result="answer")
    retry.release.set()
    assert isinstance(
        fetches.get_or_start("k", retry, lookup=nothing_stored, waiter_id="A1"), Pending
    )
    assert fetches.wait(HANG_GUARD)
    assert retry.calls == 1


def test_an_unexpected_error_is_logged_and_kept(
    fetches: PendingFetches, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate(error=ValueError("bug"))
    gate.release.set()
    with caplog.at_level(logging.ERROR, logger="generect_excel.pending"):
        fetches.get_or_start("k", gate, lookup=nothing_stored)
        assert fetches.wait(HANG_GUARD)
    assert "background fetch failed unexpectedly" in caplog.text
    with pytest.raises(ValueError, match="bug"):
        fetches.get_or_start("k", never, lookup=never)


def test_a_failing_notifier_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def broken(waiters: Any) -> None:
        raise OSError("Excel went away")

    fetches = PendingFetches(notify=broken)
    gate = Gate()
    gate.release.set()
    with caplog.at_level(logging.WARNING, logger="generect_excel.pending"):
        fetches.get_or_start("k", gate, lookup=nothing_stored, waiter="A1", waiter_id="A1")
        assert fetches.wait(HANG_GUARD)
    assert "could not ask for a recalculation" in caplog.text
    assert fetches.get_or_start("k", never, lookup=never, waiter_id="A1") == "answer"


def test_different_questions_are_fetched_at_the_same_time(fetches: PendingFetches) -> None:
    # Each fetch waits for the other: fetched one after the other, they would never meet.
    both = threading.Barrier(2, timeout=HANG_GUARD)

    def fetch(name: str) -> Any:
        both.wait()
        return name

    fetches.get_or_start("a", lambda: fetch("a"), lookup=nothing_stored, waiter_id=1)
    fetches.get_or_start("b", lambda: fetch("b"), lookup=nothing_stored, waiter_id=1)
    assert fetches.wait(HANG_GUARD)
    assert fetches.get_or_start("a", never, lookup=never, waiter_id=1) == "a"
    assert fetches.get_or_start("b", never, lookup=never, waiter_id=1) == "b"


def test_a_store_error_while_looking_is_raised_and_starts_nothing(
    fetches: PendingFetches,
) -> None:
    def locked() -> Any:
        raise StoreError("The local store is locked by another program.")

    with pytest.raises(StoreError, match="locked"):
        fetches.get_or_start("k", never, lookup=locked)
    assert fetches.in_flight() == []


def test_outcomes_nobody_comes_back_for_are_bounded(notified: Notified) -> None:
    fetches = PendingFetches(notify=notified, max_kept=2)
    for cell in ("A1", "A2", "A3"):
        gate = Gate(result=cell)
        gate.release.set()
        fetches.get_or_start(cell, gate, lookup=nothing_stored, waiter_id=cell)
        assert fetches.wait(HANG_GUARD)
    # The oldest outcome was dropped: that cell is answered from the store instead.
    assert fetches.get_or_start("A1", never, lookup=lambda: "stored", waiter_id="A1") == "stored"
    assert fetches.get_or_start("A3", never, lookup=never, waiter_id="A3") == "A3"
    fetches.discard_outcomes()
    assert fetches.get_or_start("A2", never, lookup=lambda: "stored", waiter_id="A2") == "stored"


# --------------------------------------------------------------------------- BackgroundEngine


KEY = "live_PENDING_7c1e9a"


@pytest.fixture
def settings(sandbox: Any, tmp_path: Path) -> Settings:
    return load_settings(
        environ={},
        config_file=tmp_path / "absent.toml",
        use_keyring=False,
        api_key=KEY,
        base_url=sandbox.url,
        home=tmp_path / "home",
    )


@pytest.fixture
def background(settings: Settings) -> Iterator[tuple[BackgroundEngine, Notified]]:
    notified = Notified()
    fetches = PendingFetches(notify=notified)
    yield BackgroundEngine(Engine(settings), fetches, waiter="the cell"), notified
    assert fetches.wait(HANG_GUARD)


def realtime(limit: int = 3) -> Any:
    return criteria_from_kwargs("realtime", job_titles=["Engineer"], limit_by=limit)


CELL = Origin("Book1.xlsx", "Leads", "A1")


def test_database_calls_are_answered_synchronously(background: Any, sandbox: Any) -> None:
    engine, notified = background
    request = criteria_from_kwargs("database", seniorities=["director"], limit_by=2)
    answer = engine.search(request, origin=CELL)
    assert len(answer.result.leads) == 2 and not answer.from_cache
    assert engine.fetches.in_flight() == [] and notified.calls == []
    assert len(sandbox.billable_calls()) == 1


def test_a_realtime_search_is_pending_then_answered_then_stored(
    background: Any, sandbox: Any
) -> None:
    engine, notified = background
    with pytest.raises(FetchPendingError) as raised:
        engine.search(realtime(), origin=CELL)
    assert str(raised.value).startswith("pending: realtime search started ")
    assert engine.fetches.wait(HANG_GUARD)
    assert notified.calls == [["the cell"]]
    fresh = engine.search(realtime(), origin=CELL)  # the recalculation: the fetch's answer
    assert len(fresh.result.leads) == 3 and not fresh.from_cache
    stored = engine.search(realtime(), origin=CELL)  # any later one: the store
    assert stored.from_cache and stored.result.leads == fresh.result.leads
    assert len(sandbox.billable_calls()) == 1


def test_a_new_refresh_value_fetches_once_in_the_background(background: Any, sandbox: Any) -> None:
    engine, _ = background
    for refresh in (None, 1.0):
        with pytest.raises(FetchPendingError):
            engine.search(realtime(), refresh=refresh, origin=CELL)
        assert engine.fetches.wait(HANG_GUARD)
        assert not engine.search(realtime(), refresh=refresh, origin=CELL).from_cache
        assert engine.search(realtime(), refresh=refresh, origin=CELL).from_cache
    assert len(sandbox.billable_calls()) == 2


def test_a_lost_realtime_answer_shows_its_error_at_once_not_pending(
    background: Any, sandbox: Any
) -> None:
    engine, notified = background
    sandbox.queue_faults(["drop"])
    with pytest.raises(FetchPendingError):
        engine.search(realtime(), origin=CELL)
    assert engine.fetches.wait(HANG_GUARD)
    with pytest.raises(OutcomeUnknownError) as first:  # the waiting cell: the fetch's error
        engine.search(realtime(), origin=CELL)
    # Every recalculation, this cell or another: the same error at once, never "pending" and
    # no background fetch (the engine would send nothing anyway).
    for origin in (CELL, Origin("Book1.xlsx", "Leads", "C1"), CELL):
        with pytest.raises(OutcomeUnknownError) as again:
            engine.search(realtime(), origin=origin)
        assert str(again.value) == str(first.value)
        assert engine.fetches.in_flight() == []
    assert notified.calls == [["the cell"]]
    # A new refresh value is a new call: fetched once, in the background.
    with pytest.raises(FetchPendingError):
        engine.search(realtime(), refresh=2, origin=CELL)
    assert engine.fetches.wait(HANG_GUARD)
    assert len(engine.search(realtime(), refresh=2, origin=CELL).result.leads) == 3
    assert len(sandbox.billable_calls()) == 1
    assert [e["path"] for e in sandbox.log_entries()].count(REALTIME_SEARCH) == 2


def test_a_realtime_count_goes_to_the_background_too(background: Any, sandbox: Any) -> None:
    engine, _ = background
    request = criteria_from_kwargs("realtime", job_titles=["Engineer"])
    with pytest.raises(FetchPendingError, match="pending: realtime count"):
        engine.count(request, origin=CELL)
    assert engine.fetches.wait(HANG_GUARD)
    assert isinstance(engine.count(request, origin=CELL).result.results_count, int)
    assert engine.count(request, origin=CELL).from_cache
    assert [c["path"] for c in sandbox.billable_calls()] == ["/api/v1/search/realtime/leads/count/"]


def test_other_engine_calls_pass_through(background: Any) -> None:
    engine, _ = background
    assert engine.spend("today") == 0
    assert engine.account().balance is not None


def test_background_and_foreground_fetches_coalesce_on_the_engines_flight(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    # One coalescing mechanism: a background fetch is keyed and run by the engine, so the
    # same question asked meanwhile in the foreground (the refresher, the CLI) joins it.
    server = sandbox_factory(realtime_latency=0.5)
    settings = load_settings(
        environ={},
        config_file=tmp_path / "absent.toml",
        use_keyring=False,
        api_key=KEY,
        base_url=server.url,
        home=tmp_path / "home",
    )
    engine = Engine(settings)
    fetches = PendingFetches()
    background = BackgroundEngine(engine, fetches, waiter="the cell")
    assert engine.flight_key(realtime(), "search", None) == engine.flight_key(realtime())
    assert engine.flight_key(realtime(), "search", 1) != engine.flight_key(realtime())
    with pytest.raises(FetchPendingError) as raised:
        background.search(realtime(), origin=CELL)
    assert raised.value.pending.key == engine.flight_key(realtime())
    foreground = engine.search(realtime())  # while the background fetch is in flight
    assert fetches.wait(HANG_GUARD)
    landed = background.search(realtime(), origin=CELL)
    assert landed.result.leads == foreground.result.leads
    assert len(server.billable_calls()) == 1
