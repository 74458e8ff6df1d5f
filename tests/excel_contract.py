"""Prove the Excel contract of xlwings worksheet functions on Linux, without Excel.

Off Windows, ``@xw.func``, ``@xw.arg`` and ``@xw.ret`` do nothing, so an ordinary test of a
worksheet function proves nothing about what Excel sees. This harness runs xlwings' *own*
Windows code instead: ``xlwings.udfs`` (the decorators, ``import_udfs``,
``generate_vba_wrapper``, ``call_udf``), ``xlwings._xlwindows`` (the Excel engine that cleans
values read from and written to cells) and ``xlwings.com_server`` (``XLPython.CallUDF``, the
method the generated VBA calls). They are loaded once, under their real names, with minimal
stand-ins for the pywin32 modules they import (``pythoncom``, ``pywintypes``, ``win32com``, ...)
and for the two ``ctypes`` names missing on Linux (``windll``, ``oledll``). No line of xlwings is
patched: the stand-ins only make the imports succeed, and any Windows API the harness does not
expect to be reached raises :class:`WindowsOnlyError`.

Isolation: the stand-ins and the Windows modules sit in ``sys.modules`` only while they are
imported. Afterwards ``import xlwings`` behaves exactly as before (no-op decorators, no
``xlwings.udfs``, no ``pythoncom``, no "excel" engine). The Windows state ``call_udf`` looks up
at call time (``xlwings._xlwindows``, ``xlwings.com_server`` and the "excel" engine that
``xlwings/__init__.py`` registers on Windows) is put in place while harness calls run, from any
number of threads at once, and removed when the last one ends.

Usage::

    from excel_contract import OMITTED, ExcelRange, call_like_excel, decorate_module
    from excel_contract import import_like_excel, parse_vba, vba_for

    udfs = decorate_module("generect_excel.udfs")   # or a module object, or a .py path
    udfs.metadata("GENERECT_SEARCH")["category"]     # the __xlfunc__ dict xlwings builds
    vba = parse_vba(vba_for(udfs))                   # the VBA "Import Functions" writes
    vba["GENERECT_SEARCH"].optional_params           # ("limit", "offset", ...)
    import_like_excel(udfs).macro_options            # the function wizard's help
    call_like_excel(udfs["GENERECT_COUNT"], ExcelRange([["job_titles", "CEO"]]), OMITTED)

``decorate_module`` executes a private copy of the module: reach its globals (a cached
engine, a setting to point at the sandbox) through ``ExcelModule.module``.

What ``call_like_excel`` models, argument by argument (what pywin32 hands Python):

- a number typed in a formula or held in a cell: a ``float`` (ints are turned into floats);
- text: ``str``; TRUE/FALSE: ``bool``; an empty cell: ``None``;
- a date: a ``pywintypes.TimeType`` (an aware datetime in UTC);
- an omitted optional argument: :data:`OMITTED`, which becomes the int ``-2147352572``
  (``DISP_E_PARAMNOTFOUND``): the VBA wrapper declares every optional argument ``Optional``
  without a default and passes it on in ``Array(...)``; ``call_udf`` swaps the marker for the
  Python default. Trailing arguments left out of the call are passed as :data:`OMITTED`;
- a cell reference: an :class:`ExcelRange` (Excel passes a ``Range`` object; xlwings reads its
  ``Value``, a scalar for one cell, a tuple of tuples otherwise);
- an array (an array constant or another function's result): a tuple of tuples;
- an error value in a cell (``#N/A``, ...): :func:`cell_error`, an int code.

The result is exactly what ``XLPython.CallUDF`` returns to the VBA wrapper: after
``conversion.write`` (``None`` -> ``""``, dates -> aware UTC datetimes) it squeezes a 1x1 result
to a scalar and a 1xN result to a flat list; anything else stays a list of lists.
:func:`as_grid` turns any of these back into rows. An exception raised by the function
propagates; in Excel the wrapper's ``On Error GoTo failed`` would write ``Err.Description``
(pywin32's description of the Python exception) into the cell.

What xlwings' Windows code does that worksheet functions must respect (all shown by
tests/test_excel_contract_harness.py):

- Type hints are conversion options: ``x: str | None`` (or ``Optional[str]``) makes every
  call that passes ``x`` fail; ``int``, ``str`` and ``list[...]`` hints convert nothing (use
  ``@xw.arg(numbers=int)``, ``@xw.arg(ndim=2)``). Annotations are evaluated at import
  (``get_type_hints``), so a name imported only under ``TYPE_CHECKING`` breaks the import.
- Numbers arrive as floats, date cells as naive ``datetime`` (not ``date``), error cells as
  ``None`` (``err_to_str=True`` gives "#N/A"), an omitted argument as the Python default
  itself (not converted by the argument's options).
- Without a docstring, the function wizard shows "Python function 'X' defined in '<path>'".
- ``call_in_wizard=False`` writes :data:`WIZARD_GUARD_VBA`; ``volatile=True`` writes
  ``Application.Volatile``; ``async_mode`` leaves no trace in the VBA.

The reserved ``caller`` argument is modelled: ``call_udf`` hands the function xlwings'
``ComRange`` of ``Application.Caller`` (the formula's cell, :class:`ExcelRange` ``caller=``,
by default A1 of Sheet1 in the calling workbook), marshalled for use from another thread
(``pythoncom.CoMarshalInterThreadInterfaceInStream``; the stand-in keeps the object itself).
The fake Range records ``Dirty()`` and ``Calculate()``; its ``Application`` records
``Calculate()`` and has a settable ``Calculation`` mode: what a background thread may ask of
Excel (inside :func:`excel_session`, which keeps the Windows state in place after the call
returned). The stand-in ``pythoncom.CoInitialize`` is a no-op.

Not modelled (:class:`UnsupportedInHarnessError`): ``async_mode="threading"`` and the legacy
``expand`` option (both need a live caller cell, window handles and Excel re-entering the
formula). Their metadata and VBA are still checked through :func:`decorate_module` and
:func:`vba_for`.

Limitation: :func:`decorate_module` re-executes one module's source with the Windows decorators
bound; functions it imports from other modules keep their Linux (undecorated) form. Keep the
``@xw.func`` definitions in the module that xlwings imports.
"""

