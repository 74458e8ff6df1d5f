"""``generect-excel addin install | uninstall | status``: the Excel add-in on this machine.

On Windows and on a Mac, ``install`` copies xlwings' add-in and the Generect add-in into Excel's
startup folder and points the user's xlwings configuration at this Python and at
``generect_excel.udfs``; ``uninstall`` takes back exactly that; ``status`` shows what is there
and where an API key would come from (never the key). Elsewhere (Linux), ``install`` says what
works without Excel and changes nothing.

Example::

    generect-excel addin install
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]

EXIT_OK = 0

KEY_SOURCES = {
    "env": "the GENERECT_API_KEY environment variable",
    "config": "the config file",
    "keyring": "the OS keyring",
    "init": "the command line",
    "none": "nowhere yet",
}


def _print_changes(title: str, changes: list) -> None:
    print(title)
    width = max((len(c.action) for c in changes), default=0)
    for change in changes:
        print(f"  {change.action.ljust(width)}  {change.target}")


def _key_hint(source: str, config_file: Path) -> str:
    if source.startswith("error:"):
        return f"API key: settings are unusable ({source[6:].strip()})"
    where = KEY_SOURCES.get(source, source)
    line = f"API key: read from {where}."
    if source == "none":
        line = (
            "API key: none found. Set GENERECT_API_KEY, or api_key in "
            f"{config_file}, or store it in the keyring (pip install 'generect-excel[keyring]'). "
            "Never put it in a workbook."
        )
    return line


def install(args: argparse.Namespace) -> int:
    """Install the add-ins and the xlwings configuration (idempotent).

    Example::

        generect-excel addin install
    """
    from ..addin.install import addin_paths, install, status, unsupported_message

    paths = addin_paths(home=args.home)
    if paths.kind == "other":
        print(unsupported_message())
        return EXIT_OK
    changes = install(home=args.home)
    _print_changes("Generect add-in for Excel:", changes)
    state = status(home=args.home)
    print(f"  config   {state.config_file}")
    print()
    print("Next:")
    print("  1. Quit Excel completely and start it again: the Generect tab appears.")
    if paths.kind == "windows":
        print(
            "  2. Worksheet functions: Generect tab > Import functions (once after each "
            "install; needs File > Options > Trust Center > Trust Center Settings > Macro "
            "Settings > 'Trust access to the VBA project object model'). Or, in a workbook "
            "saved as .xlsm: xlwings tab > Import Functions."
        )
    else:
        print(
            "  2. Worksheet functions need Excel on Windows. On a Mac the Refresh buttons fill "
            "the GENERECT formulas of the open workbook."
        )
    print(f"  3. {_key_hint(state.key_source, state.generect_config_file)}")
    return EXIT_OK


def uninstall(args: argparse.Namespace) -> int:
    """Remove what ``addin install`` added and restore the configuration it replaced.

    Example::

        generect-excel addin uninstall
    """
    from ..addin.install import addin_paths, uninstall

    if addin_paths(home=args.home).kind == "other":
        print("Nothing to uninstall: the Excel add-in is only installed on Windows or a Mac.")
        return EXIT_OK
    changes = uninstall(home=args.home)
    if changes:
        _print_changes("Generect add-in for Excel:", changes)
    else:
        print("Nothing to uninstall.")
    print("Quit Excel and start it again to unload the add-in.")
    return EXIT_OK


def show_status(args: argparse.Namespace) -> int:
    """Show what is installed, the xlwings configuration, and where the API key comes from.

    Example::

        generect-excel addin status
    """
    from ..addin.install import status, unsupported_message

    state = status(home=args.home)
    print(f"xlwings {state.xlwings_version}")
    if state.kind == "other":
        print(unsupported_message())
    else:
        for f in state.files:
            mark = "installed" if f.installed else "missing"
            if f.installed and not f.current:
                mark = "outdated (run generect-excel addin install)"
            print(f"  {mark:<10}  {f.path}")
        print(f"  config      {state.config_file}")
        for key, (current, wanted) in state.config.items():
            note = "ok" if current == wanted else f"install would set {wanted}"
            print(f"    {key} = {current if current is not None else '(not set)'}  [{note}]")
        print("installed" if state.installed else "not installed")
    print(_key_hint(state.key_source, state.generect_config_file))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``addin`` command group."""
    parser = subparsers.add_parser(
        "addin",
        help="install, uninstall or inspect the Excel add-in (Windows, Mac)",
        description=(
            "Install the Generect ribbon add-in and xlwings' add-in into Excel's startup folder "
            "and point xlwings at this Python and at generect_excel.udfs. Example: "
            "generect-excel addin install"
        ),
    )
    actions = parser.add_subparsers(dest="addin_command", metavar="ACTION", required=True)
    for name, handler, help_text in (
        ("install", install, "install the add-ins and the xlwings configuration (idempotent)"),
        ("uninstall", uninstall, "remove what install added, restore what it replaced"),
        ("status", show_status, "show what is installed and where the API key comes from"),
    ):
        description = (
            f"{help_text[0].upper()}{help_text[1:]}. "
            f"Example: generect-excel addin {name}"
            + (" --home /tmp/try-home" if name == "status" else "")
        )
        sub = actions.add_parser(name, help=help_text, description=description)
        sub.add_argument(
            "--home",
            type=Path,
            default=None,
            metavar="DIR",
            help="act as if DIR were the user's home folder (for trying it out)",
        )
        sub.set_defaults(handler=handler)
