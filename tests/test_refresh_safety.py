"""Data safety of every write (issue 11): a failed refresh keeps what was bought, a workbook
open in another program or read-only is refused before anything is sent, and an unwritable
destination is one line, never a traceback.

Real parts: the sandbox over HTTP (requests counted from its log), real .xlsx files read back
with openpyxl, the CLI's ``main``. The tests run as root, whom permission bits do not stop, so
unwritable destinations are made in ways that hold for root too: a path whose parent is a
regular file, a folder that does not exist, a folder given as the file, and, for a read-only
mount, ``tempfile.mkstemp`` made to fail with EROFS (monkeypatched at the edge: the one call
that creates a file in the destination folder). A read-only file is ``chmod 444``: the check
reads the permission bits, which root has too. Lock files are plain files.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from generect_excel import _constants as C
from generect_excel.cli import main
from generect_excel.engine import Engine
from generect_excel.errors import GenerectError
from generect_excel.functions import run_search
from generect_excel.templates import write_template
from generect_excel.workbook.formulas import parse_reference
from generect_excel.workbook.refresher import refresh_workbook
from generect_excel.workbook.xlsxpatch import SPILL_NAME_PREFIX
from workbook_support import load, sandbox_settings, save

SHEET = "Lead list"
TABLE_ROWS = range(21, 21 + 2 + 25)  # status, header, up to 25 leads (the template's limit)
TABLE_COLUMNS = range(1, 12)


def _env(monkeypatch: pytest.MonkeyPatch, url: str, home: Path, key: str = "test_safety") -> None:
    monkeypatch.setenv("GENERECT_API_KEY", key)
    monkeypatch.setenv("GENERECT_BASE_URL", url)
    monkeypatch.setenv("GENERECT_HOME", str(home))
    monkeypatch.setenv("GENERECT_CONFIG", str(home / "no-config.toml"))


def _table(book: Path) -> list[list[object]]:
    ws = load(book, data_only=True)[SHEET]
    return [[ws.cell(row=r, column=c).value for c in TABLE_COLUMNS] for r in TABLE_ROWS]


def _spill_areas(book: Path) -> list[tuple[int, int, int, int]]:
    ws = load(book)[SHEET]
    return [
        parse_reference(d.attr_text).bounds
        for name, d in ws.defined_names.items()
        if name.startswith(SPILL_NAME_PREFIX)
    ]


def _yes(quote: object) -> bool:
    return True


# --------------------------------------------------------------------------- a failed refresh


def test_a_refresh_with_the_sandbox_stopped_keeps_every_bought_row(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    server = sandbox_factory()
    url = server.url
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    _env(monkeypatch, url, tmp_path / "mine")
    assert main(["refresh", str(book)]) == 0
    capsys.readouterr()
    before = _table(book)
    status = before[0][0]
    assert isinstance(status, str) and status.startswith("Generect · ")
    rows = sum(1 for row in before[2:] if row[0] is not None)
    assert rows > 5 and f"{rows} rows" in status
    fetched = status.split("fetched ")[1][:20]  # "2026-12-03 08:40 UTC"
    count = load(book, data_only=True)[SHEET]["B14"].value
    assert isinstance(count, int)
    assert len(server.billable_calls()) == 1
    # A colleague's copy (another store, nothing in it), the API unreachable.
    server.stop()
    _env(monkeypatch, url, tmp_path / "colleague")
    assert main(["refresh", str(book)]) == 1
    out = capsys.readouterr().out
    assert f"kept '{SHEET}'!A21 GENERECT_SEARCH: refresh failed (" in out
    assert f"it still shows the {rows} rows fetched {fetched}" in out
    assert f"kept '{SHEET}'!B14 GENERECT_COUNT" in out and f"Wrote {book}" in out
    after = _table(book)
    assert after[1:] == before[1:]  # the header and every one of the 25 bought rows
    kept = after[0][0]
    assert kept.startswith("Generect · refresh failed ")
    assert f"showing {rows} rows fetched {fetched}" in kept and "Cannot reach Generect" in kept
    assert load(book, data_only=True)[SHEET]["B14"].value == count
    assert _spill_areas(book) == [(1, 21, 11, 22 + rows)]  # the extent stays recorded
    # A second failure in a row still says when the rows were fetched.
    assert main(["refresh", str(book)]) == 1
    assert f"showing {rows} rows fetched {fetched}" in _table(book)[0][0]
    assert _table(book)[1:] == before[1:]


def test_a_lost_answer_keeps_the_rows_and_says_it_may_have_been_charged(
    sandbox, tmp_path: Path
) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    refresh_workbook(
        book, Engine(sandbox_settings(sandbox, tmp_path / "a", "live_a")), confirm=_yes
    )
    before = _table(book)
    sandbox.queue_faults(["drop"], path=C.PATH_DATABASE_SEARCH)
    engine = Engine(sandbox_settings(sandbox, tmp_path / "b", "live_b"))
    summary = refresh_workbook(book, engine, confirm=_yes)
    assert not summary.ok and summary.errors == []
    assert "outcome unknown, it may have been charged" in summary.kept[0]
    after = _table(book)
    assert after[1:] == before[1:]
    assert after[0][0].startswith("Generect · refresh outcome unknown (may have been charged) ")
    # The doubt is in the ledger at its worst case, as for any lost answer.
    assert engine.estimated("all") == (Decimal("0.50"), 1)


@pytest.mark.parametrize("spill", ["static", "dynamic"])
def test_a_refresh_refused_by_the_budget_keeps_the_table_in_either_spill_form(
    sandbox, tmp_path: Path, spill: str
) -> None:
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "a", "live_a"))
    refresh_workbook(book, engine, confirm=_yes, spill=spill)
    before = _table(book)
    formula = load(book)[SHEET]["A21"].value
    sandbox.reset()
    capped = sandbox_settings(sandbox, tmp_path / "b", "live_b", max_spend_per_request="0.01")
    summary = refresh_workbook(book, Engine(capped), confirm=_yes, spill=spill)
    assert sandbox.billable_calls() == [] and len(summary.kept) == 1
    after = _table(book)
    assert after[1:] == before[1:] and "refresh failed" in after[0][0]
    kept = load(book)[SHEET]["A21"].value
    if spill == "dynamic":  # still Excel's spilling formula over the same range
        assert (kept.ref, kept.text) == (formula.ref, formula.text)
    else:
        assert kept == formula


def test_a_file_showing_nothing_gets_the_rows_the_store_holds_when_its_refresh_fails(
    sandbox, tmp_path: Path
) -> None:
    wb = Workbook()
    ws = wb.active
    ws["A1"], ws["B1"], ws["C1"] = "Job titles", "Sales Director", 1
    ws["D1"] = "=GENERECT_SEARCH(A1:B1,3,,,,C1)"
    book = save(wb, tmp_path / "r.xlsx")
    home = tmp_path / "home"
    refresh_workbook(book, Engine(sandbox_settings(sandbox, home, "live_r")), confirm=_yes)
    bought = [[c.value for c in row] for row in load(book, data_only=True).active["D2:M5"]]
    ws["C1"] = 2  # a new refresh value, saved by openpyxl: the file shows no table now
    save(wb, book)
    sandbox.reset()
    capped = sandbox_settings(sandbox, home, "live_r", max_spend_per_request="0.01")
    summary = refresh_workbook(book, Engine(capped), confirm=_yes)
    assert sandbox.billable_calls() == []
    [kept] = summary.kept
    assert kept.startswith("Sheet!D1 GENERECT_SEARCH: refresh failed (May cost up to $0.06")
    assert kept.endswith("; it shows the rows stored earlier")
    shown = load(book, data_only=True).active
    assert shown["D1"].value.startswith("Generect · refresh failed ")
    assert [[c.value for c in row] for row in shown["D2:M5"]] == bought


def test_where_nothing_was_shown_the_error_shows_as_before(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    server = sandbox_factory()
    url = server.url
    server.stop()
    book = write_template("lead-list", tmp_path / "leads.xlsx")
    _env(monkeypatch, url, tmp_path / "home")
    assert main(["refresh", str(book)]) == 1
    assert "kept" not in capsys.readouterr().out
    values = load(book, data_only=True)[SHEET]
    assert values["A21"].value.startswith("#GENERECT! ")
    assert values["B14"].value.startswith("#GENERECT! ")


def test_a_live_search_whose_refresh_fails_shows_the_stored_rows(
    sandbox_factory, tmp_path: Path
) -> None:
    server = sandbox_factory()
    engine = Engine(sandbox_settings(server, tmp_path / "home"))
    criteria = [["Job titles", "Sales Director"], ["Location", "United States"]]
    first = run_search(engine, criteria, 5, None, None, None, "1")
    assert first.failure is None and len(first.value) == 7
    server.stop()
    again = run_search(engine, criteria, 5, None, None, None, "2")
    assert again.failure is not None
    assert again.value[1:] == first.value[1:]  # header and the 5 stored rows
    status = again.value[0][0]
    fetched = first.value[0][0].split("fetched ")[1][:20]
    assert status.startswith("Generect · refresh failed ")
    assert f"showing 5 rows fetched {fetched}" in status and "Cannot reach" in status
    # Another question, nothing stored for it: the error, as before.
    with pytest.raises(GenerectError, match="Cannot reach"):
        run_search(engine, criteria, 6, None, None, None, "2")


def test_a_realtime_cell_whose_background_refresh_fails_shows_the_stored_rows(
    sandbox_factory, tmp_path: Path
) -> None:
    from generect_excel.ledger import Origin
    from generect_excel.pending import BackgroundEngine, FetchPendingError, PendingFetches

    server = sandbox_factory()
    engine = Engine(sandbox_settings(server, tmp_path / "home"))
    fetches = PendingFetches()
    cell = BackgroundEngine(engine, fetches)
    origin = Origin("Book1", "Sheet1", "A21")
    criteria = [["Job titles", "CEO"]]

    def recalculate(refresh: str):  # the cell as Excel calls it: pending, then the outcome
        with pytest.raises(FetchPendingError):
            run_search(cell, criteria, 3, None, None, "realtime", refresh, origin)
        assert fetches.wait(60)
        return run_search(cell, criteria, 3, None, None, "realtime", refresh, origin)

    first = recalculate("1")
    assert first.failure is None and len(first.value) == 5
    server.stop()
    again = recalculate("2")
    assert again.failure is not None and again.value[1:] == first.value[1:]
    assert again.value[0][0].startswith("Generect realtime · refresh failed ")


# --------------------------------------------------------------------------- open or read-only


@pytest.fixture
def env(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings pointing at the sandbox; paths relative to tmp_path, as a user types them."""
    _env(monkeypatch, sandbox.url, tmp_path / "home")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("lock", "program"), [(".~lock.leads.xlsx#", "LibreOffice"), ("~$leads.xlsx", "Excel")]
)
def test_a_workbook_open_in_another_program_is_refused_before_anything_is_sent(
    env, sandbox, tmp_path: Path, capsys, lock: str, program: str
) -> None:
    book = write_template("lead-list", Path("leads.xlsx"))
    original = book.read_bytes()
    (tmp_path / lock).write_bytes(b"someone,host,...")
    assert main(["refresh", str(book)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{book} is open in {program}" in err and "-o OTHER.xlsx" in err and lock in err
    assert sandbox.log_entries() == [] and book.read_bytes() == original
    # --force does not override a lock: the other program would overwrite the refresh.
    assert main(["refresh", str(book), "--force"]) == 1
    assert sandbox.log_entries() == []
    # The way out it offers works: a copy elsewhere.
    assert main(["refresh", str(book), "-o", "copy.xlsx"]) == 0
    assert book.read_bytes() == original and (tmp_path / "copy.xlsx").exists()


def test_a_read_only_workbook_is_refused_unless_forced(
    env, sandbox, tmp_path: Path, capsys
) -> None:
    book = write_template("lead-list", Path("leads.xlsx"))
    book.chmod(0o444)
    original = book.read_bytes()
    assert main(["refresh", str(book)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{book} is read-only" in err
    assert "-o OTHER.xlsx" in err and "--force" in err
    assert sandbox.log_entries() == [] and book.read_bytes() == original
    assert main(["refresh", str(book), "--force"]) == 0
    assert book.read_bytes() != original and len(sandbox.billable_calls()) == 1
    assert book.stat().st_mode & 0o777 == 0o444  # still read-only, as its owner left it


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr (e2fsprogs)")
def test_an_immutable_workbook_is_refused_even_with_force(env, sandbox, tmp_path: Path, capsys):
    book = write_template("lead-list", Path("leads.xlsx"))
    original = book.read_bytes()
    made = subprocess.run(["chattr", "+i", str(book)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"this file system or user cannot set the immutable flag: {made.stderr!r}")
    try:
        for argv in (["refresh", str(book)], ["refresh", str(book), "--force"]):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"{book} cannot be changed" in err
            assert "-o OTHER.xlsx" in err and "--force" not in err
    finally:
        subprocess.run(["chattr", "-i", str(book)], check=True)
    assert sandbox.log_entries() == [] and book.read_bytes() == original


def test_new_refuses_to_replace_a_template_open_in_libreoffice(env, tmp_path: Path, capsys):
    book = write_template("lead-list", Path("mine.xlsx"))
    original = book.read_bytes()
    Path(".~lock.mine.xlsx#").write_text("someone")
    assert main(["new", "market-sizing", "-o", "mine.xlsx", "--force"]) == 1
    err = capsys.readouterr().err
    assert "mine.xlsx is open in LibreOffice" in err and "-o FILE" in err
    assert book.read_bytes() == original


# --------------------------------------------------------------------------- unwritable


def _eroFS(*args: object, **kwargs: object) -> object:
    raise OSError(errno.EROFS, os.strerror(errno.EROFS))


# (command line, the path the message must name, make it unwritable through mkstemp)
UNWRITABLE = {
    "refresh -o under a file": (["refresh", "{book}", "-o", "{file}/out.xlsx"], "{file}", False),
    "refresh -o missing folder": (
        ["refresh", "{book}", "-o", "{missing}/o.xlsx"],
        "{missing}",
        False,
    ),
    "refresh -o a folder": (["refresh", "{book}", "-o", "{dir}"], "{dir}", False),
    "refresh on a read-only mount": (["refresh", "{book}"], "{dir}", True),
    "refresh -o on a read-only mount": (["refresh", "{book}", "-o", "{dir}/o.xlsx"], "{dir}", True),
    "new -o under a file": (["new", "lead-list", "-o", "{file}/x.xlsx"], "{file}", False),
    "new -o missing folder": (["new", "lead-list", "-o", "{missing}/x.xlsx"], "{missing}", False),
    "new -o a folder": (["new", "lead-list", "-o", "{dir}", "--force"], "{dir}", False),
    "new -o on a read-only mount": (["new", "lead-list", "-o", "{dir}/x.xlsx"], "{dir}", True),
    "demo --dir a file": (["demo", "--dir", "{file}"], "{file}", False),
    "demo --dir under a file": (["demo", "--dir", "{file}/demo"], "{file}/demo", False),
    "demo --dir on a read-only mount": (["demo", "--dir", "{dir}"], "{dir}", True),
    # The CSV messages (check_output_folder/open_output) name the path at fault: the file that
    # stands where a folder should be.
    "search --csv under a file": (
        ["search", "{criteria}", "--csv", "{file}/x.csv"],
        "{file} is a file, not a folder",
        False,
    ),
    "spend --csv under a file": (
        ["spend", "--csv", "{file}/x.csv"],
        "{file} is a file, not a folder",
        False,
    ),
    "spend --csv missing folder": (
        ["spend", "--csv", "{missing}/x.csv"],
        "the folder {missing} does not exist",
        False,
    ),
}


@pytest.mark.parametrize("case", UNWRITABLE, ids=list(UNWRITABLE))
def test_every_command_that_writes_says_one_line_for_an_unwritable_destination(
    env, sandbox, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    argv, named, read_only_mount = UNWRITABLE[case]
    work = Path("work")
    work.mkdir()
    book = write_template("lead-list", work / "leads.xlsx")
    original = book.read_bytes()
    criteria = work / "criteria.toml"
    criteria.write_text('job_titles = ["CTO"]\n')
    (work / "a-file").write_text("not a folder")
    places = {
        "book": str(book),
        "file": str(work / "a-file"),
        "missing": str(work / "missing"),
        "dir": str(work),
        "criteria": str(criteria),
    }
    if read_only_mount:
        monkeypatch.setattr(tempfile, "mkstemp", _eroFS)
    before = sorted(p.name for p in work.iterdir())
    rc = main([part.format(**places) for part in argv])
    captured = capsys.readouterr()
    assert rc == 1, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    assert named.format(**places) in lines[0]
    assert book.read_bytes() == original
    assert sorted(p.name for p in work.iterdir()) == before  # no stray temporary file
    assert sandbox.billable_calls() == []
    if argv[0] == "refresh":
        assert sandbox.log_entries() == []  # not even a free count


# --------------------------------------------------------------------------- spend after purchases


def test_spend_and_balance_include_the_refreshs_own_purchases(sandbox, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet"
    ws["A1"], ws["B1"] = "Job titles", "Sales Director"
    ws["A2"], ws["B2"] = "Location", "United States"
    ws["D1"] = '=GENERECT_SPEND("all")'
    ws["D2"] = "=GENERECT_BALANCE()"
    for i in range(6):  # several purchases, so none can finish before the spend is read
        ws.cell(row=5, column=1 + 12 * i).value = f"=GENERECT_SEARCH(A1:B2,{i + 2})"
    book = save(wb, tmp_path / "spend.xlsx")
    engine = Engine(sandbox_settings(sandbox, tmp_path / "home", "live_spend"))
    summary = refresh_workbook(book, engine, confirm=_yes)
    assert summary.new == 6 and summary.amount_charged > 0
    values = load(book, data_only=True)["Sheet"]
    assert Decimal(str(values["D1"].value)) == summary.amount_charged
    assert Decimal(str(values["D2"].value)) == sandbox.balance("live_spend")
    assert sandbox.balance("live_spend") == Decimal(100) - summary.amount_charged
