"""The local store: one SQLite file holding the answer cache, the ledger and in-flight claims.

Why each property holds:

- **Safe with threads and processes.** Each operation takes a connection of its own for its
  duration: an idle one from the store's small pool (opening a connection costs more than a
  cached read), else a new one; no two threads ever use one connection at once. A connection
  that saw an error is closed, never reused, and the idle ones with it (so a damaged file is
  opened afresh); a store moved aside or replaced is noticed within a second (the path is
  checked against the connections' file) and opened afresh too. A forked child never touches
  its parent's connections: it opens its own. :meth:`Store.close` closes the idle connections
  (the next operation opens a new one). The file is in WAL mode so readers never wait for a
  writer, and writers wait up to a busy timeout for each other (Excel, the CLI and a
  scheduled refresh share one file).
- **Durable charges.** Every connection runs with ``synchronous=FULL``: a committed charge
  survives a power cut (WAL with ``NORMAL`` may lose the last transactions). It costs a sync
  per write, and nothing on reads: the pool sets it once per connection.
- **Fast recalculation.** :meth:`Store.lookup` is one SELECT, and the decoded answers of the
  last entries read are kept in memory, keyed by cache key and checked against the stored
  text read in the same SELECT: a recalculation does not parse the same JSON again, and an
  entry rewritten by anyone is decoded afresh. Entries' ``answer`` dicts may so be shared
  between calls: read them, never change them.
- **One transaction per charge.** :meth:`Store.save` writes a cache entry, its ledger row, a
  search's leads in the register of owned leads (:mod:`generect_excel.register`) and the
  release of the in-flight claim together, or none of them.
- **Unknown outcomes are remembered.** A billable call sent whose answer was lost (or came
  back unreadable) may have been charged. :meth:`Store.record_unknown` keeps that doubt under
  the cache key (``unknown_outcomes``), with a ledger row flagged ``unknown_outcome`` at the
  worst-case estimate, the formula's refresh mark (flagged failed) and the release of the
  claim, in one transaction. :meth:`Store.find` returns the doubt in the same SELECT as the
  entry, so the engine answers later calls with the same refresh value with the error instead
  of sending the call again; a saved answer for the key clears it.
- **Settled, never rewritten.** ``generect-excel reconcile`` settles an unknown outcome against
  Generect's billing history with :meth:`Store.settle`: a row of ``settlements`` beside the
  ledger row (charged, with the transaction that proves it, or not charged), never a change to
  the row. The totals and the daily cap count a settled row at its settled amount. One
  settlement per ledger row and one ledger row per transaction, so settling twice is harmless.
- **One daily budget for every process.** A paid call's claim carries its worst case
  (``inflight.reserved``). :meth:`Store.claim` sums today's ledger and every live claim's
  reservation and asks the caller's check in the same write transaction as it takes the claim,
  so two processes (Excel and the CLI) cannot both pass the daily cap.
- **Never a lost charge.** When an answer was bought but cannot be saved (the file stays locked
  past the retries, the disk is full), the charge and the answer are appended to a plain-text
  journal next to the store (``store.sqlite3.unsaved.jsonl``, one JSON object per line), and a
  :class:`~generect_excel.errors.StoreError` says so. The next :class:`Store` that opens the file
  imports the journal (idempotently: each charge has a unique id) and renames it
  ``*.imported-<time>.jsonl``, kept as an audit trail.
- **Private.** The folder is created 0700 and the file 0600 (SQLite gives its WAL files the
  same mode). The store never receives the API key: entries are keyed by a hash of the
  endpoint, the canonical request, the base URL and the account *fingerprint*.
- **Versioned.** Ordered, named migrations are recorded in ``_migrations`` (sqlite-utils'
  ``Migrations`` style) and ``PRAGMA user_version`` is their count; opening re-runs none that
  are recorded, so it is safe to open the file from many processes and versions at once.

Cross-process coalescing uses the ``inflight`` table: the process that will call the API claims
the cache key (:meth:`Store.claim`, inside a write transaction, so exactly one wins; the usual
case, nothing stored and nobody fetching, is one INSERT, its own transaction); others see the
claim and wait for the entry. A claim is abandoned when its owner process is gone or its expiry
(the request timeout plus a margin) has passed. An abandoned claim whose request never left is
taken over; one marked sent (:meth:`Store.mark_sent`, just before the request left) may have
been charged, so it is recorded as an unknown outcome instead (:meth:`Store.settle_abandoned`),
never sent again on its own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from . import _constants as C
from . import register
from .errors import StoreError
from .ledger import Charge, LedgerEntry, Origin, Settlement

__all__ = [
    "MIGRATIONS",
    "BoundedMemo",
    "SCHEMA_VERSION",
    "CacheEntry",
    "Claim",
    "Found",
    "Migration",
    "Reservation",
    "Store",
    "UnknownOutcome",
    "new_owner",
]

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".unsaved.jsonl"

MemoKey = TypeVar("MemoKey")
MemoValue = TypeVar("MemoValue")


@dataclass(frozen=True)
class Migration:
    """One named schema step. Its statements run in one transaction, once per file."""

    name: str
    statements: tuple[str, ...]


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
    # The register of owned leads and which page bought each (see generect_excel.register).
    Migration("0009_owned_leads", register.SCHEMA),
)

SCHEMA_VERSION = len(MIGRATIONS)

# Owners of the in-flight claims this process holds right now. A claim carrying this process's
# id but not listed here was left behind (a release that failed) and may be taken over.
_LIVE_OWNERS: set[str] = set()
_HOST = socket.gethostname()


# Every open Store and every memo: a forked child drops its parent's connections (see
# _Connections.forget_after_fork) and gives each memo a fresh lock.
_STORES: weakref.WeakSet[Store] = weakref.WeakSet()
_MEMOS: weakref.WeakSet[BoundedMemo[Any, Any]] = weakref.WeakSet()


def _forget_in_child() -> None:
    _LIVE_OWNERS.clear()
    for store in list(_STORES):
        store._connections.forget_after_fork()
    for memo in list(_MEMOS):
        memo._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


# Owners are this process's random token plus a counter: unique without asking the OS for
# randomness at every claim (os.urandom lets other threads take the interpreter meanwhile,
# which delays the first of a burst of cells). A forked child has its own pid; a later
# process reusing the pid has its own token.
_OWNER_TOKEN = uuid.uuid4().hex
_owner_numbers = itertools.count()


def new_owner() -> str:
    """A unique in-flight claim owner: ``host|pid|unique``."""
    return f"{_HOST}|{os.getpid()}|{_OWNER_TOKEN}{next(_owner_numbers):x}"


def _ts(moment: datetime) -> str:
    """UTC, fixed width: text order is time order, so SQL compares these directly."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    if len(text) == 27 and text[-1] == "Z":  # what _ts writes: the fast parser reads it exactly
        return datetime.fromisoformat(text)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (never signals it)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        # os.kill(pid, 0) would *terminate* the process on Windows.
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


