"""The HTTP client: the wire format, error mapping, retries, the parallel cap, key secrecy.

Wire details and faults go through ``httpx.MockTransport``; a few tests use a real socket on
127.0.0.1 for what only a real connection shows (a body cut short, a refused connection).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from generect_excel import __version__
from generect_excel import _constants as C
from generect_excel.client import (
    ENDPOINTS,
    AsyncClient,
    Client,
    RetryPolicy,
    close_shared_clients,
    retry_delay,
    shared_client,
)
from generect_excel.errors import (
    APIError,
    APIStatusError,
    BadRequestError,
    ConnectionFailedError,
    CriteriaError,
    ForbiddenError,
    GenerectError,
    InsufficientFundsError,
    NotFoundError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    SettingsError,
    UnauthorizedError,
)
from generect_excel.responses import Account, CountResult, SearchResult
from generect_excel.retry import AMBIGUOUS, NOT_SENT, parse_retry_after
from generect_excel.settings import Settings

KEY = "gk_live_S3cretKeyValue42"
BASE = "https://api.generect.com"
BODY = {"job_titles": ["CEO", "Founder"], "seniorities": ["c_suite"], "limit_by": 2}

SEARCH_OK = {
    "data": {"leads": [{"lead_id": "l1", "full_name": "Ada L", "x": {"y": 1}}], "results_count": 7},
    "meta": {"amount_charged": 0.04},
}
COUNT_OK = {"data": {"results_count": 1240}, "meta": {"amount_charged": 0}}
ACCOUNT_OK = {"data": {"credits": {"balance": 12.5, "used_this_month": 3, "monthly_limit": 100}}}


def make_settings(key: str | None = KEY, **kw: Any) -> Settings:
    kw.setdefault("key_source", "env")
    return Settings(api_key=key, base_url=kw.pop("base_url", BASE), **kw)


def envelope(status: int, detail: Any) -> dict[str, Any]:
    return {"status": "error", "status_code": status, "detail": detail}


class Wire:
    """A MockTransport handler: records every request, answers from a script.

    Each item is an ``httpx.Response``, an exception to raise, or a callable(request). The
    last item repeats.
    """

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if callable(item) and not isinstance(item, httpx.Response):
            item = item(request)
        if isinstance(item, BaseException):
            raise item
        # A fresh copy each time: a repeated answer must not share a consumed stream.
        return httpx.Response(item.status_code, headers=item.headers, content=item.content)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self.answer(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.answer(request)


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.append(seconds)


def make_client(
    wire: Wire, *, settings: Settings | None = None, **kw: Any
) -> tuple[Client, Sleeps]:
    sleeps = Sleeps()
    kw.setdefault("random", lambda: 0.0)
    client = Client(
        settings or make_settings(), transport=httpx.MockTransport(wire), sleep=sleeps, **kw
    )
    return client, sleeps


def make_async_client(wire: Wire, **kw: Any) -> tuple[AsyncClient, Sleeps]:
    sleeps = Sleeps()
    kw.setdefault("random", lambda: 0.0)
    settings = kw.pop("settings", None) or make_settings()
    client = AsyncClient(
        settings,
        transport=httpx.MockTransport(wire.handle_async),
        sleep=sleeps.async_sleep,
        **kw,
    )
    return client, sleeps


@pytest.fixture(autouse=True)
def _no_shared_clients() -> Iterator[None]:
    yield
    close_shared_clients()


# Each endpoint: how to call it, the method, the exact path, whether it is billable.
CALLS: dict[str, tuple[Callable[[Any], Any], str, str, bool]] = {
    "database search": (lambda c: c.search("database", BODY), "POST", C.PATH_DATABASE_SEARCH, True),
    "database count": (lambda c: c.count("database", BODY), "POST", C.PATH_DATABASE_COUNT, False),
    "realtime search": (lambda c: c.search("realtime", BODY), "POST", C.PATH_REALTIME_SEARCH, True),
    "realtime count": (lambda c: c.count("realtime", BODY), "POST", C.PATH_REALTIME_COUNT, True),
    "account": (lambda c: c.account(), "GET", C.PATH_ACCOUNT, False),
}
OK_ANSWERS = {
    "database search": SEARCH_OK,
    "realtime search": SEARCH_OK,
    "database count": COUNT_OK,
    "realtime count": COUNT_OK,
    "account": ACCOUNT_OK,
}
BILLABLE = [name for name, (_, _, _, billable) in CALLS.items() if billable]
FREE = [name for name, (_, _, _, billable) in CALLS.items() if not billable]


# -- the wire format ------------------------------------------------------------------------


@pytest.mark.parametrize("name", CALLS)
def test_wire_method_path_headers_and_body(name: str) -> None:
    call, method, path, _ = CALLS[name]
    wire = Wire(httpx.Response(200, json=OK_ANSWERS[name]))
    client, _ = make_client(wire)
    call(client)
    [request] = wire.requests
    assert request.method == method
    assert str(request.url) == BASE + path
    assert path.endswith("/")
    assert request.headers["Authorization"] == f"Token {KEY}"
    assert request.headers["User-Agent"] == f"generect-excel/{__version__}"
    assert request.headers["Accept"] == "application/json"
    if method == "POST":
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == BODY
    else:
        assert request.content == b""
        assert "Content-Type" not in request.headers


def test_paths_are_the_six_documented_endpoints() -> None:
    assert {e.path for e in ENDPOINTS.values()} == {
        "/api/v1/search/database/leads/",
        "/api/v1/search/database/leads/count/",
        "/api/v1/search/realtime/leads/",
        "/api/v1/search/realtime/leads/count/",
        "/api/v1/accounts/me/",
        "/api/v1/accounts/transactions/",
    }


@pytest.mark.parametrize("given", [KEY, f"Token {KEY}", f"  token {KEY}\n", f"TOKEN {KEY}"])
def test_authorization_is_exactly_token_and_key_however_the_key_was_given(given: str) -> None:
    wire = Wire(httpx.Response(200, json=COUNT_OK))
    client, _ = make_client(wire, settings=make_settings(given))
    client.count("database", BODY)
    assert wire.requests[0].headers["Authorization"] == f"Token {KEY}"


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("database search", C.DATABASE_TIMEOUT),
        ("database count", C.DATABASE_TIMEOUT),
        ("realtime search", C.REALTIME_TIMEOUT),
        ("realtime count", C.REALTIME_TIMEOUT),
        ("account", C.ACCOUNT_TIMEOUT),
    ],
)
def test_per_endpoint_timeouts(name: str, read: float) -> None:
    call = CALLS[name][0]
    wire = Wire(httpx.Response(200, json=OK_ANSWERS[name]))
    client, _ = make_client(wire)
    call(client)
    timeout = wire.requests[0].extensions["timeout"]
    assert timeout == {
        "connect": C.CONNECT_TIMEOUT,
        "read": read,
        "write": read,
        "pool": C.CONNECT_TIMEOUT,
    }


def test_base_url_with_a_path_prefix_and_trailing_slash() -> None:
    wire = Wire(httpx.Response(200, json=COUNT_OK))
    client, _ = make_client(wire, settings=make_settings(base_url="http://127.0.0.1:8765/"))
    client.count("database", BODY)
    assert str(wire.requests[0].url) == "http://127.0.0.1:8765" + C.PATH_DATABASE_COUNT


def test_answers_are_typed() -> None:
    wire = Wire(
        httpx.Response(200, json=SEARCH_OK, headers={"X-Generect-Mode": "test"}),
        httpx.Response(200, json=COUNT_OK),
        httpx.Response(200, json=ACCOUNT_OK, headers={"x-generect-mode": "TEST"}),
    )
    client, _ = make_client(wire)
    found = client.search("database", BODY)
    assert isinstance(found, SearchResult)
    assert found.leads == SEARCH_OK["data"]["leads"]
    assert (found.results_count, found.amount_charged, found.test_mode) == (
        7,
        Decimal("0.04"),
        True,
    )
    counted = client.count("database", BODY)
    assert isinstance(counted, CountResult)
    assert (counted.results_count, counted.test_mode) == (1240, False)
    account = client.account()
    assert isinstance(account, Account)
    assert (account.balance, account.test_mode) == (Decimal("12.5"), True)


def test_mode_is_checked_before_any_request() -> None:
    wire = Wire(httpx.Response(200, json=COUNT_OK))
    client, _ = make_client(wire)
    with pytest.raises(CriteriaError, match="database' or 'realtime"):
        client.count("live", BODY)  # type: ignore[arg-type]
    assert client.count(" Realtime ", BODY).results_count == 1240  # type: ignore[arg-type]
    assert wire.requests[0].url.path == C.PATH_REALTIME_COUNT


@pytest.mark.parametrize("body", [{"limit_by": float("nan")}, {"job_titles": {"CEO"}}, ["CEO"]])
def test_a_body_that_is_not_json_is_refused_before_any_request(body: Any) -> None:
    wire = Wire(httpx.Response(200, json=COUNT_OK))
    client, _ = make_client(wire)
    with pytest.raises(CriteriaError):
        client.count("database", body)
    assert wire.requests == []


def test_a_missing_key_is_a_settings_error_before_any_io() -> None:
    wire = Wire(httpx.Response(200, json=COUNT_OK))
    with pytest.raises(SettingsError, match="GENERECT_API_KEY"):
        Client(make_settings(None), transport=httpx.MockTransport(wire))
    with pytest.raises(SettingsError):
        AsyncClient(make_settings("   "), transport=httpx.MockTransport(wire.handle_async))
    with pytest.raises(SettingsError):
        shared_client(make_settings("Token "))
    assert wire.requests == []


def test_context_managers_close_the_pool() -> None:
    wire = Wire(httpx.Response(200, json=COUNT_OK))
    with make_client(wire)[0] as client:
        client.count("database", BODY)
    assert client.is_closed

    async def main() -> AsyncClient:
        async with make_async_client(wire)[0] as aclient:
            await aclient.count("database", BODY)
        return aclient

    assert asyncio.run(main()).is_closed


# -- error statuses ------------------------------------------------------------------------

HEADCOUNT_400 = {"company_headcounts": ["Object with name=999 does not exist."]}

# A 429 is waited out for max_throttle_wait (10 minutes by default), not a count of retries:
# with no jitter, waits of 0.5, 1, 2, 4, then 74 of 8 s, a last one of 0.5 s to reach exactly
# 600 s, then the final 429.
THROTTLED_REQUESTS = 80

# status, detail, error class, requests seen with the default policy (1 = not retried)
STATUS_TABLE = [
    (400, HEADCOUNT_400, BadRequestError, 1),
    (400, "Field 'keywords' is only available on the realtime endpoint.", BadRequestError, 1),
    (400, "Insufficient funds in the account.", InsufficientFundsError, 1),
    (400, "Service is overloaded. Try again later.", BadRequestError, 5),
    (401, "Invalid token.", UnauthorizedError, 1),
    (402, "Insufficient funds in the account.", InsufficientFundsError, 1),
    (429, "Insufficient funds in the account. Try again later.", InsufficientFundsError, 1),
    (403, "You do not have permission to perform this action.", ForbiddenError, 1),
    (404, "Not found.", NotFoundError, 1),
    (405, "Method not allowed.", APIStatusError, 1),
    (409, None, APIStatusError, 1),
    (422, "Unprocessable.", APIStatusError, 1),
    (429, "Request was throttled.", RateLimitedError, THROTTLED_REQUESTS),
    (500, "Internal server error.", ServerError, 5),
    (501, "Not implemented.", ServerError, 1),
    (502, "Bad gateway.", ServerError, 5),
    (503, None, ServerError, 5),
    (504, "Gateway timeout.", ServerError, 5),
]


@pytest.mark.parametrize(("status", "detail", "cls", "requests"), STATUS_TABLE)
@pytest.mark.parametrize("name", ["database search", "realtime count", "account"])
def test_every_status_maps_to_its_error(
    name: str, status: int, detail: Any, cls: type[APIStatusError], requests: int
) -> None:
    call, _, path, _ = CALLS[name]
    wire = Wire(httpx.Response(status, json=envelope(status, detail)))
    client, sleeps = make_client(wire)
    with pytest.raises(APIStatusError) as info:
        call(client)
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.path == path
    assert error.detail == detail
    assert len(wire.requests) == requests
    assert len(sleeps) == requests - 1
    message = str(error)
    assert "\n" not in message and 0 < len(message) <= C.CELL_MESSAGE_MAX
    assert KEY not in message and KEY not in error.details


def test_a_400_field_map_renders_readably() -> None:
    wire = Wire(httpx.Response(400, json=envelope(400, HEADCOUNT_400)))
    client, _ = make_client(wire)
    with pytest.raises(BadRequestError) as info:
        client.search("database", BODY)
    assert "company_headcounts: Object with name=999 does not exist" in str(info.value)


@pytest.mark.parametrize(
    ("source", "where"),
    [("env", "GENERECT_API_KEY"), ("config", "config file"), ("keyring", "keyring")],
)
def test_401_mentions_the_token_prefix_and_where_the_key_came_from(source: str, where: str) -> None:
    wire = Wire(httpx.Response(401, json=envelope(401, "Invalid token.")))
    client, _ = make_client(wire, settings=make_settings(key_source=source))
    with pytest.raises(UnauthorizedError) as info:
        client.account()
    assert "Token " in str(info.value)
    assert where in str(info.value)


def test_an_answer_echoing_the_key_is_scrubbed() -> None:
    wire = Wire(httpx.Response(401, json=envelope(401, f"Invalid token {KEY}")))
    client, _ = make_client(wire)
    with pytest.raises(UnauthorizedError) as info:
        client.search("database", BODY)
    assert KEY not in str(info.value) and KEY not in info.value.details
    assert "[key]" in info.value.details


def test_an_error_envelope_under_200_is_believed() -> None:
    wire = Wire(httpx.Response(200, json=envelope(402, "Insufficient funds in the account.")))
    client, _ = make_client(wire)
    with pytest.raises(InsufficientFundsError):
        client.search("database", BODY)


def test_html_error_page_is_a_server_error_and_retried() -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    wire = Wire(
        httpx.Response(502, content=page, headers={"Content-Type": "text/html"}),
        httpx.Response(200, json=SEARCH_OK),
    )
    client, sleeps = make_client(wire)
    assert client.search("database", BODY).results_count == 7
    assert len(wire.requests) == 2 and sleeps == [0.5]


UNREADABLE_200 = [
    (b"<!DOCTYPE html><html><body>Cloudflare says hi</body></html>", "HTML"),
    (b'{"data": {"leads": [{"lead_id": "l1", "full_na', "JSON"),
    (b"", "empty"),
    (b"\xff\xfe\x00garbage", "JSON"),
    (json.dumps([1, 2]).encode(), "shape"),
    (json.dumps({"data": ["x"]}).encode(), "shape"),
]


@pytest.mark.parametrize(("content", "word"), UNREADABLE_200)
@pytest.mark.parametrize("name", ["database search", "database count"])
def test_unreadable_200_is_a_protocol_error_never_retried(
    name: str, content: bytes, word: str
) -> None:
    call, _, path, billable = CALLS[name]
    wire = Wire(httpx.Response(200, content=content))
    client, sleeps = make_client(wire)
    with pytest.raises(ProtocolError) as info:
        call(client)
    error = info.value
    assert word in str(error)
    assert ("may have been charged" in str(error)) is billable
    assert len(wire.requests) == 1 and sleeps == []
    assert error.path == path
    assert "\n" not in str(error) and len(str(error)) <= C.CELL_MESSAGE_MAX
    # The details carry the answer, never the request's headers.
    assert "Body: " in error.details
    assert KEY not in error.details and "Authorization" not in error.details


def test_redirects_are_not_followed() -> None:
    wire = Wire(httpx.Response(301, headers={"Location": "https://elsewhere.example/"}))
    client, _ = make_client(wire)
    with pytest.raises(ProtocolError, match="redirect"):
        client.search("database", BODY)
    assert len(wire.requests) == 1


# -- retries and backoff -------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_then_gives_up() -> None:
    wire = Wire(httpx.Response(503, json=envelope(503, "Unavailable")))
    client, sleeps = make_client(wire)
    with pytest.raises(ServerError):
        client.search("database", BODY)
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert len(wire.requests) == C.MAX_RETRIES + 1


def test_backoff_jitter_takes_off_up_to_a_quarter() -> None:
    wire = Wire(httpx.Response(503, json=envelope(503, "Unavailable")))
    client, sleeps = make_client(wire, random=lambda: 1.0)
    with pytest.raises(ServerError):
        client.count("realtime", BODY)
    assert sleeps == [0.375, 0.75, 1.5, 3.0]


def test_backoff_is_capped_at_max_delay() -> None:
    wire = Wire(httpx.Response(500, json=envelope(500, "boom")))
    client, sleeps = make_client(wire, policy=RetryPolicy(max_retries=7))
    with pytest.raises(ServerError):
        client.account()
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert max(sleeps) == C.MAX_RETRY_DELAY


def test_recovery_after_two_failures_returns_the_answer() -> None:
    wire = Wire(
        httpx.Response(502, json=envelope(502, "Bad gateway")),
        httpx.Response(429, json=envelope(429, "Request was throttled.")),
        httpx.Response(200, json=SEARCH_OK),
    )
    client, sleeps = make_client(wire)
    assert client.search("realtime", BODY).amount_charged == Decimal("0.04")
    # A 429 does not use up a 5xx retry: each has its own backoff.
    assert sleeps == [0.5, 0.5]
    # Every retry sends the very same request.
    assert len({(r.url, r.content) for r in wire.requests}) == 1


@pytest.mark.parametrize(
    ("headers", "first_delay"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "120"}, 0.5),  # beyond max_retry_after: not sane, back off instead
        ({"Retry-After": "soon"}, 0.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
        ({"Retry-After-Ms": "1500"}, 1.5),
    ],
)
def test_retry_after_is_honoured_when_sane(headers: dict[str, str], first_delay: float) -> None:
    wire = Wire(
        httpx.Response(429, json=envelope(429, "Request was throttled."), headers=headers),
        httpx.Response(200, json=COUNT_OK),
    )
    client, sleeps = make_client(wire)
    client.count("database", BODY)
    assert sleeps == [first_delay]


def test_retry_after_is_kept_on_the_final_error() -> None:
    wire = Wire(httpx.Response(429, json=envelope(429, "slow down"), headers={"Retry-After": "7"}))
    # 0.2 minutes: a first wait of 7 s, a second cut to the 5 s left, then the final 429.
    client, sleeps = make_client(wire, settings=make_settings(max_throttle_wait=0.2))
    with pytest.raises(RateLimitedError) as info:
        client.search("database", BODY)
    assert info.value.retry_after == 7.0
    assert sleeps == [7.0, 5.0]


def test_no_retries_with_a_zero_policy() -> None:
    wire = Wire(httpx.Response(503, json=envelope(503, "Unavailable")))
    client, sleeps = make_client(wire, policy=RetryPolicy(max_retries=0))
    with pytest.raises(ServerError):
        client.search("database", BODY)
    assert len(wire.requests) == 1 and sleeps == []


def test_retry_delay_is_a_pure_function() -> None:
    policy = RetryPolicy()
    assert [retry_delay(n, policy, None, lambda: 0.0) for n in range(6)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
    ]
    assert retry_delay(2, policy, None, lambda: 0.5) == 2.0 * 0.875
    assert retry_delay(10_000, policy, None, lambda: 0.0) == 8.0  # no overflow
    assert retry_delay(0, policy, 30.0, lambda: 0.0) == 30.0
    assert retry_delay(0, policy, 61.0, lambda: 0.0) == 0.5
    assert retry_delay(0, policy, -1.0, lambda: 0.0) == 0.5
    custom = RetryPolicy(initial_delay=1.0, max_delay=3.0)
    assert [retry_delay(n, custom, None, lambda: 0.0) for n in range(4)] == [1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_parse_retry_after() -> None:
    from datetime import UTC, datetime

    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None
    assert parse_retry_after("2", retry_after_ms="250") == 0.25
    assert parse_retry_after("2", retry_after_ms="x") == 2.0


# -- connection failures: before sending, or after --------------------------------------------


@pytest.mark.parametrize("exc_type", NOT_SENT)
@pytest.mark.parametrize("name", CALLS)
def test_failures_before_sending_are_retried(name: str, exc_type: type[Exception]) -> None:
    call, _, path, _ = CALLS[name]
    wire = Wire(
        lambda r: exc_type("nope", request=r),
        lambda r: exc_type("nope", request=r),
        httpx.Response(200, json=OK_ANSWERS[name]),
    )
    client, sleeps = make_client(wire)
    call(client)
    assert len(wire.requests) == 3 and sleeps == [0.5, 1.0]

    wire = Wire(lambda r: exc_type("nope", request=r))
    client, sleeps = make_client(wire)
    with pytest.raises(ConnectionFailedError) as info:
        call(client)
    assert len(wire.requests) == C.MAX_RETRIES + 1
    assert info.value.path == path
    assert isinstance(info.value.__cause__, exc_type)


@pytest.mark.parametrize("exc_type", AMBIGUOUS)
@pytest.mark.parametrize("name", BILLABLE)
def test_a_billable_call_is_never_retried_once_sent(name: str, exc_type: type[Exception]) -> None:
    call, _, path, _ = CALLS[name]
    wire = Wire(lambda r: exc_type("lost", request=r), httpx.Response(200, json=OK_ANSWERS[name]))
    client, sleeps = make_client(wire)
    with pytest.raises(OutcomeUnknownError) as info:
        call(client)
    assert len(wire.requests) == 1  # exactly one: the answer that came next was never asked for
    assert sleeps == []
    assert info.value.path == path
    assert "charged" in str(info.value)
    assert len(str(info.value)) <= C.CELL_MESSAGE_MAX


@pytest.mark.parametrize("exc_type", AMBIGUOUS)
@pytest.mark.parametrize("name", FREE)
def test_a_free_call_is_retried_after_a_lost_answer(name: str, exc_type: type[Exception]) -> None:
    call = CALLS[name][0]
    wire = Wire(lambda r: exc_type("lost", request=r), httpx.Response(200, json=OK_ANSWERS[name]))
    client, sleeps = make_client(wire)
    call(client)
    assert len(wire.requests) == 2 and sleeps == [0.5]

    wire = Wire(lambda r: exc_type("lost", request=r))
    client, _ = make_client(wire)
    with pytest.raises(ConnectionFailedError, match="nothing charged"):
        call(client)
    assert len(wire.requests) == C.MAX_RETRIES + 1


def _every_httpx_exception() -> list[type[Exception]]:
    return sorted(
        (
            obj
            for obj in vars(httpx).values()
            if isinstance(obj, type) and issubclass(obj, Exception)
        ),
        key=lambda cls: cls.__name__,
    )


def _instance(cls: type[Exception], request: httpx.Request) -> Exception:
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("boom", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.RequestError):
        return cls("boom", request=request)
    if cls in (
        httpx.RequestNotRead,
        httpx.ResponseNotRead,
        httpx.StreamClosed,
        httpx.StreamConsumed,
    ):
        return cls()
    return cls("boom")


def test_the_exception_table_covers_httpx() -> None:
    assert len(_every_httpx_exception()) >= 27


@pytest.mark.parametrize("exc_type", _every_httpx_exception(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ["realtime search", "database count"])
def test_every_httpx_exception_maps_to_ours(name: str, exc_type: type[Exception]) -> None:
    call, _, path, billable = CALLS[name]
    wire = Wire(lambda r: _instance(exc_type, r))
    client, _ = make_client(wire)
    with pytest.raises(GenerectError) as info:
        call(client)
    error = info.value
    assert isinstance(error, APIError)
    assert isinstance(error.__cause__, exc_type)
    assert error.path == path
    assert "\n" not in str(error) and 0 < len(str(error)) <= C.CELL_MESSAGE_MAX
    if issubclass(exc_type, NOT_SENT):
        assert type(error) is ConnectionFailedError
        assert len(wire.requests) == C.MAX_RETRIES + 1
    elif billable:
        # Sent or maybe sent: at most one request for a billable call.
        assert len(wire.requests) == 1
        if issubclass(exc_type, AMBIGUOUS):
            assert type(error) is OutcomeUnknownError


# -- real sockets on 127.0.0.1 --------------------------------------------------------------


class RawServer:
    """A one-trick HTTP server on 127.0.0.1: reads each request, sends ``reply``, closes."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # so that close() is noticed promptly
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests += 1
                conn.sendall(self.reply)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def truncating_server() -> Iterator[RawServer]:
    body = json.dumps(SEARCH_OK).encode()
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:20]  # the connection drops mid-body
    )
    server = RawServer(reply)
    yield server
    server.close()


