"""``generect-excel spend``: the ledger as a table and as CSV, over a real store file."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from generect_excel.cli import main
from generect_excel.ledger import Charge, Origin
from generect_excel.store import CacheEntry, Store, UnknownOutcome


def _charge(n: int, when: datetime, amount: str, *, test_mode: bool = False) -> Charge:
    return Charge(
        charge_id=f"c{n}",
        time=when,
        endpoint="/api/v1/search/realtime/leads/"
        if n % 2
        else "/api/v1/search/database/leads/count/",
        mode="realtime" if n % 2 else "database",
        request={"job_titles": ["CTO"], "limit_by": 2},
        rows=2 if n % 2 else 0,
        results_count=120,
        amount_charged=Decimal(amount),
        test_mode=test_mode,
        account="fp",
        base_url="http://127.0.0.1:1",
        cache_key=f"k{n}",
        origin=Origin("Leads.xlsx", "-Q1" if test_mode else "Sheet1", f"A{n}"),
    )


def _entry(n: int, when: datetime) -> CacheEntry:
    return CacheEntry(
        key=f"k{n}",
        endpoint="/p",
        mode="database",
        base_url="http://127.0.0.1:1",
        account="fp",
        request="{}",
        answer={},
        amount_charged=Decimal("0"),
        fetched_at=when,
        refresh_token=None,
        billable=True,
        test_mode=False,
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GENERECT_HOME whose ledger holds charges today, 40 days ago, and a test-mode one."""
    home = tmp_path / "home"
    monkeypatch.setenv("GENERECT_HOME", str(home))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("GENERECT_API_KEY", raising=False)
    store = Store(home / "store.sqlite3")
    # Noon today on the local clock: "today" whatever the time zone.
    now = datetime.combine(date.today(), time(12)).astimezone().astimezone(UTC)
    old = now - timedelta(days=40)
    for n, (when, amount, test) in enumerate(
        [(old, "1.10", False), (now, "0.08", False), (now, "0.04", False), (now, "5", True)], 1
    ):
        store.save(_entry(n, when), _charge(n, when, amount, test_mode=test))
    return home


def test_table_and_totals(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spend"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "time",
        "(local)",
        "mode",
        "call",
        "rows",
        "charged",
        "test",
        "where",
    ]
    assert "[Leads.xlsx]Sheet1!A2" in out
    assert "4 call(s), charged $1.22 (plus $5.00 in test mode, not debited)" in out
    assert "Charged today $0.12" in out and "all time $1.22" in out


def test_since_filters_by_local_day(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    today = date.today().isoformat()
    assert main(["spend", "--since", today, "--until", today]) == 0
    out = capsys.readouterr().out
    assert "3 call(s), charged $0.12 (plus $5.00 in test mode, not debited)" in out


def test_csv_export(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "spend.csv"
    assert main(["spend", "--csv", str(out_file)]) == 0
    assert "wrote 4 ledger row(s)" in capsys.readouterr().err
    with out_file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["amount_charged"] for r in rows] == ["1.10", "0.08", "0.04", "5"]
    assert [r["test_mode"] for r in rows] == ["no", "no", "no", "yes"]
    assert rows[1]["cell"] == "A2" and rows[1]["workbook"] == "Leads.xlsx"
    assert sum(Decimal(r["amount_charged"]) for r in rows if r["test_mode"] == "no") == Decimal(
        "1.22"
    )
    # Text never becomes a live formula when the CSV is opened in Excel.
    assert rows[3]["sheet"] == "'-Q1"


def test_csv_that_cannot_be_written_is_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "spend.csv"
    assert main(["spend", "--csv", str(target)]) == 1
    err = capsys.readouterr().err
    # The path at fault is the missing folder (issue 11), named in full.
    assert err.startswith(f"error: Cannot write {target}: the folder {target.parent} does not")
    assert len(err.splitlines()) == 1


def test_empty_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "fresh"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    assert main(["spend"]) == 0
    assert "No charges recorded" in capsys.readouterr().out


def test_bad_date_is_a_usage_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["spend", "--since", "31/12/2026"])
    assert info.value.code == 2
    assert "expected a date like" in capsys.readouterr().err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["spend", "--help"])
    assert "Example: generect-excel spend" in capsys.readouterr().out