from __future__ import annotations

import atexit
import ctypes
import datetime as dt
import importlib
import importlib.util
import os
import re
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import xlwings

__all__ = [
    "DEFAULT_WORKBOOK_NAME",
    "DISP_E_PARAMNOTFOUND",
    "OMITTED",
    "WIZARD_GUARD_VBA",
    "CellError",
    "ExcelImport",
    "ExcelModule",
    "ExcelRange",
    "MacroOptions",
    "UnsupportedInHarnessError",
    "VbaParam",
    "VbaProcedure",
    "WindowsOnlyError",
    "as_grid",
    "call_like_excel",
    "cell_error",
    "decorate_module",
    "excel_session",
    "import_like_excel",
    "load_windows_udfs",
    "parse_vba",
    "to_com",
    "vba_for",
]

#: What pywin32 hands Python for an omitted ``Optional`` Variant argument: the VARIANT error
#: DISP_E_PARAMNOTFOUND as a plain int. ``call_udf`` tests ``isinstance(arg, int) and
#: arg == -2147352572``; numbers from Excel are floats, so they never collide with it.
DISP_E_PARAMNOTFOUND: Final = -2147352572

#: The line ``generate_vba_wrapper`` writes for ``call_in_wizard=False``. Excel disables the
#: Standard command bar while the function wizard is open, so the function exits at once and
#: returns Empty (shown as 0). Excel also disables it at other times, e.g. while a workbook
#: opens (xlwings/xlwings#1574): such cells show 0 until recalculated.
WIZARD_GUARD_VBA: Final = (
    'If (Not Application.CommandBars("Standard").Controls(1).Enabled) Then Exit Function'
)

#: The workbook the functions are imported into. Its extension matters: for an add-in
#: (``.xlam``) the VBA passes ``ActiveWorkbook`` to CallUDF, otherwise ``ThisWorkbook``.
DEFAULT_WORKBOOK_NAME: Final = "Book1.xlsm"

_RANGE_IID: Final = "{00020846-0000-0000-C000-000000000046}"  # Excel's Range interface
_CELL_ERRORS: Final = {  # as in xlwings._xlwindows.cell_errors
    "#DIV/0!": -2146826281,
    "#N/A": -2146826246,
    "#NAME?": -2146826259,
    "#NULL!": -2146826288,
    "#NUM!": -2146826252,
    "#REF!": -2146826265,
    "#VALUE!": -2146826273,
}
_FAKE_PID: Final = 4242
_FAKE_HWND: Final = 1001

# One lock for every change to sys.modules or xlwings' globals (never held while a
# worksheet function runs).
_LOCK = threading.RLock()
_ABSENT = object()


class WindowsOnlyError(RuntimeError):
    """xlwings reached a Windows API that the harness does not fake."""


class UnsupportedInHarnessError(RuntimeError):
    """The function uses an xlwings feature that needs a live Excel (see the module doc)."""


# --------------------------------------------------------------------------------------
# Values as Excel's COM layer passes them
# --------------------------------------------------------------------------------------


class _Omitted:
    def __repr__(self) -> str:
        return "OMITTED"


#: An omitted optional argument (``=F(A1)`` for ``F(criteria, limit=25)``, or ``=F(A1,,3)``).
OMITTED: Final = _Omitted()


@dataclass(frozen=True)
class CellError:
    """An Excel error value (``#N/A``, ...) as pywin32 passes it: an int code."""

    text: str
    code: int


def cell_error(text: str) -> CellError:
    """The error value ``text`` (``"#N/A"``, ``"#DIV/0!"``, ...) as it sits in a cell."""
    try:
        return CellError(text, _CELL_ERRORS[text])
    except KeyError:
        raise ValueError(
            f"unknown Excel error {text!r}; known: {', '.join(_CELL_ERRORS)}"
        ) from None


