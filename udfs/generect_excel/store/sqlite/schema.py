"""The SQLite store's schema: its migrations, an ordered list for this backend."""

from __future__ import annotations

import sqlite3

from ..records import Migration, _ts, _utcnow
from . import register
from .connection import SQLiteConnections

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_cache",
        (
            """
            CREATE TABLE cache (
                key TEXT PRIMARY KEY,
                endpoint TEXT NOT NULL,
                mode TEXT NOT NULL,
                base_url TEXT NOT NULL,
                account TEXT NOT NULL,
                request TEXT NOT NULL,
                answer TEXT NOT NULL,
                amount_charged TEXT NOT NULL,
                fetched_at TEXT NOT NULL,
                refresh_token TEXT,
                billable INTEGER NOT NULL,
                test_mode INTEGER NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "0002_ledger",
        (
            """
            CREATE TABLE ledger (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                charge_id TEXT NOT NULL UNIQUE,
                time TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                mode TEXT NOT NULL,
                request TEXT NOT NULL,
                rows INTEGER NOT NULL,
                results_count,
                amount_charged TEXT NOT NULL,
                test_mode INTEGER NOT NULL,
                account TEXT NOT NULL,
                base_url TEXT NOT NULL,
                workbook TEXT,
                sheet TEXT,
                cell TEXT,
                cache_key TEXT
            )
            """,
            "CREATE INDEX ledger_time ON ledger (time)",
        ),
    ),
    Migration(
        "0003_inflight",
        (
            """
            CREATE TABLE inflight (
                key TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                claimed_at TEXT NOT NULL,
                expires_at TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "0004_refresh_marks",
        (
            # The refresh value each formula (origin) last fetched with, per cache key: two
            # cells asking the same question with different refresh values must not take
            # turns paying on every recalculation.
            """
            CREATE TABLE refresh_marks (
                key TEXT NOT NULL,
                origin TEXT NOT NULL,
                token TEXT NOT NULL,
                PRIMARY KEY (key, origin)
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        "0005_unknown_outcomes",
        (
            # A billable call sent whose answer was lost: may have been charged. ``token`` is
            # the refresh value it was sent for (NULL: none), ``at`` when, ``error`` the class
            # of the error it raised, ``charge_id`` its estimated ledger row.
            """
            CREATE TABLE unknown_outcomes (
                key TEXT PRIMARY KEY,
                token TEXT,
                at TEXT NOT NULL,
                error TEXT NOT NULL,
                amount TEXT NOT NULL,
                charge_id TEXT NOT NULL
            )
            """,
            # When a formula's refresh value was last sent and lost (NULL: it saw an answer).
            "ALTER TABLE refresh_marks ADD COLUMN failed_at TEXT",
            "ALTER TABLE ledger ADD COLUMN unknown_outcome INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        "0006_inflight_reserved",
        (
            # The worst case a paid call holds against the daily cap while it is in flight.
            "ALTER TABLE inflight ADD COLUMN reserved TEXT NOT NULL DEFAULT '0'",
        ),
    ),
    Migration(
        "0007_inflight_sent",
        (
            # When a paid call's request was about to leave (NULL: not yet, so a dead owner's
            # claim may be taken over), and what to record if its owner dies after that: the
            # unknown outcome, its ledger row at the worst case and the formula's place, as
            # one JSON object (the fallback journal's shape).
            "ALTER TABLE inflight ADD COLUMN sent_at TEXT",
            "ALTER TABLE inflight ADD COLUMN if_lost TEXT",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        "0008_settlements",
        (
            # What Generect's billing history says an unknown outcome's ledger row cost: a new
            # fact beside the row, which stays as it was written. ``amount`` is what was
            # charged ('0': not charged), ``transaction_id`` Generect's record of it (NULL: not
            # charged; one transaction settles one row at most).
            """
            CREATE TABLE settlements (
                charge_id TEXT PRIMARY KEY,
                amount TEXT NOT NULL,
                transaction_id TEXT UNIQUE,
                transaction_time TEXT,
                settled_at TEXT NOT NULL
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    # The register of owned leads and which page bought each (see generect_excel.store.register).
    Migration("0009_owned_leads", register.SCHEMA),
)


def _micros_sql(text: str) -> str:
    """SQL for the exact micro-dollars of the amount text ``text`` (see
    :func:`~generect_excel.store.records._micros`), NULL where it could round: more than six
    decimals, an exponent, a magnitude of $1e9 or more. Within those bounds the float's error
    is far below half a micro-dollar, so rounding it gives the exact integer."""
    return (
        f"CASE WHEN {text} NOT GLOB '*[^0-9.-]*' AND {text} GLOB '*[0-9]*' "
        f"AND (instr({text}, '.') = 0 OR length({text}) - instr({text}, '.') <= 6) "
        f"AND abs(CAST({text} AS REAL)) < 1e9 "
        f"THEN CAST(round(CAST({text} AS REAL) * 1000000) AS INTEGER) END"
    )


MIGRATIONS += (
    Migration(
        "0010_ledger_amount_micros",
        (
            # Totals are summed in SQL (issue 16): each amount also as whole micro-dollars
            # (NULL where that is not exact: totals meeting one are summed from the text).
            "ALTER TABLE ledger ADD COLUMN amount_micros INTEGER",
            "ALTER TABLE settlements ADD COLUMN amount_micros INTEGER",
            f"UPDATE ledger SET amount_micros = {_micros_sql('amount_charged')}",
            f"UPDATE settlements SET amount_micros = {_micros_sql('amount')}",
            # A period's total reads this index alone (time range, then the filters and the
            # amount), never the rows; lost answers, few, have their own.
            "CREATE INDEX ledger_spend ON ledger (time, test_mode, account, amount_micros)",
            "CREATE INDEX ledger_unknown ON ledger (time) WHERE unknown_outcome = 1",
        ),
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


class SQLiteSchema(SQLiteConnections):
    """Applies and reports the migrations."""

    def _applied(self, conn: sqlite3.Connection) -> set[str]:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='_migrations'"
        ).fetchone()
        if not exists:
            return set()
        return {row[0] for row in conn.execute("SELECT name FROM _migrations")}

    def _migrate(self) -> None:
        # Read first: an up-to-date file (the usual case) needs no write lock to open.
        with self._connection("reading the schema") as conn:
            try:
                applied = self._applied(conn)
            except sqlite3.Error as exc:
                raise self._error(exc, "reading the schema") from exc
        if all(m.name in applied for m in MIGRATIONS):
            return
        with self._transaction("upgrading the schema", write=True) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            applied = self._applied(conn)  # again, under the write lock: another may have won
            for migration in MIGRATIONS:
                if migration.name in applied:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (migration.name, _ts(_utcnow())),
                )
                applied.add(migration.name)
            known = sum(1 for m in MIGRATIONS if m.name in applied)
            conn.execute(f"PRAGMA user_version = {int(known)}")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied to the file (``PRAGMA user_version``)."""
        with self._connection("reading the schema") as conn:
            try:
                return int(conn.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise self._error(exc, "reading the schema") from exc

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in the order they were applied."""
        with self._transaction("reading the schema", write=False) as conn:
            return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
