"""The Generect ribbon's entry points: what its buttons run, through xlwings' ``RunPython``.

The add-in's VBA (see ``addin/README.md``) runs
``import generect_excel.ribbon; generect_excel.ribbon.<action>()``: each function below takes
no argument, works on the workbook Excel is showing (``xw.Book.caller()``) and shows its
outcome in a message box. On Windows Excel waits until it returns; on a Mac it runs in the
background. The work is done by :mod:`generect_excel.ribbon.actions` on a :class:`LiveBook`,
the live ``xlwings.Book`` plus the three things xlwings does not offer (where a formula's
result is; deleting a defined name by its full name; opening the book again). Importing this
module is cheap: no xlwings, openpyxl or HTTP until a button is clicked.

Unexpected errors are written, with their traceback, to ``ribbon.log`` in the Generect home
folder (``GENERECT_HOME``, else the platform's data folder, beside the store); the message box
shows one line. The API key is never logged.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from .. import _constants as C

__all__ = [
    "LiveBook",
    "freeze_selection",
    "log_file",
    "refresh_selection",
    "refresh_sheet",
    "refresh_workbook",
    "show_spend",
]

log = logging.getLogger(__name__)

LOG_NAME = "ribbon.log"
LOG_MAX_BYTES = 1_000_000


# --------------------------------------------------------------------------- the buttons


def refresh_selection() -> None:
    """Refresh: the GENERECT_COUNT/SEARCH formulas in the selection (or in the results it
    touches); the active sheet's when the selection holds none."""
    _run(lambda book, actions: actions.refresh(book, "selection"))


def refresh_sheet() -> None:
    """Refresh sheet: every GENERECT_COUNT/SEARCH formula on the active sheet."""
    _run(lambda book, actions: actions.refresh(book, "sheet"))


def refresh_workbook() -> None:
    """Refresh workbook: every GENERECT_COUNT/SEARCH formula on every sheet."""
    _run(lambda book, actions: actions.refresh(book, "workbook"))


def freeze_selection() -> None:
    """Freeze to values: the selected GENERECT results become plain values, for sharing."""
    _run(lambda book, actions: actions.freeze_selection(book))


def show_spend() -> None:
    """Spend: today, this month and since the last Refresh, from the local ledger (free)."""
    _run(lambda book, actions: actions.spend_summary(book))


# --------------------------------------------------------------------------- plumbing


def log_file() -> Path:
    """Where the ribbon writes its log: ``ribbon.log`` in the Generect home folder."""
    home = os.environ.get(C.ENV_HOME)
    if home:
        return Path(home).expanduser() / LOG_NAME
    from ..settings import default_home

    return default_home() / LOG_NAME


def _start_logging() -> Path | None:
    """Send this process's log to :func:`log_file` (RunPython's Python has no console)."""
    path = log_file()
    root = logging.getLogger("generect_excel")
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=1, encoding="utf-8")
    except OSError:  # an unwritable home must not stop the button
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def _run(action: Callable[[Any, Any], Any]) -> None:
    import xlwings as xw

    from . import actions as ribbon_actions

    path = _start_logging()
    book = LiveBook(xw.Book.caller())
    ribbon_actions.run(
        book,
        lambda b: action(b, ribbon_actions),
        log_file=str(path) if path else None,
    )


class LiveBook:
    """A live ``xlwings.Book`` as :class:`generect_excel.ribbon.actions.Book`.

    Delegates to xlwings, and adds :meth:`spill_range` (Excel's ``Range.SpillingToRange`` /
    ``CurrentArray`` through COM on Windows; on a Mac, where AppleScript has no spill
    property, the ``A1#`` reference), :meth:`delete_name` and :meth:`reopen`. The app and the
    file name are kept when wrapping: a closed book no longer knows them.
    """

    def __init__(self, book: Any, *, platform: str | None = None) -> None:
        self._book = book
        self._platform = platform or sys.platform
        self._app = book.app
        self._fullname = book.fullname

    @property
    def name(self) -> str:
        return str(self._book.name)

    @property
    def fullname(self) -> str:
        return str(self._fullname)

    @property
    def sheets(self) -> Any:
        return self._book.sheets

    @property
    def names(self) -> Any:
        return self._book.names

    @property
    def app(self) -> Any:
        return self._app

    @property
    def selection(self) -> Any:
        try:
            return self._book.selection
        except Exception:  # a chart or a shape is selected: no cells
            log.info("no cell selection", exc_info=True)
            return None

    def save(self) -> None:
        self._book.save()

    def close(self) -> None:
        self._book.close()

    def delete_name(self, name: str) -> None:
        """Delete the defined name ``name`` (as ``names`` gives it); gone already: nothing."""
        for item in self._book.names:
            if item.name == name:
                item.delete()
                return

    def reopen(self) -> LiveBook:
        return LiveBook(self._app.books.open(self._fullname), platform=self._platform)

    def spill_range(self, cell: Any) -> Any:
        """The cells holding ``cell``'s result, the cell itself, or None (unknown)."""
        if self._platform == "darwin":
            try:
                return cell.sheet.range(cell.address + "#")
            except Exception:  # AppleScript does not know the reference: cannot tell
                return None
        api = cell.api
        try:
            if api.HasSpill:
                spilling = api.SpillingToRange
                if spilling is not None:
                    return cell.sheet.range(spilling.Address)
        except AttributeError:  # an Excel before dynamic arrays
            pass
        if cell.has_array:
            return cell.sheet.range(api.CurrentArray.Address)
        return cell