def test_a_body_cut_short_on_a_billable_call_is_outcome_unknown(
    truncating_server: RawServer,
) -> None:
    settings = make_settings(base_url=f"http://127.0.0.1:{truncating_server.port}")
    sleeps = Sleeps()
    with Client(settings, sleep=sleeps) as client, pytest.raises(OutcomeUnknownError) as info:
        client.search("database", BODY)
    assert truncating_server.requests == 1
    assert sleeps == []
    assert info.value.path == C.PATH_DATABASE_SEARCH


def test_a_body_cut_short_on_a_free_call_is_retried(truncating_server: RawServer) -> None:
    settings = make_settings(base_url=f"http://127.0.0.1:{truncating_server.port}")
    sleeps = Sleeps()
    with (
        Client(settings, sleep=sleeps, random=lambda: 0.0) as client,
        pytest.raises(ConnectionFailedError),
    ):
        client.count("database", BODY)
    assert truncating_server.requests == C.MAX_RETRIES + 1
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_a_refused_connection_is_retried_then_reported() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    sleeps = Sleeps()
    settings = make_settings(base_url=f"http://127.0.0.1:{port}")
    with (
        Client(settings, sleep=sleeps, random=lambda: 0.0) as client,
        pytest.raises(ConnectionFailedError) as info,
    ):
        client.search("realtime", BODY)
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    # The server it tried (issue 11: with the sandbox stopped, its URL is the clue).
    assert str(info.value) == (
        f"Cannot reach Generect at http://127.0.0.1:{port}. Check the network or "
        "GENERECT_BASE_URL, then retry."
    )


