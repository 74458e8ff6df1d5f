"""Preview, then buy only the rows you pick; work emails (issue 14).

Against the sandbox over HTTP; outcomes counted from its request log, the store's ledger and
the register of owned leads.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from generect_excel import _constants as C
from generect_excel.emails import NO_EMAIL, email_request, run_email
from generect_excel.engine import Engine
from generect_excel.errors import BudgetError, CriteriaError
from generect_excel.functions import run_search
from generect_excel.lead_answers import OperationRequest
from generect_excel.picks import (
    buy,
    buy_table,
    picked_ids,
    preview_request,
    run_preview,
)
from generect_excel.store.register import lead_key
from workbook_support import sandbox_settings

LIVE = "live-key-picks"
CEOS = [["Seniority", "C-Suite"], ["Location", "United States"]]


@pytest.fixture
def engine(sandbox, tmp_path: Path) -> Engine:
    return Engine(sandbox_settings(sandbox, tmp_path / "home", key=LIVE))


def calls(sandbox, path: str) -> list[dict[str, Any]]:
    return [e for e in sandbox.log_entries() if e["path"].startswith(path)]


def ledger_by_path(engine: Engine) -> dict[str, tuple[int, Decimal]]:
    """path -> (ledger rows, amount) for the engine's store."""
    out: dict[str, tuple[int, Decimal]] = {}
    for charge in engine.charges():
        rows, amount = out.get(charge.endpoint, (0, Decimal("0")))
        out[charge.endpoint] = (rows + 1, amount + Decimal(charge.amount_charged))
    return out


def preview_ids(table: list[list[Any]]) -> list[str]:
    return [row[0] for row in table[2:]]


def test_preview_maps_the_criteria_block_onto_the_nested_body() -> None:
    block = [
        ["Job title", "CEO"],
        ["Industry", "Software Development"],
        ["Company type", "Privately Held"],
    ]
    body = preview_request(block, 200).body()
    assert body["lead_search_criteria"]["job_titles"] == ["CEO"]
    assert body["lead_search_criteria"]["company_industries"] == ["Software Development"]
    assert body["lead_search_criteria"]["limit_by"] == 200
    assert body["company_search_criteria"] == {"company_types": ["Privately Held"]}
    assert (
        preview_request(CEOS).body()["lead_search_criteria"]["limit_by"] == C.PREVIEW_DEFAULT_LIMIT
    )
    with pytest.raises(CriteriaError, match="Preview cannot filter by company_name"):
        preview_request([["Company", "Acme"]])
    with pytest.raises(CriteriaError, match="limit"):
        preview_request(CEOS, 5000)


def test_preview_200_then_buy_20_picked_ids(sandbox, engine) -> None:
    # Done when: preview 200 then buy 20 picked ids -> the preview charge plus 20 enrich
    # charges; recalculation and a second refresh cost 0.
    table, answer = run_preview(engine, CEOS, 200)
    ids = preview_ids(table)
    assert len(ids) == 200 and len(set(ids)) == 200
    assert table[1][0] == "id" and "masked rows" in table[0][0]
    assert not {"linkedin_url", "email", "domain", "phone"} & set(answer.result.leads[0])
    picked = ids[::10]  # the analyst ticks 20
    bought = buy(engine, picked)
    assert [b.status for b in bought] == ["bought"] * 20
    assert all(b.profile and b.profile["linkedin_url"] for b in bought)
    ledger = ledger_by_path(engine)
    assert ledger[C.PATH_PREVIEW_LEADS] == (1, Decimal("0.4"))  # 200 x $0.002
    assert ledger[C.PATH_ENRICH_DATABASE_LEAD] == (20, Decimal("0.40"))  # 20 x $0.02
    assert len(calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD)) == 20
    # The bought leads are owned, and the masked preview rows are not.
    assert engine.store.register_counts()["owned"] == 20
    # Recalculation: nothing sent, nothing charged.
    before = len(sandbox.log_entries())
    again_table, again = run_preview(engine, CEOS, 200)
    rebought = buy(engine, picked)
    assert again.from_cache and preview_ids(again_table) == ids
    assert [b.status for b in rebought] == ["stored"] * 20
    assert sum(b.cost for b in rebought) == 0
    assert len(sandbox.log_entries()) == before
    # A refresh of the purchase: the leads are owned, so none is bought again.
    refreshed = buy(engine, picked, refresh="second refresh")
    assert sum(b.cost for b in refreshed) == 0
    assert len(calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD)) == 20
    assert ledger_by_path(engine)[C.PATH_ENRICH_DATABASE_LEAD] == (20, Decimal("0.40"))
    status = buy_table(rebought)[0][0]
    assert "20 stored" in status and "$0.00" in status


