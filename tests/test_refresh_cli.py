"""``generect-excel refresh``: the command, its refusals, and a kill during the write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generect_excel.cli import main
from generect_excel.formulas.xlsxpatch import WRITE_PAUSE_ENV
from generect_excel.templates import write_template
from workbook_support import load

# The whole command as a user runs it, in a fresh interpreter.
RUN_CLI = "import sys; from generect_excel.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def env(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's settings come from the environment: point it at the sandbox."""
    values = {
        "GENERECT_API_KEY": "test_cli",
        "GENERECT_BASE_URL": sandbox.url,
        "GENERECT_HOME": str(tmp_path / "home"),
        "GENERECT_CONFIG": str(tmp_path / "no-config.toml"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return write_template("lead-list", tmp_path / "leads.xlsx")


def test_refresh_then_nothing_new(env, sandbox, book: Path, capsys) -> None:
    assert main(["refresh", str(book)]) == 0
    out = capsys.readouterr().out
    assert "1 fetched now" not in out and "2 fetched now" in out
    assert f"Wrote {book}" in out
    assert main(["refresh", str(book)]) == 0
    assert "0 fetched now" in capsys.readouterr().out
    assert len(sandbox.billable_calls()) == 1


def test_dry_run_lists_queries(env, sandbox, book: Path, capsys) -> None:
    original = book.read_bytes()
    assert main(["refresh", str(book), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "'Lead list'!B14" in out and "GENERECT_COUNT" in out and "database" in out
    assert "worst case" in out and "Dry run" in out
    assert book.read_bytes() == original and sandbox.billable_calls() == []


def test_refused_without_yes_when_not_on_a_terminal(
    env, sandbox, book: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("GENERECT_API_KEY", "live_cli")
    monkeypatch.setenv("GENERECT_CONFIRM_ABOVE", "0.10")
    original = book.read_bytes()
    assert main(["refresh", str(book)]) == 1
    err = capsys.readouterr().err
    assert "pass --yes" in err and "$0.50" in err
    assert main(["refresh", str(book), "--yes", "--max-spend", "0.20"]) == 1
    assert "over --max-spend $0.20" in capsys.readouterr().err
    assert book.read_bytes() == original and sandbox.billable_calls() == []
    assert main(["refresh", str(book), "--yes", "--max-spend", "$1"]) == 0
    assert len(sandbox.billable_calls()) == 1


def test_output_option_and_exit_status_for_formula_errors(env, tmp_path: Path, capsys) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = '=GENERECT_SPEND("someday")'
    src = tmp_path / "bad.xlsx"
    wb.save(src)
    original = src.read_bytes()
    out = tmp_path / "out.xlsx"
    assert main(["refresh", str(src), "-o", str(out)]) == 1
    assert "error Sheet!A1 GENERECT_SPEND: #GENERECT! Period" in capsys.readouterr().out
    assert src.read_bytes() == original
    assert load(out, data_only=True).active["A1"].value.startswith("#GENERECT!")


def test_bad_arguments(env, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["refresh", "x.xlsx", "--max-spend", "lots"])
    assert main(["refresh", str(tmp_path / "missing.xlsx")]) == 1
    assert "No such workbook" in capsys.readouterr().err


def _wait_for_temp_file(folder: Path, name: str, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(folder.glob(f".{name}.*.tmp"))
        if found:
            return found[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the refresh never started writing")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_during_the_write_leaves_the_original_intact(
    env, sandbox, book: Path, how: str
) -> None:
    original = book.read_bytes()
    child_env = {**os.environ, **env, WRITE_PAUSE_ENV: "30"}
    with subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "refresh", str(book)],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            _wait_for_temp_file(book.parent, book.name, process)
            process.send_signal(getattr(signal, how))
            _, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert book.read_bytes() == original
    assert load(book)["Lead list"]["A1"].value  # still opens
    if how == "SIGINT":
        assert process.returncode == 130, err
        assert not list(book.parent.glob(".leads.xlsx.*.tmp"))  # cleaned up on Ctrl+C
    # What was fetched before the kill is in the store: the next run completes for free.
    assert len(sandbox.billable_calls()) == 1
    assert main(["refresh", str(book)]) == 0
    assert load(book, data_only=True)["Lead list"]["A22"].value == "full_name"
    assert len(sandbox.billable_calls()) == 1


def test_a_workbook_without_generect_formulas_is_left_alone(env, tmp_path: Path, capsys) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "=SUM(1,2)"
    src = tmp_path / "plain.xlsx"
    wb.save(src)
    original = src.read_bytes()
    assert main(["refresh", str(src)]) == 0
    assert "No GENERECT_* formula in plain.xlsx" in capsys.readouterr().out
    assert src.read_bytes() == original


def test_dynamic_spill_option(env, book: Path) -> None:
    assert main(["refresh", str(book), "--spill", "dynamic"]) == 0
    anchor = load(book)["Lead list"]["A21"].value
    assert anchor.ref.startswith("A21:K") and anchor.text.startswith("=GENERECT_SEARCH(")


# -- killed while paid calls are in flight (issue 10) -----------------------------------------

LIVE_KEY = "live_cli_crash"  # charged: the sandbox's balance says what was bought
SEARCH_COLUMNS = "DEFGHIJ"  # seven distinct searches, limits 1..7, $0.02 a row


def _seven_searches(tmp_path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws["A1"], ws["B1"] = "Job titles", "Sales Director"
    ws["A2"], ws["B2"] = "Location", "United States"
    for limit, column in enumerate(SEARCH_COLUMNS, start=1):
        ws[f"{column}1"] = f'=GENERECT_SEARCH(A1:B2,{limit},0,"full_name",,C1)'
    book = tmp_path / "seven.xlsx"
    wb.save(book)
    return book


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@pytest.mark.parametrize("answered", [0, 3, 7])
def test_killed_while_paid_calls_are_in_flight_loses_no_charge(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: int
) -> None:
    from decimal import Decimal

    from generect_excel.client import close_shared_clients
    from generect_excel.store import Store

    sandbox = sandbox_factory(latency=0.6)
    env = {
        "GENERECT_API_KEY": LIVE_KEY,
        "GENERECT_BASE_URL": sandbox.url,
        "GENERECT_HOME": str(tmp_path / "home"),
        "GENERECT_CONFIG": str(tmp_path / "no-config.toml"),
        "GENERECT_MAX_PARALLEL": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    book = _seven_searches(tmp_path)
    original = book.read_bytes()
    with subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "refresh", str(book), "--yes"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            _wait(
                lambda: (
                    len(sandbox.log_entries()) >= answered
                    and (sandbox.in_flight(LIVE_KEY) > 0 or answered == 7)
                ),
                "the refresh never got that far",
            )
            process.kill()
        finally:
            process.kill()
            process.communicate()
    _wait(lambda: sandbox.in_flight(LIVE_KEY) == 0, "requests still at the server")
    time.sleep(0.2)  # the server's log line follows its answer
    # The workbook: untouched (or, had the kill come after the write, fully refreshed).
    if book.read_bytes() != original:
        values = load(book, data_only=True)["Leads"]
        assert all(values[f"{c}2"].value == "full_name" for c in SEARCH_COLUMNS)
    charged = Decimal(100) - sandbox.balance(LIVE_KEY)
    bought = [e["body"] for e in sandbox.billable_calls()]
    assert charged > 0 and bought

    store = Store(tmp_path / "home" / "store.sqlite3")  # the next process to open it
    rows = store.charges()
    assert sum((r.amount_charged for r in rows), Decimal(0)) >= charged  # known + unknown
    assert all(body in [r.request for r in rows] for body in bought)
    unknown = [r.request for r in rows if r.unknown_outcome]

    # A plain re-run buys none of the unknown ones again, and says so in their cells.
    before = len(sandbox.log_entries())
    code = main(["refresh", str(book), "--yes"])
    close_shared_clients()
    assert code == (1 if unknown else 0)
    resent = [e["body"] for e in sandbox.log_entries()[before:]]
    assert not [body for body in resent if body in unknown]
    assert len(resent) == 7 - len(rows)  # the never-sent ones, once each
    values = load(book, data_only=True)["Leads"]
    lost = [
        c for c in SEARCH_COLUMNS if str(values[f"{c}1"].value).startswith("#GENERECT! Answer lost")
    ]
    assert len(lost) == len(unknown)

    # Asking for a refresh (the formulas' refresh cell) sends them.
    wb = load(book)
    wb["Leads"]["C1"] = 1
    wb.save(book)
    before = len(sandbox.log_entries())
    assert main(["refresh", str(book), "--yes"]) == 0
    close_shared_clients()
    resent = [e["body"] for e in sandbox.log_entries()[before:]]
    assert all(body in resent for body in unknown)
    rows = store.charges()
    assert sum((r.amount_charged for r in rows), Decimal(0)) >= Decimal(100) - sandbox.balance(
        LIVE_KEY
    )
