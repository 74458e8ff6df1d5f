"""``generect-excel new``: copy a ready-to-fill template workbook out, or list them.

Each template is built fresh (the same workbook as the one in ``workbook_templates/``), with
example criteria filled in so that a first refresh works straight away. An existing file is
never replaced unless ``--force`` is given.

Example::

    generect-excel new lead-list -o leads.xlsx
    generect-excel new market-sizing -o sizing.xlsx --rows "Company size=11-50;51-200" \\
        --columns "Location=United States;Germany" --filter "Industry=Software Development"
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["new", "register"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _axis(text: str) -> tuple[str, tuple[str, ...]]:
    """ "Label=v1;v2" -> ("Label", ("v1", "v2"))."""
    label, sep, values = text.partition("=")
    items = tuple(v.strip() for v in values.split(";") if v.strip())
    if not sep or not label.strip() or not items:
        raise argparse.ArgumentTypeError(
            f'expected LABEL=VALUE;VALUE..., e.g. "Location=United States;Germany", got "{text}"'
        )
    return label.strip(), items


def _list_templates() -> int:
    from ..templates import TEMPLATES

    width = max(len(name) for name in TEMPLATES)
    for name, description in TEMPLATES.items():
        print(f"{name:<{width}}  {description}")
    return EXIT_OK


def _custom_grid(args: argparse.Namespace):  # -> Workbook
    """The market-sizing workbook for the grid given on the command line, checked for free."""
    from ..criteria import criteria_from_block
    from ..templates import DEFAULT_GRID, GridSpec, build_market_sizing

    spec = GridSpec(
        rows=args.rows or DEFAULT_GRID.rows,
        columns=args.columns or DEFAULT_GRID.columns,
        filters=tuple(args.filter) if args.filter is not None else DEFAULT_GRID.filters,
    )
    # Every grid cell must be a valid count: check one cell per row and column value.
    labels = [label for label, _ in spec.filters] + [spec.rows[0], spec.columns[0]]
    shared = ["; ".join(values) for _, values in spec.filters]
    for row_value in spec.rows[1]:
        for col_value in spec.columns[1]:
            criteria_from_block([labels, [*shared, row_value, col_value]], mode="database")
    return build_market_sizing(spec)


def new(args: argparse.Namespace) -> int:
    """Write template ``args.template`` to ``args.output`` (or list the templates).

    Example::

        generect-excel new account-list -o accounts.xlsx
    """
    if args.list:
        return _list_templates()
    from ..errors import WorkbookError
    from ..templates import TEMPLATES, build_template, write_workbook
    from ..workbook.destination import check_destination

    if not args.template:
        print("error: name a template (generect-excel new --list shows them)", file=sys.stderr)
        return EXIT_USAGE
    if args.template not in TEMPLATES:
        raise WorkbookError(f'No template "{args.template}". Templates: {", ".join(TEMPLATES)}.')
    grid_options = args.rows or args.columns or args.filter is not None
    if grid_options and args.template != "market-sizing":
        print("error: --rows, --columns and --filter apply to market-sizing only", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output or f"{args.template}.xlsx")
    if output.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{output} must end in .xlsx: templates are Excel workbooks.")
    if output.is_dir():
        raise WorkbookError(f"{output} is a folder; give a file name ending in .xlsx.")
    if output.exists() and not args.force:
        raise WorkbookError(f"{output} already exists; choose another name or add --force.")
    check_destination(output, force=args.force, advice="choose another path with -o FILE")
    workbook = _custom_grid(args) if grid_options else build_template(args.template)
    try:
        path = write_workbook(workbook, output, spill=args.spill)
    except OSError as exc:  # the folder checked above changed meanwhile, a full disk
        raise WorkbookError(
            f"Cannot write {output} ({exc.strerror or type(exc).__name__}): choose another "
            "path with -o FILE.",
            details=f"{output}: {exc}",
        ) from None
    shown = os.fspath(path)
    print(f"Wrote the {args.template} template to {shown}")
    print(
        "Replace the examples (marked 'Example — replace with yours'), then refresh: in Excel, "
        f"Generect > Refresh; or generect-excel refresh {shown} (--dry-run shows the cost first)."
    )
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``new`` command."""
    parser = subparsers.add_parser(
        "new",
        help="copy a ready-to-fill template workbook out (--list shows them)",
        description=(
            "Write a template workbook (lead-list, market-sizing, account-list, "
            "realtime-signals) with example criteria filled in, ready to refresh. An existing "
            "file is kept unless --force is given. Example: generect-excel new lead-list -o "
            "leads.xlsx"
        ),
    )
    parser.add_argument("template", nargs="?", metavar="TEMPLATE", help="the template's name")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it (default: TEMPLATE.xlsx)"
    )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument(
        "--list", action="store_true", help="list the templates with a description of each"
    )
    parser.add_argument(
        "--spill",
        choices=("static", "dynamic"),
        default="static",
        help=(
            "how lead tables are stored, as refresh --spill: static (default; every "
            "spreadsheet shows 'Not fetched yet', Excel 365 spills after its first Generect > "
            "Refresh) or dynamic (Excel 365 dynamic arrays; LibreOffice shows #NAME?)"
        ),
    )
    grid = parser.add_argument_group("market-sizing grid (optional)")
    grid.add_argument(
        "--rows", type=_axis, metavar="LABEL=V1;V2", help='rows, e.g. "Seniority=C-Suite;VP"'
    )
    grid.add_argument(
        "--columns",
        type=_axis,
        metavar="LABEL=V1;V2",
        help='columns, e.g. "Location=United States;Germany"',
    )
    grid.add_argument(
        "--filter",
        type=_axis,
        action="append",
        metavar="LABEL=V1;V2",
        help='a filter every cell shares, e.g. "Industry=Software Development" (repeatable)',
    )
    parser.set_defaults(handler=new)
