"""``generect-excel store``: set up, upgrade and inspect the store; the team store's caps.

The store is the SQLite file in ``GENERECT_HOME`` unless ``GENERECT_STORE_URL`` (or
``store_url`` in the config file) names the team's PostgreSQL server (issue 15). ``init`` and
``migrate`` apply the schema's missing migrations (safe to re-run; refused against a schema a
newer version wrote), ``status`` says where the store is and what it holds, ``cap`` sets the
team's daily caps, ``import`` copies this laptop's SQLite history into the team store.

Example::

    GENERECT_STORE_URL=postgresql://ana@db.internal/generect generect-excel store init
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["register"]

EXIT_OK = 0


def _team(settings: Any, what: str) -> Any:
    from ..errors import SettingsError
    from ..store.postgres import open_team_store

    if settings.store_url is None:
        raise SettingsError(
            f"{what} needs the team store: set GENERECT_STORE_URL=postgresql://... first."
        )
    return open_team_store(settings)


def init(args: argparse.Namespace) -> int:
    """Create the store's schema (or bring it up to date), then say where it is.

    Example::

        generect-excel store init
    """
    from ..settings import load_settings
    from ..store import open_store

    store = open_store(load_settings())  # opening applies the missing migrations
    applied = store.migrations()
    print(f"store ready at {store.location}: {len(applied)} migration(s) applied")
    return EXIT_OK


def migrate(args: argparse.Namespace) -> int:
    """Apply the migrations the store lacks, in order; safe to re-run.

    Example::

        generect-excel store migrate
    """
    from ..settings import load_settings
    from ..store import open_store

    store = open_store(load_settings())  # migrates on opening; refuses a newer schema
    for name in store.migrations():
        print(name)
    print(f"{store.location} is up to date (schema {store.schema_version})", file=sys.stderr)
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    """Say which store this laptop uses, its schema, its size, and the team's caps.

    Example::

        generect-excel store status
    """
    from ..settings import load_settings
    from ..store import open_store

    settings = load_settings()
    store = open_store(settings)
    facts: dict[str, Any]
    if settings.store_url is None:
        facts = {"backend": "sqlite", "location": store.location}
        facts["schema"] = store.schema_version
        facts.update(store.register_counts())
    else:
        facts = store.status()  # type: ignore[attr-defined]
    for name, value in facts.items():
        print(f"{name}: {value}")
    return EXIT_OK


def _amount(text: str) -> Decimal | None:
    if text.lower() in ("off", "none"):
        return None
    try:
        value = Decimal(text.lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in dollars: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a cap cannot be negative")
    return value


def cap(args: argparse.Namespace) -> int:
    """Set (or with ``off`` remove) the team's daily cap, or one analyst's.

    Example::

        generect-excel store cap 50 && generect-excel store cap 10 --analyst ana
    """
    from ..budget import format_money
    from ..settings import load_settings

    store = _team(load_settings(), "A team cap")
    store.set_cap(args.amount, analyst=args.analyst)
    whose = f"{args.analyst}'s" if args.analyst else "the team's"
    shown = "off" if args.amount is None else format_money(args.amount)
    print(f"{whose} daily cap: {shown}")
    return EXIT_OK


def import_history(args: argparse.Namespace) -> int:
    """Copy this laptop's SQLite history (ledger, answers, doubts) into the team store.

    Example::

        generect-excel store import
    """
    from ..settings import load_settings
    from ..store import Store

    settings = load_settings()
    team = _team(settings, "Importing a local history")
    source = Path(args.source) if args.source else settings.store_path
    if not source.exists():
        from ..errors import StoreError

        raise StoreError(f"No local store at {source}: nothing to import.")
    added, answers = team.import_sqlite(Store(source))
    print(f"imported {added} ledger row(s) and {answers} answer(s) from {source}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``store`` command group."""
    parser = subparsers.add_parser(
        "store",
        help="set up, upgrade and inspect the store (local or the team's PostgreSQL)",
        description=(
            "Set up, upgrade and inspect the store: the SQLite file in GENERECT_HOME, or the "
            "team's PostgreSQL server when GENERECT_STORE_URL is set. "
            "Example: generect-excel store status"
        ),
    )
    commands = parser.add_subparsers(dest="store_command", metavar="COMMAND")
    for name, handler, help_text, example in (
        ("init", init, "create the store's schema", "generect-excel store init"),
        ("migrate", migrate, "apply missing migrations", "generect-excel store migrate"),
        ("status", status, "where the store is and what it holds", "generect-excel store status"),
    ):
        sub = commands.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]} (safe to re-run). "
            f"Example: {example}",
        )
        sub.set_defaults(handler=handler)
    sub = commands.add_parser(
        "cap",
        help="set the team's daily cap, or an analyst's (team store only)",
        description=(
            "Set the daily cap of the whole team, or of one analyst with --analyst, in the "
            "team store: every laptop's paid calls are checked against it before sending. "
            "'off' removes it. Example: generect-excel store cap 50"
        ),
    )
    sub.add_argument("amount", type=_amount, help="dollars per day, or 'off'")
    sub.add_argument("--analyst", metavar="NAME", help="the analyst's cap instead of the team's")
    sub.set_defaults(handler=cap)
    sub = commands.add_parser(
        "import",
        help="copy this laptop's SQLite history into the team store",
        description=(
            "Copy a local SQLite store's ledger, settlements, answers and unknown outcomes "
            "into the team store; each ledger row once (re-running adds nothing). "
            "Example: generect-excel store import"
        ),
    )
    sub.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="the SQLite store to copy (default: GENERECT_HOME's store.sqlite3)",
    )
    sub.set_defaults(handler=import_history)
