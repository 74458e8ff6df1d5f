"""The SQLite store's ledger queries and settlements.

Totals are summed in SQL, from each row's integer ``amount_micros`` (exact micro-dollars; SQL's
``SUM`` of the text amounts would add binary floats), over an index that holds the time, the
filters and the amount, so a total reads no ledger row and a paid call's claim does not slow
down as the ledger grows. A settled row counts at its settlement's amount: the settled rows'
differences are added in the same statement. A row whose amount is not a whole number of
micro-dollars (none that Generect charges today) has no ``amount_micros``; any total that meets
one is summed exactly from the text instead. The rows themselves are read in pages
(:meth:`SQLiteLedger.iter_charges`), so an export of any size holds one page in memory.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from ... import _constants as C
from ...ledger import LedgerEntry, LedgerRow, Origin, Settlement
from ..records import MICROS, _micros, _parse_ts, _ts
from .connection import SQLiteConnections

# LedgerRow's fields, in order (the id first: see _ledger_pages).
_RAW_COLUMNS = (
    "ledger.id, time, endpoint, mode, rows, results_count, amount_charged, test_mode, account, "
    "base_url, workbook, sheet, cell, request, unknown_outcome, s.amount, s.transaction_id, "
    "s.settled_at IS NOT NULL"
)
_LEDGER_COLUMNS = (
    "ledger.id, ledger.charge_id, time, endpoint, mode, request, rows, results_count, "
    "amount_charged, test_mode, account, base_url, workbook, sheet, cell, cache_key, "
    "unknown_outcome, s.amount, s.transaction_id, s.transaction_time, s.settled_at"
)


class SQLiteLedger(SQLiteConnections):
    """Ledger rows, totals and settlements."""

    @property
    def analyst(self) -> str | None:
        """Whose purchases this store records as this machine's: ``None``, the SQLite store
        being one analyst's own (its rows name no analyst; the team store names one)."""
        return None

    @staticmethod
    def _where(
        since: datetime | None,
        until: datetime | None,
        account: str | None,
        analyst: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses, params = SQLiteLedger._clauses(since, until, account, analyst)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _clauses(
        since: datetime | None,
        until: datetime | None,
        account: str | None,
        analyst: str | None = None,
    ) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("time >= ?")
            params.append(_ts(since))
        if until is not None:
            clauses.append("time < ?")
            params.append(_ts(until))
        if account is not None:
            clauses.append("account = ?")
            params.append(account)
        if analyst is not None:  # the team store's column (never asked of the SQLite store)
            clauses.append("analyst = ?")
            params.append(analyst)
        return clauses, params

    def charges(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        analyst: str | None = None,
    ) -> list[LedgerEntry]:
        """Ledger rows with ``since <= time < until`` (aware datetimes; ``None`` = open), oldest
        first, optionally for one account fingerprint (and, on the team store, one analyst),
        each with its settlement if any."""
        where, params = self._where(since, until, account, analyst)
        with self._transaction("reading the ledger", write=False) as conn:
            rows = conn.execute(
                f"SELECT {_LEDGER_COLUMNS} FROM ledger "
                f"LEFT JOIN settlements s ON s.charge_id = ledger.charge_id{where} "
                "ORDER BY time, ledger.id",
                params,
            ).fetchall()
        return [self._ledger_entry(r) for r in rows]

    def iter_charges(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        analyst: str | None = None,
        page: int = C.LEDGER_PAGE_ROWS,
    ) -> Iterator[LedgerEntry]:
        """:meth:`charges`, read ``page`` rows at a time (in (time, id) order, each page a
        query of its own that resumes after the last row seen): an export of any size holds
        one page in memory, and no transaction stays open while the caller writes."""
        for rows in self._ledger_pages(_LEDGER_COLUMNS, 2, since, until, account, analyst, page):
            yield from (self._ledger_entry(r) for r in rows)

    def iter_ledger_rows(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        analyst: str | None = None,
        page: int = C.LEDGER_PAGE_ROWS,
    ) -> Iterator[LedgerRow]:
        """:meth:`iter_charges` as stored, undecoded (:class:`LedgerRow`): what a CSV export of
        100,000 rows needs, at a fraction of the cost of decoding every row."""
        for rows in self._ledger_pages(_RAW_COLUMNS, 1, since, until, account, analyst, page):
            yield from map(LedgerRow._make, rows)

    def _ledger_pages(
        self,
        columns: str,
        time_at: int,
        since: datetime | None,
        until: datetime | None,
        account: str | None,
        analyst: str | None,
        page: int,
    ) -> Iterator[list[Any]]:
        """The ledger's rows in (time, id) order, ``page`` at a time (``columns`` start with
        the row's id, ``time_at`` is the time's place: the next page resumes after the last
        row of this one)."""
        clauses, params = self._clauses(since, until, account, analyst)
        after: tuple[str, int] | None = None
        while True:
            where, values = list(clauses), list(params)
            if after is not None:
                where.append("(time, ledger.id) > (?, ?)")
                values += after
            sql_where = (" WHERE " + " AND ".join(where)) if where else ""
            with self._transaction("reading the ledger", write=False) as conn:
                rows = conn.execute(
                    f"SELECT {columns} FROM ledger "
                    f"LEFT JOIN settlements s ON s.charge_id = ledger.charge_id{sql_where} "
                    "ORDER BY time, ledger.id LIMIT ?",
                    [*values, page],
                ).fetchall()
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = (rows[-1][time_at], rows[-1][0])

    @staticmethod
    def _ledger_entry(r: Any) -> LedgerEntry:
        return LedgerEntry(
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
                    "transaction_time, settled_at, amount_micros) SELECT ?, ?, ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM ledger WHERE charge_id = ? AND unknown_outcome)",
                    (
                        item.charge_id,
                        str(item.amount),
                        item.transaction_id,
                        None if item.transaction_time is None else _ts(item.transaction_time),
                        _ts(item.settled_at),
                        _micros(item.amount),
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
        analyst: str | None = None,
    ) -> Decimal:
        """The exact (``Decimal``) sum of ``amount_charged`` over a period (on the team store,
        optionally one ``analyst``'s).

        Test-mode charges are left out unless asked for: they were never debited. Calls whose
        outcome is unknown count at their estimate (see :meth:`unknown_total`), or at their
        settled amount once settled (:meth:`settle`).
        """
        with self._transaction("reading the ledger", write=False) as conn:
            return self._ledger_total(
                conn,
                since,
                until,
                account=account,
                include_test_mode=include_test_mode,
                analyst=analyst,
            )

    def unknown_total(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
        analyst: str | None = None,
    ) -> tuple[Decimal, int]:
        """How much of :meth:`total_charged` is estimates for unknown outcomes not settled yet,
        and for how many calls."""
        clauses, params = self._clauses(since, until, account, analyst)
        if not include_test_mode:
            clauses.append("test_mode = 0")
        clauses += [
            "unknown_outcome = 1",
            "NOT EXISTS (SELECT 1 FROM settlements x WHERE x.charge_id = ledger.charge_id)",
        ]
        with self._transaction("reading the ledger", write=False) as conn:
            return self._ledger_sums(conn, clauses, params).get("", (Decimal(0), 0))

    def _ledger_total(
        self,
        conn: sqlite3.Connection,
        since: datetime | None,
        until: datetime | None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
        analyst: str | None = None,
    ) -> Decimal:
        clauses, params = self._clauses(since, until, account, analyst)
        if not include_test_mode:
            clauses.append("test_mode = 0")
        return self._ledger_sums(conn, clauses, params).get("", (Decimal(0), 0))[0]

    def spend_by_analyst(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Decimal]:
        """Non-test spend per analyst over a period. The SQLite store is one analyst's own and
        names none: its whole spend, under ``""`` (absent when nothing was spent)."""
        clauses, params = self._clauses(since, until, None)
        clauses.append("test_mode = 0")
        with self._transaction("reading the ledger", write=False) as conn:
            sums = self._ledger_sums(conn, clauses, params)
        return {name: total for name, (total, count) in sums.items() if count}

    def _ledger_sums(
        self,
        conn: sqlite3.Connection,
        clauses: list[str],
        params: list[Any],
        *,
        by: str | None = None,
    ) -> dict[str, tuple[Decimal, int]]:
        """``{group: (exact total, rows)}`` of the ledger rows the ``clauses`` (on the ledger's
        own columns, ``?`` parameters ``params``) select, a settled row at its settled amount;
        grouped by the SQL expression ``by`` (one group ``""`` without it; a period without rows
        may have none)."""
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        # Only an unknown outcome is ever settled (see settle): saying so lets the second
        # half read the few lost answers' index instead of probing every row of the period.
        settled = " WHERE " + " AND ".join([*clauses, "unknown_outcome = 1"])
        group = by or "''"
        tail = f" GROUP BY {by}" if by else ""
        # One statement: the rows' micro-dollars, then each settled row's difference.
        rows = conn.execute(
            f"SELECT {group}, SUM(amount_micros), COUNT(*), COUNT(*) - COUNT(amount_micros) "
            f"FROM ledger{where}{tail} UNION ALL "
            f"SELECT {group}, SUM(s.amount_micros - ledger.amount_micros), 0, "
            "COUNT(*) - COUNT(s.amount_micros - ledger.amount_micros) "
            f"FROM settlements s JOIN ledger ON ledger.charge_id = s.charge_id{settled}{tail}",
            [*params, *params],
        ).fetchall()
        micros: dict[str, tuple[int, int]] = {}
        for key, amount, count, inexact in rows:
            if inexact:
                return self._text_sums(conn, where, params, group)
            if count or amount is not None:
                total, seen = micros.get(key, (0, 0))
                micros[key] = (total + int(amount or 0), seen + int(count))
        return {key: (Decimal(total) / MICROS, n) for key, (total, n) in micros.items()}

    def _text_sums(
        self, conn: sqlite3.Connection, where: str, params: list[Any], group: str
    ) -> dict[str, tuple[Decimal, int]]:
        """:meth:`_ledger_sums` from the amounts' text, row by row in Python: exact for any
        amount, for the rare period holding a row without exact micro-dollars."""
        sums: dict[str, tuple[Decimal, int]] = {}
        # A settled row counts at what Generect's billing history says it cost.
        for key, amount in conn.execute(
            f"SELECT {group}, COALESCE(s.amount, ledger.amount_charged) FROM ledger "
            f"LEFT JOIN settlements s ON s.charge_id = ledger.charge_id{where}",
            params,
        ):
            total, seen = sums.get(key, (Decimal(0), 0))
            sums[key] = (total + Decimal(amount), seen + 1)
        return sums
