"""Issue 11, "messages that stop short" and "all problems at once": one test per message.

Each test reads a message the way a newcomer meets it (a CLI run, a cell's line, an exception
from the core) and asserts what a person needs in it: the closest valid value, the path at
fault, the advice kept whole, every problem in one pass.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from generect_excel._constants import CELL_ERROR_PREFIX, CELL_MESSAGE_MAX
from generect_excel.cli import main
from generect_excel.criteria import criteria_from_block
from generect_excel.errors import (
    CRITERIA_PROBLEMS_HINT,
    CriteriaError,
    GenerectError,
    SettingsError,
    StoreError,
    shorten,
)
from generect_excel.functions import cell_error
from generect_excel.settings import ENV_VARS, load_settings
from generect_excel.store import Store
from generect_excel.suggest import closest
from generect_excel.templates import write_template
from workbook_support import save

# The block of the issue: a misspelt label, a misspelt industry and a limit out of range.
ISSUE_BLOCK = [
    ["Job title", "CEO"],
    ["Seniorty", "CXO"],
    ["Industry", "Sofware"],
    ["Limit", 99999],
]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No key, an empty home, no config file: what a fresh install sees."""
    monkeypatch.delenv("GENERECT_API_KEY", raising=False)
    monkeypatch.delenv("GENERECT_BASE_URL", raising=False)
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


def _problems(block: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(CriteriaError) as info:
        criteria_from_block(block, **kwargs)
    return info.value.problems


# -- suggestions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "typed", "suggested"),
    [
        ("Industry", "Sofware", "Software Development"),
        ("Industry", "Finanical Services", "Financial Services"),
        ("Seniority", "Drector", "director"),
        ("Seniority", "Seniorr", "senior"),
        ("Company type", "Privat", "Privately Held"),
        ("Company type", "Pubic", "Public Company"),
    ],
)
def test_vocabulary_typos_get_the_closest_values(label: str, typed: str, suggested: str) -> None:
    (problem,) = _problems([[label, typed], ["Job title", "CEO"]])
    assert problem.startswith(f'{label} (row 1 of the criteria): "{typed}" is not a valid ')
    assert f'did you mean "{suggested}"' in problem


def test_labels_values_and_settings_share_one_suggestion_helper() -> None:
    # Labels compare whole spellings; values of several words also word by word.
    assert closest("seniorty", ["seniority", "senior"], words=False) == ["seniority", "senior"]
    assert closest("Sofware", ["Software Development", "Farming"]) == ["Software Development"]
    assert closest("nothing like it", ["Software Development", "Farming"]) == []
    (problem,) = _problems([["Seniorty", "CXO"]])
    assert 'did you mean "Seniority"?' in problem