class BoundedMemo(Generic[MemoKey, MemoValue]):
    """A thread-safe least-recently-used memo bounded by count and by total weight.

    The store, the engine and the worksheet functions keep what they derived last (a decoded
    answer, a validated result, a shaped table) with what it was derived from, and check that
    on each use: a value is reused only for the very same input. ``weight`` says how big a
    value is (characters, rows, cells); one heavier than ``max_weight`` is not kept.

    Example::

        memo = BoundedMemo(max_items=512, max_weight=1_000_000)
        memo.put("k", (text, decoded), weight=len(text))
        hit = memo.get("k")
    """

    def __init__(self, max_items: int, max_weight: int) -> None:
        self.max_items = max_items
        self.max_weight = max_weight
        self._lock = threading.Lock()
        self._items: OrderedDict[MemoKey, tuple[MemoValue, int]] = OrderedDict()
        self._weight = 0
        _MEMOS.add(self)

    def get(self, key: MemoKey) -> MemoValue | None:
        """The value kept under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: MemoKey, value: MemoValue, weight: int = 1) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used past the bounds."""
        if weight > self.max_weight or self.max_items <= 0:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > self.max_items or self._weight > self.max_weight:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._items)

    def _forget_after_fork(self) -> None:
        # The parent's lock may have been held by one of its threads at the fork.
        self._lock = threading.Lock()


