"""The Excel contract harness (tests/excel_contract.py), proved on a small sample UDF module.

Each test states something Excel relies on and checks it through xlwings' own Windows code.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import importlib
import importlib.util
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
import xlwings

from excel_contract import (
    DISP_E_PARAMNOTFOUND,
    OMITTED,
    WIZARD_GUARD_VBA,
    ExcelModule,
    ExcelRange,
    UnsupportedInHarnessError,
    as_grid,
    call_like_excel,
    cell_error,
    decorate_module,
    excel_session,
    import_like_excel,
    load_windows_udfs,
    parse_vba,
    to_com,
    vba_for,
)

SAMPLE_SOURCE = '''
"""Sample worksheet functions."""
import datetime as dt

import xlwings as xw

RECEIVED = []  # what each call got, after xlwings' conversion


@xw.func(category="Sample")
@xw.arg("block", ndim=2, doc="A block of cells, read as rows.")
@xw.arg("limit", numbers=int, doc="How many rows to return.")
def SAMPLE_TABLE(block, limit=2, label="row"):
    """Number the first rows of a block, under a header row."""
    RECEIVED.append((block, limit, label))
    header = [label] + [f"col {i}" for i in range(1, len(block[0]) + 1)]
    return [header] + [[f"{label} {n}"] + row for n, row in enumerate(block[:limit], 1)]


@xw.func
@xw.arg("fields", ndim=2)
def SAMPLE_FIELDS(fields=None):
    """Read an optional block."""
    RECEIVED.append(fields)
    return 0


@xw.func
def SAMPLE_SUM(a, b=2.0):
    """Add two numbers."""
    RECEIVED.append((a, b))
    return a + b


@xw.func
def SAMPLE_VALUE(value):
    """Return the argument as xlwings read it."""
    RECEIVED.append(value)
    return value


@xw.func
@xw.arg("block", ndim=2, err_to_str=True, dates=dt.date)
def SAMPLE_CELLS(block):
    """Read a block with errors as text and dates as dates."""
    RECEIVED.append(block)
    return len(block)


@xw.func
@xw.ret(transpose=True)
def SAMPLE_COLUMN(n):
    """Spill 1..n down a column."""
    return list(range(1, int(n) + 1))


MEETING = None  # a threading.Barrier, set by a test


@xw.func
def SAMPLE_MEET(value):
    """Wait until the other callers arrive."""
    MEETING.wait()
    return value


@xw.func(call_in_wizard=False, volatile=True)
def SAMPLE_SHY(value):
    """Skipped while the function wizard is open."""
    return value


@xw.func(async_mode="threading")
def SAMPLE_SLOW(value):
    """Run on a thread."""
    return value


@xw.func
def SAMPLE_FAIL(what):
    """Always fails."""
    raise ValueError(f"no {what}")


@xw.func
def SAMPLE_UNDOCUMENTED(value):
    return value


@xw.sub
def sample_macro():
    """A macro, not a worksheet function."""


def helper():
    return "not exported"
'''

FUNCTION_NAMES = {
    "SAMPLE_TABLE",
    "SAMPLE_FIELDS",
    "SAMPLE_SUM",
    "SAMPLE_VALUE",
    "SAMPLE_CELLS",
    "SAMPLE_COLUMN",
    "SAMPLE_MEET",
    "SAMPLE_SHY",
    "SAMPLE_SLOW",
    "SAMPLE_FAIL",
    "SAMPLE_UNDOCUMENTED",
    "sample_macro",
}


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("udfs") / "sample_contract_udfs.py"
    path.write_text(SAMPLE_SOURCE)
    return path


@pytest.fixture(scope="module")
def sample(sample_path: Path) -> ExcelModule:
    return decorate_module(sample_path)


@pytest.fixture
def received(sample: ExcelModule) -> list:
    sample.module.RECEIVED.clear()
    return sample.module.RECEIVED


def linux_import(path: Path) -> ModuleType:
    """Import a module the ordinary way (not left in sys.modules)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- loading -----------------------------------------------------------------------------


def test_load_windows_udfs_is_xlwings_own_module() -> None:
    udfs = load_windows_udfs()
    assert udfs is load_windows_udfs()
    assert udfs.__name__ == "xlwings.udfs"
    assert Path(udfs.__file__) == Path(xlwings.__file__).parent / "udfs.py"
    for name in ("xlfunc", "xlarg", "xlret", "xlsub", "generate_vba_wrapper", "call_udf"):
        assert callable(getattr(udfs, name))


