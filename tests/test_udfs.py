"""The worksheet functions as Excel calls them: xlwings' own Windows code (tests/excel_contract.py)
drives ``generect_excel.udfs`` with COM-shaped arguments, against the sandbox over HTTP.

The engine is pointed at the sandbox the way an analyst's Excel would be: through the
environment (``GENERECT_BASE_URL``, ``GENERECT_API_KEY``, ``GENERECT_HOME``). Billable calls are
counted from the sandbox's request log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from excel_contract import (
    OMITTED,
    ExcelModule,
    ExcelRange,
    as_grid,
    call_like_excel,
    cell_error,
    decorate_module,
    excel_session,
    import_like_excel,
    parse_vba,
    vba_for,
)
from generect_excel._constants import CELL_ERROR_PREFIX, PATH_REALTIME_SEARCH
from generect_excel.functions import FUNCTION_NAMES
from generect_excel.ledger import Origin
from generect_excel.table import DEFAULT_COLUMNS
from generect_excel.vocab import allowed_values

KEY = "live_UDF_SECRET_9d3f5a1c"  # a live key: charged, and held to the budget caps
TEST_KEY = "test_UDF_SECRET_2b8e"
HANG_GUARD = 30  # seconds: only reached if something hangs
TESTS = Path(__file__).parent

DIRECTORS = [["Seniority", "Director"]]  # a criteria block, as the cells hold it
BILLABLE = {
    "GENERECT_COUNT",
    "GENERECT_SEARCH",
    "GENERECT_COMPANIES",
    "GENERECT_COMPANY_COUNT",
    "GENERECT_PREVIEW",
    "GENERECT_ENRICH",
    "GENERECT_EMAIL",
}
XL_CALCULATION_MANUAL = -4135


def excel_environment(sandbox: Any, home: Path, key: str | None = KEY) -> dict[str, str]:
    """What the Python that Excel starts would see: the sandbox, a key, a store folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
    env.update(
        GENERECT_BASE_URL=sandbox.url,
        GENERECT_HOME=str(home),
        GENERECT_CONFIG=str(home / "absent-config.toml"),
        # Never the machine's own keyring: a key there would hide "no key" and leak into tests.
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    if key is not None:
        env["GENERECT_API_KEY"] = key
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "generect-home"


@pytest.fixture
def excel_env(sandbox: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = excel_environment(sandbox, home)
    for name in [k for k in os.environ if k.startswith("GENERECT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def udfs() -> Iterator[ExcelModule]:
    """A fresh copy of the module, as Excel's Python process would import it."""
    module = decorate_module("generect_excel.udfs")
    yield module
    fetches = module.module._Runtime.fetches
    if fetches is not None:
        assert fetches.wait(HANG_GUARD), "a background fetch was left running"


def grid(result: Any) -> list[list[Any]]:
    assert not isinstance(result, str) or not result.startswith(CELL_ERROR_PREFIX), result
    return as_grid(result)


def billable(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.billable_calls()


def search(udfs: ExcelModule, *args: Any, **kwargs: Any) -> Any:
    return call_like_excel(udfs["GENERECT_SEARCH"], *args, **kwargs)


def is_cell_error(value: Any) -> bool:
    """One short line with the prefix: never a traceback, never a multi-line text."""
    return (
        isinstance(value, str)
        and value.startswith(CELL_ERROR_PREFIX + " ")
        and "\n" not in value
        and "Traceback" not in value
        and len(value) <= 132
    )


# =========================================================================== the contract


def test_every_function_is_exported_with_its_metadata(udfs: ExcelModule) -> None:
    assert set(udfs.functions) == set(FUNCTION_NAMES)
    for name in FUNCTION_NAMES:
        meta = udfs.metadata(name)
        assert meta["category"] == "Generect"
        assert meta["sub"] is False
        assert meta["async_mode"] is None  # pending.py, not xlwings' async (see udfs docstring)
        assert not meta["ret"]["options"].get("expand")  # dynamic arrays spill by themselves
        assert meta["call_in_wizard"] is (name not in BILLABLE), name
        # The local reads follow each purchase; the others recalculate only when asked.
        assert meta["volatile"] is (name in ("GENERECT_SPEND", "GENERECT_LEADS")), name


def test_the_vba_declares_each_function_with_its_optional_arguments(udfs: ExcelModule) -> None:
    procedures = parse_vba(vba_for(udfs))
    assert set(procedures) == set(FUNCTION_NAMES)
    for name, params in FUNCTION_NAMES.items():
        # GENERECT_LEADS() without criteria spills the whole register.
        required = {"criteria", "field", "ids", "lead"} if name != "GENERECT_LEADS" else set()
        procedure = procedures[name]
        assert procedure.kind == "Function"
        assert procedure.param_names == params
        assert procedure.optional_params == tuple(p for p in params if p not in required)
        assert procedure.module_name == "generect_excel.udfs"
        assert procedure.skips_wizard is (name in BILLABLE)
        # The billable functions get the calling cell (xlwings' reserved "caller"), which
        # Excel never sees as an argument.
        caller = ", Nothing" if name in BILLABLE else ""
        assert procedure.call_args == f"Array({', '.join(params)}{caller})"
    assert (
        "Function GENERECT_SEARCH(criteria, Optional limit, Optional offset, Optional fields, Optional mode, Optional refresh)"
        in vba_for(udfs)
    )


def test_in_the_addin_the_functions_serve_the_active_workbook(udfs: ExcelModule) -> None:
    procedures = parse_vba(vba_for(udfs, workbook_name="generect_excel.xlam"))
    assert {p.workbook for p in procedures.values()} == {"ActiveWorkbook"}


def test_the_function_wizard_shows_help_for_each_function_and_argument(
    udfs: ExcelModule,
) -> None:
    options = import_like_excel(udfs).macro_options
    for name, params in FUNCTION_NAMES.items():
        help_ = options[name]
        assert help_.category == "Generect"
        # MacroOptions cuts at 255 characters: the help must fit, whole.
        assert 20 < len(help_.description) <= 255, name
        assert not help_.description.startswith("Python function"), name
        descriptions = help_.argument_descriptions or ()
        assert len(descriptions) == len(params), name
        for text in descriptions:
            assert 10 < len(text) <= 255 and not text.startswith("Positional argument")
    assert "free" in options["GENERECT_VALUES"].description.lower()
    assert "billed" in options["GENERECT_SEARCH"].description.lower()


def test_importing_the_module_stays_light() -> None:
    # Excel imports it at every start: no web framework, no openpyxl, nothing heavy until a
    # function runs (the benchmarks measure the time; this checks what is loaded).
    code = "import sys, generect_excel.udfs; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    heavy = {"openpyxl", "starlette", "uvicorn", "httpx", "pydantic", "sqlite3", "lxml", "keyring"}
    assert "xlwings" in loaded
    assert loaded.isdisjoint(heavy), loaded & heavy


# --------------------------------------------------------------------------- values and errors


def test_values_spill_down_one_column(udfs: ExcelModule) -> None:
    values = udfs["GENERECT_VALUES"]
    assert call_like_excel(values, "seniorities") == [[v] for v in allowed_values("seniorities")]
    by_label = call_like_excel(values, ExcelRange("Company size", cell="B2"))
    assert by_label == [[v] for v in allowed_values("company_headcounts")]
    assert [row[0] for row in by_label][-1] == "10 000+"


@pytest.mark.parametrize(
    "argument",
    ["emperors", ExcelRange(None), cell_error("#N/A"), (("seniorities", "company_types"),)],
)
def test_values_of_something_without_a_list_is_one_line(udfs: ExcelModule, argument: Any) -> None:
    assert is_cell_error(call_like_excel(udfs["GENERECT_VALUES"], argument))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (([["Seniority", "Emperor"]],), "seniority"),  # an unknown vocabulary value
        (([["Hair colour", "red"]],), "hair colour"),  # an unknown label
        (([["Seniority", cell_error("#N/A")]],), "#N/A"),  # a broken cell is not skipped
        (([["Keywords", "python"]],), "realtime"),  # a realtime-only field in database mode
        ((DIRECTORS, 2.5), "limit"),
        ((DIRECTORS, 5000), "limit"),
        ((DIRECTORS, OMITTED, -1), "offset"),
        ((DIRECTORS, OMITTED, OMITTED, OMITTED, "sometimes"), "mode"),
        ((DIRECTORS, OMITTED, OMITTED, OMITTED, (("database", "realtime"),)), "mode"),
        ((ExcelRange(None),), "criteria"),
        # (An empty-string limit cannot be told from an omitted one here: xlwings hands "" and
        # an empty cell over as the same None. The refresher and the core refuse it.)
        ((DIRECTORS, ((10.0, 20.0), (30.0, 40.0))), "limit: expected one cell"),  # a 2-D range
        ((DIRECTORS, "ten"), "limit"),
        ((DIRECTORS, 2, OMITTED, "nonexistent_field"), "Use raw:nonexistent_field"),
        ((DIRECTORS, 2, OMITTED, OMITTED, OMITTED, ((1.0, 2.0),)), "refresh: expected one"),
    ],
)
def test_invalid_arguments_make_zero_calls_and_one_line(
    udfs: ExcelModule, excel_env: Any, sandbox: Any, args: tuple, words: str
) -> None:
    result = search(udfs, *args)
    assert is_cell_error(result), result
    assert words.lower() in result.lower(), result
    assert sandbox.log_entries() == []


def test_an_unknown_column_is_refused_before_buying(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    result = search(udfs, DIRECTORS, 2, OMITTED, "full_name, shoe_size")
    assert result == (
        "#GENERECT! Unknown field 'shoe_size'. Unlisted field? Use raw:shoe_size. "
        "Fields: full_name, first_name, last_name (+110 more)"
    )
    assert billable(sandbox) == []
    # The way the message names reaches a field outside the catalogue (the sandbox's database
    # rows carry company_type), bought once.
    table = search(udfs, DIRECTORS, 2, OMITTED, "full_name, raw:company_type")
    assert table[1] == ["full_name", "raw:company_type"] and len(table) == 4
    assert all(row[1] in allowed_values("company_types") for row in table[2:])
    assert len(billable(sandbox)) == 1


def test_no_api_key_says_where_the_key_is_read_from(
    udfs: ExcelModule, sandbox: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in excel_environment(sandbox, home, key=None).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GENERECT_API_KEY", raising=False)
    for function, args in (("GENERECT_SEARCH", (DIRECTORS,)), ("GENERECT_BALANCE", ())):
        result = call_like_excel(udfs[function], *args)
        assert is_cell_error(result)
        for where in ("GENERECT_API_KEY", "config file", "keyring"):
            assert where in result, result
    assert sandbox.log_entries() == []


def test_the_config_file_is_followed_at_the_next_call(
    udfs: ExcelModule, sandbox: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings are kept between calls while their sources are unchanged: a config file
    # written, edited or deleted while Excel runs still counts at the very next call.
    for name, value in excel_environment(sandbox, home, key=None).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GENERECT_API_KEY", raising=False)
    config = Path(os.environ["GENERECT_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    assert "No Generect API key" in search(udfs, DIRECTORS, 5)
    config.write_text(f'api_key = "{KEY}"\n')
    assert len(grid(search(udfs, DIRECTORS, 5))) == 2 + 5
    config.write_text(f'api_key = "{KEY}"\nmax_spend_per_request = 0.01\n')
    assert "cap" in search(udfs, DIRECTORS, 6).lower()  # $0.12 worst case > $0.01
    config.unlink()
    assert "No Generect API key" in search(udfs, DIRECTORS, 5)
    assert len(billable(sandbox)) == 1


def test_unexpected_failures_are_one_generic_line(udfs: ExcelModule, excel_env: Any) -> None:
    # Whatever goes wrong inside, the cell never gets pywin32's "Unexpected Python Error".
    udfs.module._Runtime.engine = None
    udfs.module._engine = lambda: 1 / 0
    result = call_like_excel(udfs["GENERECT_SPEND"])
    assert is_cell_error(result) and "Unexpected error" in result and "ZeroDivision" not in result


# =========================================================================== against the sandbox


def test_a_search_spills_status_header_and_rows(udfs: ExcelModule, excel_env: Any) -> None:
    table = grid(search(udfs, ExcelRange(DIRECTORS, cell="B3"), 4))
    status, header, *rows = table
    assert status[0].startswith("Generect · ") and "4 rows" in status[0]
    assert "charged" in status[0] and "from cache" not in status[0]
    assert status[1:] == [""] * (len(header) - 1)  # None -> "" : an empty cell
    assert header == list(DEFAULT_COLUMNS)
    assert len(rows) == 4 and all(len(row) == len(header) for row in rows)
    assert all(row[header.index("full_name")] for row in rows)


def test_com_shaped_arguments(udfs: ExcelModule, excel_env: Any, sandbox: Any) -> None:
    # =GENERECT_SEARCH(B3:C4, 2, , F1:G1, "database", TODAY())  with F1:G1 = full_name | lead_id
    fields = ExcelRange([["full_name", "lead_id"]], cell="F1")
    today = dt.date(2026, 11, 22)
    table = grid(search(udfs, ExcelRange(DIRECTORS), 2.0, OMITTED, fields, "database", today))
    assert table[1] == ["full_name", "lead_id"] and len(table) == 4
    # The same as text, mode from a cell; an empty fields cell means the default columns.
    again = grid(search(udfs, DIRECTORS, 2, 0, "full_name, lead_id", ExcelRange("Database"), today))
    assert again[2:] == table[2:]
    default = grid(search(udfs, DIRECTORS, 2, OMITTED, ExcelRange(None), OMITTED, today))
    assert default[1] == list(DEFAULT_COLUMNS) and default[2][0] == table[2][0]
    assert len(billable(sandbox)) == 1


def test_a_one_row_one_column_search_keeps_its_table_shape(
    udfs: ExcelModule, excel_env: Any
) -> None:
    result = search(udfs, DIRECTORS, 1, OMITTED, "full_name")
    # Three rows of one cell: CallUDF squeezes only 1x1 and 1xN results.
    assert isinstance(result, list) and len(result) == 3
    assert [len(row) for row in result] == [1, 1, 1]
    assert result[1] == ["full_name"]


def test_omitted_arguments_ask_what_the_refresher_asks(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    from generect_excel.engine import Engine
    from generect_excel.functions import evaluate_search
    from generect_excel.settings import load_settings

    block = DIRECTORS + [["Limit", 7]]
    # generect-excel refresh evaluates the formula's omitted arguments as None...
    refreshed = evaluate_search(Engine(load_settings()), block)
    # ...and Excel then recalculates =GENERECT_SEARCH(B3:C4): the same question, stored.
    table = grid(search(udfs, ExcelRange(block, cell="B3")))
    assert len(table) == 2 + 7  # the criteria's own Limit row, not the default 25
    assert table[1:] == [[("" if v is None else v) for v in row] for row in refreshed[1:]]
    assert "from cache" in table[0][0]
    assert len(billable(sandbox)) == 1
    assert len(grid(search(udfs, block, 3))) == 2 + 3  # an explicit limit wins
    assert len(grid(search(udfs, DIRECTORS))) == 2 + 25  # neither: 25


def test_unusable_settings_are_one_line(
    udfs: ExcelModule, excel_env: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENERECT_BASE_URL", "http://api.example.com")  # plain http, not local
    result = search(udfs, DIRECTORS)
    assert is_cell_error(result) and "base_url" in result and "https" in result
    assert sandbox.log_entries() == []


def test_a_count_is_one_number(udfs: ExcelModule, excel_env: Any, sandbox: Any) -> None:
    count = call_like_excel(udfs["GENERECT_COUNT"], ExcelRange(DIRECTORS))
    assert isinstance(count, int | float) and count > 4
    assert call_like_excel(udfs["GENERECT_COUNT"], DIRECTORS, "database") == count
    assert billable(sandbox) == []  # database counts are free
    assert len(sandbox.log_entries()) == 1  # and stored: asked once


# --------------------------------------------------------------------------- Must show


def test_same_search_twice_then_from_a_fresh_process_is_one_call(
    udfs: ExcelModule, excel_env: dict[str, str], sandbox: Any
) -> None:
    first = grid(search(udfs, DIRECTORS, 5))
    second = grid(search(udfs, DIRECTORS, 5))
    assert second[1:] == first[1:]
    assert "from cache (no charge now)" in second[0][0]
    child = subprocess.run(
        [sys.executable, "-c", CHILD_SEARCH, str(TESTS)],
        env=excel_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    fresh = json.loads(child.stdout)
    assert fresh[1:] == first[1:]
    assert "from cache (no charge now)" in fresh[0][0]
    assert len(billable(sandbox)) == 1


CHILD_SEARCH = """
import json, sys
sys.path.insert(0, sys.argv[1])
from excel_contract import as_grid, call_like_excel, decorate_module

udfs = decorate_module("generect_excel.udfs")
result = call_like_excel(udfs["GENERECT_SEARCH"], [["Seniority", "Director"]], 5)
print(json.dumps(as_grid(result)))
"""


def test_fifty_cells_asking_one_cold_search_at_once_make_one_call(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    start = threading.Barrier(50, timeout=HANG_GUARD)

    def cell(n: int) -> list[list[Any]]:
        start.wait()
        return grid(search(udfs, DIRECTORS, 7, caller=ExcelRange(None, cell=f"A{n + 1}")))

    with ThreadPoolExecutor(50) as pool:
        tables = list(pool.map(cell, range(50)))
    assert len(billable(sandbox)) == 1
    assert all(len(table) == 9 for table in tables)
    assert all(table[1:] == tables[0][1:] for table in tables)


def test_changing_refresh_makes_exactly_one_new_call(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    a1, a2 = ExcelRange(None, cell="A1"), ExcelRange(None, cell="A2")
    search(udfs, DIRECTORS, 3, caller=a1)
    search(udfs, DIRECTORS, 3, OMITTED, OMITTED, OMITTED, 1, caller=a1)  # refresh: 1
    assert len(billable(sandbox)) == 2
    for _ in range(3):  # recalculations, F9: the value did not change
        search(udfs, DIRECTORS, 3, OMITTED, OMITTED, OMITTED, 1, caller=a1)
    # Another formula with the same question and the same refresh value: already fetched.
    search(udfs, DIRECTORS, 3, OMITTED, OMITTED, OMITTED, 1, caller=a2)
    assert len(billable(sandbox)) == 2
    table = grid(search(udfs, DIRECTORS, 3, OMITTED, OMITTED, OMITTED, 2, caller=a1))
    assert "from cache" not in table[0][0]
    assert len(billable(sandbox)) == 3


def test_an_error_in_the_refresh_cell_buys_nothing(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    search(udfs, DIRECTORS, 3)
    broken = ExcelRange(cell_error("#REF!"), cell="Z1")
    table = grid(search(udfs, DIRECTORS, 3, OMITTED, OMITTED, OMITTED, broken))
    assert "from cache" in table[0][0]
    assert len(billable(sandbox)) == 1


def test_a_budget_breach_makes_zero_calls_and_says_how_to_raise_the_cap(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    result = search(udfs, DIRECTORS, 2400)  # worst case 2,400 x $0.02 = $48 > the $5 cap
    assert is_cell_error(result), result
    assert "$48" in result and "cap" in result.lower()
    assert sandbox.log_entries() == []


def test_the_ledger_records_the_calling_cell(
    udfs: ExcelModule, excel_env: Any, sandbox: Any, home: Path
) -> None:
    from generect_excel.engine import Engine
    from generect_excel.settings import load_settings

    cell = ExcelRange(None, cell="C5", sheet="Leads", book="Team.xlsx")
    search(udfs, DIRECTORS, 2, caller=cell)
    (charge,) = Engine(load_settings()).charges()
    assert charge.origin == Origin("Team.xlsx", "Leads", "C5")
    assert charge.rows == 2


def test_spend_and_balance(udfs: ExcelModule, excel_env: Any, sandbox: Any) -> None:
    spend = udfs["GENERECT_SPEND"]
    assert call_like_excel(spend) == 0
    search(udfs, DIRECTORS, 5)
    charged = float(sum(float(c["amount_charged"]) for c in billable(sandbox)))
    assert charged > 0
    assert call_like_excel(spend) == pytest.approx(charged)
    assert call_like_excel(spend, "Month") == pytest.approx(charged)
    assert call_like_excel(spend, ExcelRange("all")) == pytest.approx(charged)
    assert is_cell_error(call_like_excel(spend, "yesterday"))
    balance = call_like_excel(udfs["GENERECT_BALANCE"])
    assert balance == pytest.approx(float(sandbox.balance(KEY)))


def test_spend_views_need_the_team_store_on_sqlite(udfs: ExcelModule, excel_env: Any) -> None:
    spend = udfs["GENERECT_SPEND"]
    search(udfs, DIRECTORS, 3)
    mine = call_like_excel(spend)
    assert mine > 0
    assert call_like_excel(spend, OMITTED, "Me") == call_like_excel(spend, "today", "me") == mine
    for view in ("team", "analysts"):
        line = call_like_excel(spend, "today", view)
        assert is_cell_error(line) and "team store" in line and "GENERECT_STORE_URL" in line
    assert is_cell_error(call_like_excel(spend, "today", "everyone"))


def test_spend_views_on_the_team_store(
    udfs: ExcelModule,
    excel_env: Any,
    sandbox: Any,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spend = udfs["GENERECT_SPEND"]
    monkeypatch.setenv("GENERECT_STORE_URL", postgres_url)
    monkeypatch.setenv("GENERECT_ANALYST", "ana")
    search(udfs, DIRECTORS, 3)
    ana = float(billable(sandbox)[-1]["amount_charged"])
    monkeypatch.setenv("GENERECT_ANALYST", "ben")  # another laptop on the same store
    search(udfs, DIRECTORS, 5)
    ben = float(billable(sandbox)[-1]["amount_charged"])
    assert ana > 0 and ben > 0 and len(billable(sandbox)) == 2
    assert call_like_excel(spend) == pytest.approx(ben)  # "me": Ben's own
    assert call_like_excel(spend, "month", "team") == pytest.approx(ana + ben)
    table = as_grid(call_like_excel(spend, "all", "analysts"))
    assert table[0] == ["analyst", "charged (USD)"]
    assert [row[0] for row in table[1:]] == ["ana", "ben"]
    assert [row[1] for row in table[1:]] == [pytest.approx(ana), pytest.approx(ben)]


def test_new_settings_make_a_new_engine(
    udfs: ExcelModule, excel_env: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    search(udfs, DIRECTORS, 2)
    monkeypatch.setenv("GENERECT_API_KEY", TEST_KEY)  # the analyst changed the key
    table = grid(search(udfs, DIRECTORS, 2))
    assert "TEST MODE" in table[0][0]  # another account: its own answers, fetched anew
    assert len(billable(sandbox)) == 2
    assert billable(sandbox)[1]["test_mode"] is True


def test_the_api_key_never_reaches_the_store_the_ledger_logs_or_cells(
    udfs: ExcelModule,
    excel_env: Any,
    sandbox: Any,
    home: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    cells = [
        search(udfs, DIRECTORS, 3),
        search(udfs, DIRECTORS, 3, OMITTED, OMITTED, OMITTED, "again"),
        search(udfs, DIRECTORS, 2400),  # budget
        search(udfs, [["Seniority", "Emperor"]]),  # criteria
        call_like_excel(udfs["GENERECT_COUNT"], DIRECTORS),
        call_like_excel(udfs["GENERECT_BALANCE"]),
        call_like_excel(udfs["GENERECT_SPEND"], "all"),
    ]
    sandbox.queue_faults(["insufficient_funds"])
    cells.append(search(udfs, DIRECTORS, 4))
    assert is_cell_error(cells[-1]) and "funds" in cells[-1].lower()
    from generect_excel.engine import Engine
    from generect_excel.settings import load_settings

    ledger = Engine(load_settings()).charges()
    assert len(ledger) == 2
    out, err = capfd.readouterr()
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name.startswith("store") for p in files)
    for secret in (KEY, KEY.removeprefix("live_")):
        assert secret not in json.dumps(cells, default=str)
        assert secret not in repr(ledger)
        assert secret not in caplog.text and secret not in out + err
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
    assert "fetching" in caplog.text  # the logs were captured: the check above means something


# --------------------------------------------------------------------------- realtime: pending


def wait_for_background(udfs: ExcelModule) -> None:
    assert udfs.module._Runtime.fetches.wait(HANG_GUARD)


def test_a_realtime_search_is_pending_then_fills_in_by_itself(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    cell = ExcelRange(None, cell="D4", sheet="Signals")
    with excel_session():  # Excel stays there while the fetch runs in the background
        first = search(udfs, DIRECTORS, 3, OMITTED, OMITTED, "realtime", caller=cell)
        assert is_cell_error(first)
        assert first.startswith("#GENERECT! pending: realtime search started ")
        wait_for_background(udfs)
    # The landing marked the cell dirty and asked Excel to calculate.
    assert (cell.com.dirtied, cell.com.Application.calculations) == (1, 1)
    fresh = grid(search(udfs, DIRECTORS, 3, OMITTED, OMITTED, "realtime", caller=cell))
    assert fresh[0][0].startswith("Generect realtime · ") and "from cache" not in fresh[0][0]
    assert len(fresh) == 5
    stored = grid(search(udfs, DIRECTORS, 3, OMITTED, OMITTED, "realtime", caller=cell))
    assert "from cache" in stored[0][0] and stored[1:] == fresh[1:]
    assert [c["path"] for c in billable(sandbox)] == [PATH_REALTIME_SEARCH]


def test_cells_waiting_for_one_realtime_search_share_the_fetch(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    cells = [ExcelRange(None, cell=f"A{n}") for n in range(1, 4)]
    with excel_session():
        pending = [
            search(udfs, DIRECTORS, 2, OMITTED, OMITTED, "realtime", caller=cell) for cell in cells
        ]
        wait_for_background(udfs)
    assert all(p.startswith("#GENERECT! pending") for p in pending)
    tables = [
        grid(search(udfs, DIRECTORS, 2, OMITTED, OMITTED, "realtime", caller=c)) for c in cells
    ]
    assert all(t[1:] == tables[0][1:] for t in tables)
    assert len(billable(sandbox)) == 1
    # One landing: every waiting cell marked dirty once, one calculation asked for.
    assert [cell.com.dirtied for cell in cells] == [1, 1, 1]
    assert sum(cell.com.Application.calculations for cell in cells) == 1


def test_in_manual_calculation_the_landing_only_marks_the_cell(
    udfs: ExcelModule, excel_env: Any
) -> None:
    cell = ExcelRange(None, cell="B2")
    cell.com.Application.Calculation = XL_CALCULATION_MANUAL
    with excel_session():
        call_like_excel(udfs["GENERECT_COUNT"], DIRECTORS, "realtime", caller=cell)
        wait_for_background(udfs)
    assert (cell.com.dirtied, cell.com.Application.calculations) == (1, 0)
    count = call_like_excel(udfs["GENERECT_COUNT"], DIRECTORS, "realtime", caller=cell)
    assert isinstance(count, int | float)


def test_a_realtime_budget_breach_shows_once_and_costs_nothing(
    udfs: ExcelModule, excel_env: Any, sandbox: Any
) -> None:
    cell = ExcelRange(None, cell="A1")
    with excel_session():
        pending = search(udfs, DIRECTORS, 200, OMITTED, OMITTED, "realtime", caller=cell)
        wait_for_background(udfs)
    assert pending.startswith("#GENERECT! pending")
    refused = search(udfs, DIRECTORS, 200, OMITTED, OMITTED, "realtime", caller=cell)
    assert is_cell_error(refused) and "$8" in refused and "cap" in refused.lower()
    assert sandbox.log_entries() == []


def test_recalculation_waits_while_excel_is_busy(udfs: ExcelModule) -> None:
    # Excel refuses calls from other threads while a cell is being edited: try again later.
    busy = type("com_error", (Exception,), {"hresult": -2147417846})
    attempts: list[int] = []

    def dirty() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise busy()

    pauses: list[float] = []
    udfs.module._when_excel_listens(dirty, sleep=pauses.append)
    assert len(attempts) == 3 and len(pauses) == 2
    with pytest.raises(ZeroDivisionError):
        udfs.module._when_excel_listens(lambda: 1 / 0, sleep=pauses.append)
