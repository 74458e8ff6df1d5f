"""The error tree: short cell-ready messages, readable field maps."""

from __future__ import annotations

import pytest

from generect_excel import errors
from generect_excel.errors import (
    CRITERIA_PROBLEMS_HINT,
    APIError,
    APIStatusError,
    CriteriaError,
    GenerectError,
    format_detail,
    one_line,
)


def all_error_classes():
    seen, todo = [], [GenerectError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in seen if c.__module__ == errors.__name__]


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_default_messages_are_one_short_line(cls):
    err = cls() if cls is not CriteriaError else cls("bad")
    text = str(err)
    assert text and "\n" not in text and len(text) <= 120


def test_long_message_is_folded_and_details_kept():
    long = "word " * 100 + "\nsecond line"
    err = GenerectError(long)
    assert len(str(err)) <= 120 and "\n" not in str(err)
    assert err.details == long


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (
            {"company_headcounts": ["Object with name=999 does not exist."]},
            "company_headcounts: Object with name=999 does not exist",
        ),
        ({"a": "x.", "b": ["y", "z"]}, "a: x; b: y; z"),
        ("Insufficient funds in the account.", "Insufficient funds in the account"),
        (["one", "two"], "one; two"),
        (None, ""),
    ],
)
def test_format_detail(detail, expected):
    assert format_detail(detail) == expected


def test_criteria_error_counts_more_problems():
    err = CriteriaError(["first problem", "second", "third"])
    assert str(err) == f"first problem (+2 more: {CRITERIA_PROBLEMS_HINT})"
    assert err.details == "first problem\nsecond\nthird"


def test_status_error_carries_status_and_detail():
    err = errors.BadRequestError("x", detail={"f": ["m"]}, path="/p/")
    assert isinstance(err, APIStatusError) and isinstance(err, APIError)
    assert err.status_code == 400 and err.detail == {"f": ["m"]} and err.path == "/p/"
    assert errors.ServerError(status_code=503).status_code == 503


def test_one_line():
    assert one_line("a\n b\tc") == "a b c"
    assert one_line("x" * 200, 10) == "x" * 9 + "…"
