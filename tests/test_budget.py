"""The budget: worst-case estimates and the caps, as a policy table."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from generect_excel.budget import (
    Estimate,
    check,
    dry_run_total,
    estimate_cost,
    format_money,
    worst_case_rows,
)
from generect_excel.errors import BudgetError

CAPS = SimpleNamespace(max_spend_per_request=Decimal("5"), max_spend_per_day=Decimal("25"))


@pytest.mark.parametrize(
    ("body", "kind", "mode", "expected"),
    [
        ({"job_titles": ["CTO"], "limit_by": 25}, "search", "database", "0.50"),
        ({"job_titles": ["CTO"], "limit_by": 25}, "search", "realtime", "1.00"),
        ({"job_titles": ["CTO"], "limit_by": 25, "include_full_profile": True}, "search",
         "realtime", "2.00"),
        ({"job_titles": ["CTO"]}, "search", "database", "48.00"),  # no limit: 2400 rows
        ({"job_titles": ["CTO"], "limit_by": 1000}, "count", "database", "0"),
        ({"job_titles": ["CTO"]}, "count", "realtime", "0.04"),
    ],
)  # fmt: skip
def test_estimate_cost(body: dict, kind: str, mode: str, expected: str) -> None:
    assert estimate_cost(body, kind, mode) == Decimal(expected)  # type: ignore[arg-type]


def test_estimate_cost_of_a_request_model() -> None:
    from generect_excel.models import build_request

    request = build_request("realtime", {"job_titles": ["CTO"], "limit_by": 10})
    assert estimate_cost(request, "search") == Decimal("0.40")
    assert worst_case_rows(request) == 10


def test_a_mapping_needs_a_mode() -> None:
    with pytest.raises(TypeError):
        estimate_cost({"limit_by": 1}, "search")


@pytest.mark.parametrize(
    ("estimate", "spent", "setting"),
    [
        ("5.01", "0", "max_spend_per_request"),
        ("48", "0", "max_spend_per_request"),
        ("1", "24.50", "max_spend_per_day"),
        ("0.04", "25", "max_spend_per_day"),
    ],
)
def test_breaches(estimate: str, spent: str, setting: str) -> None:
    with pytest.raises(BudgetError) as info:
        check(Decimal(estimate), Decimal(spent), CAPS, what="This search")
    error = info.value
    assert error.setting == setting  # type: ignore[attr-defined]
    assert error.estimate == Decimal(estimate)  # type: ignore[attr-defined]
    env = {"max_spend_per_request": "GENERECT_MAX_SPEND_PER_REQUEST",
           "max_spend_per_day": "GENERECT_MAX_SPEND_PER_DAY"}[setting]  # fmt: skip
    assert env in str(error)  # how to raise the cap, in the short message
    assert format_money(Decimal(estimate)) in str(error)
    assert setting in error.details and "Nothing was sent" in error.details
    assert len(str(error)) <= 120 and "…" not in str(error)


@pytest.mark.parametrize(
    ("estimate", "spent", "reserved", "cap", "says"),
    [
        ("0.50", "0.40", "0.80", "1", "($0.40 spent, $0.80 reserved by calls in flight)"),
        ("1", "24.50", "0", "25", "($24.50 spent)"),
        # Large amounts: the short form, still one cell-sized line.
        ("48", "9999.50", "1234.80", "10000", "($9999.50 spent, $1234.80 in flight)"),
    ],
)
def test_the_daily_cap_tells_spent_and_reserved_apart(
    estimate: str, spent: str, reserved: str, cap: str, says: str
) -> None:
    caps = SimpleNamespace(max_spend_per_request=Decimal("50"), max_spend_per_day=Decimal(cap))
    with pytest.raises(BudgetError) as info:
        check(Decimal(estimate), Decimal(spent), caps, reserved=Decimal(reserved))
    error = info.value
    assert says in str(error) and "GENERECT_MAX_SPEND_PER_DAY" in str(error)
    assert len(str(error)) <= 120 and "…" not in str(error)
    assert error.reserved == Decimal(reserved)  # type: ignore[attr-defined]
    assert f"reserved by paid calls in flight {format_money(Decimal(reserved))}" in error.details


def test_what_calls_in_flight_reserve_counts_against_the_day() -> None:
    check(Decimal("0.50"), Decimal("24"), CAPS, reserved=Decimal("0.50"))  # exactly the cap
    with pytest.raises(BudgetError):
        check(Decimal("0.50"), Decimal("24"), CAPS, reserved=Decimal("0.51"))


@pytest.mark.parametrize(
    ("estimate", "spent"),
    [("5", "0"), ("1", "24"), ("0", "100"), ("0.50", "0")],
)
def test_within_caps(estimate: str, spent: str) -> None:
    check(Decimal(estimate), Decimal(spent), CAPS)


def test_test_mode_ignores_caps() -> None:
    check(Decimal("1000"), Decimal("1000"), CAPS, test_mode=True)


def test_a_zero_cap_forbids_every_paid_call() -> None:
    caps = SimpleNamespace(max_spend_per_request=Decimal("0"), max_spend_per_day=Decimal("25"))
    with pytest.raises(BudgetError):
        check(Decimal("0.02"), Decimal("0"), caps)
    check(Decimal("0"), Decimal("0"), caps)  # free database counts still work


def test_dry_run_total() -> None:
    estimates = [
        Estimate("search", "database", Decimal("0.50"), 25),
        Estimate("search", "database", Decimal("1.00"), 50, cached=True),
        Estimate("count", "realtime", Decimal("0.04"), 0),
        Estimate("count", "database", Decimal("0"), 0),
        Estimate("search", "realtime", Decimal("4"), 100, test_mode=True),
    ]
    total = dry_run_total(estimates)
    assert (total.requests, total.cached, total.paid) == (5, 1, 2)
    assert total.cost == Decimal("0.54")
    assert total.refresh_cost == Decimal("1.54")
    assert total.summary() == "5 request(s) (1 cached): up to $0.54 now, $1.54 if all are refreshed"


@pytest.mark.parametrize(
    ("amount", "text"),
    [("0", "$0.00"), ("1.5", "$1.50"), ("0.004", "$0.004"), ("48", "$48.00"), ("0.040", "$0.04")],
)
def test_format_money(amount: str, text: str) -> None:
    assert format_money(Decimal(amount)) == text
