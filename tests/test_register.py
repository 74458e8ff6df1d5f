"""The register of owned leads: stable pages, net-new searches, never a lead bought twice.

Against the sandbox over HTTP, whose order moves between calls as Generect's does; outcomes
are counted from the sandbox's request log, the store's ledger and register.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import conforming_client
from generect_excel import _constants as C
from generect_excel import store as store_module
from generect_excel.criteria import criteria_from_block
from generect_excel.engine import Engine
from generect_excel.engine.paging import FAMILY_CLAIM_PREFIX
from generect_excel.functions import evaluate_leads, run_search
from generect_excel.ledger import Origin
from generect_excel.store import MIGRATIONS, Store
from generect_excel.store.register import OWNED_COLUMNS, lead_key
from store_backends import Harness
from workbook_support import sandbox_settings

CEOS_US = [["Seniority", "C-Suite"], ["Location", "United States"]]
FOUNDERS_AND_CEOS_US = [["Seniority", "C-Suite; Founder"], ["Location", "United States"]]
NEW_ONLY = [["New leads only", "yes"]]


@pytest.fixture
def engine(sandbox, tmp_path: Path, store_backend: Harness) -> Engine:
    # Once per store backend (tests/store_backends.py): the register is the store's.
    return Engine(sandbox_settings(sandbox, tmp_path / "home"), store=store_backend.open())


def ids(answer: Any) -> list[str]:
    return [key[0] for lead in answer.result.leads if (key := lead_key(lead)) is not None]


def searches(sandbox) -> list[dict[str, Any]]:
    return [e for e in sandbox.log_entries() if e["path"] == C.PATH_DATABASE_SEARCH]


def search_page(engine: Engine, criteria: Any, limit: int, offset: int | None, **kw: Any) -> Any:
    return run_search(engine, criteria, float(limit), offset, **kw)


# --------------------------------------------------------------------------- stable pages


def test_four_pages_through_generect_search_buy_100_distinct_leads(sandbox, engine) -> None:
    bought: list[str] = []
    for offset in (0.0, 25.0, 50.0, 75.0):
        outcome = search_page(engine, CEOS_US, 25, offset)
        bought += ids(outcome.answer)
    assert len(bought) == 100 and len(set(bought)) == 100
    # What went on the wire: each page excluded the earlier pages' leads and skipped nothing.
    sent = [e["body"] for e in searches(sandbox)]
    assert [len(b.get("exclude_ids", [])) for b in sent] == [0, 25, 50, 75]
    assert all(not b.get("offset_by") for b in sent)  # absent, or 0 as asked
    assert sum(e["rows"] for e in searches(sandbox)) == 100
    # The register agrees: 100 leads, each bought once, one purchase row per ledger row.
    counts = engine.store.register_counts()
    assert counts == {"owned": 100, "purchases": 100, "bought_twice": 0}
    assert sum(c.rows for c in engine.charges()) == 100


def test_the_same_pages_sent_naively_with_offset_by_overlap(sandbox) -> None:
    # The problem the stable pages solve: the sandbox's order moves between calls, as live.
    body = criteria_from_block(CEOS_US).body()
    with conforming_client(sandbox.url, "test_naive") as client:
        naive: list[str] = []
        for offset in (0, 25, 50, 75):
            answer = client.post(
                C.PATH_DATABASE_SEARCH, json={**body, "limit_by": 25, "offset_by": offset}
            ).json()
            naive += [lead_key(lead)[0] for lead in answer["data"]["leads"]]  # type: ignore[index]
    assert len(naive) == 100
    assert len(set(naive)) < 100  # leads repeated (and billed twice)


def test_pages_bought_out_of_order_do_not_overlap_either(sandbox, engine) -> None:
    later = ids(search_page(engine, CEOS_US, 25, 50.0).answer)
    first = ids(search_page(engine, CEOS_US, 25, None).answer)
    middle = ids(search_page(engine, CEOS_US, 25, 25.0).answer)
    assert len(set(later) | set(first) | set(middle)) == 75
    sent = [e["body"] for e in searches(sandbox)]
    # Page 50 before anything else: nothing to exclude, so it skips 50 unknown positions.
    assert sent[0]["offset_by"] == 50 and "exclude_ids" not in sent[0]
    # Page 0 then excludes page 50's leads; page 25 both, and skips only what nobody bought.
    assert len(sent[1]["exclude_ids"]) == 25 and "offset_by" not in sent[1]
    assert len(sent[2]["exclude_ids"]) == 50 and "offset_by" not in sent[2]


def test_pages_fetched_at_once_wait_for_each_other_and_do_not_overlap(sandbox, engine) -> None:
    # The refresher runs a workbook's formulas in parallel: pages of one criteria family
    # fetch one at a time, each excluding what the others bought.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        pages = list(
            pool.map(lambda o: search_page(engine, CEOS_US, 25, o), (0.0, 25.0, 50.0, 75.0))
        )
    bought = [lead for page in pages for lead in ids(page.answer)]
    assert len(bought) == len(set(bought)) == 100
    assert engine.store.register_counts()["bought_twice"] == 0


def test_the_cache_key_stays_the_question_and_recalculation_is_free(sandbox, engine) -> None:
    page2 = search_page(engine, CEOS_US, 25, 25.0)
    again = search_page(engine, CEOS_US, 25, 25.0)
    assert again.answer.from_cache and again.answer.cache_key == page2.answer.cache_key
    assert ids(again.answer) == ids(page2.answer)
    assert len(searches(sandbox)) == 1


def family_of_first_page(engine: Engine, store_backend: Harness) -> str:
    """Buy page 0 of CEOS_US; the store key of its criteria family's turn."""
    search_page(engine, CEOS_US, 25, None)
    [(family,)] = store_backend.sql("SELECT DISTINCT criteria_key FROM lead_purchases")
    return f"{FAMILY_CLAIM_PREFIX}{family}"


