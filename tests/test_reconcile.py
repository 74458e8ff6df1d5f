"""Settling lost answers against Generect's billing history (issue 10, part 2).

Against the sandbox over HTTP: a lost answer the sandbox charged is settled at the sandbox's
own amount, one it never charged as not charged, a charge the ledger lacks is reported, a second
run settles nothing twice, and the ledger keeps its rows. The billing history's trap (a filter
Generect cannot read is dropped, still 200) is met on the wire with ``httpx.MockTransport``.
The pure matching rules (ambiguity, pending charges) on records built here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import conforming_client
from generect_excel import _constants as C
from generect_excel.cli import main
from generect_excel.client import Client, close_shared_clients
from generect_excel.criteria import criteria_from_kwargs
from generect_excel.engine import Engine
from generect_excel.errors import BudgetError, OutcomeUnknownError, ProtocolError
from generect_excel.ledger import LedgerEntry, Origin
from generect_excel.reconcile import match, reconcile
from generect_excel.responses import BillingHistory, Transaction
from generect_excel.settings import Settings, load_settings

KEY = "live_SECRET_reconcile_5e7d"
LATER = timedelta(seconds=C.RECONCILE_QUIET_SECONDS + 60)  # every window has ended by then


def make_settings(base_url: str, home: Path, key: str = KEY, **overrides: Any) -> Settings:
    return load_settings(
        environ={},
        config_file=home / "absent.toml",
        use_keyring=False,
        api_key=key,
        base_url=base_url,
        home=home,
        **overrides,
    )


@pytest.fixture
def settings(sandbox: Any, tmp_path: Path) -> Settings:
    return make_settings(sandbox.url, tmp_path / "home")


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    with Client(settings) as client:
        yield client


@pytest.fixture
def engine(settings: Settings, client: Client) -> Engine:
    return Engine(settings, client=client)


def interns(limit: int = 10, offset: int = 46) -> Any:
    """49 leads match, so this page holds 3 rows: charged $0.06, estimated at $0.20."""
    return criteria_from_kwargs(
        "database",
        seniorities=["intern"],
        company_headcounts=["10 000+"],
        limit_by=limit,
        offset_by=offset,
    )


def lose(engine: Engine, sandbox: Any, fault: str, request: Any) -> None:
    """Send ``request`` through the engine with ``fault`` on its answer: an unknown outcome."""
    sandbox.queue_faults([fault])
    with pytest.raises(OutcomeUnknownError):
        engine.search(request)


def debited(sandbox: Any) -> Decimal:
    return sum((Decimal(str(e["debited"] or 0)) for e in sandbox.log_entries()), Decimal(0))


# --------------------------------------------------------------------------- over HTTP
def test_a_lost_answer_the_sandbox_charged_is_settled_at_its_real_amount(
    sandbox: Any, engine: Engine, client: Client, settings: Settings
) -> None:
    engine.search(criteria_from_kwargs("database", seniorities=["director"], limit_by=2))
    lose(engine, sandbox, "charged_drop", interns())
    [lost] = [e for e in engine.charges() if e.unknown_outcome]
    assert lost.amount_charged == Decimal("0.20")  # the worst case: 10 rows
    assert engine.spend("today") == Decimal("0.04") + Decimal("0.20")
    charged = sandbox.transactions(KEY)[0]  # newest first: the lost call's
    assert charged.credits == Decimal("-0.06") and debited(sandbox) == Decimal("0.10")

    result = reconcile(engine.store, client, settings)

    [settled] = result.settled
    assert settled.entry.charge_id == lost.charge_id
    assert (settled.settlement.amount, settled.settlement.transaction_id) == (
        Decimal("0.06"),
        charged.id,
    )
    assert result.matched == 1 and not result.unresolved
    assert not result.missing_from_ledger and not result.missing_from_account
    assert result.account_total == result.ledger_total == debited(sandbox)
    # The totals and the daily cap now count what the sandbox really charged.
    assert engine.spend("today") == debited(sandbox) == Decimal("0.10")
    assert engine.estimated("today") == (Decimal(0), 0)
    # The ledger keeps the original row as written, the settlement beside it.
    rows = engine.charges()
    assert [(r.amount_charged, r.unknown_outcome) for r in rows] == [
        (Decimal("0.04"), False),
        (Decimal("0.20"), True),
    ]
    assert rows[1].settlement is not None and rows[1].counted_amount == Decimal("0.06")


def test_a_lost_answer_never_charged_is_settled_as_not_charged_once_its_window_ends(
    sandbox: Any, engine: Engine, client: Client, settings: Settings
) -> None:
    lose(engine, sandbox, "drop", interns())  # the sandbox's drop charges nothing
    assert sandbox.transactions(KEY) == [] and engine.spend("today") == Decimal("0.20")

    early = reconcile(engine.store, client, settings)  # a charge could still appear
    assert not early.settled and "too recent" in early.unresolved[0].reason
    assert engine.spend("today") == Decimal("0.20")

    now = datetime.now(UTC) + LATER
    result = reconcile(engine.store, client, settings, until=now, now=now)
    [settled] = result.settled
    assert (settled.settlement.amount, settled.settlement.transaction_id) == (Decimal(0), None)
    assert engine.spend("all") == Decimal(0) and engine.estimated("all") == (Decimal(0), 0)
    assert result.account_total == result.ledger_total == Decimal(0)
    [row] = engine.charges()
    assert row.unknown_outcome and row.amount_charged == Decimal("0.20")


def test_the_daily_cap_counts_a_settled_row_at_its_settled_amount(
    sandbox: Any, tmp_path: Path, client: Client
) -> None:
    settings = make_settings(sandbox.url, tmp_path / "home", max_spend_per_day=Decimal("0.25"))
    engine = Engine(settings, client=client)
    lose(engine, sandbox, "drop", interns())  # $0.20 held against today's $0.25
    with pytest.raises(BudgetError, match="GENERECT_MAX_SPEND_PER_DAY"):
        engine.search(interns(limit=4, offset=0))  # $0.08 more would pass it
    assert len(sandbox.log_entries()) == 1  # the lost call only
    now = datetime.now(UTC) + LATER
    reconcile(engine.store, client, settings, until=now, now=now)  # not charged after all
    assert engine.search(interns(limit=4, offset=0)).result.amount_charged == Decimal("0.08")
    assert len(sandbox.billable_calls()) == 1


def test_a_pending_charge_keeps_a_lost_answer_unknown(
    sandbox: Any, engine: Engine, client: Client, settings: Settings
) -> None:
    lose(engine, sandbox, "drop", interns())
    sandbox.add_transaction(KEY, "-0.06", operation="search_database_leads", status="pending")
    now = datetime.now(UTC) + LATER
    result = reconcile(engine.store, client, settings, until=now, now=now)
    assert not result.settled and "pending" in result.unresolved[0].reason


def test_a_charge_the_ledger_lacks_is_reported_with_its_amount(
    sandbox: Any, engine: Engine, client: Client, settings: Settings
) -> None:
    engine.search(interns())  # in the ledger: $0.06
    with conforming_client(sandbox.url, KEY) as other:  # another program, the same key
        other.post(C.PATH_REALTIME_COUNT, json={"job_titles": ["CTO"]}).raise_for_status()  # $0.04
    result = reconcile(engine.store, client, settings)
    [extra] = result.missing_from_ledger
    assert (extra.charge, extra.operation) == (Decimal("0.04"), "count_realtime_leads")
    assert result.matched == 1 and not result.missing_from_account
    assert (result.account_total, result.ledger_total) == (Decimal("0.10"), Decimal("0.06"))
    assert result.difference == Decimal("0.04")


def test_a_ledger_row_the_account_lacks_is_reported(
    sandbox: Any, engine: Engine, client: Client, settings: Settings
) -> None:
    engine.search(interns())
    sandbox.reset()  # the account forgets its history: the ledger's charge has no record
    result = reconcile(engine.store, client, settings)
    [absent] = result.missing_from_account
    assert absent.amount_charged == Decimal("0.06") and result.matched == 0


def test_reconcile_twice_settles_nothing_twice(
    sandbox: Any, engine: Engine, client: Client, settings: Settings
) -> None:
    lose(engine, sandbox, "charged_drop", interns())
    lose(engine, sandbox, "drop", interns(limit=2, offset=0))  # at most $0.04: not the $0.06
    now = datetime.now(UTC) + LATER
    first = reconcile(engine.store, client, settings, until=now, now=now)
    assert sorted(s.settlement.amount for s in first.settled) == [Decimal(0), Decimal("0.06")]
    rows_before = engine.charges()
    second = reconcile(engine.store, client, settings, until=now, now=now)
    assert second.settled == [] and second.already_settled == 2
    assert not second.missing_from_ledger and not second.unresolved
    assert engine.charges() == rows_before
    assert engine.spend("all") == Decimal("0.06") == second.ledger_total == second.account_total
    with engine.store._transaction("test", write=False) as conn:
        assert conn.execute("SELECT COUNT(*) FROM settlements").fetchone()[0] == 2


def test_the_cli_settles_reports_and_spend_shows_it(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    monkeypatch.setenv("GENERECT_API_KEY", KEY)
    criteria = tmp_path / "interns.toml"
    criteria.write_text('seniorities = ["Intern"]\ncompany_headcounts = ["10 000+"]\n')
    try:
        sandbox.queue_faults(["charged_drop"])
        assert main(["search", str(criteria), "--limit", "10", "--offset", "46"]) == 1
        with conforming_client(sandbox.url, KEY) as other:
            other.post(C.PATH_REALTIME_COUNT, json={"job_titles": ["CTO"]}).raise_for_status()
        capsys.readouterr()
        assert main(["reconcile"]) == 0
        out = capsys.readouterr().out
        assert "Settled 1 lost answer(s)" in out
        assert "estimated $0.20 -> charged $0.06" in out
        assert "Charges the ledger lacks: 1 ($0.04)" in out
        assert "Generect charged $0.10; the ledger counts $0.06" in out
        assert main(["reconcile"]) == 0
        out = capsys.readouterr().out
        assert "No lost answer to settle." in out and "1 lost answer(s) settled before" in out
        assert main(["spend"]) == 0
        out = capsys.readouterr().out
        assert "$0.06 settled: charged (est. $0.20)" in out
        assert "Charged today $0.06" in out and "estimated" not in out.split("\n")[-2]
    finally:
        close_shared_clients()


# --------------------------------------------------------------------------- the sandbox
def test_the_sandbox_serves_its_billing_history_with_the_spec_filters(sandbox: Any) -> None:
    now = datetime.now(UTC)
    for minutes, credits, status in (
        (30, "-1", "success"),
        (20, "-2", "error"),
        (10, "5", "success"),
    ):
        sandbox.add_transaction(KEY, credits, status=status, time=now - timedelta(minutes=minutes))
    path = C.PATH_TRANSACTIONS
    with conforming_client(sandbox.url, KEY) as http:  # every answer checked against the spec

        def credits(**query: Any) -> list[float]:
            data = http.get(path, params=query).json()["data"]["transactions"]
            return [t["credits"] for t in data]

        assert credits() == [5, -2, -1]  # newest first
        assert credits(status="success") == [5, -1]
        assert credits(amount__lte=-1) == [-2, -1]
        assert credits(credits__gt=0) == [5]
        since = (now - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert credits(created_at__gte=since) == [5, -2]
        assert credits(limit=1, offset=1) == [-2]
        # The trap, as Generect has it: what it cannot read is dropped, and it still answers.
        assert credits(status="succes") == [5, -2, -1]
        assert credits(created_at_gte=since) == [5, -2, -1]
        assert credits(created_at__gte="last tuesday", status="success") == [5, -1]
        assert http.get(path).status_code == 200


def test_a_charged_drop_is_billed_in_the_log_and_the_history(sandbox: Any, client: Client) -> None:
    sandbox.queue_faults(["charged_drop"])
    with pytest.raises(OutcomeUnknownError):
        client.search("database", {"seniorities": ["intern"], "limit_by": 2})
    [entry] = sandbox.billable_calls()
    assert (entry["fault"], entry["debited"]) == ("charged_drop", 0.04)
    assert [t.credits for t in client.transactions().transactions] == [Decimal("-0.04")]


# --------------------------------------------------------------------------- the wire
def _record(n: int, when: datetime, status: str = "success") -> dict[str, Any]:
    return {
        "id": f"txn_{n}",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "type": "search_database_leads",
        "credits": -0.02 * n,
        "details": {"balance_type": "platform", "status": status},
    }


def _mock_client(tmp_path: Path, handler: Any) -> Client:
    settings = make_settings("https://generect.invalid", tmp_path / "home")
    return Client(settings, transport=httpx.MockTransport(handler), sleep=lambda _: None)


def test_records_outside_the_filters_asked_are_left_out_and_counted(tmp_path: Path) -> None:
    """A server that drops every filter (the trap): the client keeps only what it asked."""
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    history = [
        _record(1, now - timedelta(days=3)),  # before the period
        _record(2, now - timedelta(hours=1)),
        _record(3, now - timedelta(minutes=30), status="pending"),
        _record(4, now - timedelta(minutes=5), status="error"),
        _record(5, now + timedelta(days=1)),  # after it
        _record(6, now - timedelta(minutes=1)),
    ]
    asked: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        asked.append(query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = sorted(history, key=lambda r: r["timestamp"], reverse=True)[offset : offset + limit]
        return httpx.Response(200, json={"data": {"transactions": page}})

    with _mock_client(tmp_path, handler) as client:
        got = client.transactions(now - timedelta(days=1), now)
    assert [t.id for t in got.transactions] == ["txn_6", "txn_2"]
    assert got.ignored == 4
    # The filters went out spelled as the spec spells them.
    assert asked[0]["status"] == ["success"]
    assert asked[0]["created_at__gte"] == ["2026-11-19T12:00:00.000000Z"]
    assert asked[0]["created_at__lte"] == ["2026-11-20T12:00:00.000000Z"]


def test_every_page_is_read_and_a_record_seen_twice_is_kept_once(tmp_path: Path) -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    history = [_record(n, now - timedelta(minutes=n)) for n in range(1, 251)]
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        calls.append(offset)
        # A charge landing between pages shifts the list by one: page 2 repeats a record.
        start = offset - 1 if offset else 0
        return httpx.Response(200, json={"data": {"transactions": history[start : start + limit]}})

    with _mock_client(tmp_path, handler) as client:
        got = client.transactions()
    assert len(got.transactions) == 250 == len({t.id for t in got.transactions})
    assert calls[:2] == [0, C.TRANSACTIONS_PAGE_SIZE]


def test_the_async_client_reads_the_same_history(tmp_path: Path) -> None:
    import asyncio

    from generect_excel.client import AsyncClient

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    history = [_record(1, now), _record(2, now, status="pending")]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(parse_qs(urlsplit(str(request.url)).query)["offset"][0])
        return httpx.Response(200, json={"data": {"transactions": history[offset:]}})

    async def read() -> BillingHistory:
        settings = make_settings("https://generect.invalid", tmp_path / "home")
        transport = httpx.MockTransport(handler)
        async with AsyncClient(settings, transport=transport) as client:
            return await client.transactions()

    got = asyncio.run(read())
    assert ([t.id for t in got.transactions], got.ignored) == (["txn_1"], 1)


def test_a_server_ignoring_the_offset_is_refused_not_looped_on(tmp_path: Path) -> None:
    page = [_record(1, datetime(2026, 11, 20, tzinfo=UTC))]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"transactions": page}})

    with (
        _mock_client(tmp_path, handler) as client,
        pytest.raises(ProtocolError, match="does not page forward"),
    ):
        client.transactions()


def test_an_unreadable_history_is_a_protocol_error(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=json.dumps({"data": {"transactions": [{"id": "x", "credits": "?"}]}})
        )

    with _mock_client(tmp_path, handler) as client, pytest.raises(ProtocolError):
        client.transactions()


# --------------------------------------------------------------------------- the rules
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _entry(n: int, minutes: float, amount: str, *, unknown: bool = True) -> LedgerEntry:
    return LedgerEntry(
        charge_id=f"c{n}",
        time=T0 + timedelta(minutes=minutes),
        endpoint=C.PATH_DATABASE_SEARCH,
        mode="database",
        request={},
        rows=0,
        results_count=None,
        amount_charged=Decimal(amount),
        test_mode=False,
        account="fp",
        base_url="http://x",
        cache_key=f"k{n}",
        origin=Origin(),
        unknown_outcome=unknown,
        id=n,
    )


def _txn(n: int, minutes: float, charge: str, *, operation: str | None = None) -> Transaction:
    return Transaction(
        id=f"t{n}",
        time=T0 + timedelta(minutes=minutes),
        credits=-Decimal(charge),
        operation=operation or "search_database_leads",
        status="success",
    )


def _match(entries: list[LedgerEntry], txns: list[Transaction], **kwargs: Any) -> Any:
    history = BillingHistory(
        since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), transactions=txns
    )
    options = {"since": T0 - timedelta(hours=1), "until": T0 + timedelta(hours=1)}
    options["now"] = T0 + timedelta(hours=2)
    return match(entries, history, **{**options, **kwargs})


def test_two_lost_calls_that_could_own_one_charge_both_stay_unknown() -> None:
    result = _match([_entry(1, 0, "0.20"), _entry(2, 0.5, "0.20")], [_txn(1, 0, "0.06")])
    assert result.settled == [] and len(result.unresolved) == 2
    assert all(u.candidates == (_txn(1, 0, "0.06"),) for u in result.unresolved)
    assert result.missing_from_ledger == []  # in doubt, not "lacking"


def test_a_known_row_takes_its_exact_charge_first_so_the_lost_call_is_unambiguous() -> None:
    known = _entry(1, 0, "0.06", unknown=False)
    lost = _entry(2, 0.2, "0.20")
    result = _match([known, lost], [_txn(1, -0.1, "0.06"), _txn(2, 0.1, "0.10")])
    [settled] = result.settled
    assert (settled.entry, settled.settlement.transaction_id) == (lost, "t2")
    assert result.matched == 1


def test_a_charge_above_the_estimate_or_of_another_kind_is_not_the_lost_calls() -> None:
    lost = _entry(1, 0, "0.04")
    txns = [_txn(1, 0, "0.06"), _txn(2, 0, "0.04", operation="count_realtime_leads")]
    result = _match([lost], txns)
    assert [s.settlement.amount for s in result.settled] == [Decimal(0)]
    assert {t.id for t in result.missing_from_ledger} == {"t1", "t2"}


def test_a_charge_far_from_the_lost_call_is_not_its() -> None:
    lost = _entry(1, 0, "0.20")
    result = _match([lost], [_txn(1, -30, "0.06")])  # half an hour before: another call
    assert [s.settlement.amount for s in result.settled] == [Decimal(0)]
    assert [t.id for t in result.missing_from_ledger] == ["t1"]


def test_the_benchmark_month_settles_without_a_wrong_settlement() -> None:
    """benchmarks/bench_reconcile.py keeps working, and its month reconciles correctly."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        import bench_reconcile
    finally:
        sys.path.pop(0)
    figures = bench_reconcile.run(quick=True)
    assert figures["wrong"] == 0 and figures["settled"] + figures["unresolved"] == 60
    assert figures["settled_charged"] <= figures["charged_lost"]
    assert (figures["missing_from_ledger"], figures["missing_from_account"]) == (20, 0)


def test_an_already_settled_row_keeps_its_transaction() -> None:
    from generect_excel.ledger import Settlement

    lost = _entry(1, 0, "0.20")
    settled = replace(lost, settlement=Settlement("c1", Decimal("0.06"), "t1", T0, T0))
    result = _match([settled], [_txn(1, 0, "0.06")])
    assert result.settled == [] and result.already_settled == 1
    assert result.missing_from_ledger == [] and result.ledger_total == Decimal("0.06")
