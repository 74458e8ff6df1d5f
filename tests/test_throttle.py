"""Throttling slows work down, never fails it (issue 10, part 3).

The limiter's rule with no threads and no network; the client's time bound and jitter with an
injected clock and sleep; then, against the sandbox over HTTP with a cap of 5 in flight, 60
distinct searches through the worksheet functions (threads, as Excel calls them), the pending
fetches and the refresher: every one answered, counted from the sandbox's request log.
"""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from generect_excel import _constants as C
from generect_excel.client import Client, close_shared_clients, shared_client
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.errors import RateLimitedError, ServerError, SettingsError
from generect_excel.functions import cell_error, evaluate_search
from generect_excel.pending import BackgroundEngine, PendingFetches
from generect_excel.sandbox import SandboxConfig
from generect_excel.settings import Settings
from generect_excel.throttle import ConcurrencyLimiter, limiter_for
from generect_excel.workbook.refresher import refresh_workbook
from workbook_support import load, sandbox_settings

KEY = "live_THROTTLE_5c2d"
BASE = "https://api.generect.com"
BODY = {"job_titles": ["CEO"], "limit_by": 1}
THROTTLED = {"status": "error", "status_code": 429, "detail": "Request was throttled."}
FOUND = {"data": {"leads": [], "results_count": 0}, "meta": {"amount_charged": 0}}
HANG_GUARD = 60.0  # seconds; only reached if something hangs
SEARCHES = 60
CAP = 5
# Broad enough for 60 pages of one lead each in the test population.
CRITERIA = [["Location", "United States"]]


def criteria(i: int) -> list[list[str]]:
    """CRITERIA as a criteria family of its own (an id that no lead has, excluded): pages of one
    family are fetched one at a time (issue 12's stable pages), and these tests need 60
    searches in flight together."""
    return [*CRITERIA, ["Exclude IDs", f"no-such-lead-{i}"]]


# --------------------------------------------------------------------------- the limiter's rule


def test_the_limit_starts_at_the_ceiling_and_halves_once_per_round_of_429s() -> None:
    limiter = ConcurrencyLimiter(8, decrease=0.5)
    tickets = [limiter.acquire() for _ in range(8)]
    assert (limiter.limit, limiter.in_flight) == (8, 8)
    # Three requests of the same burst throttled: one decrease, not three (8 -> 4, not 1).
    for ticket in tickets[:3]:
        limiter.release(ticket, "throttled")
    assert (limiter.limit, limiter.throttles) == (4, 3)
    # A request sent after that decrease and throttled too: the smaller limit was too much.
    for ticket in tickets[3:6]:
        limiter.release(ticket, "failed")  # a 5xx or a lost connection: the limit stays
    assert limiter.limit == 4
    later = limiter.acquire()
    limiter.release(later, "throttled")
    assert limiter.limit == 2
    # An old request from the first burst, throttled now, does not shrink it again.
    limiter.release(tickets[6], "throttled")
    assert limiter.limit == 2


def test_answers_add_one_over_the_limit_up_to_the_ceiling_never_above() -> None:
    limiter = ConcurrencyLimiter(4, decrease=0.5)
    for _ in range(5):  # five rounds of 429s: 4 -> 2 -> 1 -> 1 ...: never below 1
        limiter.release(limiter.acquire(), "throttled")
    assert limiter.limit == 1
    seen = []
    for _ in range(12):
        limiter.release(limiter.acquire(), "answered")
        seen.append(limiter.limit)
    # Each answer adds 1/limit: 1, 2, 2.5, 2.9, 3.24, 3.55, 3.83, 4.09 (about +1 per round of
    # `limit` answers, rounded down for the slots); then it stays at the ceiling.
    assert seen == [2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4]


def test_the_default_decrease_cuts_the_limit_by_thirty_percent() -> None:
    limiter = ConcurrencyLimiter(6)
    tickets = [limiter.acquire() for _ in range(6)]
    limiter.release(tickets[0], "throttled")
    assert limiter.limit == 4  # 6 x 0.7 = 4.2 slots
    for ticket in tickets[1:]:
        limiter.release(ticket, "answered")
    assert limiter.limit == 5  # 4.2 + 5 answers of about 1/4.5 each


