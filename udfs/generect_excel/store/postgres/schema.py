"""The team store's schema: its migrations, an ordered list of its own (see the package)."""

from __future__ import annotations

from ..sqlite import Migration, register
from .notify import CHANNEL

__all__ = ["PG_MIGRATIONS", "PG_SCHEMA_VERSION", "TEAM"]

TEAM = "*"
"""The ``team_caps`` scope of the whole team's cap (any other scope is an analyst's name)."""

# The advisory lock every write transaction takes (any constant works; this one spells "GNRC").
_WRITE_LOCK = 0x474E5243

# Who wrote a row: column defaults read these session settings (set per pooled connection).
_WHO = (
    "analyst TEXT DEFAULT current_setting('generect.analyst', true), "
    "machine TEXT DEFAULT current_setting('generect.machine', true)"
)

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_team_store",
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
            f"""
            CREATE TABLE ledger (
                id BIGSERIAL PRIMARY KEY,
                charge_id TEXT NOT NULL UNIQUE,
                time TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                mode TEXT NOT NULL,
                request TEXT NOT NULL,
                rows INTEGER NOT NULL,
                results_count BIGINT,
                amount_charged TEXT NOT NULL,
                test_mode INTEGER NOT NULL,
                account TEXT NOT NULL,
                base_url TEXT NOT NULL,
                workbook TEXT,
                sheet TEXT,
                cell TEXT,
                cache_key TEXT,
                unknown_outcome INTEGER NOT NULL DEFAULT 0,
                {_WHO}
            )
            """,
            "CREATE INDEX ledger_time ON ledger (time)",
            f"""
            CREATE TABLE inflight (
                key TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                claimed_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                reserved TEXT NOT NULL DEFAULT '0',
                sent_at TEXT,
                if_lost TEXT,
                {_WHO}
            )
            """,
            """
            CREATE TABLE refresh_marks (
                key TEXT NOT NULL,
                origin TEXT NOT NULL,
                token TEXT NOT NULL,
                failed_at TEXT,
                PRIMARY KEY (key, origin)
            )
            """,
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
            """
            CREATE TABLE settlements (
                charge_id TEXT PRIMARY KEY,
                amount TEXT NOT NULL,
                transaction_id TEXT UNIQUE,
                transaction_time TEXT,
                settled_at TEXT NOT NULL
            )
            """,
            # The register's own schema; "rowid" keeps its insertion order as SQLite's does.
            *(
                statement.replace(
                    "PRIMARY KEY (base_url, lead_id)",
                    "rowid BIGSERIAL, PRIMARY KEY (base_url, lead_id)",
                )
                for statement in register.SCHEMA
            ),
            """
            CREATE TABLE team_caps (
                scope TEXT PRIMARY KEY,
                daily_cap TEXT NOT NULL,
                set_at TEXT NOT NULL
            )
            """,
        ),
    ),
    # Waiters on a claim are woken when it goes (notify.py): its key on the channel, at the
    # commit that deleted the row (an answer saved, a claim released or settled).
    Migration(
        "0002_claim_released_notify",
        (
            f"""
            CREATE FUNCTION generect_claim_released() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{CHANNEL}', OLD.key);
                RETURN OLD;
            END
            $$
            """,
            """
            CREATE TRIGGER inflight_released AFTER DELETE ON inflight
            FOR EACH ROW EXECUTE FUNCTION generect_claim_released()
            """,
        ),
    ),
)

PG_SCHEMA_VERSION = len(PG_MIGRATIONS)
