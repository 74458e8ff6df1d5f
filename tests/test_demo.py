"""``generect-excel demo``: two filled workbooks from the built-in sandbox, the user's store untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from generect_excel.cli import main
from generect_excel.cli.demo import DEMO_HOME, DEMO_TEMPLATES, run_demo
from workbook_support import load


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with a real key and a store of their own, which the demo must never use."""
    home = tmp_path / "user-home"
    monkeypatch.setenv("GENERECT_HOME", str(home))
    monkeypatch.setenv("GENERECT_API_KEY", "live_users_own_key")
    monkeypatch.setenv("GENERECT_BASE_URL", "https://api.generect.com")
    return home


def test_demo_fills_the_lead_list_and_market_sizing(tmp_path: Path, user_home: Path) -> None:
    steps: list[str] = []
    result = run_demo(tmp_path / "demo", progress=steps.append)
    assert [p.name for p in result.workbooks] == [f"{name}.xlsx" for name in DEMO_TEMPLATES]
    assert all(s.ok and s.test_mode for s in result.summaries)
    # Priced like Generect prices it (the search), never debited; the counts are free.
    assert [s.amount_charged > 0 for s in result.summaries] == [True, False]
    assert steps[0].startswith(
        "Sandbox (offline imitation of the Generect API) on http://127.0.0.1:"
    )
    leads = load(result.workbooks[0], data_only=True)["Lead list"]
    assert leads["A22"].value == "full_name"
    assert result.summaries[0].rows == 25
    names = [leads.cell(row=r, column=1).value for r in range(23, 48)]
    assert all(isinstance(n, str) and n for n in names)
    assert isinstance(leads["B14"].value, int) and leads["B14"].value >= 25
    sizing = load(result.workbooks[1], data_only=True)["Market sizing"]
    counts = [sizing.cell(row=r, column=c).value for r in range(7, 12) for c in range(2, 7)]
    assert all(isinstance(n, int) for n in counts) and sum(counts) > 0
    # The demo's own store, under the demo folder; the user's is never created.
    assert (tmp_path / "demo" / DEMO_HOME / "store.sqlite3").exists()
    assert not user_home.exists()


def test_demo_command_prints_summaries_and_paths(tmp_path: Path, user_home: Path, capsys) -> None:
    folder = tmp_path / "cli-demo"
    assert main(["demo", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "lead-list.xlsx:" in out and "market-sizing.xlsx:" in out
    assert "priced, not debited (test key)" in out
    for name in DEMO_TEMPLATES:
        assert str((folder / f"{name}.xlsx").resolve()) in out
    assert not user_home.exists()
