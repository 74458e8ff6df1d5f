"""``generect-excel count`` and ``search`` against the sandbox: cache, budget, CSV, dry run."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generect_excel.cli import main
from generect_excel.client import close_shared_clients

KEY = "live_SECRET_cli_77aa"


@pytest.fixture
def env(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The environment a person's shell would have; yields a criteria file."""
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    monkeypatch.setenv("GENERECT_API_KEY", KEY)
    criteria = tmp_path / "directors.toml"
    criteria.write_text('seniorities = ["Director"]\nlocations = ["United States"]\n')
    yield criteria
    close_shared_clients()


def test_search_twice_pays_once(
    env: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(env), "--limit", "4"]) == 0
    first = capsys.readouterr()
    assert first.out.splitlines()[0].split()[:2] == ["full_name", "first_name"]
    assert len(first.out.splitlines()) == 5  # header + 4 leads
    assert "4 rows" in first.err and "from cache" not in first.err

    assert main(["search", str(env), "--limit", "4"]) == 0
    second = capsys.readouterr()
    assert second.out == first.out
    assert "from cache (no charge now)" in second.err
    assert len(sandbox.billable_calls()) == 1

    assert main(["search", str(env), "--limit", "4", "--refresh"]) == 0
    assert len(sandbox.billable_calls()) == 2
    assert KEY not in capsys.readouterr().err