def test_normal_xlwings_is_untouched_after_the_harness_ran(sample: ExcelModule) -> None:
    call_like_excel(sample["SAMPLE_SUM"], 1)
    vba_for(sample)

    def plain(x):
        return x

    assert xlwings.func(plain) is plain and not hasattr(plain, "__xlfunc__")
    assert xlwings.arg("x", ndim=2)(plain) is plain and not hasattr(plain, "__xlfunc__")
    for name in ("pythoncom", "pywintypes", "win32com", "xlwings.udfs", "xlwings.com_server"):
        assert name not in sys.modules
    assert sys.modules["ctypes"] is ctypes
    assert not hasattr(xlwings, "_xlwindows")
    assert "excel" not in [engine.name for engine in xlwings.engines]
    with pytest.raises(ImportError, match="pythoncom"):
        importlib.import_module("xlwings.udfs")


def test_linux_import_leaves_the_functions_undecorated(sample_path: Path) -> None:
    plain = linux_import(sample_path)
    assert not hasattr(plain.SAMPLE_TABLE, "__xlfunc__")
    # decorating works on a copy: the module imported normally stays as it was
    decorated = decorate_module(plain)
    assert hasattr(decorated["SAMPLE_TABLE"], "__xlfunc__")
    assert not hasattr(plain.SAMPLE_TABLE, "__xlfunc__")
    assert sample_path.stem not in sys.modules


# --- metadata ----------------------------------------------------------------------------


def test_functions_are_those_marked_for_excel(sample: ExcelModule) -> None:
    assert set(sample.functions) == FUNCTION_NAMES
    assert sample.metadata("sample_macro")["sub"] is True
    assert sample.metadata("SAMPLE_TABLE")["sub"] is False
    with pytest.raises(KeyError, match="helper"):
        sample["helper"]


def test_metadata_of_a_table_function(sample: ExcelModule) -> None:
    meta = sample.metadata("SAMPLE_TABLE")
    assert meta["name"] == "SAMPLE_TABLE"
    assert meta["category"] == "Sample"
    assert [a["name"] for a in meta["args"]] == ["block", "limit", "label"]
    block, limit, label = meta["args"]
    assert block["options"] == {"ndim": 2}
    assert "optional" not in block
    assert block["doc"] == "A block of cells, read as rows."
    assert limit["options"] == {"numbers": int}
    assert (limit["optional"], label["optional"]) == (2, "row")
    assert meta["ret"] == {
        "doc": "Number the first rows of a block, under a header row.",
        "options": {},
    }


def test_metadata_of_wizard_volatile_and_async_options(sample: ExcelModule) -> None:
    def flags(name: str) -> tuple:
        meta = sample.metadata(name)
        return meta["call_in_wizard"], meta["volatile"], meta["async_mode"]

    assert flags("SAMPLE_SUM") == (True, False, None)
    assert flags("SAMPLE_SHY") == (False, True, None)
    assert flags("SAMPLE_SLOW") == (True, False, "threading")
    assert sample.metadata("SAMPLE_COLUMN")["ret"]["options"] == {"transpose": True}


# --- VBA and function wizard help ---------------------------------------------------------


def test_vba_declares_each_function_with_its_optional_arguments(sample: ExcelModule) -> None:
    vba = vba_for(sample)
    assert vba.startswith('Attribute VB_Name = "xlwings_udfs"')
    procedures = parse_vba(vba)
    assert set(procedures) == FUNCTION_NAMES
    table = procedures["SAMPLE_TABLE"]
    assert table.kind == "Function"
    assert table.param_names == ("block", "limit", "label")
    assert table.optional_params == ("limit", "label")
    assert "Function SAMPLE_TABLE(block, Optional limit, Optional label)" in vba
    assert table.call_args == "Array(block, limit, label)"
    assert table.module_name == sample.name
    assert table.workbook == "ThisWorkbook"
    assert procedures["SAMPLE_VALUE"].optional_params == ()
    assert procedures["sample_macro"].kind == "Sub"


def test_vba_of_call_in_wizard_false_and_volatile(sample: ExcelModule) -> None:
    procedures = parse_vba(vba_for(sample))
    shy = procedures["SAMPLE_SHY"]
    assert shy.skips_wizard and shy.volatile
    assert shy.body.splitlines()[0].strip() == WIZARD_GUARD_VBA
    assert not procedures["SAMPLE_VALUE"].skips_wizard
    assert not procedures["SAMPLE_VALUE"].volatile


