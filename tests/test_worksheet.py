"""The registry of worksheet functions: what the adapter, refresher, ribbon and templates read."""

from __future__ import annotations

import inspect
from importlib import import_module

from generect_excel import functions
from generect_excel.operations import OPERATIONS
from generect_excel.worksheet import (
    AFTER_PURCHASES,
    REFRESHABLE,
    SPILLING,
    WORKSHEET_FUNCTIONS,
)


def test_each_function_names_a_check_and_an_evaluation_that_exist() -> None:
    for name, described in WORKSHEET_FUNCTIONS.items():
        module = import_module(f"generect_excel.{described.module}")
        check = getattr(module, described.check)
        # The check takes exactly the function's public arguments, by name.
        parameters = inspect.signature(check).parameters.values()
        positional = tuple(p.name for p in parameters if p.kind is not p.KEYWORD_ONLY)
        assert positional == described.arguments, name
        # A buying function's check also names the sheet's rows when told where the range is.
        assert ("origin" in inspect.signature(check).parameters) is described.buys, name
        evaluate = getattr(module, described.evaluate)
        assert tuple(inspect.signature(evaluate).parameters) == ("engine", "args", "origin")


def test_a_function_that_buys_calls_a_described_operation_with_mode_and_refresh() -> None:
    kinds = {kind for kind, _ in OPERATIONS}
    for name, described in WORKSHEET_FUNCTIONS.items():
        if described.buys:
            assert described.kind in kinds, name
            # A refresh argument, so the ribbon can ask again (GENERECT_ENRICH and
            # GENERECT_EMAIL take ids or a lead instead of criteria and mode).
            assert "refresh" in described.arguments, name
            assert not described.in_wizard, name  # a half-typed formula must not buy


def test_the_derived_sets_are_todays() -> None:
    assert {"GENERECT_SEARCH", "GENERECT_VALUES", "GENERECT_LEADS"} <= SPILLING
    assert {"GENERECT_COUNT", "GENERECT_SEARCH"} <= REFRESHABLE
    assert {"GENERECT_SPEND", "GENERECT_BALANCE", "GENERECT_LEADS"} == AFTER_PURCHASES
    assert REFRESHABLE.isdisjoint(AFTER_PURCHASES)


def test_the_excel_functions_have_the_registrys_signatures() -> None:
    udfs = import_module("generect_excel.udfs")
    for name, described in WORKSHEET_FUNCTIONS.items():
        parameters = tuple(inspect.signature(getattr(udfs, name)).parameters)
        expected = (*described.arguments, "caller") if described.buys else described.arguments
        assert parameters == expected, name


def test_check_arguments_refuses_before_any_call() -> None:
    import pytest

    from generect_excel.errors import CriteriaError

    with pytest.raises(CriteriaError):
        functions.check_arguments("GENERECT_SEARCH", {"criteria": None})
    request = functions.check_arguments("GENERECT_COUNT", {"criteria": [["Job titles", "CEO"]]})
    assert request is not None and request.body()["job_titles"] == ["CEO"]