def test_unknown_setting_suggests_the_closest(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('api_kye = "test_x"\nmax_paralel = 4\n')
    with pytest.raises(SettingsError) as info:
        load_settings(environ={}, config_file=config, use_keyring=False)
    message = info.value.full_message
    assert '"api_kye" (did you mean "api_key"?)' in message
    assert '"max_paralel" (did you mean "max_parallel"?)' in message
    assert str(config) in message and "fix or remove them" in message


# -- length: advice whole in a cell, everything in the CLI --------------------------------


def test_a_cell_keeps_whole_sentences_and_drops_detail_first() -> None:
    advice = "Open it in Excel and save it again."
    long = f"Cannot read the file C:/a/very/long/folder/name/book.xlsx (BadZipFile). {advice}"
    short = shorten(long, 100)
    assert "(BadZipFile)" not in short and short.endswith(advice)
    # "e.g." does not end a sentence.
    example = "Use a label, e.g. Job title, then its values. Then a second sentence follows."
    assert shorten(example, 60) == "Use a label, e.g. Job title, then its values."
    # No sentence fits: cut between words, never inside one, and say it was cut.
    words = "word " * 40
    cut = shorten(words, 50)
    assert len(cut) <= 50 and cut.endswith("word…")
    # The best guess of a "did you mean" stays; the later ones go first.
    guess = 'Unknown label "Jbo"; did you mean "Job titles" or "Past job titles" or "Job"?'
    assert shorten(guess, 60) == 'Unknown label "Jbo"; did you mean "Job titles"?'


def test_every_error_fits_a_cell_but_the_cli_prints_it_whole(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_env / "config.toml").write_text('api_kye = "x"\nbase_ulr = "y"\nhoem = "z"\n')
    error = GenerectError("x" * 10)  # the short and the whole agree when it fits
    assert error.message == error.full_message == "x" * 10
    assert main(["spend"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err) > CELL_MESSAGE_MAX + len("error: ")  # whole: every name and the list
    assert err.endswith(f"Known settings: {', '.join(ENV_VARS)}.")
    with pytest.raises(SettingsError) as info:
        load_settings()
    cell = cell_error(info.value)
    assert cell.startswith(CELL_ERROR_PREFIX) and len(cell) <= CELL_MESSAGE_MAX + 11
    assert "…" not in cell and cell.endswith("fix or remove them.")


def test_more_problems_say_where_they_are_all_listed(
    cli_env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with pytest.raises(CriteriaError) as info:
        criteria_from_block(ISSUE_BLOCK)
    cell = cell_error(info.value)
    assert cell.endswith(f"(+2 more: {CRITERIA_PROBLEMS_HINT})")
    assert len(cell) <= CELL_MESSAGE_MAX + len(CELL_ERROR_PREFIX) + 1
    # ... and the command it names does list them all, with the sheet's own rows.
    monkeypatch.setenv("GENERECT_API_KEY", "test_messages")
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    book = _criteria_book(cli_env / "criteria.xlsx", ISSUE_BLOCK, top=5)
    assert main(["refresh", str(book), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "3 problems in the criteria" in out
    assert 'Unknown criteria label "Seniorty" (row 6); did you mean "Seniority"?' in out
    assert 'Industry (row 7): "Sofware" is not a valid industry' in out
    assert "Limit (row 8): 99999 is too many" in out
    assert sandbox.billable_calls() == []


# -- all problems at once ------------------------------------------------------------------


def test_check_criteria_reports_every_problem_in_one_pass(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    criteria = cli_env / "criteria.toml"
    criteria.write_text(
        '"Job title" = "CEO"\nSeniorty = "CXO"\nIndustry = "Sofware"\nLimit = 99999\n'
    )
    assert main(["check-criteria", str(criteria)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith('Unknown criteria label "Seniorty"; did you mean "Seniority"?')
    assert lines[1].startswith('Industry: "Sofware" is not a valid industry; did you mean')
    assert lines[2] == "Limit: 99999 is too many; use 1 to 2400 (a search without a company anchor)"


@pytest.mark.parametrize(
    "block",
    [
        ISSUE_BLOCK[:1] + ISSUE_BLOCK[2:],  # a bad value and the limit: pydantic's own path
        ISSUE_BLOCK,  # an unknown label too: the parser's path
        [["Job title", "CEO"], ["Industry", "Sofware"], ["Limit", 2000], ["Offset", 1000]],
    ],
)
def test_paging_limits_come_with_the_other_problems(block: list[list[Any]]) -> None:
    problems = _problems(block)
    assert any("Sofware" in p for p in problems)
    assert any(p.startswith("Limit") for p in problems)


def test_a_company_keeps_paging_limits_quiet_even_when_unreadable() -> None:
    # A company anchors the search (limits do not apply): an unreadable one must not be
    # taken for "no company" and trigger a false limit problem.
    problems = _problems([["Company", "Acme"], ["Company", "Beta"], ["Limit", 5000]])
    assert not any("too many" in p for p in problems)


def test_rows_are_the_criteria_rows_or_the_sheet_rows() -> None:
    block = [[None, None], ["Seniority", "Boss"]]  # a blank first row of the range
    assert _problems(block)[0].startswith("Seniority (row 2 of the criteria):")
    assert _problems(block, origin=(10, 2))[0].startswith("Seniority (row 11):")
    across = [["Job title", "Seniority"], ["CEO", "Boss"]]
    assert _problems(across, origin=(3, 27))[0].startswith("Seniority (column AB):")


def test_refresh_names_the_sheet_row_of_a_named_range(
    cli_env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("GENERECT_API_KEY", "test_messages")
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    book = _criteria_book(cli_env / "named.xlsx", [["Seniority", "Boss"]], top=12, name=True)
    assert main(["refresh", str(book), "--dry-run"]) == 0
    assert 'Seniority (row 12): "Boss" is not a valid seniority' in capsys.readouterr().out


def _criteria_book(path: Path, block: list[list[Any]], *, top: int, name: bool = False) -> Path:
    from openpyxl.workbook.defined_name import DefinedName

    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    for i, row in enumerate(block):
        for j, value in enumerate(row):
            ws.cell(row=top + i, column=2 + j, value=value)
    bottom = top + len(block) - 1
    area = f"B{top}:C{bottom}"
    if name:
        # Not "Criteria": that is a name Excel reserves (openpyxl writes _xlnm.Criteria).
        wb.defined_names["Filters"] = DefinedName(
            "Filters", attr_text=f"Leads!$B${top}:$C${bottom}"
        )
        ws["E1"] = "=GENERECT_COUNT(Filters)"
    else:
        ws["E1"] = f"=GENERECT_COUNT({area})"
    return save(wb, path)


# -- paths and plain words ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"name,title\nAda,CEO\n", "book.xlsx is not an Excel workbook: give the path of an"),
        (None, "book.xlsx is damaged (its contents are incomplete or broken): use a copy"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "book.xlsx is an old Excel 97-2003"),
    ],
    ids=["text", "truncated", "xls"],
)
def test_a_damaged_or_foreign_file_is_named_in_plain_words(
    cli_env: Path, content: bytes | None, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    book = cli_env / "book.xlsx"
    if content is None:  # a real workbook cut short, as a failed copy leaves it
        whole = write_template("lead-list", cli_env / "whole.xlsx").read_bytes()
        content = whole[: len(whole) // 2]
    book.write_bytes(content)
    for command in (["refresh", str(book)], ["refresh", str(book), "--dry-run"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {expected}") and len(err.splitlines()) == 1
        for jargon in ("BadZipFile", "InvalidFileException", "zip", "Exception"):
            assert jargon not in err
    if not content.startswith(b"\xd0"):
        assert "save it as" not in err.lower()  # saving again cannot mend a broken file


def test_no_api_key_names_the_config_file(
    cli_env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    criteria = cli_env / "criteria.toml"
    criteria.write_text('"Job title" = "CEO"\n')
    assert main(["search", str(criteria), "--limit", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No Generect API key. Set GENERECT_API_KEY, or add api_key")
    assert f"the config file {cli_env / 'config.toml'}" in err
    settings = load_settings(environ={}, config_file=cli_env / "mine.toml", use_keyring=False)
    with pytest.raises(SettingsError) as info:
        settings.require_key()
    assert str(cli_env / "mine.toml") in info.value.full_message  # the file actually read
    assert len(str(info.value)) <= CELL_MESSAGE_MAX and "…" not in str(info.value)


def test_a_damaged_store_names_its_path(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = cli_env / "home" / "store.sqlite3"
    store_path.parent.mkdir()
    store_path.write_bytes(b"this is not a database" * 100)
    assert main(["spend"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: The local Generect store {store_path} is damaged: move it aside (it holds "
        "your spend history), then retry; a new one is made.\n"
    )
    with pytest.raises(StoreError) as info:
        Store(store_path).charges()
    assert "store.sqlite3" in str(info.value) and len(str(info.value)) <= CELL_MESSAGE_MAX


def test_verbose_is_accepted_after_the_command(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_env / "config.toml").write_text('api_kye = "x"\n')
    for argv in (["-v", "spend"], ["spend", "-v"], ["spend", "--verbose"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith('error: Unknown setting "api_kye"') and "usage:" not in err
    assert main(["addin", "status", "-v"]) in (0, 1)  # a nested command takes it too
    assert "unrecognized arguments" not in capsys.readouterr().err


def test_no_close_value_says_how_to_see_the_list_in_a_cell_and_the_cli(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CriteriaError) as info:
        criteria_from_block([["Industry", "Qqqqq"]])
    (problem,) = info.value.problems
    assert problem.endswith(
        'see the list with =GENERECT_VALUES("company_industries") '
        "(or: generect-excel values company_industries)"
    )
    # A cell keeps the worksheet way, whole; the CLI's command is in the whole message.
    assert str(info.value).endswith('see the list with =GENERECT_VALUES("company_industries")')
    # ... and the command it names exists and gives the list.
    assert main(["values", "company_industries"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "Software Development" in listed and len(listed) > 400
    assert main(["values", "seniority"]) == 0
    assert capsys.readouterr().out.split() == [
        "owner", "founder", "c_suite", "partner", "vp", "head",
        "director", "manager", "senior", "entry", "intern",
    ]  # fmt: skip
    assert main(["values"]) == 0
    assert "company_types" in capsys.readouterr().out.split()
    assert main(["values", "colour"]) == 1
    assert capsys.readouterr().err.startswith('error: No value list for "colour"')


def test_the_cli_prints_every_criteria_problem_on_its_own_line(
    cli_env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("GENERECT_API_KEY", "test_messages")
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    criteria = cli_env / "criteria.toml"
    criteria.write_text('Seniorty = "CXO"\nIndustry = "Sofware"\nLimit = 99999\n')
    assert main(["search", str(criteria)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: 3 problems in the criteria:"
    assert len(lines) == 4
    assert lines[1].startswith('  Unknown criteria label "Seniorty"; did you mean "Seniority"?')
    assert lines[2].startswith('  Industry: "Sofware" is not a valid industry; did you mean')
    assert lines[3].startswith("  Limit: 99999 is too many; use 1 to 2400")
    assert sandbox.billable_calls() == []


def test_an_unknown_column_lists_every_available_one_in_the_cli(
    cli_env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("GENERECT_API_KEY", "test_messages")
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    criteria = cli_env / "criteria.toml"
    criteria.write_text('"Job title" = "CEO"\n')
    assert main(["search", str(criteria), "--limit", "2", "--fields", "compny_name"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: Unknown field 'compny_name'. Did you mean ")
    assert "more)" not in line and line.endswith(".") and "headline" in line


def test_an_invalid_setting_names_the_variable_or_file_to_fix(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("max_spend_per_day = -1\n")
    with pytest.raises(SettingsError) as info:
        load_settings(
            environ={"GENERECT_MAX_PARALLEL": "500"}, config_file=config, use_keyring=False
        )
    message = info.value.full_message
    assert "max_parallel (from GENERECT_MAX_PARALLEL): " in message
    assert f"max_spend_per_day (in {config}): " in message


def test_a_budget_refusal_says_where_the_cap_is_set(tmp_path: Path) -> None:
    from generect_excel import budget

    settings = load_settings(
        environ={}, config_file=tmp_path / "config.toml", use_keyring=False, api_key="live_x"
    )
    with pytest.raises(GenerectError) as info:
        budget.check(Decimal("9"), Decimal("0"), settings)
    assert str(info.value) == (
        "May cost up to $9.00, over the $5.00 per-request cap: lower the limit or raise "
        "GENERECT_MAX_SPEND_PER_REQUEST."
    )
    assert info.value.full_message.endswith(
        "Nothing was sent. The cap is GENERECT_MAX_SPEND_PER_REQUEST or "
        f"`max_spend_per_request = ...` in {tmp_path / 'config.toml'}."
    )


def test_a_workbook_under_another_name_or_a_folder_is_named_plainly(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = write_template("lead-list", cli_env / "leads.xlsx").rename(cli_env / "leads.xls")
    folder = cli_env / "book.xlsx"
    folder.mkdir()
    for path, expected in (
        (renamed, "leads.xls holds a workbook but its name ends in .xls: rename it to leads.xlsx"),
        (folder, f"{folder} is a folder, not a workbook: give the path of an .xlsx"),
    ):
        assert main(["refresh", str(path), "--dry-run"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {expected}") and "Exception" not in err


def test_a_misspelt_value_list_gets_the_closest_list(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from generect_excel.functions import evaluate_values

    with pytest.raises(CriteriaError) as info:
        evaluate_values("industy")  # =GENERECT_VALUES("industy")
    assert str(info.value).startswith('No value list for "industy". Did you mean "company_ind')
    assert main(["values", "seniorty"]) == 1
    assert 'Did you mean "seniorities"?' in capsys.readouterr().err


@pytest.mark.parametrize(
    ("block", "advice"),
    [
        ([["Job title", datetime(2026, 1, 10)]], "format the cell as text and type it again"),
        ([["Personas", "x"], ["Job title", "CEO"]], "give personas in a criteria file or from"),
        ([["Seniority", "Boss"]], 'see the list with =GENERECT_VALUES("seniorities")'),
    ],
    ids=["date", "personas", "no-close-value"],
)
def test_a_cell_keeps_the_advice_of_a_criteria_problem(block: list[list[Any]], advice: str) -> None:
    with pytest.raises(CriteriaError) as info:
        criteria_from_block(block)
    cell = cell_error(info.value)
    assert advice in cell and len(cell) <= CELL_MESSAGE_MAX + len(CELL_ERROR_PREFIX) + 1


def test_no_api_key_names_a_misspelt_key_variable_never_its_value(tmp_path: Path) -> None:
    secret = "sk_live_typed_under_the_wrong_name"
    settings = load_settings(
        environ={"GENERECT_APIKEY": secret, "GENERECT_HOME": str(tmp_path)},
        config_file=tmp_path / "config.toml",
        use_keyring=False,
    )
    with pytest.raises(SettingsError) as info:
        settings.require_key()
    assert str(info.value) == (
        "No Generect API key: GENERECT_APIKEY is set, but the key is read from "
        "GENERECT_API_KEY: rename it."
    )
    assert secret not in info.value.full_message and secret not in info.value.details
