"""Windows only: asking Excel to recalculate the cells whose background fetch has landed,
from a fetch worker thread, while Excel may be busy (moved out of :mod:`generect_excel.udfs`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

# Excel's Application.Calculation for manual mode (xlCalculationManual): respected, no Calculate.
XL_CALCULATION_MANUAL = -4135
# COM errors meaning "Excel is busy (editing a cell, calculating, a dialog open); call later":
# RPC_E_SERVERCALL_RETRYLATER, RPC_E_CALL_REJECTED, and Excel's VBA_E_IGNORE.
EXCEL_BUSY_HRESULTS = frozenset({-2147417846, -2147418111, -2146777998})
EXCEL_BUSY_RETRY_SECONDS = 120.0  # how long a landed fetch keeps asking a busy Excel

_com_ready = threading.local()


def _join_com() -> None:
    """Make this thread a COM apartment once (like xlwings' own COM executor threads)."""
    if getattr(_com_ready, "done", False):
        return
    try:
        import pythoncom  # pywin32, always beside xlwings on Windows
    except ImportError:  # the Excel contract harness on Linux: its fakes need no apartment
        pythoncom = None
    if pythoncom is not None:
        pythoncom.CoInitialize()
    _com_ready.done = True


def _when_excel_listens(
    call: Callable[[], Any], sleep: Callable[[float], None] = time.sleep
) -> Any:
    """Run a COM call, retrying while Excel answers "busy" (a cell being edited, a dialog)."""
    deadline = time.monotonic() + EXCEL_BUSY_RETRY_SECONDS
    pause = 0.05
    while True:
        try:
            return call()
        except Exception as exc:
            busy = getattr(exc, "hresult", None) in EXCEL_BUSY_HRESULTS
            if not busy or time.monotonic() > deadline:
                raise
        sleep(pause)
        pause = min(pause * 2, 2.0)


def _recalculate(cells: Sequence[Any]) -> None:
    """Ask Excel to recalculate the cells whose background fetch has landed.

    Runs on a fetch worker thread, never on Excel's calculation thread. ``cells`` are the
    callers (xlwings ComRanges, marshalled for use from this thread, each usable once): each is
    marked dirty, then the application calculates (dirty cells and their dependents), unless
    calculation is manual, where the answer shows at the next F9. Windows-only, and on the
    manual checklist.
    """
    if not cells:
        return
    _join_com()
    application = None
    for cell in cells:
        api = cell.api
        _when_excel_listens(api.Dirty)
        application = api.Application
    if application is not None and application.Calculation != XL_CALCULATION_MANUAL:
        _when_excel_listens(application.Calculate)