def test_a_page_waits_while_another_process_buys_a_page_of_its_family(
    sandbox, engine, store_backend: Harness
) -> None:
    # Pages of one criteria family wait for each other across processes too (two laptops on
    # the team store, Excel and the CLI on one file): the turn is a claim in the store.
    turn = family_of_first_page(engine, store_backend)
    other = f"{store_module._HOST}|{os.getppid()}|abc"  # a live process: our parent
    held = engine.store.claim(turn, other, ttl=600, is_fresh=lambda entry: False)
    assert held.state == "claimed"
    with ThreadPoolExecutor(1) as pool:
        page = pool.submit(search_page, engine, CEOS_US, 25, 25.0)
        time.sleep(1.0)
        assert not page.done() and len(searches(sandbox)) == 1  # waiting its turn, unsent
        engine.store.release(turn, other)  # the other process saved its page
        second = ids(page.result(timeout=30).answer)
    assert len(searches(sandbox)) == 2 and len(set(second)) == 25
    assert engine.store.register_counts()["bought_twice"] == 0
    assert not store_backend.sql("SELECT key FROM inflight")  # the turn was given back


def test_a_dead_process_s_turn_at_a_criteria_family_is_taken_over(
    sandbox, engine, store_backend: Harness
) -> None:
    turn = family_of_first_page(engine, store_backend)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    gone = f"{store_module._HOST}|{int(child.stdout)}|abc"  # a process that has ended
    assert engine.store.claim(turn, gone, ttl=600, is_fresh=lambda e: False).state == "claimed"
    with ThreadPoolExecutor(1) as pool:  # not left waiting for the dead one's 600 s
        second = ids(pool.submit(search_page, engine, CEOS_US, 25, 25.0).result(10).answer)
    assert len(second) == 25 and len(searches(sandbox)) == 2
    assert engine.store.register_counts()["bought_twice"] == 0


# --------------------------------------------------------------------------- net-new


def test_a_net_new_search_buys_no_lead_already_owned(sandbox, engine) -> None:
    first = ids(search_page(engine, CEOS_US, 50, None).answer)
    second_outcome = search_page(engine, FOUNDERS_AND_CEOS_US + NEW_ONLY, 50, None)
    second = ids(second_outcome.answer)
    assert len(first) == len(second) == 50
    assert not set(first) & set(second)
    wire = searches(sandbox)[1]["body"]
    assert "new_leads_only" not in wire  # ours: never sent
    assert sorted(wire["exclude_ids"]) == sorted(first)
    # Ledger and register agree: 2 charges of 50 rows, 100 leads owned, none bought twice.
    charges = engine.charges()
    assert [c.rows for c in charges] == [50, 50]
    assert engine.store.register_counts() == {"owned": 100, "purchases": 100, "bought_twice": 0}
    owned = {lead.lead_id for lead in engine.store.owned_leads()}
    assert owned == set(first) | set(second)
    status = second_outcome.value[0][0]
    assert "50 new" in status and "50 owned excluded" in status