@dataclass(frozen=True)
class CacheEntry:
    """One stored answer. ``answer`` is the result model's JSON (``model_dump(mode="json")``)."""

    key: str
    endpoint: str
    mode: str
    base_url: str
    account: str
    request: str  # canonical JSON of the request body
    answer: dict[str, Any]
    amount_charged: Decimal
    fetched_at: datetime
    refresh_token: str | None
    billable: bool
    test_mode: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the fallback journal)."""
        return {
            "key": self.key,
            "endpoint": self.endpoint,
            "mode": self.mode,
            "base_url": self.base_url,
            "account": self.account,
            "request": self.request,
            "answer": self.answer,
            "amount_charged": str(self.amount_charged),
            "fetched_at": _ts(self.fetched_at),
            "refresh_token": self.refresh_token,
            "billable": self.billable,
            "test_mode": self.test_mode,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CacheEntry:
        """The inverse of :meth:`to_json`."""
        return cls(
            key=data["key"],
            endpoint=data["endpoint"],
            mode=data["mode"],
            base_url=data["base_url"],
            account=data["account"],
            request=data["request"],
            answer=data["answer"],
            amount_charged=Decimal(data["amount_charged"]),
            fetched_at=_parse_ts(data["fetched_at"]),
            refresh_token=data.get("refresh_token"),
            billable=bool(data["billable"]),
            test_mode=bool(data["test_mode"]),
        )


@dataclass(frozen=True)
class UnknownOutcome:
    """A billable call that was sent and whose answer was lost or unreadable: it may have been
    charged, so it is not sent again for the same refresh value.

    ``token`` is the refresh value it was sent for (``None``: none); ``at`` when it failed;
    ``error`` the class name of the error it raised (``OutcomeUnknownError``,
    ``ProtocolError``); ``amount`` the worst-case estimate recorded in the ledger under
    ``charge_id``.
    """

    key: str
    token: str | None
    at: datetime
    error: str
    amount: Decimal
    charge_id: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the fallback journal)."""
        return {
            "key": self.key,
            "token": self.token,
            "at": _ts(self.at),
            "error": self.error,
            "amount": str(self.amount),
            "charge_id": self.charge_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnknownOutcome:
        """The inverse of :meth:`to_json`."""
        return cls(
            key=data["key"],
            token=data.get("token"),
            at=_parse_ts(data["at"]),
            error=data["error"],
            amount=Decimal(data["amount"]),
            charge_id=data["charge_id"],
        )


class Found(NamedTuple):
    """What :meth:`Store.find` read in its one SELECT.

    ``entry`` the stored answer; ``mark`` the refresh value the formula last used on it and
    ``mark_failed_at`` when that value's call was lost (``None``: it saw an answer);
    ``unknown`` the doubt left by the last call on the key whose outcome is unknown.
    """

    entry: CacheEntry | None
    mark: str | None
    mark_failed_at: datetime | None
    unknown: UnknownOutcome | None


@dataclass(frozen=True)
class Reservation:
    """The money a claim holds against the daily cap while its call is in flight.

    :meth:`Store.claim` calls ``admit(spent, reserved)`` inside its write transaction,
    ``spent`` being the non-test ledger total from ``since`` to ``until`` and ``reserved``
    what every other live claim holds; it raises
    (:class:`~generect_excel.errors.BudgetError`) to refuse, and then nothing is claimed.
    """

    amount: Decimal
    since: datetime | None
    until: datetime | None
    admit: Callable[[Decimal, Decimal], None]


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`Store.claim`.

    ``state`` is "claimed" (the caller now owns the request and must call the API), "cached"
    (a usable entry is already there: ``entry``), "unknown" (a call on the key was lost since
    the caller looked: ``unknown``; do not send it again) or "busy" (another owner, ``holder``,
    is fetching it: wait and ask again). ``abandoned`` says that unknown outcome was recorded
    just now, from a claim whose owner died after sending its request.
    """

    state: Literal["claimed", "cached", "unknown", "busy"]
    entry: CacheEntry | None = None
    holder: str | None = None
    unknown: UnknownOutcome | None = None
    abandoned: bool = False


class Store:
    """The cache, the ledger and the in-flight claims in one SQLite file at ``path``.

    Every failure of the file surfaces as :class:`~generect_excel.errors.StoreError` with a
    short message (locked, damaged, unreadable) and the path in ``details``. Thread-safe; up to
    ``C.STORE_IDLE_CONNECTIONS`` connections stay open between calls until :meth:`close` (or
    until the store is garbage-collected).

    Example::

        store = Store(settings.store_path)
        entry = store.get(key)
        store.close()
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = C.STORE_BUSY_TIMEOUT
    ) -> None:
        self.path = Path(path).expanduser()
        self.busy_timeout = busy_timeout
        self.journal_path = self.path.with_name(self.path.name + JOURNAL_SUFFIX)
        self._connections = _Connections(self.path, C.STORE_IDLE_CONNECTIONS)
        # cache key -> (stored answer text, its decoded dict)
        self._memo: BoundedMemo[str, tuple[str, dict[str, Any]]] = BoundedMemo(
            C.STORE_MEMO_ENTRIES, C.STORE_MEMO_CHARS
        )
        # Close the idle connections when the store goes away, without keeping it alive.
        weakref.finalize(self, self._connections.close)
        _STORES.add(self)
        self._prepare_files()
        self._migrate()
        if self.journal_path.exists():
            self.recover_journal()
        try:
            self.settle_abandoned()
        except StoreError as exc:  # the next full claim settles them instead
            log.warning("could not record requests left by ended processes: %s", exc.details)

    # -- files, connections, errors -------------------------------------------------------

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

    # -- migrations ------------------------------------------------------------------------

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

    # -- cache -----------------------------------------------------------------------------

    def _entry(self, row: sqlite3.Row | tuple[Any, ...]) -> CacheEntry:
        (key, endpoint, mode, base_url, account, request, answer, amount, fetched_at, token,
         billable, test_mode) = row[:12]  # fmt: skip
        return CacheEntry(
            key=key,
            endpoint=endpoint,
            mode=mode,
            base_url=base_url,
            account=account,
            request=request,
            answer=self._decode(key, answer),
            amount_charged=Decimal(amount),
            fetched_at=_parse_ts(fetched_at),
            refresh_token=token,
            billable=bool(billable),
            test_mode=bool(test_mode),
        )

    def _decode(self, key: str, text: str) -> dict[str, Any]:
        """``json.loads(text)``, from the memo when ``key`` was last read with this very text
        (a string comparison, far cheaper than parsing it again)."""
        kept = self._memo.get(key)
        if kept is not None and kept[0] == text:
            return kept[1]
        answer: dict[str, Any] = json.loads(text)
        self._memo.put(key, (text, answer), weight=len(text))
        return answer

    _ENTRY_COLUMNS = (
        "key, endpoint, mode, base_url, account, request, answer, amount_charged, fetched_at, "
        "refresh_token, billable, test_mode"
    )

    def _get(self, conn: sqlite3.Connection, key: str) -> CacheEntry | None:
        row = conn.execute(
            f"SELECT {self._ENTRY_COLUMNS} FROM cache WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else self._entry(row)

    def get(self, key: str) -> CacheEntry | None:
        """The stored answer for ``key``, or ``None``."""
        with self._transaction("reading the cache", write=False) as conn:
            return self._get(conn, key)

    def _put(self, conn: sqlite3.Connection, entry: CacheEntry) -> None:
        conn.execute(
            f"INSERT OR REPLACE INTO cache ({self._ENTRY_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.key,
                entry.endpoint,
                entry.mode,
                entry.base_url,
                entry.account,
                entry.request,
                json.dumps(entry.answer, separators=(",", ":"), ensure_ascii=False),
                str(entry.amount_charged),
                _ts(entry.fetched_at),
                entry.refresh_token,
                int(entry.billable),
                int(entry.test_mode),
            ),
        )

    def _add_charge(self, conn: sqlite3.Connection, charge: Charge) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO ledger (charge_id, time, endpoint, mode, request, rows, "
            "results_count, amount_charged, test_mode, account, base_url, workbook, sheet, "
            "cell, cache_key, unknown_outcome) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                charge.charge_id,
                _ts(charge.time),
                charge.endpoint,
                charge.mode,
                json.dumps(charge.request, sort_keys=True, separators=(",", ":")),
                charge.rows,
                charge.results_count,
                str(charge.amount_charged),
                int(charge.test_mode),
                charge.account,
                charge.base_url,
                charge.origin.workbook,
                charge.origin.sheet,
                charge.origin.cell,
                charge.cache_key,
                int(charge.unknown_outcome),
            ),
        )

    def save(
        self,
        entry: CacheEntry,
        charge: Charge | None = None,
        *,
        owner: str | None = None,
        mark: tuple[str, str] | None = None,
        retry_for: float = 0.0,
        purchase: register.Purchase | None = None,
    ) -> int | None:
        """Store ``entry``, its ``charge`` (if billable), the refresh ``mark`` ``(origin,
        token)``, the leads of ``purchase`` in the register of owned leads, and release
        ``owner``'s claim on the key, in ONE transaction. An unknown outcome recorded on the
        key is cleared: this answer settles it. Returns how many of the purchase's rows were
        new to the register (None without a purchase); with one, ``entry.answer["register_facts"]``
        (if there) gets that number as ``"new"`` before it is written.

        With ``retry_for`` > 0 (the engine passes it once the API has answered, so the answer
        may have been paid for), a failing write is retried for that many seconds; if it still
        fails, the charge and the answer go to the fallback journal and the
        :class:`StoreError` says that the charge happened and where it was kept.
        """

        new: list[int] = []

        def write(conn: sqlite3.Connection) -> None:
            new.clear()
            if purchase is not None:
                new.append(register.record(conn, purchase))
                facts = entry.answer.get("register_facts")
                if isinstance(facts, dict):
                    facts["new"] = new[0]
            self._put(conn, entry)
            conn.execute("DELETE FROM unknown_outcomes WHERE key = ?", (entry.key,))
            if charge is not None:
                self._add_charge(conn, charge)
            if mark is not None:
                self._mark(conn, entry.key, *mark)

        self._write_retrying(
            "saving an answer",
            write,
            key=entry.key,
            owner=owner,
            retry_for=retry_for,
            journal=lambda exc: self._journal(entry, charge, exc),
        )
        return new[0] if new else None

    # -- the register of owned leads ---------------------------------------------------------

    def page_exclusions(self, criteria_key: str, page_offset: int) -> tuple[list[str], int]:
        """See :func:`generect_excel.register.page_exclusions`."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.page_exclusions(conn, criteria_key, page_offset)

    def recent_lead_ids(self, base_url: str, test_mode: bool, limit: int) -> tuple[list[str], int]:
        """See :func:`generect_excel.register.recent_ids`."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.recent_ids(conn, base_url, test_mode, limit)

    def owned_leads(
        self, since: datetime | None = None, *, criteria_keys: list[str] | None = None
    ) -> list[register.OwnedLead]:
        """The register of owned leads (see :func:`generect_excel.register.owned_leads`)."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.owned_leads(conn, since, criteria_keys=criteria_keys)

    def owned_among(self, base_url: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the register already owns for ``base_url`` (enrich skips them)."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register._owned_among(conn, base_url, ids)

    def register_counts(self) -> dict[str, int]:
        """See :func:`generect_excel.register.counts`."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.counts(conn)

    def _write_retrying(
        self,
        what: str,
        write: Callable[[sqlite3.Connection], None],
        *,
        key: str,
        owner: str | None,
        retry_for: float,
        journal: Callable[[StoreError], StoreError],
    ) -> None:
        """Run ``write`` and the release of ``owner``'s claim on ``key`` in one transaction,
        retried for ``retry_for`` seconds; then hand the failure to ``journal`` (which keeps
        the record for the next start) and raise what it returns."""
        deadline = time.monotonic() + retry_for
        while True:
            try:
                with self._transaction(what, write=True) as conn:
                    write(conn)
                    if owner is not None:
                        conn.execute(
                            "DELETE FROM inflight WHERE key = ? AND owner = ?", (key, owner)
                        )
            except StoreError as exc:
                if retry_for <= 0:
                    raise
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise journal(exc) from exc
            else:
                if owner is not None:
                    _LIVE_OWNERS.discard(owner)
                return

    def _mark(
        self,
        conn: sqlite3.Connection,
        key: str,
        origin: str,
        token: str,
        failed_at: datetime | None = None,
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO refresh_marks (key, origin, token, failed_at) "
            "VALUES (?, ?, ?, ?)",
            (key, origin, token, None if failed_at is None else _ts(failed_at)),
        )

    def refresh_mark(self, key: str, origin: str) -> str | None:
        """The refresh value ``origin`` (a formula's place, "" for none) last used on ``key``."""
        with self._transaction("reading the cache", write=False) as conn:
            row = conn.execute(
                "SELECT token FROM refresh_marks WHERE key = ? AND origin = ?", (key, origin)
            ).fetchone()
        return None if row is None else row[0]

    # One row whatever is stored: the key itself, with its entry, the formula's mark and the
    # key's unknown outcome joined on (each a primary-key probe; NULLs where there is none).
    _FIND = (
        "SELECT "
        + ", ".join(f"c.{column.strip()}" for column in _ENTRY_COLUMNS.split(","))
        + ", m.token, m.failed_at, u.token, u.at, u.error, u.amount, u.charge_id"
        " FROM (SELECT ?2 AS key) AS q"
        " LEFT JOIN cache AS c ON c.key = q.key"
        " LEFT JOIN refresh_marks AS m ON m.key = q.key AND m.origin = ?1"
        " LEFT JOIN unknown_outcomes AS u ON u.key = q.key"
    )

    def find(self, key: str, origin: str) -> Found:
        """The entry under ``key``, ``origin``'s refresh mark on it and the key's unknown
        outcome, read together.

        One SELECT (its own read transaction, so they agree): the path of every recalculation.
        """
        with self._connection("reading the cache") as conn:
            try:
                # fetchall: the statement runs to its end, so no read snapshot stays open.
                rows = conn.execute(self._FIND, (origin, key)).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, "reading the cache") from exc
        row = rows[0]
        entry = None if row[0] is None else self._entry(row)
        failed_at = None if row[13] is None else _parse_ts(row[13])
        unknown = None
        if row[15] is not None:
            unknown = UnknownOutcome(
                key, row[14], _parse_ts(row[15]), row[16], Decimal(row[17]), row[18]
            )
        return Found(entry, row[12], failed_at, unknown)

    def lookup(self, key: str, origin: str) -> tuple[CacheEntry | None, str | None]:
        """The entry under ``key`` and ``origin``'s refresh mark on it (see :meth:`find`)."""
        found = self.find(key, origin)
        return found.entry, found.mark

    def unknown_outcome(self, key: str) -> UnknownOutcome | None:
        """The unknown outcome recorded on ``key``, if any."""
        with self._transaction("reading the cache", write=False) as conn:
            return self._get_unknown(conn, key)

    def _get_unknown(self, conn: sqlite3.Connection, key: str) -> UnknownOutcome | None:
        row = conn.execute(
            "SELECT token, at, error, amount, charge_id FROM unknown_outcomes WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return UnknownOutcome(key, row[0], _parse_ts(row[1]), row[2], Decimal(row[3]), row[4])

    def _put_unknown(self, conn: sqlite3.Connection, unknown: UnknownOutcome) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO unknown_outcomes (key, token, at, error, amount, charge_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                unknown.key,
                unknown.token,
                _ts(unknown.at),
                unknown.error,
                str(unknown.amount),
                unknown.charge_id,
            ),
        )

    def record_unknown(
        self,
        unknown: UnknownOutcome,
        charge: Charge | None,
        *,
        owner: str | None = None,
        origin: str | None = None,
        retry_for: float = 0.0,
    ) -> None:
        """Keep the doubt of a call that may have been charged, in ONE transaction: the
        ``unknown`` outcome under its key, its estimated ``charge`` (flagged
        ``unknown_outcome``), ``origin``'s refresh mark flagged failed (when the call had a
        refresh value), and the release of ``owner``'s claim.

        With ``retry_for`` > 0 a failing write is retried for that many seconds, then the
        record goes to the fallback journal (imported at the next start) and the
        :class:`StoreError` is raised: the caller still reports the unknown outcome.
        """

        def write(conn: sqlite3.Connection) -> None:
            self._put_unknown(conn, unknown)
            if charge is not None:
                self._add_charge(conn, charge)
            if origin is not None and unknown.token is not None:
                self._mark(conn, unknown.key, origin, unknown.token, unknown.at)

        self._write_retrying(
            "recording an unknown outcome",
            write,
            key=unknown.key,
            owner=owner,
            retry_for=retry_for,
            journal=lambda exc: self._journal_unknown(unknown, charge, exc),
        )

    def set_failed_mark(self, key: str, origin: str, token: str, failed_at: datetime) -> None:
        """Record that ``origin``'s call with refresh value ``token`` on ``key`` ended in the
        unknown outcome of ``failed_at`` (it waited on the call that was lost)."""
        with self._transaction("saving a refresh value", write=True) as conn:
            self._mark(conn, key, origin, token, failed_at)

    def set_refresh_mark(self, key: str, origin: str, token: str) -> None:
        """Record that ``origin`` has seen ``key``'s answer for the refresh value ``token``."""
        with self._transaction("saving a refresh value", write=True) as conn:
            self._mark(conn, key, origin, token)

    # -- fallback journal ------------------------------------------------------------------

    def _journal(self, entry: CacheEntry, charge: Charge | None, cause: StoreError) -> StoreError:
        from .budget import format_money

        amount = charge.amount_charged if charge is not None else entry.amount_charged
        line = json.dumps({"entry": entry.to_json(), "charge": charge and charge.to_json()})
        try:
            self._append_journal(line)
        except OSError as exc:
            # Last resort: the log. Neither the entry nor the charge contains the key.
            log.error("UNSAVED GENERECT CHARGE (store and journal failed): %s", line)
            return StoreError(
                f"Charged {format_money(amount)} but could not save the answer or its charge: "
                f"neither the store nor {self.journal_path} could be written "
                f"({exc.strerror or exc}). Free disk space or fix GENERECT_HOME's permissions; "
                "the charge is written in full to the error log.",
                short=f"Charged {format_money(amount)} but could not save it: free disk space "
                "or fix GENERECT_HOME's permissions.",
                details=f"{cause.details}; journal {self.journal_path}: {exc}",
            )
        log.error("charge of $%s kept in %s: %s", amount, self.journal_path, cause.details)
        return StoreError(
            f"Charged {format_money(amount)}, but the store is unavailable: kept in "
            f"{self.journal_path}, saved on the next start.",
            short=f"Charged {format_money(amount)}, but the store is unavailable: kept in "
            f"{self.journal_path.name}, saved on the next start.",
            details=f"{cause.details}; journal: {self.journal_path}",
        )

    def _journal_unknown(
        self, unknown: UnknownOutcome, charge: Charge | None, cause: StoreError
    ) -> StoreError:
        line = json.dumps({"unknown": unknown.to_json(), "charge": charge and charge.to_json()})
        try:
            self._append_journal(line)
        except OSError as exc:
            log.error("UNSAVED GENERECT UNKNOWN OUTCOME (store and journal failed): %s", line)
            return StoreError(
                "A call that may have been charged could not be recorded: neither the store nor "
                f"{self.journal_path} could be written ({exc.strerror or exc}). Check the "
                "balance before retrying; free disk space or fix GENERECT_HOME's permissions.",
                short="A call that may have been charged could not be recorded: check the "
                "balance before retrying.",
                details=f"{cause.details}; journal {self.journal_path}: {exc}",
            )
        log.error("unknown outcome kept in %s: %s", self.journal_path, cause.details)
        return StoreError(
            f"A call that may have been charged was kept in {self.journal_path}, "
            "saved on the next start.",
            short=f"A call that may have been charged was kept in {self.journal_path.name}, "
            "saved on the next start.",
            details=f"{cause.details}; journal: {self.journal_path}",
        )

    def _append_journal(self, line: str) -> None:
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def recover_journal(self) -> int:
        """Import the fallback journal into the store; returns the number of lines imported.

        Idempotent: a charge already in the ledger is not added twice, and a cache entry only
        replaces an older one (an unknown outcome only one older than it, and an entry clears
        an older unknown outcome). The imported journal is renamed, not deleted.
        """
        try:
            text = self.journal_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise StoreError(
                f"Cannot read the store's journal of unsaved charges {self.journal_path}: "
                "check its permissions (it holds charges not yet in the ledger), then retry.",
                details=f"{self.journal_path}: {exc}",
            ) from exc
        records: list[tuple[CacheEntry | UnknownOutcome, Charge | None]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                record: CacheEntry | UnknownOutcome
                if "unknown" in data:
                    record = UnknownOutcome.from_json(data["unknown"])
                else:
                    record = CacheEntry.from_json(data["entry"])
                charge = Charge.from_json(data["charge"]) if data.get("charge") else None
            except (ValueError, KeyError, TypeError) as exc:
                # A line cut short by a crash: keep going, the rest is still money.
                log.error("skipping unreadable line %d of %s: %s", number, self.journal_path, exc)
                continue
            records.append((record, charge))
        with self._transaction("importing unsaved charges", write=True) as conn:
            for record, charge in records:
                current = self._get(conn, record.key)
                if isinstance(record, UnknownOutcome):
                    if current is None or current.fetched_at < record.at:
                        self._put_unknown(conn, record)
                elif current is None or current.fetched_at <= record.fetched_at:
                    self._put(conn, record)
                    conn.execute(
                        "DELETE FROM unknown_outcomes WHERE key = ? AND at <= ?",
                        (record.key, _ts(record.fetched_at)),
                    )
                if charge is not None:
                    self._add_charge(conn, charge)
        stamp = _utcnow().strftime("%Y%m%dT%H%M%S%f")
        with contextlib.suppress(OSError):
            self.journal_path.rename(
                self.journal_path.with_name(f"{self.path.name}.imported-{stamp}.jsonl")
            )
        log.info("imported %d unsaved charge(s) from %s", len(records), self.journal_path)
        return len(records)

    # -- in-flight claims ------------------------------------------------------------------

    @staticmethod
    def _stale(owner: str, expires_at: str, now: datetime) -> bool:
        if _parse_ts(expires_at) <= now:
            return True
        host, _, rest = owner.partition("|")
        pid_text, _, _ = rest.partition("|")
        if host != _HOST or not pid_text.isdigit():
            return False  # another machine's claim: only its expiry can tell
        pid = int(pid_text)
        if pid == os.getpid():
            return owner not in _LIVE_OWNERS
        return not _pid_alive(pid)

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
        """Atomically: return a fresh entry if there is one, else take the key for ``owner``
        unless a live claim holds it.

        ``ttl`` seconds after it is taken, the claim counts as abandoned. The caller that gets
        "claimed" must end with :meth:`save` or :meth:`record_unknown` (which release) or
        :meth:`release`; a billable call marks it with :meth:`mark_sent` just before its
        request leaves. An abandoned claim that was never marked sent is taken over; one that
        was is recorded as an unknown outcome (:meth:`settle_abandoned`) in this transaction,
        and the caller gets "unknown" with ``abandoned`` set. An unknown outcome on the key for which ``is_new_doubt`` is true
        (recorded since the caller looked: another process sent this call and lost its answer)
        is returned as "unknown" instead of a claim. With a ``reservation``, its ``admit``
        check runs in the same write transaction as the claim, against today's ledger plus
        every live claim's reservation, and the claim carries the reserved amount.
        """
        now = now or _utcnow()
        _LIVE_OWNERS.add(owner)  # before the claim lands, so we never judge it abandoned
        claimed = False
        reserved = reservation.amount if reservation is not None else Decimal(0)
        try:
            # A paid call takes the full path: its budget check must share the claim's
            # transaction. A free (or test-mode) one usually claims in one statement.
            if not reserved and self._claim_unclaimed(key, owner, now, ttl):
                claimed = True
                return Claim("claimed", holder=owner)
            with self._transaction("claiming a request", write=True) as conn:
                # First, the claims of dead owners whose requests had left: recorded as
                # unknown outcomes (so the day's total below counts them), never sent again.
                settled = self._settle_abandoned(conn, now)
                entry = self._get(conn, key)
                if entry is not None and is_fresh(entry):
                    return Claim("cached", entry=entry)
                unknown = self._get_unknown(conn, key)
                if unknown is not None and is_new_doubt is not None and is_new_doubt(unknown):
                    return Claim("unknown", unknown=unknown, abandoned=key in settled)
                row = conn.execute(
                    "SELECT owner, expires_at FROM inflight WHERE key = ?", (key,)
                ).fetchone()
                if row is not None and row[0] != owner and not self._stale(row[0], row[1], now):
                    return Claim("busy", holder=row[0])
                if row is not None and row[0] != owner:
                    log.info("taking over an abandoned in-flight claim on %s", key[:12])
                if reservation is not None and reserved:
                    spent = self._ledger_total(conn, reservation.since, reservation.until)
                    # raises to refuse: the transaction rolls back
                    reservation.admit(spent, self._reserved(conn, key, now))
                conn.execute(
                    "INSERT OR REPLACE INTO inflight (key, owner, claimed_at, expires_at, "
                    "reserved) VALUES (?, ?, ?, ?, ?)",
                    (key, owner, _ts(now), _ts(now + timedelta(seconds=ttl)), str(reserved)),
                )
                claimed = True
            return Claim("claimed", holder=owner)
        finally:
            if not claimed:
                _LIVE_OWNERS.discard(owner)

    def mark_sent(
        self,
        unknown: UnknownOutcome,
        charge: Charge,
        *,
        owner: str,
        origin: str,
        ttl: float,
        now: datetime | None = None,
    ) -> None:
        """Record, durably and just before its request leaves, that ``owner``'s call on
        ``unknown.key`` is being sent, with what to record if ``owner`` dies before it can
        say how the call ended: the ``unknown`` outcome, its ``charge`` at the worst case
        (flagged ``unknown_outcome``) and ``origin``'s refresh mark. The claim's expiry
        restarts (``ttl`` seconds from now: the request's own timeout runs from here).

        Raises :class:`StoreError` (and the request must not be sent) when the claim is no
        longer ``owner``'s: another process took it over while this call waited its turn, and
        fetches it itself.
        """
        now = now or _utcnow()
        if_lost = json.dumps(
            {"unknown": unknown.to_json(), "charge": charge.to_json(), "origin": origin}
        )
        with self._transaction("marking a request sent", write=True) as conn:
            cursor = conn.execute(
                "UPDATE inflight SET sent_at = ?, if_lost = ?, expires_at = ? "
                "WHERE key = ? AND owner = ?",
                (_ts(now), if_lost, _ts(now + timedelta(seconds=ttl)), unknown.key, owner),
            )
            if cursor.rowcount != 1:
                raise StoreError(
                    "Another process took this request over while it waited its turn, so it "
                    "was not sent: recalculate to use that process's answer.",
                    details=f"{self.path}: the in-flight claim on {unknown.key[:12]} is no "
                    f"longer {owner}'s",
                )

    def settle_abandoned(self, now: datetime | None = None) -> list[UnknownOutcome]:
        """Record every claim whose owner is gone (or expired) after marking its request sent
        as an unknown outcome, exactly like a lost answer (:meth:`record_unknown`): its
        ledger row at the worst case, the doubt under its key, the formula's refresh mark
        flagged failed, the claim removed; one transaction. Returns what was recorded.

        The request may have been charged and its answer is gone with its process, so it is
        not sent again until the analyst asks for a refresh. Runs when a store is opened and
        inside every :meth:`claim` that takes the full path; costs one read when there is
        nothing to settle.
        """
        now = now or _utcnow()
        with self._connection("reading the claims") as conn:
            try:
                rows = conn.execute(
                    "SELECT owner, expires_at FROM inflight WHERE sent_at IS NOT NULL"
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, "reading the claims") from exc
        if not any(self._stale(owner, expires_at, now) for owner, expires_at in rows):
            return []
        with self._transaction("recording requests whose process ended", write=True) as conn:
            return list(self._settle_abandoned(conn, now).values())

    def _settle_abandoned(
        self, conn: sqlite3.Connection, now: datetime
    ) -> dict[str, UnknownOutcome]:
        """:meth:`settle_abandoned` inside the caller's write transaction: key -> outcome."""
        rows = conn.execute(
            "SELECT key, owner, expires_at, if_lost FROM inflight WHERE sent_at IS NOT NULL"
        ).fetchall()
        settled: dict[str, UnknownOutcome] = {}
        for key, owner, expires_at, if_lost in rows:
            if not self._stale(owner, expires_at, now):
                continue  # its owner is alive: it will say how the call ended
            conn.execute("DELETE FROM inflight WHERE key = ? AND owner = ?", (key, owner))
            try:
                data = json.loads(if_lost)
                unknown = UnknownOutcome.from_json(data["unknown"])
                charge = Charge.from_json(data["charge"]) if data.get("charge") else None
                origin = data.get("origin")
            except (ValueError, KeyError, TypeError) as exc:  # written by us: never expected
                log.error("unreadable in-flight claim on %s (%s): %s", key[:12], exc, if_lost)
                continue
            entry = self._get(conn, key)
            if entry is not None and entry.fetched_at >= unknown.at:
                # Answered and saved (or imported from the journal) with its charge; only the
                # claim's release was lost.
                continue
            self._put_unknown(conn, unknown)
            if charge is not None:
                self._add_charge(conn, charge)
            if origin is not None and unknown.token is not None:
                self._mark(conn, key, origin, unknown.token, unknown.at)
            settled[key] = unknown
            log.info(  # the calls that meet it raise the unknown outcome's error
                "a request on %s was sent by a process that has ended: it may have been "
                "charged, recorded at up to $%s as an unknown outcome",
                key[:12],
                unknown.amount,
            )
        return settled

    def _reserved(self, conn: sqlite3.Connection, key: str, now: datetime) -> Decimal:
        """What the live claims (other than on ``key``, about to be replaced) hold in flight;
        abandoned claims (owner gone, expired) hold nothing."""
        rows = conn.execute(
            "SELECT owner, expires_at, reserved FROM inflight WHERE reserved != '0' AND key != ?",
            (key,),
        ).fetchall()
        return sum((Decimal(r[2]) for r in rows if not self._stale(r[0], r[1], now)), Decimal(0))

    def reserved_in_flight(self, now: datetime | None = None) -> Decimal:
        """What every live in-flight claim holds against the daily cap."""
        with self._transaction("reading the claims", write=False) as conn:
            return self._reserved(conn, "", now or _utcnow())

    def _claim_unclaimed(self, key: str, owner: str, now: datetime, ttl: float) -> bool:
        """The usual claim in ONE statement: nothing stored under ``key`` (no answer, no
        unknown outcome) and no other owner's claim on it. A write statement outside BEGIN is
        its own IMMEDIATE transaction (the write lock is taken before it reads), so this is as
        atomic as :meth:`claim`'s transaction, at a fraction of its round trips: the first of
        a burst of cold cells gets its request out while the others still crowd the
        interpreter. Anything else (an entry to judge, a claim to respect or take over) returns
        False."""
        with self._connection("claiming a request") as conn:
            try:
                cursor = conn.execute(
                    "INSERT INTO inflight (key, owner, claimed_at, expires_at) "
                    "SELECT ?1, ?2, ?3, ?4 "
                    "WHERE NOT EXISTS (SELECT 1 FROM cache WHERE key = ?1) "
                    "AND NOT EXISTS (SELECT 1 FROM unknown_outcomes WHERE key = ?1) "
                    "AND NOT EXISTS (SELECT 1 FROM inflight WHERE key = ?1)",
                    (key, owner, _ts(now), _ts(now + timedelta(seconds=ttl))),
                )
            except sqlite3.Error as exc:
                raise self._error(exc, "claiming a request") from exc
        return cursor.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (after a failed call: nothing to save)."""
        _LIVE_OWNERS.discard(owner)
        with self._transaction("releasing a request", write=True) as conn:
            conn.execute("DELETE FROM inflight WHERE key = ? AND owner = ?", (key, owner))

    # -- ledger ----------------------------------------------------------------------------

    @staticmethod
    def _where(
        since: datetime | None, until: datetime | None, account: str | None
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if since is not None:
            clauses.append("time >= ?")
            params.append(_ts(since))
        if until is not None:
            clauses.append("time < ?")
            params.append(_ts(until))
        if account is not None:
            clauses.append("account = ?")
            params.append(account)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def charges(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
    ) -> list[LedgerEntry]:
        """Ledger rows with ``since <= time < until`` (aware datetimes; ``None`` = open), oldest
        first, optionally for one account fingerprint, each with its settlement if any."""
        where, params = self._where(since, until, account)
        with self._transaction("reading the ledger", write=False) as conn:
            rows = conn.execute(
                "SELECT id, charge_id, time, endpoint, mode, request, rows, results_count, "
                "amount_charged, test_mode, account, base_url, workbook, sheet, cell, cache_key, "
                "unknown_outcome, amount, transaction_id, transaction_time, settled_at "
                f"FROM ledger LEFT JOIN settlements USING (charge_id){where} ORDER BY time, id",
                params,
            ).fetchall()
        return [
            LedgerEntry(
                id=r[0],
                charge_id=r[1],
                time=_parse_ts(r[2]),
                endpoint=r[3],
                mode=r[4],
                request=json.loads(r[5]),
                rows=r[6],
                results_count=r[7],
                amount_charged=Decimal(r[8]),
                test_mode=bool(r[9]),
                account=r[10],
                base_url=r[11],
                origin=Origin(r[12], r[13], r[14]),
                cache_key=r[15],
                unknown_outcome=bool(r[16]),
                settlement=None
                if r[20] is None
                else Settlement(
                    charge_id=r[1],
                    amount=Decimal(r[17]),
                    transaction_id=r[18],
                    transaction_time=None if r[19] is None else _parse_ts(r[19]),
                    settled_at=_parse_ts(r[20]),
                ),
            )
            for r in rows
        ]

    def settle(self, settlements: list[Settlement]) -> int:
        """Record what Generect's billing history says about unknown outcomes' ledger rows, in
        one transaction; returns how many were new.

        Never changes a ledger row. A row already settled, or a transaction already settling
        another row, is left as it is (so running reconcile twice settles nothing twice).
        """
        with self._transaction("settling unknown outcomes", write=True) as conn:
            before = conn.total_changes
            for item in settlements:
                conn.execute(
                    "INSERT OR IGNORE INTO settlements (charge_id, amount, transaction_id, "
                    "transaction_time, settled_at) SELECT ?, ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM ledger WHERE charge_id = ? AND unknown_outcome)",
                    (
                        item.charge_id,
                        str(item.amount),
                        item.transaction_id,
                        None if item.transaction_time is None else _ts(item.transaction_time),
                        _ts(item.settled_at),
                        item.charge_id,
                    ),
                )
            return conn.total_changes - before

    def total_charged(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
    ) -> Decimal:
        """The exact (``Decimal``) sum of ``amount_charged`` over a period.

        Test-mode charges are left out unless asked for: they were never debited. Calls whose
        outcome is unknown count at their estimate (see :meth:`unknown_total`), or at their
        settled amount once settled (:meth:`settle`).
        """
        with self._transaction("reading the ledger", write=False) as conn:
            return self._ledger_total(
                conn, since, until, account=account, include_test_mode=include_test_mode
            )

    def unknown_total(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
    ) -> tuple[Decimal, int]:
        """How much of :meth:`total_charged` is estimates for unknown outcomes not settled yet,
        and for how many calls."""
        with self._transaction("reading the ledger", write=False) as conn:
            amounts = self._ledger_amounts(
                conn, since, until, account, include_test_mode, unknown_only=True
            )
        return sum((Decimal(a) for a in amounts), Decimal(0)), len(amounts)

    def _ledger_total(
        self,
        conn: sqlite3.Connection,
        since: datetime | None,
        until: datetime | None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
    ) -> Decimal:
        amounts = self._ledger_amounts(conn, since, until, account, include_test_mode)
        return sum((Decimal(a) for a in amounts), Decimal(0))

    def _ledger_amounts(
        self,
        conn: sqlite3.Connection,
        since: datetime | None,
        until: datetime | None,
        account: str | None,
        include_test_mode: bool,
        *,
        unknown_only: bool = False,
    ) -> list[str]:
        where, params = self._where(since, until, account)
        if not include_test_mode:
            where += (" AND " if where else " WHERE ") + "test_mode = 0"
        if unknown_only:
            where += (" AND " if where else " WHERE ") + "unknown_outcome = 1 AND amount IS NULL"
        # A settled row counts at what Generect's billing history says it cost.
        rows = conn.execute(
            "SELECT COALESCE(amount, amount_charged) FROM ledger "
            f"LEFT JOIN settlements USING (charge_id){where}",
            params,
        ).fetchall()
        return [r[0] for r in rows]