def test_a_full_limiter_makes_the_next_caller_wait_for_a_release() -> None:
    limiter = ConcurrencyLimiter(2)
    held = [limiter.acquire(), limiter.acquire()]
    got = threading.Event()

    def waiter() -> None:
        ticket = limiter.acquire()
        got.set()
        limiter.release(ticket, "answered")

    thread = threading.Thread(target=waiter)
    thread.start()
    assert not got.wait(0.2)  # blocked: two in flight already
    limiter.release(held[0], "answered")
    assert got.wait(HANG_GUARD)
    thread.join()
    limiter.release(held[1], "answered")
    assert limiter.in_flight == 0


def test_a_callers_own_cap_below_the_shared_ceiling_is_kept() -> None:
    limiter = ConcurrencyLimiter(8)
    small = [limiter.acquire(cap=2), limiter.acquire(cap=2)]
    assert limiter._take(2) is None  # a third for the client capped at 2 must wait
    other = limiter.acquire()  # another client with the full ceiling still gets a slot
    for ticket in [*small, other]:
        limiter.release(ticket, "answered")


def test_an_asyncio_caller_waits_without_blocking_its_loop_and_is_woken_by_a_thread() -> None:
    limiter = ConcurrencyLimiter(1)
    held = limiter.acquire()

    async def main() -> list[str]:
        order: list[str] = []

        async def request() -> None:
            ticket = await limiter.acquire_async()
            order.append("slot")
            limiter.release(ticket, "answered")

        task = asyncio.create_task(request())
        await asyncio.sleep(0.05)
        order.append("loop still runs")
        threading.Timer(0.05, limiter.release, (held, "answered")).start()
        await asyncio.wait_for(task, HANG_GUARD)
        return order

    assert asyncio.run(main()) == ["loop still runs", "slot"]
    assert limiter.in_flight == 0


def make_settings(key: str = KEY, **kw: Any) -> Settings:
    return Settings(api_key=key, base_url=kw.pop("base_url", BASE), key_source="env", **kw)


def test_one_limiter_per_base_url_and_key_shared_by_every_client() -> None:
    first = Client(make_settings())
    assert Client(make_settings()).limiter is first.limiter
    assert shared_client(make_settings()).limiter is first.limiter
    assert limiter_for(BASE, make_settings().account, 8) is first.limiter
    assert Client(make_settings("another_key")).limiter is not first.limiter
    assert Client(make_settings(base_url="http://127.0.0.1:9")).limiter is not first.limiter
    # A client allowing more in flight raises the shared ceiling; the limit is not reset.
    assert Client(make_settings(max_parallel=12)).limiter.ceiling == 12
    close_shared_clients()


# --------------------------------------------------------------------------- time, not count


class FakeTime:
    """An injected clock and sleep: sleeping moves the clock; ``per_request`` seconds pass
    for every request as well (the server's answer, or a wait for a slot)."""

    def __init__(self, per_request: float = 0.0) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.sent_at: list[float] = []
        self.per_request = per_request

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def answer(self, response: httpx.Response) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.sent_at.append(self.now)
            self.now += self.per_request
            return httpx.Response(response.status_code, headers=response.headers, json=THROTTLED)

        return httpx.MockTransport(handle)


def throttling_client(fake: FakeTime, minutes: float, **kw: Any) -> Client:
    headers = kw.pop("headers", {})
    return Client(
        make_settings(max_throttle_wait=minutes),
        transport=fake.answer(httpx.Response(429, headers=headers)),
        sleep=fake.sleep,
        clock=fake.clock,
        random=kw.pop("random", lambda: 0.0),
        **kw,
    )


