"""Moving to the team store: an analyst's SQLite history copied in, each charge once."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ..records import UnknownOutcome, _micros, _parse_ts, _ts
from ..sqlite import SQLiteStore

__all__ = ["TeamHistory"]


class TeamHistory(SQLiteStore):
    """The import of a SQLite history (a part of
    :class:`~generect_excel.store.postgres.PostgresStore`)."""

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
                    "sheet, cell, cache_key, unknown_outcome, amount_micros) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                        _micros(row.amount_charged),
                    ),
                )
                added += cursor.rowcount
                if row.settlement is not None:
                    s = row.settlement
                    conn.execute(
                        "INSERT INTO settlements (charge_id, amount, transaction_id, "
                        "transaction_time, settled_at, amount_micros) VALUES (?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT DO NOTHING",
                        (
                            s.charge_id,
                            str(s.amount),
                            s.transaction_id,
                            None if s.transaction_time is None else _ts(s.transaction_time),
                            _ts(s.settled_at),
                            _micros(s.amount),
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


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