def test_vba_of_an_async_function_is_that_of_a_plain_one(sample: ExcelModule) -> None:
    # async_mode lives only in the metadata; call_udf handles it at call time.
    procedures = parse_vba(vba_for(sample))
    slow, plain = procedures["SAMPLE_SLOW"], procedures["SAMPLE_VALUE"]
    assert slow.body.replace("SAMPLE_SLOW", "SAMPLE_VALUE") == plain.body


def test_vba_in_an_addin_passes_the_active_workbook(sample: ExcelModule) -> None:
    procedures = parse_vba(vba_for(sample, workbook_name="generect_excel.xlam"))
    assert {p.workbook for p in procedures.values()} == {"ActiveWorkbook"}


def test_function_wizard_help(sample: ExcelModule) -> None:
    options = import_like_excel(sample).macro_options
    table = options["SAMPLE_TABLE"]
    assert table.macro == "'Book1.xlsm'!SAMPLE_TABLE"
    assert table.description == "Number the first rows of a block, under a header row."
    assert table.category == "Sample"
    assert table.argument_descriptions == (
        "A block of cells, read as rows.",
        "How many rows to return.",
        "Positional argument 3",
    )
    assert options["SAMPLE_SUM"].category == "xlwings"
    # Without a docstring, the wizard shows where the function lives on disk.
    undocumented = options["SAMPLE_UNDOCUMENTED"].description
    assert undocumented.startswith("Python function 'SAMPLE_UNDOCUMENTED' defined in")


# --- calling like Excel: arguments ------------------------------------------------------


def test_a_range_arrives_as_a_list_of_lists(sample: ExcelModule, received: list) -> None:
    block = ((1.0, "a"), (2.0, "b"), (3.0, "c"))
    result = call_like_excel(sample["SAMPLE_TABLE"], block)
    assert received[0][0] == [[1.0, "a"], [2.0, "b"], [3.0, "c"]]
    assert type(received[0][0]) is list and type(received[0][0][0]) is list
    assert result == [["row", "col 1", "col 2"], ["row 1", 1.0, "a"], ["row 2", 2.0, "b"]]


def test_a_cell_reference_reads_like_an_array(sample: ExcelModule, received: list) -> None:
    rows = [["job_titles", "CEO"], ["locations", None]]
    by_reference = call_like_excel(sample["SAMPLE_TABLE"], ExcelRange(rows, cell="B3"))
    by_value = call_like_excel(sample["SAMPLE_TABLE"], rows)
    assert received[0][0] == received[1][0] == [["job_titles", "CEO"], ["locations", None]]
    assert by_reference == by_value


@pytest.mark.parametrize("argument", ["CEO", ExcelRange("CEO"), (("CEO",),)])
def test_one_cell_arrives_as_a_2d_block_with_ndim_2(
    sample: ExcelModule, received: list, argument: object
) -> None:
    call_like_excel(sample["SAMPLE_TABLE"], argument)
    assert received[0][0] == [["CEO"]]


def test_without_ndim_xlwings_squeezes_what_it_reads(sample: ExcelModule, received: list) -> None:
    call_like_excel(sample["SAMPLE_VALUE"], ExcelRange("CEO"))
    call_like_excel(sample["SAMPLE_VALUE"], ExcelRange([[1, 2, 3]]))
    call_like_excel(sample["SAMPLE_VALUE"], ExcelRange([[1], [2]]))
    assert received == ["CEO", [1.0, 2.0, 3.0], [1.0, 2.0]]


def test_an_omitted_optional_argument_gets_the_python_default(
    sample: ExcelModule, received: list
) -> None:
    block = [["a"], ["b"], ["c"]]
    call_like_excel(sample["SAMPLE_TABLE"], block)  # =SAMPLE_TABLE(A1:A3)
    call_like_excel(sample["SAMPLE_TABLE"], block, OMITTED, "lead")  # =SAMPLE_TABLE(A1:A3,,"lead")
    assert [(limit, label) for _, limit, label in received] == [(2, "row"), (2, "lead")]
    assert type(received[0][1]) is int  # the default itself, not converted
    assert to_com(OMITTED) == DISP_E_PARAMNOTFOUND == -2147352572


def test_an_omitted_default_skips_the_argument_options(sample: ExcelModule, received: list) -> None:
    call_like_excel(sample["SAMPLE_FIELDS"])
    call_like_excel(sample["SAMPLE_FIELDS"], "name")
    call_like_excel(sample["SAMPLE_FIELDS"], ExcelRange(None))  # a reference to an empty cell
    assert received == [None, [["name"]], [[None]]]