def test_throttling_fails_after_the_configured_minutes_not_sooner() -> None:
    fake = FakeTime()
    client = throttling_client(fake, 1.0)
    with pytest.raises(RateLimitedError) as raised:
        client.search("database", BODY)
    # 0.5, 1, 2, 4, then 8 s waits, the last cut to end at exactly one minute: far more than
    # the 4 retries a count allows, and the final request goes out at 60 s, not before.
    assert fake.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 4.5]
    assert fake.sent_at[-1] == pytest.approx(60.0) and max(fake.sent_at[:-1]) < 60.0
    message = str(raised.value)
    assert message == (
        "Throttled by Generect (429) for 1.0 min; nothing charged. "
        "To wait longer, raise GENERECT_MAX_THROTTLE_WAIT (minutes)."
    )
    assert len(cell_error(raised.value)) <= len(C.CELL_ERROR_PREFIX) + 1 + C.CELL_MESSAGE_MAX
    assert "max_throttle_wait is 1 min" in raised.value.details
    assert isinstance(raised.value.__cause__, RateLimitedError)  # the last 429 itself


def test_time_spent_waiting_for_answers_counts_too() -> None:
    fake = FakeTime(per_request=25.0)  # every 429 takes 25 s to come back
    client = throttling_client(fake, 1.0)
    with pytest.raises(RateLimitedError, match=r"for 1\.\d min"):
        client.search("database", BODY)
    # The first 429 came at 25 s; the clock, not only the slept total, reaches 60 s after it.
    assert fake.now - 25.0 >= 60.0
    assert len(fake.sent_at) == 4  # 429s at 25, 50.5, 76.5 and 103.5 s


def test_a_zero_throttle_wait_fails_at_the_first_429() -> None:
    fake = FakeTime()
    client = throttling_client(fake, 0.0)
    with pytest.raises(RateLimitedError, match=r"for 0\.0 s"):
        client.count("realtime", BODY)
    assert (fake.sent_at, fake.sleeps) == ([0.0], [])


def test_server_errors_stay_bounded_by_count_and_429s_do_not_use_them_up() -> None:
    script = [429, 503, 429, 503, 429, 503, 503, 503]
    statuses = list(script)
    fake = FakeTime()

    def handle(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0) if statuses else 503
        return httpx.Response(status, json={**THROTTLED, "status_code": status})

    client = Client(
        make_settings(),
        transport=httpx.MockTransport(handle),
        sleep=fake.sleep,
        clock=fake.clock,
        random=lambda: 0.0,
    )
    with pytest.raises(ServerError):
        client.search("database", BODY)
    # Five 503s (the first try and 4 retries) however many 429s came between them.
    assert statuses == [] and len(fake.sleeps) == len(script) - 1
    assert fake.sleeps == [0.5, 0.5, 1.0, 1.0, 2.0, 2.0, 4.0]


def test_retry_after_is_the_least_wait_with_jitter_on_top() -> None:
    fake = FakeTime()
    draws = random.Random(10)
    client = throttling_client(fake, 2.0, headers={"Retry-After": "1"}, random=draws.random)
    with pytest.raises(RateLimitedError):
        client.search("database", BODY)
    waits = fake.sleeps[:-1]  # the last wait is cut to end at the limit
    assert len(waits) >= 10
    assert all(wait >= 1.0 for wait in waits)  # never sooner than the server asked
    assert len({round(wait, 6) for wait in waits}) == len(waits)  # never in lockstep
    # The jitter is up to one backoff step: 0.5 s after the first 429, 1 s after the second.
    assert waits[0] <= 1.5 and waits[1] <= 2.0


def test_a_throttled_request_gives_its_slot_back_while_it_waits() -> None:
    answers = iter([429, 429, 200])
    in_flight_while_waiting: list[int] = []
    limiter = ConcurrencyLimiter(1)

    def handle(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json=FOUND if status == 200 else THROTTLED)

    client = Client(
        make_settings(max_parallel=1),
        transport=httpx.MockTransport(handle),
        sleep=lambda s: in_flight_while_waiting.append(limiter.in_flight),
        random=lambda: 0.0,
        limiter=limiter,
    )
    client.search("database", BODY)
    assert in_flight_while_waiting == [0, 0]
    assert limiter.in_flight == 0 and limiter.throttles == 2


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")  # the store's UTC timestamps