def test_the_store_says_which_ids_are_owned(sandbox, engine) -> None:
    bought = ids(search_page(engine, CEOS_US, 5, None).answer)
    asked = [*bought[:3], "never-bought-1", "never-bought-2"]
    assert engine.store.owned_among(engine.settings.base_url, asked) == set(bought[:3])
    assert engine.store.owned_among("http://another.example", bought) == set()
    assert engine.store.owned_among(engine.settings.base_url, []) == set()


def test_without_net_new_overlapping_criteria_buy_leads_twice(sandbox, engine) -> None:
    # The control: the same two searches without "New leads only" pay twice for some leads.
    first = ids(search_page(engine, CEOS_US, 50, None).answer)
    outcome = search_page(engine, FOUNDERS_AND_CEOS_US, 50, None)
    twice = set(first) & set(ids(outcome.answer))
    assert twice
    counts = engine.store.register_counts()
    assert counts["bought_twice"] == len(twice)
    assert counts["owned"] == 100 - len(twice) and counts["purchases"] == 100
    assert f"{50 - len(twice)} new" in outcome.value[0][0]


def test_a_large_register_sends_only_the_most_recent_ids(
    sandbox, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "NET_NEW_MAX_EXCLUDE_IDS", 30)
    older = ids(search_page(engine, [["Job titles", "Sales Director"]], 40, None).answer)
    newer = ids(search_page(engine, CEOS_US, 20, None).answer)
    outcome = search_page(engine, FOUNDERS_AND_CEOS_US + NEW_ONLY, 10, None)
    wire = searches(sandbox)[2]["body"]
    assert len(wire["exclude_ids"]) == 30
    assert set(newer) <= set(wire["exclude_ids"])  # the most recent first
    assert len(set(older) & set(wire["exclude_ids"])) == 10
    assert "the 30 most recent of 60 owned" in outcome.value[0][0]


def test_new_leads_only_is_a_criteria_row_and_part_of_the_question() -> None:
    plain = criteria_from_block(CEOS_US)
    new_only = criteria_from_block(CEOS_US + [["Only new leads", "TRUE"]])
    assert new_only.body()["new_leads_only"] is True
    assert "new_leads_only" not in plain.body()
    assert criteria_from_block(CEOS_US + [["New leads only", "no"]]).body() == plain.body()


# --------------------------------------------------------------------------- the register


def test_the_register_records_first_purchase_origin_query_and_cost(engine) -> None:
    origin = Origin("Leads.xlsx", "Sheet1", "B2")
    outcome = search_page(engine, CEOS_US, 10, None, origin=origin)
    search_page(engine, CEOS_US, 10, None, refresh="again", origin=origin)  # bought again
    owned = engine.store.owned_leads()
    assert {lead.lead_id for lead in owned} >= set(ids(outcome.answer))
    lead = next(x for x in owned if x.lead_id == ids(outcome.answer)[0])
    assert lead.origin == origin
    assert lead.cost == Decimal(outcome.answer.result.amount_charged) / 10
    assert lead.cache_key == outcome.answer.cache_key
    assert lead.request["seniorities"] == ["c_suite"]
    assert lead.first_bought_at == outcome.answer.fetched_at
    assert lead.id_field in ("id", "sales_id")
    assert lead.full_name
    times = Counter(x.times_bought for x in owned)
    assert sum(n * t for t, n in times.items()) == 20  # every purchase counted


def test_the_register_is_shared_by_every_engine_on_the_store(sandbox, tmp_path: Path) -> None:
    home = tmp_path / "home"
    excel = Engine(sandbox_settings(sandbox, home))
    cli = Engine(sandbox_settings(sandbox, home))
    first = ids(search_page(excel, CEOS_US, 25, None).answer)
    second = ids(search_page(cli, FOUNDERS_AND_CEOS_US + NEW_ONLY, 25, None).answer)
    assert not set(first) & set(second)


