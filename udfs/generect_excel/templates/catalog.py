"""The template catalogue: each template's name and description, and building one by name."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook

from ..errors import WorkbookError
from .account_list import _build_account_list
from .lead_list import _build_lead_list
from .market_sizing import build_market_sizing
from .preview_pick import _build_preview_pick
from .realtime_signals import _build_realtime_signals
from .writer import write_workbook

TEMPLATES: dict[str, str] = {
    "lead-list": "Leads matching a criteria block, with a free count, the cost and today's spend.",
    "market-sizing": "A grid of free database counts (seniority x location) with totals and a chart.",
    "account-list": "Decision makers (C-suite, VP, director) at each of your target companies.",
    "realtime-signals": "Realtime-only filters (keywords, job changes, posts): a count, then leads.",
    "preview-and-pick": "Masked rows at $0.002, tick the ones that fit, buy only those; money saved.",
}


_BUILDERS: dict[str, Callable[[], Workbook]] = {
    "lead-list": _build_lead_list,
    "market-sizing": build_market_sizing,
    "account-list": _build_account_list,
    "realtime-signals": _build_realtime_signals,
    "preview-and-pick": _build_preview_pick,
}


def build_template(name: str) -> Workbook:
    """Build template ``name`` (a key of :data:`TEMPLATES`) as a fresh openpyxl workbook.

    Save it with :func:`write_workbook` (or :func:`write_template`), not ``Workbook.save``
    alone: only they store the GENERECT_* formulas as spilling dynamic-array formulas.

    Example::

        wb = build_template("lead-list")
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise WorkbookError(f'No template "{name}". Templates: {", ".join(TEMPLATES)}.') from None
    return builder()


def write_template(name: str, path: str | os.PathLike[str]) -> Path:
    """Build template ``name`` and save it to ``path`` (replaced atomically); return the path.

    Example::

        write_template("market-sizing", "sizing.xlsx")
    """
    return write_workbook(build_template(name), path)
