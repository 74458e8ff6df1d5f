"""The register of owned leads: every lead bought, once, by the identifier ``exclude_ids`` takes.

Generect's order is not stable between calls, so offset pages repeat leads, and analysts run
overlapping searches all week; each repeat is billed. The register is what makes "never pay
twice" hold per lead, not only per question. It lives in the store, beside the ledger, and is
written in the same transaction as the purchase (:meth:`~generect_excel.store.Store.save`), so
every workbook and program sharing the store shares it.

Two tables (migration ``0009_owned_leads``):

- ``owned_leads``: one row per lead, keyed by ``(base_url, lead_id)``: when it was first
  bought, by which question (cache key, criteria family, request) and formula (workbook, sheet,
  cell), its share of that call's charge, a few columns to recognise it by, and how many times
  it was bought (``times_bought`` > 1 only when it was bought again: a refresh, or a search
  without "New leads only").
- ``lead_purchases``: one row per lead per purchase (``charge_id`` = the ledger row): which
  page of which criteria family bought it. Stable pages read it; the ledger's ``rows`` and it
  agree (a lead with no identifier is counted in neither register table, see below).

**Which identifier.** ``exclude_ids`` takes the Sales Navigator id: Generect's spec says
"list of sales_id values" (database request) and "Skip leads by Sales Navigator ID" (the newer
one), and Generect's MCP server pages with ``exclude_ids`` built from each row's ``id``, falling
back to ``sales_id`` (``nextPageArgs`` in ``src/tools.ts``; its profile code notes
``sales_id === id``). So a lead is registered by ``id``, else ``sales_id``, else ``lead_id``
(the spec's example rows carry only ``lead_id``; sent in ``exclude_ids`` too, it may simply not
match live), else the Sales Navigator id inside the row's Sales Navigator lead URL
(``sales_navigator_url``, ``linkedin_sales_link``: ``.../sales/lead/<id>,NAME_SEARCH,...``), which
realtime rows without ``lead_id`` still carry. A row with none of them cannot be registered or
excluded; it is counted as new.

What every backend shares lives here (which identifier keys a lead, what a purchase and an
owned lead are, how the register reads as rows); each backend keeps its own tables and queries
(SQLite's: :mod:`generect_excel.store.sqlite.register`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..ledger import Origin

__all__ = [
    "ID_FIELDS",
    "OWNED_COLUMNS",
    "OwnedLead",
    "PageFacts",
    "Purchase",
    "lead_key",
    "owned_row",
]

ID_FIELDS: tuple[str, ...] = ("id", "sales_id", "lead_id")
"""Where a lead row keeps the identifier ``exclude_ids`` takes, best first."""

URL_FIELDS: tuple[str, ...] = ("sales_navigator_url", "linkedin_sales_link")
"""Sales Navigator lead URLs, whose path holds the same id (after :data:`ID_FIELDS`)."""

_SALES_LEAD = re.compile(r"/sales/lead/([^,/?#\s]+)")


def lead_key(lead: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(identifier, field)`` of a lead row (see :data:`ID_FIELDS`), or None without one."""
    for name in ID_FIELDS:
        value = lead.get(name)
        if isinstance(value, bool) or value is None:
            continue
        text = str(value).strip()
        if text:
            return text, name
    for name in URL_FIELDS:
        value = lead.get(name)
        match = _SALES_LEAD.search(value) if isinstance(value, str) else None
        if match:
            return match.group(1), name
    return None


def _text(lead: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value: Any = lead
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class Purchase:
    """One bought page of leads, as the register records it (with the ledger row
    ``charge_id``). ``request`` is the analyst's question (canonical JSON, not the wire body
    with its exclusions); ``page_offset`` the formula's offset."""

    charge_id: str
    time: datetime
    base_url: str
    account: str
    test_mode: bool
    mode: str
    cache_key: str
    criteria_key: str
    page_offset: int
    request: str
    origin: Origin
    amount_charged: Decimal
    leads: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class PageFacts:
    """What the register did for one search: how many ids its request excluded and why, how
    many of its rows were new. Kept with the stored answer (``SearchResult.register_facts``), so the
    status line of a recalculation says the same."""

    new: int
    rows: int
    excluded: int = 0
    owned: int = 0
    rule: str = ""
    wire_offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (stored with the answer)."""
        return {
            "new": self.new,
            "rows": self.rows,
            "excluded": self.excluded,
            "owned": self.owned,
            "rule": self.rule,
            "wire_offset": self.wire_offset,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PageFacts | None:
        """The inverse of :meth:`to_json` (None for an answer saved without register facts)."""
        if not data:
            return None
        return cls(
            new=int(data.get("new", 0)),
            rows=int(data.get("rows", 0)),
            excluded=int(data.get("excluded", 0)),
            owned=int(data.get("owned", 0)),
            rule=str(data.get("rule") or ""),
            wire_offset=data.get("wire_offset"),
        )


@dataclass(frozen=True)
class OwnedLead:
    """One row of the register, as ``generect-excel leads`` and ``GENERECT_LEADS`` show it."""

    lead_id: str
    id_field: str
    first_bought_at: datetime
    last_bought_at: datetime
    times_bought: int
    mode: str
    cost: Decimal
    request: dict[str, Any]
    origin: Origin
    full_name: str | None
    job_title: str | None
    company_name: str | None
    linkedin_url: str | None
    test_mode: bool
    base_url: str
    cache_key: str = field(repr=False, default="")


OWNED_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "full_name",
    "job_title",
    "company_name",
    "linkedin_url",
    "first_bought_utc",
    "times_bought",
    "cost",
    "mode",
    "workbook",
    "sheet",
    "cell",
    "query",
    "id_field",
    "test_mode",
)
"""The columns of the register as ``generect-excel leads --csv`` and ``GENERECT_LEADS`` give
it: one row per lead, where it came from (``query`` is the question that first bought it)."""


def owned_row(lead: OwnedLead) -> list[Any]:
    """``lead`` as plain values in :data:`OWNED_COLUMNS` order (text, numbers, None)."""
    query = json.dumps(lead.request, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
    return [
        lead.lead_id,
        lead.full_name,
        lead.job_title,
        lead.company_name,
        lead.linkedin_url,
        lead.first_bought_at.strftime("%Y-%m-%d %H:%M:%S"),
        lead.times_bought,
        float(lead.cost),
        lead.mode,
        lead.origin.workbook,
        lead.origin.sheet,
        lead.origin.cell,
        query,
        lead.id_field,
        lead.test_mode,
    ]
