"""The store backends the store tests run against, each behind one small harness.

A test that takes the ``store_backend`` fixture (tests/conftest.py) runs once per entry of
:data:`BACKENDS`, so the backends cannot drift: the same assertions hold for each. A harness
opens the store under test (again, as a second process would) and runs raw SQL on it, which a
few tests need to plant what another process would have left (a claim of a dead owner).

Adding a backend (issue 15: PostgreSQL) is one harness class and one entry in ``BACKENDS``;
raw SQL arrives with ``?`` placeholders and the SQLite store's column names and text
timestamps, so a harness for another dialect translates them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from generect_excel.store import SQLiteStore, StoreBackend


class Harness(Protocol):
    """One backend under test."""

    name: str

    def open(self) -> StoreBackend:
        """A store on this backend's data (a new one each call, sharing the same data)."""
        ...

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``statement`` on the data in its own committed transaction; its rows."""
        ...

    def close(self) -> None:
        """Let go of what the harness made (a database, a server connection)."""
        ...


class SQLiteHarness:
    """The embedded default: one file in the test's own folder."""

    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "home" / "store.sqlite3"

    def open(self) -> StoreBackend:
        return SQLiteStore(self.path)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.path)
        try:
            with conn:  # commits
                return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        pass  # the file goes with the test's tmp_path


class PostgresHarness:
    """The team store (issue 15): a fresh database on the session's throw-away cluster
    (conftest's ``postgres_url``); raw SQL goes through the store's own SQLite-to-PostgreSQL
    translation, as the store's shared code does."""

    name = "postgres"

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.url = url
        self.home = tmp_path / "home"
        self._opened: list[StoreBackend] = []

    def open(self) -> StoreBackend:
        from generect_excel.store.postgres import PostgresStore

        store = PostgresStore(self.url, analyst="ada", home=self.home)
        self._opened.append(store)
        return store

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        from generect_excel.store.postgres.dialect import _translate

        text, order = _translate(statement)
        values = list(params) if order is None else [params[i] for i in order]
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(text, values)
            return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def close(self) -> None:
        for store in self._opened:
            store.close()


# name -> how to make a harness for one test (given the test's tmp_path; PostgreSQL's also
# takes the URL of a fresh database, see conftest's store_backend).
BACKENDS: dict[str, Callable[..., Harness]] = {
    "postgres": PostgresHarness,
    "sqlite": SQLiteHarness,
}
