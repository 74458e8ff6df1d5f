"""The one seam between the engine and a store backend: :class:`StoreBackend`.

Everything the engine, reconcile, the CLI and the worksheet functions ask of a store is named
here, and nothing else: answers (with the formulas' refresh marks), unknown outcomes, claims
(with their budget reservations), the ledger and its settlements, and the register of owned
leads. The SQLite store (:class:`generect_excel.store.sqlite.SQLiteStore`) implements it today;
a PostgreSQL store is a sibling module implementing the same methods, picked by
:func:`generect_excel.store.open_store` from the settings.

What every backend must guarantee (the tests in ``tests/test_store.py`` run against each):

- ``save`` writes the answer, its ledger row, the refresh mark, the purchase's leads in the
  register and the release of the claim in ONE transaction, and clears an unknown outcome on
  the key; ``record_unknown`` and ``mark_sent``/``settle_abandoned`` likewise keep a doubt whole.
- ``claim`` is atomic across every process (and machine) sharing the store: exactly one owner
  wins a key; the reservation's ``admit`` runs inside the same transaction, against the spent
  total and every other live claim's reservation, so two callers cannot both pass a cap.
- A charge is never lost: when it cannot be written, the backend keeps it somewhere it will
  import from later, and raises :class:`~generect_excel.errors.StoreError` saying so.
- Every failure surfaces as :class:`~generect_excel.errors.StoreError` with a message a person
  can act on; the API key is never stored (keys and accounts arrive as hashes).

Record types are shared by every backend (:mod:`generect_excel.store.records`), so the engine
never sees a backend's row format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from .. import _constants as C
from ..ledger import Charge, LedgerEntry, LedgerRow, Settlement
from .records import CacheEntry, Claim, Found, Reservation, UnknownOutcome
from .register import OwnedLead, Purchase

__all__ = ["StoreBackend"]


class StoreBackend(Protocol):
    """A store of answers, claims, ledger, unknown outcomes and owned leads (see the module)."""

    @property
    def location(self) -> str:
        """Where the store lives, as a person reads it (a file path; a server URL without its
        password). Stores with the same location are the same store: in-process coalescing
        keys on it, and messages name it."""
        ...

    def close(self) -> None:
        """Let go of idle connections; the store stays usable (the next call reconnects)."""
        ...

    @property
    def analyst(self) -> str | None:
        """Whose purchases this store records as this machine's: the team store's analyst
        (every ledger row names one); ``None`` for a store that is one analyst's own (SQLite),
        whose rows are all that analyst's."""
        ...

    # -- schema ----------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """How many of this backend's migrations are applied."""
        ...

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in the order they were applied."""
        ...

    # -- answers, refresh marks, unknown outcomes -----------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        """The stored answer for ``key``, or ``None``."""
        ...

    def find(self, key: str, origin: str) -> Found:
        """The entry under ``key``, ``origin``'s refresh mark on it and the key's unknown
        outcome, read together (the path of every recalculation: keep it one round trip)."""
        ...

    def find_many(self, wanted: Sequence[tuple[str, str]]) -> list[Found]:
        """:meth:`find` for each ``(key, origin)`` of ``wanted``, in its order, read in one
        read transaction with a few statements, not one per pair (a workbook's dry run and
        refresh ask for thousands at once)."""
        ...

    def lookup(self, key: str, origin: str) -> tuple[CacheEntry | None, str | None]:
        """The entry under ``key`` and ``origin``'s refresh mark on it."""
        ...

    def refresh_mark(self, key: str, origin: str) -> str | None:
        """The refresh value ``origin`` (a formula's place, "" for none) last used on ``key``."""
        ...

    def set_refresh_mark(self, key: str, origin: str, token: str) -> None:
        """Record that ``origin`` has seen ``key``'s answer for the refresh value ``token``."""
        ...

    def set_failed_mark(self, key: str, origin: str, token: str, failed_at: datetime) -> None:
        """Record that ``origin``'s call with ``token`` on ``key`` ended in the unknown outcome
        of ``failed_at``."""
        ...

    def save(
        self,
        entry: CacheEntry,
        charge: Charge | None = None,
        *,
        owner: str | None = None,
        mark: tuple[str, str] | None = None,
        retry_for: float = 0.0,
        purchase: Purchase | None = None,
    ) -> int | None:
        """Store ``entry``, its ``charge``, the refresh ``mark`` ``(origin, token)``, the
        ``purchase``'s leads, and release ``owner``'s claim, in ONE transaction; returns how
        many of the purchase's leads were new to the register (None without a purchase)."""
        ...

    def unknown_outcome(self, key: str) -> UnknownOutcome | None:
        """The unknown outcome recorded on ``key``, if any."""
        ...

    def record_unknown(
        self,
        unknown: UnknownOutcome,
        charge: Charge | None,
        *,
        owner: str | None = None,
        origin: str | None = None,
        retry_for: float = 0.0,
    ) -> None:
        """Keep the doubt of a call that may have been charged, in ONE transaction: the
        outcome, its worst-case ledger row, ``origin``'s mark flagged failed, the release."""
        ...

    # -- claims and budget reservations ---------------------------------------------------

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
        """Atomically: a fresh entry if there is one, else the key for ``owner`` unless a live
        claim holds it; the ``reservation`` is admitted in the same transaction."""
        ...

    def mark_sent(
        self,
        unknown: UnknownOutcome,
        charge: Charge,
        *,
        owner: str,
        origin: str,
        ttl: float,
        now: datetime | None = None,
    ) -> None:
        """Record durably, just before the request leaves, what to record if ``owner`` dies
        before it can say how the call ended."""
        ...

    def extend(self, key: str, owner: str, *, ttl: float, now: datetime | None = None) -> bool:
        """Restart ``owner``'s claim on ``key``: it expires ``ttl`` seconds from now. False
        (nothing changed) when the claim is no longer ``owner``'s."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (after a failed call: nothing to save)."""
        ...

    def wait_for_release(self, key: str, seconds: float) -> bool:
        """Wait up to ``seconds`` for another process's claim on ``key`` to go (True: it
        went, as far as the backend can tell; False: the full pause passed)."""
        ...

    def settle_abandoned(self, now: datetime | None = None) -> list[UnknownOutcome]:
        """Record every claim whose owner is gone after marking its request sent as an unknown
        outcome; returns what was recorded."""
        ...

    def reserved_in_flight(self, now: datetime | None = None) -> Decimal:
        """What every live in-flight claim holds against the daily cap."""
        ...

    # -- ledger and settlements -----------------------------------------------------------

    def charges(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        analyst: str | None = None,
    ) -> list[LedgerEntry]:
        """Ledger rows with ``since <= time < until``, oldest first, each with its settlement
        (``analyst``: only that analyst's, on a store whose :attr:`analyst` is not None)."""
        ...

    def iter_charges(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        analyst: str | None = None,
        page: int = C.LEDGER_PAGE_ROWS,
    ) -> Iterator[LedgerEntry]:
        """:meth:`charges`, read ``page`` rows at a time: memory stays one page whatever the
        ledger's size."""
        ...

    def iter_ledger_rows(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        analyst: str | None = None,
        page: int = C.LEDGER_PAGE_ROWS,
    ) -> Iterator[LedgerRow]:
        """:meth:`iter_charges` as stored, undecoded, for exports (see :class:`LedgerRow`)."""
        ...

    def total_charged(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
        analyst: str | None = None,
    ) -> Decimal:
        """The exact sum charged over a period (unknown outcomes at their estimate or their
        settled amount), summed by the database: its cost does not grow with the ledger's
        rows outside the period."""
        ...

    def unknown_total(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        account: str | None = None,
        include_test_mode: bool = False,
        analyst: str | None = None,
    ) -> tuple[Decimal, int]:
        """How much of :meth:`total_charged` is unsettled estimates, and for how many calls."""
        ...

    def spend_by_analyst(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Decimal]:
        """Non-test spend per analyst over a period, settled rows at their settled amount
        (a store that names no analyst: its whole spend under ``""``)."""
        ...

    def settle(self, settlements: list[Settlement]) -> int:
        """Record settlements of unknown outcomes' ledger rows (never changing a row); returns
        how many were new."""
        ...

    # -- the register of owned leads ------------------------------------------------------

    def page_exclusions(self, criteria_key: str, page_offset: int) -> tuple[list[str], int]:
        """See :func:`generect_excel.store.sqlite.register.page_exclusions`."""
        ...

    def recent_lead_ids(self, base_url: str, test_mode: bool, limit: int) -> tuple[list[str], int]:
        """See :func:`generect_excel.store.sqlite.register.recent_ids`."""
        ...

    def owned_leads(
        self, since: datetime | None = None, *, criteria_keys: list[str] | None = None
    ) -> list[OwnedLead]:
        """The register of owned leads (see :func:`generect_excel.store.sqlite.register.owned_leads`)."""
        ...

    def owned_among(self, base_url: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` (lead identifiers) the register already owns for ``base_url``."""
        ...

    def register_counts(self) -> dict[str, int]:
        """See :func:`generect_excel.store.sqlite.register.counts`."""
        ...