def test_picking_an_already_owned_lead_costs_0(sandbox, engine) -> None:
    # A search bought 25 leads; the preview shows some of them again: buying them is free.
    searched = run_search(engine, CEOS, 25.0).answer
    owned = [lead_key(lead)[0] for lead in searched.result.leads]  # type: ignore[index]
    bought = buy(engine, owned[:5] + owned[:5])  # twice the same: bought (or not) once
    assert len(bought) == 10 and {b.status for b in bought} == {"owned"}
    assert all(b.cost == 0 and b.profile for b in bought)
    assert bought[0].profile["linkedin_url"]  # the row the search bought
    assert calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD) == []
    assert C.PATH_ENRICH_DATABASE_LEAD not in ledger_by_path(engine)


def test_picked_ids_reads_a_buy_column() -> None:
    ids = [["id"], ["A1"], ["A2"], ["A3"], [None], ["A1"]]
    ticks = [["Buy"], [True], ["x"], [False], [True], ["yes"]]
    assert picked_ids(ids, ticks) == ["A1", "A2"]
    assert picked_ids(ids) == ["A1", "A2", "A3"]
    with pytest.raises(CriteriaError, match="same size"):
        picked_ids(ids, ticks[:2])


def test_a_purchase_over_the_cap_is_refused_whole_before_sending(sandbox, tmp_path) -> None:
    settings = sandbox_settings(sandbox, tmp_path / "h", key=LIVE, max_spend_per_request="0.10")
    engine = Engine(settings)
    table, _ = run_preview(engine, CEOS, 20)
    with pytest.raises(BudgetError, match="per-request cap"):
        buy(engine, preview_ids(table)[:6])  # 6 x $0.02 = $0.12 > $0.10
    assert calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD) == []
    assert len(buy(engine, preview_ids(table)[:5])) == 5  # $0.10 passes


def test_an_unknown_id_is_a_free_not_found(sandbox, engine) -> None:
    [b] = buy(engine, ["ACwAAAnobody"])
    assert b.status == "not found" and b.cost == 0
    assert ledger_by_path(engine)[C.PATH_ENRICH_DATABASE_LEAD] == (1, Decimal("0"))


def test_emails_for_60_leads_one_call_each_misses_stored_not_reasked(sandbox, engine) -> None:
    # Done when: email for 60 leads -> one call per lead (documented), 0 repeats on the second
    # refresh, misses not re-asked.
    table, _ = run_preview(engine, CEOS, 60)
    ids = preview_ids(table)
    first = [run_email(engine, lead_id)[0] for lead_id in ids]
    found = [e for e in first if e != NO_EMAIL]
    assert 0 < len(found) < 60 and all("@" in e for e in found)
    assert len(calls(sandbox, C.PATH_EMAIL_FIND)) == 60
    ledger = ledger_by_path(engine)[C.PATH_EMAIL_FIND]
    assert ledger == (60, len(found) * C.PRICE_EMAIL_FOUND)  # misses ledgered at $0
    second = [run_email(engine, lead_id)[0] for lead_id in ids]
    assert second == first
    assert len(calls(sandbox, C.PATH_EMAIL_FIND)) == 60  # misses included: not re-asked


def test_email_request_by_id_url_or_name_and_domain() -> None:
    assert email_request("ACwAAA1").body() == {"lead_id": "ACwAAA1"}
    url = "https://www.linkedin.com/in/jordan-ellis"
    assert email_request(url).body() == {"linkedin_url": url}
    assert email_request("Jordan", "Ellis", "https://www.Microsoft.com/").body() == {
        "first_name": "Jordan",
        "last_name": "Ellis",
        "domain": "microsoft.com",
    }
    with pytest.raises(CriteriaError):
        email_request("Jordan", "Ellis")
    with pytest.raises(CriteriaError):
        email_request(None)


def test_email_by_name_and_domain_finds_the_enriched_leads_email(sandbox, engine) -> None:
    table, _ = run_preview(engine, CEOS, 10)
    emails = {i: run_email(engine, i)[0] for i in preview_ids(table)}
    lead_id = next(i for i, email in emails.items() if email != NO_EMAIL)
    [bought] = buy(engine, [lead_id])
    profile = bought.profile
    by_id = emails[lead_id]
    by_name, _ = run_email(
        engine, profile["first_name"], profile["last_name"], profile["company"]["domain"]
    )
    assert by_name == by_id


def test_operation_request_is_keyed_by_its_body() -> None:
    a = OperationRequest.of({"b": 1, "a": 2})
    assert a == OperationRequest.of({"a": 2, "b": 1}) and a.body() == {"a": 2, "b": 1}


# --------------------------------------------------------------------------- the refresher