def test_the_migration_is_named_and_last() -> None:
    assert MIGRATIONS[8].name == "0009_owned_leads"


def test_a_lead_key_prefers_the_id_exclude_ids_takes() -> None:
    assert lead_key({"lead_id": "L", "sales_id": "S", "id": "I"}) == ("I", "id")
    assert lead_key({"lead_id": "L", "sales_id": "S"}) == ("S", "sales_id")
    assert lead_key({"lead_id": " L "}) == ("L", "lead_id")
    assert lead_key({"full_name": "Nobody"}) is None
    # Realtime rows without lead_id still carry their Sales Navigator lead URL.
    url = "https://www.linkedin.com/sales/lead/ACwAAAxyz,NAME_SEARCH,abcd"
    assert lead_key({"sales_navigator_url": url}) == ("ACwAAAxyz", "sales_navigator_url")
    assert lead_key({"linkedin_sales_link": "https://example.com/x"}) is None


def test_realtime_pages_register_every_row_and_never_overlap(sandbox, engine) -> None:
    first = run_search(engine, CEOS_US, 25.0, None, mode="realtime").answer
    second = run_search(engine, CEOS_US, 25.0, 25.0, mode="realtime").answer
    assert any("lead_id" not in lead for lead in first.result.leads)  # the URL fallback
    assert len(ids(first)) == len(ids(second)) == 25
    assert not set(ids(first)) & set(ids(second))
    sent = [e["body"] for e in sandbox.log_entries() if e["path"] == C.PATH_REALTIME_SEARCH]
    assert sorted(sent[1]["exclude_ids"]) == sorted(ids(first))
    assert engine.store.register_counts()["owned"] == 50


def test_a_failed_save_leaves_no_lead_in_the_register(sandbox, tmp_path: Path) -> None:
    # One transaction: the answer, the ledger row and the register, or none of them.
    store = Store(tmp_path / "store.sqlite3")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "home"), store=store)
    real_put = store._put

    def failing_put(conn, entry):  # the register rows are written before it
        real_put(conn, entry)
        raise __import__("sqlite3").OperationalError("disk I/O error")

    store._put = failing_put  # type: ignore[method-assign]
    with pytest.raises(Exception, match="Charged"):
        search_page(engine, CEOS_US, 5, None)
    store._put = real_put  # type: ignore[method-assign]
    assert store.register_counts() == {"owned": 0, "purchases": 0, "bought_twice": 0}
    assert store.charges() == []


def test_a_sandbox_client_sees_exclusions_honoured(sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": "Token test_x"}) as client:
        body = {"seniorities": ["c_suite"], "locations": ["United States"], "limit_by": 5}
        first = [
            lead_key(x)[0]
            for x in client.post(C.PATH_DATABASE_SEARCH, json=body).json()["data"]["leads"]
        ]  # type: ignore[index]
        again = client.post(C.PATH_DATABASE_SEARCH, json={**body, "exclude_ids": first}).json()
        assert not {lead_key(x)[0] for x in again["data"]["leads"]} & set(first)  # type: ignore[index]


# --------------------------------------------------------------------------- seeing what you own


def test_generect_leads_spills_the_register_or_the_leads_of_a_criteria_range(engine) -> None:
    ceos = ids(search_page(engine, CEOS_US, 5, None).answer)
    directors = ids(search_page(engine, [["Job titles", "Sales Director"]], 5, None).answer)
    table = evaluate_leads(engine)
    assert table[0] == list(OWNED_COLUMNS)
    assert [row[0] for row in table[1:]] == ceos + directors  # oldest first
    only = evaluate_leads(engine, CEOS_US + [["Limit", 99]])  # the page does not matter
    assert [row[0] for row in only[1:]] == ceos
    row = dict(zip(table[0], table[1], strict=True))
    assert row["times_bought"] == 1 and row["cost"] == pytest.approx(0.02)
    assert row["full_name"] and row["query"].startswith("{")


def test_the_refresher_evaluates_generect_leads(engine) -> None:
    from generect_excel.formulas.plan import _evaluate

    search_page(engine, CEOS_US, 3, None)

    class Query:  # the two attributes _evaluate reads
        function = "GENERECT_LEADS"
        args = {"criteria": None}

    assert len(_evaluate(engine, Query()).value) == 4  # type: ignore[arg-type]


def test_a_workbook_refresh_buys_four_distinct_pages_and_spills_them_as_owned(
    sandbox, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    from generect_excel.workbook.refresher import refresh_workbook
    from workbook_support import load, save

    wb = Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "Seniority", "C-Suite"
    ws["A2"], ws["B2"] = "Location", "United States"
    for n, offset in enumerate((0, 25, 50, 75)):
        ws.cell(5, 1 + n).value = f'=GENERECT_SEARCH($A$1:$B$2,25,{offset},"lead_id")'
    ws["G5"] = "=GENERECT_LEADS()"
    book = save(wb, tmp_path / "pages.xlsx")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "home"))
    summary = refresh_workbook(book, engine, confirm=lambda quote: True)
    assert summary.ok
    sheet = load(book).active
    pages = [[sheet.cell(r, c).value for r in range(7, 32)] for c in range(1, 5)]
    bought = [lead for page in pages for lead in page]
    assert len(set(bought)) == 100 and None not in bought
    # GENERECT_LEADS ran after the purchases: the 100 owned leads below its formula (the
    # formula's cell shows the header).
    assert sheet["H5"].value == "full_name" and sheet.cell(106, 7).value is None
    assert sorted(sheet.cell(r, 7).value for r in range(6, 106)) == sorted(bought)
    assert len(searches(sandbox)) == 4