def test_a_claim_outlives_the_longest_throttling_wait(tmp_path: Path) -> None:
    """Another process (Excel beside a CLI refresh) takes over an expired claim and buys the
    same answer: a call still waiting out throttling must keep its claim."""
    settings = make_settings(home=tmp_path / "home", max_throttle_wait=30)
    lifetimes: list[float] = []

    class Throttled:
        def search(self, mode: Any, body: Any, on_send: Any = None) -> Any:
            with sqlite3.connect(settings.store_path) as db:
                claimed, expires = db.execute(
                    "SELECT claimed_at, expires_at FROM inflight"
                ).fetchone()
            lifetimes.append((parse_ts(expires) - parse_ts(claimed)).total_seconds())
            raise RateLimitedError("still throttled", status_code=429)

    engine = Engine(settings, client=Throttled())  # type: ignore[arg-type]
    request = criteria_from_kwargs("database", job_titles=["CEO"], limit_by=1)
    with pytest.raises(RateLimitedError):
        engine.search(request)
    assert lifetimes == [C.DATABASE_TIMEOUT + 30 * 60 + C.INFLIGHT_CLAIM_MARGIN]


# --------------------------------------------------------------------------- over HTTP


def statuses(server: Any) -> list[int]:
    return [entry["status"] for entry in server.log_entries()]


def assert_all_answered_once(server: Any) -> None:
    seen = statuses(server)
    assert seen.count(200) == SEARCHES and len(server.billable_calls()) == SEARCHES
    assert set(seen) == {200, 429}  # throttled on the way (the test tests something), nothing else
    # The limit adapted: a client that kept sending 8 at once would be throttled far more often.
    assert seen.count(429) < SEARCHES // 2


