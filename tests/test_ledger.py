"""The ledger's helpers: CSV cells that never become formulas."""

from __future__ import annotations

import pytest

from generect_excel.cli.ledger_view import csv_safe


@pytest.mark.parametrize(
    "text", ["=1+2", "+Sales Lead", "-VP Growth-", "@Head of People", "\t=1+2", "\r=1+2"]
)
def test_text_a_spreadsheet_would_run_gets_the_text_marker(text: str) -> None:
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Head of Sales", "", "'quoted", 3, 0.5, None, True])
def test_everything_else_is_left_alone(value: object) -> None:
    assert csv_safe(value) == value
