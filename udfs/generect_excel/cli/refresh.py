"""``generect-excel refresh`` and ``generect-excel demo``: fill workbooks without Excel.

Example::

    generect-excel refresh leads.xlsx --dry-run
    generect-excel refresh leads.xlsx -o leads-filled.xlsx --max-spend 5
    generect-excel demo --dir generect-demo
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["demo", "refresh", "register"]

EXIT_OK = 0
EXIT_PROBLEMS = 1  # some formula shows an error or #SPILL! (the workbook is still written)


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}")
    return value


def _confirm(args: argparse.Namespace) -> Any:
    """The confirmation rule: --yes, else ask on a terminal, else refuse with the way out."""
    from ..budget import format_money
    from ..errors import BudgetError

    def confirm(quote: Any) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise BudgetError(
                f"This refresh may cost up to {format_money(quote.worst_case)}: pass --yes to "
                "allow it (see the queries with --dry-run). Nothing was sent."
            )
        for line in quote.lines:
            print(line, file=sys.stderr)
        print(quote.summary(), file=sys.stderr)
        print("Go ahead? [y/N] ", end="", file=sys.stderr, flush=True)
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return confirm


class _Progress:
    """ "12/60 queries" on one terminal line (stderr), only when stderr is a terminal."""

    def __init__(self) -> None:
        self.shown = False
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        from ..workbook.refresher import format_progress

        if self.enabled:
            print(f"\r{format_progress(done, total)}", end="", file=sys.stderr, flush=True)
            self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def refresh(args: argparse.Namespace) -> int:
    """Evaluate every GENERECT_* formula of a workbook and write the results into the file.

    Example::

        generect-excel refresh leads.xlsx --dry-run
    """
    from ..engine import Engine
    from ..settings import load_settings
    from ..workbook.refresher import refresh_workbook

    engine = Engine(load_settings())
    progress = _Progress()
    try:
        summary = refresh_workbook(
            args.book,
            engine,
            output=args.output,
            dry_run=args.dry_run,
            confirm=_confirm(args),
            max_spend=args.max_spend,
            progress=progress,
            spill=args.spill,
            force=args.force,
        )
    finally:
        progress.close()
    for line in summary.lines():
        print(line)
    return EXIT_OK if summary.dry_run or summary.ok else EXIT_PROBLEMS


def demo(args: argparse.Namespace) -> int:
    """Fill the lead-list and market-sizing templates from the built-in sandbox: no key, no
    network, no money.

    Example::

        generect-excel demo --dir generect-demo
    """
    from ..errors import WorkbookError
    from ..workbook.destination import check_destination
    from .demo import DEMO_TEMPLATES, run_demo

    directory = Path(args.dir)
    advice = "choose another folder with --dir DIR"
    if directory.exists() and not directory.is_dir():
        raise WorkbookError(f"Cannot write the demo into {directory}: it is a file; {advice}.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbookError(
            f"Cannot create the folder {directory} ({exc.strerror or type(exc).__name__}): "
            f"{advice}.",
            details=f"{directory}: {exc}",
        ) from None
    for name in DEMO_TEMPLATES:  # before the sandbox starts: one line, nothing written
        check_destination(directory / f"{name}.xlsx", force=True, advice=advice)
    result = run_demo(directory, progress=lambda line: print(line, file=sys.stderr))
    for path, summary in zip(result.workbooks, result.summaries, strict=True):
        print(f"{path.name}:")
        for line in summary.lines():
            print(f"  {line}")
    print()
    print("Open these in Excel or LibreOffice:")
    for path in result.workbooks:
        print(f"  {path.resolve()}")
    print(
        "Then start your own: generect-excel new lead-list -o my-leads.xlsx, fill in the "
        "criteria, set GENERECT_API_KEY and run generect-excel refresh my-leads.xlsx --dry-run"
    )
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``refresh`` and ``demo``."""
    parser = subparsers.add_parser(
        "refresh",
        help="fill every GENERECT formula of a workbook without Excel (cached, budgeted)",
        description=(
            "Evaluate every GENERECT_* formula of an .xlsx workbook with the same engine as the "
            "worksheet functions (answers already stored cost nothing) and write the results "
            "into the file, keeping the formulas. The file is replaced atomically, only after "
            "success; a workbook open in another program or read-only is refused before "
            "anything is sent. A formula whose refresh fails keeps the data it shows. Exit "
            "status 1 when a formula shows an error or #SPILL!, or kept its data (the file is "
            "still written). Example: generect-excel refresh leads.xlsx --dry-run"
        ),
    )
    parser.add_argument("book", metavar="BOOK.xlsx", type=Path, help="the workbook to refresh")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT.xlsx",
        type=Path,
        default=None,
        help="write the refreshed workbook here instead of replacing BOOK.xlsx",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list each query (from the store or new) with its worst-case cost; send nothing billable",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="do not ask before a refresh whose worst case exceeds confirm_above",
    )
    parser.add_argument(
        "--max-spend",
        metavar="USD",
        type=_money,
        default=None,
        help="refuse the refresh if its worst case exceeds this amount",
    )
    parser.add_argument(
        "--spill",
        choices=("static", "dynamic"),
        default="static",
        help=(
            "how tables are stored: static (default; every spreadsheet shows them) or dynamic "
            "(Excel 365 dynamic arrays, re-spilled by the add-in; LibreOffice shows #NAME?)"
        ),
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the workbook even if it is read-only (never one open in another program)",
    )
    parser.set_defaults(handler=refresh)

    parser = subparsers.add_parser(
        "demo",
        help="fill two template workbooks from the built-in sandbox (no key, no money)",
        description=(
            "Start the offline sandbox in this process, copy the lead-list and market-sizing "
            "templates into DIR, refresh them with a test key and a private store under DIR, "
            "and print the summaries and the paths. No key, no network, no money. "
            "Example: generect-excel demo --dir generect-demo"
        ),
    )
    parser.add_argument(
        "--dir",
        default="generect-demo",
        metavar="DIR",
        help="where to write the demo workbooks (default: ./generect-demo)",
    )
    parser.set_defaults(handler=demo)