def test_a_real_round_trip_over_a_socket() -> None:
    body = json.dumps(COUNT_OK).encode()
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    server = RawServer(reply)
    try:
        with Client(make_settings(base_url=f"http://127.0.0.1:{server.port}")) as client:
            assert client.count("database", BODY).results_count == 1240
            assert client.count("database", BODY).results_count == 1240
    finally:
        server.close()
    assert server.requests == 2


# -- the parallel cap ----------------------------------------------------------------------


def test_the_sync_client_caps_requests_in_flight() -> None:
    cap = 3
    state = {"now": 0, "max": 0}
    cond = threading.Condition()
    release = threading.Event()

    def blocking(request: httpx.Request) -> httpx.Response:
        with cond:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            cond.notify_all()
        release.wait(10)
        with cond:
            state["now"] -= 1
        return httpx.Response(200, json=COUNT_OK)

    client, _ = make_client(Wire(blocking), settings=make_settings(max_parallel=cap))
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.count("database", BODY)))
        for _ in range(cap * 4)
    ]
    for thread in threads:
        thread.start()
    with cond:
        assert cond.wait_for(lambda: state["now"] == cap, timeout=10)
        # Give the other threads a window to get past the cap, were it broken.
        assert not cond.wait_for(lambda: state["now"] > cap, timeout=0.3)
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(results) == cap * 4
    assert state["max"] == cap


