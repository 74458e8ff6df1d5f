"""The SQLite store's in-flight claims: cross-process coalescing and budget reservations."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from ...errors import StoreError
from ...ledger import Charge
from ..owners import _LIVE_OWNERS, is_abandoned
from ..records import CacheEntry, Claim, Reservation, UnknownOutcome, _parse_ts, _ts, _utcnow
from .ledger import SQLiteLedger
from .rows import SQLiteRows

log = logging.getLogger(__name__)


class SQLiteClaims(SQLiteRows, SQLiteLedger):
    """Claims on cache keys, with their reservations against the daily cap."""

    @staticmethod
    def _stale(owner: str, expires_at: str, now: datetime) -> bool:
        return is_abandoned(owner, _parse_ts(expires_at), now)

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

    def wait_for_release(self, key: str, seconds: float) -> bool:
        """Wait ``seconds`` before looking at another process's claim on ``key`` again
        (SQLite cannot say when it goes: always False, the full pause)."""
        time.sleep(seconds)
        return False

    def extend(self, key: str, owner: str, *, ttl: float, now: datetime | None = None) -> bool:
        """Restart ``owner``'s claim on ``key``: it expires ``ttl`` seconds from now. False
        (nothing changed) when the claim is no longer ``owner``'s: unlike :meth:`claim`, a
        claim that is gone is not taken again."""
        now = now or _utcnow()
        with self._transaction("extending a claim", write=True) as conn:
            cursor = conn.execute(
                "UPDATE inflight SET expires_at = ? WHERE key = ? AND owner = ?",
                (_ts(now + timedelta(seconds=ttl)), key, owner),
            )
            return cursor.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (after a failed call: nothing to save)."""
        _LIVE_OWNERS.discard(owner)
        with self._transaction("releasing a request", write=True) as conn:
            conn.execute("DELETE FROM inflight WHERE key = ? AND owner = ?", (key, owner))
