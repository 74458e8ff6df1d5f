"""The answer models: tolerant of the live API's mess, strict about what cannot be understood."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from generect_excel.errors import ProtocolError
from generect_excel.responses import Account, CountResult, SearchResult, body_snippet

PATH = "/api/v1/search/database/leads/"

# The seed page's example answer, plus the kind of extra fields real rows carry.
SEED_SEARCH = {
    "data": {
        "leads": [
            {"lead_id": "lead_abc123xyz", "first_name": "John", "last_name": "Doe", "title": "CEO"},
            {
                "id": 7,
                "full_name": "Ada Lovelace",
                "lead_company_name": "Analytical Engines",
                "company": {"name": "Analytical Engines", "headcount": 12},
                "jobs": [{"title": "CTO", "is_current": True}],
                "skills": ["math", "poetry"],
                "email": None,
            },
        ],
        "results_count": 1240,
    },
    "meta": {"amount_charged": 24.8},
}


def search(data: dict[str, Any] | None = None, meta: Any = None, **kw: Any) -> SearchResult:
    payload: dict[str, Any] = {"data": {"leads": [], **(data or {})}}
    if meta is not None:
        payload["meta"] = meta
    return SearchResult.from_api(payload, path=PATH, **kw)


def test_the_seed_example_is_read_with_every_lead_field_kept() -> None:
    result = SearchResult.from_api(SEED_SEARCH, path=PATH)
    assert result.results_count == 1240
    assert result.amount_charged == Decimal("24.8")
    assert result.amount_reported is True
    assert result.leads == SEED_SEARCH["data"]["leads"]  # raw rows, nested fields and all
    assert result.raw_meta == {"amount_charged": 24.8}
    assert result.test_mode is False


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (1240, 1240),
        (0, 0),
        ("1240", 1240),
        (" 1,240 ", 1240),
        (12.0, 12),
        ("within limit", "within limit"),
        ("  within limit ", "within limit"),
        ("", None),
        (None, None),
    ],
)
def test_results_count_accepts_ints_numeric_strings_and_words(wire: Any, expected: Any) -> None:
    assert search({"results_count": wire}).results_count == expected
    assert CountResult.from_api({"data": {"results_count": wire}}).results_count == expected


def test_results_count_missing_is_none() -> None:
    assert search().results_count is None
    assert CountResult.from_api({"data": {}, "meta": {"amount_charged": 0}}).results_count is None


@pytest.mark.parametrize("wire", [True, -1, 12.5, {"n": 1}, [3]])
def test_results_count_that_makes_no_sense_is_a_protocol_error(wire: Any) -> None:
    with pytest.raises(ProtocolError, match="results_count"):
        search({"results_count": wire})


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (0.02, Decimal("0.02")),
        (0, Decimal("0")),
        (24.8, Decimal("24.8")),
        ("0.04", Decimal("0.04")),
        (1e-05, Decimal("0.00001")),
        (3, Decimal("3")),
    ],
)
def test_amount_charged_becomes_an_exact_decimal(wire: Any, expected: Decimal) -> None:
    result = search(meta={"amount_charged": wire})
    assert result.amount_charged == expected
    assert isinstance(result.amount_charged, Decimal)
    assert result.amount_reported is True


def test_float_amounts_sum_exactly() -> None:
    # Decimal(0.1) would be 0.1000000000000000055...; Decimal(str(0.1)) is what was meant.
    total = sum((search(meta={"amount_charged": 0.1}).amount_charged for _ in range(3)), Decimal(0))
    assert total == Decimal("0.3")


@pytest.mark.parametrize("meta", [None, {}, {"amount_charged": None}])
def test_missing_amount_is_zero_and_flagged(meta: Any) -> None:
    payload: dict[str, Any] = {"data": {"leads": []}}
    if meta is not None:
        payload["meta"] = meta
    result = SearchResult.from_api(payload)
    assert result.amount_charged == Decimal(0)
    assert result.amount_reported is False


@pytest.mark.parametrize(
    "wire", [-0.01, "-1", "NaN", "nan", "Infinity", "abc", True, [1], {"x": 1}]
)
def test_amount_that_makes_no_sense_is_a_protocol_error(wire: Any) -> None:
    with pytest.raises(ProtocolError, match="amount_charged") as info:
        search(meta={"amount_charged": wire})
    assert info.value.path == PATH


def test_nan_literal_in_json_is_refused() -> None:
    payload = json.loads('{"data": {"leads": []}, "meta": {"amount_charged": NaN}}')
    with pytest.raises(ProtocolError):
        SearchResult.from_api(payload)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "not a JSON object"),
        ("ok", "not a JSON object"),
        ({}, "'data'"),
        ({"data": []}, "'data'"),
        ({"data": {"results_count": 3}}, "data.leads"),
        ({"data": {"leads": {}}}, "leads"),
        ({"data": {"leads": "none"}}, "leads"),
        ({"data": {"leads": [{"a": 1}, "oops"]}}, "lead 1 is a str"),
        ({"data": {"leads": [None]}}, "lead 0"),
        ({"data": {"leads": []}, "meta": [0.02]}, "'meta'"),
    ],
)
def test_wrong_shapes_are_protocol_errors_with_a_snippet(payload: Any, problem: str) -> None:
    with pytest.raises(ProtocolError) as info:
        SearchResult.from_api(payload, path=PATH)
    error = info.value
    assert problem in str(error)
    assert "\n" not in str(error) and len(str(error)) <= 120
    assert PATH in error.details
    assert "Body: " + body_snippet(payload)[:40] in error.details


def test_null_leads_mean_no_leads() -> None:
    assert SearchResult.from_api({"data": {"leads": None}}).leads == []


def test_count_answer() -> None:
    result = CountResult.from_api(
        {"data": {"results_count": 87}, "meta": {"amount_charged": 0.04}}, test_mode=True
    )
    assert (result.results_count, result.amount_charged, result.test_mode) == (
        87,
        Decimal("0.04"),
        True,
    )


@pytest.mark.parametrize("payload", [[], {"data": None}, {"data": {"results_count": 1}, "meta": 5}])
def test_count_wrong_shapes(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        CountResult.from_api(payload)


SPEC_ACCOUNT = {
    "data": {
        "id": "a1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7",
        "email": "jordan.ellis@microsoft.com",
        "plan": "Pro",
        "credits": {"balance": 5000, "used_this_month": 1234.5, "monthly_limit": 10000},
        "preview_tier": True,
    }
}


def test_account_from_the_spec_example() -> None:
    account = Account.from_api(SPEC_ACCOUNT)
    assert account.balance == Decimal("5000")
    assert account.used_this_month == Decimal("1234.5")
    assert account.monthly_limit == Decimal("10000")
    assert account.raw["plan"] == "Pro"


def test_account_partial_credits_are_none() -> None:
    account = Account.from_api({"data": {"credits": {"balance": "12.50"}}})
    assert account.balance == Decimal("12.50")
    assert account.used_this_month is None and account.monthly_limit is None


def test_account_legacy_users_me_shape() -> None:
    account = Account.from_api({"balance_platform": 8531, "max_credits": 10000, "email": "a@b.c"})
    assert account.balance == Decimal("8531")
    assert account.monthly_limit == Decimal("10000")
    assert account.raw["email"] == "a@b.c"


def test_an_overdrawn_balance_is_kept() -> None:
    assert Account.from_api({"data": {"credits": {"balance": -3}}}).balance == Decimal("-3")


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {},
        {"data": {"plan": "Pro"}},
        {"data": {"credits": [1]}},
        {"data": {"credits": {"balance": "NaN"}}},
        {"data": {"credits": {"balance": "lots"}}},
        {"data": {"credits": {"balance": False}}},
    ],
)
def test_account_wrong_shapes(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        Account.from_api(payload)


@pytest.mark.parametrize(
    "model",
    [
        SearchResult.from_api(SEED_SEARCH, test_mode=True),
        search({"results_count": "within limit"}, meta={"amount_charged": "0.04"}),
        search(meta={}),
        CountResult.from_api({"data": {"results_count": 5}, "meta": {"amount_charged": 0.04}}),
        CountResult.from_api({"data": {}}),
        Account.from_api(SPEC_ACCOUNT, test_mode=True),
        Account.from_api({"balance_platform": 1.1}),
    ],
)
def test_models_round_trip_through_json(model: Any) -> None:
    stored = json.dumps(model.model_dump(mode="json"))  # what the store writes
    restored = type(model).model_validate(json.loads(stored))
    assert restored == model
    assert type(restored.model_dump()) is dict


def test_decimals_travel_as_strings() -> None:
    dumped = search(meta={"amount_charged": 0.02}).model_dump(mode="json")
    assert dumped["amount_charged"] == "0.02"
    dumped = Account.from_api(SPEC_ACCOUNT).model_dump(mode="json")
    assert dumped["balance"] == "5000"


def test_models_are_frozen() -> None:
    result = search()
    with pytest.raises(ValueError):
        result.amount_charged = Decimal(1)  # type: ignore[misc]


def test_body_snippet_is_short_and_one_line() -> None:
    snippet = body_snippet(b"<html>\n<body>" + b"x" * 1000 + b"</body></html>")
    assert "\n" not in snippet
    assert len(snippet) <= 301
    assert snippet.startswith("<html> <body>")
    assert body_snippet({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert body_snippet(b"\xff\xfe") == "\ufffd\ufffd"