def test_the_async_client_caps_requests_in_flight() -> None:
    cap = 2
    state = {"now": 0, "max": 0}

    async def main() -> tuple[int, list[Any]]:
        release = asyncio.Event()

        async def blocking(request: httpx.Request) -> httpx.Response:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            await release.wait()
            state["now"] -= 1
            return httpx.Response(200, json=COUNT_OK)

        client = AsyncClient(
            make_settings(max_parallel=cap), transport=httpx.MockTransport(blocking)
        )
        async with client:
            tasks = [asyncio.create_task(client.count("database", BODY)) for _ in range(cap * 5)]
            for _ in range(50):  # let every task run as far as it can
                await asyncio.sleep(0)
            in_flight = state["now"]
            release.set()
            return in_flight, await asyncio.gather(*tasks)

    in_flight, results = asyncio.run(main())
    assert in_flight == cap
    assert state["max"] == cap
    assert len(results) == cap * 5


# -- the async client ----------------------------------------------------------------------


@pytest.mark.parametrize("name", CALLS)
def test_async_wire_format(name: str) -> None:
    call, method, path, _ = CALLS[name]
    wire = Wire(httpx.Response(200, json=OK_ANSWERS[name], headers={"X-Generect-Mode": "test"}))

    async def main() -> Any:
        client, _ = make_async_client(wire)
        async with client:
            return await call(client)

    result = asyncio.run(main())
    assert result.test_mode is True
    [request] = wire.requests
    assert (request.method, request.url.path) == (method, path)
    assert request.headers["Authorization"] == f"Token {KEY}"
    if method == "POST":
        assert json.loads(request.content) == BODY


