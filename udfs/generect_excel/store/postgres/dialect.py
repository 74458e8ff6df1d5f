"""How the shared SQLite code talks to PostgreSQL: its SQL translated, its errors carried."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url"]

# Primary keys of the tables the shared code writes with SQLite's INSERT OR REPLACE, and the
# columns an upsert also refreshes from their defaults (a claim taken over is the taker's).
_KEYS = {
    "cache": ("key",),
    "inflight": ("key",),
    "refresh_marks": ("key", "origin"),
    "unknown_outcomes": ("key",),
}
_ALSO = {"inflight": ("analyst", "machine")}

_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)(.*)$", re.S)
_NUMBERED = re.compile(r"\?(\d+)")
_ANSWER_BYTES = re.compile(r"CAST\((\w+)\.answer AS BLOB\)")


def _translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """SQLite's dialect, as the shared code writes it, in PostgreSQL's: placeholders, upserts,
    integer flags used as conditions. Returns the statement and, for numbered placeholders
    (``?1``), the order to pass the parameters in."""
    sql = sql.replace("%", "%%")
    sql = sql.replace(" AND unknown_outcome)", " AND unknown_outcome = 1)")
    sql = sql.replace("SUM(times_bought > 1)", "SUM(CASE WHEN times_bought > 1 THEN 1 ELSE 0 END)")
    sql = _ANSWER_BYTES.sub(r"convert_to(\1.answer, 'UTF8')", sql)  # bytes, as SQLite's
    replace = _REPLACE.match(sql)
    if replace:
        table, columns, rest = replace.groups()
        names = [c.strip() for c in columns.split(",")]
        keys = _KEYS[table]
        updates = [n for n in names if n not in keys] + list(_ALSO.get(table, ()))
        sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in updates)
        sql = (
            f"INSERT INTO {table} ({columns}){rest} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        )
    elif "INSERT OR IGNORE INTO" in sql:
        sql = sql.replace("INSERT OR IGNORE INTO", "INSERT INTO") + " ON CONFLICT DO NOTHING"
    order: tuple[int, ...] | None = None
    if _NUMBERED.search(sql):
        order = tuple(int(n) - 1 for n in _NUMBERED.findall(sql))
        sql = _NUMBERED.sub("%s", sql)
    return sql.replace("?", "%s"), order


class _PostgresError(sqlite3.OperationalError):
    """A PostgreSQL error, raised where the shared code catches ``sqlite3.Error``; the store's
    ``_error`` turns it into a :class:`StoreError` (the original is ``__cause__``)."""


class _Connection:
    """A psycopg connection that speaks to the shared store code like ``sqlite3.Connection``:
    ``execute(sql, params)`` in SQLite's dialect, returning a cursor."""

    __slots__ = ("raw",)
    _statements: dict[str, tuple[str, tuple[int, ...] | None]] = {}

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import psycopg

        known = self._statements.get(sql)
        if known is None:
            known = self._statements[sql] = _translate(sql)
        text, order = known
        values = list(params) if order is None else [params[i] for i in order]
        try:
            return self.raw.execute(text, values)
        except psycopg.Error as exc:
            raise _PostgresError(str(exc)) from exc


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _Current(threading.local):
    conn: _Connection | None = None


# The write transaction this thread is in (the team-cap check runs inside the claim's).
_CURRENT = _Current()
