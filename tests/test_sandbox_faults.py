"""The sandbox's faults, the parallel cap and concurrency, over real HTTP.

A fault never charges; ``slow`` and ``latency=<s>`` only delay a normal answer. The robustness
faults (malformed_json, html_error, drop, hang) answer outside the spec on purpose; every other
answer here is checked against it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conftest import assert_conforms, conforming_client
from generect_excel import _constants as C
from generect_excel.sandbox import FAULTS, Sandbox, parse_fault

LIVE = "live-key-faults"
TEST = "test_faults"
BODY = {"seniorities": ["director"], "limit_by": 3}
BEHAVIOUR = "X-Generect-Test-Behaviour"


def connect(sandbox: Sandbox, key: str = TEST, *, raw: bool = False) -> httpx.Client:
    """A client checking every answer against the spec; ``raw`` for the deliberately broken
    answers of the robustness faults."""
    if raw:
        return httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Token {key}"}, timeout=30
        )
    return conforming_client(sandbox.url, key)


@pytest.fixture
def test_key(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with connect(sandbox, TEST) as client:
        yield client


@pytest.fixture
def live(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with connect(sandbox, LIVE) as client:
        yield client


def wait_for(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Poll until ``condition`` holds (a safety bound, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def last_entry(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.log_entries()[-1]


@pytest.mark.parametrize(
    ("fault", "status", "detail"),
    [
        ("not_found", 404, "Not found."),
        ("insufficient_funds", 402, "Insufficient funds in the account."),
        ("rate_limited", 429, "Request was throttled."),
        ("upstream_error", 502, "Upstream service error. Try again later."),
    ],
)
def test_behaviour_header_error_faults(
    sandbox: Sandbox, test_key: httpx.Client, fault: str, status: int, detail: str
) -> None:
    for path in (C.PATH_DATABASE_SEARCH, C.PATH_REALTIME_COUNT):
        response = test_key.post(path, json=BODY, headers={BEHAVIOUR: fault})
        assert response.status_code == status
        assert response.headers["X-Generect-Mode"] == "test"
        assert assert_conforms(response)["detail"] == detail
        assert last_entry(sandbox)["fault"] == fault
    response = test_key.get(C.PATH_ACCOUNT, headers={BEHAVIOUR: fault})
    assert response.status_code == status
    assert_conforms(response)
    assert sandbox.billable_calls() == []


@pytest.mark.parametrize("fault", ["slow", "latency=0.05"])
def test_delay_faults_answer_normally_and_bill(
    sandbox: Sandbox, test_key: httpx.Client, fault: str
) -> None:
    response = test_key.post(C.PATH_DATABASE_SEARCH, json=BODY, headers={BEHAVIOUR: fault})
    assert response.status_code == 200
    assert assert_conforms(response)["meta"]["amount_charged"] == 0.06
    [entry] = sandbox.billable_calls()
    assert entry["fault"] == fault


def test_behaviour_header_is_ignored_for_live_keys(sandbox: Sandbox, live: httpx.Client) -> None:
    response = live.post(C.PATH_DATABASE_SEARCH, json=BODY, headers={BEHAVIOUR: "rate_limited"})
    assert response.status_code == 200
    assert_conforms(response)
    assert sandbox.balance(LIVE) == Decimal("99.94")


def test_unknown_behaviour_is_400(test_key: httpx.Client) -> None:
    for value in ("explode", "latency=abc", "latency=-1", "latency=500"):
        response = test_key.post(C.PATH_DATABASE_SEARCH, json=BODY, headers={BEHAVIOUR: value})
        assert response.status_code == 400
        assert BEHAVIOUR in assert_conforms(response)["detail"]


def test_malformed_json_is_200_with_a_truncated_body(sandbox: Sandbox) -> None:
    with connect(sandbox, TEST, raw=True) as client:
        response = client.post(
            C.PATH_DATABASE_SEARCH, json=BODY, headers={BEHAVIOUR: "malformed_json"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith('{"data": {"leads": [')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert sandbox.billable_calls() == []


def test_html_error_is_a_proxy_page(sandbox: Sandbox) -> None:
    with connect(sandbox, TEST, raw=True) as client:
        response = client.post(C.PATH_REALTIME_SEARCH, json=BODY, headers={BEHAVIOUR: "html_error"})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text
    assert last_entry(sandbox)["fault"] == "html_error"


def test_drop_cuts_the_answer_and_charges_nothing(sandbox: Sandbox, live: httpx.Client) -> None:
    sandbox.queue_faults(["drop"])  # live keys reach faults through the queue
    with connect(sandbox, LIVE, raw=True) as client, pytest.raises(httpx.RemoteProtocolError):
        client.post(C.PATH_DATABASE_SEARCH, json=BODY)
    entry = last_entry(sandbox)
    assert (entry["status"], entry["fault"], entry["debited"]) == (200, "drop", None)
    assert sandbox.billable_calls() == [] and sandbox.balance(LIVE) == Decimal("100")
    response = live.post(C.PATH_DATABASE_SEARCH, json=BODY)  # the next call is normal
    assert assert_conforms(response)["meta"]["amount_charged"] == 0.06


def test_hang_lasts_until_the_client_gives_up(sandbox: Sandbox) -> None:
    with connect(sandbox, TEST, raw=True) as client, pytest.raises(httpx.ReadTimeout):
        client.post(C.PATH_DATABASE_SEARCH, json=BODY, headers={BEHAVIOUR: "hang"}, timeout=0.3)
    wait_for(lambda: bool(sandbox.log_entries()), "the hang to notice the client left")
    entry = last_entry(sandbox)
    assert (entry["status"], entry["fault"], entry["amount_charged"]) == (None, "hang", None)
    assert sandbox.in_flight(TEST) == 0


def test_stopping_the_server_ends_hangs_and_delays(sandbox_factory: Callable[..., Sandbox]) -> None:
    server = sandbox_factory(realtime_latency=60)
    errors: list[BaseException] = []

    def call(path: str, headers: dict[str, str]) -> None:
        with connect(server, TEST, raw=BEHAVIOUR in headers) as client:
            try:
                response = client.post(path, json=BODY, headers=headers, timeout=60)
                errors.append(AssertionError(response.status_code, response.text))
            except httpx.HTTPError as exc:
                errors.append(exc)

    threads = [
        threading.Thread(target=call, args=(C.PATH_DATABASE_SEARCH, {BEHAVIOUR: "hang"})),
        threading.Thread(target=call, args=(C.PATH_REALTIME_SEARCH, {})),
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: server.in_flight(TEST) == 2, "both calls in flight")
    server.stop()
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive()
    # The hang's connection is closed; the delayed realtime call answers 503.
    assert sorted(type(e).__name__ for e in errors) == ["AssertionError", "RemoteProtocolError"]
    [answered] = [e for e in errors if isinstance(e, AssertionError)]
    assert answered.args[0] == 503 and "shutting down" in answered.args[1]


def test_queued_faults_are_consumed_in_order_and_by_path(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    assert sandbox.queue_faults(["rate_limited", "upstream_error"]) == 2
    statuses = [live.post(C.PATH_DATABASE_SEARCH, json=BODY).status_code for _ in range(3)]
    assert statuses == [429, 502, 200]
    sandbox.queue_faults(["not_found"], path=C.PATH_REALTIME_COUNT)
    assert live.post(C.PATH_DATABASE_SEARCH, json=BODY).status_code == 200
    response = live.post(C.PATH_REALTIME_COUNT, json=BODY)
    assert response.status_code == 404
    assert_conforms(response)
    assert sandbox.pending_faults() == []
    assert [e["fault"] for e in sandbox.log_entries()] == [
        "rate_limited",
        "upstream_error",
        None,
        None,
        "not_found",
    ]
    # Only the three normal searches cost anything.
    assert sandbox.balance(LIVE) == Decimal("100") - 2 * Decimal("0.06")


def test_faults_chosen_by_the_key(sandbox: Sandbox) -> None:
    with connect(sandbox, "test_fault-upstream_error") as client:
        for _ in range(2):
            response = client.post(C.PATH_DATABASE_SEARCH, json=BODY)
            assert response.status_code == 502
            assert_conforms(response)
    with connect(sandbox, "fault-rate_limited") as client:  # a live key, never charged
        assert client.post(C.PATH_DATABASE_SEARCH, json=BODY).status_code == 429
    with connect(sandbox, "test_fault-latency=0.01") as client:
        assert client.post(C.PATH_DATABASE_SEARCH, json=BODY).status_code == 200
    assert sandbox.balance("fault-rate_limited") == Decimal("100")
    assert [e["fault"] for e in sandbox.billable_calls()] == ["latency=0.01"]


def test_admin_endpoint_scripts_faults_without_headers(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    with httpx.Client(base_url=sandbox.url) as admin:
        answer = admin.post(
            "/_sandbox/faults",
            json={"faults": ["insufficient_funds"], "path": C.PATH_DATABASE_SEARCH},
        )
        assert answer.json() == {
            "pending": [{"fault": "insufficient_funds", "path": C.PATH_DATABASE_SEARCH}]
        }
        assert admin.post("/_sandbox/faults", json={"faults": ["nope"]}).status_code == 400
        assert admin.post("/_sandbox/faults", json={"path": "/x/"}).status_code == 400
        response = live.post(C.PATH_DATABASE_SEARCH, json=BODY)
        assert response.status_code == 402
        assert_conforms(response)
        admin.post("/_sandbox/faults", json=["hang", "drop"])
        assert len(admin.get("/_sandbox/faults").json()["pending"]) == 2
        assert admin.delete("/_sandbox/faults").json() == {"pending": []}
        assert [e["status"] for e in admin.get("/_sandbox/log").json()["entries"]] == [402]
        assert admin.get("/_sandbox/").json()["leads"] == sandbox.population.size
        assert admin.post("/_sandbox/reset").json() == {"reset": True}
    assert sandbox.log_entries() == []


def test_admin_endpoint_refuses_other_machines(sandbox: Sandbox) -> None:
    async def from_elsewhere() -> list[int]:
        transport = httpx.ASGITransport(app=sandbox.asgi, client=("192.168.1.20", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            return [
                (await client.post("/_sandbox/faults", json={"faults": ["drop"]})).status_code,
                (await client.get("/_sandbox/log")).status_code,
                (await client.post("/_sandbox/reset")).status_code,
            ]

    assert asyncio.run(from_elsewhere()) == [403, 403, 403]
    assert sandbox.pending_faults() == []


def test_fault_names_parse_and_a_bad_one_queues_nothing(sandbox: Sandbox) -> None:
    assert {parse_fault(name).name for name in FAULTS} == set(FAULTS)
    assert parse_fault(" Latency=2.5 ").seconds == 2.5
    assert str(parse_fault("latency=2")) == "latency=2"
    with pytest.raises(ValueError, match="unknown fault 'boom'"):
        sandbox.queue_faults(["rate_limited", "boom"])
    assert sandbox.pending_faults() == []


# --------------------------------------------------------------------------- load
def test_more_lead_calls_than_the_cap_answer_429(sandbox_factory: Callable[..., Sandbox]) -> None:
    server = sandbox_factory(max_parallel=2)
    outcomes: list[str] = []

    def hang() -> None:
        with connect(server, TEST, raw=True) as client:
            try:
                client.post(C.PATH_DATABASE_SEARCH, json=BODY, headers={BEHAVIOUR: "hang"})
            except httpx.HTTPError as exc:
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=hang) for _ in range(2)]
    for thread in threads:
        thread.start()
    wait_for(lambda: server.in_flight(TEST) == 2, "two calls in flight")
    with connect(server, TEST) as client:
        response = client.post(C.PATH_REALTIME_COUNT, json=BODY)
        assert response.status_code == 429
        assert assert_conforms(response)["detail"] == "Request was throttled."
        assert client.get(C.PATH_ACCOUNT).status_code == 200  # the account is not a lead call
    with connect(server, "test_other-key") as other:  # the cap is per key
        assert other.post(C.PATH_DATABASE_COUNT, json=BODY).status_code == 200
    server.release_hangs()
    for thread in threads:
        thread.join(20)
    assert outcomes == ["RemoteProtocolError", "RemoteProtocolError"]
    wait_for(lambda: server.in_flight(TEST) == 0, "the hangs to end")
    with connect(server, TEST) as client:
        assert client.post(C.PATH_REALTIME_COUNT, json=BODY).status_code == 200
    throttled = [e for e in server.log_entries() if e["status"] == 429]
    assert len(throttled) == 1 and throttled[0]["fault"] is None


def test_slow_calls_are_answered_concurrently(sandbox_factory: Callable[..., Sandbox]) -> None:
    # --latency delays every call, --realtime-latency the realtime ones: both only wait.
    server = sandbox_factory(latency=60, realtime_latency=60)
    with conforming_client(server.url, TEST, timeout=60) as client:
        results: list[int] = []

        def one(path: str) -> None:
            try:
                results.append(client.post(path, json=BODY).status_code)
            except httpx.HTTPError:
                results.append(-1)

        paths = [C.PATH_REALTIME_SEARCH, C.PATH_DATABASE_SEARCH] * 4
        threads = [threading.Thread(target=one, args=(path,)) for path in paths]
        for thread in threads:
            thread.start()
        # All eight wait at once: the server is not serialising them.
        wait_for(lambda: server.in_flight(TEST) == 8, "eight slow calls in flight")
        server.stop()
        for thread in threads:
            thread.join(20)
    assert results == [503] * 8  # stopping ends the waits with an answer