def test_async_retries_with_backoff() -> None:
    wire = Wire(
        httpx.Response(503, json=envelope(503, "Unavailable")),
        lambda r: httpx.ConnectError("refused", request=r),
        httpx.Response(200, json=SEARCH_OK),
    )

    async def main() -> tuple[SearchResult, Sleeps]:
        client, sleeps = make_async_client(wire)
        async with client:
            return await client.search("database", BODY), sleeps

    result, sleeps = asyncio.run(main())
    assert result.results_count == 7
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize("exc_type", AMBIGUOUS)
def test_async_billable_call_is_never_retried_once_sent(exc_type: type[Exception]) -> None:
    wire = Wire(lambda r: exc_type("lost", request=r), httpx.Response(200, json=SEARCH_OK))

    async def main() -> None:
        client, _ = make_async_client(wire)
        async with client:
            await client.search("realtime", BODY)

    with pytest.raises(OutcomeUnknownError):
        asyncio.run(main())
    assert len(wire.requests) == 1


@pytest.mark.parametrize(("status", "detail", "cls", "requests"), STATUS_TABLE)
def test_async_status_mapping(
    status: int, detail: Any, cls: type[APIStatusError], requests: int
) -> None:
    wire = Wire(httpx.Response(status, json=envelope(status, detail)))

    async def main() -> None:
        client, _ = make_async_client(wire)
        async with client:
            await client.count("realtime", BODY)

    with pytest.raises(APIStatusError) as info:
        asyncio.run(main())
    assert type(info.value) is cls
    assert len(wire.requests) == requests


