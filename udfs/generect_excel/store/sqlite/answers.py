"""The SQLite store's answers: the cache, refresh marks, unknown outcomes, and the register
of owned leads written with them."""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ... import _constants as C
from ...errors import StoreError
from ...ledger import Charge
from ..owners import _LIVE_OWNERS
from ..records import CacheEntry, Found, UnknownOutcome, _parse_ts
from ..register import Purchase
from . import register
from .journal import SQLiteJournal
from .rows import SQLiteRows

_READ_COLUMNS = SQLiteRows._read_columns("c")


class SQLiteAnswers(SQLiteJournal):
    """Reads and one-transaction writes of answers and doubts."""

    def get(self, key: str) -> CacheEntry | None:
        """The stored answer for ``key``, or ``None``."""
        with self._transaction("reading the cache", write=False) as conn:
            return self._get(conn, key)

    def save(
        self,
        entry: CacheEntry,
        charge: Charge | None = None,
        *,
        owner: str | None = None,
        mark: tuple[str, str] | None = None,
        retry_for: float = 0.0,
        purchase: Purchase | None = None,
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
        """See :func:`generect_excel.store.sqlite.register.page_exclusions`."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.page_exclusions(conn, criteria_key, page_offset)

    def recent_lead_ids(self, base_url: str, test_mode: bool, limit: int) -> tuple[list[str], int]:
        """See :func:`generect_excel.store.sqlite.register.recent_ids`."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.recent_ids(conn, base_url, test_mode, limit)

    def owned_leads(
        self, since: datetime | None = None, *, criteria_keys: list[str] | None = None
    ) -> list[register.OwnedLead]:
        """The register of owned leads (see :func:`generect_excel.store.sqlite.register.owned_leads`)."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register.owned_leads(conn, since, criteria_keys=criteria_keys)

    def owned_among(self, base_url: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the register already owns for ``base_url`` (enrich skips them)."""
        with self._transaction("reading the register of owned leads", write=False) as conn:
            return register._owned_among(conn, base_url, ids)

    def register_counts(self) -> dict[str, int]:
        """See :func:`generect_excel.store.sqlite.register.counts`."""
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
        + _READ_COLUMNS
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
        return self._found(key, rows[0])

    def _found(self, key: str, row: Any) -> Found:
        """A row of :attr:`_FIND`'s columns (from its 13th: the mark, then the doubt)."""
        entry = None if row[0] is None else self._entry(row)
        failed_at = None if row[13] is None else _parse_ts(row[13])
        unknown = None
        if row[15] is not None:
            unknown = UnknownOutcome(
                key, row[14], _parse_ts(row[15]), row[16], Decimal(row[17]), row[18]
            )
        return Found(entry, row[12], failed_at, unknown)

    def find_many(self, wanted: Sequence[tuple[str, str]]) -> list[Found]:
        """:meth:`find` for each ``(key, origin)`` of ``wanted``, in its order, read together
        in one read transaction: one SELECT per :data:`~generect_excel._constants.STORE_BATCH_KEYS`
        distinct pairs instead of one per pair (the dry run prices a whole workbook so)."""
        pairs = list(dict.fromkeys(wanted))  # each distinct pair once, in order
        found: dict[tuple[str, str], Found] = {}
        with self._transaction("reading the cache", write=False) as conn:
            for start in range(0, len(pairs), C.STORE_BATCH_KEYS):
                chunk = pairs[start : start + C.STORE_BATCH_KEYS]
                params: list[Any] = []
                for index, (key, origin) in enumerate(chunk):
                    params += (index, key, origin)
                rows = conn.execute(self._find_many_sql(len(chunk)), params).fetchall()
                for row in rows:
                    pair = chunk[row[0]]
                    found[pair] = self._found(pair[0], row[1:])
        return [found[pair] for pair in wanted]

    @staticmethod
    @functools.cache
    def _find_many_sql(size: int) -> str:
        # _FIND over a list of (index, key, origin): each a primary-key probe, as in find.
        values = ", ".join(["(?, ?, ?)"] * size)
        return (
            f"WITH q(i, key, origin) AS (VALUES {values}) SELECT q.i, "
            + _READ_COLUMNS
            + ", m.token, m.failed_at, u.token, u.at, u.error, u.amount, u.charge_id"
            " FROM q"
            " LEFT JOIN cache AS c ON c.key = q.key"
            " LEFT JOIN refresh_marks AS m ON m.key = q.key AND m.origin = q.origin"
            " LEFT JOIN unknown_outcomes AS u ON u.key = q.key"
        )

    def lookup(self, key: str, origin: str) -> tuple[CacheEntry | None, str | None]:
        """The entry under ``key`` and ``origin``'s refresh mark on it (see :meth:`find`)."""
        found = self.find(key, origin)
        return found.entry, found.mark

    def unknown_outcome(self, key: str) -> UnknownOutcome | None:
        """The unknown outcome recorded on ``key``, if any."""
        with self._transaction("reading the cache", write=False) as conn:
            return self._get_unknown(conn, key)

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