def test_numbers_arrive_as_floats_unless_an_option_converts_them(
    sample: ExcelModule, received: list
) -> None:
    call_like_excel(sample["SAMPLE_SUM"], 1, 2)
    assert received[0] == (1.0, 2.0) and type(received[0][0]) is float
    call_like_excel(sample["SAMPLE_TABLE"], [["a"], ["b"]], 1)
    assert received[1][1] == 1 and type(received[1][1]) is int  # numbers=int


def test_dates_empty_cells_and_errors_in_a_range(sample: ExcelModule, received: list) -> None:
    cells = [[dt.date(2024, 1, 31), None, ""], [cell_error("#N/A"), True, 7]]
    call_like_excel(sample["SAMPLE_TABLE"], ExcelRange(cells), 5)
    assert received[0][0] == [
        [dt.datetime(2024, 1, 31), None, None],  # a date cell reads as a naive datetime
        [None, True, 7.0],  # an error value reads as None
    ]
    assert received[0][0][0][0].tzinfo is None
    call_like_excel(sample["SAMPLE_CELLS"], ExcelRange(cells))  # err_to_str, dates=date
    assert received[1] == [[dt.date(2024, 1, 31), None, None], ["#N/A", True, 7.0]]


# --- calling like Excel: results --------------------------------------------------------


def test_results_take_the_shape_calludf_gives_them(sample: ExcelModule) -> None:
    value = sample["SAMPLE_VALUE"]
    assert call_like_excel(value, "x") == "x"  # 1x1: a scalar
    assert call_like_excel(value, ((1, 2),)) == [1.0, 2.0]  # 1xN: a flat row
    assert call_like_excel(value, ((1, None), (2, 3))) == [[1.0, ""], [2.0, 3.0]]  # None -> ""
    assert call_like_excel(sample["SAMPLE_SUM"], 1.5) == 3.5
    assert as_grid(call_like_excel(value, ((1, 2),))) == [[1.0, 2.0]]
    assert as_grid("x") == [["x"]]


def test_dates_in_results_go_to_excel_as_utc_times(sample: ExcelModule) -> None:
    result = call_like_excel(sample["SAMPLE_VALUE"], dt.date(2024, 2, 29))
    assert result == dt.datetime(2024, 2, 29, tzinfo=dt.UTC)


def test_declared_return_options_apply(sample: ExcelModule) -> None:
    assert call_like_excel(sample["SAMPLE_COLUMN"], 3) == [[1], [2], [3]]


def test_an_error_raised_inside_propagates(sample: ExcelModule) -> None:
    with pytest.raises(ValueError, match="no lead"):
        call_like_excel(sample["SAMPLE_FAIL"], "lead")


def test_calls_from_several_threads_run_at_the_same_time(sample: ExcelModule) -> None:
    # Each call waits inside the function for all the others: serialized calls would never
    # meet (the barrier's timeout only guards against a hang).
    callers = 4
    sample.module.MEETING = threading.Barrier(callers, timeout=30)
    with ThreadPoolExecutor(callers) as pool:
        results = list(
            pool.map(lambda n: call_like_excel(sample["SAMPLE_MEET"], n), range(callers))
        )
    assert results == [0.0, 1.0, 2.0, 3.0]
    assert "excel" not in [engine.name for engine in xlwings.engines]


# --- what the harness refuses ------------------------------------------------------------


def test_argument_counts_follow_the_vba_declaration(sample: ExcelModule) -> None:
    with pytest.raises(TypeError, match="declares 2"):
        call_like_excel(sample["SAMPLE_SUM"], 1, 2, 3)
    with pytest.raises(TypeError, match="required argument 'a'"):
        call_like_excel(sample["SAMPLE_SUM"])


def test_async_functions_are_refused(sample: ExcelModule) -> None:
    with pytest.raises(UnsupportedInHarnessError, match="async_mode='threading'"):
        call_like_excel(sample["SAMPLE_SLOW"], 1)


def test_functions_must_come_from_decorate_module(sample_path: Path) -> None:
    plain = linux_import(sample_path)
    with pytest.raises(TypeError, match="decorate_module"):
        call_like_excel(plain.SAMPLE_SUM, 1)