# -- one pooled client per process -----------------------------------------------------------


def test_shared_client_is_one_per_base_url_and_key() -> None:
    first = shared_client(make_settings())
    assert shared_client(make_settings(f"Token {KEY}", key_source="config")) is first
    assert shared_client(make_settings("another_key")) is not first
    assert shared_client(make_settings(base_url="http://127.0.0.1:9")) is not first
    first.close()
    replacement = shared_client(make_settings())
    assert replacement is not first and not replacement.is_closed


def test_shared_client_is_thread_safe() -> None:
    seen: list[Client] = []
    barrier = threading.Barrier(16)

    def grab() -> None:
        barrier.wait(10)
        seen.append(shared_client(make_settings()))

    threads = [threading.Thread(target=grab) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(seen) == 16 and len({id(c) for c in seen}) == 1


# -- the key never shows -------------------------------------------------------------------


def test_the_key_is_absent_from_reprs() -> None:
    settings = make_settings()
    client, _ = make_client(Wire(httpx.Response(200, json=COUNT_OK)), settings=settings)
    aclient, _ = make_async_client(Wire(httpx.Response(200, json=COUNT_OK)))
    for text in (repr(client), str(client), repr(settings), str(settings), repr(aclient)):
        assert KEY not in text
    assert settings.account in repr(client)


def test_the_key_is_absent_from_every_message_and_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    scripts: list[Any] = [
        httpx.Response(status, json=envelope(status, detail)) for status, detail, *_ in STATUS_TABLE
    ]
    scripts += [httpx.Response(401, json=envelope(401, f"Bad token {KEY}"))]
    scripts += [httpx.Response(200, content=content) for content, _ in UNREADABLE_200]
    scripts += [lambda r, t=t: _instance(t, r) for t in _every_httpx_exception()]
    errors: list[GenerectError] = []
    for item in scripts:
        for name in ("database search", "database count"):
            client, _ = make_client(Wire(item), settings=make_settings(max_parallel=2))
            with pytest.raises(GenerectError) as info:
                CALLS[name][0](client)
            errors.append(info.value)
    assert len(errors) == 2 * len(scripts)
    for error in errors:
        for text in (str(error), repr(error), error.details, str(error.args)):
            assert KEY not in text
    assert any(r.name == "generect_excel.client" for r in caplog.records)
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in logging.Formatter().format(record)
    assert KEY not in caplog.text


def test_retries_are_logged_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="generect_excel.client")
    wire = Wire(httpx.Response(503, json=envelope(503, "x")), httpx.Response(200, json=COUNT_OK))
    client, _ = make_client(wire)
    client.count("database", BODY)
    [record] = [r for r in caplog.records if r.name == "generect_excel.client"]
    assert record.levelno == logging.INFO
    assert C.PATH_DATABASE_COUNT in record.getMessage()
    assert "HTTP 503" in record.getMessage()
    assert "retry 1 of 4" in record.getMessage()
    assert KEY not in record.getMessage()


