"""Which store a laptop uses: its own SQLite file, or the team's PostgreSQL server.

One setting decides: ``store_url`` (``GENERECT_STORE_URL=postgresql://user@host/database``, or
``store_url = "..."`` in the config file). Without it, nothing changes: the SQLite file in
``GENERECT_HOME``. The database password may be in the URL, or (better) in the OS keyring
under the service ``generect-excel``, user ``store-password``, like the API key; it is never
logged (messages show the URL without it).
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from .. import _constants as C
from . import Store

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["analyst_name", "open_store"]


def analyst_name(settings: Settings) -> str:
    """Who this laptop's purchases are recorded for: ``GENERECT_ANALYST``, else the OS user."""
    if settings.analyst:
        return settings.analyst
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without one)
        return "unknown"


def _keyring_password() -> str | None:
    try:
        import keyring  # optional dependency
    except ImportError:
        return None
    try:
        return keyring.get_password(C.KEYRING_SERVICE, C.KEYRING_STORE_PASSWORD)
    except Exception:  # a broken or locked keyring backend: connect without
        return None


def open_store(settings: Settings) -> Store:
    """The store ``settings`` name: :class:`~generect_excel.store.postgres.PostgresStore` when
    ``store_url`` is set, else the SQLite :class:`~generect_excel.store.Store`."""
    if settings.store_url is None:
        return Store(settings.store_path)
    from urllib.parse import urlsplit

    from .postgres import PostgresStore

    url = settings.store_url.get_secret_value()
    password = None if urlsplit(url).password else _keyring_password()
    return PostgresStore(url, analyst=analyst_name(settings), home=settings.home, password=password)