def test_an_unknown_outcome_is_shown_as_estimated_and_in_the_totals(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(home / "store.sqlite3")
    now = datetime.combine(date.today(), time(13)).astimezone().astimezone(UTC)
    lost = replace(_charge(5, now, "0.50"), rows=0, results_count=None, unknown_outcome=True)
    unknown = UnknownOutcome("k5", None, now, "OutcomeUnknownError", Decimal("0.50"), "c5")
    store.record_unknown(unknown, lost)
    assert main(["spend"]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if "A5" in line]
    assert "0.50 unknown (estimated)" in row
    assert (
        "5 call(s), charged $1.72 (includes $0.50 estimated for 1 unknown outcome: "
        "check the balance) (plus $5.00 in test mode, not debited)"
    ) in out
    assert "Charged today $0.62" in out and "all time $1.72" in out
    assert "all time includes $0.50 estimated for 1 unknown outcome" in out

    out_file = tmp_path / "spend.csv"
    assert main(["spend", "--csv", str(out_file)]) == 0
    with out_file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["outcome"] for r in rows] == ["charged"] * 4 + ["unknown (estimated)"]
    assert rows[4]["amount_charged"] == "0.50"


def test_a_lost_search_from_the_cli_is_not_sent_again_until_refreshed(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from generect_excel.client import close_shared_clients

    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    monkeypatch.setenv("GENERECT_API_KEY", "live_SECRET_spend_31ff")
    criteria = tmp_path / "directors.toml"
    criteria.write_text('seniorities = ["Director"]\n')
    try:
        sandbox.queue_faults(["drop"])
        for _ in range(2):  # the second run sends nothing
            assert main(["search", str(criteria), "--limit", "4"]) == 1
            err = capsys.readouterr().err
            assert "it may have been charged" in err and "generect-excel spend" in err
        assert len(sandbox.log_entries()) == 1
        assert main(["spend"]) == 0
        out = capsys.readouterr().out
        assert "0.08 unknown (estimated)" in out
        assert "includes $0.08 estimated for 1 unknown outcome" in out
        assert main(["search", str(criteria), "--limit", "4", "--refresh"]) == 0
        assert len(sandbox.log_entries()) == 2 and len(sandbox.billable_calls()) == 1
    finally:
        close_shared_clients()


def test_table_shows_money_in_dollars_and_the_csv_plain_numbers(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 11: the table printed 0.5, 0 and 0.04; a person reads $0.50, $0.00, $0.04.
    assert main(["spend"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:5]
    charged = [row.split()[5] for row in rows]  # time (2 words), mode, call, rows, charged
    assert charged == ["$1.10", "$0.08", "$0.04", "$5.00"]
    out_file = tmp_path / "spend.csv"
    assert main(["spend", "--csv", str(out_file)]) == 0
    assert "$" not in out_file.read_text(encoding="utf-8-sig")  # summable in a spreadsheet


def test_since_after_until_is_an_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spend", "--since", "2026-12-02", "--until", "2026-12-01"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # not an empty table that reads as "nothing was charged"
    assert captured.err == (
        "error: --since 2026-12-02 is after --until 2026-12-01: no day can match. "
        "Swap the two dates.\n"
    )


def test_a_ledger_of_many_pages_is_exported_whole_and_in_order(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from generect_excel import _constants as C

    store = Store(home / "store.sqlite3")
    start = datetime.now(UTC) - timedelta(days=3)
    extra = C.LEDGER_PAGE_ROWS * 2 + 7  # several pages, the last one short
    with store._transaction("planting a big ledger", write=True) as conn:
        for n in range(extra):
            # Pairs of rows at the same instant: a page may end between the two.
            when = start + timedelta(seconds=n // 2)
            store._add_charge(conn, replace(_charge(100 + n, when, "0.02"), charge_id=f"x{n}"))
    out_file = tmp_path / "big.csv"
    assert main(["spend", "--csv", str(out_file)]) == 0
    assert f"wrote {extra + 4} ledger row(s)" in capsys.readouterr().err
    with out_file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    planted = [r for r in rows if r["cell"].startswith("A") and int(r["cell"][1:]) >= 100]
    assert [r["cell"] for r in planted] == [f"A{100 + n}" for n in range(extra)]
    assert len({r["id"] for r in rows}) == len(rows) == extra + 4
    assert [r["time_utc"] for r in rows] == sorted(r["time_utc"] for r in rows)
    assert main(["spend"]) == 0
    table = capsys.readouterr().out
    assert f"{extra + 4} call(s), charged ${Decimal('0.02') * extra + Decimal('1.22')}" in table


def test_team_is_refused_on_ones_own_store(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spend", "--team"]) == 1
    err = capsys.readouterr().err
    assert "team store" in err and "GENERECT_STORE_URL" in err and len(err.splitlines()) == 1
