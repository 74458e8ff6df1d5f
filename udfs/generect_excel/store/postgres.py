"""The team store: the same store on a PostgreSQL server that a team's laptops share.

Chosen by one setting, ``GENERECT_STORE_URL=postgresql://user@host/db`` (see
:func:`generect_excel.store.backend.open_store`); without it every laptop keeps its SQLite file.
:class:`PostgresStore` is the SQLite :class:`~generect_excel.store.Store` with a PostgreSQL
connection under it: the logic that makes "never pay twice" true (claims, sent marks, unknown
outcomes, one transaction per charge, the register of owned leads) is the same code, so the two
backends cannot drift; the store tests run against both. What differs, and why:

- **One writer at a time, across machines.** SQLite's ``BEGIN IMMEDIATE`` lets one writer in at
  a time; here every write transaction first takes one transaction-scoped advisory lock
  (``pg_advisory_xact_lock``), so the claim's read-judge-insert, the budget check and the
  reservation are atomic for every laptop of the team, and the lock is released by the commit
  or by the server when a laptop's connection dies. Reads take no lock.
- **A dead owner's claim.** Owners are ``host|pid|token``: a claim of this machine is judged by
  its process, another machine's only by its expiry (the request timeout plus the longest
  throttling wait), exactly as the SQLite store does; a claim marked sent whose owner is gone is
  recorded as an unknown outcome, never bought again blindly.
- **Who bought it.** Every ledger row and claim carries the ``analyst`` and ``machine`` of the
  connection that wrote it (column defaults read from the session, set when a pooled connection
  opens).
- **Team budgets.** ``team_caps`` holds a daily cap for the team (scope ``*``) and per analyst.
  A paid call's claim checks them in its write transaction against today's ledger plus every live
  claim's reservation (the team's, or the analyst's own) and reserves its worst case in the same
  transaction; the refusal names whose cap it is and what is spent versus reserved. The laptop's
  own ``max_spend_per_day`` counts that analyst's spend only.
- **The server is down.** Nothing is sent: a paid call cannot claim, so it can neither pay twice
  nor skip the team cap; the cell shows "The team store is unreachable". An answer bought while
  the server went away is kept in the local journal (``GENERECT_HOME/team-store.unsaved.jsonl``)
  with its charge, and imported when the store is next opened (the same fallback as SQLite's).
- **Migrations** are their own ordered list (:data:`PG_MIGRATIONS`), recorded in ``_migrations``,
  run under the same lock (safe to re-run from many laptops at once); a database that a newer
  version migrated further is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .. import _constants as C
from ..errors import BudgetError, StoreError
from ..ledger import Settlement
from ..memo import BoundedMemo
from .owners import _HOST
from .records import CacheEntry, Claim, Reservation, UnknownOutcome, _parse_ts, _ts, _utcnow
from .sqlite import Migration, SQLiteStore, register
from .sqlite.journal import JOURNAL_SUFFIX

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "PG_MIGRATIONS",
    "TEAM",
    "PostgresStore",
    "analyst_name",
    "open_team_store",
    "redact_url",
]

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
)

PG_SCHEMA_VERSION = len(PG_MIGRATIONS)

# Primary keys of the tables the shared code writes with SQLite's INSERT OR REPLACE, and the
# columns an upsert also refreshes from their defaults (a claim taken over is the taker's).
_KEYS = {
    "cache": ("key",),
    "inflight": ("key",),
    "refresh_marks": ("key", "origin"),
    "unknown_outcomes": ("key",),
}
_ALSO = {"inflight": ("analyst", "machine")}

_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)(.*)$", re.S)
_NUMBERED = re.compile(r"\?(\d+)")


def _translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """SQLite's dialect, as the shared code writes it, in PostgreSQL's: placeholders, upserts,
    integer flags used as conditions. Returns the statement and, for numbered placeholders
    (``?1``), the order to pass the parameters in."""
    sql = sql.replace("%", "%%")
    sql = sql.replace(" AND unknown_outcome)", " AND unknown_outcome = 1)")
    sql = sql.replace("SUM(times_bought > 1)", "SUM(CASE WHEN times_bought > 1 THEN 1 ELSE 0 END)")
    replace = _REPLACE.match(sql)
    if replace:
        table, columns, rest = replace.groups()
        names = [c.strip() for c in columns.split(",")]
        keys = _KEYS[table]
        updates = [n for n in names if n not in keys] + list(_ALSO.get(table, ()))
        sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in updates)
        sql = (
            f"INSERT INTO {table} ({columns}){rest} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        )
    elif "INSERT OR IGNORE INTO" in sql:
        sql = sql.replace("INSERT OR IGNORE INTO", "INSERT INTO") + " ON CONFLICT DO NOTHING"
    order: tuple[int, ...] | None = None
    if _NUMBERED.search(sql):
        order = tuple(int(n) - 1 for n in _NUMBERED.findall(sql))
        sql = _NUMBERED.sub("%s", sql)
    return sql.replace("?", "%s"), order


class _PostgresError(sqlite3.OperationalError):
    """A PostgreSQL error, raised where the shared code catches ``sqlite3.Error``; the store's
    ``_error`` turns it into a :class:`StoreError` (the original is ``__cause__``)."""


class _Connection:
    """A psycopg connection that speaks to the shared store code like ``sqlite3.Connection``:
    ``execute(sql, params)`` in SQLite's dialect, returning a cursor."""

    __slots__ = ("raw",)
    _statements: dict[str, tuple[str, tuple[int, ...] | None]] = {}

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import psycopg

        known = self._statements.get(sql)
        if known is None:
            known = self._statements[sql] = _translate(sql)
        text, order = known
        values = list(params) if order is None else [params[i] for i in order]
        try:
            return self.raw.execute(text, values)
        except psycopg.Error as exc:
            raise _PostgresError(str(exc)) from exc


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(SQLiteStore):
    """The cache, the ledger, the claims, the register and the team's caps on a PostgreSQL
    server, for every analyst of a team (see the module docstring).

    ``url`` is a libpq URL (``postgresql://user[:password]@host[:port]/database``), never
    logged with its password; ``analyst`` and ``machine`` are written into each ledger row and
    claim; ``home`` is the local folder of the fallback journal.

    Example::

        store = PostgresStore("postgresql://alice@db.example/generect", analyst="alice",
                              home=settings.home)
        store.set_cap(Decimal("50"))  # the team's daily cap
    """

    def __init__(
        self,
        url: str,
        *,
        analyst: str,
        home: str | os.PathLike[str],
        machine: str = _HOST,
        password: str | None = None,
        pool_size: int = C.STORE_IDLE_CONNECTIONS,
        timeout: float = C.STORE_BUSY_TIMEOUT,
    ) -> None:
        self.url = redact_url(url)
        self.analyst = analyst
        self.machine = machine
        self.busy_timeout = timeout
        self._conninfo = url
        self._password = password
        self._pool_size = pool_size
        # Messages and the journal's name; no file lives here but the journal.
        self.path = Path(home).expanduser() / "team-store"
        self.journal_path = self.path.with_name(self.path.name + JOURNAL_SUFFIX)
        self._memo: BoundedMemo[str, tuple[str, dict[str, Any]]] = BoundedMemo(
            C.STORE_MEMO_ENTRIES, C.STORE_MEMO_CHARS
        )
        self._lock = threading.Lock()
        self._pool_pid = 0
        self._pool: Any = None
        weakref.finalize(self, PostgresStore._close_pool, [self])
        self._migrate()
        if self.journal_path.exists():
            self.recover_journal()
        try:
            self.settle_abandoned()
        except StoreError as exc:  # the next full claim settles them instead
            import logging

            logging.getLogger(__name__).warning(
                "could not record requests left by ended processes: %s", exc.details
            )

    # -- connections -----------------------------------------------------------------------

    @property
    def location(self) -> str:
        """The server and database, without the password (see :attr:`StoreBackend.location`)."""
        return self.url

    def _configure(self, conn: Any) -> None:
        conn.execute(
            "SELECT set_config('generect.analyst', %s, false), "
            "set_config('generect.machine', %s, false)",
            (self.analyst, self.machine),
        )

    def _connections_pool(self) -> Any:
        """The connection pool of this process (a forked child opens its own)."""
        pool = self._pool
        if pool is not None and self._pool_pid == os.getpid():
            return pool
        from psycopg_pool import ConnectionPool

        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                extra: dict[str, Any] = {"autocommit": True}
                if self._password:
                    extra["password"] = self._password
                self._pool = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=max(self._pool_size, 2),
                    kwargs=extra,
                    configure=self._configure,
                    timeout=self.busy_timeout,
                    name="generect-team-store",
                    open=False,
                )
                self._pool.open(wait=False)
                self._pool_pid = os.getpid()
            return self._pool

    @staticmethod
    def _close_pool(holder: list[PostgresStore]) -> None:
        store = holder.pop() if holder else None
        if store is not None and store._pool is not None and store._pool_pid == os.getpid():
            with contextlib.suppress(Exception):
                store._pool.close()

    def close(self) -> None:
        """Close the pool's connections; the store stays usable (the next call opens a pool)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()

    @contextlib.contextmanager
    def _connection(self, what: str) -> Iterator[Any]:
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._connections_pool().connection() as raw:
                yield _Connection(raw)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._error(exc, what) from exc

    @contextlib.contextmanager
    def _transaction(self, what: str, *, write: bool) -> Iterator[Any]:
        """A transaction; a write one first takes the team's write lock (see the module
        docstring), so writers from every laptop go one at a time, as SQLite's do."""
        import psycopg

        with self._connection(what) as conn:
            try:
                with conn.raw.transaction():
                    if write:
                        conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                    _CURRENT.conn = conn
                    try:
                        yield conn
                    finally:
                        _CURRENT.conn = None
            except (sqlite3.Error, psycopg.Error) as exc:
                raise self._error(exc, what) from exc

    def _error(self, exc: BaseException, what: str) -> StoreError:  # type: ignore[override]
        import psycopg

        cause = exc.__cause__ if isinstance(exc, _PostgresError) else exc
        details = f"{self.url} ({what}): {type(cause).__name__}: {cause}"
        text = str(cause).lower()
        unreachable = isinstance(cause, psycopg.OperationalError) or "timeout" in text
        if unreachable and ("connect" in text or "timeout" in text or "closed" in text):
            return StoreError(
                "The team store is unreachable, so nothing was sent or charged: check the "
                "PostgreSQL server or GENERECT_STORE_URL, then retry.",
                details=details,
            )
        return StoreError(f"The team store failed while {what}: {cause}", details=details)

    # -- schema ----------------------------------------------------------------------------

    def _applied_pg(self, conn: _Connection) -> list[str]:
        exists = conn.raw.execute("SELECT to_regclass('_migrations')").fetchone()[0]
        if exists is None:
            return []
        return [r[0] for r in conn.raw.execute("SELECT name FROM _migrations ORDER BY position")]

    def _migrate(self) -> None:
        """Apply the missing migrations (under the write lock: many laptops may start at
        once); refuse a database migrated by a newer version."""
        with self._connection("reading the schema") as conn:
            applied = self._applied_pg(conn)
        self._refuse_newer(applied)
        if len(applied) == len(PG_MIGRATIONS):
            return
        self.migrate()

    def _refuse_newer(self, applied: list[str]) -> None:
        known = {m.name for m in PG_MIGRATIONS}
        newer = [name for name in applied if name not in known]
        if newer:
            raise StoreError(
                f"The team store was upgraded by a newer generect-excel (schema "
                f"{len(applied)}, this one knows {PG_SCHEMA_VERSION}): upgrade generect-excel "
                "on this machine.",
                details=f"{self.url}: unknown migrations {', '.join(newer)}",
            )

    def migrate(self) -> list[str]:
        """Apply the migrations this database lacks, in order, each recorded in
        ``_migrations``; returns their names (none: it was up to date). Safe to re-run."""
        done: list[str] = []
        with self._transaction("upgrading the schema", write=True) as conn:
            conn.raw.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (position INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
            )
            applied = self._applied_pg(conn)  # again, under the lock: another may have won
            self._refuse_newer(applied)
            for position, migration in enumerate(PG_MIGRATIONS, 1):
                if migration.name in applied:
                    continue
                for statement in migration.statements:
                    conn.raw.execute(statement)
                conn.raw.execute(
                    "INSERT INTO _migrations (position, name, applied_at) VALUES (%s, %s, %s)",
                    (position, migration.name, _ts(_utcnow())),
                )
                done.append(migration.name)
        return done

    @property
    def schema_version(self) -> int:
        """The number of migrations applied to the database."""
        return len(self.migrations())

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self._connection("reading the schema") as conn:
            return self._applied_pg(conn)

    # -- what SQLite's code does with SQLite's own features ----------------------------------

    def _claim_unclaimed(self, key: str, owner: str, now: datetime, ttl: float) -> bool:
        """SQLite's one-statement claim; here inside a write transaction (the team's lock),
        so that it is as atomic across laptops as the full :meth:`claim`."""
        from datetime import timedelta

        with self._transaction("claiming a request", write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO inflight (key, owner, claimed_at, expires_at) "
                "SELECT ?1, ?2, ?3, ?4 "
                "WHERE NOT EXISTS (SELECT 1 FROM cache WHERE key = ?1) "
                "AND NOT EXISTS (SELECT 1 FROM unknown_outcomes WHERE key = ?1) "
                "AND NOT EXISTS (SELECT 1 FROM inflight WHERE key = ?1)",
                (key, owner, _ts(now), _ts(now + timedelta(seconds=ttl))),
            )
            return bool(cursor.rowcount == 1)

    def settle(self, settlements: list[Settlement]) -> int:
        """See :meth:`Store.settle` (the same rules; counted without SQLite's total_changes)."""
        new = 0
        with self._transaction("settling unknown outcomes", write=True) as conn:
            for item in settlements:
                cursor = conn.execute(
                    "INSERT INTO settlements (charge_id, amount, transaction_id, "
                    "transaction_time, settled_at) SELECT ?, ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM ledger WHERE charge_id = ? "
                    "AND unknown_outcome = 1) ON CONFLICT DO NOTHING",
                    (
                        item.charge_id,
                        str(item.amount),
                        item.transaction_id,
                        None if item.transaction_time is None else _ts(item.transaction_time),
                        _ts(item.settled_at),
                        item.charge_id,
                    ),
                )
                new += cursor.rowcount
        return new

    # -- team budgets ----------------------------------------------------------------------

    def claim(
        self,
        key: str,
        owner: str,
        *,
        ttl: float,
        is_fresh: Callable[[CacheEntry], bool],
        is_new_doubt: Callable[[UnknownOutcome], bool] | None = None,
        reservation: Reservation | None = None,
        now: datetime | None = None,
    ) -> Claim:
        """See :meth:`Store.claim`. A paid call's check also holds the team's caps: in the
        claim's write transaction, the laptop's own cap is checked against this analyst's
        spend and reservations, then the team's cap and the analyst's team cap (``team_caps``)
        against the team's; the claim then reserves the worst case in the same transaction."""
        now = now or _utcnow()
        if reservation is not None and reservation.amount:
            reservation = Reservation(
                reservation.amount,
                reservation.since,
                reservation.until,
                self._team_admit(reservation, key, now),
            )
        return super().claim(
            key,
            owner,
            ttl=ttl,
            is_fresh=is_fresh,
            is_new_doubt=is_new_doubt,
            reservation=reservation,
            now=now,
        )

    def _team_admit(
        self, reservation: Reservation, key: str, now: datetime
    ) -> Callable[[Decimal, Decimal], None]:
        def admit(team_spent: Decimal, team_reserved: Decimal) -> None:
            conn = _CURRENT.conn  # the claim's transaction, holding the write lock
            assert conn is not None
            mine_spent = self._spent(conn, reservation, self.analyst)
            mine_reserved = self._held(conn, key, now, self.analyst)
            reservation.admit(mine_spent, mine_reserved)  # the laptop's own setting
            caps = dict(conn.execute("SELECT scope, daily_cap FROM team_caps").fetchall())
            estimate = reservation.amount
            if TEAM in caps:
                self._check_cap(
                    "the team's", Decimal(caps[TEAM]), estimate, team_spent, team_reserved
                )
            if self.analyst in caps:
                self._check_cap(
                    f"{self.analyst}'s team",
                    Decimal(caps[self.analyst]),
                    estimate,
                    mine_spent,
                    mine_reserved,
                )

        return admit

    @staticmethod
    def _check_cap(
        whose: str, cap: Decimal, estimate: Decimal, spent: Decimal, reserved: Decimal
    ) -> None:
        from ..budget import format_money

        if spent + reserved + estimate <= cap:
            return
        message = (
            f"{format_money(estimate)} more passes {whose} daily cap of {format_money(cap)} "
            f"({format_money(spent)} spent, {format_money(reserved)} reserved by calls in "
            "flight). Ask the team's admin: generect-excel store cap."
        )
        error = BudgetError(
            message,
            details=f"Refused before sending: {message} Nothing was sent.",
        )
        error.estimate = estimate  # type: ignore[attr-defined]
        error.cap = cap  # type: ignore[attr-defined]
        error.spent_today = spent  # type: ignore[attr-defined]
        error.reserved = reserved  # type: ignore[attr-defined]
        error.setting = "team_cap"  # type: ignore[attr-defined]
        raise error

    def _spent(self, conn: _Connection, reservation: Reservation, analyst: str) -> Decimal:
        clauses, params = ["test_mode = 0", "analyst = ?"], [analyst]
        if reservation.since is not None:
            clauses.append("time >= ?")
            params.append(_ts(reservation.since))
        if reservation.until is not None:
            clauses.append("time < ?")
            params.append(_ts(reservation.until))
        rows = conn.execute(
            "SELECT COALESCE(amount, amount_charged) FROM ledger "
            f"LEFT JOIN settlements USING (charge_id) WHERE {' AND '.join(clauses)}",
            params,
        ).fetchall()
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def _held(self, conn: _Connection, key: str, now: datetime, analyst: str) -> Decimal:
        rows = conn.execute(
            "SELECT owner, expires_at, reserved FROM inflight "
            "WHERE reserved != '0' AND key != ? AND analyst = ?",
            (key, analyst),
        ).fetchall()
        return sum((Decimal(r[2]) for r in rows if not self._stale(r[0], r[1], now)), Decimal(0))

    def set_cap(self, amount: Decimal | None, *, analyst: str | None = None) -> None:
        """Set (``None``: remove) the team's daily cap, or ``analyst``'s within the team."""
        scope = analyst or TEAM
        with self._transaction("setting a team cap", write=True) as conn:
            if amount is None:
                conn.execute("DELETE FROM team_caps WHERE scope = ?", (scope,))
            else:
                conn.execute(
                    "INSERT INTO team_caps (scope, daily_cap, set_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (scope) DO UPDATE SET daily_cap = EXCLUDED.daily_cap, "
                    "set_at = EXCLUDED.set_at",
                    (scope, str(amount), _ts(_utcnow())),
                )

    def caps(self) -> dict[str, Decimal]:
        """The daily caps: ``{"*": team's, analyst: theirs}``."""
        with self._transaction("reading the team caps", write=False) as conn:
            rows = conn.execute("SELECT scope, daily_cap FROM team_caps").fetchall()
        return {scope: Decimal(cap) for scope, cap in rows}

    def spend_by_analyst(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Decimal]:
        """Non-test spend per analyst over a period (settled rows at their settled amount)."""
        clauses, params = ["test_mode = 0"], []
        if since is not None:
            clauses.append("time >= ?")
            params.append(_ts(since))
        if until is not None:
            clauses.append("time < ?")
            params.append(_ts(until))
        with self._transaction("reading the ledger", write=False) as conn:
            rows = conn.execute(
                "SELECT COALESCE(analyst, ''), COALESCE(amount, amount_charged) FROM ledger "
                f"LEFT JOIN settlements USING (charge_id) WHERE {' AND '.join(clauses)}",
                params,
            ).fetchall()
        totals: dict[str, Decimal] = {}
        for analyst, amount in rows:
            totals[analyst] = totals.get(analyst, Decimal(0)) + Decimal(amount)
        return totals

    def ledger_who(self) -> dict[str, tuple[str | None, str | None]]:
        """charge id -> (analyst, machine) of every ledger row."""
        with self._transaction("reading the ledger", write=False) as conn:
            rows = conn.execute("SELECT charge_id, analyst, machine FROM ledger").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- moving to the team store ----------------------------------------------------------

    def import_sqlite(self, local: SQLiteStore) -> tuple[int, int]:
        """Copy an analyst's local SQLite history (``local``) into the team store, in one
        transaction: its ledger rows (each charge id once: re-running adds nothing), their
        settlements, its stored answers (a newer one is kept) and its unknown outcomes.
        Returns (ledger rows added, answers added or refreshed)."""
        charges = local.charges()
        with local._transaction("reading the local store", write=False) as lconn:
            entries = [local._entry(r) for r in lconn.execute(
                f"SELECT {SQLiteStore._ENTRY_COLUMNS} FROM cache"
            ).fetchall()]  # fmt: skip
            unknowns = [
                UnknownOutcome(r[0], r[1], _parse_ts(r[2]), r[3], Decimal(r[4]), r[5])
                for r in lconn.execute(
                    "SELECT key, token, at, error, amount, charge_id FROM unknown_outcomes"
                ).fetchall()
            ]
        added = answers = 0
        with self._transaction("importing a local history", write=True) as conn:
            for row in charges:
                cursor = conn.execute(
                    "INSERT INTO ledger (charge_id, time, endpoint, mode, request, rows, "
                    "results_count, amount_charged, test_mode, account, base_url, workbook, "
                    "sheet, cell, cache_key, unknown_outcome) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (charge_id) DO NOTHING",
                    (
                        row.charge_id,
                        _ts(row.time),
                        row.endpoint,
                        row.mode,
                        _json(row.request),
                        row.rows,
                        row.results_count,
                        str(row.amount_charged),
                        int(row.test_mode),
                        row.account,
                        row.base_url,
                        row.origin.workbook,
                        row.origin.sheet,
                        row.origin.cell,
                        row.cache_key,
                        int(row.unknown_outcome),
                    ),
                )
                added += cursor.rowcount
                if row.settlement is not None:
                    s = row.settlement
                    conn.execute(
                        "INSERT INTO settlements (charge_id, amount, transaction_id, "
                        "transaction_time, settled_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT DO NOTHING",
                        (
                            s.charge_id,
                            str(s.amount),
                            s.transaction_id,
                            None if s.transaction_time is None else _ts(s.transaction_time),
                            _ts(s.settled_at),
                        ),
                    )
            for entry in entries:
                current = self._get(conn, entry.key)
                if current is None or current.fetched_at < entry.fetched_at:
                    self._put(conn, entry)
                    answers += 1
            for unknown in unknowns:
                current = self._get(conn, unknown.key)
                if current is None or current.fetched_at < unknown.at:
                    conn.execute(
                        "INSERT INTO unknown_outcomes (key, token, at, error, amount, charge_id) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                        (
                            unknown.key,
                            unknown.token,
                            _ts(unknown.at),
                            unknown.error,
                            str(unknown.amount),
                            unknown.charge_id,
                        ),
                    )
        return added, answers

    def status(self) -> dict[str, Any]:
        """What ``generect-excel store status`` shows: where, schema, sizes, caps."""
        with self._transaction("reading the store's status", write=False) as conn:
            counts = {
                table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("cache", "ledger", "inflight", "unknown_outcomes", "owned_leads")
            }
            server = conn.raw.execute("SHOW server_version").fetchone()[0]
        return {
            "backend": "postgresql",
            "url": self.url,
            "server_version": server,
            "schema": f"{self.schema_version}/{PG_SCHEMA_VERSION}",
            "analyst": self.analyst,
            "machine": self.machine,
            **counts,
            "caps": {k: str(v) for k, v in self.caps().items()},
        }


def analyst_name(settings: Settings) -> str:
    """Who this laptop's purchases are recorded for: ``GENERECT_ANALYST``, else the OS user."""
    if settings.analyst:
        return settings.analyst
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without one)
        return "unknown"


def _keyring_password() -> str | None:
    try:
        import keyring  # optional dependency
    except ImportError:
        return None
    try:
        return keyring.get_password(C.KEYRING_SERVICE, C.KEYRING_STORE_PASSWORD)
    except Exception:  # a broken or locked keyring backend: connect without
        return None


def open_team_store(settings: Settings) -> PostgresStore:
    """The team store that ``settings.store_url`` names. The database password is the URL's,
    else the OS keyring's (service ``generect-excel``, user ``store-password``), like the API
    key; it is never logged (messages show the URL without it)."""
    assert settings.store_url is not None
    url = settings.store_url.get_secret_value()
    password = None if urlsplit(url).password else _keyring_password()
    return PostgresStore(url, analyst=analyst_name(settings), home=settings.home, password=password)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Current(threading.local):
    conn: _Connection | None = None


# The write transaction this thread is in (the team-cap check runs inside the claim's).
_CURRENT = _Current()
