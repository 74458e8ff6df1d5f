"""The SQLite store: one file holding answers, claims, ledger and owned leads (see
:mod:`generect_excel.store.sqlite.store`). Each module holds one job:

- ``connection``: the pool of connections, fork handling, errors as StoreError;
- ``schema``: the migrations, an ordered list for this backend;
- ``rows``: row codecs and in-transaction writes;
- ``answers``: the cache, refresh marks, unknown outcomes and owned-leads reads;
- ``journal``: the crash journal of charges that could not be written;
- ``claims``: in-flight claims and budget reservations;
- ``ledger``: ledger queries and settlements;
- ``register``: the register of owned leads' tables and queries;
- ``store``: :class:`SQLiteStore`, opening a file and putting the parts together.
"""

from .schema import MIGRATIONS, SCHEMA_VERSION, Migration
from .store import SQLiteStore, Store

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "SQLiteStore", "Store"]
