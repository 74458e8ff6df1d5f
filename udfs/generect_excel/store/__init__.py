"""The store: answers, claims, ledger, unknown outcomes, budget reservations and the register
of owned leads, behind one interface (:class:`~generect_excel.store.interface.StoreBackend`).

- ``interface``: the Protocol every backend implements, and all the engine may call;
- ``records``: the record types a backend takes and returns (the same for every backend);
- ``owners``: in-flight claim owners and whether their process lives;
- ``register``: the register of owned leads;
- ``sqlite``: the SQLite backend (one module per job; see its package docstring);
- :func:`open_store`: the one place that picks a backend from the settings.

``from generect_excel.store import Store`` keeps naming the SQLite store. A new backend is a
sibling of ``sqlite`` implementing :class:`StoreBackend` (shared: ``records``, ``owners``,
``register``), an ordered list of its own migrations, a branch in :func:`open_store`, and one
harness in ``tests/store_backends.py`` so the store tests run against it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..memo import BoundedMemo
from .interface import StoreBackend
from .owners import _HOST as _HOST  # tests build owners of other processes
from .owners import _LIVE_OWNERS as _LIVE_OWNERS
from .owners import new_owner
from .records import CacheEntry, Claim, Found, Reservation, UnknownOutcome
from .sqlite import MIGRATIONS, SCHEMA_VERSION, Migration, SQLiteStore, Store

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "MIGRATIONS",
    "BoundedMemo",
    "SCHEMA_VERSION",
    "CacheEntry",
    "Claim",
    "Found",
    "Migration",
    "Reservation",
    "SQLiteStore",
    "Store",
    "UnknownOutcome",
    "StoreBackend",
    "new_owner",
    "open_store",
]


if TYPE_CHECKING:
    # mypy proves here that the SQLite store implements the whole interface.
    _IMPLEMENTS: type[StoreBackend] = Store


def open_store(settings: Settings) -> StoreBackend:
    """The store ``settings`` name, opened: the one place that picks a backend.

    The SQLite file at ``settings.store_path``, unless ``settings.store_url`` names the team's
    PostgreSQL server (issue 15: :mod:`generect_excel.store.postgres`, a sibling module
    implementing :class:`StoreBackend`); nothing else in the package names a backend class.
    """
    if settings.store_url is not None:
        from .postgres import open_team_store

        return open_team_store(settings)
    return Store(settings.store_path)
