"""The operation registry: one description per Generect operation, checked against the spec."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from generect_excel import _constants as C
from generect_excel.budget import estimate_cost
from generect_excel.operations import OPERATIONS, by_path, operation

SPEC = Path("/work/shared/generect-api/openapi.yaml")


@pytest.fixture(scope="module")
def spec_paths() -> dict:
    if not SPEC.exists():
        pytest.skip("the published spec is not on this machine")
    return yaml.safe_load(SPEC.read_text())["paths"]


def test_every_operation_is_in_the_published_spec_with_its_method(spec_paths: dict) -> None:
    for (kind, mode), described in OPERATIONS.items():
        assert described.kind == kind and described.mode == mode
        assert described.path.endswith("/"), described.path  # Generect requires the slash
        assert described.method.lower() in spec_paths[described.path], described.name


def test_paths_are_unique_and_found_again_by_path() -> None:
    paths = [described.path for described in OPERATIONS.values()]
    assert len(paths) == len(set(paths))
    for described in OPERATIONS.values():
        assert by_path(described.path) is described
    assert by_path("/api/v1/not/described/") is None


@pytest.mark.parametrize(
    ("kind", "mode", "body", "expected"),
    [
        ("search", "database", {"limit_by": 10}, "0.20"),
        ("search", "realtime", {"limit_by": 10}, "0.40"),
        ("search", "database", {"limit_by": 10, "include_full_profile": True}, "0.40"),
        ("count", "database", {}, "0"),
        ("count", "realtime", {}, "0.04"),
        ("account", "", {}, "0"),
    ],
)
def test_worst_case_prices_come_from_the_descriptions(
    kind: str, mode: str, body: dict, expected: str
) -> None:
    assert operation(kind, mode).estimate(body) == Decimal(expected)
    if kind in ("search", "count"):  # the budget's public estimate reads the same description
        assert estimate_cost(body, kind, mode) == Decimal(expected)  # type: ignore[arg-type]


def test_a_search_without_a_limit_is_priced_at_the_largest_page() -> None:
    described = operation("search", "database")
    assert described.rows({}) == C.MAX_LIMIT
    assert described.estimate({}) == C.MAX_LIMIT * C.PRICE_DATABASE_ROW


def test_free_operations_are_not_billable_and_billable_ones_have_a_price() -> None:
    for described in OPERATIONS.values():
        worst = described.estimate({"limit_by": 1})
        assert described.billable is (worst > 0), described.name


def test_only_lead_searches_feed_the_register() -> None:
    assert {d.name for d in OPERATIONS.values() if d.register} == {
        "database lead search",
        "realtime lead search",
    }
