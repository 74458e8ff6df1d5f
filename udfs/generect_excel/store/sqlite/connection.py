"""The SQLite store's connections: a small pool per file, fork handling, errors as StoreError."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ... import _constants as C
from ...errors import StoreError
from ...memo import BoundedMemo

log = logging.getLogger(__name__)


def _file_id(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class _Connections:
    """Idle connections to the file at ``path``, reused one call at a time (a thread takes
    one, uses it, gives it back). At most ``size`` are kept; extras are closed when given back.

    Each connection remembers which file it opened. At most once every
    ``C.STORE_FILE_CHECK_SECONDS``, taking one first checks that the path still names that file:
    a store deleted or replaced meanwhile is then opened afresh. (Closing a connection to a
    file no longer at its path is safe: SQLite neither checkpoints nor deletes the ``-wal`` of
    a moved or deleted database, which would be the new file's.)
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[_Pooled] = []
        self._checked_at = -math.inf

    def take(self) -> _Pooled | None:
        """An idle connection with its file's id, or ``None`` (open a new one)."""
        with self._lock:
            if not self._idle:
                return None
            if time.monotonic() - self._checked_at < C.STORE_FILE_CHECK_SECONDS:
                return self._idle.pop()
        current = _file_id(self.path)  # a stat, outside the lock
        with self._lock:
            self._checked_at = time.monotonic()
            stale = [item for item in self._idle if item[1] != current]
            self._idle = [item for item in self._idle if item[1] == current]
            found = self._idle.pop() if self._idle else None
        self._discard(stale)
        return found

    def give(self, item: _Pooled) -> None:
        """Keep a connection for the next call (it must be outside any transaction)."""
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(item)
                return
        self.discard(item)

    def discard(self, item: _Pooled) -> None:
        """Close a connection that will not be reused."""
        self._discard([item])

    def close(self) -> None:
        """Close the idle connections (those in use are closed or kept when given back)."""
        with self._lock:
            idle, self._idle = self._idle, []
        self._discard(idle)

    @staticmethod
    def _discard(items: list[_Pooled]) -> None:
        for conn, _ in items:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's connections without closing them (closing
        would run SQLite's shutdown on files the parent still uses); keep them referenced so
        they are never finalized either."""
        _INHERITED.extend(conn for conn, _ in self._idle)
        self._idle = []
        self._lock = threading.Lock()


# A pooled connection and the (device, inode) of the file it opened.
_Pooled = tuple[sqlite3.Connection, tuple[int, int] | None]

# The parent's connections a forked child inherited: never used, never closed (kept
# referenced until the child ends).
_INHERITED: list[sqlite3.Connection] = []


# Every open store: a forked child drops its parent's connections (see
# _Connections.forget_after_fork).
_STORES: weakref.WeakSet[SQLiteConnections] = weakref.WeakSet()


# One writer at a time per store file in this process. The threads of one process (50 cells
# or refresh workers at Generect's cap) queue here, in order and without a deadline, instead of
# in SQLite's busy handler, whose timeout is for another program holding the file: 50 threads
# polling for one write lock can wait past it while each write takes milliseconds. Re-entrant,
# so a thread that nests write transactions still meets SQLite's timeout, not a deadlock.
_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_LOCK = threading.Lock()


def _writer_lock(path: Path) -> threading.RLock:
    key = os.path.normcase(os.path.abspath(path))
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(key, threading.RLock())


def _forget_in_child() -> None:
    global _WRITERS_LOCK
    _WRITERS.clear()  # a lock held by a parent's thread would never be released here
    _WRITERS_LOCK = threading.Lock()
    for store in list(_STORES):
        store._connections.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class SQLiteConnections:
    """Files, connections and errors of the SQLite store (the base of its parts)."""

    path: Path
    busy_timeout: float
    journal_path: Path
    _connections: _Connections
    _memo: BoundedMemo[str, tuple[str | bytes, dict[str, Any]]]

    def _prepare_files(self) -> None:
        folder = self.path.parent
        try:
            if not folder.exists():
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                # Create the file ourselves so that it is private from its first byte.
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
            elif os.name == "posix" and self.path.stat().st_mode & 0o077:
                self.path.chmod(0o600)
        except FileExistsError:
            pass  # another process created it between our check and our create
        except OSError as exc:
            raise StoreError(
                f"Cannot create the local store {self.path} ({exc.strerror or exc}): set "
                "GENERECT_HOME to a folder you can write to.",
                details=f"{self.path}: {exc}",
            ) from exc
        with self._connection("opening") as conn:
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.Error as exc:
                raise self._error(exc, "opening") from exc
            if str(mode).lower() != "wal":  # e.g. a network drive without shared memory
                log.warning("store %s is in %s mode, not WAL", self.path, mode)

    def close(self) -> None:
        """Close the idle connections to the file. The store stays usable: the next call
        opens a new connection."""
        self._connections.close()

    @property
    def location(self) -> str:
        """The store file's resolved path (see :attr:`StoreBackend.location`)."""
        return str(self.path.resolve())

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction means what
        # the code says. check_same_thread=False: a pooled connection may serve another thread
        # later, but only ever one call at a time.
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # FULL: a committed charge survives a power cut (WAL with NORMAL may lose the last
            # one). Set once per connection; reads pay nothing for it.
            conn.execute("PRAGMA synchronous=FULL")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _connection(self, what: str) -> Iterator[sqlite3.Connection]:
        item = self._connections.take()
        if item is None:
            try:
                item = (self._connect(), _file_id(self.path))
            except sqlite3.Error as exc:
                raise self._error(exc, what) from exc
        conn = item[0]
        reusable = False
        try:
            yield conn
            reusable = not conn.in_transaction
        finally:
            if reusable:
                self._connections.give(item)
            else:
                # An error (locked, damaged, full) leaves the file in doubt: close this
                # connection and the idle ones, so the next call opens the file afresh.
                self._connections.discard(item)
                self._connections.close()

    @contextlib.contextmanager
    def _transaction(self, what: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction: IMMEDIATE for writes (take the write lock up front, so the busy
        timeout applies to it instead of failing at the first write), DEFERRED for reads."""
        with contextlib.ExitStack() as writing:
            if write:
                writing.enter_context(_writer_lock(self.path))
            with self._transaction_on(what, write=write) as conn:
                yield conn

    @contextlib.contextmanager
    def _transaction_on(self, what: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._connection(what) as conn:
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise self._error(exc, what) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise self._error(exc, what) from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _error(self, exc: sqlite3.Error, what: str) -> StoreError:
        text = str(exc).lower()
        details = f"{self.path} ({what}): {type(exc).__name__}: {exc}"
        short = None
        if "locked" in text or "busy" in text:
            message = (
                "The local Generect store is locked by another program. "
                f"Wait for it to finish, then retry. Store: {self.path}"
            )
        elif "not a database" in text or "malformed" in text or "corrupt" in text:
            # The path in full: a newcomer does not know where GENERECT_HOME is.
            message = (
                f"The local Generect store {self.path} is damaged: move it aside (it holds "
                "your spend history), then retry; a new one is made."
            )
            short = (
                f"The local Generect store is damaged: move {self.path.name} aside "
                "(in GENERECT_HOME), then retry."
            )
        elif "unable to open" in text or "readonly" in text or "read-only" in text:
            message = (
                f"Cannot open the local Generect store {self.path}: check that its folder "
                "exists and is writable, or set GENERECT_HOME to one that is."
            )
            short = "Cannot open the local Generect store: check GENERECT_HOME's permissions."
        else:
            message = f"The local Generect store failed while {what}: {exc}. Store: {self.path}"
        return StoreError(message, details=details, short=short)