class ExcelRange:
    """A cell reference (``A1:C3``) as Excel passes it to a worksheet function: a Range object.

    ``values`` is a scalar (one cell) or a list of rows. xlwings recognises the object as a
    Range (by its COM interface id) and reads it through ``Range.Value``, which pywin32 gives as
    a scalar for one cell and as a tuple of tuples otherwise. ``cell`` is the top-left address.
    """

    def __init__(
        self,
        values: Any,
        *,
        cell: str = "A1",
        sheet: str = "Sheet1",
        book: str = "Book1.xlsx",
    ) -> None:
        if isinstance(values, (list, tuple)):
            if not values or not all(isinstance(row, (list, tuple)) for row in values):
                raise ValueError("ExcelRange takes a scalar or a non-empty list of rows")
            if len({len(row) for row in values}) != 1 or not values[0]:
                raise ValueError("ExcelRange rows must all have the same, non-zero length")
            rows = tuple(tuple(to_com(v) for v in row) for row in values)
        else:
            rows = ((to_com(values),),)
        match = re.fullmatch(r"([A-Za-z]{1,3})([1-9][0-9]*)", cell)
        if match is None:
            raise ValueError(f"cell must look like 'B3', not {cell!r}")
        column = 0
        for letter in match.group(1).upper():
            column = column * 26 + ord(letter) - ord("A") + 1
        self.rows = rows
        self.com = _ComRange(rows, int(match.group(2)), column, _ComSheet(sheet, _ComBook(book)))

    def __repr__(self) -> str:
        return f"ExcelRange({self.com.Address}: {self.rows!r})"


def to_com(value: Any) -> Any:
    """``value`` as pywin32 hands it to Python when Excel passes it to a worksheet function.

    ints become floats (Excel has only doubles), dates become aware UTC
    ``pywintypes.TimeType`` values, lists become tuples (a 2-D array is a tuple of tuples),
    :data:`OMITTED` and :class:`CellError` become their int codes, an :class:`ExcelRange`
    becomes its COM Range object.
    """
    if value is OMITTED:
        return DISP_E_PARAMNOTFOUND
    if isinstance(value, CellError):
        return value.code
    if isinstance(value, ExcelRange):
        return value.com
    if value is None or isinstance(value, (bool, str, float, Decimal)):
        # Decimal: pywin32 turns a currency-formatted cell (VT_CY) into a Decimal.
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        return _pywintypes.TimeType(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=dt.UTC,
        )
    if isinstance(value, dt.date):
        return _pywintypes.TimeType(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, (list, tuple)):
        return tuple(to_com(v) for v in value)
    raise TypeError(f"Excel cannot pass a {type(value).__name__} to a worksheet function")


def as_grid(result: Any) -> list[list[Any]]:
    """A CallUDF result as the rows it fills: scalar -> ``[[v]]``, flat list -> ``[row]``."""
    if isinstance(result, (list, tuple)):
        if result and isinstance(result[0], (list, tuple)):
            return [list(row) for row in result]
        return [list(result)]
    return [[result]]


# --------------------------------------------------------------------------------------
# Fake COM objects: only the attributes xlwings reads on the code paths we run
# --------------------------------------------------------------------------------------


class _Count:
    def __init__(self, count: int) -> None:
        self.Count = count


class _TypeAttr:
    iid = _RANGE_IID


class _TypeInfo:
    def GetTypeAttr(self) -> _TypeAttr:
        return _TypeAttr()


class _OleObject:
    def GetTypeInfo(self) -> _TypeInfo:
        return _TypeInfo()


class _ComApplication:
    """``Application``: what ``_xlwindows.App`` and ``import_udfs`` read, MacroOptions, and
    ``Calculate()`` (recorded in ``calculations``) with the ``Calculation`` mode."""

    Version = "16.0"  # Excel 2016 and later, Microsoft 365 included
    Hwnd = _FAKE_HWND
    Calculation = -4105  # xlCalculationAutomatic

    def __init__(self) -> None:
        self.macro_options: list[tuple[str, dict[str, Any]]] = []
        self.calculations = 0

    def Calculate(self) -> None:
        self.calculations += 1

    def MacroOptions(self, macro: str, **options: Any) -> None:
        self.macro_options.append((macro, options))

    def Run(self, *args: Any) -> Any:
        raise WindowsOnlyError("Application.Run (xlwings' fallback VBA import)")


class _ComBook:
    def __init__(self, name: str) -> None:
        self.Name = name
        self.Application = _ComApplication()


class _ComSheet:
    def __init__(self, name: str, book: _ComBook) -> None:
        self.Name = name
        self.Parent = book


