"""The worksheet functions' semantics (shared by udfs and the refresher), against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from generect_excel._constants import CELL_ERROR_PREFIX, CELL_MESSAGE_MAX
from generect_excel.engine import Engine
from generect_excel.errors import CriteriaError, InsufficientFundsError, ProtocolError
from generect_excel.functions import (
    DEFAULT_SEARCH_LIMIT,
    FUNCTION_NAMES,
    cell_error,
    check_arguments,
    evaluate_balance,
    evaluate_count,
    evaluate_search,
    evaluate_spend,
    evaluate_values,
    request_for_count,
    request_for_search,
    scalar,
)
from generect_excel.ledger import Origin
from workbook_support import sandbox_settings

CRITERIA = [["Job titles", "Sales Director"], ["Location", "United States"]]


@pytest.fixture
def engine(sandbox, tmp_path: Path) -> Engine:
    return Engine(sandbox_settings(sandbox, tmp_path / "home"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5.0, 5.0), ([[5.0]], 5.0), ([5.0], 5.0), ("  ", None), ([[None]], None)],
)
def test_scalar_accepts_one_cell_in_any_shape(value, expected) -> None:
    assert scalar(value, "limit") == expected


@pytest.mark.parametrize("value", [[[1.0, 2.0]], [[1.0], [2.0]], [[None, None], [None, None]], []])
def test_scalar_refuses_a_range_of_several_cells_or_none(value) -> None:
    with pytest.raises(CriteriaError, match="limit: expected one cell or value, got a"):
        scalar(value, "limit")


@pytest.mark.parametrize(
    ("limit", "offset", "criteria_limit", "expected"),
    [
        (None, None, None, (DEFAULT_SEARCH_LIMIT, None)),
        (10.0, None, None, (10, None)),
        ([[10.0]], 5.0, None, (10, 5)),
        (None, None, 40, (40, None)),  # the criteria's own limit wins over the default
        (7.0, None, 40, (7, None)),
    ],
)
def test_search_paging_defaults(limit, offset, criteria_limit, expected) -> None:
    block = CRITERIA + ([["limit_by", criteria_limit]] if criteria_limit else [])
    body = request_for_search(block, limit, offset).body()
    assert (body.get("limit_by"), body.get("offset_by")) == expected


@pytest.mark.parametrize(
    ("mode", "expected"), [(None, "database"), ("", "database"), ([["Realtime"]], "realtime")]
)
def test_mode_defaults_to_database(mode, expected) -> None:
    assert request_for_count(CRITERIA, mode).mode == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: request_for_count(None), "No criteria"),
        (lambda: request_for_count(CRITERIA, "fast"), "Mode 'fast' is not valid"),
        (lambda: request_for_search(CRITERIA, 0.5), "Limit"),
        (lambda: evaluate_values(None), "Name a field"),
        (lambda: evaluate_values("Shoe size"), "No value list"),
    ],
)
def test_bad_arguments_fail_before_any_call(call, message: str) -> None:
    with pytest.raises(CriteriaError, match=message):
        call()


# Every argument a function would refuse, with the cell's exact line: (function, arguments
# besides the criteria, message).
RANGE = "expected one cell or value, got a range of several cells. Point it at a single cell."
EMPTY_TEXT = (
    "empty text is not a number. Leave it out (or its cell empty) for the default, "
    "or give a whole number."
)
REFUSED = [
    ("GENERECT_SEARCH", {"limit": ""}, f"Limit: {EMPTY_TEXT}"),
    ("GENERECT_SEARCH", {"limit": [[10.0, 20.0], [30.0, 40.0]]}, f"limit: {RANGE}"),
    ("GENERECT_SEARCH", {"limit": [[None, None]]}, f"limit: {RANGE}"),
    ("GENERECT_SEARCH", {"limit": 2.5}, "Limit: 2.5 is not a whole number."),
    ("GENERECT_SEARCH", {"limit": "ten"}, "Limit: 'ten' is not a whole number."),
    ("GENERECT_SEARCH", {"limit": True}, "Limit: True is not a number."),
    ("GENERECT_SEARCH", {"limit": 0.0}, "Limit: 0 is out of range; use 1 to 2400"),
    (
        "GENERECT_SEARCH",
        {"limit": 5000.0},
        "Limit: 5000 is too many; use 1 to 2400 (a search without a company anchor)",
    ),
    ("GENERECT_SEARCH", {"offset": -1.0}, "Offset: -1 is out of range; use 0 to 2399"),
    ("GENERECT_SEARCH", {"offset": " "}, f"Offset: {EMPTY_TEXT}"),
    ("GENERECT_SEARCH", {"offset": 1.5}, "Offset: 1.5 is not a whole number."),
    ("GENERECT_SEARCH", {"offset": [[1.0], [2.0]]}, f"offset: {RANGE}"),
    (
        "GENERECT_SEARCH",
        {"mode": "sometimes"},
        'Mode \'sometimes\' is not valid: use "database" or "realtime".',
    ),
    ("GENERECT_SEARCH", {"mode": [["database", "realtime"]]}, f"mode: {RANGE}"),
    (
        "GENERECT_SEARCH",
        {"fields": "full_name, nonexistent_field"},
        "Unknown field 'nonexistent_field'. Unlisted field? Use raw:nonexistent_field. "
        "Fields: full_name, first_name (+111 more)",
    ),
    (
        "GENERECT_SEARCH",
        {"fields": [["full_name"], ["compny_name"]]},
        "Unknown field 'compny_name'. Did you mean company_name or company.name? "
        "Unlisted field? Use raw:compny_name.",
    ),
    ("GENERECT_SEARCH", {"refresh": [[1.0, 2.0]]}, f"refresh: {RANGE}"),
    (
        "GENERECT_COUNT",
        {"mode": "fast"},
        'Mode \'fast\' is not valid: use "database" or "realtime".',
    ),
    ("GENERECT_COUNT", {"refresh": [[1.0], [2.0]]}, f"refresh: {RANGE}"),
]


@pytest.mark.parametrize(("function", "args", "message"), REFUSED)
def test_every_refused_argument_costs_nothing_and_says_why(
    sandbox, engine: Engine, function: str, args: dict, message: str
) -> None:
    run = evaluate_search if function == "GENERECT_SEARCH" else evaluate_count
    with pytest.raises(CriteriaError) as caught:
        run(engine, CRITERIA, **args)
    assert cell_error(caught.value) == f"{CELL_ERROR_PREFIX} {message}"
    assert sandbox.log_entries() == []  # nothing sent at all, billable or free
    # The refresher's plan makes the very same checks, without an engine.
    with pytest.raises(CriteriaError) as planned:
        check_arguments(function, {"criteria": CRITERIA, **args})
    assert str(planned.value) == str(caught.value)


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        ("GENERECT_SPEND", {"period": "week"}, "Period 'week' is not valid"),
        ("GENERECT_SPEND", {"period": [["today", "month"]]}, f"period: {RANGE}"),
        ("GENERECT_VALUES", {"field": None}, "Name a field"),
        ("GENERECT_VALUES", {"field": "job_titles"}, 'No value list for "job_titles"'),
    ],
)
def test_free_functions_are_checked_the_same_way(function: str, args: dict, message: str) -> None:
    with pytest.raises(CriteriaError, match=message):
        check_arguments(function, args)


def test_check_arguments_knows_every_function_and_returns_the_request() -> None:
    assert set(FUNCTION_NAMES) == {
        "GENERECT_COUNT",
        "GENERECT_SEARCH",
        "GENERECT_SPEND",
        "GENERECT_BALANCE",
        "GENERECT_VALUES",
        "GENERECT_LEADS",
    }
    search = check_arguments("GENERECT_SEARCH", {"criteria": CRITERIA, "limit": 7.0})
    assert search is not None and search.body()["limit_by"] == 7
    assert check_arguments("GENERECT_COUNT", {"criteria": CRITERIA}) is not None
    assert check_arguments("GENERECT_SPEND", {"period": "month"}) is None
    assert check_arguments("GENERECT_BALANCE", {}) is None
    assert check_arguments("GENERECT_VALUES", {"field": "Seniority"}) is None
    assert check_arguments("GENERECT_LEADS", {}) is None
    leads = check_arguments("GENERECT_LEADS", {"criteria": CRITERIA})
    assert leads is not None and "limit_by" not in leads.body()


def test_a_raw_field_outside_the_catalogue_is_fetched_and_shown(sandbox, engine: Engine) -> None:
    table = evaluate_search(engine, CRITERIA, 3.0, None, "lead_id, raw:company_type")
    assert table[1] == ["lead_id", "raw:company_type"]
    types = [row[1] for row in table[2:]]
    assert len(types) == 3 and set(types) <= {row[0] for row in evaluate_values("company_types")}
    # A catalogued field the rows lack is an empty column, never an error after buying.
    again = evaluate_search(engine, CRITERIA, 3.0, None, "lead_id, certifications, company.domain")
    assert [row[1:] for row in again[2:]] == [[None, None]] * 3
    assert len(sandbox.billable_calls()) == 1  # the second asked the same question: stored


def test_values_spill_one_column() -> None:
    values = evaluate_values([["Seniority"]])
    assert values[:3] == [["owner"], ["founder"], ["c_suite"]]
    assert all(len(row) == 1 for row in values)


def test_count_search_spend_balance(sandbox, engine: Engine) -> None:
    count = evaluate_count(engine, CRITERIA)
    assert isinstance(count, int) and count > 0
    origin = Origin("book.xlsx", "Sheet", "A1")
    table = evaluate_search(engine, CRITERIA, 3.0, None, "full_name, job_title", origin=origin)
    assert table[0][0].startswith("Generect · ") and table[0][1] is None
    assert table[1] == ["full_name", "job_title"]
    assert len(table) == 2 + min(3, count)
    assert evaluate_search(engine, CRITERIA, 3.0, None, "full_name, job_title")[2:] == table[2:]
    assert len(sandbox.billable_calls()) == 1
    assert evaluate_spend(engine) == 0.0  # a test key's charges are never counted
    assert evaluate_spend(engine, "ALL") == 0.0
    with pytest.raises(CriteriaError, match="Period"):
        evaluate_spend(engine, "week")
    assert evaluate_balance(engine) == 100.0
    assert engine.charges()[0].origin == origin


def test_cell_error_is_one_prefixed_line() -> None:
    assert cell_error(InsufficientFundsError()) == (
        f"{CELL_ERROR_PREFIX} Insufficient funds in the Generect account. Top up, then refresh."
    )
    long = cell_error(CriteriaError("x" * 500))
    assert long.startswith(CELL_ERROR_PREFIX + " x") and "\n" not in long
    assert len(long) <= CELL_MESSAGE_MAX + len(CELL_ERROR_PREFIX) + 1


def test_unexpected_exceptions_become_a_generic_line(caplog) -> None:
    message = cell_error(KeyError("secret internals"))
    assert message.startswith(CELL_ERROR_PREFIX) and "secret" not in message
    assert "Traceback" not in message
    assert "unexpected error" in caplog.text


def test_a_balance_missing_from_the_answer_is_a_clear_error() -> None:
    class NoBalance:
        def account(self):
            class Account:
                balance = None

            return Account()

    with pytest.raises(ProtocolError, match="no balance"):
        evaluate_balance(NoBalance())


# --------------------------------------------------------------------------- recalculation


def test_a_parsed_request_is_reused_only_for_the_same_cells_and_types() -> None:
    first = request_for_search([["Job titles", 1.0]])
    assert request_for_search([["Job titles", 1.0]]) is first  # parsed once
    assert request_for_search([["Job titles", 1]]).body() == first.body()
    # TRUE equals 1 in Python, not in a criteria range: still refused.
    with pytest.raises(CriteriaError, match="TRUE is not a value here"):
        request_for_search([["Job titles", True]])
    with pytest.raises(CriteriaError, match="TRUE is not a value here"):
        request_for_search([["Job titles", True]])  # errors are never kept
    assert request_for_count([["Job titles", 1.0]]).body() == {"job_titles": ["1"]}


def test_recalculated_tables_are_equal_copies_with_their_own_status(sandbox, engine) -> None:
    fetched = evaluate_search(engine, CRITERIA, 3.0)
    stored = evaluate_search(engine, CRITERIA, 3.0)
    assert "from cache" not in fetched[0][0] and "from cache" in stored[0][0]
    assert stored[1:] == fetched[1:]
    stored[2][0] = "changed by the caller"
    stored.append(["an extra row"])
    again = evaluate_search(engine, CRITERIA, 3.0)
    assert again[2][0] == fetched[2][0] and len(again) == len(fetched)
    assert again[0] == stored[0]
    narrow = evaluate_search(engine, CRITERIA, 3.0, None, "full_name")
    assert narrow[1] == ["full_name"] and len(narrow[2]) == 1
    assert len(sandbox.billable_calls()) == 1