def test_preview_pick_enrich_and_an_email_column_through_the_refresher(sandbox, tmp_path) -> None:
    from openpyxl import Workbook

    from generect_excel.workbook.refresher import refresh_workbook
    from workbook_support import load, save

    wb = Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "Seniority", "C-Suite"
    ws["A2"], ws["B2"] = "Location", "United States"
    ws["A5"] = "=GENERECT_PREVIEW($A$1:$B$2,60)"
    book = save(wb, tmp_path / "pick.xlsx")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "home", key=LIVE))

    def refresh() -> Any:
        summary = refresh_workbook(book, engine, confirm=lambda quote: True)
        assert summary.ok
        return summary

    refresh()
    wb = load(book)
    ws = wb.active
    assert ws["A6"].value == "id"
    ids = [ws.cell(r, 1).value for r in range(7, 67)]
    assert len(set(ids)) == 60 and None not in ids
    # The analyst ticks 20 rows in a Buy column, buys them, and fills an email column.
    ws["J6"] = "Buy"
    for r in range(7, 67, 3):
        ws.cell(r, 10).value = True
    ws["L5"] = "=GENERECT_ENRICH(A7:A66,J7:J66)"
    for r in range(7, 67):
        ws.cell(r, 11).value = f"=GENERECT_EMAIL(A{r})"
    save(wb, book)
    refresh()
    ledger = ledger_by_path(engine)
    assert ledger[C.PATH_PREVIEW_LEADS] == (1, Decimal("0.12"))  # 60 x $0.002, once
    assert ledger[C.PATH_ENRICH_DATABASE_LEAD] == (20, Decimal("0.40"))
    emails = calls(sandbox, C.PATH_EMAIL_FIND)
    assert len(emails) == 60  # one call per lead (the documented choice)
    sheet = load(book).active
    picked = {ids[i] for i in range(0, 60, 3)}
    assert {sheet.cell(r, 12).value for r in range(7, 27)} == picked
    assert all(sheet.cell(r, 13).value == "bought" for r in range(7, 27))
    values = load(book, data_only=True).active
    shown = [values.cell(r, 11).value for r in range(7, 67)]
    found = [e for e in shown if e != NO_EMAIL]
    assert 0 < len(found) < 60 and all("@" in e for e in found)
    # A second refresh: nothing sent, nothing charged; the misses are not asked again.
    before = len(sandbox.log_entries())
    refresh()
    assert len(sandbox.log_entries()) == before
    assert ledger_by_path(engine) == ledger
    assert [load(book, data_only=True).active.cell(r, 11).value for r in range(7, 67)] == shown


def test_the_refresher_quotes_a_purchase_without_owned_leads_and_the_ribbon_its_worst_case(
    sandbox, engine, tmp_path
) -> None:
    from openpyxl import Workbook

    from generect_excel.picks import EnrichBatch
    from generect_excel.workbook.refresher import plan_refresh, quote_plan
    from workbook_support import save

    table, _ = run_preview(engine, CEOS, 10)
    ids = preview_ids(table)
    buy(engine, ids[:4])  # four of the ten are owned now
    wb = Workbook()
    for r, lead_id in enumerate(ids, start=1):
        wb.active.cell(r, 1).value = lead_id
    wb.active["C1"] = "=GENERECT_ENRICH(A1:A10)"
    book = save(wb, tmp_path / "buy.xlsx")
    quote = quote_plan(plan_refresh(book), engine)
    assert quote.worst_case == 6 * C.PRICE_ENRICH_DATABASE_LEAD and quote.new == 1
    # What the ribbon asks the engine: every id, the worst case.
    estimate = engine.estimate(EnrichBatch(tuple(ids)), "enrich")
    assert estimate.amount == 10 * C.PRICE_ENRICH_DATABASE_LEAD
    assert len(calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD)) == 4  # quoting sent nothing


def test_an_enrichment_whose_answer_was_lost_is_never_bought_again_blindly(sandbox, engine) -> None:
    table, _ = run_preview(engine, CEOS, 5)
    lead_id = preview_ids(table)[0]
    sandbox.queue_faults(["charged_drop"], path=C.PATH_ENRICH_DATABASE_LEAD)
    [lost] = buy(engine, [lead_id])
    assert lost.status.startswith("error:") and "may have been charged" in lost.status
    [again] = buy(engine, [lead_id])  # the doubt stands: nothing is sent
    assert again.status == lost.status
    assert len(calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD)) == 1
    # The ledger holds the worst case, flagged unknown, until reconciled.
    [charge] = [c for c in engine.charges() if c.endpoint == C.PATH_ENRICH_DATABASE_LEAD]
    assert charge.unknown_outcome and charge.amount_charged == C.PRICE_ENRICH_DATABASE_LEAD
    # A new refresh value tries once more, and the lead is bought and owned.
    [bought] = buy(engine, [lead_id], refresh="retry")
    assert bought.status == "bought" and len(calls(sandbox, C.PATH_ENRICH_DATABASE_LEAD)) == 2