def test_search_to_csv(
    env: Path, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "leads.csv"
    code = main(
        ["search", str(env), "--limit", "3", "--csv", str(out), "--fields", "full_name,job_title"]
    )
    assert code == 0
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["full_name", "job_title"] and len(rows) == 4
    assert all(row[0] for row in rows[1:])
    assert "wrote 3 lead(s)" in capsys.readouterr().err


def test_lead_text_never_becomes_a_formula_in_the_csv(
    env: Path, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles = ["=1+2", "+Sales Lead", "-VP Growth-", "@Head of People"]  # sandbox rows have them
    criteria = tmp_path / "hostile.json"
    criteria.write_text(json.dumps({"job_titles": titles}))
    out = tmp_path / "hostile.csv"
    args = ["search", str(criteria), "--limit", "60", "--csv", str(out), "--fields", "job_title"]
    assert main(args) == 0
    with out.open(encoding="utf-8-sig", newline="") as fh:
        written = [row[0] for row in list(csv.reader(fh))[1:]]
    assert {"'" + title for title in titles} <= set(written)
    assert not [cell for cell in written if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_a_csv_that_cannot_be_written_is_refused_before_buying(
    env: Path, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder"
    for bad, named in (
        (missing / "leads.csv", f"the folder {missing} does not exist"),  # the missing folder
        (missing / "deeper" / "leads.csv", f"the folder {missing} does not exist"),
        (tmp_path, "it is a folder"),
    ):
        assert main(["search", str(env), "--limit", "3", "--csv", str(bad)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: Cannot write {bad}: {named}")
        assert "Traceback" not in err and len(err.splitlines()) == 1
    assert sandbox.billable_calls() == []


def test_count(env: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", str(env)]) == 0
    captured = capsys.readouterr()
    assert int(captured.out.strip().replace(",", "")) > 0
    assert "database count" in captured.err
    assert sandbox.billable_calls() == []  # database counts are free
    assert main(["count", str(env), "--mode", "realtime"]) == 0
    assert len(sandbox.billable_calls()) == 1


def test_invalid_criteria_make_no_call(
    env: Path, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('seniorities = ["Galactic overlord"]\n')
    assert main(["search", str(bad)]) == 1
    assert "Galactic overlord" in capsys.readouterr().err
    assert sandbox.log_entries() == []


def test_budget_breach_makes_no_call(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GENERECT_MAX_SPEND_PER_REQUEST", "0.10")
    assert main(["search", str(env), "--limit", "25"]) == 1
    err = capsys.readouterr().err
    assert "error: May cost up to $0.50" in err and "GENERECT_MAX_SPEND_PER_REQUEST" in err
    assert sandbox.log_entries() == []


def test_dry_run_sends_nothing(env: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(env), "--limit", "10", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == (
        "database search: up to $0.20; fetching afresh: up to $0.20"
    )
    main(["search", str(env), "--limit", "10"])
    capsys.readouterr()
    assert main(["search", str(env), "--limit", "10", "--dry-run"]) == 0
    assert "free now (answer stored)" in capsys.readouterr().out
    assert len(sandbox.log_entries()) == 1


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--fields", "full_name,nonexistent_field"], 1, "Use raw:nonexistent_field"),
        (["--fields", "full_name,nonexistent_field", "--dry-run"], 1, "Unknown field"),
        (["--limit", "0"], 1, "Limit: 0 is out of range"),
        (["--offset", "-1"], 1, "Offset: -1 is out of range"),
        (["--limit", ""], 2, "--limit: invalid int value"),
        (["--limit", "2.5"], 2, "--limit: invalid int value"),
        (["--mode", "sometimes"], 2, "--mode: invalid choice"),
    ],
)
def test_a_search_that_would_be_refused_sends_nothing(
    env: Path,
    sandbox: Any,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code: int,
    words: str,
) -> None:
    if code == 2:  # argparse's own refusal: usage on stderr, exit 2
        with pytest.raises(SystemExit) as caught:
            main(["search", str(env), *extra])
        assert caught.value.code == 2
    else:
        assert main(["search", str(env), *extra]) == 1
    assert words in capsys.readouterr().err
    assert sandbox.log_entries() == []


def test_a_raw_field_is_fetched_and_shown(
    env: Path, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "types.csv"
    args = ["search", str(env), "--limit", "3", "--fields", "lead_id, raw:company_type"]
    assert main([*args, "--csv", str(out)]) == 0
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["lead_id", "raw:company_type"] and len(rows) == 4
    assert all(row[1] for row in rows[1:])  # the sandbox's database rows carry company_type
    assert len(sandbox.billable_calls()) == 1


def test_a_test_key_count_says_priced_not_debited_like_the_status_line(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GENERECT_API_KEY", "test_cli_wording")
    assert main(["count", str(env), "--mode", "realtime"]) == 0
    err = capsys.readouterr().err
    assert "Generect realtime count · $0.04 priced, not debited · " in err
    assert "charged" not in err and err.rstrip().endswith("TEST MODE")
    (entry,) = sandbox.billable_calls()
    assert entry["test_mode"] and entry["debited"] == 0


def test_a_lost_answer_is_one_line_in_the_cli_words(
    env: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.queue_faults(["drop"])  # sent, charged, the answer cut off mid-body
    assert main(["search", str(env), "--limit", "3"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: Answer lost: it may have been charged (up to $0.06")
    assert "--refresh" in line and "refresh value" not in line
    sent = len(sandbox.log_entries())
    # A plain re-run does not buy it blindly: the same line, nothing sent.
    assert main(["search", str(env), "--limit", "3"]) == 1
    assert capsys.readouterr().err.splitlines() == [line]
    assert len(sandbox.log_entries()) == sent
    assert main(["search", str(env), "--limit", "3", "--refresh"]) == 0  # the CLI's way
    assert len(sandbox.billable_calls()) == 1


def test_ctrl_c_while_a_paid_search_is_in_flight_keeps_its_possible_charge(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from decimal import Decimal

    from generect_excel.store import Store

    sandbox = sandbox_factory(latency=1.0)
    home = tmp_path / "home"
    criteria = tmp_path / "directors.toml"
    criteria.write_text('seniorities = ["Director"]\n')
    env = {
        **os.environ,
        "GENERECT_HOME": str(home),
        "GENERECT_CONFIG": str(tmp_path / "absent.toml"),
        "GENERECT_BASE_URL": sandbox.url,
        "GENERECT_API_KEY": KEY,
    }
    run = "import sys; from generect_excel.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", run, "search", str(criteria), "--limit", "5"]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + 60
        while sandbox.in_flight(KEY) == 0:  # the request is at the server
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err
    while sandbox.in_flight(KEY):
        time.sleep(0.01)
    time.sleep(0.2)
    assert Decimal(100) - sandbox.balance(KEY) == Decimal("0.10")  # the server charged it
    [row] = Store(home / "store.sqlite3").charges()
    assert row.unknown_outcome and row.amount_charged == Decimal("0.10")
    sent = len(sandbox.log_entries())
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "--refresh" in again.stderr
    assert len(sandbox.log_entries()) == sent  # not bought again blindly
