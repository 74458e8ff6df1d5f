"""The team store itself: connections, transactions under the team's write lock, errors,
migrations, and opening it from the settings (see the package docstring)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ... import _constants as C
from ...errors import StoreError
from ...ledger import Settlement
from ...memo import BoundedMemo
from ..owners import _HOST
from ..records import _ts, _utcnow
from ..sqlite.journal import JOURNAL_SUFFIX
from .budgets import TeamBudgets
from .dialect import _CURRENT, _Connection, _PostgresError, redact_url
from .history import TeamHistory
from .notify import ClaimWatcher
from .schema import _WRITE_LOCK, PG_MIGRATIONS, PG_SCHEMA_VERSION

if TYPE_CHECKING:
    from ...settings import Settings

__all__ = ["PostgresStore", "analyst_name", "open_team_store"]

log = logging.getLogger(__name__)


class PostgresStore(TeamBudgets, TeamHistory):
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
        self._memo: BoundedMemo[str, tuple[str | bytes, dict[str, Any]]] = BoundedMemo(
            C.STORE_MEMO_ENTRIES, C.STORE_MEMO_CHARS
        )
        self._lock = threading.Lock()
        self._pool_pid = 0
        self._pool: Any = None
        self._watcher = ClaimWatcher(self._listener_connection)
        weakref.finalize(self, PostgresStore._close_pool, [self])
        self._migrate()
        if self.journal_path.exists():
            self.recover_journal()
        try:
            self.settle_abandoned()
        except StoreError as exc:  # the next full claim settles them instead
            log.warning("could not record requests left by ended processes: %s", exc.details)

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
        self._watcher.close()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()

    def _listener_connection(self) -> Any:
        """A connection of its own for LISTEN (held for the life of the process's listener)."""
        import psycopg

        extra: dict[str, Any] = {"password": self._password} if self._password else {}
        return psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=int(self.busy_timeout), **extra
        )

    def wait_for_release(self, key: str, seconds: float) -> bool:
        """Wait up to ``seconds`` for another process's claim on ``key`` to go; True when the
        server said it went (see :mod:`.notify`), False after the full pause."""

        def still_held() -> bool:
            with self._connection("reading the claims") as conn:
                row = conn.raw.execute("SELECT 1 FROM inflight WHERE key = %s", (key,))
                return row.fetchone() is not None

        return self._watcher.wait(key, seconds, still_held=still_held)

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

    def _error(self, exc: BaseException, what: str) -> StoreError:
        import psycopg

        cause = exc.__cause__ if isinstance(exc, _PostgresError) else exc
        details = f"{self.url} ({what}): {type(cause).__name__}: {cause}"
        text = str(cause).lower()
        unreachable = isinstance(cause, psycopg.OperationalError) or "timeout" in text
        if unreachable and ("connect" in text or "timeout" in text or "closed" in text):
            return StoreError(
                "The team store is unreachable: nothing was sent or charged. Check the "
                "PostgreSQL server or GENERECT_STORE_URL.",
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