# -- against the sandbox, over real HTTP -----------------------------------------------------

DB_BODY = {"job_titles": ["Engineer", "Manager", "Director"], "limit_by": 3}


def sandbox_client(sandbox: Any, key: str = KEY, **kw: Any) -> tuple[Client, Sleeps]:
    sleeps = Sleeps()
    kw.setdefault("random", lambda: 0.0)
    settings = make_settings(key, base_url=sandbox.url, max_parallel=kw.pop("max_parallel", 4))
    return Client(settings, sleep=sleeps, **kw), sleeps


def paths_seen(sandbox: Any) -> list[str]:
    return [entry["path"] for entry in sandbox.log_entries()]


def test_sandbox_round_trip_of_every_endpoint(sandbox: Any) -> None:
    client, sleeps = sandbox_client(sandbox)
    with client:
        before = client.account().balance
        counted = client.count("database", DB_BODY)
        found = client.search("database", DB_BODY)
        realtime = client.count("realtime", DB_BODY)
        found_rt = client.search("realtime", {**DB_BODY, "limit_by": 2})
        after = client.account()
    assert isinstance(counted.results_count, int) and counted.results_count >= 3
    assert counted.amount_charged == 0
    assert len(found.leads) == 3 and all(isinstance(lead, dict) for lead in found.leads)
    assert len(found_rt.leads) <= 2
    charged = found.amount_charged + realtime.amount_charged + found_rt.amount_charged
    assert found.amount_charged > 0 and realtime.amount_charged > 0
    assert before is not None and after.balance == before - charged  # exact Decimal arithmetic
    assert not (found.test_mode or after.test_mode)
    assert paths_seen(sandbox) == [
        C.PATH_ACCOUNT,
        C.PATH_DATABASE_COUNT,
        C.PATH_DATABASE_SEARCH,
        C.PATH_REALTIME_COUNT,
        C.PATH_REALTIME_SEARCH,
        C.PATH_ACCOUNT,
    ]
    assert [e["body"] for e in sandbox.log_entries()][1:3] == [DB_BODY, DB_BODY]
    assert len(sandbox.billable_calls()) == 3
    assert sleeps == []