def test_cli_leads_lists_and_exports_the_register(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    from generect_excel.cli import main

    home = tmp_path / "home"
    engine = Engine(sandbox_settings(sandbox, home))
    bought = ids(search_page(engine, CEOS_US, 4, None, origin=Origin("B.xlsx", "S", "A1")).answer)
    monkeypatch.setenv("GENERECT_HOME", str(home))
    assert main(["leads"]) == 0
    out = capsys.readouterr().out
    assert all(lead[:20] in out for lead in bought) and "4 owned lead(s)" in out
    assert "B.xlsx!S!A1" in out
    assert "$0.02" in out  # each lead's share of the charge, in dollars
    target = tmp_path / "owned.csv"
    assert main(["leads", "--csv", str(target)]) == 0
    with target.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["lead_id"] for r in rows] == bought
    assert rows[0]["workbook"] == "B.xlsx" and rows[0]["cell"] == "A1"
    assert main(["leads", "--since", "2999-01-01", "--csv", str(target)]) == 0
    assert target.read_text(encoding="utf-8-sig").splitlines() == [",".join(OWNED_COLUMNS)]


def test_a_family_turn_lasts_as_long_as_its_page_is_on_the_wire(
    sandbox, engine, store_backend: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review (issues 15/16): a page's own claim is renewed each time its request leaves (a
    # retry after throttling or a 5xx marks it sent again), but the family's turn, taken with
    # the same ttl just before, is never renewed. A page whose attempts outlast one ttl thus
    # loses its turn while still on the wire: another process (Excel beside the CLI, another
    # laptop) takes the turn, reads a register without this page's leads and buys them again.
    # Here the ttl is 1 s and the page makes three attempts 0.7 s apart.
    turn = family_of_first_page(engine, store_backend)
    monkeypatch.setattr(engine, "_claim_ttl", lambda call: 1.0)
    client = engine.client
    real_send = client.send

    def retried(endpoint: Any, body: Any, *, on_send: Any = None) -> Any:
        for _ in range(2):  # two attempts answered 429, each marking the claim sent
            if on_send is not None:
                on_send()
            time.sleep(0.7)
        return real_send(endpoint, body, on_send=on_send)  # the third gets the page

    monkeypatch.setattr(client, "send", retried)
    other = f"{store_module._HOST}|{os.getppid()}|abc"  # a live process: our parent
    with ThreadPoolExecutor(1) as pool:
        page = pool.submit(search_page, engine, CEOS_US, 25, 25.0)
        time.sleep(1.2)  # the page's own claim was renewed 0.5 s ago; its turn was not
        assert not page.done()
        never = {"is_fresh": lambda entry: False}
        states = [engine.store.claim(turn, other, ttl=600, **never).state]
        if states[0] == "claimed":
            engine.store.release(turn, other)
        page.result(timeout=30)
    assert states == ["busy"], "another process took the family's turn while its page was sent"