def run_cells(cell: Any) -> list[Any]:
    """``cell(i)`` from SEARCHES threads released together, as Excel's threaded calculation
    calls the worksheet functions; each cell's value, or its one-line error."""
    barrier = threading.Barrier(SEARCHES)
    values: list[Any] = [None] * SEARCHES

    def run(i: int) -> None:
        barrier.wait()
        try:
            values[i] = cell(i)
        except Exception as exc:  # what the udfs wrapper does with any error
            values[i] = cell_error(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(SEARCHES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD)
    return values


@pytest.mark.parametrize("retry_after", [None, 1], ids=["no Retry-After", "Retry-After 1"])
def test_sixty_cells_against_a_cap_of_five_all_get_their_leads(
    sandbox_factory: Any, tmp_path: Path, retry_after: int | None
) -> None:
    server = sandbox_factory(
        max_parallel=CAP, latency=0.1, retry_after=retry_after, stable_order=True
    )
    engine = Engine(sandbox_settings(server, tmp_path / "home"))  # max_parallel 8 > 5

    def cell(i: int) -> Any:  # 60 distinct searches: 60 families, each at a page of one lead
        return evaluate_search(engine, criteria(i), 1.0, float(i), "full_name")

    tables = run_cells(cell)
    errors = [value for value in tables if isinstance(value, str)]
    assert errors == []
    assert all(table[1] == ["full_name"] and len(table) == 3 for table in tables)
    assert len({table[2][0] for table in tables}) == SEARCHES  # 60 different leads
    assert_all_answered_once(server)


def test_sixty_pending_realtime_cells_all_land(sandbox_factory: Any, tmp_path: Path) -> None:
    server = sandbox_factory(max_parallel=CAP, latency=0.05, realtime_latency=0.05)
    settings = sandbox_settings(server, tmp_path / "home")
    engine = Engine(settings)
    fetches = PendingFetches(notify=lambda cells: None, max_workers=settings.max_parallel)
    background = BackgroundEngine(engine, fetches, waiter="the cell")

    def request(i: int) -> Any:
        return criteria_from_kwargs(
            "realtime",
            job_titles=["Engineer"],
            exclude_ids=[f"no-such-lead-{i}"],  # a family of its own (see criteria())
            limit_by=1,
            offset_by=i,
        )

    def cell(i: int) -> Any:
        return background.search(request(i))

    first = run_cells(cell)
    assert all(value.startswith("#GENERECT! pending: realtime search") for value in first)
    assert fetches.wait(HANG_GUARD)
    # Excel recalculates each cell once its fetch has landed: every one gets its answer.
    answers = [background.search(request(i)) for i in range(SEARCHES)]
    assert all(len(answer.result.leads) == 1 for answer in answers)
    assert_all_answered_once(server)


@pytest.mark.parametrize("retry_after", [None, 1], ids=["no Retry-After", "Retry-After 1"])
def test_a_refresh_of_sixty_formulas_against_a_cap_of_five_fills_every_one(
    sandbox_factory: Any, tmp_path: Path, retry_after: int | None
) -> None:
    server = sandbox_factory(
        max_parallel=CAP, latency=0.1, retry_after=retry_after, stable_order=True
    )
    book = tmp_path / "sixty.xlsx"
    wb = Workbook()
    sheet = wb.active
    sheet.title = "Leads"
    for i in range(SEARCHES):  # each formula its own criteria family (see criteria())
        top = 1 + 2 * i
        for row, (label, value) in enumerate(criteria(i)[:2], start=top):
            sheet.cell(row, 4, label)
            sheet.cell(row, 5, value)
        block = f"$D${top}:$E${top + 1}"
        sheet.cell(3 + 3 * i, 1, f'=GENERECT_SEARCH({block},1,{i},"full_name")')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb.save(book)
    engine = Engine(sandbox_settings(server, tmp_path / "home"))
    summary = refresh_workbook(book, engine, confirm=lambda quote: True)
    assert summary.ok and summary.errors == [] and summary.new == SEARCHES, summary.lines()
    assert_all_answered_once(server)
    values = load(book, data_only=True)["Leads"]
    leads = set()
    for i in range(SEARCHES):
        top = 3 + 3 * i
        assert values.cell(top, 1).value.startswith("Generect · "), values.cell(top, 1).value
        assert values.cell(top + 1, 1).value == "full_name"
        leads.add(values.cell(top + 2, 1).value)
    assert len(leads) == SEARCHES and None not in leads


@pytest.mark.parametrize("retry_after", [None, 1], ids=["no Retry-After", "Retry-After 1"])
def test_a_server_that_never_stops_throttling_fails_the_cell_after_the_setting(
    sandbox_factory: Any, tmp_path: Path, retry_after: int | None
) -> None:
    server = sandbox_factory(retry_after=retry_after)
    minutes = 0.03  # 1.8 s
    settings = sandbox_settings(
        server, tmp_path / "home", key="test_fault-rate_limited", max_throttle_wait=minutes
    )
    engine = Engine(settings)
    started = time.monotonic()
    value = run_cells_once(lambda: evaluate_search(engine, CRITERIA, 2.0))
    elapsed = time.monotonic() - started
    assert re.fullmatch(
        r"#GENERECT! Throttled by Generect \(429\) for 1\.\d s; nothing charged\. "
        r"To wait longer, raise GENERECT_MAX_THROTTLE_WAIT \(minutes\)\.",
        value,
    ), value
    assert minutes * 60 <= elapsed < minutes * 60 + 5.0  # after the setting, not sooner
    seen = statuses(server)
    assert set(seen) == {429} and len(seen) >= 3  # tried again and again, never charged
    assert server.billable_calls() == []


def run_cells_once(cell: Any) -> Any:
    try:
        return cell()
    except Exception as exc:
        return cell_error(exc)


# --------------------------------------------------------------------------- the sandbox's 429


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (2, "2")])
def test_the_sandbox_sends_retry_after_only_when_configured(
    sandbox_factory: Any, retry_after: int | None, header: str | None
) -> None:
    server = sandbox_factory(retry_after=retry_after)
    with httpx.Client(base_url=server.url) as http:
        answer = http.post(
            C.PATH_DATABASE_SEARCH,
            json={"job_titles": ["CEO"]},
            headers={"Authorization": "Token test_fault-rate_limited"},
        )
    assert answer.status_code == 429
    assert answer.headers.get("Retry-After") == header


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_the_sandbox_refuses_a_retry_after_that_is_not_whole_seconds(bad: Any) -> None:
    with pytest.raises(SettingsError, match="retry_after must be whole seconds"):
        SandboxConfig(retry_after=bad)
