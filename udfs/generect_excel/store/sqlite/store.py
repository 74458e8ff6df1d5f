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
  search's leads in the register of owned leads (:mod:`generect_excel.store.register`) and the
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

import logging
import os
import weakref
from pathlib import Path
from typing import Any

from ... import _constants as C
from ...errors import StoreError
from ...memo import BoundedMemo
from .answers import SQLiteAnswers
from .claims import SQLiteClaims
from .connection import _STORES, _Connections
from .journal import JOURNAL_SUFFIX
from .schema import SQLiteSchema

log = logging.getLogger(__name__)


class SQLiteStore(SQLiteSchema, SQLiteAnswers, SQLiteClaims):
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
        self._memo: BoundedMemo[str, tuple[str | bytes, dict[str, Any]]] = BoundedMemo(
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


# The name the package has always used for the SQLite store.
Store = SQLiteStore