class _ComRange:
    """An Excel Range as pywin32 exposes it, for ``_xlwindows.Range`` and ``is_range_instance``.

    ``Dirty()`` and ``Calculate()`` are counted in ``dirtied`` and ``calculated``."""

    _oleobj_ = _OleObject()
    CLSID = _RANGE_IID  # read by xlwings' ComRange when it marshals the caller

    def __init__(self, rows: tuple[tuple[Any, ...], ...], row: int, column: int, sheet: _ComSheet):
        self._rows = rows
        self.Row = row
        self.Column = column
        self.Rows = _Count(len(rows))
        self.Columns = _Count(len(rows[0]))
        self.Count = len(rows) * len(rows[0])
        self.Worksheet = sheet
        self.dirtied = 0
        self.calculated = 0

    @property
    def Application(self) -> _ComApplication:
        return self.Worksheet.Parent.Application

    def Dirty(self) -> None:
        self.dirtied += 1

    def Calculate(self) -> None:
        self.calculated += 1

    @property
    def Value(self) -> Any:
        return self._rows[0][0] if self.Count == 1 else self._rows

    @property
    def Address(self) -> str:
        def name(col: int) -> str:
            letters = ""
            while col:
                col, rest = divmod(col - 1, 26)
                letters = chr(ord("A") + rest) + letters
            return letters

        first = f"${name(self.Column)}${self.Row}"
        if self.Count == 1:
            return first
        last_col = self.Column + self.Columns.Count - 1
        return f"{first}:${name(last_col)}${self.Row + self.Rows.Count - 1}"


class _VBComponents:
    """``Workbook.VBProject.VBComponents``: records the module file xlwings imports."""

    def __init__(self) -> None:
        self.imported: list[str] = []

    def __call__(self, name: str) -> str:
        return name

    def Remove(self, component: Any) -> None:
        pass  # a first import: there is no "xlwings_udfs" module to remove

    def Import(self, path: str) -> None:
        # import_udfs deletes the file right after, so read it now, as Excel would.
        self.imported.append(Path(path).read_text())


class _VBProject:
    def __init__(self) -> None:
        self.VBComponents = _VBComponents()


class _ComWorkbook(_ComBook):
    """The workbook (or add-in) the functions are imported into, and ``ThisWorkbook``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.VBProject = _VBProject()


# --------------------------------------------------------------------------------------
# Stand-ins for pywin32 and Windows-only ctypes: just enough for xlwings' imports
# --------------------------------------------------------------------------------------


def _windows_only(name: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise WindowsOnlyError(f"{name} needs Windows; the Excel contract harness does not fake it")

    fail.__name__ = name.rsplit(".", 1)[-1]
    return fail


def _stand_in(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name, f"Stand-in for pywin32's {name} (tests/excel_contract.py).")
    module.__file__ = f"<stand-in {name}>"
    module.__dict__.update(attrs)
    return module


class _ComError(Exception):
    """pywintypes.com_error."""


class _TimeType(dt.datetime):
    """pywintypes.TimeType: pywin32's datetime subclass for VT_DATE values."""


class _PyIDispatch:
    """pythoncom.TypeIIDs[IID_IDispatch]; no fake COM object is one (FromVariant keeps them)."""


class _TimeZoneInfo:
    @staticmethod
    def utc() -> dt.tzinfo:
        return dt.UTC