def test_sandbox_test_mode_key_is_detected_and_not_debited(sandbox: Any) -> None:
    client, _ = sandbox_client(sandbox, "Token test_client_demo")
    with client:
        found = client.search("database", DB_BODY)
        account = client.account()
    assert found.test_mode and account.test_mode
    assert found.amount_charged > 0  # the real price is reported...
    assert sandbox.balance("test_client_demo") == account.balance  # ...but nothing debited


def test_sandbox_validation_400_is_readable(sandbox: Any) -> None:
    client, _ = sandbox_client(sandbox)
    with client, pytest.raises(BadRequestError) as info:
        client.search("database", {**DB_BODY, "company_headcounts": ["999"]})
    assert "company_headcounts: Object with name=999 does not exist" in str(info.value)
    assert sandbox.billable_calls() == []


def test_sandbox_bad_key_is_unauthorized(sandbox: Any) -> None:
    client, _ = sandbox_client(sandbox, "invalid_key_123")
    with client, pytest.raises(UnauthorizedError) as info:
        client.account()
    assert "Token" in str(info.value) and "invalid_key_123" not in str(info.value)


def test_sandbox_insufficient_funds(sandbox: Any) -> None:
    client, _ = sandbox_client(sandbox)
    sandbox.queue_faults(["insufficient_funds"])
    with client, pytest.raises(InsufficientFundsError):
        client.search("database", DB_BODY)
    assert len(sandbox.log_entries()) == 1


def test_sandbox_throttling_and_upstream_errors_are_retried_and_paid_once(sandbox: Any) -> None:
    client, sleeps = sandbox_client(sandbox)
    sandbox.queue_faults(["rate_limited", "upstream_error", "html_error"])
    with client:
        found = client.search("realtime", DB_BODY)
    assert len(found.leads) <= 3
    assert [e["status"] for e in sandbox.log_entries()] == [429, 502, 502, 200]
    assert len(sandbox.billable_calls()) == 1
    assert sleeps == [0.5, 0.5, 1.0]  # the 429's wait, then the two 5xx retries' backoff


def test_sandbox_dropped_answer_on_a_billable_call_is_not_resent(sandbox: Any) -> None:
    client, sleeps = sandbox_client(sandbox)
    sandbox.queue_faults(["drop"])
    with client, pytest.raises(OutcomeUnknownError) as info:
        client.search("database", DB_BODY)
    assert paths_seen(sandbox) == [C.PATH_DATABASE_SEARCH]  # exactly one request
    assert sleeps == []
    assert info.value.path == C.PATH_DATABASE_SEARCH


def test_sandbox_dropped_answer_on_a_free_count_is_asked_again(sandbox: Any) -> None:
    client, sleeps = sandbox_client(sandbox)
    sandbox.queue_faults(["drop"])
    with client:
        counted = client.count("database", DB_BODY)
    assert isinstance(counted.results_count, int)
    assert paths_seen(sandbox) == [C.PATH_DATABASE_COUNT, C.PATH_DATABASE_COUNT]
    assert sleeps == [0.5]


def test_sandbox_malformed_json_is_a_protocol_error(sandbox: Any) -> None:
    client, _ = sandbox_client(sandbox)
    sandbox.queue_faults(["malformed_json"])
    with client, pytest.raises(ProtocolError) as info:
        client.count("realtime", DB_BODY)
    assert "may have been charged" in str(info.value)
    assert len(sandbox.log_entries()) == 1


def test_async_client_within_the_servers_parallel_cap(sandbox_factory: Any) -> None:
    server = sandbox_factory(max_parallel=2, realtime_latency=0.05)
    settings = make_settings(base_url=server.url, max_parallel=2)

    async def main() -> list[CountResult]:
        async with AsyncClient(settings, sleep=Sleeps().async_sleep) as client:
            return await asyncio.gather(*(client.count("realtime", DB_BODY) for _ in range(8)))

    results = asyncio.run(main())
    assert len(results) == 8
    # The client never had more in flight than the server allows: not a single 429.
    assert [e["status"] for e in server.log_entries()] == [200] * 8


def test_sandbox_logs_never_carry_the_key(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    client, _ = sandbox_client(sandbox)
    sandbox.queue_faults(["rate_limited"], path=C.PATH_DATABASE_COUNT)
    sandbox.queue_faults(["drop"], path=C.PATH_DATABASE_SEARCH)
    with client:
        client.count("database", DB_BODY)
        with pytest.raises(OutcomeUnknownError):
            client.search("database", DB_BODY)
        client.account()
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage()


@pytest.mark.parametrize(
    ("kind", "mode", "answer", "charged"),
    [
        ("search", "database", httpx.Response(200, content=b'{"data": {"leads": ['), True),
        ("search", "realtime", httpx.Response(200, content=b"<html>ok</html>"), True),
        ("count", "realtime", httpx.Response(200, json={"data": []}), True),
        ("count", "database", httpx.Response(200, content=b"{broken"), False),
        ("search", "database", httpx.Response(302, headers={"Location": "https://x/"}), False),
    ],
)
def test_unreadable_answers_say_whether_they_may_have_cost_money(kind, mode, answer, charged):
    """The engine never re-sends a call whose ProtocolError says it may have been charged."""
    client, _ = make_client(Wire(answer))
    call = client.search if kind == "search" else client.count
    with pytest.raises(ProtocolError) as info:
        call(mode, {"job_titles": ["CEO"]})
    assert info.value.may_be_charged is charged
