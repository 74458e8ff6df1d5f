"""Team budgets: the team's and each analyst's daily caps, checked in the claim's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...errors import BudgetError
from ..records import CacheEntry, Claim, Reservation, UnknownOutcome, _ts, _utcnow
from ..sqlite import SQLiteStore
from .dialect import _CURRENT, _Connection
from .schema import TEAM

__all__ = ["TeamBudgets"]

# Who a ledger row is for ("" for rows without an analyst: none are written so).
_ANALYST = "COALESCE(ledger.analyst, '')"


class TeamBudgets(SQLiteStore):
    """The team store's caps and per-analyst views (a part of
    :class:`~generect_excel.store.postgres.PostgresStore`; ``analyst`` is set there)."""

    _analyst: str

    @property
    def analyst(self) -> str:
        """The analyst whose purchases this laptop records (every ledger row names one)."""
        return self._analyst

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

    def _settle_abandoned(self, conn: Any, now: datetime) -> dict[str, UnknownOutcome]:
        """See the SQLite store's; each ledger row it writes is the dead owner's purchase, so it
        carries that claim's analyst and machine, not those of the laptop that records it."""
        who = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT key, analyst, machine FROM inflight WHERE sent_at IS NOT NULL"
            ).fetchall()
        }
        settled: dict[str, UnknownOutcome] = super()._settle_abandoned(conn, now)
        for key, unknown in settled.items():
            analyst, machine = who.get(key, (None, None))
            conn.execute(  # the row was written just now, in this transaction
                "UPDATE ledger SET analyst = ?, machine = ? WHERE charge_id = ?",
                (analyst, machine, unknown.charge_id),
            )
        return settled

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
        from ...budget import format_money

        if spent + reserved + estimate <= cap:
            return
        # Whose cap, and spent apart from reserved (a reservation is not a charge): the cell's
        # line; what to do follows in the full message.
        short = (
            f"{format_money(estimate)} more passes {whose} daily cap of {format_money(cap)}: "
            f"{format_money(spent)} spent, {format_money(reserved)} reserved by calls in flight."
        )
        raise BudgetError(
            f"{short} Ask the team's admin to raise it (generect-excel store cap).",
            details=f"Refused before sending, nothing was sent: {short}",
            short=short,
            estimate=estimate,
            cap=cap,
            spent_today=spent,
            reserved=reserved,
            setting="team_cap",
        )

    def _spent(self, conn: Any, reservation: Reservation, analyst: str) -> Decimal:
        clauses, params = self._clauses(reservation.since, reservation.until, None)
        clauses += ["test_mode = 0", "analyst = ?"]
        params.append(analyst)
        return self._ledger_sums(conn, clauses, params).get("", (Decimal(0), 0))[0]

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
        """Non-test spend per analyst over a period (settled rows at their settled amount),
        summed in SQL per analyst (see :meth:`SQLiteLedger._ledger_sums`); an analyst without
        a row in the period is absent."""
        clauses, params = self._clauses(since, until, None)
        clauses.append("test_mode = 0")
        with self._transaction("reading the ledger", write=False) as conn:
            sums = self._ledger_sums(conn, clauses, params, by=_ANALYST)
        return {analyst: total for analyst, (total, _) in sums.items()}

    def ledger_who(self) -> dict[str, tuple[str | None, str | None]]:
        """charge id -> (analyst, machine) of every ledger row."""
        with self._transaction("reading the ledger", write=False) as conn:
            rows = conn.execute("SELECT charge_id, analyst, machine FROM ledger").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}
