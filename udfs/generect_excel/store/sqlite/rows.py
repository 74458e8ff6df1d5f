"""The SQLite store's rows: answers and unknown outcomes to and from their tables, in a
transaction the caller holds."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from ...ledger import Charge
from ..records import CacheEntry, UnknownOutcome, _parse_ts, _ts
from .connection import SQLiteConnections


class SQLiteRows(SQLiteConnections):
    """Row codecs and in-transaction writes shared by the answers, the journal and the claims."""

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

    def _decode(self, key: str, text: str | bytes) -> dict[str, Any]:
        """``json.loads(text)``, from the memo when ``key`` was last read with this very text
        (a string comparison, far cheaper than parsing it again)."""
        kept = self._memo.get(key)
        if kept is not None and kept[0] == text:
            return kept[1]
        answer: dict[str, Any]
        try:
            # orjson: a third of json.loads' time, the same values (a recalculation of a
            # search from the store is mostly this decode: ~80 fields per lead row).
            answer = orjson.loads(text)
        except orjson.JSONDecodeError:  # what only json reads (NaN from a lenient API answer)
            answer = json.loads(text)
        self._memo.put(key, (text, answer), weight=len(text))
        return answer

    _ENTRY_COLUMNS = (
        "key, endpoint, mode, base_url, account, request, answer, amount_charged, fetched_at, "
        "refresh_token, billable, test_mode"
    )

    @classmethod
    def _read_columns(cls, table: str) -> str:
        """:attr:`_ENTRY_COLUMNS` of ``table`` as reads select them: the answer's JSON as its
        UTF-8 bytes, which orjson parses as they are (a str with any accented name in it would
        be decoded from UTF-8 by sqlite3, then encoded back by orjson: twice the parse's time).
        """
        return ", ".join(
            f"CAST({table}.answer AS BLOB)" if column == "answer" else f"{table}.{column}"
            for column in (name.strip() for name in cls._ENTRY_COLUMNS.split(","))
        )

    def _get(self, conn: sqlite3.Connection, key: str) -> CacheEntry | None:
        row = conn.execute(
            f"SELECT {self._read_columns('cache')} FROM cache WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else self._entry(row)

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