class _InertDll:
    """A ctypes DLL loader whose functions do nothing: xlwings calls two at import time."""

    def __init__(self, *args: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _InertDll()

    def __call__(self, *args: Any) -> int:
        return 0


def _identity(obj: Any, *args: Any, **kwargs: Any) -> Any:
    return obj


def _unwrap(obj: Any) -> Any:
    # win32com.server.util.unwrap fails on anything that is not a wrapped Python object;
    # FromVariant catches that and keeps the value as it is.
    raise TypeError("not a wrapped Python COM object")


_pywintypes = _stand_in(
    "pywintypes",
    com_error=_ComError,
    error=_ComError,
    TimeType=_TimeType,
    IID=lambda text: text.upper(),
)
_IID_IDISPATCH: Final = "{00020400-0000-0000-C000-000000000046}"


class _Stream:
    """What CoMarshalInterThreadInterfaceInStream returns: here, the object itself (single use)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def take(self) -> Any:
        obj, self.obj = self.obj, None
        if obj is None:
            raise _ComError("the marshalled stream was already released")
        return obj


def _build_stand_ins() -> dict[str, types.ModuleType]:
    pythoncom = _stand_in(
        "pythoncom",
        com_error=_ComError,
        ole_error=_ComError,
        IID_IDispatch=_IID_IDISPATCH,
        TypeIIDs={_IID_IDISPATCH: _PyIDispatch},
        CoInitialize=lambda *args: None,  # COM apartments mean nothing here
        # Marshalling a COM interface for another thread (xlwings' ComRange for ``caller``):
        # the fake objects need no proxy, so the stream carries the object itself.
        CoMarshalInterThreadInterfaceInStream=lambda iid, obj: _Stream(obj),
        CoGetInterfaceAndReleaseStream=lambda stream, iid: stream.take(),
    )
    client = _stand_in(
        "win32com.client",
        CDispatch=type("CDispatch", (), {}),
        CoClassBaseClass=type("CoClassBaseClass", (), {}),
        DispatchBaseClass=type("DispatchBaseClass", (), {}),
        # Dispatch(obj) on an object that already is a COM object returns a wrapper of it;
        # the fakes are their own wrappers.
        Dispatch=_identity,
        DispatchEx=_windows_only("win32com.client.DispatchEx"),
    )
    util = _stand_in("win32com.server.util", wrap=_identity, unwrap=_unwrap)
    server = _stand_in(
        "win32com.server",
        util=util,
        dispatcher=_stand_in("win32com.server.dispatcher"),
        policy=_stand_in("win32com.server.policy"),
        exception=_stand_in("win32com.server.exception", COMException=_ComError),
    )
    win32com = _stand_in("win32com", client=client, server=server)
    win32com.__path__ = []  # a package, so "import win32com.client" is well-formed
    server.__path__ = []
    # ctypes without windll/oledll (and with a PyDLL that cannot load pythoncom's DLL) on
    # Linux: a copy of the real module with inert loaders, seen only by xlwings._xlwindows.
    ctypes_copy = types.ModuleType("ctypes", ctypes.__doc__)
    ctypes_copy.__dict__.update(ctypes.__dict__)
    ctypes_copy.__dict__.update(windll=_InertDll(), oledll=_InertDll(), PyDLL=_InertDll)
    return {
        "pythoncom": pythoncom,
        "pywintypes": _pywintypes,
        "win32api": _stand_in("win32api"),
        "win32con": _stand_in("win32con"),
        "win32event": _stand_in("win32event"),
        "win32gui": _stand_in("win32gui", FindWindowEx=_windows_only("win32gui.FindWindowEx")),
        "win32process": _stand_in(
            "win32process",
            # (thread id, process id) of the window that owns Excel: one fake Excel.
            GetWindowThreadProcessId=lambda hwnd: (0, _FAKE_PID),
        ),
        "win32timezone": _stand_in("win32timezone", TimeZoneInfo=_TimeZoneInfo),
        "win32com": win32com,
        "win32com.client": client,
        "win32com.server": server,
        "win32com.server.util": util,
        "win32com.server.dispatcher": server.dispatcher,
        "win32com.server.policy": server.policy,
        "win32com.server.exception": server.exception,
        "ctypes": ctypes_copy,
    }


# --------------------------------------------------------------------------------------
# Loading xlwings' Windows modules
# --------------------------------------------------------------------------------------

_WINDOWS_MODULES: Final = ("_win32patch", "_xlwindows", "udfs", "com_server")


@dataclass(frozen=True)
class _Machinery:
    xlwindows: types.ModuleType
    udfs: types.ModuleType
    com_server: types.ModuleType
    engine: Any  # xlwings.main.Engine wrapping _xlwindows.engine


_machinery_cache: list[_Machinery] = []


@contextmanager
def _swapped_modules(entries: Mapping[str, Any]) -> Iterator[None]:
    """Set ``sys.modules`` entries (``_ABSENT`` removes one) and restore them afterwards."""
    saved = {name: sys.modules.get(name, _ABSENT) for name in entries}
    try:
        for name, module in entries.items():
            if module is _ABSENT:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        yield
    finally:
        for name, module in saved.items():
            if module is _ABSENT:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@contextmanager
def _restored_attributes(obj: Any, names: Sequence[str]) -> Iterator[None]:
    saved = {name: getattr(obj, name, _ABSENT) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _ABSENT:
                if hasattr(obj, name):
                    delattr(obj, name)
            else:
                setattr(obj, name, value)


def _machinery() -> _Machinery:
    with _LOCK:
        if _machinery_cache:
            return _machinery_cache[0]
        stand_ins = _build_stand_ins()
        ctypes_copy = stand_ins.pop("ctypes")
        entries: dict[str, Any] = dict(stand_ins)
        entries.update({f"xlwings.{name}": _ABSENT for name in _WINDOWS_MODULES})
        with _swapped_modules(entries), _restored_attributes(xlwings, _WINDOWS_MODULES):
            with _swapped_modules({"ctypes": ctypes_copy}):  # only _xlwindows needs it
                xlwindows = importlib.import_module("xlwings._xlwindows")
            udfs = importlib.import_module("xlwings.udfs")
            com_server = importlib.import_module("xlwings.com_server")
        # _xlwindows registers an exit hook that hunts for zombie EXCEL.exe processes with
        # "tasklist"; there is no Excel here.
        atexit.unregister(xlwindows.cleanup)
        # com_server creates the event loop async UDFs run on; the harness never serves COM
        # or runs async UDFs, so close it rather than leak its sockets.
        com_server.loop.close()
        engine = xlwings.main.Engine(impl=xlwindows.engine)
        _machinery_cache.append(_Machinery(xlwindows, udfs, com_server, engine))
        return _machinery_cache[0]


def load_windows_udfs() -> types.ModuleType:
    """xlwings' real ``xlwings.udfs`` module, loaded with COM stand-ins (once per process).

    It is not left in ``sys.modules``: ``import xlwings.udfs`` still fails on Linux, and
    ``xlwings.func`` & co. stay no-ops for every other test.
    """
    return _machinery().udfs


class _Session:
    """The Windows state ``call_udf`` and ``import_udfs`` look up at call time.

    Installed while at least one harness call runs, so that calls from several threads run
    at the same time (as Excel's calls and background fetches would), and removed after.
    """

    users = 0
    saved: dict[str, Any] = {}


@contextmanager
def _windows_session() -> Iterator[_Machinery]:
    machinery = _machinery()
    with _LOCK:
        if _Session.users == 0:
            _Session.saved = {
                "com_server": sys.modules.get("xlwings.com_server", _ABSENT),
                "_xlwindows": getattr(xlwings, "_xlwindows", _ABSENT),
                "engines_by_name": dict(xlwings.engines.engines_by_name),
            }
            # call_udf runs "from .com_server import loop" and reads xlwings._xlwindows;
            # conversion.read/write without a Range use xlwings.engines["excel"], which
            # xlwings/__init__.py registers on Windows.
            sys.modules["xlwings.com_server"] = machinery.com_server
            xlwings._xlwindows = machinery.xlwindows
            xlwings.engines.add(machinery.engine)
        _Session.users += 1
    try:
        yield machinery
    finally:
        with _LOCK:
            _Session.users -= 1
            if _Session.users == 0:
                saved = _Session.saved
                xlwings.engines.engines.remove(machinery.engine)
                xlwings.engines.engines_by_name.clear()
                xlwings.engines.engines_by_name.update(saved["engines_by_name"])
                if saved["_xlwindows"] is _ABSENT:
                    del xlwings._xlwindows
                else:
                    xlwings._xlwindows = saved["_xlwindows"]
                if saved["com_server"] is _ABSENT:
                    sys.modules.pop("xlwings.com_server", None)
                else:
                    sys.modules["xlwings.com_server"] = saved["com_server"]


@contextmanager
def excel_session() -> Iterator[None]:
    """Keep xlwings' Windows state in place while the block runs, as it always is inside
    Excel: for background threads that use a marshalled ``caller`` after
    :func:`call_like_excel` has returned (xlwings' ComRange needs ``xlwings._xlwindows``)."""
    with _windows_session():
        yield


# --------------------------------------------------------------------------------------
# Decorating a module the Windows way
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExcelModule:
    """A UDF module executed afresh with xlwings' Windows decorators.

    ``module`` is a private copy (the module imported normally keeps its plain functions);
    ``functions`` maps each worksheet function's name to the function carrying ``__xlfunc__``.
    """

    name: str
    module: types.ModuleType
    functions: Mapping[str, Callable[..., Any]]

    def __getitem__(self, name: str) -> Callable[..., Any]:
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"{self.name} has no worksheet function {name!r}") from None

    def metadata(self, name: str) -> dict[str, Any]:
        """The ``__xlfunc__`` dict of ``name``: args (options, optional defaults, docs), ret,
        category, call_in_wizard, volatile, async_mode, sub."""
        return self[name].__xlfunc__  # type: ignore[attr-defined]


_owners: dict[int, ExcelModule] = {}  # id(module.__dict__) -> ExcelModule, for call_like_excel


def _spec_for(module: types.ModuleType | str | os.PathLike[str]) -> importlib.machinery.ModuleSpec:
    if isinstance(module, types.ModuleType):
        spec = module.__spec__
        if spec is None and getattr(module, "__file__", None):
            spec = importlib.util.spec_from_file_location(module.__name__, module.__file__)
    elif isinstance(module, str) and not module.endswith(".py"):
        spec = importlib.util.find_spec(module)
    else:
        path = Path(module)
        spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot find the source of {module!r}")
    return spec


def decorate_module(module: types.ModuleType | str | os.PathLike[str]) -> ExcelModule:
    """Execute ``module``'s source again with ``xlwings.func/arg/ret/sub/script`` bound to the
    Windows ``xlfunc/xlarg/xlret/xlsub``, exactly as ``xlwings/__init__.py`` binds them on
    Windows, and return the worksheet functions with their ``__xlfunc__`` metadata.

    ``module`` is a module object, a dotted name or a path to a ``.py`` file. Decorator errors
    that Windows would raise at import (an unknown ``@xw.arg`` name, an annotation that cannot
    be resolved at runtime, keyword-only parameters) are raised here.
    """
    machinery = _machinery()
    udfs = machinery.udfs
    spec = _spec_for(module)
    copy = importlib.util.module_from_spec(spec)
    bindings = {
        "func": udfs.xlfunc,
        "arg": udfs.xlarg,
        "ret": udfs.xlret,
        "sub": udfs.xlsub,
        "script": udfs.xlsub,
    }
    with (
        _LOCK,
        _restored_attributes(xlwings, list(bindings)),
        _swapped_modules({spec.name: copy}),  # as during any import
    ):
        for name, decorator in bindings.items():
            setattr(xlwings, name, decorator)
        spec.loader.exec_module(copy)  # type: ignore[union-attr]
    # What generate_vba_wrapper and import_udfs will see: every attribute with __xlfunc__.
    functions = {
        f.__xlfunc__["name"]: f
        for f in (getattr(copy, attr) for attr in dir(copy))
        if hasattr(f, "__xlfunc__")
    }
    excel_module = ExcelModule(spec.name, copy, types.MappingProxyType(functions))
    _owners[id(copy.__dict__)] = excel_module
    return excel_module


def _register(udfs: types.ModuleType, excel_module: ExcelModule) -> None:
    # get_udf_module's own cache; filetime None is its "not reloadable" case, so xlwings uses
    # this copy instead of importing (and getting the undecorated Linux module).
    udfs.udf_modules[excel_module.name] = {
        "filename": getattr(excel_module.module, "__file__", None),
        "filetime": None,
        "module": excel_module.module,
    }


def _as_excel_module(
    module: ExcelModule | types.ModuleType | str | os.PathLike[str],
) -> ExcelModule:
    return module if isinstance(module, ExcelModule) else decorate_module(module)


# --------------------------------------------------------------------------------------
# Importing the functions into a workbook: VBA and function-wizard help
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacroOptions:
    """What ``import_udfs`` hands ``Application.MacroOptions`` for one function: the function
    wizard's help (``description`` and ``argument_descriptions`` are cut at 255 characters)."""

    macro: str
    description: str
    category: str | int
    argument_descriptions: tuple[str, ...] | None


@dataclass(frozen=True)
class ExcelImport:
    """The result of xlwings' "Import Functions" (``import_udfs``) into a fake workbook."""

    vba: str
    macro_options: Mapping[str, MacroOptions]


def import_like_excel(
    module: ExcelModule | types.ModuleType | str | os.PathLike[str],
    *,
    workbook_name: str = DEFAULT_WORKBOOK_NAME,
) -> ExcelImport:
    """Run xlwings' ``import_udfs`` for ``module`` against a fake workbook named
    ``workbook_name``: the VBA module file it imports and the MacroOptions it sets."""
    excel_module = _as_excel_module(module)
    workbook = _ComWorkbook(workbook_name)
    with _windows_session() as machinery:
        _register(machinery.udfs, excel_module)
        machinery.udfs.import_udfs(excel_module.name, workbook)
    (vba,) = workbook.VBProject.VBComponents.imported
    options = {}
    for macro, kwargs in workbook.Application.macro_options:
        name = macro.rsplit("!", 1)[-1]
        argdocs = kwargs["ArgumentDescriptions"]
        options[name] = MacroOptions(
            macro=macro,
            description=kwargs["Description"],
            category=kwargs["Category"],
            argument_descriptions=tuple(argdocs) if argdocs is not None else None,
        )
    return ExcelImport(vba=vba, macro_options=types.MappingProxyType(options))


def vba_for(
    module: ExcelModule | types.ModuleType | str | os.PathLike[str],
    *,
    workbook_name: str = DEFAULT_WORKBOOK_NAME,
) -> str:
    """The VBA module xlwings generates for ``module`` (``generate_vba_wrapper``'s text, with
    the header ``import_udfs`` puts first), as Excel would import it."""
    return import_like_excel(module, workbook_name=workbook_name).vba


@dataclass(frozen=True)
class VbaParam:
    """One parameter of a generated VBA procedure."""

    name: str
    optional: bool = False
    param_array: bool = False


@dataclass(frozen=True)
class VbaProcedure:
    """A generated ``Function``/``Sub`` wrapper, parsed."""

    kind: str  # "Function" or "Sub"
    name: str
    params: tuple[VbaParam, ...]
    skips_wizard: bool  # call_in_wizard=False: the WIZARD_GUARD_VBA line
    volatile: bool  # volatile=True: Application.Volatile
    module_name: str  # first argument of XLPy.CallUDF: the Python module xlwings imports
    call_args: str  # what the VBA passes to CallUDF: "Array(a, b)" or "argsArray"
    workbook: str  # "ThisWorkbook" or "ActiveWorkbook"
    body: str = field(repr=False)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def optional_params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.optional)


_PROCEDURE_RE = re.compile(
    r"^(Function|Sub) (\w+)\(([^)]*)\)\n(.*?)^End \1$", re.MULTILINE | re.DOTALL
)
_CALL_RE = re.compile(
    r'XLPy\.CallUDF[( ]"(?P<module>[^"]+)", "(?P<name>[^"]+)", (?P<args>.+?), '
    r"(?P<workbook>ThisWorkbook|ActiveWorkbook), Application\.Caller\)?$",
    re.MULTILINE,
)


def parse_vba(vba: str) -> dict[str, VbaProcedure]:
    """The procedures of a generated VBA module by name (see :func:`vba_for`)."""
    procedures = {}
    for match in _PROCEDURE_RE.finditer(vba):
        kind, name, raw_params, body = match.groups()
        params = []
        for raw in filter(None, (p.strip() for p in raw_params.split(","))):
            words = raw.split()
            param_name = words[-1].removesuffix("()")
            params.append(
                VbaParam(
                    param_name, optional="Optional" in words, param_array="ParamArray" in words
                )
            )
        call = _CALL_RE.search(body)
        if call is None or call["name"] != name:
            raise ValueError(f"no XLPy.CallUDF call for {name} in:\n{body}")
        lines = [line.strip() for line in body.splitlines()]
        procedures[name] = VbaProcedure(
            kind=kind,
            name=name,
            params=tuple(params),
            skips_wizard=WIZARD_GUARD_VBA in lines,
            volatile="Application.Volatile" in lines,
            module_name=call["module"],
            call_args=call["args"],
            workbook=call["workbook"],
            body=body,
        )
    return procedures


# --------------------------------------------------------------------------------------
# Calling a function the way Excel does
# --------------------------------------------------------------------------------------


def _owner_of(func: Callable[..., Any]) -> ExcelModule:
    if not hasattr(func, "__xlfunc__"):
        raise TypeError(
            f"{getattr(func, '__name__', func)!r} has no __xlfunc__: take it from "
            "decorate_module(...), not from the module imported on Linux"
        )
    owner = _owners.get(id(getattr(func, "__globals__", None)))
    if owner is None or owner.functions.get(func.__xlfunc__["name"]) is not func:
        raise TypeError(f"{func.__name__} does not come from a module given to decorate_module")
    return owner


def _vba_arguments(info: Mapping[str, Any], args: Sequence[Any]) -> tuple[Any, ...]:
    """The ``Array(...)`` the VBA wrapper passes: every declared argument, omitted ones as
    DISP_E_PARAMNOTFOUND. The reserved ``caller`` argument is not declared in VBA: the wrapper
    passes ``Nothing`` (None) in its place, which ``call_udf`` replaces."""
    name = info["name"]
    if any(a["vararg"] for a in info["args"]):
        fixed = len(info["args"]) - 1
        if len(args) < fixed:
            raise TypeError(f"{name} needs at least {fixed} arguments, got {len(args)}")
        return tuple(to_com(a) for a in args)
    declared = [a for a in info["args"] if a["name"] != "caller"]
    if len(args) > len(declared):
        raise TypeError(
            f"Excel refuses {name} with {len(args)} arguments: it declares {len(declared)}"
        )
    padded = list(args) + [OMITTED] * (len(declared) - len(args))
    for arg_info, value in zip(declared, padded, strict=True):
        if value is OMITTED and "optional" not in arg_info:
            raise TypeError(f"{name}: the required argument {arg_info['name']!r} is missing")
    given = iter(to_com(a) for a in padded)
    return tuple(None if a["name"] == "caller" else next(given) for a in info["args"])


def call_like_excel(
    func: Callable[..., Any],
    *args: Any,
    caller: ExcelRange | None = None,
    workbook_name: str = DEFAULT_WORKBOOK_NAME,
) -> Any:
    """Call ``func`` (from :func:`decorate_module`) as a worksheet formula does.

    The arguments go through :func:`to_com` and, like the VBA wrapper's ``Array(...)``, into
    ``com_server.XLPython().CallUDF``, which runs ``udfs.call_udf``: omitted arguments get the
    Python default, the others pass ``conversion.read`` with each argument's declared options,
    the function runs, ``conversion.write`` converts the result with the declared return
    options, and CallUDF squeezes it. Returns that value (see :func:`as_grid`). ``caller`` is
    ``Application.Caller``, the formula's cell: a function with the reserved ``caller``
    argument gets it as xlwings' ``ComRange`` (default: A1 of Sheet1 in ``workbook_name``).
    """
    owner = _owner_of(func)
    info = func.__xlfunc__  # type: ignore[attr-defined]
    if info["async_mode"]:
        raise UnsupportedInHarnessError(
            f"{info['name']} uses async_mode={info['async_mode']!r}: call_udf then returns "
            "'#N/A waiting...' and completes by rewriting the caller's formula from a COM "
            "thread, which needs a live Excel. Check its metadata and VBA instead."
        )
    if info["ret"]["options"].get("expand"):
        raise UnsupportedInHarnessError(
            f"{info['name']} uses the legacy 'expand' return option, which resizes the "
            "caller's array formula in a live Excel; use dynamic arrays instead"
        )
    if caller is None and any(a["name"] == "caller" for a in info["args"]):
        caller = ExcelRange(None, book=workbook_name)
    com_args = _vba_arguments(info, args)
    with _windows_session() as machinery:
        _register(machinery.udfs, owner)
        server = machinery.com_server.XLPython()
        return server.CallUDF(
            owner.name,
            info["name"],
            com_args,
            _ComWorkbook(workbook_name),
            caller.com if caller is not None else None,
        )
