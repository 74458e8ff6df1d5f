"""The team store: the same store on a PostgreSQL server that a team's laptops share.

Chosen by one setting, ``GENERECT_STORE_URL=postgresql://user@host/db`` (see
:func:`generect_excel.store.backend.open_store`); without it every laptop keeps its SQLite file.
:class:`PostgresStore` is the SQLite :class:`~generect_excel.store.Store` with a PostgreSQL
connection under it: the logic that makes "never pay twice" true (claims, sent marks, unknown
outcomes, one transaction per charge, the register of owned leads) is the same code, so the two
backends cannot drift; the store tests run against both. What differs, and why:

- **One writer at a time, across machines.** SQLite's ``BEGIN IMMEDIATE`` lets one writer in at
  a time; here every write transaction first takes one transaction-scoped advisory lock
  (``pg_advisory_xact_lock``), so the claim's read-judge-insert, the budget check and the
  reservation are atomic for every laptop of the team, and the lock is released by the commit
  or by the server when a laptop's connection dies. Reads take no lock.
- **A dead owner's claim.** Owners are ``host|pid|token``: a claim of this machine is judged by
  its process, another machine's only by its expiry (the request timeout plus the longest
  throttling wait), exactly as the SQLite store does; a claim marked sent whose owner is gone is
  recorded as an unknown outcome, never bought again blindly.
- **Waiters are woken.** A process waiting on another's claim (the same request, or a criteria
  family's turn) is woken by the server when the claim's row goes (a trigger NOTIFYs its key,
  :mod:`.notify` LISTENs on one connection per process), instead of looking again only after
  its poll's pause; SQLite's waiters poll.
- **Who bought it.** Every ledger row and claim carries the ``analyst`` and ``machine`` of the
  connection that wrote it (column defaults read from the session, set when a pooled connection
  opens).
- **Team budgets.** ``team_caps`` holds a daily cap for the team (scope ``*``) and per analyst.
  A paid call's claim checks them in its write transaction against today's ledger plus every live
  claim's reservation (the team's, or the analyst's own) and reserves its worst case in the same
  transaction; the refusal names whose cap it is and what is spent versus reserved. The laptop's
  own ``max_spend_per_day`` counts that analyst's spend only.
- **The server is down.** Nothing is sent: a paid call cannot claim, so it can neither pay twice
  nor skip the team cap; the cell shows "The team store is unreachable". An answer bought while
  the server went away is kept in the local journal (``GENERECT_HOME/team-store.unsaved.jsonl``)
  with its charge, and imported when the store is next opened (the same fallback as SQLite's).
- **Migrations** are their own ordered list (:data:`PG_MIGRATIONS`), recorded in ``_migrations``,
  run under the same lock (safe to re-run from many laptops at once); a database that a newer
  version migrated further is refused.
"""

from __future__ import annotations

from .dialect import redact_url
from .schema import PG_MIGRATIONS, PG_SCHEMA_VERSION, TEAM
from .store import PostgresStore, analyst_name, open_team_store

__all__ = [
    "PG_MIGRATIONS",
    "PG_SCHEMA_VERSION",
    "TEAM",
    "PostgresStore",
    "analyst_name",
    "open_team_store",
    "redact_url",
]
