"""The SQLite store's ledger queries and settlements."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...ledger import LedgerEntry, Origin, Settlement
from ..records import _parse_ts, _ts
from .connection import SQLiteConnections


class SQLiteLedger(SQLiteConnections):
    """Ledger rows, totals and settlements."""

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
