"""Company search (issue 14, "Target companies") through the operation registry: against the
sandbox over HTTP, counted from its request log, the ledger and the store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from generect_excel._constants import (
    PATH_DATABASE_COMPANIES,
    PATH_DATABASE_COMPANY_COUNT,
    PATH_REALTIME_COMPANY_COUNT,
    PRICE_DATABASE_COMPANY,
)
from generect_excel.companies import (
    evaluate_companies,
    evaluate_company_count,
    request_for_companies,
)
from generect_excel.engine import Engine
from generect_excel.errors import BudgetError, CriteriaError
from generect_excel.functions import check_arguments
from generect_excel.ledger import Origin
from generect_excel.pending import BackgroundEngine, FetchPendingError, PendingFetches
from workbook_support import sandbox_settings

LIVE_KEY = "live_companies"  # debited: the ledger and the balance move
SOFTWARE = [["Industry", "Software Development"], ["Company size", "51-200; 201-500"]]
CELL = Origin("Accounts.xlsx", "Proposed accounts", "A8")


@pytest.fixture
def engine(sandbox: Any, tmp_path: Path) -> Engine:
    return Engine(sandbox_settings(sandbox, tmp_path / "home", key=LIVE_KEY))


def test_a_company_search_spills_matching_companies_and_is_bought_once(
    sandbox: Any, engine: Engine
) -> None:
    table = evaluate_companies(engine, SOFTWARE, 5.0, origin=CELL)
    status, header, rows = table[0], table[1], table[2:]
    assert header[:5] == ["name", "domain", "industry", "headcount", "location"]
    assert len(rows) == 5
    assert {row[2] for row in rows} == {"Software Development"}
    assert {row[3] for row in rows} <= {"51-200", "201-500"}
    assert "5 rows" in status[0] and "$0.10 charged" in status[0]
    again = evaluate_companies(engine, SOFTWARE, 5.0, origin=CELL)  # a recalculation
    assert again[2:] == rows and "from cache" in again[0][0]
    billed = sandbox.billable_calls()
    assert [call["path"] for call in billed] == [PATH_DATABASE_COMPANIES]
    assert billed[0]["body"] == {
        "headcounts": ["51-200", "201-500"],
        "industries": ["Software Development"],
        "limit_by": 5,
    }
    charges = engine.charges()
    assert len(charges) == 1
    assert charges[0].endpoint == PATH_DATABASE_COMPANIES
    assert charges[0].amount_charged == 5 * PRICE_DATABASE_COMPANY
    assert charges[0].rows == 5 and charges[0].origin == CELL


def test_company_pages_do_not_overlap_and_fields_are_chosen(sandbox: Any, engine: Engine) -> None:
    first = evaluate_companies(engine, SOFTWARE, 3.0, None, "name, linkedin_id")
    second = evaluate_companies(engine, SOFTWARE, 3.0, 3.0, "name, linkedin_id")
    assert first[1] == ["name", "linkedin_id"]
    ids = [row[1] for row in first[2:]] + [row[1] for row in second[2:]]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert len(sandbox.billable_calls()) == 2


def test_a_database_company_count_is_free_and_a_realtime_one_billed_once(
    sandbox: Any, engine: Engine
) -> None:
    count = evaluate_company_count(engine, SOFTWARE)
    table = evaluate_companies(engine, SOFTWARE, 1.0)
    assert isinstance(count, int) and count > 1
    assert f"{count:,} matches" in table[0][0]  # the search's results_count agrees
    assert sandbox.billable_calls()[0]["path"] == PATH_DATABASE_COMPANIES
    assert len(sandbox.billable_calls()) == 1  # the database count was free
    realtime = evaluate_company_count(engine, SOFTWARE, "realtime")
    assert evaluate_company_count(engine, SOFTWARE, "realtime") == realtime
    paths = [call["path"] for call in sandbox.billable_calls()]
    assert paths.count(PATH_REALTIME_COMPANY_COUNT) == 1
    assert PATH_DATABASE_COMPANY_COUNT not in paths
    assert engine.spend("today") == PRICE_DATABASE_COMPANY + Decimal("0.04")


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([["Industry", "Software"]], "Software"),  # not a LinkedIn industry name
        ([["Company size", "12-40"]], "12-40"),
        ([["Company type", "Startup"]], "Startup"),
        ([["Job titles", "CEO"], ["Industry", "Banking"]], "Not a company filter: job_titles"),
        ([["Company size", "11-50"], ["Limit", 2000]], "at most"),
        ([["Keywords", "payments"]], "realtime"),
    ],
)
def test_criteria_are_refused_before_any_call(
    sandbox: Any, engine: Engine, criteria: list, message: str
) -> None:
    with pytest.raises(CriteriaError, match=message):
        evaluate_companies(engine, criteria)
    with pytest.raises(CriteriaError, match=message):
        check_arguments("GENERECT_COMPANIES", {"criteria": criteria})
    assert sandbox.log_entries() == []


def test_an_unknown_column_is_refused_before_buying(sandbox: Any, engine: Engine) -> None:
    with pytest.raises(CriteriaError, match="Unknown company field: revenue"):
        evaluate_companies(engine, SOFTWARE, 2.0, None, "name, revenue")
    assert sandbox.log_entries() == []


def test_the_worst_case_is_priced_before_and_the_caps_refuse_it(
    sandbox: Any, tmp_path: Path
) -> None:
    settings = sandbox_settings(
        sandbox, tmp_path / "home", key=LIVE_KEY, max_spend_per_request=Decimal("1")
    )
    engine = Engine(settings)
    request = request_for_companies(SOFTWARE, 100.0)
    estimate = engine.estimate(request, "companies")
    assert estimate.amount == 100 * PRICE_DATABASE_COMPANY and estimate.rows == 100
    with pytest.raises(BudgetError):
        evaluate_companies(engine, SOFTWARE, 100.0)
    assert sandbox.log_entries() == []
    assert len(evaluate_companies(engine, SOFTWARE, 20.0)[2:]) == 20  # $0.40: within the cap
    assert len(sandbox.billable_calls()) == 1


def test_a_realtime_company_search_runs_in_the_background(sandbox: Any, engine: Engine) -> None:
    fetches = PendingFetches()
    background = BackgroundEngine(engine, fetches, waiter="the cell")
    with pytest.raises(FetchPendingError, match="realtime companies"):
        evaluate_companies(background, SOFTWARE, 2.0, None, None, "realtime", None, CELL)
    assert fetches.wait(30)
    table = evaluate_companies(background, SOFTWARE, 2.0, None, None, "realtime", None, CELL)
    assert len(table[2:]) == 2 and "Generect realtime" in table[0][0]
    assert len(sandbox.billable_calls()) == 1


def test_company_search_fills_the_account_list_template_with_rows(
    sandbox: Any, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from generect_excel.templates import build_template, write_workbook
    from generect_excel.workbook.refresher import refresh_workbook

    book = write_workbook(build_template("account-list"), tmp_path / "accounts.xlsx")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "home"))
    quote = refresh_workbook(book, engine, dry_run=True).quote
    assert quote is not None
    assert any("GENERECT_COMPANIES" in line and "$0.20" in line for line in quote.lines)
    summary = refresh_workbook(book, engine, confirm=lambda quote: True)
    assert not summary.errors, summary.errors
    accounts = load_workbook(book, data_only=True)["Accounts"]
    count = accounts["E25"].value
    assert isinstance(count, int) and count > 0
    assert accounts["A28"].value == "name" and accounts["C28"].value == "industry"
    listed = [accounts.cell(row, 1).value for row in range(29, 29 + 10)]
    assert all(listed[: min(10, count)]), listed
    assert {accounts.cell(row, 3).value for row in range(29, 29 + min(10, count))} == {
        "Software Development"
    }
    companies = [c for c in sandbox.billable_calls() if c["path"] == PATH_DATABASE_COMPANIES]
    assert len(companies) == 1 and companies[0]["body"]["limit_by"] == 10
    # A second refresh asks nothing again.
    before = len(sandbox.log_entries())
    refresh_workbook(book, engine, confirm=lambda quote: True)
    again = sandbox.log_entries()[before:]
    assert [e for e in again if e["path"] == PATH_DATABASE_COMPANIES] == []


def test_the_cli_lists_companies_once_counts_them_free_and_writes_csv(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import csv

    from generect_excel.cli import main
    from generect_excel.client import close_shared_clients

    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    monkeypatch.setenv("GENERECT_API_KEY", LIVE_KEY)
    criteria = tmp_path / "accounts.toml"
    criteria.write_text('Industry = "Software Development"\n"Company size" = "51-200"\n')
    try:
        assert main(["companies", str(criteria), "--dry-run", "--limit", "4"]) == 0
        assert "up to $0.08" in capsys.readouterr().out
        assert sandbox.log_entries() == []
        assert main(["companies", str(criteria), "--count"]) == 0
        count = int(capsys.readouterr().out.strip().replace(",", ""))
        out = tmp_path / "accounts.csv"
        for _ in range(2):
            assert main(["companies", str(criteria), "--limit", "4", "--csv", str(out)]) == 0
        with out.open(encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
        assert rows[0][:3] == ["name", "domain", "industry"] and len(rows) == 1 + min(4, count)
        assert [c["path"] for c in sandbox.billable_calls()] == [PATH_DATABASE_COMPANIES]
        assert main(["companies", str(criteria), "--fields", "name, revenue"]) == 1
        assert "Unknown company field: revenue" in capsys.readouterr().err
    finally:
        close_shared_clients()