def test_to_com_shapes_values_as_pywin32_does() -> None:
    assert to_com(3) == 3.0 and type(to_com(3)) is float
    assert to_com(True) is True
    assert to_com([[1, "a"], [None, 2.5]]) == ((1.0, "a"), (None, 2.5))
    assert to_com(cell_error("#DIV/0!")) == -2146826281
    com_date = to_com(dt.date(2024, 1, 2))
    assert isinstance(com_date, dt.datetime) and com_date.tzinfo is dt.UTC
    with pytest.raises(TypeError, match="set"):
        to_com({1})
    with pytest.raises(ValueError, match="same"):
        ExcelRange([[1, 2], [3]])


# --- xlwings behaviour the real worksheet functions must respect --------------------------

HINTED_SOURCE = """
from typing import Any

import xlwings as xw


@xw.func
def HINT_UNION(text: str | None = None):
    return text


@xw.func
def HINT_INT(limit: int = 25) -> Any:
    return limit


@xw.func
def HINT_LIST(block: list[list[Any]]) -> Any:
    return [[type(block).__name__]]
"""


def test_type_hints_become_conversion_options(tmp_path: Path) -> None:
    path = tmp_path / "hinted_contract_udfs.py"
    path.write_text(HINTED_SOURCE)
    hinted = decorate_module(path)
    # A union hint becomes a "converter" xlwings cannot use: any value given fails...
    with pytest.raises(AttributeError, match="reader"):
        call_like_excel(hinted["HINT_UNION"], "CEO")
    assert call_like_excel(hinted["HINT_UNION"]) == ""  # ...only the default gets through
    # int and list hints convert nothing: use @xw.arg(numbers=int) and @xw.arg(ndim=2).
    assert call_like_excel(hinted["HINT_INT"], 10) == 10.0
    assert call_like_excel(hinted["HINT_LIST"], "CEO") == "str"


def test_annotations_must_resolve_at_runtime(tmp_path: Path) -> None:
    path = tmp_path / "lazy_contract_udfs.py"
    path.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            from typing import TYPE_CHECKING
            import xlwings as xw
            if TYPE_CHECKING:
                from decimal import Decimal

            @xw.func
            def LAZY(x: Decimal):
                return x
            """
        )
    )
    linux_import(path)  # fine on Linux, where the decorator ignores annotations
    with pytest.raises(NameError, match="Decimal"):
        decorate_module(path)  # xlfunc calls get_type_hints at import on Windows


# --- the reserved caller argument ----------------------------------------------------------

CALLER_SOURCE = '''
import xlwings as xw

SEEN = []  # the caller each call got


@xw.func
@xw.arg("block", ndim=2)
def CALLER_WHERE(block, label="cell", caller=None):
    """Say which cell called."""
    SEEN.append(caller)
    return f"{label} {caller.sheet.book.name}!{caller.sheet.name}!{caller.address}"
'''


@pytest.fixture
def caller_module(tmp_path: Path) -> ExcelModule:
    path = tmp_path / "caller_contract_udfs.py"
    path.write_text(CALLER_SOURCE)
    return decorate_module(path)


def test_caller_is_not_declared_in_vba_and_passed_as_nothing(caller_module: ExcelModule) -> None:
    where = parse_vba(vba_for(caller_module))["CALLER_WHERE"]
    assert where.param_names == ("block", "label")
    assert where.optional_params == ("label",)
    assert where.call_args == "Array(block, label, Nothing)"


def test_caller_is_the_formula_cell(caller_module: ExcelModule) -> None:
    where = caller_module["CALLER_WHERE"]
    cell = ExcelRange(None, cell="C5", sheet="Leads", book="Team.xlsx")
    assert call_like_excel(where, "x", caller=cell) == "cell Team.xlsx!Leads!$C$5"
    assert call_like_excel(where, "x", "at") == "at Book1.xlsm!Sheet1!$A$1"  # the default
    with pytest.raises(TypeError, match="declares 2"):
        call_like_excel(where, "x", "at", "extra")


def test_caller_can_be_used_from_another_thread_once(caller_module: ExcelModule) -> None:
    # xlwings marshals the caller (ComRange) so that a background thread may reach Excel.
    cell = ExcelRange(None, cell="B2")
    call_like_excel(caller_module["CALLER_WHERE"], "x", caller=cell)
    (caller,) = caller_module.module.SEEN

    def recalculate() -> None:
        caller.api.Dirty()
        caller.api.Application.Calculate()

    with excel_session(), ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as second:
        first.submit(recalculate).result()
        assert cell.com.dirtied == 1
        assert cell.com.Application.calculations == 1
        with pytest.raises(AssertionError, match="already deserialized"):
            second.submit(lambda: caller.api).result()
